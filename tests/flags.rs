//! Every flag of Prometheus 3's `prometheus` binary, from the list kept in
//! `tests/data/prometheus3_flags.tsv`: flint starts with each one (alone,
//! then all at once), shows it on `/api/v1/status/flags`, and lists it in
//! `--help`. Flags that end the process (help, version, …) print and exit 0.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{bin, http_get};

/// One row of the flag list.
struct Row {
    name: String,
    kind: String,
    hidden: bool,
    mode: String,
    example: String,
}

fn rows() -> Vec<Row> {
    let text = include_str!("data/prometheus3_flags.tsv");
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let c: Vec<&str> = line.split('\t').collect();
        if c[0] == "name" {
            continue;
        }
        out.push(Row {
            name: c[0].to_string(),
            kind: c[1].to_string(),
            hidden: c[3] == "yes",
            mode: c[4].to_string(),
            example: c[5].to_string(),
        });
    }
    assert!(out.len() >= 80, "the flag list has {} rows", out.len());
    out
}

/// Flags that print something and exit.
const EXITING: &[&str] = &[
    "help",
    "help-long",
    "help-man",
    "completion-bash",
    "completion-script-bash",
    "completion-script-zsh",
    "version",
    "write-documentation",
];

/// The argument giving `row`, with paths and addresses moved into `dir`.
fn arg(row: &Row, dir: &Path) -> (String, String) {
    let value = match row.name.as_str() {
        "config.file" => dir.join("prometheus.yml").display().to_string(),
        "storage.tsdb.path" => dir.join("data").display().to_string(),
        "storage.agent.path" => dir.join("data-agent").display().to_string(),
        "web.config.file" => dir.join("web.yml").display().to_string(),
        "web.user-assets" => dir.join("assets").display().to_string(),
        "web.listen-address" => "127.0.0.1:0".to_string(),
        _ => row.example.clone(),
    };
    if row.kind == "bool" {
        (format!("--{}", row.name), "true".to_string())
    } else {
        (format!("--{}={value}", row.name), value)
    }
}

/// A started server: its process and address.
struct Started {
    child: Child,
    addr: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts flint with `args` (plus a listen address unless given) and
/// waits until it answers `/-/ready` under `prefix`.
fn start(dir: &Path, args: &[String], prefix: &str) -> Started {
    let mut cmd = Command::new(bin());
    if !args.iter().any(|a| a.starts_with("--config.file")) {
        cmd.arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ));
    }
    if !args.iter().any(|a| a.starts_with("--agent"))
        && !args.iter().any(|a| a.starts_with("--storage.tsdb.path"))
    {
        cmd.arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ));
    }
    if !args.iter().any(|a| a.starts_with("--web.listen-address")) {
        cmd.arg("--web.listen-address=127.0.0.1:0");
    }
    let mut child = cmd
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let log2 = std::sync::Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("msg=\"Start listening for connections\"") {
                if let Some(a) = line.split("address=").nth(1) {
                    let _ = tx.send(a.split_whitespace().next().unwrap_or("").to_string());
                }
            }
            // with --log.format=json
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if v["msg"] == "Start listening for connections" {
                    let _ = tx.send(v["address"].as_str().unwrap_or("").to_string());
                }
            }
            log2.lock().unwrap().push(line);
        }
    });
    let Ok(addr) = rx.recv_timeout(Duration::from_secs(30)) else {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "flint {args:?} did not start ({:?}):\n{}",
            out.status,
            log.lock().unwrap().join("\n")
        );
    };
    let s = Started { child, addr, log };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, _)) = http_get(&s.addr, &format!("{prefix}/-/ready")) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "flint {args:?} not ready:\n{}",
            s.log.lock().unwrap().join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn setup(dir: &Path) {
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 15s\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("web.yml"),
        "http_server_config:\n  headers:\n    X-Test: yes\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("assets/hello.txt"), "hello\n").unwrap();
}

/// The status API's flags.
fn status_flags(s: &Started, prefix: &str) -> serde_json::Value {
    let (code, body) = http_get(&s.addr, &format!("{prefix}/api/v1/status/flags")).unwrap();
    assert_eq!(code, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["data"].clone()
}

#[test]
fn every_prometheus_flag_starts_flint() {
    let rows = rows();
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let mut all_server: Vec<(String, String, String)> = Vec::new();
    for row in &rows {
        if EXITING.contains(&row.name.as_str()) {
            let out = Command::new(bin())
                .arg(format!("--{}", row.name))
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "--{}", row.name);
            assert!(!out.stdout.is_empty(), "--{} printed nothing", row.name);
            continue;
        }
        if row.mode == "agent_only" || row.name == "agent" {
            continue; // with --agent, below
        }
        let (a, value) = arg(row, dir.path());
        let prefix = if row.name == "web.route-prefix" {
            value.trim_end_matches('/').to_string()
        } else {
            String::new()
        };
        let one = tempfile::tempdir().unwrap();
        setup(one.path());
        let (a_one, _) = arg(row, one.path());
        let s = start(one.path(), std::slice::from_ref(&a_one), &prefix);
        let flags = status_flags(&s, &prefix);
        let shown = flags[row.name.as_str()]
            .as_str()
            .unwrap_or_else(|| panic!("--{} missing from /api/v1/status/flags: {flags}", row.name));
        if row.kind == "bool" {
            assert_eq!(shown, "true", "--{}", row.name);
        } else if !matches!(
            row.name.as_str(),
            // shown normalised (units, no trailing slash)
            "storage.tsdb.retention.size" | "web.external-url" | "web.route-prefix"
        ) {
            let (_, v) = arg(row, one.path());
            assert_eq!(shown, v, "--{}", row.name);
        }
        drop(s);
        // a prefix moves every route, and JSON logs read differently: those
        // are checked alone above
        if !matches!(
            row.name.as_str(),
            "web.route-prefix" | "web.external-url" | "log.format"
        ) {
            all_server.push((a, value, row.name.clone()));
        }
    }
    // all of them at once
    let args: Vec<String> = all_server.iter().map(|(a, _, _)| a.clone()).collect();
    let s = start(dir.path(), &args, "");
    let flags = status_flags(&s, "");
    for (_, _, name) in &all_server {
        assert!(flags.get(name.as_str()).is_some(), "--{name}: {flags}");
    }
    // agent mode, alone and with each agent flag and all together
    let mut agent_args = vec!["--agent".to_string()];
    for row in rows.iter().filter(|r| r.mode == "agent_only") {
        let one = tempfile::tempdir().unwrap();
        setup(one.path());
        let (a, _) = arg(row, one.path());
        let mut args = vec!["--agent".to_string(), a.clone()];
        if row.name != "storage.agent.path" {
            args.push(format!(
                "--storage.agent.path={}",
                one.path().join("data-agent").display()
            ));
        }
        let s = start(one.path(), &args, "");
        let flags = status_flags(&s, "");
        assert!(
            flags.get(row.name.as_str()).is_some(),
            "--{}: {flags}",
            row.name
        );
        assert_eq!(flags["agent"], "true");
        drop(s);
        if row.name != "storage.agent.path" {
            agent_args.push(a);
        }
    }
    let agent_dir = tempfile::tempdir().unwrap();
    setup(agent_dir.path());
    agent_args.push(format!(
        "--storage.agent.path={}",
        agent_dir.path().join("data-agent").display()
    ));
    drop(start(agent_dir.path(), &agent_args, ""));
    // the flags that change nothing are named once in the log
    let log = s.log.lock().unwrap().join("\n");
    for name in [
        "storage.tsdb.wal-compression",
        "storage.tsdb.min-block-duration",
    ] {
        let lines = log
            .lines()
            .filter(|l| l.contains("no effect") && l.contains(&format!("flag=--{name} ")))
            .count();
        assert_eq!(lines, 1, "--{name}:\n{log}");
    }
    // --web.user-assets serves its folder under /user
    assert_eq!(
        http_get(&s.addr, "/user/hello.txt").unwrap(),
        (200, "hello\n".to_string())
    );
    assert_eq!(http_get(&s.addr, "/user/../prometheus.yml").unwrap().0, 404);
}

#[test]
fn help_lists_the_flags_and_the_commands() {
    let out = Command::new(bin()).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for row in rows().iter().filter(|r| !r.hidden) {
        let shown = if row.kind == "bool" {
            format!("--[no-]{}", row.name)
        } else {
            format!("--{}=", row.name)
        };
        assert!(
            help.contains(&shown),
            "{shown} missing from --help:\n{help}"
        );
    }
    for cmd in ["check config", "check rules", "check metrics", "test rules"] {
        assert!(help.contains(&format!("\n  {cmd}")), "{cmd}:\n{help}");
    }
    for args in [
        &["help"][..],
        &["check", "--help"],
        &["test", "--help"],
        &["-h"],
    ] {
        let out = Command::new(bin()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("usage: flint [<flags>]"),
            "{args:?}"
        );
    }
}

#[test]
fn flag_errors_as_prometheus() {
    let run = |args: &[&str]| Command::new(bin()).args(args).output().unwrap();
    let out = run(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error parsing command line arguments: unknown long flag '--no-such-flag'\nflint: error: unknown long flag '--no-such-flag'\n"
    );
    let out = run(&["--query.timeout=soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error parsing command line arguments: not a valid duration string: \"soon\"\n"
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage: "));
    let out = run(&["--storage.agent.path=x"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("can only be used in agent mode"));
}

#[test]
fn prometheus_2_flags_are_still_taken() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let s = start(
        dir.path(),
        &[
            "--storage.tsdb.retention=3d".to_string(),
            "--web.local-assets=/usr/share/prometheus/web/".to_string(),
        ],
        "",
    );
    let flags = status_flags(&s, "");
    assert_eq!(flags["storage.tsdb.retention.time"], "3d");
    assert_eq!(flags["storage.tsdb.retention"], "3d");
    let log = s.log.lock().unwrap().join("\n");
    assert!(log.contains("removed in Prometheus 3"), "{log}");
}

#[test]
fn page_title_and_query_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let s = start(
        dir.path(),
        &[
            "--web.page-title=Ops metrics".to_string(),
            "--query.max-concurrency=1".to_string(),
            "--query.timeout=2s".to_string(),
            "--query.max-samples=1000000000000".to_string(),
        ],
        "",
    );
    let (code, page) = http_get(&s.addr, "/query").unwrap();
    assert_eq!(code, 200);
    assert!(page.contains("<title>Ops metrics</title>"), "{page}");
    // one query at a time: a query that runs until its 2 s timeout holds
    // the only slot, so a second one sent meanwhile waits its turn
    let endless = "count_over_time(vector(1)[30d:1ms])";
    let addr = s.addr.clone();
    let t = std::thread::spawn(move || {
        http_get(
            &addr,
            &format!("/api/v1/query?query={}", crate::common::enc(endless)),
        )
        .unwrap()
    });
    std::thread::sleep(Duration::from_millis(300));
    let (code, body) = http_get(&s.addr, "/api/v1/query?query=1").unwrap();
    assert_eq!(code, 200, "{body}");
    let (code, body) = t.join().unwrap();
    assert_eq!(code, 503, "{body}");
    let (_, metrics) = http_get(&s.addr, "/metrics").unwrap();
    let waited: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("prometheus_engine_query_duration_seconds_sum{slice=\"queue_time\"} ")
        })
        .unwrap_or_else(|| panic!("{metrics}"))
        .parse()
        .unwrap();
    assert!(waited > 0.5, "the second query waited {waited} s");
}

#[test]
fn connection_limit_and_read_timeout() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let s = start(
        dir.path(),
        &[
            "--web.max-connections=1".to_string(),
            "--web.read-timeout=1s".to_string(),
        ],
        "",
    );
    // the readiness probe's connection may still be closing: wait until a
    // first connection is served
    let mut first = TcpStream::connect(&s.addr).unwrap();
    first
        .write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 256];
    let n = first.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // while it stays open, a second connection is not served
    let mut second = TcpStream::connect(&s.addr).unwrap();
    second
        .write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(second.read(&mut buf).is_err(), "served beyond the limit");
    // an idle connection is closed after --web.read-timeout, which lets
    // the second one in
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n = second.read(&mut buf).unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(first.read(&mut buf).unwrap_or(0), 0, "idle connection kept");
}

#[test]
fn config_auto_reload_follows_the_file() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let s = start(
        dir.path(),
        &[
            "--config.auto-reload".to_string(),
            "--config.auto-reload-interval=1s".to_string(),
        ],
        "",
    );
    let config = |s: &Started| {
        let (_, body) = http_get(&s.addr, "/api/v1/status/config").unwrap();
        body
    };
    assert!(!config(&s).contains("auto_job"));
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "scrape_configs:\n  - job_name: auto_job\n    static_configs:\n      - targets: ['127.0.0.1:1']\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !config(&s).contains("auto_job") {
        assert!(Instant::now() < deadline, "not reloaded: {}", config(&s));
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = s.log.lock().unwrap().join("\n");
    assert!(
        log.contains("Configuration file change detected, reloading the configuration."),
        "{log}"
    );
}
