//! Store figures for the control plane's hot paths, on SQLite by default:
//!
//! ```text
//! cargo run --release -p store --example store-bench            # SQLite in a temporary directory
//! cargo run --release -p store --example store-bench -- URL     # any store URL (postgres://… too)
//! ```
//!
//! Inserts 10,000 clusters (each with one node pool, one transaction each, as the API does),
//! then reads them by id in random order, walks the listing page by page, and authenticates a
//! token, printing throughput and p50/p99 latencies.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use secrecy::ExposeSecret;
use serde_json::json;
use store::{ClusterStatus, NewCluster, NewNodePool, Role, Store};

const CLUSTERS: usize = 10_000;
const READS: usize = 10_000;
const PAGE: u32 = 100;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let total: Duration = samples.iter().sum();
    println!(
        "{what:<34} n={:<6} p50={:>8.1?} p99={:>8.1?} max={:>8.1?} ({:.0}/s on one task)",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples.last().copied().unwrap_or_default(),
        samples.len() as f64 / total.as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| Store::sqlite_url(dir.path()));
    let store = Store::open(&url).await?;
    println!("store: {:?} ({url})", store.backend());
    let now = Timestamp::now();
    let org = store
        .create_org(&format!("bench-{}", now.as_millisecond()), now)
        .await?;
    let user = store
        .create_user(&format!("bench-{}", now.as_millisecond()), now)
        .await?;
    store.add_member(org.id, user.id, Role::Admin, now).await?;
    let (_, token) = store.create_token(user.id, "bench", None, now).await?;

    let mut inserts = Vec::with_capacity(CLUSTERS);
    let mut ids = Vec::with_capacity(CLUSTERS);
    let started = Instant::now();
    for i in 0..CLUSTERS {
        let new = NewCluster {
            org_id: org.id,
            name: format!("cluster-{i:05}"),
            cloud: "alibaba".into(),
            location: "eu-central-1".into(),
            secret_id: None,
            spec: json!({"acsk": {"regionId": "eu-central-1", "zoneId": "eu-central-1a",
                        "masterInstanceType": "ecs.sn1ne.large", "masterSystemDiskCategory": "cloud_efficiency"}}),
            status: ClusterStatus::Creating,
            status_message: String::new(),
            node_pools: vec![NewNodePool {
                name: "pool1".into(),
                spec: json!({"count": 1, "image": "centos_7", "instanceType": "ecs.sn1ne.large"}),
                status: ClusterStatus::Creating,
            }],
        };
        let t = Instant::now();
        let (cluster, _) = store.create_cluster(new, now).await?;
        inserts.push(t.elapsed());
        ids.push(cluster.id);
    }
    let insert_wall = started.elapsed();
    println!(
        "inserted {CLUSTERS} clusters (+1 node pool each) in {insert_wall:.2?}: {:.0} clusters/s",
        CLUSTERS as f64 / insert_wall.as_secs_f64()
    );
    report("create_cluster", inserts);

    // A fixed-seed shuffle so runs are comparable.
    let mut order: Vec<usize> = (0..READS).map(|i| i % CLUSTERS).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..order.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let mut gets = Vec::with_capacity(READS);
    for i in order {
        let t = Instant::now();
        let c = store.get_cluster(org.id, ids[i]).await?;
        gets.push(t.elapsed());
        assert_eq!(c.id, ids[i]);
    }
    report("get_cluster by id", gets);

    let mut pages = Vec::new();
    let mut seen = 0;
    let mut after = None;
    let walk = Instant::now();
    loop {
        let t = Instant::now();
        let page = store.list_clusters(org.id, after, PAGE).await?;
        pages.push(t.elapsed());
        seen += page.clusters.len();
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, CLUSTERS);
    println!(
        "listed all {seen} clusters in pages of {PAGE} in {:.2?}",
        walk.elapsed()
    );
    report(&format!("list_clusters page of {PAGE}"), pages);

    let mut auth = Vec::with_capacity(READS);
    for i in 0..READS {
        let t = Instant::now();
        let who = store
            .authenticate(token.expose_secret(), now + Duration::from_millis(i as u64))
            .await?;
        auth.push(t.elapsed());
        assert!(who.is_some());
    }
    report("authenticate bearer token", auth);
    store.close().await;
    Ok(())
}
