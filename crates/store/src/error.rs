//! The store's one error type. Callers map it to HTTP: `NotFound` → 404, `Conflict` → 409,
//! `Invalid` → 400 naming the field, everything else → 500.

use std::path::PathBuf;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The row does not exist (or belongs to another organisation, which callers must not be
    /// able to tell apart).
    #[error("{what} not found")]
    NotFound { what: String },
    /// A compare-and-swap lost (the row's revision moved on), a lease is held by someone else,
    /// or a unique name is taken.
    #[error("conflict: {what}")]
    Conflict { what: String },
    /// Input that the store refuses; `field` is the path the user wrote (`values.ALIBABA_ACCESS_KEY_ID`).
    #[error("invalid {field}: {why}")]
    Invalid { field: String, why: String },
    /// The database failed or refused the statement.
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    /// The schema migrations could not be applied.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Encryption or decryption failed: tampered ciphertext, the wrong master key, no randomness.
    #[error("secret encryption: {0}")]
    Crypto(String),
    /// A stored row holds a value this version cannot read (an unknown status, bad JSON…).
    #[error("corrupt {what} in the database: {why}")]
    Corrupt { what: String, why: String },
    /// The master key file could not be read or written.
    #[error("master key file {}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The store's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Error::Database(error)
    }
}

impl Error {
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound { what: what.into() }
    }

    pub(crate) fn conflict(what: impl Into<String>) -> Self {
        Error::Conflict { what: what.into() }
    }

    pub(crate) fn invalid(field: impl Into<String>, why: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            why: why.into(),
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, why: impl std::fmt::Display) -> Self {
        Error::Corrupt {
            what: what.into(),
            why: why.to_string(),
        }
    }

    /// Whether the database rejected the statement because of a unique constraint.
    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, Error::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// Whether the database rejected the statement because a referenced row does not exist.
    pub(crate) fn is_foreign_key_violation(&self) -> bool {
        matches!(self, Error::Database(sqlx::Error::Database(e)) if e.is_foreign_key_violation())
    }
}
