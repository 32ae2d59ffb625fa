//! The Kubernetes side of every emulated ACK cluster: its API mounted at `/kube/<cluster-id>`,
//! and the bridge that tells its simulated kubelets which ECS instances are its machines.
//!
//! ```text
//!  https://host/kube/<cid>/api/v1/pods ──▶ KubeApis ──(cid)──▶ kube-emu router (token check)
//!                                                               │
//!  ticker (every 100 ms) ── world: masters + pool members ──▶ kube-emu Cluster::reconcile
//!                            that are Running, as Machines      (kubelets, scheduler, controllers)
//! ```
//!
//! Each cluster's Kubernetes side is created the first time the cluster is seen, lives as long
//! as the cluster does and is kept in memory only: after an emulator restart a cluster's
//! Kubernetes objects start afresh (its nodes re-register), as the cloud side is what the state
//! file keeps.

use crate::catalog;
use crate::clock::Clock;
use crate::cs::{self, Cluster, ClusterState};
use crate::world::{InstanceStatus, Settings, World};
use axum::Router;
use axum::extract::{OriginalUri, Request};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kube_emu::Machine;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tower::ServiceExt as _;

/// Where the Kubernetes APIs are mounted.
pub const PREFIX: &str = "/kube/";

/// One cluster's Kubernetes side.
pub struct ClusterApi {
    cluster: kube_emu::Cluster,
    router: Router,
}

impl ClusterApi {
    /// One pass of the cluster's kubelets, scheduler and controllers over `machines`.
    pub fn reconcile(&self, machines: &[Machine]) {
        self.cluster.reconcile(machines);
    }
}

/// The Kubernetes sides of all clusters, by cluster id.
pub struct KubeApis {
    clock: Arc<dyn Clock>,
    timing: kube_emu::Timing,
    clusters: Mutex<HashMap<String, Arc<ClusterApi>>>,
}

impl KubeApis {
    /// No clusters yet; API servers read time from `clock`, kubelets take `timing`.
    pub fn new(clock: Arc<dyn Clock>, timing: kube_emu::Timing) -> Self {
        Self {
            clock,
            timing,
            clusters: Mutex::new(HashMap::new()),
        }
    }

    /// Makes the set of Kubernetes sides match the clusters in `world` — one for every cluster
    /// that is not being deleted, none for the rest — and returns each with the machines that
    /// belong to it now.
    pub fn sync(
        &self,
        world: &World,
        settings: &Settings,
        now_ms: i64,
    ) -> Vec<(Arc<ClusterApi>, Vec<Machine>)> {
        let live = |c: &Cluster| c.state != ClusterState::Deleting;
        let mut apis = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        apis.retain(|id, _| world.clusters.clusters.get(id).is_some_and(live));
        world
            .clusters
            .clusters
            .values()
            .filter(|c| live(c))
            .map(|c| {
                let api = apis
                    .entry(c.id.clone())
                    .or_insert_with(|| Arc::new(self.create(c)))
                    .clone();
                (api, machines(world, c, settings, now_ms))
            })
            .collect()
    }

    fn create(&self, c: &Cluster) -> ClusterApi {
        let config = kube_emu::Config {
            seed: seed_of(&c.id),
            ..kube_emu::Config::default()
        };
        let api = Arc::new(kube_emu::ApiServer::new(self.clock.clone(), config));
        let router = kube_emu::router(kube_emu::HttpState {
            api: api.clone(),
            token: Some(c.api_token.clone()),
        });
        ClusterApi {
            cluster: kube_emu::Cluster::new(api, self.timing.clone()),
            router,
        }
    }

    /// The API server of cluster `id`, if it has one.
    pub fn api(&self, id: &str) -> Option<Arc<kube_emu::ApiServer>> {
        self.get(id).map(|c| c.cluster.api().clone())
    }

    fn get(&self, id: &str) -> Option<Arc<ClusterApi>> {
        self.clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Serves a request under [`PREFIX`]: the cluster id is the first path segment, the rest
    /// goes to that cluster's API with the original URI kept for links.
    pub async fn serve(&self, mut request: Request) -> Response {
        let original = request.uri().clone();
        let Some((id, rest)) = split(original.path()) else {
            return not_found("no cluster id after /kube/");
        };
        let Some(cluster) = self.get(id) else {
            return not_found(&format!(
                "the cluster {id} does not exist or has no Kubernetes API (yet)"
            ));
        };
        let path_and_query = match original.query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_owned(),
        };
        let Ok(inner) = path_and_query.parse::<Uri>() else {
            return not_found("the path is not a valid URI");
        };
        request.extensions_mut().insert(OriginalUri(original));
        *request.uri_mut() = inner;
        match cluster.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// The cluster's Running instances as the machines its kubelets run on: masters first, then
/// node-pool members, with the labels, taints and capacity ACK nodes register with.
fn machines(world: &World, c: &Cluster, settings: &Settings, now_ms: i64) -> Vec<Machine> {
    let running_since = settings.timing.pending_ms + settings.timing.starting_ms;
    cs::cluster_node_ids(world, &c.id)
        .into_iter()
        .filter_map(|(id, pool_id)| {
            let instance = world.instances.get(&id)?;
            if instance.status(now_ms, settings.timing) != InstanceStatus::Running {
                return None;
            }
            let pool = pool_id
                .as_deref()
                .and_then(|p| world.clusters.node_pools.get(p));
            let spec = &instance.spec;
            let mut labels = BTreeMap::new();
            let mut label = |k: &str, v: &str| labels.insert(k.to_owned(), v.to_owned());
            label(cs::CLUSTER_TAG, &c.id);
            for key in [
                "node.kubernetes.io/instance-type",
                "beta.kubernetes.io/instance-type",
            ] {
                label(key, &spec.instance_type);
            }
            for key in [
                "topology.kubernetes.io/region",
                "failure-domain.beta.kubernetes.io/region",
            ] {
                label(key, &c.region_id);
            }
            for key in [
                "topology.kubernetes.io/zone",
                "failure-domain.beta.kubernetes.io/zone",
            ] {
                label(key, &spec.zone_id);
            }
            label(
                "node.alibabacloud.com/instance-charge-type",
                &spec.charge_type,
            );
            label("node.alibabacloud.com/spot-strategy", &spec.spot_strategy);
            let mut capacity = BTreeMap::from([
                ("pods".to_owned(), MAX_PODS.to_string()),
                ("ephemeral-storage".to_owned(), SYSTEM_DISK.to_owned()),
            ]);
            if let Some(t) = catalog::instance_type(&spec.instance_type) {
                capacity.insert("cpu".into(), t.cpu.to_string());
                capacity.insert(
                    "memory".into(),
                    format!("{}Ki", (t.memory_gib * 1_048_576.0) as u64),
                );
                if t.gpu > 0 {
                    capacity.insert("nvidia.com/gpu".into(), t.gpu.to_string());
                    label(
                        "aliyun.accelerator/nvidia_name",
                        &t.gpu_spec.replace(' ', "-"),
                    );
                    label("aliyun.accelerator/nvidia_count", &t.gpu.to_string());
                    label(
                        "aliyun.accelerator/nvidia_mem",
                        &format!("{}MiB", (t.gpu_memory_gib * 1024.0) as u64),
                    );
                }
            }
            let mut taints = Vec::new();
            if let Some(pool) = pool {
                for key in [
                    "alibabacloud.com/nodepool-id",
                    "node.alibabacloud.com/nodepool-id",
                ] {
                    label(key, &pool.id);
                }
                for (k, v) in &pool.kubernetes_config.labels {
                    label(k, v);
                }
                taints.extend(pool.kubernetes_config.taints.iter().map(
                    |t| serde_json::json!({"key": t.key, "value": t.value, "effect": t.effect}),
                ));
            }
            let name = cs::node_name(&c.region_id, &instance.id);
            Some(Machine {
                provider_id: name.clone(),
                name,
                labels,
                capacity,
                taints,
                internal_ip: instance.private_ip.clone(),
                running_since_ms: instance.created_ms + running_since,
                master: pool.is_none(),
            })
        })
        .collect()
}

/// Pods per node: ACK's default for Flannel clusters (a /26 pod CIDR per node).
const MAX_PODS: u32 = 64;
/// Ephemeral storage: ACK node pools' default 120 GiB system disk.
const SYSTEM_DISK: &str = "120Gi";

/// The cluster id in a path under [`PREFIX`].
pub fn cluster_id(path: &str) -> Option<&str> {
    split(path).map(|(id, _)| id)
}

/// `/kube/<id>/<rest>` → (`id`, `/<rest>`).
fn split(path: &str) -> Option<(&str, &str)> {
    let after = path.strip_prefix(PREFIX)?;
    let (id, rest) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, "/"),
    };
    (!id.is_empty()).then_some((id, rest))
}

/// A Kubernetes `Status` 404, which every Kubernetes client understands.
fn not_found(message: &str) -> Response {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": "NotFound", "code": 404,
    });
    (
        StatusCode::NOT_FOUND,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A stable per-cluster seed, so uids differ between clusters but not between runs.
fn seed_of(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_id_is_the_first_segment_after_the_prefix() {
        assert_eq!(split("/kube/c1/api/v1/pods"), Some(("c1", "/api/v1/pods")));
        assert_eq!(split("/kube/c1"), Some(("c1", "/")));
        assert_eq!(split("/kube/"), None);
        assert_eq!(split("/other/c1"), None);
    }

    #[test]
    fn clusters_get_different_seeds() {
        assert_ne!(seed_of("c1"), seed_of("c2"));
        assert_eq!(seed_of("c1"), seed_of("c1"));
    }
}
