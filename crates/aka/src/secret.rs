//! Secret values: subscriber keys and AKA outputs.
//!
//! Every type here is a fixed-size byte array (it may contain 0x00 bytes) that is zeroized on drop
//! ([`zeroize::ZeroizeOnDrop`]), compared in constant time ([`subtle::ConstantTimeEq`]; `==` uses it too),
//! prints as `Name(<redacted>)` with `Debug`, and has no `Display`. Read the bytes with
//! [`expose`](K::expose) only where they must leave the process (Cx answers, the CLI).

use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::hexparse::{array_from_slice, parse_hex_array};
use crate::AkaError;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident, $len:expr, $label:expr) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;
            /// Name used in error messages.
            pub const NAME: &'static str = $label;

            /// Wraps raw bytes.
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// Parses exactly `LEN` bytes of hexadecimal.
            pub fn from_hex(s: &str) -> Result<Self, AkaError> {
                parse_hex_array::<$len>($label, s).map(Self)
            }

            /// Copies from a slice that must be exactly `LEN` bytes long.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, AkaError> {
                array_from_slice::<$len>($label, bytes).map(Self)
            }

            /// The secret bytes. Do not log them.
            pub const fn expose(&self) -> &[u8; $len] {
                &self.0
            }

            /// Lowercase hexadecimal of the secret bytes (for the CLI and Cx encodings). Do not log it.
            pub fn expose_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl ConstantTimeEq for $name {
            fn ct_eq(&self, other: &Self) -> Choice {
                self.0.ct_eq(&other.0)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                bool::from(self.ct_eq(other))
            }
        }

        impl Eq for $name {}

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret_type!(
    /// The subscriber key K (128 bits), TS 33.102 §6.3.
    K, 16, "K"
);
secret_type!(
    /// The operator variant algorithm configuration field OP (128 bits), TS 35.206 §2.
    Op, 16, "OP"
);
secret_type!(
    /// OPc = OP ⊕ E_K(OP) (128 bits), TS 35.206 §4.1.
    Opc, 16, "OPc"
);
secret_type!(
    /// The response RES / XRES (64 bits for Milenage, TS 35.206 §4.1 f2).
    Res, 8, "RES"
);
secret_type!(
    /// The cipher key CK (128 bits), Milenage f3.
    Ck, 16, "CK"
);
secret_type!(
    /// The integrity key IK (128 bits), Milenage f4.
    Ik, 16, "IK"
);
secret_type!(
    /// A Digest HA1 = MD5(username ":" realm ":" password) (RFC 2617 §3.2.2.2), as the HSS stores it
    /// for plain SIP Digest subscribers instead of a clear password.
    Ha1, 16, "HA1"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = K::from_hex("465b5ce8b199b49faa5f0a2ee238a6bc").unwrap();
        let s = format!("{k:?}");
        assert_eq!(s, "K(<redacted>)");
        assert!(!s.contains("465b"));
    }

    #[test]
    fn equality_is_by_value() {
        let a = Res::from_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let b = Res::from_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let c = Res::from_bytes([0, 1, 2, 3, 4, 5, 6, 8]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(bool::from(a.ct_eq(&b)));
        assert!(!bool::from(a.ct_eq(&c)));
    }

    #[test]
    fn parse_errors_name_the_secret() {
        assert_eq!(
            Opc::from_hex("00").unwrap_err(),
            AkaError::BadLength {
                what: "OPc",
                expected: 16,
                got: 1
            }
        );
        assert_eq!(
            Res::from_slice(&[0; 4]).unwrap_err(),
            AkaError::BadLength {
                what: "RES",
                expected: 8,
                got: 4
            }
        );
    }

    #[test]
    fn zeroize_clears() {
        let mut k = K::from_bytes([0xff; 16]);
        k.zeroize();
        assert_eq!(k.expose(), &[0u8; 16]);
    }
}
