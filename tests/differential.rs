//! Differential tests: flint and Debian's Prometheus 2.42, loaded with the
//! same data by remote write, answer the same HTTP API requests with the same
//! JSON, and `promtool` (unmodified, from the same package) prints the same
//! against both.
//!
//! Comparison rules: JSON is compared after parsing; sample values are the
//! strings both servers print, so they are compared as strings; `error` texts
//! are left aside (`status`, `errorType` and the HTTP status are compared).
//! Vector results of instant queries and `/api/v1/series` lists are compared
//! as sets, because Prometheus does not define their order; `sort()` /
//! `sort_desc()` results must have the same sequence of values; range-query
//! matrices are compared in order (Prometheus sorts them by labels).
//!
//! Where Prometheus 3 (which flint follows) differs from 2.42 on purpose, the
//! cases are chosen so the difference cannot show:
//! - range selectors are left-open in 3.x, closed in 2.x: every sample sits
//!   123 ms after a whole second and every evaluation time is a whole second
//!   (or half), so no sample is on a boundary; subqueries step on whole
//!   minutes and the evaluation times are 7 s off whole minutes;
//! - 2.42's `avg` and `avg_over_time` use an incremental mean, 3.x sums (with
//!   Kahan compensation) and divides: the gauges hold multiples of 1/8 and
//!   `avg`s only ever see 2 values, so both are exact (`avg` over 3 series is
//!   therefore not asked);
//! - 3.x clamps a counter's extrapolation towards the window start to the
//!   counter's zero point *after* limiting it to half a sample interval,
//!   2.42 before: they differ in `rate`/`increase` over a window that starts
//!   before a counter's first sample, unless that sample is 0. The counters
//!   here therefore start at 0 (as real counters do);
//! - 3.x's `sum` adds with Kahan compensation, 2.42's plainly: sums of
//!   values that are not exact in binary (rates) may differ in the last bits.
//!   Those queries ([`KAHAN`]) are compared with sample values allowed to
//!   differ by [`KAHAN_ULPS`] units in the last place; everything else is
//!   exact;
//! - 3.x adds an `infos` array (e.g. "metric might not be a counter"); 2.42
//!   has none, so `infos` is removed before comparing;
//! - 2.42 has no `limit` parameter on the metadata endpoints, so it is not
//!   sent here (tests/api.rs covers it).

use serde_json::Value;

use crate::common::{enc, Server};
use crate::peers::{form, peers_or_skip, request, run, Dataset, Prometheus};

/// flint and Prometheus with the same data.
struct Pair {
    flint: Server,
    prom: Prometheus,
    data: Dataset,
    _dir: tempfile::TempDir,
}

fn setup(test: &str) -> Option<Pair> {
    if !peers_or_skip(test, &["prometheus", "promtool"]) {
        return None;
    }
    let data = Dataset::new();
    let prom = Prometheus::start();
    let dir = tempfile::tempdir().unwrap();
    let flint = Server::start(
        dir.path(),
        "",
        &[
            "--web.enable-remote-write-receiver",
            "--storage.tsdb.retention.time=100y",
        ],
    );
    data.write_to(&prom.addr);
    data.write_to(&flint.addr);
    Some(Pair {
        flint,
        prom,
        data,
        _dir: dir,
    })
}

/// How a result's order is compared.
#[derive(Clone, Copy, PartialEq)]
enum Order {
    /// As a set.
    Any,
    /// The same sequence of values (sort, sort_desc); ties in any order.
    ByValue,
    /// Exactly.
    Exact,
}

fn normalize(v: &mut Value, order: Order) {
    if let Some(o) = v.as_object_mut() {
        o.remove("error");
        o.remove("infos");
    }
    if order == Order::Exact {
        return;
    }
    let key = |x: &Value| x.to_string();
    if let Some(Value::Array(a)) = v.pointer_mut("/data/result") {
        a.sort_by_key(key);
    } else if let Some(Value::Array(a)) = v.pointer_mut("/data") {
        if a.iter().all(Value::is_object) {
            a.sort_by_key(key);
        }
    }
}

/// The sequence of values of a vector result.
fn values(v: &Value) -> Vec<Value> {
    v.pointer("/data/result")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|s| s["value"][1].clone()).collect())
        .unwrap_or_default()
}

/// Where two JSON values first differ: the path and both sides.
fn first_diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = first_diff(u, v, &p) {
                            return Some(d);
                        }
                    }
                    (u, v) => return Some(format!("{p}: flint {u:?}, prometheus {v:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_diff(u, v, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (x.len() != y.len())
                .then(|| format!("{path}: flint {} elements, prometheus {}", x.len(), y.len()))
        }
        _ => (a != b).then(|| format!("{path}: flint {a}, prometheus {b}")),
    }
}

/// Queries whose values are sums of inexact floats (see the module notes).
const KAHAN: &[&str] = &["sum by (method) (rate(http_requests_total[5m]))"];
/// How far Kahan-compensated and plain sums of a few terms may end apart.
const KAHAN_ULPS: u64 = 4;

fn within_ulps(a: f64, b: f64, n: u64) -> bool {
    a == b
        || (a.is_finite()
            && b.is_finite()
            && a.is_sign_negative() == b.is_sign_negative()
            && (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() <= n)
}

/// Sets flint's sample values (under `value`/`values`) to Prometheus's where
/// the two are within `ulps`.
fn reconcile(f: &mut Value, p: &Value, ulps: u64, in_values: bool) {
    match (f, p) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x.iter_mut() {
                if let Some(w) = y.get(k) {
                    reconcile(v, w, ulps, in_values || k == "value" || k == "values");
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for (u, v) in x.iter_mut().zip(y) {
                reconcile(u, v, ulps, in_values);
            }
        }
        (Value::String(a), Value::String(b)) if in_values => {
            if let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>()) {
                if within_ulps(x, y, ulps) {
                    *a = b.clone();
                }
            }
        }
        _ => {}
    }
}

fn ulps_of(q: &str) -> u64 {
    if KAHAN.contains(&q) {
        KAHAN_ULPS
    } else {
        0
    }
}

fn clip(s: &str) -> String {
    if s.len() > 600 {
        let mut end = 600;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes)", &s[..end], s.len())
    } else {
        s.to_string()
    }
}

impl Pair {
    /// Sends the same request to both; returns a description of the
    /// difference, if any.
    fn differs(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        order: Order,
        ulps: u64,
    ) -> Option<String> {
        let headers: &[(&str, &str)] = if body.is_some() {
            &[("Content-Type", "application/x-www-form-urlencoded")]
        } else {
            &[]
        };
        let ask = |addr: &str| request(addr, method, path, headers, body.map(str::as_bytes));
        let (f, p) = (ask(&self.flint.addr), ask(&self.prom.addr));
        let what = match body {
            Some(b) => format!("{method} {path} body {b}"),
            None => format!("{method} {path}"),
        };
        let parse = |r: &crate::peers::Reply| serde_json::from_str::<Value>(&r.body);
        let (fv, pv) = match (parse(&f), parse(&p)) {
            (Ok(a), Ok(b)) => (a, b),
            _ => {
                return (f.code != p.code || f.body != p.body).then(|| {
                    format!(
                        "{what}\n  flint {}: {}\n  prometheus {}: {}",
                        f.code,
                        clip(&f.body),
                        p.code,
                        clip(&p.body)
                    )
                })
            }
        };
        let (mut fn_, mut pn) = (fv.clone(), pv.clone());
        normalize(&mut fn_, order);
        normalize(&mut pn, order);
        if ulps > 0 {
            reconcile(&mut fn_, &pn, ulps, false);
        }
        let same_order = order != Order::ByValue || values(&fv) == values(&pv);
        if f.code == p.code && fn_ == pn && same_order {
            return None;
        }
        let at = first_diff(&fn_, &pn, "").unwrap_or_else(|| "order of values".into());
        Some(format!(
            "{what}\n  first difference at {at}\n  flint {}: {}\n  prometheus {}: {}",
            f.code,
            clip(&fv.to_string()),
            p.code,
            clip(&pv.to_string())
        ))
    }
}

fn order_of(q: &str) -> Order {
    if q.starts_with("sort") {
        Order::ByValue
    } else {
        Order::Any
    }
}

fn report(test: &str, asked: usize, diffs: Vec<String>) {
    assert!(
        diffs.is_empty(),
        "{test}: {} of {asked} requests answer differently:\n\n{}",
        diffs.len(),
        diffs.join("\n\n")
    );
}

/// Instant queries: selectors, functions, aggregations, operators.
const INSTANT: &[&str] = &[
    // selectors
    "http_requests_total",
    r#"http_requests_total{method="get",code=~"2.."}"#,
    r#"{job="api"}"#,
    r#"{__name__=~"temperature_.*"}"#,
    r#"{__name__=~"flaky_gauge|batch_last_run_seconds"}"#,
    r#"http_requests_total{instance!="a:9100"}"#,
    r#"http_requests_total{code!~"5.."}"#,
    "http_requests_total offset 10m",
    "http_requests_total[1m]",
    "flaky_gauge",
    "flaky_gauge[5m]",
    "batch_last_run_seconds",
    "weird_values",
    "weird_values[3m]",
    r#"weird_values{note="a \"quoted\" \\ välue, {braces}"}"#,
    "nonexistent_metric",
    // counters
    "rate(http_requests_total[5m])",
    "irate(http_requests_total[5m])",
    "increase(http_requests_total[10m])",
    "resets(http_requests_total[1h])",
    "rate(http_requests_total[1m] offset 5m)",
    // aggregations
    "sum(http_requests_total)",
    "sum by (method) (rate(http_requests_total[5m]))",
    "sum without (instance) (http_requests_total)",
    "count by (code) (http_requests_total)",
    "max by (instance) (http_requests_total)",
    "min without (method, code) (http_requests_total)",
    "avg by (method, code) (http_requests_total)",
    "topk(3, http_requests_total)",
    "bottomk(2, temperature_celsius)",
    "topk by (method) (1, http_requests_total)",
    "quantile(0.5, temperature_celsius)",
    "quantile by (method) (0.9, http_requests_total)",
    "stddev(temperature_celsius)",
    "stdvar by (instance) (http_requests_total)",
    r#"count_values("value", flaky_gauge)"#,
    r#"count_values("t", temperature_celsius)"#,
    r#"group by (job) ({job!=""})"#,
    r#"count by (__name__) ({job="api"})"#,
    "sum(weird_values)",
    // over time
    "avg_over_time(temperature_celsius[30s])",
    "max_over_time(temperature_celsius[10m])",
    "min_over_time(temperature_celsius[10m])",
    "sum_over_time(http_requests_total[1m])",
    "count_over_time(temperature_celsius[10m])",
    "last_over_time(batch_last_run_seconds[10m])",
    "last_over_time(flaky_gauge[10m])",
    "quantile_over_time(0.9, temperature_celsius[10m])",
    "stddev_over_time(temperature_celsius[2m])",
    "present_over_time(flaky_gauge[10m])",
    "changes(flaky_gauge[10m])",
    "delta(temperature_celsius[10m])",
    "idelta(temperature_celsius[10m])",
    "deriv(temperature_celsius[10m])",
    "predict_linear(temperature_celsius[10m], 600)",
    "max_over_time(weird_values[3m])",
    "absent_over_time(nonexistent_metric[5m])",
    "absent_over_time(temperature_celsius[5m])",
    // histograms
    "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.5, request_duration_seconds_bucket)",
    "histogram_quantile(0.99, rate(request_duration_seconds_bucket[10m]))",
    "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
    // labels
    r#"label_replace(http_requests_total, "host", "$1", "instance", "(.*):.*")"#,
    r#"label_replace(temperature_celsius, "room", "", "room", "hall")"#,
    r#"label_join(temperature_celsius, "where", "-", "job", "room")"#,
    // arithmetic and comparisons
    "http_requests_total * 2 + 1",
    "-temperature_celsius",
    "temperature_celsius / 0",
    "temperature_celsius % 3",
    "temperature_celsius ^ 2",
    "temperature_celsius - temperature_celsius offset 1m",
    "temperature_celsius > 20",
    "temperature_celsius > bool 20",
    "http_requests_total == bool 0",
    "20 < temperature_celsius",
    "weird_values > 0",
    "weird_values * 1",
    "http_requests_total / ignoring(code) group_left sum without (code) (http_requests_total)",
    "sum by (instance) (http_requests_total) / on (instance) group_right sum by (instance, method) (http_requests_total)",
    r#"http_requests_total and on (method) http_requests_total{code="500"}"#,
    r#"http_requests_total{code="200"} or temperature_celsius"#,
    r#"http_requests_total unless http_requests_total{method="get"}"#,
    "temperature_celsius + on (job) group_left vector(1)",
    // functions
    "absent(nonexistent_metric)",
    "absent(http_requests_total)",
    r#"absent(nonexistent{job="x", a=~"b"})"#,
    "vector(1)",
    "scalar(sum(temperature_celsius))",
    "scalar(temperature_celsius)",
    "time()",
    "timestamp(temperature_celsius)",
    "1 + 2 * 3",
    "2 ^ 0.5",
    "0 / 0",
    r#""a string""#,
    "sort(temperature_celsius)",
    "sort_desc(http_requests_total)",
    "round(temperature_celsius / 3, 0.5)",
    "round(temperature_celsius)",
    "abs(-temperature_celsius)",
    "ceil(temperature_celsius / 7)",
    "floor(temperature_celsius / 7)",
    "clamp(temperature_celsius, 19, 22)",
    "clamp_max(temperature_celsius, 20)",
    "clamp_min(temperature_celsius, 20)",
    "sqrt(temperature_celsius)",
    "ln(temperature_celsius)",
    "log2(temperature_celsius)",
    "sgn(weird_values)",
    "time() - batch_last_run_seconds",
    "hour(batch_last_run_seconds)",
    "minute(batch_last_run_seconds)",
    "day_of_week(batch_last_run_seconds)",
    "days_in_month(batch_last_run_seconds)",
    "year()",
    // subqueries (steps on whole minutes, evaluation 7 s off them)
    "max_over_time(rate(http_requests_total[5m])[30m:1m])",
    // 9m, not 10m: with a 10m range the first subquery step can land exactly
    // on the window's left edge (at 2h10m, after the data ends), which 2.x's
    // closed windows include and 3.x's left-open ones do not
    "avg_over_time(temperature_celsius[9m:5m])",
    "min_over_time(sum(temperature_celsius)[20m:5m])",
];

/// Evaluation times, relative to the data's base: early (rate windows
/// reaching before the first sample, fractional), mid (the half-way series
/// still inside the lookback), after the staleness marker, just after the
/// end, and beyond the lookback after the end.
const TIMES: &[f64] = &[307.5, 3607.0, 4567.0, 7327.0, 7800.0];

#[test]
fn differential_instant_queries() {
    let Some(pair) = setup("differential_instant_queries") else {
        return;
    };
    let base = pair.data.base_s() as f64;
    let mut diffs = Vec::new();
    let mut asked = 0;
    for q in INSTANT {
        for t in TIMES {
            let time = format!("{}", base + t);
            asked += 1;
            let path = format!("/api/v1/query?query={}&time={time}", enc(q));
            if let Some(d) = pair.differs("GET", &path, None, order_of(q), ulps_of(q)) {
                diffs.push(d);
            }
        }
    }
    // POST form, as promtool and Grafana send it; with an RFC 3339 time
    let rfc = common::rfc3339::format_millis(pair.data.base_ms + 3_607_000);
    for q in [
        "sum by (method) (rate(http_requests_total[5m]))",
        "temperature_celsius",
    ] {
        asked += 1;
        let body = form(&[("query", q), ("time", rfc.as_str())]);
        if let Some(d) = pair.differs("POST", "/api/v1/query", Some(&body), Order::Any, ulps_of(q))
        {
            diffs.push(d);
        }
    }
    // the @ modifier
    let at = format!("http_requests_total @ {}", pair.data.base_s() + 1800);
    asked += 1;
    let path = format!(
        "/api/v1/query?query={}&time={}",
        enc(&at),
        pair.data.base_s() + 5000
    );
    if let Some(d) = pair.differs("GET", &path, None, Order::Any, 0) {
        diffs.push(d);
    }
    // byte-identical bodies where the order is fixed
    let t = pair.data.base_s() + 3607;
    for q in [
        "vector(1)",
        "1 + 1",
        r#""x""#,
        r#"temperature_celsius{room="hall"}"#,
        r#"weird_values[3m]"#,
        "sort(temperature_celsius)",
    ] {
        let path = format!("/api/v1/query?query={}&time={t}", enc(q));
        let f = request(&pair.flint.addr, "GET", &path, &[], None);
        let p = request(&pair.prom.addr, "GET", &path, &[], None);
        asked += 1;
        if f.body != p.body {
            diffs.push(format!(
                "bytes of GET {path}\n  flint: {}\n  prometheus: {}",
                f.body, p.body
            ));
        }
    }
    report("instant queries", asked, diffs);
}

/// Range queries.
const RANGE: &[&str] = &[
    "http_requests_total",
    "temperature_celsius",
    "flaky_gauge",
    "batch_last_run_seconds",
    "weird_values",
    "rate(http_requests_total[5m])",
    "increase(http_requests_total[10m])",
    "sum by (method) (rate(http_requests_total[5m]))",
    "count by (code) (http_requests_total)",
    "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
    "temperature_celsius > 20",
    "temperature_celsius > bool 20",
    "avg_over_time(temperature_celsius[30s])",
    "max_over_time(temperature_celsius[10m])",
    "changes(flaky_gauge[10m])",
    "absent(nonexistent_metric)",
    "absent(flaky_gauge)",
    "vector(1)",
    "time()",
    "scalar(sum(temperature_celsius))",
    r#"label_replace(http_requests_total, "host", "$1", "instance", "(.*):.*")"#,
    "topk(2, temperature_celsius)",
    "timestamp(flaky_gauge)",
    "1",
    "max_over_time(rate(http_requests_total[5m])[10m:1m])",
];

#[test]
fn differential_range_queries() {
    let Some(pair) = setup("differential_range_queries") else {
        return;
    };
    let base = pair.data.base_s() as f64;
    // (start, end, step): the whole data and past its end at 1 m; half an
    // hour around the staleness marker at the sample rate; fractional steps
    let ranges = [
        (base + 67.0, base + 7627.0, "60"),
        (base + 4207.0, base + 6007.0, "15s"),
        (base + 3000.5, base + 5000.5, "37.5"),
    ];
    let mut diffs = Vec::new();
    let mut asked = 0;
    for q in RANGE {
        for (start, end, step) in ranges {
            asked += 1;
            let path = format!(
                "/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
                enc(q)
            );
            if let Some(d) = pair.differs("GET", &path, None, Order::Exact, ulps_of(q)) {
                diffs.push(d);
            }
        }
    }
    // POST form
    let (start, end) = (format!("{}", base + 67.0), format!("{}", base + 7627.0));
    for q in ["rate(http_requests_total[5m])", "flaky_gauge"] {
        asked += 1;
        let body = form(&[
            ("query", q),
            ("start", start.as_str()),
            ("end", end.as_str()),
            ("step", "5m"),
        ]);
        if let Some(d) = pair.differs("POST", "/api/v1/query_range", Some(&body), Order::Exact, 0) {
            diffs.push(d);
        }
    }
    report("range queries", asked, diffs);
}

#[test]
fn differential_series_labels_and_errors() {
    let Some(pair) = setup("differential_series_labels_and_errors") else {
        return;
    };
    let b = pair.data.base_s();
    let (start, end) = (b - 60, b + 7300);
    let mut paths: Vec<String> = Vec::new();
    for m in [
        vec!["http_requests_total"],
        vec![r#"{job="api"}"#, "temperature_celsius"],
        vec![r#"{__name__=~".+"}"#],
        vec![r#"weird_values{note=~".*välue.*"}"#],
        vec!["nonexistent_metric"],
    ] {
        let ms: String = m.iter().map(|x| format!("&match[]={}", enc(x))).collect();
        paths.push(format!("/api/v1/series?start={start}&end={end}{ms}"));
        paths.push(format!("/api/v1/labels?start={start}&end={end}{ms}"));
        paths.push(format!(
            "/api/v1/label/job/values?start={start}&end={end}{ms}"
        ));
    }
    paths.extend([
        format!("/api/v1/series?match[]={}", enc("temperature_celsius")),
        "/api/v1/labels".to_string(),
        "/api/v1/label/__name__/values".to_string(),
        "/api/v1/label/room/values".to_string(),
        "/api/v1/label/note/values".to_string(),
        "/api/v1/label/le/values".to_string(),
        "/api/v1/label/nonexistent/values".to_string(),
        format!("/api/v1/label/__name__/values?start={start}&end={end}"),
        // a range before any data
        format!(
            "/api/v1/series?match[]={}&start=1&end=2",
            enc("http_requests_total")
        ),
        "/api/v1/labels?start=1&end=2".to_string(),
        "/api/v1/label/__name__/values?start=1&end=2".to_string(),
        format!(
            "/api/v1/labels?match[]={}&start=1&end=2",
            enc("http_requests_total")
        ),
        format!(
            "/api/v1/label/job/values?match[]={}&start=1&end=2",
            enc("http_requests_total")
        ),
        // a range after the data (and before now)
        format!(
            "/api/v1/series?match[]={}&start={}&end={}",
            enc("http_requests_total"),
            b + 8000,
            b + 9000
        ),
        format!("/api/v1/labels?start={}&end={}", b + 8000, b + 9000),
        format!(
            "/api/v1/label/__name__/values?start={}&end={}",
            b + 8000,
            b + 9000
        ),
        // RFC 3339 times
        format!(
            "/api/v1/label/room/values?start={}&end={}",
            enc(&common::rfc3339::format_millis(start * 1000)),
            enc(&common::rfc3339::format_millis(end * 1000))
        ),
    ]);
    let mut diffs = Vec::new();
    let mut asked = 0;
    for p in &paths {
        asked += 1;
        if let Some(d) = pair.differs("GET", p, None, Order::Any, 0) {
            diffs.push(d);
        }
    }
    // POST forms
    for (path, body) in [
        (
            "/api/v1/series",
            form(&[
                ("match[]", "http_requests_total"),
                ("match[]", "flaky_gauge"),
            ]),
        ),
        (
            "/api/v1/labels",
            form(&[("match[]", "temperature_celsius")]),
        ),
    ] {
        asked += 1;
        if let Some(d) = pair.differs("POST", path, Some(&body), Order::Any, 0) {
            diffs.push(d);
        }
    }

    // bad requests: same status, `status` and `errorType`
    let t = b + 3607;
    let q = |e: &str| format!("/api/v1/query?query={}&time={t}", enc(e));
    let r = |e: &str, start: i64, end: i64, step: &str| {
        format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
            enc(e)
        )
    };
    let bad = [
        q("sum("),
        q("unknown_function(up)"),
        q("rate(http_requests_total)"),
        q(""),
        "/api/v1/query".to_string(),
        "/api/v1/query?query=1&time=abc".to_string(),
        // duplicate series after label_replace: an execution error
        q(r#"label_replace(temperature_celsius, "room", "x", "", "")"#),
        q(r#"http_requests_total + on (job) http_requests_total"#),
        q(r#"label_replace(temperature_celsius, "x", "$1", "room", "(")"#),
        r("vector(1)", b + 100, b, "60"),
        r("vector(1)", b, b + 100, "0"),
        r("vector(1)", b, b + 100, "-1"),
        r("vector(1)", b, b + 86_400, "1"),
        r("vector(1)", b, b + 100, "x"),
        format!("/api/v1/query_range?query=1&start={b}&end={}", b + 100),
        "/api/v1/series".to_string(),
        format!("/api/v1/series?match[]={}", enc("sum(")),
        format!("/api/v1/series?match[]={}", enc(r#"{job=~".*"}"#)),
        "/api/v1/series?match[]=up&start=abc".to_string(),
        format!("/api/v1/labels?match[]={}", enc("{")),
        "/api/v1/label/job/values?start=abc".to_string(),
        "/api/v1/label/job/values?match[]=%7B".to_string(),
    ];
    for p in &bad {
        asked += 1;
        if let Some(d) = pair.differs("GET", p, None, Order::Any, 0) {
            diffs.push(d);
        }
    }
    report("series, labels and errors", asked, diffs);
}

/// promtool against both servers prints the same. Lines of unordered
/// outputs (vectors, series lists) are sorted first.
#[test]
fn promtool_query_matches_prometheus() {
    let Some(pair) = setup("promtool_query_matches_prometheus") else {
        return;
    };
    let b = pair.data.base_s();
    let t = (b + 3607).to_string();
    let t2 = (b + 4567).to_string();
    let (start, end) = ((b + 67).to_string(), (b + 7627).to_string());
    let furl = format!("http://{}", pair.flint.addr);
    let purl = format!("http://{}", pair.prom.addr);
    // (arguments with SERVER where the URL goes, sort the lines?)
    let mut cases: Vec<(Vec<String>, bool)> = Vec::new();
    let s = |x: &str| x.to_string();
    for (q, time) in [
        ("http_requests_total", &t),
        ("sum by (method) (http_requests_total)", &t),
        (
            "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
            &t,
        ),
        ("temperature_celsius[1m]", &t),
        ("weird_values", &t),
        ("flaky_gauge", &t2),
        ("1 + 1", &t),
        (r#""text""#, &t),
        ("sort_desc(temperature_celsius)", &t),
        ("absent(nonexistent_metric)", &t),
    ] {
        let sorted = !q.starts_with("sort");
        cases.push((
            vec![
                s("query"),
                s("instant"),
                format!("--time={time}"),
                s("SERVER"),
                s(q),
            ],
            sorted,
        ));
        // JSON output keeps the server's order: only where that is fixed
        let fixed = [
            "1 + 1",
            r#""text""#,
            "weird_values",
            "absent(nonexistent_metric)",
        ];
        if !(fixed.contains(&q) || q.starts_with("sort")) {
            continue;
        }
        cases.push((
            vec![
                s("query"),
                s("instant"),
                s("-o"),
                s("json"),
                format!("--time={time}"),
                s("SERVER"),
                s(q),
            ],
            false,
        ));
    }
    for q in [
        "rate(http_requests_total[5m])",
        "flaky_gauge",
        "sum(temperature_celsius)",
        "weird_values",
    ] {
        cases.push((
            vec![
                s("query"),
                s("range"),
                format!("--start={start}"),
                format!("--end={end}"),
                s("--step=1m"),
                s("SERVER"),
                s(q),
            ],
            false,
        ));
    }
    for m in [
        vec!["http_requests_total"],
        vec![r#"{job="api"}"#, "weird_values"],
    ] {
        let mut args = vec![s("query"), s("series")];
        args.extend(m.iter().map(|x| format!("--match={x}")));
        args.extend([
            format!("--start={start}"),
            format!("--end={end}"),
            s("SERVER"),
        ]);
        cases.push((args, true));
    }
    for name in ["__name__", "room", "note", "job"] {
        cases.push((
            vec![
                s("query"),
                s("labels"),
                format!("--start={start}"),
                format!("--end={end}"),
                s("SERVER"),
                s(name),
            ],
            false,
        ));
    }
    cases.push((
        vec![
            s("query"),
            s("labels"),
            s("--match=temperature_celsius"),
            s("SERVER"),
            s("job"),
        ],
        false,
    ));
    // an error: both refuse (messages aside)
    cases.push((
        vec![
            s("query"),
            s("instant"),
            format!("--time={t}"),
            s("SERVER"),
            s("sum("),
        ],
        false,
    ));

    let mut diffs = Vec::new();
    for (args, sort) in &cases {
        let with = |url: &str| -> Vec<String> {
            args.iter()
                .map(|a| {
                    if a == "SERVER" {
                        url.to_string()
                    } else {
                        a.clone()
                    }
                })
                .collect()
        };
        let go = |url: &str| {
            let a = with(url);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let (code, mut out, err) = run("promtool", &a, None);
            if *sort {
                let mut lines: Vec<&str> = out.lines().collect();
                lines.sort();
                out = lines.join("\n");
            }
            (code, out, err)
        };
        let (fc, fo, fe) = go(&furl);
        let (pc, po, pe) = go(&purl);
        let same = if pc == 0 {
            fc == 0 && fo == po
        } else {
            fc == pc
        };
        if !same {
            diffs.push(format!(
                "promtool {}\n  flint (exit {fc}):\n{fo}{fe}\n  prometheus (exit {pc}):\n{po}{pe}",
                with("SERVER").join(" ")
            ));
        }
    }
    report("promtool query", cases.len(), diffs);
}

/// `promtool check metrics` accepts flint's own `/metrics`, after it has
/// answered queries, ingested by remote write and refused bad requests.
#[test]
fn promtool_check_metrics_accepts_flint_metrics() {
    if !peers_or_skip(
        "promtool_check_metrics_accepts_flint_metrics",
        &["promtool"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), "", &["--web.enable-remote-write-receiver"]);
    Dataset::new().write_to(&s.addr);
    for p in [
        "/api/v1/query?query=up",
        "/api/v1/query?query=sum(",
        "/api/v1/query_range?query=1&start=0&end=100&step=10",
        "/api/v1/labels",
        "/api/v1/series?match[]=up",
        "/api/v1/label/job/values",
        "/api/v1/status/buildinfo",
    ] {
        let _ = request(&s.addr, "GET", p, &[], None);
    }
    let m = request(&s.addr, "GET", "/metrics", &[], None);
    assert_eq!(m.code, 200);
    let (code, out, err) = run("promtool", &["check", "metrics"], Some(&m.body));
    assert_eq!(
        code, 0,
        "promtool check metrics refuses flint's /metrics:\n{out}{err}"
    );
}

/// `exp()` as Go's `math.Exp` computes it: flint's (Rust's, i.e. the C
/// library's) result differs from Prometheus's in the last bit for some
/// inputs, e.g. `exp(temperature_celsius / 10)` at 2.375:
/// flint "9.487735836358526", Prometheus "9.487735836358524".
#[test]
#[ignore = "exp() differs from Go's math.Exp in the last bit; decide whether to port Go's algorithm"]
fn differential_exp_matches_go() {
    let Some(pair) = setup("differential_exp_matches_go") else {
        return;
    };
    let base = pair.data.base_s() as f64;
    let mut diffs = Vec::new();
    let mut asked = 0;
    for q in [
        "exp(temperature_celsius / 10)",
        "exp(-temperature_celsius)",
        "exp(weird_values)",
    ] {
        for t in TIMES {
            asked += 1;
            let path = format!("/api/v1/query?query={}&time={}", enc(q), base + t);
            if let Some(d) = pair.differs("GET", &path, None, Order::Any, 0) {
                diffs.push(d);
            }
        }
    }
    report("exp", asked, diffs);
}
