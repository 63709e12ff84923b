//! Partial updates as an operator writes them (CLI `set`, REST `PATCH`), turned into validated
//! [`ImpiUpdate`] / [`ImpuUpdate`] values.

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::model::sqn::DEFAULT_IND_BITS;
use crate::model::{AuthScheme, DigestCredentials, OperatorKey, SqnState};
use crate::secret::{parse_hex_array, Ha1, Op, Opc, K};
use crate::store::{ImpiUpdate, ImpuUpdate};
use crate::HssError;

/// Changes to a private identity. Hex strings for secrets; wiped on drop; `Debug` redacted.
#[derive(Clone, Default, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ImpiPatch {
    /// New K (32 hex digits).
    #[arg(long)]
    #[serde(default)]
    pub k: Option<String>,
    /// New OP (32 hex digits); replaces a stored OP or OPc.
    #[arg(long, conflicts_with = "opc")]
    #[serde(default)]
    pub op: Option<String>,
    /// New OPc (32 hex digits); replaces a stored OP or OPc.
    #[arg(long)]
    #[serde(default)]
    pub opc: Option<String>,
    /// New AMF (4 hex digits).
    #[arg(long)]
    #[serde(default)]
    pub amf: Option<String>,
    /// Allowed schemes, comma separated (AKAv1-MD5, AKAv2-MD5, Digest-MD5).
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub auth_schemes: Option<Vec<String>>,
    /// Default scheme.
    #[arg(long)]
    #[serde(default)]
    pub default_scheme: Option<String>,
    /// Digest realm (with --digest-ha1).
    #[arg(long, requires = "digest_ha1")]
    #[serde(default)]
    pub digest_realm: Option<String>,
    /// Digest HA1 (32 hex digits, with --digest-realm).
    #[arg(long, requires = "digest_realm")]
    #[serde(default)]
    pub digest_ha1: Option<String>,
    /// Remove the digest credentials.
    #[arg(long, conflicts_with_all = ["digest_realm", "digest_ha1"])]
    #[serde(default)]
    pub remove_digest: bool,
    /// Highest SQN the USIM has accepted: the next vector will be newer (48-bit value).
    #[arg(long)]
    #[serde(default)]
    pub sqn: Option<u64>,
    /// IND width used with --sqn (default 5).
    #[arg(long, requires = "sqn")]
    #[serde(default)]
    pub ind_bits: Option<u8>,
    /// Allow --sqn to move the counter backwards (only for a new USIM).
    #[arg(long, requires = "sqn")]
    #[serde(default)]
    pub allow_sqn_rewind: bool,
}

impl Drop for ImpiPatch {
    fn drop(&mut self) {
        self.k.zeroize();
        self.op.zeroize();
        self.opc.zeroize();
        self.digest_ha1.zeroize();
    }
}

impl std::fmt::Debug for ImpiPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImpiPatch")
            .field("k", &self.k.as_ref().map(|_| "<redacted>"))
            .field("op", &self.op.as_ref().map(|_| "<redacted>"))
            .field("opc", &self.opc.as_ref().map(|_| "<redacted>"))
            .field("amf", &self.amf)
            .field("auth_schemes", &self.auth_schemes)
            .field("default_scheme", &self.default_scheme)
            .field("sqn", &self.sqn)
            .finish_non_exhaustive()
    }
}

impl ImpiPatch {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.k.is_none()
            && self.op.is_none()
            && self.opc.is_none()
            && self.amf.is_none()
            && self.auth_schemes.is_none()
            && self.default_scheme.is_none()
            && self.digest_realm.is_none()
            && self.digest_ha1.is_none()
            && !self.remove_digest
            && self.sqn.is_none()
    }

    /// Validates and converts.
    pub fn to_update(&self) -> Result<ImpiUpdate, HssError> {
        let operator_key = match (&self.op, &self.opc) {
            (Some(_), Some(_)) => {
                return Err(HssError::invalid("op", "give either op or opc, not both"))
            }
            (Some(op), None) => Some(OperatorKey::Op(Op::from_hex(op)?)),
            (None, Some(opc)) => Some(OperatorKey::Opc(Opc::from_hex(opc)?)),
            (None, None) => None,
        };
        let digest = match (&self.digest_realm, &self.digest_ha1, self.remove_digest) {
            (None, None, false) => None,
            (None, None, true) => Some(None),
            (Some(realm), Some(ha1), false) => Some(Some(DigestCredentials {
                realm: realm.trim().to_string(),
                ha1: Ha1::from_hex(ha1)?,
            })),
            (_, _, true) => {
                return Err(HssError::invalid(
                    "digest_ha1",
                    "remove_digest together with new digest credentials",
                ))
            }
            _ => {
                return Err(HssError::invalid(
                    "digest_ha1",
                    "digest_realm and digest_ha1 go together",
                ))
            }
        };
        Ok(ImpiUpdate {
            k: self.k.as_deref().map(K::from_hex).transpose()?,
            operator_key,
            amf: self
                .amf
                .as_deref()
                .map(|a| parse_hex_array::<2>("amf", a))
                .transpose()?,
            auth_schemes: self
                .auth_schemes
                .as_ref()
                .map(|l| AuthScheme::parse_list(&l.join(",")))
                .transpose()?,
            default_scheme: self
                .default_scheme
                .as_deref()
                .map(AuthScheme::parse)
                .transpose()?,
            digest,
            sqn: self
                .sqn
                .map(|s| SqnState::starting_after(s, self.ind_bits.unwrap_or(DEFAULT_IND_BITS)))
                .transpose()?,
            allow_sqn_rewind: self.allow_sqn_rewind,
        })
    }
}

/// Changes to a public identity.
#[derive(Debug, Clone, Default, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ImpuPatch {
    /// Barring indication.
    #[arg(long)]
    #[serde(default)]
    pub barred: Option<bool>,
    /// Implicit registration set id.
    #[arg(long)]
    #[serde(default)]
    pub irs: Option<String>,
    /// Whether it may register explicitly.
    #[arg(long)]
    #[serde(default)]
    pub can_register: Option<bool>,
    /// Service profile id.
    #[arg(long)]
    #[serde(default)]
    pub service_profile: Option<String>,
}

impl ImpuPatch {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.barred.is_none()
            && self.irs.is_none()
            && self.can_register.is_none()
            && self.service_profile.is_none()
    }

    /// Converts (the store validates the profile reference).
    pub fn to_update(&self) -> ImpuUpdate {
        ImpuUpdate {
            barred: self.barred,
            irs: self.irs.clone().map(Some),
            can_register: self.can_register,
            service_profile: self.service_profile.clone(),
        }
    }
}
