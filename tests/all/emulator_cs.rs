//! ACK through the Rust client against the emulator: managed and dedicated clusters, node pools
//! backed by ESS, nodes, tasks, kubeconfig, deletion — with an inventory check after each flow
//! that nothing is left belonging to nothing.

use crate::support::{client, config, start, start_with_clock};
use aliyun::cs::{
    AutoScalingSpec, CreateClusterRequest, DeleteClusterOptions, DescribeClusterNodesRequest,
    KeyValue, KubernetesConfigSpec, NodePoolInfoSpec, NodePoolSpec, RemoveNodePoolNodesRequest,
    ScalingGroupSpec, Taint,
};
use aliyun::ess::{AdjustmentType, ScaleWithAdjustmentRequest};
use aliyun::{Client, ErrorKind};
use aliyun_emu::{Config, Emulator, FaultConfig, InstanceTiming, ManualClock, StockLimit};
use std::sync::Arc;
use std::time::Duration;

const REGION: &str = "cn-hangzhou";
const WORKER: &str = "ecs.g7.xlarge";

pub(crate) fn pool(name: &str, desired: u32) -> NodePoolSpec {
    NodePoolSpec {
        nodepool_info: NodePoolInfoSpec {
            name: Some(name.into()),
        },
        scaling_group: ScalingGroupSpec {
            vswitch_ids: Some(vec!["vsw-cn-hangzhou-k".into()]),
            instance_types: Some(vec![WORKER.into()]),
            instance_charge_type: Some("PostPaid".into()),
            system_disk_category: Some("cloud_essd".into()),
            desired_size: Some(desired),
            ..ScalingGroupSpec::default()
        },
        ..NodePoolSpec::default()
    }
}

/// A ModifyClusterNodePool body that only sets the pool's desired size.
fn resize_to(desired: u32) -> NodePoolSpec {
    NodePoolSpec {
        scaling_group: ScalingGroupSpec {
            desired_size: Some(desired),
            ..ScalingGroupSpec::default()
        },
        ..NodePoolSpec::default()
    }
}

pub(crate) fn managed(name: &str, pools: Vec<NodePoolSpec>) -> CreateClusterRequest {
    CreateClusterRequest {
        name: name.into(),
        region_id: REGION.into(),
        cluster_type: "ManagedKubernetes".into(),
        vswitch_ids: vec!["vsw-cn-hangzhou-k".into()],
        nodepools: pools,
        ..CreateClusterRequest::default()
    }
}

/// Polls the cluster until `state`, failing after a few seconds of wall time.
pub(crate) async fn wait_for_state(client: &Client, cluster_id: &str, state: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let c = client
            .cs()
            .describe_cluster_detail(cluster_id)
            .await
            .unwrap();
        if c.state == state {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "cluster {cluster_id} stayed {} instead of {state}",
            c.state
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_until_gone(client: &Client, cluster_id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match client.cs().describe_cluster_detail(cluster_id).await {
            Err(e) if e.kind() == ErrorKind::NotFound => return,
            Err(e) => panic!("unexpected error while waiting for deletion: {e}"),
            Ok(c) => assert!(
                tokio::time::Instant::now() < deadline,
                "cluster {cluster_id} is still {}",
                c.state
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Deletes the cluster and waits until it is gone.
async fn delete_and_wait(client: &Client, cluster_id: &str) {
    client
        .cs()
        .delete_cluster(cluster_id, &DeleteClusterOptions::default())
        .await
        .unwrap();
    wait_until_gone(client, cluster_id).await;
}

fn assert_no_orphans(emulator: &Emulator) {
    let orphans = emulator.snapshot().orphans();
    assert!(orphans.is_empty(), "orphaned resources: {orphans:#?}");
}

async fn workers(client: &Client, cluster_id: &str) -> Vec<aliyun::cs::Node> {
    client
        .cs()
        .describe_all_cluster_nodes(cluster_id, &DescribeClusterNodesRequest::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.instance_role == "Worker")
        .collect()
}

#[tokio::test]
async fn a_managed_cluster_runs_scales_serves_a_kubeconfig_and_deletes_cleanly() {
    let (emulator, url) = start(config()).await;
    let client = client(&url);
    let started = client
        .cs()
        .create_cluster(&managed("prod", vec![pool("workers", 2)]))
        .await
        .unwrap();
    assert!(started.cluster_id.starts_with('c') && started.cluster_id.len() == 33);
    assert!(started.task_id.starts_with("T-"));
    wait_for_state(&client, &started.cluster_id, "running").await;
    let task = client
        .cs()
        .describe_task_info(&started.task_id)
        .await
        .unwrap();
    assert_eq!(
        (task.task_type.as_str(), task.state.as_str()),
        ("cluster_create", "success")
    );

    let nodes = workers(&client, &started.cluster_id).await;
    assert_eq!(nodes.len(), 2);
    for node in &nodes {
        assert!(node.instance_id.starts_with("i-"));
        assert_eq!(node.node_name, format!("{REGION}.{}", node.instance_id));
        assert_eq!(
            (node.state.as_str(), node.node_status.as_str()),
            ("running", "Ready")
        );
    }

    let pools = client
        .cs()
        .describe_cluster_node_pools(&started.cluster_id)
        .await
        .unwrap();
    assert_eq!(pools.len(), 1);
    let np = &pools[0];
    assert!(np.scaling_group.scaling_group_id.starts_with("asg-"));
    assert_eq!(np.status.total_nodes, 2);
    let scaled = client
        .cs()
        .scale_cluster_node_pool(&started.cluster_id, &np.nodepool_info.nodepool_id, 2)
        .await
        .unwrap();
    assert_eq!(workers(&client, &started.cluster_id).await.len(), 4);
    let task = client
        .cs()
        .describe_task_info(&scaled.task_id)
        .await
        .unwrap();
    assert_eq!(task.state, "success");
    let group = client
        .ess()
        .describe_all_scaling_groups(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.scaling_group_id == np.scaling_group.scaling_group_id)
        .expect("the node pool's scaling group is visible through ESS");
    assert_eq!(group.desired_capacity, Some(4));

    let kubeconfig = client
        .cs()
        .describe_cluster_user_kubeconfig(&started.cluster_id, false, None)
        .await
        .unwrap();
    let detail = client
        .cs()
        .describe_cluster_detail(&started.cluster_id)
        .await
        .unwrap();
    let endpoint = detail.api_server_endpoint().unwrap();
    assert!(
        endpoint.ends_with(&format!("/kube/{}", started.cluster_id)),
        "{endpoint}"
    );
    assert!(
        kubeconfig.config.contains(&format!("server: {endpoint}")),
        "{}",
        kubeconfig.config
    );
    assert!(kubeconfig.config.contains("token: "));
    assert_eq!(detail.size, 4);

    delete_and_wait(&client, &started.cluster_id).await;
    let world = emulator.snapshot();
    assert!(world.instances.is_empty(), "{:?}", world.instances.keys());
    assert!(world.groups.is_empty() && world.configurations.is_empty());
    assert_no_orphans(&emulator);
}

#[tokio::test]
async fn creation_takes_the_control_plane_time_and_node_boot_on_the_injected_clock() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut cfg = config();
    cfg.settings.timing = InstanceTiming {
        pending_ms: 1_000,
        starting_ms: 2_000,
    };
    cfg.settings.control_plane_ms = 60_000;
    let (emulator, url) = start_with_clock(cfg, clock.clone()).await;
    let client = client(&url);
    let started = client
        .cs()
        .create_cluster(&managed("slow", vec![pool("workers", 1)]))
        .await
        .unwrap();
    let state = |c: aliyun::cs::Cluster| c.state;
    let cs = client.cs();
    assert_eq!(
        state(
            cs.describe_cluster_detail(&started.cluster_id)
                .await
                .unwrap()
        ),
        "initial"
    );
    clock.advance_ms(59_000);
    assert_eq!(
        state(
            cs.describe_cluster_detail(&started.cluster_id)
                .await
                .unwrap()
        ),
        "initial"
    );
    assert_eq!(
        cs.describe_task_info(&started.task_id).await.unwrap().state,
        "running"
    );
    clock.advance_ms(1_000);
    assert_eq!(
        state(
            cs.describe_cluster_detail(&started.cluster_id)
                .await
                .unwrap()
        ),
        "running"
    );

    cs.delete_cluster(&started.cluster_id, &DeleteClusterOptions::default())
        .await
        .unwrap();
    assert_eq!(
        state(
            cs.describe_cluster_detail(&started.cluster_id)
                .await
                .unwrap()
        ),
        "deleting"
    );
    assert_no_orphans(&emulator);
    clock.advance_ms(60_000);
    let gone = cs
        .describe_cluster_detail(&started.cluster_id)
        .await
        .unwrap_err();
    assert_eq!(
        (gone.code(), gone.kind()),
        (Some("ErrorClusterNotFound"), ErrorKind::NotFound)
    );
}

#[tokio::test]
async fn a_dedicated_cluster_gets_three_masters_of_the_master_type() {
    let (emulator, url) = start(config()).await;
    let client = client(&url);
    let request = CreateClusterRequest {
        cluster_type: "Kubernetes".into(),
        master_instance_types: vec!["ecs.c7.xlarge".into()],
        master_system_disk_category: Some("cloud_essd".into()),
        ..managed("dedicated", vec![pool("workers", 1)])
    };
    let started = client.cs().create_cluster(&request).await.unwrap();
    wait_for_state(&client, &started.cluster_id, "running").await;
    let nodes = client
        .cs()
        .describe_all_cluster_nodes(&started.cluster_id, &DescribeClusterNodesRequest::default())
        .await
        .unwrap();
    let masters: Vec<_> = nodes
        .iter()
        .filter(|n| n.instance_role == "Master")
        .collect();
    assert_eq!(masters.len(), 3);
    assert!(masters.iter().all(|m| m.instance_type == "ecs.c7.xlarge"));
    assert_eq!(nodes.len(), 4);

    delete_and_wait(&client, &started.cluster_id).await;
    assert!(emulator.snapshot().instances.is_empty());
    assert_no_orphans(&emulator);
}

#[tokio::test]
async fn scaling_the_pools_group_through_ess_adds_cluster_nodes() {
    let (emulator, url) = start(config()).await;
    let client = client(&url);
    let started = client
        .cs()
        .create_cluster(&managed("via-ess", vec![pool("workers", 1)]))
        .await
        .unwrap();
    wait_for_state(&client, &started.cluster_id, "running").await;
    let np = &client
        .cs()
        .describe_cluster_node_pools(&started.cluster_id)
        .await
        .unwrap()[0];
    client
        .ess()
        .scale_with_adjustment(&ScaleWithAdjustmentRequest {
            scaling_group_id: np.scaling_group.scaling_group_id.clone(),
            adjustment_type: AdjustmentType::TotalCapacity,
            adjustment_value: 3,
            client_token: None,
        })
        .await
        .unwrap();
    assert_eq!(workers(&client, &started.cluster_id).await.len(), 3);
    let detail = client
        .cs()
        .describe_cluster_node_pool_detail(&started.cluster_id, &np.nodepool_info.nodepool_id)
        .await
        .unwrap();
    assert_eq!(
        (detail.scaling_group.desired_size, detail.status.total_nodes),
        (3, 3)
    );
    assert_no_orphans(&emulator);
}

#[tokio::test]
async fn node_pools_can_be_added_modified_trimmed_and_deleted() {
    let (emulator, url) = start(config()).await;
    let client = client(&url);
    let cs = client.cs();
    let started = cs.create_cluster(&managed("pools", vec![])).await.unwrap();
    wait_for_state(&client, &started.cluster_id, "running").await;
    let cid = &started.cluster_id;

    let spec = NodePoolSpec {
        kubernetes_config: Some(KubernetesConfigSpec {
            labels: Some(vec![KeyValue::new("team", "ml")]),
            taints: Some(vec![Taint {
                key: "dedicated".into(),
                value: "ml".into(),
                effect: "NoSchedule".into(),
            }]),
            ..KubernetesConfigSpec::default()
        }),
        auto_scaling: Some(AutoScalingSpec {
            enable: true,
            min_instances: Some(1),
            max_instances: Some(10),
        }),
        ..pool("autoscaled", 2)
    };
    let created = cs.create_cluster_node_pool(cid, &spec).await.unwrap();
    let npid = &created.nodepool_id;
    assert!(npid.starts_with("np"));
    let np = cs
        .describe_cluster_node_pool_detail(cid, npid)
        .await
        .unwrap();
    assert!(np.auto_scaling.enable);
    assert_eq!(
        (np.auto_scaling.min_instances, np.auto_scaling.max_instances),
        (1, 10)
    );
    assert_eq!(
        np.kubernetes_config.labels,
        vec![KeyValue::new("team", "ml")]
    );
    assert_eq!(np.status.total_nodes, 2);

    let duplicate = cs.create_cluster_node_pool(cid, &spec).await.unwrap_err();
    assert_eq!(duplicate.code(), Some("ErrorNodePoolNameAlreadyExist"));

    let resize = resize_to(5);
    cs.modify_cluster_node_pool(cid, npid, &resize)
        .await
        .unwrap();
    let nodes = cs
        .describe_all_cluster_nodes(
            cid,
            &DescribeClusterNodesRequest {
                nodepool_id: Some(npid.clone()),
                page_size: Some(2),
                ..DescribeClusterNodesRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(nodes.len(), 5, "paged through 2 at a time");

    let too_big = resize_to(11);
    let e = cs
        .modify_cluster_node_pool(cid, npid, &too_big)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameter"));
    assert!(e.to_string().contains("desired_size"), "{e}");

    let victims = vec![nodes[0].node_name.clone(), nodes[1].node_name.clone()];
    cs.remove_node_pool_nodes(
        cid,
        npid,
        &RemoveNodePoolNodesRequest {
            nodes: victims.clone(),
            ..RemoveNodePoolNodesRequest::default()
        },
    )
    .await
    .unwrap();
    let left = cs
        .describe_cluster_node_pool_detail(cid, npid)
        .await
        .unwrap();
    assert_eq!(
        (left.status.total_nodes, left.scaling_group.desired_size),
        (3, 3)
    );
    let world = emulator.snapshot();
    assert!(victims.iter().all(|n| {
        !world
            .instances
            .contains_key(n.trim_start_matches("cn-hangzhou."))
    }));

    let not_empty = cs
        .delete_cluster_nodepool(cid, npid, false)
        .await
        .unwrap_err();
    assert_eq!(not_empty.code(), Some("ErrorNodePoolNotEmpty"));
    cs.delete_cluster_nodepool(cid, npid, true).await.unwrap();
    let gone = cs
        .describe_cluster_node_pool_detail(cid, npid)
        .await
        .unwrap_err();
    assert_eq!(
        (gone.code(), gone.kind()),
        (Some("ErrorNodePoolNotFound"), ErrorKind::NotFound)
    );
    assert!(emulator.snapshot().instances.is_empty());
    assert_no_orphans(&emulator);
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_field_named_and_nothing_created() {
    let (emulator, url) = start(config()).await;
    let client = client(&url);
    let cs = client.cs();

    let unknown = cs
        .describe_cluster_detail("c0123456789abcdef0123456789abcdef")
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.code(), unknown.kind()),
        (Some("ErrorClusterNotFound"), ErrorKind::NotFound)
    );

    let mut bad_type = pool("workers", 1);
    bad_type.scaling_group.instance_types = Some(vec!["ecs.nonexistent.large".into()]);
    let e = cs
        .create_cluster(&managed("bad", vec![bad_type]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameter"));
    assert!(
        e.to_string()
            .contains("nodepools[0].scaling_group.instance_types"),
        "{e}"
    );

    let e = cs
        .create_cluster(&CreateClusterRequest {
            cluster_type: "Kubernetes".into(),
            master_count: Some(4),
            master_instance_types: vec!["ecs.c7.xlarge".into()],
            ..managed("four-masters", vec![])
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("master_count"), "{e}");

    let e = cs
        .create_cluster(&managed("bad name!", vec![]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("name"), "{e}");

    let e = cs
        .create_cluster(&CreateClusterRequest {
            vswitch_ids: vec!["vsw-nowhere".into()],
            ..managed("no-vswitch", vec![])
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("vswitch_ids"), "{e}");

    assert!(emulator.snapshot().clusters.clusters.is_empty());
    assert!(emulator.snapshot().instances.is_empty());

    cs.create_cluster(&managed("taken", vec![])).await.unwrap();
    let e = cs
        .create_cluster(&managed("taken", vec![]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("ErrorClusterNameAlreadyExist"));
}

#[tokio::test]
async fn without_stock_the_cluster_fails_with_the_reason_and_can_still_be_deleted() {
    let mut cfg = config();
    cfg.settings.stock = vec![StockLimit {
        zone: "cn-hangzhou-k".into(),
        instance_type: WORKER.into(),
        limit: 0,
    }];
    let (emulator, url) = start(cfg).await;
    let client = client(&url);
    let started = client
        .cs()
        .create_cluster(&managed("no-stock", vec![pool("workers", 2)]))
        .await
        .unwrap();
    wait_for_state(&client, &started.cluster_id, "failed").await;
    let task = client
        .cs()
        .describe_task_info(&started.task_id)
        .await
        .unwrap();
    assert_eq!(task.state, "fail");
    let error = task.error.expect("a failed task carries its error");
    assert!(error.message.contains("No stock"), "{}", error.message);

    delete_and_wait(&client, &started.cluster_id).await;
    assert_no_orphans(&emulator);
    assert!(emulator.snapshot().groups.is_empty());
}

#[tokio::test]
async fn a_retried_create_with_the_same_client_token_makes_one_cluster() {
    let (emulator, url) = start(config()).await;
    let client = client(&url);
    let request = CreateClusterRequest {
        client_token: Some("create-once".into()),
        ..managed("once", vec![pool("workers", 1)])
    };
    let first = client.cs().create_cluster(&request).await.unwrap();
    let second = client.cs().create_cluster(&request).await.unwrap();
    assert_eq!(first.cluster_id, second.cluster_id);
    assert_eq!(emulator.snapshot().clusters.clusters.len(), 1);
}

#[tokio::test]
async fn the_cluster_flow_converges_under_throttling_and_server_errors() {
    let cfg = Config {
        faults: FaultConfig {
            throttle_rate: 0.3,
            error_rate: 0.05,
            retry_after_ms: 2,
            seed: 7,
        },
        ..config()
    };
    let (emulator, url) = start(cfg).await;
    let client = client(&url);
    let started = client
        .cs()
        .create_cluster(&managed("flaky", vec![pool("workers", 2)]))
        .await
        .unwrap();
    wait_for_state(&client, &started.cluster_id, "running").await;
    let np = &client
        .cs()
        .describe_cluster_node_pools(&started.cluster_id)
        .await
        .unwrap()[0];
    // Resizing by desired size is idempotent, so a retry after a lost reply cannot overshoot
    // (ScaleClusterNodePool adds a count and has no idempotency token).
    let resize = resize_to(4);
    client
        .cs()
        .modify_cluster_node_pool(&started.cluster_id, &np.nodepool_info.nodepool_id, &resize)
        .await
        .unwrap();
    assert_eq!(workers(&client, &started.cluster_id).await.len(), 4);
    assert_eq!(
        emulator.snapshot().clusters.clusters.len(),
        1,
        "no duplicate cluster"
    );
    // A retried delete may find the cluster already gone: that is the outcome asked for.
    match client
        .cs()
        .delete_cluster(&started.cluster_id, &DeleteClusterOptions::default())
        .await
    {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => panic!("delete failed: {e}"),
    }
    wait_until_gone(&client, &started.cluster_id).await;
    assert!(emulator.snapshot().instances.is_empty());
    assert_no_orphans(&emulator);
}

#[tokio::test]
async fn clusters_and_their_pools_survive_an_emulator_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        state_dir: Some(dir.path().to_owned()),
        ..config()
    };
    let (_first, url) = start(cfg.clone()).await;
    let started = client(&url)
        .cs()
        .create_cluster(&managed("durable", vec![pool("workers", 2)]))
        .await
        .unwrap();
    wait_for_state(&client(&url), &started.cluster_id, "running").await;

    let (second, url) = start(cfg).await;
    let client = client(&url);
    let detail = client
        .cs()
        .describe_cluster_detail(&started.cluster_id)
        .await
        .unwrap();
    assert_eq!((detail.state.as_str(), detail.size), ("running", 2));
    assert_eq!(workers(&client, &started.cluster_id).await.len(), 2);
    delete_and_wait(&client, &started.cluster_id).await;
    assert_no_orphans(&second);
}
