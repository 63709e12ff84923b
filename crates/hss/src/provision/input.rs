//! [`SubscriberInput`]: one subscriber as an operator writes it (CLI flags, a CSV row, a JSON object,
//! a REST body), turned into a validated [`Subscription`] before anything touches the store.

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::model::sqn::DEFAULT_IND_BITS;
use crate::model::{
    AuthScheme, DigestCredentials, Impi, Impu, OperatorKey, PrivateIdentity, PublicIdentity,
    RegistrationState, ServiceProfile, SqnState, Subscription,
};
use crate::secret::{parse_hex_array, Ha1, Op, Opc, K};
use crate::HssError;

/// Id of the service profile created when the input names none.
pub const DEFAULT_PROFILE: &str = "default";
/// Implicit registration set given to public identities that name none: all identities of a
/// subscriber are registered together unless told otherwise.
pub const DEFAULT_IRS: &str = "default";
/// AMF used when none is given.
pub const DEFAULT_AMF: &str = "8000";

/// A subscriber with one private identity, as provisioned. Secret fields are hex strings here and
/// are wiped when the value is dropped; `Debug` does not print them.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriberInput {
    /// Subscription id; defaults to the IMPI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Private identity `user@realm`.
    pub impi: String,
    /// Public identities (at least one).
    pub impus: Vec<ImpuInput>,
    /// K, 32 hex digits.
    pub k: String,
    /// OP, 32 hex digits (give `op` or `opc`, not both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// OPc, 32 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opc: Option<String>,
    /// AMF, 4 hex digits (default 8000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amf: Option<String>,
    /// Highest SQN the USIM has already accepted (the first vector will be newer); default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqn: Option<u64>,
    /// IND width (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ind_bits: Option<u8>,
    /// Allowed schemes (default `["AKAv1-MD5"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_schemes: Option<Vec<String>>,
    /// Default scheme (default: the first allowed one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scheme: Option<String>,
    /// Digest realm (with `digest_ha1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_realm: Option<String>,
    /// Digest HA1 = MD5(user:realm:password), 32 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_ha1: Option<String>,
    /// Service profiles (default: one empty profile named `default`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_profiles: Vec<ServiceProfile>,
}

impl Drop for SubscriberInput {
    fn drop(&mut self) {
        self.k.zeroize();
        self.op.zeroize();
        self.opc.zeroize();
        self.digest_ha1.zeroize();
    }
}

impl std::fmt::Debug for SubscriberInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberInput")
            .field("id", &self.id)
            .field("impi", &self.impi)
            .field("impus", &self.impus)
            .field("k", &"<redacted>")
            .field("op", &self.op.as_ref().map(|_| "<redacted>"))
            .field("opc", &self.opc.as_ref().map(|_| "<redacted>"))
            .field("amf", &self.amf)
            .field("auth_schemes", &self.auth_schemes)
            .finish_non_exhaustive()
    }
}

/// A public identity in the input: a bare URI, or an object with its attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ImpuInput {
    /// Just the URI; defaults for the rest.
    Uri(String),
    /// URI with attributes.
    Full {
        /// `sip:` or `tel:` URI.
        uri: String,
        /// Barred (default false).
        #[serde(default)]
        barred: bool,
        /// Implicit registration set id (default `default`).
        #[serde(default)]
        irs: Option<String>,
        /// May register explicitly (default: true for sip:, false for tel:).
        #[serde(default)]
        can_register: Option<bool>,
        /// Service profile id (default: the first profile).
        #[serde(default)]
        service_profile: Option<String>,
    },
}

impl ImpuInput {
    fn uri(&self) -> &str {
        match self {
            Self::Uri(u) | Self::Full { uri: u, .. } => u,
        }
    }
}

impl SubscriberInput {
    /// Validates everything and builds the subscription. Errors name the field and the problem.
    pub fn to_subscription(&self) -> Result<Subscription, HssError> {
        let impi = Impi::parse(&self.impi)?;
        let id = match &self.id {
            Some(id) if !id.trim().is_empty() => id.trim().to_string(),
            Some(_) => return Err(HssError::invalid("id", "empty")),
            None => impi.to_string(),
        };
        let k = K::from_hex(&self.k)?;
        let operator_key = match (&self.op, &self.opc) {
            (Some(op), None) => OperatorKey::Op(Op::from_hex(op)?),
            (None, Some(opc)) => OperatorKey::Opc(Opc::from_hex(opc)?),
            (Some(_), Some(_)) => {
                return Err(HssError::invalid("op", "give either op or opc, not both"))
            }
            (None, None) => return Err(HssError::invalid("op", "op or opc is required")),
        };
        let amf = parse_hex_array::<2>("amf", self.amf.as_deref().unwrap_or(DEFAULT_AMF))?;
        let ind_bits = self.ind_bits.unwrap_or(DEFAULT_IND_BITS);
        let sqn = SqnState::starting_after(self.sqn.unwrap_or(0), ind_bits)?;
        let auth_schemes = match &self.auth_schemes {
            None => vec![AuthScheme::AkaV1Md5],
            Some(list) => AuthScheme::parse_list(&list.join(","))?,
        };
        let default_scheme = match &self.default_scheme {
            Some(s) => AuthScheme::parse(s)?,
            None => auth_schemes[0],
        };
        let digest = match (&self.digest_realm, &self.digest_ha1) {
            (Some(realm), Some(ha1)) => Some(DigestCredentials {
                realm: realm.trim().to_string(),
                ha1: Ha1::from_hex(ha1)?,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(HssError::invalid(
                    "digest_ha1",
                    "digest_realm given without digest_ha1",
                ))
            }
            (None, Some(_)) => {
                return Err(HssError::invalid(
                    "digest_realm",
                    "digest_ha1 given without digest_realm",
                ))
            }
        };
        let service_profiles = if self.service_profiles.is_empty() {
            vec![ServiceProfile {
                id: DEFAULT_PROFILE.to_string(),
                ifcs: Vec::new(),
            }]
        } else {
            self.service_profiles.clone()
        };
        let first_profile = service_profiles[0].id.clone();
        if self.impus.is_empty() {
            return Err(HssError::invalid(
                "impus",
                "at least one public identity is required",
            ));
        }
        let mut public_identities = Vec::with_capacity(self.impus.len());
        for u in &self.impus {
            let impu = Impu::parse(u.uri())?;
            let tel = impu.is_tel();
            let p = match u {
                ImpuInput::Uri(_) => PublicIdentity {
                    impu,
                    barred: false,
                    irs: Some(DEFAULT_IRS.to_string()),
                    can_register: !tel,
                    service_profile: first_profile.clone(),
                    state: RegistrationState::NotRegistered,
                },
                ImpuInput::Full {
                    barred,
                    irs,
                    can_register,
                    service_profile,
                    ..
                } => PublicIdentity {
                    impu,
                    barred: *barred,
                    irs: Some(irs.clone().unwrap_or_else(|| DEFAULT_IRS.to_string())),
                    can_register: can_register.unwrap_or(!tel),
                    service_profile: service_profile
                        .clone()
                        .unwrap_or_else(|| first_profile.clone()),
                    state: RegistrationState::NotRegistered,
                },
            };
            public_identities.push(p);
        }
        let sub = Subscription {
            id,
            private_identities: vec![PrivateIdentity {
                impi,
                k,
                operator_key,
                amf,
                sqn,
                auth_schemes,
                default_scheme,
                digest,
                impus: public_identities.iter().map(|p| p.impu.clone()).collect(),
            }],
            public_identities,
            service_profiles,
            scscf: None,
            scscf_reassignment_pending: false,
            capability_set: None,
        };
        sub.validate()?;
        Ok(sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> SubscriberInput {
        let mut i = SubscriberInput::default();
        i.impi = "alice@ims.example".into();
        i.impus = vec![
            ImpuInput::Uri("sip:alice@ims.example".into()),
            ImpuInput::Uri("tel:+15551234".into()),
        ];
        i.k = "000102030405060708090a0b0c0d0e0f".into();
        i.opc = Some("00000000000000000000000000000000".into());
        i
    }

    #[test]
    fn defaults_are_applied() {
        let s = base().to_subscription().unwrap();
        assert_eq!(s.id, "alice@ims.example");
        let p = &s.private_identities[0];
        assert_eq!(p.amf, [0x80, 0x00]);
        assert_eq!(p.auth_schemes, vec![AuthScheme::AkaV1Md5]);
        assert!(matches!(p.operator_key, OperatorKey::Opc(_)));
        assert_eq!(p.impus.len(), 2);
        assert!(s.public_identities[0].can_register);
        assert!(
            !s.public_identities[1].can_register,
            "tel URI registers implicitly only"
        );
        assert_eq!(s.implicit_set(&s.public_identities[0].impu).len(), 2);
        assert_eq!(s.service_profiles[0].id, DEFAULT_PROFILE);
    }

    #[test]
    fn each_error_names_its_field() {
        type Mutation = Box<dyn Fn(&mut SubscriberInput)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|i| i.k = "0011".into()), "invalid k"),
            (Box::new(|i| i.k = "g".repeat(32)), "invalid k"),
            (
                Box::new(|i| i.op = Some("00".repeat(16))),
                "either op or opc",
            ),
            (Box::new(|i| i.opc = None), "op or opc is required"),
            (Box::new(|i| i.amf = Some("80".into())), "invalid amf"),
            (Box::new(|i| i.impi = "alice".into()), "invalid impi"),
            (
                Box::new(|i| i.impus.push(ImpuInput::Uri("mailto:x@y".into()))),
                "invalid impu",
            ),
            (
                Box::new(|i| i.impus.push(ImpuInput::Uri("sip:alice@ims.example".into()))),
                "duplicate impu",
            ),
            (Box::new(|i| i.impus.clear()), "invalid impus"),
            (
                Box::new(|i| i.auth_schemes = Some(vec!["Digest-MD5".into()])),
                "digest_ha1",
            ),
            (
                Box::new(|i| i.default_scheme = Some("AKAv2-MD5".into())),
                "default_scheme",
            ),
            (
                Box::new(|i| i.digest_realm = Some("ims.example".into())),
                "digest_ha1",
            ),
            (Box::new(|i| i.sqn = Some(1 << 48)), "invalid sqn"),
        ];
        for (mutate, expect) in cases {
            let mut i = base();
            mutate(&mut i);
            let e = i.to_subscription().unwrap_err().to_string();
            assert!(e.contains(expect), "expected {expect:?} in {e:?}");
        }
    }

    #[test]
    fn digest_subscriber_and_debug_redaction() {
        let mut i = base();
        i.auth_schemes = Some(vec!["AKAv1-MD5".into(), "Digest-MD5".into()]);
        i.digest_realm = Some("ims.example".into());
        i.digest_ha1 = Some("0123456789abcdef0123456789abcdef".into());
        let s = i.to_subscription().unwrap();
        assert!(s.private_identities[0].digest.is_some());
        let dbg = format!("{i:?} {s:?}");
        assert!(!dbg.contains("0123456789abcdef"), "{dbg}");
        assert!(!dbg.contains("000102030405"), "{dbg}");
    }

    #[test]
    fn json_shapes() {
        let i: SubscriberInput = serde_json::from_str(
            r#"{"impi":"bob@ims.example","k":"000102030405060708090a0b0c0d0e0f","op":"00000000000000000000000000000000",
                "impus":["sip:bob@ims.example",{"uri":"sip:bob2@ims.example","barred":true,"irs":"b"}]}"#,
        )
        .unwrap();
        let s = i.to_subscription().unwrap();
        assert!(s.public_identities[1].barred);
        assert_eq!(s.public_identities[1].irs.as_deref(), Some("b"));
        assert!(serde_json::from_str::<SubscriberInput>(
            r#"{"impi":"a@b.c","k":"","impus":[],"kk":1}"#
        )
        .is_err());
    }
}
