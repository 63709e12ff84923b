//! AVPs (RFC 6733 §4): header, flags, typed values (§4.2, §4.3), constructors, typed accessors,
//! encoding and zero-copy decoding of AVP lists.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};

use crate::error::{Error, Result};

/// V bit: the optional Vendor-ID field is present (RFC 6733 §4.1).
pub const FLAG_VENDOR: u8 = 0x80;
/// M bit: the receiver must understand the AVP (RFC 6733 §4.1).
pub const FLAG_MANDATORY: u8 = 0x40;
/// P bit: reserved for end-to-end security (RFC 6733 §4.1).
pub const FLAG_PROTECTED: u8 = 0x20;

/// AVP header length without / with a Vendor-ID (RFC 6733 §4.1).
pub const HEADER_LEN: usize = 8;
/// AVP header length with the Vendor-ID field.
pub const HEADER_LEN_VENDOR: usize = 12;

/// Seconds between the NTP epoch (1900-01-01) and the Unix epoch.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A Diameter Time value (RFC 6733 §4.3.1): the NTP seconds field, seconds since 1900-01-01 UTC,
/// read with the RFC 4330 §3 rule for values after 2036 (MSB clear → era 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u32);

impl Time {
    /// Convert a system time (saturating outside the representable range).
    pub fn from_system(t: SystemTime) -> Time {
        let unix = t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Time((unix + NTP_UNIX_OFFSET) as u32)
    }

    /// Convert to a system time.
    pub fn to_system(self) -> SystemTime {
        let ntp = if self.0 & 0x8000_0000 != 0 {
            u64::from(self.0)
        } else {
            u64::from(self.0) + (1u64 << 32)
        };
        UNIX_EPOCH + Duration::from_secs(ntp.saturating_sub(NTP_UNIX_OFFSET))
    }
}

/// An Address value (RFC 6733 §4.3.1): a 2-byte IANA address family followed by the address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// Family 1 (IPv4) or 2 (IPv6).
    Ip(IpAddr),
    /// Any other address family, kept as bytes.
    Other {
        /// IANA address family number.
        family: u16,
        /// The address bytes.
        bytes: Bytes,
    },
}

impl Address {
    fn encoded_len(&self) -> usize {
        match self {
            Address::Ip(IpAddr::V4(_)) => 6,
            Address::Ip(IpAddr::V6(_)) => 18,
            Address::Other { bytes, .. } => 2 + bytes.len(),
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        match self {
            Address::Ip(IpAddr::V4(a)) => {
                w.put(&1u16.to_be_bytes());
                w.put(&a.octets());
            }
            Address::Ip(IpAddr::V6(a)) => {
                w.put(&2u16.to_be_bytes());
                w.put(&a.octets());
            }
            Address::Other { family, bytes } => {
                w.put(&family.to_be_bytes());
                w.put(bytes);
            }
        }
    }

    /// Parse the payload of an Address AVP; `None` if malformed.
    fn parse(b: &Bytes) -> std::result::Result<Address, &'static str> {
        let fam = b.get(0..2).ok_or("address shorter than its family field")?;
        let family = u16::from_be_bytes([fam[0], fam[1]]);
        let rest = b.slice(2..);
        match family {
            1 => {
                let o: [u8; 4] = rest[..]
                    .try_into()
                    .map_err(|_| "IPv4 address is not 4 bytes")?;
                Ok(Address::Ip(IpAddr::V4(Ipv4Addr::from(o))))
            }
            2 => {
                let o: [u8; 16] = rest[..]
                    .try_into()
                    .map_err(|_| "IPv6 address is not 16 bytes")?;
                Ok(Address::Ip(IpAddr::V6(Ipv6Addr::from(o))))
            }
            _ => Ok(Address::Other {
                family,
                bytes: rest,
            }),
        }
    }
}

/// The value of an AVP (RFC 6733 §4.2 basic and §4.3 derived types).
///
/// Decoded AVPs always hold [`Value::Bytes`] (a zero-copy slice of the received message); the typed
/// accessors of [`Avp`] parse it on demand.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// OctetString and its derivatives (UTF8String, DiameterIdentity, DiameterURI), and every decoded payload.
    Bytes(Bytes),
    /// Integer32.
    Integer32(i32),
    /// Integer64.
    Integer64(i64),
    /// Unsigned32.
    Unsigned32(u32),
    /// Unsigned64.
    Unsigned64(u64),
    /// Float32.
    Float32(f32),
    /// Float64.
    Float64(f64),
    /// Enumerated (encoded as Integer32, §4.3.1).
    Enumerated(i32),
    /// Time (§4.3.1).
    Time(Time),
    /// Address (§4.3.1).
    Address(Address),
    /// Grouped (§4.4).
    Grouped(Vec<Avp>),
}

impl Value {
    /// Length of the encoded payload (without AVP header or padding).
    pub fn encoded_len(&self) -> usize {
        match self {
            Value::Bytes(b) => b.len(),
            Value::Integer32(_)
            | Value::Unsigned32(_)
            | Value::Float32(_)
            | Value::Enumerated(_)
            | Value::Time(_) => 4,
            Value::Integer64(_) | Value::Unsigned64(_) | Value::Float64(_) => 8,
            Value::Address(a) => a.encoded_len(),
            Value::Grouped(g) => g.iter().map(Avp::encoded_len).sum(),
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        match self {
            Value::Bytes(b) => w.put(b),
            Value::Integer32(v) | Value::Enumerated(v) => w.put(&v.to_be_bytes()),
            Value::Integer64(v) => w.put(&v.to_be_bytes()),
            Value::Unsigned32(v) => w.put(&v.to_be_bytes()),
            Value::Unsigned64(v) => w.put(&v.to_be_bytes()),
            Value::Float32(v) => w.put(&v.to_be_bytes()),
            Value::Float64(v) => w.put(&v.to_be_bytes()),
            Value::Time(t) => w.put(&t.0.to_be_bytes()),
            Value::Address(a) => a.write(w),
            Value::Grouped(g) => {
                for a in g {
                    a.write(w);
                }
            }
        }
    }
}

/// Writes into a pre-sized, zero-filled slice; lengths come from `encoded_len`, so writes always fit
/// (a write that would not fit is dropped rather than panicking).
pub(crate) struct Writer<'a> {
    pub(crate) out: &'a mut [u8],
    pub(crate) pos: usize,
}

impl Writer<'_> {
    #[inline]
    pub(crate) fn put(&mut self, b: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.pos..self.pos + b.len()) {
            dst.copy_from_slice(b);
        }
        self.pos += b.len();
    }
    #[inline]
    fn pad4(&mut self) {
        self.pos = pad4(self.pos);
    }
}

macro_rules! value_from {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value { Value::$v(v) }
        }
    )*};
}
value_from!(i32 => Integer32, i64 => Integer64, u32 => Unsigned32, u64 => Unsigned64, f32 => Float32,
    f64 => Float64, Time => Time, Address => Address, Vec<Avp> => Grouped, Bytes => Bytes);

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Bytes(Bytes::copy_from_slice(v.as_bytes()))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Bytes(Bytes::from(v))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::from(v.as_str())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(Bytes::from(v))
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Bytes(Bytes::copy_from_slice(v))
    }
}
impl From<IpAddr> for Value {
    fn from(v: IpAddr) -> Value {
        Value::Address(Address::Ip(v))
    }
}
impl From<SystemTime> for Value {
    fn from(v: SystemTime) -> Value {
        Value::Time(Time::from_system(v))
    }
}

/// One AVP (RFC 6733 §4.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Avp {
    /// AVP code.
    pub code: u32,
    /// Flags byte (V/M/P); the V bit is derived from `vendor_id` when encoding.
    pub flags: u8,
    /// Vendor-ID, present iff the V bit is set.
    pub vendor_id: Option<u32>,
    /// The value.
    pub value: Value,
}

impl Avp {
    /// An AVP with the M bit set and no vendor.
    pub fn new(code: u32, value: impl Into<Value>) -> Avp {
        Avp {
            code,
            flags: FLAG_MANDATORY,
            vendor_id: None,
            value: value.into(),
        }
    }
    /// OctetString.
    pub fn octets(code: u32, v: impl Into<Bytes>) -> Avp {
        Avp::new(code, Value::Bytes(v.into()))
    }
    /// UTF8String.
    pub fn utf8(code: u32, v: &str) -> Avp {
        Avp::new(code, v)
    }
    /// DiameterIdentity (RFC 6733 §4.3.1), encoded like UTF8String.
    pub fn identity(code: u32, v: &str) -> Avp {
        Avp::new(code, v)
    }
    /// Unsigned32.
    pub fn u32(code: u32, v: u32) -> Avp {
        Avp::new(code, Value::Unsigned32(v))
    }
    /// Unsigned64.
    pub fn u64(code: u32, v: u64) -> Avp {
        Avp::new(code, Value::Unsigned64(v))
    }
    /// Integer32.
    pub fn i32(code: u32, v: i32) -> Avp {
        Avp::new(code, Value::Integer32(v))
    }
    /// Integer64.
    pub fn i64(code: u32, v: i64) -> Avp {
        Avp::new(code, Value::Integer64(v))
    }
    /// Float32.
    pub fn f32(code: u32, v: f32) -> Avp {
        Avp::new(code, Value::Float32(v))
    }
    /// Float64.
    pub fn f64(code: u32, v: f64) -> Avp {
        Avp::new(code, Value::Float64(v))
    }
    /// Enumerated.
    pub fn enumerated(code: u32, v: i32) -> Avp {
        Avp::new(code, Value::Enumerated(v))
    }
    /// Address holding an IP address.
    pub fn address(code: u32, ip: IpAddr) -> Avp {
        Avp::new(code, Value::Address(Address::Ip(ip)))
    }
    /// Time.
    pub fn time(code: u32, t: SystemTime) -> Avp {
        Avp::new(code, Value::Time(Time::from_system(t)))
    }
    /// Grouped.
    pub fn grouped(code: u32, children: Vec<Avp>) -> Avp {
        Avp::new(code, Value::Grouped(children))
    }

    /// Set a Vendor-ID (and the V bit).
    pub fn vendor(mut self, vendor_id: u32) -> Avp {
        self.vendor_id = Some(vendor_id);
        self.flags |= FLAG_VENDOR;
        self
    }
    /// Set or clear the M bit.
    pub fn mandatory(mut self, m: bool) -> Avp {
        if m {
            self.flags |= FLAG_MANDATORY
        } else {
            self.flags &= !FLAG_MANDATORY
        }
        self
    }
    /// Set or clear the P bit.
    pub fn protected(mut self, p: bool) -> Avp {
        if p {
            self.flags |= FLAG_PROTECTED
        } else {
            self.flags &= !FLAG_PROTECTED
        }
        self
    }

    /// Whether the M bit is set.
    pub fn is_mandatory(&self) -> bool {
        self.flags & FLAG_MANDATORY != 0
    }
    /// Vendor id, 0 when absent.
    pub fn vendor_or_zero(&self) -> u32 {
        self.vendor_id.unwrap_or(0)
    }
    /// Whether this AVP has `code` and vendor `vendor` (0 = none).
    pub fn is(&self, code: u32, vendor: u32) -> bool {
        self.code == code && self.vendor_or_zero() == vendor
    }

    /// Total encoded length including header and padding.
    pub fn encoded_len(&self) -> usize {
        let h = if self.vendor_id.is_some() {
            HEADER_LEN_VENDOR
        } else {
            HEADER_LEN
        };
        pad4(h + self.value.encoded_len())
    }

    /// Append the encoded AVP (with padding) to `buf`.
    pub fn encode(&self, buf: &mut BytesMut) {
        let start = buf.len();
        let len = self.encoded_len();
        buf.resize(start + len, 0);
        let mut w = Writer {
            out: &mut buf[start..],
            pos: 0,
        };
        self.write(&mut w);
    }

    /// Write into a zero-filled area of exactly `encoded_len()` bytes (padding stays zero).
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        let flags = match self.vendor_id {
            Some(_) => self.flags | FLAG_VENDOR,
            None => self.flags & !FLAG_VENDOR,
        };
        let hlen = if self.vendor_id.is_some() {
            HEADER_LEN_VENDOR
        } else {
            HEADER_LEN
        };
        let len = (hlen + self.value.encoded_len()) as u32;
        w.put(&self.code.to_be_bytes());
        w.put(&((u32::from(flags) << 24) | len.min(0x00ff_ffff)).to_be_bytes());
        if let Some(v) = self.vendor_id {
            w.put(&v.to_be_bytes());
        }
        self.value.write(w);
        w.pad4();
    }

    fn raw(&self) -> Option<&Bytes> {
        match &self.value {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    fn fixed<const N: usize>(&self, what: &str) -> Result<[u8; N]> {
        let b = self
            .raw()
            .ok_or_else(|| Error::invalid_value(self, format!("not {what}")))?;
        b[..].try_into().map_err(|_| {
            Error::invalid_length(self, format!("{what} needs {N} bytes, got {}", b.len()))
        })
    }

    /// The raw bytes of an OctetString-based AVP.
    pub fn as_bytes(&self) -> Result<&[u8]> {
        self.raw()
            .map(|b| &b[..])
            .ok_or_else(|| Error::invalid_value(self, "not an OctetString"))
    }
    /// The raw bytes as `Bytes` (zero-copy for decoded AVPs).
    pub fn as_octets(&self) -> Result<Bytes> {
        self.raw()
            .cloned()
            .ok_or_else(|| Error::invalid_value(self, "not an OctetString"))
    }
    /// A UTF8String, validated (invalid UTF-8 → 5004).
    pub fn as_utf8(&self) -> Result<&str> {
        let b = self.as_bytes()?;
        std::str::from_utf8(b).map_err(|_| Error::invalid_value(self, "invalid UTF-8"))
    }
    /// A DiameterIdentity (RFC 6733 §4.3.1): a non-empty ASCII FQDN/realm.
    pub fn as_identity(&self) -> Result<&str> {
        let s = self.as_utf8()?;
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_graphic()) {
            return Err(Error::invalid_value(
                self,
                "DiameterIdentity must be non-empty printable ASCII",
            ));
        }
        Ok(s)
    }
    /// Unsigned32.
    pub fn as_u32(&self) -> Result<u32> {
        match self.value {
            Value::Unsigned32(v) => Ok(v),
            Value::Time(t) => Ok(t.0),
            _ => self.fixed::<4>("Unsigned32").map(u32::from_be_bytes),
        }
    }
    /// Unsigned64.
    pub fn as_u64(&self) -> Result<u64> {
        match self.value {
            Value::Unsigned64(v) => Ok(v),
            _ => self.fixed::<8>("Unsigned64").map(u64::from_be_bytes),
        }
    }
    /// Integer32.
    pub fn as_i32(&self) -> Result<i32> {
        match self.value {
            Value::Integer32(v) | Value::Enumerated(v) => Ok(v),
            _ => self.fixed::<4>("Integer32").map(i32::from_be_bytes),
        }
    }
    /// Enumerated (an Integer32).
    pub fn as_enumerated(&self) -> Result<i32> {
        self.as_i32()
    }
    /// Integer64.
    pub fn as_i64(&self) -> Result<i64> {
        match self.value {
            Value::Integer64(v) => Ok(v),
            _ => self.fixed::<8>("Integer64").map(i64::from_be_bytes),
        }
    }
    /// Float32.
    pub fn as_f32(&self) -> Result<f32> {
        match self.value {
            Value::Float32(v) => Ok(v),
            _ => self.fixed::<4>("Float32").map(f32::from_be_bytes),
        }
    }
    /// Float64.
    pub fn as_f64(&self) -> Result<f64> {
        match self.value {
            Value::Float64(v) => Ok(v),
            _ => self.fixed::<8>("Float64").map(f64::from_be_bytes),
        }
    }
    /// Time.
    pub fn as_time(&self) -> Result<Time> {
        match self.value {
            Value::Time(t) => Ok(t),
            _ => self.fixed::<4>("Time").map(|b| Time(u32::from_be_bytes(b))),
        }
    }
    /// Address (5014 if shorter than the family field or wrong size for IPv4/IPv6).
    pub fn as_address(&self) -> Result<Address> {
        match &self.value {
            Value::Address(a) => Ok(a.clone()),
            Value::Bytes(b) => Address::parse(b).map_err(|r| Error::invalid_length(self, r)),
            _ => Err(Error::invalid_value(self, "not an Address")),
        }
    }
    /// Address that must be IPv4 or IPv6 (other families → 5004).
    pub fn as_ip(&self) -> Result<IpAddr> {
        match self.as_address()? {
            Address::Ip(ip) => Ok(ip),
            Address::Other { family, .. } => Err(Error::invalid_value(
                self,
                format!("address family {family} is not IP"),
            )),
        }
    }
    /// The children of a Grouped AVP (one level parsed; malformed → 5014).
    pub fn as_grouped(&self) -> Result<Cow<'_, [Avp]>> {
        match &self.value {
            Value::Grouped(g) => Ok(Cow::Borrowed(g)),
            Value::Bytes(b) => decode_avps(b).map(Cow::Owned),
            _ => Err(Error::invalid_value(self, "not Grouped")),
        }
    }
}

/// Round up to a multiple of 4 (AVP padding, RFC 6733 §4.1).
pub fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// Decode a sequence of AVPs (one level) from `buf`, zero-copy. Every length is checked against
/// what remains; a violation is DIAMETER_INVALID_AVP_LENGTH (5014) naming the offending AVP.
pub fn decode_avps(buf: &Bytes) -> Result<Vec<Avp>> {
    decode_avps_from(buf, 0)
}

/// Like [`decode_avps`] for the bytes of `buf` from offset `start` on (a message body).
pub fn decode_avps_from(buf: &Bytes, start: usize) -> Result<Vec<Avp>> {
    let mut out = Vec::with_capacity(buf.len().saturating_sub(start) / 24 + 1);
    let mut pos = start;
    while pos < buf.len() {
        let l = match locate(buf, pos) {
            Ok(l) => l,
            Err(bad) => return Err(bad_to_error(buf, *bad)),
        };
        out.push(Avp {
            code: l.code,
            flags: l.flags,
            vendor_id: l.vendor,
            value: Value::Bytes(buf.slice(l.data)),
        });
        pos = l.next;
    }
    Ok(out)
}

#[cold]
fn bad_to_error(buf: &Bytes, bad: Bad) -> Error {
    let data = buf.slice(bad.data.clone());
    bad.into_error(data)
}

/// Where one AVP lies in a buffer.
pub(crate) struct Located {
    pub(crate) code: u32,
    pub(crate) flags: u8,
    pub(crate) vendor: Option<u32>,
    pub(crate) data: std::ops::Range<usize>,
    pub(crate) next: usize,
}

/// Why the AVP at some offset is malformed (with what is known of it, for Failed-AVP).
pub(crate) struct Bad {
    code: u32,
    flags: u8,
    vendor: Option<u32>,
    data: std::ops::Range<usize>,
    reason: String,
}

impl Bad {
    fn into_error(self, data: Bytes) -> Error {
        let avp = Avp {
            code: self.code,
            flags: self.flags,
            vendor_id: self.vendor,
            value: Value::Bytes(data),
        };
        Error::InvalidAvpLength {
            avp: Box::new(avp),
            reason: self.reason,
        }
    }
}

/// Find the AVP at `pos` in `buf` (RFC 6733 §4.1), checking every length: header present, length at
/// least the header, data within the buffer, padding present.
#[inline]
pub(crate) fn locate(buf: &[u8], pos: usize) -> std::result::Result<Located, Box<Bad>> {
    let end = buf.len();
    let avail = end.saturating_sub(pos);
    let Some(h) = buf
        .get(pos..pos + HEADER_LEN)
        .and_then(|s| <&[u8; 8]>::try_from(s).ok())
    else {
        return Err(Box::new(Bad {
            code: 0,
            flags: 0,
            vendor: None,
            data: pos.min(end)..end,
            reason: format!("{avail} trailing bytes are too few for an AVP header"),
        }));
    };
    let code = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let flags = h[4];
    let len = u32::from_be_bytes([0, h[5], h[6], h[7]]) as usize;
    let (vendor, hlen) = if flags & FLAG_VENDOR != 0 {
        match buf
            .get(pos + 8..pos + 12)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
        {
            Some(v) => (Some(u32::from_be_bytes(v)), HEADER_LEN_VENDOR),
            None => {
                let reason = "AVP truncated in its Vendor-ID".into();
                return Err(Box::new(Bad {
                    code,
                    flags,
                    vendor: None,
                    data: end..end,
                    reason,
                }));
            }
        }
    } else {
        (None, HEADER_LEN)
    };
    if len < hlen {
        let reason = format!("AVP length {len} is shorter than its {hlen}-byte header");
        return Err(Box::new(Bad {
            code,
            flags,
            vendor,
            data: end..end,
            reason,
        }));
    }
    let data = pos + hlen..pos + len;
    if data.end > end {
        let reason = format!("AVP length {len} exceeds the {avail} bytes left");
        return Err(Box::new(Bad {
            code,
            flags,
            vendor,
            data: data.start..end,
            reason,
        }));
    }
    // RFC 6733 §4.1: padding is counted in the enclosing length, so it must be present.
    let next = pos + pad4(len);
    if next > end {
        let reason = "AVP padding missing at the end of its container".into();
        return Err(Box::new(Bad {
            code,
            flags,
            vendor,
            data,
            reason,
        }));
    }
    Ok(Located {
        code,
        flags,
        vendor,
        data,
        next,
    })
}

/// A borrowed view of one AVP (no reference counting): for hot paths that walk a message without
/// building [`Avp`]s. Accessors mirror [`Avp`]'s; errors carry an owned copy for Failed-AVP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvpRef<'a> {
    /// AVP code.
    pub code: u32,
    /// Flags byte.
    pub flags: u8,
    /// Vendor-ID.
    pub vendor_id: Option<u32>,
    /// The payload (without padding).
    pub data: &'a [u8],
}

impl<'a> AvpRef<'a> {
    /// An owned copy (for Failed-AVP or to keep).
    pub fn to_avp(&self) -> Avp {
        Avp {
            code: self.code,
            flags: self.flags,
            vendor_id: self.vendor_id,
            value: Value::Bytes(Bytes::copy_from_slice(self.data)),
        }
    }
    /// Whether this AVP has `code` and vendor `vendor` (0 = none).
    pub fn is(&self, code: u32, vendor: u32) -> bool {
        self.code == code && self.vendor_id.unwrap_or(0) == vendor
    }
    /// Whether the M bit is set.
    pub fn is_mandatory(&self) -> bool {
        self.flags & FLAG_MANDATORY != 0
    }
    fn fixed<const N: usize>(&self, what: &str) -> Result<[u8; N]> {
        self.data.try_into().map_err(|_| {
            Error::invalid_length(
                &self.to_avp(),
                format!("{what} needs {N} bytes, got {}", self.data.len()),
            )
        })
    }
    /// OctetString payload.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }
    /// UTF8String (invalid UTF-8 → 5004).
    pub fn as_utf8(&self) -> Result<&'a str> {
        std::str::from_utf8(self.data)
            .map_err(|_| Error::invalid_value(&self.to_avp(), "invalid UTF-8"))
    }
    /// DiameterIdentity: non-empty printable ASCII.
    pub fn as_identity(&self) -> Result<&'a str> {
        let s = self.as_utf8()?;
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_graphic()) {
            return Err(Error::invalid_value(
                &self.to_avp(),
                "DiameterIdentity must be non-empty printable ASCII",
            ));
        }
        Ok(s)
    }
    /// Unsigned32.
    pub fn as_u32(&self) -> Result<u32> {
        self.fixed::<4>("Unsigned32").map(u32::from_be_bytes)
    }
    /// Unsigned64.
    pub fn as_u64(&self) -> Result<u64> {
        self.fixed::<8>("Unsigned64").map(u64::from_be_bytes)
    }
    /// Integer32 / Enumerated.
    pub fn as_i32(&self) -> Result<i32> {
        self.fixed::<4>("Integer32").map(i32::from_be_bytes)
    }
    /// Enumerated.
    pub fn as_enumerated(&self) -> Result<i32> {
        self.as_i32()
    }
    /// Integer64.
    pub fn as_i64(&self) -> Result<i64> {
        self.fixed::<8>("Integer64").map(i64::from_be_bytes)
    }
    /// Float32.
    pub fn as_f32(&self) -> Result<f32> {
        self.fixed::<4>("Float32").map(f32::from_be_bytes)
    }
    /// Float64.
    pub fn as_f64(&self) -> Result<f64> {
        self.fixed::<8>("Float64").map(f64::from_be_bytes)
    }
    /// Time.
    pub fn as_time(&self) -> Result<Time> {
        self.fixed::<4>("Time").map(|b| Time(u32::from_be_bytes(b)))
    }
    /// Address.
    pub fn as_address(&self) -> Result<Address> {
        Address::parse(&Bytes::copy_from_slice(self.data))
            .map_err(|r| Error::invalid_length(&self.to_avp(), r))
    }
    /// The children of a Grouped AVP, borrowed.
    pub fn grouped(&self) -> AvpIter<'a> {
        iter_avps(self.data)
    }
}

/// Iterator over the AVPs of a buffer, borrowed; yields an error (5014) and then stops at the first
/// malformed AVP.
#[derive(Debug, Clone)]
pub struct AvpIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for AvpIter<'a> {
    type Item = Result<AvpRef<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        match locate(self.buf, self.pos) {
            Ok(l) => {
                self.pos = l.next;
                let data = self.buf.get(l.data).unwrap_or_default();
                Some(Ok(AvpRef {
                    code: l.code,
                    flags: l.flags,
                    vendor_id: l.vendor,
                    data,
                }))
            }
            Err(bad) => {
                self.pos = self.buf.len();
                let data =
                    Bytes::copy_from_slice(self.buf.get(bad.data.clone()).unwrap_or_default());
                Some(Err((*bad).into_error(data)))
            }
        }
    }
}

/// Walk the AVPs of `buf` without reference counting (same checks as [`decode_avps`]).
pub fn iter_avps(buf: &[u8]) -> AvpIter<'_> {
    AvpIter { buf, pos: 0 }
}

/// Look-ups over a list of AVPs (a message body or a Grouped AVP's children).
pub trait AvpSlice {
    /// The first AVP with `code` and vendor `vendor` (0 = none).
    fn find(&self, code: u32, vendor: u32) -> Option<&Avp>;
    /// Every AVP with `code` and `vendor`.
    fn find_all(&self, code: u32, vendor: u32) -> impl Iterator<Item = &Avp>;
    /// The first AVP with `code` and `vendor`, or DIAMETER_MISSING_AVP (5005).
    fn require(&self, code: u32, vendor: u32) -> Result<&Avp> {
        self.find(code, vendor)
            .ok_or_else(|| Error::missing(code, vendor))
    }
}

impl AvpSlice for [Avp] {
    fn find(&self, code: u32, vendor: u32) -> Option<&Avp> {
        self.iter().find(|a| a.is(code, vendor))
    }
    fn find_all(&self, code: u32, vendor: u32) -> impl Iterator<Item = &Avp> {
        self.iter().filter(move |a| a.is(code, vendor))
    }
}

impl AvpSlice for Vec<Avp> {
    fn find(&self, code: u32, vendor: u32) -> Option<&Avp> {
        self.as_slice().find(code, vendor)
    }
    fn find_all(&self, code: u32, vendor: u32) -> impl Iterator<Item = &Avp> {
        self.as_slice().find_all(code, vendor)
    }
}
