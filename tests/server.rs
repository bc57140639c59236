//! The server as a user meets it: flags, config errors, log lines, the
//! query API's answers and errors, data surviving a restart.

use std::process::Command;

use crate::common::{bin, enc, http_get, http_request, parse_value, MockTarget, Server};

fn job(name: &str, addr: &str) -> String {
    format!(
        "scrape_configs:\n  - job_name: {name}\n    scrape_interval: 1s\n    scrape_timeout: 900ms\n    static_configs:\n      - targets: ['{addr}']\n        labels:\n          team: t1\n"
    )
}

#[test]
fn bad_flags_and_configs_stop_startup_with_one_clear_line() {
    // flag errors: see flags.rs
    let out = Command::new(bin()).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("flint, version "));

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.yml");
    std::fs::write(
        &cfg,
        "scrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n",
    )
    .unwrap();
    let out = crate::common::run_to_exit(&cfg, &dir.path().join("data"));
    // a configuration that cannot be loaded exits with 2, as Prometheus
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("Error loading config"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("level=ERROR"), "{line}");
    assert!(line.contains("bad.yml"), "{line}");
    assert!(line.contains("scrape_intervall"), "{line}");
    assert!(line.contains("line 3"), "{line}");

    // a bad value, a missing file and a bad rule file stop start-up with
    // 2 too, as Prometheus 3 (cmd/prometheus: os.Exit(2) after each)
    std::fs::write(
        &cfg,
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['x:1']\n    scrape_interval: 5x\n",
    )
    .unwrap();
    let out = crate::common::run_to_exit(&cfg, &dir.path().join("data"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 5: scrape_interval: not a valid duration string"),
        "{err}"
    );
    let out = crate::common::run_to_exit(&dir.path().join("missing.yml"), &dir.path().join("data"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Error loading config"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        dir.path().join("bad.rules.yml"),
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(\n",
    )
    .unwrap();
    std::fs::write(&cfg, "rule_files: ['bad.rules.yml']\n").unwrap();
    let out = crate::common::run_to_exit(&cfg, &dir.path().join("data"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Error loading rule file patterns"), "{err}");
}

#[test]
fn second_server_on_a_data_folder_is_refused_unless_no_lockfile() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(dir.path(), "", &[]);
    let cfg = dir.path().join("prometheus.yml");
    let out = crate::common::run_to_exit(&cfg, &first.data);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("data directory is locked by another process"),
        "{err}"
    );
    drop(first);
    // without the lock file, nothing stops a second server
    let other = tempfile::tempdir().unwrap();
    let a = Server::start(other.path(), "", &["--storage.tsdb.no-lockfile"]);
    let b = Server::start(other.path(), "", &["--storage.tsdb.no-lockfile"]);
    assert_eq!(a.data, b.data);
    assert!(!a.data.join("lock").exists());
    assert_eq!(
        a.api("/api/v1/status/flags").1["data"]["storage.tsdb.no-lockfile"],
        "true"
    );
    assert_eq!(http_get(&b.addr, "/-/ready").unwrap().0, 200);
}

#[test]
fn enable_feature_names_are_accepted_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        "",
        &[
            "--enable-feature=promql-experimental-functions,promql-binop-fill-modifiers",
            "--enable-feature=bogus",
        ],
    );
    let log = s.log_text();
    assert!(
        log.contains(
            r#"msg="Feature is always enabled in flint" option=promql-binop-fill-modifiers"#
        ),
        "{log}"
    );
    assert!(
        log.contains(r#"msg="Unknown option for --enable-feature" option=bogus"#),
        "{log}"
    );
    // the PromQL extensions answer
    let (code, body) = s.api(&format!(
        "/api/v1/query?query={}",
        enc("sum(vector(1) + fill(5) (vector(2) > 3))")
    ));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["result"][0]["value"][1], "6");
}

#[test]
fn startup_logs_and_self_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), "", &[]);
    let log = s.log_text();
    for msg in [
        "Completed loading of configuration file",
        "Server is ready to receive web requests.",
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(msg))
            .unwrap_or_else(|| panic!("{msg} missing in:\n{log}"));
        assert!(
            line.starts_with("time=") && line.contains(" level=INFO source="),
            "{line}"
        );
    }
    assert!(log.contains("filename="), "{log}");
    // Prometheus's operational information line, measured on this host
    let ops = log
        .lines()
        .find(|l| l.contains("msg=\"operational information\""))
        .unwrap_or_else(|| panic!("{log}"));
    for key in [
        "build_context=\"(rust=",
        "host_details=\"(Linux ",
        "fd_limits=\"(soft=",
        "vm_limits=\"(soft=",
    ] {
        assert!(ops.contains(key), "{key} in {ops}");
    }
    // build information from the build, not constants
    let info = &s.api("/api/v1/status/buildinfo").1["data"];
    let git = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(rev) = git {
        assert_eq!(info["revision"], rev.as_str(), "{info}");
    }
    assert!(
        info["goVersion"].as_str().unwrap().starts_with("1."),
        "{info}"
    );
    assert_eq!(info["buildDate"].as_str().unwrap().len(), 17, "{info}");
    let out = Command::new(bin()).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(
        version.contains(&format!("revision: {}", info["revision"].as_str().unwrap())),
        "{version}"
    );
    let (code, body) = crate::common::http_get(&s.addr, "/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("\nprometheus_tsdb_head_series "), "{body}");
    assert!(body.contains("process_resident_memory_bytes "), "{body}");
    assert!(
        body.contains(&format!(
            "revision=\"{}\"",
            info["revision"].as_str().unwrap()
        )),
        "{body}"
    );
    assert_eq!(
        crate::common::http_get(&s.addr, "/-/healthy").unwrap().0,
        200
    );
    assert_eq!(s.stop(), Some(0));
}

#[test]
fn query_api_answers_and_errors_like_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), "", &[]);
    let (code, v) = s.api("/api/v1/query?query=1%2B1&time=1700000000.123");
    assert_eq!(code, 200);
    assert_eq!(
        v.to_string(),
        r#"{"data":{"result":[1700000000.123,"2"],"resultType":"scalar"},"status":"success"}"#
    );
    // exact bytes, key order included
    let (_, body) = crate::common::http_get(&s.addr, "/api/v1/query?query=1e21&time=10").unwrap();
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"scalar","result":[10,"1e+21"]}}"#
    );

    let cases = [
        (
            "/api/v1/query?query=up&time=yesterday",
            400,
            "invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp",
        ),
        (
            "/api/v1/query?query=sum(",
            400,
            "invalid parameter \"query\": ",
        ),
        (
            "/api/v1/query_range?query=up&start=10&end=5&step=1",
            400,
            "end timestamp must not be before start time",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=100000&step=1",
            400,
            "exceeded maximum resolution of 11,000 points per timeseries",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=0",
            400,
            "zero or negative query resolution step widths are not accepted",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10",
            400,
            "invalid parameter \"step\"",
        ),
    ];
    for (path, want_code, want) in cases {
        let (code, v) = s.api(path);
        assert_eq!(code, want_code, "{path}: {v}");
        assert_eq!(v["status"], "error", "{path}");
        assert_eq!(v["errorType"], "bad_data", "{path}");
        assert!(v["error"].as_str().unwrap().contains(want), "{path}: {v}");
    }
    // POST with a form body
    let (code, body) =
        http_request(&s.addr, "POST", "/api/v1/query", Some("query=3*2&time=5")).unwrap();
    assert_eq!(code, 200);
    assert!(body.contains(r#""result":[5,"6"]"#), "{body}");
}

#[test]
fn scraped_data_is_queryable_survives_restart_and_goes_stale() {
    let target = MockTarget::start("# TYPE a_total counter\na_total{x=\"1\"} 10\nb_gauge 3.5\n");
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &job("mock", &target.addr), &[]);
    s.eventually(15, "b_gauge scraped", || s.value("b_gauge") == Some(3.5));
    let labels = &s.query("a_total")[0]["metric"];
    assert_eq!(labels["job"], "mock");
    assert_eq!(labels["team"], "t1");
    assert_eq!(labels["instance"], target.addr.as_str());
    assert_eq!(s.value(r#"scrape_samples_scraped{job="mock"}"#), Some(2.0));
    assert_eq!(s.value(r#"up{job="mock"}"#), Some(1.0));

    // the counter grows: rate and sum by answer
    target.set("# TYPE a_total counter\na_total{x=\"1\"} 20\n");
    s.eventually(
        15,
        "b_gauge goes stale when it leaves the exposition",
        || s.value("b_gauge").is_none(),
    );
    s.eventually(10, "a_total reaches 20", || {
        s.value("a_total") == Some(20.0)
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let r = s.query(r#"sum by (job) (rate(a_total[1m]))"#);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(parse_value(&r[0]["value"][1]) > 0.0);
    assert_eq!(r[0]["metric"].as_object().unwrap().len(), 1);

    let before = crate::common::http_get(
        &s.addr,
        &format!(
            "/api/v1/query?query={}",
            enc("count_over_time(a_total[1h])")
        ),
    )
    .unwrap()
    .1;
    let n_before = serde_json::from_str::<serde_json::Value>(&before).unwrap()["data"]["result"][0]
        ["value"][1]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap();
    let data = s.data.clone();
    assert_eq!(s.stop(), Some(0));

    // restart on the same data, with no jobs: the samples are still there
    let s = Server::start(dir.path(), "", &[]);
    assert_eq!(s.data, data);
    let log = s.log_text();
    assert!(log.contains("msg=\"TSDB started\""), "{log}");
    let r = s.query("count_over_time(a_total[1h])");
    assert_eq!(r.len(), 1, "{log}");
    assert!(parse_value(&r[0]["value"][1]) >= n_before);
    let range = s.api(&format!(
        "/api/v1/query_range?query=a_total&start={}&end={}&step=1",
        crate::common::now_secs() - 60,
        crate::common::now_secs()
    ));
    assert_eq!(range.0, 200);
    assert_eq!(range.1["data"]["resultType"], "matrix");
}

#[test]
fn format_parse_query_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), "", &[]);
    let (code, v) = s.api(&format!(
        "/api/v1/format_query?query={}",
        enc("sum by(job)(rate(x{a=\"b\"}[5m]))")
    ));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"], "sum by (job) (rate(x{a=\"b\"}[5m]))");
    let (code, v) = s.api(&format!("/api/v1/parse_query?query={}", enc("up")));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["type"], "vectorSelector");
    assert_eq!(v["data"]["name"], "up");
    let (code, v) = s.api("/api/v1/format_query?query=sum(");
    assert_eq!((code, v["errorType"].as_str().unwrap()), (400, "bad_data"));
    let (_, v) = s.api("/api/v1/query?query=1&time=10&stats=all");
    let st = &v["data"]["stats"];
    assert!(st["timings"]["evalTotalTime"].is_number(), "{v}");
    assert!(
        st["samples"]["totalQueryableSamplesPerStep"].is_array(),
        "{v}"
    );
    let (_, v) = s.api("/api/v1/query?query=1&time=10");
    assert!(v["data"].get("stats").is_none());
}

#[test]
fn route_prefix_serves_everything_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        "",
        &["--web.external-url=http://proxy.example/prom/"],
    );
    let get = |p: &str| crate::common::http_get(&s.addr, p).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while get("/prom/-/ready").0 != 200 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(get("/prom/api/v1/query?query=1").0, 200);
    assert_eq!(
        get("/api/v1/query?query=1").0,
        404,
        "nothing outside the prefix"
    );
    let (code, page) = get("/prom/query");
    assert_eq!(code, 200);
    assert!(
        page.contains(r#"<meta name="route-prefix" content="/prom">"#),
        "{page}"
    );
    assert!(page.contains(r#"src="/prom/assets/app.js""#), "{page}");
    assert_eq!(get("/prom/assets/app.js").0, 200);
    let (_, v) = s.api("/prom/api/v1/status/flags");
    assert_eq!(v["data"]["web.route-prefix"], "/prom");
}

/// The value of an unlabelled sample on `/metrics`.
fn self_metric(addr: &str, name: &str) -> f64 {
    let (_, body) = http_get(addr, "/metrics").unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
        .parse()
        .unwrap()
}

#[test]
fn reload_metrics_measure_the_last_reload() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), "", &["--web.enable-lifecycle"]);
    let ok = "prometheus_config_last_reload_successful";
    let at = "prometheus_config_last_reload_success_timestamp_seconds";
    assert_eq!(self_metric(&s.addr, ok), 1.0);
    let first = self_metric(&s.addr, at);
    assert!(first > 1.7e9, "{first}");
    // a failed reload: the metric says so, the timestamp stays
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global:\n  scrape_interval: soon\n",
    )
    .unwrap();
    let (code, _) = http_request(&s.addr, "POST", "/-/reload", None).unwrap();
    assert_eq!(code, 500);
    assert_eq!(self_metric(&s.addr, ok), 0.0);
    assert_eq!(self_metric(&s.addr, at), first);
    assert_eq!(
        s.api("/api/v1/status/runtimeinfo").1["data"]["reloadConfigSuccess"],
        false
    );
    // a good one again, at least a second later
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(dir.path().join("prometheus.yml"), "").unwrap();
    let (code, _) = http_request(&s.addr, "POST", "/-/reload", None).unwrap();
    assert_eq!(code, 200);
    assert_eq!(self_metric(&s.addr, ok), 1.0);
    assert!(self_metric(&s.addr, at) > first);
}

#[test]
fn subquery_without_step_and_the_points_limit_as_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), "global:\n  evaluation_interval: 15s\n", &[]);
    // `[1m:]` steps by the evaluation interval: 555, 570, 585, 600
    let (code, body) = s.api(&format!(
        "/api/v1/query?time=600&query={}",
        enc("count_over_time(vector(1)[1m:])")
    ));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["result"][0]["value"][1], "4", "{body}");
    // exactly 11,000 steps are allowed, one more is not
    let range = |end: u32| {
        s.api(&format!(
            "/api/v1/query_range?query=1&start=0&end={end}&step=1"
        ))
    };
    let (code, body) = range(11_000);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["data"]["result"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        11_001
    );
    let (code, body) = range(11_001);
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("exceeded maximum resolution of 11,000 points"),
        "{body}"
    );
}

#[test]
fn unknown_paths_answer_as_prometheus_3() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), "", &[]);
    for path in [
        "/api/v1/nonexistent",
        "/api/v1/query/x",
        "/api/v2/foo",
        "/nope",
    ] {
        let (code, body) = http_get(&s.addr, path).unwrap();
        assert_eq!(
            (code, body.as_str()),
            (404, "404 page not found\n"),
            "{path}"
        );
        // the headers of Go's http.NotFound, for any method
        for method in ["GET", "POST"] {
            let head = raw_head(&s.addr, method, path);
            assert!(head.starts_with("HTTP/1.1 404"), "{method} {path}: {head}");
            let lower = head.to_ascii_lowercase();
            assert!(
                lower.contains("\r\ncontent-type: text/plain; charset=utf-8\r\n"),
                "{method} {path}: {head}"
            );
            assert!(
                lower.contains("\r\nx-content-type-options: nosniff\r\n"),
                "{method} {path}: {head}"
            );
        }
    }
}

#[test]
fn wrong_methods_and_the_api_root_answer_as_prometheus_3() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), "", &[]);
    // a path taking other methods: 405 with them (and OPTIONS) in Allow
    for (method, path, allow) in [
        ("DELETE", "/api/v1/query", "GET, OPTIONS, POST"),
        ("PUT", "/api/v1/labels", "GET, OPTIONS, POST"),
        ("POST", "/api/v1/status/config", "GET, OPTIONS"),
    ] {
        let head = raw_head(&s.addr, method, path);
        let lower = head.to_ascii_lowercase();
        assert!(head.starts_with("HTTP/1.1 405"), "{method} {path}: {head}");
        assert!(
            lower.contains(&format!("\r\nallow: {}\r\n", allow.to_ascii_lowercase())),
            "{method} {path}: {head}"
        );
        assert!(
            lower.contains("\r\nx-content-type-options: nosniff\r\n"),
            "{method} {path}: {head}"
        );
    }
    // the API's root without its slash is sent there, as Go's ServeMux does
    let head = raw_head(&s.addr, "GET", "/api/v1");
    assert!(head.starts_with("HTTP/1.1 301"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("\r\nlocation: /api/v1/\r\n"),
        "{head}"
    );
    let (code, body) = http_get(&s.addr, "/api/v1/").unwrap();
    assert_eq!((code, body.as_str()), (404, "404 page not found\n"));
}

/// The status line and headers of a request without a body.
fn raw_head(addr: &str, method: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    match text.find("\r\n\r\n") {
        Some(i) => text[..i + 2].to_string(),
        None => text,
    }
}

#[test]
fn retention_from_the_configuration_over_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        "storage:\n  tsdb:\n    retention:\n      time: 2h\n",
        &[
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=3d",
            "--storage.tsdb.retention.size=1GB",
        ],
    );
    let info =
        |s: &Server| s.api("/api/v1/status/runtimeinfo").1["data"]["storageRetention"].clone();
    // the file's time replaces the flag's; the flag's size stays
    assert_eq!(info(&s), "2h or 1GiB");
    assert_eq!(
        self_metric(&s.addr, "prometheus_tsdb_retention_limit_seconds"),
        7200.0
    );
    assert_eq!(
        self_metric(&s.addr, "prometheus_tsdb_retention_limit_bytes"),
        1073741824.0
    );
    // a percentage of the volume: its capacity as `stat -f` tells it
    let out = std::process::Command::new("stat")
        .args(["-f", "-c", "%S %b"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut f = text.split_whitespace().map(|v| v.parse::<u64>().unwrap());
    let capacity = f.next().unwrap() * f.next().unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "storage:\n  tsdb:\n    retention:\n      time: 1d\n      percentage: 25\n",
    )
    .unwrap();
    let (code, _) = http_request(&s.addr, "POST", "/-/reload", None).unwrap();
    assert_eq!(code, 200);
    assert_eq!(
        self_metric(&s.addr, "prometheus_tsdb_retention_limit_percentage"),
        25.0
    );
    assert_eq!(
        self_metric(&s.addr, "prometheus_tsdb_retention_limit_bytes"),
        (capacity as f64 * 0.25).floor()
    );
    assert_eq!(
        self_metric(&s.addr, "prometheus_tsdb_retention_limit_seconds"),
        86400.0
    );
    assert_eq!(info(&s), "1d or 25%");
    // out of range, or a storage key flint does not know: refused by name,
    // the retention in force kept
    for (bad, says) in [
        (
            "      percentage: 120\n",
            "'storage.tsdb.retention.percentage' must be in the range [0, 100], got 120",
        ),
        (
            "      time: 1d\n    out_of_order_time_window: 1h\n",
            "storage.tsdb.out_of_order_time_window",
        ),
    ] {
        std::fs::write(
            dir.path().join("prometheus.yml"),
            format!("storage:\n  tsdb:\n    retention:\n{bad}"),
        )
        .unwrap();
        let (code, body) = http_request(&s.addr, "POST", "/-/reload", None).unwrap();
        assert_eq!(code, 500);
        assert!(body.contains(says), "{body}");
        assert_eq!(
            self_metric(&s.addr, "prometheus_tsdb_retention_limit_seconds"),
            86400.0
        );
    }
}
