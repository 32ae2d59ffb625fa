//! `ackctl server` through HTTP: seed 000's walkthrough (secret, cluster, kubeconfig, delete)
//! against the emulator, bad input, roles and organisations, secrets at rest, node pools.

use std::time::Duration;

use serde_json::{Value, json};

use crate::server_harness::{ADMIN_TOKEN, Db, Env, fast_worker, seed_cluster_body};
use crate::server_test_on_both;

server_test_on_both! {
    seed_000_walkthrough_creates_a_running_cluster_serves_its_kubeconfig_and_deletes_it_cleanly => seed_walkthrough;
    members_cannot_read_secrets_or_kubeconfigs_and_other_organisations_are_invisible => roles_and_orgs;
}

async fn seed_walkthrough(db: Db) {
    let env = Env::new(db).await;
    let server = env.server(Some(fast_worker("w1"))).await;

    let secret = server.seed_secret().await;
    assert_eq!(secret.len(), 32, "{secret}");
    let name = format!("alibabacluster-jdoe-{}", rand::random::<u16>());
    let id = server.seed_cluster(&secret, &name).await;

    let cluster = server.wait_status(id, "RUNNING", 30).await;
    assert_eq!(cluster["name"], name.as_str());
    assert_eq!(cluster["location"], "eu-central-1");
    assert_eq!(cluster["masters"]["count"], 3);
    let cloud_id = cluster["cloudClusterId"]
        .as_str()
        .expect("cloud id")
        .to_owned();
    assert_eq!(cluster["nodePools"]["pool1"]["count"], 1);
    assert_eq!(cluster["nodePools"]["pool1"]["status"], "RUNNING");
    assert!(
        cluster["nodePools"]["pool1"]["cloudId"]
            .as_str()
            .is_some_and(|s| s.starts_with("np")),
        "{cluster}"
    );
    // The cloud has exactly the seed's cluster: 3 masters and 1 worker.
    let world = env.emulator.snapshot();
    assert_eq!(world.clusters.clusters.len(), 1);
    assert_eq!(world.instances.len(), 4, "3 masters + 1 worker");

    // GET …/config exactly as the seed's curl (Accept: */*): the kubeconfig document itself.
    let config = server
        .call(
            "GET",
            &format!("/api/v1/orgs/1/clusters/{id}/config"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(config.status, 200, "{config:?}");
    let kubeconfig = config.text.clone();
    assert!(kubeconfig.contains("apiVersion: v1"), "{kubeconfig}");
    assert!(kubeconfig.contains("kind: Config"), "{kubeconfig}");
    let server_line = kubeconfig
        .lines()
        .find(|l| l.trim_start().starts_with("server:"))
        .expect("a server: line");
    assert!(
        server_line.contains(&format!("/kube/{cloud_id}")),
        "{server_line}"
    );
    let host = env.emulator_url.trim_start_matches("http://");
    assert!(
        server_line.contains(host.split(':').next().unwrap()),
        "{server_line}"
    );
    kubectl_sees_the_seed_nodes(&kubeconfig).await;

    // Pipeline's JSON form when only JSON is accepted.
    let json_config = server
        .http
        .get(format!("{}/api/v1/orgs/1/clusters/{id}/config", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(json_config["status"], 200);
    assert_eq!(json_config["data"].as_str(), Some(kubeconfig.as_str()));

    // The cluster list shows it with status and message.
    let list = server.get("/api/v1/orgs/1/clusters").await;
    assert_eq!(list.body["clusters"][0]["status"], "RUNNING");
    assert_eq!(list.body["clusters"][0]["nodePools"]["pool1"]["count"], 1);
    assert_eq!(
        list.body["clusters"][0]["statusMessage"],
        "cluster is running"
    );

    let deleted = server
        .call(
            "DELETE",
            &format!("/api/v1/orgs/1/clusters/{id}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(deleted.status, 202, "{deleted:?}");
    server.wait_status(id, "DELETED", 30).await;
    assert_eq!(
        env.inventory(),
        (0, 0, 0),
        "the emulator's inventory is empty"
    );
    env.assert_no_orphans();

    let ops = server.wait_ops_finished(id).await;
    let kinds: Vec<(&str, &str, i64)> = ops
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap(),
                o["status"].as_str().unwrap(),
                o["attempts"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("create-cluster", "succeeded", 1),
            ("delete-cluster", "succeeded", 1)
        ]
    );
    let events = server
        .get(&format!("/api/v1/orgs/1/clusters/{id}/events"))
        .await;
    let kinds: Vec<&str> = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "create-requested",
            "cloud-cluster-created",
            "cluster-running",
            "delete-requested",
            "cloud-delete-started",
            "cluster-deleted"
        ]
    );
    // A deleted cluster's name can be used again.
    assert!(
        server.get("/api/v1/orgs/1/clusters").await.body["clusters"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// Runs the real kubectl with the served kubeconfig against the emulator's Kubernetes API of the
/// cluster: as in the seed, 3 masters and 1 worker, all Ready, named `<region>.<instance-id>`.
async fn kubectl_sees_the_seed_nodes(kubeconfig: &str) {
    // Answering at all means the kubeconfig's server serves the cluster's API with its token.
    let text = crate::kubectl::Kubectl::new(kubeconfig)
        .ok(&["get", "nodes", "--no-headers"])
        .await;
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(rows.iter().all(|r| r[1] == "Ready"), "{text}");
    assert_eq!(
        rows.iter()
            .filter(|r| r[2].contains("master") || r[2].contains("control-plane"))
            .count(),
        3,
        "{text}"
    );
    eprintln!("kubectl get nodes with the served kubeconfig:\n{text}");
    assert!(
        rows.iter().all(|r| r[0].starts_with("eu-central-1.i-")),
        "{text}"
    );
}

async fn roles_and_orgs(db: Db) {
    let env = Env::new(db).await;
    let server = env.server(Some(fast_worker("w1"))).await;
    let secret = server.seed_secret().await;
    let id = server.seed_cluster(&secret, "roles").await;
    server.wait_status(id, "RUNNING", 30).await;

    let member = server
        .post(
            "/api/v1/orgs/1/users",
            &json!({"login": "bob", "role": "member"}),
        )
        .await;
    assert_eq!(member.status, 201, "{member:?}");
    let bob = member.body["token"].as_str().unwrap().to_owned();

    // Members read clusters, not secrets nor kubeconfigs, and change nothing.
    let as_bob = |m: &'static str, p: String| {
        let bob = bob.clone();
        let s = &server;
        async move { s.call(m, &p, Some(&bob), None).await }
    };
    assert_eq!(
        as_bob("GET", "/api/v1/orgs/1/clusters".into()).await.status,
        200
    );
    for (method, path) in [
        ("GET", "/api/v1/orgs/1/secrets".to_owned()),
        ("GET", format!("/api/v1/orgs/1/secrets/{secret}")),
        ("GET", format!("/api/v1/orgs/1/clusters/{id}/config")),
        ("DELETE", format!("/api/v1/orgs/1/clusters/{id}")),
    ] {
        let a = as_bob(method, path.clone()).await;
        assert_eq!(
            (a.status, a.code()),
            (403, "forbidden"),
            "{method} {path}: {a:?}"
        );
    }

    // An admin may see values only when asking for them.
    let plain = server
        .get(&format!("/api/v1/orgs/1/secrets/{secret}"))
        .await;
    assert!(plain.body.get("values").is_none(), "{plain:?}");
    let shown = server
        .get(&format!("/api/v1/orgs/1/secrets/{secret}?values=true"))
        .await;
    assert_eq!(
        shown.body["values"]["ALIBABA_ACCESS_KEY_ID"],
        crate::support::KEY_ID
    );

    // Another organisation's resources are 404 to bob, who is not in it.
    let org2 = server.post("/api/v1/orgs", &json!({"name": "other"})).await;
    assert_eq!(org2.status, 201, "{org2:?}");
    let org2 = org2.body["id"].as_i64().unwrap();
    for path in [
        format!("/api/v1/orgs/{org2}"),
        format!("/api/v1/orgs/{org2}/clusters"),
        format!("/api/v1/orgs/{org2}/secrets"),
        format!("/api/v1/orgs/{org2}/clusters/{id}"),
    ] {
        let a = as_bob("GET", path.clone()).await;
        assert_eq!((a.status, a.code()), (404, "not_found"), "{path}: {a:?}");
    }
    // The cluster of org 1 is not reachable through org 2's path, even for its admin.
    let a = server
        .get(&format!("/api/v1/orgs/{org2}/clusters/{id}"))
        .await;
    assert_eq!(a.status, 404);

    // Tokens: a new one works, revoked it is 401; none at all is 401.
    let t = server.post("/api/v1/tokens", &json!({"name": "ci"})).await;
    assert_eq!(t.status, 201, "{t:?}");
    let token = t.body["token"].as_str().unwrap().to_owned();
    let token_id = t.body["id"].as_i64().unwrap();
    assert_eq!(
        server
            .call("GET", "/api/v1/orgs", Some(&token), None)
            .await
            .status,
        200
    );
    let revoked = server
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{token_id}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let a = server.call("GET", "/api/v1/orgs", Some(&token), None).await;
    assert_eq!((a.status, a.code()), (401, "unauthenticated"));
    let a = server
        .call("GET", "/api/v1/orgs/1/clusters", None, None)
        .await;
    assert_eq!((a.status, a.code()), (401, "unauthenticated"));
    assert!(a.body["requestId"].as_str().is_some_and(|r| !r.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_a_4xx_naming_the_field_and_creates_nothing() {
    let env = Env::new(Db::Sqlite).await;
    let server = env.server(Some(fast_worker("w1"))).await;
    let secret = server.seed_secret().await;
    let ssh = server
        .post(
            "/api/v1/orgs/1/secrets",
            &json!({"name": "key", "type": "ssh", "values": {
                "user": "root", "identifier": "k", "public_key_data": "ssh-ed25519 AAAA",
                "public_key_fingerprint": "SHA256:x", "private_key_data": "-----BEGIN-----"}}),
        )
        .await;
    assert_eq!(ssh.status, 201, "{ssh:?}");
    let ssh = ssh.body["id"].as_str().unwrap().to_owned();
    let seed: Value = serde_json::from_str(&seed_cluster_body(&secret, "bad")).unwrap();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut v = seed.clone();
        edit(&mut v);
        v.to_string()
    };
    let cases: Vec<(String, u16, &str, &str)> = vec![
        ("{\"name\": ".into(), 400, "malformed_body", ""),
        (
            with(&|v| {
                v.as_object_mut().unwrap().remove("name");
            }),
            400,
            "invalid_field",
            "name",
        ),
        (
            with(&|v| v["cloud"] = "amazon".into()),
            400,
            "invalid_field",
            "cloud",
        ),
        (
            with(&|v| v["secretId"] = ssh.clone().into()),
            400,
            "invalid_field",
            "secretId",
        ),
        (
            with(&|v| v["secretId"] = "0123456789abcdef0123456789abcdef".into()),
            400,
            "invalid_field",
            "secretId",
        ),
        (
            with(&|v| {
                v["properties"]["acsk"]["nodePools"]["pool1"]["instanceType"] = "ecs.g9.huge".into()
            }),
            400,
            "invalid_field",
            "properties.acsk.nodePools.pool1.instanceType",
        ),
        (
            with(&|v| v["properties"]["acsk"]["zoneId"] = "eu-central-1z".into()),
            400,
            "invalid_field",
            "properties.acsk.zoneId",
        ),
        (
            with(&|v| {
                v["properties"]["acsk"]
                    .as_object_mut()
                    .unwrap()
                    .remove("regionId");
            }),
            400,
            "invalid_field",
            "properties.acsk.regionId",
        ),
        (
            with(&|v| v["properties"]["acsk"]["nodePools"]["pool1"]["count"] = "one".into()),
            400,
            "invalid_field",
            "properties.acsk.nodePools.pool1.count",
        ),
    ];
    for (body, status, code, field) in cases {
        let a = server
            .call(
                "POST",
                "/api/v1/orgs/1/clusters",
                Some(ADMIN_TOKEN),
                Some(&body),
            )
            .await;
        assert_eq!(
            (a.status, a.code(), a.field()),
            (status, code, field),
            "{body}: {a:?}"
        );
        assert!(a.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Unknown organisation.
    let a = server
        .call(
            "POST",
            "/api/v1/orgs/42/clusters",
            Some(ADMIN_TOKEN),
            Some(&seed.to_string()),
        )
        .await;
    assert_eq!((a.status, a.code()), (404, "not_found"), "{a:?}");
    // Secrets: a missing field, an unknown type, and a key the cloud refuses.
    let a = server
        .post(
            "/api/v1/orgs/1/secrets",
            &json!({"name": "s", "type": "alibaba", "values": {"ALIBABA_ACCESS_KEY_ID": "x"}}),
        )
        .await;
    assert_eq!(
        (a.status, a.field()),
        (400, "values.ALIBABA_ACCESS_KEY_SECRET"),
        "{a:?}"
    );
    let a = server
        .post(
            "/api/v1/orgs/1/secrets",
            &json!({"name": "s", "type": "amazon", "values": {"a": "b"}}),
        )
        .await;
    assert_eq!((a.status, a.field()), (400, "type"), "{a:?}");
    let a = server
        .post(
            "/api/v1/orgs/1/secrets",
            &json!({"name": "s", "type": "alibaba", "values": {
            "ALIBABA_ACCESS_KEY_ID": "wrong", "ALIBABA_ACCESS_KEY_SECRET": "wrong"}}),
        )
        .await;
    assert_eq!((a.status, a.code()), (400, "credentials_rejected"), "{a:?}");

    // Nothing was created anywhere.
    let list = server.get("/api/v1/orgs/1/clusters").await;
    assert_eq!(list.body["clusters"], json!([]));
    let secrets = server.get("/api/v1/orgs/1/secrets").await;
    assert_eq!(
        secrets.body.as_array().map(Vec::len),
        Some(2),
        "only the two good secrets"
    );
    assert_eq!(env.inventory(), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_value_is_stored_in_plain_text() {
    let env = Env::new(Db::Sqlite).await;
    let server = env.server(None).await;
    let marker = "plaintext-marker-7f3a9c1e";
    let a = server
        .post(
            "/api/v1/orgs/1/secrets",
            &json!({"name": "g", "type": "generic", "values": {"token": marker}}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    server.running.app.store.close().await;
    for entry in std::fs::read_dir(env.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains("ackctl.db") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
                "{} holds the secret in plain text",
                path.display()
            );
        }
    }
    // The key file and the generated files are private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.dir.path().join("master.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_empty_database_bootstraps_org_1_and_writes_the_admin_token_to_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = server::Server::open(server::ServerConfig {
        worker: None,
        ..server::ServerConfig::new(dir.path())
    })
    .await
    .unwrap();
    let boot = server.bootstrap().clone();
    assert!(boot.created);
    assert_eq!(boot.org_id.0, 1);
    let path = boot.token_file.clone().expect("a token file");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let token = std::fs::read_to_string(&path).unwrap().trim().to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = server.spawn(listener).unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let orgs: Value = http
        .get(format!("{}/api/v1/orgs", running.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orgs, json!([{"id": 1, "name": "default", "role": "admin"}]));
    running.stop();
    // A second start finds the organisation and creates nothing.
    let again = server::Server::open(server::ServerConfig {
        worker: None,
        ..server::ServerConfig::new(dir.path())
    })
    .await
    .unwrap();
    assert!(!again.bootstrap().created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_metrics_and_openapi_are_served() {
    let env = Env::new(Db::Sqlite).await;
    let server = env.server(None).await;
    let h = server.call("GET", "/healthz", None, None).await;
    assert_eq!((h.status, h.text.as_str()), (200, "ok"));
    server.get("/api/v1/orgs").await;
    let m = server.call("GET", "/metrics", None, None).await;
    assert!(
        m.text.contains(
            r#"ackctl_http_requests_total{method="GET",route="/api/v1/orgs",status="200"} 1"#
        ),
        "{}",
        m.text
    );
    let o = server.call("GET", "/openapi.json", None, None).await;
    assert_eq!(o.body["openapi"], "3.1.0");
    let missing = server.get("/api/v1/nothing").await;
    assert_eq!((missing.status, missing.code()), (404, "not_found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_pools_are_added_resized_and_deleted_through_operations() {
    let env = Env::new(Db::Sqlite).await;
    let server = env.server(Some(fast_worker("w1"))).await;
    let secret = server.seed_secret().await;
    let id = server.seed_cluster(&secret, "pools").await;
    server.wait_status(id, "RUNNING", 30).await;
    let pools = format!("/api/v1/orgs/1/clusters/{id}/nodepools");

    let a = server
        .post(
            &pools,
            &json!({"name": "pool2", "count": 2, "instanceType": "ecs.g7.large",
                                "labels": {"team": "a"}}),
        )
        .await;
    assert_eq!(a.status, 202, "{a:?}");
    let c = wait_pool(&server, id, "pool2", "RUNNING").await;
    assert_eq!(c["nodePools"]["pool2"]["count"], 2);
    assert_eq!(env.inventory().1, 4 + 2);

    let a = server
        .call(
            "PUT",
            &format!("{pools}/pool2"),
            Some(ADMIN_TOKEN),
            Some(r#"{"count": 3}"#),
        )
        .await;
    assert_eq!(a.status, 202, "{a:?}");
    wait_pool(&server, id, "pool2", "RUNNING").await;
    assert_eq!(env.inventory().1, 4 + 3);
    let bad = server
        .call(
            "PUT",
            &format!("{pools}/pool2"),
            Some(ADMIN_TOKEN),
            Some(r#"{"count": 5, "maxCount": 4}"#),
        )
        .await;
    assert_eq!((bad.status, bad.field()), (400, "count"), "{bad:?}");

    let a = server
        .call("DELETE", &format!("{pools}/pool2"), Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(a.status, 202, "{a:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let c = server
            .get(&format!("/api/v1/orgs/1/clusters/{id}"))
            .await
            .body;
        if c["nodePools"].get("pool2").is_none() && c["status"] == "RUNNING" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{c}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(env.inventory().1, 4);
    env.assert_no_orphans();
}

async fn wait_pool(
    server: &crate::server_harness::TestServer,
    id: i64,
    pool: &str,
    status: &str,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let c = server
            .get(&format!("/api/v1/orgs/1/clusters/{id}"))
            .await
            .body;
        if c["nodePools"][pool]["status"] == status && c["status"] == "RUNNING" {
            return c;
        }
        assert!(tokio::time::Instant::now() < deadline, "{c}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotating_the_master_key_keeps_every_secret_readable() {
    let env = Env::new(Db::Sqlite).await;
    let server = env.server(None).await;
    let id = server.seed_secret().await;
    let old_key = std::fs::read_to_string(env.dir.path().join("master.key")).unwrap();
    server.running.stop();
    let (new_id, moved) = server::rotate_master_key(env.dir.path(), Some(&env.db.url))
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let new_key = std::fs::read_to_string(env.dir.path().join("master.key")).unwrap();
    assert_ne!(old_key, new_key);
    let again = env.server(None).await;
    let shown = again
        .get(&format!("/api/v1/orgs/1/secrets/{id}?values=true"))
        .await;
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_eq!(
        shown.body["values"]["ALIBABA_ACCESS_KEY_SECRET"],
        crate::support::KEY_SECRET
    );
    assert_eq!(shown.body["version"], 2);
    assert!(!new_id.is_empty());
    // The old key is kept beside the new one, private.
    let kept: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".old"))
        .collect();
    assert_eq!(kept.len(), 1);
}
