//! The Kubernetes API of emulated ACK clusters, through the kubeconfig that
//! DescribeClusterUserKubeconfig returns, with the real kubectl as the client.

use crate::kubectl::Kubectl;
use crate::support::{client, config, start};
use aliyun::Client;
use aliyun::cs::{CreateClusterRequest, NodePoolInfoSpec, NodePoolSpec, ScalingGroupSpec};
use std::time::Duration;

const REGION: &str = "cn-hangzhou";

/// Creates a managed cluster with one pool of `workers` nodes and waits until it runs.
async fn running_cluster(client: &Client, name: &str, workers: u32) -> String {
    let created = client
        .cs()
        .create_cluster(&CreateClusterRequest {
            name: name.into(),
            region_id: REGION.into(),
            cluster_type: "ManagedKubernetes".into(),
            vswitch_ids: vec!["vsw-cn-hangzhou-k".into()],
            nodepools: vec![NodePoolSpec {
                nodepool_info: NodePoolInfoSpec {
                    name: Some("pool1".into()),
                },
                scaling_group: ScalingGroupSpec {
                    vswitch_ids: Some(vec!["vsw-cn-hangzhou-k".into()]),
                    instance_types: Some(vec!["ecs.g7.xlarge".into()]),
                    desired_size: Some(workers),
                    ..ScalingGroupSpec::default()
                },
                ..NodePoolSpec::default()
            }],
            ..CreateClusterRequest::default()
        })
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let c = client
            .cs()
            .describe_cluster_detail(&created.cluster_id)
            .await
            .unwrap();
        if c.state == "running" {
            return created.cluster_id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "cluster stayed {}",
            c.state
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
