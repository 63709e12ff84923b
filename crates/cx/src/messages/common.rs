//! What every Cx request and answer carries (TS 29.229 §6.1: Session-Id, Vendor-Specific-
//! Application-Id, Auth-Session-State, Origin/Destination Host/Realm, Supported-Features,
//! Proxy-Info, Route-Record; Result-Code or Experimental-Result in answers), the grouped AVPs shared
//! by several commands, and the helpers that map typed fields to AVPs and back.

use bytes::Bytes;
use diameter::avp_code as ac;
use diameter::message::{FLAG_ERROR, FLAG_PROXIABLE, FLAG_REQUEST};
use diameter::{Avp, AvpDef, Error, Header};

use crate::dictionary::{code, def, CX_APPLICATION_ID, VENDOR_3GPP};
use crate::enums::{AuthSessionState, ReasonCode};
use crate::error::CxError;
use crate::result::CxResult;
use crate::wire::{RawAvp, RawExt, Sink};

/// Supported-Features (TS 29.229 §7): one feature list of one vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SupportedFeatures {
    /// Vendor-Id (10415 for the Cx features of TS 29.229 Table 7.7.1).
    pub vendor_id: u32,
    /// Feature-List-ID.
    pub feature_list_id: u32,
    /// Feature-List: a bit mask.
    pub feature_list: u32,
}

/// Proxy-Info (RFC 6733 §6.7.2), echoed by the server in its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyInfo {
    /// Proxy-Host.
    pub proxy_host: String,
    /// Proxy-State (opaque).
    pub proxy_state: Bytes,
}

/// The AVPs shared by every Cx request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCommon {
    /// Session-Id (RFC 6733 §8.8).
    pub session_id: String,
    /// Origin-Host.
    pub origin_host: String,
    /// Origin-Realm.
    pub origin_realm: String,
    /// Destination-Host (required in RTR and PPR, optional elsewhere).
    pub destination_host: Option<String>,
    /// Destination-Realm.
    pub destination_realm: String,
    /// Auth-Session-State; Cx uses NO_STATE_MAINTAINED.
    pub auth_session_state: AuthSessionState,
    /// Supported-Features (zero or more).
    pub supported_features: Vec<SupportedFeatures>,
    /// Proxy-Info (zero or more).
    pub proxy_info: Vec<ProxyInfo>,
    /// Route-Record (zero or more).
    pub route_record: Vec<String>,
}

impl RequestCommon {
    /// A common part with the given identities, NO_STATE_MAINTAINED and nothing optional.
    pub fn new(
        session_id: impl Into<String>,
        origin_host: impl Into<String>,
        origin_realm: impl Into<String>,
        destination_realm: impl Into<String>,
    ) -> Self {
        Self {
            session_id: session_id.into(),
            origin_host: origin_host.into(),
            origin_realm: origin_realm.into(),
            destination_host: None,
            destination_realm: destination_realm.into(),
            auth_session_state: AuthSessionState::NoStateMaintained,
            supported_features: Vec::new(),
            proxy_info: Vec::new(),
            route_record: Vec::new(),
        }
    }
}

/// The AVPs shared by every Cx answer.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerCommon {
    /// Session-Id, copied from the request.
    pub session_id: String,
    /// Origin-Host.
    pub origin_host: String,
    /// Origin-Realm.
    pub origin_realm: String,
    /// Result-Code or Experimental-Result.
    pub result: CxResult,
    /// Auth-Session-State.
    pub auth_session_state: AuthSessionState,
    /// Supported-Features (zero or more).
    pub supported_features: Vec<SupportedFeatures>,
    /// Error-Message.
    pub error_message: Option<String>,
    /// The AVPs inside Failed-AVP.
    pub failed_avp: Vec<Avp>,
    /// Proxy-Info (zero or more), echoed from the request.
    pub proxy_info: Vec<ProxyInfo>,
    /// Route-Record (zero or more).
    pub route_record: Vec<String>,
}

impl AnswerCommon {
    /// A common part answering `session_id` with `result`, NO_STATE_MAINTAINED and nothing optional.
    pub fn new(
        session_id: impl Into<String>,
        origin_host: impl Into<String>,
        origin_realm: impl Into<String>,
        result: CxResult,
    ) -> Self {
        Self {
            session_id: session_id.into(),
            origin_host: origin_host.into(),
            origin_realm: origin_realm.into(),
            result,
            auth_session_state: AuthSessionState::NoStateMaintained,
            supported_features: Vec::new(),
            error_message: None,
            failed_avp: Vec::new(),
            proxy_info: Vec::new(),
            route_record: Vec::new(),
        }
    }

    /// The common part of the answer to `req`: its Session-Id and Proxy-Info echoed.
    pub fn answering(
        req: &RequestCommon,
        origin_host: impl Into<String>,
        origin_realm: impl Into<String>,
        result: CxResult,
    ) -> Self {
        let mut a = Self::new(req.session_id.clone(), origin_host, origin_realm, result);
        a.proxy_info = req.proxy_info.clone();
        a
    }
}

// ---------------------------------------------------------------------------------------------
// Base AVPs as dictionary entries (RFC 6733 §4.5 flag rules), for the writers.
// ---------------------------------------------------------------------------------------------

pub(crate) mod b {
    use diameter::avp_code as ac;
    use diameter::AvpDef;
    use diameter::AvpType::*;

    pub const USER_NAME: AvpDef = AvpDef::new(ac::USER_NAME, 0, "User-Name", Utf8String, true);
    pub const SESSION_ID: AvpDef = AvpDef::new(ac::SESSION_ID, 0, "Session-Id", Utf8String, true);
    pub const VSAI: AvpDef = AvpDef::new(
        ac::VENDOR_SPECIFIC_APPLICATION_ID,
        0,
        "Vendor-Specific-Application-Id",
        Grouped,
        true,
    );
    pub const VENDOR_ID: AvpDef = AvpDef::new(ac::VENDOR_ID, 0, "Vendor-Id", Unsigned32, true);
    pub const AUTH_APPLICATION_ID: AvpDef = AvpDef::new(
        ac::AUTH_APPLICATION_ID,
        0,
        "Auth-Application-Id",
        Unsigned32,
        true,
    );
    pub const AUTH_SESSION_STATE: AvpDef = AvpDef::new(
        ac::AUTH_SESSION_STATE,
        0,
        "Auth-Session-State",
        Enumerated,
        true,
    );
    pub const ORIGIN_HOST: AvpDef =
        AvpDef::new(ac::ORIGIN_HOST, 0, "Origin-Host", DiameterIdentity, true);
    pub const ORIGIN_REALM: AvpDef =
        AvpDef::new(ac::ORIGIN_REALM, 0, "Origin-Realm", DiameterIdentity, true);
    pub const DESTINATION_HOST: AvpDef = AvpDef::new(
        ac::DESTINATION_HOST,
        0,
        "Destination-Host",
        DiameterIdentity,
        true,
    );
    pub const DESTINATION_REALM: AvpDef = AvpDef::new(
        ac::DESTINATION_REALM,
        0,
        "Destination-Realm",
        DiameterIdentity,
        true,
    );
    pub const RESULT_CODE: AvpDef =
        AvpDef::new(ac::RESULT_CODE, 0, "Result-Code", Unsigned32, true);
    pub const EXPERIMENTAL_RESULT: AvpDef = AvpDef::new(
        ac::EXPERIMENTAL_RESULT,
        0,
        "Experimental-Result",
        Grouped,
        true,
    );
    pub const EXPERIMENTAL_RESULT_CODE: AvpDef = AvpDef::new(
        ac::EXPERIMENTAL_RESULT_CODE,
        0,
        "Experimental-Result-Code",
        Unsigned32,
        true,
    );
    pub const ERROR_MESSAGE: AvpDef =
        AvpDef::new(ac::ERROR_MESSAGE, 0, "Error-Message", Utf8String, false);
    pub const FAILED_AVP: AvpDef = AvpDef::new(ac::FAILED_AVP, 0, "Failed-AVP", Grouped, true);
    pub const PROXY_INFO: AvpDef = AvpDef::new(ac::PROXY_INFO, 0, "Proxy-Info", Grouped, true);
    pub const PROXY_HOST: AvpDef =
        AvpDef::new(ac::PROXY_HOST, 0, "Proxy-Host", DiameterIdentity, true);
    pub const PROXY_STATE: AvpDef =
        AvpDef::new(ac::PROXY_STATE, 0, "Proxy-State", OctetString, true);
    pub const ROUTE_RECORD: AvpDef =
        AvpDef::new(ac::ROUTE_RECORD, 0, "Route-Record", DiameterIdentity, true);
}

// ---------------------------------------------------------------------------------------------
// Decoding helpers
// ---------------------------------------------------------------------------------------------

/// Checks command code, R bit and Application-Id.
pub(crate) fn check_header(h: &Header, command: u32, request: bool) -> Result<(), CxError> {
    let is_request = h.flags & FLAG_REQUEST != 0;
    if h.command_code != command || is_request != request {
        return Err(CxError::UnexpectedCommand {
            expected: command,
            kind: if request { "request" } else { "answer" },
            got: h.command_code,
            request: is_request,
        });
    }
    if h.application_id != CX_APPLICATION_ID {
        return Err(CxError::ApplicationUnsupported(h.application_id));
    }
    Ok(())
}

/// Stores a single-occurrence AVP's value; a second occurrence is DIAMETER_AVP_OCCURS_TOO_MANY_TIMES.
#[inline(always)]
pub(crate) fn once<T>(slot: &mut Option<T>, r: &RawAvp<'_>, v: T) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::AvpOccursTooManyTimes {
            avp: Box::new(r.to_avp()),
        });
    }
    *slot = Some(v);
    Ok(())
}

/// A required AVP's value, or DIAMETER_MISSING_AVP naming it.
#[inline(always)]
pub(crate) fn need<T>(slot: Option<T>, d: &AvpDef) -> Result<T, Error> {
    slot.ok_or_else(|| missing(d))
}

/// DIAMETER_MISSING_AVP with the example AVP RFC 6733 §7.5 asks for: the missing AVP with its
/// Vendor-Id and a zero-filled value. For the string types (minimum length 0) the value is one zero
/// byte rather than empty: Wireshark flags an empty AVP as a warning ("Data is empty").
///
/// A missing Grouped AVP gets a zero-valued example of one child (an empty Grouped AVP draws the same
/// warning): Reason-Code in Deregistration-Reason, Vendor-Id and Auth-Application-Id in
/// Vendor-Specific-Application-Id, SIP-Item-Number in SIP-Auth-Data-Item.
pub(crate) fn missing(d: &AvpDef) -> Error {
    use diameter::AvpType::*;
    let zero = |c: &AvpDef| match c.ty {
        Unsigned32 | Integer32 | Enumerated => {
            c.avp(diameter::Value::Bytes(Bytes::from_static(&[0; 4])))
        }
        _ => c.avp(diameter::Value::Bytes(Bytes::from_static(&[0]))),
    };
    let example = match d.ty {
        OctetString | Utf8String | DiameterIdentity | DiameterUri => zero(d),
        Grouped => {
            let children = match (d.vendor_id, d.code) {
                (V, code::DEREGISTRATION_REASON) => vec![zero(&def::REASON_CODE)],
                (V, code::SIP_AUTH_DATA_ITEM) => vec![zero(&def::SIP_ITEM_NUMBER)],
                (0, ac::VENDOR_SPECIFIC_APPLICATION_ID) => {
                    vec![zero(&b::VENDOR_ID), zero(&b::AUTH_APPLICATION_ID)]
                }
                _ => return Error::missing_def(d),
            };
            d.avp(children)
        }
        _ => return Error::missing_def(d),
    };
    Error::MissingAvp {
        avp: Box::new(example),
    }
}

pub(crate) const V: u32 = VENDOR_3GPP;

/// The first child with (code, vendor), or DIAMETER_MISSING_AVP.
pub(crate) fn require_child<'a>(r: &RawAvp<'a>, d: &AvpDef) -> Result<RawAvp<'a>, Error> {
    for c in r.children() {
        let c = c?;
        if c.is(d.code, d.vendor_id) {
            return Ok(c);
        }
    }
    Err(missing(d))
}

/// Accumulates the common request AVPs while a message's AVPs are walked once.
#[derive(Default)]
pub(crate) struct RequestCommonDecoder {
    session_id: Option<String>,
    vsai: Option<()>,
    auth_session_state: Option<AuthSessionState>,
    origin_host: Option<String>,
    origin_realm: Option<String>,
    destination_host: Option<String>,
    destination_realm: Option<String>,
    supported_features: Vec<SupportedFeatures>,
    proxy_info: Vec<ProxyInfo>,
    route_record: Vec<String>,
}

impl RequestCommonDecoder {
    /// Takes `r` if it is a common one; returns whether it did.
    #[inline(always)]
    pub(crate) fn take(&mut self, r: &RawAvp<'_>) -> Result<bool, Error> {
        match (r.vendor(), r.code) {
            (0, ac::SESSION_ID) => once(&mut self.session_id, r, r.text()?)?,
            (0, ac::VENDOR_SPECIFIC_APPLICATION_ID) => once(&mut self.vsai, r, check_vsai(r)?)?,
            (0, ac::AUTH_SESSION_STATE) => once(&mut self.auth_session_state, r, r.enumerated()?)?,
            (0, ac::ORIGIN_HOST) => once(&mut self.origin_host, r, r.identity()?)?,
            (0, ac::ORIGIN_REALM) => once(&mut self.origin_realm, r, r.identity()?)?,
            (0, ac::DESTINATION_HOST) => once(&mut self.destination_host, r, r.identity()?)?,
            (0, ac::DESTINATION_REALM) => once(&mut self.destination_realm, r, r.identity()?)?,
            (0, ac::PROXY_INFO) => self.proxy_info.push(decode_proxy_info(r)?),
            (0, ac::ROUTE_RECORD) => self.route_record.push(r.identity()?),
            (V, code::SUPPORTED_FEATURES) => {
                self.supported_features.push(decode_supported_features(r)?)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub(crate) fn finish(self) -> Result<RequestCommon, Error> {
        need(self.vsai, &b::VSAI)?;
        Ok(RequestCommon {
            session_id: need(self.session_id, &b::SESSION_ID)?,
            origin_host: need(self.origin_host, &b::ORIGIN_HOST)?,
            origin_realm: need(self.origin_realm, &b::ORIGIN_REALM)?,
            destination_host: self.destination_host,
            destination_realm: need(self.destination_realm, &b::DESTINATION_REALM)?,
            auth_session_state: need(self.auth_session_state, &b::AUTH_SESSION_STATE)?,
            supported_features: self.supported_features,
            proxy_info: self.proxy_info,
            route_record: self.route_record,
        })
    }
}

/// Accumulates the common answer AVPs while a message's AVPs are walked once.
#[derive(Default)]
pub(crate) struct AnswerCommonDecoder {
    session_id: Option<String>,
    vsai: Option<()>,
    result_code: Option<u32>,
    experimental: Option<(u32, u32)>,
    auth_session_state: Option<AuthSessionState>,
    origin_host: Option<String>,
    origin_realm: Option<String>,
    error_message: Option<String>,
    failed_avp: Option<Vec<Avp>>,
    supported_features: Vec<SupportedFeatures>,
    proxy_info: Vec<ProxyInfo>,
    route_record: Vec<String>,
}

impl AnswerCommonDecoder {
    /// Takes `r` if it is a common one; returns whether it did.
    #[inline(always)]
    pub(crate) fn take(&mut self, r: &RawAvp<'_>) -> Result<bool, Error> {
        match (r.vendor(), r.code) {
            (0, ac::SESSION_ID) => once(&mut self.session_id, r, r.text()?)?,
            (0, ac::VENDOR_SPECIFIC_APPLICATION_ID) => once(&mut self.vsai, r, check_vsai(r)?)?,
            (0, ac::RESULT_CODE) => once(&mut self.result_code, r, r.u32()?)?,
            (0, ac::EXPERIMENTAL_RESULT) => {
                once(&mut self.experimental, r, decode_experimental(r)?)?
            }
            (0, ac::AUTH_SESSION_STATE) => once(&mut self.auth_session_state, r, r.enumerated()?)?,
            (0, ac::ORIGIN_HOST) => once(&mut self.origin_host, r, r.identity()?)?,
            (0, ac::ORIGIN_REALM) => once(&mut self.origin_realm, r, r.identity()?)?,
            (0, ac::ERROR_MESSAGE) => once(&mut self.error_message, r, r.text()?)?,
            (0, ac::FAILED_AVP) => {
                // Only the V and M bits of the reported AVPs are kept (we re-send them with those).
                let keep = diameter::avp::FLAG_VENDOR | diameter::avp::FLAG_MANDATORY;
                let children = r
                    .children()
                    .map(|c| {
                        c.map(|c| {
                            RawAvp {
                                flags: c.flags & keep,
                                ..c
                            }
                            .to_avp()
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                once(&mut self.failed_avp, r, children)?
            }
            (0, ac::PROXY_INFO) => self.proxy_info.push(decode_proxy_info(r)?),
            (0, ac::ROUTE_RECORD) => self.route_record.push(r.identity()?),
            (V, code::SUPPORTED_FEATURES) => {
                self.supported_features.push(decode_supported_features(r)?)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Vendor-Specific-Application-Id and Auth-Session-State are not required in answers: error
    /// answers of the base protocol (RFC 6733 §7.2), e.g. a relay's 3002, carry neither; a missing
    /// Auth-Session-State reads as NO_STATE_MAINTAINED, what Cx uses.
    pub(crate) fn finish(self) -> Result<AnswerCommon, CxError> {
        // TS 29.229 §6.2: an answer carries one of the two; when a peer sends both, the
        // application-specific Experimental-Result is the more precise one.
        let result = match (self.experimental, self.result_code) {
            (Some((vendor_id, code)), _) => CxResult::Experimental { vendor_id, code },
            (None, Some(c)) => CxResult::ResultCode(c),
            (None, None) => return Err(CxError::MissingResult),
        };
        Ok(AnswerCommon {
            session_id: need(self.session_id, &b::SESSION_ID)?,
            origin_host: need(self.origin_host, &b::ORIGIN_HOST)?,
            origin_realm: need(self.origin_realm, &b::ORIGIN_REALM)?,
            result,
            auth_session_state: self
                .auth_session_state
                .unwrap_or(AuthSessionState::NoStateMaintained),
            supported_features: self.supported_features,
            error_message: self.error_message,
            failed_avp: self.failed_avp.unwrap_or_default(),
            proxy_info: self.proxy_info,
            route_record: self.route_record,
        })
    }
}

/// Vendor-Specific-Application-Id must name Cx: Vendor-Id 10415 and Auth-Application-Id 16777216
/// (RFC 6733 §6.11); anything else is DIAMETER_INVALID_AVP_VALUE.
fn check_vsai(r: &RawAvp<'_>) -> Result<(), Error> {
    let (mut vendor, mut app) = (None, None);
    for c in r.children() {
        let c = c?;
        match (c.vendor(), c.code) {
            (0, ac::VENDOR_ID) => vendor = Some(c.u32()?),
            (0, ac::AUTH_APPLICATION_ID | ac::ACCT_APPLICATION_ID) => app = Some(c.u32()?),
            _ => {}
        }
    }
    let vendor = need(vendor, &b::VENDOR_ID)?;
    let app = need(app, &b::AUTH_APPLICATION_ID)?;
    if vendor != VENDOR_3GPP || app != CX_APPLICATION_ID {
        return Err(Error::invalid_value(
            &r.to_avp(),
            format!("Vendor-Specific-Application-Id {vendor}/{app} is not Cx"),
        ));
    }
    Ok(())
}

fn decode_experimental(r: &RawAvp<'_>) -> Result<(u32, u32), Error> {
    Ok((
        require_child(r, &b::VENDOR_ID)?.u32()?,
        require_child(r, &b::EXPERIMENTAL_RESULT_CODE)?.u32()?,
    ))
}

fn decode_supported_features(r: &RawAvp<'_>) -> Result<SupportedFeatures, Error> {
    Ok(SupportedFeatures {
        vendor_id: require_child(r, &b::VENDOR_ID)?.u32()?,
        feature_list_id: require_child(r, &def::FEATURE_LIST_ID)?.u32()?,
        feature_list: require_child(r, &def::FEATURE_LIST)?.u32()?,
    })
}

fn decode_proxy_info(r: &RawAvp<'_>) -> Result<ProxyInfo, Error> {
    Ok(ProxyInfo {
        proxy_host: require_child(r, &b::PROXY_HOST)?.identity()?,
        proxy_state: require_child(r, &b::PROXY_STATE)?.octets(),
    })
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------------------------

/// Header flags of a request (R, P).
pub(crate) const REQUEST_FLAGS: u8 = FLAG_REQUEST | FLAG_PROXIABLE;

/// Header flags of an answer with `result` (P, and E for protocol errors, RFC 6733 §7.1.3).
pub(crate) fn answer_flags(result: CxResult) -> u8 {
    match result {
        CxResult::ResultCode(rc) if diameter::result_code::is_protocol_error(rc) => {
            FLAG_PROXIABLE | FLAG_ERROR
        }
        _ => FLAG_PROXIABLE,
    }
}

/// Vendor-Specific-Application-Id and Auth-Session-State (NO_STATE_MAINTAINED), for error answers.
pub(crate) fn write_vsai_and_state<S: Sink>(s: &mut S) {
    write_vsai(s);
    s.i32(
        &b::AUTH_SESSION_STATE,
        AuthSessionState::NoStateMaintained.value(),
    );
}

fn write_vsai<S: Sink>(s: &mut S) {
    s.group(&b::VSAI, |s| {
        s.u32(&b::VENDOR_ID, VENDOR_3GPP);
        s.u32(&b::AUTH_APPLICATION_ID, CX_APPLICATION_ID);
    });
}

/// The common AVPs that open a request (Session-Id first, RFC 6733 §8.8).
pub(crate) fn request_head<S: Sink>(s: &mut S, c: &RequestCommon) {
    s.str(&b::SESSION_ID, &c.session_id);
    write_vsai(s);
    s.i32(&b::AUTH_SESSION_STATE, c.auth_session_state.value());
    s.str(&b::ORIGIN_HOST, &c.origin_host);
    s.str(&b::ORIGIN_REALM, &c.origin_realm);
    if let Some(h) = &c.destination_host {
        s.str(&b::DESTINATION_HOST, h);
    }
    s.str(&b::DESTINATION_REALM, &c.destination_realm);
    write_supported_features(s, &c.supported_features);
}

/// The common AVPs that close a request (Proxy-Info, Route-Record).
pub(crate) fn request_tail<S: Sink>(s: &mut S, c: &RequestCommon) {
    write_proxy_route(s, &c.proxy_info, &c.route_record);
}

/// The common AVPs that open an answer.
pub(crate) fn answer_head<S: Sink>(s: &mut S, c: &AnswerCommon) {
    s.str(&b::SESSION_ID, &c.session_id);
    write_vsai(s);
    write_result(s, c.result);
    s.i32(&b::AUTH_SESSION_STATE, c.auth_session_state.value());
    s.str(&b::ORIGIN_HOST, &c.origin_host);
    s.str(&b::ORIGIN_REALM, &c.origin_realm);
    write_supported_features(s, &c.supported_features);
}

/// The common AVPs that close an answer (Error-Message, Failed-AVP, Proxy-Info, Route-Record).
pub(crate) fn answer_tail<S: Sink>(s: &mut S, c: &AnswerCommon) {
    if let Some(e) = &c.error_message {
        s.str(&b::ERROR_MESSAGE, e);
    }
    if !c.failed_avp.is_empty() {
        s.group(&b::FAILED_AVP, |s| {
            for a in &c.failed_avp {
                write_avp(s, a);
            }
        });
    }
    write_proxy_route(s, &c.proxy_info, &c.route_record);
}

/// Writes an arbitrary (e.g. Failed-AVP) AVP through a sink, keeping its flags' M bit.
fn write_avp<S: Sink>(s: &mut S, a: &Avp) {
    let vendor = a.vendor_or_zero();
    let m = a.is_mandatory();
    match &a.value {
        diameter::Value::Grouped(children) => {
            s.open(a.code, vendor, m);
            for c in children {
                write_avp(s, c);
            }
            s.close();
        }
        _ => {
            let mut buf = bytes::BytesMut::new();
            a.encode(&mut buf);
            let hlen = if a.vendor_id.is_some() { 12 } else { 8 };
            let len = buf
                .get(5..8)
                .map_or(0, |l| u32::from_be_bytes([0, l[0], l[1], l[2]]) as usize);
            s.raw(a.code, vendor, m, buf.get(hlen..len).unwrap_or_default());
        }
    }
}

/// Writes Result-Code or Experimental-Result.
pub(crate) fn write_result<S: Sink>(s: &mut S, r: CxResult) {
    match r {
        CxResult::ResultCode(c) => s.u32(&b::RESULT_CODE, c),
        CxResult::Experimental { vendor_id, code } => s.group(&b::EXPERIMENTAL_RESULT, |s| {
            s.u32(&b::VENDOR_ID, vendor_id);
            s.u32(&b::EXPERIMENTAL_RESULT_CODE, code);
        }),
    }
}

fn write_supported_features<S: Sink>(s: &mut S, sf: &[SupportedFeatures]) {
    for f in sf {
        s.group(&def::SUPPORTED_FEATURES, |s| {
            s.u32(&b::VENDOR_ID, f.vendor_id);
            s.u32(&def::FEATURE_LIST_ID, f.feature_list_id);
            s.u32(&def::FEATURE_LIST, f.feature_list);
        });
    }
}

fn write_proxy_route<S: Sink>(s: &mut S, proxy_info: &[ProxyInfo], route_record: &[String]) {
    for p in proxy_info {
        s.group(&b::PROXY_INFO, |s| {
            s.str(&b::PROXY_HOST, &p.proxy_host);
            s.bytes(&b::PROXY_STATE, &p.proxy_state);
        });
    }
    for r in route_record {
        s.str(&b::ROUTE_RECORD, r);
    }
}

/// Deregistration-Reason (TS 29.229 §6.3): why the HSS de-registers the user (RTR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeregistrationReason {
    /// Reason-Code.
    pub reason_code: ReasonCode,
    /// Reason-Info: text for the user.
    pub reason_info: Option<String>,
}

impl DeregistrationReason {
    pub(crate) fn write<S: Sink>(&self, s: &mut S) {
        s.group(&def::DEREGISTRATION_REASON, |s| {
            s.i32(&def::REASON_CODE, self.reason_code.value());
            if let Some(i) = &self.reason_info {
                s.str(&def::REASON_INFO, i);
            }
        });
    }

    pub(crate) fn from_raw(r: &RawAvp<'_>) -> Result<Self, Error> {
        let (mut code, mut info) = (None, None);
        for c in r.children() {
            let c = c?;
            match (c.vendor(), c.code) {
                (V, code::REASON_CODE) => once(&mut code, &c, c.enumerated()?)?,
                (V, code::REASON_INFO) => once(&mut info, &c, c.text()?)?,
                _ => {}
            }
        }
        Ok(Self {
            reason_code: need(code, &def::REASON_CODE)?,
            reason_info: info,
        })
    }
}

/// Walks the AVPs of a decoded message: borrowed when every AVP still holds its received bytes,
/// otherwise (a message built locally) through its encoding.
pub(crate) fn with_avps<T>(
    msg: &diameter::Message,
    f: impl for<'a> Fn(
        &Header,
        &mut dyn Iterator<Item = Result<RawAvp<'a>, Error>>,
    ) -> Result<T, CxError>,
) -> Result<T, CxError> {
    if msg
        .avps
        .iter()
        .all(|a| matches!(a.value, diameter::Value::Bytes(_)))
    {
        let mut it = msg.avps.iter().map(|a| {
            let data: &[u8] = match &a.value {
                diameter::Value::Bytes(b) => b,
                _ => &[],
            };
            Ok(RawAvp {
                code: a.code,
                flags: a.flags,
                vendor_id: a.vendor_id,
                data,
            })
        });
        f(&msg.header, &mut it)
    } else {
        let bytes = msg.to_bytes();
        let mut it = diameter::avp::iter_avps(bytes.get(20..).unwrap_or_default());
        f(&msg.header, &mut it)
    }
}
