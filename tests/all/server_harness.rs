//! An `ackctl server` in-process beside an in-process emulator, on SQLite (a temporary state
//! directory) or on PostgreSQL (a fresh database on the server named by
//! `ACKCTL_TEST_DATABASE_URL`, which `scripts/with-postgres` provides), plus HTTP helpers.

use std::time::Duration;

use aliyun_emu::{Config, Emulator, SystemClock};
use secrecy::SecretString;
use serde_json::{Value, json};
use server::{CrashHook, RunningServer, Server, ServerConfig, WorkerOptions};
use sqlx::{AnyConnection, Connection, Executor};

use crate::support::{KEY_ID, KEY_SECRET, config, serve};

/// The bootstrap admin token every test server starts with.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef0123456789";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A database for one test.
pub struct TestDb {
    pub url: String,
    pg_drop: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_drop.take() {
            // Best effort, on a thread of its own: Drop cannot await.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(mut conn) = AnyConnection::connect(&admin).await {
                        let _ = conn
                            .execute(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .await;
                    }
                });
            })
            .join()
            .ok();
        }
    }
}

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

impl TestDb {
    pub async fn new(db: Db, state_dir: &std::path::Path) -> TestDb {
        match db {
            Db::Sqlite => TestDb {
                url: store::Store::sqlite_url(state_dir),
                pg_drop: None,
            },
            Db::Postgres => {
                let admin = std::env::var("ACKCTL_TEST_DATABASE_URL").unwrap_or_else(|_| {
                    panic!(
                        "ACKCTL_TEST_DATABASE_URL is not set: the PostgreSQL half of the server \
                         tests needs a server; run them as `scripts/with-postgres cargo nextest run -p ackctl-tests server_`"
                    )
                });
                sqlx::any::install_default_drivers();
                let name = format!("ackctl_srv_{:016x}", rand::random::<u64>());
                let mut conn = AnyConnection::connect(&admin)
                    .await
                    .expect("connect to ACKCTL_TEST_DATABASE_URL");
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .expect("create the test database");
                conn.close().await.ok();
                TestDb {
                    url: with_database(&admin, &name),
                    pg_drop: Some((admin, name)),
                }
            }
        }
    }
}

/// Worker settings for tests: quick polls, a short lease so a "killed" worker's operations are
/// taken over within two seconds.
pub fn fast_worker(owner: &str) -> WorkerOptions {
    WorkerOptions {
        owner: owner.to_owned(),
        lease: Duration::from_millis(1500),
        poll: Duration::from_millis(20),
        idle: Duration::from_millis(50),
        concurrency: 8,
        max_errors: 10,
        max_duration: Duration::from_secs(120),
        crash_hook: None,
    }
}

/// A running emulator, database and state directory; servers come and go on top of them.
pub struct Env {
    pub emulator: Emulator,
    pub emulator_url: String,
    pub dir: tempfile::TempDir,
    pub db: TestDb,
}

impl Env {
    pub async fn new(db: Db) -> Env {
        Self::with_emulator(db, config()).await
    }

    pub async fn with_emulator(db: Db, config: Config) -> Env {
        let emulator = Emulator::new(config, SystemClock).expect("emulator");
        let emulator_url = serve(&emulator).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let db = TestDb::new(db, dir.path()).await;
        Env {
            emulator,
            emulator_url,
            dir,
            db,
        }
    }

    pub fn server_config(&self, worker: Option<WorkerOptions>) -> ServerConfig {
        let mut config = ServerConfig::new(self.dir.path());
        config.database_url = Some(self.db.url.clone());
        config.alibaba_endpoint = Some(self.emulator_url.clone());
        config.bootstrap_token = Some(SecretString::from(ADMIN_TOKEN));
        config.worker = worker;
        config
    }

    /// A server on this environment; `worker`: run operations in it.
    pub async fn server(&self, worker: Option<WorkerOptions>) -> TestServer {
        let server = Server::open(self.server_config(worker))
            .await
            .expect("open the server");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let running = server.spawn(listener).expect("serve");
        TestServer {
            url: running.url(),
            running,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    pub async fn server_with_hook(&self, owner: &str, hook: CrashHook) -> TestServer {
        let mut worker = fast_worker(owner);
        worker.crash_hook = Some(hook);
        self.server(Some(worker)).await
    }

    /// What the emulator's inventory holds: clusters, instances, scaling groups.
    pub fn inventory(&self) -> (usize, usize, usize) {
        let w = self.emulator.snapshot();
        (w.clusters.clusters.len(), w.instances.len(), w.groups.len())
    }

    pub fn assert_no_orphans(&self) {
        let orphans = self.emulator.snapshot().orphans();
        assert!(orphans.is_empty(), "orphaned cloud resources: {orphans:#?}");
    }
}

/// A server and an HTTP client for it.
pub struct TestServer {
    pub url: String,
    pub running: RunningServer,
    pub http: reqwest::Client,
}

/// An HTTP answer: status and body (JSON, or a string when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn field(&self) -> &str {
        self.body["field"].as_str().unwrap_or("")
    }
}

impl TestServer {
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_owned());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, text }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, Some(ADMIN_TOKEN), None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call("POST", path, Some(ADMIN_TOKEN), Some(&body.to_string()))
            .await
    }

    /// Seed 000's secret request; returns the secret id.
    pub async fn seed_secret(&self) -> String {
        let a = self
            .post(
                "/api/v1/orgs/1/secrets",
                &json!({
                    "name": "my-alibaba-secret",
                    "type": "alibaba",
                    "values": {
                        "ALIBABA_ACCESS_KEY_ID": KEY_ID,
                        "ALIBABA_ACCESS_KEY_SECRET": KEY_SECRET
                    }
                }),
            )
            .await;
        assert_eq!(a.status, 201, "{a:?}");
        a.body["id"].as_str().expect("secret id").to_owned()
    }

    /// Seed 000's cluster request as written (with `name`); returns the cluster id.
    pub async fn seed_cluster(&self, secret: &str, name: &str) -> i64 {
        let body = seed_cluster_body(secret, name);
        let a = self
            .call(
                "POST",
                "/api/v1/orgs/1/clusters",
                Some(ADMIN_TOKEN),
                Some(&body),
            )
            .await;
        assert_eq!(a.status, 202, "{a:?}");
        a.body["id"].as_i64().expect("cluster id")
    }

    /// Polls the cluster until `status`, failing after `secs` seconds.
    pub async fn wait_status(&self, id: i64, status: &str, secs: u64) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let a = self.get(&format!("/api/v1/orgs/1/clusters/{id}")).await;
            if a.body["status"] == status {
                return a.body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "cluster {id} is {} ({}) instead of {status}",
                a.body["status"],
                a.body["statusMessage"]
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The cluster's operations once none is pending or running.
    pub async fn wait_ops_finished(&self, id: i64) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ops = self.operations(id).await;
            if ops
                .iter()
                .all(|o| o["status"] == "succeeded" || o["status"] == "failed")
            {
                return ops;
            }
            assert!(tokio::time::Instant::now() < deadline, "{ops:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn operations(&self, id: i64) -> Vec<Value> {
        let a = self
            .get(&format!("/api/v1/orgs/1/clusters/{id}/operations"))
            .await;
        a.body.as_array().cloned().unwrap_or_default()
    }
}

/// Seed 000's create body, byte for byte but for the name and the secret id.
pub fn seed_cluster_body(secret: &str, name: &str) -> String {
    format!(
        r#"{{
"name":"{name}",
"location": "eu-central-1",
"cloud": "alibaba",
"secretId": "{secret}",
"properties": {{
"acsk": {{
"regionId": "eu-central-1",
"zoneId": "eu-central-1a",
"masterInstanceType": "ecs.sn1ne.large",
"masterSystemDiskCategory": "cloud_efficiency",
"nodePools": {{
"pool1": {{
"count": 1,
"image": "centos_7",
"instanceType": "ecs.sn1ne.large",
"systemDiskCategory": "cloud_efficiency"
}}
}}
}}
}}
}}
"#
    )
}

/// Declares a test that runs `body(Db)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! server_test_on_both {
    ($($name:ident => $body:ident;)+) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_sqlite() {
                super::$body($crate::server_harness::Db::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_postgres() {
                super::$body($crate::server_harness::Db::Postgres).await
            }
        }
    )+};
}
