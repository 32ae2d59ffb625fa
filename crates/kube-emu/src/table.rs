//! Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for, with the
//! columns the real server's printers produce (`pkg/printers/internalversion/printers.go`).
//! Priority-1 columns are the ones kubectl shows only with `-o wide`.

use serde_json::{Value, json};

use crate::clock::{human_duration, parse_ms};
use crate::resources::ResourceType;
use crate::selector::LabelSelector;

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

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn or_none(v: &str) -> String {
    if v.is_empty() {
        "<none>".into()
    } else {
        v.into()
    }
}

fn or_unknown(v: &str) -> String {
    if v.is_empty() {
        "<unknown>".into()
    } else {
        v.into()
    }
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn age(ts: &Value, now_ms: i64) -> String {
    match ts.as_str().and_then(parse_ms) {
        Some(t) => human_duration(now_ms - t),
        None => "<unknown>".into(),
    }
}

fn containers_and_images(tpl_spec: &Value) -> (String, String) {
    let cs = tpl_spec["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (
        cs.iter()
            .map(|c| s(&c["name"]).to_string())
            .collect::<Vec<_>>()
            .join(","),
        cs.iter()
            .map(|c| s(&c["image"]).to_string())
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

fn node_status(n: &Value) -> String {
    let ready = n["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready");
    let mut st = match ready.map(|c| s(&c["status"])) {
        Some("True") => "Ready".to_string(),
        Some("False") => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    if n["spec"]["unschedulable"] == true {
        st.push_str(",SchedulingDisabled");
    }
    st
}

fn node_roles(n: &Value) -> String {
    let mut roles: Vec<String> = Vec::new();
    for (k, v) in n["metadata"]["labels"].as_object().into_iter().flatten() {
        if let Some(r) = k
            .strip_prefix("node-role.kubernetes.io/")
            .filter(|r| !r.is_empty())
        {
            roles.push(r.into());
        } else if k == "kubernetes.io/role" && !s(v).is_empty() {
            roles.push(s(v).into());
        }
    }
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

fn node_address(n: &Value, ty: &str) -> String {
    n["status"]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["type"] == ty)
        .map(|a| s(&a["address"]).to_string())
        .unwrap_or_else(|| "<none>".into())
}

/// Pod STATUS as kubectl shows it: a waiting/terminated reason beats the phase.
fn pod_status(p: &Value) -> String {
    if p["metadata"].get("deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    let mut reason = s(&p["status"]["reason"]).to_string();
    if reason.is_empty() {
        reason = or_unknown(s(&p["status"]["phase"]));
        if reason == "<unknown>" {
            reason = "Pending".into();
        }
    }
    for cs in p["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let st = &cs["state"];
        if let Some(r) = st["waiting"]["reason"].as_str().filter(|r| !r.is_empty()) {
            reason = r.into();
        } else if let Some(r) = st["terminated"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = r.into();
        } else if st.get("terminated").is_some() {
            reason = format!("ExitCode:{}", i(&st["terminated"]["exitCode"]));
        }
    }
    reason
}

fn pod_ports(svc: &Value) -> String {
    let ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
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

/// The cells of one row.
pub fn cells(rt: &ResourceType, o: &Value, now_ms: i64) -> Vec<Value> {
    let name = s(&o["metadata"]["name"]).to_string();
    let created = age(&o["metadata"]["creationTimestamp"], now_ms);
    let st = &o["status"];
    let sp = &o["spec"];
    match (rt.group, rt.plural) {
        ("", "nodes") => {
            let info = &st["nodeInfo"];
            vec![
                json!(name),
                json!(node_status(o)),
                json!(node_roles(o)),
                json!(created),
                json!(s(&info["kubeletVersion"])),
                json!(node_address(o, "InternalIP")),
                json!(node_address(o, "ExternalIP")),
                json!(or_unknown(s(&info["osImage"]))),
                json!(or_unknown(s(&info["kernelVersion"]))),
                json!(or_unknown(s(&info["containerRuntimeVersion"]))),
            ]
        }
        ("", "pods") => {
            let total = sp["containers"].as_array().map_or(0, Vec::len);
            let statuses = st["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|c| i(&c["restartCount"])).sum();
            vec![
                json!(name),
                json!(format!("{ready}/{total}")),
                json!(pod_status(o)),
                json!(restarts.to_string()),
                json!(created),
                json!(or_none(s(&st["podIP"]))),
                json!(or_none(s(&sp["nodeName"]))),
                json!(or_none(s(&st["nominatedNodeName"]))),
                json!("<none>"),
            ]
        }
        ("", "namespaces") => vec![json!(name), json!(s(&st["phase"])), json!(created)],
        ("", "services") => vec![
            json!(name),
            json!(s(&sp["type"])),
            json!(or_none(s(&sp["clusterIP"]))),
            json!(service_external_ip(o)),
            json!(pod_ports(o)),
            json!(created),
            json!(map_selector(&sp["selector"])),
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
            vec![json!(name), json!(or_none(&eps.join(","))), json!(created)]
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
            let source = match (s(&o["source"]["component"]), s(&o["source"]["host"])) {
                ("", _) => s(&o["reportingComponent"]).to_string(),
                (c, "") => c.to_string(),
                (c, h) => format!("{c}, {h}"),
            };
            vec![
                json!(age(last, now_ms)),
                json!(s(&o["type"])),
                json!(s(&o["reason"])),
                json!(format!(
                    "{}/{}",
                    s(&io["kind"]).to_lowercase(),
                    s(&io["name"])
                )),
                json!(s(&io["fieldPath"])),
                json!(source),
                json!(s(&o["message"]).trim()),
                json!(age(first, now_ms)),
                json!(o["count"].as_i64().unwrap_or(1).to_string()),
                json!(name),
            ]
        }
        ("", "configmaps") => {
            let n = o["data"].as_object().map_or(0, |m| m.len())
                + o["binaryData"].as_object().map_or(0, |m| m.len());
            vec![json!(name), json!(n), json!(created)]
        }
        ("", "secrets") => {
            let n = o["data"].as_object().map_or(0, |m| m.len());
            vec![
                json!(name),
                json!(o["type"].as_str().unwrap_or("Opaque")),
                json!(n),
                json!(created),
            ]
        }
        ("apps", "deployments") => {
            let (c, im) = containers_and_images(&sp["template"]["spec"]);
            vec![
                json!(name),
                json!(format!(
                    "{}/{}",
                    i(&st["readyReplicas"]),
                    sp["replicas"].as_i64().unwrap_or(1)
                )),
                json!(i(&st["updatedReplicas"])),
                json!(i(&st["availableReplicas"])),
                json!(created),
                json!(c),
                json!(im),
                json!(selector_string(&sp["selector"])),
            ]
        }
        ("apps", "replicasets") => {
            let (c, im) = containers_and_images(&sp["template"]["spec"]);
            vec![
                json!(name),
                json!(sp["replicas"].as_i64().unwrap_or(1)),
                json!(i(&st["replicas"])),
                json!(i(&st["readyReplicas"])),
                json!(created),
                json!(c),
                json!(im),
                json!(selector_string(&sp["selector"])),
            ]
        }
        ("apps", "daemonsets") => {
            let (c, im) = containers_and_images(&sp["template"]["spec"]);
            vec![
                json!(name),
                json!(i(&st["desiredNumberScheduled"])),
                json!(i(&st["currentNumberScheduled"])),
                json!(i(&st["numberReady"])),
                json!(i(&st["updatedNumberScheduled"])),
                json!(i(&st["numberAvailable"])),
                json!(map_selector(&sp["template"]["spec"]["nodeSelector"])),
                json!(created),
                json!(c),
                json!(im),
                json!(selector_string(&sp["selector"])),
            ]
        }
        ("coordination.k8s.io", "leases") => {
            vec![json!(name), json!(s(&sp["holderIdentity"])), json!(created)]
        }
        ("policy", "poddisruptionbudgets") => {
            let show = |v: &Value| match v {
                Value::Null => "N/A".to_string(),
                Value::String(x) => x.clone(),
                other => other.to_string(),
            };
            vec![
                json!(name),
                json!(show(&sp["minAvailable"])),
                json!(show(&sp["maxUnavailable"])),
                json!(i(&st["disruptionsAllowed"])),
                json!(created),
            ]
        }
        _ => vec![json!(name), json!(created)],
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
    fn every_resource_has_as_many_cells_as_columns() {
        for rt in crate::resources::RESOURCES {
            let o = json!({"metadata": {"name": "x"}});
            assert_eq!(cells(rt, &o, 0).len(), columns(rt).len(), "{}", rt.plural);
        }
    }
}
