//! VPC 2016-04-28 (VPCs, vSwitches, route tables and entries) and the ECS security groups.
//!
//! ```text
//!   Vpc (CIDR, one vRouter, one system RouteTable)
//!    ├── VSwitch (zone, CIDR inside the VPC's, disjoint from its siblings) ◀── instances, LBs, groups
//!    ├── RouteTable: System entries (one per vSwitch CIDR) + Custom entries (next hop: instance…)
//!    └── SecurityGroup (ECS API) ── Permissions (ingress rules)
//! ```
//!
//! Every region has an implicit default VPC, `vpc-<region>-default` (172.16.0.0/12), with one
//! /20 vSwitch per zone named `vsw-<zone-id>`, so that callers which never create a network still
//! get a valid placement. The default network is computed, not stored: only what callers create
//! (and custom routes, which may also go into the default table) lives in [`Network`].

use crate::call::Call;
use crate::catalog::{self, Region};
use crate::error::{ApiError, ApiResult};
use crate::params::{Params, paginate, region_param};
use crate::reply::Reply;
use crate::world::{World, format_seconds, new_id};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The API version this module serves.
pub const VERSION: &str = "2016-04-28";

/// The default VPC's CIDR block.
const DEFAULT_VPC_CIDR: &str = "172.16.0.0/12";

/// The emulated networks: VPCs, vSwitches, route tables and security groups.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Created VPCs by id (the default VPCs are implicit).
    #[serde(default)]
    pub vpcs: BTreeMap<String, Vpc>,
    /// Created vSwitches by id (the default vSwitches are implicit).
    #[serde(default)]
    pub vswitches: BTreeMap<String, VSwitch>,
    /// Custom route entries by id, in any route table (the default VPCs' too).
    #[serde(default)]
    pub routes: BTreeMap<String, RouteEntry>,
    /// Security groups by id.
    #[serde(default)]
    pub security_groups: BTreeMap<String, SecurityGroup>,
}

/// A VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    /// `vpc-…`.
    pub id: String,
    /// Region id.
    pub region_id: String,
    /// IPv4 CIDR block.
    pub cidr: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `vrt-…`.
    pub vrouter_id: String,
    /// `vtb-…`: the system route table.
    pub route_table_id: String,
    /// Resource group.
    pub resource_group_id: String,
    /// Creation time.
    pub created_ms: i64,
    /// Whether this is the region's implicit default VPC.
    #[serde(default)]
    pub is_default: bool,
}

/// A vSwitch: one zone's slice of a VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VSwitch {
    /// `vsw-…`.
    pub id: String,
    /// The VPC it belongs to.
    pub vpc_id: String,
    /// Region id.
    pub region_id: String,
    /// Zone id.
    pub zone_id: String,
    /// IPv4 CIDR block, inside the VPC's.
    pub cidr: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Creation time.
    pub created_ms: i64,
    /// Whether this is one of the default VPC's implicit vSwitches.
    #[serde(default)]
    pub is_default: bool,
}

/// A custom route entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteEntry {
    /// `rte-…`.
    pub id: String,
    /// `vtb-…`.
    pub route_table_id: String,
    /// Destination CIDR block (normalised: a bare address is a /32).
    pub destination: String,
    /// `Instance`, `HaVip`, `NetworkInterface`, …
    pub next_hop_type: String,
    /// The next hop's id.
    pub next_hop_id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Creation time.
    pub created_ms: i64,
    /// Creation order: entries created in the same millisecond still list in that order.
    #[serde(default)]
    pub seq: u64,
}

/// An ECS security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    /// `sg-…`.
    pub id: String,
    /// Region id.
    pub region_id: String,
    /// The VPC it belongs to.
    pub vpc_id: String,
    /// Name.
    pub name: String,
    /// `normal` or `enterprise`.
    pub kind: String,
    /// Description.
    pub description: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Rules, in the order they were added.
    pub permissions: Vec<Permission>,
    /// Creation time.
    pub created_ms: i64,
}

/// One security-group rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// `sgr-…`.
    pub id: String,
    /// `ingress` (AuthorizeSecurityGroup) or `egress`.
    pub direction: String,
    /// `TCP`, `UDP`, `ICMP`, `GRE` or `ALL`.
    pub ip_protocol: String,
    /// `from/to`, `-1/-1` for protocols without ports.
    pub port_range: String,
    /// Source CIDR (empty when `source_group_id` is set).
    pub source_cidr_ip: String,
    /// Source security group.
    pub source_group_id: String,
    /// `accept` or `drop`.
    pub policy: String,
    /// 1 (highest) ..= 100.
    pub priority: u32,
    /// Description.
    pub description: String,
    /// Creation time.
    pub created_ms: i64,
}

/// Where a vSwitch puts what is launched into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The vSwitch's VPC.
    pub vpc_id: String,
    /// The vSwitch's zone.
    pub zone_id: String,
}

// ------------------------------------------------------------------------------------------------
// CIDR blocks
// ------------------------------------------------------------------------------------------------

/// An IPv4 CIDR block whose host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    /// The network address.
    pub base: u32,
    /// Prefix length, 0..=32.
    pub len: u8,
}

/// Why a CIDR block does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(pub String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse_ipv4(text: &str) -> Option<u32> {
    text.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

impl Cidr {
    /// Parses `a.b.c.d/len`; a bare address is a /32. Host bits must be zero, as the VPC API
    /// requires of vSwitch and route destinations.
    pub fn parse(text: &str) -> Result<Self, CidrError> {
        let (addr, len) = match text.trim().split_once('/') {
            Some((addr, len)) => (
                addr,
                len.parse::<u8>().ok().filter(|l| *l <= 32).ok_or_else(|| {
                    CidrError(format!("\"{text}\": the prefix length must be 0 to 32"))
                })?,
            ),
            None => (text.trim(), 32),
        };
        let addr = parse_ipv4(addr).ok_or_else(|| {
            CidrError(format!(
                "\"{text}\" is not an IPv4 CIDR block such as 192.168.0.0/16"
            ))
        })?;
        let cidr = Self {
            base: addr & Self::mask_of(len),
            len,
        };
        if cidr.base != addr {
            return Err(CidrError(format!(
                "\"{text}\" has host bits set; did you mean {cidr}?"
            )));
        }
        Ok(cidr)
    }

    fn mask_of(len: u8) -> u32 {
        if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len))
        }
    }

    /// The netmask.
    pub fn mask(self) -> u32 {
        Self::mask_of(self.len)
    }

    /// The last address.
    pub fn last(self) -> u32 {
        self.base | !self.mask()
    }

    /// How many addresses the block holds.
    pub fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.len))
    }

    /// Whether `other` lies wholly inside this block.
    pub fn contains(self, other: Cidr) -> bool {
        other.len >= self.len && other.base & self.mask() == self.base
    }

    /// Whether the two blocks share an address.
    pub fn overlaps(self, other: Cidr) -> bool {
        self.base <= other.last() && other.base <= self.last()
    }

    /// Whether the block lies in RFC 1918 private space (10/8, 172.16/12, 192.168/16), where the
    /// VPC API wants VPC CIDR blocks.
    pub fn is_private(self) -> bool {
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
            .iter()
            .filter_map(|c| Cidr::parse(c).ok())
            .any(|range| range.contains(self))
    }

    /// The `n`-th address of the block (0 = the network address), if it is inside.
    pub fn host(self, n: u64) -> Option<String> {
        (n < self.size())
            .then(|| std::net::Ipv4Addr::from(self.base.wrapping_add(n as u32)).to_string())
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", std::net::Ipv4Addr::from(self.base), self.len)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The parsed form of a stored CIDR (stored ones were validated when created).
fn stored(cidr: &str) -> Cidr {
    Cidr::parse(cidr).unwrap_or(Cidr { base: 0, len: 32 })
}

fn malformed(param: &str, why: impl fmt::Display) -> ApiError {
    ApiError::new(
        400,
        "InvalidCidrBlock.Malformed",
        format!("Specified CIDR block is not valid: \"{param}\" {why}"),
    )
}

// ------------------------------------------------------------------------------------------------
// The network model, default VPCs included
// ------------------------------------------------------------------------------------------------

/// The id of the implicit default VPC of `region`, where instances without a known vSwitch live.
pub fn default_vpc_id(region: &Region) -> String {
    format!("vpc-{}-default", region.id)
}

/// The implicit default VPC of `region`.
pub fn default_vpc(region: &Region) -> Vpc {
    Vpc {
        id: default_vpc_id(region),
        region_id: region.id.to_owned(),
        cidr: DEFAULT_VPC_CIDR.to_owned(),
        name: "default".to_owned(),
        description: "The region's default VPC (implicit in the emulator).".to_owned(),
        vrouter_id: format!("vrt-{}-default", region.id),
        route_table_id: format!("vtb-{}-default", region.id),
        resource_group_id: String::new(),
        created_ms: 0,
        is_default: true,
    }
}

/// The id of the implicit default vSwitch of `zone`.
pub fn default_vswitch_id(zone: &str) -> String {
    format!("vsw-{zone}")
}

/// The implicit default vSwitches of `region`: zone `n` gets `172.16.(16n).0/20`.
pub fn default_vswitches(region: &Region) -> Vec<VSwitch> {
    region
        .zones()
        .enumerate()
        .map(|(n, zone)| VSwitch {
            id: default_vswitch_id(&zone),
            vpc_id: default_vpc_id(region),
            region_id: region.id.to_owned(),
            cidr: format!("172.{}.{}.0/20", 16 + (n * 16) / 256, (n * 16) % 256),
            name: format!("default-{zone}"),
            description: String::new(),
            zone_id: zone,
            created_ms: 0,
            is_default: true,
        })
        .collect()
}

impl Network {
    /// The VPC and zone of `vswitch_id` in `region`.
    pub fn placement(&self, region: &Region, vswitch_id: &str) -> ApiResult<Placement> {
        let vswitch = self.vswitch(region, vswitch_id)?;
        Ok(Placement {
            vpc_id: vswitch.vpc_id,
            zone_id: vswitch.zone_id,
        })
    }

    /// Every VPC of `region`, the default one first.
    pub fn vpcs_in(&self, region: &Region) -> Vec<Vpc> {
        std::iter::once(default_vpc(region))
            .chain(
                self.vpcs
                    .values()
                    .filter(|v| v.region_id == region.id)
                    .cloned(),
            )
            .collect()
    }

    /// One VPC of `region`.
    pub fn vpc(&self, region: &Region, vpc_id: &str) -> ApiResult<Vpc> {
        self.vpcs_in(region)
            .into_iter()
            .find(|v| v.id == vpc_id)
            .ok_or_else(|| {
                ApiError::not_found(
                    "InvalidVpcId.NotFound",
                    format_args!("VpcId {vpc_id} in {}", region.id),
                )
            })
    }

    /// Every vSwitch of `region`, the default ones first.
    pub fn vswitches_in(&self, region: &Region) -> Vec<VSwitch> {
        default_vswitches(region)
            .into_iter()
            .chain(
                self.vswitches
                    .values()
                    .filter(|v| v.region_id == region.id)
                    .cloned(),
            )
            .collect()
    }

    /// One vSwitch of `region`.
    pub fn vswitch(&self, region: &Region, vswitch_id: &str) -> ApiResult<VSwitch> {
        if let Some(vswitch) = self.vswitches.get(vswitch_id) {
            if vswitch.region_id == region.id {
                return Ok(vswitch.clone());
            }
        } else if let Some(vswitch) = default_vswitches(region)
            .into_iter()
            .find(|v| v.id == vswitch_id)
        {
            return Ok(vswitch);
        }
        Err(ApiError::not_found(
            "InvalidVSwitchId.NotFound",
            format_args!("vSwitch {vswitch_id} in {}", region.id),
        ))
    }

    /// The VPC owning route table `table_id`.
    fn vpc_of_table(&self, region: &Region, table_id: &str) -> ApiResult<Vpc> {
        self.vpcs_in(region)
            .into_iter()
            .find(|v| v.route_table_id == table_id)
            .ok_or_else(|| {
                ApiError::not_found(
                    "InvalidRouteTableId.NotFound",
                    format_args!("RouteTableId {table_id} in {}", region.id),
                )
            })
    }

    /// The security group `id` of `region`.
    pub fn security_group(&self, region: &Region, id: &str) -> ApiResult<&SecurityGroup> {
        self.security_groups
            .get(id)
            .filter(|g| g.region_id == region.id)
            .ok_or_else(|| {
                ApiError::not_found(
                    "InvalidSecurityGroupId.NotFound",
                    format_args!("SecurityGroupId {id} in {}", region.id),
                )
            })
    }
}

// ------------------------------------------------------------------------------------------------
// Dispatch
// ------------------------------------------------------------------------------------------------

/// Handles a VPC action; `None` when VPC has no such action.
pub fn handle(action: &str, world: &mut World, call: &Call<'_>) -> Option<ApiResult<Reply>> {
    let value = match action {
        "CreateVpc" => create_vpc(world, call),
        "DeleteVpc" => delete_vpc(world, call),
        "DescribeVpcs" => describe_vpcs(world, call),
        "CreateVSwitch" => create_vswitch(world, call),
        "DeleteVSwitch" => delete_vswitch(world, call),
        "DescribeVSwitches" => describe_vswitches(world, call),
        "DescribeRouteTables" => describe_route_tables(world, call),
        "DescribeRouteTableList" => describe_route_table_list(world, call),
        "DescribeRouteEntryList" => describe_route_entry_list(world, call),
        "CreateRouteEntry" => create_route_entry(world, call),
        "DeleteRouteEntry" => delete_route_entry(world, call),
        "CreateRouteEntries" => create_route_entries(world, call),
        "DeleteRouteEntries" => delete_route_entries(world, call),
        _ => return None,
    };
    Some(value.map(Reply::from))
}

/// Handles the ECS security-group actions (ECS version); `None` for any other action.
pub fn handle_ecs(action: &str, world: &mut World, call: &Call<'_>) -> Option<ApiResult<Reply>> {
    let value = match action {
        "CreateSecurityGroup" => create_security_group(world, call),
        "DescribeSecurityGroups" => describe_security_groups(world, call),
        "DeleteSecurityGroup" => delete_security_group(world, call),
        "AuthorizeSecurityGroup" => authorize_security_group(world, call),
        "DescribeSecurityGroupAttribute" => describe_security_group_attribute(world, call),
        _ => return None,
    };
    Some(value.map(Reply::from))
}

/// Names and descriptions: at most `max` characters, and not a URL (the API's own rule).
fn text_param(params: &Params, name: &str, max: usize) -> ApiResult<String> {
    let value = params.get(name).unwrap_or_default();
    if value.chars().count() > max {
        return Err(ApiError::invalid(
            name,
            format_args!("at most {max} characters"),
        ));
    }
    if value.starts_with("http://") || value.starts_with("https://") {
        return Err(ApiError::invalid(
            name,
            "must not start with http:// or https://",
        ));
    }
    Ok(value.to_owned())
}

// ------------------------------------------------------------------------------------------------
// VPCs
// ------------------------------------------------------------------------------------------------

fn create_vpc(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let text = p.get("CidrBlock").unwrap_or(DEFAULT_VPC_CIDR);
    let cidr = Cidr::parse(text).map_err(|e| malformed("CidrBlock", e))?;
    if !cidr.is_private() || !(8..=28).contains(&cidr.len) {
        return Err(ApiError::new(
            400,
            "InvalidCidrBlock.Malformed",
            format!(
                "Specified CIDR block is not valid: \"CidrBlock\" {cidr} must lie in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 with a prefix length of 8 to 28"
            ),
        ));
    }
    let name = text_param(p, "VpcName", 128)?;
    let description = text_param(p, "Description", 256)?;
    if p.bool("DryRun")? == Some(true) {
        return Err(dry_run());
    }
    let vpc = Vpc {
        id: new_id("vpc", region),
        region_id: region.id.to_owned(),
        cidr: cidr.to_string(),
        name,
        description,
        vrouter_id: new_id("vrt", region),
        route_table_id: new_id("vtb", region),
        resource_group_id: p
            .get("ResourceGroupId")
            .unwrap_or("rg-acfmemulator")
            .to_owned(),
        created_ms: call.now_ms,
        is_default: false,
    };
    let reply = json!({
        "VpcId": vpc.id,
        "VRouterId": vpc.vrouter_id,
        "RouteTableId": vpc.route_table_id,
        "ResourceGroupId": vpc.resource_group_id,
    });
    world.network.vpcs.insert(vpc.id.clone(), vpc);
    Ok(reply)
}

fn dry_run() -> ApiError {
    ApiError::new(
        400,
        "DryRunOperation",
        "Request validation has been passed with DryRun flag set.",
    )
}

fn delete_vpc(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let id = p.required("VpcId")?;
    let vpc = world.network.vpc(region, id)?;
    if vpc.is_default {
        return Err(ApiError::forbidden(
            "OperationDenied.DefaultVpc",
            format!(
                "{id} is the region's implicit default VPC in the emulator; it cannot be deleted."
            ),
        ));
    }
    let vswitches: Vec<&str> = world
        .network
        .vswitches
        .values()
        .filter(|v| v.vpc_id == id)
        .map(|v| v.id.as_str())
        .collect();
    if !vswitches.is_empty() {
        return Err(ApiError::new(
            400,
            "DependencyViolation.VSwitch",
            format!(
                "Specified object has dependent resources: delete the vSwitches of {id} first ({}).",
                vswitches.join(", ")
            ),
        ));
    }
    let groups: Vec<&str> = world
        .network
        .security_groups
        .values()
        .filter(|g| g.vpc_id == id)
        .map(|g| g.id.as_str())
        .collect();
    if !groups.is_empty() {
        return Err(ApiError::new(
            400,
            "DependencyViolation.SecurityGroup",
            format!(
                "Specified object has dependent resources: delete the security groups of {id} first ({}).",
                groups.join(", ")
            ),
        ));
    }
    world.network.vpcs.remove(id);
    world
        .network
        .routes
        .retain(|_, r| r.route_table_id != vpc.route_table_id);
    Ok(json!({}))
}

fn vpc_json(world: &World, vpc: &Vpc) -> Value {
    let region = catalog::region(&vpc.region_id);
    let vswitches: Vec<String> = region
        .map(|r| world.network.vswitches_in(r))
        .unwrap_or_default()
        .into_iter()
        .filter(|v| v.vpc_id == vpc.id)
        .map(|v| v.id)
        .collect();
    json!({
        "VpcId": vpc.id,
        "VpcName": vpc.name,
        "Description": vpc.description,
        "RegionId": vpc.region_id,
        "CidrBlock": vpc.cidr,
        "Status": "Available",
        "IsDefault": vpc.is_default,
        "VRouterId": vpc.vrouter_id,
        "CreationTime": format_seconds(vpc.created_ms),
        "ResourceGroupId": vpc.resource_group_id,
        "VSwitchIds": { "VSwitchId": vswitches },
        "RouterTableIds": { "RouterTableIds": [vpc.route_table_id] },
        "UserCidrs": { "UserCidr": [] },
        "SecondaryCidrBlocks": { "SecondaryCidrBlock": [] },
        "NatGatewayIds": { "NatGatewayIds": [] },
        "Tags": { "Tag": [] },
        "EnabledIpv6": false,
        "Ipv6CidrBlock": "",
        "OwnerId": 1234567890123456u64,
    })
}

fn describe_vpcs(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let ids: Vec<&str> = p
        .get("VpcId")
        .map(|ids| {
            ids.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if ids.len() > 20 {
        return Err(ApiError::invalid(
            "VpcId",
            "at most 20 comma-separated VPC ids",
        ));
    }
    let name = p.get("VpcName");
    let is_default = p.bool("IsDefault")?;
    let (number, size) = p.page(10, 50)?;
    let matching: Vec<Vpc> = world
        .network
        .vpcs_in(region)
        .into_iter()
        .filter(|v| ids.is_empty() || ids.contains(&v.id.as_str()))
        .filter(|v| name.is_none_or(|n| v.name == n))
        .filter(|v| is_default.is_none_or(|d| v.is_default == d))
        .collect();
    let total = matching.len();
    let vpcs: Vec<Value> = paginate(matching, number, size)
        .iter()
        .map(|v| vpc_json(world, v))
        .collect();
    Ok(json!({
        "Vpcs": { "Vpc": vpcs },
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

// ------------------------------------------------------------------------------------------------
// vSwitches
// ------------------------------------------------------------------------------------------------

fn create_vswitch(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let zone = p.required("ZoneId")?;
    catalog::check_zone(region, "ZoneId", zone)?;
    let vpc = world.network.vpc(region, p.required("VpcId")?)?;
    let cidr = Cidr::parse(p.required("CidrBlock")?).map_err(|e| malformed("CidrBlock", e))?;
    if !(16..=29).contains(&cidr.len) {
        return Err(malformed(
            "CidrBlock",
            format_args!("{cidr}: a vSwitch's prefix length must be 16 to 29"),
        ));
    }
    if !stored(&vpc.cidr).contains(cidr) {
        return Err(ApiError::invalid(
            "CidrBlock",
            format_args!(
                "Specified CIDR block is not valid in VPC: {cidr} is not inside {} ({})",
                vpc.id, vpc.cidr
            ),
        ));
    }
    let siblings = world.network.vswitches_in(region);
    if let Some(other) = siblings
        .iter()
        .find(|v| v.vpc_id == vpc.id && stored(&v.cidr).overlaps(cidr))
    {
        return Err(ApiError::new(
            400,
            "InvalidCidrBlock.Overlapped",
            format!(
                "Specified CIDR block overlapped with other subnets: {cidr} overlaps {} of vSwitch {}.",
                other.cidr, other.id
            ),
        ));
    }
    let name = text_param(p, "VSwitchName", 128)?;
    let description = text_param(p, "Description", 256)?;
    let vswitch = VSwitch {
        id: new_id("vsw", region),
        vpc_id: vpc.id,
        region_id: region.id.to_owned(),
        zone_id: zone.to_owned(),
        cidr: cidr.to_string(),
        name,
        description,
        created_ms: call.now_ms,
        is_default: false,
    };
    let reply = json!({ "VSwitchId": vswitch.id });
    world.network.vswitches.insert(vswitch.id.clone(), vswitch);
    Ok(reply)
}

/// What still uses a vSwitch: instances, load balancers and scaling groups.
fn vswitch_users(world: &World, vswitch_id: &str) -> Vec<String> {
    let instances = world
        .instances
        .values()
        .filter(|i| i.spec.vswitch_id == vswitch_id)
        .map(|i| i.id.clone());
    let balancers = world
        .load_balancers
        .balancers
        .values()
        .filter(|lb| lb.vswitch_id == vswitch_id)
        .map(|lb| lb.id.clone());
    let groups = world
        .groups
        .values()
        .filter(|g| g.vswitch_ids.iter().any(|v| v == vswitch_id))
        .map(|g| g.id.clone());
    instances.chain(balancers).chain(groups).collect()
}

fn delete_vswitch(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let id = p.required("VSwitchId")?;
    let vswitch = world.network.vswitch(region, id)?;
    if vswitch.is_default {
        return Err(ApiError::forbidden(
            "OperationDenied.DefaultVSwitch",
            format!("{id} is an implicit default vSwitch in the emulator; it cannot be deleted."),
        ));
    }
    let users = vswitch_users(world, id);
    if !users.is_empty() {
        return Err(ApiError::new(
            400,
            "DependencyViolation",
            format!(
                "Specified object has dependent resources: {id} is still used by {}.",
                users.join(", ")
            ),
        ));
    }
    world.network.vswitches.remove(id);
    Ok(json!({}))
}

fn vswitch_json(world: &World, v: &VSwitch, route_table_id: &str) -> Value {
    let used = world
        .instances
        .values()
        .filter(|i| i.spec.vswitch_id == v.id)
        .count() as u64
        + world
            .load_balancers
            .balancers
            .values()
            .filter(|lb| lb.vswitch_id == v.id)
            .count() as u64;
    // The first address and the last three of every vSwitch are reserved.
    let available = stored(&v.cidr).size().saturating_sub(4 + used);
    json!({
        "VSwitchId": v.id,
        "VSwitchName": v.name,
        "Description": v.description,
        "VpcId": v.vpc_id,
        "ZoneId": v.zone_id,
        "CidrBlock": v.cidr,
        "Status": "Available",
        "IsDefault": v.is_default,
        "AvailableIpAddressCount": available,
        "CreationTime": format_seconds(v.created_ms),
        "RouteTable": { "RouteTableId": route_table_id, "RouteTableType": "System" },
        "ResourceGroupId": "",
        "NetworkAclId": "",
        "ShareType": "",
        "EnabledIpv6": false,
        "Ipv6CidrBlock": "",
        "OwnerId": 1234567890123456u64,
        "Tags": { "Tag": [] },
    })
}

fn describe_vswitches(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let (vpc, id, zone, name) = (
        p.get("VpcId"),
        p.get("VSwitchId"),
        p.get("ZoneId"),
        p.get("VSwitchName"),
    );
    let is_default = p.bool("IsDefault")?;
    let (number, size) = p.page(10, 50)?;
    let tables: BTreeMap<String, String> = world
        .network
        .vpcs_in(region)
        .into_iter()
        .map(|v| (v.id, v.route_table_id))
        .collect();
    let matching: Vec<VSwitch> = world
        .network
        .vswitches_in(region)
        .into_iter()
        .filter(|v| vpc.is_none_or(|x| v.vpc_id == x))
        .filter(|v| id.is_none_or(|x| v.id == x))
        .filter(|v| zone.is_none_or(|x| v.zone_id == x))
        .filter(|v| name.is_none_or(|x| v.name == x))
        .filter(|v| is_default.is_none_or(|d| v.is_default == d))
        .collect();
    let total = matching.len();
    let vswitches: Vec<Value> = paginate(matching, number, size)
        .iter()
        .map(|v| {
            vswitch_json(
                world,
                v,
                tables
                    .get(&v.vpc_id)
                    .map(String::as_str)
                    .unwrap_or_default(),
            )
        })
        .collect();
    Ok(json!({
        "VSwitches": { "VSwitch": vswitches },
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

// ------------------------------------------------------------------------------------------------
// Route tables and entries
// ------------------------------------------------------------------------------------------------

/// The next-hop types CreateRouteEntry accepts.
const NEXT_HOP_TYPES: &[&str] = &[
    "Instance",
    "HaVip",
    "RouterInterface",
    "NetworkInterface",
    "VpnGateway",
    "IPv6Gateway",
    "NatGateway",
    "Attachment",
    "VpcPeer",
    "Ipv4Gateway",
    "GatewayEndpoint",
    "Ecr",
];

/// One route entry as the describe actions show it, system or custom.
struct EntryView {
    id: String,
    table_id: String,
    destination: String,
    kind: &'static str,
    next_hop_type: String,
    next_hop_id: String,
    name: String,
    description: String,
    created_ms: i64,
}

impl EntryView {
    fn json(&self, region: &str) -> Value {
        let hop = json!({
            "NextHopId": self.next_hop_id,
            "NextHopType": self.next_hop_type,
            "Enabled": 1,
            "Weight": 0,
            "NextHopRegionId": region,
            "NextHopRelatedInfo": { "InstanceId": "", "InstanceType": "", "RegionId": "" },
        });
        json!({
            "RouteEntryId": self.id,
            "RouteEntryName": self.name,
            "RouteTableId": self.table_id,
            "DestinationCidrBlock": self.destination,
            "Type": self.kind,
            "Status": "Available",
            "Description": self.description,
            "IpVersion": "ipv4",
            "InstanceId": self.next_hop_id,
            "NextHopType": self.next_hop_type,
            "Origin": "",
            "ServiceType": "",
            "GmtModified": format_seconds(self.created_ms),
            "NextHops": { "NextHop": [hop] },
        })
    }
}

/// The entries of `vpc`'s table: one System entry per vSwitch CIDR, then the Custom ones in
/// creation order.
fn table_entries(world: &World, region: &Region, vpc: &Vpc) -> Vec<EntryView> {
    let system = world
        .network
        .vswitches_in(region)
        .into_iter()
        .filter(|v| v.vpc_id == vpc.id)
        .map(|v| EntryView {
            id: format!("rte-system-{}", v.id),
            table_id: vpc.route_table_id.clone(),
            destination: v.cidr.clone(),
            kind: "System",
            next_hop_type: "local".to_owned(),
            next_hop_id: String::new(),
            name: String::new(),
            description: format!("Route to vSwitch {}", v.id),
            created_ms: v.created_ms,
        });
    let mut custom: Vec<&RouteEntry> = world
        .network
        .routes
        .values()
        .filter(|r| r.route_table_id == vpc.route_table_id)
        .collect();
    custom.sort_by_key(|r| r.seq);
    system
        .chain(custom.into_iter().map(|r| EntryView {
            id: r.id.clone(),
            table_id: r.route_table_id.clone(),
            destination: r.destination.clone(),
            kind: "Custom",
            next_hop_type: r.next_hop_type.clone(),
            next_hop_id: r.next_hop_id.clone(),
            name: r.name.clone(),
            description: r.description.clone(),
            created_ms: r.created_ms,
        }))
        .collect()
}

fn describe_route_tables(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let table = p.get("RouteTableId");
    let router = p.get("VRouterId").or_else(|| p.get("RouterId"));
    let (number, size) = p.page(10, 50)?;
    let matching: Vec<Vpc> = world
        .network
        .vpcs_in(region)
        .into_iter()
        .filter(|v| table.is_none_or(|t| v.route_table_id == t))
        .filter(|v| router.is_none_or(|r| v.vrouter_id == r))
        .collect();
    let total = matching.len();
    let tables: Vec<Value> = paginate(matching, number, size)
        .iter()
        .map(|vpc| {
            let entries: Vec<Value> = table_entries(world, region, vpc)
                .iter()
                .map(|e| e.json(region.id))
                .collect();
            json!({
                "RouteTableId": vpc.route_table_id,
                "RouteTableType": "System",
                "VRouterId": vpc.vrouter_id,
                "Status": "Available",
                "CreationTime": format_seconds(vpc.created_ms),
                "ResourceGroupId": vpc.resource_group_id,
                "VSwitchIds": { "VSwitchId": [] },
                "RouteEntrys": { "RouteEntry": entries },
            })
        })
        .collect();
    Ok(json!({
        "RouteTables": { "RouteTable": tables },
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

fn describe_route_table_list(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let (vpc_id, table, router) = (p.get("VpcId"), p.get("RouteTableId"), p.get("RouterId"));
    let (number, size) = p.page(10, 50)?;
    let matching: Vec<Vpc> = world
        .network
        .vpcs_in(region)
        .into_iter()
        .filter(|v| vpc_id.is_none_or(|x| v.id == x))
        .filter(|v| table.is_none_or(|x| v.route_table_id == x))
        .filter(|v| router.is_none_or(|x| v.vrouter_id == x))
        .collect();
    let total = matching.len();
    let tables: Vec<Value> = paginate(matching, number, size)
        .iter()
        .map(|vpc| {
            json!({
                "RouteTableId": vpc.route_table_id,
                "RouteTableName": "",
                "RouteTableType": "System",
                "RouterId": vpc.vrouter_id,
                "RouterType": "VRouter",
                "VpcId": vpc.id,
                "Status": "Available",
                "Description": "",
                "AssociateType": "VSwitch",
                "CreationTime": format_seconds(vpc.created_ms),
                "ResourceGroupId": vpc.resource_group_id,
                "OwnerId": 1234567890123456u64,
                "VSwitchIds": { "VSwitchId": [] },
                "GatewayIds": { "GatewayIds": [] },
                "Tags": { "Tag": [] },
            })
        })
        .collect();
    Ok(json!({
        "RouterTableList": { "RouterTableListType": tables },
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

fn describe_route_entry_list(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let vpc = world
        .network
        .vpc_of_table(region, p.required("RouteTableId")?)?;
    let destination = p
        .get("DestinationCidrBlock")
        .map(|d| Cidr::parse(d).map_err(|e| malformed("DestinationCidrBlock", e)))
        .transpose()?
        .map(|c| c.to_string());
    let (next_hop, entry_id, kind, name) = (
        p.get("NextHopId"),
        p.get("RouteEntryId"),
        p.get("RouteEntryType"),
        p.get("RouteEntryName"),
    );
    let hop_type = p.get("NextHopType");
    let max = p.parse::<usize>("MaxResult")?.unwrap_or(50);
    if !(20..=100).contains(&max) && p.get("MaxResult").is_some() {
        return Err(ApiError::invalid("MaxResult", "must be between 20 and 100"));
    }
    let entries: Vec<EntryView> = table_entries(world, region, &vpc)
        .into_iter()
        .filter(|e| destination.as_deref().is_none_or(|d| e.destination == d))
        .filter(|e| next_hop.is_none_or(|x| e.next_hop_id == x))
        .filter(|e| entry_id.is_none_or(|x| e.id == x))
        .filter(|e| kind.is_none_or(|x| e.kind == x))
        .filter(|e| name.is_none_or(|x| e.name == x))
        .filter(|e| hop_type.is_none_or(|x| e.next_hop_type == x))
        .collect();
    let total = entries.len();
    let offset = match p.get("NextToken") {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|o| *o <= total)
            .ok_or_else(|| {
                ApiError::invalid(
                    "NextToken",
                    "pass back the NextToken of the previous page unchanged",
                )
            })?,
    };
    let end = offset.saturating_add(max).min(total);
    let page: Vec<Value> = entries[offset..end]
        .iter()
        .map(|e| e.json(region.id))
        .collect();
    Ok(json!({
        "RouteEntrys": { "RouteEntry": page },
        "NextToken": if end < total { end.to_string() } else { String::new() },
        "TotalCount": total,
    }))
}

/// What one route to create says.
struct NewRoute<'a> {
    table_id: &'a str,
    destination: &'a str,
    next_hop_type: &'a str,
    next_hop_id: &'a str,
    name: &'a str,
    description: &'a str,
}

/// Validates and adds one custom route; returns its id.
fn add_route(
    world: &mut World,
    region: &Region,
    route: &NewRoute<'_>,
    now_ms: i64,
) -> ApiResult<String> {
    let vpc = world.network.vpc_of_table(region, route.table_id)?;
    let destination =
        Cidr::parse(route.destination).map_err(|e| malformed("DestinationCidrBlock", e))?;
    if Cidr::parse("100.64.0.0/10").is_ok_and(|c| c.contains(destination)) {
        return Err(malformed(
            "DestinationCidrBlock",
            "must not be inside 100.64.0.0/10, which the VPC reserves for cloud services",
        ));
    }
    let entries = table_entries(world, region, &vpc);
    if let Some(system) = entries
        .iter()
        .find(|e| e.kind == "System" && stored(&e.destination).contains(destination))
    {
        return Err(ApiError::new(
            400,
            "InvalidCidrBlock.Overlapped",
            format!(
                "Specified CIDR block overlapped with other entry: {destination} lies inside {} of {}.",
                system.destination, system.description
            ),
        ));
    }
    if let Some(existing) = entries
        .iter()
        .find(|e| e.destination == destination.to_string())
    {
        return Err(ApiError::new(
            400,
            "InvalidCIDRBlock.Duplicate",
            format!(
                "Specified CIDR block is already exists: {destination} in {} ({}).",
                route.table_id, existing.id
            ),
        ));
    }
    if !NEXT_HOP_TYPES.contains(&route.next_hop_type) {
        return Err(ApiError::invalid(
            "NextHopType",
            format_args!(
                "\"{}\" is not one of {}",
                route.next_hop_type,
                NEXT_HOP_TYPES.join(", ")
            ),
        ));
    }
    if route.next_hop_id.is_empty() {
        return Err(ApiError::missing("NextHopId"));
    }
    if route.next_hop_type == "Instance"
        && world
            .instances
            .get(route.next_hop_id)
            .is_none_or(|i| i.spec.region_id != region.id)
    {
        return Err(ApiError::not_found(
            "InvalidNextHopId.NotFound",
            format_args!("next hop instance {} in {}", route.next_hop_id, region.id),
        ));
    }
    let id = new_id("rte", region);
    let seq = world
        .network
        .routes
        .values()
        .map(|r| r.seq + 1)
        .max()
        .unwrap_or(0);
    world.network.routes.insert(
        id.clone(),
        RouteEntry {
            id: id.clone(),
            route_table_id: route.table_id.to_owned(),
            destination: destination.to_string(),
            next_hop_type: route.next_hop_type.to_owned(),
            next_hop_id: route.next_hop_id.to_owned(),
            name: route.name.to_owned(),
            description: route.description.to_owned(),
            created_ms: now_ms,
            seq,
        },
    );
    Ok(id)
}

fn create_route_entry(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let name = text_param(p, "RouteEntryName", 128)?;
    let description = text_param(p, "Description", 256)?;
    let id = add_route(
        world,
        region,
        &NewRoute {
            table_id: p.required("RouteTableId")?,
            destination: p.required("DestinationCidrBlock")?,
            next_hop_type: p.get("NextHopType").unwrap_or("Instance"),
            next_hop_id: p.get("NextHopId").unwrap_or_default(),
            name: &name,
            description: &description,
        },
        call.now_ms,
    )?;
    Ok(json!({ "RouteEntryId": id }))
}

/// Removes the custom entry of `table_id` matching an id or a destination (and next hop).
fn remove_route(
    world: &mut World,
    region: &Region,
    table_id: &str,
    entry_id: Option<&str>,
    destination: Option<&str>,
    next_hop: Option<&str>,
) -> ApiResult<()> {
    let vpc = world.network.vpc_of_table(region, table_id)?;
    let destination = destination
        .map(|d| Cidr::parse(d).map_err(|e| malformed("DestinationCidrBlock", e)))
        .transpose()?
        .map(|c| c.to_string());
    if entry_id.is_none() && destination.is_none() {
        return Err(ApiError::missing("RouteEntryId"));
    }
    let found = world
        .network
        .routes
        .values()
        .find(|r| {
            r.route_table_id == vpc.route_table_id
                && entry_id.is_none_or(|id| r.id == id)
                && destination.as_deref().is_none_or(|d| r.destination == d)
                && next_hop.is_none_or(|h| r.next_hop_id == h)
        })
        .map(|r| r.id.clone());
    match found {
        Some(id) => {
            world.network.routes.remove(&id);
            Ok(())
        }
        None => Err(ApiError::not_found(
            "InvalidRouteEntry.NotFound",
            format_args!(
                "custom route entry {} in {table_id}",
                entry_id
                    .map(str::to_owned)
                    .or(destination)
                    .unwrap_or_default()
            ),
        )),
    }
}

fn delete_route_entry(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let entry_id = p.get("RouteEntryId");
    let table_id = match (p.get("RouteTableId"), entry_id) {
        (Some(table), _) => table.to_owned(),
        (None, Some(id)) => world
            .network
            .routes
            .get(id)
            .map(|r| r.route_table_id.clone())
            .ok_or_else(|| {
                ApiError::not_found(
                    "InvalidRouteEntry.NotFound",
                    format_args!("RouteEntryId {id}"),
                )
            })?,
        (None, None) => return Err(ApiError::missing("RouteTableId")),
    };
    remove_route(
        world,
        region,
        &table_id,
        entry_id,
        p.get("DestinationCidrBlock"),
        p.get("NextHopId"),
    )?;
    Ok(json!({}))
}

/// The numbered objects `RouteEntries.N.Field`, in numeric order.
fn numbered_objects(params: &Params, name: &str, fields: &[&str]) -> Vec<BTreeMap<String, String>> {
    let mut by_index: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
    for field in fields {
        for n in 1..=100u32 {
            if let Some(v) = params.get(&format!("{name}.{n}.{field}")) {
                by_index
                    .entry(n)
                    .or_default()
                    .insert((*field).to_owned(), v.to_owned());
            }
        }
    }
    by_index.into_values().collect()
}

fn create_route_entries(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let entries = numbered_objects(
        p,
        "RouteEntries",
        &[
            "RouteTableId",
            "DstCidrBlock",
            "NextHop",
            "NextHopType",
            "Name",
            "Description",
        ],
    );
    if entries.is_empty() {
        return Err(ApiError::missing("RouteEntries.1.DstCidrBlock"));
    }
    let (mut ids, mut failed) = (Vec::new(), Vec::new());
    for e in &entries {
        let get = |k: &str| e.get(k).map(String::as_str).unwrap_or_default();
        let result = add_route(
            world,
            region,
            &NewRoute {
                table_id: get("RouteTableId"),
                destination: get("DstCidrBlock"),
                next_hop_type: e
                    .get("NextHopType")
                    .map(String::as_str)
                    .unwrap_or("Instance"),
                next_hop_id: get("NextHop"),
                name: get("Name"),
                description: get("Description"),
            },
            call.now_ms,
        );
        match result {
            Ok(id) => ids.push(id),
            Err(err) => failed.push(json!({
                "DstCidrBlock": get("DstCidrBlock"),
                "NextHop": get("NextHop"),
                "FailedCode": err.code,
                "FailedMessage": err.message,
            })),
        }
    }
    Ok(json!({
        "RouteEntryIds": ids,
        "SuccessCount": ids.len(),
        "FailedCount": failed.len(),
        "FailedRouteEntries": failed,
    }))
}

fn delete_route_entries(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let entries = numbered_objects(
        p,
        "RouteEntries",
        &["RouteTableId", "DstCidrBlock", "NextHop", "RouteEntryId"],
    );
    if entries.is_empty() {
        return Err(ApiError::missing("RouteEntries.1.RouteTableId"));
    }
    let (mut success, mut failed) = (0usize, Vec::new());
    for e in &entries {
        let get = |k: &str| e.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let table = get("RouteTableId").unwrap_or_default();
        match remove_route(
            world,
            region,
            table,
            get("RouteEntryId"),
            get("DstCidrBlock"),
            get("NextHop"),
        ) {
            Ok(()) => success += 1,
            Err(err) => failed.push(json!({
                "DstCidrBlock": get("DstCidrBlock").unwrap_or_default(),
                "NextHop": get("NextHop").unwrap_or_default(),
                "RouteEntryId": get("RouteEntryId").unwrap_or_default(),
                "FailedCode": err.code,
                "FailedMessage": err.message,
            })),
        }
    }
    Ok(json!({
        "SuccessCount": success,
        "FailedCount": failed.len(),
        "FailedRouteEntries": failed,
    }))
}

// ------------------------------------------------------------------------------------------------
// Security groups (ECS 2014-05-26)
// ------------------------------------------------------------------------------------------------

fn create_security_group(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    // Without a VpcId the group goes into the default VPC: classic network is not emulated.
    let vpc = match p.get("VpcId") {
        Some(id) => world.network.vpc(region, id)?,
        None => default_vpc(region),
    };
    let kind = match p.get("SecurityGroupType").unwrap_or("normal") {
        k @ ("normal" | "enterprise") => k.to_owned(),
        other => {
            return Err(ApiError::invalid(
                "SecurityGroupType",
                format_args!("\"{other}\" is not one of normal, enterprise"),
            ));
        }
    };
    let name = text_param(p, "SecurityGroupName", 128)?;
    let description = text_param(p, "Description", 256)?;
    let tags = p.tags("Tag");
    if tags.len() > 20 {
        return Err(ApiError::invalid("Tag", "at most 20 tags"));
    }
    let group = SecurityGroup {
        id: new_id("sg", region),
        region_id: region.id.to_owned(),
        vpc_id: vpc.id,
        name,
        kind,
        description,
        tags,
        permissions: Vec::new(),
        created_ms: call.now_ms,
    };
    let reply = json!({ "SecurityGroupId": group.id });
    world
        .network
        .security_groups
        .insert(group.id.clone(), group);
    Ok(reply)
}

fn security_group_json(world: &World, g: &SecurityGroup) -> Value {
    let ecs_count = world
        .instances
        .values()
        .filter(|i| i.spec.security_group_id == g.id)
        .count();
    let tags: Vec<Value> = g
        .tags
        .iter()
        .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
        .collect();
    json!({
        "SecurityGroupId": g.id,
        "SecurityGroupName": g.name,
        "SecurityGroupType": g.kind,
        "Description": g.description,
        "VpcId": g.vpc_id,
        "CreationTime": format_seconds(g.created_ms),
        "EcsCount": ecs_count,
        "AvailableInstanceAmount": 2000usize.saturating_sub(ecs_count),
        "RuleCount": g.permissions.len(),
        "GroupToGroupRuleCount": g.permissions.iter().filter(|r| !r.source_group_id.is_empty()).count(),
        "ResourceGroupId": "",
        "ServiceManaged": false,
        "Tags": { "Tag": tags },
    })
}

fn describe_security_groups(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let mut ids = p.list_or_json("SecurityGroupIds")?;
    ids.extend(p.get("SecurityGroupId").map(str::to_owned));
    if ids.len() > 100 {
        return Err(ApiError::invalid("SecurityGroupIds", "at most 100 ids"));
    }
    let (vpc, name, kind) = (
        p.get("VpcId"),
        p.get("SecurityGroupName"),
        p.get("SecurityGroupType"),
    );
    let tags = p.tags("Tag");
    let (number, size) = p.page(10, 50)?;
    let matching: Vec<&SecurityGroup> = world
        .network
        .security_groups
        .values()
        .filter(|g| g.region_id == region.id)
        .filter(|g| ids.is_empty() || ids.contains(&g.id))
        .filter(|g| vpc.is_none_or(|v| g.vpc_id == v))
        .filter(|g| name.is_none_or(|n| g.name == n))
        .filter(|g| kind.is_none_or(|k| g.kind == k))
        .filter(|g| {
            tags.iter().all(|(k, v)| {
                g.tags
                    .iter()
                    .any(|(gk, gv)| gk == k && (v.is_empty() || gv == v))
            })
        })
        .collect();
    let total = matching.len();
    let groups: Vec<Value> = paginate(matching, number, size)
        .into_iter()
        .map(|g| security_group_json(world, g))
        .collect();
    Ok(json!({
        "RegionId": region.id,
        "SecurityGroups": { "SecurityGroup": groups },
        "TotalCount": total,
        "PageNumber": number,
        "PageSize": size,
    }))
}

fn delete_security_group(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let id = p.required("SecurityGroupId")?;
    world.network.security_group(region, id)?;
    let users: Vec<&str> = world
        .instances
        .values()
        .filter(|i| i.spec.security_group_id == id)
        .map(|i| i.id.as_str())
        .collect();
    if !users.is_empty() {
        return Err(ApiError::forbidden(
            "DependencyViolation",
            format!(
                "There is still instance(s) in the specified security group: {id} is used by {}.",
                users.join(", ")
            ),
        ));
    }
    let referrers: Vec<&str> = world
        .network
        .security_groups
        .values()
        .filter(|g| g.id != id && g.permissions.iter().any(|r| r.source_group_id == id))
        .map(|g| g.id.as_str())
        .collect();
    if !referrers.is_empty() {
        return Err(ApiError::forbidden(
            "DependencyViolation",
            format!(
                "The specified security group is referenced by rules of {}; revoke them first.",
                referrers.join(", ")
            ),
        ));
    }
    world.network.security_groups.remove(id);
    Ok(json!({}))
}

/// `from/to`, validated for `protocol`; returns the normalised range.
pub fn parse_port_range(protocol: &str, range: &str) -> Result<String, String> {
    let (from, to) = range
        .split_once('/')
        .ok_or_else(|| format!("\"{range}\" is not of the form from/to, e.g. 1/65535 or 22/22"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<i32>()
            .map_err(|_| format!("\"{range}\" has a non-numeric port"))
    };
    let (from, to) = (parse(from)?, parse(to)?);
    match protocol {
        "TCP" | "UDP" => {
            if !(1..=65535).contains(&from) || !(1..=65535).contains(&to) || from > to {
                return Err(format!(
                    "\"{range}\": ports must be 1 to 65535 with from <= to"
                ));
            }
        }
        _ => {
            if (from, to) != (-1, -1) {
                return Err(format!("\"{range}\": {protocol} has no ports; use -1/-1"));
            }
        }
    }
    Ok(format!("{from}/{to}"))
}

/// A rule's source: an address or CIDR (host bits allowed, as the ECS API allows them).
fn parse_source_cidr(text: &str) -> Option<String> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().ok().filter(|l| *l <= 32)?),
        None => (text, 32),
    };
    parse_ipv4(addr)?;
    Some(if text.contains('/') {
        text.to_owned()
    } else {
        format!("{addr}/{len}")
    })
}

fn authorize_security_group(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let id = p.required("SecurityGroupId")?.to_owned();
    world.network.security_group(region, &id)?;
    // Rules come either as the legacy top-level fields or as `Permissions.N.*`.
    const FIELDS: &[&str] = &[
        "IpProtocol",
        "PortRange",
        "SourceCidrIp",
        "SourceGroupId",
        "Policy",
        "Priority",
        "Description",
    ];
    let mut rules = numbered_objects(p, "Permissions", FIELDS);
    if rules.is_empty() {
        let top: BTreeMap<String, String> = FIELDS
            .iter()
            .filter_map(|f| p.get(f).map(|v| ((*f).to_owned(), v.to_owned())))
            .collect();
        rules.push(top);
    }
    let mut added = Vec::new();
    for (n, rule) in rules.iter().enumerate() {
        let get = |k: &str| rule.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let name = |field: &str| {
            if p.get(field).is_some() {
                field.to_owned()
            } else {
                format!("Permissions.{}.{field}", n + 1)
            }
        };
        let protocol = get("IpProtocol")
            .ok_or_else(|| ApiError::missing(&name("IpProtocol")))?
            .to_ascii_uppercase();
        if !["TCP", "UDP", "ICMP", "GRE", "ALL"].contains(&protocol.as_str()) {
            return Err(ApiError::new(
                400,
                "InvalidIpProtocol.Malformed",
                format!(
                    "The specified parameter \"{}\" is not valid: \"{protocol}\" is not one of tcp, udp, icmp, gre, all.",
                    name("IpProtocol")
                ),
            ));
        }
        let range = get("PortRange").ok_or_else(|| ApiError::missing(&name("PortRange")))?;
        let port_range = parse_port_range(&protocol, range).map_err(|why| {
            ApiError::new(
                400,
                "InvalidPortRange.Malformed",
                format!(
                    "The specified parameter \"{}\" is not valid: {why}",
                    name("PortRange")
                ),
            )
        })?;
        let source_group_id = get("SourceGroupId").unwrap_or_default().to_owned();
        let source_cidr_ip = match get("SourceCidrIp") {
            Some(text) => parse_source_cidr(text).ok_or_else(|| {
                ApiError::new(
                    400,
                    "InvalidSourceCidrIp.Malformed",
                    format!("The specified parameter \"{}\" is not valid: \"{text}\" is not an IPv4 address or CIDR block.", name("SourceCidrIp")),
                )
            })?,
            None if !source_group_id.is_empty() => {
                world.network.security_group(region, &source_group_id)?;
                String::new()
            }
            None => return Err(ApiError::missing(&name("SourceCidrIp"))),
        };
        let policy = match get("Policy")
            .unwrap_or("accept")
            .to_ascii_lowercase()
            .as_str()
        {
            p @ ("accept" | "drop") => p.to_owned(),
            other => {
                return Err(ApiError::invalid(
                    &name("Policy"),
                    format_args!("\"{other}\" is not one of accept, drop"),
                ));
            }
        };
        let priority = match get("Priority") {
            None => 1,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|p| (1..=100).contains(p))
                .ok_or_else(|| {
                    ApiError::invalid(&name("Priority"), "must be an integer from 1 to 100")
                })?,
        };
        added.push(Permission {
            id: new_id("sgr", region),
            direction: "ingress".to_owned(),
            ip_protocol: protocol,
            port_range,
            source_cidr_ip,
            source_group_id,
            policy,
            priority,
            description: get("Description").unwrap_or_default().to_owned(),
            created_ms: call.now_ms,
        });
    }
    let group = world
        .network
        .security_groups
        .get_mut(&id)
        .ok_or_else(ApiError::internal)?;
    for rule in added {
        // Authorizing a rule that already exists changes nothing, as on ECS.
        let same = |r: &Permission| {
            (
                &r.direction,
                &r.ip_protocol,
                &r.port_range,
                &r.source_cidr_ip,
                &r.source_group_id,
                &r.policy,
            ) == (
                &rule.direction,
                &rule.ip_protocol,
                &rule.port_range,
                &rule.source_cidr_ip,
                &rule.source_group_id,
                &rule.policy,
            )
        };
        if !group.permissions.iter().any(same) {
            group.permissions.push(rule);
        }
    }
    Ok(json!({}))
}

fn describe_security_group_attribute(world: &mut World, call: &Call<'_>) -> ApiResult<Value> {
    let p = call.params;
    let region = region_param(p)?;
    let group = world
        .network
        .security_group(region, p.required("SecurityGroupId")?)?;
    let direction = p.get("Direction").unwrap_or("all");
    let permissions: Vec<Value> = group
        .permissions
        .iter()
        .filter(|r| direction == "all" || r.direction == direction)
        .map(|r| {
            json!({
                "SecurityGroupRuleId": r.id,
                "Direction": r.direction,
                "IpProtocol": r.ip_protocol,
                "PortRange": r.port_range,
                "SourceCidrIp": r.source_cidr_ip,
                "SourceGroupId": r.source_group_id,
                "Policy": r.policy.clone()[..1].to_ascii_uppercase() + &r.policy[1..],
                "Priority": r.priority.to_string(),
                "Description": r.description,
                "NicType": "intranet",
                "CreateTime": format_seconds(r.created_ms),
                "DestCidrIp": "",
                "SourcePortRange": "",
            })
        })
        .collect();
    Ok(json!({
        "SecurityGroupId": group.id,
        "SecurityGroupName": group.name,
        "Description": group.description,
        "VpcId": group.vpc_id,
        "RegionId": group.region_id,
        "InnerAccessPolicy": "Accept",
        "Permissions": { "Permission": permissions },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cidr(s: &str) -> Cidr {
        Cidr::parse(s).unwrap()
    }

    #[test]
    fn cidr_blocks_parse_and_print_back_unchanged() {
        for text in [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.1.0/24",
            "0.0.0.0/0",
            "10.1.2.3/32",
        ] {
            assert_eq!(cidr(text).to_string(), text);
        }
        assert_eq!(
            cidr("10.1.2.3").to_string(),
            "10.1.2.3/32",
            "a bare address is a /32"
        );
    }

    #[test]
    fn malformed_cidr_blocks_say_what_is_wrong() {
        assert!(
            Cidr::parse("10.0.0.1/24")
                .unwrap_err()
                .0
                .contains("10.0.0.0/24")
        );
        assert!(
            Cidr::parse("10.0.0.0/33")
                .unwrap_err()
                .0
                .contains("0 to 32")
        );
        assert!(Cidr::parse("10.0.0/8").is_err());
        assert!(Cidr::parse("banana").is_err());
    }

    #[test]
    fn containment_needs_a_longer_or_equal_prefix_inside_the_block() {
        assert!(cidr("172.16.0.0/12").contains(cidr("172.16.0.0/20")));
        assert!(cidr("172.16.0.0/12").contains(cidr("172.31.255.0/24")));
        assert!(!cidr("172.16.0.0/12").contains(cidr("172.32.0.0/24")));
        assert!(!cidr("172.16.0.0/20").contains(cidr("172.16.0.0/12")));
        assert!(cidr("0.0.0.0/0").contains(cidr("8.8.8.8/32")));
    }

    #[test]
    fn adjacent_blocks_do_not_overlap_but_nested_ones_do() {
        assert!(!cidr("10.0.0.0/24").overlaps(cidr("10.0.1.0/24")));
        assert!(cidr("10.0.0.0/16").overlaps(cidr("10.0.200.0/24")));
        assert!(cidr("10.0.200.0/24").overlaps(cidr("10.0.0.0/16")));
    }

    #[test]
    fn only_rfc1918_space_is_private() {
        assert!(cidr("10.0.0.0/8").is_private());
        assert!(cidr("192.168.0.0/16").is_private());
        assert!(!cidr("172.32.0.0/16").is_private());
        assert!(!cidr("8.0.0.0/8").is_private());
    }

    #[test]
    fn default_vswitches_are_disjoint_twentys_inside_the_default_vpc() {
        let region = catalog::region("cn-hangzhou").unwrap();
        let vswitches = default_vswitches(region);
        assert_eq!(vswitches.len(), region.zones().count());
        assert_eq!(vswitches[0].id, "vsw-cn-hangzhou-h");
        for (n, a) in vswitches.iter().enumerate() {
            assert!(cidr(DEFAULT_VPC_CIDR).contains(cidr(&a.cidr)), "{}", a.cidr);
            for b in &vswitches[n + 1..] {
                assert!(
                    !cidr(&a.cidr).overlaps(cidr(&b.cidr)),
                    "{} {}",
                    a.cidr,
                    b.cidr
                );
            }
        }
    }

    #[test]
    fn placement_resolves_default_and_created_vswitches_and_refuses_others() {
        let region = catalog::region("cn-hangzhou").unwrap();
        let mut network = Network::default();
        assert_eq!(
            network.placement(region, "vsw-cn-hangzhou-k").unwrap(),
            Placement {
                vpc_id: "vpc-cn-hangzhou-default".into(),
                zone_id: "cn-hangzhou-k".into()
            }
        );
        network.vswitches.insert(
            "vsw-x".into(),
            VSwitch {
                id: "vsw-x".into(),
                vpc_id: "vpc-x".into(),
                region_id: region.id.into(),
                zone_id: "cn-hangzhou-j".into(),
                cidr: "10.0.0.0/24".into(),
                name: String::new(),
                description: String::new(),
                created_ms: 0,
                is_default: false,
            },
        );
        assert_eq!(network.placement(region, "vsw-x").unwrap().vpc_id, "vpc-x");
        assert_eq!(
            network.placement(region, "vsw-nope").unwrap_err().code,
            "InvalidVSwitchId.NotFound"
        );
        let beijing = catalog::region("cn-beijing").unwrap();
        assert!(
            network.placement(beijing, "vsw-x").is_err(),
            "a vSwitch belongs to one region"
        );
        assert!(network.placement(beijing, "vsw-cn-hangzhou-k").is_err());
    }

    #[test]
    fn port_ranges_are_checked_per_protocol() {
        assert_eq!(parse_port_range("TCP", "1/65535").unwrap(), "1/65535");
        assert!(parse_port_range("TCP", "0/80").is_err());
        assert!(parse_port_range("UDP", "90/80").is_err());
        assert!(parse_port_range("TCP", "80").is_err());
        assert_eq!(parse_port_range("ICMP", "-1/-1").unwrap(), "-1/-1");
        assert!(parse_port_range("ALL", "1/10").is_err());
    }

    proptest! {
        #[test]
        fn overlap_is_symmetric_and_agrees_with_address_sets(
            a in any::<u32>(), la in 16u8..=32, b in any::<u32>(), lb in 16u8..=32
        ) {
            // Restrict to one /16 so the blocks collide often.
            let x = Cidr { base: (0x0a00_0000 | (a & 0xffff)) & Cidr::mask_of(la), len: la };
            let y = Cidr { base: (0x0a00_0000 | (b & 0xffff)) & Cidr::mask_of(lb), len: lb };
            prop_assert_eq!(x.overlaps(y), y.overlaps(x));
            let shared = (x.base..=x.last()).any(|ip| y.base <= ip && ip <= y.last());
            prop_assert_eq!(x.overlaps(y), shared);
            // Containment implies overlap.
            if x.contains(y) { prop_assert!(x.overlaps(y)); }
            // Overlapping CIDR blocks are always nested: one contains the other.
            if x.overlaps(y) { prop_assert!(x.contains(y) || y.contains(x)); }
        }
    }
}
