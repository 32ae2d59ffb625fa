//! What the API answers with: the stored records shaped as Pipeline's responses (camelCase,
//! `status` + `statusMessage`, node pools by name), never a secret value unless asked for by
//! an admin.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use crate::request::{StoredCluster, StoredMasters, StoredPool, TaintSpec};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgView {
    pub id: i64,
    pub name: String,
    /// Your role in it: `admin` or `member`.
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAdded {
    pub user_id: i64,
    pub login: String,
    pub role: String,
    /// The user's first token; shown once.
    pub token: String,
    pub token_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl From<store::ApiToken> for TokenView {
    fn from(t: store::ApiToken) -> Self {
        TokenView {
            id: t.id.0,
            name: t.name,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A token just created: the only time its value is shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenCreated {
    pub id: i64,
    pub name: String,
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub tags: Vec<String>,
    /// Present only when an admin asks with `?values=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeMap<String, String>>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

impl SecretView {
    pub fn new(meta: store::SecretMeta, values: Option<BTreeMap<String, String>>) -> Self {
        SecretView {
            id: meta.id.to_string(),
            name: meta.name,
            kind: meta.kind.to_string(),
            tags: meta.tags,
            values,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
            version: meta.revision,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolView {
    pub name: String,
    pub status: String,
    pub instance_type: String,
    pub count: u32,
    pub min_count: Option<u32>,
    pub max_count: Option<u32>,
    pub image: Option<String>,
    pub system_disk_category: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<TaintSpec>,
    /// The cloud's node pool id, once it exists.
    pub cloud_id: Option<String>,
}

impl NodePoolView {
    pub fn new(pool: &store::NodePool) -> Self {
        let spec: Option<StoredPool> = serde_json::from_value(pool.spec.clone()).ok();
        let spec = spec.unwrap_or(StoredPool {
            instance_type: String::new(),
            count: 0,
            min_count: None,
            max_count: None,
            image: None,
            system_disk_category: None,
            system_disk_size: None,
            labels: BTreeMap::new(),
            taints: Vec::new(),
        });
        NodePoolView {
            name: pool.name.clone(),
            status: pool.status.to_string(),
            instance_type: spec.instance_type,
            count: spec.count,
            min_count: spec.min_count,
            max_count: spec.max_count,
            image: spec.image,
            system_disk_category: spec.system_disk_category,
            labels: spec.labels,
            taints: spec.taints,
            cloud_id: pool.cloud_ids.get("nodePoolId").cloned(),
        }
    }
}

/// A cluster, with Pipeline's status fields.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    pub id: i64,
    pub name: String,
    /// `CREATING`, `RUNNING`, `UPDATING`, `WARNING`, `ERROR`, `DELETING`, `DELETED`.
    pub status: String,
    pub status_message: String,
    pub cloud: String,
    pub distribution: String,
    pub location: String,
    pub region: String,
    pub zone: String,
    pub secret_id: Option<String>,
    /// The cloud's cluster id, once the cloud accepted the create.
    pub cloud_cluster_id: Option<String>,
    pub masters: Option<StoredMasters>,
    pub kubernetes_version: Option<String>,
    pub node_pools: BTreeMap<String, NodePoolView>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: i64,
}

impl ClusterView {
    pub fn new(c: &store::Cluster, pools: &[store::NodePool]) -> Self {
        let spec: Option<StoredCluster> = serde_json::from_value(c.spec.clone()).ok();
        ClusterView {
            id: c.id.0,
            name: c.name.clone(),
            status: c.status.to_string(),
            status_message: c.status_message.clone(),
            cloud: c.cloud.clone(),
            distribution: spec
                .as_ref()
                .map_or_else(|| "ack".to_owned(), |s| s.distribution.clone()),
            location: c.location.clone(),
            region: spec
                .as_ref()
                .map_or_else(|| c.location.clone(), |s| s.region_id.clone()),
            zone: spec.as_ref().map(|s| s.zone_id.clone()).unwrap_or_default(),
            secret_id: c.secret_id.as_ref().map(ToString::to_string),
            cloud_cluster_id: c.cloud_cluster_id.clone(),
            masters: spec.as_ref().and_then(|s| s.masters.clone()),
            kubernetes_version: spec.and_then(|s| s.kubernetes_version),
            node_pools: pools
                .iter()
                .map(|p| (p.name.clone(), NodePoolView::new(p)))
                .collect(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            revision: c.revision,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterList {
    pub clusters: Vec<ClusterView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<i64>,
}

/// The answer to a request that started an operation (202).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub id: i64,
    pub name: String,
    pub status: String,
    pub operation_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub id: i64,
    pub operation_id: Option<i64>,
    pub at: Timestamp,
    pub kind: String,
    pub message: String,
    pub data: serde_json::Value,
}

impl From<store::ClusterEvent> for EventView {
    fn from(e: store::ClusterEvent) -> Self {
        EventView {
            id: e.id.0,
            operation_id: e.operation_id.map(|o| o.0),
            at: e.at,
            kind: e.kind,
            message: e.message,
            data: e.data,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationView {
    pub id: i64,
    pub cluster_id: Option<i64>,
    /// `create-cluster`, `delete-cluster`, `add-node-pool`, `update-node-pool`, `delete-node-pool`.
    pub kind: String,
    /// `pending`, `running`, `succeeded`, `failed`.
    pub status: String,
    /// The step it is at (or ended on).
    pub step: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// The state machine's data: client token, the cloud ids it produced.
    pub state: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<store::Operation> for OperationView {
    fn from(o: store::Operation) -> Self {
        OperationView {
            id: o.id.0,
            cluster_id: o.cluster_id.map(|c| c.0),
            kind: o.kind,
            status: o.status.to_string(),
            step: o.step,
            attempts: o.attempts,
            last_error: o.last_error,
            state: o.state,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// `GET …/clusters/{id}/config` with `Accept: application/json`, as Pipeline answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigResponse {
    pub status: u16,
    /// The kubeconfig document (YAML).
    pub data: String,
}
