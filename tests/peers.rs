//! Peers for the differential, promtool and Grafana tests: Debian's
//! `prometheus` 2.42 and `promtool` (installed by `scripts/test.sh`), the
//! data set both servers are loaded with by remote write, and an HTTP
//! client that talks like Go's (gzip, form POSTs, extra headers).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flint::remote::{encode_write_request, Label, Sample, TimeSeries, WriteRequest};

use crate::common::{free_port, http_get, must_run, post_bytes};

/// Whether `tool --version` runs.
pub fn have(tool: &str) -> Result<String, String> {
    match Command::new(tool).arg("--version").output() {
        Ok(o) if o.status.success() => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            Ok(text.lines().next().unwrap_or("").to_string())
        }
        Ok(o) => Err(format!(
            "`{tool} --version` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(format!(
            "`{tool}` is not installed ({e}); scripts/test.sh installs Debian's `prometheus` package"
        )),
    }
}

/// True when every tool is there. Otherwise fails the test in CI
/// (`must_run()`), or prints `SKIP <test>: <reason>` and returns false.
pub fn peers_or_skip(test: &str, tools: &[&str]) -> bool {
    for t in tools {
        if let Err(reason) = have(t) {
            if must_run() {
                panic!("{test}: {reason}");
            }
            println!("SKIP {test}: {reason}");
            return false;
        }
    }
    true
}

/// A Prometheus server (Debian's package) on 127.0.0.1 with its own temp
/// folder, the remote-write receiver on; killed on drop.
pub struct Prometheus {
    child: Child,
    pub addr: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    pub fn start() -> Prometheus {
        Self::start_with("global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n")
    }

    /// Starts one with `config` as its prometheus.yml.
    pub fn start_with(config: &str) -> Prometheus {
        Self::start_args(config, &[])
    }

    /// Starts one with `config` and these extra flags.
    pub fn start_args(config: &str, extra: &[&str]) -> Prometheus {
        let mut last = String::new();
        // the free port may be taken between probing and binding: retry
        for _ in 0..3 {
            match Self::try_start(config, extra) {
                Ok(p) => return p,
                Err(e) => last = e,
            }
        }
        panic!("prometheus did not start: {last}");
    }

    fn try_start(config: &str, extra: &[&str]) -> Result<Prometheus, String> {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, config).unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let log = dir.path().join("prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .arg("--storage.tsdb.retention.time=100y")
            .args(extra)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .map_err(|e| format!("spawn prometheus: {e}"))?;
        let mut p = Prometheus {
            child,
            addr,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = p.child.try_wait() {
                return Err(format!("exited with {st}; log:\n{}", p.log_text()));
            }
            if let Ok((200, _)) = http_get(&p.addr, "/-/ready") {
                return Ok(p);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = p.child.kill();
        Err(format!("not ready after 60 s; log:\n{}", p.log_text()))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one remote-write 1.0 request; returns status and body.
pub fn remote_write(addr: &str, req: &WriteRequest) -> (u16, String) {
    post_bytes(
        addr,
        "/api/v1/write",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"),
        ],
        &encode_write_request(req),
    )
}

/// Samples per series (2 h at 15 s).
pub const STEPS: i64 = 480;
/// Sample spacing.
pub const STEP_MS: i64 = 15_000;
/// Every sample sits this far after a whole second, so that no range or
/// lookback boundary at a whole second hits a sample: 2.x's closed and 3.x's
/// left-open ranges then select the same samples.
pub const OFFSET_MS: i64 = 123;

/// Prometheus's staleness marker.
pub fn stale_nan() -> f64 {
    f64::from_bits(tsdb::STALE_NAN_BITS)
}

/// 20 series over 2 h, ending about an hour before now: counters starting
/// at 0 (one with a reset to 0), gauges with dyadic values (so that sums are exact whatever
/// the summation order), a classic histogram, a series that stops half-way,
/// one with a staleness marker and a gap, and one with awkward values and an
/// awkward label value.
pub struct Dataset {
    /// Time of the first sample minus [`OFFSET_MS`], a whole minute.
    pub base_ms: i64,
    pub series: Vec<(Vec<Label>, Vec<Sample>)>,
}

impl Dataset {
    pub fn new() -> Dataset {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        // on a whole hour, so that every run has the same phase against
        // subquery and step alignment (2.x's closed and 3.x's left-open
        // windows then agree on the same cases every time)
        let base_ms = (now_ms - 3 * 3_600_000) / 3_600_000 * 3_600_000;
        let t = |i: i64| base_ms + i * STEP_MS + OFFSET_MS;
        let mut series: Vec<(Vec<Label>, Vec<Sample>)> = Vec::new();
        let labels = |pairs: &[(&str, &str)]| -> Vec<Label> {
            pairs.iter().map(|(k, v)| Label::new(*k, *v)).collect()
        };
        let samples = |f: &dyn Fn(i64) -> Option<f64>| -> Vec<Sample> {
            (0..STEPS)
                .filter_map(|i| {
                    f(i).map(|value| Sample {
                        value,
                        timestamp: t(i),
                    })
                })
                .collect()
        };

        // 8 counters
        let mut s = 0i64;
        for instance in ["a:9100", "b:9100"] {
            for method in ["get", "post"] {
                for code in ["200", "500"] {
                    let k = s;
                    let f = move |i: i64| {
                        let from = if k == 0 && i >= 300 { 300 } else { 0 };
                        Some(
                            (from + 1..=i)
                                .map(|j| ((j * 7 + k * 3) % 11) as f64)
                                .sum::<f64>(),
                        )
                    };
                    series.push((
                        labels(&[
                            ("__name__", "http_requests_total"),
                            ("code", code),
                            ("instance", instance),
                            ("job", "api"),
                            ("method", method),
                        ]),
                        samples(&f),
                    ));
                    s += 1;
                }
            }
        }
        // 3 gauges, values multiples of 1/8
        for (k, room) in ["attic", "hall", "kitchen"].iter().enumerate() {
            let k = k as i64;
            let f =
                move |i: i64| Some(18.0 + (k * 2) as f64 + ((i * 37 + k * 11) % 64) as f64 / 8.0);
            series.push((
                labels(&[
                    ("__name__", "temperature_celsius"),
                    ("job", "sensor"),
                    ("room", room),
                ]),
                samples(&f),
            ));
        }
        // a classic histogram
        let incr = |i: i64| -> [i64; 4] {
            let d01 = i % 2;
            let d05 = d01 + 1 + i64::from(i % 3 == 0);
            let d1 = d05 + i % 4;
            let inf = d1 + 1 + i % 2;
            [d01, d05, d1, inf]
        };
        for (b, le) in ["0.1", "0.5", "1", "+Inf"].iter().enumerate() {
            let f = move |i: i64| Some((1..=i).map(|j| incr(j)[b]).sum::<i64>() as f64);
            series.push((
                labels(&[
                    ("__name__", "request_duration_seconds_bucket"),
                    ("job", "api"),
                    ("le", le),
                ]),
                samples(&f),
            ));
        }
        let sum = move |i: i64| Some((1..=i).map(|j| incr(j)[3] as f64 * 0.25).sum::<f64>());
        series.push((
            labels(&[("__name__", "request_duration_seconds_sum"), ("job", "api")]),
            samples(&sum),
        ));
        let count = move |i: i64| Some((1..=i).map(|j| incr(j)[3]).sum::<i64>() as f64);
        series.push((
            labels(&[
                ("__name__", "request_duration_seconds_count"),
                ("job", "api"),
            ]),
            samples(&count),
        ));
        // stops half-way
        let base_s = base_ms / 1000;
        let last_run = move |i: i64| (i < 240).then(|| (base_s + i * 15) as f64);
        series.push((
            labels(&[("__name__", "batch_last_run_seconds"), ("job", "batch")]),
            samples(&last_run),
        ));
        // a staleness marker at step 300, then a gap, then data again
        let flaky = |i: i64| match i {
            _ if i < 300 => Some((i % 10) as f64),
            300 => Some(stale_nan()),
            _ if i < 330 => None,
            _ => Some((i % 7) as f64),
        };
        series.push((
            labels(&[("__name__", "flaky_gauge"), ("job", "batch")]),
            samples(&flaky),
        ));
        // awkward values and an awkward label value
        const WEIRD: [f64; 9] = [
            0.0,
            1e21,
            1e-7,
            0.1,
            f64::NAN,
            123_456_789.125,
            -2.5,
            f64::INFINITY,
            1.0 / 3.0,
        ];
        let weird = |i: i64| Some(WEIRD[(i % 9) as usize]);
        series.push((
            labels(&[
                ("__name__", "weird_values"),
                ("job", "worker"),
                ("note", "a \"quoted\" \\ välue, {braces}"),
            ]),
            samples(&weird),
        ));
        assert_eq!(series.len(), 20);
        Dataset { base_ms, series }
    }

    /// The base time in whole seconds.
    pub fn base_s(&self) -> i64 {
        self.base_ms / 1000
    }

    /// Writes everything to `addr` oldest first: batches of 10 minutes
    /// across all series, so Prometheus's head never sees a sample older
    /// than its appendable window.
    pub fn write_to(&self, addr: &str) {
        let per_batch = 40usize;
        let mut from = 0usize;
        while from < STEPS as usize {
            let lo = self.base_ms + from as i64 * STEP_MS;
            let hi = lo + per_batch as i64 * STEP_MS;
            let req = WriteRequest {
                timeseries: self
                    .series
                    .iter()
                    .map(|(labels, samples)| TimeSeries {
                        labels: labels.clone(),
                        samples: samples
                            .iter()
                            .filter(|s| s.timestamp >= lo && s.timestamp < hi)
                            .copied()
                            .collect(),
                        ..Default::default()
                    })
                    .filter(|ts| !ts.samples.is_empty())
                    .collect(),
                ..Default::default()
            };
            let (code, body) = remote_write(addr, &req);
            assert_eq!(code, 204, "remote write to {addr}: {body}");
            from += per_batch;
        }
    }
}

/// An HTTP answer.
pub struct Reply {
    pub code: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("non-JSON body ({e}), status {}: {}", self.code, self.body))
    }
}

/// An HTTP/1.1 request with extra headers and an optional body; a gzip
/// answer is decompressed, a chunked one joined.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    let mut s =
        std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    s.write_all(&bytes).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {}", String::from_utf8_lossy(&resp)));
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    let mut raw = resp[split + 4..].to_vec();
    let mut lines = head.lines();
    let code = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let has = |k: &str, v: &str| {
        headers
            .iter()
            .any(|(hk, hv)| hk == k && hv.to_ascii_lowercase().contains(v))
    };
    if has("transfer-encoding", "chunked") {
        raw = dechunk(&raw);
    }
    if has("content-encoding", "gzip") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("gzip body");
        raw = out;
    }
    Reply {
        code,
        headers,
        body: String::from_utf8_lossy(&raw).to_string(),
    }
}

fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = s.windows(2).position(|w| w == b"\r\n") {
        let len = String::from_utf8_lossy(&s[..p]).to_string();
        let n = usize::from_str_radix(len.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        let rest = &s[p + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// `application/x-www-form-urlencoded` text of the pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut f = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        f.append_pair(k, v);
    }
    f.finish()
}

/// Runs a tool, optionally with stdin; returns exit code, stdout, stderr.
pub fn run(tool: &str, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    if let Some(text) = stdin {
        let mut i = child.stdin.take().unwrap();
        let text = text.to_string();
        // write from a thread so a large input cannot deadlock on a full pipe
        std::thread::spawn(move || {
            let _ = i.write_all(text.as_bytes());
        });
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// Debian's `victoria-metrics` (single node) on 127.0.0.1, with its data in
/// a folder of its own; can be killed and started again on the same port
/// and data. Killed on drop.
pub struct VictoriaMetrics {
    child: Option<Child>,
    pub addr: String,
    dir: tempfile::TempDir,
}

impl VictoriaMetrics {
    pub fn start() -> VictoriaMetrics {
        let mut vm = VictoriaMetrics {
            child: None,
            addr: format!("127.0.0.1:{}", free_port()),
            dir: tempfile::tempdir().unwrap(),
        };
        vm.restart();
        vm
    }

    /// Starts it (again), waiting until it answers `/health`.
    pub fn restart(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("vm.log"))
            .unwrap();
        let child = Command::new("victoria-metrics")
            .arg(format!(
                "-storageDataPath={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("-httpListenAddr={}", self.addr))
            .arg("-retentionPeriod=100y")
            .arg("-search.latencyOffset=0s")
            .arg("-search.disableCache")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn victoria-metrics");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok((200, _)) = http_get(&self.addr, "/health") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("victoria-metrics not ready: {}", self.log_text());
    }

    /// Stops it as an operator would (SIGTERM: it writes what it holds in
    /// memory first), waiting for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills it (SIGKILL): what it had not written to disk is lost.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("vm.log")).unwrap_or_default()
    }

    /// Every raw sample of the series matching `selector`, by label set
    /// (sorted `name=value` pairs): timestamps and values, in time order,
    /// duplicates kept.
    pub fn export(&self, selector: &str) -> std::collections::BTreeMap<String, Vec<(i64, f64)>> {
        let _ = http_get(&self.addr, "/internal/force_flush");
        let (code, body) = http_get(
            &self.addr,
            &format!("/api/v1/export?match[]={}", crate::common::enc(selector)),
        )
        .unwrap();
        assert_eq!(code, 200, "{body}");
        let mut out = std::collections::BTreeMap::new();
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            // NaN (a staleness marker) is not JSON: such values are skipped
            let line = line.replace("NaN", "null");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let key = series_key(&v["metric"]);
            let ts = v["timestamps"].as_array().unwrap();
            let vals = v["values"].as_array().unwrap();
            let list: &mut Vec<(i64, f64)> = out.entry(key).or_default();
            for (t, x) in ts.iter().zip(vals) {
                if let Some(x) = x.as_f64() {
                    list.push((t.as_i64().unwrap(), x));
                }
            }
            list.sort_by_key(|s| s.0);
        }
        out
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A label set as sorted `name=value` pairs joined by commas.
pub fn series_key(metric: &serde_json::Value) -> String {
    let mut pairs: Vec<String> = metric
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
        .collect();
    pairs.sort();
    pairs.join(",")
}
