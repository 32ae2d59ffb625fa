//! The snapshot: what the planner is told about the cluster, in the JSON shapes `kubectl get -o
//! json` prints.
//!
//! ```text
//! Snapshot ─┬─ nodes:      [Node]                 (Kubernetes objects, lean)
//!           ├─ pods:       [Pod]                  (bound: spec.nodeName; pending: none)
//!           ├─ nodeGroups: [NodeGroup] ── nodeNames ──▶ nodes, template: Node
//!           ├─ pdbs:       [PodDisruptionBudget]
//!           └─ priorityConfig, now, unneededSince, last* times   (autoscaler state)
//! ```
//!
//! Only the fields that matter for capacity and drain decisions are declared; everything else is
//! skipped by serde, so whole API objects can be pasted in. Lists accept either a JSON array or a
//! `{"kind":"List","items":[…]}` document.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use crate::quantity::Quantity;

/// Everything a plan is computed from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    #[serde(default, deserialize_with = "list")]
    pub nodes: Vec<Node>,
    #[serde(default, deserialize_with = "list")]
    pub pods: Vec<Pod>,
    #[serde(default)]
    pub node_groups: Vec<NodeGroup>,
    #[serde(default, deserialize_with = "list")]
    pub pdbs: Vec<PodDisruptionBudget>,
    /// The priority expander's configuration (CA's ConfigMap, its `priorities` text, or the map).
    #[serde(default)]
    pub priority_config: Option<PriorityConfig>,
    /// When the snapshot was taken; the plan's "now" unless the caller overrides it.
    #[serde(default)]
    pub now: Option<Timestamp>,
    /// Since when each node has been unneeded, as remembered by the caller from earlier plans.
    #[serde(default)]
    pub unneeded_since: BTreeMap<String, Timestamp>,
    #[serde(default)]
    pub last_scale_up_time: Option<Timestamp>,
    #[serde(default)]
    pub last_scale_down_delete_time: Option<Timestamp>,
    #[serde(default)]
    pub last_scale_down_fail_time: Option<Timestamp>,
    /// DaemonSets (as `kubectl get ds -o json` prints them): a new node of a group with no ready
    /// member to copy runs the ones whose pod template fits its template.
    #[serde(default, deserialize_with = "list")]
    pub daemon_sets: Vec<DaemonSet>,
}

/// A DaemonSet; only its pod template is used.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DaemonSet {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: DaemonSetSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DaemonSetSpec {
    #[serde(default)]
    pub template: PodTemplate,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodTemplate {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
}

/// A set of identical nodes that can be resized (an ESS scaling group, an ACK node pool).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeGroup {
    pub id: String,
    pub min_size: u32,
    pub max_size: u32,
    pub target_size: u32,
    #[serde(default)]
    pub node_names: Vec<String>,
    /// What a new node of the group looks like.
    pub template: Node,
    #[serde(default)]
    pub price_per_hour: Option<f64>,
    /// The group failed to scale up recently; it is not considered before this time.
    #[serde(default)]
    pub backoff_until: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub owner_references: Vec<OwnerReference>,
    #[serde(default)]
    pub creation_timestamp: Option<Timestamp>,
    #[serde(default)]
    pub deletion_timestamp: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub controller: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Node {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NodeSpec,
    #[serde(default)]
    pub status: NodeStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    #[serde(default)]
    pub taints: Vec<Taint>,
    #[serde(default)]
    pub unschedulable: bool,
    #[serde(default, rename = "providerID")]
    pub provider_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeStatus {
    #[serde(default)]
    pub allocatable: BTreeMap<String, Quantity>,
    #[serde(default)]
    pub capacity: BTreeMap<String, Quantity>,
    #[serde(default)]
    pub conditions: Vec<NodeCondition>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeCondition {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
pub struct Taint {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    pub effect: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pod {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
    #[serde(default)]
    pub status: PodStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodStatus {
    #[serde(default)]
    pub phase: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub node_name: Option<String>,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub affinity: Option<Affinity>,
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    #[serde(default)]
    pub containers: Vec<Container>,
    #[serde(default)]
    pub init_containers: Vec<Container>,
    #[serde(default)]
    pub overhead: BTreeMap<String, Quantity>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    #[serde(default)]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    #[serde(default)]
    pub priority: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default)]
    pub resources: ResourceRequirements,
    #[serde(default)]
    pub ports: Vec<ContainerPort>,
    /// `Always` on an init container makes it a sidecar that runs beside the app containers.
    #[serde(default)]
    pub restart_policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResourceRequirements {
    #[serde(default)]
    pub requests: BTreeMap<String, Quantity>,
    #[serde(default)]
    pub limits: BTreeMap<String, Quantity>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    #[serde(default)]
    pub host_port: Option<i32>,
    #[serde(default)]
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub empty_dir: Option<EmptyDir>,
    #[serde(default)]
    pub host_path: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct EmptyDir {
    #[serde(default)]
    pub medium: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
pub struct Toleration {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub effect: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Affinity {
    #[serde(default)]
    pub node_affinity: Option<NodeAffinity>,
    #[serde(default)]
    pub pod_anti_affinity: Option<PodAntiAffinity>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeAffinity {
    #[serde(default, rename = "requiredDuringSchedulingIgnoredDuringExecution")]
    pub required: Option<NodeSelector>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelector {
    #[serde(default)]
    pub node_selector_terms: Vec<NodeSelectorTerm>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorTerm {
    #[serde(default)]
    pub match_expressions: Vec<Requirement>,
    #[serde(default)]
    pub match_fields: Vec<Requirement>,
}

/// A node-selector or label-selector requirement: `key operator values`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodAntiAffinity {
    #[serde(default, rename = "requiredDuringSchedulingIgnoredDuringExecution")]
    pub required: Vec<PodAffinityTerm>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodAffinityTerm {
    #[serde(default)]
    pub label_selector: Option<LabelSelector>,
    pub topology_key: String,
    #[serde(default)]
    pub namespaces: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<Requirement>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopologySpreadConstraint {
    pub max_skew: i32,
    pub topology_key: String,
    pub when_unsatisfiable: String,
    #[serde(default)]
    pub label_selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodDisruptionBudget {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PdbSpec,
    #[serde(default)]
    pub status: PdbStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PdbSpec {
    #[serde(default)]
    pub selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PdbStatus {
    #[serde(default)]
    pub disruptions_allowed: i32,
}

/// The priority expander's configuration, in any of the shapes a user has at hand: the
/// `cluster-autoscaler-priority-expander` ConfigMap itself, the text of its `priorities` key, or
/// the map of priority to regular expressions.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PriorityConfig {
    Text(String),
    ConfigMap { data: BTreeMap<String, String> },
    Map(BTreeMap<String, Vec<String>>),
}

impl LabelSelector {
    /// Whether `labels` satisfy every `matchLabels` entry and `matchExpressions` requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self
                .match_expressions
                .iter()
                .all(|r| r.matches_labels(labels))
    }
}

impl Requirement {
    /// Label-selector semantics (In, NotIn, Exists, DoesNotExist); node-selector ones add Gt, Lt.
    pub fn matches_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_value(labels.get(&self.key).map(String::as_str))
    }

    pub fn matches_value(&self, value: Option<&str>) -> bool {
        let number = |s: &str| s.parse::<i64>().ok();
        match (self.operator.as_str(), value) {
            ("In", Some(v)) => self.values.iter().any(|x| x == v),
            ("In", None) => false,
            ("NotIn", Some(v)) => !self.values.iter().any(|x| x == v),
            ("NotIn", None) => true,
            ("Exists", v) => v.is_some(),
            ("DoesNotExist", v) => v.is_none(),
            ("Gt", Some(v)) => {
                matches!((number(v), self.values.first().and_then(|x| number(x))), (Some(a), Some(b)) if a > b)
            }
            ("Lt", Some(v)) => {
                matches!((number(v), self.values.first().and_then(|x| number(x))), (Some(a), Some(b)) if a < b)
            }
            _ => false,
        }
    }
}

impl Pod {
    /// The controller owning this pod, if any (the owner reference with `controller: true`).
    pub fn controller(&self) -> Option<&OwnerReference> {
        self.metadata
            .owner_references
            .iter()
            .find(|o| o.controller == Some(true))
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self.status.phase.as_deref(), Some("Succeeded" | "Failed"))
    }

    pub fn is_daemonset(&self) -> bool {
        self.controller().is_some_and(|o| o.kind == "DaemonSet")
    }

    /// Static pods as the API server shows them.
    pub fn is_mirror(&self) -> bool {
        self.metadata
            .annotations
            .contains_key("kubernetes.io/config.mirror")
    }
}

impl Node {
    /// A node is ready unless its `Ready` condition says otherwise (hand-written snapshots often
    /// carry no conditions at all).
    pub fn is_ready(&self) -> bool {
        self.status
            .conditions
            .iter()
            .find(|c| c.kind == "Ready")
            .is_none_or(|c| c.status == "True")
    }
}

/// Accepts `[…]` or `{"items": […], …}` (a `kubectl get -o json` list).
fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Visitor<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array, or a List object with `items`")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
            let mut items = None;
            while let Some(key) = map.next_key::<String>()? {
                if key == "items" {
                    items = Some(map.next_value()?);
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            items.ok_or_else(|| serde::de::Error::missing_field("items"))
        }
    }
    deserializer.deserialize_any(Visitor(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubectl_list_of_nodes_is_accepted_and_unknown_fields_ignored() {
        let json = r#"{"nodes": {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Node",
             "metadata": {"name": "n1", "labels": {"a": "b"}, "managedFields": [{"x": 1}]},
             "spec": {"providerID": "cn-hangzhou.i-1", "podCIDR": "10.0.0.0/24"},
             "status": {"allocatable": {"cpu": "3920m", "memory": "14Gi", "pods": "110"},
                        "conditions": [{"type": "Ready", "status": "True"}],
                        "nodeInfo": {"kubeletVersion": "v1.33.0"}}}]}}"#;
        let snapshot: Snapshot = serde_json::from_str(json).unwrap();
        assert_eq!(snapshot.nodes[0].metadata.name, "n1");
        assert_eq!(snapshot.nodes[0].status.allocatable["cpu"].millis(), 3920);
        assert!(snapshot.nodes[0].is_ready());
    }

    #[test]
    fn node_selector_operators_follow_kubernetes_semantics() {
        let r = |op: &str, values: &[&str]| Requirement {
            key: "k".into(),
            operator: op.into(),
            values: values.iter().map(|s| s.to_string()).collect(),
        };
        assert!(r("In", &["a", "b"]).matches_value(Some("b")));
        assert!(!r("In", &["a"]).matches_value(None));
        assert!(r("NotIn", &["a"]).matches_value(None));
        assert!(!r("NotIn", &["a"]).matches_value(Some("a")));
        assert!(r("Exists", &[]).matches_value(Some("")));
        assert!(r("DoesNotExist", &[]).matches_value(None));
        assert!(r("Gt", &["4"]).matches_value(Some("8")));
        assert!(!r("Gt", &["4"]).matches_value(Some("4")));
        assert!(r("Lt", &["4"]).matches_value(Some("3")));
        assert!(!r("Lt", &["4"]).matches_value(Some("x")));
    }
}
