//! Scale figures for one emulated cluster: 1,000 nodes and 30,000 pods. Prints full pod list
//! latency (store and over HTTP, JSON), writes per second, and watch fan-out to 50 watchers.
//! Run: `cargo run --release -p kube-emu --example bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube_emu::{ApiServer, Config, HttpState, ListOptions, SystemClock, lookup, router};
use serde_json::json;

#[tokio::main]
async fn main() {
    let api = Arc::new(ApiServer::new(Arc::new(SystemClock), Config::default()));
    let (nodes, pods) = (lookup("", "nodes").unwrap(), lookup("", "pods").unwrap());
    for i in 0..1000 {
        api.create(nodes, None, json!({"metadata": {"name": format!("cn-hangzhou.i-{i:06}"), "labels": {"kubernetes.io/hostname": format!("n{i}")}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"}}}), false).unwrap();
    }
    let pod = |i: usize| {
        json!({"metadata": {"name": format!("p-{i:06}"), "labels": {"app": format!("a{}", i % 50)}},
        "spec": {"nodeName": format!("cn-hangzhou.i-{:06}", i % 1000),
                 "containers": [{"name": "c", "image": "registry.cn-hangzhou.aliyuncs.com/acs/pause:3.9",
                                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}})
    };

    // 50 watchers on all pods, counting what they receive while the writes happen.
    let mut watchers = Vec::new();
    for _ in 0..50 {
        let mut live = api
            .watch(pods, None, Some(api.resource_version()))
            .unwrap()
            .live;
        watchers.push(tokio::spawn(async move {
            let mut n = 0usize;
            while n < 30_000 {
                match live.recv().await {
                    Ok(c) if c.kind == kube_emu::EventType::Added => n += 1,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            n
        }));
    }
    let t = Instant::now();
    for i in 0..30_000 {
        api.create(pods, Some("default"), pod(i), false).unwrap();
    }
    let w = t.elapsed();
    println!(
        "writes: 30,000 pod creates in {:?} = {:.0} writes/s (with 50 watchers attached)",
        w,
        30_000.0 / w.as_secs_f64()
    );
    let t = Instant::now();
    let mut delivered = 0;
    for h in watchers {
        delivered += h.await.unwrap();
    }
    println!(
        "fan-out: {delivered} events delivered to 50 watchers, drained {:?} after the last write",
        t.elapsed()
    );

    let t = Instant::now();
    let page = api.list(pods, None, &ListOptions::default()).unwrap();
    println!("store list of {} pods: {:?}", page.items.len(), t.elapsed());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(HttpState {
        api: api.clone(),
        token: None,
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    for accept in [
        "application/json",
        "application/json;as=Table;v=v1;g=meta.k8s.io",
    ] {
        let t = Instant::now();
        let bytes = http_get(addr, "/api/v1/pods", accept).await;
        println!(
            "HTTP full pod list ({accept}): {} bytes in {:?}",
            bytes,
            t.elapsed()
        );
    }
}

/// A bare HTTP/1.1 GET (Connection: close), returning the body length.
async fn http_get(addr: std::net::SocketAddr, path: &str, accept: &str) -> usize {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
    buf.len() - split - 4
}
