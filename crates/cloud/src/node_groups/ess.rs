//! Node groups on ESS scaling groups, with one refresh per autoscaler loop.
//!
//! ```text
//!  refresh ─┬─ discovery (every `rediscover_every`): DescribeScalingGroups (all, pages of 50)
//!           │     filtered by tags, or DescribeClusterNodePools for ACK pools
//!           ├─ DescribeScalingGroups by id (20 per call)          sizes, active configuration
//!           ├─ DescribeScalingConfigurations by id (10 per call)  only missing or stale ones
//!           ├─ ECS DescribeInstanceTypes (10 per call)            only types never seen
//!           ├─ VPC DescribeVSwitches                              only vSwitches never seen
//!           └─ DescribeScalingInstances per non-empty group       pages of 50, groups in parallel
//!  increase_size   ScaleWithAdjustment TotalCapacity=target+delta (absolute, so a retry is harmless)
//!  delete          RemoveInstances, 20 instances per call, DecreaseDesiredCapacity
//!  decrease target ScaleWithAdjustment TotalCapacity=target (only ever downwards)
//! ```
//!
//! Unlike upstream's Alibaba provider there are no describes per question (TargetSize,
//! NodeGroupForNode), no page size of 10 and no sleeps between calls: a steady loop over G groups
//! with N instances costs ⌈G/20⌉ + Σ⌈n_g/50⌉ calls.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aliyun::Client;
use aliyun::client::paginate_request;
use aliyun::ecs::{DescribeInstanceTypesRequest, InstanceType};
use aliyun::ess::{
    AdjustmentType, DescribeScalingConfigurationsRequest, DescribeScalingGroupsRequest,
    DescribeScalingInstancesRequest, RemoveInstancesRequest, ScaleWithAdjustmentRequest,
    ScalingConfiguration, ScalingGroup, ScalingInstance,
};
use aliyun::vpc::DescribeVSwitchesRequest;
use futures_util::{StreamExt, TryStreamExt, stream};

use super::spec::{Discovery, GroupSpec};
use super::template::build_template;
use super::{CallCount, Groups, Instance, InstanceState, NodeGroup, NodeGroups};
use crate::{Error, Result};

const PAGE_SIZE: u32 = 50;
const GROUP_IDS_PER_CALL: usize = 20;
const CONFIGURATION_IDS_PER_CALL: usize = 10;
const INSTANCE_TYPES_PER_CALL: usize = 10;
/// RemoveInstances takes at most 20 instance ids.
const REMOVE_BATCH: usize = 20;

/// What to manage and how often to look again.
#[derive(Debug, Clone)]
pub struct EssOptions {
    /// `--nodes` groups.
    pub groups: Vec<GroupSpec>,
    /// `--node-group-auto-discovery` sources.
    pub discovery: Vec<Discovery>,
    /// How often discovery runs again (groups appear and go rarely).
    pub rediscover_every: Duration,
    /// How long a scaling configuration is trusted before it is described again (they change
    /// only when someone edits them; a new active configuration has a new id and is fetched at
    /// once).
    pub configuration_ttl: Duration,
    /// Groups whose instances are listed at the same time.
    pub parallelism: usize,
}

impl Default for EssOptions {
    fn default() -> Self {
        Self {
            groups: Vec::new(),
            discovery: Vec::new(),
            rediscover_every: Duration::from_secs(60),
            configuration_ttl: Duration::from_secs(600),
            parallelism: 8,
        }
    }
}

/// A group to refresh and where its bounds come from.
#[derive(Debug, Clone)]
struct Managed {
    id: String,
    /// From `--nodes` or the ACK pool; `None` takes ESS's MinSize/MaxSize.
    bounds: Option<(u32, u32)>,
    source: String,
}

#[derive(Default)]
struct Cache {
    discovered: Option<(Instant, Vec<Managed>)>,
    configurations: HashMap<String, (Instant, ScalingConfiguration)>,
    instance_types: HashMap<String, InstanceType>,
    vswitch_zones: HashMap<String, String>,
}

/// ESS scaling groups (and ACK node pools, which are scaling groups underneath) as node groups.
pub struct EssNodeGroups {
    client: Client,
    options: EssOptions,
    cache: Mutex<Cache>,
    describe_calls: AtomicU64,
    mutate_calls: AtomicU64,
}

impl EssNodeGroups {
    pub fn new(client: Client, options: EssOptions) -> Result<Self> {
        if options.groups.is_empty() && options.discovery.is_empty() {
            return Err(Error::Invalid(
                "no node groups: give --nodes=<min>:<max>:<scaling-group-id> or \
                 --node-group-auto-discovery"
                    .into(),
            ));
        }
        Ok(Self {
            client,
            options,
            cache: Mutex::new(Cache::default()),
            describe_calls: AtomicU64::new(0),
            mutate_calls: AtomicU64::new(0),
        })
    }

    fn described(&self) {
        self.describe_calls.fetch_add(1, Ordering::Relaxed);
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn region(&self) -> &str {
        self.client.region()
    }

    /// The groups to refresh; runs discovery when it is due. Scaling groups listed by discovery
    /// are returned too, so this loop need not describe them again.
    async fn managed(&self) -> Result<(Vec<Managed>, HashMap<String, ScalingGroup>)> {
        let mut managed: Vec<Managed> = self
            .options
            .groups
            .iter()
            .map(|g| Managed {
                id: g.id.clone(),
                bounds: Some((g.min_size, g.max_size)),
                source: "--nodes".into(),
            })
            .collect();
        let mut listed = HashMap::new();
        if self.options.discovery.is_empty() {
            return Ok((managed, listed));
        }
        let cached = self.cache().discovered.clone();
        let found = match cached {
            Some((at, found)) if at.elapsed() < self.options.rediscover_every => found,
            _ => {
                let (found, groups) = self.discover().await?;
                listed = groups;
                self.cache().discovered = Some((Instant::now(), found.clone()));
                found
            }
        };
        let mut seen: HashSet<String> = managed.iter().map(|m| m.id.clone()).collect();
        for m in found {
            if seen.insert(m.id.clone()) {
                managed.push(m);
            }
        }
        Ok((managed, listed))
    }

    async fn discover(&self) -> Result<(Vec<Managed>, HashMap<String, ScalingGroup>)> {
        let mut found = Vec::new();
        let mut listed = HashMap::new();
        for source in &self.options.discovery {
            match source {
                Discovery::Tags(_) => {
                    if listed.is_empty() {
                        listed = self
                            .all_groups()
                            .await?
                            .into_iter()
                            .map(|g| (g.scaling_group_id.clone(), g))
                            .collect();
                    }
                    // Group tags first; the rest are judged by their active configuration's
                    // tags (ACK writes the cluster-autoscaler tags there).
                    let mut undecided = Vec::new();
                    for g in listed.values() {
                        let tags =
                            |k: &str| g.tags.iter().find(|t| t.key == k).map(|t| t.value.as_str());
                        if source.matches(tags) {
                            found.push(managed_by_tag(g));
                        } else if !g.active_scaling_configuration_id.is_empty() {
                            undecided.push(g.active_scaling_configuration_id.clone());
                        }
                    }
                    let configurations = self.configurations(&undecided).await?;
                    let mut more: Vec<&ScalingGroup> = listed
                        .values()
                        .filter(|g| !found.iter().any(|m| m.id == g.scaling_group_id))
                        .filter(|g| {
                            configurations
                                .get(&g.active_scaling_configuration_id)
                                .is_some_and(|c| {
                                    source.matches(|k: &str| {
                                        c.tags.iter().find(|t| t.key == k).map(|t| t.value.as_str())
                                    })
                                })
                        })
                        .collect();
                    more.sort_by(|a, b| a.scaling_group_id.cmp(&b.scaling_group_id));
                    found.extend(more.into_iter().map(managed_by_tag));
                }
                Discovery::AckCluster(cluster) => {
                    self.described();
                    let pools = self
                        .client
                        .cs()
                        .describe_cluster_node_pools(cluster)
                        .await?;
                    for pool in pools {
                        let id = pool.scaling_group.scaling_group_id;
                        if !pool.auto_scaling.enable || id.is_empty() {
                            continue;
                        }
                        found.push(Managed {
                            id,
                            bounds: Some((
                                pool.auto_scaling.min_instances,
                                pool.auto_scaling.max_instances,
                            )),
                            source: format!(
                                "ACK node pool {} ({}) of cluster {cluster}",
                                pool.nodepool_info.name, pool.nodepool_info.nodepool_id
                            ),
                        });
                    }
                }
            }
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found.dedup_by(|a, b| a.id == b.id);
        Ok((found, listed))
    }

    async fn all_groups(&self) -> Result<Vec<ScalingGroup>> {
        let request = DescribeScalingGroupsRequest {
            page_size: Some(PAGE_SIZE),
            ..Default::default()
        };
        Ok(paginate_request(&request, PAGE_SIZE, |page| async move {
            self.described();
            let r = self.client.ess().describe_scaling_groups(&page).await?;
            Ok((r.scaling_groups, r.total_count))
        })
        .await?)
    }

    async fn groups_by_id(&self, ids: &[String]) -> Result<HashMap<String, ScalingGroup>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(GROUP_IDS_PER_CALL) {
            let request = DescribeScalingGroupsRequest {
                scaling_group_ids: chunk.to_vec(),
                page_size: Some(PAGE_SIZE),
                ..Default::default()
            };
            let groups = paginate_request(&request, PAGE_SIZE, |page| async move {
                self.described();
                let r = self.client.ess().describe_scaling_groups(&page).await?;
                Ok((r.scaling_groups, r.total_count))
            })
            .await?;
            out.extend(groups.into_iter().map(|g| (g.scaling_group_id.clone(), g)));
        }
        Ok(out)
    }

    /// These configurations, from the cache while fresh.
    async fn configurations(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, ScalingConfiguration>> {
        let ttl = self.options.configuration_ttl;
        let mut missing: Vec<String> = {
            let cache = self.cache();
            ids.iter()
                .filter(|id| {
                    cache
                        .configurations
                        .get(*id)
                        .is_none_or(|(at, _)| at.elapsed() >= ttl)
                })
                .cloned()
                .collect()
        };
        missing.sort();
        missing.dedup();
        for chunk in missing.chunks(CONFIGURATION_IDS_PER_CALL) {
            let request = DescribeScalingConfigurationsRequest {
                scaling_configuration_ids: chunk.to_vec(),
                page_size: Some(PAGE_SIZE),
                ..Default::default()
            };
            let configurations = paginate_request(&request, PAGE_SIZE, |page| async move {
                self.described();
                let r = self
                    .client
                    .ess()
                    .describe_scaling_configurations(&page)
                    .await?;
                Ok((r.scaling_configurations, r.total_count))
            })
            .await?;
            let now = Instant::now();
            let mut cache = self.cache();
            for c in configurations {
                cache
                    .configurations
                    .insert(c.scaling_configuration_id.clone(), (now, c));
            }
        }
        let cache = self.cache();
        Ok(ids
            .iter()
            .filter_map(|id| {
                cache
                    .configurations
                    .get(id)
                    .map(|(_, c)| (id.clone(), c.clone()))
            })
            .collect())
    }

    /// Instance types never seen before are described; the catalogue does not change.
    async fn fetch_instance_types(&self, ids: &[String]) -> Result<()> {
        let mut missing: Vec<String> = {
            let cache = self.cache();
            ids.iter()
                .filter(|id| !id.is_empty() && !cache.instance_types.contains_key(*id))
                .cloned()
                .collect()
        };
        missing.sort();
        missing.dedup();
        for chunk in missing.chunks(INSTANCE_TYPES_PER_CALL) {
            let request = DescribeInstanceTypesRequest {
                instance_types: chunk.to_vec(),
                ..Default::default()
            };
            self.described();
            let types = self
                .client
                .ecs()
                .describe_instance_types(&request)
                .await?
                .instance_types;
            let mut cache = self.cache();
            for t in types {
                cache.instance_types.insert(t.instance_type_id.clone(), t);
            }
        }
        Ok(())
    }

    /// The zone of each vSwitch never seen before.
    async fn fetch_zones(&self, vswitch_ids: &[String]) -> Result<()> {
        let missing: Vec<String> = {
            let cache = self.cache();
            vswitch_ids
                .iter()
                .filter(|id| !id.is_empty() && !cache.vswitch_zones.contains_key(*id))
                .cloned()
                .collect::<HashSet<_>>()
                .into_iter()
                .collect()
        };
        for id in missing {
            let request = DescribeVSwitchesRequest {
                vswitch_id: Some(id.clone()),
                ..Default::default()
            };
            self.described();
            let found = self.client.vpc().describe_vswitches(&request).await?;
            if let Some(v) = found.vswitches.into_iter().find(|v| v.vswitch_id == id) {
                self.cache().vswitch_zones.insert(id, v.zone_id);
            }
        }
        Ok(())
    }

    async fn instances(&self, group_id: &str) -> Result<Vec<ScalingInstance>> {
        let request = DescribeScalingInstancesRequest {
            scaling_group_id: Some(group_id.to_owned()),
            page_size: Some(PAGE_SIZE),
            ..Default::default()
        };
        Ok(paginate_request(&request, PAGE_SIZE, |page| async move {
            self.described();
            let r = self.client.ess().describe_scaling_instances(&page).await?;
            Ok((r.scaling_instances, r.total_count))
        })
        .await?)
    }
}

fn managed_by_tag(g: &ScalingGroup) -> Managed {
    Managed {
        id: g.scaling_group_id.clone(),
        bounds: None,
        source: "auto-discovery by tag".into(),
    }
}

/// ESS lifecycle states as node-group instance states.
fn instance_state(lifecycle: &str) -> InstanceState {
    match lifecycle {
        "InService" | "Protected" | "Standby" | "Stopped" => InstanceState::Running,
        s if s.starts_with("Removing") => InstanceState::Deleting,
        _ => InstanceState::Creating,
    }
}

impl NodeGroups for EssNodeGroups {
    async fn refresh(&self) -> Result<Groups> {
        let (managed, mut listed) = self.managed().await?;
        let unlisted: Vec<String> = managed
            .iter()
            .filter(|m| !listed.contains_key(&m.id))
            .map(|m| m.id.clone())
            .collect();
        listed.extend(self.groups_by_id(&unlisted).await?);

        let mut usable = Vec::new();
        for m in managed {
            match listed.remove(&m.id) {
                None => {
                    return Err(Error::NotFound(format!(
                        "scaling group {} ({}) in region {}",
                        m.id,
                        m.source,
                        self.region()
                    )));
                }
                Some(g) if g.lifecycle_state != "Active" => tracing::warn!(
                    group = %g.scaling_group_id,
                    state = %g.lifecycle_state,
                    "skipping a scaling group that is not Active; enable it to let it scale"
                ),
                Some(g) if g.active_scaling_configuration_id.is_empty() => tracing::warn!(
                    group = %g.scaling_group_id,
                    "skipping a scaling group without an active scaling configuration"
                ),
                Some(g) => usable.push((m, g)),
            }
        }

        let configuration_ids: Vec<String> = usable
            .iter()
            .map(|(_, g)| g.active_scaling_configuration_id.clone())
            .collect();
        let configurations = self.configurations(&configuration_ids).await?;
        let type_of = |c: &ScalingConfiguration| {
            c.instance_types
                .first()
                .cloned()
                .unwrap_or_else(|| c.instance_type.clone())
        };
        let types: Vec<String> = configurations.values().map(type_of).collect();
        self.fetch_instance_types(&types).await?;
        let vswitches: Vec<String> = usable
            .iter()
            .filter_map(|(_, g)| g.vswitch_ids.first().or(Some(&g.vswitch_id)).cloned())
            .collect();
        self.fetch_zones(&vswitches).await?;

        let non_empty: Vec<String> = usable
            .iter()
            .filter(|(_, g)| g.total_capacity + g.removing_capacity + g.pending_capacity > 0)
            .map(|(_, g)| g.scaling_group_id.clone())
            .collect();
        let mut instances: HashMap<String, Vec<ScalingInstance>> = stream::iter(non_empty)
            .map(|id| async move { self.instances(&id).await.map(|i| (id, i)) })
            .buffer_unordered(self.options.parallelism.max(1))
            .try_collect()
            .await?;

        let region = self.region().to_owned();
        let cache = self.cache();
        let mut groups = Vec::new();
        for (m, g) in usable {
            let Some(configuration) = configurations.get(&g.active_scaling_configuration_id) else {
                tracing::warn!(group = %g.scaling_group_id, configuration = %g.active_scaling_configuration_id, "skipping a scaling group whose active configuration is not found");
                continue;
            };
            let Some(itype) = cache.instance_types.get(&type_of(configuration)) else {
                tracing::warn!(group = %g.scaling_group_id, instance_type = %type_of(configuration), "skipping a scaling group whose instance type is unknown");
                continue;
            };
            let zone = g
                .vswitch_ids
                .first()
                .or(Some(&g.vswitch_id))
                .and_then(|v| cache.vswitch_zones.get(v))
                .map(String::as_str);
            let template = build_template(&region, zone, configuration, itype);
            let members = instances.remove(&g.scaling_group_id).unwrap_or_default();
            let (min_size, max_size) = m.bounds.unwrap_or((g.min_size, g.max_size));
            groups.push(NodeGroup {
                id: g.scaling_group_id.clone(),
                min_size,
                max_size,
                target_size: g.desired_capacity.unwrap_or(g.total_capacity),
                instances: members
                    .into_iter()
                    .map(|i| Instance {
                        provider_id: format!("{region}.{}", i.instance_id),
                        state: instance_state(&i.lifecycle_state),
                        instance_id: i.instance_id,
                    })
                    .collect(),
                template,
                source: m.source,
            });
        }
        Ok(Groups::new(groups))
    }

    async fn increase_size(&self, group: &NodeGroup, delta: u32) -> Result<()> {
        let target = group.target_size + delta;
        if target > group.max_size {
            return Err(Error::Invalid(format!(
                "scaling group {} cannot grow to {target}: its maximum is {}",
                group.id, group.max_size
            )));
        }
        let request = ScaleWithAdjustmentRequest {
            scaling_group_id: group.id.clone(),
            adjustment_type: AdjustmentType::TotalCapacity,
            adjustment_value: i32::try_from(target).unwrap_or(i32::MAX),
            client_token: None,
        };
        self.mutate_calls.fetch_add(1, Ordering::Relaxed);
        self.client.ess().scale_with_adjustment(&request).await?;
        Ok(())
    }

    async fn delete_instances(&self, group: &NodeGroup, instance_ids: &[String]) -> Result<()> {
        let n = u32::try_from(instance_ids.len()).unwrap_or(u32::MAX);
        if group.target_size.saturating_sub(n) < group.min_size {
            return Err(Error::Invalid(format!(
                "removing {n} instances from scaling group {} would take it below its minimum {} \
                 (target {})",
                group.id, group.min_size, group.target_size
            )));
        }
        for chunk in instance_ids.chunks(REMOVE_BATCH) {
            let request = RemoveInstancesRequest {
                scaling_group_id: group.id.clone(),
                instance_ids: chunk.to_vec(),
                decrease_desired_capacity: Some(true),
                client_token: None,
            };
            self.mutate_calls.fetch_add(1, Ordering::Relaxed);
            self.client.ess().remove_instances(&request).await?;
        }
        Ok(())
    }

    async fn decrease_target_size(&self, group: &NodeGroup, target: u32) -> Result<()> {
        if target >= group.target_size || target < group.min_size {
            return Err(Error::Invalid(format!(
                "the target of scaling group {} can only come down from {} to no less than its \
                 minimum {}, not to {target}",
                group.id, group.target_size, group.min_size
            )));
        }
        let request = ScaleWithAdjustmentRequest {
            scaling_group_id: group.id.clone(),
            adjustment_type: AdjustmentType::TotalCapacity,
            adjustment_value: i32::try_from(target).unwrap_or(i32::MAX),
            client_token: None,
        };
        self.mutate_calls.fetch_add(1, Ordering::Relaxed);
        self.client.ess().scale_with_adjustment(&request).await?;
        Ok(())
    }

    fn calls(&self) -> CallCount {
        CallCount {
            describe: self.describe_calls.load(Ordering::Relaxed),
            mutate: self.mutate_calls.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ess_lifecycle_states_map_to_instance_states() {
        assert_eq!(instance_state("InService"), InstanceState::Running);
        assert_eq!(instance_state("Pending"), InstanceState::Creating);
        assert_eq!(instance_state("Pending:Wait"), InstanceState::Creating);
        assert_eq!(instance_state("Removing:Wait"), InstanceState::Deleting);
        assert_eq!(instance_state("Removing"), InstanceState::Deleting);
    }
}
