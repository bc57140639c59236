//! The subset of Go's `text/template` that rule files use: parsed once at
//! load, executed per alert (see [`crate::exec`] for execution).
//!
//! Supported: text, `{{ pipeline }}`, comments, trim markers `{{-`/`-}}`,
//! variables (`$x := ...`, `$x = ...`, `$`), fields (`.Labels.x`,
//! `$labels.x`, `(pipeline).x`), string/raw-string/number/bool/nil
//! literals, pipelines with `|`, `if`/`else if`/`else`/`end`,
//! `range` (with `$i, $e :=`) and `with`, `break`/`continue`, and the
//! functions listed in [`FUNCTIONS`]. `define`, `template` and `block` are
//! refused at parse time with an error naming them.

use crate::gofmt::quote_ascii;
use crate::{ParseError, TemplateError};

/// The functions a template may call.
pub const FUNCTIONS: &[&str] = &[
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "urlquery",
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "sortByLabel",
    "reReplaceAll",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "stripPort",
    "stripDomain",
    "safeHtml",
];

/// A parsed template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    /// The template's name (used in error messages).
    pub name: String,
    pub(crate) nodes: Vec<Node>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pipe {
    /// Declared or assigned variables.
    pub decl: Vec<String>,
    /// `=` rather than `:=`.
    pub assign: bool,
    pub cmds: Vec<Vec<Arg>>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Arg {
    Func(String),
    /// `.a.b` (empty: `.`).
    Field(Vec<String>),
    /// `$x.a.b`.
    Var(String, Vec<String>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    /// `(pipeline).a.b`.
    Sub(Box<Pipe>, Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Text(String),
    Open,
    Close,
    Ident(String),
    Field(Vec<String>),
    Var(String, Vec<String>),
    Chain(Vec<String>),
    Str(String),
    Num(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits `src` into text and action tokens, applying trim markers and
/// dropping comments.
fn lex(src: &str) -> Result<Vec<Tok>, ParseError> {
    let mut toks = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    loop {
        let (text, after) = match rest.find("{{") {
            Some(i) => (&rest[..i], Some(&rest[i + 2..])),
            None => (rest, None),
        };
        let mut text = text.to_string();
        if trim_next {
            text = text.trim_start_matches(is_space).to_string();
        }
        let Some(mut a) = after else {
            if !text.is_empty() {
                toks.push(Tok::Text(text));
            }
            return Ok(toks);
        };
        if a.starts_with('-') && a[1..].starts_with(is_space) {
            text = text.trim_end_matches(is_space).to_string();
            a = &a[1..];
        }
        if !text.is_empty() {
            toks.push(Tok::Text(text));
        }
        let trimmed = a.trim_start_matches(is_space);
        if trimmed.starts_with("/*") {
            let end = trimmed.find("*/").ok_or(ParseError::UnclosedComment)?;
            let after_c = &trimmed[end + 2..];
            if let Some(r) = after_c.strip_prefix("}}") {
                trim_next = false;
                rest = r;
            } else if let Some(r) = after_c.strip_prefix(" -}}") {
                trim_next = true;
                rest = r;
            } else {
                return Err(ParseError::CommentEnd);
            }
            continue;
        }
        toks.push(Tok::Open);
        let (r, trim) = lex_action(a, &mut toks)?;
        toks.push(Tok::Close);
        trim_next = trim;
        rest = r;
    }
}

/// Lexes one action up to and including `}}`; returns the rest and
/// whether the closing delimiter trims.
fn lex_action<'a>(mut s: &'a str, toks: &mut Vec<Tok>) -> Result<(&'a str, bool), ParseError> {
    loop {
        let t = s.trim_start_matches(is_space);
        let had_space = t.len() != s.len();
        s = t;
        if s.is_empty() {
            return Err(ParseError::UnclosedAction);
        }
        if let Some(r) = s.strip_prefix("}}") {
            return Ok((r, false));
        }
        if had_space {
            if let Some(r) = s.strip_prefix("-}}") {
                return Ok((r, true));
            }
        }
        let c = s.chars().next().unwrap_or(' ');
        let take_word = |s: &'a str, from: usize| -> (&'a str, &'a str) {
            let end = s[from..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map(|i| i + from)
                .unwrap_or(s.len());
            (&s[..end], &s[end..])
        };
        match c {
            '|' => {
                toks.push(Tok::Pipe);
                s = &s[1..];
            }
            '(' => {
                toks.push(Tok::LParen);
                s = &s[1..];
            }
            ')' => {
                toks.push(Tok::RParen);
                s = &s[1..];
                if s.starts_with('.') && s[1..].starts_with(|c: char| c.is_alphabetic() || c == '_')
                {
                    let (path, r) = lex_path(s);
                    toks.push(Tok::Chain(path));
                    s = r;
                }
            }
            ',' => {
                toks.push(Tok::Comma);
                s = &s[1..];
            }
            ':' if s.starts_with(":=") => {
                toks.push(Tok::Declare);
                s = &s[2..];
            }
            '=' => {
                toks.push(Tok::Assign);
                s = &s[1..];
            }
            '"' => {
                let (lit, r) = lex_quoted(s)?;
                toks.push(Tok::Str(lit));
                s = r;
            }
            '`' => {
                let end = s[1..].find('`').ok_or(ParseError::UnterminatedRaw)?;
                toks.push(Tok::Str(s[1..1 + end].to_string()));
                s = &s[end + 2..];
            }
            '$' => {
                let (w, r) = take_word(s, 1);
                let (path, r) = lex_path(r);
                toks.push(Tok::Var(w.to_string(), path));
                s = r;
            }
            '.' if !s[1..].starts_with(|c: char| c.is_ascii_digit()) => {
                let (path, r) = if s[1..].starts_with(|c: char| c.is_alphabetic() || c == '_') {
                    lex_path(s)
                } else {
                    (Vec::new(), &s[1..])
                };
                toks.push(Tok::Field(path));
                s = r;
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let end = s[1..]
                    .find(|c: char| {
                        !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '+' || c == '-')
                    })
                    .map(|i| i + 1)
                    .unwrap_or(s.len());
                // a sign is only part of a number after an exponent letter
                let mut e = 1;
                let b = s.as_bytes();
                while e < end {
                    if (b[e] == b'+' || b[e] == b'-') && !matches!(b[e - 1], b'e' | b'E') {
                        break;
                    }
                    e += 1;
                }
                toks.push(Tok::Num(s[..e].to_string()));
                s = &s[e..];
            }
            c if c.is_alphabetic() || c == '_' => {
                let (w, r) = take_word(s, 0);
                toks.push(Tok::Ident(w.to_string()));
                s = r;
            }
            c => return Err(ParseError::UnexpectedChar(c)),
        }
    }
}

/// Reads `.a.b.c` (possibly empty) from the start of `s`.
fn lex_path(mut s: &str) -> (Vec<String>, &str) {
    let mut path = Vec::new();
    while s.starts_with('.') && s[1..].starts_with(|c: char| c.is_alphabetic() || c == '_') {
        let end = s[1..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map(|i| i + 1)
            .unwrap_or(s.len());
        path.push(s[1..end].to_string());
        s = &s[end..];
    }
    (path, s)
}

fn lex_quoted(s: &str) -> Result<(String, &str), ParseError> {
    let mut out = String::new();
    let mut it = s.char_indices().skip(1);
    while let Some((i, c)) = it.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\n' => break,
            '\\' => {
                let Some((_, e)) = it.next() else { break };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut hex = String::new();
                        for _ in 0..n {
                            hex.push(it.next().map(|(_, c)| c).unwrap_or(' '));
                        }
                        let cp =
                            u32::from_str_radix(&hex, 16).map_err(|_| ParseError::QuotedSyntax)?;
                        out.push(char::from_u32(cp).ok_or(ParseError::QuotedSyntax)?);
                    }
                    _ => return Err(ParseError::UnknownEscape(e)),
                }
            }
            c => out.push(c),
        }
    }
    Err(ParseError::UnterminatedQuoted)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    vars: Vec<String>,
}

/// How a list of nodes ended.
enum Stop {
    Eof,
    End,
    Else(Option<Vec<Tok>>),
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn list(&mut self, in_range: bool) -> Result<(Vec<Node>, Stop), ParseError> {
        let mut nodes = Vec::new();
        while let Some(t) = self.next() {
            match t {
                Tok::Text(s) => nodes.push(Node::Text(s)),
                Tok::Open => {
                    if let Some(Tok::Ident(kw)) = self.peek().cloned() {
                        match kw.as_str() {
                            "end" => {
                                self.pos += 1;
                                self.expect_close("end")?;
                                return Ok((nodes, Stop::End));
                            }
                            "else" => {
                                self.pos += 1;
                                if self.peek() == Some(&Tok::Close) {
                                    self.pos += 1;
                                    return Ok((nodes, Stop::Else(None)));
                                }
                                // `else if ...`/`else with ...`: the rest of
                                // the action opens a nested block.
                                let mut rest = Vec::new();
                                while let Some(t) = self.next() {
                                    if t == Tok::Close {
                                        break;
                                    }
                                    rest.push(t);
                                }
                                return Ok((nodes, Stop::Else(Some(rest))));
                            }
                            "if" | "range" | "with" => {
                                self.pos += 1;
                                nodes.push(self.control(&kw, in_range)?);
                                continue;
                            }
                            "break" | "continue" => {
                                if !in_range {
                                    return Err(ParseError::OutsideRange(kw));
                                }
                                self.pos += 1;
                                self.expect_close(&kw)?;
                                nodes.push(if kw == "break" {
                                    Node::Break
                                } else {
                                    Node::Continue
                                });
                                continue;
                            }
                            "define" | "template" | "block" => {
                                return Err(ParseError::Unsupported(kw));
                            }
                            _ => {}
                        }
                    }
                    let pipe = self.pipeline("command", true)?;
                    self.expect_close("command")?;
                    nodes.push(Node::Action(pipe));
                }
                t => return Err(ParseError::Unexpected(format!("{t:?}"))),
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn expect_close(&mut self, ctx: &str) -> Result<(), ParseError> {
        match self.next() {
            Some(Tok::Close) => Ok(()),
            Some(t) => Err(ParseError::UnexpectedIn {
                token: tok_desc(&t),
                context: ctx.to_string(),
            }),
            None => Err(ParseError::UnclosedActionIn(ctx.to_string())),
        }
    }

    fn control(&mut self, kw: &str, in_range: bool) -> Result<Node, ParseError> {
        let nvars = self.vars.len();
        let pipe = self.pipeline(kw, kw == "range")?;
        self.expect_close(kw)?;
        let body_in_range = in_range || kw == "range";
        let (body, end) = self.list(body_in_range)?;
        let els = match end {
            Stop::Eof => return Err(ParseError::Eof(kw.to_string())),
            Stop::End => Vec::new(),
            Stop::Else(None) => {
                let (els, end) = self.list(in_range)?;
                match end {
                    Stop::End => els,
                    Stop::Else(_) => return Err(ParseError::SecondElse),
                    Stop::Eof => return Err(ParseError::Eof(kw.to_string())),
                }
            }
            Stop::Else(Some(rest)) => {
                // Re-enter with the `else` action's remainder as a new
                // control action sharing our `end`.
                let Some(Tok::Ident(nkw)) = rest.first().cloned() else {
                    return Err(ParseError::AfterElse);
                };
                if nkw != "if" && nkw != "with" {
                    return Err(ParseError::KeywordAfterElse(nkw));
                }
                let mut inject = rest[1..].to_vec();
                inject.push(Tok::Close);
                let tail: Vec<Tok> = self.toks.split_off(self.pos);
                self.toks.extend(inject);
                self.toks.extend(tail);
                vec![self.control(&nkw, in_range)?]
            }
        };
        self.vars.truncate(nvars);
        Ok(match kw {
            "if" => Node::If(pipe, body, els),
            "range" => Node::Range(pipe, body, els),
            _ => Node::With(pipe, body, els),
        })
    }

    fn pipeline(&mut self, ctx: &str, multi_decl: bool) -> Result<Pipe, ParseError> {
        let mut decl = Vec::new();
        let mut assign = false;
        // declarations: `$x :=`, `$x =`, `$i, $e :=`
        let save = self.pos;
        let mut names = Vec::new();
        loop {
            match (self.toks.get(self.pos), self.toks.get(self.pos + 1)) {
                (Some(Tok::Var(v, p)), Some(Tok::Declare | Tok::Assign)) if p.is_empty() => {
                    names.push(v.clone());
                    assign = self.toks[self.pos + 1] == Tok::Assign;
                    self.pos += 2;
                    decl = names.clone();
                    break;
                }
                (Some(Tok::Var(v, p)), Some(Tok::Comma))
                    if multi_decl && names.is_empty() && p.is_empty() =>
                {
                    names.push(v.clone());
                    self.pos += 2;
                }
                _ => {
                    self.pos = save;
                    break;
                }
            }
        }
        if decl.len() > 2 {
            return Err(ParseError::TooManyDeclarations);
        }
        let mut cmds = Vec::new();
        loop {
            let mut args = Vec::new();
            while let Some(t) = self.peek().cloned() {
                match t {
                    Tok::Close | Tok::RParen | Tok::Pipe => break,
                    _ => {
                        self.pos += 1;
                        args.push(self.operand(t, args.is_empty())?);
                    }
                }
            }
            if args.is_empty() {
                return Err(ParseError::MissingValue(ctx.to_string()));
            }
            cmds.push(args);
            if self.peek() == Some(&Tok::Pipe) {
                self.pos += 1;
                continue;
            }
            break;
        }
        for d in &decl {
            if assign {
                if !self.vars.contains(d) {
                    return Err(ParseError::UndefinedVariable(d.clone()));
                }
            } else {
                self.vars.push(d.clone());
            }
        }
        Ok(Pipe { decl, assign, cmds })
    }

    fn chain(&mut self) -> Vec<String> {
        if let Some(Tok::Chain(path)) = self.peek().cloned() {
            self.pos += 1;
            return path;
        }
        Vec::new()
    }

    fn operand(&mut self, t: Tok, first: bool) -> Result<Arg, ParseError> {
        Ok(match t {
            Tok::Field(path) => Arg::Field(path),
            Tok::Var(v, path) => {
                if !self.vars.contains(&v) {
                    return Err(ParseError::UndefinedVariable(v));
                }
                Arg::Var(v, path)
            }
            Tok::Str(s) => Arg::Str(s),
            Tok::Num(n) => parse_number(&n)?,
            Tok::LParen => {
                let p = self.pipeline("parenthesized pipeline", false)?;
                match self.next() {
                    Some(Tok::RParen) => {}
                    _ => return Err(ParseError::UnclosedParen),
                }
                Arg::Sub(Box::new(p), self.chain())
            }
            Tok::Ident(id) => match id.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => {
                    if first {
                        return Err(ParseError::NilCommand);
                    }
                    Arg::Nil
                }
                _ if FUNCTIONS.contains(&id.as_str()) => Arg::Func(id),
                _ => return Err(ParseError::UndefinedFunction(id)),
            },
            t => {
                return Err(ParseError::UnexpectedIn {
                    token: tok_desc(&t),
                    context: "operand".to_string(),
                })
            }
        })
    }
}

fn tok_desc(t: &Tok) -> String {
    match t {
        Tok::Close => "\"}}\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Ident(s) | Tok::Num(s) => format!("<{s}>"),
        Tok::Str(s) => quote_ascii(s),
        t => format!("{t:?}"),
    }
}

fn parse_number(n: &str) -> Result<Arg, ParseError> {
    let is_float = n.contains(['.', 'e', 'E']) && !n.starts_with("0x") && !n.starts_with("0X");
    if !is_float {
        let (neg, digits) = match n.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, n.strip_prefix('+').unwrap_or(n)),
        };
        let digits = digits.replace('_', "");
        let v = if let Some(h) = digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
        {
            i64::from_str_radix(h, 16)
        } else {
            digits.parse::<i64>()
        };
        if let Ok(v) = v {
            return Ok(Arg::Int(if neg { -v } else { v }));
        }
    }
    n.replace('_', "")
        .parse::<f64>()
        .map(Arg::Float)
        .map_err(|_| ParseError::Number(n.to_string()))
}

/// The variables every alert template starts with (Prometheus defines
/// them by prefixing `{{$labels := .Labels}}...`).
pub const PREDEFINED: &[&str] = &["$", "$labels", "$externalLabels", "$externalURL", "$value"];

impl Template {
    /// Parses `text`; the error reads like Go's (`template: NAME: ...`).
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let err = |err: ParseError| TemplateError::Parse {
            name: name.to_string(),
            err,
        };
        let toks = lex(text).map_err(err)?;
        let mut p = Parser {
            toks,
            pos: 0,
            vars: PREDEFINED.iter().map(|s| s.to_string()).collect(),
        };
        let (nodes, end) = p.list(false).map_err(err)?;
        match end {
            Stop::Eof => Ok(Template {
                name: name.to_string(),
                nodes,
            }),
            Stop::End => Err(err(ParseError::End)),
            Stop::Else(_) => Err(err(ParseError::Else)),
        }
    }

    /// Whether the text has no actions (so expanding it is the identity).
    pub fn is_plain(&self) -> bool {
        self.nodes.iter().all(|n| matches!(n, Node::Text(_)))
    }
}
