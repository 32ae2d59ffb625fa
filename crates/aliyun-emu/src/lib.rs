//! A local emulator of the Alibaba Cloud OpenAPI: ECS, ESS, CS (ACK), ECI, SLB and VPC on one
//! port, with real signature checking, realistic state, fault injection and optional persistence.
//!
//! ```text
//!   official SDKs / ackctl / cluster-autoscaler
//!        │  signed HTTP (V3, RPC v1, ROA v1)
//!        ▼
//!   service ── auth (aliyun-signer) ── faults ── ecs / ess / vpc / slb / eci handlers (RPC,
//!                                                by version) and cs (ROA, by method and path)
//!                                                        │
//!                                                      world ── persist
//!                                                        ▲
//!                                                 clock (injected)
//! ```
//! It is the embedded default cloud of ackctl, as SQLite is its embedded default store.

mod auth;
mod call;
pub mod catalog;
mod clock;
pub mod cs;
pub mod eci;
mod ecs;
mod error;
mod ess;
mod faults;
pub mod kube;
mod listener;
mod params;
mod persist;
mod reply;
mod service;
pub mod slb;
mod tls;
pub mod vpc;
pub mod world;

pub use auth::{AccessKey, DEFAULT_MAX_SKEW_MS};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ApiError;
pub use faults::FaultConfig;
pub use kube_emu::Timing as KubeTiming;
pub use world::{InstanceTiming, Settings, StockLimit, World};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// How often a served emulator runs its clusters' kubelets, scheduler and controllers.
pub const KUBE_PASS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The access key the emulator accepts when none is configured.
pub const DEFAULT_ACCESS_KEY_ID: &str = "ackctl-emulator";
/// The secret of [`DEFAULT_ACCESS_KEY_ID`].
pub const DEFAULT_ACCESS_KEY_SECRET: &str = "ackctl-emulator-secret";

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The state directory could not be used.
    #[error("cannot use the emulator state in {path}: {source}")]
    State {
        /// The directory.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// A setting is out of range.
    #[error("invalid emulator setting: {0}")]
    InvalidConfig(String),
}

/// How the emulator behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Accepted keys; the default pair when empty.
    pub access_keys: Vec<AccessKey>,
    /// Instance timing and stock.
    pub settings: Settings,
    /// Injected failures.
    pub faults: FaultConfig,
    /// Where to persist state; in memory only when `None`.
    pub state_dir: Option<PathBuf>,
    /// How far request timestamps may be from the wall clock.
    pub max_skew_ms: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            access_keys: Vec::new(),
            settings: Settings::default(),
            faults: FaultConfig {
                retry_after_ms: 100,
                ..FaultConfig::default()
            },
            state_dir: None,
            max_skew_ms: DEFAULT_MAX_SKEW_MS,
        }
    }
}

/// A running emulator's state; cheap to clone.
#[derive(Clone)]
pub struct Emulator {
    service: Arc<service::Service>,
}

impl Emulator {
    /// An emulator with `config`, reading time from `clock`.
    pub fn new(config: Config, clock: impl Clock) -> Result<Self, Error> {
        for (name, rate) in [
            ("throttle rate", config.faults.throttle_rate),
            ("error rate", config.faults.error_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(Error::InvalidConfig(format!(
                    "{name} {rate} must be between 0 and 1"
                )));
            }
        }
        if config.faults.throttle_rate + config.faults.error_rate > 1.0 {
            return Err(Error::InvalidConfig(
                "throttle rate plus error rate must not exceed 1".into(),
            ));
        }
        let (state_file, world) = match &config.state_dir {
            None => (None, World::default()),
            Some(dir) => {
                let state = |source| Error::State {
                    path: dir.clone(),
                    source,
                };
                let file = persist::StateFile::in_dir(dir).map_err(state)?;
                let world = file.load().map_err(state)?;
                (Some(file), world)
            }
        };
        let keys = if config.access_keys.is_empty() {
            vec![AccessKey {
                id: DEFAULT_ACCESS_KEY_ID.into(),
                secret: DEFAULT_ACCESS_KEY_SECRET.into(),
                read_only: false,
            }]
        } else {
            config.access_keys
        };
        let tls = tls::Identity::load_or_create(config.state_dir.as_deref()).map_err(|source| {
            Error::State {
                path: config.state_dir.clone().unwrap_or_default(),
                source,
            }
        })?;
        let clock: Arc<dyn Clock> = Arc::new(clock);
        let service = service::Service {
            auth: auth::Authenticator::new(keys, config.max_skew_ms),
            faults: faults::Faults::new(config.faults),
            kube: kube::KubeApis::new(clock.clone(), config.settings.kube.clone()),
            settings: config.settings,
            clock,
            world: Mutex::new(world),
            ticker: std::sync::Once::new(),
            state_file,
            tls: Arc::new(tls),
        };
        Ok(Self {
            service: Arc::new(service),
        })
    }

    /// The HTTP application: `GET /healthz`, the clusters' Kubernetes APIs under `/kube/`, and
    /// every other path and method to the OpenAPI dispatcher.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .route("/kube/{*rest}", axum::routing::any(handle_kube))
            .fallback(handle)
            .with_state(self.service.clone())
    }

    /// Serves on `listener` until the future is dropped or the listener fails: the OpenAPI
    /// over plain HTTP, and both it and the Kubernetes APIs over HTTPS on the same port.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.start_ticker();
        let tls = tokio_rustls::TlsAcceptor::from(self.service.tls.server_config()?);
        listener::serve(listener, self.router(), tls).await
    }

    /// The PEM certificate of the CA behind the emulator's HTTPS, which kubeconfigs carry.
    pub fn ca_pem(&self) -> &str {
        self.service.tls.ca_pem()
    }

    /// The Kubernetes API server of cluster `id`, once the cluster exists.
    pub fn kube_api(&self, id: &str) -> Option<Arc<kube_emu::ApiServer>> {
        self.service.sync_kube();
        self.service.kube.api(id)
    }

    /// One pass of every cluster's kubelets, scheduler and controllers at the clock's time.
    /// A served emulator runs one every [`KUBE_PASS_INTERVAL`]; tests on a manual clock call
    /// this after moving the clock.
    pub fn reconcile_kube(&self) {
        self.service.reconcile_kube();
    }

    /// Starts the background passes (once per emulator); they end when the emulator is dropped.
    fn start_ticker(&self) {
        self.service.ticker.call_once(|| {
            let service = Arc::downgrade(&self.service);
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(KUBE_PASS_INTERVAL);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    interval.tick().await;
                    let Some(service) = service.upgrade() else {
                        return;
                    };
                    // A pass over a large cluster is CPU work; keep it off the I/O threads.
                    if tokio::task::spawn_blocking(move || service.reconcile_kube())
                        .await
                        .is_err()
                    {
                        tracing::error!("a Kubernetes reconcile pass panicked");
                    }
                }
            });
        });
    }

    /// The file state persists to, when a state directory was given.
    pub fn state_path(&self) -> Option<&std::path::Path> {
        self.service
            .state_file
            .as_ref()
            .map(persist::StateFile::path)
    }

    /// A copy of the current state, for tests and inspection.
    pub fn snapshot(&self) -> World {
        self.service
            .world
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

async fn handle(
    State(service): State<Arc<service::Service>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    service.respond(&method, &uri, &headers, &body)
}

async fn handle_kube(
    State(service): State<Arc<service::Service>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    // A cluster created since the last pass gets its API now rather than up to a pass later.
    if kube::cluster_id(request.uri().path()).is_some_and(|id| service.kube.api(id).is_none()) {
        service.sync_kube();
    }
    service.kube.serve(request).await
}
