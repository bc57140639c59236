//! The client certificate of remote write's `azuread` `certificate`
//! method: a certificate registered with the application and its RSA
//! private key, which signs a client assertion for each token request
//! (Microsoft Entra ID's certificate credential: a JWT signed RS256 whose
//! header names the certificate by its SHA-1 and SHA-256 thumbprints,
//! `x5t` and `x5t#S256`, and, with `send_certificate_chain`, carries the
//! certificates in `x5c`; issued by and about the client ID, for the
//! token endpoint, valid ten minutes).
//!
//! The certificates and the key are read from PEM (one file, or the key in
//! a file of its own). The key may stand beside several certificates: the
//! one whose public key is the key's is the client's, the others its
//! chain. PKCS #12 (PFX) files and encrypted keys are not read.

use std::time::{SystemTime, UNIX_EPOCH};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;

use super::AzureError;
use common::httpclient::oauth2::{rsa_key_pair, sign_jwt_with, uuid4};

/// How long an assertion is valid.
const LIFETIME_SECS: u64 = 600;

/// A client certificate and its key.
pub struct ClientCertificate {
    /// The certificate whose public key is the key's (DER).
    leaf: Vec<u8>,
    /// The other certificates of the file, in order (DER).
    chain: Vec<Vec<u8>>,
    key: ring::rsa::KeyPair,
    /// Whether assertions carry the certificates (`x5c`).
    send_chain: bool,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t", &self.thumbprint())
            .field("chain", &self.chain.len())
            .field("send_chain", &self.send_chain)
            .finish()
    }
}

impl PartialEq for ClientCertificate {
    fn eq(&self, o: &Self) -> bool {
        self.leaf == o.leaf && self.chain == o.chain && self.send_chain == o.send_chain
    }
}

impl Eq for ClientCertificate {}

fn bad(msg: impl Into<String>) -> AzureError {
    AzureError::Certificate(msg.into())
}

impl ClientCertificate {
    /// The certificates and key of PEM `data`.
    pub fn from_pem(data: &[u8], send_chain: bool) -> Result<ClientCertificate, AzureError> {
        if !data.windows(11).any(|w| w == b"-----BEGIN ") {
            return Err(bad(
                "no PEM data found; PKCS #12 (PFX) files are not read by flint: give the certificate and its key as PEM",
            ));
        }
        let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(data)
            .map(|c| c.map(|c| c.as_ref().to_vec()))
            .collect::<Result<_, _>>()
            .map_err(|e| bad(format!("reading the certificates: {e}")))?;
        if certs.is_empty() {
            return Err(bad("no certificate found"));
        }
        let key = PrivateKeyDer::from_pem_slice(data).map_err(|e| match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                bad("no private key found (an encrypted key is not read: give it unencrypted)")
            }
            e => bad(format!("reading the private key: {e}")),
        })?;
        let key = rsa_key_pair(&key)
            .ok_or_else(|| bad("the private key is not an RSA key"))?
            .map_err(|e| match e.to_string().as_str() {
                // a PKCS #8 key of another algorithm
                "WrongAlgorithm" => bad("the private key is not an RSA key"),
                _ => bad(format!("the private key is not a usable RSA key: {e}")),
            })?;
        // the certificate holding the key's public half (PKCS #1 DER, within
        // the certificate's subject public key info)
        let public = key.public().as_ref().to_vec();
        let holds = |c: &[u8]| c.windows(public.len()).any(|w| w == public.as_slice());
        let Some(i) = certs.iter().position(|c| holds(c)) else {
            return Err(bad("the private key does not match any certificate"));
        };
        let mut chain = certs;
        let leaf = chain.remove(i);
        Ok(ClientCertificate {
            leaf,
            chain,
            key,
            send_chain,
        })
    }

    /// The SHA-1 thumbprint of the client's certificate, base64url
    /// (`x5t`).
    pub fn thumbprint(&self) -> String {
        common::base64::encode_url(
            ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.leaf).as_ref(),
        )
    }

    /// A signed client assertion of `client_id` for the token endpoint
    /// `audience`.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<String, AzureError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut header = json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": self.thumbprint(),
            "x5t#S256": common::base64::encode_url(ring::digest::digest(&ring::digest::SHA256, &self.leaf).as_ref()),
        });
        if self.send_chain {
            let x5c: Vec<String> = std::iter::once(&self.leaf)
                .chain(&self.chain)
                .map(|c| common::base64::encode(c))
                .collect();
            header["x5c"] = json!(x5c);
        }
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid4().map_err(|e| bad(e.to_string()))?,
            "iat": now,
            "nbf": now,
            "exp": now + LIFETIME_SECS,
        });
        sign_jwt_with(&self.key, "RS256", &header, &claims)
            .map_err(|e| bad(format!("signing the client assertion: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_base64_for_x5c() {
        assert_eq!(common::base64::encode(b""), "");
        assert_eq!(common::base64::encode(b"f"), "Zg==");
        assert_eq!(common::base64::encode(b"fo"), "Zm8=");
        assert_eq!(common::base64::encode(b"foo"), "Zm9v");
        assert_eq!(common::base64::encode(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn files_that_are_not_a_pem_certificate_and_rsa_key() {
        let e = ClientCertificate::from_pem(&[0x30, 0x82, 0x0a, 0x01], false).unwrap_err();
        assert!(
            e.to_string().contains("PKCS #12 (PFX) files are not read"),
            "{e}"
        );
        // an ECDSA certificate and key
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let only_cert = cert.pem();
        let e = ClientCertificate::from_pem(only_cert.as_bytes(), false).unwrap_err();
        assert!(e.to_string().contains("no private key found"), "{e}");
        let both = format!("{}{}", cert.pem(), key.serialize_pem());
        let e = ClientCertificate::from_pem(both.as_bytes(), false).unwrap_err();
        assert!(e.to_string().contains("not an RSA key"), "{e}");
        let e = ClientCertificate::from_pem(key.serialize_pem().as_bytes(), false).unwrap_err();
        assert!(e.to_string().contains("no certificate found"), "{e}");
    }
}
