//! The crate's error type. Every rejection of peer input maps to an RFC 6733 §7.1 Result-Code and,
//! where §7.5 asks for one, carries the offending AVP for the Failed-AVP AVP.

use crate::avp::{Avp, Value};
use crate::result_code as rc;

/// Errors of the Diameter codec, dictionary validation, peer state machine and node.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The header's version is not 1 (DIAMETER_UNSUPPORTED_VERSION, 5011).
    #[error("unsupported Diameter version {0}")]
    UnsupportedVersion(u8),
    /// The message length field disagrees with the bytes available or is out of range (5015).
    #[error("invalid message length: {reason}")]
    InvalidMessageLength {
        /// What was wrong.
        reason: String,
    },
    /// Header flags in an invalid combination (DIAMETER_INVALID_HDR_BITS, 3008).
    #[error("invalid header bits: {0}")]
    InvalidHeaderBits(&'static str),
    /// AVP flags inconsistent with its definition (DIAMETER_INVALID_AVP_BITS, 3009).
    #[error("invalid AVP bits in AVP {}: {reason}", .avp.code)]
    InvalidAvpBits {
        /// The offending AVP.
        avp: Box<Avp>,
        /// What was wrong.
        reason: &'static str,
    },
    /// An AVP whose length is wrong for its type or overruns its container (5014).
    #[error("invalid AVP length in AVP {} (vendor {:?}): {reason}", .avp.code, .avp.vendor_id)]
    InvalidAvpLength {
        /// The offending AVP.
        avp: Box<Avp>,
        /// What was wrong.
        reason: String,
    },
    /// An AVP whose value is not valid for its type (DIAMETER_INVALID_AVP_VALUE, 5004).
    #[error("invalid value in AVP {} (vendor {:?}): {reason}", .avp.code, .avp.vendor_id)]
    InvalidAvpValue {
        /// The offending AVP.
        avp: Box<Avp>,
        /// What was wrong.
        reason: String,
    },
    /// A required AVP is absent (DIAMETER_MISSING_AVP, 5005); `avp` is an example with that code.
    #[error("missing AVP {} (vendor {:?})", .avp.code, .avp.vendor_id)]
    MissingAvp {
        /// Example of the missing AVP (code, vendor, empty value).
        avp: Box<Avp>,
    },
    /// An AVP with the M bit we do not know (DIAMETER_AVP_UNSUPPORTED, 5001).
    #[error("unsupported mandatory AVP {} (vendor {:?})", .avp.code, .avp.vendor_id)]
    AvpUnsupported {
        /// The offending AVP.
        avp: Box<Avp>,
    },
    /// An AVP present more often than allowed (5009).
    #[error("AVP {} occurs too many times", .avp.code)]
    AvpOccursTooManyTimes {
        /// The second occurrence.
        avp: Box<Avp>,
    },
    /// Request for an application we did not advertise (DIAMETER_APPLICATION_UNSUPPORTED, 3007).
    #[error("application {0} not supported")]
    ApplicationUnsupported(u32),
    /// Unknown command code (DIAMETER_COMMAND_UNSUPPORTED, 3001).
    #[error("command {0} not supported")]
    CommandUnsupported(u32),
    /// No application in common after CER/CEA (DIAMETER_NO_COMMON_APPLICATION, 5010).
    #[error("no common application with peer")]
    NoCommonApplication,
    /// CER from a host that is not a configured peer (DIAMETER_UNKNOWN_PEER, 3010).
    #[error("unknown peer {0}")]
    UnknownPeer(String),
    /// No route / no open peer (DIAMETER_UNABLE_TO_DELIVER, 3002).
    #[error("unable to deliver: {0}")]
    UnableToDeliver(String),
    /// A request got no answer in time.
    #[error("request timed out")]
    Timeout,
    /// The peer connection or the node went away.
    #[error("connection closed")]
    Closed,
    /// An I/O error of a transport.
    #[error("I/O error: {0}")]
    Io(String),
    /// The peer answered with a non-success Result-Code (e.g. in CEA).
    #[error("peer answered Result-Code {0}")]
    Rejected(u32),
    /// The local application misused the API (our bug, not the peer's).
    #[error("misuse: {0}")]
    Misuse(&'static str),
}

impl Error {
    /// The Result-Code this error maps to (RFC 6733 §7.1).
    pub fn result_code(&self) -> u32 {
        match self {
            Error::UnsupportedVersion(_) => rc::UNSUPPORTED_VERSION,
            Error::InvalidMessageLength { .. } => rc::INVALID_MESSAGE_LENGTH,
            Error::InvalidHeaderBits(_) => rc::INVALID_HDR_BITS,
            Error::InvalidAvpBits { .. } => rc::INVALID_AVP_BITS,
            Error::InvalidAvpLength { .. } => rc::INVALID_AVP_LENGTH,
            Error::InvalidAvpValue { .. } => rc::INVALID_AVP_VALUE,
            Error::MissingAvp { .. } => rc::MISSING_AVP,
            Error::AvpUnsupported { .. } => rc::AVP_UNSUPPORTED,
            Error::AvpOccursTooManyTimes { .. } => rc::AVP_OCCURS_TOO_MANY_TIMES,
            Error::ApplicationUnsupported(_) => rc::APPLICATION_UNSUPPORTED,
            Error::CommandUnsupported(_) => rc::COMMAND_UNSUPPORTED,
            Error::NoCommonApplication => rc::NO_COMMON_APPLICATION,
            Error::UnknownPeer(_) => rc::UNKNOWN_PEER,
            Error::UnableToDeliver(_) | Error::Timeout | Error::Closed | Error::Io(_) => {
                rc::UNABLE_TO_DELIVER
            }
            Error::Rejected(c) => *c,
            Error::Misuse(_) => rc::UNABLE_TO_COMPLY,
        }
    }

    /// The AVP to put into Failed-AVP, if this error names one (RFC 6733 §7.5).
    pub fn failed_avp(&self) -> Option<&Avp> {
        match self {
            Error::InvalidAvpBits { avp, .. }
            | Error::InvalidAvpLength { avp, .. }
            | Error::InvalidAvpValue { avp, .. }
            | Error::MissingAvp { avp }
            | Error::AvpUnsupported { avp }
            | Error::AvpOccursTooManyTimes { avp } => Some(avp),
            _ => None,
        }
    }

    /// DIAMETER_INVALID_AVP_VALUE (5004) naming `avp`.
    pub fn invalid_value(avp: &Avp, reason: impl Into<String>) -> Error {
        Error::InvalidAvpValue {
            avp: Box::new(avp.clone()),
            reason: reason.into(),
        }
    }

    /// DIAMETER_INVALID_AVP_LENGTH (5014) naming `avp`.
    pub fn invalid_length(avp: &Avp, reason: impl Into<String>) -> Error {
        Error::InvalidAvpLength {
            avp: Box::new(avp.clone()),
            reason: reason.into(),
        }
    }

    /// DIAMETER_MISSING_AVP (5005) for an AVP with `code` and `vendor` (0 = none). The Failed-AVP
    /// example has a zero-filled payload of the minimum length for its type (RFC 6733 §7.5) when the
    /// base dictionary knows the AVP, else an empty payload; see also [`Error::missing_def`].
    pub fn missing(code: u32, vendor: u32) -> Error {
        if let Some(def) = crate::dictionary::BASE_AVPS
            .iter()
            .find(|d| d.code == code && d.vendor_id == vendor)
        {
            return Error::missing_def(def);
        }
        let mut avp = Avp::new(code, Value::Bytes(bytes::Bytes::new()));
        if vendor != 0 {
            avp = avp.vendor(vendor);
        }
        Error::MissingAvp { avp: Box::new(avp) }
    }

    /// DIAMETER_MISSING_AVP (5005) for a dictionary entry (zero-filled minimum payload, RFC 6733 §7.5).
    pub fn missing_def(def: &crate::dictionary::AvpDef) -> Error {
        Error::MissingAvp {
            avp: Box::new(def.example()),
        }
    }

    /// Whether this error is the peer's fault in a way that is answered (as opposed to a local failure).
    pub fn is_protocol_error(&self) -> bool {
        rc::is_protocol_error(self.result_code())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
