//! Garbage collection: dependents whose owners are all gone are deleted (background
//! propagation, as `kubectl delete` asks by default), and pods bound to a node that no longer
//! exists are deleted (the pod GC's orphaned-pod sweep).
//!
//! Owners are judged by the cache: an owner of a kind the machinery caches (Node, Pod,
//! Deployment, ReplicaSet, DaemonSet) with no object of its uid is gone; owners of other kinds
//! are never presumed gone. Not emulated: foreground deletion and orphaning
//! (`propagationPolicy: Foreground|Orphan`), and removing the stale reference from a dependent
//! that still has a live owner.

use serde_json::Value;

use super::Machinery;
use super::informer::Dependent;
use crate::resources::RESOURCES;

/// Whether an object with these owner references should be collected.
pub fn orphaned(owner_refs: &[Value], gone: impl Fn(&Value) -> bool) -> bool {
    !owner_refs.is_empty() && owner_refs.iter().all(gone)
}

impl Machinery {
    pub(super) fn collect_garbage(&mut self) -> usize {
        let owners = std::mem::take(&mut self.gc_owners);
        let mut candidates: std::collections::BTreeSet<Dependent> =
            std::mem::take(&mut self.gc_orphans);
        for uid in &owners {
            candidates.extend(self.inf.dependents(uid).cloned());
        }
        let mut work = 0;
        for (t, ns, name) in candidates {
            if self.over_budget() {
                // Checked again next pass.
                self.gc_orphans.insert((t, ns, name));
                continue;
            }
            let Some(rt) = RESOURCES.get(t) else {
                continue;
            };
            let ns = rt.namespaced.then_some(ns.as_str());
            let Ok(obj) = self.api.get_arc(rt, ns, &name) else {
                continue;
            };
            let refs = obj["metadata"]["ownerReferences"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if orphaned(&refs, |r| self.inf.owner_gone(r))
                && obj["metadata"].get("deletionTimestamp").is_none()
            {
                work += usize::from(self.api.delete(rt, ns, &name, (None, None)).is_ok());
            }
        }
        for node in std::mem::take(&mut self.gc_nodes) {
            if self.inf.node(&node).is_some() {
                continue;
            }
            if self.over_budget() {
                self.gc_nodes.push(node);
                continue;
            }
            let pods: Vec<(String, String)> = self
                .inf
                .pods_on(&node)
                .iter()
                .map(|p| {
                    (
                        p["metadata"]["namespace"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                        p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            if pods.len() as u64 > self.budget_left() {
                // What this pass cannot delete, the next one finds still bound to the node.
                self.gc_nodes.push(node.clone());
            }
            for (ns, name) in pods.into_iter().take(self.budget_left() as usize) {
                work += usize::from(
                    self.api
                        .delete(self.t.pods, Some(&ns), &name, (None, None))
                        .is_ok(),
                );
            }
        }
        work
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_object_goes_only_when_every_owner_is_gone() {
        let refs = [json!({"uid": "a"}), json!({"uid": "b"})];
        assert!(orphaned(&refs, |_| true));
        assert!(!orphaned(&refs, |r| r["uid"] == "a"));
        assert!(
            !orphaned(&[], |_| true),
            "unowned objects are never collected"
        );
    }
}
