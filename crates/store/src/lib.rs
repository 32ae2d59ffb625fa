//! Persistence of the ackctl control plane, on SQLite (the embedded default) or PostgreSQL
//! (several server replicas), through sqlx's `Any` driver with one set of SQL statements.
//!
//! ```text
//!   organizations ─┬─ memberships (role admin|member) ── users ── api_tokens (SHA-256 only)
//!                  ├─ secrets (values envelope-encrypted, see crypto)
//!                  └─ clusters ─┬─ node_pools
//!                               ├─ cluster_events (append-only)
//!                               └─ operations (durable state machines, row leases)
//! ```
//!
//! Every aggregate row carries a `revision`; updates are compare-and-swap
//! (`… WHERE id = $1 AND revision = $2`) and a stale revision is [`Error::Conflict`]. Time is
//! always passed in by the caller, never read here, so decisions (lease expiry, token use)
//! are reproducible in tests.

mod clusters;
pub mod crypto;
mod error;
mod ids;
mod operations;
mod orgs;
pub mod secret_types;
mod secrets;

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor};

pub use clusters::{
    Cluster, ClusterEvent, ClusterPage, ClusterStatus, NewCluster, NewEvent, NewNodePool, NodePool,
};
pub use crypto::MasterKey;
pub use error::{Error, Result};
pub use ids::{ClusterId, EventId, NodePoolId, OperationId, OrgId, SecretId, TokenId, UserId};
pub use operations::{NewOperation, Operation, OperationStatus, Outcome, Progress};
pub use orgs::{ApiToken, Authenticated, Membership, Organization, Role, User};
pub use secret_types::{SecretType, SecretValues};
pub use secrets::{NewSecret, SecretMeta};

/// Which database is behind the pool. Only the few statements that differ (row locking in
/// `claim_next`) look at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Pool settings; the defaults suit one server process.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Connections in the pool. Default: 8 on SQLite (WAL lets readers run beside the one
    /// writer; more connections only queue on the write lock), 10 on PostgreSQL.
    pub max_connections: Option<u32>,
    /// How long a statement waits for SQLite's write lock, and a caller for a pooled connection.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: None,
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// The store: a connection pool plus the backend it talks to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

fn migrator(backend: Backend) -> Migrator {
    // Embedded by hand rather than with `sqlx::migrate!`, which would compile sqlx's macro crate
    // and both database drivers a second time for the host.
    let files: &[(i64, &str, &'static str)] = match backend {
        Backend::Sqlite => &[(
            1,
            "initial",
            include_str!("../migrations/sqlite/0001_initial.sql"),
        )],
        Backend::Postgres => &[(
            1,
            "initial",
            include_str!("../migrations/postgres/0001_initial.sql"),
        )],
    };
    let migrations: Vec<Migration> = files
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                sqlx::SqlStr::from_static(sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

impl Store {
    /// The default database URL: `ackctl.db` in the server's state directory.
    pub fn sqlite_url(state_dir: &Path) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            state_dir.join("ackctl.db").display()
        )
    }

    /// Opens (creating with `?mode=rwc`) the database at `url` and brings its schema up to date.
    /// `url` is `sqlite://PATH?mode=rwc`, `sqlite::memory:`, or `postgres://…`.
    pub async fn open(url: &str) -> Result<Store> {
        Self::open_with(url, StoreOptions::default()).await
    }

    /// [`Store::open`] with pool settings.
    pub async fn open_with(url: &str, options: StoreOptions) -> Result<Store> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(Error::invalid(
                "database URL",
                "must start with sqlite: or postgres:// (for example sqlite://state/ackctl.db?mode=rwc)",
            ));
        };
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let max = match (backend, options.max_connections) {
            // Every connection to an in-memory database would get a database of its own.
            (Backend::Sqlite, _) if in_memory => 1,
            (_, Some(n)) => n.max(1),
            (Backend::Sqlite, None) => 8,
            (Backend::Postgres, None) => 10,
        };
        let busy_ms = options.busy_timeout.as_millis().min(i32::MAX as u128) as i64;
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .min_connections(0)
            .acquire_timeout(options.busy_timeout.max(Duration::from_secs(1)))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers never block the writer nor the writer them; the busy
                        // timeout makes a second writer wait instead of failing with SQLITE_BUSY.
                        // synchronous stays FULL: a committed operation step must survive a
                        // power cut, or a cloud resource could be created twice.
                        conn.execute(sqlx::AssertSqlSafe(format!(
                            "PRAGMA busy_timeout = {busy_ms}; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;"
                        )))
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        migrator(backend).run(&pool).await?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for tests and tools that need a plain query.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection; waits for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes fails with
    /// SQLITE_BUSY, without waiting, when another connection wrote in between.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }
}

/// Checks a user-chosen name (organisation, cluster, node pool, secret, token).
pub(crate) fn check_name(field: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if name.len() > 255 {
        return Err(Error::invalid(field, "must be at most 255 bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// Parses a JSON column.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::corrupt(what, e))
}

/// Serializes a value for a JSON column.
pub(crate) fn to_json<T: serde::Serialize>(what: &str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::invalid(what, e.to_string()))
}
