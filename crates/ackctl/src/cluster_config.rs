//! The declarative cluster file of `ackctl create cluster -f cluster.yaml`, in eksctl's manner:
//! a name and region, a zone, the credentials secret, dedicated masters or a managed control
//! plane, and node pools. Pure: parsing, defaulting (what `--dry-run` prints) and the
//! translation to the server's Pipeline-style create request.
//!
//! ```yaml
//! apiVersion: ackctl.io/v1alpha1
//! kind: ClusterConfig
//! metadata: {name: demo, region: eu-central-1}
//! zone: eu-central-1a
//! secret: my-alibaba-secret
//! masters: {instanceType: ecs.sn1ne.large}       # omit for a managed control plane
//! nodePools:
//!   - {name: pool1, instanceType: ecs.sn1ne.large, count: 1, labels: {team: web}}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const API_VERSION: &str = "ackctl.io/v1alpha1";
pub const KIND: &str = "ClusterConfig";
const DEFAULT_DISK: &str = "cloud_efficiency";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterConfig {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    pub metadata: Metadata,
    pub zone: String,
    /// The name of an `alibaba` secret on the server.
    pub secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masters: Option<Masters>,
    #[serde(default)]
    pub node_pools: Vec<NodePool>,
    /// Keep what a failed create made, for inspection.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_on_failure: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    pub region: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Masters {
    #[serde(default)]
    pub count: Option<u32>,
    pub instance_type: String,
    #[serde(default)]
    pub system_disk_category: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodePool {
    pub name: String,
    pub instance_type: String,
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default)]
    pub system_disk_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_disk_size: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Taint {
    pub key: String,
    #[serde(default)]
    pub value: String,
    pub effect: String,
}

/// Parses a cluster file; errors name the field.
pub fn parse(text: &str) -> anyhow::Result<ClusterConfig> {
    let config: ClusterConfig = serde_saphyr::from_str(text)
        .map_err(|e| anyhow::anyhow!("the cluster file is not a ClusterConfig: {e}"))?;
    if !config.api_version.is_empty() && config.api_version != API_VERSION {
        anyhow::bail!(
            "apiVersion {:?} is not supported; use {API_VERSION}",
            config.api_version
        );
    }
    if !config.kind.is_empty() && config.kind != KIND {
        anyhow::bail!("kind {:?} is not {KIND}", config.kind);
    }
    Ok(config)
}

/// Fills in every default, so the result is what will be asked for (and what `--dry-run`
/// prints, reusable with `-f`).
pub fn defaulted(mut c: ClusterConfig) -> anyhow::Result<ClusterConfig> {
    c.api_version = API_VERSION.to_owned();
    c.kind = KIND.to_owned();
    for (field, value) in [
        ("metadata.name", &c.metadata.name),
        ("metadata.region", &c.metadata.region),
        ("zone", &c.zone),
        ("secret", &c.secret),
    ] {
        if value.trim().is_empty() {
            anyhow::bail!("{field} is required");
        }
    }
    if let Some(m) = &mut c.masters {
        m.count.get_or_insert(3);
        m.system_disk_category
            .get_or_insert_with(|| DEFAULT_DISK.to_owned());
    }
    if c.masters.is_none() && c.node_pools.is_empty() {
        anyhow::bail!("nodePools: a managed cluster (no masters) needs at least one node pool");
    }
    for (i, p) in c.node_pools.iter_mut().enumerate() {
        if p.name.is_empty() || p.instance_type.is_empty() {
            anyhow::bail!("nodePools[{i}]: name and instanceType are required");
        }
        p.count.get_or_insert(p.min_count.unwrap_or(1));
        p.system_disk_category
            .get_or_insert_with(|| DEFAULT_DISK.to_owned());
    }
    Ok(c)
}

/// The server's create request (Pipeline's body with `properties.ack`).
pub fn create_request(c: &ClusterConfig, secret_id: &str) -> Value {
    let pools: serde_json::Map<String, Value> = c
        .node_pools
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                json!({
                    "count": p.count,
                    "minCount": p.min_count,
                    "maxCount": p.max_count,
                    "image": p.image,
                    "instanceType": p.instance_type,
                    "systemDiskCategory": p.system_disk_category,
                    "systemDiskSize": p.system_disk_size,
                    "labels": p.labels,
                    "taints": p.taints.iter().map(|t| json!({"key": t.key, "value": t.value, "effect": t.effect})).collect::<Vec<_>>(),
                }),
            )
        })
        .collect();
    let mut ack = json!({
        "regionId": c.metadata.region,
        "zoneId": c.zone,
        "nodePools": pools,
    });
    if let Some(v) = &c.kubernetes_version {
        ack["kubernetesVersion"] = json!(v);
    }
    if let Some(m) = &c.masters {
        ack["masterInstanceType"] = json!(m.instance_type);
        ack["masterCount"] = json!(m.count);
        ack["masterSystemDiskCategory"] = json!(m.system_disk_category);
    }
    json!({
        "name": c.metadata.name,
        "location": c.metadata.region,
        "cloud": "alibaba",
        "secretId": secret_id,
        "keepOnFailure": c.keep_on_failure,
        "properties": {"ack": ack},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "
apiVersion: ackctl.io/v1alpha1
kind: ClusterConfig
metadata: {name: demo, region: eu-central-1}
zone: eu-central-1a
secret: my-alibaba-secret
masters: {instanceType: ecs.sn1ne.large}
nodePools:
  - name: pool1
    instanceType: ecs.sn1ne.large
    image: centos_7
";

    #[test]
    fn the_seed_cluster_file_defaults_to_three_masters_and_one_worker() {
        let c = defaulted(parse(SEED).unwrap()).unwrap();
        let m = c.masters.as_ref().unwrap();
        assert_eq!(m.count, Some(3));
        assert_eq!(m.system_disk_category.as_deref(), Some("cloud_efficiency"));
        assert_eq!(c.node_pools[0].count, Some(1));
        let req = create_request(&c, "s1");
        assert_eq!(
            req["properties"]["ack"]["masterInstanceType"],
            "ecs.sn1ne.large"
        );
        assert_eq!(req["properties"]["ack"]["nodePools"]["pool1"]["count"], 1);
        assert_eq!(req["cloud"], "alibaba");
    }

    #[test]
    fn the_defaulted_file_prints_and_parses_back_to_itself() {
        let c = defaulted(parse(SEED).unwrap()).unwrap();
        let text = serde_saphyr::to_string(&c).unwrap();
        assert_eq!(defaulted(parse(&text).unwrap()).unwrap(), c);
    }

    #[test]
    fn typos_and_missing_fields_are_named() {
        let err = parse(&SEED.replace("instanceType: ecs.sn1ne.large}", "instanceTyp: x}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("instanceTyp"), "{err}");
        let err =
            defaulted(parse(&SEED.replace("secret: my-alibaba-secret", "secret: ''")).unwrap())
                .unwrap_err()
                .to_string();
        assert_eq!(err, "secret is required");
    }
}
