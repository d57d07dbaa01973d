"""Ctrl-C at every blue-green step leaves traffic on exactly one healthy colour and says which."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from retail_deploy.kube import deployer
from retail_deploy.kube.strategies import VERIFIED
from tests.integration.kube_support import REPO

pytestmark = pytest.mark.integration

# backend only, idle colour scaled down: set-image, scale, rollout-status, smoke, switch, health,
# watch, scale-down (the last one in the verified phase)
STEPS = 8


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
    plan_kinds = seen[: index + 1]
    assert len(plan_kinds) == index + 1, seen
    accepted = index == STEPS - 1  # the scale-down step is in the verified phase
    colour = "green" if accepted else "blue"
    message = str(info.value)
    assert f"traffic is on {colour} (retail-backend-{colour}), healthy" in message
    assert platform.selector() == colour  # exactly one colour selected
    assert platform.served_version() == ("1.1.0" if accepted else "1.0.0")
    assert platform.cluster.serving("production", "retail-backend")["status"] == "UP"
    # the old colour is still up whenever traffic went back to it
    if not accepted:
        assert platform.cluster.replicas("production", "retail-backend-blue") == 3
    assert platform.cluster.configmap("production", "retail-deploy-lock") is None  # lock released


def test_step_phases_match_the_interrupt_expectations():
    from retail_deploy.commands.kubectl import Kube
    from retail_deploy.kube.settings import BlueGreen, KubeEnv, ServiceTarget
    from retail_deploy.kube.strategies.blue_green import plan_blue_green

    target = ServiceTarget("backend", "retail-backend", "retail-backend", "r/retail-backend", "retail-backend",
                           "retail-backend", "retail-backend")
    env = KubeEnv("production", Kube("c", "production"), "kubectl", "blue-green", (target,), {},
                  blue_green=BlueGreen("retail-backend", "deployment", {"blue": "b", "green": "g"}, "backend",
                                       1, 0))
    plan = plan_blue_green(env, [target], "1", active="blue", replicas={"b": 3, "g": 0}, current={},
                           verification_s=1)
    assert len(plan.steps) == STEPS
    assert [s.phase == VERIFIED for s in plan.steps] == [False] * (STEPS - 1) + [True]


def test_real_sigint_during_the_idle_rollout(platform):
    """A real Ctrl-C (SIGINT to the process group, as a terminal sends it) while kubectl waits."""
    platform.cluster.inject("hang", match="rollout status deployment/retail-backend-green")
    env = dict(platform.env, RETAIL_DEPLOY_CONFIG=str(platform.config), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "invoke", "-r", str(REPO), "deploy.production",
                             "--version", "1.1.0", "--yes", "--services", "backend",
                             # the pre-deployment checklist (registry, staging record) cannot pass here
                             "--force", "test: Ctrl-C during the idle rollout"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any("rollout" in c["argv"] and "status" in c["argv"] for c in platform.cluster.calls("kubectl")):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the deploy never reached rollout status")
        time.sleep(0.5)
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
    """Before the first set image reaches the cluster nothing is undone (an undo would revert an
    older rollout); once it did, the change is rolled back."""
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
    """The deploy fails after it changed something; while it puts the old version back the
    operator presses Ctrl-C (a real SIGINT). The recovery must finish: traffic back on the old,
    healthy version, exit 3, not a half-done switch-back with traffic left on the failed colour."""
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


@pytest.mark.parametrize("undo_fails", [False, True])
def test_a_breach_in_the_verification_period_switches_traffic_back_first(platform, monkeypatch, undo_fails):
    """The front ends were rolled after the switch; a rollback trigger fires while watching. Traffic
    must go back to blue at once (one patch), not after the front ends' undo and rollout waits;
    and a failing undo must not keep traffic on green."""
    from retail_deploy.errors import OperationFailed, RolledBack
    from retail_deploy.kube.strategies import WATCH

    original = deployer.Deploy.do

    def breach(self, step, plan):
        if step.kind == WATCH:
            raise OperationFailed("rollback trigger fired during the verification period: Error rate is 9%")
        return original(self, step, plan)

    monkeypatch.setattr(deployer.Deploy, "do", breach)
    if undo_fails:
        platform.cluster.inject("fail_command", match="rollout undo deployment/retail-consumer-web",
                                stderr="error: the server is currently unable to handle the request")
    cfg = platform.cfg()
    with pytest.raises(OperationFailed if undo_fails else RolledBack) as info:
        deployer.deploy(platform.runner(), cfg, cfg.environment("production"), "1.1.0")
    assert platform.selector() == "blue" and platform.served_version() == "1.0.0"
    assert "switched traffic back to blue" in str(info.value)
    mutations = [" ".join(argv) for argv in platform.cluster.mutations()]
    switch_back = max(i for i, m in enumerate(mutations) if m.startswith("patch service"))
    undo = min(i for i, m in enumerate(mutations) if m.startswith("rollout undo"))
    assert switch_back < undo, mutations
