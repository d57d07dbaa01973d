"""The interrupt plan's shape (STEPS, used by test_kube_real_interrupt.py) and, on the doubles, the
one interrupt scenario a real control plane cannot produce: a `rollout undo` that fails. Every other
Ctrl-C scenario runs on the real control plane: test_kube_real_interrupt.py."""

from __future__ import annotations

import pytest

from retail_deploy.errors import OperationFailed
from retail_deploy.kube import deployer
from retail_deploy.kube.strategies import VERIFIED, WATCH

pytestmark = pytest.mark.integration

# backend only, idle colour scaled down: set-image, scale, rollout-status, smoke, switch, health,
# watch, scale-down (the last one in the verified phase)
STEPS = 8


def breach_in_verification(monkeypatch) -> None:
    """The rollback trigger fires as the verification period starts (Prometheus is not the point)."""
    original = deployer.Deploy.do

    def breach(self, step, plan):
        if step.kind == WATCH:
            raise OperationFailed("rollback trigger fired during the verification period: Error rate is 9%")
        return original(self, step, plan)

    monkeypatch.setattr(deployer.Deploy, "do", breach)


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


def test_a_breach_switches_traffic_back_first_even_when_an_undo_fails(platform, monkeypatch):
    """The front ends were rolled after the switch; a rollback trigger fires while watching. Traffic
    must go back to blue at once (one patch), not after the front ends' undo and rollout waits;
    and a failing undo must not keep traffic on green. (Without the failing undo:
    test_kube_real_interrupt.py; a real `rollout undo` fails only when the cluster does.)"""
    breach_in_verification(monkeypatch)
    platform.cluster.inject("fail_command", match="rollout undo deployment/retail-consumer-web",
                            stderr="error: the server is currently unable to handle the request")
    cfg = platform.cfg()
    with pytest.raises(OperationFailed) as info:
        deployer.deploy(platform.runner(), cfg, cfg.environment("production"), "1.1.0")
    assert platform.selector() == "blue" and platform.served_version() == "1.0.0"
    assert "switched traffic back to blue" in str(info.value)
    mutations = [" ".join(argv) for argv in platform.cluster.mutations()]
    switch_back = max(i for i, m in enumerate(mutations) if m.startswith("patch service"))
    undo = min(i for i, m in enumerate(mutations) if m.startswith("rollout undo"))
    assert switch_back < undo, mutations
