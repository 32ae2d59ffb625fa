//! `ackctl get <resource>`: list what the cloud holds, as tables, in the manner of
//! `eksctl get` / `kubectl get`.

use aliyun::cs::{DescribeClusterNodesRequest, DescribeClustersRequest};
use aliyun::ecs::{DescribeInstanceTypesRequest, DescribeInstancesRequest, DescribeZonesRequest};
use aliyun::ess::{DescribeScalingGroupsRequest, DescribeScalingInstancesRequest};
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

/// Where and as whom to reach Alibaba Cloud; shared by every command that calls it.
#[derive(Debug, Args, Clone)]
pub struct CloudArgs {
    /// Send every Alibaba Cloud API call to this base URL instead of the public endpoints,
    /// e.g. the emulator at http://127.0.0.1:9100.
    #[arg(long, global = true, env = aliyun::endpoint::ENDPOINT_ENV, value_name = "URL")]
    pub alibaba_endpoint: Option<String>,

    /// Region to work in; defaults to REGION_ID or the credentials profile's region.
    #[arg(long, global = true, env = "ALIBABA_CLOUD_REGION_ID")]
    pub region: Option<String>,
}

impl CloudArgs {
    /// A client from these options and the credentials chain (explicit env vars
    /// ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / _SECURITY_TOKEN, ACCESS_KEY_ID / ACCESS_KEY_SECRET,
    /// ~/.alibabacloud/credentials.ini, ~/.aliyun/config.json).
    pub fn client(&self) -> anyhow::Result<aliyun::Client> {
        let mut builder = aliyun::Client::builder();
        if let Some(region) = &self.region {
            builder = builder.region(region.clone());
        }
        if let Some(endpoint) = &self.alibaba_endpoint {
            builder = builder.endpoint(endpoint.clone());
        }
        Ok(builder.build()?)
    }
}

/// `ackctl get <resource>`.
#[derive(Debug, Args)]
pub struct GetCommand {
    #[command(subcommand)]
    resource: Resource,

    #[command(flatten)]
    cloud: CloudArgs,
}

#[derive(Debug, Subcommand)]
enum Resource {
    /// Regions.
    Regions,
    /// Zones of the region, with how many instance types each sells.
    Zones,
    /// Instance types: vCPUs, memory, GPUs.
    #[command(alias = "instance-type")]
    InstanceTypes {
        /// Only this family, e.g. ecs.g7.
        #[arg(long)]
        family: Option<String>,
    },
    /// ECS instances of the region.
    #[command(alias = "instance")]
    Instances,
    /// ESS scaling groups of the region, with their capacities.
    #[command(alias = "scaling-group", alias = "asg")]
    ScalingGroups,
    /// Instances of one scaling group.
    ScalingInstances {
        /// The scaling group id (asg-…).
        group: String,
    },
    /// ACK clusters of the region.
    #[command(alias = "cluster")]
    Clusters,
    /// Node pools of one ACK cluster, with the ESS group behind each.
    #[command(alias = "nodepool", alias = "ng")]
    Nodepools {
        /// The cluster id (c…).
        cluster: String,
    },
    /// Nodes of one ACK cluster: masters and node-pool workers.
    #[command(alias = "node")]
    Nodes {
        /// The cluster id (c…).
        cluster: String,
    },
}

fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    table
}

/// Runs the command and prints a table.
pub async fn run(cmd: GetCommand) -> anyhow::Result<()> {
    let client = cmd.cloud.client()?;
    let (ecs, ess, cs) = (client.ecs(), client.ess(), client.cs());
    let table = match cmd.resource {
        Resource::Regions => {
            let mut t = table(["REGION", "NAME", "ENDPOINT"]);
            for r in ecs.describe_regions().await?.regions {
                t.add_row([r.region_id, r.local_name, r.region_endpoint]);
            }
            t
        }
        Resource::Zones => {
            let mut t = table(["ZONE", "NAME", "INSTANCE TYPES"]);
            for z in ecs
                .describe_zones(&DescribeZonesRequest::default())
                .await?
                .zones
            {
                t.add_row([
                    z.zone_id,
                    z.local_name,
                    z.available_instance_types.len().to_string(),
                ]);
            }
            t
        }
        Resource::InstanceTypes { family } => {
            let request = DescribeInstanceTypesRequest {
                instance_type_family: family,
                ..Default::default()
            };
            let mut t = table(["TYPE", "FAMILY", "VCPU", "MEMORY (GiB)", "GPU", "ARCH"]);
            for it in ecs.describe_all_instance_types(&request).await? {
                let gpu = if it.gpu_amount > 0 {
                    format!("{} × {}", it.gpu_amount, it.gpu_spec)
                } else {
                    String::new()
                };
                t.add_row([
                    it.instance_type_id,
                    it.instance_type_family,
                    it.cpu_core_count.to_string(),
                    it.memory_size.to_string(),
                    gpu,
                    it.cpu_architecture,
                ]);
            }
            t
        }
        Resource::Instances => {
            let mut t = table([
                "INSTANCE",
                "ZONE",
                "TYPE",
                "STATUS",
                "PRIVATE IP",
                "CREATED",
            ]);
            for i in ecs
                .describe_all_instances(&DescribeInstancesRequest::default())
                .await?
            {
                let ip = i
                    .vpc_attributes
                    .private_ip_address
                    .first()
                    .cloned()
                    .unwrap_or_default();
                t.add_row([
                    i.instance_id,
                    i.zone_id,
                    i.instance_type,
                    i.status,
                    ip,
                    i.creation_time,
                ]);
            }
            t
        }
        Resource::ScalingGroups => {
            let mut t = table([
                "GROUP",
                "NAME",
                "STATE",
                "MIN",
                "MAX",
                "DESIRED",
                "TOTAL",
                "IN SERVICE",
                "PENDING",
            ]);
            for g in ess
                .describe_all_scaling_groups(&DescribeScalingGroupsRequest::default())
                .await?
            {
                t.add_row([
                    g.scaling_group_id,
                    g.scaling_group_name,
                    g.lifecycle_state,
                    g.min_size.to_string(),
                    g.max_size.to_string(),
                    g.desired_capacity
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    g.total_capacity.to_string(),
                    g.active_capacity.to_string(),
                    g.pending_capacity.to_string(),
                ]);
            }
            t
        }
        Resource::ScalingInstances { group } => {
            let request = DescribeScalingInstancesRequest {
                scaling_group_id: Some(group),
                ..Default::default()
            };
            let mut t = table([
                "INSTANCE",
                "ZONE",
                "LIFECYCLE",
                "HEALTH",
                "CREATION",
                "CREATED",
            ]);
            for m in ess.describe_all_scaling_instances(&request).await? {
                t.add_row([
                    m.instance_id,
                    m.zone_id,
                    m.lifecycle_state,
                    m.health_status,
                    m.creation_type,
                    m.created_time,
                ]);
            }
            t
        }
        Resource::Clusters => {
            let mut t = table([
                "CLUSTER", "NAME", "TYPE", "STATE", "VERSION", "ZONE", "NODES", "CREATED",
            ]);
            for c in cs
                .describe_all_clusters(&DescribeClustersRequest::default())
                .await?
            {
                t.add_row([
                    c.cluster_id,
                    c.name,
                    c.cluster_type,
                    c.state,
                    c.current_version,
                    c.zone_id,
                    c.size.to_string(),
                    c.created,
                ]);
            }
            t
        }
        Resource::Nodepools { cluster } => {
            let mut t = table([
                "NODEPOOL",
                "NAME",
                "STATE",
                "DESIRED",
                "NODES",
                "SERVING",
                "AUTOSCALING",
                "INSTANCE TYPES",
                "SCALING GROUP",
            ]);
            for np in cs.describe_cluster_node_pools(&cluster).await? {
                let auto = &np.auto_scaling;
                t.add_row([
                    np.nodepool_info.nodepool_id,
                    np.nodepool_info.name,
                    np.status.state,
                    np.scaling_group.desired_size.to_string(),
                    np.status.total_nodes.to_string(),
                    np.status.serving_nodes.to_string(),
                    if auto.enable {
                        format!("{}..{}", auto.min_instances, auto.max_instances)
                    } else {
                        "off".into()
                    },
                    np.scaling_group.instance_types.join(","),
                    np.scaling_group.scaling_group_id,
                ]);
            }
            t
        }
        Resource::Nodes { cluster } => {
            let mut t = table(["NODE", "ROLE", "STATUS", "STATE", "TYPE", "IP", "NODEPOOL"]);
            for n in cs
                .describe_all_cluster_nodes(&cluster, &DescribeClusterNodesRequest::default())
                .await?
            {
                t.add_row([
                    n.node_name,
                    n.instance_role,
                    n.node_status,
                    n.state,
                    n.instance_type,
                    n.ip_address.join(","),
                    n.nodepool_id,
                ]);
            }
            t
        }
    };
    println!("{table}");
    Ok(())
}
