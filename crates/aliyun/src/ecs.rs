//! ECS 2014-05-26: regions, zones, instance types, instances and prices.
//!
//! ```text
//!   client.ecs() ──▶ Ecs<'_> ── describe_regions / describe_zones / describe_instance_types(+all)
//!                              describe_instances(+all) / run_instances / delete_instances / describe_price
//! ```
//!
//! ECS wraps its arrays in an object named after the element (`"Instances":{"Instance":[…]}`);
//! a small deserializer unwraps them so the Rust types hold plain `Vec`s. Units differ between
//! actions: `MemorySize` of an instance type is in GiB, `Memory` of an instance in MiB.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::client::{
    Ack, Client, paged_request, paginate_request, paginate_tokens, token_or_fresh,
};
use crate::endpoint::Product;
use crate::error::Result;
use crate::params::Params;

/// The ECS API of a [`Client`].
#[derive(Clone, Copy, Debug)]
pub struct Ecs<'a> {
    client: &'a Client,
}

impl Client {
    pub fn ecs(&self) -> Ecs<'_> {
        Ecs { client: self }
    }
}

/// The largest `PageSize` DescribeInstances accepts.
const INSTANCES_MAX_PAGE_SIZE: u32 = 100;

impl Ecs<'_> {
    async fn call<T: DeserializeOwned>(&self, action: &str, params: Params) -> Result<T> {
        self.client.rpc(Product::Ecs, action, params).await
    }

    fn region(&self) -> &str {
        self.client.region()
    }

    /// The regions the account can use.
    pub async fn describe_regions(&self) -> Result<DescribeRegionsResponse> {
        self.call("DescribeRegions", Params::new()).await
    }

    /// The zones of the client's region.
    pub async fn describe_zones(
        &self,
        request: &DescribeZonesRequest,
    ) -> Result<DescribeZonesResponse> {
        self.call("DescribeZones", request.params(self.region()))
            .await
    }

    /// One page of instance types.
    pub async fn describe_instance_types(
        &self,
        request: &DescribeInstanceTypesRequest,
    ) -> Result<DescribeInstanceTypesResponse> {
        self.call("DescribeInstanceTypes", request.params()).await
    }

    /// Every instance type matching `request`, following `NextToken`.
    pub async fn describe_all_instance_types(
        &self,
        request: &DescribeInstanceTypesRequest,
    ) -> Result<Vec<InstanceType>> {
        paginate_tokens(|next_token| {
            let page = DescribeInstanceTypesRequest {
                next_token,
                ..request.clone()
            };
            async move {
                let response = self.describe_instance_types(&page).await?;
                Ok((response.instance_types, Some(response.next_token)))
            }
        })
        .await
    }

    /// One page of instances in the client's region.
    pub async fn describe_instances(
        &self,
        request: &DescribeInstancesRequest,
    ) -> Result<DescribeInstancesResponse> {
        self.call("DescribeInstances", request.params(self.region()))
            .await
    }

    /// Every instance matching `request`, page by page.
    pub async fn describe_all_instances(
        &self,
        request: &DescribeInstancesRequest,
    ) -> Result<Vec<Instance>> {
        paginate_request(request, INSTANCES_MAX_PAGE_SIZE, |page| async move {
            let response = self.describe_instances(&page).await?;
            Ok((response.instances, response.total_count))
        })
        .await
    }

    /// Creates instances. The client token is fixed before the first attempt, so our retries
    /// (and the caller's, when it passes its own persisted token) create them at most once.
    pub async fn run_instances(
        &self,
        request: &RunInstancesRequest,
    ) -> Result<RunInstancesResponse> {
        self.call("RunInstances", request.params(self.region()))
            .await
    }

    /// Releases instances (`force` also releases running ones).
    pub async fn delete_instances(&self, request: &DeleteInstancesRequest) -> Result<Ack> {
        self.call("DeleteInstances", request.params(self.region()))
            .await
    }

    /// The price of one instance of a type (with its system disk).
    pub async fn describe_price(
        &self,
        request: &DescribePriceRequest,
    ) -> Result<DescribePriceResponse> {
        self.call("DescribePrice", request.params(self.region()))
            .await
    }
}

impl DescribeZonesRequest {
    fn params(&self, region: &str) -> Params {
        Params::new()
            .put("RegionId", region)
            .put_opt("InstanceChargeType", self.instance_charge_type.as_deref())
            .put_opt("SpotStrategy", self.spot_strategy.as_deref())
            .put_opt("Verbose", self.verbose)
    }
}

impl DescribeInstanceTypesRequest {
    /// No `RegionId`: the service does not take one here (the catalogue is the same everywhere).
    fn params(&self) -> Params {
        Params::new()
            .put_list("InstanceTypes", &self.instance_types)
            .put_opt("InstanceTypeFamily", self.instance_type_family.as_deref())
            .put_opt("MaxResults", self.max_results)
            .put_opt("NextToken", self.next_token.as_deref())
    }
}

impl DescribeInstancesRequest {
    fn params(&self, region: &str) -> Params {
        Params::new()
            .put("RegionId", region)
            .put_json("InstanceIds", &self.instance_ids)
            .put_opt("ZoneId", self.zone_id.as_deref())
            .put_opt("Status", self.status.as_deref())
            .put_opt("VpcId", self.vpc_id.as_deref())
            .put_opt("VSwitchId", self.vswitch_id.as_deref())
            .put_opt("InstanceName", self.instance_name.as_deref())
            .put_tags("Tag", &self.tags)
            .put_opt("PageNumber", self.page_number)
            .put_opt("PageSize", self.page_size)
    }
}

impl RunInstancesRequest {
    fn params(&self, region: &str) -> Params {
        Params::new()
            .put("RegionId", region)
            .put_opt("ZoneId", self.zone_id.as_deref())
            .put("InstanceType", &self.instance_type)
            .put("ImageId", &self.image_id)
            .put_opt("SecurityGroupId", self.security_group_id.as_deref())
            .put_opt("VSwitchId", self.vswitch_id.as_deref())
            .put_opt("InstanceName", self.instance_name.as_deref())
            .put_opt("HostName", self.host_name.as_deref())
            .put_opt("Amount", self.amount)
            .put_opt("MinAmount", self.min_amount)
            .put_opt("InstanceChargeType", self.instance_charge_type.as_deref())
            .put_opt("SpotStrategy", self.spot_strategy.as_deref())
            .put_opt("SystemDisk.Category", self.system_disk_category.as_deref())
            .put_opt("SystemDisk.Size", self.system_disk_size)
            .put_opt("UserData", self.user_data.as_deref())
            .put_tags("Tag", &self.tags)
            .put("ClientToken", token_or_fresh(self.client_token.as_deref()))
    }
}

impl DeleteInstancesRequest {
    fn params(&self, region: &str) -> Params {
        Params::new()
            .put("RegionId", region)
            .put_list("InstanceId", &self.instance_ids)
            .put_opt("Force", self.force)
            .put("ClientToken", token_or_fresh(self.client_token.as_deref()))
    }
}

impl DescribePriceRequest {
    fn params(&self, region: &str) -> Params {
        Params::new()
            .put("RegionId", region)
            .put("ResourceType", "instance")
            .put("InstanceType", &self.instance_type)
            .put_opt("ZoneId", self.zone_id.as_deref())
            .put_opt("SpotStrategy", self.spot_strategy.as_deref())
            .put_opt("PriceUnit", self.price_unit.as_deref())
            .put_opt("SystemDisk.Category", self.system_disk_category.as_deref())
            .put_opt("SystemDisk.Size", self.system_disk_size)
    }
}

/// Deserializes ECS's `{"Element": [...]}` wrapper (or `null`, or nothing) into a `Vec`.
pub(crate) fn wrapped<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let wrapper: Option<BTreeMap<String, Vec<T>>> = Option::deserialize(deserializer)?;
    Ok(wrapper
        .into_iter()
        .flat_map(BTreeMap::into_values)
        .flatten()
        .collect())
}

/// A resource tag. ECS and ESS name its fields `TagKey`/`TagValue` in some replies and
/// `Key`/`Value` in others; both are accepted.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    #[serde(alias = "TagKey")]
    pub key: String,
    #[serde(alias = "TagValue")]
    pub value: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeRegionsResponse {
    pub request_id: String,
    #[serde(deserialize_with = "wrapped")]
    pub regions: Vec<Region>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Region {
    pub region_id: String,
    pub local_name: String,
    pub region_endpoint: String,
    pub status: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeZonesRequest {
    pub instance_charge_type: Option<String>,
    pub spot_strategy: Option<String>,
    pub verbose: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeZonesResponse {
    pub request_id: String,
    #[serde(deserialize_with = "wrapped")]
    pub zones: Vec<Zone>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Zone {
    pub zone_id: String,
    pub local_name: String,
    pub zone_type: String,
    /// `AvailableInstanceTypes.InstanceTypes[]`.
    #[serde(deserialize_with = "wrapped")]
    pub available_instance_types: Vec<String>,
    /// `AvailableResourceCreation.ResourceTypes[]` (e.g. `Instance`, `Disk`).
    #[serde(deserialize_with = "wrapped")]
    pub available_resource_creation: Vec<String>,
    /// `AvailableDiskCategories.DiskCategories[]`.
    #[serde(deserialize_with = "wrapped")]
    pub available_disk_categories: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeInstanceTypesRequest {
    /// Up to 10 type IDs (`InstanceTypes.N`); empty means all.
    pub instance_types: Vec<String>,
    pub instance_type_family: Option<String>,
    pub max_results: Option<u32>,
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstanceTypesResponse {
    pub request_id: String,
    pub next_token: String,
    #[serde(deserialize_with = "wrapped")]
    pub instance_types: Vec<InstanceType>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceType {
    pub instance_type_id: String,
    pub instance_type_family: String,
    pub instance_category: String,
    pub cpu_core_count: u32,
    /// GiB.
    pub memory_size: f64,
    #[serde(rename = "GPUAmount")]
    pub gpu_amount: u32,
    /// e.g. `NVIDIA T4`; empty without GPUs.
    #[serde(rename = "GPUSpec")]
    pub gpu_spec: String,
    /// GiB per GPU.
    #[serde(rename = "GPUMemorySize")]
    pub gpu_memory_size: f64,
    /// `X86`, `ARM`.
    pub cpu_architecture: String,
    pub eni_quantity: u32,
    pub eni_private_ip_address_quantity: u32,
    pub local_storage_amount: u32,
    /// GiB.
    pub local_storage_capacity: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeInstancesRequest {
    /// Sent as one JSON array text (up to 100 IDs); empty means no filter.
    pub instance_ids: Vec<String>,
    pub zone_id: Option<String>,
    /// `Pending`, `Running`, `Starting`, `Stopping`, `Stopped`.
    pub status: Option<String>,
    pub vpc_id: Option<String>,
    pub vswitch_id: Option<String>,
    pub instance_name: Option<String>,
    /// `Tag.N.Key`/`Tag.N.Value` filters.
    pub tags: Vec<(String, String)>,
    pub page_number: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeInstancesResponse {
    pub request_id: String,
    pub total_count: u64,
    pub page_number: u32,
    pub page_size: u32,
    #[serde(deserialize_with = "wrapped")]
    pub instances: Vec<Instance>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Instance {
    pub instance_id: String,
    pub instance_name: String,
    pub host_name: String,
    pub instance_type: String,
    pub instance_type_family: String,
    /// `Pending`, `Running`, `Starting`, `Stopping`, `Stopped`.
    pub status: String,
    pub region_id: String,
    pub zone_id: String,
    pub image_id: String,
    pub cpu: u32,
    /// MiB.
    pub memory: u64,
    #[serde(rename = "GPUAmount")]
    pub gpu_amount: u32,
    #[serde(rename = "GPUSpec")]
    pub gpu_spec: String,
    pub instance_charge_type: String,
    pub spot_strategy: String,
    pub creation_time: String,
    pub vpc_attributes: VpcAttributes,
    /// `SecurityGroupIds.SecurityGroupId[]`.
    #[serde(deserialize_with = "wrapped")]
    pub security_group_ids: Vec<String>,
    /// `Tags.Tag[]`.
    #[serde(deserialize_with = "wrapped")]
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VpcAttributes {
    pub vpc_id: String,
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
    /// `PrivateIpAddress.IpAddress[]`.
    #[serde(deserialize_with = "wrapped")]
    pub private_ip_address: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunInstancesRequest {
    pub zone_id: Option<String>,
    pub instance_type: String,
    pub image_id: String,
    pub security_group_id: Option<String>,
    pub vswitch_id: Option<String>,
    pub instance_name: Option<String>,
    pub host_name: Option<String>,
    /// How many to create (1–100); with `min_amount`, ECS creates as many as it has stock for.
    pub amount: Option<u32>,
    pub min_amount: Option<u32>,
    /// `PostPaid` (pay as you go) or `PrePaid`.
    pub instance_charge_type: Option<String>,
    /// `NoSpot`, `SpotAsPriceGo`, `SpotWithPriceLimit`.
    pub spot_strategy: Option<String>,
    pub system_disk_category: Option<String>,
    /// GiB.
    pub system_disk_size: Option<u32>,
    /// Base64 of the user data script (cloud-init).
    pub user_data: Option<String>,
    pub tags: Vec<(String, String)>,
    /// Idempotency token; a fresh one is made when `None`.
    pub client_token: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RunInstancesResponse {
    pub request_id: String,
    /// `InstanceIdSets.InstanceIdSet[]`.
    #[serde(rename = "InstanceIdSets", deserialize_with = "wrapped")]
    pub instance_ids: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteInstancesRequest {
    /// `InstanceId.N`.
    pub instance_ids: Vec<String>,
    pub force: Option<bool>,
    pub client_token: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribePriceRequest {
    pub instance_type: String,
    pub zone_id: Option<String>,
    pub spot_strategy: Option<String>,
    /// `Hour` (default), `Week`, `Month`, `Year`.
    pub price_unit: Option<String>,
    pub system_disk_category: Option<String>,
    pub system_disk_size: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribePriceResponse {
    pub request_id: String,
    pub price_info: PriceInfo,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct PriceInfo {
    pub price: Price,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Price {
    pub original_price: f64,
    pub discount_price: f64,
    /// What is actually charged: `original_price - discount_price`.
    pub trade_price: f64,
    pub currency: String,
}

paged_request!(DescribeInstancesRequest);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_arrays_deserialize_into_plain_vectors() {
        let body = r#"{
            "RequestId": "r-1",
            "TotalCount": 1, "PageNumber": 1, "PageSize": 10,
            "Instances": {"Instance": [{
                "InstanceId": "i-1", "InstanceType": "ecs.g7.large", "Status": "Running",
                "Cpu": 2, "Memory": 8192, "GPUAmount": 0, "ZoneId": "cn-hangzhou-h",
                "VpcAttributes": {"VpcId": "vpc-1", "VSwitchId": "vsw-1",
                                   "PrivateIpAddress": {"IpAddress": ["10.0.0.5"]}},
                "SecurityGroupIds": {"SecurityGroupId": ["sg-1"]},
                "Tags": {"Tag": [{"TagKey": "ackctl.io/cluster", "TagValue": "c1"}]},
                "SomethingNew": {"Ignored": true}
            }]}
        }"#;
        let response: DescribeInstancesResponse = serde_json::from_str(body).expect("parses");
        assert_eq!(response.total_count, 1);
        let instance = &response.instances[0];
        assert_eq!(instance.instance_id, "i-1");
        assert_eq!(instance.memory, 8192);
        assert_eq!(instance.vpc_attributes.vswitch_id, "vsw-1");
        assert_eq!(instance.vpc_attributes.private_ip_address, ["10.0.0.5"]);
        assert_eq!(instance.security_group_ids, ["sg-1"]);
        assert_eq!(
            instance.tags,
            [Tag {
                key: "ackctl.io/cluster".into(),
                value: "c1".into()
            }]
        );
    }

    #[test]
    fn missing_and_null_fields_take_defaults() {
        let response: DescribeInstancesResponse =
            serde_json::from_str(r#"{"RequestId":"r","Instances":null}"#).expect("parses");
        assert!(response.instances.is_empty());
        let response: DescribeInstancesResponse =
            serde_json::from_str(r#"{"Instances":{"Instance":[{"InstanceId":"i-2"}]}}"#)
                .expect("parses");
        assert_eq!(
            response.instances[0].vpc_attributes,
            VpcAttributes::default()
        );
    }

    #[test]
    fn instance_types_keep_gib_memory_and_gpu_fields() {
        let body = r#"{"RequestId":"r","NextToken":"n2","InstanceTypes":{"InstanceType":[
            {"InstanceTypeId":"ecs.gn6i-c4g1.xlarge","CpuCoreCount":4,"MemorySize":15.0,
             "GPUAmount":1,"GPUSpec":"NVIDIA T4","CpuArchitecture":"X86","EniQuantity":2,
             "InstanceTypeFamily":"ecs.gn6i"},
            {"InstanceTypeId":"ecs.t5-lc2m1.nano","CpuCoreCount":1,"MemorySize":0.5}
        ]}}"#;
        let response: DescribeInstanceTypesResponse = serde_json::from_str(body).expect("parses");
        assert_eq!(response.next_token, "n2");
        let gpu = &response.instance_types[0];
        assert_eq!(
            (gpu.cpu_core_count, gpu.memory_size, gpu.gpu_amount),
            (4, 15.0, 1)
        );
        assert_eq!(gpu.gpu_spec, "NVIDIA T4");
        assert_eq!(response.instance_types[1].memory_size, 0.5);
    }

    #[test]
    fn run_instances_returns_the_created_ids() {
        let body = r#"{"RequestId":"r","InstanceIdSets":{"InstanceIdSet":["i-1","i-2"]},"OrderId":"o","TradePrice":0.1}"#;
        let response: RunInstancesResponse = serde_json::from_str(body).expect("parses");
        assert_eq!(response.instance_ids, ["i-1", "i-2"]);
    }

    #[test]
    fn regions_zones_and_prices_parse() {
        let regions: DescribeRegionsResponse = serde_json::from_str(
            r#"{"Regions":{"Region":[{"RegionId":"cn-hangzhou","LocalName":"华东1（杭州）","RegionEndpoint":"ecs-cn-hangzhou.aliyuncs.com","Status":"available"}]}}"#,
        )
        .expect("parses");
        assert_eq!(
            regions.regions[0].region_endpoint,
            "ecs-cn-hangzhou.aliyuncs.com"
        );

        let zones: DescribeZonesResponse = serde_json::from_str(
            r#"{"Zones":{"Zone":[{"ZoneId":"cn-hangzhou-h",
                "AvailableInstanceTypes":{"InstanceTypes":["ecs.g7.large"]},
                "AvailableResourceCreation":{"ResourceTypes":["Instance","Disk"]}}]}}"#,
        )
        .expect("parses");
        assert_eq!(zones.zones[0].available_instance_types, ["ecs.g7.large"]);
        assert_eq!(
            zones.zones[0].available_resource_creation,
            ["Instance", "Disk"]
        );

        let price: DescribePriceResponse = serde_json::from_str(
            r#"{"PriceInfo":{"Price":{"OriginalPrice":1.2,"DiscountPrice":0.2,"TradePrice":1.0,"Currency":"CNY"},"Rules":{"Rule":[]}}}"#,
        )
        .expect("parses");
        assert_eq!(price.price_info.price.trade_price, 1.0);
        assert_eq!(price.price_info.price.currency, "CNY");
    }

    fn wire(params: Params) -> Vec<(String, String)> {
        params.into_pairs()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn describe_instances_sends_ids_as_json_and_tags_numbered() {
        let request = DescribeInstancesRequest {
            instance_ids: vec!["i-1".into(), "i-2".into()],
            status: Some("Running".into()),
            tags: vec![("ackctl.io/cluster".into(), "c1".into())],
            page_number: Some(2),
            page_size: Some(100),
            ..Default::default()
        };
        assert_eq!(
            wire(request.params("cn-hangzhou")),
            pairs(&[
                ("InstanceIds", r#"["i-1","i-2"]"#),
                ("PageNumber", "2"),
                ("PageSize", "100"),
                ("RegionId", "cn-hangzhou"),
                ("Status", "Running"),
                ("Tag.1.Key", "ackctl.io/cluster"),
                ("Tag.1.Value", "c1"),
            ])
        );
    }

    #[test]
    fn describe_instance_types_sends_a_numbered_list_and_no_region() {
        let request = DescribeInstanceTypesRequest {
            instance_types: vec!["ecs.g7.large".into(), "ecs.c7.large".into()],
            max_results: Some(100),
            next_token: Some("t".into()),
            ..Default::default()
        };
        assert_eq!(
            wire(request.params()),
            pairs(&[
                ("InstanceTypes.1", "ecs.g7.large"),
                ("InstanceTypes.2", "ecs.c7.large"),
                ("MaxResults", "100"),
                ("NextToken", "t"),
            ])
        );
    }

    #[test]
    fn run_instances_flattens_disks_and_tags_and_always_carries_a_token() {
        let request = RunInstancesRequest {
            zone_id: Some("cn-hangzhou-h".into()),
            instance_type: "ecs.g7.large".into(),
            image_id: "aliyun_3_x64".into(),
            amount: Some(2),
            spot_strategy: Some("SpotAsPriceGo".into()),
            system_disk_category: Some("cloud_essd".into()),
            system_disk_size: Some(40),
            tags: vec![("k".into(), "v".into())],
            client_token: Some("op-1".into()),
            ..Default::default()
        };
        let params = request.params("cn-hangzhou");
        assert_eq!(params.get("SystemDisk.Category"), Some("cloud_essd"));
        assert_eq!(params.get("SystemDisk.Size"), Some("40"));
        assert_eq!(params.get("Amount"), Some("2"));
        assert_eq!(params.get("Tag.1.Key"), Some("k"));
        assert_eq!(params.get("ClientToken"), Some("op-1"));
        assert_eq!(params.get("MinAmount"), None);

        let fresh = RunInstancesRequest::default().params("cn-hangzhou");
        assert_eq!(fresh.get("ClientToken").map(str::len), Some(36));
    }

    #[test]
    fn delete_instances_sends_a_numbered_list() {
        let request = DeleteInstancesRequest {
            instance_ids: vec!["i-1".into(), "i-2".into()],
            force: Some(true),
            client_token: Some("del-1".into()),
        };
        assert_eq!(
            wire(request.params("cn-beijing")),
            pairs(&[
                ("ClientToken", "del-1"),
                ("Force", "true"),
                ("InstanceId.1", "i-1"),
                ("InstanceId.2", "i-2"),
                ("RegionId", "cn-beijing"),
            ])
        );
    }

    #[test]
    fn describe_price_asks_for_an_instance_price() {
        let request = DescribePriceRequest {
            instance_type: "ecs.g7.large".into(),
            price_unit: Some("Hour".into()),
            system_disk_category: Some("cloud_essd".into()),
            ..Default::default()
        };
        assert_eq!(
            wire(request.params("cn-hangzhou")),
            pairs(&[
                ("InstanceType", "ecs.g7.large"),
                ("PriceUnit", "Hour"),
                ("RegionId", "cn-hangzhou"),
                ("ResourceType", "instance"),
                ("SystemDisk.Category", "cloud_essd"),
            ])
        );
    }
}
