//! The OTLP receiver with a real client: an app using the OpenTelemetry
//! Python SDK and its OTLP/HTTP exporter sends counters, up-down
//! counters, histograms, gauges and exponential histograms to flint;
//! the metrics answer under Prometheus 3's translated names, with `job`,
//! `instance`, promoted resource attributes and a `target_info` to join;
//! exponential histograms are native histograms, and histograms are
//! native histograms with custom bounds with `convert_histograms_to_nhcb`.
//! Bad requests get Prometheus's answers.

use std::process::Command;

use crate::common::{parse_value, post_bytes, Server};
use crate::peers::peers_or_skip;

/// Records a known set of measurements, exports every 300 ms, flushes
/// and exits.
const APP: &str = r#"
import sys, time
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import View, ExponentialBucketHistogramAggregation
from opentelemetry.sdk.resources import Resource
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

endpoint = sys.argv[1]
resource = Resource.create({
    "service.name": "api", "service.namespace": "shop", "service.instance.id": "i-1",
    "deployment.environment": "prod", "host.name": "h1",
})
reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint), export_interval_millis=300)
provider = MeterProvider(resource=resource, metric_readers=[reader],
    views=[View(instrument_name="payload.size", aggregation=ExponentialBucketHistogramAggregation()),
           View(instrument_name="lock.wait", aggregation=ExponentialBucketHistogramAggregation())])
meter = provider.get_meter("checkout", "1.2.3")
requests = meter.create_counter("http.server.requests", unit="{request}", description="Requests served")
queue = meter.create_up_down_counter("queue.size", unit="{item}")
duration = meter.create_histogram("http.server.duration", unit="ms")
payload = meter.create_histogram("payload.size", unit="By")
# values so close that the SDK keeps a scale finer than schema 8
wait = meter.create_histogram("lock.wait", unit="s")
meter.create_observable_gauge("cpu.utilization", callbacks=[lambda o: [metrics.Observation(0.25, {"cpu": "0"})]], unit="1")
for i in range(10):
    requests.add(1, {"http.method": "GET", "http.status_code": 200})
    duration.record(3 + i * 40, {"http.method": "GET"})
    payload.record(100 * i)
for v in [1.5, 1.5001, 1.5002, 1.5003]:
    wait.record(v)
requests.add(5, {"http.method": "POST", "http.status_code": 500})
queue.add(7)
queue.add(-2)
time.sleep(1.2)
provider.shutdown()
"#;

pub fn python_sdk() -> Result<(), String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http",
        ])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err("the OpenTelemetry Python SDK or its OTLP HTTP exporter is not installed".into())
    }
}

#[test]
fn opentelemetry_sdk_metrics_are_queryable_under_prometheus_names() {
    if !peers_or_skip("otlp::opentelemetry_sdk", &["python3"]) {
        return;
    }
    if let Err(why) = python_sdk() {
        if crate::common::must_run() {
            panic!("otlp::opentelemetry_sdk: {why}");
        }
        println!("SKIP otlp::opentelemetry_sdk: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        "global:\n  scrape_interval: 1h\notlp:\n  promote_resource_attributes: [deployment.environment]\n",
        &["--web.enable-otlp-receiver"],
    );
    let app = tmp.path().join("app.py");
    std::fs::write(&app, APP).unwrap();
    let out = Command::new("python3")
        .arg(&app)
        .arg(format!("http://{}/api/v1/otlp/v1/metrics", server.addr))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // nothing refused: the SDK logs failed exports on stderr
    assert!(!stderr.contains("Failed to export"), "{stderr}");

    let v = |q: &str| server.value(q);
    let sel = r#"job="shop/api",instance="i-1",deployment_environment="prod""#;
    assert_eq!(
        v(&format!(
            r#"http_server_requests_total{{{sel},http_method="GET",http_status_code="200"}}"#
        )),
        Some(10.0)
    );
    assert_eq!(
        v(&format!(
            r#"http_server_requests_total{{{sel},http_method="POST",http_status_code="500"}}"#
        )),
        Some(5.0)
    );
    // an up-down counter is a gauge: no _total
    assert_eq!(v(&format!("queue_size{{{sel}}}")), Some(5.0));
    assert_eq!(
        v(&format!(r#"cpu_utilization_ratio{{{sel},cpu="0"}}"#)),
        Some(0.25)
    );
    // the histogram's classic series: count, sum and cumulative buckets
    assert_eq!(
        v(&format!("http_server_duration_milliseconds_count{{{sel}}}")),
        Some(10.0)
    );
    let sum: f64 = (0..10).map(|i| 3.0 + i as f64 * 40.0).sum();
    assert_eq!(
        v(&format!("http_server_duration_milliseconds_sum{{{sel}}}")),
        Some(sum)
    );
    // the SDK's default bounds 0, 5, 10, 25, 50, 75, 100, 250, …
    assert_eq!(
        v(&format!(
            r#"http_server_duration_milliseconds_bucket{{{sel},le="100"}}"#
        )),
        Some(3.0)
    );
    assert_eq!(
        v(&format!(
            r#"http_server_duration_milliseconds_bucket{{{sel},le="+Inf"}}"#
        )),
        Some(10.0)
    );
    assert_eq!(
        v(&format!(
            "histogram_quantile(0.5, http_server_duration_milliseconds_bucket{{{sel}}})"
        ))
        .map(|x| x > 100.0 && x <= 250.0),
        Some(true)
    );
    // target_info joins: the host of the requests
    let joined = server.query(
        r#"sum by (host_name, job) (http_server_requests_total * on (job, instance) group_left (host_name) target_info)"#,
    );
    assert_eq!(joined.len(), 1, "{joined:?}");
    assert_eq!(joined[0]["metric"]["host_name"], "h1");
    assert_eq!(joined[0]["value"][1], "15");
    // identifying attributes are not on target_info
    let ti = server.query("target_info");
    assert_eq!(ti.len(), 1, "{ti:?}");
    assert!(ti[0]["metric"].get("service_name").is_none());
    assert_eq!(ti[0]["metric"]["deployment_environment"], "prod");
    exponential_histograms_are_native(&server, sel);
}

/// The bucket list of a histogram in the query API's JSON:
/// `(lower, upper, count)`.
fn histogram_buckets(h: &serde_json::Value) -> Vec<(f64, f64, f64)> {
    h["buckets"]
        .as_array()
        .unwrap_or_else(|| panic!("no buckets: {h}"))
        .iter()
        .map(|b| (parse_value(&b[1]), parse_value(&b[2]), parse_value(&b[3])))
        .collect()
}

/// The one histogram an instant query answers.
fn one_histogram(server: &Server, q: &str) -> serde_json::Value {
    let r = server.query(q);
    assert_eq!(r.len(), 1, "{q}: {r:?}");
    assert!(r[0].get("value").is_none(), "{q}: a float: {r:?}");
    r[0]["histogram"][1].clone()
}

/// `payload.size` (0, 100, …, 900 bytes) and `lock.wait` (1.5 to 1.5003
/// s), exponential histograms in the app, are native histograms: one
/// series each under the translated name, every recorded value in a
/// bucket of its own bounds.
fn exponential_histograms_are_native(server: &Server, sel: &str) {
    let v = |q: &str| server.value(q);
    let payload = format!("payload_size_bytes{{{sel}}}");
    let h = one_histogram(server, &payload);
    assert_eq!(h["count"], "10", "{h}");
    assert_eq!(h["sum"], "4500", "{h}");
    let buckets = histogram_buckets(&h);
    // 0 in the zero bucket, the others one in each bucket
    assert_eq!(buckets.len(), 10, "{h}");
    assert_eq!(buckets[0], (-1e-128, 1e-128, 1.0), "{h}");
    for (i, &(lower, upper, count)) in buckets.iter().enumerate().skip(1) {
        let x = 100.0 * i as f64;
        assert!(lower < x && x <= upper && count == 1.0, "{x}: {h}");
        // the SDK's scale for this range is 5: buckets 2^(1/32) wide
        assert!((upper / lower - 2f64.powf(1.0 / 32.0)).abs() < 1e-9, "{h}");
    }
    assert_eq!(v(&format!("histogram_count({payload})")), Some(10.0));
    assert_eq!(v(&format!("histogram_sum({payload})")), Some(4500.0));
    let median = v(&format!("histogram_quantile(0.5, {payload})")).unwrap();
    assert!((400.0..=500.0).contains(&median), "{median}");
    let p90 = v(&format!("histogram_quantile(0.9, {payload})")).unwrap();
    assert!(p90 > 800.0 && p90 <= 900.0, "{p90}");
    // no classic series besides
    assert_eq!(
        server.query(r#"{__name__=~"payload_size_bytes_.*"}"#).len(),
        0
    );
    // the finer scale merged down to schema 8: buckets 2^(1/256) wide,
    // all four values in one
    let wait = format!("lock_wait_seconds{{{sel}}}");
    let h = one_histogram(server, &wait);
    assert_eq!(h["count"], "4", "{h}");
    let buckets = histogram_buckets(&h);
    assert_eq!(buckets.len(), 1, "{h}");
    let (lower, upper, count) = buckets[0];
    assert!(lower < 1.5 && 1.5003 <= upper && count == 4.0, "{h}");
    assert!((upper / lower - 2f64.powf(1.0 / 256.0)).abs() < 1e-9, "{h}");
    let median = v(&format!("histogram_quantile(0.5, {wait})")).unwrap();
    assert!(
        (median - 1.5).abs() < 1.5 * (2f64.powf(1.0 / 256.0) - 1.0),
        "{median}"
    );
    let sum = v(&format!("histogram_sum({wait})")).unwrap();
    assert!((sum - 6.0006).abs() < 1e-9, "{sum}");
}

#[test]
fn histograms_with_custom_buckets_by_convert_histograms_to_nhcb() {
    if !peers_or_skip("otlp::convert_histograms_to_nhcb", &["python3"]) {
        return;
    }
    if let Err(why) = python_sdk() {
        if crate::common::must_run() {
            panic!("otlp::convert_histograms_to_nhcb: {why}");
        }
        println!("SKIP otlp::convert_histograms_to_nhcb: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        "global:\n  scrape_interval: 1h\notlp:\n  convert_histograms_to_nhcb: true\n",
        &["--web.enable-otlp-receiver"],
    );
    let app = tmp.path().join("app.py");
    std::fs::write(&app, APP).unwrap();
    let out = Command::new("python3")
        .arg(&app)
        .arg(format!("http://{}/api/v1/otlp/v1/metrics", server.addr))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("Failed to export"), "{stderr}");
    let sel = r#"job="shop/api",instance="i-1""#;
    let v = |q: &str| server.value(q);
    // one series under the metric's name, no _bucket, _sum or _count
    assert!(server
        .query(r#"{__name__=~"http_server_duration_milliseconds_.+"}"#)
        .is_empty());
    let duration = format!("http_server_duration_milliseconds{{{sel}}}");
    let h = one_histogram(&server, &duration);
    assert_eq!(h["count"], "10", "{h}");
    let sum: f64 = (0..10).map(|i| 3.0 + i as f64 * 40.0).sum();
    assert_eq!(parse_value(&h["sum"]), sum, "{h}");
    // the SDK's default bounds 0, 5, 10, 25, 50, 75, 100, 250, 500, …:
    // 3 | 43 | 83 | 123 163 203 243 | 283 323 363
    let by_upper: Vec<(f64, f64)> = histogram_buckets(&h)
        .into_iter()
        .map(|(_, upper, count)| (upper, count))
        .collect();
    assert_eq!(
        by_upper,
        vec![
            (5.0, 1.0),
            (50.0, 1.0),
            (100.0, 1.0),
            (250.0, 4.0),
            (500.0, 3.0)
        ],
        "{h}"
    );
    assert_eq!(v(&format!("histogram_count({duration})")), Some(10.0));
    assert_eq!(v(&format!("histogram_sum({duration})")), Some(sum));
    // the median is halfway into (100, 250], as from the classic buckets
    assert_eq!(
        v(&format!("histogram_quantile(0.5, {duration})")),
        Some(175.0)
    );
    assert_eq!(
        v(&format!("histogram_fraction(0, 100, {duration})")),
        Some(0.3)
    );
    // exponential histograms and the other metrics as without the option
    exponential_histograms_are_native(&server, sel);
    assert_eq!(v(&format!("queue_size{{{sel}}}")), Some(5.0));
}

#[test]
fn bad_requests_get_prometheus_answers_and_store_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let off = Server::start(tmp.path(), "global:\n  scrape_interval: 1h\n", &[]);
    let (code, body) = post_bytes(
        &off.addr,
        "/api/v1/otlp/v1/metrics",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(code, 404);
    assert_eq!(
        body,
        "otlp write receiver needs to be enabled with --web.enable-otlp-receiver\n"
    );
    off.stop();

    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-otlp-receiver"],
    );
    let post = |ct: &str, body: &[u8]| {
        post_bytes(
            &server.addr,
            "/api/v1/otlp/v1/metrics",
            &[("Content-Type", ct)],
            body,
        )
    };
    let now_ns = crate::common::now_secs() * 1_000_000_000;
    let point = |name: &str, temporality: u32| {
        format!(
            r#"{{"name":"{name}","sum":{{"aggregationTemporality":{temporality},"isMonotonic":true,"dataPoints":[{{"asDouble":3,"timeUnixNano":"{now_ns}"}}]}}}}"#
        )
    };
    let req = |metrics: &[String]| {
        format!(
            r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"svc"}}}}]}},"scopeMetrics":[{{"metrics":[{}]}}]}}]}}"#,
            metrics.join(",")
        )
    };
    // a delta sum fails the request: nothing of it is stored
    let (code, body) = post(
        "application/json",
        req(&[point("good", 2), point("d", 1)]).as_bytes(),
    );
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body,
        "invalid temporality and type combination for metric \"d\"\n"
    );
    assert_eq!(server.value("good_total"), None);
    // a good one is stored, answered with 200 and no body
    let (code, body) = post("application/json", req(&[point("good", 2)]).as_bytes());
    assert_eq!((code, body.as_str()), (200, ""));
    assert_eq!(server.value(r#"good_total{job="svc"}"#), Some(3.0));
    // undecodable bodies and unsupported types: 400
    let (code, body) = post("application/x-protobuf", b"\xff\xff\xff");
    assert_eq!(code, 400);
    assert!(body.starts_with("proto: "), "{body}");
    let (code, body) = post("application/json", b"{\"resourceMetrics\":");
    assert_eq!(code, 400);
    assert!(body.starts_with("json: "), "{body}");
    let (code, body) = post("text/plain", b"x");
    assert_eq!(code, 400);
    assert_eq!(
        body,
        "unsupported content type: text/plain, supported: [application/json, application/x-protobuf]\n"
    );
    assert_eq!(server.value("count({__name__=~\".+\"})"), Some(1.0));
}

#[test]
fn otlp_configuration_is_checked_as_prometheus_checks_it() {
    let tmp = tempfile::tempdir().unwrap();
    for (cfg, msg) in [
        (
            "otlp:\n  promote_all_resource_attributes: true\n  promote_resource_attributes: [a]\n",
            "'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously",
        ),
        (
            "otlp:\n  ignore_resource_attributes: [a]\n",
            "'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true",
        ),
        (
            "otlp:\n  promote_resource_attributes: [a, ' a']\n",
            "invalid 'promote_resource_attributes': duplicated promoted OTel resource attribute \"a\"",
        ),
        (
            "otlp:\n  translation_strategy: Foo\n",
            "unsupported OTLP translation strategy \"Foo\"",
        ),
        ("otlp:\n  nope: 1\n", "nope"),
    ] {
        let f = tmp.path().join("p.yml");
        std::fs::write(&f, cfg).unwrap();
        let out = Command::new(crate::common::bin())
            .args(["check", "config"])
            .arg(&f)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{cfg}");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(text.contains(msg), "{cfg}: {text}");
    }
    let f = tmp.path().join("ok.yml");
    std::fs::write(
        &f,
        "otlp:\n  promote_all_resource_attributes: true\n  ignore_resource_attributes: [host.name]\n  translation_strategy: NoUTF8EscapingWithSuffixes\n  keep_identifying_resource_attributes: true\n  promote_scope_metadata: true\n",
    )
    .unwrap();
    let out = Command::new(crate::common::bin())
        .args(["check", "config"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn exponential_histograms_in_otlp_json_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        "global:\n  scrape_interval: 1h\n",
        &["--web.enable-otlp-receiver"],
    );
    let post = |body: &str| {
        post_bytes(
            &server.addr,
            "/api/v1/otlp/v1/metrics",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    };
    let now_ns = crate::common::now_secs() * 1_000_000_000;
    // 1 in (0.5, 1], 2 in (2, 4], 3 in [-16, -8), 4 zeros
    let point = |t: u64, scale: i32, flags: u32| {
        format!(
            r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"svc"}}}}]}},
 "scopeMetrics":[{{"metrics":[{{"name":"request.size","unit":"By","exponentialHistogram":{{"aggregationTemporality":2,
 "dataPoints":[{{"timeUnixNano":"{t}","count":"10","sum":12.5,"scale":{scale},"zeroCount":"4","flags":{flags},
 "positive":{{"offset":-1,"bucketCounts":["1","0","2"]}},"negative":{{"offset":3,"bucketCounts":["3"]}}}}]}}}}]}}]}}]}}"#
        )
    };
    let (code, body) = post(&point(now_ns - 30_000_000_000, 0, 0));
    assert_eq!((code, body.as_str()), (200, ""));
    let r = server.query("request_size_bytes");
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["metric"]["job"], "svc");
    let h = &r[0]["histogram"][1];
    assert_eq!(h["count"], "10", "{h}");
    assert_eq!(h["sum"], "12.5", "{h}");
    assert_eq!(
        histogram_buckets(h),
        vec![
            (-16.0, -8.0, 3.0),
            (-1e-128, 1e-128, 4.0),
            (0.5, 1.0, 1.0),
            (2.0, 4.0, 2.0)
        ],
        "{h}"
    );
    // a scale below -4: 500 with Prometheus's message, nothing stored
    let (code, body) = post(&point(now_ns - 20_000_000_000, -5, 0));
    assert_eq!(code, 500);
    assert_eq!(
        body,
        "cannot convert exponential to native histogram. Scale must be >= -4, was -5\n"
    );
    // an older point than the one stored: 400
    let (code, body) = post(&point(now_ns - 40_000_000_000, 0, 0));
    assert_eq!((code, body.as_str()), (400, "out of order sample\n"));
    // a point without a recorded value marks the series stale
    let (code, _) = post(&point(now_ns - 10_000_000_000, 0, 1));
    assert_eq!(code, 200);
    assert!(server.query("request_size_bytes").is_empty());
    assert_eq!(
        server.value("histogram_count(request_size_bytes offset 15s)"),
        Some(10.0)
    );
}

#[test]
fn exemplars_of_exponential_histograms_are_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        "global:\n  scrape_interval: 1h\n",
        &[
            "--web.enable-otlp-receiver",
            "--enable-feature=exemplar-storage",
        ],
    );
    let now_ns = crate::common::now_secs() * 1_000_000_000;
    let t = now_ns - 30_000_000_000;
    let body = format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"svc"}}}}]}},
 "scopeMetrics":[{{"metrics":[{{"name":"request.size","unit":"By","exponentialHistogram":{{"aggregationTemporality":2,
 "dataPoints":[{{"timeUnixNano":"{t}","count":"3","sum":4.5,"scale":0,"zeroCount":"0",
 "positive":{{"offset":0,"bucketCounts":["1","2"]}},
 "exemplars":[{{"timeUnixNano":"{t}","asDouble":1.5,"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}}]}}]}}}}]}}]}}]}}"#
    );
    let (code, answer) = post_bytes(
        &server.addr,
        "/api/v1/otlp/v1/metrics",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!((code, answer.as_str()), (200, ""));
    assert_eq!(server.query("request_size_bytes").len(), 1);
    let (code, v) = server.api(&format!(
        "/api/v1/query_exemplars?query=request_size_bytes&start={}&end={}",
        t / 1_000_000_000 - 60,
        t / 1_000_000_000 + 60
    ));
    assert_eq!(code, 200, "{v}");
    let ex = &v["data"][0]["exemplars"][0];
    assert_eq!(
        ex["labels"]["trace_id"], "5b8efff798038103d269b633813fc60c",
        "{v}"
    );
    assert_eq!(ex["labels"]["span_id"], "eee19b7ec3c1b174");
    assert_eq!(ex["value"], "1.5");
    assert_eq!(v["data"][0]["seriesLabels"]["job"], "svc");
}

/// Records in three rounds, exporting each with delta temporality.
const DELTA_APP: &str = r#"
import sys, time
from opentelemetry.sdk.metrics import MeterProvider, Counter, Histogram, UpDownCounter
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader, AggregationTemporality
from opentelemetry.sdk.metrics.view import View, ExponentialBucketHistogramAggregation, ExplicitBucketHistogramAggregation
from opentelemetry.sdk.resources import Resource
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

delta = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA,
         UpDownCounter: AggregationTemporality.DELTA}
exporter = OTLPMetricExporter(endpoint=sys.argv[1], preferred_temporality=delta)
reader = PeriodicExportingMetricReader(exporter, export_interval_millis=200)
provider = MeterProvider(resource=Resource.create({"service.name": "batch"}), metric_readers=[reader],
    views=[View(instrument_name="payload.size", aggregation=ExponentialBucketHistogramAggregation()),
           View(instrument_name="job.duration", aggregation=ExplicitBucketHistogramAggregation([0.5, 1.0]))])
meter = provider.get_meter("jobs")
done = meter.create_counter("jobs.done")
took = meter.create_histogram("job.duration", unit="s")
size = meter.create_histogram("payload.size", unit="By")
for round in range(3):
    for i in range(4):
        done.add(2, {"queue": "a"})
        took.record(0.2 * (i + 1))
        size.record(100 * (i + 1))
    time.sleep(0.5)
provider.shutdown()
"#;

#[test]
fn delta_temporality_is_added_up_with_otlp_deltatocumulative() {
    if !peers_or_skip("otlp::deltatocumulative", &["python3"]) {
        return;
    }
    if let Err(why) = python_sdk() {
        if crate::common::must_run() {
            panic!("otlp::deltatocumulative: {why}");
        }
        println!("SKIP otlp::deltatocumulative: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        "global:\n  scrape_interval: 1h\n",
        &[
            "--web.enable-otlp-receiver",
            "--enable-feature=otlp-deltatocumulative",
        ],
    );
    let app = tmp.path().join("app.py");
    std::fs::write(&app, DELTA_APP).unwrap();
    let out = Command::new("python3")
        .arg(&app)
        .arg(format!("http://{}/api/v1/otlp/v1/metrics", server.addr))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("Failed to export"), "{stderr}");
    let v = |q: &str| server.value(q);
    // 3 rounds of 4 × 2, sent as several deltas, stored as their running
    // total
    assert_eq!(v(r#"jobs_done_total{queue="a"}"#), Some(24.0));
    let points = v(r#"count_over_time(jobs_done_total{queue="a"}[10m])"#).unwrap();
    assert!(points >= 2.0, "{points} points: the deltas came apart");
    // the earlier points hold the smaller totals of their time
    assert!(v(r#"min_over_time(jobs_done_total{queue="a"}[10m])"#).unwrap() < 24.0);
    // a counter never goes down: each point is the total so far
    assert_eq!(v(r#"resets(jobs_done_total{queue="a"}[10m])"#), Some(0.0));
    assert_eq!(v("job_duration_seconds_count"), Some(12.0));
    assert_eq!(v(r#"job_duration_seconds_bucket{le="0.5"}"#), Some(6.0));
    assert!((v("job_duration_seconds_sum").unwrap() - 6.0).abs() < 1e-9);
    // the exponential histogram: a native histogram, its counts added up
    assert_eq!(v("histogram_count(payload_size_bytes)"), Some(12.0));
    assert_eq!(v("histogram_sum(payload_size_bytes)"), Some(3000.0));
    assert!(server
        .log_text()
        .contains("Converting delta OTLP metrics to cumulative"));

    // with native delta ingestion too: refused at start, as Prometheus
    let out = Command::new(crate::common::bin())
        .args([
            "--enable-feature=otlp-deltatocumulative,otlp-native-delta-ingestion",
            &format!("--storage.tsdb.path={}", tmp.path().join("x").display()),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error parsing feature list: cannot enable otlp-deltatocumulative and otlp-native-delta-ingestion features at the same time\n"
    );
}
