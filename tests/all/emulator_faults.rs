//! With throttling and server errors injected, the client's retries still complete every flow,
//! and ClientTokens keep retried creates from creating twice.

use crate::emulator_client::enabled_group;
use crate::support::{IMAGE, client, config, start};
use aliyun::ErrorKind;
use aliyun::ecs::{DeleteInstancesRequest, DescribeInstancesRequest, RunInstancesRequest};
use aliyun::ess::{
    AdjustmentType, DescribeScalingInstancesRequest, RemoveInstancesRequest,
    ScaleWithAdjustmentRequest,
};
use aliyun_emu::{Config, FaultConfig};

#[tokio::test]
async fn flows_complete_under_30_percent_throttling_and_5_percent_errors_without_duplicates() {
    let cfg = Config {
        faults: FaultConfig {
            throttle_rate: 0.3,
            error_rate: 0.05,
            retry_after_ms: 2,
            seed: 42,
        },
        ..config()
    };
    let (emulator, url) = start(cfg).await;
    let client = client(&url);

    let mut launched = Vec::new();
    for _ in 0..60 {
        let request = RunInstancesRequest {
            instance_type: "ecs.c7.large".into(),
            image_id: IMAGE.into(),
            vswitch_id: Some("vsw-cn-hangzhou-h".into()),
            amount: Some(1),
            ..Default::default()
        };
        launched.extend(
            client
                .ecs()
                .run_instances(&request)
                .await
                .unwrap()
                .instance_ids,
        );
    }
    let mut groups = Vec::new();
    for name in ["a", "b", "c", "d"] {
        let group = enabled_group(&client, name, 20).await;
        for _ in 0..6 {
            client
                .ess()
                .scale_with_adjustment(&ScaleWithAdjustmentRequest {
                    scaling_group_id: group.clone(),
                    adjustment_type: AdjustmentType::QuantityChangeInCapacity,
                    adjustment_value: 1,
                    client_token: None,
                })
                .await
                .unwrap();
        }
        let members = client
            .ess()
            .describe_all_scaling_instances(&DescribeScalingInstancesRequest {
                scaling_group_id: Some(group.clone()),
                page_size: Some(2),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(members.len(), 6, "six +1 adjustments, each applied once");
        client
            .ess()
            .remove_instances(&RemoveInstancesRequest {
                scaling_group_id: group.clone(),
                instance_ids: vec![members[0].instance_id.clone()],
                decrease_desired_capacity: Some(true),
                client_token: None,
            })
            .await
            .unwrap();
        groups.push(group);
    }
    client
        .ecs()
        .delete_instances(&DeleteInstancesRequest {
            instance_ids: launched[..5].to_vec(),
            force: Some(true),
            client_token: None,
        })
        .await
        .unwrap();

    let world = emulator.snapshot();
    assert_eq!(
        world.groups.len(),
        4,
        "one group per create despite lost replies"
    );
    assert_eq!(world.configurations.len(), 4);
    for group in &groups {
        assert_eq!(
            (world.groups[group].desired, world.members(group).len()),
            (5, 5)
        );
    }
    let standalone = world
        .instances
        .values()
        .filter(|i| i.membership.is_none())
        .count();
    assert_eq!(standalone, 55, "60 launched once each, 5 deleted");
    assert_eq!(world.instances.len(), 55 + 4 * 5);
    let listed = client
        .ecs()
        .describe_all_instances(&DescribeInstancesRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), world.instances.len());
}

#[tokio::test]
async fn a_client_that_gives_up_reports_throttling_with_the_servers_retry_after() {
    let cfg = Config {
        faults: FaultConfig {
            throttle_rate: 1.0,
            error_rate: 0.0,
            retry_after_ms: 3,
            seed: 1,
        },
        ..config()
    };
    let (_emulator, url) = start(cfg).await;
    let err = client(&url).ecs().describe_regions().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Throttled, Some("Throttling.User"))
    );
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_millis(3)));
}
