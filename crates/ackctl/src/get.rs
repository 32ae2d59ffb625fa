//! `ackctl get <resource>`: list what the cloud holds, as tables, in the manner of
//! `eksctl get` / `kubectl get` — or, with `--server`, what the control plane holds: clusters by
//! the names their users gave them, with status and node pools.

use crate::cluster_cmd::{Connection, Output, cluster_named, print_cluster, print_clusters};
use aliyun::cs::{DescribeClusterNodesRequest, DescribeClustersRequest};
use aliyun::ecs::{DescribeInstanceTypesRequest, DescribeInstancesRequest, DescribeZonesRequest};
use aliyun::ess::{DescribeScalingGroupsRequest, DescribeScalingInstancesRequest};
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

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

    #[command(flatten)]
    server: Connection,

    /// Output format of the server's views (`--server`); the cloud's views are tables.
    #[arg(short = 'o', long, value_enum, default_value_t, global = true)]
    output: Output,
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
    /// ACK clusters of the region; with --server, the control plane's clusters.
    #[command(alias = "cluster")]
    Clusters {
        /// Only this cluster (its name, or its id in the cloud).
        name: Option<String>,
    },
    /// Node pools of one ACK cluster, with the ESS group behind each; with --server, the node
    /// pools of the control plane's cluster.
    #[command(alias = "nodepool", alias = "ng")]
    Nodepools {
        /// The cluster id (c…); with --server, the cluster's name.
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
    if cmd.server.named() {
        return from_server(&cmd).await;
    }
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
        Resource::Clusters { name } => {
            let mut t = table([
                "CLUSTER", "NAME", "TYPE", "STATE", "VERSION", "ZONE", "NODES", "CREATED",
            ]);
            for c in cs
                .describe_all_clusters(&DescribeClustersRequest::default())
                .await?
                .into_iter()
                .filter(|c| {
                    name.as_ref()
                        .is_none_or(|n| *n == c.name || *n == c.cluster_id)
                })
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

/// The control plane's view: clusters and their node pools as the server keeps them.
async fn from_server(cmd: &GetCommand) -> anyhow::Result<()> {
    let (api, org) = (cmd.server.client()?, cmd.server.org());
    match &cmd.resource {
        Resource::Clusters { name } => {
            let mut clusters: Vec<Value> = api.clusters(org).await?;
            let Some(name) = name else {
                return print_clusters(&clusters, cmd.output);
            };
            clusters.retain(|c| c["name"] == name.as_str());
            let cluster = clusters.pop().ok_or_else(|| {
                anyhow::anyhow!("organization {org} has no cluster named {name:?}")
            })?;
            print_cluster(&cluster, cmd.output)
        }
        Resource::Nodepools { cluster } => {
            let id = cluster_named(&api, org, cluster).await?.id;
            let c: Value = api
                .json(
                    reqwest::Method::GET,
                    &format!("/api/v1/orgs/{org}/clusters/{id}"),
                    None,
                )
                .await?;
            let pools = &c["nodePools"];
            match cmd.output {
                Output::Json => println!("{}", serde_json::to_string_pretty(pools)?),
                Output::Yaml => print!("{}", serde_saphyr::to_string(pools)?),
                Output::Table => {
                    let mut t = table([
                        "NODEPOOL",
                        "STATUS",
                        "INSTANCE TYPE",
                        "COUNT",
                        "MIN",
                        "MAX",
                        "CLOUD ID",
                    ]);
                    let text = |v: &Value| match v {
                        Value::String(s) => s.clone(),
                        Value::Null => "-".into(),
                        other => other.to_string(),
                    };
                    for (name, p) in pools.as_object().into_iter().flatten() {
                        t.add_row([
                            name.clone(),
                            text(&p["status"]),
                            text(&p["instanceType"]),
                            text(&p["count"]),
                            text(&p["minCount"]),
                            text(&p["maxCount"]),
                            text(&p["cloudId"]),
                        ]);
                    }
                    println!("{t}");
                }
            }
            Ok(())
        }
        other => anyhow::bail!(
            "`ackctl get {}` shows what the cloud holds; drop --server (and ACKCTL_SERVER) for it",
            resource_name(other)
        ),
    }
}

fn resource_name(resource: &Resource) -> &'static str {
    match resource {
        Resource::Regions => "regions",
        Resource::Zones => "zones",
        Resource::InstanceTypes { .. } => "instance-types",
        Resource::Instances => "instances",
        Resource::ScalingGroups => "scaling-groups",
        Resource::ScalingInstances { .. } => "scaling-instances",
        Resource::Clusters { .. } => "clusters",
        Resource::Nodepools { .. } => "nodepools",
        Resource::Nodes { .. } => "nodes",
    }
}
