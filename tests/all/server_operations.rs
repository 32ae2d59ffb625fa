//! Durable operations: a worker killed after any step (cloud call made, progress not saved) is
//! resumed by a restarted server without duplicating or orphaning cloud resources; deleting a
//! creating cluster needs `force`; a failed create cleans up unless asked to keep; two workers on
//! one database run each operation exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aliyun_emu::StockLimit;
use serde_json::Value;

use crate::server_harness::{ADMIN_TOKEN, Db, Env, TestServer, fast_worker, seed_cluster_body};
use crate::server_test_on_both;

server_test_on_both! {
    a_server_killed_after_each_step_resumes_without_duplicates_or_orphans => crash_after_every_step;
    two_workers_on_one_database_run_each_operation_once => two_workers;
}

/// A hook that "kills" the worker once, right after `kind`'s `step` did its work and before
/// its progress is saved.
fn crash_once(kind: &'static str, step: &'static str) -> (server::CrashHook, Arc<AtomicBool>) {
    let fired = Arc::new(AtomicBool::new(false));
    let flag = fired.clone();
    let hook: server::CrashHook = Arc::new(move |k: &str, s: &str| {
        k == kind && s == step && !flag.swap(true, Ordering::SeqCst)
    });
    (hook, fired)
}

async fn wait_fired(fired: &AtomicBool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !fired.load(Ordering::SeqCst) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the crash point was never reached"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn count_named(env: &Env, name: &str) -> usize {
    env.emulator
        .snapshot()
        .clusters
        .clusters
        .values()
        .filter(|c| c.name == name)
        .count()
}

async fn crash_after_every_step(db: Db) {
    let env = Env::new(db).await;
    let secret = {
        let s = env.server(None).await;
        s.seed_secret().await
    };
    let steps: [(&str, &str); 5] = [
        ("create-cluster", "create"),
        ("create-cluster", "wait-running"),
        ("create-cluster", "record-node-pools"),
        ("delete-cluster", "delete"),
        ("delete-cluster", "wait-deleted"),
    ];
    for (i, (kind, step)) in steps.into_iter().enumerate() {
        let name = format!("crash-{i}");
        // The first server dies at the crash point; a second one (a restart) finishes.
        let (hook, fired) = crash_once(kind, step);
        let mut first = env.server_with_hook(&format!("first-{i}"), hook).await;
        let id = first.seed_cluster(&secret, &name).await;
        if kind == "delete-cluster" {
            first.wait_status(id, "RUNNING", 30).await;
            let a = first
                .call(
                    "DELETE",
                    &format!("/api/v1/orgs/1/clusters/{id}"),
                    Some(ADMIN_TOKEN),
                    None,
                )
                .await;
            assert_eq!(a.status, 202, "{a:?}");
        }
        wait_fired(&fired).await;
        first.running.kill_worker();
        drop(first);

        let second = env.server(Some(fast_worker(&format!("second-{i}")))).await;
        if kind == "create-cluster" {
            second.wait_status(id, "RUNNING", 30).await;
            assert_eq!(
                count_named(&env, &name),
                1,
                "{kind}/{step}: one cloud cluster, not two"
            );
            let ops = second.wait_ops_finished(id).await;
            assert_eq!(ops.len(), 1);
            assert_eq!(ops[0]["status"], "succeeded");
            assert_eq!(
                ops[0]["attempts"], 2,
                "{kind}/{step}: claimed again after the crash"
            );
            let a = second
                .call(
                    "DELETE",
                    &format!("/api/v1/orgs/1/clusters/{id}"),
                    Some(ADMIN_TOKEN),
                    None,
                )
                .await;
            assert_eq!(a.status, 202, "{a:?}");
        }
        second.wait_status(id, "DELETED", 30).await;
        assert_eq!(count_named(&env, &name), 0, "{kind}/{step}");
        env.assert_no_orphans();
    }
    assert_eq!(env.inventory(), (0, 0, 0));
}

async fn two_workers(db: Db) {
    let env = Env::new(db).await;
    let api = env.server(None).await;
    let secret = api.seed_secret().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(api.seed_cluster(&secret, &format!("batch-{i}")).await);
    }
    // Two replicas, each with its own connection pool and worker, on the one database.
    // A lease far longer than any step here: a takeover would mean two runs, not a slow one.
    let replica = |name: &str| server::WorkerOptions {
        lease: Duration::from_secs(20),
        ..fast_worker(name)
    };
    let a = env.server(Some(replica("replica-a"))).await;
    let b = env.server(Some(replica("replica-b"))).await;
    for &id in &ids {
        a.wait_status(id, "RUNNING", 60).await;
    }
    for (i, &id) in ids.iter().enumerate() {
        let ops = b.operations(id).await;
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0]["attempts"], 1, "operation claimed twice: {}", ops[0]);
        assert_eq!(count_named(&env, &format!("batch-{i}")), 1);
        let events = b.get(&format!("/api/v1/orgs/1/clusters/{id}/events")).await;
        let creates = events
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "cloud-cluster-created")
            .count();
        assert_eq!(creates, 1);
    }
    assert_eq!(env.inventory().0, 6);
    drop((a, b, api));
}

async fn create_without_worker(env: &Env, name: &str) -> (TestServer, i64) {
    let server = env.server(None).await;
    let secret = server.seed_secret().await;
    let id = server.seed_cluster(&secret, name).await;
    (server, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_creating_cluster_is_refused_unless_forced_and_then_leaves_nothing() {
    let env = Env::new(Db::Sqlite).await;
    let (server, id) = create_without_worker(&env, "early").await;
    let path = format!("/api/v1/orgs/1/clusters/{id}");
    let a = server.call("DELETE", &path, Some(ADMIN_TOKEN), None).await;
    assert_eq!((a.status, a.code()), (409, "cluster_busy"), "{a:?}");
    let a = server
        .call(
            "DELETE",
            &format!("{path}?force=true"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(a.status, 202, "{a:?}");
    let worker = env.server(Some(fast_worker("w"))).await;
    worker.wait_status(id, "DELETED", 30).await;
    let ops = worker.wait_ops_finished(id).await;
    let states: Vec<(&str, &str)> = ops
        .iter()
        .map(|o| (o["kind"].as_str().unwrap(), o["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("create-cluster", "failed"),
            ("delete-cluster", "succeeded")
        ]
    );
    assert_eq!(env.inventory(), (0, 0, 0));
    env.assert_no_orphans();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_force_delete_while_the_cloud_creates_deletes_what_the_create_made() {
    let env = Env::new(Db::Sqlite).await;
    let server = env.server(Some(fast_worker("w"))).await;
    let secret = server.seed_secret().await;
    let id = server.seed_cluster(&secret, "racing").await;
    // Wait until the cloud has the cluster, then force the delete.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count_named(&env, "racing") == 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let a = server
        .call(
            "DELETE",
            &format!("/api/v1/orgs/1/clusters/{id}?force=true"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert!(a.status == 202, "{a:?}");
    server.wait_status(id, "DELETED", 30).await;
    assert_eq!(env.inventory(), (0, 0, 0));
    env.assert_no_orphans();
}

fn out_of_stock() -> aliyun_emu::Config {
    let mut config = crate::support::config();
    config.settings.stock = vec![StockLimit {
        zone: "eu-central-1a".into(),
        instance_type: "ecs.sn1ne.large".into(),
        limit: 3,
    }];
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_create_deletes_what_it_made_and_says_why() {
    // Stock for the 3 masters but not for the worker: the cloud fails the cluster.
    let env = Env::with_emulator(Db::Sqlite, out_of_stock()).await;
    let server = env.server(Some(fast_worker("w"))).await;
    let secret = server.seed_secret().await;
    let id = server.seed_cluster(&secret, "no-stock").await;
    let c = server.wait_status(id, "ERROR", 30).await;
    let message = c["statusMessage"].as_str().unwrap();
    assert!(message.starts_with("creation failed:"), "{message}");
    assert!(message.contains("was deleted"), "{message}");
    // The cluster shows ERROR a moment before its operation is recorded as failed.
    let ops = server.wait_ops_finished(id).await;
    // Cleanup is asynchronous in the cloud; the operation waited for it to finish.
    assert_eq!(env.inventory(), (0, 0, 0));
    env.assert_no_orphans();
    assert_eq!(ops[0]["status"], "failed");
    assert!(ops[0]["lastError"].as_str().is_some_and(|e| !e.is_empty()));
    // The ERROR cluster deletes cleanly.
    let a = server
        .call(
            "DELETE",
            &format!("/api/v1/orgs/1/clusters/{id}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(a.status, 202);
    server.wait_status(id, "DELETED", 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_create_asked_to_keep_its_resources_keeps_them() {
    let env = Env::with_emulator(Db::Sqlite, out_of_stock()).await;
    let server = env.server(Some(fast_worker("w"))).await;
    let secret = server.seed_secret().await;
    let mut body: Value = serde_json::from_str(&seed_cluster_body(&secret, "kept")).unwrap();
    body["keepOnFailure"] = true.into();
    let a = server.post("/api/v1/orgs/1/clusters", &body).await;
    assert_eq!(a.status, 202, "{a:?}");
    let id = a.body["id"].as_i64().unwrap();
    let c = server.wait_status(id, "ERROR", 30).await;
    assert!(c["statusMessage"].as_str().unwrap().contains("kept"), "{c}");
    assert_eq!(count_named(&env, "kept"), 1);
    let a = server
        .call(
            "DELETE",
            &format!("/api/v1/orgs/1/clusters/{id}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(a.status, 202);
    server.wait_status(id, "DELETED", 30).await;
    assert_eq!(env.inventory(), (0, 0, 0));
    env.assert_no_orphans();
}
