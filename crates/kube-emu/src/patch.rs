//! The patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the strategic
//! merge patch subset that kubectl and the Python client send.
//!
//! Strategic merge is a merge patch in which some lists merge element-by-element on a key
//! (`containers` by `name`, `ports` by `containerPort`…), and which understands the
//! `$patch`, `$setElementOrder/…`, `$retainKeys` and `$deleteFromPrimitiveList/…` directives.
//! Without OpenAPI schemas the merge key comes from the list's field name; lists not listed
//! here are replaced whole, as atomic lists are on the real server.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The patch formats, by request Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
    Apply,
}

impl PatchType {
    /// Maps a Content-Type to a patch format; anything else is a 415.
    pub fn from_content_type(ct: &str) -> Result<Self> {
        let base = ct.split(';').next().unwrap_or("").trim();
        match base {
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/json-patch+json" => Ok(Self::Json),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(Self::Apply),
            _ => Err(Error::UnsupportedMediaType(String::from(
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, \
                 application/apply-patch+yaml, application/strategic-merge-patch+json",
            ))),
        }
    }
}

/// RFC 7386: objects merge recursively, `null` deletes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("made an object above");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn invalid(msg: String) -> Error {
    Error::Invalid {
        group: String::new(),
        kind: String::new(),
        name: String::new(),
        summary: msg.clone(),
        causes: vec![(String::new(), "FieldValueInvalid".into(), msg)],
    }
}

/// Splits a JSON pointer into its parent pointer and last token.
fn split_pointer(path: &str) -> Result<(String, String)> {
    if path.is_empty() {
        return Err(invalid("the root of the document cannot be patched".into()));
    }
    if !path.starts_with('/') {
        return Err(Error::BadRequest(format!("invalid JSON pointer {path:?}")));
    }
    let idx = path.rfind('/').unwrap_or(0);
    Ok((path[..idx].to_string(), unescape(&path[idx + 1..])))
}

fn remove_at(doc: &mut Value, path: &str) -> Result<Value> {
    let (parent, last) = split_pointer(path)?;
    let missing = || invalid(format!("doc is missing path: \"{path}\": missing value"));
    match doc.pointer_mut(&parent).ok_or_else(missing)? {
        Value::Object(m) => m.remove(&last).ok_or_else(missing),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            if i < a.len() {
                Ok(a.remove(i))
            } else {
                Err(missing())
            }
        }
        _ => Err(missing()),
    }
}

fn add_at(doc: &mut Value, path: &str, value: Value) -> Result<()> {
    let (parent, last) = split_pointer(path)?;
    let missing = || invalid(format!("doc is missing path: \"{path}\": missing value"));
    match doc.pointer_mut(&parent).ok_or_else(missing)? {
        Value::Object(m) => {
            m.insert(last, value);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
                return Ok(());
            }
            let i: usize = last.parse().map_err(|_| missing())?;
            if i > a.len() {
                return Err(missing());
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(missing()),
    }
}

/// RFC 6902. A failing `test` or an operation on a missing path is a 422, as on the real server.
pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<()> {
    let ops = patch
        .as_array()
        .ok_or_else(|| Error::BadRequest("json patch must be a JSON array of operations".into()))?;
    for op in ops {
        let kind = op["op"]
            .as_str()
            .ok_or_else(|| Error::BadRequest("json patch operation has no \"op\"".into()))?;
        let path = op["path"].as_str().ok_or_else(|| {
            Error::BadRequest(format!("json patch {kind} operation has no \"path\""))
        })?;
        let value = || {
            op.get("value").cloned().ok_or_else(|| {
                Error::BadRequest(format!("json patch {kind} operation has no \"value\""))
            })
        };
        let from = || {
            op["from"].as_str().ok_or_else(|| {
                Error::BadRequest(format!("json patch {kind} operation has no \"from\""))
            })
        };
        match kind {
            "add" => add_at(doc, path, value()?)?,
            "remove" => {
                remove_at(doc, path)?;
            }
            "replace" => {
                remove_at(doc, path)?;
                add_at(doc, path, value()?)?;
            }
            "move" => {
                let v = remove_at(doc, from()?)?;
                add_at(doc, path, v)?;
            }
            "copy" => {
                let v = doc.pointer(from()?).cloned().ok_or_else(|| {
                    invalid(format!("doc is missing from path: \"{}\"", op["from"]))
                })?;
                add_at(doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(invalid(format!("testing value {path} failed: test failed")));
                }
            }
            other => return Err(Error::BadRequest(format!("Unexpected kind: {other}"))),
        }
    }
    Ok(())
}

/// The merge key of a list field, or None if the list is atomic. `finalizers` is a set.
fn merge_key(field: &str, sample: Option<&Value>) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "containerStatuses"
        | "initContainerStatuses" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" | "addresses" => "type",
        "ownerReferences" => "uid",
        "taints" => "key",
        "hostAliases" => "ip",
        "ports" => {
            if sample.is_some_and(|s| s.get("containerPort").is_some()) {
                "containerPort"
            } else {
                "port"
            }
        }
        _ => return None,
    })
}

fn is_set_list(field: &str) -> bool {
    field == "finalizers"
}

/// Applies a strategic merge patch to `target` in place.
pub fn strategic_merge(target: &mut Value, patch: &Value) -> Result<()> {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut p = p.clone();
            p.remove("$patch");
            *target = Value::Object(p);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some(other) => return Err(Error::BadRequest(format!("unknown patch type: {other}"))),
        None => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let retain: Option<Vec<String>> = p.get("$retainKeys").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    });
    let t = target.as_object_mut().expect("made an object above");
    let mut orders: Vec<(String, Vec<Value>)> = Vec::new();
    for (k, v) in p {
        if k == "$retainKeys" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            if let Some(a) = v.as_array() {
                orders.push((field.to_string(), a.clone()));
            }
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let dels = v.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(a)) = t.get_mut(field) {
                a.retain(|x| !dels.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            return Err(Error::BadRequest(format!(
                "unknown strategic merge directive {k}"
            )));
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match v {
            Value::Array(items) => {
                let existing = t.get(k).and_then(Value::as_array).cloned();
                let merged = merge_list(k, existing, items)?;
                t.insert(k.clone(), Value::Array(merged));
            }
            Value::Object(_) => {
                let slot = t.entry(k.clone()).or_insert(Value::Null);
                strategic_merge(slot, v)?;
                if slot.is_null() {
                    t.remove(k);
                }
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
    for (field, order) in orders {
        if let Some(Value::Array(list)) = t.get_mut(&field) {
            reorder(&field, list, &order);
        }
    }
    if let Some(keep) = retain {
        t.retain(|k, _| keep.contains(k));
    }
    Ok(())
}

fn merge_list(field: &str, existing: Option<Vec<Value>>, items: &[Value]) -> Result<Vec<Value>> {
    if is_set_list(field) {
        let mut out = existing.unwrap_or_default();
        for i in items {
            if !out.contains(i) {
                out.push(i.clone());
            }
        }
        return Ok(out);
    }
    let Some(key) = merge_key(
        field,
        items.first().or(existing.as_ref().and_then(|e| e.first())),
    ) else {
        // Atomic list: strip directives the client may have put in elements, replace whole.
        return Ok(items.to_vec());
    };
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(items
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .cloned()
            .collect());
    }
    let mut out = existing.unwrap_or_default();
    for item in items {
        let Some(kv) = item.get(key) else {
            return Err(Error::BadRequest(format!(
                "map: {item} does not contain declared merge key: {key}"
            )));
        };
        let pos = out.iter().position(|e| e.get(key) == Some(kv));
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = pos {
                out.remove(i);
            }
            continue;
        }
        match pos {
            Some(i) => strategic_merge(&mut out[i], item)?,
            None => {
                let mut fresh = Value::Object(Map::new());
                strategic_merge(&mut fresh, item)?;
                out.push(fresh);
            }
        }
    }
    Ok(out)
}

/// Orders a merged list as `$setElementOrder` says; elements it does not name keep their
/// relative order after the named ones.
fn reorder(field: &str, list: &mut [Value], order: &[Value]) {
    let key = merge_key(field, list.first());
    let rank = |v: &Value| {
        order.iter().position(|o| match key {
            Some(k) => o.get(k).is_some() && o.get(k) == v.get(k),
            None => o == v,
        })
    };
    list.sort_by_key(|v| rank(v).unwrap_or(usize::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_merge_patch_deletes_with_null_and_replaces_lists() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge_patch(&mut doc, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
        assert_eq!(doc, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn a_json_patch_on_a_missing_path_is_invalid() {
        let mut doc = json!({"metadata": {}});
        let err = json_patch(
            &mut doc,
            &json!([{"op": "remove", "path": "/metadata/finalizers"}]),
        );
        assert!(matches!(err, Err(Error::Invalid { .. })));
        let err = json_patch(
            &mut doc,
            &json!([{"op": "test", "path": "/metadata", "value": 1}]),
        );
        assert!(matches!(err, Err(Error::Invalid { .. })));
    }

    #[test]
    fn a_json_patch_adds_replaces_and_appends() {
        let mut doc = json!({"spec": {"l": [1]}});
        json_patch(
            &mut doc,
            &json!([{"op": "add", "path": "/spec/l/-", "value": 2},
                    {"op": "replace", "path": "/spec/l/0", "value": 0},
                    {"op": "add", "path": "/spec/x~1y", "value": true}]),
        )
        .unwrap();
        assert_eq!(doc, json!({"spec": {"l": [0, 2], "x/y": true}}));
    }

    #[test]
    fn kubectl_apply_patches_merge_containers_by_name_and_keep_order() {
        let mut doc = json!({"spec": {"containers": [
            {"name": "a", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "busybox"}]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"image": "nginx:1.26", "name": "a"}]}});
        strategic_merge(&mut doc, &patch).unwrap();
        assert_eq!(doc["spec"]["containers"][0]["image"], "nginx:1.26");
        assert_eq!(
            doc["spec"]["containers"][0]["ports"][0]["containerPort"],
            80
        );
        assert_eq!(doc["spec"]["containers"][1]["name"], "b");
    }

    #[test]
    fn strategic_directives_delete_elements_and_primitives() {
        let mut doc = json!({"metadata": {"finalizers": ["a", "b"]},
                             "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        strategic_merge(
            &mut doc,
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
                    "spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
        )
        .unwrap();
        assert_eq!(doc["metadata"]["finalizers"], json!(["b"]));
        assert_eq!(doc["spec"]["containers"], json!([{"name": "b"}]));
    }

    #[test]
    fn cordon_and_uncordon_patches_set_and_clear_the_flag() {
        let mut node = json!({"spec": {}});
        strategic_merge(&mut node, &json!({"spec": {"unschedulable": true}})).unwrap();
        assert_eq!(node["spec"]["unschedulable"], true);
        strategic_merge(&mut node, &json!({"spec": {"unschedulable": null}})).unwrap();
        assert_eq!(node["spec"], json!({}));
    }

    #[test]
    fn an_unknown_patch_content_type_is_unsupported() {
        assert!(matches!(
            PatchType::from_content_type("text/plain"),
            Err(Error::UnsupportedMediaType(_))
        ));
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8").unwrap(),
            PatchType::Merge
        );
    }
}
