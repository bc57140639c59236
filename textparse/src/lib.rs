//! Parsers for scrape bodies (exposition formats).
//!
//! Each format is a pull parser borrowing the body: [`PromParser::next`]
//! returns the kind of the next [`Entry`], then accessors such as
//! [`PromParser::series`] return borrowed bytes of that entry. This mirrors
//! Prometheus's `model/textparse` package; `prom` is the text format 0.0.4
//! (matching Prometheus 2.42's `promparse`), `openmetrics` is OpenMetrics
//! 1.0 (strict, as its test suite requires). [`Parser`] picks one by the
//! response's `Content-Type`.
//!
//! The label value escapes the text formats write ([`push_label_value`])
//! are here too, beside the parsers that read them back.
#![deny(missing_docs)]

mod lex;
pub mod openmetrics;
pub mod prom;
pub mod protobuf;

pub use openmetrics::OpenMetricsParser;
pub use prom::PromParser;

/// Appends a label value with the text format's escapes: `\\`, `\"` and
/// `\n`.
pub fn push_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A label value with the text format's escapes (see [`push_label_value`]).
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    push_label_value(&mut out, v);
    out
}

/// Either format's parser, chosen by content type, with the accessors both
/// share. One lives on the stack for each scrape, so its variants are not
/// boxed to even out their sizes.
#[allow(clippy::large_enum_variant)]
pub enum Parser<'a> {
    /// Text format 0.0.4.
    Prom(PromParser<'a>),
    /// OpenMetrics 1.0.
    OpenMetrics(OpenMetricsParser<'a>),
    /// The protobuf format, decoded first ([`protobuf::decode`]).
    Proto(protobuf::ProtoParser<'a>),
}

impl<'a> Parser<'a> {
    /// The parser for a body served with `content_type` (text 0.0.4 unless
    /// it names OpenMetrics).
    pub fn for_content_type(content_type: Option<&str>, body: &'a [u8]) -> Self {
        match content_type {
            Some(ct) if openmetrics::is_openmetrics(ct) => {
                Parser::OpenMetrics(OpenMetricsParser::new(body))
            }
            _ => Parser::Prom(PromParser::new(body)),
        }
    }

    /// The next entry; `Ok(None)` at the end. (A pull parser's step can
    /// fail, so this is not `Iterator::next`.)
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry>, ParseError> {
        match self {
            Parser::Prom(p) => p.next(),
            Parser::OpenMetrics(p) => p.next(),
            Parser::Proto(p) => p.next(),
        }
    }

    /// Like [`Parser::next`], with the series the caller expects next
    /// (empty for none): see [`PromParser::next_hinted`]. OpenMetrics
    /// checks every series against its family, so it ignores the hint.
    pub fn next_hinted(&mut self, hint: &[u8]) -> Result<Option<Entry>, ParseError> {
        match self {
            Parser::Prom(p) => p.next_hinted(hint),
            Parser::OpenMetrics(p) => p.next(),
            Parser::Proto(p) => p.next(),
        }
    }

    /// After [`Entry::Series`]: whether it was the hint given to
    /// [`Parser::next_hinted`].
    pub fn hint_taken(&self) -> bool {
        match self {
            Parser::Prom(p) => p.hint_taken(),
            Parser::OpenMetrics(_) | Parser::Proto(_) => false,
        }
    }

    /// After [`Entry::Series`]: raw series bytes, timestamp (ms), value.
    pub fn series(&self) -> (&'a [u8], Option<i64>, f64) {
        match self {
            Parser::Prom(p) => p.series(),
            Parser::OpenMetrics(p) => p.series(),
            Parser::Proto(p) => p.series(),
        }
    }

    /// After [`Entry::Series`]: the labels, `__name__` included.
    pub fn labels(&self, out: &mut Vec<(String, String)>) {
        match self {
            Parser::Prom(p) => p.labels(out),
            Parser::OpenMetrics(p) => p.labels(out),
            Parser::Proto(p) => p.labels(out),
        }
    }

    /// After [`Entry::Series`] or [`Entry::Histogram`]: the start (created)
    /// time in ms of a counter's, summary's or histogram's series, from
    /// its family's `_created` sample (OpenMetrics) or its message
    /// (protobuf); the text format has none.
    pub fn start_timestamp(&mut self) -> Option<i64> {
        match self {
            Parser::Prom(_) => None,
            Parser::OpenMetrics(p) => p.start_timestamp(),
            Parser::Proto(p) => p.start_timestamp(),
        }
    }

    /// After [`Entry::Series`]: whether it is an OpenMetrics `_created`
    /// sample, which gives the start time of its family's series.
    pub fn is_created_sample(&self) -> bool {
        match self {
            Parser::OpenMetrics(p) => p.is_created_sample(),
            _ => false,
        }
    }

    /// After [`Entry::Series`]: the sample's exemplar (OpenMetrics only).
    pub fn exemplar(&self) -> Option<openmetrics::Exemplar> {
        match self {
            Parser::Prom(_) => None,
            Parser::OpenMetrics(p) => p.exemplar(),
            Parser::Proto(p) => p.exemplar(),
        }
    }

    /// After [`Entry::Help`]: family name and help text.
    pub fn help(&self) -> (&'a [u8], std::borrow::Cow<'a, str>) {
        match self {
            Parser::Prom(p) => p.help(),
            Parser::OpenMetrics(p) => p.help(),
            Parser::Proto(p) => p.help(),
        }
    }

    /// After [`Entry::Type`]: family name and type.
    pub fn metric_type(&self) -> (&'a [u8], MetricType) {
        match self {
            Parser::Prom(p) => p.metric_type(),
            Parser::OpenMetrics(p) => p.metric_type(),
            Parser::Proto(p) => p.metric_type(),
        }
    }

    /// After [`Entry::Unit`] (OpenMetrics only): family name and unit.
    pub fn unit(&self) -> Option<(&'a [u8], &'a str)> {
        match self {
            Parser::Prom(_) => None,
            Parser::OpenMetrics(p) => Some(p.unit()),
            Parser::Proto(p) => Some(p.unit()),
        }
    }

    /// After [`Entry::Histogram`] (protobuf only): the histogram's
    /// exemplars.
    pub fn histogram_exemplars(&self) -> &'a [openmetrics::Exemplar] {
        match self {
            Parser::Proto(p) => p.histogram_exemplars(),
            _ => &[],
        }
    }

    /// After [`Entry::Histogram`] (protobuf only): key, timestamp and the
    /// native histogram.
    pub fn histogram(
        &self,
    ) -> Option<(&'a [u8], Option<i64>, &'a tsdb::histogram::FloatHistogram)> {
        match self {
            Parser::Proto(p) => p.histogram(),
            _ => None,
        }
    }
}

/// The type of a metric family, as declared by a `# TYPE` line.
///
/// The text format 0.0.4 only declares `counter`, `gauge`, `histogram`,
/// `summary` and `untyped` (mapped to [`MetricType::Unknown`]); the other
/// variants exist for OpenMetrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// A monotonically increasing counter.
    Counter,
    /// A value that can go up and down.
    Gauge,
    /// A classic histogram (`_bucket`, `_sum`, `_count` series).
    Histogram,
    /// An OpenMetrics gauge histogram.
    GaugeHistogram,
    /// A summary (quantile series plus `_sum` and `_count`).
    Summary,
    /// An OpenMetrics info metric.
    Info,
    /// An OpenMetrics state set.
    StateSet,
    /// No or an unknown type (`untyped` in the text format).
    Unknown,
}

impl MetricType {
    /// The type's name as Prometheus reports it in its metadata API:
    /// `counter`, `gauge`, `histogram`, `gaugehistogram`, `summary`, `info`,
    /// `stateset` or `unknown`.
    pub fn as_str(&self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for MetricType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of entry a parser's `next` stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// A `# HELP name text` line.
    Help,
    /// A `# TYPE name type` line.
    Type,
    /// A `# UNIT name unit` line (OpenMetrics only).
    Unit,
    /// Any other `#` line.
    Comment,
    /// A sample line.
    Series,
    /// A native histogram sample (protobuf only).
    Histogram,
    /// The `# EOF` marker (OpenMetrics only).
    Eof,
}

/// A parse error: the whole scrape is rejected, as Prometheus does.
///
/// `msg` uses Prometheus 2.42's wording (for example
/// `expected value after metric, got "INVALID"` or
/// `"INVALID" is not a valid start token`); `line` is the 1-based line of the
/// body on which the offending token starts.
///
/// Display is `line {line}: {msg}`, e.g.
/// `line 3: expected label name, got "INVALID"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct ParseError {
    /// 1-based line number in the body.
    pub line: usize,
    /// What went wrong, in Prometheus's words.
    pub msg: String,
}

#[cfg(test)]
mod tests;
