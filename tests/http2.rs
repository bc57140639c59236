//! HTTP/2 as Prometheus's Go clients speak it: offered by ALPN over TLS
//! when `enable_http2` allows it (by default for scrapes, not for remote
//! write, as in Prometheus 3), HTTP/1.1 otherwise and without TLS, against
//! servers that take either and note each request's version.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

use crate::common::Server;

/// Each request's path and HTTP version, as the server saw them.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A TLS server for `localhost` offering `h2` and `http/1.1`, and a plain
/// one taking HTTP/1.1 or HTTP/2 with prior knowledge: metrics on GET, 204
/// to a POST.
struct H2Server {
    addr: String,
    plain_addr: String,
    ca_pem: String,
    seen: Seen,
}

async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
    seen: Seen,
) -> Result<hyper::Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_string();
    seen.lock()
        .unwrap()
        .push((path, format!("{:?}", req.version())));
    let post = req.method() == hyper::Method::POST;
    let _ = req.into_body().collect().await?;
    let resp = if post {
        hyper::Response::builder()
            .status(204)
            .body(Full::new(Bytes::new()))
    } else {
        hyper::Response::builder()
            .header("Content-Type", "text/plain; version=0.0.4")
            .body(Full::new(Bytes::from_static(b"app_up 1\n")))
    };
    Ok(resp.unwrap())
}

/// Serves one connection in HTTP/2 or HTTP/1.1.
async fn serve<C>(c: C, h2: bool, seen: Seen)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let io = hyper_util::rt::TokioIo::new(c);
    let svc = hyper::service::service_fn(move |r| answer(r, Arc::clone(&seen)));
    if h2 {
        let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .serve_connection(io, svc)
            .await;
    } else {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, svc)
            .await;
    }
}

impl H2Server {
    fn start() -> H2Server {
        let (ca_pem, cert, key) = crate::standin::certificate_for(&["localhost"]);
        let mut tls = crate::standin::server_tls(cert, key);
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        plain.set_nonblocking(true).unwrap();
        let plain_addr = plain.local_addr().unwrap().to_string();
        let seen: Seen = Arc::default();
        let s = Arc::clone(&seen);
        let sp = Arc::clone(&seen);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.spawn(async move {
                let l = tokio::net::TcpListener::from_std(plain).unwrap();
                loop {
                    let Ok((c, _)) = l.accept().await else {
                        continue;
                    };
                    let s = Arc::clone(&sp);
                    tokio::spawn(async move {
                        // HTTP/2 with prior knowledge opens with its preface
                        let mut first = [0u8; 3];
                        let h2 = c.peek(&mut first).await.is_ok() && &first == b"PRI";
                        serve(c, h2, s).await;
                    });
                }
            });
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(l).unwrap();
                loop {
                    let Ok((c, _)) = l.accept().await else {
                        continue;
                    };
                    let (acceptor, s) = (acceptor.clone(), Arc::clone(&s));
                    tokio::spawn(async move {
                        let Ok(c) = acceptor.accept(c).await else {
                            return;
                        };
                        let h2 = c.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                        serve(c, h2, s).await;
                    });
                }
            });
        });
        H2Server {
            addr,
            plain_addr,
            ca_pem,
            seen,
        }
    }

    /// The versions requests to `path` came in.
    fn versions(&self, path: &str) -> BTreeSet<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[test]
fn http2_over_tls_where_enable_http2_allows_it() {
    let srv = H2Server::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &srv.ca_pem).unwrap();
    let tls = "tls_config: {ca_file: ca.pem, server_name: localhost}";
    let cfg = format!(
        "global:
  scrape_interval: 200ms
scrape_configs:
  - job_name: default
    scheme: https
    metrics_path: /scrape-default
    {tls}
    static_configs: [{{targets: ['{a}']}}]
  - job_name: http1
    scheme: https
    metrics_path: /scrape-http1
    enable_http2: false
    {tls}
    static_configs: [{{targets: ['{a}']}}]
remote_write:
  - url: https://{a}/write-default
    name: default
    queue_config: {{batch_send_deadline: 200ms}}
    {tls}
  - url: https://{a}/write-http2
    name: http2
    enable_http2: true
    queue_config: {{batch_send_deadline: 200ms}}
    {tls}
  - url: http://{p}/write-plain
    name: plain
    enable_http2: true
    queue_config: {{batch_send_deadline: 200ms}}
",
        a = srv.addr,
        p = srv.plain_addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    let paths = [
        "/scrape-default",
        "/scrape-http1",
        "/write-default",
        "/write-http2",
        "/write-plain",
    ];
    s.eventually(15, "every client's requests", || {
        paths.iter().all(|p| !srv.versions(p).is_empty())
    });
    let one = |v: &str| BTreeSet::from([v.to_string()]);
    // scrapes: HTTP/2 unless turned off; remote write: HTTP/1.1 unless
    // turned on
    assert_eq!(srv.versions("/scrape-default"), one("HTTP/2.0"));
    assert_eq!(srv.versions("/scrape-http1"), one("HTTP/1.1"));
    assert_eq!(srv.versions("/write-default"), one("HTTP/1.1"));
    assert_eq!(srv.versions("/write-http2"), one("HTTP/2.0"));
    // no HTTP/2 without TLS, as Go's transport
    assert_eq!(srv.versions("/write-plain"), one("HTTP/1.1"));
    // the status page says what each uses
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    let cfg: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    let http2 = |section: &str, i: usize| cfg[section][i]["enable_http2"].as_bool();
    assert_eq!(http2("scrape_configs", 0), Some(true), "{yaml}");
    assert_eq!(http2("scrape_configs", 1), Some(false), "{yaml}");
    assert_eq!(http2("remote_write", 0), Some(false), "{yaml}");
    assert_eq!(http2("remote_write", 1), Some(true), "{yaml}");
}
