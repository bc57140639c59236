//! Runs PromQL test scripts in Prometheus's `promqltest` text format:
//! our own `testdata/*.test` (must all pass) and, when present, the
//! upstream files in `../../shared/promql-tests` (reported per file; those
//! listed in `testdata/upstream-passing.txt` must keep passing).
//!
//! Set `PROMQLTEST_VERBOSE=1` to print every failure,
//! `PROMQLTEST_ONLY=<substring>` to run only matching upstream files, and
//! `PROMQLTEST_WRITE_PASSING=1` to rewrite the list of passing upstream
//! files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use promql::{Engine, EngineOptions, QueryResult, Value};
use tsdb::read::MemQueryable;

#[path = "support/notation.rs"]
mod notation;
use notation::{
    almost_equal, expand_any, expand_values, histograms_match, parse_series, parse_time,
    parse_value, Val,
};

#[derive(Default, Debug)]
struct Report {
    passed: usize,
    failed: usize,
    skipped: usize,
    messages: Vec<String>,
}

/// What an eval expects.
#[derive(Default)]
struct Expect {
    fail: bool,
    fail_msg: Option<String>,
    fail_regex: Option<String>,
    ordered: bool,
    string: Option<String>,
    /// `expect range vector from .. to .. step ..` (start, step).
    range_vector: Option<(i64, i64)>,
    warn: Option<bool>,
    warn_msg: Option<String>,
    info: Option<bool>,
    info_msg: Option<String>,
    lines: Vec<String>,
    unsupported: Option<String>,
}

struct Eval {
    line: usize,
    expr: String,
    /// `Some((start, end, step))` for range evals, else the instant time.
    range: Option<(i64, i64, i64)>,
    at: i64,
    expect: Expect,
}

/// A test script's state.
struct Runner {
    engine: Engine,
    /// The same engine evaluating every node step by step: each eval's
    /// answer must equal the first's.
    step_by_step: Engine,
    store: MemQueryable,
    /// Why the loaded data cannot be represented (native histograms, ...).
    data_unsupported: Option<String>,
    /// Names of loaded series whose samples are native histograms (not
    /// loaded); evals that may touch them are skipped.
    histogram_names: Vec<String>,
    report: Report,
    file: String,
}

impl Runner {
    fn new(file: &str) -> Self {
        Runner {
            engine: Engine::new(EngineOptions::default()),
            step_by_step: Engine::new(EngineOptions::default()).step_by_step(),
            store: MemQueryable::new(),
            data_unsupported: None,
            histogram_names: Vec::new(),
            report: Report::default(),
            file: file.to_string(),
        }
    }

    fn fail(&mut self, line: usize, msg: String) {
        self.report.failed += 1;
        self.report
            .messages
            .push(format!("{}:{line}: FAIL {msg}", self.file));
    }

    fn skip(&mut self, line: usize, msg: String) {
        self.report.skipped += 1;
        self.report
            .messages
            .push(format!("{}:{line}: skip {msg}", self.file));
    }

    fn load(&mut self, step: i64, lines: &[(usize, String)]) {
        for (ln, l) in lines {
            let (labels, rest) = match parse_series(l) {
                Ok(x) => x,
                Err(e) => {
                    self.data_unsupported = Some(format!("unparsable series line {ln}: {e}"));
                    continue;
                }
            };
            if rest.starts_with('@') {
                self.data_unsupported = Some(format!("series annotation on line {ln}"));
                continue;
            }
            match expand_any(rest) {
                Ok(vals) => {
                    for (i, v) in vals.into_iter().enumerate() {
                        match v {
                            Some(Val::F(v)) => self.store.add(&labels, i as i64 * step, v),
                            Some(Val::H(h, _)) => {
                                self.store.add_histogram(&labels, i as i64 * step, h)
                            }
                            None => {}
                        }
                    }
                }
                Err(e) => {
                    self.data_unsupported = Some(format!("line {ln}: {e}"));
                }
            }
        }
    }

    /// Adds the classic histograms of a `load_with_nhcb` block once more,
    /// converted to histograms with custom bounds under their base name.
    fn load_nhcb(&mut self, step: i64, lines: &[(usize, String)]) -> Result<(), String> {
        use std::collections::BTreeMap;
        use tsdb::histogram::ClassicHistogram;
        let mut groups: BTreeMap<tsdb::labels::Labels, BTreeMap<i64, ClassicHistogram>> =
            BTreeMap::new();
        for (_, l) in lines {
            let (labels, rest) = parse_series(l)?;
            let Some(name) = labels.metric_name().map(str::to_string) else {
                continue;
            };
            let (kind, base) = if let Some(b) = name.strip_suffix("_bucket") {
                (0, b)
            } else if let Some(b) = name.strip_suffix("_count") {
                (1, b)
            } else if let Some(b) = name.strip_suffix("_sum") {
                (2, b)
            } else {
                continue;
            };
            let le = match kind {
                0 => match labels.get("le").and_then(parse_value) {
                    Some(le) if !le.is_nan() => le,
                    _ => continue,
                },
                _ => 0.0,
            };
            let key = labels.with("__name__", base).without(&["le"]);
            let series = groups.entry(key).or_default();
            for (i, v) in expand_any(rest)?.into_iter().enumerate() {
                let Some(Val::F(v)) = v else { continue };
                let h = series.entry(i as i64 * step).or_default();
                match kind {
                    0 => h.set_bucket(le, v),
                    1 => h.set_count(v),
                    _ => h.set_sum(v),
                }
            }
        }
        for (labels, by_time) in groups {
            for (t, h) in by_time {
                self.store
                    .add_histogram(&labels, t, h.convert().map_err(|e| e.to_string())?);
            }
        }
        Ok(())
    }

    fn eval(&mut self, ev: Eval) {
        if let Some(why) = &ev.expect.unsupported {
            let why = why.clone();
            return self.skip(ev.line, why);
        }
        if let Some(why) = &self.data_unsupported {
            let why = why.clone();
            return self.skip(ev.line, format!("loaded data unsupported: {why}"));
        }
        if let Some(why) = self.touches_histograms(&ev.expr) {
            return self.skip(ev.line, why);
        }
        let run = |engine: &Engine| match ev.range {
            Some((s, e, st)) => engine.range_query(&self.store, &ev.expr, s, e, st),
            None => engine.instant_query(&self.store, &ev.expr, ev.at),
        };
        let res = run(&self.engine);
        if let Err(e) = same_answer(&res, &run(&self.step_by_step)) {
            return self.fail(
                ev.line,
                format!(
                    "{}: whole-range and step-by-step answers differ: {e}",
                    ev.expr
                ),
            );
        }
        let x = &ev.expect;
        let res = match (res, x.fail) {
            (Err(e), true) => {
                let msg = e.to_string();
                if let Some(want) = &x.fail_msg {
                    if msg.trim() != want.trim() {
                        return self.fail(
                            ev.line,
                            format!("{}: error {msg:?}, want {want:?}", ev.expr),
                        );
                    }
                }
                if let Some(re) = &x.fail_regex {
                    let ok = regex::Regex::new(re)
                        .map(|r| r.is_match(&msg))
                        .unwrap_or(false);
                    if !ok {
                        return self.fail(ev.line, format!("{}: error {msg:?} !~ {re:?}", ev.expr));
                    }
                }
                self.report.passed += 1;
                return;
            }
            (Err(e), false) => {
                return self.fail(ev.line, format!("{}: unexpected error: {e}", ev.expr))
            }
            (Ok(_), true) => return self.fail(ev.line, format!("{}: expected an error", ev.expr)),
            (Ok(r), false) => r,
        };
        if let Some(w) = x.warn {
            if w == res.warnings.is_empty() {
                return self.fail(
                    ev.line,
                    format!(
                        "{}: warnings {:?}, expected some: {w}",
                        ev.expr, res.warnings
                    ),
                );
            }
        }
        if let Some(i) = x.info {
            if i == res.infos.is_empty() {
                return self.fail(
                    ev.line,
                    format!("{}: infos {:?}, expected some: {i}", ev.expr, res.infos),
                );
            }
        }
        if let Some(m) = &x.warn_msg {
            if !res.warnings.contains(m) {
                return self.fail(
                    ev.line,
                    format!("{}: warnings {:?}, want {m:?}", ev.expr, res.warnings),
                );
            }
        }
        if let Some(m) = &x.info_msg {
            if !res.infos.contains(m) {
                return self.fail(
                    ev.line,
                    format!("{}: infos {:?}, want {m:?}", ev.expr, res.infos),
                );
            }
        }
        match self.compare(&ev, &res.value) {
            Ok(()) => self.report.passed += 1,
            Err(e) => self.fail(ev.line, format!("{}: {e}", ev.expr)),
        }
    }

    /// Whether `expr` may select native-histogram series we did not load.
    fn touches_histograms(&self, expr: &str) -> Option<String> {
        if self.histogram_names.is_empty() {
            return None;
        }
        let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
        for name in &self.histogram_names {
            for (i, _) in expr.match_indices(name.as_str()) {
                let before = expr[..i].chars().next_back();
                let after = expr[i + name.len()..].chars().next();
                if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
                    return Some(format!("selects native histogram series {name}"));
                }
            }
        }
        let anonymous = expr.starts_with('{')
            || expr.contains("({")
            || expr.contains(" {")
            || expr.contains("__name__");
        anonymous.then(|| "selector may match native histogram series".to_string())
    }

    fn compare(&self, ev: &Eval, got: &Value) -> Result<(), String> {
        let x = &ev.expect;
        if let Some(s) = &x.string {
            return match got {
                Value::String { v, .. } if v == s => Ok(()),
                other => Err(format!("got {other:?}, want string {s:?}")),
            };
        }
        match got {
            Value::Scalar { v, .. } => {
                let [line] = x.lines.as_slice() else {
                    return Err(format!("got scalar {v}, want {:?}", x.lines));
                };
                let want = parse_value(line.trim())
                    .or_else(|| {
                        // "{} 2" style
                        let (l, rest) = parse_series(line).ok()?;
                        l.is_empty().then(|| parse_value(rest.trim())).flatten()
                    })
                    .ok_or_else(|| format!("bad scalar expectation {line:?}"))?;
                if almost_equal(*v, want) {
                    Ok(())
                } else {
                    Err(format!("got scalar {v}, want {want}"))
                }
            }
            Value::String { v, .. } => Err(format!("got string {v:?}")),
            Value::Vector(samples) => {
                let mut want = Vec::new();
                for l in &x.lines {
                    let (labels, rest) = parse_series(l)?;
                    let v = match expand_any(rest)?.as_slice() {
                        [Some(v)] => v.clone(),
                        _ => return Err(format!("bad expected value in {l:?}")),
                    };
                    want.push((labels, v));
                }
                if want.len() != samples.len() {
                    return Err(format!(
                        "got {} samples, want {}: got {}",
                        samples.len(),
                        want.len(),
                        show_vector(samples)
                    ));
                }
                for (i, (labels, v)) in want.iter().enumerate() {
                    let found = if x.ordered {
                        Some(&samples[i]).filter(|s| &s.metric == labels)
                    } else {
                        samples.iter().find(|s| &s.metric == labels)
                    };
                    match (found, v) {
                        (Some(s), Val::F(v)) if s.h.is_none() && almost_equal(s.v, *v) => {}
                        (Some(s), Val::H(h, set))
                            if s.h.as_deref().is_some_and(|g| histograms_match(h, g, *set)) => {}
                        (Some(s), _) => {
                            return Err(format!(
                                "{labels}: got {}, want {v:?}",
                                show_value(s.v, s.h.as_deref())
                            ))
                        }
                        (None, _) => {
                            return Err(format!(
                                "missing {labels} (ordered: {}); got {}",
                                x.ordered,
                                show_vector(samples)
                            ))
                        }
                    }
                }
                Ok(())
            }
            Value::Matrix(series) => {
                let (start, step) = match (ev.range, x.range_vector) {
                    (Some((s, _, st)), _) => (s, st),
                    (None, Some(rv)) => rv,
                    (None, None) => {
                        return Err("got a range vector; no `expect range vector` given".into())
                    }
                };
                let mut want = Vec::new();
                for l in &x.lines {
                    let (labels, rest) = parse_series(l)?;
                    let vals = expand_any(rest)?;
                    let mut pts: Vec<(i64, f64)> = Vec::new();
                    let mut hpts = Vec::new();
                    for (i, v) in vals.into_iter().enumerate() {
                        let t = start + i as i64 * step;
                        match v {
                            Some(Val::F(v)) => pts.push((t, v)),
                            Some(Val::H(h, set)) => hpts.push((t, h, set)),
                            None => {}
                        }
                    }
                    want.push((labels, pts, hpts));
                }
                let got_nonempty: Vec<_> = series
                    .iter()
                    .filter(|s| !s.points.is_empty() || !s.hpoints.is_empty())
                    .collect();
                if want.len() != got_nonempty.len() {
                    return Err(format!(
                        "got {} series, want {}: got {:?}",
                        got_nonempty.len(),
                        want.len(),
                        series
                            .iter()
                            .map(|s| (s.metric.to_string(), &s.points))
                            .collect::<Vec<_>>()
                    ));
                }
                for (labels, pts, hpts) in &want {
                    let Some(s) = series.iter().find(|s| &s.metric == labels) else {
                        return Err(format!("missing series {labels}"));
                    };
                    let same = s.points.len() == pts.len()
                        && s.points
                            .iter()
                            .zip(pts)
                            .all(|(a, b)| a.0 == b.0 && almost_equal(a.1, b.1));
                    if !same {
                        return Err(format!("{labels}: got {:?}, want {:?}", s.points, pts));
                    }
                    let hsame = s.hpoints.len() == hpts.len()
                        && s.hpoints
                            .iter()
                            .zip(hpts)
                            .all(|(a, b)| a.0 == b.0 && histograms_match(&b.1, &a.1, b.2));
                    if !hsame {
                        return Err(format!(
                            "{labels}: got histograms {:?}, want {:?}",
                            s.hpoints, hpts
                        ));
                    }
                }
                Ok(())
            }
        }
    }
}

/// Whether two evaluations of one query gave the same answer: the same
/// error, or the same value (every float alike as its shortest
/// round-tripping form, so bit for bit but for NaN payloads), warnings,
/// infos and samples counted at each step.
fn same_answer(
    a: &Result<QueryResult, promql::Error>,
    b: &Result<QueryResult, promql::Error>,
) -> Result<(), String> {
    match (a, b) {
        (Err(a), Err(b)) if a.to_string() == b.to_string() => Ok(()),
        (Ok(a), Ok(b)) => {
            let (va, vb) = (format!("{:?}", a.value), format!("{:?}", b.value));
            if va != vb {
                return Err(format!("value {va} against {vb}"));
            }
            if (&a.warnings, &a.infos) != (&b.warnings, &b.infos) {
                return Err(format!(
                    "annotations {:?} {:?} against {:?} {:?}",
                    a.warnings, a.infos, b.warnings, b.infos
                ));
            }
            let (sa, sb) = (&a.stats, &b.stats);
            if (
                sa.total_samples,
                sa.peak_samples,
                &sa.total_samples_per_step,
            ) != (
                sb.total_samples,
                sb.peak_samples,
                &sb.total_samples_per_step,
            ) {
                return Err(format!(
                    "samples {} (peak {}) against {} (peak {})",
                    sa.total_samples, sa.peak_samples, sb.total_samples, sb.peak_samples
                ));
            }
            Ok(())
        }
        (a, b) => Err(format!(
            "{:?} against {:?}",
            a.as_ref().map(|_| "a value"),
            b.as_ref().map(|_| "a value")
        )),
    }
}

fn show_vector(v: &[promql::VectorSample]) -> String {
    let mut s = String::new();
    for e in v {
        let _ = write!(s, "{} {}; ", e.metric, show_value(e.v, e.h.as_deref()));
    }
    s
}

fn show_value(v: f64, h: Option<&tsdb::histogram::FloatHistogram>) -> String {
    match h {
        Some(h) => format!("{h:?}"),
        None => v.to_string(),
    }
}

fn parse_expect(x: &mut Expect, rest: &str) {
    let rest = rest.trim();
    let (kind, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let arg = arg.trim();
    let msg_or_regex = |arg: &str| -> (Option<String>, Option<String>) {
        if let Some(m) = arg.strip_prefix("msg:") {
            (Some(m.trim().to_string()), None)
        } else if let Some(r) = arg.strip_prefix("regex:") {
            (None, Some(r.trim().to_string()))
        } else {
            (None, None)
        }
    };
    match kind {
        "fail" => {
            x.fail = true;
            let (m, r) = msg_or_regex(arg);
            x.fail_msg = m;
            x.fail_regex = r;
        }
        "ordered" => x.ordered = true,
        "warn" => {
            x.warn = Some(true);
            x.warn_msg = msg_or_regex(arg).0;
        }
        "no_warn" => x.warn = Some(false),
        "info" => {
            x.info = Some(true);
            x.info_msg = msg_or_regex(arg).0;
        }
        "no_info" => x.info = Some(false),
        "string" => {
            let s = arg;
            let unq = if s.len() >= 2 && (s.starts_with('"') || s.starts_with('`')) {
                let inner = &s[1..s.len() - 1];
                if s.starts_with('"') {
                    inner.replace("\\\"", "\"").replace("\\\\", "\\")
                } else {
                    inner.to_string()
                }
            } else {
                s.to_string()
            };
            x.string = Some(unq);
        }
        "range" => {
            // range vector from A to B step S
            let w: Vec<&str> = arg.split_whitespace().collect();
            match w.as_slice() {
                ["vector", "from", a, "to", _b, "step", s] => {
                    match (parse_time(a), parse_time(s)) {
                        (Some(a), Some(s)) => x.range_vector = Some((a, s)),
                        _ => x.unsupported = Some(format!("bad expect range: {rest}")),
                    }
                }
                _ => x.unsupported = Some(format!("bad expect range: {rest}")),
            }
        }
        _ => x.unsupported = Some(format!("unsupported directive `expect {rest}`")),
    }
}

/// An eval's range `(start, end, step)` if any, its time, and its query.
type EvalHeader = (Option<(i64, i64, i64)>, i64, String);

fn parse_eval_header(cmd: &str, rest: &str) -> Result<EvalHeader, String> {
    let _ = cmd;
    let w: Vec<&str> = rest.splitn(2, char::is_whitespace).collect();
    match w.first().copied() {
        Some("instant") => {
            let r = w.get(1).copied().unwrap_or("").trim();
            let r = r.strip_prefix("at").ok_or("missing `at`")?.trim_start();
            let (t, expr) = r
                .split_once(char::is_whitespace)
                .ok_or("missing expression")?;
            let t = parse_time(t).ok_or_else(|| format!("bad time {t:?}"))?;
            Ok((None, t, expr.trim().to_string()))
        }
        Some("range") => {
            let r = w.get(1).copied().unwrap_or("").trim();
            let parts: Vec<&str> = r.splitn(7, char::is_whitespace).collect();
            match parts.as_slice() {
                ["from", a, "to", b, "step", s, expr] => {
                    let (a, b, s) = (
                        parse_time(a).ok_or("bad start")?,
                        parse_time(b).ok_or("bad end")?,
                        parse_time(s).ok_or("bad step")?,
                    );
                    Ok((Some((a, b, s)), a, expr.trim().to_string()))
                }
                _ => Err(format!("bad range eval {r:?}")),
            }
        }
        _ => Err(format!("bad eval {rest:?}")),
    }
}

fn is_command(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or("");
    !line.starts_with(char::is_whitespace)
        && (first == "clear" || first.starts_with("load") || first.starts_with("eval"))
}

fn run_script(file: &str, text: &str) -> Report {
    let mut r = Runner::new(file);
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let ln = i + 1;
        i += 1;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        // the block that follows the command
        let mut block = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() && !is_command(lines[i]) {
            let b = lines[i].trim();
            if !b.starts_with('#') {
                block.push((i + 1, b.to_string()));
            }
            i += 1;
        }
        let (cmd, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        match cmd {
            "clear" => {
                r.store = MemQueryable::new();
                r.data_unsupported = None;
                r.histogram_names.clear();
            }
            "load" | "load_with_nhcb" => {
                match parse_time(rest.trim()) {
                    Some(step) => r.load(step, &block),
                    None => r.data_unsupported = Some(format!("bad load step on line {ln}")),
                }
                if cmd == "load_with_nhcb" {
                    match parse_time(rest.trim()) {
                        Some(step) => {
                            if let Err(e) = r.load_nhcb(step, &block) {
                                r.data_unsupported = Some(e);
                            }
                        }
                        None => r.data_unsupported = Some(format!("bad load step on line {ln}")),
                    }
                }
            }
            "eval" | "eval_fail" | "eval_ordered" | "eval_warn" | "eval_info" => {
                let mut x = Expect {
                    fail: cmd == "eval_fail",
                    ordered: cmd == "eval_ordered",
                    ..Default::default()
                };
                match cmd {
                    "eval_warn" => x.warn = Some(true),
                    "eval_info" => x.info = Some(true),
                    _ => {}
                }
                let (range, at, expr) = match parse_eval_header(cmd, rest) {
                    Ok(h) => h,
                    Err(e) => {
                        r.skip(ln, format!("unparsable eval: {e}"));
                        continue;
                    }
                };
                for (_, b) in block {
                    if let Some(e) = b.strip_prefix("expect ") {
                        parse_expect(&mut x, e);
                    } else if let Some(m) = b.strip_prefix("expected_fail_message ") {
                        x.fail_msg = Some(m.to_string());
                    } else if let Some(m) = b.strip_prefix("expected_fail_regexp ") {
                        x.fail_regex = Some(m.to_string());
                    } else {
                        x.lines.push(b);
                    }
                }
                r.eval(Eval {
                    line: ln,
                    expr,
                    range,
                    at,
                    expect: x,
                });
            }
            other => {
                r.skip(ln, format!("unknown command {other:?}"));
            }
        }
    }
    r.report
}

fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "test"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn verbose() -> bool {
    std::env::var_os("PROMQLTEST_VERBOSE").is_some()
}

#[test]
fn own_testdata() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let files = test_files(&dir);
    assert!(!files.is_empty(), "no test files in {}", dir.display());
    let mut problems = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&f).expect("test file readable");
        let rep = run_script(&name, &text);
        println!(
            "{name}: {} passed, {} failed, {} skipped",
            rep.passed, rep.failed, rep.skipped
        );
        assert!(rep.passed > 0, "{name} ran no evals");
        if rep.failed > 0 || rep.skipped > 0 {
            problems.extend(rep.messages);
        }
    }
    assert!(problems.is_empty(), "failures:\n{}", problems.join("\n"));
}

#[test]
fn upstream() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/promql-tests");
    if !root.is_dir() {
        println!(
            "skipping upstream promqltest files: {} does not exist",
            root.display()
        );
        return;
    }
    let list_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/upstream-passing.txt");
    let listed: Vec<String> = std::fs::read_to_string(&list_path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    let mut passing = Vec::new();
    let mut regressions = Vec::new();
    let (mut tp, mut tf, mut ts) = (0, 0, 0);
    for d in dirs {
        let dname = d
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        for f in test_files(&d) {
            let fname = f
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let name = format!("{dname}/{fname}");
            if let Ok(only) = std::env::var("PROMQLTEST_ONLY") {
                if !name.contains(&only) {
                    continue;
                }
            }
            let Ok(text) = std::fs::read_to_string(&f) else {
                println!("{name}: unreadable");
                continue;
            };
            let rep = run_script(&name, &text);
            let complete = rep.failed == 0 && rep.skipped == 0 && rep.passed > 0;
            println!(
                "{name}: {} passed, {} failed, {} skipped{}",
                rep.passed,
                rep.failed,
                rep.skipped,
                if complete { " (complete)" } else { "" }
            );
            tp += rep.passed;
            tf += rep.failed;
            ts += rep.skipped;
            if verbose() {
                for m in &rep.messages {
                    println!("  {m}");
                }
            }
            if complete {
                passing.push(name.clone());
            } else if listed.contains(&name) {
                regressions.push(format!("{name}:\n  {}", rep.messages.join("\n  ")));
            }
        }
    }
    println!("upstream total: {tp} passed, {tf} failed, {ts} skipped");
    if std::env::var_os("PROMQLTEST_WRITE_PASSING").is_some() {
        let mut s = String::from(
            "# Upstream promqltest files that pass completely (no failures, no skips).\n",
        );
        for p in &passing {
            s.push_str(p);
            s.push('\n');
        }
        std::fs::write(&list_path, s).expect("write upstream-passing.txt");
    }
    assert!(
        regressions.is_empty(),
        "listed upstream files no longer pass:\n{}",
        regressions.join("\n")
    );
}

#[test]
fn series_notation() {
    let v = expand_values(&["0+10x2", "_", "stale", "1x1", "-1-1x1", "_x2", "1e3"]).unwrap();
    assert_eq!(v.len(), 3 + 1 + 1 + 2 + 2 + 2 + 1);
    assert_eq!(&v[..3], &[Some(0.0), Some(10.0), Some(20.0)]);
    assert_eq!(v[3], None);
    assert!(v[4].is_some_and(promql::is_stale));
    assert_eq!(&v[7..9], &[Some(-1.0), Some(-2.0)]);
    let (l, rest) = parse_series("foo{a=\"b\", c=\"d\\\"\"} 1 2").unwrap();
    assert_eq!(l.to_string(), "foo{a=\"b\", c=\"d\\\"\"}");
    assert_eq!(rest.trim(), "1 2");
    assert!(parse_series("foo{a=\"b\"").is_err());
}
