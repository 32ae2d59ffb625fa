//! Label and field selectors, parsed from the query string and matched against stored objects.
//!
//! Label selectors support `=`, `==`, `!=`, `in (…)`, `notin (…)`, `key` and `!key`. Field
//! selectors support `=`, `==`, `!=` over the fields each resource type indexes on the real
//! server; anything else is a 400, as there.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::resources::ResourceType;

#[derive(Debug, Clone, PartialEq)]
enum LabelOp {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<(String, LabelOp)>);

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_label_key(k: &str) -> bool {
    let name = k.rsplit('/').next().unwrap_or(k);
    !name.is_empty()
        && name.len() <= 63
        && k.matches('/').count() <= 1
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn valid_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

impl LabelSelector {
    /// Parses the `labelSelector` query parameter.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::BadRequest(format!("unable to parse requirement: {why}"));
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(Self(reqs));
        }
        for part in split_top(s) {
            let part = part.trim();
            if part.is_empty() {
                return Err(bad("found '', expected: identifier"));
            }
            let (key, op) = if let Some(k) = part.strip_prefix('!') {
                (k.trim().to_string(), LabelOp::NotExists)
            } else if let Some((k, v)) = part.split_once("!=") {
                (k.trim().to_string(), LabelOp::NotEq(v.trim().to_string()))
            } else if let Some((k, v)) = part.split_once("==") {
                (k.trim().to_string(), LabelOp::Eq(v.trim().to_string()))
            } else if let Some((k, v)) = part.split_once('=') {
                (k.trim().to_string(), LabelOp::Eq(v.trim().to_string()))
            } else if let Some((k, rest)) = split_set_op(part, " notin ") {
                (k, LabelOp::NotIn(parse_set(rest).ok_or_else(|| bad(part))?))
            } else if let Some((k, rest)) = split_set_op(part, " in ") {
                (k, LabelOp::In(parse_set(rest).ok_or_else(|| bad(part))?))
            } else {
                (part.to_string(), LabelOp::Exists)
            };
            if !valid_label_key(&key) {
                return Err(bad(&format!("invalid label key \"{key}\"")));
            }
            let values: Vec<&String> = match &op {
                LabelOp::Eq(v) | LabelOp::NotEq(v) => vec![v],
                LabelOp::In(vs) | LabelOp::NotIn(vs) => vs.iter().collect(),
                _ => vec![],
            };
            if let Some(v) = values.into_iter().find(|v| !valid_label_value(v)) {
                return Err(bad(&format!("invalid label value: \"{v}\"")));
            }
            reqs.push((key, op));
        }
        Ok(Self(reqs))
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let labels = &obj["metadata"]["labels"];
        self.0.iter().all(|(k, op)| {
            let v = labels.get(k).and_then(Value::as_str);
            match op {
                LabelOp::Eq(want) => v == Some(want.as_str()),
                LabelOp::NotEq(want) => v != Some(want.as_str()),
                LabelOp::In(set) => v.is_some_and(|v| set.iter().any(|s| s == v)),
                LabelOp::NotIn(set) => !v.is_some_and(|v| set.iter().any(|s| s == v)),
                LabelOp::Exists => v.is_some(),
                LabelOp::NotExists => v.is_none(),
            }
        })
    }

    /// The selector of a `matchLabels`/`matchExpressions` LabelSelector object.
    pub fn from_object(sel: &Value) -> Option<Self> {
        let mut reqs = Vec::new();
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                reqs.push((k.clone(), LabelOp::Eq(v.as_str()?.to_string())));
            }
        }
        for e in sel
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = e["key"].as_str()?.to_string();
            let vals: Vec<String> = e["values"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let op = match e["operator"].as_str()? {
                "In" => LabelOp::In(vals),
                "NotIn" => LabelOp::NotIn(vals),
                "Exists" => LabelOp::Exists,
                "DoesNotExist" => LabelOp::NotExists,
                _ => return None,
            };
            reqs.push((key, op));
        }
        Some(Self(reqs))
    }

    /// The selector in its string form (`app=web,tier in (a,b)`), as `kubectl` shows it.
    pub fn to_query(&self) -> String {
        self.0
            .iter()
            .map(|(k, op)| match op {
                LabelOp::Eq(v) => format!("{k}={v}"),
                LabelOp::NotEq(v) => format!("{k}!={v}"),
                LabelOp::In(vs) => format!("{k} in ({})", vs.join(",")),
                LabelOp::NotIn(vs) => format!("{k} notin ({})", vs.join(",")),
                LabelOp::Exists => k.clone(),
                LabelOp::NotExists => format!("!{k}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn split_set_op(part: &str, op: &str) -> Option<(String, String)> {
    let (k, rest) = part.split_once(op)?;
    Some((k.trim().to_string(), rest.trim().to_string()))
}

fn parse_set(rest: String) -> Option<Vec<String>> {
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

/// A parsed field selector; each term is (field, wanted value, negated).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, String, bool)>);

/// The fields beyond `metadata.name`/`metadata.namespace` that each resource type indexes.
fn extra_fields(rt: &ResourceType) -> &'static [&'static str] {
    match (rt.group, rt.plural) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "namespaces") => &["status.phase"],
        ("", "secrets") => &["type"],
        ("apps", "replicasets") => &["status.replicas"],
        _ => &[],
    }
}

/// The string value the real server indexes for `field` (absent → "").
fn field_value(rt: &ResourceType, obj: &Value, field: &str) -> String {
    let v = match field {
        "source" => &obj["source"]["component"],
        f => {
            let mut cur = obj;
            for seg in f.split('.') {
                cur = &cur[seg];
            }
            cur
        }
    };
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null if field == "spec.unschedulable" || field == "spec.hostNetwork" => {
            "false".into()
        }
        Value::Null if rt.plural == "replicasets" && field == "status.replicas" => "0".into(),
        _ => String::new(),
    }
}

impl FieldSelector {
    /// Parses the `fieldSelector` parameter, rejecting fields the resource does not index.
    pub fn parse(rt: &ResourceType, s: &str) -> Result<Self> {
        let mut terms = Vec::new();
        if s.trim().is_empty() {
            return Ok(Self(terms));
        }
        for part in s.split(',') {
            let (field, value, neg) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, false)
            } else {
                return Err(Error::BadRequest(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            if field != "metadata.name"
                && field != "metadata.namespace"
                && !extra_fields(rt).contains(&field)
            {
                return Err(Error::BadRequest(format!(
                    "field label not supported: {field}"
                )));
            }
            terms.push((field.to_string(), value.trim().to_string(), neg));
        }
        Ok(Self(terms))
    }

    /// Whether the object satisfies every term.
    pub fn matches(&self, rt: &ResourceType, obj: &Value) -> bool {
        self.0.iter().all(|(f, want, neg)| {
            let got = match f.as_str() {
                "metadata.name" => obj["metadata"]["name"].as_str().unwrap_or("").to_string(),
                "metadata.namespace" => obj["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                f => field_value(rt, obj, f),
            };
            (got == *want) != *neg
        })
    }

    /// The value required for `metadata.name`, if the selector pins one (a fast path for lists).
    pub fn pinned_name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _, neg)| f == "metadata.name" && !neg)
            .map(|(_, v, _)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;
    use serde_json::json;

    fn pod(labels: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "d", "labels": labels},
               "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
    }

    #[test]
    fn every_label_operator_matches_as_documented() {
        let p = pod(json!({"app": "web", "tier": "fe"}));
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web,db)", true),
            ("app notin (web)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app=web,tier in (fe)", true),
            ("missing!=x", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&p),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn a_malformed_label_selector_is_a_bad_request() {
        for bad in ["app=web,", "a b=c", "x in (", "app=we b"] {
            assert!(
                matches!(LabelSelector::parse(bad), Err(Error::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn pod_field_selectors_match_node_and_phase_and_negation() {
        let rt = lookup("", "pods").unwrap();
        let p = pod(json!({}));
        let sel = FieldSelector::parse(rt, "spec.nodeName=n1,status.phase!=Succeeded").unwrap();
        assert!(sel.matches(rt, &p));
        let sel = FieldSelector::parse(rt, "spec.nodeName=").unwrap();
        assert!(!sel.matches(rt, &p));
    }

    #[test]
    fn an_unindexed_field_is_rejected() {
        let rt = lookup("", "configmaps").unwrap();
        assert!(FieldSelector::parse(rt, "spec.nodeName=x").is_err());
        assert!(FieldSelector::parse(rt, "metadata.name=x").is_ok());
    }

    #[test]
    fn an_absent_unschedulable_flag_reads_as_false() {
        let rt = lookup("", "nodes").unwrap();
        let sel = FieldSelector::parse(rt, "spec.unschedulable=false").unwrap();
        assert!(sel.matches(rt, &json!({"metadata": {"name": "n"}})));
    }
}
