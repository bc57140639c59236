//! `--web.config.file`: basic authentication and TLS on every endpoint.

use std::io::{Read, Write};

use crate::common::{http_get, https_get, Server};

fn raw_get(addr: &str, path: &str, auth: Option<&str>) -> (u16, String) {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    let a = auth
        .map(|a| format!("Authorization: Basic {a}\r\n"))
        .unwrap_or_default();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{a}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = String::new();
    c.read_to_string(&mut r).unwrap();
    let code = r.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, r)
}

#[test]
fn basic_auth_users_guard_every_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(
        dir.path().join("web.yml"),
        format!("basic_auth_users:\n  alice: '{hash}'\n"),
    )
    .unwrap();
    let flag = format!("--web.config.file={}", dir.path().join("web.yml").display());
    let s = Server::start(dir.path(), "", &[&flag]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (code, resp) = raw_get(&s.addr, "/api/v1/query?query=1", None);
    assert_eq!(code, 401, "{resp}");
    assert!(resp
        .to_ascii_lowercase()
        .contains("www-authenticate: basic"));
    assert_eq!(
        raw_get(&s.addr, "/metrics", Some("YWxpY2U6d3Jvbmc=")).0,
        401
    ); // alice:wrong
    assert_eq!(
        raw_get(&s.addr, "/api/v1/query?query=1", Some("YWxpY2U6czNjcmV0")).0,
        200
    ); // alice:s3cret
    assert_eq!(http_get(&s.addr, "/-/ready").unwrap().0, 401);
}

#[test]
fn tls_server_config_serves_https() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.path().join("srv.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("srv.key"), key.serialize_pem()).unwrap();
    std::fs::write(
        dir.path().join("web.yml"),
        "tls_server_config:\n  cert_file: srv.crt\n  key_file: srv.key\n",
    )
    .unwrap();
    let flag = format!("--web.config.file={}", dir.path().join("web.yml").display());
    let s = Server::start(dir.path(), "", &[&flag]);
    assert!(s.log_text().contains("tls=true"), "{}", s.log_text());

    // the self-signed certificate is its own CA
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (code, body) = loop {
        match https_get(&s.addr, "/-/ready", &cert.pem(), None) {
            Ok((200, body)) => break (200, body),
            other if std::time::Instant::now() > deadline => panic!("{other:?}"),
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    };
    assert_eq!(code, 200);
    assert_eq!(body, "Prometheus Server is Ready.\n");
    // plain HTTP on the TLS port gets nowhere
    assert!(!matches!(http_get(&s.addr, "/-/ready"), Ok((200, _))));
}
