//! The Kubernetes API of emulated ACK clusters, through the kubeconfig that
//! DescribeClusterUserKubeconfig returns, with the real kubectl as the client.

use crate::emulator_cs::{managed, pool, wait_for_state};
use crate::kubectl::Kubectl;
use crate::support::{client, config, start};
use aliyun::Client;
use std::time::Duration;

/// Creates a managed cluster with one pool of `workers` nodes and waits until it runs.
async fn running_cluster(client: &Client, name: &str, workers: u32) -> String {
    let created = client
        .cs()
        .create_cluster(&managed(name, vec![pool("pool1", workers)]))
        .await
        .unwrap();
    wait_for_state(client, &created.cluster_id, "running").await;
    created.cluster_id
}

async fn kubeconfig(client: &Client, cluster_id: &str) -> String {
    client
        .cs()
        .describe_cluster_user_kubeconfig(cluster_id, false, None)
        .await
        .unwrap()
        .config
}

#[tokio::test]
async fn kubectl_reaches_the_cluster_over_https_with_the_kubeconfig_and_not_without_its_token() {
    let (_emulator, url) = start(config()).await;
    let client = client(&url);
    let cluster_id = running_cluster(&client, "kube-auth", 1).await;
    let config = kubeconfig(&client, &cluster_id).await;
    assert!(config.contains(&format!("server: https://{}/kube/{cluster_id}", &url[7..])));
    assert!(config.contains("certificate-authority-data: "));

    let kubectl = Kubectl::new(&config);
    let version = kubectl.ok(&["version", "-o", "json"]).await;
    assert!(version.contains("\"serverVersion\""), "{version}");
    kubectl.ok(&["get", "namespaces"]).await;

    // The same server with the token taken away (and one with a wrong token) is refused.
    let token_line = config
        .lines()
        .find(|l| l.trim_start().starts_with("token: "))
        .unwrap()
        .to_owned();
    let wrong = Kubectl::new(&config.replace(&token_line, "    token: not-the-token"));
    let out = wrong.run(&["get", "namespaces"]).await;
    assert!(
        !out.success && out.stderr.contains("must be logged in"),
        "{out:?}"
    );
    // Without any credentials kubectl asks for a user name on standard input, which is closed.
    let anonymous = Kubectl::new(&config.replace(&token_line, ""));
    assert!(!anonymous.run(&["get", "namespaces"]).await.success);
}

#[tokio::test]
async fn each_cluster_has_its_own_api_and_a_deleted_cluster_has_none() {
    let (emulator, url) = start(config()).await;
    let client = client(&url);
    let first = running_cluster(&client, "kube-one", 1).await;
    let second = running_cluster(&client, "kube-two", 1).await;
    let (one, two) = (
        Kubectl::new(&kubeconfig(&client, &first).await),
        Kubectl::new(&kubeconfig(&client, &second).await),
    );
    one.ok(&["create", "configmap", "only-in-one", "--from-literal=k=v"])
        .await;
    assert!(
        one.ok(&["get", "configmap", "only-in-one"])
            .await
            .contains("only-in-one")
    );
    let missing = two.run(&["get", "configmap", "only-in-one"]).await;
    assert!(
        !missing.success && missing.stderr.contains("NotFound"),
        "{missing:?}"
    );

    // One cluster's token does not open the other.
    let crossed = Kubectl::new(&kubeconfig(&client, &first).await.replace(&first, &second));
    assert!(!crossed.run(&["get", "namespaces"]).await.success);

    client
        .cs()
        .delete_cluster(&first, &Default::default())
        .await
        .unwrap();
    assert!(emulator.kube_api(&first).is_none());
    assert!(emulator.kube_api(&second).is_some());
    let gone = one.run(&["get", "namespaces"]).await;
    assert!(!gone.success);
}

/// Polls kubectl until `check` accepts its output.
async fn eventually(kubectl: &Kubectl, args: &[&str], check: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let out = kubectl.run(args).await;
        if out.success && check(&out.stdout) {
            return out.stdout;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "kubectl {args:?} never satisfied the check; last output:\n{}\n{}",
            out.stdout,
            out.stderr
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `STATUS` column of `kubectl get nodes --no-headers`, by node name.
fn node_states(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            Some((cols.next()?.to_owned(), cols.next()?.to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn nodes_follow_the_clusters_instances_and_kubectl_generators_run_workloads_on_them() {
    let (_emulator, url) = start(config()).await;
    let client = client(&url);
    let cluster_id = running_cluster(&client, "kube-nodes", 2).await;
    let kubectl = Kubectl::new(&kubeconfig(&client, &cluster_id).await);

    // The pool's two instances register as Ready nodes named <region>.<instance-id>.
    let nodes = eventually(&kubectl, &["get", "nodes", "--no-headers"], |out| {
        let states = node_states(out);
        states.len() == 2 && states.iter().all(|(_, s)| s == "Ready")
    })
    .await;
    for (name, _) in node_states(&nodes) {
        assert!(name.starts_with("cn-hangzhou.i-"), "{nodes}");
    }
    let labels = kubectl
        .ok(&["get", "nodes", "-o", "jsonpath={.items[0].metadata.labels}"])
        .await;
    assert!(
        labels.contains("\"node.kubernetes.io/instance-type\":\"ecs.g7.xlarge\""),
        "{labels}"
    );
    assert!(
        labels.contains("\"alibabacloud.com/nodepool-id\":\"np"),
        "{labels}"
    );

    // The system pods of a fresh ACK cluster run.
    eventually(
        &kubectl,
        &["get", "pods", "-n", "kube-system", "--no-headers"],
        |out| {
            out.lines()
                .any(|l| l.starts_with("coredns-") && l.contains("Running"))
        },
    )
    .await;

    // kubectl's generators send protobuf; the workloads they create run on the nodes.
    kubectl
        .ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=3",
            "--port=80",
        ])
        .await;
    kubectl
        .ok(&["expose", "deployment", "web", "--port=80"])
        .await;
    kubectl
        .ok(&[
            "run",
            "once",
            "--image=busybox",
            "--restart=Never",
            "--",
            "echo",
            "hello",
        ])
        .await;
    eventually(
        &kubectl,
        &["get", "pods", "-l", "app=web", "--no-headers"],
        |out| out.lines().count() == 3 && out.lines().all(|l| l.contains("Running")),
    )
    .await;
    let service = kubectl
        .ok(&[
            "get",
            "service",
            "web",
            "-o",
            "jsonpath={.spec.ports[0].targetPort}",
        ])
        .await;
    assert_eq!(service, "80");

    // Scaling the pool down through ACK releases an instance: its node leaves the cluster and the
    // deployment's pods are all Running on the node that is left.
    let pool = client
        .cs()
        .describe_cluster_node_pools(&cluster_id)
        .await
        .unwrap()
        .remove(0);
    let victim = node_states(&nodes)[0].0.clone();
    client
        .cs()
        .remove_node_pool_nodes(
            &cluster_id,
            &pool.nodepool_info.nodepool_id,
            &aliyun::cs::RemoveNodePoolNodesRequest {
                nodes: vec![victim.clone()],
                release_node: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    eventually(&kubectl, &["get", "nodes", "--no-headers"], |out| {
        let states = node_states(out);
        states.len() == 1 && states[0].0 != victim
    })
    .await;
    eventually(
        &kubectl,
        &["get", "pods", "-l", "app=web", "-o", "wide", "--no-headers"],
        |out| {
            out.lines().count() == 3
                && out
                    .lines()
                    .all(|l| l.contains("Running") && !l.contains(&victim))
        },
    )
    .await;
}
