//! ECS 2014-05-26: regions, zones, instance types, prices and instances.
//!
//! Arrays are wrapped the way ECS wraps them (`Instances.Instance[]`); memory is GiB (float) in
//! DescribeInstanceTypes but MiB (integer) in DescribeInstances, as on the real service.

use crate::catalog::{self, InstanceType, Region};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, paginate, region_param};
use crate::reply::Reply;
use crate::world::{Instance, LaunchSpec, World, format_minutes};
use serde::Serialize;
use serde_json::{Value, json};

/// The API version this module serves.
pub const VERSION: &str = "2014-05-26";

pub use crate::call::Call;

/// Handles an ECS action; `None` when ECS has no such action.
pub fn handle(action: &str, world: &mut World, call: &Call<'_>) -> Option<ApiResult<Reply>> {
    let value = match action {
        "DescribeRegions" => Ok(describe_regions()),
        "DescribeZones" => describe_zones(call),
        "DescribeInstanceTypes" => describe_instance_types(call.params),
        // The hot path of every controller's sync loop: serialized straight from borrowed views.
        "DescribeInstances" => return Some(describe_instances(world, call)),
        "RunInstances" => run_instances(world, call),
        "DeleteInstances" => delete_instances(world, call),
        "DescribePrice" => describe_price(call.params),
        _ => return None,
    };
    Some(value.map(Reply::from))
}

fn zone_param(params: &Params, region: &Region) -> ApiResult<Option<String>> {
    params
        .get("ZoneId")
        .map(|zone| catalog::check_zone(region, "ZoneId", zone).map(|()| zone.to_owned()))
        .transpose()
}

fn instance_type_param(params: &Params) -> ApiResult<&'static InstanceType> {
    let id = params.required("InstanceType")?;
    catalog::instance_type(id).ok_or_else(|| {
        ApiError::invalid(
            "InstanceType",
            format_args!("{id} does not exist; DescribeInstanceTypes lists the types on sale"),
        )
    })
}

fn describe_regions() -> Value {
    let regions: Vec<Value> = catalog::REGIONS
        .iter()
        .map(|r| {
            json!({
                "RegionId": r.id,
                "LocalName": r.local_name,
                "RegionEndpoint": format!("ecs.{}.aliyuncs.com", r.id),
                "Status": "available",
            })
        })
        .collect();
    json!({ "Regions": { "Region": regions } })
}

fn describe_zones(call: &Call<'_>) -> ApiResult<Value> {
    let region = region_param(call.params)?;
    let spot = call
        .params
        .get("SpotStrategy")
        .is_some_and(|s| s != "NoSpot");
    let zones: Vec<Value> = region
        .zones()
        .map(|zone| {
            let types: Vec<&str> = catalog::INSTANCE_TYPES
                .iter()
                .filter(|t| catalog::offered_in(t, region, &zone) && (!spot || t.spot))
                .map(|t| t.id)
                .collect();
            let letter = zone.rsplit('-').next().unwrap_or_default().to_ascii_uppercase();
            json!({
                "ZoneId": zone,
                "LocalName": format!("{} Zone {letter}", region.local_name),
                "ZoneType": "AvailabilityZone",
                "AvailableInstanceTypes": { "InstanceTypes": types },
                "AvailableResourceCreation": { "ResourceTypes": ["Instance", "Disk", "VSwitch"] },
                "AvailableDiskCategories": { "DiskCategories": ["cloud_essd", "cloud_efficiency", "cloud_auto"] },
            })
        })
        .collect();
    Ok(json!({ "Zones": { "Zone": zones } }))
}

fn instance_type_json(t: &InstanceType) -> Value {
    json!({
        "InstanceTypeId": t.id,
        "InstanceTypeFamily": t.family,
        "InstanceCategory": t.category,
        "InstanceFamilyLevel": "EnterpriseLevel",
        "CpuCoreCount": t.cpu,
        "MemorySize": t.memory_gib,
        "GPUAmount": t.gpu,
        "GPUSpec": t.gpu_spec,
        "GPUMemorySize": t.gpu_memory_gib,
        "CpuArchitecture": t.arch,
        "EniQuantity": t.eni,
        "EniPrivateIpAddressQuantity": t.eni_ips,
        "EniTotalQuantity": t.eni * 4,
        "LocalStorageCapacity": 0,
        "LocalStorageAmount": 0,
        "InstanceBandwidthRx": t.cpu * 512_000,
        "InstanceBandwidthTx": t.cpu * 512_000,
        "InstancePpsRx": t.cpu * 150_000,
        "InstancePpsTx": t.cpu * 150_000,
    })
}

fn describe_instance_types(params: &Params) -> ApiResult<Value> {
    let wanted = params.list("InstanceTypes");
    if wanted.len() > 10 {
        return Err(ApiError::invalid(
            "InstanceTypes",
            "at most 10 instance types per request",
        ));
    }
    let families: Vec<&str> = params
        .get("InstanceTypeFamily")
        .into_iter()
        .chain(params.list("InstanceTypeFamilies"))
        .collect();
    let min_cpu = params.parse::<u32>("MinimumCpuCoreCount")?;
    let max_cpu = params.parse::<u32>("MaximumCpuCoreCount")?;
    let min_mem = params.parse::<f64>("MinimumMemorySize")?;
    let max_mem = params.parse::<f64>("MaximumMemorySize")?;
    let min_gpu = params.parse::<u32>("MinimumGPUAmount")?;
    let max_gpu = params.parse::<u32>("MaximumGPUAmount")?;
    let arch = params.get("CpuArchitecture");
    let category = params.get("InstanceCategory");
    let gpu_spec = params.get("GPUSpec");
    let matching: Vec<Value> = catalog::INSTANCE_TYPES
        .iter()
        .filter(|t| wanted.is_empty() || wanted.contains(&t.id))
        .filter(|t| families.is_empty() || families.contains(&t.family))
        .filter(|t| min_cpu.is_none_or(|m| t.cpu >= m) && max_cpu.is_none_or(|m| t.cpu <= m))
        .filter(|t| {
            min_mem.is_none_or(|m| t.memory_gib >= m) && max_mem.is_none_or(|m| t.memory_gib <= m)
        })
        .filter(|t| min_gpu.is_none_or(|m| t.gpu >= m) && max_gpu.is_none_or(|m| t.gpu <= m))
        .filter(|t| arch.is_none_or(|a| t.arch.eq_ignore_ascii_case(a)))
        .filter(|t| category.is_none_or(|c| t.category == c))
        .filter(|t| gpu_spec.is_none_or(|g| t.gpu_spec == g))
        .map(instance_type_json)
        .collect();
    let (items, next) = token_page(params, matching, 1600)?;
    Ok(json!({ "InstanceTypes": { "InstanceType": items }, "NextToken": next }))
}

/// Pages by `MaxResults` / `NextToken`, where the token is the offset of the next item.
fn token_page(params: &Params, items: Vec<Value>, max: usize) -> ApiResult<(Vec<Value>, String)> {
    let (offset, end, next) = token_window(params, items.len(), max)?;
    Ok((items[offset..end].to_vec(), next))
}

/// The `[offset, end)` window of a `MaxResults` / `NextToken` page over `len` items, and the next token.
fn token_window(params: &Params, len: usize, max: usize) -> ApiResult<(usize, usize, String)> {
    let size = params.parse::<usize>("MaxResults")?.unwrap_or(max);
    if size == 0 || size > max {
        return Err(ApiError::invalid(
            "MaxResults",
            format_args!("must be between 1 and {max}"),
        ));
    }
    let offset = match params.get("NextToken") {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|o| *o <= len)
            .ok_or_else(|| {
                ApiError::invalid(
                    "NextToken",
                    "pass back the NextToken of the previous page unchanged",
                )
            })?,
    };
    let end = offset.saturating_add(size).min(len);
    let next = if end < len {
        end.to_string()
    } else {
        String::new()
    };
    Ok((offset, end, next))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct IpAddresses<'a> {
    ip_address: &'a [&'a str],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TagView<'a> {
    tag_key: &'a str,
    tag_value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VpcAttributesView<'a> {
    vpc_id: &'a str,
    #[serde(rename = "VSwitchId")]
    vswitch_id: &'a str,
    private_ip_address: IpAddresses<'a>,
    nat_ip_address: &'static str,
}

/// One instance as DescribeInstances shows it. ECS wraps every array in an object named after
/// its element (`SecurityGroupIds.SecurityGroupId[]`), hence the small view types around it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct InstanceView<'a> {
    instance_id: &'a str,
    instance_name: &'a str,
    host_name: &'a str,
    description: &'static str,
    instance_type: &'a str,
    instance_type_family: &'static str,
    cpu: u32,
    /// MiB, unlike DescribeInstanceTypes' GiB.
    memory: u64,
    #[serde(rename = "GPUAmount")]
    gpu_amount: u32,
    #[serde(rename = "GPUSpec")]
    gpu_spec: &'static str,
    status: &'static str,
    region_id: &'a str,
    zone_id: &'a str,
    image_id: &'a str,
    #[serde(rename = "OSType")]
    os_type: &'static str,
    #[serde(rename = "OSName")]
    os_name: &'static str,
    creation_time: String,
    start_time: String,
    expired_time: &'static str,
    instance_charge_type: &'a str,
    internet_charge_type: &'static str,
    spot_strategy: &'a str,
    instance_network_type: &'static str,
    io_optimized: bool,
    deletion_protection: bool,
    stopped_mode: &'static str,
    vpc_attributes: VpcAttributesView<'a>,
    security_group_ids: SecurityGroupIdsView<'a>,
    public_ip_address: IpAddresses<'a>,
    inner_ip_address: IpAddresses<'a>,
    operation_locks: LockReasons,
    tags: TagsView<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SecurityGroupIdsView<'a> {
    security_group_id: [&'a str; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LockReasons {
    lock_reason: [(); 0],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TagsView<'a> {
    tag: Vec<TagView<'a>>,
}

impl<'a> InstanceView<'a> {
    fn new(i: &'a Instance, private_ip: &'a [&'a str], call: &Call<'_>) -> Self {
        let t = catalog::instance_type(&i.spec.instance_type);
        let created = format_minutes(i.created_ms);
        Self {
            instance_id: &i.id,
            instance_name: &i.spec.name,
            host_name: &i.spec.host_name,
            description: "",
            instance_type: &i.spec.instance_type,
            instance_type_family: t.map(|t| t.family).unwrap_or_default(),
            cpu: t.map(|t| t.cpu).unwrap_or_default(),
            memory: t
                .map(|t| (t.memory_gib * 1024.0).round() as u64)
                .unwrap_or_default(),
            gpu_amount: t.map(|t| t.gpu).unwrap_or_default(),
            gpu_spec: t.map(|t| t.gpu_spec).unwrap_or_default(),
            status: i.status(call.now_ms, call.settings.timing).as_str(),
            region_id: &i.spec.region_id,
            zone_id: &i.spec.zone_id,
            image_id: &i.spec.image_id,
            os_type: "linux",
            os_name: "Alibaba Cloud Linux 3.2104 LTS 64 bit",
            start_time: created.clone(),
            creation_time: created,
            expired_time: "2099-12-31T15:59Z",
            instance_charge_type: &i.spec.charge_type,
            internet_charge_type: "PayByTraffic",
            spot_strategy: &i.spec.spot_strategy,
            instance_network_type: "vpc",
            io_optimized: true,
            deletion_protection: false,
            stopped_mode: "Not-applicable",
            vpc_attributes: VpcAttributesView {
                vpc_id: &i.spec.vpc_id,
                vswitch_id: &i.spec.vswitch_id,
                private_ip_address: IpAddresses {
                    ip_address: private_ip,
                },
                nat_ip_address: "",
            },
            security_group_ids: SecurityGroupIdsView {
                security_group_id: [&i.spec.security_group_id],
            },
            public_ip_address: IpAddresses { ip_address: &[] },
            inner_ip_address: IpAddresses { ip_address: &[] },
            operation_locks: LockReasons { lock_reason: [] },
            tags: TagsView {
                tag: i
                    .spec
                    .tags
                    .iter()
                    .map(|(k, v)| TagView {
                        tag_key: k,
                        tag_value: v,
                    })
                    .collect(),
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct InstancesView<'a> {
    instance: Vec<InstanceView<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeInstancesView<'a> {
    instances: InstancesView<'a>,
    total_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_number: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

fn describe_instances(world: &World, call: &Call<'_>) -> ApiResult<Reply> {
    let p = call.params;
    let region = region_param(p)?;
    let ids = p.list_or_json("InstanceIds")?;
    if ids.len() > 100 {
        return Err(ApiError::invalid(
            "InstanceIds",
            "at most 100 instance ids per request",
        ));
    }
    let ips = p.list_or_json("PrivateIpAddresses")?;
    let tags = p.tags("Tag");
    let filters = [
        ("ZoneId", p.get("ZoneId")),
        ("VSwitchId", p.get("VSwitchId")),
        ("InstanceType", p.get("InstanceType")),
        ("InstanceName", p.get("InstanceName")),
        ("SecurityGroupId", p.get("SecurityGroupId")),
    ];
    let status = p.get("Status");
    let vpc = p.get("VpcId");
    let mut matching: Vec<&Instance> = world
        .instances
        .values()
        .filter(|i| i.spec.region_id == region.id)
        .filter(|i| ids.is_empty() || ids.contains(&i.id))
        .filter(|i| ips.is_empty() || ips.contains(&i.private_ip))
        .filter(|i| {
            filters.iter().all(|(field, want)| {
                want.is_none_or(|w| {
                    w == match *field {
                        "ZoneId" => i.spec.zone_id.as_str(),
                        "VSwitchId" => i.spec.vswitch_id.as_str(),
                        "InstanceType" => i.spec.instance_type.as_str(),
                        "InstanceName" => i.spec.name.as_str(),
                        _ => i.spec.security_group_id.as_str(),
                    }
                })
            })
        })
        .filter(|i| vpc.is_none_or(|v| v == i.spec.vpc_id))
        .filter(|i| {
            status.is_none_or(|s| s == i.status(call.now_ms, call.settings.timing).as_str())
        })
        .filter(|i| {
            tags.iter().all(|(k, v)| {
                i.spec
                    .tags
                    .iter()
                    .any(|(tk, tv)| tk == k && (v.is_empty() || tv == v))
            })
        })
        .collect();
    matching.sort_by(|a, b| {
        a.created_ms
            .cmp(&b.created_ms)
            .then_with(|| a.id.cmp(&b.id))
    });
    let total = matching.len();
    let (page, page_number, page_size, next_token) =
        if p.get("MaxResults").is_some() || p.get("NextToken").is_some() {
            let (offset, end, next) = token_window(p, total, 100)?;
            (matching[offset..end].to_vec(), None, None, Some(next))
        } else {
            let (number, size) = p.page(10, 100)?;
            (
                paginate(matching, number, size),
                Some(number),
                Some(size),
                None,
            )
        };
    let ips: Vec<[&str; 1]> = page.iter().map(|i| [i.private_ip.as_str()]).collect();
    let instance = page
        .iter()
        .zip(&ips)
        .map(|(i, ip)| InstanceView::new(i, ip, call))
        .collect();
    Reply::serialize(&DescribeInstancesView {
        instances: InstancesView { instance },
        total_count: total,
        page_number,
        page_size,
        next_token,
    })
}

fn validate_one_of(
    params: &Params,
    name: &str,
    allowed: &[&str],
    default: &str,
) -> ApiResult<String> {
    match params.get(name) {
        None => Ok(default.to_owned()),
        Some(v) if allowed.contains(&v) => Ok(v.to_owned()),
        Some(v) => Err(ApiError::invalid(
            name,
            format_args!("\"{v}\" is not one of {}", allowed.join(", ")),
        )),
    }
}

fn run_instances(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let instance_type = instance_type_param(p)?;
    let image_id = p.required("ImageId")?;
    let amount = p.parse::<usize>("Amount")?.unwrap_or(1);
    if !(1..=100).contains(&amount) {
        return Err(ApiError::invalid("Amount", "must be between 1 and 100"));
    }
    let min_amount = p.parse::<usize>("MinAmount")?.unwrap_or(amount);
    if min_amount == 0 || min_amount > amount {
        return Err(ApiError::invalid(
            "MinAmount",
            format_args!("must be between 1 and Amount ({amount})"),
        ));
    }
    let charge_type = validate_one_of(
        p,
        "InstanceChargeType",
        &["PostPaid", "PrePaid"],
        "PostPaid",
    )?;
    let spot_strategy = validate_one_of(
        p,
        "SpotStrategy",
        &["NoSpot", "SpotAsPriceGo", "SpotWithPriceLimit"],
        "NoSpot",
    )?;
    if spot_strategy != "NoSpot" && (!instance_type.spot || charge_type != "PostPaid") {
        return Err(ApiError::invalid(
            "SpotStrategy",
            format_args!(
                "{} cannot be bought as a spot instance (spot needs a spot-capable type and PostPaid)",
                instance_type.id
            ),
        ));
    }
    let vswitch_id = p.get("VSwitchId").unwrap_or_default().to_owned();
    let zone_of = |id: &str| world.network.placement(region, id).map(|p| p.zone_id);
    let zone = match (zone_param(p, region)?, vswitch_id.is_empty()) {
        (Some(zone), true) => zone,
        (None, false) => zone_of(&vswitch_id)?,
        (Some(zone), false) => {
            let vswitch_zone = zone_of(&vswitch_id)?;
            if zone != vswitch_zone {
                return Err(ApiError::invalid(
                    "ZoneId",
                    format_args!(
                        "{zone} differs from the zone of vSwitch {vswitch_id} ({vswitch_zone}); omit ZoneId or pick a vSwitch in it"
                    ),
                ));
            }
            zone
        }
        (None, true) => return Err(ApiError::missing("VSwitchId")),
    };
    if !catalog::offered_in(instance_type, region, &zone) {
        return Err(ApiError::no_stock(&zone, instance_type.id));
    }
    if p.bool("DryRun")? == Some(true) {
        return Err(ApiError::new(
            412,
            "DryRunOperation",
            "Request validation has been passed with DryRun flag set.",
        ));
    }
    let spec = LaunchSpec {
        region_id: region.id.to_owned(),
        zone_id: zone.clone(),
        instance_type: instance_type.id.to_owned(),
        image_id: image_id.to_owned(),
        name: p.get("InstanceName").unwrap_or_default().to_owned(),
        host_name: p.get("HostName").unwrap_or_default().to_owned(),
        vswitch_id,
        vpc_id: String::new(), // resolved from the vSwitch at launch
        security_group_id: p.get("SecurityGroupId").unwrap_or_default().to_owned(),
        tags: p.tags("Tag"),
        charge_type,
        spot_strategy,
        system_disk_category: p
            .get("SystemDisk.Category")
            .unwrap_or("cloud_essd")
            .to_owned(),
    };
    let count = match world.stock_left(call.settings, &zone, instance_type.id) {
        Some(left) if left < amount && left >= min_amount => left,
        _ => amount,
    };
    let ids = world.launch(&spec, count, None, call.settings, call.now_ms)?;
    let price = round4(instance_type.hourly_price * count as f64);
    Ok(json!({
        "InstanceIdSets": { "InstanceIdSet": ids },
        "OrderId": format!("{}", 200_000_000_000_000u64 + (call.now_ms as u64 % 100_000_000_000_000)),
        "TradePrice": price,
    }))
}

fn delete_instances(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let ids: Vec<String> = p
        .list("InstanceId")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Err(ApiError::missing("InstanceId.1"));
    }
    if ids.len() > 100 {
        return Err(ApiError::invalid(
            "InstanceId",
            "at most 100 instances per request",
        ));
    }
    let force = p.bool("Force")?.unwrap_or(false);
    for id in &ids {
        let instance = world
            .instances
            .get(id)
            .filter(|i| i.spec.region_id == region.id)
            .ok_or_else(|| {
                ApiError::not_found(
                    "InvalidInstanceId.NotFound",
                    format_args!("InstanceId {id}"),
                )
            })?;
        if !force {
            return Err(ApiError::forbidden(
                "IncorrectInstanceStatus",
                format!(
                    "The current status of the resource does not support this operation: {id} is {}; stop it first or pass Force=true.",
                    instance.status(call.now_ms, call.settings.timing).as_str()
                ),
            ));
        }
    }
    if p.bool("DryRun")? == Some(true) {
        return Err(ApiError::new(
            412,
            "DryRunOperation",
            "Request validation has been passed with DryRun flag set.",
        ));
    }
    let mut groups = Vec::new();
    for id in &ids {
        if let Some(instance) = world.instances.remove(id) {
            groups.extend(instance.membership.map(|m| m.group_id));
        }
    }
    // ESS notices a member released behind its back and launches a replacement.
    groups.sort();
    groups.dedup();
    for group in groups {
        world.reconcile_group(
            &group,
            "An instance was released through ECS; the group restores its desired capacity.",
            call.settings,
            call.now_ms,
        )?;
    }
    Ok(json!({}))
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn describe_price(params: &Params) -> ApiResult<Value> {
    let region = region_param(params)?;
    let resource = params.get("ResourceType").unwrap_or("instance");
    if resource != "instance" {
        return Err(ApiError::invalid(
            "ResourceType",
            format_args!("\"{resource}\" is not priced by the emulator; use instance"),
        ));
    }
    let instance_type = instance_type_param(params)?;
    if let Some(zone) = zone_param(params, region)?
        && !catalog::offered_in(instance_type, region, &zone)
    {
        return Err(ApiError::no_stock(&zone, instance_type.id));
    }
    let hours = match params.get("PriceUnit").unwrap_or("Hour") {
        "Hour" => 1.0,
        "Week" => 24.0 * 7.0,
        "Month" => 24.0 * 30.0,
        "Year" => 24.0 * 365.0,
        other => {
            return Err(ApiError::invalid(
                "PriceUnit",
                format_args!("\"{other}\" is not one of Hour, Week, Month, Year"),
            ));
        }
    };
    let period = f64::from(params.parse::<u32>("Period")?.unwrap_or(1).max(1));
    let amount = f64::from(params.parse::<u32>("Amount")?.unwrap_or(1).max(1));
    let disk_gib = f64::from(params.parse::<u32>("SystemDisk.Size")?.unwrap_or(40));
    let disk_rate = match params.get("SystemDisk.Category").unwrap_or("cloud_essd") {
        "cloud_efficiency" => 0.0005,
        "cloud_auto" => 0.0012,
        _ => 0.0014,
    };
    let spot = params.get("SpotStrategy").is_some_and(|s| s != "NoSpot");
    if spot && !instance_type.spot {
        return Err(ApiError::invalid(
            "SpotStrategy",
            format_args!("{} is not sold as spot", instance_type.id),
        ));
    }
    let factor = hours * period * amount;
    let instance_original = round4(instance_type.hourly_price * factor);
    let instance_trade = if spot {
        round4(instance_original * catalog::SPOT_DISCOUNT)
    } else {
        instance_original
    };
    let disk = round4(disk_gib * disk_rate * factor);
    let detail = |resource: &str, original: f64, trade: f64| json!({ "Resource": resource, "OriginalPrice": original, "DiscountPrice": round4(original - trade), "TradePrice": trade });
    let original = round4(instance_original + disk);
    let trade = round4(instance_trade + disk);
    Ok(json!({
        "PriceInfo": {
            "Price": {
                "OriginalPrice": original,
                "DiscountPrice": round4(original - trade),
                "TradePrice": trade,
                "Currency": "CNY",
                "DetailInfos": { "DetailInfo": [detail("instanceType", instance_original, instance_trade), detail("systemDisk", disk, disk)] },
            },
            "Rules": { "Rule": [] },
        }
    }))
}
