//! The autoscaler end to end: an in-process Alibaba Cloud emulator (ESS), a kube-emu API server
//! on a loopback port reached through a kubeconfig, and the controller between them. Nodes join
//! the way a kubelet would (a helper registers a Node per running ESS instance), and pending pods
//! carry the `Unschedulable` condition a scheduler gives them.

use std::sync::Arc;
use std::time::Duration;

use aliyun::Client;
use aliyun::ess::{
    CreateScalingConfigurationRequest, CreateScalingGroupRequest, DescribeScalingGroupsRequest,
    DescribeScalingInstancesRequest,
};
use cloud::node_groups::{
    Discovery, EssNodeGroups, EssOptions, GPU_LABEL, GPU_RESOURCE, GroupSpec, NodeGroups,
};
use controllers::autoscaler::{Autoscaler, Config, Metrics};
use controllers::leader::{self, LeaderConfig};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::kube_rs::{KubeServer, kube_server, pod};
use crate::support;

/// A scaling group with one configuration, enabled; returns its id.
async fn group(
    client: &Client,
    name: &str,
    (min, max, desired): (u32, u32, u32),
    instance_type: &str,
    group_tags: &[(&str, &str)],
    configuration_tags: &[(&str, &str)],
) -> String {
    let ess = client.ess();
    let id = ess
        .create_scaling_group(&CreateScalingGroupRequest {
            scaling_group_name: Some(name.into()),
            min_size: min,
            max_size: max,
            desired_capacity: Some(desired),
            vswitch_ids: vec!["vsw-cn-hangzhou-k".into()],
            tags: group_tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap()
        .scaling_group_id;
    ess.create_scaling_configuration(&CreateScalingConfigurationRequest {
        scaling_group_id: id.clone(),
        image_id: Some(support::IMAGE.into()),
        instance_type: Some(instance_type.into()),
        tags: configuration_tags
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        ..Default::default()
    })
    .await
    .unwrap();
    ess.enable_scaling_group(&id, None).await.unwrap();
    id
}

async fn desired(client: &Client, id: &str) -> (Option<u32>, u32) {
    let g = client
        .ess()
        .describe_scaling_groups(&DescribeScalingGroupsRequest {
            scaling_group_ids: vec![id.into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .scaling_groups
        .remove(0);
    (g.desired_capacity, g.total_capacity)
}

/// What a kubelet does on a new instance: registers a ready Node named and identified
/// `<region>.<instance-id>`, with the group's shape.
async fn join_nodes(
    client: &Client,
    kube: &kube::Client,
    group_id: &str,
    cpu: &str,
    memory: &str,
) -> usize {
    let instances = client
        .ess()
        .describe_all_scaling_instances(&DescribeScalingInstancesRequest {
            scaling_group_id: Some(group_id.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let nodes: Api<Node> = Api::all(kube.clone());
    for i in &instances {
        let name = format!("cn-hangzhou.{}", i.instance_id);
        if nodes.get_opt(&name).await.unwrap().is_some() {
            continue;
        }
        let mut n = crate::kube_rs::node(&name, cpu, memory);
        n.metadata.labels.get_or_insert_default().insert(
            "node.kubernetes.io/instance-type".into(),
            "ecs.g7.xlarge".into(),
        );
        nodes.create(&PostParams::default(), &n).await.unwrap();
    }
    instances.len()
}

/// Creates pending pods the scheduler gave up on.
async fn unschedulable_pods(
    kube: &kube::Client,
    prefix: &str,
    n: usize,
    cpu: &str,
    extra: serde_json::Value,
) {
    let pods: Api<Pod> = Api::namespaced(kube.clone(), "default");
    for i in 0..n {
        let mut p = pod("default", &format!("{prefix}-{i}"), cpu);
        let mut v = serde_json::to_value(&p).unwrap();
        json_merge(&mut v, &extra);
        p = serde_json::from_value(v).unwrap();
        let name = p.metadata.name.clone().unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
        pods.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "0/1 nodes are available: 1 Insufficient cpu."}]}})),
        )
        .await
        .unwrap();
    }
}

fn json_merge(a: &mut serde_json::Value, b: &serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                json_merge(a.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b.clone(),
    }
}

fn config(options: planner::Options) -> Config {
    Config {
        options,
        scan_interval: Duration::from_millis(200),
        eviction_timeout: Duration::from_secs(5),
        ..Config::default()
    }
}

async fn autoscaler<N: NodeGroups + 'static>(
    k: &KubeServer,
    groups: N,
    options: planner::Options,
) -> Autoscaler<N> {
    Autoscaler::start(
        k.client.clone(),
        groups,
        config(options),
        Arc::new(Metrics::new()),
        Duration::from_secs(10),
    )
    .await
    .unwrap()
}

fn ess(client: &Client, groups: Vec<GroupSpec>, discovery: Vec<Discovery>) -> EssNodeGroups {
    EssNodeGroups::new(
        client.clone(),
        EssOptions {
            groups,
            discovery,
            ..EssOptions::default()
        },
    )
    .unwrap()
}

/// Waits until the reflectors see `n` nodes.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn unschedulable_pods_grow_the_scaling_group_and_the_status_and_events_tell_it() {
    let (_emu, url) = support::start(support::config()).await;
    let cloud = support::client(&url);
    let id = group(&cloud, "workers", (1, 10, 1), "ecs.g7.xlarge", &[], &[]).await;
    let k = kube_server(kube_emu::Config::default()).await;
    assert_eq!(join_nodes(&cloud, &k.client, &id, "4", "16Gi").await, 1);
    unschedulable_pods(&k.client, "web", 30, "1", json!({})).await;

    let spec = GroupSpec {
        min_size: 1,
        max_size: 10,
        id: id.clone(),
    };
    let mut a = autoscaler(
        &k,
        ess(&cloud, vec![spec], vec![]),
        planner::Options::default(),
    )
    .await;
    settle().await;
    let report = a.run_once(Timestamp::now()).await.unwrap();
    // 30 one-cpu pods on 4-cpu nodes: the registered node takes 4, seven new ones the rest.
    assert_eq!(report.plan.scale_up.len(), 1, "{:?}", report.plan);
    assert_eq!(report.plan.scale_up[0].delta, 7);
    assert_eq!(report.outcome.nodes_added, 7);
    assert_eq!(report.calls.mutate, 1);
    assert!(
        report.calls.describe <= 6,
        "describe calls: {}",
        report.calls.describe
    );
    assert_eq!(desired(&cloud, &id).await, (Some(8), 8));

    // The new instances join; nothing more is asked for while pods are still pending on them.
    assert_eq!(join_nodes(&cloud, &k.client, &id, "4", "16Gi").await, 8);
    settle().await;
    let again = a.run_once(Timestamp::now()).await.unwrap();
    assert!(again.plan.scale_up.is_empty(), "{:?}", again.plan.scale_up);
    // A steady loop costs one group describe and one instance page, configurations and types
    // come from the cache.
    assert_eq!(again.calls.describe, 2, "steady-state describe calls");

    let status: Api<ConfigMap> = Api::namespaced(k.client.clone(), "kube-system");
    let cm = status.get("cluster-autoscaler-status").await.unwrap();
    let text = &cm.data.unwrap()["status"];
    let v: serde_json::Value = serde_saphyr::from_str(text).unwrap();
    assert_eq!(v["nodeGroups"][0]["name"], id.as_str());
    assert_eq!(v["nodeGroups"][0]["health"]["cloudProviderTarget"], 8);
    assert_eq!(
        v["nodeGroups"][0]["health"]["nodeCounts"]["registered"]["total"],
        8
    );
    let events: Api<Event> = Api::all(k.client.clone());
    let reasons: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    assert!(reasons.iter().any(|r| r == "ScaledUpGroup"), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r == "TriggeredScaleUp"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn empty_nodes_past_the_unneeded_time_are_removed_through_remove_instances() {
    let (_emu, url) = support::start(support::config()).await;
    let cloud = support::client(&url);
    let id = group(&cloud, "workers", (1, 10, 3), "ecs.g7.xlarge", &[], &[]).await;
    let k = kube_server(kube_emu::Config::default()).await;
    assert_eq!(join_nodes(&cloud, &k.client, &id, "4", "16Gi").await, 3);
    let options = planner::Options {
        scale_down_unneeded_time: SignedDuration::from_mins(1),
        ..planner::Options::default()
    };
    let spec = GroupSpec {
        min_size: 1,
        max_size: 10,
        id: id.clone(),
    };
    let mut a = autoscaler(&k, ess(&cloud, vec![spec], vec![]), options).await;
    settle().await;
    let t0 = Timestamp::now();
    let first = a.run_once(t0).await.unwrap();
    assert!(first.plan.scale_down.is_empty());
    assert_eq!(a.memory().unneeded_since.len(), 3);
    let later = a.run_once(t0 + SignedDuration::from_mins(2)).await.unwrap();
    assert_eq!(later.plan.scale_down.len(), 2, "{:?}", later.plan);
    assert_eq!(later.outcome.nodes_removed, 2);
    assert_eq!(
        later.calls.mutate, 1,
        "both instances go in one RemoveInstances"
    );
    assert_eq!(desired(&cloud, &id).await, (Some(1), 1));
    let nodes: Api<Node> = Api::all(k.client.clone());
    assert_eq!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn a_gpu_group_scales_from_zero_with_its_gpu_resource_and_label() {
    let (_emu, url) = support::start(support::config()).await;
    let cloud = support::client(&url);
    let cpu = group(&cloud, "cpu", (0, 5, 0), "ecs.g7.xlarge", &[], &[]).await;
    let gpu = group(&cloud, "gpu", (0, 3, 0), "ecs.gn6i-c4g1.xlarge", &[], &[]).await;
    let k = kube_server(kube_emu::Config::default()).await;
    let groups = ess(
        &cloud,
        vec![
            GroupSpec {
                min_size: 0,
                max_size: 5,
                id: cpu.clone(),
            },
            GroupSpec {
                min_size: 0,
                max_size: 3,
                id: gpu.clone(),
            },
        ],
        vec![],
    );
    let refreshed = groups.refresh().await.unwrap();
    let template = &refreshed.get(&gpu).unwrap().template;
    assert_eq!(template.capacity[GPU_RESOURCE], "1");
    let model = template.labels[GPU_LABEL].clone();
    assert!(
        !refreshed
            .get(&cpu)
            .unwrap()
            .template
            .capacity
            .contains_key(GPU_RESOURCE)
    );

    unschedulable_pods(
        &k.client,
        "train",
        2,
        "1",
        json!({"spec": {"nodeSelector": {GPU_LABEL: model},
               "containers": [{"name": "c", "image": "cuda", "resources": {
                   "requests": {"cpu": "1", "nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}}]}}),
    )
    .await;
    let mut a = autoscaler(&k, groups, planner::Options::default()).await;
    settle().await;
    let report = a.run_once(Timestamp::now()).await.unwrap();
    assert_eq!(report.plan.scale_up.len(), 1, "{:?}", report.plan);
    assert_eq!(report.plan.scale_up[0].node_group, gpu);
    assert_eq!(report.plan.scale_up[0].delta, 2);
    assert_eq!(desired(&cloud, &gpu).await.0, Some(2));
    assert_eq!(desired(&cloud, &cpu).await.0, Some(0));
}

#[tokio::test]
async fn groups_are_discovered_by_their_tags_or_their_configuration_tags() {
    let (_emu, url) = support::start(support::config()).await;
    let cloud = support::client(&url);
    let enabled = ("k8s.io/cluster-autoscaler/enabled", "true");
    let tagged = group(&cloud, "tagged", (0, 4, 0), "ecs.g7.large", &[enabled], &[]).await;
    let by_config = group(
        &cloud,
        "by-config",
        (1, 6, 1),
        "ecs.c7.large",
        &[],
        &[enabled],
    )
    .await;
    let _other = group(&cloud, "other", (0, 2, 0), "ecs.g7.large", &[], &[]).await;
    let groups = ess(
        &cloud,
        vec![],
        vec![
            cloud::node_groups::parse_discovery("asg:tag=k8s.io/cluster-autoscaler/enabled")
                .unwrap(),
        ],
    );
    let found = groups.refresh().await.unwrap();
    let mut ids: Vec<&str> = found.groups.iter().map(|g| g.id.as_str()).collect();
    ids.sort();
    let mut want = vec![tagged.as_str(), by_config.as_str()];
    want.sort();
    assert_eq!(ids, want);
    let g = found.get(&by_config).unwrap();
    assert_eq!((g.min_size, g.max_size, g.target_size), (1, 6, 1));
    assert_eq!(g.instances.len(), 1);
    assert!(g.instances[0].provider_id.starts_with("cn-hangzhou.i-"));
    assert_eq!(
        found.group_of(&g.instances[0].provider_id).unwrap().id,
        by_config
    );
    // Within the rediscovery interval the next refresh describes only the known groups.
    let before = groups.calls().describe;
    groups.refresh().await.unwrap();
    assert_eq!(
        groups.calls().describe - before,
        2,
        "one group describe + one instance page"
    );
}

#[tokio::test]
async fn with_two_candidates_only_the_lease_holder_acts() {
    let (_emu, url) = support::start(support::config()).await;
    let cloud = support::client(&url);
    let id = group(&cloud, "workers", (1, 10, 1), "ecs.g7.xlarge", &[], &[]).await;
    let k = kube_server(kube_emu::Config::default()).await;
    join_nodes(&cloud, &k.client, &id, "4", "16Gi").await;
    unschedulable_pods(&k.client, "web", 8, "1", json!({})).await;
    let spec = GroupSpec {
        min_size: 1,
        max_size: 10,
        id: id.clone(),
    };

    let mut runners = Vec::new();
    let mut counters = Vec::new();
    for who in ["a", "b"] {
        let groups = Arc::new(ess(&cloud, vec![spec.clone()], vec![]));
        counters.push((who, groups.clone()));
        let a = autoscaler(&k, groups, planner::Options::default()).await;
        let (leadership, task) = leader::spawn(
            k.client.clone(),
            LeaderConfig {
                lease_duration: Duration::from_secs(2),
                retry_period: Duration::from_millis(100),
                ..LeaderConfig::cluster_autoscaler(who)
            },
        );
        runners.push((tokio::spawn(a.run(leadership)), task));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while desired(&cloud, &id).await.0 != Some(2) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no scale-up happened"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let leases: Api<Lease> = Api::namespaced(k.client.clone(), "kube-system");
    let holder = leases
        .get("cluster-autoscaler")
        .await
        .unwrap()
        .spec
        .unwrap()
        .holder_identity
        .unwrap();
    for (who, groups) in &counters {
        let calls = groups.calls();
        if *who == holder {
            assert_eq!(calls.mutate, 1, "the leader scaled up once");
            assert!(calls.describe > 0);
        } else {
            assert_eq!(
                (calls.describe, calls.mutate),
                (0, 0),
                "the follower never touched the cloud"
            );
        }
    }
    // The leader goes away; the other candidate takes the Lease over.
    let leader_index = counters.iter().position(|(w, _)| *w == holder).unwrap();
    runners[leader_index].0.abort();
    runners[leader_index].1.abort();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = leases
            .get("cluster-autoscaler")
            .await
            .unwrap()
            .spec
            .unwrap()
            .holder_identity
            .unwrap();
        if now != holder {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Lease was never taken over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (run, task) in runners {
        run.abort();
        task.abort();
    }
}

/// Measures one loop (refresh + snapshot + plan + execute + status) at 300 nodes in 3 groups,
/// 3,000 running pods and 600 unschedulable ones, and asserts the cloud calls it costs. Run with
/// `cargo nextest run -p ackctl-tests --release -E 'test(/one_loop_at_300_nodes/)' --no-capture`
/// to see the figures.
#[tokio::test]
async fn one_loop_at_300_nodes_and_3600_pods_costs_a_handful_of_cloud_calls() {
    let (_emu, url) = support::start(support::config()).await;
    let cloud = support::client(&url);
    let k = kube_server(kube_emu::Config::default()).await;
    let pods_rt = kube_emu::lookup("", "pods").unwrap();
    let mut specs = Vec::new();
    for g in 0..3 {
        let id = group(
            &cloud,
            &format!("pool-{g}"),
            (1, 200, 100),
            "ecs.g7.xlarge",
            &[],
            &[],
        )
        .await;
        assert_eq!(join_nodes(&cloud, &k.client, &id, "4", "16Gi").await, 100);
        specs.push(GroupSpec {
            min_size: 1,
            max_size: 200,
            id,
        });
    }
    let nodes: Api<Node> = Api::all(k.client.clone());
    let names: Vec<String> = nodes
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for (i, node) in names.iter().enumerate() {
        for j in 0..10 {
            let mut p =
                serde_json::to_value(pod("default", &format!("run-{i}-{j}"), "300m")).unwrap();
            p["spec"]["nodeName"] = json!(node);
            p["status"] = json!({"phase": "Running"});
            k.api.create(pods_rt, Some("default"), p, false).unwrap();
        }
    }
    unschedulable_pods(&k.client, "wait", 600, "1", json!({})).await;
    let a_ids: Vec<String> = specs.iter().map(|s| s.id.clone()).collect();
    let mut a = autoscaler(&k, ess(&cloud, specs, vec![]), planner::Options::default()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let cold = a.run_once(Timestamp::now()).await.unwrap();
    let warm = a.run_once(Timestamp::now()).await.unwrap();
    for (what, r) in [("first loop (cold caches)", &cold), ("second loop", &warm)] {
        println!(
            "{what}: {} nodes, {} pods, {} groups | refresh {:.1} ms ({} describe calls) | snapshot {:.1} ms | plan {:.1} ms | execute {:.1} ms ({} mutating calls, +{} nodes) | status {:.1} ms | total {:.1} ms",
            r.nodes,
            r.pods,
            r.groups,
            r.refresh.as_secs_f64() * 1e3,
            r.calls.describe,
            r.snapshot.as_secs_f64() * 1e3,
            r.plan_time.as_secs_f64() * 1e3,
            r.execute.as_secs_f64() * 1e3,
            r.calls.mutate,
            r.outcome.nodes_added,
            r.status.as_secs_f64() * 1e3,
            r.total().as_secs_f64() * 1e3,
        );
    }
    assert_eq!(cold.nodes, 300);
    assert_eq!(cold.pods, 3600);
    // 600 one-cpu pods: each node has 1 cpu free (10 × 300m used), so 300 fit; 300 more need
    // 75 new 4-cpu nodes, spread by least-waste's random tie-break over the three groups.
    assert_eq!(cold.outcome.nodes_added, 75, "{:?}", cold.plan.scale_up);
    // Cold: 1 group describe + 1 configuration describe + 1 instance-type describe + 1 vSwitch
    // + 3 groups × 2 instance pages of 50.
    assert_eq!(cold.calls.describe, 10);
    // Warm: configurations, types and zones come from the cache.
    let mut pages = 0;
    for g in &a_ids {
        pages += desired(&cloud, g).await.1.div_ceil(50);
    }
    assert_eq!(
        warm.calls.describe,
        1 + u64::from(pages),
        "one group describe + the instance pages"
    );
    assert!(warm.plan.scale_up.is_empty());
}
