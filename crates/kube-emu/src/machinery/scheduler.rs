//! The scheduler's decisions, pure: which node a pending pod goes to, or why it fits nowhere in
//! exactly the words kube-scheduler uses (cluster autoscalers read them).
//!
//! ```text
//!   PodInfo ──▶ filter(pod, node) in kube-scheduler's plugin order, first failure wins:
//!               NodeUnschedulable → TaintToleration → NodeAffinity (selector + required terms)
//!               → NodeResourcesFit (every short resource) → InterPodAffinity (anti-affinity)
//!           ──▶ score: LeastAllocated over cpu and memory, ties to the first node visited
//!           ──▶ Placement::Node(name) | Placement::Unschedulable(message)
//! ```
//!
//! Like kube-scheduler, a search stops once it has found "enough" feasible nodes
//! (`percentageOfNodesToScore`'s adaptive default), starting where the previous search stopped;
//! only a pod that fits nowhere has every node evaluated, to build the FitError message.
//! Preemption is not emulated: the message's `preemption:` part says no victims were found on
//! nodes that failed on resources or anti-affinity, and "not helpful" elsewhere, which is what
//! kube-scheduler reports when every pod has the same priority.

use std::collections::BTreeMap;

use planner::model::{PodAffinityTerm, PodSpec, Taint, Toleration};
use planner::predicates::{NodeView, node_selector_matches, tolerates};
use planner::resources::Resources;

pub const HOSTNAME: &str = "kubernetes.io/hostname";
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// A pod already placed on a node, as far as anti-affinity cares.
#[derive(Debug, Clone, Default)]
pub struct Placed {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// Its own required anti-affinity terms (so newcomers can respect them).
    pub anti: Vec<PodAffinityTerm>,
}

/// What the scheduler knows of a node.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resources,
    /// Extended resources other than GPUs (rare): name → allocatable.
    pub extended: Vec<(String, i64)>,
    /// Sum of the requests of the non-terminal pods bound here.
    pub requested: Resources,
    /// Pods bound here that carry labels or anti-affinity terms, by (namespace, name).
    pub pods: BTreeMap<(String, String), Placed>,
    /// How many of `pods` have anti-affinity terms, on the hostname and on wider keys: lets
    /// the common case (nobody uses anti-affinity) skip every check.
    pub anti_pods: usize,
    pub wide_anti_pods: usize,
}

impl NodeInfo {
    /// Counts a pod on this node.
    pub fn place(&mut self, key: (String, String), placed: Placed, requests: Resources) {
        self.requested = self.requested.plus(requests);
        if let Some(old) = self.pods.insert(key, placed.clone()) {
            self.count(&old, -1);
        }
        self.count(&placed, 1);
    }

    /// Forgets a pod on this node.
    pub fn unplace(&mut self, key: &(String, String), requests: Resources) {
        self.requested = self.requested.minus(requests);
        if let Some(old) = self.pods.remove(key) {
            self.count(&old, -1);
        }
    }

    /// Moves `other`'s pods and their usage onto this node (a node object was replaced).
    pub fn take_usage(&mut self, other: &mut NodeInfo) {
        self.requested = other.requested;
        self.pods = std::mem::take(&mut other.pods);
        self.anti_pods = other.anti_pods;
        self.wide_anti_pods = other.wide_anti_pods;
    }

    fn count(&mut self, p: &Placed, sign: isize) {
        let hostname = p.anti.iter().any(|t| t.topology_key == HOSTNAME);
        let wide = p.anti.iter().any(|t| t.topology_key != HOSTNAME);
        let bump = |n: &mut usize, on: bool| {
            if on {
                *n = n.saturating_add_signed(sign);
            }
        };
        bump(&mut self.anti_pods, hostname);
        bump(&mut self.wide_anti_pods, wide);
    }
}

/// The cluster as one scheduling cycle sees it: the nodes, and which of them hold pods with
/// anti-affinity on keys wider than the hostname (found once per cycle, not per node).
#[derive(Debug)]
pub struct View<'a> {
    pub nodes: &'a [NodeInfo],
    wide: Vec<usize>,
}

impl<'a> View<'a> {
    pub fn new(nodes: &'a [NodeInfo]) -> Self {
        let wide = (0..nodes.len())
            .filter(|&i| nodes[i].wide_anti_pods > 0)
            .collect();
        Self { nodes, wide }
    }
}

/// What the scheduler needs of a pending pod.
#[derive(Debug, Clone, Default)]
pub struct PodInfo {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub requests: Resources,
    pub extended: Vec<(String, i64)>,
    pub spec: PodSpec,
}

impl PodInfo {
    /// The pod's required anti-affinity terms.
    pub fn anti_terms(&self) -> &[PodAffinityTerm] {
        self.spec
            .affinity
            .as_ref()
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .map_or(&[], |a| a.required.as_slice())
    }
}

/// The scheduling-relevant part of a pod spec; an unreadable spec reads as empty (the API
/// server validated it, so this only loses fields our model does not know).
pub fn pod_spec(spec: &serde_json::Value) -> PodSpec {
    serde::Deserialize::deserialize(spec).unwrap_or_default()
}

/// Why one node cannot take the pod: the filter plugin's reasons, and whether preemption could
/// help there (`Unschedulable`) or not (`UnschedulableAndUnresolvable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reasons: Vec<String>,
    pub resolvable: bool,
}

fn reject(reason: String, resolvable: bool) -> Rejection {
    Rejection {
        reasons: vec![reason],
        resolvable,
    }
}

fn term_namespaces<'a>(term: &'a PodAffinityTerm, own_ns: &'a str) -> Vec<&'a str> {
    if term.namespaces.is_empty() {
        vec![own_ns]
    } else {
        term.namespaces.iter().map(String::as_str).collect()
    }
}

/// Whether `term` (of a pod in `term_ns`) selects a pod in `ns` with `labels`.
fn term_selects(
    term: &PodAffinityTerm,
    term_ns: &str,
    ns: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    term_namespaces(term, term_ns).contains(&ns)
        && term
            .label_selector
            .as_ref()
            .is_some_and(|s| s.matches(labels))
}

/// The first untolerated NoSchedule/NoExecute taint of `taints`, if any.
pub fn untolerated<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints.iter().find(|t| {
        (t.effect == "NoSchedule" || t.effect == "NoExecute")
            && !tolerations
                .iter()
                .any(|tol| tolerates(tol, &t.key, t.value.as_deref(), &t.effect))
    })
}

/// Whether the pod's nodeSelector and required node affinity accept the node.
pub fn affinity_matches(
    spec: &PodSpec,
    name: &str,
    labels: &BTreeMap<String, String>,
    taints: &[Taint],
) -> bool {
    let view = NodeView {
        name,
        labels,
        taints,
        unschedulable: false,
        extended: &[],
    };
    spec.node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
        && spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|a| a.required.as_ref())
            .is_none_or(|sel| node_selector_matches(sel, &view))
}

/// Runs the filter plugins for one node. `nodes` is the whole cluster, consulted only for
/// anti-affinity on topology keys other than the hostname.
pub fn filter(pod: &PodInfo, node: &NodeInfo, view: &View<'_>) -> Result<(), Rejection> {
    let tolerations = &pod.spec.tolerations;
    if node.unschedulable
        && !tolerations
            .iter()
            .any(|t| tolerates(t, UNSCHEDULABLE_TAINT, None, "NoSchedule"))
    {
        return Err(reject("node(s) were unschedulable".into(), false));
    }
    if let Some(t) = untolerated(&node.taints, tolerations) {
        return Err(reject(
            format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            ),
            false,
        ));
    }
    if !affinity_matches(&pod.spec, &node.name, &node.labels, &node.taints) {
        return Err(reject(
            "node(s) didn't match Pod's node affinity/selector".into(),
            false,
        ));
    }
    let free = node.allocatable.minus(node.requested);
    let need = pod.requests;
    let mut short = Vec::new();
    if free.pods < need.pods {
        short.push("Too many pods".to_string());
    }
    for (lacking, name) in [
        (need.cpu > 0 && free.cpu < need.cpu, "cpu"),
        (need.memory > 0 && free.memory < need.memory, "memory"),
        (
            need.ephemeral > 0 && free.ephemeral < need.ephemeral,
            "ephemeral-storage",
        ),
        (need.gpu > 0 && free.gpu < need.gpu, "nvidia.com/gpu"),
    ] {
        if lacking {
            short.push(format!("Insufficient {name}"));
        }
    }
    for (name, want) in &pod.extended {
        let have = node
            .extended
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v);
        if have < *want {
            short.push(format!("Insufficient {name}"));
        }
    }
    if !short.is_empty() {
        return Err(Rejection {
            reasons: short,
            resolvable: true,
        });
    }
    anti_affinity(pod, node, view)
}

/// InterPodAffinity's anti-affinity half: the pod's own required terms, then the terms of the
/// pods already in the same topology domain.
fn anti_affinity(pod: &PodInfo, node: &NodeInfo, view: &View<'_>) -> Result<(), Rejection> {
    let same_domain = |key: &str| -> Vec<&NodeInfo> {
        if key == HOSTNAME {
            return vec![node];
        }
        match node.labels.get(key) {
            None => Vec::new(),
            Some(v) => view
                .nodes
                .iter()
                .filter(|n| n.labels.get(key) == Some(v))
                .collect(),
        }
    };
    for term in pod.anti_terms() {
        let hit = same_domain(&term.topology_key).iter().any(|n| {
            n.pods
                .values()
                .any(|p| term_selects(term, &pod.namespace, &p.namespace, &p.labels))
        });
        if hit {
            return Err(reject(
                "node(s) didn't match pod anti-affinity rules".into(),
                true,
            ));
        }
    }
    let existing = |n: &NodeInfo, key_filter: &dyn Fn(&str) -> bool| {
        n.pods.values().any(|p| {
            p.anti.iter().any(|t| {
                key_filter(&t.topology_key)
                    && term_selects(t, &p.namespace, &pod.namespace, &pod.labels)
            })
        })
    };
    let mut blocked = node.anti_pods > 0 && existing(node, &|k| k == HOSTNAME);
    if !blocked {
        // Terms on wider domains (zone, region) of pods anywhere in this node's domain.
        blocked = view.wide.iter().map(|&i| &view.nodes[i]).any(|n| {
            existing(n, &|k| {
                k != HOSTNAME
                    && node.labels.contains_key(k)
                    && n.labels.get(k) == node.labels.get(k)
            })
        });
    }
    if blocked {
        return Err(reject(
            "node(s) didn't satisfy existing pods anti-affinity rules".into(),
            true,
        ));
    }
    Ok(())
}

/// NodeResourcesFit's default LeastAllocated score (0–100) after placing the pod.
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let part = |alloc: i64, used: i64| {
        if alloc <= 0 {
            0
        } else {
            ((alloc - used).max(0) * 100) / alloc
        }
    };
    let after = node.requested.plus(pod.requests);
    (part(node.allocatable.cpu, after.cpu) + part(node.allocatable.memory, after.memory)) / 2
}

/// How many feasible nodes a search looks for before it stops: kube-scheduler's adaptive
/// `percentageOfNodesToScore` (50% minus 1% per 125 nodes, at least 5%), never under 100.
pub fn feasible_to_find(total: usize) -> usize {
    if total < 100 {
        return total;
    }
    let pct = (50 - (total as i64) / 125).max(5) as usize;
    (total * pct / 100).max(100)
}

/// Where a pod goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Index into the node slice.
    Node(usize),
    /// The FitError message for the PodScheduled condition and the FailedScheduling event.
    Unschedulable(String),
}

/// Picks a node for `pod` among `nodes`, starting the search at `start` (the caller rotates it
/// so successive pods spread their searches as kube-scheduler's `nextStartNodeIndex` does).
/// Returns the placement and how many nodes were visited.
pub fn schedule(pod: &PodInfo, nodes: &[NodeInfo], start: usize) -> (Placement, usize) {
    let n = nodes.len();
    if n == 0 {
        return (
            Placement::Unschedulable("no nodes available to schedule pods".into()),
            0,
        );
    }
    let want = feasible_to_find(n);
    let mut best: Option<(i64, usize)> = None;
    let mut found = 0;
    let mut visited = 0;
    let mut rejections: Vec<Rejection> = Vec::new();
    let view = View::new(nodes);
    for i in 0..n {
        let idx = (start + i) % n;
        visited += 1;
        match filter(pod, &nodes[idx], &view) {
            Ok(()) => {
                found += 1;
                let s = score(pod, &nodes[idx]);
                if best.is_none_or(|(b, _)| s > b) {
                    best = Some((s, idx));
                }
                if found >= want {
                    break;
                }
            }
            Err(r) => rejections.push(r),
        }
    }
    match best {
        Some((_, idx)) => (Placement::Node(idx), visited),
        None => (Placement::Unschedulable(fit_error(n, &rejections)), visited),
    }
}

/// The node names a pod's required node affinity limits it to, when every term pins
/// `metadata.name` with `In` (as DaemonSet pods' affinity does): what kube-scheduler's
/// NodeAffinity PreFilter uses to evaluate only those nodes.
pub fn pinned_node_names(spec: &PodSpec) -> Option<Vec<&str>> {
    let required = spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required
        .as_ref()?;
    let mut names = Vec::new();
    for term in &required.node_selector_terms {
        let pin = term
            .match_fields
            .iter()
            .find(|r| r.key == "metadata.name" && r.operator == "In")?;
        names.extend(pin.values.iter().map(String::as_str));
    }
    (!names.is_empty()).then_some(names)
}

/// [`schedule`] for a pod that only `candidates` (indices into `nodes`) can take: the same
/// placement and visit count the full search gives, found by filtering only the candidates.
/// None when the full search is needed: too many candidates for the result to be the same
/// (the search could stop early), or none fits (the FitError message counts every node).
pub fn schedule_among(
    pod: &PodInfo,
    nodes: &[NodeInfo],
    start: usize,
    candidates: &[usize],
) -> Option<(Placement, usize)> {
    let n = nodes.len();
    if n == 0 || candidates.len() >= feasible_to_find(n) {
        return None;
    }
    // Fewer feasible nodes than the search wants: it visits every node, in this order.
    let mut order: Vec<usize> = candidates.iter().copied().filter(|&i| i < n).collect();
    order.sort_by_key(|&i| (i + n - start % n) % n);
    order.dedup();
    let view = View::new(nodes);
    let mut best: Option<(i64, usize)> = None;
    for idx in order {
        if filter(pod, &nodes[idx], &view).is_ok() {
            let s = score(pod, &nodes[idx]);
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, idx));
            }
        }
    }
    best.map(|(_, idx)| (Placement::Node(idx), n))
}

/// kube-scheduler's `FitError.Error()`: a sorted histogram of the filter reasons, then the
/// preemption post-filter's own histogram.
pub fn fit_error(total: usize, rejections: &[Rejection]) -> String {
    let histogram = |counts: BTreeMap<&str, usize>| {
        let mut parts: Vec<String> = counts.iter().map(|(r, c)| format!("{c} {r}")).collect();
        parts.sort();
        parts.join(", ")
    };
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut preemption: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rejections {
        for reason in &r.reasons {
            *reasons.entry(reason.as_str()).or_default() += 1;
        }
        let p = if r.resolvable {
            "No preemption victims found for incoming pod"
        } else {
            "Preemption is not helpful for scheduling"
        };
        *preemption.entry(p).or_default() += 1;
    }
    format!(
        "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {}.",
        histogram(reasons),
        histogram(preemption)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use planner::model::{
        Affinity, LabelSelector, NodeAffinity, NodeSelector, NodeSelectorTerm, PodAntiAffinity,
        Requirement,
    };

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn node(name: &str, cpu: i64, mem_gi: i64) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            labels: labels(&[(HOSTNAME, name)]),
            allocatable: Resources {
                cpu,
                memory: mem_gi << 30,
                ephemeral: 100 << 30,
                gpu: 0,
                pods: 110,
            },
            ..NodeInfo::default()
        }
    }

    fn pod(cpu: i64, mem_mi: i64) -> PodInfo {
        PodInfo {
            namespace: "default".into(),
            labels: labels(&[("app", "web")]),
            requests: Resources {
                cpu,
                memory: mem_mi << 20,
                pods: 1,
                ..Resources::default()
            },
            ..PodInfo::default()
        }
    }

    fn master_taint() -> Taint {
        Taint {
            key: "node-role.kubernetes.io/master".into(),
            value: None,
            effect: "NoSchedule".into(),
        }
    }

    fn pinned_to(names: &[&str]) -> PodInfo {
        let mut p = pod(100, 128);
        p.spec.affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: vec![],
                        match_fields: vec![Requirement {
                            key: "metadata.name".into(),
                            operator: "In".into(),
                            values: names.iter().map(|n| n.to_string()).collect(),
                        }],
                    }],
                }),
            }),
            ..Affinity::default()
        });
        p
    }

    #[test]
    fn a_pod_pinned_to_nodes_by_name_is_placed_as_the_full_search_places_it() {
        let nodes: Vec<NodeInfo> = (0..300)
            .map(|i| {
                let mut n = node(&format!("n{i}"), 4000, 8);
                n.requested.cpu = (i as i64 * 37) % 4000;
                n
            })
            .collect();
        let index = |name: &str| nodes.iter().position(|n| n.name == name).unwrap();
        for names in [
            vec!["n5"],
            vec!["n250", "n3", "n120"],
            vec!["n7", "n7"],
            vec!["n299", "n0"],
        ] {
            let p = pinned_to(&names);
            assert_eq!(pinned_node_names(&p.spec), Some(names.clone()));
            let candidates: Vec<usize> = names.iter().map(|n| index(n)).collect();
            for start in [0, 4, 121, 299] {
                assert_eq!(
                    schedule_among(&p, &nodes, start, &candidates),
                    Some(schedule(&p, &nodes, start)),
                    "{names:?} from {start}"
                );
            }
        }
        // Pinned to a node that cannot take it: the full search writes the message.
        let mut full = nodes.clone();
        full[9].requested.cpu = 4000;
        let p = pinned_to(&["n9"]);
        assert_eq!(schedule_among(&p, &full, 0, &[9]), None);
        assert!(pinned_node_names(&pod(1, 1).spec).is_none());
    }

    #[test]
    fn a_pod_goes_to_the_least_allocated_node_that_fits() {
        let mut busy = node("a", 4000, 8);
        busy.requested.cpu = 3000;
        let nodes = vec![busy, node("b", 4000, 8)];
        assert_eq!(schedule(&pod(500, 128), &nodes, 0).0, Placement::Node(1));
    }

    #[test]
    fn the_unschedulable_message_matches_kube_schedulers_fit_error() {
        let mut m1 = node("m1", 4000, 8);
        m1.taints.push(master_taint());
        let mut m2 = node("m2", 4000, 8);
        m2.taints.push(master_taint());
        let nodes = vec![node("w1", 1000, 8), m1, m2];
        let (p, visited) = schedule(&pod(2000, 128), &nodes, 0);
        assert_eq!(visited, 3);
        assert_eq!(
            p,
            Placement::Unschedulable(
                "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint \
                 {node-role.kubernetes.io/master: }. preemption: 0/3 nodes are available: 1 No \
                 preemption victims found for incoming pod, 2 Preemption is not helpful for \
                 scheduling."
                    .into()
            )
        );
    }

    #[test]
    fn every_short_resource_is_named_and_too_many_pods_comes_first() {
        let mut n = node("w1", 1000, 1);
        n.allocatable.pods = 0;
        let r = filter(&pod(2000, 2048), &n, &View::new(&[])).unwrap_err();
        assert_eq!(
            r.reasons,
            ["Too many pods", "Insufficient cpu", "Insufficient memory"]
        );
        let mut gpu = pod(100, 10);
        gpu.requests.gpu = 1;
        let r = filter(&gpu, &node("w2", 4000, 8), &View::new(&[])).unwrap_err();
        assert_eq!(r.reasons, ["Insufficient nvidia.com/gpu"]);
    }

    #[test]
    fn taints_are_checked_before_node_affinity_as_the_plugins_run() {
        let mut m = node("m", 4000, 8);
        m.taints.push(master_taint());
        let mut p = pod(100, 10);
        p.spec.node_selector = labels(&[("gpu", "yes")]);
        let r = filter(&p, &m, &View::new(&[])).unwrap_err();
        assert!(r.reasons[0].contains("untolerated taint"), "{r:?}");
        let r = filter(&p, &node("w", 4000, 8), &View::new(&[])).unwrap_err();
        assert_eq!(
            r.reasons,
            ["node(s) didn't match Pod's node affinity/selector"]
        );
        p.spec.tolerations.push(Toleration {
            key: Some("node-role.kubernetes.io/master".into()),
            operator: Some("Exists".into()),
            value: None,
            effect: Some("NoSchedule".into()),
        });
        p.spec.node_selector.clear();
        assert!(filter(&p, &m, &View::new(&[])).is_ok());
    }

    #[test]
    fn cordoned_nodes_refuse_pods_unless_they_tolerate_unschedulable() {
        let mut n = node("w", 4000, 8);
        n.unschedulable = true;
        let mut p = pod(100, 10);
        assert_eq!(
            filter(&p, &n, &View::new(&[])).unwrap_err().reasons,
            ["node(s) were unschedulable"]
        );
        p.spec.tolerations.push(Toleration {
            key: Some(UNSCHEDULABLE_TAINT.into()),
            operator: Some("Exists".into()),
            value: None,
            effect: Some("NoSchedule".into()),
        });
        assert!(filter(&p, &n, &View::new(&[])).is_ok());
    }

    #[test]
    fn required_node_affinity_match_fields_pins_a_pod_to_one_node() {
        let mut p = pod(100, 10);
        p.spec.affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: vec![],
                        match_fields: vec![Requirement {
                            key: "metadata.name".into(),
                            operator: "In".into(),
                            values: vec!["b".into()],
                        }],
                    }],
                }),
            }),
            pod_anti_affinity: None,
        });
        let nodes = vec![node("a", 4000, 8), node("b", 4000, 8)];
        assert_eq!(schedule(&p, &nodes, 0).0, Placement::Node(1));
    }

    #[test]
    fn hostname_anti_affinity_keeps_replicas_on_different_nodes() {
        let term = PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: labels(&[("app", "web")]),
                match_expressions: vec![],
            }),
            topology_key: HOSTNAME.into(),
            namespaces: vec![],
        };
        let mut p = pod(100, 10);
        p.spec.affinity = Some(Affinity {
            node_affinity: None,
            pod_anti_affinity: Some(PodAntiAffinity {
                required: vec![term.clone()],
            }),
        });
        let mut a = node("a", 4000, 8);
        a.place(
            ("default".into(), "web-1".into()),
            Placed {
                namespace: "default".into(),
                labels: labels(&[("app", "web")]),
                anti: vec![term],
            },
            Resources::default(),
        );
        let nodes = vec![a.clone(), node("b", 4000, 8)];
        assert_eq!(schedule(&p, &nodes, 0).0, Placement::Node(1));
        assert_eq!(
            filter(&p, &a, &View::new(&nodes)).unwrap_err().reasons,
            ["node(s) didn't match pod anti-affinity rules"]
        );
        // A pod without terms is still kept off by the existing pod's own term.
        let plain = pod(100, 10);
        assert_eq!(
            filter(&plain, &a, &View::new(&nodes)).unwrap_err().reasons,
            ["node(s) didn't satisfy existing pods anti-affinity rules"]
        );
        let mut other_ns = pod(100, 10);
        other_ns.namespace = "prod".into();
        assert!(filter(&other_ns, &a, &View::new(&nodes)).is_ok());
    }

    #[test]
    fn a_search_stops_after_enough_feasible_nodes_on_big_clusters() {
        assert_eq!(feasible_to_find(50), 50);
        assert_eq!(feasible_to_find(1000), 420);
        assert_eq!(feasible_to_find(5000), 500);
        let nodes: Vec<NodeInfo> = (0..1000).map(|i| node(&format!("n{i}"), 4000, 8)).collect();
        let (p, visited) = schedule(&pod(100, 10), &nodes, 990);
        assert_eq!(visited, 420);
        assert!(matches!(p, Placement::Node(990)), "{p:?}");
    }

    #[test]
    fn an_empty_cluster_says_no_nodes_are_available() {
        assert_eq!(
            schedule(&pod(1, 1), &[], 0).0,
            Placement::Unschedulable("no nodes available to schedule pods".into())
        );
    }
}
