//! Clusters, node pools and the event log.

use std::sync::Arc;

use serde_json::json;
use store::{
    ClusterId, ClusterStatus, Error, EventId, MasterKey, NewCluster, NewEvent, NewNodePool,
    NewSecret, OrgId, SecretType, SecretValues, Store,
};

use crate::harness::{TestDb, at};
use crate::on_both_backends;

on_both_backends! {
    a_cluster_is_created_with_its_node_pools_in_one_step => create_with_pools;
    cluster_names_are_unique_among_live_clusters_of_an_organization => unique_names;
    a_cluster_naming_an_unknown_secret_is_refused_and_nothing_is_written => unknown_secret;
    cluster_updates_are_compare_and_swap => cluster_cas;
    clusters_are_listed_in_pages => paging;
    a_secret_in_use_by_a_live_cluster_cannot_be_deleted => secret_in_use;
    node_pools_are_added_updated_and_deleted_by_revision => node_pools;
    the_event_log_is_read_in_order_after_a_position => events;
}

fn pool(name: &str, count: u32) -> NewNodePool {
    NewNodePool {
        name: name.to_owned(),
        spec: json!({"count": count, "instanceType": "ecs.sn1ne.large", "image": "centos_7"}),
        status: ClusterStatus::Creating,
    }
}

fn cluster(org: OrgId, name: &str) -> NewCluster {
    NewCluster {
        org_id: org,
        name: name.to_owned(),
        cloud: "alibaba".to_owned(),
        location: "eu-central-1".to_owned(),
        secret_id: None,
        spec: json!({"acsk": {"regionId": "eu-central-1", "zoneId": "eu-central-1a", "masterInstanceType": "ecs.sn1ne.large"}}),
        status: ClusterStatus::Creating,
        status_message: "waiting for the create operation".to_owned(),
        node_pools: vec![pool("pool1", 1)],
    }
}

async fn org(s: &Store, name: &str) -> OrgId {
    s.create_org(name, at(0)).await.expect("org").id
}

async fn create_with_pools(db: Arc<TestDb>) {
    let s = &db.store;
    let o = org(s, "o").await;
    let mut new = cluster(o, "alibabacluster-1");
    new.node_pools.push(pool("pool2", 3));
    let (c, pools) = s.create_cluster(new, at(1)).await.expect("create");
    assert_eq!(
        (c.status, c.revision, c.cloud_cluster_id.as_deref()),
        (ClusterStatus::Creating, 1, None)
    );
    assert_eq!(c.spec["acsk"]["zoneId"], "eu-central-1a");
    assert_eq!(
        pools.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        vec!["pool1", "pool2"]
    );
    assert_eq!(s.get_cluster(o, c.id).await.expect("get"), c);
    assert_eq!(
        s.find_cluster_by_name(o, "alibabacluster-1")
            .await
            .expect("by name")
            .id,
        c.id
    );
    assert_eq!(s.list_node_pools(c.id).await.expect("pools"), pools);

    // Two pools of one name: the whole cluster is refused, not half-written.
    let mut twice = cluster(o, "twice");
    twice.node_pools.push(pool("pool1", 2));
    assert!(matches!(
        s.create_cluster(twice, at(2)).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        s.find_cluster_by_name(o, "twice").await,
        Err(Error::NotFound { .. })
    ));
    let empty = NewCluster {
        node_pools: vec![pool("", 1)],
        ..cluster(o, "bad-pool")
    };
    let err = s.create_cluster(empty, at(2)).await;
    assert!(
        matches!(err, Err(Error::Invalid { ref field, .. }) if field == "nodePools[0].name"),
        "{err:?}"
    );
}

async fn unique_names(db: Arc<TestDb>) {
    let s = &db.store;
    let (a, b) = (org(s, "a").await, org(s, "b").await);
    let (c, _) = s
        .create_cluster(cluster(a, "prod"), at(1))
        .await
        .expect("create");
    assert!(matches!(
        s.create_cluster(cluster(a, "prod"), at(2)).await,
        Err(Error::Conflict { .. })
    ));
    s.create_cluster(cluster(b, "prod"), at(2))
        .await
        .expect("same name in another org");
    assert!(matches!(
        s.get_cluster(b, c.id).await,
        Err(Error::NotFound { .. })
    ));
    // Once deleted, the name is free again and the old record is still readable by id.
    let mut deleted = c.clone();
    deleted.status = ClusterStatus::Deleted;
    s.update_cluster(&deleted, at(3))
        .await
        .expect("mark deleted");
    let (again, _) = s
        .create_cluster(cluster(a, "prod"), at(4))
        .await
        .expect("reuse the name");
    assert_ne!(again.id, c.id);
    assert_eq!(
        s.get_cluster(a, c.id).await.expect("old record").status,
        ClusterStatus::Deleted
    );
    assert_eq!(
        s.find_cluster_by_name(a, "prod")
            .await
            .expect("live one")
            .id,
        again.id
    );
}

async fn unknown_secret(db: Arc<TestDb>) {
    let s = &db.store;
    let (a, b) = (org(s, "a").await, org(s, "b").await);
    let key = MasterKey::from_bytes([1; 32]);
    let secret = s
        .create_secret(
            b,
            NewSecret {
                name: "b-creds".into(),
                kind: SecretType::Generic,
                values: SecretValues::from_plain([("k", "v".to_owned())]),
                tags: vec![],
            },
            &key,
            at(0),
        )
        .await
        .expect("secret of b");
    let new = NewCluster {
        secret_id: Some(secret.id.clone()),
        ..cluster(a, "x")
    };
    let err = s.create_cluster(new, at(1)).await;
    assert!(
        matches!(err, Err(Error::Invalid { ref field, .. }) if field == "secretId"),
        "{err:?}"
    );
    assert!(
        s.list_clusters(a, None, 10)
            .await
            .expect("list")
            .clusters
            .is_empty()
    );
}

async fn cluster_cas(db: Arc<TestDb>) {
    let s = &db.store;
    let o = org(s, "o").await;
    let (c, _) = s
        .create_cluster(cluster(o, "c"), at(1))
        .await
        .expect("create");
    let mut running = c.clone();
    running.status = ClusterStatus::Running;
    running.status_message = "cluster is running".into();
    running.cloud_cluster_id = Some("c0123456789abcdef".into());
    running.cloud_ids.insert("vpcId".into(), "vpc-1".into());
    let written = s.update_cluster(&running, at(2)).await.expect("update");
    assert_eq!(
        (written.revision, written.status),
        (2, ClusterStatus::Running)
    );
    assert_eq!(
        written.cloud_ids.get("vpcId").map(String::as_str),
        Some("vpc-1")
    );
    assert_eq!(written.updated_at, at(2));
    // A second writer still holding revision 1 loses.
    let mut deleting = c.clone();
    deleting.status = ClusterStatus::Deleting;
    let err = s.update_cluster(&deleting, at(3)).await;
    assert!(matches!(err, Err(Error::Conflict { .. })), "{err:?}");
    assert_eq!(s.get_cluster(o, c.id).await.expect("get"), written);
    let ghost = store::Cluster {
        id: ClusterId(4242),
        ..written
    };
    assert!(matches!(
        s.update_cluster(&ghost, at(4)).await,
        Err(Error::NotFound { .. })
    ));
}

async fn paging(db: Arc<TestDb>) {
    let s = &db.store;
    let (o, other) = (org(s, "o").await, org(s, "other").await);
    for i in 0..25 {
        s.create_cluster(
            NewCluster {
                node_pools: vec![],
                ..cluster(o, &format!("c{i:02}"))
            },
            at(i),
        )
        .await
        .expect("create");
        if i % 5 == 0 {
            s.create_cluster(
                NewCluster {
                    node_pools: vec![],
                    ..cluster(other, &format!("x{i}"))
                },
                at(i),
            )
            .await
            .expect("create");
        }
    }
    let mut names = Vec::new();
    let mut sizes = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_clusters(o, after, 10).await.expect("page");
        sizes.push(page.clusters.len());
        names.extend(page.clusters.iter().map(|c| c.name.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(
        names,
        (0..25).map(|i| format!("c{i:02}")).collect::<Vec<_>>()
    );
    // Exactly a full last page has no next page.
    let first20 = s.list_clusters(o, None, 20).await.expect("page");
    let rest = s.list_clusters(o, first20.next, 5).await.expect("page");
    assert_eq!((rest.clusters.len(), rest.next), (5, None));
}

async fn secret_in_use(db: Arc<TestDb>) {
    let s = &db.store;
    let o = org(s, "o").await;
    let key = MasterKey::from_bytes([1; 32]);
    let secret = s
        .create_secret(
            o,
            NewSecret {
                name: "creds".into(),
                kind: SecretType::Alibaba,
                values: SecretValues::from_plain([
                    ("ALIBABA_ACCESS_KEY_ID", "id".to_owned()),
                    ("ALIBABA_ACCESS_KEY_SECRET", "secret".to_owned()),
                ]),
                tags: vec![],
            },
            &key,
            at(0),
        )
        .await
        .expect("secret");
    let (c, _) = s
        .create_cluster(
            NewCluster {
                secret_id: Some(secret.id.clone()),
                ..cluster(o, "c")
            },
            at(1),
        )
        .await
        .expect("cluster");
    assert_eq!(c.secret_id.as_ref(), Some(&secret.id));
    let err = s.delete_secret(o, &secret.id).await;
    assert!(matches!(err, Err(Error::Conflict { .. })), "{err:?}");
    let mut gone = c;
    gone.status = ClusterStatus::Deleted;
    s.update_cluster(&gone, at(2)).await.expect("deleted");
    s.delete_secret(o, &secret.id).await.expect("now it can go");
}

async fn node_pools(db: Arc<TestDb>) {
    let s = &db.store;
    let o = org(s, "o").await;
    let (c, _) = s
        .create_cluster(cluster(o, "c"), at(1))
        .await
        .expect("create");
    let p2 = s
        .add_node_pool(c.id, pool("pool2", 2), at(2))
        .await
        .expect("add");
    assert!(matches!(
        s.add_node_pool(c.id, pool("pool2", 1), at(2)).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        s.add_node_pool(ClusterId(999), pool("p", 1), at(2)).await,
        Err(Error::NotFound { .. })
    ));
    let mut scaled = p2.clone();
    scaled.spec["count"] = json!(5);
    scaled.status = ClusterStatus::Running;
    scaled
        .cloud_ids
        .insert("scalingGroupId".into(), "asg-1".into());
    let written = s.update_node_pool(&scaled, at(3)).await.expect("scale");
    assert_eq!(
        (written.revision, written.spec["count"].as_u64()),
        (2, Some(5))
    );
    assert!(matches!(
        s.update_node_pool(&p2, at(4)).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        s.delete_node_pool(c.id, "pool2", 1).await,
        Err(Error::Conflict { .. })
    ));
    s.delete_node_pool(c.id, "pool2", 2).await.expect("delete");
    assert!(matches!(
        s.get_node_pool(c.id, "pool2").await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(s.list_node_pools(c.id).await.expect("list").len(), 1);
}

async fn events(db: Arc<TestDb>) {
    let s = &db.store;
    let o = org(s, "o").await;
    let (c, _) = s
        .create_cluster(cluster(o, "c"), at(1))
        .await
        .expect("create");
    let mut ids = Vec::new();
    for (i, step) in ["create-vpc", "create-cluster", "wait-running"]
        .iter()
        .enumerate()
    {
        let e = s
            .append_event(
                c.id,
                NewEvent {
                    kind: "step".into(),
                    message: format!("{step} done"),
                    operation_id: None,
                    data: json!({"step": step}),
                },
                at(10 + i as i64),
            )
            .await
            .expect("append");
        ids.push(e.id);
    }
    let all = s.list_events(c.id, None, 100).await.expect("list");
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    assert_eq!(all[2].data["step"], "wait-running");
    assert_eq!(all[0].at, at(10));
    let rest = s.list_events(c.id, Some(ids[0]), 100).await.expect("after");
    assert_eq!(rest.len(), 2);
    assert_eq!(
        s.list_events(c.id, Some(ids[0]), 1)
            .await
            .expect("limit")
            .len(),
        1
    );
    let missing = s
        .append_event(
            ClusterId(999),
            NewEvent {
                kind: "step".into(),
                message: String::new(),
                operation_id: None,
                data: json!({}),
            },
            at(20),
        )
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
    assert!(
        s.list_events(c.id, Some(EventId(i64::MAX - 1)), 10)
            .await
            .expect("none")
            .is_empty()
    );
}
