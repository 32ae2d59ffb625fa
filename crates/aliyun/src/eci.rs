//! ECI (Elastic Container Instance) 2018-08-08: container groups, the serverless pods that
//! virtual nodes run, and their containers' logs.
//!
//! ```text
//!   create_container_group ──▶ describe_container_groups (poll Status: Scheduling → Pending →
//!            │                    Running → Succeeded | Failed; Containers[].CurrentState)
//!            ├──▶ describe_container_log (one container's output)
//!            ├──▶ update_container_group (Updating, then the containers restart)
//!            └──▶ delete_container_group
//! ```
//!
//! Lists go out as `Container.N.Command.M` and come back as flat arrays
//! (`"ContainerGroups":[…]`), except `ContainerGroupIds`, which is one JSON array text. CPU and
//! memory are fractional (vCPU, GiB).

use serde::Deserialize;

use crate::client::{Ack, Client, paginate_tokens, token_or_fresh};
use crate::ecs::Tag;
use crate::endpoint::Product;
use crate::error::Result;
use crate::params::{ParamValue, Params};

/// The ECI API of a [`Client`].
#[derive(Clone, Copy, Debug)]
pub struct Eci<'a> {
    client: &'a Client,
}

impl Client {
    pub fn eci(&self) -> Eci<'_> {
        Eci { client: self }
    }
}

/// The largest `Limit` DescribeContainerGroups accepts.
const MAX_LIMIT: u32 = 20;

impl Eci<'_> {
    fn region(&self) -> &str {
        self.client.region()
    }

    /// Creates a container group; it starts at once (`Scheduling`, then `Pending`, `Running`).
    pub async fn create_container_group(
        &self,
        request: &CreateContainerGroupRequest,
    ) -> Result<CreateContainerGroupResponse> {
        self.client
            .rpc(
                Product::Eci,
                "CreateContainerGroup",
                request.params(self.region()),
            )
            .await
    }

    /// One page (at most 20) of the container groups in the client's region.
    pub async fn describe_container_groups(
        &self,
        request: &DescribeContainerGroupsRequest,
    ) -> Result<DescribeContainerGroupsResponse> {
        self.client
            .rpc(
                Product::Eci,
                "DescribeContainerGroups",
                request.params(self.region()),
            )
            .await
    }

    /// Every container group matching `request`, following `NextToken`.
    pub async fn describe_all_container_groups(
        &self,
        request: &DescribeContainerGroupsRequest,
    ) -> Result<Vec<ContainerGroup>> {
        paginate_tokens(|next_token| {
            let page = DescribeContainerGroupsRequest {
                next_token,
                limit: Some(request.limit.unwrap_or(MAX_LIMIT)),
                ..request.clone()
            };
            async move {
                let response = self.describe_container_groups(&page).await?;
                Ok((response.container_groups, Some(response.next_token)))
            }
        })
        .await
    }

    /// One container group by id; `None` when it does not exist (any more).
    pub async fn describe_container_group(
        &self,
        container_group_id: &str,
    ) -> Result<Option<ContainerGroup>> {
        let request = DescribeContainerGroupsRequest {
            container_group_ids: vec![container_group_id.to_owned()],
            ..Default::default()
        };
        let response = self.describe_container_groups(&request).await?;
        Ok(response
            .container_groups
            .into_iter()
            .find(|g| g.container_group_id == container_group_id))
    }

    /// Deletes a container group and stops its containers. The call carries a `ClientToken`, so
    /// a retry after a lost reply answers like the first attempt instead of "not found".
    pub async fn delete_container_group(&self, container_group_id: &str) -> Result<Ack> {
        let params = Params::new()
            .put("RegionId", self.region())
            .put("ContainerGroupId", container_group_id)
            .put("ClientToken", token_or_fresh(None));
        self.client
            .rpc(Product::Eci, "DeleteContainerGroup", params)
            .await
    }

    /// What a container printed.
    pub async fn describe_container_log(
        &self,
        request: &DescribeContainerLogRequest,
    ) -> Result<DescribeContainerLogResponse> {
        self.client
            .rpc(
                Product::Eci,
                "DescribeContainerLog",
                request.params(self.region()),
            )
            .await
    }

    /// Changes a group's containers, restart policy or tags. Container changes put the group in
    /// `Updating` and restart its containers with the new spec.
    pub async fn update_container_group(
        &self,
        request: &UpdateContainerGroupRequest,
    ) -> Result<Ack> {
        self.client
            .rpc(
                Product::Eci,
                "UpdateContainerGroup",
                request.params(self.region()),
            )
            .await
    }
}

/// A number as the services read it (`2`, `0.5`).
fn number(value: f64) -> String {
    value.to_string()
}

/// When a group's containers are started again after they exit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestartPolicy {
    /// After every exit (the default, as for a Deployment's pods).
    #[default]
    Always,
    /// After a non-zero exit (a Job's pods).
    OnFailure,
    /// Never.
    Never,
}

impl RestartPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::OnFailure => "OnFailure",
            Self::Never => "Never",
        }
    }
}

impl ParamValue for RestartPolicy {
    fn to_param(&self) -> String {
        self.as_str().to_owned()
    }
}

/// A port a container listens on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerPort {
    pub port: u16,
    /// `TCP` (when `None`), `UDP` or `SCTP`.
    pub protocol: Option<String>,
}

/// One container of a request. In an incremental update, empty fields are left unchanged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Container {
    /// Unique in the group; lower-case letters, digits and `-`.
    pub name: String,
    /// Required on create.
    pub image: String,
    /// vCPUs, e.g. `0.5`.
    pub cpu: Option<f64>,
    /// GiB.
    pub memory: Option<f64>,
    /// The entrypoint (`Command.N`); the image's when empty.
    pub command: Vec<String>,
    /// Its arguments (`Arg.N`).
    pub args: Vec<String>,
    /// `EnvironmentVar.N.Key`/`.Value`.
    pub environment_vars: Vec<(String, String)>,
    pub ports: Vec<ContainerPort>,
    /// `Always`, `IfNotPresent` or `Never`.
    pub image_pull_policy: Option<String>,
}

impl Container {
    /// A container running `image` with its own entrypoint.
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            image: image.into(),
            ..Self::default()
        }
    }

    fn put(&self, params: Params, prefix: &str) -> Params {
        let key = |field: &str| format!("{prefix}.{field}");
        let mut params = params
            .put(&key("Name"), &self.name)
            .put_opt(
                &key("Image"),
                Some(self.image.as_str()).filter(|i| !i.is_empty()),
            )
            .put_opt(&key("Cpu"), self.cpu.map(number))
            .put_opt(&key("Memory"), self.memory.map(number))
            .put_list(&key("Command"), &self.command)
            .put_list(&key("Arg"), &self.args)
            .put_tags(&key("EnvironmentVar"), &self.environment_vars)
            .put_opt(&key("ImagePullPolicy"), self.image_pull_policy.as_deref());
        for (n, port) in self.ports.iter().enumerate() {
            let port_key = |field: &str| key(&format!("Port.{}.{field}", n + 1));
            params = params
                .put(&port_key("Port"), u32::from(port.port))
                .put_opt(&port_key("Protocol"), port.protocol.as_deref());
        }
        params
    }
}

fn put_containers(mut params: Params, kind: &str, containers: &[Container]) -> Params {
    for (n, container) in containers.iter().enumerate() {
        params = container.put(params, &format!("{kind}.{}", n + 1));
    }
    params
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreateContainerGroupRequest {
    /// 2–128 lower-case letters, digits and `-`.
    pub container_group_name: String,
    /// At least one; at most 20 together with the init containers.
    pub containers: Vec<Container>,
    /// Run one after another, to completion, before the containers start.
    pub init_containers: Vec<Container>,
    /// The group's vCPUs; the containers' sum when neither this nor `instance_type` is set.
    pub cpu: Option<f64>,
    /// The group's GiB.
    pub memory: Option<f64>,
    /// An ECS instance type to run on instead of `cpu`/`memory`.
    pub instance_type: Option<String>,
    pub restart_policy: Option<RestartPolicy>,
    pub security_group_id: Option<String>,
    /// Decides the zone and VPC.
    pub vswitch_id: Option<String>,
    pub zone_id: Option<String>,
    /// `Tag.N.Key`/`Tag.N.Value`; virtual nodes find their pods' groups by these.
    pub tags: Vec<(String, String)>,
    /// `NoSpot`, `SpotAsPriceGo`, `SpotWithPriceLimit`.
    pub spot_strategy: Option<String>,
    /// Idempotency token; a fresh one is made when `None`.
    pub client_token: Option<String>,
}

impl CreateContainerGroupRequest {
    fn params(&self, region: &str) -> Params {
        let params = Params::new()
            .put("RegionId", region)
            .put("ContainerGroupName", &self.container_group_name)
            .put_opt("Cpu", self.cpu.map(number))
            .put_opt("Memory", self.memory.map(number))
            .put_opt("InstanceType", self.instance_type.as_deref())
            .put_opt("RestartPolicy", self.restart_policy)
            .put_opt("SecurityGroupId", self.security_group_id.as_deref())
            .put_opt("VSwitchId", self.vswitch_id.as_deref())
            .put_opt("ZoneId", self.zone_id.as_deref())
            .put_tags("Tag", &self.tags)
            .put_opt("SpotStrategy", self.spot_strategy.as_deref())
            .put("ClientToken", token_or_fresh(self.client_token.as_deref()));
        let params = put_containers(params, "Container", &self.containers);
        put_containers(params, "InitContainer", &self.init_containers)
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateContainerGroupResponse {
    pub request_id: String,
    pub container_group_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeContainerGroupsRequest {
    /// At most 20; sent as one JSON array text.
    pub container_group_ids: Vec<String>,
    pub container_group_name: Option<String>,
    /// `Scheduling`, `Pending`, `Running`, `Succeeded`, `Failed`, `Updating`…
    pub status: Option<String>,
    /// Groups carrying all of these tags.
    pub tags: Vec<(String, String)>,
    pub zone_id: Option<String>,
    pub vswitch_id: Option<String>,
    pub security_group_id: Option<String>,
    /// Page size, at most 20.
    pub limit: Option<u32>,
    /// The previous page's `NextToken`.
    pub next_token: Option<String>,
}

impl DescribeContainerGroupsRequest {
    fn params(&self, region: &str) -> Params {
        Params::new()
            .put("RegionId", region)
            .put_json("ContainerGroupIds", &self.container_group_ids)
            .put_opt("ContainerGroupName", self.container_group_name.as_deref())
            .put_opt("Status", self.status.as_deref())
            .put_tags("Tag", &self.tags)
            .put_opt("ZoneId", self.zone_id.as_deref())
            .put_opt("VSwitchId", self.vswitch_id.as_deref())
            .put_opt("SecurityGroupId", self.security_group_id.as_deref())
            .put_opt("Limit", self.limit)
            .put_opt("NextToken", self.next_token.as_deref())
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeContainerGroupsResponse {
    pub request_id: String,
    pub total_count: u64,
    /// Empty on the last page.
    pub next_token: String,
    pub container_groups: Vec<ContainerGroup>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerGroup {
    pub container_group_id: String,
    pub container_group_name: String,
    pub region_id: String,
    pub zone_id: String,
    pub vpc_id: String,
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
    pub security_group_id: String,
    /// `Scheduling`, `Pending`, `Running`, `Succeeded`, `Failed`, `ScheduleFailed`,
    /// `Restarting`, `Updating`, `Terminating`, `Expired`.
    pub status: String,
    pub cpu: f64,
    pub memory: f64,
    pub instance_type: String,
    /// The pod IP.
    pub intranet_ip: String,
    pub internet_ip: String,
    pub restart_policy: String,
    pub spot_strategy: String,
    pub creation_time: String,
    /// Set once `Succeeded`.
    pub succeeded_time: String,
    /// Set once `Failed`.
    pub failed_time: String,
    pub tags: Vec<Tag>,
    pub events: Vec<Event>,
    pub containers: Vec<ContainerStatus>,
    pub init_containers: Vec<ContainerStatus>,
}

impl ContainerGroup {
    /// Whether the group has stopped for good.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "Succeeded" | "Failed" | "Expired")
    }

    /// A container's status by name.
    pub fn container(&self, name: &str) -> Option<&ContainerStatus> {
        self.containers
            .iter()
            .chain(&self.init_containers)
            .find(|c| c.name == name)
    }
}

/// A Kubernetes-style event of a group.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Event {
    pub name: String,
    /// `Scheduled`, `Pulling`, `Pulled`, `Created`, `Started`, `BackOff`, `Failed`…
    pub reason: String,
    pub message: String,
    /// `Normal` or `Warning`.
    #[serde(rename = "Type")]
    pub kind: String,
    pub count: u32,
    pub first_timestamp: String,
    pub last_timestamp: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct EnvironmentVar {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Port {
    pub port: u32,
    pub protocol: String,
}

/// A container of a described group.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerStatus {
    pub name: String,
    pub image: String,
    pub image_pull_policy: String,
    pub cpu: f64,
    pub memory: f64,
    /// `Commands` for containers, `Command` for init containers.
    #[serde(alias = "Command")]
    pub commands: Vec<String>,
    pub args: Vec<String>,
    pub environment_vars: Vec<EnvironmentVar>,
    pub ports: Vec<Port>,
    pub ready: bool,
    pub restart_count: u32,
    pub current_state: ContainerState,
    pub previous_state: ContainerState,
}

/// What a container is doing.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerState {
    /// `Waiting`, `Running` or `Terminated`; empty for a previous state that never was.
    pub state: String,
    /// e.g. `ContainerCreating`, `ErrImagePull`, `CrashLoopBackOff`, `Completed`, `Error`.
    pub reason: String,
    pub detail_status: String,
    pub message: String,
    /// Set once terminated.
    pub exit_code: Option<i32>,
    pub start_time: String,
    pub finish_time: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeContainerLogRequest {
    pub container_group_id: String,
    pub container_name: String,
    /// Only the last this many lines.
    pub tail: Option<u32>,
    /// Only this many bytes from the start.
    pub limit_bytes: Option<u32>,
    /// Only lines of the last this many seconds.
    pub since_seconds: Option<u32>,
    /// Prefix each line with its RFC 3339 time.
    pub timestamps: Option<bool>,
    /// The run before the current one (after a restart), like `kubectl logs --previous`.
    pub last_time: Option<bool>,
}

impl DescribeContainerLogRequest {
    /// The whole log of one container.
    pub fn new(container_group_id: impl Into<String>, container_name: impl Into<String>) -> Self {
        Self {
            container_group_id: container_group_id.into(),
            container_name: container_name.into(),
            ..Self::default()
        }
    }

    fn params(&self, region: &str) -> Params {
        Params::new()
            .put("RegionId", region)
            .put("ContainerGroupId", &self.container_group_id)
            .put("ContainerName", &self.container_name)
            .put_opt("Tail", self.tail)
            .put_opt("LimitBytes", self.limit_bytes)
            .put_opt("SinceSeconds", self.since_seconds)
            .put_opt("Timestamps", self.timestamps)
            .put_opt("LastTime", self.last_time)
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeContainerLogResponse {
    pub request_id: String,
    pub container_name: String,
    /// Lines, each ending with `\n`.
    pub content: String,
}

/// How UpdateContainerGroup treats the containers it is given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpdateType {
    /// They replace the group's containers (the service's default).
    #[default]
    RenewUpdate,
    /// They are merged by name into the group's; fields left empty stay as they are.
    IncrementalUpdate,
}

impl ParamValue for UpdateType {
    fn to_param(&self) -> String {
        match self {
            Self::RenewUpdate => "RenewUpdate",
            Self::IncrementalUpdate => "IncrementalUpdate",
        }
        .to_owned()
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpdateContainerGroupRequest {
    pub container_group_id: String,
    /// Unchanged when empty.
    pub containers: Vec<Container>,
    pub init_containers: Vec<Container>,
    pub restart_policy: Option<RestartPolicy>,
    /// Replaces the group's tags when not empty.
    pub tags: Vec<(String, String)>,
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    pub update_type: Option<UpdateType>,
    pub client_token: Option<String>,
}

impl UpdateContainerGroupRequest {
    fn params(&self, region: &str) -> Params {
        let params = Params::new()
            .put("RegionId", region)
            .put("ContainerGroupId", &self.container_group_id)
            .put_opt("RestartPolicy", self.restart_policy)
            .put_tags("Tag", &self.tags)
            .put_opt("Cpu", self.cpu.map(number))
            .put_opt("Memory", self.memory.map(number))
            .put_opt("UpdateType", self.update_type)
            .put("ClientToken", token_or_fresh(self.client_token.as_deref()));
        let params = put_containers(params, "Container", &self.containers);
        put_containers(params, "InitContainer", &self.init_containers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_flatten_into_numbered_fields() {
        let request = CreateContainerGroupRequest {
            container_group_name: "job-1".into(),
            containers: vec![Container {
                cpu: Some(0.5),
                memory: Some(1.0),
                command: vec!["sh".into(), "-c".into(), "echo hi".into()],
                environment_vars: vec![("MODE".into(), "batch".into())],
                ports: vec![ContainerPort {
                    port: 8080,
                    protocol: None,
                }],
                ..Container::new("main", "busybox:1.36")
            }],
            init_containers: vec![Container::new("setup", "busybox:1.36")],
            restart_policy: Some(RestartPolicy::Never),
            vswitch_id: Some("vsw-cn-hangzhou-k".into()),
            tags: vec![("PodName".into(), "job-1".into())],
            client_token: Some("op-1".into()),
            ..Default::default()
        };
        let params = request.params("cn-hangzhou");
        for (key, value) in [
            ("RegionId", "cn-hangzhou"),
            ("ContainerGroupName", "job-1"),
            ("Container.1.Name", "main"),
            ("Container.1.Image", "busybox:1.36"),
            ("Container.1.Cpu", "0.5"),
            ("Container.1.Memory", "1"),
            ("Container.1.Command.1", "sh"),
            ("Container.1.Command.3", "echo hi"),
            ("Container.1.EnvironmentVar.1.Key", "MODE"),
            ("Container.1.EnvironmentVar.1.Value", "batch"),
            ("Container.1.Port.1.Port", "8080"),
            ("InitContainer.1.Name", "setup"),
            ("RestartPolicy", "Never"),
            ("VSwitchId", "vsw-cn-hangzhou-k"),
            ("Tag.1.Key", "PodName"),
            ("ClientToken", "op-1"),
        ] {
            assert_eq!(params.get(key), Some(value), "{key}");
        }
        assert_eq!(params.get("Container.1.Port.1.Protocol"), None);
        assert_eq!(params.get("Cpu"), None);
    }

    #[test]
    fn a_create_without_a_token_gets_one_that_retries_reuse() {
        let request = CreateContainerGroupRequest::default();
        let params = request.params("cn-hangzhou");
        assert_eq!(params.get("ClientToken").map(str::len), Some(36));
    }

    #[test]
    fn describe_sends_ids_as_one_json_array() {
        let request = DescribeContainerGroupsRequest {
            container_group_ids: vec!["eci-1".into(), "eci-2".into()],
            status: Some("Running".into()),
            limit: Some(5),
            next_token: Some("t".into()),
            ..Default::default()
        };
        let params = request.params("cn-beijing");
        assert_eq!(
            params.get("ContainerGroupIds"),
            Some(r#"["eci-1","eci-2"]"#)
        );
        assert_eq!(params.get("Limit"), Some("5"));
        assert_eq!(params.get("NextToken"), Some("t"));
        assert_eq!(params.get("Status"), Some("Running"));
    }

    #[test]
    fn incremental_updates_leave_out_what_does_not_change() {
        let request = UpdateContainerGroupRequest {
            container_group_id: "eci-1".into(),
            containers: vec![Container {
                command: vec!["sleep".into(), "1".into()],
                ..Container::new("main", "")
            }],
            update_type: Some(UpdateType::IncrementalUpdate),
            ..Default::default()
        };
        let params = request.params("cn-hangzhou");
        assert_eq!(params.get("Container.1.Image"), None);
        assert_eq!(params.get("Container.1.Command.2"), Some("1"));
        assert_eq!(params.get("UpdateType"), Some("IncrementalUpdate"));
        assert!(params.get("ClientToken").is_some());
    }

    #[test]
    fn groups_parse_with_states_events_and_init_container_commands() {
        let body = r#"{
            "RequestId": "r", "TotalCount": 1, "NextToken": "",
            "ContainerGroups": [{
                "ContainerGroupId": "eci-1", "ContainerGroupName": "job", "Status": "Failed",
                "Cpu": 0.5, "Memory": 1.0, "IntranetIp": "10.0.0.2", "VSwitchId": "vsw-1",
                "FailedTime": "2024-01-01T12:00:05Z", "Tags": [{"Key": "k", "Value": "v"}],
                "Events": [{"Reason": "Started", "Type": "Normal", "Count": 2,
                            "FirstTimestamp": "2024-01-01T12:00:00Z"}],
                "Containers": [{"Name": "main", "Commands": ["sh"], "Ready": false, "RestartCount": 0,
                    "CurrentState": {"State": "Terminated", "Reason": "Error", "ExitCode": 3},
                    "PreviousState": {}}],
                "InitContainers": [{"Name": "setup", "Command": ["true"],
                    "CurrentState": {"State": "Terminated", "ExitCode": 0}}]
            }]
        }"#;
        let response: DescribeContainerGroupsResponse = serde_json::from_str(body).expect("parses");
        let group = &response.container_groups[0];
        assert!(group.is_terminal());
        assert_eq!(group.cpu, 0.5);
        assert_eq!(group.vswitch_id, "vsw-1");
        assert_eq!(group.events[0].kind, "Normal");
        assert_eq!(group.tags[0].key, "k");
        let main = group.container("main").expect("main");
        assert_eq!(main.current_state.exit_code, Some(3));
        assert_eq!(main.previous_state.exit_code, None);
        assert_eq!(group.container("setup").expect("init").commands, ["true"]);
    }
}
