//! Sequence numbers for AKA, TS 33.102 Annex C.1.1 / C.3: `SQN = SEQ ‖ IND`, 48 bits, where IND is
//! the low `ind_bits` bits (the array index in the USIM, Annex C.2) and SEQ the rest.
//!
//! The HSS keeps one counter `SEQ_HE` per IMPI and allocates IND cyclically (Annex C.3). Each
//! new vector takes `SEQ_HE + 1` and the next IND, so every SQN handed out is unique and, for a given
//! IND, strictly increasing. The allocation itself happens inside the database (see
//! [`crate::store`]); this module holds the arithmetic and the state type.

use crate::HssError;

/// Width of SQN in bits (TS 33.102 §6.3.2).
pub const SQN_BITS: u32 = 48;
/// Largest SQN value.
pub const SQN_MAX: u64 = (1 << SQN_BITS) - 1;
/// Default width of IND: 5 bits, an array of 32 entries in the USIM (TS 33.102 Annex C.3).
pub const DEFAULT_IND_BITS: u8 = 5;
/// Largest IND width accepted (the USIM array would have 2^16 entries; real USIMs use 5).
pub const MAX_IND_BITS: u8 = 16;

/// The SQN state of one IMPI as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqnState {
    /// `SEQ_HE`: the SEQ of the most recently allocated vector (0 = none yet).
    pub seq: u64,
    /// Width of IND.
    pub ind_bits: u8,
    /// IND the next allocated vector will use.
    pub next_ind: u32,
}

impl Default for SqnState {
    fn default() -> Self {
        Self {
            seq: 0,
            ind_bits: DEFAULT_IND_BITS,
            next_ind: 0,
        }
    }
}

impl SqnState {
    /// A state with the given IND width, validated.
    pub fn new(seq: u64, ind_bits: u8, next_ind: u32) -> Result<Self, HssError> {
        if ind_bits > MAX_IND_BITS {
            return Err(HssError::invalid(
                "ind_bits",
                format!("{ind_bits} > {MAX_IND_BITS}"),
            ));
        }
        let s = Self {
            seq,
            ind_bits,
            next_ind,
        };
        if seq > s.max_seq() {
            return Err(HssError::invalid(
                "sqn",
                format!(
                    "SEQ {seq} does not fit in {} bits",
                    SQN_BITS - u32::from(ind_bits)
                ),
            ));
        }
        if u64::from(next_ind) >= s.ind_modulus() {
            return Err(HssError::invalid(
                "sqn",
                format!("IND {next_ind} does not fit in {ind_bits} bits"),
            ));
        }
        Ok(s)
    }

    /// A state whose next vector is newer than the 48-bit `sqn` (used when provisioning a subscriber
    /// whose USIM has already seen SQNs up to `sqn`).
    pub fn starting_after(sqn: u64, ind_bits: u8) -> Result<Self, HssError> {
        if sqn > SQN_MAX {
            return Err(HssError::invalid("sqn", format!("{sqn} exceeds 48 bits")));
        }
        Self::new(sqn >> ind_bits, ind_bits, 0)
    }

    /// 2^ind_bits.
    pub const fn ind_modulus(&self) -> u64 {
        1u64 << self.ind_bits
    }

    /// Largest SEQ value for this IND width.
    pub const fn max_seq(&self) -> u64 {
        (1u64 << (SQN_BITS - self.ind_bits as u32)) - 1
    }

    /// The SQNs a batch of `n` vectors gets when allocated from this state, and the state after it;
    /// the pure version of what [`crate::store::SubscriberStore::allocate_sqns`] does atomically.
    pub fn allocate(&self, n: u32) -> Option<(Vec<u64>, SqnState)> {
        let seq_end = self.seq.checked_add(u64::from(n))?;
        if seq_end > self.max_seq() {
            return None;
        }
        let m = self.ind_modulus();
        let sqns = (0..u64::from(n))
            .map(|i| {
                let seq = self.seq + 1 + i;
                let ind = (u64::from(self.next_ind) + i) % m;
                compose(seq, ind, self.ind_bits)
            })
            .collect();
        let next = SqnState {
            seq: seq_end,
            ind_bits: self.ind_bits,
            next_ind: ((u64::from(self.next_ind) + u64::from(n)) % m) as u32,
        };
        Some((sqns, next))
    }
}

/// `SEQ ‖ IND`.
pub const fn compose(seq: u64, ind: u64, ind_bits: u8) -> u64 {
    (seq << ind_bits) | ind
}

/// Splits an SQN into `(SEQ, IND)`.
pub const fn split(sqn: u64, ind_bits: u8) -> (u64, u64) {
    (sqn >> ind_bits, sqn & ((1u64 << ind_bits) - 1))
}

/// The 6-byte big-endian encoding of an SQN (as fed to Milenage f1).
pub fn to_bytes(sqn: u64) -> [u8; 6] {
    let b = (sqn & SQN_MAX).to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_unique_and_cycles_ind() {
        let s = SqnState::default();
        let (sqns, next) = s.allocate(40).unwrap();
        assert_eq!(next.seq, 40);
        assert_eq!(next.next_ind, 40 % 32);
        let mut seen = std::collections::HashSet::new();
        for (i, q) in sqns.iter().enumerate() {
            let (seq, ind) = split(*q, 5);
            assert_eq!(seq, i as u64 + 1);
            assert_eq!(ind, i as u64 % 32);
            assert!(seen.insert(*q));
        }
        // IND 0 is used by vectors 0 and 32: the later one is larger.
        assert!(sqns[32] > sqns[0]);
    }

    #[test]
    fn exhaustion_and_limits() {
        let s = SqnState::new((1 << 43) - 2, 5, 0).unwrap();
        assert!(s.allocate(1).is_some());
        assert!(s.allocate(2).is_none());
        assert!(SqnState::new(1 << 43, 5, 0).is_err());
        assert!(SqnState::new(0, 5, 32).is_err());
        assert!(SqnState::new(0, 17, 0).is_err());
        assert_eq!(to_bytes(0x0000_0102_0304_0506), [1, 2, 3, 4, 5, 6]);
        assert_eq!(SqnState::starting_after(0xff, 5).unwrap().seq, 7);
    }
}
