//! `oauth2` in the HTTP clients: tokens from a token endpoint stand-in
//! (client credentials by basic auth, or in the form when basic auth is
//! refused; a JWT assertion, its signature checked with openssl), reused
//! until they are about to expire, fetched again when the secret file
//! changes; used to scrape, for HTTP discovery, to notify Alertmanagers and
//! to send by remote write.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{base64_encode, Answer, MockReceiver, Received, Server};

/// A firing alert found no Alertmanager until discovery found one: it
/// is sent again after this, not after the default minute.
const RESEND: &str = "--rules.alert.resend-delay=1s";

/// How the stand-in authenticates clients.
#[derive(Clone)]
enum Accepts {
    /// Basic auth `id:secret` only (a form with credentials gets 401).
    Basic(String, String),
    /// `client_id`/`client_secret` in the form only.
    Form(String, String),
    /// Any JWT assertion (checked by the test afterwards).
    Jwt,
}

/// A token endpoint that hands out `tok-1`, `tok-2`, … valid for
/// `lifetime` seconds, and the tokens it handed out.
struct TokenServer {
    rx: MockReceiver,
    issued: Arc<Mutex<Vec<String>>>,
    accepts: Arc<Mutex<Accepts>>,
}

fn form_of(r: &Received) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&r.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field(form: &[(String, String)], k: &str) -> Option<String> {
    form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

fn json_answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

impl TokenServer {
    fn start(accepts: Accepts, lifetime: u64) -> TokenServer {
        let issued = Arc::new(Mutex::new(Vec::new()));
        let accepts = Arc::new(Mutex::new(accepts));
        let (i, a) = (Arc::clone(&issued), Arc::clone(&accepts));
        let rx = MockReceiver::start_with(move |r| {
            let form = form_of(r);
            let ok = match &*a.lock().unwrap() {
                Accepts::Basic(id, secret) => {
                    r.header("authorization")
                        == Some(&format!(
                            "Basic {}",
                            base64_encode(format!("{id}:{secret}").as_bytes())
                        ))
                        && field(&form, "grant_type").as_deref() == Some("client_credentials")
                }
                Accepts::Form(id, secret) => {
                    r.header("authorization").is_none()
                        && field(&form, "client_id").as_ref() == Some(id)
                        && field(&form, "client_secret").as_ref() == Some(secret)
                }
                Accepts::Jwt => {
                    field(&form, "grant_type").as_deref()
                        == Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
                        && field(&form, "assertion").is_some()
                }
            };
            if !ok {
                return json_answer(
                    401,
                    json!({"error": "invalid_client", "error_description": "who are you"}),
                );
            }
            let mut issued = i.lock().unwrap();
            let token = format!("tok-{}", issued.len() + 1);
            issued.push(token.clone());
            json_answer(
                200,
                json!({"access_token": token, "token_type": "bearer", "expires_in": lifetime}),
            )
        });
        TokenServer {
            rx,
            issued,
            accepts,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/oauth2/token", self.rx.addr)
    }

    fn issued(&self) -> Vec<String> {
        self.issued.lock().unwrap().clone()
    }
}

/// A server that answers only requests with a token `tokens` handed out:
/// `/metrics` (a scrape), `/sd` (HTTP discovery of `/metrics` here),
/// anything else 200 (remote write, Alertmanager).
fn protected(tokens: Arc<Mutex<Vec<String>>>) -> MockReceiver {
    let me: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let rx_me = Arc::clone(&me);
    let rx = MockReceiver::start_with(move |r| {
        let ok = r
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .is_some_and(|t| tokens.lock().unwrap().iter().any(|x| x == t));
        if !ok {
            return Answer::status(401);
        }
        match r.path.as_str() {
            "/metrics" => Answer {
                status: 200,
                headers: vec![("Content-Type".into(), "text/plain; version=0.0.4".into())],
                body: "guarded_value 42\n".into(),
                delay: Duration::ZERO,
            },
            "/sd" => json_answer(
                200,
                json!([{"targets": [rx_me.lock().unwrap().clone()], "labels": {"found": "by-sd"}}]),
            ),
            _ => Answer::status(200),
        }
    });
    *me.lock().unwrap() = rx.addr.clone();
    rx
}

fn oauth2_block(indent: &str, token_url: &str, extra: &str) -> String {
    let mut s =
        format!("{indent}oauth2:\n{indent}  client_id: flint\n{indent}  token_url: {token_url}\n");
    for l in extra.lines() {
        s.push_str(&format!("{indent}  {l}\n"));
    }
    s
}

#[test]
fn client_credentials_are_reused_until_they_expire_and_follow_the_secret_file() {
    let ts = TokenServer::start(Accepts::Basic("flint".into(), "s1".into()), 15);
    let target = protected(Arc::clone(&ts.issued));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "s1\n").unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: guarded\n{}    static_configs:\n      - targets: ['{}']\n",
        oauth2_block(
            "    ",
            &ts.url(),
            "client_secret_file: secret\nscopes: [metrics, read]\nendpoint_params: {audience: flint-tests}"
        ),
        target.addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(10, "the guarded target scraped", || {
        s.value("guarded_value") == Some(42.0)
    });
    // one token serves the scrapes until it is within 10 s of its end
    // (it lives 15 s): over 8 s of scrapes, at most two tokens
    let start_tokens = ts.issued().len();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(8));
    let scrapes = target
        .requests()
        .iter()
        .filter(|r| r.path == "/metrics")
        .count();
    assert!(scrapes >= 7, "{scrapes} scrapes");
    let fetched = ts.issued().len() - start_tokens;
    assert!(
        fetched <= 2,
        "{fetched} tokens for {scrapes} scrapes in {:?}",
        start.elapsed()
    );
    assert!(
        ts.issued().len() >= 2,
        "the first token expired and was replaced"
    );
    // the token request: basic auth, the scopes and the endpoint's parameters
    let req = ts.rx.requests()[0].clone();
    let form = form_of(&req);
    assert_eq!(
        field(&form, "grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(field(&form, "scope").as_deref(), Some("metrics read"));
    assert_eq!(field(&form, "audience").as_deref(), Some("flint-tests"));
    // the secret changes: the next token is fetched with the new one
    *ts.accepts.lock().unwrap() = Accepts::Basic("flint".into(), "s2".into());
    std::fs::write(dir.path().join("secret"), "s2\n").unwrap();
    let before = ts.issued().len();
    s.eventually(10, "a token for the new secret", || {
        ts.issued().len() > before
    });
    let last = target.requests().last().unwrap().clone();
    assert!(last.header("authorization").is_some());
    s.eventually(10, "scrapes go on", || {
        s.query("up{job=\"guarded\"} == 1").len() == 1
    });
    // a token endpoint that refuses: the scrape fails with its words
    *ts.accepts.lock().unwrap() = Accepts::Basic("flint".into(), "other".into());
    std::fs::write(dir.path().join("secret"), "s3\n").unwrap();
    s.eventually(10, "the scrape error", || {
        let (_, v) = s.api("/api/v1/targets");
        v["data"]["activeTargets"][0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("invalid_client") && e.contains("who are you"))
    });
}

#[test]
fn a_server_that_refuses_basic_auth_gets_the_credentials_in_the_form() {
    let ts = TokenServer::start(Accepts::Form("flint".into(), "pw".into()), 11);
    let target = protected(Arc::clone(&ts.issued));
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: guarded\n{}    static_configs:\n      - targets: ['{}']\n",
        oauth2_block("    ", &ts.url(), "client_secret: pw"),
        target.addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(10, "the guarded target scraped", || {
        s.value("guarded_value") == Some(42.0)
    });
    // tokens live 11 s, one second past the margin: fetched again and again
    s.eventually(15, "three tokens", || ts.issued().len() >= 3);
    let reqs = ts.rx.requests();
    let basic = reqs
        .iter()
        .filter(|r| r.header("authorization").is_some())
        .count();
    assert_eq!(basic, 1, "basic auth is tried once, then the form is used");
    // the secret never shows in the configuration
    let (_, v) = s.api("/api/v1/status/config");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(yaml.contains("client_secret: <secret>"), "{yaml}");
    assert!(!yaml.contains("pw"), "{yaml}");
}

#[test]
fn discovery_alertmanagers_and_remote_write_use_their_tokens() {
    let ts = TokenServer::start(Accepts::Basic("flint".into(), "s".into()), 3600);
    let guarded = protected(Arc::clone(&ts.issued));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Always\n        expr: vector(1)\n",
    )
    .unwrap();
    let auth = |indent: &str| oauth2_block(indent, &ts.url(), "client_secret: s");
    let cfg = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{addr}']\n{am}\
         remote_write:\n  - url: http://{addr}/api/v1/write\n{rw}\
         scrape_configs:\n  - job_name: found\n{scrape}    http_sd_configs:\n      - url: http://{addr}/sd\n        refresh_interval: 1s\n{sd}",
        addr = guarded.addr,
        am = auth("      "),
        rw = auth("    "),
        scrape = auth("    "),
        sd = auth("        "),
    );
    let s = Server::start(dir.path(), &cfg, &[RESEND]);
    s.eventually(20, "the target found by HTTP discovery scraped", || {
        s.value("guarded_value{found=\"by-sd\"}") == Some(42.0)
    });
    s.eventually(20, "alerts and remote write arrive", || {
        let paths: Vec<String> = guarded.requests().iter().map(|r| r.path.clone()).collect();
        paths.iter().any(|p| p == "/api/v2/alerts") && paths.iter().any(|p| p == "/api/v1/write")
    });
    // every request carried a token the server handed out (none was refused)
    let issued = ts.issued();
    for r in guarded.requests() {
        let token = r
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_string();
        assert!(issued.contains(&token), "{} without a valid token", r.path);
    }
    // one token per client: discovery, scrape job, Alertmanager set, queue
    assert!(issued.len() <= 4, "{issued:?}");
}

#[test]
fn jwt_bearer_assertions_are_signed_with_the_key() {
    let have = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        if crate::common::must_run() {
            panic!("openssl is needed to make and check RSA keys");
        }
        println!("SKIP oauth2::jwt_bearer_assertions_are_signed_with_the_key: openssl not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let pubkey = dir.path().join("pub.pem");
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key.to_str().unwrap(),
    ]);
    run(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        pubkey.to_str().unwrap(),
    ]);
    let ts = TokenServer::start(Accepts::Jwt, 3600);
    let target = protected(Arc::clone(&ts.issued));
    let cfg = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: guarded\n{}    static_configs:\n      - targets: ['{}']\n",
        oauth2_block(
            "    ",
            &ts.url(),
            "grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer\nclient_certificate_key_file: key.pem\nclient_certificate_key_id: key-1\nsignature_algorithm: RS384\nscopes: [write]\nclaims: {tenant: blue}"
        ),
        target.addr
    );
    let s = Server::start(dir.path(), &cfg, &[]);
    s.eventually(10, "the guarded target scraped", || {
        s.value("guarded_value") == Some(42.0)
    });
    let form = form_of(&ts.rx.requests()[0]);
    assert_eq!(field(&form, "scope").as_deref(), Some("write"));
    let assertion = field(&form, "assertion").unwrap();
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |p: &str| -> Vec<u8> {
        let mut std = p.replace('-', "+").replace('_', "/");
        while !std.len().is_multiple_of(4) {
            std.push('=');
        }
        crate::common::base64_decode(&std)
    };
    let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
    assert_eq!(
        header,
        json!({"alg": "RS384", "typ": "JWT", "kid": "key-1"})
    );
    let claims: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
    assert_eq!(claims["iss"], "flint");
    assert_eq!(claims["sub"], "flint");
    assert_eq!(claims["aud"], ts.url());
    assert_eq!(claims["scope"], "write");
    assert_eq!(claims["tenant"], "blue");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        600
    );
    assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
    // the signature, checked by openssl with the public key
    std::fs::write(
        dir.path().join("signed"),
        format!("{}.{}", parts[0], parts[1]),
    )
    .unwrap();
    std::fs::write(dir.path().join("sig"), decode(parts[2])).unwrap();
    run(&[
        "dgst",
        "-sha384",
        "-verify",
        pubkey.to_str().unwrap(),
        "-signature",
        dir.path().join("sig").to_str().unwrap(),
        dir.path().join("signed").to_str().unwrap(),
    ]);
}
