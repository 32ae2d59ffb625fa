"""The README's main command, `ackctl up`: the emulator and the control plane server in one process run
seed 000's walkthrough to a cluster whose 3 masters and 1 worker kubectl would list Ready; a second run
on the same state directory finds the secret and the cluster instead of making them again."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess

from conftest import ackctl_bin

FAST = ["--listen", "127.0.0.1:0", "--emulator-listen", "127.0.0.1:0", "--once"]


def up(state_dir) -> str:
    out = subprocess.run(
        [str(ackctl_bin()), "up", "--state-dir", str(state_dir), *FAST],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def node_lines(stdout: str) -> list[str]:
    return [l for l in stdout.splitlines() if l.startswith("eu-central-1.i-")]


def test_up_runs_seed_000_to_four_ready_nodes_and_reuses_its_state(tmp_path):
    first = up(tmp_path)
    nodes = node_lines(first)
    assert len(nodes) == 4, first
    assert all(" Ready " in l for l in nodes), first
    assert sum(" master" in l or "control-plane" in l for l in nodes) == 3, first
    kubeconfig = tmp_path / "alibabacluster-demo.kubeconfig"
    assert "certificate-authority-data" in kubeconfig.read_text()
    for secret_file in (kubeconfig, tmp_path / "admin.token"):
        assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    assert "export KUBECONFIG=" in first

    second = up(tmp_path)
    assert "found from an earlier run" in second, second
    assert len(node_lines(second)) == 4, second


def test_while_up_serves_get_with_server_shows_the_control_planes_cluster_and_pools(tmp_path):
    proc = subprocess.Popen(
        [str(ackctl_bin()), "up", "--state-dir", str(tmp_path),
         "--listen", "127.0.0.1:0", "--emulator-listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        server = None
        for line in proc.stdout:
            if line.startswith("ackctl server"):
                server = line.split()[2]
            if line.startswith("Serving until interrupted"):
                break
        assert server, "ackctl up did not print its server's address"

        def get(*args):
            out = subprocess.run(
                [str(ackctl_bin()), "get", *args, "--server", server, "--state-dir", str(tmp_path), "-o", "json"],
                capture_output=True, text=True, timeout=30,
            )
            assert out.returncode == 0, out.stderr
            return json.loads(out.stdout)

        clusters = get("clusters")
        assert [(c["name"], c["status"]) for c in clusters] == [("alibabacluster-demo", "RUNNING")]
        assert get("cluster", "alibabacluster-demo")["cloudClusterId"].startswith("c")
        pools = get("nodepools", "alibabacluster-demo")
        assert pools["pool1"]["count"] == 1 and pools["pool1"]["instanceType"] == "ecs.sn1ne.large"

        missing = subprocess.run(
            [str(ackctl_bin()), "get", "cluster", "nope", "--server", server, "--state-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=30,
        )
        assert missing.returncode != 0 and 'no cluster named "nope"' in missing.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
