//! Clusters, their node pools, and each cluster's append-only event log.
//!
//! The cluster's spec (the request's `properties`, defaulted) is JSON that the server owns;
//! the store keeps it whole and indexes only what it must look up: organisation, name, secret
//! and the cloud's cluster id.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::ids::{from_ms, to_ms};
use crate::orgs::stale;
use crate::{
    ClusterId, Error, EventId, NodePoolId, OperationId, OrgId, Result, SecretId, Store, check_name,
    json_column, to_json,
};

/// A cluster's (or node pool's) lifecycle state, with Pipeline's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterStatus {
    Creating,
    Running,
    Updating,
    Warning,
    Error,
    Deleting,
    /// Kept for the record; the name can be used again.
    Deleted,
}

impl ClusterStatus {
    pub const ALL: [ClusterStatus; 7] = [
        ClusterStatus::Creating,
        ClusterStatus::Running,
        ClusterStatus::Updating,
        ClusterStatus::Warning,
        ClusterStatus::Error,
        ClusterStatus::Deleting,
        ClusterStatus::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClusterStatus::Creating => "CREATING",
            ClusterStatus::Running => "RUNNING",
            ClusterStatus::Updating => "UPDATING",
            ClusterStatus::Warning => "WARNING",
            ClusterStatus::Error => "ERROR",
            ClusterStatus::Deleting => "DELETING",
            ClusterStatus::Deleted => "DELETED",
        }
    }
}

impl fmt::Display for ClusterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClusterStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ClusterStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| Error::invalid("status", format!("{s:?} is not a cluster status")))
    }
}

/// A cluster to create, with its first node pools.
#[derive(Clone, Debug)]
pub struct NewCluster {
    pub org_id: OrgId,
    pub name: String,
    pub cloud: String,
    pub location: String,
    pub secret_id: Option<SecretId>,
    pub spec: serde_json::Value,
    pub status: ClusterStatus,
    pub status_message: String,
    pub node_pools: Vec<NewNodePool>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cluster {
    pub id: ClusterId,
    pub org_id: OrgId,
    pub name: String,
    pub cloud: String,
    pub location: String,
    pub secret_id: Option<SecretId>,
    pub spec: serde_json::Value,
    pub status: ClusterStatus,
    pub status_message: String,
    /// The cloud's id of the cluster (ACK's `ClusterId`) once the create call returned it.
    pub cloud_cluster_id: Option<String>,
    /// Other cloud resources the cluster owns (VPC, vSwitch, key pair…), by role.
    pub cloud_ids: BTreeMap<String, String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: i64,
}

/// One page of a cluster listing; `next` is the `after` of the following page.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterPage {
    pub clusters: Vec<Cluster>,
    pub next: Option<ClusterId>,
}

#[derive(Clone, Debug)]
pub struct NewNodePool {
    pub name: String,
    pub spec: serde_json::Value,
    pub status: ClusterStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodePool {
    pub id: NodePoolId,
    pub cluster_id: ClusterId,
    pub name: String,
    pub spec: serde_json::Value,
    pub status: ClusterStatus,
    /// The cloud's ids for the pool (ACK node pool id, ESS scaling group id…), by role.
    pub cloud_ids: BTreeMap<String, String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: i64,
}

/// An entry to append to a cluster's event log.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub kind: String,
    pub message: String,
    pub operation_id: Option<OperationId>,
    pub data: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterEvent {
    pub id: EventId,
    pub cluster_id: ClusterId,
    pub operation_id: Option<OperationId>,
    pub at: Timestamp,
    pub kind: String,
    pub message: String,
    pub data: serde_json::Value,
}

const MAX_PAGE: i64 = 1000;

fn cluster_from_row(row: &AnyRow) -> Result<Cluster> {
    let secret_id: Option<String> = row.try_get("secret_id")?;
    let status: String = row.try_get("status")?;
    let spec: String = row.try_get("spec")?;
    let cloud_ids: String = row.try_get("cloud_ids")?;
    Ok(Cluster {
        id: ClusterId(row.try_get("id")?),
        org_id: OrgId(row.try_get("org_id")?),
        name: row.try_get("name")?,
        cloud: row.try_get("cloud")?,
        location: row.try_get("location")?,
        secret_id: secret_id
            .map(|s| {
                s.parse()
                    .map_err(|_| Error::corrupt("cluster.secret_id", &s))
            })
            .transpose()?,
        spec: json_column("cluster.spec", &spec)?,
        status: status
            .parse()
            .map_err(|_| Error::corrupt("cluster.status", &status))?,
        status_message: row.try_get("status_message")?,
        cloud_cluster_id: row.try_get("cloud_cluster_id")?,
        cloud_ids: json_column("cluster.cloud_ids", &cloud_ids)?,
        created_at: from_ms("cluster.created_at", row.try_get("created_at_ms")?)?,
        updated_at: from_ms("cluster.updated_at", row.try_get("updated_at_ms")?)?,
        revision: row.try_get("revision")?,
    })
}

fn pool_from_row(row: &AnyRow) -> Result<NodePool> {
    let status: String = row.try_get("status")?;
    let spec: String = row.try_get("spec")?;
    let cloud_ids: String = row.try_get("cloud_ids")?;
    Ok(NodePool {
        id: NodePoolId(row.try_get("id")?),
        cluster_id: ClusterId(row.try_get("cluster_id")?),
        name: row.try_get("name")?,
        spec: json_column("node_pool.spec", &spec)?,
        status: status
            .parse()
            .map_err(|_| Error::corrupt("node_pool.status", &status))?,
        cloud_ids: json_column("node_pool.cloud_ids", &cloud_ids)?,
        created_at: from_ms("node_pool.created_at", row.try_get("created_at_ms")?)?,
        updated_at: from_ms("node_pool.updated_at", row.try_get("updated_at_ms")?)?,
        revision: row.try_get("revision")?,
    })
}

fn event_from_row(row: &AnyRow) -> Result<ClusterEvent> {
    let data: String = row.try_get("data")?;
    Ok(ClusterEvent {
        id: EventId(row.try_get("id")?),
        cluster_id: ClusterId(row.try_get("cluster_id")?),
        operation_id: row
            .try_get::<Option<i64>, _>("operation_id")?
            .map(OperationId),
        at: from_ms("event.at", row.try_get("at_ms")?)?,
        kind: row.try_get("kind")?,
        message: row.try_get("message")?,
        data: json_column("event.data", &data)?,
    })
}

fn pool_conflict(cluster: ClusterId, name: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| {
        if e.is_unique_violation() {
            Error::conflict(format!(
                "cluster {cluster} already has a node pool named {name:?}"
            ))
        } else if e.is_foreign_key_violation() {
            Error::not_found(format!("cluster {cluster}"))
        } else {
            e
        }
    }
}

fn check_pool(i: Option<usize>, pool: &NewNodePool) -> Result<()> {
    let field = match i {
        Some(i) => format!("nodePools[{i}].name"),
        None => "name".to_owned(),
    };
    check_name(&field, &pool.name)
}

impl Store {
    /// Creates a cluster and its node pools in one transaction. The secret, when given, must
    /// belong to the same organisation; a live cluster of the same name is a conflict.
    pub async fn create_cluster(
        &self,
        new: NewCluster,
        now: Timestamp,
    ) -> Result<(Cluster, Vec<NodePool>)> {
        check_name("name", &new.name)?;
        check_name("cloud", &new.cloud)?;
        check_name("location", &new.location)?;
        for (i, pool) in new.node_pools.iter().enumerate() {
            check_pool(Some(i), pool)?;
        }
        let spec = to_json("spec", &new.spec)?;
        let now_ms = to_ms(now);
        let mut tx = self.begin_write().await?;
        if let Some(secret) = &new.secret_id {
            let found: Option<String> =
                sqlx::query_scalar("SELECT id FROM secrets WHERE org_id = $1 AND id = $2")
                    .bind(new.org_id.0)
                    .bind(secret.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if found.is_none() {
                return Err(Error::invalid(
                    "secretId",
                    format!("organization {} has no secret {secret}", new.org_id),
                ));
            }
        }
        let row = sqlx::query(
            "INSERT INTO clusters (org_id, name, cloud, location, secret_id, spec, status, status_message,
                                   cloud_cluster_id, cloud_ids, created_at_ms, updated_at_ms, revision)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, '{}', $9, $9, 1)
             RETURNING id, org_id, name, cloud, location, secret_id, spec, status, status_message,
                       cloud_cluster_id, cloud_ids, created_at_ms, updated_at_ms, revision",
        )
        .bind(new.org_id.0)
        .bind(new.name.as_str())
        .bind(new.cloud.as_str())
        .bind(new.location.as_str())
        .bind(new.secret_id.as_ref().map(SecretId::as_str))
        .bind(spec)
        .bind(new.status.as_str())
        .bind(new.status_message.as_str())
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(Error::from)
        .map_err(|e| {
            if e.is_unique_violation() {
                Error::conflict(format!(
                    "a cluster named {:?} already exists in organization {}",
                    new.name, new.org_id
                ))
            } else if e.is_foreign_key_violation() {
                Error::not_found(format!("organization {}", new.org_id))
            } else {
                e
            }
        })?;
        let cluster = cluster_from_row(&row)?;
        let mut pools = Vec::with_capacity(new.node_pools.len());
        for pool in &new.node_pools {
            let row = insert_pool(&mut tx, cluster.id, pool, now_ms)
                .await
                .map_err(pool_conflict(cluster.id, &pool.name))?;
            pools.push(pool_from_row(&row)?);
        }
        tx.commit().await?;
        Ok((cluster, pools))
    }

    /// A cluster of the organisation (deleted ones included: their record stays readable).
    pub async fn get_cluster(&self, org: OrgId, id: ClusterId) -> Result<Cluster> {
        let row = sqlx::query(
            "SELECT id, org_id, name, cloud, location, secret_id, spec, status, status_message,
                    cloud_cluster_id, cloud_ids, created_at_ms, updated_at_ms, revision
             FROM clusters WHERE id = $1 AND org_id = $2",
        )
        .bind(id.0)
        .bind(org.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("cluster {id}")))?;
        cluster_from_row(&row)
    }

    /// A cluster by id whatever its organisation, for the operation runner.
    pub async fn get_cluster_unscoped(&self, id: ClusterId) -> Result<Cluster> {
        let row = sqlx::query(
            "SELECT id, org_id, name, cloud, location, secret_id, spec, status, status_message,
                    cloud_cluster_id, cloud_ids, created_at_ms, updated_at_ms, revision
             FROM clusters WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("cluster {id}")))?;
        cluster_from_row(&row)
    }

    /// The live (not deleted) cluster of that name.
    pub async fn find_cluster_by_name(&self, org: OrgId, name: &str) -> Result<Cluster> {
        let row = sqlx::query(
            "SELECT id, org_id, name, cloud, location, secret_id, spec, status, status_message,
                    cloud_cluster_id, cloud_ids, created_at_ms, updated_at_ms, revision
             FROM clusters WHERE org_id = $1 AND name = $2 AND status <> 'DELETED'",
        )
        .bind(org.0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("cluster named {name:?}")))?;
        cluster_from_row(&row)
    }

    /// The organisation's live clusters by id, `limit` (at most 1000) after `after`.
    pub async fn list_clusters(
        &self,
        org: OrgId,
        after: Option<ClusterId>,
        limit: u32,
    ) -> Result<ClusterPage> {
        let limit = i64::from(limit).clamp(1, MAX_PAGE);
        // One row more than asked tells whether there is a next page without a COUNT.
        let rows = sqlx::query(
            "SELECT id, org_id, name, cloud, location, secret_id, spec, status, status_message,
                    cloud_cluster_id, cloud_ids, created_at_ms, updated_at_ms, revision
             FROM clusters WHERE org_id = $1 AND id > $2 AND status <> 'DELETED'
             ORDER BY id LIMIT $3",
        )
        .bind(org.0)
        .bind(after.map_or(0, |c| c.0))
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut clusters = rows
            .iter()
            .map(cluster_from_row)
            .collect::<Result<Vec<_>>>()?;
        let next = if clusters.len() as i64 > limit {
            clusters.truncate(limit as usize);
            clusters.last().map(|c| c.id)
        } else {
            None
        };
        Ok(ClusterPage { clusters, next })
    }

    /// Writes the cluster's mutable fields (spec, status, message, cloud ids) if the row is
    /// still at `cluster.revision`; returns the row as written.
    pub async fn update_cluster(&self, cluster: &Cluster, now: Timestamp) -> Result<Cluster> {
        let row = sqlx::query(
            "UPDATE clusters SET spec = $1, status = $2, status_message = $3, cloud_cluster_id = $4,
                    cloud_ids = $5, updated_at_ms = $6, revision = revision + 1
             WHERE id = $7 AND org_id = $8 AND revision = $9
             RETURNING id, org_id, name, cloud, location, secret_id, spec, status, status_message,
                       cloud_cluster_id, cloud_ids, created_at_ms, updated_at_ms, revision",
        )
        .bind(to_json("spec", &cluster.spec)?)
        .bind(cluster.status.as_str())
        .bind(cluster.status_message.as_str())
        .bind(cluster.cloud_cluster_id.as_deref())
        .bind(to_json("cloudIds", &cluster.cloud_ids)?)
        .bind(to_ms(now))
        .bind(cluster.id.0)
        .bind(cluster.org_id.0)
        .bind(cluster.revision)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => cluster_from_row(&row),
            None => {
                let current = self.get_cluster(cluster.org_id, cluster.id).await?;
                Err(stale(
                    "cluster",
                    cluster.id,
                    cluster.revision,
                    current.revision,
                ))
            }
        }
    }

    pub async fn add_node_pool(
        &self,
        cluster: ClusterId,
        pool: NewNodePool,
        now: Timestamp,
    ) -> Result<NodePool> {
        check_pool(None, &pool)?;
        let mut conn = self.pool.acquire().await?;
        let row = insert_pool(&mut conn, cluster, &pool, to_ms(now))
            .await
            .map_err(pool_conflict(cluster, &pool.name))?;
        pool_from_row(&row)
    }

    pub async fn get_node_pool(&self, cluster: ClusterId, name: &str) -> Result<NodePool> {
        let row = sqlx::query(
            "SELECT id, cluster_id, name, spec, status, cloud_ids, created_at_ms, updated_at_ms, revision
             FROM node_pools WHERE cluster_id = $1 AND name = $2",
        )
        .bind(cluster.0)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("node pool {name:?} of cluster {cluster}")))?;
        pool_from_row(&row)
    }

    pub async fn list_node_pools(&self, cluster: ClusterId) -> Result<Vec<NodePool>> {
        let rows = sqlx::query(
            "SELECT id, cluster_id, name, spec, status, cloud_ids, created_at_ms, updated_at_ms, revision
             FROM node_pools WHERE cluster_id = $1 ORDER BY name",
        )
        .bind(cluster.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pool_from_row).collect()
    }

    /// The node pools of the organisation's live clusters with ids in `(after, last]` (one
    /// page of [`Store::list_clusters`]) in one query, ordered by cluster and name.
    pub async fn list_node_pools_in_range(
        &self,
        org: OrgId,
        after: Option<ClusterId>,
        last: ClusterId,
    ) -> Result<Vec<NodePool>> {
        let rows = sqlx::query(
            "SELECT p.id, p.cluster_id, p.name, p.spec, p.status, p.cloud_ids, p.created_at_ms,
                    p.updated_at_ms, p.revision
             FROM node_pools p JOIN clusters c ON c.id = p.cluster_id
             WHERE c.org_id = $1 AND c.id > $2 AND c.id <= $3 AND c.status <> 'DELETED'
             ORDER BY p.cluster_id, p.name",
        )
        .bind(org.0)
        .bind(after.map_or(0, |c| c.0))
        .bind(last.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pool_from_row).collect()
    }

    /// Writes the pool's spec, status and cloud ids if it is still at `pool.revision`.
    pub async fn update_node_pool(&self, pool: &NodePool, now: Timestamp) -> Result<NodePool> {
        let row = sqlx::query(
            "UPDATE node_pools SET spec = $1, status = $2, cloud_ids = $3, updated_at_ms = $4, revision = revision + 1
             WHERE id = $5 AND cluster_id = $6 AND revision = $7
             RETURNING id, cluster_id, name, spec, status, cloud_ids, created_at_ms, updated_at_ms, revision",
        )
        .bind(to_json("spec", &pool.spec)?)
        .bind(pool.status.as_str())
        .bind(to_json("cloudIds", &pool.cloud_ids)?)
        .bind(to_ms(now))
        .bind(pool.id.0)
        .bind(pool.cluster_id.0)
        .bind(pool.revision)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => pool_from_row(&row),
            None => {
                let current = self.get_node_pool(pool.cluster_id, &pool.name).await?;
                Err(stale(
                    "node pool",
                    &pool.name,
                    pool.revision,
                    current.revision,
                ))
            }
        }
    }

    /// Removes a pool's record if it is still at `expected_revision` (after the cloud side is gone).
    pub async fn delete_node_pool(
        &self,
        cluster: ClusterId,
        name: &str,
        expected_revision: i64,
    ) -> Result<()> {
        let done = sqlx::query(
            "DELETE FROM node_pools WHERE cluster_id = $1 AND name = $2 AND revision = $3",
        )
        .bind(cluster.0)
        .bind(name)
        .bind(expected_revision)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let current = self.get_node_pool(cluster, name).await?;
        Err(stale(
            "node pool",
            name,
            expected_revision,
            current.revision,
        ))
    }

    /// Appends to a cluster's event log. There is no update or delete: the log is history.
    pub async fn append_event(
        &self,
        cluster: ClusterId,
        event: NewEvent,
        now: Timestamp,
    ) -> Result<ClusterEvent> {
        check_name("kind", &event.kind)?;
        let row = sqlx::query(
            "INSERT INTO cluster_events (cluster_id, operation_id, at_ms, kind, message, data)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, cluster_id, operation_id, at_ms, kind, message, data",
        )
        .bind(cluster.0)
        .bind(event.operation_id.map(|o| o.0))
        .bind(to_ms(now))
        .bind(event.kind.as_str())
        .bind(event.message.as_str())
        .bind(to_json("data", &event.data)?)
        .fetch_one(&self.pool)
        .await
        .map_err(Error::from)
        .map_err(|e| {
            if e.is_foreign_key_violation() {
                Error::not_found(format!("cluster {cluster}"))
            } else {
                e
            }
        })?;
        event_from_row(&row)
    }

    /// The cluster's events in order, `limit` (at most 1000) after `after`.
    pub async fn list_events(
        &self,
        cluster: ClusterId,
        after: Option<EventId>,
        limit: u32,
    ) -> Result<Vec<ClusterEvent>> {
        let rows = sqlx::query(
            "SELECT id, cluster_id, operation_id, at_ms, kind, message, data
             FROM cluster_events WHERE cluster_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(cluster.0)
        .bind(after.map_or(0, |e| e.0))
        .bind(i64::from(limit).clamp(1, MAX_PAGE))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }
}

async fn insert_pool(
    conn: &mut sqlx::AnyConnection,
    cluster: ClusterId,
    pool: &NewNodePool,
    now_ms: i64,
) -> Result<AnyRow> {
    Ok(sqlx::query(
        "INSERT INTO node_pools (cluster_id, name, spec, status, cloud_ids, created_at_ms, updated_at_ms, revision)
         VALUES ($1, $2, $3, $4, '{}', $5, $5, 1)
         RETURNING id, cluster_id, name, spec, status, cloud_ids, created_at_ms, updated_at_ms, revision",
    )
    .bind(cluster.0)
    .bind(pool.name.as_str())
    .bind(to_json("spec", &pool.spec)?)
    .bind(pool.status.as_str())
    .bind(now_ms)
    .fetch_one(conn)
    .await?)
}
