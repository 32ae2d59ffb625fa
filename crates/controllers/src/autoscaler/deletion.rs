//! Node deletions in flight, as cluster-autoscaler's NodeDeletionTracker keeps them: a drain
//! runs in the background for up to `--max-pod-eviction-time`, so the loop goes on planning and
//! scaling up meanwhile; the tracker says which nodes are being deleted (the planner must treat
//! them as going away even before the watch shows their taint) and how much of the
//! scale-down parallelism they use. Pure: the caller runs the drains and reports how they ended.
//!
//! ```text
//!  plan.scale_down (non-empty) ──▶ start(node) ──▶ drain task ──▶ Finished ──▶ finish(node)
//!                                        │                                     └▶ Memory times
//!  next loop: is_deleting(node), budget(options) ◀──┘
//! ```

use std::collections::BTreeMap;

use jiff::Timestamp;

/// One node being drained and removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub group: String,
    pub since: Timestamp,
}

/// How a background deletion ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub node: String,
    pub group: String,
    /// Pods evicted, or why the node stays.
    pub result: Result<u32, String>,
}

/// The deletions under way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletionTracker {
    in_flight: BTreeMap<String, InFlight>,
}

impl DeletionTracker {
    /// Records that `node` of `group` is being drained from `now` on.
    pub fn start(&mut self, node: &str, group: &str, now: Timestamp) {
        self.in_flight.insert(
            node.to_owned(),
            InFlight {
                group: group.to_owned(),
                since: now,
            },
        );
    }

    /// Forgets a deletion that ended, however it ended.
    pub fn finish(&mut self, finished: &Finished) {
        self.in_flight.remove(&finished.node);
    }

    pub fn is_deleting(&self, node: &str) -> bool {
        self.in_flight.contains_key(node)
    }

    pub fn len(&self) -> usize {
        self.in_flight.len()
    }

    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Nodes being deleted and since when, oldest first by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &InFlight)> {
        self.in_flight.iter().map(|(n, f)| (n.as_str(), f))
    }

    /// The options for this loop's plan: drains in flight use up part of
    /// `--max-scale-down-parallelism` and `--max-drain-parallelism`, as in cluster-autoscaler.
    pub fn budget(&self, options: &planner::Options) -> planner::Options {
        let busy = u32::try_from(self.in_flight.len()).unwrap_or(u32::MAX);
        planner::Options {
            max_scale_down_parallelism: options.max_scale_down_parallelism.saturating_sub(busy),
            max_drain_parallelism: options.max_drain_parallelism.saturating_sub(busy),
            ..options.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;

    #[test]
    fn a_started_deletion_is_tracked_until_it_finishes_either_way() {
        let mut t = DeletionTracker::default();
        let now = Timestamp::UNIX_EPOCH;
        t.start("n1", "asg-a", now);
        t.start("n2", "asg-a", now + SignedDuration::from_secs(1));
        assert!(t.is_deleting("n1") && t.is_deleting("n2") && !t.is_deleting("n3"));
        t.finish(&Finished {
            node: "n1".into(),
            group: "asg-a".into(),
            result: Ok(3),
        });
        t.finish(&Finished {
            node: "n2".into(),
            group: "asg-a".into(),
            result: Err("pods still running".into()),
        });
        assert!(t.is_empty());
    }

    #[test]
    fn drains_in_flight_use_up_the_parallelism_of_the_next_plans() {
        let mut t = DeletionTracker::default();
        let options = planner::Options {
            max_scale_down_parallelism: 10,
            max_drain_parallelism: 2,
            ..planner::Options::default()
        };
        assert_eq!(t.budget(&options), options);
        t.start("n1", "g", Timestamp::UNIX_EPOCH);
        let b = t.budget(&options);
        assert_eq!(
            (b.max_scale_down_parallelism, b.max_drain_parallelism),
            (9, 1)
        );
        t.start("n2", "g", Timestamp::UNIX_EPOCH);
        t.start("n3", "g", Timestamp::UNIX_EPOCH);
        let b = t.budget(&options);
        assert_eq!(
            (b.max_scale_down_parallelism, b.max_drain_parallelism),
            (7, 0)
        );
        assert_eq!(b.scale_down_unneeded_time, options.scale_down_unneeded_time);
    }
}
