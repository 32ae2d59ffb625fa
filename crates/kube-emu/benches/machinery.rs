//! Scale figures for the emulated cluster's machinery: 1,000 nodes and 30,000 pods.
//!
//! Printed once (one-shot wall-clock figures, each a whole scenario, with the median, p99 and
//! longest pass: a pass must stay short, since the emulator runs every cluster's passes one
//! after another on one ticker):
//! * registering 1,000 machines as nodes (with their daemon pods running);
//! * 30 Deployments × 1,000 replicas from creation to every pod Running;
//! * scheduling throughput: 30,000 bare pods bound (kubelets too slow to start them).
//!
//! Then criterion measures an idle `reconcile` pass on the full cluster (clock still, and
//! clock moving 100 ms per pass as the emulator's ticker does, which renews ~10 leases per
//! pass), and one pure scheduling decision against 1,000 loaded nodes.
//!
//! Run: `cargo bench -p kube-emu --bench machinery`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use kube_emu::machinery::scheduler::{self, NodeInfo, PodInfo};
use kube_emu::{ApiServer, Clock, Cluster, Config, Machine, ManualClock, Timing, lookup};
use planner::resources::Resources;
use serde_json::json;

const NODES: usize = 1_000;
const DEPLOYMENTS: usize = 30;
const REPLICAS: usize = 1_000;
const T0: i64 = 1_700_000_000_000;

fn machines() -> Vec<Machine> {
    (0..NODES)
        .map(|i| {
            let name = format!("cn-hangzhou.i-{i:06}");
            Machine {
                provider_id: name.clone(),
                name,
                labels: BTreeMap::from([(
                    "node.kubernetes.io/instance-type".to_string(),
                    "ecs.g7.2xlarge".to_string(),
                )]),
                capacity: [
                    ("cpu", "8"),
                    ("memory", "32Gi"),
                    ("pods", "110"),
                    ("ephemeral-storage", "120Gi"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
                taints: vec![],
                internal_ip: format!("192.168.{}.{}", i / 250, 2 + i % 250),
                running_since_ms: T0,
                master: false,
            }
        })
        .collect()
}

fn cluster(timing: Timing) -> (Arc<ManualClock>, Cluster) {
    let clock = Arc::new(ManualClock::new(T0));
    let api = Arc::new(ApiServer::new(
        clock.clone() as Arc<dyn Clock>,
        Config::default(),
    ));
    (clock, Cluster::new(api, timing))
}

fn available(c: &Cluster) -> i64 {
    let deps = lookup("apps", "deployments").unwrap();
    (0..DEPLOYMENTS)
        .map(|d| {
            c.api()
                .get(deps, Some("default"), &format!("app-{d:02}"))
                .unwrap()["status"]["availableReplicas"]
                .as_i64()
                .unwrap_or(0)
        })
        .sum()
}

/// Durations of the passes of one scenario: each must stay short, since the emulator runs
/// every cluster's passes one after another on one ticker.
#[derive(Default)]
struct Passes(Vec<Duration>);

impl Passes {
    fn run(&mut self, c: &Cluster, ms: &[Machine]) {
        let t = Instant::now();
        c.reconcile(ms);
        self.0.push(t.elapsed());
    }

    fn summary(&self) -> String {
        let mut d = self.0.clone();
        d.sort();
        let at = |p: f64| d[((d.len() - 1) as f64 * p).round() as usize];
        format!(
            "{} passes; pass median {:.1?}, p99 {:.1?}, longest {:.1?}",
            d.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        )
    }
}

/// Builds the full cluster, printing the one-shot figures; returns it converged.
fn full_cluster() -> (Arc<ManualClock>, Cluster, Vec<Machine>) {
    let (clock, c) = cluster(Timing::instant());
    let ms = machines();
    let t = Instant::now();
    let mut passes = Passes::default();
    while passes.0.len() < 2_000 {
        passes.run(&c, &ms);
        let ds = c
            .api()
            .get(
                lookup("apps", "daemonsets").unwrap(),
                Some("kube-system"),
                "kube-proxy-worker",
            )
            .unwrap();
        if ds["status"]["numberReady"].as_i64() == Some(NODES as i64) {
            break;
        }
    }
    println!(
        "register {NODES} nodes and run their daemon pods: {:.2?} ({})",
        t.elapsed(),
        passes.summary()
    );
    let deps = lookup("apps", "deployments").unwrap();
    for d in 0..DEPLOYMENTS {
        let name = format!("app-{d:02}");
        c.api()
            .create(deps, Some("default"), json!({"metadata": {"name": name},
                "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}},
                                      "spec": {"containers": [{"name": "main", "image": "nginx:1.27",
                                               "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}}}), false)
            .unwrap();
    }
    let t = Instant::now();
    let mut passes = Passes::default();
    while available(&c) < (DEPLOYMENTS * REPLICAS) as i64 && passes.0.len() < 5_000 {
        passes.run(&c, &ms);
    }
    let e = t.elapsed();
    println!(
        "{} Deployment pods created, scheduled and Running: {e:.2?} ({:.0} pods/s end to end; {})",
        DEPLOYMENTS * REPLICAS,
        (DEPLOYMENTS * REPLICAS) as f64 / e.as_secs_f64(),
        passes.summary()
    );
    // Settle the echoes of the last writes.
    for _ in 0..3 {
        c.reconcile(&ms);
    }
    (clock, c, ms)
}

/// Pods in `default` not bound to a node.
fn unbound(c: &Cluster) -> usize {
    let pods = lookup("", "pods").unwrap();
    c.api()
        .list(
            pods,
            Some("default"),
            &kube_emu::ListOptions {
                field: kube_emu::selector::FieldSelector::parse(pods, "spec.nodeName=").unwrap(),
                ..Default::default()
            },
        )
        .unwrap()
        .items
        .len()
}

/// Scheduling alone: bare pods, kubelets that would start them only much later.
fn scheduling_throughput() {
    let (_clock, c) = cluster(Timing {
        pod_start_delay_ms: 3_600_000,
        ..Timing::instant()
    });
    let ms = machines();
    for _ in 0..20 {
        c.reconcile(&ms);
    }
    let pods = lookup("", "pods").unwrap();
    let n = DEPLOYMENTS * REPLICAS;
    for i in 0..n {
        c.api()
            .create(pods, Some("default"), json!({"metadata": {"name": format!("p-{i:06}"), "labels": {"app": format!("a{}", i % 50)}},
                "spec": {"containers": [{"name": "c", "image": "nginx",
                         "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}), false)
            .unwrap();
    }
    // Drain the creations first (a pass with a still clock: nothing is due but scheduling),
    // so the figure is about scheduling.
    let before = c.api().resource_version();
    let t = Instant::now();
    let mut passes = Passes::default();
    // Until a pass writes nothing: every pod is bound (checked below), nothing else is due.
    loop {
        let rv = c.api().resource_version();
        passes.run(&c, &ms);
        // A pass that only drains the feed writes nothing too: count then.
        if (c.api().resource_version() == rv && unbound(&c) == 0) || passes.0.len() > 2_000 {
            break;
        }
    }
    let e = t.elapsed();
    assert_eq!(unbound(&c), 0, "every pod is bound");
    println!(
        "scheduling: {n} pods bound on {NODES} nodes in {e:.2?} ({:.0} pods/s; {} writes incl. Scheduled events; {})",
        n as f64 / e.as_secs_f64(),
        c.api().resource_version() - before,
        passes.summary()
    );
}

fn loaded_nodes() -> Vec<NodeInfo> {
    (0..NODES)
        .map(|i| NodeInfo {
            name: format!("n{i}"),
            labels: BTreeMap::from([(scheduler::HOSTNAME.to_string(), format!("n{i}"))]),
            allocatable: Resources {
                cpu: 7_800,
                memory: 28 << 30,
                ephemeral: 100 << 30,
                gpu: 0,
                pods: 110,
            },
            requested: Resources {
                cpu: 3_000 + (i as i64 % 7) * 100,
                memory: 4 << 30,
                ephemeral: 0,
                gpu: 0,
                pods: 30,
            },
            ..NodeInfo::default()
        })
        .collect()
}

fn main() {
    let (clock, c, ms) = full_cluster();
    scheduling_throughput();

    let mut crit = Criterion::default().configure_from_args().sample_size(50);
    crit.bench_function(
        "idle reconcile pass, 1000 nodes / 30000 pods, clock still",
        |b| b.iter(|| c.reconcile(&ms)),
    );
    crit.bench_function(
        "reconcile pass, 1000 nodes / 30000 pods, clock +100 ms per pass (lease renewals)",
        |b| {
            b.iter(|| {
                clock.advance_ms(100);
                c.reconcile(&ms)
            })
        },
    );
    let nodes = loaded_nodes();
    let pod = PodInfo {
        namespace: "default".into(),
        requests: Resources {
            cpu: 100,
            memory: 128 << 20,
            pods: 1,
            ..Resources::default()
        },
        ..PodInfo::default()
    };
    let mut start = 0;
    crit.bench_function("schedule one pod against 1000 loaded nodes (pure)", |b| {
        b.iter(|| {
            let (p, visited) = scheduler::schedule(&pod, &nodes, start);
            start = (start + visited) % nodes.len();
            p
        })
    });
    crit.final_summary();
}
