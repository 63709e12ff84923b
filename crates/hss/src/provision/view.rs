//! [`SubscriptionView`]: what `show` and the REST API print about a subscription — everything but
//! the secrets (K, OP/OPc and HA1 are never shown, only which kind of operator key is stored).

use serde::{Deserialize, Serialize};

use crate::model::{
    AuthScheme, PublicIdentity, ScscfAssignment, ServiceProfile, SqnState, Subscription,
};

/// A subscription without its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionView {
    /// Subscription id.
    pub id: String,
    /// Private identities.
    pub private_identities: Vec<PrivateIdentityView>,
    /// Public identities with barring, implicit set and registration state.
    pub public_identities: Vec<PublicIdentity>,
    /// Service profiles.
    pub service_profiles: Vec<ServiceProfile>,
    /// Assigned S-CSCF.
    pub scscf: Option<ScscfAssignment>,
    /// Capability set (profile) for S-CSCF selection; absent = the default set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capability_set: Option<String>,
}

/// A private identity without its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateIdentityView {
    /// The IMPI.
    pub impi: String,
    /// `op` or `opc`: which operator key is stored.
    pub operator_key: String,
    /// AMF, hex.
    pub amf: String,
    /// SEQ of the last vector handed out.
    pub sqn_seq: u64,
    /// IND width.
    pub sqn_ind_bits: u8,
    /// Next IND.
    pub sqn_next_ind: u32,
    /// Allowed schemes.
    pub auth_schemes: Vec<AuthScheme>,
    /// Default scheme.
    pub default_scheme: AuthScheme,
    /// Digest realm, if Digest-MD5 is allowed (HA1 itself is not shown).
    pub digest_realm: Option<String>,
    /// Associated public identities.
    pub impus: Vec<String>,
}

impl From<&Subscription> for SubscriptionView {
    fn from(s: &Subscription) -> Self {
        Self {
            id: s.id.clone(),
            private_identities: s
                .private_identities
                .iter()
                .map(|p| {
                    let SqnState {
                        seq,
                        ind_bits,
                        next_ind,
                    } = p.sqn;
                    PrivateIdentityView {
                        impi: p.impi.to_string(),
                        operator_key: p.operator_key.kind().to_string(),
                        amf: hex::encode(p.amf),
                        sqn_seq: seq,
                        sqn_ind_bits: ind_bits,
                        sqn_next_ind: next_ind,
                        auth_schemes: p.auth_schemes.clone(),
                        default_scheme: p.default_scheme,
                        digest_realm: p.digest.as_ref().map(|d| d.realm.clone()),
                        impus: p.impus.iter().map(|u| u.to_string()).collect(),
                    }
                })
                .collect(),
            public_identities: s.public_identities.clone(),
            service_profiles: s.service_profiles.clone(),
            scscf: s.scscf.clone(),
            capability_set: s.capability_set.clone(),
        }
    }
}
