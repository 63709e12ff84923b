//! Grouped AVPs of Cx (TS 29.229 §6.3): Server-Capabilities, SIP-Auth-Data-Item (with
//! SIP-Digest-Authenticate), Charging-Information, Associated-Identities.

use bytes::Bytes;
use diameter::Error;

use super::common::{b, need, once, V};
use crate::dictionary::{base, code, def};
use crate::secret::SecretBytes;
use crate::wire::{RawAvp, RawExt, Sink};

/// Well-known SIP-Authentication-Scheme values (TS 29.229 §6.3, TS 33.203).
pub mod scheme {
    /// IMS-AKA with Digest AKAv1-MD5 (RFC 3310).
    pub const DIGEST_AKAV1_MD5: &str = "Digest-AKAv1-MD5";
    /// SIP Digest (RFC 2617) with HA1 from the HSS.
    pub const SIP_DIGEST: &str = "SIP Digest";
    /// The S-CSCF leaves the choice to the HSS.
    pub const UNKNOWN: &str = "Unknown";
}

/// Server-Capabilities: what the I-CSCF needs to select an S-CSCF (UAA, LIA).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerCapabilities {
    /// Mandatory-Capability (zero or more).
    pub mandatory_capabilities: Vec<u32>,
    /// Optional-Capability (zero or more).
    pub optional_capabilities: Vec<u32>,
    /// Server-Name (zero or more): S-CSCFs to prefer.
    pub server_names: Vec<String>,
}

impl ServerCapabilities {
    /// Whether it holds no capability and no S-CSCF name: it then constrains nothing.
    pub fn is_empty(&self) -> bool {
        self.mandatory_capabilities.is_empty()
            && self.optional_capabilities.is_empty()
            && self.server_names.is_empty()
    }

    /// Writes the grouped AVP; an empty one is left out. Its ABNF allows no members (TS 29.229
    /// §6.3.4), but it says no more than an absent one (the I-CSCF selects any S-CSCF, TS 29.228
    /// §6.1.1.1), and Kamailio's cdp drops every message carrying an AVP with no data.
    pub(crate) fn write<S: Sink>(&self, s: &mut S) {
        if self.is_empty() {
            return;
        }
        s.group(&def::SERVER_CAPABILITIES, |s| {
            for v in &self.mandatory_capabilities {
                s.u32(&def::MANDATORY_CAPABILITY, *v);
            }
            for v in &self.optional_capabilities {
                s.u32(&def::OPTIONAL_CAPABILITY, *v);
            }
            for v in &self.server_names {
                s.str(&def::SERVER_NAME, v);
            }
        });
    }

    pub(crate) fn from_raw(r: &RawAvp<'_>) -> Result<Self, Error> {
        let mut out = Self::default();
        for a in r.children() {
            let a = a?;
            match (a.vendor(), a.code) {
                (V, code::MANDATORY_CAPABILITY) => out.mandatory_capabilities.push(a.u32()?),
                (V, code::OPTIONAL_CAPABILITY) => out.optional_capabilities.push(a.u32()?),
                (V, code::SERVER_NAME) => out.server_names.push(a.text()?),
                _ => {}
            }
        }
        Ok(out)
    }
}

/// Charging-Information: the charging functions the S-CSCF reports to (SAA, PPR).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChargingInformation {
    /// Primary-Event-Charging-Function-Name (DiameterURI).
    pub primary_event_charging_function_name: Option<String>,
    /// Secondary-Event-Charging-Function-Name (DiameterURI).
    pub secondary_event_charging_function_name: Option<String>,
    /// Primary-Charging-Collection-Function-Name (DiameterURI).
    pub primary_charging_collection_function_name: Option<String>,
    /// Secondary-Charging-Collection-Function-Name (DiameterURI).
    pub secondary_charging_collection_function_name: Option<String>,
}

impl ChargingInformation {
    pub(crate) fn write<S: Sink>(&self, s: &mut S) {
        let fields = [
            (
                &def::PRIMARY_EVENT_CHARGING_FUNCTION_NAME,
                &self.primary_event_charging_function_name,
            ),
            (
                &def::SECONDARY_EVENT_CHARGING_FUNCTION_NAME,
                &self.secondary_event_charging_function_name,
            ),
            (
                &def::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME,
                &self.primary_charging_collection_function_name,
            ),
            (
                &def::SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME,
                &self.secondary_charging_collection_function_name,
            ),
        ];
        s.group(&def::CHARGING_INFORMATION, |s| {
            for (d, v) in fields {
                if let Some(v) = v {
                    s.str(d, v);
                }
            }
        });
    }

    pub(crate) fn from_raw(r: &RawAvp<'_>) -> Result<Self, Error> {
        let mut out = Self::default();
        for a in r.children() {
            let a = a?;
            let slot = match (a.vendor(), a.code) {
                (V, code::PRIMARY_EVENT_CHARGING_FUNCTION_NAME) => {
                    &mut out.primary_event_charging_function_name
                }
                (V, code::SECONDARY_EVENT_CHARGING_FUNCTION_NAME) => {
                    &mut out.secondary_event_charging_function_name
                }
                (V, code::PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME) => {
                    &mut out.primary_charging_collection_function_name
                }
                (V, code::SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME) => {
                    &mut out.secondary_charging_collection_function_name
                }
                _ => continue,
            };
            once(slot, &a, a.text()?)?;
        }
        Ok(out)
    }
}

/// SIP-Digest-Authenticate (TS 29.229 §6.3): what the S-CSCF needs for SIP Digest (RFC 4590 AVPs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipDigestAuthenticate {
    /// Digest-Realm.
    pub realm: String,
    /// Digest-Algorithm (absent means MD5).
    pub algorithm: Option<String>,
    /// Digest-Qop.
    pub qop: Option<String>,
    /// Digest-HA1: H(username:realm:password) in hex — a secret.
    pub ha1: SecretBytes,
}

impl SipDigestAuthenticate {
    fn write<S: Sink>(&self, s: &mut S) {
        s.group(&def::SIP_DIGEST_AUTHENTICATE, |s| {
            s.str(&def::DIGEST_REALM, &self.realm);
            if let Some(a) = &self.algorithm {
                s.str(&def::DIGEST_ALGORITHM, a);
            }
            if let Some(q) = &self.qop {
                s.str(&def::DIGEST_QOP, q);
            }
            s.bytes(&def::DIGEST_HA1, self.ha1.expose());
        });
    }

    fn from_raw(r: &RawAvp<'_>) -> Result<Self, Error> {
        let (mut realm, mut algorithm, mut qop, mut ha1) = (None, None, None, None);
        for a in r.children() {
            let a = a?;
            match (a.vendor(), a.code) {
                (0, base::DIGEST_REALM) => once(&mut realm, &a, a.text()?)?,
                (0, base::DIGEST_ALGORITHM) => once(&mut algorithm, &a, a.text()?)?,
                (0, base::DIGEST_QOP) => once(&mut qop, &a, a.text()?)?,
                (0, base::DIGEST_HA1) => {
                    if std::str::from_utf8(a.data).is_err() {
                        return Err(Error::invalid_value(&a.to_avp(), "invalid UTF-8"));
                    }
                    once(&mut ha1, &a, SecretBytes::from_slice(a.data))?
                }
                _ => {}
            }
        }
        Ok(Self {
            realm: need(realm, &def::DIGEST_REALM)?,
            algorithm,
            qop,
            ha1: need(ha1, &def::DIGEST_HA1)?,
        })
    }
}

/// SIP-Auth-Data-Item (TS 29.229 §6.3): one authentication vector (MAA) or the S-CSCF's
/// request/resynchronisation data (MAR).
///
/// For IMS-AKA (TS 33.203): `authenticate` = RAND‖AUTN, `authorization` = XRES (MAA) or RAND‖AUTS
/// (MAR, resynchronisation), `confidentiality_key` = CK, `integrity_key` = IK.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SipAuthDataItem {
    /// SIP-Item-Number: order of the vectors.
    pub item_number: Option<u32>,
    /// SIP-Authentication-Scheme (see [`scheme`]).
    pub authentication_scheme: Option<String>,
    /// SIP-Authenticate: RAND‖AUTN for AKA.
    pub authenticate: Option<Bytes>,
    /// SIP-Authorization: XRES in an MAA, RAND‖AUTS in a resynchronising MAR.
    pub authorization: Option<SecretBytes>,
    /// SIP-Authentication-Context.
    pub authentication_context: Option<Bytes>,
    /// Confidentiality-Key (CK).
    pub confidentiality_key: Option<SecretBytes>,
    /// Integrity-Key (IK).
    pub integrity_key: Option<SecretBytes>,
    /// SIP-Digest-Authenticate.
    pub digest_authenticate: Option<SipDigestAuthenticate>,
    /// Framed-IP-Address (NASS-bundled / early IMS).
    pub framed_ip_address: Option<Bytes>,
    /// Framed-IPv6-Prefix.
    pub framed_ipv6_prefix: Option<Bytes>,
    /// Framed-Interface-Id.
    pub framed_interface_id: Option<u64>,
}

impl SipAuthDataItem {
    pub(crate) fn write<S: Sink>(&self, s: &mut S) {
        s.group(&def::SIP_AUTH_DATA_ITEM, |s| {
            if let Some(n) = self.item_number {
                s.u32(&def::SIP_ITEM_NUMBER, n);
            }
            if let Some(v) = &self.authentication_scheme {
                s.str(&def::SIP_AUTHENTICATION_SCHEME, v);
            }
            if let Some(v) = &self.authenticate {
                s.bytes(&def::SIP_AUTHENTICATE, v);
            }
            if let Some(v) = &self.authorization {
                s.bytes(&def::SIP_AUTHORIZATION, v.expose());
            }
            if let Some(v) = &self.authentication_context {
                s.bytes(&def::SIP_AUTHENTICATION_CONTEXT, v);
            }
            if let Some(v) = &self.confidentiality_key {
                s.bytes(&def::CONFIDENTIALITY_KEY, v.expose());
            }
            if let Some(v) = &self.integrity_key {
                s.bytes(&def::INTEGRITY_KEY, v.expose());
            }
            if let Some(d) = &self.digest_authenticate {
                d.write(s);
            }
            if let Some(v) = &self.framed_ip_address {
                s.bytes(&def::FRAMED_IP_ADDRESS, v);
            }
            if let Some(v) = &self.framed_ipv6_prefix {
                s.bytes(&def::FRAMED_IPV6_PREFIX, v);
            }
            if let Some(v) = self.framed_interface_id {
                s.u64(&def::FRAMED_INTERFACE_ID, v);
            }
        });
    }

    pub(crate) fn from_raw(r: &RawAvp<'_>) -> Result<Self, Error> {
        let mut out = Self::default();
        for a in r.children() {
            let a = a?;
            let secret = || SecretBytes::from_slice(a.data);
            match (a.vendor(), a.code) {
                (V, code::SIP_ITEM_NUMBER) => once(&mut out.item_number, &a, a.u32()?)?,
                (V, code::SIP_AUTHENTICATION_SCHEME) => {
                    once(&mut out.authentication_scheme, &a, a.text()?)?
                }
                (V, code::SIP_AUTHENTICATE) => once(&mut out.authenticate, &a, a.octets())?,
                (V, code::SIP_AUTHORIZATION) => once(&mut out.authorization, &a, secret())?,
                (V, code::SIP_AUTHENTICATION_CONTEXT) => {
                    once(&mut out.authentication_context, &a, a.octets())?
                }
                (V, code::CONFIDENTIALITY_KEY) => once(&mut out.confidentiality_key, &a, secret())?,
                (V, code::INTEGRITY_KEY) => once(&mut out.integrity_key, &a, secret())?,
                (V, code::SIP_DIGEST_AUTHENTICATE) => once(
                    &mut out.digest_authenticate,
                    &a,
                    SipDigestAuthenticate::from_raw(&a)?,
                )?,
                (0, base::FRAMED_IP_ADDRESS) => once(&mut out.framed_ip_address, &a, a.octets())?,
                (0, base::FRAMED_IPV6_PREFIX) => once(&mut out.framed_ipv6_prefix, &a, a.octets())?,
                (0, base::FRAMED_INTERFACE_ID) => once(&mut out.framed_interface_id, &a, a.u64()?)?,
                _ => {}
            }
        }
        Ok(out)
    }
}

/// Associated-Identities / Associated-Registered-Identities: a list of User-Name (IMPIs).
pub(crate) fn write_identities<S: Sink>(s: &mut S, d: &diameter::AvpDef, names: &[String]) {
    s.group(d, |s| {
        for n in names {
            s.str(&b::USER_NAME, n);
        }
    });
}

pub(crate) fn identities_from_raw(r: &RawAvp<'_>) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for a in r.children() {
        let a = a?;
        if (a.vendor(), a.code) == (0, diameter::avp_code::USER_NAME) {
            out.push(a.text()?);
        }
    }
    Ok(out)
}
