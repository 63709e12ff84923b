//! S-CSCF registrar configuration.

use serde::Deserialize;

/// Configuration of the S-CSCF registrar ([`super::Registrar`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScscfConfig {
    /// Our SIP URI, sent as Server-Name in MAR/SAR (TS 29.228 §6.1.2, §6.3) and used for the
    /// Service-Route host and port, e.g. `sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060`.
    pub server_name: String,
    /// The home network domain; also the Digest `realm` of our challenges (TS 24.229
    /// §5.4.1.2.1: the realm is the home network domain name).
    pub realm: String,
    /// Smallest registration interval accepted, in seconds; shorter non-zero requests get
    /// 423 Interval Too Brief with Min-Expires (RFC 3261 §10.3 step 7).
    pub min_expires: u32,
    /// Largest registration interval granted, in seconds; longer requests are shortened
    /// (RFC 3261 §10.3 step 7). TS 24.229 §5.1.1.2 has the UE ask for 600000 s.
    pub max_expires: u32,
    /// Interval used when the REGISTER names none (no `expires` parameter, no Expires header).
    pub default_expires: u32,
    /// How long a challenge (401) may be answered, in seconds; afterwards the nonce is stale and,
    /// if never answered, the HSS gets SAR AUTHENTICATION_TIMEOUT (TS 24.229 §5.4.1.2.1).
    pub challenge_lifetime_secs: u64,
    /// Whether an integrity-protected re-REGISTER of a registered UE is challenged anyway
    /// (TS 24.229 §5.4.1.2.1 leaves re-authentication to the S-CSCF).
    pub rechallenge_protected_reregister: bool,
    /// SIP-Number-Auth-Items requested per MAR. Only the first vector of an answer is used.
    pub auth_items: u32,
    /// User part of the Service-Route URI we return (RFC 3608), marking originating requests,
    /// e.g. `orig` gives `<sip:orig@scscf.example:6060;lr>`.
    pub service_route_user: String,
    /// Authentication scheme asked for in MAR: `Unknown` lets the HSS choose the subscriber's
    /// default (TS 29.229 §6.3.11), or e.g. `Digest-AKAv1-MD5`.
    pub auth_scheme: String,
    /// Shortest reg-event subscription accepted, in seconds; shorter non-zero requests get 423
    /// (RFC 6665 §4.2.1.1).
    pub subscription_min_expires: u32,
    /// Longest reg-event subscription granted, in seconds (TS 24.229 §5.1.1.3: the UE asks for
    /// 600000).
    pub subscription_max_expires: u32,
    /// Reg-event subscription granted when the SUBSCRIBE has no Expires (RFC 3680 §3.2: 3761).
    pub subscription_default_expires: u32,
}

impl Default for ScscfConfig {
    fn default() -> Self {
        Self {
            server_name: "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060".into(),
            realm: "ims.mnc001.mcc001.3gppnetwork.org".into(),
            min_expires: 60,
            max_expires: 600_000,
            default_expires: 600_000,
            challenge_lifetime_secs: 30,
            rechallenge_protected_reregister: false,
            auth_items: 1,
            service_route_user: "orig".into(),
            auth_scheme: cx::scheme::UNKNOWN.into(),
            subscription_min_expires: 60,
            subscription_max_expires: 600_000,
            subscription_default_expires: 3761,
        }
    }
}
