//! The SIP message: received bytes plus an index of the start line and header lines as byte
//! ranges (RFC 3261 §7). Header values are parsed into types only when asked.

use crate::error::{Error, Result};
use crate::name::HeaderName;
use crate::scan::{is_token, parse_u64, ListIter};
use crate::text::Text;
use crate::uri::Uri;
use bytes::Bytes;
use std::fmt;

/// Parser limits. Every peer-supplied size is checked against one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Whole message (start line, headers, body). Default 64 KiB. Values above 4 GiB act as
    /// 4 GiB (the index stores 32-bit offsets).
    pub max_message_size: usize,
    /// Header lines (a folded header counts once). Default 256.
    pub max_headers: usize,
    /// Bytes in one physical line. Default 8 KiB.
    pub max_line_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 64 * 1024,
            max_headers: 256,
            max_line_len: 8 * 1024,
        }
    }
}

/// A request method (RFC 3261 §7.1 plus the extensions an IMS core sees).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// REGISTER
    Register,
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// OPTIONS
    Options,
    /// SUBSCRIBE (RFC 6665)
    Subscribe,
    /// NOTIFY (RFC 6665)
    Notify,
    /// PUBLISH (RFC 3903)
    Publish,
    /// MESSAGE (RFC 3428)
    Message,
    /// INFO (RFC 6086)
    Info,
    /// PRACK (RFC 3262)
    Prack,
    /// UPDATE (RFC 3311)
    Update,
    /// REFER (RFC 3515)
    Refer,
    /// Any other token (methods are case-sensitive).
    Other(Text),
}

impl Method {
    /// The method for a token (case-sensitive, RFC 3261 §7.1).
    pub fn from_text(t: Text) -> Method {
        match t.as_str() {
            "REGISTER" => Method::Register,
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "PUBLISH" => Method::Publish,
            "MESSAGE" => Method::Message,
            "INFO" => Method::Info,
            "PRACK" => Method::Prack,
            "UPDATE" => Method::Update,
            "REFER" => Method::Refer,
            _ => Method::Other(t),
        }
    }

    /// The method name.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Register => "REGISTER",
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Message => "MESSAGE",
            Method::Info => "INFO",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Refer => "REFER",
            Method::Other(t) => t,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Method {
    fn from(s: &str) -> Self {
        Method::from_text(Text::from(s))
    }
}

type R = (u32, u32);

fn r(a: usize, b: usize) -> R {
    (a as u32, b as u32)
}

/// Start line as ranges into the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawStart {
    Request { method: R, uri: R },
    Response { code: u16, reason: R },
}

/// One header line (with its folded continuation lines) in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub id: Option<HeaderName>,
    pub name: R,
    pub value: R,
    /// The whole line from the name to after the final CRLF.
    pub line: R,
    /// 1-based line number of the first physical line.
    pub line_no: u32,
}

/// What the head parser found.
pub(crate) struct Head {
    start: RawStart,
    start_end: usize,
    headers: Vec<Entry>,
    /// Offset of the first body byte.
    body_start: usize,
}

/// A parsed SIP request or response. Cheap to clone (shares the buffer).
#[derive(Clone)]
pub struct Message {
    buf: Bytes,
    start: RawStart,
    start_end: u32,
    headers: Vec<Entry>,
    body: R,
}

/// A view of one header line.
#[derive(Debug, Clone, Copy)]
pub struct HeaderRef<'a> {
    /// Known name, if known.
    pub id: Option<HeaderName>,
    /// Name as received (may be a compact form or oddly cased).
    pub name: &'a [u8],
    /// Raw value, folds included, leading/trailing white space removed.
    pub value: &'a [u8],
    /// The whole line(s) as received, CRLF included.
    pub raw_line: &'a [u8],
    /// 1-based line number.
    pub line: usize,
    /// Position in [`Message::headers`].
    pub index: usize,
}

impl HeaderRef<'_> {
    /// The canonical name for known headers, else the received name (lossy UTF-8).
    pub fn name_str(&self) -> std::borrow::Cow<'_, str> {
        match self.id {
            Some(id) => id.as_str().into(),
            None => String::from_utf8_lossy(self.name),
        }
    }

    /// The value as UTF-8, if it is.
    pub fn value_str(&self) -> Option<&str> {
        std::str::from_utf8(self.value).ok()
    }

    /// True if this header has the given name (case-insensitive; compact forms match).
    pub fn is(&self, name: &str) -> bool {
        NameKey::new(name).matches(self.id, self.name)
    }
}

/// A header name resolved once ([`HeaderName::from_str`]) for comparing against many lines.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NameKey<'a> {
    /// A known name (any spelling or compact form of it).
    Known(HeaderName),
    /// An unknown name, compared case-insensitively.
    Unknown(&'a [u8]),
}

impl<'a> NameKey<'a> {
    pub(crate) fn new(name: &'a str) -> Self {
        match HeaderName::from_str(name) {
            Some(id) => NameKey::Known(id),
            None => NameKey::Unknown(name.as_bytes()),
        }
    }

    /// True if a line with known name `id` (or `None`) spelled `name` has this name.
    #[inline]
    pub(crate) fn matches(&self, id: Option<HeaderName>, name: &[u8]) -> bool {
        match (*self, id) {
            (NameKey::Known(a), Some(b)) => a == b,
            (NameKey::Unknown(n), None) => name.eq_ignore_ascii_case(n),
            _ => false,
        }
    }
}

/// CR-or-LF and ':' searchers built once per message: prebuilt AVX2 searchers skip the per-call
/// CPU feature dispatch of `memchr::memchr2` / `memchr::memchr`, which dominates on short
/// header lines.
// One short-lived value on the stack per parse; boxing it would cost an allocation.
#[allow(clippy::large_enum_variant)]
enum CrLf {
    #[cfg(target_arch = "x86_64")]
    Avx2(
        memchr::arch::x86_64::avx2::memchr::Two,
        memchr::arch::x86_64::avx2::memchr::One,
    ),
    Portable,
}

impl CrLf {
    #[inline]
    fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        if let (Some(t), Some(o)) = (
            memchr::arch::x86_64::avx2::memchr::Two::new(b'\r', b'\n'),
            memchr::arch::x86_64::avx2::memchr::One::new(b':'),
        ) {
            return CrLf::Avx2(t, o);
        }
        CrLf::Portable
    }

    #[inline]
    fn find(&self, s: &[u8]) -> Option<usize> {
        match self {
            #[cfg(target_arch = "x86_64")]
            CrLf::Avx2(t, _) => t.find(s),
            CrLf::Portable => memchr::memchr2(b'\r', b'\n', s),
        }
    }

    /// The first ':' in `s`.
    #[inline]
    fn colon(&self, s: &[u8]) -> Option<usize> {
        match self {
            #[cfg(target_arch = "x86_64")]
            CrLf::Avx2(_, o) => o.find(s),
            CrLf::Portable => memchr::memchr(b':', s),
        }
    }
}

/// Finds the end of the line starting at `buf[pos..]`: returns the content length (without CRLF).
/// The first CR or LF must be a CR followed by LF; a bare CR or LF is an error.
#[inline(always)]
fn line_end(crlf: &CrLf, buf: &[u8], pos: usize, line: usize, limits: &Limits) -> Result<usize> {
    let rest = buf.get(pos..).unwrap_or(&[]);
    if let Some(k) = crlf.find(rest) {
        if k <= limits.max_line_len && rest.get(k..k + 2) == Some(b"\r\n") {
            return Ok(k);
        }
    }
    line_end_error(crlf, buf, pos, line, limits)
}

/// The error [`line_end`] reports (kept out of line: the common path only needs the offset).
#[cold]
#[inline(never)]
fn line_end_error(
    crlf: &CrLf,
    buf: &[u8],
    pos: usize,
    line: usize,
    limits: &Limits,
) -> Result<usize> {
    let rest = buf.get(pos..).unwrap_or(&[]);
    let Some(k) = crlf.find(rest) else {
        if rest.len() > limits.max_line_len {
            return Err(Error::LineTooLong {
                line,
                limit: limits.max_line_len,
            });
        }
        return Err(Error::Unterminated { line });
    };
    if k > limits.max_line_len {
        return Err(Error::LineTooLong {
            line,
            limit: limits.max_line_len,
        });
    }
    match (rest.get(k), rest.get(k + 1)) {
        (Some(b'\r'), Some(b'\n')) => Ok(k),
        (Some(b'\r'), None) => Err(Error::Unterminated { line }),
        _ if line == 1 => Err(Error::BadStartLine {
            line,
            reason: "bare CR or LF",
        }),
        _ => Err(Error::BadHeaderLine {
            line,
            reason: "bare CR or LF",
        }),
    }
}

/// Parses start line and header section of `buf`. Framing (body length) is left to the caller.
pub(crate) fn parse_head(buf: &[u8], limits: &Limits) -> Result<Head> {
    let mut line_no: usize = 1;
    let crlf = CrLf::new();
    let n = line_end(&crlf, buf, 0, 1, limits)?;
    let start = parse_start_line(buf, n)?;
    let start_end = n + 2;
    let mut headers: Vec<Entry> = Vec::with_capacity(24);
    let mut pos = start_end;
    loop {
        line_no += 1;
        let n = line_end(&crlf, buf, pos, line_no, limits)?;
        let content = buf.get(pos..pos + n).unwrap_or(&[]);
        let line_end = pos + n + 2;
        if content.is_empty() {
            return Ok(Head {
                start,
                start_end,
                headers,
                body_start: line_end,
            });
        }
        let first = content.first().copied().unwrap_or(0);
        if first == b' ' || first == b'\t' {
            // RFC 3261 §7.3.1: a continuation line of the previous header.
            let Some(last) = headers.last_mut() else {
                return Err(Error::BadHeaderLine {
                    line: line_no,
                    reason: "continuation line without a header",
                });
            };
            let (a, b) = trim_ws(content);
            if a < b {
                if last.value.0 == last.value.1 {
                    last.value.0 = (pos + a) as u32;
                }
                last.value.1 = (pos + b) as u32;
            }
            last.line.1 = line_end as u32;
        } else {
            if headers.len() >= limits.max_headers {
                return Err(Error::TooManyHeaders {
                    line: line_no,
                    limit: limits.max_headers,
                });
            }
            // Fast path: a known header's name ends at the first ':' (before optional SP/HTAB),
            // and a recognised name is all token characters (its '-' could only match a CR,
            // which a line never holds), so the byte-by-byte token scan, whose exit branch
            // mispredicts on every line, is skipped.
            let known = crlf.colon(content).and_then(|colon| {
                let (_, b) = trim_ws(content.get(..colon)?);
                Some((b, colon, HeaderName::from_bytes(content.get(..b)?)?))
            });
            let (name_len, i, id) = match known {
                Some((n, i, id)) => (n, i, Some(id)),
                None => {
                    let name_len = content
                        .iter()
                        .position(|&b| !is_token(b))
                        .unwrap_or(content.len());
                    if name_len == 0 {
                        return Err(Error::BadHeaderLine {
                            line: line_no,
                            reason: "header name is not a token",
                        });
                    }
                    let mut i = name_len;
                    while matches!(content.get(i), Some(b' ') | Some(b'\t')) {
                        i += 1;
                    }
                    if content.get(i) != Some(&b':') {
                        return Err(Error::BadHeaderLine {
                            line: line_no,
                            reason: "no ':' after the header name",
                        });
                    }
                    let name = content.get(..name_len).unwrap_or(&[]);
                    (name_len, i, HeaderName::from_bytes(name))
                }
            };
            let (a, b) = trim_ws(content.get(i + 1..).unwrap_or(&[]));
            let vstart = pos + i + 1 + a;
            let vend = pos + i + 1 + b;
            headers.push(Entry {
                id,
                name: r(pos, pos + name_len),
                value: r(vstart, vend.max(vstart)),
                line: r(pos, line_end),
                line_no: line_no as u32,
            });
        }
        pos = line_end;
    }
}

#[inline(always)]
fn trim_ws(s: &[u8]) -> (usize, usize) {
    let mut a = 0;
    let mut b = s.len();
    // the usual shapes first: nothing to trim, or one leading SP ("Name: value")
    let is_ws = |c: &u8| *c == b' ' || *c == b'\t';
    if !s.last().is_some_and(is_ws) {
        match s.first() {
            None => return (0, 0),
            Some(c) if !is_ws(c) => return (0, b),
            Some(_) if !s.get(1).is_some_and(is_ws) => return (1, b),
            Some(_) => {}
        }
    }
    while a < b && matches!(s.get(a), Some(b' ') | Some(b'\t')) {
        a += 1;
    }
    while b > a && matches!(s.get(b - 1), Some(b' ') | Some(b'\t')) {
        b -= 1;
    }
    (a, b)
}

/// RFC 3261 §7.1 Request-Line / §7.2 Status-Line, single SP separators.
fn parse_start_line(buf: &[u8], end: usize) -> Result<RawStart> {
    let line = buf.get(..end).unwrap_or(&[]);
    let bad = |reason| Error::BadStartLine { line: 1, reason };
    if line.len() >= 4
        && line
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
    {
        let sp = memchr::memchr(b' ', line).ok_or(bad("no status code"))?;
        if !line
            .get(..sp)
            .is_some_and(|v| v.eq_ignore_ascii_case(b"SIP/2.0"))
        {
            return Err(Error::BadVersion { line: 1 });
        }
        let code = line.get(sp + 1..sp + 4).ok_or(bad("no status code"))?;
        let code = parse_u64(code, 699)
            .filter(|c| *c >= 100)
            .ok_or(bad("status code is not 100-699"))? as u16;
        let reason = match line.get(sp + 4) {
            None => r(end, end),
            Some(b' ') => r(sp + 5, end),
            Some(_) => return Err(bad("status code is not 3 digits")),
        };
        if line.iter().any(|&c| c < 0x20 && c != b'\t') {
            return Err(bad("control character in reason phrase"));
        }
        return Ok(RawStart::Response { code, reason });
    }
    let sp1 = memchr::memchr(b' ', line).ok_or(bad("no Request-URI"))?;
    let method = line.get(..sp1).unwrap_or(&[]);
    if method.is_empty() || !method.iter().all(|&c| is_token(c)) {
        return Err(bad("method is not a token"));
    }
    let rest = line.get(sp1 + 1..).unwrap_or(&[]);
    let sp2 = memchr::memchr(b' ', rest).ok_or(bad("no SIP-Version"))?;
    let uri = rest.get(..sp2).unwrap_or(&[]);
    let version = rest.get(sp2 + 1..).unwrap_or(&[]);
    if uri.is_empty() {
        return Err(bad("extra white space in Request-Line"));
    }
    let colon = memchr::memchr(b':', uri).ok_or(bad("Request-URI has no scheme"))?;
    let scheme_ok = uri.first().is_some_and(u8::is_ascii_alphabetic)
        && uri.get(..colon).is_some_and(|s| {
            s.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        });
    if !scheme_ok
        || uri
            .iter()
            .any(|&c| c <= b' ' || c >= 0x7f || matches!(c, b'<' | b'>' | b'"'))
    {
        return Err(bad("malformed Request-URI"));
    }
    if !version.eq_ignore_ascii_case(b"SIP/2.0") {
        if version.len() >= 4
            && version
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
            && !version.contains(&b' ')
        {
            return Err(Error::BadVersion { line: 1 });
        }
        return Err(bad("malformed SIP-Version or extra white space"));
    }
    Ok(RawStart::Request {
        method: r(0, sp1),
        uri: r(sp1 + 1, sp1 + 1 + sp2),
    })
}

/// The single Content-Length value, if present. Several Content-Length headers are an error
/// (RFC 4475 §3.3.9), as is a value that is not a number below the message size limit.
fn content_length(
    buf: &[u8],
    headers: &[Entry],
    limits: &Limits,
    stream: bool,
) -> Result<Option<(usize, usize)>> {
    let mut found = None;
    for e in headers
        .iter()
        .filter(|e| e.id == Some(HeaderName::ContentLength))
    {
        if found.is_some() {
            return Err(Error::DuplicateHeader {
                line: e.line_no as usize,
                name: "Content-Length",
            });
        }
        let v = buf
            .get(e.value.0 as usize..e.value.1 as usize)
            .unwrap_or(&[]);
        if v.is_empty() && !stream {
            // TS 24.228 examples elide values ("Content-Length:"); a datagram bounds the body,
            // so an empty value is treated as absent. On a stream it is an error.
            continue;
        }
        let n = parse_u64(v, u64::from(u32::MAX)).ok_or_else(|| Error::BadHeader {
            line: e.line_no as usize,
            name: "Content-Length".into(),
            reason: "not a decimal number below 2^32".into(),
        })?;
        if n > limits.max_message_size as u64 {
            return Err(Error::TooLarge {
                size: n as usize,
                limit: limits.max_message_size,
            });
        }
        found = Some((n as usize, e.line_no as usize));
    }
    Ok(found)
}

impl Message {
    /// Parses a message received as one datagram (RFC 3261 §18.3): the body is what follows the
    /// header section, cut to Content-Length if present; a Content-Length larger than the body is
    /// an error; bytes beyond it are ignored (RFC 4475 §3.1.1.8).
    pub fn parse(data: impl Into<Bytes>) -> Result<Message> {
        Self::parse_with(data.into(), &Limits::default())
    }

    /// [`Message::parse`] with explicit limits.
    pub fn parse_with(buf: Bytes, limits: &Limits) -> Result<Message> {
        if buf.len() > limits.max_message_size || buf.len() > u32::MAX as usize {
            return Err(Error::TooLarge {
                size: buf.len(),
                limit: limits.max_message_size,
            });
        }
        let head = parse_head(&buf, limits)?;
        let available = buf.len().saturating_sub(head.body_start);
        let body_len = match content_length(&buf, &head.headers, limits, false)? {
            Some((n, line)) if n > available => {
                return Err(Error::BodyTruncated {
                    line,
                    declared: n,
                    available,
                })
            }
            Some((n, _)) => n,
            None => available,
        };
        Ok(Self::from_head(buf, head, body_len))
    }

    fn from_head(buf: Bytes, head: Head, body_len: usize) -> Message {
        Message {
            start: head.start,
            start_end: head.start_end as u32,
            headers: head.headers,
            body: r(head.body_start, head.body_start + body_len),
            buf,
        }
    }

    /// Used by the stream framer once the whole message is in `buf`.
    pub(crate) fn from_stream_parts(buf: Bytes, head: Head, body_len: usize) -> Message {
        Self::from_head(buf, head, body_len)
    }

    /// Framing helper for streams: head and its declared body length.
    pub(crate) fn stream_head(buf: &[u8], limits: &Limits) -> Result<(Head, usize)> {
        let head = parse_head(buf, limits)?;
        let len = content_length(buf, &head.headers, limits, true)?
            .ok_or(Error::MissingContentLength)?
            .0;
        Ok((head, len))
    }

    pub(crate) fn head_body_start(head: &Head) -> usize {
        head.body_start
    }

    /// The message bytes as received (for a datagram with trailing bytes beyond Content-Length,
    /// see [`Message::wire`]).
    pub fn as_bytes(&self) -> &Bytes {
        &self.buf
    }

    /// The message exactly as it should be forwarded: start line, headers, body, without any
    /// bytes after the Content-Length (RFC 4475 §3.1.1.8).
    pub fn wire(&self) -> Bytes {
        self.buf.slice(..(self.body.1 as usize).min(self.buf.len()))
    }

    fn slice(&self, rg: R) -> &[u8] {
        self.buf.get(rg.0 as usize..rg.1 as usize).unwrap_or(&[])
    }

    fn text(&self, rg: R) -> Option<Text> {
        let (a, b) = (rg.0 as usize, rg.1 as usize);
        if a <= b && b <= self.buf.len() {
            Text::from_bytes(self.buf.slice(a..b))
        } else {
            None
        }
    }

    /// True for requests.
    pub fn is_request(&self) -> bool {
        matches!(self.start, RawStart::Request { .. })
    }

    /// The request method (`None` for responses).
    pub fn method(&self) -> Option<Method> {
        match self.start {
            RawStart::Request { method, .. } => self.text(method).map(Method::from_text),
            RawStart::Response { .. } => None,
        }
    }

    /// The status code (`None` for requests).
    pub fn status(&self) -> Option<u16> {
        match self.start {
            RawStart::Response { code, .. } => Some(code),
            RawStart::Request { .. } => None,
        }
    }

    /// The reason phrase (`None` for requests; may be non-UTF-8 and then `None`).
    pub fn reason(&self) -> Option<Text> {
        match self.start {
            RawStart::Response { reason, .. } => self.text(reason),
            RawStart::Request { .. } => None,
        }
    }

    /// The Request-URI text as received.
    pub fn request_uri_raw(&self) -> Option<Text> {
        match self.start {
            RawStart::Request { uri, .. } => self.text(uri),
            RawStart::Response { .. } => None,
        }
    }

    /// The Request-URI, parsed (RFC 3261 §19.1). Errors name line 1.
    pub fn request_uri(&self) -> Result<Uri> {
        let RawStart::Request { uri, .. } = self.start else {
            return Err(Error::Usage("a response has no Request-URI"));
        };
        let t = self.text(uri).ok_or(Error::BadStartLine {
            line: 1,
            reason: "Request-URI is not UTF-8",
        })?;
        Uri::parse_text(&t, 0, t.len()).map_err(|reason| Error::BadStartLine { line: 1, reason })
    }

    /// The start line as received, without CRLF.
    pub fn start_line(&self) -> &[u8] {
        self.slice(r(0, (self.start_end as usize).saturating_sub(2)))
    }

    /// The body (empty if none).
    pub fn body(&self) -> Bytes {
        let (a, b) = (self.body.0 as usize, self.body.1 as usize);
        if a <= b && b <= self.buf.len() {
            self.buf.slice(a..b)
        } else {
            Bytes::new()
        }
    }

    /// Iterates over header lines in order.
    pub fn headers(&self) -> impl Iterator<Item = HeaderRef<'_>> + '_ {
        self.headers
            .iter()
            .enumerate()
            .map(move |(index, e)| self.header_ref(index, e))
    }

    fn header_ref(&self, index: usize, e: &Entry) -> HeaderRef<'_> {
        HeaderRef {
            id: e.id,
            name: self.slice(e.name),
            value: self.slice(e.value),
            raw_line: self.slice(e.line),
            line: e.line_no as usize,
            index,
        }
    }

    /// The header line at `index` (as in [`HeaderRef::index`]).
    pub fn header_at(&self, index: usize) -> Option<HeaderRef<'_>> {
        self.headers.get(index).map(|e| self.header_ref(index, e))
    }

    /// Known id of the header line at `index` (`None` if there is no such line).
    #[inline]
    pub(crate) fn entry_id(&self, index: usize) -> Option<Option<HeaderName>> {
        self.headers.get(index).map(|e| e.id)
    }

    /// Known id and name as received of the header line at `index` (for the editor).
    #[inline]
    pub(crate) fn entry_id_name(&self, index: usize) -> Option<(Option<HeaderName>, &[u8])> {
        self.headers.get(index).map(|e| (e.id, self.slice(e.name)))
    }

    /// Known id, name as received and whole raw line of the header line at `index`.
    #[inline]
    pub(crate) fn entry_line(&self, index: usize) -> Option<(Option<HeaderName>, &[u8], &[u8])> {
        self.headers
            .get(index)
            .map(|e| (e.id, self.slice(e.name), self.slice(e.line)))
    }

    /// The value of the header line at `index` as a [`Text`] sharing the buffer (`None` if
    /// absent or not UTF-8).
    pub(crate) fn value_text(&self, index: usize) -> Option<Text> {
        self.headers.get(index).and_then(|e| self.text(e.value))
    }

    /// The body bytes without taking a reference to the buffer.
    pub(crate) fn body_slice(&self) -> &[u8] {
        self.slice(self.body)
    }

    /// Number of header lines.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// The header lines with this name (case-insensitive; compact forms match).
    /// The name is resolved once per call, not once per line.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = HeaderRef<'a>> + 'a {
        let key = NameKey::new(name);
        self.headers().filter(move |h| key.matches(h.id, h.name))
    }

    /// The header lines with this known name (compares [`HeaderRef::id`]; compact forms match).
    pub fn headers_id(&self, id: HeaderName) -> impl Iterator<Item = HeaderRef<'_>> + '_ {
        self.headers().filter(move |h| h.id == Some(id))
    }

    /// True if at least one header with this name is present.
    pub fn has(&self, name: impl AsRef<str>) -> bool {
        let key = NameKey::new(name.as_ref());
        self.headers
            .iter()
            .any(|e| key.matches(e.id, self.slice(e.name)))
    }

    /// True if at least one header with this known name is present (compares ids).
    pub fn has_id(&self, id: HeaderName) -> bool {
        self.headers.iter().any(|e| e.id == Some(id))
    }

    /// The first value with this name as text (raw, folds included; `None` if absent or not UTF-8).
    pub fn header_value(&self, name: impl AsRef<str>) -> Option<Text> {
        let key = NameKey::new(name.as_ref());
        let e = self
            .headers
            .iter()
            .find(|e| key.matches(e.id, self.slice(e.name)))?;
        self.text(e.value)
    }

    pub(crate) fn raw_start_end(&self) -> usize {
        self.start_end as usize
    }

    fn entry_text(&self, e: &Entry) -> Result<Text> {
        self.text(e.value).ok_or_else(|| Error::BadHeader {
            line: e.line_no as usize,
            name: self.entry_name(e).into(),
            reason: "value is not UTF-8".into(),
        })
    }

    fn entry_name(&self, e: &Entry) -> String {
        match e.id {
            Some(id) => id.as_str().to_string(),
            None => String::from_utf8_lossy(self.slice(e.name)).into_owned(),
        }
    }

    fn bad(&self, e: &Entry, reason: &'static str) -> Error {
        Error::BadHeader {
            line: e.line_no as usize,
            name: self.entry_name(e).into(),
            reason: reason.into(),
        }
    }

    /// Parses every element of every `id` header in order (list headers are split at commas).
    pub fn parse_all<T: crate::headers::Header>(&self, id: HeaderName) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for e in self.headers.iter().filter(|e| e.id == Some(id)) {
            let t = self.entry_text(e)?;
            if id.is_list() {
                for el in ListIter::new(t.as_bytes()) {
                    let (a, b) = el.map_err(|reason| self.bad(e, reason))?;
                    // a single-element value is parsed as is (no second slice of the buffer)
                    let parsed = if a == 0 && b == t.len() {
                        T::parse(&t)
                    } else {
                        T::parse(&t.slice(a, b))
                    };
                    out.push(parsed.map_err(|reason| self.bad(e, reason))?);
                }
            } else {
                out.push(T::parse(&t).map_err(|reason| self.bad(e, reason))?);
            }
        }
        Ok(out)
    }

    /// Parses the first element of the first `id` header (`None` if absent). Only that element is
    /// parsed, so reading the top Via of a long Via list is cheap.
    pub fn parse_first<T: crate::headers::Header>(&self, id: HeaderName) -> Result<Option<T>> {
        let Some((e, t)) = self.first_element(id)? else {
            return Ok(None);
        };
        T::parse(&t).map(Some).map_err(|reason| self.bad(e, reason))
    }

    /// The unparsed first element of the first `id` header (the whole value for headers that
    /// are not comma-separated lists, RFC 3261 §7.3.1), with its entry.
    fn first_element(&self, id: HeaderName) -> Result<Option<(&Entry, Text)>> {
        let Some(e) = self.headers.iter().find(|e| e.id == Some(id)) else {
            return Ok(None);
        };
        let t = self.entry_text(e)?;
        if !id.is_list() {
            return Ok(Some((e, t)));
        }
        let (a, b) = ListIter::new(t.as_bytes())
            .next()
            .unwrap_or(Err("empty value"))
            .map_err(|reason| self.bad(e, reason))?;
        Ok(Some((
            e,
            if a == 0 && b == t.len() {
                t
            } else {
                t.slice(a, b)
            },
        )))
    }

    /// The branch parameter of the topmost Via (RFC 3261 §8.1.1.7), read without parsing the
    /// rest of the Via: what client and server transactions match on (§17.1.3, §17.2.3), for
    /// every message. `None` when there is no Via or its first element has no branch; quoted
    /// parameter values are skipped whole, and parameter names compare case-insensitively
    /// (§7.3.1). It returns what [`Message::top_via`]`.branch()` returns for a well-formed Via.
    pub fn top_via_branch(&self) -> Option<Text> {
        let (_, via) = self.first_element(HeaderName::Via).ok()??;
        let s = via.as_bytes();
        // the value of parameter s[a..b] if it is the branch
        let branch = |a: usize, b: usize| {
            let (a, b) = crate::scan::trim(s, a, b);
            let p = s.get(a..b)?;
            let eq = p.iter().position(|&c| c == b'=')?;
            let (na, nb) = crate::scan::trim(p, 0, eq);
            if !p.get(na..nb)?.eq_ignore_ascii_case(b"branch") {
                return None;
            }
            let (va, vb) = crate::scan::trim(p, eq + 1, p.len());
            (va < vb).then(|| via.slice(a + va, a + vb))
        };
        // `start`: just after the last top-level ';' (the sent-by before the first is no parameter)
        let (mut i, mut quoted, mut start) = (0, false, None);
        while i < s.len() {
            match s[i] {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b';' if !quoted => {
                    if let Some(found) = start.and_then(|a| branch(a, i)) {
                        return Some(found);
                    }
                    start = Some(i + 1);
                }
                _ => {}
            }
            i += 1;
        }
        start.and_then(|a| branch(a, s.len()))
    }

    /// Like [`Message::parse_first`] but a missing header is [`Error::MissingHeader`].
    pub fn parse_required<T: crate::headers::Header>(&self, id: HeaderName) -> Result<T> {
        self.parse_first(id)?
            .ok_or(Error::MissingHeader { name: id.as_str() })
    }

    /// Checks what a server must check before acting on a message (RFC 3261 §8.2, §16.3):
    /// From, To, Call-ID, CSeq present exactly once and well formed, at least one well-formed Via,
    /// at most one Max-Forwards, CSeq method equal to the request method, a Request-URI without
    /// headers (§19.1.5), Contact, Expires and Route well formed when present.
    pub fn validate(&self) -> Result<()> {
        for id in [
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::MaxForwards,
        ] {
            let mut it = self.headers.iter().filter(|e| e.id == Some(id));
            let first = it.next();
            if first.is_none() && id != HeaderName::MaxForwards {
                return Err(Error::MissingHeader { name: id.as_str() });
            }
            if let Some(dup) = it.next() {
                return Err(Error::DuplicateHeader {
                    line: dup.line_no as usize,
                    name: id.as_str(),
                });
            }
        }
        let vias = self.parse_all::<crate::headers::Via>(HeaderName::Via)?;
        if vias.is_empty() {
            return Err(Error::MissingHeader { name: "Via" });
        }
        self.from()?;
        self.to()?;
        self.call_id()?;
        let cseq = self.cseq()?;
        self.max_forwards()?;
        self.contacts()?;
        self.expires()?;
        self.content_length()?;
        self.parse_all::<crate::headers::NameAddr>(HeaderName::Route)?;
        self.parse_all::<crate::headers::NameAddr>(HeaderName::RecordRoute)?;
        if let Some(m) = self.method() {
            if m != cseq.method {
                let line = self
                    .headers
                    .iter()
                    .find(|e| e.id == Some(HeaderName::CSeq))
                    .map_or(0, |e| e.line_no as usize);
                return Err(Error::CSeqMismatch { line });
            }
            if let Uri::Sip(u) = self.request_uri()? {
                if !u.headers.is_empty() {
                    return Err(Error::BadStartLine {
                        line: 1,
                        reason: "headers are not allowed in a Request-URI",
                    });
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("start_line", &String::from_utf8_lossy(self.start_line()))
            .field("headers", &self.headers.len())
            .field("body_len", &(self.body.1 - self.body.0))
            .finish()
    }
}

impl PartialEq for Message {
    /// Two messages are equal when their forwarded bytes are equal.
    fn eq(&self, other: &Self) -> bool {
        self.wire() == other.wire()
    }
}

impl Eq for Message {}

impl fmt::Display for Message {
    /// The wire form, lossily decoded (for logs and tests).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.wire()))
    }
}

#[cfg(test)]
mod tests {
    use super::trim_ws;

    #[test]
    fn trim_ws_matches_a_plain_trim() {
        // every string of length <= 6 over {SP, HTAB, 'a', ':'}
        let alphabet = [b' ', b'\t', b'a', b':'];
        for len in 0..=6u32 {
            for mut k in 0..4usize.pow(len) {
                let mut s = Vec::new();
                for _ in 0..len {
                    s.push(alphabet[k % 4]);
                    k /= 4;
                }
                let ws = |c: &u8| *c == b' ' || *c == b'\t';
                let a = s.iter().position(|c| !ws(c)).unwrap_or(s.len());
                let b = s.iter().rposition(|c| !ws(c)).map_or(a, |i| i + 1);
                assert_eq!(trim_ws(&s), (a, b.max(a)), "{s:?}");
            }
        }
    }
}
