//! Who is calling, and what their role lets them do. A bearer token names a user; the user's
//! membership names a role in each organisation: `admin` may do anything there, `member` may
//! read clusters, events and operations but never a secret or a kubeconfig (Pipeline's rule).
//! Someone else's organisation is answered with 404, so its ids reveal nothing.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use store::{OrgId, Role};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: store::User,
    pub token: store::ApiToken,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Caller> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "no Authorization header: send `Authorization: Bearer <token>`",
                )
            })?;
        let value = header
            .to_str()
            .map_err(|_| ApiError::unauthenticated("the Authorization header is not text"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthenticated("the Authorization header must be `Bearer <token>`")
            })?;
        let found = state.store.authenticate(token, state.now()).await?;
        let found = found
            .ok_or_else(|| ApiError::unauthenticated("the token is unknown, revoked or expired"))?;
        Ok(Caller {
            user: found.user,
            token: found.token,
        })
    }
}

impl Caller {
    /// The caller's role in `org`; 404 when they are not a member.
    pub async fn role_in(&self, state: &AppState, org: OrgId) -> ApiResult<Role> {
        match state.store.membership(org, self.user.id).await {
            Ok(m) => Ok(m.role),
            Err(store::Error::NotFound { .. }) => {
                Err(ApiError::not_found(format!("organization {org}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Succeeds for an admin of `org`; `what` says what was refused.
    pub async fn admin_of(&self, state: &AppState, org: OrgId, what: &str) -> ApiResult<()> {
        match self.role_in(state, org).await? {
            Role::Admin => Ok(()),
            Role::Member => Err(ApiError::forbidden(format!(
                "members of organization {org} cannot {what}; ask an admin"
            ))),
        }
    }
}
