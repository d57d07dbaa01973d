"""The verify report's log scan against the doubles (also test_kube_idle_colour.py's check that
verification reads only the serving colour): a real control plane here has no kubelet, so
no container logs to scan (tests/doubles/README.md). Every rollback procedure, the lock tasks and
the CLI contract run on the real control plane: test_kube_real_rollback.py."""

from __future__ import annotations

import pytest

from retail_deploy.commands import kubectl
from retail_deploy.commands.kubectl import Kube
from retail_deploy.kube import verify as kube_verify

pytestmark = pytest.mark.integration


def test_verify_report_passes_then_fails_on_a_crashloop(platform):
    # needs container logs (`set_logs`): no kubelet behind the real control plane's nodes
    cfg = platform.cfg()
    staging = cfg.environment("staging")
    report = kube_verify.verify(platform.runner(), cfg, staging, "1.0.0")
    assert report.ok, report.render()
    assert {r.check for r in report.rows} >= {"pods", "rollout", "health", "version", "logs"}
    wrong = kube_verify.verify(platform.runner(), cfg, staging, "2.0.0")
    assert not wrong.ok
    assert any(r.check == "version" and not r.ok for r in wrong.rows)
    platform.cluster.set_logs("staging", "INFO started\nERROR payment gateway refused\n", deployment="retail-backend")
    logs = kube_verify.verify(platform.runner(), cfg, staging)
    assert [r.ok for r in logs.rows if r.check == "logs"] == [False]
    assert "ERROR payment gateway refused" in logs.render()


def test_verification_reads_only_the_serving_colour(platform):
    """A broken idle colour (left up by hand, or by an older release of this tool) must not fail a
    healthy production's verification; errors of the serving colour still do. Needs container logs
    and a crashloop: no kubelet behind the real control plane's nodes."""
    cluster = platform.cluster
    cluster.set_logs("production", "INFO started\n", deployment="retail-backend-blue")
    cluster.set_logs("production", "ERROR cannot connect to mongodb\n" * 20, deployment="retail-backend-green")
    cluster.set_logs("production", "ERROR the unused plain deployment\n", deployment="retail-backend")
    cluster.inject("crashloop", "retail-backend-green")
    runner = platform.runner()
    runner.run(kubectl.scale(Kube("retail-production", "production"), "retail-backend-green", 3), hide=True)
    cfg = platform.cfg()
    production = cfg.environment("production")
    report = kube_verify.verify(runner, cfg, production, "1.0.0")
    assert report.ok, report.render()
    assert [(r.target, r.ok) for r in report.rows if r.check == "logs"] == [("retail-backend-blue", True)]
    assert "cannot connect to mongodb" not in report.render()
    assert not any("green" in r.target for r in report.rows)
    cluster.set_logs("production", "ERROR payment gateway refused\n" * 20, deployment="retail-backend-blue")
    failing = kube_verify.verify(runner, cfg, production, "1.0.0")
    assert [(r.target, r.ok) for r in failing.rows if r.check == "logs"] == [("retail-backend-blue", False)]
    assert "payment gateway refused" in failing.render()
