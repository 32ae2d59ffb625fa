//! The ReplicaSet controller's decisions, pure: how many pods to add, which to remove (the
//! least useful first, as `controller.ActivePods` ranks them), what a new pod looks like, and
//! the status counts. Also the pod predicates every workload controller shares.

use std::cmp::Reverse;

use serde_json::{Value, json};

use super::deployments::owner_ref;

/// A pod that counts toward a workload: not finished and not being deleted.
pub fn is_active(pod: &Value) -> bool {
    pod["metadata"].get("deletionTimestamp").is_none()
        && !matches!(
            pod["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        )
}

/// The pod's Ready condition is True.
pub fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// The uid of the pod's (or any object's) controller owner.
pub fn controller_uid(obj: &Value) -> Option<&str> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|o| o["controller"] == true)
        .and_then(|o| o["uid"].as_str())
}

/// A new pod from a workload's template, owned by it.
pub fn pod_from_template(owner: &Value, kind: &str, template: &Value) -> Value {
    let name = owner["metadata"]["name"].as_str().unwrap_or("");
    let mut meta = template["metadata"].clone();
    if !meta.is_object() {
        meta = json!({});
    }
    meta["generateName"] = json!(format!("{name}-"));
    meta["ownerReferences"] = json!([owner_ref(owner, kind)]);
    if let Some(m) = meta.as_object_mut() {
        m.remove("name");
        m.remove("namespace");
        m.remove("creationTimestamp");
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"].clone()})
}

/// Which of `pods` to delete to get down by `count`: unassigned before assigned, pending
/// before running, not ready before ready, newer before older (`ActivePodsWithRanks`, less
/// the co-location rank).
pub fn pods_to_delete(pods: &[&Value], count: usize) -> Vec<usize> {
    let phase_rank = |p: &Value| match p["status"]["phase"].as_str() {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        _ => 2,
    };
    let mut idx: Vec<usize> = (0..pods.len()).collect();
    idx.sort_by_key(|&i| {
        let p = pods[i];
        (
            p["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty()),
            phase_rank(p),
            is_ready(p),
            Reverse(
                p["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            ),
            Reverse(p["metadata"]["name"].as_str().unwrap_or("").to_string()),
        )
    });
    idx.truncate(count);
    idx
}

/// The ReplicaSet's status from its active pods.
pub fn replicaset_status(rs: &Value, active: &[&Value]) -> Value {
    let ready = active.iter().filter(|p| is_ready(p)).count();
    let mut s = json!({
        "replicas": active.len(),
        "fullyLabeledReplicas": active.len(),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"]["generation"].as_i64().unwrap_or(1),
    });
    for k in ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"] {
        if s[k] == 0 {
            s.as_object_mut().map(|m| m.remove(k));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: Option<&str>, phase: &str, ready: bool, created: &str) -> Value {
        let mut p = json!({"metadata": {"name": name, "creationTimestamp": created},
                           "spec": {}, "status": {"phase": phase, "conditions": [
                               {"type": "Ready", "status": if ready { "True" } else { "False" }}]}});
        if let Some(n) = node {
            p["spec"]["nodeName"] = json!(n);
        }
        p
    }

    #[test]
    fn scale_down_removes_unscheduled_then_pending_then_unready_then_newest() {
        let pods = [
            pod(
                "old-ready",
                Some("n"),
                "Running",
                true,
                "2024-01-01T00:00:00Z",
            ),
            pod(
                "new-ready",
                Some("n"),
                "Running",
                true,
                "2024-01-02T00:00:00Z",
            ),
            pod(
                "unready",
                Some("n"),
                "Running",
                false,
                "2024-01-01T00:00:00Z",
            ),
            pod(
                "pending",
                Some("n"),
                "Pending",
                false,
                "2024-01-01T00:00:00Z",
            ),
            pod("unbound", None, "Pending", false, "2024-01-01T00:00:00Z"),
        ];
        let refs: Vec<&Value> = pods.iter().collect();
        let order: Vec<&str> = pods_to_delete(&refs, 5)
            .into_iter()
            .map(|i| pods[i]["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            order,
            ["unbound", "pending", "unready", "new-ready", "old-ready"]
        );
    }

    #[test]
    fn finished_and_deleting_pods_do_not_count() {
        assert!(is_active(&pod("a", None, "Running", true, "")));
        assert!(!is_active(&pod("a", None, "Succeeded", false, "")));
        let mut p = pod("a", None, "Running", true, "");
        p["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        assert!(!is_active(&p));
    }

    #[test]
    fn a_templated_pod_is_owned_and_named_after_its_owner() {
        let rs = json!({"apiVersion": "apps/v1", "metadata": {"name": "web-abc", "uid": "u"}});
        let t = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}});
        let p = pod_from_template(&rs, "ReplicaSet", &t);
        assert_eq!(p["metadata"]["generateName"], "web-abc-");
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
        assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(p["metadata"]["labels"]["app"], "web");
    }

    #[test]
    fn status_counts_ready_pods_as_available() {
        let rs = json!({"metadata": {"generation": 3}});
        let a = pod("a", Some("n"), "Running", true, "");
        let b = pod("b", Some("n"), "Pending", false, "");
        let s = replicaset_status(&rs, &[&a, &b]);
        assert_eq!(s["replicas"], 2);
        assert_eq!(s["readyReplicas"], 1);
        assert_eq!(s["availableReplicas"], 1);
        assert_eq!(s["observedGeneration"], 3);
    }
}
