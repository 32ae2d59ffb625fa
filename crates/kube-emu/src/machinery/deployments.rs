//! The Deployment controller's decisions, pure: the pod-template hash, which ReplicaSet is the
//! new one, how many replicas each ReplicaSet gets during a rolling update, and the status
//! `kubectl rollout status` and `kubectl get deploy` read. Follows
//! `pkg/controller/deployment/{rolling,sync,util}` of kube-controller-manager.
//!
//! ```text
//!   Deployment ─ template hash ─▶ new RS "<name>-<hash>"  (created with the rollout's first step)
//!              ─ rolling math ───▶ new RS up by at most maxSurge over replicas,
//!                                  old RSs down while available stays ≥ replicas − maxUnavailable
//!              ─ status ─────────▶ replicas / updated / ready / available, conditions
//! ```
//! Not emulated: proportional scaling of several live ReplicaSets when a Deployment is resized
//! mid-rollout (the new ReplicaSet takes the difference), `minReadySeconds` (ready counts as
//! available at once), pause/resume, progress deadlines, and template-hash collisions.

use serde_json::{Value, json};

use crate::clock::rfc3339;

pub const HASH_LABEL: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

/// `rand.SafeEncodeString` alphabet, which turns a hash into a valid name and label.
const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The pod-template hash: FNV-32a over the template, printed in decimal and then mapped
/// through the safe alphabet digit by digit, as `controller.ComputeHash` does (the bytes
/// hashed differ from Go's object dump, so the values differ from a real cluster's).
pub fn template_hash(template: &Value) -> String {
    let mut t = template.clone();
    if let Some(l) = t["metadata"]["labels"].as_object_mut() {
        l.remove(HASH_LABEL);
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in canonical(&t).bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.to_string()
        .bytes()
        .map(|b| SAFE[usize::from(b) % SAFE.len()] as char)
        .collect()
}

/// serde_json objects keep keys sorted, so this is canonical.
fn canonical(v: &Value) -> String {
    v.to_string()
}

/// Whether a ReplicaSet's template is the Deployment's (ignoring the hash label).
pub fn same_template(rs_template: &Value, d_template: &Value) -> bool {
    let strip = |t: &Value| {
        let mut t = t.clone();
        if let Some(l) = t["metadata"]["labels"].as_object_mut() {
            l.remove(HASH_LABEL);
            if l.is_empty() {
                t["metadata"].as_object_mut().map(|m| m.remove("labels"));
            }
        }
        t
    };
    strip(rs_template) == strip(d_template)
}

/// An int-or-percent field, resolved against `total`, rounding up or down.
fn resolve(v: &Value, total: i64, default: &str, round_up: bool) -> i64 {
    let v = if v.is_null() {
        json!(default)
    } else {
        v.clone()
    };
    match &v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => {
            let p: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            if round_up {
                (p * total + 99) / 100
            } else {
                p * total / 100
            }
        }
        _ => 0,
    }
}

/// (maxSurge, maxUnavailable) of a RollingUpdate Deployment; both zero is made 1 unavailable,
/// as `ResolveFenceposts` does.
pub fn fenceposts(deploy: &Value) -> (i64, i64) {
    let replicas = deploy["spec"]["replicas"].as_i64().unwrap_or(1);
    let ru = &deploy["spec"]["strategy"]["rollingUpdate"];
    let surge = resolve(&ru["maxSurge"], replicas, "25%", true);
    let unavailable = resolve(&ru["maxUnavailable"], replicas, "25%", false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// One ReplicaSet as the rollout math sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RsCounts {
    /// `spec.replicas`.
    pub spec: i64,
    /// `status.availableReplicas`.
    pub available: i64,
}

/// The new ReplicaSet's next size (`NewRSNewReplicas`).
pub fn new_rs_replicas(replicas: i64, surge: i64, all: &[RsCounts], new: RsCounts) -> i64 {
    if new.spec >= replicas {
        return replicas;
    }
    let current: i64 = all.iter().map(|r| r.spec).sum();
    let max_total = replicas + surge;
    if current >= max_total {
        return new.spec;
    }
    new.spec + (max_total - current).min(replicas - new.spec)
}

/// How far old ReplicaSets (oldest first) may shrink now (`reconcileOldReplicaSets`): unhealthy
/// replicas first, then available ones while availability stays above the floor. Returns the
/// new `spec.replicas` of each old ReplicaSet.
pub fn scale_down_old(
    replicas: i64,
    unavailable: i64,
    old: &[RsCounts],
    new: RsCounts,
    new_status_available: i64,
) -> Vec<i64> {
    let mut sizes: Vec<i64> = old.iter().map(|r| r.spec).collect();
    let old_total: i64 = sizes.iter().sum();
    if old_total == 0 {
        return sizes;
    }
    let all_total = old_total + new.spec;
    let min_available = replicas - unavailable;
    let new_unavailable = new.spec - new_status_available;
    let mut budget = all_total - min_available - new_unavailable;
    if budget <= 0 {
        return sizes;
    }
    // Unhealthy replicas of old sets go first; they cost no availability.
    for (i, r) in old.iter().enumerate() {
        if budget <= 0 {
            break;
        }
        let unhealthy = (sizes[i] - r.available).max(0);
        let cut = unhealthy.min(budget);
        sizes[i] -= cut;
        budget -= cut;
    }
    let available: i64 = old
        .iter()
        .zip(&sizes)
        .map(|(r, s)| r.available.min(*s))
        .sum::<i64>()
        + new_status_available;
    let mut down = available - min_available;
    for size in sizes.iter_mut() {
        if down <= 0 {
            break;
        }
        let cut = (*size).min(down);
        *size -= cut;
        down -= cut;
    }
    sizes
}

/// The ReplicaSet a Deployment's template becomes.
pub fn replicaset_for(deploy: &Value, hash: &str, replicas: i64, revision: i64) -> Value {
    let name = deploy["metadata"]["name"].as_str().unwrap_or("");
    let mut template = deploy["spec"]["template"].clone();
    template["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut selector = deploy["spec"]["selector"].clone();
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let (surge, _) = fenceposts(deploy);
    let d_replicas = deploy["spec"]["replicas"].as_i64().unwrap_or(1);
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{name}-{hash}"),
            "labels": template["metadata"]["labels"].clone(),
            "annotations": {REVISION: revision.to_string(), DESIRED: d_replicas.to_string(),
                            MAX_REPLICAS: (d_replicas + surge).to_string()},
            "ownerReferences": [owner_ref(deploy, "Deployment")],
        },
        "spec": {"replicas": replicas, "minReadySeconds": deploy["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
                 "selector": selector, "template": template},
    })
}

/// A controller owner reference to `owner`.
pub fn owner_ref(owner: &Value, kind: &str) -> Value {
    json!({"apiVersion": owner["apiVersion"].as_str().unwrap_or("apps/v1"), "kind": kind,
           "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
           "controller": true, "blockOwnerDeletion": true})
}

/// Counts the status sums over a Deployment's ReplicaSets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub replicas: i64,
    pub updated: i64,
    pub ready: i64,
    pub available: i64,
}

/// The Deployment's status. `old` is its current status (conditions keep their times while
/// they hold); `new_rs` names the new ReplicaSet, if it exists.
pub fn deployment_status(
    deploy: &Value,
    t: Totals,
    new_rs: Option<&str>,
    complete: bool,
    now_ms: i64,
) -> Value {
    let replicas = deploy["spec"]["replicas"].as_i64().unwrap_or(1);
    let (_, unavailable) = fenceposts(deploy);
    let old = &deploy["status"];
    let now = rfc3339(now_ms);
    let keep = |kind: &str, status: &str, reason: &str, message: String| {
        let prev = old["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == kind);
        let transition = prev
            .filter(|c| c["status"] == status)
            .map_or(json!(now), |c| c["lastTransitionTime"].clone());
        let update = prev
            .filter(|c| {
                c["status"] == status && c["reason"] == reason && c["message"] == message.as_str()
            })
            .map_or(json!(now), |c| c["lastUpdateTime"].clone());
        json!({"type": kind, "status": status, "lastUpdateTime": update,
               "lastTransitionTime": transition, "reason": reason, "message": message})
    };
    let available = if t.available >= replicas - unavailable {
        keep(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
        )
    } else {
        keep(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
        )
    };
    let rs = new_rs.unwrap_or("");
    let progressing = if complete {
        keep(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            format!("ReplicaSet \"{rs}\" has successfully progressed."),
        )
    } else {
        keep(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            format!("ReplicaSet \"{rs}\" is progressing."),
        )
    };
    let mut status = json!({
        "observedGeneration": deploy["metadata"]["generation"].as_i64().unwrap_or(1),
        "replicas": t.replicas, "updatedReplicas": t.updated, "readyReplicas": t.ready,
        "availableReplicas": t.available,
        "conditions": [available, progressing],
    });
    let unavail = (replicas - t.available).max(0);
    if unavail > 0 {
        status["unavailableReplicas"] = json!(unavail);
    }
    // The real status omits zero counts (omitempty).
    for k in [
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
    ] {
        if status[k] == 0 {
            status.as_object_mut().map(|m| m.remove(k));
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "uid": "u1", "generation": 2},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}})
    }

    #[test]
    fn the_template_hash_is_safe_encoded_and_ignores_its_own_label() {
        let d = deploy(3);
        let h = template_hash(&d["spec"]["template"]);
        assert!(h.len() >= 8 && h.len() <= 10, "{h}");
        assert!(h.bytes().all(|b| SAFE.contains(&b)), "{h}");
        let mut t = d["spec"]["template"].clone();
        t["metadata"]["labels"][HASH_LABEL] = json!(h.clone());
        assert_eq!(template_hash(&t), h);
        assert!(same_template(&t, &d["spec"]["template"]));
        t["spec"]["containers"][0]["image"] = json!("nginx:1.26");
        assert_ne!(template_hash(&t), h);
    }

    #[test]
    fn default_fenceposts_are_25_percent_surge_up_and_unavailable_down() {
        assert_eq!(fenceposts(&deploy(4)), (1, 1));
        assert_eq!(fenceposts(&deploy(10)), (3, 2));
        assert_eq!(fenceposts(&deploy(1)), (1, 0));
        let mut d = deploy(3);
        d["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}});
        assert_eq!(fenceposts(&d), (0, 1));
    }

    #[test]
    fn a_rolling_update_surges_then_drains_old_replicas_as_new_ones_become_available() {
        let (replicas, surge, unavailable) = (4, 1, 1);
        let old = RsCounts {
            spec: 4,
            available: 4,
        };
        let new = RsCounts::default();
        // Step 1: the new set may add one over the total.
        assert_eq!(new_rs_replicas(replicas, surge, &[old, new], new), 1);
        let new = RsCounts {
            spec: 1,
            available: 0,
        };
        // Old may drop one while the new replica is not available yet (4 - 1 = 3 stays).
        assert_eq!(
            scale_down_old(replicas, unavailable, &[old], new, 0),
            vec![3]
        );
        let old = RsCounts {
            spec: 3,
            available: 3,
        };
        assert_eq!(new_rs_replicas(replicas, surge, &[old, new], new), 2);
        // Once the new replicas are available, old ones drain further.
        let new = RsCounts {
            spec: 2,
            available: 2,
        };
        assert_eq!(
            scale_down_old(replicas, unavailable, &[old], new, 2),
            vec![1]
        );
    }

    #[test]
    fn unhealthy_old_replicas_go_first() {
        let old = [
            RsCounts {
                spec: 2,
                available: 0,
            },
            RsCounts {
                spec: 2,
                available: 2,
            },
        ];
        let new = RsCounts {
            spec: 1,
            available: 1,
        };
        assert_eq!(scale_down_old(4, 1, &old, new, 1), vec![0, 2]);
    }

    #[test]
    fn a_replicaset_carries_the_hash_in_name_labels_and_selector() {
        let d = deploy(2);
        let rs = replicaset_for(&d, "7997f8864c", 2, 1);
        assert_eq!(rs["metadata"]["name"], "web-7997f8864c");
        assert_eq!(
            rs["spec"]["selector"]["matchLabels"][HASH_LABEL],
            "7997f8864c"
        );
        assert_eq!(
            rs["spec"]["template"]["metadata"]["labels"][HASH_LABEL],
            "7997f8864c"
        );
        assert_eq!(rs["metadata"]["ownerReferences"][0]["uid"], "u1");
        assert_eq!(rs["metadata"]["annotations"][REVISION], "1");
    }

    #[test]
    fn status_reports_what_rollout_status_reads() {
        let d = deploy(2);
        let t = Totals {
            replicas: 2,
            updated: 2,
            ready: 2,
            available: 2,
        };
        let s = deployment_status(&d, t, Some("web-abc"), true, 0);
        assert_eq!(s["observedGeneration"], 2);
        assert_eq!(s["availableReplicas"], 2);
        assert_eq!(s["conditions"][0]["status"], "True");
        assert_eq!(s["conditions"][1]["reason"], "NewReplicaSetAvailable");
        let s = deployment_status(&d, Totals::default(), Some("web-abc"), false, 0);
        assert_eq!(s["unavailableReplicas"], 2);
        assert!(s.get("replicas").is_none());
        assert_eq!(s["conditions"][0]["reason"], "MinimumReplicasUnavailable");
    }
}
