//! Secret byte strings carried by Cx (CK, IK, XRES in SIP-Authorization, Digest-HA1): TS 33.203
//! requires they never leak. They are zeroized on drop, compared in constant time and redacted in
//! `Debug`.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret octet string (may contain 0x00).
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps the bytes (they are moved, not copied).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Copies a slice into a new secret.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// The secret bytes; keep the borrow short and never log it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialEq for SecretBytes {
    /// Constant-time comparison (the length is not secret).
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && bool::from(self.0.ct_eq(&other.0))
    }
}

impl Eq for SecretBytes {}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for SecretBytes {
    fn from(v: &[u8]) -> Self {
        Self::from_slice(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_eq_compares_content() {
        let a = SecretBytes::from_slice(&[0x00, 0xde, 0xad]);
        let s = format!("{a:?}");
        assert!(
            !s.contains("222") && !s.contains("173") && !s.contains("dead"),
            "{s}"
        );
        assert!(s.contains("3 bytes"));
        assert_eq!(a, SecretBytes::new(vec![0x00, 0xde, 0xad]));
        assert_ne!(a, SecretBytes::new(vec![0x00, 0xde, 0xae]));
        assert_ne!(a, SecretBytes::new(vec![0x00, 0xde]));
    }
}
