//! Scale-ups that never arrive, as cluster-autoscaler's `--max-node-provision-time` handles
//! them: a group asked for more nodes than have registered is given that long (counted from its
//! last increase, or from when the shortfall was first seen); after it, the group is backed off
//! so the next plan looks elsewhere, its instances that never registered are given back, and its
//! target comes down to the nodes it really has. Pure: the controller carries the verdict out.
//!
//! ```text
//!  loop: groups (target, instances) + registered provider ids ──▶ check ──▶ [Overdue]
//!        ScaleWithAdjustment succeeded ──▶ scaled_up (restart the group's clock)
//! ```

use std::collections::{BTreeMap, HashSet};

use cloud::node_groups::{Groups, InstanceState};
use jiff::{SignedDuration, Timestamp};

/// A group whose scale-up ran out of time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    pub group: String,
    /// Instances that exist but never registered a node: removed.
    pub unregistered: Vec<String>,
    /// The target to come down to: the registered nodes, not below the group's minimum.
    pub target: u32,
    /// How long the group waited.
    pub waited: SignedDuration,
}

/// Since when each group has been waiting for nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProvisionTracker {
    waiting_since: BTreeMap<String, Timestamp>,
}

impl ProvisionTracker {
    /// A new increase of `group` gets the full provision time again.
    pub fn scaled_up(&mut self, group: &str, now: Timestamp) {
        self.waiting_since.insert(group.to_owned(), now);
    }

    /// The groups whose upcoming nodes are overdue at `now`; their clocks start over.
    pub fn check(
        &mut self,
        groups: &Groups,
        registered: &HashSet<&str>,
        now: Timestamp,
        max: SignedDuration,
    ) -> Vec<Overdue> {
        let mut overdue = Vec::new();
        let live: HashSet<&str> = groups.groups.iter().map(|g| g.id.as_str()).collect();
        self.waiting_since.retain(|g, _| live.contains(g.as_str()));
        for g in &groups.groups {
            let joined = g
                .instances
                .iter()
                .filter(|i| registered.contains(i.provider_id.as_str()))
                .count() as u32;
            if g.target_size <= joined {
                self.waiting_since.remove(&g.id);
                continue;
            }
            let since = *self.waiting_since.entry(g.id.clone()).or_insert(now);
            let waited = now.duration_since(since);
            if waited < max {
                continue;
            }
            self.waiting_since.remove(&g.id);
            overdue.push(Overdue {
                group: g.id.clone(),
                unregistered: g
                    .instances
                    .iter()
                    .filter(|i| {
                        i.state != InstanceState::Deleting
                            && !registered.contains(i.provider_id.as_str())
                    })
                    .map(|i| i.instance_id.clone())
                    .collect(),
                target: joined.max(g.min_size),
                waited,
            });
        }
        overdue
    }
}

#[cfg(test)]
mod tests {
    use cloud::node_groups::{Instance, NodeGroup, NodeTemplate};

    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_secs(secs)
    }

    fn groups(target: u32, instances: &[&str]) -> Groups {
        Groups::new(vec![NodeGroup {
            id: "g".into(),
            min_size: 1,
            max_size: 10,
            target_size: target,
            instances: instances
                .iter()
                .map(|i| Instance {
                    instance_id: (*i).into(),
                    provider_id: format!("r.{i}"),
                    state: InstanceState::Running,
                })
                .collect(),
            template: NodeTemplate::default(),
            source: "--nodes".into(),
        }])
    }

    #[test]
    fn nodes_that_do_not_register_in_time_are_given_back_and_the_target_lowered() {
        let mut t = ProvisionTracker::default();
        let max = SignedDuration::from_secs(60);
        // Five asked for, three instances exist, one registered.
        let g = groups(5, &["i-1", "i-2", "i-3"]);
        let registered: HashSet<&str> = ["r.i-1"].into();
        t.scaled_up("g", at(0));
        assert!(t.check(&g, &registered, at(30), max).is_empty());
        let late = t.check(&g, &registered, at(60), max);
        assert_eq!(
            late,
            [Overdue {
                group: "g".into(),
                unregistered: vec!["i-2".into(), "i-3".into()],
                target: 1,
                waited: SignedDuration::from_secs(60),
            }]
        );
        // The clock starts over, so the same shortfall is not acted on again at once.
        assert!(t.check(&g, &registered, at(61), max).is_empty());
    }

    #[test]
    fn a_group_whose_nodes_all_joined_stops_waiting_and_a_new_increase_restarts_the_clock() {
        let mut t = ProvisionTracker::default();
        let max = SignedDuration::from_secs(60);
        let all: HashSet<&str> = ["r.i-1", "r.i-2"].into();
        t.scaled_up("g", at(0));
        assert!(
            t.check(&groups(2, &["i-1", "i-2"]), &all, at(10), max)
                .is_empty()
        );
        assert_eq!(t, ProvisionTracker::default());
        // First seen short at 100 (no increase recorded): overdue from 160, not before.
        let one: HashSet<&str> = ["r.i-1"].into();
        assert!(t.check(&groups(2, &["i-1"]), &one, at(100), max).is_empty());
        t.scaled_up("g", at(150));
        assert!(t.check(&groups(2, &["i-1"]), &one, at(200), max).is_empty());
        let late = t.check(&groups(2, &["i-1"]), &one, at(210), max);
        assert_eq!(late.len(), 1);
        assert!(late[0].unregistered.is_empty());
        assert_eq!(late[0].target, 1);
    }
}
