//! What can go wrong when the cloud is asked to do something, in terms a caller can act on.

/// A failed cloud call, classified by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing asked about does not exist (any more).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is wrong; retrying it unchanged will fail again.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The credentials are rejected or lack the permission.
    #[error("access denied: {0}")]
    Denied(String),
    /// The resource is in a state that does not allow this now, or already exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// No stock or quota for what was asked.
    #[error("insufficient capacity: {0}")]
    InsufficientCapacity(String),
    /// Flow control or a passing server failure: retry later.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<aliyun::Error> for Error {
    fn from(e: aliyun::Error) -> Self {
        use aliyun::ErrorKind as K;
        let text = e.to_string();
        match e.kind() {
            K::NotFound => Error::NotFound(text),
            K::InvalidParameter => Error::Invalid(text),
            K::Forbidden | K::Unauthenticated => Error::Denied(text),
            K::Conflict => Error::Conflict(text),
            K::InsufficientCapacity => Error::InsufficientCapacity(text),
            K::Throttled | K::Transient => Error::Unavailable(text),
            K::Other => Error::Other(text),
        }
    }
}
