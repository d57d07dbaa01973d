"""Deploy scenarios end to end on the REAL control plane (scripts/kube-up.sh: kube-apiserver,
controller-manager, scheduler, etcd, kwok nodes) through the product's real execution path and
the real kubectl. The same scenarios as test_kube_deploy.py (on the doubles); faults are real:
a rollout stalls because its pods never become Ready (image tag `never-ready`, a kwok stage), the
lock race is lost on the API server's own AlreadyExists / resourceVersion conflict, a selector
patch is refused by real RBAC, one front end's rollout cannot create pods (a real admission policy).

Kept on the doubles only (tests/doubles/README.md says why): Helm faults.
"""

from __future__ import annotations

import json

import pytest

from retail_deploy.errors import LockHeld, RolledBack
from retail_deploy.kube import deployer
from retail_deploy.targets import history
from tests.integration.kube_support import Platform, race_for_the_lock

pytestmark = [pytest.mark.integration, pytest.mark.kube]

IMAGE = "registry.example.com/retail-backend:{}"
STALLS = "1.1.0-never-ready"  # its pods run but never become Ready: the rollout stalls for real


@pytest.fixture
def platform(real_platform):
    return real_platform


def deploy(p: Platform, env: str, version: str, **kw):
    cfg = p.cfg()
    return deployer.deploy(p.runner(), cfg, cfg.environment(env), version, **kw)


def records(p: Platform, ns: str) -> list[dict]:
    cm = p.cluster.configmap(ns, history.HISTORY_NAME)
    return history.parse_history(cm["data"]) if cm else []


# --- blue-green ------------------------------------------------------------------------------

def test_blue_green_moves_traffic_to_green_and_scales_blue_down(platform):
    assert platform.served_version() == "1.0.0"
    outcome = deploy(platform, "production", "1.1.0")
    assert outcome.colour == "green"
    assert platform.selector() == "green"
    assert platform.served_version() == "1.1.0"  # through the data plane, from the real cluster
    assert platform.cluster.replicas("production", "retail-backend-blue") == 0
    assert platform.cluster.replicas("production", "retail-backend-green") == 3
    platform.cluster.wait_rolled_out("production", "retail-backend-green")
    assert len(platform.cluster.pods("production", {"app": "retail-backend", "deployment": "green"})) == 3
    assert platform.cluster.image("production", "retail-consumer-web").endswith(":1.1.0")
    assert platform.cluster.configmap("production", history.LOCK_NAME) is None  # released
    [entry] = records(platform, "production")
    assert entry["result"] == "succeeded" and entry["version"] == "1.1.0" and entry["strategy"] == "blue-green"
    assert entry["release"]["backend"] == {"before": "1.0.0", "after": "1.1.0", "colour_before": "blue",
                                           "colour_after": "green"}
    assert entry["release"]["consumer-web"] == {"before": "1.0.0", "after": "1.1.0", "colour_before": "",
                                                "colour_after": ""}
    namespace = platform.cluster.ns("production")
    for argv in platform.cluster.commands("kubectl"):
        if argv[:2] == ["config", "get-contexts"]:  # the kubeconfig alone (kube/context.py): no cluster
            assert argv[2] == "retail-production"
            continue
        assert "--context" in argv and "retail-production" in argv and namespace in argv


def test_smoke_failure_before_the_switch_leaves_traffic_on_blue(platform):
    platform.cluster.inject("bad_image", IMAGE.format("1.1.0"))  # the data plane answers 503 for it
    with pytest.raises(RolledBack, match="before the switch.*smoke tests failed on green.*traffic is on blue"):
        deploy(platform, "production", "1.1.0")
    assert platform.selector() == "blue"
    assert not platform.commands_with("patch", "service")
    assert platform.served_version() == "1.0.0"
    assert platform.cluster.replicas("production", "retail-backend-blue") == 3
    assert records(platform, "production")[-1]["result"] == "rolled-back"


def test_idle_rollout_that_never_becomes_ready_never_touches_traffic(platform):
    with pytest.raises(RolledBack, match="timed out waiting for the condition"):
        deploy(platform, "production", STALLS)
    assert platform.selector() == "blue"
    assert not platform.commands_with("patch", "service")
    assert platform.served_version() == "1.0.0"


def test_scaled_down_idle_colour_is_brought_back_before_the_switch(platform):
    deploy(platform, "production", "1.1.0")  # green live, blue at 0
    deploy(platform, "production", "1.2.0")  # back to blue, which must be scaled up first
    assert platform.selector() == "blue"
    assert platform.served_version() == "1.2.0"
    assert platform.cluster.replicas("production", "retail-backend-blue") == 3
    assert platform.cluster.replicas("production", "retail-backend-green") == 0


# --- rolling ---------------------------------------------------------------------------------

@pytest.mark.parametrize("deadline,message", [(None, "timed out waiting for the condition"),
                                              (2, "exceeded its progress deadline")])
def test_rolling_failure_undoes_and_the_old_version_serves(platform, deadline, message):
    # in a blue-green environment a rolling deploy updates the live colour in place; its new pods
    # run but never become Ready (kwok), as with a failing readiness probe
    if deadline:  # the real deployment controller marks the rollout ProgressDeadlineExceeded
        platform.cluster.set_progress_deadline("production", "retail-backend-blue", deadline)
    with pytest.raises(RolledBack, match=message) as info:
        deploy(platform, "production", STALLS, strategy="rolling", services=["backend"])
    assert "retail-backend-blue 1.0.0" in str(info.value)
    assert platform.commands_with("rollout", "undo", "deployment/retail-backend-blue")
    assert platform.cluster.image("production", "retail-backend-blue") == IMAGE.format("1.0.0")
    assert platform.served_version() == "1.0.0"
    # the real undo made a new revision of the old template, and it rolls out completely
    platform.cluster.wait_rolled_out("production", "retail-backend-blue")
    assert platform.cluster.revision("production", "retail-backend-blue") == 3


@pytest.mark.parametrize("fault,message", [("rollout_timeout", "timed out waiting for the condition"),
                                           ("progress_deadline", "exceeded its progress deadline")])
def test_rolling_failure_when_the_new_pods_cannot_even_be_created(platform, fault, message):
    # the doubles' faults, made by a real admission policy refusing the new pods (ReplicaFailure)
    platform.cluster.inject(fault, "retail-backend-blue", namespace="production")
    with pytest.raises(RolledBack, match=message) as info:
        deploy(platform, "production", "1.1.0", strategy="rolling", services=["backend"])
    assert "retail-backend-blue 1.0.0" in str(info.value)
    assert platform.commands_with("rollout", "undo", "deployment/retail-backend-blue")
    assert platform.cluster.image("production", "retail-backend-blue") == IMAGE.format("1.0.0")
    assert platform.served_version() == "1.0.0"


def test_rolling_success(platform):
    deploy(platform, "production", "1.1.0", strategy="rolling")
    for dep in ("retail-backend-blue", "retail-consumer-web", "retail-admin-web"):
        assert platform.cluster.image("production", dep).endswith(":1.1.0")
        assert platform.cluster.revision("production", dep) == 2
    assert platform.served_version() == "1.1.0" and platform.selector() == "blue"


# --- staging ---------------------------------------------------------------------------------

def test_staging_kubectl_sets_the_three_images(platform):
    deploy(platform, "staging", "1.1.0", strategy="rolling")
    assert platform.served_version("staging") == "1.1.0"
    sets = platform.commands_with("set", "image")
    namespace = platform.cluster.ns("staging")
    assert len(sets) == 3 and all(namespace in argv and "retail-staging" in argv for argv in sets)


def test_set_image_with_the_image_already_set_starts_no_rollout(platform):
    revision = platform.cluster.revision("staging", "retail-backend")
    deploy(platform, "staging", "1.0.0", strategy="rolling")
    assert not platform.commands_with("set", "image")
    assert platform.cluster.revision("staging", "retail-backend") == revision
    assert "already runs registry.example.com/retail-backend:1.0.0: no rollout needed" in platform.out.getvalue()


# --- lock and history ------------------------------------------------------------------------

def test_a_held_lock_stops_a_second_deploy_naming_the_holder(platform):
    cfg = platform.cfg()
    from retail_deploy.kube.settings import kube_env

    kube = kube_env(cfg, cfg.environment("production")).kube
    history.acquire(platform.runner(), kube, env_name="production", version="9.9.9", strategy="rolling",
                    ttl_s=600, holder="alice@ci")
    with pytest.raises(LockHeld, match="locked by alice@ci \\(version 9.9.9"):
        deploy(platform, "production", "1.1.0")
    assert not platform.commands_with("set", "image")
    assert platform.cluster.configmap("production", history.LOCK_NAME)["data"]["holder"] == "alice@ci"


def test_two_deploys_racing_for_the_lock_exactly_one_wins(platform):
    winners = race_for_the_lock(platform, [f"deployer{i}" for i in range(4)])
    assert len(winners) == 1, winners
    assert platform.cluster.configmap("production", history.LOCK_NAME)["data"]["holder"] == winners[0]


EXPIRED = {"holder": "bob@dead-runner", "id": "x", "version": "0.9", "acquired": "2020-01-01T00:00:00Z",
           "expires": "2020-01-01T00:30:00Z"}


def test_an_expired_lock_is_taken_over(platform):
    platform.cluster.add_configmap("production", history.LOCK_NAME, EXPIRED)
    deploy(platform, "production", "1.1.0")
    assert "took over an expired lock of bob@dead-runner" in platform.out.getvalue()
    assert platform.cluster.configmap("production", history.LOCK_NAME) is None


def test_two_deploys_taking_over_an_expired_lock_exactly_one_wins(platform):
    # the losers' `kubectl replace` carries the resourceVersion they read: the API server refuses it
    platform.cluster.add_configmap("production", history.LOCK_NAME, EXPIRED)
    winners = race_for_the_lock(platform, [f"taker{i}" for i in range(3)])
    assert len(winners) == 1, winners
    assert platform.cluster.configmap("production", history.LOCK_NAME)["data"]["holder"] == winners[0]


def test_history_records_are_json_in_the_cluster(platform):
    deploy(platform, "staging", "1.1.0", strategy="rolling")
    deploy(platform, "staging", "1.2.0", strategy="rolling")
    cm = platform.cluster.configmap("staging", history.HISTORY_NAME)
    entries = [json.loads(v) for v in cm["data"].values()]
    assert sorted(e["version"] for e in entries) == ["1.1.0", "1.2.0"]
    assert {(e["release"]["backend"]["before"], e["release"]["backend"]["after"]) for e in entries} == {
        ("1.0.0", "1.1.0"), ("1.1.0", "1.2.0")}


def test_a_rollback_verifies_the_old_version_even_when_services_ran_different_versions(platform):
    deploy(platform, "staging", "1.0.7", strategy="rolling", services=["consumer-web"])
    platform.cluster.inject("rollout_timeout", "retail-admin-web", namespace="staging")  # the last one fails
    before = platform.out.getvalue().count("/api/v1/version")
    with pytest.raises(RolledBack, match="retail-backend 1.0.0"):
        deploy(platform, "staging", "1.1.0", strategy="rolling")
    assert platform.out.getvalue().count("/api/v1/version") > before
    assert platform.served_version("staging") == "1.0.0"
    assert platform.cluster.image("staging", "retail-consumer-web").endswith(":1.0.7")
    assert platform.cluster.image("staging", "retail-admin-web").endswith(":1.0.0")


def test_selector_patch_refused_keeps_blue(platform):
    # real RBAC: the production context's user may change every object the deploy needs but this Service
    platform.cluster.inject("patch_refused", "retail-backend", namespace="production")
    with pytest.raises(RolledBack, match="forbidden"):
        deploy(platform, "production", "1.1.0")
    assert platform.selector() == "blue"
    assert platform.served_version() == "1.0.0"


def test_two_cli_deploys_racing_over_an_expired_lock_one_deploys_the_other_exits_4(platform):
    """Two `deploy.production` processes at once, both finding an expired lock: both `kubectl
    replace` it with the resourceVersion they read; the API server accepts one and answers the
    other 409 Conflict, which must become exit 4 (another deploy holds the lock), not a failure."""
    import subprocess
    import sys

    from tests.integration.kube_support import REPO

    platform.cluster.add_configmap("production", history.LOCK_NAME, EXPIRED)
    argv = [sys.executable, "-m", "invoke", "-r", str(REPO), "deploy.production", "--version", "1.1.0", "--yes",
            "--services", "backend", "--force", "test: two deploys racing"]
    env = dict(platform.env, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=180), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    shown = "\n\n".join(f"exit {code}\n{out[-4000:]}\n{err[-2000:]}" for code, out, err in results)
    [loser] = [err for code, _, err in results if code == 4]
    assert "another deploy took over the expired lock first" in loser, shown
    # The winner deployed and verified (before, a --services deploy was also failed for the
    # services it did not deploy: "expected tag 1.1.0" on the front ends).
    [(code, out, err)] = [r for r in results if r[0] != 4]
    assert code == 0, shown
    assert not [line for line in out.splitlines() if " FAIL " in line], shown
    replaces = platform.commands_with("replace")
    assert len(replaces) == 2, replaces  # both really tried; the API server chose
    assert platform.selector() == "green" and platform.served_version() == "1.1.0"
    assert platform.cluster.configmap("production", history.LOCK_NAME) is None


def test_failure_after_the_switch_switches_back_to_the_old_colour(platform):
    # the front end's rollout after the switch cannot create its pods (a real admission policy):
    # backend traffic goes back to blue, the front end is undone
    platform.cluster.inject("rollout_timeout", "retail-consumer-web", namespace="production")
    with pytest.raises(RolledBack, match="after the switch.*switched traffic back to blue"):
        deploy(platform, "production", "1.1.0")
    assert platform.selector() == "blue"
    assert platform.served_version() == "1.0.0"
    assert platform.cluster.replicas("production", "retail-backend-blue") == 3
    assert platform.commands_with("rollout", "undo", "deployment/retail-consumer-web")
    assert platform.cluster.image("production", "retail-consumer-web").endswith(":1.0.0")


def test_deploys_notify_and_never_print_the_webhook(platform, webhook_receiver, monkeypatch):
    monkeypatch.setenv("SLACK_WEBHOOK_URL", webhook_receiver.hook_url)
    monkeypatch.setenv("SLACK_MONITORING_WEBHOOK_URL", webhook_receiver.hook_url)
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY", raising=False)
    deploy(platform, "staging", "1.1.0", strategy="rolling", services=["backend"])
    platform.cluster.inject("bad_image", IMAGE.format("1.2.0"))
    with pytest.raises(RolledBack):
        deploy(platform, "production", "1.2.0", services=["backend"])
    texts = [json.dumps(r.json) for r in webhook_receiver.wait_for(3)]
    assert any("staging: deployed version 1.1.0" in t for t in texts)
    assert any("production: deploy FAILED version 1.2.0" in t for t in texts)
    assert any("Automatic rollback of production" in t for t in texts)
    assert webhook_receiver.hook_url not in platform.out.getvalue()
