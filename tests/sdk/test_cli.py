"""`ackctl get` reaches the cloud through --alibaba-endpoint and the credentials chain: what the
official SDK creates, the CLI lists."""

from __future__ import annotations

import os
import subprocess

from alibabacloud_ess20220222 import models as ess_models

from conftest import ackctl_bin
from sdkhelpers import REGION


def ackctl(*args: str, key_id: str = "testid", secret: str = "testsecret") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "ACCESS_KEY", "ACKCTL_"))}
    env.update(ALIBABA_CLOUD_ACCESS_KEY_ID=key_id, ALIBABA_CLOUD_ACCESS_KEY_SECRET=secret, HOME="/nonexistent")
    return subprocess.run([str(ackctl_bin()), *args], env=env, capture_output=True, text=True, timeout=60)


def test_get_scaling_groups_lists_a_group_the_sdk_created(emulator, ess):
    name = f"cli-{os.getpid()}"
    created = ess.create_scaling_group(ess_models.CreateScalingGroupRequest(
        region_id=REGION, scaling_group_name=name, min_size=0, max_size=4, v_switch_ids=["vsw-cn-hangzhou-k"]))
    group_id = created.body.scaling_group_id
    try:
        out = ackctl("get", "scaling-groups", "--alibaba-endpoint", emulator.url, "--region", REGION)
        assert out.returncode == 0, out.stderr
        row = next(line for line in out.stdout.splitlines() if group_id in line)
        assert name in row and "Inactive" in row, row
    finally:
        ess.delete_scaling_group(ess_models.DeleteScalingGroupRequest(scaling_group_id=group_id, force_delete=True))


def test_get_with_a_wrong_secret_fails_with_the_service_error(emulator):
    out = ackctl("get", "regions", "--alibaba-endpoint", emulator.url, "--region", REGION, secret="wrong")
    assert out.returncode == 1
    assert "SignatureDoesNotMatch" in out.stderr and "backtrace" not in out.stderr.lower(), out.stderr


def test_get_rejects_an_endpoint_that_is_not_http(emulator):
    out = ackctl("get", "regions", "--alibaba-endpoint", "ftp://127.0.0.1:1", "--region", REGION)
    assert out.returncode == 1
    assert "ftp://127.0.0.1:1" in out.stderr and "http or https" in out.stderr, out.stderr
