//! cluster-autoscaler's Prometheus metrics (prefix `cluster_autoscaler_`), kept in an explicit
//! registry, and the `/metrics` and `/health-check` endpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// The metrics one autoscaler updates.
pub struct Metrics {
    registry: Registry,
    pub cluster_safe_to_autoscale: Gauge,
    pub nodes_count: Family<Labels, Gauge>,
    pub unschedulable_pods_count: Gauge,
    pub node_group_min_count: Family<Labels, Gauge>,
    pub node_group_max_count: Family<Labels, Gauge>,
    pub node_group_target_count: Family<Labels, Gauge>,
    pub unneeded_nodes_count: Gauge,
    pub scaled_up_nodes: Counter,
    pub failed_scale_ups: Family<Labels, Counter>,
    pub scaled_down_nodes: Family<Labels, Counter>,
    pub evicted_pods: Counter,
    pub errors: Family<Labels, Counter>,
    pub last_activity: Family<Labels, Gauge>,
    pub function_duration_seconds: Family<Labels, Histogram>,
    /// Ours: cloud API calls made, by kind (`describe`, `mutate`).
    pub cloud_provider_calls: Family<Labels, Gauge>,
    /// Unix seconds of the last finished loop, for `/health-check`.
    last_loop: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("cluster_autoscaler");
        let m = Self {
            cluster_safe_to_autoscale: Gauge::default(),
            nodes_count: Family::default(),
            unschedulable_pods_count: Gauge::default(),
            node_group_min_count: Family::default(),
            node_group_max_count: Family::default(),
            node_group_target_count: Family::default(),
            unneeded_nodes_count: Gauge::default(),
            scaled_up_nodes: Counter::default(),
            failed_scale_ups: Family::default(),
            scaled_down_nodes: Family::default(),
            evicted_pods: Counter::default(),
            errors: Family::default(),
            last_activity: Family::default(),
            function_duration_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0005, 2.0, 20))
            }),
            cloud_provider_calls: Family::default(),
            last_loop: AtomicI64::new(0),
            registry: Registry::default(),
        };
        registry.register(
            "cluster_safe_to_autoscale",
            "Whether the cluster is healthy enough for autoscaling",
            m.cluster_safe_to_autoscale.clone(),
        );
        registry.register(
            "nodes_count",
            "Number of nodes in the cluster, by state",
            m.nodes_count.clone(),
        );
        registry.register(
            "unschedulable_pods_count",
            "Number of unschedulable pods in the cluster",
            m.unschedulable_pods_count.clone(),
        );
        registry.register(
            "node_group_min_count",
            "Minimum number of nodes in the node group",
            m.node_group_min_count.clone(),
        );
        registry.register(
            "node_group_max_count",
            "Maximum number of nodes in the node group",
            m.node_group_max_count.clone(),
        );
        registry.register(
            "node_group_target_count",
            "Target number of nodes in the node group",
            m.node_group_target_count.clone(),
        );
        registry.register(
            "unneeded_nodes_count",
            "Number of nodes currently considered unneeded",
            m.unneeded_nodes_count.clone(),
        );
        registry.register(
            "scaled_up_nodes",
            "Number of nodes added",
            m.scaled_up_nodes.clone(),
        );
        registry.register(
            "failed_scale_ups",
            "Number of times scale-up operation has failed",
            m.failed_scale_ups.clone(),
        );
        registry.register(
            "scaled_down_nodes",
            "Number of nodes removed",
            m.scaled_down_nodes.clone(),
        );
        registry.register(
            "evicted_pods",
            "Number of pods evicted",
            m.evicted_pods.clone(),
        );
        registry.register(
            "errors",
            "The number of errors encountered in the main loop",
            m.errors.clone(),
        );
        registry.register(
            "last_activity",
            "Last time certain part of the autoscaler logic executed",
            m.last_activity.clone(),
        );
        registry.register(
            "function_duration_seconds",
            "Time taken by various parts of the main loop",
            m.function_duration_seconds.clone(),
        );
        registry.register(
            "cloud_provider_calls",
            "Cloud API calls made so far, by kind",
            m.cloud_provider_calls.clone(),
        );
        Self { registry, ..m }
    }

    pub fn observe(&self, function: &'static str, d: Duration) {
        self.function_duration_seconds
            .get_or_create(&vec![("function", function.to_owned())])
            .observe(d.as_secs_f64());
    }

    pub fn activity(&self, activity: &'static str) {
        let now = jiff::Timestamp::now().as_second();
        self.last_activity
            .get_or_create(&vec![("activity", activity.to_owned())])
            .set(now);
        if activity == "main" {
            self.last_loop.store(now, Ordering::Relaxed);
        }
    }

    /// The registry in Prometheus' text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// Seconds since the last finished loop (None before the first).
    pub fn since_last_loop(&self) -> Option<i64> {
        let last = self.last_loop.load(Ordering::Relaxed);
        (last > 0).then(|| jiff::Timestamp::now().as_second() - last)
    }
}

/// `/metrics` and `/health-check` (unhealthy when no loop finished within `max_inactivity`,
/// counted from start-up until the first loop).
pub fn router(metrics: Arc<Metrics>, max_inactivity: Duration) -> Router {
    let started = jiff::Timestamp::now().as_second();
    Router::new()
        .route(
            "/metrics",
            get(|State(m): State<Arc<Metrics>>| async move {
                (
                    [(
                        "content-type",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    m.encode(),
                )
            }),
        )
        .route(
            "/health-check",
            get(move |State(m): State<Arc<Metrics>>| async move {
                let idle = m
                    .since_last_loop()
                    .unwrap_or_else(|| jiff::Timestamp::now().as_second() - started);
                if idle <= i64::try_from(max_inactivity.as_secs()).unwrap_or(i64::MAX) {
                    (StatusCode::OK, "OK".to_owned())
                } else {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("no autoscaler loop finished in the last {idle}s"),
                    )
                }
            }),
        )
        .with_state(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_carry_cluster_autoscaler_names() {
        let m = Metrics::new();
        m.scaled_up_nodes.inc_by(3);
        m.node_group_target_count
            .get_or_create(&vec![("node_group", "asg-1".to_owned())])
            .set(4);
        m.observe("main", Duration::from_millis(3));
        let text = m.encode();
        assert!(
            text.contains("cluster_autoscaler_scaled_up_nodes_total 3"),
            "{text}"
        );
        assert!(
            text.contains("cluster_autoscaler_node_group_target_count{node_group=\"asg-1\"} 4"),
            "{text}"
        );
        assert!(
            text.contains("cluster_autoscaler_function_duration_seconds_bucket"),
            "{text}"
        );
    }
}
