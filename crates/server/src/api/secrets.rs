//! Secrets: typed, validated, encrypted at rest; only admins read them, and values only when
//! asked for with `?values=true`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::query;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};
use crate::request::{CreateSecretRequest, parse_body};
use crate::service;
use crate::state::AppState;
use crate::views::SecretView;

#[derive(Debug, Default, Deserialize)]
struct CreateQuery {
    validate: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct ReadQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    values: Option<bool>,
}

/// Stores a secret. An `alibaba` secret's key is first checked with the cloud
/// (DescribeRegions) unless `?validate=false`.
#[utoipa::path(post, path = "/api/v1/orgs/{orgId}/secrets", tag = "secrets",
    request_body = CreateSecretRequest,
    params(("orgId" = i64, Path, description = "organisation id"),
           ("validate" = Option<bool>, Query, description = "check an alibaba key with the cloud first (default true)")),
    responses((status = 201, body = SecretView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_secret(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<SecretView>)> {
    let q: CreateQuery = query(raw)?;
    let req: CreateSecretRequest = parse_body(&body)?;
    let view = service::create_secret(&app, &caller, &org, req, q.validate.unwrap_or(true)).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The organisation's secrets (admins only).
#[utoipa::path(get, path = "/api/v1/orgs/{orgId}/secrets", tag = "secrets",
    params(("orgId" = i64, Path, description = "organisation id"),
           ("type" = Option<String>, Query, description = "only secrets of this type"),
           ("values" = Option<bool>, Query, description = "include the values")),
    responses((status = 200, body = Vec<SecretView>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_secrets(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Vec<SecretView>>> {
    let q: ReadQuery = query(raw)?;
    Ok(Json(
        service::list_secrets(
            &app,
            &caller,
            &org,
            q.kind.as_deref(),
            q.values.unwrap_or(false),
        )
        .await?,
    ))
}

/// One secret (admins only).
#[utoipa::path(get, path = "/api/v1/orgs/{orgId}/secrets/{secretId}", tag = "secrets",
    params(("orgId" = i64, Path, description = "organisation id"),
           ("secretId" = String, Path, description = "secret id"),
           ("values" = Option<bool>, Query, description = "include the values")),
    responses((status = 200, body = SecretView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_secret(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SecretView>> {
    let q: ReadQuery = query(raw)?;
    Ok(Json(
        service::get_secret(&app, &caller, &org, &id, q.values.unwrap_or(false)).await?,
    ))
}

/// Deletes a secret no live cluster uses.
#[utoipa::path(delete, path = "/api/v1/orgs/{orgId}/secrets/{secretId}", tag = "secrets",
    params(("orgId" = i64, Path, description = "organisation id"),
           ("secretId" = String, Path, description = "secret id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_secret(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    service::delete_secret(&app, &caller, &org, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
