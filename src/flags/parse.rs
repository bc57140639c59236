//! Reading the command line as Prometheus's flag library reads it:
//! `--name=value`, `--name value`, `--name` / `--no-name` for booleans,
//! `-h`; a flag that is not a list may be given once. Errors carry the
//! library's wording (`unknown long flag '--foo'`).

use std::collections::HashMap;

use super::table::{spec, Check, Kind, Spec, FLAGS};

/// What the command line set.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// The values given, by flag name (booleans as "true"/"false").
    pub given: HashMap<&'static str, Vec<String>>,
    /// The flags given, in order, each once.
    pub order: Vec<&'static str>,
}

impl Parsed {
    /// The values of `name`: those given, else its default.
    pub fn values(&self, name: &str) -> Vec<String> {
        if let Some(v) = self.given.get(name) {
            return v.clone();
        }
        spec(name)
            .map(|s| s.default.iter().map(|d| d.to_string()).collect())
            .unwrap_or_default()
    }

    /// The last value of `name`, or its default, or "".
    pub fn value(&self, name: &str) -> String {
        self.values(name).pop().unwrap_or_default()
    }

    /// Whether `name` was given on the command line.
    pub fn is_set(&self, name: &str) -> bool {
        self.given.contains_key(name)
    }

    /// A boolean flag's value.
    pub fn bool(&self, name: &str) -> bool {
        self.value(name) == "true"
    }
}

/// Why the command line was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not a flag flint knows, a stray argument, a missing value: the
    /// flag library's message.
    Syntax(String),
    /// A flag's value is not of its kind.
    Value(ValueError),
}

/// Why a flag's value was refused, in the wording of the parser Prometheus
/// uses for the flag's kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not a boolean.
    #[error("strconv.ParseBool: parsing {0:?}: invalid syntax")]
    Bool(String),
    /// Not an integer.
    #[error("strconv.ParseInt: parsing {0:?}: invalid syntax")]
    Int(String),
    /// Not a number.
    #[error("strconv.ParseFloat: parsing {0:?}: invalid syntax")]
    Float(String),
    /// Not a duration in Go's syntax.
    #[error("time: invalid duration {0:?}")]
    GoDuration(String),
    /// Not a duration in Prometheus's syntax.
    #[error(transparent)]
    Duration(#[from] crate::config::DurationError),
    /// Not a byte size.
    #[error(transparent)]
    Bytes(#[from] crate::config::ByteSizeError),
    /// Not a `--log.level`.
    #[error("unrecognized log level {0}")]
    LogLevel(String),
    /// Not a `--log.format`.
    #[error("unrecognized log format {0}")]
    LogFormat(String),
    /// Not one of the flag's words.
    #[error("enum value must be one of {}, got '{value}'", .words.join(","))]
    OneOf {
        /// The words the flag takes.
        words: &'static [&'static str],
        /// The value given.
        value: String,
    },
    /// Not one of the words of a flag that takes several.
    #[error("unknown value {value:?} for flag --{flag}, one of: {}", .words.join(", "))]
    SomeOf {
        /// The flag.
        flag: String,
        /// The words the flag takes.
        words: &'static [&'static str],
        /// The value given.
        value: String,
    },
    /// A word given twice to a flag that takes several.
    #[error("duplicated {value} flag value, got {} already", .seen.join(", "))]
    Duplicated {
        /// The value given again.
        value: String,
        /// The values given before it.
        seen: Vec<String>,
    },
}

fn push(p: &mut Parsed, s: &'static Spec, v: String) -> Result<(), ParseError> {
    let vals = p.given.entry(s.name).or_default();
    if !vals.is_empty() && s.kind != Kind::List {
        return Err(ParseError::Syntax(format!(
            "flag '{}' cannot be repeated",
            s.name
        )));
    }
    if vals.is_empty() {
        p.order.push(s.name);
    }
    // feature names may be given comma separated, as Prometheus takes them
    if s.name == "enable-feature" {
        vals.extend(
            v.split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_string),
        );
    } else {
        vals.push(v);
    }
    Ok(())
}

/// Reads `args` (without the program name).
pub fn parse(args: &[String]) -> Result<Parsed, ParseError> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "-h" {
            push(&mut p, spec("help").expect("help flag"), "true".into())?;
            continue;
        }
        if let Some(short) = a.strip_prefix('-').filter(|r| !r.starts_with('-')) {
            if short.is_empty() {
                return Err(ParseError::Syntax(format!("unexpected {a}")));
            }
            let c: String = short.chars().take(1).collect();
            return Err(ParseError::Syntax(format!("unknown short flag '-{c}'")));
        }
        let Some(long) = a.strip_prefix("--") else {
            return Err(ParseError::Syntax(format!("unexpected {a}")));
        };
        if long.is_empty() {
            // everything after `--` is an argument, and flint takes none
            if let Some(next) = args.get(i) {
                return Err(ParseError::Syntax(format!("unexpected {next}")));
            }
            break;
        }
        let (name, inline) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (long, None),
        };
        if let Some(s) = spec(name) {
            if s.kind == Kind::Bool {
                // Prometheus refuses `--flag=true`; flint takes true/false
                let v = match inline.as_deref() {
                    None => "true".to_string(),
                    Some(v) => parse_bool(v).map_err(ParseError::Value)?.to_string(),
                };
                push(&mut p, s, v)?;
                continue;
            }
            let v = match inline {
                Some(v) => v,
                None => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        v.clone()
                    }
                    None => {
                        return Err(ParseError::Syntax(format!(
                            "expected argument for flag '--{name}'"
                        )))
                    }
                },
            };
            push(&mut p, s, v)?;
            continue;
        }
        if let Some(s) = name
            .strip_prefix("no-")
            .and_then(spec)
            .filter(|s| s.kind == Kind::Bool && inline.is_none())
        {
            push(&mut p, s, "false".into())?;
            continue;
        }
        return Err(ParseError::Syntax(format!("unknown long flag '--{name}'")));
    }
    check_values(&p)?;
    Ok(p)
}

fn parse_bool(v: &str) -> Result<bool, ValueError> {
    match v {
        "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(true),
        "false" | "0" | "f" | "F" | "FALSE" | "False" => Ok(false),
        _ => Err(ValueError::Bool(v.to_string())),
    }
}

/// Checks every given value against its flag's kind, in the order given.
fn check_values(p: &Parsed) -> Result<(), ParseError> {
    for name in &p.order {
        let s = spec(name).expect("parsed flags are known");
        let vals = &p.given[name];
        if let Check::SomeOf(words) = s.check {
            let mut seen: Vec<&str> = Vec::new();
            for v in vals {
                if !words.contains(&v.as_str()) {
                    return Err(ParseError::Value(ValueError::SomeOf {
                        flag: name.to_string(),
                        words,
                        value: v.clone(),
                    }));
                }
                if seen.contains(&v.as_str()) {
                    return Err(ParseError::Value(ValueError::Duplicated {
                        value: v.clone(),
                        seen: seen.iter().map(|s| s.to_string()).collect(),
                    }));
                }
                seen.push(v);
            }
            continue;
        }
        for v in vals {
            check_value(s, v).map_err(ParseError::Value)?;
        }
    }
    Ok(())
}

/// Whether `v` is a value of flag `s`; the error is the wording of the
/// parser Prometheus uses for that kind.
pub fn check_value(s: &Spec, v: &str) -> Result<(), ValueError> {
    match s.check {
        Check::Text | Check::Texts | Check::SomeOf(_) => Ok(()),
        Check::Bool => parse_bool(v).map(|_| ()),
        Check::Duration => Ok(crate::config::PromDuration::parse(v).map(|_| ())?),
        Check::GoDuration => go_duration(v).map(|_| ()),
        Check::Int => int(v).map(|_| ()),
        Check::Int64 => v
            .parse::<i64>()
            .map(|_| ())
            .map_err(|_| ValueError::Int(v.to_string())),
        Check::Float => v
            .parse::<f64>()
            .map(|_| ())
            .map_err(|_| ValueError::Float(v.to_string())),
        Check::Bytes => Ok(crate::config::ByteSize::parse(v).map(|_| ())?),
        Check::OneOf(words) => {
            if words.contains(&v) {
                Ok(())
            } else if s.name == "log.level" {
                Err(ValueError::LogLevel(v.to_string()))
            } else if s.name == "log.format" {
                Err(ValueError::LogFormat(v.to_string()))
            } else {
                Err(ValueError::OneOf {
                    words,
                    value: v.to_string(),
                })
            }
        }
    }
}

/// An integer flag's value: written as an integer or a float (`5e7`),
/// truncated, as Prometheus reads them.
pub fn int(v: &str) -> Result<i64, ValueError> {
    if let Ok(n) = v.parse::<i64>() {
        return Ok(n);
    }
    v.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| f as i64)
        .ok_or_else(|| ValueError::Float(v.to_string()))
}

/// A duration in Go's syntax: decimal numbers with units `ns`, `us`/`µs`,
/// `ms`, `s`, `m`, `h`, `d`, `w`, as in `1.5s` or `1h30m`.
pub fn go_duration(v: &str) -> Result<std::time::Duration, ValueError> {
    let bad = || ValueError::GoDuration(v.to_string());
    if v == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let mut rest = v;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 7.0 * 86400.0,
            _ => return Err(bad()),
        };
        total += num * secs;
        rest = &rest[u..];
    }
    std::time::Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Flags given that the mode does not allow, as `--name`.
pub fn wrong_mode(p: &Parsed, agent: bool) -> Vec<String> {
    use super::table::Mode;
    FLAGS
        .iter()
        .filter(|s| p.is_set(s.name))
        .filter(|s| match s.mode {
            Mode::Both => false,
            Mode::Server => agent,
            Mode::Agent => !agent,
        })
        .map(|s| format!("--{}", s.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn forms_of_a_flag() {
        let p = parse(&args(&[
            "--config.file=a.yml",
            "--storage.tsdb.path",
            "/d",
            "--web.enable-lifecycle",
            "--no-auto-gomemlimit",
            "--web.listen-address=:1",
            "--web.listen-address=:2",
            "--enable-feature=a,b",
            "--enable-feature",
            "c",
            "-h",
        ]))
        .unwrap();
        assert_eq!(p.value("config.file"), "a.yml");
        assert_eq!(p.value("storage.tsdb.path"), "/d");
        assert!(p.bool("web.enable-lifecycle"));
        assert!(!p.bool("auto-gomemlimit"));
        assert!(p.bool("auto-gomaxprocs"));
        assert_eq!(p.values("web.listen-address"), [":1", ":2"]);
        assert_eq!(p.values("enable-feature"), ["a", "b", "c"]);
        assert!(p.bool("help"));
        assert_eq!(p.value("query.timeout"), "2m");
        assert!(!p.is_set("query.timeout"));
    }

    #[test]
    fn errors_in_prometheus_words() {
        let err = |a: &[&str]| parse(&args(a)).unwrap_err();
        let syn = |s: &str| ParseError::Syntax(s.to_string());
        assert_eq!(err(&["--foo"]), syn("unknown long flag '--foo'"));
        assert_eq!(err(&["-c", "x"]), syn("unknown short flag '-c'"));
        assert_eq!(err(&["serve"]), syn("unexpected serve"));
        assert_eq!(
            err(&["--config.file"]),
            syn("expected argument for flag '--config.file'")
        );
        assert_eq!(
            err(&["--no-config.file"]),
            syn("unknown long flag '--no-config.file'")
        );
        assert_eq!(
            err(&["--config.file=a", "--config.file=b"]),
            syn("flag 'config.file' cannot be repeated")
        );
        let val = |s: &str| s.to_string();
        let err = |a: &[&str]| match err(a) {
            ParseError::Value(e) => e.to_string(),
            e => panic!("not a value error: {e:?}"),
        };
        assert_eq!(
            err(&["--query.timeout=abc"]),
            val("not a valid duration string: \"abc\"")
        );
        assert_eq!(
            err(&["--query.max-concurrency=abc"]),
            val("strconv.ParseFloat: parsing \"abc\": invalid syntax")
        );
        assert_eq!(
            err(&["--log.level=verbose"]),
            val("unrecognized log level verbose")
        );
        assert_eq!(
            err(&["--storage.tsdb.wal-compression-type=lz4"]),
            val("enum value must be one of snappy,zstd, got 'lz4'")
        );
        assert!(parse(&args(&["--storage.remote.read-sample-limit=5e7"])).is_ok());
        assert_eq!(int("5e7").unwrap(), 50_000_000);
    }

    #[test]
    fn go_durations() {
        let ms = |v: &str| go_duration(v).unwrap().as_secs_f64() * 1000.0;
        assert_eq!(ms("2ms"), 2.0);
        assert_eq!(ms("1.5s"), 1500.0);
        assert_eq!(ms("1h30m"), 5_400_000.0);
        assert!(go_duration("5x").is_err());
        assert!(go_duration("").is_err());
    }

    #[test]
    fn modes() {
        let p = parse(&args(&[
            "--storage.tsdb.path=/d",
            "--storage.agent.path=/a",
        ]))
        .unwrap();
        assert_eq!(wrong_mode(&p, true), ["--storage.tsdb.path"]);
        assert_eq!(wrong_mode(&p, false), ["--storage.agent.path"]);
    }
}
