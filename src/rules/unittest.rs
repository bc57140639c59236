//! `flint test rules FILE...`: rule unit tests in promtool's format
//! ("Unit testing for rules" in Prometheus's documentation).
//!
//! A test file names rule files (relative to the test file, globs
//! allowed), an `evaluation_interval` (default 1m), an optional
//! `group_eval_order`, and `tests`. Each test loads its `input_series` into
//! a fresh database (one sample every `interval`, from time 0), evaluates
//! every rule group at each evaluation step from 0 to the largest
//! `eval_time` (groups in order, so later rules see earlier output), and
//! compares the alerts firing at each `alert_rule_test` time and the result
//! of each `promql_expr_test` query with what the test expects.
//!
//! Output follows promtool's: `Unit Testing:  FILE`, then `  SUCCESS` or
//! `  FAILED:` followed by one message per failure.
//!
//! ```text
//! let ok = rules::unittest::run_rule_tests(&files, &mut std::io::stdout());
//! std::process::exit(if ok { 0 } else { 1 });
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use tsdb::labels::{Label, Labels};
use tsdb::read::Queryable;

use crate::config::PromDuration;
use crate::gofmt::quote_ascii;
use crate::rules::alerting::AlertState;
use crate::rules::file::{glob, parse_file, GroupDef};
use crate::rules::group::Group;
use crate::rules::manager::{EvalCtx, ManagerOptions};
use crate::rules::notifier::Notifier;

#[path = "unittest/error.rs"]
pub mod error;
#[path = "unittest/notation.rs"]
pub mod notation;

#[cfg(test)]
#[path = "unittest/tests.rs"]
mod tests;

use super::file::scalar_value;
use error::InputError;
use notation::{expand_values, float_e, go_duration, labels_string, parse_series, Point};

/// The default `evaluation_interval`.
pub const DEFAULT_EVALUATION_INTERVAL: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------
// The test file format.

/// A YAML scalar (string, number, bool) read as a string; null is empty.
fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = serde_yaml::Value::deserialize(d)?;
    scalar_value(v).map_err(serde::de::Error::custom)
}

fn scalar_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let v = Option::<BTreeMap<String, serde_yaml::Value>>::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (k, v) in v.unwrap_or_default() {
        out.insert(k, scalar_value(v).map_err(serde::de::Error::custom)?);
    }
    Ok(out)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = scalar(d)?;
    if s.is_empty() {
        return Ok(Duration::ZERO);
    }
    PromDuration::parse(&s)
        .map(|d| d.0)
        .map_err(serde::de::Error::custom)
}

fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match serde_yaml::Value::deserialize(d)? {
        serde_yaml::Value::Null => Ok(0.0),
        serde_yaml::Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| serde::de::Error::custom(format!("invalid number {n}"))),
        serde_yaml::Value::String(s) => notation::parse_number(s.trim())
            .ok_or_else(|| serde::de::Error::custom(format!("invalid number {s:?}"))),
        other => Err(serde::de::Error::custom(format!(
            "expected a number, got {other:?}"
        ))),
    }
}

/// A rule unit test file as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Rule files (globs), relative to the test file.
    #[serde(default, deserialize_with = "nullable")]
    pub rule_files: Vec<String>,
    /// How often rules are evaluated (zero: [`DEFAULT_EVALUATION_INTERVAL`]).
    #[serde(default, deserialize_with = "duration")]
    pub evaluation_interval: Duration,
    /// Values equal when they differ at most in the last bit.
    #[serde(default, deserialize_with = "nullable")]
    pub fuzzy_compare: bool,
    /// Groups evaluated first, in this order (the others follow in file
    /// order).
    #[serde(default, deserialize_with = "nullable")]
    pub group_eval_order: Vec<String>,
    /// The tests.
    #[serde(default, deserialize_with = "nullable")]
    pub tests: Vec<TestGroup>,
}

/// One entry of `tests`: input series and what to check against them.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    /// Time between input samples (zero: the evaluation interval).
    #[serde(default, deserialize_with = "duration")]
    pub interval: Duration,
    /// The input series.
    #[serde(default, deserialize_with = "nullable")]
    pub input_series: Vec<InputSeries>,
    /// Alert checks.
    #[serde(default, deserialize_with = "nullable")]
    pub alert_rule_test: Vec<AlertTest>,
    /// Query checks.
    #[serde(default, deserialize_with = "nullable")]
    pub promql_expr_test: Vec<ExprTest>,
    /// External labels seen by templates (`$externalLabels`).
    #[serde(default, deserialize_with = "scalar_map")]
    pub external_labels: BTreeMap<String, String>,
    /// External URL seen by templates (`$externalURL`).
    #[serde(default, deserialize_with = "scalar")]
    pub external_url: String,
    /// Name of the test, shown with its failures.
    #[serde(default, deserialize_with = "scalar")]
    pub name: String,
}

/// One input series.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    /// `name{label="value", ...}`.
    #[serde(default, deserialize_with = "scalar")]
    pub series: String,
    /// Values in expanding notation (`1+2x10 _ stale`).
    #[serde(default, deserialize_with = "scalar")]
    pub values: String,
}

/// An `alert_rule_test` entry.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertTest {
    /// When to check, from time 0.
    #[serde(default, deserialize_with = "duration")]
    pub eval_time: Duration,
    /// The alert name checked.
    #[serde(default, deserialize_with = "scalar")]
    pub alertname: String,
    /// Every alert of that name expected to fire then.
    #[serde(default, deserialize_with = "nullable")]
    pub exp_alerts: Vec<ExpAlert>,
}

/// An expected firing alert.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExpAlert {
    /// Its labels (`alertname` is added).
    #[serde(default, deserialize_with = "scalar_map")]
    pub exp_labels: BTreeMap<String, String>,
    /// Its expanded annotations.
    #[serde(default, deserialize_with = "scalar_map")]
    pub exp_annotations: BTreeMap<String, String>,
}

/// A `promql_expr_test` entry.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExprTest {
    /// The query.
    #[serde(default, deserialize_with = "scalar")]
    pub expr: String,
    /// When to run it, from time 0.
    #[serde(default, deserialize_with = "duration")]
    pub eval_time: Duration,
    /// The expected result (any order).
    #[serde(default, deserialize_with = "nullable")]
    pub exp_samples: Vec<ExpSample>,
}

/// An expected query result sample.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExpSample {
    /// `name{label="value", ...}` (empty for a scalar result).
    #[serde(default, deserialize_with = "scalar")]
    pub labels: String,
    /// The value.
    #[serde(default, deserialize_with = "number")]
    pub value: f64,
}

impl TestFile {
    /// Parses the text of a test file (unknown fields are errors, as with
    /// promtool's strict decoding).
    pub fn parse(content: &str) -> Result<TestFile, serde_yaml::Error> {
        if content.trim().is_empty() {
            return Ok(TestFile::default());
        }
        serde_yaml::from_str(content)
    }
}

// ---------------------------------------------------------------------
// Running.

/// What testing one file found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileResult {
    /// Warnings (rule file patterns matching nothing), already indented.
    pub warnings: Vec<String>,
    /// Failures, one message each (empty: the file passed).
    pub failures: Vec<String>,
}

/// `flint test rules FILE...`: runs every test file, writing promtool's
/// report to `out`; true when every test of every file passed.
pub fn run_rule_tests(files: &[String], out: &mut impl Write) -> bool {
    let mut all_ok = true;
    for f in files {
        let _ = writeln!(out, "Unit Testing:  {f}");
        let res = test_file(Path::new(f));
        for w in &res.warnings {
            let _ = writeln!(out, "{w}");
        }
        if res.failures.is_empty() {
            let _ = writeln!(out, "  SUCCESS");
        } else {
            all_ok = false;
            let _ = writeln!(out, "  FAILED:");
            for e in &res.failures {
                let _ = writeln!(out, "{e}");
                let _ = writeln!(out);
            }
        }
        let _ = writeln!(out);
    }
    all_ok
}

/// Runs the tests of one file.
pub fn test_file(path: &Path) -> FileResult {
    let file = path.display().to_string();
    let mut res = FileResult::default();
    let content = match std::fs::read_to_string(path) {
        Ok(c) => c,
        Err(e) => {
            res.failures.push(format!("{file}: {e}"));
            return res;
        }
    };
    let tf = match TestFile::parse(&content) {
        Ok(t) => t,
        Err(e) => {
            res.failures.push(format!("{file}: {e}"));
            return res;
        }
    };
    let base = path.parent().unwrap_or(Path::new(""));
    run_test_file(&file, &tf, base, &mut res);
    res
}

/// Runs a parsed test file whose relative rule file names are taken from
/// `base_dir`; `file` names it in messages.
pub fn run_test_file(file: &str, tf: &TestFile, base_dir: &Path, res: &mut FileResult) {
    // rule files
    let mut rule_files: Vec<PathBuf> = Vec::new();
    for pat in &tf.rule_files {
        let full = if pat.is_empty() || Path::new(pat).is_absolute() {
            PathBuf::from(pat)
        } else {
            base_dir.join(pat)
        };
        let m = glob(&full);
        if m.is_empty() {
            res.warnings.push(format!(
                "  WARNING: no file match pattern {}",
                full.display()
            ));
        }
        for f in m {
            if !rule_files.contains(&f) {
                rule_files.push(f);
            }
        }
    }
    let mut defs: Vec<GroupDef> = Vec::new();
    for f in &rule_files {
        match parse_file(f) {
            Ok(g) => defs.extend(g),
            Err(e) => res.failures.extend(e),
        }
    }
    if !res.failures.is_empty() {
        return;
    }
    // evaluation order
    let mut order: Vec<&str> = Vec::new();
    for g in &tf.group_eval_order {
        if order.contains(&g.as_str()) {
            res.failures
                .push(format!("group name repeated in evaluation order: {g}"));
            return;
        }
        if !defs.iter().any(|d| d.name == *g) {
            res.failures
                .push(format!("group name {g} in group_eval_order not found"));
            return;
        }
        order.push(g);
    }
    let rank = |d: &GroupDef| {
        order
            .iter()
            .position(|n| *n == d.name)
            .unwrap_or(order.len())
    };
    defs.sort_by_key(rank); // stable: file order otherwise
    let eval = if tf.evaluation_interval.is_zero() {
        DEFAULT_EVALUATION_INTERVAL
    } else {
        tf.evaluation_interval
    };
    let settings = Settings {
        file,
        eval_ms: eval.as_millis() as i64,
        fuzzy: tf.fuzzy_compare,
    };
    for (i, t) in tf.tests.iter().enumerate() {
        res.failures.extend(run_test(&settings, i, t, &defs));
    }
}

struct Settings<'a> {
    file: &'a str,
    eval_ms: i64,
    fuzzy: bool,
}

/// A temporary database folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "flint-rule-test-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        if p.exists() {
            let _ = std::fs::remove_dir_all(&p);
        }
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An input series ready to load: samples sorted by time, and how many
/// are loaded.
struct Loadable {
    labels: Labels,
    samples: Vec<(i64, f64)>,
    next: usize,
}

fn test_ref(t: &TestGroup, i: usize) -> String {
    if t.name.is_empty() {
        format!("test #{}", i + 1)
    } else {
        format!("test #{} ({:?})", i + 1, t.name)
    }
}

/// Expands the input series of a test; samples at `interval_ms` steps
/// from 0. The same series may be given more than once if its samples do
/// not clash.
fn load_input(t: &TestGroup, interval_ms: i64) -> Result<Vec<Loadable>, InputError> {
    let mut by_series: BTreeMap<Labels, BTreeMap<i64, f64>> = BTreeMap::new();
    for (i, s) in t.input_series.iter().enumerate() {
        let what = format!("input_series[{i}] {:?}", s.series);
        let ls = match parse_series(&s.series) {
            Ok(ls) => ls,
            Err(err) => return Err(InputError::Series { what, err }),
        };
        if ls.is_empty() {
            return Err(InputError::NoLabels(what));
        }
        let points = match expand_values(&s.values) {
            Ok(p) => p,
            Err(err) => return Err(InputError::Values { what, err }),
        };
        let m = by_series.entry(ls.clone()).or_default();
        for (k, p) in points.into_iter().enumerate() {
            let v = match p {
                Point::Missing => continue,
                Point::Stale => f64::from_bits(tsdb::STALE_NAN_BITS),
                Point::Value(v) => v,
            };
            let ts = (k as i64).saturating_mul(interval_ms);
            if let Some(old) = m.insert(ts, v) {
                if old.to_bits() != v.to_bits() {
                    return Err(InputError::Clash {
                        what,
                        labels: ls,
                        at: go_duration(ts),
                    });
                }
            }
        }
    }
    Ok(by_series
        .into_iter()
        .map(|(labels, m)| Loadable {
            labels,
            samples: m.into_iter().collect(),
            next: 0,
        })
        .collect())
}

/// Appends every not yet loaded sample at or before `till_ms`.
fn load_till(db: &tsdb::Db, input: &mut [Loadable], till_ms: i64) -> Result<(), tsdb::Error> {
    let mut app = db.appender();
    for s in input.iter_mut() {
        while let Some(&(t, v)) = s.samples.get(s.next) {
            if t > till_ms {
                break;
            }
            app.append_labels(&s.labels, t, v)?;
            s.next += 1;
        }
    }
    app.commit()?;
    Ok(())
}

/// Runs one test; returns its failures.
fn run_test(st: &Settings<'_>, idx: usize, t: &TestGroup, defs: &[GroupDef]) -> Vec<String> {
    let tref = test_ref(t, idx);
    let named = |msg: String| format!("    {}: {tref}: {msg}", st.file);
    let interval_ms = match t.interval.as_millis() as i64 {
        0 => st.eval_ms,
        ms => ms,
    };
    let mut input = match load_input(t, interval_ms) {
        Ok(i) => i,
        Err(e) => return vec![named(e.to_string())],
    };
    for a in &t.alert_rule_test {
        if a.alertname.is_empty() {
            let in_group = if t.name.is_empty() {
                String::new()
            } else {
                format!(" (in TestGroup {})", t.name)
            };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                PromDuration(a.eval_time)
            )];
        }
    }
    let dir = match TempDir::new() {
        Ok(d) => d,
        Err(e) => return vec![named(format!("cannot create a temporary database: {e}"))],
    };
    let db = match tsdb::Db::open(
        &dir.0,
        tsdb::Options {
            retention_ms: 0,
            retention_bytes: 0,
            max_future_ms: 0,
            no_lockfile: false,
            ..tsdb::Options::default()
        },
    ) {
        Ok(db) => Arc::new(db),
        Err(e) => return vec![named(format!("cannot open a temporary database: {e}"))],
    };
    let ext = Labels::new(
        t.external_labels
            .iter()
            .map(|(k, v)| Label::new(k.clone(), v.clone()))
            .collect(),
    );
    let opts = ManagerOptions {
        external_labels: ext.clone(),
        external_url: t.external_url.clone(),
        ..ManagerOptions::default()
    };
    let engine = promql::Engine::new(promql::EngineOptions {
        lookback_delta_ms: opts.lookback_delta_ms,
        max_samples: opts.max_samples,
        timeout: opts.query_timeout,
    })
    .with_subquery_step(st.eval_ms);
    let ctx = EvalCtx {
        db,
        remote_read: parking_lot::RwLock::new(None),
        subquery_step_ms: std::sync::atomic::AtomicI64::new(engine.subquery_step_ms()),
        engine,
        notifier: Notifier::new(opts.queue_capacity, ext.clone()),
        external_labels: parking_lot::RwLock::new(ext),
        opts,
    };
    let interval = Duration::from_millis(interval_ms as u64);
    let groups: Vec<Group> = defs
        .iter()
        .map(|d| Group::new(d.clone(), d.interval.unwrap_or(interval), true))
        .collect();
    let errs = evaluate(st, t, &ctx, &groups, &mut input);
    drop(groups);
    drop(ctx);
    drop(dir);
    errs
}

fn name_prefix(t: &TestGroup) -> String {
    if t.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", t.name)
    }
}

/// An alert as compared: labels and annotations.
type AlertView = (Labels, Labels);

fn evaluate(
    st: &Settings<'_>,
    t: &TestGroup,
    ctx: &EvalCtx,
    groups: &[Group],
    input: &mut [Loadable],
) -> Vec<String> {
    let max_ms = t
        .alert_rule_test
        .iter()
        .map(|a| a.eval_time)
        .chain(t.promql_expr_test.iter().map(|e| e.eval_time))
        .max()
        .unwrap_or_default()
        .as_millis() as i64;
    let alert_times: Vec<Duration> = t
        .alert_rule_test
        .iter()
        .map(|a| a.eval_time)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut curr = 0;
    let mut errs = Vec::new();
    let mut ts = 0i64;
    while ts <= max_ms {
        if let Err(e) = load_till(&ctx.db, input, ts) {
            errs.push(format!("    {}: loading input series: {e}", st.file));
            return errs;
        }
        let mut eval_errs = Vec::new();
        for g in groups {
            g.eval(ctx, ts.saturating_mul(1_000_000));
            for r in &g.rules {
                if let Some(e) = &r.status.lock().last_error {
                    eval_errs.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        r.def.name,
                        go_duration(ts)
                    ));
                }
            }
        }
        if !eval_errs.is_empty() {
            errs.extend(eval_errs);
            return errs;
        }
        // alert checks whose eval_time falls in [ts, ts + evaluation_interval)
        while let Some(&at) = alert_times.get(curr) {
            let at_ms = at.as_millis() as i64;
            if !(ts <= at_ms && at_ms < ts + st.eval_ms) {
                break;
            }
            for case in t.alert_rule_test.iter().filter(|a| a.eval_time == at) {
                if let Some(e) = check_alerts(t, case, groups) {
                    errs.push(e);
                }
            }
            curr += 1;
        }
        ts += st.eval_ms;
    }
    for case in &t.promql_expr_test {
        if let Some(e) = check_expr(st, t, case, ctx) {
            errs.push(e);
        }
    }
    errs
}

fn check_alerts(t: &TestGroup, case: &AlertTest, groups: &[Group]) -> Option<String> {
    let mut got: Vec<AlertView> = Vec::new();
    for g in groups {
        for r in g
            .rules
            .iter()
            .filter(|r| r.def.alerting && r.def.name == case.alertname)
        {
            let active = r.alerting.lock().active_alerts();
            got.extend(
                active
                    .into_iter()
                    .filter(|a| a.state == AlertState::Firing)
                    .map(|a| (a.labels, a.annotations)),
            );
        }
    }
    let to_labels = |m: &BTreeMap<String, String>| {
        Labels::new(
            m.iter()
                .map(|(k, v)| Label::new(k.clone(), v.clone()))
                .collect(),
        )
    };
    let mut exp: Vec<AlertView> = case
        .exp_alerts
        .iter()
        .map(|a| {
            let mut l = a.exp_labels.clone();
            l.insert("alertname".into(), case.alertname.clone());
            (to_labels(&l), to_labels(&a.exp_annotations))
        })
        .collect();
    got.sort();
    exp.sort();
    if got == exp {
        return None;
    }
    let indent = "            ";
    Some(format!(
        "{}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
        name_prefix(t),
        case.alertname,
        PromDuration(case.eval_time),
        indent_lines(&alerts_string(&exp), indent),
        indent_lines(&alerts_string(&got), indent),
    ))
}

/// promtool's listing of alerts in a failure message.
fn alerts_string(v: &[AlertView]) -> String {
    if v.is_empty() {
        return "[]".to_string();
    }
    let mut s = String::from("[");
    for (i, (l, a)) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let one = format!(
            "\nLabels:{}\nAnnotations:{}",
            labels_string(l),
            labels_string(a)
        );
        s.push_str(&format!("\n{i}:{}", indent_lines(&one, "  ")));
    }
    s.push_str("\n]");
    s
}

/// Prefixes every line but the first with `indent`.
fn indent_lines(s: &str, indent: &str) -> String {
    s.split('\n')
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                format!("{indent}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a got value matches an expected one: equal, both NaN, or with
/// `fuzzy_compare` at most one unit in the last place apart.
pub fn values_match(exp: f64, got: f64, fuzzy: bool) -> bool {
    if exp == got || (exp.is_nan() && got.is_nan()) {
        return true;
    }
    if !fuzzy || exp.is_nan() || got.is_nan() || exp.is_infinite() || got.is_infinite() {
        return false;
    }
    if exp.is_sign_negative() != got.is_sign_negative() {
        return false;
    }
    exp.to_bits().abs_diff(got.to_bits()) <= 1
}

fn samples_string(v: &[(Labels, f64)]) -> String {
    if v.is_empty() {
        return "nil".to_string();
    }
    v.iter()
        .map(|(l, x)| format!("{} {}", labels_string(l), float_e(*x)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_expr(st: &Settings<'_>, t: &TestGroup, case: &ExprTest, ctx: &EvalCtx) -> Option<String> {
    let at = PromDuration(case.eval_time);
    let expr_q = quote_ascii(&case.expr);
    let fail = |e: String| {
        Some(format!(
            "{}    expr: {expr_q}, time: {at}, err: {e}",
            name_prefix(t)
        ))
    };
    let res = match ctx.engine.instant_query(
        ctx.db.as_ref() as &dyn Queryable,
        &case.expr,
        case.eval_time.as_millis() as i64,
    ) {
        Ok(r) => r,
        Err(e) => return fail(e.to_string()),
    };
    let mut got: Vec<(Labels, f64)> = match res.value {
        promql::Value::Vector(v) => v.into_iter().map(|s| (s.metric, s.v)).collect(),
        promql::Value::Scalar { v, .. } => vec![(Labels::empty(), v)],
        _ => return fail("rule result is not a vector or scalar".into()),
    };
    let mut exp: Vec<(Labels, f64)> = Vec::with_capacity(case.exp_samples.len());
    for s in &case.exp_samples {
        match parse_series(&s.labels) {
            Ok(l) => exp.push((l, s.value)),
            Err(e) => return fail(format!("labels {}: {e}", quote_ascii(&s.labels))),
        }
    }
    let by_labels = |a: &(Labels, f64), b: &(Labels, f64)| a.0.cmp(&b.0);
    got.sort_by(by_labels);
    exp.sort_by(by_labels);
    let same = got.len() == exp.len()
        && got
            .iter()
            .zip(&exp)
            .all(|(g, e)| g.0 == e.0 && values_match(e.1, g.1, st.fuzzy));
    if same {
        return None;
    }
    Some(format!(
        "{}    expr: {expr_q}, time: {at},\n        exp: {}\n        got: {}",
        name_prefix(t),
        samples_string(&exp),
        samples_string(&got)
    ))
}
