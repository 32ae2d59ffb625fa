"""The process contract the fixtures rely on: one ready line on stdout, logs on stderr, stops on SIGTERM."""

from __future__ import annotations

import time

from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.models import Config

from conftest import READY_RE, STOP_TIMEOUT_S, start_emulator
from sdkhelpers import REGION


def test_the_emulator_prints_only_its_ready_line_on_stdout_and_exits_on_sigterm():
    emu = start_emulator(name="contract")
    try:
        assert READY_RE.match(emu.ready_line), emu.ready_line
        assert 0 < emu.port < 65536
        ecs = EcsClient(Config(access_key_id="testid", access_key_secret="testsecret", endpoint=emu.endpoint,
                               protocol="http", region_id=REGION, read_timeout=20000, connect_timeout=5000))
        assert ecs.describe_regions(ecs_models.DescribeRegionsRequest()).body.regions.region
    finally:
        started = time.monotonic()
        emu.stop()
        elapsed = time.monotonic() - started
    assert elapsed < STOP_TIMEOUT_S, f"SIGTERM did not stop the emulator within {STOP_TIMEOUT_S}s"
    assert emu.extra_stdout == [], f"stdout after the ready line: {emu.extra_stdout[:20]}"
