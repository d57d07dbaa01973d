"""The deployer's facts: the image of the container we set, not whichever container is first."""

import json
from types import SimpleNamespace

import pytest

from retail_deploy.commands.kubectl import Kube
from retail_deploy.errors import CommandFailed
from retail_deploy.kube import deployer
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


class Scripted:
    """A runner whose commands answer in order: None succeeds, a string fails with that detail."""

    dry = False

    def __init__(self, answers):
        self.answers = list(answers)
        self.ran: list[tuple[str, ...]] = []
        self.said: list[str] = []

    def run(self, command, **_):
        from retail_deploy.errors import CommandFailed

        self.ran.append(command.argv[:3])
        answer = self.answers.pop(0)
        if answer is not None:
            raise CommandFailed(command.display(), 1, answer)
        return SimpleNamespace(ok=True, stdout="", stderr="")

    def say(self, text):
        self.said.append(text)


DEADLINE = 'error: deployment "retail-backend" exceeded its progress deadline'


def undo(runner):
    from retail_deploy.kube.strategies import Plan
    from retail_deploy.kube.strategies.rolling import plan_undo

    job = deployer.Deploy(runner, None, None, ENV, "1.1.0", [TARGET])
    for step in plan_undo(ENV, [("backend", "retail-backend")]):
        job.do(step, Plan("rollback", "", ()))


def test_the_undone_rollouts_progress_deadline_is_waited_out(monkeypatch):
    # Seen on the real control plane: right after `rollout undo` the Deployment still carries the
    # failed rollout's ProgressDeadlineExceeded until the restored ReplicaSet is complete again, and
    # `kubectl rollout status` fails at once on it: the rollback was reported as failed.
    monkeypatch.setattr(deployer.time, "sleep", lambda seconds: None)
    runner = Scripted([None, DEADLINE, DEADLINE, None])
    undo(runner)
    assert runner.ran == [("kubectl", "rollout", "undo")] + [("kubectl", "rollout", "status")] * 3
    assert [s for s in runner.said if "progress deadline" in s] == [
        "retail-backend still shows the undone rollout's progress deadline: waiting for the restored "
        "ReplicaSet to be complete"]


def test_any_other_failure_of_the_rollback_wait_is_final(monkeypatch):
    monkeypatch.setattr(deployer.time, "sleep", lambda seconds: None)
    runner = Scripted([None, "error: timed out waiting for the condition"])
    with pytest.raises(CommandFailed):
        undo(runner)
    assert runner.ran[-1] == ("kubectl", "rollout", "status") and len(runner.ran) == 2


def test_a_forward_rollouts_progress_deadline_fails_at_once(monkeypatch):
    from retail_deploy.kube.strategies import ROLLOUT_STATUS, Plan

    monkeypatch.setattr(deployer.time, "sleep", lambda seconds: None)
    runner = Scripted([DEADLINE])
    job = deployer.Deploy(runner, None, None, ENV, "1.1.0", [TARGET])
    plan = deployer.make_plan(Cluster(), ENV, [TARGET], "1.1.0", "rolling", "kubectl")
    status = next(s for s in plan.steps if s.kind == ROLLOUT_STATUS)
    with pytest.raises(CommandFailed):
        job.do(status, Plan("rolling", "1.1.0", ()))
    assert len(runner.ran) == 1
