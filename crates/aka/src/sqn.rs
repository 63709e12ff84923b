//! Sequence number management (TS 33.102 §6.3.2, §6.3.5 and Annex C).
//!
//! # Format (Annex C.1.1)
//! SQN (48 bits) = SEQ ‖ IND, where IND is the `ind_bits` low-order bits (default 5, i.e. an array of
//! a = 32 entries in the UE) and SEQ the remaining high-order bits.
//!
//! # Home side (HSS/AuC) — choices made here
//! * The HSS persists one value per subscriber: the last SQN it issued ([`HomeSqn`]).
//! * [`SqnConfig::next_sqn`] is a pure function of that value: **SEQ is incremented by one for every
//!   vector** (Annex C.1.1.1, non-time-based SEQ_HE counter), and **IND cycles** through 0..2^a
//!   ([`IndPolicy::Cycle`], the counter allocation of Annex C.1.2), so consecutive vectors land in
//!   different UE array entries and a vector delivered out of order is still accepted. A deployment that
//!   allocates IND per serving node can pass [`IndPolicy::Fixed`] instead.
//!   SEQ never wraps: reaching the largest SEQ is an error, not a wrap-around.
//! * Resynchronisation (§6.3.5, re-synchronisation procedure; the reset SEQ_HE := SEQ_MS is the rule of the
//!   Annex C.3 profile — its exact subclause number was not checked against the text): [`SqnConfig::resync`] is given
//!   SQN_MS recovered from a verified AUTS. If the next SEQ the HSS would issue (SEQ_HE + 1) is already in
//!   the range the UE accepts (greater than SEQ_MS and at most Δ above it) the counter is kept (§6.3.5:
//!   "if SQN_HE is in the correct range … send new vectors"); otherwise SEQ_HE is set to SEQ_MS. Either way
//!   the next vector carries SEQ > SEQ_MS, so it is fresh for every IND entry of the UE. The SEQ_HE counter
//!   never moves unless the AUTS MAC-S verified (see [`crate::resync`]).
//!
//! # UE side (USIM simulator) — choices made here
//! [`UeSqnState`] is the array SEQ_MS(0..a−1) of Annex C.2.2, initially zero, serialisable with serde
//! (`{"ind_bits":5,"seq_ms":[…32 integers…]}`) so the UE simulator can persist it. SEQ_MS (without
//! index) is the highest SEQ anywhere in the array, and SQN_MS (used in AUTS) is SEQ_MS ‖ IND of the entry
//! holding it, i.e. the highest SQN accepted so far. A received SQN = SEQ ‖ IND is checked in this order,
//! any failure leading to a synchronisation failure (AUTS with SQN_MS):
//! 1. **Δ limit** (C.2.1): if SEQ > SEQ_MS, then SEQ − SEQ_MS ≤ Δ (default Δ = 2^28).
//! 2. **L limit** (C.2.2, optional, off by default): if SEQ < SEQ_MS, then SEQ_MS − SEQ < L.
//! 3. **Age limit** (C.2.3, optional, off by default): only for time-based SEQ (C.1.1.2/C.1.1.3); the
//!    caller passes its clock in SEQ units (`now_seq`) and SQNs with now_seq − SEQ > age limit are rejected.
//!    Without `now_seq` the age limit is not applied.
//! 4. **Freshness** (C.2.2): SEQ > SEQ_MS(IND), otherwise it is a replay.
//!
//! Checking never changes the state; [`UeSqnState::accept`] stores SEQ in SEQ_MS(IND) after a successful
//! authentication.

use serde::{Deserialize, Serialize};

use crate::types::Sqn;
use crate::AkaError;

/// Default IND length in bits (Annex C.1.1; a = 32 array entries).
pub const DEFAULT_IND_BITS: u8 = 5;
/// Default Δ (Annex C.2.1): 2^28.
pub const DEFAULT_DELTA: u64 = 1 << 28;
/// Largest IND length accepted (an array of 65 536 entries).
pub const MAX_IND_BITS: u8 = 16;

/// SQN parameters shared by the home side and the UE side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqnConfig {
    /// IND length in bits (0..=16).
    pub ind_bits: u8,
    /// Δ: largest accepted jump of SEQ above SEQ_MS (C.2.1).
    pub delta: u64,
    /// L: if set, SEQ must satisfy SEQ_MS − SEQ < L (C.2.2).
    pub l: Option<u64>,
    /// Age limit in SEQ units for time-based SEQ (C.2.3); applied only when a clock is given.
    pub age_limit: Option<u64>,
}

impl Default for SqnConfig {
    fn default() -> Self {
        Self {
            ind_bits: DEFAULT_IND_BITS,
            delta: DEFAULT_DELTA,
            l: None,
            age_limit: None,
        }
    }
}

/// How the home side picks IND for a new vector (Annex C.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndPolicy {
    /// IND = (previous IND + 1) mod 2^ind_bits.
    Cycle,
    /// A fixed IND, e.g. allocated per serving node.
    Fixed(u32),
}

/// What the HSS persists per subscriber: the last SQN it put in a vector (SEQ_HE ‖ IND).
/// A new subscriber starts at `HomeSqn::default()` (SQN 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HomeSqn(pub Sqn);

/// Why a UE rejected a SQN (every case leads to a synchronisation failure with AUTS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqnReject {
    /// SEQ ≤ SEQ_MS(IND): already used or older than what this array entry has seen (C.2.2).
    Replay {
        /// Received SEQ.
        seq: u64,
        /// SEQ_MS(IND).
        seq_ms_ind: u64,
    },
    /// SEQ − SEQ_MS > Δ (C.2.1).
    DeltaExceeded {
        /// Received SEQ.
        seq: u64,
        /// SEQ_MS.
        seq_ms: u64,
    },
    /// SEQ_MS − SEQ ≥ L (C.2.2).
    LimitL {
        /// Received SEQ.
        seq: u64,
        /// SEQ_MS.
        seq_ms: u64,
    },
    /// now − SEQ > age limit (C.2.3).
    TooOld {
        /// Received SEQ.
        seq: u64,
        /// The clock value given.
        now_seq: u64,
    },
}

impl SqnConfig {
    /// Checks the configuration (IND length ≤ 16 bits, Δ ≥ 1).
    pub fn validate(&self) -> Result<(), AkaError> {
        if self.ind_bits > MAX_IND_BITS {
            return Err(AkaError::BadIndLength(self.ind_bits));
        }
        if self.delta == 0 {
            return Err(AkaError::SqnState("delta must be at least 1".into()));
        }
        Ok(())
    }

    /// Largest SEQ value for this IND length.
    pub fn seq_max(&self) -> u64 {
        Sqn::MAX >> self.ind_bits.min(MAX_IND_BITS)
    }

    /// Home side: the SQN for the next vector, from the stored last SQN (see the module docs).
    /// Returns the SQN to use; the caller persists `HomeSqn(sqn)` before handing the vector out.
    pub fn next_sqn(&self, last: HomeSqn, policy: IndPolicy) -> Result<Sqn, AkaError> {
        self.validate()?;
        let seq = last.0.seq(self.ind_bits);
        let next_seq =
            seq.checked_add(1)
                .filter(|s| *s <= self.seq_max())
                .ok_or(AkaError::OutOfRange {
                    what: "SEQ",
                    value: seq,
                    max: self.seq_max() - 1,
                })?;
        let ind = match policy {
            IndPolicy::Cycle => {
                let n = 1u64 << self.ind_bits;
                ((u64::from(last.0.ind(self.ind_bits)) + 1) % n) as u32
            }
            IndPolicy::Fixed(i) => i,
        };
        Sqn::from_parts(next_seq, ind, self.ind_bits)
    }

    /// Home side: the new stored state after a resynchronisation with a **verified** SQN_MS
    /// (TS 33.102 §6.3.5; see the module docs). The next [`next_sqn`](Self::next_sqn) from the returned
    /// state is fresh for a UE whose highest accepted SQN is `sqn_ms`.
    pub fn resync(&self, last: HomeSqn, sqn_ms: Sqn) -> Result<HomeSqn, AkaError> {
        self.validate()?;
        let seq_he = last.0.seq(self.ind_bits);
        let seq_ms = sqn_ms.seq(self.ind_bits);
        let next = seq_he.saturating_add(1);
        if next > seq_ms && next - seq_ms <= self.delta && next <= self.seq_max() {
            return Ok(last);
        }
        Ok(HomeSqn(Sqn::from_parts(
            seq_ms,
            last.0.ind(self.ind_bits),
            self.ind_bits,
        )?))
    }
}

/// The UE's stored SEQ_MS array (Annex C.2.2), serialisable for the UE simulator's state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UeSqnStateRepr", into = "UeSqnStateRepr")]
pub struct UeSqnState {
    ind_bits: u8,
    seq_ms: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct UeSqnStateRepr {
    ind_bits: u8,
    seq_ms: Vec<u64>,
}

impl TryFrom<UeSqnStateRepr> for UeSqnState {
    type Error = AkaError;
    fn try_from(r: UeSqnStateRepr) -> Result<Self, AkaError> {
        if r.ind_bits > MAX_IND_BITS {
            return Err(AkaError::BadIndLength(r.ind_bits));
        }
        let n = 1usize << r.ind_bits;
        if r.seq_ms.len() != n {
            return Err(AkaError::SqnState(format!(
                "seq_ms has {} entries, expected {n} for ind_bits {}",
                r.seq_ms.len(),
                r.ind_bits
            )));
        }
        let max = Sqn::MAX >> r.ind_bits;
        if let Some(v) = r.seq_ms.iter().find(|v| **v > max) {
            return Err(AkaError::OutOfRange {
                what: "SEQ_MS",
                value: *v,
                max,
            });
        }
        Ok(Self {
            ind_bits: r.ind_bits,
            seq_ms: r.seq_ms,
        })
    }
}

impl From<UeSqnState> for UeSqnStateRepr {
    fn from(s: UeSqnState) -> Self {
        Self {
            ind_bits: s.ind_bits,
            seq_ms: s.seq_ms,
        }
    }
}

impl UeSqnState {
    /// A fresh USIM: every SEQ_MS(i) = 0 (C.2.2).
    pub fn new(cfg: &SqnConfig) -> Result<Self, AkaError> {
        cfg.validate()?;
        Ok(Self {
            ind_bits: cfg.ind_bits,
            seq_ms: vec![0; 1usize << cfg.ind_bits],
        })
    }

    /// The IND length this array was built for.
    pub fn ind_bits(&self) -> u8 {
        self.ind_bits
    }

    /// The array SEQ_MS(0..a−1).
    pub fn entries(&self) -> &[u64] {
        &self.seq_ms
    }

    /// SEQ_MS: the highest SEQ accepted anywhere in the array.
    pub fn seq_ms(&self) -> u64 {
        self.seq_ms.iter().copied().max().unwrap_or(0)
    }

    /// SQN_MS: the highest SQN accepted so far (SEQ_MS ‖ IND of its entry), as sent in AUTS.
    pub fn sqn_ms(&self) -> Sqn {
        let (ind, seq) = self
            .seq_ms
            .iter()
            .copied()
            .enumerate()
            .max_by_key(|(i, s)| (*s, core::cmp::Reverse(*i)))
            .unwrap_or((0, 0));
        Sqn::from_parts(seq, ind as u32, self.ind_bits).unwrap_or_default()
    }

    fn check_cfg(&self, cfg: &SqnConfig) -> Result<(), AkaError> {
        if cfg.ind_bits != self.ind_bits {
            return Err(AkaError::SqnState(format!(
                "configured ind_bits {} differs from the stored array's {}",
                cfg.ind_bits, self.ind_bits
            )));
        }
        cfg.validate()
    }

    /// Checks a received SQN without changing the state (module docs, steps 1–4); `now_seq` is the
    /// UE's clock in SEQ units for the optional age limit (time-based SEQ only).
    /// `Ok(Ok(()))` = fresh, `Ok(Err(reason))` = synchronisation failure.
    pub fn verify(
        &self,
        cfg: &SqnConfig,
        sqn: Sqn,
        now_seq: Option<u64>,
    ) -> Result<Result<(), SqnReject>, AkaError> {
        self.check_cfg(cfg)?;
        let seq = sqn.seq(self.ind_bits);
        let ind = sqn.ind(self.ind_bits) as usize;
        let seq_ms = self.seq_ms();
        if seq > seq_ms && seq - seq_ms > cfg.delta {
            return Ok(Err(SqnReject::DeltaExceeded { seq, seq_ms }));
        }
        if let Some(l) = cfg.l {
            if seq < seq_ms && seq_ms - seq >= l {
                return Ok(Err(SqnReject::LimitL { seq, seq_ms }));
            }
        }
        if let (Some(limit), Some(now)) = (cfg.age_limit, now_seq) {
            if now > seq && now - seq > limit {
                return Ok(Err(SqnReject::TooOld { seq, now_seq: now }));
            }
        }
        let seq_ms_ind = self.seq_ms.get(ind).copied().unwrap_or(u64::MAX);
        if seq <= seq_ms_ind {
            return Ok(Err(SqnReject::Replay { seq, seq_ms_ind }));
        }
        Ok(Ok(()))
    }

    /// Records an accepted SQN: SEQ_MS(IND) = SEQ (C.2.2). Call only after [`verify`](Self::verify)
    /// succeeded and the MAC verified.
    pub fn accept(&mut self, sqn: Sqn) {
        let seq = sqn.seq(self.ind_bits);
        let ind = sqn.ind(self.ind_bits) as usize;
        if let Some(e) = self.seq_ms.get_mut(ind) {
            if seq > *e {
                *e = seq;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SqnConfig {
        SqnConfig::default()
    }

    #[test]
    fn home_increments_seq_and_cycles_ind() {
        let c = cfg();
        let s1 = c.next_sqn(HomeSqn::default(), IndPolicy::Cycle).unwrap();
        assert_eq!((s1.seq(5), s1.ind(5)), (1, 1));
        let mut last = HomeSqn(Sqn::from_parts(10, 31, 5).unwrap());
        let s = c.next_sqn(last, IndPolicy::Cycle).unwrap();
        assert_eq!((s.seq(5), s.ind(5)), (11, 0));
        last = HomeSqn(s);
        let s = c.next_sqn(last, IndPolicy::Fixed(7)).unwrap();
        assert_eq!((s.seq(5), s.ind(5)), (12, 7));
        assert!(c.next_sqn(last, IndPolicy::Fixed(32)).is_err());
        let top = HomeSqn(Sqn::from_parts(c.seq_max(), 0, 5).unwrap());
        assert!(matches!(
            c.next_sqn(top, IndPolicy::Cycle),
            Err(AkaError::OutOfRange { what: "SEQ", .. })
        ));
    }

    #[test]
    fn ue_array_freshness_delta_and_l() {
        let mut c = cfg();
        let mut ue = UeSqnState::new(&c).unwrap();
        let s = |seq, ind| Sqn::from_parts(seq, ind, 5).unwrap();
        assert_eq!(ue.verify(&c, s(5, 3), None).unwrap(), Ok(()));
        ue.accept(s(5, 3));
        assert_eq!(ue.sqn_ms(), s(5, 3));
        // replay in the same entry
        assert_eq!(
            ue.verify(&c, s(5, 3), None).unwrap(),
            Err(SqnReject::Replay {
                seq: 5,
                seq_ms_ind: 5
            })
        );
        // an older SEQ in a different entry is still fresh (the point of the array)
        assert_eq!(ue.verify(&c, s(4, 2), None).unwrap(), Ok(()));
        // Δ
        assert_eq!(
            ue.verify(&c, s(5 + DEFAULT_DELTA, 0), None).unwrap(),
            Ok(())
        );
        assert_eq!(
            ue.verify(&c, s(6 + DEFAULT_DELTA, 0), None).unwrap(),
            Err(SqnReject::DeltaExceeded {
                seq: 6 + DEFAULT_DELTA,
                seq_ms: 5
            })
        );
        // L
        c.l = Some(2);
        assert_eq!(ue.verify(&c, s(4, 2), None).unwrap(), Ok(()));
        assert_eq!(
            ue.verify(&c, s(3, 2), None).unwrap(),
            Err(SqnReject::LimitL { seq: 3, seq_ms: 5 })
        );
        // age limit only with a clock
        c.l = None;
        c.age_limit = Some(10);
        assert_eq!(ue.verify(&c, s(4, 2), Some(14)).unwrap(), Ok(()));
        assert_eq!(
            ue.verify(&c, s(4, 2), Some(15)).unwrap(),
            Err(SqnReject::TooOld {
                seq: 4,
                now_seq: 15
            })
        );
        assert_eq!(ue.verify(&c, s(4, 2), None).unwrap(), Ok(()));
        // mismatched config is an error, not a silent accept
        c.ind_bits = 4;
        assert!(ue.verify(&c, s(9, 1), None).is_err());
    }

    #[test]
    fn resync_makes_next_vector_fresh() {
        let c = cfg();
        let mut ue = UeSqnState::new(&c).unwrap();
        let ms = Sqn::from_parts(1000, 4, 5).unwrap();
        ue.accept(ms);
        // HE behind the UE: reset to SEQ_MS
        let he = c
            .resync(HomeSqn(Sqn::from_parts(3, 9, 5).unwrap()), ms)
            .unwrap();
        assert_eq!(he.0.seq(5), 1000);
        let next = c.next_sqn(he, IndPolicy::Cycle).unwrap();
        assert_eq!(ue.verify(&c, next, None).unwrap(), Ok(()));
        // HE far ahead (beyond Δ): reset as well
        let far = HomeSqn(Sqn::from_parts(1000 + DEFAULT_DELTA + 5, 0, 5).unwrap());
        let he = c.resync(far, ms).unwrap();
        assert_eq!(he.0.seq(5), 1000);
        // HE slightly ahead: kept
        let ahead = HomeSqn(Sqn::from_parts(1010, 0, 5).unwrap());
        assert_eq!(c.resync(ahead, ms).unwrap(), ahead);
    }

    #[test]
    fn ue_state_serde_round_trip_and_validation() {
        let c = cfg();
        let mut ue = UeSqnState::new(&c).unwrap();
        ue.accept(Sqn::from_parts(77, 30, 5).unwrap());
        let j = serde_json::to_string(&ue).unwrap();
        assert!(j.starts_with("{\"ind_bits\":5,\"seq_ms\":["), "{j}");
        let back: UeSqnState = serde_json::from_str(&j).unwrap();
        assert_eq!(back, ue);
        assert!(serde_json::from_str::<UeSqnState>("{\"ind_bits\":5,\"seq_ms\":[0,0]}").is_err());
        assert!(serde_json::from_str::<UeSqnState>("{\"ind_bits\":40,\"seq_ms\":[]}").is_err());
        let too_big = format!("{{\"ind_bits\":0,\"seq_ms\":[{}]}}", Sqn::MAX + 1);
        assert!(serde_json::from_str::<UeSqnState>(&too_big).is_err());
    }
}
