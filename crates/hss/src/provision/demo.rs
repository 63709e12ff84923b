//! The demo subscribers `imscore up` provisions: IMSI 001010000000001…, realm
//! `ims.mnc001.mcc001.3gppnetwork.org` (TS 23.003 §13.2 home network domain for MCC 001 / MNC 01).

use crate::model::{
    AuthScheme, Impi, Impu, OperatorKey, PrivateIdentity, PublicIdentity, RegistrationState,
    ServiceProfile, SqnState, Subscription,
};
use crate::secret::{Op, K};
use crate::store::SubscriberStore;
use crate::HssError;

/// Home network domain of the demo subscribers.
pub const DEMO_REALM: &str = "ims.mnc001.mcc001.3gppnetwork.org";
/// K of every demo subscriber ("imscore-demo-key").
pub const DEMO_K: [u8; 16] = *b"imscore-demo-key";
/// OP of every demo subscriber ("imscore-demo-op.").
pub const DEMO_OP: [u8; 16] = *b"imscore-demo-op.";
/// AMF of the demo subscribers.
pub const DEMO_AMF: [u8; 2] = [0x80, 0x00];

/// IMSI of demo subscriber `n` (1-based): MCC 001, MNC 01, MSIN `n` on 10 digits.
pub fn demo_imsi(n: u64) -> String {
    format!("00101{n:010}")
}

/// Demo subscriber `n`: subscription id = IMSI, IMPI `<imsi>@realm`, IMPU `sip:<imsi>@realm`.
pub fn demo_subscription(n: u64) -> Result<Subscription, HssError> {
    if n == 0 || n > 9_999_999_999 {
        return Err(HssError::invalid(
            "count",
            "demo subscriber numbers are 1..=9999999999",
        ));
    }
    let imsi = demo_imsi(n);
    let impu = Impu::parse(&format!("sip:{imsi}@{DEMO_REALM}"))?;
    Ok(Subscription {
        id: imsi.clone(),
        private_identities: vec![PrivateIdentity {
            impi: Impi::parse(&format!("{imsi}@{DEMO_REALM}"))?,
            k: K::from_bytes(DEMO_K),
            operator_key: OperatorKey::Op(Op::from_bytes(DEMO_OP)),
            amf: DEMO_AMF,
            sqn: SqnState::default(),
            auth_schemes: vec![AuthScheme::AkaV1Md5, AuthScheme::AkaV2Md5],
            default_scheme: AuthScheme::AkaV1Md5,
            digest: None,
            impus: vec![impu.clone()],
        }],
        public_identities: vec![PublicIdentity {
            impu,
            barred: false,
            irs: Some("default".into()),
            can_register: true,
            service_profile: "default".into(),
            state: RegistrationState::NotRegistered,
        }],
        service_profiles: vec![ServiceProfile {
            id: "default".into(),
            ifcs: Vec::new(),
        }],
        scscf: None,
        scscf_reassignment_pending: false,
        capability_set: None,
    })
}

/// Provisions demo subscribers `first ..= first + count - 1` in ONE transaction (all or nothing).
/// Returns how many were created.
pub async fn provision_demo(
    store: &dyn SubscriberStore,
    first: u64,
    count: u64,
) -> Result<u64, HssError> {
    if count == 0 {
        return Ok(0);
    }
    let last = first
        .checked_add(count - 1)
        .ok_or_else(|| HssError::invalid("count", "range overflows"))?;
    let subs = (first..=last)
        .map(demo_subscription)
        .collect::<Result<Vec<_>, _>>()?;
    store.create_subscriptions(&subs).await?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_identities_match_the_spec() {
        let s = demo_subscription(1).unwrap();
        assert_eq!(s.id, "001010000000001");
        assert_eq!(
            s.private_identities[0].impi.as_str(),
            "001010000000001@ims.mnc001.mcc001.3gppnetwork.org"
        );
        assert_eq!(
            s.public_identities[0].impu.as_str(),
            "sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org"
        );
        assert_eq!(hex::encode(DEMO_K), "696d73636f72652d64656d6f2d6b6579");
        assert_eq!(hex::encode(DEMO_OP), "696d73636f72652d64656d6f2d6f702e");
        s.validate().unwrap();
        assert!(demo_subscription(0).is_err());
    }
}
