//! Parser for the Prometheus text exposition format 0.0.4.
//!
//! The reference is Prometheus 2.42's `model/textparse/promparse.go` and its
//! lexer: the same inputs are accepted and rejected, and error messages use
//! its wording. The parser is a pull loop over the borrowed body; nom parses
//! the tokens (names, label values, values, timestamps), the loop strings them
//! together so that each error can name the token it got, as Prometheus does.
//!
//! Behaviour worth knowing (all as in Prometheus unless noted):
//!
//! - Spaces and tabs around tokens are skipped, also inside `{...}`, at the
//!   start of a line and at its end. No other byte is whitespace: a CR before
//!   LF ends up in the value token (`strconv.ParseFloat: parsing "1\r": invalid
//!   syntax`) or after the timestamp, so CRLF bodies are rejected.
//! - Labels may be separated by a comma, by blanks only, and a trailing comma
//!   is allowed. A repeated label name (or `__name__` inside the braces) is an
//!   error here; in Prometheus the parser lets it through and the append
//!   rejects the whole scrape with the same message.
//! - Label values take the escapes `\\`, `\"` and `\n`; any other escape is
//!   kept as written (`\x` stays `\x`). A raw line feed inside a quoted label
//!   value is accepted, as by Prometheus's lexer. Label values must be UTF-8.
//! - `# HELP name text`: the text is the rest of the line without its first
//!   byte (the separator); a text of only blanks is empty. Escapes `\\` and
//!   `\n`. `# TYPE name type`: `counter`, `gauge`, `histogram`, `summary` or
//!   `untyped` exactly, after dropping the separator byte (trailing blanks
//!   make it invalid). `#HELP`, `# HELPx` and other `#` lines are comments.
//! - Values follow Go's `strconv.ParseFloat` minus hex floats and `_`
//!   (Prometheus rejects `p`, `P` and `_` first with `unsupported character in
//!   float`); a finite literal beyond f64 range is an error. NaN is stored as
//!   Prometheus's normal NaN ([`NORMAL_NAN_BITS`]), never the stale marker.
//! - Timestamps are integer milliseconds. Deviation: a leading `-` is
//!   accepted (Prometheus's lexer only takes digits).
//! - A NUL byte where a line starts is an error unless only NUL padding
//!   follows (Prometheus's lexer ends the body there and silently drops the
//!   rest); elsewhere outside label values, help text and comments it is an
//!   invalid token.
//! - A missing final newline is fine; an empty body yields no entries.
//! - After an error the parser is fused: `next` returns the same error again.
//! - Not supported (as in 2.42): UTF-8 metric or label names in quotes.

use std::borrow::Cow;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, digit1};
use nom::combinator::{opt, recognize};
use nom::sequence::{pair, terminated};
use nom::IResult;

use super::lex::{
    decode_labels, go_quote, is_label_name_start, is_metric_name_start, label_name_len,
    metric_name_len, not_unique, parse_value, quoted_len, unescape,
};
use super::{Entry, MetricType, ParseError};

pub use super::lex::NORMAL_NAN_BITS;

type Res<'a, T> = IResult<&'a [u8], T>;

// ---------------------------------------------------------------------------
// Tokens (nom)
// ---------------------------------------------------------------------------

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Spaces and tabs, possibly none.
fn blanks(i: &[u8]) -> Res<'_, &[u8]> {
    take_while(is_blank)(i)
}

/// A token failure at `i` (the parser reports its own message).
fn no_token(i: &[u8]) -> nom::Err<nom::error::Error<&[u8]>> {
    nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Char))
}

/// A name of `len(i)` bytes (none is a failure).
fn name_token(i: &[u8], len: fn(&[u8]) -> usize) -> Res<'_, &[u8]> {
    match len(i) {
        0 => Err(no_token(i)),
        n => Ok((&i[n..], &i[..n])),
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn metric_name(i: &[u8]) -> Res<'_, &[u8]> {
    name_token(i, metric_name_len)
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn label_name(i: &[u8]) -> Res<'_, &[u8]> {
    name_token(i, label_name_len)
}

/// A quoted label value (see [`quoted_len`]); yields the bytes between the
/// quotes, still escaped.
fn label_value(i: &[u8]) -> Res<'_, &[u8]> {
    match quoted_len(i) {
        Some(j) => Ok((&i[j + 1..], &i[1..j])),
        None => Err(no_token(i)),
    }
}

/// `# HELP` / `# TYPE` keyword with its trailing blanks (after `#` and blanks).
fn meta_keyword(i: &[u8]) -> Res<'_, &[u8]> {
    terminated(alt((tag("HELP"), tag("TYPE"))), take_while1(is_blank))(i)
}

/// The value token: anything up to a blank, line feed, `{` or NUL.
fn value_token(i: &[u8]) -> Res<'_, &[u8]> {
    take_while1(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'{' | 0))(i)
}

/// The timestamp token: `-?[0-9]+`.
fn timestamp_token(i: &[u8]) -> Res<'_, &[u8]> {
    recognize(pair(opt(char('-')), digit1))(i)
}

/// Parses a timestamp token (already `-?[0-9]+`) as Go's `strconv.ParseInt`.
fn parse_timestamp(tok: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(tok)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| {
            format!(
                "strconv.ParseInt: parsing {}: value out of range",
                go_quote(tok)
            )
        })
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

/// A pull parser for the Prometheus text format 0.0.4 over a borrowed body.
///
/// Call [`next`](Self::next) until it returns `Ok(None)` (end of body) or an
/// error (the scrape is rejected); after each entry, call the accessor for
/// its kind. Sample lines are validated without allocating: the label set is
/// only decoded by [`labels`](Self::labels).
///
/// ```
/// use flint::textparse::{Entry, PromParser};
/// let mut p = PromParser::new(b"# TYPE up gauge\nup{job=\"a\"} 1 1700000000000\n");
/// let mut seen = Vec::new();
/// while let Some(entry) = p.next().unwrap() {
///     if entry == Entry::Series {
///         seen.push(p.series());
///     }
/// }
/// assert_eq!(seen, vec![(&b"up{job=\"a\"}"[..], Some(1_700_000_000_000), 1.0)]);
/// ```
#[derive(Debug)]
pub struct PromParser<'a> {
    body: &'a [u8],
    pos: usize,
    done: bool,
    failed: Option<ParseError>,
    // Current sample.
    series: &'a [u8],
    name: &'a [u8],
    /// (name, escaped value) per label, in written order; reused.
    labels: Vec<(&'a [u8], &'a [u8])>,
    /// The current series matched the caller's hint: its labels were not
    /// split out (see [`PromParser::next_hinted`]).
    hinted: bool,
    value: f64,
    ts: Option<i64>,
    // Current metadata or comment.
    meta_name: &'a [u8],
    help: &'a [u8],
    mtype: MetricType,
    comment: &'a [u8],
}

impl<'a> PromParser<'a> {
    /// Creates a parser over `body`; nothing is parsed until [`next`](Self::next).
    pub fn new(body: &'a [u8]) -> Self {
        PromParser {
            body,
            pos: 0,
            done: false,
            failed: None,
            series: &[],
            name: &[],
            labels: Vec::new(),
            hinted: false,
            value: 0.0,
            ts: None,
            meta_name: &[],
            help: &[],
            mtype: MetricType::Unknown,
            comment: &[],
        }
    }

    /// Advances to the next entry; `Ok(None)` at the end of input. Blank
    /// lines are skipped.
    ///
    /// Errors carry the 1-based line of the offending token and Prometheus's
    /// wording. Once an error is returned, every later call returns it again.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry>, ParseError> {
        self.next_hinted(&[])
    }

    /// Like [`next`](Self::next), given the series the caller expects next
    /// (as [`series`](Self::series) gave it for an earlier line; empty for
    /// none). A sample line that starts with exactly those bytes has a
    /// series already known to be valid, so only its value and timestamp
    /// are parsed; [`hint_taken`](Self::hint_taken) then says so. A scrape
    /// mostly repeats the last one line for line, and this skips most of
    /// the work per line. [`labels`](Self::labels) still works after it.
    pub fn next_hinted(&mut self, hint: &[u8]) -> Result<Option<Entry>, ParseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.done {
            return Ok(None);
        }
        self.hinted = false;
        match self.advance(hint) {
            Ok(Some(e)) => Ok(Some(e)),
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// After [`Entry::Series`]: whether the series was the hint given to
    /// [`next_hinted`](Self::next_hinted).
    pub fn hint_taken(&self) -> bool {
        self.hinted
    }

    /// After [`Entry::Series`]: the raw bytes of the series as written (metric
    /// name plus label set, e.g. `http_requests_total{a="b"}`, without
    /// surrounding blanks), the timestamp in milliseconds if given, and the
    /// value (NaN is always [`NORMAL_NAN_BITS`]).
    pub fn series(&self) -> (&'a [u8], Option<i64>, f64) {
        (self.series, self.ts, self.value)
    }

    /// After [`Entry::Series`]: writes the labels of the current series into
    /// `out` (cleared first): `("__name__", name)` then each label in written
    /// order, values unescaped. Not sorted; empty values are kept.
    pub fn labels(&self, out: &mut Vec<(String, String)>) {
        if self.hinted {
            // split the (valid) series now, in a parser over it alone
            let mut p = PromParser::new(self.series);
            let parsed = p.series_part();
            debug_assert!(parsed.is_ok(), "a hinted series parses");
            p.meta_name = self.meta_name;
            p.mtype = self.mtype;
            return p.labels(out);
        }
        // Prometheus 3 normalises `le` of histograms and `quantile` of
        // summaries to the float form (`1` becomes `1.0`)
        let in_family = !self.meta_name.is_empty() && self.name.starts_with(self.meta_name);
        let float_label: &[u8] = match self.mtype {
            MetricType::Histogram if in_family => b"le",
            MetricType::Summary if in_family => b"quantile",
            _ => b"",
        };
        decode_labels(out, self.name, &self.labels, float_label);
    }

    /// After [`Entry::Help`]: the metric name and the unescaped help text
    /// (borrowed unless it contained an escape).
    pub fn help(&self) -> (&'a [u8], Cow<'a, str>) {
        (self.meta_name, unescape(self.help, false))
    }

    /// After [`Entry::Type`]: the metric name and its type.
    pub fn metric_type(&self) -> (&'a [u8], MetricType) {
        (self.meta_name, self.mtype)
    }

    /// After [`Entry::Comment`]: the whole comment line, `#` included, without
    /// the line feed.
    pub fn comment(&self) -> &'a [u8] {
        self.comment
    }

    // -- helpers ------------------------------------------------------------

    fn rest(&self) -> &'a [u8] {
        self.body.get(self.pos..).unwrap_or(&[])
    }

    /// Moves the cursor to where `rest` (a suffix of the body) starts.
    fn set_rest(&mut self, rest: &'a [u8]) {
        self.pos = self.body.len().saturating_sub(rest.len());
    }

    fn peek(&self) -> Option<u8> {
        self.body.get(self.pos).copied()
    }

    fn skip_blanks(&mut self) {
        if let Ok((rest, _)) = blanks(self.rest()) {
            self.set_rest(rest);
        }
    }

    /// Index of the line feed ending the line containing `from`, or the end.
    fn line_end(&self, from: usize) -> usize {
        let tail = self.body.get(from..).unwrap_or(&[]);
        tail.iter()
            .position(|&c| c == b'\n')
            .map_or(self.body.len(), |i| from + i)
    }

    /// Moves past the line feed at the cursor, if any.
    fn eat_newline(&mut self) {
        if self.peek() == Some(b'\n') {
            self.pos += 1;
        }
    }

    fn error_at(&self, pos: usize, msg: String) -> ParseError {
        let upto = self.body.get(..pos).unwrap_or(self.body);
        let line = 1 + upto.iter().filter(|&&c| c == b'\n').count();
        ParseError { line, msg }
    }

    /// `{exp}, got "TOKEN"` at the cursor, Prometheus's parse error shape.
    fn expected(&self, exp: &str, got: &str) -> ParseError {
        self.error_at(self.pos, format!("{exp}, got \"{got}\""))
    }

    /// Name of the token at the cursor inside a label set.
    fn label_token(&self) -> &'static str {
        match self.peek() {
            Some(c) if is_label_name_start(c) => "LNAME",
            Some(b'}') => "BCLOSE",
            Some(b'=') => "EQUAL",
            Some(b',') => "COMMA",
            _ => "INVALID",
        }
    }

    /// Name of the token at the cursor after a timestamp or value.
    fn timestamp_token_name(&self) -> &'static str {
        match self.peek() {
            None | Some(b'\n') => "LINEBREAK",
            _ if timestamp_token(self.rest()).is_ok() => "TIMESTAMP",
            _ => "INVALID",
        }
    }

    // -- grammar ------------------------------------------------------------

    fn advance(&mut self, hint: &[u8]) -> Result<Option<Entry>, ParseError> {
        loop {
            self.skip_blanks();
            match self.peek() {
                None => return Ok(None),
                // Prometheus's lexer ends the body at a NUL here and drops
                // the rest; flint refuses such a body unless only NUL
                // padding follows, since the rest would be lost silently
                Some(0) if self.body[self.pos..].iter().all(|&b| b == 0) => return Ok(None),
                Some(0) => return Err(self.error_at(self.pos, "unexpected NUL byte".to_string())),
                Some(b'\n') => self.pos += 1,
                Some(b'#') => return self.hash_line().map(Some),
                Some(c) if is_metric_name_start(c) => {
                    if !hint.is_empty() && self.starts_with_series(hint) {
                        self.hinted = true;
                        self.name = &[];
                        self.series = &self.body[self.pos..self.pos + hint.len()];
                        self.pos += hint.len();
                        self.skip_blanks();
                        return self.sample_value().map(Some);
                    }
                    return self.sample().map(Some);
                }
                Some(_) => {
                    return Err(self.error_at(
                        self.pos,
                        "\"INVALID\" is not a valid start token".to_string(),
                    ))
                }
            }
        }
    }

    /// A line starting with `#`: HELP, TYPE or a comment.
    fn hash_line(&mut self) -> Result<Entry, ParseError> {
        let start = self.pos;
        let after_hash = self.body.get(start + 1..).unwrap_or(&[]);
        if let Ok((rest, sep)) = blanks(after_hash) {
            if !sep.is_empty() {
                if let Ok((rest, kw)) = meta_keyword(rest) {
                    self.set_rest(rest);
                    return self.meta(kw == b"HELP");
                }
            }
        }
        let end = self.line_end(start);
        self.comment = self.body.get(start..end).unwrap_or(&[]);
        self.pos = end;
        self.eat_newline();
        Ok(Entry::Comment)
    }

    /// The rest of a HELP or TYPE line, after the keyword and its blanks.
    fn meta(&mut self, is_help: bool) -> Result<Entry, ParseError> {
        let Ok((rest, name)) = metric_name(self.rest()) else {
            let kw = if is_help { "HELP" } else { "TYPE" };
            return Err(self.expected(&format!("expected metric name after {kw}"), "INVALID"));
        };
        self.set_rest(rest);
        let text_start = self.pos;
        let end = self.line_end(text_start);
        let raw = self.body.get(text_start..end).unwrap_or(&[]);
        // Prometheus drops the first byte (the separator); a text of only
        // blanks lexes as whitespace and leaves an empty text.
        let text = if raw.iter().all(|&c| is_blank(c)) {
            &raw[..0]
        } else {
            raw.get(1..).unwrap_or(&[])
        };
        self.meta_name = name;
        if is_help {
            if std::str::from_utf8(text).is_err() {
                return Err(self.error_at(
                    text_start,
                    format!("help text {} is not a valid utf8 string", go_quote(text)),
                ));
            }
            self.help = text;
        } else {
            self.mtype = match text {
                b"counter" => MetricType::Counter,
                b"gauge" => MetricType::Gauge,
                b"histogram" => MetricType::Histogram,
                b"summary" => MetricType::Summary,
                b"untyped" => MetricType::Unknown,
                _ => {
                    return Err(self.error_at(
                        text_start,
                        format!("invalid metric type {}", go_quote(text)),
                    ))
                }
            };
        }
        self.pos = end;
        self.eat_newline();
        Ok(if is_help { Entry::Help } else { Entry::Type })
    }

    /// A sample line: `name[{labels}] value [timestamp]`.
    /// Whether the line at the cursor starts with the series `key` (a
    /// valid series as written on an earlier line) and the series does not
    /// go on past it: blanks follow, and after a bare name no `{`.
    fn starts_with_series(&self, key: &[u8]) -> bool {
        let rest = self.rest();
        if !rest.starts_with(key) || !rest.get(key.len()).is_some_and(|&c| is_blank(c)) {
            return false;
        }
        if key.last() == Some(&b'}') {
            return true;
        }
        let after = &rest[key.len()..];
        after.iter().find(|&&c| !is_blank(c)) != Some(&b'{')
    }

    fn sample(&mut self) -> Result<Entry, ParseError> {
        self.series_part()?;
        self.sample_value()
    }

    /// The metric name and label set at the cursor, up to the value.
    fn series_part(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        let Ok((rest, name)) = metric_name(self.rest()) else {
            return Err(self.error_at(start, "\"INVALID\" is not a valid start token".to_string()));
        };
        self.set_rest(rest);
        let mut series_end = self.pos;
        self.labels.clear();
        self.skip_blanks();
        if self.peek() == Some(b'{') {
            self.pos += 1;
            self.label_set()?;
            series_end = self.pos;
            self.skip_blanks();
        }
        self.name = name;
        self.series = self.body.get(start..series_end).unwrap_or(&[]);
        Ok(())
    }

    /// The value, the timestamp if any, and the end of the line.
    fn sample_value(&mut self) -> Result<Entry, ParseError> {
        let Ok((rest, tok)) = value_token(self.rest()) else {
            let got = if self.peek() == Some(b'{') {
                "BOPEN"
            } else {
                "INVALID"
            };
            return Err(self.expected("expected value after metric", got));
        };
        let value_pos = self.pos;
        self.set_rest(rest);
        self.value = parse_value(tok).map_err(|m| self.error_at(value_pos, m))?;
        self.ts = None;

        self.skip_blanks();
        if matches!(self.peek(), None | Some(b'\n')) {
            self.eat_newline();
            return Ok(Entry::Series);
        }
        let Ok((rest, tok)) = timestamp_token(self.rest()) else {
            return Err(self.expected(
                "expected timestamp or new record",
                self.timestamp_token_name(),
            ));
        };
        let ts_pos = self.pos;
        self.set_rest(rest);
        self.ts = Some(parse_timestamp(tok).map_err(|m| self.error_at(ts_pos, m))?);

        self.skip_blanks();
        if matches!(self.peek(), None | Some(b'\n')) {
            self.eat_newline();
            return Ok(Entry::Series);
        }
        Err(self.expected(
            "expected next entry after timestamp",
            self.timestamp_token_name(),
        ))
    }

    /// The label set after `{`, through the closing `}`.
    fn label_set(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_blanks();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(());
            }
            let name_pos = self.pos;
            let Ok((rest, name)) = label_name(self.rest()) else {
                return Err(self.expected("expected label name", self.label_token()));
            };
            self.set_rest(rest);
            self.skip_blanks();
            if self.peek() != Some(b'=') {
                return Err(self.expected("expected equal", self.label_token()));
            }
            self.pos += 1;
            self.skip_blanks();
            let Ok((rest, value)) = label_value(self.rest()) else {
                return Err(self.expected("expected label value", "INVALID"));
            };
            if std::str::from_utf8(value).is_err() {
                return Err(self.error_at(self.pos, "invalid UTF-8 label value".to_string()));
            }
            self.set_rest(rest);
            if name == b"__name__" || self.labels.iter().any(|(n, _)| *n == name) {
                return Err(self.error_at(name_pos, not_unique(name)));
            }
            self.labels.push((name, value));
            self.skip_blanks();
            if self.peek() == Some(b',') {
                self.pos += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::lex::exact_decimal;

    #[test]
    fn le_and_quantile_are_normalised_like_prometheus_3() {
        let body = b"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n# TYPE s summary\ns{quantile=\"0.5\"} 3\n# TYPE g gauge\ng{le=\"1\"} 4\nother{quantile=\"1\"} 5\n";
        let mut p = PromParser::new(body);
        let mut got = Vec::new();
        let mut out = Vec::new();
        while let Some(e) = p.next().unwrap() {
            if e == Entry::Series {
                p.labels(&mut out);
                got.push(out[1].1.clone());
            }
        }
        assert_eq!(got, vec!["1.0", "+Inf", "0.5", "1", "1"]);
    }

    use super::*;

    /// One parsed entry, owned, for comparisons.
    #[derive(Debug, Clone, PartialEq)]
    enum Item {
        Help(String, String),
        Type(String, MetricType),
        Comment(String),
        Series {
            raw: String,
            ts: Option<i64>,
            v: f64,
            labels: Vec<(String, String)>,
        },
    }

    fn s(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    fn parse_all(body: &[u8]) -> Result<Vec<Item>, ParseError> {
        let (items, err, _) = parse_hinted(body, &[]);
        err.map_or(Ok(items), Err)
    }

    /// Parses `body` offering `hints` in turn, as a scrape cache does (the
    /// next one is offered once the last is taken): the items up to the
    /// first error, the error, and how many hints were taken.
    fn parse_hinted(body: &[u8], hints: &[Vec<u8>]) -> (Vec<Item>, Option<ParseError>, usize) {
        let mut p = PromParser::new(body);
        let mut out = Vec::new();
        let mut taken = 0;
        loop {
            let hint = hints.get(taken).map_or(&[][..], |h| &h[..]);
            let e = match p.next_hinted(hint) {
                Ok(Some(e)) => e,
                Ok(None) => return (out, None, taken),
                Err(e) => return (out, Some(e), taken),
            };
            if e == Entry::Series && p.hint_taken() {
                assert_eq!(p.series().0, hint);
                taken += 1;
            }
            out.push(match e {
                Entry::Help => {
                    let (m, h) = p.help();
                    Item::Help(s(m), h.into_owned())
                }
                Entry::Type => {
                    let (m, t) = p.metric_type();
                    Item::Type(s(m), t)
                }
                Entry::Comment => Item::Comment(s(p.comment())),
                Entry::Series => {
                    let (raw, ts, v) = p.series();
                    let mut labels = vec![("junk".to_string(), "junk".to_string())];
                    p.labels(&mut labels);
                    Item::Series {
                        raw: s(raw),
                        ts,
                        v,
                        labels,
                    }
                }
                other => panic!("unexpected entry {other:?}"),
            });
        }
    }

    /// The raw series of `body`'s sample lines before any error.
    fn raws(body: &[u8]) -> Vec<Vec<u8>> {
        parse_hinted(body, &[])
            .0
            .into_iter()
            .filter_map(|i| match i {
                Item::Series { raw, .. } => Some(raw.into_bytes()),
                _ => None,
            })
            .collect()
    }

    /// Items with values as bits, so that NaNs compare.
    fn exact(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Item::Series { raw, ts, v, labels } => {
                    format!("{raw:?} {ts:?} {:x} {labels:?}", v.to_bits())
                }
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// Parsing with hints gives what parsing without them gives.
    fn same_with_hints(body: &[u8], hints: &[Vec<u8>]) -> usize {
        let (want, want_err, _) = parse_hinted(body, &[]);
        let (got, got_err, taken) = parse_hinted(body, hints);
        assert_eq!(exact(&got), exact(&want), "{:?} hints {hints:?}", s(body));
        assert_eq!(got_err, want_err, "{:?} hints {hints:?}", s(body));
        taken
    }

    #[test]
    fn hinted_series_parse_as_without_hints() {
        let body = b"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2 1000\nfoo 1\nfoo_bar 2\nfoo {a=\"b\"} 3\nfoo\t{a=\"b\"} 4\nbar{a=\"}\"}  5\t\n";
        let own = raws(body);
        assert_eq!(own.len(), 7);
        // the same body: every series is taken, le still normalised
        assert_eq!(same_with_hints(body, &own), 7);
        // a bare name is not taken for a longer name or for labels after it
        assert_eq!(
            same_with_hints(b"foo_bar 1\nfoo {a=\"b\"} 2\n", &[b"foo".to_vec()]),
            0
        );
        assert_eq!(
            same_with_hints(b"foo{a=\"b\"}1\n", &[b"foo{a=\"b\"}".to_vec()]),
            0
        );
        // a taken series still gets its value checked
        assert_eq!(
            same_with_hints(b"foo 1\nfoo 1x\n", &[b"foo".to_vec(), b"foo".to_vec()]),
            1
        );
        // a hint waits for its line
        assert_eq!(same_with_hints(body, &own[3..]), 4);
    }

    fn series(body: &str) -> Vec<Item> {
        parse_all(body.as_bytes())
            .unwrap_or_else(|e| panic!("{body:?}: {e}"))
            .into_iter()
            .filter(|i| matches!(i, Item::Series { .. }))
            .collect()
    }

    fn one(body: &str) -> (String, Option<i64>, f64, Vec<(String, String)>) {
        let items = series(body);
        assert_eq!(items.len(), 1, "{body:?}: {items:?}");
        match items.into_iter().next() {
            Some(Item::Series { raw, ts, v, labels }) => (raw, ts, v, labels),
            _ => unreachable!(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn err(body: &[u8]) -> ParseError {
        match parse_all(body) {
            Ok(items) => panic!("{:?} parsed: {items:?}", s(body)),
            Err(e) => e,
        }
    }

    /// A /metrics body as served by prometheus-fastapi-instrumentator
    /// (prometheus_client for Python).
    const FASTAPI: &str = r#"# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 1612.0
python_gc_objects_collected_total{generation="1"} 409.0
python_gc_objects_collected_total{generation="2"} 0.0
# HELP python_gc_objects_uncollectable_total Uncollectable objects found during GC
# TYPE python_gc_objects_uncollectable_total counter
python_gc_objects_uncollectable_total{generation="0"} 0.0
python_gc_objects_uncollectable_total{generation="1"} 0.0
python_gc_objects_uncollectable_total{generation="2"} 0.0
# HELP python_gc_collections_total Number of times this generation was collected
# TYPE python_gc_collections_total counter
python_gc_collections_total{generation="0"} 96.0
python_gc_collections_total{generation="1"} 8.0
python_gc_collections_total{generation="2"} 0.0
# HELP python_info Python platform information
# TYPE python_info gauge
python_info{implementation="CPython",major="3",minor="11",patchlevel="6",version="3.11.6"} 1.0
# HELP process_virtual_memory_bytes Virtual memory size in bytes.
# TYPE process_virtual_memory_bytes gauge
process_virtual_memory_bytes 2.58445312e+08
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 5.2744192e+07
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.70005113264e+09
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.23
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 14.0
# HELP process_max_fds Maximum number of open file descriptors.
# TYPE process_max_fds gauge
process_max_fds 1.048576e+06
# HELP http_requests_total Total number of requests by method, status and handler.
# TYPE http_requests_total counter
http_requests_total{handler="/items/{item_id}",method="GET",status="2xx"} 3.0
http_requests_total{handler="/metrics",method="GET",status="2xx"} 12.0
# HELP http_requests_created Total number of requests by method, status and handler.
# TYPE http_requests_created gauge
http_requests_created{handler="/items/{item_id}",method="GET",status="2xx"} 1.7000511332e+09
http_requests_created{handler="/metrics",method="GET",status="2xx"} 1.7000511336e+09
# HELP http_request_size_bytes Content length of incoming requests by handler. Only value of header is respected. Otherwise ignored. No percentile calculated. 
# TYPE http_request_size_bytes summary
http_request_size_bytes_count{handler="/items/{item_id}"} 3.0
http_request_size_bytes_sum{handler="/items/{item_id}"} 0.0
# HELP http_request_duration_highr_seconds Latency with many buckets but no API specific labels. Made for more accurate percentile calculations. 
# TYPE http_request_duration_highr_seconds histogram
http_request_duration_highr_seconds_bucket{le="0.01"} 14.0
http_request_duration_highr_seconds_bucket{le="0.025"} 15.0
http_request_duration_highr_seconds_bucket{le="0.05"} 15.0
http_request_duration_highr_seconds_bucket{le="0.1"} 15.0
http_request_duration_highr_seconds_bucket{le="1.0"} 15.0
http_request_duration_highr_seconds_bucket{le="10.0"} 15.0
http_request_duration_highr_seconds_bucket{le="+Inf"} 15.0
http_request_duration_highr_seconds_count 15.0
http_request_duration_highr_seconds_sum 0.031853675842285156
# HELP http_request_duration_seconds Latency with only few buckets by handler. Made to be only used if aggregation by handler is important. 
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{handler="/items/{item_id}",le="0.1",method="GET"} 3.0
http_request_duration_seconds_bucket{handler="/items/{item_id}",le="0.5",method="GET"} 3.0
http_request_duration_seconds_bucket{handler="/items/{item_id}",le="1.0",method="GET"} 3.0
http_request_duration_seconds_bucket{handler="/items/{item_id}",le="+Inf",method="GET"} 3.0
http_request_duration_seconds_count{handler="/items/{item_id}",method="GET"} 3.0
http_request_duration_seconds_sum{handler="/items/{item_id}",method="GET"} 0.0017910003662109375
"#;

    #[test]
    fn fastapi_body() {
        let items = parse_all(FASTAPI.as_bytes()).unwrap();
        let n = |f: fn(&Item) -> bool| items.iter().filter(|i| f(i)).count();
        assert_eq!(n(|i| matches!(i, Item::Series { .. })), 37);
        assert_eq!(n(|i| matches!(i, Item::Help(..))), 15);
        assert_eq!(n(|i| matches!(i, Item::Type(..))), 15);
        assert_eq!(items.len(), 67);

        assert_eq!(
            items[0],
            Item::Help(
                "python_gc_objects_collected_total".into(),
                "Objects collected during gc".into()
            )
        );
        assert_eq!(
            items[1],
            Item::Type(
                "python_gc_objects_collected_total".into(),
                MetricType::Counter
            )
        );
        assert!(items.contains(&Item::Help(
            "python_info".into(),
            "Python platform information".into()
        )));
        // The trailing blank of a help text is kept.
        assert!(items.contains(&Item::Help(
            "http_request_size_bytes".into(),
            "Content length of incoming requests by handler. Only value of header is \
             respected. Otherwise ignored. No percentile calculated. "
                .into()
        )));
        assert!(items.contains(&Item::Type(
            "http_request_size_bytes".into(),
            MetricType::Summary
        )));
        assert!(items.contains(&Item::Type(
            "http_request_duration_seconds".into(),
            MetricType::Histogram
        )));
        assert!(items.contains(&Item::Series {
            raw: r#"python_info{implementation="CPython",major="3",minor="11",patchlevel="6",version="3.11.6"}"#.into(),
            ts: None,
            v: 1.0,
            labels: labels(&[
                ("__name__", "python_info"),
                ("implementation", "CPython"),
                ("major", "3"),
                ("minor", "11"),
                ("patchlevel", "6"),
                ("version", "3.11.6"),
            ]),
        }));
        assert!(items.contains(&Item::Series {
            raw: r#"http_request_duration_seconds_bucket{handler="/items/{item_id}",le="+Inf",method="GET"}"#.into(),
            ts: None,
            v: 3.0,
            labels: labels(&[
                ("__name__", "http_request_duration_seconds_bucket"),
                ("handler", "/items/{item_id}"),
                ("le", "+Inf"),
                ("method", "GET"),
            ]),
        }));
        assert!(items.contains(&Item::Series {
            raw: "process_max_fds".into(),
            ts: None,
            v: 1048576.0,
            labels: labels(&[("__name__", "process_max_fds")]),
        }));
        assert!(items.contains(&Item::Series {
            raw: "http_request_duration_highr_seconds_sum".into(),
            ts: None,
            v: 0.031853675842285156,
            labels: labels(&[("__name__", "http_request_duration_highr_seconds_sum")]),
        }));
    }

    #[test]
    fn empty_and_blank_bodies() {
        assert_eq!(parse_all(b"").unwrap(), vec![]);
        assert_eq!(parse_all(b"\n\n  \n\t\n").unwrap(), vec![]);
        assert_eq!(parse_all(b"   ").unwrap(), vec![]);
        let mut p = PromParser::new(b"");
        assert_eq!(p.next(), Ok(None));
        assert_eq!(p.next(), Ok(None));
    }

    #[test]
    fn comments_and_metadata() {
        let body = "# just a comment\n#\n#no space\n# HELP\n# HELPx y\n#HELP a b\n\
                    # \tTYPE tc summary\n# HELP tc Has comments.\n# TYPE  tu untyped\n\
                    # HELP e1\n# HELP e2 \n# HELP e3    \n# HELP e4  two\n# HELP e5\ttab\n\
                    # HELP e6 say \"hi\"\n   # indented comment\n# trailing";
        let items = parse_all(body.as_bytes()).unwrap();
        let c = |x: &str| Item::Comment(x.into());
        let h = |m: &str, t: &str| Item::Help(m.into(), t.into());
        assert_eq!(
            items,
            vec![
                c("# just a comment"),
                c("#"),
                c("#no space"),
                c("# HELP"),
                c("# HELPx y"),
                c("#HELP a b"),
                Item::Type("tc".into(), MetricType::Summary),
                h("tc", "Has comments."),
                Item::Type("tu".into(), MetricType::Unknown),
                h("e1", ""),
                h("e2", ""),
                h("e3", ""),
                h("e4", " two"),
                h("e5", "tab"),
                h("e6", "say \"hi\""),
                c("# indented comment"),
                c("# trailing"),
            ]
        );
    }

    #[test]
    fn metric_types() {
        for (word, t) in [
            ("counter", MetricType::Counter),
            ("gauge", MetricType::Gauge),
            ("histogram", MetricType::Histogram),
            ("summary", MetricType::Summary),
            ("untyped", MetricType::Unknown),
        ] {
            let body = format!("# TYPE m {word}\n");
            assert_eq!(
                parse_all(body.as_bytes()).unwrap(),
                vec![Item::Type("m".into(), t)]
            );
        }
        for word in [
            "unknown",
            "gaugehistogram",
            "info",
            "stateset",
            "Counter",
            "counter ",
            " counter",
            "",
        ] {
            let body = format!("# TYPE m {word}\n");
            let e = err(body.as_bytes());
            assert_eq!(e.msg, format!("invalid metric type \"{word}\""), "{word:?}");
            assert_eq!(e.line, 1);
        }
        assert_eq!(MetricType::GaugeHistogram.as_str(), "gaugehistogram");
        assert_eq!(MetricType::StateSet.to_string(), "stateset");
        assert_eq!(MetricType::Unknown.as_str(), "unknown");
    }

    #[test]
    fn help_escapes() {
        let body = "# HELP h Line one\\nline two with \\\\ backslash, \\\"kept\\\" and \\x\n";
        let mut p = PromParser::new(body.as_bytes());
        assert_eq!(p.next(), Ok(Some(Entry::Help)));
        let (m, h) = p.help();
        assert_eq!(m, b"h");
        assert_eq!(
            h,
            "Line one\nline two with \\ backslash, \\\"kept\\\" and \\x"
        );
        // No escape: borrowed from the body.
        let mut p = PromParser::new(b"# HELP h plain text\n");
        p.next().unwrap();
        assert!(matches!(p.help().1, Cow::Borrowed("plain text")));
        // UTF-8 and NUL are fine in help text.
        let mut p = PromParser::new("# HELP h héllo\0x\n".as_bytes());
        p.next().unwrap();
        assert_eq!(p.help().1, "héllo\0x");
    }

    #[test]
    fn label_escapes() {
        let (raw, _, _, l) =
            one(r#"tle{a="q\"uote",b="back\\slash",c="new\nline",d="tab\t",e="\\n",f="x\\"} 1"#);
        assert_eq!(
            raw,
            r#"tle{a="q\"uote",b="back\\slash",c="new\nline",d="tab\t",e="\\n",f="x\\"}"#
        );
        assert_eq!(
            l,
            labels(&[
                ("__name__", "tle"),
                ("a", "q\"uote"),
                ("b", "back\\slash"),
                ("c", "new\nline"),
                ("d", "tab\\t"),
                ("e", "\\n"),
                ("f", "x\\"),
            ])
        );
        let (_, _, _, l) = one("u{city=\"서울\",emoji=\"✓\",nul=\"a\0b\",empty=\"\"} 1\n");
        assert_eq!(
            l,
            labels(&[
                ("__name__", "u"),
                ("city", "서울"),
                ("emoji", "✓"),
                ("nul", "a\0b"),
                ("empty", ""),
            ])
        );
        // `{` `}` `,` `#` inside label values.
        let (_, _, v, l) = one(r#"m{a="{x},y # z"} 2"#);
        assert_eq!(v, 2.0);
        assert_eq!(l, labels(&[("__name__", "m"), ("a", "{x},y # z")]));
    }

    #[test]
    fn whitespace_and_commas() {
        let ab = labels(&[("__name__", "g"), ("q", "1.0"), ("a", "b")]);
        for body in [
            r#"g{q="1.0",a="b"} 8"#,
            r#"g{q="1.0",a="b",} 8"#,
            r#"g{q="1.0", a="b"} 8"#,
            r#"g{ q="1.0", a="b" } 8"#,
            r#"g { q="1.0", a="b" } 8"#,
            r#"g { q= "1.0", a= "b", } 8"#,
            r#"g { q = "1.0" , a = "b" } 8"#,
            r#"g { q = "1.0" a = "b" } 8"#,
            "g{q=\"1.0\"a=\"b\"}8",
            "\t g{\tq=\"1.0\",a=\"b\"}\t8 \t",
            "g{q=\"1.0\",a=\"b\"} 8 \n",
        ] {
            let (_, ts, v, l) = one(body);
            assert_eq!((ts, v), (None, 8.0), "{body:?}");
            assert_eq!(l, ab, "{body:?}");
        }
        let (raw, _, _, _) = one("  g { q=\"1.0\" }  8  ");
        assert_eq!(raw, "g { q=\"1.0\" }");
        let (raw, ts, v, l) = one("tel{} 3\n");
        assert_eq!((raw.as_str(), ts, v), ("tel{}", None, 3.0));
        assert_eq!(l, labels(&[("__name__", "tel")]));
        let (raw, ts, v, _) = one("ttab\t6\t1700000000000\n");
        assert_eq!((raw.as_str(), ts, v), ("ttab", Some(1700000000000), 6.0));
        let (raw, _, _, l) = one("some:aggregate:rate5m{a_b=\"c\"}\t1");
        assert_eq!(raw, "some:aggregate:rate5m{a_b=\"c\"}");
        assert_eq!(
            l,
            labels(&[("__name__", "some:aggregate:rate5m"), ("a_b", "c")])
        );
        let (_, _, _, l) = one("_m{_l=\"x\",L9=\"y\"} 1");
        assert_eq!(l, labels(&[("__name__", "_m"), ("_l", "x"), ("L9", "y")]));
    }

    #[test]
    fn values() {
        let ok: &[(&str, f64)] = &[
            ("1", 1.0),
            ("-3", -3.0),
            ("+3", 3.0),
            ("1.", 1.0),
            (".5", 0.5),
            ("1.5e3", 1500.0),
            ("-2E-2", -0.02),
            ("1e+2", 100.0),
            ("3.0e-300", 3.0e-300),
            ("1e-400", 0.0),
            ("0001.50", 1.5),
            ("12345678901234567890", 12345678901234567890.0),
            (
                "123456789012345678901234567890123456789012345678901234567890",
                1.2345678901234568e59,
            ),
            ("+Inf", f64::INFINITY),
            ("-Inf", f64::NEG_INFINITY),
            ("Inf", f64::INFINITY),
            ("inf", f64::INFINITY),
            ("+INF", f64::INFINITY),
            ("infinity", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("1.7976931348623157e308", f64::MAX),
        ];
        for (tok, want) in ok {
            let (_, _, v, _) = one(&format!("m {tok}\n"));
            assert_eq!(v.to_bits(), want.to_bits(), "{tok}");
        }
        for tok in ["NaN", "nan", "NAN", "nAn"] {
            let (_, _, v, _) = one(&format!("m {tok}\n"));
            assert_eq!(v.to_bits(), NORMAL_NAN_BITS, "{tok}");
        }
        let syntax = |t: &str| format!("strconv.ParseFloat: parsing \"{t}\": invalid syntax");
        let bad: &[(&str, String)] = &[
            ("abc", syntax("abc")),
            ("true", syntax("true")),
            ("1e", syntax("1e")),
            ("1e+", syntax("1e+")),
            (".", syntax(".")),
            ("-", syntax("-")),
            ("--1", syntax("--1")),
            ("1.2.3", syntax("1.2.3")),
            ("+nan", syntax("+nan")),
            ("-NaN", syntax("-NaN")),
            ("infin", syntax("infin")),
            ("Infinityy", syntax("Infinityy")),
            ("0x10", syntax("0x10")),
            ("1}", syntax("1}")),
            ("1,5", syntax("1,5")),
            ("1_2", "unsupported character in float".into()),
            ("0x1p-3", "unsupported character in float".into()),
            ("0x1P-3", "unsupported character in float".into()),
            ("nope", "unsupported character in float".into()),
            (
                "1e400",
                "strconv.ParseFloat: parsing \"1e400\": value out of range".into(),
            ),
            (
                "-1e400",
                "strconv.ParseFloat: parsing \"-1e400\": value out of range".into(),
            ),
            (
                "1\r",
                "strconv.ParseFloat: parsing \"1\\r\": invalid syntax".into(),
            ),
            (
                "\u{e9}\u{ff}",
                "strconv.ParseFloat: parsing \"éÿ\": invalid syntax".into(),
            ),
        ];
        for (tok, msg) in bad {
            let e = err(format!("good 1\nm {tok}\n").as_bytes());
            assert_eq!((e.line, e.msg.as_str()), (2, msg.as_str()), "{tok:?}");
        }
        let e = err(b"m \xff\xfe1\n");
        assert_eq!(
            e.msg,
            "strconv.ParseFloat: parsing \"\\xff\\xfe1\": invalid syntax"
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(one("m 1 0").1, Some(0));
        assert_eq!(one("m 1 123123\n").1, Some(123123));
        assert_eq!(one("m 1 00042\n").1, Some(42));
        assert_eq!(one("m 1 -5\n").1, Some(-5));
        assert_eq!(one("m 1 9223372036854775807").1, Some(i64::MAX));
        assert_eq!(one("m 1 -9223372036854775808").1, Some(i64::MIN));
        assert_eq!(one("m{a=\"b\"} 33  \t123123  ").1, Some(123123));
        let e = err(b"m 1 9223372036854775808\n");
        assert_eq!(
            e.msg,
            "strconv.ParseInt: parsing \"9223372036854775808\": value out of range"
        );
        for (body, msg) in [
            (
                "m 1 notatime",
                "expected timestamp or new record, got \"INVALID\"",
            ),
            (
                "m 1 1.5",
                "expected next entry after timestamp, got \"INVALID\"",
            ),
            (
                "m 1 1e3",
                "expected next entry after timestamp, got \"INVALID\"",
            ),
            (
                "m 1 2 3",
                "expected next entry after timestamp, got \"TIMESTAMP\"",
            ),
            (
                "m 1 2 -3",
                "expected next entry after timestamp, got \"TIMESTAMP\"",
            ),
            (
                "m 1 +5",
                "expected timestamp or new record, got \"INVALID\"",
            ),
            (
                "m 1 - 5",
                "expected timestamp or new record, got \"INVALID\"",
            ),
            ("m 1 {", "expected timestamp or new record, got \"INVALID\""),
            (
                "m 1{a=\"b\"}",
                "expected timestamp or new record, got \"INVALID\"",
            ),
            (
                "m 1 2{",
                "expected next entry after timestamp, got \"INVALID\"",
            ),
            (
                "m 0 1_2\n",
                "expected next entry after timestamp, got \"INVALID\"",
            ),
            (
                "m 0 1\0",
                "expected next entry after timestamp, got \"INVALID\"",
            ),
            ("m 1\0", "expected timestamp or new record, got \"INVALID\""),
        ] {
            let e = err(body.as_bytes());
            assert_eq!((e.line, e.msg.as_str()), (1, msg), "{body:?}");
        }
    }

    #[test]
    fn errors_with_lines() {
        let cases: &[(&[u8], usize, &str)] = &[
            (b"a", 1, "expected value after metric, got \"INVALID\""),
            (b"a\n", 1, "expected value after metric, got \"INVALID\""),
            (
                b"ok 1\nbad_mv\n",
                2,
                "expected value after metric, got \"INVALID\"",
            ),
            (b"a{b='c'} 1\n", 1, "expected label value, got \"INVALID\""),
            (b"a{b=c} 1\n", 1, "expected label value, got \"INVALID\""),
            (b"a{b=\n", 1, "expected label value, got \"INVALID\""),
            (b"a{b=\"c} 1\n", 1, "expected label value, got \"INVALID\""),
            (
                b"a{b=\"x\\\ny\"} 1\n",
                1,
                "expected label value, got \"INVALID\"",
            ),
            (
                b"a{b=\0\"ssss\"} 1\n",
                1,
                "expected label value, got \"INVALID\"",
            ),
            (
                b"something_weird{problem=\"",
                1,
                "expected label value, got \"INVALID\"",
            ),
            (
                b"a{\xff=\"foo\"} 1\n",
                1,
                "expected label name, got \"INVALID\"",
            ),
            (
                b"a{0a=\"1\"} 1\n",
                1,
                "expected label name, got \"INVALID\"",
            ),
            (
                b"a{\"b\"=\"1\"} 1\n",
                1,
                "expected label name, got \"INVALID\"",
            ),
            (b"a{=\"\"} 0", 1, "expected label name, got \"EQUAL\""),
            (b"a{,} 0", 1, "expected label name, got \"COMMA\""),
            (b"a{b=\"c\",,} 1", 1, "expected label name, got \"COMMA\""),
            (b"a{b=\"c\"=} 1", 1, "expected label name, got \"EQUAL\""),
            (b"a{b=\"c\"\n} 1", 1, "expected label name, got \"INVALID\""),
            (b"a{b=\"c\"", 1, "expected label name, got \"INVALID\""),
            (b"a{b c=\"d\"} 1", 1, "expected equal, got \"LNAME\""),
            (b"a{b} 1", 1, "expected equal, got \"BCLOSE\""),
            (b"a{b,} 1", 1, "expected equal, got \"COMMA\""),
            (b"a{b-c=\"d\"} 1", 1, "expected equal, got \"INVALID\""),
            (b"a{b\0=\"hiih\"}\t1", 1, "expected equal, got \"INVALID\""),
            (
                b"a\0{b=\"ddd\"} 1",
                1,
                "expected value after metric, got \"INVALID\"",
            ),
            (b"a{} {} 1", 1, "expected value after metric, got \"BOPEN\""),
            (b"a{}{} 1", 1, "expected value after metric, got \"BOPEN\""),
            (b"a{}", 1, "expected value after metric, got \"INVALID\""),
            (b"a \n", 1, "expected value after metric, got \"INVALID\""),
            (b"{a=\"ok\"} 1", 1, "\"INVALID\" is not a valid start token"),
            (b"0bad 1\n", 1, "\"INVALID\" is not a valid start token"),
            (b"ok 1\n9\n", 2, "\"INVALID\" is not a valid start token"),
            (b"ok 1\n-x 1\n", 2, "\"INVALID\" is not a valid start token"),
            (
                b"ok 1\n\xc3\xa9 1\n",
                2,
                "\"INVALID\" is not a valid start token",
            ),
            (b"<html>\n", 1, "\"INVALID\" is not a valid start token"),
            (
                b"# TYPE #\n",
                1,
                "expected metric name after TYPE, got \"INVALID\"",
            ),
            (
                b"# HELP #\n",
                1,
                "expected metric name after HELP, got \"INVALID\"",
            ),
            (
                b"# HELP \n",
                1,
                "expected metric name after HELP, got \"INVALID\"",
            ),
            (
                b"# TYPE 9a counter\n",
                1,
                "expected metric name after TYPE, got \"INVALID\"",
            ),
            (
                b"# TYPE good_before nonsense\ngood_before 1\n",
                1,
                "invalid metric type \"nonsense\"",
            ),
            (
                b"# TYPE a-b counter\n",
                1,
                "invalid metric type \"b counter\"",
            ),
            (b"a{b=\"\xff\"} 1\n", 1, "invalid UTF-8 label value"),
            (
                b"# HELP a \xff\n",
                1,
                "help text \"\\xff\" is not a valid utf8 string",
            ),
            (
                b"bad_dl{a=\"1\",a=\"2\"} 1\n",
                1,
                "label name \"a\" is not unique: invalid sample",
            ),
            (
                b"a{b=\"1\",c=\"\",b=\"\"} 1\n",
                1,
                "label name \"b\" is not unique: invalid sample",
            ),
            (
                b"a{__name__=\"a\"} 1\n",
                1,
                "label name \"__name__\" is not unique: invalid sample",
            ),
            (
                b"a 1\nb 2\n\nc{ 3\n",
                4,
                "expected label name, got \"INVALID\"",
            ),
            (
                b"a{b=\"x\ny\"} 1 z\n",
                2,
                "expected timestamp or new record, got \"INVALID\"",
            ),
            (
                b"# c\n# HELP h t\n# TYPE h gauge\nh 1\n\n\nh{} x\n",
                7,
                "strconv.ParseFloat: parsing \"x\": invalid syntax",
            ),
        ];
        for (body, line, msg) in cases {
            let e = err(body);
            assert_eq!((e.line, e.msg.as_str()), (*line, *msg), "{:?}", s(body));
            assert_eq!(e.to_string(), format!("line {line}: {msg}"));
        }
    }

    #[test]
    fn crlf_is_rejected() {
        let cases: &[(&[u8], usize, &str)] = &[
            (
                b"tcr_metric 1\r\ntcr_other 2\r\n",
                1,
                "strconv.ParseFloat: parsing \"1\\r\": invalid syntax",
            ),
            (
                b"m 1 2\r\n",
                1,
                "expected next entry after timestamp, got \"INVALID\"",
            ),
            (
                b"m{a=\"b\"} 1 \r\n",
                1,
                "expected timestamp or new record, got \"INVALID\"",
            ),
            (b"m 1\n\r\n", 2, "\"INVALID\" is not a valid start token"),
            (
                b"# TYPE m counter\r\nm 1\r\n",
                1,
                "invalid metric type \"counter\\r\"",
            ),
            (
                b"m{a=\"b\"\r\n} 1",
                1,
                "expected label name, got \"INVALID\"",
            ),
        ];
        for (body, line, msg) in cases {
            let e = err(body);
            assert_eq!((e.line, e.msg.as_str()), (*line, *msg), "{:?}", s(body));
        }
        // A CR in help text or a comment is just text, as in Prometheus.
        assert_eq!(
            parse_all(b"# HELP m x\r\n# c\r\n").unwrap(),
            vec![
                Item::Help("m".into(), "x\r".into()),
                Item::Comment("# c\r".into())
            ]
        );
    }

    #[test]
    fn nul_bytes() {
        // A NUL where a line starts fails the body (Prometheus would drop
        // the rest silently), unless it is only NUL padding at the end.
        assert!(parse_all(b"a 1\n\0garbage {{{\n").is_err());
        assert!(parse_all(b"a 1\n  \0\nb 2\n").is_err());
        assert_eq!(series("a 1\n\0\0").len(), 1);
        assert_eq!(parse_all(b"\0").unwrap(), vec![]);
        // Allowed in label values.
        for body in [
            "null_byte_metric{a=\"abc\0\"} 1",
            "a{b=\"\0ss\"} 1\n",
            "a{b=\"\0\"} 1\n",
        ] {
            assert_eq!(series(body).len(), 1, "{body:?}");
        }
        let e = err(b"a{b=\"\0");
        assert_eq!(e.msg, "expected label value, got \"INVALID\"");
    }

    #[test]
    fn lexer_quirks_match_prometheus() {
        // The name ends at the first byte that cannot continue it; what
        // follows is the value token.
        let (raw, _, v, _) = one("a-1\n");
        assert_eq!((raw.as_str(), v), ("a", -1.0));
        let (_, _, v, _) = one("a{}1\n");
        assert_eq!(v, 1.0);
        let e = err(b"my.metric 1\n");
        assert_eq!(
            e.msg,
            "strconv.ParseFloat: parsing \".metric\": invalid syntax"
        );
        // HELP/TYPE drop the first byte after the name, whatever it is.
        assert_eq!(
            parse_all(b"# HELP a.b text\n").unwrap(),
            vec![Item::Help("a".into(), "b text".into())]
        );
    }

    #[test]
    fn newline_in_label_value_is_accepted() {
        let items = series("a{b=\"x\ny\"} 1\nc 2 3\n");
        assert_eq!(items.len(), 2);
        assert!(matches!(&items[0], Item::Series { labels, .. } if labels[1].1 == "x\ny"));
    }

    #[test]
    fn accepted_bodies() {
        // Cases from the end-to-end exposition check, by name.
        let now = 1_700_000_000_000i64;
        let cases: Vec<(&str, String, usize)> = vec![
            ("basic_counter", "# HELP tb_requests_total Requests.\n# TYPE tb_requests_total counter\ntb_requests_total 5\n".into(), 1),
            ("missing_type", "tnt_metric{a=\"1\"} 3\ntnt_other 4\n".into(), 2),
            ("timestamps", format!("tts_metric 7 {}\n", now - 10000), 1),
            ("special_values", "tsv_nan NaN\ntsv_pinf +Inf\ntsv_ninf -Inf\n".into(), 3),
            ("trailing_spaces", "tts2_metric 4   \ntts2_other{a=\"b\"} 5 \t\n".into(), 2),
            ("no_final_newline", "tnf_metric 6".into(), 1),
            ("duplicate_series", "tdup_metric 1\ntdup_metric 2\n".into(), 2),
            ("label_trailing_comma", "ttc_metric{a=\"1\",} 1\n".into(), 1),
            ("untyped_type", "# TYPE tut_metric untyped\ntut_metric 1\n".into(), 1),
            ("colon_in_name", "tcol:metric:rate5m 2\n".into(), 1),
            ("negative_and_int", "tneg_metric -3\ntbig_metric 12345678901234567890\n".into(), 2),
            ("histogram", "# HELP thist Request latency.\n# TYPE thist histogram\nthist_bucket{le=\"0.1\"} 1\nthist_bucket{le=\"0.5\"} 2\nthist_bucket{le=\"+Inf\"} 3\nthist_sum 0.9\nthist_count 3\n".into(), 5),
            ("summary", "# TYPE tsum summary\ntsum{quantile=\"0.5\"} 0.2\ntsum{quantile=\"0.99\"} 0.9\ntsum_sum 5\ntsum_count 10\n".into(), 4),
            ("empty_body", String::new(), 0),
        ];
        for (name, body, n) in cases {
            assert_eq!(series(&body).len(), n, "{name}");
        }
        let long_val = "x".repeat(65536);
        let many: Vec<String> = (0..100).map(|i| format!("l{i:03}=\"v{i:03}\"")).collect();
        let body = format!(
            "tlong_metric{{big=\"{long_val}\"}} 1\ntmany_metric{{{}}} 2\n",
            many.join(",")
        );
        let items = series(&body);
        match &items[..] {
            [Item::Series { labels: a, .. }, Item::Series { labels: b, .. }] => {
                assert_eq!(a[1].1, long_val);
                assert_eq!(b.len(), 101);
                assert_eq!(b[100], ("l099".to_string(), "v099".to_string()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_is_sticky_and_accessors_never_panic() {
        let mut p = PromParser::new(b"a 1\nb x\nc 3\n");
        // Accessors before any entry.
        let _ = p.series();
        let _ = p.help();
        let _ = p.metric_type();
        let mut out = Vec::new();
        p.labels(&mut out);
        assert_eq!(p.next(), Ok(Some(Entry::Series)));
        let first = p.next().unwrap_err();
        assert_eq!(first.line, 2);
        assert_eq!(p.next(), Err(first.clone()));
        assert_eq!(p.next(), Err(first));
    }

    #[test]
    fn labels_buffer_is_reused() {
        let mut p = PromParser::new(b"a{x=\"1\",y=\"2\"} 1\nb 2\n");
        let mut out = Vec::new();
        p.next().unwrap();
        p.labels(&mut out);
        assert_eq!(out.len(), 3);
        p.next().unwrap();
        p.labels(&mut out);
        assert_eq!(out, labels(&[("__name__", "b")]));
        assert_eq!(p.next(), Ok(None));
        assert_eq!(p.next(), Ok(None));
    }

    #[test]
    fn go_quote_matches_go() {
        assert_eq!(
            go_quote(b"a\"b\\c\n\r\t\0\x07\x7f"),
            r#""a\"b\\c\n\r\t\x00\a\x7f""#
        );
        assert_eq!(go_quote("é✓\u{85}".as_bytes()), "\"é✓\\u0085\"");
        assert_eq!(go_quote(b"\xe2\x82x\xff"), r#""\xe2\x82x\xff""#);
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        /// Fragments that reach deep into the grammar when concatenated.
        fn fragment() -> impl Strategy<Value = &'static [u8]> {
            prop::sample::select(vec![
                &b"a"[..],
                b"m_1",
                b":",
                b"{",
                b"}",
                b"=",
                b",",
                b"\"",
                b"\\",
                b" ",
                b"\t",
                b"\n",
                b"\r",
                b"\0",
                b"#",
                b"# HELP ",
                b"# TYPE ",
                b"counter",
                b"untyped",
                b"1",
                b"-1",
                b"1.5e3",
                b"NaN",
                b"+Inf",
                b"9",
                b"-",
                b"e",
                b"_",
                b"p",
                b"\xc3\xa9",
                b"\xff",
                b"__name__",
                b"le=\"+Inf\"",
            ])
        }

        /// Sample lines from a few names, separators and label sets, so
        /// that one line is often a prefix of another; some are invalid.
        fn line() -> impl Strategy<Value = String> {
            let pick = |xs: &'static [&'static str]| prop::sample::select(xs.to_vec());
            (
                pick(&[
                    "a",
                    "ab",
                    "a_b",
                    "le",
                    "# TYPE a histogram\n",
                    "# TYPE a_b gauge\n",
                ]),
                pick(&["", " ", "\t"]),
                pick(&[
                    "",
                    "{}",
                    "{x=\"1\"}",
                    "{x=\"1\",}",
                    "{x=\"}\"}",
                    "{x=\"1\",y=\"2\"}",
                    "{x=\"1\" , y=\"\\\"\"}",
                    "{le=\"1\"}",
                    "{x=\"1\",x=\"2\"}",
                    "{x=1}",
                    "{",
                ]),
                pick(&["", " ", "  ", "\t"]),
                pick(&["1", "1x", "NaN", "-Inf", "2.5", ""]),
                pick(&["", " 1000", " x", "\r"]),
            )
                .prop_map(|(n, s1, l, s2, v, t)| {
                    if n.starts_with('#') {
                        n.to_string()
                    } else {
                        format!("{n}{s1}{l}{s2}{v}{t}\n")
                    }
                })
        }

        fn drain(body: &[u8]) {
            let mut p = PromParser::new(body);
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
                    }
                    Ok(Some(_)) => {
                        let _ = p.help();
                        let _ = p.metric_type();
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

        fn print_value(v: f64, debug: bool) -> String {
            match (v.is_nan(), v.is_infinite(), debug) {
                (true, _, _) => "NaN".into(),
                (_, true, true) => if v > 0.0 { "+Inf" } else { "-Inf" }.into(),
                (_, _, true) => format!("{v:?}"),
                _ => format!("{v}"),
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
            fn short_decimals_parse_as_the_full_parser_does(tok in "[+-]?[0-9]{0,9}[.]?[0-9]{0,9}") {
                let full = tok.parse::<f64>().ok();
                if let Some(v) = exact_decimal(tok.as_bytes()) {
                    prop_assert_eq!(Some(v.to_bits()), full.map(f64::to_bits));
                }
                // what the shortcut declines is left to the full parse
                let digits = tok.bytes().filter(u8::is_ascii_digit).count();
                prop_assert_eq!(exact_decimal(tok.as_bytes()).is_some(), (1..=15).contains(&digits));
            }

            #[test]
            fn hints_from_any_body_change_nothing(
                a in prop::collection::vec(line(), 0..12),
                b in prop::collection::vec(line(), 0..12),
            ) {
                let (a, b) = (a.concat().into_bytes(), b.concat().into_bytes());
                same_with_hints(&a, &raws(&a));
                same_with_hints(&a, &raws(&b));
                let mut both = raws(&b);
                both.extend(raws(&a));
                same_with_hints(&a, &both);
            }

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
                ts in prop::option::of(any::<i64>()),
                debug in any::<bool>(),
                pad in "[ \t]{0,2}",
                trailing_comma in any::<bool>(),
                newline in any::<bool>(),
            ) {
                let raw_labels: Vec<(String, String)> =
                    raw_labels.into_iter().filter(|(k, _)| k != "__name__").collect();
                let mut series = name.clone();
                if !raw_labels.is_empty() || trailing_comma {
                    series.push('{');
                    let parts: Vec<String> = raw_labels
                        .iter()
                        .map(|(k, v)| format!("{k}{pad}={pad}\"{}\"", escape(v)))
                        .collect();
                    series.push_str(&parts.join(&format!(",{pad}")));
                    if trailing_comma && !raw_labels.is_empty() {
                        series.push(',');
                    }
                    series.push('}');
                }
                let mut line = format!("{series} {}", print_value(v, debug));
                if let Some(ts) = ts {
                    line.push_str(&format!("{pad} {ts}"));
                }
                line.push_str(&pad);
                let body = format!("# HELP {name} some help\n# TYPE {name} gauge\n{line}{}",
                    if newline { "\n" } else { "" });

                let mut p = PromParser::new(body.as_bytes());
                prop_assert_eq!(p.next(), Ok(Some(Entry::Help)));
                prop_assert_eq!(p.help(), (name.as_bytes(), Cow::Borrowed("some help")));
                prop_assert_eq!(p.next(), Ok(Some(Entry::Type)));
                prop_assert_eq!(p.metric_type(), (name.as_bytes(), MetricType::Gauge));
                prop_assert_eq!(p.next(), Ok(Some(Entry::Series)));
                let (raw, got_ts, got_v) = p.series();
                prop_assert_eq!(raw, series.as_bytes());
                prop_assert_eq!(got_ts, ts);
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
                prop_assert_eq!(p.next(), Ok(None));
            }
        }
    }
}
