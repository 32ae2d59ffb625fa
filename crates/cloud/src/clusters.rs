//! ACK clusters and their node pools as the control plane drives them.
//!
//! ```text
//!   server ──▶ ClusterCloud (one per endpoint) ──clusters(key, region)──▶ dyn Clusters
//!                                                                          │
//!                          Ack (this file) ── aliyun::cs / aliyun::ecs ────┘
//! ```
//!
//! Every mutating call is safe to repeat, because the control plane repeats them after a
//! crash: a create carries a client token that is also written as a tag on the cluster, so
//! [`Clusters::find_cluster`] finds what an interrupted create made; node pools are found by
//! their name, which ACK keeps unique within a cluster; a resize sets an absolute size; a
//! delete of something already gone succeeds.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};

use crate::{Error, Result};

/// The tag that carries a create's client token, so an interrupted create can be found.
pub const CLIENT_TOKEN_TAG: &str = "ackctl.io/client-token";

/// An access key pair for the cloud.
#[derive(Clone, Debug)]
pub struct AccessKey {
    pub id: String,
    pub secret: SecretString,
}

/// The dedicated control plane of a cluster whose masters are the user's instances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Masters {
    /// 3 or 5.
    pub count: u32,
    pub instance_type: String,
    pub system_disk_category: String,
}

/// A node taint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// A set of identical worker nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePoolSpec {
    pub name: String,
    pub instance_type: String,
    pub count: u32,
    /// Autoscaling bounds, when the pool may scale by itself.
    pub min_count: Option<u32>,
    pub max_count: Option<u32>,
    pub image: Option<String>,
    pub system_disk_category: Option<String>,
    pub system_disk_size: Option<u32>,
    pub labels: Vec<(String, String)>,
    pub taints: Vec<Taint>,
}

/// A cluster to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSpec {
    pub name: String,
    pub region: String,
    pub zone: String,
    pub kubernetes_version: Option<String>,
    /// `None`: a managed control plane.
    pub masters: Option<Masters>,
    pub node_pools: Vec<NodePoolSpec>,
    pub tags: Vec<(String, String)>,
}

/// Where a cluster is in its life, as the cloud reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterState {
    /// Being created (or changed); not usable yet.
    Provisioning,
    Running,
    /// The cloud gave up; the message says why.
    Failed(String),
    Deleting,
}

/// A cluster as the cloud reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    pub id: String,
    pub name: String,
    pub state: ClusterState,
    /// The public Kubernetes API address, once there is one.
    pub api_server: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// A node pool as the cloud reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePoolInfo {
    pub id: String,
    pub name: String,
    pub desired: u32,
    pub total_nodes: u32,
    pub healthy_nodes: u32,
    /// Whether the pool has stopped changing (`active` on ACK).
    pub settled: bool,
}

/// A zone of the region and the instance types on sale there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub id: String,
    pub instance_types: Vec<String>,
    pub disk_categories: Vec<String>,
}

/// A new size for a node pool; `None` leaves that part as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolSize {
    pub count: Option<u32>,
    pub min_count: Option<u32>,
    pub max_count: Option<u32>,
}

/// Kubernetes clusters of one account in one region.
pub trait Clusters: Send + Sync {
    /// Whether the credentials work at all (a read that any key with access can do).
    fn verify_credentials(&self) -> BoxFuture<'_, Result<()>>;

    /// The region's zones and what they sell, to check a request before anything is created.
    fn zones(&self) -> BoxFuture<'_, Result<Vec<Zone>>>;

    /// Starts creating a cluster; returns its id. `client_token` makes a repeated call return
    /// the first call's cluster where the cloud honours tokens, and is also tagged on the
    /// cluster for [`Clusters::find_cluster`].
    fn create_cluster<'a>(
        &'a self,
        spec: &'a ClusterSpec,
        client_token: &'a str,
    ) -> BoxFuture<'a, Result<String>>;

    /// The cluster a create with `client_token` made, if any.
    fn find_cluster<'a>(
        &'a self,
        name: &'a str,
        client_token: &'a str,
    ) -> BoxFuture<'a, Result<Option<ClusterInfo>>>;

    /// One cluster; [`Error::NotFound`] once it is gone.
    fn describe_cluster<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<ClusterInfo>>;

    /// Starts deleting a cluster and everything it made. A cluster already gone is not an error.
    fn delete_cluster<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>>;

    /// A kubeconfig document (YAML) for the cluster's administrator.
    fn kubeconfig<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<String>>;

    fn node_pools<'a>(&'a self, cluster: &'a str) -> BoxFuture<'a, Result<Vec<NodePoolInfo>>>;

    /// Adds a node pool; returns its id. A pool of that name already there is returned instead
    /// of a second one.
    fn add_node_pool<'a>(
        &'a self,
        cluster: &'a str,
        spec: &'a NodePoolSpec,
    ) -> BoxFuture<'a, Result<String>>;

    /// Sets a pool's size (absolute, so repeating it changes nothing).
    fn resize_node_pool<'a>(
        &'a self,
        cluster: &'a str,
        pool: &'a str,
        size: PoolSize,
    ) -> BoxFuture<'a, Result<()>>;

    /// Deletes a pool and releases its nodes. A pool already gone is not an error.
    fn delete_node_pool<'a>(&'a self, cluster: &'a str, pool: &'a str)
    -> BoxFuture<'a, Result<()>>;
}

/// Hands out [`Clusters`] for an account and region: the one place that knows which cloud
/// (and which endpoint) is behind them.
pub trait ClusterCloud: Send + Sync {
    fn clusters(&self, key: &AccessKey, region: &str) -> Result<Arc<dyn Clusters>>;
}

/// Alibaba Cloud (or its emulator, or any endpoint speaking its API).
#[derive(Clone, Debug, Default)]
pub struct Alibaba {
    endpoint: Option<String>,
    retry: Option<aliyun::retry::RetryPolicy>,
}

impl Alibaba {
    /// `endpoint`: send every product there (the emulator, `http://127.0.0.1:PORT`) instead of
    /// the public endpoints.
    pub fn new(endpoint: Option<String>) -> Self {
        Alibaba {
            endpoint,
            retry: None,
        }
    }

    /// Retries quickly: for an emulator on loopback, where waiting a second is wasted time.
    pub fn with_fast_retries(mut self) -> Self {
        self.retry = Some(aliyun::retry::RetryPolicy {
            max_attempts: 8,
            base_delay: std::time::Duration::from_millis(5),
            max_delay: std::time::Duration::from_millis(100),
        });
        self
    }

    /// The client for `key` in `region`.
    pub fn ack(&self, key: &AccessKey, region: &str) -> Result<Ack> {
        let mut builder = aliyun::Client::builder()
            .credentials(aliyun::Credentials::new(
                key.id.clone(),
                key.secret.expose_secret().to_owned(),
            ))
            .region(region);
        builder = match &self.endpoint {
            Some(endpoint) => builder.endpoint(endpoint.clone()),
            None => builder.endpoints(aliyun::Endpoints::public()),
        };
        if let Some(retry) = &self.retry {
            builder = builder.retry(*retry);
        }
        Ok(Ack {
            client: builder.build()?,
        })
    }
}

impl ClusterCloud for Alibaba {
    fn clusters(&self, key: &AccessKey, region: &str) -> Result<Arc<dyn Clusters>> {
        Ok(Arc::new(self.ack(key, region)?))
    }
}

/// ACK through the CS API.
#[derive(Clone, Debug)]
pub struct Ack {
    client: aliyun::Client,
}

/// ACK's cluster state names mapped to ours.
fn cluster_state(state: &str) -> ClusterState {
    match state {
        "running" => ClusterState::Running,
        "failed" => ClusterState::Failed(format!("the cloud reports the cluster {state}")),
        "deleting" | "delete_failed" | "deleted" => ClusterState::Deleting,
        // initial, updating, scaling, upgrading, waiting…: changing, not usable yet or soon.
        _ => ClusterState::Provisioning,
    }
}

fn cluster_info(c: aliyun::cs::Cluster) -> ClusterInfo {
    ClusterInfo {
        api_server: c.api_server_endpoint(),
        state: cluster_state(&c.state),
        id: c.cluster_id,
        name: c.name,
        tags: c.tags.into_iter().map(|t| (t.key, t.value)).collect(),
    }
}

fn pool_info(p: aliyun::cs::NodePool) -> NodePoolInfo {
    NodePoolInfo {
        id: p.nodepool_info.nodepool_id,
        name: p.nodepool_info.name,
        desired: p.scaling_group.desired_size,
        total_nodes: p.status.total_nodes,
        healthy_nodes: p.status.healthy_nodes,
        settled: p.status.state == "active",
    }
}

/// CreateCluster's and CreateClusterNodePool's form of a pool.
pub fn ack_pool(spec: &NodePoolSpec) -> aliyun::cs::NodePoolSpec {
    use aliyun::cs::{
        AutoScalingSpec, KeyValue, KubernetesConfigSpec, NodePoolInfoSpec, ScalingGroupSpec,
    };
    let auto_scaling = match (spec.min_count, spec.max_count) {
        (None, None) => None,
        (min, max) => Some(AutoScalingSpec {
            enable: true,
            min_instances: Some(min.unwrap_or(0)),
            max_instances: Some(max.unwrap_or(spec.count.max(min.unwrap_or(0)))),
        }),
    };
    let kubernetes_config =
        (!spec.labels.is_empty() || !spec.taints.is_empty()).then(|| KubernetesConfigSpec {
            labels: Some(
                spec.labels
                    .iter()
                    .map(|(k, v)| KeyValue::new(k, v))
                    .collect(),
            ),
            taints: Some(
                spec.taints
                    .iter()
                    .map(|t| aliyun::cs::Taint {
                        key: t.key.clone(),
                        value: t.value.clone(),
                        effect: t.effect.clone(),
                    })
                    .collect(),
            ),
            ..KubernetesConfigSpec::default()
        });
    aliyun::cs::NodePoolSpec {
        nodepool_info: NodePoolInfoSpec {
            name: Some(spec.name.clone()),
        },
        scaling_group: ScalingGroupSpec {
            instance_types: Some(vec![spec.instance_type.clone()]),
            instance_charge_type: Some("PostPaid".to_owned()),
            system_disk_category: spec.system_disk_category.clone(),
            system_disk_size: spec.system_disk_size,
            desired_size: Some(spec.count),
            image_id: spec.image.clone(),
            ..ScalingGroupSpec::default()
        },
        kubernetes_config,
        auto_scaling,
    }
}

/// CreateCluster's body for `spec`.
pub fn ack_create_request(
    spec: &ClusterSpec,
    client_token: &str,
) -> aliyun::cs::CreateClusterRequest {
    use aliyun::cs::{CreateClusterRequest, KeyValue};
    let mut tags: Vec<KeyValue> = spec.tags.iter().map(|(k, v)| KeyValue::new(k, v)).collect();
    tags.push(KeyValue::new(CLIENT_TOKEN_TAG, client_token));
    let (cluster_type, master_count, master_types, master_disk) = match &spec.masters {
        Some(m) => (
            "Kubernetes",
            Some(m.count),
            vec![m.instance_type.clone()],
            Some(m.system_disk_category.clone()),
        ),
        None => ("ManagedKubernetes", None, Vec::new(), None),
    };
    CreateClusterRequest {
        name: spec.name.clone(),
        region_id: spec.region.clone(),
        cluster_type: cluster_type.to_owned(),
        kubernetes_version: spec.kubernetes_version.clone(),
        zone_id: Some(spec.zone.clone()),
        master_count,
        master_instance_types: master_types,
        master_system_disk_category: master_disk,
        nodepools: spec.node_pools.iter().map(ack_pool).collect(),
        tags,
        client_token: Some(client_token.to_owned()),
        ..CreateClusterRequest::default()
    }
}

impl Ack {
    pub fn new(client: aliyun::Client) -> Self {
        Ack { client }
    }

    async fn find_pool(&self, cluster: &str, name: &str) -> Result<Option<NodePoolInfo>> {
        let pools = self
            .client
            .cs()
            .describe_cluster_node_pools(cluster)
            .await?;
        Ok(pools.into_iter().map(pool_info).find(|p| p.name == name))
    }
}

/// `Ok(())` for a not-found error: the thing to delete is already gone.
fn gone_is_done(result: aliyun::Result<aliyun::cs::Started>) -> Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == aliyun::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl Clusters for Ack {
    fn verify_credentials(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.client.ecs().describe_regions().await?;
            Ok(())
        })
    }

    fn zones(&self) -> BoxFuture<'_, Result<Vec<Zone>>> {
        Box::pin(async move {
            let response = self
                .client
                .ecs()
                .describe_zones(&aliyun::ecs::DescribeZonesRequest {
                    verbose: Some(true),
                    ..Default::default()
                })
                .await?;
            Ok(response
                .zones
                .into_iter()
                .map(|z| Zone {
                    id: z.zone_id,
                    instance_types: z.available_instance_types,
                    disk_categories: z.available_disk_categories,
                })
                .collect())
        })
    }

    fn create_cluster<'a>(
        &'a self,
        spec: &'a ClusterSpec,
        client_token: &'a str,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let started = self
                .client
                .cs()
                .create_cluster(&ack_create_request(spec, client_token))
                .await?;
            if started.cluster_id.is_empty() {
                return Err(Error::Other(
                    "CreateCluster answered without a cluster id".to_owned(),
                ));
            }
            Ok(started.cluster_id)
        })
    }

    fn find_cluster<'a>(
        &'a self,
        name: &'a str,
        client_token: &'a str,
    ) -> BoxFuture<'a, Result<Option<ClusterInfo>>> {
        Box::pin(async move {
            let request = aliyun::cs::DescribeClustersRequest {
                name: Some(name.to_owned()),
                ..Default::default()
            };
            let clusters = self.client.cs().describe_all_clusters(&request).await?;
            Ok(clusters.into_iter().map(cluster_info).find(|c| {
                c.tags
                    .iter()
                    .any(|(k, v)| k == CLIENT_TOKEN_TAG && v == client_token)
            }))
        })
    }

    fn describe_cluster<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<ClusterInfo>> {
        Box::pin(async move {
            let c = self.client.cs().describe_cluster_detail(id).await?;
            Ok(cluster_info(c))
        })
    }

    fn delete_cluster<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            gone_is_done(
                self.client
                    .cs()
                    .delete_cluster(id, &aliyun::cs::DeleteClusterOptions::default())
                    .await,
            )
        })
    }

    fn kubeconfig<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let k = self
                .client
                .cs()
                .describe_cluster_user_kubeconfig(id, false, None)
                .await?;
            Ok(k.config)
        })
    }

    fn node_pools<'a>(&'a self, cluster: &'a str) -> BoxFuture<'a, Result<Vec<NodePoolInfo>>> {
        Box::pin(async move {
            let pools = self
                .client
                .cs()
                .describe_cluster_node_pools(cluster)
                .await?;
            Ok(pools.into_iter().map(pool_info).collect())
        })
    }

    fn add_node_pool<'a>(
        &'a self,
        cluster: &'a str,
        spec: &'a NodePoolSpec,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            // CreateClusterNodePool takes no client token: the pool's name is the idempotency key.
            if let Some(existing) = self.find_pool(cluster, &spec.name).await? {
                return Ok(existing.id);
            }
            let started = self
                .client
                .cs()
                .create_cluster_node_pool(cluster, &ack_pool(spec))
                .await?;
            if started.nodepool_id.is_empty() {
                return Err(Error::Other(
                    "CreateClusterNodePool answered without a node pool id".to_owned(),
                ));
            }
            Ok(started.nodepool_id)
        })
    }

    fn resize_node_pool<'a>(
        &'a self,
        cluster: &'a str,
        pool: &'a str,
        size: PoolSize,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            use aliyun::cs::{AutoScalingSpec, NodePoolSpec, ScalingGroupSpec};
            let auto_scaling = match (size.min_count, size.max_count) {
                (None, None) => None,
                (min, max) => Some(AutoScalingSpec {
                    enable: true,
                    min_instances: min,
                    max_instances: max,
                }),
            };
            let change = NodePoolSpec {
                scaling_group: ScalingGroupSpec {
                    desired_size: size.count,
                    ..ScalingGroupSpec::default()
                },
                auto_scaling,
                ..NodePoolSpec::default()
            };
            self.client
                .cs()
                .modify_cluster_node_pool(cluster, pool, &change)
                .await?;
            Ok(())
        })
    }

    fn delete_node_pool<'a>(
        &'a self,
        cluster: &'a str,
        pool: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            gone_is_done(
                self.client
                    .cs()
                    .delete_cluster_nodepool(cluster, pool, true)
                    .await,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_spec() -> ClusterSpec {
        ClusterSpec {
            name: "alibabacluster".into(),
            region: "eu-central-1".into(),
            zone: "eu-central-1a".into(),
            kubernetes_version: None,
            masters: Some(Masters {
                count: 3,
                instance_type: "ecs.sn1ne.large".into(),
                system_disk_category: "cloud_efficiency".into(),
            }),
            node_pools: vec![NodePoolSpec {
                name: "pool1".into(),
                instance_type: "ecs.sn1ne.large".into(),
                count: 1,
                min_count: None,
                max_count: None,
                image: Some("centos_7".into()),
                system_disk_category: Some("cloud_efficiency".into()),
                system_disk_size: None,
                labels: vec![],
                taints: vec![],
            }],
            tags: vec![],
        }
    }

    #[test]
    fn a_cluster_with_masters_is_a_dedicated_cluster_with_the_token_tagged() {
        let body = serde_json::to_value(ack_create_request(&seed_spec(), "tok-1")).unwrap();
        assert_eq!(body["cluster_type"], "Kubernetes");
        assert_eq!(body["master_count"], 3);
        assert_eq!(body["master_instance_types"][0], "ecs.sn1ne.large");
        assert_eq!(body["zone_id"], "eu-central-1a");
        assert_eq!(body["client_token"], "tok-1");
        assert_eq!(
            body["tags"][0],
            serde_json::json!({"key": CLIENT_TOKEN_TAG, "value": "tok-1"})
        );
        let pool = &body["nodepools"][0];
        assert_eq!(pool["nodepool_info"]["name"], "pool1");
        assert_eq!(pool["scaling_group"]["desired_size"], 1);
        assert_eq!(pool["scaling_group"]["image_id"], "centos_7");
        assert!(pool.get("auto_scaling").is_none());
    }

    #[test]
    fn a_cluster_without_masters_is_managed() {
        let spec = ClusterSpec {
            masters: None,
            ..seed_spec()
        };
        let body = serde_json::to_value(ack_create_request(&spec, "t")).unwrap();
        assert_eq!(body["cluster_type"], "ManagedKubernetes");
        assert!(body.get("master_count").is_none());
    }

    #[test]
    fn pool_bounds_turn_on_autoscaling() {
        let mut pool = seed_spec().node_pools.remove(0);
        pool.min_count = Some(1);
        pool.max_count = Some(5);
        let body = serde_json::to_value(ack_pool(&pool)).unwrap();
        assert_eq!(
            body["auto_scaling"],
            serde_json::json!({"enable": true, "min_instances": 1, "max_instances": 5})
        );
    }

    #[test]
    fn ack_states_map_to_what_the_control_plane_acts_on() {
        assert_eq!(cluster_state("running"), ClusterState::Running);
        assert_eq!(cluster_state("initial"), ClusterState::Provisioning);
        assert_eq!(cluster_state("deleting"), ClusterState::Deleting);
        assert!(matches!(cluster_state("failed"), ClusterState::Failed(_)));
    }
}
