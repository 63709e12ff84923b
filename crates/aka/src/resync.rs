//! Resynchronisation (TS 33.102 §6.3.3, §6.3.5).
//!
//! UE: AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S with AK* = f5*(K, RAND) and MAC-S = f1*(K, SQN_MS, RAND, AMF)
//! where the AMF is the dummy value 0000 (§6.3.3), not the subscriber's AMF.
//!
//! Home side: SQN_MS = (first 6 bytes of AUTS) ⊕ f5*(K, RAND); MAC-S is recomputed and compared in
//! constant time. A mismatch is an error ([`AkaError::MacSMismatch`]): the SQN counter is never reset on an
//! unverified AUTS.

use subtle::ConstantTimeEq;

use crate::milenage::Milenage;
use crate::sqn::{HomeSqn, SqnConfig};
use crate::types::{Amf, Auts, Rand, Sqn};
use crate::AkaError;

/// Splits the Cx SIP-Authorization AVP value of a resynchronisation MAR, RAND ‖ AUTS (16 + 14 bytes,
/// TS 29.229 §6.3.14 / TS 33.203 §6.1.2).
pub fn split_sip_authorization(data: &[u8]) -> Result<(Rand, Auts), AkaError> {
    if data.len() != 30 {
        return Err(AkaError::BadLength {
            what: "SIP-Authorization (RAND ‖ AUTS)",
            expected: 30,
            got: data.len(),
        });
    }
    let (rand, auts) = data.split_at(16);
    Ok((Rand::from_slice(rand)?, Auts::from_slice(auts)?))
}

/// UE side: AUTS for the RAND of the rejected challenge and the UE's SQN_MS.
pub fn build_auts(m: &Milenage, rand: &Rand, sqn_ms: Sqn) -> Auts {
    let ak_star = m.f5_star(rand);
    let mac_s = m.f1_star(rand, sqn_ms, Amf::RESYNC);
    Auts::new(sqn_ms, &ak_star, &mac_s)
}

/// Home side: recovers SQN_MS from AUTS and verifies MAC-S (constant time).
pub fn recover_sqn_ms(m: &Milenage, rand: &Rand, auts: &Auts) -> Result<Sqn, AkaError> {
    let ak_star = m.f5_star(rand);
    let concealed = auts.sqn_xor_ak();
    let mut b = [0u8; 6];
    for i in 0..6 {
        b[i] = concealed[i] ^ ak_star.0[i];
    }
    let sqn_ms = Sqn::from_bytes(b);
    let xmac_s = m.f1_star(rand, sqn_ms, Amf::RESYNC);
    if bool::from(xmac_s.0.ct_eq(&auts.mac().0)) {
        Ok(sqn_ms)
    } else {
        Err(AkaError::MacSMismatch)
    }
}

/// Home side, whole procedure: verify AUTS for the RAND the HSS sent, and return the new stored SQN
/// state (TS 33.102 §6.3.5, see [`crate::sqn`]). On a bad MAC-S the state is untouched (error).
pub fn home_resync(
    m: &Milenage,
    cfg: &SqnConfig,
    last: HomeSqn,
    rand: &Rand,
    auts: &Auts,
) -> Result<HomeSqn, AkaError> {
    let sqn_ms = recover_sqn_ms(m, rand, auts)?;
    cfg.resync(last, sqn_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sip_authorization_exact_length() {
        let mut d = [0u8; 30];
        d[0] = 1;
        d[16] = 2;
        let (r, a) = split_sip_authorization(&d).unwrap();
        assert_eq!(r.0[0], 1);
        assert_eq!(a.0[0], 2);
        assert!(matches!(
            split_sip_authorization(&d[..29]),
            Err(AkaError::BadLength { got: 29, .. })
        ));
        assert!(split_sip_authorization(&[0u8; 31]).is_err());
    }
}
