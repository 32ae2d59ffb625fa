//! kube-rs against kube-emu over loopback HTTP: watchers and reflectors stay consistent through
//! creates, updates, deletes, watch timeouts and a forced 410; eviction; Lease create, renew and
//! conflict. Also the helpers other kube-rs tests use: an API server on a port and a client
//! made from a kubeconfig file.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, DeleteParams, EvictParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube_emu::{ApiServer, HttpState, SystemClock};
use serde_json::json;

pub const TOKEN: &str = "kube-test-token";

/// A kube-emu API server on a loopback port, and a kube-rs client built from a kubeconfig file
/// pointing at it.
pub struct KubeServer {
    pub api: Arc<ApiServer>,
    pub client: kube::Client,
    _dir: tempfile::TempDir,
}

pub async fn kube_server(config: kube_emu::Config) -> KubeServer {
    let api = Arc::new(ApiServer::new(Arc::new(SystemClock), config));
    let router = kube_emu::router(HttpState {
        api: api.clone(),
        token: Some(TOKEN.into()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: emu\n  cluster:\n    server: {url}\n\
             users:\n- name: admin\n  user:\n    token: {TOKEN}\ncontexts:\n- name: emu\n  context:\n    \
             cluster: emu\n    user: admin\ncurrent-context: emu\n"
        ),
    )
    .unwrap();
    let client = client_from(&kubeconfig).await;
    KubeServer {
        api,
        client,
        _dir: dir,
    }
}

pub async fn client_from(kubeconfig: &std::path::Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

pub fn node(name: &str, cpu: &str, memory: &str) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {"providerID": name},
        "status": {
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    }))
    .unwrap()
}

pub fn pod(ns: &str, name: &str, cpu: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "web"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                                 "uid": "rs-uid-1", "controller": true}]},
        "spec": {"containers": [{"name": "c", "image": "nginx",
                                 "resources": {"requests": {"cpu": cpu, "memory": "256Mi"}}}]}
    }))
    .unwrap()
}

fn reflect<K>(api: Api<K>, config: watcher::Config) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config)).default_backoff();
    tokio::spawn(stream.for_each(|_| async {}));
    reader
}

fn names_rvs<K: kube::Resource>(
    items: impl IntoIterator<Item = Arc<K>>,
) -> BTreeSet<(String, String)> {
    items
        .into_iter()
        .map(|o| {
            (
                o.meta().name.clone().unwrap_or_default(),
                o.meta().resource_version.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// Waits until the store holds exactly what the API lists.
async fn converges<K>(store: &Store<K>, api: &Api<K>)
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let listed = api.list(&Default::default()).await.unwrap();
        let want = names_rvs(listed.items.into_iter().map(Arc::new));
        let have = names_rvs(store.state());
        if want == have {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "store never converged: want {want:?}, have {have:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn reflectors_over_pods_and_nodes_follow_creates_updates_and_deletes_across_watch_timeouts() {
    let k = kube_server(kube_emu::Config::default()).await;
    let nodes: Api<Node> = Api::all(k.client.clone());
    let pods: Api<Pod> = Api::namespaced(k.client.clone(), "default");
    // Watches end every second, so the reflectors resume from their last RV several times.
    let node_store = reflect(nodes.clone(), watcher::Config::default().timeout(1));
    let pod_store = reflect(
        Api::<Pod>::all(k.client.clone()),
        watcher::Config::default().timeout(1),
    );
    node_store.wait_until_ready().await.unwrap();
    pod_store.wait_until_ready().await.unwrap();

    for i in 0..3 {
        nodes
            .create(&PostParams::default(), &node(&format!("n{i}"), "4", "16Gi"))
            .await
            .unwrap();
    }
    for i in 0..10 {
        pods.create(
            &PostParams::default(),
            &pod("default", &format!("p{i}"), "100m"),
        )
        .await
        .unwrap();
    }
    converges(&pod_store, &pods).await;
    converges(&node_store, &nodes).await;

    tokio::time::sleep(Duration::from_millis(2500)).await;
    for i in 0..5 {
        pods.patch(
            &format!("p{i}"),
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"rev": "2"}}})),
        )
        .await
        .unwrap();
    }
    for i in 5..8 {
        pods.delete(&format!("p{i}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    nodes.delete("n2", &DeleteParams::default()).await.unwrap();
    nodes
        .patch(
            "n0",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    converges(&pod_store, &pods).await;
    converges(&node_store, &nodes).await;
    assert_eq!(pod_store.state().len(), 7);
    assert_eq!(node_store.state().len(), 2);
    let relabelled = pod_store
        .state()
        .iter()
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("rev"))
                .is_some()
        })
        .count();
    assert_eq!(relabelled, 5);
}

#[tokio::test]
async fn a_watcher_whose_resource_version_left_the_history_relists_after_a_410() {
    let k = kube_server(kube_emu::Config {
        history: 5,
        ..kube_emu::Config::default()
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(k.client.clone(), "default");
    pods.create(&PostParams::default(), &pod("default", "first", "100m"))
        .await
        .unwrap();

    let (reader, writer) = reflector::store::<Pod>();
    let mut stream = Box::pin(reflector::reflector(
        writer,
        watcher(
            Api::<Pod>::all(k.client.clone()),
            watcher::Config::default(),
        ),
    ));
    // Poll only until the initial list is in; the watch starts on the next poll, from the
    // list's resourceVersion.
    while let Some(event) = stream.next().await {
        if matches!(event.unwrap(), watcher::Event::InitDone) {
            break;
        }
    }
    assert_eq!(reader.state().len(), 1);
    // Twenty writes push the list's resourceVersion out of a five-change history.
    for i in 0..20 {
        pods.create(
            &PostParams::default(),
            &pod("default", &format!("later-{i}"), "100m"),
        )
        .await
        .unwrap();
    }
    pods.delete("first", &DeleteParams::default())
        .await
        .unwrap();
    let mut saw_restart = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while reader.state().len() != 20
        || reader
            .state()
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some("first"))
    {
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("the reflector caught up");
        match next {
            Some(Ok(watcher::Event::Init)) => saw_restart = true,
            Some(_) => {}
            None => panic!("the watch stream ended"),
        }
    }
    assert!(saw_restart, "the watcher relisted after the in-stream 410");
}

#[tokio::test]
async fn evicting_a_pod_through_kube_rs_removes_it() {
    let k = kube_server(kube_emu::Config::default()).await;
    let pods: Api<Pod> = Api::namespaced(k.client.clone(), "default");
    pods.create(&PostParams::default(), &pod("default", "victim", "100m"))
        .await
        .unwrap();
    pods.evict("victim", &EvictParams::default()).await.unwrap();
    let gone = pods.get_opt("victim").await.unwrap();
    assert!(gone.is_none_or(|p| p.metadata.deletion_timestamp.is_some()));
    let missing = pods
        .evict("victim-2", &EvictParams::default())
        .await
        .unwrap_err();
    assert!(matches!(missing, kube::Error::Api(s) if s.code == 404));
}

#[tokio::test]
async fn a_lease_is_created_renewed_and_a_stale_renewal_conflicts() {
    let k = kube_server(kube_emu::Config::default()).await;
    let leases: Api<Lease> = Api::namespaced(k.client.clone(), "kube-system");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "cluster-autoscaler", "namespace": "kube-system"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15,
                 "acquireTime": "2026-01-01T00:00:00.000001Z", "renewTime": "2026-01-01T00:00:00.000001Z"}
    }))
    .unwrap();
    let created = leases.create(&PostParams::default(), &lease).await.unwrap();
    let mut renewed = created.clone();
    let later = MicroTime("2026-01-01T00:00:10.123456Z".parse().unwrap());
    renewed.spec = Some(LeaseSpec {
        renew_time: Some(later.clone()),
        ..created.spec.clone().unwrap()
    });
    let after = leases
        .replace("cluster-autoscaler", &PostParams::default(), &renewed)
        .await
        .unwrap();
    assert_eq!(after.spec.as_ref().unwrap().renew_time, Some(later));
    assert_ne!(
        after.metadata.resource_version,
        created.metadata.resource_version
    );
    // A candidate holding the old version loses.
    let stale = leases
        .replace("cluster-autoscaler", &PostParams::default(), &created)
        .await
        .unwrap_err();
    assert!(
        matches!(&stale, kube::Error::Api(s) if s.code == 409),
        "{stale:?}"
    );
}
