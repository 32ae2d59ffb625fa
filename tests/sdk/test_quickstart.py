"""The README's first command, `ackctl quickstart`, runs start to finish and leaves nothing behind."""

from __future__ import annotations

import subprocess

from conftest import ackctl_bin


def test_quickstart_walks_through_ess_and_ack_and_cleans_up():
    out = subprocess.run([str(ackctl_bin()), "quickstart"], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for milestone in ("instances InService", "running after", "server: https://127.0.0.1:",
                      "cluster gone, nothing left behind"):
        assert milestone in out.stdout, f"missing {milestone!r} in:\n{out.stdout[-3000:]}"
