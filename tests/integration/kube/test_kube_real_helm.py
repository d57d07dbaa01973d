"""`deploy.staging --method helm` on the REAL control plane with the REAL helm (scripts/kube-up.sh
links it into .venv/bin) and the example platform's own charts (examples/retail-platform/deploy/
helm): releases are installed and upgraded with `--atomic --wait`, a release whose pods never
become Ready is rolled back by Helm itself, and what happened shows in Helm's own release history
and in `rollback.history`. Helm faults a real cluster cannot produce (a killed helm leaving
`pending-upgrade`) stay on the doubles: tests/doubles/README.md."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from retail_deploy.errors import RolledBack
from retail_deploy.kube import deployer
from retail_deploy.targets import history
from tests.integration.kube_real import RealPlatform
from tests.integration.kube_support import SERVICES, inv

pytestmark = [pytest.mark.integration, pytest.mark.kube]

CHART_DIR = Path(__file__).resolve().parents[3] / "examples" / "retail-platform" / "deploy" / "helm"
STALLS = "1.1.0-never-ready"  # its pods run but never become Ready (a kwok stage): --wait times out


@pytest.fixture
def platform(real_cluster, tmp_path, monkeypatch):
    """Staging without the seeded Deployments: Helm must own what it installs."""
    staging = real_cluster.ns("staging")
    for name in SERVICES.values():
        real_cluster.api.delete("deployments", staging, name)
        real_cluster.api.delete("services", staging, name)
    for name in SERVICES.values():
        real_cluster.wait_until(lambda n=name: real_cluster.api.get("deployments", staging, n) is None,
                                f"deployment {name} deleted", 60)
    p = RealPlatform(real_cluster, tmp_path, monkeypatch, staging_method="helm")
    data = yaml.safe_load(p.config.read_text())
    data["environments"]["staging"]["helm"].update(chart_dir=str(CHART_DIR), timeout="40s")
    p.config.write_text(yaml.safe_dump(data, sort_keys=False))
    yield p
    p.close()


def deploy(p: RealPlatform, version: str) -> deployer.Outcome:
    cfg = p.cfg()
    return deployer.deploy(p.runner(), cfg, cfg.environment("staging"), version, strategy="rolling")


def helm_history(p: RealPlatform, release: str) -> list[dict]:
    """What the real helm says, asked directly (not through the product)."""
    helm = subprocess.run(["helm", "history", release, "--namespace", p.cluster.ns("staging"),
                           "--kube-context", "retail-staging", "-o", "json"], capture_output=True, text=True,
                          env=dict(os.environ), timeout=60, stdin=subprocess.DEVNULL)
    assert helm.returncode == 0, helm.stderr
    return json.loads(helm.stdout)


def test_helm_installs_then_upgrades_each_release_atomically(platform):
    deploy(platform, "1.0.0")
    deploy(platform, "1.1.0")
    for name in SERVICES.values():
        assert platform.cluster.image("staging", name).endswith(f"/{name}:1.1.0")
        assert [(r["revision"], r["status"], r["app_version"]) for r in helm_history(platform, name)] == [
            (1, "superseded", "1.0.0"), (2, "deployed", "1.0.0")]
        platform.cluster.wait_rolled_out("staging", name)
    assert platform.served_version("staging") == "1.1.0"  # through the Service Helm made
    upgrades = platform.commands_with("upgrade", "--install")
    assert len(upgrades) == 6 and all("--atomic" in argv and "--wait" in argv for argv in upgrades)
    assert all("values-staging.yaml" in " ".join(argv) for argv in upgrades)


def test_a_release_that_never_becomes_ready_is_rolled_back_by_helm(platform):
    deploy(platform, "1.0.0")
    with pytest.raises(RolledBack, match="--atomic rolled the"):
        deploy(platform, STALLS)
    revisions = helm_history(platform, "retail-backend")
    assert [r["status"] for r in revisions] == ["superseded", "failed", "deployed"]
    assert "Rollback to 1" in revisions[-1]["description"]
    assert platform.cluster.image("staging", "retail-backend").endswith(":1.0.0")
    # The front ends were never touched: their releases are still at revision 1.
    for name in ("retail-consumer-web", "retail-admin-web"):
        assert [r["revision"] for r in helm_history(platform, name)] == [1]
    assert platform.served_version("staging") == "1.0.0"
    records = history.parse_history(platform.cluster.configmap("staging", history.HISTORY_NAME)["data"])
    assert [(r["version"], r["result"]) for r in records] == [("1.0.0", "succeeded"), (STALLS, "rolled-back")]
    shown = inv(platform, "rollback.history", "--env", "staging")
    assert shown.returncode == 0, shown.stderr
    assert STALLS in shown.stdout and "rolled-back" in shown.stdout


def test_ctrl_c_during_a_helm_deploy_rolls_back_the_releases_already_upgraded(platform, monkeypatch):
    # Before, Ctrl-C during the second release's upgrade left the first on the new version.
    from retail_deploy.kube.strategies import HELM_UPGRADE

    deploy(platform, "1.0.5")
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
        deploy(platform, "1.1.0")
    assert platform.cluster.image("staging", "retail-backend").endswith(":1.0.5")
    assert [r["status"] for r in helm_history(platform, "retail-backend")][-1] == "deployed"
    assert platform.served_version("staging") == "1.0.5"
