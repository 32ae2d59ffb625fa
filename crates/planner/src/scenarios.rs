//! Seeded scenario generators for benchmarks and tests (issue 7's S1–S4), written as snapshot
//! JSON so the CLI can be timed on the very same documents.
//!
//! | name | cluster | pending |
//! |---|---|---|
//! | `s1` | empty, one group (16 cpu / 64 GiB; 50 pods per node) | 10,000 pods of one controller → 200 nodes |
//! | `s2` | 1,000 nodes × 30 pods, 100 groups | 10,000 pods of 500 controllers |
//! | `s3` | 5,000 nodes × 30 pods, 200 groups | 100,000 pods of 2,000 controllers |
//! | `s4` | 1,000 nodes × 30 pods at 30–40 % with PDBs and unmovable pods | none (scale-down) |
//!
//! S2/S3 groups combine ten instance types (two with a GPU), three zones and four pools
//! (`batch` is tainted, GPU groups are tainted); existing nodes are about 85 % requested. Pending
//! controllers vary cpu and memory; 20 % select a pool, zone or instance type, 10 % tolerate the
//! batch taint (half of them also select it), 2 % ask for a GPU.

use std::fmt::Write;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::model::Snapshot;

/// The `now` of every generated snapshot.
pub const NOW: &str = "2026-01-01T00:00:00Z";

pub const NAMES: &[&str] = &["s1", "s2", "s3", "s4"];

/// The snapshot JSON of a named scenario.
pub fn generate(name: &str, seed: u64) -> Option<String> {
    Some(match name {
        "s1" => s1_json(seed),
        "s2" => cluster_json(&Shape::S2, seed),
        "s3" => cluster_json(&Shape::S3, seed),
        "s4" => s4_json(seed),
        _ => return None,
    })
}

pub fn s1(seed: u64) -> Snapshot {
    parse(&s1_json(seed))
}

pub fn s2(seed: u64) -> Snapshot {
    parse(&cluster_json(&Shape::S2, seed))
}

pub fn s3(seed: u64) -> Snapshot {
    parse(&cluster_json(&Shape::S3, seed))
}

pub fn s4(seed: u64) -> Snapshot {
    parse(&s4_json(seed))
}

/// A smaller S2/S3-like cluster for property tests; running pods request `fill_percent` of
/// each node's cpu.
pub fn small(
    seed: u64,
    nodes_per_group: u32,
    groups: u32,
    pending: u32,
    controllers: u32,
    fill_percent: u32,
) -> Snapshot {
    parse(&cluster_json(
        &Shape {
            nodes_per_group,
            groups,
            pending,
            controllers,
            running_controllers_per_group: 3,
            fill_percent,
        },
        seed,
    ))
}

fn parse(json: &str) -> Snapshot {
    Snapshot::from_json(json).expect("generated snapshots are valid")
}

struct Shape {
    nodes_per_group: u32,
    groups: u32,
    pending: u32,
    controllers: u32,
    running_controllers_per_group: u32,
    fill_percent: u32,
}

impl Shape {
    const S2: Shape = Shape {
        nodes_per_group: 10,
        groups: 100,
        pending: 10_000,
        controllers: 500,
        running_controllers_per_group: 10,
        fill_percent: 85,
    };
    const S3: Shape = Shape {
        nodes_per_group: 25,
        groups: 200,
        pending: 100_000,
        controllers: 2_000,
        running_controllers_per_group: 10,
        fill_percent: 85,
    };
}

/// (name, cores, memory GiB, GPUs)
const TYPES: &[(&str, u32, u32, u32)] = &[
    ("ecs.c7.xlarge", 4, 8, 0),
    ("ecs.g7.xlarge", 4, 16, 0),
    ("ecs.c7.2xlarge", 8, 16, 0),
    ("ecs.g7.2xlarge", 8, 32, 0),
    ("ecs.c7.4xlarge", 16, 32, 0),
    ("ecs.g7.4xlarge", 16, 64, 0),
    ("ecs.r7.4xlarge", 16, 128, 0),
    ("ecs.g7.8xlarge", 32, 128, 0),
    ("ecs.gn7i-c8g1.2xlarge", 8, 30, 1),
    ("ecs.gn7i-c16g1.4xlarge", 16, 60, 1),
];
const ZONES: &[&str] = &["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"];
const POOLS: &[&str] = &["general", "web", "data", "batch"];

struct GroupSpec {
    id: String,
    cores: u32,
    memory_gib: u32,
    gpus: u32,
    zone: &'static str,
    pool: &'static str,
    instance_type: &'static str,
    price: f64,
}

impl GroupSpec {
    fn labels(&self, out: &mut String, hostname: Option<&str>) {
        write!(
            out,
            r#""labels":{{"node.kubernetes.io/instance-type":"{}","topology.kubernetes.io/zone":"{}","topology.kubernetes.io/region":"cn-hangzhou","kubernetes.io/os":"linux","pool":"{}""#,
            self.instance_type, self.zone, self.pool
        )
        .unwrap();
        if self.gpus > 0 {
            out.push_str(r#","aliyun.accelerator/nvidia_name":"Tesla-A10""#);
        }
        if let Some(h) = hostname {
            write!(out, r#","kubernetes.io/hostname":"{h}""#).unwrap();
        }
        out.push('}');
    }

    fn taints(&self, out: &mut String) {
        let mut taints = Vec::new();
        if self.pool == "batch" {
            taints.push(r#"{"key":"dedicated","value":"batch","effect":"NoSchedule"}"#);
        }
        if self.gpus > 0 {
            taints.push(r#"{"key":"nvidia.com/gpu","value":"present","effect":"NoSchedule"}"#);
        }
        write!(out, r#""taints":[{}]"#, taints.join(",")).unwrap();
    }

    /// A node object (the template when `name` is `None`).
    fn node(&self, out: &mut String, name: Option<&str>) {
        out.push_str(r#"{"metadata":{"name":""#);
        out.push_str(name.unwrap_or(&self.id));
        out.push_str(r#"","#);
        self.labels(out, name);
        out.push_str(r#"},"spec":{"#);
        self.taints(out);
        if let Some(n) = name {
            write!(out, r#","providerID":"cn-hangzhou.i-{n}""#).unwrap();
        }
        write!(
            out,
            r#"}},"status":{{"capacity":{{"cpu":"{c}","memory":"{m}Gi","pods":"110","nvidia.com/gpu":"{g}"}},"allocatable":{{"cpu":"{a}m","memory":"{am}Mi","pods":"110","nvidia.com/gpu":"{g}"}},"conditions":[{{"type":"Ready","status":"True"}}]}}}}"#,
            c = self.cores,
            m = self.memory_gib,
            g = self.gpus,
            a = self.cores * 1000 - 100,
            am = self.memory_gib * 1024 - 512,
        )
        .unwrap();
    }

    fn alloc_millicores(&self) -> u32 {
        self.cores * 1000 - 100
    }

    fn alloc_mib(&self) -> u32 {
        self.memory_gib * 1024 - 512
    }
}

struct PodSpec<'a> {
    name: &'a str,
    namespace: &'a str,
    app: &'a str,
    owner_kind: Option<&'a str>,
    node: Option<&'a str>,
    cpu_m: u32,
    mem_mi: u32,
    gpu: u32,
    /// Raw JSON members appended to `spec` (nodeSelector, tolerations, volumes).
    extra_spec: &'a str,
    annotations: &'a str,
}

fn pod(out: &mut String, p: &PodSpec<'_>) {
    write!(
        out,
        r#"{{"metadata":{{"name":"{}","namespace":"{}","labels":{{"app":"{}"}}"#,
        p.name, p.namespace, p.app
    )
    .unwrap();
    if let Some(kind) = p.owner_kind {
        write!(
            out,
            r#","ownerReferences":[{{"apiVersion":"apps/v1","kind":"{kind}","name":"{app}","uid":"uid-{app}","controller":true}}]"#,
            app = p.app
        )
        .unwrap();
    }
    if !p.annotations.is_empty() {
        write!(out, r#","annotations":{{{}}}"#, p.annotations).unwrap();
    }
    out.push_str(r#"},"spec":{"#);
    if let Some(node) = p.node {
        write!(out, r#""nodeName":"{node}","#).unwrap();
    }
    write!(
        out,
        r#""containers":[{{"name":"main","resources":{{"requests":{{"cpu":"{}m","memory":"{}Mi""#,
        p.cpu_m, p.mem_mi
    )
    .unwrap();
    if p.gpu > 0 {
        write!(out, r#","nvidia.com/gpu":"{}""#, p.gpu).unwrap();
    }
    out.push_str("}}}]");
    out.push_str(p.extra_spec);
    // Bound pods run, unbound ones wait.
    out.push_str(if p.node.is_some() {
        r#"},"status":{"phase":"Running"}}"#
    } else {
        r#"},"status":{"phase":"Pending"}}"#
    });
}

fn groups(shape: &Shape, rng: &mut SmallRng) -> Vec<GroupSpec> {
    (0..shape.groups)
        .map(|i| {
            let (instance_type, cores, memory_gib, gpus) = TYPES[i as usize % TYPES.len()];
            let zone = ZONES[(i as usize / TYPES.len()) % ZONES.len()];
            let pool = POOLS[(i as usize / (TYPES.len() * ZONES.len())) % POOLS.len()];
            let price =
                (f64::from(cores) * 0.04 + f64::from(memory_gib) * 0.005 + f64::from(gpus) * 1.2)
                    * rng.random_range(0.95..1.05);
            GroupSpec {
                id: format!(
                    "asg-{i:03}-{pool}-{}",
                    instance_type.trim_start_matches("ecs.")
                ),
                cores,
                memory_gib,
                gpus,
                zone,
                pool,
                instance_type,
                price: (price * 1000.0).round() / 1000.0,
            }
        })
        .collect()
}

fn cluster_json(shape: &Shape, seed: u64) -> String {
    let mut rng = SmallRng::seed_from_u64(seed);
    let groups = groups(shape, &mut rng);
    let mut out = String::with_capacity(
        (shape.groups * shape.nodes_per_group * 31 + shape.pending) as usize * 330,
    );
    write!(out, r#"{{"now":"{NOW}","nodes":["#).unwrap();
    let mut first = true;
    for (g, spec) in groups.iter().enumerate() {
        for j in 0..shape.nodes_per_group {
            if !first {
                out.push(',');
            }
            first = false;
            spec.node(&mut out, Some(&format!("node-{g:03}-{j:03}")));
        }
    }
    out.push_str(r#"],"pods":["#);
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !first {
            out.push(',');
        }
        first = false;
    };
    // Running pods: a DaemonSet pod plus 29 pods of the group's controllers, ~85 % requested.
    for (g, spec) in groups.iter().enumerate() {
        let per_pod_cpu = spec.alloc_millicores() * shape.fill_percent / 100 / 29;
        let per_pod_mem = spec.alloc_mib() * shape.fill_percent.saturating_sub(5) / 100 / 29;
        for j in 0..shape.nodes_per_group {
            let node = format!("node-{g:03}-{j:03}");
            sep(&mut out);
            pod(
                &mut out,
                &PodSpec {
                    name: &format!("kube-proxy-{node}"),
                    namespace: "kube-system",
                    app: "kube-proxy",
                    owner_kind: Some("DaemonSet"),
                    node: Some(&node),
                    cpu_m: 50,
                    mem_mi: 64,
                    gpu: 0,
                    extra_spec: "",
                    annotations: "",
                },
            );
            for k in 0..29 {
                let controller = k % shape.running_controllers_per_group;
                let app = format!("run-{g:03}-{controller}");
                let tolerations = match (spec.pool == "batch", spec.gpus > 0) {
                    (true, true) => {
                        r#","tolerations":[{"key":"dedicated","operator":"Exists"},{"key":"nvidia.com/gpu","operator":"Exists"}]"#
                    }
                    (true, false) => r#","tolerations":[{"key":"dedicated","operator":"Exists"}]"#,
                    (false, true) => {
                        r#","tolerations":[{"key":"nvidia.com/gpu","operator":"Exists"}]"#
                    }
                    _ => "",
                };
                sep(&mut out);
                pod(
                    &mut out,
                    &PodSpec {
                        name: &format!("{app}-{node}-{k}"),
                        namespace: "prod",
                        app: &app,
                        owner_kind: Some("ReplicaSet"),
                        node: Some(&node),
                        cpu_m: per_pod_cpu,
                        mem_mi: per_pod_mem,
                        gpu: 0,
                        extra_spec: tolerations,
                        annotations: "",
                    },
                );
            }
        }
    }
    // Pending pods.
    let per_controller = shape.pending / shape.controllers.max(1);
    for k in 0..shape.controllers {
        let cpu_m = [100, 250, 500, 500, 1000, 1000, 2000, 4000][rng.random_range(0..8)];
        let mem_mi = cpu_m * [1, 2, 4][rng.random_range(0..3)] * 1024 / 1000 + 64;
        let roll: u32 = rng.random_range(0..100);
        let (extra, gpu) = if roll < 2 {
            (
                r#","tolerations":[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}]"#
                    .to_owned(),
                1,
            )
        } else if roll < 7 {
            (
                r#","tolerations":[{"key":"dedicated","operator":"Equal","value":"batch","effect":"NoSchedule"}],"nodeSelector":{"pool":"batch"}"#.to_owned(),
                0,
            )
        } else if roll < 12 {
            (
                r#","tolerations":[{"key":"dedicated","operator":"Equal","value":"batch","effect":"NoSchedule"}]"#.to_owned(),
                0,
            )
        } else if roll < 32 {
            let selector = match rng.random_range(0..3) {
                0 => format!(r#""pool":"{}""#, POOLS[rng.random_range(0..3)]),
                1 => format!(
                    r#""topology.kubernetes.io/zone":"{}""#,
                    ZONES[rng.random_range(0..ZONES.len())]
                ),
                _ => format!(
                    r#""node.kubernetes.io/instance-type":"{}""#,
                    TYPES[rng.random_range(0..8)].0
                ),
            };
            (format!(r#","nodeSelector":{{{selector}}}"#), 0)
        } else {
            (String::new(), 0)
        };
        let app = format!("web-{k:04}");
        let namespace = format!("team-{}", k % 20);
        for i in 0..per_controller {
            sep(&mut out);
            pod(
                &mut out,
                &PodSpec {
                    name: &format!("{app}-{i:05}"),
                    namespace: &namespace,
                    app: &app,
                    owner_kind: Some("ReplicaSet"),
                    node: None,
                    cpu_m,
                    mem_mi,
                    gpu,
                    extra_spec: &extra,
                    annotations: "",
                },
            );
        }
    }
    out.push_str(r#"],"nodeGroups":["#);
    for (g, spec) in groups.iter().enumerate() {
        if g > 0 {
            out.push(',');
        }
        let max = shape.nodes_per_group + rng.random_range(40..240);
        write!(
            out,
            r#"{{"id":"{}","minSize":1,"maxSize":{max},"targetSize":{n},"pricePerHour":{},"nodeNames":["#,
            spec.id,
            spec.price,
            n = shape.nodes_per_group
        )
        .unwrap();
        for j in 0..shape.nodes_per_group {
            if j > 0 {
                out.push(',');
            }
            write!(out, r#""node-{g:03}-{j:03}""#).unwrap();
        }
        out.push_str(r#"],"template":"#);
        spec.node(&mut out, None);
        out.push('}');
    }
    out.push_str("]}");
    out
}

fn s1_json(seed: u64) -> String {
    let _ = seed; // S1 is CA's fixed RunOnce scenario; the seed is accepted for uniformity.
    let spec = GroupSpec {
        id: "asg-s1".into(),
        cores: 16,
        memory_gib: 64,
        gpus: 0,
        zone: ZONES[0],
        pool: "general",
        instance_type: "ecs.g7.4xlarge",
        price: 0.96,
    };
    let mut out = String::with_capacity(10_000 * 330);
    write!(out, r#"{{"now":"{NOW}","nodes":[],"pods":["#).unwrap();
    for i in 0..10_000 {
        if i > 0 {
            out.push(',');
        }
        // 15,900m / 318m = 50 pods per node.
        pod(
            &mut out,
            &PodSpec {
                name: &format!("app-{i:05}"),
                namespace: "default",
                app: "app",
                owner_kind: Some("ReplicaSet"),
                node: None,
                cpu_m: 318,
                mem_mi: 1024,
                gpu: 0,
                extra_spec: "",
                annotations: "",
            },
        );
    }
    out.push_str(r#"],"nodeGroups":[{"id":"asg-s1","minSize":0,"maxSize":1000,"targetSize":0,"pricePerHour":0.96,"nodeNames":[],"template":"#);
    spec.node(&mut out, None);
    out.push_str("}]}");
    out
}

fn s4_json(seed: u64) -> String {
    let mut rng = SmallRng::seed_from_u64(seed);
    const GROUPS: usize = 10;
    const PER_GROUP: usize = 100;
    const CONTROLLERS: usize = 300;
    let spec = |g: usize| GroupSpec {
        id: format!("asg-s4-{g}"),
        cores: 16,
        memory_gib: 64,
        gpus: 0,
        zone: ZONES[g % ZONES.len()],
        pool: "general",
        instance_type: "ecs.g7.4xlarge",
        price: 0.96,
    };
    let mut out = String::with_capacity(GROUPS * PER_GROUP * 31 * 360);
    write!(out, r#"{{"now":"{NOW}","unneededSince":{{"#).unwrap();
    for g in 0..GROUPS {
        for j in 0..PER_GROUP {
            if g + j > 0 {
                out.push(',');
            }
            write!(out, r#""node-{g:02}-{j:03}":"2025-12-31T23:00:00Z""#).unwrap();
        }
    }
    out.push_str(r#"},"nodes":["#);
    for g in 0..GROUPS {
        for j in 0..PER_GROUP {
            if g + j > 0 {
                out.push(',');
            }
            spec(g).node(&mut out, Some(&format!("node-{g:02}-{j:03}")));
        }
    }
    out.push_str(r#"],"pods":["#);
    let mut first = true;
    for g in 0..GROUPS {
        for j in 0..PER_GROUP {
            let node = format!("node-{g:02}-{j:03}");
            if !first {
                out.push(',');
            }
            first = false;
            pod(
                &mut out,
                &PodSpec {
                    name: &format!("kube-proxy-{node}"),
                    namespace: "kube-system",
                    app: "kube-proxy",
                    owner_kind: Some("DaemonSet"),
                    node: Some(&node),
                    cpu_m: 100,
                    mem_mi: 128,
                    gpu: 0,
                    extra_spec: "",
                    annotations: "",
                },
            );
            // 29 pods of controllers asking 150–230m each: 30–40 % of 15,900m.
            for k in 0..29 {
                let c = rng.random_range(0..CONTROLLERS);
                let each = 150 + (c as u32 * 37) % 81;
                let roll: u32 = rng.random_range(0..1000);
                let app = format!("svc-{c:03}");
                let name = format!("{app}-{node}-{k}");
                out.push(',');
                // About 1 % of pods pin their node one way or another.
                let (owner, namespace, extra, annotations) = match roll {
                    0..=2 => (None, "prod", "", ""),
                    3..=4 => (Some("ReplicaSet"), "kube-system", "", ""),
                    5..=6 => (
                        Some("ReplicaSet"),
                        "prod",
                        r#","volumes":[{"name":"scratch","emptyDir":{}}]"#,
                        "",
                    ),
                    7..=8 => (
                        Some("ReplicaSet"),
                        "prod",
                        "",
                        r#""cluster-autoscaler.kubernetes.io/safe-to-evict":"false""#,
                    ),
                    _ => (Some("ReplicaSet"), "prod", "", ""),
                };
                pod(
                    &mut out,
                    &PodSpec {
                        name: &name,
                        namespace,
                        app: &app,
                        owner_kind: owner,
                        node: Some(&node),
                        cpu_m: each,
                        mem_mi: each * 3,
                        gpu: 0,
                        extra_spec: extra,
                        annotations,
                    },
                );
            }
        }
    }
    // PDBs on a third of the controllers; two are exhausted, the others allow 5 to 200.
    out.push_str(r#"],"pdbs":["#);
    for c in (0..CONTROLLERS).step_by(3) {
        if c > 0 {
            out.push(',');
        }
        let allowed = if c % 150 == 0 {
            0
        } else {
            [5, 20, 50, 100, 200][rng.random_range(0..5)]
        };
        write!(
            out,
            r#"{{"metadata":{{"name":"svc-{c:03}","namespace":"prod"}},"spec":{{"selector":{{"matchLabels":{{"app":"svc-{c:03}"}}}},"maxUnavailable":1}},"status":{{"disruptionsAllowed":{allowed}}}}}"#
        )
        .unwrap();
    }
    out.push_str(r#"],"nodeGroups":["#);
    for g in 0..GROUPS {
        if g > 0 {
            out.push(',');
        }
        write!(
            out,
            r#"{{"id":"asg-s4-{g}","minSize":10,"maxSize":200,"targetSize":{PER_GROUP},"pricePerHour":0.96,"nodeNames":["#
        )
        .unwrap();
        for j in 0..PER_GROUP {
            if j > 0 {
                out.push(',');
            }
            write!(out, r#""node-{g:02}-{j:03}""#).unwrap();
        }
        out.push_str(r#"],"template":"#);
        spec(g).node(&mut out, None);
        out.push('}');
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_scenarios_have_the_sizes_the_issue_specifies() {
        let s1 = s1(1);
        assert_eq!(
            (s1.nodes.len(), s1.pods.len(), s1.node_groups.len()),
            (0, 10_000, 1)
        );
        let s2 = s2(1);
        assert_eq!((s2.nodes.len(), s2.node_groups.len()), (1_000, 100));
        assert_eq!(s2.pods.len(), 1_000 * 30 + 10_000);
        let s4 = s4(1);
        assert_eq!((s4.nodes.len(), s4.pods.len()), (1_000, 30_000));
    }

    #[test]
    fn generation_is_deterministic_for_a_seed() {
        assert_eq!(generate("s2", 7), generate("s2", 7));
        assert_ne!(generate("s2", 7), generate("s2", 8));
    }
}
