//! Subscriber secrets held by the HSS: K, OP, OPc (TS 33.102 §6.3, TS 35.206 §2) and the Digest HA1
//! (RFC 2617 §3.2.2.2).
//!
//! They are the `aka` crate's types: fixed-size byte arrays (0x00 allowed), zeroized on drop, compared
//! in constant time, `Debug` redacted, no `Display`.

use crate::HssError;

/// The subscriber secrets are the `aka` crate's types (one definition for the whole workspace).
pub use aka::{Ha1, Op, Opc, K};

/// An `aka` parse error of a secret, as an input error naming the field (`k`, `op`, `opc`,
/// `digest_ha1`).
impl From<aka::AkaError> for HssError {
    fn from(e: aka::AkaError) -> Self {
        let field = match &e {
            aka::AkaError::BadHex { what, .. } | aka::AkaError::BadLength { what, .. } => {
                field_name(what)
            }
            _ => "secret",
        };
        HssError::invalid(field, e.to_string())
    }
}

/// The provisioning field name of an `aka` value label.
fn field_name(what: &str) -> &'static str {
    match what.to_ascii_lowercase().as_str() {
        "k" => "k",
        "op" => "op",
        "opc" => "opc",
        "ha1" => "digest_ha1",
        _ => "secret",
    }
}

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
        let e: HssError = Op::from_hex("00").unwrap_err().into();
        assert!(matches!(e, HssError::Invalid { field: "op", .. }), "{e:?}");
        assert!(e.to_string().contains("expected 16 bytes"), "{e}");
        let e: HssError = K::from_hex("zz6d73636f72652d64656d6f2d6b6579")
            .unwrap_err()
            .into();
        assert!(matches!(e, HssError::Invalid { field: "k", .. }), "{e:?}");
        assert!(e.to_string().contains("not valid hexadecimal"), "{e}");
        let e: HssError = Ha1::from_slice(&[0; 3]).unwrap_err().into();
        assert!(
            matches!(
                e,
                HssError::Invalid {
                    field: "digest_ha1",
                    ..
                }
            ),
            "{e:?}"
        );
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
