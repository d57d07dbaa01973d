"""The pre-deployment checklist in front of a production deploy, through the CLI and the kubectl double:
a version never verified on staging is refused; verifying it on staging (recorded in the cluster)
clears that item; --force goes on and keeps its reason in the deploy history."""

from __future__ import annotations

import subprocess
import sys

import pytest

from retail_deploy.targets import history
from tests.integration.kube_support import REPO, Platform

pytestmark = pytest.mark.integration

MANUAL = ["ci-tests", "owasp-scan", "oncall-notified", "deployment-window", "monitoring-ready", "load-test",
          "support-notified", "status-page", "migrations-reviewed"]


def cli(p: Platform, *args: str) -> subprocess.CompletedProcess:
    environ = dict(p.env, RETAIL_DEPLOY_CONFIG=str(p.config), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "retail_deploy", *args], cwd=REPO, env=environ,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)


def acks() -> list[str]:
    return [arg for key in MANUAL for arg in ("--ack", key)]


def line(output: str, key: str) -> str:
    return next(row for row in output.splitlines() if f"] {key} " in row)


def test_production_deploy_refused_until_staging_verified_that_version(platform):
    first = cli(platform, "checklist.pre-deploy", "--env", "production", "--version", "1.1.0", *acks())
    assert first.returncode == 2
    assert "[FAILED ] staging-verified" in line(first.stdout, "staging-verified")
    assert "1.1.0 was never verified on staging" in first.stdout
    assert "$ kubectl patch service retail-backend" in first.stdout  # the rollback plan is printed
    assert '{"spec":{"selector":{"deployment":"blue"}}}' in first.stdout

    refused = cli(platform, "deploy.production", "--version", "1.1.0", "--yes", *acks())
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: pre-deployment checklist for 1.1.0 to production not satisfied")
    assert "staging-verified" in refused.stderr
    assert not [argv for argv in platform.mutations() if "production" in argv and "set" in argv]
    assert platform.selector() == "blue" and platform.served_version() == "1.0.0"

    staged = cli(platform, "deploy.staging", "--version", "1.1.0")
    assert staged.returncode == 0, staged.stderr
    again = cli(platform, "checklist.pre-deploy", "--env", "production", "--version", "1.1.0", *acks())
    assert "[passed ] staging-verified" in line(again.stdout, "staging-verified")
    older = cli(platform, "checklist.pre-deploy", "--env", "production", "--version", "1.0.9", *acks())
    assert "1.0.9 was never verified on staging" in older.stdout


def test_force_deploys_anyway_and_keeps_the_reason(platform):
    forced = cli(platform, "deploy.production", "--version", "1.1.0", "--yes", *acks(),
                 "--force", "hotfix for incident 42")
    assert forced.returncode == 0, forced.stderr
    assert "going on because of --force: hotfix for incident 42" in forced.stdout
    assert platform.selector() == "green" and platform.served_version() == "1.1.0"
    cm = platform.cluster.configmap("production", history.HISTORY_NAME)
    deploys = [r for r in history.parse_history(cm["data"]) if r.get("action") == "deploy"]
    assert deploys[-1]["forced"] == "hotfix for incident 42"


def test_force_without_a_reason_is_bad_input(platform):
    result = cli(platform, "deploy.production", "--version", "1.1.0", "--yes", "--force", " ")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --force needs a reason, e.g. --force 'hotfix for incident 42'"
    assert platform.mutations() == []
