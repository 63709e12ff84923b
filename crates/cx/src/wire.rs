//! How typed Cx messages meet the Diameter wire format (RFC 6733 §3, §4): decoding walks the
//! `diameter` crate's borrowed AVP view ([`diameter::AvpRef`]), and writing goes through one
//! interface with two back ends — straight into a reusable `BytesMut`, or into a
//! [`diameter::Message`] tree.
//!
//! Why not only `diameter::Message`: its zero-copy decode slices one refcounted `Bytes` per AVP,
//! and on our machines an atomic refcount pair costs about three allocations; walking borrowed
//! slices and copying the few strings a typed message keeps is several times faster (the MAR+MAA
//! benchmark). Errors are the `diameter::Error`s with the offending AVP, so Result-Codes and
//! Failed-AVP are those of the owned decoder.

use bytes::{BufMut, Bytes, BytesMut};
use diameter::avp::AvpIter;
use diameter::avp::{FLAG_MANDATORY, FLAG_VENDOR};
use diameter::{Avp, AvpDef, Error, Header, Limits, Message, Value};

const AVP_HEADER: usize = 8;
const AVP_HEADER_VENDOR: usize = 12;
const MAX_LEN24: usize = 0x00ff_ffff;

/// One AVP borrowed from a buffer (the `diameter` crate's borrowed view).
pub(crate) type RawAvp<'a> = diameter::AvpRef<'a>;

/// The typed reads the Cx decoders need, on top of [`diameter::AvpRef`]'s accessors.
pub(crate) trait RawExt<'a> {
    /// Vendor-Id, 0 when absent.
    fn vendor(&self) -> u32;
    /// The AVPs inside a Grouped AVP.
    fn children(&self) -> AvpIter<'a>;
    /// A UTF8String, copied.
    fn text(&self) -> Result<String, Error>;
    /// A DiameterIdentity (RFC 6733 §4.3.1), copied.
    fn identity(&self) -> Result<String, Error>;
    /// Unsigned32.
    fn u32(&self) -> Result<u32, Error>;
    /// Unsigned64.
    fn u64(&self) -> Result<u64, Error>;
    /// Enumerated, as the typed enumeration.
    fn enumerated<E: From<i32>>(&self) -> Result<E, Error>;
    /// An OctetString, copied.
    fn octets(&self) -> Bytes;
}

impl<'a> RawExt<'a> for RawAvp<'a> {
    #[inline]
    fn vendor(&self) -> u32 {
        self.vendor_id.unwrap_or(0)
    }
    #[inline]
    fn children(&self) -> AvpIter<'a> {
        self.grouped()
    }
    #[inline]
    fn text(&self) -> Result<String, Error> {
        match std::str::from_utf8(self.data) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(Error::invalid_value(&self.to_avp(), "invalid UTF-8")),
        }
    }
    #[inline]
    fn identity(&self) -> Result<String, Error> {
        // Same rule as `AvpRef::as_identity`, written so that the check vectorises (identities are
        // on every message's hot path); printable ASCII is valid UTF-8.
        let graphic = self
            .data
            .iter()
            .fold(true, |ok, b| ok & b.is_ascii_graphic());
        if self.data.is_empty() || !graphic {
            return Err(Error::invalid_value(
                &self.to_avp(),
                "DiameterIdentity must be non-empty printable ASCII",
            ));
        }
        self.text()
    }
    #[inline]
    fn u32(&self) -> Result<u32, Error> {
        self.as_u32()
    }
    #[inline]
    fn u64(&self) -> Result<u64, Error> {
        self.as_u64()
    }
    #[inline]
    fn enumerated<E: From<i32>>(&self) -> Result<E, Error> {
        self.as_enumerated().map(E::from)
    }
    #[inline]
    fn octets(&self) -> Bytes {
        Bytes::copy_from_slice(self.data)
    }
}

/// Parses and checks a message header exactly as `diameter::Message::decode` does; returns it with
/// the borrowed AVP walker.
pub(crate) fn parse_message(buf: &[u8]) -> Result<(Header, AvpIter<'_>), Error> {
    Message::parse_borrowed(buf, &Limits::default())
}

/// Where typed messages write their AVPs.
pub(crate) trait Sink {
    /// A leaf AVP.
    fn raw(&mut self, code: u32, vendor: u32, mandatory: bool, data: &[u8]);
    /// Opens a Grouped AVP; AVPs until [`Sink::close`] are its children.
    fn open(&mut self, code: u32, vendor: u32, mandatory: bool);
    /// Closes the innermost open Grouped AVP.
    fn close(&mut self);

    fn bytes(&mut self, d: &AvpDef, v: &[u8]) {
        self.raw(d.code, d.vendor_id, d.mandatory, v);
    }
    fn str(&mut self, d: &AvpDef, v: &str) {
        self.raw(d.code, d.vendor_id, d.mandatory, v.as_bytes());
    }
    fn u32(&mut self, d: &AvpDef, v: u32) {
        self.raw(d.code, d.vendor_id, d.mandatory, &v.to_be_bytes());
    }
    fn u64(&mut self, d: &AvpDef, v: u64) {
        self.raw(d.code, d.vendor_id, d.mandatory, &v.to_be_bytes());
    }
    fn i32(&mut self, d: &AvpDef, v: i32) {
        self.raw(d.code, d.vendor_id, d.mandatory, &v.to_be_bytes());
    }
    fn group(&mut self, d: &AvpDef, children: impl FnOnce(&mut Self))
    where
        Self: Sized,
    {
        self.open(d.code, d.vendor_id, d.mandatory);
        children(self);
        self.close();
    }
}

fn avp_flags(vendor: u32, mandatory: bool) -> u8 {
    (if vendor != 0 { FLAG_VENDOR } else { 0 }) | (if mandatory { FLAG_MANDATORY } else { 0 })
}

/// Writes straight into a buffer; Grouped lengths are back-patched.
pub(crate) struct BufSink<'b> {
    buf: &'b mut BytesMut,
    start: usize,
    open: [usize; 8],
    depth: usize,
}

impl<'b> BufSink<'b> {
    /// Starts a message: header with hop-by-hop and end-to-end 0, length patched by [`BufSink::finish`].
    pub fn new(buf: &'b mut BytesMut, flags: u8, command: u32, application: u32) -> Self {
        let start = buf.len();
        buf.reserve(512);
        buf.put_u32(1 << 24);
        buf.put_u32((u32::from(flags) << 24) | (command & 0x00ff_ffff));
        buf.put_u32(application);
        buf.put_u64(0);
        Self {
            buf,
            start,
            open: [0; 8],
            depth: 0,
        }
    }

    fn patch_len(&mut self, at: usize, offset: usize) {
        let len = (self.buf.len() - at).min(MAX_LEN24) as u32;
        if let Some(s) = self.buf.get_mut(at + offset..at + offset + 3) {
            s.copy_from_slice(&len.to_be_bytes()[1..4]);
        }
    }

    /// Patches the message length.
    pub fn finish(mut self) {
        while self.depth > 0 {
            self.close();
        }
        let start = self.start;
        self.patch_len(start, 1);
    }
}

impl Sink for BufSink<'_> {
    #[inline]
    fn raw(&mut self, code: u32, vendor: u32, mandatory: bool, data: &[u8]) {
        let flags = avp_flags(vendor, mandatory);
        let hlen = if vendor != 0 {
            AVP_HEADER_VENDOR
        } else {
            AVP_HEADER
        };
        let len = (hlen + data.len()).min(MAX_LEN24);
        self.buf.reserve(len + 3);
        self.buf.put_u32(code);
        self.buf.put_u32((u32::from(flags) << 24) | len as u32);
        if vendor != 0 {
            self.buf.put_u32(vendor);
        }
        self.buf.put_slice(data);
        self.buf.put_bytes(0, ((len + 3) & !3) - len);
    }

    fn open(&mut self, code: u32, vendor: u32, mandatory: bool) {
        if let Some(slot) = self.open.get_mut(self.depth) {
            *slot = self.buf.len();
            self.depth += 1;
        }
        self.buf.put_u32(code);
        self.buf
            .put_u32(u32::from(avp_flags(vendor, mandatory)) << 24);
        if vendor != 0 {
            self.buf.put_u32(vendor);
        }
    }

    fn close(&mut self) {
        if self.depth == 0 {
            return;
        }
        self.depth -= 1;
        let at = self.open[self.depth.min(7)];
        // Children are padded, so a Grouped AVP's length is already a multiple of 4.
        self.patch_len(at, 5);
    }
}

/// Builds a [`diameter::Message`] tree.
pub(crate) struct TreeSink {
    stack: Vec<(Avp, Vec<Avp>)>,
    root: Vec<Avp>,
}

impl TreeSink {
    pub fn new() -> Self {
        Self {
            stack: Vec::new(),
            root: Vec::with_capacity(16),
        }
    }

    fn push(&mut self, avp: Avp) {
        match self.stack.last_mut() {
            Some((_, children)) => children.push(avp),
            None => self.root.push(avp),
        }
    }

    pub fn finish(mut self, flags: u8, command: u32, application: u32) -> Message {
        while !self.stack.is_empty() {
            self.close();
        }
        let mut m = Message::request(command, application);
        m.header.flags = flags;
        m.avps = self.root;
        m
    }
}

fn bare(code: u32, vendor: u32, mandatory: bool, value: Value) -> Avp {
    Avp {
        code,
        flags: avp_flags(vendor, mandatory),
        vendor_id: (vendor != 0).then_some(vendor),
        value,
    }
}

impl Sink for TreeSink {
    fn raw(&mut self, code: u32, vendor: u32, mandatory: bool, data: &[u8]) {
        self.push(bare(
            code,
            vendor,
            mandatory,
            Value::Bytes(Bytes::copy_from_slice(data)),
        ));
    }

    fn open(&mut self, code: u32, vendor: u32, mandatory: bool) {
        self.stack.push((
            bare(code, vendor, mandatory, Value::Grouped(Vec::new())),
            Vec::new(),
        ));
    }

    fn close(&mut self) {
        if let Some((mut avp, children)) = self.stack.pop() {
            avp.value = Value::Grouped(children);
            self.push(avp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sinks_write_the_same_bytes() {
        let d = AvpDef::new(
            603,
            10415,
            "Server-Capabilities",
            diameter::AvpType::Grouped,
            true,
        );
        let leaf = AvpDef::new(
            604,
            10415,
            "Mandatory-Capability",
            diameter::AvpType::Unsigned32,
            true,
        );
        let mut buf = BytesMut::new();
        let mut b = BufSink::new(&mut buf, 0x80, 300, 16_777_216);
        b.str(
            &AvpDef::new(263, 0, "Session-Id", diameter::AvpType::Utf8String, true),
            "abcde",
        );
        b.group(&d, |s| {
            s.u32(&leaf, 7);
            s.group(&d, |s| s.u32(&leaf, 8));
        });
        b.finish();
        let mut t = TreeSink::new();
        t.str(
            &AvpDef::new(263, 0, "Session-Id", diameter::AvpType::Utf8String, true),
            "abcde",
        );
        t.group(&d, |s| {
            s.u32(&leaf, 7);
            s.group(&d, |s| s.u32(&leaf, 8));
        });
        let m = t.finish(0x80, 300, 16_777_216);
        assert_eq!(m.to_bytes(), buf.freeze());
    }
}
