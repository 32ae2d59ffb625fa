"""ESS 2014-08-28, the API version cluster-autoscaler's vendored Go SDK speaks.

That SDK signs with RPC v1 HMAC-SHA1, routes only by the `Action`/`Version` query parameters, sends `Format=JSON`,
numbered scalars (`ScalingGroupId.1`) and expects wrapped arrays (`{"ScalingGroups": {"ScalingGroup": [...]}}`).
The generic `alibabacloud_tea_openapi.client.Client.call_api` in `signature_algorithm='v2'` mode produces the
same query (it adds `x-acs-action`/`x-acs-version` headers, which the Go SDK does not send; the raw test below
covers that case).
"""

from __future__ import annotations

import pytest
from alibabacloud_tea_openapi.models import OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions

from sdkhelpers import (
    GO_SDK_HEADERS,
    REGION,
    active_group,
    go_sdk_rpc_query,
    in_service_ids,
    raw_request,
    rpc_v1_signature,
    scale,
    settle,
)

VERSION_2014 = "2014-08-28"


@pytest.fixture
def signing() -> str:
    """Only RPC v1 HMAC-SHA1 here, as cluster-autoscaler sends."""
    return "v2"


def call_2014(openapi, action: str, query: dict[str, str]) -> dict:
    params = Params(action=action, version=VERSION_2014, protocol="HTTP", pathname="/", method="POST",
                    auth_type="AK", style="RPC", req_body_type="formData", body_type="json")
    req = OpenApiRequest(query={"RegionId": REGION, "Format": "JSON", **query})
    return openapi.call_api(params, req, RuntimeOptions())


@pytest.fixture
def scaled_group_2(ess):
    """An active 2022-02-22 group scaled out to 2 in-service instances."""
    group_id, config_id = active_group(ess)
    scale(ess, group_id, 2)
    ids = settle(lambda: in_service_ids(ess, group_id), lambda xs: len(xs) == 2, "2 instances InService")
    assert len(ids) == 2, ids
    return group_id, config_id, ids


def test_rpc_v1_signer_used_by_the_raw_tests_reproduces_the_research_vector():
    params = {
        "AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "json", "Version": "2014-05-26",
        "Timestamp": "2024-01-01T12:00:00Z", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "RegionId": "cn-hangzhou", "Tag.1.Key": "a b*~/",
    }
    assert rpc_v1_signature(params, "POST", "testsecret") == "STSXfjVJ00QMZYwk2DusMC83aU4="
    doc = {k: v for k, v in params.items() if k not in ("RegionId", "Tag.1.Key")}
    doc.update(Format="XML", Timestamp="2016-02-23T12:46:24Z")
    assert rpc_v1_signature(doc, "GET", "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_2014_describe_scaling_groups_by_numbered_id_returns_the_wrapped_shape(openapi, scaled_group_2):
    group_id, config_id, _ = scaled_group_2
    resp = call_2014(openapi, "DescribeScalingGroups", {"ScalingGroupId.1": group_id})
    assert resp["statusCode"] == 200
    body = resp["body"]
    assert isinstance(body.get("ScalingGroups"), dict), f"ScalingGroups is not wrapped: {body}"
    groups = body["ScalingGroups"].get("ScalingGroup")
    assert isinstance(groups, list) and len(groups) == 1, body
    assert body.get("TotalCount") == 1, body
    assert body.get("RequestId"), body
    g = groups[0]
    assert g["ScalingGroupId"] == group_id
    assert g["LifecycleState"] == "Active", g
    assert g["ActiveScalingConfigurationId"] == config_id, g
    # Fields cluster-autoscaler reads (group size = max(DesiredCapacity, ActiveCapacity + PendingCapacity)),
    # typed as the Go SDK declares them.
    for key in ("MinSize", "MaxSize", "DesiredCapacity", "ActiveCapacity", "PendingCapacity", "TotalCapacity"):
        assert isinstance(g.get(key), int) and not isinstance(g.get(key), bool), f"{key}: {g.get(key)!r} in {g}"
    assert (g["MinSize"], g["MaxSize"]) == (0, 10), g
    assert max(g["DesiredCapacity"], g["ActiveCapacity"] + g["PendingCapacity"]) == 2, g


def test_2014_describe_scaling_instances_returns_the_wrapped_shape(openapi, scaled_group_2):
    group_id, config_id, ids = scaled_group_2
    resp = call_2014(openapi, "DescribeScalingInstances", {"ScalingGroupId": group_id})
    assert resp["statusCode"] == 200
    body = resp["body"]
    assert isinstance(body.get("ScalingInstances"), dict), f"ScalingInstances is not wrapped: {body}"
    instances = body["ScalingInstances"].get("ScalingInstance")
    assert isinstance(instances, list), body
    assert sorted(i["InstanceId"] for i in instances) == sorted(ids), body
    assert body.get("TotalCount") == 2, body
    for inst in instances:
        assert inst["ScalingGroupId"] == group_id, inst
        assert inst["LifecycleState"] == "InService", inst
        assert inst["HealthStatus"] == "Healthy", inst
        assert inst["CreationType"] == "AutoCreated", inst


def test_a_go_sdk_shaped_request_without_acs_headers_is_routed_by_its_query(emulator, scaled_group_2):
    group_id, _, _ = scaled_group_2
    query = go_sdk_rpc_query("DescribeScalingGroups", VERSION_2014, {"ScalingGroupId.1": group_id})
    r = raw_request("POST", emulator.url, query=query, headers=dict(GO_SDK_HEADERS))
    assert r.status_code == 200, f"{r.status_code} {r.text[:800]}"
    body = r.json()
    groups = (body.get("ScalingGroups") or {}).get("ScalingGroup") if isinstance(body.get("ScalingGroups"), dict) else None
    assert isinstance(groups, list) and [g["ScalingGroupId"] for g in groups] == [group_id], body
