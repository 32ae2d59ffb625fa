//! The non-resource documents clients read before anything else: `/version`, legacy and
//! aggregated discovery, and the `/openapi/v3` stub.
//!
//! The OpenAPI stub carries no schemas, only one PATCH operation per kind declaring the
//! `fieldValidation` parameter: that is what makes kubectl keep client validation on and send
//! `fieldValidation=Strict` (research §1.3). We do not check unknown fields under Strict.

use serde_json::{Value, json};

use crate::resources::{RESOURCES, ResourceType, groups, verbs};

/// The Kubernetes version this server reports. gcloud's kubectl dispatcher picks the client
/// binary from `minor`, and 1.32 is installed here.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.4-aliyun.1",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.8", "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn group_version(group: &str) -> String {
    if group.is_empty() {
        "v1".into()
    } else {
        format!("{group}/v1")
    }
}

/// `/api`.
pub fn api_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]})
}

fn api_group(group: &str) -> Value {
    let gv = json!({"groupVersion": group_version(group), "version": "v1"});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [gv], "preferredVersion": gv})
}

/// `/apis`.
pub fn api_group_list() -> Value {
    json!({"kind": "APIGroupList", "apiVersion": "v1",
           "groups": groups().into_iter().map(|g| { let mut v = api_group(g); if let Some(m) = v.as_object_mut() { m.remove("kind"); m.remove("apiVersion"); } v }).collect::<Vec<_>>()})
}

/// `/apis/<group>`, if served.
pub fn api_group_doc(group: &str) -> Option<Value> {
    groups().contains(&group).then(|| api_group(group))
}

/// `/api/v1` or `/apis/<g>/<v>`: the legacy resource list, subresources as `pods/status`.
pub fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    let rts: Vec<&ResourceType> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if rts.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for r in rts {
        let mut main = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                              "kind": r.kind, "verbs": verbs()});
        if !r.short_names.is_empty() {
            main["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            main["categories"] = json!(r.categories);
        }
        resources.push(main);
        for s in r.subresources {
            let mut sub = json!({"name": format!("{}/{}", r.plural, s.name), "singularName": "",
                                 "namespaced": r.namespaced, "kind": s.gvk.2, "verbs": s.verbs});
            if s.gvk.0 != r.group {
                sub["group"] = json!(s.gvk.0);
                sub["version"] = json!(s.gvk.1);
            }
            resources.push(sub);
        }
    }
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version(group), "resources": resources}),
    )
}

/// The Content-Type of an aggregated discovery reply; client-go recognises it exactly.
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether an Accept header asks for aggregated discovery (v2).
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let p: Vec<&str> = part.split(';').map(str::trim).collect();
        p.contains(&"g=apidiscovery.k8s.io")
            && p.contains(&"v=v2")
            && p.contains(&"as=APIGroupDiscoveryList")
    })
}

fn discovery_group(group: &str) -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.group == group)
        .map(|r| {
            let mut v = json!({
                "resource": r.plural,
                "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": r.singular,
                "verbs": verbs(),
            });
            if !r.short_names.is_empty() {
                v["shortNames"] = json!(r.short_names);
            }
            if !r.categories.is_empty() {
                v["categories"] = json!(r.categories);
            }
            if !r.subresources.is_empty() {
                v["subresources"] = r
                    .subresources
                    .iter()
                    .map(|s| json!({"subresource": s.name,
                                    "responseKind": {"group": s.gvk.0, "version": s.gvk.1, "kind": s.gvk.2},
                                    "verbs": s.verbs}))
                    .collect();
            }
            v
        })
        .collect();
    json!({"metadata": {"name": group}, "versions": [{"version": "v1", "resources": resources, "freshness": "Current"}]})
}

/// Aggregated discovery for `/api` (core) or `/apis` (every other group).
pub fn aggregated(core: bool) -> Value {
    let items: Vec<Value> = if core {
        vec![discovery_group("")]
    } else {
        groups().into_iter().map(discovery_group).collect()
    };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

fn gv_path(group: &str) -> String {
    if group.is_empty() {
        "api/v1".into()
    } else {
        format!("apis/{group}/v1")
    }
}

/// A stable hash of a group-version document, so clients may cache it.
fn doc_hash(group: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in openapi_doc(group)
        .map(|d| d.to_string())
        .unwrap_or_default()
        .bytes()
    {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

/// `/openapi/v3`. `prefix` is the path the client reached this server under (for example
/// `/kube/c123`): client-go requests `serverRelativeURL` as given, dropping its own base path.
pub fn openapi_index(prefix: &str) -> Value {
    let mut paths = serde_json::Map::new();
    let mut gs = vec![""];
    gs.extend(groups());
    for g in gs {
        let p = gv_path(g);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("{prefix}/openapi/v3/{p}?hash={}", doc_hash(g))}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/<g>/v1`, from the group.
pub fn openapi_doc(group: &str) -> Option<Value> {
    let rts: Vec<&ResourceType> = RESOURCES.iter().filter(|r| r.group == group).collect();
    if rts.is_empty() {
        return None;
    }
    let mut paths = serde_json::Map::new();
    for r in rts {
        let path = if r.namespaced {
            format!(
                "/{}/namespaces/{{namespace}}/{}/{{name}}",
                gv_path(group),
                r.plural
            )
        } else {
            format!("/{}/{}/{{name}}", gv_path(group), r.plural)
        };
        paths.insert(path, json!({"patch": {
            "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                           {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                           {"name": "dryRun", "in": "query", "schema": {"type": "string"}}],
            "responses": {}}}));
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.4"},
                "components": {"schemas": {}}, "paths": paths}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_drain_finds_pods_eviction_in_the_legacy_core_list() {
        let l = api_resource_list("", "v1").unwrap();
        let ev = l["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods/eviction")
            .unwrap();
        assert_eq!(ev["group"], "policy");
        assert_eq!(ev["kind"], "Eviction");
    }

    #[test]
    fn the_openapi_index_points_under_the_mount_prefix() {
        let idx = openapi_index("/kube/c1");
        let url = idx["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(
            url.starts_with("/kube/c1/openapi/v3/apis/apps/v1?hash="),
            "{url}"
        );
    }

    #[test]
    fn only_a_v2_aggregated_accept_selects_aggregated_discovery() {
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
        assert!(!wants_aggregated("application/json"));
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
        ));
    }
}
