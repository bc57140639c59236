//! Executing a parsed [`Template`] with Go's semantics (missing map keys
//! print as the empty string, `missingkey=zero`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::error::ExecError;
use crate::format::{self, sprintf};
use crate::gofmt::{query_escape, quote_ascii};
use crate::parse::{Arg, Node, Pipe, Template};
use crate::value::{AlertData, Sample, Value};
use crate::TemplateError;

/// What a template execution can reach besides its data.
pub struct Env<'a> {
    /// Runs a PromQL instant query at the evaluation time (`query`).
    pub query: &'a dyn Fn(&str) -> Result<Vec<Sample>, String>,
    /// `--web.external-url` (`externalURL`).
    pub external_url: &'a str,
    /// Reads a duration in Prometheus's syntax (`parseDuration`); the error
    /// is the function's.
    pub parse_duration: &'a dyn Fn(&str) -> Result<Duration, String>,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

/// Iterations of `range` one expansion may run, all loops together: a
/// template such as `{{range 1000000000000}}` is refused instead of
/// running for hours (or collecting that many items).
const MAX_RANGE_STEPS: usize = 1_000_000;

struct State<'a, 'e> {
    env: &'a Env<'e>,
    vars: Vec<(String, Value)>,
    out: String,
    /// `range` iterations run so far.
    range_steps: usize,
}

type R<T> = Result<T, ExecError>;

impl Template {
    /// Expands the template for an alert; the error text follows
    /// Prometheus's `error executing template NAME: ...`.
    pub fn execute(&self, data: &AlertData, env: &Env<'_>) -> Result<String, TemplateError> {
        let d = Value::Data(Arc::new(data.clone()));
        let mut st = State {
            env,
            vars: vec![
                ("$".into(), d.clone()),
                ("$labels".into(), Value::Map(Arc::new(data.labels.clone()))),
                (
                    "$externalLabels".into(),
                    Value::Map(Arc::new(data.external_labels.clone())),
                ),
                ("$externalURL".into(), Value::Str(data.external_url.clone())),
                ("$value".into(), Value::Float(data.value)),
            ],
            out: String::new(),
            range_steps: 0,
        };
        match st.walk(&self.nodes, &d) {
            Ok(_) => Ok(st.out),
            Err(err) => Err(TemplateError::Exec {
                name: self.name.clone(),
                err,
            }),
        }
    }
}

impl State<'_, '_> {
    fn walk(&mut self, nodes: &[Node], dot: &Value) -> R<Flow> {
        let mark = self.vars.len();
        for n in nodes {
            match n {
                Node::Text(s) => self.out.push_str(s),
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        self.out.push_str(&v.display());
                    }
                }
                Node::If(p, body, els) => {
                    let v = self.pipe(p, dot)?;
                    let f = self.walk(if v.truth() { body } else { els }, dot)?;
                    if !matches!(f, Flow::Normal) {
                        self.vars.truncate(mark);
                        return Ok(f);
                    }
                }
                Node::With(p, body, els) => {
                    let v = self.pipe(p, dot)?;
                    let f = if v.truth() {
                        self.walk(body, &v)?
                    } else {
                        self.walk(els, dot)?
                    };
                    if !matches!(f, Flow::Normal) {
                        self.vars.truncate(mark);
                        return Ok(f);
                    }
                }
                Node::Range(p, body, els) => {
                    let f = self.range(p, body, els, dot)?;
                    if !matches!(f, Flow::Normal) {
                        self.vars.truncate(mark);
                        return Ok(f);
                    }
                }
                Node::Break => {
                    self.vars.truncate(mark);
                    return Ok(Flow::Break);
                }
                Node::Continue => {
                    self.vars.truncate(mark);
                    return Ok(Flow::Continue);
                }
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn range(&mut self, p: &Pipe, body: &[Node], els: &[Node], dot: &Value) -> R<Flow> {
        let plain = Pipe {
            decl: Vec::new(),
            assign: false,
            cmds: p.cmds.clone(),
        };
        let v = self.pipe(&plain, dot)?;
        let items: Vec<(Value, Value)> = match &v {
            Value::Samples(s) => s
                .iter()
                .enumerate()
                .map(|(i, x)| (Value::Int(i as i64), Value::Sample(Arc::new(x.clone()))))
                .collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, x)| (Value::Str(k.clone()), Value::Str(x.clone())))
                .collect(),
            Value::Int(n) => {
                if usize::try_from(*n).is_ok_and(|n| n > MAX_RANGE_STEPS - self.range_steps) {
                    return Err(format!(
                        "range over {n}: more than {MAX_RANGE_STEPS} iterations in one expansion"
                    )
                    .into());
                }
                (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect()
            }
            Value::Nil => Vec::new(),
            other => return Err(format!("range can't iterate over {}", other.display()).into()),
        };
        if items.is_empty() {
            return self.walk(els, dot);
        }
        for (k, x) in items {
            self.range_steps += 1;
            if self.range_steps > MAX_RANGE_STEPS {
                return Err(format!(
                    "range: more than {MAX_RANGE_STEPS} iterations in one expansion"
                )
                .into());
            }
            let mark = self.vars.len();
            match p.decl.len() {
                1 => self.vars.push((p.decl[0].clone(), x.clone())),
                2 => {
                    self.vars.push((p.decl[0].clone(), k));
                    self.vars.push((p.decl[1].clone(), x.clone()));
                }
                _ => {}
            }
            let f = self.walk(body, &x)?;
            self.vars.truncate(mark);
            if matches!(f, Flow::Break) {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn var(&self, name: &str) -> R<Value> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("undefined variable: {name}").into())
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> R<Value> {
        let mut v: Option<Value> = None;
        for cmd in &p.cmds {
            v = Some(self.command(cmd, dot, v)?);
        }
        let v = v.unwrap_or(Value::Nil);
        for d in &p.decl {
            if p.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == d) {
                    slot.1 = v.clone();
                }
            } else {
                self.vars.push((d.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn fields(v: Value, path: &[String]) -> R<Value> {
        let mut v = v;
        for f in path {
            v = v.field(f).map_err(|err| ExecError::Field {
                field: f.clone(),
                err,
            })?;
        }
        Ok(v)
    }

    fn arg(&mut self, a: &Arg, dot: &Value) -> R<Value> {
        Ok(match a {
            Arg::Func(name) => self.call(name, &[], dot, None)?,
            Arg::Field(path) => Self::fields(dot.clone(), path)?,
            Arg::Var(name, path) => Self::fields(self.var(name)?, path)?,
            Arg::Str(s) => Value::Str(s.clone()),
            Arg::Int(i) => Value::Int(*i),
            Arg::Float(f) => Value::Float(*f),
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Nil => Value::Nil,
            Arg::Sub(p, path) => {
                let v = self.pipe(p, dot)?;
                Self::fields(v, path)?
            }
        })
    }

    fn command(&mut self, args: &[Arg], dot: &Value, fin: Option<Value>) -> R<Value> {
        if let Some(Arg::Func(name)) = args.first() {
            return self.call(name, &args[1..], dot, fin);
        }
        if args.len() > 1 || fin.is_some() {
            return Err("can't give argument to non-function".into());
        }
        self.arg(&args[0], dot)
    }

    fn call(&mut self, name: &str, args: &[Arg], dot: &Value, fin: Option<Value>) -> R<Value> {
        // `and` and `or` evaluate lazily.
        if name == "and" || name == "or" {
            let n = args.len() + usize::from(fin.is_some());
            if n == 0 {
                return Err(format!(
                    "at <{name}>: wrong number of args for {name}: want at least 1 got 0"
                )
                .into());
            }
            let mut last = Value::Nil;
            for a in args {
                last = self.arg(a, dot)?;
                if last.truth() != (name == "and") {
                    return Ok(last);
                }
            }
            if let Some(f) = fin {
                last = f;
            }
            return Ok(last);
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.arg(a, dot)?);
        }
        if let Some(f) = fin {
            vals.push(f);
        }
        builtin(name, &vals, self.env).map_err(|err| ExecError::Call {
            func: name.to_string(),
            err: Box::new(err),
        })
    }
}

fn want(name: &str, vals: &[Value], n: usize) -> R<()> {
    if vals.len() != n {
        return Err(ExecError::ArgCount {
            func: name.to_string(),
            want: n,
            got: vals.len(),
        });
    }
    Ok(())
}

#[derive(PartialEq, PartialOrd)]
enum Basic {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

fn basic(v: &Value) -> R<Basic> {
    Ok(match v {
        Value::Bool(b) => Basic::Bool(*b),
        Value::Int(i) => Basic::Int(*i),
        Value::Float(f) => Basic::Float(*f),
        Value::Str(s) => Basic::Str(s.clone()),
        _ => return Err("invalid type for comparison".into()),
    })
}

fn same_kind(a: &Basic, b: &Basic) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn compare(name: &str, vals: &[Value]) -> R<bool> {
    if name == "eq" {
        if vals.len() < 2 {
            return Err("missing argument for comparison".into());
        }
        let a = basic(&vals[0])?;
        for v in &vals[1..] {
            let b = basic(v)?;
            if !same_kind(&a, &b) {
                return Err("incompatible types for comparison".into());
            }
            if a == b {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    want(name, vals, 2)?;
    let (a, b) = (basic(&vals[0])?, basic(&vals[1])?);
    if !same_kind(&a, &b) {
        return Err("incompatible types for comparison".into());
    }
    if name == "ne" {
        return Ok(a != b);
    }
    if matches!(a, Basic::Bool(_)) {
        return Err("invalid type for comparison".into());
    }
    // Go defines gt as !le and ge as !lt, which makes both true when a
    // float is NaN
    Ok(match name {
        "lt" => a < b,
        "le" => a <= b,
        "gt" => a.partial_cmp(&b).is_none_or(|o| o.is_gt()),
        _ => a.partial_cmp(&b).is_none_or(|o| o.is_ge()),
    })
}

/// `net.SplitHostPort`, or `None` when `s` has no port.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return Some((host, port));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') {
        return None;
    }
    Some((host, port))
}

/// Go's `unicode.ToUpper` of one character: the simple mapping, so a
/// character whose upper case is several characters (`ß`, `ﬁ`) stays.
fn go_upper(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower` of one character (no final-sigma rule).
fn go_lower(c: char) -> char {
    let mut low = c.to_lowercase();
    match (low.next(), low.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Go's `unicode.ToTitle` of one character: the title case of the four
/// digraphs that have one, else the simple upper case.
fn go_title_char(c: char) -> char {
    match c {
        'Ǆ' | 'ǅ' | 'ǆ' => 'ǅ',
        'Ǉ' | 'ǈ' | 'ǉ' => 'ǈ',
        'Ǌ' | 'ǋ' | 'ǌ' => 'ǋ',
        'Ǳ' | 'ǲ' | 'ǳ' => 'ǲ',
        c => go_upper(c),
    }
}

/// Go's `strings.Title`.
fn title(s: &str) -> String {
    let mut prev_sep = true;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if prev_sep {
            out.push(go_title_char(c));
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        };
    }
    out
}

fn go_sprint(vals: &[Value], ln: bool) -> String {
    let mut out = String::new();
    for (i, v) in vals.iter().enumerate() {
        let is_str = |v: &Value| matches!(v, Value::Str(_));
        if i > 0 && (ln || (!is_str(v) && !is_str(&vals[i - 1]))) {
            out.push(' ');
        }
        out.push_str(&match v {
            Value::Nil => "<nil>".to_string(),
            v => v.display(),
        });
    }
    if ln {
        out.push('\n');
    }
    out
}

fn sample_arg(v: &Value) -> R<Arc<Sample>> {
    match v {
        Value::Sample(s) => Ok(s.clone()),
        Value::Nil => Err("invalid memory address or nil pointer dereference".into()),
        v => Err(format!(
            "wrong type for value; expected *template.sample; got {}",
            v.go_type()
        )
        .into()),
    }
}

fn builtin(name: &str, v: &[Value], env: &Env<'_>) -> R<Value> {
    let float1 = |f: fn(f64) -> String| -> R<Value> {
        want(name, v, 1)?;
        Ok(Value::Str(f(v[0].to_float()?)))
    };
    let str1 = |f: fn(&str) -> String| -> R<Value> {
        want(name, v, 1)?;
        Ok(Value::Str(f(&v[0].to_str()?)))
    };
    match name {
        "not" => {
            want(name, v, 1)?;
            Ok(Value::Bool(!v[0].truth()))
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => Ok(Value::Bool(compare(name, v)?)),
        "len" => {
            want(name, v, 1)?;
            Ok(Value::Int(match &v[0] {
                Value::Str(s) => s.len() as i64,
                Value::Map(m) => m.len() as i64,
                Value::Samples(s) => s.len() as i64,
                o => return Err(format!("len of type {}", o.go_type()).into()),
            }))
        }
        "index" => {
            let Some(mut cur) = v.first().cloned() else {
                return Err("wrong number of args for index: want at least 1 got 0".into());
            };
            for k in &v[1..] {
                cur = match (&cur, k) {
                    (Value::Map(m), Value::Str(k)) => {
                        Value::Str(m.get(k).cloned().unwrap_or_default())
                    }
                    (Value::Samples(s), Value::Int(i)) => match s.get(*i as usize) {
                        Some(x) if *i >= 0 => Value::Sample(Arc::new(x.clone())),
                        _ => {
                            return Err(
                                format!("error calling index: index out of range: {i}").into()
                            )
                        }
                    },
                    (c, _) => {
                        return Err(format!("can't index item of type {}", c.go_type()).into())
                    }
                };
            }
            Ok(cur)
        }
        "print" => Ok(Value::Str(go_sprint(v, false))),
        "println" => Ok(Value::Str(go_sprint(v, true))),
        "printf" => {
            let Some(f) = v.first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            };
            Ok(Value::Str(sprintf(&f.to_str()?, &v[1..])))
        }
        "urlquery" => Ok(Value::Str(query_escape(&go_sprint(v, false)))),
        "query" => {
            want(name, v, 1)?;
            Ok(Value::Samples(Arc::new((env.query)(&v[0].to_str()?)?)))
        }
        "first" => {
            want(name, v, 1)?;
            match &v[0] {
                Value::Samples(s) => match s.first() {
                    Some(x) => Ok(Value::Sample(Arc::new(x.clone()))),
                    None => Err("first() called on vector with no elements".into()),
                },
                o => Err(format!(
                    "wrong type for value; expected template.queryResult; got {}",
                    o.go_type()
                )
                .into()),
            }
        }
        "label" => {
            want(name, v, 2)?;
            let l = v[0].to_str()?;
            let s = sample_arg(&v[1])?;
            Ok(Value::Str(s.labels.get(&l).cloned().unwrap_or_default()))
        }
        "value" => {
            want(name, v, 1)?;
            Ok(Value::Float(sample_arg(&v[0])?.value))
        }
        "strvalue" => {
            want(name, v, 1)?;
            let s = sample_arg(&v[0])?;
            Ok(Value::Str(
                s.labels.get("__value__").cloned().unwrap_or_default(),
            ))
        }
        "sortByLabel" => {
            want(name, v, 2)?;
            let l = v[0].to_str()?;
            let Value::Samples(s) = &v[1] else {
                return Err(format!(
                    "wrong type for value; expected template.queryResult; got {}",
                    v[1].go_type()
                )
                .into());
            };
            let mut s: Vec<Sample> = s.as_ref().clone();
            let empty = String::new();
            s.sort_by(|a, b| {
                a.labels
                    .get(&l)
                    .unwrap_or(&empty)
                    .cmp(b.labels.get(&l).unwrap_or(&empty))
            });
            Ok(Value::Samples(Arc::new(s)))
        }
        "reReplaceAll" => {
            want(name, v, 3)?;
            let re = regex::Regex::new(&v[0].to_str()?)
                .map_err(|e| format!("regexp: Compile({}): {e}", quote_ascii(&v[0].display())))
                .map_err(ExecError::Other)?;
            Ok(Value::Str(
                re.replace_all(&v[2].to_str()?, v[1].to_str()?.as_str())
                    .into_owned(),
            ))
        }
        "match" => {
            want(name, v, 2)?;
            let re = regex::Regex::new(&v[0].to_str()?).map_err(|e| e.to_string())?;
            Ok(Value::Bool(re.is_match(&v[1].to_str()?)))
        }
        "title" => str1(title),
        "toUpper" => str1(|s| s.chars().map(go_upper).collect()),
        "toLower" => str1(|s| s.chars().map(go_lower).collect()),
        "safeHtml" => str1(|s| s.to_string()),
        "graphLink" => str1(|s| format!("/graph?g0.expr={}&g0.tab=0", query_escape(s))),
        "tableLink" => str1(|s| format!("/graph?g0.expr={}&g0.tab=1", query_escape(s))),
        "humanize" => float1(format::humanize),
        "humanize1024" => float1(format::humanize1024),
        "humanizeDuration" => float1(format::humanize_duration),
        "humanizePercentage" => float1(format::humanize_percentage),
        "humanizeTimestamp" => {
            want(name, v, 1)?;
            Ok(Value::Str(format::humanize_timestamp(v[0].to_float()?)?))
        }
        "pathPrefix" => {
            want(name, v, 0)?;
            let path = url::Url::parse(env.external_url)
                .map(|u| u.path().trim_end_matches('/').to_string())
                .unwrap_or_default();
            Ok(Value::Str(path))
        }
        "externalURL" => {
            want(name, v, 0)?;
            Ok(Value::Str(env.external_url.to_string()))
        }
        "parseDuration" => {
            want(name, v, 1)?;
            let d = (env.parse_duration)(&v[0].to_str()?)?;
            Ok(Value::Float(d.as_secs_f64()))
        }
        "stripPort" => str1(|s| match split_host_port(s) {
            Some((h, _)) => h.to_string(),
            None => s.to_string(),
        }),
        "stripDomain" => str1(|s| {
            let (host, port) = match split_host_port(s) {
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            };
            if host.parse::<std::net::IpAddr>().is_ok() {
                return s.to_string();
            }
            let short = host.split('.').next().unwrap_or(host);
            match port {
                Some(p) => format!("{short}:{p}"),
                None => short.to_string(),
            }
        }),
        _ => Err(format!("function {name:?} not defined").into()),
    }
}

/// Converts a label set to the map templates see.
pub fn labels_map(ls: &tsdb::labels::Labels) -> BTreeMap<String, String> {
    ls.iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}
