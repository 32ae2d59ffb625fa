//! The scheduler's I/O and memory: the node table with what is already requested on each node
//! (kept up to date from the change feed, and "assumed" at bind time as kube-scheduler does),
//! the active and unschedulable queues, and the writes: `pods/binding`, the
//! `PodScheduled=False/Unschedulable` condition and the `Scheduled`/`FailedScheduling` events.
//!
//! Unschedulable pods are retried when a node appears or changes in a way that matters for
//! scheduling, and (at most once a second) when a pod frees resources, like the scheduling
//! queue's move requests.

use std::collections::{BTreeSet, HashMap};

use planner::model::{Node, Pod};
use planner::resources::{Resources, pod_requests};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Machinery;
use super::informer::{Applied, Key};
use super::scheduler::{self, NodeInfo, Placed, Placement, PodInfo};
use crate::clock::rfc3339;
use crate::patch::PatchType;
use crate::store::Target;

/// Scheduling attempts per round, so one pass stays short however long the queue.
const ATTEMPTS_PER_PASS: usize = 2_000;
/// Minimum time between retries of unschedulable pods triggered by pods going away.
const RETRY_MS: i64 = 1_000;

/// A pod's contribution to its node.
#[derive(Debug, Clone)]
struct Accounted {
    node: String,
    requests: Resources,
}

#[derive(Debug, Default)]
pub(super) struct SchedState {
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Usage of pods bound to names that are not (or no longer) nodes.
    orphan_usage: HashMap<String, NodeInfo>,
    accounted: HashMap<Key, Accounted>,
    active: BTreeSet<Key>,
    unschedulable: BTreeSet<Key>,
    retry_soon: bool,
    retry_now: bool,
    last_retry_ms: Option<i64>,
    next_start: usize,
    /// The last FailedScheduling message per pod, so a retry that fails the same way writes
    /// nothing.
    reported: HashMap<Key, String>,
}

/// Whether a node change matters to scheduling and daemon placement.
pub(super) fn node_changed(old: Option<&Value>, new: Option<&Value>) -> bool {
    match (old, new) {
        (Some(o), Some(n)) => {
            o["metadata"]["labels"] != n["metadata"]["labels"]
                || o["spec"]["taints"] != n["spec"]["taints"]
                || o["spec"]["unschedulable"] != n["spec"]["unschedulable"]
                || o["status"]["allocatable"] != n["status"]["allocatable"]
        }
        _ => true,
    }
}

fn node_info(obj: &Value) -> NodeInfo {
    let node = Node::deserialize(obj).unwrap_or_default();
    let (allocatable, extended) = Resources::from_list(&node.status.allocatable);
    NodeInfo {
        name: node.metadata.name,
        labels: node.metadata.labels,
        taints: node.spec.taints,
        unschedulable: node.spec.unschedulable,
        allocatable,
        extended: extended
            .into_iter()
            .filter(|(n, _)| !n.starts_with("hugepages-"))
            .collect(),
        ..NodeInfo::default()
    }
}

fn pod_info(obj: &Value) -> PodInfo {
    let pod = Pod::deserialize(obj).unwrap_or_default();
    let (requests, extended) = pod_requests(&pod);
    PodInfo {
        namespace: pod.metadata.namespace,
        labels: pod.metadata.labels,
        requests,
        extended,
        spec: pod.spec,
    }
}

fn placed(info: &PodInfo) -> Placed {
    Placed {
        namespace: info.namespace.clone(),
        labels: info.labels.clone(),
        anti: info.anti_terms().to_vec(),
    }
}

/// A pod the scheduler should place: unbound, pending, not being deleted, ours to schedule.
fn wants_scheduling(p: &Value) -> bool {
    p["spec"]["nodeName"].as_str().is_none_or(str::is_empty)
        && p["metadata"].get("deletionTimestamp").is_none()
        && p["status"]["phase"]
            .as_str()
            .is_none_or(|ph| ph == "Pending")
        && p["spec"]["schedulerName"]
            .as_str()
            .is_none_or(|s| s == "default-scheduler")
}

fn bound_node(p: &Value) -> Option<&str> {
    let terminal = matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
    p["spec"]["nodeName"]
        .as_str()
        .filter(|n| !n.is_empty() && !terminal)
}

impl SchedState {
    /// The node table (also what the DaemonSet controller places against).
    pub(super) fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    fn usage_mut(&mut self, node: &str) -> &mut NodeInfo {
        match self.index.get(node) {
            Some(&i) => &mut self.nodes[i],
            None => self.orphan_usage.entry(node.to_string()).or_default(),
        }
    }

    fn add_usage(&mut self, key: &Key, node: &str, info: &PodInfo) {
        self.usage_mut(node)
            .place(key.clone(), placed(info), info.requests);
        self.accounted.insert(
            key.clone(),
            Accounted {
                node: node.to_string(),
                requests: info.requests,
            },
        );
    }

    fn remove_usage(&mut self, key: &Key) {
        if let Some(a) = self.accounted.remove(key) {
            self.usage_mut(&a.node).unplace(key, a.requests);
            self.retry_soon = true;
        }
    }

    pub(super) fn observe_node(&mut self, a: &Applied) {
        let name = a.key.1.clone();
        match &a.new {
            None => {
                if let Some(i) = self.index.remove(&name) {
                    let gone = self.nodes.swap_remove(i);
                    if i < self.nodes.len() {
                        self.index.insert(self.nodes[i].name.clone(), i);
                    }
                    self.orphan_usage.insert(name, gone);
                }
            }
            Some(obj) => {
                if !node_changed(a.old.as_deref(), Some(obj)) && self.index.contains_key(&name) {
                    return;
                }
                let mut info = node_info(obj);
                match self.index.get(&name) {
                    Some(&i) => {
                        info.take_usage(&mut self.nodes[i]);
                        self.nodes[i] = info;
                    }
                    None => {
                        if let Some(mut old) = self.orphan_usage.remove(&name) {
                            info.take_usage(&mut old);
                        }
                        self.index.insert(name, self.nodes.len());
                        self.nodes.push(info);
                    }
                }
                self.retry_now = true;
            }
        }
    }

    pub(super) fn observe_pod(&mut self, a: &Applied) {
        let key = &a.key;
        let Some(p) = &a.new else {
            self.remove_usage(key);
            self.active.remove(key);
            self.unschedulable.remove(key);
            self.reported.remove(key);
            return;
        };
        let want = bound_node(p);
        let have = self.accounted.get(key).map(|x| x.node.as_str());
        if want != have {
            self.remove_usage(key);
            if let Some(n) = want {
                let n = n.to_string();
                self.add_usage(key, &n, &pod_info(p));
            }
        }
        if wants_scheduling(p) {
            if a.old.is_none() || !self.unschedulable.contains(key) {
                self.active.insert(key.clone());
            }
        } else {
            self.active.remove(key);
            self.unschedulable.remove(key);
            self.reported.remove(key);
        }
    }
}

impl Machinery {
    pub(super) fn schedule(&mut self, now: i64) -> usize {
        let s = &mut self.sched;
        let due = s.last_retry_ms.is_none_or(|t| now - t >= RETRY_MS);
        if (s.retry_now || (s.retry_soon && due)) && !s.unschedulable.is_empty() {
            let moved = std::mem::take(&mut s.unschedulable);
            s.active.extend(moved);
            s.last_retry_ms = Some(now);
            s.retry_now = false;
            s.retry_soon = false;
        }
        if s.active.is_empty() {
            return 0;
        }
        let batch: Vec<Key> = s.active.iter().take(ATTEMPTS_PER_PASS).cloned().collect();
        let mut work = 0;
        for key in batch {
            if self.over_budget() {
                // The rest of the queue waits for the next pass.
                break;
            }
            self.sched.active.remove(&key);
            let Some(pod) = self.inf.get(super::informer::Kind::Pod, &key).cloned() else {
                continue;
            };
            if !wants_scheduling(&pod) || self.sched.accounted.contains_key(&key) {
                continue;
            }
            let info = pod_info(&pod);
            // A pod pinned to nodes by name (a daemon pod) is checked against those alone.
            let pinned = scheduler::pinned_node_names(&info.spec).and_then(|names| {
                let candidates: Vec<usize> = names
                    .iter()
                    .filter_map(|n| self.sched.index.get(*n).copied())
                    .collect();
                scheduler::schedule_among(
                    &info,
                    &self.sched.nodes,
                    self.sched.next_start,
                    &candidates,
                )
            });
            let (placement, visited) = pinned.unwrap_or_else(|| {
                scheduler::schedule(&info, &self.sched.nodes, self.sched.next_start)
            });
            let n = self.sched.nodes.len().max(1);
            self.sched.next_start = (self.sched.next_start + visited) % n;
            match placement {
                Placement::Node(i) => {
                    let node = self.sched.nodes[i].name.clone();
                    if self.api.bind(&key.0, &key.1, &node).is_ok() {
                        // Assume the pod on its node now; the feed's echo finds it accounted.
                        self.sched.add_usage(&key, &node, &info);
                        self.sched.reported.remove(&key);
                        let msg = format!("Successfully assigned {}/{} to {node}", key.0, key.1);
                        self.record_event(
                            now,
                            &pod,
                            "Pod",
                            "Scheduled",
                            &msg,
                            false,
                            "default-scheduler",
                        );
                        work += 1;
                    }
                }
                Placement::Unschedulable(msg) => {
                    self.sched.unschedulable.insert(key.clone());
                    work += self.report_unschedulable(&key, &pod, &msg, now);
                }
            }
        }
        work
    }

    /// Writes the PodScheduled=False condition and a FailedScheduling event, unless this
    /// exact message was already reported.
    fn report_unschedulable(&mut self, key: &Key, pod: &Value, msg: &str, now: i64) -> usize {
        if self.sched.reported.get(key).map(String::as_str) == Some(msg) {
            return 0;
        }
        self.sched.reported.insert(key.clone(), msg.to_string());
        let mut conds: Vec<Value> = pod["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let current = conds.iter().position(|c| c["type"] == "PodScheduled");
        let transition = current
            .map(|i| &conds[i])
            .filter(|c| c["status"] == "False")
            .map_or(json!(rfc3339(now)), |c| c["lastTransitionTime"].clone());
        let cond = json!({"type": "PodScheduled", "status": "False", "lastProbeTime": null,
                          "lastTransitionTime": transition, "reason": "Unschedulable", "message": msg});
        match current {
            Some(i) => conds[i] = cond,
            None => conds.push(cond),
        }
        let _ = self.api.patch(
            self.t.pods,
            Some(&key.0),
            &key.1,
            PatchType::Merge,
            &json!({"status": {"conditions": conds}}),
            Target::Status,
            None,
        );
        self.record_event(
            now,
            pod,
            "Pod",
            "FailedScheduling",
            msg,
            true,
            "default-scheduler",
        );
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_do_not_count_as_scheduling_changes_but_taints_do() {
        let a = json!({"metadata": {"labels": {"a": "1"}}, "spec": {}, "status": {"conditions": [{"lastHeartbeatTime": "1"}]}});
        let mut b = a.clone();
        b["status"]["conditions"][0]["lastHeartbeatTime"] = json!("2");
        assert!(!node_changed(Some(&a), Some(&b)));
        b["spec"]["taints"] = json!([{"key": "k", "effect": "NoSchedule"}]);
        assert!(node_changed(Some(&a), Some(&b)));
        assert!(node_changed(None, Some(&a)));
    }

    #[test]
    fn only_pending_unbound_default_scheduler_pods_are_queued() {
        let p =
            json!({"spec": {"schedulerName": "default-scheduler"}, "status": {"phase": "Pending"}});
        assert!(wants_scheduling(&p));
        let mut other = p.clone();
        other["spec"]["schedulerName"] = json!("volcano");
        assert!(!wants_scheduling(&other));
        let mut bound = p.clone();
        bound["spec"]["nodeName"] = json!("n");
        assert!(!wants_scheduling(&bound));
        assert_eq!(bound_node(&bound), Some("n"));
        bound["status"]["phase"] = json!("Succeeded");
        assert_eq!(bound_node(&bound), None, "finished pods free their node");
    }
}
