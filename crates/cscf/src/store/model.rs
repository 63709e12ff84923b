//! Records kept in the registration store.
//!
//! Times are wall-clock UNIX seconds ([`UnixSecs`]) so that they mean the same thing after a
//! restart and on every node sharing a store.

use std::net::SocketAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::CscfError;

/// Wall-clock time as seconds since the UNIX epoch.
pub type UnixSecs = u64;

/// Version of a stored registration. Every successful write increments it; `0` means "absent", so
/// a compare-and-set with expected version `0` creates the record only if it does not exist.
pub type Version = u64;

/// The version that stands for "no such record".
pub const ABSENT: Version = 0;

/// A record together with the version it was read at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned<T> {
    /// Version to pass to a later compare-and-set.
    pub version: Version,
    /// The record.
    pub value: T,
}

/// Result of a compare-and-set write.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// Written; the record now has this version.
    Applied(Version),
    /// Not written: the stored version was not the expected one (another writer came first, or
    /// the record was created/removed meanwhile). Re-read and decide again.
    Stale,
}

/// The transport flow a request was received on (RFC 5626 §3.3 "flow"; TS 24.229 §5.2.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// Transport protocol token as in Via (`UDP`, `TCP`, `TLS`, …).
    pub transport: String,
    /// The peer's source address and port.
    pub remote: SocketAddr,
    /// Our local address and port the request arrived on.
    pub local: SocketAddr,
}

/// One binding of an S-CSCF registration (RFC 3261 §10.3, RFC 5626 §6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegContact {
    /// The Contact URI.
    pub uri: String,
    /// When the binding expires.
    pub expires_at: UnixSecs,
    /// Contact `q` parameter in thousandths (0..=1000), if given.
    pub q: Option<u16>,
    /// `+sip.instance` value (RFC 5626 §4.1), if given.
    pub instance: Option<String>,
    /// `reg-id` value (RFC 5626 §4.2), if given.
    pub reg_id: Option<u32>,
    /// The Path header values received with the REGISTER (RFC 3327), in order.
    pub path: Vec<String>,
    /// Call-ID of the REGISTER that last refreshed this binding (RFC 3261 §10.3 step 7).
    pub call_id: String,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
    /// The flow the REGISTER was received on, when known.
    pub received: Option<Flow>,
}

/// The S-CSCF's registration of a public identity and its implicit registration set
/// (TS 24.229 §5.4.1.2; TS 23.228 §5.2.1a).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The public user identity that was registered (To of the REGISTER): the store key.
    pub aor: String,
    /// The private user identity that authenticated.
    pub impi: String,
    /// All IMPUs of the implicit registration set, in P-Associated-URI order.
    pub implicit_set: Vec<String>,
    /// The bindings.
    pub contacts: Vec<RegContact>,
}

impl Registration {
    /// Earliest contact expiry (when the registrar's expiry timer must next fire), or `None` when
    /// there is no contact.
    pub fn next_expiry(&self) -> Option<UnixSecs> {
        self.contacts.iter().map(|c| c.expires_at).min()
    }
}

/// A registration due to expire, as listed for arming expiry timers at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expiring {
    /// Key of the registration.
    pub aor: String,
    /// Version read, to be used with `remove_registration_if_version` / CAS.
    pub version: Version,
    /// Earliest contact expiry.
    pub next_expiry: UnixSecs,
}

/// The P-CSCF's record of a UE it registered (TS 24.229 §5.2.2.3: stored on the 200 OK).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UeRegistration {
    /// The registered public identity (with `contact`, the store key).
    pub impu: String,
    /// The UE's Contact URI.
    pub contact: String,
    /// The flow the UE registered over.
    pub flow: Flow,
    /// When the registration expires.
    pub expires_at: UnixSecs,
    /// Service-Route header values from the 200 OK, in order.
    pub service_route: Vec<String>,
    /// P-Associated-URI values from the 200 OK (the implicit set), in order.
    pub associated_uris: Vec<String>,
    /// Identifier of the security association protecting the UE (RFC 3329 / TS 33.203), if any.
    pub security_association: Option<String>,
}

/// Who holds a reg-event subscription (TS 24.229 §5.4.2.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegSubscriber {
    /// The UE, for its own public identities (asserted by the P-CSCF).
    Ue,
    /// A P-CSCF on the registration's Path (TS 24.229 §5.2.3).
    Pcscf,
}

/// The S-CSCF's side of one reg-event subscription (RFC 3680, RFC 6665 §4.2): the dialog it
/// sends NOTIFYs in and the reginfo `version` it last used. Kept in the store so that, after a
/// restart, NOTIFYs go on with increasing CSeq and version, and its expiry still fires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegSubscription {
    /// Store key: `Call-ID` and our tag ([`RegSubscription::key`]).
    pub id: String,
    /// The registration watched (its store key, the registered IMPU).
    pub aor: String,
    /// The IMPU subscribed to (Request-URI of the SUBSCRIBE).
    pub resource: String,
    /// Who subscribed.
    pub subscriber: RegSubscriber,
    /// Call-ID of the dialog.
    pub call_id: String,
    /// Our tag (To tag of the 200, From tag of our NOTIFYs).
    pub local_tag: String,
    /// The subscriber's tag.
    pub remote_tag: String,
    /// Our URI as a name-addr with our tag (From of NOTIFYs).
    pub local_uri: String,
    /// The subscriber's URI with its tag (To of NOTIFYs).
    pub remote_uri: String,
    /// The subscriber's Contact (Request-URI of NOTIFYs).
    pub remote_target: String,
    /// Route set (RFC 3261 §12.1.1: Record-Route of the SUBSCRIBE, in order), name-addrs.
    pub route_set: Vec<String>,
    /// CSeq of our last NOTIFY (the next one uses +1).
    pub local_cseq: u32,
    /// CSeq of the subscriber's last SUBSCRIBE.
    pub remote_cseq: u32,
    /// `version` of the last reginfo document sent; `None` before the first NOTIFY.
    pub version: Option<u32>,
    /// When the subscription expires.
    pub expires_at: UnixSecs,
}

impl RegSubscription {
    /// The store key of the dialog `call_id` / `local_tag`.
    pub fn key(call_id: &str, local_tag: &str) -> String {
        format!("{call_id};{local_tag}")
    }
}

/// The expected response XRES (TS 33.102 §6.3.2: 4 to 16 octets). A secret: zeroized on drop,
/// compared in constant time, `Debug` redacted. May contain any byte, including 0x00.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Xres(Vec<u8>);

impl Xres {
    /// Smallest XRES length (32 bits).
    pub const MIN_LEN: usize = 4;
    /// Largest XRES length (128 bits).
    pub const MAX_LEN: usize = 16;

    /// Copies `bytes`, checking the length allowed by TS 33.102 §6.3.2.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CscfError> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            return Err(CscfError::BadSecretLength {
                what: "XRES",
                min: Self::MIN_LEN,
                max: Self::MAX_LEN,
                got: bytes.len(),
            });
        }
        Ok(Self(bytes.to_vec()))
    }

    /// The secret bytes. Do not log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl From<&aka::Res> for Xres {
    fn from(res: &aka::Res) -> Self {
        Self(res.expose().to_vec())
    }
}

impl ConstantTimeEq for Xres {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_slice().ct_eq(other.0.as_slice())
    }
}

impl PartialEq for Xres {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Xres {}

impl std::fmt::Debug for Xres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Xres(<redacted>)")
    }
}

impl Serialize for Xres {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Xres {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = zeroize::Zeroizing::new(Vec::<u8>::deserialize(d)?);
        Xres::from_slice(&bytes).map_err(serde::de::Error::custom)
    }
}

/// The S-CSCF's state for one IMS-AKA challenge (TS 24.229 §5.4.1.2.1; RFC 3310), keyed by
/// IMPI and nonce. CK and IK are not kept: the S-CSCF needs them only for the 401 itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthChallenge {
    /// The private identity challenged.
    pub impi: String,
    /// The public identity of the REGISTER (for SAR AUTHENTICATION_TIMEOUT).
    pub impu: String,
    /// The nonce as sent in WWW-Authenticate: base64(RAND ‖ AUTN [‖ server data]).
    pub nonce: String,
    /// RAND (16 bytes).
    pub rand: [u8; 16],
    /// The expected response.
    pub xres: Xres,
    /// The `algorithm` parameter sent (`AKAv1-MD5`, `AKAv2-MD5`, …).
    pub algorithm: String,
    /// Highest nonce count (`nc`) accepted so far; `0` when none yet (RFC 2617 §3.2.2).
    pub nc_last: u32,
    /// When the challenge was issued.
    pub created_at: UnixSecs,
    /// When the challenge stops being acceptable (after that: 401 stale=true / SAR timeout).
    pub expires_at: UnixSecs,
    /// Whether the nonce may be used once only (then the registrar uses `take_challenge`).
    pub single_use: bool,
}

impl AuthChallenge {
    /// Whether the challenge has expired at `now`.
    pub fn is_expired(&self, now: UnixSecs) -> bool {
        now >= self.expires_at
    }
}

/// A challenge removed by `purge_expired_challenges`: never answered in time, so the registrar
/// sends SAR AUTHENTICATION_TIMEOUT (TS 24.229 §5.4.1.2.1, TS 29.228 §6.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiredChallenge {
    /// Private identity challenged.
    pub impi: String,
    /// Public identity of the REGISTER.
    pub impu: String,
    /// The nonce.
    pub nonce: String,
}

/// Result of a nonce-count check for a reusable nonce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NcCheck {
    /// `nc` was greater than any seen before; it is now recorded. The challenge as stored.
    Accepted(AuthChallenge),
    /// `nc` was not greater than the last one accepted: a replay (RFC 2617 §3.2.2).
    Replayed,
    /// No such challenge (never issued, taken, or purged).
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xres_length_is_checked() {
        assert!(Xres::from_slice(&[0; 3]).is_err());
        assert!(Xres::from_slice(&[0; 17]).is_err());
        assert_eq!(Xres::from_slice(&[0; 4]).unwrap().expose(), &[0; 4]);
        assert_eq!(Xres::from_slice(&[7; 16]).unwrap().expose(), &[7; 16]);
    }

    #[test]
    fn xres_from_aka_res_and_serde_round_trip() {
        let res = aka::Res::from_bytes([0, 1, 0, 2, 0, 3, 0, 4]);
        let x = Xres::from(&res);
        assert_eq!(x.expose(), &[0, 1, 0, 2, 0, 3, 0, 4]);
        let json = serde_json::to_string(&x).unwrap();
        let back: Xres = serde_json::from_str(&json).unwrap();
        assert_eq!(back, x);
        assert!(serde_json::from_str::<Xres>("[1,2]").is_err());
        assert_ne!(x, Xres::from_slice(&[0, 1, 0, 2, 0, 3, 0, 5]).unwrap());
    }

    #[test]
    fn next_expiry_is_earliest_contact() {
        let c = |uri: &str, t| RegContact {
            uri: uri.into(),
            expires_at: t,
            q: None,
            instance: None,
            reg_id: None,
            path: vec![],
            call_id: "c".into(),
            cseq: 1,
            received: None,
        };
        let mut r = Registration {
            aor: "sip:a@x".into(),
            impi: "a@x".into(),
            implicit_set: vec![],
            contacts: vec![],
        };
        assert_eq!(r.next_expiry(), None);
        r.contacts = vec![c("sip:1@h", 300), c("sip:2@h", 100), c("sip:3@h", 200)];
        assert_eq!(r.next_expiry(), Some(100));
    }
}
