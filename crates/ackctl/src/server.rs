//! `ackctl server`: runs the REST control plane (and its operation worker) until interrupted;
//! `ackctl server rotate-key` re-wraps every secret under a new master key.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use secrecy::SecretString;
use server::{Server, ServerConfig};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServerArgs {
    /// Address to serve the API on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Holds all local state: the SQLite database, the master key, the first admin token.
    #[arg(long, default_value = "ackctl-state")]
    state_dir: PathBuf,
    /// PostgreSQL instead of SQLite (`postgres://user:pass@host/db`), for several replicas.
    #[arg(long, env = "ACKCTL_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Send every Alibaba Cloud call here (the emulator, `http://127.0.0.1:9100`).
    #[arg(long, env = aliyun::endpoint::ENDPOINT_ENV)]
    alibaba_endpoint: Option<String>,
    /// The first admin's token on an empty database; generated into STATE_DIR/admin-token
    /// (mode 0600) when absent.
    #[arg(long, env = server::BOOTSTRAP_TOKEN_ENV, hide_env_values = true)]
    bootstrap_token: Option<String>,
    /// The master key (base64 or hex of 32 bytes) instead of STATE_DIR/master.key.
    #[arg(long, env = server::MASTER_KEY_ENV, hide_env_values = true)]
    master_key: Option<String>,
    /// Serve the API only; leave operations to other replicas.
    #[arg(long)]
    no_worker: bool,

    #[command(subcommand)]
    command: Option<ServerCommand>,
}

#[derive(Debug, clap::Subcommand)]
enum ServerCommand {
    /// Re-wrap every secret's data key under a fresh master key and replace STATE_DIR/master.key
    /// (the old key is kept beside it). Stop the servers first.
    RotateKey {
        #[arg(long, default_value = "ackctl-state")]
        state_dir: PathBuf,
        #[arg(long, env = "ACKCTL_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    if let Some(ServerCommand::RotateKey {
        state_dir,
        database_url,
    }) = args.command
    {
        let (id, moved) = server::rotate_master_key(&state_dir, database_url.as_deref())
            .await
            .context("rotating the master key")?;
        println!("master key rotated: new key {id}; {moved} secrets re-wrapped");
        return Ok(());
    }
    let mut config = ServerConfig::new(&args.state_dir);
    config.database_url = args.database_url;
    config.alibaba_endpoint = args.alibaba_endpoint;
    config.bootstrap_token = args.bootstrap_token.map(SecretString::from);
    config.master_key = args.master_key.map(SecretString::from);
    if args.no_worker {
        config.worker = None;
    }
    let server = Server::open(config)
        .await
        .context("starting the control plane")?;
    let boot = server.bootstrap().clone();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!(
        "ackctl server: http://{addr} (state in {})",
        args.state_dir.display()
    );
    if boot.created {
        match &boot.token_file {
            Some(path) => println!(
                "created organization {} and user admin; the admin token is in {} (mode 0600)",
                boot.org_id,
                path.display()
            ),
            None => println!(
                "created organization {} and user admin with the given bootstrap token",
                boot.org_id
            ),
        }
    }
    tokio::select! {
        result = server.serve(listener) => result.context("serving the API")?,
        _ = tokio::signal::ctrl_c() => println!("interrupted; stopping"),
    }
    Ok(())
}
