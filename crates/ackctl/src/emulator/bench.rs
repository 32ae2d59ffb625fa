//! `ackctl emulator bench`: how many signed DescribeInstances calls per second the emulator
//! serves on loopback, and what signing and verifying cost per request.
//!
//! Two figures, because load generator and emulator share this machine's cores:
//! - the emulator's serving rate, driven by a lean HTTP/1 client that still signs every request
//!   (V3, fresh nonce and date) but does not parse replies, in the manner of `wrk`;
//! - end to end through the typed `aliyun` client: sign, send, verify, handle, serialize, parse.

use aliyun::ecs::{DescribeInstancesRequest, RunInstancesRequest};
use aliyun::signer::{self, SignableRequest};
use aliyun_emu::{Config, Emulator, InstanceTiming, Settings, SystemClock};
use anyhow::Context as _;
use clap::Args;
use std::time::{Duration, Instant};

/// Options of the benchmark.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Requests to send after warm-up, for each of the two measurements.
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
    anyhow::ensure!(
        args.requests > 0 && args.concurrency > 0,
        "--requests and --concurrency must be positive"
    );
    let endpoint = match &args.target {
        Some(url) => url.clone(),
        None => {
            let config = Config {
                settings: Settings {
                    timing: InstanceTiming::default(),
                    ..Settings::default()
                },
                ..Config::default()
            };
            let emulator = Emulator::new(config, SystemClock)?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let address = listener.local_addr()?;
            tokio::spawn(async move { emulator.serve(listener).await });
            format!("http://{address}")
        }
    };
    let client = aliyun::Client::builder()
        .credentials(aliyun::Credentials::new(
            aliyun_emu::DEFAULT_ACCESS_KEY_ID,
            aliyun_emu::DEFAULT_ACCESS_KEY_SECRET,
        ))
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

    let expected = args.instances as usize;
    let warmup = (args.requests / 10).max(args.concurrency);
    println!("emulator: {endpoint}");
    println!(
        "DescribeInstances of {} instances, {} requests, concurrency {}:",
        args.instances, args.requests, args.concurrency
    );

    let target = std::sync::Arc::new(LeanTarget::new(&endpoint, &created.instance_ids)?);
    drive_lean(&target, warmup, args.concurrency).await?;
    let started = Instant::now();
    let latencies = drive_lean(&target, args.requests, args.concurrency).await?;
    report(
        "emulator serving rate (lean signed client)",
        started.elapsed(),
        latencies,
    );

    drive_typed(&client, &request, warmup, args.concurrency, expected).await?;
    let started = Instant::now();
    let latencies =
        drive_typed(&client, &request, args.requests, args.concurrency, expected).await?;
    report(
        "end to end (typed aliyun client)",
        started.elapsed(),
        latencies,
    );

    let (sign, verify) = signer_cost();
    println!("signer (V3, per request): sign {sign:?}, parse + verify {verify:?}");
    client
        .ecs()
        .delete_instances(&aliyun::ecs::DeleteInstancesRequest {
            instance_ids: created.instance_ids,
            force: Some(true),
            client_token: None,
        })
        .await?;
    Ok(())
}

fn report(label: &str, elapsed: Duration, mut latencies: Vec<Duration>) {
    latencies.sort_unstable();
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "  {label}: {:.0} requests/s; latency p50 {:?}, p99 {:?}, max {:?}",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(0.50),
        percentile(0.99),
        latencies.last().copied().unwrap_or_default()
    );
}

/// Splits `total` requests over `concurrency` workers, runs them, and gathers the latencies.
async fn spread<F, Fut>(
    total: usize,
    concurrency: usize,
    worker: F,
) -> anyhow::Result<Vec<Duration>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<Duration>>> + Send + 'static,
{
    let mut workers = tokio::task::JoinSet::new();
    for index in 0..concurrency {
        workers.spawn(worker(
            total / concurrency + usize::from(index < total % concurrency),
        ));
    }
    let mut all = Vec::with_capacity(total);
    while let Some(joined) = workers.join_next().await {
        all.extend(joined??);
    }
    Ok(all)
}

/// What the lean client needs to sign and send DescribeInstances.
struct LeanTarget {
    address: String,
    host: String,
    query: Vec<(String, String)>,
    path_and_query: String,
}

impl LeanTarget {
    fn new(endpoint: &str, instance_ids: &[String]) -> anyhow::Result<Self> {
        let host = endpoint
            .strip_prefix("http://")
            .context("the lean client speaks plain http only")?
            .trim_end_matches('/')
            .to_owned();
        let ids = serde_json::to_string(instance_ids)?;
        let query = vec![
            ("RegionId".to_owned(), "cn-hangzhou".to_owned()),
            ("InstanceIds".to_owned(), ids),
            (
                "PageSize".to_owned(),
                instance_ids.len().max(10).to_string(),
            ),
        ];
        let encoded: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    signer::percent_encode(k),
                    signer::percent_encode(v)
                )
            })
            .collect();
        Ok(Self {
            address: host.clone(),
            host,
            query,
            path_and_query: format!("/?{}", encoded.join("&")),
        })
    }

    /// A freshly signed request: new date and nonce each time, as the service demands.
    fn request(&self) -> anyhow::Result<hyper::Request<http_body_util::Empty<hyper::body::Bytes>>> {
        let headers: Vec<(String, String)> = vec![
            ("accept".into(), "application/json".into()),
            ("host".into(), self.host.clone()),
            ("x-acs-action".into(), "DescribeInstances".into()),
            ("x-acs-content-sha256".into(), signer::sha256_hex(b"")),
            (
                "x-acs-date".into(),
                jiff::Timestamp::now()
                    .strftime("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
            ),
            (
                "x-acs-signature-nonce".into(),
                format!("{:032x}", rand::random::<u128>()),
            ),
            ("x-acs-version".into(), "2014-05-26".into()),
        ];
        let signable = SignableRequest {
            method: "POST",
            path: "/",
            query: &self.query,
            headers: &headers,
            body: b"",
        };
        let authorization = signer::v3::authorization(
            &signable,
            aliyun_emu::DEFAULT_ACCESS_KEY_ID,
            aliyun_emu::DEFAULT_ACCESS_KEY_SECRET,
        );
        let mut builder = hyper::Request::post(self.path_and_query.as_str())
            .header("authorization", authorization);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        Ok(builder.body(http_body_util::Empty::new())?)
    }
}

async fn drive_lean(
    target: &std::sync::Arc<LeanTarget>,
    total: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Duration>> {
    spread(total, concurrency, |share| {
        let target = target.clone();
        async move {
            let stream = tokio::net::TcpStream::connect(&target.address).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let started = Instant::now();
                let response = sender.send_request(target.request()?).await?;
                let status = response.status();
                let body = http_body_util::BodyExt::collect(response.into_body())
                    .await?
                    .to_bytes();
                latencies.push(started.elapsed());
                anyhow::ensure!(
                    status.is_success(),
                    "emulator answered {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            Ok(latencies)
        }
    })
    .await
}

async fn drive_typed(
    client: &aliyun::Client,
    request: &DescribeInstancesRequest,
    total: usize,
    concurrency: usize,
    expected: usize,
) -> anyhow::Result<Vec<Duration>> {
    spread(total, concurrency, |share| {
        let (client, request) = (client.clone(), request.clone());
        async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let started = Instant::now();
                let page = client.ecs().describe_instances(&request).await?;
                latencies.push(started.elapsed());
                anyhow::ensure!(
                    page.instances.len() == expected,
                    "expected {expected} instances, got {}",
                    page.instances.len()
                );
            }
            Ok(latencies)
        }
    })
    .await
}

/// Average time to sign, and to parse and verify, a DescribeInstances request.
fn signer_cost() -> (Duration, Duration) {
    let query = vec![
        ("RegionId".to_owned(), "cn-hangzhou".to_owned()),
        (
            "InstanceIds".to_owned(),
            r#"["i-bp1","i-bp2","i-bp3","i-bp4","i-bp5"]"#.to_owned(),
        ),
    ];
    let headers: Vec<(String, String)> = [
        ("accept", "application/json"),
        ("host", "127.0.0.1:9100"),
        ("x-acs-action", "DescribeInstances"),
        (
            "x-acs-content-sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("x-acs-date", "2024-01-01T12:00:00Z"),
        ("x-acs-signature-nonce", "d41d8cd98f00b204e9800998ecf8427e"),
        ("x-acs-version", "2014-05-26"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let req = SignableRequest {
        method: "POST",
        path: "/",
        query: &query,
        headers: &headers,
        body: b"",
    };
    const ROUNDS: u32 = 20_000;
    let started = Instant::now();
    let mut header = String::new();
    for _ in 0..ROUNDS {
        header = signer::v3::authorization(std::hint::black_box(&req), "id", "secret");
    }
    let sign = started.elapsed() / ROUNDS;
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let auth =
            signer::v3::parse_authorization(std::hint::black_box(&header)).expect("just signed");
        assert!(signer::v3::verify(&req, &auth, "secret"));
    }
    (sign, started.elapsed() / ROUNDS)
}
