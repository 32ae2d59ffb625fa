//! The simulated cluster: the snapshot compiled into the form the planner works on.
//!
//! ```text
//!  Snapshot ──compile──▶ World { classes   (pod equivalence classes, running and pending)
//!                               nodes     (existing + upcoming copies of group templates)
//!                               shapes    (distinct label/taint sets; predicate cache key)
//!                               groups    (template resources, DaemonSet overhead, members) }
//! ```
//!
//! Nodes with the same labels, taints and flags share a shape, and static predicates are
//! answered once per (class, shape). Placement then only has to do integer arithmetic, except for
//! constrained classes, which go pod by pod through `topology`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::equivalence::{Class, Grouper};
use crate::model::{Node, NodeGroup, Pod, Snapshot, Taint};
use crate::predicates::{self, Failure, NodeView, PodView};
use crate::resources::Resources;
use crate::topology::{self, Constraint, Counter, HOSTNAME};

/// Node taint cluster-autoscaler puts on nodes it is deleting.
pub const TO_BE_DELETED_TAINT: &str = "ToBeDeletedByClusterAutoscaler";
const DEFAULT_MAX_PODS: i64 = 110;

/// A distinct (labels, taints, flags) combination.
#[derive(Debug)]
pub struct Shape<'a> {
    pub name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub taints: &'a [Taint],
    pub unschedulable: bool,
    pub extended: Vec<(String, i64)>,
}

impl Shape<'_> {
    pub fn view(&self) -> NodeView<'_> {
        NodeView {
            name: self.name,
            labels: self.labels,
            taints: self.taints,
            unschedulable: self.unschedulable,
            extended: &self.extended,
        }
    }
}

/// A node in the simulation, existing or upcoming.
#[derive(Debug)]
pub struct SimNode<'a> {
    pub name: Cow<'a, str>,
    /// The Kubernetes object (the group template for an upcoming node).
    pub node: &'a Node,
    pub shape: u32,
    pub group: Option<u32>,
    pub alloc: Resources,
    /// Capacity, as resource limits count it (allocatable when the node reports none).
    pub capacity: Resources,
    pub used: Resources,
    pub ports: Vec<(i32, &'a str)>,
    /// Pods on the node by class (running, plus those placed by the simulation).
    pub counts: Vec<(u32, u32)>,
    /// Running pods (indices into `Snapshot::pods`).
    pub pods: Vec<u32>,
    pub ready: bool,
    pub upcoming: bool,
    pub deleting: bool,
    /// Removed by the scale-down simulation.
    pub removed: bool,
}

impl SimNode<'_> {
    pub fn free(&self) -> Resources {
        self.alloc.minus(self.used)
    }

    /// Can take new pods at all (predicates decide the rest).
    pub fn accepts_pods(&self) -> bool {
        self.ready && !self.deleting && !self.removed
    }

    pub fn domain<'s>(&'s self, key: &str) -> Option<&'s str> {
        match self.node.metadata.labels.get(key) {
            Some(v) if !(self.upcoming && key == HOSTNAME) => Some(v),
            _ if key == HOSTNAME => Some(&self.name),
            _ => None,
        }
    }

    fn add(&mut self, class: u32, n: u32, requests: Resources) {
        self.used = self.used.plus(requests.times(i64::from(n)));
        match self.counts.iter_mut().find(|(c, _)| *c == class) {
            Some((_, have)) => *have += n,
            None => self.counts.push((class, n)),
        }
    }
}

/// A node group as the planner sees it.
#[derive(Debug)]
pub struct Group<'a> {
    pub spec: &'a NodeGroup,
    pub shape: u32,
    /// Template allocatable minus the DaemonSet pods every new node will run.
    pub alloc: Resources,
    pub capacity: Resources,
    pub overhead: Resources,
    pub members: Vec<u32>,
    pub gpu: bool,
}

/// The compiled snapshot plus the simulation state.
pub struct World<'a> {
    pub snapshot: &'a Snapshot,
    pub classes: Vec<Class<'a>>,
    /// Class of each pod, `u32::MAX` for pods the planner ignores (terminal, or bound elsewhere).
    pub pod_class: Vec<u32>,
    pub nodes: Vec<SimNode<'a>>,
    pub node_index: FxHashMap<&'a str, u32>,
    pub shapes: Vec<Shape<'a>>,
    pub groups: Vec<Group<'a>>,
    /// Constraints of constrained classes, computed on first use.
    constraints: FxHashMap<u32, Vec<Constraint>>,
    /// Static predicate answers: 0 unknown, 1 pass, 2 fail; index `class * shapes + shape`.
    cache: Vec<u8>,
}

pub fn allocatable(node: &Node) -> (Resources, Vec<(String, i64)>) {
    let list = if node.status.allocatable.is_empty() {
        &node.status.capacity
    } else {
        &node.status.allocatable
    };
    let (mut r, ext) = Resources::from_list(list);
    if !list.contains_key(crate::resources::PODS) {
        r.pods = DEFAULT_MAX_PODS;
    }
    (r, ext)
}

/// What the DaemonSets whose pods would be placed on `template` request (node selector, required
/// node affinity, taints and extended resources checked as the scheduler would).
pub fn daemon_set_overhead(daemon_sets: &[crate::model::DaemonSet], template: &Node) -> Resources {
    let (_, extended) = allocatable(template);
    let node = NodeView {
        name: &template.metadata.name,
        labels: &template.metadata.labels,
        taints: &template.spec.taints,
        unschedulable: template.spec.unschedulable,
        extended: &extended,
    };
    daemon_sets
        .iter()
        .filter_map(|ds| {
            let pod = Pod {
                metadata: ds.spec.template.metadata.clone(),
                spec: ds.spec.template.spec.clone(),
                ..Pod::default()
            };
            let (requests, extended) = crate::resources::pod_requests(&pod);
            let view = PodView {
                node_selector: &pod.spec.node_selector,
                node_affinity: pod
                    .spec
                    .affinity
                    .as_ref()
                    .and_then(|a| a.node_affinity.as_ref())
                    .and_then(|n| n.required.as_ref()),
                tolerations: &pod.spec.tolerations,
                extended: &extended,
            };
            crate::predicates::check(&view, &node)
                .ok()
                .map(|()| requests)
        })
        .fold(Resources::default(), Resources::plus)
}

/// Node capacity, as CA's resource limits count it (allocatable when capacity is absent).
pub fn capacity(node: &Node) -> Resources {
    if node.status.capacity.is_empty() {
        allocatable(node).0
    } else {
        Resources::from_list(&node.status.capacity).0
    }
}

impl<'a> World<'a> {
    pub fn compile(snapshot: &'a Snapshot) -> Self {
        let mut grouper = Grouper::new();
        let pod_class: Vec<u32> = snapshot
            .pods
            .iter()
            .map(|p| {
                if p.is_terminal() {
                    u32::MAX
                } else {
                    grouper.class_of(p)
                }
            })
            .collect();
        let mut classes = grouper.classes;
        mark_constrained(&mut classes);

        // Node identity matters to predicates only when some pod selects by hostname or name.
        let identity = classes.iter().any(|c| {
            c.node_selector.contains_key(HOSTNAME)
                || c.node_affinity.is_some_and(|a| {
                    a.node_selector_terms.iter().any(|t| {
                        !t.match_fields.is_empty()
                            || t.match_expressions.iter().any(|r| r.key == HOSTNAME)
                    })
                })
        });
        let mut shapes = Vec::new();
        let mut shape_index: FxHashMap<ShapeKey<'a>, u32> = FxHashMap::default();
        let mut shape_of = |node: &'a Node, name: &'a str| -> u32 {
            let (_, extended) = allocatable(node);
            let key = ShapeKey {
                name: identity.then_some(name),
                labels: node
                    .metadata
                    .labels
                    .iter()
                    .filter(|(k, _)| identity || k.as_str() != HOSTNAME)
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
                taints: &node.spec.taints,
                unschedulable: node.spec.unschedulable,
                extended: extended.clone(),
            };
            *shape_index.entry(key).or_insert_with(|| {
                shapes.push(Shape {
                    name,
                    labels: &node.metadata.labels,
                    taints: &node.spec.taints,
                    unschedulable: node.spec.unschedulable,
                    extended,
                });
                shapes.len() as u32 - 1
            })
        };

        let mut nodes = Vec::with_capacity(snapshot.nodes.len());
        let mut node_index = FxHashMap::default();
        for node in &snapshot.nodes {
            let name = node.metadata.name.as_str();
            node_index.insert(name, nodes.len() as u32);
            nodes.push(SimNode {
                name: Cow::Borrowed(name),
                node,
                shape: shape_of(node, name),
                group: None,
                alloc: allocatable(node).0,
                capacity: capacity(node),
                used: Resources::default(),
                ports: Vec::new(),
                counts: Vec::new(),
                pods: Vec::new(),
                ready: node.is_ready(),
                upcoming: false,
                deleting: node
                    .spec
                    .taints
                    .iter()
                    .any(|t| t.key == TO_BE_DELETED_TAINT),
                removed: false,
            });
        }
        for (i, pod) in snapshot.pods.iter().enumerate() {
            let class = pod_class[i];
            if class == u32::MAX {
                continue;
            }
            match pod.spec.node_name.as_deref().filter(|n| !n.is_empty()) {
                Some(node_name) => {
                    // Bound to a node the snapshot does not describe: nothing to simulate.
                    if let Some(&n) = node_index.get(node_name) {
                        let c = &classes[class as usize];
                        let node = &mut nodes[n as usize];
                        node.add(class, 1, c.requests);
                        node.ports.extend(c.host_ports.iter().copied());
                        node.pods.push(i as u32);
                    }
                }
                None if pod.metadata.deletion_timestamp.is_none() => {
                    classes[class as usize].pending.push(i as u32)
                }
                None => {}
            }
        }

        let mut groups = Vec::with_capacity(snapshot.node_groups.len());
        for (g, spec) in snapshot.node_groups.iter().enumerate() {
            let mut members: Vec<u32> = spec
                .node_names
                .iter()
                .filter_map(|n| node_index.get(n.as_str()).copied())
                .collect();
            members.sort_by(|a, b| nodes[*a as usize].name.cmp(&nodes[*b as usize].name));
            for &m in &members {
                nodes[m as usize].group = Some(g as u32);
            }
            // New nodes run the DaemonSets a ready member runs, as CA's template from a real node;
            // without one, the DaemonSets whose pods would go to the template.
            let overhead = members
                .iter()
                .find(|&&m| nodes[m as usize].ready)
                .map(|&m| {
                    nodes[m as usize]
                        .pods
                        .iter()
                        .filter(|&&p| {
                            let pod = &snapshot.pods[p as usize];
                            pod.is_daemonset() || pod.is_mirror()
                        })
                        .fold(Resources::default(), |acc, &p| {
                            acc.plus(classes[pod_class[p as usize] as usize].requests)
                        })
                })
                .unwrap_or_else(|| daemon_set_overhead(&snapshot.daemon_sets, &spec.template));
            let (template_alloc, _) = allocatable(&spec.template);
            let shape = shape_of(&spec.template, &spec.id);
            groups.push(Group {
                spec,
                shape,
                alloc: template_alloc.minus(overhead),
                capacity: capacity(&spec.template),
                overhead,
                members,
                gpu: template_alloc.gpu > 0,
            });
        }

        // Upcoming nodes: the group's target is above its registered nodes. They take pending
        // pods like real ones, so a pod waiting for them does not trigger a second scale-up.
        for (g, group) in groups.iter().enumerate() {
            let upcoming = group
                .spec
                .target_size
                .saturating_sub(group.members.len() as u32);
            for i in 0..upcoming {
                nodes.push(SimNode {
                    name: Cow::Owned(format!("{}-upcoming-{i}", group.spec.id)),
                    node: &group.spec.template,
                    shape: group.shape,
                    group: Some(g as u32),
                    alloc: group.alloc.plus(group.overhead),
                    capacity: group.capacity,
                    used: group.overhead,
                    ports: Vec::new(),
                    counts: Vec::new(),
                    pods: Vec::new(),
                    ready: true,
                    upcoming: true,
                    deleting: false,
                    removed: false,
                });
            }
        }

        let cache = vec![0; classes.len() * shapes.len()];
        World {
            snapshot,
            classes,
            pod_class,
            nodes,
            node_index,
            shapes,
            groups,
            constraints: FxHashMap::default(),
            cache,
        }
    }

    /// Whether class `c` passes the static predicates on `shape` (cached).
    pub fn fits_shape(&mut self, c: u32, shape: u32) -> bool {
        let i = c as usize * self.shapes.len() + shape as usize;
        match self.cache[i] {
            1 => true,
            2 => false,
            _ => {
                let ok = self.static_check(c, shape).is_ok();
                self.cache[i] = if ok { 1 } else { 2 };
                ok
            }
        }
    }

    pub fn static_check(&self, c: u32, shape: u32) -> Result<(), Failure> {
        predicates::check(
            &self.classes[c as usize].view(),
            &self.shapes[shape as usize].view(),
        )
    }

    pub fn constraints(&mut self, c: u32) -> &[Constraint] {
        let classes = &self.classes;
        self.constraints
            .entry(c)
            .or_insert_with(|| topology::constraints_of(c, classes))
    }

    /// Places up to `n` pods of class `c` on nodes that `usable` admits, first fit in node order
    /// starting at `start`. Returns where they went: `(node, count)`.
    pub fn place(
        &mut self,
        c: u32,
        n: u32,
        start: usize,
        usable: &dyn Fn(&SimNode<'_>) -> bool,
    ) -> Vec<(u32, u32)> {
        let mut moves = Vec::new();
        if n == 0 || self.nodes.is_empty() {
            return moves;
        }
        let len = self.nodes.len();
        let requests = self.classes[c as usize].requests;
        if !self.classes[c as usize].constrained {
            let mut left = n;
            for i in (start..len).chain(0..start.min(len)) {
                let node = &self.nodes[i];
                if !node.accepts_pods() || !usable(node) {
                    continue;
                }
                let fit = node.free().fit_count(requests);
                if fit == 0 || !self.fits_shape(c, self.nodes[i].shape) {
                    continue;
                }
                let k = left.min(fit.min(i64::from(u32::MAX)) as u32);
                self.nodes[i].add(c, k, requests);
                moves.push((i as u32, k));
                left -= k;
                if left == 0 {
                    break;
                }
            }
            return moves;
        }

        // Pod by pod, with domain counts.
        let constraints = self.constraints(c).to_vec();
        let mut counter = Counter::new(&constraints);
        let keys: Vec<String> = counter.keys().map(str::to_owned).collect();
        for node in &self.nodes {
            if node.removed {
                continue;
            }
            let domains: Vec<Option<&str>> = keys.iter().map(|k| node.domain(k)).collect();
            let eligible = self.node_affinity_matches(c, node);
            counter.observe(&domains, &node.counts, eligible);
        }
        counter.seal();
        let ports = self.classes[c as usize].host_ports.clone();
        for _ in 0..n {
            let mut placed = None;
            for i in (start..len).chain(0..start.min(len)) {
                let node = &self.nodes[i];
                if !node.accepts_pods()
                    || !usable(node)
                    || node.free().fit_count(requests) == 0
                    || topology::ports_conflict(&node.ports, &ports)
                {
                    continue;
                }
                let domains: Vec<Option<&str>> = keys.iter().map(|k| node.domain(k)).collect();
                if counter.allows(&domains).is_err() {
                    continue;
                }
                let domains: Vec<Option<String>> =
                    domains.iter().map(|d| d.map(str::to_owned)).collect();
                if !self.fits_shape(c, self.nodes[i].shape) {
                    continue;
                }
                let domains: Vec<Option<&str>> = domains.iter().map(|d| d.as_deref()).collect();
                counter.record(&domains);
                placed = Some(i);
                break;
            }
            let Some(i) = placed else { break };
            self.nodes[i].add(c, 1, requests);
            self.nodes[i].ports.extend(ports.iter().copied());
            match moves.last_mut() {
                Some((last, k)) if *last == i as u32 => *k += 1,
                _ => moves.push((i as u32, 1)),
            }
        }
        moves
    }

    /// Records pods planned onto new nodes of group `g` (round `round`) as one node-like entry
    /// that only topology counting sees: it takes no pods and has no capacity. Its hostname is
    /// its own, so per-node counts of the real new nodes are approximated by one domain.
    pub fn add_planned(&mut self, g: u32, round: u32, helped: &[(u32, u32)]) {
        let group = &self.groups[g as usize];
        self.nodes.push(SimNode {
            name: Cow::Owned(format!("{}#planned-{round}", group.spec.id)),
            node: &group.spec.template,
            shape: group.shape,
            group: Some(g),
            alloc: Resources::default(),
            capacity: Resources::default(),
            used: Resources::default(),
            ports: Vec::new(),
            counts: helped.to_vec(),
            pods: Vec::new(),
            ready: false,
            upcoming: true,
            deleting: false,
            removed: false,
        });
    }

    /// Takes `n` pods of class `c` off node `i` (the inverse of `place`, for drains).
    pub fn unplace(&mut self, i: u32, c: u32, n: u32) {
        let requests = self.classes[c as usize].requests;
        let node = &mut self.nodes[i as usize];
        node.used = node.used.minus(requests.times(i64::from(n)));
        if let Some(pos) = node.counts.iter().position(|(k, _)| *k == c) {
            node.counts[pos].1 -= n.min(node.counts[pos].1);
            if node.counts[pos].1 == 0 {
                node.counts.swap_remove(pos);
            }
        }
        if !self.classes[c as usize].host_ports.is_empty() {
            for port in &self.classes[c as usize].host_ports {
                if let Some(pos) = node.ports.iter().position(|p| p == port) {
                    node.ports.swap_remove(pos);
                }
            }
        }
    }

    /// Node selector and required node affinity only: the nodes a spread constraint counts.
    pub fn node_affinity_matches(&self, c: u32, node: &SimNode<'_>) -> bool {
        let class = &self.classes[c as usize];
        let view = self.shapes[node.shape as usize].view();
        class
            .node_selector
            .iter()
            .all(|(k, v)| node.node.metadata.labels.get(k) == Some(v))
            && class
                .node_affinity
                .is_none_or(|a| predicates::node_selector_matches(a, &view))
    }
}

#[derive(PartialEq, Eq, Hash)]
struct ShapeKey<'a> {
    name: Option<&'a str>,
    labels: Vec<(&'a str, &'a str)>,
    taints: &'a [Taint],
    unschedulable: bool,
    extended: Vec<(String, i64)>,
}

/// A class is constrained when it has inter-pod constraints of its own or when some other class's
/// anti-affinity selects it (placing it must then respect those pods).
fn mark_constrained(classes: &mut [Class<'_>]) {
    let holders: Vec<usize> = (0..classes.len())
        .filter(|&i| !classes[i].anti_affinity.is_empty())
        .collect();
    if holders.is_empty() {
        return;
    }
    for c in 0..classes.len() {
        if classes[c].constrained {
            continue;
        }
        let selected = holders.iter().any(|&h| {
            let holder = &classes[h];
            holder.anti_affinity.iter().any(|t| {
                (if t.namespaces.is_empty() {
                    holder.namespace == classes[c].namespace
                } else {
                    t.namespaces.iter().any(|n| n == classes[c].namespace)
                }) && t
                    .label_selector
                    .as_ref()
                    .is_some_and(|s| s.matches(classes[c].labels))
            })
        });
        classes[c].constrained = selected;
    }
}
