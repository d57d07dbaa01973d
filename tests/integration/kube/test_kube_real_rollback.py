"""Rollback procedures, the verify report, lock tasks and the CLI contract on the REAL control
plane (scripts/kube-up.sh), with the real kubectl's `rollout undo`/`rollout history` and the real
deployment controller's revisions, and rollback by release (issue 15).

The verify report's log scan reads the pods' real logs (kwok answers the kubelet API: a healthy
image logs a normal start-up); logs, exec, top and port-forward tasks: test_kube_real_kubelet.py.
"""

from __future__ import annotations

import pytest

from retail_deploy.errors import InputError
from retail_deploy.kube import deployer, rollback
from retail_deploy.kube import verify as kube_verify
from retail_deploy.targets import history
from tests.integration.kube_support import Platform, inv

pytestmark = [pytest.mark.integration, pytest.mark.kube]

IMAGE = "registry.example.com/retail-backend:{}"


@pytest.fixture
def platform(real_platform):
    return real_platform


def env(p: Platform, name: str):
    cfg = p.cfg()
    return cfg, cfg.environment(name)


def test_undo_restores_the_previous_version_and_records_it(platform):
    cfg, staging = env(platform, "staging")
    deployer.deploy(platform.runner(), cfg, staging, "1.1.0", strategy="rolling")
    assert platform.served_version("staging") == "1.1.0"
    done = rollback.undo(platform.runner(), cfg, staging, service="backend")
    assert done == ["retail-backend"]
    assert platform.served_version("staging") == "1.0.0"
    assert platform.cluster.image("staging", "retail-backend") == IMAGE.format("1.0.0")
    entries = history.parse_history(platform.cluster.configmap("staging", history.HISTORY_NAME)["data"])
    assert [e["action"] for e in entries] == ["deploy", "rollback-undo"]
    assert entries[-1]["result"] == "succeeded"


def test_undo_to_a_revision(platform):
    cfg, staging = env(platform, "staging")
    first = platform.cluster.revision("staging", "retail-backend")
    deployer.deploy(platform.runner(), cfg, staging, "1.1.0", strategy="rolling", services=["backend"])
    deployer.deploy(platform.runner(), cfg, staging, "1.2.0", strategy="rolling", services=["backend"])
    assert platform.cluster.revision("staging", "retail-backend") == first + 2
    rollback.undo(platform.runner(), cfg, staging, service="backend", to_revision=first)
    assert platform.cluster.image("staging", "retail-backend") == IMAGE.format("1.0.0")
    assert platform.served_version("staging") == "1.0.0"


def test_undo_to_an_unknown_revision_is_refused_before_anything_changes(platform):
    cfg, staging = env(platform, "staging")
    with pytest.raises(InputError, match="has no revision 42; known revisions: 1"):
        rollback.undo(platform.runner(), cfg, staging, service="backend", to_revision=42)
    assert not platform.commands_with("rollout", "undo")


def test_blue_green_rollback_scales_the_old_colour_up_and_switches(platform):
    cfg, production = env(platform, "production")
    deployer.deploy(platform.runner(), cfg, production, "1.1.0", services=["backend"])
    assert platform.selector() == "green"
    assert platform.cluster.replicas("production", "retail-backend-blue") == 0
    colour = rollback.blue_green(platform.runner(), cfg, production)
    assert colour == "blue" and platform.selector() == "blue"
    assert platform.cluster.replicas("production", "retail-backend-blue") == 3
    assert platform.served_version() == "1.0.0"
    entries = history.parse_history(platform.cluster.configmap("production", history.HISTORY_NAME)["data"])
    assert entries[-1]["action"] == "rollback-blue-green" and entries[-1]["result"] == "succeeded"


def test_automatic_rollback_follows_the_environment_strategy(platform):
    cfg, production = env(platform, "production")
    deployer.deploy(platform.runner(), cfg, production, "1.1.0", services=["backend"])
    summary = rollback.rollback_environment(platform.runner(), cfg, production, reason="error rate 7% > 5%")
    assert summary == "traffic switched back to blue"
    assert platform.served_version() == "1.0.0"
    cfg, staging = env(platform, "staging")
    deployer.deploy(platform.runner(), cfg, staging, "1.1.0", strategy="rolling")
    assert rollback.rollback_environment(platform.runner(), cfg, staging, reason="p95").startswith("rolled back")
    assert platform.served_version("staging") == "1.0.0"


def test_history_shows_records_beside_the_real_rollout_history(platform):
    cfg, staging = env(platform, "staging")
    deployer.deploy(platform.runner(), cfg, staging, "1.1.0", strategy="rolling")
    text = rollback.show_history(platform.runner(), cfg, staging)
    assert "1.1.0" in text and "succeeded" in text and "rolling" in text
    assert "kubectl rollout history deployment/retail-backend:" in text
    assert "REVISION" in text and "CHANGE-CAUSE" in text  # the real kubectl's table
    result = inv(platform, "rollback.history", "--env", "staging")
    assert result.returncode == 0, result.stderr
    assert "kubectl rollout history deployment/retail-admin-web:" in result.stdout


def test_verify_report_on_the_real_cluster(platform):
    cfg, staging = env(platform, "staging")
    report = kube_verify.verify(platform.runner(), cfg, staging, "1.0.0")
    rows = {(r.check, r.ok) for r in report.rows}
    assert {("pods", True), ("rollout", True), ("health", True), ("version", True)} <= rows, report.render()
    assert report.ok, report.render()
    assert [r.ok for r in report.rows if r.check == "logs"] == [True]  # the pods' logs, read and clean
    wrong = kube_verify.verify(platform.runner(), cfg, staging, "2.0.0")
    assert any(r.check == "version" and not r.ok for r in wrong.rows)
    assert any(r.check == "image" and not r.ok for r in wrong.rows)
    # After a deploy of the backend only, only the backend is expected at the new version.
    deployer.deploy(platform.runner(), cfg, staging, "1.1.0", strategy="rolling", services=["backend"])
    partial = kube_verify.verify(platform.runner(), cfg, staging, "1.1.0", services=["backend"])
    assert partial.ok, partial.render()
    assert partial.versions == {"backend": "1.1.0", "consumer-web": "1.0.0", "admin-web": "1.0.0"}


# --- the CLI contract ------------------------------------------------------------------------

def test_production_without_a_terminal_and_without_yes_refuses_with_exit_2(platform):
    result = inv(platform, "deploy.production", "--version", "1.1.0")
    assert result.returncode == 2, result.stderr
    assert "pass --yes" in result.stderr
    assert platform.mutations() == []


def test_bad_version_is_exit_2_before_anything_runs(platform):
    result = inv(platform, "deploy.staging", "--version", "1.2.3;rm -rf /")
    assert result.returncode == 2 and "invalid version" in result.stderr
    assert platform.cluster.calls() == []


def test_dry_run_reads_the_live_colour_and_changes_nothing(platform):
    result = inv(platform, "--dry", "deploy.production", "--version", "1.1.0")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "$ kubectl set image deployment/retail-backend-green retail-backend=" in out
    assert "$ kubectl patch service retail-backend -p '{\"spec\":{\"selector\":{\"deployment\":\"green\"}}}'" in out
    assert "$ kubectl scale deployment retail-backend-blue --replicas=0" in out
    assert "assuming" not in out  # the probes ran against the real API server
    assert platform.mutations() == []
    assert platform.cluster.revision("production", "retail-backend-green") == 1


def test_lock_status_and_release_tasks(platform):
    platform.cluster.add_configmap("production", history.LOCK_NAME, {
        "holder": "carol@laptop", "id": "z", "version": "1.0.9", "acquired": "2026-01-01T00:00:00Z",
        "expires": "2099-01-01T00:00:00Z"})
    status = inv(platform, "lock.status", "--env", "production")
    assert status.returncode == 0 and "held by carol@laptop (version 1.0.9" in status.stdout
    held = inv(platform, "deploy.production", "--version", "1.1.0", "--yes")
    assert held.returncode == 4 and "carol@laptop" in held.stderr
    release = inv(platform, "lock.release", "--env", "production", "--yes")
    assert release.returncode == 0, release.stderr
    assert platform.cluster.configmap("production", history.LOCK_NAME) is None


def test_rollback_undo_task_exit_codes(platform):
    bad = inv(platform, "rollback.undo", "--env", "staging", "--to-revision", "3")
    assert bad.returncode == 2 and "--to-revision needs --service" in bad.stderr
    nothing = inv(platform, "rollback.undo", "--env", "staging", "--service", "backend")
    assert nothing.returncode == 1 and "rollout undo deployment/retail-backend" in nothing.stderr
    cfg, staging = env(platform, "staging")
    deployer.deploy(platform.runner(), cfg, staging, "1.1.0", strategy="rolling", services=["backend"])
    ok = inv(platform, "rollback.undo", "--env", "staging", "--service", "backend")
    assert ok.returncode == 0, ok.stderr
    assert "rolled back retail-backend in staging" in ok.stdout
    assert platform.served_version("staging") == "1.0.0"


def test_automatic_rollback_of_a_blue_green_deploy_also_undoes_the_front_ends(platform):
    cfg, production = env(platform, "production")
    deployer.deploy(platform.runner(), cfg, production, "1.1.0")
    assert platform.cluster.image("production", "retail-consumer-web").endswith(":1.1.0")
    summary = rollback.rollback_environment(platform.runner(), cfg, production, reason="error rate 7% > 5%")
    assert summary.startswith("traffic switched back to blue; rolled back retail-consumer-web")
    assert platform.selector() == "blue" and platform.served_version() == "1.0.0"
    for front_end in ("retail-consumer-web", "retail-admin-web"):
        assert platform.cluster.image("production", front_end) == f"registry.example.com/{front_end}:1.0.0"


def test_automatic_rollback_of_a_rolling_deploy_undoes_only_what_it_deployed(platform):
    cfg, staging = env(platform, "staging")
    deployer.deploy(platform.runner(), cfg, staging, "1.0.7", strategy="rolling", services=["consumer-web"])
    deployer.deploy(platform.runner(), cfg, staging, "1.1.0", strategy="rolling", services=["backend"])
    assert rollback.rollback_environment(platform.runner(), cfg, staging, reason="p95") == (
        "rolled back retail-backend")
    assert platform.served_version("staging") == "1.0.0"
    assert platform.cluster.image("staging", "retail-consumer-web").endswith(":1.0.7")


# --- rollback by release (issue 15) -------------------------------------------------------------

def test_undo_after_two_blue_green_deploys_restores_the_release_that_served_before(platform):
    # Before, `rollout undo` of the live colour went to the release before last (1.0.0): colours
    # alternate, so blue's previous revision is not what served an hour earlier.
    cfg, production = env(platform, "production")
    deployer.deploy(platform.runner(), cfg, production, "1.1.0")
    deployer.deploy(platform.runner(), cfg, production, "1.2.0")
    assert platform.selector() == "blue" and platform.served_version() == "1.2.0"
    result = inv(platform, "rollback.undo", "--env", "production", "--yes")
    assert result.returncode == 0, result.stderr
    assert platform.selector() == "green" and platform.served_version() == "1.1.0"
    for front_end in ("retail-consumer-web", "retail-admin-web"):
        assert platform.cluster.image("production", front_end) == f"registry.example.com/{front_end}:1.1.0"
    assert "backend answers 1.1.0 at" in result.stdout  # checked over HTTP, and said
    assert "now serving backend 1.1.0 [green]" in result.stdout
    entries = history.parse_history(platform.cluster.configmap("production", history.HISTORY_NAME)["data"])
    last = entries[-1]
    assert last["action"] == "rollback-undo" and last["result"] == "succeeded" and last["version"] == "1.1.0"
    assert last["release"]["backend"] == {"before": "1.2.0", "after": "1.1.0", "colour_before": "blue",
                                          "colour_after": "green"}
    # the same again goes forward to what the undo replaced (the newest change is the undo)
    rollback.undo(platform.runner(), cfg, production)
    assert platform.selector() == "blue" and platform.served_version() == "1.2.0"


def test_undo_of_one_service_restores_its_own_previous_version(platform):
    cfg, staging = env(platform, "staging")
    deployer.deploy(platform.runner(), cfg, staging, "1.1.0", strategy="rolling")
    deployer.deploy(platform.runner(), cfg, staging, "1.2.0", strategy="rolling", services=["consumer-web"])
    rollback.undo(platform.runner(), cfg, staging, service="backend")  # backend's last change: 1.0.0 -> 1.1.0
    assert platform.served_version("staging") == "1.0.0"
    assert platform.cluster.image("staging", "retail-consumer-web").endswith(":1.2.0")


def test_blue_green_rollback_refuses_a_colour_that_does_not_run_the_previous_release(platform):
    # Before, after a rolling deploy (in place on green), the switch sent traffic to blue's old
    # 1.0.0 without a word.
    cfg, production = env(platform, "production")
    deployer.deploy(platform.runner(), cfg, production, "1.1.0", services=["backend"])
    deployer.deploy(platform.runner(), cfg, production, "1.2.0", strategy="rolling", services=["backend"])
    assert platform.selector() == "green" and platform.served_version() == "1.2.0"
    before = len(platform.mutations())
    refused = inv(platform, "rollback.blue-green", "--env", "production", "--yes")
    assert refused.returncode == 2, refused.stderr
    assert "blue runs 1.0.0, green runs 1.2.0 (serving)" in refused.stdout
    assert "blue runs 1.0.0, not the previous release 1.1.0: nothing changed" in refused.stderr
    assert platform.selector() == "green" and len(platform.mutations()) == before
    confirmed = inv(platform, "rollback.blue-green", "--env", "production", "--to-version", "1.0.0", "--yes")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "traffic in production is on blue, serving 1.0.0" in confirmed.stdout
    assert platform.selector() == "blue" and platform.served_version() == "1.0.0"


def test_dry_run_of_undo_prints_the_restore_and_changes_nothing(platform):
    cfg, production = env(platform, "production")
    deployer.deploy(platform.runner(), cfg, production, "1.1.0")
    before = len(platform.mutations())
    result = inv(platform, "--dry", "rollback.undo", "--env", "production")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert ("$ kubectl set image deployment/retail-backend-blue retail-backend="
            "registry.example.com/retail-backend:1.0.0") in out
    assert "$ kubectl patch service retail-backend -p '{\"spec\":{\"selector\":{\"deployment\":\"blue\"}}}'" in out
    assert "$ kubectl set image deployment/retail-consumer-web" in out
    assert "$ curl -fsS " in out and "/api/v1/version" in out
    assert len(platform.mutations()) == before and platform.selector() == "green"


def test_every_kind_of_record_reads_back_with_the_release_it_left(platform, monkeypatch):
    from retail_deploy.errors import RolledBack
    from retail_deploy.kube.strategies import SWITCH

    cfg, production = env(platform, "production")

    def records():
        return history.parse_history(platform.cluster.configmap("production", history.HISTORY_NAME)["data"])

    def release(entry, service="backend"):
        change = entry["release"][service]
        return (change["before"], change["colour_before"], change["after"], change["colour_after"])

    deployer.deploy(platform.runner(), cfg, production, "1.1.0", services=["backend"], forced="hotfix 42")
    forced = records()[-1]
    assert forced["forced"] == "hotfix 42" and release(forced) == ("1.0.0", "blue", "1.1.0", "green")

    platform.cluster.inject("bad_image", IMAGE.format("1.2.0"))
    with pytest.raises(RolledBack):
        deployer.deploy(platform.runner(), cfg, production, "1.2.0", services=["backend"])
    failed = records()[-1]
    assert failed["result"] == "rolled-back" and release(failed) == ("1.1.0", "green", "1.1.0", "green")

    original = deployer.Deploy.do

    def interrupted_at_switch(self, step, plan):
        if step.kind == SWITCH:
            raise KeyboardInterrupt
        return original(self, step, plan)

    monkeypatch.setattr(deployer.Deploy, "do", interrupted_at_switch)
    with pytest.raises(deployer.Interrupted):
        deployer.deploy(platform.runner(), cfg, production, "1.3.0", services=["backend"])
    monkeypatch.setattr(deployer.Deploy, "do", original)
    stopped = records()[-1]
    assert stopped["result"] == "interrupted" and release(stopped) == ("1.1.0", "green", "1.1.0", "green")

    # the interrupted attempt left 1.3.0 on idle blue: a plain switch would serve it, so it is refused
    with pytest.raises(InputError, match="blue runs 1.3.0, not the previous release 1.0.0: nothing changed"):
        rollback.blue_green(platform.runner(), cfg, production)
    assert records()[-1] == stopped and platform.selector() == "green"
    assert rollback.undo(platform.runner(), cfg, production) == ["retail-backend-blue"]
    manual = records()[-1]
    assert manual["action"] == "rollback-undo" and manual["version"] == "1.0.0"
    assert release(manual) == ("1.1.0", "green", "1.0.0", "blue")
    assert platform.served_version() == "1.0.0"

    # a breach now: the release before the last DEPLOY already serves (never back to 1.1.0)
    assert rollback.rollback_environment(platform.runner(), cfg, production, reason="error rate 7% > 5%") == (
        "the previous release already serves: nothing to change")
    automatic = records()[-1]
    assert automatic["action"] == "rollback-automatic" and automatic["reason"] == "error rate 7% > 5%"
    assert release(automatic) == ("1.0.0", "blue", "1.0.0", "blue")
    assert platform.served_version() == "1.0.0"

    table = rollback.show_history(platform.runner(), cfg, production)
    assert "deploy (forced)" in table and "backend 1.0.0->1.1.0 [blue->green]" in table
    assert "interrupted" in table and "backend 1.1.0 [green]" in table
    assert "rollback-undo" in table and "backend 1.1.0->1.0.0 [green->blue]" in table
    assert "rollback-automatic" in table and "backend 1.0.0 [blue]" in table



def test_undo_names_the_release_and_going_forward_in_production_needs_a_yes_naming_both(platform):
    cfg, production = env(platform, "production")
    deployer.deploy(platform.runner(), cfg, production, "1.1.0", services=["backend"])
    back = inv(platform, "rollback.undo", "--env", "production", "--yes")
    assert back.returncode == 0, back.stderr
    assert back.stdout.splitlines()[0].startswith(
        "production: rollback.undo restores backend 1.0.0 (blue) (now 1.1.0 (green)), undoing the deploy of ")
    assert platform.served_version() == "1.0.0"

    # The newest change is now a rollback: undoing it re-deploys 1.1.0. Not without a yes.
    before = len(platform.mutations())
    refused = inv(platform, "rollback.undo", "--env", "production")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "this goes FORWARD again, to the release that rollback removed" in refused.stdout
    assert refused.stderr.strip() == ("error: Undo the rollback in production: replace backend 1.0.0 (blue) with "
                                      "backend 1.1.0 (green) again? needs confirmation, and there is no terminal: "
                                      "pass --yes")
    assert len(platform.mutations()) == before and platform.served_version() == "1.0.0"
    forward = inv(platform, "rollback.undo", "--env", "production", "--yes")
    assert forward.returncode == 0, forward.stderr
    assert platform.served_version() == "1.1.0"
