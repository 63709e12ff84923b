//! Diameter message framing on a byte stream (TCP; RFC 6733 §2.1): the 24-bit Message Length of
//! each header delimits messages. A tokio-util [`Decoder`]/[`Encoder`].
//!
//! A header that is not Diameter (bad version, impossible length, above the size limit) is a framing
//! error: the stream cannot be resynchronised, so the caller must disconnect that peer.

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::Error;
use crate::message::{check_len, Header, Limits, Message, HEADER_LEN};

/// One framed unit: either a decoded message, or a complete frame whose AVPs failed to decode (the
/// stream is still in sync, so the peer can be answered with an error).
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A decoded message.
    Message(Message),
    /// A complete frame with a well-formed header but malformed body.
    Malformed {
        /// The header, to build an error answer.
        header: Header,
        /// What was wrong (maps to 5014 / 3008 / ...).
        error: Error,
    },
}

/// Codec for Diameter over a stream.
#[derive(Debug, Clone, Default)]
pub struct DiameterCodec {
    limits: Limits,
}

impl DiameterCodec {
    /// A codec with the given limits.
    pub fn new(limits: Limits) -> Self {
        DiameterCodec { limits }
    }
}

impl Decoder for DiameterCodec {
    type Item = Frame;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        if src.len() < 4 {
            return Ok(None);
        }
        // Version and length are checked before waiting for the whole frame, so garbage is
        // rejected at once instead of stalling until "length" bytes arrive.
        let version = src.first().copied().unwrap_or(0);
        if version != 1 {
            return Err(Error::UnsupportedVersion(version));
        }
        let len = src
            .get(1..4)
            .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize)
            .unwrap_or(0);
        check_len(len, &self.limits)?;
        if src.len() < len {
            src.reserve(len - src.len());
            return Ok(None);
        }
        let frame = src.split_to(len).freeze();
        match Message::decode_with(frame.clone(), &self.limits) {
            Ok(m) => Ok(Some(Frame::Message(m))),
            Err(error) => {
                let (header, _) = Header::parse(&frame)?;
                Ok(Some(Frame::Malformed { header, error }))
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        match self.decode(buf)? {
            Some(f) => Ok(Some(f)),
            None if buf.is_empty() => Ok(None),
            None => {
                let n = buf.len();
                buf.advance(n);
                Err(Error::InvalidMessageLength {
                    reason: format!("stream ended inside a message ({n} bytes)"),
                })
            }
        }
    }
}

impl Encoder<&Message> for DiameterCodec {
    type Error = Error;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), Error> {
        if item.encoded_len() > crate::message::MAX_WIRE_LEN {
            return Err(Error::Misuse("message exceeds the 24-bit length field"));
        }
        item.encode(dst);
        Ok(())
    }
}

impl Encoder<Message> for DiameterCodec {
    type Error = Error;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), Error> {
        <Self as Encoder<&Message>>::encode(self, &item, dst)
    }
}

/// Whether `b` starts like a Diameter header (for sniffing).
pub fn looks_like_diameter(b: &[u8]) -> bool {
    b.len() >= HEADER_LEN && b.first() == Some(&1)
}
