"""ECI 2018-08-08 through the official Python SDK (alibabacloud-eci20180808), in both signing modes.

The emulator runs with `--pending-ms 0 --starting-ms 0`, so a group's containers start at once; what they
do then comes from their commands (`sleep 1` runs one second, `exit 3` fails, nginx keeps running), so the
tests that watch a group finish poll with a deadline.
"""

from __future__ import annotations

import time

import pytest
from alibabacloud_eci20180808 import models as eci_models
from alibabacloud_tea_openapi.exceptions import ClientException

from sdkhelpers import REGION, SECURITY_GROUP, VSWITCH, ZONE, describe_error, unique

DEADLINE_S = 15.0


def container(name: str, image: str = "busybox:1.36", command: list[str] | None = None, **kw):
    return eci_models.CreateContainerGroupRequestContainer(
        name=name, image=image, command=command, cpu=0.5, memory=1.0, **kw)


def create_group(eci, containers, restart_policy: str = "Never", name: str | None = None, **kw) -> str:
    body = eci.create_container_group(eci_models.CreateContainerGroupRequest(
        region_id=REGION,
        container_group_name=name or unique("pod"),
        container=containers,
        restart_policy=restart_policy,
        v_switch_id=VSWITCH,
        security_group_id=SECURITY_GROUP,
        client_token=unique("tok"),
        **kw,
    )).body
    assert body.container_group_id, f"CreateContainerGroup returned no ContainerGroupId: {body.to_map()}"
    return body.container_group_id


def describe(eci, group_id: str):
    body = eci.describe_container_groups(eci_models.DescribeContainerGroupsRequest(
        region_id=REGION, container_group_ids=f'["{group_id}"]')).body
    groups = list(body.container_groups or [])
    assert len(groups) == 1, f"DescribeContainerGroups([{group_id}]) returned {body.to_map()}"
    return groups[0]


def watch(eci, group_id: str, until: set[str]) -> tuple[object, list[str]]:
    """Polls until the group's status is in `until`; returns the group and every distinct status seen."""
    seen: list[str] = []
    deadline = time.monotonic() + DEADLINE_S
    while True:
        group = describe(eci, group_id)
        if not seen or seen[-1] != group.status:
            seen.append(group.status)
        if group.status in until or time.monotonic() > deadline:
            return group, seen
        time.sleep(0.1)


def log(eci, group_id: str, name: str, **kw) -> str:
    body = eci.describe_container_log(eci_models.DescribeContainerLogRequest(
        region_id=REGION, container_group_id=group_id, container_name=name, **kw)).body
    assert body.container_name == name, body.to_map()
    return body.content


def expect_client_error(call, code: str):
    with pytest.raises(ClientException) as excinfo:
        call()
    e = excinfo.value
    assert e.code == code, describe_error(e)
    assert 400 <= e.status_code < 500, describe_error(e)
    return e


def test_a_server_group_runs_with_its_placement_address_and_events(eci):
    group_id = create_group(eci, [container("web", image="nginx:1.25", port=[
        eci_models.CreateContainerGroupRequestContainerPort(port=80, protocol="TCP")])], restart_policy="Always",
        tag=[eci_models.CreateContainerGroupRequestTag(key="PodName", value="web")])
    assert group_id.startswith("eci-"), group_id
    group, seen = watch(eci, group_id, {"Running"})
    assert group.status == "Running", seen
    assert group.zone_id == ZONE and group.v_switch_id == VSWITCH, group.to_map()
    assert group.security_group_id == SECURITY_GROUP, group.to_map()
    assert group.intranet_ip and group.intranet_ip.startswith("10."), group.to_map()
    assert (group.cpu, group.memory) == (0.5, 1.0), group.to_map()
    assert [(t.key, t.value) for t in group.tags] == [("PodName", "web")]
    web = group.containers[0]
    assert web.name == "web" and web.image == "nginx:1.25", web.to_map()
    assert web.ready is True and web.restart_count == 0, web.to_map()
    assert web.current_state.state == "Running" and web.current_state.start_time, web.to_map()
    assert [(p.port, p.protocol) for p in web.ports] == [(80, "TCP")]
    reasons = [e.reason for e in group.events]
    assert reasons[:3] == ["Scheduled", "Pulling", "Pulled"] and "Started" in reasons, reasons
    assert all(e.type in ("Normal", "Warning") and e.count >= 1 for e in group.events)


def test_a_sleeping_job_is_watched_from_running_to_succeeded_and_its_log_read(eci):
    group_id = create_group(eci, [container("main", command=["sh", "-c", "echo hello; sleep 1; echo bye"])])
    group, seen = watch(eci, group_id, {"Succeeded", "Failed"})
    assert seen[0] == "Running", f"statuses seen: {seen}"
    assert group.status == "Succeeded", f"statuses seen: {seen}; {group.to_map()}"
    assert group.succeeded_time, group.to_map()
    state = group.containers[0].current_state
    assert (state.state, state.reason, state.exit_code) == ("Terminated", "Completed", 0), state.to_map()
    assert group.containers[0].commands == ["sh", "-c", "echo hello; sleep 1; echo bye"]
    assert log(eci, group_id, "main") == "hello\nbye\n"
    assert log(eci, group_id, "main", tail=1) == "bye\n"
    stamped = log(eci, group_id, "main", timestamps=True).splitlines()
    assert len(stamped) == 2 and stamped[0].endswith("Z hello"), stamped


def test_a_failing_command_fails_the_group_with_its_exit_code(eci):
    group_id = create_group(eci, [container("main", command=["sh", "-c", "echo oops; exit 3"])])
    group, seen = watch(eci, group_id, {"Succeeded", "Failed"})
    assert group.status == "Failed", f"statuses seen: {seen}"
    assert group.failed_time, group.to_map()
    state = group.containers[0].current_state
    assert (state.state, state.reason, state.exit_code) == ("Terminated", "Error", 3), state.to_map()
    assert log(eci, group_id, "main") == "oops\n"


def test_an_image_that_does_not_exist_fails_with_err_image_pull(eci):
    group_id = create_group(eci, [container("main", image="busybox:doesnotexist")])
    group, _ = watch(eci, group_id, {"Failed"})
    assert group.status == "Failed", group.to_map()
    assert group.containers[0].current_state.reason == "ErrImagePull", group.to_map()
    assert any(e.reason == "Failed" and e.type == "Warning" for e in group.events), group.to_map()


def test_delete_removes_the_group_and_a_second_delete_is_not_found(eci):
    group_id = create_group(eci, [container("main", image="nginx:1.25")], restart_policy="Always")
    body = eci.delete_container_group(eci_models.DeleteContainerGroupRequest(
        region_id=REGION, container_group_id=group_id)).body
    assert body.request_id, body.to_map()
    listed = eci.describe_container_groups(eci_models.DescribeContainerGroupsRequest(
        region_id=REGION, container_group_ids=f'["{group_id}"]')).body
    assert list(listed.container_groups or []) == [] and listed.total_count == 0, listed.to_map()
    e = expect_client_error(lambda: eci.delete_container_group(eci_models.DeleteContainerGroupRequest(
        region_id=REGION, container_group_id=group_id)), "InvalidContainerGroupId.NotFound")
    assert e.status_code == 404, describe_error(e)


def test_listing_by_tag_pages_with_next_token(eci):
    marker = unique("batch")
    ids = {create_group(eci, [container("main", image="nginx:1.25")], restart_policy="Always",
                        tag=[eci_models.CreateContainerGroupRequestTag(key="batch", value=marker)])
           for _ in range(3)}
    seen, token = set(), None
    for _ in range(5):
        body = eci.describe_container_groups(eci_models.DescribeContainerGroupsRequest(
            region_id=REGION, limit=2, next_token=token,
            tag=[eci_models.DescribeContainerGroupsRequestTag(key="batch", value=marker)])).body
        assert body.total_count == 3, body.to_map()
        seen |= {g.container_group_id for g in body.container_groups}
        token = body.next_token
        if not token:
            break
    assert seen == ids


def test_bad_requests_are_refused_with_stable_codes(eci, make_client):
    def create(**kw):
        return lambda: eci.create_container_group(eci_models.CreateContainerGroupRequest(**{
            "region_id": REGION, "container_group_name": unique("bad"),
            "container": [container("main")], **kw}))

    e = expect_client_error(create(container_group_name=None), "MissingParameter")
    assert "ContainerGroupName" in e.message, describe_error(e)
    e = expect_client_error(create(container=[container("main"), container("main")]), "InvalidParameter")
    assert "Container.2.Name" in e.message, describe_error(e)
    e = expect_client_error(create(cpu=65.0, memory=128.0), "InvalidParameter")
    assert "Cpu" in e.message, describe_error(e)
    e = expect_client_error(create(restart_policy="Sometimes"), "InvalidParameter")
    assert "RestartPolicy" in e.message, describe_error(e)
    expect_client_error(create(region_id="xx-nowhere-1"), "InvalidRegionId.NotFound")
    expect_client_error(create(v_switch_id="vsw-nowhere"), "InvalidVSwitchId.NotFound")

    group_id = create_group(eci, [container("main", image="nginx:1.25")], restart_policy="Always")
    expect_client_error(lambda: log(eci, group_id, "sidecar"), "InvalidContainerName.NotFound")
    expect_client_error(lambda: eci.describe_container_groups(eci_models.DescribeContainerGroupsRequest(
        region_id=REGION, limit=21)), "InvalidParameter")
