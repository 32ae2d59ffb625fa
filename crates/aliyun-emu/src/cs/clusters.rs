//! CS cluster actions: create (managed, or dedicated with masters), describe, list, delete,
//! kubeconfig, and the cluster's nodes.

use super::request::*;
use super::*;
use crate::params::paginate;
use crate::vpc::default_vswitch_id;
use base64::Engine as _;

pub(super) fn create_cluster(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let body: CreateClusterBody = parse_body(call.body)?;
    let name = body.name.clone().ok_or_else(|| ApiError::missing("name"))?;
    check_name("name", &name)?;
    let region_id = body
        .region_id
        .as_deref()
        .ok_or_else(|| ApiError::missing("region_id"))?;
    let region = catalog::known_region("region", region_id)?;
    let cluster_type = match body.cluster_type.as_deref().unwrap_or("ManagedKubernetes") {
        "ManagedKubernetes" => ClusterType::ManagedKubernetes,
        "Kubernetes" => ClusterType::Kubernetes,
        other => {
            return Err(invalid(
                "cluster_type",
                format_args!("\"{other}\" must be ManagedKubernetes or Kubernetes"),
            ));
        }
    };
    if world
        .clusters
        .clusters
        .values()
        .any(|c| c.region_id == region.id && c.name == name)
    {
        return Err(ApiError::new(
            400,
            "ErrorClusterNameAlreadyExist",
            format!(
                "A cluster named \"{name}\" already exists in {}.",
                region.id
            ),
        ));
    }
    let kubernetes_version = body
        .kubernetes_version
        .clone()
        .unwrap_or_else(|| KUBERNETES_VERSIONS[0].to_owned());
    if !KUBERNETES_VERSIONS.contains(&kubernetes_version.as_str()) {
        return Err(invalid(
            "kubernetes_version",
            format_args!(
                "{kubernetes_version} is not offered; choose one of {}",
                KUBERNETES_VERSIONS.join(", ")
            ),
        ));
    }
    let service_cidr = body
        .service_cidr
        .clone()
        .unwrap_or_else(|| "172.21.0.0/20".into());
    let container_cidr = body
        .container_cidr
        .clone()
        .unwrap_or_else(|| "172.20.0.0/16".into());
    check_cidr("service_cidr", &service_cidr)?;
    check_cidr("container_cidr", &container_cidr)?;

    // Without vSwitches the cluster goes into the default vSwitches of the zones asked for (or
    // of the region's first zone), the way the console's quick create does.
    let vswitch_ids = if body.vswitch_ids.is_empty() {
        let zones: Vec<String> = body.zone_id.iter().chain(&body.zone_ids).cloned().collect();
        if zones.is_empty() {
            region
                .zones()
                .take(1)
                .map(|z| default_vswitch_id(&z))
                .collect()
        } else {
            zones.iter().map(|z| default_vswitch_id(z)).collect()
        }
    } else {
        body.vswitch_ids.clone()
    };
    let (vpc_id, zones) = zones_of(world, region, "vswitch_ids", &vswitch_ids)?;
    if let Some(given) = &body.vpcid
        && given != &vpc_id
    {
        return Err(invalid(
            "vpcid",
            format_args!("the vSwitches belong to {vpc_id}, not {given}"),
        ));
    }

    let masters = match cluster_type {
        ClusterType::ManagedKubernetes => None,
        ClusterType::Kubernetes => {
            let count = body.master_count.unwrap_or(3);
            if count != 3 && count != 5 {
                return Err(invalid(
                    "master_count",
                    format_args!("{count} must be 3 or 5"),
                ));
            }
            let master_vswitches = if body.master_vswitch_ids.is_empty() {
                vswitch_ids.clone()
            } else {
                body.master_vswitch_ids.clone()
            };
            let (_, master_zones) =
                zones_of(world, region, "master_vswitch_ids", &master_vswitches)?;
            check_instance_types(
                "master_instance_types",
                &body.master_instance_types,
                region,
                &master_zones,
            )?;
            Some((count, master_vswitches, master_zones))
        }
    };

    let mut pools = body.nodepools;
    if !body.worker_instance_types.is_empty() {
        pools.insert(
            0,
            NodePoolBody {
                nodepool_info: NodePoolInfoBody {
                    name: Some("default-nodepool".into()),
                    kind: None,
                },
                scaling_group: ScalingGroupBody {
                    vswitch_ids: (!body.worker_vswitch_ids.is_empty())
                        .then(|| body.worker_vswitch_ids.clone()),
                    instance_types: Some(body.worker_instance_types.clone()),
                    system_disk_category: body.worker_system_disk_category.clone(),
                    desired_size: Some(body.num_of_nodes.unwrap_or(0)),
                    image_id: body.image_id.clone(),
                    ..ScalingGroupBody::default()
                },
                ..NodePoolBody::default()
            },
        );
    }
    let mut names = Vec::new();
    for (i, pool) in pools.iter().enumerate() {
        let checked = check_pool(
            world,
            region,
            &vswitch_ids,
            pool,
            &format!("nodepools[{i}]"),
        )?;
        if names.contains(&checked) {
            return Err(invalid(
                &format!("nodepools[{i}].nodepool_info.name"),
                format_args!("the name \"{checked}\" is used twice"),
            ));
        }
        names.push(checked);
    }

    // Everything is valid: from here on, failures (no stock) fail the cluster, not the call.
    let id = hex_id("c", 32);
    let mut cluster = Cluster {
        id: id.clone(),
        name,
        region_id: region.id.to_owned(),
        zone_id: zones.first().cloned().unwrap_or_default(),
        cluster_type,
        cluster_spec: body.cluster_spec.unwrap_or_else(|| match cluster_type {
            ClusterType::ManagedKubernetes => "ack.pro.small".into(),
            ClusterType::Kubernetes => String::new(),
        }),
        profile: body.profile.unwrap_or_else(|| "Default".into()),
        kubernetes_version,
        vpc_id,
        vswitch_ids,
        service_cidr,
        container_cidr,
        security_group_id: body.security_group_id.unwrap_or_default(),
        tags: tag_pairs(&body.tags),
        deletion_protection: body.deletion_protection,
        master_instance_ids: Vec::new(),
        state: ClusterState::Initial,
        failure: None,
        api_token: hex_id("", 48),
        created_ms: call.now_ms,
        updated_ms: call.now_ms,
    };
    if let Some((count, master_vswitches, master_zones)) = masters {
        let spec = LaunchSpec {
            region_id: region.id.to_owned(),
            zone_id: master_zones[0].clone(),
            instance_type: body.master_instance_types[0].clone(),
            image_id: body
                .image_id
                .clone()
                .unwrap_or_else(|| "aliyun_3_x64_20G_alibase_20240819.vhd".into()),
            name: format!("master-{:02}-k8s-for-cs-{id}", 1),
            host_name: String::new(),
            vswitch_id: master_vswitches[0].clone(),
            vpc_id: String::new(), // resolved from the vSwitch at launch
            security_group_id: cluster.security_group_id.clone(),
            tags: vec![(CLUSTER_TAG.into(), id.clone())],
            charge_type: "PostPaid".into(),
            spot_strategy: "NoSpot".into(),
            system_disk_category: body
                .master_system_disk_category
                .unwrap_or_else(|| "cloud_essd".into()),
        };
        match world.launch(&spec, count as usize, None, call.settings, call.now_ms) {
            Ok(ids) => cluster.master_instance_ids = ids,
            Err(e) => {
                cluster.failure = Some(format!("The masters could not be created: {}", e.message))
            }
        }
    }
    world.clusters.clusters.insert(id.clone(), cluster);
    for (i, pool) in pools.iter().enumerate() {
        let np = add_pool(world, &id, pool, i == 0, call)?;
        if let Some(failure) = launch_failure(world, &np.scaling_group_id) {
            let c = world
                .clusters
                .clusters
                .get_mut(&id)
                .ok_or_else(ApiError::internal)?;
            c.failure
                .get_or_insert(format!("Node pool {}: {failure}", np.name));
        }
    }
    if world
        .clusters
        .clusters
        .get(&id)
        .is_some_and(|c| c.failure.is_some())
    {
        set_state(world, &id, ClusterState::Failed, call.now_ms);
    }
    let task_id = new_task(world, &id, None, "cluster_create", call.now_ms);
    Ok(json!({ "cluster_id": id, "task_id": task_id, "request_id": "" }))
}

pub(super) fn cluster_json(world: &World, c: &Cluster, host: &str) -> Value {
    let endpoint = api_server_endpoint(host, &c.id);
    let master_url = json!({
        "api_server_endpoint": endpoint,
        "intranet_api_server_endpoint": endpoint,
    });
    json!({
        "cluster_id": c.id,
        "name": c.name,
        "state": c.state.as_str(),
        "cluster_type": match c.cluster_type {
            ClusterType::ManagedKubernetes => "ManagedKubernetes",
            ClusterType::Kubernetes => "Kubernetes",
        },
        "cluster_spec": c.cluster_spec,
        "profile": c.profile,
        "region_id": c.region_id,
        "zone_id": c.zone_id,
        "vpc_id": c.vpc_id,
        "vswitch_ids": c.vswitch_ids,
        "vswitch_id": c.vswitch_ids.join(","),
        "security_group_id": c.security_group_id,
        "current_version": c.kubernetes_version,
        "init_version": c.kubernetes_version,
        "subnet_cidr": c.container_cidr,
        "service_cidr": c.service_cidr,
        "container_cidr": c.container_cidr,
        "size": cluster_node_ids(world, &c.id).len(),
        "master_url": master_url.to_string(),
        "created": format_seconds(c.created_ms),
        "updated": format_seconds(c.updated_ms),
        "deletion_protection": c.deletion_protection,
        "tags": c.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
        "network_mode": "vpc",
        "resource_group_id": "",
    })
}

pub(super) fn describe_clusters(world: &World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let q = call.query;
    let page_number = q.parse::<usize>("page_number")?.unwrap_or(1).max(1);
    let page_size = q.parse::<usize>("page_size")?.unwrap_or(10);
    if !(1..=100).contains(&page_size) {
        return Err(invalid(
            "page_size",
            format_args!("{page_size} must be between 1 and 100"),
        ));
    }
    let matches = |c: &&Cluster| {
        let type_name = match c.cluster_type {
            ClusterType::ManagedKubernetes => "ManagedKubernetes",
            ClusterType::Kubernetes => "Kubernetes",
        };
        q.get("name").is_none_or(|n| c.name.contains(n))
            && q.get("cluster_type").is_none_or(|t| t == type_name)
            && q.get("region_id").is_none_or(|r| r == c.region_id)
            && q.get("cluster_id").is_none_or(|id| id == c.id)
            && q.get("profile").is_none_or(|p| p == c.profile)
            && q.get("cluster_spec").is_none_or(|s| s == c.cluster_spec)
    };
    let mut found: Vec<&Cluster> = world.clusters.clusters.values().filter(matches).collect();
    found.sort_by(|a, b| {
        b.created_ms
            .cmp(&a.created_ms)
            .then_with(|| a.id.cmp(&b.id))
    });
    let total = found.len();
    let page: Vec<Value> = paginate(found, page_number, page_size)
        .into_iter()
        .map(|c| cluster_json(world, c, call.host))
        .collect();
    Ok(json!({
        "clusters": page,
        "page_info": {"page_number": page_number, "page_size": page_size, "total_count": total},
    }))
}

pub(super) fn describe_versions(call: &RoaCall<'_>) -> ApiResult<Value> {
    let q = call.query;
    let region = q.required("Region")?;
    catalog::known_region("region", region)?;
    let cluster_type = q.required("ClusterType")?;
    if !["ManagedKubernetes", "Kubernetes"].contains(&cluster_type) {
        return Err(invalid(
            "ClusterType",
            format_args!("\"{cluster_type}\" must be ManagedKubernetes or Kubernetes"),
        ));
    }
    let versions: Vec<Value> = KUBERNETES_VERSIONS
        .iter()
        .filter(|v| q.get("KubernetesVersion").is_none_or(|want| want == **v))
        .enumerate()
        .map(|(i, v)| {
            json!({
                "version": v,
                "runtimes": [{"name": "containerd", "version": "1.6.38"}],
                "images": [{"image_id": "aliyun_3_x64_20G_alibase_20240819.vhd", "image_name": "Alibaba Cloud Linux 3", "platform": "AliyunLinux", "os_type": "Linux", "image_type": "AliyunLinux3", "architecture": "x86_64"}],
                "creatable": true,
                "upgradable_versions": KUBERNETES_VERSIONS[..i].iter().rev().collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Value::Array(versions))
}

pub(super) fn delete_cluster(world: &mut World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let c = cluster(world, call)?.clone();
    if c.deletion_protection {
        return Err(ApiError::new(
            400,
            "ErrorDeletionProtection",
            format!(
                "The cluster {} has deletion protection on; turn it off before deleting.",
                c.id
            ),
        ));
    }
    let task_id = new_task(world, &c.id, None, "cluster_delete", call.now_ms);
    if c.state != ClusterState::Deleting {
        release_cluster(world, &c);
        set_state(world, &c.id, ClusterState::Deleting, call.now_ms);
    }
    Ok(json!({ "cluster_id": c.id, "task_id": task_id, "request_id": "" }))
}

/// Releases everything the cluster created: node pools, their groups and instances, masters.
pub(super) fn release_cluster(world: &mut World, c: &Cluster) {
    let groups: Vec<String> = world
        .clusters
        .node_pools
        .values()
        .filter(|np| np.cluster_id == c.id)
        .map(|np| np.scaling_group_id.clone())
        .collect();
    for group in groups {
        delete_group(world, &group);
    }
    world
        .clusters
        .node_pools
        .retain(|_, np| np.cluster_id != c.id);
    for id in &c.master_instance_ids {
        world.instances.remove(id);
    }
}

pub(super) fn delete_group(world: &mut World, group_id: &str) {
    let members: Vec<String> = world
        .members(group_id)
        .iter()
        .map(|i| i.id.clone())
        .collect();
    world.remove_members(&members, true);
    world.groups.remove(group_id);
    world.configurations.retain(|_, c| c.group_id != group_id);
    world.rules.retain(|_, r| r.group_id != group_id);
    world.activities.retain(|_, a| a.group_id != group_id);
}

pub(super) fn kubeconfig(world: &World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let c = cluster(world, call)?;
    if c.state != ClusterState::Running {
        return Err(ApiError::new(
            400,
            "ErrorClusterState",
            format!(
                "The cluster {} is {}; its kubeconfig is available once it is running.",
                c.id,
                c.state.as_str()
            ),
        ));
    }
    let minutes = call.query.parse::<i64>("TemporaryDurationMinutes")?;
    if let Some(m) = minutes
        && !(15..=4320).contains(&m)
    {
        return Err(invalid(
            "TemporaryDurationMinutes",
            format_args!("{m} must be between 15 and 4320"),
        ));
    }
    // Without a temporary duration the credential lasts three years, as ACK's do.
    let valid_ms = minutes.map_or(3 * 365 * 24 * 3_600_000, |m| m * 60_000);
    let user = "ackctl-emulator-user";
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {cluster}\ncontexts:\n- context:\n    cluster: {cluster}\n    user: {user}\n  name: {user}-{cluster}\ncurrent-context: {user}-{cluster}\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n    token: {token}\n",
        server = api_server_endpoint(call.host, &c.id),
        ca = base64::engine::general_purpose::STANDARD.encode(call.ca_pem),
        cluster = c.id,
        token = c.api_token,
    );
    Ok(json!({
        "config": config,
        "expiration": format_seconds(call.now_ms + valid_ms),
    }))
}

// ------------------------------------------------------------------------------------------
// Nodes.
// ------------------------------------------------------------------------------------------

/// The instances that are nodes of the cluster: masters, then node-pool members.
pub(crate) fn cluster_node_ids(world: &World, cluster_id: &str) -> Vec<(String, Option<String>)> {
    let Some(c) = world.clusters.clusters.get(cluster_id) else {
        return Vec::new();
    };
    let mut nodes: Vec<(String, Option<String>)> = c
        .master_instance_ids
        .iter()
        .filter(|id| world.instances.contains_key(*id))
        .map(|id| (id.clone(), None))
        .collect();
    for np in world
        .clusters
        .node_pools
        .values()
        .filter(|np| np.cluster_id == cluster_id)
    {
        nodes.extend(
            world
                .members(&np.scaling_group_id)
                .iter()
                .map(|i| (i.id.clone(), Some(np.id.clone()))),
        );
    }
    nodes
}

/// A node's name: `<region>.<instance-id>`, which is also its provider ID.
pub fn node_name(region_id: &str, instance_id: &str) -> String {
    format!("{region_id}.{instance_id}")
}

pub(super) fn describe_nodes(world: &World, call: &RoaCall<'_>) -> ApiResult<Value> {
    let c = cluster(world, call)?;
    let q = call.query;
    let page_number = q.parse::<usize>("pageNumber")?.unwrap_or(1).max(1);
    let page_size = q.parse::<usize>("pageSize")?.unwrap_or(10);
    if !(1..=100).contains(&page_size) {
        return Err(invalid(
            "pageSize",
            format_args!("{page_size} must be between 1 and 100"),
        ));
    }
    let wanted = |name: &str| -> Option<Vec<String>> {
        q.get(name)
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
    };
    let (ids, names) = (wanted("instanceIds"), wanted("nodeNames"));
    let nodes: Vec<Value> = cluster_node_ids(world, &c.id)
        .into_iter()
        .filter_map(|(id, pool)| {
            let i = world.instances.get(&id)?;
            let status = i.status(call.now_ms, call.settings.timing);
            let state = status.as_str().to_ascii_lowercase();
            let name = node_name(&c.region_id, &i.id);
            let keep = q.get("nodepool_id").is_none_or(|np| pool.as_deref() == Some(np))
                && q.get("state").is_none_or(|s| s == "all" || s == state)
                && ids.as_ref().is_none_or(|ids| ids.contains(&i.id))
                && names.as_ref().is_none_or(|names| names.contains(&name));
            keep.then(|| {
                json!({
                    "instance_id": i.id,
                    "instance_name": i.spec.name,
                    "host_name": i.spec.host_name,
                    "node_name": name,
                    "node_status": if status == InstanceStatus::Running { "Ready" } else { "Unknown" },
                    "state": state,
                    "instance_status": status.as_str(),
                    "instance_type": i.spec.instance_type,
                    "instance_type_family": catalog::instance_type(&i.spec.instance_type).map(|t| t.family).unwrap_or_default(),
                    "instance_role": if pool.is_some() { "Worker" } else { "Master" },
                    "instance_charge_type": i.spec.charge_type,
                    "spot_strategy": i.spec.spot_strategy,
                    "image_id": i.spec.image_id,
                    "ip_address": [i.private_ip],
                    "nodepool_id": pool.unwrap_or_default(),
                    "creation_time": format_seconds(i.created_ms),
                    "source": "ess_attach",
                    "is_aliyun_node": true,
                    "error_message": "",
                    "expired_time": "",
                })
            })
        })
        .collect();
    let total = nodes.len();
    let page = paginate(nodes, page_number, page_size);
    Ok(json!({
        "nodes": page,
        "page": {"page_number": page_number, "page_size": page_size, "total_count": total},
    }))
}
