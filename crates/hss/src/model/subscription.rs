//! The IMS subscription tree (TS 29.228 Annex B; TS 23.228 §4.3.3): subscription → private
//! identities → public identities → service profiles, plus the S-CSCF assignment and the
//! registration state the Cx procedures maintain.

use serde::{Deserialize, Serialize};

use super::auth::{AuthScheme, DigestCredentials};
use super::identity::{Impi, Impu};
use super::ifc::ServiceProfile;
use super::sqn::SqnState;
use crate::secret::{Op, Opc, K};
use crate::HssError;

/// The operator key of an IMPI: OP, or OPc derived from it (TS 35.206 §4.1). Which one is stored is
/// part of the data; they are never confused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorKey {
    /// OP; the AuC computes OPc = OP ⊕ E_K(OP) per vector.
    Op(Op),
    /// OPc, as provisioned.
    Opc(Opc),
}

impl OperatorKey {
    /// `"op"` or `"opc"`, as stored.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Op(_) => "op",
            Self::Opc(_) => "opc",
        }
    }

    /// The 16 stored bytes. Do not log them.
    pub fn expose(&self) -> &[u8; 16] {
        match self {
            Self::Op(o) => o.expose(),
            Self::Opc(o) => o.expose(),
        }
    }

    /// Rebuilds from the stored kind and bytes.
    pub fn from_stored(kind: &str, bytes: &[u8]) -> Result<Self, HssError> {
        match kind {
            "op" => Ok(Self::Op(Op::from_slice(bytes)?)),
            "opc" => Ok(Self::Opc(Opc::from_slice(bytes)?)),
            other => Err(HssError::invalid(
                "op_kind",
                format!("{other:?} is neither op nor opc"),
            )),
        }
    }
}

/// Registration state of a public identity as the HSS sees it (TS 29.228 §6.1.2:
/// NOT_REGISTERED, REGISTERED, UNREGISTERED — the last meaning "S-CSCF assigned for unregistered
/// services").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegistrationState {
    /// No S-CSCF serves the identity.
    #[default]
    NotRegistered,
    /// Registered.
    Registered,
    /// Not registered, but an S-CSCF holds it for unregistered services.
    Unregistered,
}

impl RegistrationState {
    /// Stored spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotRegistered => "NOT_REGISTERED",
            Self::Registered => "REGISTERED",
            Self::Unregistered => "UNREGISTERED",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Result<Self, HssError> {
        match s {
            "NOT_REGISTERED" => Ok(Self::NotRegistered),
            "REGISTERED" => Ok(Self::Registered),
            "UNREGISTERED" => Ok(Self::Unregistered),
            other => Err(HssError::invalid(
                "registration_state",
                format!("{other:?} is not NOT_REGISTERED, REGISTERED or UNREGISTERED"),
            )),
        }
    }
}

/// A private user identity with its credentials (TS 33.203 §6.1, TS 29.228 §6.3 MAR/MAA data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateIdentity {
    /// The IMPI.
    pub impi: Impi,
    /// Subscriber key K.
    pub k: K,
    /// OP or OPc.
    pub operator_key: OperatorKey,
    /// Authentication management field for new vectors (TS 33.102 Annex F; bit 0 = separation bit).
    pub amf: [u8; 2],
    /// SQN state (TS 33.102 Annex C).
    pub sqn: SqnState,
    /// Schemes the IMPI may use; non-empty, no duplicates.
    pub auth_schemes: Vec<AuthScheme>,
    /// Scheme used when a MAR does not name one ("Unknown"); one of `auth_schemes`.
    pub default_scheme: AuthScheme,
    /// Required iff `auth_schemes` contains [`AuthScheme::DigestMd5`].
    pub digest: Option<DigestCredentials>,
    /// Public identities this IMPI may register (TS 29.228 §6.1.1 "identities match").
    pub impus: Vec<Impu>,
}

impl PrivateIdentity {
    /// Checks the scheme rules.
    pub fn validate(&self) -> Result<(), HssError> {
        if self.auth_schemes.is_empty() {
            return Err(HssError::invalid(
                "auth_schemes",
                "at least one scheme is required",
            ));
        }
        let mut sorted = self.auth_schemes.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.auth_schemes.len() {
            return Err(HssError::invalid(
                "auth_schemes",
                "a scheme is listed twice",
            ));
        }
        if !self.auth_schemes.contains(&self.default_scheme) {
            return Err(HssError::invalid(
                "default_scheme",
                format!(
                    "{} is not among the allowed schemes {}",
                    self.default_scheme,
                    AuthScheme::format_list(&self.auth_schemes)
                ),
            ));
        }
        let wants_digest = self.auth_schemes.contains(&AuthScheme::DigestMd5);
        match (&self.digest, wants_digest) {
            (None, true) => {
                return Err(HssError::invalid(
                    "digest_ha1",
                    "Digest-MD5 is allowed but no digest realm/HA1 is given",
                ))
            }
            (Some(_), false) => {
                return Err(HssError::invalid(
                    "digest_ha1",
                    "a digest HA1 is given but Digest-MD5 is not an allowed scheme",
                ))
            }
            (Some(d), true) if d.realm.trim().is_empty() || d.realm.len() > 255 => {
                return Err(HssError::invalid(
                    "digest_realm",
                    "must be 1..255 characters",
                ))
            }
            _ => {}
        }
        if self.impus.is_empty() {
            return Err(HssError::invalid(
                "impus",
                format!("{} has no public identity", self.impi),
            ));
        }
        Ok(())
    }
}

/// A public user identity (TS 29.228 Annex B `PublicIdentity`, TS 23.228 §4.3.3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicIdentity {
    /// The IMPU.
    pub impu: Impu,
    /// `BarringIndication`: barred identities cannot register or be used for sessions, but
    /// are still registered implicitly (TS 29.228 §6.1.1).
    pub barred: bool,
    /// Implicit registration set id: identities with the same id are registered together
    /// (TS 29.228 §6.5.1); `None` = a set of its own.
    pub irs: Option<String>,
    /// False = may not be registered explicitly (e.g. a tel URI registered only implicitly).
    pub can_register: bool,
    /// Id of the [`ServiceProfile`] of the same subscription.
    pub service_profile: String,
    /// Current registration state.
    pub state: RegistrationState,
}

/// The S-CSCF serving a subscription (TS 29.228 §6.1.2 Server-Name, stored at SAR/MAR time), with
/// the Diameter Origin-Host it sent from so RTR/PPR can reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScscfAssignment {
    /// SIP URI of the S-CSCF (Server-Name AVP).
    pub server_name: String,
    /// Diameter identity of the S-CSCF (Origin-Host).
    pub origin_host: String,
}

/// An IMS subscription (TS 23.228 §4.3.3): the unit the HSS provisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Operator-chosen id (the IMSI for the demo subscribers).
    pub id: String,
    /// At least one private identity.
    pub private_identities: Vec<PrivateIdentity>,
    /// At least one public identity.
    pub public_identities: Vec<PublicIdentity>,
    /// Profiles referenced by the public identities.
    pub service_profiles: Vec<ServiceProfile>,
    /// Assigned S-CSCF, if any.
    pub scscf: Option<ScscfAssignment>,
    /// S-CSCF reassignment pending (TS 29.228 §6.1.1.1, §8.1): set by a UAR of type
    /// REGISTRATION_AND_CAPABILITIES; the next SAR from another S-CSCF may then take over the
    /// assignment (and clears the flag).
    pub scscf_reassignment_pending: bool,
    /// Name of the [`CapabilitySet`] the I-CSCF gets for this subscription (its capability
    /// profile); `None` = the set named [`DEFAULT_CAPABILITY_SET`].
    pub capability_set: Option<String>,
}

impl Subscription {
    /// Checks the whole tree: identities unique, every IMPI's IMPUs belong to the subscription,
    /// every profile reference resolves, at least one identity of each kind.
    pub fn validate(&self) -> Result<(), HssError> {
        if self.id.trim().is_empty() || self.id.len() > 128 || self.id.chars().any(char::is_control)
        {
            return Err(HssError::invalid(
                "id",
                "must be 1..128 printable characters",
            ));
        }
        if self.private_identities.is_empty() {
            return Err(HssError::invalid(
                "impi",
                "a subscription needs a private identity",
            ));
        }
        if self.public_identities.is_empty() {
            return Err(HssError::invalid(
                "impus",
                "a subscription needs a public identity",
            ));
        }
        let mut impis = std::collections::HashSet::new();
        for p in &self.private_identities {
            p.validate()?;
            if !impis.insert(p.impi.as_str().to_ascii_lowercase()) {
                return Err(HssError::Duplicate {
                    what: "impi",
                    key: p.impi.to_string(),
                });
            }
        }
        let mut impus = std::collections::HashSet::new();
        for u in &self.public_identities {
            if !impus.insert(u.impu.as_str().to_ascii_lowercase()) {
                return Err(HssError::Duplicate {
                    what: "impu",
                    key: u.impu.to_string(),
                });
            }
            if !self
                .service_profiles
                .iter()
                .any(|s| s.id == u.service_profile)
            {
                return Err(HssError::invalid(
                    "service_profile",
                    format!(
                        "{} refers to unknown profile {:?}",
                        u.impu, u.service_profile
                    ),
                ));
            }
            if let Some(irs) = &u.irs {
                if irs.trim().is_empty() || irs.len() > 128 {
                    return Err(HssError::invalid("irs", "set id must be 1..128 characters"));
                }
            }
        }
        for p in &self.private_identities {
            for u in &p.impus {
                if !impus.contains(&u.as_str().to_ascii_lowercase()) {
                    return Err(HssError::invalid(
                        "impus",
                        format!(
                            "{} is associated with {} which is not in the subscription",
                            p.impi, u
                        ),
                    ));
                }
            }
        }
        let mut profiles = std::collections::HashSet::new();
        for s in &self.service_profiles {
            s.validate()?;
            if !profiles.insert(s.id.as_str()) {
                return Err(HssError::Duplicate {
                    what: "service_profile",
                    key: s.id.clone(),
                });
            }
        }
        Ok(())
    }

    /// The implicit registration set of `impu` (TS 29.228 §6.5.1): every public identity with the
    /// same set id, or just `impu` if it has none. Empty if `impu` is not in the subscription.
    pub fn implicit_set(&self, impu: &Impu) -> Vec<&PublicIdentity> {
        let Some(me) = self.public_identities.iter().find(|u| u.impu == *impu) else {
            return Vec::new();
        };
        match &me.irs {
            None => vec![me],
            Some(id) => self
                .public_identities
                .iter()
                .filter(|u| u.irs.as_deref() == Some(id.as_str()))
                .collect(),
        }
    }
}

/// S-CSCF capabilities (TS 29.228 §6.7 S-CSCF assignment, TS 29.229 Server-Capabilities): what an I-CSCF uses to pick
/// an S-CSCF when none is assigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScscfCapabilities {
    /// SIP URI of the S-CSCF.
    pub server_name: String,
    /// Mandatory-Capability values it supports.
    pub mandatory: Vec<u32>,
    /// Optional-Capability values it supports.
    pub optional: Vec<u32>,
}

/// Name of the capability set used for subscriptions that name none.
pub const DEFAULT_CAPABILITY_SET: &str = "default";

/// A named set of S-CSCF capabilities (TS 29.228 §6.7, TS 29.229 §6.3.3 Server-Capabilities): what
/// the HSS returns in UAA (FIRST_REGISTRATION without an assigned S-CSCF, and
/// REGISTRATION_AND_CAPABILITIES) and LIA so the I-CSCF can select an S-CSCF. Subscriptions
/// refer to one by name ([`Subscription::capability_set`]); the set [`DEFAULT_CAPABILITY_SET`]
/// serves the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitySet {
    /// Name (1..128 characters).
    pub name: String,
    /// Mandatory-Capability values: the S-CSCF must support all of them.
    #[serde(default)]
    pub mandatory: Vec<u32>,
    /// Optional-Capability values: preferred, not required.
    #[serde(default)]
    pub optional: Vec<u32>,
    /// Server-Name entries: S-CSCFs to prefer, in order (SIP URIs).
    #[serde(default)]
    pub server_names: Vec<String>,
}

impl CapabilitySet {
    /// Checks the name and the Server-Name entries.
    pub fn validate(&self) -> Result<(), HssError> {
        if self.name.trim().is_empty()
            || self.name.len() > 128
            || self.name.chars().any(char::is_control)
        {
            return Err(HssError::invalid(
                "capability_set",
                "name must be 1..128 printable characters",
            ));
        }
        for n in &self.server_names {
            let lower = n.to_ascii_lowercase();
            if !(lower.starts_with("sip:") || lower.starts_with("sips:"))
                || n.len() > 255
                || n.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(HssError::invalid(
                    "server_names",
                    format!("{n:?} is not a SIP URI"),
                ));
            }
        }
        Ok(())
    }
}
