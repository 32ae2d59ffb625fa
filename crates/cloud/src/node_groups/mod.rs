//! Node groups: sets of identical nodes that grow and shrink together, as the autoscaler sees
//! them. An ESS scaling group named on the command line, one found by its tags, and an ACK node
//! pool are all node groups.
//!
//! ```text
//!   NodeGroups::refresh() ──▶ Groups ─┬─ NodeGroup { id, min, max, target, instances, template }
//!     (once per loop: all the         └─ group_of(provider id)   which group owns a node
//!      cloud's news in a few calls)
//!   NodeGroups::increase_size(group, delta)      grow the target
//!   NodeGroups::delete_instances(group, [..])    remove these nodes (and lower the target)
//!   NodeGroups::decrease_target_size(group, n)   give back nodes that never came
//! ```
//!
//! The template is plain data (labels, taints, capacity as Kubernetes quantities), so callers
//! need neither the Alibaba client nor the Kubernetes types to use it.

mod ess;
mod spec;
mod template;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

pub use ess::{EssNodeGroups, EssOptions};
pub use spec::{Discovery, GroupSpec, parse_discovery, parse_nodes};
pub use template::{GPU_LABEL, GPU_RESOURCE, build_template};

use crate::Result;

/// One look at every node group; valid for one autoscaler loop.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Groups {
    pub groups: Vec<NodeGroup>,
    by_provider_id: HashMap<String, usize>,
}

impl Groups {
    pub fn new(groups: Vec<NodeGroup>) -> Self {
        let by_provider_id = groups
            .iter()
            .enumerate()
            .flat_map(|(i, g)| g.instances.iter().map(move |x| (x.provider_id.clone(), i)))
            .collect();
        Self {
            groups,
            by_provider_id,
        }
    }

    /// The group owning the node with this provider id (`<region>.<instance-id>`).
    pub fn group_of(&self, provider_id: &str) -> Option<&NodeGroup> {
        self.by_provider_id
            .get(provider_id)
            .map(|&i| &self.groups[i])
    }

    pub fn get(&self, id: &str) -> Option<&NodeGroup> {
        self.groups.iter().find(|g| g.id == id)
    }
}

/// A set of identical nodes that scale together.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeGroup {
    /// The scaling group id (`asg-…`).
    pub id: String,
    pub min_size: u32,
    pub max_size: u32,
    /// How many instances the group is asked to have (DesiredCapacity; its instance count when
    /// the group does not track one).
    pub target_size: u32,
    pub instances: Vec<Instance>,
    /// What a new node of this group looks like.
    pub template: NodeTemplate,
    /// Where the group came from, for people reading status: `--nodes`, a tag, an ACK pool.
    pub source: String,
}

/// One instance of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub instance_id: String,
    /// `<region>.<instance-id>`, as the node's `spec.providerID` (and, on ACK, its name).
    pub provider_id: String,
    pub state: InstanceState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    Creating,
    Running,
    Deleting,
}

/// A new node of a group, in Kubernetes terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeTemplate {
    pub instance_type: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// Resource name → quantity (`cpu: "4"`, `memory: "16384Mi"`, `nvidia.com/gpu: "1"`…).
    /// Allocatable equals capacity, as upstream's Alibaba provider assumes.
    pub capacity: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule`, `NoExecute`.
    pub effect: String,
}

/// Counters of the cloud calls made, for the loop's metrics and for measuring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCount {
    pub describe: u64,
    pub mutate: u64,
}

/// The cloud side of autoscaling.
pub trait NodeGroups: Send + Sync {
    /// Every node group, refreshed: meant to be called once per loop.
    fn refresh(&self) -> impl Future<Output = Result<Groups>> + Send;

    /// Asks `group` (as last refreshed) for `delta` more instances.
    fn increase_size(
        &self,
        group: &NodeGroup,
        delta: u32,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Removes these instances of `group`, lowering its target by as many.
    fn delete_instances(
        &self,
        group: &NodeGroup,
        instance_ids: &[String],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Lowers `group`'s target to `target` without removing any instance: the nodes asked for
    /// that never came are given back (cluster-autoscaler's `DecreaseTargetSize`).
    fn decrease_target_size(
        &self,
        group: &NodeGroup,
        target: u32,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Calls made so far.
    fn calls(&self) -> CallCount;
}

/// A shared node-group source (several controllers, or a test watching the calls).
impl<T: NodeGroups> NodeGroups for std::sync::Arc<T> {
    fn refresh(&self) -> impl Future<Output = Result<Groups>> + Send {
        (**self).refresh()
    }

    fn increase_size(
        &self,
        group: &NodeGroup,
        delta: u32,
    ) -> impl Future<Output = Result<()>> + Send {
        (**self).increase_size(group, delta)
    }

    fn delete_instances(
        &self,
        group: &NodeGroup,
        instance_ids: &[String],
    ) -> impl Future<Output = Result<()>> + Send {
        (**self).delete_instances(group, instance_ids)
    }

    fn decrease_target_size(
        &self,
        group: &NodeGroup,
        target: u32,
    ) -> impl Future<Output = Result<()>> + Send {
        (**self).decrease_target_size(group, target)
    }

    fn calls(&self) -> CallCount {
        (**self).calls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, instances: &[&str]) -> NodeGroup {
        NodeGroup {
            id: id.into(),
            min_size: 0,
            max_size: 10,
            target_size: instances.len() as u32,
            instances: instances
                .iter()
                .map(|i| Instance {
                    instance_id: (*i).into(),
                    provider_id: format!("cn-hangzhou.{i}"),
                    state: InstanceState::Running,
                })
                .collect(),
            template: NodeTemplate::default(),
            source: "--nodes".into(),
        }
    }

    #[test]
    fn the_group_of_a_node_is_found_by_its_provider_id() {
        let groups = Groups::new(vec![
            group("asg-a", &["i-1", "i-2"]),
            group("asg-b", &["i-3"]),
        ]);
        assert_eq!(groups.group_of("cn-hangzhou.i-3").unwrap().id, "asg-b");
        assert_eq!(groups.group_of("cn-hangzhou.i-2").unwrap().id, "asg-a");
        assert!(groups.group_of("cn-hangzhou.i-9").is_none());
        assert!(groups.get("asg-b").is_some());
    }
}
