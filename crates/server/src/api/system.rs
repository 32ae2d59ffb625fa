//! Health, metrics and the API description; no authentication.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::state::AppState;

/// 200 when the database answers.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, body = String), (status = 503, body = String)))]
pub async fn healthz(State(app): State<AppState>) -> impl IntoResponse {
    match app.store.is_empty().await {
        Ok(_) => (StatusCode::OK, "ok".to_owned()),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database unavailable: {e}"),
        ),
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

/// This API's OpenAPI description (the committed `openapi.json`).
#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document(),
    )
}
