"""VPC 2016-04-28 (alibabacloud-vpc20160428) and the ECS security groups (alibabacloud-ecs20140526) through the
official Python SDKs, in both signing modes: the network a cluster needs and the routes its
cloud-controller-manager adds for pod CIDRs, plus the errors a caller must be able to branch on."""

from __future__ import annotations

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_vpc20160428 import models as vpc_models

from sdkhelpers import REGION, VSWITCH, ZONE, describe_error, run_instances, unique


def error_code(call) -> str:
    with pytest.raises(ClientException) as info:
        call()
    return info.value.code


def create_vpc(vpc, cidr: str = "192.168.0.0/16") -> vpc_models.CreateVpcResponseBody:
    return vpc.create_vpc(vpc_models.CreateVpcRequest(
        region_id=REGION, cidr_block=cidr, vpc_name=unique("vpc"), client_token=unique("tok"))).body


def create_vswitch(vpc, vpc_id: str, cidr: str, zone: str = ZONE) -> str:
    return vpc.create_vswitch(vpc_models.CreateVSwitchRequest(
        region_id=REGION, vpc_id=vpc_id, zone_id=zone, cidr_block=cidr, v_switch_name=unique("vsw"))).body.v_switch_id


def launch_in(ecs, vswitch_id: str, amount: int = 1) -> list[str]:
    body = ecs.run_instances(ecs_models.RunInstancesRequest(
        region_id=REGION, instance_type="ecs.g7.large", image_id="aliyun_3_x64_20G_alibase_20240819.vhd",
        v_switch_id=vswitch_id, amount=amount, client_token=unique("tok"))).body
    return list(body.instance_id_sets.instance_id_set)


def release(ecs, ids: list[str]) -> None:
    ecs.delete_instances(ecs_models.DeleteInstancesRequest(region_id=REGION, instance_id=ids, force=True))


def route_entries(vpc, table: str, **filters) -> list:
    body = vpc.describe_route_entry_list(vpc_models.DescribeRouteEntryListRequest(
        region_id=REGION, route_table_id=table, **filters)).body
    return list(body.route_entrys.route_entry or []) if body.route_entrys else []


def test_the_default_vpc_and_its_vswitches_are_listed(vpc):
    body = vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=REGION, is_default=True)).body
    ids = [v.vpc_id for v in body.vpcs.vpc]
    assert ids == [f"vpc-{REGION}-default"], body.to_map()
    assert body.vpcs.vpc[0].cidr_block == "172.16.0.0/12"
    vsw = vpc.describe_vswitches(vpc_models.DescribeVSwitchesRequest(region_id=REGION, v_switch_id=VSWITCH)).body
    assert vsw.total_count == 1, vsw.to_map()
    assert vsw.v_switches.v_switch[0].zone_id == ZONE
    assert vsw.v_switches.v_switch[0].is_default is True


def test_a_vpc_with_a_vswitch_and_pod_routes_to_its_instances(vpc, ecs):
    created = create_vpc(vpc)
    assert created.vpc_id.startswith("vpc-") and created.route_table_id.startswith("vtb-"), created.to_map()
    vswitch = create_vswitch(vpc, created.vpc_id, "192.168.1.0/24")
    listed = vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=REGION, vpc_id=created.vpc_id)).body
    assert listed.total_count == 1
    got = listed.vpcs.vpc[0]
    assert (got.status, got.cidr_block, got.vrouter_id) == ("Available", "192.168.0.0/16", created.vrouter_id)
    assert got.v_switch_ids.v_switch_id == [vswitch]

    nodes = launch_in(ecs, vswitch, 2)
    vsw = vpc.describe_vswitches(vpc_models.DescribeVSwitchesRequest(region_id=REGION, vpc_id=created.vpc_id)).body
    assert vsw.v_switches.v_switch[0].available_ip_address_count == 256 - 4 - 2

    for n, node in enumerate(nodes):
        entry = vpc.create_route_entry(vpc_models.CreateRouteEntryRequest(
            region_id=REGION, route_table_id=created.route_table_id, destination_cidr_block=f"172.20.{n}.0/24",
            next_hop_type="Instance", next_hop_id=node, client_token=unique("tok"))).body
        assert entry.route_entry_id.startswith("rte-"), entry.to_map()
    entries = route_entries(vpc, created.route_table_id)
    assert [(e.type, e.destination_cidr_block) for e in entries] == [
        ("System", "192.168.1.0/24"), ("Custom", "172.20.0.0/24"), ("Custom", "172.20.1.0/24")]
    assert entries[1].next_hops.next_hop[0].next_hop_id == nodes[0]
    assert [e.destination_cidr_block for e in route_entries(vpc, created.route_table_id, next_hop_id=nodes[1])] == [
        "172.20.1.0/24"]

    vpc.delete_route_entry(vpc_models.DeleteRouteEntryRequest(
        region_id=REGION, route_table_id=created.route_table_id, destination_cidr_block="172.20.1.0/24",
        next_hop_id=nodes[1]))
    assert len(route_entries(vpc, created.route_table_id, route_entry_type="Custom")) == 1

    tables = vpc.describe_route_table_list(vpc_models.DescribeRouteTableListRequest(
        region_id=REGION, vpc_id=created.vpc_id)).body
    assert [t.route_table_id for t in tables.router_table_list.router_table_list_type] == [created.route_table_id]

    release(ecs, nodes)
    vpc.delete_vswitch(vpc_models.DeleteVSwitchRequest(region_id=REGION, v_switch_id=vswitch))
    vpc.delete_vpc(vpc_models.DeleteVpcRequest(region_id=REGION, vpc_id=created.vpc_id))
    assert error_code(lambda: vpc.describe_route_entry_list(vpc_models.DescribeRouteEntryListRequest(
        region_id=REGION, route_table_id=created.route_table_id))) == "InvalidRouteTableId.NotFound"


def test_create_vpc_with_the_same_client_token_creates_one(vpc):
    token = unique("tok")
    request = vpc_models.CreateVpcRequest(region_id=REGION, cidr_block="10.0.0.0/8", client_token=token)
    first = vpc.create_vpc(request).body.vpc_id
    assert vpc.create_vpc(request).body.vpc_id == first


def test_vpc_and_vswitch_errors_carry_their_codes(vpc, ecs):
    assert error_code(lambda: vpc.create_vpc(vpc_models.CreateVpcRequest(
        region_id=REGION, cidr_block="8.8.0.0/16"))) == "InvalidCidrBlock.Malformed"
    created = create_vpc(vpc, "10.0.0.0/16")
    vswitch = create_vswitch(vpc, created.vpc_id, "10.0.1.0/24")
    overlapping = vpc_models.CreateVSwitchRequest(
        region_id=REGION, vpc_id=created.vpc_id, zone_id=ZONE, cidr_block="10.0.0.0/20")
    assert error_code(lambda: vpc.create_vswitch(overlapping)) == "InvalidCidrBlock.Overlapped"
    outside = vpc_models.CreateVSwitchRequest(
        region_id=REGION, vpc_id=created.vpc_id, zone_id=ZONE, cidr_block="10.9.0.0/24")
    assert error_code(lambda: vpc.create_vswitch(outside)) == "InvalidParameter"
    missing = vpc_models.CreateVSwitchRequest(region_id=REGION, vpc_id="vpc-nope", zone_id=ZONE, cidr_block="10.0.2.0/24")
    assert error_code(lambda: vpc.create_vswitch(missing)) == "InvalidVpcId.NotFound"

    node = launch_in(ecs, vswitch)
    route = dict(region_id=REGION, route_table_id=created.route_table_id, next_hop_type="Instance")
    vpc.create_route_entry(vpc_models.CreateRouteEntryRequest(
        destination_cidr_block="172.20.0.0/24", next_hop_id=node[0], **route))
    assert error_code(lambda: vpc.create_route_entry(vpc_models.CreateRouteEntryRequest(
        destination_cidr_block="172.20.0.0/24", next_hop_id=node[0], **route))) == "InvalidCIDRBlock.Duplicate"
    assert error_code(lambda: vpc.create_route_entry(vpc_models.CreateRouteEntryRequest(
        destination_cidr_block="172.21.0.0/24", next_hop_id="i-nope", **route))) == "InvalidNextHopId.NotFound"
    assert error_code(lambda: vpc.create_route_entry(vpc_models.CreateRouteEntryRequest(
        destination_cidr_block="172.21.0.300/24", next_hop_id=node[0], **route))) == "InvalidCidrBlock.Malformed"

    assert error_code(lambda: vpc.delete_vswitch(vpc_models.DeleteVSwitchRequest(
        region_id=REGION, v_switch_id=vswitch))) == "DependencyViolation"
    assert error_code(lambda: vpc.delete_vpc(vpc_models.DeleteVpcRequest(
        region_id=REGION, vpc_id=created.vpc_id))) == "DependencyViolation.VSwitch"
    release(ecs, node)
    vpc.delete_vswitch(vpc_models.DeleteVSwitchRequest(region_id=REGION, v_switch_id=vswitch))
    vpc.delete_vpc(vpc_models.DeleteVpcRequest(region_id=REGION, vpc_id=created.vpc_id))


def test_security_groups_hold_rules_and_refuse_bad_ones(vpc, ecs):
    created = create_vpc(vpc, "10.1.0.0/16")
    group = ecs.create_security_group(ecs_models.CreateSecurityGroupRequest(
        region_id=REGION, vpc_id=created.vpc_id, security_group_name=unique("sg"), security_group_type="normal",
        tag=[ecs_models.CreateSecurityGroupRequestTag(key="cluster", value="c1")], client_token=unique("tok"),
    )).body.security_group_id
    assert group.startswith("sg-")
    ecs.authorize_security_group(ecs_models.AuthorizeSecurityGroupRequest(
        region_id=REGION, security_group_id=group, ip_protocol="tcp", port_range="30000/32767",
        source_cidr_ip="0.0.0.0/0"))
    # The newer SDK style: rules as Permissions.N.
    ecs.authorize_security_group(ecs_models.AuthorizeSecurityGroupRequest(
        region_id=REGION, security_group_id=group, permissions=[
            ecs_models.AuthorizeSecurityGroupRequestPermissions(ip_protocol="icmp", port_range="-1/-1",
                                                                source_cidr_ip="10.0.0.0/8")]))
    attribute = ecs.describe_security_group_attribute(ecs_models.DescribeSecurityGroupAttributeRequest(
        region_id=REGION, security_group_id=group)).body
    rules = [(p.ip_protocol, p.port_range) for p in attribute.permissions.permission]
    assert rules == [("TCP", "30000/32767"), ("ICMP", "-1/-1")], attribute.to_map()

    listed = ecs.describe_security_groups(ecs_models.DescribeSecurityGroupsRequest(
        region_id=REGION, security_group_ids=f'["{group}"]',
        tag=[ecs_models.DescribeSecurityGroupsRequestTag(key="cluster", value="c1")])).body
    assert listed.total_count == 1, listed.to_map()
    sg = listed.security_groups.security_group[0]
    assert (sg.vpc_id, sg.rule_count, sg.tags.tag[0].tag_key) == (created.vpc_id, 2, "cluster")

    bad = dict(region_id=REGION, security_group_id=group, source_cidr_ip="10.0.0.0/8")
    assert error_code(lambda: ecs.authorize_security_group(ecs_models.AuthorizeSecurityGroupRequest(
        ip_protocol="tcp", port_range="1/70000", **bad))) == "InvalidPortRange.Malformed"
    assert error_code(lambda: ecs.authorize_security_group(ecs_models.AuthorizeSecurityGroupRequest(
        ip_protocol="carrier-pigeon", port_range="1/2", **bad))) == "InvalidIpProtocol.Malformed"
    assert error_code(lambda: ecs.authorize_security_group(ecs_models.AuthorizeSecurityGroupRequest(
        region_id=REGION, security_group_id=group, ip_protocol="tcp", port_range="1/2",
        source_cidr_ip="10.0.0.0/40"))) == "InvalidSourceCidrIp.Malformed"
    assert error_code(lambda: vpc.delete_vpc(vpc_models.DeleteVpcRequest(
        region_id=REGION, vpc_id=created.vpc_id))) == "DependencyViolation.SecurityGroup"

    node = ecs.run_instances(ecs_models.RunInstancesRequest(
        region_id=REGION, instance_type="ecs.g7.large", image_id="aliyun_3_x64_20G_alibase_20240819.vhd",
        v_switch_id=VSWITCH, security_group_id=group, client_token=unique("tok"))).body.instance_id_sets.instance_id_set
    try:
        ecs.delete_security_group(ecs_models.DeleteSecurityGroupRequest(region_id=REGION, security_group_id=group))
    except ClientException as e:
        assert e.code == "DependencyViolation", describe_error(e)
    else:
        raise AssertionError("a security group with an instance in it was deleted")
    release(ecs, list(node))
    ecs.delete_security_group(ecs_models.DeleteSecurityGroupRequest(region_id=REGION, security_group_id=group))
    assert error_code(lambda: ecs.describe_security_group_attribute(ecs_models.DescribeSecurityGroupAttributeRequest(
        region_id=REGION, security_group_id=group))) == "InvalidSecurityGroupId.NotFound"


def test_existing_callers_keep_their_unchecked_security_group(ecs):
    # RunInstances does not check SecurityGroupId, so suites passing sg-emulator keep working.
    ids = run_instances(ecs, 1)
    assert len(ids) == 1
