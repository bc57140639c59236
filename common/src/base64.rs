//! Base64 (RFC 4648) in the forms the server meets: the standard alphabet
//! with padding (basic auth, certificates in kubeconfigs and `x5c`,
//! exemplar trace ids as OTLP/JSON gives them), and the URL alphabet
//! without padding (JWT segments).

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode_with(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = u32::from(c[0]) << 16
            | u32::from(c.get(1).copied().unwrap_or(0)) << 8
            | u32::from(c.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(alphabet[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding.
pub fn encode(data: &[u8]) -> String {
    encode_with(data, STD, true)
}

/// Base64url without padding.
pub fn encode_url(data: &[u8]) -> String {
    encode_with(data, URL, false)
}

fn decode_with(s: &str, url_too: bool) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'-' if url_too => 62,
            b'_' if url_too => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // a last group of one character holds no whole byte
    (s.len() % 4 != 1).then_some(out)
}

/// Standard base64, padded or not; `None` for any other character or a
/// length no encoding gives.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    decode_with(s, false)
}

/// Base64 in either alphabet, padded or not, as the protobuf JSON mapping
/// reads `bytes` fields.
pub fn decode_any(s: &str) -> Option<Vec<u8>> {
    decode_with(s, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for n in 0..40 {
            let d = &data[200 - n..200];
            let e = encode(d);
            assert_eq!(e.len() % 4, 0);
            assert_eq!(decode(&e).as_deref(), Some(d));
            assert_eq!(decode_any(&encode_url(d)).as_deref(), Some(d));
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(encode(b"alice:pw"), "YWxpY2U6cHc=");
        assert_eq!(encode(b"\xfb\xff"), "+/8=");
        assert_eq!(encode_url(b"\xfb\xff"), "-_8");
        assert_eq!(decode("YWxpY2U6cHc=").as_deref(), Some(&b"alice:pw"[..]));
        assert_eq!(decode("YWxpY2U6cHc").as_deref(), Some(&b"alice:pw"[..]));
        assert_eq!(decode("-_8"), None);
        assert_eq!(decode_any("-_8").as_deref(), Some(&b"\xfb\xff"[..]));
        assert_eq!(decode("YWx*"), None);
        assert_eq!(decode("YWxpY"), None);
    }
}
