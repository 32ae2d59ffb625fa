//! `ackctl up`: the whole system on one machine — the emulated Alibaba Cloud and the control
//! plane server in one process, state under one directory — and seed 000's walkthrough for a
//! newcomer: register credentials, create the cluster, wait, write the kubeconfig, list nodes.
//!
//! ```text
//!  ackctl up ──▶ emulator (cloud + clusters' Kubernetes APIs) ◀── server (REST API, worker)
//!      │                                                             ▲
//!      └──────── the walkthrough, as REST calls a user would make ───┘
//! ```
//!
//! Running it again reuses the state: the secret and the cluster are found by name, not made
//! twice.

use crate::emulator::ServeArgs;
use crate::files::write_private;
use crate::kube_table;
use crate::rest::{ApiClient, Cluster};
use aliyun_emu::{Emulator, SystemClock};
use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use secrecy::SecretString;
use serde_json::json;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of `ackctl up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Directory for all local state: the emulated cloud, the server's SQLite database and
    /// master key, the admin token and the kubeconfig. Created if missing; reused if present.
    #[arg(long, env = "ACKCTL_STATE_DIR", default_value = ".ackctl")]
    pub state_dir: PathBuf,

    /// Address of the REST API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Address of the emulated Alibaba Cloud, which also serves the clusters' Kubernetes APIs.
    #[arg(long, default_value = "127.0.0.1:9100")]
    pub emulator_listen: String,

    /// Name of the walkthrough's cluster.
    #[arg(long, default_value = "alibabacluster-demo")]
    pub cluster_name: String,

    /// Stop after the walkthrough instead of serving until interrupted.
    #[arg(long)]
    pub once: bool,
}

/// The organisation a fresh server creates.
const ORG: i64 = 1;
const SECRET_NAME: &str = "my-alibaba-secret";
/// Seed 000's cluster: 3 masters and one worker.
const EXPECTED_NODES: usize = 4;
const WAIT_LIMIT: Duration = Duration::from_secs(600);

/// Runs `ackctl up`.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let dir = &args.state_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;

    let emulator_args = ServeArgs::with_state(&args.emulator_listen, dir.join("emulator"));
    let emulator = Emulator::new(emulator_args.config(), SystemClock)?;
    let emulator_listener = tokio::net::TcpListener::bind(&args.emulator_listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.emulator_listen))?;
    let emulator_url = format!("http://{}", emulator_listener.local_addr()?);
    let served = emulator.clone();
    tokio::spawn(async move { served.serve(emulator_listener).await });

    let token_path = dir.join("admin.token");
    let token = admin_token(&token_path)?;
    let mut config = server::ServerConfig::new(dir.join("server"));
    config.alibaba_endpoint = Some(emulator_url.clone());
    config.bootstrap_token = Some(SecretString::from(token.clone()));
    let server = server::Server::open(config).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let running = server.spawn(listener)?;
    let api_url = running.url();
    println!(
        "ackctl server   {api_url}   (admin token in {})",
        token_path.display()
    );
    println!(
        "emulated cloud  {emulator_url}   (state in {})",
        dir.display()
    );

    let api = ApiClient::new(&api_url, &token);
    let kubeconfig_path = walkthrough(&api, &args, &emulator_url, &token_path)
        .await
        .context("the walkthrough failed; the servers stopped")?;
    print_next_steps(&api_url, &emulator_url, &token_path, &kubeconfig_path);
    if args.once {
        running.stop();
        return Ok(());
    }
    println!("\nServing until interrupted (Ctrl-C).");
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    running.stop();
    Ok(())
}

async fn walkthrough(
    api: &ApiClient,
    args: &UpArgs,
    emulator_url: &str,
    token_path: &Path,
) -> anyhow::Result<PathBuf> {
    step("Registering the Alibaba Cloud credentials as a secret (POST /api/v1/orgs/1/secrets)");
    let existing = api.secrets(ORG).await.with_context(|| {
        format!(
            "the server refused the admin token; if {} is from another installation, remove {} and run again",
            token_path.display(),
            args.state_dir.display()
        )
    })?;
    let secret = match existing.into_iter().find(|s| s.name == SECRET_NAME) {
        Some(secret) => secret,
        None => {
            api.create_secret(
                ORG,
                &json!({
                    "name": SECRET_NAME,
                    "type": "alibaba",
                    "values": {
                        "ALIBABA_ACCESS_KEY_ID": aliyun_emu::DEFAULT_ACCESS_KEY_ID,
                        "ALIBABA_ACCESS_KEY_SECRET": aliyun_emu::DEFAULT_ACCESS_KEY_SECRET,
                    },
                }),
            )
            .await?
        }
    };
    println!(
        "  secret {} ({}), verified against {emulator_url}",
        secret.id, secret.name
    );

    step(&format!(
        "Creating cluster {} with 3 masters and node pool pool1 of 1 worker (POST /api/v1/orgs/1/clusters)",
        args.cluster_name
    ));
    let clusters = api.clusters::<Cluster>(ORG).await?;
    let id = match clusters.iter().find(|c| c.name == args.cluster_name) {
        Some(c) => {
            println!(
                "  found from an earlier run: cluster {} is {}",
                c.id, c.status
            );
            c.id
        }
        None => {
            let accepted = api
                .create_cluster(ORG, &seed_cluster(&args.cluster_name, &secret.id))
                .await?;
            println!(
                "  cluster {} (operation {})",
                accepted.id, accepted.operation_id
            );
            accepted.id
        }
    };
    let cluster = wait_running(api, id).await?;

    step(&format!(
        "Fetching the kubeconfig (GET /api/v1/orgs/1/clusters/{}/config)",
        cluster.id
    ));
    let kubeconfig = api.kubeconfig(ORG, cluster.id).await?;
    let path = args.state_dir.join(format!("{}.kubeconfig", cluster.name));
    write_private(&path, &kubeconfig)?;
    println!("  written to {}", path.display());

    step("kubectl get nodes");
    let client = kube_table::client(&kubeconfig).await?;
    let nodes = wait_nodes_ready(&client).await?;
    println!("{}", kube_table::render(&nodes));
    Ok(path)
}

/// Seed 000's create-cluster body, as the user typed it.
fn seed_cluster(name: &str, secret_id: &str) -> serde_json::Value {
    json!({
        "name": name,
        "location": "eu-central-1",
        "cloud": "alibaba",
        "secretId": secret_id,
        "properties": {
            "acsk": {
                "regionId": "eu-central-1",
                "zoneId": "eu-central-1a",
                "masterInstanceType": "ecs.sn1ne.large",
                "masterSystemDiskCategory": "cloud_efficiency",
                "nodePools": {
                    "pool1": {
                        "count": 1,
                        "image": "centos_7",
                        "instanceType": "ecs.sn1ne.large",
                        "systemDiskCategory": "cloud_efficiency",
                    }
                }
            }
        }
    })
}

/// Shows `message` on the spinner; without a terminal (the spinner is hidden) prints it as a
/// line when it changes, so logs and CI still show progress.
fn progress(bar: &ProgressBar, last: &mut String, message: String) {
    if bar.is_hidden() && message != *last {
        println!("  {:>4} s  {message}", bar.elapsed().as_secs());
    }
    bar.set_message(message.clone());
    *last = message;
}

fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("  {spinner} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Waits, with a spinner showing the server's status, until the cluster runs.
async fn wait_running(api: &ApiClient, id: i64) -> anyhow::Result<Cluster> {
    let (bar, mut last) = (spinner(), String::new());
    let started = Instant::now();
    loop {
        let cluster = api.cluster(ORG, id).await?;
        let message = format!("{} {}", cluster.status, cluster.status_message);
        progress(&bar, &mut last, message.trim_end().to_owned());
        match cluster.status.as_str() {
            "RUNNING" => {
                bar.finish_with_message(format!(
                    "RUNNING (ACK cluster {})",
                    cluster.cloud_cluster_id.as_deref().unwrap_or("?")
                ));
                return Ok(cluster);
            }
            "ERROR" => {
                bar.abandon();
                anyhow::bail!(
                    "cluster {} failed: {}; see GET /api/v1/orgs/1/clusters/{}/events",
                    cluster.name,
                    cluster.status_message,
                    cluster.id
                );
            }
            _ => {}
        }
        if started.elapsed() > WAIT_LIMIT {
            bar.abandon();
            anyhow::bail!(
                "cluster {} is still {} after {} s",
                cluster.name,
                cluster.status,
                WAIT_LIMIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until every node of the seed's cluster has registered and is Ready.
async fn wait_nodes_ready(client: &kube::Client) -> anyhow::Result<serde_json::Value> {
    let (bar, mut last) = (spinner(), String::new());
    let started = Instant::now();
    loop {
        let table = kube_table::get(client, "/api/v1/nodes").await?;
        let rows = kube_table::rows(&table);
        let ready = rows
            .iter()
            .filter(|r| r.get(1).is_some_and(|s| s == "Ready"))
            .count();
        progress(
            &bar,
            &mut last,
            format!("{ready}/{EXPECTED_NODES} nodes Ready"),
        );
        if ready == EXPECTED_NODES && rows.len() == EXPECTED_NODES {
            bar.finish_and_clear();
            return Ok(table);
        }
        if started.elapsed() > WAIT_LIMIT {
            bar.abandon();
            anyhow::bail!("only {ready} of {EXPECTED_NODES} nodes became Ready");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn print_next_steps(api_url: &str, emulator_url: &str, token_path: &Path, kubeconfig: &Path) {
    step("Next");
    println!("  export KUBECONFIG={}", kubeconfig.display());
    println!("  kubectl get pods --all-namespaces");
    println!("  kubectl create deployment web --image=nginx --replicas=3");
    println!(
        "  curl -H \"Authorization: Bearer $(cat {})\" {api_url}/api/v1/orgs/1/clusters",
        token_path.display()
    );
    println!(
        "  ackctl get clusters --region eu-central-1 --alibaba-endpoint {emulator_url}   (the cloud's view)"
    );
}

fn step(text: &str) {
    println!("\n▸ {text}");
}

/// The admin token kept in `path`, or a new random one written there (mode 0600).
fn admin_token(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let bytes: [u8; 32] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(path, &token)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_token_is_made_once_private_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.token");
        let first = admin_token(&path).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(admin_token(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
