"""Helm deploys through the real execution path against the kubectl/helm doubles: only what a real
control plane cannot be made to do here (a release stuck pending, a failing upgrade, a failing
`helm rollback`). Every other deploy scenario runs on the real control plane: test_kube_real_deploy.py,
test_kube_real_helm.py (tests/doubles/README.md says what stays here and why)."""

from __future__ import annotations

import pytest

from retail_deploy.errors import OperationFailed, RolledBack
from retail_deploy.kube import deployer
from tests.integration.kube_support import Platform

pytestmark = pytest.mark.integration


def deploy(p: Platform, env: str, version: str, **kw):
    cfg = p.cfg()
    return deployer.deploy(p.runner(), cfg, cfg.environment(env), version, **kw)


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


