//! The one error type of the `ue` crate.

use std::path::PathBuf;

/// Everything that can go wrong in the UE core.
#[derive(Debug, thiserror::Error)]
pub enum UeError {
    /// A key, OP/OPc or AMF given on the command line or in a config is malformed.
    #[error("bad ISIM parameter {what}: {source}")]
    BadIsimParam {
        /// Which parameter (`K`, `OP`, `OPc`, `AMF`).
        what: &'static str,
        /// The underlying error.
        source: aka::AkaError,
    },
    /// The SQN state file could not be read or written.
    #[error("SQN state file {path}: {source}")]
    StateIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The SQN state file exists but does not hold a valid `UeSqnState`.
    #[error("SQN state file {path} is corrupt: {reason}")]
    StateCorrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// An AKA computation failed.
    #[error("AKA: {0}")]
    Aka(#[from] aka::AkaError),
    /// Building a SIP message failed (a configured value is not valid SIP).
    #[error("building SIP message: {0}")]
    Sip(#[from] sip::Error),
    /// The configuration is inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    /// A socket could not be opened, or sending failed.
    #[error("transport: {0}")]
    Transport(String),
    /// A subscriber list is malformed.
    #[error("subscribers: {0}")]
    Subscribers(String),
    /// The IPsec layer (SA install, datapath, allocation) failed.
    #[error("IPsec: {0}")]
    Ipsec(String),
    /// The userspace IPsec datapath needs privileges this process lacks (CAP_NET_ADMIN for the
    /// TUN device and policy routing, CAP_NET_RAW for the raw ESP socket).
    #[error("{0}")]
    Privilege(String),
    /// A reginfo body (RFC 3680) is malformed; answered with 400.
    #[error("bad reginfo body: {0}")]
    BadReginfo(String),
}

/// Result alias.
pub type Result<T, E = UeError> = std::result::Result<T, E>;
