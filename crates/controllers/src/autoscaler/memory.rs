//! What the autoscaler remembers between loops: since when each node has been unneeded, when it
//! last scaled up or down, which groups are backed off after failing to scale up (or waiting for
//! their nodes), and which nodes are being deleted in the background. Pure data updated from plans and outcomes; the
//! planner reads it through the snapshot.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use planner::Plan;

use super::deletion::{DeletionTracker, Finished};
use super::provision::ProvisionTracker;

/// cluster-autoscaler's scale-up backoff: 5 minutes, doubling up to 30, forgotten after 3 hours
/// without failure.
const BACKOFF_INITIAL: SignedDuration = SignedDuration::from_mins(5);
const BACKOFF_MAX: SignedDuration = SignedDuration::from_mins(30);
const BACKOFF_RESET: SignedDuration = SignedDuration::from_hours(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Backoff {
    until: Timestamp,
    duration: SignedDuration,
    last_failure: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Memory {
    pub unneeded_since: BTreeMap<String, Timestamp>,
    pub last_scale_up: Option<Timestamp>,
    pub last_scale_down_delete: Option<Timestamp>,
    pub last_scale_down_fail: Option<Timestamp>,
    /// Drains under way.
    pub deletions: DeletionTracker,
    /// Groups waiting for the nodes they were asked for.
    pub provision: ProvisionTracker,
    backoffs: BTreeMap<String, Backoff>,
}

impl Memory {
    /// Until when `group` is kept out of scale-up, if it still is at `now`.
    pub fn backoff_until(&self, group: &str, now: Timestamp) -> Option<Timestamp> {
        self.backoffs
            .get(group)
            .map(|b| b.until)
            .filter(|until| *until > now)
    }

    /// Records a failed scale-up of `group`.
    pub fn scale_up_failed(&mut self, group: &str, now: Timestamp) {
        let duration = match self.backoffs.get(group) {
            Some(b) if now.duration_since(b.last_failure) < BACKOFF_RESET => {
                (b.duration * 2).min(BACKOFF_MAX)
            }
            _ => BACKOFF_INITIAL,
        };
        self.backoffs.insert(
            group.to_owned(),
            Backoff {
                until: now + duration,
                duration,
                last_failure: now,
            },
        );
    }

    /// Records how a background deletion ended (collected at `now`).
    pub fn deletion_finished(&mut self, finished: &Finished, now: Timestamp) {
        self.deletions.finish(finished);
        match finished.result {
            Ok(_) => self.last_scale_down_delete = Some(now),
            Err(_) => self.last_scale_down_fail = Some(now),
        }
    }

    /// Remembers which nodes the plan found unneeded and since when; every other node starts
    /// afresh next time, as in cluster-autoscaler.
    pub fn remember_unneeded(&mut self, plan: &Plan) {
        self.unneeded_since = plan
            .unremovable
            .iter()
            .filter_map(|u| Some((u.node.clone(), u.unneeded_since?)))
            .collect();
    }

    /// Groups currently backed off and until when, for the status.
    pub fn backoffs(&self, now: Timestamp) -> impl Iterator<Item = (&str, Timestamp)> {
        self.backoffs
            .iter()
            .filter(move |(_, b)| b.until > now)
            .map(|(g, b)| (g.as_str(), b.until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(mins: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_mins(mins)
    }

    #[test]
    fn a_failed_group_is_backed_off_for_five_minutes_then_doubling_up_to_thirty() {
        let mut m = Memory::default();
        m.scale_up_failed("g", at(0));
        assert_eq!(m.backoff_until("g", at(1)), Some(at(5)));
        assert_eq!(m.backoff_until("g", at(5)), None);
        m.scale_up_failed("g", at(6));
        assert_eq!(m.backoff_until("g", at(6)), Some(at(16)));
        for t in [20, 40, 80, 120] {
            m.scale_up_failed("g", at(t));
        }
        assert_eq!(m.backoff_until("g", at(120)), Some(at(150)));
        assert_eq!(m.backoffs(at(121)).count(), 1);
    }

    #[test]
    fn a_finished_deletion_starts_the_delete_or_the_failure_cool_down() {
        let mut m = Memory::default();
        m.deletions.start("n1", "g", at(0));
        m.deletions.start("n2", "g", at(0));
        let done = |node: &str, result| Finished {
            node: node.into(),
            group: "g".into(),
            result,
        };
        m.deletion_finished(&done("n1", Ok(2)), at(3));
        assert_eq!(
            (m.last_scale_down_delete, m.last_scale_down_fail),
            (Some(at(3)), None)
        );
        m.deletion_finished(&done("n2", Err("PDB".into())), at(4));
        assert_eq!(m.last_scale_down_fail, Some(at(4)));
        assert!(m.deletions.is_empty());
    }

    #[test]
    fn backoff_starts_over_after_three_quiet_hours() {
        let mut m = Memory::default();
        m.scale_up_failed("g", at(0));
        m.scale_up_failed("g", at(10));
        m.scale_up_failed("g", at(10 + 181));
        assert_eq!(m.backoff_until("g", at(191)), Some(at(196)));
        assert_eq!(m.backoff_until("other", at(191)), None);
    }
}
