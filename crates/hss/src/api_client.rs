//! A minimal HTTP/1.1 client (RFC 9112) for the CLI to reach a running HSS's REST API
//! ([`crate::rest`]): one `POST` with a JSON body and a bearer token (RFC 6750 §2.1), answer read
//! until the server closes. Plain `http://` only; every length is bounded and nothing the server
//! sends can make it panic.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest answer read.
const MAX_RESPONSE: usize = 1024 * 1024;

/// Why a call did not produce an HTTP answer.
#[derive(Debug)]
pub(crate) enum CallError {
    /// Nothing listens there (connection refused, no route, connect timeout): no HSS is running.
    Unreachable(String),
    /// Connected, but the exchange failed (bad URL, broken or malformed answer, timeout).
    Failed(String),
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// `http://host[:port][/prefix]` split into the address to connect to, the Host header and the
/// path prefix.
fn split_url(base: &str) -> Result<(String, String, String), CallError> {
    let rest = base
        .strip_prefix("http://")
        .ok_or_else(|| CallError::Failed(format!("{base:?}: only http:// URLs are supported")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err(CallError::Failed(format!("{base:?}: bad host")));
    }
    let has_port = match authority.rfind(':') {
        Some(i) => !authority[i..].contains(']'),
        None => false,
    };
    let addr = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((addr, authority.to_string(), path.to_string()))
}

/// Percent-encodes one path segment (RFC 3986 §3.3: unreserved and `:@!$&'()*+,;=` stay).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// POSTs `body` (JSON) to `base` + `path` with `token`, waiting at most `timeout` in all.
pub(crate) async fn post_json(
    base: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
    timeout: Duration,
) -> Result<HttpResponse, CallError> {
    let (addr, host, prefix) = split_url(base)?;
    let connect = tokio::time::timeout(
        Duration::from_secs(3).min(timeout),
        tokio::net::TcpStream::connect(addr.as_str()),
    )
    .await
    .map_err(|_| CallError::Unreachable(format!("connecting to {addr} timed out")))?
    .map_err(|e| CallError::Unreachable(format!("cannot connect to {addr}: {e}")))?;
    let mut stream = connect;
    let mut req = format!(
        "POST {prefix}{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\nUser-Agent: imscore-cli\r\n",
        body.len()
    );
    if let Some(t) = token {
        if t.contains(['\r', '\n']) {
            return Err(CallError::Failed("token contains a line break".into()));
        }
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str("\r\n");
    let exchange = async {
        stream.write_all(req.as_bytes()).await?;
        stream.write_all(body).await?;
        stream.flush().await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            if buf.len() + n > MAX_RESPONSE {
                return Err(std::io::Error::other("answer too large"));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(buf)
    };
    let raw = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| CallError::Failed(format!("no answer from {base} within {timeout:?}")))?
        .map_err(|e| CallError::Failed(format!("exchange with {base} failed: {e}")))?;
    parse_response(&raw).map_err(CallError::Failed)
}

/// Parses a complete HTTP/1.1 answer (Content-Length, chunked or read-to-close body).
fn parse_response(raw: &[u8]) -> Result<HttpResponse, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("answer without a header end")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "answer header is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(format!("bad status line {status_line:?}"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("bad status line {status_line:?}"));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| format!("bad status code {code:?}"))?;
    let mut chunked = false;
    let mut length: Option<usize> = None;
    for l in lines {
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().map_err(|_| "bad Content-Length")?);
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n)
            .ok_or("answer body shorter than Content-Length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse { status, body })
}

/// Decodes a chunked body (RFC 9112 §7.1), ignoring extensions and trailers.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let line = std::str::from_utf8(&data[..eol]).map_err(|_| "bad chunk size")?;
        let hex = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(hex, 16).map_err(|_| format!("bad chunk size {hex:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).ok_or("truncated chunk end")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (a, h, p) = split_url("http://127.0.0.1:8080/").unwrap();
        assert_eq!(
            (a.as_str(), h.as_str(), p.as_str()),
            ("127.0.0.1:8080", "127.0.0.1:8080", "")
        );
        let (a, _, p) = split_url("http://hss.example/admin").unwrap();
        assert_eq!((a.as_str(), p.as_str()), ("hss.example:80", "/admin"));
        let (a, _, _) = split_url("http://[::1]").unwrap();
        assert_eq!(a, "[::1]:80");
        assert!(split_url("https://x").is_err());
        assert!(split_url("http://").is_err());
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("sip:a@b.example"), "sip:a@b.example");
        assert_eq!(encode_segment("a b/c?d%"), "a%20b%2Fc%3Fd%25");
    }

    #[test]
    fn responses() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}xx").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"{}".as_slice()));
        let r = parse_response(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, b"abcd".as_slice()));
        for bad in [
            &b"garbage"[..],
            b"HTTP/1.1 abc\r\n\r\n",
            b"SIP/2.0 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nff\r\nab",
        ] {
            assert!(parse_response(bad).is_err(), "{bad:?}");
        }
    }
}
