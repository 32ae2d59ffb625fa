//! Scale figures for one emulated cluster's API: 1,000 nodes and 30,000 pods, the objects
//! shaped as the simulated kubelets write them, served over HTTP on 127.0.0.1.
//!
//! ```text
//!  writes   30,000 pod creates, then 30,000 status updates (Pending → Running), in bursts,
//!           then 1,000 label patches paced at ~1,000/s; 50 HTTP watchers on all pods
//!           attached throughout: writes/s, and each event's delivery latency (from just
//!           before the write to the line arriving at the watcher) p50/p99/max per phase
//!  lists    store list; HTTP JSON full list and paged (limit=500 + continue, as client-go
//!           reflectors list); the Tables `kubectl get pods -A` (and `-o wide`, the same
//!           request) and `kubectl get nodes` ask for, full and paged as kubectl pages them
//! ```
//! Each list figure is the first run (which meets objects nothing has encoded yet, unless the
//! watchers did) and the median (and min) of the later ones, client receive and decode of the
//! chunked body included, with the process's CPU time beside the wall time. Write bodies are
//! made before the clock starts. The machine's load average is printed at the start and the
//! end: figures on a shared 2-core machine move with it.
//!
//! Run: `cargo run --release -p kube-emu --example bench` (`-- lists` skips the writes phase's
//! watchers and pacing and only builds the store and measures the lists; `-- serve` keeps
//! serving afterwards, for timing kubectl against the same cluster).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kube_emu::machinery::kubelet;
use kube_emu::{
    ApiServer, Config, HttpState, ListOptions, Machine, PatchType, SystemClock, Target, lookup,
    router,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const NODES: usize = 1_000;
const PODS: usize = 30_000;
const WATCHERS: usize = 50;
const NAMESPACES: usize = 30;
const PACED: usize = 1_000;
const RUNS: usize = 6;
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

fn node_name(i: usize) -> String {
    format!("cn-hangzhou.i-{i:06}")
}

fn pod_name(i: usize) -> String {
    format!("p-{i:06}")
}

fn namespace(i: usize) -> String {
    format!("team-{:02}", i % NAMESPACES)
}

fn machine(i: usize) -> Machine {
    let name = node_name(i);
    Machine {
        provider_id: name.clone(),
        name,
        labels: [
            ("node.kubernetes.io/instance-type", "ecs.g7.2xlarge"),
            ("topology.kubernetes.io/region", "cn-hangzhou"),
            ("topology.kubernetes.io/zone", "cn-hangzhou-k"),
            ("alibabacloud.com/nodepool-id", "np-0123456789abcdef"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        capacity: [
            ("cpu", "8"),
            ("memory", "32Gi"),
            ("pods", "110"),
            ("ephemeral-storage", "120Gi"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        taints: vec![],
        internal_ip: format!("192.168.{}.{}", i / 250, 2 + i % 250),
        running_since_ms: 0,
        master: false,
    }
}

/// A pod as a ReplicaSet creates it, already bound (as after the scheduler).
fn pod(i: usize) -> Value {
    let app = format!("app-{:02}", i % 100);
    json!({"metadata": {"name": pod_name(i), "labels": {"app": app, "pod-template-hash": "7d9f8c6b5"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-7d9f8c6b5"),
                             "uid": "1b2c3d4e-0000-4000-8000-00000000abcd", "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"nodeName": node_name(i % NODES),
                 "containers": [{"name": "main", "image": "registry.cn-hangzhou.aliyuncs.com/acs/nginx:1.27",
                                 "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}})
}

/// The process's CPU time so far (user + system, from /proc at the kernel's 10 ms tick).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Percentile of sorted microsecond samples, as a readable duration.
fn pct(sorted: &[u64], p: f64) -> String {
    if sorted.is_empty() {
        return "-".into();
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    format!("{:.2?}", Duration::from_micros(sorted[i]))
}

#[tokio::main]
async fn main() {
    let lists_only = std::env::args().any(|a| a == "lists");
    println!("load average at start: {}", load());
    let api = Arc::new(ApiServer::new(Arc::new(SystemClock), Config::default()));
    let (nodes, pods, namespaces) = (
        lookup("", "nodes").unwrap(),
        lookup("", "pods").unwrap(),
        lookup("", "namespaces").unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(HttpState {
        api: api.clone(),
        token: None,
    });
    // As the emulator's listener does (and Go's net package by default): no Nagle delays.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });

    let now = api.now_ms();
    for i in 0..NODES {
        let m = machine(i);
        let node = kubelet::node_object(&m, &kubelet::pod_cidr(i as u32), now);
        api.create(nodes, None, node, false).unwrap();
    }
    for n in 0..NAMESPACES {
        api.create(
            namespaces,
            None,
            json!({"metadata": {"name": namespace(n)}}),
            false,
        )
        .unwrap();
    }

    // Every write's start time (ns since `base`), by sequence number: creates, then status
    // updates, then paced patches.
    let total_writes = 2 * PODS + PACED;
    let base = Instant::now();
    let started: Arc<Vec<AtomicU64>> =
        Arc::new((0..total_writes).map(|_| AtomicU64::new(0)).collect());
    let seen = Arc::new(AtomicUsize::new(0));
    let mut watchers = Vec::new();
    if !lists_only {
        let rv = api.resource_version();
        for _ in 0..WATCHERS {
            watchers.push(tokio::spawn(watch(
                addr,
                rv,
                started.clone(),
                base,
                seen.clone(),
            )));
        }
        // A warm-up write every watcher must see, so all are subscribed before the clock runs.
        api.create(
            pods,
            Some(&namespace(0)),
            json!({"metadata": {"name": "warm-up"}, "spec": {"containers": [{"name": "c", "image": "pause"}]}}),
            false,
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Phase 1: creates in a burst (bodies made beforehand: the figure is the API's).
    let bodies: Vec<(String, Value)> = (0..PODS).map(|i| (namespace(i), pod(i))).collect();
    let t = Instant::now();
    {
        let (api, started) = (api.clone(), started.clone());
        tokio::task::spawn_blocking(move || {
            for (i, (ns, body)) in bodies.into_iter().enumerate() {
                started[i].store(base.elapsed().as_nanos() as u64, Ordering::Relaxed);
                api.create(pods, Some(&ns), body, false).unwrap();
            }
        })
        .await
        .unwrap();
    }
    let creates = t.elapsed();
    // Phase 2: the kubelets' status updates in a burst (again made beforehand).
    let now = api.now_ms();
    let updated: Vec<(String, Value)> = (0..PODS)
        .map(|i| {
            let ns = namespace(i);
            let mut p = api.get(pods, Some(&ns), &pod_name(i)).unwrap();
            let host = format!("192.168.{}.{}", (i % NODES) / 250, 2 + (i % NODES) % 250);
            let ip = format!(
                "10.{}.{}.{}",
                128 + (i % NODES) / 256,
                (i % NODES) % 256,
                2 + i / NODES
            );
            let (status, _) = kubelet::pod_status(&p, &host, &ip, &[], now, now);
            p["status"] = status;
            (ns, p)
        })
        .collect();
    let t = Instant::now();
    {
        let (api, started) = (api.clone(), started.clone());
        tokio::task::spawn_blocking(move || {
            for (i, (ns, p)) in updated.into_iter().enumerate() {
                started[PODS + i].store(base.elapsed().as_nanos() as u64, Ordering::Relaxed);
                api.update(pods, Some(&ns), &pod_name(i), p, Target::Status)
                    .unwrap();
            }
        })
        .await
        .unwrap();
    }
    let updates = t.elapsed();
    println!(
        "writes: {PODS} pod creates in {creates:.2?} = {:.0} writes/s; {PODS} pod status updates in {updates:.2?} = {:.0} writes/s ({} HTTP watchers attached)",
        PODS as f64 / creates.as_secs_f64(),
        PODS as f64 / updates.as_secs_f64(),
        if lists_only { 0 } else { WATCHERS },
    );
    if !lists_only {
        // The bursts' backlog drains before the steady state is measured.
        let t = Instant::now();
        while seen.load(Ordering::Relaxed) < WATCHERS * 2 * PODS
            && t.elapsed() < Duration::from_secs(120)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        println!(
            "fan-out: the bursts' {} events reached all {WATCHERS} watchers {:.2?} after the last burst write",
            WATCHERS * 2 * PODS,
            t.elapsed()
        );
        // Phase 3: label patches paced at ~1,000/s, the steady state.
        let (api2, started2) = (api.clone(), started.clone());
        let paced = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            for j in 0..PACED {
                let i = j * (PODS / PACED);
                let due = Duration::from_micros(j as u64 * 1_000);
                if let Some(wait) = due.checked_sub(t.elapsed()) {
                    std::thread::sleep(wait);
                }
                started2[2 * PODS + j].store(base.elapsed().as_nanos() as u64, Ordering::Relaxed);
                api2.patch(
                    pods,
                    Some(&namespace(i)),
                    &pod_name(i),
                    PatchType::Merge,
                    &json!({"metadata": {"labels": {"paced": j.to_string()}}}),
                    Target::Main,
                    None,
                )
                .unwrap();
            }
            t.elapsed()
        });
        let paced_took = paced.await.unwrap();
        let last_write = base.elapsed();
        let mut lat: [Vec<u64>; 3] = Default::default();
        let mut delivered = 0;
        let mut drained = Duration::ZERO;
        for h in watchers {
            let r = tokio::time::timeout(Duration::from_secs(120), h)
                .await
                .expect("watchers finish")
                .unwrap();
            delivered += r.delivered;
            drained = drained.max(r.last.saturating_sub(last_write));
            for (all, mine) in lat.iter_mut().zip(r.latencies) {
                all.extend(mine);
            }
        }
        println!(
            "fan-out: {delivered} events delivered over HTTP to {WATCHERS} watchers (expected {}); the last {drained:.2?} after the last write",
            WATCHERS * total_writes
        );
        for (name, l) in [
            "burst creates",
            "burst status updates",
            "paced patches (~1,000/s)",
        ]
        .iter()
        .zip(lat.iter_mut())
        {
            l.sort_unstable();
            println!(
                "fan-out latency, {name}: p50 {} p99 {} max {}",
                pct(l, 0.5),
                pct(l, 0.99),
                pct(l, 1.0)
            );
        }
        println!("  (paced phase took {paced_took:.2?})");
    }

    let mut conn = Conn::open(addr).await;
    // The first run of each list meets objects nothing has encoded yet (without watchers);
    // the later ones reuse the encodings and Table cells it left behind.
    // Wall time, and the process's CPU time (server and client), which moves less with the
    // machine's load.
    let runs = |f: Vec<(Duration, Duration)>| {
        let mut rest = f[1..].to_vec();
        rest.sort();
        let (wall, cpu) = rest[rest.len() / 2];
        format!(
            "first {:.1?} (CPU {:.0?}), then median {wall:.1?} (CPU {cpu:.0?}; min {:.1?}) over {} runs",
            f[0].0,
            f[0].1,
            rest[0].0,
            rest.len()
        )
    };
    let mut ts = Vec::new();
    let mut n = 0;
    for _ in 0..RUNS {
        let (t, c) = (Instant::now(), cpu_time());
        n = api
            .list(pods, None, &ListOptions::default())
            .unwrap()
            .items
            .len();
        ts.push((t.elapsed(), cpu_time().saturating_sub(c)));
    }
    println!("store list of {n} pods: {}", runs(ts));
    for (what, path, accept, paged) in [
        (
            "pods -A Table (kubectl get pods -A [-o wide]), paged limit=500",
            "/api/v1/pods?limit=500",
            TABLE,
            true,
        ),
        ("pods -A Table, full", "/api/v1/pods", TABLE, false),
        (
            "pods, JSON, full list",
            "/api/v1/pods",
            "application/json",
            false,
        ),
        (
            "pods, JSON, paged limit=500",
            "/api/v1/pods?limit=500",
            "application/json",
            true,
        ),
        (
            "nodes Table (kubectl get nodes [-o wide]), paged limit=500",
            "/api/v1/nodes?limit=500",
            TABLE,
            true,
        ),
        (
            "nodes, JSON, full list",
            "/api/v1/nodes",
            "application/json",
            false,
        ),
    ] {
        let mut ts = Vec::new();
        let (mut bytes, mut pages) = (0, 0);
        for _ in 0..RUNS {
            let (t, c) = (Instant::now(), cpu_time());
            (bytes, pages) = (0, 0);
            let mut next = path.to_string();
            loop {
                let body = conn.get(&next, accept).await;
                bytes += body.len();
                pages += 1;
                match paged.then(|| continue_token(&body)).flatten() {
                    Some(c) => next = format!("{path}&continue={c}"),
                    None => break,
                }
            }
            ts.push((t.elapsed(), cpu_time().saturating_sub(c)));
        }
        println!(
            "HTTP {what}: {bytes} bytes in {pages} page(s); {}",
            runs(ts)
        );
    }
    println!("load average at the end: {}", load());
    if std::env::args().any(|a| a == "serve") {
        // For timing real clients against the same cluster: `kubectl --server http://ADDR …`.
        println!("serving on http://{addr} until killed");
        std::future::pending::<()>().await;
    }
}

fn continue_token(body: &[u8]) -> Option<String> {
    let pat = b"\"continue\":\"";
    let at = body.windows(pat.len()).position(|w| w == pat)? + pat.len();
    let end = body[at..].iter().position(|&b| b == b'"')?;
    Some(String::from_utf8_lossy(&body[at..at + end]).into_owned())
}

/// A keep-alive HTTP/1.1 connection that reads Content-Length and chunked bodies.
struct Conn {
    r: BufReader<TcpStream>,
    /// The Content-Length of the response being read.
    pending: usize,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Self {
        Self {
            r: BufReader::with_capacity(1 << 16, TcpStream::connect(addr).await.unwrap()),
            pending: 0,
        }
    }

    async fn request(&mut self, path: &str, accept: &str) -> bool {
        self.r
            .get_mut()
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        // Status line and headers; true when the body is chunked.
        let mut chunked = false;
        let mut line = String::new();
        loop {
            line.clear();
            self.r.read_line(&mut line).await.unwrap();
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                return chunked;
            }
            if l == "transfer-encoding: chunked" {
                chunked = true;
            }
            if let Some(n) = l.strip_prefix("content-length: ") {
                self.pending = n.parse().unwrap();
            }
        }
    }

    /// The next chunk of a chunked body; None at its end.
    async fn chunk(&mut self) -> Option<Vec<u8>> {
        let mut line = String::new();
        self.r.read_line(&mut line).await.ok()?;
        let size = usize::from_str_radix(line.trim(), 16).ok()?;
        let mut data = vec![0; size];
        self.r.read_exact(&mut data).await.ok()?;
        let mut crlf = [0; 2];
        self.r.read_exact(&mut crlf).await.ok()?;
        (size > 0).then_some(data)
    }

    async fn get(&mut self, path: &str, accept: &str) -> Vec<u8> {
        self.pending = 0;
        if !self.request(path, accept).await {
            let mut body = vec![0; self.pending];
            self.r.read_exact(&mut body).await.unwrap();
            return body;
        }
        let mut body = Vec::new();
        while let Some(c) = self.chunk().await {
            body.extend_from_slice(&c);
        }
        body
    }
}

struct WatchResult {
    delivered: usize,
    /// Per phase, microseconds from each write's start to its event's arrival.
    latencies: [Vec<u64>; 3],
    /// When the last event arrived (since `base`).
    last: Duration,
}

/// One HTTP watcher on all pods: counts events and measures each one's delivery latency,
/// finding its write from the event type and the pod's name.
async fn watch(
    addr: SocketAddr,
    rv: u64,
    started: Arc<Vec<AtomicU64>>,
    base: Instant,
    seen: Arc<AtomicUsize>,
) -> WatchResult {
    let mut c = Conn::open(addr).await;
    c.pending = 0;
    assert!(
        c.request(
            &format!("/api/v1/pods?watch=true&resourceVersion={rv}"),
            "application/json"
        )
        .await,
        "a watch streams chunks"
    );
    let mut out = WatchResult {
        delivered: 0,
        latencies: Default::default(),
        last: Duration::ZERO,
    };
    let mut buf: Vec<u8> = Vec::new();
    let expected = 2 * PODS + PACED;
    // Per pod, the MODIFIED events seen: the first is its status update, the second its patch.
    let mut modified = vec![0u8; PODS];
    while out.delivered < expected {
        let Some(chunk) = c.chunk().await else { break };
        let at = base.elapsed();
        // The server writes whole lines per chunk; a partial one would wait in `buf`.
        let data: &[u8] = if buf.is_empty() {
            &chunk
        } else {
            buf.extend_from_slice(&chunk);
            &buf
        };
        let before = out.delivered;
        // As text, so the searches below use std's memchr-backed ones: the client stays cheap
        // next to the server it measures.
        let text = match std::str::from_utf8(data) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(data),
        };
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        for line in text[..complete].split_terminator('\n') {
            let Some(i) = name_index(line) else { continue };
            let phase = if line.ends_with("\"type\":\"ADDED\"}") {
                0
            } else {
                modified[i] += 1;
                usize::from(modified[i]).min(2)
            };
            let seq = match phase {
                0 => i,
                1 => PODS + i,
                _ => 2 * PODS + i / (PODS / PACED),
            };
            let t0 = Duration::from_nanos(started[seq].load(Ordering::Relaxed));
            out.latencies[phase].push(at.saturating_sub(t0).as_micros() as u64);
            out.delivered += 1;
            out.last = at;
        }
        buf = text.as_bytes()[complete..].to_vec();
        seen.fetch_add(out.delivered - before, Ordering::Relaxed);
    }
    out
}

/// The index in a `"name":"p-NNNNNN"` of an event line.
fn name_index(line: &str) -> Option<usize> {
    let pat = "\"name\":\"p-";
    let at = line.find(pat)? + pat.len();
    line.get(at..at + 6)?.parse().ok()
}
