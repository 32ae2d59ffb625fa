//! Durable operations: claiming with row leases, compare-and-swap progress, takeover.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use store::{Error, NewOperation, OperationId, OperationStatus, Outcome, Progress, Store};

use crate::harness::{TestDb, at};
use crate::on_both_backends;

on_both_backends! {
    an_operation_is_claimed_advanced_and_finished => lifecycle;
    a_leased_operation_is_not_claimed_again_until_the_lease_expires => lease_blocks;
    an_expired_lease_is_taken_over_and_the_old_runner_is_fenced_off => takeover;
    a_released_operation_waits_for_its_retry_time => release_and_backoff;
    concurrent_claimers_on_separate_pools_never_share_an_operation => concurrent_claims;
    renewing_keeps_the_lease_and_fails_once_it_was_taken => renewal;
}

const LEASE: Duration = Duration::from_secs(30);

fn new_op(kind: &str) -> NewOperation {
    NewOperation {
        cluster_id: None,
        kind: kind.to_owned(),
        step: "start".to_owned(),
        state: json!({"inputs": kind}),
    }
}

async fn lifecycle(db: Arc<TestDb>) {
    let s = &db.store;
    let created = s
        .create_operation(new_op("create-cluster"), at(0))
        .await
        .expect("create");
    assert_eq!(
        (created.status, created.attempts, created.revision),
        (OperationStatus::Pending, 0, 1)
    );
    let op = s
        .claim_next("replica-a", LEASE, at(1))
        .await
        .expect("claim")
        .expect("one runnable");
    assert_eq!(op.id, created.id);
    assert_eq!(
        (op.status, op.attempts, op.lease_owner.as_deref()),
        (OperationStatus::Running, 1, Some("replica-a"))
    );
    assert_eq!(op.lease_until, Some(at(31)));

    let op = s
        .save_progress(
            &op,
            Progress {
                step: "wait-running".into(),
                state: json!({"ackClusterId": "c123"}),
                last_error: None,
            },
            at(2),
        )
        .await
        .expect("progress");
    assert_eq!(
        (op.step.as_str(), op.state["ackClusterId"].as_str()),
        ("wait-running", Some("c123"))
    );
    let done = s
        .finish(&op, Outcome::Succeeded, at(3))
        .await
        .expect("finish");
    assert_eq!(
        (done.status, done.lease_owner.clone(), done.lease_until),
        (OperationStatus::Succeeded, None, None)
    );
    assert_eq!(
        s.claim_next("replica-a", LEASE, at(100))
            .await
            .expect("claim"),
        None
    );
    let again = s
        .finish(
            &done,
            Outcome::Failed {
                error: "late".into(),
            },
            at(4),
        )
        .await;
    assert!(
        matches!(again, Err(Error::Conflict { ref what }) if what.contains("already succeeded")),
        "{again:?}"
    );
    assert_eq!(s.get_operation(op.id).await.expect("get"), done);
    assert!(matches!(
        s.get_operation(OperationId(999)).await,
        Err(Error::NotFound { .. })
    ));

    let failing = s
        .create_operation(new_op("delete-cluster"), at(5))
        .await
        .expect("create");
    let claimed = s
        .claim_next("replica-a", LEASE, at(5))
        .await
        .expect("claim")
        .expect("runnable");
    assert_eq!(claimed.id, failing.id);
    let failed = s
        .finish(
            &claimed,
            Outcome::Failed {
                error: "quota exceeded".into(),
            },
            at(6),
        )
        .await
        .expect("fail");
    assert_eq!(
        (failed.status, failed.last_error.as_deref()),
        (OperationStatus::Failed, Some("quota exceeded"))
    );
}

async fn lease_blocks(db: Arc<TestDb>) {
    let s = &db.store;
    let first = s.create_operation(new_op("a"), at(0)).await.expect("a");
    let second = s.create_operation(new_op("b"), at(0)).await.expect("b");
    let one = s
        .claim_next("r1", LEASE, at(1))
        .await
        .expect("claim")
        .expect("first");
    let two = s
        .claim_next("r2", LEASE, at(1))
        .await
        .expect("claim")
        .expect("second");
    assert_eq!(
        (one.id, two.id),
        (first.id, second.id),
        "oldest first, and each only once"
    );
    assert_eq!(
        s.claim_next("r3", LEASE, at(30)).await.expect("claim"),
        None
    );
}

async fn takeover(db: Arc<TestDb>) {
    let s = &db.store;
    s.create_operation(new_op("create-cluster"), at(0))
        .await
        .expect("create");
    let by_a = s
        .claim_next("replica-a", LEASE, at(0))
        .await
        .expect("claim")
        .expect("runnable");
    let a_progress = s
        .save_progress(
            &by_a,
            Progress {
                step: "create-vpc".into(),
                state: json!({"vpcId": "vpc-1"}),
                last_error: None,
            },
            at(5),
        )
        .await
        .expect("progress");
    // replica-a dies. Before its lease ends, nobody may take the operation…
    assert_eq!(
        s.claim_next("replica-b", LEASE, at(29))
            .await
            .expect("claim"),
        None
    );
    // …after it, replica-b resumes from the saved step and state.
    let by_b = s
        .claim_next("replica-b", LEASE, at(30))
        .await
        .expect("claim")
        .expect("expired lease");
    assert_eq!(
        (by_b.id, by_b.attempts, by_b.step.as_str()),
        (by_a.id, 2, "create-vpc")
    );
    assert_eq!(by_b.state["vpcId"], "vpc-1");
    assert_eq!(by_b.lease_owner.as_deref(), Some("replica-b"));
    // replica-a was only paused, and now tries to write: it must fail rather than clobber b.
    let late = s
        .save_progress(
            &a_progress,
            Progress {
                step: "create-cluster".into(),
                state: json!({}),
                last_error: None,
            },
            at(31),
        )
        .await;
    match late {
        Err(Error::Conflict { what }) => assert!(what.contains("taken over"), "{what}"),
        other => panic!("the old runner must be fenced off, got {other:?}"),
    }
    assert!(matches!(
        s.finish(&a_progress, Outcome::Succeeded, at(31)).await,
        Err(Error::Conflict { .. })
    ));
    s.finish(&by_b, Outcome::Succeeded, at(32))
        .await
        .expect("b finishes");
}

async fn release_and_backoff(db: Arc<TestDb>) {
    let s = &db.store;
    s.create_operation(new_op("scale-node-pool"), at(0))
        .await
        .expect("create");
    let op = s
        .claim_next("r", LEASE, at(0))
        .await
        .expect("claim")
        .expect("runnable");
    let released = s
        .release(&op, Some("Throttling.User"), at(60), at(1))
        .await
        .expect("release");
    assert_eq!(
        (released.status, released.lease_owner.clone()),
        (OperationStatus::Pending, None)
    );
    assert_eq!(released.last_error.as_deref(), Some("Throttling.User"));
    assert_eq!(s.claim_next("r", LEASE, at(59)).await.expect("claim"), None);
    let again = s
        .claim_next("r", LEASE, at(60))
        .await
        .expect("claim")
        .expect("due");
    assert_eq!((again.id, again.attempts), (op.id, 2));
}

async fn renewal(db: Arc<TestDb>) {
    let s = &db.store;
    s.create_operation(new_op("create-cluster"), at(0))
        .await
        .expect("create");
    let op = s
        .claim_next("a", LEASE, at(0))
        .await
        .expect("claim")
        .expect("runnable");
    let op = s.renew_lease(&op, "a", LEASE, at(20)).await.expect("renew");
    assert_eq!(op.lease_until, Some(at(50)));
    assert_eq!(
        s.claim_next("b", LEASE, at(40)).await.expect("claim"),
        None,
        "the renewed lease holds"
    );
    let wrong_owner = s.renew_lease(&op, "b", LEASE, at(41)).await;
    assert!(
        matches!(wrong_owner, Err(Error::Conflict { .. })),
        "{wrong_owner:?}"
    );
    let taken = s
        .claim_next("b", LEASE, at(50))
        .await
        .expect("claim")
        .expect("expired");
    assert_eq!(taken.lease_owner.as_deref(), Some("b"));
    assert!(matches!(
        s.renew_lease(&op, "a", LEASE, at(51)).await,
        Err(Error::Conflict { .. })
    ));
}

async fn concurrent_claims(db: Arc<TestDb>) {
    const OPERATIONS: usize = 60;
    const CLAIMERS: usize = 6;
    for i in 0..OPERATIONS {
        db.store
            .create_operation(new_op(&format!("op-{i}")), at(0))
            .await
            .expect("create");
    }
    let mut stores: Vec<Store> = Vec::new();
    for _ in 0..CLAIMERS {
        stores.push(db.open_another().await);
    }
    // Every claimer uses the same clock reading, inside every lease: an operation claimed
    // twice would mean two owners at once.
    let mut tasks = Vec::new();
    for (n, store) in stores.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let owner = format!("claimer-{n}");
            let mut mine = Vec::new();
            while let Some(op) = store
                .claim_next(&owner, Duration::from_secs(600), at(1))
                .await
                .expect("claim")
            {
                assert_eq!(op.lease_owner.as_deref(), Some(owner.as_str()));
                // Work a little so claims interleave, then record progress under the lease.
                tokio::task::yield_now().await;
                let op = store
                    .save_progress(
                        &op,
                        Progress {
                            step: "done".into(),
                            state: json!({"by": owner}),
                            last_error: None,
                        },
                        at(2),
                    )
                    .await
                    .expect("only the owner writes, so its compare-and-swap cannot fail");
                mine.push(op.id);
            }
            store.close().await;
            (owner, mine)
        }));
    }
    let mut owner_of: BTreeMap<OperationId, String> = BTreeMap::new();
    let mut per_claimer = Vec::new();
    for task in tasks {
        let (owner, mine) = task.await.expect("claimer task");
        per_claimer.push(mine.len());
        for id in mine {
            if let Some(previous) = owner_of.insert(id, owner.clone()) {
                panic!("operation {id} was claimed by {previous} and by {owner}");
            }
        }
    }
    assert_eq!(
        owner_of.len(),
        OPERATIONS,
        "every operation claimed once: {per_claimer:?}"
    );
    let ids: BTreeSet<_> = owner_of.keys().copied().collect();
    assert_eq!(ids.len(), OPERATIONS);
    for (id, owner) in &owner_of {
        let op = db.store.get_operation(*id).await.expect("get");
        assert_eq!(
            (op.attempts, op.lease_owner.as_deref()),
            (1, Some(owner.as_str()))
        );
        assert_eq!(op.state["by"], owner.as_str());
    }
    assert!(
        per_claimer.iter().filter(|n| **n > 0).count() > 1,
        "claims were spread over claimers: {per_claimer:?}"
    );
}
