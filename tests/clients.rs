//! Slow, idle and huge clients: connections that send nothing, headers a
//! byte at a time, a body that never ends, a 1 GiB body, and idle TLS
//! handshakes hold no connection past `--web.read-timeout` and cost no
//! memory beyond the request limits; the other clients are served.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::{http_get, https_get, wait_for, Server};

/// Whether the server closed the connection (reading gives its end).
fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut b = [0u8; 512];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}

#[test]
fn idle_and_slow_connections_are_let_go_and_others_served() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(
        tmp.path(),
        "global:\n  scrape_interval: 1h\n",
        &[
            "--web.read-timeout=1s",
            "--web.max-connections=20",
            "--web.enable-remote-write-receiver",
        ],
    );
    // more idle connections than the limit, and slow writers of headers
    // and of a body
    let mut idle: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    let mut slow: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut c = TcpStream::connect(&s.addr).unwrap();
            c.write_all(b"GET /-/healthy HTTP/1.1\r\n").unwrap();
            c
        })
        .collect();
    let mut body = TcpStream::connect(&s.addr).unwrap();
    body.write_all(
        b"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n",
    )
    .unwrap();
    let started = Instant::now();
    // a header line, and a few body bytes, every 300 ms
    let mut body_open = true;
    let mut served = false;
    while started.elapsed() < Duration::from_secs(30) && !served {
        for c in &mut slow {
            let _ = c.write_all(b"X-Slow: 1\r\n");
        }
        if body_open {
            body_open = body.write_all(b"xxxx").is_ok();
        }
        // another client is served once the idle ones are let go
        served = matches!(http_get(&s.addr, "/api/v1/query?query=1"), Ok((200, _)));
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(served, "no other client served in 30 s");
    wait_for("the idle connections closed", 30, || {
        idle.iter_mut().all(closed)
    });
    wait_for("the slow header writers closed", 30, || {
        slow.iter_mut().all(|c| {
            let _ = c.write_all(b"X-Slow: 1\r\n");
            closed(c)
        })
    });
    // the endless body: a 408 within the read timeout's reach, or closed
    wait_for("the endless body let go", 30, || {
        let _ = body.write_all(b"xxxx");
        closed(&mut body)
    });
    assert!(matches!(http_get(&s.addr, "/-/healthy"), Ok((200, _))));
}

#[test]
fn a_huge_body_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(
        tmp.path(),
        "global:\n  scrape_interval: 1h\n",
        &[
            "--web.enable-remote-write-receiver",
            "--web.enable-otlp-receiver",
        ],
    );
    let before = rss(s.child.id());
    for path in ["/api/v1/write", "/api/v1/otlp/v1/metrics"] {
        let mut c = TcpStream::connect(&s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            c,
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nContent-Length: 1073741824\r\n\r\n"
        )
        .unwrap();
        // the answer comes before any of the body was sent
        let mut answer = vec![0u8; 256];
        let n = c.read(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]).to_string();
        assert!(answer.starts_with("HTTP/1.1 413 "), "{path}: {answer}");
    }
    // an announced size within the limit, then 1 GiB sent: cut at the limit
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut sent = 0usize;
    while sent < 1 << 30 {
        let head = format!("{:x}\r\n", chunk.len());
        if c.write_all(head.as_bytes()).is_err()
            || c.write_all(&chunk).is_err()
            || c.write_all(b"\r\n").is_err()
        {
            break;
        }
        sent += chunk.len();
    }
    assert!(sent < 1 << 30, "all of 1 GiB was taken");
    // memory: no more than the 64 MiB limit and its copies came in use
    let after = rss(s.child.id());
    assert!(
        after < before + 256 * 1024 * 1024,
        "RSS {} MiB before, {} MiB after",
        before >> 20,
        after >> 20
    );
    assert!(matches!(http_get(&s.addr, "/-/healthy"), Ok((200, _))));
}

#[test]
fn unfinished_tls_handshakes_are_let_go() {
    let pki = crate::common::TestPki::localhost();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("srv.crt"), &pki.cert_pem).unwrap();
    std::fs::write(dir.path().join("srv.key"), &pki.key_pem).unwrap();
    std::fs::write(
        dir.path().join("web.yml"),
        "tls_server_config:\n  cert_file: srv.crt\n  key_file: srv.key\n",
    )
    .unwrap();
    let flag = format!("--web.config.file={}", dir.path().join("web.yml").display());
    let s = Server::start(
        dir.path(),
        "",
        &[&flag, "--web.read-timeout=1s", "--web.max-connections=10"],
    );
    wait_for("https", 10, || {
        matches!(
            https_get(&s.addr, "/-/ready", &pki.ca_pem, None),
            Ok((200, _))
        )
    });
    // every connection taken by a client that never says hello
    let mut idle: Vec<TcpStream> = (0..30)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    wait_for("another client served", 30, || {
        matches!(
            https_get(&s.addr, "/-/ready", &pki.ca_pem, None),
            Ok((200, _))
        )
    });
    wait_for("the silent handshakes closed", 30, || {
        idle.iter_mut().all(closed)
    });
}
