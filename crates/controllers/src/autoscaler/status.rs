//! The `kube-system/cluster-autoscaler-status` ConfigMap in cluster-autoscaler's format: the
//! YAML text under the `status` key, computed from a loop's snapshot and plan. Pure.
//!
//! ```text
//! time, autoscalerStatus
//! clusterWide: health{status, nodeCounts}, scaleUp{status}, scaleDown{status, candidates}
//! nodeGroups[]: name, health{status, nodeCounts, cloudProviderTarget, minSize, maxSize},
//!               scaleUp{status, backoffInfo?}, scaleDown{status, candidates}
//! ```

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use planner::Plan;
use planner::model::Snapshot;
use serde::Serialize;

use super::memory::Memory;

pub const STATUS_CONFIG_MAP: &str = "cluster-autoscaler-status";
/// The annotation cluster-autoscaler stamps on the status ConfigMap.
pub const LAST_UPDATED_ANNOTATION: &str = "cluster-autoscaler.kubernetes.io/last-updated";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    time: String,
    autoscaler_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    cluster_wide: ClusterWide,
    node_groups: Vec<GroupStatus>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterWide {
    health: Health,
    scale_up: ScaleUp,
    scale_down: ScaleDown,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    status: &'static str,
    node_counts: NodeCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloud_provider_target: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_size: Option<u32>,
    last_probe_time: String,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeCounts {
    registered: Registered,
    long_unregistered: u32,
    unregistered: u32,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
struct Registered {
    total: u32,
    ready: u32,
    not_started: u32,
    #[serde(skip_serializing_if = "is_zero")]
    unready: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ScaleUp {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    backoff_info: Option<BackoffInfo>,
    last_probe_time: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BackoffInfo {
    error_code: &'static str,
    error_message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ScaleDown {
    status: &'static str,
    #[serde(skip_serializing_if = "is_zero")]
    candidates: u32,
    last_probe_time: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupStatus {
    name: String,
    health: Health,
    scale_up: ScaleUp,
    scale_down: ScaleDown,
}

/// Go's `time.Time` format as cluster-autoscaler prints it.
fn go_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S%.f +0000 UTC").to_string()
}

/// cluster-autoscaler's health rule: unhealthy when more than 45% and more than 3 nodes are
/// not ready.
fn health(counts: &NodeCounts) -> &'static str {
    let total = counts.registered.total;
    let unready = total - counts.registered.ready;
    if unready > 3 && f64::from(unready) > 0.45 * f64::from(total) {
        "Unhealthy"
    } else {
        "Healthy"
    }
}

/// The status text for one loop; `error` is set when the loop failed before planning.
pub fn render(
    now: Timestamp,
    snapshot: &Snapshot,
    plan: Option<&Plan>,
    memory: &Memory,
    error: Option<&str>,
) -> String {
    let probe = go_time(now);
    let ready: HashMap<&str, bool> = snapshot
        .nodes
        .iter()
        .map(|n| (n.metadata.name.as_str(), n.is_ready()))
        .collect();
    let mut candidates: HashMap<&str, u32> = HashMap::new();
    let mut group_of: HashMap<&str, &str> = HashMap::new();
    for g in &snapshot.node_groups {
        for n in &g.node_names {
            group_of.insert(n, &g.id);
        }
    }
    if let Some(plan) = plan {
        let unneeded = plan
            .unremovable
            .iter()
            .filter(|u| u.unneeded_since.is_some())
            .map(|u| u.node.as_str())
            .chain(plan.scale_down.iter().map(|d| d.node.as_str()));
        for node in unneeded {
            if let Some(g) = group_of.get(node) {
                *candidates.entry(g).or_default() += 1;
            }
        }
    }
    let backoffs: BTreeMap<&str, Timestamp> = memory.backoffs(now).collect();
    let scaling_up_now: BTreeMap<&str, u32> = plan
        .map(|p| {
            p.scale_up
                .iter()
                .map(|s| (s.node_group.as_str(), s.delta))
                .collect()
        })
        .unwrap_or_default();

    let mut total = NodeCounts::default();
    for r in ready.values() {
        total.registered.total += 1;
        if *r {
            total.registered.ready += 1;
        } else {
            total.registered.unready += 1;
        }
    }
    let mut any_scale_up = !scaling_up_now.is_empty();
    let mut groups = Vec::new();
    for g in &snapshot.node_groups {
        let mut counts = NodeCounts::default();
        for n in &g.node_names {
            match ready.get(n.as_str()) {
                Some(true) => {
                    counts.registered.total += 1;
                    counts.registered.ready += 1;
                }
                Some(false) => {
                    counts.registered.total += 1;
                    counts.registered.not_started += 1;
                }
                None => counts.unregistered += 1,
            }
        }
        total.unregistered += counts.unregistered;
        let upcoming = g.target_size > counts.registered.total;
        let scale_up = match backoffs.get(g.id.as_str()) {
            Some(until) => ScaleUp {
                status: "Backoff",
                backoff_info: Some(BackoffInfo {
                    error_code: "CloudProviderError",
                    error_message: format!("scale-up failed; backed off until {}", go_time(*until)),
                }),
                last_probe_time: probe.clone(),
            },
            None if upcoming || scaling_up_now.contains_key(g.id.as_str()) => {
                any_scale_up = true;
                ScaleUp {
                    status: "InProgress",
                    backoff_info: None,
                    last_probe_time: probe.clone(),
                }
            }
            None => ScaleUp {
                status: "NoActivity",
                backoff_info: None,
                last_probe_time: probe.clone(),
            },
        };
        let c = candidates.get(g.id.as_str()).copied().unwrap_or(0);
        groups.push(GroupStatus {
            name: g.id.clone(),
            health: Health {
                status: health(&counts),
                node_counts: counts,
                cloud_provider_target: Some(g.target_size),
                min_size: Some(g.min_size),
                max_size: Some(g.max_size),
                last_probe_time: probe.clone(),
            },
            scale_up,
            scale_down: scale_down(c, &probe),
        });
    }
    let all_candidates = candidates.values().sum();
    let status = Status {
        time: probe.clone(),
        autoscaler_status: if error.is_some() {
            "Initializing"
        } else {
            "Running"
        },
        message: error.map(str::to_owned),
        cluster_wide: ClusterWide {
            health: Health {
                status: health(&total),
                node_counts: total,
                cloud_provider_target: None,
                min_size: None,
                max_size: None,
                last_probe_time: probe.clone(),
            },
            scale_up: ScaleUp {
                status: if any_scale_up {
                    "InProgress"
                } else {
                    "NoActivity"
                },
                backoff_info: None,
                last_probe_time: probe.clone(),
            },
            scale_down: scale_down(all_candidates, &probe),
        },
        node_groups: groups,
    };
    serde_saphyr::to_string(&status).unwrap_or_else(|e| format!("error: {e}\n"))
}

fn scale_down(candidates: u32, probe: &str) -> ScaleDown {
    ScaleDown {
        status: if candidates > 0 {
            "CandidatesPresent"
        } else {
            "NoCandidates"
        },
        candidates,
        last_probe_time: probe.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use planner::model::{NodeGroup, Snapshot};
    use rand::SeedableRng;

    use super::*;

    fn snapshot() -> Snapshot {
        let json = serde_json::json!({
            "nodes": [
                {"metadata": {"name": "n1"}, "status": {"allocatable": {"cpu": "4", "memory": "16Gi"},
                  "conditions": [{"type": "Ready", "status": "True"}]}},
                {"metadata": {"name": "n2"}, "status": {"allocatable": {"cpu": "4", "memory": "16Gi"},
                  "conditions": [{"type": "Ready", "status": "False"}]}}
            ],
            "nodeGroups": [{"id": "asg-1", "minSize": 1, "maxSize": 5, "targetSize": 3,
                            "nodeNames": ["n1", "n2", "cn-hangzhou.i-3"],
                            "template": {"status": {"allocatable": {"cpu": "4", "memory": "16Gi"}}}}]
        });
        let s: Snapshot = serde_json::from_value(json).unwrap();
        let _: &NodeGroup = &s.node_groups[0];
        s
    }

    #[test]
    fn the_status_counts_registered_ready_and_unregistered_nodes_per_group() {
        let s = snapshot();
        let now = Timestamp::UNIX_EPOCH;
        let plan = planner::plan(
            &s,
            &planner::Options::default(),
            now,
            &mut rand::rngs::SmallRng::seed_from_u64(1),
        );
        let text = render(now, &s, Some(&plan), &Memory::default(), None);
        let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(v["autoscalerStatus"], "Running");
        assert_eq!(v["time"], "1970-01-01 00:00:00 +0000 UTC");
        let g = &v["nodeGroups"][0];
        assert_eq!(g["name"], "asg-1");
        assert_eq!(g["health"]["cloudProviderTarget"], 3);
        assert_eq!(g["health"]["nodeCounts"]["registered"]["total"], 2);
        assert_eq!(g["health"]["nodeCounts"]["registered"]["ready"], 1);
        assert_eq!(g["health"]["nodeCounts"]["registered"]["notStarted"], 1);
        assert_eq!(g["health"]["nodeCounts"]["unregistered"], 1);
        assert_eq!(g["scaleUp"]["status"], "InProgress");
        assert_eq!(v["clusterWide"]["health"]["status"], "Healthy");
    }

    #[test]
    fn a_backed_off_group_says_so_and_an_error_is_reported() {
        let s = snapshot();
        let now = Timestamp::UNIX_EPOCH;
        let mut m = Memory::default();
        m.scale_up_failed("asg-1", now);
        let text = render(now, &s, None, &m, Some("cloud provider refresh failed"));
        let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(v["nodeGroups"][0]["scaleUp"]["status"], "Backoff");
        assert_eq!(v["autoscalerStatus"], "Initializing");
        assert_eq!(v["message"], "cloud provider refresh failed");
    }
}
