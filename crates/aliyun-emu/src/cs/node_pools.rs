//! CS node-pool actions. A node pool is an ESS scaling group plus the Kubernetes settings of
//! its nodes; its size lives in the group, so scaling through ESS scales the pool.

use super::request::*;
use super::*;

/// Validates one node pool of a request; returns its name.
pub(super) fn check_pool(
    world: &World,
    region: &Region,
    cluster_vswitches: &[String],
    pool: &NodePoolBody,
    field: &str,
) -> ApiResult<String> {
    let name = pool
        .nodepool_info
        .name
        .clone()
        .ok_or_else(|| ApiError::missing(&format!("{field}.nodepool_info.name")))?;
    check_name(&format!("{field}.nodepool_info.name"), &name)?;
    if let Some(kind) = &pool.nodepool_info.kind
        && kind != "ess"
    {
        return Err(invalid(
            &format!("{field}.nodepool_info.type"),
            format_args!(
                "\"{kind}\" is not supported; the emulator backs node pools with ESS (\"ess\")"
            ),
        ));
    }
    let sg = &pool.scaling_group;
    let vswitches = sg
        .vswitch_ids
        .clone()
        .unwrap_or_else(|| cluster_vswitches.to_vec());
    let (_, zones) = zones_of(
        world,
        region,
        &format!("{field}.scaling_group.vswitch_ids"),
        &vswitches,
    )?;
    check_instance_types(
        &format!("{field}.scaling_group.instance_types"),
        sg.instance_types.as_deref().unwrap_or_default(),
        region,
        &zones,
    )?;
    let (min, max) = pool_bounds(pool.auto_scaling.as_ref());
    let desired = pool_desired(pool, min);
    if !(min..=max).contains(&desired) || min > max {
        return Err(invalid(
            &format!("{field}.scaling_group.desired_size"),
            format_args!("{desired} nodes is outside [{min}, {max}]"),
        ));
    }
    for taint in pool
        .kubernetes_config
        .as_ref()
        .and_then(|k| k.taints.as_ref())
        .into_iter()
        .flatten()
    {
        if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&taint.effect.as_str()) {
            return Err(invalid(
                &format!("{field}.kubernetes_config.taints"),
                format_args!(
                    "the effect \"{}\" of taint {} must be NoSchedule, PreferNoSchedule or NoExecute",
                    taint.effect, taint.key
                ),
            ));
        }
    }
    Ok(name)
}

/// The ESS bounds of a pool: the autoscaling range when enabled, otherwise any size.
pub(super) fn pool_bounds(auto: Option<&AutoScalingBody>) -> (u32, u32) {
    match auto {
        Some(a) if a.enable == Some(true) => (
            a.min_instances.unwrap_or(0),
            a.max_instances.unwrap_or(MAX_POOL_SIZE),
        ),
        _ => (0, MAX_POOL_SIZE),
    }
}

pub(super) fn pool_desired(pool: &NodePoolBody, min: u32) -> u32 {
    pool.scaling_group
        .desired_size
        .or(pool.count)
        .unwrap_or(0)
        .max(min)
}

/// The tags a pool's scaling configuration gives its instances. Labels and taints are also
/// written in cluster-autoscaler's node-template form, so an autoscaler can build the pool's
/// node template from ESS alone.
pub(super) fn pool_instance_tags(
    cluster_id: &str,
    pool_id: &str,
    config: &KubernetesConfig,
    auto: &AutoScaling,
    user: &[(String, String)],
) -> Vec<(String, String)> {
    let mut tags = vec![
        (CLUSTER_TAG.to_owned(), cluster_id.to_owned()),
        (NODEPOOL_TAG.to_owned(), pool_id.to_owned()),
    ];
    if auto.enable {
        tags.push(("k8s.io/cluster-autoscaler/enabled".into(), "true".into()));
        tags.push((
            format!("k8s.io/cluster-autoscaler/{cluster_id}"),
            "owned".into(),
        ));
    }
    for (k, v) in &config.labels {
        tags.push((
            format!("k8s.io/cluster-autoscaler/node-template/label/{k}"),
            v.clone(),
        ));
    }
    for t in &config.taints {
        tags.push((
            format!("k8s.io/cluster-autoscaler/node-template/taint/{}", t.key),
            format!("{}:{}", t.value, t.effect),
        ));
    }
    tags.extend(user.iter().cloned());
    tags
}

/// Creates a pool and its ESS group, and launches its nodes.
pub(super) fn add_pool(
    world: &mut World,
    cluster_id: &str,
    pool: &NodePoolBody,
    is_default: bool,
    call: &RoaCall<'_>,
) -> ApiResult<NodePool> {
    let c = world
        .clusters
        .clusters
        .get(cluster_id)
        .cloned()
        .ok_or_else(|| cluster_not_found(cluster_id))?;
    let region = catalog::region(&c.region_id).ok_or_else(ApiError::internal)?;
    let sg = &pool.scaling_group;
    let id = hex_id("np", 32);
    let name = pool.nodepool_info.name.clone().unwrap_or_default();
    let kubernetes_config = pool
        .kubernetes_config
        .as_ref()
        .map(|k| KubernetesConfig {
            labels: tag_pairs(k.labels.as_deref().unwrap_or_default()),
            taints: k.taints.clone().unwrap_or_default(),
            runtime: k.runtime.clone().unwrap_or_else(|| "containerd".into()),
            runtime_version: k.runtime_version.clone().unwrap_or_else(|| "1.6.38".into()),
            unschedulable: k.unschedulable.unwrap_or(false),
        })
        .unwrap_or_else(|| KubernetesConfig {
            runtime: "containerd".into(),
            runtime_version: "1.6.38".into(),
            ..KubernetesConfig::default()
        });
    let (min, max) = pool_bounds(pool.auto_scaling.as_ref());
    let auto_scaling = AutoScaling {
        enable: pool.auto_scaling.as_ref().and_then(|a| a.enable) == Some(true),
        min_instances: min,
        max_instances: max,
        kind: pool
            .auto_scaling
            .as_ref()
            .and_then(|a| a.kind.clone())
            .unwrap_or_else(|| "cpu".into()),
    };
    let user_tags = tag_pairs(sg.tags.as_deref().unwrap_or_default());
    let group_id = new_id("asg", region);
    let config_id = new_id("asc", region);
    let group = ScalingGroup {
        id: group_id.clone(),
        name: format!("nodepool-{id}"),
        region_id: c.region_id.clone(),
        min_size: min,
        max_size: max,
        desired: pool_desired(pool, min),
        state: GroupState::Active,
        active_configuration_id: Some(config_id.clone()),
        vswitch_ids: sg
            .vswitch_ids
            .clone()
            .unwrap_or_else(|| c.vswitch_ids.clone()),
        multi_az_policy: sg
            .multi_az_policy
            .clone()
            .unwrap_or_else(|| "PRIORITY".into())
            .to_ascii_uppercase(),
        default_cooldown: 300,
        removal_policies: vec!["OldestScalingConfiguration".into(), "OldestInstance".into()],
        tags: vec![
            (CLUSTER_TAG.to_owned(), cluster_id.to_owned()),
            (NODEPOOL_TAG.to_owned(), id.clone()),
        ],
        created_ms: call.now_ms,
    };
    let config = ScalingConfiguration {
        id: config_id,
        name: format!("nodepool-{id}"),
        group_id: group_id.clone(),
        instance_types: sg.instance_types.clone().unwrap_or_default(),
        image_id: sg
            .image_id
            .clone()
            .unwrap_or_else(|| "aliyun_3_x64_20G_alibase_20240819.vhd".into()),
        security_group_id: sg
            .security_group_id
            .clone()
            .or_else(|| {
                sg.security_group_ids
                    .as_ref()
                    .and_then(|s| s.first().cloned())
            })
            .unwrap_or_else(|| c.security_group_id.clone()),
        system_disk_category: sg
            .system_disk_category
            .clone()
            .unwrap_or_else(|| "cloud_essd".into()),
        tags: pool_instance_tags(
            cluster_id,
            &id,
            &kubernetes_config,
            &auto_scaling,
            &user_tags,
        ),
        spot_strategy: sg.spot_strategy.clone().unwrap_or_else(|| "NoSpot".into()),
        instance_name: format!("worker-k8s-for-cs-{cluster_id}"),
        host_name: String::new(),
        created_ms: call.now_ms,
    };
    world.groups.insert(group_id.clone(), group);
    world.configurations.insert(config.id.clone(), config);
    let np = NodePool {
        id: id.clone(),
        cluster_id: cluster_id.to_owned(),
        name,
        is_default,
        scaling_group_id: group_id.clone(),
        kubernetes_config,
        auto_scaling,
        created_ms: call.now_ms,
        updated_ms: call.now_ms,
    };
    world.clusters.node_pools.insert(id, np.clone());
    world.reconcile_group(
        &group_id,
        "The node pool was created.",
        call.settings,
        call.now_ms,
    )?;
    Ok(np)
}

pub(super) fn create_node_pool(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let c = serving_cluster(world, call)?.clone();
    let region = catalog::region(&c.region_id).ok_or_else(ApiError::internal)?;
    let body: NodePoolBody = parse_body(call.body)?;
    let name = check_pool(world, region, &c.vswitch_ids, &body, "nodepool")?;
    if world
        .clusters
        .node_pools
        .values()
        .any(|np| np.cluster_id == c.id && np.name == name)
    {
        return Err(ApiError::new(
            400,
            "ErrorNodePoolNameAlreadyExist",
            format!(
                "The cluster {} already has a node pool named \"{name}\".",
                c.id
            ),
        ));
    }
    let np = add_pool(world, &c.id, &body, false, call)?;
    let task_id = new_task(world, &c.id, Some(&np.id), "nodepool_create", call.now_ms);
    Ok(json!({ "nodepool_id": np.id, "task_id": task_id, "request_id": "" }))
}

pub(super) fn node_pool_json(world: &World, np: &NodePool, call: &RoaCall<'_>) -> Value {
    let group = world.groups.get(&np.scaling_group_id);
    let config = group
        .and_then(|g| g.active_configuration_id.as_ref())
        .and_then(|id| world.configurations.get(id));
    let members = world.members(&np.scaling_group_id);
    let running = members
        .iter()
        .filter(|i| i.status(call.now_ms, call.settings.timing) == InstanceStatus::Running)
        .count();
    let desired = group.map_or(0, |g| g.desired);
    let settled = pool_settled(world, np, call.settings, call.now_ms);
    let removing = members.len() > desired as usize;
    let state = match (settled, removing) {
        (true, _) => "active",
        (false, true) => "removing",
        (false, false) => "scaling",
    };
    let tags: Vec<(String, String)> = config.map(|c| c.tags.clone()).unwrap_or_default();
    let user_tags: Vec<Value> = tags
        .iter()
        .filter(|(k, _)| {
            k != CLUSTER_TAG && k != NODEPOOL_TAG && !k.starts_with("k8s.io/cluster-autoscaler/")
        })
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    let kc = &np.kubernetes_config;
    json!({
        "nodepool_info": {
            "nodepool_id": np.id,
            "name": np.name,
            "type": "ess",
            "is_default": np.is_default,
            "region_id": group.map(|g| g.region_id.clone()).unwrap_or_default(),
            "resource_group_id": "",
            "created": format_seconds(np.created_ms),
            "updated": format_seconds(np.updated_ms),
        },
        "status": {
            "state": state,
            "total_nodes": members.len(),
            "serving_nodes": running,
            "healthy_nodes": running,
            "initial_nodes": members.len() - running,
            "failed_nodes": 0,
            "offline_nodes": 0,
            "removing_nodes": 0,
        },
        "scaling_group": {
            "scaling_group_id": np.scaling_group_id,
            "desired_size": desired,
            "vswitch_ids": group.map(|g| g.vswitch_ids.clone()).unwrap_or_default(),
            "instance_types": config.map(|c| c.instance_types.clone()).unwrap_or_default(),
            "instance_charge_type": "PostPaid",
            "image_id": config.map(|c| c.image_id.clone()).unwrap_or_default(),
            "security_group_id": config.map(|c| c.security_group_id.clone()).unwrap_or_default(),
            "system_disk_category": config.map(|c| c.system_disk_category.clone()).unwrap_or_default(),
            "spot_strategy": config.map(|c| c.spot_strategy.clone()).unwrap_or_default(),
            "multi_az_policy": group.map(|g| g.multi_az_policy.clone()).unwrap_or_default(),
            "tags": user_tags,
        },
        "auto_scaling": {
            "enable": np.auto_scaling.enable,
            "min_instances": np.auto_scaling.min_instances,
            "max_instances": np.auto_scaling.max_instances,
            "type": np.auto_scaling.kind,
        },
        "kubernetes_config": {
            "labels": kc.labels.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
            "taints": kc.taints,
            "runtime": kc.runtime,
            "runtime_version": kc.runtime_version,
            "unschedulable": kc.unschedulable,
        },
        "management": {"enable": false},
    })
}

pub(super) fn describe_node_pools(world: &World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let c = cluster(world, call)?;
    let pools: Vec<Value> = world
        .clusters
        .node_pools
        .values()
        .filter(|np| np.cluster_id == c.id)
        .filter(|np| call.query.get("NodepoolName").is_none_or(|n| n == np.name))
        .map(|np| node_pool_json(world, np, call))
        .collect();
    Ok(json!({ "nodepools": pools }))
}

pub(super) fn modify_node_pool(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    serving_cluster(world, call)?;
    let np = node_pool(world, call)?.clone();
    let body: NodePoolBody = parse_body(call.body)?;
    let group = world
        .groups
        .get(&np.scaling_group_id)
        .cloned()
        .ok_or_else(ApiError::internal)?;
    let mut updated = np.clone();
    if let Some(name) = &body.nodepool_info.name {
        check_name("nodepool_info.name", name)?;
        if world.clusters.node_pools.values().any(|other| {
            other.cluster_id == np.cluster_id && other.id != np.id && &other.name == name
        }) {
            return Err(ApiError::new(
                400,
                "ErrorNodePoolNameAlreadyExist",
                format!("The cluster already has a node pool named \"{name}\"."),
            ));
        }
        updated.name = name.clone();
    }
    if let Some(a) = &body.auto_scaling {
        let enable = a.enable.unwrap_or(np.auto_scaling.enable);
        updated.auto_scaling = AutoScaling {
            enable,
            min_instances: a.min_instances.unwrap_or(np.auto_scaling.min_instances),
            max_instances: a.max_instances.unwrap_or(np.auto_scaling.max_instances),
            kind: a.kind.clone().unwrap_or(np.auto_scaling.kind.clone()),
        };
        if !enable {
            updated.auto_scaling.min_instances = 0;
            updated.auto_scaling.max_instances = MAX_POOL_SIZE;
        }
    }
    let (min, max) = (
        updated.auto_scaling.min_instances,
        updated.auto_scaling.max_instances,
    );
    if min > max {
        return Err(invalid(
            "auto_scaling.min_instances",
            format_args!("{min} must not exceed max_instances {max}"),
        ));
    }
    let desired = body.scaling_group.desired_size.unwrap_or(group.desired);
    if !(min..=max).contains(&desired) {
        return Err(invalid(
            "scaling_group.desired_size",
            format_args!("{desired} nodes is outside [{min}, {max}]"),
        ));
    }
    if let Some(k) = &body.kubernetes_config {
        let kc = &mut updated.kubernetes_config;
        if let Some(labels) = &k.labels {
            kc.labels = tag_pairs(labels);
        }
        if let Some(taints) = &k.taints {
            kc.taints = taints.clone();
        }
        if let Some(u) = k.unschedulable {
            kc.unschedulable = u;
        }
    }
    let region = catalog::region(&group.region_id).ok_or_else(ApiError::internal)?;
    if let Some(types) = &body.scaling_group.instance_types {
        let vswitches = body
            .scaling_group
            .vswitch_ids
            .clone()
            .unwrap_or(group.vswitch_ids.clone());
        let (_, zones) = zones_of(world, region, "scaling_group.vswitch_ids", &vswitches)?;
        check_instance_types("scaling_group.instance_types", types, region, &zones)?;
    } else if let Some(vswitches) = &body.scaling_group.vswitch_ids {
        zones_of(world, region, "scaling_group.vswitch_ids", vswitches)?;
    }

    // Valid: apply to the pool, its group and its configuration.
    updated.updated_ms = call.now_ms;
    let config_id = group.active_configuration_id.clone().unwrap_or_default();
    if let Some(config) = world.configurations.get_mut(&config_id) {
        if let Some(types) = &body.scaling_group.instance_types {
            config.instance_types = types.clone();
        }
        let user: Vec<(String, String)> = match &body.scaling_group.tags {
            Some(tags) => tag_pairs(tags),
            None => config
                .tags
                .iter()
                .filter(|(k, _)| {
                    k != CLUSTER_TAG
                        && k != NODEPOOL_TAG
                        && !k.starts_with("k8s.io/cluster-autoscaler/")
                })
                .cloned()
                .collect(),
        };
        config.tags = pool_instance_tags(
            &np.cluster_id,
            &np.id,
            &updated.kubernetes_config,
            &updated.auto_scaling,
            &user,
        );
    }
    if let Some(g) = world.groups.get_mut(&np.scaling_group_id) {
        g.min_size = min;
        g.max_size = max;
        if let Some(v) = &body.scaling_group.vswitch_ids {
            g.vswitch_ids = v.clone();
        }
    }
    world.clusters.node_pools.insert(np.id.clone(), updated);
    let task_id = resize(
        world,
        &np,
        desired,
        "ModifyClusterNodePool changed the node pool.",
        "nodepool_update",
        call,
    )?;
    Ok(json!({ "nodepool_id": np.id, "task_id": task_id, "request_id": "" }))
}

/// Sets a pool's desired size, converges its ESS group to it and records the task.
fn resize(
    world: &mut World,
    np: &NodePool,
    desired: u32,
    cause: &str,
    task_type: &str,
    call: &RoaCall<'_>,
) -> ApiResult<String> {
    if let Some(g) = world.groups.get_mut(&np.scaling_group_id) {
        g.desired = desired;
    }
    world.reconcile_group(&np.scaling_group_id, cause, call.settings, call.now_ms)?;
    Ok(new_task(
        world,
        &np.cluster_id,
        Some(&np.id),
        task_type,
        call.now_ms,
    ))
}

pub(super) fn scale_node_pool(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    serving_cluster(world, call)?;
    let np = node_pool(world, call)?.clone();
    let body: ScaleBody = parse_body(call.body)?;
    let count = body.count.ok_or_else(|| ApiError::missing("count"))?;
    let group = world
        .groups
        .get(&np.scaling_group_id)
        .cloned()
        .ok_or_else(ApiError::internal)?;
    let target = i64::from(group.desired) + count;
    if count < 1 || target > i64::from(group.max_size) {
        return Err(invalid(
            "count",
            format_args!(
                "{count} must be at least 1 and keep the pool at most {} nodes (it wants {})",
                group.max_size, group.desired
            ),
        ));
    }
    let task_id = resize(
        world,
        &np,
        u32::try_from(target).unwrap_or(u32::MAX),
        &format!("ScaleClusterNodePool added {count} nodes."),
        "nodepool_scaleout",
        call,
    )?;
    Ok(json!({ "task_id": task_id, "request_id": "" }))
}

pub(super) fn delete_node_pool(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    serving_cluster(world, call)?;
    let np = node_pool(world, call)?.clone();
    let nodes = world.members(&np.scaling_group_id).len();
    if nodes > 0 && call.query.bool("force")? != Some(true) {
        return Err(ApiError::new(
            400,
            "ErrorNodePoolNotEmpty",
            format!(
                "The node pool {} still has {nodes} nodes; remove them first or pass force=true.",
                np.id
            ),
        ));
    }
    let task_id = new_task(
        world,
        &np.cluster_id,
        Some(&np.id),
        "nodepool_delete",
        call.now_ms,
    );
    delete_group(world, &np.scaling_group_id);
    world.clusters.node_pools.remove(&np.id);
    Ok(json!({ "task_id": task_id, "request_id": "" }))
}

pub(super) fn remove_nodes(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let c = serving_cluster(world, call)?.clone();
    let np = node_pool(world, call)?.clone();
    let q = call.query;
    let mut ids = q.list_or_json("instance_ids")?;
    for name in q.list_or_json("nodes")? {
        let prefix = format!("{}.", c.region_id);
        ids.push(name.strip_prefix(&prefix).unwrap_or(&name).to_owned());
    }
    if ids.is_empty() {
        return Err(ApiError::missing("instance_ids"));
    }
    let group = world
        .groups
        .get(&np.scaling_group_id)
        .cloned()
        .ok_or_else(ApiError::internal)?;
    for id in &ids {
        let member = world
            .instances
            .get(id)
            .and_then(|i| i.membership.as_ref())
            .is_some_and(|m| m.group_id == group.id);
        if !member {
            return Err(invalid(
                "instance_ids",
                format_args!("{id} is not a node of node pool {}", np.id),
            ));
        }
    }
    let remaining = world.members(&group.id).len() - ids.len();
    if remaining < group.min_size as usize {
        return Err(invalid(
            "instance_ids",
            format_args!(
                "removing {} nodes would leave {remaining}, below the pool's minimum {}",
                ids.len(),
                group.min_size
            ),
        ));
    }
    let release = q.bool("release_node")?.unwrap_or(true);
    world.remove_members(&ids, release);
    let task_id = resize(
        world,
        &np,
        u32::try_from(remaining).unwrap_or(u32::MAX),
        &format!("RemoveNodePoolNodes removed {} nodes.", ids.len()),
        "nodepool_remove_nodes",
        call,
    )?;
    Ok(json!({ "task_id": task_id, "request_id": "" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autoscaled_pools_advertise_their_template_in_tags() {
        let config = KubernetesConfig {
            labels: vec![("gpu".into(), "true".into())],
            taints: vec![Taint {
                key: "dedicated".into(),
                value: "ml".into(),
                effect: "NoSchedule".into(),
            }],
            ..KubernetesConfig::default()
        };
        let auto = AutoScaling {
            enable: true,
            min_instances: 1,
            max_instances: 5,
            kind: "cpu".into(),
        };
        let tags = pool_instance_tags("c1", "np1", &config, &auto, &[]);
        let has = |k: &str, v: &str| tags.iter().any(|(a, b)| a == k && b == v);
        assert!(has(CLUSTER_TAG, "c1"));
        assert!(has(NODEPOOL_TAG, "np1"));
        assert!(has("k8s.io/cluster-autoscaler/enabled", "true"));
        assert!(has(
            "k8s.io/cluster-autoscaler/node-template/label/gpu",
            "true"
        ));
        assert!(has(
            "k8s.io/cluster-autoscaler/node-template/taint/dedicated",
            "ml:NoSchedule"
        ));
        let manual = pool_instance_tags("c1", "np1", &config, &AutoScaling::default(), &[]);
        assert!(
            !manual
                .iter()
                .any(|(k, _)| k == "k8s.io/cluster-autoscaler/enabled")
        );
    }
}
