//! Framing SIP messages on a stream transport (TCP/TLS, RFC 3261 §18.3): the header section ends
//! at the first empty line, the body is exactly Content-Length bytes (mandatory on streams), and
//! CRLF keep-alives between messages are skipped (RFC 5626 §3.5.1: a double CRLF "ping" is
//! answered with a single CRLF "pong").

use crate::error::{Error, Result};
use crate::message::{Head, Limits, Message};
use crate::scan::is_token;
use bytes::{Buf, Bytes, BytesMut};

/// One item taken off a stream by [`decode_stream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// A complete message.
    Message(Message),
    /// A double-CRLF keep-alive ping: answer with a single CRLF (RFC 5626 §3.5.1).
    Ping,
    /// A single-CRLF keep-alive pong followed by more data (a pong alone at the end of the
    /// buffer is left there, see [`take_pong`]).
    Pong,
}

/// Frames the message at the start of `buf` (after leading CRLFs). Returns the number of CRLF
/// bytes skipped, the parsed head and the total message length, or `None` if more bytes are needed.
fn frame(buf: &[u8], limits: &Limits) -> Result<Option<(usize, Head, usize)>> {
    let limits = &Limits {
        max_message_size: limits.max_message_size.min(u32::MAX as usize),
        ..*limits
    };
    let mut skip = 0;
    while buf.get(skip..skip + 2) == Some(b"\r\n") {
        skip += 2;
    }
    let rest = buf.get(skip..).unwrap_or(&[]);
    let Some(&first) = rest.first() else {
        return Ok(None);
    };
    if first == b'\r' && rest.len() == 1 {
        return Ok(None);
    }
    if !is_token(first) {
        return Err(Error::Garbage {
            reason: "bytes that cannot start a SIP message",
        });
    }
    match memchr::memchr(b'\n', rest) {
        Some(n) if n > limits.max_line_len => {
            return Err(Error::LineTooLong {
                line: 1,
                limit: limits.max_line_len,
            })
        }
        None if rest.len() > limits.max_line_len => {
            return Err(Error::LineTooLong {
                line: 1,
                limit: limits.max_line_len,
            })
        }
        _ => {}
    }
    let Some(end) = memchr::memmem::find(rest, b"\r\n\r\n") else {
        if rest.len() > limits.max_message_size {
            return Err(Error::TooLarge {
                size: rest.len(),
                limit: limits.max_message_size,
            });
        }
        return Ok(None);
    };
    let head_len = end + 4;
    if head_len > limits.max_message_size {
        return Err(Error::TooLarge {
            size: head_len,
            limit: limits.max_message_size,
        });
    }
    let (head, body_len) = Message::stream_head(rest.get(..head_len).unwrap_or(&[]), limits)?;
    let total = Message::head_body_start(&head).saturating_add(body_len);
    if total > limits.max_message_size {
        return Err(Error::TooLarge {
            size: total,
            limit: limits.max_message_size,
        });
    }
    if rest.len() < total {
        return Ok(None);
    }
    Ok(Some((skip, head, total)))
}

/// Takes one message off the front of a stream buffer.
///
/// `Ok(None)`: more bytes are needed. `Ok(Some((message, consumed)))`: `consumed` bytes (leading
/// CRLF keep-alives included) make up the message. `Err`: the stream is unusable (missing
/// Content-Length, too large, garbage, malformed head) and should be closed, after a 4xx/513
/// response for requests where possible. The message bytes are copied; [`decode_stream`] avoids
/// that copy.
pub fn parse_stream(buf: &[u8], limits: &Limits) -> Result<Option<(Message, usize)>> {
    let Some((skip, head, total)) = frame(buf, limits)? else {
        return Ok(None);
    };
    let bytes = Bytes::copy_from_slice(buf.get(skip..skip + total).unwrap_or(&[]));
    let body_len = total - Message::head_body_start(&head);
    Ok(Some((
        Message::from_stream_parts(bytes, head, body_len),
        skip + total,
    )))
}

/// Takes one item (message or keep-alive) off the front of `buf`, consuming its bytes without
/// copying the message. `Ok(None)`: more bytes are needed (nothing consumed).
pub fn decode_stream(buf: &mut BytesMut, limits: &Limits) -> Result<Option<StreamItem>> {
    if buf.starts_with(b"\r\n\r\n") {
        buf.advance(4);
        return Ok(Some(StreamItem::Ping));
    }
    if buf.starts_with(b"\r\n") {
        match buf.get(2) {
            // a lone CRLF may be the first half of a ping: wait (clients use `take_pong`)
            None => return Ok(None),
            Some(b'\r') if buf.len() == 3 => return Ok(None),
            Some(b'\r') => {}
            Some(_) => {
                buf.advance(2);
                return Ok(Some(StreamItem::Pong));
            }
        }
    }
    let Some((skip, head, total)) = frame(buf, limits)? else {
        return Ok(None);
    };
    buf.advance(skip);
    let bytes = buf.split_to(total).freeze();
    let body_len = total - Message::head_body_start(&head);
    Ok(Some(StreamItem::Message(Message::from_stream_parts(
        bytes, head, body_len,
    ))))
}

/// For clients waiting for a keep-alive pong (RFC 5626 §4.4.1): if the buffer holds exactly one
/// CRLF, consumes it and returns true. [`decode_stream`] leaves a lone CRLF in the buffer because
/// on a server it may be the first half of a ping.
pub fn take_pong(buf: &mut BytesMut) -> bool {
    if &buf[..] == b"\r\n" {
        buf.clear();
        true
    } else {
        false
    }
}
