//! Stand-ins of the APIs flint's service discoveries ask (Consul, the
//! Docker Engine, …), each on a small HTTP/1.1 server of its own: plain
//! threads, one per connection, keep-alive, on 127.0.0.1 with a port the
//! system picks (or on a unix socket).

#![allow(dead_code)]

pub mod azure;
pub mod consul;
pub mod docker;
pub mod ec2;
pub mod eureka;
pub mod gce;
pub mod hetzner;
pub mod openstack;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One request as the server read it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded.
    pub path: String,
    /// The query string as sent.
    pub raw_query: String,
    /// The query's parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a query parameter.
    pub fn params(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether the parameter is present (with or without a value).
    pub fn has_param(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Sent with `Transfer-Encoding: chunked` (in pieces) instead of a
    /// `Content-Length`.
    pub chunked: bool,
}

impl Response {
    pub fn json(status: u16, v: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(v).unwrap(),
            chunked: false,
        }
    }

    pub fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
            chunked: false,
        }
    }

    pub fn with_header(mut self, k: &str, v: &str) -> Response {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

pub fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Serves requests on one connection until it closes.
fn serve<S: Read + Write>(stream: S, handler: Handler, stop: Arc<AtomicBool>) {
    let mut r = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 || stop.load(Ordering::Relaxed) {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let (path, raw_query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.clone(), String::new()),
        };
        let query = raw_query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (pct_decode(k), pct_decode(v)),
                None => (pct_decode(kv), String::new()),
            })
            .collect();
        let req = Request {
            method,
            path: pct_decode(&path),
            raw_query,
            query,
            headers,
            body,
        };
        let close = req
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let resp = handler(&req);
        let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
        for (k, v) in &resp.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if resp.chunked {
            head.push_str("Transfer-Encoding: chunked\r\n");
        } else {
            head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
        }
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let w = r.get_mut();
        let mut ok = w.write_all(head.as_bytes()).is_ok();
        if resp.chunked {
            // pieces of at most 100 bytes, so that a reader meets several
            for piece in resp.body.chunks(100) {
                ok = ok
                    && write!(w, "{:x}\r\n", piece.len()).is_ok()
                    && w.write_all(piece).is_ok()
                    && w.write_all(b"\r\n").is_ok();
            }
            ok = ok && w.write_all(b"0\r\n\r\n").is_ok();
        } else {
            ok = ok && w.write_all(&resp.body).is_ok();
        }
        if !ok || w.flush().is_err() || close {
            return;
        }
    }
}

/// A server answering with a handler, stopped when dropped.
pub struct HttpServer {
    /// `127.0.0.1:port`, or the socket's path.
    pub addr: String,
    stop: Arc<AtomicBool>,
    unix: bool,
}

impl HttpServer {
    /// Serves on 127.0.0.1 with a port the system picks.
    pub fn tcp(handler: Handler) -> HttpServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let sp = Arc::clone(&stop);
        std::thread::spawn(move || {
            for conn in l.incoming() {
                if sp.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(c) = conn else { continue };
                let (h, sp) = (Arc::clone(&handler), Arc::clone(&sp));
                std::thread::spawn(move || serve(c, h, sp));
            }
        });
        HttpServer {
            addr,
            stop,
            unix: false,
        }
    }

    /// Serves on a unix socket at `path`.
    pub fn unix(path: &std::path::Path, handler: Handler) -> HttpServer {
        let l = std::os::unix::net::UnixListener::bind(path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let sp = Arc::clone(&stop);
        std::thread::spawn(move || {
            for conn in l.incoming() {
                if sp.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(c) = conn else { continue };
                let (h, sp) = (Arc::clone(&handler), Arc::clone(&sp));
                std::thread::spawn(move || serve(c, h, sp));
            }
        });
        HttpServer {
            addr: path.display().to_string(),
            stop,
            unix: true,
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.unix {
            let _ = std::os::unix::net::UnixStream::connect(&self.addr);
        } else {
            let _ = TcpStream::connect(&self.addr);
        }
    }
}

/// A log of the requests a stand-in received.
#[derive(Clone, Default)]
pub struct Requests(pub Arc<Mutex<Vec<Request>>>);

impl Requests {
    pub fn push(&self, r: &Request) {
        self.0.lock().unwrap().push(r.clone());
    }

    pub fn all(&self) -> Vec<Request> {
        self.0.lock().unwrap().clone()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// A TLS server configuration serving certificate `cert` (DER) with its
/// PKCS #8 key `key`.
pub fn server_tls(cert: Vec<u8>, key: Vec<u8>) -> rustls::ServerConfig {
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(cert)],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
        )
        .unwrap()
}

/// A CA and a certificate it signed for `hosts`: (CA PEM, certificate
/// DER, key DER).
pub fn certificate_for(hosts: &[&str]) -> (String, Vec<u8>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "flint stand-in CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert =
        rcgen::CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
    (ca_cert.pem(), cert.der().to_vec(), key.serialize_der())
}

/// Proxied TLS: answers `CONNECT host:443`, then speaks TLS with a
/// certificate for `hosts` and serves HTTP on the tunnel.
fn serve_connect(
    c: TcpStream,
    tls: Arc<rustls::ServerConfig>,
    handler: Handler,
    stop: Arc<AtomicBool>,
    connects: Arc<Mutex<Vec<String>>>,
) {
    let mut r = BufReader::new(c);
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        if h.trim_end().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut c = r.into_inner();
    if method != "CONNECT" {
        let _ = c.write_all(
            b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    connects.lock().unwrap().push(target.to_string());
    if c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    let Ok(conn) = rustls::ServerConnection::new(tls) else {
        return;
    };
    serve(rustls::StreamOwned::new(conn, c), handler, stop);
}

impl HttpServer {
    /// An HTTP proxy on 127.0.0.1 that tunnels `CONNECT` requests to the
    /// handler itself over TLS, with a certificate for `hosts` signed by
    /// the CA returned (PEM): a stand-in for HTTPS APIs at fixed public
    /// names, reached through `proxy_url` and trusted through `ca_file`.
    /// The `CONNECT` targets are recorded in the list returned.
    pub fn tls_proxy(
        hosts: &[&str],
        handler: Handler,
    ) -> (HttpServer, String, Arc<Mutex<Vec<String>>>) {
        let (ca_pem, cert, key) = certificate_for(hosts);
        let tls = Arc::new(server_tls(cert, key));
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let connects = Arc::new(Mutex::new(Vec::new()));
        let (sp, cn) = (Arc::clone(&stop), Arc::clone(&connects));
        std::thread::spawn(move || {
            for conn in l.incoming() {
                if sp.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(c) = conn else { continue };
                let (h, sp, tls, cn) = (
                    Arc::clone(&handler),
                    Arc::clone(&sp),
                    Arc::clone(&tls),
                    Arc::clone(&cn),
                );
                std::thread::spawn(move || serve_connect(c, tls, h, sp, cn));
            }
        });
        (
            HttpServer {
                addr,
                stop,
                unix: false,
            },
            ca_pem,
            connects,
        )
    }
}
