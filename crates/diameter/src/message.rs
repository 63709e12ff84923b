//! Diameter messages (RFC 6733 §3): header, encoding into a reusable buffer, zero-copy decoding
//! with limits, AVP look-ups, and building answers and error answers (§6.2, §7.2).

use bytes::{Bytes, BytesMut};

use crate::avp::{decode_avps_from, iter_avps, Avp, AvpIter, AvpSlice};
use crate::avp_code as code;
use crate::error::{Error, Result};
use crate::result_code;

/// R bit: request (RFC 6733 §3).
pub const FLAG_REQUEST: u8 = 0x80;
/// P bit: proxiable.
pub const FLAG_PROXIABLE: u8 = 0x40;
/// E bit: the answer carries a protocol error.
pub const FLAG_ERROR: u8 = 0x20;
/// T bit: potentially retransmitted after a link failover.
pub const FLAG_RETRANSMIT: u8 = 0x10;

/// Length of the Diameter header.
pub const HEADER_LEN: usize = 20;
/// Largest value of the 24-bit Message Length field.
pub const MAX_WIRE_LEN: usize = 0x00ff_ffff;

/// Decoding limits (peer-supplied sizes are checked against these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted message, in bytes.
    pub max_message_len: usize,
    /// Deepest accepted Grouped nesting (checked by dictionary validation).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_len: 64 * 1024,
            max_depth: 16,
        }
    }
}

/// The Diameter header (RFC 6733 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Version, always 1.
    pub version: u8,
    /// Command flags (R/P/E/T).
    pub flags: u8,
    /// 24-bit command code.
    pub command_code: u32,
    /// Application-ID.
    pub application_id: u32,
    /// Hop-by-Hop Identifier.
    pub hop_by_hop: u32,
    /// End-to-End Identifier.
    pub end_to_end: u32,
}

impl Header {
    /// Parse the 20-byte header at the start of `buf` (does not check the length against `buf`).
    pub fn parse(buf: &[u8]) -> Result<(Header, usize)> {
        let b: &[u8; HEADER_LEN] = buf
            .get(..HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| Error::InvalidMessageLength {
                reason: format!("{} bytes are too few for a Diameter header", buf.len()),
            })?;
        let version = b[0];
        if version != 1 {
            return Err(Error::UnsupportedVersion(version));
        }
        let len = u32::from_be_bytes([0, b[1], b[2], b[3]]) as usize;
        let h = Header {
            version,
            flags: b[4],
            command_code: u32::from_be_bytes([0, b[5], b[6], b[7]]),
            application_id: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            hop_by_hop: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
            end_to_end: u32::from_be_bytes([b[16], b[17], b[18], b[19]]),
        };
        Ok((h, len))
    }
}

/// A Diameter message: header and top-level AVPs.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The header; `version` is written as 1 whatever it holds.
    pub header: Header,
    /// Top-level AVPs in wire order.
    pub avps: Vec<Avp>,
}

impl Message {
    /// A request (R and P bits set) for `command_code` in `application_id`; the node fills the ids.
    pub fn request(command_code: u32, application_id: u32) -> Message {
        Message {
            header: Header {
                version: 1,
                flags: FLAG_REQUEST | FLAG_PROXIABLE,
                command_code,
                application_id,
                hop_by_hop: 0,
                end_to_end: 0,
            },
            avps: Vec::with_capacity(16),
        }
    }

    /// The answer skeleton for this request (RFC 6733 §6.2): same command, application, Hop-by-Hop
    /// and End-to-End ids, R cleared, P copied; Session-Id copied first and Proxy-Info AVPs copied.
    pub fn answer(&self) -> Message {
        let mut avps = Vec::with_capacity(16);
        if let Some(s) = self.avps.find(code::SESSION_ID, 0) {
            avps.push(s.clone());
        }
        avps.extend(self.avps.find_all(code::PROXY_INFO, 0).cloned());
        Message {
            header: Header {
                version: 1,
                flags: self.header.flags & FLAG_PROXIABLE,
                ..self.header
            },
            avps,
        }
    }

    /// An answer reporting `err` (RFC 6733 §7.2, §7.5): Result-Code, Origin-Host/Realm, Error-Message,
    /// Failed-AVP when the error names an AVP; the E bit for protocol errors (3xxx).
    pub fn error_answer(&self, err: &Error, origin_host: &str, origin_realm: &str) -> Message {
        let rc = err.result_code();
        let mut a = self.answer();
        if result_code::is_protocol_error(rc) {
            a.header.flags |= FLAG_ERROR;
        }
        a.push(Avp::u32(code::RESULT_CODE, rc));
        a.push(Avp::identity(code::ORIGIN_HOST, origin_host));
        a.push(Avp::identity(code::ORIGIN_REALM, origin_realm));
        a.push(Avp::utf8(code::ERROR_MESSAGE, &err.to_string()).mandatory(false));
        if let Some(f) = err.failed_avp() {
            a.push(Avp::grouped(code::FAILED_AVP, vec![f.clone()]));
        }
        a
    }

    /// Append an AVP.
    pub fn push(&mut self, avp: Avp) -> &mut Self {
        self.avps.push(avp);
        self
    }

    /// Append an AVP (builder style).
    pub fn with(mut self, avp: Avp) -> Self {
        self.avps.push(avp);
        self
    }

    /// R bit.
    pub fn is_request(&self) -> bool {
        self.header.flags & FLAG_REQUEST != 0
    }
    /// E bit.
    pub fn is_error(&self) -> bool {
        self.header.flags & FLAG_ERROR != 0
    }
    /// T bit.
    pub fn is_retransmit(&self) -> bool {
        self.header.flags & FLAG_RETRANSMIT != 0
    }
    /// P bit.
    pub fn is_proxiable(&self) -> bool {
        self.header.flags & FLAG_PROXIABLE != 0
    }
    /// Command code.
    pub fn command_code(&self) -> u32 {
        self.header.command_code
    }
    /// Application-ID.
    pub fn application_id(&self) -> u32 {
        self.header.application_id
    }

    /// First AVP with `code` and `vendor` (0 = none).
    pub fn find(&self, code: u32, vendor: u32) -> Option<&Avp> {
        self.avps.find(code, vendor)
    }
    /// Every AVP with `code` and `vendor`.
    pub fn find_all(&self, code: u32, vendor: u32) -> impl Iterator<Item = &Avp> {
        self.avps.find_all(code, vendor)
    }
    /// The AVP or DIAMETER_MISSING_AVP (5005).
    pub fn require(&self, code: u32, vendor: u32) -> Result<&Avp> {
        self.avps.require(code, vendor)
    }
    fn str_of(&self, c: u32) -> Option<&str> {
        self.find(c, 0).and_then(|a| a.as_utf8().ok())
    }
    /// Session-Id, if present and valid UTF-8.
    pub fn session_id(&self) -> Option<&str> {
        self.str_of(code::SESSION_ID)
    }
    /// Origin-Host.
    pub fn origin_host(&self) -> Option<&str> {
        self.str_of(code::ORIGIN_HOST)
    }
    /// Origin-Realm.
    pub fn origin_realm(&self) -> Option<&str> {
        self.str_of(code::ORIGIN_REALM)
    }
    /// Destination-Host.
    pub fn destination_host(&self) -> Option<&str> {
        self.str_of(code::DESTINATION_HOST)
    }
    /// Destination-Realm.
    pub fn destination_realm(&self) -> Option<&str> {
        self.str_of(code::DESTINATION_REALM)
    }
    /// Result-Code, or else Experimental-Result-Code inside Experimental-Result (RFC 6733 §7.6).
    pub fn result_code(&self) -> Option<u32> {
        if let Some(rc) = self
            .find(code::RESULT_CODE, 0)
            .and_then(|a| a.as_u32().ok())
        {
            return Some(rc);
        }
        let er = self.find(code::EXPERIMENTAL_RESULT, 0)?.as_grouped().ok()?;
        er.find(code::EXPERIMENTAL_RESULT_CODE, 0)?.as_u32().ok()
    }

    /// Encoded length in bytes.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.avps.iter().map(Avp::encoded_len).sum::<usize>()
    }

    /// Append the encoded message to `buf` (a reusable buffer).
    pub fn encode(&self, buf: &mut BytesMut) {
        let start = buf.len();
        let len = self.encoded_len();
        buf.resize(start + len, 0);
        let mut w = crate::avp::Writer {
            out: &mut buf[start..],
            pos: 0,
        };
        let h = &self.header;
        let len24 = (len as u32).min(MAX_WIRE_LEN as u32);
        w.put(&((1u32 << 24) | len24).to_be_bytes());
        w.put(&((u32::from(h.flags) << 24) | (h.command_code & 0x00ff_ffff)).to_be_bytes());
        w.put(&h.application_id.to_be_bytes());
        w.put(&h.hop_by_hop.to_be_bytes());
        w.put(&h.end_to_end.to_be_bytes());
        for a in &self.avps {
            a.write(&mut w);
        }
    }

    /// Encode into a fresh buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut b);
        b.freeze()
    }

    /// Decode one complete message with default [`Limits`].
    pub fn decode(buf: Bytes) -> Result<Message> {
        Self::decode_with(buf, &Limits::default())
    }

    /// Decode one complete message (exactly `buf`), zero-copy, checking every length.
    pub fn decode_with(buf: Bytes, limits: &Limits) -> Result<Message> {
        let (header, len) = Header::parse(&buf)?;
        if len != buf.len() {
            return Err(Error::InvalidMessageLength {
                reason: format!("header says {len} bytes, {} received", buf.len()),
            });
        }
        check_len(len, limits)?;
        if header.flags & FLAG_REQUEST != 0 && header.flags & FLAG_ERROR != 0 {
            return Err(Error::InvalidHeaderBits("E bit set in a request"));
        }
        let avps = decode_avps_from(&buf, HEADER_LEN)?;
        Ok(Message { header, avps })
    }

    /// Parse the header of one complete message in `buf` (same checks as [`Message::decode_with`])
    /// and return a borrowed iterator over its top-level AVPs — no reference counting, for hot paths.
    pub fn parse_borrowed<'a>(buf: &'a [u8], limits: &Limits) -> Result<(Header, AvpIter<'a>)> {
        let (header, len) = Header::parse(buf)?;
        if len != buf.len() {
            return Err(Error::InvalidMessageLength {
                reason: format!("header says {len} bytes, {} received", buf.len()),
            });
        }
        check_len(len, limits)?;
        if header.flags & FLAG_REQUEST != 0 && header.flags & FLAG_ERROR != 0 {
            return Err(Error::InvalidHeaderBits("E bit set in a request"));
        }
        Ok((header, iter_avps(buf.get(HEADER_LEN..).unwrap_or_default())))
    }

    /// Dump for logs and tests (without a dictionary: codes only).
    pub fn summary(&self) -> String {
        format!(
            "{}{} cmd={} app={} hbh={:#x} e2e={:#x} avps={}",
            if self.is_request() { "REQ" } else { "ANS" },
            if self.is_error() { "(E)" } else { "" },
            self.header.command_code,
            self.header.application_id,
            self.header.hop_by_hop,
            self.header.end_to_end,
            self.avps.len()
        )
    }
}

/// Check a header's declared length: at least a header, a multiple of 4 (RFC 6733 §3), within limits.
pub fn check_len(len: usize, limits: &Limits) -> Result<()> {
    if len < HEADER_LEN {
        return Err(Error::InvalidMessageLength {
            reason: format!("message length {len} is shorter than the header"),
        });
    }
    if len % 4 != 0 {
        return Err(Error::InvalidMessageLength {
            reason: format!("message length {len} is not a multiple of 4"),
        });
    }
    if len > limits.max_message_len {
        return Err(Error::InvalidMessageLength {
            reason: format!(
                "message length {len} exceeds the limit {}",
                limits.max_message_len
            ),
        });
    }
    Ok(())
}
