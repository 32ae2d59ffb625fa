"""ESS 2022-02-22 through the official Python SDK (alibabacloud-ess20220222), in both signing modes.

Each test builds its own scaling group, so a failure in one step shows up in the tests that need it
without hiding the others.
"""

from __future__ import annotations

import pytest
from alibabacloud_ess20220222 import models as ess_models
from alibabacloud_tea_openapi.exceptions import ClientException

from sdkhelpers import (
    INSTANCE_TYPE,
    REGION,
    VSWITCH,
    active_group,
    all_instances,
    create_configuration,
    create_group,
    describe_error,
    describe_group,
    describe_groups,
    enable_group,
    in_service_ids,
    scale,
    scaling_instances,
    scaling_instances_page,
    settle,
    unique,
)


def scaled_group(ess, n: int) -> tuple[str, str, list[str]]:
    """An active group scaled out by n; returns (group id, configuration id, in-service instance ids)."""
    group_id, config_id = active_group(ess)
    body = scale(ess, group_id, n)
    assert body.scaling_activity_id, f"ScaleWithAdjustment returned no ScalingActivityId: {body.to_map()}"
    ids = settle(lambda: in_service_ids(ess, group_id), lambda xs: len(xs) == n, f"{n} instances InService")
    assert len(ids) == n, f"expected {n} InService instances, got {scaling_instances(ess, group_id)}"
    return group_id, config_id, ids


def test_create_scaling_group_returns_an_id(ess):
    name = unique("sg")
    group_id = create_group(ess, name=name)
    assert group_id, "CreateScalingGroup returned no ScalingGroupId"
    group = describe_group(ess, group_id)
    assert group.scaling_group_name == name
    assert group.min_size == 0 and group.max_size == 10, group.to_map()
    assert group.region_id == REGION, group.to_map()
    assert group.v_switch_ids == [VSWITCH], group.to_map()
    assert group.lifecycle_state == "Inactive", group.to_map()


def test_create_scaling_configuration_returns_an_id(ess):
    group_id = create_group(ess)
    config_id = create_configuration(ess, group_id)
    assert config_id, "CreateScalingConfiguration returned no ScalingConfigurationId"
    assert config_id != group_id


def test_enabled_group_is_active_with_its_active_configuration(ess):
    group_id = create_group(ess)
    config_id = create_configuration(ess, group_id)
    enable_group(ess, group_id, config_id)
    group = settle(lambda: describe_group(ess, group_id), lambda g: g.lifecycle_state == "Active", "group Active")
    assert group.lifecycle_state == "Active", group.to_map()
    assert group.active_scaling_configuration_id == config_id, group.to_map()


def test_scale_with_adjustment_by_five_sets_desired_and_total_capacity_to_five(ess):
    group_id, _ = active_group(ess)
    body = scale(ess, group_id, 5)
    assert body.scaling_activity_id, body.to_map()
    group = describe_group(ess, group_id)
    assert group.desired_capacity == 5, group.to_map()
    group = settle(lambda: describe_group(ess, group_id), lambda g: g.total_capacity == 5, "TotalCapacity 5")
    assert group.total_capacity == 5, group.to_map()
    assert group.desired_capacity == 5, group.to_map()


def test_scaling_instances_are_in_service_healthy_auto_created_and_walk_in_three_pages_of_two(ess):
    group_id, config_id, ids = scaled_group(ess, 5)
    seen = []
    totals = []
    for page_number in (1, 2, 3):
        body = scaling_instances_page(ess, group_id, page_number, 2)
        page = list(body.scaling_instances or [])
        totals.append(body.total_count)
        assert len(page) == (2 if page_number < 3 else 1), f"page {page_number}: {[i.to_map() for i in page]}"
        for inst in page:
            assert inst.lifecycle_state == "InService", inst.to_map()
            assert inst.health_status == "Healthy", inst.to_map()
            assert inst.creation_type == "AutoCreated", inst.to_map()
            assert inst.scaling_group_id == group_id, inst.to_map()
            assert inst.scaling_configuration_id == config_id, inst.to_map()
            assert inst.instance_id.startswith("i-"), inst.to_map()
        seen += [i.instance_id for i in page]
    assert totals == [5, 5, 5], f"TotalCount per page: {totals}"
    assert sorted(seen) == sorted(ids)
    assert len(set(seen)) == 5


def test_scaled_out_instances_are_running_ecs_instances(ess, make_client):
    ecs = make_client("ecs")
    _, _, ids = scaled_group(ess, 5)
    instances = settle(lambda: all_instances(ecs, ids),
                       lambda xs: len(xs) == 5 and all(i.status == "Running" for i in xs), "ESS instances Running in ECS")
    assert sorted(i.instance_id for i in instances) == sorted(ids)
    for inst in instances:
        assert inst.status == "Running", inst.to_map()
        assert inst.instance_type == INSTANCE_TYPE, inst.to_map()
        assert inst.memory == 8192, inst.to_map()


def test_remove_instances_with_decrease_desired_capacity_leaves_three_and_releases_the_ecs_instances(ess, make_client):
    ecs = make_client("ecs")
    group_id, _, ids = scaled_group(ess, 5)
    removed = ids[:2]
    body = ess.remove_instances(ess_models.RemoveInstancesRequest(
        region_id=REGION, scaling_group_id=group_id, instance_ids=removed, decrease_desired_capacity=True)).body
    assert body.scaling_activity_id, body.to_map()
    group = describe_group(ess, group_id)
    assert group.desired_capacity == 3, group.to_map()
    remaining = settle(lambda: [i.instance_id for i in scaling_instances(ess, group_id)],
                       lambda xs: len(xs) == 3, "scaling group down to 3 instances")
    assert sorted(remaining) == sorted(ids[2:])
    group = settle(lambda: describe_group(ess, group_id), lambda g: g.total_capacity == 3, "TotalCapacity 3")
    assert group.total_capacity == 3, group.to_map()
    gone = settle(lambda: all_instances(ecs, removed), lambda xs: not xs, "removed ECS instances released")
    assert [i.instance_id for i in gone] == []
    kept = all_instances(ecs, ids[2:])
    assert sorted(i.instance_id for i in kept) == sorted(ids[2:])


def test_total_capacity_beyond_max_size_is_rejected_with_a_400_client_error(ess):
    group_id, _ = active_group(ess)
    with pytest.raises(ClientException) as excinfo:
        scale(ess, group_id, 12, adjustment_type="TotalCapacity")
    e = excinfo.value
    assert type(e) is ClientException, describe_error(e)
    assert e.status_code == 400, describe_error(e)
    assert e.code and e.code != "None", describe_error(e)
    assert e.code.startswith("InvalidParameter") or "MaxSize" in e.code or "MaxSize" in (e.message or ""), \
        describe_error(e)
    group = describe_group(ess, group_id)
    assert group.desired_capacity in (0, None), f"rejected scaling changed the group: {group.to_map()}"
    assert scaling_instances(ess, group_id) == []


def test_force_delete_removes_the_group_and_its_instances(ess, make_client):
    ecs = make_client("ecs")
    group_id, _, ids = scaled_group(ess, 2)
    body = ess.delete_scaling_group(ess_models.DeleteScalingGroupRequest(
        region_id=REGION, scaling_group_id=group_id, force_delete=True)).body
    assert body.request_id, body.to_map()
    groups = settle(lambda: describe_groups(ess, group_id), lambda gs: not gs, "deleted group gone")
    assert [g.to_map() for g in groups] == []
    gone = settle(lambda: all_instances(ecs, ids), lambda xs: not xs, "instances of deleted group released")
    assert [i.instance_id for i in gone] == []
