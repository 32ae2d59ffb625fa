//! emulator_eci: ECI container groups through the typed Rust client against the emulator: the
//! simulated runtime on an injected clock (scheduling, image pulls, exits, restarts, updates),
//! logs, listings, the errors callers branch on, and convergence under injected faults.

use crate::support::{client, config, start, start_with_clock};
use aliyun::ErrorKind;
use aliyun::eci::{
    Container, ContainerGroup, ContainerPort, CreateContainerGroupRequest,
    DescribeContainerGroupsRequest, DescribeContainerLogRequest, RestartPolicy,
    UpdateContainerGroupRequest, UpdateType,
};
use aliyun_emu::{Config, FaultConfig, InstanceTiming, ManualClock};
use std::sync::Arc;

const START_MS: i64 = 1_700_000_000_000;
const VSWITCH: &str = "vsw-cn-hangzhou-k";

/// A manual clock the test keeps a handle on while the emulator owns the other.
struct Shared(Arc<ManualClock>);

impl aliyun_emu::Clock for Shared {
    fn now_ms(&self) -> i64 {
        self.0.now_ms()
    }
}

/// An emulator on a manual clock where scheduling takes 1 s and pulling images 2 s.
async fn emulator_on_clock() -> (aliyun_emu::Emulator, aliyun::Client, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(START_MS));
    let mut cfg = config();
    cfg.settings.timing = InstanceTiming {
        pending_ms: 1_000,
        starting_ms: 2_000,
    };
    let (emulator, url) = start_with_clock(cfg, Shared(clock.clone())).await;
    (emulator, client(&url), clock)
}

fn shell(name: &str, script: &str) -> Container {
    Container {
        command: vec!["sh".into(), "-c".into(), script.into()],
        cpu: Some(0.5),
        memory: Some(1.0),
        ..Container::new(name, "busybox:1.36")
    }
}

fn group_request(
    name: &str,
    containers: Vec<Container>,
    policy: RestartPolicy,
) -> CreateContainerGroupRequest {
    CreateContainerGroupRequest {
        container_group_name: name.into(),
        containers,
        restart_policy: Some(policy),
        vswitch_id: Some(VSWITCH.into()),
        security_group_id: Some("sg-eci".into()),
        tags: vec![("PodName".into(), name.into())],
        ..Default::default()
    }
}

async fn create(client: &aliyun::Client, request: &CreateContainerGroupRequest) -> String {
    client
        .eci()
        .create_container_group(request)
        .await
        .unwrap()
        .container_group_id
}

async fn describe(client: &aliyun::Client, id: &str) -> ContainerGroup {
    client
        .eci()
        .describe_container_group(id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{id} is listed"))
}

async fn logs(client: &aliyun::Client, request: DescribeContainerLogRequest) -> String {
    client
        .eci()
        .describe_container_log(&request)
        .await
        .unwrap()
        .content
}

fn reasons(group: &ContainerGroup) -> Vec<&str> {
    group.events.iter().map(|e| e.reason.as_str()).collect()
}

#[tokio::test]
async fn a_server_is_scheduled_pulled_and_then_runs_on_the_injected_clock() {
    let (_emulator, client, clock) = emulator_on_clock().await;
    let mut nginx = Container::new("web", "nginx:1.25");
    nginx.ports = vec![ContainerPort {
        port: 80,
        protocol: None,
    }];
    let id = create(
        &client,
        &group_request("web", vec![nginx], RestartPolicy::Always),
    )
    .await;
    assert!(id.starts_with("eci-bp") && id.len() == 24, "{id}");

    let group = describe(&client, &id).await;
    assert_eq!(group.status, "Scheduling");
    assert_eq!(group.containers[0].current_state.state, "Waiting");
    assert_eq!(
        (group.zone_id.as_str(), group.vswitch_id.as_str()),
        ("cn-hangzhou-k", VSWITCH)
    );
    assert!(group.vpc_id.starts_with("vpc-"), "{}", group.vpc_id);
    assert!(
        group.intranet_ip.starts_with("10."),
        "{}",
        group.intranet_ip
    );
    assert_eq!((group.cpu, group.memory), (2.0, 4.0), "ECI's default size");
    assert_eq!(group.creation_time, "2023-11-14T22:13:20Z");

    clock.advance_ms(1_000);
    let group = describe(&client, &id).await;
    assert_eq!(group.status, "Pending");
    assert_eq!(reasons(&group), ["Scheduled", "Pulling"]);

    clock.advance_ms(2_000);
    let group = describe(&client, &id).await;
    assert_eq!(group.status, "Running");
    let web = group.container("web").unwrap();
    assert!(web.ready);
    assert_eq!(web.current_state.state, "Running");
    assert_eq!(web.current_state.start_time, "2023-11-14T22:13:23Z");
    assert_eq!(web.ports[0].port, 80);
    assert_eq!(web.ports[0].protocol, "TCP");
    assert_eq!(
        reasons(&group),
        ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    );

    // A server never exits.
    clock.advance_ms(86_400_000);
    let group = describe(&client, &id).await;
    assert_eq!(
        (group.status.as_str(), group.containers[0].restart_count),
        ("Running", 0)
    );
}

#[tokio::test]
async fn a_job_succeeds_and_its_logs_show_what_it_printed() {
    let (_emulator, client, clock) = emulator_on_clock().await;
    let job = shell("main", "echo hello; sleep 5; echo bye");
    let id = create(
        &client,
        &group_request("job", vec![job], RestartPolicy::Never),
    )
    .await;
    let log =
        |tail: Option<u32>, limit: Option<u32>, stamps: Option<bool>| DescribeContainerLogRequest {
            tail,
            limit_bytes: limit,
            timestamps: stamps,
            ..DescribeContainerLogRequest::new(&id, "main")
        };
    assert_eq!(
        logs(&client, log(None, None, None)).await,
        "",
        "nothing before it starts"
    );

    clock.advance_ms(3_000 + 2_000);
    assert_eq!(describe(&client, &id).await.status, "Running");
    assert_eq!(logs(&client, log(None, None, None)).await, "hello\n");

    clock.advance_ms(3_000);
    let group = describe(&client, &id).await;
    assert_eq!(group.status, "Succeeded");
    assert_eq!(group.succeeded_time, "2023-11-14T22:13:28Z");
    assert_eq!(group.failed_time, "");
    let main = &group.containers[0];
    assert_eq!(main.current_state.state, "Terminated");
    assert_eq!(main.current_state.reason, "Completed");
    assert_eq!(main.current_state.exit_code, Some(0));
    assert!(!main.ready);
    assert_eq!(main.commands, ["sh", "-c", "echo hello; sleep 5; echo bye"]);

    assert_eq!(logs(&client, log(None, None, None)).await, "hello\nbye\n");
    assert_eq!(logs(&client, log(Some(1), None, None)).await, "bye\n");
    assert_eq!(logs(&client, log(None, Some(3), None)).await, "hel");
    assert_eq!(
        logs(&client, log(None, None, Some(true))).await,
        "2023-11-14T22:13:23.000000000Z hello\n2023-11-14T22:13:28.000000000Z bye\n"
    );
}

#[tokio::test]
async fn a_non_zero_exit_fails_a_never_restarting_group_with_its_exit_code() {
    let (_emulator, client, clock) = emulator_on_clock().await;
    let containers = vec![shell("main", "echo hi; exit 3"), shell("side", "sleep 1")];
    let id = create(
        &client,
        &group_request("fails", containers, RestartPolicy::Never),
    )
    .await;
    clock.advance_ms(3_000);
    assert_eq!(
        describe(&client, &id).await.status,
        "Running",
        "side still sleeps"
    );
    clock.advance_ms(1_000);
    let group = describe(&client, &id).await;
    assert_eq!(group.status, "Failed");
    assert_eq!(group.failed_time, "2023-11-14T22:13:24Z");
    let main = group.container("main").unwrap();
    assert_eq!(
        (
            main.current_state.reason.as_str(),
            main.current_state.exit_code
        ),
        ("Error", Some(3))
    );
    assert_eq!(
        group.container("side").unwrap().current_state.exit_code,
        Some(0)
    );
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_fails_the_group_with_a_warning_event() {
    let (_emulator, client, clock) = emulator_on_clock().await;
    let missing = Container::new("main", "registry.example.com/team/doesnotexist:1.0");
    let id = create(
        &client,
        &group_request("nopull", vec![missing], RestartPolicy::Always),
    )
    .await;
    clock.advance_ms(2_999);
    assert_eq!(describe(&client, &id).await.status, "Pending");
    clock.advance_ms(1);
    let group = describe(&client, &id).await;
    assert_eq!(group.status, "Failed");
    assert_eq!(group.containers[0].current_state.state, "Waiting");
    assert_eq!(group.containers[0].current_state.reason, "ErrImagePull");
    let failed = group
        .events
        .iter()
        .find(|e| e.reason == "Failed" && e.message.contains("doesnotexist"))
        .expect("a Failed event names the image");
    assert_eq!(failed.kind, "Warning");
}

#[tokio::test]
async fn always_restarting_containers_count_restarts_and_keep_the_previous_log() {
    let (_emulator, client, clock) = emulator_on_clock().await;
    let crash = shell("main", "echo run; sleep 5; exit 1");
    let id = create(
        &client,
        &group_request("crash", vec![crash], RestartPolicy::Always),
    )
    .await;
    // Pulled at 3 s; exits at 8 s, restarts at 18 s; exits at 23 s, restarts at 43 s.
    clock.advance_ms(8_000);
    let group = describe(&client, &id).await;
    assert_eq!(group.status, "Running");
    let main = &group.containers[0];
    assert_eq!(main.current_state.reason, "CrashLoopBackOff");
    assert_eq!(main.previous_state.exit_code, Some(1));
    assert_eq!(main.restart_count, 0);

    clock.advance_ms(10_000);
    let main = describe(&client, &id).await.containers[0].clone();
    assert_eq!(
        (main.current_state.state.as_str(), main.restart_count),
        ("Running", 1)
    );

    clock.advance_ms(25_000);
    let group = describe(&client, &id).await;
    assert_eq!(group.containers[0].restart_count, 2);
    let backoff = group.events.iter().find(|e| e.reason == "BackOff").unwrap();
    assert_eq!((backoff.kind.as_str(), backoff.count), ("Warning", 2));
    let started = group.events.iter().find(|e| e.reason == "Started").unwrap();
    assert_eq!(started.count, 3);

    let previous = DescribeContainerLogRequest {
        last_time: Some(true),
        ..DescribeContainerLogRequest::new(&id, "main")
    };
    assert_eq!(logs(&client, previous).await, "run\n");

    // OnFailure stops restarting once a run succeeds; this one never does.
    let ok = shell("main", "exit 0");
    let once = create(
        &client,
        &group_request("once", vec![ok], RestartPolicy::OnFailure),
    )
    .await;
    clock.advance_ms(3_000 + 60_000);
    let group = describe(&client, &once).await;
    assert_eq!(
        (group.status.as_str(), group.containers[0].restart_count),
        ("Succeeded", 0)
    );
}

#[tokio::test]
async fn an_update_goes_through_updating_and_restarts_the_containers_with_the_new_spec() {
    let (emulator, client, clock) = emulator_on_clock().await;
    let id = create(
        &client,
        &group_request(
            "upd",
            vec![Container::new("web", "nginx:1.25")],
            RestartPolicy::Always,
        ),
    )
    .await;
    clock.advance_ms(3_000);
    assert_eq!(describe(&client, &id).await.status, "Running");

    client
        .eci()
        .update_container_group(&UpdateContainerGroupRequest {
            container_group_id: id.clone(),
            containers: vec![Container {
                command: vec!["sh".into(), "-c".into(), "echo updated; sleep 1000".into()],
                ..Container::new("web", "nginx:1.26")
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let group = describe(&client, &id).await;
    assert_eq!(group.status, "Updating");
    assert!(
        reasons(&group).contains(&"Killing"),
        "{:?}",
        reasons(&group)
    );

    let refused = client
        .eci()
        .update_container_group(&UpdateContainerGroupRequest {
            container_group_id: id.clone(),
            restart_policy: Some(RestartPolicy::Never),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (refused.kind(), refused.code()),
        (ErrorKind::Conflict, Some("IncorrectStatus"))
    );

    clock.advance_ms(3_000);
    let group = describe(&client, &id).await;
    assert_eq!(group.status, "Running");
    let web = &group.containers[0];
    assert_eq!((web.image.as_str(), web.restart_count), ("nginx:1.26", 1));
    assert_eq!(
        logs(&client, DescribeContainerLogRequest::new(&id, "web")).await,
        "updated\n"
    );
    assert_eq!(
        reasons(&group)
            .iter()
            .filter(|r| **r == "Scheduled")
            .count(),
        1,
        "events of the first generation are kept, an update is not rescheduled"
    );

    // An incremental update changes only what it names.
    client
        .eci()
        .update_container_group(&UpdateContainerGroupRequest {
            container_group_id: id.clone(),
            containers: vec![Container {
                environment_vars: vec![("MODE".into(), "blue".into())],
                ..Container::new("web", "")
            }],
            update_type: Some(UpdateType::IncrementalUpdate),
            ..Default::default()
        })
        .await
        .unwrap();
    clock.advance_ms(3_000);
    let web = describe(&client, &id).await.containers[0].clone();
    assert_eq!(web.image, "nginx:1.26");
    assert_eq!(web.commands[2], "echo updated; sleep 1000");
    assert_eq!(web.environment_vars[0].value, "blue");
    assert_eq!(web.restart_count, 2);

    // Tags alone do not restart anything.
    client
        .eci()
        .update_container_group(&UpdateContainerGroupRequest {
            container_group_id: id.clone(),
            tags: vec![("team".into(), "web".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    let group = describe(&client, &id).await;
    assert_eq!(
        (group.status.as_str(), group.containers[0].restart_count),
        ("Running", 2)
    );
    assert_eq!(group.tags[0].value, "web");
    assert_eq!(emulator.snapshot().container_groups.groups.len(), 1);
}

#[tokio::test]
async fn listings_page_with_next_tokens_and_filter_by_tag_status_and_ids() {
    let (_emulator, url) = start(config()).await;
    let client = client(&url);
    let mut ids = Vec::new();
    for n in 0..25 {
        let policy = if n % 5 == 0 {
            RestartPolicy::Never
        } else {
            RestartPolicy::Always
        };
        let container = if n % 5 == 0 {
            shell("main", "exit 0")
        } else {
            Container::new("main", "nginx:1.25")
        };
        let mut request = group_request(&format!("pod-{n}"), vec![container], policy);
        request
            .tags
            .push(("tier".into(), if n < 10 { "a" } else { "b" }.into()));
        ids.push(create(&client, &request).await);
    }
    let eci = client.eci();
    let page = eci
        .describe_container_groups(&DescribeContainerGroupsRequest {
            limit: Some(7),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((page.container_groups.len(), page.total_count), (7, 25));
    assert!(!page.next_token.is_empty());
    let all = eci
        .describe_all_container_groups(&DescribeContainerGroupsRequest {
            limit: Some(7),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut listed: Vec<String> = all.iter().map(|g| g.container_group_id.clone()).collect();
    listed.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(listed, expected, "every group once, across four pages");

    let tier_a = eci
        .describe_all_container_groups(&DescribeContainerGroupsRequest {
            tags: vec![("tier".into(), "a".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tier_a.len(), 10);
    let succeeded = eci
        .describe_all_container_groups(&DescribeContainerGroupsRequest {
            status: Some("Succeeded".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(succeeded.len(), 5);
    let by_ids = eci
        .describe_container_groups(&DescribeContainerGroupsRequest {
            container_group_ids: ids[3..6].to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_ids.total_count, 3);
    let by_name = eci
        .describe_container_groups(&DescribeContainerGroupsRequest {
            container_group_name: Some("pod-7".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_name.container_groups[0].container_group_id, ids[7]);
}

#[tokio::test]
async fn deleted_groups_disappear_and_deleting_again_is_not_found() {
    let (emulator, url) = start(config()).await;
    let client = client(&url);
    let id = create(
        &client,
        &group_request(
            "gone",
            vec![Container::new("main", "nginx")],
            RestartPolicy::Always,
        ),
    )
    .await;
    client.eci().delete_container_group(&id).await.unwrap();
    assert!(
        client
            .eci()
            .describe_container_group(&id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(emulator.snapshot().container_groups.groups.is_empty());
    let again = client.eci().delete_container_group(&id).await.unwrap_err();
    assert_eq!(
        (again.kind(), again.code()),
        (
            ErrorKind::NotFound,
            Some("InvalidContainerGroupId.NotFound")
        )
    );
    let log = client
        .eci()
        .describe_container_log(&DescribeContainerLogRequest::new(&id, "main"))
        .await
        .unwrap_err();
    assert_eq!(log.code(), Some("InvalidContainerGroupId.NotFound"));
}

#[tokio::test]
async fn bad_inputs_are_refused_with_codes_that_name_the_parameter_and_create_nothing() {
    let (emulator, url) = start(config()).await;
    let client = client(&url);
    let eci = client.eci();
    let ok = || {
        group_request(
            "fine",
            vec![Container::new("main", "nginx")],
            RestartPolicy::Always,
        )
    };
    let many = (0..21)
        .map(|n| Container::new(format!("c{n}"), "nginx"))
        .collect::<Vec<_>>();
    let cases: Vec<(&str, CreateContainerGroupRequest, &str, &str)> = vec![
        (
            "no name",
            CreateContainerGroupRequest {
                container_group_name: String::new(),
                ..ok()
            },
            "MissingParameter",
            "ContainerGroupName",
        ),
        (
            "upper-case name",
            CreateContainerGroupRequest {
                container_group_name: "Web".into(),
                ..ok()
            },
            "InvalidParameter",
            "ContainerGroupName",
        ),
        (
            "no containers",
            CreateContainerGroupRequest {
                containers: vec![],
                ..ok()
            },
            "MissingParameter",
            "Container.1.Name",
        ),
        (
            "no image",
            CreateContainerGroupRequest {
                containers: vec![Container::new("main", "")],
                ..ok()
            },
            "MissingParameter",
            "Container.1.Image",
        ),
        (
            "duplicate container names",
            CreateContainerGroupRequest {
                containers: vec![
                    Container::new("main", "nginx"),
                    Container::new("main", "redis"),
                ],
                ..ok()
            },
            "InvalidParameter",
            "Container.2.Name",
        ),
        (
            "container name not a DNS label",
            CreateContainerGroupRequest {
                containers: vec![Container::new("Main_1", "nginx")],
                ..ok()
            },
            "InvalidParameter",
            "Container.1.Name",
        ),
        (
            "21 containers",
            CreateContainerGroupRequest {
                containers: many,
                ..ok()
            },
            "InvalidParameter",
            "Container",
        ),
        (
            "65 vCPU",
            CreateContainerGroupRequest {
                cpu: Some(65.0),
                memory: Some(130.0),
                ..ok()
            },
            "InvalidParameter",
            "\"Cpu\"",
        ),
        (
            "16 GiB per vCPU",
            CreateContainerGroupRequest {
                cpu: Some(1.0),
                memory: Some(16.0),
                ..ok()
            },
            "InvalidParameter",
            "\"Memory\"",
        ),
        (
            "containers larger than the group",
            CreateContainerGroupRequest {
                cpu: Some(1.0),
                memory: Some(2.0),
                containers: vec![Container {
                    cpu: Some(2.0),
                    ..Container::new("main", "nginx")
                }],
                ..ok()
            },
            "InvalidParameter",
            "\"Cpu\"",
        ),
        (
            "cpu without memory",
            CreateContainerGroupRequest {
                cpu: Some(1.0),
                ..ok()
            },
            "MissingParameter",
            "Memory",
        ),
        (
            "unknown instance type",
            CreateContainerGroupRequest {
                instance_type: Some("ecs.nope.large".into()),
                ..ok()
            },
            "InvalidParameter",
            "InstanceType",
        ),
        (
            "unknown vSwitch",
            CreateContainerGroupRequest {
                vswitch_id: Some("vsw-cn-beijing-h".into()),
                ..ok()
            },
            "InvalidVSwitchId.NotFound",
            "vsw-cn-beijing-h",
        ),
        (
            "zone not the vSwitch's",
            CreateContainerGroupRequest {
                zone_id: Some("cn-hangzhou-h".into()),
                ..ok()
            },
            "InvalidParameter",
            "ZoneId",
        ),
        (
            "bad image pull policy",
            CreateContainerGroupRequest {
                containers: vec![Container {
                    image_pull_policy: Some("Sometimes".into()),
                    ..Container::new("main", "nginx")
                }],
                ..ok()
            },
            "InvalidParameter",
            "Container.1.ImagePullPolicy",
        ),
    ];
    for (what, request, code, named) in cases {
        let err = eci.create_container_group(&request).await.unwrap_err();
        assert_eq!(err.code(), Some(code), "{what}: {err}");
        assert!(
            err.to_string().contains(named),
            "{what}: {err} should name {named}"
        );
    }
    let err = client
        .with_region("xx-nowhere-1")
        .unwrap()
        .eci()
        .create_container_group(&ok())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidRegionId.NotFound"));
    assert!(
        emulator.snapshot().container_groups.groups.is_empty(),
        "no refused request created a group"
    );

    let too_many_ids = eci
        .describe_container_groups(&DescribeContainerGroupsRequest {
            container_group_ids: (0..21).map(|n| format!("eci-{n}")).collect(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(too_many_ids.code(), Some("InvalidParameter"));
    assert!(too_many_ids.to_string().contains("ContainerGroupIds"));
    for (limit, token) in [(Some(21), None), (None, Some("garbage"))] {
        let err = eci
            .describe_container_groups(&DescribeContainerGroupsRequest {
                limit,
                next_token: token.map(str::to_owned),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{err}");
    }

    let id = create(&client, &ok()).await;
    let no_container = eci
        .describe_container_log(&DescribeContainerLogRequest::new(&id, "sidecar"))
        .await
        .unwrap_err();
    assert_eq!(
        (no_container.kind(), no_container.code()),
        (ErrorKind::NotFound, Some("InvalidContainerName.NotFound"))
    );
    let bad_update = eci
        .update_container_group(&UpdateContainerGroupRequest {
            container_group_id: id.clone(),
            containers: vec![Container::new("main", "")],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad_update.code(),
        Some("MissingParameter"),
        "a renew update needs images"
    );
    let missing = eci
        .update_container_group(&UpdateContainerGroupRequest {
            container_group_id: "eci-bpnothere".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("InvalidContainerGroupId.NotFound"));
    let group = describe(&client, &id).await;
    assert_eq!(
        group.containers[0].image, "nginx",
        "refused updates change nothing"
    );
}

#[tokio::test]
async fn the_container_group_flow_converges_under_throttling_and_server_errors() {
    let cfg = Config {
        faults: FaultConfig {
            throttle_rate: 0.3,
            error_rate: 0.1,
            retry_after_ms: 2,
            seed: 7,
        },
        ..config()
    };
    let (emulator, url) = start(cfg).await;
    let client = client(&url);
    let eci = client.eci();
    let mut ids = Vec::new();
    for n in 0..10 {
        let job = shell("main", &format!("echo job {n}"));
        ids.push(
            create(
                &client,
                &group_request(&format!("job-{n}"), vec![job], RestartPolicy::Never),
            )
            .await,
        );
    }
    assert_eq!(
        emulator.snapshot().container_groups.groups.len(),
        10,
        "ClientTokens kept retried creates from creating twice"
    );
    let all = eci
        .describe_all_container_groups(&DescribeContainerGroupsRequest {
            limit: Some(3),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 10);
    assert!(
        all.iter().all(|g| g.status == "Succeeded"),
        "zero timing: jobs are done at once"
    );
    for (n, id) in ids.iter().enumerate() {
        let content = logs(&client, DescribeContainerLogRequest::new(id, "main")).await;
        assert_eq!(content, format!("job {n}\n"));
    }
    eci.update_container_group(&UpdateContainerGroupRequest {
        container_group_id: ids[0].clone(),
        containers: vec![shell("main", "echo again")],
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        logs(&client, DescribeContainerLogRequest::new(&ids[0], "main")).await,
        "again\n"
    );
    for id in &ids {
        eci.delete_container_group(id).await.unwrap();
    }
    assert!(emulator.snapshot().container_groups.groups.is_empty());
}

#[tokio::test]
async fn container_groups_and_their_history_survive_a_restart_with_a_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        state_dir: Some(dir.path().to_owned()),
        ..config()
    };
    let (_first, url) = start(cfg.clone()).await;
    let first = client(&url);
    let id = create(
        &first,
        &group_request(
            "durable",
            vec![shell("main", "echo kept; sleep 3600")],
            RestartPolicy::Never,
        ),
    )
    .await;
    first
        .eci()
        .update_container_group(&UpdateContainerGroupRequest {
            container_group_id: id.clone(),
            containers: vec![shell("main", "echo updated; sleep 3600")],
            ..Default::default()
        })
        .await
        .unwrap();

    let (second, url) = start(cfg).await;
    assert!(second.snapshot().container_groups.groups.contains_key(&id));
    let again = client(&url);
    let group = describe(&again, &id).await;
    assert_eq!(group.status, "Running");
    assert_eq!(
        group.containers[0].restart_count, 1,
        "the update's restart was persisted"
    );
    assert!(
        reasons(&group).contains(&"Scheduled"),
        "the first generation's events were persisted"
    );
    assert_eq!(
        logs(&again, DescribeContainerLogRequest::new(&id, "main")).await,
        "updated\n"
    );
}
