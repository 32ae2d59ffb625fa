//! The entry point, `plan(snapshot, options, now, rng) -> Plan`, and the plan's JSON shape.
//!
//! ```text
//! Snapshot ─compile─▶ World ─filter_schedulable─▶ pending ─scale_up─▶ increases
//!                                                      └──────────────▶ unschedulable (+ reasons)
//!                       World (with pending pods placed) ─scale_down─▶ removals, unremovable
//! ```
//! No I/O, no clock: `now` and the RNG come from the caller, so a snapshot, options and seed
//! always give the same plan.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rand::Rng;
use serde::Serialize;

use crate::cluster::World;
use crate::drain::BlockReason;
use crate::expander::Priorities;
use crate::model::Snapshot;
use crate::options::Options;
use crate::scale_down::{self, Reason};
use crate::scale_up::{self, Blocked, Increase};

/// What to do, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub scale_up: Vec<ScaleUp>,
    pub scale_down: Vec<ScaleDown>,
    pub unschedulable: Vec<Unschedulable>,
    pub unremovable: Vec<Unremovable>,
    /// Set when scale-down removes nothing this time whatever the nodes' state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_down_cooldown: Option<Cooldown>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleUp {
    pub node_group: String,
    pub delta: u32,
    /// The group's target size once this increase is applied.
    pub target_size: u32,
    pub pods_helped: PodsHelped,
    /// Set when this group only takes a share of another group's option
    /// (`--balance-similar-node-groups`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balanced_with: Option<String>,
}

/// The pods an increase is for: their number and the first few `namespace/name`s.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodsHelped {
    pub count: u64,
    pub sample: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleDown {
    pub node: String,
    pub node_group: String,
    /// `Empty` (only DaemonSet/mirror pods) or `Underutilized` (its pods move elsewhere).
    pub reason: &'static str,
    pub utilization: f64,
    pub pods_to_move: u32,
    /// Destinations of the moved pods in the simulation: (class, node index, count).
    #[serde(skip)]
    pub moves: Vec<(u32, u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unschedulable {
    pub namespace: String,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unremovable {
    pub node: String,
    pub reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocking_pod: Option<BlockingPod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilization: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unneeded_since: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removable_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockingPod {
    pub namespace: String,
    pub name: String,
    pub reason: BlockReason,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cooldown {
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub pending_pods: u64,
    /// Pending pods that fit existing or upcoming nodes (they trigger nothing).
    pub schedulable_pods: u64,
    pub helped_pods: u64,
    pub unschedulable_pods: u64,
    pub nodes_added: u64,
    pub nodes_removed: u64,
    pub pod_classes: usize,
    pub node_shapes: usize,
}

/// Stages of a plan, reported to an observer (the CLI's `--timings` clock lives outside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Compiled,
    FilteredSchedulable,
    ScaledUp,
    ScaledDown,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Self::Compiled => "compile (classes, shapes, node state)",
            Self::FilteredSchedulable => "filter pods that fit existing/upcoming nodes",
            Self::ScaledUp => "scale-up (binpacking + expanders)",
            Self::ScaledDown => "scale-down (eligibility + drain simulation)",
        }
    }
}

/// Computes the plan.
pub fn plan(snapshot: &Snapshot, options: &Options, now: Timestamp, rng: &mut impl Rng) -> Plan {
    plan_observed(snapshot, options, now, rng, &mut |_| {})
}

/// `plan`, calling `observe` as each phase ends.
pub fn plan_observed(
    snapshot: &Snapshot,
    options: &Options,
    now: Timestamp,
    rng: &mut impl Rng,
    observe: &mut dyn FnMut(Phase),
) -> Plan {
    // A snapshot from `Snapshot::from_json` has a valid configuration; otherwise the priority
    // expander abstains rather than failing the plan.
    let priorities = snapshot
        .priority_config
        .as_ref()
        .and_then(|c| Priorities::from_config(c).ok());
    let mut world = World::compile(snapshot);
    observe(Phase::Compiled);

    let pending_pods: u64 = world.classes.iter().map(|c| c.pending.len() as u64).sum();
    let mut remaining = scale_up::filter_schedulable(&mut world);
    let after_filter = remaining.clone();
    observe(Phase::FilteredSchedulable);

    let up = scale_up::scale_up(
        &mut world,
        &mut remaining,
        options,
        priorities.as_ref(),
        now,
        rng,
    );
    observe(Phase::ScaledUp);

    // Pods are named in class order: those fitting existing nodes first, then those helped by
    // each increase in turn, then the unschedulable rest.
    let mut cursor: Vec<usize> = world
        .classes
        .iter()
        .zip(&after_filter)
        .map(|(c, left)| c.pending.len() - *left as usize)
        .collect();
    let pod_name = |p: u32| {
        let m = &snapshot.pods[p as usize].metadata;
        format!("{}/{}", m.namespace, m.name)
    };
    let scale_up_entries: Vec<ScaleUp> = up
        .increases
        .iter()
        .map(|inc: &Increase| {
            let mut sample = Vec::new();
            let mut count = 0u64;
            for &(c, n) in &inc.helped {
                let pods = &world.classes[c as usize].pending;
                let from = cursor[c as usize];
                let to = (from + n as usize).min(pods.len());
                for &p in &pods[from..to] {
                    if sample.len() < options.pods_helped_sample {
                        sample.push(pod_name(p));
                    }
                }
                cursor[c as usize] = to;
                count += u64::from(n);
            }
            ScaleUp {
                node_group: world.groups[inc.group as usize].spec.id.clone(),
                delta: inc.delta,
                target_size: up.targets[inc.group as usize],
                pods_helped: PodsHelped { count, sample },
                balanced_with: inc
                    .balanced_with
                    .map(|g| world.groups[g as usize].spec.id.clone()),
            }
        })
        .collect();

    let mut unschedulable = Vec::new();
    for c in 0..world.classes.len() {
        if remaining[c] == 0 {
            continue;
        }
        let reason = why_unschedulable(&world, c as u32, &up.blocked, options);
        let pods = &world.classes[c].pending;
        for &p in &pods[cursor[c].min(pods.len())..] {
            let m = &snapshot.pods[p as usize].metadata;
            unschedulable.push(Unschedulable {
                namespace: m.namespace.clone(),
                name: m.name.clone(),
                reason: reason.clone(),
            });
        }
    }
    unschedulable.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));

    let down = if options.scale_down_enabled {
        scale_down::scale_down(
            &mut world,
            options,
            !up.increases.is_empty(),
            &up.targets,
            now,
        )
    } else {
        scale_down::ScaleDown::default()
    };
    observe(Phase::ScaledDown);

    let round = |u: f64| (u * 10_000.0).round() / 10_000.0;
    let scale_down_entries: Vec<ScaleDown> = down
        .removals
        .iter()
        .map(|r| {
            let node = &world.nodes[r.node as usize];
            ScaleDown {
                node: node.name.to_string(),
                node_group: node
                    .group
                    .map(|g| world.groups[g as usize].spec.id.clone())
                    .unwrap_or_default(),
                reason: if r.empty { "Empty" } else { "Underutilized" },
                utilization: round(r.utilization),
                pods_to_move: r.moves.iter().map(|(_, _, k)| k).sum(),
                moves: r.moves.clone(),
            }
        })
        .collect();
    let unremovable = down
        .unremovable
        .iter()
        .map(|u| Unremovable {
            node: world.nodes[u.node as usize].name.to_string(),
            reason: u.reason,
            blocking_pod: u.blocked_by.map(|(p, reason)| {
                let m = &snapshot.pods[p as usize].metadata;
                BlockingPod {
                    namespace: m.namespace.clone(),
                    name: m.name.clone(),
                    reason,
                }
            }),
            utilization: u.utilization.map(round),
            unneeded_since: u.unneeded_since,
            removable_at: u.removable_at,
        })
        .collect();

    let helped: u64 = scale_up_entries.iter().map(|s| s.pods_helped.count).sum();
    let summary = Summary {
        pending_pods,
        schedulable_pods: pending_pods - after_filter.iter().map(|&n| u64::from(n)).sum::<u64>(),
        helped_pods: helped,
        unschedulable_pods: unschedulable.len() as u64,
        nodes_added: up.increases.iter().map(|i| u64::from(i.delta)).sum(),
        nodes_removed: scale_down_entries.len() as u64,
        pod_classes: world.classes.len(),
        node_shapes: world.shapes.len(),
    };
    Plan {
        scale_up: scale_up_entries,
        scale_down: scale_down_entries,
        unschedulable,
        unremovable,
        scale_down_cooldown: down
            .cooldown
            .map(|(reason, until)| Cooldown { reason, until }),
        summary,
    }
}

/// CA's NotTriggerScaleUp message: what stopped each node group, counted.
fn why_unschedulable(
    world: &World<'_>,
    c: u32,
    blocked: &[Option<Blocked>],
    options: &Options,
) -> String {
    if world.groups.is_empty() {
        return "pod didn't trigger scale-up: no node groups".into();
    }
    let class = &world.classes[c as usize];
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for (g, group) in world.groups.iter().enumerate() {
        let message = if let Err(failure) = world.static_check(c, group.shape) {
            failure.to_string()
        } else if let Some(resource) = group.alloc.first_shortfall(class.requests) {
            format!("Insufficient {resource}")
        } else if let Some(why) = blocked[g] {
            why.message().to_owned()
        } else if options.one_group_per_loop {
            "waiting for a later loop (--one-group-per-loop)".to_owned()
        } else if class.constrained {
            "node(s) didn't satisfy pod anti-affinity, topology spread or host ports".to_owned()
        } else {
            "scale-up capped by --max-nodes-per-scaleup".to_owned()
        };
        *counts.entry(message).or_default() += 1;
    }
    let mut parts: Vec<(String, u32)> = counts.into_iter().collect();
    parts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let parts: Vec<String> = parts.into_iter().map(|(m, n)| format!("{n} {m}")).collect();
    format!("pod didn't trigger scale-up: {}", parts.join(", "))
}

#[cfg(test)]
mod tests;
