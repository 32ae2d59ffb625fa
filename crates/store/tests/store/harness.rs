//! Runs one test body on each backend.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use sqlx::{AnyConnection, Connection, Executor};
use store::{Backend, Store, StoreOptions};

/// A database for one test: its URL and an open store on it.
pub struct TestDb {
    pub url: String,
    pub store: Store,
    /// The SQLite file, for tests that read its bytes.
    pub sqlite_path: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl TestDb {
    /// Another store (its own pool) on the same database, as a second server replica has.
    pub async fn open_another(&self) -> Store {
        Store::open_with(
            &self.url,
            StoreOptions {
                max_connections: Some(3),
                ..Default::default()
            },
        )
        .await
        .expect("open a second store on the test database")
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }
}

pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_750_000_000 + seconds).expect("test time")
}

async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = Store::sqlite_url(dir.path());
    let store = Store::open(&url).await.expect("open SQLite store");
    TestDb {
        url,
        store,
        sqlite_path: Some(dir.path().join("ackctl.db")),
        _dir: Some(dir),
        pg_drop: None,
    }
}

/// Replaces the database name of a postgres:// URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn postgres() -> TestDb {
    let admin = std::env::var("ACKCTL_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "ACKCTL_TEST_DATABASE_URL is not set: the PostgreSQL tests need a server. \
             Run them as `scripts/with-postgres cargo nextest run -p store`, \
             which installs and starts a throwaway PostgreSQL and sets the variable."
        )
    });
    sqlx::any::install_default_drivers();
    let name = format!("ackctl_t_{:016x}", rand::random::<u64>());
    let mut conn = AnyConnection::connect(&admin)
        .await
        .expect("connect to ACKCTL_TEST_DATABASE_URL");
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create test database");
    conn.close().await.ok();
    let url = with_database(&admin, &name);
    let store = Store::open(&url).await.expect("open PostgreSQL store");
    TestDb {
        url,
        store,
        sqlite_path: None,
        _dir: None,
        pg_drop: Some((admin, name)),
    }
}

async fn teardown(db: &TestDb) {
    db.store.close().await;
    if let Some((admin, name)) = &db.pg_drop
        && let Ok(mut conn) = AnyConnection::connect(admin).await
    {
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await
        .ok();
    }
}

pub async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()>,
{
    run(sqlite().await, body).await
}

pub async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()>,
{
    run(postgres().await, body).await
}

async fn run<F, Fut>(db: TestDb, body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = Arc::new(db);
    body(db.clone()).await;
    teardown(&db).await;
}

/// Declares a test that runs `body` (an `async fn(Arc<TestDb>)`) once on SQLite and once
/// on PostgreSQL, as `<name>::on_sqlite` and `<name>::on_postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident => $body:ident;)+) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_sqlite() {
                $crate::harness::run_sqlite(super::$body).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_postgres() {
                $crate::harness::run_postgres(super::$body).await
            }
        }
    )+};
}

#[test]
fn database_names_are_replaced_in_postgres_urls() {
    assert_eq!(
        with_database("postgres://u:p@h:5/db", "x"),
        "postgres://u:p@h:5/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h:5/db?sslmode=disable", "x"),
        "postgres://u:p@h:5/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
