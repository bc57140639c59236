//! The web UI in a real headless browser: flint scrapes a local target, and
//! `tests/ui/ui_test.mjs` (playwright-core driving the system Chromium)
//! types a query on the query page, runs it, switches to Graph, opens
//! Prometheus-style `/graph?g0.expr=…` links and the targets page, uses the
//! pages' tools, and reports what the pages show. This test checks that
//! report against the HTTP API (`/api/v1/query`, `/api/v1/targets`, and
//! for each tool a `check_*` function below) and keeps the screenshots in
//! `target/ui-artifacts/`.
//!
//! Needs `node` (20+), `tests/ui/node_modules` (`npm ci` in tests/ui) and
//! Chromium (`chromium` on the PATH, or `FLINT_CHROMIUM=/path/to/chrome`);
//! `scripts/test.sh` installs them. Without them the test prints
//! `SKIP ui: <reason>`, or fails when `CI=true`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{bin, must_run, parse_value, MockTarget, Server};

const JOB: &str = "ui";
/// Typed on the query page, then opened as a `/graph` link (a gauge, so the
/// browser's evaluation time does not change the values).
const GAUGE: &str = "ui_temperature_celsius";
/// Opened as a `/graph` link on the Graph tab.
const RATE: &str = "rate(ui_requests_total[1m])";
/// The graph range the browser sets (its automatic step is then 1s).
const RANGE: &str = "20s";
/// Samples per series to wait for before opening the browser (at 250ms).
const MIN_SAMPLES: f64 = 24.0;
/// A job whose only target refuses connections (the targets page shows
/// its error).
const DOWN_JOB: &str = "ui-down";
/// Graphed as a heatmap (two native histogram series) beside lines (the
/// rooms' gauges).
const HEATMAP_EXPR: &str = "ui_latency_seconds or ui_temperature_celsius";
/// Opened on the Explain tab.
const EXPLAIN_EXPR: &str = "sum by (code) (rate(ui_requests_total[1m]))";
/// Formatted with the Format button.
const FORMAT_EXPR: &str = "sum   by(code)(rate(ui_requests_total{path=~\"/a|/b\"}[1m]))>0";
/// Alerting rules: one firing (attic, 30 °C), one pending (its `for` is
/// long), one inactive, in two groups.
const RULES: &str = "groups:
  - name: ui-hot
    rules:
      - alert: TooHot
        expr: ui_temperature_celsius > 25
        labels:
          severity: page
  - name: ui-comfort
    rules:
      - alert: Warm
        expr: ui_temperature_celsius > 20
        for: 1h
      - alert: Freezing
        expr: ui_temperature_celsius < -50
";

/// Counters per series, in increments per second; distinct, so the rate
/// lines do not overlap.
const COUNTERS: &[(&str, &str, f64)] =
    &[("200", "/a", 10.0), ("500", "/a", 2.0), ("200", "/b", 5.0)];
/// Queues, one gauge each (`ui_queue_<i>_items`).
const QUEUES: usize = 8;
/// Gauges per room; distinct, so the lines do not overlap.
const ROOMS: &[(&str, &str)] = &[("attic", "30"), ("hall", "18"), ("kitchen", "21.5")];

fn body(elapsed: f64) -> String {
    let mut s =
        String::from("# HELP ui_requests_total Requests.\n# TYPE ui_requests_total counter\n");
    for (code, path, per_sec) in COUNTERS {
        s.push_str(&format!(
            "ui_requests_total{{code=\"{code}\",path=\"{path}\"}} {}\n",
            per_sec * elapsed
        ));
    }
    s.push_str("# HELP ui_temperature_celsius Temperature.\n# TYPE ui_temperature_celsius gauge\n");
    for (room, v) in ROOMS {
        s.push_str(&format!("ui_temperature_celsius{{room=\"{room}\"}} {v}\n"));
    }
    // more metric names than the TSDB page's top 10
    for i in 0..QUEUES {
        s.push_str(&format!("ui_queue_{i}_items {i}\n"));
    }
    s
}

/// Keeps the mock target's counters growing until dropped.
struct Ticker(Arc<AtomicBool>);

impl Ticker {
    fn start(t: &MockTarget) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let (stop2, cell) = (Arc::clone(&stop), Arc::clone(&t.body));
        let t0 = Instant::now();
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                *cell.lock().unwrap() = body(t0.elapsed().as_secs_f64());
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Ticker(stop)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

/// Where screenshots are kept after the run: `<target>/ui-artifacts/`.
fn artifacts_dir() -> PathBuf {
    // the binary is <target>/<profile>/flint
    let target = Path::new(bin())
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("ui-artifacts")
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The browser, node and playwright-core, or why they cannot be used.
fn prerequisites() -> Result<PathBuf, String> {
    let chromium = match std::env::var_os("FLINT_CHROMIUM") {
        Some(p) => {
            let p = PathBuf::from(p);
            if !p.is_file() {
                return Err(format!("FLINT_CHROMIUM={} does not exist", p.display()));
            }
            p
        }
        None => [
            "chromium",
            "chromium-browser",
            "google-chrome-stable",
            "google-chrome",
        ]
        .iter()
        .find_map(|n| on_path(n))
        .ok_or("no Chromium found (install Debian's `chromium`, or set FLINT_CHROMIUM)")?,
    };
    let out = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("node not runnable: {e}"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 20 {
        return Err(format!(
            "node {version} is too old (playwright-core needs 20+)"
        ));
    }
    if !ui_dir()
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        return Err(
            "tests/ui/node_modules is missing (run `npm ci` in tests/ui, or scripts/test.sh)"
                .into(),
        );
    }
    Ok(chromium)
}

/// Runs the browser script; returns its exit success, stdout and stderr.
fn run_browser(
    chromium: &Path,
    base: &str,
    shots: &Path,
    target: &str,
    heatmap_end: f64,
) -> (bool, String, String) {
    let mut child = Command::new("node")
        .arg(ui_dir().join("ui_test.mjs"))
        .arg(base)
        .arg(shots)
        .current_dir(ui_dir())
        .env("CHROMIUM_PATH", chromium)
        .env("UI_JOB", JOB)
        .env("UI_TARGET", target)
        .env("UI_TABLE_EXPR", GAUGE)
        .env("UI_RATE_EXPR", RATE)
        .env("UI_RANGE", RANGE)
        .env("UI_DOWN_JOB", DOWN_JOB)
        .env("UI_FORMAT_EXPR", FORMAT_EXPR)
        .env("UI_EXPLAIN_EXPR", EXPLAIN_EXPR)
        .env("UI_HEATMAP_EXPR", HEATMAP_EXPR)
        .env("UI_HEATMAP_END", heatmap_end.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(180);
    let ok = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (ok, out.join().unwrap(), err.join().unwrap())
}

/// Copies the screenshots to `target/ui-artifacts/` and prints both paths.
fn keep_screenshots(shots: &Path) -> Vec<PathBuf> {
    let dest = artifacts_dir();
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::create_dir_all(&dest).unwrap();
    let mut kept = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(shots)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
    {
        let to = dest.join(f.file_name().unwrap());
        std::fs::copy(&f, &to).unwrap();
        println!("screenshot: {} (kept as {})", f.display(), to.display());
        kept.push(to);
    }
    kept
}

/// A series' labels as a sorted map, for comparing regardless of order.
fn labels(metric: &Value) -> BTreeMap<String, String> {
    metric
        .as_object()
        .unwrap_or_else(|| panic!("not a label map: {metric}"))
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

/// Table rows (from the report, or an API vector) as sorted (labels, value).
fn rows(v: &[Value], value: impl Fn(&Value) -> String) -> Vec<(BTreeMap<String, String>, String)> {
    let mut r: Vec<_> = v.iter().map(|x| (labels(&x["metric"]), value(x))).collect();
    r.sort();
    r
}

/// Checks a graph report: one legend entry and one drawn line per series of
/// `api` (an instant query of the same expression), in the legend's
/// colours, stacked top to bottom by value, and no other line.
fn check_graph(what: &str, g: &Value, api: &[Value]) {
    let n = api.len();
    assert!(
        n >= 2,
        "{what}: expected several series from the API, got {api:?}"
    );
    let info = g["info"].as_str().unwrap();
    assert!(
        info.starts_with(&format!("{n} series · ")),
        "{what}: info {info:?}"
    );
    let legend = g["legend"].as_array().unwrap();
    let mut shown: Vec<_> = legend.iter().map(|l| labels(&l["metric"])).collect();
    shown.sort();
    let mut want: Vec<_> = api.iter().map(|s| labels(&s["metric"])).collect();
    want.sort();
    assert_eq!(
        shown, want,
        "{what}: legend series differ from /api/v1/query"
    );
    assert!(
        legend.iter().all(|l| l["shown"] == true),
        "{what}: hidden series: {legend:?}"
    );
    let colors = g["colors"].as_array().unwrap();
    assert_eq!(
        g["linesDrawn"].as_u64(),
        Some(n as u64),
        "{what}: expected {n} lines, palette use: {colors:?}"
    );
    let width = g["canvas"]["width"].as_u64().unwrap();
    for c in colors {
        let i = c["i"].as_u64().unwrap() as usize;
        if i < n {
            // a line across the time the data covers (a fifth of the range or more)
            let cols = c["columns"].as_u64().unwrap();
            assert!(
                cols * 5 >= width,
                "{what}: line {i} spans {cols} of {width} pixel columns: {c}"
            );
            assert_eq!(
                legend[i]["swatch"], c["rgb"],
                "{what}: legend entry {i} is not the colour of line {i}"
            );
        } else {
            assert_eq!(
                c["pixels"], 0,
                "{what}: a line in colour {i} with only {n} series: {c}"
            );
        }
    }
    // higher values are drawn higher (smaller y): match lines to API values
    let value_of = |m: &BTreeMap<String, String>| {
        api.iter()
            .find(|s| &labels(&s["metric"]) == m)
            .map(|s| parse_value(&s["value"][1]))
            .unwrap()
    };
    let mut by_value: Vec<(f64, u64)> = legend
        .iter()
        .map(|l| {
            let i = l["i"].as_u64().unwrap() as usize;
            (
                value_of(&labels(&l["metric"])),
                colors[i]["medianY"].as_u64().unwrap(),
            )
        })
        .collect();
    by_value.sort_by(|a, b| b.0.total_cmp(&a.0));
    assert!(
        by_value.windows(2).all(|w| w[0].1 < w[1].1),
        "{what}: lines not ordered by value (value, median y): {by_value:?}"
    );
}

#[test]
fn web_ui_in_a_headless_browser() {
    let chromium = match prerequisites() {
        Ok(c) => c,
        Err(why) if !must_run() => {
            println!("SKIP ui: {why}");
            return;
        }
        Err(why) => panic!("ui test cannot run (CI=true): {why}"),
    };
    let t0 = Instant::now();
    let target = MockTarget::start(&body(0.0));
    let _ticker = Ticker::start(&target);
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    // a port nothing listens on
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cfg = format!(
        "global:\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n  - job_name: {JOB}\n    scrape_interval: 250ms\n    scrape_timeout: 250ms\n    static_configs:\n      - targets: ['{}', 'dropped.invalid:1']\n        labels:\n          env: ui-test\n    relabel_configs:\n      - source_labels: [__address__]\n        regex: 'dropped\\..*'\n        action: drop\n      - target_label: team\n        replacement: ui\n  - job_name: {DOWN_JOB}\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{closed}']\n",
        rules.display(),
        target.addr
    );
    let s = Server::start(
        dir.path(),
        &cfg,
        &[
            "--enable-feature=exemplar-storage",
            "--web.enable-remote-write-receiver",
        ],
    );
    s.eventually(30, "a few seconds of samples", || {
        let r = s.query(&format!("count_over_time({GAUGE}[1m])"));
        r.len() == ROOMS.len() && r.iter().all(|x| parse_value(&x["value"][1]) >= MIN_SAMPLES)
    });
    s.eventually(10, "rates of every counter", || {
        s.query(RATE).len() == COUNTERS.len()
    });
    s.eventually(20, "alerts firing and pending", || {
        let (_, r) = s.api("/api/v1/alerts");
        let states: Vec<_> = r["data"]["alerts"]
            .as_array()
            .map(|a| a.iter().map(|x| x["state"].clone()).collect())
            .unwrap_or_default();
        states.contains(&"firing".into()) && states.contains(&"pending".into())
    });
    s.eventually(20, "the down target's error", || {
        let (_, r) = s.api("/api/v1/targets?state=active");
        r["data"]["activeTargets"].as_array().is_some_and(|a| {
            a.iter()
                .any(|t| t["scrapePool"] == DOWN_JOB && t["lastError"] != "")
        })
    });

    let exemplars = add_exemplars(&s);
    add_histogram(&s);
    let heatmap_end = add_latencies(&s);

    let shots = dir.path().join("screenshots");
    let base = format!("http://{}", s.addr);
    let (ok, out, err) = run_browser(&chromium, &base, &shots, &target.addr, heatmap_end);
    println!("browser log:\n{err}");
    let kept = keep_screenshots(&shots);
    assert!(
        ok,
        "the browser script failed:\n{err}\nstdout:\n{out}\nflint log:\n{}",
        s.log_text()
    );
    let report: Value = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON report on stdout:\n{out}"));

    assert_eq!(
        report["pageErrors"],
        serde_json::json!([]),
        "errors in the page"
    );

    // the typed query's table: the rows /api/v1/query returns
    let api = s.query(GAUGE);
    assert_eq!(api.len(), ROOMS.len(), "{api:?}");
    let want = rows(&api, |x| x["value"][1].as_str().unwrap().to_string());
    let typed = &report["typed"];
    assert_eq!(typed["editor"], GAUGE);
    assert_eq!(typed["tableSelected"], "true");
    let got = rows(typed["rows"].as_array().unwrap(), |x| {
        x["value"].as_str().unwrap().to_string()
    });
    assert_eq!(got, want, "table rows differ from /api/v1/query");
    assert!(
        got.iter()
            .all(|(l, _)| l["__name__"] == GAUGE && l["env"] == "ui-test"),
        "{got:?}"
    );

    // its Graph tab: one line per series
    let graph = &report["graph"];
    let url = graph["url"].as_str().unwrap();
    assert!(
        url.contains("g0.tab=graph") && url.contains(&format!("g0.range_input={RANGE}")),
        "the URL keeps the graph state: {url}"
    );
    check_graph("graph of the typed query", graph, &api);

    // a Prometheus-style link shows the same query and rows
    let link = &report["link"];
    assert_eq!(link["editor"], GAUGE, "the /graph link's expression");
    assert_eq!(link["tableSelected"], "true");
    let got = rows(link["rows"].as_array().unwrap(), |x| {
        x["value"].as_str().unwrap().to_string()
    });
    assert_eq!(
        got, want,
        "/graph link: table rows differ from /api/v1/query"
    );

    // a rate on the Graph tab from a link
    let rate = &report["rate"];
    assert_eq!(rate["editor"], RATE);
    assert_eq!(rate["graphSelected"], "true");
    let api_rate = s.query(RATE);
    assert_eq!(api_rate.len(), COUNTERS.len(), "{api_rate:?}");
    check_graph("rate graph", rate, &api_rate);

    // a histogram's buckets and counts (and rates of them) are drawn as
    // counts; a quantile over buckets in the unit of the metric's name
    let units = &report["units"];
    for (expr, unit) in [
        ("http_request_duration_seconds_bucket", ""),
        ("rate(http_request_duration_seconds_bucket[1m])", ""),
        ("rate(http_request_size_bytes_bucket{le=\"100\"}[5m])", ""),
        (
            "histogram_quantile(0.9, rate(http_request_duration_seconds_bucket[5m]))",
            "seconds",
        ),
        ("rate(http_request_duration_seconds_count[1m])", ""),
        (
            "http_request_duration_seconds_sum / http_request_duration_seconds_count",
            "seconds",
        ),
        ("process_resident_memory_bytes", "bytes"),
    ] {
        assert_eq!(units[expr], unit, "value-axis unit of {expr}: {units}");
    }

    // the targets page: the target, up, with its labels
    let (code, targets) = s.api("/api/v1/targets?state=active");
    assert_eq!(code, 200);
    let active: Vec<&Value> = targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["scrapePool"] == JOB)
        .collect();
    assert_eq!(active.len(), 1, "{targets}");
    assert_eq!(active[0]["health"], "up");
    let t = &report["targets"];
    assert_eq!(t["heading"], "Targets");
    assert_eq!(t["poolHeading"], JOB);
    assert_eq!(t["poolBadge"], "1 / 1 up");
    let trows = t["rows"].as_array().unwrap();
    assert_eq!(trows.len(), 1, "{t}");
    let row = &trows[0];
    let endpoint = format!("http://{}/metrics", target.addr);
    assert_eq!(row["endpoint"], endpoint.as_str());
    assert_eq!(row["href"], endpoint.as_str());
    assert_eq!(row["health"], "up");
    assert_eq!(row["error"], Value::Null);
    let shown = labels(&row["labels"]);
    assert_eq!(
        shown,
        labels(&active[0]["labels"]),
        "target labels differ from /api/v1/targets"
    );
    let expect: BTreeMap<String, String> = [
        ("env", "ui-test"),
        ("instance", target.addr.as_str()),
        ("job", JOB),
        ("team", "ui"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(shown, expect);

    check_zoom(&report["zoom"]);
    check_y_axis(&report["yAxis"]);
    check_exemplars(&report["exemplars"], &exemplars);
    check_histogram(&report["histogram"]);
    check_heatmap(&s, &report["heatmap"]);
    check_history(&report["history"]);
    check_explorer(&s, &report["explorer"]);
    check_format(&s, &report["format"]);
    check_explain(&s, &report["explain"]);
    check_cost(&s, &report);
    check_alerts(&s, &report["alerts"]);
    check_relabel(&s, &report["relabel"], &target.addr);
    check_cardinality(&s, &report["cardinality"]);
    check_bytes(&s, &report["bytes"]);
    check_targets_layout(&report["targetsLayout"], &closed.to_string());

    let names: Vec<_> = kept
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .collect();
    for n in [
        "1-query-table.png",
        "2-query-graph.png",
        "3-graph-link-table.png",
        "4-rate-graph.png",
        "5-targets.png",
        "6-zoomed-graph.png",
        "7-y-axis-zero.png",
        "8-history.png",
        "9-metrics-explorer.png",
        "10-alerts-pending.png",
        "11-relabel-steps.png",
        "12-tsdb-cardinality.png",
        "12b-tsdb-bytes.png",
        "13-targets-down.png",
        "14-explain.png",
        "15-heatmap.png",
        "15b-heatmap-dark.png",
        "15b-heatmap-negative-buckets.png",
        "15c-heatmap-count.png",
    ] {
        assert!(
            names.iter().any(|x| x == n),
            "screenshot {n} missing: {names:?}"
        );
    }
    println!("ui test took {:.1}s", t0.elapsed().as_secs_f64());
}

/// A range written as the UI writes `range_input` ("10s", "1m30s") in ms.
fn duration_ms(s: &str) -> u64 {
    let mut total = 0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            1
        } else {
            match c {
                's' => 1000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                'w' => 604_800_000,
                'y' => 31_536_000_000,
                _ => panic!("bad duration {s:?}"),
            }
        };
        total += num.parse::<u64>().unwrap() * unit;
        num.clear();
    }
    total
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Dragging across the middle half of a 20 s graph shows that span: the
/// URL's range and end are the selection's (to the second), the graph is
/// redrawn over them, and Zoom out and Back return.
fn check_zoom(z: &Value) {
    let (from, to) = (num(&z["selected"]["from"]), num(&z["selected"]["to"]));
    let before = &z["before"];
    let span = num(&before["end"]) - num(&before["start"]);
    assert!(
        (to - from - span / 2.0).abs() < 1000.0,
        "the selection is half the graph: {z}"
    );
    let range = duration_ms(z["rangeInput"].as_str().unwrap()) as f64;
    assert!(
        (range - (to - from)).abs() <= 1000.0,
        "g0.range_input is the selected span: {z}"
    );
    assert!(range < span, "zoomed in: {z}");
    let end = num(&z["endMs"]);
    assert!(
        (end - to).abs() <= 1000.0,
        "g0.end_input is the selection's end: {z}"
    );
    assert_eq!(
        num(&z["after"]["end"]),
        end,
        "graph redrawn to the new end: {z}"
    );
    assert!(
        (num(&z["after"]["end"]) - num(&z["after"]["start"]) - range).abs() <= 1000.0,
        "graph redrawn over the new range: {z}"
    );
    assert_eq!(z["zoomOutVisible"], true, "{z}");
    assert_eq!(z["backRange"], RANGE, "Zoom out restores the range: {z}");
    assert!(
        !z["backUrl"].as_str().unwrap().contains("end_input"),
        "Zoom out restores the end (now): {z}"
    );
    assert!(
        z["backButtonUrl"]
            .as_str()
            .unwrap()
            .contains("g0.end_input="),
        "Back returns to the zoomed span: {z}"
    );
}

/// "Start Y axis at 0": the axis of 18-30 °C starts above 0 by default and
/// at 0 when checked, kept in the URL as Prometheus's `g0.y_axis_min=0`.
fn check_y_axis(y: &Value) {
    assert!(num(&y["before"]) > 0.0, "{y}");
    assert_eq!(num(&y["checked"]), 0.0, "{y}");
    assert!(
        y["url"].as_str().unwrap().contains("g0.y_axis_min=0"),
        "{y}"
    );
    assert_eq!(num(&y["afterReload"]), 0.0, "{y}");
    assert_eq!(y["boxAfterReload"], true, "{y}");
}

/// Exemplars for two of the gauge's series (by remote write, in series of
/// their own as Prometheus sends them): (trace id, value) of each.
fn add_exemplars(s: &Server) -> Vec<(String, f64)> {
    use flint::remote::{Exemplar, Label, TimeSeries, WriteRequest};
    let now = crate::common::now_secs() as i64 * 1000;
    let mut req = WriteRequest::default();
    let mut added = Vec::new();
    for (i, series) in s.query(GAUGE).iter().take(2).enumerate() {
        let labels = series["metric"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| Label::new(k.as_str(), v.as_str().unwrap()))
            .collect();
        let trace = format!("ui-trace-{i}");
        let value = parse_value(&series["value"][1]) + 0.25;
        req.timeseries.push(TimeSeries {
            labels,
            exemplars: vec![Exemplar {
                labels: vec![Label::new("trace_id", trace.as_str())],
                value,
                timestamp: now - 5_000 - i as i64 * 1000,
            }],
            ..Default::default()
        });
        added.push((trace, value));
    }
    let (code, body) = crate::peers::remote_write(&s.addr, &req);
    assert_eq!(code, 204, "{body}");
    added
}

/// A native histogram series `ui_request_seconds` (by remote write):
/// schema 0, buckets (0.5, 1], (1, 2], (2, 4] holding 1, 2 and 4.
fn add_histogram(s: &Server) {
    use flint::remote::proto::histogram::{Count, ZeroCount};
    use flint::remote::{BucketSpan, Histogram, Label, TimeSeries, WriteRequest};
    let now = crate::common::now_secs() as i64 * 1000;
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label::new("__name__", "ui_request_seconds"),
                Label::new("job", "ui"),
            ],
            histograms: vec![Histogram {
                count: Some(Count::CountInt(7)),
                sum: 3.5,
                schema: 0,
                zero_count: Some(ZeroCount::ZeroCountInt(0)),
                positive_spans: vec![BucketSpan {
                    offset: 0,
                    length: 3,
                }],
                positive_deltas: vec![1, 1, 2],
                timestamp: now - 1000,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let (code, body) = crate::peers::remote_write(&s.addr, &req);
    assert_eq!(code, 204, "{body}");
}

/// Native histogram series `ui_latency_seconds{path="/a"}` and `{path="/b"}`
/// (by remote write), a sample a second for the last 40 s, counts growing:
/// `/a` schema 0 with a zero bucket ([-0.001, 0.001]) and buckets (0.5, 1]
/// to (4, 8]; `/b` the negative buckets [-1, -0.5) and [-2, -1) and (2, 4].
/// Returns the last sample's time (Unix seconds), where the graph ends.
fn add_latencies(s: &Server) -> f64 {
    use flint::remote::proto::histogram::{Count, ZeroCount};
    use flint::remote::{BucketSpan, Histogram, Label, TimeSeries, WriteRequest};
    let now = crate::common::now_secs() as i64 * 1000;
    let deltas = |counts: &[i64]| -> Vec<i64> {
        let mut prev = 0;
        counts
            .iter()
            .map(|c| {
                let d = c - prev;
                prev = *c;
                d
            })
            .collect()
    };
    let span = |offset, length| BucketSpan { offset, length };
    let series = |path: &str, histograms| TimeSeries {
        labels: vec![
            Label::new("__name__", "ui_latency_seconds"),
            Label::new("job", "ui"),
            Label::new("path", path),
        ],
        histograms,
        ..Default::default()
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for j in 1..=40i64 {
        let timestamp = now - (41 - j) * 1000;
        let pos = [j, 3 * j, 2 * j, 1 + j / 4];
        a.push(Histogram {
            count: Some(Count::CountInt((2 * j + pos.iter().sum::<i64>()) as u64)),
            sum: 2.5 * j as f64,
            schema: 0,
            zero_threshold: 0.001,
            zero_count: Some(ZeroCount::ZeroCountInt(2 * j as u64)),
            positive_spans: vec![span(0, 4)],
            positive_deltas: deltas(&pos),
            timestamp,
            ..Default::default()
        });
        let neg = [j, 2 * j];
        b.push(Histogram {
            count: Some(Count::CountInt((6 * j) as u64)),
            sum: 0.5 * j as f64,
            schema: 0,
            zero_threshold: 0.001,
            zero_count: Some(ZeroCount::ZeroCountInt(0)),
            negative_spans: vec![span(0, 2)],
            negative_deltas: deltas(&neg),
            positive_spans: vec![span(2, 1)],
            positive_deltas: vec![3 * j],
            timestamp,
            ..Default::default()
        });
    }
    let req = WriteRequest {
        timeseries: vec![series("/a", a), series("/b", b)],
        ..Default::default()
    };
    let (code, body) = crate::peers::remote_write(&s.addr, &req);
    assert_eq!(code, 204, "{body}");
    (now - 1000) as f64 / 1000.0
}

/// A bucket of the API's `[rule, lower, upper, count]` as the UI writes
/// its interval.
fn bucket_range(b: &Value) -> String {
    let rule = b[0].as_u64().unwrap();
    format!(
        "{}{}, {}{}",
        if rule & 1 == 1 { '[' } else { '(' },
        b[1].as_str().unwrap(),
        b[2].as_str().unwrap(),
        if rule == 0 || rule == 3 { ']' } else { ')' }
    )
}

/// A graph of histogram and float series: a heatmap of a histogram series
/// (a row per bucket the API has for it, cells in several colours, its
/// legend listing the histogram series), the floats as lines below; the
/// hovered cell's tooltip has a bucket's interval and count as
/// `/api/v1/query` answers them at the cell's time; another legend entry
/// draws that series (its negative buckets too); the Count view draws
/// every series as a line, the histograms' counts.
fn check_heatmap(s: &Server, r: &Value) {
    let hists: Vec<Value> = s
        .query("ui_latency_seconds")
        .into_iter()
        .filter(|x| x.get("histogram").is_some())
        .collect();
    assert_eq!(hists.len(), 2, "{hists:?}");
    let mut want: Vec<_> = hists.iter().map(|x| labels(&x["metric"])).collect();
    want.sort();
    let mut legend: Vec<_> = r["legend"].as_array().unwrap().iter().map(labels).collect();
    legend.sort();
    assert_eq!(legend, want, "heatmap legend: {r}");
    let mut floats: Vec<_> = r["floatLegend"]
        .as_array()
        .unwrap()
        .iter()
        .map(labels)
        .collect();
    floats.sort();
    let mut rooms: Vec<_> = s
        .query(GAUGE)
        .iter()
        .map(|x| labels(&x["metric"]))
        .collect();
    rooms.sort();
    assert_eq!(floats, rooms, "the float series' legend: {r}");
    assert!(
        r["info"].as_str().unwrap().starts_with("5 series · "),
        "{r}"
    );

    // the hovered cell is one of the API's buckets at its time
    let tip = &r["tip"];
    let t = parse_value(&tip["t"]) / 1000.0;
    let shown = labels(&tip["metric"]);
    let (_, at) = s.api(&format!("/api/v1/query?query=ui_latency_seconds&time={t}"));
    let series = at["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| labels(&x["metric"]) == shown)
        .unwrap_or_else(|| panic!("tooltip series {shown:?} not in {at}"));
    let buckets = series["histogram"][1]["buckets"].as_array().unwrap();
    let interval = tip["interval"].as_str().unwrap();
    let bucket = buckets
        .iter()
        .find(|b| bucket_range(b) == interval)
        .unwrap_or_else(|| panic!("no bucket {interval} at {t} in {series}"));
    assert_eq!(
        parse_value(&tip["value"]),
        parse_value(&bucket[3]),
        "hovered cell's count: {r}"
    );
    let text = tip["text"].as_str().unwrap();
    assert!(
        text.contains(interval) && text.contains(bucket[3].as_str().unwrap()),
        "tooltip text {text:?} lacks {interval} {}",
        bucket[3]
    );
    // the largest count at the end of the graph is the last sample's largest
    let most = buckets
        .iter()
        .map(|b| parse_value(&b[3]))
        .fold(0.0, f64::max);
    assert_eq!(parse_value(&tip["value"]), most, "{r}");

    let check_drawn = |what: &str, h: &Value, path: &str| {
        let series = hists.iter().find(|x| x["metric"]["path"] == path).unwrap();
        let n = series["histogram"][1]["buckets"].as_array().unwrap().len() as u64;
        let rows = h["rows"].as_u64().unwrap();
        assert!(
            rows >= n && rows <= n + 2,
            "{what}: {rows} rows for {n} buckets: {h}"
        );
        // a cell per bucket and step (the graph's 21 steps all have a sample)
        assert!(h["cells"].as_u64().unwrap() >= n * 15, "{what}: {h}");
        assert!(h["colors"].as_u64().unwrap() >= 4, "{what}: {h}");
        assert!(h["lowest"].as_str().unwrap().starts_with('-'), "{what}");
    };
    assert_eq!(r["light"]["selected"], "0", "{r}");
    let first = legend_path(r, 0);
    check_drawn("light", &r["light"], &first);
    check_drawn("dark", &r["dark"], &first);
    assert_ne!(
        r["light"]["colorsAt"], r["dark"]["colorsAt"],
        "the dark theme has colours of its own: {r}"
    );
    assert_eq!(r["second"]["selected"], "1", "{r}");
    check_drawn("second series", &r["second"], &legend_path(r, 1));

    assert_eq!(r["countLegend"].as_array().unwrap().len(), 5, "{r}");
    assert!(r["countUrl"]
        .as_str()
        .unwrap()
        .contains("g0.histogram_view=count"));
    assert_eq!(
        r["countLines"], 5,
        "a line per series in the Count view: {r}"
    );
}

fn legend_path(r: &Value, i: usize) -> String {
    r["legend"][i]["path"].as_str().unwrap().to_string()
}

/// The table shows a histogram sample's count and sum, and its buckets
/// with their intervals, counts and bars as long as the counts.
fn check_histogram(r: &Value) {
    assert_eq!(r["head"], "count 7, sum 3.5", "{r}");
    assert_eq!(r["summary"], "3 buckets", "{r}");
    let got: Vec<(String, String, String)> = r["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["range"].as_str().unwrap().to_string(),
                b["count"].as_str().unwrap().to_string(),
                b["width"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("(0.5, 1]", "1", "25%"),
        ("(1, 2]", "2", "50%"),
        ("(2, 4]", "4", "100%"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want, "{r}");
}

/// "Show exemplars" marks the exemplars the API has for the graph's
/// series, kept in the URL as Prometheus's `g0.show_exemplars=1`; hovering
/// one shows its trace id and value.
fn check_exemplars(r: &Value, added: &[(String, f64)]) {
    assert_eq!(r["before"], 0, "none drawn before the box is checked: {r}");
    assert_eq!(r["count"], added.len(), "{r}");
    assert!(
        r["url"].as_str().unwrap().contains("g0.show_exemplars=1"),
        "{r}"
    );
    let label = r["tipLabel"].as_str().unwrap();
    let tip = r["tip"].as_str().unwrap();
    let (trace, value) = added
        .iter()
        .find(|(t, _)| label.contains(t.as_str()))
        .unwrap_or_else(|| panic!("no added trace id in the tooltip: {r}"));
    assert!(
        tip.contains(trace.as_str()) && tip.contains(&value.to_string()),
        "{r}"
    );
}

/// The history lists executed queries, most recent first; searching
/// narrows it; a click puts the query in the editor and runs it.
fn check_history(hv: &Value) {
    let stored: Vec<&str> = hv["stored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    // the last query run before opening it was the gauge's graph
    assert_eq!(stored.first(), Some(&GAUGE), "{hv}");
    assert!(stored.contains(&RATE), "{hv}");
    assert_eq!(
        stored.iter().filter(|x| **x == GAUGE).count(),
        1,
        "no duplicates: {hv}"
    );
    let all: Vec<&str> = hv["allItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(all, stored, "the popover lists the stored history: {hv}");
    assert_eq!(hv["filtered"], serde_json::json!([RATE]), "search: {hv}");
    assert_eq!(hv["editor"], RATE, "{hv}");
    assert_eq!(hv["popoverGone"], true, "{hv}");
    assert_eq!(hv["rows"], COUNTERS.len(), "the chosen query ran: {hv}");
}

fn subsequence(name: &str, q: &str) -> bool {
    let mut it = name.chars();
    q.chars().all(|c| it.any(|x| x == c))
}

/// The explorer finds the gauge by a fuzzy query, with its type and help
/// from /api/v1/metadata and its labels from /api/v1/series, and inserts
/// its name at the cursor.
fn check_explorer(s: &Server, x: &Value) {
    let q = x["query"].as_str().unwrap();
    let rows = x["rows"].as_array().unwrap();
    assert_eq!(rows[0]["name"], GAUGE, "best match first: {x}");
    for r in rows {
        assert!(
            subsequence(r["name"].as_str().unwrap(), q),
            "{r} does not match {q}"
        );
    }
    let (_, meta) = s.api(&format!("/api/v1/metadata?metric={GAUGE}"));
    let m = &meta["data"][GAUGE][0];
    assert_eq!(rows[0]["type"], m["type"], "{x} vs {meta}");
    assert_eq!(rows[0]["help"], m["help"], "{x} vs {meta}");
    assert_eq!(rows[0]["type"], "gauge");
    let (_, series) = s.api(&format!(
        "/api/v1/series?match[]={}",
        crate::common::enc(GAUGE)
    ));
    let mut want: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for ser in series["data"].as_array().unwrap() {
        for (k, v) in ser.as_object().unwrap() {
            if k != "__name__" {
                want.entry(k.clone())
                    .or_default()
                    .insert(v.as_str().unwrap().to_string());
            }
        }
    }
    let got: BTreeMap<String, u64> = x["labels"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    let want: BTreeMap<String, u64> = want.into_iter().map(|(k, v)| (k, v.len() as u64)).collect();
    assert_eq!(got, want, "labels and value counts");
    assert_eq!(got["room"], ROOMS.len() as u64);
    assert_eq!(x["beforeInsert"], "avg()");
    assert_eq!(
        x["editor"],
        format!("avg({GAUGE})"),
        "inserted at the cursor"
    );
}

/// Format rewrites the expression as /api/v1/format_query does.
fn check_format(s: &Server, f: &Value) {
    let (code, api) = s.api(&format!(
        "/api/v1/format_query?query={}",
        crate::common::enc(FORMAT_EXPR)
    ));
    assert_eq!(code, 200, "{api}");
    let want = api["data"].as_str().unwrap();
    assert_ne!(want, FORMAT_EXPR);
    assert_eq!(f["editor"], want, "{f}");
    assert!(
        f["url"].as_str().unwrap().contains("g0.expr="),
        "the URL follows: {f}"
    );
}

fn shown_number(v: &Value) -> u64 {
    v.as_str()
        .unwrap_or_else(|| panic!("not text: {v}"))
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {v}"))
}

/// The cost line under a panel: the result's series and the samples the
/// API's own statistics count for the same query.
fn check_cost(s: &Server, report: &Value) {
    let table = &report["cost"]["table"];
    assert_eq!(
        shown_number(&table["series"]),
        ROOMS.len() as u64,
        "{table}"
    );
    let (_, api) = s.api(&format!(
        "/api/v1/query?query={}&stats=all",
        crate::common::enc(GAUGE)
    ));
    assert_eq!(
        shown_number(&table["samples"]),
        api["data"]["stats"]["samples"]["totalQueryableSamples"]
            .as_u64()
            .unwrap(),
        "{table} vs {api}"
    );
    let rate = &report["cost"]["rate"];
    assert_eq!(
        shown_number(&rate["series"]),
        COUNTERS.len() as u64,
        "{rate}"
    );
    let span = &report["rate"]["span"];
    let (_, api) = s.api(&format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=1&stats=all",
        crate::common::enc(RATE),
        num(&span["start"]) / 1000.0,
        num(&span["end"]) / 1000.0,
    ));
    let want = api["data"]["stats"]["samples"]["totalQueryableSamples"]
        .as_u64()
        .unwrap();
    assert!(want > 0, "{api}");
    // a scrape that began before the graph's end may be stored just after
    // the page asked: at most one more sample per series
    let shown = shown_number(&rate["samples"]);
    assert!(
        shown <= want && want <= shown + COUNTERS.len() as u64,
        "{rate} vs {api}"
    );
    for k in ["eval", "prepare", "peak"] {
        assert!(rate[k].is_string(), "{k} missing: {rate}");
    }
}

/// The Explain tab lists each part of the expression, written back as
/// PromQL, with as many series as the API gives for that part alone.
fn check_explain(s: &Server, e: &Value) {
    assert_eq!(e["selected"], "true", "{e}");
    let nodes = e["nodes"].as_array().unwrap();
    let got: Vec<(&str, u64)> = nodes
        .iter()
        .map(|n| (n["expr"].as_str().unwrap(), n["depth"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (EXPLAIN_EXPR, 0),
            ("rate(ui_requests_total[1m])", 1),
            ("ui_requests_total[1m]", 2),
        ],
        "{e}"
    );
    for n in nodes {
        let expr = n["expr"].as_str().unwrap();
        let want = s.query(expr).len();
        assert_eq!(
            n["series"].as_str().unwrap().parse::<usize>().unwrap(),
            want,
            "{expr}: {e}"
        );
    }
    // written back, each expression formats as the original does
    let format = |q: &str| {
        let (code, v) = s.api(&format!(
            "/api/v1/format_query?query={}",
            crate::common::enc(q)
        ));
        assert_eq!(code, 200, "{q}: {v}");
        v["data"].as_str().unwrap().to_string()
    };
    let trips = e["roundTrip"].as_array().unwrap();
    assert_eq!(trips.len(), 9, "{e}");
    for t in trips {
        let (orig, back) = (t[0].as_str().unwrap(), t[1].as_str().unwrap());
        assert_eq!(format(back), format(orig), "{orig} written back as {back}");
    }
    // two status codes among the three counters
    assert_eq!(nodes[0]["series"], "2", "{e}");
    assert_eq!(nodes[1]["series"], COUNTERS.len().to_string(), "{e}");
}

/// Rule names by group, as the page lists them.
fn alert_view(v: &Value) -> Vec<(String, Vec<(String, String)>)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["group"].as_str().unwrap().to_string(),
                g["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        (
                            r["name"].as_str().unwrap().to_string(),
                            r["state"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

/// The alerts page groups rules by rule group with their states from
/// /api/v1/rules; the state buttons and the search narrow it, kept in the
/// URL.
fn check_alerts(s: &Server, a: &Value) {
    let (_, api) = s.api("/api/v1/rules?type=alert");
    let want: Vec<(String, Vec<(String, String)>)> = api["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_string(),
                g["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        (
                            r["name"].as_str().unwrap().to_string(),
                            r["state"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let all = alert_view(&a["all"]);
    assert_eq!(all, want, "alerts page vs /api/v1/rules");
    let states: Vec<&str> = all
        .iter()
        .flat_map(|g| g.1.iter().map(|r| r.1.as_str()))
        .collect();
    assert!(
        states.contains(&"firing") && states.contains(&"pending") && states.contains(&"inactive"),
        "{all:?}"
    );
    let pending: Vec<_> = want
        .iter()
        .map(|(g, rs)| {
            (
                g.clone(),
                rs.iter()
                    .filter(|r| r.1 == "pending")
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|g| !g.1.is_empty())
        .collect();
    assert_eq!(alert_view(&a["pendingOnly"]), pending, "pending only");
    assert!(
        a["pendingUrl"]
            .as_str()
            .unwrap()
            .ends_with("/alerts?state=pending"),
        "{a}"
    );
    let freezing = vec![(
        "ui-comfort".to_string(),
        vec![("Freezing".to_string(), "inactive".to_string())],
    )];
    assert_eq!(alert_view(&a["searched"]), freezing, "search 'freez'");
    assert!(
        a["searchUrl"].as_str().unwrap().contains("search=freez"),
        "{a}"
    );
    assert_eq!(
        alert_view(&a["afterReload"]),
        freezing,
        "filters kept in the URL"
    );
    assert_eq!(a["searchAfterReload"], "freez");
}

/// The relabeling steps the service-discovery page shows are the API's
/// (`/api/v1/targets/relabel_steps`, Prometheus 3's shape): the kept target
/// ends with the target's labels, the dropped one is dropped by its rule.
fn check_relabel(s: &Server, r: &Value, addr: &str) {
    let (_, targets) = s.api("/api/v1/targets");
    let d = &targets["data"];
    let active = d["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scrapePool"] == JOB)
        .unwrap();
    let dropped = d["droppedTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scrapePool"] == JOB)
        .unwrap_or_else(|| panic!("no dropped target: {targets}"));
    for (what, t, shown) in [
        ("active", active, &r["active"]),
        ("dropped", dropped, &r["dropped"]),
    ] {
        let labels = serde_json::to_string(&t["discoveredLabels"]).unwrap();
        let (code, api) = s.api(&format!(
            "/api/v1/targets/relabel_steps?scrapePool={JOB}&labels={}",
            crate::common::enc(&labels)
        ));
        assert_eq!(code, 200, "{api}");
        let steps = api["data"]["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 2, "{api}");
        let shown = shown.as_array().unwrap();
        assert_eq!(shown.len(), steps.len(), "{what}: {shown:?}");
        for (a, b) in steps.iter().zip(shown) {
            assert_eq!(a["rule"]["action"], b["action"], "{what}");
            assert_eq!(a["keep"], b["keep"], "{what}");
            if a["keep"] == true {
                assert_eq!(labels_of(&a["output"]), labels_of(&b["output"]), "{what}");
            }
        }
        // the rules as Prometheus writes them
        assert_eq!(
            steps[0]["rule"],
            serde_json::json!({"source_labels": ["__address__"], "separator": ";", "regex": "dropped\\..*", "replacement": "$1", "action": "drop"})
        );
        assert_eq!(
            steps[1]["rule"],
            serde_json::json!({"separator": ";", "regex": "(.*)", "target_label": "team", "replacement": "ui", "action": "replace"})
        );
    }
    let act = r["active"].as_array().unwrap();
    assert_eq!(act[1]["keep"], true);
    assert_eq!(act[1]["output"]["team"], "ui");
    assert_eq!(act[1]["output"]["__address__"], addr);
    assert_eq!(act[1]["changed"], serde_json::json!(["team"]), "{act:?}");
    let dr = r["dropped"].as_array().unwrap();
    assert_eq!(dr[0]["keep"], false, "{dr:?}");
    assert_eq!(dr[1]["keep"], false, "{dr:?}");
    // errors as Prometheus answers them
    for q in [
        "labels=%7B%7D",
        "scrapePool=ui",
        "scrapePool=nope&labels=%7B%7D",
        "scrapePool=ui&labels=nojson",
    ] {
        let (code, v) = s.api(&format!("/api/v1/targets/relabel_steps?{q}"));
        assert_eq!(
            (code, v["errorType"].as_str()),
            (400, Some("bad_data")),
            "{q}: {v}"
        );
    }
}

fn labels_of(v: &Value) -> BTreeMap<String, String> {
    labels(v)
}

/// The TSDB page's per-metric cardinality is the API's series count by
/// metric name, every metric (not only the top 10).
fn check_cardinality(s: &Server, c: &Value) {
    let (_, api) = s.api("/api/v1/status/tsdb?limit=10000");
    let all = api["data"]["seriesCountByMetricName"].as_array().unwrap();
    assert_eq!(c["allRows"].as_u64().unwrap(), all.len() as u64, "{c}");
    assert!(all.len() > 10, "more than the top 10: {}", all.len());
    let want: Vec<(String, u64)> = all
        .iter()
        .filter(|r| r["name"].as_str().unwrap().contains("ui_"))
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["value"].as_u64().unwrap(),
            )
        })
        .collect();
    let got: Vec<(String, u64)> = c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["series"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert!(
        got.contains(&(GAUGE.to_string(), ROOMS.len() as u64)),
        "{got:?}"
    );
}

/// The TSDB page's bytes on disk by metric: every metric of the API's
/// `bytesOnDiskByMetricName` with its series, largest total first, sizes
/// in binary units; a click on Series sorts by series, another (or Enter)
/// turns the order round.
fn check_bytes(s: &Server, b: &Value) {
    let (_, api) = s.api("/api/v1/status/tsdb?limit=10000");
    let want: BTreeMap<String, u64> = api["data"]["bytesOnDiskByMetricName"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["series"].as_u64().unwrap(),
            )
        })
        .collect();
    let rows = |k: &str| -> Vec<(String, u64, String, u64)> {
        b[k].as_array()
            .unwrap_or_else(|| panic!("{k}: {b}"))
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["series"].as_u64().unwrap(),
                    r["total"].as_str().unwrap().to_string(),
                    r["totalBytes"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let by_total = rows("byTotal");
    let got: BTreeMap<String, u64> = by_total.iter().map(|r| (r.0.clone(), r.1)).collect();
    assert_eq!(got, want, "the page's metrics and series are the API's");
    assert_eq!(got.get(GAUGE), Some(&(ROOMS.len() as u64)), "{got:?}");
    assert!(
        by_total.windows(2).all(|w| w[0].3 >= w[1].3),
        "largest first: {by_total:?}"
    );
    for (name, _, text, bytes) in &by_total {
        let (num, unit) = text.split_once(' ').unwrap_or_else(|| panic!("{text}"));
        let scale = match unit {
            "B" => 1u64,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            _ => panic!("{name}: unit of {text:?}"),
        };
        let num: f64 = num.parse().unwrap();
        assert!(
            (1.0..1024.0).contains(&num) || *bytes == 0,
            "{name}: {text:?}"
        );
        let shown = num * scale as f64;
        assert!(
            (shown - *bytes as f64).abs() <= 0.01 * *bytes as f64,
            "{name}: {text:?} for {bytes} bytes"
        );
    }
    let by_series = rows("bySeries");
    assert!(
        by_series
            .windows(2)
            .all(|w| w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0)),
        "by series, most first: {by_series:?}"
    );
    let up = rows("bySeriesUp");
    assert!(
        up.windows(2).all(|w| w[0].1 <= w[1].1),
        "by series, fewest first: {up:?}"
    );
    assert_eq!(
        b["sortedBy"],
        serde_json::json!([
            "Total ↓ descending",
            "Series ↓ descending",
            "Series ↑ ascending"
        ])
    );
}

/// Beside an error, the endpoint stays on one line; the filter's
/// placeholder fits its box.
fn check_targets_layout(t: &Value, closed: &str) {
    assert_eq!(t["endpoint"], format!("http://{closed}/metrics"), "{t}");
    assert!(t["error"].as_str().is_some_and(|e| !e.is_empty()), "{t}");
    assert_eq!(t["endpointLines"], 1, "endpoint wrapped: {t}");
    assert!(
        num(&t["endpointHeight"]) < 1.5 * num(&t["lineHeight"]),
        "endpoint wrapped: {t}"
    );
    assert!(
        num(&t["placeholderWidth"]) <= num(&t["inputInnerWidth"]),
        "placeholder cut off: {t}"
    );
}
