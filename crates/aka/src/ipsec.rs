//! IPsec ESP keys from the AKA keys IK and CK (TS 33.203 Annex I, "Key expansion functions for IPsec
//! ESP"; algorithms per TS 33.203 §6.3 / §7.2).
//!
//! * Integrity, `hmac-md5-96` (RFC 2403): IK_ESP = IK (128 bits).
//! * Integrity, `hmac-sha-1-96` (RFC 2404): IK_ESP = IK ‖ 0^32 (IK extended to 160 bits with 32 zero bits).
//! * Encryption, `aes-cbc` (RFC 3602): CK_ESP = CK (128 bits).
//! * Encryption, `des-ede3-cbc` (RFC 2451): CK = CK1 ‖ CK2 (64 bits each) and CK_ESP = CK1 ‖ CK2 ‖ CK1
//!   (192 bits); DES parity bits are left as they are (3DES ignores them).
//! * Encryption, `null`: no key.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::secret::{Ck, Ik};

/// ESP integrity algorithms of TS 33.203 (RFC 3329 `alg` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrityAlg {
    /// `hmac-md5-96`.
    HmacMd5_96,
    /// `hmac-sha-1-96`.
    HmacSha1_96,
}

/// ESP encryption algorithms of TS 33.203 (RFC 3329 `ealg` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptionAlg {
    /// `des-ede3-cbc`.
    DesEde3Cbc,
    /// `aes-cbc` (128-bit key).
    AesCbc,
    /// `null` (no confidentiality).
    Null,
}

impl IntegrityAlg {
    /// Parses the RFC 3329 / TS 33.203 name (case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("hmac-md5-96") {
            Some(Self::HmacMd5_96)
        } else if s.eq_ignore_ascii_case("hmac-sha-1-96") {
            Some(Self::HmacSha1_96)
        } else {
            None
        }
    }

    /// The RFC 3329 name.
    pub fn name(self) -> &'static str {
        match self {
            Self::HmacMd5_96 => "hmac-md5-96",
            Self::HmacSha1_96 => "hmac-sha-1-96",
        }
    }

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::HmacMd5_96 => 16,
            Self::HmacSha1_96 => 20,
        }
    }
}

impl EncryptionAlg {
    /// Parses the RFC 3329 / TS 33.203 name (case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("des-ede3-cbc") {
            Some(Self::DesEde3Cbc)
        } else if s.eq_ignore_ascii_case("aes-cbc") {
            Some(Self::AesCbc)
        } else if s.eq_ignore_ascii_case("null") {
            Some(Self::Null)
        } else {
            None
        }
    }

    /// The RFC 3329 name.
    pub fn name(self) -> &'static str {
        match self {
            Self::DesEde3Cbc => "des-ede3-cbc",
            Self::AesCbc => "aes-cbc",
            Self::Null => "null",
        }
    }

    /// Key length in bytes (0 for `null`).
    pub fn key_len(self) -> usize {
        match self {
            Self::DesEde3Cbc => 24,
            Self::AesCbc => 16,
            Self::Null => 0,
        }
    }
}

/// A derived ESP key (integrity or encryption). Zeroized on drop, `Debug` redacted.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct EspKey(Vec<u8>);

impl EspKey {
    /// The key bytes (for the kernel SA). Do not log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Lowercase hex (e.g. for `ip xfrm state` or Wireshark's ESP SA table). Do not log it.
    pub fn expose_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the `null` encryption key.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl core::fmt::Debug for EspKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EspKey(<redacted {} bytes>)", self.0.len())
    }
}

/// IK_ESP for the integrity algorithm (TS 33.203 Annex I).
pub fn integrity_key(alg: IntegrityAlg, ik: &Ik) -> EspKey {
    let mut k = Vec::with_capacity(alg.key_len());
    k.extend_from_slice(ik.expose());
    if alg == IntegrityAlg::HmacSha1_96 {
        k.extend_from_slice(&[0u8; 4]);
    }
    EspKey(k)
}

/// CK_ESP for the encryption algorithm (TS 33.203 Annex I).
pub fn encryption_key(alg: EncryptionAlg, ck: &Ck) -> EspKey {
    let c = ck.expose();
    let mut k = Vec::with_capacity(alg.key_len());
    match alg {
        EncryptionAlg::AesCbc => k.extend_from_slice(c),
        EncryptionAlg::DesEde3Cbc => {
            k.extend_from_slice(c); // CK1 ‖ CK2
            k.extend_from_slice(&c[..8]); // ‖ CK1
        }
        EncryptionAlg::Null => {}
    }
    EspKey(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansions() {
        let ik = Ik::from_hex("000102030405060708090a0b0c0d0e0f").unwrap();
        let ck = Ck::from_hex("101112131415161718191a1b1c1d1e1f").unwrap();
        assert_eq!(
            integrity_key(IntegrityAlg::HmacMd5_96, &ik).expose_hex(),
            "000102030405060708090a0b0c0d0e0f"
        );
        assert_eq!(
            integrity_key(IntegrityAlg::HmacSha1_96, &ik).expose_hex(),
            "000102030405060708090a0b0c0d0e0f00000000"
        );
        assert_eq!(
            encryption_key(EncryptionAlg::AesCbc, &ck).expose_hex(),
            "101112131415161718191a1b1c1d1e1f"
        );
        assert_eq!(
            encryption_key(EncryptionAlg::DesEde3Cbc, &ck).expose_hex(),
            "101112131415161718191a1b1c1d1e1f1011121314151617"
        );
        assert!(encryption_key(EncryptionAlg::Null, &ck).is_empty());
        for a in [IntegrityAlg::HmacMd5_96, IntegrityAlg::HmacSha1_96] {
            assert_eq!(integrity_key(a, &ik).len(), a.key_len());
            assert_eq!(IntegrityAlg::from_name(a.name()), Some(a));
        }
        for a in [
            EncryptionAlg::AesCbc,
            EncryptionAlg::DesEde3Cbc,
            EncryptionAlg::Null,
        ] {
            assert_eq!(encryption_key(a, &ck).len(), a.key_len());
            assert_eq!(EncryptionAlg::from_name(a.name()), Some(a));
        }
        assert_eq!(
            IntegrityAlg::from_name("HMAC-SHA-1-96"),
            Some(IntegrityAlg::HmacSha1_96)
        );
        assert_eq!(IntegrityAlg::from_name("hmac-sha-256"), None);
        assert!(!format!("{:?}", integrity_key(IntegrityAlg::HmacMd5_96, &ik)).contains("0001"));
    }
}
