"""Roles, not names: a team whose production environment is called `prod` gets the checklist gate,
the confirmation and --force on every path that deploys it (deploy.production --env prod, the
library), and cannot reach it through deploy.staging. Through the CLI and the kubectl double."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from retail_deploy import api
from retail_deploy.errors import InputError
from retail_deploy.targets import history
from tests.integration.kube_support import REPO, Platform

pytestmark = pytest.mark.integration

MANUAL = ["ci-tests", "owasp-scan", "oncall-notified", "deployment-window", "monitoring-ready", "load-test",
          "support-notified", "status-page", "migrations-reviewed"]


@pytest.fixture
def team(platform: Platform) -> Platform:
    """The same platform, its production environment renamed `prod` (no `role:` key: the default
    from the name), and no `confirm: true` to lean on."""
    text = platform.config.read_text().replace("  production:\n", "  prod:\n").replace("    confirm: true\n", "")
    platform.config.write_text(text)
    assert platform.cfg().environment("prod").role == "production"
    return platform


def cli(p: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    environ = dict(p.env, RETAIL_DEPLOY_CONFIG=str(p.config), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "retail_deploy", *args], cwd=REPO, env=environ,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)


def production_changes(p: Platform) -> list[list[str]]:
    return [argv for argv in p.mutations() if "production" in argv]


def acks() -> list[str]:
    return [arg for key in MANUAL for arg in ("--ack", key)]


def test_deploy_staging_refuses_a_production_role_environment(team: Platform) -> None:
    result = cli(team, "deploy.staging", "--env", "prod", "--version", "1.1.0")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == ("error: deploy.staging deploys staging or development environments; prod has "
                                     "the production role: use deploy.production --env prod")
    assert production_changes(team) == [] and team.served_version() == "1.0.0"


def test_deploy_production_env_prod_asks_and_runs_the_checklist(team: Platform) -> None:
    unconfirmed = cli(team, "deploy.production", "--env", "prod", "--version", "1.1.0")
    assert unconfirmed.returncode == 2
    assert "needs confirmation, and there is no terminal: pass --yes" in unconfirmed.stderr

    gated = cli(team, "deploy.production", "--env", "prod", "--version", "1.1.0", "--yes", *acks())
    assert gated.returncode == 2, gated.stdout + gated.stderr
    assert gated.stderr.startswith("error: pre-deployment checklist for 1.1.0 to prod not satisfied")
    assert production_changes(team) == []

    forced = cli(team, "deploy.production", "--env", "prod", "--version", "1.1.0", "--yes", *acks(),
                 "--force", "hotfix for incident 42")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert team.selector() == "green" and team.served_version() == "1.1.0"
    cm = team.cluster.configmap("production", history.HISTORY_NAME)
    deploys = [r for r in history.parse_history(cm["data"]) if r.get("action") == "deploy"]
    assert deploys[-1]["forced"] == "hotfix for incident 42"
    # An audit script sees why the checklist was overridden: --json and the library carry it.
    listed = cli(team, "rollback.history", "--env", "prod", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = [e for e in json.loads(listed.stdout)["entries"] if e["action"] == "deploy"]
    assert entries[-1]["forced"] == "hotfix for incident 42"
    assert [e.forced for e in api.history(env="prod").entries if e.action == "deploy"] == ["hotfix for incident 42"]


def test_the_library_needs_an_explicit_confirmation_and_runs_the_checklist(team: Platform) -> None:
    with pytest.raises(InputError, match="prod has the production role: pass confirm='prod'") as refused:
        api.deploy(env="prod", version="1.1.0", out=io.StringIO())
    assert refused.value.exit_code == 2
    with pytest.raises(InputError, match="pre-deployment checklist for 1.1.0 to prod not satisfied"):
        api.deploy(env="prod", version="1.1.0", confirm="prod", acks=MANUAL, out=io.StringIO())
    assert production_changes(team) == [] and team.served_version() == "1.0.0"

    plan = api.deploy(env="prod", version="1.1.0", dry_run=True, out=(out := io.StringIO()))
    assert plan.dry_run and "first the pre-deployment checklist: inv checklist.pre-deploy --env prod" in out.getvalue()

    done = api.deploy(env="prod", version="1.1.0", confirm="prod", acks=MANUAL, force="scripted hotfix",
                      services="backend", out=io.StringIO())
    assert done.ok and team.served_version() == "1.1.0"
    entry = [e for e in api.history(env="prod").entries if e.action == "deploy"][-1]
    assert entry.version == "1.1.0" and entry.forced == "scripted hotfix"


def test_config_validate_names_the_roles_and_warns_without_production(team: Platform) -> None:
    listed = cli(team, "config.validate")
    assert listed.returncode == 0, listed.stderr
    assert "roles: staging: staging, prod: production (the production safeguards apply to prod)" in listed.stdout
    team.config.write_text(team.config.read_text().replace("  prod:\n", "  prod:\n    role: staging\n"))
    warned = cli(team, "config.validate")
    assert warned.returncode == 0, warned.stderr
    assert "warning: no environment has the production role" in warned.stdout
