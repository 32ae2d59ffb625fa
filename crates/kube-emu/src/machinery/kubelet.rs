//! What a simulated kubelet (and ACK's node lifecycle around it) writes, pure: the Node a
//! machine registers as, its conditions when Ready and when lost, its Lease, and a pod's status
//! when it starts and when its containers finish. The code that decides *when* is in
//! `kubelets.rs`; KWOK's stages are the model.
//!
//! Allocatable is capacity minus a tiered reserve modelled on ACK's published default policy
//! (which matches its documented example: a 4-core node keeps 3900m): CPU 100m for the first
//! 4 cores, then 2.5% up to 64, 1.25% up to 128, 0.5% beyond; memory 25% of the first 4 GiB,
//! 20% up to 8, 10% up to 16, 6% up to 128, 2% beyond, plus the 100Mi hard-eviction threshold;
//! ephemeral storage keeps the 10% `nodefs.available` eviction threshold.

use std::collections::BTreeMap;

use planner::quantity::Quantity;
use serde_json::{Value, json};

use super::Machine;
use super::script::Script;
use crate::clock::rfc3339;

/// Marks the Nodes this module created, so foreign ones (a virtual node) are left alone.
pub const OWNER_ANNOTATION: &str = "emulator.ackctl.io/kubelet";
pub const KUBELET_VERSION: &str = "v1.32.1-aliyun.1";
pub const CONTAINER_RUNTIME: &str = "containerd://1.6.36";
pub const OS_IMAGE: &str = "Alibaba Cloud Linux 3.2104 U11 (OpenAnolis Edition)";
pub const KERNEL: &str = "5.10.134-18.al8.x86_64";
pub const MASTER_ROLE: &str = "node-role.kubernetes.io/master";
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// The lease duration the kubelet writes.
pub const LEASE_SECONDS: i64 = 40;

const GI: i64 = 1 << 30;
const MI: i64 = 1 << 20;

/// CPU kept back by the node's system reserve, in millicores, for a node of `millicores`.
pub fn cpu_reserve(millicores: i64) -> i64 {
    // (upper bound of the tier, rate in basis points): 2.5%, 1.25%, 0.5% above 4 cores.
    let tiers = [(4_000, 0), (64_000, 250), (128_000, 125), (i64::MAX, 50)];
    let mut reserve = 100;
    let mut low = 0;
    for (high, bp) in tiers {
        if millicores > low {
            reserve += (millicores.min(high) - low) * bp / 10_000;
        }
        low = high;
    }
    reserve.min(millicores)
}

/// Memory kept back (system reserve plus the hard-eviction threshold), in bytes.
pub fn memory_reserve(bytes: i64) -> i64 {
    let tiers = [
        (4 * GI, 25),
        (8 * GI, 20),
        (16 * GI, 10),
        (128 * GI, 6),
        (i64::MAX, 2),
    ];
    let mut reserve = 0;
    let mut low = 0;
    for (high, pct) in tiers {
        if bytes > low {
            reserve += (bytes.min(high) - low) * pct / 100;
        }
        low = high;
    }
    (reserve + 100 * MI).min(bytes)
}

/// Allocatable from capacity, by the reserve above; other resources pass through.
pub fn allocatable(capacity: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    capacity
        .iter()
        .map(|(k, v)| {
            let q = Quantity::parse(v).ok();
            let out = match (k.as_str(), q) {
                ("cpu", Some(q)) => format!("{}m", q.millis() - cpu_reserve(q.millis())),
                ("memory", Some(q)) => {
                    format!("{}Ki", (q.value() - memory_reserve(q.value())) / 1024)
                }
                ("ephemeral-storage", Some(q)) => (q.value() - q.value() / 10).to_string(),
                _ => v.clone(),
            };
            (k.clone(), out)
        })
        .collect()
}

fn condition(kind: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": kind, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": now,
           "reason": reason, "message": message})
}

/// The four conditions a healthy kubelet posts.
pub fn ready_conditions(now_ms: i64) -> Vec<Value> {
    let now = rfc3339(now_ms);
    vec![
        condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
            &now,
        ),
        condition(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
            &now,
        ),
        condition(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
            &now,
        ),
        condition(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
            &now,
        ),
    ]
}

/// What the node lifecycle controller writes when a kubelet stops posting status: every
/// condition Unknown, heartbeats left as they were.
pub fn unknown_conditions(old: &[Value], now_ms: i64) -> Vec<Value> {
    let now = rfc3339(now_ms);
    old.iter()
        .map(|c| {
            let mut c = c.clone();
            c["status"] = json!("Unknown");
            c["reason"] = json!("NodeStatusUnknown");
            c["message"] = json!("Kubelet stopped posting node status.");
            c["lastTransitionTime"] = json!(now);
            c
        })
        .collect()
}

/// The taints the node lifecycle controller puts on an unreachable node.
pub fn unreachable_taints(now_ms: i64) -> Vec<Value> {
    vec![
        json!({"key": UNREACHABLE, "effect": "NoSchedule", "timeAdded": rfc3339(now_ms)}),
        json!({"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": rfc3339(now_ms)}),
    ]
}

/// A stable fake hex digest of `s` (for ids: container IDs, image digests, machine IDs).
pub fn digest(s: &str, len: usize) -> String {
    let mut out = String::new();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut round = 0u64;
    while out.len() < len {
        for b in s.bytes().chain(round.to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{h:016x}"));
        round += 1;
    }
    out.truncate(len);
    out
}

/// The Node a machine registers as.
pub fn node_object(m: &Machine, pod_cidr: &str, now_ms: i64) -> Value {
    let mut labels = m.labels.clone();
    let arch = labels
        .get("kubernetes.io/arch")
        .cloned()
        .unwrap_or_else(|| "amd64".into());
    for (k, v) in [
        ("kubernetes.io/hostname", m.name.as_str()),
        ("kubernetes.io/arch", arch.as_str()),
        ("kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", arch.as_str()),
        ("beta.kubernetes.io/os", "linux"),
    ] {
        labels.entry(k.into()).or_insert_with(|| v.into());
    }
    for (new, beta) in [
        (
            "node.kubernetes.io/instance-type",
            "beta.kubernetes.io/instance-type",
        ),
        (
            "topology.kubernetes.io/zone",
            "failure-domain.beta.kubernetes.io/zone",
        ),
        (
            "topology.kubernetes.io/region",
            "failure-domain.beta.kubernetes.io/region",
        ),
    ] {
        if let Some(v) = labels.get(new).cloned() {
            labels.entry(beta.into()).or_insert(v);
        }
    }
    let mut taints = m.taints.clone();
    if m.master {
        labels.insert(MASTER_ROLE.into(), String::new());
        if !taints.iter().any(|t| t["key"] == MASTER_ROLE) {
            taints.push(json!({"key": MASTER_ROLE, "effect": "NoSchedule"}));
        }
    }
    let mut spec =
        json!({"providerID": m.provider_id, "podCIDR": pod_cidr, "podCIDRs": [pod_cidr]});
    if !taints.is_empty() {
        spec["taints"] = Value::Array(taints);
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": m.name, "labels": labels, "annotations": {
            OWNER_ANNOTATION: "simulated",
            "node.alpha.kubernetes.io/ttl": "0",
            "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": spec,
        "status": {
            "capacity": m.capacity,
            "allocatable": allocatable(&m.capacity),
            "conditions": ready_conditions(now_ms),
            "addresses": [{"type": "InternalIP", "address": m.internal_ip},
                          {"type": "Hostname", "address": m.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": digest(&m.name, 32), "systemUUID": digest(&m.provider_id, 32),
                "bootID": digest(&format!("{}{}", m.name, m.running_since_ms), 32),
                "kernelVersion": KERNEL, "osImage": OS_IMAGE,
                "containerRuntimeVersion": CONTAINER_RUNTIME, "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION, "operatingSystem": "linux",
                "architecture": arch},
        },
    })
}

/// The node's Lease in kube-node-lease, renewed at `now_ms`.
pub fn lease_object(node: &str, node_uid: &str, now_ms: i64) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": node, "namespace": "kube-node-lease",
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}]},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": LEASE_SECONDS,
                 "renewTime": micro_time(now_ms)},
    })
}

/// `MicroTime`, as Lease times are written.
pub fn micro_time(ms: i64) -> String {
    let base = rfc3339(ms);
    format!(
        "{}.{:06}Z",
        base.trim_end_matches('Z'),
        ms.rem_euclid(1000) * 1000
    )
}

/// The i-th pod IP of a node's /24 pod CIDR (`10.a.b.0/24`), skipping the network and gateway.
pub fn pod_cidr(index: u32) -> String {
    format!("10.{}.{}.0/24", 128 + ((index >> 8) & 0x7f), index & 0xff)
}

/// The address `host` (2..=254) inside a `x.y.z.0/24` CIDR.
pub fn ip_in(cidr: &str, host: u8) -> String {
    let base = cidr.split('/').next().unwrap_or("10.128.0.0");
    let prefix = base.rsplit_once('.').map_or(base, |(p, _)| p);
    format!("{prefix}.{host}")
}

/// The pod's QoS class from its containers' requests and limits.
pub fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            pod["spec"]["initContainers"]
                .as_array()
                .into_iter()
                .flatten(),
        )
        .collect();
    let any = containers.iter().any(|c| {
        ["requests", "limits"].iter().any(|k| {
            c["resources"][*k]
                .as_object()
                .is_some_and(|m| m.contains_key("cpu") || m.contains_key("memory"))
        })
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let lim = &c["resources"]["limits"][*r];
            let req = &c["resources"]["requests"][*r];
            !lim.is_null() && (req.is_null() || req == lim)
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// How one container of a started pod is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerRun {
    Running,
    /// Exited with this code at this time, for good (restartPolicy permits no restart).
    Terminated {
        code: i32,
        at_ms: i64,
    },
    /// Exited and would be restarted: shown in CrashLoopBackOff after its first run (the
    /// emulation does not loop).
    BackOff {
        code: i32,
        at_ms: i64,
    },
}

/// Where a container whose script is `script`, started at `start_ms`, is at `now_ms`.
pub fn container_run(script: &Script, policy: &str, start_ms: i64, now_ms: i64) -> ContainerRun {
    match script.end {
        Some((after, code)) if now_ms >= start_ms.saturating_add(after) => {
            let at_ms = start_ms.saturating_add(after);
            let restarts = match policy {
                "Never" => false,
                "OnFailure" => code != 0,
                _ => true,
            };
            if restarts {
                ContainerRun::BackOff { code, at_ms }
            } else {
                ContainerRun::Terminated { code, at_ms }
            }
        }
        _ => ContainerRun::Running,
    }
}

fn terminated(code: i32, start_ms: i64, at_ms: i64, id: &str) -> Value {
    json!({"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
           "startedAt": rfc3339(start_ms), "finishedAt": rfc3339(at_ms), "containerID": id})
}

/// The pod's status once started at `start_ms`, at `now_ms`, given each container's script.
/// Returns the status and whether every container is done for good.
pub fn pod_status(
    pod: &Value,
    host_ip: &str,
    pod_ip: &str,
    scripts: &[Script],
    start_ms: i64,
    now_ms: i64,
) -> (Value, bool) {
    let policy = pod["spec"]["restartPolicy"].as_str().unwrap_or("Always");
    let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
    let start = rfc3339(start_ms);
    let mut statuses = Vec::new();
    let (mut all_ready, mut all_done, mut any_failed) = (true, true, false);
    for (i, c) in pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = c["name"].as_str().unwrap_or("");
        let image = c["image"].as_str().unwrap_or("");
        let id = format!("containerd://{}", digest(&format!("{uid}/{name}"), 64));
        let run = scripts.get(i).map_or(ContainerRun::Running, |s| {
            container_run(s, policy, start_ms, now_ms)
        });
        let mut st = json!({
            "name": name, "image": qualified_image(image),
            "imageID": format!("{}@sha256:{}", image_repo(image), digest(image, 64)),
            "containerID": id, "restartCount": 0, "lastState": {},
        });
        match run {
            ContainerRun::Running => {
                st["state"] = json!({"running": {"startedAt": start}});
                st["ready"] = json!(true);
                st["started"] = json!(true);
                all_done = false;
            }
            ContainerRun::Terminated { code, at_ms } => {
                st["state"] = json!({"terminated": terminated(code, start_ms, at_ms, &id)});
                st["ready"] = json!(false);
                st["started"] = json!(false);
                all_ready = false;
                any_failed |= code != 0;
            }
            ContainerRun::BackOff { code, at_ms } => {
                st["state"] = json!({"waiting": {"reason": "CrashLoopBackOff",
                    "message": format!("back-off 10s restarting failed container={name} pod={}_{}",
                        pod["metadata"]["name"].as_str().unwrap_or(""),
                        pod["metadata"]["namespace"].as_str().unwrap_or(""))}});
                st["lastState"] = json!({"terminated": terminated(code, start_ms, at_ms, &id)});
                st["restartCount"] = json!(1);
                st["ready"] = json!(false);
                st["started"] = json!(false);
                all_ready = false;
                all_done = false;
            }
        }
        statuses.push(st);
    }
    let phase = match (all_done, any_failed) {
        (true, true) => "Failed",
        (true, false) => "Succeeded",
        _ => "Running",
    };
    let scheduled = pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "PodScheduled")
        .cloned()
        .unwrap_or_else(|| json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": start}));
    let cond = |kind: &str, ok: bool| {
        let mut c = json!({"type": kind, "status": if ok { "True" } else { "False" },
                           "lastProbeTime": null, "lastTransitionTime": rfc3339(now_ms)});
        if !ok {
            c["reason"] = json!(if all_done {
                "PodCompleted"
            } else {
                "ContainersNotReady"
            });
        }
        c
    };
    let ip_obj = |ip: &str| json!([{"ip": ip}]);
    let status = json!({
        "phase": phase,
        "conditions": [cond("PodReadyToStartContainers", !all_done), cond("Initialized", true),
                       cond("Ready", all_ready), cond("ContainersReady", all_ready), scheduled],
        "hostIP": host_ip, "hostIPs": ip_obj(host_ip),
        "podIP": pod_ip, "podIPs": ip_obj(pod_ip),
        "startTime": start,
        "containerStatuses": statuses,
        "qosClass": qos_class(pod),
    });
    (status, all_done)
}

fn image_repo(image: &str) -> String {
    let q = qualified_image(image);
    let no_digest = q.split('@').next().unwrap_or(&q).to_string();
    match no_digest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo.to_string(),
        _ => no_digest,
    }
}

/// The image reference as containerd reports it (`nginx` → `docker.io/library/nginx:latest`).
pub fn qualified_image(image: &str) -> String {
    let first = image.split('/').next().unwrap_or("");
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut out = if has_registry {
        image.to_string()
    } else if image.contains('/') {
        format!("docker.io/{image}")
    } else {
        format!("docker.io/library/{image}")
    };
    let last = out.rsplit('/').next().unwrap_or("");
    if !last.contains(':') && !last.contains('@') {
        out.push_str(":latest");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machinery::script::script;

    fn machine(master: bool) -> Machine {
        Machine {
            name: "cn-hangzhou.i-abc".into(),
            provider_id: "cn-hangzhou.i-abc".into(),
            labels: [
                ("node.kubernetes.io/instance-type", "ecs.g7.xlarge"),
                ("topology.kubernetes.io/zone", "cn-hangzhou-k"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            capacity: [
                ("cpu", "4"),
                ("memory", "16Gi"),
                ("pods", "64"),
                ("ephemeral-storage", "120Gi"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            taints: vec![],
            internal_ip: "192.168.0.10".into(),
            running_since_ms: 0,
            master,
        }
    }

    #[test]
    fn a_four_core_node_keeps_3900m_as_acks_documented_example() {
        assert_eq!(cpu_reserve(4_000), 100);
        assert_eq!(cpu_reserve(32_000), 100 + 28 * 25);
        assert_eq!(cpu_reserve(96_000), 2_000);
        // 16 GiB: 1 GiB + 0.8 GiB + 0.8 GiB + 100 MiB eviction threshold.
        assert_eq!(
            memory_reserve(16 * GI),
            GI + 8 * GI / 10 + 8 * GI / 10 + 100 * MI
        );
        let alloc = allocatable(&machine(false).capacity);
        assert_eq!(alloc["cpu"], "3900m");
        assert_eq!(alloc["pods"], "64");
        assert_eq!(alloc["ephemeral-storage"], (120 * GI - 12 * GI).to_string());
    }

    #[test]
    fn a_master_registers_with_its_role_label_and_taint() {
        let n = node_object(&machine(true), "10.128.0.0/24", 0);
        assert_eq!(n["metadata"]["labels"][MASTER_ROLE], "");
        assert_eq!(n["spec"]["taints"][0]["key"], MASTER_ROLE);
        assert_eq!(
            n["metadata"]["labels"]["kubernetes.io/hostname"],
            "cn-hangzhou.i-abc"
        );
        assert_eq!(
            n["metadata"]["labels"]["beta.kubernetes.io/instance-type"],
            "ecs.g7.xlarge"
        );
        assert_eq!(n["status"]["nodeInfo"]["kubeletVersion"], KUBELET_VERSION);
        assert_eq!(n["status"]["conditions"][3]["reason"], "KubeletReady");
        let w = node_object(&machine(false), "10.128.0.0/24", 0);
        assert!(w["spec"].get("taints").is_none());
    }

    #[test]
    fn pod_cidrs_and_ips_stay_inside_their_node_range() {
        assert_eq!(pod_cidr(0), "10.128.0.0/24");
        assert_eq!(pod_cidr(257), "10.129.1.0/24");
        assert_eq!(ip_in("10.129.1.0/24", 7), "10.129.1.7");
    }

    #[test]
    fn a_job_container_finishes_and_a_server_keeps_running() {
        let pod = json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}});
        let s = script(&["sh".into(), "-c".into(), "sleep 3; exit 2".into()], &[]);
        let (st, done) = pod_status(
            &pod,
            "192.168.0.1",
            "10.128.0.2",
            std::slice::from_ref(&s),
            0,
            1000,
        );
        assert!(!done);
        assert_eq!(st["phase"], "Running");
        assert_eq!(st["containerStatuses"][0]["ready"], true);
        let (st, done) = pod_status(&pod, "192.168.0.1", "10.128.0.2", &[s], 0, 3000);
        assert!(done);
        assert_eq!(st["phase"], "Failed");
        assert_eq!(
            st["containerStatuses"][0]["state"]["terminated"]["exitCode"],
            2
        );
        assert_eq!(
            st["containerStatuses"][0]["image"],
            "docker.io/library/busybox:latest"
        );
    }

    #[test]
    fn an_always_restarting_container_that_exits_shows_crash_loop_back_off() {
        let pod = json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "busybox"}]}});
        let s = script(&["echo".into(), "hi".into()], &[]);
        let (st, done) = pod_status(&pod, "h", "i", &[s], 0, 0);
        assert!(!done);
        assert_eq!(st["phase"], "Running");
        assert_eq!(
            st["containerStatuses"][0]["state"]["waiting"]["reason"],
            "CrashLoopBackOff"
        );
    }

    #[test]
    fn qos_follows_requests_and_limits() {
        let p = |res: Value| json!({"spec": {"containers": [{"name": "c", "resources": res}]}});
        assert_eq!(qos_class(&p(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&p(json!({"requests": {"cpu": "1"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&p(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
    }

    #[test]
    fn lease_times_are_micro_times() {
        assert_eq!(micro_time(1_700_000_000_123), "2023-11-14T22:13:20.123000Z");
    }
}
