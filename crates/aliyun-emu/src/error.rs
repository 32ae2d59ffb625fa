//! API errors as Alibaba Cloud reports them: an HTTP status and a stable `Code` with a message
//! that tells the caller what to change.
//!
//! The body is the documented RPC shape `{RequestId, HostId, Code, Message, Recommend}`, which the
//! official SDKs parse into `ClientException` / `ServerException` / `ThrottlingException`.

use std::fmt;

/// One failed API call, before it is rendered with a request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The service's error code, e.g. `InvalidScalingGroupId.NotFound`.
    pub code: String,
    /// A message naming what is wrong.
    pub message: String,
    /// Milliseconds the caller should wait (sent as `x-acs-retry-after`).
    pub retry_after_ms: Option<u64>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

/// `Result` of an API handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// A required parameter is absent.
    pub fn missing(param: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            format!(
                "The input parameter \"{param}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }

    /// A parameter has a value the API does not accept; `why` says what is expected.
    pub fn invalid(param: &str, why: impl fmt::Display) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("The specified parameter \"{param}\" is not valid: {why}"),
        )
    }

    /// A resource named by the caller does not exist (`<Kind>.NotFound`, 404).
    pub fn not_found(code: &str, what: impl fmt::Display) -> Self {
        Self::new(404, code, format!("The specified {what} does not exist."))
    }

    /// The resource exists but its state forbids the operation (403).
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(403, code, message)
    }

    /// Flow control: the SDKs treat any error carrying `x-acs-retry-after` as throttling.
    pub fn throttled(retry_after_ms: u64) -> Self {
        Self {
            retry_after_ms: Some(retry_after_ms),
            ..Self::new(
                400,
                "Throttling.User",
                "Request was denied due to user flow control.",
            )
        }
    }

    /// An injected or genuine server-side failure.
    pub fn internal() -> Self {
        Self::new(
            500,
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
        )
    }

    /// No stock of an instance type in a zone.
    pub fn no_stock(zone: &str, instance_type: &str) -> Self {
        Self::forbidden(
            "OperationDenied.NoStock",
            format!(
                "The resource is out of stock in the specified zone ({zone}, {instance_type}). Please try other types of resources or other regions and zones."
            ),
        )
    }
}
