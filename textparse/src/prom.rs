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

/// The first `n` bytes of `i` as a name token (none is a failure).
fn name_token(i: &[u8], n: usize) -> Res<'_, &[u8]> {
    match n {
        0 => Err(no_token(i)),
        n => Ok((&i[n..], &i[..n])),
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn metric_name(i: &[u8]) -> Res<'_, &[u8]> {
    name_token(i, metric_name_len(i))
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn label_name(i: &[u8]) -> Res<'_, &[u8]> {
    name_token(i, label_name_len(i))
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

/// A timestamp token beyond `i64`, as Go's `strconv.ParseInt` says it.
#[derive(Debug, thiserror::Error)]
#[error("strconv.ParseInt: parsing {}: value out of range", go_quote(.0))]
struct TimestampRange(Vec<u8>);

/// Parses a timestamp token (already `-?[0-9]+`) as Go's `strconv.ParseInt`.
fn parse_timestamp(tok: &[u8]) -> Result<i64, TimestampRange> {
    std::str::from_utf8(tok)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| TimestampRange(tok.to_vec()))
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
/// use textparse::{Entry, PromParser};
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
        self.value = parse_value(tok).map_err(|m| self.error_at(value_pos, m.to_string()))?;
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
        self.ts = Some(parse_timestamp(tok).map_err(|m| self.error_at(ts_pos, m.to_string()))?);

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
mod tests;
