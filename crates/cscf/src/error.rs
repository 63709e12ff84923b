//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong in the `cscf` crate.
#[derive(Debug, Error)]
pub enum CscfError {
    /// The SQL backend failed (I/O, locking, constraint).
    #[error("registration store database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The Redis backend failed.
    #[error("registration store Redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// Bringing the SQL schema up to date failed.
    #[error("registration store migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored record could not be encoded or decoded as JSON.
    #[error("registration store encoding error: {0}")]
    Encoding(#[from] serde_json::Error),
    /// A stored row holds a value our types cannot represent (written by something else).
    #[error("corrupt registration store record: {0}")]
    Corrupt(String),
    /// A value cannot be stored (e.g. a time beyond the backend's integer range).
    #[error("{what} is out of range: {value}")]
    OutOfRange {
        /// What was being stored.
        what: &'static str,
        /// The offending value.
        value: u64,
    },
    /// A secret has a length the specification does not allow.
    #[error("{what} must be {min} to {max} bytes, got {got}")]
    BadSecretLength {
        /// Which secret.
        what: &'static str,
        /// Minimum length in bytes.
        min: usize,
        /// Maximum length in bytes.
        max: usize,
        /// Length received.
        got: usize,
    },
    /// The data directory or database path is unusable.
    #[error("registration store path: {0}")]
    Path(String),
    /// File-system error (creating the data directory).
    #[error("registration store I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A Cx request got no answer in time (transport failure, not an answer).
    #[error("{command}: no Diameter answer in time")]
    DiameterTimeout {
        /// The command sent (`UAR`, `MAR`, `SAR`, `LIR`).
        command: &'static str,
    },
    /// A Cx request could not be delivered: no open peer, no route, connection lost (transport
    /// failure, not an answer).
    #[error("{command}: Diameter request not delivered: {source}")]
    DiameterUnavailable {
        /// The command sent.
        command: &'static str,
        /// Why.
        source: diameter::Error,
    },
    /// The peer answered, but with a message we cannot decode as the expected Cx answer.
    #[error("{command}: undecodable Diameter answer: {source}")]
    DiameterBadAnswer {
        /// The command sent.
        command: &'static str,
        /// The decoding error.
        source: cx::CxError,
    },
    /// A configuration value is unusable (names the key and the reason).
    #[error("configuration: {0}")]
    Config(String),
}

impl CscfError {
    /// Whether this is a Diameter transport failure (timeout or not delivered): no answer at
    /// all, so the HSS may be fine and the request worth retrying elsewhere.
    pub fn is_diameter_transport(&self) -> bool {
        matches!(
            self,
            Self::DiameterTimeout { .. } | Self::DiameterUnavailable { .. }
        )
    }
}
