"""Many services: the pure rollout decision (`kubectl rollout status`'s, from one listed object),
the batched reads and writes of a deploy (reads do not grow with N), and blue-green for several
services planned per release."""

import json
import threading
from dataclasses import replace
from types import SimpleNamespace

import pytest

from retail_deploy.commands.kubectl import Kube
from retail_deploy.errors import OperationFailed
from retail_deploy.kube import deployer, rollouts
from retail_deploy.kube.probes import DeploymentFacts
from retail_deploy.kube.rollouts import rollout_state
from retail_deploy.kube.settings import BlueGreen, KubeEnv, ServiceTarget
from retail_deploy.kube.strategies.blue_green import plan_blue_green


def facts(*, generation=2, observed=2, replicas=3, updated=3, available=3, total=3, deadline=False):
    return DeploymentFacts("web", {"web": "r/web:1"}, replicas, available, updated, available, 1, generation,
                           observed, deadline, status_replicas=total)


@pytest.mark.parametrize(("dep", "state", "message"), [
    (facts(), "complete", "successfully rolled out"),
    (facts(observed=1), "progressing", "waiting for the deployment spec update to be observed"),
    (facts(updated=1, available=1, total=3), "progressing", "1 out of 3 new replicas have been updated"),
    (facts(total=4), "progressing", "1 old replicas are pending termination"),
    (facts(available=2), "progressing", "2 of 3 updated replicas are available"),
    (facts(updated=1, deadline=True), "failed", 'deployment "web" exceeded its progress deadline'),
    (facts(replicas=0, updated=0, available=0, total=0), "complete", "successfully rolled out"),
])
def test_the_decision_is_kubectl_rollout_status_s(dep, state, message):
    assert rollout_state(dep, "web") == rollouts.Rollout("web", state, message)


def test_unfinished_at_the_deadline_is_timed_out_and_a_finished_one_stays_complete():
    assert rollout_state(facts(available=2), "web", timed_out=True).state == "timed-out"
    assert rollout_state(facts(observed=1), "web", timed_out=True).state == "timed-out"
    assert rollout_state(facts(), "web", timed_out=True).state == "complete"


def test_an_undone_rollouts_old_deadline_is_not_a_failure():
    assert rollout_state(facts(available=2, deadline=True), "web", deadline_is_old=True).state == "progressing"
    assert rollout_state(facts(deadline=True), "web", deadline_is_old=True).state == "complete"


def test_a_missing_deployment_waits_then_fails():
    assert rollout_state(None, "web").state == "progressing"
    assert rollout_state(None, "web", timed_out=True).state == "failed"


# --- batching: a recording runner on a cluster of N deployments ---------------------------------

N = 30
TARGETS = tuple(ServiceTarget(f"s{i:02}", f"s{i:02}", "app", f"r/s{i:02}", f"s{i:02}", f"s{i:02}", f"s{i:02}")
                for i in range(N))
ENV = KubeEnv("staging", Kube("retail-staging", "staging"), "kubectl", "rolling", TARGETS, {})


class Cluster:
    """Answers `kubectl get deployments -o json` from its state; `set image` changes the state and
    leaves the rollout to the next poll (complete on the second). Records every command."""

    dry = False
    out = None

    def __init__(self, images):
        self.images = dict(images)  # deployment -> image
        self.selectors: dict[str, dict[str, str]] = {}
        self.generation = dict.fromkeys(images, 1)
        self.fresh: set[str] = set()  # set, not yet observed by the controller
        self.ran: list[tuple[str, ...]] = []
        self.said: list[str] = []
        self.lock = threading.Lock()

    def run(self, command, **_):
        with self.lock:
            self.ran.append(command.argv)
        argv = command.argv
        if argv[1:3] == ("set", "image"):
            name = argv[3].split("/", 1)[1]
            self.images[name] = argv[4].split("=", 1)[1]
            self.generation[name] += 1
            self.fresh.add(name)
        elif argv[1] == "patch":
            self.selectors[argv[3]] = json.loads(argv[5])["spec"]["selector"]
        elif argv[1] == "scale":
            pass
        return SimpleNamespace(ok=True, stdout="", stderr="")

    def probe(self, command, **_):
        self.ran.append(command.argv)
        if command.argv[2] == "services":
            items = [{"metadata": {"name": n}, "spec": {"selector": sel}} for n, sel in self.selectors.items()]
            return SimpleNamespace(stdout=json.dumps({"kind": "List", "items": items}))
        items = []
        for name, image in self.images.items():
            observed = self.generation[name] - (1 if name in self.fresh else 0)
            items.append({"metadata": {"name": name, "generation": self.generation[name]},
                          "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
                          "status": {"observedGeneration": observed, "replicas": 1, "updatedReplicas": 1,
                                     "readyReplicas": 1, "availableReplicas": 1}})
        self.fresh.clear()  # observed by the next poll
        return SimpleNamespace(stdout=json.dumps({"kind": "List", "items": items}))

    def say(self, text):
        self.said.append(text)

    def reads(self):
        return [argv[:3] for argv in self.ran if argv[1] == "get"]


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(rollouts.time, "sleep", lambda seconds: None)


def test_a_staging_deploy_of_n_services_reads_a_constant_number_of_lists():
    cluster = Cluster({t.deployment: f"r/{t.deployment}:1.0.0" for t in TARGETS})
    plan = deployer.make_plan(cluster, ENV, list(TARGETS), "1.1.0", "rolling", "kubectl")
    job = deployer.Deploy(cluster, None, None, ENV, "1.1.0", list(TARGETS))
    for step in [s for s in plan.steps if s.kind in ("set-image", "rollout-status")]:
        job.do(step, plan)
    # plan: one list; the rollouts: two polls (the first reads the images back), for 30 services
    assert cluster.reads() == [("kubectl", "get", "deployments")] * 3
    assert sorted(argv[3] for argv in cluster.ran if argv[1:3] == ("set", "image")) == [
        f"deployment/{t.deployment}" for t in TARGETS]
    assert cluster.images == {t.deployment: f"r/{t.deployment}:1.1.0" for t in TARGETS}
    assert not any(argv[1] == "rollout" for argv in cluster.ran)  # no `rollout status` per service
    assert [s for s in cluster.said if s.startswith("set ")] == [f"set {t.deployment} to r/{t.deployment}:1.1.0"
                                                                 for t in TARGETS]  # each still printed
    assert job.ahead == []


def test_a_set_image_that_did_not_land_is_named_after_one_read_back():
    cluster = Cluster({t.deployment: "r/x:1.0.0" for t in TARGETS[:3]})
    real_run = cluster.run

    def run(command, **kw):
        if command.argv[3] == "deployment/s01":
            return SimpleNamespace(ok=True, stdout="", stderr="")  # accepted, changed nothing
        return real_run(command, **kw)

    cluster.run = run
    plan = deployer.make_plan(cluster, replace(ENV, services=TARGETS[:3]), list(TARGETS[:3]), "1.1.0",
                              "rolling", "kubectl")
    job = deployer.Deploy(cluster, None, None, ENV, "1.1.0", list(TARGETS[:3]))
    with pytest.raises(OperationFailed, match="s01 still runs .* after set image to r/s01:1.1.0"):
        for step in plan.steps:
            job.do(step, plan)
    assert cluster.reads() == [("kubectl", "get", "deployments")] * 2  # the plan's, the first poll's
    assert job.ahead == []  # a failed batch leaves nothing marked as done


def test_the_dry_plan_prints_every_set_image_and_one_poll():
    class Dry(Cluster):
        dry = True

        def run(self, command, **_):
            self.ran.append(command.argv)
            return SimpleNamespace(ok=True, stdout="", stderr="")

        def announce(self, command):
            self.said.append("$ " + command.display())

    cluster = Dry({t.deployment: "r/x:1.0.0" for t in TARGETS[:3]})
    env = replace(ENV, services=TARGETS[:3])
    plan = deployer.make_plan(cluster, env, list(TARGETS[:3]), "1.1.0", "rolling", "kubectl")
    job = deployer.Deploy(cluster, None, None, env, "1.1.0", list(TARGETS[:3]))
    for step in [s for s in plan.steps if s.kind in ("set-image", "rollout-status")]:
        job.do(step, plan)
    assert [argv[1:3] for argv in cluster.ran if argv[1] != "get"] == [("set", "image")] * 3  # in plan order
    assert [s for s in cluster.said if s.startswith("$ ")] == [
        "$ kubectl get deployments -o json --namespace staging --context retail-staging --request-timeout=30s"]
    assert "poll until s00, s01, s02 rolled out (timeout 300s)" in cluster.said


# --- blue-green for several services: per release ---------------------------------------------

def colours(name):
    return BlueGreen(name, "deployment", {"blue": f"{name}-blue", "green": f"{name}-green"}, name,
                     verification_period_s=0, scale_down_delay_s=0)


def bg_env(n_bg: int) -> KubeEnv:
    first, *more = [colours(t.deployment) for t in TARGETS[:n_bg]]
    return replace(ENV, name="production", strategy="blue-green", blue_green=replace(first, more=tuple(more)))


def test_every_blue_green_service_is_prepared_then_all_switch_together():
    env = bg_env(3)
    current = {f"s0{i}-{c}": "r/x:1.0.0" for i in range(3) for c in ("blue", "green")}
    plan = plan_blue_green(env, list(TARGETS[:5]), "1.1.0", active="blue",
                           replicas={f"s0{i}-{c}": (2 if c == "blue" else 0) for i in range(3) for c in ("blue", "green")},
                           current=current, verification_s=0)
    assert plan.kinds() == (["set-image"] * 3 + ["scale"] * 3 + ["rollout-status"] * 3 + ["smoke"]
                            + ["switch"] * 3 + ["health"] + ["set-image"] * 2 + ["rollout-status"] * 2
                            + ["health", "watch"] + ["scale"] * 3)
    assert [s.deployment for s in plan.steps if s.kind == "switch"] == ["s00-green", "s01-green", "s02-green"]
    assert [s.command.argv[3] for s in plan.steps if s.kind == "switch"] == ["s00", "s01", "s02"]
    assert plan.previous == {"s00": "r/x:1.0.0", "s01": "r/x:1.0.0", "s02": "r/x:1.0.0", "s03": "", "s04": ""}


def test_services_on_different_colours_are_refused_before_anything_changes():
    cluster = Cluster({})
    cluster.selectors = {"s00": {"deployment": "blue"}, "s01": {"deployment": "green"}}
    bg = bg_env(2).blue_green
    with pytest.raises(OperationFailed, match=r"do not select one colour \(s00: blue, s01: green\)"):
        rollouts.release_colour(cluster, ENV.kube, bg)
    cluster.selectors["s01"] = {"deployment": "s01-blue"}  # the deployment's name counts as its colour
    assert rollouts.release_colour(cluster, ENV.kube, bg) == "blue"
    assert cluster.reads() == [("kubectl", "get", "services")] * 2  # one list, whatever the number


def test_progress_is_one_line_per_rollout_or_one_rewritten_line_on_a_terminal(monkeypatch):
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    states = [rollouts.Rollout("a", "complete", ""), rollouts.Rollout("b", "progressing", "")]
    plain = Cluster({})
    show = rollouts._progress(plain)
    show(states, False)
    show(states, False)
    assert plain.said == ["a rolled out"]  # once each, as it completes
    terminal = Terminal()
    monkeypatch.setattr(rollouts.sys, "stderr", terminal)
    on_tty = Cluster({})
    show = rollouts._progress(on_tty)
    show(states, False)
    show([rollouts.Rollout("a", "complete", ""), rollouts.Rollout("b", "complete", "")], True)
    assert terminal.getvalue() == ("\r\033[Krollouts: 1/2 complete; waiting for b"
                                   "\r\033[Krollouts: 2/2 complete\n")
    assert on_tty.said == []


def test_the_old_colours_scale_down_in_one_kubectl_and_a_dry_run_prints_that_command():
    env = bg_env(3)
    plan = plan_blue_green(env, list(TARGETS[:3]), "1.1.0", active="blue", replicas={}, current={},
                           verification_s=0)
    downs = [s for s in plan.steps if s.kind == "scale"]
    assert [s.replicas for s in downs] == [0, 0, 0]
    [command] = rollouts.scale_commands(ENV.kube, downs)
    assert command.argv[:6] == ("kubectl", "scale", "deployment", "s00-blue", "s01-blue", "s02-blue")
    assert "--replicas=0" in command.argv
