//! The crate's error type: every parse failure names the line (1-based; 0 when the text did not come
//! from a message) and the header, and maps to the SIP response a server should send
//! (RFC 3261 §21.4.1 400, §21.5.6 505, §21.4.11 513).

use std::borrow::Cow;

/// Everything that can go wrong while parsing, framing, validating or building a SIP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message (or the header section on a stream) is larger than the configured limit.
    #[error("message too large: {size} bytes, limit {limit}")]
    TooLarge {
        /// Size seen so far.
        size: usize,
        /// Configured limit ([`crate::Limits::max_message_size`]).
        limit: usize,
    },
    /// The Request-Line or Status-Line is malformed (RFC 3261 §7.1, §7.2).
    #[error("line {line}: bad start line: {reason}")]
    BadStartLine {
        /// Line number (1-based).
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The SIP-Version is not `SIP/2.0` (RFC 3261 §7.1).
    #[error("line {line}: unsupported SIP version")]
    BadVersion {
        /// Line number (1-based).
        line: usize,
    },
    /// A line in the header section is not `name: value` (RFC 3261 §7.3) or contains forbidden bytes.
    #[error("line {line}: malformed header line: {reason}")]
    BadHeaderLine {
        /// Line number (1-based).
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A header's value does not match its grammar.
    #[error("line {line}: bad {name} header: {reason}")]
    BadHeader {
        /// Line number (1-based; 0 when parsed outside a message).
        line: usize,
        /// Canonical header name.
        name: Cow<'static, str>,
        /// What is wrong.
        reason: Cow<'static, str>,
    },
    /// A header that must be present is missing (RFC 3261 §8.1.1).
    #[error("missing {name} header")]
    MissingHeader {
        /// Canonical header name.
        name: &'static str,
    },
    /// A header that must appear once appears again.
    #[error("line {line}: duplicate {name} header")]
    DuplicateHeader {
        /// Line of the second occurrence.
        line: usize,
        /// Canonical header name.
        name: &'static str,
    },
    /// A line is longer than [`crate::Limits::max_line_len`].
    #[error("line {line}: longer than {limit} bytes")]
    LineTooLong {
        /// Line number (1-based).
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// More header lines than [`crate::Limits::max_headers`].
    #[error("line {line}: more than {limit} header lines")]
    TooManyHeaders {
        /// Line number where the limit was crossed.
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// The header section does not end with an empty line.
    #[error("line {line}: header section not terminated by an empty line")]
    Unterminated {
        /// The last line seen.
        line: usize,
    },
    /// A stream message without Content-Length (RFC 3261 §18.3: mandatory on stream transports).
    #[error("missing Content-Length header on a stream transport")]
    MissingContentLength,
    /// Content-Length is larger than the body that arrived (datagram, RFC 3261 §18.3).
    #[error("line {line}: Content-Length {declared} but only {available} body bytes")]
    BodyTruncated {
        /// Line of the Content-Length header.
        line: usize,
        /// Declared length.
        declared: usize,
        /// Bytes present.
        available: usize,
    },
    /// The request method and the CSeq method differ (RFC 3261 §8.2, RFC 4475 §3.1.2.17).
    #[error("line {line}: CSeq method does not match the request method")]
    CSeqMismatch {
        /// Line of the CSeq header.
        line: usize,
    },
    /// Bytes on a stream that cannot start a SIP message.
    #[error("garbage on the stream: {reason}")]
    Garbage {
        /// What was seen.
        reason: &'static str,
    },
    /// A URI does not match RFC 3261 §19.1 / RFC 3966 grammar.
    #[error("bad URI: {reason}")]
    BadUri {
        /// What is wrong.
        reason: &'static str,
    },
    /// The caller misused the builder or editor (not a peer error).
    #[error("invalid use: {0}")]
    Usage(&'static str),
}

impl Error {
    /// The SIP status code a server should answer a request that failed this way with
    /// (RFC 3261 §21): 513 too large, 505 bad version, 400 otherwise. Responses that fail to parse
    /// are dropped instead (RFC 3261 §18.1.2).
    pub fn status(&self) -> u16 {
        match self {
            Error::TooLarge { .. } => 513,
            Error::BadVersion { .. } => 505,
            _ => 400,
        }
    }

    /// The reason phrase for [`Error::status`], naming the bad header where there is one
    /// (e.g. `Bad Via Header`, `Missing Call-ID Header`).
    pub fn reason_phrase(&self) -> String {
        match self {
            Error::TooLarge { .. } => "Message Too Large".into(),
            Error::BadVersion { .. } => "Version Not Supported".into(),
            Error::BadStartLine { .. } => "Bad Request-Line".into(),
            Error::BadHeader { name, .. } => format!("Bad {name} Header"),
            Error::MissingHeader { name } => format!("Missing {name} Header"),
            Error::DuplicateHeader { name, .. } => format!("Duplicate {name} Header"),
            Error::MissingContentLength | Error::BodyTruncated { .. } => {
                "Bad Content-Length Header".into()
            }
            Error::CSeqMismatch { .. } => "CSeq Method Mismatch".into(),
            Error::BadUri { .. } => "Bad Request-URI".into(),
            Error::LineTooLong { .. } | Error::TooManyHeaders { .. } => "Header Too Large".into(),
            _ => "Bad Request".into(),
        }
    }

    /// The 1-based line the error refers to, if any.
    pub fn line(&self) -> Option<usize> {
        match *self {
            Error::BadStartLine { line, .. }
            | Error::BadVersion { line }
            | Error::BadHeaderLine { line, .. }
            | Error::Unterminated { line }
            | Error::BadHeader { line, .. }
            | Error::DuplicateHeader { line, .. }
            | Error::LineTooLong { line, .. }
            | Error::TooManyHeaders { line, .. }
            | Error::BodyTruncated { line, .. }
            | Error::CSeqMismatch { line } => Some(line),
            _ => None,
        }
        .filter(|l| *l > 0)
    }

    /// A [`Error::BadHeader`] without a line number.
    pub(crate) fn header(
        name: impl Into<Cow<'static, str>>,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        Error::BadHeader {
            line: 0,
            name: name.into(),
            reason: reason.into(),
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
