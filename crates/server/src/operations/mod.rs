//! Durable operations: cluster create and delete and node-pool changes are rows in the
//! `operations` table, run step by step by a worker that leases them (ARCHITECTURE principle 5).
//!
//! ```text
//!  API ──enqueue──▶ operations row (pending, state: client token, cloud ids…)
//!                        │ claim_next (row lease)          ▲ save_progress after every step
//!                        ▼                                 │
//!                   worker ──▶ steps::run_step ──▶ cloud::Clusters (each call idempotent)
//! ```
//!
//! A step's cloud call is safe to repeat: the step that creates a cluster first looks for one
//! tagged with the operation's client token, node pools are found by name, deletes of what is
//! gone succeed. So a worker that dies anywhere (before the call, during it, after it but
//! before saving) leaves an operation whose lease expires and which another worker — or the
//! same server after a restart — finishes without duplicating or orphaning anything.
//! Operations of one cluster run one at a time, oldest first.

mod steps;
mod worker;

use serde::{Deserialize, Serialize};

pub use steps::set_status;
pub use worker::{CrashHook, WorkerOptions, run_worker};

pub const CREATE_CLUSTER: &str = "create-cluster";
pub const DELETE_CLUSTER: &str = "delete-cluster";
pub const ADD_NODE_POOL: &str = "add-node-pool";
pub const UPDATE_NODE_POOL: &str = "update-node-pool";
pub const DELETE_NODE_POOL: &str = "delete-node-pool";

/// The first step of each kind.
pub fn first_step(kind: &str) -> &'static str {
    match kind {
        CREATE_CLUSTER => "create",
        DELETE_CLUSTER => "delete",
        ADD_NODE_POOL => "create",
        UPDATE_NODE_POOL => "resize",
        _ => "delete",
    }
}

/// A node pool's new size, as an update asked for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SizeChange {
    pub count: Option<u32>,
    pub min_count: Option<u32>,
    pub max_count: Option<u32>,
}

/// What an operation remembers between steps (the `state` column).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpState {
    /// The idempotency token of the cloud create, chosen before the first call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Keep what a failed create made instead of deleting it.
    #[serde(default)]
    pub keep_on_failure: bool,
    /// The cloud's cluster id, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_cluster_id: Option<String>,
    /// The node pool a pool operation is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_pool_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<SizeChange>,
    /// Why a create failed, while it cleans up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Transient errors so far; past the worker's limit the operation fails.
    #[serde(default)]
    pub errors: u32,
}
