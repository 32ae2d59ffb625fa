//! What `/metrics` exposes (Prometheus text format): requests by route and status, their
//! latency, and operation steps and outcomes. One explicit registry per server, nothing global,
//! so two servers in one test process do not share counters.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route's pattern (`/api/v1/orgs/{orgId}/clusters`), not the path: bounded cardinality.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    kind: String,
    step: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    kind: String,
    outcome: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs to about 3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// The server's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RouteLabels>,
    steps: Family<StepLabels, Counter>,
    outcomes: Family<OutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ackctl");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let steps = Family::<StepLabels, Counter>::default();
        let outcomes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "http_requests",
            "API requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "API request latency by method and route",
            latency.clone(),
        );
        registry.register(
            "operation_steps",
            "Operation steps run, by operation kind and step",
            steps.clone(),
        );
        registry.register(
            "operations_finished",
            "Operations finished, by kind and outcome (succeeded, failed)",
            outcomes.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            requests,
            latency,
            steps,
            outcomes,
        }
    }

    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn record_step(&self, kind: &str, step: &str) {
        self.steps
            .get_or_create(&StepLabels {
                kind: kind.to_owned(),
                step: step.to_owned(),
            })
            .inc();
    }

    pub fn record_outcome(&self, kind: &str, outcome: &str) {
        self.outcomes
            .get_or_create(&OutcomeLabels {
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_operations_show_up_in_the_exposition() {
        let m = Metrics::new();
        m.record_request("GET", "/healthz", 200, Duration::from_millis(2));
        m.record_outcome("create-cluster", "succeeded");
        let text = m.render();
        assert!(
            text.contains(
                r#"ackctl_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"ackctl_operations_finished_total{kind="create-cluster",outcome="succeeded"} 1"#
            ),
            "{text}"
        );
    }
}
