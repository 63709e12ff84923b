//! The one error type of the crate.

use thiserror::Error;

/// Everything that can go wrong in the `aka` crate. Every variant names what was wrong; none carries
/// secret material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AkaError {
    /// A hexadecimal value did not decode (odd length or a non-hex character).
    #[error("{what}: not valid hexadecimal ({reason})")]
    BadHex {
        /// Which value (e.g. "K", "RAND").
        what: &'static str,
        /// What the decoder found wrong.
        reason: String,
    },
    /// A base64 value did not decode (non-canonical padding, bad character, whitespace).
    #[error("{what}: not valid base64 ({reason})")]
    BadBase64 {
        /// Which value (e.g. "AUTS").
        what: &'static str,
        /// What the decoder found wrong.
        reason: String,
    },
    /// A value had the wrong length.
    #[error("{what}: expected {expected} bytes, got {got}")]
    BadLength {
        /// Which value.
        what: &'static str,
        /// The required length in bytes.
        expected: usize,
        /// The length found.
        got: usize,
    },
    /// A SQN does not fit in 48 bits, or a SEQ does not fit the configured SEQ width.
    #[error("{what}: value {value:#x} out of range (maximum {max:#x})")]
    OutOfRange {
        /// Which value.
        what: &'static str,
        /// The value found.
        value: u64,
        /// The largest allowed value.
        max: u64,
    },
    /// The configured IND length is not usable (must be 0..=16 bits).
    #[error("IND length of {0} bits is not supported (0..=16)")]
    BadIndLength(u8),
    /// The SIP nonce is not base64.
    #[error("nonce: not valid base64 ({0})")]
    NonceBase64(String),
    /// The SIP nonce decodes to fewer than RAND(16) + AUTN(16) bytes, or to more than the limit.
    #[error("nonce: decoded length {got} bytes, expected {min}..={max} (RAND 16 + AUTN 16 + server data)")]
    NonceLength {
        /// Decoded length.
        got: usize,
        /// Minimum (32).
        min: usize,
        /// Maximum accepted.
        max: usize,
    },
    /// The MAC-S in an AUTS does not verify: the resynchronisation request is rejected (never a reset).
    #[error("AUTS: MAC-S verification failed")]
    MacSMismatch,
    /// The AUTS length is not 14 bytes.
    #[error("AUTS: expected 14 bytes, got {0}")]
    AutsLength(usize),
    /// A Digest parameter is invalid (e.g. qop auth without nc/cnonce, bad nc).
    #[error("digest: {0}")]
    Digest(String),
    /// A UE SQN state file / value is inconsistent.
    #[error("SQN state: {0}")]
    SqnState(String),
}

impl AkaError {
    /// The SIP status code a registrar answers with when this error comes from a request
    /// (RFC 3261 §21): malformed credentials are 400 Bad Request; an AUTS whose MAC-S does not verify is
    /// an authentication failure, 403 Forbidden (TS 24.229 §5.4.1.2.3 — the registration is not
    /// authenticated); SQN exhaustion or an inconsistent SQN state is a server-side fault, 500.
    pub fn sip_status(&self) -> u16 {
        match self {
            Self::BadHex { .. }
            | Self::BadBase64 { .. }
            | Self::BadLength { .. }
            | Self::NonceBase64(_)
            | Self::NonceLength { .. }
            | Self::AutsLength(_)
            | Self::Digest(_) => 400,
            Self::MacSMismatch => 403,
            Self::OutOfRange { .. } | Self::BadIndLength(_) | Self::SqnState(_) => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_status_mapping() {
        assert_eq!(AkaError::NonceBase64("x".into()).sip_status(), 400);
        assert_eq!(AkaError::AutsLength(3).sip_status(), 400);
        assert_eq!(AkaError::MacSMismatch.sip_status(), 403);
        assert_eq!(AkaError::BadIndLength(40).sip_status(), 500);
    }
}
