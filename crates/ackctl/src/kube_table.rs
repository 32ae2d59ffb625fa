//! What `kubectl get` prints, without kubectl: the API server's own Table for a list, fetched
//! with a kubeconfig and printed in kubectl's column layout.

use anyhow::Context as _;
use serde_json::Value;

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// A client for the cluster a kubeconfig (YAML text) points at.
pub async fn client(kubeconfig: &str) -> anyhow::Result<kube::Client> {
    let parsed = kube::config::Kubeconfig::from_yaml(kubeconfig).context("invalid kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(parsed, &Default::default())
        .await
        .context("unusable kubeconfig")?;
    kube::Client::try_from(config).context("cannot build a Kubernetes client")
}

/// The Table the server renders for `path` (e.g. `/api/v1/nodes`).
pub async fn get(client: &kube::Client, path: &str) -> anyhow::Result<Value> {
    let request = http::Request::get(path)
        .header(http::header::ACCEPT, TABLE)
        .body(Vec::new())?;
    client
        .request::<Value>(request)
        .await
        .with_context(|| format!("GET {path}"))
}

/// The rows of a Table, each as its cells' text in column order.
pub fn rows(table: &Value) -> Vec<Vec<String>> {
    table["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    row["cells"]
                        .as_array()
                        .map(|cells| cells.iter().map(cell_text).collect())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The Table as kubectl prints it: the default (priority 0) columns, upper-case headers, three
/// spaces between columns.
pub fn render(table: &Value) -> String {
    let columns: Vec<(usize, String)> = table["columnDefinitions"]
        .as_array()
        .map(|defs| {
            defs.iter()
                .enumerate()
                .filter(|(_, d)| d["priority"].as_i64().unwrap_or(0) == 0)
                .map(|(i, d)| (i, d["name"].as_str().unwrap_or("").to_uppercase()))
                .collect()
        })
        .unwrap_or_default();
    let mut lines: Vec<Vec<String>> = vec![columns.iter().map(|(_, n)| n.clone()).collect()];
    for row in rows(table) {
        lines.push(
            columns
                .iter()
                .map(|(i, _)| row.get(*i).cloned().unwrap_or_default())
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..columns.len())
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    lines
        .iter()
        .map(|line| {
            let padded: Vec<String> = line
                .iter()
                .zip(&widths)
                .map(|(text, w)| format!("{text:<w$}"))
                .collect();
            padded.join("   ").trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn cell_text(cell: &Value) -> String {
    match cell {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_table_prints_its_default_columns_aligned_like_kubectl() {
        let table = json!({
            "columnDefinitions": [
                {"name": "Name", "priority": 0}, {"name": "Status", "priority": 0},
                {"name": "Internal-IP", "priority": 1}, {"name": "Age", "priority": 0},
            ],
            "rows": [
                {"cells": ["cn-hangzhou.i-1", "Ready", "10.0.0.1", "5s"]},
                {"cells": ["cn-hangzhou.i-22", "NotReady", "10.0.0.2", "12m"]},
            ],
        });
        assert_eq!(
            render(&table),
            "NAME               STATUS     AGE\n\
             cn-hangzhou.i-1    Ready      5s\n\
             cn-hangzhou.i-22   NotReady   12m"
        );
    }

    #[test]
    fn numbers_and_nulls_print_as_kubectl_does() {
        let table = json!({"rows": [{"cells": ["a", 3, null]}]});
        assert_eq!(
            rows(&table),
            vec![vec!["a".to_owned(), "3".into(), String::new()]]
        );
    }
}
