//! The Rust client against the emulator: every typed ECS and ESS call, the emulator's state
//! machines on an injected clock, persistence, and the error kinds callers branch on.

use crate::support::{self, IMAGE, client, client_with, config, start, start_with_clock};
use aliyun::ErrorKind;
use aliyun::ecs::{
    DeleteInstancesRequest, DescribeInstanceTypesRequest, DescribeInstancesRequest,
    DescribePriceRequest, RunInstancesRequest,
};
use aliyun::ess::{
    AdjustmentType, CreateScalingConfigurationRequest, CreateScalingGroupRequest,
    DescribeScalingGroupsRequest, DescribeScalingInstancesRequest, RemoveInstancesRequest,
    ScaleWithAdjustmentRequest,
};
use aliyun_emu::{Config, InstanceTiming, ManualClock, StockLimit};
use std::sync::Arc;

fn run_request(amount: u32) -> RunInstancesRequest {
    RunInstancesRequest {
        instance_type: "ecs.g7.large".into(),
        image_id: IMAGE.into(),
        vswitch_id: Some("vsw-cn-hangzhou-k".into()),
        security_group_id: Some("sg-test".into()),
        amount: Some(amount),
        tags: vec![("team".into(), "infra".into())],
        ..Default::default()
    }
}

/// Creates an enabled group of `ecs.g7.large` in two zones; returns its id.
pub async fn enabled_group(client: &aliyun::Client, name: &str, max: u32) -> String {
    let ess = client.ess();
    let group = ess
        .create_scaling_group(&CreateScalingGroupRequest {
            scaling_group_name: Some(name.into()),
            min_size: 0,
            max_size: max,
            vswitch_ids: vec!["vsw-cn-hangzhou-k".into(), "vsw-cn-hangzhou-j".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .scaling_group_id;
    let config = ess
        .create_scaling_configuration(&CreateScalingConfigurationRequest {
            scaling_group_id: group.clone(),
            image_id: Some(IMAGE.into()),
            instance_type: Some("ecs.g7.large".into()),
            security_group_id: Some("sg-test".into()),
            tags: vec![("k8s.aliyun.com".into(), "true".into())],
            ..Default::default()
        })
        .await
        .unwrap()
        .scaling_configuration_id;
    ess.enable_scaling_group(&group, Some(&config))
        .await
        .unwrap();
    group
}

#[tokio::test]
async fn ecs_catalogue_instances_and_prices_round_trip_through_the_typed_client() {
    let (_emulator, url) = start(config()).await;
    let ecs = client(&url);
    let ecs = ecs.ecs();

    let regions = ecs.describe_regions().await.unwrap();
    assert!(regions.regions.iter().any(|r| r.region_id == "cn-hangzhou"));
    let types = ecs
        .describe_instance_types(&DescribeInstanceTypesRequest {
            instance_types: vec!["ecs.gn6i-c4g1.xlarge".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(types.instance_types.len(), 1);
    assert_eq!(
        (
            types.instance_types[0].cpu_core_count,
            types.instance_types[0].gpu_amount
        ),
        (4, 1)
    );
    let all = ecs
        .describe_all_instance_types(&DescribeInstanceTypesRequest {
            max_results: Some(5),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        all.len() > 10,
        "paging with NextToken walks the whole catalogue: {}",
        all.len()
    );

    let created = ecs
        .run_instances(&run_request(7))
        .await
        .unwrap()
        .instance_ids;
    assert_eq!(created.len(), 7);
    let page = ecs
        .describe_instances(&DescribeInstancesRequest {
            instance_ids: created.clone(),
            page_size: Some(3),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total_count, page.instances.len()), (7, 3));
    let every = ecs
        .describe_all_instances(&DescribeInstancesRequest {
            tags: vec![("team".into(), "infra".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(every.len(), 7);
    let first = &every[0];
    assert_eq!(
        (first.status.as_str(), first.memory, first.zone_id.as_str()),
        ("Running", 8192, "cn-hangzhou-k")
    );
    assert_eq!(first.vpc_attributes.private_ip_address.len(), 1);

    let price = ecs
        .describe_price(&DescribePriceRequest {
            instance_type: "ecs.g7.large".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .price_info
        .price;
    let spot = ecs
        .describe_price(&DescribePriceRequest {
            instance_type: "ecs.g7.large".into(),
            spot_strategy: Some("SpotAsPriceGo".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .price_info
        .price;
    assert!(
        price.trade_price > 0.0 && spot.trade_price < price.trade_price,
        "{price:?} {spot:?}"
    );

    ecs.delete_instances(&DeleteInstancesRequest {
        instance_ids: created[..2].to_vec(),
        force: Some(true),
        client_token: None,
    })
    .await
    .unwrap();
    let left = ecs
        .describe_all_instances(&DescribeInstancesRequest::default())
        .await
        .unwrap();
    assert_eq!(left.len(), 5);
    let err = ecs
        .delete_instances(&DeleteInstancesRequest {
            instance_ids: created[2..3].to_vec(),
            force: Some(false),
            client_token: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("IncorrectInstanceStatus"));
}

#[tokio::test]
async fn a_scaling_group_scales_out_and_in_and_is_deleted_with_its_instances() {
    let (emulator, url) = start(config()).await;
    let client = client(&url);
    let ess = client.ess();
    let group = enabled_group(&client, "workers", 10).await;

    ess.scale_with_adjustment(&ScaleWithAdjustmentRequest {
        scaling_group_id: group.clone(),
        adjustment_type: AdjustmentType::QuantityChangeInCapacity,
        adjustment_value: 5,
        client_token: None,
    })
    .await
    .unwrap();
    let described = ess
        .describe_scaling_groups(&DescribeScalingGroupsRequest {
            scaling_group_ids: vec![group.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let g = &described.scaling_groups[0];
    assert_eq!(
        (
            g.lifecycle_state.as_str(),
            g.desired_capacity,
            g.total_capacity,
            g.active_capacity
        ),
        ("Active", Some(5), 5, 5)
    );

    let members = ess
        .describe_all_scaling_instances(&DescribeScalingInstancesRequest {
            scaling_group_id: Some(group.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(members.len(), 5);
    assert!(
        members
            .iter()
            .all(|m| m.lifecycle_state == "InService" && m.creation_type == "AutoCreated")
    );
    let zones: std::collections::BTreeSet<&str> =
        members.iter().map(|m| m.zone_id.as_str()).collect();
    assert_eq!(
        zones.into_iter().collect::<Vec<_>>(),
        ["cn-hangzhou-k"],
        "PRIORITY fills the first vSwitch"
    );

    let removed: Vec<String> = members[..2].iter().map(|m| m.instance_id.clone()).collect();
    ess.remove_instances(&RemoveInstancesRequest {
        scaling_group_id: group.clone(),
        instance_ids: removed.clone(),
        decrease_desired_capacity: Some(true),
        client_token: None,
    })
    .await
    .unwrap();
    let world = emulator.snapshot();
    assert_eq!(world.groups[&group].desired, 3);
    assert!(
        removed.iter().all(|id| !world.instances.contains_key(id)),
        "removed instances are released"
    );

    let too_many = ess
        .scale_with_adjustment(&ScaleWithAdjustmentRequest {
            scaling_group_id: group.clone(),
            adjustment_type: AdjustmentType::TotalCapacity,
            adjustment_value: 11,
            client_token: None,
        })
        .await
        .unwrap_err();
    assert_eq!(too_many.kind(), ErrorKind::InvalidParameter);

    let not_empty = ess.delete_scaling_group(&group, false).await.unwrap_err();
    assert_eq!(not_empty.kind(), ErrorKind::Forbidden);
    ess.delete_scaling_group(&group, true).await.unwrap();
    let world = emulator.snapshot();
    assert!(
        world.groups.is_empty() && world.instances.is_empty() && world.configurations.is_empty()
    );
    let gone = ess.delete_scaling_group(&group, true).await.unwrap_err();
    assert_eq!(
        (gone.kind(), gone.code()),
        (ErrorKind::NotFound, Some("InvalidScalingGroupId.NotFound"))
    );
}

#[tokio::test]
async fn instances_boot_on_the_injected_clock_and_groups_report_pending_capacity() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    struct Shared(Arc<ManualClock>);
    impl aliyun_emu::Clock for Shared {
        fn now_ms(&self) -> i64 {
            self.0.now_ms()
        }
    }
    let mut cfg = config();
    cfg.settings.timing = InstanceTiming {
        pending_ms: 1000,
        starting_ms: 4000,
    };
    let (_emulator, url) = start_with_clock(cfg, Shared(clock.clone())).await;
    let client = client(&url);
    let group = enabled_group(&client, "slow", 5).await;
    client
        .ess()
        .scale_with_adjustment(&ScaleWithAdjustmentRequest {
            scaling_group_id: group.clone(),
            adjustment_type: AdjustmentType::TotalCapacity,
            adjustment_value: 2,
            client_token: None,
        })
        .await
        .unwrap();
    let status = || async {
        let all = client
            .ecs()
            .describe_all_instances(&DescribeInstancesRequest::default())
            .await
            .unwrap();
        let groups = client
            .ess()
            .describe_scaling_groups(&DescribeScalingGroupsRequest::default())
            .await
            .unwrap();
        let g = &groups.scaling_groups[0];
        (all[0].status.clone(), g.active_capacity, g.pending_capacity)
    };
    assert_eq!(status().await, ("Pending".into(), 0, 2));
    clock.advance_ms(1000);
    assert_eq!(status().await, ("Starting".into(), 0, 2));
    clock.advance_ms(4000);
    assert_eq!(status().await, ("Running".into(), 2, 0));
}

#[tokio::test]
async fn state_survives_a_restart_with_a_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        state_dir: Some(dir.path().to_owned()),
        ..config()
    };
    let (_first, url) = start(cfg.clone()).await;
    let group = enabled_group(&client(&url), "durable", 4).await;
    let ids = client(&url)
        .ecs()
        .run_instances(&run_request(2))
        .await
        .unwrap()
        .instance_ids;

    let (second, url) = start(cfg).await;
    let world = second.snapshot();
    assert!(world.groups.contains_key(&group));
    assert!(ids.iter().all(|id| world.instances.contains_key(id)));
    let instances = client(&url)
        .ecs()
        .describe_all_instances(&DescribeInstancesRequest::default())
        .await
        .unwrap();
    assert_eq!(instances.len(), 2);

    std::fs::write(dir.path().join("aliyun-emu.json"), b"{not json").unwrap();
    let err = aliyun_emu::Emulator::new(
        Config {
            state_dir: Some(dir.path().to_owned()),
            ..config()
        },
        aliyun_emu::SystemClock,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("aliyun-emu.json"), "{err}");
}

#[tokio::test]
async fn errors_carry_the_kind_callers_branch_on() {
    let mut cfg = config();
    cfg.settings.stock = vec![StockLimit {
        zone: "cn-hangzhou-k".into(),
        instance_type: "ecs.g7.large".into(),
        limit: 1,
    }];
    let (_emulator, url) = start(cfg).await;

    let no_stock = client(&url)
        .ecs()
        .run_instances(&run_request(2))
        .await
        .unwrap_err();
    assert_eq!(
        (no_stock.kind(), no_stock.code()),
        (
            ErrorKind::InsufficientCapacity,
            Some("OperationDenied.NoStock")
        )
    );

    let bad_secret = client_with(&url, aliyun::Credentials::new(support::KEY_ID, "wrong"))
        .ecs()
        .describe_regions()
        .await
        .unwrap_err();
    assert_eq!(
        (bad_secret.kind(), bad_secret.code()),
        (ErrorKind::Unauthenticated, Some("SignatureDoesNotMatch"))
    );
    assert!(bad_secret.request_id().is_some());

    let unknown = client_with(&url, aliyun::Credentials::new("nobody", "x"))
        .ecs()
        .describe_regions()
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some("InvalidAccessKeyId.NotFound"));

    let reader = client_with(&url, aliyun::Credentials::new("reader", "readersecret"));
    reader.ecs().describe_regions().await.unwrap();
    let forbidden = reader
        .ecs()
        .run_instances(&run_request(1))
        .await
        .unwrap_err();
    assert_eq!(
        (forbidden.kind(), forbidden.code()),
        (ErrorKind::Forbidden, Some("Forbidden.RAM"))
    );

    let sts = client_with(
        &url,
        aliyun::Credentials::new(support::KEY_ID, support::KEY_SECRET)
            .with_security_token("token-1"),
    );
    sts.ecs().describe_regions().await.unwrap();

    let missing = client(&url)
        .ess()
        .describe_scaling_instances(&DescribeScalingInstancesRequest {
            scaling_group_id: Some("asg-nope".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (missing.kind(), missing.code()),
        (ErrorKind::NotFound, Some("InvalidScalingGroupId.NotFound"))
    );
}

#[tokio::test]
async fn instances_in_a_created_vswitch_report_its_zone_and_vpc_and_unknown_vswitches_are_refused()
{
    use aliyun::vpc::{CreateVSwitchRequest, CreateVpcRequest};
    let (_emulator, url) = start(config()).await;
    let client = client(&url);
    let vpc = client
        .vpc()
        .create_vpc(&CreateVpcRequest {
            cidr_block: Some("192.168.0.0/16".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .vpc_id;
    let vswitch = client
        .vpc()
        .create_vswitch(&CreateVSwitchRequest {
            vpc_id: vpc.clone(),
            zone_id: "cn-hangzhou-j".into(),
            cidr_block: "192.168.1.0/24".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .vswitch_id;
    let ids = client
        .ecs()
        .run_instances(&RunInstancesRequest {
            vswitch_id: Some(vswitch.clone()),
            ..run_request(1)
        })
        .await
        .unwrap()
        .instance_ids;
    let listed = client
        .ecs()
        .describe_all_instances(&DescribeInstancesRequest {
            vpc_id: Some(vpc.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].instance_id, ids[0]);
    assert_eq!(listed[0].zone_id, "cn-hangzhou-j");
    assert_eq!(listed[0].vpc_attributes.vpc_id, vpc);
    assert_eq!(listed[0].vpc_attributes.vswitch_id, vswitch);

    let unknown = client
        .ecs()
        .run_instances(&RunInstancesRequest {
            vswitch_id: Some("vsw-doesnotexist".into()),
            ..run_request(1)
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some("InvalidVSwitchId.NotFound"));
    let group = client
        .ess()
        .create_scaling_group(&CreateScalingGroupRequest {
            min_size: 0,
            max_size: 1,
            vswitch_ids: vec!["vsw-doesnotexist".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(group.code(), Some("InvalidVSwitchId.NotFound"));
}
