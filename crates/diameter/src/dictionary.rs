//! AVP dictionary: the base AVPs of RFC 6733 §4.5 as a static table, extensible with application
//! tables (e.g. Cx/Dx of TS 29.229), used to validate received messages (§7.5 error cases) and to
//! print them.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use bytes::Bytes;

use crate::avp::{decode_avps, Avp, Value};
use crate::avp_code as c;
use crate::error::{Error, Result};
use crate::message::{Limits, Message};

/// Data formats of RFC 6733 §4.2 and §4.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AvpType {
    /// OctetString.
    OctetString,
    /// Integer32.
    Integer32,
    /// Integer64.
    Integer64,
    /// Unsigned32.
    Unsigned32,
    /// Unsigned64.
    Unsigned64,
    /// Float32.
    Float32,
    /// Float64.
    Float64,
    /// Grouped.
    Grouped,
    /// Address.
    Address,
    /// Time.
    Time,
    /// UTF8String.
    Utf8String,
    /// DiameterIdentity.
    DiameterIdentity,
    /// DiameterURI.
    DiameterUri,
    /// Enumerated.
    Enumerated,
}

/// One dictionary entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvpDef {
    /// AVP code.
    pub code: u32,
    /// Vendor-ID, 0 for IETF AVPs.
    pub vendor_id: u32,
    /// Name as in the specification.
    pub name: &'static str,
    /// Data format.
    pub ty: AvpType,
    /// Whether the M bit MUST be set when we send it.
    pub mandatory: bool,
}

impl AvpDef {
    /// A dictionary entry.
    pub const fn new(
        code: u32,
        vendor_id: u32,
        name: &'static str,
        ty: AvpType,
        mandatory: bool,
    ) -> Self {
        AvpDef {
            code,
            vendor_id,
            name,
            ty,
            mandatory,
        }
    }

    /// An AVP of this definition (vendor id and M bit from the entry).
    pub fn avp(&self, value: impl Into<Value>) -> Avp {
        let mut value = value.into();
        if let (AvpType::Enumerated, Value::Integer32(v)) = (self.ty, &value) {
            value = Value::Enumerated(*v);
        }
        let a = Avp::new(self.code, value).mandatory(self.mandatory);
        if self.vendor_id != 0 {
            a.vendor(self.vendor_id)
        } else {
            a
        }
    }

    /// Example AVP for DIAMETER_MISSING_AVP: a zero-filled payload of the type's minimum length
    /// (RFC 6733 §7.5).
    pub fn example(&self) -> Avp {
        let len = match self.ty {
            Integer32 | Unsigned32 | Float32 | Enumerated | Time => 4,
            Integer64 | Unsigned64 | Float64 => 8,
            Address => 6,
            OctetString | Utf8String | DiameterIdentity | DiameterUri | Grouped => 0,
        };
        self.avp(Value::Bytes(Bytes::from(vec![0u8; len])))
    }
}

use AvpType::*;

/// The base protocol AVPs (RFC 6733 §4.5 table; M rules per the RFC and Wireshark's dictionary).
pub static BASE_AVPS: &[AvpDef] = &[
    AvpDef::new(c::USER_NAME, 0, "User-Name", Utf8String, true),
    AvpDef::new(c::CLASS, 0, "Class", OctetString, true),
    AvpDef::new(c::SESSION_TIMEOUT, 0, "Session-Timeout", Unsigned32, true),
    AvpDef::new(c::PROXY_STATE, 0, "Proxy-State", OctetString, true),
    AvpDef::new(c::ACCT_SESSION_ID, 0, "Acct-Session-Id", OctetString, true),
    AvpDef::new(
        c::ACCT_MULTI_SESSION_ID,
        0,
        "Acct-Multi-Session-Id",
        Utf8String,
        true,
    ),
    AvpDef::new(c::EVENT_TIMESTAMP, 0, "Event-Timestamp", Time, true),
    AvpDef::new(
        c::ACCT_INTERIM_INTERVAL,
        0,
        "Acct-Interim-Interval",
        Unsigned32,
        true,
    ),
    AvpDef::new(c::HOST_IP_ADDRESS, 0, "Host-IP-Address", Address, true),
    AvpDef::new(
        c::AUTH_APPLICATION_ID,
        0,
        "Auth-Application-Id",
        Unsigned32,
        true,
    ),
    AvpDef::new(
        c::ACCT_APPLICATION_ID,
        0,
        "Acct-Application-Id",
        Unsigned32,
        true,
    ),
    AvpDef::new(
        c::VENDOR_SPECIFIC_APPLICATION_ID,
        0,
        "Vendor-Specific-Application-Id",
        Grouped,
        true,
    ),
    AvpDef::new(
        c::REDIRECT_HOST_USAGE,
        0,
        "Redirect-Host-Usage",
        Enumerated,
        true,
    ),
    AvpDef::new(
        c::REDIRECT_MAX_CACHE_TIME,
        0,
        "Redirect-Max-Cache-Time",
        Unsigned32,
        true,
    ),
    AvpDef::new(c::SESSION_ID, 0, "Session-Id", Utf8String, true),
    AvpDef::new(c::ORIGIN_HOST, 0, "Origin-Host", DiameterIdentity, true),
    AvpDef::new(
        c::SUPPORTED_VENDOR_ID,
        0,
        "Supported-Vendor-Id",
        Unsigned32,
        true,
    ),
    AvpDef::new(c::VENDOR_ID, 0, "Vendor-Id", Unsigned32, true),
    AvpDef::new(
        c::FIRMWARE_REVISION,
        0,
        "Firmware-Revision",
        Unsigned32,
        false,
    ),
    AvpDef::new(c::RESULT_CODE, 0, "Result-Code", Unsigned32, true),
    AvpDef::new(c::PRODUCT_NAME, 0, "Product-Name", Utf8String, false),
    AvpDef::new(c::SESSION_BINDING, 0, "Session-Binding", Unsigned32, true),
    AvpDef::new(
        c::SESSION_SERVER_FAILOVER,
        0,
        "Session-Server-Failover",
        Enumerated,
        true,
    ),
    AvpDef::new(
        c::MULTI_ROUND_TIME_OUT,
        0,
        "Multi-Round-Time-Out",
        Unsigned32,
        true,
    ),
    AvpDef::new(c::DISCONNECT_CAUSE, 0, "Disconnect-Cause", Enumerated, true),
    AvpDef::new(
        c::AUTH_REQUEST_TYPE,
        0,
        "Auth-Request-Type",
        Enumerated,
        true,
    ),
    AvpDef::new(
        c::AUTH_GRACE_PERIOD,
        0,
        "Auth-Grace-Period",
        Unsigned32,
        true,
    ),
    AvpDef::new(
        c::AUTH_SESSION_STATE,
        0,
        "Auth-Session-State",
        Enumerated,
        true,
    ),
    AvpDef::new(c::ORIGIN_STATE_ID, 0, "Origin-State-Id", Unsigned32, true),
    AvpDef::new(c::FAILED_AVP, 0, "Failed-AVP", Grouped, true),
    AvpDef::new(c::PROXY_HOST, 0, "Proxy-Host", DiameterIdentity, true),
    AvpDef::new(c::ERROR_MESSAGE, 0, "Error-Message", Utf8String, false),
    AvpDef::new(c::ROUTE_RECORD, 0, "Route-Record", DiameterIdentity, true),
    AvpDef::new(
        c::DESTINATION_REALM,
        0,
        "Destination-Realm",
        DiameterIdentity,
        true,
    ),
    AvpDef::new(c::PROXY_INFO, 0, "Proxy-Info", Grouped, true),
    AvpDef::new(
        c::RE_AUTH_REQUEST_TYPE,
        0,
        "Re-Auth-Request-Type",
        Enumerated,
        true,
    ),
    AvpDef::new(
        c::ACCOUNTING_SUB_SESSION_ID,
        0,
        "Accounting-Sub-Session-Id",
        Unsigned64,
        true,
    ),
    AvpDef::new(
        c::AUTHORIZATION_LIFETIME,
        0,
        "Authorization-Lifetime",
        Unsigned32,
        true,
    ),
    AvpDef::new(c::REDIRECT_HOST, 0, "Redirect-Host", DiameterUri, true),
    AvpDef::new(
        c::DESTINATION_HOST,
        0,
        "Destination-Host",
        DiameterIdentity,
        true,
    ),
    AvpDef::new(
        c::ERROR_REPORTING_HOST,
        0,
        "Error-Reporting-Host",
        DiameterIdentity,
        false,
    ),
    AvpDef::new(
        c::TERMINATION_CAUSE,
        0,
        "Termination-Cause",
        Enumerated,
        true,
    ),
    AvpDef::new(c::ORIGIN_REALM, 0, "Origin-Realm", DiameterIdentity, true),
    AvpDef::new(
        c::EXPERIMENTAL_RESULT,
        0,
        "Experimental-Result",
        Grouped,
        true,
    ),
    AvpDef::new(
        c::EXPERIMENTAL_RESULT_CODE,
        0,
        "Experimental-Result-Code",
        Unsigned32,
        true,
    ),
    AvpDef::new(
        c::INBAND_SECURITY_ID,
        0,
        "Inband-Security-Id",
        Unsigned32,
        true,
    ),
    AvpDef::new(
        c::ACCOUNTING_RECORD_TYPE,
        0,
        "Accounting-Record-Type",
        Enumerated,
        true,
    ),
    AvpDef::new(
        c::ACCOUNTING_REALTIME_REQUIRED,
        0,
        "Accounting-Realtime-Required",
        Enumerated,
        true,
    ),
    AvpDef::new(
        c::ACCOUNTING_RECORD_NUMBER,
        0,
        "Accounting-Record-Number",
        Unsigned32,
        true,
    ),
];

/// A merged set of AVP tables, cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Dictionary {
    map: Arc<HashMap<(u32, u32), &'static AvpDef>>,
    limits: Limits,
}

impl Default for Dictionary {
    fn default() -> Self {
        Dictionary::base()
    }
}

impl Dictionary {
    /// An empty dictionary (every M-bit AVP is unsupported).
    pub fn empty() -> Dictionary {
        Dictionary {
            map: Arc::new(HashMap::new()),
            limits: Limits::default(),
        }
    }

    /// The base protocol dictionary.
    pub fn base() -> Dictionary {
        Dictionary::empty().with(BASE_AVPS)
    }

    /// Add a static table (later tables override earlier entries with the same code and vendor).
    pub fn with(mut self, table: &'static [AvpDef]) -> Dictionary {
        let map = Arc::make_mut(&mut self.map);
        for d in table {
            map.insert((d.code, d.vendor_id), d);
        }
        self
    }

    /// Use other decoding limits (grouped depth) for validation.
    pub fn with_limits(mut self, limits: Limits) -> Dictionary {
        self.limits = limits;
        self
    }

    /// The definition of `code` from `vendor` (0 = IETF).
    pub fn lookup(&self, code: u32, vendor: u32) -> Option<&'static AvpDef> {
        self.map.get(&(code, vendor)).copied()
    }

    /// Name of an AVP, or "Unknown".
    pub fn name(&self, code: u32, vendor: u32) -> &'static str {
        self.lookup(code, vendor)
            .map(|d| d.name)
            .unwrap_or("Unknown")
    }

    /// Validate every AVP of `msg` against the dictionary (RFC 6733 §7.5): unknown AVPs with the M bit
    /// → 5001; wrong length for the type → 5014; invalid value (UTF-8, address) → 5004; Grouped parsed
    /// recursively up to the depth limit.
    pub fn validate(&self, msg: &Message) -> Result<()> {
        self.validate_avps(&msg.avps, 1)
    }

    /// Validate a list of AVPs at nesting `depth` (1 = top level).
    pub fn validate_avps(&self, avps: &[Avp], depth: usize) -> Result<()> {
        for a in avps {
            self.validate_avp(a, depth)?;
        }
        Ok(())
    }

    fn validate_avp(&self, a: &Avp, depth: usize) -> Result<()> {
        let Some(def) = self.lookup(a.code, a.vendor_or_zero()) else {
            if a.is_mandatory() {
                return Err(Error::AvpUnsupported {
                    avp: Box::new(a.clone()),
                });
            }
            return Ok(());
        };
        match def.ty {
            OctetString => a.as_bytes().map(|_| ()),
            Utf8String | DiameterUri => a.as_utf8().map(|_| ()),
            DiameterIdentity => a.as_identity().map(|_| ()),
            Integer32 | Enumerated => a.as_i32().map(|_| ()),
            Integer64 => a.as_i64().map(|_| ()),
            Unsigned32 => a.as_u32().map(|_| ()),
            Unsigned64 => a.as_u64().map(|_| ()),
            Float32 => a.as_f32().map(|_| ()),
            Float64 => a.as_f64().map(|_| ()),
            Time => a.as_time().map(|_| ()),
            Address => a.as_address().map(|_| ()),
            Grouped => {
                if depth >= self.limits.max_depth {
                    return Err(Error::invalid_value(a, "Grouped AVPs nested too deeply"));
                }
                match &a.value {
                    Value::Grouped(g) => self.validate_avps(g, depth + 1),
                    Value::Bytes(b) => {
                        let children = decode_avps(b)?;
                        self.validate_avps(&children, depth + 1)
                    }
                    _ => Err(Error::invalid_value(a, "not Grouped")),
                }
            }
        }
    }

    /// Human-readable dump of a message with AVP names and typed values.
    pub fn describe(&self, msg: &Message) -> String {
        let mut s = msg.summary();
        s.push('\n');
        self.describe_avps(&msg.avps, 1, &mut s);
        s
    }

    fn describe_avps(&self, avps: &[Avp], depth: usize, out: &mut String) {
        for a in avps {
            let def = self.lookup(a.code, a.vendor_or_zero());
            let name = def.map(|d| d.name).unwrap_or("Unknown");
            let _ = write!(out, "{:indent$}{name}({}", "", a.code, indent = depth * 2);
            if let Some(v) = a.vendor_id {
                let _ = write!(out, "/{v}");
            }
            let _ = write!(out, ") flags={:#04x}", a.flags);
            let ty = def.map(|d| d.ty).unwrap_or(OctetString);
            let shown = match ty {
                Utf8String | DiameterIdentity | DiameterUri => {
                    a.as_utf8().map(|v| format!(" {v:?}")).unwrap_or_default()
                }
                Unsigned32 => a.as_u32().map(|v| format!(" {v}")).unwrap_or_default(),
                Integer32 | Enumerated => a.as_i32().map(|v| format!(" {v}")).unwrap_or_default(),
                Unsigned64 => a.as_u64().map(|v| format!(" {v}")).unwrap_or_default(),
                Integer64 => a.as_i64().map(|v| format!(" {v}")).unwrap_or_default(),
                Float32 => a.as_f32().map(|v| format!(" {v}")).unwrap_or_default(),
                Float64 => a.as_f64().map(|v| format!(" {v}")).unwrap_or_default(),
                Time => a.as_time().map(|v| format!(" {}", v.0)).unwrap_or_default(),
                Address => a
                    .as_address()
                    .map(|v| format!(" {v:?}"))
                    .unwrap_or_default(),
                OctetString => a
                    .as_bytes()
                    .map(|v| format!(" {} bytes", v.len()))
                    .unwrap_or_default(),
                Grouped => String::new(),
            };
            out.push_str(&shown);
            out.push('\n');
            if ty == Grouped && depth < self.limits.max_depth {
                if let Ok(g) = a.as_grouped() {
                    self.describe_avps(&g, depth + 1, out);
                }
            }
        }
    }
}
