//! API bench: latency (p50/p99) and throughput of GET cluster and list clusters with many
//! clusters stored, and the wall time from `POST …/clusters` (seed 000's body) to RUNNING on an
//! in-process emulator with zero delays.
//!
//! ```text
//! cargo run --release -p server --example server-bench -- [CLUSTERS] [REQUESTS] [CONCURRENCY] [postgres://…]
//! ```
//! Defaults: 10000 clusters, 5000 requests, 16 concurrent. The SQLite database lives in a
//! temporary directory (on /dev/shm when there is one, to measure the server rather than the
//! disk's fsync); pass a PostgreSQL URL to bench that instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aliyun_emu::{Config, Emulator, SystemClock};
use secrecy::SecretString;
use serde_json::json;
use server::{Server, ServerConfig, WorkerOptions};
use store::{ClusterStatus, NewCluster, NewNodePool, OrgId};

const TOKEN: &str = "bench-admin-token-0123456789abcdef0123456789";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn hammer(
    http: &reqwest::Client,
    urls: Arc<Vec<String>>,
    requests: usize,
    concurrency: usize,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let http = http.clone();
        let urls = urls.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut i = worker;
            while i < requests {
                let url = &urls[i % urls.len()];
                let t = Instant::now();
                let r = http
                    .get(url)
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .expect("request");
                assert!(r.status().is_success(), "{url}: {}", r.status());
                let _ = r.bytes().await.expect("body");
                times.push(t.elapsed());
                i += concurrency;
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let wall = started.elapsed();
    all.sort();
    (all, wall)
}

fn report(what: &str, times: &[Duration], wall: Duration) {
    println!(
        "{what}: {} requests in {:.2}s = {:.0} req/s; p50 {:.2} ms, p99 {:.2} ms",
        times.len(),
        wall.as_secs_f64(),
        times.len() as f64 / wall.as_secs_f64(),
        percentile(times, 0.5).as_secs_f64() * 1e3,
        percentile(times, 0.99).as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let clusters: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let requests: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let concurrency: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(16);
    let database_url = args.get(3).cloned();

    let emulator = Emulator::new(
        Config {
            access_keys: vec!["benchid:benchsecret".parse().unwrap()],
            ..Config::default()
        },
        SystemClock,
    )
    .unwrap();
    let emu_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let emu_url = format!("http://{}", emu_listener.local_addr().unwrap());
    let emu = emulator.clone();
    tokio::spawn(async move { emu.serve(emu_listener).await });

    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let mut config = ServerConfig::new(dir.path());
    config.database_url = database_url.clone();
    config.alibaba_endpoint = Some(emu_url);
    config.bootstrap_token = Some(SecretString::from(TOKEN));
    config.worker = Some(WorkerOptions {
        poll: Duration::from_millis(5),
        idle: Duration::from_millis(20),
        ..WorkerOptions::default()
    });
    let server = Server::open(config).await.unwrap();
    let store = server.state().store.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = server.spawn(listener).unwrap();
    let base = running.url();
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    println!(
        "backend: {}; {clusters} clusters, {requests} requests, {concurrency} concurrent",
        if database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );

    let secret: serde_json::Value = http
        .post(format!("{base}/api/v1/orgs/1/secrets"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "s", "type": "alibaba", "values": {
            "ALIBABA_ACCESS_KEY_ID": "benchid", "ALIBABA_ACCESS_KEY_SECRET": "benchsecret"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret_id = secret["id"].as_str().unwrap().to_owned();

    // Stored directly: the bench is of reads, not of 10,000 cloud creates.
    let started = Instant::now();
    let mut ids = Vec::with_capacity(clusters);
    let spec = json!({"distribution": "ack", "regionId": "eu-central-1", "zoneId": "eu-central-1a",
                      "masters": {"count": 3, "instanceType": "ecs.sn1ne.large", "systemDiskCategory": "cloud_efficiency"}});
    let pool = json!({"instanceType": "ecs.sn1ne.large", "count": 1, "image": "centos_7",
                      "systemDiskCategory": "cloud_efficiency"});
    for i in 0..clusters {
        let (c, _) = store
            .create_cluster(
                NewCluster {
                    org_id: OrgId(1),
                    name: format!("stored-{i}"),
                    cloud: "alibaba".into(),
                    location: "eu-central-1".into(),
                    secret_id: Some(secret_id.parse().unwrap()),
                    spec: spec.clone(),
                    status: ClusterStatus::Running,
                    status_message: "cluster is running".into(),
                    node_pools: vec![NewNodePool {
                        name: "pool1".into(),
                        spec: pool.clone(),
                        status: ClusterStatus::Running,
                    }],
                },
                jiff::Timestamp::now(),
            )
            .await
            .unwrap();
        ids.push(c.id.0);
    }
    println!(
        "stored {clusters} clusters in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // Warm the connections, then measure.
    let one = Arc::new(vec![format!("{base}/api/v1/orgs/1/clusters/{}", ids[0])]);
    hammer(&http, one, concurrency * 4, concurrency).await;
    let step = (ids.len() / 997).max(1);
    let get_urls: Arc<Vec<String>> = Arc::new(
        ids.iter()
            .step_by(step)
            .map(|id| format!("{base}/api/v1/orgs/1/clusters/{id}"))
            .collect(),
    );
    let (times, wall) = hammer(&http, get_urls, requests, concurrency).await;
    report("GET cluster", &times, wall);
    let list_urls: Arc<Vec<String>> = Arc::new(
        ids.iter()
            .step_by(step)
            .map(|id| format!("{base}/api/v1/orgs/1/clusters?after={id}&limit=100"))
            .collect(),
    );
    let (times, wall) = hammer(&http, list_urls, requests / 5, concurrency).await;
    report("list clusters (pages of 100)", &times, wall);

    // Seed 000's create, to RUNNING, a few times.
    let mut walls = Vec::new();
    for i in 0..5 {
        let t = Instant::now();
        let body = json!({"name": format!("bench-{i}"), "location": "eu-central-1", "cloud": "alibaba",
            "secretId": secret_id, "properties": {"acsk": {"regionId": "eu-central-1", "zoneId": "eu-central-1a",
            "masterInstanceType": "ecs.sn1ne.large", "masterSystemDiskCategory": "cloud_efficiency",
            "nodePools": {"pool1": {"count": 1, "image": "centos_7", "instanceType": "ecs.sn1ne.large",
            "systemDiskCategory": "cloud_efficiency"}}}}});
        let created: serde_json::Value = http
            .post(format!("{base}/api/v1/orgs/1/clusters"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["id"].as_i64().expect("created");
        loop {
            let c: serde_json::Value = http
                .get(format!("{base}/api/v1/orgs/1/clusters/{id}"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if c["status"] == "RUNNING" {
                break;
            }
            assert_ne!(c["status"], "ERROR", "{c}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        walls.push(t.elapsed());
    }
    walls.sort();
    println!(
        "create cluster (seed 000) to RUNNING on the emulator: median {:.0} ms, max {:.0} ms over {} runs",
        percentile(&walls, 0.5).as_secs_f64() * 1e3,
        walls[walls.len() - 1].as_secs_f64() * 1e3,
        walls.len()
    );
    running.stop();
}
