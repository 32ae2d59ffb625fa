//! The one error body of the API, `{code, message, requestId, field?}`, and the mapping from
//! store and cloud errors to it. Codes are stable: clients branch on them, never on messages.
//!
//! | code | status | when |
//! |---|---|---|
//! | `malformed_body` | 400 | the body is not JSON, or a value has the wrong type |
//! | `invalid_field` | 400 | a field is missing or wrong; `field` names it |
//! | `credentials_rejected` | 400 | the cloud refused the access key being stored |
//! | `unauthenticated` | 401 | no bearer token, or an unknown, revoked or expired one |
//! | `forbidden` | 403 | the role does not allow it (members read no secrets nor kubeconfigs) |
//! | `not_found` | 404 | no such thing in this organisation (or no such organisation for you) |
//! | `conflict` | 409 | a name is taken, or the row changed under you |
//! | `cluster_busy` | 409 | the cluster is in a state that does not allow this now |
//! | `cloud_unavailable` | 503 | the cloud is throttling or down: retry later |
//! | `cloud_error` | 502 | the cloud failed in another way |
//! | `internal` | 500 | a bug or a database failure |

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served, for error bodies and logs.
    pub static REQUEST_ID: String;
}

/// The current request's id, or `-` outside a request.
pub fn request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}

/// The error body every failed request gets.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Stable machine-readable code (see the table in the API description).
    pub code: String,
    /// What is wrong and what to do about it.
    pub message: String,
    /// The request's id, also in the `x-request-id` response header.
    pub request_id: String,
    /// The request field at fault, as a path (`properties.acsk.zoneId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A failed request.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_field",
            message: format!("{field}: {}", message.into()),
            field: Some(field),
        }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_body", message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn busy(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "cluster_busy", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// A cloud failure while serving a request (not inside an operation).
    pub fn cloud(e: cloud::Error) -> Self {
        use cloud::Error as E;
        match e {
            E::Unavailable(m) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "cloud_unavailable",
                format!("the cloud is unavailable, retry later: {m}"),
            ),
            E::Denied(m) => Self::new(
                StatusCode::BAD_REQUEST,
                "credentials_rejected",
                format!("the cloud refused the secret's access key: {m}"),
            ),
            other => Self::new(StatusCode::BAD_GATEWAY, "cloud_error", other.to_string()),
        }
    }
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::NotFound { what } => ApiError::not_found(what),
            store::Error::Conflict { what } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", what)
            }
            store::Error::Invalid { field, why } => ApiError::invalid(field, why),
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::internal(format!("the server's database failed: {other}"))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.to_owned(),
            message: self.message,
            request_id: request_id(),
            field: self.field,
        };
        (self.status, Json(body)).into_response()
    }
}
