"""Shared constants and helpers for the SDK conformance tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
import uuid
import warnings

import requests
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ess20220222 import models as ess_models

REGION = "cn-hangzhou"
ZONE = "cn-hangzhou-k"
IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"
SECURITY_GROUP = "sg-emulator"
VSWITCH = "vsw-cn-hangzhou-k"
INSTANCE_TYPE = "ecs.g7.large"
GPU_INSTANCE_TYPE = "ecs.gn6i-c4g1.xlarge"

# Delays are 0 (--pending-ms 0 --starting-ms 0), so state should be final at once. The suite still gives
# asynchronous work this long to settle, and emits a warning whenever it had to wait.
SETTLE_TIMEOUT_S = 5.0


# Every HTTP exchange of the current test (filled by conftest's DaraCore.do_action wrapper and raw_request).
WIRE: list[dict] = []


def record_exchange(entry: dict) -> None:
    WIRE.append(entry)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def settle(fetch, ok, what: str, timeout: float = SETTLE_TIMEOUT_S, interval: float = 0.05):
    """Call fetch() until ok(value) or timeout; return the last value (the caller asserts on it)."""
    start = time.monotonic()
    value = fetch()
    polls = 0
    while not ok(value):
        if time.monotonic() - start > timeout:
            return value
        time.sleep(interval)
        value = fetch()
        polls += 1
    if polls:
        warnings.warn(f"{what}: became true only after {time.monotonic() - start:.2f}s ({polls} polls) "
                      "although the emulator runs with zero delays")
    return value


# ------------------------------------------------------------------------------------------------
# ECS
# ------------------------------------------------------------------------------------------------

def run_instances(ecs, amount: int, client_token: str | None = None) -> list[str]:
    resp = ecs.run_instances(ecs_models.RunInstancesRequest(
        region_id=REGION,
        zone_id=ZONE,
        instance_type=INSTANCE_TYPE,
        image_id=IMAGE,
        security_group_id=SECURITY_GROUP,
        v_switch_id=VSWITCH,
        amount=amount,
        client_token=client_token or unique("tok"),
    ))
    body = resp.body
    assert body.instance_id_sets is not None, f"RunInstances body has no InstanceIdSets: {body.to_map()}"
    return list(body.instance_id_sets.instance_id_set or [])


def describe_instances(ecs, ids: list[str], page_number: int | None = None, page_size: int | None = None):
    return ecs.describe_instances(ecs_models.DescribeInstancesRequest(
        region_id=REGION,
        instance_ids=json.dumps(ids),
        page_number=page_number,
        page_size=page_size,
    )).body


def all_instances(ecs, ids: list[str]) -> list:
    """Every instance of `ids` that DescribeInstances still returns (ids ≤ 100, so one page of 100)."""
    body = describe_instances(ecs, ids, page_number=1, page_size=100)
    return list(body.instances.instance) if body.instances and body.instances.instance else []


def region_instance_count(ecs) -> int:
    body = ecs.describe_instances(ecs_models.DescribeInstancesRequest(region_id=REGION)).body
    return body.total_count


# ------------------------------------------------------------------------------------------------
# ESS 2022-02-22
# ------------------------------------------------------------------------------------------------

def create_group(ess, name: str | None = None, min_size: int = 0, max_size: int = 10) -> str:
    body = ess.create_scaling_group(ess_models.CreateScalingGroupRequest(
        region_id=REGION,
        scaling_group_name=name or unique("sg"),
        min_size=min_size,
        max_size=max_size,
        v_switch_ids=[VSWITCH],
    )).body
    return body.scaling_group_id


def create_configuration(ess, group_id: str) -> str:
    # CreateScalingConfigurationRequest has no RegionId field in ess20220222 1.13.3 (nor has ScaleWithAdjustment):
    # the emulator must find the group from ScalingGroupId alone.
    body = ess.create_scaling_configuration(ess_models.CreateScalingConfigurationRequest(
        scaling_group_id=group_id,
        instance_type=INSTANCE_TYPE,
        image_id=IMAGE,
        security_group_id=SECURITY_GROUP,
    )).body
    return body.scaling_configuration_id


def enable_group(ess, group_id: str, config_id: str) -> None:
    ess.enable_scaling_group(ess_models.EnableScalingGroupRequest(
        region_id=REGION,
        scaling_group_id=group_id,
        active_scaling_configuration_id=config_id,
    ))


def active_group(ess) -> tuple[str, str]:
    group_id = create_group(ess)
    config_id = create_configuration(ess, group_id)
    enable_group(ess, group_id, config_id)
    return group_id, config_id


def scale(ess, group_id: str, value: int, adjustment_type: str = "QuantityChangeInCapacity"):
    return ess.scale_with_adjustment(ess_models.ScaleWithAdjustmentRequest(
        scaling_group_id=group_id,
        adjustment_type=adjustment_type,
        adjustment_value=value,
    )).body


def describe_groups(ess, group_id: str) -> list:
    body = ess.describe_scaling_groups(ess_models.DescribeScalingGroupsRequest(
        region_id=REGION, scaling_group_ids=[group_id])).body
    return list(body.scaling_groups or [])


def describe_group(ess, group_id: str):
    groups = describe_groups(ess, group_id)
    assert len(groups) == 1, f"DescribeScalingGroups(ScalingGroupIds=[{group_id}]) returned {len(groups)} groups"
    return groups[0]


def scaling_instances_page(ess, group_id: str, page_number: int, page_size: int):
    return ess.describe_scaling_instances(ess_models.DescribeScalingInstancesRequest(
        region_id=REGION, scaling_group_id=group_id, page_number=page_number, page_size=page_size)).body


def scaling_instances(ess, group_id: str) -> list:
    return list(scaling_instances_page(ess, group_id, 1, 50).scaling_instances or [])


def in_service_ids(ess, group_id: str) -> list[str]:
    return [i.instance_id for i in scaling_instances(ess, group_id) if i.lifecycle_state == "InService"]


# ------------------------------------------------------------------------------------------------
# Raw HTTP (no SDK): independent RPC v1 signer, as sent by the legacy Go SDK (cluster-autoscaler)
# ------------------------------------------------------------------------------------------------

def pct(s: str) -> str:
    """RFC 3986 percent-encoding: only A-Za-z0-9-_.~ are left as they are."""
    return urllib.parse.quote(str(s), safe="-_.~")


def rpc_v1_signature(params: dict[str, str], method: str, secret: str) -> str:
    cqs = "&".join(f"{pct(k)}={pct(v)}" for k, v in sorted(params.items()))
    string_to_sign = f"{method}&{pct('/')}&{pct(cqs)}"
    mac = hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def go_sdk_rpc_query(action: str, version: str, params: dict[str, str], key_id: str = "testid",
                     secret: str = "testsecret", method: str = "POST") -> dict[str, str]:
    """The query the legacy alibaba-cloud-sdk-go sends (sdk/auth/rpc_signature_composer.go)."""
    q = {
        "Version": version,
        "Action": action,
        "Format": "JSON",
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "SignatureMethod": "HMAC-SHA1",
        "SignatureType": "",
        "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "AccessKeyId": key_id,
        "RegionId": REGION,
        **params,
    }
    q["Signature"] = rpc_v1_signature(q, method, secret)
    return q


GO_SDK_HEADERS = {
    "x-sdk-client": "golang/1.0.0",
    "x-sdk-invoke-type": "normal",
    "Accept-Encoding": "identity",
    "Content-Type": "application/x-www-form-urlencoded",
    "User-Agent": "AlibabaCloud (linux; amd64) Golang/1.22 Core/0.0.1",
}


def raw_request(method: str, url: str, query: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                body: bytes = b"") -> requests.Response:
    """Send one request outside the SDK (form-encoded query, as Go's url.Values.Encode does) and log it."""
    qs = urllib.parse.urlencode(sorted((query or {}).items()))
    full = url.rstrip("/") + "/" + (f"?{qs}" if qs else "")
    entry = {"method": method, "path": "/", "query": dict(query or {}), "headers": dict(headers or {}),
             "body": body.decode("utf-8", "replace")}
    try:
        r = requests.request(method, full, headers=headers or {}, data=body, timeout=20,
                             proxies={"http": "", "https": ""})
    except Exception as e:
        entry["error"] = repr(e)
        record_exchange(entry)
        raise
    entry.update(status=r.status_code, response_headers=dict(r.headers), response_body=r.text)
    record_exchange(entry)
    return r


def describe_error(e) -> str:
    return (f"{type(e).__module__}.{type(e).__name__}: code={getattr(e, 'code', None)!r} "
            f"status_code={getattr(e, 'status_code', None)!r} message={getattr(e, 'message', None)!r} "
            f"data={getattr(e, 'data', None)!r}")
