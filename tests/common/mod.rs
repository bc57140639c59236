//! Shared helpers: start the real `flint` binary, a fake scrape target, and
//! talk to the HTTP API.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `flint` process, stopped on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub log: Arc<Mutex<Vec<String>>>,
    pub data: PathBuf,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_flint")
}

impl Server {
    /// Starts flint with `config` (YAML text) and data in `data`, plus extra flags.
    pub fn start(dir: &Path, config: &str, extra: &[&str]) -> Server {
        Self::start_mode(dir, config, extra, false, &[])
    }

    /// Like [`Server::start`], with these environment variables set.
    pub fn start_env(dir: &Path, config: &str, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_mode(dir, config, extra, false, env)
    }

    /// Starts flint in agent mode (`--agent`, data in `dir/data`).
    pub fn start_agent(dir: &Path, config: &str, extra: &[&str]) -> Server {
        Self::start_mode(dir, config, extra, true, &[])
    }

    fn start_mode(
        dir: &Path,
        config: &str,
        extra: &[&str],
        agent: bool,
        env: &[(&str, &str)],
    ) -> Server {
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config).unwrap();
        let data = dir.join("data");
        let storage = if agent {
            format!("--storage.agent.path={}", data.display())
        } else {
            format!("--storage.tsdb.path={}", data.display())
        };
        let mut child = Command::new(bin())
            .arg(format!("--config.file={}", cfg.display()))
            .args(agent.then_some("--agent"))
            .arg(storage)
            .arg("--web.listen-address=127.0.0.1:0")
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start flint");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let log2 = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let listening = line.contains("msg=\"Start listening for connections\"");
                let addr = line
                    .split("address=")
                    .nth(1)
                    .and_then(|a| a.split_whitespace().next())
                    .map(str::to_string);
                // keep the line before announcing it, so the log has it
                log2.lock().unwrap().push(line);
                if listening {
                    if let Some(a) = addr {
                        let _ = tx.send(a);
                    }
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "flint did not start listening; log:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        let s = Server {
            child,
            addr,
            log,
            data,
        };
        // with TLS, authentication or a route prefix the plain readiness
        // probe cannot pass
        if !extra
            .iter()
            .any(|f| f.starts_with("--web.config.file") || f.starts_with("--web.external-url"))
        {
            s.wait_ready();
        }
        s
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            // ready, and the start-up lines read from its stderr (the
            // server logs its last one just after it starts answering)
            if let Ok((200, _)) = http_get(&self.addr, "/-/ready") {
                if self
                    .log_text()
                    .contains("Server is ready to receive web requests.")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("flint not ready; log:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// GET an API path; returns status and parsed JSON.
    pub fn api(&self, path_and_query: &str) -> (u16, serde_json::Value) {
        let (code, body) = http_get(&self.addr, path_and_query).expect("http get");
        let v =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("non-JSON body ({e}): {body}"));
        (code, v)
    }

    /// Instant query; returns the `data.result` array (vector results).
    pub fn query(&self, q: &str) -> Vec<serde_json::Value> {
        let (code, v) = self.api(&format!("/api/v1/query?query={}", enc(q)));
        assert_eq!(code, 200, "{q}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The single value of an instant query, None when empty.
    pub fn value(&self, q: &str) -> Option<f64> {
        let r = self.query(q);
        assert!(r.len() <= 1, "{q}: expected at most one series, got {r:?}");
        r.first().map(|s| parse_value(&s["value"][1]))
    }

    /// Polls `f` until it returns true or `secs` pass.
    pub fn eventually(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("timed out waiting for: {what}\nlog:\n{}", self.log_text());
    }

    /// Sends SIGTERM and waits for exit; returns the exit code.
    pub fn stop(mut self) -> Option<i32> {
        let pid = self.child.id() as i32;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn parse_value(v: &serde_json::Value) -> f64 {
    match v.as_str().unwrap() {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap(),
    }
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A minimal HTTP/1.1 GET; returns status and body.
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    http_request(addr, "GET", path, None)
}

/// A minimal HTTP/1.1 request with an optional form body.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    form: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = form.unwrap_or("");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if form.is_some() {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    Ok(parse_response(&resp))
}

/// Status and body of a whole HTTP/1.1 response.
fn parse_response(resp: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(resp).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (code, body)
}

/// A CA made for a test and a server certificate for `localhost` it signed.
pub struct TestPki {
    /// The CA certificate (PEM).
    pub ca_pem: String,
    /// The server certificate (PEM and DER).
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    /// The server's private key (PKCS#8, PEM and DER).
    pub key_pem: String,
    pub key_der: Vec<u8>,
}

impl TestPki {
    pub fn localhost() -> TestPki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "flint test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        TestPki {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        }
    }
}

/// Standard base64 with padding (for `Authorization: Basic`).
pub fn base64_encode(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A GET over TLS to `addr`, checking the certificate for `localhost`
/// against `ca_pem`, with optional basic-auth credentials.
pub fn https_get(
    addr: &str,
    path: &str,
    ca_pem: &str,
    basic: Option<(&str, &str)>,
) -> std::io::Result<(u16, String)> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = rustls::ClientConnection::new(Arc::new(cfg), "localhost".try_into().unwrap())
        .map_err(std::io::Error::other)?;
    let tcp = std::net::TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some((u, p)) = basic {
        req.push_str(&format!(
            "Authorization: Basic {}\r\n",
            base64_encode(format!("{u}:{p}").as_bytes())
        ));
    }
    req.push_str("\r\n");
    tls.write_all(req.as_bytes())?;
    let mut resp = Vec::new();
    // a peer closing without close_notify still delivered its response
    if let Err(e) = tls.read_to_end(&mut resp) {
        if resp.is_empty() {
            return Err(e);
        }
    }
    Ok(parse_response(&resp))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A port that nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fake scrape target serving a body that the test can change.
pub struct MockTarget {
    pub addr: String,
    pub body: Arc<Mutex<String>>,
    pub hits: Arc<Mutex<u64>>,
    pub content_type: Arc<Mutex<String>>,
}

impl MockTarget {
    pub fn start(body: &str) -> MockTarget {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let body = Arc::new(Mutex::new(body.to_string()));
        let hits = Arc::new(Mutex::new(0));
        let content_type = Arc::new(Mutex::new("text/plain; version=0.0.4".to_string()));
        let (b, h, ct) = (
            Arc::clone(&body),
            Arc::clone(&hits),
            Arc::clone(&content_type),
        );
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut c) = conn else { continue };
                let mut buf = [0u8; 4096];
                let mut req = Vec::new();
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                *h.lock().unwrap() += 1;
                let text = b.lock().unwrap().clone();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                    ct.lock().unwrap(),
                    text.len(),
                    text
                );
                let _ = c.write_all(resp.as_bytes());
            }
        });
        MockTarget {
            addr,
            body,
            hits,
            content_type,
        }
    }

    pub fn set(&self, body: &str) {
        *self.body.lock().unwrap() = body.to_string();
    }
}

/// Whether the test must not skip (CI installs every peer).
pub fn must_run() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Unix seconds, now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A POST with a raw body and extra headers; returns status and body.
pub fn post_bytes(addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    c.write_all(req.as_bytes()).unwrap();
    c.write_all(body).unwrap();
    let mut r = String::new();
    c.read_to_string(&mut r).unwrap();
    let code = r.split_whitespace().nth(1).unwrap().parse().unwrap();
    (
        code,
        r.split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default(),
    )
}

/// Like [`post_bytes`], with the answer's body as bytes.
pub fn post_raw(addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    let (code, _, body) = post_full(addr, path, headers, body);
    (code, body)
}

/// A chunked body's data; `None` when it does not end with the last
/// chunk (an answer cut short).
pub fn dechunk_bytes(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

/// [`post_raw`] with the answer's head (status line and headers); a
/// chunked body is returned de-chunked.
pub fn post_full(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    c.write_all(req.as_bytes()).unwrap();
    c.write_all(body).unwrap();
    let mut r = Vec::new();
    c.read_to_end(&mut r).unwrap();
    let end = r.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&r[..end]).to_string();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let chunked = head
        .to_ascii_lowercase()
        .contains("\r\ntransfer-encoding: chunked");
    let body = if chunked {
        dechunk_bytes(&r[end + 4..]).expect("a complete chunked body")
    } else {
        r[end + 4..].to_vec()
    };
    (code, head, body)
}

/// Runs the binary on a config and data folder until it exits (for
/// start-up failures); listens on a free port if it does start.
pub fn run_to_exit(config: &Path, data: &Path) -> std::process::Output {
    Command::new(bin())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--web.listen-address=127.0.0.1:0")
        .output()
        .expect("run flint")
}

/// Starts flint on configuration `yaml` (written to `bad.yml` in `dir`)
/// and waits for it to exit: its exit status and standard error.
pub fn refused(dir: &Path, yaml: &str) -> (std::process::ExitStatus, String) {
    let cfg = dir.join("bad.yml");
    std::fs::write(&cfg, yaml).unwrap();
    let out = run_to_exit(&cfg, &dir.join("data"));
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One request a [`MockReceiver`] got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a [`MockReceiver`] answers: status, extra headers, body, and a
/// delay before answering.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }
}

/// How a [`MockReceiver`] answers a request.
pub type Responder = Box<dyn Fn(&Received) -> Answer + Send>;

/// An HTTP server that records every request and answers as told.
pub struct MockReceiver {
    pub addr: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub answer: Arc<Mutex<Responder>>,
}

impl MockReceiver {
    pub fn start(answer: Answer) -> MockReceiver {
        Self::start_with(move |_| answer.clone())
    }

    /// A receiver whose answer depends on the request.
    pub fn start_with(f: impl Fn(&Received) -> Answer + Send + 'static) -> MockReceiver {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let got = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Mutex<Responder>> = Arc::new(Mutex::new(Box::new(f)));
        let (g, a) = (Arc::clone(&got), Arc::clone(&answer));
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(c) = conn else { continue };
                let (g, a) = (Arc::clone(&g), Arc::clone(&a));
                std::thread::spawn(move || serve_mock(c, g, a));
            }
        });
        MockReceiver { addr, got, answer }
    }

    pub fn set(&self, a: Answer) {
        *self.answer.lock().unwrap() = Box::new(move |_| a.clone());
    }

    pub fn requests(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

fn serve_mock(
    mut c: std::net::TcpStream,
    got: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<Responder>>,
) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    loop {
        // one request: headers, then Content-Length bytes
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            match c.read(&mut tmp) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.lines();
        let path = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("")
            .to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + 4 + len {
            match c.read(&mut tmp) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        let body = buf[head_end + 4..head_end + 4 + len].to_vec();
        buf.drain(..head_end + 4 + len);
        let r = Received {
            path,
            headers,
            body,
        };
        let a = (answer.lock().unwrap())(&r);
        std::thread::sleep(a.delay);
        got.lock().unwrap().push(r);
        let mut resp = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            a.status,
            a.body.len()
        );
        for (k, v) in &a.headers {
            resp.push_str(&format!("{k}: {v}\r\n"));
        }
        resp.push_str("\r\n");
        resp.push_str(&a.body);
        if c.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// Runs a tool and panics unless it exits 0; returns its stdout.
pub fn run_tool_ok(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().expect("run tool");
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Decodes standard base64 (padding required); panics on other input.
pub fn base64_decode(s: &str) -> Vec<u8> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let val = |c: u8| T.iter().position(|&x| x == c).unwrap() as u32;
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let pad = chunk.iter().filter(|&&c| c == b'=').count();
        let mut n = 0u32;
        for &c in chunk {
            n = (n << 6) | if c == b'=' { 0 } else { val(c) };
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    out
}

/// The server's active targets of `job` by discovered `__address__`.
pub fn discovered_targets(
    s: &Server,
    job: &str,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let (code, v) = s.api("/api/v1/targets?state=active");
    assert_eq!(code, 200);
    v["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["scrapePool"] == job)
        .map(|t| {
            (
                t["discoveredLabels"]["__address__"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                t.clone(),
            )
        })
        .collect()
}

/// Polls `f` every 20 ms until it holds (returning how long that took)
/// or `secs` pass (a panic naming `what`).
pub fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if f() {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out after {secs} s waiting for {what}");
}
