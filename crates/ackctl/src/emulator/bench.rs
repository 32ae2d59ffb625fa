//! `ackctl emulator bench`: how many signed DescribeInstances calls per second the emulator
//! serves on loopback, and what signing and verifying cost per request.
//!
//! The load comes from the real client (signing every request with a fresh nonce), so the
//! figure is end to end: sign, send, verify, handle, serialize, parse.

use aliyun::ecs::{DescribeInstancesRequest, RunInstancesRequest};
use aliyun::signer::{self, SignableRequest};
use aliyun_emu::{Config, Emulator, InstanceTiming, Settings, SystemClock};
use anyhow::Context as _;
use clap::Args;
use std::time::{Duration, Instant};

/// Options of the benchmark.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Requests to send after warm-up.
    #[arg(long, default_value_t = 100_000)]
    requests: usize,

    /// Requests in flight at once (one keep-alive connection each).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,

    /// Instances each DescribeInstances returns.
    #[arg(long, default_value_t = 10)]
    instances: u32,

    /// Benchmark an emulator that is already running at this URL (with the default key pair)
    /// instead of one started in this process.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
}

/// Runs the benchmark and prints its figures.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.requests > 0 && args.concurrency > 0, "--requests and --concurrency must be positive");
    let endpoint = match &args.target {
        Some(url) => url.clone(),
        None => {
            let config = Config { settings: Settings { timing: InstanceTiming::default(), ..Settings::default() }, ..Config::default() };
            let emulator = Emulator::new(config, SystemClock)?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let address = listener.local_addr()?;
            tokio::spawn(async move { emulator.serve(listener).await });
            format!("http://{address}")
        }
    };
    let client = aliyun::Client::builder()
        .credentials(aliyun::Credentials::new(aliyun_emu::DEFAULT_ACCESS_KEY_ID, aliyun_emu::DEFAULT_ACCESS_KEY_SECRET))
        .region("cn-hangzhou")
        .endpoint(endpoint.clone())
        .build()?;
    let created = client
        .ecs()
        .run_instances(&RunInstancesRequest {
            instance_type: "ecs.g7.large".into(),
            image_id: "aliyun_3_x64_20G_alibase_20240819.vhd".into(),
            vswitch_id: Some("vsw-cn-hangzhou-k".into()),
            security_group_id: Some("sg-bench".into()),
            amount: Some(args.instances),
            ..Default::default()
        })
        .await
        .context("creating the instances to describe")?;
    let request = DescribeInstancesRequest {
        instance_ids: created.instance_ids.clone(),
        page_size: Some(args.instances.max(10)),
        ..Default::default()
    };

    let warmup = (args.requests / 10).max(args.concurrency);
    drive(&client, &request, warmup, args.concurrency, args.instances as usize).await?;
    let started = Instant::now();
    let mut latencies = drive(&client, &request, args.requests, args.concurrency, args.instances as usize).await?;
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];

    println!("emulator: {endpoint}");
    println!(
        "DescribeInstances ({} instances): {} requests, concurrency {}, {:.2} s",
        args.instances,
        args.requests,
        args.concurrency,
        elapsed.as_secs_f64()
    );
    println!("  throughput: {:.0} signed requests/s", args.requests as f64 / elapsed.as_secs_f64());
    println!(
        "  latency: p50 {:?}, p99 {:?}, max {:?}",
        percentile(0.50),
        percentile(0.99),
        latencies.last().copied().unwrap_or_default()
    );
    let (sign, verify) = signer_cost();
    println!("signer (V3, per request): sign {sign:?}, parse + verify {verify:?}");
    client.ecs().delete_instances(&aliyun::ecs::DeleteInstancesRequest {
        instance_ids: created.instance_ids,
        force: Some(true),
        client_token: None,
    })
    .await?;
    Ok(())
}

async fn drive(
    client: &aliyun::Client,
    request: &DescribeInstancesRequest,
    total: usize,
    concurrency: usize,
    expected: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let share = total / concurrency + usize::from(worker < total % concurrency);
        let (client, request) = (client.clone(), request.clone());
        workers.spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let started = Instant::now();
                let page = client.ecs().describe_instances(&request).await?;
                latencies.push(started.elapsed());
                anyhow::ensure!(page.instances.len() == expected, "expected {expected} instances, got {}", page.instances.len());
            }
            Ok(latencies)
        });
    }
    let mut all = Vec::with_capacity(total);
    while let Some(joined) = workers.join_next().await {
        all.extend(joined??);
    }
    Ok(all)
}

/// Average time to sign, and to parse and verify, a DescribeInstances request.
fn signer_cost() -> (Duration, Duration) {
    let query = vec![
        ("RegionId".to_owned(), "cn-hangzhou".to_owned()),
        ("InstanceIds".to_owned(), r#"["i-bp1","i-bp2","i-bp3","i-bp4","i-bp5"]"#.to_owned()),
    ];
    let headers: Vec<(String, String)> = [
        ("accept", "application/json"),
        ("host", "127.0.0.1:9100"),
        ("x-acs-action", "DescribeInstances"),
        ("x-acs-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("x-acs-date", "2024-01-01T12:00:00Z"),
        ("x-acs-signature-nonce", "d41d8cd98f00b204e9800998ecf8427e"),
        ("x-acs-version", "2014-05-26"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let req = SignableRequest { method: "POST", path: "/", query: &query, headers: &headers, body: b"" };
    const ROUNDS: u32 = 20_000;
    let started = Instant::now();
    let mut header = String::new();
    for _ in 0..ROUNDS {
        header = signer::v3::authorization(std::hint::black_box(&req), "id", "secret");
    }
    let sign = started.elapsed() / ROUNDS;
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let auth = signer::v3::parse_authorization(std::hint::black_box(&header)).expect("just signed");
        assert!(signer::v3::verify(&req, &auth, "secret"));
    }
    (sign, started.elapsed() / ROUNDS)
}
