//! Subscriber secrets held by the HSS: K, OP, OPc (TS 33.102 §6.3, TS 35.206 §2) and the Digest HA1
//! (RFC 2617 §3.2.2.2).
//!
//! Fixed-size byte arrays (0x00 allowed), zeroized on drop, compared in constant time, `Debug`
//! redacted, no `Display`. The API mirrors the `aka` crate's secret types so the two convert with
//! `from_bytes(*x.expose())`.

use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::HssError;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident, $len:expr, $field:expr) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// Wraps raw bytes.
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// Parses exactly `LEN` bytes written as hexadecimal.
            pub fn from_hex(s: &str) -> Result<Self, HssError> {
                parse_hex_array::<$len>($field, s).map(Self)
            }

            /// Copies a slice that must be exactly `LEN` bytes long (as read from the database).
            pub fn from_slice(bytes: &[u8]) -> Result<Self, HssError> {
                <[u8; $len]>::try_from(bytes).map(Self).map_err(|_| {
                    HssError::invalid(
                        $field,
                        format!("expected {} bytes, got {}", $len, bytes.len()),
                    )
                })
            }

            /// The secret bytes. Do not log them.
            pub const fn expose(&self) -> &[u8; $len] {
                &self.0
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
    K, 16, "k"
);
secret_type!(
    /// The operator variant configuration field OP (128 bits), TS 35.206 §2.
    Op, 16, "op"
);
secret_type!(
    /// OPc = OP ⊕ E_K(OP) (128 bits), TS 35.206 §4.1.
    Opc, 16, "opc"
);
secret_type!(
    /// Digest HA1 = MD5(username ":" realm ":" password), RFC 2617 §3.2.2.2: what the HSS stores for
    /// SIP Digest subscribers instead of a clear password.
    Ha1, 16, "digest_ha1"
);

/// Parses `N` bytes of hexadecimal (upper or lower case) with an error naming `field`.
pub(crate) fn parse_hex_array<const N: usize>(
    field: &'static str,
    s: &str,
) -> Result<[u8; N], HssError> {
    let s = s.trim();
    if s.len() != 2 * N {
        return Err(HssError::invalid(
            field,
            format!(
                "expected {} hex digits ({} bytes), got {} characters",
                2 * N,
                N,
                s.len()
            ),
        ));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out)
        .map_err(|e| HssError::invalid(field, format!("not hexadecimal: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = K::from_hex("696d73636f72652d64656d6f2d6b6579").unwrap();
        let s = format!("{k:?}");
        assert_eq!(s, "K(<redacted>)");
        assert!(!s.contains("696d"));
    }

    #[test]
    fn hex_errors_name_field_and_problem() {
        let e = Op::from_hex("00").unwrap_err().to_string();
        assert!(e.contains("op") && e.contains("32 hex digits"), "{e}");
        let e = K::from_hex("zz6d73636f72652d64656d6f2d6b6579")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not hexadecimal"), "{e}");
    }

    #[test]
    fn equality_by_value_and_zero_bytes_allowed() {
        let a = Opc::from_bytes([0; 16]);
        let b = Opc::from_hex("00000000000000000000000000000000").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Opc::from_bytes([1; 16]));
        assert!(K::from_slice(&[0; 15]).is_err());
    }
}
