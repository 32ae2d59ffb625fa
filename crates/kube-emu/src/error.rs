//! API errors and their wire form, the `meta.k8s.io/v1` `Status` object.
//!
//! Every failure a client can see is one of these reasons; each maps to the HTTP code and the
//! message text the real kube-apiserver uses, because clients branch on `reason` and `code`
//! (kube-rs `is_not_found`, kubectl's apply retry on 409, drain's retry on 429).

use serde_json::{Value, json};

/// Why an API request failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// 404: the object (or the namespace it would live in) does not exist.
    #[error("{qualified} \"{name}\" not found")]
    NotFound {
        group: String,
        resource: String,
        qualified: String,
        name: String,
    },
    /// 404: the URL names no resource this server serves.
    #[error("the server could not find the requested resource")]
    UnknownResource,
    /// 409: create of a name already taken.
    #[error("{qualified} \"{name}\" already exists")]
    AlreadyExists {
        group: String,
        resource: String,
        qualified: String,
        name: String,
    },
    /// 409: a stale resourceVersion or a failed precondition.
    #[error("Operation cannot be fulfilled on {qualified} \"{name}\": {reason}")]
    Conflict {
        group: String,
        resource: String,
        qualified: String,
        name: String,
        reason: String,
    },
    /// 422: the object fails validation; `causes` are (field, reason, message).
    #[error("{kind} \"{name}\" is invalid: {summary}")]
    Invalid {
        group: String,
        kind: String,
        name: String,
        summary: String,
        causes: Vec<(String, String, String)>,
    },
    /// 400: malformed input (JSON, selectors, namespace mismatch, bad patch documents).
    #[error("{0}")]
    BadRequest(String),
    /// 403: for example creating in a terminating namespace.
    #[error("{0}")]
    Forbidden(String),
    /// 405.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 410: a resourceVersion or continue token older than the retained history.
    #[error("{0}")]
    Expired(String),
    /// 415: a patch content type the server does not understand.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429: eviction blocked by a PodDisruptionBudget (the only source today).
    #[error("{message}")]
    TooManyRequests { message: String, cause: String },
    /// 401: no or wrong bearer token.
    #[error("Unauthorized")]
    Unauthorized,
    /// 500: a server-side invariant broke; reported, never a panic.
    #[error("{0}")]
    Internal(String),
}

/// The result of an API operation.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The HTTP status code of this error.
    pub fn code(&self) -> u16 {
        match self {
            Error::NotFound { .. } | Error::UnknownResource => 404,
            Error::AlreadyExists { .. } | Error::Conflict { .. } => 409,
            Error::Invalid { .. } => 422,
            Error::BadRequest(_) => 400,
            Error::Forbidden(_) => 403,
            Error::MethodNotAllowed(_) => 405,
            Error::Expired(_) => 410,
            Error::UnsupportedMediaType(_) => 415,
            Error::TooManyRequests { .. } => 429,
            Error::Unauthorized => 401,
            Error::Internal(_) => 500,
        }
    }

    /// The machine-readable `reason` of the Status.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::NotFound { .. } | Error::UnknownResource => "NotFound",
            Error::AlreadyExists { .. } => "AlreadyExists",
            Error::Conflict { .. } => "Conflict",
            Error::Invalid { .. } => "Invalid",
            Error::BadRequest(_) => "BadRequest",
            Error::Forbidden(_) => "Forbidden",
            Error::MethodNotAllowed(_) => "MethodNotAllowed",
            Error::Expired(_) => "Expired",
            Error::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Error::TooManyRequests { .. } => "TooManyRequests",
            Error::Unauthorized => "Unauthorized",
            Error::Internal(_) => "InternalError",
        }
    }

    /// True for a 404 of an object (not of an unknown URL).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// The `Status` object a client receives.
    pub fn to_status(&self) -> Value {
        let details = match self {
            Error::NotFound {
                group,
                resource,
                name,
                ..
            }
            | Error::AlreadyExists {
                group,
                resource,
                name,
                ..
            }
            | Error::Conflict {
                group,
                resource,
                name,
                ..
            } => {
                json!({"name": name, "group": group, "kind": resource})
            }
            Error::Invalid {
                group,
                kind,
                name,
                causes,
                ..
            } => json!({
                "name": name, "group": group, "kind": kind,
                "causes": causes.iter().map(|(field, reason, message)|
                    json!({"reason": reason, "message": message, "field": field})).collect::<Vec<_>>(),
            }),
            Error::TooManyRequests { cause, .. } => {
                json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]})
            }
            Error::UnknownResource => json!({}),
            _ => Value::Null,
        };
        let mut status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.to_string(), "reason": self.reason(), "code": self.code(),
        });
        if !details.is_null() {
            status["details"] = details;
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_not_found_status_names_the_plural_resource_like_the_real_server() {
        let e = Error::NotFound {
            group: String::new(),
            resource: "pods".into(),
            qualified: "pods".into(),
            name: "web".into(),
        };
        let s = e.to_status();
        assert_eq!(s["message"], "pods \"web\" not found");
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["code"], 404);
        assert_eq!(s["details"]["kind"], "pods");
    }

    #[test]
    fn an_eviction_refusal_carries_a_disruption_budget_cause() {
        let e = Error::TooManyRequests {
            message: "no".into(),
            cause: "budget".into(),
        };
        assert_eq!(
            e.to_status()["details"]["causes"][0]["reason"],
            "DisruptionBudget"
        );
        assert_eq!(e.code(), 429);
    }
}
