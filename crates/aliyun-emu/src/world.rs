//! The emulated cloud's state: ECS instances and ESS scaling groups, and how they relate.
//!
//! ```text
//!   ScalingGroup ──active──▶ ScalingConfiguration (instance types, image, tags)
//!        │ desired capacity
//!        ▼ reconcile: launch or release until members == desired
//!   Instance { membership: Some(group) }   Pending ─▶ Starting ─▶ Running   (derived from age)
//! ```
//!
//! Everything here is plain data plus pure-ish methods taking `now`; the HTTP layer holds it
//! behind one lock and persists it as JSON when asked to.

use crate::catalog::{self, Region};
use crate::error::{ApiError, ApiResult};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long an instance spends in each state before Running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceTiming {
    /// Milliseconds in `Pending`.
    pub pending_ms: i64,
    /// Milliseconds in `Starting`.
    pub starting_ms: i64,
}

/// A cap on how many instances of a type a zone can hold (`OperationDenied.NoStock` beyond it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLimit {
    /// Zone id.
    pub zone: String,
    /// Instance type id.
    pub instance_type: String,
    /// Instances that may exist at once.
    pub limit: usize,
}

/// Settings that shape behaviour but are not state.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Instance boot timing.
    pub timing: InstanceTiming,
    /// Stock limits.
    pub stock: Vec<StockLimit>,
    /// How long an ACK control plane takes to provision (and to tear down), in milliseconds.
    pub control_plane_ms: i64,
    /// How fast the clusters' simulated kubelets join nodes and start pods.
    pub kube: kube_emu::Timing,
}

/// ECS instance status, derived from the instance's age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceStatus {
    /// Being created.
    Pending,
    /// Booting.
    Starting,
    /// Up.
    Running,
}

impl InstanceStatus {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Starting => "Starting",
            Self::Running => "Running",
        }
    }
}

/// Why an instance is in a scaling group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreationType {
    /// Launched by the group.
    AutoCreated,
    /// Attached by the user.
    Attached,
}

/// An instance's membership of a scaling group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Group id.
    pub group_id: String,
    /// The configuration it was launched from.
    pub configuration_id: String,
    /// How it joined.
    pub creation_type: CreationType,
}

/// What to launch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchSpec {
    /// Region id.
    pub region_id: String,
    /// Zone id.
    pub zone_id: String,
    /// Instance type id.
    pub instance_type: String,
    /// Image id.
    pub image_id: String,
    /// Instance name; the id when empty.
    pub name: String,
    /// Host name; derived from the id when empty.
    pub host_name: String,
    /// vSwitch id.
    pub vswitch_id: String,
    /// The vSwitch's VPC; filled in at launch.
    #[serde(default)]
    pub vpc_id: String,
    /// Security group id.
    pub security_group_id: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// `PostPaid` or `PrePaid`.
    pub charge_type: String,
    /// `NoSpot`, `SpotAsPriceGo` or `SpotWithPriceLimit`.
    pub spot_strategy: String,
    /// System disk category.
    pub system_disk_category: String,
}

/// An ECS instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// `i-…`.
    pub id: String,
    /// What it was launched with.
    pub spec: LaunchSpec,
    /// Private IPv4 address.
    pub private_ip: String,
    /// Creation time.
    pub created_ms: i64,
    /// Its scaling group, if any.
    pub membership: Option<Membership>,
}

impl Instance {
    /// Status at `now`.
    pub fn status(&self, now_ms: i64, timing: InstanceTiming) -> InstanceStatus {
        let age = now_ms - self.created_ms;
        if age < timing.pending_ms {
            InstanceStatus::Pending
        } else if age < timing.pending_ms + timing.starting_ms {
            InstanceStatus::Starting
        } else {
            InstanceStatus::Running
        }
    }
}

/// `Active`, `Inactive` or `Deleting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupState {
    /// Scaling.
    Active,
    /// Created or disabled: no scaling.
    Inactive,
}

impl GroupState {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        }
    }
}

/// An ESS scaling group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingGroup {
    /// `asg-…`.
    pub id: String,
    /// Unique per region.
    pub name: String,
    /// Region id.
    pub region_id: String,
    /// Lower bound.
    pub min_size: u32,
    /// Upper bound.
    pub max_size: u32,
    /// The capacity the group converges to.
    pub desired: u32,
    /// Lifecycle.
    pub state: GroupState,
    /// Active configuration.
    pub active_configuration_id: Option<String>,
    /// vSwitches, in priority order.
    pub vswitch_ids: Vec<String>,
    /// `PRIORITY` or `BALANCE`.
    pub multi_az_policy: String,
    /// Seconds.
    pub default_cooldown: u32,
    /// Removal policies.
    pub removal_policies: Vec<String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Creation time.
    pub created_ms: i64,
}

/// An ESS scaling configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingConfiguration {
    /// `asc-…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning group.
    pub group_id: String,
    /// Instance types, in priority order.
    pub instance_types: Vec<String>,
    /// Image id.
    pub image_id: String,
    /// Security group id.
    pub security_group_id: String,
    /// System disk category.
    pub system_disk_category: String,
    /// Tags given to launched instances (and read by autoscalers as node labels).
    pub tags: Vec<(String, String)>,
    /// Spot strategy.
    pub spot_strategy: String,
    /// Instance name pattern.
    pub instance_name: String,
    /// Host name pattern.
    pub host_name: String,
    /// Creation time.
    pub created_ms: i64,
}

/// An ESS scaling rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingRule {
    /// `asr-…`.
    pub id: String,
    /// Name, unique per group.
    pub name: String,
    /// Owning group.
    pub group_id: String,
    /// `QuantityChangeInCapacity`, `PercentChangeInCapacity` or `TotalCapacity`.
    pub adjustment_type: String,
    /// The adjustment.
    pub adjustment_value: i64,
    /// Region, for the rule's ARI.
    pub region_id: String,
}

impl ScalingRule {
    /// The rule's Alibaba Resource Identifier, which ExecuteScalingRule takes.
    pub fn ari(&self) -> String {
        format!(
            "ari:acs:ess:{}:1234567890123456:scalingrule/{}",
            self.region_id, self.id
        )
    }
}

/// The record of one scaling action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingActivity {
    /// `asa-…`.
    pub id: String,
    /// Group id.
    pub group_id: String,
    /// `Successful`, `Warning` or `Failed`.
    pub status: String,
    /// What happened, in words.
    pub message: String,
    /// Why it happened.
    pub cause: String,
    /// Capacity after the activity.
    pub total_capacity: u32,
    /// Instances launched.
    pub created: u32,
    /// Instances removed.
    pub removed: u32,
    /// When.
    pub at_ms: i64,
}

/// A reply remembered for a `ClientToken`, so a retried create returns the same resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RememberedReply {
    /// What was asked, without volatile parameters.
    pub fingerprint: String,
    /// What was answered (minus `RequestId`).
    pub reply: crate::reply::Reply,
}

/// Everything the emulated cloud holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// ECS instances by id.
    pub instances: BTreeMap<String, Instance>,
    /// Scaling groups by id.
    pub groups: BTreeMap<String, ScalingGroup>,
    /// Scaling configurations by id.
    pub configurations: BTreeMap<String, ScalingConfiguration>,
    /// Scaling rules by id.
    pub rules: BTreeMap<String, ScalingRule>,
    /// Scaling activities by id.
    pub activities: BTreeMap<String, ScalingActivity>,
    /// Idempotent replies by `<access key>/<action>/<ClientToken>`.
    pub replies: BTreeMap<String, RememberedReply>,
    /// The last private address handed out, as an offset into 10.0.0.0/8 after 10.0.0.1.
    pub last_ip_offset: u32,
    /// VPCs, vSwitches, route tables and security groups.
    #[serde(default)]
    pub network: crate::vpc::Network,
    /// SLB load balancers.
    #[serde(default)]
    pub load_balancers: crate::slb::LoadBalancers,
    /// ECI container groups.
    #[serde(default)]
    pub container_groups: crate::eci::ContainerGroups,
    /// ACK clusters, node pools and tasks.
    #[serde(default)]
    pub clusters: crate::cs::Clusters,
}

/// A fresh resource id in Alibaba's style: `<prefix>-<region letters><18 chars>`.
pub fn new_id(prefix: &str, region: &Region) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let tail: String = (0..18)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}-{}{tail}", region.id_prefix)
}

/// Formats milliseconds as Alibaba's minute-precision UTC time (`2024-01-01T12:00Z`).
pub fn format_minutes(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%MZ").to_string())
        .unwrap_or_default()
}

/// Formats milliseconds as second-precision UTC time (`2024-01-01T12:00:00Z`).
pub fn format_seconds(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

impl World {
    /// Resources that belong to nothing: members of a missing scaling group, configurations and
    /// rules of a missing group, and what a cluster created (instances, scaling groups, node
    /// pools) after the cluster is gone or deleting. Empty after every well-behaved flow.
    pub fn orphans(&self) -> Vec<String> {
        use crate::cs::{CLUSTER_TAG, ClusterState};
        let live_cluster = |id: &str| {
            self.clusters
                .clusters
                .get(id)
                .is_some_and(|c| c.state != ClusterState::Deleting)
        };
        let cluster_tag = |tags: &[(String, String)]| {
            tags.iter()
                .find(|(k, _)| k == CLUSTER_TAG)
                .map(|(_, v)| v.clone())
        };
        let mut found = Vec::new();
        for i in self.instances.values() {
            if let Some(m) = &i.membership
                && !self.groups.contains_key(&m.group_id)
            {
                found.push(format!(
                    "instance {} of missing scaling group {}",
                    i.id, m.group_id
                ));
            }
            if let Some(c) = cluster_tag(&i.spec.tags)
                && !live_cluster(&c)
            {
                found.push(format!("instance {} of deleted cluster {c}", i.id));
            }
        }
        for c in self.configurations.values() {
            if !self.groups.contains_key(&c.group_id) {
                found.push(format!(
                    "scaling configuration {} of missing group {}",
                    c.id, c.group_id
                ));
            }
        }
        for r in self.rules.values() {
            if !self.groups.contains_key(&r.group_id) {
                found.push(format!(
                    "scaling rule {} of missing group {}",
                    r.id, r.group_id
                ));
            }
        }
        for g in self.groups.values() {
            if let Some(c) = cluster_tag(&g.tags)
                && !self
                    .clusters
                    .node_pools
                    .values()
                    .any(|np| np.scaling_group_id == g.id && live_cluster(&np.cluster_id))
            {
                found.push(format!(
                    "scaling group {} of cluster {c} without a node pool",
                    g.id
                ));
            }
        }
        for np in self.clusters.node_pools.values() {
            if !self.groups.contains_key(&np.scaling_group_id) {
                found.push(format!("node pool {} without its scaling group", np.id));
            }
            if !self.clusters.clusters.contains_key(&np.cluster_id) {
                found.push(format!(
                    "node pool {} of missing cluster {}",
                    np.id, np.cluster_id
                ));
            }
        }
        found
    }

    /// A fresh private address.
    pub(crate) fn next_private_ip(&mut self) -> String {
        self.last_ip_offset = self.last_ip_offset.wrapping_add(1) % 0x00ff_fffd;
        let n = self.last_ip_offset + 1;
        format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
    }

    /// How many more instances of `instance_type` `zone` can take; `None` means no limit.
    pub fn stock_left(
        &self,
        settings: &Settings,
        zone: &str,
        instance_type: &str,
    ) -> Option<usize> {
        let limit = settings
            .stock
            .iter()
            .find(|s| s.zone == zone && s.instance_type == instance_type)?
            .limit;
        let used = self
            .instances
            .values()
            .filter(|i| i.spec.zone_id == zone && i.spec.instance_type == instance_type)
            .count();
        Some(limit.saturating_sub(used))
    }

    /// Creates `count` instances; fails without creating any when stock is short.
    pub fn launch(
        &mut self,
        spec: &LaunchSpec,
        count: usize,
        membership: Option<Membership>,
        settings: &Settings,
        now_ms: i64,
    ) -> ApiResult<Vec<String>> {
        let region = catalog::known_region("region", &spec.region_id)?;
        if self
            .stock_left(settings, &spec.zone_id, &spec.instance_type)
            .is_some_and(|left| left < count)
        {
            return Err(ApiError::no_stock(&spec.zone_id, &spec.instance_type));
        }
        let mut template = spec.clone();
        if template.vpc_id.is_empty() {
            template.vpc_id = self
                .network
                .placement(region, &template.vswitch_id)
                .map_or_else(|_| crate::vpc::default_vpc_id(region), |p| p.vpc_id);
        }
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            let id = new_id("i", region);
            let mut spec = template.clone();
            if spec.name.is_empty() {
                spec.name = id.clone();
            }
            if spec.host_name.is_empty() {
                spec.host_name = format!("iZ{}Z", &id[2..]);
            }
            let instance = Instance {
                id: id.clone(),
                spec,
                private_ip: self.next_private_ip(),
                created_ms: now_ms,
                membership: membership.clone(),
            };
            self.instances.insert(id.clone(), instance);
            ids.push(id);
        }
        Ok(ids)
    }

    /// Members of a group, oldest first.
    pub fn members(&self, group_id: &str) -> Vec<&Instance> {
        let mut members: Vec<&Instance> = self
            .instances
            .values()
            .filter(|i| {
                i.membership
                    .as_ref()
                    .is_some_and(|m| m.group_id == group_id)
            })
            .collect();
        members.sort_by(|a, b| {
            a.created_ms
                .cmp(&b.created_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        members
    }

    /// Takes instances out of their group: auto-created ones are released, attached ones kept.
    pub fn remove_members(&mut self, ids: &[String], release: bool) {
        for id in ids {
            let auto = self
                .instances
                .get(id)
                .and_then(|i| i.membership.as_ref())
                .map(|m| m.creation_type)
                == Some(CreationType::AutoCreated);
            if release && auto {
                self.instances.remove(id);
            } else if let Some(instance) = self.instances.get_mut(id) {
                instance.membership = None;
            }
        }
    }

    /// Brings an active group to its desired capacity and records what happened.
    pub fn reconcile_group(
        &mut self,
        group_id: &str,
        cause: &str,
        settings: &Settings,
        now_ms: i64,
    ) -> ApiResult<ScalingActivity> {
        let group = self.groups.get(group_id).cloned().ok_or_else(|| {
            ApiError::not_found("InvalidScalingGroupId.NotFound", "scaling group")
        })?;
        let region = catalog::region(&group.region_id).ok_or_else(ApiError::internal)?;
        let members: Vec<String> = self
            .members(group_id)
            .iter()
            .map(|i| i.id.clone())
            .collect();
        let target = group.desired as usize;
        let (mut created, mut removed, mut shortfall) = (0u32, 0u32, None);

        if group.state == GroupState::Active && members.len() > target {
            let excess = members.len() - target;
            let victims: Vec<String> = members.iter().take(excess).cloned().collect();
            removed = u32::try_from(victims.len()).unwrap_or(u32::MAX);
            self.remove_members(&victims, true);
        } else if group.state == GroupState::Active && members.len() < target {
            let config = group
                .active_configuration_id
                .as_ref()
                .and_then(|id| self.configurations.get(id))
                .cloned();
            if let Some(config) = config {
                for _ in members.len()..target {
                    match self.place(&group, &config, region, settings) {
                        Some((zone, vswitch, instance_type)) => {
                            let spec = LaunchSpec {
                                region_id: group.region_id.clone(),
                                zone_id: zone,
                                instance_type,
                                image_id: config.image_id.clone(),
                                name: config.instance_name.clone(),
                                host_name: config.host_name.clone(),
                                vswitch_id: vswitch,
                                vpc_id: String::new(), // resolved from the vSwitch at launch
                                security_group_id: config.security_group_id.clone(),
                                tags: config.tags.clone(),
                                charge_type: "PostPaid".into(),
                                spot_strategy: config.spot_strategy.clone(),
                                system_disk_category: config.system_disk_category.clone(),
                            };
                            let membership = Membership {
                                group_id: group.id.clone(),
                                configuration_id: config.id.clone(),
                                creation_type: CreationType::AutoCreated,
                            };
                            self.launch(&spec, 1, Some(membership), settings, now_ms)?;
                            created += 1;
                        }
                        None => {
                            shortfall = Some(config.instance_types.join(", "));
                            break;
                        }
                    }
                }
            }
        }

        let total_capacity = u32::try_from(self.members(group_id).len()).unwrap_or(u32::MAX);
        let (status, message) = match &shortfall {
            None => (
                "Successful",
                format!(
                    "Capacity is now {total_capacity} (launched {created}, removed {removed})."
                ),
            ),
            Some(types) if created > 0 => (
                "Warning",
                format!(
                    "Launched {created} of {} instances: no stock of {types} in the group's zones.",
                    target - members.len()
                ),
            ),
            Some(types) => (
                "Failed",
                format!("No stock of {types} in the group's zones; nothing launched."),
            ),
        };
        let activity = ScalingActivity {
            id: new_id("asa", region),
            group_id: group_id.to_owned(),
            status: status.into(),
            message,
            cause: cause.to_owned(),
            total_capacity,
            created,
            removed,
            at_ms: now_ms,
        };
        self.activities
            .insert(activity.id.clone(), activity.clone());
        Ok(activity)
    }

    /// Picks a zone, vSwitch and instance type with stock for one more member: vSwitches in
    /// priority order (or the least loaded first under `BALANCE`), types in configured order.
    fn place(
        &self,
        group: &ScalingGroup,
        config: &ScalingConfiguration,
        region: &Region,
        settings: &Settings,
    ) -> Option<(String, String, String)> {
        let mut vswitches: Vec<(String, String)> = group
            .vswitch_ids
            .iter()
            // A vSwitch deleted since the group was created places nothing.
            .filter_map(|v| {
                let placement = self.network.placement(region, v).ok()?;
                Some((placement.zone_id, v.clone()))
            })
            .collect();
        if group.multi_az_policy.eq_ignore_ascii_case("BALANCE") {
            let members = self.members(&group.id);
            vswitches.sort_by_key(|(zone, _)| {
                members.iter().filter(|i| &i.spec.zone_id == zone).count()
            });
        }
        for (zone, vswitch) in &vswitches {
            for instance_type in &config.instance_types {
                let Some(it) = catalog::instance_type(instance_type) else {
                    continue;
                };
                if catalog::offered_in(it, region, zone)
                    && self
                        .stock_left(settings, zone, instance_type)
                        .is_none_or(|left| left > 0)
                {
                    return Some((zone.clone(), vswitch.clone(), instance_type.clone()));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(world: &mut World, desired: u32, types: &[&str]) -> String {
        let g = ScalingGroup {
            id: "asg-1".into(),
            name: "g".into(),
            region_id: "cn-hangzhou".into(),
            min_size: 0,
            max_size: 10,
            desired,
            state: GroupState::Active,
            active_configuration_id: Some("asc-1".into()),
            vswitch_ids: vec!["vsw-cn-hangzhou-k".into(), "vsw-cn-hangzhou-h".into()],
            multi_az_policy: "PRIORITY".into(),
            default_cooldown: 300,
            removal_policies: vec![],
            tags: vec![],
            created_ms: 0,
        };
        let c = ScalingConfiguration {
            id: "asc-1".into(),
            name: "c".into(),
            group_id: "asg-1".into(),
            instance_types: types.iter().map(|s| s.to_string()).collect(),
            image_id: "img".into(),
            security_group_id: "sg-1".into(),
            system_disk_category: "cloud_essd".into(),
            tags: vec![("k".into(), "v".into())],
            spot_strategy: "NoSpot".into(),
            instance_name: String::new(),
            host_name: String::new(),
            created_ms: 0,
        };
        world.groups.insert(g.id.clone(), g);
        world.configurations.insert(c.id.clone(), c);
        "asg-1".into()
    }

    #[test]
    fn instances_boot_through_pending_and_starting() {
        let mut world = World::default();
        let spec = LaunchSpec {
            region_id: "cn-hangzhou".into(),
            zone_id: "cn-hangzhou-k".into(),
            instance_type: "ecs.g7.large".into(),
            ..Default::default()
        };
        let ids = world
            .launch(&spec, 1, None, &Settings::default(), 1000)
            .unwrap();
        let i = &world.instances[&ids[0]];
        let timing = InstanceTiming {
            pending_ms: 100,
            starting_ms: 200,
        };
        assert_eq!(i.status(1000, timing), InstanceStatus::Pending);
        assert_eq!(i.status(1100, timing), InstanceStatus::Starting);
        assert_eq!(i.status(1300, timing), InstanceStatus::Running);
        assert!(
            ids[0].starts_with("i-bp") && ids[0].len() == 22,
            "{}",
            ids[0]
        );
    }

    #[test]
    fn a_group_converges_to_desired_and_releases_oldest_first() {
        let mut world = World::default();
        let id = group(&mut world, 3, &["ecs.g7.large"]);
        let a = world
            .reconcile_group(&id, "test", &Settings::default(), 0)
            .unwrap();
        assert_eq!(
            (a.created, a.total_capacity, a.status.as_str()),
            (3, 3, "Successful")
        );
        world
            .reconcile_group(&id, "test", &Settings::default(), 10)
            .unwrap();
        assert_eq!(world.members(&id).len(), 3, "reconcile is idempotent");
        let oldest = world.members(&id)[0].id.clone();
        world.groups.get_mut(&id).unwrap().desired = 1;
        let a = world
            .reconcile_group(&id, "test", &Settings::default(), 20)
            .unwrap();
        assert_eq!((a.removed, a.total_capacity), (2, 1));
        assert!(!world.instances.contains_key(&oldest));
        assert_eq!(
            world.instances.len(),
            1,
            "released instances are gone from ECS too"
        );
    }

    #[test]
    fn no_stock_falls_back_to_the_next_type_then_zone_then_fails() {
        let mut world = World::default();
        let settings = Settings {
            stock: vec![
                StockLimit {
                    zone: "cn-hangzhou-k".into(),
                    instance_type: "ecs.g7.large".into(),
                    limit: 1,
                },
                StockLimit {
                    zone: "cn-hangzhou-k".into(),
                    instance_type: "ecs.c7.large".into(),
                    limit: 1,
                },
                StockLimit {
                    zone: "cn-hangzhou-h".into(),
                    instance_type: "ecs.g7.large".into(),
                    limit: 1,
                },
                StockLimit {
                    zone: "cn-hangzhou-h".into(),
                    instance_type: "ecs.c7.large".into(),
                    limit: 0,
                },
            ],
            ..Default::default()
        };
        let id = group(&mut world, 5, &["ecs.g7.large", "ecs.c7.large"]);
        let a = world.reconcile_group(&id, "test", &settings, 0).unwrap();
        assert_eq!((a.created, a.status.as_str()), (3, "Warning"));
        let placed: Vec<(String, String)> = world
            .members(&id)
            .iter()
            .map(|i| (i.spec.zone_id.clone(), i.spec.instance_type.clone()))
            .collect();
        assert!(placed.contains(&("cn-hangzhou-h".into(), "ecs.g7.large".into())));
        assert!(placed.contains(&("cn-hangzhou-k".into(), "ecs.c7.large".into())));
        world.groups.get_mut(&id).unwrap().desired = 4;
        let a = world.reconcile_group(&id, "test", &settings, 0).unwrap();
        assert_eq!((a.created, a.status.as_str()), (0, "Failed"));
    }

    #[test]
    fn launch_refuses_all_when_stock_is_short() {
        let mut world = World::default();
        let settings = Settings {
            stock: vec![StockLimit {
                zone: "cn-hangzhou-k".into(),
                instance_type: "ecs.g7.large".into(),
                limit: 2,
            }],
            ..Default::default()
        };
        let spec = LaunchSpec {
            region_id: "cn-hangzhou".into(),
            zone_id: "cn-hangzhou-k".into(),
            instance_type: "ecs.g7.large".into(),
            ..Default::default()
        };
        assert_eq!(
            world.launch(&spec, 3, None, &settings, 0).unwrap_err().code,
            "OperationDenied.NoStock"
        );
        assert!(world.instances.is_empty());
        assert_eq!(world.launch(&spec, 2, None, &settings, 0).unwrap().len(), 2);
    }
}
