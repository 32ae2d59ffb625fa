//! Carrying a plan out: grow groups, and remove nodes the way cluster-autoscaler does — taint
//! `ToBeDeletedByClusterAutoscaler`, evict the pods through the Eviction API (PDBs apply), wait
//! for them to go, then remove the instances from their groups, and delete the Node objects of
//! removed instances.
//!
//! ```text
//!  plan.scale_up   ──▶ NodeGroups::increase_size ── failure ──▶ backoff (Memory)
//!  plan.scale_down ──▶ taint all ─┬─ empty: NodeGroups::delete_instances, one call per group
//!                                 └─ with pods: one background task per node (Remover):
//!                                    evict + wait ──▶ delete_instances ──▶ Finished
//!                     any failure ──▶ untaint, ScaleDownFailed
//! ```
//! Drains run in the background, tracked in `Memory::deletions`, so a drain waiting up to
//! `--max-pod-eviction-time` on a PodDisruptionBudget never holds up the next loop's scale-up.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloud::node_groups::{Groups, NodeGroup, NodeGroups};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Taint};
use kube::api::{Api, DeleteParams, EvictParams, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use planner::Plan;
use serde_json::json;
use tokio::task::JoinSet;

use super::deletion::Finished;
use super::memory::Memory;
use super::metrics::Metrics;
use super::snapshot::provider_id;
use crate::events::{EventType, Recorder, reference};

/// The taint cluster-autoscaler puts on nodes it is about to delete.
pub const TO_BE_DELETED_TAINT: &str = "ToBeDeletedByClusterAutoscaler";

/// How many pods an increase names in events (the plan counts them all).
const EVENTS_PER_DECISION: usize = 20;

/// What removing a node needs, owned, so a drain can run as its own task.
pub struct Remover<N> {
    pub client: kube::Client,
    pub node_groups: Arc<N>,
    pub recorder: Arc<Recorder>,
    pub metrics: Arc<Metrics>,
    pub status_ref: ObjectReference,
    pub pods: Store<Pod>,
    pub eviction_timeout: Duration,
}

impl<N> Clone for Remover<N> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            node_groups: self.node_groups.clone(),
            recorder: self.recorder.clone(),
            metrics: self.metrics.clone(),
            status_ref: self.status_ref.clone(),
            pods: self.pods.clone(),
            eviction_timeout: self.eviction_timeout,
        }
    }
}

/// Drain tasks running in the background, and the node each is for (so a task that panicked
/// is still accounted for).
#[derive(Default)]
pub struct Drains {
    set: JoinSet<Finished>,
    nodes: HashMap<tokio::task::Id, String>,
}

impl Drains {
    fn spawn<F>(&mut self, node: &str, task: F)
    where
        F: std::future::Future<Output = Finished> + Send + 'static,
    {
        let handle = self.set.spawn(task);
        self.nodes.insert(handle.id(), node.to_owned());
    }

    /// A drain that ended, if any, without waiting.
    pub fn try_next(&mut self) -> Option<Finished> {
        let done = self.set.try_join_next_with_id()?;
        Some(match done {
            Ok((id, f)) => {
                self.nodes.remove(&id);
                f
            }
            Err(e) => {
                let node = self.nodes.remove(&e.id()).unwrap_or_default();
                Finished {
                    group: String::new(),
                    result: Err(format!("the drain of {node} ended abnormally: {e}")),
                    node,
                }
            }
        })
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

/// One loop's actuation.
pub struct Actuator<'a, N> {
    pub remover: &'a Remover<N>,
    /// The loop's time, stamped on taints and remembered in `Memory`.
    pub now: Timestamp,
}

/// What was done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub nodes_added: u32,
    /// Nodes removed in this loop: empty ones, and drained ones whose background deletion
    /// finished since the last loop.
    pub nodes_removed: u32,
    /// Drains started in the background by this loop.
    pub drains_started: u32,
    pub pods_evicted: u32,
    pub failures: Vec<String>,
}

fn pod_index(pods: &[Arc<Pod>]) -> HashMap<(&str, &str), &Arc<Pod>> {
    pods.iter()
        .filter_map(|p| {
            Some((
                (
                    p.metadata.namespace.as_deref()?,
                    p.metadata.name.as_deref()?,
                ),
                p,
            ))
        })
        .collect()
}

/// Pods a drain must evict: bound to the node, alive, neither DaemonSet nor mirror pods.
fn pods_to_evict<'p>(pods: &'p [Arc<Pod>], node: &str) -> Vec<&'p Arc<Pod>> {
    pods.iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
        .filter(|p| {
            !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
        })
        .filter(|p| {
            !p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && o.kind == "DaemonSet")
        })
        .filter(|p| {
            !p.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"))
        })
        .collect()
}

impl<N: NodeGroups + 'static> Actuator<'_, N> {
    pub async fn scale_up(
        &self,
        groups: &Groups,
        plan: &Plan,
        pods: &[Arc<Pod>],
        memory: &mut Memory,
        outcome: &mut Outcome,
    ) {
        let now = self.now;
        let index = pod_index(pods);
        for up in &plan.scale_up {
            let Some(group) = groups.get(&up.node_group) else {
                continue;
            };
            let message = format!(
                "Scale-up: setting group {} size to {} instead of {} (max: {})",
                group.id,
                group.target_size + up.delta,
                group.target_size,
                group.max_size
            );
            match self
                .remover
                .node_groups
                .increase_size(group, up.delta)
                .await
            {
                Ok(()) => {
                    tracing::info!(group = %group.id, delta = up.delta, pods = up.pods_helped.count, "{message}");
                    outcome.nodes_added += up.delta;
                    memory.last_scale_up = Some(now);
                    memory.provision.scaled_up(&group.id, now);
                    self.remover
                        .metrics
                        .scaled_up_nodes
                        .inc_by(u64::from(up.delta));
                    self.remover
                        .recorder
                        .emit(
                            &self.remover.status_ref,
                            EventType::Normal,
                            "ScaledUpGroup",
                            &message,
                        )
                        .await;
                    let pod_message = format!(
                        "pod triggered scale-up: [{{{} {}->{} (max: {})}}]",
                        group.id,
                        group.target_size,
                        group.target_size + up.delta,
                        group.max_size
                    );
                    for name in up.pods_helped.sample.iter().take(EVENTS_PER_DECISION) {
                        let Some((ns, n)) = name.split_once('/') else {
                            continue;
                        };
                        if let Some(pod) = index.get(&(ns, n)) {
                            self.remover
                                .recorder
                                .emit(
                                    &reference(&***pod),
                                    EventType::Normal,
                                    "TriggeredScaleUp",
                                    &pod_message,
                                )
                                .await;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(group = %group.id, error = %e, "scale-up failed; the group is backed off");
                    memory.scale_up_failed(&group.id, now);
                    self.remover
                        .metrics
                        .failed_scale_ups
                        .get_or_create(&vec![("reason", "cloudProviderError".to_owned())])
                        .inc();
                    self.remover
                        .recorder
                        .emit(
                            &self.remover.status_ref,
                            EventType::Warning,
                            "FailedToScaleUpGroup",
                            &format!("{message} failed: {e}"),
                        )
                        .await;
                    outcome
                        .failures
                        .push(format!("scale-up of {}: {e}", group.id));
                }
            }
        }
    }

    /// Taints the plan's nodes, removes the empty ones at once (one call per group) and starts
    /// a background drain for each of the others, recorded in `memory.deletions`.
    #[allow(clippy::too_many_arguments)]
    pub async fn scale_down(
        &self,
        groups: &Groups,
        plan: &Plan,
        nodes: &[Arc<Node>],
        pods: &[Arc<Pod>],
        memory: &mut Memory,
        drains: &mut Drains,
        outcome: &mut Outcome,
    ) {
        let now = self.now;
        if plan.scale_down.is_empty() {
            return;
        }
        let r = self.remover;
        let node_api: Api<Node> = Api::all(r.client.clone());
        let by_name: HashMap<&str, &Arc<Node>> = nodes
            .iter()
            .filter_map(|n| Some((n.metadata.name.as_deref()?, n)))
            .collect();

        // Taint first, so the scheduler stops placing pods there while we drain.
        let mut empty: BTreeMap<&str, Vec<(&Arc<Node>, String)>> = BTreeMap::new();
        for d in &plan.scale_down {
            if memory.deletions.is_deleting(&d.node) {
                continue;
            }
            let Some(node) = by_name.get(d.node.as_str()) else {
                continue;
            };
            let Some(pid) = provider_id(node) else {
                continue;
            };
            let Some(group) = groups.group_of(pid) else {
                continue;
            };
            let Some(instance) = group.instances.iter().find(|i| i.provider_id == pid) else {
                continue;
            };
            if let Err(e) = taint(&node_api, node, now).await {
                outcome.failures.push(format!("taint {}: {e}", d.node));
                continue;
            }
            r.recorder
                .emit(
                    &reference(&***node),
                    EventType::Normal,
                    "ScaleDown",
                    "marked the node as toBeDeleted/unschedulable",
                )
                .await;
            if d.reason == "Empty" {
                empty
                    .entry(&group.id)
                    .or_default()
                    .push((node, instance.instance_id.clone()));
            } else {
                let victims: Vec<Arc<Pod>> =
                    pods_to_evict(pods, &d.node).into_iter().cloned().collect();
                memory.deletions.start(&d.node, &group.id, now);
                outcome.drains_started += 1;
                let job = r.clone();
                let (node, group, instance) = (
                    Arc::clone(node),
                    group.clone(),
                    instance.instance_id.clone(),
                );
                drains.spawn(&d.node, async move {
                    job.drain_and_remove(node, group, instance, victims).await
                });
            }
        }

        for (group_id, members) in empty {
            let Some(group) = groups.get(group_id) else {
                continue;
            };
            let ids: Vec<String> = members.iter().map(|(_, id)| id.clone()).collect();
            match r.node_groups.delete_instances(group, &ids).await {
                Ok(()) => {
                    memory.last_scale_down_delete = Some(now);
                    for (node, _) in &members {
                        outcome.nodes_removed += 1;
                        r.removed(node, group, true).await;
                    }
                }
                Err(e) => {
                    memory.last_scale_down_fail = Some(now);
                    for (node, _) in &members {
                        r.fail(node, &format!("failed to delete the instance: {e}"))
                            .await;
                        outcome.failures.push(format!(
                            "remove {}: {e}",
                            node.metadata.name.as_deref().unwrap_or_default()
                        ));
                    }
                }
            }
        }
    }
}

impl<N: NodeGroups> Remover<N> {
    /// One node's deletion, run as its own task: evict its pods, wait for them to go, remove
    /// its instance from the group; on failure the node is untainted.
    pub async fn drain_and_remove(
        self,
        node: Arc<Node>,
        group: NodeGroup,
        instance: String,
        victims: Vec<Arc<Pod>>,
    ) -> Finished {
        let name = node.metadata.name.clone().unwrap_or_default();
        let result = match self.drain(&victims).await {
            Err(e) => Err(format!("failed to drain the node: {e}")),
            Ok(evicted) => match self
                .node_groups
                .delete_instances(&group, std::slice::from_ref(&instance))
                .await
            {
                Ok(()) => Ok(evicted),
                Err(e) => Err(format!("failed to delete the instance: {e}")),
            },
        };
        match &result {
            Ok(_) => self.removed(&node, &group, false).await,
            Err(why) => self.fail(&node, why).await,
        }
        Finished {
            node: name,
            group: group.id,
            result,
        }
    }

    /// Events, metrics and the Node object's deletion after an instance was removed.
    async fn removed(&self, node: &Node, group: &NodeGroup, empty: bool) {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        self.metrics
            .scaled_down_nodes
            .get_or_create(&vec![(
                "reason",
                if empty { "empty" } else { "underutilized" }.to_owned(),
            )])
            .inc();
        let (status_reason, message) = if empty {
            (
                "ScaleDownEmpty",
                format!("Scale-down: removing empty node {name}"),
            )
        } else {
            (
                "ScaleDown",
                format!("Scale-down: node {name} removed with drain"),
            )
        };
        tracing::info!(node = %name, group = %group.id, "{message}");
        self.recorder
            .emit(&self.status_ref, EventType::Normal, status_reason, &message)
            .await;
        self.recorder
            .emit(
                &reference(node),
                EventType::Normal,
                "ScaleDown",
                "node removed by cluster autoscaler",
            )
            .await;
        // The instance is gone; the Node object goes with it (the cloud controller manager would
        // do the same a little later).
        let api: Api<Node> = Api::all(self.client.clone());
        if let Err(e) = api.delete(name, &DeleteParams::default()).await
            && !matches!(&e, kube::Error::Api(s) if s.code == 404)
        {
            tracing::warn!(node = %name, error = %e, "deleting the Node object failed");
        }
    }

    async fn fail(&self, node: &Node, why: &str) {
        self.metrics
            .errors
            .get_or_create(&vec![("type", "scaleDownError".to_owned())])
            .inc();
        let api: Api<Node> = Api::all(self.client.clone());
        if let Err(e) = untaint(&api, node).await {
            tracing::warn!(node = ?node.metadata.name, error = %e, "removing the deletion taint failed");
        }
        tracing::warn!(node = ?node.metadata.name, "scale-down failed: {why}");
        self.recorder
            .emit(&reference(node), EventType::Warning, "ScaleDownFailed", why)
            .await;
    }

    /// Evicts these pods (retrying while PDBs refuse) and waits until they are gone or
    /// terminating; returns how many were evicted.
    async fn drain(&self, victims: &[Arc<Pod>]) -> Result<u32, String> {
        let deadline = Instant::now() + self.eviction_timeout;
        for pod in victims {
            let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
            let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
            loop {
                // kube-rs's default client retries a 429 itself, with backoff, for minutes: a
                // PDB's refusal would hold the drain past the eviction time. Each attempt is
                // bounded by what is left of it, and a timed-out attempt counts as a refusal.
                let left = deadline.saturating_duration_since(Instant::now());
                let attempt =
                    tokio::time::timeout(left, api.evict(pod_name, &EvictParams::default())).await;
                match attempt {
                    Ok(Ok(_)) => {
                        self.metrics.evicted_pods.inc();
                        self.recorder
                            .emit(
                                &reference(&**pod),
                                EventType::Normal,
                                "ScaleDown",
                                "deleting pod for node scale down",
                            )
                            .await;
                        break;
                    }
                    Ok(Err(kube::Error::Api(s))) if s.code == 404 => break,
                    // 429: a PodDisruptionBudget refuses for now.
                    Ok(Err(kube::Error::Api(s))) if s.code == 429 && Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(500).min(left)).await;
                    }
                    Ok(Err(e)) => return Err(format!("evicting {ns}/{pod_name}: {e}")),
                    Err(_) => {
                        return Err(format!(
                            "evicting {ns}/{pod_name}: still refused after {:?} (a \
                             PodDisruptionBudget?)",
                            self.eviction_timeout
                        ));
                    }
                }
            }
        }
        loop {
            let remaining = victims
                .iter()
                .filter(|p| {
                    let r = ObjectRef::new(p.metadata.name.as_deref().unwrap_or_default())
                        .within(p.metadata.namespace.as_deref().unwrap_or_default());
                    self.pods.get(&r).is_some_and(|now| {
                        now.metadata.uid == p.metadata.uid
                            && now.metadata.deletion_timestamp.is_none()
                    })
                })
                .count();
            if remaining == 0 {
                return Ok(u32::try_from(victims.len()).unwrap_or(u32::MAX));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{remaining} pods still running after {:?}",
                    self.eviction_timeout
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn taints_without(node: &Node, key: &str) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.key != key)
        .collect()
}

async fn taint(api: &Api<Node>, node: &Node, now: Timestamp) -> Result<(), kube::Error> {
    let mut taints = taints_without(node, TO_BE_DELETED_TAINT);
    taints.push(Taint {
        key: TO_BE_DELETED_TAINT.into(),
        value: Some(now.as_second().to_string()),
        effect: "NoSchedule".into(),
        time_added: None,
    });
    let name = node.metadata.name.as_deref().unwrap_or_default();
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"taints": taints}})),
    )
    .await
    .map(|_| ())
}

pub(super) async fn untaint(api: &Api<Node>, node: &Node) -> Result<(), kube::Error> {
    let taints = taints_without(node, TO_BE_DELETED_TAINT);
    let name = node.metadata.name.as_deref().unwrap_or_default();
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"taints": taints}})),
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Arc<Pod> {
        Arc::new(serde_json::from_value(json).unwrap())
    }

    #[test]
    fn a_drain_evicts_neither_daemonset_nor_mirror_nor_finished_pods() {
        let pods = vec![
            pod(
                json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {"nodeName": "n1", "containers": []}}),
            ),
            pod(
                json!({"metadata": {"name": "ds", "namespace": "d", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "x", "uid": "u", "controller": true}]},
                "spec": {"nodeName": "n1", "containers": []}}),
            ),
            pod(
                json!({"metadata": {"name": "static", "namespace": "d", "annotations": {"kubernetes.io/config.mirror": "h"}},
                "spec": {"nodeName": "n1", "containers": []}}),
            ),
            pod(
                json!({"metadata": {"name": "done", "namespace": "d"}, "spec": {"nodeName": "n1", "containers": []},
                "status": {"phase": "Succeeded"}}),
            ),
            pod(
                json!({"metadata": {"name": "elsewhere", "namespace": "d"}, "spec": {"nodeName": "n2", "containers": []}}),
            ),
        ];
        let names: Vec<_> = pods_to_evict(&pods, "n1")
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["web"]);
    }

    #[test]
    fn the_deletion_taint_replaces_an_old_one_and_keeps_others() {
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": "n"}, "spec": {"taints": [
            {"key": "ToBeDeletedByClusterAutoscaler", "value": "1", "effect": "NoSchedule"},
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}))
            .unwrap();
        let kept = taints_without(&node, TO_BE_DELETED_TAINT);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].key, "dedicated");
    }
}
