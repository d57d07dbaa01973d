"""Verification through the deploy seam: a Kubernetes verification becomes the seam's report (per
service the version it runs, the table's checks), its failures carry that report with exit 1, or
5 when the cluster did not answer; one conversion turns any target's report into the `--json`
documents of docs/json.md (VerifyResult, DeployResult)."""

from __future__ import annotations

import io

import invoke
import pytest

from retail_deploy import api
from retail_deploy.config import load_config
from retail_deploy.execute import Runner
from retail_deploy.kube import context as kube_context
from retail_deploy.kube import verify as kube_verify
from retail_deploy.targets import Check, NotAnswered, Report, ServiceReport, VerifyFailed, target_for

REFUSED = "command exited 1: kubectl get deployment retail-backend (The connection to the server was refused)"


def kube_report(*rows: tuple[str, str, bool, str], versions: dict[str, str]) -> kube_verify.VerifyReport:
    report = kube_verify.VerifyReport("staging", versions=dict(versions))
    for row in rows:
        report.add(*row)
    return report


def verify_staging(monkeypatch: pytest.MonkeyPatch, checked: kube_verify.VerifyReport,
                   version: str | None = "1.1.0") -> tuple[Report, str, list[kube_verify.VerifyReport]]:
    """KubeTarget.verify with the cluster reads replaced by `checked`: (report, what it showed, records)."""
    recorded: list[kube_verify.VerifyReport] = []
    monkeypatch.setattr(kube_verify, "verify", lambda runner, cfg, env, version, services=None: checked)
    monkeypatch.setattr(kube_verify, "record", lambda runner, cfg, env, report: recorded.append(report))
    # No kubeconfig on a unit test's machine: the context check is not what this test is about.
    monkeypatch.setattr(kube_context, "require_context", lambda runner, context, env_name: None)
    cfg = load_config()
    out = io.StringIO()
    with Runner(invoke.Context(), out=out) as runner:
        try:
            report = target_for(runner, cfg, cfg.environment("staging")).verify(version)
        except VerifyFailed as failed:
            failed.report.notes.append(str(failed))  # for the caller of this helper
            failed.report.notes.append(type(failed).__name__)
            report = failed.report
    return report, out.getvalue(), recorded


def test_a_kubernetes_verification_is_the_seams_report_shown_and_recorded(monkeypatch) -> None:
    checked = kube_report(("rollout", "retail-backend", True, "complete (1.1.0)"),
                          ("health", "https://staging.test/api/v1/health", True, "HTTP 200"),
                          versions={"backend": "1.1.0", "consumer-web": "1.1.0"})
    report, shown, recorded = verify_staging(monkeypatch, checked)
    assert report.ok and report.notes == [] and recorded == [checked]
    assert shown == checked.render() + "\n"
    assert api.VerifyResult.from_report(report, dry_run=False).to_dict() == {
        "ok": True, "environment": "staging", "version": "1.1.0", "dry_run": False,
        "services": [{"service": "backend", "version": "1.1.0", "outcome": "verified", "previous": None, "url": "",
                      "detail": ""},
                     {"service": "consumer-web", "version": "1.1.0", "outcome": "verified", "previous": None,
                      "url": "", "detail": ""}],
        "checks": [{"check": "rollout", "target": "retail-backend", "ok": True, "detail": "complete (1.1.0)"},
                   {"check": "health", "target": "https://staging.test/api/v1/health", "ok": True,
                    "detail": "HTTP 200"}]}


def test_a_failed_kubernetes_verification_is_exit_1_with_the_failed_checks(monkeypatch) -> None:
    checked = kube_report(("rollout", "retail-backend", True, "complete (1.1.0)"),
                          ("image", "retail-admin-web", False, "runs r/admin:1.0.0, expected tag 1.1.0"),
                          ("health", "https://staging.test/", False, "HTTP 503"),
                          versions={"backend": "1.1.0", "admin-web": "1.0.0"})
    report, _, recorded = verify_staging(monkeypatch, checked)
    assert report.notes == ["staging verification failed: image retail-admin-web, health https://staging.test/",
                            "VerifyFailed"]
    assert recorded == [checked] and not report.ok
    result = api.VerifyResult.from_report(report, dry_run=False)
    assert (result.ok, result.version) == (False, "")  # the services run different versions
    assert [(s.service, s.version, s.outcome) for s in result.services] == [
        ("backend", "1.1.0", "failed"), ("admin-web", "1.0.0", "failed")]


def test_a_cluster_that_did_not_answer_is_exit_5(monkeypatch) -> None:
    checked = kube_report(("deployment", "backend", False, REFUSED),
                          ("health", "https://staging.test/", False, "connection refused"), versions={})
    report, _, _ = verify_staging(monkeypatch, checked)
    assert report.notes == [f"the cluster of staging did not answer ({REFUSED}); nothing was verified", "NotAnswered"]
    assert NotAnswered("x", report).exit_code == 5
    assert not api.VerifyResult.from_report(report, dry_run=False).ok  # no service, but failed checks


def test_a_docker_verification_converts_with_its_urls_and_no_checks() -> None:
    report = Report("development", "local engine", "verify", services=[
        ServiceReport("backend", "2.0.0", "healthy", "retail-backend", "http://127.0.0.1:8080"),
        ServiceReport("web", "2.0.0", "unhealthy", "retail-web", "http://127.0.0.1:3000", detail="HTTP 503")])
    assert api.VerifyResult.from_report(report, dry_run=True).to_dict() == {
        "ok": False, "environment": "development", "version": "2.0.0", "dry_run": True,
        "services": [{"service": "backend", "version": "2.0.0", "outcome": "healthy", "previous": None,
                      "url": "http://127.0.0.1:8080", "detail": ""},
                     {"service": "web", "version": "2.0.0", "outcome": "unhealthy", "previous": None,
                      "url": "http://127.0.0.1:3000", "detail": "HTTP 503"}],
        "checks": []}


def deployed(strategy: str, colour: str = "") -> Report:
    return Report("production", "ctx/ns", "deploy 1.1.0", version="1.1.0", strategy=strategy, colour=colour,
                  services=[ServiceReport("backend", "1.1.0", "deployed", "retail-backend", previous="1.0.0"),
                            ServiceReport("web", "1.1.0", "unchanged", "retail-web", previous="1.1.0")])


def test_one_deploy_conversion_for_a_plan_a_verified_deploy_and_a_self_checked_one() -> None:
    plan = api.DeployResult.from_report(deployed("blue-green", "green"), target="kubernetes", dry_run=True)
    assert (plan.target, plan.dry_run, plan.strategy, plan.colour) == ("kubernetes", True, "blue-green", "green")
    assert [(s.service, s.version, s.outcome, s.previous) for s in plan.services] == [
        ("backend", "1.1.0", "planned", "1.0.0"), ("web", "1.1.0", "planned", "1.1.0")]

    verified = Report("production", "ctx/ns", "verify 1.1.0", services=[
        ServiceReport("backend", "1.1.0", "failed"), ServiceReport("web", "1.1.0", "failed")],
        checks=[Check("pods", "retail-backend", False, "0/2 ready")])
    failed = api.DeployResult.from_report(deployed("rolling"), target="kubernetes", dry_run=False, verified=verified)
    assert not failed.ok and {s.outcome for s in failed.services} == {"unverified"}
    verified = Report("production", "ctx/ns", "verify 1.1.0", services=[
        ServiceReport("backend", "1.1.0", "verified"), ServiceReport("web", "1.1.0", "verified")])
    done = api.DeployResult.from_report(deployed("rolling"), target="kubernetes", dry_run=False, verified=verified)
    assert done.ok and [(s.service, s.outcome, s.previous) for s in done.services] == [
        ("backend", "deployed", "1.0.0"), ("web", "deployed", "1.1.0")]

    # A Docker engine checks each container as it deploys: what the deploy says is the result.
    engine = api.DeployResult.from_report(deployed("replace"), target="docker", dry_run=False)
    assert engine.to_dict() == {
        "ok": True, "environment": "production", "version": "1.1.0", "target": "docker", "dry_run": False,
        "services": [{"service": "backend", "version": "1.1.0", "outcome": "deployed", "previous": "1.0.0", "url": "",
                      "detail": ""},
                     {"service": "web", "version": "1.1.0", "outcome": "unchanged", "previous": "1.1.0", "url": "",
                      "detail": ""}],
        "strategy": "replace", "colour": ""}


def test_a_docker_verification_after_deploying_some_services_expects_the_version_of_those_only(monkeypatch) -> None:
    from retail_deploy.docker import target as docker_target

    asked: list[str | None] = []

    def engine_verify(runner: Runner, cfg: object, env: object, version: str | None = None) -> Report:
        asked.append(version)
        return Report("development", "local engine", "verify", services=[
            ServiceReport("backend", "1.1.0", "healthy"), ServiceReport("consumer-web", "1.0.0", "healthy"),
            ServiceReport("admin-web", "1.0.0", "healthy")])

    monkeypatch.setattr(docker_target, "verify", engine_verify)
    cfg = load_config()
    with Runner(invoke.Context(), out=io.StringIO()) as runner:
        target = target_for(runner, cfg, cfg.environment("development"))
        assert target.verify("1.1.0", services=["backend"]).ok
        with pytest.raises(VerifyFailed) as raised:
            target.verify("1.1.0", services=["backend", "admin-web"])
    assert asked == [None, None]  # the engine checks every service; the version only where deployed
    assert str(raised.value) == "development: admin-web runs 1.0.0, expected 1.1.0"
    assert [(s.service, s.status) for s in raised.value.report.services] == [
        ("backend", "healthy"), ("consumer-web", "healthy"), ("admin-web", "wrong-version")]
