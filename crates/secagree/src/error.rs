//! The crate's one error type. Every variant maps to the SIP status the P-CSCF answers with
//! ([`SecAgreeError::status`], [`SecAgreeError::reason_phrase`]).

use thiserror::Error;

/// Why a request was refused by the security agreement logic (or why we were misused).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecAgreeError {
    /// A Security-Client/Server/Verify header did not parse (RFC 3329 §2.2 grammar).
    #[error("malformed {header} header: {detail}")]
    BadHeader {
        /// Header name.
        header: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// An `ipsec-3gpp` offer carries a missing or invalid parameter (TS 33.203 Annex H, §7.1).
    #[error("bad ipsec-3gpp offer: {0}")]
    BadIpsecOffer(&'static str),
    /// Too many mechanisms in one header (a bound on peer-supplied lists).
    #[error("too many security mechanisms ({0})")]
    TooManyMechanisms(usize),
    /// No offered mechanism/algorithm is acceptable (RFC 3329 §2.3.1: 494 with our list).
    #[error("no acceptable security mechanism offered")]
    NoAcceptableMechanism,
    /// `sec_agree = required` and the REGISTER does not ask for sec-agree (RFC 3329 §2.3.1).
    #[error("security agreement required")]
    SecAgreeRequired,
    /// A protected request lacks Security-Verify (RFC 3329 §2.3.1).
    #[error("Security-Verify missing")]
    VerifyMissing,
    /// Security-Verify is not the list we sent in Security-Server (RFC 3329 §2.3.1).
    #[error("Security-Verify does not match the Security-Server list sent")]
    VerifyMismatch,
    /// A refresh REGISTER lacks the Security-Client of the association.
    #[error("Security-Client missing in a REGISTER of an existing association")]
    ClientMissing,
    /// A refresh REGISTER's Security-Client differs from the association's.
    #[error("Security-Client differs from the association's")]
    ClientChanged,
    /// A refresh REGISTER's Authorization differs from the association's (`field` named).
    #[error("Authorization {0} differs from the previous association")]
    AuthorizationChanged(&'static str),
    /// A request that must be protected arrived outside the association's protected flow.
    #[error("request not received on the protected flow of the association")]
    NotOnProtectedFlow,
    /// `sec_agree = required`: a non-REGISTER, non-emergency request on the unprotected port.
    #[error("only REGISTER and emergency requests are accepted on the unprotected port")]
    UnprotectedNotAllowed,
    /// Invalid configuration (our misuse, not the peer's).
    #[error("invalid configuration: {0}")]
    Config(&'static str),
}

impl SecAgreeError {
    /// The SIP status code to answer with.
    ///
    /// * 400: malformed Security-* header or ipsec-3gpp parameters (RFC 3261 §21.4.1).
    /// * 494 Security Agreement Required: RFC 3329 §2.3.1 (no acceptable mechanism, sec-agree
    ///   required, Security-Verify missing or modified); also used for the "4xx" the reference
    ///   call flows give for a refresh whose Security-Client/Verify is missing or differs.
    /// * 403: Authorization differs from the previous association (reference call flows), a
    ///   request outside the protected flow / TLS connection, or a non-REGISTER, non-emergency
    ///   request on the unprotected port (the reference document says "rejected" without a code;
    ///   403 is our choice).
    /// * 500: configuration error.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadHeader { .. } | Self::BadIpsecOffer(_) | Self::TooManyMechanisms(_) => 400,
            Self::NoAcceptableMechanism
            | Self::SecAgreeRequired
            | Self::VerifyMissing
            | Self::VerifyMismatch
            | Self::ClientMissing
            | Self::ClientChanged => 494,
            Self::AuthorizationChanged(_)
            | Self::NotOnProtectedFlow
            | Self::UnprotectedNotAllowed => 403,
            Self::Config(_) => 500,
        }
    }

    /// The reason phrase to send with [`status`](Self::status).
    pub fn reason_phrase(&self) -> &'static str {
        match self.status() {
            400 => match self {
                Self::BadHeader { header, .. } => match *header {
                    "Security-Client" => "Bad Security-Client Header",
                    "Security-Verify" => "Bad Security-Verify Header",
                    "Authorization" => "Bad Authorization Header",
                    _ => "Bad Request",
                },
                _ => "Bad Security-Client Header",
            },
            494 => "Security Agreement Required",
            403 => "Forbidden",
            _ => "Server Internal Error",
        }
    }

    /// True if the response must carry our Security-Server list (RFC 3329 §2.3.1: a 494 lists the
    /// server's mechanisms).
    pub fn needs_security_server(&self) -> bool {
        self.status() == 494
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, SecAgreeError>;
