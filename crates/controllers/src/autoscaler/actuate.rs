//! Carrying a plan out: grow groups, and remove nodes the way cluster-autoscaler does — taint
//! `ToBeDeletedByClusterAutoscaler`, evict the pods through the Eviction API (PDBs apply), wait
//! for them to go, then remove the instances from their groups in one call per group, and
//! delete the Node objects of removed instances.
//!
//! ```text
//!  plan.scale_up   ──▶ NodeGroups::increase_size ── failure ──▶ backoff (Memory)
//!  plan.scale_down ──▶ taint all ──▶ evict + wait (drains run side by side)
//!                     ──▶ NodeGroups::delete_instances per group ──▶ delete Node objects
//!                     └─ any failure ──▶ untaint, ScaleDownFailed, last failure time
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloud::node_groups::{Groups, NodeGroups};
use futures_util::future::join_all;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use kube::api::{Api, DeleteParams, EvictParams, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use planner::Plan;
use serde_json::json;

use super::memory::Memory;
use super::metrics::Metrics;
use super::snapshot::provider_id;
use crate::events::{EventType, Recorder, reference};

/// The taint cluster-autoscaler puts on nodes it is about to delete.
pub const TO_BE_DELETED_TAINT: &str = "ToBeDeletedByClusterAutoscaler";

/// How many pods an increase names in events (the plan counts them all).
const EVENTS_PER_DECISION: usize = 20;

pub struct Actuator<'a, N> {
    pub client: &'a kube::Client,
    pub node_groups: &'a N,
    pub recorder: &'a Recorder,
    pub metrics: &'a Metrics,
    pub status_ref: k8s_openapi::api::core::v1::ObjectReference,
    pub pods: &'a Store<Pod>,
    pub eviction_timeout: Duration,
    /// The loop's time, stamped on taints and remembered in `Memory`.
    pub now: Timestamp,
}

/// What was done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub nodes_added: u32,
    pub nodes_removed: u32,
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

impl<N: NodeGroups> Actuator<'_, N> {
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
            match self.node_groups.increase_size(group, up.delta).await {
                Ok(()) => {
                    tracing::info!(group = %group.id, delta = up.delta, pods = up.pods_helped.count, "{message}");
                    outcome.nodes_added += up.delta;
                    memory.last_scale_up = Some(now);
                    self.metrics.scaled_up_nodes.inc_by(u64::from(up.delta));
                    self.recorder
                        .emit(
                            &self.status_ref,
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
                            self.recorder
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
                    self.metrics
                        .failed_scale_ups
                        .get_or_create(&vec![("reason", "cloudProviderError".to_owned())])
                        .inc();
                    self.recorder
                        .emit(
                            &self.status_ref,
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

    pub async fn scale_down(
        &self,
        groups: &Groups,
        plan: &Plan,
        nodes: &[Arc<Node>],
        pods: &[Arc<Pod>],
        memory: &mut Memory,
        outcome: &mut Outcome,
    ) {
        let now = self.now;
        if plan.scale_down.is_empty() {
            return;
        }
        let node_api: Api<Node> = Api::all(self.client.clone());
        let by_name: HashMap<&str, &Arc<Node>> = nodes
            .iter()
            .filter_map(|n| Some((n.metadata.name.as_deref()?, n)))
            .collect();

        // Taint first, so the scheduler stops placing pods there while we drain.
        let mut chosen = Vec::new();
        for d in &plan.scale_down {
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
            match taint(&node_api, node, now).await {
                Ok(()) => {
                    self.recorder
                        .emit(
                            &reference(&***node),
                            EventType::Normal,
                            "ScaleDown",
                            "marked the node as toBeDeleted/unschedulable",
                        )
                        .await;
                    chosen.push((d, *node, group, instance.instance_id.clone()));
                }
                Err(e) => outcome.failures.push(format!("taint {}: {e}", d.node)),
            }
        }

        let drains = chosen.iter().map(|(d, node, _, _)| async move {
            if d.reason == "Empty" {
                return Ok(0);
            }
            self.drain(node, pods).await
        });
        let results = join_all(drains).await;

        let mut by_group: BTreeMap<&str, Vec<(usize, String)>> = BTreeMap::new();
        for (i, ((d, node, group, instance), result)) in chosen.iter().zip(results).enumerate() {
            match result {
                Ok(evicted) => {
                    outcome.pods_evicted += evicted;
                    by_group
                        .entry(&group.id)
                        .or_default()
                        .push((i, instance.clone()));
                }
                Err(e) => {
                    self.fail(
                        &node_api,
                        node,
                        &format!("failed to drain the node: {e}"),
                        memory,
                        now,
                    )
                    .await;
                    outcome.failures.push(format!("drain {}: {e}", d.node));
                }
            }
        }
        for (group_id, members) in by_group {
            let Some(group) = groups.get(group_id) else {
                continue;
            };
            let ids: Vec<String> = members.iter().map(|(_, id)| id.clone()).collect();
            match self.node_groups.delete_instances(group, &ids).await {
                Ok(()) => {
                    for (i, _) in &members {
                        let (d, node, _, _) = &chosen[*i];
                        outcome.nodes_removed += 1;
                        memory.last_scale_down_delete = Some(now);
                        let reason = if d.reason == "Empty" {
                            "empty"
                        } else {
                            "underutilized"
                        };
                        self.metrics
                            .scaled_down_nodes
                            .get_or_create(&vec![("reason", reason.to_owned())])
                            .inc();
                        let (status_reason, message) = if d.reason == "Empty" {
                            (
                                "ScaleDownEmpty",
                                format!("Scale-down: removing empty node {}", d.node),
                            )
                        } else {
                            (
                                "ScaleDown",
                                format!("Scale-down: node {} removed with drain", d.node),
                            )
                        };
                        tracing::info!(node = %d.node, group = %group.id, "{message}");
                        self.recorder
                            .emit(&self.status_ref, EventType::Normal, status_reason, &message)
                            .await;
                        self.recorder
                            .emit(
                                &reference(&***node),
                                EventType::Normal,
                                "ScaleDown",
                                "node removed by cluster autoscaler",
                            )
                            .await;
                        // The instance is gone; the Node object goes with it (the cloud
                        // controller manager would do the same a little later).
                        if let Err(e) = node_api.delete(&d.node, &DeleteParams::default()).await
                            && !matches!(&e, kube::Error::Api(s) if s.code == 404)
                        {
                            tracing::warn!(node = %d.node, error = %e, "deleting the Node object failed");
                        }
                    }
                }
                Err(e) => {
                    for (i, _) in &members {
                        let (d, node, _, _) = &chosen[*i];
                        self.fail(
                            &node_api,
                            node,
                            &format!("failed to delete the instance: {e}"),
                            memory,
                            now,
                        )
                        .await;
                        outcome.failures.push(format!("remove {}: {e}", d.node));
                    }
                }
            }
        }
    }

    async fn fail(
        &self,
        api: &Api<Node>,
        node: &Node,
        why: &str,
        memory: &mut Memory,
        now: Timestamp,
    ) {
        memory.last_scale_down_fail = Some(now);
        self.metrics
            .errors
            .get_or_create(&vec![("type", "scaleDownError".to_owned())])
            .inc();
        if let Err(e) = untaint(api, node).await {
            tracing::warn!(node = ?node.metadata.name, error = %e, "removing the deletion taint failed");
        }
        self.recorder
            .emit(&reference(node), EventType::Warning, "ScaleDownFailed", why)
            .await;
    }

    /// Evicts the node's pods (retrying while PDBs refuse) and waits until they are gone or
    /// terminating; returns how many were evicted.
    async fn drain(&self, node: &Node, pods: &[Arc<Pod>]) -> Result<u32, String> {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let deadline = Instant::now() + self.eviction_timeout;
        let victims = pods_to_evict(pods, name);
        for pod in &victims {
            let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
            let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
            loop {
                match api.evict(pod_name, &EvictParams::default()).await {
                    Ok(_) => {
                        self.metrics.evicted_pods.inc();
                        self.recorder
                            .emit(
                                &reference(&***pod),
                                EventType::Normal,
                                "ScaleDown",
                                "deleting pod for node scale down",
                            )
                            .await;
                        break;
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => break,
                    // 429: a PodDisruptionBudget refuses for now.
                    Err(kube::Error::Api(s)) if s.code == 429 && Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(e) => return Err(format!("evicting {ns}/{pod_name}: {e}")),
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

async fn untaint(api: &Api<Node>, node: &Node) -> Result<(), kube::Error> {
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
