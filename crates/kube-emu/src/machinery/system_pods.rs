//! The system workloads a fresh ACK cluster shows (seed 000's `kubectl get pods -A`), created
//! as real kube-system Deployments and DaemonSets so the controllers here produce their pods,
//! plus the `kubernetes` and `kube-dns` Services, and the static (mirror) pods a master's
//! kubelet reports for the control plane.
//!
//! ```text
//!   Deployments: coredns ×2, metrics-server, alicloud-{application,disk,monitor}-controller,
//!                default-http-backend, heapster, monitoring-influxdb, nginx-ingress-controller ×2
//!   DaemonSets:  kube-proxy-worker (workers), kube-proxy-master, cloud-controller-manager
//!                (masters), flexvolume, kube-flannel-ds (every real node)
//!   Static pods: kube-apiserver-<node>, kube-controller-manager-<node>, kube-scheduler-<node>
//! ```
//! Requests are small, so the system pods leave almost all of a node to the user's workloads.
//! Virtual nodes (`type=virtual-kubelet`) get no daemon pods, as on ACK.

use serde_json::{Value, json};

use super::kubelet::MASTER_ROLE;
use crate::resources::lookup;
use crate::store::ApiServer;

const REGISTRY: &str = "registry-cn-hangzhou.ack.aliyuncs.com/acs";

/// (name, replicas, image tag, cpu, memory)
const DEPLOYMENTS: &[(&str, i64, &str, &str, &str)] = &[
    (
        "coredns",
        2,
        "coredns:v1.11.3.2-f57ea7ed6-aliyun",
        "100m",
        "70Mi",
    ),
    (
        "metrics-server",
        1,
        "metrics-server:v0.7.2-a8a1ee8-aliyun",
        "100m",
        "200Mi",
    ),
    (
        "alicloud-application-controller",
        1,
        "alicloud-application-controller:v0.2.0",
        "10m",
        "32Mi",
    ),
    (
        "alicloud-disk-controller",
        1,
        "alicloud-disk-controller:v1.32.1",
        "10m",
        "32Mi",
    ),
    (
        "alicloud-monitor-controller",
        1,
        "alicloud-monitor-controller:v1.5.0",
        "10m",
        "32Mi",
    ),
    (
        "default-http-backend",
        1,
        "defaultbackend:1.5",
        "10m",
        "20Mi",
    ),
    ("heapster", 1, "heapster-amd64:v1.5.4", "50m", "100Mi"),
    (
        "monitoring-influxdb",
        1,
        "heapster-influxdb-amd64:v1.5.2",
        "50m",
        "100Mi",
    ),
    (
        "nginx-ingress-controller",
        2,
        "aliyun-ingress-controller:v1.11.4-aliyun.1",
        "100m",
        "90Mi",
    ),
];

fn container(name: &str, image: &str, cpu: &str, memory: &str) -> Value {
    json!({"name": name, "image": format!("{REGISTRY}/{image}"), "imagePullPolicy": "IfNotPresent",
           "resources": {"requests": {"cpu": cpu, "memory": memory}}})
}

fn deployment(name: &str, replicas: i64, image: &str, cpu: &str, memory: &str) -> Value {
    let app = if name == "coredns" { "kube-dns" } else { name };
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"k8s-app": app}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"k8s-app": app}},
                 "template": {"metadata": {"labels": {"k8s-app": app}},
                              "spec": {"priorityClassName": "system-cluster-critical",
                                       "containers": [container(name, image, cpu, memory)]}}},
    })
}

/// Required node affinity keeping daemon pods off virtual nodes (and, for workers, masters).
fn real_nodes(workers_only: bool) -> Value {
    let mut exprs =
        vec![json!({"key": "type", "operator": "NotIn", "values": ["virtual-kubelet"]})];
    if workers_only {
        exprs.push(json!({"key": MASTER_ROLE, "operator": "DoesNotExist"}));
    }
    json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": exprs}]}}})
}

fn daemonset(name: &str, containers: Vec<Value>, placement: Value, masters: bool) -> Value {
    let mut spec = json!({"hostNetwork": true, "priorityClassName": "system-node-critical",
                          "tolerations": [{"operator": "Exists"}], "containers": containers});
    if masters {
        spec["nodeSelector"] = json!({MASTER_ROLE: ""});
    } else {
        spec["affinity"] = placement;
    }
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "labels": {"k8s-app": name}},
        "spec": {"selector": {"matchLabels": {"k8s-app": name}},
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                 "template": {"metadata": {"labels": {"k8s-app": name}}, "spec": spec}},
    })
}

/// Every system DaemonSet.
pub fn daemonsets() -> Vec<Value> {
    let proxy = |n| container(n, "kube-proxy:v1.32.1-aliyun.1", "100m", "50Mi");
    vec![
        daemonset(
            "kube-proxy-worker",
            vec![proxy("kube-proxy-worker")],
            real_nodes(true),
            false,
        ),
        daemonset(
            "kube-proxy-master",
            vec![proxy("kube-proxy-master")],
            Value::Null,
            true,
        ),
        daemonset(
            "cloud-controller-manager",
            vec![container(
                "cloud-controller-manager",
                "cloud-controller-manager:v2.14.0",
                "100m",
                "200Mi",
            )],
            Value::Null,
            true,
        ),
        daemonset(
            "flexvolume",
            vec![container(
                "acs-flexvolume",
                "flexvolume:v1.14.8.109-649dc5a-aliyun",
                "10m",
                "32Mi",
            )],
            real_nodes(false),
            false,
        ),
        daemonset(
            "kube-flannel-ds",
            vec![
                container(
                    "kube-flannel",
                    "flannel:v0.15.1.22-20a397e6-aliyun",
                    "100m",
                    "100Mi",
                ),
                container(
                    "install-cni",
                    "flannel:v0.15.1.22-20a397e6-aliyun",
                    "10m",
                    "16Mi",
                ),
            ],
            real_nodes(false),
            false,
        ),
    ]
}

/// Every system Deployment.
pub fn deployments() -> Vec<Value> {
    DEPLOYMENTS
        .iter()
        .map(|(n, r, i, c, m)| deployment(n, *r, i, c, m))
        .collect()
}

/// The Services every cluster has.
pub fn services() -> Vec<(&'static str, Value)> {
    vec![
        (
            "default",
            json!({"metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
                   "spec": {"type": "ClusterIP", "clusterIP": "172.16.0.1", "clusterIPs": ["172.16.0.1"],
                            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}}),
        ),
        (
            "kube-system",
            json!({"metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}},
                   "spec": {"type": "ClusterIP", "clusterIP": "172.16.0.10", "clusterIPs": ["172.16.0.10"],
                            "selector": {"k8s-app": "kube-dns"},
                            "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                                      {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                                      {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]}}),
        ),
    ]
}

/// Creates the system objects that are missing (an existing one is left as it is).
pub fn install(api: &ApiServer) {
    let svc = lookup("", "services").expect("services are served");
    let deps = lookup("apps", "deployments").expect("deployments are served");
    let dss = lookup("apps", "daemonsets").expect("daemonsets are served");
    for (ns, s) in services() {
        let _ = api.create(svc, Some(ns), s, false);
    }
    for d in deployments() {
        let _ = api.create(deps, Some("kube-system"), d, false);
    }
    for d in daemonsets() {
        let _ = api.create(dss, Some("kube-system"), d, false);
    }
}

/// The mirror pods a master's kubelet reports for its static control-plane pods.
pub fn static_pods(node: &str, node_uid: &str) -> Vec<Value> {
    [
        ("kube-apiserver", "kube-apiserver:v1.32.1-aliyun.1", "250m", "512Mi"),
        ("kube-controller-manager", "kube-controller-manager:v1.32.1-aliyun.1", "200m", "256Mi"),
        ("kube-scheduler", "kube-scheduler:v1.32.1-aliyun.1", "100m", "128Mi"),
    ]
    .into_iter()
    .map(|(component, image, cpu, mem)| {
        let hash = super::kubelet::digest(&format!("{component}/{node}"), 32);
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{component}-{node}"),
                         "labels": {"component": component, "tier": "control-plane"},
                         "annotations": {"kubernetes.io/config.mirror": hash, "kubernetes.io/config.hash": hash,
                                         "kubernetes.io/config.source": "file"},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node,
                                              "uid": node_uid, "controller": true}]},
            "spec": {"nodeName": node, "hostNetwork": true, "priorityClassName": "system-node-critical",
                     "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
                     "containers": [container(component, image, cpu, mem)]},
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_names_are_all_there() {
        let names: Vec<String> = deployments()
            .iter()
            .chain(daemonsets().iter())
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        for want in [
            "coredns",
            "kube-proxy-worker",
            "kube-proxy-master",
            "cloud-controller-manager",
            "kube-flannel-ds",
            "flexvolume",
            "nginx-ingress-controller",
            "heapster",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} missing");
        }
        let coredns = &deployments()[0];
        assert_eq!(coredns["spec"]["replicas"], 2);
    }

    #[test]
    fn static_pods_are_mirror_pods_owned_by_their_node() {
        let pods = static_pods("cn-hangzhou.i-1", "uid-1");
        assert_eq!(
            pods[0]["metadata"]["name"],
            "kube-apiserver-cn-hangzhou.i-1"
        );
        assert_eq!(pods[0]["spec"]["nodeName"], "cn-hangzhou.i-1");
        assert_eq!(pods[0]["metadata"]["ownerReferences"][0]["kind"], "Node");
        assert!(pods[0]["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_string());
    }
}
