//! Parser for the OpenMetrics 1.0 text format
//! (`application/openmetrics-text`).
//!
//! The API mirrors [`PromParser`](super::PromParser): a pull loop over the
//! borrowed body, [`OpenMetricsParser::next`] returns the kind of the next
//! [`Entry`], then accessors return that entry's parts. Samples are validated
//! without allocating; [`OpenMetricsParser::labels`] and
//! [`OpenMetricsParser::exemplar`] allocate.
//!
//! The parser is as strict as the OpenMetrics 1.0 specification and its
//! official parser test suite (`tests/testdata/parsers` of the OpenMetrics
//! repository; every case is run by the `official_suite` test): any violation
//! rejects the whole body, as the specification requires ("partial or invalid
//! expositions MUST be considered erroneous in their entirety"). This is
//! stricter than Prometheus, whose OpenMetrics parser checks the syntax only.
//! Error messages use the wording of Prometheus's `openmetricsparse.go` where
//! it has one (without its `while parsing: ...` tail).
//!
//! Syntax (the specification's ABNF):
//!
//! - Every line ends with a line feed; the body must end with `# EOF`,
//!   optionally followed by one line feed, and nothing else. No blank lines,
//!   no leading or trailing blanks, exactly one space between tokens, no CR
//!   (a CRLF body fails on its first line).
//! - `# HELP name text`, `# TYPE name type`, `# UNIT name unit`; any other
//!   line starting with `#` is an error. Types are `counter`, `gauge`,
//!   `histogram`, `gaugehistogram`, `stateset`, `info`, `summary` and
//!   `unknown` (not `untyped`). A non-empty unit must consist of metric-name
//!   characters and be a suffix of the family name after an underscore. HELP
//!   text must be UTF-8 and takes the escapes `\\`, `\"` and `\n`; like
//!   Prometheus (and the reference Python parser) an unescaped `"` or a
//!   trailing `\` in HELP text is accepted although the ABNF excludes it.
//! - Samples: `name[{labels}] value [timestamp] [# {labels} value [timestamp]]`.
//!   Label sets have no blanks and no trailing comma; label values are
//!   UTF-8, contain no raw line feed, and take the same escapes (any other
//!   escape is kept as written). Repeated label names (and `__name__`) are
//!   errors. Values are `[+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?`, `[+-]?inf`,
//!   `[+-]?infinity` or `nan` (case-insensitive); no hex, no `_`, and a
//!   finite literal beyond the f64 range is an error. NaN is always
//!   Prometheus's normal NaN ([`NORMAL_NAN_BITS`](super::prom::NORMAL_NAN_BITS)).
//! - Timestamps are float seconds (no NaN or infinities), converted to
//!   milliseconds as Prometheus does: `(seconds * 1000.0)` truncated toward
//!   zero (saturating at the i64 range).
//!
//! Structure and semantics (as the reference Python parser checks them):
//!
//! - A metric family starts with a metadata line for a new name, or with a
//!   sample whose name is not one of the current family's sample names
//!   (such a family is of type unknown). Each of HELP, TYPE and UNIT at most
//!   once per family and before its first sample. Families must not repeat
//!   and their sample names must not clash: a family reserves its name plus
//!   the suffixes of its type (`_total`, `_created` for counters; `_count`,
//!   `_sum`, `_created` for summaries; `_count`, `_sum`, `_bucket`,
//!   `_created` for histograms; `_gcount`, `_gsum`, `_bucket` for gauge
//!   histograms; `_info` for info).
//! - Metrics (label sets, without `le` on buckets, `quantile` on quantiles
//!   and the state label on state sets; all samples of an info family form
//!   one) must not be interleaved; within one, timestamps must be all present
//!   or all absent and must not go backwards (except for info).
//! - Counter `_total`, histogram `_sum`, `_count`, `_bucket`, gauge histogram
//!   `_bucket`, `_gcount` and summary `_sum`, `_count` values must not be NaN
//!   or negative; `_gsum` must not be NaN; quantile values must not be
//!   negative (NaN is fine). Quantile labels must be numbers in [0, 1].
//! - Histogram and gauge histogram points (consecutive samples of a metric
//!   with the same timestamp): every bucket has a numeric `le` (not NaN; an
//!   infinite one written exactly `+Inf`), `le` strictly increasing, counts
//!   non-decreasing, a `+Inf` bucket last; `_count` present if and only if
//!   `_sum` is (`_gcount` / `_gsum`) and then equal to the `+Inf` bucket; no
//!   `_sum` with negative buckets; a negative `_gsum` only with negative
//!   buckets.
//! - State set samples carry a label named after the family and value 0 or
//!   1; info samples have value 1; info and state set families have no unit.
//! - Exemplars only on counter `_total` and (gauge) histogram `_bucket`
//!   samples; their label names and values together are at most 128 UTF-8
//!   characters. Exemplars are parsed and validated; whether to keep them is
//!   up to the caller ([`OpenMetricsParser::exemplar`]).
//!
//! Not checked: that bucket and count values are integers, that an
//! exemplar's value lies within its bucket, label names starting with `_`.
//!
//! `_created` samples are returned as ordinary series (Prometheus's default;
//! it only turns them into created timestamps with the
//! `created-timestamp-zero-ingestion` feature). As in Prometheus 3, the
//! values of `le` labels of histograms and of `quantile` labels of summaries
//! are normalised by [`OpenMetricsParser::labels`] (`1` becomes `1.0`,
//! `1e6` becomes `1e+06`); [`OpenMetricsParser::series`] returns the bytes
//! as written.
//!
//! After an error the parser is fused: `next` returns the same error again.

use std::borrow::Cow;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use super::lex::{
    decode_labels, go_quote, is_metric_name_char, label_name_len, metric_name_len, not_unique,
    parse_value, quoted_len, unescape, unescaped_chars,
};
use super::{Entry, MetricType, ParseError};

/// Maximum number of UTF-8 characters (code points) of an exemplar's label
/// names and values together.
pub const MAX_EXEMPLAR_LABELS_CHARS: usize = 128;

/// Whether a `Content-Type` header value names the OpenMetrics text format
/// (`application/openmetrics-text`, with any version or other parameters;
/// case-insensitive).
pub fn is_openmetrics(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/openmetrics-text")
}

/// An exemplar attached to a sample (`# {labels} value [timestamp]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels in written order, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The exemplar's value.
    pub value: f64,
    /// The exemplar's timestamp in milliseconds, if given.
    pub ts: Option<i64>,
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/// (name, still-escaped value) pairs borrowed from the body.
type Labels<'a> = Vec<(&'a [u8], &'a [u8])>;

/// The bytes from `i` up to the next space or the end of the line, and the
/// index where they end.
fn token(line: &[u8], i: usize) -> (&[u8], usize) {
    let rest = line.get(i..).unwrap_or(&[]);
    let n = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
    (&rest[..n], i + n)
}

/// The token at `i`, quoted, for "got ..." in error messages.
fn got(line: &[u8], i: usize) -> String {
    let rest = line.get(i..).unwrap_or(&[]);
    match rest.first() {
        None => go_quote(b"\n"),
        Some(b' ') => go_quote(b" "),
        Some(_) => {
            let (tok, _) = token(rest, 0);
            go_quote(tok.get(..32).unwrap_or(tok))
        }
    }
}

/// Parses the label set starting with the `{` at `line[i]`; returns the
/// index after the closing `}`. `out` is cleared first.
fn parse_label_set<'a>(
    line: &'a [u8],
    mut i: usize,
    out: &mut Labels<'a>,
    name_reserved: bool,
) -> Result<usize, String> {
    out.clear();
    i += 1;
    if line.get(i) == Some(&b'}') {
        return Ok(i + 1);
    }
    loop {
        let rest = line.get(i..).unwrap_or(&[]);
        let n = label_name_len(rest);
        if n == 0 {
            return Err(format!("expected label name, got {}", got(line, i)));
        }
        let name = &rest[..n];
        i += n;
        if line.get(i) != Some(&b'=') {
            return Err(format!("expected equal, got {}", got(line, i)));
        }
        i += 1;
        let quote = i;
        if line.get(i) != Some(&b'"') {
            return Err(format!("expected label value, got {}", got(line, i)));
        }
        // The line excludes its line feed, so an escape needs one more byte
        // on the line.
        let Some(len) = quoted_len(&line[quote..]) else {
            return Err(format!("expected label value, got {}", got(line, quote)));
        };
        i = quote + len;
        let value = line.get(quote + 1..i).unwrap_or(&[]);
        if std::str::from_utf8(value).is_err() {
            return Err(format!("invalid UTF-8 label value: {}", go_quote(value)));
        }
        if (name_reserved && name == b"__name__") || out.iter().any(|(n, _)| *n == name) {
            return Err(not_unique(name));
        }
        out.push((name, value));
        i += 1;
        match line.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok(i + 1),
            _ => {
                return Err(format!(
                    "expected comma or brace close, got {}",
                    got(line, i)
                ))
            }
        }
    }
}

/// Go's `%f` for the non-finite values Prometheus reports as invalid
/// timestamps.
fn go_nonfinite(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

/// Seconds to milliseconds as Prometheus converts them (`int64(s * 1000)`).
fn secs_to_ms(secs: f64) -> i64 {
    (secs * 1000.0) as i64
}

/// Whether `unit` is a suffix of `name` after an underscore.
fn is_unit_suffix(name: &[u8], unit: &[u8]) -> bool {
    name.len() > unit.len()
        && name.ends_with(unit)
        && name.get(name.len() - unit.len() - 1) == Some(&b'_')
}

/// The sample name suffixes of a family of type `t`.
fn suffixes(t: MetricType) -> &'static [&'static [u8]] {
    match t {
        MetricType::Counter => &[b"_total", b"_created"],
        MetricType::Summary => &[b"", b"_count", b"_sum", b"_created"],
        MetricType::Histogram => &[b"_count", b"_sum", b"_bucket", b"_created"],
        MetricType::GaugeHistogram => &[b"_gcount", b"_gsum", b"_bucket"],
        MetricType::Info => &[b"_info"],
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[b""],
    }
}

fn hash_key(key: &[(&[u8], &[u8])]) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

// ---------------------------------------------------------------------------
// Validation state
// ---------------------------------------------------------------------------

/// The metric family being parsed.
#[derive(Debug, Default)]
struct Family<'a> {
    active: bool,
    name: &'a [u8],
    /// Line where the family started.
    line: usize,
    /// Declared type; `None` means unknown.
    mtype: Option<MetricType>,
    has_help: bool,
    has_unit: bool,
    unit: &'a [u8],
    has_samples: bool,
    /// Whether the family's sample names were reserved in `names`.
    registered: bool,
    /// The current metric (index into `Groups`) and its last timestamp.
    group: Option<usize>,
    group_ts: Option<f64>,
}

/// The metrics (group label sets) seen in the current family, as sorted
/// label sets borrowed from the body.
#[derive(Debug, Default)]
struct Groups<'a> {
    arena: Labels<'a>,
    spans: Vec<(usize, usize)>,
    /// Hash of a label set to the first group with that hash.
    index: HashMap<u64, usize>,
}

impl<'a> Groups<'a> {
    fn clear(&mut self) {
        self.arena.clear();
        self.spans.clear();
        self.index.clear();
    }

    fn get(&self, g: usize) -> &[(&'a [u8], &'a [u8])] {
        self.spans
            .get(g)
            .and_then(|&(s, e)| self.arena.get(s..e))
            .unwrap_or(&[])
    }

    fn contains(&self, key: &[(&'a [u8], &'a [u8])], h: u64) -> bool {
        match self.index.get(&h) {
            None => false,
            // On a hash collision, fall back to a scan.
            Some(&g) => self.get(g) == key || (0..self.spans.len()).any(|g| self.get(g) == key),
        }
    }

    fn insert(&mut self, key: &[(&'a [u8], &'a [u8])], h: u64) -> usize {
        let start = self.arena.len();
        self.arena.extend_from_slice(key);
        self.spans.push((start, self.arena.len()));
        let g = self.spans.len() - 1;
        self.index.entry(h).or_insert(g);
        g
    }
}

/// The (gauge) histogram point being parsed.
#[derive(Debug, Default)]
struct Point {
    active: bool,
    line: usize,
    ts: Option<f64>,
    last_le: Option<f64>,
    last_bucket: f64,
    count: Option<f64>,
    has_sum: bool,
    has_gsum: bool,
    negative_bucket: bool,
    negative_gsum: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    Help,
    Type,
    Unit,
}

impl Keyword {
    fn as_str(self) -> &'static str {
        match self {
            Keyword::Help => "HELP",
            Keyword::Type => "TYPE",
            Keyword::Unit => "UNIT",
        }
    }
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

/// A pull parser for the OpenMetrics 1.0 text format over a borrowed body.
///
/// Call [`next`](Self::next) until it returns [`Entry::Eof`] (then
/// `Ok(None)`) or an error (the whole scrape is rejected); after each entry,
/// call the accessor for its kind. [`Entry::Comment`] is never returned.
///
/// ```
/// use flint::textparse::openmetrics::OpenMetricsParser;
/// use flint::textparse::Entry;
/// let body = b"# TYPE req counter\nreq_total{code=\"200\"} 7 1700000000.5 # {trace_id=\"abc\"} 1\n# EOF\n";
/// let mut p = OpenMetricsParser::new(body);
/// assert_eq!(p.next().unwrap(), Some(Entry::Type));
/// assert_eq!(p.next().unwrap(), Some(Entry::Series));
/// assert_eq!(p.series(), (&b"req_total{code=\"200\"}"[..], Some(1_700_000_000_500), 7.0));
/// assert_eq!(p.exemplar().unwrap().labels[0].1, "abc");
/// assert_eq!(p.next().unwrap(), Some(Entry::Eof));
/// assert_eq!(p.next().unwrap(), None);
/// ```
#[derive(Debug)]
pub struct OpenMetricsParser<'a> {
    body: &'a [u8],
    /// Start of the next line.
    pos: usize,
    /// 1-based number of the line at `pos`.
    next_line: usize,
    /// 1-based number of the line of the current entry.
    line: usize,
    done: bool,
    failed: Option<ParseError>,
    // Current sample.
    series: &'a [u8],
    name: &'a [u8],
    labels: Labels<'a>,
    value: f64,
    ts: Option<i64>,
    ts_secs: Option<f64>,
    /// Type of the family of the current sample.
    sample_type: MetricType,
    has_exemplar: bool,
    exemplar_labels: Labels<'a>,
    exemplar_value: f64,
    exemplar_ts: Option<i64>,
    // Current metadata.
    meta_name: &'a [u8],
    help: &'a [u8],
    mtype: MetricType,
    unit: &'a [u8],
    // Validation.
    family: Family<'a>,
    /// Sample names reserved by earlier families.
    names: HashSet<Vec<u8>>,
    groups: Groups<'a>,
    /// Scratch: the group label set of the current sample.
    key: Labels<'a>,
    point: Point,
    /// Check the syntax only, as Prometheus's parser does (for files
    /// written by hand, e.g. backfill input), not the family rules.
    syntax_only: bool,
}

impl<'a> OpenMetricsParser<'a> {
    /// Creates a parser over `body`; nothing is parsed until [`next`](Self::next).
    pub fn new(body: &'a [u8]) -> Self {
        OpenMetricsParser {
            body,
            pos: 0,
            next_line: 1,
            line: 1,
            done: false,
            failed: None,
            series: &[],
            name: &[],
            labels: Vec::new(),
            value: 0.0,
            ts: None,
            ts_secs: None,
            sample_type: MetricType::Unknown,
            has_exemplar: false,
            exemplar_labels: Vec::new(),
            exemplar_value: 0.0,
            exemplar_ts: None,
            meta_name: &[],
            help: &[],
            mtype: MetricType::Unknown,
            unit: &[],
            family: Family::default(),
            names: HashSet::new(),
            groups: Groups::default(),
            key: Vec::new(),
            point: Point::default(),
            syntax_only: false,
        }
    }

    /// A parser that checks the syntax only, as Prometheus's OpenMetrics
    /// parser does: metadata and samples need not follow the family rules
    /// (`# TYPE x_total counter` before `x_total` samples is taken, as in
    /// promtool's backfill input).
    pub fn syntax_only(body: &'a [u8]) -> Self {
        let mut p = Self::new(body);
        p.syntax_only = true;
        p
    }

    /// Advances to the next entry. Returns [`Entry::Eof`] at the `# EOF`
    /// line, `Ok(None)` after it.
    ///
    /// Errors carry the 1-based line they were found on (for a family or
    /// histogram point, the line where it starts) and Prometheus's wording
    /// where it has one. Once an error is returned, every later call returns
    /// it again.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry>, ParseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.done {
            return Ok(None);
        }
        match self.advance() {
            Ok(entry) => {
                if entry == Entry::Eof {
                    self.done = true;
                }
                Ok(Some(entry))
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// After [`Entry::Series`]: the raw bytes of the series as written (metric
    /// name plus label set, e.g. `http_requests_total{a="b"}`), the timestamp
    /// converted to milliseconds if given, and the value (NaN is always
    /// [`NORMAL_NAN_BITS`](super::prom::NORMAL_NAN_BITS)).
    pub fn series(&self) -> (&'a [u8], Option<i64>, f64) {
        (self.series, self.ts, self.value)
    }

    /// After [`Entry::Series`]: writes the labels of the current series into
    /// `out` (cleared first): `("__name__", name)` then each label in written
    /// order, values unescaped. Like Prometheus 3, `le` values of histograms
    /// and `quantile` values of summaries are normalised to the OpenMetrics
    /// float format (`1` becomes `1.0`).
    pub fn labels(&self, out: &mut Vec<(String, String)>) {
        let float_label: &[u8] = match self.sample_type {
            MetricType::Histogram => b"le",
            MetricType::Summary => b"quantile",
            _ => b"",
        };
        decode_labels(out, self.name, &self.labels, float_label);
    }

    /// After [`Entry::Series`]: the sample's exemplar, if it has one (labels
    /// in written order, values unescaped; timestamp in milliseconds).
    pub fn exemplar(&self) -> Option<Exemplar> {
        if !self.has_exemplar {
            return None;
        }
        Some(Exemplar {
            labels: self
                .exemplar_labels
                .iter()
                .map(|&(n, v)| {
                    (
                        String::from_utf8_lossy(n).into_owned(),
                        unescape(v, true).into_owned(),
                    )
                })
                .collect(),
            value: self.exemplar_value,
            ts: self.exemplar_ts,
        })
    }

    /// After [`Entry::Help`]: the metric family name and the unescaped help
    /// text (borrowed unless it contained an escape; empty help is returned
    /// as is, the specification says it means no help).
    pub fn help(&self) -> (&'a [u8], Cow<'a, str>) {
        (self.meta_name, unescape(self.help, true))
    }

    /// After [`Entry::Type`]: the metric family name and its type.
    pub fn metric_type(&self) -> (&'a [u8], MetricType) {
        (self.meta_name, self.mtype)
    }

    /// After [`Entry::Unit`]: the metric family name and its unit (possibly
    /// empty, which the specification says means no unit).
    pub fn unit(&self) -> (&'a [u8], &'a str) {
        (self.meta_name, std::str::from_utf8(self.unit).unwrap_or(""))
    }

    // -- helpers ------------------------------------------------------------

    fn err(&self, msg: impl Into<String>) -> ParseError {
        self.err_at(self.line, msg)
    }

    fn err_at(&self, line: usize, msg: impl Into<String>) -> ParseError {
        ParseError {
            line,
            msg: msg.into(),
        }
    }

    // -- lines --------------------------------------------------------------

    fn advance(&mut self) -> Result<Entry, ParseError> {
        self.has_exemplar = false;
        let rest = self.body.get(self.pos..).unwrap_or(&[]);
        self.line = self.next_line;
        if rest.is_empty() {
            return Err(self.err("data does not end with # EOF"));
        }
        let (line, has_lf) = match rest.iter().position(|&c| c == b'\n') {
            Some(n) => (&rest[..n], true),
            None => (rest, false),
        };
        self.pos += line.len() + usize::from(has_lf);
        if has_lf {
            self.next_line += 1;
        }
        if line.first() == Some(&b'#') {
            if let Some(after) = line.strip_prefix(b"# EOF") {
                if !after.is_empty() {
                    return Err(self.err("unexpected data after # EOF"));
                }
                if self.pos < self.body.len() {
                    return Err(self.err_at(self.line + 1, "unexpected data after # EOF"));
                }
                self.end_family()?;
                return Ok(Entry::Eof);
            }
            let entry = self.meta_line(line)?;
            if !has_lf {
                return Err(self.err("data does not end with # EOF"));
            }
            return Ok(entry);
        }
        self.sample_line(line)?;
        if !has_lf {
            return Err(self.err("data does not end with # EOF"));
        }
        Ok(Entry::Series)
    }

    /// A `# HELP`, `# TYPE` or `# UNIT` line.
    fn meta_line(&mut self, line: &'a [u8]) -> Result<Entry, ParseError> {
        let (kw, rest) = if let Some(r) = line.strip_prefix(b"# HELP ") {
            (Keyword::Help, r)
        } else if let Some(r) = line.strip_prefix(b"# TYPE ") {
            (Keyword::Type, r)
        } else if let Some(r) = line.strip_prefix(b"# UNIT ") {
            (Keyword::Unit, r)
        } else {
            return Err(self.err(format!(
                "expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\", got {}",
                go_quote(line.get(..40).unwrap_or(line))
            )));
        };
        let n = metric_name_len(rest);
        if n == 0 {
            return Err(self.err(format!(
                "expected metric name after {}, got {}",
                kw.as_str(),
                got(rest, 0)
            )));
        }
        let name = &rest[..n];
        if rest.get(n) != Some(&b' ') {
            return Err(self.err(format!(
                "expected text in {}, got {}",
                kw.as_str(),
                got(rest, n)
            )));
        }
        let text = rest.get(n + 1..).unwrap_or(&[]);
        let mut mtype = MetricType::Unknown;
        match kw {
            Keyword::Help => {
                if std::str::from_utf8(text).is_err() {
                    return Err(self.err(format!(
                        "help text {} is not a valid utf8 string",
                        go_quote(text)
                    )));
                }
                if text.last() == Some(&b'\r') {
                    return Err(
                        self.err("line ends with a carriage return: lines must end with LF only")
                    );
                }
            }
            Keyword::Type => {
                mtype = match text {
                    b"counter" => MetricType::Counter,
                    b"gauge" => MetricType::Gauge,
                    b"histogram" => MetricType::Histogram,
                    b"gaugehistogram" => MetricType::GaugeHistogram,
                    b"summary" => MetricType::Summary,
                    b"info" => MetricType::Info,
                    b"stateset" => MetricType::StateSet,
                    b"unknown" => MetricType::Unknown,
                    _ => return Err(self.err(format!("invalid metric type {}", go_quote(text)))),
                };
            }
            Keyword::Unit => {
                if !text.iter().all(|&c| is_metric_name_char(c)) {
                    return Err(self.err(format!("invalid unit {}", go_quote(text))));
                }
                if !text.is_empty() && !is_unit_suffix(name, text) {
                    return Err(self.err(format!(
                        "unit {} not a suffix of metric {}",
                        go_quote(text),
                        go_quote(name)
                    )));
                }
            }
        }

        if self.syntax_only {
            // no family bookkeeping
        } else if self.family.active && self.family.name == name {
            if self.family.has_samples {
                return Err(self.err(format!(
                    "{} line for metric family {} after its samples",
                    kw.as_str(),
                    go_quote(name)
                )));
            }
        } else {
            self.end_family()?;
            self.start_family(name);
        }
        let duplicate = !self.syntax_only
            && match kw {
                Keyword::Help => std::mem::replace(&mut self.family.has_help, true),
                Keyword::Type => self.family.mtype.replace(mtype).is_some(),
                Keyword::Unit => {
                    self.family.unit = text;
                    std::mem::replace(&mut self.family.has_unit, true)
                }
            };
        if duplicate {
            return Err(self.err(format!(
                "more than one {} line for metric family {}",
                kw.as_str(),
                go_quote(name)
            )));
        }
        if let Some(t @ (MetricType::Info | MetricType::StateSet)) = self.family.mtype {
            if !self.family.unit.is_empty() {
                return Err(self.err(format!(
                    "metric family {} of type {t} must not have a unit, got {}",
                    go_quote(name),
                    go_quote(self.family.unit)
                )));
            }
        }
        self.meta_name = name;
        Ok(match kw {
            Keyword::Help => {
                self.help = text;
                Entry::Help
            }
            Keyword::Type => {
                self.mtype = mtype;
                Entry::Type
            }
            Keyword::Unit => {
                self.unit = text;
                Entry::Unit
            }
        })
    }

    /// A sample line: syntax, then the family and semantic checks.
    fn sample_line(&mut self, line: &'a [u8]) -> Result<(), ParseError> {
        let n = metric_name_len(line);
        if n == 0 {
            return Err(self.err(if line.is_empty() {
                "unexpected blank line".to_string()
            } else {
                format!("expected a valid start token, got {}", got(line, 0))
            }));
        }
        let name = &line[..n];
        let mut i = n;
        if line.get(i) == Some(&b'{') {
            i = parse_label_set(line, i, &mut self.labels, true).map_err(|m| self.err(m))?;
        } else {
            self.labels.clear();
        }
        self.name = name;
        self.series = &line[..i];
        self.ts = None;
        self.ts_secs = None;

        if line.get(i) != Some(&b' ') {
            return Err(self.err(format!("expected value after metric, got {}", got(line, i))));
        }
        let (tok, end) = token(line, i + 1);
        if tok.is_empty() {
            return Err(self.err(format!(
                "expected value after metric, got {}",
                got(line, i + 1)
            )));
        }
        self.value = parse_value(tok).map_err(|m| self.err(m))?;
        i = end;

        // Optional timestamp, then optional exemplar.
        if i < line.len() {
            i += 1;
            if line.get(i) != Some(&b'#') {
                let (tok, end) = token(line, i);
                if tok.is_empty() {
                    return Err(self.err(format!(
                        "expected timestamp or comment, got {}",
                        got(line, i)
                    )));
                }
                let secs = parse_value(tok).map_err(|m| self.err(m))?;
                if !secs.is_finite() {
                    return Err(self.err(format!("invalid timestamp {}", go_nonfinite(secs))));
                }
                self.ts_secs = Some(secs);
                self.ts = Some(secs_to_ms(secs));
                i = end;
                if i < line.len() {
                    i += 1;
                    if line.get(i) != Some(&b'#') {
                        return Err(self.err(format!(
                            "expected next entry after timestamp, got {}",
                            got(line, i)
                        )));
                    }
                }
            }
            if i < line.len() {
                self.parse_exemplar(line, i)?;
            }
        }

        self.check_sample()
    }

    /// The exemplar starting at the `#` at `line[i]`.
    fn parse_exemplar(&mut self, line: &'a [u8], i: usize) -> Result<(), ParseError> {
        if line.get(i + 1) != Some(&b' ') || line.get(i + 2) != Some(&b'{') {
            return Err(self.err(format!(
                "expected exemplar \"# {{labels}} value\", got {}",
                got(line, i)
            )));
        }
        let mut i = parse_label_set(line, i + 2, &mut self.exemplar_labels, false)
            .map_err(|m| self.err(m))?;
        let chars: usize = self
            .exemplar_labels
            .iter()
            .map(|&(n, v)| n.len() + unescaped_chars(v))
            .sum();
        if chars > MAX_EXEMPLAR_LABELS_CHARS {
            return Err(self.err(format!(
                "exemplar labels have {chars} UTF-8 characters, more than the limit of \
                 {MAX_EXEMPLAR_LABELS_CHARS}"
            )));
        }
        if line.get(i) != Some(&b' ') {
            return Err(self.err(format!(
                "expected value after exemplar labels, got {}",
                got(line, i)
            )));
        }
        let (tok, end) = token(line, i + 1);
        if tok.is_empty() {
            return Err(self.err(format!(
                "expected value after exemplar labels, got {}",
                got(line, i + 1)
            )));
        }
        self.exemplar_value = parse_value(tok).map_err(|m| self.err(m))?;
        self.exemplar_ts = None;
        i = end;
        if i < line.len() {
            let (tok, end) = token(line, i + 1);
            if tok.is_empty() {
                return Err(self.err(format!(
                    "expected timestamp or comment, got {}",
                    got(line, i + 1)
                )));
            }
            let secs = parse_value(tok).map_err(|m| self.err(m))?;
            if !secs.is_finite() {
                return Err(self.err(format!("invalid exemplar timestamp {}", go_nonfinite(secs))));
            }
            self.exemplar_ts = Some(secs_to_ms(secs));
            if end < line.len() {
                return Err(self.err(format!(
                    "expected next entry after exemplar timestamp, got {}",
                    got(line, end)
                )));
            }
        }
        self.has_exemplar = true;
        Ok(())
    }

    // -- families -----------------------------------------------------------

    fn start_family(&mut self, name: &'a [u8]) {
        self.family = Family {
            active: true,
            name,
            line: self.line,
            ..Family::default()
        };
        self.groups.clear();
        self.point = Point::default();
    }

    /// Ends the current family: reserves its names if no sample did, checks
    /// its last histogram point.
    fn end_family(&mut self) -> Result<(), ParseError> {
        if !self.family.active || self.syntax_only {
            return Ok(());
        }
        if !self.family.registered {
            self.register(self.family.line)?;
        }
        self.finish_point()?;
        self.family = Family::default();
        self.groups.clear();
        Ok(())
    }

    /// Reserves the family's name and sample names; they must not have been
    /// used by an earlier family.
    fn register(&mut self, line: usize) -> Result<(), ParseError> {
        self.family.registered = true;
        let name = self.family.name;
        let t = self.family.mtype.unwrap_or(MetricType::Unknown);
        let extra = suffixes(t).iter().filter(|s| !s.is_empty());
        for suffix in std::iter::once(&&b""[..]).chain(extra) {
            let mut full = Vec::with_capacity(name.len() + suffix.len());
            full.extend_from_slice(name);
            full.extend_from_slice(suffix);
            if self.names.contains(&full) {
                return Err(self.err_at(
                    line,
                    format!(
                        "metric family {} clashes with an earlier metric family on name {} \
                         (families must not repeat or be interleaved)",
                        go_quote(name),
                        go_quote(&full)
                    ),
                ));
            }
            self.names.insert(full);
        }
        Ok(())
    }

    /// Checks the histogram point that just ended.
    fn finish_point(&mut self) -> Result<(), ParseError> {
        let p = std::mem::take(&mut self.point);
        if !p.active {
            return Ok(());
        }
        let name = go_quote(self.family.name);
        let gauge = self.family.mtype == Some(MetricType::GaugeHistogram);
        let (kind, count, sum) = if gauge {
            ("gauge histogram", "_gcount", "_gsum")
        } else {
            ("histogram", "_count", "_sum")
        };
        let msg = if p.last_le != Some(f64::INFINITY) {
            format!("{kind} {name} has no +Inf bucket")
        } else if let Some(c) = p.count.filter(|&c| c != p.last_bucket) {
            format!(
                "{kind} {name}: {count} {c} does not match the +Inf bucket {}",
                p.last_bucket
            )
        } else if (p.has_sum || p.has_gsum) && p.count.is_none() {
            format!("{kind} {name} has {sum} but no {count}")
        } else if !(p.has_sum || p.has_gsum) && p.count.is_some() {
            format!("{kind} {name} has {count} but no {sum}")
        } else if p.negative_bucket && p.has_sum {
            format!("{kind} {name} has negative buckets and must not have _sum")
        } else if !p.negative_bucket && p.negative_gsum {
            format!("{kind} {name} has a negative _gsum but no negative bucket")
        } else {
            return Ok(());
        };
        Err(self.err_at(p.line, msg))
    }

    /// Family membership and the semantic checks of the current sample.
    fn check_sample(&mut self) -> Result<(), ParseError> {
        if self.syntax_only {
            return Ok(());
        }
        let name = self.name;
        let in_family = self.family.active
            && name.starts_with(self.family.name)
            && suffixes(self.family.mtype.unwrap_or(MetricType::Unknown))
                .contains(&&name[self.family.name.len()..]);
        if !in_family {
            self.end_family()?;
            self.start_family(name);
        }
        if !self.family.registered {
            self.register(self.line)?;
        }
        self.family.has_samples = true;
        let family = self.family.name;
        let t = self.family.mtype.unwrap_or(MetricType::Unknown);
        let suffix = name.get(family.len()..).unwrap_or(&[]);
        let histogram = matches!(t, MetricType::Histogram | MetricType::GaugeHistogram);
        let bucket = histogram && suffix == b"_bucket";
        self.sample_type = t;
        let v = self.value;
        let label = |n: &[u8]| self.labels.iter().find(|(l, _)| *l == n).map(|&(_, v)| v);

        // Type-specific labels and values.
        let mut le = 0.0;
        match t {
            MetricType::StateSet => {
                if label(family).is_none() {
                    return Err(self.err(format!(
                        "state set sample must have a label named {}",
                        go_quote(family)
                    )));
                }
                if v != 0.0 && v != 1.0 {
                    return Err(self.err(format!("state set value must be 0 or 1, got {v}")));
                }
            }
            MetricType::Info if v != 1.0 => {
                return Err(self.err(format!("info value must be 1, got {v}")));
            }
            _ if bucket => {
                let raw = label(b"le");
                le = match raw.map(parse_value) {
                    Some(Ok(b)) if !b.is_nan() && (b != f64::INFINITY || raw == Some(b"+Inf")) => b,
                    _ => {
                        return Err(self.err(format!(
                            "invalid le label {} on histogram bucket",
                            go_quote(raw.unwrap_or(b"<missing>"))
                        )))
                    }
                };
            }
            MetricType::Summary if suffix.is_empty() => {
                let raw = label(b"quantile");
                if !matches!(raw.map(parse_value), Some(Ok(q)) if (0.0..=1.0).contains(&q)) {
                    return Err(self.err(format!(
                        "invalid quantile label {} on summary",
                        go_quote(raw.unwrap_or(b"<missing>"))
                    )));
                }
                if v < 0.0 {
                    return Err(self.err(format!("quantile value must not be negative, got {v}")));
                }
            }
            _ => {}
        }
        let counter_like = matches!(
            suffix,
            b"_total" | b"_sum" | b"_count" | b"_bucket" | b"_gcount" | b"_gsum"
        ) && t != MetricType::Unknown;
        if counter_like && v.is_nan() {
            return Err(self.err(format!(
                "{} value must not be NaN",
                String::from_utf8_lossy(suffix)
            )));
        }
        if counter_like && suffix != b"_gsum" && v < 0.0 {
            return Err(self.err(format!(
                "{} value must not be negative, got {v}",
                String::from_utf8_lossy(suffix)
            )));
        }
        if self.has_exemplar && !(bucket || (t == MetricType::Counter && suffix == b"_total")) {
            return Err(self.err(
                "exemplars are only allowed on counter _total and histogram _bucket samples",
            ));
        }

        // Metrics must not be interleaved; timestamps within one must be
        // consistent and not go backwards.
        let excluded: Option<&[u8]> = match t {
            _ if bucket => Some(b"le"),
            MetricType::Summary if suffix.is_empty() => Some(b"quantile"),
            MetricType::StateSet => Some(family),
            _ => None,
        };
        self.key.clear();
        if t != MetricType::Info {
            self.key.extend(
                self.labels
                    .iter()
                    .filter(|(n, _)| Some(*n) != excluded)
                    .copied(),
            );
            self.key.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        let ts = self.ts_secs;
        let same = self
            .family
            .group
            .is_some_and(|g| self.groups.get(g) == &self.key[..]);
        if same {
            if ts.is_some() != self.family.group_ts.is_some() {
                return Err(self.err("mix of samples with and without timestamp within a metric"));
            }
            if let (Some(prev), Some(now)) = (self.family.group_ts, ts) {
                if now < prev && t != MetricType::Info {
                    return Err(self.err(format!(
                        "timestamp {now} is before {prev}: timestamps must not go backwards \
                         within a metric"
                    )));
                }
            }
        } else {
            let h = hash_key(&self.key);
            if self.groups.contains(&self.key, h) {
                return Err(self.err(format!(
                    "invalid metric grouping: samples of {} are interleaved with another metric \
                     of family {}",
                    go_quote(self.series),
                    go_quote(family)
                )));
            }
            self.family.group = Some(self.groups.insert(&self.key, h));
        }
        self.family.group_ts = ts;

        if !histogram {
            return Ok(());
        }
        if !same || !self.point.active || self.point.ts != ts {
            self.finish_point()?;
            self.point = Point {
                active: true,
                line: self.line,
                ts,
                ..Point::default()
            };
        }
        let p = &mut self.point;
        match suffix {
            b"_bucket" => {
                if le < 0.0 {
                    p.negative_bucket = true;
                }
                if let Some(prev) = p.last_le.filter(|&prev| le <= prev) {
                    return Err(self.err(format!(
                        "histogram buckets out of order: le {le} after {prev}"
                    )));
                }
                let last = p.last_bucket;
                if v < last {
                    return Err(self.err(format!(
                        "histogram bucket counts must not decrease: {v} after {last}"
                    )));
                }
                p.last_le = Some(le);
                p.last_bucket = v;
            }
            b"_count" | b"_gcount" => p.count = Some(v),
            b"_sum" => p.has_sum = true,
            b"_gsum" => {
                p.has_gsum = true;
                p.negative_gsum |= v < 0.0;
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::lex::NORMAL_NAN_BITS;
    use super::*;
    use std::path::PathBuf;

    /// One parsed entry, owned, for comparisons.
    #[derive(Debug, Clone, PartialEq)]
    enum Item {
        Help(String, String),
        Type(String, MetricType),
        Unit(String, String),
        Series {
            raw: String,
            ts: Option<i64>,
            v: f64,
            labels: Vec<(String, String)>,
            exemplar: Option<Exemplar>,
        },
        Eof,
    }

    fn s(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    fn parse_all(body: &[u8]) -> Result<Vec<Item>, ParseError> {
        let mut p = OpenMetricsParser::new(body);
        let mut out = Vec::new();
        while let Some(e) = p.next()? {
            out.push(match e {
                Entry::Help => {
                    let (m, h) = p.help();
                    Item::Help(s(m), h.into_owned())
                }
                Entry::Type => {
                    let (m, t) = p.metric_type();
                    Item::Type(s(m), t)
                }
                Entry::Unit => {
                    let (m, u) = p.unit();
                    Item::Unit(s(m), u.to_string())
                }
                Entry::Series => {
                    let (raw, ts, v) = p.series();
                    let mut labels = vec![("junk".to_string(), "junk".to_string())];
                    p.labels(&mut labels);
                    Item::Series {
                        raw: s(raw),
                        ts,
                        v,
                        labels,
                        exemplar: p.exemplar(),
                    }
                }
                Entry::Eof => Item::Eof,
                Entry::Comment => panic!("comment entry"),
            });
        }
        Ok(out)
    }

    fn err(body: &str) -> ParseError {
        match parse_all(body.as_bytes()) {
            Ok(items) => panic!("{body:?} parsed: {items:?}"),
            Err(e) => e,
        }
    }

    fn ok(body: &str) -> Vec<Item> {
        parse_all(body.as_bytes()).unwrap_or_else(|e| panic!("{body:?}: {e}"))
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// Cases of the official suite decided differently from its
    /// `shouldParse`, with the reason. None so far.
    const DECIDED_DIFFERENTLY: &[(&str, &str)] = &[];

    fn suite_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("OPENMETRICS_SUITE_DIR") {
            return PathBuf::from(dir);
        }
        let dir = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/exposition-tests/openmetrics"
        ));
        if dir.is_dir() {
            dir
        } else {
            PathBuf::from("/work/shared/exposition-tests/openmetrics")
        }
    }

    #[test]
    fn official_suite() {
        let dir = suite_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!(
                "skipping official_suite: no OpenMetrics parser test suite at {} \
                 (set OPENMETRICS_SUITE_DIR)",
                dir.display()
            );
            return;
        };
        let mut cases: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("test.json").is_file())
            .collect();
        cases.sort();
        let mut failures = Vec::new();
        for case in &cases {
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            let json = std::fs::read_to_string(case.join("test.json")).unwrap();
            let meta: serde_json::Value = serde_json::from_str(&json).unwrap();
            let should_parse = meta["shouldParse"].as_bool().unwrap();
            let body = std::fs::read(case.join("metrics")).unwrap();
            let expect = should_parse ^ DECIDED_DIFFERENTLY.iter().any(|(c, _)| *c == name);
            let result = parse_all(&body);
            if result.is_ok() != expect {
                failures.push(format!("{name}: expected ok={expect}, got {result:?}"));
            }
        }
        eprintln!(
            "OpenMetrics suite: {}/{} cases as expected",
            cases.len() - failures.len(),
            cases.len()
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn doc_example() {
        let body = b"# TYPE req counter\nreq_total{code=\"200\"} 7 1700000000.5 # {trace_id=\"abc\"} 1\n# EOF\n";
        let mut p = OpenMetricsParser::new(body);
        assert_eq!(p.next().unwrap(), Some(Entry::Type));
        assert_eq!(p.next().unwrap(), Some(Entry::Series));
        assert_eq!(
            p.series(),
            (
                &b"req_total{code=\"200\"}"[..],
                Some(1_700_000_000_500),
                7.0
            )
        );
        assert_eq!(p.exemplar().unwrap().labels[0].1, "abc");
        assert_eq!(p.next().unwrap(), Some(Entry::Eof));
        assert_eq!(p.next().unwrap(), None);
        assert_eq!(p.next().unwrap(), None);
    }

    #[test]
    fn entries_and_accessors() {
        let body = "# TYPE foo_seconds histogram\n\
                    # UNIT foo_seconds seconds\n\
                    # HELP foo_seconds Some \\\"help\\\"\\n\\\\ here\n\
                    foo_seconds_bucket{a=\"x\\ny\",le=\"1\"} 1 # {trace_id=\"t\\\"1\"} 0.5 123.4567\n\
                    foo_seconds_bucket{a=\"x\\ny\",le=\"1e6\"} 2\n\
                    foo_seconds_bucket{a=\"x\\ny\",le=\"+Inf\"} 3 # {} 7\n\
                    foo_seconds_count{a=\"x\\ny\"} 3\n\
                    foo_seconds_sum{a=\"x\\ny\"} 4.5\n\
                    foo_seconds_created{a=\"x\\ny\"} 1520430000.123\n\
                    # EOF\n";
        let items = ok(body);
        assert_eq!(items.len(), 10);
        assert_eq!(
            items[0],
            Item::Type("foo_seconds".into(), MetricType::Histogram)
        );
        assert_eq!(items[1], Item::Unit("foo_seconds".into(), "seconds".into()));
        assert_eq!(
            items[2],
            Item::Help("foo_seconds".into(), "Some \"help\"\n\\ here".into())
        );
        assert_eq!(
            items[3],
            Item::Series {
                raw: "foo_seconds_bucket{a=\"x\\ny\",le=\"1\"}".into(),
                ts: None,
                v: 1.0,
                labels: labels(&[
                    ("__name__", "foo_seconds_bucket"),
                    ("a", "x\ny"),
                    ("le", "1.0")
                ]),
                exemplar: Some(Exemplar {
                    labels: labels(&[("trace_id", "t\"1")]),
                    value: 0.5,
                    ts: Some(123_456),
                }),
            }
        );
        match &items[4] {
            Item::Series {
                labels, exemplar, ..
            } => {
                assert_eq!(labels[2], ("le".to_string(), "1e+06".to_string()));
                assert_eq!(exemplar, &None);
            }
            other => panic!("{other:?}"),
        }
        match &items[5] {
            Item::Series { exemplar, .. } => assert_eq!(
                exemplar,
                &Some(Exemplar {
                    labels: vec![],
                    value: 7.0,
                    ts: None
                })
            ),
            other => panic!("{other:?}"),
        }
        // _created is an ordinary series.
        match &items[8] {
            Item::Series { raw, v, .. } => {
                assert_eq!(raw, "foo_seconds_created{a=\"x\\ny\"}");
                assert_eq!(*v, 1520430000.123);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(items[9], Item::Eof);
    }

    #[test]
    fn timestamps_are_float_seconds() {
        let cases: &[(&str, Option<i64>)] = &[
            ("1", Some(1000)),
            ("000", Some(0)),
            ("1.5e3", Some(1_500_000)),
            ("-1.5", Some(-1500)),
            ("1520879607.789", Some((1520879607.789f64 * 1000.0) as i64)),
            ("0.0009", Some(0)),
            ("-0.0009", Some(0)),
            ("12345678901234567890.1234567890", Some(i64::MAX)),
        ];
        for (ts, want) in cases {
            let body = format!("a 1 {ts}\n# EOF\n");
            match &ok(&body)[0] {
                Item::Series { ts: got, .. } => assert_eq!(got, want, "{ts}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn special_values() {
        let items = ok("a NaN\nb +Inf\nc -Inf\nd inf\ne -infinity\nf 1E3\ng .5\nh 5.\n# EOF");
        let values: Vec<f64> = items
            .iter()
            .filter_map(|i| match i {
                Item::Series { v, .. } => Some(*v),
                _ => None,
            })
            .collect();
        assert_eq!(values[0].to_bits(), NORMAL_NAN_BITS);
        assert_eq!(
            &values[1..],
            &[
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                1000.0,
                0.5,
                5.0
            ]
        );
        for bad in ["+NaN", "0x10", "1_0", "1e", "--1", "1e400", "", "Inf1"] {
            let body = format!("a {bad}\n# EOF\n");
            assert!(parse_all(body.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn error_messages_and_lines() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "data does not end with # EOF"),
            ("a 1\n", 2, "data does not end with # EOF"),
            ("a 1", 1, "data does not end with # EOF"),
            ("a 1\n# EOF\nb 1\n", 3, "unexpected data after # EOF"),
            ("a 1\n# EOF\n\n", 3, "unexpected data after # EOF"),
            ("# EOF blah\n", 1, "unexpected data after # EOF"),
            ("a 1\n\n# EOF\n", 2, "unexpected blank line"),
            (
                " a 1\n# EOF\n",
                1,
                "expected a valid start token, got \" \"",
            ),
            (
                "# FOO a x\n# EOF\n",
                1,
                "expected \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\", got \"# FOO a x\"",
            ),
            (
                "# HELP \n# EOF\n",
                1,
                "expected metric name after HELP, got \"\\n\"",
            ),
            ("# TYPE a\n# EOF\n", 1, "expected text in TYPE, got \"\\n\""),
            (
                "# TYPE a untyped\n# EOF\n",
                1,
                "invalid metric type \"untyped\"",
            ),
            (
                "# UNIT a seconds\n# EOF\n",
                1,
                "unit \"seconds\" not a suffix of metric \"a\"",
            ),
            (
                "a{b=\"1\",} 1\n# EOF\n",
                1,
                "expected label name, got \"}\"",
            ),
            ("a{b} 1\n# EOF\n", 1, "expected equal, got \"}\""),
            ("a{b=1} 1\n# EOF\n", 1, "expected label value, got \"1}\""),
            (
                "a{b=\"1\"c=\"2\"} 1\n# EOF\n",
                1,
                "expected comma or brace close, got \"c=\\\"2\\\"}\"",
            ),
            (
                "a{b=\"1\",b=\"2\"} 1\n# EOF\n",
                1,
                "label name \"b\" is not unique: invalid sample",
            ),
            ("a  1\n# EOF\n", 1, "expected value after metric, got \" \""),
            (
                "a 1 \n# EOF\n",
                1,
                "expected timestamp or comment, got \"\\n\"",
            ),
            ("a 1 NaN\n# EOF\n", 1, "invalid timestamp NaN"),
            (
                "a z\n# EOF\n",
                1,
                "strconv.ParseFloat: parsing \"z\": invalid syntax",
            ),
            (
                "a\r\n# EOF\n",
                1,
                "expected value after metric, got \"\\r\"",
            ),
            (
                "# TYPE a counter\na_total 1 # {} 1 Inf\n# EOF\n",
                2,
                "invalid exemplar timestamp +Inf",
            ),
            (
                "# TYPE a gauge\na 1 # {} 1\n# EOF\n",
                2,
                "exemplars are only allowed on counter _total and histogram _bucket samples",
            ),
            (
                "# TYPE a counter\na_total -1\n# EOF\n",
                2,
                "_total value must not be negative, got -1",
            ),
            (
                "# TYPE a gauge\na 1\n# HELP a x\n# EOF\n",
                3,
                "HELP line for metric family \"a\" after its samples",
            ),
            (
                "# HELP a x\n# HELP a x\n# EOF\n",
                2,
                "more than one HELP line for metric family \"a\"",
            ),
            (
                "a 1\nb 1\na 1\n# EOF\n",
                3,
                "metric family \"a\" clashes with an earlier metric family on name \"a\" \
                 (families must not repeat or be interleaved)",
            ),
            (
                "# TYPE a_created gauge\n# TYPE a counter\n# EOF\n",
                2,
                "metric family \"a\" clashes with an earlier metric family on name \
                 \"a_created\" (families must not repeat or be interleaved)",
            ),
            (
                "# TYPE a histogram\na_bucket{le=\"1\"} 0\n# EOF\n",
                2,
                "histogram \"a\" has no +Inf bucket",
            ),
            (
                "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_count 2\na_sum 1\n# EOF\n",
                2,
                "histogram \"a\": _count 2 does not match the +Inf bucket 1",
            ),
            (
                "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\n# EOF\n",
                4,
                "invalid metric grouping: samples of \"a{x=\\\"1\\\"}\" are interleaved \
                 with another metric of family \"a\"",
            ),
        ];
        for (body, line, msg) in cases {
            let e = err(body);
            assert_eq!((e.line, e.msg.as_str()), (*line, *msg), "{body:?}");
        }
        let e = parse_all(b"a 1\na{b=\"\xff\"} 1\n# EOF\n").unwrap_err();
        assert_eq!(
            (e.line, e.msg.as_str()),
            (2, "invalid UTF-8 label value: \"\\xff\"")
        );
        let e = parse_all(b"# HELP a \xff\n# EOF\n").unwrap_err();
        assert_eq!(e.msg, "help text \"\\xff\" is not a valid utf8 string");
    }

    #[test]
    fn syntax_only_takes_what_prometheus_takes() {
        // promtool's documented backfill example: a counter family named
        // with its `_total` suffix, and families split apart
        let body = b"# HELP http_requests_total The total number of HTTP requests.\n\
# TYPE http_requests_total counter\n\
http_requests_total{code=\"200\",service=\"user\"} 123 1609954636\n\
up 1 1609954636\n\
http_requests_total{code=\"500\",service=\"user\"} 456 1609954730\n\
# EOF\n";
        assert!(parse_all(body).is_err());
        let mut p = OpenMetricsParser::syntax_only(body);
        let mut series = Vec::new();
        while let Some(e) = p.next().unwrap() {
            if e == Entry::Series {
                let (_, ts, v) = p.series();
                series.push((ts, v));
            }
        }
        assert_eq!(
            series,
            vec![
                (Some(1_609_954_636_000), 123.0),
                (Some(1_609_954_636_000), 1.0),
                (Some(1_609_954_730_000), 456.0)
            ]
        );
        // the syntax is still checked
        let mut p = OpenMetricsParser::syntax_only(b"a{b=c} 1\n# EOF\n");
        assert!(p.next().is_err());
    }

    #[test]
    fn strictness_beyond_the_suite() {
        for body in [
            // Trailing comma in exemplar labels, blanks, CRLF.
            "# TYPE a counter\na_total 1 # {a=\"b\",} 1\n# EOF\n",
            "a{b=\"1\", c=\"2\"} 1\n# EOF\n",
            "a 1\r\n# EOF\r\n",
            "# HELP a x\r\n# EOF\n",
            "a 1\n# EOF\r\n",
            // Raw line feed in a label value.
            "a{b=\"x\ny\"} 1\n# EOF\n",
            // __name__ as a label, a quoted metric name (OpenMetrics 2.0).
            "a{__name__=\"a\"} 1\n# EOF\n",
            "{\"a\"} 1\n# EOF\n",
            // Exemplar on an unknown-typed sample, duplicate exemplar labels.
            "a 1 # {a=\"b\"} 1\n# EOF\n",
            "# TYPE a counter\na_total 1 # {a=\"b\",a=\"c\"} 1\n# EOF\n",
            // Quantile and le edge cases.
            "# TYPE a summary\na{quantile=\"+Inf\"} 1\n# EOF\n",
            "# TYPE a histogram\na_bucket{le=\"Infinity\"} 1\n# EOF\n",
            "# TYPE a histogram\na_bucket{le=\"1\"} 1\na_bucket{le=\"1.0\"} 1\na_bucket{le=\"+Inf\"} 1\n# EOF\n",
            // Gauge histogram with _gcount but no _gsum.
            "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 1\na_gcount 1\n# EOF\n",
            // Unit on an info family given before its type.
            "# UNIT a_b b\n# TYPE a_b info\n# EOF\n",
            // Timestamp presence mixed within a histogram point.
            "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 1\na_bucket{le=\"+Inf\"} 1\n# EOF\n",
        ] {
            assert!(parse_all(body.as_bytes()).is_err(), "{body:?}");
        }
        for body in [
            "# EOF",
            "# EOF\n",
            "# TYPE a counter\n# EOF\n",
            "# HELP a \\\"quoted\\\" and \"raw\" \\\n# EOF\n",
            "a{b=\"\\x\\\\\"} 1\n# EOF\n",
            "a{b=\"\0\"} 1\n# EOF\n",
            "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1 1\na_bucket{le=\"+Inf\"} 2 2\n# EOF\n",
            "# TYPE a stateset\na{a=\"x\",b=\"1\"} 1\na{a=\"y\",b=\"1\"} 0\na{a=\"x\",b=\"2\"} 0\n# EOF\n",
            "# TYPE a info\na_info{v=\"1\"} 1\na_info{v=\"2\"} 1.0\n# EOF\n",
            "# TYPE a counter\na_total +Inf\na_created 0\n# EOF\n",
            "a{b=\"1\"} 1\na{b=\"1\"} 2\n# EOF\n",
        ] {
            assert!(parse_all(body.as_bytes()).is_ok(), "{body:?}");
        }
    }

    #[test]
    fn exemplar_label_limit_counts_unescaped_characters() {
        // 1 (name) + 127 characters, one of them written as `\\`.
        let value = format!("\\\\{}", "x".repeat(126));
        let body = format!("# TYPE a counter\na_total 1 # {{a=\"{value}\"}} 1\n# EOF\n");
        assert!(parse_all(body.as_bytes()).is_ok());
        let value = format!("\\\\{}", "x".repeat(127));
        let body = format!("# TYPE a counter\na_total 1 # {{a=\"{value}\"}} 1\n# EOF\n");
        assert!(parse_all(body.as_bytes()).is_err());
        assert_eq!(unescaped_chars(b"\\\\\\n\\\"\\x\xc3\xa9"), 6);
    }

    #[test]
    fn om_float_format_matches_go() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "0.0"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (0.5, "0.5"),
            (0.001, "0.001"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (1.1e-4, "0.00011"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1.55555555555552e6, "1.55555555555552e+06"),
            (123456789.0, "1.23456789e+08"),
            (1e23, "1e+23"),
            (1e100, "1e+100"),
            (-2.5e-10, "-2.5e-10"),
            (10.0, "10.0"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(crate::gofmt::om_float(*f), *want, "{f}");
        }
    }

    #[test]
    fn le_and_quantile_normalisation_is_type_specific() {
        let body = "# TYPE s summary\ns{quantile=\"0.50\"} 1\n\
                    # TYPE g gaugehistogram\ng_bucket{le=\"1\"} 1\ng_bucket{le=\"+Inf\"} 1\n\
                    u{le=\"1\",quantile=\"1\"} 1\n# EOF\n";
        let got: Vec<Vec<(String, String)>> = ok(body)
            .into_iter()
            .filter_map(|i| match i {
                Item::Series { labels, .. } => Some(labels),
                _ => None,
            })
            .collect();
        assert_eq!(got[0][1].1, "0.5");
        assert_eq!(got[1][1].1, "1");
        assert_eq!(got[3][1..], labels(&[("le", "1"), ("quantile", "1")])[..]);
    }

    #[test]
    fn content_type() {
        assert!(is_openmetrics("application/openmetrics-text"));
        assert!(is_openmetrics(
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        ));
        assert!(is_openmetrics("Application/OpenMetrics-Text;version=0.0.1"));
        assert!(!is_openmetrics("text/plain; version=0.0.4"));
        assert!(!is_openmetrics("application/openmetrics-textx"));
        assert!(!is_openmetrics(""));
    }

    #[test]
    fn error_is_sticky_and_accessors_never_panic() {
        let mut p = OpenMetricsParser::new(b"a 1\nb x\n# EOF\n");
        let _ = p.series();
        let _ = p.help();
        let _ = p.metric_type();
        let _ = p.unit();
        let _ = p.exemplar();
        let mut out = Vec::new();
        p.labels(&mut out);
        assert_eq!(p.next(), Ok(Some(Entry::Series)));
        let first = p.next().unwrap_err();
        assert_eq!(first.line, 2);
        assert_eq!(p.next(), Err(first.clone()));
        assert_eq!(p.next(), Err(first));
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn fragment() -> impl Strategy<Value = &'static [u8]> {
            prop::sample::select(vec![
                &b"a"[..],
                b"a_total",
                b"a_bucket",
                b"_count",
                b"_sum",
                b"_gsum",
                b"_created",
                b"{",
                b"}",
                b"=",
                b",",
                b"\"",
                b"\\",
                b" ",
                b"\n",
                b"\r",
                b"\0",
                b"#",
                b" # {",
                b"# EOF",
                b"# HELP a ",
                b"# TYPE a ",
                b"# UNIT a ",
                b"counter",
                b"histogram",
                b"gaugehistogram",
                b"summary",
                b"stateset",
                b"info",
                b"1",
                b"-1",
                b"1.5e3",
                b"NaN",
                b"+Inf",
                b"le=\"+Inf\"",
                b"le=\"1\"",
                b"quantile=\"0.5\"",
                b"a=\"x\"",
                b"\xc3\xa9",
                b"\xff",
            ])
        }

        fn drain(body: &[u8]) {
            let mut p = OpenMetricsParser::new(body);
            let mut out = Vec::new();
            let mut n = 0;
            loop {
                match p.next() {
                    Ok(Some(Entry::Series)) => {
                        let (raw, _, _) = p.series();
                        assert!(!raw.is_empty());
                        p.labels(&mut out);
                        assert_eq!(out[0].0, "__name__");
                        assert!(raw.starts_with(out[0].1.as_bytes()));
                        let _ = p.exemplar();
                    }
                    Ok(Some(_)) => {
                        let _ = p.help();
                        let _ = p.metric_type();
                        let _ = p.unit();
                    }
                    Ok(None) => break,
                    Err(e) => {
                        assert!(e.line >= 1);
                        assert!(e.line <= body.iter().filter(|&&c| c == b'\n').count() + 1);
                        assert_eq!(p.next(), Err(e));
                        break;
                    }
                }
                n += 1;
                assert!(n <= body.len() + 1, "no progress");
            }
        }

        fn escape(v: &str) -> String {
            v.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..300)) {
                drain(&body);
            }

            #[test]
            fn fragments_never_panic(frags in prop::collection::vec(fragment(), 0..60)) {
                drain(&frags.concat());
            }

            #[test]
            fn print_then_parse(
                name in "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
                raw_labels in prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,8}", any::<String>(), 0..6),
                v in any::<f64>(),
                ts in prop::option::of(-1_000_000_000_000i64..4_000_000_000_000),
            ) {
                let raw_labels: Vec<(String, String)> =
                    raw_labels.into_iter().filter(|(k, _)| k != "__name__").collect();
                let mut series = name.clone();
                if !raw_labels.is_empty() {
                    let parts: Vec<String> = raw_labels
                        .iter()
                        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                        .collect();
                    series = format!("{series}{{{}}}", parts.join(","));
                }
                let value = if v.is_nan() {
                    "NaN".to_string()
                } else if v.is_infinite() {
                    if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
                } else {
                    format!("{v:?}")
                };
                let mut line = format!("{series} {value}");
                if let Some(ts) = ts {
                    // Milliseconds written as exact decimal seconds.
                    let sign = if ts < 0 { "-" } else { "" };
                    line.push_str(&format!(" {sign}{}.{:03}", ts.unsigned_abs() / 1000, ts.unsigned_abs() % 1000));
                }
                let body = format!("# TYPE {name} gauge\n# HELP {name} some help\n{line}\n# EOF\n");

                let mut p = OpenMetricsParser::new(body.as_bytes());
                prop_assert_eq!(p.next(), Ok(Some(Entry::Type)));
                prop_assert_eq!(p.metric_type(), (name.as_bytes(), MetricType::Gauge));
                prop_assert_eq!(p.next(), Ok(Some(Entry::Help)));
                prop_assert_eq!(p.help(), (name.as_bytes(), Cow::Borrowed("some help")));
                prop_assert_eq!(p.next(), Ok(Some(Entry::Series)));
                let (raw, got_ts, got_v) = p.series();
                prop_assert_eq!(raw, series.as_bytes());
                if let (Some(want), Some(got)) = (ts, got_ts) {
                    // Float seconds times 1000 may land just below the integer.
                    prop_assert!((want - got).abs() <= 1, "{} vs {}", want, got);
                } else {
                    prop_assert_eq!(got_ts, ts);
                }
                if v.is_nan() {
                    prop_assert_eq!(got_v.to_bits(), NORMAL_NAN_BITS);
                } else {
                    prop_assert_eq!(got_v.to_bits(), v.to_bits());
                }
                let mut out = Vec::new();
                p.labels(&mut out);
                let mut want = vec![("__name__".to_string(), name.clone())];
                want.extend(raw_labels);
                prop_assert_eq!(out, want);
                prop_assert_eq!(p.exemplar(), None);
                prop_assert_eq!(p.next(), Ok(Some(Entry::Eof)));
                prop_assert_eq!(p.next(), Ok(None));
            }
        }
    }
}
