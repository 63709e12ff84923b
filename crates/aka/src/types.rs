//! Public (non-secret) AKA values: RAND, SQN, AMF, AK, MAC, AUTN, AUTS (TS 33.102 §6.3.2, §6.3.3).

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::hexparse::{array_from_slice, parse_hex_array};
use crate::AkaError;

macro_rules! public_bytes {
    ($(#[$doc:meta])* $name:ident, $len:expr, $label:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// Parses exactly `LEN` bytes of hexadecimal.
            pub fn from_hex(s: &str) -> Result<Self, AkaError> {
                parse_hex_array::<$len>($label, s).map(Self)
            }

            /// Copies from a slice that must be exactly `LEN` bytes long.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, AkaError> {
                array_from_slice::<$len>($label, bytes).map(Self)
            }

            /// The bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Lowercase hexadecimal.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), hex::encode(self.0))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }
    };
}

public_bytes!(
    /// The random challenge RAND (128 bits).
    Rand, 16, "RAND"
);
public_bytes!(
    /// The authentication management field AMF (16 bits).
    Amf, 2, "AMF"
);
public_bytes!(
    /// An anonymity key AK = f5(RAND) or AK* = f5*(RAND) (48 bits).
    Ak, 6, "AK"
);
public_bytes!(
    /// A message authentication code MAC-A = f1 or MAC-S = f1* (64 bits).
    Mac, 8, "MAC"
);
public_bytes!(
    /// The authentication token AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A (128 bits), TS 33.102 §6.3.2.
    Autn, 16, "AUTN"
);
public_bytes!(
    /// The resynchronisation token AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S (112 bits), TS 33.102 §6.3.3.
    Auts, 14, "AUTS"
);

impl Rand {
    /// A fresh, unpredictable RAND (TS 33.102 §6.3.2) from the thread-local CSPRNG (`rand::thread_rng`:
    /// ChaCha12 seeded from, and periodically reseeded by, the operating system's generator).
    pub fn random() -> Self {
        use rand::RngCore;
        let mut b = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut b);
        Self(b)
    }

    /// A fresh RAND read directly from the operating system's generator (one system call).
    pub fn random_os() -> Self {
        use rand::RngCore;
        let mut b = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut b);
        Self(b)
    }
}

impl Amf {
    /// The AMF used for resynchronisation: MAC-S is computed with AMF = 0000 (TS 33.102 §6.3.3).
    pub const RESYNC: Amf = Amf([0, 0]);
}

impl Autn {
    /// Builds AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A.
    pub fn new(sqn: Sqn, ak: &Ak, amf: Amf, mac_a: &Mac) -> Self {
        let mut b = [0u8; 16];
        let s = sqn.to_bytes();
        for i in 0..6 {
            b[i] = s[i] ^ ak.0[i];
        }
        b[6..8].copy_from_slice(&amf.0);
        b[8..16].copy_from_slice(&mac_a.0);
        Self(b)
    }

    /// The concealed sequence number SQN ⊕ AK.
    pub fn sqn_xor_ak(&self) -> [u8; 6] {
        let mut o = [0u8; 6];
        o.copy_from_slice(&self.0[..6]);
        o
    }

    /// The AMF field.
    pub fn amf(&self) -> Amf {
        Amf([self.0[6], self.0[7]])
    }

    /// The MAC-A field.
    pub fn mac(&self) -> Mac {
        let mut o = [0u8; 8];
        o.copy_from_slice(&self.0[8..]);
        Mac(o)
    }
}

impl Auts {
    /// Decodes the `auts` Digest parameter: base64 of exactly 14 bytes (RFC 3310 §3.4), strict
    /// (canonical padding, no whitespace).
    pub fn from_base64(s: &str) -> Result<Self, AkaError> {
        use base64::Engine;
        // 14 bytes encode to 20 characters; refuse anything longer before decoding.
        if s.len() > 20 {
            return Err(AkaError::AutsLength(s.len() / 4 * 3));
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(|e| AkaError::BadBase64 {
                what: "AUTS",
                reason: e.to_string(),
            })?;
        Self::from_slice(&raw).map_err(|_| AkaError::AutsLength(raw.len()))
    }

    /// The `auts` Digest parameter value: base64(AUTS) (RFC 3310 §3.4).
    pub fn to_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Builds AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S.
    pub fn new(sqn_ms: Sqn, ak_star: &Ak, mac_s: &Mac) -> Self {
        let mut b = [0u8; 14];
        let s = sqn_ms.to_bytes();
        for i in 0..6 {
            b[i] = s[i] ^ ak_star.0[i];
        }
        b[6..].copy_from_slice(&mac_s.0);
        Self(b)
    }

    /// The concealed SQN_MS ⊕ AK*.
    pub fn sqn_xor_ak(&self) -> [u8; 6] {
        let mut o = [0u8; 6];
        o.copy_from_slice(&self.0[..6]);
        o
    }

    /// The MAC-S field.
    pub fn mac(&self) -> Mac {
        let mut o = [0u8; 8];
        o.copy_from_slice(&self.0[6..]);
        Mac(o)
    }
}

/// A 48-bit sequence number SQN (TS 33.102 §6.3.2, Annex C.1.1: SQN = SEQ ‖ IND).
///
/// Held as an integer below 2^48; [`Sqn::to_bytes`] gives the big-endian 6-byte field.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Sqn(u64);

impl Sqn {
    /// The largest SQN, 2^48 − 1.
    pub const MAX: u64 = (1 << 48) - 1;

    /// A SQN from an integer; errors if it does not fit in 48 bits.
    pub const fn new(v: u64) -> Result<Self, AkaError> {
        if v > Self::MAX {
            Err(AkaError::OutOfRange {
                what: "SQN",
                value: v,
                max: Self::MAX,
            })
        } else {
            Ok(Self(v))
        }
    }

    /// A SQN from its 6-byte big-endian encoding.
    pub const fn from_bytes(b: [u8; 6]) -> Self {
        Self(
            ((b[0] as u64) << 40)
                | ((b[1] as u64) << 32)
                | ((b[2] as u64) << 24)
                | ((b[3] as u64) << 16)
                | ((b[4] as u64) << 8)
                | (b[5] as u64),
        )
    }

    /// Parses 6 bytes of hexadecimal.
    pub fn from_hex(s: &str) -> Result<Self, AkaError> {
        parse_hex_array::<6>("SQN", s).map(Self::from_bytes)
    }

    /// The 6-byte big-endian encoding.
    pub const fn to_bytes(self) -> [u8; 6] {
        let v = self.0;
        [
            (v >> 40) as u8,
            (v >> 32) as u8,
            (v >> 24) as u8,
            (v >> 16) as u8,
            (v >> 8) as u8,
            v as u8,
        ]
    }

    /// Lowercase hexadecimal (12 digits).
    pub fn to_hex(self) -> String {
        hex::encode(self.to_bytes())
    }

    /// The integer value.
    pub const fn value(self) -> u64 {
        self.0
    }

    /// SEQ: the SQN without its `ind_bits` low-order IND bits (Annex C.1.1).
    pub const fn seq(self, ind_bits: u8) -> u64 {
        match self.0.checked_shr(ind_bits as u32) {
            Some(v) => v,
            None => 0,
        }
    }

    /// IND: the `ind_bits` low-order bits (Annex C.1.1).
    pub const fn ind(self, ind_bits: u8) -> u32 {
        let mask = match 1u64.checked_shl(ind_bits as u32) {
            Some(m) => m - 1,
            None => u64::MAX,
        };
        (self.0 & mask) as u32
    }

    /// SQN = SEQ ‖ IND; errors if SEQ or IND do not fit their widths.
    pub fn from_parts(seq: u64, ind: u32, ind_bits: u8) -> Result<Self, AkaError> {
        if ind_bits > 16 {
            return Err(AkaError::BadIndLength(ind_bits));
        }
        let seq_max = Self::MAX >> ind_bits;
        if seq > seq_max {
            return Err(AkaError::OutOfRange {
                what: "SEQ",
                value: seq,
                max: seq_max,
            });
        }
        let ind_max = (1u64 << ind_bits) - 1;
        if u64::from(ind) > ind_max {
            return Err(AkaError::OutOfRange {
                what: "IND",
                value: u64::from(ind),
                max: ind_max,
            });
        }
        Ok(Self((seq << ind_bits) | u64::from(ind)))
    }
}

impl TryFrom<u64> for Sqn {
    type Error = AkaError;
    fn try_from(v: u64) -> Result<Self, AkaError> {
        Self::new(v)
    }
}

impl From<Sqn> for u64 {
    fn from(s: Sqn) -> u64 {
        s.0
    }
}

impl fmt::Debug for Sqn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sqn({})", self.to_hex())
    }
}

impl fmt::Display for Sqn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqn_bytes_round_trip() {
        let s = Sqn::from_hex("ff9bb4d0b607").unwrap();
        assert_eq!(s.value(), 0xff9bb4d0b607);
        assert_eq!(s.to_hex(), "ff9bb4d0b607");
        assert!(Sqn::new(1 << 48).is_err());
        assert_eq!(Sqn::new(Sqn::MAX).unwrap().to_bytes(), [0xff; 6]);
    }

    #[test]
    fn seq_ind_split() {
        let s = Sqn::from_parts(0x1234, 7, 5).unwrap();
        assert_eq!(s.value(), (0x1234 << 5) | 7);
        assert_eq!(s.seq(5), 0x1234);
        assert_eq!(s.ind(5), 7);
        assert!(Sqn::from_parts(0, 32, 5).is_err());
        assert!(Sqn::from_parts(1 << 43, 0, 5).is_err());
        assert_eq!(Sqn::from_parts(5, 0, 0).unwrap().value(), 5);
    }

    #[test]
    fn autn_fields() {
        let ak = Ak([1, 2, 3, 4, 5, 6]);
        let autn = Autn::new(
            Sqn::new(0x0102_0304_0506).unwrap(),
            &ak,
            Amf([0x80, 0]),
            &Mac([9; 8]),
        );
        assert_eq!(autn.sqn_xor_ak(), [0; 6]);
        assert_eq!(autn.amf(), Amf([0x80, 0]));
        assert_eq!(autn.mac(), Mac([9; 8]));
    }

    #[test]
    fn auts_base64() {
        let a = Auts::from_hex("ba853f3c123ccf44e93596e355c6").unwrap();
        let b = a.to_base64();
        assert_eq!(b.len(), 20);
        assert_eq!(Auts::from_base64(&b).unwrap(), a);
        assert_eq!(
            Auts::from_base64("AAAA").unwrap_err(),
            AkaError::AutsLength(3)
        );
        assert!(matches!(
            Auts::from_base64("not base64 !"),
            Err(AkaError::BadBase64 { what: "AUTS", .. })
        ));
        assert!(Auts::from_base64(&"A".repeat(400)).is_err());
    }

    #[test]
    fn sqn_serde_rejects_out_of_range() {
        let s: Result<Sqn, _> = serde_json::from_str("281474976710656");
        assert!(s.is_err());
        let s: Sqn = serde_json::from_str("281474976710655").unwrap();
        assert_eq!(s.value(), Sqn::MAX);
    }
}
