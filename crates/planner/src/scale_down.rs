//! Scale-down as cluster-autoscaler decides it: which nodes are unneeded, which of those may go
//! now, and why every other node stays.
//!
//! ```text
//! every node ─ eligibility (group, annotation, utilization ≤ threshold)
//!            ─ drain rules per pod (drain.rs) and PDB budget
//!            ─ simulated moves of its pods onto the other nodes (not onto nodes removed earlier)
//!            ⇒ unneeded ─ unneeded long enough, no cool-down, min sizes, parallelism ⇒ removed
//! ```
//! Candidates are tried empty first, then those already unneeded, then by utilization; each
//! unneeded node's moves are kept in the simulation, so later candidates see the room they took.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::cluster::World;
use crate::drain::{self, BlockReason, Drain};
use crate::options::Options;

pub const SCALE_DOWN_DISABLED: &str = "cluster-autoscaler.kubernetes.io/scale-down-disabled";

/// CA's unremovable-node reasons, plus three of ours: `ScaleDownInCooldown` and
/// `ScaleDownLimitReached` (CA says so only in its status) and `DestinationOfAnotherRemoval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reason {
    NotAutoscaled,
    CurrentlyBeingDeleted,
    ScaleDownDisabledAnnotation,
    NotUnderutilized,
    NodeGroupMinSizeReached,
    MinimalResourceLimitExceeded,
    BlockedByPod,
    NoPlaceToMovePods,
    NotUnneededLongEnough,
    NotUnreadyLongEnough,
    ScaleDownInCooldown,
    ScaleDownLimitReached,
    /// Pods of a node removed in this plan move onto it, so it stays this time.
    DestinationOfAnotherRemoval,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unremovable {
    pub node: u32,
    pub reason: Reason,
    /// The blocking pod (index into `Snapshot::pods`) and its reason, for `BlockedByPod`.
    pub blocked_by: Option<(u32, BlockReason)>,
    pub utilization: Option<f64>,
    pub unneeded_since: Option<Timestamp>,
    pub removable_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Removal {
    pub node: u32,
    pub empty: bool,
    pub utilization: f64,
    /// Where its pods go in the simulation: (class, destination node, count).
    pub moves: Vec<(u32, u32, u32)>,
}

#[derive(Debug, Default)]
pub struct ScaleDown {
    pub removals: Vec<Removal>,
    pub unremovable: Vec<Unremovable>,
    /// Why no node is removed this time even if unneeded.
    pub cooldown: Option<(&'static str, Option<Timestamp>)>,
}

/// Utilization as CA computes it: the larger of cpu and memory requests over allocatable; GPU
/// nodes by their GPU requests only.
pub fn utilization(world: &World<'_>, n: u32) -> (f64, bool) {
    let node = &world.nodes[n as usize];
    let ratio = |used: i64, have: i64| {
        if have > 0 {
            used as f64 / have as f64
        } else {
            0.0
        }
    };
    if node.alloc.gpu > 0 {
        (ratio(node.used.gpu, node.alloc.gpu), true)
    } else {
        (
            ratio(node.used.cpu, node.alloc.cpu).max(ratio(node.used.memory, node.alloc.memory)),
            false,
        )
    }
}

pub fn scale_down(
    world: &mut World<'_>,
    options: &Options,
    scaled_up: bool,
    targets: &[u32],
    now: Timestamp,
) -> ScaleDown {
    let mut out = ScaleDown::default();
    let snapshot = world.snapshot;
    let after = |t: Option<Timestamp>, d: SignedDuration| t.map(|t| t + d).filter(|t| *t > now);
    out.cooldown = if scaled_up {
        Some(("ScaleUpInThisPlan", None))
    } else if let Some(t) = after(
        snapshot.last_scale_up_time,
        options.scale_down_delay_after_add,
    ) {
        Some(("ScaleDownDelayAfterAdd", Some(t)))
    } else if let Some(t) = after(
        snapshot.last_scale_down_delete_time,
        options.scale_down_delay_after_delete,
    ) {
        Some(("ScaleDownDelayAfterDelete", Some(t)))
    } else if let Some(t) = after(
        snapshot.last_scale_down_fail_time,
        options.scale_down_delay_after_failure,
    ) {
        Some(("ScaleDownDelayAfterFailure", Some(t)))
    } else {
        None
    };

    let mut pdb_left: Vec<i32> = snapshot
        .pdbs
        .iter()
        .map(|p| p.status.disruptions_allowed)
        .collect();
    let unremovable = |node: u32, reason: Reason| Unremovable {
        node,
        reason,
        blocked_by: None,
        utilization: None,
        unneeded_since: None,
        removable_at: None,
    };

    // Nodes already being deleted still count in their group's target until their instances go;
    // min size is judged on what will be left.
    let mut deleting = vec![0u32; world.groups.len()];
    for node in &world.nodes {
        if let (true, Some(g)) = (node.deleting, node.group) {
            deleting[g as usize] += 1;
        }
    }

    // Eligibility.
    let mut candidates: Vec<(u32, f64, bool)> = Vec::new();
    for n in 0..world.nodes.len() as u32 {
        let node = &world.nodes[n as usize];
        if node.upcoming {
            continue;
        }
        let Some(g) = node.group else {
            out.unremovable.push(unremovable(n, Reason::NotAutoscaled));
            continue;
        };
        if node.deleting {
            out.unremovable
                .push(unremovable(n, Reason::CurrentlyBeingDeleted));
            continue;
        }
        if node
            .node
            .metadata
            .annotations
            .get(SCALE_DOWN_DISABLED)
            .map(String::as_str)
            == Some("true")
        {
            out.unremovable
                .push(unremovable(n, Reason::ScaleDownDisabledAnnotation));
            continue;
        }
        let (u, gpu) = utilization(world, n);
        let threshold = if gpu {
            options.scale_down_gpu_utilization_threshold
        } else {
            options.scale_down_utilization_threshold
        };
        // Unready nodes are judged by time alone.
        if node.ready && u > threshold {
            out.unremovable.push(Unremovable {
                utilization: Some(u),
                ..unremovable(n, Reason::NotUnderutilized)
            });
            continue;
        }
        if targets[g as usize].saturating_sub(deleting[g as usize])
            <= world.groups[g as usize].spec.min_size
        {
            out.unremovable
                .push(unremovable(n, Reason::NodeGroupMinSizeReached));
            continue;
        }
        let previously = snapshot.unneeded_since.contains_key(node.name.as_ref());
        candidates.push((n, u, previously));
    }

    // What each candidate would have to move, and whether anything blocks it.
    struct Plan {
        node: u32,
        utilization: f64,
        previously: bool,
        moving: Vec<(u32, u32)>,
        pdbs: Vec<u32>,
        block: Option<(u32, BlockReason)>,
    }
    let mut plans: Vec<Plan> = Vec::with_capacity(candidates.len());
    // PDB selection depends on namespace and labels only, which a class's pods share (checked).
    let mut class_pdbs: Vec<Option<Vec<u32>>> = vec![None; world.classes.len()];
    for (n, u, previously) in candidates {
        let node = &world.nodes[n as usize];
        let mut moving = node.counts.clone();
        let mut pdbs = Vec::new();
        let mut block = None;
        for &p in &node.pods {
            let pod = &snapshot.pods[p as usize];
            let c = world.pod_class[p as usize];
            let class = &world.classes[c as usize];
            let matched = if class.labels == &pod.metadata.labels {
                class_pdbs[c as usize]
                    .get_or_insert_with(|| drain::matching_pdbs(pod, &snapshot.pdbs))
                    .clone()
            } else {
                drain::matching_pdbs(pod, &snapshot.pdbs)
            };
            match drain::drainability(pod, &matched, &pdb_left, options) {
                Drain::Stays => {
                    if let Some(m) = moving.iter_mut().find(|(k, _)| *k == c) {
                        m.1 -= 1;
                    }
                }
                Drain::Moves => pdbs.extend(matched),
                Drain::Blocks(reason) => {
                    block = Some((p, reason));
                    break;
                }
            }
        }
        moving.retain(|(_, k)| *k > 0);
        plans.push(Plan {
            node: n,
            utilization: u,
            previously,
            moving,
            pdbs,
            block,
        });
    }
    plans.sort_by(|a, b| {
        (a.moving.is_empty() && a.block.is_none())
            .cmp(&(b.moving.is_empty() && b.block.is_none()))
            .reverse()
            .then(b.previously.cmp(&a.previously))
            .then(a.utilization.total_cmp(&b.utilization))
            .then(
                world.nodes[a.node as usize]
                    .name
                    .cmp(&world.nodes[b.node as usize].name),
            )
    });

    // Cluster-wide minimums, counted on capacity as CA does.
    let mut cores: i64 = 0;
    let mut memory: i64 = 0;
    for node in world.nodes.iter().filter(|n| !n.upcoming) {
        let cap = node.capacity;
        cores += cap.cpu;
        memory += cap.memory;
    }
    let min_cores = options.cores_total.0 as i64 * 1000;
    let min_memory = (options.memory_total_gib.0 as i64).saturating_mul(1 << 30);
    let mut removed_in_group = vec![0u32; world.groups.len()];
    let (mut empties, mut drains) = (0u32, 0u32);
    let mut hint = 0usize;
    // Destinations of the pods of nodes removed in this plan: they must stay.
    let mut receiving = vec![false; world.nodes.len()];

    for plan in plans {
        let n = plan.node;
        let node = &world.nodes[n as usize];
        let g = node.group.expect("candidates are in groups") as usize;
        if let Some((pod, reason)) = plan.block {
            out.unremovable.push(Unremovable {
                blocked_by: Some((pod, reason)),
                utilization: Some(plan.utilization),
                ..unremovable(n, Reason::BlockedByPod)
            });
            continue;
        }
        // The PDB budget is shared by every node removed in this plan.
        let mut need: Vec<(u32, i32)> = Vec::new();
        for &p in &plan.pdbs {
            match need.iter_mut().find(|(q, _)| *q == p) {
                Some((_, k)) => *k += 1,
                None => need.push((p, 1)),
            }
        }
        if let Some(&(pdb, _)) = need.iter().find(|(p, k)| pdb_left[*p as usize] < *k) {
            let pod = node.pods.iter().copied().find(|&p| {
                drain::matching_pdbs(&snapshot.pods[p as usize], &snapshot.pdbs).contains(&pdb)
            });
            out.unremovable.push(Unremovable {
                blocked_by: pod.map(|p| (p, BlockReason::NotEnoughPdb)),
                utilization: Some(plan.utilization),
                ..unremovable(n, Reason::BlockedByPod)
            });
            continue;
        }
        let cap = node.capacity;
        let empty = plan.moving.is_empty();

        // Simulate the drain: the node stops taking pods, its pods go elsewhere.
        let saved = {
            let node = &world.nodes[n as usize];
            (node.used, node.counts.clone(), node.ports.clone())
        };
        world.nodes[n as usize].removed = true;
        let mut moves: Vec<(u32, u32, u32)> = Vec::new();
        let mut ok = true;
        for &(c, k) in &plan.moving {
            world.unplace(n, c, k);
            let placed = world.place(c, k, hint, &|d| !d.upcoming);
            let got: u32 = placed.iter().map(|(_, k)| k).sum();
            if let Some(&(last, _)) = placed.last() {
                hint = last as usize;
            }
            moves.extend(placed.into_iter().map(|(d, k)| (c, d, k)));
            if got < k {
                ok = false;
                break;
            }
        }
        if !ok {
            for &(c, d, k) in &moves {
                world.unplace(d, c, k);
            }
            let node = &mut world.nodes[n as usize];
            (node.used, node.counts, node.ports) = saved;
            node.removed = false;
            out.unremovable.push(Unremovable {
                utilization: Some(plan.utilization),
                ..unremovable(n, Reason::NoPlaceToMovePods)
            });
            continue;
        }
        for (p, k) in need {
            pdb_left[p as usize] -= k;
        }

        // Unneeded. Removable now?
        let name = world.nodes[n as usize].name.as_ref();
        let since = snapshot.unneeded_since.get(name).copied().unwrap_or(now);
        let ready = world.nodes[n as usize].ready;
        let wait = if ready {
            options.scale_down_unneeded_time
        } else {
            options.scale_down_unready_time
        };
        let removable_at = since + wait;
        let with_times = |reason| Unremovable {
            utilization: Some(plan.utilization),
            unneeded_since: Some(since),
            removable_at: Some(removable_at),
            ..unremovable(n, reason)
        };
        if removable_at > now {
            out.unremovable.push(with_times(if ready {
                Reason::NotUnneededLongEnough
            } else {
                Reason::NotUnreadyLongEnough
            }));
            continue;
        }
        if out.cooldown.is_some() {
            out.unremovable
                .push(with_times(Reason::ScaleDownInCooldown));
            continue;
        }
        if targets[g].saturating_sub(deleting[g] + removed_in_group[g])
            <= world.groups[g].spec.min_size
        {
            out.unremovable
                .push(with_times(Reason::NodeGroupMinSizeReached));
            continue;
        }
        if receiving[n as usize] {
            out.unremovable
                .push(with_times(Reason::DestinationOfAnotherRemoval));
            continue;
        }
        if cores - cap.cpu < min_cores || memory - cap.memory < min_memory {
            out.unremovable
                .push(with_times(Reason::MinimalResourceLimitExceeded));
            continue;
        }
        let total = empties + drains;
        let within = total < options.max_scale_down_parallelism
            && if empty {
                empties < options.max_empty_bulk_delete
            } else {
                drains < options.max_drain_parallelism
            };
        if !within {
            out.unremovable
                .push(with_times(Reason::ScaleDownLimitReached));
            continue;
        }
        if empty {
            empties += 1;
        } else {
            drains += 1;
        }
        removed_in_group[g] += 1;
        for &(_, d, _) in &moves {
            receiving[d as usize] = true;
        }
        cores -= cap.cpu;
        memory -= cap.memory;
        out.removals.push(Removal {
            node: n,
            empty,
            utilization: plan.utilization,
            moves,
        });
    }
    out.unremovable.sort_by(|a, b| {
        world.nodes[a.node as usize]
            .name
            .cmp(&world.nodes[b.node as usize].name)
    });
    out
}
