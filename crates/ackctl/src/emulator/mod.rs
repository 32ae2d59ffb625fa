//! `ackctl emulator`: serve the emulated Alibaba Cloud, or measure how fast it serves.

use aliyun_emu::{
    AccessKey, Config, Emulator, FaultConfig, InstanceTiming, Settings, StockLimit, SystemClock,
};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::io::Write as _;
use std::path::PathBuf;

/// `ackctl emulator [OPTIONS]` serves; `ackctl emulator bench` measures.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EmulatorCommand {
    #[command(subcommand)]
    action: Option<EmulatorAction>,

    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum EmulatorAction {
    /// Measure signed DescribeInstances requests per second against an in-process emulator
    /// on loopback, and the signer's cost per request.
    Bench(crate::emulator::bench::BenchArgs),
}

/// Options of the emulator itself.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the address is printed on stdout).
    #[arg(long, env = "ACKCTL_EMULATOR_LISTEN", default_value = "127.0.0.1:9100")]
    pub listen: String,

    /// An accepted key pair, ID:SECRET or ID:SECRET:readonly (read-only keys may only call
    /// Describe actions). Repeatable. Without it the emulator accepts
    /// ackctl-emulator:ackctl-emulator-secret.
    #[arg(long = "access-key", value_name = "ID:SECRET")]
    pub access_keys: Vec<AccessKey>,

    /// Milliseconds a new instance stays Pending.
    #[arg(long, default_value_t = 500)]
    pub pending_ms: i64,

    /// Milliseconds a new instance stays Starting before it is Running.
    #[arg(long, default_value_t = 1500)]
    pub starting_ms: i64,

    /// Milliseconds an ACK control plane takes to provision, and to tear down.
    #[arg(long, default_value_t = 3000)]
    pub control_plane_ms: i64,

    /// Milliseconds from an ACK cluster's instance being Running to its Node registering.
    #[arg(long, default_value_t = 3000)]
    pub node_join_ms: i64,

    /// Milliseconds from a pod being bound to a node to its containers running.
    #[arg(long, default_value_t = 2000)]
    pub pod_start_ms: i64,

    /// Milliseconds a node whose instance is gone stays NotReady before it (and its pods) are
    /// deleted, as ACK's cloud controller does.
    #[arg(long, default_value_t = 40_000)]
    pub node_lost_ms: i64,

    /// Start with a running managed ACK cluster named NAME (in cn-hangzhou, one node pool of
    /// --cluster-nodes workers) and write its kubeconfig to --kubeconfig-dir/NAME.kubeconfig.
    /// Repeatable. A line `cluster NAME ready: kubeconfig PATH` is printed for each.
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,

    /// Workers in each --cluster's node pool.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub cluster_nodes: u32,

    /// Where --cluster writes kubeconfigs; the state directory when there is one, else a new
    /// temporary directory.
    #[arg(long, value_name = "DIR")]
    pub kubeconfig_dir: Option<PathBuf>,

    /// A stock limit ZONE:INSTANCE_TYPE=COUNT: at most COUNT instances of the type may exist in
    /// the zone; more get OperationDenied.NoStock. Repeatable; 0 means sold out.
    #[arg(long = "stock", value_name = "ZONE:TYPE=N", value_parser = parse_stock)]
    pub stock: Vec<StockLimit>,

    /// Share of requests (0..1) answered with Throttling.User and x-acs-retry-after.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,

    /// Share of requests (0..1) answered with HTTP 500, half of them after the change was made.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,

    /// The x-acs-retry-after sent with throttling, in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub retry_after_ms: u64,

    /// Seed of the fault generator, to replay a run.
    #[arg(long, default_value_t = 1)]
    pub fault_seed: u64,

    /// Keep the emulated cloud in DIR across restarts (in memory only without it).
    #[arg(long, env = "ACKCTL_EMULATOR_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

fn parse_stock(s: &str) -> Result<StockLimit, String> {
    let (zone_type, count) = s
        .rsplit_once('=')
        .ok_or("expected ZONE:INSTANCE_TYPE=COUNT, e.g. cn-hangzhou-k:ecs.g7.large=0")?;
    let (zone, instance_type) = zone_type
        .split_once(':')
        .ok_or("expected ZONE:INSTANCE_TYPE=COUNT, e.g. cn-hangzhou-k:ecs.g7.large=0")?;
    if aliyun_emu::catalog::region_of_zone(zone).is_none() {
        return Err(format!("unknown zone {zone}"));
    }
    if aliyun_emu::catalog::instance_type(instance_type).is_none() {
        return Err(format!("unknown instance type {instance_type}"));
    }
    let limit = count
        .parse()
        .map_err(|_| format!("{count} is not a count"))?;
    Ok(StockLimit {
        zone: zone.into(),
        instance_type: instance_type.into(),
        limit,
    })
}

impl ServeArgs {
    /// The emulator's defaults, listening on `listen` and keeping its state in `state_dir`.
    pub fn with_state(listen: &str, state_dir: PathBuf) -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let mut args = <Defaults as clap::Parser>::parse_from(["ackctl-emulator"]).serve;
        args.listen = listen.to_owned();
        args.state_dir = Some(state_dir);
        args
    }

    /// The emulator configuration these options describe.
    pub fn config(&self) -> Config {
        Config {
            access_keys: self.access_keys.clone(),
            settings: Settings {
                timing: InstanceTiming {
                    pending_ms: self.pending_ms.max(0),
                    starting_ms: self.starting_ms.max(0),
                },
                stock: self.stock.clone(),
                control_plane_ms: self.control_plane_ms.max(0),
                kube: aliyun_emu::KubeTiming {
                    join_delay_ms: self.node_join_ms.max(0),
                    pod_start_delay_ms: self.pod_start_ms.max(0),
                    node_lost_grace_ms: self.node_lost_ms.max(0),
                    ..aliyun_emu::KubeTiming::default()
                },
            },
            faults: FaultConfig {
                throttle_rate: self.throttle_rate,
                error_rate: self.error_rate,
                retry_after_ms: self.retry_after_ms,
                seed: self.fault_seed,
            },
            state_dir: self.state_dir.clone(),
            ..Config::default()
        }
    }
}

/// Runs the command.
pub async fn run(cmd: EmulatorCommand) -> anyhow::Result<()> {
    match cmd.action {
        Some(EmulatorAction::Bench(args)) => bench::run(args).await,
        None => serve(cmd.serve).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let emulator = Emulator::new(args.config(), SystemClock)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    // The one line on stdout: scripts and tests wait for it to know the port.
    println!("ackctl emulator listening on http://{address}");
    std::io::stdout().flush()?;
    if args.access_keys.is_empty() {
        tracing::info!(
            access_key_id = aliyun_emu::DEFAULT_ACCESS_KEY_ID,
            access_key_secret = aliyun_emu::DEFAULT_ACCESS_KEY_SECRET,
            "accepting the default emulator key pair"
        );
    }
    match emulator.state_path() {
        Some(path) => tracing::info!(path = %path.display(), "persisting state"),
        None => tracing::info!("state is in memory only; pass --state-dir to keep it"),
    }
    let kubeconfig_dir = match (&args.kubeconfig_dir, &args.state_dir) {
        (Some(dir), _) | (None, Some(dir)) => dir.clone(),
        (None, None) => tempfile::Builder::new()
            .prefix("ackctl-emulator-")
            .tempdir()?
            .keep(),
    };
    let startup = clusters::create(
        format!("http://{address}"),
        args.access_keys.first().cloned(),
        args.clusters.clone(),
        args.cluster_nodes,
        kubeconfig_dir,
    );
    tokio::select! {
        result = emulator.serve(listener) => result.context("emulator server failed"),
        Err(e) = startup => Err(e.context("could not create the --cluster clusters")),
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("interrupted; stopping");
            Ok(())
        }
    }
}

pub mod bench;
mod clusters;
