//! The autoscaler's main loop: reflectors keep nodes, pods, PDBs and the priority-expander
//! ConfigMap in memory; each loop refreshes the node groups once, builds the snapshot, plans,
//! carries the plan out and writes the status — only while this process leads. Drains run as
//! background tasks between loops; each loop first collects the ones that ended.
//!
//! ```text
//!  watch: nodes, pods, pdbs, ds, configmap ─▶ Stores ─┐
//!  NodeGroups::refresh ──────────────────────────┼─▶ snapshot ─▶ planner::plan ─▶ Actuator
//!  Memory (unneeded since, last actions, ────────┘                     │    └─▶ status, events,
//!          deletions in flight) ◀── finished drains ◀── drain tasks ◀──┘        metrics
//! ```

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloud::node_groups::{CallCount, Groups, NodeGroups};
use futures_util::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Node, ObjectReference, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use planner::Plan;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::actuate::{Actuator, Drains, Outcome, Remover, TO_BE_DELETED_TAINT};
use super::memory::Memory;
use super::metrics::Metrics;
use super::provision::Overdue;
use super::snapshot::{Converters, Observed, is_unschedulable, provider_id};
use super::status::{self, LAST_UPDATED_ANNOTATION, STATUS_CONFIG_MAP};
use crate::events::{EventType, Recorder, reference};
use crate::leader::Leadership;

/// The priority expander's ConfigMap (in the autoscaler's namespace).
pub const PRIORITY_CONFIG_MAP: &str = "cluster-autoscaler-priority-expander";

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub options: planner::Options,
    /// `--scan-interval`.
    pub scan_interval: Duration,
    /// Where the status and priority ConfigMaps (and the Lease) live.
    pub namespace: String,
    /// `--write-status-configmap`.
    pub write_status_config_map: bool,
    /// How long evictions are retried and pods awaited before a drain fails.
    pub eviction_timeout: Duration,
    /// Seed of the expanders' random tie-breaks.
    pub seed: u64,
    /// `--max-node-provision-time`: how long a group may take to register the nodes it was
    /// asked for before it is backed off and the missing nodes are given back.
    pub max_node_provision_time: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            options: planner::Options::default(),
            scan_interval: Duration::from_secs(10),
            namespace: "kube-system".into(),
            write_status_config_map: true,
            eviction_timeout: Duration::from_secs(120),
            seed: 1,
            max_node_provision_time: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the {0} watch never listed: the API server is unreachable or refuses the list")]
    NotSynced(&'static str),
    #[error("refreshing node groups: {0}")]
    Refresh(#[from] cloud::Error),
}

/// Where one loop's time went and what it did.
#[derive(Debug, Clone)]
pub struct LoopReport {
    pub refresh: Duration,
    pub snapshot: Duration,
    pub plan_time: Duration,
    pub execute: Duration,
    pub status: Duration,
    /// Cloud calls made by this loop (drains running in the background count where they are
    /// collected).
    pub calls: CallCount,
    /// Drains still running in the background when the loop ended.
    pub deletions_in_flight: usize,
    pub nodes: usize,
    pub pods: usize,
    pub groups: usize,
    pub plan: Plan,
    pub outcome: Outcome,
}

impl LoopReport {
    pub fn total(&self) -> Duration {
        self.refresh + self.snapshot + self.plan_time + self.execute + self.status
    }
}

/// The running autoscaler of one cluster.
pub struct Autoscaler<N> {
    client: kube::Client,
    node_groups: Arc<N>,
    config: Config,
    nodes: Store<Node>,
    pods: Store<Pod>,
    pdbs: Store<PodDisruptionBudget>,
    daemon_sets: Store<DaemonSet>,
    config_maps: Store<ConfigMap>,
    watches: Vec<JoinHandle<()>>,
    converters: Converters,
    memory: Memory,
    rng: SmallRng,
    recorder: Arc<Recorder>,
    metrics: Arc<Metrics>,
    /// Background drains.
    drains: Drains,
    /// Whether deletion taints left by an earlier run were cleared.
    cleaned_up: bool,
}

impl<N> Drop for Autoscaler<N> {
    fn drop(&mut self) {
        for w in &self.watches {
            w.abort();
        }
        // Dropping the JoinSet aborts the drains; the nodes keep their taint until the next
        // run clears it, as cluster-autoscaler does on start-up.
    }
}

fn reflect<K>(api: Api<K>, config: watcher::Config) -> (Store<K>, JoinHandle<()>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config)).default_backoff();
    let handle = tokio::spawn(async move {
        stream
            .for_each(|event| async move {
                if let Err(e) = event {
                    tracing::warn!(error = %e, kind = %K::kind(&()), "watch error; retrying");
                }
            })
            .await;
    });
    (reader, handle)
}

impl<N: NodeGroups + 'static> Autoscaler<N> {
    /// Starts the watches and waits (up to `sync_timeout`) until each has listed once.
    pub async fn start(
        client: kube::Client,
        node_groups: N,
        config: Config,
        metrics: Arc<Metrics>,
        sync_timeout: Duration,
    ) -> Result<Self, Error> {
        let (nodes, h1) = reflect(Api::<Node>::all(client.clone()), watcher::Config::default());
        let (pods, h2) = reflect(Api::<Pod>::all(client.clone()), watcher::Config::default());
        let (pdbs, h3) = reflect(
            Api::<PodDisruptionBudget>::all(client.clone()),
            watcher::Config::default(),
        );
        let (daemon_sets, h5) = reflect(
            Api::<DaemonSet>::all(client.clone()),
            watcher::Config::default(),
        );
        let (config_maps, h4) = reflect(
            Api::<ConfigMap>::namespaced(client.clone(), &config.namespace),
            watcher::Config::default().fields(&format!("metadata.name={PRIORITY_CONFIG_MAP}")),
        );
        let me = Self {
            recorder: Arc::new(Recorder::new(
                client.clone(),
                "cluster-autoscaler",
                Duration::from_secs(300),
            )),
            client,
            node_groups: Arc::new(node_groups),
            rng: SmallRng::seed_from_u64(config.seed),
            config,
            nodes,
            pods,
            pdbs,
            daemon_sets,
            config_maps,
            watches: vec![h1, h2, h3, h4, h5],
            converters: Converters::default(),
            memory: Memory::default(),
            metrics,
            drains: Drains::default(),
            cleaned_up: false,
        };
        let deadline = tokio::time::Instant::now() + sync_timeout;
        let synced = |ok: Result<Result<(), reflector::store::WriterDropped>, _>, what| match ok {
            Ok(Ok(())) => Ok(()),
            _ => Err(Error::NotSynced(what)),
        };
        synced(
            tokio::time::timeout_at(deadline, me.nodes.wait_until_ready()).await,
            "nodes",
        )?;
        synced(
            tokio::time::timeout_at(deadline, me.pods.wait_until_ready()).await,
            "pods",
        )?;
        synced(
            tokio::time::timeout_at(deadline, me.pdbs.wait_until_ready()).await,
            "poddisruptionbudgets",
        )?;
        synced(
            tokio::time::timeout_at(deadline, me.daemon_sets.wait_until_ready()).await,
            "daemonsets",
        )?;
        synced(
            tokio::time::timeout_at(deadline, me.config_maps.wait_until_ready()).await,
            "configmaps",
        )?;
        Ok(me)
    }

    pub fn node_groups(&self) -> &N {
        &self.node_groups
    }

    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// Runs loops every `scan_interval` while this process leads, until the task is dropped.
    pub async fn run(mut self, mut leadership: Leadership) {
        let mut tick = tokio::time::interval(self.config.scan_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !leadership.is_leader() {
                leadership.acquired().await;
                continue;
            }
            match self.run_once(Timestamp::now()).await {
                Ok(r) => tracing::debug!(
                    total_ms = r.total().as_secs_f64() * 1e3,
                    describe_calls = r.calls.describe,
                    added = r.outcome.nodes_added,
                    removed = r.outcome.nodes_removed,
                    "loop done"
                ),
                Err(e) => tracing::warn!(error = %e, "loop failed"),
            }
        }
    }

    fn status_ref(&self) -> ObjectReference {
        ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("ConfigMap".into()),
            name: Some(STATUS_CONFIG_MAP.into()),
            namespace: Some(self.config.namespace.clone()),
            ..ObjectReference::default()
        }
    }

    fn remover(&self) -> Remover<N> {
        Remover {
            client: self.client.clone(),
            node_groups: self.node_groups.clone(),
            recorder: self.recorder.clone(),
            metrics: self.metrics.clone(),
            status_ref: self.status_ref(),
            pods: self.pods.clone(),
            eviction_timeout: self.config.eviction_timeout,
        }
    }

    /// Takes in the drains that ended since the last loop.
    fn collect_drains(&mut self, now: Timestamp, outcome: &mut Outcome) {
        while let Some(finished) = self.drains.try_next() {
            match &finished.result {
                Ok(evicted) => {
                    outcome.nodes_removed += 1;
                    outcome.pods_evicted += evicted;
                }
                Err(why) => outcome
                    .failures
                    .push(format!("drain {}: {why}", finished.node)),
            }
            self.memory.deletion_finished(&finished, now);
        }
    }

    /// Clears `ToBeDeletedByClusterAutoscaler` from nodes no drain of ours is working on: an
    /// earlier run (or leader) stopped half-way, and the nodes must take pods again.
    async fn clean_up_taints(&mut self, nodes: &[Arc<Node>]) {
        let api: Api<Node> = Api::all(self.client.clone());
        for node in nodes {
            let name = node.metadata.name.as_deref().unwrap_or_default();
            let tainted = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .is_some_and(|ts| ts.iter().any(|t| t.key == TO_BE_DELETED_TAINT));
            if tainted && !self.memory.deletions.is_deleting(name) {
                tracing::info!(node = %name, "removing a deletion taint left by an earlier run");
                if let Err(e) = super::actuate::untaint(&api, node).await {
                    tracing::warn!(node = %name, error = %e, "removing a stale deletion taint failed");
                }
            }
        }
        self.cleaned_up = true;
    }

    /// Backs off each overdue group, removes its instances that never registered and lowers
    /// its target to the nodes it has; returns the groups as they are after that.
    async fn give_back(
        &mut self,
        groups: Groups,
        overdue: &[Overdue],
        registered: &HashSet<&str>,
        now: Timestamp,
        outcome: &mut Outcome,
    ) -> Groups {
        let mut list = groups.groups;
        for o in overdue {
            let Some(group) = list.iter_mut().find(|g| g.id == o.group) else {
                continue;
            };
            let joined = group
                .instances
                .iter()
                .filter(|i| registered.contains(i.provider_id.as_str()))
                .count();
            let message = format!(
                "Scale-up timed out for node group {} after {:#}: {} of its {} nodes registered; \
                 backing off and lowering its target to {}",
                o.group, o.waited, joined, group.target_size, o.target
            );
            tracing::warn!(group = %o.group, "{message}");
            self.memory.scale_up_failed(&o.group, now);
            self.metrics
                .failed_scale_ups
                .get_or_create(&vec![("reason", "timeout".to_owned())])
                .inc();
            self.recorder
                .emit(
                    &self.status_ref(),
                    EventType::Warning,
                    "FailedToScaleUpGroup",
                    &message,
                )
                .await;
            outcome
                .failures
                .push(format!("scale-up of {} timed out", o.group));
            if !o.unregistered.is_empty() {
                match self
                    .node_groups
                    .delete_instances(group, &o.unregistered)
                    .await
                {
                    Ok(()) => {
                        let n = u32::try_from(o.unregistered.len()).unwrap_or(u32::MAX);
                        group.target_size = group.target_size.saturating_sub(n);
                        group
                            .instances
                            .retain(|i| registered.contains(i.provider_id.as_str()));
                    }
                    Err(e) => {
                        tracing::warn!(group = %o.group, error = %e, "removing unregistered instances failed");
                        continue;
                    }
                }
            }
            if group.target_size > o.target {
                match self.node_groups.decrease_target_size(group, o.target).await {
                    Ok(()) => group.target_size = o.target,
                    Err(e) => {
                        tracing::warn!(group = %o.group, error = %e, "lowering the target failed");
                    }
                }
            }
        }
        Groups::new(list)
    }

    /// One loop at `now`.
    pub async fn run_once(&mut self, now: Timestamp) -> Result<LoopReport, Error> {
        let mut outcome = Outcome::default();
        self.collect_drains(now, &mut outcome);
        let before = self.node_groups.calls();
        let start = Instant::now();
        let groups = match self.node_groups.refresh().await {
            Ok(g) => g,
            Err(e) => {
                self.metrics
                    .errors
                    .get_or_create(&vec![("type", "cloudProviderError".to_owned())])
                    .inc();
                let text = format!("cloud provider refresh failed: {e}");
                let empty = planner::Snapshot::default();
                let status = status::render(now, &empty, None, &self.memory, Some(&text));
                self.write_status(status, now).await;
                return Err(e.into());
            }
        };
        let refresh = start.elapsed();
        self.metrics.observe("cloudProviderRefresh", refresh);

        let t = Instant::now();
        let nodes = self.nodes.state();
        if !self.cleaned_up {
            self.clean_up_taints(&nodes).await;
        }
        let registered: HashSet<&str> = nodes.iter().filter_map(|n| provider_id(n)).collect();
        let max_wait = jiff::SignedDuration::try_from(self.config.max_node_provision_time)
            .unwrap_or(jiff::SignedDuration::MAX);
        let overdue = self
            .memory
            .provision
            .check(&groups, &registered, now, max_wait);
        let groups = if overdue.is_empty() {
            groups
        } else {
            self.give_back(groups, &overdue, &registered, now, &mut outcome)
                .await
        };
        let pods = self.pods.state();
        let pdbs = self.pdbs.state();
        let daemon_sets = self.daemon_sets.state();
        let priority = self
            .config_maps
            .state()
            .into_iter()
            .find(|c| c.metadata.name.as_deref() == Some(PRIORITY_CONFIG_MAP));
        let snapshot = self.converters.snapshot(
            &Observed {
                nodes: &nodes,
                pods: &pods,
                pdbs: &pdbs,
                daemon_sets: &daemon_sets,
                priority_config: priority.as_deref(),
            },
            &groups,
            &self.memory,
            now,
        );
        let snapshot_time = t.elapsed();
        self.metrics.observe("updateClusterState", snapshot_time);

        let t = Instant::now();
        let options = self.memory.deletions.budget(&self.config.options);
        let plan = planner::plan(&snapshot, &options, now, &mut self.rng);
        let plan_time = t.elapsed();
        self.metrics.observe("scaleUp", plan_time);

        let t = Instant::now();
        let remover = self.remover();
        let actuator = Actuator {
            remover: &remover,
            now,
        };
        actuator
            .scale_up(&groups, &plan, &pods, &mut self.memory, &mut outcome)
            .await;
        actuator
            .scale_down(
                &groups,
                &plan,
                &nodes,
                &pods,
                &mut self.memory,
                &mut self.drains,
                &mut outcome,
            )
            .await;
        self.memory.remember_unneeded(&plan);
        self.not_triggered(&plan, &pods).await;
        let execute = t.elapsed();
        self.metrics.observe("scaleDown", execute);

        let t = Instant::now();
        let text = status::render(now, &snapshot, Some(&plan), &self.memory, None);
        self.write_status(text, now).await;
        self.update_metrics(&snapshot, &plan, &groups);
        self.converters.put_back(snapshot);
        let status_time = t.elapsed();
        let after = self.node_groups.calls();
        let report = LoopReport {
            refresh,
            snapshot: snapshot_time,
            plan_time,
            execute,
            status: status_time,
            calls: CallCount {
                describe: after.describe - before.describe,
                mutate: after.mutate - before.mutate,
            },
            deletions_in_flight: self.memory.deletions.len(),
            nodes: nodes.len(),
            pods: pods.len(),
            groups: groups.groups.len(),
            plan,
            outcome,
        };
        self.metrics.observe("main", report.total());
        self.metrics.activity("main");
        Ok(report)
    }

    /// `NotTriggerScaleUp` on a few of the pods no group can host (the dedupe window keeps it
    /// from repeating every loop).
    async fn not_triggered(&self, plan: &Plan, pods: &[Arc<Pod>]) {
        for u in plan.unschedulable.iter().take(20) {
            let found = pods.iter().find(|p| {
                p.metadata.name.as_deref() == Some(u.name.as_str())
                    && p.metadata.namespace.as_deref() == Some(u.namespace.as_str())
            });
            if let Some(pod) = found {
                self.recorder
                    .emit(
                        &reference(&**pod),
                        EventType::Normal,
                        "NotTriggerScaleUp",
                        &u.reason,
                    )
                    .await;
            }
        }
    }

    fn update_metrics(
        &self,
        snapshot: &planner::Snapshot,
        plan: &Plan,
        groups: &cloud::node_groups::Groups,
    ) {
        let m = &self.metrics;
        let ready = snapshot.nodes.iter().filter(|n| n.is_ready()).count();
        let label = |k: &'static str, v: &str| vec![(k, v.to_owned())];
        m.nodes_count
            .get_or_create(&label("state", "ready"))
            .set(ready as i64);
        m.nodes_count
            .get_or_create(&label("state", "unready"))
            .set((snapshot.nodes.len() - ready) as i64);
        m.cluster_safe_to_autoscale.set(1);
        m.unschedulable_pods_count.set(
            snapshot
                .pods
                .iter()
                .filter(|p| p.spec.node_name.is_none())
                .count() as i64,
        );
        m.unneeded_nodes_count.set(
            (plan
                .unremovable
                .iter()
                .filter(|u| u.unneeded_since.is_some())
                .count()
                + plan.scale_down.len()) as i64,
        );
        for g in &groups.groups {
            m.node_group_min_count
                .get_or_create(&label("node_group", &g.id))
                .set(i64::from(g.min_size));
            m.node_group_max_count
                .get_or_create(&label("node_group", &g.id))
                .set(i64::from(g.max_size));
            m.node_group_target_count
                .get_or_create(&label("node_group", &g.id))
                .set(i64::from(g.target_size));
        }
        let calls = self.node_groups.calls();
        m.cloud_provider_calls
            .get_or_create(&label("kind", "describe"))
            .set(calls.describe as i64);
        m.cloud_provider_calls
            .get_or_create(&label("kind", "mutate"))
            .set(calls.mutate as i64);
    }

    async fn write_status(&self, text: String, now: Timestamp) {
        if !self.config.write_status_config_map {
            return;
        }
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.config.namespace);
        let stamp = now.strftime("%Y-%m-%d %H:%M:%S%.f +0000 UTC").to_string();
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(STATUS_CONFIG_MAP.into()),
                namespace: Some(self.config.namespace.clone()),
                annotations: Some([(LAST_UPDATED_ANNOTATION.to_owned(), stamp)].into()),
                ..ObjectMeta::default()
            },
            data: Some([("status".to_owned(), text)].into()),
            ..ConfigMap::default()
        };
        let result = match api.get_opt(STATUS_CONFIG_MAP).await {
            Ok(Some(old)) => {
                let mut cm = cm;
                cm.metadata.resource_version = old.metadata.resource_version;
                api.replace(STATUS_CONFIG_MAP, &PostParams::default(), &cm)
                    .await
            }
            Ok(None) => api.create(&PostParams::default(), &cm).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "writing the status ConfigMap failed");
        }
    }
}

/// Whether a pod is one the autoscaler plans for as pending (re-exported for callers' checks).
pub fn pending_for_autoscaler(pod: &Pod) -> bool {
    is_unschedulable(pod)
}
