//! A stand-in for the Google APIs `gce_sd_configs` asks, at their real
//! names behind a TLS-intercepting proxy ([`super::HttpServer::tls_proxy`],
//! given to flint as `HTTPS_PROXY` with the CA in `SSL_CERT_FILE`), and a
//! metadata server on a plain port of its own (for `GCE_METADATA_HOST`):
//!
//! - Google's token endpoint (`POST https://oauth2.googleapis.com/token`):
//!   a service account's JWT assertion (`grant_type`
//!   `urn:ietf:params:oauth:grant-type:jwt-bearer`), its RS256 signature
//!   checked with the public half of the key given at start, its issuer,
//!   key ID, audience, scope (the one given at start: Compute read-only
//!   for discovery, Cloud Monitoring write for remote write's
//!   `google_iam`) and lifetime checked; a user's refresh token
//!   ([`USER_CLIENT_ID`], [`USER_CLIENT_SECRET`], [`USER_REFRESH_TOKEN`]);
//!   errors as `{"error", "error_description"}`;
//! - the Compute API (`GET https://compute.googleapis.com/compute/v1/projects/<project>/zones/<zone>/instances`):
//!   the instances of [`PROJECT`]'s [`ZONE`] in pages of [`PAGE`] with
//!   `nextPageToken` and `pageToken`, narrowed by a `filter` of the form
//!   `<field> = <value>` or `!=` (`name`, `status`, `labels.<key>`), for
//!   bearer tokens it issued (errors as Google's
//!   `{"error": {"code", "message", "errors", "status"}}`);
//! - the metadata server's token of the default service account
//!   (`GET /computeMetadata/v1/instance/service-accounts/default/token`,
//!   only with `Metadata-Flavor: Google`).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::{pct_decode, HttpServer, Request, Requests, Response};

pub const PROJECT: &str = "flint-sd-test";
pub const ZONE: &str = "europe-west1-b";
/// The service account whose key signs assertions.
pub const SA_EMAIL: &str = "prometheus-sd@flint-sd-test.iam.gserviceaccount.com";
/// The ID of its key.
pub const KEY_ID: &str = "5d1e6c0f3b2a49a8b7c6d5e4f3a2b1c0d9e8f7a6";
/// The scope tokens must be for, unless the stand-in is started for
/// another ([`Gce::start_for`]).
pub const SCOPE: &str = "https://www.googleapis.com/auth/compute.readonly";
/// The token endpoint's address (the assertions' audience).
pub const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// A user's credentials (`authorized_user`).
pub const USER_CLIENT_ID: &str = "000000000000-standin.apps.googleusercontent.com";
pub const USER_CLIENT_SECRET: &str = "standin-client-secret";
pub const USER_REFRESH_TOKEN: &str = "1//0standin-refresh-token";
/// Instances per page of the list.
pub const PAGE: usize = 2;
/// The API's base address.
pub const API: &str = "https://www.googleapis.com/compute/v1";

/// An instance to list.
#[derive(Clone, Debug)]
pub struct Instance {
    pub name: String,
    pub id: u64,
    pub status: String,
    pub machine_type: String,
    /// The interfaces' names and private addresses, the primary first.
    pub nics: Vec<(String, String)>,
    /// The primary interface's one-to-one NAT address.
    pub nat_ip: Option<String>,
    pub tags: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// Metadata items; `None` for an item without a value.
    pub metadata: Vec<(String, Option<String>)>,
}

impl Instance {
    pub fn new(name: &str, id: u64, ip: &str) -> Instance {
        Instance {
            name: name.into(),
            id,
            status: "RUNNING".into(),
            machine_type: "e2-small".into(),
            nics: vec![("nic0".into(), ip.into())],
            nat_ip: None,
            tags: Vec::new(),
            labels: BTreeMap::new(),
            metadata: Vec::new(),
        }
    }

    /// The zone's URL, as the API gives it.
    pub fn zone_url() -> String {
        format!("{API}/projects/{PROJECT}/zones/{ZONE}")
    }

    /// The API's representation.
    pub fn json(&self) -> Value {
        let zone = Self::zone_url();
        let nics: Vec<Value> = self
            .nics
            .iter()
            .enumerate()
            .map(|(i, (name, ip))| {
                let mut n = json!({
                    "kind": "compute#networkInterface",
                    "name": name,
                    "network": format!("{API}/projects/{PROJECT}/global/networks/net{i}"),
                    "subnetwork": format!("{API}/projects/{PROJECT}/regions/europe-west1/subnetworks/subnet{i}"),
                    "networkIP": ip,
                    "fingerprint": "AbCdEf12345=",
                    "stackType": "IPV4_ONLY"
                });
                if i == 0 {
                    if let Some(nat) = &self.nat_ip {
                        n["accessConfigs"] = json!([{
                            "kind": "compute#accessConfig", "type": "ONE_TO_ONE_NAT",
                            "name": "External NAT", "natIP": nat, "networkTier": "PREMIUM"
                        }]);
                    }
                }
                n
            })
            .collect();
        let mut v = json!({
            "kind": "compute#instance",
            "id": self.id.to_string(),
            "creationTimestamp": "2026-01-05T08:30:00.000-08:00",
            "name": self.name,
            "machineType": format!("{zone}/machineTypes/{}", self.machine_type),
            "status": self.status,
            "zone": zone,
            "canIpForward": false,
            "networkInterfaces": nics,
            "selfLink": format!("{zone}/instances/{}", self.name),
            "labelFingerprint": "42WmSpB8rSM=",
            "fingerprint": "zzzz0000yyy=",
            "cpuPlatform": "Intel Broadwell",
        });
        let mut tags = json!({"fingerprint": "42WmSpB8rSM="});
        if !self.tags.is_empty() {
            tags["items"] = json!(self.tags);
        }
        v["tags"] = tags;
        if !self.labels.is_empty() {
            v["labels"] = json!(self.labels);
        }
        let items: Vec<Value> = self
            .metadata
            .iter()
            .map(|(k, val)| match val {
                Some(val) => json!({"key": k, "value": val}),
                None => json!({"key": k}),
            })
            .collect();
        v["metadata"] = json!({"kind": "compute#metadata", "fingerprint": "m0=", "items": items});
        v
    }
}

struct State {
    instances: Vec<Instance>,
    /// Tokens issued and still good.
    tokens: HashSet<String>,
    issued: u64,
    /// Assertions and refresh tokens refused (a disabled account).
    refuse_grants: bool,
    /// The public key (PKCS #1 DER) assertions are checked with.
    public_key: Vec<u8>,
    /// The scope tokens are asked for.
    scope: &'static str,
}

/// The stand-in.
pub struct Gce {
    /// `127.0.0.1:port` of the proxy (`HTTPS_PROXY`).
    pub proxy: String,
    /// The CA certificate (PEM) of the APIs' certificate (`SSL_CERT_FILE`).
    pub ca_pem: String,
    /// `127.0.0.1:port` of the metadata server (`GCE_METADATA_HOST`).
    pub metadata: String,
    state: Arc<Mutex<State>>,
    requests: Requests,
    connects: Arc<Mutex<Vec<String>>>,
    _proxy: HttpServer,
    _metadata: HttpServer,
}

fn oauth_error(code: &str, desc: &str) -> Response {
    Response::json(400, &json!({"error": code, "error_description": desc}))
}

/// Google's error answer.
fn api_error(code: u16, status: &str, reason: &str, msg: &str) -> Response {
    Response::json(
        code,
        &json!({"error": {"code": code, "message": msg,
            "errors": [{"message": msg, "domain": "global", "reason": reason}],
            "status": status}}),
    )
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (pct_decode(k), pct_decode(v)))
        .collect()
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Why an assertion is refused, as Google words it (none: accepted).
fn check_assertion(public_key: &[u8], jwt: &str, scope: &str) -> Option<&'static str> {
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Some(
            "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe",
        );
    }
    let (Some(h), Some(c), Some(sig)) = (
        b64url_decode(parts[0]),
        b64url_decode(parts[1]),
        b64url_decode(parts[2]),
    ) else {
        return Some("Invalid JWT Signature.");
    };
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        public_key,
    );
    let signed = format!("{}.{}", parts[0], parts[1]);
    if key.verify(signed.as_bytes(), &sig).is_err() {
        return Some("Invalid JWT Signature.");
    }
    let (Ok(h), Ok(c)) = (
        serde_json::from_slice::<Value>(&h),
        serde_json::from_slice::<Value>(&c),
    ) else {
        return Some("Invalid JWT Signature.");
    };
    if h["alg"] != "RS256" || h["typ"] != "JWT" || h["kid"] != KEY_ID {
        return Some("Invalid JWT Signature.");
    }
    if c["iss"] != SA_EMAIL {
        return Some("Invalid grant: account not found");
    }
    if c["aud"] != TOKEN_URI {
        return Some("Invalid JWT: Failed audience check.");
    }
    if c["scope"] != scope {
        return Some("Invalid OAuth scope or ID token audience provided.");
    }
    let (iat, exp) = (
        c["iat"].as_i64().unwrap_or(0),
        c["exp"].as_i64().unwrap_or(0),
    );
    if exp - iat > 3600 || (iat - now()).abs() > 300 {
        return Some("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
    }
    None
}

fn issue(st: &mut State) -> Response {
    st.issued += 1;
    let t = format!("ya29.standin-{}", st.issued);
    st.tokens.insert(t.clone());
    Response::json(
        200,
        &json!({"access_token": t, "expires_in": 3599, "token_type": "Bearer"}),
    )
}

/// The token endpoint.
fn token(st: &mut State, req: &Request) -> Response {
    if req.method != "POST" || req.path != "/token" {
        return Response::text(404, "Not Found");
    }
    let f = form(&req.body);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    match get("grant_type") {
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            if let Some(why) = check_assertion(&st.public_key, get("assertion"), st.scope) {
                return oauth_error("invalid_grant", why);
            }
        }
        "refresh_token" => {
            if get("client_id") != USER_CLIENT_ID || get("client_secret") != USER_CLIENT_SECRET {
                return Response::json(
                    401,
                    &json!({"error": "invalid_client", "error_description": "The OAuth client was not found."}),
                );
            }
            if get("refresh_token") != USER_REFRESH_TOKEN {
                return oauth_error("invalid_grant", "Bad Request");
            }
        }
        _ => return oauth_error("unsupported_grant_type", "Invalid grant_type: "),
    }
    if st.refuse_grants {
        return oauth_error("invalid_grant", "Invalid grant: account not found");
    }
    issue(st)
}

/// A filter's verdict on an instance (`Err`: a filter it cannot read).
fn matches(filter: &str, inst: &Instance) -> Result<bool, ()> {
    if filter.is_empty() {
        return Ok(true);
    }
    let (field, neg, value) = if let Some((f, v)) = filter.split_once("!=") {
        (f, true, v)
    } else if let Some((f, v)) = filter.split_once('=') {
        (f, false, v)
    } else {
        return Err(());
    };
    let value = value.trim().trim_matches('"');
    let have = match field.trim() {
        "name" => Some(inst.name.clone()),
        "status" => Some(inst.status.clone()),
        f => match f.strip_prefix("labels.") {
            Some(k) => inst.labels.get(k).cloned(),
            None => return Err(()),
        },
    };
    Ok((have.as_deref() == Some(value)) != neg)
}

/// The Compute API.
fn compute(st: &mut State, req: &Request) -> Response {
    let Some(rest) = req.path.strip_prefix("/compute/v1/projects/") else {
        return Response::text(404, "Not Found");
    };
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() != 4 || parts[1] != "zones" || parts[3] != "instances" || req.method != "GET" {
        return Response::text(404, "Not Found");
    }
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    if !st.tokens.contains(token) {
        return api_error(
            401,
            "UNAUTHENTICATED",
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        );
    }
    if parts[0] != PROJECT {
        return api_error(
            404,
            "NOT_FOUND",
            "notFound",
            &format!("The resource 'projects/{}' was not found", parts[0]),
        );
    }
    if parts[2] != ZONE {
        return api_error(
            400,
            "INVALID_ARGUMENT",
            "invalid",
            &format!(
                "Invalid value for field 'zone': '{}'. Unknown zone.",
                parts[2]
            ),
        );
    }
    let filter = req.param("filter").unwrap_or("");
    let mut found = Vec::new();
    for i in &st.instances {
        match matches(filter, i) {
            Ok(true) => found.push(i.json()),
            Ok(false) => {}
            Err(()) => {
                return api_error(
                    400,
                    "INVALID_ARGUMENT",
                    "invalid",
                    &format!(
                    "Invalid value for field 'filter': '{filter}'. Invalid list filter expression."
                ),
                )
            }
        }
    }
    let start: usize = match req.param("pageToken") {
        None | Some("") => 0,
        Some(t) => match t.strip_prefix("page-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                return api_error(
                    400,
                    "INVALID_ARGUMENT",
                    "invalid",
                    "Invalid value for field 'pageToken'",
                )
            }
        },
    };
    let page: Vec<Value> = found.iter().skip(start).take(PAGE).cloned().collect();
    let mut v = json!({
        "kind": "compute#instanceList",
        "id": format!("projects/{PROJECT}/zones/{ZONE}/instances"),
        "selfLink": format!("{}/instances", Instance::zone_url()),
    });
    if !page.is_empty() {
        v["items"] = json!(page);
    }
    if start + PAGE < found.len() {
        v["nextPageToken"] = json!(format!("page-{}", start + PAGE));
    }
    Response::json(200, &v)
}

fn handle(state: &Mutex<State>, req: &Request) -> Response {
    let mut st = state.lock().unwrap();
    if req.path.starts_with("/compute/") {
        compute(&mut st, req)
    } else {
        token(&mut st, req)
    }
}

/// The metadata server.
fn metadata(st: &mut State, req: &Request) -> Response {
    if req.header("metadata-flavor") != Some("Google") {
        return Response::text(403, "Missing required header: Metadata-Flavor");
    }
    let r = if req.path == "/computeMetadata/v1/instance/service-accounts/default/token" {
        let scopes = req.param("scopes").unwrap_or("");
        if !scopes.is_empty() && !scopes.split(',').any(|s| s == st.scope) {
            Response::text(403, "scope not granted")
        } else if st.refuse_grants {
            Response::text(500, "Internal error")
        } else {
            issue(st)
        }
    } else {
        Response::text(404, "Not Found")
    };
    r.with_header("Metadata-Flavor", "Google")
}

impl Gce {
    /// Starts the stand-in; assertions must be signed by the RSA key
    /// `key_pem` (PKCS #8 PEM; empty when only the metadata server or a
    /// user's credentials are used).
    pub fn start(key_pem: &str) -> Gce {
        Self::start_for(key_pem, SCOPE)
    }

    /// Starts the stand-in giving tokens for `scope` only.
    pub fn start_for(key_pem: &str, scope: &'static str) -> Gce {
        let public_key = if key_pem.is_empty() {
            Vec::new()
        } else {
            public_key_of(key_pem)
        };
        let state = Arc::new(Mutex::new(State {
            instances: Vec::new(),
            tokens: HashSet::new(),
            issued: 0,
            refuse_grants: false,
            public_key,
            scope,
        }));
        let requests = Requests::default();
        let (st, rq) = (Arc::clone(&state), requests.clone());
        let (proxy, ca_pem, connects) = HttpServer::tls_proxy(
            &["compute.googleapis.com", "oauth2.googleapis.com"],
            Arc::new(move |req: &Request| {
                rq.push(req);
                handle(&st, req)
            }),
        );
        let (st, rq) = (Arc::clone(&state), requests.clone());
        let md = HttpServer::tcp(Arc::new(move |req: &Request| {
            rq.push(req);
            metadata(&mut st.lock().unwrap(), req)
        }));
        Gce {
            proxy: proxy.addr.clone(),
            ca_pem,
            metadata: md.addr.clone(),
            state,
            requests,
            connects,
            _proxy: proxy,
            _metadata: md,
        }
    }

    pub fn add(&self, i: &Instance) {
        self.state.lock().unwrap().instances.push(i.clone());
    }

    pub fn remove(&self, name: &str) {
        self.state
            .lock()
            .unwrap()
            .instances
            .retain(|i| i.name != name);
    }

    /// Every token issued so far stops being accepted.
    pub fn revoke_tokens(&self) {
        self.state.lock().unwrap().tokens.clear();
    }

    /// Whether grants are refused (as for a disabled account).
    pub fn refuse_grants(&self, refuse: bool) {
        self.state.lock().unwrap().refuse_grants = refuse;
    }

    /// Whether `token` was issued and is still good.
    pub fn token_good(&self, token: &str) -> bool {
        self.state.lock().unwrap().tokens.contains(token)
    }

    /// [`Gce::token_good`] for another thread (a receiver's answer).
    pub fn token_checker(&self) -> impl Fn(&str) -> bool + Send + 'static {
        let state = Arc::clone(&self.state);
        move |t| state.lock().unwrap().tokens.contains(t)
    }

    pub fn tokens_issued(&self) -> u64 {
        self.state.lock().unwrap().issued
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.all()
    }

    /// The `CONNECT` targets the proxy was asked for.
    pub fn connects(&self) -> Vec<String> {
        self.connects.lock().unwrap().clone()
    }
}

/// The public half (PKCS #1 DER) of an RSA key in PKCS #8 PEM.
pub fn public_key_of(key_pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
        .expect("a PKCS #8 key");
    let pair = ring::rsa::KeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("an RSA key");
    use ring::signature::KeyPair;
    pair.public_key().as_ref().to_vec()
}

/// A service account's key file with `key_pem` (what the console's "Create
/// key" gives).
pub fn key_file(key_pem: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": KEY_ID,
        "private_key": key_pem,
        "client_email": SA_EMAIL,
        "client_id": "104512345678901234567",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": TOKEN_URI,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": format!("https://www.googleapis.com/robot/v1/metadata/x509/{}", SA_EMAIL.replace('@', "%40")),
        "universe_domain": "googleapis.com"
    })
    .to_string()
}

/// A user's credentials file, as `gcloud auth application-default login`
/// writes it.
pub fn user_file() -> String {
    json!({
        "client_id": USER_CLIENT_ID,
        "client_secret": USER_CLIENT_SECRET,
        "refresh_token": USER_REFRESH_TOKEN,
        "type": "authorized_user",
        "universe_domain": "googleapis.com"
    })
    .to_string()
}
