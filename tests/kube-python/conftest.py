"""Fixtures for the Python kubernetes client against an emulated ACK cluster.

One `ackctl emulator --cluster py` subprocess per session, with every delay at zero; the cluster's
kubeconfig (from DescribeClusterUserKubeconfig: HTTPS, the emulator's CA, a bearer token) is what
the client loads. The same tests run twice: with PyPI's kubernetes in the SDK venv and with
Debian's python3-kubernetes (scripts/sdk-tests does both), so only the `kubernetes` package and
the standard library are imported here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from kubernetes import client, config

REPO = Path(__file__).resolve().parents[2]
READY_RE = re.compile(r"^cluster py ready: kubeconfig (.+)$")
READY_TIMEOUT_S = 60.0

for _var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_var, None)


def ackctl_bin() -> Path:
    p = Path(os.environ.get("ACKCTL_BIN", "target/debug/ackctl"))
    return p if p.is_absolute() else REPO / p


@pytest.fixture(scope="session")
def kubeconfig_path():
    """Starts the emulator with one running cluster; yields its kubeconfig's path."""
    workdir = tempfile.mkdtemp(prefix="kube-python-")
    args = [
        str(ackctl_bin()), "emulator",
        "--listen", "127.0.0.1:0",
        "--pending-ms", "0", "--starting-ms", "0", "--control-plane-ms", "0",
        "--node-join-ms", "0", "--pod-start-ms", "0",
        "--cluster", "py", "--cluster-nodes", "2",
        "--kubeconfig-dir", workdir,
    ]
    stderr = open(os.path.join(workdir, "emulator.log"), "w")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, text=True)
    path = None
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while path is None:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the emulator exited early; see {stderr.name}")
            match = READY_RE.match(line.strip())
            if match:
                path = match.group(1)
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator's cluster was not ready in time")
        yield path
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        stderr.close()


@pytest.fixture(scope="session")
def api_client(kubeconfig_path):
    return config.new_client_from_config(config_file=kubeconfig_path)


@pytest.fixture
def core(api_client):
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client):
    return client.AppsV1Api(api_client)


def wait_for(what: str, check, timeout_s: float = 20.0, interval_s: float = 0.1):
    """Polls `check()` until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval_s)
