//! AWS Signature Version 4: the `Authorization` header (and `X-Amz-Date`,
//! `X-Amz-Security-Token`) of a request to an AWS API, as AWS documents
//! the signing process: a canonical request, the string to sign with the
//! credential scope, a key derived from the secret by date, region and
//! service, and an HMAC-SHA256 of the string with it.

use ring::{digest, hmac};

/// AWS credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Access key ID.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

/// What is signed of a request.
pub struct Request<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The URL's path (`/` for none), not yet encoded.
    pub path: &'a str,
    /// Query parameters (decoded).
    pub query: &'a [(String, String)],
    /// `host[:port]` as sent in `Host`.
    pub host: &'a str,
    /// Other headers to sign (name, value), `Content-Type` for one.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256_hex(b: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, b).as_ref())
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&k, data).as_ref().to_vec()
}

/// URI-encodes as SigV4 wants: unreserved characters kept, the rest
/// `%XX` upper-case; `/` kept when `path` is true.
pub fn uri_encode(s: &str, path: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (path && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The signing key of a day, region and service.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

/// The canonical request and its signed header names.
pub fn canonical_request(r: &Request, extra: &[(&str, &str)]) -> (String, String) {
    let mut q: Vec<(String, String)> = r
        .query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    q.sort();
    let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .chain(extra.iter())
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    headers.push(("host".into(), r.host.to_string()));
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let path = if r.path.is_empty() { "/" } else { r.path };
    let req = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed}\n{}",
        r.method,
        uri_encode(path, true),
        query.join("&"),
        sha256_hex(r.body)
    );
    (req, signed)
}

/// The headers to add to `r` to sign it for `service` in `region` at
/// `amz_date` (`20150830T123600Z`): `X-Amz-Date`, `X-Amz-Security-Token`
/// with temporary credentials, and `Authorization`.
pub fn sign(
    r: &Request,
    creds: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
) -> Vec<(&'static str, String)> {
    let date = &amz_date[..8];
    let mut extra: Vec<(&str, &str)> = vec![("x-amz-date", amz_date)];
    if let Some(t) = &creds.session_token {
        extra.push(("x-amz-security-token", t));
    }
    let (canonical, signed) = canonical_request(r, &extra);
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let key = signing_key(&creds.secret_key, date, region, service);
    let signature = hex(&hmac(&key, to_sign.as_bytes()));
    let mut out = vec![("X-Amz-Date", amz_date.to_string())];
    if let Some(t) = &creds.session_token {
        out.push(("X-Amz-Security-Token", t.clone()));
    }
    out.push((
        "Authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            creds.access_key
        ),
    ));
    out
}

/// `X-Amz-Date` of Unix milliseconds.
pub fn amz_date(ms: i64) -> String {
    let iso = crate::rfc3339::format_millis(ms);
    // 2015-08-30T12:36:00.000Z → 20150830T123600Z
    let digits: String = iso[..19]
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("{digits}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of AWS's documentation of the signing process: IAM's
    /// ListUsers with the example credentials on 2015-08-30.
    #[test]
    fn the_documented_example() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(&key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        let query = vec![
            ("Action".to_string(), "ListUsers".to_string()),
            ("Version".to_string(), "2010-05-08".to_string()),
        ];
        let r = Request {
            method: "GET",
            path: "/",
            query: &query,
            host: "iam.amazonaws.com",
            headers: &[(
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            body: b"",
        };
        let (canonical, signed) = canonical_request(&r, &[("x-amz-date", "20150830T123600Z")]);
        assert_eq!(signed, "content-type;host;x-amz-date");
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let creds = Credentials {
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let h = sign(&r, &creds, "us-east-1", "iam", "20150830T123600Z");
        assert_eq!(
            h.last().unwrap().1,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn dates_and_encoding() {
        assert_eq!(amz_date(1_440_938_160_000), "20150830T123600Z");
        assert_eq!(uri_encode("a b/c~", false), "a%20b%2Fc~");
        assert_eq!(uri_encode("/a b/", true), "/a%20b/");
    }
}
