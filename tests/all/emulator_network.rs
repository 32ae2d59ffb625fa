//! The typed VPC, security-group and SLB clients against the emulator: the flows the
//! cloud-controller-manager's route and service controllers run, every validation error by its
//! code, and the same flows again with throttling and server errors injected.

use crate::support::{IMAGE, client, config, start};
use aliyun::Client;
use aliyun::ecs::{DeleteInstancesRequest, RunInstancesRequest};
use aliyun::slb::{
    BackendServer, CreateListenerRequest, CreateLoadBalancerRequest, CreateVServerGroupRequest,
    DescribeLoadBalancersRequest, ListTagResourcesRequest, ListenerProtocol,
};
use aliyun::vpc::{
    AuthorizeSecurityGroupRequest, CreateRouteEntryRequest, CreateSecurityGroupRequest,
    CreateVSwitchRequest, CreateVpcRequest, DeleteRouteEntryRequest, DescribeRouteEntryListRequest,
    DescribeRouteTableListRequest, DescribeSecurityGroupsRequest, DescribeVSwitchesRequest,
    DescribeVpcsRequest,
};
use aliyun_emu::{Config, FaultConfig};

/// The code of a failed call, panicking on success.
fn code<T: std::fmt::Debug>(result: aliyun::Result<T>) -> String {
    result
        .expect_err("the call should have failed")
        .code()
        .unwrap_or_default()
        .to_owned()
}

/// Launches `n` instances in `vswitch`; returns their ids.
async fn launch(client: &Client, vswitch: &str, n: u32) -> Vec<String> {
    client
        .ecs()
        .run_instances(&RunInstancesRequest {
            instance_type: "ecs.g7.large".into(),
            image_id: IMAGE.into(),
            vswitch_id: Some(vswitch.into()),
            amount: Some(n),
            ..Default::default()
        })
        .await
        .unwrap()
        .instance_ids
}

/// A VPC with one vSwitch in `cn-hangzhou-k`; returns (vpc, route table, vswitch).
async fn network(client: &Client, cidr: &str, vswitch_cidr: &str) -> (String, String, String) {
    let vpc = client
        .vpc()
        .create_vpc(&CreateVpcRequest {
            cidr_block: Some(cidr.into()),
            vpc_name: Some("cluster".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let vswitch = client
        .vpc()
        .create_vswitch(&CreateVSwitchRequest {
            vpc_id: vpc.vpc_id.clone(),
            zone_id: "cn-hangzhou-k".into(),
            cidr_block: vswitch_cidr.into(),
            vswitch_name: Some("nodes".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .vswitch_id;
    (vpc.vpc_id, vpc.route_table_id, vswitch)
}

/// The route-controller flow: VPC, vSwitch, instances in it, one pod-CIDR route per instance.
async fn vpc_and_routes_flow(client: &Client) {
    let (vpc, table, vswitch) = network(client, "192.168.0.0/16", "192.168.1.0/24").await;
    let vpcs = client
        .vpc()
        .describe_all_vpcs(&DescribeVpcsRequest {
            vpc_ids: vec![vpc.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(vpcs.len(), 1);
    assert_eq!(
        (
            vpcs[0].cidr_block.as_str(),
            vpcs[0].status.as_str(),
            vpcs[0].is_default
        ),
        ("192.168.0.0/16", "Available", false)
    );
    assert_eq!(vpcs[0].vswitch_ids, std::slice::from_ref(&vswitch));
    assert_eq!(vpcs[0].router_table_ids, std::slice::from_ref(&table));

    let nodes = launch(client, &vswitch, 2).await;
    let listed = client
        .vpc()
        .describe_all_vswitches(&DescribeVSwitchesRequest {
            vpc_id: Some(vpc.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].available_ip_address_count,
        256 - 4 - 2,
        "a /24 minus the 4 reserved addresses minus the 2 instances"
    );

    for (n, node) in nodes.iter().enumerate() {
        client
            .vpc()
            .create_route_entry(&CreateRouteEntryRequest {
                route_table_id: table.clone(),
                destination_cidr_block: format!("172.20.{n}.0/24"),
                next_hop_id: node.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let entries = client
        .vpc()
        .describe_all_route_entries(&DescribeRouteEntryListRequest {
            route_table_id: table.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let summary: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e.kind.as_str(),
                e.destination_cidr_block.as_str(),
                e.next_hops
                    .first()
                    .map(|h| h.next_hop_id.as_str())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("System", "192.168.1.0/24", ""),
            ("Custom", "172.20.0.0/24", nodes[0].as_str()),
            ("Custom", "172.20.1.0/24", nodes[1].as_str()),
        ]
    );
    let by_node = client
        .vpc()
        .describe_route_entry_list(&DescribeRouteEntryListRequest {
            route_table_id: table.clone(),
            next_hop_id: Some(nodes[1].clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_node.route_entries.len(), 1);
    client
        .vpc()
        .delete_route_entry(&DeleteRouteEntryRequest {
            route_table_id: Some(table.clone()),
            destination_cidr_block: Some("172.20.1.0/24".into()),
            next_hop_id: Some(nodes[1].clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let custom = client
        .vpc()
        .describe_all_route_entries(&DescribeRouteEntryListRequest {
            route_table_id: table.clone(),
            route_entry_type: Some("Custom".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(custom.len(), 1);
    let tables = client
        .vpc()
        .describe_route_table_list(&DescribeRouteTableListRequest {
            vpc_id: Some(vpc.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tables.router_table_list.len(), 1);
    assert_eq!(tables.router_table_list[0].route_table_id, table);
}

#[tokio::test]
async fn network_vpc_vswitches_and_routes_to_instances_round_trip() {
    let (_emulator, url) = start(config()).await;
    vpc_and_routes_flow(&client(&url)).await;
}

#[tokio::test]
async fn network_default_vpc_and_vswitches_are_listed_everywhere() {
    let (_emulator, url) = start(config()).await;
    let client = client(&url);
    let vpcs = client
        .vpc()
        .describe_all_vpcs(&DescribeVpcsRequest::default())
        .await
        .unwrap();
    assert_eq!(vpcs.len(), 1);
    assert_eq!(
        (vpcs[0].vpc_id.as_str(), vpcs[0].is_default),
        ("vpc-cn-hangzhou-default", true)
    );
    let vswitches = client
        .vpc()
        .describe_all_vswitches(&DescribeVSwitchesRequest {
            zone_id: Some("cn-hangzhou-k".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(vswitches.len(), 1);
    assert_eq!(vswitches[0].vswitch_id, "vsw-cn-hangzhou-k");
    assert!(vswitches[0].is_default);
    // An instance launched in a default vSwitch can be a route's next hop in the default table.
    let node = launch(&client, "vsw-cn-hangzhou-k", 1).await;
    client
        .vpc()
        .create_route_entry(&CreateRouteEntryRequest {
            route_table_id: "vtb-cn-hangzhou-default".into(),
            destination_cidr_block: "10.96.0.0/24".into(),
            next_hop_id: node[0].clone(),
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn network_vpc_errors_carry_their_codes() {
    let (_emulator, url) = start(config()).await;
    let client = client(&url);
    let vpc = client.vpc();
    assert_eq!(
        code(
            vpc.create_vpc(&CreateVpcRequest {
                cidr_block: Some("8.8.0.0/16".into()),
                ..Default::default()
            })
            .await
        ),
        "InvalidCidrBlock.Malformed",
        "a public block is not a VPC CIDR"
    );
    let (vpc_id, table, vswitch) = network(&client, "10.0.0.0/16", "10.0.1.0/24").await;
    let vswitch_in = |cidr: &str| CreateVSwitchRequest {
        vpc_id: vpc_id.clone(),
        zone_id: "cn-hangzhou-j".into(),
        cidr_block: cidr.into(),
        ..Default::default()
    };
    assert_eq!(
        code(vpc.create_vswitch(&vswitch_in("10.0.1.128/25")).await),
        "InvalidCidrBlock.Overlapped"
    );
    assert_eq!(
        code(vpc.create_vswitch(&vswitch_in("10.1.0.0/24")).await),
        "InvalidParameter",
        "outside the VPC's block"
    );
    assert_eq!(
        code(vpc.create_vswitch(&vswitch_in("10.0.2.1/24")).await),
        "InvalidCidrBlock.Malformed",
        "host bits set"
    );
    let node = launch(&client, &vswitch, 1).await;
    let route = |dest: &str, hop: &str| CreateRouteEntryRequest {
        route_table_id: table.clone(),
        destination_cidr_block: dest.into(),
        next_hop_id: hop.into(),
        ..Default::default()
    };
    vpc.create_route_entry(&route("172.20.0.0/24", &node[0]))
        .await
        .unwrap();
    assert_eq!(
        code(
            vpc.create_route_entry(&route("172.20.0.0/24", &node[0]))
                .await
        ),
        "InvalidCIDRBlock.Duplicate"
    );
    assert_eq!(
        code(
            vpc.create_route_entry(&route("172.21.0.0/24", "i-nope"))
                .await
        ),
        "InvalidNextHopId.NotFound"
    );
    assert_eq!(
        code(
            vpc.create_route_entry(&route("172.21.0.0/33", &node[0]))
                .await
        ),
        "InvalidCidrBlock.Malformed"
    );
    assert_eq!(
        code(
            vpc.create_route_entry(&CreateRouteEntryRequest {
                route_table_id: "vtb-nope".into(),
                ..route("172.22.0.0/24", &node[0])
            })
            .await
        ),
        "InvalidRouteTableId.NotFound"
    );
    // Delete while in use: the vSwitch holds an instance, the VPC holds the vSwitch.
    assert_eq!(
        code(vpc.delete_vswitch(&vswitch).await),
        "DependencyViolation"
    );
    assert_eq!(
        code(vpc.delete_vpc(&vpc_id).await),
        "DependencyViolation.VSwitch"
    );
    client
        .ecs()
        .delete_instances(&DeleteInstancesRequest {
            instance_ids: node,
            force: Some(true),
            client_token: None,
        })
        .await
        .unwrap();
    vpc.delete_vswitch(&vswitch).await.unwrap();
    vpc.delete_vpc(&vpc_id).await.unwrap();
    assert_eq!(code(vpc.delete_vpc(&vpc_id).await), "InvalidVpcId.NotFound");
}

/// A security group with one rule; returns its id.
async fn security_group_flow(client: &Client, vpc_id: &str) -> String {
    let vpc = client.vpc();
    let group = vpc
        .create_security_group(&CreateSecurityGroupRequest {
            vpc_id: Some(vpc_id.into()),
            security_group_name: Some("nodes".into()),
            tags: vec![("cluster".into(), "c1".into())],
            ..Default::default()
        })
        .await
        .unwrap()
        .security_group_id;
    let rule = AuthorizeSecurityGroupRequest {
        security_group_id: group.clone(),
        ip_protocol: "tcp".into(),
        port_range: "30000/32767".into(),
        source_cidr_ip: Some("0.0.0.0/0".into()),
        ..Default::default()
    };
    vpc.authorize_security_group(&rule).await.unwrap();
    vpc.authorize_security_group(&rule).await.unwrap();
    let attribute = vpc.describe_security_group_attribute(&group).await.unwrap();
    assert_eq!(
        attribute.permissions.len(),
        1,
        "authorizing the same rule twice keeps one"
    );
    assert_eq!(
        (
            attribute.permissions[0].ip_protocol.as_str(),
            attribute.permissions[0].port_range.as_str()
        ),
        ("TCP", "30000/32767")
    );
    let listed = vpc
        .describe_all_security_groups(&DescribeSecurityGroupsRequest {
            security_group_ids: vec![group.clone()],
            tags: vec![("cluster".into(), "c1".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].vpc_id.as_str(), listed[0].rule_count),
        (vpc_id, 1)
    );
    group
}

#[tokio::test]
async fn network_security_groups_hold_rules_and_refuse_bad_ones() {
    let (_emulator, url) = start(config()).await;
    let client = client(&url);
    let (vpc_id, _, _) = network(&client, "10.0.0.0/16", "10.0.1.0/24").await;
    let group = security_group_flow(&client, &vpc_id).await;
    let vpc = client.vpc();
    let rule = |protocol: &str, ports: &str, source: &str| AuthorizeSecurityGroupRequest {
        security_group_id: group.clone(),
        ip_protocol: protocol.into(),
        port_range: ports.into(),
        source_cidr_ip: Some(source.into()),
        ..Default::default()
    };
    assert_eq!(
        code(
            vpc.authorize_security_group(&rule("tcp", "0/80", "10.0.0.0/8"))
                .await
        ),
        "InvalidPortRange.Malformed"
    );
    assert_eq!(
        code(
            vpc.authorize_security_group(&rule("sctp", "1/2", "10.0.0.0/8"))
                .await
        ),
        "InvalidIpProtocol.Malformed"
    );
    assert_eq!(
        code(
            vpc.authorize_security_group(&rule("tcp", "1/2", "10.0.0.300"))
                .await
        ),
        "InvalidSourceCidrIp.Malformed"
    );
    assert_eq!(
        code(
            vpc.create_security_group(&CreateSecurityGroupRequest {
                vpc_id: Some("vpc-nope".into()),
                ..Default::default()
            })
            .await
        ),
        "InvalidVpcId.NotFound"
    );
    assert_eq!(
        code(vpc.delete_vpc(&vpc_id).await),
        "DependencyViolation.VSwitch"
    );
    // An instance in the group keeps it alive.
    let node = client
        .ecs()
        .run_instances(&RunInstancesRequest {
            instance_type: "ecs.g7.large".into(),
            image_id: IMAGE.into(),
            vswitch_id: Some("vsw-cn-hangzhou-k".into()),
            security_group_id: Some(group.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .instance_ids;
    assert_eq!(
        code(vpc.delete_security_group(&group).await),
        "DependencyViolation"
    );
    client
        .ecs()
        .delete_instances(&DeleteInstancesRequest {
            instance_ids: node,
            force: Some(true),
            client_token: None,
        })
        .await
        .unwrap();
    vpc.delete_security_group(&group).await.unwrap();
    assert_eq!(
        code(vpc.describe_security_group_attribute(&group).await),
        "InvalidSecurityGroupId.NotFound"
    );
}

/// The service-controller flow: an intranet LB in `vswitch`, a VServer group with two instance
/// backends, a TCP listener on it, started. Returns (lb, group, backends).
async fn load_balancer_flow(client: &Client, vswitch: &str) -> (String, String, Vec<String>) {
    let slb = client.slb();
    let nodes = launch(client, vswitch, 2).await;
    let lb = slb
        .create_load_balancer(&CreateLoadBalancerRequest {
            load_balancer_name: Some("svc-web".into()),
            address_type: Some("intranet".into()),
            vswitch_id: Some(vswitch.into()),
            load_balancer_spec: Some("slb.s1.small".into()),
            tags: vec![("kubernetes.do.not.delete".into(), "svc-web".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        lb.address.starts_with("192.168.1."),
        "an intranet address from the vSwitch: {}",
        lb.address
    );
    assert_eq!(lb.network_type, "vpc");
    let group = slb
        .create_vserver_group(&CreateVServerGroupRequest {
            load_balancer_id: lb.load_balancer_id.clone(),
            vserver_group_name: Some("k8s/80/web/default".into()),
            backend_servers: nodes
                .iter()
                .map(|n| BackendServer::ecs(n, 30080, 100))
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap()
        .vserver_group_id;
    slb.create_load_balancer_tcp_listener(&CreateListenerRequest {
        load_balancer_id: lb.load_balancer_id.clone(),
        listener_port: 80,
        vserver_group_id: Some(group.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let listener = slb
        .describe_load_balancer_tcp_listener_attribute(&lb.load_balancer_id, 80)
        .await
        .unwrap();
    assert_eq!(
        (listener.status.as_str(), listener.bandwidth),
        ("stopped", -1)
    );
    slb.start_load_balancer_listener(&lb.load_balancer_id, 80, None)
        .await
        .unwrap();
    let listener = slb
        .describe_load_balancer_tcp_listener_attribute(&lb.load_balancer_id, 80)
        .await
        .unwrap();
    assert_eq!(
        (listener.status.as_str(), listener.vserver_group_id.as_str()),
        ("running", group.as_str())
    );
    let attribute = slb
        .describe_load_balancer_attribute(&lb.load_balancer_id)
        .await
        .unwrap();
    assert_eq!(attribute.listener_ports, [80]);
    assert_eq!(
        attribute.listener_ports_and_protocol[0].listener_protocol,
        "tcp"
    );
    assert_eq!(attribute.load_balancer.address, lb.address);
    let members = slb.describe_vserver_group_attribute(&group).await.unwrap();
    let mut servers: Vec<&str> = members
        .backend_servers
        .iter()
        .map(|b| b.server_id.as_str())
        .collect();
    servers.sort_unstable();
    let mut expected: Vec<&str> = nodes.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(servers, expected);
    assert!(members.backend_servers.iter().all(|b| b.port == 30080));
    let listed = slb
        .describe_all_load_balancers(&DescribeLoadBalancersRequest {
            tags: vec![("kubernetes.do.not.delete".into(), "svc-web".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].load_balancer_id, lb.load_balancer_id);
    (lb.load_balancer_id, group, nodes)
}

#[tokio::test]
async fn network_load_balancer_with_a_tcp_listener_on_a_vserver_group() {
    let (_emulator, url) = start(config()).await;
    let client = client(&url);
    let (_, _, vswitch) = network(&client, "192.168.0.0/16", "192.168.1.0/24").await;
    let (lb, group, nodes) = load_balancer_flow(&client, &vswitch).await;
    let slb = client.slb();

    // Backends: reweight one, swap the other for a new instance, then remove.
    slb.set_vserver_group_attribute(&group, None, &[BackendServer::ecs(&nodes[0], 30080, 0)])
        .await
        .unwrap();
    let spare = launch(&client, &vswitch, 1).await;
    let swapped = slb
        .modify_vserver_group_backend_servers(
            &group,
            &[BackendServer::ecs(&nodes[1], 30080, 100)],
            &[BackendServer::ecs(&spare[0], 30080, 100)],
        )
        .await
        .unwrap();
    let mut now: Vec<(String, u32)> = swapped
        .backend_servers
        .iter()
        .map(|b| (b.server_id.clone(), b.weight))
        .collect();
    now.sort();
    let mut expected = vec![(nodes[0].clone(), 0), (spare[0].clone(), 100)];
    expected.sort();
    assert_eq!(now, expected);

    // A released instance leaves the group on its own.
    client
        .ecs()
        .delete_instances(&DeleteInstancesRequest {
            instance_ids: spare.clone(),
            force: Some(true),
            client_token: None,
        })
        .await
        .unwrap();
    let left = slb.describe_vserver_group_attribute(&group).await.unwrap();
    assert_eq!(left.backend_servers.len(), 1);
    assert_eq!(left.backend_servers[0].server_id, nodes[0]);
    slb.remove_vserver_group_backend_servers(&group, &[BackendServer::ecs(&nodes[0], 30080, 0)])
        .await
        .unwrap();
    let groups = slb.describe_vserver_groups(&lb).await.unwrap();
    assert_eq!(groups.vserver_groups.len(), 1);
    assert_eq!(groups.vserver_groups[0].server_count, 0);
    assert_eq!(
        groups.vserver_groups[0].associated_objects.listeners[0].port,
        80
    );

    // Tags, both APIs.
    slb.tag_resources(std::slice::from_ref(&lb), &[("owner".into(), "ccm".into())])
        .await
        .unwrap();
    let tagged = slb
        .list_all_tag_resources(&ListTagResourcesRequest {
            load_balancer_ids: vec![lb.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tagged.len(), 2, "{tagged:?}");
    slb.untag_resources(std::slice::from_ref(&lb), &["owner".into()], false)
        .await
        .unwrap();
    slb.add_tags(&lb, &[("team".into(), "web".into())])
        .await
        .unwrap();
    let sets = slb.describe_tags(Some(&lb)).await.unwrap();
    let keys: Vec<&str> = sets.tag_sets.iter().map(|t| t.tag_key.as_str()).collect();
    assert_eq!(keys, ["kubernetes.do.not.delete", "team"]);

    // Tear down in order.
    slb.stop_load_balancer_listener(&lb, 80, Some(ListenerProtocol::Tcp))
        .await
        .unwrap();
    slb.delete_load_balancer_listener(&lb, 80, None)
        .await
        .unwrap();
    slb.delete_vserver_group(&group).await.unwrap();
    slb.delete_load_balancer(&lb).await.unwrap();
    assert_eq!(
        code(slb.describe_load_balancer_attribute(&lb).await),
        "InvalidLoadBalancerId.NotFound"
    );
}

#[tokio::test]
async fn network_internet_load_balancers_get_documentation_addresses() {
    let (_emulator, url) = start(config()).await;
    let client = client(&url);
    let lb = client
        .slb()
        .create_load_balancer(&CreateLoadBalancerRequest::default())
        .await
        .unwrap();
    assert!(
        lb.address.starts_with("198.51.100."),
        "RFC 5737 TEST-NET-2: {}",
        lb.address
    );
    assert!(lb.vpc_id.is_empty());
}

#[tokio::test]
async fn network_slb_errors_carry_their_codes() {
    let (_emulator, url) = start(config()).await;
    let client = client(&url);
    let slb = client.slb();
    let (_, _, vswitch) = network(&client, "192.168.0.0/16", "192.168.1.0/24").await;
    let (lb, group, nodes) = load_balancer_flow(&client, &vswitch).await;

    assert_eq!(
        code(
            slb.add_vserver_group_backend_servers(&group, &[BackendServer::ecs("i-nope", 80, 100)])
                .await
        ),
        "InvalidBackendServer.NotFound"
    );
    let bad_port = BackendServer {
        port: 70000,
        ..BackendServer::ecs(&nodes[0], 80, 100)
    };
    assert_eq!(
        code(
            slb.add_vserver_group_backend_servers(&group, &[bad_port])
                .await
        ),
        "InvalidParameter"
    );
    assert_eq!(
        code(
            slb.add_vserver_group_backend_servers(
                &group,
                &[BackendServer::ecs(&nodes[0], 80, 101)]
            )
            .await
        ),
        "InvalidParameter",
        "weight above 100"
    );
    let listener = |port: u16| CreateListenerRequest {
        load_balancer_id: lb.clone(),
        listener_port: port,
        vserver_group_id: Some(group.clone()),
        ..Default::default()
    };
    assert_eq!(
        code(slb.create_load_balancer_tcp_listener(&listener(80)).await),
        "ListenerAlreadyExists"
    );
    assert_eq!(
        code(slb.create_load_balancer_http_listener(&listener(80)).await),
        "ListenerAlreadyExists",
        "HTTP shares the TCP port space"
    );
    slb.create_load_balancer_udp_listener(&listener(80))
        .await
        .unwrap();
    assert_eq!(
        code(slb.create_load_balancer_tcp_listener(&listener(0)).await),
        "InvalidParameter"
    );
    assert_eq!(
        code(
            slb.create_load_balancer_tcp_listener(&CreateListenerRequest {
                vserver_group_id: None,
                ..listener(81)
            })
            .await
        ),
        "MissingParameter",
        "no backend port and no VServer group"
    );
    // A VServer group of another load balancer cannot serve this one's listener.
    let other = slb
        .create_load_balancer(&CreateLoadBalancerRequest::default())
        .await
        .unwrap()
        .load_balancer_id;
    let foreign = slb
        .create_vserver_group(&CreateVServerGroupRequest {
            load_balancer_id: other.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .vserver_group_id;
    assert_eq!(
        code(
            slb.create_load_balancer_tcp_listener(&CreateListenerRequest {
                vserver_group_id: Some(foreign),
                ..listener(82)
            })
            .await
        ),
        "InvalidParameter.VServerGroupId"
    );
    assert_eq!(
        code(slb.start_load_balancer_listener(&lb, 80, None).await),
        "MissingParameter",
        "port 80 has a TCP and a UDP listener: the protocol must be named"
    );
    // Delete while in use, and delete protection.
    assert_eq!(
        code(slb.delete_vserver_group(&group).await),
        "RspoolVipExist"
    );
    slb.set_load_balancer_delete_protection(&lb, true)
        .await
        .unwrap();
    assert_eq!(
        code(slb.delete_load_balancer(&lb).await),
        "OperationDenied.DeleteProtectionIsOn"
    );
    assert_eq!(
        code(client.vpc().delete_vswitch(&vswitch).await),
        "DependencyViolation",
        "the load balancer and the instances live in the vSwitch"
    );
    slb.set_load_balancer_delete_protection(&lb, false)
        .await
        .unwrap();
    slb.delete_load_balancer(&lb).await.unwrap();
    assert_eq!(
        code(slb.describe_vserver_group_attribute(&group).await),
        "InvalidParameter",
        "a load balancer's groups go with it"
    );
}

fn faulty(throttle_rate: f64, error_rate: f64) -> Config {
    Config {
        faults: FaultConfig {
            throttle_rate,
            error_rate,
            retry_after_ms: 2,
            seed: 7,
        },
        ..config()
    }
}

#[tokio::test]
async fn network_flows_complete_under_heavy_throttling() {
    // Throttled requests never ran, so every action (idempotent or not) is safe to retry.
    let (emulator, url) = start(faulty(0.4, 0.0)).await;
    let client = client(&url);
    vpc_and_routes_flow(&client).await;
    let (vpc_id, _, _) = network(&client, "10.0.0.0/16", "10.0.1.0/24").await;
    security_group_flow(&client, &vpc_id).await;
    let (_, _, lb_vswitch) = network(&client, "192.168.0.0/16", "192.168.1.0/24").await;
    load_balancer_flow(&client, &lb_vswitch).await;
    let world = emulator.snapshot();
    assert_eq!(world.network.vpcs.len(), 3);
    assert_eq!(world.load_balancers.vserver_groups.len(), 1);
}

#[tokio::test]
async fn network_creates_with_client_tokens_happen_once_despite_lost_replies() {
    // Server errors after the action ran (lost replies) make the client retry a create that
    // succeeded. The actions with a ClientToken must not create twice; the ones without one
    // (listeners, VServer groups, route deletions) are as unsafe to retry here as on the real
    // cloud, so this test sticks to the former.
    let (emulator, url) = start(faulty(0.2, 0.2)).await;
    let client = client(&url);
    let vpc = client.vpc();
    let node = launch(&client, "vsw-cn-hangzhou-k", 1).await;
    for n in 0..10u8 {
        let created = vpc
            .create_vpc(&CreateVpcRequest {
                cidr_block: Some(format!("10.{n}.0.0/16")),
                ..Default::default()
            })
            .await
            .unwrap();
        vpc.create_vswitch(&CreateVSwitchRequest {
            vpc_id: created.vpc_id.clone(),
            zone_id: "cn-hangzhou-k".into(),
            cidr_block: format!("10.{n}.1.0/24"),
            ..Default::default()
        })
        .await
        .unwrap();
        vpc.create_security_group(&CreateSecurityGroupRequest {
            vpc_id: Some(created.vpc_id),
            ..Default::default()
        })
        .await
        .unwrap();
        vpc.create_route_entry(&CreateRouteEntryRequest {
            route_table_id: "vtb-cn-hangzhou-default".into(),
            destination_cidr_block: format!("172.{}.0.0/16", 32 + n),
            next_hop_id: node[0].clone(),
            ..Default::default()
        })
        .await
        .unwrap();
        client
            .slb()
            .create_load_balancer(&CreateLoadBalancerRequest::default())
            .await
            .unwrap();
    }
    let world = emulator.snapshot();
    assert_eq!(world.instances.len(), 1);
    assert_eq!(world.network.vpcs.len(), 10);
    assert_eq!(world.network.vswitches.len(), 10);
    assert_eq!(world.network.security_groups.len(), 10);
    assert_eq!(world.network.routes.len(), 10);
    assert_eq!(world.load_balancers.balancers.len(), 10);
}
