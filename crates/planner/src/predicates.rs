//! Node-level scheduling predicates that depend only on the pod's spec and the node's labels,
//! taints and flags — never on what else runs there. Their answer is cached per (pod class,
//! node shape), which is what makes the simulation cheap.

use std::collections::BTreeMap;

use crate::model::{NodeSelector, Taint, Toleration};

/// Why a pod cannot go to a node, in the words of the scheduler's failure messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    NodeSelectorMismatch,
    NodeAffinityMismatch,
    Unschedulable,
    UntoleratedTaint(String),
    Insufficient(String),
    HostPortConflict,
    PodAntiAffinity,
    TopologySpread,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NodeSelectorMismatch | Self::NodeAffinityMismatch => {
                f.write_str("node(s) didn't match Pod's node affinity/selector")
            }
            Self::Unschedulable => f.write_str("node(s) were unschedulable"),
            Self::UntoleratedTaint(key) => write!(f, "node(s) had untolerated taint {{{key}}}"),
            Self::Insufficient(resource) => write!(f, "Insufficient {resource}"),
            Self::HostPortConflict => f.write_str("node(s) didn't have free ports"),
            Self::PodAntiAffinity => f.write_str("node(s) didn't match pod anti-affinity rules"),
            Self::TopologySpread => {
                f.write_str("node(s) didn't match pod topology spread constraints")
            }
        }
    }
}

/// The scheduling-relevant, content-only view of a node.
#[derive(Debug, Clone, Copy)]
pub struct NodeView<'a> {
    pub name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub taints: &'a [Taint],
    pub unschedulable: bool,
    pub extended: &'a [(String, i64)],
}

/// The scheduling-relevant, content-only view of a pod.
#[derive(Debug, Clone, Copy)]
pub struct PodView<'a> {
    pub node_selector: &'a BTreeMap<String, String>,
    pub node_affinity: Option<&'a NodeSelector>,
    pub tolerations: &'a [Toleration],
    pub extended: &'a [(String, i64)],
}

const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// NodeUnschedulable, NodeAffinity (selector and required terms), TaintToleration and the
/// extended-resource part of NodeResourcesFit, in the scheduler's order.
pub fn check(pod: &PodView<'_>, node: &NodeView<'_>) -> Result<(), Failure> {
    if node.unschedulable
        && !pod
            .tolerations
            .iter()
            .any(|t| tolerates(t, UNSCHEDULABLE_TAINT, None, "NoSchedule"))
    {
        return Err(Failure::Unschedulable);
    }
    if !pod
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v))
    {
        return Err(Failure::NodeSelectorMismatch);
    }
    if let Some(selector) = pod.node_affinity
        && !node_selector_matches(selector, node)
    {
        return Err(Failure::NodeAffinityMismatch);
    }
    for taint in node.taints {
        // PreferNoSchedule only steers the scheduler; it never makes a pod unschedulable.
        if (taint.effect == "NoSchedule" || taint.effect == "NoExecute")
            && !pod
                .tolerations
                .iter()
                .any(|t| tolerates(t, &taint.key, taint.value.as_deref(), &taint.effect))
        {
            return Err(Failure::UntoleratedTaint(taint.key.clone()));
        }
    }
    for (name, want) in pod.extended {
        let have = node
            .extended
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v);
        if have < *want {
            return Err(Failure::Insufficient(name.clone()));
        }
    }
    Ok(())
}

/// Terms are ORed, the requirements inside a term ANDed; an empty term matches nothing.
pub fn node_selector_matches(selector: &NodeSelector, node: &NodeView<'_>) -> bool {
    selector.node_selector_terms.iter().any(|term| {
        (!term.match_expressions.is_empty() || !term.match_fields.is_empty())
            && term
                .match_expressions
                .iter()
                .all(|r| r.matches_labels(node.labels))
            && term
                .match_fields
                .iter()
                .all(|r| r.key == "metadata.name" && r.matches_value(Some(node.name)))
    })
}

/// Kubernetes toleration matching: an empty effect matches every effect, `Exists` with an empty
/// key matches every taint, `Equal` (the default) compares the value.
pub fn tolerates(t: &Toleration, key: &str, value: Option<&str>, effect: &str) -> bool {
    if t.effect
        .as_deref()
        .is_some_and(|e| !e.is_empty() && e != effect)
    {
        return false;
    }
    let key_ok = match t.key.as_deref() {
        None | Some("") => t.operator.as_deref() == Some("Exists"),
        Some(k) => k == key,
    };
    key_ok
        && match t.operator.as_deref() {
            Some("Exists") => true,
            _ => t.value.as_deref().unwrap_or("") == value.unwrap_or(""),
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NodeSelectorTerm, Requirement};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn toleration(
        key: Option<&str>,
        op: &str,
        value: Option<&str>,
        effect: Option<&str>,
    ) -> Toleration {
        Toleration {
            key: key.map(Into::into),
            operator: Some(op.into()),
            value: value.map(Into::into),
            effect: effect.map(Into::into),
        }
    }

    #[test]
    fn taints_must_be_tolerated_unless_they_only_prefer() {
        let node_labels = labels(&[]);
        let taints = vec![
            Taint {
                key: "gpu".into(),
                value: Some("true".into()),
                effect: "NoSchedule".into(),
            },
            Taint {
                key: "soft".into(),
                value: None,
                effect: "PreferNoSchedule".into(),
            },
        ];
        let node = NodeView {
            name: "n",
            labels: &node_labels,
            taints: &taints,
            unschedulable: false,
            extended: &[],
        };
        let empty = BTreeMap::new();
        let mut pod = PodView {
            node_selector: &empty,
            node_affinity: None,
            tolerations: &[],
            extended: &[],
        };
        assert_eq!(
            check(&pod, &node),
            Err(Failure::UntoleratedTaint("gpu".into()))
        );
        let ok = [toleration(
            Some("gpu"),
            "Equal",
            Some("true"),
            Some("NoSchedule"),
        )];
        pod.tolerations = &ok;
        assert_eq!(check(&pod, &node), Ok(()));
        let wrong_value = [toleration(Some("gpu"), "Equal", Some("false"), None)];
        pod.tolerations = &wrong_value;
        assert!(check(&pod, &node).is_err());
        let everything = [toleration(None, "Exists", None, None)];
        pod.tolerations = &everything;
        assert_eq!(check(&pod, &node), Ok(()));
    }

    #[test]
    fn unschedulable_nodes_refuse_pods_without_the_toleration() {
        let l = labels(&[]);
        let node = NodeView {
            name: "n",
            labels: &l,
            taints: &[],
            unschedulable: true,
            extended: &[],
        };
        let empty = BTreeMap::new();
        let pod = PodView {
            node_selector: &empty,
            node_affinity: None,
            tolerations: &[],
            extended: &[],
        };
        assert_eq!(check(&pod, &node), Err(Failure::Unschedulable));
    }

    #[test]
    fn node_affinity_terms_are_ored_and_requirements_anded() {
        let l = labels(&[("zone", "a"), ("cores", "16")]);
        let node = NodeView {
            name: "n1",
            labels: &l,
            taints: &[],
            unschedulable: false,
            extended: &[],
        };
        let req = |k: &str, op: &str, v: &[&str]| Requirement {
            key: k.into(),
            operator: op.into(),
            values: v.iter().map(|s| s.to_string()).collect(),
        };
        let term = |reqs: Vec<Requirement>| NodeSelectorTerm {
            match_expressions: reqs,
            match_fields: vec![],
        };
        let selector = NodeSelector {
            node_selector_terms: vec![
                term(vec![req("zone", "In", &["b"])]),
                term(vec![req("zone", "In", &["a"]), req("cores", "Gt", &["8"])]),
            ],
        };
        assert!(node_selector_matches(&selector, &node));
        let selector = NodeSelector {
            node_selector_terms: vec![term(vec![
                req("zone", "In", &["a"]),
                req("cores", "Lt", &["8"]),
            ])],
        };
        assert!(!node_selector_matches(&selector, &node));
        assert!(!node_selector_matches(
            &NodeSelector {
                node_selector_terms: vec![term(vec![])]
            },
            &node
        ));
    }
}
