//! The setup our users run: a FastAPI app instrumented with
//! prometheus-fastapi-instrumentator, scraped by flint, queried over the API.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_port, http_get, must_run, Server};

struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Starts the seed app, or says why it cannot run.
fn start_seed_app() -> Result<(App, String), String> {
    let check = Command::new(python())
        .args([
            "-c",
            "import fastapi, uvicorn, prometheus_fastapi_instrumentator",
        ])
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    if !check.status.success() {
        return Err(format!(
            "fastapi, uvicorn or prometheus-fastapi-instrumentator missing: {}",
            String::from_utf8_lossy(&check.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let port = free_port();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seed_app");
    let child = Command::new(python())
        .args([
            "-m",
            "uvicorn",
            "main:app",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--log-level",
            "warning",
        ])
        .current_dir(dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting uvicorn: {e}"))?;
    let app = App(child);
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok((200, _)) = http_get(&addr, "/metrics") {
            return Ok((app, addr));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("the seed app did not serve /metrics within 30 s".into())
}

#[test]
fn seed_app_is_scraped_and_queryable() {
    let (_app, app_addr) = match start_seed_app() {
        Ok(x) => x,
        Err(why) if !must_run() => {
            println!("SKIP seed_app_is_scraped_and_queryable: {why}");
            return;
        }
        Err(why) => panic!("{why}"),
    };
    let refused = format!("127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: sample\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{app_addr}']\n  - job_name: refused\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{refused}']\n"
    );
    let s = Server::start(dir.path(), &cfg, &["--log.level=debug"]);

    let hits = 5;
    for _ in 0..hits {
        let (code, body) = http_get(&app_addr, "/api/v1/health").unwrap();
        assert_eq!((code, body.as_str()), (200, "{\"status\":\"OK\"}"));
    }
    let sel = r#"http_requests_total{handler="/api/v1/health",method="GET",status="2xx"}"#;
    s.eventually(20, "the request counter reaches 5", || {
        s.value(sel) == Some(hits as f64)
    });
    let r = s.query(sel);
    assert_eq!(r[0]["metric"]["job"], "sample");
    assert_eq!(r[0]["metric"]["instance"], app_addr.as_str());
    s.eventually(10, "up{job=\"sample\"} == 1", || {
        s.value(r#"up{job="sample"}"#) == Some(1.0)
    });

    let inf =
        r#"http_request_duration_seconds_bucket{handler="/api/v1/health",le="+Inf",method="GET"}"#;
    assert_eq!(s.value(inf), Some(hits as f64));
    let b01 =
        r#"http_request_duration_seconds_bucket{handler="/api/v1/health",le="0.1",method="GET"}"#;
    let v = s.value(b01).expect("the le=0.1 bucket is stored");
    assert!(v > 0.0 && v <= hits as f64, "{v}");
    let q = r#"histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{handler="/api/v1/health"}[1m])))"#;
    s.eventually(10, "histogram_quantile answers", || !s.query(q).is_empty());

    // the refused target
    s.eventually(10, "up{job=\"refused\"} == 0", || {
        s.value(r#"up{job="refused"}"#) == Some(0.0)
    });
    let (_, t) = s.api("/api/v1/targets");
    let refused_t = t["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scrapePool"] == "refused")
        .cloned()
        .expect("refused target listed");
    assert_eq!(refused_t["health"], "down");
    let err = refused_t["lastError"].as_str().unwrap();
    assert!(err.ends_with("connect: connection refused"), "{err}");
    let log = s.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("msg=\"Scrape failed\"") && l.contains("scrape_pool=refused"))
        .unwrap_or_else(|| panic!("no Scrape failed line in:\n{log}"));
    assert!(line.contains("level=DEBUG"), "{line}");
    assert!(line.contains("connect: connection refused\""), "{line}");
    assert!(
        line.contains(&format!("target=http://{refused}/metrics")),
        "{line}"
    );
}

/// The seed app's classic histograms stored as histograms with custom
/// bounds (`convert_classic_histograms_to_nhcb`), beside a job that keeps
/// them classic: the quantile users chart answers the same from both, and
/// the converted job has a bucket's worth fewer series per histogram.
#[test]
fn seed_app_histograms_converted_to_custom_buckets() {
    let (_app, app_addr) = match start_seed_app() {
        Ok(x) => x,
        Err(why) if !must_run() => {
            println!("SKIP seed_app_histograms_converted_to_custom_buckets: {why}");
            return;
        }
        Err(why) => panic!("{why}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: classic\n    static_configs:\n      - targets: ['{app_addr}']\n  - job_name: nhcb\n    convert_classic_histograms_to_nhcb: true\n    static_configs:\n      - targets: ['{app_addr}']\n"
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    // requests over a minute's window of rates
    for i in 0..40 {
        let path = if i % 4 == 0 {
            "/api/v1/items"
        } else {
            "/api/v1/health"
        };
        let _ = http_get(&app_addr, path);
        std::thread::sleep(Duration::from_millis(100));
    }
    let classic = r#"histogram_quantile(0.9, sum by (le, handler) (rate(http_request_duration_seconds_bucket{job="classic",handler="/api/v1/health"}[1m])))"#;
    let native = r#"histogram_quantile(0.9, sum by (handler) (rate(http_request_duration_seconds{job="nhcb",handler="/api/v1/health"}[1m])))"#;
    s.eventually(20, "both quantiles answer", || {
        !s.query(classic).is_empty() && !s.query(native).is_empty()
    });
    // the same stored observations give the same quantile (the two jobs'
    // scrapes may see different counts: compare once both settle)
    s.eventually(20, "the quantiles agree", || {
        match (s.value(classic), s.value(native)) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            _ => false,
        }
    });
    // series: one per histogram instead of a bucket each plus _sum/_count
    let count = |q: &str| s.value(&format!("count({q})")).unwrap_or(0.0);
    let hists = count(r#"http_request_duration_seconds{job="nhcb"}"#);
    let buckets = count(r#"http_request_duration_seconds_bucket{job="classic"}"#);
    let per = count(r#"http_request_duration_seconds_count{job="classic"}"#);
    assert!(hists >= 2.0, "{hists}");
    assert_eq!(per, hists);
    assert_eq!(
        count(r#"{job="nhcb",__name__=~"http_request_duration_seconds_(bucket|count|sum)"}"#),
        0.0
    );
    let classic_series = buckets + 2.0 * per;
    assert!(
        classic_series > 5.0 * hists,
        "{classic_series} against {hists}"
    );
    println!(
        "seed app: {classic_series} classic series, {hists} with custom bounds (quantile {:?})",
        s.value(native)
    );
}
