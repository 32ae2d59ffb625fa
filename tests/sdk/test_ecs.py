"""ECS 2014-05-26 through the official Python SDK (alibabacloud-ecs20140526), in both signing modes."""

from __future__ import annotations

from alibabacloud_ecs20140526 import models as ecs_models

from sdkhelpers import (
    GPU_INSTANCE_TYPE,
    INSTANCE_TYPE,
    REGION,
    ZONE,
    all_instances,
    describe_instances,
    region_instance_count,
    run_instances,
    settle,
    unique,
)


def instance_type_catalogue(ecs, **filters) -> dict:
    """All instance types, following NextToken if the emulator pages the catalogue."""
    types: dict = {}
    token = None
    for _ in range(100):
        body = ecs.describe_instance_types(ecs_models.DescribeInstanceTypesRequest(next_token=token, **filters)).body
        assert body.instance_types is not None, f"no InstanceTypes in {body.to_map()}"
        for t in body.instance_types.instance_type or []:
            assert t.instance_type_id not in types, f"{t.instance_type_id} returned twice while paging"
            types[t.instance_type_id] = t
        token = body.next_token
        if not token:
            return types
    raise AssertionError("DescribeInstanceTypes kept returning a NextToken after 100 pages")


def test_describe_regions_lists_cn_hangzhou(ecs):
    body = ecs.describe_regions(ecs_models.DescribeRegionsRequest()).body
    assert body.request_id, f"no RequestId in {body.to_map()}"
    assert body.regions is not None and body.regions.region, f"no Regions.Region in {body.to_map()}"
    region_ids = [r.region_id for r in body.regions.region]
    assert REGION in region_ids


def test_describe_zones_lists_hangzhou_zones_including_the_one_used_for_instances(ecs):
    body = ecs.describe_zones(ecs_models.DescribeZonesRequest(region_id=REGION)).body
    assert body.zones is not None and body.zones.zone, f"no Zones.Zone in {body.to_map()}"
    zone_ids = [z.zone_id for z in body.zones.zone]
    assert all(z and z.startswith("cn-hangzhou-") for z in zone_ids), zone_ids
    assert ZONE in zone_ids


def test_describe_instance_types_has_g7_large_with_2_cores_and_8_gib(ecs):
    types = instance_type_catalogue(ecs)
    assert INSTANCE_TYPE in types, f"{INSTANCE_TYPE} missing from {sorted(types)}"
    t = types[INSTANCE_TYPE]
    assert t.cpu_core_count == 2
    assert isinstance(t.memory_size, (int, float)) and t.memory_size == 8.0, t.to_map()


def test_describe_instance_types_has_a_t4_gpu_type(ecs):
    types = instance_type_catalogue(ecs)
    assert GPU_INSTANCE_TYPE in types, f"{GPU_INSTANCE_TYPE} missing from {sorted(types)}"
    t = types[GPU_INSTANCE_TYPE]
    assert t.gpuamount == 1, t.to_map()
    assert t.gpuspec and "T4" in t.gpuspec, t.to_map()


def test_describe_instance_types_filtered_by_one_type_returns_exactly_that_type(ecs):
    types = instance_type_catalogue(ecs, instance_types=[INSTANCE_TYPE])
    assert list(types) == [INSTANCE_TYPE]
    assert types[INSTANCE_TYPE].cpu_core_count == 2


def test_run_instances_returns_three_distinct_instance_ids(ecs):
    ids = run_instances(ecs, 3)
    assert len(ids) == 3, ids
    assert len(set(ids)) == 3, ids
    assert all(i.startswith("i-") for i in ids), ids


def test_run_instances_with_the_same_client_token_returns_the_same_ids_and_creates_nothing(ecs):
    token = unique("idem")
    first = run_instances(ecs, 3, client_token=token)
    assert len(first) == 3
    count_before = region_instance_count(ecs)
    second = run_instances(ecs, 3, client_token=token)
    assert sorted(second) == sorted(first)
    assert region_instance_count(ecs) == count_before


def test_describe_instances_shows_new_instances_running_with_8192_mib(ecs):
    ids = run_instances(ecs, 3)
    instances = settle(lambda: all_instances(ecs, ids),
                       lambda xs: len(xs) == 3 and all(i.status == "Running" for i in xs),
                       "RunInstances instances Running")
    assert sorted(i.instance_id for i in instances) == sorted(ids)
    for inst in instances:
        assert inst.status == "Running", inst.to_map()
        assert inst.memory == 8192, inst.to_map()
        assert inst.cpu == 2, inst.to_map()
        assert inst.instance_type == INSTANCE_TYPE, inst.to_map()
        assert inst.zone_id == ZONE, inst.to_map()
        assert inst.region_id == REGION, inst.to_map()


def test_describe_instances_pages_of_two_walk_all_instances_with_a_consistent_total(ecs):
    ids = run_instances(ecs, 3)
    seen: list[str] = []
    totals = []
    page_number = 0
    while page_number == 0 or len(seen) < totals[-1]:
        page_number += 1
        assert page_number <= 5, f"still paging after 5 pages; seen {seen}, TotalCount {totals}"
        body = describe_instances(ecs, ids, page_number=page_number, page_size=2)
        got = [i.instance_id for i in (body.instances.instance if body.instances else [])]
        totals.append(body.total_count)
        assert body.page_number == page_number, body.to_map()
        assert body.page_size == 2, body.to_map()
        assert 1 <= len(got) <= 2, f"page {page_number}: {got}"
        seen += got
    assert totals == [3, 3], f"TotalCount per page: {totals}"
    assert sorted(seen) == sorted(ids)


def test_describe_price_of_g7_large_is_positive_with_a_currency(ecs):
    body = ecs.describe_price(ecs_models.DescribePriceRequest(
        region_id=REGION, resource_type="instance", instance_type=INSTANCE_TYPE)).body
    assert body.price_info is not None and body.price_info.price is not None, body.to_map()
    price = body.price_info.price
    assert isinstance(price.trade_price, (int, float)) and price.trade_price > 0, price.to_map()
    assert price.currency, price.to_map()


def test_delete_instances_with_force_removes_them_from_describe_instances(ecs):
    ids = run_instances(ecs, 3)
    settle(lambda: all_instances(ecs, ids), lambda xs: len(xs) == 3, "RunInstances instances visible")
    resp = ecs.delete_instances(ecs_models.DeleteInstancesRequest(region_id=REGION, instance_id=ids, force=True))
    assert resp.body.request_id
    left = settle(lambda: all_instances(ecs, ids), lambda xs: not xs, "deleted instances gone")
    assert [i.instance_id for i in left] == []
    body = describe_instances(ecs, ids)
    assert body.total_count == 0
