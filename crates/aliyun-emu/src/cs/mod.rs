//! CS (Container Service for Kubernetes, ACK) 2015-12-15: clusters, node pools, nodes and tasks.
//!
//! ```text
//!   Cluster ── masters (dedicated `Kubernetes` only: 3 or 5 ECS instances)
//!      │
//!      └─ NodePool ──backed by──▶ ESS ScalingGroup ──▶ ECS instances = the pool's nodes
//!                                      ▲ ScaleClusterNodePool, ModifyClusterNodePool, or ESS directly
//!   Task: what a mutating call started; it succeeds or fails as the world settles.
//! ```
//!
//! CS is a ROA API: the method and path name the action, bodies are JSON with snake_case keys.
//! Nothing here runs on a timer: [`advance`] moves clusters and tasks along on the injected
//! clock before every CS call, the same way instance status is derived from age.
//!
//! The Kubernetes API of a cluster (kube-emu, see `crate::kube`) is served at
//! [`api_server_endpoint`]: the address is derived from the host the caller used, so it
//! survives restarts on another port; it is HTTPS, signed by the emulator's CA.

mod clusters;
mod lifecycle;
mod node_pools;
mod request;

pub(crate) use clusters::cluster_node_ids;
pub use clusters::node_name;
pub use lifecycle::advance;

use clusters::*;
use lifecycle::{launch_failure, pool_settled, set_state};
use node_pools::*;

use crate::catalog::{self, Region};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::reply::Reply;
use crate::world::{
    GroupState, InstanceStatus, LaunchSpec, ScalingConfiguration, ScalingGroup, Settings, World,
    format_seconds, new_id,
};
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The API version this module serves.
pub const VERSION: &str = "2015-12-15";

/// Kubernetes versions a cluster can be created with, newest first.
pub const KUBERNETES_VERSIONS: [&str; 3] =
    ["1.33.3-aliyun.1", "1.32.7-aliyun.1", "1.31.9-aliyun.1"];

/// The largest node pool ESS can back.
const MAX_POOL_SIZE: u32 = 2000;

/// Tag on every resource a cluster creates, naming the cluster (as ACK does).
pub const CLUSTER_TAG: &str = "ack.aliyun.com";
/// Tag on a node pool's scaling group and instances, naming the pool.
pub const NODEPOOL_TAG: &str = "ack.alibabacloud.com/nodepool-id";

/// The emulated ACK clusters, node pools and tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Clusters {
    /// Clusters by id.
    pub clusters: BTreeMap<String, Cluster>,
    /// Node pools by id.
    pub node_pools: BTreeMap<String, NodePool>,
    /// Tasks by id.
    pub tasks: BTreeMap<String, Task>,
}

/// `ManagedKubernetes` (control plane run by ACK) or `Kubernetes` (dedicated masters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClusterType {
    /// ACK managed.
    ManagedKubernetes,
    /// ACK dedicated: the user's ECS instances are the masters.
    Kubernetes,
}

/// Where a cluster is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClusterState {
    /// Being created.
    Initial,
    /// Serving.
    Running,
    /// Creation failed; see the cluster's `failure`.
    Failed,
    /// Being deleted: its resources are gone, the record goes when the teardown time is over.
    Deleting,
}

impl ClusterState {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Running => "running",
            Self::Failed => "failed",
            Self::Deleting => "deleting",
        }
    }
}

/// An ACK cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// `c` + 32 hex digits.
    pub id: String,
    /// Unique per region.
    pub name: String,
    /// Region id.
    pub region_id: String,
    /// The first vSwitch's zone.
    pub zone_id: String,
    /// Managed or dedicated.
    pub cluster_type: ClusterType,
    /// `ack.standard`, `ack.pro.small`…
    pub cluster_spec: String,
    /// `Default`, `Serverless`…
    pub profile: String,
    /// e.g. `1.33.3-aliyun.1`.
    pub kubernetes_version: String,
    /// VPC id.
    pub vpc_id: String,
    /// The vSwitches of the control plane and default placement.
    pub vswitch_ids: Vec<String>,
    /// Service CIDR.
    pub service_cidr: String,
    /// Pod CIDR.
    pub container_cidr: String,
    /// Security group given at creation, if any.
    pub security_group_id: String,
    /// User tags.
    pub tags: Vec<(String, String)>,
    /// Refuses DeleteCluster while set.
    pub deletion_protection: bool,
    /// Dedicated clusters' master instances.
    pub master_instance_ids: Vec<String>,
    /// Lifecycle.
    pub state: ClusterState,
    /// Why creation failed.
    pub failure: Option<String>,
    /// The bearer token the cluster's kubeconfig carries.
    pub api_token: String,
    /// Creation time.
    pub created_ms: i64,
    /// Last state change.
    pub updated_ms: i64,
}

/// Node labels and taints of a pool, as its nodes get them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesConfig {
    /// Node labels.
    pub labels: Vec<(String, String)>,
    /// Node taints.
    pub taints: Vec<Taint>,
    /// Container runtime.
    pub runtime: String,
    /// Runtime version.
    pub runtime_version: String,
    /// New nodes join cordoned.
    pub unschedulable: bool,
}

/// A node taint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// Node-pool autoscaling bounds, read by the cluster autoscaler.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoScaling {
    /// Whether the autoscaler manages the pool.
    pub enable: bool,
    /// Lower bound.
    pub min_instances: u32,
    /// Upper bound.
    pub max_instances: u32,
    /// `cpu`, `gpu`, `gpushare` or `spot`.
    pub kind: String,
}

/// An ACK node pool; its size lives in its ESS scaling group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePool {
    /// `np` + 32 hex digits.
    pub id: String,
    /// Owning cluster.
    pub cluster_id: String,
    /// Unique per cluster.
    pub name: String,
    /// The pool created with the cluster.
    pub is_default: bool,
    /// The ESS group behind it.
    pub scaling_group_id: String,
    /// Labels, taints, runtime.
    pub kubernetes_config: KubernetesConfig,
    /// Autoscaling bounds.
    pub auto_scaling: AutoScaling,
    /// Creation time.
    pub created_ms: i64,
    /// Last change.
    pub updated_ms: i64,
}

/// `running`, `success` or `fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskState {
    /// Under way.
    Running,
    /// Done.
    Success,
    /// Failed; see the task's error.
    Fail,
}

impl TaskState {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Success => "success",
            Self::Fail => "fail",
        }
    }
}

/// What a mutating call started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// `T-` + 24 hex digits.
    pub id: String,
    /// Its cluster.
    pub cluster_id: String,
    /// The node pool it acts on, if any.
    pub nodepool_id: Option<String>,
    /// `cluster_create`, `cluster_scaleout`, `nodepool_create`…
    pub task_type: String,
    /// Lifecycle.
    pub state: TaskState,
    /// `(code, message)` when it failed.
    pub error: Option<(String, String)>,
    /// Creation time.
    pub created_ms: i64,
    /// Last change.
    pub updated_ms: i64,
}

/// An action named by its method and path, with the ids the path carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The OpenAPI action name.
    pub action: &'static str,
    /// `{cluster_id}`, or `{task_id}` for DescribeTaskInfo.
    pub id: Option<String>,
    /// `{nodepool_id}`.
    pub nodepool_id: Option<String>,
}

/// The action at `method path`, if CS has one.
pub fn route(method: &str, path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let own = |s: &str| Some(s.to_owned());
    let (action, id, nodepool_id) = match (method, segments.as_slice()) {
        ("POST", ["clusters"]) => ("CreateCluster", None, None),
        ("GET", ["api", "v1", "clusters"]) => ("DescribeClustersV1", None, None),
        ("GET", ["api", "v1", "metadata", "versions"]) => {
            ("DescribeKubernetesVersionMetadata", None, None)
        }
        ("GET", ["clusters", c]) => ("DescribeClusterDetail", own(c), None),
        ("DELETE", ["clusters", c]) => ("DeleteCluster", own(c), None),
        ("GET", ["k8s", c, "user_config"]) => ("DescribeClusterUserKubeconfig", own(c), None),
        ("GET", ["clusters", c, "nodes"]) => ("DescribeClusterNodes", own(c), None),
        ("POST", ["clusters", c, "nodepools"]) => ("CreateClusterNodePool", own(c), None),
        ("GET", ["clusters", c, "nodepools"]) => ("DescribeClusterNodePools", own(c), None),
        ("GET", ["clusters", c, "nodepools", n]) => {
            ("DescribeClusterNodePoolDetail", own(c), own(n))
        }
        ("PUT", ["clusters", c, "nodepools", n]) => ("ModifyClusterNodePool", own(c), own(n)),
        ("POST", ["clusters", c, "nodepools", n]) => ("ScaleClusterNodePool", own(c), own(n)),
        ("DELETE", ["clusters", c, "nodepools", n]) => ("DeleteClusterNodepool", own(c), own(n)),
        ("DELETE", ["clusters", c, "nodepools", n, "nodes"]) => {
            ("RemoveNodePoolNodes", own(c), own(n))
        }
        ("GET", ["tasks", t]) => ("DescribeTaskInfo", own(t), None),
        _ => return None,
    };
    Some(Route {
        action,
        id,
        nodepool_id,
    })
}

/// The inputs of one CS call.
pub struct RoaCall<'a> {
    /// The routed action.
    pub route: &'a Route,
    /// Query parameters.
    pub query: &'a Params,
    /// The JSON body (`null` when there is none).
    pub body: &'a Value,
    /// The `host[:port]` the caller reached the emulator at.
    pub host: &'a str,
    /// Settings.
    pub settings: &'a Settings,
    /// Emulated time.
    pub now_ms: i64,
    /// The emulator's CA certificate (PEM), which kubeconfigs carry.
    pub ca_pem: &'a str,
}

/// The Kubernetes API address of `cluster_id` as seen by a caller that reached the emulator
/// at `host`: kube-emu serves each cluster under its own path on the emulator's port.
pub fn api_server_endpoint(host: &str, cluster_id: &str) -> String {
    format!("https://{host}/kube/{cluster_id}")
}

/// Handles a routed CS action.
pub fn handle(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Reply> {
    advance(world, call.settings, call.now_ms);
    let value = match call.route.action {
        "CreateCluster" => create_cluster(world, call),
        "DescribeClustersV1" => describe_clusters(world, call),
        "DescribeKubernetesVersionMetadata" => describe_versions(call),
        "DescribeClusterDetail" => cluster(world, call).map(|c| cluster_json(world, c, call.host)),
        "DeleteCluster" => delete_cluster(world, call),
        "DescribeClusterUserKubeconfig" => kubeconfig(world, call),
        "DescribeClusterNodes" => describe_nodes(world, call),
        "CreateClusterNodePool" => create_node_pool(world, call),
        "DescribeClusterNodePools" => describe_node_pools(world, call),
        "DescribeClusterNodePoolDetail" => {
            node_pool(world, call).map(|np| node_pool_json(world, np, call))
        }
        "ModifyClusterNodePool" => modify_node_pool(world, call),
        "ScaleClusterNodePool" => scale_node_pool(world, call),
        "DeleteClusterNodepool" => delete_node_pool(world, call),
        "RemoveNodePoolNodes" => remove_nodes(world, call),
        "DescribeTaskInfo" => describe_task(world, call),
        other => Err(ApiError::new(
            404,
            "InvalidAction.NotFound",
            format!("{other} is not served"),
        )),
    }?;
    Ok(Reply::from(value))
}

// ------------------------------------------------------------------------------------------
// Lookups and ids.
// ------------------------------------------------------------------------------------------

pub(super) fn hex_id(prefix: &str, len: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    let mut rng = rand::rng();
    let tail: String = (0..len)
        .map(|_| HEX[rng.random_range(0..HEX.len())] as char)
        .collect();
    format!("{prefix}{tail}")
}

pub(super) fn cluster_not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        "ErrorClusterNotFound",
        format!("The cluster {id} does not exist, or it was deleted."),
    )
}

pub(super) fn cluster<'w>(world: &'w World, call: &RoaCall<'_>) -> ApiResult<&'w Cluster> {
    let id = call.route.id.as_deref().unwrap_or_default();
    world
        .clusters
        .clusters
        .get(id)
        .ok_or_else(|| cluster_not_found(id))
}

/// The cluster, which must be able to take node-pool changes.
pub(super) fn serving_cluster<'w>(world: &'w World, call: &RoaCall<'_>) -> ApiResult<&'w Cluster> {
    let cluster = cluster(world, call)?;
    match cluster.state {
        ClusterState::Initial | ClusterState::Running => Ok(cluster),
        state => Err(ApiError::new(
            400,
            "ErrorClusterState",
            format!(
                "The cluster {} is {}; node pools can only change while it is initial or running.",
                cluster.id,
                state.as_str()
            ),
        )),
    }
}

pub(super) fn node_pool<'w>(world: &'w World, call: &RoaCall<'_>) -> ApiResult<&'w NodePool> {
    let cluster = cluster(world, call)?;
    let id = call.route.nodepool_id.as_deref().unwrap_or_default();
    world
        .clusters
        .node_pools
        .get(id)
        .filter(|np| np.cluster_id == cluster.id)
        .ok_or_else(|| {
            ApiError::new(
                404,
                "ErrorNodePoolNotFound",
                format!(
                    "The node pool {id} does not exist in cluster {}.",
                    cluster.id
                ),
            )
        })
}

pub(super) fn new_task(
    world: &mut World,
    cluster_id: &str,
    nodepool_id: Option<&str>,
    task_type: &str,
    now_ms: i64,
) -> String {
    let id = hex_id("T-", 24);
    world.clusters.tasks.insert(
        id.clone(),
        Task {
            id: id.clone(),
            cluster_id: cluster_id.to_owned(),
            nodepool_id: nodepool_id.map(str::to_owned),
            task_type: task_type.to_owned(),
            state: TaskState::Running,
            error: None,
            created_ms: now_ms,
            updated_ms: now_ms,
        },
    );
    id
}

fn describe_task(world: &World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let id = call.route.id.as_deref().unwrap_or_default();
    let t = world.clusters.tasks.get(id).ok_or_else(|| {
        ApiError::new(
            404,
            "ErrorTaskNotFound",
            format!("The task {id} does not exist."),
        )
    })?;
    let error = t
        .error
        .as_ref()
        .map(|(code, message)| json!({"code": code, "message": message}));
    Ok(json!({
        "task_id": t.id,
        "cluster_id": t.cluster_id,
        "task_type": t.task_type,
        "state": t.state.as_str(),
        "created": format_seconds(t.created_ms),
        "updated": format_seconds(t.updated_ms),
        "current_stage": if t.state == TaskState::Running { "running" } else { "done" },
        "stages": [{
            "state": t.state.as_str(),
            "start_time": format_seconds(t.created_ms),
            "end_time": if t.state == TaskState::Running { String::new() } else { format_seconds(t.updated_ms) },
            "message": error.as_ref().map_or(String::new(), |e| e["message"].as_str().unwrap_or_default().to_owned()),
        }],
        "error": error,
        "target": {
            "id": t.nodepool_id.clone().unwrap_or_else(|| t.cluster_id.clone()),
            "type": if t.nodepool_id.is_some() { "nodepool" } else { "cluster" },
        },
        "task_result": [],
        "events": [],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_path_routes_to_its_action() {
        let cases = [
            ("POST", "/clusters", "CreateCluster"),
            ("GET", "/api/v1/clusters", "DescribeClustersV1"),
            ("GET", "/clusters/c1", "DescribeClusterDetail"),
            ("DELETE", "/clusters/c1", "DeleteCluster"),
            (
                "GET",
                "/k8s/c1/user_config",
                "DescribeClusterUserKubeconfig",
            ),
            ("POST", "/clusters/c1/nodepools", "CreateClusterNodePool"),
            ("GET", "/clusters/c1/nodepools", "DescribeClusterNodePools"),
            (
                "GET",
                "/clusters/c1/nodepools/np1",
                "DescribeClusterNodePoolDetail",
            ),
            ("PUT", "/clusters/c1/nodepools/np1", "ModifyClusterNodePool"),
            ("POST", "/clusters/c1/nodepools/np1", "ScaleClusterNodePool"),
            (
                "DELETE",
                "/clusters/c1/nodepools/np1",
                "DeleteClusterNodepool",
            ),
            (
                "DELETE",
                "/clusters/c1/nodepools/np1/nodes",
                "RemoveNodePoolNodes",
            ),
            ("GET", "/clusters/c1/nodes", "DescribeClusterNodes"),
            ("GET", "/tasks/T-1", "DescribeTaskInfo"),
            (
                "GET",
                "/api/v1/metadata/versions",
                "DescribeKubernetesVersionMetadata",
            ),
        ];
        for (method, path, action) in cases {
            assert_eq!(
                route(method, path).map(|r| r.action),
                Some(action),
                "{method} {path}"
            );
        }
        let r = route("DELETE", "/clusters/c1/nodepools/np1/nodes").unwrap();
        assert_eq!(
            (r.id.as_deref(), r.nodepool_id.as_deref()),
            (Some("c1"), Some("np1"))
        );
        assert_eq!(route("PATCH", "/clusters/c1"), None);
        assert_eq!(route("GET", "/clusters/c1/unknown"), None);
    }
}
