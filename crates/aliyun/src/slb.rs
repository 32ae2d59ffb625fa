//! SLB 2014-05-15: classic load balancers, listeners and VServer groups.
//!
//! ```text
//!   client.slb() ──▶ Slb<'_> ── create_load_balancer ─▶ create_vserver_group(backends)
//!                                    │                        │ add/remove/set/modify backends
//!                                    ▼                        ▼
//!                     create_load_balancer_{tcp,udp,http}_listener(VServerGroupId)
//!                                    │ start/stop_load_balancer_listener
//!                                    ▼
//!                     describe_load_balancer_attribute · describe_*_listener_attribute
//! ```
//!
//! `BackendServers` and `Tags` go out as JSON text (the API's contract, not our choice); arrays
//! come back wrapped (`"LoadBalancers":{"LoadBalancer":[…]}`). Backend `Weight` and `Port` are
//! sometimes strings on the wire, so they are read leniently.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::client::{
    Ack, Client, paged_request, paginate_request, paginate_tokens, token_or_fresh,
};
use crate::ecs::{Tag, wrapped};
use crate::endpoint::Product;
use crate::error::Result;
use crate::params::Params;

/// The SLB API of a [`Client`].
#[derive(Clone, Copy, Debug)]
pub struct Slb<'a> {
    client: &'a Client,
}

impl Client {
    /// Classic load balancers (CLB).
    pub fn slb(&self) -> Slb<'_> {
        Slb { client: self }
    }
}

/// The largest `PageSize` DescribeLoadBalancers accepts.
const MAX_PAGE_SIZE: u32 = 100;

/// TCP, UDP or HTTP: the listener kinds the typed API creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerProtocol {
    Tcp,
    Udp,
    Http,
}

impl ListenerProtocol {
    /// The spelling in `ListenerProtocol` parameters.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Http => "http",
        }
    }

    fn action_infix(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::Http => "HTTP",
        }
    }
}

impl Slb<'_> {
    async fn call<T: DeserializeOwned>(&self, action: &str, params: Params) -> Result<T> {
        self.client.rpc(Product::Slb, action, params).await
    }

    fn region(&self) -> &str {
        self.client.region()
    }

    fn lb(&self, load_balancer_id: &str) -> Params {
        Params::new()
            .put("RegionId", self.region())
            .put("LoadBalancerId", load_balancer_id)
    }

    /// Creates a load balancer. The client token is fixed before the first attempt, so our
    /// retries create one load balancer.
    pub async fn create_load_balancer(
        &self,
        request: &CreateLoadBalancerRequest,
    ) -> Result<CreateLoadBalancerResponse> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put_opt("LoadBalancerName", request.load_balancer_name.as_deref())
            .put_opt("AddressType", request.address_type.as_deref())
            .put_opt("VpcId", request.vpc_id.as_deref())
            .put_opt("VSwitchId", request.vswitch_id.as_deref())
            .put_opt("LoadBalancerSpec", request.load_balancer_spec.as_deref())
            .put_opt("MasterZoneId", request.master_zone_id.as_deref())
            .put_opt("SlaveZoneId", request.slave_zone_id.as_deref())
            .put_opt(
                "InternetChargeType",
                request.internet_charge_type.as_deref(),
            )
            .put_opt("Bandwidth", request.bandwidth)
            .put_opt("DeleteProtection", request.delete_protection.map(on_off))
            .put_tags("Tag", &request.tags)
            .put(
                "ClientToken",
                token_or_fresh(request.client_token.as_deref()),
            );
        self.call("CreateLoadBalancer", params).await
    }

    /// One page of load balancers.
    pub async fn describe_load_balancers(
        &self,
        request: &DescribeLoadBalancersRequest,
    ) -> Result<DescribeLoadBalancersResponse> {
        let ids =
            (!request.load_balancer_ids.is_empty()).then(|| request.load_balancer_ids.join(","));
        let params = Params::new()
            .put("RegionId", self.region())
            .put_opt("LoadBalancerId", ids)
            .put_opt("LoadBalancerName", request.load_balancer_name.as_deref())
            .put_opt("AddressType", request.address_type.as_deref())
            .put_opt("VpcId", request.vpc_id.as_deref())
            .put_opt("VSwitchId", request.vswitch_id.as_deref())
            .put_opt("ServerId", request.server_id.as_deref())
            .put_opt("Tags", tags_json(&request.tags))
            .put_opt("PageNumber", request.page_number)
            .put_opt("PageSize", request.page_size);
        self.call("DescribeLoadBalancers", params).await
    }

    /// Every load balancer matching `request`.
    pub async fn describe_all_load_balancers(
        &self,
        request: &DescribeLoadBalancersRequest,
    ) -> Result<Vec<LoadBalancer>> {
        paginate_request(request, MAX_PAGE_SIZE, |page| async move {
            let response = self.describe_load_balancers(&page).await?;
            Ok((response.load_balancers, response.total_count))
        })
        .await
    }

    /// A load balancer with its listeners.
    pub async fn describe_load_balancer_attribute(
        &self,
        load_balancer_id: &str,
    ) -> Result<LoadBalancerAttribute> {
        self.call("DescribeLoadBalancerAttribute", self.lb(load_balancer_id))
            .await
    }

    /// Deletes a load balancer (refused while its delete protection is on).
    pub async fn delete_load_balancer(&self, load_balancer_id: &str) -> Result<Ack> {
        self.call("DeleteLoadBalancer", self.lb(load_balancer_id))
            .await
    }

    /// Turns delete protection on or off.
    pub async fn set_load_balancer_delete_protection(
        &self,
        load_balancer_id: &str,
        on: bool,
    ) -> Result<Ack> {
        let params = self
            .lb(load_balancer_id)
            .put("DeleteProtection", on_off(on));
        self.call("SetLoadBalancerDeleteProtection", params).await
    }

    /// Creates a TCP listener (stopped until [`Slb::start_load_balancer_listener`]).
    pub async fn create_load_balancer_tcp_listener(
        &self,
        request: &CreateListenerRequest,
    ) -> Result<Ack> {
        self.create_listener(ListenerProtocol::Tcp, request).await
    }

    /// Creates a UDP listener (stopped until started).
    pub async fn create_load_balancer_udp_listener(
        &self,
        request: &CreateListenerRequest,
    ) -> Result<Ack> {
        self.create_listener(ListenerProtocol::Udp, request).await
    }

    /// Creates an HTTP listener (stopped until started).
    pub async fn create_load_balancer_http_listener(
        &self,
        request: &CreateListenerRequest,
    ) -> Result<Ack> {
        self.create_listener(ListenerProtocol::Http, request).await
    }

    async fn create_listener(
        &self,
        protocol: ListenerProtocol,
        request: &CreateListenerRequest,
    ) -> Result<Ack> {
        let mut params = self
            .lb(&request.load_balancer_id)
            .put("ListenerPort", request.listener_port)
            .put_opt("BackendServerPort", request.backend_server_port)
            .put_opt("VServerGroupId", request.vserver_group_id.as_deref())
            .put_opt("Scheduler", request.scheduler.as_deref())
            .put_opt("PersistenceTimeout", request.persistence_timeout)
            .put_opt("Description", request.description.as_deref());
        // TCP requires a bandwidth; -1 means unlimited.
        params = params.put_opt(
            "Bandwidth",
            request
                .bandwidth
                .or((protocol == ListenerProtocol::Tcp).then_some(-1)),
        );
        if protocol == ListenerProtocol::Http {
            params = params
                .put(
                    "StickySession",
                    on_off(request.sticky_session.unwrap_or(false)),
                )
                .put_opt("HealthCheck", request.health_check.map(on_off));
        } else {
            params = params.put_opt("HealthCheckSwitch", request.health_check.map(on_off));
        }
        let action = format!("CreateLoadBalancer{}Listener", protocol.action_infix());
        self.call(&action, params).await
    }

    /// Starts a listener (`running`).
    pub async fn start_load_balancer_listener(
        &self,
        load_balancer_id: &str,
        listener_port: u16,
        protocol: Option<ListenerProtocol>,
    ) -> Result<Ack> {
        let params = self
            .lb(load_balancer_id)
            .put("ListenerPort", listener_port)
            .put_opt("ListenerProtocol", protocol.map(ListenerProtocol::as_str));
        self.call("StartLoadBalancerListener", params).await
    }

    /// Stops a listener (`stopped`).
    pub async fn stop_load_balancer_listener(
        &self,
        load_balancer_id: &str,
        listener_port: u16,
        protocol: Option<ListenerProtocol>,
    ) -> Result<Ack> {
        let params = self
            .lb(load_balancer_id)
            .put("ListenerPort", listener_port)
            .put_opt("ListenerProtocol", protocol.map(ListenerProtocol::as_str));
        self.call("StopLoadBalancerListener", params).await
    }

    /// A TCP listener's settings and status.
    pub async fn describe_load_balancer_tcp_listener_attribute(
        &self,
        load_balancer_id: &str,
        listener_port: u16,
    ) -> Result<ListenerAttribute> {
        self.listener_attribute(ListenerProtocol::Tcp, load_balancer_id, listener_port)
            .await
    }

    /// A listener's settings and status, for any of the three protocols.
    pub async fn listener_attribute(
        &self,
        protocol: ListenerProtocol,
        load_balancer_id: &str,
        listener_port: u16,
    ) -> Result<ListenerAttribute> {
        let params = self.lb(load_balancer_id).put("ListenerPort", listener_port);
        let action = format!(
            "DescribeLoadBalancer{}ListenerAttribute",
            protocol.action_infix()
        );
        self.call(&action, params).await
    }

    /// Deletes a listener.
    pub async fn delete_load_balancer_listener(
        &self,
        load_balancer_id: &str,
        listener_port: u16,
        protocol: Option<ListenerProtocol>,
    ) -> Result<Ack> {
        let params = self
            .lb(load_balancer_id)
            .put("ListenerPort", listener_port)
            .put_opt("ListenerProtocol", protocol.map(ListenerProtocol::as_str));
        self.call("DeleteLoadBalancerListener", params).await
    }

    /// Creates a VServer group, optionally with its first backends.
    pub async fn create_vserver_group(
        &self,
        request: &CreateVServerGroupRequest,
    ) -> Result<VServerGroupBackendsResponse> {
        let params = self
            .lb(&request.load_balancer_id)
            .put_opt("VServerGroupName", request.vserver_group_name.as_deref())
            .put_opt("BackendServers", backends_json(&request.backend_servers))
            .put_tags("Tag", &request.tags);
        self.call("CreateVServerGroup", params).await
    }

    /// The VServer groups of a load balancer (with the listeners using them).
    pub async fn describe_vserver_groups(
        &self,
        load_balancer_id: &str,
    ) -> Result<DescribeVServerGroupsResponse> {
        let params = self.lb(load_balancer_id).put("IncludeListener", true);
        self.call("DescribeVServerGroups", params).await
    }

    /// A VServer group with its backends.
    pub async fn describe_vserver_group_attribute(
        &self,
        vserver_group_id: &str,
    ) -> Result<VServerGroupAttribute> {
        self.call(
            "DescribeVServerGroupAttribute",
            self.group(vserver_group_id),
        )
        .await
    }

    fn group(&self, vserver_group_id: &str) -> Params {
        Params::new()
            .put("RegionId", self.region())
            .put("VServerGroupId", vserver_group_id)
    }

    /// Adds backends (an existing server+port gets the new weight).
    pub async fn add_vserver_group_backend_servers(
        &self,
        vserver_group_id: &str,
        backends: &[BackendServer],
    ) -> Result<VServerGroupBackendsResponse> {
        let params = self
            .group(vserver_group_id)
            .put_opt("BackendServers", backends_json(backends));
        self.call("AddVServerGroupBackendServers", params).await
    }

    /// Removes backends (matched by server and port; absent ones are ignored).
    pub async fn remove_vserver_group_backend_servers(
        &self,
        vserver_group_id: &str,
        backends: &[BackendServer],
    ) -> Result<VServerGroupBackendsResponse> {
        let params = self
            .group(vserver_group_id)
            .put_opt("BackendServers", backends_json(backends));
        self.call("RemoveVServerGroupBackendServers", params).await
    }

    /// Renames a group and/or changes the weights of backends already in it.
    pub async fn set_vserver_group_attribute(
        &self,
        vserver_group_id: &str,
        name: Option<&str>,
        backends: &[BackendServer],
    ) -> Result<VServerGroupBackendsResponse> {
        let params = self
            .group(vserver_group_id)
            .put_opt("VServerGroupName", name)
            .put_opt("BackendServers", backends_json(backends));
        self.call("SetVServerGroupAttribute", params).await
    }

    /// Replaces `old` backends with `new` ones in one call.
    pub async fn modify_vserver_group_backend_servers(
        &self,
        vserver_group_id: &str,
        old: &[BackendServer],
        new: &[BackendServer],
    ) -> Result<VServerGroupBackendsResponse> {
        let params = self
            .group(vserver_group_id)
            .put(
                "OldBackendServers",
                backends_json(old).unwrap_or_else(|| "[]".into()),
            )
            .put(
                "NewBackendServers",
                backends_json(new).unwrap_or_else(|| "[]".into()),
            );
        self.call("ModifyVServerGroupBackendServers", params).await
    }

    /// Deletes a VServer group no listener uses.
    pub async fn delete_vserver_group(&self, vserver_group_id: &str) -> Result<Ack> {
        self.call("DeleteVServerGroup", self.group(vserver_group_id))
            .await
    }

    /// Tags load balancers (`ResourceType=instance`).
    pub async fn tag_resources(
        &self,
        load_balancer_ids: &[String],
        tags: &[(String, String)],
    ) -> Result<Ack> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("ResourceType", "instance")
            .put_list("ResourceId", load_balancer_ids)
            .put_tags("Tag", tags);
        self.call("TagResources", params).await
    }

    /// Removes tags by key (or all of them with `all`).
    pub async fn untag_resources(
        &self,
        load_balancer_ids: &[String],
        keys: &[String],
        all: bool,
    ) -> Result<Ack> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("ResourceType", "instance")
            .put_list("ResourceId", load_balancer_ids)
            .put_list("TagKey", keys)
            .put_opt("All", all.then_some(true));
        self.call("UntagResources", params).await
    }

    /// One page of (load balancer, tag) pairs.
    pub async fn list_tag_resources(
        &self,
        request: &ListTagResourcesRequest,
    ) -> Result<ListTagResourcesResponse> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("ResourceType", "instance")
            .put_list("ResourceId", &request.load_balancer_ids)
            .put_tags("Tag", &request.tags)
            .put_opt("NextToken", request.next_token.as_deref());
        self.call("ListTagResources", params).await
    }

    /// Every (load balancer, tag) pair matching `request`, following `NextToken`.
    pub async fn list_all_tag_resources(
        &self,
        request: &ListTagResourcesRequest,
    ) -> Result<Vec<TagResource>> {
        paginate_tokens(|next_token| {
            let page = ListTagResourcesRequest {
                next_token,
                ..request.clone()
            };
            async move {
                let response = self.list_tag_resources(&page).await?;
                Ok((response.tag_resources, Some(response.next_token)))
            }
        })
        .await
    }

    /// Adds tags to one load balancer (the older tag API).
    pub async fn add_tags(&self, load_balancer_id: &str, tags: &[(String, String)]) -> Result<Ack> {
        let params = self.lb(load_balancer_id).put_opt("Tags", tags_json(tags));
        self.call("AddTags", params).await
    }

    /// Tag keys and values in use, with how many load balancers carry each.
    pub async fn describe_tags(
        &self,
        load_balancer_id: Option<&str>,
    ) -> Result<DescribeTagsResponse> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put_opt("LoadBalancerId", load_balancer_id);
        self.call("DescribeTags", params).await
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// `[{"TagKey":"k","TagValue":"v"}]`, or nothing for no tags.
fn tags_json(tags: &[(String, String)]) -> Option<String> {
    (!tags.is_empty()).then(|| {
        serde_json::Value::Array(
            tags.iter()
                .map(|(k, v)| serde_json::json!({"TagKey": k, "TagValue": v}))
                .collect(),
        )
        .to_string()
    })
}

/// The `BackendServers` JSON text, or nothing for no backends.
fn backends_json(backends: &[BackendServer]) -> Option<String> {
    (!backends.is_empty()).then(|| serde_json::to_string(backends).unwrap_or_else(|_| "[]".into()))
}

/// A number the service sends either as a number or as a string.
fn lenient_u32<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        N(u32),
        S(String),
    }
    match Option::<Either>::deserialize(deserializer)? {
        None => Ok(0),
        Some(Either::N(n)) => Ok(n),
        Some(Either::S(s)) if s.is_empty() => Ok(0),
        Some(Either::S(s)) => s.parse().map_err(serde::de::Error::custom),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateLoadBalancerRequest {
    pub load_balancer_name: Option<String>,
    /// `internet` (default) or `intranet`.
    pub address_type: Option<String>,
    pub vpc_id: Option<String>,
    /// Required for `intranet`: the address comes from this vSwitch.
    pub vswitch_id: Option<String>,
    /// e.g. `slb.s1.small`; `None` = pay-by-LCU.
    pub load_balancer_spec: Option<String>,
    pub master_zone_id: Option<String>,
    pub slave_zone_id: Option<String>,
    /// `paybytraffic` or `paybybandwidth`.
    pub internet_charge_type: Option<String>,
    pub bandwidth: Option<u32>,
    pub delete_protection: Option<bool>,
    /// `Tag.N.Key`/`Tag.N.Value`.
    pub tags: Vec<(String, String)>,
    /// Idempotency token; a fresh one is made when `None`.
    pub client_token: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateLoadBalancerResponse {
    pub request_id: String,
    pub load_balancer_id: String,
    pub load_balancer_name: String,
    pub address: String,
    #[serde(rename = "AddressIPVersion")]
    pub address_ip_version: String,
    pub network_type: String,
    pub vpc_id: String,
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeLoadBalancersRequest {
    /// Sent comma-separated.
    pub load_balancer_ids: Vec<String>,
    pub load_balancer_name: Option<String>,
    pub address_type: Option<String>,
    pub vpc_id: Option<String>,
    pub vswitch_id: Option<String>,
    /// Load balancers with this backend server.
    pub server_id: Option<String>,
    /// Sent as the `Tags` JSON text; every pair must match.
    pub tags: Vec<(String, String)>,
    pub page_number: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeLoadBalancersResponse {
    pub request_id: String,
    pub total_count: u64,
    pub page_number: u32,
    pub page_size: u32,
    /// `LoadBalancers.LoadBalancer[]`.
    #[serde(deserialize_with = "wrapped")]
    pub load_balancers: Vec<LoadBalancer>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct LoadBalancer {
    pub load_balancer_id: String,
    pub load_balancer_name: String,
    /// `active`, `inactive` or `locked`.
    pub load_balancer_status: String,
    pub address: String,
    pub address_type: String,
    pub network_type: String,
    pub vpc_id: String,
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
    pub load_balancer_spec: String,
    pub master_zone_id: String,
    pub region_id: String,
    /// `on` or `off`.
    pub delete_protection: String,
    pub create_time: String,
    /// `Tags.Tag[]`.
    #[serde(deserialize_with = "wrapped")]
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct LoadBalancerAttribute {
    pub request_id: String,
    #[serde(flatten)]
    pub load_balancer: LoadBalancer,
    /// `ListenerPorts.ListenerPort[]`.
    #[serde(deserialize_with = "wrapped")]
    pub listener_ports: Vec<u16>,
    /// `ListenerPortsAndProtocol.ListenerPortAndProtocol[]`.
    #[serde(deserialize_with = "wrapped")]
    pub listener_ports_and_protocol: Vec<ListenerPortAndProtocol>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListenerPortAndProtocol {
    pub listener_port: u16,
    pub listener_protocol: String,
    pub description: String,
}

/// Settings for a TCP, UDP or HTTP listener.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateListenerRequest {
    pub load_balancer_id: String,
    /// 1–65535.
    pub listener_port: u16,
    /// Required unless `vserver_group_id` is given.
    pub backend_server_port: Option<u16>,
    /// -1 = unlimited (sent as -1 for TCP when `None`).
    pub bandwidth: Option<i32>,
    /// A VServer group of the same load balancer.
    pub vserver_group_id: Option<String>,
    /// `wrr` (default), `wlc`, `rr`…
    pub scheduler: Option<String>,
    pub persistence_timeout: Option<u32>,
    pub health_check: Option<bool>,
    /// HTTP only.
    pub sticky_session: Option<bool>,
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListenerAttribute {
    pub request_id: String,
    pub load_balancer_id: String,
    pub listener_port: u16,
    pub backend_server_port: u16,
    #[serde(rename = "VServerGroupId")]
    pub vserver_group_id: String,
    pub bandwidth: i32,
    /// `stopped`, `running`, `starting`, `configuring`.
    pub status: String,
    pub scheduler: String,
    pub persistence_timeout: u32,
    pub description: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateVServerGroupRequest {
    pub load_balancer_id: String,
    pub vserver_group_name: Option<String>,
    pub backend_servers: Vec<BackendServer>,
    /// `Tag.N.Key`/`Tag.N.Value`.
    pub tags: Vec<(String, String)>,
}

/// One backend of a VServer group, as sent in `BackendServers` and read back.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct BackendServer {
    /// An ECS instance id.
    pub server_id: String,
    /// 1–65535.
    #[serde(deserialize_with = "lenient_u32")]
    pub port: u32,
    /// 0–100.
    #[serde(deserialize_with = "lenient_u32")]
    pub weight: u32,
    /// `ecs` (default), `eni` or `eci`.
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The server's private address (read only).
    #[serde(skip_serializing)]
    pub server_ip: String,
}

impl BackendServer {
    /// An ECS backend with a weight.
    pub fn ecs(server_id: impl Into<String>, port: u16, weight: u32) -> Self {
        Self {
            server_id: server_id.into(),
            port: u32::from(port),
            weight,
            kind: "ecs".into(),
            ..Self::default()
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VServerGroupBackendsResponse {
    pub request_id: String,
    #[serde(rename = "VServerGroupId")]
    pub vserver_group_id: String,
    /// `BackendServers.BackendServer[]`.
    #[serde(deserialize_with = "wrapped")]
    pub backend_servers: Vec<BackendServer>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeVServerGroupsResponse {
    pub request_id: String,
    /// `VServerGroups.VServerGroup[]`.
    #[serde(rename = "VServerGroups", deserialize_with = "wrapped")]
    pub vserver_groups: Vec<VServerGroupSummary>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VServerGroupSummary {
    #[serde(rename = "VServerGroupId")]
    pub vserver_group_id: String,
    #[serde(rename = "VServerGroupName")]
    pub vserver_group_name: String,
    pub server_count: u32,
    pub associated_objects: AssociatedObjects,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct AssociatedObjects {
    /// `Listeners.Listener[]`.
    #[serde(deserialize_with = "wrapped")]
    pub listeners: Vec<AssociatedListener>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct AssociatedListener {
    pub port: u16,
    pub protocol: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VServerGroupAttribute {
    pub request_id: String,
    #[serde(rename = "VServerGroupId")]
    pub vserver_group_id: String,
    #[serde(rename = "VServerGroupName")]
    pub vserver_group_name: String,
    pub load_balancer_id: String,
    /// `BackendServers.BackendServer[]`.
    #[serde(deserialize_with = "wrapped")]
    pub backend_servers: Vec<BackendServer>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListTagResourcesRequest {
    pub load_balancer_ids: Vec<String>,
    /// `Tag.N.Key`/`Tag.N.Value` filters.
    pub tags: Vec<(String, String)>,
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListTagResourcesResponse {
    pub request_id: String,
    pub next_token: String,
    /// `TagResources.TagResource[]`.
    #[serde(deserialize_with = "wrapped")]
    pub tag_resources: Vec<TagResource>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagResource {
    pub resource_id: String,
    pub resource_type: String,
    pub tag_key: String,
    pub tag_value: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeTagsResponse {
    pub request_id: String,
    pub total_count: u64,
    /// `TagSets.TagSet[]`.
    #[serde(deserialize_with = "wrapped")]
    pub tag_sets: Vec<TagSet>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagSet {
    pub tag_key: String,
    pub tag_value: String,
    pub instance_count: u32,
}

paged_request!(DescribeLoadBalancersRequest);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_go_out_as_the_json_text_the_api_expects() {
        let text = backends_json(&[BackendServer::ecs("i-1", 8080, 50)]).expect("some");
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            value,
            serde_json::json!([{"ServerId": "i-1", "Port": 8080, "Weight": 50, "Type": "ecs"}])
        );
        assert_eq!(backends_json(&[]), None);
    }

    #[test]
    fn backend_numbers_are_read_from_numbers_or_strings() {
        let a: BackendServer =
            serde_json::from_str(r#"{"ServerId":"i-1","Port":"80","Weight":"100"}"#).unwrap();
        let b: BackendServer =
            serde_json::from_str(r#"{"ServerId":"i-1","Port":80,"Weight":100}"#).unwrap();
        assert_eq!((a.port, a.weight), (80, 100));
        assert_eq!(a, b);
    }

    #[test]
    fn tag_filters_are_a_json_array_of_tag_key_and_value() {
        let text = tags_json(&[("k8s".into(), "yes".into())]).expect("some");
        assert_eq!(text, r#"[{"TagKey":"k8s","TagValue":"yes"}]"#);
        assert_eq!(tags_json(&[]), None);
    }
}
