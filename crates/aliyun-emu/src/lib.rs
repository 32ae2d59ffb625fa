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
mod params;
mod persist;
mod reply;
mod service;
pub mod slb;
pub mod vpc;
pub mod world;

pub use auth::{AccessKey, DEFAULT_MAX_SKEW_MS};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ApiError;
pub use faults::FaultConfig;
pub use world::{InstanceTiming, Settings, StockLimit, World};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
        let service = service::Service {
            auth: auth::Authenticator::new(keys, config.max_skew_ms),
            faults: faults::Faults::new(config.faults),
            settings: config.settings,
            clock: Box::new(clock),
            world: Mutex::new(world),
            state_file,
        };
        Ok(Self {
            service: Arc::new(service),
        })
    }

    /// The HTTP application: every path and method goes to the OpenAPI dispatcher, except
    /// `GET /healthz`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .fallback(handle)
            .with_state(self.service.clone())
    }

    /// Serves on `listener` until the future is dropped or the listener fails.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
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
