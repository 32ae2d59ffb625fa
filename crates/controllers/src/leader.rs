//! Leader election over a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it:
//! the holder renews the Lease every `retry_period`; another candidate takes it over once it has
//! seen no renewal for `lease_duration` (measured on its own monotonic clock, so clock skew
//! between replicas does not matter). Controllers gate their writes on [`Leadership`].
//!
//! ```text
//!  candidate ──get──▶ Lease ─ absent ──────────────▶ create (holder = me)        ─▶ leader
//!                           ─ holder = me ──────────▶ replace (renewTime = now)   ─▶ leader
//!                           ─ unchanged for lease_duration ─▶ replace (holder = me) ─▶ leader
//!                           ─ otherwise ────────────────────────────────────────────▶ follower
//!  a 409 Conflict on create/replace means someone else won this round ─▶ follower
//! ```

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::sync::watch;

/// Where the Lease lives and how it is held.
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    pub namespace: String,
    pub name: String,
    /// This candidate's identity (the pod name, or host name plus a random suffix).
    pub identity: String,
    pub lease_duration: Duration,
    pub retry_period: Duration,
}

impl LeaderConfig {
    /// cluster-autoscaler's defaults: Lease `kube-system/cluster-autoscaler`, 15 s, retried
    /// every 2 s.
    pub fn cluster_autoscaler(identity: impl Into<String>) -> Self {
        Self {
            namespace: "kube-system".into(),
            name: "cluster-autoscaler".into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Whether this process currently leads.
#[derive(Debug, Clone)]
pub struct Leadership {
    rx: watch::Receiver<bool>,
}

impl Leadership {
    /// Leadership without election (`--leader-elect=false`): always the leader.
    pub fn always() -> Self {
        let (tx, rx) = watch::channel(true);
        // The receiver keeps the last value after the sender is gone.
        drop(tx);
        Self { rx }
    }

    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }

    /// Waits until this process leads.
    pub async fn acquired(&mut self) {
        let _ = self.rx.wait_for(|leader| *leader).await;
    }
}

/// Starts campaigning; the task runs until the returned handle is aborted.
pub fn spawn(
    client: kube::Client,
    config: LeaderConfig,
) -> (Leadership, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let handle = tokio::spawn(async move {
        let api: Api<Lease> = Api::namespaced(client, &config.namespace);
        let mut observed: Option<(String, Instant)> = None;
        loop {
            let leader = match step(&api, &config, &mut observed).await {
                Ok(leader) => leader,
                Err(e) => {
                    tracing::warn!(error = %e, lease = %config.name, "leader election step failed");
                    // Losing contact with the API server for a whole lease means another
                    // candidate may have taken over: stop acting.
                    let held = *tx.borrow();
                    held && observed
                        .as_ref()
                        .is_some_and(|(_, at)| at.elapsed() < config.lease_duration)
                }
            };
            if *tx.borrow() != leader {
                tracing::info!(identity = %config.identity, leader, "leadership changed");
            }
            tx.send_replace(leader);
            tokio::time::sleep(config.retry_period).await;
        }
    });
    (Leadership { rx }, handle)
}

fn now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}

fn conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// One round of the election; `observed` remembers the last Lease version seen and when.
async fn step(
    api: &Api<Lease>,
    config: &LeaderConfig,
    observed: &mut Option<(String, Instant)>,
) -> Result<bool, kube::Error> {
    let duration_secs = i32::try_from(config.lease_duration.as_secs()).unwrap_or(i32::MAX);
    let Some(mut lease) = api.get_opt(&config.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(config.name.clone()),
                namespace: Some(config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(config.identity.clone()),
                lease_duration_seconds: Some(duration_secs),
                acquire_time: Some(now()),
                renew_time: Some(now()),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(created) => {
                *observed = created
                    .metadata
                    .resource_version
                    .map(|rv| (rv, Instant::now()));
                Ok(true)
            }
            Err(e) if conflict(&e) => Ok(false),
            Err(e) => Err(e),
        };
    };
    let rv = lease.metadata.resource_version.clone().unwrap_or_default();
    if observed.as_ref().is_none_or(|(seen, _)| *seen != rv) {
        *observed = Some((rv, Instant::now()));
    }
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let mine = holder == config.identity;
    let expired = observed
        .as_ref()
        .is_some_and(|(_, at)| at.elapsed() >= config.lease_duration);
    if !mine && !holder.is_empty() && !expired {
        return Ok(false);
    }
    if !mine {
        spec.holder_identity = Some(config.identity.clone());
        spec.acquire_time = Some(now());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.renew_time = Some(now());
    spec.lease_duration_seconds = Some(duration_secs);
    match api
        .replace(&config.name, &PostParams::default(), &lease)
        .await
    {
        Ok(replaced) => {
            *observed = replaced
                .metadata
                .resource_version
                .map(|rv| (rv, Instant::now()));
            Ok(true)
        }
        Err(e) if conflict(&e) => Ok(false),
        Err(e) => Err(e),
    }
}
