//! The one error type of the HSS crate.

/// Everything that can go wrong in the subscriber store, validation and provisioning.
///
/// Variants separate "the input was wrong" ([`HssError::Invalid`], [`HssError::Duplicate`]) from "the
/// record does not exist" ([`HssError::NotFound`]) and "the database failed" ([`HssError::Database`]);
/// a Cx server maps the last one to `DIAMETER_UNABLE_TO_COMPLY` (5012, RFC 6733 §7.1.5).
#[derive(Debug, thiserror::Error)]
pub enum HssError {
    /// A provisioning field is malformed (bad hex, wrong key length, bad identity syntax, …).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field that was wrong (e.g. `k`, `impu`).
        field: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// The record (subscription, IMPI, IMPU, …) already exists.
    #[error("duplicate {what}: {key}")]
    Duplicate {
        /// Kind of record.
        what: &'static str,
        /// Its key.
        key: String,
    },
    /// The record does not exist.
    #[error("{what} not found: {key}")]
    NotFound {
        /// Kind of record.
        what: &'static str,
        /// Its key.
        key: String,
    },
    /// The SQN space of an IMPI is exhausted (SEQ would exceed its bit width, TS 33.102 Annex C.1.1).
    #[error("SQN space exhausted for {impi}")]
    SqnExhausted {
        /// The private identity.
        impi: String,
    },
    /// Data read back from the database does not satisfy the model (corrupt or hand-edited row).
    #[error("corrupt stored data for {key}: {reason}")]
    Corrupt {
        /// Row key.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// The database failed (connection, I/O, constraint we did not anticipate).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A Cx exchange the HSS started (RTR) failed: no route or peer, timeout, malformed answer.
    #[error("Cx: {0}")]
    Cx(String),
    /// A running HSS's REST API answered with an error (HTTP status and its message), or the
    /// exchange with it broke.
    #[error("HSS REST API: {0}")]
    Api(String),
    /// Schema migration failed.
    #[error("schema migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Bad store configuration (URL, data dir).
    #[error("store configuration: {0}")]
    Config(String),
    /// An I/O error outside the database (import files, data dir).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Some rows of an import failed (the summary lists them); the others were imported.
    #[error("{0} row(s) failed to import")]
    ImportFailed(usize),
    /// An import file could not be parsed at all (not a per-row error).
    #[error("import format: {0}")]
    Format(String),
}

impl HssError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn corrupt(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// True for errors caused by the caller's input (validation, duplicates, missing records), false
    /// for failures of the HSS itself (database, corruption, I/O).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::Invalid { .. } | Self::Duplicate { .. } | Self::NotFound { .. } | Self::Format(_)
        )
    }
}
