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
//! The Kubernetes API of a cluster (kube-emu) plugs in at [`api_server_endpoint`]: the address
//! is derived from the host the caller used, so it survives restarts on another port.

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
}

/// The Kubernetes API address of `cluster_id` as seen by a caller that reached the emulator
/// at `host`: kube-emu serves each cluster under its own path on the emulator's port.
pub fn api_server_endpoint(host: &str, cluster_id: &str) -> String {
    format!("http://{host}/kube/{cluster_id}")
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
// The clock: clusters and tasks settle as time passes.
// ------------------------------------------------------------------------------------------

/// Moves clusters and tasks along to `now`: creation completes once the control plane time is
/// over and every node is Running; a deleted cluster disappears once its teardown time is over.
pub fn advance(world: &mut World, settings: &Settings, now_ms: i64) {
    let ids: Vec<String> = world.clusters.clusters.keys().cloned().collect();
    for id in ids {
        let Some(cluster) = world.clusters.clusters.get(&id) else {
            continue;
        };
        let due = now_ms >= cluster.updated_ms + settings.control_plane_ms;
        match cluster.state {
            ClusterState::Initial if due && cluster_nodes_ready(world, &id, settings, now_ms) => {
                set_state(world, &id, ClusterState::Running, now_ms);
            }
            ClusterState::Deleting if due => {
                world.clusters.clusters.remove(&id);
            }
            _ => {}
        }
    }
    let running: Vec<Task> = world
        .clusters
        .tasks
        .values()
        .filter(|t| t.state == TaskState::Running)
        .cloned()
        .collect();
    for task in running {
        if let Some((state, error)) = task_outcome(world, &task, settings, now_ms)
            && let Some(t) = world.clusters.tasks.get_mut(&task.id)
        {
            t.state = state;
            t.error = error;
            t.updated_ms = now_ms;
        }
    }
}

fn set_state(world: &mut World, cluster_id: &str, state: ClusterState, now_ms: i64) {
    if let Some(c) = world.clusters.clusters.get_mut(cluster_id) {
        c.state = state;
        c.updated_ms = now_ms;
    }
}

fn cluster_nodes_ready(world: &World, cluster_id: &str, settings: &Settings, now_ms: i64) -> bool {
    let Some(cluster) = world.clusters.clusters.get(cluster_id) else {
        return false;
    };
    let masters_up = cluster.master_instance_ids.iter().all(|id| {
        world
            .instances
            .get(id)
            .is_some_and(|i| i.status(now_ms, settings.timing) == InstanceStatus::Running)
    });
    masters_up
        && world
            .clusters
            .node_pools
            .values()
            .filter(|np| np.cluster_id == cluster_id)
            .all(|np| pool_settled(world, np, settings, now_ms))
}

/// A pool is settled when its group holds exactly its desired capacity, all Running.
fn pool_settled(world: &World, pool: &NodePool, settings: &Settings, now_ms: i64) -> bool {
    let Some(group) = world.groups.get(&pool.scaling_group_id) else {
        return true;
    };
    let members = world.members(&group.id);
    members.len() == group.desired as usize
        && members
            .iter()
            .all(|i| i.status(now_ms, settings.timing) == InstanceStatus::Running)
}

/// The last scaling activity of a group, if it failed to launch what was asked.
fn launch_failure(world: &World, group_id: &str) -> Option<String> {
    world
        .activities
        .values()
        .filter(|a| a.group_id == group_id)
        .max_by_key(|a| (a.at_ms, a.id.clone()))
        .filter(|a| a.status != "Successful")
        .map(|a| a.message.clone())
}

fn task_outcome(
    world: &World,
    task: &Task,
    settings: &Settings,
    now_ms: i64,
) -> Option<(TaskState, Option<(String, String)>)> {
    let cluster = world.clusters.clusters.get(&task.cluster_id);
    let pool = task
        .nodepool_id
        .as_ref()
        .and_then(|id| world.clusters.node_pools.get(id));
    let success = Some((TaskState::Success, None));
    match task.task_type.as_str() {
        "cluster_create" => match cluster.map(|c| (c.state, c.failure.clone())) {
            Some((ClusterState::Running, _)) => success,
            Some((ClusterState::Failed, failure)) => Some((
                TaskState::Fail,
                Some((
                    "ErrorCreateCluster".into(),
                    failure.unwrap_or_else(|| "cluster creation failed".into()),
                )),
            )),
            Some(_) => None,
            None => Some((
                TaskState::Fail,
                Some((
                    "ErrorClusterNotFound".into(),
                    "the cluster was deleted".into(),
                )),
            )),
        },
        "cluster_delete" => cluster.is_none().then_some((TaskState::Success, None)),
        "nodepool_delete" => pool.is_none().then_some((TaskState::Success, None)),
        _ => {
            let pool = pool?;
            if let Some(failure) = launch_failure(world, &pool.scaling_group_id) {
                return Some((
                    TaskState::Fail,
                    Some(("ErrorScaleOutNodePool".into(), failure)),
                ));
            }
            pool_settled(world, pool, settings, now_ms).then_some((TaskState::Success, None))
        }
    }
}

// ------------------------------------------------------------------------------------------
// Request bodies. Unknown fields are ignored, as the real service does; a field of the wrong
// type is an error naming its path.
// ------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TagBody {
    key: String,
    value: String,
}

fn tag_pairs(tags: &[TagBody]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateClusterBody {
    name: Option<String>,
    region_id: Option<String>,
    cluster_type: Option<String>,
    cluster_spec: Option<String>,
    profile: Option<String>,
    kubernetes_version: Option<String>,
    vpcid: Option<String>,
    vswitch_ids: Vec<String>,
    zone_id: Option<String>,
    zone_ids: Vec<String>,
    service_cidr: Option<String>,
    container_cidr: Option<String>,
    security_group_id: Option<String>,
    tags: Vec<TagBody>,
    deletion_protection: bool,
    nodepools: Vec<NodePoolBody>,
    master_count: Option<u32>,
    master_instance_types: Vec<String>,
    master_vswitch_ids: Vec<String>,
    master_system_disk_category: Option<String>,
    image_id: Option<String>,
    // The older API's single worker group, turned into a default node pool.
    worker_instance_types: Vec<String>,
    worker_vswitch_ids: Vec<String>,
    worker_system_disk_category: Option<String>,
    num_of_nodes: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NodePoolBody {
    nodepool_info: NodePoolInfoBody,
    scaling_group: ScalingGroupBody,
    kubernetes_config: Option<KubernetesConfigBody>,
    auto_scaling: Option<AutoScalingBody>,
    count: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NodePoolInfoBody {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ScalingGroupBody {
    vswitch_ids: Option<Vec<String>>,
    instance_types: Option<Vec<String>>,
    instance_charge_type: Option<String>,
    system_disk_category: Option<String>,
    system_disk_size: Option<u32>,
    desired_size: Option<u32>,
    spot_strategy: Option<String>,
    security_group_id: Option<String>,
    security_group_ids: Option<Vec<String>>,
    image_id: Option<String>,
    image_type: Option<String>,
    multi_az_policy: Option<String>,
    tags: Option<Vec<TagBody>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct KubernetesConfigBody {
    labels: Option<Vec<TagBody>>,
    taints: Option<Vec<Taint>>,
    runtime: Option<String>,
    runtime_version: Option<String>,
    unschedulable: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AutoScalingBody {
    enable: Option<bool>,
    min_instances: Option<u32>,
    max_instances: Option<u32>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ScaleBody {
    count: Option<i64>,
}

/// The body as `T`, or an error naming the field that does not fit.
fn parse_body<T: DeserializeOwned + Default>(body: &Value) -> ApiResult<T> {
    if body.is_null() {
        return Ok(T::default());
    }
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        ApiError::new(
            400,
            "InvalidParameter",
            format!("The request body field {path} is invalid: {}", e.inner()),
        )
    })
}

// ------------------------------------------------------------------------------------------
// Lookups and ids.
// ------------------------------------------------------------------------------------------

fn hex_id(prefix: &str, len: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    let mut rng = rand::rng();
    let tail: String = (0..len)
        .map(|_| HEX[rng.random_range(0..HEX.len())] as char)
        .collect();
    format!("{prefix}{tail}")
}

fn cluster_not_found(id: &str) -> ApiError {
    ApiError::new(
        404,
        "ErrorClusterNotFound",
        format!("The cluster {id} does not exist, or it was deleted."),
    )
}

fn cluster<'w>(world: &'w World, call: &RoaCall<'_>) -> ApiResult<&'w Cluster> {
    let id = call.route.id.as_deref().unwrap_or_default();
    world
        .clusters
        .clusters
        .get(id)
        .ok_or_else(|| cluster_not_found(id))
}

/// The cluster, which must be able to take node-pool changes.
fn serving_cluster<'w>(world: &'w World, call: &RoaCall<'_>) -> ApiResult<&'w Cluster> {
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

fn node_pool<'w>(world: &'w World, call: &RoaCall<'_>) -> ApiResult<&'w NodePool> {
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

fn new_task(
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

// ------------------------------------------------------------------------------------------
// Validation helpers.
// ------------------------------------------------------------------------------------------

fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        400,
        "InvalidParameter",
        format!("The parameter {field} is invalid: {why}"),
    )
}

/// Cluster and node-pool names: 1–63 letters, digits, `-` and `_`, starting with a letter or
/// digit.
fn check_name(field: &str, name: &str) -> ApiResult<()> {
    let ok = (1..=63).contains(&name.len())
        && name.chars().next().is_some_and(char::is_alphanumeric)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format_args!(
                "\"{name}\" must be 1 to 63 letters, digits, hyphens or underscores, starting with a letter or digit"
            ),
        ))
    }
}

/// An IPv4 CIDR block `a.b.c.d/n`.
fn check_cidr(field: &str, cidr: &str) -> ApiResult<()> {
    let parsed = cidr.split_once('/').and_then(|(ip, mask)| {
        let octets: Vec<u8> = ip.split('.').filter_map(|o| o.parse().ok()).collect();
        let mask: u8 = mask.parse().ok()?;
        (octets.len() == 4 && mask <= 32).then_some(())
    });
    parsed.ok_or_else(|| invalid(field, format_args!("\"{cidr}\" is not an IPv4 CIDR block")))
}

fn check_instance_types(
    field: &str,
    types: &[String],
    region: &Region,
    zones: &[String],
) -> ApiResult<()> {
    if types.is_empty() {
        return Err(invalid(field, "at least one instance type is required"));
    }
    for id in types {
        let Some(it) = catalog::instance_type(id) else {
            return Err(invalid(
                field,
                format_args!("{id} does not exist; DescribeInstanceTypes lists the types on sale"),
            ));
        };
        if !zones.iter().any(|z| catalog::offered_in(it, region, z)) {
            return Err(invalid(
                field,
                format_args!("{id} is not sold in {}", zones.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The zones of `vswitch_ids`, each of which must exist in `region`.
fn zones_of(
    world: &World,
    region: &Region,
    field: &str,
    vswitch_ids: &[String],
) -> ApiResult<(String, Vec<String>)> {
    let mut vpc = None;
    let mut zones = Vec::new();
    for v in vswitch_ids {
        let placement = world.network.placement(region, v).map_err(|_| {
            invalid(
                field,
                format_args!("the vSwitch {v} does not exist in {}", region.id),
            )
        })?;
        match &vpc {
            Some(existing) if existing != &placement.vpc_id => {
                return Err(invalid(field, "all vSwitches must belong to one VPC"));
            }
            _ => vpc = Some(placement.vpc_id),
        }
        zones.push(placement.zone_id);
    }
    Ok((vpc.unwrap_or_default(), zones))
}

// ------------------------------------------------------------------------------------------
// Clusters.
// ------------------------------------------------------------------------------------------

fn create_cluster(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let body: CreateClusterBody = parse_body(call.body)?;
    let name = body.name.clone().ok_or_else(|| ApiError::missing("name"))?;
    check_name("name", &name)?;
    let region_id = body
        .region_id
        .as_deref()
        .ok_or_else(|| ApiError::missing("region_id"))?;
    let region = catalog::region(region_id).ok_or_else(|| {
        ApiError::not_found(
            "InvalidRegionId.NotFound",
            format_args!("region {region_id}"),
        )
    })?;
    let cluster_type = match body.cluster_type.as_deref().unwrap_or("ManagedKubernetes") {
        "ManagedKubernetes" => ClusterType::ManagedKubernetes,
        "Kubernetes" => ClusterType::Kubernetes,
        other => {
            return Err(invalid(
                "cluster_type",
                format_args!("\"{other}\" must be ManagedKubernetes or Kubernetes"),
            ));
        }
    };
    if world
        .clusters
        .clusters
        .values()
        .any(|c| c.region_id == region.id && c.name == name)
    {
        return Err(ApiError::new(
            400,
            "ErrorClusterNameAlreadyExist",
            format!(
                "A cluster named \"{name}\" already exists in {}.",
                region.id
            ),
        ));
    }
    let kubernetes_version = body
        .kubernetes_version
        .clone()
        .unwrap_or_else(|| KUBERNETES_VERSIONS[0].to_owned());
    if !KUBERNETES_VERSIONS.contains(&kubernetes_version.as_str()) {
        return Err(invalid(
            "kubernetes_version",
            format_args!(
                "{kubernetes_version} is not offered; choose one of {}",
                KUBERNETES_VERSIONS.join(", ")
            ),
        ));
    }
    let service_cidr = body
        .service_cidr
        .clone()
        .unwrap_or_else(|| "172.21.0.0/20".into());
    let container_cidr = body
        .container_cidr
        .clone()
        .unwrap_or_else(|| "172.20.0.0/16".into());
    check_cidr("service_cidr", &service_cidr)?;
    check_cidr("container_cidr", &container_cidr)?;

    // Without vSwitches the cluster goes into the default vSwitches of the zones asked for (or
    // of the region's first zone), the way the console's quick create does.
    let vswitch_ids = if body.vswitch_ids.is_empty() {
        let zones: Vec<String> = body.zone_id.iter().chain(&body.zone_ids).cloned().collect();
        if zones.is_empty() {
            region.zones().take(1).map(|z| format!("vsw-{z}")).collect()
        } else {
            zones.iter().map(|z| format!("vsw-{z}")).collect()
        }
    } else {
        body.vswitch_ids.clone()
    };
    let (vpc_id, zones) = zones_of(world, region, "vswitch_ids", &vswitch_ids)?;
    if let Some(given) = &body.vpcid
        && given != &vpc_id
    {
        return Err(invalid(
            "vpcid",
            format_args!("the vSwitches belong to {vpc_id}, not {given}"),
        ));
    }

    let masters = match cluster_type {
        ClusterType::ManagedKubernetes => None,
        ClusterType::Kubernetes => {
            let count = body.master_count.unwrap_or(3);
            if count != 3 && count != 5 {
                return Err(invalid(
                    "master_count",
                    format_args!("{count} must be 3 or 5"),
                ));
            }
            let master_vswitches = if body.master_vswitch_ids.is_empty() {
                vswitch_ids.clone()
            } else {
                body.master_vswitch_ids.clone()
            };
            let (_, master_zones) =
                zones_of(world, region, "master_vswitch_ids", &master_vswitches)?;
            check_instance_types(
                "master_instance_types",
                &body.master_instance_types,
                region,
                &master_zones,
            )?;
            Some((count, master_vswitches, master_zones))
        }
    };

    let mut pools = body.nodepools;
    if !body.worker_instance_types.is_empty() {
        pools.insert(
            0,
            NodePoolBody {
                nodepool_info: NodePoolInfoBody {
                    name: Some("default-nodepool".into()),
                    kind: None,
                },
                scaling_group: ScalingGroupBody {
                    vswitch_ids: (!body.worker_vswitch_ids.is_empty())
                        .then(|| body.worker_vswitch_ids.clone()),
                    instance_types: Some(body.worker_instance_types.clone()),
                    system_disk_category: body.worker_system_disk_category.clone(),
                    desired_size: Some(body.num_of_nodes.unwrap_or(0)),
                    image_id: body.image_id.clone(),
                    ..ScalingGroupBody::default()
                },
                ..NodePoolBody::default()
            },
        );
    }
    let mut names = Vec::new();
    for (i, pool) in pools.iter().enumerate() {
        let checked = check_pool(
            world,
            region,
            &vswitch_ids,
            pool,
            &format!("nodepools[{i}]"),
        )?;
        if names.contains(&checked) {
            return Err(invalid(
                &format!("nodepools[{i}].nodepool_info.name"),
                format_args!("the name \"{checked}\" is used twice"),
            ));
        }
        names.push(checked);
    }

    // Everything is valid: from here on, failures (no stock) fail the cluster, not the call.
    let id = hex_id("c", 32);
    let mut cluster = Cluster {
        id: id.clone(),
        name,
        region_id: region.id.to_owned(),
        zone_id: zones.first().cloned().unwrap_or_default(),
        cluster_type,
        cluster_spec: body.cluster_spec.unwrap_or_else(|| match cluster_type {
            ClusterType::ManagedKubernetes => "ack.pro.small".into(),
            ClusterType::Kubernetes => String::new(),
        }),
        profile: body.profile.unwrap_or_else(|| "Default".into()),
        kubernetes_version,
        vpc_id,
        vswitch_ids,
        service_cidr,
        container_cidr,
        security_group_id: body.security_group_id.unwrap_or_default(),
        tags: tag_pairs(&body.tags),
        deletion_protection: body.deletion_protection,
        master_instance_ids: Vec::new(),
        state: ClusterState::Initial,
        failure: None,
        api_token: hex_id("", 48),
        created_ms: call.now_ms,
        updated_ms: call.now_ms,
    };
    if let Some((count, master_vswitches, master_zones)) = masters {
        let spec = LaunchSpec {
            region_id: region.id.to_owned(),
            zone_id: master_zones[0].clone(),
            instance_type: body.master_instance_types[0].clone(),
            image_id: body
                .image_id
                .clone()
                .unwrap_or_else(|| "aliyun_3_x64_20G_alibase_20240819.vhd".into()),
            name: format!("master-{:02}-k8s-for-cs-{id}", 1),
            host_name: String::new(),
            vswitch_id: master_vswitches[0].clone(),
            security_group_id: cluster.security_group_id.clone(),
            tags: vec![(CLUSTER_TAG.into(), id.clone())],
            charge_type: "PostPaid".into(),
            spot_strategy: "NoSpot".into(),
            system_disk_category: body
                .master_system_disk_category
                .unwrap_or_else(|| "cloud_essd".into()),
        };
        match world.launch(&spec, count as usize, None, call.settings, call.now_ms) {
            Ok(ids) => cluster.master_instance_ids = ids,
            Err(e) => {
                cluster.failure = Some(format!("The masters could not be created: {}", e.message))
            }
        }
    }
    world.clusters.clusters.insert(id.clone(), cluster);
    for (i, pool) in pools.iter().enumerate() {
        let np = add_pool(world, &id, pool, i == 0, call)?;
        if let Some(failure) = launch_failure(world, &np.scaling_group_id) {
            let c = world
                .clusters
                .clusters
                .get_mut(&id)
                .ok_or_else(ApiError::internal)?;
            c.failure
                .get_or_insert(format!("Node pool {}: {failure}", np.name));
        }
    }
    if world
        .clusters
        .clusters
        .get(&id)
        .is_some_and(|c| c.failure.is_some())
    {
        set_state(world, &id, ClusterState::Failed, call.now_ms);
    }
    let task_id = new_task(world, &id, None, "cluster_create", call.now_ms);
    Ok(json!({ "cluster_id": id, "task_id": task_id, "request_id": "" }))
}

fn cluster_json(world: &World, c: &Cluster, host: &str) -> Value {
    let endpoint = api_server_endpoint(host, &c.id);
    let master_url = json!({
        "api_server_endpoint": endpoint,
        "intranet_api_server_endpoint": endpoint,
    });
    json!({
        "cluster_id": c.id,
        "name": c.name,
        "state": c.state.as_str(),
        "cluster_type": match c.cluster_type {
            ClusterType::ManagedKubernetes => "ManagedKubernetes",
            ClusterType::Kubernetes => "Kubernetes",
        },
        "cluster_spec": c.cluster_spec,
        "profile": c.profile,
        "region_id": c.region_id,
        "zone_id": c.zone_id,
        "vpc_id": c.vpc_id,
        "vswitch_ids": c.vswitch_ids,
        "vswitch_id": c.vswitch_ids.join(","),
        "security_group_id": c.security_group_id,
        "current_version": c.kubernetes_version,
        "init_version": c.kubernetes_version,
        "subnet_cidr": c.container_cidr,
        "service_cidr": c.service_cidr,
        "container_cidr": c.container_cidr,
        "size": cluster_node_ids(world, &c.id).len(),
        "master_url": master_url.to_string(),
        "created": format_seconds(c.created_ms),
        "updated": format_seconds(c.updated_ms),
        "deletion_protection": c.deletion_protection,
        "tags": c.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        "network_mode": "vpc",
        "resource_group_id": "",
    })
}

fn describe_clusters(world: &World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let q = call.query;
    let page_number = q.parse::<usize>("page_number")?.unwrap_or(1).max(1);
    let page_size = q.parse::<usize>("page_size")?.unwrap_or(10);
    if !(1..=100).contains(&page_size) {
        return Err(invalid(
            "page_size",
            format_args!("{page_size} must be between 1 and 100"),
        ));
    }
    let matches = |c: &&Cluster| {
        let type_name = match c.cluster_type {
            ClusterType::ManagedKubernetes => "ManagedKubernetes",
            ClusterType::Kubernetes => "Kubernetes",
        };
        q.get("name").is_none_or(|n| c.name.contains(n))
            && q.get("cluster_type").is_none_or(|t| t == type_name)
            && q.get("region_id").is_none_or(|r| r == c.region_id)
            && q.get("cluster_id").is_none_or(|id| id == c.id)
            && q.get("profile").is_none_or(|p| p == c.profile)
            && q.get("cluster_spec").is_none_or(|s| s == c.cluster_spec)
    };
    let mut found: Vec<&Cluster> = world.clusters.clusters.values().filter(matches).collect();
    found.sort_by(|a, b| {
        b.created_ms
            .cmp(&a.created_ms)
            .then_with(|| a.id.cmp(&b.id))
    });
    let total = found.len();
    let page: Vec<Value> = found
        .into_iter()
        .skip((page_number - 1) * page_size)
        .take(page_size)
        .map(|c| cluster_json(world, c, call.host))
        .collect();
    Ok(json!({
        "clusters": page,
        "page_info": {"page_number": page_number, "page_size": page_size, "total_count": total},
    }))
}

fn describe_versions(call: &RoaCall<'_>) -> ApiResult<Value> {
    let q = call.query;
    let region = q.required("Region")?;
    catalog::region(region).ok_or_else(|| {
        ApiError::not_found("InvalidRegionId.NotFound", format_args!("region {region}"))
    })?;
    let cluster_type = q.required("ClusterType")?;
    if !["ManagedKubernetes", "Kubernetes"].contains(&cluster_type) {
        return Err(invalid(
            "ClusterType",
            format_args!("\"{cluster_type}\" must be ManagedKubernetes or Kubernetes"),
        ));
    }
    let versions: Vec<Value> = KUBERNETES_VERSIONS
        .iter()
        .filter(|v| q.get("KubernetesVersion").is_none_or(|want| want == **v))
        .enumerate()
        .map(|(i, v)| {
            json!({
                "version": v,
                "runtimes": [{"name": "containerd", "version": "1.6.38"}],
                "images": [{"image_id": "aliyun_3_x64_20G_alibase_20240819.vhd", "image_name": "Alibaba Cloud Linux 3", "platform": "AliyunLinux", "os_type": "Linux", "image_type": "AliyunLinux3", "architecture": "x86_64"}],
                "creatable": true,
                "upgradable_versions": KUBERNETES_VERSIONS[..i].iter().rev().collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Value::Array(versions))
}

fn delete_cluster(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let c = cluster(world, call)?.clone();
    if c.deletion_protection {
        return Err(ApiError::new(
            400,
            "ErrorDeletionProtection",
            format!(
                "The cluster {} has deletion protection on; turn it off before deleting.",
                c.id
            ),
        ));
    }
    let task_id = new_task(world, &c.id, None, "cluster_delete", call.now_ms);
    if c.state != ClusterState::Deleting {
        release_cluster(world, &c);
        set_state(world, &c.id, ClusterState::Deleting, call.now_ms);
    }
    Ok(json!({ "cluster_id": c.id, "task_id": task_id, "request_id": "" }))
}

/// Releases everything the cluster created: node pools, their groups and instances, masters.
fn release_cluster(world: &mut World, c: &Cluster) {
    let groups: Vec<String> = world
        .clusters
        .node_pools
        .values()
        .filter(|np| np.cluster_id == c.id)
        .map(|np| np.scaling_group_id.clone())
        .collect();
    for group in groups {
        delete_group(world, &group);
    }
    world
        .clusters
        .node_pools
        .retain(|_, np| np.cluster_id != c.id);
    for id in &c.master_instance_ids {
        world.instances.remove(id);
    }
}

fn delete_group(world: &mut World, group_id: &str) {
    let members: Vec<String> = world
        .members(group_id)
        .iter()
        .map(|i| i.id.clone())
        .collect();
    world.remove_members(&members, true);
    world.groups.remove(group_id);
    world.configurations.retain(|_, c| c.group_id != group_id);
    world.rules.retain(|_, r| r.group_id != group_id);
    world.activities.retain(|_, a| a.group_id != group_id);
}

fn kubeconfig(world: &World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let c = cluster(world, call)?;
    if c.state != ClusterState::Running {
        return Err(ApiError::new(
            400,
            "ErrorClusterState",
            format!(
                "The cluster {} is {}; its kubeconfig is available once it is running.",
                c.id,
                c.state.as_str()
            ),
        ));
    }
    let minutes = call.query.parse::<i64>("TemporaryDurationMinutes")?;
    if let Some(m) = minutes
        && !(15..=4320).contains(&m)
    {
        return Err(invalid(
            "TemporaryDurationMinutes",
            format_args!("{m} must be between 15 and 4320"),
        ));
    }
    // Without a temporary duration the credential lasts three years, as ACK's do.
    let valid_ms = minutes.map_or(3 * 365 * 24 * 3_600_000, |m| m * 60_000);
    let user = "ackctl-emulator-user";
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {server}\n  name: {cluster}\ncontexts:\n- context:\n    cluster: {cluster}\n    user: {user}\n  name: {user}-{cluster}\ncurrent-context: {user}-{cluster}\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n    token: {token}\n",
        server = api_server_endpoint(call.host, &c.id),
        cluster = c.id,
        token = c.api_token,
    );
    Ok(json!({
        "config": config,
        "expiration": format_seconds(call.now_ms + valid_ms),
    }))
}

// ------------------------------------------------------------------------------------------
// Nodes.
// ------------------------------------------------------------------------------------------

/// The instances that are nodes of the cluster: masters, then node-pool members.
fn cluster_node_ids(world: &World, cluster_id: &str) -> Vec<(String, Option<String>)> {
    let Some(c) = world.clusters.clusters.get(cluster_id) else {
        return Vec::new();
    };
    let mut nodes: Vec<(String, Option<String>)> = c
        .master_instance_ids
        .iter()
        .filter(|id| world.instances.contains_key(*id))
        .map(|id| (id.clone(), None))
        .collect();
    for np in world
        .clusters
        .node_pools
        .values()
        .filter(|np| np.cluster_id == cluster_id)
    {
        nodes.extend(
            world
                .members(&np.scaling_group_id)
                .iter()
                .map(|i| (i.id.clone(), Some(np.id.clone()))),
        );
    }
    nodes
}

/// A node's name: `<region>.<instance-id>`, which is also its provider ID.
pub fn node_name(region_id: &str, instance_id: &str) -> String {
    format!("{region_id}.{instance_id}")
}

fn describe_nodes(world: &World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let c = cluster(world, call)?;
    let q = call.query;
    let page_number = q.parse::<usize>("pageNumber")?.unwrap_or(1).max(1);
    let page_size = q.parse::<usize>("pageSize")?.unwrap_or(10);
    if !(1..=100).contains(&page_size) {
        return Err(invalid(
            "pageSize",
            format_args!("{page_size} must be between 1 and 100"),
        ));
    }
    let wanted = |name: &str| -> Option<Vec<String>> {
        q.get(name)
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
    };
    let (ids, names) = (wanted("instanceIds"), wanted("nodeNames"));
    let nodes: Vec<Value> = cluster_node_ids(world, &c.id)
        .into_iter()
        .filter_map(|(id, pool)| {
            let i = world.instances.get(&id)?;
            let status = i.status(call.now_ms, call.settings.timing);
            let state = status.as_str().to_ascii_lowercase();
            let name = node_name(&c.region_id, &i.id);
            let keep = q.get("nodepool_id").is_none_or(|np| pool.as_deref() == Some(np))
                && q.get("state").is_none_or(|s| s == "all" || s == state)
                && ids.as_ref().is_none_or(|ids| ids.contains(&i.id))
                && names.as_ref().is_none_or(|names| names.contains(&name));
            keep.then(|| {
                json!({
                    "instance_id": i.id,
                    "instance_name": i.spec.name,
                    "host_name": i.spec.host_name,
                    "node_name": name,
                    "node_status": if status == InstanceStatus::Running { "Ready" } else { "Unknown" },
                    "state": state,
                    "instance_status": status.as_str(),
                    "instance_type": i.spec.instance_type,
                    "instance_type_family": catalog::instance_type(&i.spec.instance_type).map(|t| t.family).unwrap_or_default(),
                    "instance_role": if pool.is_some() { "Worker" } else { "Master" },
                    "instance_charge_type": i.spec.charge_type,
                    "spot_strategy": i.spec.spot_strategy,
                    "image_id": i.spec.image_id,
                    "ip_address": [i.private_ip],
                    "nodepool_id": pool.unwrap_or_default(),
                    "creation_time": format_seconds(i.created_ms),
                    "source": "ess_attach",
                    "is_aliyun_node": true,
                    "error_message": "",
                    "expired_time": "",
                })
            })
        })
        .collect();
    let total = nodes.len();
    let page: Vec<Value> = nodes
        .into_iter()
        .skip((page_number - 1) * page_size)
        .take(page_size)
        .collect();
    Ok(json!({
        "nodes": page,
        "page": {"page_number": page_number, "page_size": page_size, "total_count": total},
    }))
}

// ------------------------------------------------------------------------------------------
// Node pools.
// ------------------------------------------------------------------------------------------

/// Validates one node pool of a request; returns its name.
fn check_pool(
    world: &World,
    region: &Region,
    cluster_vswitches: &[String],
    pool: &NodePoolBody,
    field: &str,
) -> ApiResult<String> {
    let name = pool
        .nodepool_info
        .name
        .clone()
        .ok_or_else(|| ApiError::missing(&format!("{field}.nodepool_info.name")))?;
    check_name(&format!("{field}.nodepool_info.name"), &name)?;
    if let Some(kind) = &pool.nodepool_info.kind
        && kind != "ess"
    {
        return Err(invalid(
            &format!("{field}.nodepool_info.type"),
            format_args!(
                "\"{kind}\" is not supported; the emulator backs node pools with ESS (\"ess\")"
            ),
        ));
    }
    let sg = &pool.scaling_group;
    let vswitches = sg
        .vswitch_ids
        .clone()
        .unwrap_or_else(|| cluster_vswitches.to_vec());
    let (_, zones) = zones_of(
        world,
        region,
        &format!("{field}.scaling_group.vswitch_ids"),
        &vswitches,
    )?;
    check_instance_types(
        &format!("{field}.scaling_group.instance_types"),
        sg.instance_types.as_deref().unwrap_or_default(),
        region,
        &zones,
    )?;
    let (min, max) = pool_bounds(pool.auto_scaling.as_ref());
    let desired = pool_desired(pool, min);
    if !(min..=max).contains(&desired) || min > max {
        return Err(invalid(
            &format!("{field}.scaling_group.desired_size"),
            format_args!("{desired} nodes is outside [{min}, {max}]"),
        ));
    }
    for taint in pool
        .kubernetes_config
        .as_ref()
        .and_then(|k| k.taints.as_ref())
        .into_iter()
        .flatten()
    {
        if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&taint.effect.as_str()) {
            return Err(invalid(
                &format!("{field}.kubernetes_config.taints"),
                format_args!(
                    "the effect \"{}\" of taint {} must be NoSchedule, PreferNoSchedule or NoExecute",
                    taint.effect, taint.key
                ),
            ));
        }
    }
    Ok(name)
}

/// The ESS bounds of a pool: the autoscaling range when enabled, otherwise any size.
fn pool_bounds(auto: Option<&AutoScalingBody>) -> (u32, u32) {
    match auto {
        Some(a) if a.enable == Some(true) => (
            a.min_instances.unwrap_or(0),
            a.max_instances.unwrap_or(MAX_POOL_SIZE),
        ),
        _ => (0, MAX_POOL_SIZE),
    }
}

fn pool_desired(pool: &NodePoolBody, min: u32) -> u32 {
    pool.scaling_group
        .desired_size
        .or(pool.count)
        .unwrap_or(0)
        .max(min)
}

/// The tags a pool's scaling configuration gives its instances. Labels and taints are also
/// written in cluster-autoscaler's node-template form, so an autoscaler can build the pool's
/// node template from ESS alone.
fn pool_instance_tags(
    cluster_id: &str,
    pool_id: &str,
    config: &KubernetesConfig,
    auto: &AutoScaling,
    user: &[(String, String)],
) -> Vec<(String, String)> {
    let mut tags = vec![
        (CLUSTER_TAG.to_owned(), cluster_id.to_owned()),
        (NODEPOOL_TAG.to_owned(), pool_id.to_owned()),
    ];
    if auto.enable {
        tags.push(("k8s.io/cluster-autoscaler/enabled".into(), "true".into()));
        tags.push((
            format!("k8s.io/cluster-autoscaler/{cluster_id}"),
            "owned".into(),
        ));
    }
    for (k, v) in &config.labels {
        tags.push((
            format!("k8s.io/cluster-autoscaler/node-template/label/{k}"),
            v.clone(),
        ));
    }
    for t in &config.taints {
        tags.push((
            format!("k8s.io/cluster-autoscaler/node-template/taint/{}", t.key),
            format!("{}:{}", t.value, t.effect),
        ));
    }
    tags.extend(user.iter().cloned());
    tags
}

/// Creates a pool and its ESS group, and launches its nodes.
fn add_pool(
    world: &mut World,
    cluster_id: &str,
    pool: &NodePoolBody,
    is_default: bool,
    call: &RoaCall<'_>,
) -> ApiResult<NodePool> {
    let c = world
        .clusters
        .clusters
        .get(cluster_id)
        .cloned()
        .ok_or_else(|| cluster_not_found(cluster_id))?;
    let region = catalog::region(&c.region_id).ok_or_else(ApiError::internal)?;
    let sg = &pool.scaling_group;
    let id = hex_id("np", 32);
    let name = pool.nodepool_info.name.clone().unwrap_or_default();
    let kubernetes_config = pool
        .kubernetes_config
        .as_ref()
        .map(|k| KubernetesConfig {
            labels: tag_pairs(k.labels.as_deref().unwrap_or_default()),
            taints: k.taints.clone().unwrap_or_default(),
            runtime: k.runtime.clone().unwrap_or_else(|| "containerd".into()),
            runtime_version: k.runtime_version.clone().unwrap_or_else(|| "1.6.38".into()),
            unschedulable: k.unschedulable.unwrap_or(false),
        })
        .unwrap_or_else(|| KubernetesConfig {
            runtime: "containerd".into(),
            runtime_version: "1.6.38".into(),
            ..KubernetesConfig::default()
        });
    let (min, max) = pool_bounds(pool.auto_scaling.as_ref());
    let auto_scaling = AutoScaling {
        enable: pool.auto_scaling.as_ref().and_then(|a| a.enable) == Some(true),
        min_instances: min,
        max_instances: max,
        kind: pool
            .auto_scaling
            .as_ref()
            .and_then(|a| a.kind.clone())
            .unwrap_or_else(|| "cpu".into()),
    };
    let user_tags = tag_pairs(sg.tags.as_deref().unwrap_or_default());
    let group_id = new_id("asg", region);
    let config_id = new_id("asc", region);
    let group = ScalingGroup {
        id: group_id.clone(),
        name: format!("nodepool-{id}"),
        region_id: c.region_id.clone(),
        min_size: min,
        max_size: max,
        desired: pool_desired(pool, min),
        state: GroupState::Active,
        active_configuration_id: Some(config_id.clone()),
        vswitch_ids: sg
            .vswitch_ids
            .clone()
            .unwrap_or_else(|| c.vswitch_ids.clone()),
        multi_az_policy: sg
            .multi_az_policy
            .clone()
            .unwrap_or_else(|| "PRIORITY".into())
            .to_ascii_uppercase(),
        default_cooldown: 300,
        removal_policies: vec!["OldestScalingConfiguration".into(), "OldestInstance".into()],
        tags: vec![
            (CLUSTER_TAG.to_owned(), cluster_id.to_owned()),
            (NODEPOOL_TAG.to_owned(), id.clone()),
        ],
        created_ms: call.now_ms,
    };
    let config = ScalingConfiguration {
        id: config_id,
        name: format!("nodepool-{id}"),
        group_id: group_id.clone(),
        instance_types: sg.instance_types.clone().unwrap_or_default(),
        image_id: sg
            .image_id
            .clone()
            .unwrap_or_else(|| "aliyun_3_x64_20G_alibase_20240819.vhd".into()),
        security_group_id: sg
            .security_group_id
            .clone()
            .or_else(|| {
                sg.security_group_ids
                    .as_ref()
                    .and_then(|s| s.first().cloned())
            })
            .unwrap_or_else(|| c.security_group_id.clone()),
        system_disk_category: sg
            .system_disk_category
            .clone()
            .unwrap_or_else(|| "cloud_essd".into()),
        tags: pool_instance_tags(
            cluster_id,
            &id,
            &kubernetes_config,
            &auto_scaling,
            &user_tags,
        ),
        spot_strategy: sg.spot_strategy.clone().unwrap_or_else(|| "NoSpot".into()),
        instance_name: format!("worker-k8s-for-cs-{cluster_id}"),
        host_name: String::new(),
        created_ms: call.now_ms,
    };
    world.groups.insert(group_id.clone(), group);
    world.configurations.insert(config.id.clone(), config);
    let np = NodePool {
        id: id.clone(),
        cluster_id: cluster_id.to_owned(),
        name,
        is_default,
        scaling_group_id: group_id.clone(),
        kubernetes_config,
        auto_scaling,
        created_ms: call.now_ms,
        updated_ms: call.now_ms,
    };
    world.clusters.node_pools.insert(id, np.clone());
    world.reconcile_group(
        &group_id,
        "The node pool was created.",
        call.settings,
        call.now_ms,
    )?;
    Ok(np)
}

fn create_node_pool(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let c = serving_cluster(world, call)?.clone();
    let region = catalog::region(&c.region_id).ok_or_else(ApiError::internal)?;
    let body: NodePoolBody = parse_body(call.body)?;
    let name = check_pool(world, region, &c.vswitch_ids, &body, "nodepool")?;
    if world
        .clusters
        .node_pools
        .values()
        .any(|np| np.cluster_id == c.id && np.name == name)
    {
        return Err(ApiError::new(
            400,
            "ErrorNodePoolNameAlreadyExist",
            format!(
                "The cluster {} already has a node pool named \"{name}\".",
                c.id
            ),
        ));
    }
    let np = add_pool(world, &c.id, &body, false, call)?;
    let task_id = new_task(world, &c.id, Some(&np.id), "nodepool_create", call.now_ms);
    Ok(json!({ "nodepool_id": np.id, "task_id": task_id, "request_id": "" }))
}

fn node_pool_json(world: &World, np: &NodePool, call: &RoaCall<'_>) -> Value {
    let group = world.groups.get(&np.scaling_group_id);
    let config = group
        .and_then(|g| g.active_configuration_id.as_ref())
        .and_then(|id| world.configurations.get(id));
    let members = world.members(&np.scaling_group_id);
    let running = members
        .iter()
        .filter(|i| i.status(call.now_ms, call.settings.timing) == InstanceStatus::Running)
        .count();
    let desired = group.map_or(0, |g| g.desired);
    let settled = pool_settled(world, np, call.settings, call.now_ms);
    let removing = members.len() > desired as usize;
    let state = match (settled, removing) {
        (true, _) => "active",
        (false, true) => "removing",
        (false, false) => "scaling",
    };
    let tags: Vec<(String, String)> = config.map(|c| c.tags.clone()).unwrap_or_default();
    let user_tags: Vec<Value> = tags
        .iter()
        .filter(|(k, _)| {
            k != CLUSTER_TAG && k != NODEPOOL_TAG && !k.starts_with("k8s.io/cluster-autoscaler/")
        })
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    let kc = &np.kubernetes_config;
    json!({
        "nodepool_info": {
            "nodepool_id": np.id,
            "name": np.name,
            "type": "ess",
            "is_default": np.is_default,
            "region_id": group.map(|g| g.region_id.clone()).unwrap_or_default(),
            "resource_group_id": "",
            "created": format_seconds(np.created_ms),
            "updated": format_seconds(np.updated_ms),
        },
        "status": {
            "state": state,
            "total_nodes": members.len(),
            "serving_nodes": running,
            "healthy_nodes": running,
            "initial_nodes": members.len() - running,
            "failed_nodes": 0,
            "offline_nodes": 0,
            "removing_nodes": 0,
        },
        "scaling_group": {
            "scaling_group_id": np.scaling_group_id,
            "desired_size": desired,
            "vswitch_ids": group.map(|g| g.vswitch_ids.clone()).unwrap_or_default(),
            "instance_types": config.map(|c| c.instance_types.clone()).unwrap_or_default(),
            "instance_charge_type": "PostPaid",
            "image_id": config.map(|c| c.image_id.clone()).unwrap_or_default(),
            "security_group_id": config.map(|c| c.security_group_id.clone()).unwrap_or_default(),
            "system_disk_category": config.map(|c| c.system_disk_category.clone()).unwrap_or_default(),
            "spot_strategy": config.map(|c| c.spot_strategy.clone()).unwrap_or_default(),
            "multi_az_policy": group.map(|g| g.multi_az_policy.clone()).unwrap_or_default(),
            "tags": user_tags,
        },
        "auto_scaling": {
            "enable": np.auto_scaling.enable,
            "min_instances": np.auto_scaling.min_instances,
            "max_instances": np.auto_scaling.max_instances,
            "type": np.auto_scaling.kind,
        },
        "kubernetes_config": {
            "labels": kc.labels.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
            "taints": kc.taints,
            "runtime": kc.runtime,
            "runtime_version": kc.runtime_version,
            "unschedulable": kc.unschedulable,
        },
        "management": {"enable": false},
    })
}

fn describe_node_pools(world: &World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let c = cluster(world, call)?;
    let pools: Vec<Value> = world
        .clusters
        .node_pools
        .values()
        .filter(|np| np.cluster_id == c.id)
        .filter(|np| call.query.get("NodepoolName").is_none_or(|n| n == np.name))
        .map(|np| node_pool_json(world, np, call))
        .collect();
    Ok(json!({ "nodepools": pools }))
}

fn modify_node_pool(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    serving_cluster(world, call)?;
    let np = node_pool(world, call)?.clone();
    let body: NodePoolBody = parse_body(call.body)?;
    let group = world
        .groups
        .get(&np.scaling_group_id)
        .cloned()
        .ok_or_else(ApiError::internal)?;
    let mut updated = np.clone();
    if let Some(name) = &body.nodepool_info.name {
        check_name("nodepool_info.name", name)?;
        if world.clusters.node_pools.values().any(|other| {
            other.cluster_id == np.cluster_id && other.id != np.id && &other.name == name
        }) {
            return Err(ApiError::new(
                400,
                "ErrorNodePoolNameAlreadyExist",
                format!("The cluster already has a node pool named \"{name}\"."),
            ));
        }
        updated.name = name.clone();
    }
    if let Some(a) = &body.auto_scaling {
        let enable = a.enable.unwrap_or(np.auto_scaling.enable);
        updated.auto_scaling = AutoScaling {
            enable,
            min_instances: a.min_instances.unwrap_or(np.auto_scaling.min_instances),
            max_instances: a.max_instances.unwrap_or(np.auto_scaling.max_instances),
            kind: a.kind.clone().unwrap_or(np.auto_scaling.kind.clone()),
        };
        if !enable {
            updated.auto_scaling.min_instances = 0;
            updated.auto_scaling.max_instances = MAX_POOL_SIZE;
        }
    }
    let (min, max) = (
        updated.auto_scaling.min_instances,
        updated.auto_scaling.max_instances,
    );
    if min > max {
        return Err(invalid(
            "auto_scaling.min_instances",
            format_args!("{min} must not exceed max_instances {max}"),
        ));
    }
    let desired = body.scaling_group.desired_size.unwrap_or(group.desired);
    if !(min..=max).contains(&desired) {
        return Err(invalid(
            "scaling_group.desired_size",
            format_args!("{desired} nodes is outside [{min}, {max}]"),
        ));
    }
    if let Some(k) = &body.kubernetes_config {
        let kc = &mut updated.kubernetes_config;
        if let Some(labels) = &k.labels {
            kc.labels = tag_pairs(labels);
        }
        if let Some(taints) = &k.taints {
            kc.taints = taints.clone();
        }
        if let Some(u) = k.unschedulable {
            kc.unschedulable = u;
        }
    }
    let region = catalog::region(&group.region_id).ok_or_else(ApiError::internal)?;
    if let Some(types) = &body.scaling_group.instance_types {
        let vswitches = body
            .scaling_group
            .vswitch_ids
            .clone()
            .unwrap_or(group.vswitch_ids.clone());
        let (_, zones) = zones_of(world, region, "scaling_group.vswitch_ids", &vswitches)?;
        check_instance_types("scaling_group.instance_types", types, region, &zones)?;
    } else if let Some(vswitches) = &body.scaling_group.vswitch_ids {
        zones_of(world, region, "scaling_group.vswitch_ids", vswitches)?;
    }

    // Valid: apply to the pool, its group and its configuration.
    updated.updated_ms = call.now_ms;
    let config_id = group.active_configuration_id.clone().unwrap_or_default();
    if let Some(config) = world.configurations.get_mut(&config_id) {
        if let Some(types) = &body.scaling_group.instance_types {
            config.instance_types = types.clone();
        }
        let user: Vec<(String, String)> = match &body.scaling_group.tags {
            Some(tags) => tag_pairs(tags),
            None => config
                .tags
                .iter()
                .filter(|(k, _)| {
                    k != CLUSTER_TAG
                        && k != NODEPOOL_TAG
                        && !k.starts_with("k8s.io/cluster-autoscaler/")
                })
                .cloned()
                .collect(),
        };
        config.tags = pool_instance_tags(
            &np.cluster_id,
            &np.id,
            &updated.kubernetes_config,
            &updated.auto_scaling,
            &user,
        );
    }
    if let Some(g) = world.groups.get_mut(&np.scaling_group_id) {
        g.min_size = min;
        g.max_size = max;
        g.desired = desired;
        if let Some(v) = &body.scaling_group.vswitch_ids {
            g.vswitch_ids = v.clone();
        }
    }
    world.clusters.node_pools.insert(np.id.clone(), updated);
    world.reconcile_group(
        &np.scaling_group_id,
        "ModifyClusterNodePool changed the node pool.",
        call.settings,
        call.now_ms,
    )?;
    let task_id = new_task(
        world,
        &np.cluster_id,
        Some(&np.id),
        "nodepool_update",
        call.now_ms,
    );
    Ok(json!({ "nodepool_id": np.id, "task_id": task_id, "request_id": "" }))
}

fn scale_node_pool(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    serving_cluster(world, call)?;
    let np = node_pool(world, call)?.clone();
    let body: ScaleBody = parse_body(call.body)?;
    let count = body.count.ok_or_else(|| ApiError::missing("count"))?;
    let group = world
        .groups
        .get(&np.scaling_group_id)
        .cloned()
        .ok_or_else(ApiError::internal)?;
    let target = i64::from(group.desired) + count;
    if count < 1 || target > i64::from(group.max_size) {
        return Err(invalid(
            "count",
            format_args!(
                "{count} must be at least 1 and keep the pool at most {} nodes (it wants {})",
                group.max_size, group.desired
            ),
        ));
    }
    if let Some(g) = world.groups.get_mut(&np.scaling_group_id) {
        g.desired = u32::try_from(target).unwrap_or(u32::MAX);
    }
    world.reconcile_group(
        &np.scaling_group_id,
        &format!("ScaleClusterNodePool added {count} nodes."),
        call.settings,
        call.now_ms,
    )?;
    let task_id = new_task(
        world,
        &np.cluster_id,
        Some(&np.id),
        "nodepool_scaleout",
        call.now_ms,
    );
    Ok(json!({ "task_id": task_id, "request_id": "" }))
}

fn delete_node_pool(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    serving_cluster(world, call)?;
    let np = node_pool(world, call)?.clone();
    let nodes = world.members(&np.scaling_group_id).len();
    if nodes > 0 && call.query.bool("force")? != Some(true) {
        return Err(ApiError::new(
            400,
            "ErrorNodePoolNotEmpty",
            format!(
                "The node pool {} still has {nodes} nodes; remove them first or pass force=true.",
                np.id
            ),
        ));
    }
    let task_id = new_task(
        world,
        &np.cluster_id,
        Some(&np.id),
        "nodepool_delete",
        call.now_ms,
    );
    delete_group(world, &np.scaling_group_id);
    world.clusters.node_pools.remove(&np.id);
    Ok(json!({ "task_id": task_id, "request_id": "" }))
}

fn remove_nodes(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let c = serving_cluster(world, call)?.clone();
    let np = node_pool(world, call)?.clone();
    let q = call.query;
    let mut ids = q.list_or_json("instance_ids")?;
    for name in q.list_or_json("nodes")? {
        let prefix = format!("{}.", c.region_id);
        ids.push(name.strip_prefix(&prefix).unwrap_or(&name).to_owned());
    }
    if ids.is_empty() {
        return Err(ApiError::missing("instance_ids"));
    }
    let group = world
        .groups
        .get(&np.scaling_group_id)
        .cloned()
        .ok_or_else(ApiError::internal)?;
    for id in &ids {
        let member = world
            .instances
            .get(id)
            .and_then(|i| i.membership.as_ref())
            .is_some_and(|m| m.group_id == group.id);
        if !member {
            return Err(invalid(
                "instance_ids",
                format_args!("{id} is not a node of node pool {}", np.id),
            ));
        }
    }
    let remaining = world.members(&group.id).len() - ids.len();
    if remaining < group.min_size as usize {
        return Err(invalid(
            "instance_ids",
            format_args!(
                "removing {} nodes would leave {remaining}, below the pool's minimum {}",
                ids.len(),
                group.min_size
            ),
        ));
    }
    let release = q.bool("release_node")?.unwrap_or(true);
    world.remove_members(&ids, release);
    if let Some(g) = world.groups.get_mut(&group.id) {
        g.desired = u32::try_from(remaining).unwrap_or(u32::MAX);
    }
    world.reconcile_group(
        &group.id,
        &format!("RemoveNodePoolNodes removed {} nodes.", ids.len()),
        call.settings,
        call.now_ms,
    )?;
    let task_id = new_task(
        world,
        &c.id,
        Some(&np.id),
        "nodepool_remove_nodes",
        call.now_ms,
    );
    Ok(json!({ "task_id": task_id, "request_id": "" }))
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

    #[test]
    fn names_must_be_label_like() {
        assert!(check_name("name", "prod-1_a").is_ok());
        for bad in ["", "-x", "a b", &"x".repeat(64)] {
            let e = check_name("name", bad).unwrap_err();
            assert_eq!(e.code, "InvalidParameter");
            assert!(e.message.contains("name"), "{}", e.message);
        }
    }

    #[test]
    fn cidrs_are_checked() {
        assert!(check_cidr("service_cidr", "172.21.0.0/20").is_ok());
        for bad in ["172.21.0.0", "172.21.0/20", "300.1.1.1/8", "1.1.1.1/33"] {
            assert!(check_cidr("service_cidr", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn autoscaled_pools_advertise_their_template_in_tags() {
        let config = KubernetesConfig {
            labels: vec![("gpu".into(), "true".into())],
            taints: vec![Taint {
                key: "dedicated".into(),
                value: "ml".into(),
                effect: "NoSchedule".into(),
            }],
            ..KubernetesConfig::default()
        };
        let auto = AutoScaling {
            enable: true,
            min_instances: 1,
            max_instances: 5,
            kind: "cpu".into(),
        };
        let tags = pool_instance_tags("c1", "np1", &config, &auto, &[]);
        let has = |k: &str, v: &str| tags.iter().any(|(a, b)| a == k && b == v);
        assert!(has(CLUSTER_TAG, "c1"));
        assert!(has(NODEPOOL_TAG, "np1"));
        assert!(has("k8s.io/cluster-autoscaler/enabled", "true"));
        assert!(has(
            "k8s.io/cluster-autoscaler/node-template/label/gpu",
            "true"
        ));
        assert!(has(
            "k8s.io/cluster-autoscaler/node-template/taint/dedicated",
            "ml:NoSchedule"
        ));
        let manual = pool_instance_tags("c1", "np1", &config, &AutoScaling::default(), &[]);
        assert!(
            !manual
                .iter()
                .any(|(k, _)| k == "k8s.io/cluster-autoscaler/enabled")
        );
    }
}
