"""The deployer's facts: the image of the container we set, not whichever container is first."""

import json
from types import SimpleNamespace

import pytest

from retail_deploy.commands.kubectl import Kube
from retail_deploy.errors import OperationFailed
from retail_deploy.kube import deployer, rollouts
from retail_deploy.kube.settings import KubeEnv, ServiceTarget

TARGET = ServiceTarget("backend", "retail-backend", "retail-backend", "r/retail-backend", "retail-backend",
                       "retail-backend", "retail-backend")
ENV = KubeEnv("staging", Kube("retail-staging", "staging"), "kubectl", "rolling", (TARGET,), {})


class Cluster:
    """Answers `kubectl get deployment ... -o json` with a deployment whose sidecar comes first."""

    dry = False

    def probe(self, command):
        assert command.argv[:2] == ("kubectl", "get")
        item = {"metadata": {"name": "retail-backend", "generation": 2},
                "spec": {"replicas": 2, "template": {"spec": {"containers": [
                    {"name": "istio-proxy", "image": "istio/proxyv2:1.20"},
                    {"name": "retail-backend", "image": "r/retail-backend:1.0.0"}]}}},
                "status": {"observedGeneration": 2}}
        return SimpleNamespace(stdout=json.dumps({"kind": "List", "items": [item]}), ok=True)

    def say(self, text):
        pass


def test_a_sidecar_listed_first_is_not_taken_for_the_current_version():
    plan = deployer.make_plan(Cluster(), ENV, [TARGET], "1.1.0", "rolling", "kubectl")
    # Before: previous was the sidecar's image, so a failed rollout was never undone (the probe
    # found that "previous" image still present and concluded nothing had changed).
    assert plan.previous == {"backend": "r/retail-backend:1.0.0"}
    set_image = plan.steps[0]
    assert set_image.kind == "set-image" and not set_image.unchanged


def test_the_image_already_set_on_our_container_is_detected():
    plan = deployer.make_plan(Cluster(), ENV, [TARGET], "1.0.0", "rolling", "kubectl")
    assert plan.steps[0].unchanged and "no rollout needed" in plan.steps[0].text


def test_the_deploy_lock_outlives_the_longest_production_deploy():
    # Production blue-green: up to 10m per rollout wait, 10m verification, 10m scale-down delay.
    # The lock expired after kube.lock_ttl (30m) while such a deploy was still running, and is
    # not renewed: a second deploy could take it over and run beside the first.
    from retail_deploy.config import load_config
    from retail_deploy.kube.settings import kube_env

    cfg = load_config()
    prod = kube_env(cfg, cfg.environment("production"))
    ttl = deployer.lock_ttl_s(prod, list(prod.services), "blue-green", "kubectl")
    worst = 4 * prod.rollout_timeout_s + 600 + 600  # idle + two front ends + a switch-back, verify, delay
    assert ttl > worst > prod.lock_ttl_s
    staging = kube_env(cfg, cfg.environment("staging"))
    assert deployer.lock_ttl_s(staging, list(staging.services), "rolling", "helm") > 3 * 600  # 10m per upgrade
    assert deployer.lock_ttl_s(ENV, [TARGET], "rolling", "kubectl") == ENV.lock_ttl_s  # short deploys keep it


def listing(*, updated=1, available=1, replicas=1, deadline=False, observed=2):
    """`kubectl get deployments -o json` with retail-backend in the given rollout state."""
    status = {"observedGeneration": observed, "updatedReplicas": updated, "availableReplicas": available,
              "readyReplicas": available, "replicas": replicas}
    if deadline:
        status["conditions"] = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
    item = {"metadata": {"name": "retail-backend", "generation": 2},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "retail-backend", "image": "r/retail-backend:1.0.0"}]}}},
            "status": status}
    return json.dumps({"kind": "List", "items": [item]})


class Polled:
    """A runner whose actions succeed and whose reads answer the listings given, in order."""

    dry = False

    def __init__(self, listings):
        self.listings = list(listings)
        self.ran: list[tuple[str, ...]] = []
        self.said: list[str] = []

    def run(self, command, **_):
        self.ran.append(command.argv[:3])
        return SimpleNamespace(ok=True, stdout="", stderr="")

    def probe(self, command, **_):
        self.ran.append(command.argv[:3])
        return SimpleNamespace(ok=True, stdout=self.listings.pop(0), stderr="")

    def say(self, text):
        self.said.append(text)


def undo(runner, env=ENV):
    from retail_deploy.kube.strategies import Plan
    from retail_deploy.kube.strategies.rolling import plan_undo

    job = deployer.Deploy(runner, None, None, env, "1.1.0", [TARGET])
    for step in plan_undo(env, [("backend", "retail-backend")]):
        job.do(step, Plan("rollback", "", ()))


def test_the_undone_rollouts_progress_deadline_is_waited_out(monkeypatch):
    # Seen on the real control plane: right after `rollout undo` the Deployment still carries the
    # failed rollout's ProgressDeadlineExceeded until the restored ReplicaSet is complete again, and
    # `kubectl rollout status` fails at once on it: the rollback was reported as failed.
    monkeypatch.setattr(rollouts.time, "sleep", lambda seconds: None)
    runner = Polled([listing(deadline=True, updated=0), listing(deadline=True, available=0),
                     listing(deadline=True)])
    undo(runner)
    assert runner.ran == [("kubectl", "rollout", "undo")] + [("kubectl", "get", "deployments")] * 3
    assert "retail-backend rolled out" in runner.said


def test_the_rollback_wait_ends_at_the_rollout_timeout(monkeypatch):
    from dataclasses import replace

    monkeypatch.setattr(rollouts.time, "sleep", lambda seconds: None)
    runner = Polled([listing(deadline=True, available=0)])
    with pytest.raises(OperationFailed, match="retail-backend: timed out waiting for the condition after 0s \\(0 of 1 updated replicas are available\\)"):
        undo(runner, replace(ENV, rollout_timeout_s=0))
    assert len(runner.ran) == 2


def test_a_forward_rollouts_progress_deadline_fails_at_once(monkeypatch):
    from retail_deploy.kube.strategies import ROLLOUT_STATUS, Plan

    monkeypatch.setattr(rollouts.time, "sleep", lambda seconds: None)
    runner = Polled([listing(deadline=True, available=0)])
    job = deployer.Deploy(runner, None, None, ENV, "1.1.0", [TARGET])
    plan = deployer.make_plan(Cluster(), ENV, [TARGET], "1.1.0", "rolling", "kubectl")
    status = next(s for s in plan.steps if s.kind == ROLLOUT_STATUS)
    with pytest.raises(OperationFailed, match="exceeded its progress deadline"):
        job.do(status, Plan("rolling", "1.1.0", ()))
    assert len(runner.ran) == 1
