//! The worker: claims runnable operations with a row lease, runs their steps, persists progress
//! after each, renews the lease while it polls the cloud, and gives an operation back with a
//! back-off when a step fails for a passing reason. Several workers (one per server replica)
//! share one database; the lease makes each operation run in one place at a time.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use store::{Operation, Outcome, Progress};
use tokio::task::JoinSet;

use super::OpState;
use super::steps::{self, Ctx, Next, StepError};
use crate::request::StoredCluster;
use crate::state::AppState;

/// Called after a step succeeded and before its progress (or the operation's end) is saved,
/// with the kind and the step just run; returning `true` makes the worker stop there as if the process had been killed
/// (tests use it to crash between a cloud call and its record).
pub type CrashHook = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// How a worker behaves.
#[derive(Clone)]
pub struct WorkerOptions {
    /// This worker's name in lease rows; unique per process.
    pub owner: String,
    /// How long a claim holds before another worker may take the operation over.
    pub lease: Duration,
    /// How often a waiting step asks the cloud again.
    pub poll: Duration,
    /// How long an idle worker sleeps before looking for work again (it is also woken when this
    /// process queues an operation).
    pub idle: Duration,
    /// Operations run at once.
    pub concurrency: usize,
    /// Transient failures tolerated per operation before it fails.
    pub max_errors: u32,
    /// How long an operation may take from its creation before it fails (a create then
    /// cleans up); a cloud that never settles must not keep a cluster CREATING forever.
    pub max_duration: Duration,
    pub crash_hook: Option<CrashHook>,
}

impl std::fmt::Debug for WorkerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerOptions")
            .field("owner", &self.owner)
            .field("lease", &self.lease)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            owner: format!(
                "ackctl-{}-{:08x}",
                std::process::id(),
                rand::random::<u32>()
            ),
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(2),
            idle: Duration::from_secs(1),
            concurrency: 8,
            max_errors: 10,
            max_duration: Duration::from_secs(2 * 3600),
            crash_hook: None,
        }
    }
}

/// Whether an operation created at `created` has run out of time at `now`. Cleanup steps get
/// one more window so a timed-out create can still remove what it made.
fn out_of_time(created: Timestamp, now: Timestamp, max: Duration, step: &str) -> bool {
    let max = if matches!(step, "cleanup" | "cleanup-wait") {
        max * 2
    } else {
        max
    };
    now.duration_since(created).unsigned_abs() > max && now > created
}

/// Runs operations until the future is dropped. Dropping it also stops the operations it was
/// running (their leases then expire and another worker resumes them).
pub async fn run_worker(app: AppState, options: WorkerOptions) {
    let options = Arc::new(options);
    let mut running: JoinSet<()> = JoinSet::new();
    loop {
        while running.try_join_next().is_some() {}
        if running.len() >= options.concurrency.max(1) {
            running.join_next().await;
            continue;
        }
        match app
            .store
            .claim_next(&options.owner, options.lease, app.now())
            .await
        {
            Ok(Some(op)) => {
                let app = app.clone();
                let options = options.clone();
                running.spawn(async move { run_operation(app, &options, op).await });
            }
            Ok(None) => {
                tokio::select! {
                    _ = app.wake.notified() => {}
                    _ = tokio::time::sleep(options.idle) => {}
                    Some(_) = running.join_next(), if !running.is_empty() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not claim an operation");
                tokio::time::sleep(options.idle).await;
            }
        }
    }
}

/// Back-off after the n-th transient failure: 1 s, 2 s, 4 s… up to a minute, scaled down with
/// the poll interval so tests on an emulator do not wait.
fn backoff(poll: Duration, errors: u32) -> Duration {
    let base = poll.min(Duration::from_secs(1));
    (base * 2u32.saturating_pow(errors.min(6))).min(Duration::from_secs(60))
}

async fn run_operation(app: AppState, options: &WorkerOptions, op: Operation) {
    let kind = op.kind.clone();
    // One operation per cluster at a time, oldest first.
    if let Some(cluster) = op.cluster_id {
        match app.store.list_operations(cluster).await {
            Ok(ops) => {
                if ops.iter().any(|o| o.id < op.id && !o.status.is_finished()) {
                    let later = app.now() + options.poll;
                    if let Err(e) = app
                        .store
                        .release(&op, op.last_error.as_deref(), later, app.now())
                        .await
                    {
                        tracing::debug!(error = %e, "could not hand back a waiting operation");
                    }
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not list the cluster's operations");
                return;
            }
        }
    }
    let mut state: OpState = match serde_json::from_value(op.state.clone()) {
        Ok(s) => s,
        Err(e) => {
            let _ = app
                .store
                .finish(
                    &op,
                    Outcome::Failed {
                        error: format!("unreadable operation state: {e}"),
                    },
                    app.now(),
                )
                .await;
            return;
        }
    };
    // The operation row as last written by this runner; the heartbeat and the step results
    // both write it, one at a time, so each write carries the latest revision.
    let held = tokio::sync::Mutex::new(op);
    loop {
        let current = held.lock().await.clone();
        let run = async {
            if out_of_time(
                current.created_at,
                app.now(),
                options.max_duration,
                &current.step,
            ) {
                return Err(StepError::Permanent(format!(
                    "gave up after {} minutes at step {}",
                    options.max_duration.as_secs() / 60,
                    current.step
                )));
            }
            let ctx = context(&app, &current).await?;
            steps::run_step(&ctx, &mut state).await
        };
        // The lease is renewed while the step runs, however long the cloud takes; losing it
        // (another worker took over) stops this runner at once.
        let result = tokio::select! {
            result = run => result,
            lost = heartbeat(&app, &held, options) => {
                tracing::warn!(operation = current.id.0, error = %lost, "lost the lease; stopping");
                return;
            }
        };
        app.metrics.record_step(&kind, &current.step);
        let mut op = held.lock().await;
        let saved = match result {
            Ok(Next::Step(next)) => {
                if let Some(hook) = &options.crash_hook
                    && hook(&kind, &op.step)
                {
                    tracing::info!(operation = op.id.0, step = %op.step, "crash hook: stopping without saving");
                    return;
                }
                state.errors = 0;
                save(&app, &op, next, &state, None).await
            }
            Ok(Next::Poll) => {
                drop(op);
                tokio::select! {
                    _ = tokio::time::sleep(options.poll) => {}
                    lost = heartbeat(&app, &held, options) => {
                        tracing::warn!(operation = current.id.0, error = %lost, "lost the lease; stopping");
                        return;
                    }
                }
                continue;
            }
            Ok(Next::Done) => {
                if let Some(hook) = &options.crash_hook
                    && hook(&kind, &op.step)
                {
                    tracing::info!(operation = op.id.0, step = %op.step, "crash hook: stopping before finishing");
                    return;
                }
                finish(&app, &op, Outcome::Succeeded).await;
                return;
            }
            Ok(Next::Fail(message)) => {
                steps::on_failure(&app, &op, &state, &message).await;
                finish(&app, &op, Outcome::Failed { error: message }).await;
                return;
            }
            Err(StepError::Transient(message)) if state.errors + 1 < options.max_errors => {
                state.errors += 1;
                tracing::info!(operation = op.id.0, step = %op.step, error = %message, "transient failure; retrying later");
                let step = op.step.clone();
                match save(&app, &op, &step, &state, Some(&message)).await {
                    Ok(saved) => {
                        let later = app.now() + backoff(options.poll, state.errors);
                        let _ = app
                            .store
                            .release(&saved, Some(&message), later, app.now())
                            .await;
                    }
                    Err(e) => tracing::warn!(error = %e, "could not save a failed step"),
                }
                return;
            }
            Err(StepError::Transient(message) | StepError::Permanent(message)) => {
                match steps::after_failure(&kind, &op.step, &state) {
                    Some(next) => {
                        state.failure = Some(message.clone());
                        state.errors = 0;
                        save(&app, &op, next, &state, Some(&message)).await
                    }
                    None => {
                        steps::on_failure(&app, &op, &state, &message).await;
                        finish(&app, &op, Outcome::Failed { error: message }).await;
                        return;
                    }
                }
            }
        };
        match saved {
            Ok(next) => *op = next,
            Err(e) => {
                // The lease was lost (taken over after expiry) or the database failed: stop;
                // whoever holds the operation now carries on from the last saved step.
                tracing::warn!(operation = op.id.0, error = %e, "stopping an operation");
                return;
            }
        }
    }
}

/// Renews the lease every third of its length until a renewal fails; returns why.
async fn heartbeat(
    app: &AppState,
    held: &tokio::sync::Mutex<Operation>,
    options: &WorkerOptions,
) -> store::Error {
    loop {
        tokio::time::sleep(options.lease / 3).await;
        let mut op = held.lock().await;
        match app
            .store
            .renew_lease(&op, &options.owner, options.lease, app.now())
            .await
        {
            Ok(renewed) => *op = renewed,
            // Someone else holds it now, or it ended: stop.
            Err(e @ store::Error::Conflict { .. }) => return e,
            // A database hiccup: keep trying while the lease still holds.
            Err(e) if op.lease_until.is_some_and(|until| app.now() < until) => {
                tracing::debug!(error = %e, "lease renewal failed; retrying");
            }
            Err(e) => return e,
        }
    }
}

async fn save(
    app: &AppState,
    op: &Operation,
    step: &str,
    state: &OpState,
    last_error: Option<&str>,
) -> store::Result<Operation> {
    let state = serde_json::to_value(state).map_err(|e| store::Error::Invalid {
        field: "state".to_owned(),
        why: e.to_string(),
    })?;
    app.store
        .save_progress(
            op,
            Progress {
                step: step.to_owned(),
                state,
                last_error: last_error.map(str::to_owned),
            },
            app.now(),
        )
        .await
}

async fn finish(app: &AppState, op: &Operation, outcome: Outcome) {
    let label = match &outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed { .. } => "failed",
    };
    match app.store.finish(op, outcome, app.now()).await {
        Ok(_) => app.metrics.record_outcome(&op.kind, label),
        Err(e) => tracing::warn!(operation = op.id.0, error = %e, "could not finish an operation"),
    }
}

/// The cluster and the cloud client an operation's steps need.
async fn context<'a>(app: &'a AppState, op: &'a Operation) -> Result<Ctx<'a>, StepError> {
    let id = op
        .cluster_id
        .ok_or_else(|| StepError::Permanent("the operation names no cluster".to_owned()))?;
    let cluster = app.store.get_cluster_unscoped(id).await?;
    let secret = cluster.secret_id.clone().ok_or_else(|| {
        StepError::Permanent("the cluster has no secret to reach the cloud with".to_owned())
    })?;
    let spec: StoredCluster = serde_json::from_value(cluster.spec.clone())
        .map_err(|e| StepError::Permanent(format!("the stored cluster spec is unreadable: {e}")))?;
    let key = app.access_key(cluster.org_id, &secret).await?;
    let clusters = app.cloud.clusters(&key, &spec.region_id)?;
    Ok(Ctx {
        app,
        op,
        cluster,
        clusters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_run_out_of_time_and_cleanup_gets_a_second_window() {
        let t0 = Timestamp::from_second(1_750_000_000).unwrap();
        let hour = Duration::from_secs(3600);
        let later = |s: i64| Timestamp::from_second(1_750_000_000 + s).unwrap();
        assert!(!out_of_time(t0, later(3599), hour, "wait-running"));
        assert!(out_of_time(t0, later(3601), hour, "wait-running"));
        assert!(!out_of_time(t0, later(3601), hour, "cleanup-wait"));
        assert!(out_of_time(t0, later(7201), hour, "cleanup-wait"));
        assert!(
            !out_of_time(later(10), t0, hour, "create"),
            "a clock behind the row"
        );
    }

    #[test]
    fn back_off_doubles_and_is_capped_at_a_minute() {
        let poll = Duration::from_secs(2);
        assert_eq!(backoff(poll, 0), Duration::from_secs(1));
        assert_eq!(backoff(poll, 3), Duration::from_secs(8));
        assert_eq!(backoff(poll, 30), Duration::from_secs(60));
        assert_eq!(
            backoff(Duration::from_millis(10), 1),
            Duration::from_millis(20)
        );
    }
}
