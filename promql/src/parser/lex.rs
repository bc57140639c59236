//! The PromQL lexer: turns query text into tokens with byte positions.

use super::ast::BinaryOp;

mod values;

use values::{duration_value, number_value};

/// A token kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// An identifier or keyword (may contain `:`).
    Ident(String),
    /// A number literal.
    Number(f64),
    /// A duration literal in milliseconds.
    Duration(i64),
    /// A string literal, unescaped.
    Str(String),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `=`
    Assign,
    /// `=~`
    EqlRegex,
    /// `!~`
    NeqRegex,
    /// `@`
    At,
    /// An operator symbol (`+`, `==`, ...).
    Op(BinaryOp),
    /// End of input.
    Eof,
    /// A lexing error at this position; no tokens follow.
    Error(String),
}

/// A token with the byte range it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// The kind and payload.
    pub tok: Tok,
    /// Byte offset of the first character.
    pub pos: usize,
    /// The source text.
    pub text: String,
}

impl Token {
    /// How the token reads in an error message ("unexpected ...").
    pub fn describe(&self) -> String {
        match &self.tok {
            Tok::Eof => "end of input".to_string(),
            Tok::Ident(s) => {
                let l = s.to_ascii_lowercase();
                if super::ast::AggregateOp::from_name(&l).is_some() {
                    format!("<aggr:{s}>")
                } else if matches!(l.as_str(), "and" | "or" | "unless" | "atan2") {
                    format!("<op:{s}>")
                } else if matches!(
                    l.as_str(),
                    "by" | "without"
                        | "on"
                        | "ignoring"
                        | "group_left"
                        | "group_right"
                        | "bool"
                        | "offset"
                        | "smoothed"
                        | "anchored"
                ) {
                    format!("<{s}>")
                } else {
                    format!("identifier {:?}", s)
                }
            }
            Tok::Number(_) => format!("number {:?}", self.text),
            Tok::Duration(_) => format!("duration {:?}", self.text),
            Tok::Str(_) => format!("string {:?}", self.text),
            Tok::Op(op) => format!("<op:{}>", op.as_str()),
            Tok::EqlRegex | Tok::NeqRegex => format!("<op:{}>", self.text),
            Tok::At => "<op:@>".to_string(),
            Tok::Error(msg) => msg.clone(),
            _ => format!("{:?}", self.text),
        }
    }
}

/// A lexing error at a byte offset.
#[derive(Debug, PartialEq)]
pub struct LexError {
    /// Byte offset.
    pub pos: usize,
    /// What is wrong.
    pub msg: String,
}

/// Splits `src` into tokens, ending with [`Tok::Eof`], or the first
/// lexing error.
pub fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let mut toks = tokens(src);
    match toks.last().map(|t| &t.tok) {
        Some(Tok::Error(_)) => {
            let t = toks.pop().expect("not empty");
            let Tok::Error(msg) = t.tok else {
                unreachable!()
            };
            Err(LexError { pos: t.pos, msg })
        }
        _ => Ok(toks),
    }
}

/// Splits `src` into tokens, ending with [`Tok::Eof`] or, at the first
/// lexing error, with a [`Tok::Error`].
pub fn tokens(src: &str) -> Vec<Token> {
    let mut lx = Lexer {
        src,
        b: src.as_bytes(),
        i: 0,
        out: Vec::new(),
        paren_depth: 0,
        brace_open: false,
        bracket_open: false,
        duration_expr: false,
        got_colon: false,
        got_duration: false,
        backup_one: false,
    };
    lx.run();
    lx.out
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    i: usize,
    out: Vec<Token>,
    /// Open `(`.
    paren_depth: usize,
    /// Inside `{...}`.
    brace_open: bool,
    /// Inside `[...]`.
    bracket_open: bool,
    /// Right after `[`, before its first number or duration.
    duration_expr: bool,
    /// A `:` was seen inside the brackets.
    got_colon: bool,
    /// A number or duration was seen inside the brackets.
    got_duration: bool,
    /// The last duration scan read one character past the duration.
    backup_one: bool,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

pub(super) fn unit_ms(u: &str) -> Option<i64> {
    Some(match u {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        "y" => 365 * 86_400_000,
        _ => return None,
    })
}

/// Parses a duration such as `1h30m` into milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    let mut last_unit = i64::MAX;
    if b.is_empty() {
        return None;
    }
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let n: i64 = s[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let u = unit_ms(&s[ustart..i])?;
        if u >= last_unit {
            return None; // units must decrease
        }
        last_unit = u;
        total = total.checked_add(n.checked_mul(u)?)?;
    }
    Some(total)
}

impl Lexer<'_> {
    fn push(&mut self, tok: Tok, start: usize) {
        self.out.push(Token {
            tok,
            pos: start,
            text: self.src[start..self.i].to_string(),
        });
    }

    fn peek(&self, off: usize) -> u8 {
        self.b.get(self.i + off).copied().unwrap_or(0)
    }

    /// The character at byte `at`, quoted as Go's `%q` quotes a rune.
    fn quoted_char(&self, at: usize) -> String {
        let ch = self.src[at..].chars().next().unwrap_or('\u{fffd}');
        format!("{ch:?}")
    }

    fn fail(&self, pos: usize, msg: String) -> Result<(), LexError> {
        Err(LexError { pos, msg })
    }

    /// Lexes until the end or the first error, which ends the tokens as a
    /// [`Tok::Error`] (the parser reports it when it gets there, so an
    /// error earlier in the query is reported first, as in Prometheus).
    fn run(&mut self) {
        let end = match self.run_inner() {
            Ok(()) => Token {
                tok: Tok::Eof,
                pos: self.b.len(),
                text: String::new(),
            },
            Err(e) => Token {
                tok: Tok::Error(e.msg),
                pos: e.pos,
                text: String::new(),
            },
        };
        self.out.push(end);
    }

    fn skip_comment(&mut self) {
        while self.i < self.b.len() && self.b[self.i] != b'\n' {
            self.i += 1;
        }
    }

    fn run_inner(&mut self) -> Result<(), LexError> {
        loop {
            if self.brace_open {
                self.inside_braces()?;
                continue;
            }
            if self.duration_expr {
                self.in_duration_expr()?;
                continue;
            }
            let start = self.i;
            let Some(&c) = self.b.get(self.i) else {
                if self.paren_depth > 0 {
                    return self.fail(start, "unclosed left parenthesis".into());
                }
                if self.bracket_open {
                    return self.fail(start, "unclosed left bracket".into());
                }
                return Ok(());
            };
            if c.is_ascii_whitespace() {
                self.i += 1;
                continue;
            }
            if c == b'#' {
                self.skip_comment();
                continue;
            }
            if c.is_ascii_digit() || (c == b'.' && self.peek(1).is_ascii_digit()) {
                self.number_or_duration()?;
                continue;
            }
            if is_ident_start(c) || c == b':' {
                if self.bracket_open {
                    if c == b':' {
                        if self.got_colon {
                            return self.fail(start, "unexpected colon ':'".into());
                        }
                        self.i += 1;
                        self.got_colon = true;
                        self.push(Tok::Colon, start);
                        continue;
                    }
                    if self.duration_keyword() {
                        continue;
                    }
                    return self.fail(
                        start,
                        format!(
                            "unexpected character: {}, expected ':'",
                            self.quoted_char(start)
                        ),
                    );
                }
                while self.i < self.b.len() && is_ident_char(self.b[self.i]) {
                    self.i += 1;
                }
                let text = &self.src[start..self.i];
                let l = text.to_ascii_lowercase();
                if l == "inf" || l == "nan" {
                    let v = if l == "inf" { f64::INFINITY } else { f64::NAN };
                    self.push(Tok::Number(v), start);
                } else {
                    self.push(Tok::Ident(text.to_string()), start);
                }
                continue;
            }
            if c == b'"' || c == b'\'' || c == b'`' {
                let s = self.string(c)?;
                self.push(Tok::Str(s), start);
                continue;
            }
            let two = [c, self.peek(1)];
            let (tok, len) = match &two {
                b"==" => (Tok::Op(BinaryOp::Eql), 2),
                b"!=" => (Tok::Op(BinaryOp::Neq), 2),
                b">=" => (Tok::Op(BinaryOp::Gte), 2),
                b"<=" => (Tok::Op(BinaryOp::Lte), 2),
                b"</" => (Tok::Op(BinaryOp::TrimUpper), 2),
                b">/" => (Tok::Op(BinaryOp::TrimLower), 2),
                b"=~" => return self.fail(start, "unexpected character after '=': '~'".into()),
                _ => match c {
                    b'!' => {
                        let q = if self.i + 1 < self.b.len() {
                            self.quoted_char(self.i + 1)
                        } else {
                            "'\u{fffd}'".to_string()
                        };
                        return self.fail(start, format!("unexpected character after '!': {q}"));
                    }
                    b'+' => (Tok::Op(BinaryOp::Add), 1),
                    b'-' => (Tok::Op(BinaryOp::Sub), 1),
                    b'*' => (Tok::Op(BinaryOp::Mul), 1),
                    b'/' => (Tok::Op(BinaryOp::Div), 1),
                    b'%' => (Tok::Op(BinaryOp::Mod), 1),
                    b'^' => (Tok::Op(BinaryOp::Pow), 1),
                    b'>' => (Tok::Op(BinaryOp::Gtr), 1),
                    b'<' => (Tok::Op(BinaryOp::Lss), 1),
                    b'=' => (Tok::Assign, 1),
                    b'(' => {
                        self.paren_depth += 1;
                        (Tok::LParen, 1)
                    }
                    b')' => {
                        if self.paren_depth == 0 {
                            return self.fail(start + 1, "unexpected right parenthesis ')'".into());
                        }
                        self.paren_depth -= 1;
                        (Tok::RParen, 1)
                    }
                    b'{' => {
                        self.brace_open = true;
                        (Tok::LBrace, 1)
                    }
                    b'[' => {
                        if self.bracket_open {
                            return self.fail(start, "unexpected left bracket '['".into());
                        }
                        self.bracket_open = true;
                        self.duration_expr = true;
                        self.got_colon = false;
                        self.got_duration = false;
                        (Tok::LBracket, 1)
                    }
                    b']' => {
                        if !self.bracket_open {
                            return self.fail(start, "unexpected right bracket ']'".into());
                        }
                        self.bracket_open = false;
                        (Tok::RBracket, 1)
                    }
                    b',' => (Tok::Comma, 1),
                    b'@' => (Tok::At, 1),
                    _ => {
                        return self.fail(
                            start,
                            format!("unexpected character: {}", self.quoted_char(start)),
                        );
                    }
                },
            };
            self.i += len;
            self.push(tok, start);
        }
    }

    /// One token inside `{...}`: label names (no colons), strings, `,`,
    /// the matching operators and the closing brace.
    fn inside_braces(&mut self) -> Result<(), LexError> {
        let start = self.i;
        let Some(&c) = self.b.get(self.i) else {
            return self.fail(start, "unexpected end of input inside braces".into());
        };
        match c {
            b'#' => self.skip_comment(),
            c if c.is_ascii_whitespace() => self.i += 1,
            c if is_ident_start(c) => {
                while self.i < self.b.len()
                    && (self.b[self.i].is_ascii_alphanumeric() || self.b[self.i] == b'_')
                {
                    self.i += 1;
                }
                let text = self.src[start..self.i].to_string();
                self.push(Tok::Ident(text), start);
            }
            b',' => {
                self.i += 1;
                self.push(Tok::Comma, start);
            }
            b'"' | b'\'' | b'`' => {
                let s = self.string(c)?;
                self.push(Tok::Str(s), start);
            }
            b'=' => {
                if self.peek(1) == b'~' {
                    self.i += 2;
                    self.push(Tok::EqlRegex, start);
                } else {
                    self.i += 1;
                    self.push(Tok::Assign, start);
                }
            }
            b'!' => match self.peek(1) {
                b'~' => {
                    self.i += 2;
                    self.push(Tok::NeqRegex, start);
                }
                b'=' => {
                    self.i += 2;
                    self.push(Tok::Op(BinaryOp::Neq), start);
                }
                _ => {
                    let q = if self.i + 1 < self.b.len() {
                        self.quoted_char(self.i + 1)
                    } else {
                        "'\u{fffd}'".to_string()
                    };
                    return self.fail(
                        start,
                        format!("unexpected character after '!' inside braces: {q}"),
                    );
                }
            },
            b'{' => return self.fail(start, "unexpected left brace '{'".into()),
            b'}' => {
                self.i += 1;
                self.brace_open = false;
                self.push(Tok::RBrace, start);
            }
            _ => {
                return self.fail(
                    start,
                    format!(
                        "unexpected character inside braces: {}",
                        self.quoted_char(start)
                    ),
                )
            }
        }
        Ok(())
    }

    /// `step`, `range`, `min_of` or `max_of` inside brackets.
    fn duration_keyword(&mut self) -> bool {
        let start = self.i;
        let mut j = self.i;
        while j < self.b.len() && (self.b[j].is_ascii_alphabetic() || self.b[j] == b'_') {
            j += 1;
        }
        let word = self.src[start..j].to_ascii_lowercase();
        if matches!(word.as_str(), "step" | "range" | "min_of" | "max_of") {
            self.i = j;
            let text = self.src[start..j].to_string();
            self.push(Tok::Ident(text), start);
            true
        } else {
            false
        }
    }

    /// One token right after `[`, until the first number or duration.
    fn in_duration_expr(&mut self) -> Result<(), LexError> {
        let start = self.i;
        let Some(&c) = self.b.get(self.i) else {
            return self.fail(
                start,
                "unexpected end of input in duration expression".into(),
            );
        };
        let tok = match c {
            b']' => {
                self.bracket_open = false;
                self.duration_expr = false;
                Tok::RBracket
            }
            b':' => {
                if !self.got_duration {
                    return self.fail(
                        start,
                        "unexpected colon before duration in duration expression".into(),
                    );
                }
                if self.got_colon {
                    return self.fail(
                        start,
                        "unexpected repeated colon in duration expression".into(),
                    );
                }
                self.got_colon = true;
                Tok::Colon
            }
            b'(' => {
                self.paren_depth += 1;
                Tok::LParen
            }
            b')' => {
                if self.paren_depth == 0 {
                    return self.fail(start + 1, "unexpected right parenthesis ')'".into());
                }
                self.paren_depth -= 1;
                Tok::RParen
            }
            c if c.is_ascii_whitespace() => {
                self.i += 1;
                return Ok(());
            }
            b'+' => Tok::Op(BinaryOp::Add),
            b'-' => Tok::Op(BinaryOp::Sub),
            b'*' => Tok::Op(BinaryOp::Mul),
            b'/' => Tok::Op(BinaryOp::Div),
            b'%' => Tok::Op(BinaryOp::Mod),
            b'^' => Tok::Op(BinaryOp::Pow),
            b',' => Tok::Comma,
            c if c.is_ascii_digit() || (c == b'.' && self.peek(1).is_ascii_digit()) => {
                self.got_duration = true;
                self.duration_expr = false;
                return self.number_or_duration();
            }
            _ => {
                if self.duration_keyword() {
                    // unlike Prometheus's lexer, `[range():step()]` may
                    // have a colon after a keyword
                    self.got_duration = true;
                    return Ok(());
                }
                return self.fail(
                    start,
                    format!(
                        "unexpected character in duration expression: {}",
                        self.quoted_char(start)
                    ),
                );
            }
        };
        self.i += 1;
        self.push(tok, start);
        Ok(())
    }

    fn accept(&mut self, valid: &[u8]) -> bool {
        if self.i < self.b.len() && valid.contains(&self.b[self.i]) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Prometheus's scan of a number: whether `[start, i)` may be one.
    fn scan_number(&mut self) -> bool {
        let initial = self.i;
        let mut digits: &[u8] = b"0123456789";
        if self.accept(b"0") && self.accept(b"xX") {
            self.accept(b"_");
            digits = b"0123456789abcdefABCDEF";
        }
        self.accept(b".");
        self.accept(digits);
        let (mut dot, mut exp) = (false, false);
        loop {
            let c = self.peek(0);
            let more = self.i < self.b.len()
                && (digits.contains(&c) || matches!(c, b'.' | b'_' | b'e' | b'E'));
            if !more {
                break;
            }
            if c == b'.' && dot {
                self.i += 1;
                return false;
            }
            if matches!(c, b'e' | b'E') && exp {
                self.i += 1;
                return false;
            }
            if self.accept(b".") {
                dot = true;
                if self.accept(b"_.") || digits.len() > 10 {
                    return false;
                }
                continue;
            }
            if self.accept(b"eE") {
                exp = true;
                self.accept(b"+-");
                if self.accept(b"._eE") || self.i >= self.b.len() {
                    return false;
                }
                continue;
            }
            if self.accept(b"_") {
                if self.accept(b"._eE") || self.i >= self.b.len() {
                    return false;
                }
                continue;
            }
            while self.accept(digits) {}
        }
        if self.i == initial {
            return false;
        }
        !is_alnum(self.peek(0))
    }

    /// The rest of a duration after its first number.
    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept(b"smhdwy") {
            return false;
        }
        self.accept(b"s");
        while self.accept(b"0123456789") {
            while self.accept(b"0123456789") {}
            if !self.accept(b"smhdw") {
                return false;
            }
            self.accept(b"s");
        }
        let next = self.peek(0);
        if self.i < self.b.len() {
            self.i += 1;
            self.backup_one = true;
        }
        !is_alnum(next)
    }

    fn number_or_duration(&mut self) -> Result<(), LexError> {
        let start = self.i;
        if self.scan_number() {
            let text = &self.src[start..self.i];
            let v = number_value(text).map_err(|e| LexError {
                pos: start,
                msg: e.to_string(),
            })?;
            self.push(Tok::Number(v), start);
            return Ok(());
        }
        self.backup_one = false;
        if self.accept_remaining_duration() {
            if self.backup_one {
                self.i -= 1;
            }
            let text = &self.src[start..self.i];
            let ms = duration_value(text).map_err(|e| LexError {
                pos: start,
                msg: e.to_string(),
            })?;
            self.push(Tok::Duration(ms), start);
            return Ok(());
        }
        self.fail(
            start,
            format!(
                "bad number or duration syntax: {:?}",
                &self.src[start..self.i]
            ),
        )
    }

    fn string(&mut self, q: u8) -> Result<String, LexError> {
        let start = self.i;
        self.i += 1;
        // bytes: `\x` and octal escapes write single bytes, which together
        // may form UTF-8 sequences
        let mut out: Vec<u8> = Vec::new();
        // Prometheus reports string errors at the opening quote.
        let bad = |msg: String| LexError { pos: start, msg };
        loop {
            let Some(c) = self.src[self.i..].chars().next() else {
                return Err(bad(if q == b'`' {
                    "unterminated raw string".into()
                } else {
                    "unterminated quoted string".into()
                }));
            };
            self.i += c.len_utf8();
            if c as u32 == q as u32 {
                return Ok(match String::from_utf8(out) {
                    Ok(s) => s,
                    Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                });
            }
            if q == b'`' {
                push_char(&mut out, c);
                continue;
            }
            if c == '\n' {
                return Err(bad("unterminated quoted string".into()));
            }
            if c != '\\' {
                push_char(&mut out, c);
                continue;
            }
            let Some(e) = self.src[self.i..].chars().next() else {
                return Err(bad("escape sequence not terminated".into()));
            };
            self.i += e.len_utf8();
            let (n, base, max) = match e {
                'a' => {
                    push_char(&mut out, '\u{7}');
                    continue;
                }
                'b' => {
                    push_char(&mut out, '\u{8}');
                    continue;
                }
                'f' => {
                    push_char(&mut out, '\u{c}');
                    continue;
                }
                'n' => {
                    push_char(&mut out, '\n');
                    continue;
                }
                'r' => {
                    push_char(&mut out, '\r');
                    continue;
                }
                't' => {
                    push_char(&mut out, '\t');
                    continue;
                }
                'v' => {
                    push_char(&mut out, '\u{b}');
                    continue;
                }
                '\\' => {
                    push_char(&mut out, '\\');
                    continue;
                }
                '"' | '\'' if e as u32 == q as u32 => {
                    push_char(&mut out, e);
                    continue;
                }
                '0'..='7' => {
                    self.i -= 1;
                    (3, 8, 255)
                }
                'x' => (2, 16, 255),
                'u' => (4, 16, 0x10ffff),
                'U' => (8, 16, 0x10ffff),
                _ => return Err(bad(format!("unknown escape sequence {}", go_rune(e)))),
            };
            let mut v: u32 = 0;
            for _ in 0..n {
                let Some(d) = self.src[self.i..].chars().next() else {
                    return Err(bad("escape sequence not terminated".into()));
                };
                let Some(x) = d.to_digit(base) else {
                    return Err(bad(format!(
                        "illegal character {} in escape sequence",
                        go_rune(d)
                    )));
                };
                self.i += d.len_utf8();
                v = v * base + x;
            }
            if v > max || (0xd800..0xe000).contains(&v) {
                return Err(bad(
                    "escape sequence is an invalid Unicode code point".into()
                ));
            }
            if base == 8 || e == 'x' {
                // a raw byte (at most 255)
                out.push(v as u8);
            } else {
                push_char(
                    &mut out,
                    char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER),
                );
            }
        }
    }
}

/// Appends a character's UTF-8 bytes.
fn push_char(out: &mut Vec<u8>, c: char) {
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

/// A character as Go's `%#U` shows it: `U+0063 'c'`.
fn go_rune(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{c}'", c as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn byte_escapes_form_utf8() {
        // two `\x` bytes and three octal ones spell UTF-8 characters
        assert_eq!(toks(r#""caf\xc3\xa9""#)[0], Tok::Str("café".into()));
        assert_eq!(toks(r#""\342\202\254""#)[0], Tok::Str("€".into()));
        // a byte that is not UTF-8 cannot be kept in a str
        assert_eq!(toks(r#""a\xc5z""#)[0], Tok::Str("a\u{fffd}z".into()));
    }

    #[test]
    fn tokens() {
        assert_eq!(
            toks("foo{a=~\"x\"}[5m:1m] # c"),
            vec![
                Tok::Ident("foo".into()),
                Tok::LBrace,
                Tok::Ident("a".into()),
                Tok::EqlRegex,
                Tok::Str("x".into()),
                Tok::RBrace,
                Tok::LBracket,
                Tok::Duration(300_000),
                Tok::Colon,
                Tok::Duration(60_000),
                Tok::RBracket,
                Tok::Eof
            ]
        );
        assert_eq!(toks("0x1f")[0], Tok::Number(31.0));
        assert_eq!(toks("1e3")[0], Tok::Number(1000.0));
        assert_eq!(toks(".5")[0], Tok::Number(0.5));
        assert_eq!(toks("1h30m")[0], Tok::Duration(5_400_000));
        assert_eq!(toks("'a\\'b'")[0], Tok::Str("a'b".into()));
        assert_eq!(toks("`a\\n`")[0], Tok::Str("a\\n".into()));
        assert_eq!(toks("\"\\u00e9\"")[0], Tok::Str("é".into()));
        assert!(matches!(toks("InF")[0], Tok::Number(v) if v.is_infinite()));
        assert_eq!(toks("a:b")[0], Tok::Ident("a:b".into()));
    }

    #[test]
    fn errors() {
        assert!(lex("\"abc").is_err());
        assert!(lex("1m5").is_err());
        assert!(lex("5mm").is_err());
        assert!(lex("$").is_err());
        assert_eq!(parse_duration("1m1h"), None);
    }

    #[test]
    fn numbers_read_as_prometheus_reads_them() {
        for (text, want) in [
            ("010", 8.0),
            ("0_10", 8.0),
            ("09", 9.0),
            ("010.5", 10.5),
            ("0", 0.0),
            ("0x1f", 31.0),
            ("0x_1F", 31.0),
            ("1_000", 1000.0),
            ("1e3", 1000.0),
            (".5", 0.5),
        ] {
            assert_eq!(toks(text)[0], Tok::Number(want), "{text}");
        }
        for (text, msg) in [
            (
                "1_000.5",
                "error parsing number: strconv.ParseFloat: parsing \"1_000.5\": invalid syntax",
            ),
            (
                "1e400",
                "error parsing number: strconv.ParseFloat: parsing \"1e400\": value out of range",
            ),
            ("1e", "bad number or duration syntax: \"1e\""),
        ] {
            assert_eq!(lex(text).unwrap_err().msg, msg, "{text}");
        }
    }
}
