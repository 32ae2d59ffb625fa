//! The planner's snapshot, built from what the reflectors hold and what the cloud said in this
//! loop's refresh. Pure: no I/O and no clock.
//!
//! ```text
//!  reflector stores (k8s-openapi objects: nodes, pods, PDBs, DaemonSets) ─┐
//!  cloud::Groups (sizes, instances, templates) ─┼─▶ Snapshot ─▶ planner::plan
//!  Memory (unneeded since, last scale-up/down, backoffs) ─┘
//! ```
//! Kubernetes objects are converted to the planner's lean model once per resourceVersion and
//! kept in a [`Converted`] cache, so a loop over thousands of unchanged pods costs clones, not
//! JSON round trips.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cloud::node_groups::{Groups, NodeTemplate};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use planner::model::{self, PriorityConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::actuate::TO_BE_DELETED_TAINT;
use super::memory::Memory;

/// Kubernetes objects converted to planner objects, reconverted only when their
/// resourceVersion changes.
///
/// [`Converted::convert`] clones cached values; [`Converted::take`] moves them out instead and
/// [`Converted::put_back`] returns them after the plan, so a loop over tens of thousands of
/// unchanged pods costs neither conversions nor deep clones.
pub struct Converted<M> {
    entries: HashMap<String, (String, M)>,
    /// Keys and resourceVersions of the values lent out by `take`, in order.
    lent: Vec<(String, String)>,
}

impl<M> Default for Converted<M> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            lent: Vec::new(),
        }
    }
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (String, String) {
    let key = meta
        .uid
        .clone()
        .unwrap_or_else(|| format!("{:?}/{:?}", meta.namespace, meta.name));
    (key, meta.resource_version.clone().unwrap_or_default())
}

/// Kubernetes object → planner object through JSON bytes (no intermediate `Value` tree).
fn to_model<K: Serialize, M: DeserializeOwned>(o: &K) -> serde_json::Result<M> {
    serde_json::to_vec(o).and_then(|bytes| serde_json::from_slice(&bytes))
}

impl<M: DeserializeOwned + Clone> Converted<M> {
    /// The planner form of each object (objects that do not convert are skipped with a log line),
    /// forgetting objects no longer present.
    pub fn convert<K>(&mut self, objects: &[Arc<K>]) -> Vec<M>
    where
        K: kube::Resource + Serialize,
    {
        let out = self.take(objects);
        let copy = out.clone();
        self.put_back(out);
        copy
    }

    /// Like `convert`, but the values are moved out of the cache; give them back with
    /// `put_back` (unchanged) or the next call converts them again.
    pub fn take<K>(&mut self, objects: &[Arc<K>]) -> Vec<M>
    where
        K: kube::Resource + Serialize,
    {
        let mut out = Vec::with_capacity(objects.len());
        self.lent.clear();
        for o in objects {
            let meta = o.meta();
            let (key, rv) = key_of(meta);
            let converted = match self.entries.remove(&key) {
                Some((old_rv, m)) if old_rv == rv && !rv.is_empty() => Some(m),
                _ => match to_model::<K, M>(o) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        tracing::warn!(name = ?meta.name, namespace = ?meta.namespace, error = %e, "object skipped: it does not convert to the planner's model");
                        None
                    }
                },
            };
            if let Some(m) = converted {
                out.push(m);
                self.lent.push((key, rv));
            }
        }
        // What is left was not listed this time: gone.
        self.entries.clear();
        out
    }

    /// Returns the values `take` lent out, in the same order.
    pub fn put_back(&mut self, values: Vec<M>) {
        if values.len() != self.lent.len() {
            self.lent.clear();
            return;
        }
        self.entries.reserve(values.len());
        for ((key, rv), m) in self.lent.drain(..).zip(values) {
            self.entries.insert(key, (rv, m));
        }
    }
}

/// The conversion caches of one controller.
#[derive(Default)]
pub struct Converters {
    nodes: Converted<model::Node>,
    pods: Converted<model::Pod>,
    pdbs: Converted<model::PodDisruptionBudget>,
    daemon_sets: Converted<model::DaemonSet>,
}

/// What the reflectors hold right now.
pub struct Observed<'a> {
    pub nodes: &'a [Arc<Node>],
    pub pods: &'a [Arc<Pod>],
    pub pdbs: &'a [Arc<PodDisruptionBudget>],
    pub daemon_sets: &'a [Arc<DaemonSet>],
    pub priority_config: Option<&'a ConfigMap>,
}

/// Whether the scheduler has given up on this pod for now: cluster-autoscaler acts only on pods
/// with `PodScheduled=False` and reason `Unschedulable`; other unbound pods are still in the
/// scheduler's hands.
pub fn is_unschedulable(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("Unschedulable")
            })
        })
}

fn is_bound(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty())
}

/// A node's provider id (`<region>.<instance-id>`), if it has one.
pub fn provider_id(node: &Node) -> Option<&str> {
    node.spec.as_ref()?.provider_id.as_deref()
}

impl Converters {
    /// Gives the snapshot's pods back to the cache once the loop is done with it.
    pub fn put_back(&mut self, snapshot: model::Snapshot) {
        self.pods.put_back(snapshot.pods);
    }

    /// Builds the snapshot for one loop.
    pub fn snapshot(
        &mut self,
        observed: &Observed<'_>,
        groups: &Groups,
        memory: &Memory,
        now: Timestamp,
    ) -> model::Snapshot {
        let mut nodes = self.nodes.convert(observed.nodes);
        // A node whose drain started is going away even if the watch has not shown its taint
        // yet: the planner must neither place pods on it nor pick it again.
        for n in &mut nodes {
            if memory.deletions.is_deleting(&n.metadata.name)
                && !n.spec.taints.iter().any(|t| t.key == TO_BE_DELETED_TAINT)
            {
                n.spec.taints.push(model::Taint {
                    key: TO_BE_DELETED_TAINT.into(),
                    value: None,
                    effect: "NoSchedule".into(),
                });
            }
        }
        let wanted: Vec<Arc<Pod>> = observed
            .pods
            .iter()
            .filter(|p| is_bound(p) || is_unschedulable(p))
            .cloned()
            .collect();
        let pods = self.pods.take(&wanted);
        let pdbs = self.pdbs.convert(observed.pdbs);
        let daemon_sets = self.daemon_sets.convert(observed.daemon_sets);

        // Instances are matched to registered nodes by provider id; an instance without a node
        // is listed under its provider id, which the planner reads as "not registered yet".
        let node_by_provider: HashMap<&str, &str> = observed
            .nodes
            .iter()
            .filter_map(|n| Some((provider_id(n)?, n.metadata.name.as_deref()?)))
            .collect();
        let node_groups = groups
            .groups
            .iter()
            .map(|g| model::NodeGroup {
                id: g.id.clone(),
                min_size: g.min_size,
                max_size: g.max_size,
                target_size: g.target_size,
                node_names: g
                    .instances
                    .iter()
                    .map(|i| {
                        node_by_provider
                            .get(i.provider_id.as_str())
                            .map_or_else(|| i.provider_id.clone(), |n| (*n).to_owned())
                    })
                    .collect(),
                template: template_node(&g.id, &g.template),
                price_per_hour: None,
                backoff_until: memory.backoff_until(&g.id, now),
            })
            .collect();

        model::Snapshot {
            nodes,
            pods,
            node_groups,
            pdbs,
            priority_config: observed
                .priority_config
                .and_then(|cm| cm.data.clone())
                .map(|data| PriorityConfig::ConfigMap {
                    data: data.into_iter().collect(),
                }),
            now: Some(now),
            unneeded_since: memory.unneeded_since.clone(),
            last_scale_up_time: memory.last_scale_up,
            last_scale_down_delete_time: memory.last_scale_down_delete,
            last_scale_down_fail_time: memory.last_scale_down_fail,
            daemon_sets,
        }
    }
}

/// A group's template as a planner Node named after the group.
pub fn template_node(group_id: &str, t: &NodeTemplate) -> model::Node {
    let name = format!("template-node-for-{group_id}");
    let mut labels: BTreeMap<String, String> = t.labels.clone();
    labels.insert("kubernetes.io/hostname".into(), name.clone());
    let quantities = || {
        t.capacity
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.parse().ok()?)))
            .collect::<BTreeMap<String, planner::Quantity>>()
    };
    model::Node {
        metadata: model::ObjectMeta {
            name,
            labels,
            ..Default::default()
        },
        spec: model::NodeSpec {
            taints: t
                .taints
                .iter()
                .map(|x| model::Taint {
                    key: x.key.clone(),
                    value: Some(x.value.clone()).filter(|v| !v.is_empty()),
                    effect: x.effect.clone(),
                })
                .collect(),
            unschedulable: false,
            provider_id: None,
        },
        status: model::NodeStatus {
            allocatable: quantities(),
            capacity: quantities(),
            conditions: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use cloud::node_groups::{Instance, InstanceState, NodeGroup, Taint};
    use serde_json::json;

    use super::*;

    fn node(name: &str, provider: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "uid": format!("u-{name}"), "resourceVersion": "1"},
                "spec": {"providerID": provider},
                "status": {"allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}}
            }))
            .unwrap(),
        )
    }

    fn pod(name: &str, node: Option<&str>, unschedulable: bool) -> Arc<Pod> {
        let mut p = json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("u-{name}"), "resourceVersion": "1"},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]},
            "status": {"phase": "Pending"}
        });
        if let Some(n) = node {
            p["spec"]["nodeName"] = json!(n);
        }
        if unschedulable {
            p["status"]["conditions"] =
                json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]);
        }
        Arc::new(serde_json::from_value(p).unwrap())
    }

    fn groups() -> Groups {
        let template = NodeTemplate {
            instance_type: "ecs.g7.xlarge".into(),
            labels: [(
                "node.kubernetes.io/instance-type".to_string(),
                "ecs.g7.xlarge".to_string(),
            )]
            .into(),
            taints: vec![Taint {
                key: "dedicated".into(),
                value: "batch".into(),
                effect: "NoSchedule".into(),
            }],
            capacity: [
                ("cpu".to_string(), "4".to_string()),
                ("memory".to_string(), "16384Mi".to_string()),
            ]
            .into(),
        };
        Groups::new(vec![NodeGroup {
            id: "asg-1".into(),
            min_size: 1,
            max_size: 10,
            target_size: 3,
            instances: ["i-1", "i-2"]
                .iter()
                .map(|i| Instance {
                    instance_id: (*i).into(),
                    provider_id: format!("cn-hangzhou.{i}"),
                    state: InstanceState::Running,
                })
                .collect(),
            template,
            source: "--nodes".into(),
        }])
    }

    #[test]
    fn instances_map_to_their_nodes_and_unregistered_ones_keep_their_provider_id() {
        let nodes = vec![node("cn-hangzhou.i-1", "cn-hangzhou.i-1")];
        let observed = Observed {
            nodes: &nodes,
            pods: &[],
            pdbs: &[],
            daemon_sets: &[],
            priority_config: None,
        };
        let s = Converters::default().snapshot(
            &observed,
            &groups(),
            &Memory::default(),
            Timestamp::UNIX_EPOCH,
        );
        let g = &s.node_groups[0];
        assert_eq!(g.node_names, ["cn-hangzhou.i-1", "cn-hangzhou.i-2"]);
        assert_eq!((g.min_size, g.max_size, g.target_size), (1, 10, 3));
        s.validate().unwrap();
    }

    #[test]
    fn only_bound_pods_and_pods_the_scheduler_gave_up_on_are_planned_for() {
        let nodes = vec![node("n1", "cn-hangzhou.i-1")];
        let pods = vec![
            pod("running", Some("n1"), false),
            pod("unschedulable", None, true),
            pod("fresh", None, false),
        ];
        let observed = Observed {
            nodes: &nodes,
            pods: &pods,
            pdbs: &[],
            daemon_sets: &[],
            priority_config: None,
        };
        let s = Converters::default().snapshot(
            &observed,
            &groups(),
            &Memory::default(),
            Timestamp::UNIX_EPOCH,
        );
        let names: Vec<&str> = s.pods.iter().map(|p| p.metadata.name.as_str()).collect();
        assert_eq!(names, ["running", "unschedulable"]);
        assert_eq!(
            s.pods[1].spec.containers[0].resources.requests["cpu"].millis(),
            1000
        );
    }

    #[test]
    fn the_template_carries_labels_taints_and_capacity_as_allocatable() {
        let g = &groups().groups[0];
        let t = template_node(&g.id, &g.template);
        assert_eq!(t.metadata.name, "template-node-for-asg-1");
        assert_eq!(t.metadata.labels["kubernetes.io/hostname"], t.metadata.name);
        assert_eq!(t.spec.taints[0].value.as_deref(), Some("batch"));
        assert_eq!(t.status.allocatable["cpu"].millis(), 4000);
        assert_eq!(t.status.allocatable["memory"], t.status.capacity["memory"]);
    }

    #[test]
    fn an_unchanged_object_is_not_converted_again_and_a_gone_one_is_forgotten() {
        let mut c: Converted<model::Node> = Converted::default();
        let a = node("a", "p-a");
        let b = node("b", "p-b");
        assert_eq!(c.convert(&[a.clone(), b]).len(), 2);
        assert_eq!(c.entries.len(), 2);
        let out = c.convert(&[a]);
        assert_eq!(out.len(), 1);
        assert_eq!(c.entries.len(), 1);
        assert_eq!(out[0].metadata.name, "a");
    }

    #[test]
    fn lent_values_come_back_and_are_not_converted_again() {
        let mut c: Converted<model::Node> = Converted::default();
        let (a, b) = (node("a", "p-a"), node("b", "p-b"));
        let lent = c.take(&[a.clone(), b.clone()]);
        assert_eq!(lent.len(), 2);
        assert!(c.entries.is_empty());
        c.put_back(lent);
        assert_eq!(c.entries.len(), 2);
        // Not given back: the next take converts afresh, and still answers.
        let lent = c.take(&[a, b]);
        assert_eq!(lent[1].metadata.name, "b");
        assert!(c.entries.is_empty());
    }

    #[test]
    fn the_priority_configmap_becomes_the_priority_config() {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "cluster-autoscaler-priority-expander", "namespace": "kube-system"},
            "data": {"priorities": "10:\n  - .*\n"}
        }))
        .unwrap();
        let observed = Observed {
            nodes: &[],
            pods: &[],
            pdbs: &[],
            daemon_sets: &[],
            priority_config: Some(&cm),
        };
        let s = Converters::default().snapshot(
            &observed,
            &groups(),
            &Memory::default(),
            Timestamp::UNIX_EPOCH,
        );
        s.validate().unwrap();
        assert!(matches!(
            s.priority_config,
            Some(PriorityConfig::ConfigMap { .. })
        ));
    }
}
