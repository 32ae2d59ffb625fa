//! ESS (Auto Scaling) 2022-02-22: scaling groups, their configurations and instances.
//!
//! ```text
//!   create_scaling_group ──▶ create_scaling_configuration ──▶ enable_scaling_group
//!            │                                                      │
//!            ▼                                                      ▼
//!   describe_scaling_groups / _configurations / _instances   scale_with_adjustment, remove_instances
//!            │                                                      │
//!            └──────────────────── delete_scaling_group ◀───────────┘
//! ```
//!
//! This is the version the current SDKs speak: lists go out as `Name.N` and come back as flat
//! arrays (`"ScalingGroups":[…]`). cluster-autoscaler's vendored SDK speaks 2014-08-28 instead;
//! that is the emulator's concern, not this client's.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::client::{Ack, Client, paged_request, paginate_request, token_or_fresh};
use crate::ecs::Tag;
use crate::endpoint::Product;
use crate::error::Result;
use crate::params::{ParamValue, Params};

/// The ESS API of a [`Client`].
#[derive(Clone, Copy, Debug)]
pub struct Ess<'a> {
    client: &'a Client,
}

impl Client {
    pub fn ess(&self) -> Ess<'_> {
        Ess { client: self }
    }
}

/// The largest `PageSize` the ESS describe actions accept.
const MAX_PAGE_SIZE: u32 = 50;

impl Ess<'_> {
    async fn call<T: DeserializeOwned>(&self, action: &str, params: Params) -> Result<T> {
        self.client.rpc(Product::Ess, action, params).await
    }

    fn region(&self) -> &str {
        self.client.region()
    }

    /// Creates a scaling group (inactive until [`Ess::enable_scaling_group`]).
    pub async fn create_scaling_group(
        &self,
        request: &CreateScalingGroupRequest,
    ) -> Result<CreateScalingGroupResponse> {
        self.call("CreateScalingGroup", request.params(self.region()))
            .await
    }

    /// Adds a scaling configuration (the instance template) to a group.
    pub async fn create_scaling_configuration(
        &self,
        request: &CreateScalingConfigurationRequest,
    ) -> Result<CreateScalingConfigurationResponse> {
        self.call("CreateScalingConfiguration", request.params())
            .await
    }

    /// Activates a group, optionally naming the configuration it launches instances from.
    pub async fn enable_scaling_group(
        &self,
        scaling_group_id: &str,
        active_scaling_configuration_id: Option<&str>,
    ) -> Result<Ack> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("ScalingGroupId", scaling_group_id)
            .put_opt(
                "ActiveScalingConfigurationId",
                active_scaling_configuration_id,
            );
        self.call("EnableScalingGroup", params).await
    }

    /// Deletes a group; `force_delete` also removes its instances.
    pub async fn delete_scaling_group(
        &self,
        scaling_group_id: &str,
        force_delete: bool,
    ) -> Result<Ack> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("ScalingGroupId", scaling_group_id)
            .put("ForceDelete", force_delete);
        self.call("DeleteScalingGroup", params).await
    }

    /// One page of scaling groups in the client's region.
    pub async fn describe_scaling_groups(
        &self,
        request: &DescribeScalingGroupsRequest,
    ) -> Result<DescribeScalingGroupsResponse> {
        self.call("DescribeScalingGroups", request.params(self.region()))
            .await
    }

    /// Every scaling group matching `request`.
    pub async fn describe_all_scaling_groups(
        &self,
        request: &DescribeScalingGroupsRequest,
    ) -> Result<Vec<ScalingGroup>> {
        paginate_request(request, MAX_PAGE_SIZE, |page| async move {
            let response = self.describe_scaling_groups(&page).await?;
            Ok((response.scaling_groups, response.total_count))
        })
        .await
    }

    /// One page of scaling configurations.
    pub async fn describe_scaling_configurations(
        &self,
        request: &DescribeScalingConfigurationsRequest,
    ) -> Result<DescribeScalingConfigurationsResponse> {
        self.call(
            "DescribeScalingConfigurations",
            request.params(self.region()),
        )
        .await
    }

    /// Every scaling configuration matching `request`.
    pub async fn describe_all_scaling_configurations(
        &self,
        request: &DescribeScalingConfigurationsRequest,
    ) -> Result<Vec<ScalingConfiguration>> {
        paginate_request(request, MAX_PAGE_SIZE, |page| async move {
            let response = self.describe_scaling_configurations(&page).await?;
            Ok((response.scaling_configurations, response.total_count))
        })
        .await
    }

    /// One page of the instances in scaling groups.
    pub async fn describe_scaling_instances(
        &self,
        request: &DescribeScalingInstancesRequest,
    ) -> Result<DescribeScalingInstancesResponse> {
        self.call("DescribeScalingInstances", request.params(self.region()))
            .await
    }

    /// Every scaling instance matching `request`.
    pub async fn describe_all_scaling_instances(
        &self,
        request: &DescribeScalingInstancesRequest,
    ) -> Result<Vec<ScalingInstance>> {
        paginate_request(request, MAX_PAGE_SIZE, |page| async move {
            let response = self.describe_scaling_instances(&page).await?;
            Ok((response.scaling_instances, response.total_count))
        })
        .await
    }

    /// Changes a group's capacity; the service answers with the scaling activity it started.
    pub async fn scale_with_adjustment(
        &self,
        request: &ScaleWithAdjustmentRequest,
    ) -> Result<ScalingActivityResponse> {
        self.call("ScaleWithAdjustment", request.params()).await
    }

    /// Removes instances from a group (and, with `decrease_desired_capacity`, lowers its target).
    pub async fn remove_instances(
        &self,
        request: &RemoveInstancesRequest,
    ) -> Result<ScalingActivityResponse> {
        self.call("RemoveInstances", request.params(self.region()))
            .await
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateScalingGroupRequest {
    pub scaling_group_name: Option<String>,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: Option<u32>,
    /// `VSwitchIds.N`; several vSwitches spread the group over zones.
    pub vswitch_ids: Vec<String>,
    /// `PRIORITY`, `BALANCE`, `COST_OPTIMIZED`…
    pub multi_az_policy: Option<String>,
    /// `Tags.N.Key`/`Tags.N.Value`.
    pub tags: Vec<(String, String)>,
    /// Idempotency token; a fresh one is made when `None`.
    pub client_token: Option<String>,
}

impl CreateScalingGroupRequest {
    fn params(&self, region: &str) -> Params {
        Params::new()
            .put("RegionId", region)
            .put_opt("ScalingGroupName", self.scaling_group_name.as_deref())
            .put("MinSize", self.min_size)
            .put("MaxSize", self.max_size)
            .put_opt("DesiredCapacity", self.desired_capacity)
            .put_list("VSwitchIds", &self.vswitch_ids)
            .put_opt("MultiAZPolicy", self.multi_az_policy.as_deref())
            .put_tags("Tags", &self.tags)
            .put("ClientToken", token_or_fresh(self.client_token.as_deref()))
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateScalingGroupResponse {
    pub request_id: String,
    pub scaling_group_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateScalingConfigurationRequest {
    pub scaling_group_id: String,
    pub scaling_configuration_name: Option<String>,
    pub image_id: Option<String>,
    pub instance_type: Option<String>,
    /// `InstanceTypes.N`: candidates in order of preference (instead of `instance_type`).
    pub instance_types: Vec<String>,
    pub security_group_id: Option<String>,
    pub system_disk_category: Option<String>,
    /// GiB.
    pub system_disk_size: Option<u32>,
    pub spot_strategy: Option<String>,
    /// Base64 of the user data script.
    pub user_data: Option<String>,
    /// Tags for the instances it launches; sent as one JSON object text (`{"k":"v"}`).
    pub tags: Vec<(String, String)>,
    pub client_token: Option<String>,
}

impl CreateScalingConfigurationRequest {
    /// No `RegionId`: the service does not take one here (the group determines it).
    fn params(&self) -> Params {
        Params::new()
            .put("ScalingGroupId", &self.scaling_group_id)
            .put_opt(
                "ScalingConfigurationName",
                self.scaling_configuration_name.as_deref(),
            )
            .put_opt("ImageId", self.image_id.as_deref())
            .put_opt("InstanceType", self.instance_type.as_deref())
            .put_list("InstanceTypes", &self.instance_types)
            .put_opt("SecurityGroupId", self.security_group_id.as_deref())
            .put_opt("SystemDisk.Category", self.system_disk_category.as_deref())
            .put_opt("SystemDisk.Size", self.system_disk_size)
            .put_opt("SpotStrategy", self.spot_strategy.as_deref())
            .put_opt("UserData", self.user_data.as_deref())
            .put_json_object("Tags", &self.tags)
            .put("ClientToken", token_or_fresh(self.client_token.as_deref()))
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateScalingConfigurationResponse {
    pub request_id: String,
    pub scaling_configuration_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeScalingGroupsRequest {
    /// `ScalingGroupIds.N`.
    pub scaling_group_ids: Vec<String>,
    pub scaling_group_name: Option<String>,
    pub page_number: Option<u32>,
    /// At most 50.
    pub page_size: Option<u32>,
}

impl DescribeScalingGroupsRequest {
    fn params(&self, region: &str) -> Params {
        Params::new()
            .put("RegionId", region)
            .put_list("ScalingGroupIds", &self.scaling_group_ids)
            .put_opt("ScalingGroupName", self.scaling_group_name.as_deref())
            .put_opt("PageNumber", self.page_number)
            .put_opt("PageSize", self.page_size)
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeScalingGroupsResponse {
    pub request_id: String,
    pub total_count: u64,
    pub page_number: u32,
    pub page_size: u32,
    pub scaling_groups: Vec<ScalingGroup>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingGroup {
    pub scaling_group_id: String,
    pub scaling_group_name: String,
    pub region_id: String,
    /// `Active`, `Inactive`, `Deleting`.
    pub lifecycle_state: String,
    pub min_size: u32,
    pub max_size: u32,
    /// Absent when the group does not track a desired capacity.
    pub desired_capacity: Option<u32>,
    pub total_capacity: u32,
    pub active_capacity: u32,
    pub pending_capacity: u32,
    pub removing_capacity: u32,
    pub active_scaling_configuration_id: String,
    pub vpc_id: String,
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
    #[serde(rename = "VSwitchIds")]
    pub vswitch_ids: Vec<String>,
    #[serde(rename = "MultiAZPolicy")]
    pub multi_az_policy: String,
    pub creation_time: String,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeScalingConfigurationsRequest {
    pub scaling_group_id: Option<String>,
    /// `ScalingConfigurationIds.N`.
    pub scaling_configuration_ids: Vec<String>,
    pub page_number: Option<u32>,
    pub page_size: Option<u32>,
}

impl DescribeScalingConfigurationsRequest {
    fn params(&self, region: &str) -> Params {
        Params::new()
            .put("RegionId", region)
            .put_opt("ScalingGroupId", self.scaling_group_id.as_deref())
            .put_list("ScalingConfigurationIds", &self.scaling_configuration_ids)
            .put_opt("PageNumber", self.page_number)
            .put_opt("PageSize", self.page_size)
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeScalingConfigurationsResponse {
    pub request_id: String,
    pub total_count: u64,
    pub page_number: u32,
    pub page_size: u32,
    pub scaling_configurations: Vec<ScalingConfiguration>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingConfiguration {
    pub scaling_configuration_id: String,
    pub scaling_configuration_name: String,
    pub scaling_group_id: String,
    /// `Active` for the configuration the group launches from, else `Inactive`.
    pub lifecycle_state: String,
    pub image_id: String,
    pub instance_type: String,
    pub instance_types: Vec<String>,
    pub security_group_id: String,
    pub system_disk_category: String,
    pub system_disk_size: u32,
    pub spot_strategy: String,
    pub user_data: String,
    pub creation_time: String,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeScalingInstancesRequest {
    pub scaling_group_id: Option<String>,
    /// `InstanceIds.N`.
    pub instance_ids: Vec<String>,
    /// `InService`, `Pending`, `Removing`…
    pub lifecycle_state: Option<String>,
    pub page_number: Option<u32>,
    pub page_size: Option<u32>,
}

impl DescribeScalingInstancesRequest {
    fn params(&self, region: &str) -> Params {
        Params::new()
            .put("RegionId", region)
            .put_opt("ScalingGroupId", self.scaling_group_id.as_deref())
            .put_list("InstanceIds", &self.instance_ids)
            .put_opt("LifecycleState", self.lifecycle_state.as_deref())
            .put_opt("PageNumber", self.page_number)
            .put_opt("PageSize", self.page_size)
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeScalingInstancesResponse {
    pub request_id: String,
    pub total_count: u64,
    pub page_number: u32,
    pub page_size: u32,
    pub scaling_instances: Vec<ScalingInstance>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingInstance {
    pub instance_id: String,
    pub scaling_group_id: String,
    pub scaling_configuration_id: String,
    /// `InService`, `Pending`, `Pending:Wait`, `Protected`, `Standby`, `Stopped`, `Removing`,
    /// `Removing:Wait`.
    pub lifecycle_state: String,
    /// `Healthy`, `Unhealthy`.
    pub health_status: String,
    /// `AutoCreated`, `Attached`.
    pub creation_type: String,
    pub zone_id: String,
    pub private_ip_address: String,
    pub created_time: String,
}

/// How `adjustment_value` changes a group's capacity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AdjustmentType {
    /// Add (or, negative, remove) this many instances.
    #[default]
    QuantityChangeInCapacity,
    /// Change by this percentage.
    PercentChangeInCapacity,
    /// Set the capacity to exactly this.
    TotalCapacity,
}

impl AdjustmentType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QuantityChangeInCapacity => "QuantityChangeInCapacity",
            Self::PercentChangeInCapacity => "PercentChangeInCapacity",
            Self::TotalCapacity => "TotalCapacity",
        }
    }
}

impl ParamValue for AdjustmentType {
    fn to_param(&self) -> String {
        self.as_str().to_owned()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScaleWithAdjustmentRequest {
    pub scaling_group_id: String,
    pub adjustment_type: AdjustmentType,
    pub adjustment_value: i32,
    pub client_token: Option<String>,
}

impl ScaleWithAdjustmentRequest {
    fn params(&self) -> Params {
        Params::new()
            .put("ScalingGroupId", &self.scaling_group_id)
            .put("AdjustmentType", self.adjustment_type)
            .put("AdjustmentValue", self.adjustment_value)
            .put("ClientToken", token_or_fresh(self.client_token.as_deref()))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoveInstancesRequest {
    pub scaling_group_id: String,
    /// `InstanceIds.N`.
    pub instance_ids: Vec<String>,
    pub decrease_desired_capacity: Option<bool>,
    pub client_token: Option<String>,
}

impl RemoveInstancesRequest {
    fn params(&self, region: &str) -> Params {
        Params::new()
            .put("RegionId", region)
            .put("ScalingGroupId", &self.scaling_group_id)
            .put_list("InstanceIds", &self.instance_ids)
            .put_opt("DecreaseDesiredCapacity", self.decrease_desired_capacity)
            .put("ClientToken", token_or_fresh(self.client_token.as_deref()))
    }
}

/// The answer of actions that start a scaling activity.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingActivityResponse {
    pub request_id: String,
    pub scaling_activity_id: String,
}

paged_request!(
    DescribeScalingGroupsRequest,
    DescribeScalingConfigurationsRequest,
    DescribeScalingInstancesRequest
);

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn create_scaling_group_sends_lists_and_tags_numbered() {
        let request = CreateScalingGroupRequest {
            scaling_group_name: Some("np-a".into()),
            min_size: 0,
            max_size: 10,
            desired_capacity: Some(2),
            vswitch_ids: vec!["vsw-1".into(), "vsw-2".into()],
            multi_az_policy: Some("BALANCE".into()),
            tags: vec![("ackctl.io/pool".into(), "a".into())],
            client_token: Some("op-7".into()),
        };
        assert_eq!(
            request.params("cn-hangzhou").into_pairs(),
            pairs(&[
                ("ClientToken", "op-7"),
                ("DesiredCapacity", "2"),
                ("MaxSize", "10"),
                ("MinSize", "0"),
                ("MultiAZPolicy", "BALANCE"),
                ("RegionId", "cn-hangzhou"),
                ("ScalingGroupName", "np-a"),
                ("Tags.1.Key", "ackctl.io/pool"),
                ("Tags.1.Value", "a"),
                ("VSwitchIds.1", "vsw-1"),
                ("VSwitchIds.2", "vsw-2"),
            ])
        );
    }

    #[test]
    fn create_scaling_configuration_sends_tags_as_a_json_object() {
        let request = CreateScalingConfigurationRequest {
            scaling_group_id: "asg-1".into(),
            instance_types: vec!["ecs.g7.large".into(), "ecs.g6.large".into()],
            system_disk_category: Some("cloud_essd".into()),
            tags: vec![("k8s.io/cluster-autoscaler/enabled".into(), "true".into())],
            ..Default::default()
        };
        let params = request.params();
        assert_eq!(params.get("ScalingGroupId"), Some("asg-1"));
        assert_eq!(params.get("InstanceTypes.2"), Some("ecs.g6.large"));
        assert_eq!(params.get("SystemDisk.Category"), Some("cloud_essd"));
        assert_eq!(
            params.get("Tags"),
            Some(r#"{"k8s.io/cluster-autoscaler/enabled":"true"}"#)
        );
        assert_eq!(params.get("InstanceType"), None);
        assert!(params.get("ClientToken").is_some());
        assert_eq!(params.get("RegionId"), None);
    }

    #[test]
    fn describe_requests_send_lists_numbered_and_paging_when_set() {
        let groups = DescribeScalingGroupsRequest {
            scaling_group_ids: vec!["asg-1".into()],
            page_number: Some(3),
            page_size: Some(50),
            ..Default::default()
        };
        assert_eq!(
            groups.params("cn-beijing").into_pairs(),
            pairs(&[
                ("PageNumber", "3"),
                ("PageSize", "50"),
                ("RegionId", "cn-beijing"),
                ("ScalingGroupIds.1", "asg-1"),
            ])
        );
        let instances = DescribeScalingInstancesRequest {
            scaling_group_id: Some("asg-1".into()),
            instance_ids: vec!["i-1".into(), "i-2".into()],
            lifecycle_state: Some("InService".into()),
            ..Default::default()
        };
        assert_eq!(
            instances.params("cn-beijing").into_pairs(),
            pairs(&[
                ("InstanceIds.1", "i-1"),
                ("InstanceIds.2", "i-2"),
                ("LifecycleState", "InService"),
                ("RegionId", "cn-beijing"),
                ("ScalingGroupId", "asg-1"),
            ])
        );
        let configurations = DescribeScalingConfigurationsRequest {
            scaling_configuration_ids: vec!["asc-1".into()],
            ..Default::default()
        };
        assert_eq!(
            configurations
                .params("cn-beijing")
                .get("ScalingConfigurationIds.1"),
            Some("asc-1")
        );
    }

    #[test]
    fn scaling_and_removal_carry_their_adjustment_and_a_token() {
        let scale = ScaleWithAdjustmentRequest {
            scaling_group_id: "asg-1".into(),
            adjustment_type: AdjustmentType::TotalCapacity,
            adjustment_value: 5,
            client_token: Some("t-1".into()),
        };
        assert_eq!(
            scale.params().into_pairs(),
            pairs(&[
                ("AdjustmentType", "TotalCapacity"),
                ("AdjustmentValue", "5"),
                ("ClientToken", "t-1"),
                ("ScalingGroupId", "asg-1"),
            ])
        );
        let remove = RemoveInstancesRequest {
            scaling_group_id: "asg-1".into(),
            instance_ids: vec!["i-9".into()],
            decrease_desired_capacity: Some(true),
            client_token: None,
        };
        let params = remove.params("cn-hangzhou");
        assert_eq!(params.get("InstanceIds.1"), Some("i-9"));
        assert_eq!(params.get("DecreaseDesiredCapacity"), Some("true"));
        assert_eq!(params.get("ClientToken").map(str::len), Some(36));
    }

    #[test]
    fn scaling_groups_parse_from_flat_arrays() {
        let body = r#"{
            "RequestId": "r", "TotalCount": 1, "PageNumber": 1, "PageSize": 50,
            "ScalingGroups": [{
                "ScalingGroupId": "asg-1", "ScalingGroupName": "np-a", "LifecycleState": "Active",
                "MinSize": 0, "MaxSize": 10, "DesiredCapacity": 3, "TotalCapacity": 3,
                "ActiveCapacity": 2, "PendingCapacity": 1, "RemovingCapacity": 0,
                "ActiveScalingConfigurationId": "asc-1", "VpcId": "vpc-1",
                "VSwitchIds": ["vsw-1", "vsw-2"], "MultiAZPolicy": "BALANCE",
                "CreationTime": "2024-01-01T12:00Z",
                "Tags": [{"TagKey": "k", "TagValue": "v", "Propagate": true}]
            }]
        }"#;
        let response: DescribeScalingGroupsResponse = serde_json::from_str(body).expect("parses");
        let group = &response.scaling_groups[0];
        assert_eq!(group.desired_capacity, Some(3));
        assert_eq!((group.active_capacity, group.pending_capacity), (2, 1));
        assert_eq!(group.vswitch_ids, ["vsw-1", "vsw-2"]);
        assert_eq!(group.multi_az_policy, "BALANCE");
        assert_eq!(group.tags[0].key, "k");

        let bare: ScalingGroup =
            serde_json::from_str(r#"{"ScalingGroupId":"asg-2"}"#).expect("parses");
        assert_eq!(bare.desired_capacity, None);
    }

    #[test]
    fn scaling_configurations_and_instances_parse() {
        let configurations: DescribeScalingConfigurationsResponse = serde_json::from_str(
            r#"{"TotalCount":1,"ScalingConfigurations":[{"ScalingConfigurationId":"asc-1",
                "InstanceType":"ecs.g7.large","InstanceTypes":["ecs.g7.large"],
                "LifecycleState":"Active","Tags":[{"Key":"k","Value":"v"}]}]}"#,
        )
        .expect("parses");
        let configuration = &configurations.scaling_configurations[0];
        assert_eq!(configuration.instance_types, ["ecs.g7.large"]);
        assert_eq!(configuration.tags[0].value, "v");

        let instances: DescribeScalingInstancesResponse = serde_json::from_str(
            r#"{"TotalCount":1,"ScalingInstances":[{"InstanceId":"i-1","LifecycleState":"InService",
                "HealthStatus":"Healthy","CreationType":"AutoCreated","ZoneId":"cn-hangzhou-h",
                "CreatedTime":"2024-01-01T12:00Z","ScalingConfigurationId":"asc-1"}]}"#,
        )
        .expect("parses");
        assert_eq!(instances.scaling_instances[0].health_status, "Healthy");
    }
}
