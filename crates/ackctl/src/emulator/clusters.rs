//! Clusters a served emulator starts with (`--cluster NAME`): created through the emulator's own
//! CS API exactly as any client would create them, then their kubeconfigs written to files that
//! kubectl, the Python client or kube-rs can use at once.

use crate::files::write_private;
use aliyun::cs::{CreateClusterRequest, NodePoolInfoSpec, NodePoolSpec, ScalingGroupSpec};
use aliyun::{Client, Credentials};
use aliyun_emu::AccessKey;
use anyhow::Context as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const REGION: &str = "cn-hangzhou";
const ZONE: &str = "cn-hangzhou-k";
const WORKER_TYPE: &str = "ecs.g7.xlarge";
/// Generous: the emulator's timings are flags, and a slow machine should not fail startup.
const READY_WITHIN: Duration = Duration::from_secs(300);

/// Creates each cluster, waits until it runs, writes `<dir>/<name>.kubeconfig` and prints
/// `cluster NAME ready: kubeconfig PATH`. Returns at once when there are none.
pub async fn create(
    url: String,
    key: Option<AccessKey>,
    names: Vec<String>,
    workers: u32,
    dir: PathBuf,
) -> anyhow::Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let (id, secret) = key.map_or(
        (
            aliyun_emu::DEFAULT_ACCESS_KEY_ID.to_owned(),
            aliyun_emu::DEFAULT_ACCESS_KEY_SECRET.to_owned(),
        ),
        |k| (k.id, k.secret),
    );
    let client = Client::builder()
        .credentials(Credentials::new(id, secret))
        .region(REGION)
        .endpoint(&url)
        .build()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for name in names {
        let cluster_id = create_one(&client, &name, workers).await?;
        let kubeconfig = client
            .cs()
            .describe_cluster_user_kubeconfig(&cluster_id, false, None)
            .await?;
        let path = dir.join(format!("{name}.kubeconfig"));
        write_private(&path, &kubeconfig.config)?;
        // Scripts and tests wait for this line.
        println!("cluster {name} ready: kubeconfig {}", path.display());
        std::io::stdout().flush()?;
    }
    Ok(())
}

async fn create_one(client: &Client, name: &str, workers: u32) -> anyhow::Result<String> {
    let request = CreateClusterRequest {
        name: name.to_owned(),
        region_id: REGION.into(),
        cluster_type: "ManagedKubernetes".into(),
        vswitch_ids: vec![aliyun_emu::vpc::default_vswitch_id(ZONE)],
        nodepools: vec![NodePoolSpec {
            nodepool_info: NodePoolInfoSpec {
                name: Some("default-nodepool".into()),
            },
            scaling_group: ScalingGroupSpec {
                instance_types: Some(vec![WORKER_TYPE.into()]),
                desired_size: Some(workers),
                ..ScalingGroupSpec::default()
            },
            ..NodePoolSpec::default()
        }],
        ..CreateClusterRequest::default()
    };
    let cluster_id = client.cs().create_cluster(&request).await?.cluster_id;
    tracing::info!(%name, %cluster_id, "creating cluster");
    let started = Instant::now();
    loop {
        let cluster = client.cs().describe_cluster_detail(&cluster_id).await?;
        match cluster.state.as_str() {
            "running" => return Ok(cluster_id),
            "failed" => anyhow::bail!("cluster {name} ({cluster_id}) failed to create"),
            _ => {}
        }
        anyhow::ensure!(
            started.elapsed() < READY_WITHIN,
            "cluster {name} ({cluster_id}) was still {} after {} s",
            cluster.state,
            READY_WITHIN.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
