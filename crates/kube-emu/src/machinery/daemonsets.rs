//! The DaemonSet controller's decisions, pure: which nodes should run a daemon pod, what that
//! pod looks like (pinned by required node affinity on `metadata.name`, with the tolerations
//! the real controller adds), and the status counts.
//!
//! A daemon pod belongs on a node whose labels match its nodeSelector and required node
//! affinity and whose NoSchedule/NoExecute taints it tolerates (`NodeShouldRunDaemonPod`); one
//! already there stays unless the node stops matching or gains an untolerated NoExecute taint.
//! Template changes replace every out-of-date pod at once (no maxUnavailable pacing).

use std::collections::BTreeMap;

use planner::model::{PodSpec, Taint, Toleration};
use serde_json::{Value, json};

use super::replicasets::pod_from_template;
use super::scheduler::{affinity_matches, pod_spec, untolerated};

pub const HASH_LABEL: &str = "controller-revision-hash";

/// The tolerations the DaemonSet controller adds to every daemon pod
/// (`util.AddOrUpdateDaemonPodTolerations`); the network one only for hostNetwork pods.
pub fn daemon_tolerations(host_network: bool) -> Vec<Value> {
    let mut t = vec![
        json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}),
        json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}),
        json!({"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}),
    ];
    if host_network {
        t.push(json!({"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}));
    }
    t
}

/// The daemon pod's spec as scheduling sees it: the template plus the added tolerations.
pub fn daemon_spec(template: &Value) -> PodSpec {
    let host_network = template["spec"]["hostNetwork"] == true;
    let mut spec = pod_spec(&template["spec"]);
    for t in daemon_tolerations(host_network) {
        if let Ok(t) = serde_json::from_value::<Toleration>(t) {
            spec.tolerations.push(t);
        }
    }
    spec
}

/// (should run, may keep running) for a daemon pod with `spec` on a node.
pub fn placement(
    spec: &PodSpec,
    node_name: &str,
    labels: &BTreeMap<String, String>,
    taints: &[Taint],
) -> (bool, bool) {
    if !affinity_matches(spec, node_name, labels, taints) {
        return (false, false);
    }
    let no_execute: Vec<Taint> = taints
        .iter()
        .filter(|t| t.effect == "NoExecute")
        .cloned()
        .collect();
    let keep = untolerated(&no_execute, &spec.tolerations).is_none();
    (untolerated(taints, &spec.tolerations).is_none(), keep)
}

/// The template's revision hash (the real controller names a ControllerRevision by it).
pub fn revision_hash(template: &Value) -> String {
    super::deployments::template_hash(template)
}

/// A daemon pod for `node`.
pub fn daemon_pod(ds: &Value, node: &str, hash: &str) -> Value {
    let template = &ds["spec"]["template"];
    let mut pod = pod_from_template(ds, "DaemonSet", template);
    pod["metadata"]["labels"][HASH_LABEL] = json!(hash);
    pod["metadata"]["labels"]["pod-template-generation"] = json!(
        ds["metadata"]["generation"]
            .as_i64()
            .unwrap_or(1)
            .to_string()
    );
    let host_network = template["spec"]["hostNetwork"] == true;
    let mut tolerations = pod["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for t in daemon_tolerations(host_network) {
        if !tolerations
            .iter()
            .any(|x| x["key"] == t["key"] && x["effect"] == t["effect"])
        {
            tolerations.push(t);
        }
    }
    pod["spec"]["tolerations"] = Value::Array(tolerations);
    pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
    });
    pod
}

/// The node a daemon pod was made for (from its metadata.name affinity), or where it is bound.
pub fn target_node(pod: &Value) -> Option<&str> {
    if let Some(n) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
        return Some(n);
    }
    pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0]["matchFields"]
        .as_array()?
        .iter()
        .find(|f| f["key"] == "metadata.name")?["values"][0]
        .as_str()
}

/// Status counts of a DaemonSet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DsCounts {
    pub desired: i64,
    pub current: i64,
    pub misscheduled: i64,
    pub ready: i64,
    pub updated: i64,
}

/// The DaemonSet's status.
pub fn daemonset_status(ds: &Value, c: DsCounts) -> Value {
    json!({
        "desiredNumberScheduled": c.desired, "currentNumberScheduled": c.current,
        "numberMisscheduled": c.misscheduled, "numberReady": c.ready,
        "numberAvailable": c.ready, "updatedNumberScheduled": c.updated,
        "numberUnavailable": (c.desired - c.ready).max(0),
        "observedGeneration": ds["metadata"]["generation"].as_i64().unwrap_or(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: None,
            effect: effect.into(),
        }
    }

    #[test]
    fn daemon_pods_run_on_cordoned_and_unreachable_nodes_but_not_on_masters() {
        let t = json!({"spec": {"containers": [{"name": "c", "image": "x"}]}});
        let spec = daemon_spec(&t);
        let l = labels(&[]);
        assert_eq!(placement(&spec, "n", &l, &[]), (true, true));
        let cordoned = [taint("node.kubernetes.io/unschedulable", "NoSchedule")];
        assert_eq!(placement(&spec, "n", &l, &cordoned), (true, true));
        let lost = [
            taint("node.kubernetes.io/unreachable", "NoSchedule"),
            taint("node.kubernetes.io/unreachable", "NoExecute"),
        ];
        // The unreachable NoSchedule taint is not in the added set: no new pod, old one stays.
        assert_eq!(placement(&spec, "n", &l, &lost), (false, true));
        let master = [taint("node-role.kubernetes.io/master", "NoSchedule")];
        assert_eq!(placement(&spec, "n", &l, &master), (false, true));
        let evicting = [taint("dedicated", "NoExecute")];
        assert_eq!(placement(&spec, "n", &l, &evicting), (false, false));
    }

    #[test]
    fn a_node_selector_limits_daemon_pods_to_matching_nodes() {
        let t = json!({"spec": {"nodeSelector": {"node-role.kubernetes.io/master": ""},
            "tolerations": [{"operator": "Exists"}], "containers": []}});
        let spec = daemon_spec(&t);
        let master = labels(&[("node-role.kubernetes.io/master", "")]);
        let m_taint = [taint("node-role.kubernetes.io/master", "NoSchedule")];
        assert_eq!(placement(&spec, "m", &master, &m_taint), (true, true));
        assert_eq!(placement(&spec, "w", &labels(&[]), &[]), (false, false));
    }

    #[test]
    fn a_daemon_pod_is_pinned_to_its_node_by_affinity_and_tolerates_the_usual_taints() {
        let ds = json!({"apiVersion": "apps/v1", "metadata": {"name": "kube-proxy-worker", "uid": "u", "generation": 1},
            "spec": {"template": {"metadata": {"labels": {"k8s-app": "kube-proxy"}},
                                  "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x"}]}}}});
        let p = daemon_pod(&ds, "cn-hangzhou.i-1", "abc");
        assert_eq!(target_node(&p), Some("cn-hangzhou.i-1"));
        assert_eq!(p["metadata"]["generateName"], "kube-proxy-worker-");
        assert_eq!(p["metadata"]["labels"][HASH_LABEL], "abc");
        assert_eq!(p["spec"]["tolerations"].as_array().unwrap().len(), 7);
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");
    }
}
