//! Clusters and their node pools, kubeconfigs, events and operations.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::query;
use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};
use crate::request::{
    CreateClusterRequest, CreateNodePoolRequest, UpdateNodePoolRequest, parse_body,
};
use crate::service;
use crate::state::AppState;
use crate::views::{
    Accepted, ClusterList, ClusterView, ConfigResponse, EventView, NodePoolView, OperationView,
};

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
struct DeleteQuery {
    force: Option<bool>,
}

/// Starts creating a cluster (Pipeline's request: `cloud: alibaba`, `properties.acsk` or
/// `properties.ack`). Answers 202 at once; follow `status` or the operation.
#[utoipa::path(post, path = "/api/v1/orgs/{orgId}/clusters", tag = "clusters",
    request_body = CreateClusterRequest,
    params(("orgId" = i64, Path, description = "organisation id")),
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_cluster(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let req: CreateClusterRequest = parse_body(&body)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::create_cluster(&app, &caller, &org, req).await?),
    ))
}

/// The organisation's clusters (deleted ones left out), by id, a page at a time.
#[utoipa::path(get, path = "/api/v1/orgs/{orgId}/clusters", tag = "clusters",
    params(("orgId" = i64, Path, description = "organisation id"),
           ("after" = Option<i64>, Query, description = "the `next` of the previous page"),
           ("limit" = Option<u32>, Query, description = "page size, at most 1000 (default 100)")),
    responses((status = 200, body = ClusterList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_clusters(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<ClusterList>> {
    let q: PageQuery = query(raw)?;
    Ok(Json(
        service::list_clusters(&app, &caller, &org, q.after, q.limit).await?,
    ))
}

/// One cluster with its status, status message and node pools.
#[utoipa::path(get, path = "/api/v1/orgs/{orgId}/clusters/{clusterId}", tag = "clusters",
    params(("orgId" = i64, Path, description = "organisation id"), ("clusterId" = i64, Path, description = "cluster id")),
    responses((status = 200, body = ClusterView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_cluster(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<ClusterView>> {
    Ok(Json(service::get_cluster(&app, &caller, &org, &id).await?))
}

/// Starts deleting a cluster and everything it made. 409 while it is being created unless
/// `?force=true`.
#[utoipa::path(delete, path = "/api/v1/orgs/{orgId}/clusters/{clusterId}", tag = "clusters",
    params(("orgId" = i64, Path, description = "organisation id"), ("clusterId" = i64, Path, description = "cluster id"),
           ("force" = Option<bool>, Query, description = "delete even while it is being created")),
    responses((status = 202, body = Accepted), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_cluster(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let q: DeleteQuery = query(raw)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::delete_cluster(&app, &caller, &org, &id, q.force.unwrap_or(false)).await?),
    ))
}

/// The cluster's kubeconfig (admins only): YAML as text, or Pipeline's `{status, data}` when the
/// client accepts only JSON.
#[utoipa::path(get, path = "/api/v1/orgs/{orgId}/clusters/{clusterId}/config", tag = "clusters",
    params(("orgId" = i64, Path, description = "organisation id"), ("clusterId" = i64, Path, description = "cluster id")),
    responses((status = 200, content_type = "text/plain", body = String),
              (status = 200, content_type = "application/json", body = ConfigResponse),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_config(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let config = service::kubeconfig(&app, &caller, &org, &id).await?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Like Pipeline (gin's NegotiateFormat(text/plain, json)): curl's `*/*` gets the plain
    // document, ready to save as a kubeconfig file.
    if accept.contains("application/json") && !accept.contains("text/plain") {
        return Ok(Json(ConfigResponse {
            status: 200,
            data: config,
        })
        .into_response());
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        config,
    )
        .into_response())
}

/// The cluster's node pools.
#[utoipa::path(get, path = "/api/v1/orgs/{orgId}/clusters/{clusterId}/nodepools", tag = "node pools",
    params(("orgId" = i64, Path, description = "organisation id"), ("clusterId" = i64, Path, description = "cluster id")),
    responses((status = 200, body = Vec<NodePoolView>), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_node_pools(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<NodePoolView>>> {
    let cluster = service::get_cluster(&app, &caller, &org, &id).await?;
    Ok(Json(cluster.node_pools.into_values().collect()))
}

/// Adds a node pool to a running cluster.
#[utoipa::path(post, path = "/api/v1/orgs/{orgId}/clusters/{clusterId}/nodepools", tag = "node pools",
    request_body = CreateNodePoolRequest,
    params(("orgId" = i64, Path, description = "organisation id"), ("clusterId" = i64, Path, description = "cluster id")),
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_node_pool(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let req: CreateNodePoolRequest = parse_body(&body)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::add_node_pool(&app, &caller, &org, &id, req).await?),
    ))
}

/// Changes a node pool's count and autoscaling bounds.
#[utoipa::path(put, path = "/api/v1/orgs/{orgId}/clusters/{clusterId}/nodepools/{name}", tag = "node pools",
    request_body = UpdateNodePoolRequest,
    params(("orgId" = i64, Path, description = "organisation id"), ("clusterId" = i64, Path, description = "cluster id"),
           ("name" = String, Path, description = "node pool name")),
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_node_pool(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id, name)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let req: UpdateNodePoolRequest = parse_body(&body)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::update_node_pool(&app, &caller, &org, &id, &name, req).await?),
    ))
}

/// Deletes a node pool and its nodes.
#[utoipa::path(delete, path = "/api/v1/orgs/{orgId}/clusters/{clusterId}/nodepools/{name}", tag = "node pools",
    params(("orgId" = i64, Path, description = "organisation id"), ("clusterId" = i64, Path, description = "cluster id"),
           ("name" = String, Path, description = "node pool name")),
    responses((status = 202, body = Accepted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_node_pool(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id, name)): Path<(String, String, String)>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(service::delete_node_pool(&app, &caller, &org, &id, &name).await?),
    ))
}

/// The cluster's event log, oldest first.
#[utoipa::path(get, path = "/api/v1/orgs/{orgId}/clusters/{clusterId}/events", tag = "clusters",
    params(("orgId" = i64, Path, description = "organisation id"), ("clusterId" = i64, Path, description = "cluster id"),
           ("after" = Option<i64>, Query, description = "only events after this id"),
           ("limit" = Option<u32>, Query, description = "at most this many (default and max 1000)")),
    responses((status = 200, body = Vec<EventView>), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_events(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Vec<EventView>>> {
    let q: PageQuery = query(raw)?;
    Ok(Json(
        service::events(&app, &caller, &org, &id, q.after, q.limit).await?,
    ))
}

/// The cluster's operations (create, delete, node-pool changes) with their steps and errors.
#[utoipa::path(get, path = "/api/v1/orgs/{orgId}/clusters/{clusterId}/operations", tag = "clusters",
    params(("orgId" = i64, Path, description = "organisation id"), ("clusterId" = i64, Path, description = "cluster id")),
    responses((status = 200, body = Vec<OperationView>), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_operations(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<OperationView>>> {
    Ok(Json(service::operations(&app, &caller, &org, &id).await?))
}
