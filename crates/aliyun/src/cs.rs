//! CS (ACK) 2015-12-15: clusters, node pools, nodes and tasks. A ROA API: the method and path
//! name the action, bodies are JSON with snake_case keys.
//!
//! ```text
//!   create_cluster ──▶ task ──describe_task_info──▶ success | fail
//!        │
//!        ├─ describe_cluster_detail (state: initial → running | failed)
//!        ├─ create / modify / scale / delete node pools ──▶ ESS scaling groups underneath
//!        ├─ describe_cluster_nodes (`<region>.<instance-id>`), remove_node_pool_nodes
//!        ├─ describe_cluster_user_kubeconfig
//!        └─ delete_cluster (deleting → gone)
//! ```

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::{Client, paged_request, paginate_request, token_or_fresh};
use crate::endpoint::Product;
use crate::error::Result;
use crate::params::Params;
use crate::signer::percent_encode;

/// The CS API of a [`Client`].
#[derive(Clone, Copy, Debug)]
pub struct Cs<'a> {
    client: &'a Client,
}

impl Client {
    pub fn cs(&self) -> Cs<'_> {
        Cs { client: self }
    }
}

/// The largest page DescribeClustersV1 and DescribeClusterNodes return.
const MAX_PAGE_SIZE: u32 = 100;

/// A `key`/`value` pair: cluster tags, node labels.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// A node taint.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Taint {
    pub key: String,
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// CreateCluster's body. `cluster_type` is `ManagedKubernetes` (ACK managed) or `Kubernetes`
/// (dedicated: give `master_instance_types`, and `master_count` 3 or 5).
#[derive(Clone, Debug, Default, Serialize)]
pub struct CreateClusterRequest {
    pub name: String,
    pub region_id: String,
    pub cluster_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_spec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpcid: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vswitch_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_count: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub master_instance_types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub master_vswitch_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_system_disk_category: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodepools: Vec<NodePoolSpec>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
    pub deletion_protection: bool,
    /// Idempotency token; one is generated when absent and kept across retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

/// A node pool, as CreateCluster's `nodepools[]` and CreateClusterNodePool take it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NodePoolSpec {
    pub nodepool_info: NodePoolInfoSpec,
    pub scaling_group: ScalingGroupSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_config: Option<KubernetesConfigSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling: Option<AutoScalingSpec>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct NodePoolInfoSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The ESS side of a node pool. In ModifyClusterNodePool every field is optional.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScalingGroupSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vswitch_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_charge_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_disk_category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_disk_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_group_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<KeyValue>>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct KubernetesConfigSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<KeyValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taints: Option<Vec<Taint>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unschedulable: Option<bool>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct AutoScalingSpec {
    pub enable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_instances: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<u32>,
}

/// What a cluster- or node-pool-changing call started.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Started {
    pub cluster_id: String,
    pub nodepool_id: String,
    pub task_id: String,
    pub request_id: String,
}

/// A cluster, as DescribeClusterDetail and DescribeClustersV1 return it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Cluster {
    pub cluster_id: String,
    pub name: String,
    /// `initial`, `running`, `failed`, `deleting`, …
    pub state: String,
    pub cluster_type: String,
    pub cluster_spec: String,
    pub profile: String,
    pub region_id: String,
    pub zone_id: String,
    pub vpc_id: String,
    pub vswitch_ids: Vec<String>,
    pub current_version: String,
    /// Nodes, masters included.
    pub size: u32,
    /// A JSON document in a string: `{"api_server_endpoint", "intranet_api_server_endpoint"}`.
    pub master_url: String,
    pub created: String,
    pub updated: String,
    pub deletion_protection: bool,
    pub tags: Vec<KeyValue>,
}

impl Cluster {
    /// The public API server address, decoded from `master_url`.
    pub fn api_server_endpoint(&self) -> Option<String> {
        let urls: serde_json::Value = serde_json::from_str(&self.master_url).ok()?;
        urls.get("api_server_endpoint")?
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }
}

/// Filters and paging of DescribeClustersV1.
#[derive(Clone, Debug, Default)]
pub struct DescribeClustersRequest {
    pub name: Option<String>,
    pub cluster_type: Option<String>,
    pub region_id: Option<String>,
    pub cluster_id: Option<String>,
    pub page_number: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ClustersPage {
    pub clusters: Vec<Cluster>,
    pub page_info: PageInfo,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PageInfo {
    pub page_number: u32,
    pub page_size: u32,
    pub total_count: u64,
}

/// DeleteCluster's options.
#[derive(Clone, Debug, Default)]
pub struct DeleteClusterOptions {
    pub retain_all_resources: bool,
    pub keep_slb: bool,
    pub retain_resources: Vec<String>,
}

/// A cluster's kubeconfig.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Kubeconfig {
    /// The kubeconfig document (YAML).
    pub config: String,
    /// When its credential expires.
    pub expiration: String,
}

/// A node pool.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NodePool {
    pub nodepool_info: NodePoolInfo,
    pub status: NodePoolStatus,
    pub scaling_group: NodePoolScalingGroup,
    pub auto_scaling: NodePoolAutoScaling,
    pub kubernetes_config: NodePoolKubernetesConfig,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct NodePoolInfo {
    pub nodepool_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub is_default: bool,
    pub region_id: String,
    pub created: String,
    pub updated: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct NodePoolStatus {
    /// `active`, `scaling`, `removing`, `deleting`, `updating`.
    pub state: String,
    pub total_nodes: u32,
    pub serving_nodes: u32,
    pub healthy_nodes: u32,
    pub initial_nodes: u32,
    pub failed_nodes: u32,
    pub offline_nodes: u32,
    pub removing_nodes: u32,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct NodePoolScalingGroup {
    pub scaling_group_id: String,
    pub desired_size: u32,
    pub vswitch_ids: Vec<String>,
    pub instance_types: Vec<String>,
    pub instance_charge_type: String,
    pub image_id: String,
    pub system_disk_category: String,
    pub spot_strategy: String,
    pub tags: Vec<KeyValue>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct NodePoolAutoScaling {
    pub enable: bool,
    pub min_instances: u32,
    pub max_instances: u32,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct NodePoolKubernetesConfig {
    pub labels: Vec<KeyValue>,
    pub taints: Vec<Taint>,
    pub runtime: String,
    pub runtime_version: String,
    pub unschedulable: bool,
}

#[derive(Deserialize)]
struct NodePools {
    #[serde(default)]
    nodepools: Vec<NodePool>,
}

/// Filters and paging of DescribeClusterNodes.
#[derive(Clone, Debug, Default)]
pub struct DescribeClusterNodesRequest {
    pub nodepool_id: Option<String>,
    /// `all`, `running`, `pending`, …
    pub state: Option<String>,
    pub instance_ids: Vec<String>,
    pub node_names: Vec<String>,
    pub page_number: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NodesPage {
    pub nodes: Vec<Node>,
    pub page: PageInfo,
}

/// A cluster node.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Node {
    pub instance_id: String,
    pub instance_name: String,
    /// `<region>.<instance-id>`, also the node's provider ID.
    pub node_name: String,
    /// `Ready`, `NotReady`, `Unknown`, `Offline`.
    pub node_status: String,
    /// `pending`, `starting`, `running`, …
    pub state: String,
    pub instance_type: String,
    /// `Master` or `Worker`.
    pub instance_role: String,
    pub ip_address: Vec<String>,
    pub nodepool_id: String,
    pub creation_time: String,
    pub instance_charge_type: String,
    pub spot_strategy: String,
    pub error_message: String,
}

/// Which nodes RemoveNodePoolNodes takes out.
#[derive(Clone, Debug, Default)]
pub struct RemoveNodePoolNodesRequest {
    pub instance_ids: Vec<String>,
    /// Node names (`<region>.<instance-id>`), as an alternative to instance ids.
    pub nodes: Vec<String>,
    /// Release the instances (the default) rather than keep them.
    pub release_node: Option<bool>,
    pub drain_node: Option<bool>,
}

/// A task, as DescribeTaskInfo returns it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Task {
    pub task_id: String,
    pub cluster_id: String,
    pub task_type: String,
    /// `running`, `success` or `fail`.
    pub state: String,
    pub created: String,
    pub updated: String,
    pub current_stage: String,
    pub error: Option<TaskError>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct TaskError {
    pub code: String,
    pub message: String,
}

/// One Kubernetes version ACK offers.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct KubernetesVersion {
    pub version: String,
    pub creatable: bool,
    pub upgradable_versions: Vec<String>,
}

fn body<T: Serialize>(value: &T) -> Option<serde_json::Value> {
    // Every request struct here serializes to an object; failure would be a bug in this file.
    Some(serde_json::to_value(value).expect("CS request bodies serialize"))
}

/// A path segment taken from a caller, encoded so it cannot change the path.
fn seg(id: &str) -> String {
    percent_encode(id)
}

impl Cs<'_> {
    async fn call<T: DeserializeOwned>(
        &self,
        action: &str,
        method: Method,
        path: &str,
        query: Params,
        body: Option<serde_json::Value>,
    ) -> Result<T> {
        self.client
            .roa(Product::Cs, action, method, path, query, body)
            .await
    }

    /// Creates a cluster; it is `initial` until its control plane and nodes are up.
    pub async fn create_cluster(&self, request: &CreateClusterRequest) -> Result<Started> {
        let request = CreateClusterRequest {
            client_token: Some(token_or_fresh(request.client_token.as_deref())),
            ..request.clone()
        };
        self.call(
            "CreateCluster",
            Method::POST,
            "/clusters",
            Params::new(),
            body(&request),
        )
        .await
    }

    /// One cluster.
    pub async fn describe_cluster_detail(&self, cluster_id: &str) -> Result<Cluster> {
        let path = format!("/clusters/{}", seg(cluster_id));
        self.call(
            "DescribeClusterDetail",
            Method::GET,
            &path,
            Params::new(),
            None,
        )
        .await
    }

    /// One page of clusters.
    pub async fn describe_clusters(
        &self,
        request: &DescribeClustersRequest,
    ) -> Result<ClustersPage> {
        let query = Params::new()
            .put_opt("name", request.name.as_deref())
            .put_opt("cluster_type", request.cluster_type.as_deref())
            .put_opt("region_id", request.region_id.as_deref())
            .put_opt("cluster_id", request.cluster_id.as_deref())
            .put_opt("page_number", request.page_number)
            .put_opt("page_size", request.page_size);
        self.call(
            "DescribeClustersV1",
            Method::GET,
            "/api/v1/clusters",
            query,
            None,
        )
        .await
    }

    /// Every cluster matching `request`.
    pub async fn describe_all_clusters(
        &self,
        request: &DescribeClustersRequest,
    ) -> Result<Vec<Cluster>> {
        paginate_request(request, MAX_PAGE_SIZE, |page| async move {
            let response = self.describe_clusters(&page).await?;
            Ok((response.clusters, response.page_info.total_count))
        })
        .await
    }

    /// Deletes a cluster and what it created; it is `deleting`, then gone.
    pub async fn delete_cluster(
        &self,
        cluster_id: &str,
        options: &DeleteClusterOptions,
    ) -> Result<Started> {
        let path = format!("/clusters/{}", seg(cluster_id));
        let query = Params::new()
            .put_opt(
                "retain_all_resources",
                options.retain_all_resources.then_some(true),
            )
            .put_opt("keep_slb", options.keep_slb.then_some(true))
            .put_json("retain_resources", &options.retain_resources);
        self.call("DeleteCluster", Method::DELETE, &path, query, None)
            .await
    }

    /// The user kubeconfig; `private_ip` asks for the intranet endpoint, `temporary_minutes`
    /// for a short-lived credential (15–4320).
    pub async fn describe_cluster_user_kubeconfig(
        &self,
        cluster_id: &str,
        private_ip: bool,
        temporary_minutes: Option<u32>,
    ) -> Result<Kubeconfig> {
        let path = format!("/k8s/{}/user_config", seg(cluster_id));
        let query = Params::new()
            .put_opt("PrivateIpAddress", private_ip.then_some(true))
            .put_opt("TemporaryDurationMinutes", temporary_minutes);
        self.call(
            "DescribeClusterUserKubeconfig",
            Method::GET,
            &path,
            query,
            None,
        )
        .await
    }

    /// Adds a node pool to a cluster.
    pub async fn create_cluster_node_pool(
        &self,
        cluster_id: &str,
        pool: &NodePoolSpec,
    ) -> Result<Started> {
        let path = format!("/clusters/{}/nodepools", seg(cluster_id));
        self.call(
            "CreateClusterNodePool",
            Method::POST,
            &path,
            Params::new(),
            body(pool),
        )
        .await
    }

    /// A cluster's node pools.
    pub async fn describe_cluster_node_pools(&self, cluster_id: &str) -> Result<Vec<NodePool>> {
        let path = format!("/clusters/{}/nodepools", seg(cluster_id));
        let pools: NodePools = self
            .call(
                "DescribeClusterNodePools",
                Method::GET,
                &path,
                Params::new(),
                None,
            )
            .await?;
        Ok(pools.nodepools)
    }

    /// One node pool.
    pub async fn describe_cluster_node_pool_detail(
        &self,
        cluster_id: &str,
        nodepool_id: &str,
    ) -> Result<NodePool> {
        let path = format!(
            "/clusters/{}/nodepools/{}",
            seg(cluster_id),
            seg(nodepool_id)
        );
        self.call(
            "DescribeClusterNodePoolDetail",
            Method::GET,
            &path,
            Params::new(),
            None,
        )
        .await
    }

    /// Changes a node pool: name, size (`scaling_group.desired_size`), instance types,
    /// autoscaling bounds, labels and taints. Unset fields stay as they are.
    pub async fn modify_cluster_node_pool(
        &self,
        cluster_id: &str,
        nodepool_id: &str,
        change: &NodePoolSpec,
    ) -> Result<Started> {
        let path = format!(
            "/clusters/{}/nodepools/{}",
            seg(cluster_id),
            seg(nodepool_id)
        );
        self.call(
            "ModifyClusterNodePool",
            Method::PUT,
            &path,
            Params::new(),
            body(change),
        )
        .await
    }

    /// Adds `count` nodes to a node pool.
    pub async fn scale_cluster_node_pool(
        &self,
        cluster_id: &str,
        nodepool_id: &str,
        count: u32,
    ) -> Result<Started> {
        let path = format!(
            "/clusters/{}/nodepools/{}",
            seg(cluster_id),
            seg(nodepool_id)
        );
        self.call(
            "ScaleClusterNodePool",
            Method::POST,
            &path,
            Params::new(),
            Some(serde_json::json!({ "count": count })),
        )
        .await
    }

    /// Deletes a node pool; `force` also releases its nodes.
    pub async fn delete_cluster_nodepool(
        &self,
        cluster_id: &str,
        nodepool_id: &str,
        force: bool,
    ) -> Result<Started> {
        let path = format!(
            "/clusters/{}/nodepools/{}",
            seg(cluster_id),
            seg(nodepool_id)
        );
        let query = Params::new().put_opt("force", force.then_some(true));
        self.call("DeleteClusterNodepool", Method::DELETE, &path, query, None)
            .await
    }

    /// One page of a cluster's nodes.
    pub async fn describe_cluster_nodes(
        &self,
        cluster_id: &str,
        request: &DescribeClusterNodesRequest,
    ) -> Result<NodesPage> {
        let path = format!("/clusters/{}/nodes", seg(cluster_id));
        let comma = |v: &[String]| (!v.is_empty()).then(|| v.join(","));
        let query = Params::new()
            .put_opt("nodepool_id", request.nodepool_id.as_deref())
            .put_opt("state", request.state.as_deref())
            .put_opt("instanceIds", comma(&request.instance_ids))
            .put_opt("nodeNames", comma(&request.node_names))
            .put_opt("pageNumber", request.page_number)
            .put_opt("pageSize", request.page_size);
        self.call("DescribeClusterNodes", Method::GET, &path, query, None)
            .await
    }

    /// Every node of a cluster matching `request`.
    pub async fn describe_all_cluster_nodes(
        &self,
        cluster_id: &str,
        request: &DescribeClusterNodesRequest,
    ) -> Result<Vec<Node>> {
        paginate_request(request, MAX_PAGE_SIZE, |page| async move {
            let response = self.describe_cluster_nodes(cluster_id, &page).await?;
            Ok((response.nodes, response.page.total_count))
        })
        .await
    }

    /// Takes nodes out of a node pool (and releases them unless `release_node` is false).
    pub async fn remove_node_pool_nodes(
        &self,
        cluster_id: &str,
        nodepool_id: &str,
        request: &RemoveNodePoolNodesRequest,
    ) -> Result<Started> {
        let path = format!(
            "/clusters/{}/nodepools/{}/nodes",
            seg(cluster_id),
            seg(nodepool_id)
        );
        let query = Params::new()
            .put_json("instance_ids", &request.instance_ids)
            .put_json("nodes", &request.nodes)
            .put_opt("release_node", request.release_node)
            .put_opt("drain_node", request.drain_node);
        self.call("RemoveNodePoolNodes", Method::DELETE, &path, query, None)
            .await
    }

    /// A task's progress.
    pub async fn describe_task_info(&self, task_id: &str) -> Result<Task> {
        let path = format!("/tasks/{}", seg(task_id));
        self.call("DescribeTaskInfo", Method::GET, &path, Params::new(), None)
            .await
    }

    /// The Kubernetes versions ACK offers for `cluster_type` in `region`.
    pub async fn describe_kubernetes_version_metadata(
        &self,
        region: &str,
        cluster_type: &str,
    ) -> Result<Vec<KubernetesVersion>> {
        let query = Params::new()
            .put("Region", region)
            .put("ClusterType", cluster_type);
        self.call(
            "DescribeKubernetesVersionMetadata",
            Method::GET,
            "/api/v1/metadata/versions",
            query,
            None,
        )
        .await
    }
}

paged_request!(DescribeClustersRequest, DescribeClusterNodesRequest);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_server_endpoint_is_read_from_the_master_url_document() {
        let cluster = Cluster {
            master_url: r#"{"api_server_endpoint":"https://1.2.3.4:6443","intranet_api_server_endpoint":""}"#.into(),
            ..Cluster::default()
        };
        assert_eq!(
            cluster.api_server_endpoint().as_deref(),
            Some("https://1.2.3.4:6443")
        );
        assert_eq!(Cluster::default().api_server_endpoint(), None);
    }

    #[test]
    fn unset_fields_are_left_out_of_request_bodies() {
        let change = NodePoolSpec {
            scaling_group: ScalingGroupSpec {
                desired_size: Some(4),
                ..ScalingGroupSpec::default()
            },
            ..NodePoolSpec::default()
        };
        assert_eq!(
            serde_json::to_value(&change).unwrap(),
            serde_json::json!({"nodepool_info": {}, "scaling_group": {"desired_size": 4}})
        );
    }

    #[test]
    fn path_ids_cannot_escape_their_segment() {
        assert_eq!(seg("c1/../../x"), "c1%2F..%2F..%2Fx");
    }
}
