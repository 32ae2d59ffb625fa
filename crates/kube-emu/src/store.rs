//! The object store and its in-process API: what the HTTP layer serves and what the future
//! scheduler, controllers and simulated kubelets call directly.
//!
//! ```text
//!  HTTP handlers ──┐                        ┌─▶ objects: per type, (namespace, name) →
//!  controllers ────┼─▶ ApiServer (one Mutex)┤     Arc<Value> + Arc<Encoding>
//!  kubelets ───────┘                        ├─▶ history: ring of the last N changes (watch replay)
//!                                           └─▶ broadcast: every change, to live watchers
//! ```
//!
//! One global resourceVersion, bumped by every real write (a no-op write bumps nothing), like
//! an etcd revision. A watcher subscribes to the broadcast while holding the lock that writers
//! hold, so replay-from-history plus live changes have neither gaps nor duplicates.
//!
//! Each stored version of an object carries an [`Encoding`]: its JSON (and Table cells), made
//! lazily by the first list or watch that sends it, outside the lock, and shared by every
//! later one, as the real server's watch cache shares serializations. At 30,000 pods a list
//! is then a copy of bytes, and a change goes to 50 watchers as one shared line.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::body::Bytes;
use base64::Engine as _;
use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::clock::{Clock, rfc3339};
use crate::error::{Error, Result};
use crate::patch::{PatchType, json_patch, merge_patch, strategic_merge};
use crate::resources::{RESOURCES, ResourceType, lookup};
use crate::selector::{FieldSelector, LabelSelector};
use crate::table::CellsTemplate;

/// The kind of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// The wire name: `ADDED`, `MODIFIED`, `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed write.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub rt: &'static ResourceType,
    pub kind: EventType,
    /// The object after the write (for DELETED: its last state stamped with the delete's RV).
    pub object: Arc<Value>,
    /// The object before the write, so selector-filtered watchers can tell enter from leave.
    pub prev: Option<Arc<Value>>,
    /// `object`'s JSON, made once and shared by every watcher and list that sends it.
    pub json: Arc<Encoding>,
    /// The watch line for `kind` (`{"object":…,"type":…}` and a newline), made once.
    line: OnceLock<Bytes>,
}

impl Change {
    /// The JSON watch event line for this change sent as `kind` (a selector-filtered watcher
    /// may see a MODIFIED as ADDED or DELETED). The line for the change's own kind is made
    /// once and shared by every watcher.
    pub fn line(&self, kind: EventType) -> Bytes {
        const PREFIX: &[u8] = b"{\"object\":";
        let suffix = |b: &mut Vec<u8>| {
            b.extend_from_slice(b",\"type\":\"");
            b.extend_from_slice(kind.as_str().as_bytes());
            b.extend_from_slice(b"\"}\n");
        };
        let make = || {
            if let Some(json) = self.json.full.get().map(|(b, _)| b) {
                let mut b = Vec::with_capacity(json.len() + 32);
                b.extend_from_slice(PREFIX);
                b.extend_from_slice(json);
                suffix(&mut b);
                return Bytes::from(b);
            }
            // Not encoded yet: encode inside the line, and let the object's encoding be the
            // slice of it, so the bytes are kept once.
            let mut b = Vec::with_capacity(2048);
            b.extend_from_slice(PREFIX);
            let span = encode_into(&mut b, &self.object);
            let end = b.len();
            suffix(&mut b);
            let line = Bytes::from(b);
            // A list that encoded it meanwhile made the same bytes: either copy will do.
            let _ = self.json.full.set((line.slice(PREFIX.len()..end), span));
            line
        };
        if kind == self.kind {
            self.line.get_or_init(make).clone()
        } else {
            make()
        }
    }
}

/// An object's JSON encoding, made at most once (on the first list or watch that sends it) and
/// shared from then on, as the real API server's watch cache shares its serializations. The
/// bytes are exactly `serde_json::to_vec(object)`; the span of `metadata` inside them is kept
/// so Tables send an object's metadata without encoding it again.
#[derive(Debug, Default)]
pub struct Encoding {
    full: OnceLock<(Bytes, Range<usize>)>,
    /// The metadata alone, for when a Table wants it before anything wanted the whole object.
    meta: OnceLock<Bytes>,
    /// The object's Table cells, less their ages.
    cells: OnceLock<CellsTemplate>,
}

impl Encoding {
    /// The object's JSON.
    pub fn json(&self, obj: &Value) -> &Bytes {
        &self.full.get_or_init(|| encode_with_metadata_span(obj)).0
    }

    /// The JSON of the object's `metadata`: a slice of the whole encoding when there is one,
    /// otherwise encoded (and kept) alone.
    pub fn metadata(&self, obj: &Value) -> Bytes {
        if let Some((b, span)) = self.full.get() {
            return b.slice(span.clone());
        }
        self.meta
            .get_or_init(|| Bytes::from(serde_json::to_vec(&obj["metadata"]).unwrap_or_default()))
            .clone()
    }

    /// The object's Table cells (of resource type `rt`, the one it is stored as).
    pub fn cells(&self, rt: &ResourceType, obj: &Value) -> &CellsTemplate {
        self.cells.get_or_init(|| CellsTemplate::new(rt, obj))
    }
}

/// `serde_json::to_vec(obj)`, written key by key (serde_json's maps are sorted, so the order is
/// the same) to note where `metadata`'s value lies.
fn encode_with_metadata_span(obj: &Value) -> (Bytes, Range<usize>) {
    let mut out = Vec::with_capacity(1024);
    let span = encode_into(&mut out, obj);
    (Bytes::from(out), span)
}

/// Appends `serde_json::to_vec(obj)` to `out`; returns the span of `metadata`'s value within
/// what it appended (empty when there is none).
fn encode_into(out: &mut Vec<u8>, obj: &Value) -> Range<usize> {
    let base = out.len();
    let Value::Object(m) = obj else {
        // Writing into a Vec cannot fail, and a Value always serializes.
        let _ = serde_json::to_writer(&mut *out, obj);
        return 0..0;
    };
    let mut span = 0..0;
    out.push(b'{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut *out, k);
        out.push(b':');
        let start = out.len();
        let _ = serde_json::to_writer(&mut *out, v);
        if k == "metadata" {
            span = start - base..out.len() - base;
        }
    }
    out.push(b'}');
    span
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The main resource: everything except `.status` (for types with a status subresource).
    Main,
    /// The `/status` subresource: only `.status`.
    Status,
}

/// Filters and paging for list and watch.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub label: LabelSelector,
    pub field: FieldSelector,
    /// Page size; 0 means everything.
    pub limit: usize,
    pub continue_token: Option<String>,
}

/// One page of a list.
#[derive(Debug)]
pub struct ListPage {
    pub items: Vec<Arc<Value>>,
    /// Each item's shared encoding, in the same order as `items`.
    pub encodings: Vec<Arc<Encoding>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

/// Where a watch starts.
#[derive(Debug)]
pub struct WatchStart {
    /// Changes to send before live ones: synthetic ADDED for the current state, or a replay.
    pub initial: Vec<Arc<Change>>,
    /// The RV the initial events bring the watcher to.
    pub rv: u64,
    pub live: broadcast::Receiver<Arc<Change>>,
}

/// What a delete did.
#[derive(Debug)]
pub struct Deleted {
    pub object: Value,
    /// False when finalizers keep the object (it now has a deletionTimestamp).
    pub gone: bool,
}

/// Tunables of one API server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Changes kept for watch replay; older RVs get 410 Expired.
    pub history: usize,
    /// Capacity of the live broadcast; a watcher that falls further behind gets 410 in-stream.
    pub fanout_buffer: usize,
    /// Seed for uids and generated names.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            history: 20_000,
            fanout_buffer: 65_536,
            seed: 0x6b75_6265,
        }
    }
}

type Key = (String, String);

/// A stored object with its (lazily made) encoding.
#[derive(Clone)]
struct Entry {
    object: Arc<Value>,
    json: Arc<Encoding>,
}

struct Inner {
    rv: u64,
    /// Changes with an RV at or below this are no longer in `history`.
    compacted: u64,
    objects: Vec<BTreeMap<Key, Entry>>,
    history: VecDeque<Arc<Change>>,
    logs: BTreeMap<(String, String, String), String>,
    rng: SmallRng,
    next_service_ip: u32,
}

/// One cluster's API: typed by resource, untyped (JSON) objects.
pub struct ApiServer {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<Change>>,
    clock: Arc<dyn Clock>,
    config: Config,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn type_index(rt: &ResourceType) -> usize {
    RESOURCES
        .iter()
        .position(|r| std::ptr::eq(r, rt))
        .expect("resource types come from RESOURCES")
}

fn ns_key(rt: &ResourceType, ns: Option<&str>) -> String {
    if rt.namespaced {
        ns.unwrap_or("").to_string()
    } else {
        String::new()
    }
}

fn not_found(rt: &ResourceType, name: &str) -> Error {
    Error::NotFound {
        group: rt.group.into(),
        resource: rt.plural.into(),
        qualified: rt.qualified(),
        name: name.into(),
    }
}

fn conflict(rt: &ResourceType, name: &str, reason: &str) -> Error {
    Error::Conflict {
        group: rt.group.into(),
        resource: rt.plural.into(),
        qualified: rt.qualified(),
        name: name.into(),
        reason: reason.into(),
    }
}

const STALE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

fn invalid(rt: &ResourceType, name: &str, field: &str, reason: &str, detail: &str) -> Error {
    let message = format!("{field}: {detail}");
    Error::Invalid {
        group: rt.group.into(),
        kind: rt.kind.into(),
        name: name.into(),
        summary: message.clone(),
        causes: vec![(field.into(), reason.into(), message)],
    }
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj["metadata"][field].as_str()
}

/// RFC 1123 subdomain: what most object names must be.
fn valid_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Whether two objects differ in what bumps `metadata.generation`: anything but metadata,
/// status, apiVersion and kind.
fn spec_changed(a: &Value, b: &Value) -> bool {
    const NOT_SPEC: [&str; 4] = ["metadata", "status", "apiVersion", "kind"];
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a != b;
    };
    let spec = |(k, _): &(&String, &Value)| !NOT_SPEC.contains(&k.as_str());
    !a.iter().filter(spec).eq(b.iter().filter(spec))
}

/// `old` with its status replaced, without copying the old status.
fn with_status(old: &Value, status: Value) -> Value {
    let Some(m) = old.as_object() else {
        let mut n = old.clone();
        n["status"] = status;
        return n;
    };
    let mut n: Map<String, Value> = m
        .iter()
        .filter(|(k, _)| *k != "status")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    n.insert("status".into(), status);
    Value::Object(n)
}

fn finalizers_empty(obj: &Value) -> bool {
    obj["metadata"]["finalizers"]
        .as_array()
        .is_none_or(|a| a.is_empty())
}

/// Whether a pod counts as healthy for a disruption budget (Ready condition true).
fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// An int-or-percent budget field resolved against `total` (percentages round up).
fn int_or_percent(v: &Value, total: i64) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let p: i64 = s.strip_suffix('%')?.parse().ok()?;
            Some((p * total + 99) / 100)
        }
        _ => None,
    }
}

impl ApiServer {
    /// A server with the four namespaces every cluster starts with.
    pub fn new(clock: Arc<dyn Clock>, config: Config) -> Self {
        let (tx, _) = broadcast::channel(config.fanout_buffer.max(1));
        let inner = Inner {
            rv: 0,
            compacted: 0,
            objects: RESOURCES.iter().map(|_| BTreeMap::new()).collect(),
            history: VecDeque::new(),
            logs: BTreeMap::new(),
            rng: SmallRng::seed_from_u64(config.seed),
            next_service_ip: 1,
        };
        let server = Self {
            inner: Mutex::new(inner),
            tx,
            clock,
            config,
        };
        let ns = lookup("", "namespaces").expect("namespaces are served");
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            server
                .create(ns, None, json!({"metadata": {"name": name}}), false)
                .expect("seeding a fresh store cannot fail");
        }
        server
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied write (writes are built
        // first and committed in one step), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// The current time, from the injected clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn commit(
        &self,
        inner: &mut Inner,
        rt: &'static ResourceType,
        key: Key,
        mut obj: Value,
        kind: EventType,
    ) -> Arc<Value> {
        inner.rv += 1;
        let rv = inner.rv;
        obj["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let obj = Arc::new(obj);
        let json = Arc::new(Encoding::default());
        let map = &mut inner.objects[type_index(rt)];
        let prev = if kind == EventType::Deleted {
            map.remove(&key)
        } else {
            map.insert(
                key,
                Entry {
                    object: obj.clone(),
                    json: json.clone(),
                },
            )
        };
        let change = Arc::new(Change {
            rv,
            rt,
            kind,
            object: obj.clone(),
            prev: prev.map(|e| e.object),
            json,
            line: OnceLock::new(),
        });
        inner.history.push_back(change.clone());
        while inner.history.len() > self.config.history {
            if let Some(old) = inner.history.pop_front() {
                inner.compacted = old.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(change);
        obj
    }

    /// Checks the namespace a namespaced create or write goes to.
    fn check_namespace(
        &self,
        inner: &Inner,
        rt: &ResourceType,
        ns: &str,
        name: &str,
    ) -> Result<()> {
        let nst = lookup("", "namespaces").expect("namespaces are served");
        match inner.objects[type_index(nst)].get(&(String::new(), ns.to_string())) {
            None => Err(not_found(nst, ns)),
            Some(n) if n.object["metadata"].get("deletionTimestamp").is_some() => {
                Err(Error::Forbidden(format!(
                    "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    rt.qualified()
                )))
            }
            Some(_) => Ok(()),
        }
    }

    /// Checks `apiVersion`/`kind` in a request body and fills them in when absent.
    fn normalize_type(rt: &ResourceType, obj: &mut Value) -> Result<()> {
        let Some(m) = obj.as_object_mut() else {
            return Err(Error::BadRequest(
                "the request body must be a JSON object".into(),
            ));
        };
        let av = rt.api_version();
        match m.get("apiVersion").and_then(Value::as_str) {
            Some(v) if v != av => {
                return Err(Error::BadRequest(format!(
                    "the API version in the data ({v}) does not match the expected API version ({av})"
                )));
            }
            _ => {}
        }
        match m.get("kind").and_then(Value::as_str) {
            Some(k) if k != rt.kind => {
                return Err(Error::BadRequest(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    rt.kind
                )));
            }
            _ => {}
        }
        m.insert("apiVersion".into(), Value::String(av));
        m.insert("kind".into(), Value::String(rt.kind.into()));
        if !m.get("metadata").is_some_and(Value::is_object) {
            if m.get("metadata").is_some_and(|v| !v.is_null()) {
                return Err(Error::BadRequest("metadata must be an object".into()));
            }
            m.insert("metadata".into(), Value::Object(Map::new()));
        }
        Ok(())
    }

    fn validate(rt: &ResourceType, obj: &Value) -> Result<()> {
        let name = meta_str(obj, "name").unwrap_or("");
        if !valid_name(name) {
            return Err(invalid(
                rt,
                name,
                "metadata.name",
                "FieldValueInvalid",
                &format!(
                    "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
                ),
            ));
        }
        for field in ["labels", "annotations"] {
            let v = &obj["metadata"][field];
            if !(v.is_null()
                || v.as_object()
                    .is_some_and(|m| m.values().all(Value::is_string)))
            {
                return Err(Error::BadRequest(format!(
                    "json: cannot unmarshal metadata.{field} into Go struct field ObjectMeta.metadata.{field} of type map[string]string"
                )));
            }
        }
        match (rt.group, rt.plural) {
            ("", "pods") => {
                let containers = obj["spec"]["containers"].as_array();
                if containers.is_none_or(|c| c.is_empty()) {
                    return Err(invalid(
                        rt,
                        name,
                        "spec.containers",
                        "FieldValueRequired",
                        "Required value",
                    ));
                }
                for (i, c) in containers.into_iter().flatten().enumerate() {
                    if c["name"].as_str().is_none_or(str::is_empty) {
                        let f = format!("spec.containers[{i}].name");
                        return Err(invalid(
                            rt,
                            name,
                            &f,
                            "FieldValueRequired",
                            "Required value",
                        ));
                    }
                    if c["image"].as_str().is_none_or(str::is_empty) {
                        let f = format!("spec.containers[{i}].image");
                        return Err(invalid(
                            rt,
                            name,
                            &f,
                            "FieldValueRequired",
                            "Required value",
                        ));
                    }
                }
            }
            ("apps", "deployments" | "replicasets" | "daemonsets") => {
                let sel = LabelSelector::from_object(&obj["spec"]["selector"]);
                let Some(sel) = sel.filter(|_| obj["spec"]["selector"].is_object()) else {
                    return Err(invalid(
                        rt,
                        name,
                        "spec.selector",
                        "FieldValueRequired",
                        "Required value",
                    ));
                };
                let tpl = json!({"metadata": {"labels": obj["spec"]["template"]["metadata"]["labels"].clone()}});
                if !sel.matches(&tpl) {
                    return Err(invalid(
                        rt,
                        name,
                        "spec.template.metadata.labels",
                        "FieldValueInvalid",
                        "Invalid value: `selector` does not match template `labels`",
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn generate_uid(inner: &mut Inner) -> String {
        let b: [u8; 16] = inner.rng.random();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_be_bytes([b[4], b[5]]),
            u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
            (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
            u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]]),
        )
    }

    /// Defaults the real server applies on create.
    fn defaults_on_create(inner: &mut Inner, rt: &ResourceType, obj: &mut Value) {
        match (rt.group, rt.plural) {
            ("", "pods") => {
                obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
                let spec = &mut obj["spec"];
                for (k, v) in [
                    ("restartPolicy", "Always"),
                    ("schedulerName", "default-scheduler"),
                    ("dnsPolicy", "ClusterFirst"),
                    ("serviceAccountName", "default"),
                ] {
                    if spec.get(k).is_none() {
                        spec[k] = json!(v);
                    }
                }
                if spec.get("terminationGracePeriodSeconds").is_none() {
                    spec["terminationGracePeriodSeconds"] = json!(30);
                }
            }
            ("", "namespaces") => {
                let name = meta_str(obj, "name").unwrap_or("").to_string();
                obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
                obj["status"] = json!({"phase": "Active"});
            }
            ("", "services") => {
                let spec = &mut obj["spec"];
                if spec.get("type").is_none() {
                    spec["type"] = json!("ClusterIP");
                }
                if spec.get("clusterIP").is_none() && spec["type"] != "ExternalName" {
                    let n = inner.next_service_ip;
                    inner.next_service_ip += 1;
                    let ip = format!("172.16.{}.{}", (n >> 8) & 0xff, n & 0xff);
                    spec["clusterIP"] = json!(ip);
                    spec["clusterIPs"] = json!([ip]);
                }
                if spec.get("sessionAffinity").is_none() {
                    spec["sessionAffinity"] = json!("None");
                }
                obj["status"] = json!({"loadBalancer": {}});
            }
            ("apps", "deployments" | "replicasets") => {
                if obj["spec"].get("replicas").is_none() {
                    obj["spec"]["replicas"] = json!(1);
                }
                obj["status"] = json!({});
            }
            ("apps", "daemonsets") | ("policy", "poddisruptionbudgets") => {
                obj["status"] = json!({});
            }
            _ => {}
        }
    }

    /// Creates an object; `ns` comes from the URL. `dry_run` validates and stores nothing.
    pub fn create(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        mut obj: Value,
        dry_run: bool,
    ) -> Result<Value> {
        Self::normalize_type(rt, &mut obj)?;
        let mut inner = self.lock();
        let url_ns = ns_key(rt, ns);
        if rt.namespaced {
            match meta_str(&obj, "namespace") {
                Some(b) if !b.is_empty() && b != url_ns => {
                    return Err(Error::BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request".into(),
                    ));
                }
                _ => {}
            }
            obj["metadata"]["namespace"] = json!(url_ns);
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        if meta_str(&obj, "resourceVersion").is_some_and(|v| !v.is_empty()) {
            return Err(Error::BadRequest(
                "resourceVersion should not be set on objects to be created".into(),
            ));
        }
        let name = match (meta_str(&obj, "name"), meta_str(&obj, "generateName")) {
            (Some(n), _) if !n.is_empty() => n.to_string(),
            (_, Some(g)) if !g.is_empty() => {
                const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
                let suffix: String = (0..5)
                    .map(|_| ALPHABET[inner.rng.random_range(0..ALPHABET.len())] as char)
                    .collect();
                let n = format!("{g}{suffix}");
                obj["metadata"]["name"] = json!(n);
                n
            }
            _ => {
                return Err(invalid(
                    rt,
                    "",
                    "metadata.name",
                    "FieldValueRequired",
                    "Required value: name or generateName is required",
                ));
            }
        };
        Self::validate(rt, &obj)?;
        if rt.namespaced {
            self.check_namespace(&inner, rt, &url_ns, &name)?;
        }
        let key = (url_ns, name.clone());
        if inner.objects[type_index(rt)].contains_key(&key) {
            return Err(Error::AlreadyExists {
                group: rt.group.into(),
                resource: rt.plural.into(),
                qualified: rt.qualified(),
                name,
            });
        }
        let meta = obj["metadata"].as_object_mut().expect("normalized above");
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        meta.remove("managedFields");
        let uid = Self::generate_uid(&mut inner);
        obj["metadata"]["uid"] = json!(uid);
        obj["metadata"]["creationTimestamp"] = json!(rfc3339(self.clock.now_ms()));
        if obj.get("spec").is_some() || rt.has_status() {
            obj["metadata"]["generation"] = json!(1);
        }
        Self::defaults_on_create(&mut inner, rt, &mut obj);
        if dry_run {
            return Ok(obj);
        }
        Ok((*self.commit(&mut inner, rt, key, obj, EventType::Added)).clone())
    }

    /// Reads one object.
    pub fn get(&self, rt: &'static ResourceType, ns: Option<&str>, name: &str) -> Result<Value> {
        self.get_arc(rt, ns, name).map(|o| (*o).clone())
    }

    /// Reads one object without copying it.
    pub fn get_arc(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Arc<Value>> {
        let inner = self.lock();
        inner.objects[type_index(rt)]
            .get(&(ns_key(rt, ns), name.to_string()))
            .map(|e| e.object.clone())
            .ok_or_else(|| not_found(rt, name))
    }

    /// Lists objects (in one namespace, or all when `ns` is None), sorted by namespace and name.
    pub fn list(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ListPage> {
        let inner = self.lock();
        let map = &inner.objects[type_index(rt)];
        let now = self.clock.now_ms();
        let (mut list_rv, mut start, mut listed_at) = (inner.rv, None, now);
        if let Some(tok) = opts.continue_token.as_deref().filter(|t| !t.is_empty()) {
            let (rv, key, at) = decode_continue(tok)?;
            // Pages are read from the live state, so a token is only as old as its first page:
            // it lasts as long as etcd keeps a revision (its default compaction interval),
            // however many writes come meanwhile; a token without that time (made by an older
            // server) lasts as long as the watch history.
            let expired = match at {
                Some(t) => now.saturating_sub(t) > CONTINUE_TTL_MS,
                None => rv < inner.compacted,
            };
            if expired {
                return Err(Error::Expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.".into(),
                ));
            }
            list_rv = rv;
            start = Some(key);
            listed_at = at.unwrap_or(now);
        }
        let ns_filter = ns.filter(|_| rt.namespaced).map(str::to_string);
        let lower = match (&start, &ns_filter) {
            (Some(k), _) => std::ops::Bound::Excluded(k.clone()),
            (None, Some(n)) => std::ops::Bound::Included((n.clone(), String::new())),
            (None, None) => std::ops::Bound::Unbounded,
        };
        let limit = if opts.limit == 0 {
            usize::MAX
        } else {
            opts.limit
        };
        let pinned = opts.field.pinned_name();
        let in_ns = |k: &Key| ns_filter.as_ref().is_none_or(|n| &k.0 == n);
        let wanted = |k: &Key, e: &Entry| {
            pinned.is_none_or(|want| k.1 == want)
                && opts.label.matches(&e.object)
                && opts.field.matches(rt, &e.object)
        };
        let mut range = map
            .range((lower, std::ops::Bound::Unbounded))
            .take_while(|(k, _)| in_ns(k));
        let mut items = Vec::new();
        let mut encodings = Vec::new();
        let mut last_key = None;
        let mut remaining = 0u64;
        for (k, e) in range.by_ref() {
            if !wanted(k, e) {
                continue;
            }
            if items.len() == limit {
                remaining = 1;
                break;
            }
            items.push(e.object.clone());
            encodings.push(e.json.clone());
            last_key = Some(k);
        }
        if remaining > 0 {
            remaining += range.filter(|(k, e)| wanted(k, e)).count() as u64;
        }
        let (continue_token, remaining) = match last_key {
            Some(k) if remaining > 0 => (
                Some(encode_continue(list_rv, k, listed_at)),
                Some(remaining),
            ),
            _ => (None, None),
        };
        Ok(ListPage {
            items,
            encodings,
            resource_version: list_rv,
            continue_token,
            remaining,
        })
    }

    /// Replaces an object (PUT). A resourceVersion in the body is a precondition.
    pub fn update(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        mut obj: Value,
        target: Target,
    ) -> Result<Value> {
        Self::normalize_type(rt, &mut obj)?;
        let mut inner = self.lock();
        self.update_locked(&mut inner, rt, ns, name, obj, target)
            .map(|o| (*o).clone())
    }

    fn update_locked(
        &self,
        inner: &mut Inner,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        mut obj: Value,
        target: Target,
    ) -> Result<Arc<Value>> {
        match meta_str(&obj, "name") {
            Some(n) if n != name => {
                return Err(Error::BadRequest(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
            _ => {}
        }
        let key = (ns_key(rt, ns), name.to_string());
        if rt.namespaced
            && let Some(b) = meta_str(&obj, "namespace").filter(|b| !b.is_empty())
            && b != key.0
        {
            return Err(Error::BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request".into(),
            ));
        }
        let old = inner.objects[type_index(rt)]
            .get(&key)
            .map(|e| e.object.clone())
            .ok_or_else(|| not_found(rt, name))?;
        if let Some(rv) = meta_str(&obj, "resourceVersion").filter(|v| !v.is_empty())
            && Some(rv) != meta_str(&old, "resourceVersion")
        {
            return Err(conflict(rt, name, STALE));
        }
        if let Some(uid) = meta_str(&obj, "uid").filter(|v| !v.is_empty())
            && Some(uid) != meta_str(&old, "uid")
        {
            return Err(conflict(
                rt,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&old, "uid").unwrap_or("")
                ),
            ));
        }
        let new = match target {
            Target::Status => {
                let status = obj
                    .as_object_mut()
                    .and_then(|m| m.remove("status"))
                    .unwrap_or_else(|| json!({}));
                with_status(&old, status)
            }
            Target::Main => {
                if rt.has_status() {
                    match old.get("status") {
                        Some(s) => obj["status"] = s.clone(),
                        None => {
                            if let Some(m) = obj.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                }
                // Immutable and server-owned metadata always come from the stored object.
                for f in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                    "namespace",
                ] {
                    match old["metadata"].get(f) {
                        Some(v) => obj["metadata"][f] = v.clone(),
                        None => {
                            if let Some(m) = obj["metadata"].as_object_mut() {
                                m.remove(f);
                            }
                        }
                    }
                }
                obj["metadata"]["name"] = json!(name);
                if let Some(m) = obj["metadata"].as_object_mut() {
                    m.remove("managedFields");
                }
                Self::validate(rt, &obj)?;
                if spec_changed(&obj, &old)
                    && let Some(g) = old["metadata"]["generation"].as_i64()
                {
                    obj["metadata"]["generation"] = json!(g + 1);
                }
                if rt.plural == "namespaces" && rt.group.is_empty() {
                    obj["spec"] = old["spec"].clone();
                }
                obj
            }
        };
        self.store_update(inner, rt, key, old, new)
    }

    /// Commits `new` over `old` (same key): nothing when nothing changed, a deletion when it
    /// removed the last finalizer of an object being deleted.
    fn store_update(
        &self,
        inner: &mut Inner,
        rt: &'static ResourceType,
        key: Key,
        old: Arc<Value>,
        mut new: Value,
    ) -> Result<Arc<Value>> {
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if new == *old {
            return Ok(old);
        }
        if old["metadata"].get("deletionTimestamp").is_some() && finalizers_empty(&new) {
            let gone = self.commit(inner, rt, key.clone(), new, EventType::Deleted);
            self.after_removal(inner, rt, &key);
            return Ok(gone);
        }
        Ok(self.commit(inner, rt, key, new, EventType::Modified))
    }

    /// Applies a patch. An apply patch (server-side apply) creates a missing object and
    /// returns `created = true`; every other patch of a missing object is a 404.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        ptype: PatchType,
        patch: &Value,
        target: Target,
        field_manager: Option<&str>,
    ) -> Result<(Value, bool)> {
        if ptype == PatchType::Apply && field_manager.is_none_or(str::is_empty) {
            return Err(Error::Invalid {
                group: "meta.k8s.io".into(),
                kind: "PatchOptions.meta.k8s.io".into(),
                name: String::new(),
                summary: "fieldManager: Required value: is required for apply patch".into(),
                causes: vec![(
                    "fieldManager".into(),
                    "FieldValueRequired".into(),
                    "Required value: is required for apply patch".into(),
                )],
            });
        }
        if ptype != PatchType::Json && !patch.is_object() {
            return Err(Error::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                if patch.is_array() { "array" } else { "value" }
            )));
        }
        let mut inner = self.lock();
        let key = (ns_key(rt, ns), name.to_string());
        let Some(old) = inner.objects[type_index(rt)]
            .get(&key)
            .map(|e| e.object.clone())
        else {
            if ptype == PatchType::Apply && target == Target::Main {
                drop(inner);
                let mut obj = patch.clone();
                if meta_str(&obj, "name").is_none() && obj["metadata"].is_object() {
                    obj["metadata"]["name"] = json!(name);
                }
                return self.create(rt, ns, obj, false).map(|o| (o, true));
            }
            return Err(not_found(rt, name));
        };
        if target == Target::Status
            && ptype == PatchType::Merge
            && let Some(p) = patch.as_object()
            && p.len() == 1
            && let Some(status_patch) = p.get("status").filter(|s| s.is_object())
        {
            // A merge patch of the status alone (what kubelets and controllers send): the same
            // result as patching a copy of the whole object, without copying it twice.
            let mut status = old.get("status").cloned().unwrap_or(Value::Null);
            merge_patch(&mut status, status_patch);
            let new = with_status(&old, status);
            let out = self.store_update(&mut inner, rt, key, old, new)?;
            return Ok(((*out).clone(), false));
        }
        let mut doc = (*old).clone();
        match ptype {
            PatchType::Merge => merge_patch(&mut doc, patch),
            PatchType::Json => json_patch(&mut doc, patch).map_err(|e| match e {
                Error::Invalid {
                    summary, causes, ..
                } => Error::Invalid {
                    group: rt.group.into(),
                    kind: rt.kind.into(),
                    name: name.into(),
                    summary,
                    causes,
                },
                e => e,
            })?,
            PatchType::Strategic | PatchType::Apply => strategic_merge(&mut doc, patch)?,
        }
        if !doc.is_object() {
            return Err(Error::BadRequest(
                "the patch turned the object into a non-object".into(),
            ));
        }
        // The patch's own resourceVersion, if it set one, is a precondition; otherwise the
        // write is unconditional.
        let patch_rv = patch
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if ptype != PatchType::Json {
            doc["metadata"]["resourceVersion"] =
                json!(patch_rv.unwrap_or(meta_str(&old, "resourceVersion").unwrap_or("")));
        }
        Self::normalize_type(rt, &mut doc)?;
        let out = self.update_locked(&mut inner, rt, ns, name, doc, target)?;
        Ok(((*out).clone(), false))
    }

    /// Deletes an object. Finalizers turn this into setting `deletionTimestamp`.
    /// `preconditions` are (uid, resourceVersion) from DeleteOptions.
    pub fn delete(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        preconditions: (Option<&str>, Option<&str>),
    ) -> Result<Deleted> {
        let mut inner = self.lock();
        self.delete_locked(&mut inner, rt, ns, name, preconditions)
    }

    fn delete_locked(
        &self,
        inner: &mut Inner,
        rt: &'static ResourceType,
        ns: Option<&str>,
        name: &str,
        (uid, rv): (Option<&str>, Option<&str>),
    ) -> Result<Deleted> {
        let key = (ns_key(rt, ns), name.to_string());
        let old = inner.objects[type_index(rt)]
            .get(&key)
            .map(|e| e.object.clone())
            .ok_or_else(|| not_found(rt, name))?;
        if let Some(uid) = uid
            && Some(uid) != meta_str(&old, "uid")
        {
            return Err(conflict(
                rt,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&old, "uid").unwrap_or("")
                ),
            ));
        }
        if let Some(rv) = rv
            && Some(rv) != meta_str(&old, "resourceVersion")
        {
            return Err(conflict(
                rt,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    meta_str(&old, "resourceVersion").unwrap_or("")
                ),
            ));
        }
        let is_namespace = rt.group.is_empty() && rt.plural == "namespaces";
        if !finalizers_empty(&old) || is_namespace {
            if old["metadata"].get("deletionTimestamp").is_some() {
                return Ok(Deleted {
                    object: (*old).clone(),
                    gone: false,
                });
            }
            let mut new = (*old).clone();
            new["metadata"]["deletionTimestamp"] = json!(rfc3339(self.clock.now_ms()));
            new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            if is_namespace {
                new["status"]["phase"] = json!("Terminating");
            }
            let obj = self.commit(inner, rt, key, new, EventType::Modified);
            if is_namespace {
                return Ok(self.finish_namespace(inner, name).unwrap_or(Deleted {
                    object: (*obj).clone(),
                    gone: false,
                }));
            }
            return Ok(Deleted {
                object: (*obj).clone(),
                gone: false,
            });
        }
        let gone = self.commit(inner, rt, key.clone(), (*old).clone(), EventType::Deleted);
        self.after_removal(inner, rt, &key);
        Ok(Deleted {
            object: (*gone).clone(),
            gone: true,
        })
    }

    /// Cleans side tables once an object is really gone; finishes a terminating namespace
    /// whose last object this was.
    fn after_removal(&self, inner: &mut Inner, rt: &ResourceType, key: &Key) {
        if rt.group.is_empty() && rt.plural == "pods" {
            let stale: Vec<_> = inner
                .logs
                .range((key.0.clone(), key.1.clone(), String::new())..)
                .take_while(|(k, _)| k.0 == key.0 && k.1 == key.1)
                .map(|(k, _)| k.clone())
                .collect();
            for k in stale {
                inner.logs.remove(&k);
            }
        }
        if rt.namespaced {
            let nst = lookup("", "namespaces").expect("namespaces are served");
            let terminating = inner.objects[type_index(nst)]
                .get(&(String::new(), key.0.clone()))
                .is_some_and(|n| n.object["metadata"].get("deletionTimestamp").is_some());
            if terminating {
                self.finish_namespace(inner, &key.0.clone());
            }
        }
    }

    /// Stands in for the namespace controller until it exists: deletes everything in a
    /// terminating namespace and removes the namespace once nothing (no finalizer) remains.
    fn finish_namespace(&self, inner: &mut Inner, ns: &str) -> Option<Deleted> {
        for rt in RESOURCES.iter().filter(|r| r.namespaced) {
            let names: Vec<String> = inner.objects[type_index(rt)]
                .range((ns.to_string(), String::new())..)
                .take_while(|(k, _)| k.0 == ns)
                .filter(|(_, e)| e.object["metadata"].get("deletionTimestamp").is_none())
                .map(|(k, _)| k.1.clone())
                .collect();
            for name in names {
                let key = (ns.to_string(), name.clone());
                let old = inner.objects[type_index(rt)]
                    .get(&key)
                    .map(|e| e.object.clone())?;
                if finalizers_empty(&old) {
                    self.commit(inner, rt, key, (*old).clone(), EventType::Deleted);
                } else {
                    let mut new = (*old).clone();
                    new["metadata"]["deletionTimestamp"] = json!(rfc3339(self.clock.now_ms()));
                    self.commit(inner, rt, key, new, EventType::Modified);
                }
            }
        }
        let empty = RESOURCES.iter().filter(|r| r.namespaced).all(|rt| {
            inner.objects[type_index(rt)]
                .range((ns.to_string(), String::new())..)
                .next()
                .is_none_or(|(k, _)| k.0 != ns)
        });
        if !empty {
            return None;
        }
        let nst = lookup("", "namespaces").expect("namespaces are served");
        let key = (String::new(), ns.to_string());
        let old = inner.objects[type_index(nst)]
            .get(&key)
            .map(|e| e.object.clone())?;
        let gone = self.commit(inner, nst, key, (*old).clone(), EventType::Deleted);
        Some(Deleted {
            object: (*gone).clone(),
            gone: true,
        })
    }

    /// Deletes every object a list with `opts` would return; returns what was deleted.
    pub fn delete_collection(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Vec<Value>> {
        let mut all = ListOptions {
            limit: 0,
            continue_token: None,
            ..opts.clone()
        };
        all.limit = 0;
        let page = self.list(rt, ns, &all)?;
        let mut inner = self.lock();
        let mut out = Vec::new();
        for obj in page.items {
            let name = meta_str(&obj, "name").unwrap_or("").to_string();
            let ns = meta_str(&obj, "namespace").map(str::to_string);
            match self.delete_locked(&mut inner, rt, ns.as_deref(), &name, (None, None)) {
                Ok(d) => out.push(d.object),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Starts a watch. `rv` None or 0: synthetic ADDED events for the current state. `rv` N:
    /// replay of every change after N, or 410 Expired if N is older than the history.
    pub fn watch(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        rv: Option<u64>,
    ) -> Result<WatchStart> {
        let inner = self.lock();
        let live = self.tx.subscribe();
        let ns_filter = ns.filter(|_| rt.namespaced);
        let in_ns = |obj: &Value| ns_filter.is_none_or(|n| meta_str(obj, "namespace") == Some(n));
        let initial = match rv.filter(|&v| v != 0) {
            None => inner.objects[type_index(rt)]
                .values()
                .filter(|e| in_ns(&e.object))
                .map(|e| {
                    let rv = meta_str(&e.object, "resourceVersion")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    Arc::new(Change {
                        rv,
                        rt,
                        kind: EventType::Added,
                        object: e.object.clone(),
                        prev: None,
                        json: e.json.clone(),
                        line: OnceLock::new(),
                    })
                })
                .collect(),
            Some(n) if n < inner.compacted => {
                return Err(Error::Expired(format!(
                    "too old resource version: {n} ({})",
                    inner.compacted + 1
                )));
            }
            Some(n) => inner
                .history
                .iter()
                .filter(|c| c.rv > n && std::ptr::eq(c.rt, rt) && in_ns(&c.object))
                .cloned()
                .collect(),
        };
        Ok(WatchStart {
            initial,
            rv: inner.rv,
            live,
        })
    }

    /// Appends text to a container's log (the simulated kubelet's job).
    pub fn append_log(&self, ns: &str, pod: &str, container: &str, text: &str) {
        let mut inner = self.lock();
        inner
            .logs
            .entry((ns.into(), pod.into(), container.into()))
            .or_default()
            .push_str(text);
    }

    /// A container's log so far.
    pub fn log(&self, ns: &str, pod: &str, container: &str) -> String {
        self.lock()
            .logs
            .get(&(ns.into(), pod.into(), container.into()))
            .cloned()
            .unwrap_or_default()
    }

    /// pods/binding: assigns an unbound pod to a node.
    pub fn bind(&self, ns: &str, pod: &str, node: &str) -> Result<Value> {
        let rt = lookup("", "pods").expect("pods are served");
        let mut inner = self.lock();
        let key = (ns.to_string(), pod.to_string());
        let old = inner.objects[type_index(rt)]
            .get(&key)
            .map(|e| e.object.clone())
            .ok_or_else(|| not_found(rt, pod))?;
        if let Some(n) = old["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
            return Err(Error::Conflict {
                group: String::new(),
                resource: "pods/binding".into(),
                qualified: "pods/binding".into(),
                name: pod.into(),
                reason: format!("pod {pod} is already assigned to node \"{n}\""),
            });
        }
        if old["metadata"].get("deletionTimestamp").is_some() {
            return Err(conflict(
                rt,
                pod,
                "pod is being deleted, cannot be assigned to a host",
            ));
        }
        let mut new = (*old).clone();
        new["spec"]["nodeName"] = json!(node);
        let cond = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                          "lastTransitionTime": rfc3339(self.clock.now_ms())});
        let conds = new["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut conds: Vec<Value> = conds
            .into_iter()
            .filter(|c| c["type"] != "PodScheduled")
            .collect();
        conds.push(cond);
        new["status"]["conditions"] = Value::Array(conds);
        Ok((*self.commit(&mut inner, rt, key, new, EventType::Modified)).clone())
    }

    /// pods/eviction: deletes the pod unless a PodDisruptionBudget forbids it (429).
    pub fn evict(&self, ns: &str, pod: &str) -> Result<Deleted> {
        let pods = lookup("", "pods").expect("pods are served");
        let pdbs = lookup("policy", "poddisruptionbudgets").expect("pdbs are served");
        let mut inner = self.lock();
        let key = (ns.to_string(), pod.to_string());
        let target = inner.objects[type_index(pods)]
            .get(&key)
            .map(|e| e.object.clone())
            .ok_or_else(|| not_found(pods, pod))?;
        let terminal = matches!(
            target["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        );
        let deleting = target["metadata"].get("deletionTimestamp").is_some();
        if !terminal && !deleting {
            let ns_pods: Vec<Arc<Value>> = inner.objects[type_index(pods)]
                .range((ns.to_string(), String::new())..)
                .take_while(|(k, _)| k.0 == ns)
                .map(|(_, e)| e.object.clone())
                .collect();
            let budgets: Vec<Arc<Value>> = inner.objects[type_index(pdbs)]
                .range((ns.to_string(), String::new())..)
                .take_while(|(k, _)| k.0 == ns)
                .map(|(_, e)| e.object.clone())
                .collect();
            for pdb in budgets {
                let Some(sel) = LabelSelector::from_object(&pdb["spec"]["selector"]) else {
                    continue;
                };
                if !pdb["spec"]["selector"].is_object() || !sel.matches(&target) {
                    continue;
                }
                let matching: Vec<&Arc<Value>> = ns_pods
                    .iter()
                    .filter(|p| sel.matches(p) && p["metadata"].get("deletionTimestamp").is_none())
                    .collect();
                let expected = matching.len() as i64;
                let healthy = matching.iter().filter(|p| pod_ready(p)).count() as i64;
                let desired = if let Some(v) =
                    int_or_percent(&pdb["spec"]["minAvailable"], expected)
                {
                    v
                } else if let Some(v) = int_or_percent(&pdb["spec"]["maxUnavailable"], expected) {
                    (expected - v).max(0)
                } else {
                    0
                };
                let allowed = if pod_ready(&target) {
                    healthy - desired >= 1
                } else {
                    healthy >= desired
                };
                if !allowed {
                    return Err(Error::TooManyRequests {
                        message:
                            "Cannot evict pod as it would violate the pod's disruption budget."
                                .into(),
                        cause: format!(
                            "The disruption budget {} needs {desired} healthy pods and has {healthy} currently",
                            meta_str(&pdb, "name").unwrap_or("")
                        ),
                    });
                }
            }
        }
        self.delete_locked(&mut inner, pods, Some(ns), pod, (None, None))
    }

    /// The `autoscaling/v1` Scale of a deployment or replica set.
    pub fn get_scale(&self, rt: &'static ResourceType, ns: &str, name: &str) -> Result<Value> {
        let obj = self.get(rt, Some(ns), name)?;
        let selector = LabelSelector::from_object(&obj["spec"]["selector"])
            .map(|s| s.to_query())
            .unwrap_or_default();
        Ok(json!({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": name, "namespace": ns, "uid": obj["metadata"]["uid"],
                         "resourceVersion": obj["metadata"]["resourceVersion"],
                         "creationTimestamp": obj["metadata"]["creationTimestamp"]},
            "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
            "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
        }))
    }

    /// Writes `spec.replicas` from a Scale; a resourceVersion in it is a precondition.
    pub fn set_scale(
        &self,
        rt: &'static ResourceType,
        ns: &str,
        name: &str,
        scale: &Value,
    ) -> Result<Value> {
        let replicas = scale["spec"]["replicas"]
            .as_i64()
            .filter(|r| *r >= 0)
            .ok_or_else(|| Error::Invalid {
                group: "autoscaling".into(),
                kind: "Scale".into(),
                name: name.into(),
                summary: "spec.replicas: Invalid value: must be greater than or equal to 0".into(),
                causes: vec![(
                    "spec.replicas".into(),
                    "FieldValueInvalid".into(),
                    "must be greater than or equal to 0".into(),
                )],
            })?;
        let mut patch = json!({"spec": {"replicas": replicas}});
        if let Some(rv) = meta_str(scale, "resourceVersion").filter(|v| !v.is_empty()) {
            patch["metadata"] = json!({"resourceVersion": rv});
        }
        self.patch(
            rt,
            Some(ns),
            name,
            PatchType::Merge,
            &patch,
            Target::Main,
            None,
        )?;
        self.get_scale(rt, ns, name)
    }
}

/// How long a continue token lasts: etcd's default compaction interval, 5 minutes.
const CONTINUE_TTL_MS: i64 = 5 * 60 * 1000;

fn encode_continue(rv: u64, key: &Key, listed_at_ms: i64) -> String {
    let raw = json!({"rv": rv, "ns": key.0, "name": key.1, "at": listed_at_ms}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// (resourceVersion, last key, when the first page was listed if the token says).
fn decode_continue(tok: &str) -> Result<(u64, Key, Option<i64>)> {
    let bad = || {
        Error::BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into())
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tok)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok((
        v["rv"].as_u64().ok_or_else(bad)?,
        (
            v["ns"].as_str().ok_or_else(bad)?.to_string(),
            v["name"].as_str().ok_or_else(bad)?.to_string(),
        ),
        v["at"].as_i64(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn server() -> ApiServer {
        ApiServer::new(
            Arc::new(ManualClock::new(1_700_000_000_000)),
            Config::default(),
        )
    }

    fn pod(name: &str) -> Value {
        json!({"metadata": {"name": name, "labels": {"app": "w\"eb", "ü": "x"}},
               "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    }

    #[test]
    fn a_watch_line_and_the_objects_encoding_are_serde_jsons_bytes_whichever_comes_first() {
        let api = server();
        let pods = lookup("", "pods").expect("pods are served");
        let w = api.watch(pods, None, Some(api.resource_version())).unwrap();
        let mut live = w.live;
        api.create(pods, Some("default"), pod("a"), false).unwrap();
        api.create(pods, Some("default"), pod("b"), false).unwrap();
        let (a, b) = (live.try_recv().unwrap(), live.try_recv().unwrap());
        // `a`: the line first, then the encoding (a slice of it); `b`: the other way round.
        let line_a = a.line(EventType::Added);
        let json_b = b.json.json(&b.object).clone();
        let line_b = b.line(EventType::Added);
        for (c, line) in [(&a, line_a), (&b, line_b)] {
            let want = serde_json::to_vec(&*c.object).unwrap();
            assert_eq!(c.json.json(&c.object)[..], want[..]);
            assert_eq!(
                c.json.metadata(&c.object)[..],
                serde_json::to_vec(&c.object["metadata"]).unwrap()[..]
            );
            let event: Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(event, json!({"type": "ADDED", "object": *c.object}));
            assert!(line.ends_with(b"\n"));
            // Seen as another kind by a filtered watcher: its own line, same object.
            let other: Value = serde_json::from_slice(&c.line(EventType::Deleted)).unwrap();
            assert_eq!(other["type"], "DELETED");
            assert_eq!(other["object"], *c.object);
        }
        assert_eq!(json_b[..], serde_json::to_vec(&*b.object).unwrap()[..]);
        // A list shares the encodings the watch made.
        let page = api
            .list(pods, Some("default"), &ListOptions::default())
            .unwrap();
        let listed = page.encodings[0].json(&page.items[0]);
        assert!(std::ptr::eq(
            listed.as_ptr(),
            a.json.json(&a.object).as_ptr()
        ));
    }

    #[test]
    fn a_continue_token_outlives_the_watch_history_but_not_five_minutes() {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let api = ApiServer::new(
            clock.clone(),
            Config {
                history: 10,
                ..Config::default()
            },
        );
        let pods = lookup("", "pods").expect("pods are served");
        for i in 0..5 {
            api.create(pods, Some("default"), pod(&format!("p{i}")), false)
                .unwrap();
        }
        let page = |tok: Option<String>| {
            api.list(
                pods,
                Some("default"),
                &ListOptions {
                    limit: 2,
                    continue_token: tok,
                    ..ListOptions::default()
                },
            )
        };
        let first = page(None).unwrap();
        // Far more writes than the history keeps, as under a burst.
        for i in 0..50 {
            api.create(pods, Some("kube-system"), pod(&format!("q{i}")), false)
                .unwrap();
        }
        let second = page(first.continue_token.clone()).unwrap();
        assert_eq!(second.items[0]["metadata"]["name"], "p2");
        assert_eq!(second.resource_version, first.resource_version);
        clock.advance_ms(CONTINUE_TTL_MS + 1);
        let err = page(second.continue_token.clone()).unwrap_err();
        assert!(matches!(err, Error::Expired(_)), "{err:?}");
        // A token without its time (an older server's) expires with the history, as before.
        let legacy = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"rv": 1, "ns": "default", "name": "p1"}).to_string());
        assert!(matches!(page(Some(legacy)), Err(Error::Expired(_))));
    }

    #[test]
    fn a_status_only_merge_patch_changes_the_status_and_nothing_else() {
        let api = server();
        let pods = lookup("", "pods").expect("pods are served");
        let created = api.create(pods, Some("default"), pod("p"), false).unwrap();
        let patch = json!({"status": {"phase": "Running", "qosClass": null, "podIP": "10.0.0.1"}});
        let (fast, _) = api
            .patch(
                pods,
                Some("default"),
                "p",
                PatchType::Merge,
                &patch,
                Target::Status,
                None,
            )
            .unwrap();
        let mut want = created.clone();
        merge_patch(&mut want, &patch);
        want["metadata"]["resourceVersion"] = fast["metadata"]["resourceVersion"].clone();
        assert_eq!(fast, want);
        // The same patch again writes nothing.
        let rv = api.resource_version();
        api.patch(
            pods,
            Some("default"),
            "p",
            PatchType::Merge,
            &patch,
            Target::Status,
            None,
        )
        .unwrap();
        assert_eq!(api.resource_version(), rv);
        // A status patch that also names other fields keeps them unchanged, as before.
        let (slow, _) = api
            .patch(
                pods,
                Some("default"),
                "p",
                PatchType::Merge,
                &json!({"spec": {"nodeName": "n9"}, "status": {"phase": "Succeeded"}}),
                Target::Status,
                None,
            )
            .unwrap();
        assert!(slow["spec"].get("nodeName").is_none());
        assert_eq!(slow["status"]["phase"], "Succeeded");
    }
}
