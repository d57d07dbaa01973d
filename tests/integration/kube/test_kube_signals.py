"""Real SIGINT and SIGTERM, sent to the deploy process alone (as a CI runner or a supervisor sends
them) or to its process group (a terminal's Ctrl-C), while the deploy polls the idle colour's
rollout (one `kubectl get deployments` per poll, kube/rollouts.py): the wait is stopped at once, traffic stays on one healthy colour, the idle colour goes
back down, the lock is released, an "interrupted" record is kept, exit 130. A second signal
during that recovery is reported and does not stop it. On the REAL control plane (scripts/kube-up.sh):
the idle colour's pods never become Ready (image tag `never-ready`), so the real kubectl waits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from retail_deploy.targets import history
from tests.integration.kube_support import REPO, Platform

pytestmark = [pytest.mark.integration, pytest.mark.kube]

STALLS = "1.1.0-never-ready"  # its pods run but never become Ready: the real kubectl waits

SET_GREEN = ("set", "image", "deployment/retail-backend-green")


def polling(calls: list[list[str]]) -> bool:
    """The deploy polls the idle colour's rollout: a list of deployments after green's set image."""
    at = next((i for i, argv in enumerate(calls) if all(w in argv for w in SET_GREEN)), None)
    return at is not None and any(argv[:2] == ["get", "deployments"] for argv in calls[at + 1:])


@pytest.fixture
def platform(real_platform):
    return real_platform


def start_deploy(platform: Platform) -> subprocess.Popen[str]:
    # the idle colour's rollout never finishes: the real kubectl waits until its --timeout
    env = dict(platform.env, RETAIL_DEPLOY_CONFIG=str(platform.config), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "invoke", "-r", str(REPO), "deploy.production",
                             "--version", STALLS, "--yes", "--services", "backend",
                             # the pre-deployment checklist (registry, staging record) cannot pass here
                             "--force", "test: a signal during the idle rollout"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    wait_for(platform, proc, polling, "the deploy never reached the idle rollout's wait")
    time.sleep(0.5)
    return proc


def wait_for(platform: Platform, proc: subprocess.Popen[str], match, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if match([c["argv"] for c in platform.cluster.calls("kubectl")]):
            return
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"{what}: {proc.communicate()}")


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def assert_recovered(platform: Platform, err: str, name: str) -> None:
    assert "traffic never left blue" in err, err
    assert "green scaled back down to 0" in err
    assert "traffic is on blue (retail-backend-blue), healthy, serving backend 1.0.0" in err
    assert platform.selector() == "blue"
    assert platform.served_version() == "1.0.0"
    assert platform.cluster.replicas("production", "retail-backend-green") == 0
    assert platform.cluster.configmap("production", history.LOCK_NAME) is None
    cm = platform.cluster.configmap("production", history.HISTORY_NAME)
    [record] = [r for r in history.parse_history(cm["data"]) if r.get("action") == "deploy"]
    assert record["result"] == "interrupted" and f"interrupted by {name}" in record["reason"]
    # the waiting kubectl was stopped, not waited for until its timeout
    assert "timed out waiting for the condition" not in err


@pytest.mark.parametrize("to", ["process", "group"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_idle_rollout_stops_it_at_once_and_recovers(platform, signum, to):
    proc = start_deploy(platform)
    sent = time.monotonic()
    (os.killpg if to == "group" else os.kill)(proc.pid, signum)
    out, err = finish(proc)
    name = signal.Signals(signum).name
    assert proc.returncode == 130, (out, err)
    assert f"interrupted by {name} during 'wait up to " in err and "for retail-backend-green to roll out'" in err
    assert time.monotonic() - sent < 60
    assert_recovered(platform, err, name)


def test_a_second_signal_during_the_recovery_is_reported_and_the_recovery_finishes(platform):
    proc = start_deploy(platform)
    calls_before = len(platform.cluster.calls("kubectl"))
    os.kill(proc.pid, signal.SIGTERM)
    # the recovery's first command (reading the Service before scaling green down) has started
    deadline = time.monotonic() + 60
    while len(platform.cluster.calls("kubectl")) <= calls_before and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # a Ctrl-C to the whole group: kubectl must not get it either
    out, err = finish(proc)
    assert proc.returncode == 130, (out, err)
    assert "SIGINT received while" in err and "finishing that first" in err
    assert_recovered(platform, err, "SIGTERM")


def test_a_signal_while_a_finished_deploy_is_recorded_is_acted_on_after_the_record_and_the_unlock(
        platform, monkeypatch):
    """The deploy succeeded; SIGTERM arrives while its history record is written. The record and
    the lock release must not be cut short, and the signal must not be lost: exit 130 afterwards,
    saying what serves and that verification did not run."""
    from retail_deploy.errors import EXIT_INTERRUPTED
    from retail_deploy.kube import deployer

    original = history.record

    def record_then_signalled(runner, kube, entry):
        os.kill(os.getpid(), signal.SIGTERM)
        original(runner, kube, entry)

    monkeypatch.setattr(history, "record", record_then_signalled)
    cfg = platform.cfg()
    with pytest.raises(deployer.Interrupted) as info:
        deployer.deploy(platform.runner(), cfg, cfg.environment("production"), "1.1.0", services=["backend"])
    assert info.value.exit_code == EXIT_INTERRUPTED
    assert "interrupted by SIGTERM after 1.1.0 was deployed to production (traffic on green)" in str(info.value)
    assert "inv verify.production --version 1.1.0" in str(info.value)
    assert platform.selector() == "green" and platform.served_version() == "1.1.0"
    assert platform.cluster.configmap("production", history.LOCK_NAME) is None
    cm = platform.cluster.configmap("production", history.HISTORY_NAME)
    assert [r["result"] for r in history.parse_history(cm["data"])] == ["succeeded"]
