//! The crate's error type.

use std::net::SocketAddr;

/// Everything that can go wrong in the SIP stack. Peer errors (a message that does not parse or
/// validate) carry the SIP status a server answers with ([`Error::status`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message from the peer is malformed (RFC 3261 §21.4.1 400, §21.4.11 513, §21.5.6 505).
    #[error("bad message: {0}")]
    Sip(#[from] sip::Error),
    /// Socket or connection failure.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// TLS setup or handshake failure.
    #[error("TLS error: {0}")]
    Tls(String),
    /// No listening socket can send for this flow (no socket of that transport/family).
    #[error("no {transport} socket to send to {remote}")]
    NoSocket {
        /// Transport asked for.
        transport: crate::Transport,
        /// Destination.
        remote: SocketAddr,
    },
    /// The connection limit ([`crate::EndpointConfig::max_connections`]) is reached.
    #[error("connection limit reached")]
    TooManyConnections,
    /// The connection named by the flow is gone.
    #[error("connection {0} is closed")]
    ConnectionClosed(u64),
    /// The transaction does not exist (already terminated or never created).
    #[error("no such transaction")]
    NoTransaction,
    /// A next hop could not be resolved (RFC 3263).
    #[error("cannot resolve {0}")]
    Unresolvable(String),
    /// The caller misused the API (not a peer error).
    #[error("invalid use: {0}")]
    Usage(&'static str),
}

impl Error {
    /// The SIP status a server answers with when a request failed this way: the parser's status
    /// (400/505/513), 503 for transport and resolution failures (RFC 3261 §8.1.3.1, RFC 3263 §4.3),
    /// 500 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Error::Sip(e) => e.status(),
            Error::Io(_)
            | Error::Tls(_)
            | Error::NoSocket { .. }
            | Error::TooManyConnections
            | Error::ConnectionClosed(_)
            | Error::Unresolvable(_) => 503,
            _ => 500,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
