"""Deploy scenarios end to end through the real execution path against the kubectl/helm doubles."""

from __future__ import annotations

import json

import pytest

from retail_deploy.errors import LockHeld, OperationFailed, RolledBack
from retail_deploy.kube import deployer
from retail_deploy.targets import history
from tests.integration.kube_support import Platform

pytestmark = pytest.mark.integration

IMAGE = "registry.example.com/retail-backend:{}"


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
    assert platform.served_version() == "1.1.0"  # through the public URL, from the cluster's state
    assert platform.cluster.replicas("production", "retail-backend-blue") == 0
    assert platform.cluster.replicas("production", "retail-backend-green") == 3  # scaled up to blue's count
    assert platform.cluster.image("production", "retail-consumer-web").endswith(":1.1.0")
    assert platform.cluster.configmap("production", history.LOCK_NAME) is None  # released
    [entry] = records(platform, "production")
    assert entry["result"] == "succeeded" and entry["version"] == "1.1.0" and entry["strategy"] == "blue-green"
    assert entry["release"]["backend"] == {"before": "1.0.0", "after": "1.1.0", "colour_before": "blue",
                                           "colour_after": "green"}
    assert entry["release"]["consumer-web"] == {"before": "1.0.0", "after": "1.1.0", "colour_before": "",
                                                "colour_after": ""}
    # every kubectl command pinned the context and namespace
    for argv in platform.cluster.commands("kubectl"):
        assert "--context" in argv and "retail-production" in argv and "--namespace" in argv


def test_smoke_failure_before_the_switch_leaves_traffic_on_blue(platform):
    platform.cluster.inject("bad_image", IMAGE.format("1.1.0"))
    with pytest.raises(RolledBack, match="before the switch.*smoke tests failed on green.*traffic is on blue"):
        deploy(platform, "production", "1.1.0")
    assert platform.selector() == "blue"
    assert not platform.commands_with("patch", "service")
    assert platform.served_version() == "1.0.0"
    assert platform.cluster.replicas("production", "retail-backend-blue") == 3
    assert records(platform, "production")[-1]["result"] == "rolled-back"


def test_idle_rollout_timeout_never_touches_traffic(platform):
    platform.cluster.inject("rollout_timeout", "retail-backend-green")
    with pytest.raises(RolledBack, match="timed out waiting for the condition"):
        deploy(platform, "production", "1.1.0")
    assert platform.selector() == "blue"
    assert not platform.commands_with("patch", "service")


def test_selector_patch_refused_keeps_blue(platform):
    platform.cluster.inject("patch_refused", "retail-backend")
    with pytest.raises(RolledBack, match="forbidden"):
        deploy(platform, "production", "1.1.0")
    assert platform.selector() == "blue"
    assert platform.served_version() == "1.0.0"


def test_failure_after_the_switch_switches_back_to_the_old_colour(platform):
    # the front-end rollout after the switch fails: backend traffic goes back to blue, front end undone
    platform.cluster.inject("rollout_timeout", "retail-consumer-web", namespace="production")
    with pytest.raises(RolledBack, match="after the switch.*switched traffic back to blue"):
        deploy(platform, "production", "1.1.0")
    assert platform.selector() == "blue"
    assert platform.served_version() == "1.0.0"
    assert platform.cluster.replicas("production", "retail-backend-blue") == 3
    assert platform.commands_with("rollout", "undo", "deployment/retail-consumer-web")


def test_scaled_down_idle_colour_is_brought_back_before_the_switch(platform):
    deploy(platform, "production", "1.1.0")  # green live, blue at 0
    deploy(platform, "production", "1.2.0")  # back to blue, which must be scaled up first
    assert platform.selector() == "blue"
    assert platform.served_version() == "1.2.0"
    assert platform.cluster.replicas("production", "retail-backend-blue") == 3
    assert platform.cluster.replicas("production", "retail-backend-green") == 0


# --- rolling ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fault,message", [("rollout_timeout", "timed out waiting for the condition"),
                                           ("progress_deadline", "exceeded its progress deadline")])
def test_rolling_failure_undoes_and_the_old_version_serves(platform, fault, message):
    # in a blue-green environment a rolling deploy updates the live colour in place
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
    assert platform.served_version() == "1.1.0" and platform.selector() == "blue"


# --- staging ---------------------------------------------------------------------------------

def test_staging_kubectl_sets_the_three_images(platform):
    deploy(platform, "staging", "1.1.0", strategy="rolling")
    assert platform.served_version("staging") == "1.1.0"
    sets = platform.commands_with("set", "image")
    assert len(sets) == 3 and all("staging" in argv and "retail-staging" in argv for argv in sets)


def test_set_image_with_the_image_already_set_starts_no_rollout(platform):
    revision = platform.cluster.revision("staging", "retail-backend")
    deploy(platform, "staging", "1.0.0", strategy="rolling")
    assert not platform.commands_with("set", "image")
    assert platform.cluster.revision("staging", "retail-backend") == revision
    assert "already runs registry.example.com/retail-backend:1.0.0: no rollout needed" in platform.out.getvalue()


def helm_platform(tmp_path, monkeypatch) -> Platform:
    """Helm reads the values file and chart directories relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    for chart in ("retail-backend", "retail-consumer-web", "retail-admin-web"):
        (tmp_path / "deploy" / "helm" / chart).mkdir(parents=True)
        (tmp_path / "deploy" / "helm" / chart / "Chart.yaml").write_text(f"name: {chart}\nversion: 0.1.0\n")
    (tmp_path / "deploy" / "helm" / "values-staging.yaml").write_text("replicaCount: 2\n")
    return Platform(tmp_path, monkeypatch, staging_method="helm")


def test_helm_pending_release_is_reported_before_any_upgrade(tmp_path, monkeypatch):
    p = helm_platform(tmp_path, monkeypatch)
    try:
        p.cluster.add_helm_release("staging", "retail-backend", "retail-backend", "1.0.0")
        p.cluster.inject("helm_pending", "retail-backend", namespace="staging")
        with pytest.raises(OperationFailed, match=r"stuck in pending-upgrade.*helm rollback retail-backend 1 "
                                                  r"--namespace staging --kube-context retail-staging"):
            deploy(p, "staging", "1.1.0", strategy="rolling")
        assert not p.commands_with("upgrade")
    finally:
        p.close()


def test_helm_deploy_upgrades_each_release(tmp_path, monkeypatch):
    p = helm_platform(tmp_path, monkeypatch)
    try:
        deploy(p, "staging", "1.1.0", strategy="rolling")
        upgrades = p.commands_with("upgrade", "--install")
        assert [argv[argv.index("--install") + 1] for argv in upgrades] == [
            "retail-backend", "retail-consumer-web", "retail-admin-web"]
        assert all("--atomic" in argv and "image.tag=1.1.0" in argv for argv in upgrades)
        assert p.served_version("staging") == "1.1.0"
    finally:
        p.close()


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


def race_for_the_lock(platform, holders: list[str]) -> list[str]:
    """`history.acquire` from one thread per holder, all at once: the winners' names."""
    import threading

    from retail_deploy.kube.settings import kube_env

    cfg = platform.cfg()
    kube = kube_env(cfg, cfg.environment("production")).kube
    results: list[str] = []
    barrier = threading.Barrier(len(holders))

    def race(name: str) -> None:
        barrier.wait()
        try:
            history.acquire(platform.runner(), kube, env_name="production", version="1", strategy="x",
                            ttl_s=600, holder=name)
            results.append(name)
        except LockHeld:
            results.append("")

    threads = [threading.Thread(target=race, args=(name,)) for name in holders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == len(holders)
    return [r for r in results if r]


def test_two_deploys_racing_for_the_lock_exactly_one_wins(platform):
    winners = race_for_the_lock(platform, [f"deployer{i}" for i in range(4)])
    assert len(winners) == 1, winners
    assert platform.cluster.configmap("production", history.LOCK_NAME)["data"]["holder"] == winners[0]


def test_an_expired_lock_is_taken_over(platform):
    platform.cluster.add_configmap("production", history.LOCK_NAME, {
        "holder": "bob@dead-runner", "id": "x", "version": "0.9", "acquired": "2020-01-01T00:00:00Z",
        "expires": "2020-01-01T00:30:00Z"})
    deploy(platform, "production", "1.1.0")
    assert "took over an expired lock of bob@dead-runner" in platform.out.getvalue()
    assert platform.cluster.configmap("production", history.LOCK_NAME) is None


def test_two_deploys_taking_over_an_expired_lock_exactly_one_wins(platform):
    platform.cluster.add_configmap("production", history.LOCK_NAME, {
        "holder": "bob@dead-runner", "id": "x", "version": "0.9", "acquired": "2020-01-01T00:00:00Z",
        "expires": "2020-01-01T00:30:00Z"})
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


@pytest.mark.parametrize("rollback_fails", [False, True])
def test_helm_failure_rolls_back_the_releases_already_upgraded(tmp_path, monkeypatch, rollback_fails):
    p = helm_platform(tmp_path, monkeypatch)
    try:
        deploy(p, "staging", "1.0.5", strategy="rolling")
        p.cluster.inject("helm_fail", "retail-admin-web", namespace="staging")
        if rollback_fails:
            p.cluster.inject("fail_command", match="helm rollback retail-backend", stderr="Error: timed out")
            # Before, the first failed rollback raised straight out: consumer-web stayed on 1.1.0
            # and the message named only the rollback command, not the failed deploy.
            with pytest.raises(OperationFailed, match=r"context deadline exceeded.*rolling back retail-backend "
                                                      r"failed too"):
                deploy(p, "staging", "1.1.0", strategy="rolling")
        else:
            with pytest.raises(RolledBack, match="2 upgraded release"):
                deploy(p, "staging", "1.1.0", strategy="rolling")
            assert p.served_version("staging") == "1.0.5"
        assert p.commands_with("rollback", "retail-consumer-web")
        assert p.cluster.helm_release("staging", "retail-consumer-web")["image"].endswith(":1.0.5")
    finally:
        p.close()


def test_a_rollback_verifies_the_old_version_even_when_services_ran_different_versions(platform):
    deploy(platform, "staging", "1.0.7", strategy="rolling", services=["consumer-web"])
    platform.cluster.inject("rollout_timeout", "retail-admin-web", namespace="staging")
    before = platform.out.getvalue().count("/api/v1/version")
    with pytest.raises(RolledBack, match="retail-backend 1.0.0"):
        deploy(platform, "staging", "1.1.0", strategy="rolling")
    # Before, mixed previous versions (1.0.0 and 1.0.7) meant no version was checked at all.
    assert platform.out.getvalue().count("/api/v1/version") > before
    assert platform.served_version("staging") == "1.0.0"


def test_ctrl_c_during_a_helm_deploy_rolls_back_the_releases_already_upgraded(tmp_path, monkeypatch):
    # Before, Ctrl-C during the second release's upgrade left the first on the new version.
    from retail_deploy.kube.strategies import HELM_UPGRADE

    p = helm_platform(tmp_path, monkeypatch)
    try:
        deploy(p, "staging", "1.0.5", strategy="rolling")
        original = deployer.Deploy.do
        upgrades: list[str] = []

        def interrupting(self, step, plan):
            if step.kind == HELM_UPGRADE:
                upgrades.append(step.service)
                if len(upgrades) == 2:
                    raise KeyboardInterrupt
            return original(self, step, plan)

        monkeypatch.setattr(deployer.Deploy, "do", interrupting)
        with pytest.raises(deployer.Interrupted, match="interrupted: rolled back retail-backend;"):
            deploy(p, "staging", "1.1.0", strategy="rolling")
        assert p.cluster.helm_release("staging", "retail-backend")["image"].endswith(":1.0.5")
        assert p.served_version("staging") == "1.0.5"
    finally:
        p.close()
