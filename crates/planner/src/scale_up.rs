//! Scale-up as cluster-autoscaler decides it, without its one-group-per-loop limit.
//!
//! ```text
//! pending ──filter_schedulable──▶ still pending ──┐
//!  (fits existing or upcoming nodes: no trigger)  ▼
//!        ┌──────── for each eligible group: binpack onto its template (capped by limits)
//!        │         expander chain picks one option (+ similar groups when balancing)
//!        └──────── helped pods leave the pending set; repeat until none helps
//! ```
//! Estimates are cached per group and reused while none of the classes they considered has
//! changed and their node limit did not bind.

use jiff::Timestamp;
use rand::Rng;

use rustc_hash::FxHashMap;

use crate::binpack::{Estimate, estimate};
use crate::cluster::World;
use crate::equivalence::fingerprint;
use crate::expander::{self, Candidate, Priorities};
use crate::options::Options;
use crate::resources::Resources;

/// Pending pods left per class after `filter_schedulable`.
pub type Pending = Vec<u32>;

/// Places pending pods on existing and upcoming nodes, highest priority first, as CA's
/// filterOutSchedulable does; returns how many of each class remain.
pub fn filter_schedulable(world: &mut World<'_>) -> Pending {
    let mut order: Vec<u32> = (0..world.classes.len() as u32)
        .filter(|&c| !world.classes[c as usize].pending.is_empty())
        .collect();
    order.sort_by_key(|&c| std::cmp::Reverse(world.classes[c as usize].priority));
    let mut remaining = vec![0; world.classes.len()];
    for c in order {
        let n = world.classes[c as usize].pending.len() as u32;
        let placed: u32 = world.place(c, n, 0, &|_| true).iter().map(|(_, k)| k).sum();
        remaining[c as usize] = n - placed;
    }
    remaining
}

/// One group's increase.
#[derive(Debug, Clone, PartialEq)]
pub struct Increase {
    pub group: u32,
    pub delta: u32,
    /// Pods helped, by class (empty for a group that only takes a balanced share).
    pub helped: Vec<(u32, u32)>,
    /// The group whose option was chosen, when this one was added by balancing.
    pub balanced_with: Option<u32>,
}

/// Why a group could not take more nodes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    BackedOff,
    MaxSize,
    MaxNodesTotal,
    MaxCores,
    MaxMemory,
}

impl Blocked {
    pub fn message(self) -> &'static str {
        match self {
            Self::BackedOff => "node group is backed off after a failed scale-up",
            Self::MaxSize => "max node group size reached",
            Self::MaxNodesTotal => "max cluster node count reached",
            Self::MaxCores => "max cluster cpu limit reached",
            Self::MaxMemory => "max cluster memory limit reached",
        }
    }
}

/// Cluster-wide totals the limits are checked against.
#[derive(Debug, Clone, Copy)]
struct Totals {
    nodes: u64,
    millicores: i64,
    memory: i64,
}

/// An estimate and what it depended on: the classes it placed pods of (a class it could not
/// place at all does not change it by shrinking) and the node limit, if it bound.
struct Cached {
    estimate: Estimate,
    limit: u32,
    placed: Vec<u32>,
    at: u32,
    /// It placed constrained classes, whose room depends on what every round planned.
    topology: bool,
}

pub struct ScaleUp {
    pub increases: Vec<Increase>,
    /// Final target of each group.
    pub targets: Vec<u32>,
    /// Why each group could take no more nodes at the end, if so.
    pub blocked: Vec<Option<Blocked>>,
}

/// Plans increases for the `remaining` pods (decremented as they are helped).
pub fn scale_up(
    world: &mut World<'_>,
    remaining: &mut Pending,
    options: &Options,
    priorities: Option<&Priorities>,
    now: Timestamp,
    rng: &mut impl Rng,
) -> ScaleUp {
    let groups = world.groups.len();
    let mut targets: Vec<u32> = world.groups.iter().map(|g| g.spec.target_size).collect();
    let mut totals = Totals {
        nodes: 0,
        millicores: 0,
        memory: 0,
    };
    for node in &world.nodes {
        let cap = node.capacity;
        totals.nodes += 1;
        totals.millicores += cap.cpu;
        totals.memory += cap.memory;
    }
    let mut cache: Vec<Option<Cached>> = (0..groups).map(|_| None).collect();
    let mut changed_at = vec![0u32; world.classes.len()];
    let mut increases: Vec<Increase> = Vec::new();
    let mut blocked = vec![None; groups];
    let ctx_nodes = world.nodes.len();
    // Later rounds must count the pods earlier rounds planned, for spread and anti-affinity.
    let constrained = world.classes.iter().any(|c| c.constrained);
    // Pending classes in binpacking order, per distinct template size (the order only depends on
    // the template's allocatable, and groups mostly share a few instance types).
    let mut orders: FxHashMap<Resources, Vec<u32>> = FxHashMap::default();

    for round in 1u32.. {
        let mut candidates: Vec<(u32, Estimate)> = Vec::new();
        // Groups whose inputs are equal get equal estimates: zones and pools of one instance
        // type usually see the same pending classes.
        let mut shared: FxHashMap<(Resources, u32, u64, Option<u32>), Estimate> =
            FxHashMap::default();
        for g in 0..groups as u32 {
            let (limit, why) = group_limit(world, g, targets[g as usize], totals, options, now);
            blocked[g as usize] = why;
            if limit == 0 {
                continue;
            }
            if let Some(c) = &cache[g as usize]
                && !c.topology
                && c.placed.iter().all(|&k| changed_at[k as usize] < c.at)
                && limit >= c.estimate.nodes
                && (c.estimate.nodes < c.limit || limit == c.limit)
            {
                if c.estimate.nodes > 0 {
                    candidates.push((g, c.estimate.clone()));
                }
                continue;
            }
            let shape = world.groups[g as usize].shape;
            let alloc = world.groups[g as usize].alloc;
            let order = orders.entry(alloc).or_insert_with(|| {
                let mut order: Vec<u32> = (0..world.classes.len() as u32)
                    .filter(|&c| remaining[c as usize] > 0)
                    .collect();
                order.sort_by(|&a, &b| {
                    let (x, y) = (&world.classes[a as usize], &world.classes[b as usize]);
                    y.score(alloc).total_cmp(&x.score(alloc)).then(a.cmp(&b))
                });
                order
            });
            order.retain(|&c| remaining[c as usize] > 0);
            let mut considered: Vec<(u32, u32)> = Vec::new();
            for &c in order.iter() {
                if world.fits_shape(c, shape) {
                    considered.push((c, remaining[c as usize]));
                }
            }
            // Inter-pod constraints depend on the group's own domains: no sharing then.
            let alone = considered
                .iter()
                .any(|&(c, _)| world.classes[c as usize].constrained)
                .then_some(g);
            let key = (alloc, limit, fingerprint(&considered), alone);
            let e = match shared.get(&key) {
                Some(e) => e.clone(),
                None => {
                    let e = estimate(world, g, &considered, limit);
                    shared.insert(key, e.clone());
                    e
                }
            };
            if e.nodes > 0 {
                candidates.push((g, e.clone()));
            }
            cache[g as usize] = Some(Cached {
                topology: alone.is_some(),
                placed: e.helped.iter().map(|(c, _)| *c).collect(),
                estimate: e,
                limit,
                at: round,
            });
        }
        if candidates.is_empty() {
            break;
        }
        let views: Vec<Candidate<'_>> = candidates
            .iter()
            .map(|(g, e)| {
                let group = &world.groups[*g as usize];
                Candidate {
                    group_id: &group.spec.id,
                    nodes: e.nodes,
                    pods: e.pods(),
                    requested: e.helped.iter().fold(Resources::default(), |acc, (c, n)| {
                        acc.plus(world.classes[*c as usize].requests.times(i64::from(*n)))
                    }),
                    capacity: group.capacity,
                    price_per_hour: group.spec.price_per_hour,
                    gpu: group.gpu,
                }
            })
            .collect();
        let ctx = expander::Context {
            priorities,
            cluster_nodes: ctx_nodes,
        };
        let Some(pick) = expander::choose(&options.expanders, &views, &ctx, rng) else {
            break;
        };
        drop(views);
        let (chosen, est) = candidates.swap_remove(pick);

        let mut shares = vec![(chosen, est.nodes)];
        if options.balance_similar_node_groups {
            shares = balance(world, chosen, &est, &targets, totals, options, now);
        }
        for (i, &(g, delta)) in shares.iter().enumerate() {
            if delta == 0 {
                continue;
            }
            let cap = world.groups[g as usize].capacity;
            targets[g as usize] += delta;
            totals.nodes += u64::from(delta);
            totals.millicores += cap.cpu * i64::from(delta);
            totals.memory += cap.memory * i64::from(delta);
            let helped = if i == 0 {
                est.helped.clone()
            } else {
                Vec::new()
            };
            let balanced_with = (i > 0).then_some(chosen);
            match increases.iter_mut().find(|inc| inc.group == g) {
                Some(inc) => {
                    inc.delta += delta;
                    inc.helped.extend(helped);
                    if i == 0 {
                        // Chosen in its own right at least once.
                        inc.balanced_with = None;
                    }
                }
                None => increases.push(Increase {
                    group: g,
                    delta,
                    helped,
                    balanced_with,
                }),
            }
        }
        for &(c, n) in &est.helped {
            remaining[c as usize] -= n.min(remaining[c as usize]);
            changed_at[c as usize] = round;
        }
        if constrained {
            world.add_planned(chosen, round, &est.helped);
        }
        if options.one_group_per_loop {
            break;
        }
    }
    for g in 0..groups as u32 {
        blocked[g as usize] = group_limit(world, g, targets[g as usize], totals, options, now).1;
    }
    ScaleUp {
        increases,
        targets,
        blocked,
    }
}

/// How many nodes group `g` may still add, and what binds when it is none.
fn group_limit(
    world: &World<'_>,
    g: u32,
    target: u32,
    totals: Totals,
    options: &Options,
    now: Timestamp,
) -> (u32, Option<Blocked>) {
    let group = &world.groups[g as usize];
    if group.spec.backoff_until.is_some_and(|t| t > now) {
        return (0, Some(Blocked::BackedOff));
    }
    let cap = group.capacity;
    let mut limit = (group.spec.max_size.saturating_sub(target), Blocked::MaxSize);
    let mut bound = |n: u64, why: Blocked| {
        let n = n.min(u64::from(u32::MAX)) as u32;
        if n < limit.0 {
            limit = (n, why);
        }
    };
    bound(u64::from(options.max_nodes_per_scaleup), Blocked::MaxSize);
    if options.max_nodes_total > 0 {
        bound(
            u64::from(options.max_nodes_total).saturating_sub(totals.nodes),
            Blocked::MaxNodesTotal,
        );
    }
    if cap.cpu > 0 {
        let room = (options.cores_total.1 as i64 * 1000 - totals.millicores).max(0);
        bound((room / cap.cpu) as u64, Blocked::MaxCores);
    }
    if cap.memory > 0 {
        let room = (options.memory_total_gib.1 as i64).saturating_mul(1 << 30) - totals.memory;
        bound((room.max(0) / cap.memory) as u64, Blocked::MaxMemory);
    }
    (limit.0, (limit.0 == 0).then_some(limit.1))
}

/// Labels that differ between otherwise identical groups (CA's ignored labels for similarity).
const IGNORED_LABELS: &[&str] = &[
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "topology.diskplugin.csi.alibabacloud.com/zone",
    "alibabacloud.com/nodepool-id",
    "node.kubernetes.io/instance-id",
];

/// CA's similarity: same capacity (memory within 1.5%), allocatable within 5%, same labels
/// except the ignored ones, same taints.
fn similar(a: &crate::cluster::Group<'_>, b: &crate::cluster::Group<'_>) -> bool {
    let within = |x: i64, y: i64, ratio: f64| {
        let (x, y) = (x as f64, y as f64);
        (x - y).abs() <= ratio * x.max(y)
    };
    fn labels<'g>(g: &'g crate::cluster::Group<'_>) -> Vec<(&'g String, &'g String)> {
        g.spec
            .template
            .metadata
            .labels
            .iter()
            .filter(|(k, _)| !IGNORED_LABELS.contains(&k.as_str()))
            .collect()
    }
    a.capacity.cpu == b.capacity.cpu
        && a.capacity.gpu == b.capacity.gpu
        && within(a.capacity.memory, b.capacity.memory, 0.015)
        && within(a.alloc.cpu, b.alloc.cpu, 0.05)
        && within(a.alloc.memory, b.alloc.memory, 0.05)
        && a.spec.template.spec.taints == b.spec.template.spec.taints
        && labels(a) == labels(b)
}

/// Splits the chosen option's nodes over it and its similar groups so their sizes even out
/// (CA's balanceScaleUps): each node goes to the smallest group that still has room.
fn balance(
    world: &mut World<'_>,
    chosen: u32,
    est: &Estimate,
    targets: &[u32],
    totals: Totals,
    options: &Options,
    now: Timestamp,
) -> Vec<(u32, u32)> {
    let mut members = vec![chosen];
    for g in 0..world.groups.len() as u32 {
        if g == chosen || !similar(&world.groups[chosen as usize], &world.groups[g as usize]) {
            continue;
        }
        let shape = world.groups[g as usize].shape;
        if est.helped.iter().all(|&(c, _)| world.fits_shape(c, shape)) {
            members.push(g);
        }
    }
    let mut room: Vec<u32> = members
        .iter()
        .map(|&g| group_limit(world, g, targets[g as usize], totals, options, now).0)
        .collect();
    let mut shares = vec![0u32; members.len()];
    for _ in 0..est.nodes {
        let next = (0..members.len())
            .filter(|&i| room[i] > 0)
            .min_by_key(|&i| (targets[members[i] as usize] + shares[i], i));
        let Some(i) = next else { break };
        shares[i] += 1;
        room[i] -= 1;
    }
    members.into_iter().zip(shares).collect()
}
