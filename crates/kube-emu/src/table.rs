//! Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for, with the
//! columns the real server's printers produce (`pkg/printers/internalversion/printers.go`).
//! Priority-1 columns are the ones kubectl shows only with `-o wide`.
//!
//! Rows are written as bytes, not built as `Value`s: an object's cells are made once per
//! version (a [`CellsTemplate`] with holes for the AGE-like cells, kept in its encoding) and its
//! metadata is a slice of its shared JSON, so the output is byte for byte what serializing the
//! `Value` form ([`row`]) gives, at a fraction of the cost.

use std::borrow::Cow;

use serde_json::{Value, json};

use crate::clock::{human_duration, parse_ms};
use crate::resources::ResourceType;
use crate::selector::LabelSelector;
use crate::store::Encoding;

/// (name, type, priority) of each column.
type Columns = &'static [(&'static str, &'static str, u8)];

fn columns(rt: &ResourceType) -> Columns {
    match (rt.group, rt.plural) {
        ("", "nodes") => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        ("", "pods") => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        ("", "namespaces") => &[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Age", "string", 0),
        ],
        ("", "services") => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        ("", "endpoints") => &[
            ("Name", "string", 0),
            ("Endpoints", "string", 0),
            ("Age", "string", 0),
        ],
        ("", "events") => &[
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ],
        ("", "configmaps") => &[
            ("Name", "string", 0),
            ("Data", "string", 0),
            ("Age", "string", 0),
        ],
        ("", "secrets") => &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Data", "string", 0),
            ("Age", "string", 0),
        ],
        ("apps", "deployments") => &[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "string", 0),
            ("Available", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        ("apps", "replicasets") => &[
            ("Name", "string", 0),
            ("Desired", "string", 0),
            ("Current", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        ("apps", "daemonsets") => &[
            ("Name", "string", 0),
            ("Desired", "string", 0),
            ("Current", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "string", 0),
            ("Available", "string", 0),
            ("Node Selector", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        ("coordination.k8s.io", "leases") => &[
            ("Name", "string", 0),
            ("Holder", "string", 0),
            ("Age", "string", 0),
        ],
        ("policy", "poddisruptionbudgets") => &[
            ("Name", "string", 0),
            ("Min Available", "string", 0),
            ("Max Unavailable", "string", 0),
            ("Allowed Disruptions", "string", 0),
            ("Age", "string", 0),
        ],
        _ => &[("Name", "string", 0), ("Age", "string", 0)],
    }
}

/// The column definitions of a resource's Table.
pub fn column_definitions(rt: &ResourceType) -> Value {
    Value::Array(
        columns(rt)
            .iter()
            .map(|(name, ty, prio)| {
                json!({"name": name, "type": ty, "format": if *name == "Name" { "name" } else { "" },
                       "description": "", "priority": prio})
            })
            .collect(),
    )
}

/// One cell: a string (borrowed from the object where it can be), a number, or the age of a
/// timestamp (ms since the epoch; None when it does not parse), which depends on when the
/// Table is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Age(Option<i64>),
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(v: &'a str) -> Self {
        Cell::Str(Cow::Borrowed(v))
    }
}

impl From<String> for Cell<'_> {
    fn from(v: String) -> Self {
        Cell::Str(Cow::Owned(v))
    }
}

impl<'a> From<Cow<'a, str>> for Cell<'a> {
    fn from(v: Cow<'a, str>) -> Self {
        Cell::Str(v)
    }
}

impl From<i64> for Cell<'_> {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}

impl Cell<'_> {
    fn to_value(&self, now_ms: i64) -> Value {
        match self {
            Cell::Str(s) => Value::String(s.to_string()),
            Cell::Int(n) => Value::from(*n),
            Cell::Age(ts) => Value::String(age_text(*ts, now_ms)),
        }
    }
}

/// A row's cells as JSON with holes where ages go: what an object contributes to every Table
/// row of it, whenever it is written. Made once per object version and kept in its
/// [`Encoding`].
#[derive(Debug, Default)]
pub struct CellsTemplate {
    /// The cells' JSON, without the enclosing brackets, missing the age cells.
    json: Vec<u8>,
    /// Where each age cell goes in `json`, and its timestamp.
    ages: Vec<(usize, Option<i64>)>,
}

impl CellsTemplate {
    /// The template of an object's row.
    pub fn new(rt: &ResourceType, o: &Value) -> Self {
        let mut t = Self::default();
        for (n, c) in row_cells(rt, o).iter().enumerate() {
            if n > 0 {
                t.json.push(b',');
            }
            match c {
                Cell::Str(s) => write_str(&mut t.json, s),
                Cell::Int(v) => t.json.extend_from_slice(v.to_string().as_bytes()),
                Cell::Age(ts) => t.ages.push((t.json.len(), *ts)),
            }
        }
        t
    }

    /// Appends the cells with their ages as of `now_ms`.
    fn write(&self, out: &mut Vec<u8>, now_ms: i64) {
        let mut from = 0;
        for (at, ts) in &self.ages {
            out.extend_from_slice(&self.json[from..*at]);
            // Ages are plain ASCII (digits, units, `<unknown>`): nothing to escape.
            out.push(b'"');
            out.extend_from_slice(age_text(*ts, now_ms).as_bytes());
            out.push(b'"');
            from = *at;
        }
        out.extend_from_slice(&self.json[from..]);
    }
}

/// Appends `s` as a JSON string, escaped exactly as serde_json escapes it.
fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn or_none(v: &str) -> Cow<'_, str> {
    Cow::Borrowed(if v.is_empty() { "<none>" } else { v })
}

fn or_unknown(v: &str) -> Cow<'_, str> {
    Cow::Borrowed(if v.is_empty() { "<unknown>" } else { v })
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// Milliseconds since the epoch of a `YYYY-MM-DDTHH:MM:SSZ` timestamp (what the store and
/// the machinery write), without a general parser; anything else goes to `parse_ms`.
fn timestamp_ms(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    let shape = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let fast = || -> Option<i64> {
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let month_days = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        // Leap seconds and impossible dates are left to the general parser.
        if !(1..=12).contains(&m)
            || d < 1
            || d > month_days[(m - 1) as usize]
            || hh > 23
            || mm > 59
            || ss > 59
        {
            return None;
        }
        // Days from the civil date (Howard Hinnant's algorithm), valid for any Gregorian date.
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000)
    };
    match shape.then(fast).flatten() {
        Some(ms) => Some(ms),
        None => parse_ms(ts),
    }
}

/// An AGE-style cell for a timestamp field: rendered against the request's clock when written.
fn age(ts: &Value) -> Cell<'static> {
    Cell::Age(ts.as_str().and_then(timestamp_ms))
}

fn age_text(ts: Option<i64>, now_ms: i64) -> String {
    match ts {
        Some(t) => human_duration(now_ms - t),
        None => "<unknown>".into(),
    }
}

fn containers_and_images(tpl_spec: &Value) -> (String, String) {
    let cs = tpl_spec["containers"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    (
        cs.iter()
            .map(|c| s(&c["name"]))
            .collect::<Vec<_>>()
            .join(","),
        cs.iter()
            .map(|c| s(&c["image"]))
            .collect::<Vec<_>>()
            .join(","),
    )
}

fn selector_string(sel: &Value) -> String {
    match LabelSelector::from_object(sel) {
        Some(l) if sel.is_object() => {
            let q = l.to_query();
            if q.is_empty() { "<none>".into() } else { q }
        }
        _ => "<none>".into(),
    }
}

fn map_selector(sel: &Value) -> String {
    match sel.as_object() {
        Some(m) if !m.is_empty() => {
            let mut parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect();
            parts.sort();
            parts.join(",")
        }
        _ => "<none>".into(),
    }
}

fn node_status(n: &Value) -> Cow<'static, str> {
    let ready = n["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready");
    let st = match ready.map(|c| s(&c["status"])) {
        Some("True") => "Ready",
        Some("False") => "NotReady",
        _ => "Unknown",
    };
    if n["spec"]["unschedulable"] == true {
        Cow::Owned(format!("{st},SchedulingDisabled"))
    } else {
        Cow::Borrowed(st)
    }
}

fn node_roles(n: &Value) -> String {
    let mut roles: Vec<&str> = Vec::new();
    for (k, v) in n["metadata"]["labels"].as_object().into_iter().flatten() {
        if let Some(r) = k
            .strip_prefix("node-role.kubernetes.io/")
            .filter(|r| !r.is_empty())
        {
            roles.push(r);
        } else if k == "kubernetes.io/role" && !s(v).is_empty() {
            roles.push(s(v));
        }
    }
    roles.sort_unstable();
    roles.dedup();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

fn node_address<'a>(n: &'a Value, ty: &str) -> Cow<'a, str> {
    Cow::Borrowed(
        n["status"]["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["type"] == ty)
            .map_or("<none>", |a| s(&a["address"])),
    )
}

/// Pod STATUS as kubectl shows it: a waiting/terminated reason beats the phase.
fn pod_status(p: &Value) -> Cow<'_, str> {
    if p["metadata"].get("deletionTimestamp").is_some() {
        return Cow::Borrowed("Terminating");
    }
    let mut reason = Cow::Borrowed(s(&p["status"]["reason"]));
    if reason.is_empty() {
        reason = Cow::Borrowed(match s(&p["status"]["phase"]) {
            "" => "Pending",
            phase => phase,
        });
    }
    for cs in p["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let st = &cs["state"];
        if let Some(r) = st["waiting"]["reason"].as_str().filter(|r| !r.is_empty()) {
            reason = Cow::Borrowed(r);
        } else if let Some(r) = st["terminated"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = Cow::Borrowed(r);
        } else if st.get("terminated").is_some() {
            reason = Cow::Owned(format!("ExitCode:{}", i(&st["terminated"]["exitCode"])));
        }
    }
    reason
}

fn pod_ports(svc: &Value) -> String {
    let ports = svc["spec"]["ports"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    if ports.is_empty() {
        return "<none>".into();
    }
    ports
        .iter()
        .map(|p| {
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(np) => format!("{}:{np}/{proto}", i(&p["port"])),
                None => format!("{}/{proto}", i(&p["port"])),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn service_external_ip(svc: &Value) -> String {
    let spec = &svc["spec"];
    let mut ips: Vec<String> = spec["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| s(v).to_string())
        .collect();
    match s(&spec["type"]) {
        "ExternalName" => return s(&spec["externalName"]).to_string(),
        "LoadBalancer" => {
            for ing in svc["status"]["loadBalancer"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let v = if ing["ip"].is_string() {
                    s(&ing["ip"])
                } else {
                    s(&ing["hostname"])
                };
                ips.push(v.to_string());
            }
            if ips.is_empty() {
                return "<pending>".into();
            }
        }
        _ => {}
    }
    if ips.is_empty() {
        "<none>".into()
    } else {
        ips.join(",")
    }
}

/// The cells of one row, as JSON values.
pub fn cells(rt: &ResourceType, o: &Value, now_ms: i64) -> Vec<Value> {
    row_cells(rt, o)
        .iter()
        .map(|c| c.to_value(now_ms))
        .collect()
}

/// The cells of one row, borrowing from the object where they can.
pub fn row_cells<'a>(rt: &ResourceType, o: &'a Value) -> Vec<Cell<'a>> {
    let name = s(&o["metadata"]["name"]);
    let created = age(&o["metadata"]["creationTimestamp"]);
    let st = &o["status"];
    let sp = &o["spec"];
    match (rt.group, rt.plural) {
        ("", "nodes") => {
            let info = &st["nodeInfo"];
            vec![
                name.into(),
                node_status(o).into(),
                node_roles(o).into(),
                created,
                s(&info["kubeletVersion"]).into(),
                node_address(o, "InternalIP").into(),
                node_address(o, "ExternalIP").into(),
                or_unknown(s(&info["osImage"])).into(),
                or_unknown(s(&info["kernelVersion"])).into(),
                or_unknown(s(&info["containerRuntimeVersion"])).into(),
            ]
        }
        ("", "pods") => {
            let total = sp["containers"].as_array().map_or(0, Vec::len);
            let statuses = st["containerStatuses"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|c| i(&c["restartCount"])).sum();
            vec![
                name.into(),
                format!("{ready}/{total}").into(),
                pod_status(o).into(),
                restarts.to_string().into(),
                created,
                or_none(s(&st["podIP"])).into(),
                or_none(s(&sp["nodeName"])).into(),
                or_none(s(&st["nominatedNodeName"])).into(),
                "<none>".into(),
            ]
        }
        ("", "namespaces") => vec![name.into(), s(&st["phase"]).into(), created],
        ("", "services") => vec![
            name.into(),
            s(&sp["type"]).into(),
            or_none(s(&sp["clusterIP"])).into(),
            service_external_ip(o).into(),
            pod_ports(o).into(),
            created,
            map_selector(&sp["selector"]).into(),
        ],
        ("", "endpoints") => {
            let mut eps = Vec::new();
            for sub in o["subsets"].as_array().into_iter().flatten() {
                for a in sub["addresses"].as_array().into_iter().flatten() {
                    for p in sub["ports"].as_array().into_iter().flatten() {
                        eps.push(format!("{}:{}", s(&a["ip"]), i(&p["port"])));
                    }
                }
            }
            let eps = eps.join(",");
            vec![name.into(), or_none(&eps).into_owned().into(), created]
        }
        ("", "events") => {
            let last = if o["lastTimestamp"].is_string() {
                &o["lastTimestamp"]
            } else {
                &o["eventTime"]
            };
            let first = if o["firstTimestamp"].is_string() {
                &o["firstTimestamp"]
            } else {
                &o["eventTime"]
            };
            let io = &o["involvedObject"];
            let source: Cow<'_, str> = match (s(&o["source"]["component"]), s(&o["source"]["host"]))
            {
                ("", _) => s(&o["reportingComponent"]).into(),
                (c, "") => c.into(),
                (c, h) => format!("{c}, {h}").into(),
            };
            vec![
                age(last),
                s(&o["type"]).into(),
                s(&o["reason"]).into(),
                format!("{}/{}", s(&io["kind"]).to_lowercase(), s(&io["name"])).into(),
                s(&io["fieldPath"]).into(),
                source.into(),
                s(&o["message"]).trim().into(),
                age(first),
                o["count"].as_i64().unwrap_or(1).to_string().into(),
                name.into(),
            ]
        }
        ("", "configmaps") => {
            let n = o["data"].as_object().map_or(0, |m| m.len())
                + o["binaryData"].as_object().map_or(0, |m| m.len());
            vec![name.into(), (n as i64).into(), created]
        }
        ("", "secrets") => {
            let n = o["data"].as_object().map_or(0, |m| m.len());
            vec![
                name.into(),
                o["type"].as_str().unwrap_or("Opaque").into(),
                (n as i64).into(),
                created,
            ]
        }
        ("apps", "deployments") => {
            let (c, im) = containers_and_images(&sp["template"]["spec"]);
            vec![
                name.into(),
                format!(
                    "{}/{}",
                    i(&st["readyReplicas"]),
                    sp["replicas"].as_i64().unwrap_or(1)
                )
                .into(),
                i(&st["updatedReplicas"]).into(),
                i(&st["availableReplicas"]).into(),
                created,
                c.into(),
                im.into(),
                selector_string(&sp["selector"]).into(),
            ]
        }
        ("apps", "replicasets") => {
            let (c, im) = containers_and_images(&sp["template"]["spec"]);
            vec![
                name.into(),
                sp["replicas"].as_i64().unwrap_or(1).into(),
                i(&st["replicas"]).into(),
                i(&st["readyReplicas"]).into(),
                created,
                c.into(),
                im.into(),
                selector_string(&sp["selector"]).into(),
            ]
        }
        ("apps", "daemonsets") => {
            let (c, im) = containers_and_images(&sp["template"]["spec"]);
            vec![
                name.into(),
                i(&st["desiredNumberScheduled"]).into(),
                i(&st["currentNumberScheduled"]).into(),
                i(&st["numberReady"]).into(),
                i(&st["updatedNumberScheduled"]).into(),
                i(&st["numberAvailable"]).into(),
                map_selector(&sp["template"]["spec"]["nodeSelector"]).into(),
                created,
                c.into(),
                im.into(),
                selector_string(&sp["selector"]).into(),
            ]
        }
        ("coordination.k8s.io", "leases") => {
            vec![name.into(), s(&sp["holderIdentity"]).into(), created]
        }
        ("policy", "poddisruptionbudgets") => {
            let show = |v: &'a Value| -> Cell<'a> {
                match v {
                    Value::Null => "N/A".into(),
                    Value::String(x) => x.as_str().into(),
                    other => other.to_string().into(),
                }
            };
            vec![
                name.into(),
                show(&sp["minAvailable"]),
                show(&sp["maxUnavailable"]),
                i(&st["disruptionsAllowed"]).into(),
                created,
            ]
        }
        _ => vec![name.into(), created],
    }
}

/// The metadata-only object a row carries (kubectl reads namespace and labels from it).
pub fn partial_object(o: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
}

/// One row: cells plus the object (metadata only, or the full object if asked).
pub fn row(rt: &ResourceType, o: &Value, now_ms: i64, full_object: bool) -> Value {
    json!({"cells": cells(rt, o, now_ms), "object": if full_object { o.clone() } else { partial_object(o) }})
}

/// Appends one row's JSON, byte for byte what serializing [`row`] gives, but without building
/// it: the object part comes from the object's shared encoding (its metadata for a
/// PartialObjectMetadata, or all of it with `includeObject=Object`).
pub fn write_row(
    out: &mut Vec<u8>,
    rt: &ResourceType,
    o: &Value,
    enc: &Encoding,
    now_ms: i64,
    full_object: bool,
) {
    out.extend_from_slice(b"{\"cells\":[");
    enc.cells(rt, o).write(out, now_ms);
    out.extend_from_slice(b"],\"object\":");
    if full_object {
        out.extend_from_slice(enc.json(o));
    } else {
        out.extend_from_slice(
            b"{\"apiVersion\":\"meta.k8s.io/v1\",\"kind\":\"PartialObjectMetadata\",\"metadata\":",
        );
        if o.get("metadata").is_some() {
            out.extend_from_slice(&enc.metadata(o));
        } else {
            out.extend_from_slice(b"null");
        }
        out.push(b'}');
    }
    out.push(b'}');
}

/// Appends the start of a Table, up to the opening of `rows` (keys in serde_json's sorted
/// order, as serializing the whole Table as a `Value` gives them). `with_columns: false`
/// sends an empty list (watch events after the first).
pub fn write_head(out: &mut Vec<u8>, rt: &ResourceType, metadata: &Value, with_columns: bool) {
    out.extend_from_slice(b"{\"apiVersion\":\"meta.k8s.io/v1\",\"columnDefinitions\":");
    if with_columns {
        let _ = serde_json::to_writer(&mut *out, &column_definitions(rt));
    } else {
        out.extend_from_slice(b"[]");
    }
    out.extend_from_slice(b",\"kind\":\"Table\",\"metadata\":");
    let _ = serde_json::to_writer(&mut *out, metadata);
    out.extend_from_slice(b",\"rows\":[");
}

/// What closes a Table opened by [`write_head`].
pub const TAIL: &[u8] = b"]}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;

    #[test]
    fn a_cordoned_ready_worker_reads_like_kubectl_shows_it() {
        let rt = lookup("", "nodes").unwrap();
        let n = json!({"metadata": {"name": "n1", "creationTimestamp": "2024-01-01T00:00:00Z",
                       "labels": {"node-role.kubernetes.io/worker": ""}},
                       "spec": {"unschedulable": true},
                       "status": {"conditions": [{"type": "Ready", "status": "True"}],
                                  "nodeInfo": {"kubeletVersion": "v1.32.1"},
                                  "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}});
        let now = parse_ms("2024-01-01T00:00:05Z").unwrap();
        let c = cells(rt, &n, now);
        assert_eq!(
            c[..6],
            [
                json!("n1"),
                json!("Ready,SchedulingDisabled"),
                json!("worker"),
                json!("5s"),
                json!("v1.32.1"),
                json!("10.0.0.1")
            ]
        );
        assert_eq!(column_definitions(rt).as_array().unwrap().len(), c.len());
    }

    #[test]
    fn a_fresh_pod_is_pending_with_nothing_ready() {
        let rt = lookup("", "pods").unwrap();
        let p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Pending"}});
        let c = cells(rt, &p, 0);
        assert_eq!(c[1], "0/1");
        assert_eq!(c[2], "Pending");
        assert_eq!(c[6], "<none>");
    }

    #[test]
    fn the_fast_timestamp_parse_agrees_with_the_general_one() {
        for ts in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2023-12-31T00:00:01Z",
            "2000-03-01T12:30:45Z",
            "2100-02-28T01:02:03Z",
            "1969-07-20T20:17:40Z",
        ] {
            assert_eq!(timestamp_ms(ts), parse_ms(ts), "{ts}");
            assert!(timestamp_ms(ts).is_some(), "{ts}");
        }
        for odd in [
            "2023-02-29T00:00:00Z",
            "2024-01-01T00:00:00.123456Z",
            "2024-01-01T08:00:00+08:00",
            "yesterday",
        ] {
            assert_eq!(timestamp_ms(odd), parse_ms(odd), "{odd}");
        }
    }

    #[test]
    fn written_rows_and_heads_are_byte_for_byte_the_serialized_table() {
        let pods = lookup("", "pods").unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-\"quoted\"-ü", "namespace": "team-a", "creationTimestamp": "2024-01-01T00:00:00Z",
                         "labels": {"app": "web"}, "resourceVersion": "42"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.7",
                       "containerStatuses": [{"ready": true, "restartCount": 2, "state": {"running": {}}}]}});
        let now = parse_ms("2024-01-01T03:04:05Z").unwrap();
        for (rt, o) in [
            (pods, pod.clone()),
            (pods, json!({"metadata": {"name": "bare"}})),
            (pods, json!({"spec": {}})),
        ]
        .into_iter()
        .chain(
            crate::resources::RESOURCES
                .iter()
                .map(|rt| (rt, pod.clone())),
        ) {
            for full in [false, true] {
                let want = serde_json::to_vec(&row(rt, &o, now, full)).unwrap();
                let mut got = Vec::new();
                write_row(&mut got, rt, &o, &Encoding::default(), now, full);
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&want),
                    "{}",
                    rt.plural
                );
                // And again from an encoding that already holds the whole object.
                let enc = Encoding::default();
                enc.json(&o);
                let mut again = Vec::new();
                write_row(&mut again, rt, &o, &enc, now, full);
                assert_eq!(again, want, "{} from a cached encoding", rt.plural);
            }
        }
        let meta = json!({"resourceVersion": "7", "continue": "abc", "remainingItemCount": 3});
        let table = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                           "columnDefinitions": column_definitions(pods), "rows": [row(pods, &pod, now, false)]});
        let mut got = Vec::new();
        write_head(&mut got, pods, &meta, true);
        write_row(&mut got, pods, &pod, &Encoding::default(), now, false);
        got.extend_from_slice(TAIL);
        assert_eq!(got, serde_json::to_vec(&table).unwrap());
    }

    #[test]
    fn every_resource_has_as_many_cells_as_columns() {
        for rt in crate::resources::RESOURCES {
            let o = json!({"metadata": {"name": "x"}});
            assert_eq!(cells(rt, &o, 0).len(), columns(rt).len(), "{}", rt.plural);
        }
    }
}
