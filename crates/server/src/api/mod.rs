//! The HTTP surface: routes, the request-id and metrics middleware, and thin handlers that
//! parse and call [`crate::service`].
//!
//! ```text
//!  request ─▶ request id (header + task-local) ─▶ route ─▶ metrics ─▶ handler ─▶ service
//! ```

mod clusters;
mod orgs;
mod secrets;
mod system;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult, REQUEST_ID};
use crate::state::AppState;

pub use clusters::*;
pub use orgs::*;
pub use secrets::*;
pub use system::*;

/// Parses a query string, naming the parameter at fault.
pub(crate) fn query<T: DeserializeOwned + Default>(raw: Option<String>) -> ApiResult<T> {
    match raw {
        None => Ok(T::default()),
        Some(q) => serde_urlencoded::from_str(&q)
            .map_err(|e| ApiError::invalid("query", format!("bad query string: {e}"))),
    }
}

/// The API's routes over `state`.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/orgs", get(list_orgs).post(create_org))
        .route("/api/v1/orgs/{orgId}", get(get_org))
        .route("/api/v1/orgs/{orgId}/users", post(add_user))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{tokenId}", delete(revoke_token))
        .route(
            "/api/v1/orgs/{orgId}/secrets",
            get(list_secrets).post(create_secret),
        )
        .route(
            "/api/v1/orgs/{orgId}/secrets/{secretId}",
            get(get_secret).delete(delete_secret),
        )
        .route(
            "/api/v1/orgs/{orgId}/clusters",
            get(list_clusters).post(create_cluster),
        )
        .route(
            "/api/v1/orgs/{orgId}/clusters/{clusterId}",
            get(get_cluster).delete(delete_cluster),
        )
        .route(
            "/api/v1/orgs/{orgId}/clusters/{clusterId}/config",
            get(get_config),
        )
        .route(
            "/api/v1/orgs/{orgId}/clusters/{clusterId}/nodepools",
            get(list_node_pools).post(add_node_pool),
        )
        .route(
            "/api/v1/orgs/{orgId}/clusters/{clusterId}/nodepools/{name}",
            axum::routing::put(update_node_pool).delete(delete_node_pool),
        )
        .route(
            "/api/v1/orgs/{orgId}/clusters/{clusterId}/events",
            get(list_events),
        )
        .route(
            "/api/v1/orgs/{orgId}/clusters/{clusterId}/operations",
            get(list_operations),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .route_layer(middleware::from_fn_with_state(state.clone(), record))
        .fallback(not_found);
    api.layer(middleware::from_fn(request_id)).with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!("route {} {}", req.method(), req.uri().path()))
}

/// Gives every request an id (the caller's `x-request-id` if sane, else a fresh one), in the
/// response header and, through a task-local, in error bodies.
async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()));
    let mut response = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    state.metrics.record_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response.into_response()
}
