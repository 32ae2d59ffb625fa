//! The request bodies the API accepts, in Pipeline's shapes, and their validation into what the
//! control plane stores and the cloud is asked for. Pure: no I/O, so every rule is unit-tested
//! and a bad request is refused before anything is written.
//!
//! ```text
//!   CreateClusterRequest ──validate_cluster──▶ ValidCluster { StoredCluster, [StoredPool] }
//!                                                   │ + what the cloud sells (check_offering)
//!                                                   ▼
//!                                         cloud::ClusterSpec (cluster_spec)
//! ```

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// Parses a JSON body, naming the field at fault on failure.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body is an object; serde would otherwise read `[…]` as a struct's fields in order.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::malformed("the body must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let text = inner.to_string();
        // "missing field `x`" is reported at the parent; name the field itself.
        if let Some(rest) = text.strip_prefix("missing field `")
            && let Some(name) = rest.split('`').next()
        {
            let field = if path == "." || path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            };
            return ApiError::invalid(field, "is required");
        }
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::malformed(format!("the body is not valid JSON: {text}"));
        }
        if path == "." || path.is_empty() {
            ApiError::malformed(format!("the body does not have the expected shape: {text}"))
        } else {
            ApiError::invalid(path, text)
        }
    })
}

/// `POST /api/v1/orgs/{orgId}/secrets`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct CreateSecretRequest {
    pub name: String,
    /// `alibaba`, `ssh`, `password` or `generic`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The secret's fields; `alibaba` needs `ALIBABA_ACCESS_KEY_ID` and `ALIBABA_ACCESS_KEY_SECRET`.
    pub values: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `POST /api/v1/orgs/{orgId}/clusters`, as in Pipeline.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateClusterRequest {
    pub name: String,
    /// The region; defaults to `properties.acsk.regionId`.
    #[serde(default)]
    pub location: Option<String>,
    /// `alibaba`.
    pub cloud: String,
    /// The id of an `alibaba` secret holding the access key to create the cluster with.
    #[serde(default)]
    pub secret_id: Option<String>,
    /// Alternatively, the secret's name.
    #[serde(default)]
    pub secret_name: Option<String>,
    pub properties: ClusterProperties,
    /// Keep what a failed create made in the cloud, for inspection, instead of deleting it.
    #[serde(default)]
    pub keep_on_failure: bool,
}

/// The distribution's properties: `acsk` (Pipeline before 2019-04) or `ack` (its later name).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct ClusterProperties {
    #[serde(default)]
    pub acsk: Option<AckProperties>,
    #[serde(default)]
    pub ack: Option<AckProperties>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AckProperties {
    pub region_id: String,
    pub zone_id: String,
    /// Given: a dedicated control plane of 3 masters of this type. Absent: a managed one.
    #[serde(default)]
    pub master_instance_type: Option<String>,
    #[serde(default)]
    pub master_system_disk_category: Option<String>,
    #[serde(default)]
    pub master_count: Option<u32>,
    #[serde(default)]
    pub kubernetes_version: Option<String>,
    #[serde(default)]
    pub node_pools: BTreeMap<String, NodePoolRequest>,
}

/// A node pool in a create request, by name.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolRequest {
    /// Nodes to start with; defaults to `minCount`, or 1.
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub min_count: Option<u32>,
    #[serde(default)]
    pub max_count: Option<u32>,
    pub instance_type: String,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub system_disk_category: Option<String>,
    #[serde(default)]
    pub system_disk_size: Option<u32>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<TaintSpec>,
}

/// `POST …/clusters/{id}/nodepools`: a pool with its name.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateNodePoolRequest {
    pub name: String,
    #[serde(flatten)]
    pub pool: NodePoolRequest,
}

/// `PUT …/clusters/{id}/nodepools/{name}`: the new size; absent parts stay.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateNodePoolRequest {
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub min_count: Option<u32>,
    #[serde(default)]
    pub max_count: Option<u32>,
}

/// `POST /api/v1/tokens`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateTokenRequest {
    pub name: String,
    /// RFC 3339; never expires when absent.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// `POST /api/v1/orgs`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct CreateOrgRequest {
    pub name: String,
}

/// `POST /api/v1/orgs/{orgId}/users`: adds a user with a role and gives them a first token.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct AddUserRequest {
    pub login: String,
    /// `admin` or `member`.
    pub role: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaintSpec {
    pub key: String,
    #[serde(default)]
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// The dedicated masters of a stored cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredMasters {
    pub count: u32,
    pub instance_type: String,
    pub system_disk_category: String,
}

/// A cluster's spec as stored (the `spec` column), defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredCluster {
    pub distribution: String,
    pub region_id: String,
    pub zone_id: String,
    #[serde(default)]
    pub kubernetes_version: Option<String>,
    #[serde(default)]
    pub masters: Option<StoredMasters>,
}

/// A node pool's spec as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredPool {
    pub instance_type: String,
    pub count: u32,
    #[serde(default)]
    pub min_count: Option<u32>,
    #[serde(default)]
    pub max_count: Option<u32>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub system_disk_category: Option<String>,
    #[serde(default)]
    pub system_disk_size: Option<u32>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<TaintSpec>,
}

/// A create request that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidCluster {
    pub name: String,
    pub location: String,
    pub spec: StoredCluster,
    pub pools: Vec<(String, StoredPool)>,
    /// Where the request said it, for errors that the cloud's offering reveals later.
    pub properties_field: &'static str,
}

const MAX_POOLS: usize = 20;
const DEFAULT_DISK: &str = "cloud_efficiency";

/// A name for a cluster or a node pool: what ACK and Kubernetes labels both accept.
pub fn check_resource_name(field: &str, name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > 63 {
        return Err(ApiError::invalid(field, "must be 1 to 63 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err(ApiError::invalid(
            field,
            format!(
                "{name:?} must start with a letter or digit and hold only letters, digits, '-' and '_'"
            ),
        ));
    }
    Ok(())
}

fn check_instance_type_shape(field: &str, t: &str) -> Result<(), ApiError> {
    if !t.starts_with("ecs.") || t.len() < 6 || t.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid(
            field,
            format!("{t:?} is not an ECS instance type (they look like ecs.g7.large)"),
        ));
    }
    Ok(())
}

/// Validates a node pool; `field` is where it sits in the request.
pub fn validate_pool(field: &str, pool: &NodePoolRequest) -> Result<StoredPool, ApiError> {
    // Top-level fields when the pool is the whole body (POST …/nodepools).
    let p = |name: &str| {
        if field.is_empty() {
            name.to_owned()
        } else {
            format!("{field}.{name}")
        }
    };
    check_instance_type_shape(&p("instanceType"), &pool.instance_type)?;
    let count = pool.count.unwrap_or(pool.min_count.unwrap_or(1));
    if let Some(min) = pool.min_count
        && count < min
    {
        return Err(ApiError::invalid(
            p("count"),
            format!("{count} is below minCount {min}"),
        ));
    }
    if let Some(max) = pool.max_count {
        if count > max {
            return Err(ApiError::invalid(
                p("count"),
                format!("{count} is above maxCount {max}"),
            ));
        }
        if max == 0 || max > 1000 {
            return Err(ApiError::invalid(
                p("maxCount"),
                "must be between 1 and 1000",
            ));
        }
    }
    if count > 1000 {
        return Err(ApiError::invalid(p("count"), "must be at most 1000"));
    }
    if let Some(size) = pool.system_disk_size
        && !(20..=2048).contains(&size)
    {
        return Err(ApiError::invalid(
            p("systemDiskSize"),
            "must be between 20 and 2048 GiB",
        ));
    }
    for (i, t) in pool.taints.iter().enumerate() {
        if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&t.effect.as_str()) {
            return Err(ApiError::invalid(
                p(&format!("taints[{i}].effect")),
                format!(
                    "{:?} must be NoSchedule, PreferNoSchedule or NoExecute",
                    t.effect
                ),
            ));
        }
        if t.key.is_empty() {
            return Err(ApiError::invalid(
                p(&format!("taints[{i}].key")),
                "must not be empty",
            ));
        }
    }
    Ok(StoredPool {
        instance_type: pool.instance_type.clone(),
        count,
        min_count: pool.min_count,
        max_count: pool.max_count,
        image: pool.image.clone(),
        system_disk_category: Some(
            pool.system_disk_category
                .clone()
                .unwrap_or_else(|| DEFAULT_DISK.to_owned()),
        ),
        system_disk_size: pool.system_disk_size,
        labels: pool.labels.clone(),
        taints: pool.taints.clone(),
    })
}

/// Validates a create request on its own (the cloud's offering is checked separately).
pub fn validate_cluster(req: &CreateClusterRequest) -> Result<ValidCluster, ApiError> {
    check_resource_name("name", &req.name)?;
    if req.cloud != "alibaba" {
        return Err(ApiError::invalid(
            "cloud",
            format!("unknown cloud {:?}; this server manages alibaba", req.cloud),
        ));
    }
    if req.secret_id.is_none() && req.secret_name.is_none() {
        return Err(ApiError::invalid(
            "secretId",
            "is required: the id of an alibaba secret (POST /api/v1/orgs/{orgId}/secrets)",
        ));
    }
    let (field, props) = match (&req.properties.acsk, &req.properties.ack) {
        (Some(p), None) => ("properties.acsk", p),
        (None, Some(p)) => ("properties.ack", p),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "properties",
                "give either acsk or ack, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "properties.acsk",
                "is required for cloud alibaba (or its later name, properties.ack)",
            ));
        }
    };
    if props.region_id.trim().is_empty() {
        return Err(ApiError::invalid(
            format!("{field}.regionId"),
            "is required",
        ));
    }
    if !props.zone_id.starts_with(&props.region_id) {
        return Err(ApiError::invalid(
            format!("{field}.zoneId"),
            format!(
                "{:?} is not a zone of region {}",
                props.zone_id, props.region_id
            ),
        ));
    }
    let location = req
        .location
        .clone()
        .unwrap_or_else(|| props.region_id.clone());
    if location != props.region_id {
        return Err(ApiError::invalid(
            "location",
            format!(
                "{location:?} differs from {field}.regionId {:?}",
                props.region_id
            ),
        ));
    }
    let masters = match &props.master_instance_type {
        Some(t) => {
            check_instance_type_shape(&format!("{field}.masterInstanceType"), t)?;
            let count = props.master_count.unwrap_or(3);
            if count != 3 && count != 5 {
                return Err(ApiError::invalid(
                    format!("{field}.masterCount"),
                    "must be 3 or 5",
                ));
            }
            Some(StoredMasters {
                count,
                instance_type: t.clone(),
                system_disk_category: props
                    .master_system_disk_category
                    .clone()
                    .unwrap_or_else(|| DEFAULT_DISK.to_owned()),
            })
        }
        None => None,
    };
    if props.node_pools.len() > MAX_POOLS {
        return Err(ApiError::invalid(
            format!("{field}.nodePools"),
            format!("at most {MAX_POOLS} node pools"),
        ));
    }
    if props.node_pools.is_empty() && masters.is_none() {
        return Err(ApiError::invalid(
            format!("{field}.nodePools"),
            "a managed cluster needs at least one node pool",
        ));
    }
    let mut pools = Vec::new();
    for (name, pool) in &props.node_pools {
        let pool_field = format!("{field}.nodePools.{name}");
        check_resource_name(&pool_field, name)?;
        pools.push((name.clone(), validate_pool(&pool_field, pool)?));
    }
    Ok(ValidCluster {
        name: req.name.clone(),
        location,
        spec: StoredCluster {
            distribution: "ack".to_owned(),
            region_id: props.region_id.clone(),
            zone_id: props.zone_id.clone(),
            kubernetes_version: props.kubernetes_version.clone(),
            masters,
        },
        pools,
        properties_field: field,
    })
}

/// Checks the zone, instance types and disk categories against what the cloud sells there.
pub fn check_offering(
    valid: &ValidCluster,
    zones: &[cloud::clusters::Zone],
) -> Result<(), ApiError> {
    let field = valid.properties_field;
    let Some(zone) = zones.iter().find(|z| z.id == valid.spec.zone_id) else {
        let known: Vec<&str> = zones.iter().map(|z| z.id.as_str()).collect();
        return Err(ApiError::invalid(
            format!("{field}.zoneId"),
            format!(
                "{} has no zone {:?}; its zones are {}",
                valid.spec.region_id,
                valid.spec.zone_id,
                known.join(", ")
            ),
        ));
    };
    let sold = |f: String, t: &str| {
        if zone.instance_types.iter().any(|x| x == t) {
            Ok(())
        } else {
            Err(ApiError::invalid(
                f,
                format!("{t} is not sold in zone {}", zone.id),
            ))
        }
    };
    let disk = |f: String, d: &Option<String>| match d {
        Some(d) if !zone.disk_categories.is_empty() && !zone.disk_categories.contains(d) => {
            Err(ApiError::invalid(
                f,
                format!(
                    "{d} is not offered in zone {}; choose one of {}",
                    zone.id,
                    zone.disk_categories.join(", ")
                ),
            ))
        }
        _ => Ok(()),
    };
    if let Some(m) = &valid.spec.masters {
        sold(format!("{field}.masterInstanceType"), &m.instance_type)?;
        disk(
            format!("{field}.masterSystemDiskCategory"),
            &Some(m.system_disk_category.clone()),
        )?;
    }
    for (name, pool) in &valid.pools {
        sold(
            format!("{field}.nodePools.{name}.instanceType"),
            &pool.instance_type,
        )?;
        disk(
            format!("{field}.nodePools.{name}.systemDiskCategory"),
            &pool.system_disk_category,
        )?;
    }
    Ok(())
}

/// The cloud's form of a stored pool.
pub fn pool_spec(name: &str, pool: &StoredPool) -> cloud::clusters::NodePoolSpec {
    cloud::clusters::NodePoolSpec {
        name: name.to_owned(),
        instance_type: pool.instance_type.clone(),
        count: pool.count,
        min_count: pool.min_count,
        max_count: pool.max_count,
        image: pool.image.clone(),
        system_disk_category: pool.system_disk_category.clone(),
        system_disk_size: pool.system_disk_size,
        labels: pool.labels.clone().into_iter().collect(),
        taints: pool
            .taints
            .iter()
            .map(|t| cloud::clusters::Taint {
                key: t.key.clone(),
                value: t.value.clone(),
                effect: t.effect.clone(),
            })
            .collect(),
    }
}

/// The cloud's form of a stored cluster.
pub fn cluster_spec(
    name: &str,
    spec: &StoredCluster,
    pools: &[(String, StoredPool)],
) -> cloud::clusters::ClusterSpec {
    cloud::clusters::ClusterSpec {
        name: name.to_owned(),
        region: spec.region_id.clone(),
        zone: spec.zone_id.clone(),
        kubernetes_version: spec.kubernetes_version.clone(),
        masters: spec.masters.as_ref().map(|m| cloud::clusters::Masters {
            count: m.count,
            instance_type: m.instance_type.clone(),
            system_disk_category: m.system_disk_category.clone(),
        }),
        node_pools: pools.iter().map(|(n, p)| pool_spec(n, p)).collect(),
        tags: vec![("ackctl.io/cluster-name".to_owned(), name.to_owned())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"{
"name":"alibabacluster-jdoe-42",
"location": "eu-central-1",
"cloud": "alibaba",
"secretId": "0123456789abcdef0123456789abcdef",
"properties": {
"acsk": {
"regionId": "eu-central-1",
"zoneId": "eu-central-1a",
"masterInstanceType": "ecs.sn1ne.large",
"masterSystemDiskCategory": "cloud_efficiency",
"nodePools": {
"pool1": {
"count": 1,
"image": "centos_7",
"instanceType": "ecs.sn1ne.large",
"systemDiskCategory": "cloud_efficiency"
}
}
}
}
}"#;

    fn field_of(e: ApiError) -> String {
        e.field.unwrap_or_else(|| format!("<no field: {}>", e.code))
    }

    fn seed_with(edit: impl FnOnce(&mut serde_json::Value)) -> Result<ValidCluster, ApiError> {
        let mut v: serde_json::Value = serde_json::from_str(SEED).unwrap();
        edit(&mut v);
        let req: CreateClusterRequest = parse_body(v.to_string().as_bytes())?;
        validate_cluster(&req)
    }

    #[test]
    fn the_seed_request_gives_three_masters_and_pool1_with_one_node() {
        let v = seed_with(|_| {}).unwrap();
        assert_eq!(v.location, "eu-central-1");
        assert_eq!(
            v.spec.masters,
            Some(StoredMasters {
                count: 3,
                instance_type: "ecs.sn1ne.large".into(),
                system_disk_category: "cloud_efficiency".into()
            })
        );
        assert_eq!(v.pools.len(), 1);
        assert_eq!(v.pools[0].0, "pool1");
        assert_eq!(v.pools[0].1.count, 1);
        assert_eq!(v.pools[0].1.image.as_deref(), Some("centos_7"));
        let spec = cluster_spec(&v.name, &v.spec, &v.pools);
        assert_eq!(spec.zone, "eu-central-1a");
        assert_eq!(spec.masters.map(|m| m.count), Some(3));
    }

    #[test]
    fn ack_is_accepted_as_the_later_name_of_acsk() {
        let v = seed_with(|v| {
            let p = v["properties"]["acsk"].take();
            v["properties"] = serde_json::json!({ "ack": p });
        })
        .unwrap();
        assert_eq!(v.properties_field, "properties.ack");
    }

    #[test]
    fn missing_fields_are_named_with_their_path() {
        let e = seed_with(|v| {
            v.as_object_mut().unwrap().remove("name");
        })
        .unwrap_err();
        assert_eq!(field_of(e), "name");
        let e = seed_with(|v| {
            v["properties"]["acsk"]
                .as_object_mut()
                .unwrap()
                .remove("zoneId");
        })
        .unwrap_err();
        assert_eq!(field_of(e), "properties.acsk.zoneId");
        let e = seed_with(|v| {
            v["properties"]["acsk"]["nodePools"]["pool1"]
                .as_object_mut()
                .unwrap()
                .remove("instanceType");
        })
        .unwrap_err();
        assert_eq!(field_of(e), "properties.acsk.nodePools.pool1.instanceType");
    }

    #[test]
    fn wrong_values_are_named_with_their_path() {
        type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|v| v["cloud"] = "amazon".into()), "cloud"),
            (
                Box::new(|v| v["properties"]["acsk"]["zoneId"] = "cn-hangzhou-k".into()),
                "properties.acsk.zoneId",
            ),
            (
                Box::new(|v| {
                    v["properties"]["acsk"]["nodePools"]["pool1"]["instanceType"] = "large".into()
                }),
                "properties.acsk.nodePools.pool1.instanceType",
            ),
            (
                Box::new(|v| v["properties"]["acsk"]["nodePools"]["pool1"]["count"] = (-1).into()),
                "properties.acsk.nodePools.pool1.count",
            ),
            (
                Box::new(|v| {
                    v["properties"]["acsk"]["nodePools"]["pool1"]["maxCount"] = 0.into();
                    v["properties"]["acsk"]["nodePools"]["pool1"]["count"] = 0.into();
                }),
                "properties.acsk.nodePools.pool1.maxCount",
            ),
            (
                Box::new(|v| v["properties"] = serde_json::json!({})),
                "properties.acsk",
            ),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("secretId");
                }),
                "secretId",
            ),
            (Box::new(|v| v["name"] = "bad name!".into()), "name"),
        ];
        for (edit, field) in cases {
            assert_eq!(field_of(seed_with(edit).unwrap_err()), field);
        }
    }

    #[test]
    fn malformed_json_is_not_a_field_error() {
        let e = parse_body::<CreateClusterRequest>(b"{\"name\": ").unwrap_err();
        assert_eq!(e.code, "malformed_body");
        let e = parse_body::<CreateClusterRequest>(b"[1]").unwrap_err();
        assert_eq!(e.code, "malformed_body");
    }

    #[test]
    fn the_offering_check_names_the_pool_whose_type_is_not_sold() {
        let v = seed_with(|_| {}).unwrap();
        let zones = vec![cloud::clusters::Zone {
            id: "eu-central-1a".into(),
            instance_types: vec!["ecs.sn1ne.large".into()],
            disk_categories: vec!["cloud_efficiency".into()],
        }];
        assert!(check_offering(&v, &zones).is_ok());
        let v2 = seed_with(|v| {
            v["properties"]["acsk"]["nodePools"]["pool1"]["instanceType"] = "ecs.g9.huge".into()
        })
        .unwrap();
        assert_eq!(
            field_of(check_offering(&v2, &zones).unwrap_err()),
            "properties.acsk.nodePools.pool1.instanceType"
        );
        let v3 = seed_with(|v| v["properties"]["acsk"]["zoneId"] = "eu-central-1z".into()).unwrap();
        assert_eq!(
            field_of(check_offering(&v3, &zones).unwrap_err()),
            "properties.acsk.zoneId"
        );
    }
}
