//! `ackctl`: create and operate elastic Kubernetes clusters on Alibaba Cloud, or on the local
//! emulator that stands in for it.

mod autoscaler;
mod autoscaler_bench;
mod autoscaler_run;
mod cluster_cmd;
mod cluster_config;
mod emulator;
mod files;
mod get;
mod kube_table;
mod quickstart;
mod rest;
mod server;
mod up;

use clap::{Parser, Subcommand};

// The emulator and server allocate many small, short-lived buffers per request; mimalloc serves
// them markedly faster than glibc's allocator on this workload (see `ackctl emulator bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Create and operate elastic Kubernetes clusters on Alibaba Cloud.
///
/// Start with `ackctl up`: the emulated Alibaba Cloud and the control plane server in one
/// process, and a first cluster. The cluster commands (create, delete, scale, write-kubeconfig,
/// get --server) talk to an ackctl server (--server or ACKCTL_SERVER); the others talk to Alibaba
/// Cloud's OpenAPI — point them at the emulator with --alibaba-endpoint or
/// ACKCTL_ALIBABA_ENDPOINT to work offline.
#[derive(Debug, Parser)]
#[command(
    name = "ackctl",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    /// Log filter, e.g. `info`, `debug`, `aliyun=debug,info`.
    #[arg(long, global = true, env = "ACKCTL_LOG", default_value = "info")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The cluster autoscaler: `run` it against a cluster and its ESS groups or ACK node pools,
    /// `plan` one pass on a snapshot file, or `bench` its loop at scale on the emulator.
    #[command(subcommand)]
    Autoscaler(autoscaler::AutoscalerCommand),
    /// Run the local Alibaba Cloud emulator (ECS, ESS, ACK, ECI, SLB, VPC), or benchmark it.
    Emulator(emulator::EmulatorCommand),
    /// Create a cluster (from a ClusterConfig file or flags) or a secret, through an ackctl server.
    #[command(subcommand)]
    Create(cluster_cmd::CreateCommand),
    /// Delete a cluster through an ackctl server.
    #[command(subcommand)]
    Delete(cluster_cmd::DeleteCommand),
    /// Resize a node pool through an ackctl server.
    #[command(subcommand)]
    Scale(cluster_cmd::ScaleCommand),
    /// Write a cluster's kubeconfig (from an ackctl server) to a file.
    WriteKubeconfig(cluster_cmd::WriteKubeconfigArgs),
    /// List regions, zones, instance types, instances, scaling groups, ACK clusters, node pools
    /// or nodes.
    Get(get::GetCommand),
    /// Start an emulator in-process and walk through a first exchange with it: an ESS scaling
    /// group scaled out and in, then an ACK cluster created, scaled and deleted.
    Quickstart(quickstart::QuickstartArgs),
    /// Run the REST control plane (Pipeline-style API, durable cluster operations).
    Server(server::ServerArgs),
    /// Run the emulated Alibaba Cloud and the control plane server in one process (state in
    /// --state-dir), then walk through seed 000: register credentials, create a cluster with 3
    /// masters and 1 worker, write its kubeconfig and list its nodes. Serves until interrupted.
    Up(up::UpArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The cause chain in one line; users need what failed, not a backtrace.
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log)
                .map_err(|e| anyhow::anyhow!("invalid --log filter {:?}: {e}", cli.log))?,
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // One TLS crypto provider for every client and server in the process (kube-rs, reqwest,
    // the emulator's HTTPS).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Autoscaler(cmd) => autoscaler::run(cmd).await,
            Command::Emulator(cmd) => emulator::run(cmd).await,
            Command::Create(cmd) => cluster_cmd::create(cmd).await,
            Command::Delete(cmd) => cluster_cmd::delete(cmd).await,
            Command::Scale(cmd) => cluster_cmd::scale(cmd).await,
            Command::WriteKubeconfig(args) => cluster_cmd::write_kubeconfig(args).await,
            Command::Quickstart(args) => quickstart::run(args).await,
            Command::Get(cmd) => get::run(cmd).await,
            Command::Up(args) => up::run(args).await,
            Command::Server(args) => server::run(args).await,
        }
    })
}
