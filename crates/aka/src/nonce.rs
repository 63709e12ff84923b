//! The SIP Digest AKA nonce (RFC 3310 §3.2; TS 33.203 §6.1, TS 24.229 §5.4.1.2.1):
//! `nonce = base64(RAND ‖ AUTN ‖ server specific data)`.
//!
//! Decoding is strict: standard base64 alphabet with canonical padding (RFC 4648 §4), no whitespace,
//! exactly 16 bytes of RAND and 16 of AUTN, then at most [`MAX_SERVER_DATA`] bytes of server data.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::types::{Autn, Rand};
use crate::AkaError;

/// The largest amount of server specific data accepted after RAND ‖ AUTN.
pub const MAX_SERVER_DATA: usize = 256;
/// RAND (16) + AUTN (16).
pub const MIN_DECODED: usize = 32;
/// Largest decoded nonce accepted.
pub const MAX_DECODED: usize = MIN_DECODED + MAX_SERVER_DATA;
/// Largest encoded nonce accepted (checked before decoding).
pub const MAX_ENCODED: usize = MAX_DECODED.div_ceil(3) * 4;

/// A decoded AKA nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AkaNonce {
    /// RAND.
    pub rand: Rand,
    /// AUTN.
    pub autn: Autn,
    /// Optional server specific data (opaque, ≤ [`MAX_SERVER_DATA`] bytes).
    pub server_data: Vec<u8>,
}

impl AkaNonce {
    /// base64(RAND ‖ AUTN ‖ server data).
    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(MIN_DECODED + self.server_data.len());
        raw.extend_from_slice(&self.rand.0);
        raw.extend_from_slice(&self.autn.0);
        raw.extend_from_slice(&self.server_data);
        STANDARD.encode(raw)
    }

    /// Decodes the `nonce` parameter value (without the surrounding quotes). Never panics.
    pub fn decode(nonce: &str) -> Result<Self, AkaError> {
        if nonce.len() > MAX_ENCODED {
            return Err(AkaError::NonceLength {
                got: nonce.len() / 4 * 3,
                min: MIN_DECODED,
                max: MAX_DECODED,
            });
        }
        let raw = STANDARD
            .decode(nonce.as_bytes())
            .map_err(|e| AkaError::NonceBase64(e.to_string()))?;
        if raw.len() < MIN_DECODED || raw.len() > MAX_DECODED {
            return Err(AkaError::NonceLength {
                got: raw.len(),
                min: MIN_DECODED,
                max: MAX_DECODED,
            });
        }
        let (rand, rest) = raw.split_at(16);
        let (autn, server) = rest.split_at(16);
        Ok(Self {
            rand: Rand::from_slice(rand)?,
            autn: Autn::from_slice(autn)?,
            server_data: server.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_and_without_server_data() {
        let n = AkaNonce {
            rand: Rand([0x11; 16]),
            autn: Autn([0x22; 16]),
            server_data: vec![],
        };
        let s = n.encode();
        assert_eq!(s.len(), 44);
        assert_eq!(AkaNonce::decode(&s).unwrap(), n);
        let n2 = AkaNonce {
            server_data: vec![0, 1, 2],
            ..n
        };
        assert_eq!(AkaNonce::decode(&n2.encode()).unwrap(), n2);
    }

    #[test]
    fn rejects_short_long_and_non_base64() {
        let short = STANDARD.encode([0u8; 31]);
        assert!(matches!(
            AkaNonce::decode(&short),
            Err(AkaError::NonceLength { got: 31, .. })
        ));
        let long = STANDARD.encode([0u8; MAX_DECODED + 1]);
        assert!(matches!(
            AkaNonce::decode(&long),
            Err(AkaError::NonceLength { .. })
        ));
        let max = STANDARD.encode([0u8; MAX_DECODED]);
        assert_eq!(
            AkaNonce::decode(&max).unwrap().server_data.len(),
            MAX_SERVER_DATA
        );
        assert!(matches!(
            AkaNonce::decode("not base64!"),
            Err(AkaError::NonceBase64(_))
        ));
        // unpadded / whitespace are not canonical
        let good = STANDARD.encode([7u8; 32]);
        assert!(AkaNonce::decode(good.trim_end_matches('=')).is_err());
        assert!(AkaNonce::decode(&format!(" {good}")).is_err());
        assert!(AkaNonce::decode("").is_err());
    }
}
