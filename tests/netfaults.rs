//! Network faults between flint and real hosts: scrape targets, an
//! Alertmanager and a remote write receiver (VictoriaMetrics) run in a
//! network namespace of their own, joined to flint's by a veth pair; the
//! tests drop its packets (nftables in the namespace) and cut the link
//! (the veth down) while flint scrapes, notifies and sends. Scrapes time
//! out as configured and mark their targets down, their series go stale,
//! the other targets keep their pace, and everything resumes when the
//! link comes back; nothing acknowledged is lost on the way to the
//! receiver.
//!
//! They need root, `ip netns` and `nft` (scripts/test.sh installs Debian's
//! nftables); where the machine does not allow network namespaces they
//! print why and skip. This kernel has no netem queueing discipline
//! (`tc netem`), so delays come from a relay in the namespace that holds
//! every segment on its way in either direction.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{free_port, http_get, wait_for, MockTarget, Server};
use crate::peers::peers_or_skip;

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A network namespace joined to this one by a veth pair: this side
/// `10.213.<n>.1`, the namespace's `10.213.<n>.2`.
struct Net {
    ns: String,
    host_if: String,
    pub ip: String,
    host_ip: String,
    children: Vec<Child>,
}

impl Net {
    /// A new namespace, or why the machine does not allow one.
    fn create() -> Result<Net, String> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = std::process::id() % 100_000;
        let subnet = (id as usize * 7 + n) % 250 + 1;
        let ns = format!("flint{id}n{n}");
        let host_if = format!("fh{id}n{n}");
        let ns_if = format!("fn{id}n{n}");
        sh(&["ip", "netns", "add", &ns])?;
        let net = Net {
            ns,
            host_if,
            ip: format!("10.213.{subnet}.2"),
            host_ip: format!("10.213.{subnet}.1"),
            children: Vec::new(),
        };
        let ns = net.ns.as_str();
        sh(&[
            "ip",
            "link",
            "add",
            &net.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &ns_if,
        ])?;
        sh(&["ip", "link", "set", &ns_if, "netns", ns])?;
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("{}/24", net.host_ip),
            "dev",
            &net.host_if,
        ])?;
        sh(&[
            "ip",
            "-n",
            ns,
            "addr",
            "add",
            &format!("{}/24", net.ip),
            "dev",
            &ns_if,
        ])?;
        sh(&["ip", "link", "set", &net.host_if, "up"])?;
        sh(&["ip", "-n", ns, "link", "set", &ns_if, "up"])?;
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        sh(&[
            "ip", "netns", "exec", ns, "nft", "add", "table", "inet", "faults",
        ])?;
        sh(&[
            "ip",
            "netns",
            "exec",
            ns,
            "nft",
            "add",
            "chain",
            "inet",
            "faults",
            "input",
            "{ type filter hook input priority 0; }",
        ])?;
        Ok(net)
    }

    /// Runs `args` in the namespace (killed on drop).
    fn spawn(&mut self, args: &[&str], stdout: Stdio) -> &mut Child {
        let c = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .expect("ip netns exec");
        self.children.push(c);
        self.children.last_mut().unwrap()
    }

    /// Runs a Python `script` in the namespace and waits for the line
    /// `ready` it prints once it listens.
    fn python_ready(&mut self, script: &str) {
        let c = self.spawn(&["python3", "-c", script], Stdio::piped());
        let mut line = String::new();
        BufReader::new(c.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
    }

    /// A scrape target in the namespace serving `body` on `port`.
    fn target(&mut self, port: u16, body: &str) {
        let script = format!(
            r#"
import http.server, sys
body = {body:?}.encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("{ip}", {port}), H)
print("ready", flush=True)
s.serve_forever()
"#,
            ip = self.ip
        );
        self.python_ready(&script);
    }

    /// A relay in the namespace from `port` to the namespace's
    /// `to_port`, holding every segment `delay_s` seconds in either
    /// direction (so a request and its answer take twice that longer).
    fn relay(&mut self, port: u16, to_port: u16, delay_s: f64) {
        let script = format!(
            r#"
import asyncio
async def pipe(r, w):
    try:
        while True:
            data = await r.read(65536)
            if not data:
                break
            await asyncio.sleep({delay_s})
            w.write(data)
            await w.drain()
    finally:
        w.close()
async def handle(cr, cw):
    tr, tw = await asyncio.open_connection("{ip}", {to_port})
    await asyncio.gather(pipe(cr, tw), pipe(tr, cw), return_exceptions=True)
async def main():
    s = await asyncio.start_server(handle, "{ip}", {port})
    print("ready", flush=True)
    await s.serve_forever()
asyncio.run(main())
"#,
            ip = self.ip
        );
        self.python_ready(&script);
    }

    /// Drops what comes in to `port` (every port: `None`).
    fn drop_input(&self, port: Option<u16>) {
        let port = port.map(|p| p.to_string());
        let mut rule = vec![
            "ip", "netns", "exec", &self.ns, "nft", "add", "rule", "inet", "faults", "input",
        ];
        if let Some(p) = &port {
            rule.extend(["tcp", "dport", p.as_str()]);
        } else {
            rule.extend(["ip", "saddr", self.host_ip.as_str()]);
        }
        rule.push("drop");
        sh(&rule).unwrap();
    }

    /// Lets everything in again.
    fn allow_all(&self) {
        sh(&[
            "ip", "netns", "exec", &self.ns, "nft", "flush", "chain", "inet", "faults", "input",
        ])
        .unwrap();
    }

    /// Takes the link down (`false`) or up again.
    fn link(&self, up: bool) {
        sh(&[
            "ip",
            "link",
            "set",
            &self.host_if,
            if up { "up" } else { "down" },
        ])
        .unwrap();
        if up {
            // the address route comes back with the link
            wait_for("the link", 10, || {
                std::net::TcpStream::connect_timeout(
                    &format!("{}:9", self.ip).parse().unwrap(),
                    Duration::from_millis(200),
                )
                .map_or_else(
                    |e| e.kind() == std::io::ErrorKind::ConnectionRefused,
                    |_| true,
                )
            });
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = sh(&["ip", "link", "del", &self.host_if]);
        let _ = sh(&["ip", "netns", "del", &self.ns]);
    }
}

/// A namespace, or `None` after printing why the test skips.
fn net_or_skip(test: &str) -> Option<Net> {
    if !peers_or_skip(test, &["python3"]) {
        return None;
    }
    if Command::new("nft").arg("--version").output().is_err() {
        if crate::common::must_run() {
            panic!("{test}: `nft` is not installed (scripts/test.sh installs nftables)");
        }
        println!("SKIP {test}: `nft` is not installed");
        return None;
    }
    match Net::create() {
        Ok(n) => Some(n),
        Err(why) => {
            // a property of the machine, not a missing peer
            println!("SKIP {test}: this machine does not allow network namespaces here: {why}");
            None
        }
    }
}

fn up(server: &Server, instance: &str) -> Option<f64> {
    server.value(&format!("up{{instance=\"{instance}\"}}"))
}

#[test]
fn scrapes_time_out_and_resume_across_dropped_and_cut_links() {
    let Some(mut net) = net_or_skip("netfaults::scrapes") else {
        return;
    };
    let (p1, p2) = (free_port(), free_port());
    net.target(p1, "netfault_value{t=\"a\"} 1\n");
    net.target(p2, "netfault_value{t=\"b\"} 2\n");
    let (a, b) = (format!("{}:{p1}", net.ip), format!("{}:{p2}", net.ip));
    let local = MockTarget::start("netfault_local 3\n");
    let tmp = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\nscrape_configs:\n  - job_name: far\n    static_configs:\n      - targets: ['{a}', '{b}']\n  - job_name: local\n    static_configs:\n      - targets: ['{}']\n",
        local.addr
    );
    let s = Server::start(tmp.path(), &config, &[]);
    s.eventually(20, "every target up", || {
        s.value("sum(up)") == Some(3.0) && s.value("count(netfault_value)") == Some(2.0)
    });

    // packets to one target dropped: its scrapes time out after 500 ms
    net.drop_input(Some(p1));
    let since = Instant::now();
    s.eventually(10, "the target behind dropped packets down", || {
        up(&s, &a) == Some(0.0)
    });
    // its series went stale at once (not after the 5 minute lookback)
    assert!(s.query(r#"netfault_value{t="a"}"#).is_empty());
    assert!(since.elapsed() < Duration::from_secs(5));
    let took = s
        .value(&format!("scrape_duration_seconds{{instance=\"{a}\"}}"))
        .unwrap();
    assert!((0.45..1.2).contains(&took), "a scrape took {took} s");
    let (_, targets) = s.api("/api/v1/targets?state=active");
    let err = targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["labels"]["instance"] == a.as_str())
        .map(|t| t["lastError"].as_str().unwrap_or("").to_string())
        .unwrap();
    assert!(err.contains("context deadline exceeded"), "{err}");
    // the others kept their pace meanwhile
    std::thread::sleep(Duration::from_secs(4));
    for other in [&b, &local.addr] {
        let n = s
            .value(&format!("count_over_time(up{{instance=\"{other}\"}}[4s])"))
            .unwrap();
        assert!(n >= 3.0, "{other}: {n} scrapes in 4 s");
        assert_eq!(up(&s, other), Some(1.0));
    }

    // the link cut: both far targets down, the local one unaffected
    net.link(false);
    s.eventually(10, "both far targets down", || {
        s.value(r#"sum(up{job="far"})"#) == Some(0.0)
    });
    assert!(s.query("netfault_value").is_empty());
    assert_eq!(up(&s, &local.addr), Some(1.0));
    assert_eq!(s.value("netfault_local"), Some(3.0));

    // back: everything resumes
    net.link(true);
    net.allow_all();
    s.eventually(15, "every target up again", || {
        s.value("sum(up)") == Some(3.0) && s.value("count(netfault_value)") == Some(2.0)
    });
}

/// A delayed path: a scrape through it takes the delay and is kept while
/// within `scrape_timeout`; past it the scrape fails as timed out, only
/// that target is down and its series go stale, the others keep their
/// pace.
#[test]
fn scrapes_across_delayed_paths_take_the_delay_and_time_out_past_it() {
    let Some(mut net) = net_or_skip("netfaults::delays") else {
        return;
    };
    let (p1, p2, r1, r2) = (free_port(), free_port(), free_port(), free_port());
    net.target(p1, "netdelay_value{t=\"slow\"} 1\n");
    net.target(p2, "netdelay_value{t=\"slower\"} 2\n");
    // 2 x 100 ms for a request and its answer; 2 x 400 ms
    net.relay(r1, p1, 0.1);
    net.relay(r2, p2, 0.4);
    let (slow, slower) = (format!("{}:{r1}", net.ip), format!("{}:{r2}", net.ip));
    let local = MockTarget::start("netdelay_local 3\n");
    let tmp = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 500ms\nscrape_configs:\n  - job_name: far\n    static_configs:\n      - targets: ['{slow}', '{slower}']\n  - job_name: local\n    static_configs:\n      - targets: ['{}']\n",
        local.addr
    );
    let s = Server::start(tmp.path(), &config, &[]);
    s.eventually(20, "the slow target up, the slower one down", || {
        up(&s, &slow) == Some(1.0)
            && up(&s, &slower) == Some(0.0)
            && up(&s, &local.addr) == Some(1.0)
    });
    std::thread::sleep(Duration::from_secs(4));
    // the slow target's scrapes took the delay and were kept
    let took = s
        .value(&format!(
            "max_over_time(scrape_duration_seconds{{instance=\"{slow}\"}}[3s])"
        ))
        .unwrap();
    assert!(
        (0.2..0.5).contains(&took),
        "a scrape through 200 ms took {took} s"
    );
    assert_eq!(s.value(r#"netdelay_value{t="slow"}"#), Some(1.0));
    // the slower one's timed out at 500 ms, and it holds no sample
    let took = s
        .value(&format!("scrape_duration_seconds{{instance=\"{slower}\"}}"))
        .unwrap();
    assert!(
        (0.45..1.2).contains(&took),
        "a timed-out scrape took {took} s"
    );
    assert!(s.query(r#"netdelay_value{t="slower"}"#).is_empty());
    let (_, targets) = s.api("/api/v1/targets?state=active");
    let err = targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["labels"]["instance"] == slower.as_str())
        .map(|t| t["lastError"].as_str().unwrap_or("").to_string())
        .unwrap();
    assert!(err.contains("context deadline exceeded"), "{err}");
    // every target kept its pace, the slow ones too
    for t in [&slow, &slower, &local.addr] {
        let n = s
            .value(&format!("count_over_time(up{{instance=\"{t}\"}}[4s])"))
            .unwrap();
        assert!(n >= 3.0, "{t}: {n} scrapes in 4 s");
    }
}

#[test]
fn nothing_is_lost_on_the_way_to_a_receiver_behind_a_cut_link() {
    let Some(mut net) = net_or_skip("netfaults::remote_write") else {
        return;
    };
    if !peers_or_skip("netfaults::remote_write", &["victoria-metrics"]) {
        return;
    }
    let vm_dir = tempfile::tempdir().unwrap();
    let vm_addr = format!("{}:{}", net.ip, free_port());
    net.spawn(
        &[
            "victoria-metrics",
            &format!("-storageDataPath={}", vm_dir.path().display()),
            &format!("-httpListenAddr={vm_addr}"),
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
            "-search.disableCache",
        ],
        Stdio::null(),
    );
    wait_for("victoria-metrics", 60, || {
        matches!(http_get(&vm_addr, "/health"), Ok((200, _)))
    });
    let target = MockTarget::start("netfault_counter 1\n");
    let tmp = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 500ms\nscrape_configs:\n  - job_name: local\n    static_configs:\n      - targets: ['{}']\nremote_write:\n  - url: http://{vm_addr}/api/v1/write\n    remote_timeout: 2s\n    queue_config:\n      batch_send_deadline: 200ms\n      min_backoff: 100ms\n      max_backoff: 1s\n",
        target.addr
    );
    let s = Server::start(tmp.path(), &config, &[]);
    let in_vm = |q: &str| -> Option<f64> {
        let (code, body) = http_get(
            &vm_addr,
            &format!("/api/v1/query?query={}", crate::common::enc(q)),
        )
        .ok()?;
        if code != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|x| x.parse().ok())
    };
    wait_for("samples in VictoriaMetrics", 30, || {
        in_vm("count_over_time(netfault_counter[10m])").is_some()
    });
    // cut for 8 s while scraping goes on, then packets dropped for 4 s
    net.link(false);
    std::thread::sleep(Duration::from_secs(8));
    net.link(true);
    net.drop_input(None);
    std::thread::sleep(Duration::from_secs(4));
    assert!(s.value("up") == Some(1.0), "scraping went on");
    // the sender saw the fault: samples retried
    let (_, metrics) = http_get(&s.addr, "/metrics").unwrap();
    let retried: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("prometheus_remote_storage_samples_retried_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(retried > 0.0, "{metrics}");
    net.allow_all();
    // stop scraping, then every sample flint holds reaches the receiver
    target.set("");
    std::thread::sleep(Duration::from_secs(1));
    let end = crate::common::now_secs();
    let (_, v) = s.api(&format!(
        "/api/v1/query?query={}&time={end}",
        crate::common::enc("netfault_counter[10m]")
    ));
    let held: Vec<i64> = v["data"]["result"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap() * 1000.0).round() as i64)
        .collect();
    assert!(held.len() >= 20, "{} samples", held.len());
    let exported = || -> Vec<i64> {
        let _ = http_get(&vm_addr, "/internal/force_flush");
        let Ok((200, body)) = http_get(
            &vm_addr,
            &format!(
                "/api/v1/export?match[]={}",
                crate::common::enc("netfault_counter")
            ),
        ) else {
            return Vec::new();
        };
        let mut ts = Vec::new();
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            // a staleness marker (NaN) is not JSON
            let v: serde_json::Value = serde_json::from_str(&line.replace("NaN", "null")).unwrap();
            for (t, x) in v["timestamps"]
                .as_array()
                .unwrap()
                .iter()
                .zip(v["values"].as_array().unwrap())
            {
                if x.is_number() {
                    ts.push(t.as_i64().unwrap());
                }
            }
        }
        ts.sort_unstable();
        ts.dedup();
        ts
    };
    wait_for("every sample in VictoriaMetrics", 60, || {
        let got = exported();
        held.iter().all(|t| got.binary_search(t).is_ok())
    });
}

#[test]
fn notifications_wait_out_a_cut_link() {
    let Some(mut net) = net_or_skip("netfaults::notifications") else {
        return;
    };
    if !peers_or_skip("netfaults::notifications", &["prometheus-alertmanager"]) {
        return;
    }
    let am_dir = tempfile::tempdir().unwrap();
    let am_conf = am_dir.path().join("am.yml");
    std::fs::write(
        &am_conf,
        "route:\n  receiver: none\nreceivers:\n  - name: none\n",
    )
    .unwrap();
    let am_addr = format!("{}:{}", net.ip, free_port());
    net.spawn(
        &[
            "prometheus-alertmanager",
            &format!("--config.file={}", am_conf.display()),
            &format!("--storage.path={}", am_dir.path().display()),
            &format!("--web.listen-address={am_addr}"),
            "--cluster.listen-address=",
        ],
        Stdio::null(),
    );
    wait_for("the Alertmanager", 60, || {
        matches!(http_get(&am_addr, "/-/ready"), Ok((200, _)))
    });
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("rules.yml"),
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: BehindTheCut\n        expr: vector(1)\n",
    )
    .unwrap();
    let config = format!(
        "global:\n  evaluation_interval: 1s\nrule_files: ['{}']\nalerting:\n  alertmanagers:\n    - timeout: 1s\n      static_configs:\n        - targets: ['{am_addr}']\n",
        tmp.path().join("rules.yml").display()
    );
    // the link is down before the first notification
    net.link(false);
    // (a firing alert is sent again after the resend delay, as in
    // Prometheus: once the link is back, the next one reaches it)
    let s = Server::start(tmp.path(), &config, &["--rules.alert.resend-delay=2s"]);
    let errors = || -> f64 {
        let (_, m) = http_get(&s.addr, "/metrics").unwrap();
        m.lines()
            .filter(|l| l.starts_with("prometheus_notifications_errors_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    wait_for("a failed notification", 30, || errors() > 0.0);
    // queries are answered meanwhile
    s.eventually(10, "the alert firing", || {
        s.value(r#"ALERTS{alertname="BehindTheCut"}"#) == Some(1.0)
    });
    assert!(!http_get(&am_addr, "/-/ready").is_ok_and(|(c, _)| c == 200));
    net.link(true);
    wait_for("the alert at the Alertmanager", 30, || {
        http_get(&am_addr, "/api/v2/alerts")
            .is_ok_and(|(code, body)| code == 200 && body.contains("BehindTheCut"))
    });
}
