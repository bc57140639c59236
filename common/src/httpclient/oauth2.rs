//! OAuth 2.0 tokens for the requests of an HTTP client (`oauth2`), fetched
//! as Prometheus's clients fetch them: the client credentials grant
//! (RFC 6749 §4.4; the client authenticates with basic auth, or in the form
//! when the server refuses that, and the way that worked is kept), or a JWT
//! assertion signed with an RSA key (RFC 7523). A token is reused until ten
//! seconds before it expires; a client secret (or key) file is read at each
//! request, and a changed one fetches a new token.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::OAuth2Error;
use crate::config::http::OAuth2Config;
use gotemplate::gofmt::query_escape;

use crate::base64::encode_url;

/// How long before its expiry a token is no longer used.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

/// How the client authenticates to the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthStyle {
    /// HTTP basic authentication.
    Header,
    /// `client_id` and `client_secret` in the form.
    Params,
}

struct Token {
    /// The `Authorization` header value.
    header: String,
    expires: Option<Instant>,
}

#[derive(Default)]
struct State {
    /// The secret or key the token was fetched with.
    secret: Option<String>,
    token: Option<Token>,
    style: Option<AuthStyle>,
}

/// The tokens of one `oauth2` block.
pub struct TokenSource {
    cfg: OAuth2Config,
    base_dir: PathBuf,
    client: reqwest::Client,
    state: tokio::sync::Mutex<State>,
}

/// The header word of a token type, as Go's oauth2 package writes it.
pub fn token_type(t: &str) -> String {
    match t.to_ascii_lowercase().as_str() {
        "" | "bearer" => "Bearer".into(),
        "mac" => "MAC".into(),
        "basic" => "Basic".into(),
        _ => t.to_string(),
    }
}

fn form(params: &[(String, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Adds `endpoint_params`: `grant_type` may be replaced, other parameters
/// already set may not.
fn add_endpoint_params(
    params: &mut Vec<(String, String)>,
    extra: &std::collections::BTreeMap<String, String>,
) -> Result<(), OAuth2Error> {
    for (k, v) in extra {
        match params.iter_mut().find(|(pk, _)| pk == k) {
            Some(p) if k == "grant_type" => p.1 = v.clone(),
            Some(_) => return Err(OAuth2Error::OverwriteParameter(k.clone())),
            None => params.push((k.clone(), v.clone())),
        }
    }
    Ok(())
}

/// Reads a token endpoint's answer.
fn parse_token(
    status: reqwest::StatusCode,
    content_type: &str,
    body: &[u8],
) -> Result<Token, OAuth2Error> {
    if !status.is_success() {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if let Some(code) = v["error"].as_str() {
            return Err(OAuth2Error::Refused {
                code: code.to_string(),
                description: v["error_description"].as_str().map(str::to_string),
            });
        }
        return Err(OAuth2Error::Status {
            status,
            body: String::from_utf8_lossy(body).into_owned(),
        });
    }
    let ct = content_type.split(';').next().unwrap_or("").trim();
    let (access, kind, expires_in) =
        if ct == "application/x-www-form-urlencoded" || ct == "text/plain" {
            let mut access = String::new();
            let mut kind = String::new();
            let mut expires = None;
            for (k, v) in url::form_urlencoded::parse(body) {
                match k.as_ref() {
                    "access_token" => access = v.into_owned(),
                    "token_type" => kind = v.into_owned(),
                    "expires_in" => expires = v.parse::<i64>().ok(),
                    _ => {}
                }
            }
            (access, kind, expires)
        } else {
            let v: Value = serde_json::from_slice(body).map_err(OAuth2Error::Json)?;
            let expires = match &v["expires_in"] {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            (
                v["access_token"].as_str().unwrap_or_default().to_string(),
                v["token_type"].as_str().unwrap_or_default().to_string(),
                expires,
            )
        };
    if access.is_empty() {
        return Err(OAuth2Error::MissingAccessToken);
    }
    Ok(Token {
        header: format!("{} {access}", token_type(&kind)),
        expires: expires_in
            .filter(|s| *s > 0)
            .map(|s| Instant::now() + Duration::from_secs(s as u64)),
    })
}

/// A random version 4 UUID (a JWT's `jti`).
pub fn uuid4() -> Result<String, OAuth2Error> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| OAuth2Error::NoRandom)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// The RSA key pair of a private key in PKCS #1 or #8; `None` for a key
/// of another form (SEC 1).
pub fn rsa_key_pair(
    key: &rustls_pki_types::PrivateKeyDer<'_>,
) -> Option<Result<ring::rsa::KeyPair, ring::error::KeyRejected>> {
    use rustls_pki_types::PrivateKeyDer;
    match key {
        PrivateKeyDer::Pkcs1(k) => Some(ring::rsa::KeyPair::from_der(k.secret_pkcs1_der())),
        PrivateKeyDer::Pkcs8(k) => Some(ring::rsa::KeyPair::from_pkcs8(k.secret_pkcs8_der())),
        _ => None,
    }
}

/// Signs `header.claims` with the RSA key in `pem` (PKCS #1 or #8).
fn sign_jwt(pem: &str, alg: &str, header: &Value, claims: &Value) -> Result<String, OAuth2Error> {
    use rustls_pki_types::pem::PemObject;
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(OAuth2Error::KeyRead)?;
    let pair = rsa_key_pair(&key)
        .ok_or(OAuth2Error::KeyNotRsa)?
        .map_err(OAuth2Error::KeyUnusable)?;
    sign_jwt_with(&pair, alg, header, claims)
}

/// Signs `header.claims` with an RSA key pair: a JWT signed `alg` (RS256,
/// RS384 or RS512).
pub fn sign_jwt_with(
    pair: &ring::rsa::KeyPair,
    alg: &str,
    header: &Value,
    claims: &Value,
) -> Result<String, OAuth2Error> {
    let padding: &'static dyn ring::signature::RsaEncoding = match alg {
        "RS384" => &ring::signature::RSA_PKCS1_SHA384,
        "RS512" => &ring::signature::RSA_PKCS1_SHA512,
        _ => &ring::signature::RSA_PKCS1_SHA256,
    };
    let input = format!(
        "{}.{}",
        encode_url(header.to_string().as_bytes()),
        encode_url(claims.to_string().as_bytes())
    );
    let mut sig = vec![0u8; pair.public().modulus_len()];
    pair.sign(
        padding,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| OAuth2Error::Signing)?;
    Ok(format!("{input}.{}", encode_url(&sig)))
}

impl TokenSource {
    /// A source for `cfg`; files are resolved against `base_dir`.
    pub fn new(cfg: &OAuth2Config, base_dir: &Path) -> Result<TokenSource, OAuth2Error> {
        let p = &cfg.proxy;
        let http = crate::config::http::HttpClientConfig {
            tls_config: cfg.tls_config.clone(),
            proxy_url: p.proxy_url.clone(),
            no_proxy: p.no_proxy.clone(),
            proxy_from_environment: p.proxy_from_environment,
            proxy_connect_header: p.proxy_connect_header.clone(),
            ..Default::default()
        };
        let client = super::HttpClient::new(&http, base_dir, false)
            .map_err(|e| OAuth2Error::Client(Box::new(e)))?
            .client()
            .clone();
        Ok(TokenSource {
            cfg: cfg.clone(),
            base_dir: base_dir.to_path_buf(),
            client,
            state: tokio::sync::Mutex::new(State::default()),
        })
    }

    /// The secret (client credentials) or key (JWT) as it is now.
    fn secret(&self) -> Result<String, OAuth2Error> {
        let (value, file) = if self.cfg.jwt() {
            (
                &self.cfg.client_certificate_key,
                &self.cfg.client_certificate_key_file,
            )
        } else {
            (&self.cfg.client_secret, &self.cfg.client_secret_file)
        };
        match (value, file) {
            (Some(v), _) => Ok(v.0.clone()),
            (None, Some(f)) => {
                let path = self.base_dir.join(f);
                std::fs::read_to_string(&path)
                    .map(|s| s.trim().to_string())
                    .map_err(|err| OAuth2Error::ReadSecret { path, err })
            }
            (None, None) => Ok(String::new()),
        }
    }

    /// The `Authorization` header value for a request: the current token,
    /// or a new one.
    pub async fn authorization(&self) -> Result<String, OAuth2Error> {
        let secret = self.secret()?;
        let mut st = self.state.lock().await;
        if st.secret.as_deref() != Some(secret.as_str()) {
            st.secret = Some(secret.clone());
            st.token = None;
        }
        if let Some(t) = &st.token {
            if t.expires.is_none_or(|e| Instant::now() + EXPIRY_MARGIN < e) {
                return Ok(t.header.clone());
            }
        }
        let token = if self.cfg.jwt() {
            self.fetch_jwt(&secret).await?
        } else {
            let (token, style) = self.fetch_client_credentials(&secret, st.style).await?;
            st.style = Some(style);
            token
        };
        let header = token.header.clone();
        st.token = Some(token);
        Ok(header)
    }

    async fn post(&self, body: String, basic: Option<(&str, &str)>) -> Result<Token, OAuth2Error> {
        let mut req = self
            .client
            .post(&self.cfg.token_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .timeout(Duration::from_secs(30))
            .body(body);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(query_escape(id), Some(query_escape(secret)));
        }
        let resp = req.send().await.map_err(OAuth2Error::Send)?;
        let status = resp.status();
        let ct = resp
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp.bytes().await.map_err(OAuth2Error::Body)?;
        parse_token(status, &ct, &body[..body.len().min(1 << 20)])
    }

    async fn fetch_client_credentials(
        &self,
        secret: &str,
        known: Option<AuthStyle>,
    ) -> Result<(Token, AuthStyle), OAuth2Error> {
        let mut params = vec![("grant_type".to_string(), "client_credentials".to_string())];
        if !self.cfg.scopes.is_empty() {
            params.push(("scope".into(), self.cfg.scopes.join(" ")));
        }
        add_endpoint_params(&mut params, &self.cfg.endpoint_params)?;
        let id = self.cfg.client_id.as_str();
        let in_params = || {
            let mut p = params.clone();
            p.push(("client_id".into(), id.to_string()));
            if !secret.is_empty() {
                p.push(("client_secret".into(), secret.to_string()));
            }
            form(&p)
        };
        match known {
            Some(AuthStyle::Header) => self
                .post(form(&params), Some((id, secret)))
                .await
                .map(|t| (t, AuthStyle::Header)),
            Some(AuthStyle::Params) => self
                .post(in_params(), None)
                .await
                .map(|t| (t, AuthStyle::Params)),
            // the first time, basic auth, then the form if that fails
            None => match self.post(form(&params), Some((id, secret))).await {
                Ok(t) => Ok((t, AuthStyle::Header)),
                Err(first) => match self.post(in_params(), None).await {
                    Ok(t) => Ok((t, AuthStyle::Params)),
                    Err(_) => Err(first),
                },
            },
        }
    }

    async fn fetch_jwt(&self, key: &str) -> Result<Token, OAuth2Error> {
        let alg = match self.cfg.signature_algorithm.as_deref() {
            Some("RS384") => "RS384",
            Some("RS512") => "RS512",
            _ => "RS256",
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut header = json!({"alg": alg, "typ": "JWT"});
        if let Some(kid) = self
            .cfg
            .client_certificate_key_id
            .as_deref()
            .filter(|k| !k.is_empty())
        {
            header["kid"] = json!(kid);
        }
        let iss = self
            .cfg
            .iss
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| self.cfg.client_id.clone());
        let aud = self
            .cfg
            .audience
            .clone()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| self.cfg.token_url.clone());
        let mut claims = json!({
            "iss": iss,
            "sub": self.cfg.client_id,
            "jti": uuid4()?,
            "aud": aud,
            "iat": now,
            "exp": now + 600,
        });
        let scope = self.cfg.scopes.join(" ");
        if !scope.is_empty() {
            claims["scope"] = json!(scope);
        }
        for (k, v) in &self.cfg.claims {
            claims[k] = serde_json::to_value(v).unwrap_or(Value::Null);
        }
        let assertion = sign_jwt(key, alg, &header, &claims)?;
        let mut params = vec![
            (
                "grant_type".to_string(),
                crate::config::http::GRANT_JWT_BEARER.to_string(),
            ),
            ("assertion".into(), assertion),
        ];
        if !scope.is_empty() {
            params.push(("scope".into(), scope));
        }
        add_endpoint_params(&mut params, &self.cfg.endpoint_params)?;
        self.post(form(&params), None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_encodings_as_go() {
        assert_eq!(query_escape("a b/c~d*"), "a+b%2Fc~d%2A");
        assert_eq!(encode_url(b""), "");
        assert_eq!(encode_url(b"f"), "Zg");
        assert_eq!(encode_url(b"fo"), "Zm8");
        assert_eq!(encode_url(b"foo"), "Zm9v");
        assert_eq!(encode_url(&[0xfb, 0xff]), "-_8");
        assert_eq!(token_type("bearer"), "Bearer");
        assert_eq!(token_type(""), "Bearer");
        assert_eq!(token_type("DPoP"), "DPoP");
        let u = uuid4().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }

    #[test]
    fn token_answers() {
        let ok = reqwest::StatusCode::OK;
        let t = parse_token(
            ok,
            "application/json",
            br#"{"access_token":"abc","token_type":"bearer","expires_in":3600}"#,
        )
        .unwrap();
        assert_eq!(t.header, "Bearer abc");
        assert!(t.expires.is_some());
        let t = parse_token(
            ok,
            "text/plain; charset=utf-8",
            b"access_token=x%20y&token_type=mac",
        )
        .unwrap();
        assert_eq!(t.header, "MAC x y");
        assert!(t.expires.is_none());
        let e = parse_token(ok, "application/json", br#"{"token_type":"bearer"}"#)
            .err()
            .unwrap();
        assert!(matches!(e, OAuth2Error::MissingAccessToken));
        assert_eq!(
            e.to_string(),
            "oauth2: server response missing access_token"
        );
        let e = parse_token(
            reqwest::StatusCode::UNAUTHORIZED,
            "application/json",
            br#"{"error":"invalid_client","error_description":"bad secret"}"#,
        )
        .err()
        .unwrap();
        assert!(matches!(&e, OAuth2Error::Refused { code, .. } if code == "invalid_client"));
        assert_eq!(e.to_string(), r#"oauth2: "invalid_client" "bad secret""#);
        let mut p = vec![("grant_type".to_string(), "client_credentials".to_string())];
        let extra = [("grant_type".to_string(), "password".to_string())]
            .into_iter()
            .collect();
        add_endpoint_params(&mut p, &extra).unwrap();
        assert_eq!(p[0].1, "password");
        p.push(("scope".into(), "a".into()));
        let extra = [("scope".to_string(), "b".to_string())]
            .into_iter()
            .collect();
        assert!(matches!(
            add_endpoint_params(&mut p, &extra),
            Err(OAuth2Error::OverwriteParameter(k)) if k == "scope"
        ));
    }
}
