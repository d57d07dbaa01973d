"""`status` as a command on the Kubernetes doubles (tests/doubles): its options refused as bad
input, `--watch` printing what changed when stdout is not a terminal, and Ctrl-C ending a watch
with exit 130. What it reads is tested on the real control plane and the real Docker engine
(tests/integration/kube/test_kube_real_status.py, tests/integration/overview/test_status_docker.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from retail_deploy.targets import history
from tests.integration.kube_support import REPO, Platform, inv

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("args,message", [
    (["--watch", "--json"], "--watch and --json do not go together"),
    (["--interval", "1s"], "--interval and --count go with --watch"),
    (["--watch", "--count", "0"], "--count needs a whole number of passes, 1 or more"),
    (["--watch", "--interval", "soon"], "--interval"),
    (["--env", "nowhere"], "nowhere"),
])
def test_bad_options_are_refused_before_anything_is_read(platform: Platform, args, message) -> None:
    done = inv(platform, "status", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and done.stderr.startswith("error: ")
    assert not platform.commands_with("get")


def watching(platform: Platform, *args: str) -> subprocess.Popen[str]:
    environ = dict(platform.env, RETAIL_DEPLOY_CONFIG=str(platform.config), PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "invoke", "-r", str(REPO), "status", "--env", "production",
                             "--watch", *args], cwd=REPO, env=environ, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 60) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} never came: {lines}")


def test_watch_prints_the_table_once_then_only_what_changed(platform: Platform) -> None:
    process = watching(platform, "--interval", "2s", "--count", "2")
    first = read_until(process, "(checked ")
    assert "production (kubernetes, retail-production/production): HEALTHY" in first
    assert "  lock: free" in first
    platform.cluster.add_configmap("production", history.LOCK_NAME, {
        "holder": "carol@laptop", "id": "z", "version": "1.0.9", "strategy": "blue-green",
        "acquired": "2026-01-01T00:00:00Z", "expires": "2099-01-01T00:00:00Z"})
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, out + err
    later = out.splitlines()
    assert len(later) == 1 and later[0].endswith(" production: lock: free -> held by carol@laptop (1.0.9)"), later
    assert "\x1b[" not in out  # no screen control codes outside a terminal


def test_ctrl_c_ends_a_watch_with_exit_130(platform: Platform) -> None:
    process = watching(platform, "--interval", "1s")
    read_until(process, "(checked ")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err
