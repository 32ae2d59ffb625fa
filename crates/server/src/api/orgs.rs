//! Organisations, their users, and the caller's API tokens.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};
use crate::request::{AddUserRequest, CreateOrgRequest, CreateTokenRequest, parse_body};
use crate::service;
use crate::state::AppState;
use crate::views::{OrgView, TokenCreated, TokenView, UserAdded};

/// The organisations you belong to, with your role in each.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs",
    responses((status = 200, body = Vec<OrgView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_orgs(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<OrgView>>> {
    Ok(Json(service::list_orgs(&app, &caller).await?))
}

/// Creates an organisation; you become its admin.
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = CreateOrgRequest,
    responses((status = 201, body = OrgView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_org(
    State(app): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    let req: CreateOrgRequest = parse_body(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(service::create_org(&app, &caller, req).await?),
    ))
}

/// One organisation you belong to.
#[utoipa::path(get, path = "/api/v1/orgs/{orgId}", tag = "orgs",
    params(("orgId" = i64, Path, description = "organisation id")),
    responses((status = 200, body = OrgView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_org(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<Json<OrgView>> {
    Ok(Json(service::get_org(&app, &caller, &org).await?))
}

/// Adds a user with a role (admin only) and returns their first token, shown once.
#[utoipa::path(post, path = "/api/v1/orgs/{orgId}/users", tag = "orgs", request_body = AddUserRequest,
    params(("orgId" = i64, Path, description = "organisation id")),
    responses((status = 201, body = UserAdded), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_user(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<UserAdded>)> {
    let req: AddUserRequest = parse_body(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(service::add_user(&app, &caller, &org, req).await?),
    ))
}

/// Your tokens (never their values).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_tokens(
    State(app): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<TokenView>>> {
    Ok(Json(service::list_tokens(&app, &caller).await?))
}

/// Creates a token for you; its value is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = TokenCreated), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_token(
    State(app): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let req: CreateTokenRequest = parse_body(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(service::create_token(&app, &caller, req).await?),
    ))
}

/// Revokes one of your tokens; it is refused from then on.
#[utoipa::path(delete, path = "/api/v1/tokens/{tokenId}", tag = "tokens",
    params(("tokenId" = i64, Path, description = "token id")),
    responses((status = 200, body = TokenView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_token(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenView>> {
    Ok(Json(service::revoke_token(&app, &caller, &id).await?))
}
