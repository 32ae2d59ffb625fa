//! The steps of each operation kind. A step reads the operation's state and the cluster row,
//! makes at most one changing cloud call, and says where to go next; the worker persists that
//! before the next step runs.
//!
//! ```text
//!  create-cluster:   create ─▶ wait-running ─▶ record-node-pools ─▶ done (RUNNING)
//!                      └───────────┴── failure ─▶ cleanup ─▶ cleanup-wait ─▶ failed (ERROR)
//!  delete-cluster:   delete ─▶ wait-deleted ─▶ finish (DELETED)
//!  add-node-pool:    create ─▶ wait-ready
//!  update-node-pool: resize ─▶ wait-ready
//!  delete-node-pool: delete ─▶ wait-gone
//! ```

use std::sync::Arc;

use cloud::clusters::{ClusterState, Clusters, PoolSize};
use store::{Cluster, ClusterId, ClusterStatus, NewEvent, Operation};

use super::{
    ADD_NODE_POOL, CREATE_CLUSTER, DELETE_CLUSTER, DELETE_NODE_POOL, OpState, UPDATE_NODE_POOL,
};
use crate::request::{StoredCluster, StoredPool, cluster_spec};
use crate::state::AppState;

/// Where an operation goes after a step.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Persist and go on to this step.
    Step(&'static str),
    /// Not there yet: wait and run the same step again.
    Poll,
    /// Finished well.
    Done,
    /// Finished badly; the cluster's status already says why.
    Fail(String),
}

/// A step that could not complete.
#[derive(Debug)]
pub enum StepError {
    /// Retry later (throttling, a network blip, a database hiccup).
    Transient(String),
    /// Retrying will not help.
    Permanent(String),
}

impl From<cloud::Error> for StepError {
    fn from(e: cloud::Error) -> Self {
        match e {
            cloud::Error::Unavailable(m) => StepError::Transient(m),
            cloud::Error::Other(m) => StepError::Transient(m),
            other => StepError::Permanent(other.to_string()),
        }
    }
}

impl From<store::Error> for StepError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::Database(_) | store::Error::Conflict { .. } => {
                StepError::Transient(e.to_string())
            }
            other => StepError::Permanent(other.to_string()),
        }
    }
}

pub type StepResult = Result<Next, StepError>;

/// Reads, changes and writes a cluster row, retrying when someone else wrote it in between.
pub async fn mutate_cluster(
    app: &AppState,
    id: ClusterId,
    mut change: impl FnMut(&mut Cluster),
) -> Result<Cluster, store::Error> {
    let mut tries = 0;
    loop {
        let mut c = app.store.get_cluster_unscoped(id).await?;
        change(&mut c);
        match app.store.update_cluster(&c, app.now()).await {
            Err(store::Error::Conflict { .. }) if tries < 8 => tries += 1,
            other => return other,
        }
    }
}

/// Sets status and message, unless the cluster is being deleted (a delete outranks anything
/// an older operation has to say).
pub async fn set_status(
    app: &AppState,
    id: ClusterId,
    status: ClusterStatus,
    message: impl Into<String>,
) -> Result<Cluster, store::Error> {
    let message = message.into();
    mutate_cluster(app, id, |c| {
        if !matches!(c.status, ClusterStatus::Deleting | ClusterStatus::Deleted) {
            c.status = status;
            c.status_message = message.clone();
        }
    })
    .await
}

pub async fn event(
    app: &AppState,
    op: &Operation,
    kind: &str,
    message: String,
    data: serde_json::Value,
) {
    let Some(cluster) = op.cluster_id else { return };
    let new = NewEvent {
        kind: kind.to_owned(),
        message,
        operation_id: Some(op.id),
        data,
    };
    if let Err(e) = app.store.append_event(cluster, new, app.now()).await {
        tracing::warn!(error = %e, "could not append a cluster event");
    }
}

/// What a step works with.
pub struct Ctx<'a> {
    pub app: &'a AppState,
    pub op: &'a Operation,
    pub cluster: Cluster,
    pub clusters: Arc<dyn Clusters>,
}

impl Ctx<'_> {
    fn spec(&self) -> Result<StoredCluster, StepError> {
        serde_json::from_value(self.cluster.spec.clone()).map_err(|e| {
            StepError::Permanent(format!("the stored cluster spec is unreadable: {e}"))
        })
    }

    fn superseded(&self) -> bool {
        matches!(
            self.cluster.status,
            ClusterStatus::Deleting | ClusterStatus::Deleted
        ) && self.op.kind != DELETE_CLUSTER
    }

    fn cloud_id(&self, state: &OpState) -> Option<String> {
        state
            .cloud_cluster_id
            .clone()
            .or_else(|| self.cluster.cloud_cluster_id.clone())
    }

    async fn pools(&self) -> Result<Vec<(String, StoredPool, store::NodePool)>, StepError> {
        let rows = self.app.store.list_node_pools(self.cluster.id).await?;
        rows.into_iter()
            .map(|p| {
                let spec: StoredPool = serde_json::from_value(p.spec.clone()).map_err(|e| {
                    StepError::Permanent(format!("node pool {} spec is unreadable: {e}", p.name))
                })?;
                Ok((p.name.clone(), spec, p))
            })
            .collect()
    }
}

/// Runs the operation's current step.
pub async fn run_step(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    match (ctx.op.kind.as_str(), ctx.op.step.as_str()) {
        (CREATE_CLUSTER, "create") => create(ctx, state).await,
        (CREATE_CLUSTER, "wait-running") => wait_running(ctx, state).await,
        (CREATE_CLUSTER, "record-node-pools") => record_node_pools(ctx, state).await,
        (CREATE_CLUSTER, "cleanup") => cleanup(ctx, state).await,
        (CREATE_CLUSTER, "cleanup-wait") => cleanup_wait(ctx, state).await,
        (DELETE_CLUSTER, "delete") => delete(ctx, state).await,
        (DELETE_CLUSTER, "wait-deleted") => wait_deleted(ctx, state).await,
        (DELETE_CLUSTER, "finish") => finish_delete(ctx).await,
        (ADD_NODE_POOL, "create") => add_pool(ctx, state).await,
        (UPDATE_NODE_POOL, "resize") => resize_pool(ctx, state).await,
        (ADD_NODE_POOL | UPDATE_NODE_POOL, "wait-ready") => wait_pool_ready(ctx, state).await,
        (DELETE_NODE_POOL, "delete") => delete_pool(ctx, state).await,
        (DELETE_NODE_POOL, "wait-gone") => wait_pool_gone(ctx, state).await,
        (kind, step) => Err(StepError::Permanent(format!(
            "this server does not know step {step:?} of {kind:?} operations"
        ))),
    }
}

/// Where a create goes when it cannot succeed: clean up what it may have made, unless asked
/// to keep it. Other kinds just fail.
pub fn after_failure(kind: &str, step: &str, state: &OpState) -> Option<&'static str> {
    let may_have_made_something = state.cloud_cluster_id.is_some() || step != "create";
    (kind == CREATE_CLUSTER
        && !state.keep_on_failure
        && may_have_made_something
        && !matches!(step, "cleanup" | "cleanup-wait"))
    .then_some("cleanup")
}

/// What the cluster row says when an operation gives up.
pub async fn on_failure(app: &AppState, op: &Operation, state: &OpState, message: &str) {
    let Some(id) = op.cluster_id else { return };
    let result = match op.kind.as_str() {
        CREATE_CLUSTER => {
            let text = match (&state.cloud_cluster_id, state.keep_on_failure) {
                (Some(cloud), true) => format!(
                    "creation failed: {message}; cloud cluster {cloud} was kept for inspection (keepOnFailure); delete the cluster to remove it"
                ),
                (_, false) if state.failure.is_some() || state.cloud_cluster_id.is_some() => {
                    format!(
                        "creation failed: {message}; what it had created in the cloud was deleted"
                    )
                }
                _ => format!("creation failed: {message}"),
            };
            set_status(app, id, ClusterStatus::Error, text).await
        }
        DELETE_CLUSTER => {
            mutate_cluster(app, id, |c| {
                c.status = ClusterStatus::Error;
                c.status_message =
                    format!("deletion failed: {message}; retry with DELETE …/clusters/{id}");
            })
            .await
        }
        _ => {
            if let Some(pool) = &state.pool
                && let Ok(mut row) = app.store.get_node_pool(id, pool).await
            {
                row.status = ClusterStatus::Error;
                let _ = app.store.update_node_pool(&row, app.now()).await;
            }
            set_status(
                app,
                id,
                ClusterStatus::Warning,
                format!(
                    "{} of node pool {} failed: {message}",
                    op.kind,
                    state.pool.as_deref().unwrap_or("?")
                ),
            )
            .await
        }
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, operation = op.id.0, "could not record an operation's failure");
    }
}

async fn create(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    if ctx.superseded() {
        return Ok(Next::Fail("superseded by a delete".to_owned()));
    }
    let token = state
        .client_token
        .clone()
        .ok_or_else(|| StepError::Permanent("the operation has no client token".to_owned()))?;
    let id = match ctx.cloud_id(state) {
        Some(id) => id,
        None => match ctx.clusters.find_cluster(&ctx.cluster.name, &token).await? {
            // A previous attempt got as far as the cloud: adopt its cluster.
            Some(found) => found.id,
            None => {
                let spec = ctx.spec()?;
                let pools: Vec<(String, StoredPool)> = ctx
                    .pools()
                    .await?
                    .into_iter()
                    .map(|(n, s, _)| (n, s))
                    .collect();
                let spec = cluster_spec(&ctx.cluster.name, &spec, &pools);
                ctx.clusters.create_cluster(&spec, &token).await?
            }
        },
    };
    state.cloud_cluster_id = Some(id.clone());
    let cloud_id = id.clone();
    mutate_cluster(ctx.app, ctx.cluster.id, |c| {
        c.cloud_cluster_id = Some(cloud_id.clone());
        if c.status == ClusterStatus::Creating {
            c.status_message = format!("the cloud is creating cluster {cloud_id}");
        }
    })
    .await?;
    event(
        ctx.app,
        ctx.op,
        "cloud-cluster-created",
        format!("the cloud accepted the create: cluster {id}"),
        serde_json::json!({ "cloudClusterId": id }),
    )
    .await;
    Ok(Next::Step("wait-running"))
}

async fn wait_running(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    if ctx.superseded() {
        return Ok(Next::Fail("superseded by a delete".to_owned()));
    }
    let id = ctx
        .cloud_id(state)
        .ok_or_else(|| StepError::Permanent("no cloud cluster id to wait for".to_owned()))?;
    match ctx.clusters.describe_cluster(&id).await {
        Ok(info) => match info.state {
            ClusterState::Running => Ok(Next::Step("record-node-pools")),
            ClusterState::Provisioning => Ok(Next::Poll),
            ClusterState::Failed(m) => Err(StepError::Permanent(m)),
            ClusterState::Deleting => Err(StepError::Permanent(
                "the cloud is deleting the cluster".to_owned(),
            )),
        },
        Err(cloud::Error::NotFound(_)) => Err(StepError::Permanent(format!(
            "cloud cluster {id} disappeared while it was being created"
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn record_node_pools(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    let id = ctx
        .cloud_id(state)
        .ok_or_else(|| StepError::Permanent("no cloud cluster id".to_owned()))?;
    let cloud_pools = ctx.clusters.node_pools(&id).await?;
    for (name, _, mut row) in ctx.pools().await? {
        if let Some(found) = cloud_pools.iter().find(|p| p.name == name) {
            row.cloud_ids
                .insert("nodePoolId".to_owned(), found.id.clone());
        }
        row.status = ClusterStatus::Running;
        ctx.app.store.update_node_pool(&row, ctx.app.now()).await?;
    }
    set_status(
        ctx.app,
        ctx.cluster.id,
        ClusterStatus::Running,
        "cluster is running",
    )
    .await?;
    event(
        ctx.app,
        ctx.op,
        "cluster-running",
        format!("cluster {id} is running"),
        serde_json::json!({ "cloudClusterId": id }),
    )
    .await;
    Ok(Next::Done)
}

async fn cleanup(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    let id = match ctx.cloud_id(state) {
        Some(id) => Some(id),
        None => match &state.client_token {
            Some(token) => ctx
                .clusters
                .find_cluster(&ctx.cluster.name, token)
                .await?
                .map(|c| c.id),
            None => None,
        },
    };
    if let Some(id) = id {
        ctx.clusters.delete_cluster(&id).await?;
        state.cloud_cluster_id = Some(id.clone());
        event(
            ctx.app,
            ctx.op,
            "cleanup",
            format!("deleting cloud cluster {id} after the failed create"),
            serde_json::json!({ "cloudClusterId": id }),
        )
        .await;
    }
    Ok(Next::Step("cleanup-wait"))
}

async fn cleanup_wait(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    let failure = state
        .failure
        .clone()
        .unwrap_or_else(|| "unknown failure".to_owned());
    if let Some(id) = ctx.cloud_id(state) {
        match ctx.clusters.describe_cluster(&id).await {
            Ok(_) => return Ok(Next::Poll),
            Err(cloud::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Next::Fail(failure))
}

async fn delete(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    let token = ctx.cluster.cloud_ids.get("clientToken").cloned();
    let id = match ctx.cloud_id(state) {
        Some(id) => Some(id),
        // A create that never recorded its id may still have made a cluster: find it by token.
        None => match token {
            Some(token) => ctx
                .clusters
                .find_cluster(&ctx.cluster.name, &token)
                .await?
                .map(|c| c.id),
            None => None,
        },
    };
    let Some(id) = id else {
        return Ok(Next::Step("finish"));
    };
    ctx.clusters.delete_cluster(&id).await?;
    state.cloud_cluster_id = Some(id.clone());
    event(
        ctx.app,
        ctx.op,
        "cloud-delete-started",
        format!("the cloud is deleting cluster {id}"),
        serde_json::json!({ "cloudClusterId": id }),
    )
    .await;
    Ok(Next::Step("wait-deleted"))
}

async fn wait_deleted(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    let Some(id) = ctx.cloud_id(state) else {
        return Ok(Next::Step("finish"));
    };
    match ctx.clusters.describe_cluster(&id).await {
        Ok(_) => Ok(Next::Poll),
        Err(cloud::Error::NotFound(_)) => Ok(Next::Step("finish")),
        Err(e) => Err(e.into()),
    }
}

async fn finish_delete(ctx: &Ctx<'_>) -> StepResult {
    for (_, _, mut row) in ctx.pools().await? {
        if row.status != ClusterStatus::Deleted {
            row.status = ClusterStatus::Deleted;
            ctx.app.store.update_node_pool(&row, ctx.app.now()).await?;
        }
    }
    mutate_cluster(ctx.app, ctx.cluster.id, |c| {
        c.status = ClusterStatus::Deleted;
        c.status_message = "deleted".to_owned();
    })
    .await?;
    event(
        ctx.app,
        ctx.op,
        "cluster-deleted",
        "the cluster and everything it made are deleted".to_owned(),
        serde_json::Value::Null,
    )
    .await;
    Ok(Next::Done)
}

fn pool_name(state: &OpState) -> Result<String, StepError> {
    state
        .pool
        .clone()
        .ok_or_else(|| StepError::Permanent("the operation names no node pool".to_owned()))
}

fn cluster_cloud_id(ctx: &Ctx<'_>) -> Result<String, StepError> {
    ctx.cluster.cloud_cluster_id.clone().ok_or_else(|| {
        StepError::Permanent("the cluster has no cloud id: it was never created".to_owned())
    })
}

async fn add_pool(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    if ctx.superseded() {
        return Ok(Next::Fail("superseded by a delete".to_owned()));
    }
    let name = pool_name(state)?;
    let cluster = cluster_cloud_id(ctx)?;
    let mut row = ctx.app.store.get_node_pool(ctx.cluster.id, &name).await?;
    let spec: StoredPool = serde_json::from_value(row.spec.clone())
        .map_err(|e| StepError::Permanent(format!("node pool spec unreadable: {e}")))?;
    let id = ctx
        .clusters
        .add_node_pool(&cluster, &crate::request::pool_spec(&name, &spec))
        .await?;
    state.cloud_pool_id = Some(id.clone());
    row.cloud_ids.insert("nodePoolId".to_owned(), id.clone());
    ctx.app.store.update_node_pool(&row, ctx.app.now()).await?;
    event(
        ctx.app,
        ctx.op,
        "node-pool-created",
        format!("the cloud is creating node pool {name} ({id})"),
        serde_json::json!({ "nodePoolId": id }),
    )
    .await;
    Ok(Next::Step("wait-ready"))
}

async fn pool_cloud_id(
    ctx: &Ctx<'_>,
    state: &OpState,
    name: &str,
) -> Result<Option<String>, StepError> {
    if let Some(id) = &state.cloud_pool_id {
        return Ok(Some(id.clone()));
    }
    let row = ctx.app.store.get_node_pool(ctx.cluster.id, name).await?;
    Ok(row.cloud_ids.get("nodePoolId").cloned())
}

async fn resize_pool(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    if ctx.superseded() {
        return Ok(Next::Fail("superseded by a delete".to_owned()));
    }
    let name = pool_name(state)?;
    let cluster = cluster_cloud_id(ctx)?;
    let id = pool_cloud_id(ctx, state, &name)
        .await?
        .ok_or_else(|| StepError::Permanent(format!("node pool {name} has no cloud id")))?;
    let size = state.size.unwrap_or_default();
    ctx.clusters
        .resize_node_pool(
            &cluster,
            &id,
            PoolSize {
                count: size.count,
                min_count: size.min_count,
                max_count: size.max_count,
            },
        )
        .await?;
    state.cloud_pool_id = Some(id);
    Ok(Next::Step("wait-ready"))
}

async fn wait_pool_ready(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    if ctx.superseded() {
        return Ok(Next::Fail("superseded by a delete".to_owned()));
    }
    let name = pool_name(state)?;
    let cluster = cluster_cloud_id(ctx)?;
    let id = pool_cloud_id(ctx, state, &name)
        .await?
        .ok_or_else(|| StepError::Permanent(format!("node pool {name} has no cloud id")))?;
    let pools = ctx.clusters.node_pools(&cluster).await?;
    let Some(pool) = pools.iter().find(|p| p.id == id) else {
        return Err(StepError::Permanent(format!(
            "node pool {name} ({id}) disappeared from the cloud"
        )));
    };
    if !pool.settled || pool.total_nodes != pool.desired {
        return Ok(Next::Poll);
    }
    let mut row = ctx.app.store.get_node_pool(ctx.cluster.id, &name).await?;
    row.status = ClusterStatus::Running;
    ctx.app.store.update_node_pool(&row, ctx.app.now()).await?;
    set_status(
        ctx.app,
        ctx.cluster.id,
        ClusterStatus::Running,
        "cluster is running",
    )
    .await?;
    event(
        ctx.app,
        ctx.op,
        "node-pool-ready",
        format!("node pool {name} has {} nodes", pool.total_nodes),
        serde_json::json!({ "nodePoolId": id, "nodes": pool.total_nodes }),
    )
    .await;
    Ok(Next::Done)
}

async fn delete_pool(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    let name = pool_name(state)?;
    let cluster = cluster_cloud_id(ctx)?;
    if let Some(id) = pool_cloud_id(ctx, state, &name).await? {
        ctx.clusters.delete_node_pool(&cluster, &id).await?;
        state.cloud_pool_id = Some(id);
    }
    Ok(Next::Step("wait-gone"))
}

async fn wait_pool_gone(ctx: &Ctx<'_>, state: &mut OpState) -> StepResult {
    let name = pool_name(state)?;
    let cluster = cluster_cloud_id(ctx)?;
    if let Some(id) = &state.cloud_pool_id {
        let pools = ctx.clusters.node_pools(&cluster).await?;
        if pools.iter().any(|p| &p.id == id) {
            return Ok(Next::Poll);
        }
    }
    match ctx.app.store.get_node_pool(ctx.cluster.id, &name).await {
        Ok(row) => {
            ctx.app
                .store
                .delete_node_pool(ctx.cluster.id, &name, row.revision)
                .await?
        }
        Err(store::Error::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    set_status(
        ctx.app,
        ctx.cluster.id,
        ClusterStatus::Running,
        "cluster is running",
    )
    .await?;
    event(
        ctx.app,
        ctx.op,
        "node-pool-deleted",
        format!("node pool {name} is deleted"),
        serde_json::Value::Null,
    )
    .await;
    Ok(Next::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_create_cleans_up_unless_asked_to_keep() {
        let made = OpState {
            cloud_cluster_id: Some("c1".into()),
            ..OpState::default()
        };
        assert_eq!(
            after_failure(CREATE_CLUSTER, "wait-running", &made),
            Some("cleanup")
        );
        let kept = OpState {
            keep_on_failure: true,
            ..made.clone()
        };
        assert_eq!(after_failure(CREATE_CLUSTER, "wait-running", &kept), None);
    }

    #[test]
    fn a_create_refused_before_the_cloud_made_anything_has_nothing_to_clean() {
        assert_eq!(
            after_failure(CREATE_CLUSTER, "create", &OpState::default()),
            None
        );
    }

    #[test]
    fn cleanup_failing_does_not_loop_back_into_cleanup() {
        let made = OpState {
            cloud_cluster_id: Some("c1".into()),
            ..OpState::default()
        };
        assert_eq!(after_failure(CREATE_CLUSTER, "cleanup-wait", &made), None);
        assert_eq!(after_failure(DELETE_CLUSTER, "delete", &made), None);
    }
}
