//! `ackctl quickstart`: a first real exchange with the emulated Alibaba Cloud, start to finish.
//!
//! It starts the emulator in this process, then drives it through the same signed client every
//! other command uses: look at the catalogue, create an ESS scaling group, scale it out, wait
//! for the instances to boot, scale it in, and delete it; then create an ACK cluster whose node
//! pool is such a group, scale the pool, fetch the kubeconfig and delete the cluster — leaving
//! nothing behind.

use aliyun::cs::{
    CreateClusterRequest, DeleteClusterOptions, DescribeClusterNodesRequest, NodePoolInfoSpec,
    NodePoolSpec, ScalingGroupSpec,
};
use aliyun::ecs::{DescribeInstancesRequest, DescribePriceRequest, DescribeZonesRequest};
use aliyun::ess::{
    AdjustmentType, CreateScalingConfigurationRequest, CreateScalingGroupRequest,
    DescribeScalingGroupsRequest, DescribeScalingInstancesRequest, RemoveInstancesRequest,
    ScaleWithAdjustmentRequest,
};
use aliyun_emu::{Config, Emulator, InstanceTiming, Settings, SystemClock};
use anyhow::Context as _;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::time::{Duration, Instant};

/// Options of the quickstart.
#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Instances to scale the group out to.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    instances: u32,

    /// Instance type of the group.
    #[arg(long, default_value = "ecs.g7.large")]
    instance_type: String,

    /// Keep the group and the emulator running at the end (until Ctrl-C), to explore them with
    /// the official SDKs or the aliyun CLI.
    #[arg(long)]
    keep: bool,
}

const REGION: &str = "cn-hangzhou";
const IMAGE: &str = "aliyun_3_x64_20G_alibase_20240819.vhd";

fn step(text: &str) {
    println!("\n▸ {text}");
}

/// Runs the walkthrough.
pub async fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    step("Starting the Alibaba Cloud emulator on loopback");
    let config = Config {
        // Short, visible boot times, so the wait below shows instances coming up.
        settings: Settings {
            timing: InstanceTiming {
                pending_ms: 400,
                starting_ms: 1200,
            },
            control_plane_ms: 2000,
            ..Settings::default()
        },
        ..Config::default()
    };
    let emulator = Emulator::new(config, SystemClock)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let server = emulator.clone();
    tokio::spawn(async move { server.serve(listener).await });
    println!(
        "  endpoint {endpoint}, access key {} / {}",
        aliyun_emu::DEFAULT_ACCESS_KEY_ID,
        aliyun_emu::DEFAULT_ACCESS_KEY_SECRET
    );

    let client = aliyun::Client::builder()
        .credentials(aliyun::Credentials::new(
            aliyun_emu::DEFAULT_ACCESS_KEY_ID,
            aliyun_emu::DEFAULT_ACCESS_KEY_SECRET,
        ))
        .region(REGION)
        .endpoint(endpoint.clone())
        .build()?;
    let (ecs, ess) = (client.ecs(), client.ess());

    step(&format!(
        "Looking around {REGION} (ECS DescribeRegions, DescribeZones, DescribePrice)"
    ));
    let regions = ecs.describe_regions().await?.regions;
    let zones = ecs
        .describe_zones(&DescribeZonesRequest::default())
        .await?
        .zones;
    let price = ecs
        .describe_price(&DescribePriceRequest {
            instance_type: args.instance_type.clone(),
            ..Default::default()
        })
        .await
        .with_context(|| format!("pricing {}", args.instance_type))?
        .price_info
        .price;
    println!(
        "  {} regions; zones here: {}",
        regions.len(),
        zones
            .iter()
            .map(|z| z.zone_id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  {} costs {:.2} {} per hour",
        args.instance_type, price.trade_price, price.currency
    );

    step(
        "Creating scaling group quickstart-workers (ESS CreateScalingGroup, CreateScalingConfiguration, EnableScalingGroup)",
    );
    let vswitches: Vec<String> = zones
        .iter()
        .take(2)
        .map(|z| format!("vsw-{}", z.zone_id))
        .collect();
    let group = ess
        .create_scaling_group(&CreateScalingGroupRequest {
            scaling_group_name: Some("quickstart-workers".into()),
            min_size: 0,
            max_size: 10,
            vswitch_ids: vswitches.clone(),
            multi_az_policy: Some("BALANCE".into()),
            ..Default::default()
        })
        .await?
        .scaling_group_id;
    let configuration = ess
        .create_scaling_configuration(&CreateScalingConfigurationRequest {
            scaling_group_id: group.clone(),
            image_id: Some(IMAGE.into()),
            instance_type: Some(args.instance_type.clone()),
            security_group_id: Some("sg-quickstart".into()),
            tags: vec![("created-by".into(), "ackctl-quickstart".into())],
            ..Default::default()
        })
        .await?
        .scaling_configuration_id;
    ess.enable_scaling_group(&group, Some(&configuration))
        .await?;
    println!(
        "  group {group} over {}, configuration {configuration}",
        vswitches.join(" + ")
    );

    step(&format!(
        "Scaling out by {} (ESS ScaleWithAdjustment)",
        args.instances
    ));
    let activity = ess
        .scale_with_adjustment(&ScaleWithAdjustmentRequest {
            scaling_group_id: group.clone(),
            adjustment_type: AdjustmentType::QuantityChangeInCapacity,
            adjustment_value: i32::try_from(args.instances)?,
            client_token: None,
        })
        .await?
        .scaling_activity_id;
    println!("  scaling activity {activity}");
    wait_in_service(&client, &group, args.instances as usize).await?;
    print_instances(&client, &group).await?;

    if args.keep {
        println!("\nKeeping the emulator at {endpoint} with group {group}; press Ctrl-C to stop.");
        println!(
            "  e.g. Python: Config(endpoint='{}', protocol='http', access_key_id=..., access_key_secret=...)",
            endpoint.trim_start_matches("http://")
        );
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }

    step("Scaling in by one (ESS RemoveInstances, which also releases the ECS instance)");
    let members = members(&client, &group).await?;
    let victim = members
        .first()
        .context("the group has no instances")?
        .instance_id
        .clone();
    ess.remove_instances(&RemoveInstancesRequest {
        scaling_group_id: group.clone(),
        instance_ids: vec![victim.clone()],
        decrease_desired_capacity: Some(true),
        client_token: None,
    })
    .await?;
    let groups = ess
        .describe_scaling_groups(&DescribeScalingGroupsRequest {
            scaling_group_ids: vec![group.clone()],
            ..Default::default()
        })
        .await?;
    let g = groups
        .scaling_groups
        .first()
        .context("the group disappeared")?;
    println!(
        "  removed {victim}; desired capacity {}, total {}",
        g.desired_capacity.unwrap_or_default(),
        g.total_capacity
    );

    step("Deleting the group and its instances (ESS DeleteScalingGroup ForceDelete=true)");
    ess.delete_scaling_group(&group, true).await?;
    let left = ecs
        .describe_all_instances(&DescribeInstancesRequest::default())
        .await?;
    anyhow::ensure!(left.is_empty(), "{} instances were left behind", left.len());
    println!("  nothing left behind");

    ack_walkthrough(&client, &args.instance_type, &vswitches[0]).await?;

    println!(
        "\nDone. Run `ackctl emulator` to keep an emulator up, and point the official SDKs or ackctl"
    );
    println!("(--alibaba-endpoint / ACKCTL_ALIBABA_ENDPOINT) at it.");
    Ok(())
}

/// An ACK cluster end to end: its node pool is an ESS group like the one above.
async fn ack_walkthrough(
    client: &aliyun::Client,
    instance_type: &str,
    vswitch: &str,
) -> anyhow::Result<()> {
    let cs = client.cs();
    step("Creating ACK cluster quickstart with node pool workers of 2 nodes (CS CreateCluster)");
    let request = CreateClusterRequest {
        name: "quickstart".into(),
        region_id: REGION.into(),
        cluster_type: "ManagedKubernetes".into(),
        vswitch_ids: vec![vswitch.to_owned()],
        nodepools: vec![NodePoolSpec {
            nodepool_info: NodePoolInfoSpec {
                name: Some("workers".into()),
            },
            scaling_group: ScalingGroupSpec {
                instance_types: Some(vec![instance_type.to_owned()]),
                desired_size: Some(2),
                ..ScalingGroupSpec::default()
            },
            ..NodePoolSpec::default()
        }],
        ..CreateClusterRequest::default()
    };
    let cluster = cs.create_cluster(&request).await?.cluster_id;
    println!("  cluster {cluster}");
    wait_for_cluster(client, &cluster, "running").await?;

    let pool = cs
        .describe_cluster_node_pools(&cluster)
        .await?
        .into_iter()
        .next()
        .context("the cluster has no node pool")?;
    step(&format!(
        "Scaling node pool {} (ESS group {}) by 2 (CS ScaleClusterNodePool)",
        pool.nodepool_info.nodepool_id, pool.scaling_group.scaling_group_id
    ));
    cs.scale_cluster_node_pool(&cluster, &pool.nodepool_info.nodepool_id, 2)
        .await?;
    wait_for_cluster(client, &cluster, "running").await?;
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(["NODE", "ROLE", "STATE", "TYPE", "IP"]);
    for n in cs
        .describe_all_cluster_nodes(&cluster, &DescribeClusterNodesRequest::default())
        .await?
    {
        table.add_row([
            n.node_name,
            n.instance_role,
            n.state,
            n.instance_type,
            n.ip_address.join(","),
        ]);
    }
    println!("{table}");

    step("Fetching the kubeconfig (CS DescribeClusterUserKubeconfig)");
    let kubeconfig = cs
        .describe_cluster_user_kubeconfig(&cluster, false, None)
        .await?;
    if let Some(server) = kubeconfig
        .config
        .lines()
        .find(|l| l.trim_start().starts_with("server:"))
    {
        println!(
            "  {}  (valid until {})",
            server.trim(),
            kubeconfig.expiration
        );
    }

    step("Deleting the cluster and everything it created (CS DeleteCluster)");
    cs.delete_cluster(&cluster, &DeleteClusterOptions::default())
        .await?;
    let started = Instant::now();
    while cs.describe_cluster_detail(&cluster).await.is_ok() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the cluster was not deleted within a minute"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let left = client
        .ecs()
        .describe_all_instances(&DescribeInstancesRequest::default())
        .await?;
    anyhow::ensure!(left.is_empty(), "{} instances were left behind", left.len());
    println!("  cluster gone, nothing left behind");
    Ok(())
}

/// Waits, with a progress line, until the cluster reaches `state` (or fails).
async fn wait_for_cluster(
    client: &aliyun::Client,
    cluster: &str,
    state: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let c = client.cs().describe_cluster_detail(cluster).await?;
        let nodes = client
            .cs()
            .describe_all_cluster_nodes(cluster, &DescribeClusterNodesRequest::default())
            .await?;
        let ready = nodes.iter().filter(|n| n.node_status == "Ready").count();
        println!(
            "  {} after {:.1} s, {ready}/{} nodes Ready",
            c.state,
            started.elapsed().as_secs_f64(),
            nodes.len()
        );
        if c.state == state && ready == nodes.len() {
            return Ok(());
        }
        anyhow::ensure!(c.state != "failed", "the cluster failed");
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the cluster did not become {state} within a minute"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

/// The instances of a scaling group, every page.
async fn members(
    client: &aliyun::Client,
    group: &str,
) -> anyhow::Result<Vec<aliyun::ess::ScalingInstance>> {
    let request = DescribeScalingInstancesRequest {
        scaling_group_id: Some(group.into()),
        ..Default::default()
    };
    Ok(client
        .ess()
        .describe_all_scaling_instances(&request)
        .await?)
}

/// Waits, with a progress line, until `want` members are InService.
async fn wait_in_service(client: &aliyun::Client, group: &str, want: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let deadline = Duration::from_secs(60);
    loop {
        let members = members(client, group).await?;
        let ready = members
            .iter()
            .filter(|m| m.lifecycle_state == "InService")
            .count();
        println!(
            "  {ready}/{want} instances InService after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        if ready >= want {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < deadline,
            "instances did not come up within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

async fn print_instances(client: &aliyun::Client, group: &str) -> anyhow::Result<()> {
    let members = members(client, group).await?;
    let ids: Vec<String> = members.iter().map(|m| m.instance_id.clone()).collect();
    let instances = client
        .ecs()
        .describe_all_instances(&DescribeInstancesRequest {
            instance_ids: ids,
            ..Default::default()
        })
        .await?;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "INSTANCE",
        "ZONE",
        "TYPE",
        "STATUS",
        "PRIVATE IP",
        "NODE NAME",
    ]);
    for i in &instances {
        table.add_row([
            i.instance_id.clone(),
            i.zone_id.clone(),
            i.instance_type.clone(),
            i.status.clone(),
            i.vpc_attributes
                .private_ip_address
                .first()
                .cloned()
                .unwrap_or_default(),
            // The name ACK gives the Kubernetes node backed by this instance.
            format!("{REGION}.{}", i.instance_id),
        ]);
    }
    println!("{table}");
    Ok(())
}
