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
}
