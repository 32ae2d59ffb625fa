//! `ackctl autoscaler bench`: the autoscaler's loop measured at issue 7's scale (1,000 nodes,
//! 30,000 pods) on the emulators, end to end: an in-process emulator serves an ACK cluster whose
//! pools are ESS groups and whose Kubernetes side (scheduler, controllers, kubelets) runs the
//! pods; the controller reaches both over loopback exactly as `autoscaler run` would.
//!
//! ```text
//!  setup:   CS CreateCluster (P pools × N/P nodes) ─▶ nodes register ─▶ Deployments of small
//!           pods (the scheduler binds, kubelets start them) ─▶ one Deployment that does not fit
//!  measure: Autoscaler::start (reflectors list) ─▶ run_once × L:
//!           refresh (ESS calls) + snapshot + plan + execute (ScaleWithAdjustment) + status
//! ```

use std::time::{Duration, Instant};

use aliyun::cs::{
    AutoScalingSpec, CreateClusterRequest, NodePoolInfoSpec, NodePoolSpec, ScalingGroupSpec,
};
use aliyun::{Client, Credentials};
use anyhow::Context;
use clap::Args;
use cloud::node_groups::{Discovery, EssNodeGroups, EssOptions};
use controllers::autoscaler::{Autoscaler, Config, LoopReport, Metrics};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

const REGION: &str = "cn-hangzhou";
const ZONE: &str = "cn-hangzhou-k";
const WORKER_TYPE: &str = "ecs.g7.xlarge";
/// Replicas per Deployment of the running pods.
const REPLICAS_PER_DEPLOYMENT: u32 = 300;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Registered nodes, spread over --pools auto-scaling node pools (each may double).
    #[arg(long, default_value_t = 1000)]
    nodes: u32,

    /// Running pods per node (100m cpu, 128Mi each), from Deployments of 300 replicas.
    #[arg(long, default_value_t = 30)]
    pods_per_node: u32,

    /// Pending pods (1 cpu each) that fit no node, so the first loop has a scale-up to carry out.
    #[arg(long, default_value_t = 1000)]
    pending: u32,

    #[arg(long, default_value_t = 10)]
    pools: u32,

    /// Loops to measure.
    #[arg(long, default_value_t = 3)]
    loops: u32,
}

pub async fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.pools > 0 && args.nodes >= args.pools,
        "--nodes must be at least --pools"
    );
    let setup = Instant::now();
    let config = aliyun_emu::Config {
        settings: aliyun_emu::Settings {
            kube: aliyun_emu::KubeTiming::instant(),
            ..aliyun_emu::Settings::default()
        },
        ..aliyun_emu::Config::default()
    };
    let emulator = aliyun_emu::Emulator::new(config, aliyun_emu::SystemClock)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let served = emulator.clone();
    tokio::spawn(async move { served.serve(listener).await });
    let cloud = Client::builder()
        .credentials(Credentials::new(
            aliyun_emu::DEFAULT_ACCESS_KEY_ID,
            aliyun_emu::DEFAULT_ACCESS_KEY_SECRET,
        ))
        .region(REGION)
        .endpoint(&url)
        .build()?;

    let per_pool = args.nodes / args.pools;
    let nodes = per_pool * args.pools;
    let cluster_id = create_cluster(&cloud, args.pools, per_pool).await?;
    let kubeconfig = cloud
        .cs()
        .describe_cluster_user_kubeconfig(&cluster_id, false, None)
        .await?
        .config;
    let kube = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::from_yaml(&kubeconfig)?,
            &Default::default(),
        )
        .await?,
    )?;
    wait("nodes to register", Duration::from_secs(300), || async {
        Ok(Api::<Node>::all(kube.clone())
            .list(&ListParams::default())
            .await?
            .items
            .len()
            >= nodes as usize)
    })
    .await?;
    eprintln!(
        "setup: cluster {cluster_id} with {nodes} nodes in {} pools after {:.1} s",
        args.pools,
        setup.elapsed().as_secs_f64()
    );

    let running = nodes * args.pods_per_node;
    let deployments = running.div_ceil(REPLICAS_PER_DEPLOYMENT);
    for d in 0..deployments {
        let replicas = REPLICAS_PER_DEPLOYMENT.min(running - d * REPLICAS_PER_DEPLOYMENT);
        deploy(&kube, &format!("app-{d:03}"), replicas, "100m").await?;
    }
    let pods: Api<Pod> = Api::namespaced(kube.clone(), "default");
    wait(
        "the running pods to start",
        Duration::from_secs(600),
        || async {
            let list = pods.list(&ListParams::default()).await?;
            Ok(list
                .items
                .iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .count()
                >= running as usize)
        },
    )
    .await?;
    deploy(&kube, "pending", args.pending, "1").await?;
    wait(
        "the pending pods to be found unschedulable",
        Duration::from_secs(300),
        || async {
            let list = pods
                .list(&ListParams::default().labels("app=pending"))
                .await?;
            Ok(list
                .items
                .iter()
                .filter(|p| controllers::autoscaler::controller::pending_for_autoscaler(p))
                .count()
                >= args.pending as usize)
        },
    )
    .await?;
    eprintln!(
        "setup: {running} running pods in {deployments} Deployments and {} pending pods after {:.1} s",
        args.pending,
        setup.elapsed().as_secs_f64()
    );

    let groups = EssNodeGroups::new(
        cloud.clone(),
        EssOptions {
            discovery: vec![Discovery::AckCluster(cluster_id.clone())],
            ..EssOptions::default()
        },
    )?;
    let t = Instant::now();
    let mut autoscaler = Autoscaler::start(
        kube.clone(),
        groups,
        Config::default(),
        std::sync::Arc::new(Metrics::new()),
        Duration::from_secs(300),
    )
    .await?;
    println!(
        "autoscaler start (reflectors list nodes, pods, PDBs, ConfigMaps): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    for i in 1..=args.loops {
        let report = autoscaler.run_once(jiff::Timestamp::now()).await?;
        print_loop(i, &report);
    }
    Ok(())
}

fn print_loop(i: u32, r: &LoopReport) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pending = r.plan.summary.pending_pods;
    println!(
        "loop {i}: {} nodes, {} pods ({pending} pending), {} groups | refresh {:.1} ms \
         ({} describe calls) | snapshot {:.1} ms | plan {:.1} ms | execute {:.1} ms ({} mutating \
         calls, +{} nodes) | status {:.1} ms | total {:.1} ms",
        r.nodes,
        r.pods,
        r.groups,
        ms(r.refresh),
        r.calls.describe,
        ms(r.snapshot),
        ms(r.plan_time),
        ms(r.execute),
        r.calls.mutate,
        r.outcome.nodes_added,
        ms(r.status),
        ms(r.total()),
    );
}

async fn create_cluster(cloud: &Client, pools: u32, per_pool: u32) -> anyhow::Result<String> {
    let request = CreateClusterRequest {
        name: "autoscaler-bench".into(),
        region_id: REGION.into(),
        cluster_type: "ManagedKubernetes".into(),
        vswitch_ids: vec![aliyun_emu::vpc::default_vswitch_id(ZONE)],
        nodepools: (0..pools)
            .map(|p| NodePoolSpec {
                nodepool_info: NodePoolInfoSpec {
                    name: Some(format!("pool-{p:02}")),
                },
                scaling_group: ScalingGroupSpec {
                    instance_types: Some(vec![WORKER_TYPE.into()]),
                    desired_size: Some(per_pool),
                    ..ScalingGroupSpec::default()
                },
                auto_scaling: Some(AutoScalingSpec {
                    enable: true,
                    min_instances: Some(per_pool),
                    max_instances: Some(per_pool * 2),
                }),
                ..NodePoolSpec::default()
            })
            .collect(),
        ..CreateClusterRequest::default()
    };
    let id = cloud.cs().create_cluster(&request).await?.cluster_id;
    wait("the cluster to run", Duration::from_secs(300), || async {
        Ok(cloud.cs().describe_cluster_detail(&id).await?.state == "running")
    })
    .await?;
    Ok(id)
}

async fn deploy(kube: &kube::Client, name: &str, replicas: u32, cpu: &str) -> anyhow::Result<()> {
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx",
                                       "resources": {"requests": {"cpu": cpu, "memory": "128Mi"}}}]}}}
    }))?;
    Api::<Deployment>::namespaced(kube.clone(), "default")
        .create(&PostParams::default(), &deployment)
        .await
        .with_context(|| format!("creating Deployment {name}"))?;
    Ok(())
}

async fn wait<F, Fut>(what: &str, limit: Duration, mut done: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if done().await? {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "gave up after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
