//! Pod equivalence classes: pods of one controller with the same scheduling-relevant spec are
//! interchangeable for every predicate, so each check runs once per class, not once per pod.
//!
//! As in cluster-autoscaler, the key is the owning controller plus the spec; a pod without a
//! controller is a class of its own. Labels are not part of the key (a controller's pods share
//! them); the class keeps its first pod's labels for selectors.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use rustc_hash::FxHashMap;

use crate::model::{NodeSelector, Pod, PodAffinityTerm, Toleration, TopologySpreadConstraint};
use crate::predicates::PodView;
use crate::resources::{Resources, pod_requests};

/// Interchangeable pods.
#[derive(Debug)]
pub struct Class<'a> {
    pub sample: &'a Pod,
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub requests: Resources,
    pub extended: Vec<(String, i64)>,
    pub node_selector: &'a BTreeMap<String, String>,
    pub node_affinity: Option<&'a NodeSelector>,
    pub tolerations: &'a [Toleration],
    pub host_ports: Vec<(i32, &'a str)>,
    pub anti_affinity: &'a [PodAffinityTerm],
    /// Only the hard (`DoNotSchedule`) constraints; `ScheduleAnyway` never blocks a pod.
    pub spread: Vec<&'a TopologySpreadConstraint>,
    pub priority: i32,
    /// Pending members (indices into `Snapshot::pods`), in snapshot order.
    pub pending: Vec<u32>,
    /// Needs pod-by-pod placement: host ports, anti-affinity, topology spread, or other pods'
    /// anti-affinity pointing at it (set once all classes are known).
    pub constrained: bool,
}

impl<'a> Class<'a> {
    pub fn view(&self) -> PodView<'_> {
        PodView {
            node_selector: self.node_selector,
            node_affinity: self.node_affinity,
            tolerations: self.tolerations,
            extended: &self.extended,
        }
    }

    /// CA's binpacking order: the larger share of a node first.
    pub fn score(&self, alloc: Resources) -> f64 {
        let share = |need: i64, have: i64| {
            if have > 0 {
                need as f64 / have as f64
            } else {
                0.0
            }
        };
        share(self.requests.cpu, alloc.cpu) + share(self.requests.memory, alloc.memory)
    }
}

#[derive(PartialEq, Eq, Hash)]
enum Owner<'a> {
    Controller(&'a str),
    Pod(&'a str, &'a str),
}

#[derive(PartialEq, Eq, Hash)]
struct Key<'a> {
    owner: Owner<'a>,
    namespace: &'a str,
    requests: Resources,
    extended: Vec<(String, i64)>,
    node_selector: &'a BTreeMap<String, String>,
    node_affinity: Option<&'a NodeSelector>,
    tolerations: &'a [Toleration],
    host_ports: Vec<(i32, &'a str)>,
    anti_affinity: &'a [PodAffinityTerm],
    spread: &'a [TopologySpreadConstraint],
    priority: i32,
}

/// Groups pods into classes; `pod_class[i]` is the class of `pods[i]`.
pub struct Grouper<'a> {
    index: FxHashMap<Key<'a>, u32>,
    pub classes: Vec<Class<'a>>,
}

impl<'a> Grouper<'a> {
    pub fn new() -> Self {
        Self {
            index: FxHashMap::default(),
            classes: Vec::new(),
        }
    }

    pub fn class_of(&mut self, pod: &'a Pod) -> u32 {
        let (requests, extended) = pod_requests(pod);
        let spec = &pod.spec;
        let owner = match pod.controller() {
            Some(o) if !o.uid.is_empty() => Owner::Controller(&o.uid),
            Some(o) => Owner::Controller(&o.name),
            None => Owner::Pod(&pod.metadata.namespace, &pod.metadata.name),
        };
        let host_ports: Vec<(i32, &str)> = spec
            .containers
            .iter()
            .chain(&spec.init_containers)
            .flat_map(|c| &c.ports)
            .filter_map(|p| {
                let port = p.host_port.filter(|p| *p > 0)?;
                Some((port, p.protocol.as_deref().unwrap_or("TCP")))
            })
            .collect();
        let anti_affinity = spec
            .affinity
            .as_ref()
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .map_or(&[][..], |a| &a.required);
        let key = Key {
            owner,
            namespace: &pod.metadata.namespace,
            requests,
            extended,
            node_selector: &spec.node_selector,
            node_affinity: spec
                .affinity
                .as_ref()
                .and_then(|a| a.node_affinity.as_ref())
                .and_then(|n| n.required.as_ref()),
            tolerations: &spec.tolerations,
            host_ports,
            anti_affinity,
            spread: &spec.topology_spread_constraints,
            priority: spec.priority.unwrap_or(0),
        };
        if let Some(&id) = self.index.get(&key) {
            return id;
        }
        let id = self.classes.len() as u32;
        let spread: Vec<_> = key
            .spread
            .iter()
            .filter(|s| s.when_unsatisfiable == "DoNotSchedule")
            .collect();
        self.classes.push(Class {
            sample: pod,
            namespace: key.namespace,
            labels: &pod.metadata.labels,
            requests: key.requests,
            extended: key.extended.clone(),
            node_selector: key.node_selector,
            node_affinity: key.node_affinity,
            tolerations: key.tolerations,
            constrained: !key.host_ports.is_empty()
                || !key.anti_affinity.is_empty()
                || !spread.is_empty(),
            host_ports: key.host_ports.clone(),
            anti_affinity: key.anti_affinity,
            spread,
            priority: key.priority,
            pending: Vec::new(),
        });
        self.index.insert(key, id);
        id
    }
}

impl Default for Grouper<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// A cheap, stable fingerprint of a class list (used to share estimates between node groups).
pub fn fingerprint(items: &[(u32, u32)]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    items.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, owner: Option<&str>, cpu: &str) -> Pod {
        let owner = owner.map_or(String::new(), |uid| {
            format!(r#","ownerReferences":[{{"kind":"ReplicaSet","name":"rs","uid":"{uid}","controller":true}}]"#)
        });
        serde_json::from_str(&format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"default"{owner}}},
                "spec":{{"containers":[{{"resources":{{"requests":{{"cpu":"{cpu}"}}}}}}]}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn pods_of_one_controller_with_one_spec_share_a_class() {
        let pods = [
            pod("a", Some("u1"), "1"),
            pod("b", Some("u1"), "1"),
            pod("c", Some("u1"), "2"),
            pod("d", Some("u2"), "1"),
        ];
        let mut g = Grouper::new();
        let ids: Vec<u32> = pods.iter().map(|p| g.class_of(p)).collect();
        assert_eq!(ids, vec![0, 0, 1, 2]);
    }

    #[test]
    fn pods_without_a_controller_are_each_their_own_class() {
        let pods = [pod("a", None, "1"), pod("b", None, "1")];
        let mut g = Grouper::new();
        assert_ne!(g.class_of(&pods[0]), g.class_of(&pods[1]));
    }
}
