//! Exemplars, side by side with Prometheus 2.42: an app instrumented with
//! the Python `prometheus_client` attaches exemplars (trace ids) to a
//! counter and a histogram; flint and Prometheus scrape it (OpenMetrics,
//! both with `--enable-feature=exemplar-storage`), Prometheus also sends
//! what it scraped to a second flint by remote write (`send_exemplars`).
//! `/api/v1/query_exemplars` answers the same on all three, and again
//! after flint restarts; `storage.exemplars.max_exemplars` bounds what is
//! kept.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{enc, http_get, Server};
use crate::peers::{peers_or_skip, Prometheus};

/// Serves its metrics on a port of the OS's choosing (printed first),
/// then, at each line read, records one more round of observations with
/// exemplars and prints "done".
const APP: &str = r#"
import sys
from prometheus_client import Counter, Histogram, start_http_server
orders = Counter("orders", "Orders placed", ["shop"])
checkout = Histogram("checkout_seconds", "Checkout time", buckets=[0.1, 0.5, 1.0])
server, _ = start_http_server(0, addr="127.0.0.1")
print(server.server_port, flush=True)
values = [0.05, 0.3, 0.7, 2.5, 0.3, 0.05]
for i, line in enumerate(sys.stdin):
    orders.labels("eu").inc(1 + i, exemplar={"trace_id": "order-%d" % i})
    checkout.observe(values[i % len(values)], exemplar={"trace_id": "co-%d" % i, "span_id": "s%d" % i})
    print("done", flush=True)
"#;

struct App {
    child: Child,
    stdin: ChildStdin,
    out: BufReader<std::process::ChildStdout>,
    port: u16,
}

impl App {
    fn start() -> Result<App, String> {
        let mut child = Command::new("python3")
            .args(["-c", APP])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("python3: {e}"))?;
        let stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).map_err(|e| e.to_string())?;
        let port = line.trim().parse().map_err(|_| {
            format!("the app did not start (the Python prometheus_client is needed): {line:?}")
        })?;
        Ok(App {
            child,
            stdin,
            out,
            port,
        })
    }

    /// One more round of observations.
    fn step(&mut self) {
        writeln!(self.stdin).unwrap();
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "done");
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `query_exemplars` for `query` over all time, as JSON.
fn exemplars(addr: &str, query: &str) -> serde_json::Value {
    let (code, body) = http_get(
        addr,
        &format!(
            "/api/v1/query_exemplars?query={}&start=0&end=4102444800",
            enc(query)
        ),
    )
    .unwrap();
    assert_eq!(code, 200, "{addr}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{body}");
    v["data"].clone()
}

/// The trace ids in an answer, in order.
fn trace_ids(data: &serde_json::Value) -> Vec<String> {
    data.as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["exemplars"].as_array().unwrap().iter())
        .map(|e| e["labels"]["trace_id"].as_str().unwrap().to_string())
        .collect()
}

fn wait_for(addr: &str, query: &str, trace: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if trace_ids(&exemplars(addr, query))
            .iter()
            .any(|t| t == trace)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{addr}: {trace} not among the exemplars of {query}: {}",
        exemplars(addr, query)
    );
}

const QUERY: &str = r#"orders_total or checkout_seconds_bucket{le=~"0.5|1.0|\\+Inf"}"#;

#[test]
fn scraped_and_remote_written_exemplars_answer_as_in_prometheus() {
    if !peers_or_skip("exemplars::side_by_side", &["prometheus", "python3"]) {
        return;
    }
    let mut app = match App::start() {
        Ok(a) => a,
        Err(why) => {
            if crate::common::must_run() {
                panic!("exemplars::side_by_side: {why}");
            }
            println!("SKIP exemplars::side_by_side: {why}");
            return;
        }
    };
    let scrape = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
        app.port
    );
    let tmp = tempfile::tempdir().unwrap();
    let rx_dir = tmp.path().join("receiver");
    let scraper_dir = tmp.path().join("scraper");
    std::fs::create_dir_all(&rx_dir).unwrap();
    std::fs::create_dir_all(&scraper_dir).unwrap();
    let receiver = Server::start(
        &rx_dir,
        "global:\n  scrape_interval: 1h\n",
        &[
            "--web.enable-remote-write-receiver",
            "--enable-feature=exemplar-storage",
        ],
    );
    let flint_args = [
        "--enable-feature=exemplar-storage",
        "--web.enable-lifecycle",
    ];
    let mut flint = Server::start(&scraper_dir, &scrape, &flint_args);
    assert!(flint
        .log_text()
        .contains("Experimental in-memory exemplar storage enabled"));
    let prom = Prometheus::start_args(
        &format!(
            "{scrape}remote_write:\n  - url: http://{}/api/v1/write\n    send_exemplars: true\n    queue_config:\n      batch_send_deadline: 200ms\n",
            receiver.addr
        ),
        &["--enable-feature=exemplar-storage"],
    );
    let servers = |flint: &Server| {
        [
            ("flint", flint.addr.clone()),
            ("prometheus", prom.addr.clone()),
            ("receiver", receiver.addr.clone()),
        ]
    };
    for round in 0..4 {
        app.step();
        for (_, addr) in servers(&flint) {
            wait_for(&addr, "checkout_seconds_bucket", &format!("co-{round}"));
            wait_for(&addr, "orders_total", &format!("order-{round}"));
        }
        if round == 2 {
            // exemplars come back after a restart
            let before = exemplars(&flint.addr, QUERY);
            flint.stop();
            flint = Server::start(&scraper_dir, &scrape, &flint_args);
            assert_eq!(exemplars(&flint.addr, QUERY), before, "after a restart");
        }
    }
    let want = exemplars(&prom.addr, QUERY);
    // sorted by series: the +Inf, 0.5 and 1.0 buckets (each holds the
    // exemplar of the last observation that fell into it: 2.5, 0.3, 0.7),
    // then every increment of the counter
    assert_eq!(
        trace_ids(&want),
        ["co-3", "co-1", "co-2", "order-0", "order-1", "order-2", "order-3"],
        "{want}"
    );
    for (name, addr) in servers(&flint) {
        assert_eq!(exemplars(&addr, QUERY), want, "{name} against Prometheus");
    }
    let all = exemplars(&flint.addr, "orders_total");
    let ex = &all[0]["exemplars"];
    assert_eq!(all[0]["seriesLabels"]["shop"], "eu", "{all}");
    assert_eq!(ex.as_array().unwrap().len(), 4, "{all}");
    assert_eq!(ex[3]["value"], "4", "{all}");
    assert_eq!(
        trace_ids(&all),
        ["order-0", "order-1", "order-2", "order-3"]
    );

    // an expression with no selector: 204, as Prometheus
    for (_, addr) in servers(&flint) {
        let (code, body) = http_get(&addr, "/api/v1/query_exemplars?query=1").unwrap();
        assert_eq!((code, body.as_str()), (204, ""), "{addr}");
    }
    let metrics = http_get(&flint.addr, "/metrics").unwrap().1;
    for line in [
        "prometheus_tsdb_exemplar_max_exemplars 100000",
        "prometheus_tsdb_exemplar_series_with_exemplars_in_storage ",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }

    // a smaller store by a reload keeps the newest
    std::fs::write(
        scraper_dir.join("prometheus.yml"),
        format!("{scrape}storage:\n  exemplars:\n    max_exemplars: 3\n"),
    )
    .unwrap();
    let (code, body) =
        crate::common::http_request(&flint.addr, "POST", "/-/reload", Some("")).unwrap();
    assert_eq!(code, 200, "{body}");
    flint.eventually(10, "the store shrinks to 3", || {
        http_get(&flint.addr, "/metrics")
            .unwrap()
            .1
            .contains("prometheus_tsdb_exemplar_max_exemplars 3\n")
    });
    let kept = exemplars(&flint.addr, "{job=\"shop\"}");
    let n: usize = kept
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["exemplars"].as_array().unwrap().len())
        .sum();
    assert_eq!(n, 3, "{kept}");
}

/// flint sends what it scraped on by remote write with `send_exemplars`:
/// to Prometheus 2.42 (1.0) and to a second flint (2.0); both then answer
/// `query_exemplars` as flint does. A queue without `send_exemplars`
/// sends the samples alone.
#[test]
fn remote_write_sends_exemplars_to_prometheus_and_flint() {
    if !peers_or_skip("exemplars::send", &["prometheus", "python3"]) {
        return;
    }
    let mut app = match App::start() {
        Ok(a) => a,
        Err(why) => {
            if crate::common::must_run() {
                panic!("exemplars::send: {why}");
            }
            println!("SKIP exemplars::send: {why}");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = |n: &str| {
        let d = tmp.path().join(n);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let rx_args = [
        "--web.enable-remote-write-receiver",
        "--enable-feature=exemplar-storage",
    ];
    let quiet = "global:\n  scrape_interval: 1h\n";
    let v2 = Server::start(&dir("v2"), quiet, &rx_args);
    let plain = Server::start(&dir("plain"), quiet, &rx_args);
    // the peer helper starts Prometheus with its remote write receiver on
    let prom = Prometheus::start_args(quiet, &["--enable-feature=exemplar-storage"]);
    let queue = "    queue_config:\n      batch_send_deadline: 200ms\n";
    let target = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
        app.port
    );
    let config = format!(
        "{target}remote_write:\n{}{}{}",
        format_args!("  - url: http://{}/api/v1/write\n    send_exemplars: true\n{queue}", prom.addr),
        format_args!("  - url: http://{}/api/v1/write\n    protobuf_message: io.prometheus.write.v2.Request\n    send_exemplars: true\n{queue}", v2.addr),
        format_args!("  - url: http://{}/api/v1/write\n{queue}", plain.addr),
    );
    let flint = Server::start(
        &dir("flint"),
        &config,
        &["--enable-feature=exemplar-storage"],
    );
    for round in 0..3 {
        app.step();
        for addr in [&flint.addr, &prom.addr, &v2.addr] {
            wait_for(addr, "orders_total", &format!("order-{round}"));
            wait_for(addr, "checkout_seconds_bucket", &format!("co-{round}"));
        }
    }
    // 0.05, 0.3 and 0.7 observed: the 0.5 and 1.0 buckets hold one each
    let want = exemplars(&flint.addr, QUERY);
    assert_eq!(
        trace_ids(&want),
        ["co-1", "co-2", "order-0", "order-1", "order-2"],
        "{want}"
    );
    // the receivers label the series as flint sends them: with the job
    // and instance of the scrape
    assert_eq!(exemplars(&prom.addr, QUERY), want, "Prometheus 2.42 (1.0)");
    assert_eq!(exemplars(&v2.addr, QUERY), want, "flint (2.0)");
    // without send_exemplars: the samples, no exemplars
    plain.eventually(30, "the samples arrive", || {
        let (_, body) = http_get(&plain.addr, "/api/v1/query?query=orders_total").unwrap();
        body.contains("\"shop\":\"eu\"")
    });
    assert_eq!(
        trace_ids(&exemplars(&plain.addr, QUERY)),
        Vec::<String>::new()
    );
    let metrics = http_get(&flint.addr, "/metrics").unwrap().1;
    let sent = |url: &str| -> f64 {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("prometheus_remote_storage_exemplars_total{") && l.contains(url)
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0)
    };
    assert!(sent(&prom.addr) >= 6.0, "{metrics}");
    assert!(sent(&v2.addr) >= 6.0, "{metrics}");
    assert_eq!(sent(&plain.addr), 0.0, "{metrics}");
}

/// Records a counter increment and a histogram observation inside a
/// sampled span (so the SDK attaches exemplars), exports them once,
/// prints the span's trace and span ids and exits.
const OTEL_APP: &str = r#"
import sys
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

trace.set_tracer_provider(TracerProvider())
tracer = trace.get_tracer("shop")
reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=sys.argv[1]), export_interval_millis=60000)
provider = MeterProvider(resource=Resource.create({"service.name": "api"}), metric_readers=[reader])
meter = provider.get_meter("checkout")
orders = meter.create_counter("orders")
latency = meter.create_histogram("checkout.latency", unit="ms")
with tracer.start_as_current_span("checkout") as span:
    orders.add(3, {"shop": "eu"})
    latency.record(42.0, {"shop": "eu"})
    ctx = span.get_span_context()
    print("%032x %016x" % (ctx.trace_id, ctx.span_id), flush=True)
provider.shutdown()
"#;

#[test]
fn otlp_exemplars_carry_the_trace_of_the_measurement() {
    if !peers_or_skip("exemplars::otlp", &["python3"]) {
        return;
    }
    if let Err(why) = crate::otlp::python_sdk() {
        if crate::common::must_run() {
            panic!("exemplars::otlp: {why}");
        }
        println!("SKIP exemplars::otlp: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        "global:\n  scrape_interval: 1h\n",
        &[
            "--web.enable-otlp-receiver",
            "--enable-feature=exemplar-storage",
        ],
    );
    let out = Command::new("python3")
        .args([
            "-c",
            OTEL_APP,
            &format!("http://{}/api/v1/otlp/v1/metrics", server.addr),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids = String::from_utf8(out.stdout).unwrap();
    let (trace, span) = ids.trim().split_once(' ').unwrap();
    let counter = exemplars(&server.addr, "orders_total");
    assert_eq!(counter.as_array().unwrap().len(), 1, "{counter}");
    assert_eq!(counter[0]["seriesLabels"]["shop"], "eu", "{counter}");
    assert_eq!(counter[0]["seriesLabels"]["job"], "api", "{counter}");
    let e = &counter[0]["exemplars"][0];
    assert_eq!(
        e["labels"],
        serde_json::json!({"span_id": span, "trace_id": trace})
    );
    assert_eq!(e["value"], "3");
    // the observation's exemplar is on the first bucket that holds 42
    let buckets = exemplars(&server.addr, "checkout_latency_milliseconds_bucket");
    assert_eq!(buckets.as_array().unwrap().len(), 1, "{buckets}");
    assert_eq!(buckets[0]["seriesLabels"]["le"], "50", "{buckets}");
    assert_eq!(buckets[0]["exemplars"][0]["labels"]["trace_id"], trace);
    assert_eq!(buckets[0]["exemplars"][0]["value"], "42");
}
