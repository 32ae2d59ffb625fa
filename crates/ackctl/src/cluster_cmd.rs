//! The eksctl-style commands that drive an ackctl server: `create cluster|secret`,
//! `delete cluster`, `scale nodepool`, `write-kubeconfig`. Clusters are named as the user
//! named them; waits show the server's status and message with the elapsed time; failures say
//! what failed and what to do next.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::cluster_config::{self, ClusterConfig, Masters, Metadata, NodePool};
use crate::rest::ApiClient;

/// Where the server is and who is calling.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// The ackctl server's URL (default http://127.0.0.1:8080, where `ackctl up` serves). For
    /// `ackctl get`, giving it (or ACKCTL_SERVER) asks the server instead of the cloud.
    #[arg(long, env = "ACKCTL_SERVER", global = true)]
    server: Option<String>,
    /// API token; default: ACKCTL_TOKEN, else the one `ackctl up` keeps in its state directory.
    #[arg(long, env = "ACKCTL_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// The state directory of `ackctl up`, where its admin token is.
    #[arg(
        long,
        env = "ACKCTL_STATE_DIR",
        default_value = ".ackctl",
        global = true
    )]
    state_dir: PathBuf,
    /// Organisation id.
    #[arg(long, default_value_t = 1, global = true)]
    org: i64,
}

/// Where `ackctl up` serves the API.
const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

impl Connection {
    /// Whether a server was named (`--server` or ACKCTL_SERVER).
    pub fn named(&self) -> bool {
        self.server.is_some()
    }

    /// The organisation the commands work in.
    pub fn org(&self) -> i64 {
        self.org
    }

    /// A client of the server with the caller's token.
    pub fn client(&self) -> anyhow::Result<ApiClient> {
        let token = match &self.token {
            Some(t) => t.clone(),
            None => {
                let path = self.state_dir.join("admin.token");
                std::fs::read_to_string(&path)
                    .with_context(|| {
                        format!(
                            "no token: pass --token or set ACKCTL_TOKEN (or run `ackctl up`, which keeps one in {})",
                            path.display()
                        )
                    })?
                    .trim()
                    .to_owned()
            }
        };
        Ok(ApiClient::new(
            self.server.as_deref().unwrap_or(DEFAULT_SERVER),
            &token,
        ))
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum, Default)]
pub enum Output {
    #[default]
    Table,
    Json,
    Yaml,
}

#[derive(Debug, clap::Subcommand)]
pub enum CreateCommand {
    /// Create a cluster from a ClusterConfig file (-f) or from flags, and wait until it runs.
    Cluster(CreateClusterArgs),
    /// Store Alibaba Cloud credentials as an `alibaba` secret (checked with the cloud first).
    Secret(CreateSecretArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateClusterArgs {
    #[command(flatten)]
    connection: Connection,
    /// A ClusterConfig file (YAML); flags fill only what it leaves out.
    #[arg(short = 'f', long)]
    config_file: Option<PathBuf>,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    zone: Option<String>,
    /// The name of the alibaba secret to create the cluster with.
    #[arg(long)]
    secret: Option<String>,
    /// Dedicated masters of this type (3); a managed control plane without it.
    #[arg(long)]
    master_type: Option<String>,
    /// The instance type of the node pool `--nodegroup-name`.
    #[arg(long)]
    node_type: Option<String>,
    #[arg(long, default_value = "pool1")]
    nodegroup_name: String,
    #[arg(long)]
    nodes: Option<u32>,
    #[arg(long)]
    nodes_min: Option<u32>,
    #[arg(long)]
    nodes_max: Option<u32>,
    /// Print the fully defaulted ClusterConfig (reusable with -f) and create nothing.
    #[arg(long)]
    dry_run: bool,
    /// Return once the server accepted the request instead of waiting for RUNNING.
    #[arg(long)]
    no_wait: bool,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Output,
}

#[derive(Debug, clap::Args)]
pub struct CreateSecretArgs {
    #[command(flatten)]
    connection: Connection,
    #[arg(long, default_value = "my-alibaba-secret")]
    name: String,
    #[arg(long, env = "ALIBABA_ACCESS_KEY_ID")]
    access_key_id: String,
    #[arg(long, env = "ALIBABA_ACCESS_KEY_SECRET", hide_env_values = true)]
    access_key_secret: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum DeleteCommand {
    /// Delete a cluster and everything it made in the cloud.
    Cluster(DeleteClusterArgs),
}

#[derive(Debug, clap::Args)]
pub struct DeleteClusterArgs {
    #[command(flatten)]
    connection: Connection,
    name: String,
    /// Wait until the cloud side is gone.
    #[arg(long)]
    wait: bool,
    /// Delete even while it is being created.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum ScaleCommand {
    /// Set a node pool's size (and autoscaling bounds).
    Nodepool(ScaleArgs),
}

#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    connection: Connection,
    /// The node pool.
    name: String,
    #[arg(long)]
    cluster: String,
    #[arg(short = 'N', long)]
    nodes: Option<u32>,
    #[arg(long)]
    nodes_min: Option<u32>,
    #[arg(long)]
    nodes_max: Option<u32>,
    #[arg(long)]
    no_wait: bool,
}

#[derive(Debug, clap::Args)]
pub struct WriteKubeconfigArgs {
    #[command(flatten)]
    connection: Connection,
    /// The cluster.
    name: String,
    /// Where to write it; default ./NAME.kubeconfig.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
}

/// The ClusterConfig the flags and the file describe, defaulted.
fn cluster_config(args: &CreateClusterArgs) -> anyhow::Result<ClusterConfig> {
    let mut c = match &args.config_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            cluster_config::parse(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => ClusterConfig {
            metadata: Metadata::default(),
            ..ClusterConfig::default()
        },
    };
    let fill = |slot: &mut String, flag: &Option<String>| {
        if slot.is_empty()
            && let Some(v) = flag
        {
            *slot = v.clone();
        }
    };
    fill(&mut c.metadata.name, &args.name);
    fill(&mut c.metadata.region, &args.region);
    fill(&mut c.zone, &args.zone);
    fill(&mut c.secret, &args.secret);
    if c.masters.is_none()
        && let Some(t) = &args.master_type
    {
        c.masters = Some(Masters {
            count: None,
            instance_type: t.clone(),
            system_disk_category: None,
        });
    }
    if c.node_pools.is_empty()
        && let Some(t) = &args.node_type
    {
        c.node_pools.push(NodePool {
            name: args.nodegroup_name.clone(),
            instance_type: t.clone(),
            count: args.nodes,
            min_count: args.nodes_min,
            max_count: args.nodes_max,
            ..NodePool::default()
        });
    }
    cluster_config::defaulted(c)
}

async fn find_cluster(api: &ApiClient, org: i64, name: &str) -> anyhow::Result<i64> {
    Ok(cluster_named(api, org, name).await?.id)
}

/// The cluster called `name`, or an error that says how to list them.
pub async fn cluster_named(
    api: &ApiClient,
    org: i64,
    name: &str,
) -> anyhow::Result<crate::rest::Cluster> {
    api.clusters::<crate::rest::Cluster>(org)
        .await?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| anyhow::anyhow!("organization {org} has no cluster named {name:?} (list them with `ackctl get clusters --server URL`)"))
}

/// Polls the cluster until it reaches one of `done`, showing its status, message and the
/// elapsed time. ERROR ends the wait with the cluster's message and last events.
async fn wait_for(api: &ApiClient, org: i64, id: i64, done: &[&str]) -> anyhow::Result<Value> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed:>4}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let path = format!("/api/v1/orgs/{org}/clusters/{id}");
    let mut last = String::new();
    loop {
        let c: Value = api.json(Method::GET, &path, None).await?;
        let status = c["status"].as_str().unwrap_or("?").to_owned();
        let line = format!("{status}: {}", c["statusMessage"].as_str().unwrap_or(""));
        if line != last {
            if !bar.is_hidden() {
                bar.set_message(line.clone());
            } else {
                eprintln!("  {:>4} s  {line}", started.elapsed().as_secs());
            }
            last = line;
        }
        if done.contains(&status.as_str()) {
            bar.finish_and_clear();
            return Ok(c);
        }
        if status == "ERROR" {
            bar.finish_and_clear();
            let events: Value = api
                .json(Method::GET, &format!("{path}/events"), None)
                .await
                .unwrap_or(Value::Null);
            let tail: Vec<String> = events
                .as_array()
                .map(|e| {
                    e.iter()
                        .rev()
                        .take(5)
                        .rev()
                        .map(|e| {
                            format!(
                                "  {} {}",
                                e["kind"].as_str().unwrap_or(""),
                                e["message"].as_str().unwrap_or("")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            anyhow::bail!(
                "cluster {} failed: {}\nlast events:\n{}\nto remove it: ackctl delete cluster {} --wait",
                c["name"].as_str().unwrap_or("?"),
                c["statusMessage"].as_str().unwrap_or(""),
                tail.join("\n"),
                c["name"].as_str().unwrap_or("NAME"),
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Prints a cluster as a table, JSON or YAML.
pub fn print_cluster(c: &Value, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Table => return print_clusters(std::slice::from_ref(c), output),
        Output::Json => println!("{}", serde_json::to_string_pretty(c)?),
        Output::Yaml => print!("{}", serde_saphyr::to_string(c)?),
    }
    Ok(())
}

/// Prints clusters as one table, or as a JSON or YAML list.
pub fn print_clusters(clusters: &[Value], output: Output) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(clusters)?),
        Output::Yaml => print!("{}", serde_saphyr::to_string(&clusters)?),
        Output::Table => {
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::NOTHING);
            table.set_header([
                "NAME",
                "STATUS",
                "REGION",
                "ZONE",
                "MASTERS",
                "NODE POOLS",
                "CLOUD ID",
            ]);
            for c in clusters {
                let pools: Vec<String> = c["nodePools"]
                    .as_object()
                    .map(|p| {
                        p.iter()
                            .map(|(n, p)| {
                                format!(
                                    "{n}={}×{}",
                                    p["count"],
                                    p["instanceType"].as_str().unwrap_or("")
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                table.add_row([
                    c["name"].as_str().unwrap_or("").to_owned(),
                    c["status"].as_str().unwrap_or("").to_owned(),
                    c["region"].as_str().unwrap_or("").to_owned(),
                    c["zone"].as_str().unwrap_or("").to_owned(),
                    c["masters"]["count"]
                        .as_u64()
                        .map_or_else(|| "managed".to_owned(), |n| n.to_string()),
                    pools.join(","),
                    c["cloudClusterId"].as_str().unwrap_or("-").to_owned(),
                ]);
            }
            println!("{table}");
        }
    }
    Ok(())
}

pub async fn create(cmd: CreateCommand) -> anyhow::Result<()> {
    match cmd {
        CreateCommand::Cluster(args) => create_cluster(args).await,
        CreateCommand::Secret(args) => {
            let api = args.connection.client()?;
            let secret = api
                .create_secret(
                    args.connection.org,
                    &json!({"name": args.name, "type": "alibaba", "values": {
                        "ALIBABA_ACCESS_KEY_ID": args.access_key_id,
                        "ALIBABA_ACCESS_KEY_SECRET": args.access_key_secret}}),
                )
                .await?;
            println!("secret {:?} stored with id {}", secret.name, secret.id);
            Ok(())
        }
    }
}

async fn create_cluster(args: CreateClusterArgs) -> anyhow::Result<()> {
    let config = cluster_config(&args)?;
    if args.dry_run {
        print!("{}", serde_saphyr::to_string(&config)?);
        return Ok(());
    }
    let api = args.connection.client()?;
    let org = args.connection.org;
    let secret = api
        .secrets(org)
        .await?
        .into_iter()
        .find(|s| s.name == config.secret)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "organization {org} has no secret named {:?}; store one with `ackctl create secret --name {}`",
                config.secret,
                config.secret
            )
        })?;
    let accepted = api
        .create_cluster(org, &cluster_config::create_request(&config, &secret.id))
        .await?;
    eprintln!(
        "creating cluster {:?} in {} (id {}, operation {})",
        config.metadata.name, config.zone, accepted.id, accepted.operation_id
    );
    let c = if args.no_wait {
        api.json(
            Method::GET,
            &format!("/api/v1/orgs/{org}/clusters/{}", accepted.id),
            None,
        )
        .await?
    } else {
        let c = wait_for(&api, org, accepted.id, &["RUNNING"]).await?;
        eprintln!(
            "cluster {:?} is running; `ackctl write-kubeconfig {}` fetches its kubeconfig",
            config.metadata.name, config.metadata.name
        );
        c
    };
    print_cluster(&c, args.output)
}

pub async fn delete(cmd: DeleteCommand) -> anyhow::Result<()> {
    let DeleteCommand::Cluster(args) = cmd;
    let api = args.connection.client()?;
    let org = args.connection.org;
    let id = find_cluster(&api, org, &args.name).await?;
    let path = format!(
        "/api/v1/orgs/{org}/clusters/{id}{}",
        if args.force { "?force=true" } else { "" }
    );
    let _: Value = api.json(Method::DELETE, &path, None).await?;
    if args.wait {
        wait_for(&api, org, id, &["DELETED"]).await?;
        eprintln!("cluster {:?} and everything it made are deleted", args.name);
    } else {
        eprintln!(
            "deleting cluster {:?}; follow it with GET /api/v1/orgs/{org}/clusters/{id}",
            args.name
        );
    }
    Ok(())
}

pub async fn scale(cmd: ScaleCommand) -> anyhow::Result<()> {
    let ScaleCommand::Nodepool(args) = cmd;
    let api = args.connection.client()?;
    let org = args.connection.org;
    let id = find_cluster(&api, org, &args.cluster).await?;
    let body = json!({"count": args.nodes, "minCount": args.nodes_min, "maxCount": args.nodes_max});
    let _: Value = api
        .json(
            Method::PUT,
            &format!("/api/v1/orgs/{org}/clusters/{id}/nodepools/{}", args.name),
            Some(&body),
        )
        .await?;
    if !args.no_wait {
        wait_for(&api, org, id, &["RUNNING"]).await?;
    }
    eprintln!("node pool {} of {} scaled", args.name, args.cluster);
    Ok(())
}

pub async fn write_kubeconfig(args: WriteKubeconfigArgs) -> anyhow::Result<()> {
    let api = args.connection.client()?;
    let org = args.connection.org;
    let id = find_cluster(&api, org, &args.name).await?;
    let text = api.kubeconfig(org, id).await?;
    let path = args
        .kubeconfig
        .unwrap_or_else(|| PathBuf::from(format!("{}.kubeconfig", args.name)));
    crate::files::write_private(&path, &text)?;
    eprintln!(
        "wrote {}; use it with: export KUBECONFIG={}",
        path.display(),
        path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        create: CreateCommand,
    }

    fn parse_create(args: &[&str]) -> CreateClusterArgs {
        let mut all = vec!["x"];
        all.extend_from_slice(args);
        match Cli::parse_from(all).create {
            CreateCommand::Cluster(a) => a,
            CreateCommand::Secret(_) => panic!("not a cluster"),
        }
    }

    #[test]
    fn flags_alone_describe_the_seed_cluster() {
        let args = parse_create(&[
            "cluster",
            "--name",
            "demo",
            "--region",
            "eu-central-1",
            "--zone",
            "eu-central-1a",
            "--secret",
            "s",
            "--master-type",
            "ecs.sn1ne.large",
            "--node-type",
            "ecs.sn1ne.large",
            "--nodes",
            "1",
        ]);
        let c = cluster_config(&args).unwrap();
        assert_eq!(c.masters.unwrap().count, Some(3));
        assert_eq!(c.node_pools[0].name, "pool1");
        assert_eq!(c.node_pools[0].count, Some(1));
    }

    #[test]
    fn a_missing_zone_is_named() {
        let args = parse_create(&[
            "cluster",
            "--name",
            "d",
            "--region",
            "r",
            "--secret",
            "s",
            "--node-type",
            "ecs.g7.large",
        ]);
        assert_eq!(
            cluster_config(&args).unwrap_err().to_string(),
            "zone is required"
        );
    }
}
