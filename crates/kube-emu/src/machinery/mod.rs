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
//!
//! A pass is bounded, because the emulator runs every cluster's passes one after another on
//! one ticker: it drains at most `DRAIN_BUDGET` changes from the feed (and, if the feed holds
//! more, does nothing else, so controllers never act on a cache missing their own recent
//! writes), and its controllers stop writing once `PASS_WRITES` writes were made since the
//! pass began or `PASS_TIME` of wall time went by, whichever comes first. Whatever is left
//! (pods still to create, pods to schedule, timers due) stays queued for the next pass, so a
//! burst (30 Deployments × 1,000 replicas) is spread over many short passes with the same
//! total throughput. The wall-time bound paces work only: what the cluster converges to, and
//! every simulated delay, still follow the API server's injected clock.
//!
//! Namespace deletion needs no controller here: the store itself marks the namespace
//! Terminating, deletes its contents and then the namespace (`store.rs`, `finish_namespace`).
//!
//! Not emulated: preemption, pod affinity (only anti-affinity), topology spread constraints,
//! host ports and volumes in the scheduler; Jobs, StatefulSets and HPA; graceful pod deletion
//! (the store deletes pods at once); real container restarts (a container that exits under
//! `Always`/`OnFailure` shows one restart in CrashLoopBackOff and stays there).

pub mod daemonsets;
pub mod deployments;
pub mod informer;
pub mod kubelet;
pub mod replicasets;
pub mod scheduler;
pub mod script;
pub mod system_pods;

mod controllers;
mod gc;
mod kubelets;
mod scheduling;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::broadcast::{self, error::TryRecvError};

use crate::resources::{RESOURCES, ResourceType, lookup};
use crate::store::{ApiServer, Change, EventType, ListOptions};
use informer::{Informer, Key, Kind};

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
    state: Mutex<Machinery>,
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
        system_pods::install(&api);
        let machinery = Machinery::new(api.clone(), timing.clone());
        Self {
            api,
            timing,
            state: Mutex::new(machinery),
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
    /// currently belong to the cluster. Returns nothing; its effects are API writes.
    pub fn reconcile(&self, machines: &[Machine]) {
        let mut m = self.state.lock().unwrap_or_else(|e| e.into_inner());
        m.pass(machines);
    }
}

/// A timer: something a simulated component does at a given time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// Start the pod's containers (pod key, uid).
    StartPod(Key, String),
    /// The pod's run-to-completion containers are done (pod key, uid).
    FinishPod(Key, String),
    /// Renew the node's Lease.
    Lease(String),
    /// Re-post the node's conditions.
    NodeStatus(String),
}

/// The resource types the machinery writes, looked up once.
struct Types {
    nodes: &'static ResourceType,
    pods: &'static ResourceType,
    deployments: &'static ResourceType,
    replicasets: &'static ResourceType,
    daemonsets: &'static ResourceType,
    events: &'static ResourceType,
    leases: &'static ResourceType,
}

impl Types {
    fn new() -> Self {
        let t = |g, p| lookup(g, p).expect("the machinery's types are served");
        Self {
            nodes: t("", "nodes"),
            pods: t("", "pods"),
            deployments: t("apps", "deployments"),
            replicasets: t("apps", "replicasets"),
            daemonsets: t("apps", "daemonsets"),
            events: t("", "events"),
            leases: t("coordination.k8s.io", "leases"),
        }
    }
}

/// Rounds of (drain feed, run controllers) in one pass: enough for a Deployment to become
/// running pods in a single pass when every delay is zero.
const MAX_ROUNDS: usize = 8;
/// Writes after which a pass's controllers stop (starting a pod, the dearest write, costs
/// 20-90 µs with the drain of its echo, depending on the machine's load).
const PASS_WRITES: u64 = 3_000;
/// Wall time after which a pass starts no more work: with the overshoot of the step under
/// way, a pass stays well under 200 ms however loaded the machine is.
const PASS_TIME: Duration = Duration::from_millis(80);
/// Changes one pass takes from the feed at most (draining costs 5-20 µs a change), so a burst
/// of clients' writes is taken in over several passes too.
const DRAIN_BUDGET: usize = 4_000;

/// Everything the controllers remember between passes.
struct Machinery {
    api: Arc<ApiServer>,
    timing: Timing,
    t: Types,
    rx: broadcast::Receiver<Arc<Change>>,
    inf: Informer,
    timers: BinaryHeap<Reverse<(i64, Timer)>>,
    dirty_deployments: BTreeSet<Key>,
    dirty_replicasets: BTreeSet<Key>,
    dirty_daemonsets: BTreeSet<Key>,
    /// Owner uids that disappeared, whose dependents the GC looks at.
    gc_owners: Vec<String>,
    /// Dependents created with owners already gone.
    gc_orphans: BTreeSet<informer::Dependent>,
    /// Nodes that were deleted, whose pods the pod GC removes.
    gc_nodes: Vec<String>,
    sched: scheduling::SchedState,
    kubelet: kubelets::KubeletState,
    /// Events the machinery wrote, with their time, for the 1 h event TTL.
    events: std::collections::VecDeque<(i64, String, String)>,
    /// The resourceVersion at which this pass's write budget is spent.
    rv_limit: u64,
    /// When this pass's time is up.
    deadline: Instant,
}

impl Machinery {
    fn new(api: Arc<ApiServer>, timing: Timing) -> Self {
        let t = Types::new();
        let rx = Self::subscribe(&api, &t);
        let mut m = Self {
            api,
            timing,
            t,
            rx,
            inf: Informer::default(),
            timers: BinaryHeap::new(),
            dirty_deployments: BTreeSet::new(),
            dirty_replicasets: BTreeSet::new(),
            dirty_daemonsets: BTreeSet::new(),
            gc_owners: Vec::new(),
            gc_orphans: BTreeSet::new(),
            gc_nodes: Vec::new(),
            sched: scheduling::SchedState::default(),
            kubelet: kubelets::KubeletState::default(),
            events: std::collections::VecDeque::new(),
            rv_limit: u64::MAX,
            deadline: Instant::now() + PASS_TIME,
        };
        m.resync();
        m
    }

    fn subscribe(api: &ApiServer, t: &Types) -> broadcast::Receiver<Arc<Change>> {
        api.watch(t.nodes, None, Some(api.resource_version().max(1)))
            .map(|w| w.live)
            .unwrap_or_else(|_| {
                api.watch(t.nodes, None, None)
                    .expect("a watch from the current state cannot fail")
                    .live
            })
    }

    /// Rebuilds every cache from full lists (at start, and when the feed overflowed).
    fn resync(&mut self) {
        self.inf.clear();
        self.sched = scheduling::SchedState::default();
        self.kubelet.forget_cache();
        for rt in RESOURCES.iter() {
            let Ok(page) = self.api.list(rt, None, &ListOptions::default()) else {
                continue;
            };
            for obj in page.items {
                self.observe(rt, EventType::Added, &obj);
            }
        }
    }

    /// Drains up to `limit` changes from the feed into the caches; returns how many, and
    /// whether the feed is now empty (the caches are current).
    fn drain(&mut self, limit: usize) -> (usize, bool) {
        let mut n = 0;
        while n < limit {
            if n % 256 == 255 && Instant::now() >= self.deadline {
                break;
            }
            match self.rx.try_recv() {
                Ok(c) => {
                    n += 1;
                    self.observe(c.rt, c.kind, &c.object);
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => return (n, true),
                Err(TryRecvError::Lagged(_)) => {
                    // Too far behind: start over from a fresh subscription and full lists.
                    self.rx = Self::subscribe(&self.api, &self.t);
                    self.resync();
                    return (n, true);
                }
            }
        }
        (n, self.rx.is_empty())
    }

    /// Whether this pass has made its budget of writes (counted by the global
    /// resourceVersion, so concurrent clients' writes count too: they also cost a drain), or
    /// used its time.
    fn over_budget(&self) -> bool {
        self.api.resource_version() >= self.rv_limit || Instant::now() >= self.deadline
    }

    /// How many writes this pass may still make.
    fn budget_left(&self) -> u64 {
        self.rv_limit.saturating_sub(self.api.resource_version())
    }

    /// Applies one change and marks what it concerns.
    fn observe(&mut self, rt: &'static ResourceType, event: EventType, obj: &Arc<Value>) {
        let Some(a) = self.inf.apply(rt, event, obj) else {
            return;
        };
        if event == EventType::Deleted
            && let Some(uid) = obj["metadata"]["uid"].as_str()
        {
            self.gc_owners.push(uid.to_string());
        }
        if event == EventType::Added
            && obj["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| !refs.is_empty() && refs.iter().all(|r| self.inf.owner_gone(r)))
        {
            let t = RESOURCES
                .iter()
                .position(|r| std::ptr::eq(r, rt))
                .unwrap_or(usize::MAX);
            self.gc_orphans
                .insert((t, a.key.0.clone(), a.key.1.clone()));
        }
        let Some(kind) = a.kind else {
            return;
        };
        match kind {
            Kind::Deployment => {
                self.dirty_deployments.insert(a.key.clone());
            }
            Kind::ReplicaSet => {
                self.dirty_replicasets.insert(a.key.clone());
                self.mark_owner(a.new.as_deref().or(a.old.as_deref()));
            }
            Kind::DaemonSet => {
                self.dirty_daemonsets.insert(a.key.clone());
            }
            Kind::Pod => {
                self.mark_owner(a.new.as_deref().or(a.old.as_deref()));
                self.sched.observe_pod(&a);
                self.kubelet_observe_pod(&a);
            }
            Kind::Node => {
                if scheduling::node_changed(a.old.as_deref(), a.new.as_deref()) {
                    self.dirty_daemonsets
                        .extend(self.inf.all(Kind::DaemonSet).keys().cloned());
                }
                self.sched.observe_node(&a);
                self.kubelet_observe_node(&a);
            }
        }
    }

    /// Marks the controller owning `obj` dirty.
    fn mark_owner(&mut self, obj: Option<&Value>) {
        let Some(uid) = obj.and_then(replicasets::controller_uid) else {
            return;
        };
        match self.inf.by_uid(uid) {
            Some((Kind::ReplicaSet, key)) => {
                self.dirty_replicasets.insert(key.clone());
            }
            Some((Kind::DaemonSet, key)) => {
                self.dirty_daemonsets.insert(key.clone());
            }
            Some((Kind::Deployment, key)) => {
                self.dirty_deployments.insert(key.clone());
            }
            _ => {}
        }
    }

    /// One reconcile pass.
    fn pass(&mut self, machines: &[Machine]) {
        let now = self.api.now_ms();
        self.rv_limit = self.api.resource_version().saturating_add(PASS_WRITES);
        self.deadline = Instant::now() + PASS_TIME;
        let mut drained = 0;
        for round in 0..MAX_ROUNDS {
            let (n, current) = self.drain(DRAIN_BUDGET - drained);
            drained += n;
            if !current {
                // The rest of the backlog next pass; acting now could redo what the undrained
                // changes already did.
                break;
            }
            let mut work = 0;
            if round == 0 {
                work += self.sync_machines(machines, now);
            }
            work += self.collect_garbage();
            work += self.sync_deployments(now);
            work += self.sync_replicasets();
            work += self.sync_daemonsets();
            work += self.schedule(now);
            work += self.fire_timers(now);
            if round == 0 {
                work += self.expire_events(now);
            }
            // Controllers ran after the drain, so no work means nothing is left but the echoes
            // of the last round's writes, which the next pass drains.
            if work == 0 || self.over_budget() || drained >= DRAIN_BUDGET {
                break;
            }
        }
    }

    fn push_timer(&mut self, at: i64, t: Timer) {
        self.timers.push(Reverse((at, t)));
    }

    /// Runs the timers that came due (those beyond the pass's budget stay due).
    fn fire_timers(&mut self, now: i64) -> usize {
        let mut work = 0;
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now || self.over_budget() {
                break;
            }
            let Some(Reverse((_, t))) = self.timers.pop() else {
                break;
            };
            work += match t {
                Timer::StartPod(key, uid) => self.start_pod(&key, &uid, now),
                Timer::FinishPod(key, uid) => self.finish_pod(&key, &uid, now),
                Timer::Lease(node) => self.renew_lease(&node, now),
                Timer::NodeStatus(node) => self.post_node_status(&node, now),
            };
        }
        work
    }

    /// Records an event (core/v1), as the named component would.
    #[allow(clippy::too_many_arguments)]
    fn record_event(
        &mut self,
        now: i64,
        involved: &Value,
        kind: &str,
        reason: &str,
        message: &str,
        warning: bool,
        component: &str,
    ) {
        let ns = involved["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let name = involved["metadata"]["name"].as_str().unwrap_or("");
        let ts = crate::clock::rfc3339(now);
        let ev = serde_json::json!({
            "metadata": {"generateName": format!("{name}."), "namespace": ns},
            "involvedObject": {"kind": kind, "namespace": involved["metadata"]["namespace"], "name": name,
                               "uid": involved["metadata"]["uid"], "apiVersion": involved["apiVersion"].as_str().unwrap_or("v1"),
                               "resourceVersion": involved["metadata"]["resourceVersion"]},
            "reason": reason, "message": message,
            "source": {"component": component},
            "firstTimestamp": ts, "lastTimestamp": ts, "count": 1,
            "type": if warning { "Warning" } else { "Normal" },
            "reportingComponent": component, "reportingInstance": component,
        });
        if let Ok(created) = self.api.create(self.t.events, Some(&ns), ev, false)
            && let Some(n) = created["metadata"]["name"].as_str()
        {
            self.events.push_back((now, ns, n.to_string()));
        }
    }

    /// Deletes the events this machinery wrote more than an hour ago (the API server's
    /// default event TTL), so long runs do not grow without bound.
    fn expire_events(&mut self, now: i64) -> usize {
        const TTL_MS: i64 = 3_600_000;
        let mut work = 0;
        while let Some((at, _, _)) = self.events.front() {
            if now - *at < TTL_MS || self.over_budget() {
                break;
            }
            if let Some((_, ns, name)) = self.events.pop_front() {
                let _ = self
                    .api
                    .delete(self.t.events, Some(&ns), &name, (None, None));
                work += 1;
            }
        }
        work
    }
}

/// The machines' names, for quick membership checks.
fn machine_index(machines: &[Machine]) -> HashMap<&str, &Machine> {
    machines.iter().map(|m| (m.name.as_str(), m)).collect()
}
