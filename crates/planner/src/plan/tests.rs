//! Plans on hand-made clusters (insta JSON snapshots, reviewed by hand) and properties on
//! generated ones.

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde_json::{Value, json};

use super::*;
use crate::cluster::World;
use crate::drain::{self, Drain};
use crate::expander::Expander;
use crate::scenarios;
use crate::testkit::*;

fn run(v: Value, options: &Options) -> Plan {
    let snapshot = parse(v);
    plan(
        &snapshot,
        options,
        NOW.parse().unwrap(),
        &mut SmallRng::seed_from_u64(1),
    )
}

fn with(expanders: &str) -> Options {
    Options {
        expanders: Expander::parse_chain(expanders).unwrap(),
        ..Options::default()
    }
}

fn ups(plan: &Plan) -> Vec<(String, u32)> {
    plan.scale_up
        .iter()
        .map(|s| (s.node_group.clone(), s.delta))
        .collect()
}

fn four_cpu(name: &str) -> Value {
    node(name, "4", "16Gi")
}

#[test]
fn pending_pods_grow_the_one_group_by_the_nodes_they_need() {
    let p = run(
        snapshot(
            vec![],
            pods("default", "web", 10, "1", "1Gi"),
            vec![group("g", 0, 10, 0, &[], four_cpu("t"))],
        ),
        &Options::default(),
    );
    insta::assert_json_snapshot!(p);
}

#[test]
fn pods_that_fit_existing_or_upcoming_nodes_trigger_nothing() {
    // n1 has room for 2 pods; the group's target is 2 with one node registered, so one more
    // node is coming and takes 4 more.
    let p = run(
        snapshot(
            vec![four_cpu("n1")],
            [
                vec![on(pod("default", "old", Some("old"), "2", "1Gi"), "n1")],
                pods("default", "web", 6, "1", "1Gi"),
            ]
            .concat(),
            vec![group("g", 0, 10, 2, &["n1"], four_cpu("t"))],
        ),
        &Options::default(),
    );
    assert!(p.scale_up.is_empty(), "{:?}", p.scale_up);
    assert_eq!(p.summary.schedulable_pods, 6);
}

#[test]
fn least_waste_and_most_pods_choose_as_cluster_autoscaler_documents() {
    // 3 pods of 3 cpu: 4-cpu nodes need 3 (waste 9/12 used), 16-cpu nodes need 1 (9/16 used).
    let cluster = || {
        snapshot(
            vec![],
            pods("default", "web", 3, "3", "1Gi"),
            vec![
                group("small", 0, 10, 0, &[], node("t", "4", "16Gi")),
                group("big", 0, 10, 0, &[], node("t", "16", "16Gi")),
            ],
        )
    };
    assert_eq!(
        ups(&run(cluster(), &with("least-waste"))),
        [("small".into(), 3)]
    );
    assert_eq!(
        ups(&run(cluster(), &with("least-nodes"))),
        [("big".into(), 1)]
    );
    // most-pods ties (both help 3), so the seeded random fallback decides, reproducibly.
    let first = ups(&run(cluster(), &with("most-pods")));
    assert_eq!(ups(&run(cluster(), &with("most-pods"))), first);
    assert_eq!(
        ups(&run(cluster(), &with("most-pods,least-nodes"))),
        [("big".into(), 1)]
    );
}

#[test]
fn the_priority_expander_reads_cas_configmap() {
    let mut v = snapshot(
        vec![],
        pods("default", "web", 4, "1", "1Gi"),
        vec![
            group("asg-spot", 0, 10, 0, &[], four_cpu("t")),
            group("asg-ondemand", 0, 10, 0, &[], four_cpu("t")),
        ],
    );
    v["priorityConfig"] = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cluster-autoscaler-priority-expander", "namespace": "kube-system"},
        "data": {"priorities": "10:\n  - .*ondemand.*\n50:\n  - .*spot.*\n"}
    });
    assert_eq!(ups(&run(v, &with("priority"))), [("asg-spot".into(), 1)]);
}

#[test]
fn heterogeneous_demand_is_planned_at_once_unless_one_group_per_loop() {
    let cluster = || {
        snapshot(
            vec![],
            [
                pods("default", "web", 8, "1", "1Gi"),
                pods("default", "gpu", 2, "1", "1Gi")
                    .into_iter()
                    .map(|p| {
                        let mut p = p;
                        p["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] =
                            json!("1");
                        spec(
                            p,
                            "tolerations",
                            json!([{"key": "gpu", "operator": "Exists"}]),
                        )
                    })
                    .collect(),
            ]
            .concat(),
            vec![
                group("cpu", 0, 10, 0, &[], four_cpu("t")),
                group(
                    "gpu",
                    0,
                    10,
                    0,
                    &[],
                    taint(gpus(node("t", "8", "32Gi"), 1), "gpu", "NoSchedule"),
                ),
            ],
        )
    };
    let all = run(cluster(), &Options::default());
    insta::assert_json_snapshot!("heterogeneous_all_at_once", all);
    let ca = run(
        cluster(),
        &Options {
            one_group_per_loop: true,
            ..Options::default()
        },
    );
    assert_eq!(ca.scale_up.len(), 1);
    assert!(!ca.unschedulable.is_empty());
    assert!(ca.unschedulable[0].reason.contains("--one-group-per-loop"));
}

#[test]
fn unschedulable_pods_say_what_stopped_each_group() {
    let selector = spec(
        pod("default", "picky", Some("picky"), "1", "1Gi"),
        "nodeSelector",
        json!({"disk": "ssd"}),
    );
    let huge = pod("default", "huge", Some("huge"), "64", "1Gi");
    let mut backed_off = group("off", 0, 10, 0, &[], label(four_cpu("t"), "disk", "ssd"));
    backed_off["backoffUntil"] = json!("2026-01-01T00:05:00Z");
    let p = run(
        snapshot(
            vec![],
            vec![selector, huge],
            vec![
                group("plain", 0, 10, 0, &[], four_cpu("t")),
                group(
                    "tainted",
                    0,
                    10,
                    0,
                    &[],
                    taint(four_cpu("t"), "dedicated", "NoSchedule"),
                ),
                backed_off,
                group("full", 0, 0, 0, &[], label(four_cpu("t"), "disk", "ssd")),
            ],
        ),
        &Options::default(),
    );
    insta::assert_json_snapshot!(p.unschedulable);
}

#[test]
fn balancing_spreads_a_scale_up_over_similar_groups_in_other_zones() {
    let zone = |z: &str| label(four_cpu("t"), "topology.kubernetes.io/zone", z);
    let p = run(
        snapshot(
            vec![],
            pods("default", "web", 24, "1", "1Gi"),
            vec![
                group("a", 0, 10, 0, &[], zone("a")),
                group("b", 0, 10, 1, &[], zone("b")),
                group("c", 0, 2, 0, &[], zone("c")),
            ],
        ),
        &Options {
            balance_similar_node_groups: true,
            ..Options::default()
        },
    );
    // b already has an upcoming node taking 4 pods; 20 left need 5 nodes, spread so the groups
    // even out, c capped at its max of 2.
    let total: u32 = p.scale_up.iter().map(|s| s.delta).sum();
    assert_eq!(total, 5);
    insta::assert_json_snapshot!(p.scale_up);
}

#[test]
fn anti_affinity_and_spread_shape_the_node_count() {
    let anti = |p: Value| {
        spec(
            p,
            "affinity",
            json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}),
        )
    };
    let spread = |p: Value| {
        spec(
            p,
            "topologySpreadConstraints",
            json!([{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}]),
        )
    };
    let zone = |z: &str| label(four_cpu("t"), "topology.kubernetes.io/zone", z);
    // Two full nodes make both zones spread domains.
    let full = |n: &str, z: &str| label(four_cpu(n), "topology.kubernetes.io/zone", z);
    let p = run(
        snapshot(
            vec![full("na", "a"), full("nb", "b")],
            [
                vec![
                    on(pod("default", "fa", Some("fa"), "4", "1Gi"), "na"),
                    on(pod("default", "fb", Some("fb"), "4", "1Gi"), "nb"),
                ],
                pods("default", "db", 3, "100m", "100Mi")
                    .into_iter()
                    .map(anti)
                    .collect(),
                pods("default", "web", 4, "100m", "100Mi")
                    .into_iter()
                    .map(spread)
                    .collect(),
            ]
            .concat(),
            vec![
                group("a", 0, 10, 1, &["na"], zone("a")),
                group("b", 0, 10, 1, &["nb"], zone("b")),
            ],
        ),
        &with("least-nodes"),
    );
    // db needs three nodes (one pod each); web must split 2/2 over the zones.
    let web_in = |g: &str| -> usize {
        p.scale_up
            .iter()
            .filter(|s| s.node_group == g)
            .flat_map(|s| &s.pods_helped.sample)
            .filter(|n| n.contains("web"))
            .count()
    };
    assert_eq!(
        (web_in("a"), web_in("b")),
        (2, 2),
        "{}",
        serde_json::to_string_pretty(&p).unwrap()
    );
    insta::assert_json_snapshot!(p.scale_up);
}

fn scale_down_cluster() -> Value {
    let n = |name: &str| four_cpu(name);
    let small = |name: &str, node: &str| on(pod("prod", name, Some("rs"), "500m", "512Mi"), node);
    let mut v = snapshot(
        vec![
            n("busy"),
            n("empty"),
            n("light"),
            n("bare"),
            n("system"),
            n("local"),
            annotate(
                n("disabled"),
                crate::scale_down::SCALE_DOWN_DISABLED,
                "true",
            ),
            n("fresh"),
            n("loner"),
        ],
        vec![
            on(pod("prod", "big", Some("big"), "3500m", "1Gi"), "busy"),
            small("light-1", "light"),
            on(pod("prod", "bare-1", None, "500m", "512Mi"), "bare"),
            on(
                pod("kube-system", "dns", Some("dns"), "500m", "512Mi"),
                "system",
            ),
            spec(
                small("local-1", "local"),
                "volumes",
                json!([{"name": "scratch", "emptyDir": {}}]),
            ),
            small("disabled-1", "disabled"),
            small("fresh-1", "fresh"),
            on(pod("prod", "ds", Some("ds"), "100m", "64Mi"), "empty"),
        ],
        vec![
            group(
                "g",
                1,
                20,
                8,
                &[
                    "busy", "empty", "light", "bare", "system", "local", "disabled", "fresh",
                ],
                four_cpu("t"),
            ),
            group("one", 1, 5, 1, &["loner"], four_cpu("t")),
        ],
    );
    v["pods"][7]["metadata"]["ownerReferences"][0]["kind"] = json!("DaemonSet");
    v["unneededSince"] = json!({
        "empty": "2025-12-31T23:00:00Z", "light": "2025-12-31T23:00:00Z",
        "bare": "2025-12-31T23:00:00Z", "system": "2025-12-31T23:00:00Z",
        "local": "2025-12-31T23:00:00Z", "disabled": "2025-12-31T23:00:00Z",
        "loner": "2025-12-31T23:00:00Z"
    });
    v
}

#[test]
fn scale_down_removes_empty_then_underutilized_nodes_and_explains_the_rest() {
    let p = run(scale_down_cluster(), &Options::default());
    insta::assert_json_snapshot!(p);
}

#[test]
fn scale_down_waits_after_a_recent_scale_up() {
    let mut v = scale_down_cluster();
    v["lastScaleUpTime"] = json!("2025-12-31T23:55:00Z");
    let p = run(v, &Options::default());
    assert!(p.scale_down.is_empty());
    let cooldown = p.scale_down_cooldown.unwrap();
    assert_eq!(cooldown.reason, "ScaleDownDelayAfterAdd");
    assert_eq!(cooldown.until.unwrap().to_string(), "2026-01-01T00:05:00Z");
}

#[test]
fn an_exhausted_pdb_blocks_the_drain() {
    let mut v = scale_down_cluster();
    v["pdbs"] = json!([{"metadata": {"name": "rs", "namespace": "prod"},
        "spec": {"selector": {"matchLabels": {"app": "rs"}}},
        "status": {"disruptionsAllowed": 0}}]);
    let p = run(v, &Options::default());
    let light = p.unremovable.iter().find(|u| u.node == "light").unwrap();
    assert_eq!(light.reason, Reason::BlockedByPod);
    assert_eq!(
        light.blocking_pod.as_ref().unwrap().reason,
        BlockReason::NotEnoughPdb
    );
}

#[test]
fn nodes_already_being_deleted_count_against_the_group_minimum() {
    // Three empty nodes in a group of min 1, one of them already being drained: only one more
    // may go, or the group would end below its minimum once both deletions finish.
    let nodes = vec![
        taint(
            four_cpu("a"),
            crate::cluster::TO_BE_DELETED_TAINT,
            "NoSchedule",
        ),
        four_cpu("b"),
        four_cpu("c"),
    ];
    let mut v = snapshot(
        nodes,
        vec![],
        vec![group("g", 1, 5, 3, &["a", "b", "c"], four_cpu("t"))],
    );
    v["unneededSince"] = json!({"a": "2025-12-31T00:00:00Z", "b": "2025-12-31T00:00:00Z",
                                "c": "2025-12-31T00:00:00Z"});
    let p = run(v, &Options::default());
    let removed: Vec<&str> = p.scale_down.iter().map(|d| d.node.as_str()).collect();
    assert_eq!(removed, ["b"]);
    let reasons: Vec<(&str, Reason)> = p
        .unremovable
        .iter()
        .map(|u| (u.node.as_str(), u.reason))
        .collect();
    assert!(
        reasons.contains(&("a", Reason::CurrentlyBeingDeleted)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("c", Reason::NodeGroupMinSizeReached)),
        "{reasons:?}"
    );
}

#[test]
fn a_group_scaled_from_zero_counts_the_daemon_sets_its_new_nodes_will_run() {
    let ds = |name: &str, cpu: &str, selector: Value| {
        json!({"metadata": {"name": name, "namespace": "kube-system"},
               "spec": {"template": {"spec": {"nodeSelector": selector, "tolerations": [{"operator": "Exists"}],
                        "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}}})
    };
    let mut v = snapshot(
        vec![],
        pods("default", "web", 8, "1", "1Gi"),
        vec![group(
            "g",
            0,
            10,
            0,
            &[],
            taint(four_cpu("t"), "dedicated", "NoSchedule"),
        )],
    );
    // 300m lands on every node; the GPU daemon does not match the template.
    v["daemonSets"] = json!([
        ds("proxy", "200m", json!({})),
        ds("cni", "100m", json!({})),
        ds(
            "gpu-driver",
            "1",
            json!({"aliyun.accelerator/nvidia_name": "T4"})
        ),
    ]);
    for p in v["pods"].as_array_mut().unwrap() {
        p["spec"]["tolerations"] = json!([{"key": "dedicated", "operator": "Exists"}]);
    }
    let p = run(v.clone(), &Options::default());
    // 3.7 cpu left per node: three one-cpu pods each, so three nodes, not two.
    assert_eq!(ups(&p), [("g".to_string(), 3)]);
    v["daemonSets"] = json!([]);
    assert_eq!(ups(&run(v, &Options::default())), [("g".to_string(), 2)]);
}

#[test]
fn the_plan_is_the_same_for_the_same_seed() {
    let s = scenarios::small(3, 2, 12, 300, 15, 60);
    let now = scenarios::NOW.parse().unwrap();
    let options = with("random");
    let a = plan(&s, &options, now, &mut SmallRng::seed_from_u64(9));
    let b = plan(&s, &options, now, &mut SmallRng::seed_from_u64(9));
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

#[test]
fn s1_needs_two_hundred_nodes_as_in_cas_runonce_benchmark() {
    let p = plan(
        &scenarios::s1(1),
        &Options::default(),
        scenarios::NOW.parse().unwrap(),
        &mut SmallRng::seed_from_u64(1),
    );
    assert_eq!(ups(&p), [("asg-s1".into(), 200)]);
    assert_eq!(p.scale_up[0].pods_helped.count, 10_000);
    assert_eq!(p.scale_up[0].pods_helped.sample.len(), 10);
}

fn options_strategy() -> impl Strategy<Value = Options> {
    (
        prop::sample::select(vec![
            "least-waste",
            "most-pods",
            "least-nodes",
            "random",
            "price",
            "most-pods,least-waste",
        ]),
        prop_oneof![Just(0u32), 20u32..200],
        any::<bool>(),
        any::<bool>(),
        1u32..50,
        prop_oneof![Just((0u64, 320_000u64)), (0u64..200, 200u64..2_000)],
        0.2f64..0.9,
    )
        .prop_map(
            |(expanders, max_nodes_total, balance, one, per_scaleup, cores, threshold)| Options {
                expanders: Expander::parse_chain(expanders).unwrap(),
                max_nodes_total,
                balance_similar_node_groups: balance,
                one_group_per_loop: one,
                max_nodes_per_scaleup: per_scaleup,
                cores_total: cores,
                scale_down_utilization_threshold: threshold,
                scale_down_unneeded_time: jiff::SignedDuration::ZERO,
                scale_down_delay_after_add: jiff::SignedDuration::ZERO,
                max_drain_parallelism: 5,
                ..Options::default()
            },
        )
}

fn cluster_strategy() -> impl Strategy<Value = Snapshot> {
    (
        any::<u64>(),
        1u32..4,
        2u32..14,
        0u32..400,
        1u32..20,
        10u32..90,
    )
        .prop_map(|(seed, per_group, groups, pending, controllers, fill)| {
            scenarios::small(seed, per_group, groups, pending, controllers, fill)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn groups_stay_within_their_sizes_and_the_cluster_within_its_totals(
        snapshot in cluster_strategy(), options in options_strategy(), seed in any::<u64>()
    ) {
        let now = scenarios::NOW.parse().unwrap();
        let p = plan(&snapshot, &options, now, &mut SmallRng::seed_from_u64(seed));
        let mut nodes = snapshot.nodes.len() as u64;
        let mut cores: i64 = snapshot.nodes.iter().map(|n| crate::cluster::capacity(n).cpu).sum();
        for up in &p.scale_up {
            let g = snapshot.node_groups.iter().find(|g| g.id == up.node_group).unwrap();
            prop_assert!(up.target_size <= g.max_size, "{} above max", up.node_group);
            prop_assert!(up.delta <= options.max_nodes_per_scaleup || !options.one_group_per_loop);
            nodes += u64::from(up.delta);
            cores += crate::cluster::capacity(&g.template).cpu * i64::from(up.delta);
        }
        if options.max_nodes_total > 0 {
            prop_assert!(nodes <= u64::from(options.max_nodes_total).max(snapshot.nodes.len() as u64));
        }
        if !p.scale_up.is_empty() {
            prop_assert!(cores <= options.cores_total.1 as i64 * 1000);
        }
        for g in &snapshot.node_groups {
            let removed = p.scale_down.iter().filter(|d| d.node_group == g.id).count() as u32;
            prop_assert!(removed == 0 || g.target_size - removed >= g.min_size, "{} below min", g.id);
        }
    }

    #[test]
    fn removed_nodes_only_hold_pods_that_can_move_and_their_pods_fit_elsewhere(
        snapshot in cluster_strategy(), options in options_strategy()
    ) {
        let options = Options { expanders: vec![Expander::LeastWaste], ..options };
        let now = scenarios::NOW.parse().unwrap();
        let p = plan(&snapshot, &options, now, &mut SmallRng::seed_from_u64(1));
        let removed: Vec<&str> = p.scale_down.iter().map(|d| d.node.as_str()).collect();
        // Independently of the planner's accounting: every pod of a removed node is allowed to
        // go, and the moved pods, added to what runs on each destination, fit its allocatable.
        let world = World::compile(&snapshot);
        let mut load: Vec<crate::resources::Resources> = world.nodes.iter().map(|n| n.used).collect();
        for d in &p.scale_down {
            let n = world.node_index[d.node.as_str()];
            for &pod in &world.nodes[n as usize].pods {
                let pod = &snapshot.pods[pod as usize];
                let pdbs = drain::matching_pdbs(pod, &snapshot.pdbs);
                let left: Vec<i32> = snapshot.pdbs.iter().map(|b| b.status.disruptions_allowed).collect();
                prop_assert!(!matches!(drain::drainability(pod, &pdbs, &left, &options), Drain::Blocks(_)));
            }
            for &(class, dest, count) in &d.moves {
                let dest_node = &world.nodes[dest as usize];
                prop_assert!(!removed.contains(&dest_node.name.as_ref()), "moved onto a removed node");
                prop_assert!(!dest_node.upcoming);
                prop_assert!(world.static_check(class, dest_node.shape).is_ok());
                let requests = world.classes[class as usize].requests;
                load[dest as usize] = load[dest as usize].plus(requests.times(i64::from(count)));
            }
        }
        for (i, node) in world.nodes.iter().enumerate() {
            if !removed.contains(&node.name.as_ref()) {
                prop_assert!(node.alloc.covers(load[i]), "{} over-committed", node.name);
            }
        }
    }

    #[test]
    fn an_unchanged_snapshot_gives_the_same_plan(snapshot in cluster_strategy(), seed in any::<u64>()) {
        let now = scenarios::NOW.parse().unwrap();
        let options = with("random");
        let a = plan(&snapshot, &options, now, &mut SmallRng::seed_from_u64(seed));
        let b = plan(&snapshot, &options, now, &mut SmallRng::seed_from_u64(seed));
        prop_assert_eq!(a, b);
    }
}
