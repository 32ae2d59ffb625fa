//! The autoscaler against an emulated ACK cluster, as against a real one: the cluster and its
//! auto-scaling node pools are created through CS, the controller reaches the cluster's own
//! Kubernetes API over HTTPS with the kubeconfig CS hands out, and finds the pools with
//! `--node-group-auto-discovery=ack:cluster=<id>`. Nothing is faked on the Kubernetes side: the
//! emulated scheduler marks pods that fit nowhere Unschedulable, the Deployment controller makes
//! the pods, and the simulated kubelets register a Node for each Running instance of the pool
//! and delete it when the instance is released.
//!
//! ```text
//!  Deployment ──▶ pods ──▶ scheduler: Unschedulable ──▶ autoscaler ──▶ ESS ScaleWithAdjustment
//!       ▲                                                               │
//!       │        pods Running ◀── scheduler binds ◀── Nodes register ◀──┘ instances Running
//!  scale to 0 ──▶ nodes empty ──(unneeded time)──▶ taint, RemoveInstances ──▶ Nodes gone
//! ```

use std::sync::Arc;
use std::time::Duration;

use aliyun::Client;
use aliyun::cs::{
    AutoScalingSpec, CreateClusterRequest, KeyValue, KubernetesConfigSpec, NodePoolInfoSpec,
    NodePoolSpec, ScalingGroupSpec,
};
use aliyun::ess::DescribeScalingGroupsRequest;
use aliyun_emu::{Emulator, FaultConfig};
use cloud::node_groups::{Discovery, EssNodeGroups, EssOptions, GPU_RESOURCE, NodeGroups};
use controllers::autoscaler::{Autoscaler, Config, Metrics};
use controllers::leader::Leadership;
use jiff::SignedDuration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::support;

const REGION: &str = "cn-hangzhou";

/// A pool of the cluster: name, instance type, vSwitch, (min, max).
struct PoolSpec {
    name: &'static str,
    instance_type: &'static str,
    vswitch: &'static str,
    bounds: (u32, u32),
    /// A node label the pool's nodes carry.
    label: Option<(&'static str, &'static str)>,
}

const WORKERS: PoolSpec = PoolSpec {
    name: "workers",
    instance_type: "ecs.g7.xlarge",
    vswitch: "vsw-cn-hangzhou-k",
    bounds: (1, 10),
    label: None,
};

/// GPU types are sold in the region's first zones only.
const GPUS: PoolSpec = PoolSpec {
    name: "gpu",
    instance_type: "ecs.gn6i-c4g1.xlarge",
    vswitch: "vsw-cn-hangzhou-h",
    bounds: (0, 3),
    label: None,
};

/// An emulated ACK cluster with auto-scaling pools, and a kube-rs client for its API.
struct AckCluster {
    emulator: Emulator,
    cloud: Client,
    id: String,
    kube: kube::Client,
}

impl AckCluster {
    async fn create(faults: FaultConfig, pools: &[PoolSpec]) -> Self {
        Self::create_with(faults, Vec::new(), pools).await
    }

    /// The same with a cap on how many instances of a type each zone can hold.
    async fn create_with(
        faults: FaultConfig,
        stock: Vec<aliyun_emu::StockLimit>,
        pools: &[PoolSpec],
    ) -> Self {
        let mut config = support::config();
        config.faults = faults;
        config.settings.stock = stock;
        let (emulator, url) = support::start(config).await;
        let cloud = support::client(&url);
        let started = cloud
            .cs()
            .create_cluster(&CreateClusterRequest {
                name: "autoscaled".into(),
                region_id: REGION.into(),
                cluster_type: "ManagedKubernetes".into(),
                vswitch_ids: vec!["vsw-cn-hangzhou-k".into(), "vsw-cn-hangzhou-h".into()],
                nodepools: pools
                    .iter()
                    .map(|p| NodePoolSpec {
                        nodepool_info: NodePoolInfoSpec {
                            name: Some(p.name.into()),
                        },
                        scaling_group: ScalingGroupSpec {
                            vswitch_ids: Some(vec![p.vswitch.into()]),
                            instance_types: Some(vec![p.instance_type.into()]),
                            desired_size: Some(p.bounds.0),
                            ..ScalingGroupSpec::default()
                        },
                        kubernetes_config: p.label.map(|(k, v)| KubernetesConfigSpec {
                            labels: Some(vec![KeyValue::new(k, v)]),
                            ..KubernetesConfigSpec::default()
                        }),
                        auto_scaling: Some(AutoScalingSpec {
                            enable: true,
                            min_instances: Some(p.bounds.0),
                            max_instances: Some(p.bounds.1),
                        }),
                    })
                    .collect(),
                ..CreateClusterRequest::default()
            })
            .await
            .unwrap();
        let id = started.cluster_id;
        wait_for("the cluster to run", Duration::from_secs(20), || async {
            cloud.cs().describe_cluster_detail(&id).await.unwrap().state == "running"
        })
        .await;
        let kubeconfig = cloud
            .cs()
            .describe_cluster_user_kubeconfig(&id, false, None)
            .await
            .unwrap()
            .config;
        let kc = kube::config::Kubeconfig::from_yaml(&kubeconfig).unwrap();
        let kube = kube::Client::try_from(
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .unwrap(),
        )
        .unwrap();
        let me = Self {
            emulator,
            cloud,
            id,
            kube,
        };
        let min_nodes: u32 = pools.iter().map(|p| p.bounds.0).sum();
        wait_for(
            "the first nodes to register",
            Duration::from_secs(20),
            || me.ready_nodes_are(min_nodes as usize),
        )
        .await;
        me
    }

    /// The scaling group behind each pool, in pool order.
    async fn groups(&self, pools: &[PoolSpec]) -> Vec<String> {
        let listed = self
            .cloud
            .cs()
            .describe_cluster_node_pools(&self.id)
            .await
            .unwrap();
        pools
            .iter()
            .map(|p| {
                listed
                    .iter()
                    .find(|n| n.nodepool_info.name == p.name)
                    .map(|n| n.scaling_group.scaling_group_id.clone())
                    .unwrap()
            })
            .collect()
    }

    /// (DesiredCapacity, instances in service) of a scaling group.
    async fn group_size(&self, id: &str) -> (u32, u32) {
        let g = self
            .cloud
            .ess()
            .describe_scaling_groups(&DescribeScalingGroupsRequest {
                scaling_group_ids: vec![id.into()],
                ..Default::default()
            })
            .await
            .unwrap()
            .scaling_groups
            .remove(0);
        (g.desired_capacity.unwrap_or_default(), g.total_capacity)
    }

    async fn nodes(&self) -> Vec<Node> {
        Api::<Node>::all(self.kube.clone())
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default()
    }

    async fn ready_nodes_are(&self, n: usize) -> bool {
        let nodes = self.nodes().await;
        nodes.len() == n
            && nodes.iter().all(|node| {
                node.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
    }

    /// Pods of `app` in the default namespace: (all, Running).
    async fn pods_of(&self, app: &str) -> (usize, usize) {
        let pods = Api::<Pod>::namespaced(self.kube.clone(), "default")
            .list(&ListParams::default().labels(&format!("app={app}")))
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let running = pods
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .count();
        (pods.len(), running)
    }

    /// Starts the autoscaler on the cluster's auto-scaling pools; returns its cloud-call
    /// counter and the task running it.
    async fn autoscaler(&self) -> (Arc<EssNodeGroups>, tokio::task::JoinHandle<()>) {
        self.autoscaler_with(Duration::from_secs(10), planner::Options::default())
            .await
    }

    /// The same with `--max-pod-eviction-time` and other decision flags set.
    async fn autoscaler_with(
        &self,
        eviction_timeout: Duration,
        options: planner::Options,
    ) -> (Arc<EssNodeGroups>, tokio::task::JoinHandle<()>) {
        let groups = Arc::new(
            EssNodeGroups::new(
                self.cloud.clone(),
                EssOptions {
                    discovery: vec![Discovery::AckCluster(self.id.clone())],
                    ..EssOptions::default()
                },
            )
            .unwrap(),
        );
        let config = Config {
            options: planner::Options {
                scale_down_unneeded_time: SignedDuration::from_secs(2),
                scale_down_delay_after_add: SignedDuration::from_secs(1),
                skip_nodes_with_system_pods: false,
                ..options
            },
            scan_interval: Duration::from_millis(300),
            eviction_timeout,
            max_node_provision_time: Duration::from_secs(2),
            ..Config::default()
        };
        let autoscaler = Autoscaler::start(
            self.kube.clone(),
            groups.clone(),
            config,
            Arc::new(Metrics::new()),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        let task = tokio::spawn(autoscaler.run(Leadership::always()));
        (groups, task)
    }

    async fn deploy(&self, name: &str, replicas: i32, requests: serde_json::Value) {
        self.deploy_on(name, replicas, requests, json!({})).await;
    }

    /// A Deployment whose pods select nodes with `selector`.
    async fn deploy_on(
        &self,
        name: &str,
        replicas: i32,
        requests: serde_json::Value,
        selector: serde_json::Value,
    ) {
        let deployment: Deployment = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"nodeSelector": selector,
                                           "containers": [{"name": "c", "image": "nginx",
                                           "resources": {"requests": requests, "limits": requests}}]}}}
        }))
        .unwrap();
        Api::<Deployment>::namespaced(self.kube.clone(), "default")
            .create(&PostParams::default(), &deployment)
            .await
            .unwrap();
    }

    /// The node a pod of `app` runs on.
    async fn node_of(&self, app: &str) -> String {
        Api::<Pod>::namespaced(self.kube.clone(), "default")
            .list(&ListParams::default().labels(&format!("app={app}")))
            .await
            .unwrap()
            .items
            .into_iter()
            .find_map(|p| p.spec?.node_name)
            .unwrap()
    }

    async fn tainted_for_deletion(&self, node: &str) -> bool {
        Api::<Node>::all(self.kube.clone())
            .get(node)
            .await
            .unwrap()
            .spec
            .and_then(|s| s.taints)
            .is_some_and(|ts| ts.iter().any(|t| t.key == "ToBeDeletedByClusterAutoscaler"))
    }

    async fn scale(&self, name: &str, replicas: i32) {
        Api::<Deployment>::namespaced(self.kube.clone(), "default")
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await
            .unwrap();
    }

    async fn event_reasons(&self) -> Vec<String> {
        Api::<Event>::all(self.kube.clone())
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|e| e.reason)
            .collect()
    }

    async fn status_text(&self) -> String {
        let cm = Api::<ConfigMap>::namespaced(self.kube.clone(), "kube-system")
            .get("cluster-autoscaler-status")
            .await
            .unwrap();
        cm.data.unwrap()["status"].clone()
    }
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// 30 one-vCPU pods on 4-vCPU workers: the first worker also runs the cluster's system pods
/// (640m) and every worker its daemon pods (220m), so each worker takes 3 and the pool needs
/// exactly its maximum of 10 — planned in one go only if the template counts the daemon pods.
async fn scale_up_then_down(faults: FaultConfig) -> (AckCluster, Arc<EssNodeGroups>) {
    let cluster = AckCluster::create(faults, &[WORKERS]).await;
    let group = cluster.groups(&[WORKERS]).await.remove(0);
    assert_eq!(cluster.group_size(&group).await, (1, 1));
    let (calls, task) = cluster.autoscaler().await;

    cluster.deploy("web", 30, json!({"cpu": "1"})).await;
    wait_for("30 web pods Running", Duration::from_secs(60), || async {
        cluster.pods_of("web").await == (30, 30)
    })
    .await;
    assert_eq!(cluster.group_size(&group).await, (10, 10));
    assert!(cluster.ready_nodes_are(10).await);
    let status = cluster.status_text().await;
    assert!(status.contains(&group), "{status}");
    let reasons = cluster.event_reasons().await;
    for want in ["FailedScheduling", "TriggeredScaleUp", "ScaledUpGroup"] {
        assert!(reasons.iter().any(|r| r == want), "{want} in {reasons:?}");
    }
    let scale_ups = calls.calls().mutate;

    cluster.scale("web", 0).await;
    wait_for(
        "the pool back at its minimum",
        Duration::from_secs(60),
        || async { cluster.group_size(&group).await == (1, 1) && cluster.ready_nodes_are(1).await },
    )
    .await;
    let reasons = cluster.event_reasons().await;
    assert!(reasons.iter().any(|r| r == "ScaleDownEmpty"), "{reasons:?}");
    // Nothing more happens once the pool is at its minimum.
    let settled = calls.calls().mutate;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(calls.calls().mutate, settled);
    assert_eq!(cluster.group_size(&group).await, (1, 1));
    assert!(cluster.ready_nodes_are(1).await);
    assert_eq!(cluster.emulator.snapshot().orphans(), Vec::<String>::new());
    // The surviving worker still runs the system pods, all of them Running.
    let system = Api::<Pod>::namespaced(cluster.kube.clone(), "kube-system")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert!(
        system
            .iter()
            .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")),
        "system pods not all Running"
    );
    assert!(scale_ups >= 1 && settled > scale_ups);
    task.abort();
    (cluster, calls)
}

#[tokio::test]
async fn a_deployment_that_does_not_fit_grows_the_ack_pool_and_scaling_it_to_zero_shrinks_it_to_min()
 {
    let (_cluster, calls) = scale_up_then_down(FaultConfig::default()).await;
    // One ScaleWithAdjustment for the 9 nodes, one RemoveInstances for the 9 empty ones.
    assert_eq!(calls.calls().mutate, 2);
}

#[tokio::test]
async fn with_30_percent_throttling_and_5_percent_server_errors_it_converges_to_the_same_counts() {
    scale_up_then_down(FaultConfig {
        throttle_rate: 0.3,
        error_rate: 0.05,
        retry_after_ms: 5,
        seed: 7,
    })
    .await;
}

#[tokio::test]
async fn gpu_pods_grow_the_gpu_pool_from_zero_and_leave_the_cpu_pool_alone() {
    let cluster = AckCluster::create(FaultConfig::default(), &[WORKERS, GPUS]).await;
    let groups = cluster.groups(&[WORKERS, GPUS]).await;
    let (_calls, task) = cluster.autoscaler().await;
    cluster
        .deploy("train", 2, json!({"cpu": "1", GPU_RESOURCE: "1"}))
        .await;
    wait_for("2 train pods Running", Duration::from_secs(60), || async {
        cluster.pods_of("train").await == (2, 2)
    })
    .await;
    assert_eq!(cluster.group_size(&groups[1]).await, (2, 2));
    assert_eq!(cluster.group_size(&groups[0]).await, (1, 1));
    let gpu_nodes = cluster
        .nodes()
        .await
        .into_iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.allocatable.as_ref())
                .is_some_and(|a| a.contains_key(GPU_RESOURCE))
        })
        .count();
    assert_eq!(gpu_nodes, 2);

    cluster.scale("train", 0).await;
    wait_for(
        "the GPU pool back at zero",
        Duration::from_secs(60),
        || async {
            cluster.group_size(&groups[1]).await == (0, 0) && cluster.ready_nodes_are(1).await
        },
    )
    .await;
    assert_eq!(cluster.emulator.snapshot().orphans(), Vec::<String>::new());
    task.abort();
}

/// A drain held up by a PodDisruptionBudget runs in the background for the whole eviction
/// time; meanwhile the loop goes on and scales up for new pods at once. When the time is up
/// the node is untainted and stays.
#[tokio::test]
async fn a_drain_blocked_by_a_pdb_does_not_hold_up_a_scale_up() {
    let cluster = AckCluster::create(FaultConfig::default(), &[WORKERS]).await;
    let group = cluster.groups(&[WORKERS]).await.remove(0);
    let eviction_timeout = Duration::from_secs(6);
    let (_calls, task) = cluster
        .autoscaler_with(eviction_timeout, planner::Options::default())
        .await;

    // Three one-vCPU pods fill the first worker; a half-vCPU pod then needs a second one.
    cluster.deploy("big", 3, json!({"cpu": "1"})).await;
    wait_for("3 big pods Running", Duration::from_secs(30), || async {
        cluster.pods_of("big").await == (3, 3)
    })
    .await;
    cluster.deploy("small", 1, json!({"cpu": "500m"})).await;
    wait_for("the small pod Running", Duration::from_secs(30), || async {
        cluster.pods_of("small").await == (1, 1)
    })
    .await;
    assert_eq!(cluster.group_size(&group).await, (2, 2));
    let second = cluster.node_of("small").await;

    // The budget allows one disruption as far as the planner can tell (its status says so), but
    // the eviction API counts healthy pods itself and refuses.
    let pdbs: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> =
        Api::namespaced(cluster.kube.clone(), "default");
    let pdb = serde_json::from_value(json!({
        "metadata": {"name": "small"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "small"}}}
    }))
    .unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();
    pdbs.patch_status(
        "small",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"status": {"disruptionsAllowed": 1, "currentHealthy": 1,
                                        "desiredHealthy": 1, "expectedPods": 1}}),
        ),
    )
    .await
    .unwrap();

    // Room for the small pod on the first worker: the second is underutilized and drained.
    cluster.scale("big", 2).await;
    wait_for("the drain to start", Duration::from_secs(20), || {
        cluster.tainted_for_deletion(&second)
    })
    .await;
    let drain_started = tokio::time::Instant::now();

    // Six more pods: one fits the first worker, five need two new ones — now, not after the
    // drain gives up.
    cluster.deploy("burst", 6, json!({"cpu": "1"})).await;
    wait_for(
        "the scale-up for burst",
        Duration::from_secs(20),
        || async { cluster.group_size(&group).await.0 == 4 },
    )
    .await;
    assert!(
        drain_started.elapsed() < eviction_timeout,
        "the scale-up waited for the drain ({:?})",
        drain_started.elapsed()
    );
    assert!(cluster.tainted_for_deletion(&second).await);

    // The drain gives up: the node is untainted, says why, and its instance stays.
    wait_for("the drain to give up", Duration::from_secs(20), || async {
        !cluster.tainted_for_deletion(&second).await
    })
    .await;
    assert!(drain_started.elapsed() >= eviction_timeout - Duration::from_secs(1));
    let reasons = cluster.event_reasons().await;
    assert!(
        reasons.iter().any(|r| r == "ScaleDownFailed"),
        "{reasons:?}"
    );
    wait_for(
        "the burst pods Running",
        Duration::from_secs(30),
        || async { cluster.pods_of("burst").await == (6, 6) },
    )
    .await;
    assert_eq!(cluster.group_size(&group).await, (4, 4));
    assert_eq!(cluster.pods_of("small").await, (1, 1));
    task.abort();
}

/// The preferred pool's zone runs out of its instance type part-way through a scale-up: the
/// missing nodes never come, so after `--max-node-provision-time` the pool is backed off, its
/// target comes down to what it has, and the pods go to the other pool.
#[tokio::test]
async fn a_pool_that_cannot_deliver_is_backed_off_and_the_other_pool_takes_the_pods() {
    const SPARE: PoolSpec = PoolSpec {
        name: "spare",
        instance_type: "ecs.g7.xlarge",
        vswitch: "vsw-cn-hangzhou-h",
        bounds: (0, 10),
        label: None,
    };
    let stock = vec![aliyun_emu::StockLimit {
        zone: "cn-hangzhou-k".into(),
        instance_type: "ecs.g7.xlarge".into(),
        limit: 3,
    }];
    let cluster = AckCluster::create_with(FaultConfig::default(), stock, &[WORKERS, SPARE]).await;
    let groups = cluster.groups(&[WORKERS, SPARE]).await;
    // The priority expander prefers the workers pool.
    let priorities = format!("20:\n  - {}\n10:\n  - {}\n", groups[0], groups[1]);
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "cluster-autoscaler-priority-expander", "namespace": "kube-system"},
        "data": {"priorities": priorities}
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(cluster.kube.clone(), "kube-system")
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let options = planner::Options {
        expanders: planner::Expander::parse_chain("priority,least-waste").unwrap(),
        ..planner::Options::default()
    };
    let (_calls, task) = cluster
        .autoscaler_with(Duration::from_secs(10), options)
        .await;

    // 15 one-vCPU pods: 3 on the first worker, 12 need 4 more nodes. The workers pool is asked
    // for them, but its zone holds only 3 instances of the type.
    cluster.deploy("web", 15, json!({"cpu": "1"})).await;
    wait_for(
        "the workers pool to be asked for 5",
        Duration::from_secs(20),
        || async { cluster.group_size(&groups[0]).await == (5, 3) },
    )
    .await;
    wait_for("15 web pods Running", Duration::from_secs(60), || async {
        cluster.pods_of("web").await == (15, 15)
    })
    .await;
    assert_eq!(cluster.group_size(&groups[0]).await, (3, 3));
    assert_eq!(cluster.group_size(&groups[1]).await, (2, 2));
    let reasons = cluster.event_reasons().await;
    assert!(
        reasons.iter().any(|r| r == "FailedToScaleUpGroup"),
        "{reasons:?}"
    );
    let status = cluster.status_text().await;
    assert!(
        status.contains("backoff") || status.contains("Backoff"),
        "{status}"
    );
    assert_eq!(cluster.emulator.snapshot().orphans(), Vec::<String>::new());
    task.abort();
}

/// A pool scaled from zero has no node to copy its daemon pods from: the template counts the
/// DaemonSets whose pods would land there, so 8 one-vCPU pods get 3 nodes in one go (3 per
/// 4-vCPU node beside 220m of daemons), not 2 and then 1 more.
#[tokio::test]
async fn a_pool_scaled_from_zero_gets_enough_nodes_for_its_daemon_pods_in_one_step() {
    const BATCH: PoolSpec = PoolSpec {
        name: "batch",
        instance_type: "ecs.g7.xlarge",
        vswitch: "vsw-cn-hangzhou-k",
        bounds: (0, 5),
        label: Some(("workload", "batch")),
    };
    let cluster = AckCluster::create(FaultConfig::default(), &[WORKERS, BATCH]).await;
    let groups = cluster.groups(&[WORKERS, BATCH]).await;
    let (calls, task) = cluster.autoscaler().await;
    cluster
        .deploy_on("jobs", 8, json!({"cpu": "1"}), json!({"workload": "batch"}))
        .await;
    wait_for("8 jobs pods Running", Duration::from_secs(60), || async {
        cluster.pods_of("jobs").await == (8, 8)
    })
    .await;
    assert_eq!(cluster.group_size(&groups[1]).await, (3, 3));
    assert_eq!(calls.calls().mutate, 1, "one scale-up");
    task.abort();
}
