//! SLB 2014-05-15: classic load balancers, listeners, VServer groups and their backends.
//!
//! ```text
//!   LoadBalancer (internet: TEST-NET address | intranet: address from its vSwitch)
//!    ├── Listener (port, tcp|udp|http) ─── forwards to ──┐   stopped ─Start─▶ running ─Stop─▶ stopped
//!    │        (or straight to BackendServerPort)         ▼
//!    └── VServerGroup (rsp-…) ── Backend { ServerId (ECS instance), Port, Weight, Type }
//! ```
//!
//! Internet addresses come from the documentation ranges 198.51.100.0/24, 203.0.113.0/24 and
//! 192.0.2.0/24 (RFC 5737), so nothing the emulator hands out can be mistaken for, or routed to,
//! a real host. Backends whose ECS instance has been released disappear from their groups, as
//! on the real SLB; the emulator prunes them lazily, at the start of every SLB call.

use crate::call::Call;
use crate::catalog::{self, Region};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, paginate, region_param};
use crate::reply::Reply;
use crate::vpc::Cidr;
use crate::world::{World, format_seconds, new_id};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The API version this module serves.
pub const VERSION: &str = "2014-05-15";

/// Instance specs CreateLoadBalancer accepts (absent = pay-by-LCU).
const SPECS: &[&str] = &[
    "slb.s1.small",
    "slb.s2.small",
    "slb.s2.medium",
    "slb.s3.small",
    "slb.s3.medium",
    "slb.s3.large",
    "slb.s3.xlarge",
    "slb.s3.xxlarge",
];

/// The RFC 5737 documentation ranges internet addresses are drawn from, in order.
const PUBLIC_RANGES: &[[u8; 3]] = &[[198, 51, 100], [203, 0, 113], [192, 0, 2]];

/// The emulated load balancers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancers {
    /// Load balancers by id.
    #[serde(default)]
    pub balancers: BTreeMap<String, LoadBalancer>,
    /// VServer groups by id.
    #[serde(default)]
    pub vserver_groups: BTreeMap<String, VServerGroup>,
    /// How many internet addresses have been handed out (the next one follows).
    #[serde(default)]
    pub public_addresses: u32,
}

/// A classic load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancer {
    /// `lb-…`.
    pub id: String,
    /// Region id.
    pub region_id: String,
    /// Name.
    pub name: String,
    /// `internet` or `intranet`.
    pub address_type: String,
    /// Service address.
    pub address: String,
    /// `vpc` (intranet) or `classic` (internet).
    pub network_type: String,
    /// VPC id (intranet only).
    pub vpc_id: String,
    /// vSwitch id (intranet only).
    pub vswitch_id: String,
    /// Instance spec; empty for pay-by-LCU.
    pub spec: String,
    /// Primary zone.
    pub master_zone_id: String,
    /// Backup zone.
    pub slave_zone_id: String,
    /// `paybytraffic` or `paybybandwidth`.
    pub internet_charge_type: String,
    /// Mbit/s, for `paybybandwidth`.
    pub bandwidth: i64,
    /// Whether DeleteLoadBalancer is refused.
    pub delete_protection: bool,
    /// Tags, in the order they were added.
    pub tags: Vec<(String, String)>,
    /// Listeners, by creation.
    pub listeners: Vec<Listener>,
    /// Creation time.
    pub created_ms: i64,
}

/// A listener: one frontend port and protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    /// Frontend port.
    pub port: u16,
    /// `tcp`, `udp` or `http`.
    pub protocol: String,
    /// Backend port when no VServer group is used.
    pub backend_port: Option<u16>,
    /// The VServer group it forwards to.
    pub vserver_group_id: String,
    /// Mbit/s; -1 = unlimited.
    pub bandwidth: i64,
    /// `stopped` or `running`.
    pub status: String,
    /// `wrr`, `wlc`, `rr`, …
    pub scheduler: String,
    /// Session persistence, seconds.
    pub persistence_timeout: u32,
    /// Connection idle timeout, seconds (TCP).
    pub established_timeout: u32,
    /// `on` or `off`.
    pub health_check: String,
    /// Description.
    pub description: String,
    /// HTTP only: `on` to redirect to `forward_port`.
    pub listener_forward: String,
    /// HTTP only: where to redirect.
    pub forward_port: Option<u16>,
    /// HTTP only: `on` or `off`.
    pub sticky_session: String,
}

/// A VServer group: backends with their own ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VServerGroup {
    /// `rsp-…`.
    pub id: String,
    /// The load balancer it belongs to.
    pub load_balancer_id: String,
    /// Region id.
    pub region_id: String,
    /// Name.
    pub name: String,
    /// Backends, in the order they were added.
    pub backends: Vec<Backend>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Creation time.
    pub created_ms: i64,
}

/// One backend server of a VServer group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backend {
    /// The ECS instance id.
    pub server_id: String,
    /// Backend port, 1..=65535.
    pub port: u16,
    /// 0..=100; 0 takes no new traffic.
    pub weight: u32,
    /// `ecs` (the only type the emulator checks and accepts).
    pub kind: String,
    /// Description.
    pub description: String,
}

impl LoadBalancers {
    /// Drops backends whose ECS instance no longer exists, as the real SLB does.
    pub fn prune_released(&mut self, instances: &BTreeMap<String, crate::world::Instance>) {
        for group in self.vserver_groups.values_mut() {
            group
                .backends
                .retain(|b| b.kind != "ecs" || instances.contains_key(&b.server_id));
        }
    }

    /// The next internet address from the documentation ranges (wrapping after 762).
    fn next_public_address(&mut self) -> String {
        let n = self.public_addresses as usize % (PUBLIC_RANGES.len() * 254);
        self.public_addresses = self.public_addresses.wrapping_add(1);
        let [a, b, c] = PUBLIC_RANGES[n / 254];
        format!("{a}.{b}.{c}.{}", n % 254 + 1)
    }
}

/// Handles an SLB action; `None` when SLB has no such action.
pub fn handle(action: &str, world: &mut World, call: &Call<'_>) -> Option<ApiResult<Reply>> {
    world.load_balancers.prune_released(&world.instances);
    let value = match action {
        "CreateLoadBalancer" => create_load_balancer(world, call),
        "DescribeLoadBalancers" => describe_load_balancers(world, call),
        "DescribeLoadBalancerAttribute" => describe_load_balancer_attribute(world, call),
        "DeleteLoadBalancer" => delete_load_balancer(world, call),
        "SetLoadBalancerDeleteProtection" => set_delete_protection(world, call),
        "SetLoadBalancerName" => set_load_balancer_name(world, call),
        "CreateLoadBalancerTCPListener" => create_listener(world, call, "tcp"),
        "CreateLoadBalancerUDPListener" => create_listener(world, call, "udp"),
        "CreateLoadBalancerHTTPListener" => create_listener(world, call, "http"),
        "StartLoadBalancerListener" => set_listener_status(world, call, "running"),
        "StopLoadBalancerListener" => set_listener_status(world, call, "stopped"),
        "DescribeLoadBalancerTCPListenerAttribute" => listener_attribute(world, call, "tcp"),
        "DescribeLoadBalancerUDPListenerAttribute" => listener_attribute(world, call, "udp"),
        "DescribeLoadBalancerHTTPListenerAttribute" => listener_attribute(world, call, "http"),
        "DescribeLoadBalancerListeners" => describe_listeners(world, call),
        "DeleteLoadBalancerListener" => delete_listener(world, call),
        "CreateVServerGroup" => create_vserver_group(world, call),
        "DescribeVServerGroups" => describe_vserver_groups(world, call),
        "DescribeVServerGroupAttribute" => describe_vserver_group_attribute(world, call),
        "AddVServerGroupBackendServers" => add_backends(world, call),
        "RemoveVServerGroupBackendServers" => remove_backends(world, call),
        "SetVServerGroupAttribute" => set_vserver_group_attribute(world, call),
        "ModifyVServerGroupBackendServers" => modify_backends(world, call),
        "DeleteVServerGroup" => delete_vserver_group(world, call),
        "TagResources" => tag_resources(world, call),
        "UntagResources" => untag_resources(world, call),
        "ListTagResources" => list_tag_resources(world, call),
        "AddTags" => add_tags(world, call),
        "RemoveTags" => remove_tags(world, call),
        "DescribeTags" => describe_tags(world, call),
        _ => return None,
    };
    Some(value.map(Reply::from))
}

// ------------------------------------------------------------------------------------------------
// Parameters
// ------------------------------------------------------------------------------------------------

/// A port parameter, 1..=65535.
fn port_param(params: &Params, name: &str) -> ApiResult<Option<u16>> {
    params
        .parse::<i64>(name)?
        .map(|p| {
            u16::try_from(p).ok().filter(|p| *p >= 1).ok_or_else(|| {
                ApiError::invalid(name, format_args!("{p} is not a port from 1 to 65535"))
            })
        })
        .transpose()
}

fn on_off(params: &Params, name: &str, default: &str) -> ApiResult<String> {
    match params.get(name).unwrap_or(default) {
        v @ ("on" | "off") => Ok(v.to_owned()),
        other => Err(ApiError::invalid(
            name,
            format_args!("\"{other}\" is not on or off"),
        )),
    }
}

fn lb_not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "InvalidLoadBalancerId.NotFound",
        format_args!("LoadBalancerId {id}"),
    )
}

/// The load balancer named by `LoadBalancerId`, checked against `RegionId` when one is given.
fn lb_id(world: &World, params: &Params) -> ApiResult<String> {
    let id = params.required("LoadBalancerId")?;
    let region = params.get("RegionId");
    world
        .load_balancers
        .balancers
        .get(id)
        .filter(|lb| region.is_none_or(|r| lb.region_id == r))
        .map(|lb| lb.id.clone())
        .ok_or_else(|| lb_not_found(id))
}

fn lb_mut<'a>(world: &'a mut World, id: &str) -> ApiResult<&'a mut LoadBalancer> {
    world
        .load_balancers
        .balancers
        .get_mut(id)
        .ok_or_else(|| lb_not_found(id))
}

/// The VServer group named by `VServerGroupId`. The real SLB answers an unknown group with
/// `InvalidParameter` and this message, which cloud-provider-alibaba-cloud matches on.
fn group_id(world: &World, params: &Params) -> ApiResult<String> {
    let id = params.required("VServerGroupId")?;
    let region = params.get("RegionId");
    world
        .load_balancers
        .vserver_groups
        .get(id)
        .filter(|g| region.is_none_or(|r| g.region_id == r))
        .map(|g| g.id.clone())
        .ok_or_else(|| vgroup_not_found(id))
}

fn vgroup_not_found(id: &str) -> ApiError {
    ApiError::new(
        400,
        "InvalidParameter",
        format!("The specified VServerGroupId does not exist: {id}."),
    )
}

fn tags_view(tags: &[(String, String)]) -> Value {
    json!({ "Tag": tags.iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect::<Vec<_>>() })
}

/// A JSON array of `{"TagKey","TagValue"}` (or `Key`/`Value`), as `Tags` parameters carry.
fn json_tags(params: &Params, name: &str) -> ApiResult<Vec<(String, String)>> {
    let Some(text) = params.get(name) else {
        return Ok(Vec::new());
    };
    let items: Vec<BTreeMap<String, Value>> = serde_json::from_str(text).map_err(|_| {
        ApiError::invalid(
            name,
            format_args!("expected a JSON array such as [{{\"TagKey\":\"k\",\"TagValue\":\"v\"}}], got {text}"),
        )
    })?;
    let field = |item: &BTreeMap<String, Value>, a: &str, b: &str| {
        item.get(a)
            .or_else(|| item.get(b))
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default()
    };
    Ok(items
        .iter()
        .map(|item| {
            (
                field(item, "TagKey", "Key"),
                field(item, "TagValue", "Value"),
            )
        })
        .collect())
}

fn has_tags(have: &[(String, String)], want: &[(String, String)]) -> bool {
    want.iter().all(|(k, v)| {
        have.iter()
            .any(|(hk, hv)| hk == k && (v.is_empty() || hv == v))
    })
}

/// Adds or replaces tags, keeping at most 20.
fn merge_tags(tags: &mut Vec<(String, String)>, new: &[(String, String)]) -> ApiResult<()> {
    for (k, v) in new {
        if k.is_empty() {
            return Err(ApiError::invalid("Tag.N.Key", "tag keys must not be empty"));
        }
        match tags.iter_mut().find(|(tk, _)| tk == k) {
            Some(slot) => slot.1 = v.clone(),
            None => tags.push((k.clone(), v.clone())),
        }
    }
    if tags.len() > 20 {
        return Err(ApiError::invalid(
            "Tag",
            "a resource carries at most 20 tags",
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Load balancers
// ------------------------------------------------------------------------------------------------

fn create_load_balancer(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let address_type = match p.get("AddressType").unwrap_or("internet") {
        t @ ("internet" | "intranet") => t.to_owned(),
        other => {
            return Err(ApiError::invalid(
                "AddressType",
                format_args!("\"{other}\" is not internet or intranet"),
            ));
        }
    };
    let spec = match p.get("LoadBalancerSpec") {
        None => String::new(),
        Some(s) if SPECS.contains(&s) => s.to_owned(),
        Some(s) => {
            return Err(ApiError::invalid(
                "LoadBalancerSpec",
                format_args!("\"{s}\" is not one of {}", SPECS.join(", ")),
            ));
        }
    };
    let zone_param = |name: &str| -> ApiResult<Option<String>> {
        p.get(name)
            .map(|z| catalog::check_zone(region, name, z).map(|()| z.to_owned()))
            .transpose()
    };
    let master_zone = zone_param("MasterZoneId")?;
    let slave_zone = zone_param("SlaveZoneId")?;
    let charge = match p
        .get("InternetChargeType")
        .unwrap_or("paybytraffic")
        .to_ascii_lowercase()
        .as_str()
    {
        c @ ("paybytraffic" | "paybybandwidth") => c.to_owned(),
        other => {
            return Err(ApiError::invalid(
                "InternetChargeType",
                format_args!("\"{other}\" is not paybytraffic or paybybandwidth"),
            ));
        }
    };
    let bandwidth = p.parse::<i64>("Bandwidth")?.unwrap_or(5120);
    if !(1..=5120).contains(&bandwidth) {
        return Err(ApiError::invalid(
            "Bandwidth",
            "must be from 1 to 5120 Mbit/s",
        ));
    }
    let delete_protection = on_off(p, "DeleteProtection", "off")? == "on";
    let name = p
        .get("LoadBalancerName")
        .unwrap_or("auto_named_slb")
        .to_owned();
    if name.chars().count() > 80 {
        return Err(ApiError::invalid(
            "LoadBalancerName",
            "at most 80 characters",
        ));
    }
    let tags = {
        let mut tags = Vec::new();
        merge_tags(&mut tags, &p.tags("Tag"))?;
        tags
    };
    let (network_type, vpc_id, vswitch_id, address, zone) = if address_type == "intranet" {
        let vswitch_id = p.required("VSwitchId").map_err(|_| {
            ApiError::new(
                400,
                "MissingParameter",
                "The input parameter \"VSwitchId\" that is mandatory for processing this request is not supplied: an intranet load balancer lives in a vSwitch (classic network is not emulated).",
            )
        })?;
        let placement = world.network.placement(region, vswitch_id)?;
        if let Some(vpc) = p.get("VpcId")
            && vpc != placement.vpc_id
        {
            return Err(ApiError::invalid(
                "VpcId",
                format_args!(
                    "{vpc} is not the VPC of vSwitch {vswitch_id} ({})",
                    placement.vpc_id
                ),
            ));
        }
        let address = intranet_address(world, region, vswitch_id, p.get("Address"))?;
        (
            "vpc",
            placement.vpc_id,
            vswitch_id.to_owned(),
            address,
            placement.zone_id,
        )
    } else {
        let zone = region.zones().next().unwrap_or_default();
        let address = world.load_balancers.next_public_address();
        ("classic", String::new(), String::new(), address, zone)
    };
    let lb = LoadBalancer {
        id: new_id("lb", region),
        region_id: region.id.to_owned(),
        name,
        address_type,
        address,
        network_type: network_type.to_owned(),
        vpc_id,
        vswitch_id,
        spec,
        master_zone_id: master_zone.unwrap_or(zone),
        slave_zone_id: slave_zone.unwrap_or_default(),
        internet_charge_type: charge,
        bandwidth,
        delete_protection,
        tags,
        listeners: Vec::new(),
        created_ms: call.now_ms,
    };
    let reply = json!({
        "LoadBalancerId": lb.id,
        "LoadBalancerName": lb.name,
        "Address": lb.address,
        "AddressIPVersion": "ipv4",
        "NetworkType": lb.network_type,
        "VpcId": lb.vpc_id,
        "VSwitchId": lb.vswitch_id,
        "ResourceGroupId": "rg-acfmemulator",
        "OrderId": 0,
    });
    world.load_balancers.balancers.insert(lb.id.clone(), lb);
    Ok(reply)
}

/// The address of a new intranet load balancer: the caller's (inside the vSwitch and free) or
/// the first free one after the vSwitch's first address.
fn intranet_address(
    world: &World,
    region: &Region,
    vswitch_id: &str,
    wanted: Option<&str>,
) -> ApiResult<String> {
    let vswitch = world.network.vswitch(region, vswitch_id)?;
    let cidr = Cidr::parse(&vswitch.cidr).map_err(|_| ApiError::internal())?;
    let used: BTreeSet<&str> = world
        .load_balancers
        .balancers
        .values()
        .filter(|lb| lb.vswitch_id == vswitch_id)
        .map(|lb| lb.address.as_str())
        .collect();
    if let Some(address) = wanted {
        let inside = Cidr::parse(address).is_ok_and(|a| cidr.contains(a));
        if !inside {
            return Err(ApiError::invalid(
                "Address",
                format_args!("{address} is not inside vSwitch {vswitch_id} ({cidr})"),
            ));
        }
        if used.contains(address) {
            return Err(ApiError::invalid(
                "Address",
                format_args!("{address} is already used by another load balancer"),
            ));
        }
        return Ok(address.to_owned());
    }
    // The first address and the last three are reserved, as in every vSwitch.
    (1..cidr.size().saturating_sub(3))
        .filter_map(|n| cidr.host(n))
        .find(|a| !used.contains(a.as_str()))
        .ok_or_else(|| {
            ApiError::forbidden(
                "OperationDenied.NoAvailableIp",
                format!("vSwitch {vswitch_id} has no free address left"),
            )
        })
}

fn lb_summary(lb: &LoadBalancer) -> Value {
    json!({
        "LoadBalancerId": lb.id,
        "LoadBalancerName": lb.name,
        "LoadBalancerStatus": "active",
        "Address": lb.address,
        "AddressType": lb.address_type,
        "AddressIPVersion": "ipv4",
        "RegionId": lb.region_id,
        "RegionIdAlias": lb.region_id,
        "NetworkType": lb.network_type,
        "VpcId": lb.vpc_id,
        "VSwitchId": lb.vswitch_id,
        "LoadBalancerSpec": lb.spec,
        "MasterZoneId": lb.master_zone_id,
        "SlaveZoneId": lb.slave_zone_id,
        "InternetChargeType": lb.internet_charge_type,
        "InternetChargeTypeAlias": lb.internet_charge_type,
        "Bandwidth": lb.bandwidth,
        "PayType": "PayOnDemand",
        "InstanceChargeType": if lb.spec.is_empty() { "PayByCLCU" } else { "PayBySpec" },
        "DeleteProtection": if lb.delete_protection { "on" } else { "off" },
        "ModificationProtectionStatus": "NonProtection",
        "ModificationProtectionReason": "",
        "ResourceGroupId": "rg-acfmemulator",
        "CreateTime": format_seconds(lb.created_ms),
        "CreateTimeStamp": lb.created_ms,
        "Tags": tags_view(&lb.tags),
    })
}

fn describe_load_balancers(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let ids: Vec<&str> = p
        .get("LoadBalancerId")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut tags = json_tags(p, "Tags")?;
    tags.extend(p.tags("Tag"));
    let filters = [
        ("LoadBalancerName", p.get("LoadBalancerName")),
        ("AddressType", p.get("AddressType")),
        ("VpcId", p.get("VpcId")),
        ("VSwitchId", p.get("VSwitchId")),
        ("NetworkType", p.get("NetworkType")),
        ("Address", p.get("Address")),
        ("MasterZoneId", p.get("MasterZoneId")),
    ];
    let server = p.get("ServerId");
    let (number, size) = p.page(50, 100)?;
    let groups = &world.load_balancers.vserver_groups;
    let matching: Vec<&LoadBalancer> = world
        .load_balancers
        .balancers
        .values()
        .filter(|lb| lb.region_id == region.id)
        .filter(|lb| ids.is_empty() || ids.contains(&lb.id.as_str()))
        .filter(|lb| {
            filters.iter().all(|(field, want)| {
                want.is_none_or(|w| {
                    w == match *field {
                        "LoadBalancerName" => lb.name.as_str(),
                        "AddressType" => lb.address_type.as_str(),
                        "VpcId" => lb.vpc_id.as_str(),
                        "VSwitchId" => lb.vswitch_id.as_str(),
                        "NetworkType" => lb.network_type.as_str(),
                        "Address" => lb.address.as_str(),
                        _ => lb.master_zone_id.as_str(),
                    }
                })
            })
        })
        .filter(|lb| has_tags(&lb.tags, &tags))
        .filter(|lb| {
            server.is_none_or(|s| {
                groups.values().any(|g| {
                    g.load_balancer_id == lb.id && g.backends.iter().any(|b| b.server_id == s)
                })
            })
        })
        .collect();
    let total = matching.len();
    let page: Vec<Value> = paginate(matching, number, size)
        .into_iter()
        .map(lb_summary)
        .collect();
    Ok(json!({
        "LoadBalancers": { "LoadBalancer": page },
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

fn describe_load_balancer_attribute(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = lb_id(world, call.params)?;
    let lb = &world.load_balancers.balancers[&id];
    let mut value = lb_summary(lb);
    let ports: Vec<u16> = lb.listeners.iter().map(|l| l.port).collect();
    let legacy: Vec<Value> = lb
        .listeners
        .iter()
        .map(|l| json!({"ListenerPort": l.port, "ListenerProtocal": l.protocol}))
        .collect();
    let listeners: Vec<Value> = lb
        .listeners
        .iter()
        .map(|l| {
            json!({
                "ListenerPort": l.port,
                "ListenerProtocol": l.protocol,
                "ListenerForward": l.listener_forward,
                "ForwardPort": l.forward_port.unwrap_or_default(),
                "Description": l.description,
            })
        })
        .collect();
    if let Some(object) = value.as_object_mut() {
        object.insert("ListenerPorts".into(), json!({ "ListenerPort": ports }));
        object.insert(
            "ListenerPortsAndProtocal".into(),
            json!({ "ListenerPortAndProtocal": legacy }),
        );
        object.insert(
            "ListenerPortsAndProtocol".into(),
            json!({ "ListenerPortAndProtocol": listeners }),
        );
        // The default server group (Add/SetBackendServers) is not emulated: VServer groups are.
        object.insert("BackendServers".into(), json!({ "BackendServer": [] }));
        object.insert("EndTime".into(), json!("2999-09-08T16:00:00Z"));
        object.insert("EndTimeStamp".into(), json!(32_493_801_600_000i64));
        object.insert("RenewalStatus".into(), json!("AutoRenewal"));
    }
    Ok(value)
}

fn delete_load_balancer(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = lb_id(world, call.params)?;
    if world.load_balancers.balancers[&id].delete_protection {
        return Err(ApiError::new(
            400,
            "OperationDenied.DeleteProtectionIsOn",
            "The loadbalancer can't be deleted due to DeleteProtection is enabled. Turn it off with SetLoadBalancerDeleteProtection first.",
        ));
    }
    world.load_balancers.balancers.remove(&id);
    world
        .load_balancers
        .vserver_groups
        .retain(|_, g| g.load_balancer_id != id);
    Ok(json!({}))
}

fn set_delete_protection(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = lb_id(world, call.params)?;
    let on = call
        .params
        .get("DeleteProtection")
        .ok_or_else(|| ApiError::missing("DeleteProtection"))?;
    let on = on_off(call.params, "DeleteProtection", on)? == "on";
    lb_mut(world, &id)?.delete_protection = on;
    Ok(json!({}))
}

fn set_load_balancer_name(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = lb_id(world, call.params)?;
    let name = call.params.required("LoadBalancerName")?.to_owned();
    if name.chars().count() > 80 {
        return Err(ApiError::invalid(
            "LoadBalancerName",
            "at most 80 characters",
        ));
    }
    lb_mut(world, &id)?.name = name;
    Ok(json!({}))
}

// ------------------------------------------------------------------------------------------------
// Listeners
// ------------------------------------------------------------------------------------------------

/// TCP and HTTP(S) share the TCP port space; UDP has its own.
fn transport(protocol: &str) -> &'static str {
    if protocol == "udp" { "udp" } else { "tcp" }
}

fn create_listener(world: &mut World, call: &Call<'_>, protocol: &str) -> ApiResult<Value> {
    let p = call.params;
    let id = lb_id(world, p)?;
    let port = port_param(p, "ListenerPort")?.ok_or_else(|| ApiError::missing("ListenerPort"))?;
    let bandwidth = match (p.parse::<i64>("Bandwidth")?, protocol) {
        (Some(b), _) => b,
        (None, "tcp") => return Err(ApiError::missing("Bandwidth")),
        (None, _) => -1,
    };
    if bandwidth != -1 && !(1..=5120).contains(&bandwidth) {
        return Err(ApiError::invalid(
            "Bandwidth",
            format_args!("{bandwidth} is neither -1 (unlimited) nor 1 to 5120 Mbit/s"),
        ));
    }
    let vserver_group_id = p.get("VServerGroupId").unwrap_or_default().to_owned();
    let backend_port = port_param(p, "BackendServerPort")?;
    if vserver_group_id.is_empty() {
        if backend_port.is_none() {
            return Err(ApiError::new(
                400,
                "MissingParameter",
                "The input parameter \"BackendServerPort\" that is mandatory for processing this request is not supplied: give it, or a VServerGroupId.",
            ));
        }
    } else {
        let group = world
            .load_balancers
            .vserver_groups
            .get(&vserver_group_id)
            .ok_or_else(|| vgroup_not_found(&vserver_group_id))?;
        if group.load_balancer_id != id {
            return Err(ApiError::new(
                400,
                "InvalidParameter.VServerGroupId",
                format!(
                    "The specified parameter \"VServerGroupId\" is not valid: {vserver_group_id} belongs to {}, not {id}.",
                    group.load_balancer_id
                ),
            ));
        }
    }
    let scheduler = match p.get("Scheduler").unwrap_or("wrr") {
        s @ ("wrr" | "wlc" | "rr" | "sch" | "tch" | "qch") => s.to_owned(),
        other => {
            return Err(ApiError::invalid(
                "Scheduler",
                format_args!("\"{other}\" is not one of wrr, wlc, rr, sch, tch, qch"),
            ));
        }
    };
    let persistence_timeout = p.parse::<u32>("PersistenceTimeout")?.unwrap_or(0);
    if persistence_timeout > 3600 {
        return Err(ApiError::invalid(
            "PersistenceTimeout",
            "must be from 0 to 3600 seconds",
        ));
    }
    let established_timeout = p.parse::<u32>("EstablishedTimeout")?.unwrap_or(900);
    if !(10..=900).contains(&established_timeout) {
        return Err(ApiError::invalid(
            "EstablishedTimeout",
            "must be from 10 to 900 seconds",
        ));
    }
    let health_check = if protocol == "http" {
        on_off(p, "HealthCheck", "on")?
    } else {
        on_off(p, "HealthCheckSwitch", "on")?
    };
    let listener_forward = if protocol == "http" {
        on_off(p, "ListenerForward", "off")?
    } else {
        "off".to_owned()
    };
    let forward_port = port_param(p, "ForwardPort")?;
    if listener_forward == "on" && forward_port.is_none() {
        return Err(ApiError::missing("ForwardPort"));
    }
    let sticky_session = if protocol == "http" {
        on_off(p, "StickySession", "off")?
    } else {
        "off".to_owned()
    };
    let description = p.get("Description").unwrap_or_default().to_owned();
    let lb = lb_mut(world, &id)?;
    if let Some(existing) = lb
        .listeners
        .iter()
        .find(|l| l.port == port && transport(&l.protocol) == transport(protocol))
    {
        return Err(ApiError::new(
            400,
            "ListenerAlreadyExists",
            format!(
                "The listener already exists: {id} already has a {} listener on port {port}.",
                existing.protocol.to_ascii_uppercase()
            ),
        ));
    }
    lb.listeners.push(Listener {
        port,
        protocol: protocol.to_owned(),
        backend_port,
        vserver_group_id,
        bandwidth,
        status: "stopped".to_owned(),
        scheduler,
        persistence_timeout,
        established_timeout,
        health_check,
        description,
        listener_forward,
        forward_port,
        sticky_session,
    });
    Ok(json!({}))
}

fn listener_not_found(lb: &str, port: u16, protocol: Option<&str>) -> ApiError {
    ApiError::new(
        404,
        "InvalidListener.NotFound",
        format!(
            "The specified resource does not exist: no {}listener on port {port} of {lb}.",
            protocol
                .map(|p| format!("{} ", p.to_ascii_uppercase()))
                .unwrap_or_default()
        ),
    )
}

/// The index of the listener named by `ListenerPort` and optional `ListenerProtocol`.
fn find_listener(lb: &LoadBalancer, params: &Params, protocol: Option<&str>) -> ApiResult<usize> {
    let port =
        port_param(params, "ListenerPort")?.ok_or_else(|| ApiError::missing("ListenerPort"))?;
    let protocol = protocol
        .map(str::to_owned)
        .or_else(|| params.get("ListenerProtocol").map(str::to_ascii_lowercase));
    let matches: Vec<usize> = lb
        .listeners
        .iter()
        .enumerate()
        .filter(|(_, l)| l.port == port && protocol.as_deref().is_none_or(|p| l.protocol == p))
        .map(|(n, _)| n)
        .collect();
    match matches.as_slice() {
        [n] => Ok(*n),
        [] => Err(listener_not_found(&lb.id, port, protocol.as_deref())),
        _ => Err(ApiError::missing("ListenerProtocol")),
    }
}

fn set_listener_status(world: &mut World, call: &Call<'_>, status: &str) -> ApiResult<Value> {
    let id = lb_id(world, call.params)?;
    let lb = lb_mut(world, &id)?;
    let n = find_listener(lb, call.params, None)?;
    lb.listeners[n].status = status.to_owned();
    Ok(json!({}))
}

fn listener_json(lb: &LoadBalancer, l: &Listener) -> Value {
    json!({
        "LoadBalancerId": lb.id,
        "ListenerPort": l.port,
        "ListenerProtocol": l.protocol,
        "BackendServerPort": l.backend_port.unwrap_or_default(),
        "VServerGroupId": l.vserver_group_id,
        "Bandwidth": l.bandwidth,
        "Status": l.status,
        "Scheduler": l.scheduler,
        "PersistenceTimeout": l.persistence_timeout,
        "EstablishedTimeout": l.established_timeout,
        "HealthCheck": l.health_check,
        "HealthCheckType": if l.protocol == "http" { "http" } else { "tcp" },
        "HealthCheckConnectTimeout": 5,
        "HealthCheckInterval": 2,
        "HealthyThreshold": 3,
        "UnhealthyThreshold": 3,
        "Description": l.description,
        "ListenerForward": l.listener_forward,
        "ForwardPort": l.forward_port.unwrap_or_default(),
        "StickySession": l.sticky_session,
        "AclStatus": "off",
        "SynProxy": "disable",
        "ConnectionDrain": "off",
        "ProxyProtocolV2Enabled": false,
        "Tags": { "Tag": [] },
    })
}

fn listener_attribute(world: &mut World, call: &Call<'_>, protocol: &str) -> ApiResult<Value> {
    let id = lb_id(world, call.params)?;
    let lb = &world.load_balancers.balancers[&id];
    let n = find_listener(lb, call.params, Some(protocol))?;
    Ok(listener_json(lb, &lb.listeners[n]))
}

fn describe_listeners(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let ids = p.list("LoadBalancerId");
    let protocol = p.get("ListenerProtocol").map(str::to_ascii_lowercase);
    let listeners: Vec<Value> = world
        .load_balancers
        .balancers
        .values()
        .filter(|lb| lb.region_id == region.id && (ids.is_empty() || ids.contains(&lb.id.as_str())))
        .flat_map(|lb| {
            lb.listeners
                .iter()
                .filter(|l| protocol.as_deref().is_none_or(|p| l.protocol == p))
                .map(move |l| listener_json(lb, l))
        })
        .collect();
    Ok(json!({ "Listeners": listeners, "TotalCount": listeners.len(), "NextToken": "" }))
}

fn delete_listener(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = lb_id(world, call.params)?;
    let lb = lb_mut(world, &id)?;
    let n = find_listener(lb, call.params, None)?;
    lb.listeners.remove(n);
    Ok(json!({}))
}

// ------------------------------------------------------------------------------------------------
// VServer groups
// ------------------------------------------------------------------------------------------------

/// A number given as a JSON number or a string (clients send both).
fn json_number(item: &BTreeMap<String, Value>, key: &str) -> Result<Option<i64>, String> {
    match item.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{key} must be an integer")),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{key} \"{s}\" is not an integer")),
        Some(other) => Err(format!("{key} {other} is not an integer")),
    }
}

/// Parses `BackendServers` (a JSON array of `{ServerId, Port, Weight, Type, Description}`) and
/// checks every backend: an existing ECS instance of the load balancer's region, a port from 1
/// to 65535 and a weight from 0 to 100. `need_port` is false only for removals that match by id.
fn parse_backends(
    world: &World,
    params: &Params,
    name: &str,
    region: &str,
) -> ApiResult<Vec<Backend>> {
    let text = params.required(name)?;
    let items: Vec<BTreeMap<String, Value>> = serde_json::from_str(text).map_err(|_| {
        ApiError::invalid(
            name,
            format_args!(
                "expected a JSON array such as [{{\"ServerId\":\"i-…\",\"Port\":80,\"Weight\":100}}], got {text}"
            ),
        )
    })?;
    if items.len() > 20 {
        return Err(ApiError::invalid(
            name,
            "at most 20 backend servers per call",
        ));
    }
    let mut backends = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        let bad = |why: String| ApiError::invalid(name, format_args!("server {}: {why}", n + 1));
        let server_id = item
            .get("ServerId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("ServerId is required".into()))?
            .to_owned();
        let kind = item
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or("ecs")
            .to_ascii_lowercase();
        match kind.as_str() {
            "ecs" => {
                if world
                    .instances
                    .get(&server_id)
                    .is_none_or(|i| i.spec.region_id != region)
                {
                    return Err(ApiError::new(
                        400,
                        "InvalidBackendServer.NotFound",
                        format!(
                            "The specified backend server does not exist: {server_id} is not an ECS instance in {region}."
                        ),
                    ));
                }
            }
            "eni" | "eci" => {
                return Err(ApiError::invalid(
                    name,
                    format_args!(
                        "server {}: Type {kind} backends are not emulated (the emulator cannot check {server_id}); use Type ecs",
                        n + 1
                    ),
                ));
            }
            other => return Err(bad(format!("Type \"{other}\" is not one of ecs, eni, eci"))),
        }
        let port = json_number(item, "Port")
            .map_err(bad)?
            .ok_or_else(|| bad("Port is required".into()))?;
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| bad(format!("Port {port} is not from 1 to 65535")))?;
        let weight = json_number(item, "Weight").map_err(bad)?.unwrap_or(100);
        let weight = u32::try_from(weight)
            .ok()
            .filter(|w| *w <= 100)
            .ok_or_else(|| bad(format!("Weight {weight} is not from 0 to 100")))?;
        if backends
            .iter()
            .any(|b: &Backend| b.server_id == server_id && b.port == port)
        {
            return Err(bad(format!("{server_id}:{port} is listed twice")));
        }
        backends.push(Backend {
            server_id,
            port,
            weight,
            kind,
            description: item
                .get("Description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        });
    }
    Ok(backends)
}

/// The (ServerId, Port) pairs of a removal list; Port may be omitted to mean every port.
fn parse_backend_keys(params: &Params, name: &str) -> ApiResult<Vec<(String, Option<u16>)>> {
    let text = params.required(name)?;
    let items: Vec<BTreeMap<String, Value>> = serde_json::from_str(text).map_err(|_| {
        ApiError::invalid(
            name,
            format_args!("expected a JSON array of {{\"ServerId\",\"Port\"}}, got {text}"),
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            let bad =
                |why: String| ApiError::invalid(name, format_args!("server {}: {why}", n + 1));
            let id = item
                .get("ServerId")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad("ServerId is required".into()))?;
            let port = json_number(item, "Port")
                .map_err(bad)?
                .map(|p| {
                    u16::try_from(p)
                        .ok()
                        .filter(|p| *p >= 1)
                        .ok_or_else(|| bad(format!("Port {p} is not from 1 to 65535")))
                })
                .transpose()?;
            Ok((id.to_owned(), port))
        })
        .collect()
}

fn backends_json(world: &World, backends: &[Backend]) -> Value {
    let items: Vec<Value> = backends
        .iter()
        .map(|b| {
            json!({
                "ServerId": b.server_id,
                "Port": b.port,
                "Weight": b.weight,
                "Type": b.kind,
                "Description": b.description,
                "ServerIp": world.instances.get(&b.server_id).map(|i| i.private_ip.as_str()).unwrap_or_default(),
            })
        })
        .collect();
    json!({ "BackendServer": items })
}

/// Adds backends, replacing the weight and description of ones already in the group.
fn upsert(backends: &mut Vec<Backend>, new: Vec<Backend>) -> ApiResult<()> {
    for backend in new {
        match backends
            .iter_mut()
            .find(|b| b.server_id == backend.server_id && b.port == backend.port)
        {
            Some(slot) => *slot = backend,
            None => backends.push(backend),
        }
    }
    if backends.len() > 1000 {
        return Err(ApiError::invalid(
            "BackendServers",
            "a VServer group holds at most 1000 backends",
        ));
    }
    Ok(())
}

fn create_vserver_group(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let lb = lb_id(world, p)?;
    let backends = if p.get("BackendServers").is_some() {
        parse_backends(world, p, "BackendServers", region.id)?
    } else {
        Vec::new()
    };
    let mut tags = Vec::new();
    merge_tags(&mut tags, &p.tags("Tag"))?;
    let group = VServerGroup {
        id: new_id("rsp", region),
        load_balancer_id: lb,
        region_id: region.id.to_owned(),
        name: p.get("VServerGroupName").unwrap_or_default().to_owned(),
        backends,
        tags,
        created_ms: call.now_ms,
    };
    let reply = json!({ "VServerGroupId": group.id, "BackendServers": backends_json(world, &group.backends) });
    world
        .load_balancers
        .vserver_groups
        .insert(group.id.clone(), group);
    Ok(reply)
}

fn describe_vserver_groups(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    region_param(p)?;
    let lb = lb_id(world, p)?;
    let include_listener = p.bool("IncludeListener")?.unwrap_or(false);
    let listeners = &world.load_balancers.balancers[&lb].listeners;
    let groups: Vec<Value> = world
        .load_balancers
        .vserver_groups
        .values()
        .filter(|g| g.load_balancer_id == lb)
        .map(|g| {
            let mut group = json!({
                "VServerGroupId": g.id,
                "VServerGroupName": g.name,
                "ServerCount": g.backends.len(),
                "CreateTime": format_seconds(g.created_ms),
                "Tags": tags_view(&g.tags),
            });
            if include_listener {
                let used: Vec<Value> = listeners
                    .iter()
                    .filter(|l| l.vserver_group_id == g.id)
                    .map(|l| json!({"Port": l.port, "Protocol": l.protocol}))
                    .collect();
                group["AssociatedObjects"] =
                    json!({ "Listeners": { "Listener": used }, "Rules": { "Rule": [] } });
            }
            group
        })
        .collect();
    Ok(json!({ "VServerGroups": { "VServerGroup": groups } }))
}

fn describe_vserver_group_attribute(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = group_id(world, call.params)?;
    let g = &world.load_balancers.vserver_groups[&id];
    Ok(json!({
        "VServerGroupId": g.id,
        "VServerGroupName": g.name,
        "LoadBalancerId": g.load_balancer_id,
        "CreateTime": format_seconds(g.created_ms),
        "BackendServers": backends_json(world, &g.backends),
        "Tags": tags_view(&g.tags),
    }))
}

fn group_reply(world: &World, id: &str) -> Value {
    let g = &world.load_balancers.vserver_groups[id];
    json!({
        "VServerGroupId": g.id,
        "VServerGroupName": g.name,
        "BackendServers": backends_json(world, &g.backends),
    })
}

fn group_mut<'a>(world: &'a mut World, id: &str) -> ApiResult<&'a mut VServerGroup> {
    world
        .load_balancers
        .vserver_groups
        .get_mut(id)
        .ok_or_else(|| vgroup_not_found(id))
}

fn add_backends(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = group_id(world, call.params)?;
    let region = world.load_balancers.vserver_groups[&id].region_id.clone();
    let new = parse_backends(world, call.params, "BackendServers", &region)?;
    upsert(&mut group_mut(world, &id)?.backends, new)?;
    Ok(group_reply(world, &id))
}

fn remove_backends(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = group_id(world, call.params)?;
    let keys = parse_backend_keys(call.params, "BackendServers")?;
    // Removing a backend that is not there is not an error: controllers retry removals.
    group_mut(world, &id)?.backends.retain(|b| {
        !keys
            .iter()
            .any(|(server, port)| *server == b.server_id && port.is_none_or(|p| p == b.port))
    });
    Ok(group_reply(world, &id))
}

fn set_vserver_group_attribute(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let id = group_id(world, p)?;
    let region = world.load_balancers.vserver_groups[&id].region_id.clone();
    let changes = if p.get("BackendServers").is_some() {
        parse_backends(world, p, "BackendServers", &region)?
    } else {
        Vec::new()
    };
    let group = group_mut(world, &id)?;
    // SetVServerGroupAttribute changes the weights of backends already in the group; adding is
    // AddVServerGroupBackendServers' job.
    if let Some(missing) = changes.iter().find(|c| {
        !group
            .backends
            .iter()
            .any(|b| b.server_id == c.server_id && b.port == c.port)
    }) {
        return Err(ApiError::invalid(
            "BackendServers",
            format_args!(
                "{}:{} is not in {id}; add it with AddVServerGroupBackendServers",
                missing.server_id, missing.port
            ),
        ));
    }
    upsert(&mut group.backends, changes)?;
    if let Some(name) = p.get("VServerGroupName") {
        group.name = name.to_owned();
    }
    Ok(group_reply(world, &id))
}

fn modify_backends(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let id = group_id(world, p)?;
    let region = world.load_balancers.vserver_groups[&id].region_id.clone();
    let old = parse_backend_keys(p, "OldBackendServers")?;
    let new = parse_backends(world, p, "NewBackendServers", &region)?;
    let group = group_mut(world, &id)?;
    for (server, port) in &old {
        if !group
            .backends
            .iter()
            .any(|b| b.server_id == *server && port.is_none_or(|p| p == b.port))
        {
            return Err(ApiError::invalid(
                "OldBackendServers",
                format_args!(
                    "{server}:{} is not in {id}",
                    port.map(|p| p.to_string()).unwrap_or_else(|| "*".into())
                ),
            ));
        }
    }
    group.backends.retain(|b| {
        !old.iter()
            .any(|(server, port)| *server == b.server_id && port.is_none_or(|p| p == b.port))
    });
    upsert(&mut group.backends, new)?;
    Ok(group_reply(world, &id))
}

fn delete_vserver_group(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = group_id(world, call.params)?;
    let lb = &world.load_balancers.vserver_groups[&id].load_balancer_id;
    if let Some(listener) = world
        .load_balancers
        .balancers
        .get(lb)
        .and_then(|lb| lb.listeners.iter().find(|l| l.vserver_group_id == id))
    {
        return Err(ApiError::new(
            400,
            "RspoolVipExist",
            format!(
                "There are vips associating with this vServer group: the {} listener on port {} of {lb} uses {id}; delete or repoint it first.",
                listener.protocol.to_ascii_uppercase(),
                listener.port
            ),
        ));
    }
    world.load_balancers.vserver_groups.remove(&id);
    Ok(json!({}))
}

// ------------------------------------------------------------------------------------------------
// Tags
// ------------------------------------------------------------------------------------------------

fn resource_type(params: &Params) -> ApiResult<()> {
    match params.required("ResourceType")? {
        "instance" => Ok(()),
        other => Err(ApiError::invalid(
            "ResourceType",
            format_args!("\"{other}\" is not emulated; only instance (load balancers) is"),
        )),
    }
}

/// The load balancers named by `ResourceId.N`, which must all exist in `region`.
fn resource_ids(world: &World, params: &Params, region: &Region) -> ApiResult<Vec<String>> {
    let ids = params.list("ResourceId");
    if ids.len() > 50 {
        return Err(ApiError::invalid(
            "ResourceId",
            "at most 50 resources per call",
        ));
    }
    ids.iter()
        .map(|id| {
            world
                .load_balancers
                .balancers
                .get(*id)
                .filter(|lb| lb.region_id == region.id)
                .map(|lb| lb.id.clone())
                .ok_or_else(|| lb_not_found(id))
        })
        .collect()
}

fn tag_resources(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    resource_type(p)?;
    let ids = resource_ids(world, p, region)?;
    if ids.is_empty() {
        return Err(ApiError::missing("ResourceId.1"));
    }
    let tags = p.tags("Tag");
    if tags.is_empty() {
        return Err(ApiError::missing("Tag.1.Key"));
    }
    // Validate every resource before changing any, so nothing is half-written.
    for id in &ids {
        let mut copy = world.load_balancers.balancers[id].tags.clone();
        merge_tags(&mut copy, &tags)?;
    }
    for id in &ids {
        merge_tags(&mut lb_mut(world, id)?.tags, &tags)?;
    }
    Ok(json!({}))
}

fn untag_resources(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    resource_type(p)?;
    let ids = resource_ids(world, p, region)?;
    if ids.is_empty() {
        return Err(ApiError::missing("ResourceId.1"));
    }
    let keys: Vec<String> = p.list("TagKey").into_iter().map(str::to_owned).collect();
    let all = p.bool("All")?.unwrap_or(false);
    if keys.is_empty() && !all {
        return Err(ApiError::missing("TagKey.1"));
    }
    for id in &ids {
        lb_mut(world, id)?
            .tags
            .retain(|(k, _)| !all && !keys.contains(k));
    }
    Ok(json!({}))
}

fn list_tag_resources(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    resource_type(p)?;
    let ids = resource_ids(world, p, region)?;
    let tags = p.tags("Tag");
    if ids.is_empty() && tags.is_empty() {
        return Err(ApiError::missing("ResourceId.1"));
    }
    let rows: Vec<Value> = world
        .load_balancers
        .balancers
        .values()
        .filter(|lb| lb.region_id == region.id && (ids.is_empty() || ids.contains(&lb.id)))
        .filter(|lb| has_tags(&lb.tags, &tags))
        .flat_map(|lb| {
            lb.tags.iter().map(move |(k, v)| {
                json!({"ResourceId": lb.id, "ResourceType": "instance", "TagKey": k, "TagValue": v})
            })
        })
        .collect();
    let offset = match p.get("NextToken") {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|o| *o <= rows.len())
            .ok_or_else(|| {
                ApiError::invalid(
                    "NextToken",
                    "pass back the NextToken of the previous page unchanged",
                )
            })?,
    };
    let end = (offset + 50).min(rows.len());
    Ok(json!({
        "TagResources": { "TagResource": rows[offset..end] },
        "NextToken": if end < rows.len() { end.to_string() } else { String::new() },
    }))
}

fn add_tags(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = lb_id(world, call.params)?;
    let tags = json_tags(call.params, "Tags")?;
    if tags.is_empty() {
        return Err(ApiError::missing("Tags"));
    }
    let mut copy = world.load_balancers.balancers[&id].tags.clone();
    merge_tags(&mut copy, &tags)?;
    lb_mut(world, &id)?.tags = copy;
    Ok(json!({}))
}

fn remove_tags(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let id = lb_id(world, call.params)?;
    let tags = json_tags(call.params, "Tags")?;
    lb_mut(world, &id)?.tags.retain(|(k, v)| {
        !tags
            .iter()
            .any(|(tk, tv)| tk == k && (tv.is_empty() || tv == v))
    });
    Ok(json!({}))
}

fn describe_tags(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let lb = p.get("LoadBalancerId");
    let wanted = json_tags(p, "Tags")?;
    let distinct = p.bool("DistinctKey")?.unwrap_or(false);
    let (number, size) = p.page(50, 100)?;
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for balancer in world
        .load_balancers
        .balancers
        .values()
        .filter(|b| b.region_id == region.id && lb.is_none_or(|id| b.id == id))
    {
        for (k, v) in &balancer.tags {
            if wanted.is_empty()
                || wanted
                    .iter()
                    .any(|(wk, wv)| wk == k && (wv.is_empty() || wv == v))
            {
                let key = (k.clone(), if distinct { String::new() } else { v.clone() });
                *counts.entry(key).or_default() += 1;
            }
        }
    }
    let total = counts.len();
    let sets: Vec<Value> = paginate(counts.into_iter().collect(), number, size)
        .into_iter()
        .map(|((k, v), n)| json!({"TagKey": k, "TagValue": v, "InstanceCount": n}))
        .collect();
    Ok(json!({
        "TagSets": { "TagSet": sets },
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internet_addresses_walk_the_documentation_ranges_and_wrap() {
        let mut lbs = LoadBalancers::default();
        assert_eq!(lbs.next_public_address(), "198.51.100.1");
        lbs.public_addresses = 254;
        assert_eq!(lbs.next_public_address(), "203.0.113.1");
        lbs.public_addresses = 3 * 254;
        assert_eq!(lbs.next_public_address(), "198.51.100.1");
    }

    #[test]
    fn tcp_and_http_share_ports_but_udp_does_not() {
        assert_eq!(transport("http"), transport("tcp"));
        assert_ne!(transport("udp"), transport("tcp"));
    }

    #[test]
    fn backend_numbers_may_be_json_numbers_or_strings() {
        let item: BTreeMap<String, Value> =
            serde_json::from_str(r#"{"Port":"80","Weight":100,"Bad":"x","Empty":""}"#).unwrap();
        assert_eq!(json_number(&item, "Port"), Ok(Some(80)));
        assert_eq!(json_number(&item, "Weight"), Ok(Some(100)));
        assert_eq!(json_number(&item, "Empty"), Ok(None));
        assert_eq!(json_number(&item, "Missing"), Ok(None));
        assert!(json_number(&item, "Bad").is_err());
    }
}
