"""Fixtures that run `ackctl emulator` and point the official Alibaba Cloud Python SDKs at it.

* `emulator` / `throttled_emulator`: session-scoped emulator subprocesses (the second one is started
  with `--throttle-rate 1.0`, so every request is throttled). They are stopped by PID at session end.
* `signing`: parametrises a test over the two signing modes the SDK supports against RPC products:
  `v3` (the default, ACS3-HMAC-SHA256) and `v2` (`Config(signature_algorithm='v2')`, RPC v1 HMAC-SHA1).
* `ecs`, `ess`, `openapi`: SDK clients for the normal emulator in the current signing mode;
  `make_client(...)` builds one with other credentials or against another emulator.

Every HTTP exchange the SDK performs is recorded (by wrapping `darabonba.core.DaraCore.do_action`); when a
test fails, the exchanges and the emulator's stderr written during the test are appended to its report.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from alibabacloud_cs20151215.client import Client as CsClient
from alibabacloud_eci20180808.client import Client as EciClient
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_ess20220222.client import Client as EssClient
from alibabacloud_slb20140515.client import Client as SlbClient
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_vpc20160428.client import Client as VpcClient
from alibabacloud_tea_openapi.models import Config
from darabonba.core import DaraCore

from sdkhelpers import REGION, WIRE as _WIRE, record_exchange

REPO = Path(__file__).resolve().parents[2]
READY_RE = re.compile(r"^ackctl emulator listening on http://127\.0\.0\.1:(\d+)$")
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
BASE_ARGS = [
    "emulator",
    "--listen", "127.0.0.1:0",
    "--access-key", "testid:testsecret",
    "--access-key", "other:othersecret",
    "--pending-ms", "0",
    "--starting-ms", "0",
    "--control-plane-ms", "0",
]
SIGNING_MODES = ["v3", "v2"]

# The SDK (darabonba) honours HTTP(S)_PROXY for every request, even to 127.0.0.1, and ignores NO_PROXY
# unless it is passed in the runtime options. Never send emulator traffic through a proxy.
for _var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_var, None)


def ackctl_bin() -> Path:
    p = Path(os.environ.get("ACKCTL_BIN", "target/debug/ackctl"))
    return p if p.is_absolute() else REPO / p


# --------------------------------------------------------------------------------------------------
# Emulator process management
# --------------------------------------------------------------------------------------------------

class Emulator:
    """One `ackctl emulator` subprocess."""

    def __init__(self, extra_args: list[str] | None = None, name: str = "emulator"):
        self.name = name
        self.args = [str(ackctl_bin()), *BASE_ARGS, *(extra_args or [])]
        self.proc: subprocess.Popen | None = None
        self._pump: threading.Thread | None = None
        self.port: int | None = None
        self.ready_line: str | None = None
        self.extra_stdout: list[str] = []
        self._lines: queue.Queue = queue.Queue()
        self._stderr = tempfile.NamedTemporaryFile(prefix=f"ackctl-{name}-", suffix=".stderr", delete=False)
        self.stderr_path = Path(self._stderr.name)
        self.exit_code: int | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Emulator":
        exe = Path(self.args[0])
        if not exe.is_file() or not os.access(exe, os.X_OK):
            pytest.fail(
                f"ACKCTL_BIN={exe} does not exist or is not executable; build it first "
                "(cargo build -p ackctl) or point ACKCTL_BIN at the binary",
                pytrace=False,
            )
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
            cwd=REPO,
        )
        self._pump = threading.Thread(target=self._pump_stdout, daemon=True)
        self._pump.start()
        try:
            line = self._lines.get(timeout=READY_TIMEOUT_S)
        except queue.Empty:
            self.stop()
            pytest.fail(
                f"{self.name}: no ready line on stdout within {READY_TIMEOUT_S}s\n"
                f"command: {shlex.join(self.args)}\nstderr tail:\n{self.stderr_tail()}",
                pytrace=False,
            )
        if line is None:  # stdout closed: the process died before becoming ready
            self.stop()
            pytest.fail(
                f"{self.name}: exited (code {self.exit_code}) before printing the ready line\n"
                f"command: {shlex.join(self.args)}\nstderr tail:\n{self.stderr_tail()}",
                pytrace=False,
            )
        self.ready_line = line.rstrip("\n")
        m = READY_RE.match(self.ready_line)
        if not m:
            self.stop()
            pytest.fail(
                f"{self.name}: first stdout line {self.ready_line!r} does not match "
                f"'ackctl emulator listening on http://127.0.0.1:PORT'\nstderr tail:\n{self.stderr_tail()}",
                pytrace=False,
            )
        self.port = int(m.group(1))
        return self

    def _pump_stdout(self) -> None:
        assert self.proc and self.proc.stdout
        first = True
        for line in self.proc.stdout:
            if first:
                self._lines.put(line)
                first = False
            else:
                self.extra_stdout.append(line.rstrip("\n"))
        if first:
            self._lines.put(None)
        self.proc.stdout.close()

    def stop(self) -> int | None:
        """Stop the process by its PID: SIGTERM, then SIGKILL after STOP_TIMEOUT_S."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.exit_code = self.proc.returncode
        self._pump.join(timeout=STOP_TIMEOUT_S)  # stdout is complete once the pump has seen EOF
        self._stderr.close()
        return self.exit_code

    def stderr_size(self) -> int:
        try:
            return self.stderr_path.stat().st_size
        except OSError:
            return 0

    def stderr_since(self, offset: int, limit: int = 4000) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(offset)
                data = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return data if len(data) <= limit else "…" + data[-limit:]

    def stderr_tail(self, limit: int = 4000) -> str:
        return self.stderr_since(0, limit)


_RUNNING: list[Emulator] = []


def start_emulator(extra_args: list[str] | None = None, name: str = "emulator") -> Emulator:
    emu = Emulator(extra_args, name)
    _RUNNING.append(emu)
    return emu.start()


@pytest.fixture(scope="session")
def emulator():
    emu = start_emulator(name="emulator")
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def throttled_emulator():
    emu = start_emulator(["--throttle-rate", "1.0"], name="throttled")
    yield emu
    emu.stop()


# --------------------------------------------------------------------------------------------------
# SDK clients
# --------------------------------------------------------------------------------------------------

@pytest.fixture(params=SIGNING_MODES)
def signing(request) -> str:
    """'v3' = SDK default (ACS3-HMAC-SHA256); 'v2' = Config(signature_algorithm='v2') (RPC v1 HMAC-SHA1)."""
    return request.param


def make_config(emu: Emulator, signing: str, key_id: str = "testid", secret: str = "testsecret") -> Config:
    kw = dict(
        access_key_id=key_id,
        access_key_secret=secret,
        endpoint=emu.endpoint,
        protocol="http",
        region_id=REGION,
        connect_timeout=5000,
        read_timeout=20000,
    )
    if signing == "v2":
        kw["signature_algorithm"] = "v2"
    elif signing != "v3":
        raise ValueError(signing)
    return Config(**kw)


_PRODUCTS = {
    "ecs": EcsClient,
    "ess": EssClient,
    "cs": CsClient,
    "eci": EciClient,
    "slb": SlbClient,
    "vpc": VpcClient,
    "openapi": OpenApiClient,
}


@pytest.fixture
def make_client(emulator, signing):
    """make_client('ecs'|'ess'|'cs'|'eci'|'slb'|'vpc'|'openapi', key_id=..., secret=..., emu=..., signing=...)"""

    def _make(product: str, *, key_id: str = "testid", secret: str = "testsecret", emu: Emulator | None = None,
              signing_mode: str | None = None):
        return _PRODUCTS[product](make_config(emu or emulator, signing_mode or signing, key_id, secret))

    return _make


@pytest.fixture
def ecs(make_client) -> EcsClient:
    return make_client("ecs")


@pytest.fixture
def ess(make_client) -> EssClient:
    return make_client("ess")


@pytest.fixture
def cs(make_client) -> CsClient:
    return make_client("cs")


@pytest.fixture
def eci(make_client) -> EciClient:
    return make_client("eci")


@pytest.fixture
def slb(make_client) -> SlbClient:
    return make_client("slb")


@pytest.fixture
def vpc(make_client) -> VpcClient:
    return make_client("vpc")


@pytest.fixture
def openapi(make_client) -> OpenApiClient:
    return make_client("openapi")


# --------------------------------------------------------------------------------------------------
# Wire log: every request the SDK sends, attached to failing tests
# --------------------------------------------------------------------------------------------------

_original_do_action = DaraCore.do_action


def _text(body) -> str:
    if body is None:
        return ""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body).decode("utf-8", "replace")
    return body if isinstance(body, str) else repr(body)


def _recording_do_action(request, runtime_option=None):
    entry = {
        "method": request.method,
        "path": request.pathname,
        "query": dict(request.query or {}),
        "headers": dict(request.headers or {}),
        "body": _text(request.body),
    }
    try:
        resp = _original_do_action(request, runtime_option)
    except Exception as e:  # connection errors etc.
        entry["error"] = repr(e)
        record_exchange(entry)
        raise
    entry["status"] = resp.status_code
    entry["response_headers"] = dict(resp.headers or {})
    entry["response_body"] = _text(resp.body)
    record_exchange(entry)
    return resp


DaraCore.do_action = staticmethod(_recording_do_action)


def format_exchange(i: int, e: dict) -> str:
    q = e.get("query") or {}
    hdrs = e.get("headers") or {}
    lines = [
        f"#{i} {e.get('method')} {e.get('path')}  action={hdrs.get('x-acs-action') or q.get('Action')} "
        f"version={hdrs.get('x-acs-version') or q.get('Version')}",
        "   query: " + (urllib.parse.urlencode(sorted(q.items())) if q else "(none)"),
        "   headers: " + ", ".join(f"{k}: {v}" for k, v in sorted(hdrs.items(), key=lambda kv: kv[0].lower())),
    ]
    if e.get("body"):
        lines.append(f"   body: {e['body'][:500]}")
    if "error" in e:
        lines.append(f"   -> transport error: {e['error']}")
    else:
        rh = e.get("response_headers") or {}
        keep = {k: v for k, v in rh.items() if k.lower() in ("content-type", "x-acs-retry-after", "x-acs-request-id")}
        lines.append(f"   -> {e.get('status')} {json.dumps(keep)} {str(e.get('response_body'))[:1200]}")
    return "\n".join(lines)


@pytest.fixture(autouse=True)
def _wire_log(request):
    _WIRE.clear()
    offsets = {id(emu): emu.stderr_size() for emu in _RUNNING}
    request.node._wire_log = _WIRE
    request.node._stderr_offsets = offsets
    yield _WIRE


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed or rep.when == "teardown":
        return
    wire = getattr(item, "_wire_log", None)
    if wire:
        rep.sections.append(("SDK wire log", "\n".join(format_exchange(i, e) for i, e in enumerate(wire, 1))))
    offsets = getattr(item, "_stderr_offsets", {})
    for emu in _RUNNING:
        text = emu.stderr_since(offsets.get(id(emu), 0), limit=3000)
        if text.strip():
            rep.sections.append((f"{emu.name} stderr (during this test)", text))


def pytest_report_header(config):
    import importlib.metadata as md

    vers = ", ".join(
        f"{p}=={md.version(p)}"
        for p in ("alibabacloud-tea-openapi", "darabonba-core", "alibabacloud-ecs20140526", "alibabacloud-ess20220222")
    )
    return [f"ACKCTL_BIN: {ackctl_bin()}", f"SDKs: {vers}"]


def pytest_sessionfinish(session, exitstatus):
    # Safety net for emulators whose fixture teardown did not run (e.g. KeyboardInterrupt during setup).
    for emu in _RUNNING:
        try:
            emu.stop()
        except Exception:
            pass
        try:
            emu.stderr_path.unlink()
        except OSError:
            pass
