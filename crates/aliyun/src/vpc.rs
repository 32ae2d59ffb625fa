//! VPC 2016-04-28: VPCs, vSwitches and routes; and the ECS security groups.
//!
//! ```text
//!   client.vpc() ──▶ Vpc<'_> ── create_vpc / delete_vpc / describe_vpcs(+all)
//!                               create_vswitch / delete_vswitch / describe_vswitches(+all)
//!                               describe_route_table_list / describe_route_entry_list(+all)
//!                               create_route_entry / delete_route_entry          (VPC product)
//!                               create_security_group / describe_security_groups(+all)
//!                               delete_security_group / authorize_security_group
//!                               describe_security_group_attribute                (ECS product)
//! ```
//!
//! Security groups belong to the ECS API (2014-05-26) but to the network in every caller's mind,
//! so they live here and are sent to [`Product::Ecs`]. VPC arrays are wrapped like ECS ones
//! (`"Vpcs":{"Vpc":[…]}`); the same unwrapping deserializer handles both.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::client::{
    Ack, Client, paged_request, paginate_request, paginate_tokens, token_or_fresh,
};
use crate::ecs::{Tag, wrapped};
use crate::endpoint::Product;
use crate::error::Result;
use crate::params::Params;

/// The VPC API (and the ECS security groups) of a [`Client`].
#[derive(Clone, Copy, Debug)]
pub struct Vpc<'a> {
    client: &'a Client,
}

impl Client {
    /// VPCs, vSwitches, routes and security groups.
    pub fn vpc(&self) -> Vpc<'_> {
        Vpc { client: self }
    }
}

/// The largest `PageSize` the VPC and security-group describe actions accept.
const MAX_PAGE_SIZE: u32 = 50;

impl Vpc<'_> {
    async fn call<T: DeserializeOwned>(&self, action: &str, params: Params) -> Result<T> {
        self.client.rpc(Product::Vpc, action, params).await
    }

    async fn ecs<T: DeserializeOwned>(&self, action: &str, params: Params) -> Result<T> {
        self.client.rpc(Product::Ecs, action, params).await
    }

    fn region(&self) -> &str {
        self.client.region()
    }

    /// Creates a VPC (with its vRouter and system route table). The client token is fixed
    /// before the first attempt, so retries create one VPC.
    pub async fn create_vpc(&self, request: &CreateVpcRequest) -> Result<CreateVpcResponse> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put_opt("CidrBlock", request.cidr_block.as_deref())
            .put_opt("VpcName", request.vpc_name.as_deref())
            .put_opt("Description", request.description.as_deref())
            .put_opt("ResourceGroupId", request.resource_group_id.as_deref())
            .put(
                "ClientToken",
                token_or_fresh(request.client_token.as_deref()),
            );
        self.call("CreateVpc", params).await
    }

    /// Deletes a VPC; it must have no vSwitches or security groups left.
    pub async fn delete_vpc(&self, vpc_id: &str) -> Result<Ack> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("VpcId", vpc_id);
        self.call("DeleteVpc", params).await
    }

    /// One page of VPCs.
    pub async fn describe_vpcs(
        &self,
        request: &DescribeVpcsRequest,
    ) -> Result<DescribeVpcsResponse> {
        let ids = (!request.vpc_ids.is_empty()).then(|| request.vpc_ids.join(","));
        let params = Params::new()
            .put("RegionId", self.region())
            .put_opt("VpcId", ids)
            .put_opt("VpcName", request.vpc_name.as_deref())
            .put_opt("IsDefault", request.is_default)
            .put_opt("PageNumber", request.page_number)
            .put_opt("PageSize", request.page_size);
        self.call("DescribeVpcs", params).await
    }

    /// Every VPC matching `request`.
    pub async fn describe_all_vpcs(&self, request: &DescribeVpcsRequest) -> Result<Vec<VpcInfo>> {
        paginate_request(request, MAX_PAGE_SIZE, |page| async move {
            let response = self.describe_vpcs(&page).await?;
            Ok((response.vpcs, response.total_count))
        })
        .await
    }

    /// Creates a vSwitch in a zone of a VPC; its CIDR must lie inside the VPC's and overlap no
    /// other vSwitch of the VPC.
    pub async fn create_vswitch(
        &self,
        request: &CreateVSwitchRequest,
    ) -> Result<CreateVSwitchResponse> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("VpcId", &request.vpc_id)
            .put("ZoneId", &request.zone_id)
            .put("CidrBlock", &request.cidr_block)
            .put_opt("VSwitchName", request.vswitch_name.as_deref())
            .put_opt("Description", request.description.as_deref())
            .put(
                "ClientToken",
                token_or_fresh(request.client_token.as_deref()),
            );
        self.call("CreateVSwitch", params).await
    }

    /// Deletes a vSwitch nothing uses any more.
    pub async fn delete_vswitch(&self, vswitch_id: &str) -> Result<Ack> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("VSwitchId", vswitch_id);
        self.call("DeleteVSwitch", params).await
    }

    /// One page of vSwitches.
    pub async fn describe_vswitches(
        &self,
        request: &DescribeVSwitchesRequest,
    ) -> Result<DescribeVSwitchesResponse> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put_opt("VpcId", request.vpc_id.as_deref())
            .put_opt("VSwitchId", request.vswitch_id.as_deref())
            .put_opt("ZoneId", request.zone_id.as_deref())
            .put_opt("VSwitchName", request.vswitch_name.as_deref())
            .put_opt("IsDefault", request.is_default)
            .put_opt("PageNumber", request.page_number)
            .put_opt("PageSize", request.page_size);
        self.call("DescribeVSwitches", params).await
    }

    /// Every vSwitch matching `request`.
    pub async fn describe_all_vswitches(
        &self,
        request: &DescribeVSwitchesRequest,
    ) -> Result<Vec<VSwitch>> {
        paginate_request(request, MAX_PAGE_SIZE, |page| async move {
            let response = self.describe_vswitches(&page).await?;
            Ok((response.vswitches, response.total_count))
        })
        .await
    }

    /// The route tables of a VPC (or one table by id).
    pub async fn describe_route_table_list(
        &self,
        request: &DescribeRouteTableListRequest,
    ) -> Result<DescribeRouteTableListResponse> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put_opt("VpcId", request.vpc_id.as_deref())
            .put_opt("RouteTableId", request.route_table_id.as_deref())
            .put_opt("PageNumber", request.page_number)
            .put_opt("PageSize", request.page_size);
        self.call("DescribeRouteTableList", params).await
    }

    /// One page of the entries of a route table, system and custom.
    pub async fn describe_route_entry_list(
        &self,
        request: &DescribeRouteEntryListRequest,
    ) -> Result<DescribeRouteEntryListResponse> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("RouteTableId", &request.route_table_id)
            .put_opt(
                "DestinationCidrBlock",
                request.destination_cidr_block.as_deref(),
            )
            .put_opt("NextHopId", request.next_hop_id.as_deref())
            .put_opt("RouteEntryId", request.route_entry_id.as_deref())
            .put_opt("RouteEntryType", request.route_entry_type.as_deref())
            .put_opt("MaxResult", request.max_result)
            .put_opt("NextToken", request.next_token.as_deref());
        self.call("DescribeRouteEntryList", params).await
    }

    /// Every entry of a route table matching `request`, following `NextToken`.
    pub async fn describe_all_route_entries(
        &self,
        request: &DescribeRouteEntryListRequest,
    ) -> Result<Vec<RouteEntry>> {
        paginate_tokens(|next_token| {
            let page = DescribeRouteEntryListRequest {
                next_token,
                ..request.clone()
            };
            async move {
                let response = self.describe_route_entry_list(&page).await?;
                Ok((response.route_entries, Some(response.next_token)))
            }
        })
        .await
    }

    /// Adds a custom route (e.g. a node's pod CIDR with the node's instance as next hop).
    pub async fn create_route_entry(
        &self,
        request: &CreateRouteEntryRequest,
    ) -> Result<CreateRouteEntryResponse> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("RouteTableId", &request.route_table_id)
            .put("DestinationCidrBlock", &request.destination_cidr_block)
            .put_opt("NextHopType", request.next_hop_type.as_deref())
            .put("NextHopId", &request.next_hop_id)
            .put_opt("RouteEntryName", request.route_entry_name.as_deref())
            .put_opt("Description", request.description.as_deref())
            .put(
                "ClientToken",
                token_or_fresh(request.client_token.as_deref()),
            );
        self.call("CreateRouteEntry", params).await
    }

    /// Removes a custom route, named by its id or by its destination (and next hop).
    pub async fn delete_route_entry(&self, request: &DeleteRouteEntryRequest) -> Result<Ack> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put_opt("RouteTableId", request.route_table_id.as_deref())
            .put_opt("RouteEntryId", request.route_entry_id.as_deref())
            .put_opt(
                "DestinationCidrBlock",
                request.destination_cidr_block.as_deref(),
            )
            .put_opt("NextHopId", request.next_hop_id.as_deref());
        self.call("DeleteRouteEntry", params).await
    }

    /// Creates a security group (ECS API).
    pub async fn create_security_group(
        &self,
        request: &CreateSecurityGroupRequest,
    ) -> Result<CreateSecurityGroupResponse> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put_opt("VpcId", request.vpc_id.as_deref())
            .put_opt("SecurityGroupName", request.security_group_name.as_deref())
            .put_opt("SecurityGroupType", request.security_group_type.as_deref())
            .put_opt("Description", request.description.as_deref())
            .put_tags("Tag", &request.tags)
            .put(
                "ClientToken",
                token_or_fresh(request.client_token.as_deref()),
            );
        self.ecs("CreateSecurityGroup", params).await
    }

    /// One page of security groups (ECS API).
    pub async fn describe_security_groups(
        &self,
        request: &DescribeSecurityGroupsRequest,
    ) -> Result<DescribeSecurityGroupsResponse> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put_json("SecurityGroupIds", &request.security_group_ids)
            .put_opt("VpcId", request.vpc_id.as_deref())
            .put_opt("SecurityGroupName", request.security_group_name.as_deref())
            .put_tags("Tag", &request.tags)
            .put_opt("PageNumber", request.page_number)
            .put_opt("PageSize", request.page_size);
        self.ecs("DescribeSecurityGroups", params).await
    }

    /// Every security group matching `request`.
    pub async fn describe_all_security_groups(
        &self,
        request: &DescribeSecurityGroupsRequest,
    ) -> Result<Vec<SecurityGroup>> {
        paginate_request(request, MAX_PAGE_SIZE, |page| async move {
            let response = self.describe_security_groups(&page).await?;
            Ok((response.security_groups, response.total_count))
        })
        .await
    }

    /// Deletes a security group no instance uses (ECS API).
    pub async fn delete_security_group(&self, security_group_id: &str) -> Result<Ack> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("SecurityGroupId", security_group_id);
        self.ecs("DeleteSecurityGroup", params).await
    }

    /// Adds an ingress rule; adding one that exists changes nothing (ECS API).
    pub async fn authorize_security_group(
        &self,
        request: &AuthorizeSecurityGroupRequest,
    ) -> Result<Ack> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("SecurityGroupId", &request.security_group_id)
            .put("IpProtocol", &request.ip_protocol)
            .put("PortRange", &request.port_range)
            .put_opt("SourceCidrIp", request.source_cidr_ip.as_deref())
            .put_opt("SourceGroupId", request.source_group_id.as_deref())
            .put_opt("Policy", request.policy.as_deref())
            .put_opt("Priority", request.priority)
            .put_opt("Description", request.description.as_deref())
            .put(
                "ClientToken",
                token_or_fresh(request.client_token.as_deref()),
            );
        self.ecs("AuthorizeSecurityGroup", params).await
    }

    /// A security group and its rules (ECS API).
    pub async fn describe_security_group_attribute(
        &self,
        security_group_id: &str,
    ) -> Result<DescribeSecurityGroupAttributeResponse> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("SecurityGroupId", security_group_id);
        self.ecs("DescribeSecurityGroupAttribute", params).await
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateVpcRequest {
    /// RFC 1918 block with a /8–/28 mask; the service defaults to 172.16.0.0/12.
    pub cidr_block: Option<String>,
    pub vpc_name: Option<String>,
    pub description: Option<String>,
    pub resource_group_id: Option<String>,
    /// Idempotency token; a fresh one is made when `None`.
    pub client_token: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateVpcResponse {
    pub request_id: String,
    pub vpc_id: String,
    #[serde(rename = "VRouterId")]
    pub vrouter_id: String,
    pub route_table_id: String,
    pub resource_group_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeVpcsRequest {
    /// Sent comma-separated (up to 20).
    pub vpc_ids: Vec<String>,
    pub vpc_name: Option<String>,
    pub is_default: Option<bool>,
    pub page_number: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeVpcsResponse {
    pub request_id: String,
    pub total_count: u64,
    pub page_number: u32,
    pub page_size: u32,
    /// `Vpcs.Vpc[]`.
    #[serde(deserialize_with = "wrapped")]
    pub vpcs: Vec<VpcInfo>,
}

/// A VPC as DescribeVpcs shows it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VpcInfo {
    pub vpc_id: String,
    pub vpc_name: String,
    pub description: String,
    pub region_id: String,
    pub cidr_block: String,
    /// `Pending` or `Available`.
    pub status: String,
    pub is_default: bool,
    #[serde(rename = "VRouterId")]
    pub vrouter_id: String,
    pub creation_time: String,
    /// `VSwitchIds.VSwitchId[]`.
    #[serde(rename = "VSwitchIds", deserialize_with = "wrapped")]
    pub vswitch_ids: Vec<String>,
    /// `RouterTableIds.RouterTableIds[]`.
    #[serde(deserialize_with = "wrapped")]
    pub router_table_ids: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateVSwitchRequest {
    pub vpc_id: String,
    pub zone_id: String,
    /// Inside the VPC's block, /16–/29.
    pub cidr_block: String,
    pub vswitch_name: Option<String>,
    pub description: Option<String>,
    /// Idempotency token; a fresh one is made when `None`.
    pub client_token: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateVSwitchResponse {
    pub request_id: String,
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeVSwitchesRequest {
    pub vpc_id: Option<String>,
    pub vswitch_id: Option<String>,
    pub zone_id: Option<String>,
    pub vswitch_name: Option<String>,
    pub is_default: Option<bool>,
    pub page_number: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeVSwitchesResponse {
    pub request_id: String,
    pub total_count: u64,
    pub page_number: u32,
    pub page_size: u32,
    /// `VSwitches.VSwitch[]`.
    #[serde(rename = "VSwitches", deserialize_with = "wrapped")]
    pub vswitches: Vec<VSwitch>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VSwitch {
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
    #[serde(rename = "VSwitchName")]
    pub vswitch_name: String,
    pub vpc_id: String,
    pub zone_id: String,
    pub cidr_block: String,
    pub status: String,
    pub is_default: bool,
    /// Free addresses (the block minus 4 reserved, minus what is placed in it).
    pub available_ip_address_count: u64,
    pub description: String,
    pub creation_time: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeRouteTableListRequest {
    pub vpc_id: Option<String>,
    pub route_table_id: Option<String>,
    pub page_number: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeRouteTableListResponse {
    pub request_id: String,
    pub total_count: u64,
    /// `RouterTableList.RouterTableListType[]`.
    #[serde(deserialize_with = "wrapped")]
    pub router_table_list: Vec<RouteTable>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RouteTable {
    pub route_table_id: String,
    /// `System` or `Custom`.
    pub route_table_type: String,
    pub router_id: String,
    pub vpc_id: String,
    pub status: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeRouteEntryListRequest {
    pub route_table_id: String,
    pub destination_cidr_block: Option<String>,
    pub next_hop_id: Option<String>,
    pub route_entry_id: Option<String>,
    /// `System` or `Custom`.
    pub route_entry_type: Option<String>,
    /// 20–100.
    pub max_result: Option<u32>,
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeRouteEntryListResponse {
    pub request_id: String,
    pub next_token: String,
    pub total_count: u64,
    /// `RouteEntrys.RouteEntry[]` (sic).
    #[serde(rename = "RouteEntrys", deserialize_with = "wrapped")]
    pub route_entries: Vec<RouteEntry>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RouteEntry {
    pub route_entry_id: String,
    pub route_entry_name: String,
    pub route_table_id: String,
    pub destination_cidr_block: String,
    /// `System` or `Custom`.
    #[serde(rename = "Type")]
    pub kind: String,
    pub status: String,
    pub description: String,
    /// `NextHops.NextHop[]`.
    #[serde(deserialize_with = "wrapped")]
    pub next_hops: Vec<NextHop>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NextHop {
    pub next_hop_id: String,
    pub next_hop_type: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateRouteEntryRequest {
    pub route_table_id: String,
    /// A CIDR block or an address (= /32).
    pub destination_cidr_block: String,
    /// `Instance` (the service's default), `HaVip`, `NetworkInterface`, …
    pub next_hop_type: Option<String>,
    pub next_hop_id: String,
    pub route_entry_name: Option<String>,
    pub description: Option<String>,
    /// Idempotency token; a fresh one is made when `None`.
    pub client_token: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateRouteEntryResponse {
    pub request_id: String,
    pub route_entry_id: String,
}

/// Names a custom route by `route_entry_id`, or by table + destination (+ next hop).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteRouteEntryRequest {
    pub route_table_id: Option<String>,
    pub route_entry_id: Option<String>,
    pub destination_cidr_block: Option<String>,
    pub next_hop_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateSecurityGroupRequest {
    /// The VPC; the region's default VPC when `None`.
    pub vpc_id: Option<String>,
    pub security_group_name: Option<String>,
    /// `normal` or `enterprise`.
    pub security_group_type: Option<String>,
    pub description: Option<String>,
    /// `Tag.N.Key`/`Tag.N.Value`.
    pub tags: Vec<(String, String)>,
    /// Idempotency token; a fresh one is made when `None`.
    pub client_token: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateSecurityGroupResponse {
    pub request_id: String,
    pub security_group_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeSecurityGroupsRequest {
    /// Sent as one JSON array text (up to 100 ids).
    pub security_group_ids: Vec<String>,
    pub vpc_id: Option<String>,
    pub security_group_name: Option<String>,
    /// `Tag.N.Key`/`Tag.N.Value` filters.
    pub tags: Vec<(String, String)>,
    pub page_number: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeSecurityGroupsResponse {
    pub request_id: String,
    pub total_count: u64,
    pub page_number: u32,
    pub page_size: u32,
    /// `SecurityGroups.SecurityGroup[]`.
    #[serde(deserialize_with = "wrapped")]
    pub security_groups: Vec<SecurityGroup>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct SecurityGroup {
    pub security_group_id: String,
    pub security_group_name: String,
    pub security_group_type: String,
    pub description: String,
    pub vpc_id: String,
    pub creation_time: String,
    /// Instances in the group.
    pub ecs_count: u64,
    pub rule_count: u64,
    /// `Tags.Tag[]`.
    #[serde(deserialize_with = "wrapped")]
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorizeSecurityGroupRequest {
    pub security_group_id: String,
    /// `tcp`, `udp`, `icmp`, `gre` or `all`.
    pub ip_protocol: String,
    /// `from/to` (`1/65535`, `22/22`); `-1/-1` for protocols without ports.
    pub port_range: String,
    /// An address or CIDR block; or give `source_group_id`.
    pub source_cidr_ip: Option<String>,
    pub source_group_id: Option<String>,
    /// `accept` (default) or `drop`.
    pub policy: Option<String>,
    /// 1 (highest) to 100.
    pub priority: Option<u32>,
    pub description: Option<String>,
    /// Idempotency token; a fresh one is made when `None`.
    pub client_token: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeSecurityGroupAttributeResponse {
    pub request_id: String,
    pub security_group_id: String,
    pub security_group_name: String,
    pub vpc_id: String,
    pub description: String,
    /// `Permissions.Permission[]`.
    #[serde(deserialize_with = "wrapped")]
    pub permissions: Vec<Permission>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Permission {
    pub security_group_rule_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    pub ip_protocol: String,
    pub port_range: String,
    pub source_cidr_ip: String,
    pub source_group_id: String,
    /// `Accept` or `Drop`.
    pub policy: String,
    pub priority: String,
    pub description: String,
}

paged_request!(
    DescribeVpcsRequest,
    DescribeVSwitchesRequest,
    DescribeSecurityGroupsRequest
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpc_listings_unwrap_their_nested_arrays() {
        let body = r#"{"RequestId":"r","TotalCount":1,"PageNumber":1,"PageSize":10,
            "Vpcs":{"Vpc":[{"VpcId":"vpc-1","CidrBlock":"10.0.0.0/8","IsDefault":false,
            "VRouterId":"vrt-1","VSwitchIds":{"VSwitchId":["vsw-1","vsw-2"]},
            "RouterTableIds":{"RouterTableIds":["vtb-1"]}}]}}"#;
        let parsed: DescribeVpcsResponse = serde_json::from_str(body).expect("parses");
        assert_eq!(parsed.vpcs[0].vswitch_ids, ["vsw-1", "vsw-2"]);
        assert_eq!(parsed.vpcs[0].router_table_ids, ["vtb-1"]);
        assert_eq!(parsed.vpcs[0].vrouter_id, "vrt-1");
    }

    #[test]
    fn route_entries_read_the_services_spelling() {
        let body = r#"{"RouteEntrys":{"RouteEntry":[{"RouteEntryId":"rte-1","Type":"Custom",
            "DestinationCidrBlock":"10.96.0.0/24",
            "NextHops":{"NextHop":[{"NextHopId":"i-1","NextHopType":"Instance"}]}}]},"NextToken":""}"#;
        let parsed: DescribeRouteEntryListResponse = serde_json::from_str(body).expect("parses");
        assert_eq!(parsed.route_entries[0].kind, "Custom");
        assert_eq!(parsed.route_entries[0].next_hops[0].next_hop_id, "i-1");
    }
}
