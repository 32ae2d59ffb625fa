"""SLB 2014-05-15 through the official Python SDK (alibabacloud-slb20140515), in both signing modes: the calls
cloud-provider-alibaba-cloud's service controller makes (load balancer, VServer group with ECS backends, TCP
listener, start, describe) and the errors it branches on."""

from __future__ import annotations

import json

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_slb20140515 import models as slb_models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_vpc20160428 import models as vpc_models

from sdkhelpers import REGION, ZONE, unique


def error_code(call) -> str:
    with pytest.raises(ClientException) as info:
        call()
    return info.value.code


def backends(ids: list[str], port: int = 30080, weight: int = 100) -> str:
    return json.dumps([{"ServerId": i, "Port": port, "Weight": weight, "Type": "ecs"} for i in ids])


@pytest.fixture
def network(vpc, ecs):
    """A fresh VPC with one /24 vSwitch and two instances in it: (vswitch_id, [instance ids])."""
    created = vpc.create_vpc(vpc_models.CreateVpcRequest(
        region_id=REGION, cidr_block="192.168.0.0/16", client_token=unique("tok"))).body
    vswitch = vpc.create_vswitch(vpc_models.CreateVSwitchRequest(
        region_id=REGION, vpc_id=created.vpc_id, zone_id=ZONE, cidr_block="192.168.7.0/24")).body.v_switch_id
    ids = ecs.run_instances(ecs_models.RunInstancesRequest(
        region_id=REGION, instance_type="ecs.g7.large", image_id="aliyun_3_x64_20G_alibase_20240819.vhd",
        v_switch_id=vswitch, amount=2, client_token=unique("tok"))).body.instance_id_sets.instance_id_set
    return vswitch, list(ids)


def intranet_lb(slb, vswitch: str, **extra) -> slb_models.CreateLoadBalancerResponseBody:
    return slb.create_load_balancer(slb_models.CreateLoadBalancerRequest(
        region_id=REGION, load_balancer_name=unique("svc"), address_type="intranet", v_switch_id=vswitch,
        load_balancer_spec="slb.s1.small", client_token=unique("tok"),
        tag=[slb_models.CreateLoadBalancerRequestTag(key="kubernetes.do.not.delete", value="svc")], **extra)).body


def vserver_group(slb, lb: str, ids: list[str]) -> str:
    return slb.create_vserver_group(slb_models.CreateVServerGroupRequest(
        region_id=REGION, load_balancer_id=lb, vserver_group_name="k8s/80/web/default",
        backend_servers=backends(ids))).body.vserver_group_id


def tcp_listener(slb, lb: str, group: str, port: int = 80):
    return slb.create_load_balancer_tcplistener(slb_models.CreateLoadBalancerTCPListenerRequest(
        region_id=REGION, load_balancer_id=lb, listener_port=port, bandwidth=-1, vserver_group_id=group))


def test_a_load_balancer_forwards_a_started_tcp_listener_to_a_vserver_group(slb, ecs, network):
    vswitch, nodes = network
    lb = intranet_lb(slb, vswitch)
    assert lb.load_balancer_id.startswith("lb-"), lb.to_map()
    assert lb.address.startswith("192.168.7."), lb.to_map()
    assert (lb.network_type, lb.v_switch_id) == ("vpc", vswitch)

    group = slb.create_vserver_group(slb_models.CreateVServerGroupRequest(
        region_id=REGION, load_balancer_id=lb.load_balancer_id, vserver_group_name="web",
        backend_servers=backends(nodes))).body
    assert group.vserver_group_id.startswith("rsp-"), group.to_map()
    assert sorted(b.server_id for b in group.backend_servers.backend_server) == sorted(nodes)

    tcp_listener(slb, lb.load_balancer_id, group.vserver_group_id)
    attr = slb.describe_load_balancer_tcplistener_attribute(slb_models.DescribeLoadBalancerTCPListenerAttributeRequest(
        region_id=REGION, load_balancer_id=lb.load_balancer_id, listener_port=80)).body
    assert (attr.status, attr.bandwidth, attr.vserver_group_id) == ("stopped", -1, group.vserver_group_id)
    slb.start_load_balancer_listener(slb_models.StartLoadBalancerListenerRequest(
        region_id=REGION, load_balancer_id=lb.load_balancer_id, listener_port=80))
    attr = slb.describe_load_balancer_tcplistener_attribute(slb_models.DescribeLoadBalancerTCPListenerAttributeRequest(
        region_id=REGION, load_balancer_id=lb.load_balancer_id, listener_port=80)).body
    assert attr.status == "running"

    body = slb.describe_load_balancer_attribute(slb_models.DescribeLoadBalancerAttributeRequest(
        region_id=REGION, load_balancer_id=lb.load_balancer_id)).body
    assert body.listener_ports.listener_port == [80], body.to_map()
    assert [(p.listener_port, p.listener_protocol) for p in body.listener_ports_and_protocol.listener_port_and_protocol] \
        == [(80, "tcp")]
    assert (body.address, body.load_balancer_status, body.delete_protection) == (lb.address, "active", "off")

    members = slb.describe_vserver_group_attribute(slb_models.DescribeVServerGroupAttributeRequest(
        region_id=REGION, vserver_group_id=group.vserver_group_id)).body
    assert sorted((b.server_id, b.port, b.weight) for b in members.backend_servers.backend_server) == sorted(
        (n, 30080, 100) for n in nodes)
    assert all(b.server_ip for b in members.backend_servers.backend_server), members.to_map()

    groups = slb.describe_vserver_groups(slb_models.DescribeVServerGroupsRequest(
        region_id=REGION, load_balancer_id=lb.load_balancer_id, include_listener=True)).body
    only = groups.vserver_groups.vserver_group[0]
    assert (only.server_count, only.associated_objects.listeners.listener[0].port) == (2, 80)

    listed = slb.describe_load_balancers(slb_models.DescribeLoadBalancersRequest(
        region_id=REGION, tags=json.dumps([{"TagKey": "kubernetes.do.not.delete", "TagValue": "svc"}]),
        load_balancer_id=lb.load_balancer_id)).body
    assert [b.load_balancer_id for b in listed.load_balancers.load_balancer] == [lb.load_balancer_id]


def test_backends_change_and_released_instances_leave_their_groups(slb, ecs, network):
    vswitch, nodes = network
    lb = intranet_lb(slb, vswitch).load_balancer_id
    group = vserver_group(slb, lb, nodes[:1])
    slb.add_vserver_group_backend_servers(slb_models.AddVServerGroupBackendServersRequest(
        region_id=REGION, vserver_group_id=group, backend_servers=backends(nodes[1:])))
    slb.set_vserver_group_attribute(slb_models.SetVServerGroupAttributeRequest(
        region_id=REGION, vserver_group_id=group, backend_servers=backends(nodes[:1], weight=0)))
    members = slb.describe_vserver_group_attribute(slb_models.DescribeVServerGroupAttributeRequest(
        region_id=REGION, vserver_group_id=group)).body.backend_servers.backend_server
    assert sorted((b.server_id, b.weight) for b in members) == sorted([(nodes[0], 0), (nodes[1], 100)])

    ecs.delete_instances(ecs_models.DeleteInstancesRequest(region_id=REGION, instance_id=nodes[1:], force=True))
    members = slb.describe_vserver_group_attribute(slb_models.DescribeVServerGroupAttributeRequest(
        region_id=REGION, vserver_group_id=group)).body.backend_servers.backend_server
    assert [b.server_id for b in members] == nodes[:1]

    slb.remove_vserver_group_backend_servers(slb_models.RemoveVServerGroupBackendServersRequest(
        region_id=REGION, vserver_group_id=group, backend_servers=backends(nodes[:1])))
    body = slb.describe_vserver_group_attribute(slb_models.DescribeVServerGroupAttributeRequest(
        region_id=REGION, vserver_group_id=group)).body
    assert not (body.backend_servers.backend_server if body.backend_servers else [])
    slb.delete_vserver_group(slb_models.DeleteVServerGroupRequest(region_id=REGION, vserver_group_id=group))


def test_tags_through_both_tag_apis(slb, network):
    vswitch, _ = network
    lb = intranet_lb(slb, vswitch).load_balancer_id
    slb.tag_resources(slb_models.TagResourcesRequest(
        region_id=REGION, resource_type="instance", resource_id=[lb],
        tag=[slb_models.TagResourcesRequestTag(key="owner", value="ccm")]))
    rows = slb.list_tag_resources(slb_models.ListTagResourcesRequest(
        region_id=REGION, resource_type="instance", resource_id=[lb])).body.tag_resources.tag_resource
    assert sorted((r.tag_key, r.tag_value) for r in rows) == [("kubernetes.do.not.delete", "svc"), ("owner", "ccm")]
    slb.untag_resources(slb_models.UntagResourcesRequest(
        region_id=REGION, resource_type="instance", resource_id=[lb], tag_key=["owner"]))
    slb.add_tags(slb_models.AddTagsRequest(
        region_id=REGION, load_balancer_id=lb, tags=json.dumps([{"TagKey": "team", "TagValue": "web"}])))
    sets = slb.describe_tags(slb_models.DescribeTagsRequest(region_id=REGION, load_balancer_id=lb)).body
    assert [(s.tag_key, s.instance_count) for s in sets.tag_sets.tag_set] == [("kubernetes.do.not.delete", 1),
                                                                            ("team", 1)]


def test_an_internet_load_balancer_gets_a_documentation_address(slb):
    body = slb.create_load_balancer(slb_models.CreateLoadBalancerRequest(
        region_id=REGION, address_type="internet", client_token=unique("tok"))).body
    first, second, third, _ = body.address.split(".")
    assert (first, second, third) in {("198", "51", "100"), ("203", "0", "113"), ("192", "0", "2")}, body.to_map()


def test_slb_errors_carry_their_codes(slb, vpc, network):
    vswitch, nodes = network
    lb = intranet_lb(slb, vswitch).load_balancer_id
    group = vserver_group(slb, lb, nodes)
    tcp_listener(slb, lb, group)

    def add(servers: str):
        return lambda: slb.add_vserver_group_backend_servers(slb_models.AddVServerGroupBackendServersRequest(
            region_id=REGION, vserver_group_id=group, backend_servers=servers))

    assert error_code(add(backends(["i-doesnotexist"]))) == "InvalidBackendServer.NotFound"
    assert error_code(add(backends(nodes[:1], port=0))) == "InvalidParameter"
    assert error_code(add(backends(nodes[:1], weight=101))) == "InvalidParameter"
    assert error_code(add("not json")) == "InvalidParameter"
    assert error_code(lambda: tcp_listener(slb, lb, group)) == "ListenerAlreadyExists"
    assert error_code(lambda: tcp_listener(slb, lb, group, port=65536)) == "InvalidParameter"
    assert error_code(lambda: slb.create_load_balancer_tcplistener(slb_models.CreateLoadBalancerTCPListenerRequest(
        region_id=REGION, load_balancer_id=lb, listener_port=81, backend_server_port=80))) == "MissingParameter"
    assert error_code(lambda: tcp_listener(slb, "lb-doesnotexist", group)) == "InvalidLoadBalancerId.NotFound"
    assert error_code(lambda: slb.delete_vserver_group(slb_models.DeleteVServerGroupRequest(
        region_id=REGION, vserver_group_id=group))) == "RspoolVipExist"
    assert error_code(lambda: vpc.delete_vswitch(vpc_models.DeleteVSwitchRequest(
        region_id=REGION, v_switch_id=vswitch))) == "DependencyViolation"

    slb.set_load_balancer_delete_protection(slb_models.SetLoadBalancerDeleteProtectionRequest(
        region_id=REGION, load_balancer_id=lb, delete_protection="on"))
    assert error_code(lambda: slb.delete_load_balancer(slb_models.DeleteLoadBalancerRequest(
        region_id=REGION, load_balancer_id=lb))) == "OperationDenied.DeleteProtectionIsOn"
    slb.set_load_balancer_delete_protection(slb_models.SetLoadBalancerDeleteProtectionRequest(
        region_id=REGION, load_balancer_id=lb, delete_protection="off"))
    slb.delete_load_balancer(slb_models.DeleteLoadBalancerRequest(region_id=REGION, load_balancer_id=lb))
    assert error_code(lambda: slb.describe_vserver_group_attribute(slb_models.DescribeVServerGroupAttributeRequest(
        region_id=REGION, vserver_group_id=group))) == "InvalidParameter"
