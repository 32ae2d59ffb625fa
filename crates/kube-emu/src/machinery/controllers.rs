//! The workload controllers' I/O: for each Deployment, ReplicaSet and DaemonSet the change feed
//! marked dirty, read the cache, ask the pure modules what to do, and write it through the API.
//! Errors from the API (a namespace being deleted, a conflict with a client's write) are left
//! for the next change or pass to retry, as a real controller's requeue would.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::Machinery;
use super::daemonsets::{self, DsCounts};
use super::deployments::{self as dep, RsCounts, Totals};
use super::informer::{Key, Kind};
use super::replicasets as rsc;
use crate::patch::PatchType;
use crate::store::Target;

/// At most this many pods are created per workload per sync (`burstReplicas`).
const BURST: i64 = 500;

fn replicas_of(obj: &Value) -> i64 {
    obj["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn revision_of(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][dep::REVISION]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn deleting(obj: &Value) -> bool {
    obj["metadata"].get("deletionTimestamp").is_some()
}

impl Machinery {
    /// Replaces an object's status if it differs from `status`.
    fn set_status(
        &self,
        rt: &'static crate::resources::ResourceType,
        obj: &Value,
        status: Value,
    ) -> usize {
        if obj["status"] == status {
            return 0;
        }
        let mut new = obj.clone();
        new["status"] = status;
        let ns = obj["metadata"]["namespace"].as_str();
        let name = obj["metadata"]["name"].as_str().unwrap_or("");
        usize::from(self.api.update(rt, ns, name, new, Target::Status).is_ok())
    }

    /// Scales a ReplicaSet (main resource), keeping the Deployment's size annotations current.
    fn scale_rs(&self, rs: &Value, replicas: i64, annotations: &[(&str, String)]) -> usize {
        let mut patch = json!({"spec": {"replicas": replicas}});
        for (k, v) in annotations {
            patch["metadata"]["annotations"][*k] = json!(v);
        }
        let ns = rs["metadata"]["namespace"].as_str();
        let name = rs["metadata"]["name"].as_str().unwrap_or("");
        usize::from(
            self.api
                .patch(
                    self.t.replicasets,
                    ns,
                    name,
                    PatchType::Merge,
                    &patch,
                    Target::Main,
                    None,
                )
                .is_ok(),
        )
    }

    pub(super) fn sync_deployments(&mut self, now: i64) -> usize {
        let keys = std::mem::take(&mut self.dirty_deployments);
        let mut work = 0;
        for k in keys {
            if self.over_budget() {
                // Left for the next pass.
                self.dirty_deployments.insert(k);
            } else {
                work += self.sync_deployment(&k, now);
            }
        }
        work
    }

    fn sync_deployment(&mut self, key: &Key, now: i64) -> usize {
        let Some(d) = self.inf.get(Kind::Deployment, key).cloned() else {
            return 0;
        };
        if deleting(&d) {
            return 0;
        }
        let uid = d["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let mut rss: Vec<Arc<Value>> = self
            .inf
            .owned(Kind::ReplicaSet, &uid)
            .into_iter()
            .filter(|rs| rsc::controller_uid(rs) == Some(uid.as_str()) && !deleting(rs))
            .cloned()
            .collect();
        rss.sort_by(|a, b| {
            let t = |r: &Value| {
                (
                    r["metadata"]["creationTimestamp"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    r["metadata"]["name"].as_str().unwrap_or("").to_string(),
                )
            };
            t(a).cmp(&t(b))
        });
        let template = &d["spec"]["template"];
        let replicas = replicas_of(&d);
        let (surge, unavailable) = dep::fenceposts(&d);
        let recreate = d["spec"]["strategy"]["type"] == "Recreate";
        let new_idx = rss
            .iter()
            .position(|rs| dep::same_template(&rs["spec"]["template"], template));
        let counts = |rs: &Value| RsCounts {
            spec: replicas_of(rs),
            available: rs["status"]["availableReplicas"].as_i64().unwrap_or(0),
        };
        let max_revision = rss.iter().map(|r| revision_of(r)).max().unwrap_or(0);
        let size_notes = |d_replicas: i64| {
            vec![
                (dep::DESIRED, d_replicas.to_string()),
                (dep::MAX_REPLICAS, (d_replicas + surge).to_string()),
            ]
        };
        let mut work = 0;
        let Some(new_idx) = new_idx else {
            // The template changed (or is new): the first step of the rollout creates the
            // new ReplicaSet at its first size.
            let all: Vec<RsCounts> = rss.iter().map(|r| counts(r)).collect();
            let old_total: i64 = all.iter().map(|c| c.spec).sum();
            let first = if recreate {
                if old_total > 0 { 0 } else { replicas }
            } else if old_total == 0 {
                replicas
            } else {
                dep::new_rs_replicas(replicas, surge, &all, RsCounts::default())
            };
            let hash = dep::template_hash(template);
            let rs = dep::replicaset_for(&d, &hash, first, max_revision + 1);
            if self
                .api
                .create(self.t.replicasets, Some(&key.0), rs.clone(), false)
                .is_ok()
            {
                work += 1;
                let msg = format!(
                    "Scaled up replica set {} from 0 to {first}",
                    rs["metadata"]["name"].as_str().unwrap_or("")
                );
                if first > 0 {
                    self.record_event(
                        now,
                        &d,
                        "Deployment",
                        "ScalingReplicaSet",
                        &msg,
                        false,
                        "deployment-controller",
                    );
                }
                work += self.set_revision(&d, max_revision + 1);
            }
            return work;
        };
        let new_rs = rss.remove(new_idx);
        let new_name = new_rs["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let mut revision = revision_of(&new_rs);
        if revision <= rss.iter().map(|r| revision_of(r)).max().unwrap_or(0) {
            // A rollback to an older template: it becomes the newest revision.
            revision = max_revision + 1;
            let patch = json!({"metadata": {"annotations": {dep::REVISION: revision.to_string()}}});
            let _ = self.api.patch(
                self.t.replicasets,
                Some(&key.0),
                &new_name,
                PatchType::Merge,
                &patch,
                Target::Main,
                None,
            );
            work += 1;
        }
        work += self.set_revision(&d, revision);
        let old: Vec<RsCounts> = rss.iter().map(|r| counts(r)).collect();
        let new = counts(&new_rs);
        let old_total: i64 = old.iter().map(|c| c.spec).sum();
        let mut scaled: Vec<(String, i64, i64)> = Vec::new();
        if recreate {
            for rs in &rss {
                if replicas_of(rs) > 0 && self.scale_rs(rs, 0, &size_notes(replicas)) > 0 {
                    scaled.push((
                        rs["metadata"]["name"].as_str().unwrap_or("").into(),
                        replicas_of(rs),
                        0,
                    ));
                }
            }
            let old_pods: i64 = rss
                .iter()
                .map(|r| r["status"]["replicas"].as_i64().unwrap_or(0))
                .sum();
            if old_total == 0 && old_pods == 0 && new.spec != replicas {
                self.scale_rs(&new_rs, replicas, &size_notes(replicas));
                scaled.push((new_name.clone(), new.spec, replicas));
            }
        } else {
            let target = if old_total == 0 {
                replicas
            } else {
                let mut all = old.clone();
                all.push(new);
                dep::new_rs_replicas(replicas, surge, &all, new)
            };
            if target != new.spec && self.scale_rs(&new_rs, target, &size_notes(replicas)) > 0 {
                scaled.push((new_name.clone(), new.spec, target));
            }
            let new_available = new_rs["status"]["availableReplicas"].as_i64().unwrap_or(0);
            let sizes = dep::scale_down_old(replicas, unavailable, &old, new, new_available);
            for (rs, size) in rss.iter().zip(sizes) {
                if size != replicas_of(rs) && self.scale_rs(rs, size, &size_notes(replicas)) > 0 {
                    scaled.push((
                        rs["metadata"]["name"].as_str().unwrap_or("").into(),
                        replicas_of(rs),
                        size,
                    ));
                }
            }
        }
        for (name, from, to) in &scaled {
            let verb = if to > from { "up" } else { "down" };
            let msg = format!("Scaled {verb} replica set {name} from {from} to {to}");
            self.record_event(
                now,
                &d,
                "Deployment",
                "ScalingReplicaSet",
                &msg,
                false,
                "deployment-controller",
            );
        }
        work += scaled.len();
        // Old sets beyond revisionHistoryLimit that are fully drained are deleted.
        let limit = d["spec"]["revisionHistoryLimit"]
            .as_i64()
            .unwrap_or(10)
            .max(0) as usize;
        let drained: Vec<&Arc<Value>> = rss
            .iter()
            .filter(|r| replicas_of(r) == 0 && r["status"]["replicas"].as_i64().unwrap_or(0) == 0)
            .collect();
        if drained.len() > limit {
            let mut by_rev = drained;
            by_rev.sort_by_key(|r| revision_of(r));
            for rs in &by_rev[..by_rev.len() - limit] {
                let name = rs["metadata"]["name"].as_str().unwrap_or("");
                work += usize::from(
                    self.api
                        .delete(self.t.replicasets, Some(&key.0), name, (None, None))
                        .is_ok(),
                );
            }
        }
        // Status from the ReplicaSets as cached (the next pass sees the effect of the scaling).
        let mut totals = Totals::default();
        for rs in rss.iter().chain(std::iter::once(&new_rs)) {
            totals.replicas += rs["status"]["replicas"].as_i64().unwrap_or(0);
            totals.ready += rs["status"]["readyReplicas"].as_i64().unwrap_or(0);
            totals.available += rs["status"]["availableReplicas"].as_i64().unwrap_or(0);
        }
        totals.updated = new_rs["status"]["replicas"].as_i64().unwrap_or(0);
        let complete = totals.updated == replicas
            && totals.replicas == replicas
            && totals.available == replicas
            && replicas_of(&new_rs) == replicas
            && old_total == 0;
        let status = dep::deployment_status(&d, totals, Some(&new_name), complete, now);
        work += self.set_status(self.t.deployments, &d, status);
        work
    }

    /// Stamps the Deployment with the revision of its newest ReplicaSet.
    fn set_revision(&self, d: &Value, revision: i64) -> usize {
        let want = revision.to_string();
        if d["metadata"]["annotations"][dep::REVISION].as_str() == Some(want.as_str()) {
            return 0;
        }
        let patch = json!({"metadata": {"annotations": {dep::REVISION: want}}});
        usize::from(
            self.api
                .patch(
                    self.t.deployments,
                    d["metadata"]["namespace"].as_str(),
                    d["metadata"]["name"].as_str().unwrap_or(""),
                    PatchType::Merge,
                    &patch,
                    Target::Main,
                    None,
                )
                .is_ok(),
        )
    }

    pub(super) fn sync_replicasets(&mut self) -> usize {
        let keys = std::mem::take(&mut self.dirty_replicasets);
        let mut work = 0;
        for k in keys {
            if self.over_budget() {
                self.dirty_replicasets.insert(k);
            } else {
                work += self.sync_replicaset(&k);
            }
        }
        work
    }

    fn sync_replicaset(&mut self, key: &Key) -> usize {
        let Some(rs) = self.inf.get(Kind::ReplicaSet, key).cloned() else {
            return 0;
        };
        let uid = rs["metadata"]["uid"].as_str().unwrap_or("").to_string();
        // The owning Deployment reads this set's status.
        if let Some(owner) = rsc::controller_uid(&rs)
            && let Some((Kind::Deployment, dk)) = self.inf.by_uid(owner)
        {
            let dk = dk.clone();
            self.dirty_deployments.insert(dk);
        }
        let active: Vec<Arc<Value>> = self
            .inf
            .owned(Kind::Pod, &uid)
            .into_iter()
            .filter(|p| rsc::controller_uid(p) == Some(uid.as_str()) && rsc::is_active(p))
            .cloned()
            .collect();
        let mut work = 0;
        if !deleting(&rs) {
            let diff = replicas_of(&rs) - active.len() as i64;
            let allowed = BURST.min(self.budget_left() as i64);
            if diff > 0 {
                let mut out_of_budget = diff > allowed;
                for _ in 0..diff.min(allowed) {
                    if self.over_budget() {
                        out_of_budget = true;
                        break;
                    }
                    let pod = rsc::pod_from_template(&rs, "ReplicaSet", &rs["spec"]["template"]);
                    match self.api.create(self.t.pods, Some(&key.0), pod, false) {
                        Ok(_) => work += 1,
                        Err(_) => break,
                    }
                }
                if out_of_budget {
                    // The rest on the next round or pass.
                    self.dirty_replicasets.insert(key.clone());
                }
            } else if diff < 0 {
                if -diff > allowed {
                    self.dirty_replicasets.insert(key.clone());
                }
                let refs: Vec<&Value> = active.iter().map(|p| p.as_ref()).collect();
                for i in rsc::pods_to_delete(&refs, (-diff).min(allowed) as usize) {
                    let name = refs[i]["metadata"]["name"].as_str().unwrap_or("");
                    work += usize::from(
                        self.api
                            .delete(self.t.pods, Some(&key.0), name, (None, None))
                            .is_ok(),
                    );
                }
            }
        }
        let refs: Vec<&Value> = active.iter().map(|p| p.as_ref()).collect();
        work + self.set_status(self.t.replicasets, &rs, rsc::replicaset_status(&rs, &refs))
    }

    pub(super) fn sync_daemonsets(&mut self) -> usize {
        let keys = std::mem::take(&mut self.dirty_daemonsets);
        let mut work = 0;
        for k in keys {
            if self.over_budget() {
                self.dirty_daemonsets.insert(k);
            } else {
                work += self.sync_daemonset(&k);
            }
        }
        work
    }

    fn sync_daemonset(&mut self, key: &Key) -> usize {
        let Some(ds) = self.inf.get(Kind::DaemonSet, key).cloned() else {
            return 0;
        };
        if deleting(&ds) {
            return 0;
        }
        let uid = ds["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let template = &ds["spec"]["template"];
        let hash = daemonsets::revision_hash(template);
        let spec = daemonsets::daemon_spec(template);
        let mut by_node: BTreeMap<String, Vec<Arc<Value>>> = BTreeMap::new();
        for p in self.inf.owned(Kind::Pod, &uid) {
            if rsc::controller_uid(p) == Some(uid.as_str()) && rsc::is_active(p) {
                let n = daemonsets::target_node(p).unwrap_or("").to_string();
                by_node.entry(n).or_default().push(p.clone());
            }
        }
        let mut create: Vec<String> = Vec::new();
        let mut delete: Vec<String> = Vec::new();
        let mut c = DsCounts::default();
        for n in self.sched.nodes() {
            let node_name = &n.name;
            let (run, keep) = daemonsets::placement(&spec, node_name, &n.labels, &n.taints);
            let pods = by_node.remove(node_name).unwrap_or_default();
            if run {
                c.desired += 1;
            }
            match (pods.split_first(), run || keep) {
                (None, _) if run => create.push(node_name.clone()),
                (None, _) => {}
                (Some((first, rest)), true) => {
                    delete.extend(
                        rest.iter()
                            .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string()),
                    );
                    let current = first["metadata"]["labels"][daemonsets::HASH_LABEL].as_str()
                        == Some(hash.as_str());
                    if !current {
                        delete.push(first["metadata"]["name"].as_str().unwrap_or("").to_string());
                    } else {
                        c.updated += 1;
                    }
                    if run {
                        c.current += 1;
                    } else {
                        c.misscheduled += 1;
                    }
                    if rsc::is_ready(first) {
                        c.ready += 1;
                    }
                }
                (Some(_), false) => {
                    delete.extend(
                        pods.iter()
                            .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string()),
                    );
                }
            }
        }
        // Pods for nodes that no longer exist.
        for pods in by_node.values() {
            delete.extend(
                pods.iter()
                    .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string()),
            );
        }
        let mut work = 0;
        let allowed = (BURST as usize).min(self.budget_left() as usize);
        if create.len() + delete.len() > allowed {
            // The rest on the next round or pass.
            self.dirty_daemonsets.insert(key.clone());
        }
        for node in create.iter().take(allowed) {
            if self.over_budget() {
                self.dirty_daemonsets.insert(key.clone());
                break;
            }
            let pod = daemonsets::daemon_pod(&ds, node, &hash);
            match self.api.create(self.t.pods, Some(&key.0), pod, false) {
                Ok(_) => work += 1,
                Err(_) => break,
            }
        }
        for name in delete.iter().take(allowed.saturating_sub(create.len())) {
            work += usize::from(
                self.api
                    .delete(self.t.pods, Some(&key.0), name, (None, None))
                    .is_ok(),
            );
        }
        work + self.set_status(self.t.daemonsets, &ds, daemonsets::daemonset_status(&ds, c))
    }
}
