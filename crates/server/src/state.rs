//! What every handler and the operation worker share: the store, the master key, the cloud,
//! the metrics, and the bell that wakes the worker when an operation is queued.

use std::sync::Arc;

use cloud::clusters::{AccessKey, ClusterCloud, Clusters};
use jiff::Timestamp;
use secrecy::SecretString;
use store::{MasterKey, OrgId, SecretId, SecretType, Store};
use tokio::sync::Notify;

use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;

/// Shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub key: MasterKey,
    pub cloud: Arc<dyn ClusterCloud>,
    pub metrics: Metrics,
    /// Rung when an operation is queued, so an in-process worker starts it at once.
    pub wake: Notify,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(store: Store, key: MasterKey, cloud: Arc<dyn ClusterCloud>) -> Self {
        AppState(Arc::new(Inner {
            store,
            key,
            cloud,
            metrics: Metrics::new(),
            wake: Notify::new(),
        }))
    }

    /// The server's clock. The server is an I/O crate; the store takes time as an argument so
    /// its decisions stay testable.
    pub fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    /// The access key in an `alibaba` secret.
    pub async fn access_key(
        &self,
        org: OrgId,
        secret: &SecretId,
    ) -> Result<AccessKey, store::Error> {
        let (meta, values) = self.store.reveal_secret(org, secret, &self.key).await?;
        if meta.kind != SecretType::Alibaba {
            return Err(store::Error::Invalid {
                field: "secretId".to_owned(),
                why: format!(
                    "secret {secret} is a {} secret; clusters need an alibaba secret",
                    meta.kind
                ),
            });
        }
        let get = |name: &str| {
            values
                .get(name)
                .cloned()
                .ok_or_else(|| store::Error::Corrupt {
                    what: format!("secret {secret}"),
                    why: format!("it has no {name}"),
                })
        };
        let id: SecretString = get("ALIBABA_ACCESS_KEY_ID")?;
        Ok(AccessKey {
            id: secrecy::ExposeSecret::expose_secret(&id).to_owned(),
            secret: get("ALIBABA_ACCESS_KEY_SECRET")?,
        })
    }

    /// The cloud's clusters for a secret and region, for a request.
    pub async fn clusters_for(
        &self,
        org: OrgId,
        secret: &SecretId,
        region: &str,
    ) -> ApiResult<Arc<dyn Clusters>> {
        let key = self.access_key(org, secret).await?;
        self.cloud.clusters(&key, region).map_err(ApiError::cloud)
    }
}
