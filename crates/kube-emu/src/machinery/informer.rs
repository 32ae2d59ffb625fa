//! The machinery's view of the cluster: the objects the controllers read, kept current from
//! the API server's change feed instead of listing on every pass, plus the indexes they look
//! things up by (owner uid → dependents, node → pods, uid → object).
//!
//! ```text
//!   ApiServer ── Change ──▶ Informer::apply ──▶ objects by type, indexes
//!                                   └─────────▶ returns what changed (old, new) for the
//!                                               caller to mark controllers dirty
//! ```
//! A change older than what the cache holds (seen again after a resync) is ignored, so a
//! subscription taken before a list, followed by the list, converges without gaps.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::resources::{RESOURCES, ResourceType};
use crate::store::EventType;

/// (namespace, name); the namespace is empty for cluster-scoped objects.
pub type Key = (String, String);

/// The resource types the controllers cache, by position in this enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Node,
    Pod,
    Deployment,
    ReplicaSet,
    DaemonSet,
}

impl Kind {
    /// The cached kind of a resource type, if it is one.
    pub fn of(rt: &ResourceType) -> Option<Kind> {
        match (rt.group, rt.plural) {
            ("", "nodes") => Some(Kind::Node),
            ("", "pods") => Some(Kind::Pod),
            ("apps", "deployments") => Some(Kind::Deployment),
            ("apps", "replicasets") => Some(Kind::ReplicaSet),
            ("apps", "daemonsets") => Some(Kind::DaemonSet),
            _ => None,
        }
    }

    /// The `kind` an ownerReference names it by.
    pub fn from_owner_kind(kind: &str) -> Option<Kind> {
        match kind {
            "Node" => Some(Kind::Node),
            "Pod" => Some(Kind::Pod),
            "Deployment" => Some(Kind::Deployment),
            "ReplicaSet" => Some(Kind::ReplicaSet),
            "DaemonSet" => Some(Kind::DaemonSet),
            _ => None,
        }
    }
}

/// A dependent in the ownership index: (index into `RESOURCES`, namespace, name).
pub type Dependent = (usize, String, String);

fn type_index(rt: &ResourceType) -> usize {
    RESOURCES
        .iter()
        .position(|r| std::ptr::eq(r, rt))
        .unwrap_or(usize::MAX)
}

/// What one applied change did, for the caller's bookkeeping.
#[derive(Debug)]
pub struct Applied {
    pub kind: Option<Kind>,
    pub key: Key,
    pub old: Option<Arc<Value>>,
    /// None when the object is gone.
    pub new: Option<Arc<Value>>,
}

fn rv_of(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn owner_uids(obj: &Value) -> Vec<String> {
    owner_uid_strs(obj).map(str::to_string).collect()
}

fn owner_uid_strs(obj: &Value) -> impl Iterator<Item = &str> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["uid"].as_str())
}

/// The cached objects and their indexes.
#[derive(Debug, Default)]
pub struct Informer {
    objects: [BTreeMap<Key, Arc<Value>>; 5],
    /// uid → (kind, key) of every cached object.
    uids: HashMap<String, (Kind, Key)>,
    /// owner uid → objects of any type that name it in ownerReferences.
    dependents: HashMap<String, BTreeSet<Dependent>>,
    /// node name → pods bound to it.
    pods_by_node: HashMap<String, BTreeSet<Key>>,
}

impl Informer {
    /// Objects of one kind.
    pub fn all(&self, kind: Kind) -> &BTreeMap<Key, Arc<Value>> {
        &self.objects[kind as usize]
    }

    /// One object.
    pub fn get(&self, kind: Kind, key: &Key) -> Option<&Arc<Value>> {
        self.objects[kind as usize].get(key)
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<&Arc<Value>> {
        self.objects[Kind::Node as usize].get(&(String::new(), name.to_string()))
    }

    /// The cached object with this uid.
    pub fn by_uid(&self, uid: &str) -> Option<(Kind, &Key)> {
        self.uids.get(uid).map(|(k, key)| (*k, key))
    }

    /// Whether the owner a reference names is known to be gone: a kind this cache holds, with
    /// no object of that uid. Owners of other kinds are never presumed gone.
    pub fn owner_gone(&self, owner_ref: &Value) -> bool {
        let Some(kind) = owner_ref["kind"].as_str().and_then(Kind::from_owner_kind) else {
            return false;
        };
        let uid = owner_ref["uid"].as_str().unwrap_or("");
        self.uids.get(uid).is_none_or(|(k, _)| *k != kind)
    }

    /// Objects whose ownerReferences name `uid`.
    pub fn dependents(&self, uid: &str) -> impl Iterator<Item = &Dependent> {
        self.dependents.get(uid).into_iter().flatten()
    }

    /// Cached objects of `kind` whose controller (or any) owner is `uid`.
    pub fn owned(&self, kind: Kind, uid: &str) -> Vec<&Arc<Value>> {
        let Some(deps) = self.dependents.get(uid) else {
            return Vec::new();
        };
        let plural = match kind {
            Kind::Pod => "pods",
            Kind::ReplicaSet => "replicasets",
            Kind::Node => "nodes",
            Kind::Deployment => "deployments",
            Kind::DaemonSet => "daemonsets",
        };
        // One key buffer for every lookup: no allocation per dependent.
        let mut key: Key = (String::new(), String::new());
        let map = &self.objects[kind as usize];
        deps.iter()
            .filter(|(t, _, _)| RESOURCES.get(*t).is_some_and(|r| r.plural == plural))
            .filter_map(|(_, ns, name)| {
                key.0.clear();
                key.0.push_str(ns);
                key.1.clear();
                key.1.push_str(name);
                map.get(&key)
            })
            .collect()
    }

    /// Pods bound to `node`.
    pub fn pods_on(&self, node: &str) -> Vec<&Arc<Value>> {
        self.pods_by_node
            .get(node)
            .into_iter()
            .flatten()
            .filter_map(|k| self.objects[Kind::Pod as usize].get(k))
            .collect()
    }

    /// Forgets everything (before a full resync).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Applies one change; None when it is older than what the cache holds.
    pub fn apply(
        &mut self,
        rt: &'static ResourceType,
        event: EventType,
        obj: &Arc<Value>,
    ) -> Option<Applied> {
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        let key: Key = (if rt.namespaced { ns } else { String::new() }, name);
        let kind = Kind::of(rt);
        let rv = rv_of(obj);
        let mut old = None;
        if let Some(k) = kind {
            let map = &mut self.objects[k as usize];
            if let Some(cur) = map.get(&key)
                && rv_of(cur) >= rv
            {
                return None;
            }
            old = if event == EventType::Deleted {
                map.remove(&key)
            } else {
                map.insert(key.clone(), obj.clone())
            };
            if let Some(o) = &old
                && let Some(uid) = o["metadata"]["uid"].as_str()
            {
                self.uids.remove(uid);
            }
            if event != EventType::Deleted
                && let Some(uid) = obj["metadata"]["uid"].as_str()
            {
                self.uids.insert(uid.to_string(), (k, key.clone()));
            }
            if k == Kind::Pod {
                let node_of = |p: &Value| {
                    p["spec"]["nodeName"]
                        .as_str()
                        .filter(|n| !n.is_empty())
                        .map(str::to_string)
                };
                if let Some(n) = old.as_deref().and_then(node_of)
                    && let Some(set) = self.pods_by_node.get_mut(&n)
                {
                    set.remove(&key);
                    if set.is_empty() {
                        self.pods_by_node.remove(&n);
                    }
                }
                if event != EventType::Deleted
                    && let Some(n) = node_of(obj)
                {
                    self.pods_by_node.entry(n).or_default().insert(key.clone());
                }
            }
        }
        // The ownership index covers every type, cached or not.
        let deleted = event == EventType::Deleted;
        // Most changes keep the owners: compare them before copying any.
        let same_owners = match old.as_deref() {
            Some(o) if !deleted => owner_uid_strs(o).eq(owner_uid_strs(obj)),
            Some(o) => owner_uid_strs(o).next().is_none(),
            None => deleted || owner_uid_strs(obj).next().is_none(),
        };
        // Uncached types have no `old`: their owners are (re)indexed whenever they have any.
        if !same_owners || (kind.is_none() && owner_uid_strs(obj).next().is_some()) {
            let dep: Dependent = (type_index(rt), key.0.clone(), key.1.clone());
            let before = old.as_deref().map(owner_uids).unwrap_or_default();
            let after = if deleted { Vec::new() } else { owner_uids(obj) };
            for uid in &before {
                if let Some(set) = self.dependents.get_mut(uid) {
                    set.remove(&dep);
                    if set.is_empty() {
                        self.dependents.remove(uid);
                    }
                }
            }
            if kind.is_none() && event == EventType::Deleted {
                for uid in owner_uids(obj) {
                    if let Some(set) = self.dependents.get_mut(&uid) {
                        set.remove(&dep);
                        if set.is_empty() {
                            self.dependents.remove(&uid);
                        }
                    }
                }
            }
            for uid in after {
                self.dependents.entry(uid).or_default().insert(dep.clone());
            }
        }
        Some(Applied {
            kind,
            key,
            old,
            new: (event != EventType::Deleted).then(|| obj.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;
    use serde_json::json;

    fn pod(name: &str, rv: u64, node: Option<&str>, owner: Option<&str>) -> Arc<Value> {
        let mut p = json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                                        "resourceVersion": rv.to_string()}, "spec": {}});
        if let Some(n) = node {
            p["spec"]["nodeName"] = json!(n);
        }
        if let Some(o) = owner {
            p["metadata"]["ownerReferences"] =
                json!([{"kind": "ReplicaSet", "uid": o, "controller": true}]);
        }
        Arc::new(p)
    }

    #[test]
    fn stale_changes_are_ignored_and_indexes_follow_updates() {
        let pods = lookup("", "pods").unwrap();
        let mut inf = Informer::default();
        assert!(
            inf.apply(pods, EventType::Added, &pod("a", 5, None, Some("rs1")))
                .is_some()
        );
        assert!(
            inf.apply(pods, EventType::Modified, &pod("a", 4, Some("n1"), None))
                .is_none()
        );
        assert_eq!(inf.owned(Kind::Pod, "rs1").len(), 1);
        inf.apply(
            pods,
            EventType::Modified,
            &pod("a", 6, Some("n1"), Some("rs1")),
        );
        assert_eq!(inf.pods_on("n1").len(), 1);
        inf.apply(
            pods,
            EventType::Deleted,
            &pod("a", 7, Some("n1"), Some("rs1")),
        );
        assert!(inf.pods_on("n1").is_empty());
        assert_eq!(inf.owned(Kind::Pod, "rs1").len(), 0);
        assert!(inf.by_uid("uid-a").is_none());
    }

    #[test]
    fn an_owner_of_a_cached_kind_without_an_object_is_gone() {
        let inf = Informer::default();
        assert!(inf.owner_gone(&json!({"kind": "ReplicaSet", "uid": "x"})));
        assert!(!inf.owner_gone(&json!({"kind": "Job", "uid": "x"})));
    }
}
