"""Error contract: what the official SDK raises for the emulator's error replies.

With alibabacloud-tea-openapi 0.4.6 the SDK raises `alibabacloud_tea_openapi.exceptions.ClientException` (4xx),
`ServerException` (5xx) and `ThrottlingException` (any status >= 400 with header `x-acs-retry-after`). They all
derive from darabonba's ResponseException, itself a `Tea.exceptions.TeaException`.
"""

from __future__ import annotations

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ess20220222 import models as ess_models
from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException
from Tea.exceptions import TeaException

from sdkhelpers import REGION, VSWITCH, describe_error, raw_request, unique

ERROR_KEYS = {"Code", "Message", "RequestId", "HostId", "Recommend"}


def expect_client_error(excinfo, code: str, status: int) -> ClientException:
    e = excinfo.value
    assert type(e) is ClientException, describe_error(e)
    assert isinstance(e, TeaException)
    assert e.code == code, describe_error(e)
    assert e.status_code == status, describe_error(e)
    assert e.request_id and e.request_id != "None", describe_error(e)
    return e


def test_a_wrong_secret_is_signature_does_not_match_400(make_client):
    ecs = make_client("ecs", secret="not-the-secret")
    with pytest.raises(ClientException) as excinfo:
        ecs.describe_regions(ecs_models.DescribeRegionsRequest())
    expect_client_error(excinfo, "SignatureDoesNotMatch", 400)


def test_an_unknown_access_key_id_is_invalid_access_key_id_not_found_404(make_client):
    ecs = make_client("ecs", key_id="nosuchkey", secret="testsecret")
    with pytest.raises(ClientException) as excinfo:
        ecs.describe_regions(ecs_models.DescribeRegionsRequest())
    expect_client_error(excinfo, "InvalidAccessKeyId.NotFound", 404)


def test_a_second_configured_access_key_is_accepted(make_client):
    ecs = make_client("ecs", key_id="other", secret="othersecret")
    body = ecs.describe_regions(ecs_models.DescribeRegionsRequest()).body
    assert REGION in [r.region_id for r in body.regions.region]


def test_a_key_id_signed_with_another_keys_secret_is_rejected(make_client):
    ecs = make_client("ecs", key_id="other", secret="testsecret")
    with pytest.raises(ClientException) as excinfo:
        ecs.describe_regions(ecs_models.DescribeRegionsRequest())
    expect_client_error(excinfo, "SignatureDoesNotMatch", 400)


def test_create_scaling_group_without_min_size_is_missing_parameter_400_naming_min_size(ess):
    name = unique("nomin")
    with pytest.raises(ClientException) as excinfo:
        ess.create_scaling_group(ess_models.CreateScalingGroupRequest(
            region_id=REGION, scaling_group_name=name, max_size=10, v_switch_ids=[VSWITCH]))
    e = expect_client_error(excinfo, "MissingParameter", 400)
    assert "MinSize" in e.message, describe_error(e)
    body = ess.describe_scaling_groups(ess_models.DescribeScalingGroupsRequest(
        region_id=REGION, scaling_group_name=name)).body
    assert not body.scaling_groups, f"a group was created anyway: {body.to_map()}"


def test_describe_scaling_instances_of_an_unknown_group_is_invalid_scaling_group_id_not_found_404(ess):
    with pytest.raises(ClientException) as excinfo:
        ess.describe_scaling_instances(ess_models.DescribeScalingInstancesRequest(
            region_id=REGION, scaling_group_id="asg-doesnotexist"))
    expect_client_error(excinfo, "InvalidScalingGroupId.NotFound", 404)


def test_delete_scaling_group_of_an_unknown_group_is_invalid_scaling_group_id_not_found_404(ess):
    with pytest.raises(ClientException) as excinfo:
        ess.delete_scaling_group(ess_models.DeleteScalingGroupRequest(
            region_id=REGION, scaling_group_id="asg-doesnotexist", force_delete=True))
    expect_client_error(excinfo, "InvalidScalingGroupId.NotFound", 404)


def test_a_throttled_request_raises_throttling_exception_with_retry_after(make_client, throttled_emulator):
    ecs = make_client("ecs", emu=throttled_emulator)
    with pytest.raises(ThrottlingException) as excinfo:
        ecs.describe_regions(ecs_models.DescribeRegionsRequest())
    e = excinfo.value
    assert type(e) is ThrottlingException, describe_error(e)
    assert e.code == "Throttling.User", describe_error(e)
    assert isinstance(e.retry_after, int) and e.retry_after > 0, describe_error(e)
    # The SDK does not care which status a throttle has as long as it is >= 400; Alibaba's throttling
    # codes are client errors, 400 (ECS) or 429.
    assert e.status_code in (400, 429), describe_error(e)
    assert e.data and e.data.get("Code") == "Throttling.User", describe_error(e)


def test_a_throttled_ess_request_raises_throttling_exception_too(make_client, throttled_emulator):
    ess = make_client("ess", emu=throttled_emulator)
    with pytest.raises(ThrottlingException) as excinfo:
        ess.describe_scaling_groups(ess_models.DescribeScalingGroupsRequest(region_id=REGION))
    e = excinfo.value
    assert e.code == "Throttling.User", describe_error(e)
    assert e.retry_after and e.retry_after > 0, describe_error(e)


def assert_error_body(r, what: str):
    assert 400 <= r.status_code < 500, f"{what}: status {r.status_code}, body {r.text[:500]}"
    try:
        body = r.json()
    except ValueError:
        raise AssertionError(f"{what}: error body is not JSON: {r.text[:500]!r}") from None
    assert isinstance(body, dict), body
    missing = ERROR_KEYS - body.keys()
    assert not missing, f"{what}: error body lacks {sorted(missing)}: {body}"
    assert body["Code"] and body["Message"] and body["RequestId"], body
    return body


def test_an_unsigned_v3_style_post_gets_a_4xx_json_error_body(emulator):
    r = raw_request("POST", emulator.url, query={"RegionId": REGION}, headers={
        "host": emulator.endpoint,
        "x-acs-action": "DescribeRegions",
        "x-acs-version": "2014-05-26",
        "accept": "application/json",
    })
    assert_error_body(r, "POST / with x-acs-action and no Authorization")


def test_an_unsigned_rpc_query_post_gets_a_4xx_json_error_body(emulator):
    r = raw_request("POST", emulator.url, query={
        "Action": "DescribeRegions", "Version": "2014-05-26", "Format": "JSON", "RegionId": REGION,
    })
    assert_error_body(r, "POST /?Action=DescribeRegions&Version=2014-05-26 with no Signature")
