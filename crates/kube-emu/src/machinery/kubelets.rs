//! The simulated kubelets' I/O, one per machine, plus what ACK's managed node lifecycle does
//! around them, KWOK-style: no process runs; objects move through the states a real node and
//! pod would show, on timers.
//!
//! ```text
//!  machine Running ──join_delay──▶ Node (Ready) + Lease ──every lease_renew──▶ renewTime
//!        │                          └─ master: static pods (apiserver, controller-manager, scheduler)
//!  pod bound here ──pod_start_delay──▶ Running (IP, container statuses, logs)
//!                                      └─ script ends ──▶ Succeeded / Failed / CrashLoopBackOff
//!  machine gone ──▶ NotReady (Unknown, unreachable taints) ──node_lost_grace──▶ Node deleted
//!                                                           (its pods by pod GC, Lease by GC)
//! ```
//! Only Nodes carrying [`OWNER_ANNOTATION`] are touched; a node someone else registered (a
//! virtual node) is theirs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use serde_json::{Value, json};

use super::informer::{Applied, Key, Kind};
use super::kubelet::{self as k, OWNER_ANNOTATION, UNREACHABLE, UNSCHEDULABLE};
use super::script::{Script, script};
use super::{Machine, Machinery, Timer, machine_index, system_pods};
use crate::clock::{parse_ms, rfc3339};
use crate::patch::PatchType;
use crate::store::Target;

#[derive(Debug, Default)]
pub(super) struct KubeletState {
    /// Hash of the last machine list, to skip the diff when nothing changed.
    fingerprint: u64,
    /// The earliest time a listed machine that has not joined yet is due to.
    next_join_ms: Option<i64>,
    /// Nodes this module registered (or found already registered), until they are deleted.
    registered: HashSet<String>,
    /// Lost nodes and since when.
    lost: BTreeMap<String, i64>,
    /// Nodes carrying the owner annotation.
    ours: HashSet<String>,
    /// Pod CIDR index per node, and the indices in use.
    cidrs: HashMap<String, u32>,
    cidr_used: BTreeSet<u32>,
    /// Host bytes in use in each node's /24.
    ips: HashMap<String, [u64; 4]>,
    pod_ips: HashMap<Key, (String, u8)>,
    /// Pods with a start timer pending, and the start time of pods started here.
    starting: HashSet<Key>,
    started: HashMap<Key, i64>,
    /// Our nodes whose cordon state may need the unschedulable taint added or removed.
    cordon_check: BTreeSet<String>,
}

impl KubeletState {
    /// Drops what is rebuilt from the cache on a resync.
    pub(super) fn forget_cache(&mut self) {
        self.ours.clear();
        self.cidrs.clear();
        self.cidr_used.clear();
        self.ips.clear();
        self.pod_ips.clear();
        self.fingerprint = 0;
    }

    fn take_ip(&mut self, node: &str) -> Option<u8> {
        let used = self.ips.entry(node.to_string()).or_default();
        for host in 2u8..=254 {
            let (w, b) = (usize::from(host / 64), host % 64);
            if used[w] & (1 << b) == 0 {
                used[w] |= 1 << b;
                return Some(host);
            }
        }
        None
    }

    fn mark_ip(&mut self, node: &str, host: u8) {
        let used = self.ips.entry(node.to_string()).or_default();
        used[usize::from(host / 64)] |= 1 << (host % 64);
    }

    fn release_ip(&mut self, key: &Key) {
        if let Some((node, host)) = self.pod_ips.remove(key)
            && let Some(used) = self.ips.get_mut(&node)
        {
            used[usize::from(host / 64)] &= !(1 << (host % 64));
        }
    }
}

fn fingerprint(machines: &[Machine]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for m in machines {
        m.name.hash(&mut h);
        m.running_since_ms.hash(&mut h);
    }
    h.finish() | 1
}

fn is_ours(node: &Value) -> bool {
    node["metadata"]["annotations"][OWNER_ANNOTATION].is_string()
}

fn cidr_index(cidr: &str) -> Option<u32> {
    let mut parts = cidr.split('/').next()?.split('.');
    let (_, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    let (b, c): (u32, u32) = (b.parse().ok()?, c.parse().ok()?);
    Some(((b.checked_sub(128)?) << 8) | c)
}

fn host_byte(ip: &str) -> Option<u8> {
    ip.rsplit('.').next()?.parse().ok()
}

fn internal_ip(node: &Value) -> String {
    node["status"]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["type"] == "InternalIP")
        .and_then(|a| a["address"].as_str())
        .unwrap_or("")
        .to_string()
}

fn scripts(pod: &Value) -> Vec<Script> {
    let words = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(str::to_string))
            .collect()
    };
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| script(&words(&c["command"]), &words(&c["args"])))
        .collect()
}

impl Machinery {
    pub(super) fn kubelet_observe_node(&mut self, a: &Applied) {
        let name = a.key.1.clone();
        let kl = &mut self.kubelet;
        let Some(node) = &a.new else {
            kl.ours.remove(&name);
            kl.registered.remove(&name);
            kl.lost.remove(&name);
            if let Some(i) = kl.cidrs.remove(&name) {
                kl.cidr_used.remove(&i);
            }
            kl.ips.remove(&name);
            // A node deleted under a listed machine registers again, as a kubelet would.
            kl.fingerprint = 0;
            self.gc_nodes.push(name);
            return;
        };
        if !is_ours(node) {
            kl.ours.remove(&name);
            return;
        }
        let fresh = kl.ours.insert(name.clone());
        if let Some(i) = node["spec"]["podCIDR"].as_str().and_then(cidr_index) {
            kl.cidrs.insert(name.clone(), i);
            kl.cidr_used.insert(i);
        }
        let cordoned = node["spec"]["unschedulable"] == true;
        let tainted = node["spec"]["taints"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["key"] == UNSCHEDULABLE));
        if cordoned != tainted {
            kl.cordon_check.insert(name.clone());
        }
        if fresh {
            // Registered now, or found at a resync: start (or resume) its heartbeats.
            kl.registered.insert(name.clone());
            let now = self.api.now_ms();
            self.push_timer(now + self.timing.lease_renew_ms, Timer::Lease(name.clone()));
            self.push_timer(now + self.timing.node_status_ms, Timer::NodeStatus(name));
        }
    }

    pub(super) fn kubelet_observe_pod(&mut self, a: &Applied) {
        let key = a.key.clone();
        let Some(p) = &a.new else {
            self.kubelet.release_ip(&key);
            self.kubelet.starting.remove(&key);
            self.kubelet.started.remove(&key);
            return;
        };
        let Some(node) = p["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) else {
            return;
        };
        if !self.kubelet.ours.contains(node) {
            return;
        }
        let node = node.to_string();
        if let Some(host) = p["status"]["podIP"].as_str().and_then(host_byte)
            && p["spec"]["hostNetwork"] != true
            && !self.kubelet.pod_ips.contains_key(&key)
        {
            self.kubelet.mark_ip(&node, host);
            self.kubelet
                .pod_ips
                .insert(key.clone(), (node.clone(), host));
        }
        let uid = p["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let deleting = p["metadata"].get("deletionTimestamp").is_some();
        let phase = p["status"]["phase"].as_str().unwrap_or("Pending");
        if phase == "Pending" && !deleting && !self.kubelet.starting.contains(&key) {
            self.kubelet.starting.insert(key.clone());
            let at = self.api.now_ms() + self.timing.pod_start_delay_ms;
            self.push_timer(at, Timer::StartPod(key, uid));
        } else if phase == "Running"
            && a.old.is_none()
            && let Some(start) = p["status"]["startTime"].as_str().and_then(parse_ms)
        {
            // Found running at a resync: resume watching its run-to-completion containers.
            self.kubelet.started.insert(key.clone(), start);
            if let Some(end) = scripts(p).iter().filter_map(|s| s.end).map(|e| e.0).max() {
                self.push_timer(start.saturating_add(end), Timer::FinishPod(key, uid));
            }
        }
    }

    /// Registers due machines, marks vanished ones lost, deletes those lost for too long.
    pub(super) fn sync_machines(&mut self, machines: &[Machine], now: i64) -> usize {
        let mut work = self.sync_cordon_taints();
        let fp = fingerprint(machines);
        let kl = &self.kubelet;
        let join_due = kl.next_join_ms.is_some_and(|t| now >= t);
        if fp == kl.fingerprint && !join_due && kl.lost.is_empty() {
            return work;
        }
        self.kubelet.fingerprint = fp;
        self.kubelet.next_join_ms = None;
        let idx = machine_index(machines);
        for m in machines {
            if self.inf.node(&m.name).is_some() || self.kubelet.registered.contains(&m.name) {
                continue;
            }
            if self.over_budget() {
                // The rest register next pass.
                self.kubelet.next_join_ms = Some(now);
                break;
            }
            let due = m.running_since_ms.saturating_add(self.timing.join_delay_ms);
            if now < due {
                let next = self.kubelet.next_join_ms.map_or(due, |t| t.min(due));
                self.kubelet.next_join_ms = Some(next);
                continue;
            }
            work += self.register(m, now);
        }
        let vanished: Vec<String> = self
            .kubelet
            .ours
            .iter()
            .filter(|n| !idx.contains_key(n.as_str()) && !self.kubelet.lost.contains_key(*n))
            .cloned()
            .collect();
        for n in vanished {
            work += self.mark_lost(&n, now);
        }
        let lost: Vec<(String, i64)> = self
            .kubelet
            .lost
            .iter()
            .map(|(n, t)| (n.clone(), *t))
            .collect();
        for (n, since) in lost {
            if idx.contains_key(n.as_str()) {
                work += self.recover(&n, now);
            } else if now >= since.saturating_add(self.timing.node_lost_grace_ms) {
                // ACK's cloud controller removes the Node of a released instance.
                self.kubelet.lost.remove(&n);
                work += usize::from(
                    self.api
                        .delete(self.t.nodes, None, &n, (None, None))
                        .is_ok(),
                );
            }
        }
        work
    }

    fn register(&mut self, m: &Machine, now: i64) -> usize {
        let index = (0u32..)
            .find(|i| !self.kubelet.cidr_used.contains(i))
            .unwrap_or(0);
        let node = k::node_object(m, &k::pod_cidr(index), now);
        self.kubelet.registered.insert(m.name.clone());
        let Ok(created) = self.api.create(self.t.nodes, None, node, false) else {
            // Someone else registered this name first: theirs.
            return 0;
        };
        self.kubelet.cidr_used.insert(index);
        self.kubelet.cidrs.insert(m.name.clone(), index);
        let uid = created["metadata"]["uid"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let lease = k::lease_object(&m.name, &uid, now);
        let _ = self
            .api
            .create(self.t.leases, Some("kube-node-lease"), lease, false);
        let mut work = 2;
        if m.master {
            for pod in system_pods::static_pods(&m.name, &uid) {
                work += usize::from(
                    self.api
                        .create(self.t.pods, Some("kube-system"), pod, false)
                        .is_ok(),
                );
            }
        }
        work
    }

    /// What the node lifecycle controller does when heartbeats stop.
    fn mark_lost(&mut self, name: &str, now: i64) -> usize {
        self.kubelet.lost.insert(name.to_string(), now);
        let Some(node) = self.inf.node(name).cloned() else {
            return 0;
        };
        let mut taints: Vec<Value> = node["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t["key"] != UNREACHABLE)
            .collect();
        taints.extend(k::unreachable_taints(now));
        let conds = node["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        self.write_node(name, json!({"spec": {"taints": taints}}), Target::Main)
            + self.write_node(
                name,
                json!({"status": {"conditions": k::unknown_conditions(&conds, now)}}),
                Target::Status,
            )
    }

    /// The machine came back before the grace period ended.
    fn recover(&mut self, name: &str, now: i64) -> usize {
        self.kubelet.lost.remove(name);
        let Some(node) = self.inf.node(name).cloned() else {
            return 0;
        };
        let taints: Vec<Value> = node["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t["key"] != UNREACHABLE)
            .collect();
        self.push_timer(
            now + self.timing.lease_renew_ms,
            Timer::Lease(name.to_string()),
        );
        self.push_timer(
            now + self.timing.node_status_ms,
            Timer::NodeStatus(name.to_string()),
        );
        let taints = if taints.is_empty() {
            Value::Null
        } else {
            Value::Array(taints)
        };
        self.write_node(name, json!({"spec": {"taints": taints}}), Target::Main)
            + self.write_node(
                name,
                json!({"status": {"conditions": k::ready_conditions(now)}}),
                Target::Status,
            )
    }

    fn write_node(&self, name: &str, patch: Value, target: Target) -> usize {
        usize::from(
            self.api
                .patch(
                    self.t.nodes,
                    None,
                    name,
                    PatchType::Merge,
                    &patch,
                    target,
                    None,
                )
                .is_ok(),
        )
    }

    /// Cordoned nodes get the `node.kubernetes.io/unschedulable:NoSchedule` taint and lose it
    /// when uncordoned (the node lifecycle controller's TaintNodesByCondition).
    fn sync_cordon_taints(&mut self) -> usize {
        let names = std::mem::take(&mut self.kubelet.cordon_check);
        let mut work = 0;
        for name in names {
            let Some(node) = self.inf.node(&name).cloned() else {
                continue;
            };
            let cordoned = node["spec"]["unschedulable"] == true;
            let mut taints: Vec<Value> = node["spec"]["taints"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|t| t["key"] != UNSCHEDULABLE)
                .collect();
            if cordoned {
                taints.push(json!({"key": UNSCHEDULABLE, "effect": "NoSchedule",
                                   "timeAdded": rfc3339(self.api.now_ms())}));
            }
            let taints = if taints.is_empty() {
                Value::Null
            } else {
                Value::Array(taints)
            };
            work += self.write_node(&name, json!({"spec": {"taints": taints}}), Target::Main);
        }
        work
    }

    fn live(&self, name: &str) -> bool {
        self.kubelet.ours.contains(name) && !self.kubelet.lost.contains_key(name)
    }

    pub(super) fn renew_lease(&mut self, node: &str, now: i64) -> usize {
        if !self.live(node) {
            return 0;
        }
        self.push_timer(
            now + self.timing.lease_renew_ms.max(1),
            Timer::Lease(node.to_string()),
        );
        let patch = json!({"spec": {"renewTime": k::micro_time(now), "holderIdentity": node}});
        let renewed = self.api.patch(
            self.t.leases,
            Some("kube-node-lease"),
            node,
            PatchType::Merge,
            &patch,
            Target::Main,
            None,
        );
        if renewed.is_err() {
            let uid = self
                .inf
                .node(node)
                .and_then(|n| n["metadata"]["uid"].as_str().map(str::to_string))
                .unwrap_or_default();
            let _ = self.api.create(
                self.t.leases,
                Some("kube-node-lease"),
                k::lease_object(node, &uid, now),
                false,
            );
        }
        1
    }

    pub(super) fn post_node_status(&mut self, node: &str, now: i64) -> usize {
        if !self.live(node) {
            return 0;
        }
        self.push_timer(
            now + self.timing.node_status_ms.max(1),
            Timer::NodeStatus(node.to_string()),
        );
        let Some(n) = self.inf.node(node).cloned() else {
            return 0;
        };
        let beat = rfc3339(now);
        let conds: Vec<Value> = n["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|mut c| {
                c["lastHeartbeatTime"] = json!(beat);
                c
            })
            .collect();
        self.write_node(
            node,
            json!({"status": {"conditions": conds}}),
            Target::Status,
        )
    }

    pub(super) fn start_pod(&mut self, key: &Key, uid: &str, now: i64) -> usize {
        self.kubelet.starting.remove(key);
        let Some(pod) = self.inf.get(Kind::Pod, key).cloned() else {
            return 0;
        };
        let node_name = pod["spec"]["nodeName"].as_str().unwrap_or("").to_string();
        if pod["metadata"]["uid"] != uid
            || pod["status"]["phase"] != "Pending"
            || pod["metadata"].get("deletionTimestamp").is_some()
            || !self.live(&node_name)
        {
            return 0;
        }
        let Some(node) = self.inf.node(&node_name).cloned() else {
            return 0;
        };
        let host_ip = internal_ip(&node);
        let pod_ip = if pod["spec"]["hostNetwork"] == true {
            host_ip.clone()
        } else {
            let cidr = node["spec"]["podCIDR"]
                .as_str()
                .unwrap_or("10.128.0.0/24")
                .to_string();
            match self.kubelet.take_ip(&node_name) {
                Some(h) => {
                    self.kubelet
                        .pod_ips
                        .insert(key.clone(), (node_name.clone(), h));
                    k::ip_in(&cidr, h)
                }
                None => return 0,
            }
        };
        let scripts = scripts(&pod);
        let (status, _) = k::pod_status(&pod, &host_ip, &pod_ip, &scripts, now, now);
        let written = self.api.patch(
            self.t.pods,
            Some(&key.0),
            &key.1,
            PatchType::Merge,
            &json!({"status": status}),
            Target::Status,
            None,
        );
        if written.is_err() {
            self.kubelet.release_ip(key);
            return 0;
        }
        self.kubelet.started.insert(key.clone(), now);
        let ts = rfc3339(now);
        for (c, s) in pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .zip(&scripts)
        {
            let name = c["name"].as_str().unwrap_or("");
            let mut text = String::new();
            if s.lines.is_empty() && s.end.is_none() {
                text.push_str(&format!(
                    "{ts} container {name} started from {} (simulated by the emulator's kubelet; no process runs)\n",
                    c["image"].as_str().unwrap_or("")
                ));
            }
            for (_, line) in s.lines.iter().filter(|(at, _)| *at == 0) {
                text.push_str(line);
                text.push('\n');
            }
            if !text.is_empty() {
                self.api.append_log(&key.0, &key.1, name, &text);
            }
        }
        if let Some(end) = scripts.iter().filter_map(|s| s.end).map(|e| e.0).max() {
            self.push_timer(
                now.saturating_add(end),
                Timer::FinishPod(key.clone(), uid.to_string()),
            );
        }
        1
    }

    pub(super) fn finish_pod(&mut self, key: &Key, uid: &str, now: i64) -> usize {
        let Some(pod) = self.inf.get(Kind::Pod, key).cloned() else {
            return 0;
        };
        let Some(&start) = self.kubelet.started.get(key) else {
            return 0;
        };
        if pod["metadata"]["uid"] != uid || pod["status"]["phase"] != "Running" {
            return 0;
        }
        let scripts = scripts(&pod);
        let host_ip = pod["status"]["hostIP"].as_str().unwrap_or("").to_string();
        let pod_ip = pod["status"]["podIP"].as_str().unwrap_or("").to_string();
        let (status, done) = k::pod_status(&pod, &host_ip, &pod_ip, &scripts, start, now);
        let _ = self.api.patch(
            self.t.pods,
            Some(&key.0),
            &key.1,
            PatchType::Merge,
            &json!({"status": status}),
            Target::Status,
            None,
        );
        for (c, s) in pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .zip(&scripts)
        {
            let text: String = s
                .lines
                .iter()
                .filter(|(at, _)| *at > 0 && start.saturating_add(*at) <= now)
                .map(|(_, l)| format!("{l}\n"))
                .collect();
            if !text.is_empty() {
                self.api
                    .append_log(&key.0, &key.1, c["name"].as_str().unwrap_or(""), &text);
            }
        }
        if done {
            self.kubelet.release_ip(key);
            self.kubelet.started.remove(key);
        }
        1
    }
}
