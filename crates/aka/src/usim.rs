//! The USIM side of AKA (TS 33.102 §6.3.3), for the UE simulator.
//!
//! On receiving RAND and AUTN the USIM computes AK = f5(RAND), recovers SQN = (SQN ⊕ AK) ⊕ AK, computes
//! XMAC = f1(K, SQN, RAND, AMF) and compares it with MAC-A (constant time). A mismatch is a MAC failure
//! (the network is not authentic; no AUTS). Then it checks SQN ([`UeSqnState::verify`]); out of range is a
//! synchronisation failure answered with AUTS built from SQN_MS. Otherwise it stores SQN and returns RES,
//! CK, IK.

use subtle::ConstantTimeEq;

use crate::milenage::Milenage;
use crate::resync::build_auts;
use crate::secret::{Ck, Ik, Res};
use crate::sqn::{SqnConfig, SqnReject, UeSqnState};
use crate::types::{Autn, Auts, Rand, Sqn};
use crate::AkaError;

/// The USIM's answer to a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsimOutcome {
    /// AUTN verified and SQN fresh; the state was updated.
    Success {
        /// RES = f2(K, RAND).
        res: Res,
        /// CK.
        ck: Ck,
        /// IK.
        ik: Ik,
        /// The SQN accepted.
        sqn: Sqn,
    },
    /// MAC-A did not verify: reject the network (SIP: answer with no credentials / give up).
    MacFailure,
    /// MAC-A verified but SQN out of range: answer with AUTS (RFC 3310 §3.4).
    SyncFailure {
        /// AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S.
        auts: Auts,
        /// Why the SQN was refused.
        reason: SqnReject,
    },
}

/// Runs the USIM algorithm on (RAND, AUTN). `now_seq` feeds the optional age limit (see [`crate::sqn`]).
/// The state changes only on [`UsimOutcome::Success`].
pub fn authenticate(
    m: &Milenage,
    cfg: &SqnConfig,
    state: &mut UeSqnState,
    rand: &Rand,
    autn: &Autn,
    now_seq: Option<u64>,
) -> Result<UsimOutcome, AkaError> {
    let (res, ck, ik, ak) = m.f2345(rand);
    let concealed = autn.sqn_xor_ak();
    let mut b = [0u8; 6];
    for i in 0..6 {
        b[i] = concealed[i] ^ ak.0[i];
    }
    let sqn = Sqn::from_bytes(b);
    let xmac = m.f1(rand, sqn, autn.amf());
    if !bool::from(xmac.0.ct_eq(&autn.mac().0)) {
        return Ok(UsimOutcome::MacFailure);
    }
    match state.verify(cfg, sqn, now_seq)? {
        Ok(()) => {
            state.accept(sqn);
            Ok(UsimOutcome::Success { res, ck, ik, sqn })
        }
        Err(reason) => Ok(UsimOutcome::SyncFailure {
            auts: build_auts(m, rand, state.sqn_ms()),
            reason,
        }),
    }
}
