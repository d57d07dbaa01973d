"""Ctrl-C during a deploy on the REAL control plane (scripts/kube-up.sh): at every blue-green
step, a real SIGINT while the real kubectl waits for a rollout that cannot finish (its pods never
become Ready), during a rolling deploy, and during the recovery. Afterwards traffic is on exactly
one healthy colour, read from the real Service's selector and the real pods. The doubles keep only
the scenario needing a failing `rollout undo` (test_kube_interrupt.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from retail_deploy.kube import deployer
from tests.integration.kube.test_kube_interrupt import STEPS, breach_in_verification
from tests.integration.kube.test_kube_signals import polling
from tests.integration.kube_support import REPO

pytestmark = [pytest.mark.integration, pytest.mark.kube]


@pytest.fixture
def platform(real_platform):
    return real_platform


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("index", range(STEPS))
def test_ctrl_c_at_each_step(platform, monkeypatch, index, when):
    original = deployer.Deploy.do
    seen: list[str] = []
    fired = {"done": False}

    def interrupting(self, step, plan):
        position = len(seen)
        seen.append(step.kind)
        if fired["done"] or position != index:
            return original(self, step, plan)
        fired["done"] = True
        if when == "after":
            original(self, step, plan)
        raise KeyboardInterrupt

    monkeypatch.setattr(deployer.Deploy, "do", interrupting)
    cfg = platform.cfg()
    with pytest.raises(deployer.Interrupted) as info:
        deployer.deploy(platform.runner(), cfg, cfg.environment("production"), "1.1.0", services=["backend"])
    assert len(seen[: index + 1]) == index + 1, seen
    accepted = index == STEPS - 1  # the scale-down step is in the verified phase
    colour = "green" if accepted else "blue"
    assert f"traffic is on {colour} (retail-backend-{colour}), healthy" in str(info.value)
    assert platform.selector() == colour  # exactly one colour selected
    assert platform.served_version() == ("1.1.0" if accepted else "1.0.0")
    assert platform.cluster.serving("production", "retail-backend")["status"] == "UP"
    if not accepted:
        assert platform.cluster.replicas("production", "retail-backend-blue") == 3
    assert platform.cluster.configmap("production", "retail-deploy-lock") is None  # lock released


def test_real_sigint_during_the_idle_rollout(platform):
    """A real Ctrl-C (SIGINT to the process group, as a terminal sends it) while the real kubectl
    polls green's rollout, which cannot finish: its pods never become Ready."""
    proc = subprocess.Popen([sys.executable, "-m", "invoke", "-r", str(REPO), "deploy.production",
                             "--version", "1.1.0-never-ready", "--yes", "--services", "backend",
                             # the pre-deployment checklist (registry, staging record) cannot pass here
                             "--force", "test: Ctrl-C during the idle rollout"],
                            cwd=REPO, env=dict(platform.env, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if polling([c["argv"] for c in platform.cluster.calls("kubectl")]):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the deploy never reached the idle rollout's wait")
        time.sleep(1.0)
        assert proc.poll() is None, "the rollout should still be waiting"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, (out, err)
    assert "traffic is on blue (retail-backend-blue), healthy" in err
    assert platform.selector() == "blue"
    assert platform.served_version() == "1.0.0"


@pytest.mark.parametrize("index,undone", [(0, False), (1, True)])
def test_ctrl_c_during_a_rolling_deploy(platform, monkeypatch, index, undone):
    original = deployer.Deploy.do
    seen: list[str] = []

    def interrupting(self, step, plan):
        seen.append(step.kind)
        if len(seen) - 1 == index:
            raise KeyboardInterrupt
        return original(self, step, plan)

    monkeypatch.setattr(deployer.Deploy, "do", interrupting)
    cfg = platform.cfg()
    with pytest.raises(deployer.Interrupted) as info:
        deployer.deploy(platform.runner(), cfg, cfg.environment("staging"), "1.1.0", services=["backend"],
                        strategy="rolling")
    assert bool(platform.commands_with("rollout", "undo")) == undone
    assert platform.cluster.image("staging", "retail-backend") == "registry.example.com/retail-backend:1.0.0"
    assert ("nothing was changed" in str(info.value)) != undone


@pytest.mark.parametrize("strategy,env_name", [("blue-green", "production"), ("rolling", "staging")])
def test_a_second_ctrl_c_cannot_stop_the_recovery_after_a_failure(platform, monkeypatch, strategy, env_name):
    from retail_deploy.errors import OperationFailed, RolledBack
    from retail_deploy.kube.strategies import HEALTH, SWITCH, UNDO

    original = deployer.Deploy.do
    state = {"failed": False, "signalled": False}

    def failing_then_interrupted(self, step, plan):
        if step.kind == HEALTH and not state["failed"]:
            state["failed"] = True
            raise OperationFailed("health check failed: injected")
        if state["failed"] and not state["signalled"] and step.kind in (SWITCH, UNDO):
            state["signalled"] = True
            os.kill(os.getpid(), signal.SIGINT)  # delivered at once, before the recovery step runs
        return original(self, step, plan)

    monkeypatch.setattr(deployer.Deploy, "do", failing_then_interrupted)
    cfg = platform.cfg()
    with pytest.raises(RolledBack):
        deployer.deploy(platform.runner(), cfg, cfg.environment(env_name), "1.1.0", services=["backend"],
                        strategy=strategy)
    assert state["signalled"]
    if strategy == "blue-green":
        assert platform.selector() == "blue"
        assert platform.served_version() == "1.0.0"
    else:
        assert platform.cluster.image("staging", "retail-backend") == "registry.example.com/retail-backend:1.0.0"
    assert platform.cluster.configmap(env_name, "retail-deploy-lock") is None


def test_a_breach_in_the_verification_period_switches_traffic_back_first(platform, monkeypatch):
    from retail_deploy.errors import RolledBack

    breach_in_verification(monkeypatch)
    cfg = platform.cfg()
    with pytest.raises(RolledBack) as info:
        deployer.deploy(platform.runner(), cfg, cfg.environment("production"), "1.1.0")
    assert platform.selector() == "blue" and platform.served_version() == "1.0.0"
    assert "switched traffic back to blue" in str(info.value)
    mutations = [" ".join(argv) for argv in platform.cluster.mutations()]
    switch_back = max(i for i, m in enumerate(mutations) if m.startswith("patch service"))
    undo = min(i for i, m in enumerate(mutations) if m.startswith("rollout undo"))
    assert switch_back < undo, mutations


@pytest.mark.parametrize("strategy,env_name", [("blue-green", "production"), ("rolling", "staging")])
def test_an_unexpected_error_after_the_change_still_puts_the_old_version_back(platform, monkeypatch, strategy,
                                                                              env_name):
    """A bug (any exception, not only our own errors) in a check after the switch must not leave
    traffic on the unverified version."""
    from retail_deploy.errors import RolledBack
    from retail_deploy.kube.strategies import HEALTH

    original = deployer.Deploy.do
    state = {"failed": False}

    def buggy(self, step, plan):
        if step.kind == HEALTH and not state["failed"]:
            state["failed"] = True
            raise ValueError("unexpected answer from a health endpoint")
        return original(self, step, plan)

    monkeypatch.setattr(deployer.Deploy, "do", buggy)
    cfg = platform.cfg()
    with pytest.raises(RolledBack, match="unexpected answer"):
        deployer.deploy(platform.runner(), cfg, cfg.environment(env_name), "1.1.0", services=["backend"],
                        strategy=strategy)
    if strategy == "blue-green":
        assert platform.selector() == "blue"
        assert platform.served_version() == "1.0.0"
    else:
        assert platform.cluster.image("staging", "retail-backend") == "registry.example.com/retail-backend:1.0.0"

