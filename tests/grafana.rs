//! Replays the requests Grafana's Prometheus data source sends, as found in
//! Grafana's source (`pkg/promlib` for the backend, which talks to the
//! server, and `packages/grafana-prometheus` for what the browser asks the
//! backend for), against flint loaded with data, and checks status, shape
//! and values of what Grafana reads.
//!
//! How Grafana sends them (`pkg/promlib/client/client.go`):
//! - queries (`query`, `query_range`, `query_exemplars`) use the data
//!   source's HTTP method, POST by default, with a form body encoded by Go's
//!   `url.Values.Encode` (keys sorted), times as float seconds
//!   (`strconv.FormatFloat(..., 'f', -1, 64)`), `step` as float seconds,
//!   `timeout` when configured, start and end aligned down to the step;
//! - resource calls (`labels`, `series`, metadata lookups) are POSTed with
//!   the browser's form body, except the GET-only list (`api/v1/label/`,
//!   `api/v1/metadata`, `/api/v1/rules`, `/api/v1/status/buildinfo`, ...),
//!   whose parameters are moved to the URL; a POST answered 405 or 400 is
//!   retried as GET; a POST whose parameters the browser put in the URL
//!   (the exemplar probe) keeps them there with an empty body;
//! - Go's transport asks for gzip.
//!
//! The browser side (`language_provider.ts`, `resource_clients.ts`,
//! `datasource.ts`) fixes the parameters: `limit=40000`, start and end in
//! whole seconds snapped to the minute, `match[]` from the query, the
//! "match all" selector `{__name__!=""}`, and an exemplar probe with
//! `query=test` and start/end in *milliseconds*.

use serde_json::Value;

use crate::common::{MockTarget, Server};
use crate::peers::{form, request, Dataset, Reply};

const UA: (&str, &str) = ("User-Agent", "Grafana/12.0.0");
const GZIP: (&str, &str) = ("Accept-Encoding", "gzip");
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

const TARGET: &str = "# HELP app_requests_total Requests handled by the app.\n# TYPE app_requests_total counter\napp_requests_total{path=\"/\"} 10\napp_requests_total{path=\"/api\"} 5\n# HELP app_temperature_celsius Temperature of the app host.\n# TYPE app_temperature_celsius gauge\napp_temperature_celsius 36.5\n# HELP app_latency_seconds Latency of requests.\n# TYPE app_latency_seconds histogram\napp_latency_seconds_bucket{le=\"0.1\"} 1\napp_latency_seconds_bucket{le=\"+Inf\"} 3\napp_latency_seconds_sum 0.9\napp_latency_seconds_count 3\n";

const RULES: &str = r#"groups:
  - name: grafana
    interval: 1s
    rules:
      - record: job:app_requests:sum
        expr: sum by (job) (app_requests_total)
      - alert: AppHot
        expr: app_temperature_celsius > 30
        labels:
          severity: warn
        annotations:
          summary: "{{ $labels.job }} is hot"
"#;

struct Setup {
    s: Server,
    data: Dataset,
    _target: MockTarget,
    _dir: tempfile::TempDir,
}

/// flint scraping a target (for metadata), evaluating rules, and holding
/// the data set written by remote write.
fn setup() -> Setup {
    let target = MockTarget::start(TARGET);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['rules.yml']\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{}']\n",
        target.addr
    );
    let s = Server::start(
        dir.path(),
        &cfg,
        &[
            "--web.enable-remote-write-receiver",
            "--storage.tsdb.retention.time=100y",
        ],
    );
    let data = Dataset::new();
    data.write_to(&s.addr);
    s.eventually(20, "scrape and rules", || {
        s.value("app_temperature_celsius") == Some(36.5)
            && s.value(r#"job:app_requests:sum{job="app"}"#) == Some(15.0)
            && s.value(r#"ALERTS{alertname="AppHot",alertstate="firing"}"#) == Some(1.0)
    });
    Setup {
        s,
        data,
        _target: target,
        _dir: dir,
    }
}

fn get(s: &Server, path: &str) -> Reply {
    request(&s.addr, "GET", path, &[UA, GZIP], None)
}

fn post(s: &Server, path: &str, body: &str) -> Reply {
    request(
        &s.addr,
        "POST",
        path,
        &[UA, GZIP, FORM],
        Some(body.as_bytes()),
    )
}

/// A 200 JSON success; returns `data`.
fn ok(r: &Reply, what: &str) -> Value {
    assert_eq!(r.code, 200, "{what}: {}", r.body);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{what}: content type {:?}",
        r.header("content-type")
    );
    let v = r.json();
    assert_eq!(v["status"], "success", "{what}: {v}");
    v["data"].clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| {
            x.as_str()
                .unwrap_or_else(|| panic!("not a string: {x}"))
                .to_string()
        })
        .collect()
}

fn num(v: &Value) -> f64 {
    match v
        .as_str()
        .unwrap_or_else(|| panic!("value not a string: {v}"))
    {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or_else(|_| panic!("not a float: {s}")),
    }
}

/// Grafana's snapped label-lookup range: the last 6 h, in whole seconds,
/// start rounded down and end up to the minute.
fn snapped_range() -> (String, String) {
    let now = crate::common::now_secs() as i64;
    let start = (now - 6 * 3600) / 60 * 60;
    let end = (now + 59) / 60 * 60;
    (start.to_string(), end.to_string())
}

#[test]
fn grafana_save_and_test() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), "", &[]);
    // CheckHealth: the instant query "1+1" at the end of the range 1 s..4 s
    let r = post(
        &s,
        "/api/v1/query",
        &form(&[("query", "1+1"), ("time", "4")]),
    );
    assert_eq!(r.code, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        serde_json::json!({"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}})
    );
    // the same with the data source set to GET
    let r = get(&s, "/api/v1/query?query=1%2B1&time=4");
    assert_eq!(ok(&r, "GET health query")["result"][1], "2");
    // heuristics: buildinfo, GET; no `features` means "Prometheus", not Mimir
    let d = ok(&get(&s, "/api/v1/status/buildinfo"), "buildinfo");
    for k in [
        "version",
        "revision",
        "branch",
        "buildUser",
        "buildDate",
        "goVersion",
    ] {
        assert!(d[k].is_string(), "buildinfo.{k}: {d}");
    }
    assert!(!d["version"].as_str().unwrap().is_empty());
    assert!(
        d.get("features").is_none() || d["features"].as_object().is_some_and(|f| f.is_empty()),
        "features would make Grafana take flint for Mimir: {d}"
    );
}

#[test]
fn grafana_metric_browser_and_editor_lookups() {
    let st = setup();
    let s = &st.s;
    let (start, end) = snapped_range();

    // datasource init: the rules (recording rule mapping); POST first, and
    // on 405/400 GET, as the backend does for paths not on its GET list
    let r = post(s, "/api/v1/rules", "");
    let r = if r.code == 405 || r.code == 400 {
        get(s, "/api/v1/rules")
    } else {
        r
    };
    let d = ok(&r, "rules");
    let rules: Vec<&Value> = d["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter())
        .collect();
    let rec = rules
        .iter()
        .find(|r| r["type"] == "recording")
        .unwrap_or_else(|| panic!("no recording rule: {d}"));
    assert_eq!(rec["name"], "job:app_requests:sum");
    assert_eq!(rec["query"], "sum by (job) (app_requests_total)");
    let alert = rules
        .iter()
        .find(|r| r["type"] == "alerting")
        .unwrap_or_else(|| panic!("no alerting rule: {d}"));
    assert_eq!(alert["name"], "AppHot");
    assert_eq!(alert["state"], "firing", "{alert}");
    assert_eq!(alert["health"], "ok", "{alert}");
    assert_eq!(alert["alerts"][0]["labels"]["alertname"], "AppHot");
    assert_eq!(alert["alerts"][0]["annotations"]["summary"], "app is hot");
    let d = ok(&get(s, "/api/v1/alerts"), "alerts");
    let a = &d["alerts"][0];
    assert_eq!(a["labels"]["severity"], "warn", "{d}");
    assert_eq!(a["state"], "firing");
    assert!(a["activeAt"].is_string() && a["value"].is_string(), "{a}");

    // datasource init: the exemplar probe, parameters in the URL, in ms,
    // POSTed with an empty body
    let now_ms = crate::common::now_secs() * 1000;
    let probe = format!(
        "/api/v1/query_exemplars?query=test&start={}&end={now_ms}",
        now_ms - 30 * 60 * 1000
    );
    let d = ok(&post(s, &probe, ""), "exemplar probe (POST)");
    assert!(d.is_array(), "{d}");
    ok(&get(s, &probe), "exemplar probe (GET)");

    // metric names: label values of __name__ (GET-only: parameters moved to
    // the URL, sorted by Go)
    let r = get(
        s,
        &format!("/api/v1/label/__name__/values?end={end}&limit=40000&start={start}"),
    );
    let names = strings(&ok(&r, "metric names"));
    for want in [
        "app_latency_seconds_bucket",
        "app_requests_total",
        "batch_last_run_seconds",
        "flaky_gauge",
        "http_requests_total",
        "job:app_requests:sum",
        "request_duration_seconds_bucket",
        "temperature_celsius",
        "weird_values",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted");

    // label keys: POSTed form, with and without match[]
    let r = post(
        s,
        "/api/v1/labels",
        &form(&[
            ("limit", "40000"),
            ("start", start.as_str()),
            ("end", end.as_str()),
        ]),
    );
    let keys = strings(&ok(&r, "label keys"));
    for want in [
        "__name__", "code", "instance", "job", "le", "method", "note", "path", "room",
    ] {
        assert!(keys.iter().any(|k| k == want), "{want} missing: {keys:?}");
    }
    let r = post(
        s,
        "/api/v1/labels",
        &form(&[
            ("limit", "40000"),
            ("start", start.as_str()),
            ("end", end.as_str()),
            ("match[]", "http_requests_total"),
        ]),
    );
    assert_eq!(
        strings(&ok(&r, "label keys of a metric")),
        ["__name__", "code", "instance", "job", "method"]
    );

    // label values with match[] (metric browser, template variables
    // label_values(metric, label))
    for (label, matcher, want) in [
        ("method", "http_requests_total", vec!["get", "post"]),
        ("instance", "http_requests_total", vec!["a:9100", "b:9100"]),
        (
            "room",
            r#"{job="sensor"}"#,
            vec!["attic", "hall", "kitchen"],
        ),
        (
            "le",
            "request_duration_seconds_bucket",
            vec!["+Inf", "0.1", "0.5", "1"],
        ),
        (
            "note",
            "weird_values",
            vec!["a \"quoted\" \\ välue, {braces}"],
        ),
        ("job", "nonexistent_metric", vec![]),
    ] {
        let path = format!(
            "/api/v1/label/{label}/values?{}",
            form(&[
                ("end", end.as_str()),
                ("limit", "40000"),
                ("match[]", matcher),
                ("start", start.as_str())
            ])
        );
        assert_eq!(strings(&ok(&get(s, &path), &path)), want, "{path}");
    }

    // series: the "match all" selector of the series-based client
    let r = post(
        s,
        "/api/v1/series",
        &form(&[
            ("start", start.as_str()),
            ("end", end.as_str()),
            ("match[]", r#"{__name__!=""}"#),
            ("limit", "40000"),
        ]),
    );
    assert_eq!(
        r.header("content-encoding"),
        Some("gzip"),
        "Grafana's Go client asks for gzip"
    );
    let d = ok(&r, "series");
    let list = d.as_array().unwrap();
    assert!(list.len() >= 20, "{} series", list.len());
    assert!(list.iter().all(|x| x["__name__"].is_string()), "{d}");
    assert!(list.iter().any(|x| x["__name__"] == "temperature_celsius"
        && x["room"] == "hall"
        && x["job"] == "sensor"
        && x.as_object().unwrap().len() == 3));
    let r = post(
        s,
        "/api/v1/series",
        &form(&[
            ("start", start.as_str()),
            ("end", end.as_str()),
            (
                "match[]",
                r#"{__name__="http_requests_total",method="post"}"#,
            ),
            ("limit", "40000"),
        ]),
    );
    assert_eq!(ok(&r, "series of a metric").as_array().unwrap().len(), 4);

    // metadata (GET-only): type and help per metric
    let d = ok(&get(s, "/api/v1/metadata"), "metadata");
    assert_eq!(
        d["app_requests_total"],
        serde_json::json!([{"type": "counter", "help": "Requests handled by the app.", "unit": ""}])
    );
    assert_eq!(d["app_temperature_celsius"][0]["type"], "gauge");
    assert_eq!(d["app_latency_seconds"][0]["type"], "histogram");
    let d = ok(
        &get(s, "/api/v1/metadata?metric=app_requests_total"),
        "metadata of a metric",
    );
    assert_eq!(d.as_object().unwrap().len(), 1, "{d}");

    // template variable query_result(...): an instant query
    let r = post(
        s,
        "/api/v1/query",
        &form(&[
            ("query", "count by (job) (app_requests_total)"),
            ("time", end.as_str()),
        ]),
    );
    let d = ok(&r, "query_result");
    assert_eq!(d["resultType"], "vector");
    assert_eq!(d["result"][0]["metric"], serde_json::json!({"job": "app"}));
    assert_eq!(d["result"][0]["value"][1], "2");
}

/// The value of a dataset series at `t_ms` as an instant selector sees it
/// (latest sample within the 5 m lookback).
fn expected(data: &Dataset, name: &str, label: (&str, &str), t_ms: i64) -> Option<f64> {
    let (_, samples) = data
        .series
        .iter()
        .find(|(l, _)| {
            l.iter().any(|x| x.name == "__name__" && x.value == name)
                && l.iter().any(|x| x.name == label.0 && x.value == label.1)
        })
        .unwrap();
    samples
        .iter()
        .rev()
        .find(|s| s.timestamp <= t_ms)
        .filter(|s| s.timestamp > t_ms - 300_000)
        .map(|s| s.value)
}

/// A float as Go's FormatFloat(f, 'f', -1, 64) prints it, for the times
/// Grafana sends (whole or with a few decimals here).
fn secs(ms: i64) -> String {
    if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        format!("{}", ms as f64 / 1000.0)
    }
}

#[test]
fn grafana_panel_and_explore_queries() {
    let st = setup();
    let (s, data) = (&st.s, &st.data);
    let base = data.base_ms;
    // a 100-minute panel inside the data, step 15 s, aligned down to it
    let step_ms = 15_000;
    let from = (base + 600_000) / step_ms * step_ms;
    let to = (base + 6_600_000) / step_ms * step_ms;
    let points = ((to - from) / step_ms + 1) as usize;
    let range_body = |q: &str, step: &str| {
        form(&[
            ("end", secs(to).as_str()),
            ("query", q),
            ("start", secs(from).as_str()),
            ("step", step),
        ])
    };

    // a raw gauge: every point is the sample the lookback finds
    let r = post(
        s,
        "/api/v1/query_range",
        &range_body(r#"temperature_celsius{room="hall"}"#, "15"),
    );
    let d = ok(&r, "gauge panel");
    assert_eq!(d["resultType"], "matrix");
    let series = d["result"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{d}");
    assert_eq!(
        series[0]["metric"],
        serde_json::json!({"__name__": "temperature_celsius", "job": "sensor", "room": "hall"})
    );
    let values = series[0]["values"].as_array().unwrap();
    assert_eq!(values.len(), points);
    for (k, p) in values.iter().enumerate() {
        let t_ms = from + k as i64 * step_ms;
        assert_eq!(
            p[0].as_f64().unwrap(),
            t_ms as f64 / 1000.0,
            "timestamp {k}"
        );
        let want = expected(data, "temperature_celsius", ("room", "hall"), t_ms).unwrap();
        assert_eq!(num(&p[1]), want, "value at {t_ms}");
    }

    // rate with $__rate_interval as the backend interpolates it (Go
    // duration text "1m0s"), and the timeout setting
    let mut body = range_body("sum by (method) (rate(http_requests_total[1m0s]))", "15");
    body.push_str("&timeout=30s");
    let d = ok(&post(s, "/api/v1/query_range", &body), "rate panel");
    let series = d["result"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{d}");
    for x in series {
        assert_eq!(x["metric"].as_object().unwrap().len(), 1, "{x}");
        assert_eq!(x["values"].as_array().unwrap().len(), points);
        assert!(x["values"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| num(&p[1]) >= 0.0));
    }
    let d = ok(
        &post(
            s,
            "/api/v1/query_range",
            &range_body("rate(http_requests_total[1m15s])", "60"),
        ),
        "rate with a compound duration",
    );
    assert_eq!(d["result"].as_array().unwrap().len(), 8);

    // heatmap and quantile panels on the classic histogram
    let d = ok(
        &post(
            s,
            "/api/v1/query_range",
            &range_body(
                "sum by (le) (increase(request_duration_seconds_bucket[1m0s]))",
                "15",
            ),
        ),
        "heatmap",
    );
    let mut les: Vec<String> = d["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["metric"]["le"].as_str().unwrap().to_string())
        .collect();
    les.sort();
    assert_eq!(les, ["+Inf", "0.1", "0.5", "1"]);
    let d = ok(
        &post(
            s,
            "/api/v1/query_range",
            &range_body(
                "histogram_quantile(0.95, sum by (le) (rate(request_duration_seconds_bucket[1m0s])))",
                "15",
            ),
        ),
        "quantile",
    );
    for p in d["result"][0]["values"].as_array().unwrap() {
        let v = num(&p[1]);
        assert!((0.0..=1.0).contains(&v), "{p}");
    }

    // the same panel with the data source set to GET
    let r = get(
        s,
        &format!(
            "/api/v1/query_range?{}",
            range_body(r#"temperature_celsius{room="hall"}"#, "15")
        ),
    );
    assert_eq!(
        ok(&r, "GET panel")["result"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        points
    );

    // Explore "Both": the instant half at the end of the range, a time with
    // milliseconds as FormatFloat prints it
    let t_ms = to + 500;
    let d = ok(
        &post(
            s,
            "/api/v1/query",
            &form(&[
                ("query", "temperature_celsius"),
                ("time", secs(t_ms).as_str()),
            ]),
        ),
        "explore instant",
    );
    assert_eq!(d["resultType"], "vector");
    let result = d["result"].as_array().unwrap();
    assert_eq!(result.len(), 3);
    for x in result {
        let room = x["metric"]["room"].as_str().unwrap();
        assert_eq!(x["value"][0].as_f64().unwrap(), t_ms as f64 / 1000.0);
        assert_eq!(
            num(&x["value"][1]),
            expected(data, "temperature_celsius", ("room", room), t_ms).unwrap(),
            "{room}"
        );
    }

    // exemplars for the panel (exemplar storage is off here: an empty list)
    let d = ok(
        &post(
            s,
            "/api/v1/query_exemplars",
            &form(&[
                ("end", secs(to).as_str()),
                ("query", "request_duration_seconds_bucket"),
                ("start", secs(from).as_str()),
            ]),
        ),
        "exemplars",
    );
    assert_eq!(d, serde_json::json!([]));

    // an annotation query: range with the default 60 s step
    let d = ok(
        &post(
            s,
            "/api/v1/query_range",
            &range_body("flaky_gauge > 5", "60"),
        ),
        "annotations",
    );
    assert!(d["result"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| num(&p[1]) > 5.0));

    // errors Grafana shows: status, errorType and error are read
    let r = post(s, "/api/v1/query_range", &range_body("sum(rate(", "15"));
    assert_eq!(r.code, 400, "{}", r.body);
    let v = r.json();
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    // too many points for the range: Grafana keeps under 11,000, others don't
    let r = post(
        s,
        "/api/v1/query_range",
        &form(&[
            ("end", secs(to).as_str()),
            ("query", "1"),
            ("start", secs(from - 86_400_000).as_str()),
            ("step", "1"),
        ]),
    );
    assert_eq!(r.code, 400, "{}", r.body);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("exceeded maximum resolution of 11,000 points per timeseries"));
}
