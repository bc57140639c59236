//! The PromQL lexer: turns query text into tokens with byte positions.

use super::ast::BinaryOp;

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
            Tok::EqlRegex | Tok::NeqRegex | Tok::Assign => format!("<op:{}>", self.text),
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

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let mut lx = Lexer {
        src,
        b: src.as_bytes(),
        i: 0,
        out: Vec::new(),
        bracket_depth: 0,
    };
    lx.run()?;
    Ok(lx.out)
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    i: usize,
    out: Vec<Token>,
    bracket_depth: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

fn unit_ms(u: &str) -> Option<i64> {
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

    fn run(&mut self) -> Result<(), LexError> {
        while self.i < self.b.len() {
            let c = self.b[self.i];
            let start = self.i;
            if c.is_ascii_whitespace() {
                self.i += 1;
                continue;
            }
            if c == b'#' {
                while self.i < self.b.len() && self.b[self.i] != b'\n' {
                    self.i += 1;
                }
                continue;
            }
            if c.is_ascii_digit() || (c == b'.' && self.peek(1).is_ascii_digit()) {
                self.number()?;
                continue;
            }
            if is_ident_start(c) {
                while self.i < self.b.len() && is_ident_char(self.b[self.i]) {
                    if self.b[self.i] == b':' && self.bracket_depth > 0 {
                        break;
                    }
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
                b"=~" => (Tok::EqlRegex, 2),
                b"!~" => (Tok::NeqRegex, 2),
                _ => match c {
                    b'+' => (Tok::Op(BinaryOp::Add), 1),
                    b'-' => (Tok::Op(BinaryOp::Sub), 1),
                    b'*' => (Tok::Op(BinaryOp::Mul), 1),
                    b'/' => (Tok::Op(BinaryOp::Div), 1),
                    b'%' => (Tok::Op(BinaryOp::Mod), 1),
                    b'^' => (Tok::Op(BinaryOp::Pow), 1),
                    b'>' => (Tok::Op(BinaryOp::Gtr), 1),
                    b'<' => (Tok::Op(BinaryOp::Lss), 1),
                    b'=' => (Tok::Assign, 1),
                    b'(' => (Tok::LParen, 1),
                    b')' => (Tok::RParen, 1),
                    b'{' => (Tok::LBrace, 1),
                    b'}' => (Tok::RBrace, 1),
                    b'[' => {
                        self.bracket_depth += 1;
                        (Tok::LBracket, 1)
                    }
                    b']' => {
                        self.bracket_depth = self.bracket_depth.saturating_sub(1);
                        (Tok::RBracket, 1)
                    }
                    b',' => (Tok::Comma, 1),
                    b':' => (Tok::Colon, 1),
                    b'@' => (Tok::At, 1),
                    _ => {
                        let ch = self.src[start..].chars().next().unwrap_or('?');
                        return Err(LexError {
                            pos: start,
                            msg: format!("unexpected character: {ch:?}"),
                        });
                    }
                },
            };
            self.i += len;
            self.push(tok, start);
        }
        let end = self.b.len();
        self.out.push(Token {
            tok: Tok::Eof,
            pos: end,
            text: String::new(),
        });
        Ok(())
    }

    fn number(&mut self) -> Result<(), LexError> {
        let start = self.i;
        if self.peek(0) == b'0' && matches!(self.peek(1), b'x' | b'X') {
            self.i += 2;
            while self.peek(0).is_ascii_hexdigit() {
                self.i += 1;
            }
            let text = &self.src[start + 2..self.i];
            let v = u64::from_str_radix(text, 16).map_err(|_| LexError {
                pos: start,
                msg: format!(
                    "bad number or duration syntax: {:?}",
                    &self.src[start..self.i]
                ),
            })?;
            self.push(Tok::Number(v as f64), start);
            return Ok(());
        }
        // a duration: digits followed by a unit letter
        let mut j = self.i;
        while j < self.b.len() && self.b[j].is_ascii_digit() {
            j += 1;
        }
        if j > self.i
            && j < self.b.len()
            && matches!(self.b[j], b's' | b'm' | b'h' | b'd' | b'w' | b'y')
        {
            while j < self.b.len() && (self.b[j].is_ascii_alphanumeric()) {
                j += 1;
            }
            let text = &self.src[start..j];
            self.i = j;
            match parse_duration(text) {
                Some(ms) => self.push(Tok::Duration(ms), start),
                None => {
                    return Err(LexError {
                        pos: start,
                        msg: format!("bad number or duration syntax: {text:?}"),
                    })
                }
            }
            return Ok(());
        }
        while self.peek(0).is_ascii_digit() || self.peek(0) == b'_' {
            self.i += 1;
        }
        if self.peek(0) == b'.' {
            self.i += 1;
            while self.peek(0).is_ascii_digit() {
                self.i += 1;
            }
        }
        if matches!(self.peek(0), b'e' | b'E') {
            let save = self.i;
            self.i += 1;
            if matches!(self.peek(0), b'+' | b'-') {
                self.i += 1;
            }
            if self.peek(0).is_ascii_digit() {
                while self.peek(0).is_ascii_digit() {
                    self.i += 1;
                }
            } else {
                self.i = save;
            }
        }
        let text: String = self.src[start..self.i]
            .chars()
            .filter(|c| *c != '_')
            .collect();
        if is_ident_char(self.peek(0)) && self.peek(0) != b':' {
            while is_ident_char(self.peek(0)) {
                self.i += 1;
            }
            return Err(LexError {
                pos: start,
                msg: format!(
                    "bad number or duration syntax: {:?}",
                    &self.src[start..self.i]
                ),
            });
        }
        let v: f64 = text.parse().map_err(|_| LexError {
            pos: start,
            msg: format!(
                "bad number or duration syntax: {:?}",
                &self.src[start..self.i]
            ),
        })?;
        self.push(Tok::Number(v), start);
        Ok(())
    }

    fn string(&mut self, q: u8) -> Result<String, LexError> {
        let start = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.src[self.i..].chars().next() else {
                return Err(LexError {
                    pos: start,
                    msg: "unterminated quoted string".to_string(),
                });
            };
            self.i += c.len_utf8();
            if c as u32 == q as u32 {
                return Ok(out);
            }
            if q == b'`' {
                out.push(c);
                continue;
            }
            if c == '\n' {
                return Err(LexError {
                    pos: start,
                    msg: "unterminated quoted string".to_string(),
                });
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let esc_pos = self.i - 1;
            let bad = |msg: &str| LexError {
                pos: esc_pos,
                msg: msg.to_string(),
            };
            let Some(e) = self.src[self.i..].chars().next() else {
                return Err(bad("unterminated quoted string"));
            };
            self.i += e.len_utf8();
            match e {
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'v' => out.push('\u{b}'),
                '\\' => out.push('\\'),
                '"' | '\'' if e as u32 == q as u32 => out.push(e),
                'x' | 'u' | 'U' => {
                    let n = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex = self.src.get(self.i..self.i + n).unwrap_or("");
                    let v = u32::from_str_radix(hex, 16)
                        .ok()
                        .filter(|_| hex.len() == n)
                        .ok_or_else(|| bad("invalid escape sequence"))?;
                    self.i += n;
                    if e == 'x' {
                        // a raw byte; only ASCII can be represented in a str
                        match char::from_u32(v).filter(|_| v < 0x80) {
                            Some(ch) => out.push(ch),
                            None => out.push(char::REPLACEMENT_CHARACTER),
                        }
                    } else {
                        out.push(
                            char::from_u32(v).ok_or_else(|| bad("invalid Unicode code point"))?,
                        );
                    }
                }
                '0'..='7' => {
                    let oct = self.src.get(self.i - 1..self.i + 2).unwrap_or("");
                    let v = u32::from_str_radix(oct, 8)
                        .ok()
                        .filter(|_| oct.len() == 3)
                        .ok_or_else(|| bad("invalid escape sequence"))?;
                    self.i += 2;
                    match char::from_u32(v).filter(|_| v < 0x80) {
                        Some(ch) => out.push(ch),
                        None => out.push(char::REPLACEMENT_CHARACTER),
                    }
                }
                _ => return Err(bad("unknown escape sequence")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
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
}
