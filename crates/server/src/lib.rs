//! `ackctl server`: the Pipeline-style REST control plane for Kubernetes on Alibaba Cloud.
//!
//! ```text
//!   HTTP ─▶ api (thin handlers) ─▶ service ─▶ store (SQLite | PostgreSQL)
//!                                     │  └──▶ operations row ◀── worker (row lease) ─▶ cloud::Clusters
//!                                     └──▶ cloud::Clusters (checks: credentials, zones)
//! ```
//!
//! Start it in-process with [`Server::open`] then [`Server::spawn`] (or [`Server::serve`]), or
//! from the command line with `ackctl server`. State lives under a state directory: the SQLite
//! database `ackctl.db` (unless a PostgreSQL URL is given), the master key `master.key` (0600,
//! unless given in the environment) and, on first start, the bootstrap admin token
//! `admin-token` (0600) when none was given.

pub mod api;
pub mod auth;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod operations;
pub mod request;
pub mod service;
pub mod state;
pub mod views;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cloud::clusters::{Alibaba, ClusterCloud};
use secrecy::{ExposeSecret, SecretString};
use store::{MasterKey, OrgId, Role, Store};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use operations::{CrashHook, WorkerOptions};
pub use state::AppState;

/// The environment variable that may hold the master key (base64 or hex of 32 bytes).
pub const MASTER_KEY_ENV: &str = "ACKCTL_MASTER_KEY";
/// The environment variable that may hold the first admin token.
pub const BOOTSTRAP_TOKEN_ENV: &str = "ACKCTL_BOOTSTRAP_TOKEN";
/// The name of the organisation created on an empty database (its id is 1).
pub const BOOTSTRAP_ORG: &str = "default";
/// The login of the admin created on an empty database.
pub const BOOTSTRAP_ADMIN: &str = "admin";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("state directory {}: {source}", path.display())]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("cloud: {0}")]
    Cloud(#[from] cloud::Error),
    #[error("bootstrap token file {}: {source}", path.display())]
    TokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How to start a server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Holds the SQLite database, the master key file and the bootstrap token file.
    pub state_dir: PathBuf,
    /// `postgres://…` (or any `sqlite:` URL); default: `ackctl.db` in `state_dir`.
    pub database_url: Option<String>,
    /// Sends every Alibaba Cloud call there (the emulator) instead of the public endpoints.
    pub alibaba_endpoint: Option<String>,
    /// The first admin's token on an empty database (else one is generated into a file).
    pub bootstrap_token: Option<SecretString>,
    /// The master key itself; default: `master.key` in `state_dir`, created on first start.
    pub master_key: Option<SecretString>,
    /// Run an operation worker in this process (`None`: API only, e.g. a read replica).
    pub worker: Option<WorkerOptions>,
}

impl ServerConfig {
    /// The defaults for a state directory: SQLite, key file, a worker.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            state_dir: state_dir.into(),
            database_url: None,
            alibaba_endpoint: None,
            bootstrap_token: None,
            master_key: None,
            worker: Some(WorkerOptions::default()),
        }
    }

    fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| Store::sqlite_url(&self.state_dir))
    }

    fn master_key(&self) -> Result<MasterKey, Error> {
        match &self.master_key {
            Some(k) => Ok(MasterKey::from_encoded(MASTER_KEY_ENV, k.expose_secret())?),
            None => Ok(MasterKey::load_or_create(&master_key_path(
                &self.state_dir,
            ))?),
        }
    }
}

pub fn master_key_path(state_dir: &Path) -> PathBuf {
    state_dir.join("master.key")
}

/// What the first start did.
#[derive(Clone, Debug)]
pub struct Bootstrap {
    /// Whether this start created the organisation and the admin.
    pub created: bool,
    /// The bootstrap organisation (1 on a fresh database).
    pub org_id: OrgId,
    /// The admin token, when this start generated or imported it.
    pub admin_token: Option<SecretString>,
    /// Where a generated token was written.
    pub token_file: Option<PathBuf>,
}

/// A server, opened but not yet serving.
pub struct Server {
    app: AppState,
    bootstrap: Bootstrap,
    worker: Option<WorkerOptions>,
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// On an empty database: organisation 1, user `admin` as its admin, and the first token.
/// Two replicas starting at once on one PostgreSQL: the loser sees the organisation exists.
async fn bootstrap(store: &Store, config: &ServerConfig) -> Result<Bootstrap, Error> {
    let now = jiff::Timestamp::now();
    if store.is_empty().await? {
        match store.create_org(BOOTSTRAP_ORG, now).await {
            Ok(org) => {
                let admin = store.create_user(BOOTSTRAP_ADMIN, now).await?;
                store.add_member(org.id, admin.id, Role::Admin, now).await?;
                return match &config.bootstrap_token {
                    Some(token) => {
                        store
                            .import_token(admin.id, "bootstrap", token, None, now)
                            .await?;
                        Ok(Bootstrap {
                            created: true,
                            org_id: org.id,
                            admin_token: Some(token.clone()),
                            token_file: None,
                        })
                    }
                    None => {
                        let (_, value) =
                            store.create_token(admin.id, "bootstrap", None, now).await?;
                        let path = config.state_dir.join("admin-token");
                        write_private(&path, value.expose_secret()).map_err(|source| {
                            Error::TokenFile {
                                path: path.clone(),
                                source,
                            }
                        })?;
                        Ok(Bootstrap {
                            created: true,
                            org_id: org.id,
                            admin_token: Some(value),
                            token_file: Some(path),
                        })
                    }
                };
            }
            Err(store::Error::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let org = store.list_orgs().await?.first().map_or(OrgId(1), |o| o.id);
    // A token given on the command line of a later start is registered for the first admin if
    // it is not known yet: whoever controls the command line controls the database anyway.
    let mut admin_token = None;
    if let Some(token) = &config.bootstrap_token
        && store
            .authenticate(token.expose_secret(), now)
            .await?
            .is_none()
        && let Some(admin) = store
            .members(org)
            .await?
            .into_iter()
            .find(|m| m.role == Role::Admin)
    {
        match store
            .import_token(admin.user_id, "bootstrap", token, None, now)
            .await
        {
            Ok(_) => admin_token = Some(token.clone()),
            Err(store::Error::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Bootstrap {
        created: false,
        org_id: org,
        admin_token,
        token_file: None,
    })
}

impl Server {
    /// Opens the store and the master key, bootstraps an empty database, and connects to
    /// Alibaba Cloud at the configured endpoint.
    pub async fn open(config: ServerConfig) -> Result<Server, Error> {
        let mut cloud = Alibaba::new(config.alibaba_endpoint.clone());
        if config
            .alibaba_endpoint
            .as_deref()
            .is_some_and(|e| e.contains("127.0.0.1") || e.contains("localhost"))
        {
            cloud = cloud.with_fast_retries();
        }
        Self::open_with_cloud(config, Arc::new(cloud)).await
    }

    /// [`Server::open`] with another cloud behind the `Clusters` trait.
    pub async fn open_with_cloud(
        config: ServerConfig,
        cloud: Arc<dyn ClusterCloud>,
    ) -> Result<Server, Error> {
        std::fs::create_dir_all(&config.state_dir).map_err(|source| Error::StateDir {
            path: config.state_dir.clone(),
            source,
        })?;
        let key = config.master_key()?;
        let store = Store::open(&config.database_url()).await?;
        let bootstrap = bootstrap(&store, &config).await?;
        Ok(Server {
            app: AppState::new(store, key, cloud),
            bootstrap,
            worker: config.worker,
        })
    }

    pub fn bootstrap(&self) -> &Bootstrap {
        &self.bootstrap
    }

    pub fn state(&self) -> &AppState {
        &self.app
    }

    /// The HTTP application.
    pub fn router(&self) -> axum::Router {
        api::router(self.app.clone())
    }

    /// Serves on `listener`, running the worker too if configured, until either fails.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        let worker = self
            .worker
            .clone()
            .map(|options| tokio::spawn(operations::run_worker(self.app.clone(), options)));
        let result = axum::serve(listener, self.router()).await;
        if let Some(w) = worker {
            w.abort();
        }
        result
    }

    /// Serves on `listener` in background tasks; the handle stops them.
    pub fn spawn(self, listener: TcpListener) -> std::io::Result<RunningServer> {
        let addr = listener.local_addr()?;
        let worker = self
            .worker
            .clone()
            .map(|options| tokio::spawn(operations::run_worker(self.app.clone(), options)));
        let router = self.router();
        let http = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "the API server stopped");
            }
        });
        Ok(RunningServer {
            addr,
            bootstrap: self.bootstrap,
            app: self.app,
            http,
            worker,
        })
    }
}

/// A server serving in background tasks.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub bootstrap: Bootstrap,
    pub app: AppState,
    http: JoinHandle<()>,
    worker: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the worker at once, as a killed process would (its leases then expire).
    pub fn kill_worker(&mut self) {
        if let Some(w) = self.worker.take() {
            w.abort();
        }
    }

    /// Stops serving and working.
    pub fn stop(mut self) {
        self.kill_worker();
        self.http.abort();
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            w.abort();
        }
        self.http.abort();
    }
}

/// Re-wraps every secret's data key under a fresh master key and replaces the key file (the
/// old key is kept beside it as `master.key.<old id>.old`). Run it with the servers stopped.
/// Returns the new key's id and how many secrets moved.
pub async fn rotate_master_key(
    state_dir: &Path,
    database_url: Option<&str>,
) -> Result<(String, u64), Error> {
    let path = master_key_path(state_dir);
    let old = MasterKey::load_or_create(&path)?;
    let new = MasterKey::generate()?;
    // The new key reaches the disk before any secret depends on it.
    let pending = state_dir.join("master.key.new");
    write_private(&pending, &new.encoded()).map_err(|source| Error::TokenFile {
        path: pending.clone(),
        source,
    })?;
    let url = database_url
        .map(str::to_owned)
        .unwrap_or_else(|| Store::sqlite_url(state_dir));
    let store = Store::open(&url).await?;
    let moved = store
        .rotate_master_key(&old, &new, jiff::Timestamp::now())
        .await?;
    store.close().await;
    let kept = state_dir.join(format!("master.key.{}.old", old.id()));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::StateDir { path, source }
    };
    std::fs::rename(&path, &kept).map_err(io(&kept))?;
    std::fs::rename(&pending, &path).map_err(io(&path))?;
    Ok((new.id().to_owned(), moved))
}
