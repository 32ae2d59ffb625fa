//! ESS (Auto Scaling): scaling groups, configurations, rules and activities, in both versions
//! clients speak.
//!
//! ```text
//!   2014-08-28 (cluster-autoscaler's Go SDK)      2022-02-22 (current SDKs)
//!   ScalingGroupId.1=asg-…                        ScalingGroupIds.1=asg-…
//!   {"ScalingGroups":{"ScalingGroup":[…]}}        {"ScalingGroups":[…]}
//! ```
//! One implementation serves both; [`Shape`] only renames list parameters and wraps arrays.

use crate::catalog::{self, Region};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, paginate, region_param};
use crate::reply::Reply;
use crate::world::{
    CreationType, GroupState, InstanceStatus, ScalingConfiguration, ScalingGroup, ScalingRule,
    Settings, World, format_minutes, format_seconds, new_id,
};
use serde_json::{Value, json};

/// The two ESS API versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// 2014-08-28: numbered scalar lists, wrapped arrays.
    V2014,
    /// 2022-02-22: plural list names, flat arrays.
    V2022,
}

impl Shape {
    /// The shape of an ESS version string.
    pub fn of_version(version: &str) -> Option<Self> {
        match version {
            "2014-08-28" => Some(Self::V2014),
            "2022-02-22" => Some(Self::V2022),
            _ => None,
        }
    }

    /// A list parameter: `ScalingGroupIds.N` in 2022, `ScalingGroupId.N` in 2014.
    fn list<'p>(self, params: &'p Params, plural: &str, singular: &str) -> Vec<&'p str> {
        match self {
            Self::V2022 => params.list(plural),
            Self::V2014 => params.list(singular),
        }
    }

    /// An array in a response: flat in 2022, `{"Inner": [...]}` in 2014.
    fn array(self, inner: &str, items: Vec<Value>) -> Value {
        match self {
            Self::V2022 => Value::Array(items),
            Self::V2014 => json!({ inner: items }),
        }
    }
}

/// The inputs of one call.
pub struct Call<'a> {
    /// Request parameters.
    pub params: &'a Params,
    /// Settings.
    pub settings: &'a Settings,
    /// Emulated time.
    pub now_ms: i64,
    /// The version's shape.
    pub shape: Shape,
}

/// Handles an ESS action; `None` when ESS has no such action.
pub fn handle(action: &str, world: &mut World, call: &Call<'_>) -> Option<ApiResult<Reply>> {
    let value = match action {
        "CreateScalingGroup" => create_scaling_group(world, call),
        "ModifyScalingGroup" => modify_scaling_group(world, call),
        "EnableScalingGroup" => set_group_state(world, call, GroupState::Active),
        "DisableScalingGroup" => set_group_state(world, call, GroupState::Inactive),
        "DeleteScalingGroup" => delete_scaling_group(world, call),
        "DescribeScalingGroups" => describe_scaling_groups(world, call),
        "CreateScalingConfiguration" => create_scaling_configuration(world, call),
        "DescribeScalingConfigurations" => describe_scaling_configurations(world, call),
        "DescribeScalingInstances" => describe_scaling_instances(world, call),
        "ScaleWithAdjustment" => scale_with_adjustment(world, call),
        "RemoveInstances" => remove_instances(world, call),
        "CreateScalingRule" => create_scaling_rule(world, call),
        "ModifyScalingRule" => modify_scaling_rule(world, call),
        "DescribeScalingRules" => describe_scaling_rules(world, call),
        "ExecuteScalingRule" => execute_scaling_rule(world, call),
        "DeleteScalingRule" => delete_scaling_rule(world, call),
        "DescribeScalingActivities" => describe_scaling_activities(world, call),
        _ => return None,
    };
    Some(value.map(Reply::from))
}

const MAX_GROUP_SIZE: u32 = 2000;

fn group_not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "InvalidScalingGroupId.NotFound",
        format_args!("scaling group {id}"),
    )
}

fn group<'w>(world: &'w World, id: &str) -> ApiResult<&'w ScalingGroup> {
    world.groups.get(id).ok_or_else(|| group_not_found(id))
}

fn group_param<'w>(world: &'w World, params: &Params) -> ApiResult<&'w ScalingGroup> {
    group(world, params.required("ScalingGroupId")?)
}

fn group_mut<'w>(world: &'w mut World, id: &str) -> ApiResult<&'w mut ScalingGroup> {
    world.groups.get_mut(id).ok_or_else(|| group_not_found(id))
}

/// The region of a call whose `RegionId` is optional: the given one, else the group's.
fn optional_region(params: &Params) -> ApiResult<Option<&'static Region>> {
    params
        .get("RegionId")
        .map(|_| region_param(params))
        .transpose()
}

fn check_bounds(min: u32, max: u32, desired: Option<u32>) -> ApiResult<()> {
    if max > MAX_GROUP_SIZE {
        return Err(ApiError::invalid(
            "MaxSize",
            format_args!("must be at most {MAX_GROUP_SIZE}"),
        ));
    }
    if min > max {
        return Err(ApiError::invalid(
            "MinSize",
            format_args!("MinSize ({min}) must not exceed MaxSize ({max})"),
        ));
    }
    if let Some(d) = desired
        && !(min..=max).contains(&d)
    {
        return Err(ApiError::invalid(
            "DesiredCapacity",
            format_args!("{d} is outside [MinSize {min}, MaxSize {max}]"),
        ));
    }
    Ok(())
}

fn create_scaling_group(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let min = p.parse_required::<u32>("MinSize")?;
    let max = p.parse_required::<u32>("MaxSize")?;
    let desired = p.parse::<u32>("DesiredCapacity")?;
    check_bounds(min, max, desired)?;
    let mut vswitch_ids: Vec<String> = p
        .list("VSwitchIds")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if let Some(v) = p.get("VSwitchId") {
        vswitch_ids.insert(0, v.to_owned());
    }
    if vswitch_ids.is_empty() {
        return Err(ApiError::missing("VSwitchIds"));
    }
    for vswitch in &vswitch_ids {
        world.network.placement(region, vswitch)?;
    }
    let id = new_id("asg", region);
    let name = p.get("ScalingGroupName").unwrap_or(&id).to_owned();
    if world
        .groups
        .values()
        .any(|g| g.region_id == region.id && g.name == name)
    {
        return Err(ApiError::new(
            400,
            "ScalingGroupName.Duplicate",
            format!(
                "A scaling group named \"{name}\" already exists in {}.",
                region.id
            ),
        ));
    }
    let policy = p
        .get("MultiAZPolicy")
        .unwrap_or("PRIORITY")
        .to_ascii_uppercase();
    if !["PRIORITY", "BALANCE", "COST_OPTIMIZED", "COMPOSABLE"].contains(&policy.as_str()) {
        return Err(ApiError::invalid(
            "MultiAZPolicy",
            "must be PRIORITY, BALANCE, COST_OPTIMIZED or COMPOSABLE",
        ));
    }
    let group = ScalingGroup {
        id: id.clone(),
        name,
        region_id: region.id.to_owned(),
        min_size: min,
        max_size: max,
        desired: desired.unwrap_or(min),
        state: GroupState::Inactive,
        active_configuration_id: None,
        vswitch_ids,
        multi_az_policy: policy,
        default_cooldown: p.parse::<u32>("DefaultCooldown")?.unwrap_or(300),
        removal_policies: {
            let given: Vec<String> = p
                .list("RemovalPolicies")
                .into_iter()
                .chain(p.list("RemovalPolicy"))
                .map(str::to_owned)
                .collect();
            if given.is_empty() {
                vec!["OldestScalingConfiguration".into(), "OldestInstance".into()]
            } else {
                given
            }
        },
        tags: p.tags("Tags"),
        created_ms: call.now_ms,
    };
    world.groups.insert(id.clone(), group);
    Ok(json!({ "ScalingGroupId": id }))
}

fn modify_scaling_group(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let current = group_param(world, p)?.clone();
    let min = p.parse::<u32>("MinSize")?.unwrap_or(current.min_size);
    let max = p.parse::<u32>("MaxSize")?.unwrap_or(current.max_size);
    let desired = p.parse::<u32>("DesiredCapacity")?;
    check_bounds(min, max, desired)?;
    if let Some(config) = p.get("ActiveScalingConfigurationId") {
        check_configuration_of(world, config, &current.id)?;
    }
    let group = group_mut(world, &current.id)?;
    group.min_size = min;
    group.max_size = max;
    // Changing the bounds drags the desired capacity into them, as ESS does.
    group.desired = desired.unwrap_or(current.desired).clamp(min, max);
    if let Some(name) = p.get("ScalingGroupName") {
        group.name = name.to_owned();
    }
    if let Some(config) = p.get("ActiveScalingConfigurationId") {
        group.active_configuration_id = Some(config.to_owned());
    }
    world.reconcile_group(
        &current.id,
        "ModifyScalingGroup changed the group's capacity bounds.",
        call.settings,
        call.now_ms,
    )?;
    Ok(json!({}))
}

fn check_configuration_of(world: &World, config_id: &str, group_id: &str) -> ApiResult<()> {
    match world.configurations.get(config_id) {
        Some(c) if c.group_id == group_id => Ok(()),
        _ => Err(ApiError::not_found(
            "InvalidScalingConfigurationId.NotFound",
            format_args!("scaling configuration {config_id} in scaling group {group_id}"),
        )),
    }
}

fn set_group_state(world: &mut World, call: &Call<'_>, state: GroupState) -> ApiResult<Value> {
    let p = call.params;
    let current = group_param(world, p)?.clone();
    let active = p
        .get("ActiveScalingConfigurationId")
        .map(str::to_owned)
        .or(current.active_configuration_id.clone());
    if state == GroupState::Active {
        let config = active.clone().ok_or_else(|| {
            ApiError::forbidden(
                "IncorrectScalingConfigurationLifecycleState",
                format!("Scaling group {} has no scaling configuration: create one or pass ActiveScalingConfigurationId.", current.id),
            )
        })?;
        check_configuration_of(world, &config, &current.id)?;
    }
    let group = group_mut(world, &current.id)?;
    group.state = state;
    group.active_configuration_id = active;
    if state == GroupState::Active {
        group.desired = group.desired.max(group.min_size);
        world.reconcile_group(
            &current.id,
            "The scaling group was enabled.",
            call.settings,
            call.now_ms,
        )?;
    }
    Ok(json!({}))
}

fn delete_scaling_group(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let id = group_param(world, p)?.id.clone();
    let members: Vec<String> = world.members(&id).iter().map(|i| i.id.clone()).collect();
    if !members.is_empty() && p.bool("ForceDelete")? != Some(true) {
        return Err(ApiError::forbidden(
            "Forbidden.ScalingGroupNotEmpty",
            format!(
                "Scaling group {id} still has {} instances; remove them or pass ForceDelete=true.",
                members.len()
            ),
        ));
    }
    world.remove_members(&members, true);
    world.groups.remove(&id);
    world.configurations.retain(|_, c| c.group_id != id);
    world.rules.retain(|_, r| r.group_id != id);
    world.activities.retain(|_, a| a.group_id != id);
    Ok(json!({}))
}

/// Counts of a group's members by what ESS reports: (total, in service, pending).
fn capacities(world: &World, group_id: &str, call: &Call<'_>) -> (usize, usize, usize) {
    let members = world.members(group_id);
    let running = members
        .iter()
        .filter(|i| i.status(call.now_ms, call.settings.timing) == InstanceStatus::Running)
        .count();
    (members.len(), running, members.len() - running)
}

fn tags_json(tags: &[(String, String)], shape: Shape, key: &str, value: &str) -> Value {
    shape.array(
        "Tag",
        tags.iter()
            .map(|(k, v)| json!({ key: k, value: v }))
            .collect(),
    )
}

fn group_json(world: &World, g: &ScalingGroup, call: &Call<'_>) -> Value {
    let (total, active, pending) = capacities(world, &g.id, call);
    let shape = call.shape;
    json!({
        "ScalingGroupId": g.id,
        "ScalingGroupName": g.name,
        "RegionId": g.region_id,
        "LifecycleState": g.state.as_str(),
        "MinSize": g.min_size,
        "MaxSize": g.max_size,
        "DesiredCapacity": g.desired,
        "EnableDesiredCapacity": true,
        "TotalCapacity": total,
        "TotalInstanceCount": total,
        "ActiveCapacity": active,
        "PendingCapacity": pending,
        "RemovingCapacity": 0,
        "StandbyCapacity": 0,
        "ProtectedCapacity": 0,
        "StoppedCapacity": 0,
        "PendingWaitCapacity": 0,
        "RemovingWaitCapacity": 0,
        "ActiveScalingConfigurationId": g.active_configuration_id.clone().unwrap_or_default(),
        "VSwitchId": g.vswitch_ids.first().cloned().unwrap_or_default(),
        "VSwitchIds": shape.array("VSwitchId", g.vswitch_ids.iter().map(|v| json!(v)).collect()),
        "VpcId": g
            .vswitch_ids
            .first()
            .and_then(|v| catalog::region(&g.region_id).and_then(|r| world.network.placement(r, v).ok()))
            .map(|p| p.vpc_id)
            .unwrap_or_default(),
        "MultiAZPolicy": g.multi_az_policy,
        "DefaultCooldown": g.default_cooldown,
        "RemovalPolicies": shape.array("RemovalPolicy", g.removal_policies.iter().map(|r| json!(r)).collect()),
        "GroupType": "ECS",
        "HealthCheckType": "ECS",
        "ScalingPolicy": "recycle",
        "GroupDeletionProtection": false,
        "CreationTime": format_minutes(g.created_ms),
        "Tags": tags_json(&g.tags, shape, "TagKey", "TagValue"),
    })
}

fn page_response(
    shape: Shape,
    outer: &str,
    inner: &str,
    items: Vec<Value>,
    total: usize,
    number: usize,
    size: usize,
) -> Value {
    json!({ outer: shape.array(inner, items), "TotalCount": total, "PageNumber": number, "PageSize": size })
}

fn describe_scaling_groups(world: &World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let ids = call.shape.list(p, "ScalingGroupIds", "ScalingGroupId");
    let mut names = call.shape.list(p, "ScalingGroupNames", "ScalingGroupName");
    names.extend(p.get("ScalingGroupName"));
    let (number, size) = p.page(10, 50)?;
    let matching: Vec<&ScalingGroup> = world
        .groups
        .values()
        .filter(|g| g.region_id == region.id)
        .filter(|g| ids.is_empty() || ids.contains(&g.id.as_str()))
        .filter(|g| names.is_empty() || names.contains(&g.name.as_str()))
        .collect();
    let total = matching.len();
    let items = paginate(matching, number, size)
        .into_iter()
        .map(|g| group_json(world, g, call))
        .collect();
    Ok(page_response(
        call.shape,
        "ScalingGroups",
        "ScalingGroup",
        items,
        total,
        number,
        size,
    ))
}

/// Tags given as a JSON object string (`{"k":"v"}`), as CreateScalingConfiguration takes them.
fn json_tags(params: &Params, name: &str) -> ApiResult<Vec<(String, String)>> {
    let Some(text) = params.get(name) else {
        return Ok(params.tags(name));
    };
    let object: serde_json::Map<String, Value> = serde_json::from_str(text).map_err(|_| {
        ApiError::invalid(
            name,
            format_args!("expected a JSON object such as {{\"key\":\"value\"}}, got {text}"),
        )
    })?;
    Ok(object
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect())
}

fn create_scaling_configuration(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let group = group_param(world, p)?.clone();
    let region = catalog::region(&group.region_id).ok_or_else(ApiError::internal)?;
    let mut types: Vec<String> = p
        .get("InstanceType")
        .into_iter()
        .chain(p.list("InstanceTypes"))
        .map(str::to_owned)
        .collect();
    types.dedup();
    if types.is_empty() {
        return Err(ApiError::missing("InstanceType"));
    }
    if let Some(bad) = types.iter().find(|t| catalog::instance_type(t).is_none()) {
        return Err(ApiError::invalid(
            "InstanceType",
            format_args!("{bad} does not exist; DescribeInstanceTypes lists the types on sale"),
        ));
    }
    let image_id = p.required("ImageId")?.to_owned();
    let spot_strategy = p.get("SpotStrategy").unwrap_or("NoSpot").to_owned();
    let id = new_id("asc", region);
    let config = ScalingConfiguration {
        id: id.clone(),
        name: p.get("ScalingConfigurationName").unwrap_or(&id).to_owned(),
        group_id: group.id.clone(),
        instance_types: types,
        image_id,
        security_group_id: p.get("SecurityGroupId").unwrap_or_default().to_owned(),
        system_disk_category: p
            .get("SystemDisk.Category")
            .or(p.get("SystemDiskCategory"))
            .unwrap_or("cloud_essd")
            .to_owned(),
        tags: json_tags(p, "Tags")?,
        spot_strategy,
        instance_name: p.get("InstanceName").unwrap_or_default().to_owned(),
        host_name: p.get("HostName").unwrap_or_default().to_owned(),
        created_ms: call.now_ms,
    };
    world.configurations.insert(id.clone(), config);
    // A group's first configuration becomes its active one, as on ESS.
    let group = group_mut(world, &group.id)?;
    if group.active_configuration_id.is_none() {
        group.active_configuration_id = Some(id.clone());
    }
    Ok(json!({ "ScalingConfigurationId": id }))
}

fn configuration_json(world: &World, c: &ScalingConfiguration, shape: Shape) -> Value {
    let active = world
        .groups
        .get(&c.group_id)
        .and_then(|g| g.active_configuration_id.as_deref())
        == Some(c.id.as_str());
    let first = c
        .instance_types
        .first()
        .and_then(|t| catalog::instance_type(t));
    json!({
        "ScalingConfigurationId": c.id,
        "ScalingConfigurationName": c.name,
        "ScalingGroupId": c.group_id,
        "LifecycleState": if active { "Active" } else { "Inactive" },
        "InstanceType": c.instance_types.first().cloned().unwrap_or_default(),
        "InstanceTypes": shape.array("InstanceType", c.instance_types.iter().map(|t| json!(t)).collect()),
        "Cpu": first.map(|t| t.cpu).unwrap_or_default(),
        "Memory": first.map(|t| t.memory_gib as u64).unwrap_or_default(),
        "ImageId": c.image_id,
        "SecurityGroupId": c.security_group_id,
        "SystemDiskCategory": c.system_disk_category,
        "SpotStrategy": c.spot_strategy,
        "InstanceName": c.instance_name,
        "HostName": c.host_name,
        "CreationTime": format_minutes(c.created_ms),
        "Tags": tags_json(&c.tags, shape, "Key", "Value"),
    })
}

fn describe_scaling_configurations(world: &World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    optional_region(p)?;
    let group_id = p.get("ScalingGroupId");
    if let Some(id) = group_id {
        group(world, id)?;
    }
    let ids = call
        .shape
        .list(p, "ScalingConfigurationIds", "ScalingConfigurationId");
    let names = call
        .shape
        .list(p, "ScalingConfigurationNames", "ScalingConfigurationName");
    let (number, size) = p.page(10, 50)?;
    let matching: Vec<&ScalingConfiguration> = world
        .configurations
        .values()
        .filter(|c| group_id.is_none_or(|g| c.group_id == g))
        .filter(|c| ids.is_empty() || ids.contains(&c.id.as_str()))
        .filter(|c| names.is_empty() || names.contains(&c.name.as_str()))
        .collect();
    let total = matching.len();
    let items = paginate(matching, number, size)
        .into_iter()
        .map(|c| configuration_json(world, c, call.shape))
        .collect();
    Ok(page_response(
        call.shape,
        "ScalingConfigurations",
        "ScalingConfiguration",
        items,
        total,
        number,
        size,
    ))
}

fn describe_scaling_instances(world: &World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    optional_region(p)?;
    let group_id = p.get("ScalingGroupId");
    if let Some(id) = group_id {
        group(world, id)?;
    }
    let ids = call.shape.list(p, "InstanceIds", "InstanceId");
    let lifecycle = p.get("LifecycleState");
    let creation = p.get("CreationType");
    let health = p.get("HealthStatus");
    let (number, size) = p.page(10, 50)?;
    let mut rows: Vec<(Value, i64, String)> = Vec::new();
    for instance in world.instances.values() {
        let Some(m) = &instance.membership else {
            continue;
        };
        if group_id.is_some_and(|g| m.group_id != g)
            || !(ids.is_empty() || ids.contains(&instance.id.as_str()))
        {
            continue;
        }
        let state = match instance.status(call.now_ms, call.settings.timing) {
            InstanceStatus::Running => "InService",
            _ => "Pending",
        };
        let creation_type = match m.creation_type {
            CreationType::AutoCreated => "AutoCreated",
            CreationType::Attached => "Attached",
        };
        if lifecycle.is_some_and(|l| l != state)
            || creation.is_some_and(|c| c != creation_type)
            || health.is_some_and(|h| h != "Healthy")
        {
            continue;
        }
        rows.push((
            json!({
                "InstanceId": instance.id,
                "ScalingGroupId": m.group_id,
                "ScalingConfigurationId": m.configuration_id,
                "LifecycleState": state,
                "HealthStatus": "Healthy",
                "CreationType": creation_type,
                "ZoneId": instance.spec.zone_id,
                "PrivateIpAddress": instance.private_ip,
                "CreatedTime": format_seconds(instance.created_ms),
                "CreationTime": format_minutes(instance.created_ms),
                "LoadBalancerWeight": 50,
                "Entrusted": false,
                "WarmupState": "NoNeedWarmup",
                "SpotStrategy": instance.spec.spot_strategy,
                "WeightedCapacity": 1,
            }),
            instance.created_ms,
            instance.id.clone(),
        ));
    }
    rows.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.2.cmp(&b.2)));
    let total = rows.len();
    let items = paginate(rows, number, size)
        .into_iter()
        .map(|(v, _, _)| v)
        .collect();
    Ok(page_response(
        call.shape,
        "ScalingInstances",
        "ScalingInstance",
        items,
        total,
        number,
        size,
    ))
}

/// The capacity an adjustment leads to, or why it is refused.
/// How an adjustment value changes a group's capacity.
#[derive(Debug, Clone, Copy)]
enum Adjustment {
    Quantity,
    Percent,
    Total,
}

impl Adjustment {
    fn parse(kind: &str) -> ApiResult<Self> {
        match kind {
            "QuantityChangeInCapacity" => Ok(Self::Quantity),
            "PercentChangeInCapacity" => Ok(Self::Percent),
            "TotalCapacity" => Ok(Self::Total),
            other => Err(ApiError::invalid(
                "AdjustmentType",
                format_args!(
                    "\"{other}\" is not one of QuantityChangeInCapacity, PercentChangeInCapacity, TotalCapacity"
                ),
            )),
        }
    }

    /// The capacity after adjusting `current` by `value`; a percentage too small to round to
    /// a whole instance still moves by one, as on ESS.
    fn apply(self, current: i64, value: i64) -> i64 {
        match self {
            Self::Quantity => current + value,
            Self::Percent => {
                let change = (current as f64 * value as f64 / 100.0).round() as i64;
                current
                    + if change == 0 && value != 0 {
                        value.signum()
                    } else {
                        change
                    }
            }
            Self::Total => value,
        }
    }
}

fn adjusted_capacity(group: &ScalingGroup, current: u32, kind: &str, value: i64) -> ApiResult<u32> {
    let target = Adjustment::parse(kind)?.apply(i64::from(current), value);
    if target < i64::from(group.min_size) || target > i64::from(group.max_size) {
        return Err(ApiError::invalid(
            "AdjustmentValue",
            format_args!(
                "the resulting capacity {target} is outside the scaling group's bounds [MinSize {}, MaxSize {}]",
                group.min_size, group.max_size
            ),
        ));
    }
    Ok(u32::try_from(target).unwrap_or(0))
}

fn require_active(group: &ScalingGroup) -> ApiResult<()> {
    if group.state == GroupState::Active {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "IncorrectScalingGroupStatus",
            format!(
                "Scaling group {} is {}; enable it with EnableScalingGroup first.",
                group.id,
                group.state.as_str()
            ),
        ))
    }
}

fn scale_to(
    world: &mut World,
    group_id: &str,
    kind: &str,
    value: i64,
    cause: &str,
    call: &Call<'_>,
) -> ApiResult<Value> {
    let group = group(world, group_id)?.clone();
    require_active(&group)?;
    let target = adjusted_capacity(&group, group.desired, kind, value)?;
    group_mut(world, group_id)?.desired = target;
    let activity = world.reconcile_group(group_id, cause, call.settings, call.now_ms)?;
    Ok(json!({ "ScalingActivityId": activity.id }))
}

fn scale_with_adjustment(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let group_id = p.required("ScalingGroupId")?;
    let kind = p.required("AdjustmentType")?;
    let value = p.parse_required::<i64>("AdjustmentValue")?;
    let cause = format!("ScaleWithAdjustment: {kind} {value}.");
    scale_to(world, group_id, kind, value, &cause, call)
}

fn remove_instances(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let group = group_param(world, p)?.clone();
    let ids: Vec<String> = call
        .shape
        .list(p, "InstanceIds", "InstanceId")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Err(ApiError::missing(if call.shape == Shape::V2022 {
            "InstanceIds.1"
        } else {
            "InstanceId.1"
        }));
    }
    let ignore_invalid = p.bool("IgnoreInvalidInstance")?.unwrap_or(false);
    let (mut valid, mut ignored) = (Vec::new(), Vec::new());
    for id in ids {
        let member = world
            .instances
            .get(&id)
            .and_then(|i| i.membership.as_ref())
            .is_some_and(|m| m.group_id == group.id);
        match (member, ignore_invalid) {
            (true, _) => valid.push(id),
            (false, true) => ignored.push(json!({ "InstanceId": id, "Code": "InvalidInstanceId.NotFound", "Message": "The instance is not in the scaling group." })),
            (false, false) => {
                return Err(ApiError::not_found("InvalidInstanceId.NotFound", format_args!("instance {id} in scaling group {}", group.id)));
            }
        }
    }
    let decrease = p.bool("DecreaseDesiredCapacity")?.unwrap_or(true);
    let remaining = world.members(&group.id).len() - valid.len();
    if decrease && remaining < group.min_size as usize {
        return Err(ApiError::forbidden(
            "Forbidden.MinSize",
            format!(
                "Removing {} instances would leave {remaining}, below MinSize {} of scaling group {}.",
                valid.len(),
                group.min_size,
                group.id
            ),
        ));
    }
    let release = p.get("RemovePolicy").is_none_or(|r| r != "remove");
    world.remove_members(&valid, release);
    if decrease {
        let g = group_mut(world, &group.id)?;
        g.desired = u32::try_from(remaining).unwrap_or(u32::MAX).max(g.min_size);
    }
    let cause = format!("RemoveInstances removed {} instances.", valid.len());
    let activity = world.reconcile_group(&group.id, &cause, call.settings, call.now_ms)?;
    Ok(json!({ "ScalingActivityId": activity.id, "IgnoredInstances": ignored }))
}

fn rule_param<'w>(world: &'w World, params: &Params) -> ApiResult<&'w ScalingRule> {
    let id = params.required("ScalingRuleId")?;
    world.rules.get(id).ok_or_else(|| {
        ApiError::not_found(
            "InvalidScalingRuleId.NotFound",
            format_args!("scaling rule {id}"),
        )
    })
}

fn create_scaling_rule(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let group = group_param(world, p)?.clone();
    let region = catalog::region(&group.region_id).ok_or_else(ApiError::internal)?;
    let kind = p
        .get("AdjustmentType")
        .unwrap_or("QuantityChangeInCapacity")
        .to_owned();
    Adjustment::parse(&kind)?;
    let value = p.parse::<i64>("AdjustmentValue")?.unwrap_or(0);
    let id = new_id("asr", region);
    let name = p.get("ScalingRuleName").unwrap_or(&id).to_owned();
    if world
        .rules
        .values()
        .any(|r| r.group_id == group.id && r.name == name)
    {
        return Err(ApiError::new(
            400,
            "ScalingRuleName.Duplicate",
            format!(
                "Scaling group {} already has a rule named \"{name}\".",
                group.id
            ),
        ));
    }
    let rule = ScalingRule {
        id: id.clone(),
        name,
        group_id: group.id,
        adjustment_type: kind,
        adjustment_value: value,
        region_id: region.id.to_owned(),
    };
    let ari = rule.ari();
    world.rules.insert(id.clone(), rule);
    Ok(json!({ "ScalingRuleId": id, "ScalingRuleAri": ari }))
}

fn modify_scaling_rule(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let id = rule_param(world, p)?.id.clone();
    let kind = p.get("AdjustmentType").map(str::to_owned);
    let value = p.parse::<i64>("AdjustmentValue")?;
    if let Some(kind) = &kind {
        Adjustment::parse(kind)?;
    }
    let rule = world.rules.get_mut(&id).ok_or_else(ApiError::internal)?;
    if let Some(kind) = kind {
        rule.adjustment_type = kind;
    }
    if let Some(value) = value {
        rule.adjustment_value = value;
    }
    if let Some(name) = p.get("ScalingRuleName") {
        rule.name = name.to_owned();
    }
    Ok(json!({}))
}

fn rule_json(r: &ScalingRule, world: &World) -> Value {
    let g = world.groups.get(&r.group_id);
    json!({
        "ScalingRuleId": r.id,
        "ScalingRuleName": r.name,
        "ScalingRuleAri": r.ari(),
        "ScalingGroupId": r.group_id,
        "ScalingRuleType": "SimpleScalingRule",
        "AdjustmentType": r.adjustment_type,
        "AdjustmentValue": r.adjustment_value,
        "Cooldown": g.map(|g| g.default_cooldown).unwrap_or(300),
        "MinSize": g.map(|g| g.min_size).unwrap_or_default(),
        "MaxSize": g.map(|g| g.max_size).unwrap_or_default(),
    })
}

fn describe_scaling_rules(world: &World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    optional_region(p)?;
    let group_id = p.get("ScalingGroupId");
    if let Some(id) = group_id {
        group(world, id)?;
    }
    let ids = call.shape.list(p, "ScalingRuleIds", "ScalingRuleId");
    let names = call.shape.list(p, "ScalingRuleNames", "ScalingRuleName");
    let aris = call.shape.list(p, "ScalingRuleAris", "ScalingRuleAri");
    let (number, size) = p.page(10, 50)?;
    let matching: Vec<&ScalingRule> = world
        .rules
        .values()
        .filter(|r| group_id.is_none_or(|g| r.group_id == g))
        .filter(|r| ids.is_empty() || ids.contains(&r.id.as_str()))
        .filter(|r| names.is_empty() || names.contains(&r.name.as_str()))
        .filter(|r| aris.is_empty() || aris.contains(&r.ari().as_str()))
        .collect();
    let total = matching.len();
    let items = paginate(matching, number, size)
        .into_iter()
        .map(|r| rule_json(r, world))
        .collect();
    Ok(page_response(
        call.shape,
        "ScalingRules",
        "ScalingRule",
        items,
        total,
        number,
        size,
    ))
}

fn execute_scaling_rule(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let ari = call.params.required("ScalingRuleAri")?;
    let rule = world
        .rules
        .values()
        .find(|r| r.ari() == ari)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(
                "InvalidScalingRuleAri.NotFound",
                format_args!("scaling rule {ari}"),
            )
        })?;
    let cause = format!(
        "ExecuteScalingRule {}: {} {}.",
        rule.name, rule.adjustment_type, rule.adjustment_value
    );
    scale_to(
        world,
        &rule.group_id,
        &rule.adjustment_type,
        rule.adjustment_value,
        &cause,
        call,
    )
}

fn delete_scaling_rule(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = rule_param(world, call.params)?.id.clone();
    world.rules.remove(&id);
    Ok(json!({}))
}

fn describe_scaling_activities(world: &World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    optional_region(p)?;
    let group_id = p.get("ScalingGroupId");
    if let Some(id) = group_id {
        group(world, id)?;
    }
    let ids = call
        .shape
        .list(p, "ScalingActivityIds", "ScalingActivityId");
    let status = p.get("StatusCode");
    let (number, size) = p.page(10, 50)?;
    let mut matching: Vec<_> = world
        .activities
        .values()
        .filter(|a| group_id.is_none_or(|g| a.group_id == g))
        .filter(|a| ids.is_empty() || ids.contains(&a.id.as_str()))
        .filter(|a| status.is_none_or(|s| a.status == s))
        .collect();
    matching.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then_with(|| a.id.cmp(&b.id)));
    let total = matching.len();
    let items = paginate(matching, number, size)
        .into_iter()
        .map(|a| {
            json!({
                "ScalingActivityId": a.id,
                "ScalingGroupId": a.group_id,
                "StatusCode": a.status,
                "StatusMessage": a.message,
                "Description": a.message,
                "Cause": a.cause,
                "Progress": 100,
                "TotalCapacity": a.total_capacity.to_string(),
                "CreatedCapacity": a.created,
                "DestroyedCapacity": a.removed,
                "StartTime": format_minutes(a.at_ms),
                "EndTime": format_minutes(a.at_ms),
            })
        })
        .collect();
    Ok(page_response(
        call.shape,
        "ScalingActivities",
        "ScalingActivity",
        items,
        total,
        number,
        size,
    ))
}
