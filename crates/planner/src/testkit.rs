//! Builders for hand-made snapshots in tests: Kubernetes-shaped JSON, tersely.

use serde_json::{Value, json};

use crate::model::Snapshot;

pub const NOW: &str = "2026-01-01T00:00:00Z";

pub fn node(name: &str, cpu: &str, memory: &str) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

pub fn label(mut v: Value, key: &str, value: &str) -> Value {
    v["metadata"]["labels"][key] = json!(value);
    v
}

pub fn annotate(mut v: Value, key: &str, value: &str) -> Value {
    if v["metadata"].get("annotations").is_none() {
        v["metadata"]["annotations"] = json!({});
    }
    v["metadata"]["annotations"][key] = json!(value);
    v
}

pub fn taint(mut v: Value, key: &str, effect: &str) -> Value {
    if v["spec"].is_null() {
        v["spec"] = json!({});
    }
    if v["spec"].get("taints").is_none() {
        v["spec"]["taints"] = json!([]);
    }
    v["spec"]["taints"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": key, "value": "true", "effect": effect}));
    v
}

pub fn gpus(mut v: Value, n: u32) -> Value {
    v["status"]["allocatable"]["nvidia.com/gpu"] = json!(n.to_string());
    v
}

/// A pod of controller `owner` (a ReplicaSet), pending unless placed with `on`.
pub fn pod(namespace: &str, name: &str, owner: Option<&str>, cpu: &str, memory: &str) -> Value {
    let mut p = json!({
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": owner.unwrap_or(name)}},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}
    });
    if let Some(owner) = owner {
        p["metadata"]["ownerReferences"] =
            json!([{"kind": "ReplicaSet", "name": owner, "uid": owner, "controller": true}]);
    }
    p
}

pub fn pods(namespace: &str, owner: &str, n: usize, cpu: &str, memory: &str) -> Vec<Value> {
    (0..n)
        .map(|i| pod(namespace, &format!("{owner}-{i}"), Some(owner), cpu, memory))
        .collect()
}

pub fn on(mut p: Value, node: &str) -> Value {
    p["spec"]["nodeName"] = json!(node);
    p
}

pub fn spec(mut p: Value, key: &str, value: Value) -> Value {
    p["spec"][key] = value;
    p
}

pub fn group(id: &str, min: u32, max: u32, target: u32, nodes: &[&str], template: Value) -> Value {
    json!({"id": id, "minSize": min, "maxSize": max, "targetSize": target,
           "nodeNames": nodes, "template": template})
}

pub fn snapshot(nodes: Vec<Value>, pods: Vec<Value>, groups: Vec<Value>) -> Value {
    json!({"now": NOW, "nodes": nodes, "pods": pods, "nodeGroups": groups})
}

pub fn parse(v: Value) -> Snapshot {
    Snapshot::from_json(&v.to_string()).expect("test snapshot is valid")
}
