//! Reading a snapshot from JSON and checking what serde cannot: references between objects,
//! sizes, the priority configuration. Every error names the JSON path that is wrong.

use std::collections::BTreeMap;

use crate::expander::Priorities;
use crate::model::Snapshot;
use crate::{Error, Result};

impl Snapshot {
    /// Parses and validates a snapshot document.
    pub fn from_json(json: &str) -> Result<Self> {
        let snapshot: Snapshot = match serde_json::from_str(json) {
            Ok(s) => s,
            // Parse again with path tracking only on failure: it costs on the happy path.
            Err(_) => {
                let de = &mut serde_json::Deserializer::from_str(json);
                match serde_path_to_error::deserialize::<_, Snapshot>(de) {
                    Ok(s) => s,
                    Err(e) => {
                        let path = e.path().to_string();
                        return Err(Error::Json {
                            path: if path == "." {
                                "(document)".into()
                            } else {
                                path
                            },
                            message: e.into_inner().to_string(),
                        });
                    }
                }
            }
        };
        snapshot.validate()?;
        Ok(snapshot)
    }

    /// Checks the cross-references and ranges of a parsed snapshot.
    pub fn validate(&self) -> Result<()> {
        let invalid = |path: String, problem: String| Err(Error::Invalid { path, problem });
        let mut node_names = BTreeMap::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let name = &node.metadata.name;
            if name.is_empty() {
                return invalid(
                    format!("nodes[{i}].metadata.name"),
                    "missing or empty".into(),
                );
            }
            if let Some(first) = node_names.insert(name.as_str(), i) {
                return invalid(
                    format!("nodes[{i}].metadata.name"),
                    format!("{name:?} is also nodes[{first}]"),
                );
            }
        }
        for (i, pod) in self.pods.iter().enumerate() {
            if pod.metadata.name.is_empty() {
                return invalid(
                    format!("pods[{i}].metadata.name"),
                    "missing or empty".into(),
                );
            }
        }
        let mut group_ids = BTreeMap::new();
        let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
        for (g, group) in self.node_groups.iter().enumerate() {
            if group.id.is_empty() {
                return invalid(format!("nodeGroups[{g}].id"), "missing or empty".into());
            }
            if let Some(first) = group_ids.insert(group.id.as_str(), g) {
                return invalid(
                    format!("nodeGroups[{g}].id"),
                    format!("{:?} is also nodeGroups[{first}]", group.id),
                );
            }
            if group.min_size > group.max_size {
                return invalid(
                    format!("nodeGroups[{g}].minSize"),
                    format!("{} is above maxSize {}", group.min_size, group.max_size),
                );
            }
            for (j, name) in group.node_names.iter().enumerate() {
                if let Some(other) = owner.insert(name, g) {
                    return invalid(
                        format!("nodeGroups[{g}].nodeNames[{j}]"),
                        format!("node {name:?} is also in nodeGroups[{other}]"),
                    );
                }
            }
        }
        if let Some(config) = &self.priority_config {
            Priorities::from_config(config).map_err(|e| Error::Invalid {
                path: "priorityConfig".into(),
                problem: e.to_string(),
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_type_is_reported_with_its_json_path() {
        let err = Snapshot::from_json(
            r#"{"pods": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"},
                "spec": {"containers": [{"resources": {"requests": {"cpu": "lots"}}}]}}]}"#,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("pods[1].spec.containers[0].resources.requests.cpu"),
            "{text}"
        );
        assert!(text.contains("lots"), "{text}");
    }

    #[test]
    fn a_node_in_two_groups_and_inverted_sizes_are_rejected() {
        let group = |id: &str, min: u32, max: u32| {
            format!(
                r#"{{"id": "{id}", "minSize": {min}, "maxSize": {max}, "targetSize": 0, "nodeNames": ["n"], "template": {{}}}}"#
            )
        };
        let err = Snapshot::from_json(&format!(
            r#"{{"nodeGroups": [{}, {}]}}"#,
            group("a", 0, 1),
            group("b", 0, 1)
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("nodeGroups[1].nodeNames[0]"),
            "{err}"
        );
        let err = Snapshot::from_json(&format!(r#"{{"nodeGroups": [{}]}}"#, group("a", 3, 1)))
            .unwrap_err();
        assert!(err.to_string().contains("nodeGroups[0].minSize"), "{err}");
    }

    #[test]
    fn a_bad_priority_regex_is_reported() {
        let err = Snapshot::from_json(r#"{"priorityConfig": "10:\n  - '(['\n"}"#).unwrap_err();
        assert!(err.to_string().starts_with("priorityConfig"), "{err}");
    }
}
