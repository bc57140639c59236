//! Scrape configuration as a user writes it: relabeling, file discovery,
//! OpenMetrics targets.

use crate::common::{base64_encode, MockTarget, Server, TestPki};

#[test]
fn file_discovery_adds_and_removes_targets() {
    let a = MockTarget::start("fsd_metric{from=\"a\"} 1\n");
    let b = MockTarget::start("fsd_metric{from=\"b\"} 2\n");
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("targets.json");
    std::fs::write(
        &sd,
        format!(
            r#"[{{"targets":["{}"],"labels":{{"env":"test"}}}}]"#,
            a.addr
        ),
    )
    .unwrap();
    // a relative path: resolved against the config file's folder
    let cfg = "scrape_configs:\n  - job_name: fsd\n    scrape_interval: 1s\n    file_sd_configs:\n      - files: ['*.json']\n    relabel_configs:\n      - source_labels: [__meta_filepath]\n        regex: '.*/(.*)'\n        target_label: sd_file\n";
    let s = Server::start(dir.path(), cfg, &[]);
    s.eventually(15, "target a scraped", || {
        s.value(r#"fsd_metric{from="a"}"#) == Some(1.0)
    });
    let r = s.query(r#"fsd_metric{from="a"}"#);
    assert_eq!(r[0]["metric"]["env"], "test");
    assert_eq!(r[0]["metric"]["sd_file"], "targets.json");
    // the file changes: b replaces a, and a's series go stale
    std::fs::write(&sd, format!(r#"[{{"targets":["{}"]}}]"#, b.addr)).unwrap();
    s.eventually(15, "target b scraped", || {
        s.value(r#"fsd_metric{from="b"}"#) == Some(2.0)
    });
    s.eventually(10, "target a stale", || {
        s.value(r#"fsd_metric{from="a"}"#).is_none()
    });
    // a broken file keeps the last good targets
    std::fs::write(&sd, "[{").unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(s.value(r#"up{job="fsd"}"#), Some(1.0));
    assert!(s.log_text().contains("msg=\"Error reading file\""));
}

#[test]
fn openmetrics_targets_and_metric_relabeling() {
    let t = MockTarget::start(
        "# TYPE req counter\n# HELP req Requests.\nreq_total{code=\"200\"} 5\nreq_created{code=\"200\"} 1.7e9\nreq_total{code=\"500\"} 1\nreq_created{code=\"500\"} 1.7e9\n# TYPE req_seconds gauge\n# UNIT req_seconds seconds\nreq_seconds 0.5\n# EOF\n",
    );
    *t.content_type.lock().unwrap() =
        "application/openmetrics-text; version=1.0.0; charset=utf-8".into();
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "scrape_configs:\n  - job_name: om\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{}']\n    metric_relabel_configs:\n      - source_labels: [code]\n        regex: '5..'\n        action: drop\n",
        t.addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(15, "OpenMetrics scraped", || {
        s.value(r#"req_total{code="200"}"#) == Some(5.0)
    });
    assert_eq!(
        s.value(r#"req_total{code="500"}"#),
        None,
        "dropped by metric_relabel_configs"
    );
    assert_eq!(s.value(r#"scrape_samples_scraped{job="om"}"#), Some(5.0));
    assert_eq!(
        s.value(r#"scrape_samples_post_metric_relabeling{job="om"}"#),
        Some(3.0)
    );
    assert_eq!(
        s.value(r#"req_created{code="200"}"#),
        Some(1.7e9),
        "_created kept as a series"
    );
    let (_, v) = s.api("/api/v1/metadata?metric=req_seconds");
    assert_eq!(v["data"]["req_seconds"][0]["unit"], "seconds", "{v}");
    // a body breaking the OpenMetrics rules fails the scrape and stores nothing new
    t.set("# TYPE x counter\nx_total -1\n# EOF\n");
    s.eventually(10, "invalid body: up == 0", || {
        s.value(r#"up{job="om"}"#) == Some(0.0)
    });
    let (_, targets) = s.api("/api/v1/targets");
    let err = targets["data"]["activeTargets"][0]["lastError"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!err.is_empty());
    assert_eq!(s.value("x_total"), None);
}

/// An HTTPS target with a certificate for `localhost` from a CA made here,
/// answering only requests with the right basic-auth credentials.
struct TlsTarget {
    addr: String,
    ca_pem: String,
}

fn start_tls_target(user: &str, pass: &str, body: &str) -> TlsTarget {
    use std::io::{Read, Write};
    use std::sync::Arc;
    let pki = TestPki::localhost();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![pki.cert_der.clone().into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(pki.key_der.clone().into()),
        )
        .unwrap();
    let cfg = Arc::new(cfg);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let want = format!(
        "authorization: basic {}",
        base64_encode(format!("{user}:{pass}").as_bytes())
    );
    let body = body.to_string();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(tcp) = conn else { continue };
            let cfg = Arc::clone(&cfg);
            let (want, body) = (want.clone(), body.clone());
            std::thread::spawn(move || {
                let Ok(c) = rustls::ServerConnection::new(cfg) else {
                    return;
                };
                let mut s = rustls::StreamOwned::new(c, tcp);
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&req).to_ascii_lowercase();
                let resp = if text.contains(&want.to_ascii_lowercase()) {
                    format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
                } else {
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string()
                };
                let _ = s.write_all(resp.as_bytes());
                let _ = s.flush();
                s.conn.send_close_notify();
                let _ = s.flush();
            });
        }
    });
    TlsTarget {
        addr,
        ca_pem: pki.ca_pem,
    }
}

#[test]
fn https_targets_with_own_ca_server_name_and_basic_auth() {
    let t = start_tls_target("scraper", "s3cret", "secure_metric 42\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &t.ca_pem).unwrap();
    std::fs::write(dir.path().join("pass.txt"), "s3cret\n").unwrap();
    let cfg = format!(
        "scrape_configs:
  - job_name: tls
    scrape_interval: 1s
    scheme: https
    tls_config:
      ca_file: ca.pem
      server_name: localhost
    basic_auth:
      username: scraper
      password_file: pass.txt
    static_configs:
      - targets: ['{a}']
  - job_name: wrong-password
    scrape_interval: 1s
    scheme: https
    tls_config: {{ca_file: ca.pem, server_name: localhost}}
    basic_auth: {{username: scraper, password: nope}}
    static_configs:
      - targets: ['{a}']
  - job_name: unknown-ca
    scrape_interval: 1s
    scheme: https
    basic_auth: {{username: scraper, password: s3cret}}
    static_configs:
      - targets: ['{a}']
  - job_name: insecure
    scrape_interval: 1s
    scheme: https
    tls_config: {{insecure_skip_verify: true}}
    basic_auth: {{username: scraper, password: s3cret}}
    static_configs:
      - targets: ['{a}']
",
        a = t.addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(15, "scraped over TLS with basic auth", || {
        s.value(r#"secure_metric{job="tls"}"#) == Some(42.0)
    });
    s.eventually(15, "insecure_skip_verify scrapes", || {
        s.value(r#"secure_metric{job="insecure"}"#) == Some(42.0)
    });
    s.eventually(10, "wrong password: up 0", || {
        s.value(r#"up{job="wrong-password"}"#) == Some(0.0)
    });
    s.eventually(10, "unknown CA: up 0", || {
        s.value(r#"up{job="unknown-ca"}"#) == Some(0.0)
    });
    let (_, v) = s.api("/api/v1/targets");
    let err = |pool: &str| {
        v["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["scrapePool"] == pool)
            .unwrap()["lastError"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        err("wrong-password").contains("401"),
        "{}",
        err("wrong-password")
    );
    assert!(!err("unknown-ca").is_empty());
    // the password is not shown in the configuration
    let (_, c) = s.api("/api/v1/status/config");
    assert!(!c["data"]["yaml"].as_str().unwrap().contains("nope"));
}

#[test]
fn limits_fail_the_whole_scrape() {
    let big = MockTarget::start(&format!("big_metric{{v=\"{}\"}} 1\n", "x".repeat(2000)));
    let many = MockTarget::start("m1 1\nm2 2\nm3 3\n");
    let dir = tempfile::tempdir().unwrap();
    let job = |name: &str, addr: &str, extra: &str| {
        format!("  - job_name: {name}\n    scrape_interval: 1s\n{extra}    static_configs:\n      - targets: ['{addr}']\n")
    };
    let cfg = format!(
        "scrape_configs:\n{}{}{}{}",
        job("body", &big.addr, "    body_size_limit: 1KB\n"),
        job("samples", &many.addr, "    sample_limit: 2\n"),
        job("value", &big.addr, "    label_value_length_limit: 100\n"),
        job(
            "fine",
            &many.addr,
            "    sample_limit: 3\n    label_limit: 3\n"
        ),
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(15, "the job within its limits is scraped", || {
        s.value(r#"m3{job="fine"}"#) == Some(3.0)
    });
    for job in ["body", "samples", "value"] {
        s.eventually(10, job, || {
            s.value(&format!("up{{job=\"{job}\"}}")) == Some(0.0)
        });
    }
    let (_, v) = s.api("/api/v1/targets");
    let errs: std::collections::HashMap<String, String> = v["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["scrapePool"].as_str().unwrap().to_string(),
                t["lastError"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(errs["body"], "body size limit exceeded");
    assert_eq!(errs["samples"], "sample limit exceeded");
    assert!(
        errs["value"]
            .starts_with("label_value_length_limit exceeded (metric: big_metric, label name: v"),
        "{}",
        errs["value"]
    );
    assert_eq!(errs["fine"], "");
    assert_eq!(
        s.value(r#"m1{job="samples"}"#),
        None,
        "nothing of a failed scrape is stored"
    );
    assert_eq!(s.value(r#"big_metric"#), None);
}

#[test]
fn content_type_fallback_and_explicit_timestamp_staleness() {
    let odd = MockTarget::start("odd_metric 1\n");
    *odd.content_type.lock().unwrap() = "application/octet-stream".into();
    let now_ms = crate::common::now_secs() * 1000;
    let stamped = MockTarget::start(&format!("stamped 5 {now_ms}\nplain 6\n"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "scrape_configs:
  - job_name: strict
    scrape_interval: 1s
    static_configs: [{{targets: ['{o}']}}]
  - job_name: lenient
    scrape_interval: 1s
    fallback_scrape_protocol: PrometheusText0.0.4
    static_configs: [{{targets: ['{o}']}}]
  - job_name: stamped
    scrape_interval: 1s
    static_configs: [{{targets: ['{st}']}}]
",
        o = odd.addr,
        st = stamped.addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(15, "fallback protocol scrapes", || {
        s.value(r#"odd_metric{job="lenient"}"#) == Some(1.0)
    });
    s.eventually(10, "no fallback: up 0", || {
        s.value(r#"up{job="strict"}"#) == Some(0.0)
    });
    let (_, v) = s.api("/api/v1/targets");
    let strict = v["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scrapePool"] == "strict")
        .cloned()
        .unwrap();
    assert!(
        strict["lastError"]
            .as_str()
            .unwrap()
            .contains("no fallback_scrape_protocol"),
        "{strict}"
    );

    s.eventually(10, "stamped scraped", || {
        s.value("stamped").is_some() && s.value("plain") == Some(6.0)
    });
    stamped.set("");
    s.eventually(10, "the plain series goes stale", || {
        s.value("plain").is_none()
    });
    // without track_timestamps_staleness, a series with its own timestamp
    // is not marked stale: it stays visible until the lookback runs out
    assert_eq!(s.value("stamped"), Some(5.0));
}

#[test]
fn http_and_dns_discovery() {
    let target = MockTarget::start("sd_metric 9\n");
    let port = target.addr.rsplit(':').next().unwrap().to_string();
    let sd = MockTarget::start(&format!(
        r#"[{{"targets":["{}"],"labels":{{"from":"http"}}}}]"#,
        target.addr
    ));
    *sd.content_type.lock().unwrap() = "application/json".into();
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "scrape_configs:
  - job_name: http-sd
    scrape_interval: 1s
    http_sd_configs:
      - url: http://{sd}/targets
        refresh_interval: 1s
  - job_name: dns-sd
    scrape_interval: 1s
    dns_sd_configs:
      - names: [localhost]
        type: A
        port: {port}
    relabel_configs:
      - source_labels: [__meta_dns_name]
        target_label: dns_name
",
        sd = sd.addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(15, "target from HTTP discovery", || {
        s.value(r#"sd_metric{job="http-sd",from="http"}"#) == Some(9.0)
    });
    s.eventually(15, "target from DNS discovery", || {
        s.value(&format!(
            r#"sd_metric{{job="dns-sd",dns_name="localhost",instance="127.0.0.1:{port}"}}"#
        )) == Some(9.0)
    });
    // the HTTP endpoint drops the target: it stops and goes stale
    sd.set("[]");
    s.eventually(15, "HTTP-discovered target removed", || {
        s.value(r#"sd_metric{job="http-sd"}"#).is_none()
    });
}

#[test]
fn http_headers_are_sent_and_secret_ones_hidden() {
    use crate::common::{Answer, MockReceiver};
    let target = MockReceiver::start(Answer {
        status: 200,
        headers: vec![("Content-Type".into(), "text/plain; version=0.0.4".into())],
        body: "with_headers 1\n".into(),
        delay: std::time::Duration::ZERO,
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tenant"), "from-file\n").unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: h\n    http_headers:\n      X-Tenant:\n        values: [plain]\n        secrets: [hidden-value]\n        files: [tenant]\n    static_configs:\n      - targets: ['{}']\n",
        target.addr
    );
    let s = Server::start(dir.path(), &cfg, &["--web.enable-lifecycle"]);
    s.eventually(10, "the scrape", || s.value("with_headers") == Some(1.0));
    let r = target.requests()[0].clone();
    let values: Vec<&str> = r
        .headers
        .iter()
        .filter(|(k, _)| k == "x-tenant")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(values, ["plain", "hidden-value", "from-file"]);
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(!yaml.contains("hidden-value"), "{yaml}");
    assert!(yaml.contains("<secret>"), "{yaml}");
    // a header the client sets itself may not be given
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "scrape_configs:\n  - job_name: h\n    http_headers:\n      user-agent: {values: [me]}\n",
    )
    .unwrap();
    let (code, body) = crate::common::http_request(&s.addr, "POST", "/-/reload", None).unwrap();
    assert_eq!(code, 500);
    assert!(
        body.contains("setting header \"User-Agent\" is not allowed"),
        "{body}"
    );
}
