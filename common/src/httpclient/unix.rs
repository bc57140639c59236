//! A small HTTP/1.1 client over a unix socket, for the daemons that listen
//! on one (the Docker Engine's `unix:///var/run/docker.sock`): one GET per
//! connection (`Connection: close`), the body read by `Content-Length`,
//! chunked transfer coding, or to the end of the stream.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// The largest body read (a larger one is an error).
const MAX_BODY: usize = 256 << 20;

/// An answer: status, headers (names lower-cased) and body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower-cased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (`name` lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket could not be reached or broke.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The answer is not HTTP/1.x.
    #[error("malformed HTTP response: {0}")]
    Malformed(String),
    /// No answer in time.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
}

/// GETs `path_and_query` from the server at `socket`, sending `headers`
/// too, within `timeout`.
pub async fn get(
    socket: &Path,
    path_and_query: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Response, Error> {
    match tokio::time::timeout(timeout, get_inner(socket, path_and_query, headers)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout(timeout)),
    }
}

async fn get_inner(
    socket: &Path,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> Result<Response, Error> {
    let stream = UnixStream::connect(socket).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("dial unix {}: {e}", socket.display()))
    })?;
    let mut r = BufReader::new(stream);
    let mut req = format!("GET {path_and_query} HTTP/1.1\r\nHost: localhost\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    r.get_mut().write_all(req.as_bytes()).await?;
    let line = read_line(&mut r).await?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(Error::Malformed(format!("status line {line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Malformed(format!("status line {line:?}")))?;
    let mut hdrs = Vec::new();
    loop {
        let h = read_line(&mut r).await?;
        if h.is_empty() {
            break;
        }
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| Error::Malformed(format!("header line {h:?}")))?;
        hdrs.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let resp = Response {
        status,
        headers: hdrs,
        body: Vec::new(),
    };
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let length: Option<usize> = resp
        .header("content-length")
        .map(|l| {
            l.parse()
                .map_err(|_| Error::Malformed(format!("Content-Length {l:?}")))
        })
        .transpose()?;
    let body = if chunked {
        read_chunked(&mut r).await?
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(Error::Malformed(format!("body of {n} bytes")));
        }
        let mut b = vec![0; n];
        r.read_exact(&mut b).await?;
        b
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else {
        let mut b = Vec::new();
        (&mut r)
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut b)
            .await?;
        if b.len() > MAX_BODY {
            return Err(Error::Malformed("body too large".into()));
        }
        b
    };
    Ok(Response { body, ..resp })
}

/// A line without its CRLF (or LF); an error at the end of the stream.
async fn read_line(r: &mut BufReader<UnixStream>) -> Result<String, Error> {
    let mut buf = Vec::new();
    let n = (&mut *r).take(64 << 10).read_until(b'\n', &mut buf).await?;
    if n == 0 || !buf.ends_with(b"\n") {
        return Err(Error::Malformed("unexpected end of the response".into()));
    }
    buf.pop();
    if buf.ends_with(b"\r") {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| Error::Malformed("a line that is not UTF-8".into()))
}

async fn read_chunked(r: &mut BufReader<UnixStream>) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r).await?;
        let size = line.split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(size, 16)
            .map_err(|_| Error::Malformed(format!("chunk size {line:?}")))?;
        if n == 0 {
            // trailers, up to the empty line
            while !read_line(r).await?.is_empty() {}
            return Ok(body);
        }
        if body.len() + n > MAX_BODY {
            return Err(Error::Malformed("body too large".into()));
        }
        let start = body.len();
        body.resize(start + n, 0);
        r.read_exact(&mut body[start..]).await?;
        if !read_line(r).await?.is_empty() {
            return Err(Error::Malformed("chunk not followed by CRLF".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve_once(answer: &'static [u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let l = tokio::net::UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let (mut c, _) = l.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = c.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert!(got.starts_with(b"GET /v1.41/_ping HTTP/1.1\r\n"));
            c.write_all(answer).await.unwrap();
        });
        (dir, path)
    }

    #[tokio::test]
    async fn reads_lengths_chunks_and_to_the_end() {
        for (answer, want) in [
            (
                &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nApi-Version: 1.41\r\n\r\nOKextra"[..],
                &b"OK"[..],
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2;x=y\r\n2]\r\n0\r\n\r\n",
                b"[1,2]",
            ),
            (b"HTTP/1.0 500 Oops\r\n\r\n{\"message\":\"no\"}", b"{\"message\":\"no\"}"),
        ] {
            let (_d, path) = serve_once(answer).await;
            let r = get(&path, "/v1.41/_ping", &[("User-Agent", "t")], Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(r.body, want);
        }
        let (_d, path) = serve_once(b"SSH-2.0-OpenSSH\r\n").await;
        let e = get(&path, "/v1.41/_ping", &[], Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Malformed(_)), "{e}");
        let e = get(
            Path::new("/nonexistent/docker.sock"),
            "/_ping",
            &[],
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(
            e.to_string().contains("dial unix /nonexistent/docker.sock"),
            "{e}"
        );
    }
}
