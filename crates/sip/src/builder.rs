//! Building new requests and responses (RFC 3261 §8.1.1 requests, §8.2.6 responses). The
//! builder writes headers in the order given, adds Content-Length last, and returns a parsed
//! [`Message`], so whatever it builds reads back through the same parser as received messages.

use crate::error::{Error, Result};
use crate::message::{Message, Method};
use crate::name::HeaderName;
use crate::scan::is_token_str;
use bytes::{Bytes, BytesMut};
use std::fmt::Display;

enum Line {
    /// A header line copied from another message, CRLF included.
    Raw(Bytes),
    /// A new header.
    New(String, String),
}

/// Builds a request or a response.
///
/// ```
/// use sip::{MessageBuilder, Method, HeaderName};
/// let msg = MessageBuilder::request(Method::Register, "sip:ims.example.net")
///     .header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1")
///     .header(HeaderName::MaxForwards, 70)
///     .header(HeaderName::From, "<sip:alice@ims.example.net>;tag=1")
///     .header(HeaderName::To, "<sip:alice@ims.example.net>")
///     .header(HeaderName::CallId, "a84b4c76e66710")
///     .header(HeaderName::CSeq, "1 REGISTER")
///     .build()
///     .unwrap();
/// assert_eq!(msg.cseq().unwrap().seq, 1);
/// ```
pub struct MessageBuilder {
    start: String,
    lines: Vec<Line>,
    body: Bytes,
    error: Option<Error>,
}

fn check_value(v: &str) -> bool {
    // folds (CRLF + SP/HTAB) are allowed, any other CR or LF is not
    let b = v.as_bytes();
    b.iter().enumerate().all(|(i, &c)| match c {
        b'\r' => b.get(i + 1) == Some(&b'\n') && matches!(b.get(i + 2), Some(b' ') | Some(b'\t')),
        b'\n' => i > 0 && b.get(i - 1) == Some(&b'\r'),
        _ => true,
    })
}

impl MessageBuilder {
    /// Starts a request `METHOD uri SIP/2.0`.
    pub fn request(method: Method, uri: impl Display) -> Self {
        let uri = uri.to_string();
        let error = (uri.is_empty() || uri.bytes().any(|b| b <= b' '))
            .then_some(Error::Usage("Request-URI is empty or contains white space"));
        MessageBuilder {
            start: format!("{method} {uri} SIP/2.0"),
            lines: Vec::new(),
            body: Bytes::new(),
            error,
        }
    }

    /// Starts a response `SIP/2.0 code reason`.
    pub fn response(code: u16, reason: &str) -> Self {
        let error = (!(100..=699).contains(&code) || reason.contains(['\r', '\n'])).then_some(
            Error::Usage("status code must be 100-699 and the reason one line"),
        );
        MessageBuilder {
            start: format!("SIP/2.0 {code} {reason}"),
            lines: Vec::new(),
            body: Bytes::new(),
            error,
        }
    }

    /// Starts a response to `req` (RFC 3261 §8.2.6.2): copies every Via line, From, To, Call-ID
    /// and CSeq byte for byte, and adds `;tag=to_tag` to To if the request's To has no tag.
    pub fn response_to(req: &Message, code: u16, reason: &str, to_tag: Option<&str>) -> Self {
        let mut b = Self::response(code, reason);
        if !req.is_request() {
            b.error
                .get_or_insert(Error::Usage("response_to needs a request"));
            return b;
        }
        let needs_tag = to_tag.is_some() && req.to().map(|t| t.tag().is_none()).unwrap_or(false);
        for h in req.headers() {
            match h.id {
                Some(
                    HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq,
                ) => {
                    b.lines.push(Line::Raw(Bytes::copy_from_slice(h.raw_line)));
                }
                Some(HeaderName::To) => match (needs_tag, to_tag) {
                    (true, Some(tag)) => {
                        let v = String::from_utf8_lossy(h.value).into_owned();
                        b = b.header(HeaderName::To, format!("{v};tag={tag}"));
                    }
                    _ => b.lines.push(Line::Raw(Bytes::copy_from_slice(h.raw_line))),
                },
                _ => {}
            }
        }
        b
    }

    /// Adds a header (name as [`HeaderName`] or any token string; value written with `Display`).
    pub fn header(mut self, name: impl AsRef<str>, value: impl Display) -> Self {
        let name = name.as_ref();
        let value = value.to_string();
        if !is_token_str(name.as_bytes()) {
            self.error
                .get_or_insert(Error::Usage("header name is not a token"));
        } else if !check_value(&value) {
            self.error
                .get_or_insert(Error::Usage("header value contains CR or LF"));
        } else if HeaderName::from_str(name) == Some(HeaderName::ContentLength) {
            // written by build()
        } else {
            self.lines.push(Line::New(name.to_string(), value));
        }
        self
    }

    /// Adds one header line per element (for list headers such as Route or Path).
    pub fn headers<T: Display>(
        mut self,
        name: impl AsRef<str>,
        values: impl IntoIterator<Item = T>,
    ) -> Self {
        for v in values {
            self = self.header(name.as_ref(), v);
        }
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(self, content_type: &str, body: impl Into<Bytes>) -> Self {
        let mut s = self.header(HeaderName::ContentType, content_type);
        s.body = body.into();
        s
    }

    /// The wire bytes (Content-Length added last).
    pub fn to_bytes(&self) -> Result<Bytes> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut out = BytesMut::with_capacity(256 + self.body.len());
        out.extend_from_slice(self.start.as_bytes());
        out.extend_from_slice(b"\r\n");
        for l in &self.lines {
            match l {
                Line::Raw(b) => out.extend_from_slice(b),
                Line::New(n, v) => {
                    out.extend_from_slice(n.as_bytes());
                    out.extend_from_slice(b": ");
                    out.extend_from_slice(v.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        Ok(out.freeze())
    }

    /// Builds and parses the message.
    pub fn build(self) -> Result<Message> {
        Message::parse(self.to_bytes()?)
    }
}
