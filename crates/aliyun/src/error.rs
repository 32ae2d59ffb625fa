//! What can go wrong when talking to Alibaba Cloud, and what kind of failure it is.
//!
//! ```text
//!   HTTP ≥ 400 + JSON {Code, Message, RequestId}  ──classify(code, status)──▶  Error::Api { kind, .. }
//!   connection refused / reset / timeout           ─────────────────────────▶  Error::Transport
//!   2xx whose body is not the expected JSON        ─────────────────────────▶  Error::Decode
//!   no usable credentials, bad endpoint, bad setup ─────────────────────────▶  Credentials / InvalidEndpoint / Config
//! ```
//!
//! [`ErrorKind`] is what callers branch on (the cloud traits map it onto their own NotFound,
//! Throttled, InsufficientCapacity…); the raw service `code` stays available for messages.

use std::time::Duration;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failed Alibaba Cloud call or client setup.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service answered with an error status.
    #[error("{action}: {} (HTTP {status}{}){}", describe_code(code, message), describe_request_id(request_id.as_deref()), kind.hint())]
    Api {
        action: String,
        kind: ErrorKind,
        status: u16,
        /// The service's error code, e.g. `InvalidInstanceId.NotFound` (empty if the body had none).
        code: String,
        message: String,
        request_id: Option<String>,
        /// The server's `x-acs-retry-after`: the least time to wait before trying again.
        retry_after: Option<Duration>,
    },
    /// The request never got an HTTP answer (connection refused or reset, timeout, TLS…).
    #[error("{action}: could not reach Alibaba Cloud")]
    Transport {
        action: String,
        #[source]
        source: reqwest::Error,
    },
    /// The service answered with success, but not with the JSON this client expects.
    #[error("{action}: the response body is not the expected JSON")]
    Decode {
        action: String,
        #[source]
        source: serde_json::Error,
    },
    /// No usable credentials were found, or a credentials file is malformed.
    #[error("{0}")]
    Credentials(String),
    /// An endpoint override is not a usable base URL.
    #[error("invalid Alibaba Cloud endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    /// The client cannot be built as configured (no region, HTTP client setup…).
    #[error("{0}")]
    Config(String),
}

/// What kind of failure an API error is; stable across the many service codes that mean it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The resource (or the action) does not exist.
    NotFound,
    /// Flow control: slow down and retry.
    Throttled,
    /// A parameter is missing or wrong; retrying will not help.
    InvalidParameter,
    /// The credentials are valid but lack the permission.
    Forbidden,
    /// Bad access key, bad signature or expired token.
    Unauthenticated,
    /// No stock for the instance type in the zone, or a quota is exhausted.
    InsufficientCapacity,
    /// The resource is in a state that does not allow the action, or already exists.
    Conflict,
    /// A server-side failure that may pass (5xx, `ServiceUnavailable`, `InternalError`).
    Transient,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Classifies a service error from its `Code` first (more precise) and its HTTP status second.
    pub fn classify(code: &str, status: u16) -> Self {
        Self::from_code(code).unwrap_or_else(|| Self::from_status(status))
    }

    fn from_code(code: &str) -> Option<Self> {
        let starts = |prefix: &str| code.starts_with(prefix);
        let has = |part: &str| code.contains(part);
        // Order matters: `InvalidAccessKeyId.NotFound` is an authentication failure, not a missing
        // resource, and `InvalidInstanceId.NotFound` is a missing resource, not a bad parameter.
        let kind = if code == "SignatureDoesNotMatch"
            || code == "IncompleteSignature"
            || starts("InvalidAccessKeyId")
            || starts("InvalidSecurityToken")
        {
            Self::Unauthenticated
        } else if starts("Throttling") {
            Self::Throttled
        } else if has("NoStock") || has("QuotaExceed") {
            Self::InsufficientCapacity
        } else if code.ends_with("NotFound") || has(".NotFound") {
            Self::NotFound
        } else if starts("Forbidden") || has("NoPermission") {
            Self::Forbidden
        } else if has("AlreadyExist")
            || has("Duplicate")
            || code == "IdempotentParameterMismatch"
            || (starts("Incorrect") && has("Status"))
        {
            Self::Conflict
        } else if starts("Invalid") || starts("Missing") {
            Self::InvalidParameter
        } else if starts("ServiceUnavailable") || starts("InternalError") || code == "UnknownError"
        {
            Self::Transient
        } else {
            return None;
        };
        Some(kind)
    }

    fn from_status(status: u16) -> Self {
        match status {
            401 => Self::Unauthenticated,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            409 => Self::Conflict,
            429 => Self::Throttled,
            500..=599 => Self::Transient,
            _ => Self::Other,
        }
    }

    /// Whether trying the same request again later can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Throttled | Self::Transient)
    }

    /// What the user can do about it, appended to the error message (principle: errors tell
    /// the user what to do).
    fn hint(self) -> &'static str {
        match self {
            Self::Unauthenticated => {
                "; check the access key ID and secret (and that an STS token has not expired)"
            }
            Self::Forbidden => "; the RAM user or role lacks a permission for this action",
            Self::InsufficientCapacity => "; try another zone or instance type, or raise the quota",
            _ => "",
        }
    }
}

impl Error {
    /// The kind of failure; non-API errors map to the kind a caller would treat them as.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Api { kind, .. } => *kind,
            Self::Transport { .. } => ErrorKind::Transient,
            Self::Credentials(_) => ErrorKind::Unauthenticated,
            Self::InvalidEndpoint { .. } | Self::Config(_) => ErrorKind::InvalidParameter,
            Self::Decode { .. } => ErrorKind::Other,
        }
    }

    /// The service error code, for API errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The request ID the service reported, to quote to Alibaba Cloud support.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The least time the server asked us to wait before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the same request may succeed if sent again: throttling, server-side failures
    /// and transport failures. Creates stay safe to retry because they carry a `ClientToken`.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { kind, .. } => kind.is_retryable(),
            // A builder error is our bug, not the network's: sending it again fails the same way.
            Self::Transport { source, .. } => !source.is_builder(),
            _ => false,
        }
    }

    /// Builds an API error from an error response (status ≥ 400): its body and headers.
    pub(crate) fn from_response(
        action: &str,
        status: u16,
        body: &[u8],
        header_request_id: Option<&str>,
        retry_after: Option<Duration>,
    ) -> Self {
        let parsed = ErrorBody::parse(body);
        let (code, message, body_request_id) = match parsed {
            Some(b) => (b.code, b.message, b.request_id),
            // A proxy or load balancer in the way answers in HTML; keep a readable excerpt.
            None => (String::new(), excerpt(body), None),
        };
        Self::Api {
            action: action.to_owned(),
            kind: ErrorKind::classify(&code, status),
            status,
            code,
            message,
            request_id: body_request_id.or_else(|| header_request_id.map(str::to_owned)),
            retry_after,
        }
    }
}

/// The fields of an error body, read the way the official SDKs read them: JSON keys compared
/// case-insensitively (`Code`/`code`, `Message`/`message`, `RequestId`/`requestId`/`request_id`),
/// so both the RPC style and the CS (ROA) style parse.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl ErrorBody {
    /// `None` when the body is not a JSON object.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let serde_json::Value::Object(map) = serde_json::from_slice(body).ok()? else {
            return None;
        };
        let mut parsed = Self::default();
        for (key, value) in map {
            let Some(text) = scalar_text(value) else {
                continue;
            };
            match key.to_ascii_lowercase().as_str() {
                "code" => parsed.code = text,
                "message" => parsed.message = text,
                "requestid" | "request_id" => parsed.request_id = Some(text),
                _ => {}
            }
        }
        Some(parsed)
    }
}

fn scalar_text(value: serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses `x-acs-retry-after` (milliseconds).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_millis)
}

fn excerpt(body: &[u8]) -> String {
    const LIMIT: usize = 200;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn describe_code(code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (false, false) => format!("{code}: {message}"),
        (false, true) => code.to_owned(),
        (true, false) => message.to_owned(),
        (true, true) => "error without a body".to_owned(),
    }
}

fn describe_request_id(request_id: Option<&str>) -> String {
    request_id
        .map(|id| format!(", request id {id}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_codes_classify_into_kinds() {
        let table = [
            ("InvalidInstanceId.NotFound", 404, ErrorKind::NotFound),
            ("InvalidScalingGroupId.NotFound", 400, ErrorKind::NotFound),
            ("ErrorClusterNotFound", 404, ErrorKind::NotFound),
            ("Throttling", 400, ErrorKind::Throttled),
            ("Throttling.User", 400, ErrorKind::Throttled),
            ("Throttling.Api", 429, ErrorKind::Throttled),
            ("InvalidParameter", 400, ErrorKind::InvalidParameter),
            (
                "InvalidParameter.InstanceType",
                400,
                ErrorKind::InvalidParameter,
            ),
            (
                "MissingParameter.RegionId",
                400,
                ErrorKind::InvalidParameter,
            ),
            (
                "InvalidInstanceType.ValueNotSupported",
                400,
                ErrorKind::InvalidParameter,
            ),
            ("Forbidden.RAM", 403, ErrorKind::Forbidden),
            ("Forbidden", 400, ErrorKind::Forbidden),
            ("SignatureDoesNotMatch", 400, ErrorKind::Unauthenticated),
            ("IncompleteSignature", 400, ErrorKind::Unauthenticated),
            (
                "InvalidAccessKeyId.NotFound",
                404,
                ErrorKind::Unauthenticated,
            ),
            (
                "InvalidAccessKeyId.Inactive",
                400,
                ErrorKind::Unauthenticated,
            ),
            (
                "InvalidSecurityToken.Expired",
                400,
                ErrorKind::Unauthenticated,
            ),
            (
                "OperationDenied.NoStock",
                403,
                ErrorKind::InsufficientCapacity,
            ),
            (
                "Zone.NotOnSale.NoStock",
                400,
                ErrorKind::InsufficientCapacity,
            ),
            (
                "QuotaExceed.ElasticQuota",
                403,
                ErrorKind::InsufficientCapacity,
            ),
            ("IncorrectInstanceStatus", 403, ErrorKind::Conflict),
            ("IncorrectScalingGroupStatus", 400, ErrorKind::Conflict),
            ("ScalingGroupName.Duplicate", 400, ErrorKind::Conflict),
            ("IdempotentParameterMismatch", 400, ErrorKind::Conflict),
            ("ServiceUnavailable", 503, ErrorKind::Transient),
            ("InternalError", 500, ErrorKind::Transient),
            ("SomethingNew", 502, ErrorKind::Transient),
            ("SomethingNew", 400, ErrorKind::Other),
            ("", 404, ErrorKind::NotFound),
            ("", 429, ErrorKind::Throttled),
            ("", 401, ErrorKind::Unauthenticated),
        ];
        for (code, status, kind) in table {
            assert_eq!(ErrorKind::classify(code, status), kind, "{code} / {status}");
        }
    }

    #[test]
    fn only_throttling_and_server_failures_are_retryable_kinds() {
        assert!(ErrorKind::Throttled.is_retryable());
        assert!(ErrorKind::Transient.is_retryable());
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::InvalidParameter,
            ErrorKind::Forbidden,
            ErrorKind::Unauthenticated,
            ErrorKind::InsufficientCapacity,
            ErrorKind::Conflict,
            ErrorKind::Other,
        ] {
            assert!(!kind.is_retryable(), "{kind:?}");
        }
    }

    #[test]
    fn rpc_style_error_bodies_parse() {
        let body = br#"{"RequestId":"r-1","HostId":"ecs.aliyuncs.com","Code":"InvalidParameter","Message":"bad","Recommend":"x"}"#;
        assert_eq!(
            ErrorBody::parse(body),
            Some(ErrorBody {
                code: "InvalidParameter".into(),
                message: "bad".into(),
                request_id: Some("r-1".into()),
            })
        );
    }

    #[test]
    fn cs_style_lowercase_error_bodies_parse() {
        let body = br#"{"code":"ErrorClusterNotFound","message":"cluster c1 not found","requestId":"r-2"}"#;
        let parsed = ErrorBody::parse(body).expect("json object");
        assert_eq!(parsed.code, "ErrorClusterNotFound");
        assert_eq!(parsed.message, "cluster c1 not found");
        assert_eq!(parsed.request_id.as_deref(), Some("r-2"));

        let snake = ErrorBody::parse(br#"{"code":"X","request_id":"r-3"}"#).expect("json object");
        assert_eq!(snake.request_id.as_deref(), Some("r-3"));
    }

    #[test]
    fn non_json_error_bodies_do_not_parse() {
        assert_eq!(ErrorBody::parse(b"<html>502 Bad Gateway</html>"), None);
        assert_eq!(ErrorBody::parse(b"[1,2]"), None);
        assert_eq!(ErrorBody::parse(b""), None);
    }

    #[test]
    fn an_api_error_is_built_from_status_body_and_headers() {
        let err = Error::from_response(
            "DescribeInstances",
            429,
            br#"{"Code":"Throttling.Api","Message":"slow down","RequestId":"r-9"}"#,
            Some("r-header"),
            parse_retry_after("2000"),
        );
        assert_eq!(err.kind(), ErrorKind::Throttled);
        assert_eq!(err.code(), Some("Throttling.Api"));
        assert_eq!(err.request_id(), Some("r-9"), "the body's request id wins");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
        assert!(err.is_retryable());
        assert_eq!(
            err.to_string(),
            "DescribeInstances: Throttling.Api: slow down (HTTP 429, request id r-9)"
        );
    }

    #[test]
    fn an_html_gateway_error_is_transient_and_keeps_an_excerpt() {
        let html = format!("<html>{}</html>", "x".repeat(500));
        let err = Error::from_response("RunInstances", 502, html.as_bytes(), Some("r-h"), None);
        assert_eq!(err.kind(), ErrorKind::Transient);
        assert_eq!(err.request_id(), Some("r-h"));
        let Error::Api { message, code, .. } = &err else {
            panic!("expected an API error, got {err:?}");
        };
        assert!(code.is_empty());
        assert!(message.starts_with("<html>") && message.ends_with('…'));
        assert!(message.chars().count() <= 201);
    }

    #[test]
    fn retry_after_is_read_as_milliseconds() {
        assert_eq!(parse_retry_after("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn messages_tell_the_user_what_to_do_about_bad_credentials() {
        let err = Error::from_response(
            "DescribeRegions",
            400,
            br#"{"Code":"SignatureDoesNotMatch","Message":"The signature does not match."}"#,
            None,
            None,
        );
        assert_eq!(err.kind(), ErrorKind::Unauthenticated);
        assert!(!err.is_retryable());
        assert!(
            err.to_string()
                .contains("check the access key ID and secret")
        );
    }
}
