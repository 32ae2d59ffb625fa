//! The emulated cluster's machinery driven the way the emulator drives it: `Cluster::reconcile`
//! with the cluster's machines, on a `ManualClock`, observed only through the API server.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube_emu::{
    ApiServer, Clock, Cluster, Config, ListOptions, Machine, ManualClock, PatchType, Target,
    Timing, lookup,
};
use serde_json::{Value, json};

const T0: i64 = 1_700_000_000_000;

struct World {
    clock: Arc<ManualClock>,
    cluster: Cluster,
    machines: Vec<Machine>,
}

fn machine(i: usize, master: bool) -> Machine {
    let name = format!("cn-hangzhou.i-{i:04}");
    let labels: BTreeMap<String, String> = [
        ("node.kubernetes.io/instance-type", "ecs.g7.xlarge"),
        ("topology.kubernetes.io/region", "cn-hangzhou"),
        ("topology.kubernetes.io/zone", "cn-hangzhou-k"),
        ("alibabacloud.com/nodepool-id", "np-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Machine {
        provider_id: name.clone(),
        name,
        labels,
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
        internal_ip: format!("192.168.{}.{}", i / 200, 10 + i % 200),
        running_since_ms: T0,
        master,
    }
}

fn world(workers: usize, masters: usize, timing: Timing) -> World {
    let clock = Arc::new(ManualClock::new(T0));
    let api = Arc::new(ApiServer::new(
        clock.clone() as Arc<dyn Clock>,
        Config::default(),
    ));
    let cluster = Cluster::new(api, timing);
    let machines = (0..masters)
        .map(|i| machine(i, true))
        .chain((masters..masters + workers).map(|i| machine(i, false)))
        .collect();
    World {
        clock,
        cluster,
        machines,
    }
}

impl World {
    fn api(&self) -> &Arc<ApiServer> {
        self.cluster.api()
    }

    fn settle(&self) {
        for _ in 0..20 {
            self.cluster.reconcile(&self.machines);
        }
    }

    fn list(&self, group: &str, plural: &str, ns: Option<&str>) -> Vec<Value> {
        self.api()
            .list(lookup(group, plural).unwrap(), ns, &ListOptions::default())
            .unwrap()
            .items
            .iter()
            .map(|o| (**o).clone())
            .collect()
    }

    fn pods(&self, ns: &str, prefix: &str) -> Vec<Value> {
        self.list("", "pods", Some(ns))
            .into_iter()
            .filter(|p| p["metadata"]["name"].as_str().unwrap().starts_with(prefix))
            .collect()
    }

    fn get(&self, group: &str, plural: &str, ns: Option<&str>, name: &str) -> Option<Value> {
        self.api()
            .get(lookup(group, plural).unwrap(), ns, name)
            .ok()
    }

    fn create(&self, group: &str, plural: &str, ns: Option<&str>, obj: Value) -> Value {
        self.api()
            .create(lookup(group, plural).unwrap(), ns, obj, false)
            .unwrap()
    }

    fn patch(&self, group: &str, plural: &str, ns: Option<&str>, name: &str, patch: Value) {
        self.api()
            .patch(
                lookup(group, plural).unwrap(),
                ns,
                name,
                PatchType::Merge,
                &patch,
                Target::Main,
                None,
            )
            .unwrap();
    }
}

fn deployment(name: &str, replicas: i64, image: &str, cpu: &str) -> Value {
    json!({"metadata": {"name": name},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "main", "image": image,
                                          "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}}}})
}

fn running(p: &Value) -> bool {
    p["status"]["phase"] == "Running"
        && p["status"]["containerStatuses"][0]["ready"] == true
        && p["status"]["podIP"].is_string()
}

#[test]
fn machines_register_as_ready_nodes_with_acks_labels_and_a_lease() {
    let w = world(2, 1, Timing::instant());
    w.settle();
    let nodes = w.list("", "nodes", None);
    assert_eq!(nodes.len(), 3);
    let m = &nodes[0];
    assert_eq!(m["metadata"]["name"], "cn-hangzhou.i-0000");
    assert_eq!(m["spec"]["providerID"], "cn-hangzhou.i-0000");
    assert_eq!(
        m["metadata"]["labels"]["node-role.kubernetes.io/master"],
        ""
    );
    assert_eq!(
        m["metadata"]["labels"]["kubernetes.io/hostname"],
        "cn-hangzhou.i-0000"
    );
    assert_eq!(
        m["metadata"]["labels"]["alibabacloud.com/nodepool-id"],
        "np-1"
    );
    assert_eq!(
        m["spec"]["taints"][0]["key"],
        "node-role.kubernetes.io/master"
    );
    assert_eq!(m["status"]["allocatable"]["cpu"], "3900m");
    let ready = m["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "True");
    let lease = w
        .get(
            "coordination.k8s.io",
            "leases",
            Some("kube-node-lease"),
            "cn-hangzhou.i-0001",
        )
        .expect("a lease per node");
    let first = lease["spec"]["renewTime"].clone();
    w.clock.advance_ms(10_000);
    w.settle();
    let lease = w
        .get(
            "coordination.k8s.io",
            "leases",
            Some("kube-node-lease"),
            "cn-hangzhou.i-0001",
        )
        .unwrap();
    assert_ne!(
        lease["spec"]["renewTime"], first,
        "the kubelet renews its lease"
    );
}

#[test]
fn a_node_joins_only_after_the_join_delay() {
    let w = world(1, 0, Timing::default());
    w.settle();
    assert!(w.list("", "nodes", None).is_empty());
    w.clock.advance_ms(Timing::default().join_delay_ms);
    w.settle();
    assert_eq!(w.list("", "nodes", None).len(), 1);
}

#[test]
fn a_fresh_cluster_runs_the_system_pods_of_the_seed() {
    let w = world(1, 3, Timing::instant());
    w.settle();
    let pods = w.list("", "pods", Some("kube-system"));
    let count = |prefix: &str| {
        pods.iter()
            .filter(|p| p["metadata"]["name"].as_str().unwrap().starts_with(prefix))
            .count()
    };
    assert_eq!(count("coredns-"), 2);
    assert_eq!(count("kube-proxy-master-"), 3);
    assert_eq!(count("kube-proxy-worker-"), 1);
    assert_eq!(count("cloud-controller-manager-"), 3);
    assert_eq!(count("kube-flannel-ds-"), 4);
    assert_eq!(count("kube-apiserver-cn-hangzhou.i-000"), 3);
    let not_running: Vec<_> = pods
        .iter()
        .filter(|p| !running(p))
        .map(|p| p["metadata"]["name"].clone())
        .collect();
    assert!(not_running.is_empty(), "not running: {not_running:?}");
    assert!(
        w.get("", "services", Some("default"), "kubernetes")
            .is_some()
    );
    // The coredns replicas run on the worker: masters are tainted.
    for p in pods.iter().filter(|p| {
        p["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("coredns-")
    }) {
        assert_eq!(p["spec"]["nodeName"], "cn-hangzhou.i-0003");
        assert!(p["metadata"]["name"].as_str().unwrap().len() > "coredns-".len() + 10);
    }
}

#[test]
fn a_deployment_becomes_running_pods_spread_over_nodes_and_an_idle_pass_writes_nothing() {
    let w = world(3, 0, Timing::instant());
    w.create(
        "apps",
        "deployments",
        Some("default"),
        deployment("web", 6, "nginx:1.25", "500m"),
    );
    w.settle();
    let pods = w.pods("default", "web-");
    assert_eq!(pods.len(), 6);
    assert!(pods.iter().all(running), "{pods:#?}");
    let mut per_node = BTreeMap::new();
    for p in &pods {
        *per_node
            .entry(p["spec"]["nodeName"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
        assert!(p["metadata"]["labels"]["pod-template-hash"].is_string());
    }
    assert_eq!(per_node.len(), 3, "least-allocated spreads: {per_node:?}");
    let d = w
        .get("apps", "deployments", Some("default"), "web")
        .unwrap();
    assert_eq!(d["status"]["readyReplicas"], 6);
    assert_eq!(d["status"]["availableReplicas"], 6);
    assert_eq!(d["status"]["updatedReplicas"], 6);
    assert_eq!(d["status"]["observedGeneration"], 1);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let rv = w.api().resource_version();
    w.settle();
    assert_eq!(
        w.api().resource_version(),
        rv,
        "a converged cluster writes nothing"
    );
    let log = w.api().log(
        "default",
        pods[0]["metadata"]["name"].as_str().unwrap(),
        "main",
    );
    assert!(log.contains("started from nginx:1.25"), "{log}");
}

#[test]
fn scaling_a_deployment_adds_and_removes_pods() {
    let w = world(2, 0, Timing::instant());
    w.create(
        "apps",
        "deployments",
        Some("default"),
        deployment("web", 2, "nginx", "100m"),
    );
    w.settle();
    let deps = lookup("apps", "deployments").unwrap();
    w.api()
        .set_scale(deps, "default", "web", &json!({"spec": {"replicas": 5}}))
        .unwrap();
    w.settle();
    assert_eq!(
        w.pods("default", "web-")
            .iter()
            .filter(|p| running(p))
            .count(),
        5
    );
    w.patch(
        "apps",
        "deployments",
        Some("default"),
        "web",
        json!({"spec": {"replicas": 1}}),
    );
    w.settle();
    assert_eq!(w.pods("default", "web-").len(), 1);
    let d = w
        .get("apps", "deployments", Some("default"), "web")
        .unwrap();
    assert_eq!(d["status"]["replicas"], 1);
}

#[test]
fn a_template_change_rolls_to_a_new_replicaset() {
    let w = world(3, 0, Timing::instant());
    w.create(
        "apps",
        "deployments",
        Some("default"),
        deployment("web", 4, "nginx:1.25", "100m"),
    );
    w.settle();
    w.patch(
        "apps",
        "deployments",
        Some("default"),
        "web",
        json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.26",
               "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}}),
    );
    // Mid-rollout, never more than replicas + maxSurge pods and never fewer than
    // replicas - maxUnavailable ready ones.
    for _ in 0..30 {
        w.cluster.reconcile(&w.machines);
        let pods = w.pods("default", "web-");
        assert!(pods.len() <= 5, "surge exceeded: {}", pods.len());
        assert!(pods.iter().filter(|p| running(p)).count() >= 3);
    }
    let rss = w.list("apps", "replicasets", Some("default"));
    assert_eq!(rss.len(), 2);
    let new = rss
        .iter()
        .find(|r| r["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26")
        .unwrap();
    let old = rss
        .iter()
        .find(|r| r["metadata"]["name"] != new["metadata"]["name"])
        .unwrap();
    assert_eq!(new["spec"]["replicas"], 4);
    assert_eq!(old["spec"]["replicas"], 0);
    assert_eq!(
        new["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    let pods = w.pods("default", "web-");
    assert_eq!(pods.len(), 4);
    assert!(
        pods.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.26")
    );
    let d = w
        .get("apps", "deployments", Some("default"), "web")
        .unwrap();
    assert_eq!(d["status"]["updatedReplicas"], 4);
    assert_eq!(d["status"]["observedGeneration"], 2);
    assert_eq!(
        d["status"]["conditions"][1]["reason"],
        "NewReplicaSetAvailable"
    );
}

#[test]
fn a_daemonset_runs_one_pod_per_eligible_node_and_follows_new_nodes() {
    let mut w = world(2, 1, Timing::instant());
    w.create(
        "apps",
        "daemonsets",
        Some("default"),
        json!({"metadata": {"name": "agent"},
               "spec": {"selector": {"matchLabels": {"app": "agent"}},
                        "template": {"metadata": {"labels": {"app": "agent"}},
                                     "spec": {"containers": [{"name": "a", "image": "busybox"}]}}}}),
    );
    w.settle();
    let pods = w.pods("default", "agent-");
    assert_eq!(pods.len(), 2, "the master's NoSchedule taint keeps it off");
    assert!(pods.iter().all(running));
    w.machines.push(machine(9, false));
    w.settle();
    let pods = w.pods("default", "agent-");
    assert_eq!(pods.len(), 3);
    let ds = w
        .get("apps", "daemonsets", Some("default"), "agent")
        .unwrap();
    assert_eq!(ds["status"]["desiredNumberScheduled"], 3);
    assert_eq!(ds["status"]["numberReady"], 3);
}

#[test]
fn a_pod_that_fits_nowhere_is_unschedulable_with_kube_schedulers_message_and_event() {
    let w = world(1, 1, Timing::instant());
    w.settle();
    w.create(
        "",
        "pods",
        Some("default"),
        json!({"metadata": {"name": "huge"},
               "spec": {"containers": [{"name": "c", "image": "nginx",
                        "resources": {"requests": {"cpu": "64"}}}]}}),
    );
    w.settle();
    let p = w.get("", "pods", Some("default"), "huge").unwrap();
    let cond = p["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "PodScheduled")
        .unwrap()
        .clone();
    assert_eq!(cond["status"], "False");
    assert_eq!(cond["reason"], "Unschedulable");
    assert_eq!(
        cond["message"],
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint \
         {node-role.kubernetes.io/master: }. preemption: 0/2 nodes are available: 1 No preemption \
         victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    );
    let events: Vec<Value> = w
        .list("", "events", Some("default"))
        .into_iter()
        .filter(|e| e["reason"] == "FailedScheduling" && e["involvedObject"]["name"] == "huge")
        .collect();
    assert_eq!(events.len(), 1, "one event per distinct failure");
    assert_eq!(events[0]["type"], "Warning");
    assert_eq!(events[0]["message"], cond["message"]);
    assert_eq!(events[0]["source"]["component"], "default-scheduler");
}

#[test]
fn a_pod_waiting_for_room_is_scheduled_when_a_node_joins() {
    let mut w = world(1, 0, Timing::instant());
    w.settle();
    w.create(
        "apps",
        "deployments",
        Some("default"),
        deployment("big", 2, "nginx", "3"),
    );
    w.settle();
    let bound = |w: &World| {
        w.pods("default", "big-")
            .iter()
            .filter(|p| p["spec"]["nodeName"].is_string())
            .count()
    };
    assert_eq!(bound(&w), 1);
    w.machines.push(machine(5, false));
    w.settle();
    assert_eq!(bound(&w), 2);
}

#[test]
fn a_lost_machine_makes_its_node_not_ready_then_removes_it_and_its_pods() {
    let mut w = world(
        2,
        0,
        Timing {
            node_lost_grace_ms: 40_000,
            ..Timing::instant()
        },
    );
    w.create(
        "apps",
        "deployments",
        Some("default"),
        deployment("web", 4, "nginx", "100m"),
    );
    w.settle();
    let gone = w.machines.pop().unwrap();
    w.settle();
    let n = w
        .get("", "nodes", None, &gone.name)
        .expect("still there during the grace");
    let ready = n["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["status"], "Unknown");
    assert_eq!(ready["reason"], "NodeStatusUnknown");
    assert!(
        n["spec"]["taints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "node.kubernetes.io/unreachable" && t["effect"] == "NoExecute")
    );
    w.clock.advance_ms(40_000);
    w.settle();
    assert!(w.get("", "nodes", None, &gone.name).is_none());
    let all = w.list("", "pods", None);
    assert!(
        all.iter()
            .all(|p| p["spec"]["nodeName"] != gone.name.as_str())
    );
    assert!(
        w.get(
            "coordination.k8s.io",
            "leases",
            Some("kube-node-lease"),
            &gone.name
        )
        .is_none()
    );
    // The deployment's pods came back on the remaining node.
    let web = w.pods("default", "web-");
    assert_eq!(web.len(), 4);
    assert!(web.iter().all(running));
}

#[test]
fn nodes_the_kubelets_did_not_create_are_left_alone() {
    let w = world(1, 0, Timing::instant());
    w.create(
        "",
        "nodes",
        None,
        json!({"metadata": {"name": "virtual-kubelet", "labels": {"type": "virtual-kubelet"}},
               "spec": {"taints": [{"key": "virtual-kubelet.io/provider", "value": "alibabacloud", "effect": "NoSchedule"}]},
               "status": {"allocatable": {"cpu": "100", "memory": "1000Gi", "pods": "1000"},
                          "conditions": [{"type": "Ready", "status": "True"}]}}),
    );
    w.create(
        "",
        "pods",
        Some("default"),
        json!({"metadata": {"name": "eci"},
               "spec": {"nodeSelector": {"type": "virtual-kubelet"},
                        "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}],
                        "containers": [{"name": "c", "image": "nginx"}]}}),
    );
    w.settle();
    let rv_before =
        w.get("", "nodes", None, "virtual-kubelet").unwrap()["metadata"]["resourceVersion"].clone();
    w.clock.advance_ms(600_000);
    w.settle();
    let vk = w.get("", "nodes", None, "virtual-kubelet").unwrap();
    assert_eq!(
        vk["metadata"]["resourceVersion"], rv_before,
        "no heartbeat, no taint"
    );
    let p = w.get("", "pods", Some("default"), "eci").unwrap();
    assert_eq!(
        p["spec"]["nodeName"], "virtual-kubelet",
        "the scheduler still binds there"
    );
    assert_eq!(
        p["status"]["phase"], "Pending",
        "but only its own provider starts it"
    );
    let on_vk = w
        .list("", "pods", None)
        .into_iter()
        .filter(|p| p["spec"]["nodeName"] == "virtual-kubelet")
        .count();
    assert_eq!(on_vk, 1, "no daemon pods on the virtual node");
}

#[test]
fn deleting_a_deployment_collects_its_replicasets_and_pods() {
    let w = world(2, 0, Timing::instant());
    w.create(
        "apps",
        "deployments",
        Some("default"),
        deployment("web", 3, "nginx", "100m"),
    );
    w.settle();
    assert_eq!(w.pods("default", "web-").len(), 3);
    w.api()
        .delete(
            lookup("apps", "deployments").unwrap(),
            Some("default"),
            "web",
            (None, None),
        )
        .unwrap();
    w.settle();
    assert!(w.list("apps", "replicasets", Some("default")).is_empty());
    assert!(w.pods("default", "web-").is_empty());
}

#[test]
fn deleting_a_namespace_removes_its_workloads_and_nothing_comes_back() {
    let w = world(2, 0, Timing::instant());
    w.create(
        "",
        "namespaces",
        None,
        json!({"metadata": {"name": "team"}}),
    );
    w.create(
        "apps",
        "deployments",
        Some("team"),
        deployment("web", 2, "nginx", "100m"),
    );
    w.settle();
    assert_eq!(w.pods("team", "web-").len(), 2);
    w.api()
        .delete(
            lookup("", "namespaces").unwrap(),
            None,
            "team",
            (None, None),
        )
        .unwrap();
    w.settle();
    assert!(w.get("", "namespaces", None, "team").is_none());
    assert!(w.list("", "pods", Some("team")).is_empty());
    assert!(w.list("apps", "replicasets", Some("team")).is_empty());
}

#[test]
fn run_to_completion_pods_finish_with_their_exit_code_and_output() {
    let w = world(1, 0, Timing::instant());
    for (name, script, policy) in [
        ("ok", "echo hi; sleep 2; echo bye", "Never"),
        ("bad", "exit 3", "Never"),
    ] {
        w.create(
            "",
            "pods",
            Some("default"),
            json!({"metadata": {"name": name},
                   "spec": {"restartPolicy": policy,
                            "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]}}),
        );
    }
    w.settle();
    let ok = w.get("", "pods", Some("default"), "ok").unwrap();
    assert_eq!(ok["status"]["phase"], "Running");
    assert_eq!(w.api().log("default", "ok", "c"), "hi\n");
    let bad = w.get("", "pods", Some("default"), "bad").unwrap();
    assert_eq!(bad["status"]["phase"], "Failed");
    assert_eq!(
        bad["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        3
    );
    w.clock.advance_ms(2_000);
    w.settle();
    let ok = w.get("", "pods", Some("default"), "ok").unwrap();
    assert_eq!(ok["status"]["phase"], "Succeeded");
    assert_eq!(
        ok["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    assert_eq!(w.api().log("default", "ok", "c"), "hi\nbye\n");
}

#[test]
fn cordoning_a_node_taints_it_and_keeps_new_pods_off() {
    let w = world(2, 0, Timing::instant());
    w.settle();
    w.patch(
        "",
        "nodes",
        None,
        "cn-hangzhou.i-0000",
        json!({"spec": {"unschedulable": true}}),
    );
    w.settle();
    let n = w.get("", "nodes", None, "cn-hangzhou.i-0000").unwrap();
    assert!(
        n["spec"]["taints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "node.kubernetes.io/unschedulable")
    );
    w.create(
        "apps",
        "deployments",
        Some("default"),
        deployment("web", 3, "nginx", "100m"),
    );
    w.settle();
    assert!(
        w.pods("default", "web-")
            .iter()
            .all(|p| p["spec"]["nodeName"] == "cn-hangzhou.i-0001")
    );
    w.patch(
        "",
        "nodes",
        None,
        "cn-hangzhou.i-0000",
        json!({"spec": {"unschedulable": null}}),
    );
    w.settle();
    let n = w.get("", "nodes", None, "cn-hangzhou.i-0000").unwrap();
    assert!(n["spec"].get("taints").is_none_or(|t| t.is_null()), "{n}");
}
