//! Strict hexadecimal parsing into fixed-size arrays, with errors naming the value.

use crate::AkaError;

/// Decodes `s` (hexadecimal, either case, surrounding whitespace ignored, optional `0x` prefix) into exactly
/// `N` bytes. `what` names the value in the error ("K", "RAND"…).
pub fn parse_hex_array<const N: usize>(what: &'static str, s: &str) -> Result<[u8; N], AkaError> {
    let s = s.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if s.len() != 2 * N {
        if s.len() % 2 == 1 {
            return Err(AkaError::BadHex {
                what,
                reason: format!("odd number of digits ({})", s.len()),
            });
        }
        // Check characters first so "zz" is reported as bad hex, not a bad length.
        if let Some(c) = s.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(AkaError::BadHex {
                what,
                reason: format!("invalid character {c:?}"),
            });
        }
        return Err(AkaError::BadLength {
            what,
            expected: N,
            got: s.len() / 2,
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|e| AkaError::BadHex {
        what,
        reason: e.to_string(),
    })?;
    Ok(out)
}

/// Copies `bytes` into an `N`-byte array, or reports the length mismatch naming `what`.
pub fn array_from_slice<const N: usize>(
    what: &'static str,
    bytes: &[u8],
) -> Result<[u8; N], AkaError> {
    <[u8; N]>::try_from(bytes).map_err(|_| AkaError::BadLength {
        what,
        expected: N,
        got: bytes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_length_both_cases() {
        assert_eq!(parse_hex_array::<2>("AMF", "b9B9").unwrap(), [0xb9, 0xb9]);
        assert_eq!(
            parse_hex_array::<2>("AMF", " 0x8000 ").unwrap(),
            [0x80, 0x00]
        );
    }

    #[test]
    fn errors_name_the_value() {
        let e = parse_hex_array::<16>("K", "00").unwrap_err();
        assert_eq!(
            e,
            AkaError::BadLength {
                what: "K",
                expected: 16,
                got: 1
            }
        );
        assert!(e.to_string().starts_with("K:"));
        let e = parse_hex_array::<2>("AMF", "zz00").unwrap_err();
        assert!(matches!(e, AkaError::BadHex { what: "AMF", .. }), "{e:?}");
        let e = parse_hex_array::<2>("AMF", "800").unwrap_err();
        assert!(matches!(e, AkaError::BadHex { what: "AMF", .. }), "{e:?}");
        let e = parse_hex_array::<2>("AMF", "zz").unwrap_err();
        assert!(matches!(e, AkaError::BadHex { what: "AMF", .. }), "{e:?}");
        // multi-byte UTF-8 must not panic
        assert!(parse_hex_array::<2>("AMF", "éé").is_err());
    }
}
