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
//! `_created` samples are returned as ordinary series (Prometheus's
//! default); [`OpenMetricsParser::start_timestamp`] reads them as the start
//! times of their family's series and [`OpenMetricsParser::is_created_sample`]
//! tells them apart, for the `created-timestamp-zero-ingestion` feature. As
//! in Prometheus 3, the
//! values of `le` labels of histograms and of `quantile` labels of summaries
//! are normalised by [`OpenMetricsParser::labels`] (`1` becomes `1.0`,
//! `1e6` becomes `1e+06`); [`OpenMetricsParser::series`] returns the bytes
//! as written.
//!
//! After an error the parser is fused: `next` returns the same error again.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

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

/// Why a label set does not parse, in Prometheus's words (what was found
/// described as Prometheus describes it).
#[derive(Debug, thiserror::Error)]
enum LabelSetError {
    /// No label name where one should start.
    #[error("expected label name, got {0}")]
    Name(String),
    /// No `=` after a label name.
    #[error("expected equal, got {0}")]
    Equal(String),
    /// No quoted value after `=`.
    #[error("expected label value, got {0}")]
    Value(String),
    /// A value that is not UTF-8.
    #[error("invalid UTF-8 label value: {}", go_quote(.0))]
    Utf8(Vec<u8>),
    /// A label given twice (or `__name__` where the name is given).
    #[error("{}", not_unique(.0))]
    NotUnique(Vec<u8>),
    /// No `,` or `}` after a label.
    #[error("expected comma or brace close, got {0}")]
    Separator(String),
}

/// Parses the label set starting with the `{` at `line[i]`; returns the
/// index after the closing `}`. `out` is cleared first.
fn parse_label_set<'a>(
    line: &'a [u8],
    mut i: usize,
    out: &mut Labels<'a>,
    name_reserved: bool,
) -> Result<usize, LabelSetError> {
    out.clear();
    i += 1;
    if line.get(i) == Some(&b'}') {
        return Ok(i + 1);
    }
    loop {
        let rest = line.get(i..).unwrap_or(&[]);
        let n = label_name_len(rest);
        if n == 0 {
            return Err(LabelSetError::Name(got(line, i)));
        }
        let name = &rest[..n];
        i += n;
        if line.get(i) != Some(&b'=') {
            return Err(LabelSetError::Equal(got(line, i)));
        }
        i += 1;
        let quote = i;
        if line.get(i) != Some(&b'"') {
            return Err(LabelSetError::Value(got(line, i)));
        }
        // The line excludes its line feed, so an escape needs one more byte
        // on the line.
        let Some(len) = quoted_len(&line[quote..]) else {
            return Err(LabelSetError::Value(got(line, quote)));
        };
        i = quote + len;
        let value = line.get(quote + 1..i).unwrap_or(&[]);
        if std::str::from_utf8(value).is_err() {
            return Err(LabelSetError::Utf8(value.to_vec()));
        }
        if (name_reserved && name == b"__name__") || out.iter().any(|(n, _)| *n == name) {
            return Err(LabelSetError::NotUnique(name.to_vec()));
        }
        out.push((name, value));
        i += 1;
        match line.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok(i + 1),
            _ => return Err(LabelSetError::Separator(got(line, i))),
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

/// A series' key, its labels, and its start time in ms.
type StartCache<'a> = (&'a [u8], Vec<(String, String)>, Option<i64>);

/// A pull parser for the OpenMetrics 1.0 text format over a borrowed body.
///
/// Call [`next`](Self::next) until it returns [`Entry::Eof`] (then
/// `Ok(None)`) or an error (the whole scrape is rejected); after each entry,
/// call the accessor for its kind. [`Entry::Comment`] is never returned.
///
/// ```
/// use textparse::openmetrics::OpenMetricsParser;
/// use textparse::Entry;
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
    /// The last start time looked up: family, labels (without `le` or
    /// `quantile`), start time in ms.
    start_cache: Option<StartCache<'a>>,
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
            start_cache: None,
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

    /// After [`Entry::Series`]: whether the sample is a `<family>_created`
    /// sample of a counter, summary or histogram, which gives the start
    /// time of the family's series with the same labels.
    pub fn is_created_sample(&self) -> bool {
        has_start(self.sample_type) && self.name.strip_suffix(b"_created") == Some(self.family.name)
    }

    /// After [`Entry::Series`] of a counter, summary or histogram: the
    /// start (created) time in ms of its series, from the family's
    /// `_created` sample with the same labels (`le` and `quantile` aside)
    /// when it is the next `_created` sample of the family, as Prometheus
    /// reads it.
    pub fn start_timestamp(&mut self) -> Option<i64> {
        if !has_start(self.sample_type) || self.is_created_sample() {
            return None;
        }
        let skip = match self.sample_type {
            MetricType::Histogram => "le",
            MetricType::Summary => "quantile",
            _ => "",
        };
        let mut mine = Vec::new();
        self.labels(&mut mine);
        mine.retain(|(n, _)| n != "__name__" && n != skip);
        if let Some((family, labels, st)) = &self.start_cache {
            if *family == self.family.name && *labels == mine {
                return *st;
            }
        }
        // the rest of the family, read for its syntax alone
        let mut rest = OpenMetricsParser::syntax_only(&self.body[self.pos..]);
        rest.sample_type = self.sample_type;
        rest.family.name = self.family.name;
        let mut found = None;
        let mut theirs = Vec::new();
        while let Ok(Some(Entry::Series)) = rest.next() {
            if !rest.is_created_sample() {
                continue;
            }
            rest.labels(&mut theirs);
            theirs.retain(|(n, _)| n != "__name__");
            if theirs == mine {
                found = Some((rest.value * 1000.0) as i64);
            }
            break;
        }
        self.start_cache = Some((self.family.name, mine, found));
        found
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
            i = parse_label_set(line, i, &mut self.labels, true)
                .map_err(|m| self.err(m.to_string()))?;
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
        self.value = parse_value(tok).map_err(|m| self.err(m.to_string()))?;
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
                let secs = parse_value(tok).map_err(|m| self.err(m.to_string()))?;
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
            .map_err(|m| self.err(m.to_string()))?;
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
        self.exemplar_value = parse_value(tok).map_err(|m| self.err(m.to_string()))?;
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
            let secs = parse_value(tok).map_err(|m| self.err(m.to_string()))?;
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
}

mod family;

#[cfg(test)]
mod tests;

/// Whether samples of this type have a start (created) time.
fn has_start(t: MetricType) -> bool {
    matches!(
        t,
        MetricType::Counter | MetricType::Summary | MetricType::Histogram
    )
}
