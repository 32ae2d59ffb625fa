//! Durable operations: the persisted half of the server's state machines (cluster create and
//! delete, node-pool changes). The runner lives in the server; this module stores where each
//! operation is and who may advance it.
//!
//! ```text
//!            create                claim_next (lease free or expired)
//!   (none) ─────────▶ pending ─────────────────────────────▶ running ──finish──▶ succeeded
//!                        ▲                                    │  │                failed
//!                        └──────────── release ───────────────┘  └─ save_progress / renew_lease
//! ```
//!
//! A runner holds a row lease (`lease_owner`, `lease_until`). Another replica may take the
//! operation over only once the lease has expired, which is how a crashed server's work is
//! resumed. Every write is a compare-and-swap on `revision`, and a claim bumps the revision,
//! so a runner whose lease was taken over fails its next write with `Conflict` instead of
//! overwriting the new owner's progress.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::ids::{from_ms, from_opt_ms, to_ms};
use crate::orgs::stale;
use crate::{
    Backend, ClusterId, Error, OperationId, Result, Store, check_name, json_column, to_json,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationStatus {
    /// Waiting for a runner (new, or released for a retry).
    Pending,
    /// A runner holds it; if its lease expired, it crashed and anyone may take over.
    Running,
    Succeeded,
    Failed,
}

impl OperationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Pending => "pending",
            OperationStatus::Running => "running",
            OperationStatus::Succeeded => "succeeded",
            OperationStatus::Failed => "failed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, OperationStatus::Succeeded | OperationStatus::Failed)
    }
}

impl fmt::Display for OperationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OperationStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(OperationStatus::Pending),
            "running" => Ok(OperationStatus::Running),
            "succeeded" => Ok(OperationStatus::Succeeded),
            "failed" => Ok(OperationStatus::Failed),
            _ => Err(Error::invalid(
                "status",
                format!("{s:?} is not an operation status"),
            )),
        }
    }
}

/// An operation to persist before any of its steps runs.
#[derive(Clone, Debug)]
pub struct NewOperation {
    pub cluster_id: Option<ClusterId>,
    /// What the operation does (`create-cluster`, `delete-cluster`, `scale-node-pool`…).
    pub kind: String,
    /// The first step's name.
    pub step: String,
    /// Whatever the state machine needs to resume: inputs, cloud ids produced so far.
    pub state: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Operation {
    pub id: OperationId,
    pub cluster_id: Option<ClusterId>,
    pub kind: String,
    pub state: serde_json::Value,
    pub step: String,
    /// How many times a runner claimed it; a runner gives up past its own limit.
    pub attempts: i64,
    pub last_error: Option<String>,
    pub status: OperationStatus,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Timestamp>,
    /// Not claimed before this time (retry back-off).
    pub not_before: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revision: i64,
}

/// What a runner records after a step.
#[derive(Clone, Debug)]
pub struct Progress {
    pub step: String,
    pub state: serde_json::Value,
    pub last_error: Option<String>,
}

/// How an operation ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    Succeeded,
    Failed { error: String },
}

fn operation_from_row(row: &AnyRow) -> Result<Operation> {
    let state: String = row.try_get("state")?;
    let status: String = row.try_get("status")?;
    Ok(Operation {
        id: OperationId(row.try_get("id")?),
        cluster_id: row.try_get::<Option<i64>, _>("cluster_id")?.map(ClusterId),
        kind: row.try_get("kind")?,
        state: json_column("operation.state", &state)?,
        step: row.try_get("step")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        status: status
            .parse()
            .map_err(|_| Error::corrupt("operation.status", &status))?,
        lease_owner: row.try_get("lease_owner")?,
        lease_until: from_opt_ms("operation.lease_until", row.try_get("lease_until_ms")?)?,
        not_before: from_ms("operation.not_before", row.try_get("not_before_ms")?)?,
        created_at: from_ms("operation.created_at", row.try_get("created_at_ms")?)?,
        updated_at: from_ms("operation.updated_at", row.try_get("updated_at_ms")?)?,
        revision: row.try_get("revision")?,
    })
}

fn lease_end(now: Timestamp, lease: Duration) -> Result<i64> {
    let ms = i64::try_from(lease.as_millis()).map_err(|_| Error::invalid("lease", "too long"))?;
    if ms <= 0 {
        return Err(Error::invalid("lease", "must be at least one millisecond"));
    }
    Ok(to_ms(now).saturating_add(ms))
}

// The claim is one statement: pick the oldest runnable operation whose lease is free or
// expired and take it, re-checking the same conditions in the outer WHERE. On SQLite the
// UPDATE holds the database's write lock from its first step, so two claimers serialize.
// On PostgreSQL, SKIP LOCKED sends concurrent claimers to different rows, and should two
// still pick the same one, the loser re-evaluates the outer WHERE on the winner's row
// version, finds the lease taken and updates nothing.
const CLAIM_SQLITE: &str = "
    UPDATE operations
    SET status = 'running', lease_owner = $1, lease_until_ms = $2, attempts = attempts + 1,
        updated_at_ms = $3, revision = revision + 1
    WHERE id = (SELECT id FROM operations
                WHERE status IN ('pending', 'running') AND not_before_ms <= $3
                  AND (lease_until_ms IS NULL OR lease_until_ms <= $3)
                ORDER BY id LIMIT 1)
      AND status IN ('pending', 'running') AND not_before_ms <= $3
      AND (lease_until_ms IS NULL OR lease_until_ms <= $3)
    RETURNING id, cluster_id, kind, state, step, attempts, last_error, status, lease_owner,
              lease_until_ms, not_before_ms, created_at_ms, updated_at_ms, revision";

const CLAIM_POSTGRES: &str = "
    UPDATE operations
    SET status = 'running', lease_owner = $1, lease_until_ms = $2, attempts = attempts + 1,
        updated_at_ms = $3, revision = revision + 1
    WHERE id = (SELECT id FROM operations
                WHERE status IN ('pending', 'running') AND not_before_ms <= $3
                  AND (lease_until_ms IS NULL OR lease_until_ms <= $3)
                ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
      AND status IN ('pending', 'running') AND not_before_ms <= $3
      AND (lease_until_ms IS NULL OR lease_until_ms <= $3)
    RETURNING id, cluster_id, kind, state, step, attempts, last_error, status, lease_owner,
              lease_until_ms, not_before_ms, created_at_ms, updated_at_ms, revision";

impl Store {
    /// Persists a new operation, pending and claimable at once.
    pub async fn create_operation(&self, new: NewOperation, now: Timestamp) -> Result<Operation> {
        check_name("kind", &new.kind)?;
        check_name("step", &new.step)?;
        let row = sqlx::query(
            "INSERT INTO operations (cluster_id, kind, state, step, attempts, last_error, status, lease_owner,
                                     lease_until_ms, not_before_ms, created_at_ms, updated_at_ms, revision)
             VALUES ($1, $2, $3, $4, 0, NULL, 'pending', NULL, NULL, $5, $5, $5, 1)
             RETURNING id, cluster_id, kind, state, step, attempts, last_error, status, lease_owner,
                       lease_until_ms, not_before_ms, created_at_ms, updated_at_ms, revision",
        )
        .bind(new.cluster_id.map(|c| c.0))
        .bind(new.kind.as_str())
        .bind(to_json("state", &new.state)?)
        .bind(new.step.as_str())
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await
        .map_err(Error::from)
        .map_err(|e| {
            if e.is_foreign_key_violation() {
                Error::not_found(format!("cluster {}", new.cluster_id.map_or(0, |c| c.0)))
            } else {
                e
            }
        })?;
        operation_from_row(&row)
    }

    pub async fn get_operation(&self, id: OperationId) -> Result<Operation> {
        let row = sqlx::query(
            "SELECT id, cluster_id, kind, state, step, attempts, last_error, status, lease_owner,
                    lease_until_ms, not_before_ms, created_at_ms, updated_at_ms, revision
             FROM operations WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("operation {id}")))?;
        operation_from_row(&row)
    }

    /// A cluster's operations, oldest first.
    pub async fn list_operations(&self, cluster: ClusterId) -> Result<Vec<Operation>> {
        let rows = sqlx::query(
            "SELECT id, cluster_id, kind, state, step, attempts, last_error, status, lease_owner,
                    lease_until_ms, not_before_ms, created_at_ms, updated_at_ms, revision
             FROM operations WHERE cluster_id = $1 ORDER BY id",
        )
        .bind(cluster.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(operation_from_row).collect()
    }

    /// Atomically takes the oldest runnable operation whose lease is free or expired, leasing
    /// it to `owner` until `now + lease`. `None` when there is nothing to run.
    pub async fn claim_next(
        &self,
        owner: &str,
        lease: Duration,
        now: Timestamp,
    ) -> Result<Option<Operation>> {
        check_name("owner", owner)?;
        let until = lease_end(now, lease)?;
        let sql = match self.backend {
            Backend::Sqlite => CLAIM_SQLITE,
            Backend::Postgres => CLAIM_POSTGRES,
        };
        // A claimer that lost the race for a row gets no row back although others may be
        // runnable; trying again a few times keeps a burst of claimers from idling.
        for _ in 0..4 {
            let row = sqlx::query(sql)
                .bind(owner)
                .bind(until)
                .bind(to_ms(now))
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = row {
                return operation_from_row(&row).map(Some);
            }
            let runnable: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM operations
                 WHERE status IN ('pending', 'running') AND not_before_ms <= $1
                   AND (lease_until_ms IS NULL OR lease_until_ms <= $1)",
            )
            .bind(to_ms(now))
            .fetch_one(&self.pool)
            .await?;
            if runnable == 0 {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Extends `owner`'s lease to `now + lease`. `Conflict` when the operation is no longer
    /// running under `owner` (taken over after expiry, or finished): the caller must stop.
    pub async fn renew_lease(
        &self,
        op: &Operation,
        owner: &str,
        lease: Duration,
        now: Timestamp,
    ) -> Result<Operation> {
        let until = lease_end(now, lease)?;
        let row = sqlx::query(
            "UPDATE operations SET lease_until_ms = $1, updated_at_ms = $2, revision = revision + 1
             WHERE id = $3 AND revision = $4 AND lease_owner = $5 AND status = 'running'
             RETURNING id, cluster_id, kind, state, step, attempts, last_error, status, lease_owner,
                       lease_until_ms, not_before_ms, created_at_ms, updated_at_ms, revision",
        )
        .bind(until)
        .bind(to_ms(now))
        .bind(op.id.0)
        .bind(op.revision)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => operation_from_row(&row),
            None => Err(self.lost(op).await),
        }
    }

    /// Records a step's outcome (next step, new state, last error) if the operation is still at
    /// `op.revision`, i.e. nobody took it over since this runner last wrote.
    pub async fn save_progress(
        &self,
        op: &Operation,
        progress: Progress,
        now: Timestamp,
    ) -> Result<Operation> {
        check_name("step", &progress.step)?;
        let row = sqlx::query(
            "UPDATE operations SET step = $1, state = $2, last_error = $3, updated_at_ms = $4, revision = revision + 1
             WHERE id = $5 AND revision = $6 AND status = 'running'
             RETURNING id, cluster_id, kind, state, step, attempts, last_error, status, lease_owner,
                       lease_until_ms, not_before_ms, created_at_ms, updated_at_ms, revision",
        )
        .bind(progress.step.as_str())
        .bind(to_json("state", &progress.state)?)
        .bind(progress.last_error.as_deref())
        .bind(to_ms(now))
        .bind(op.id.0)
        .bind(op.revision)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => operation_from_row(&row),
            None => Err(self.lost(op).await),
        }
    }

    /// Gives the operation back (pending, no lease) to be retried from `not_before`, recording
    /// why. Used after a transient failure, or when a server shuts down cleanly.
    pub async fn release(
        &self,
        op: &Operation,
        last_error: Option<&str>,
        not_before: Timestamp,
        now: Timestamp,
    ) -> Result<Operation> {
        let row = sqlx::query(
            "UPDATE operations SET status = 'pending', lease_owner = NULL, lease_until_ms = NULL,
                    last_error = $1, not_before_ms = $2, updated_at_ms = $3, revision = revision + 1
             WHERE id = $4 AND revision = $5 AND status = 'running'
             RETURNING id, cluster_id, kind, state, step, attempts, last_error, status, lease_owner,
                       lease_until_ms, not_before_ms, created_at_ms, updated_at_ms, revision",
        )
        .bind(last_error)
        .bind(to_ms(not_before))
        .bind(to_ms(now))
        .bind(op.id.0)
        .bind(op.revision)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => operation_from_row(&row),
            None => Err(self.lost(op).await),
        }
    }

    /// Ends the operation and drops its lease, if it is still at `op.revision`.
    pub async fn finish(
        &self,
        op: &Operation,
        outcome: Outcome,
        now: Timestamp,
    ) -> Result<Operation> {
        let (status, error) = match &outcome {
            Outcome::Succeeded => (OperationStatus::Succeeded, None),
            Outcome::Failed { error } => (OperationStatus::Failed, Some(error.as_str())),
        };
        let row = sqlx::query(
            "UPDATE operations SET status = $1, last_error = COALESCE($2, last_error), lease_owner = NULL,
                    lease_until_ms = NULL, updated_at_ms = $3, revision = revision + 1
             WHERE id = $4 AND revision = $5 AND status = 'running'
             RETURNING id, cluster_id, kind, state, step, attempts, last_error, status, lease_owner,
                       lease_until_ms, not_before_ms, created_at_ms, updated_at_ms, revision",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(to_ms(now))
        .bind(op.id.0)
        .bind(op.revision)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => operation_from_row(&row),
            None => Err(self.lost(op).await),
        }
    }

    /// The error for a write that matched no row: the operation is gone, or it moved on.
    async fn lost(&self, op: &Operation) -> Error {
        match self.get_operation(op.id).await {
            Ok(current) if current.status.is_finished() => {
                Error::conflict(format!("operation {} already {}", op.id, current.status))
            }
            Ok(current) if current.lease_owner != op.lease_owner => Error::conflict(format!(
                "operation {} is now leased to {}: this runner's lease expired and was taken over",
                op.id,
                current.lease_owner.as_deref().unwrap_or("nobody")
            )),
            Ok(current) => stale("operation", op.id, op.revision, current.revision),
            Err(e) => e,
        }
    }
}
