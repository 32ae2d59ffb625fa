//! `ackctl autoscaler run`: the cluster autoscaler as a long-running controller, with
//! cluster-autoscaler's command line (seed 004 works as written):
//!
//! ```text
//! ackctl autoscaler run --v=4 --stderrthreshold=info --cloud-provider=alicloud \
//!     --nodes=1:10:asg-bp1… [--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled]
//!     [--kubeconfig FILE] [--alibaba-endpoint URL]        env ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGION_ID
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgAction, Args};
use cloud::node_groups::{EssNodeGroups, EssOptions, parse_discovery, parse_nodes};
use controllers::autoscaler::{Autoscaler, Config, Metrics};
use controllers::leader::{self, LeaderConfig, Leadership};

use crate::autoscaler::DecisionFlags;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Only `alicloud` (ESS scaling groups and ACK node pools).
    #[arg(long, default_value = "alicloud")]
    cloud_provider: String,

    /// A node group: `<min>:<max>:<scaling-group-id>`. Repeat for several groups.
    #[arg(long, value_name = "MIN:MAX:ID")]
    nodes: Vec<String>,

    /// Find groups instead of naming them: `asg:tag=<key>[=<value>],…` (scaling groups, or their
    /// active scaling configuration, carrying these tags) or `ack:cluster=<cluster-id>` (the ACK
    /// cluster's node pools with auto scaling enabled).
    #[arg(long, value_name = "SPEC")]
    node_group_auto_discovery: Vec<String>,

    /// Kubeconfig of the cluster to autoscale; else KUBECONFIG, ~/.kube/config or in-cluster.
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    kubeconfig: Option<PathBuf>,

    /// Base URL of an Alibaba Cloud OpenAPI endpoint for every product (the emulator's URL).
    #[arg(long, env = "ACKCTL_ALIBABA_ENDPOINT", value_name = "URL")]
    alibaba_endpoint: Option<String>,

    /// Region of the scaling groups; defaults to REGION_ID.
    #[arg(long, env = "REGION_ID")]
    region: Option<String>,

    /// How often the cluster is re-evaluated (Go duration).
    #[arg(long, default_value = "10s", value_parser = go_duration)]
    scan_interval: jiff::SignedDuration,

    /// Elect a leader through a Lease before acting, so replicas can run side by side.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    leader_elect: bool,

    /// The Lease's name (in --namespace).
    #[arg(long, default_value = "cluster-autoscaler")]
    leader_elect_resource_name: String,

    #[arg(long, default_value = "15s", value_parser = go_duration)]
    leader_elect_lease_duration: jiff::SignedDuration,

    #[arg(long, default_value = "2s", value_parser = go_duration)]
    leader_elect_retry_period: jiff::SignedDuration,

    /// Namespace of the status and priority-expander ConfigMaps and of the Lease.
    #[arg(long, default_value = "kube-system")]
    namespace: String,

    /// Write `cluster-autoscaler-status` in --namespace each loop.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value_t = true, default_missing_value = "true")]
    write_status_configmap: bool,

    /// How long evictions are retried (and evicted pods awaited) before a scale-down fails.
    #[arg(long, default_value = "2m", value_parser = go_duration)]
    max_pod_eviction_time: jiff::SignedDuration,

    /// How long a node group may take to register the nodes it was asked for; after that it is
    /// backed off, its unregistered instances are removed and its target lowered.
    #[arg(long, default_value = "15m", value_parser = go_duration)]
    max_node_provision_time: jiff::SignedDuration,

    /// Address serving /metrics and /health-check; empty turns it off.
    #[arg(long, default_value = ":8085")]
    address: String,

    /// /health-check fails when no loop finished for this long.
    #[arg(long, default_value = "10m", value_parser = go_duration)]
    max_inactivity: jiff::SignedDuration,

    /// Run one loop, print where its time went and how many cloud calls it made, and exit.
    #[arg(long)]
    once: bool,

    /// klog verbosity, accepted for cluster-autoscaler compatibility (use --log for filters).
    #[arg(long = "v", default_value_t = 0)]
    verbosity: u8,

    /// klog's stderr threshold, accepted for cluster-autoscaler compatibility.
    #[arg(long, default_value = "info")]
    stderrthreshold: String,

    /// Seed of the expanders' random tie-breaks.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    #[command(flatten)]
    flags: DecisionFlags,
}

fn go_duration(s: &str) -> Result<jiff::SignedDuration, String> {
    planner::options::parse_go_duration(s)
}

fn std_duration(d: jiff::SignedDuration) -> Duration {
    Duration::try_from(d).unwrap_or_default()
}

/// `:8085` means every interface, as in Go.
fn listen_address(s: &str) -> anyhow::Result<SocketAddr> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_owned()
    };
    full.parse()
        .with_context(|| format!("--address={s}: expected <host>:<port> or :<port>"))
}

async fn kube_client(path: Option<&PathBuf>) -> anyhow::Result<kube::Client> {
    let config = match path {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .with_context(|| format!("using kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster")?,
    };
    Ok(kube::Client::try_from(config)?)
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    if args.cloud_provider != "alicloud" {
        anyhow::bail!(
            "--cloud-provider={}: only alicloud is supported",
            args.cloud_provider
        );
    }
    tracing::debug!(v = args.verbosity, stderrthreshold = %args.stderrthreshold, "klog flags accepted");
    let options = args.flags.options()?;
    let groups = args
        .nodes
        .iter()
        .map(|n| parse_nodes(n))
        .collect::<Result<Vec<_>, _>>()?;
    let discovery = args
        .node_group_auto_discovery
        .iter()
        .map(|d| parse_discovery(d))
        .collect::<Result<Vec<_>, _>>()?;

    let mut builder = aliyun::Client::builder();
    if let Some(region) = &args.region {
        builder = builder.region(region.clone());
    }
    if let Some(endpoint) = &args.alibaba_endpoint {
        builder = builder.endpoint(endpoint.clone());
    }
    let cloud_client = builder.build().context(
        "Alibaba Cloud client (credentials: ACCESS_KEY_ID/ACCESS_KEY_SECRET, region: REGION_ID)",
    )?;
    let node_groups = EssNodeGroups::new(
        cloud_client,
        EssOptions {
            groups,
            discovery,
            ..EssOptions::default()
        },
    )?;
    let client = kube_client(args.kubeconfig.as_ref()).await?;
    let metrics = Arc::new(Metrics::new());
    let config = Config {
        options,
        scan_interval: std_duration(args.scan_interval),
        namespace: args.namespace.clone(),
        write_status_config_map: args.write_status_configmap,
        eviction_timeout: std_duration(args.max_pod_eviction_time),
        seed: args.seed,
        max_node_provision_time: std_duration(args.max_node_provision_time),
    };
    let mut autoscaler = Autoscaler::start(
        client.clone(),
        node_groups,
        config,
        metrics.clone(),
        Duration::from_secs(60),
    )
    .await?;

    if args.once {
        let report = autoscaler.run_once(jiff::Timestamp::now()).await?;
        print_report(&report);
        return Ok(());
    }

    if !args.address.is_empty() {
        let addr = listen_address(&args.address)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr} (--address)"))?;
        let router = controllers::autoscaler::metrics::router(
            metrics.clone(),
            std_duration(args.max_inactivity),
        );
        tracing::info!(%addr, "serving /metrics and /health-check");
        tokio::spawn(async move { axum::serve(listener, router).await });
    }

    let leadership = if args.leader_elect {
        let identity = format!(
            "{}_{:08x}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "ackctl".into()),
            rand::random::<u32>()
        );
        let (leadership, _task) = leader::spawn(
            client,
            LeaderConfig {
                namespace: args.namespace.clone(),
                name: args.leader_elect_resource_name.clone(),
                identity,
                lease_duration: std_duration(args.leader_elect_lease_duration),
                retry_period: std_duration(args.leader_elect_retry_period),
            },
        );
        leadership
    } else {
        Leadership::always()
    };
    tracing::info!(
        groups = args.nodes.len(),
        discovery = args.node_group_auto_discovery.len(),
        "autoscaler running"
    );
    tokio::select! {
        () = autoscaler.run(leadership) => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

fn print_report(r: &controllers::autoscaler::LoopReport) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "cluster: {} nodes, {} pods, {} node groups",
        r.nodes, r.pods, r.groups
    );
    println!(
        "{:>10.2} ms  refresh node groups ({} describe calls)",
        ms(r.refresh),
        r.calls.describe
    );
    println!(
        "{:>10.2} ms  snapshot from the watch caches",
        ms(r.snapshot)
    );
    println!("{:>10.2} ms  plan", ms(r.plan_time));
    println!(
        "{:>10.2} ms  execute ({} mutating calls: +{} nodes, -{} nodes, {} pods evicted)",
        ms(r.execute),
        r.calls.mutate,
        r.outcome.nodes_added,
        r.outcome.nodes_removed,
        r.outcome.pods_evicted
    );
    println!("{:>10.2} ms  status ConfigMap and metrics", ms(r.status));
    println!("{:>10.2} ms  total", ms(r.total()));
    for f in &r.outcome.failures {
        println!("failure: {f}");
    }
}
