"""The runbook's migration scripts: thin glue over the CLI, exit codes passed through.

Most runs use the CLI with its MongoDB client answering from mongomock (tests/migrations_mongomock_cli.py,
through the scripts' RETAIL_DEPLOY_CLI); the runbook flow runs again with the real CLI on the real server
(FerretDB in CI), and one test uses the real driver against a closed port.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.migrations_support import server_uri

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = REPO / "scripts"
EXAMPLE = REPO / "examples/retail-platform/migrations/2025-01-15-add-user-preferences.py"
PASSWORD = "pw-Very-Secret-42"

CONFIG = """\
version: 1
services:
  backend: {image: retail-backend}
environments:
  development: {target: docker}
  production: {namespace: production}
migrations:
  directory: migrations
  backup_dir: backups
  backup_method: export
  server_timeout: 1s
"""


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / EXAMPLE.name).write_text(EXAMPLE.read_text())
    (tmp_path / "platform.yaml").write_text(CONFIG)
    wrapper = tmp_path / "retail-deploy-mongomock"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{REPO}/tests/migrations_mongomock_cli.py" "$@"\n')
    wrapper.chmod(0o755)
    return {**os.environ, "PYTHONPATH": str(REPO), "RETAIL_DEPLOY_CONFIG": str(tmp_path / "platform.yaml"),
            "MONGODB_URI": f"mongodb://app:{PASSWORD}@db.internal/retail", "RETAIL_DEPLOY_CLI": str(wrapper),
            "MONGOMOCK_STATE": str(tmp_path / "state.json"), "PYTHON": sys.executable}


@pytest.fixture(params=["mongomock", "server"])
def flow_env(request: pytest.FixtureRequest, workspace: dict[str, str]) -> Iterator[dict[str, str]]:
    """The workspace on mongomock, or with the real CLI and driver on the real server
    (RETAIL_DEPLOY_TEST_MONGODB_URI: FerretDB in CI; skipped without it, failing under CI=true)."""
    if request.param == "mongomock":
        yield workspace
        return
    database = f"retail_deploy_test_{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in workspace.items() if k != "RETAIL_DEPLOY_CLI"}
    yield {**env, "PATH": "/usr/bin:/bin", "MONGODB_URI": server_uri(database)}
    from pymongo import MongoClient

    with MongoClient(server_uri(database)) as client:
        client.drop_database(database)


def script(name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPTS / name), *args], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_runbook_database_flow_through_the_scripts(flow_env: dict[str, str], tmp_path: Path) -> None:
    workspace = flow_env
    created = script("create-migration.sh", "add-loyalty-points", env=workspace)
    assert created.returncode == 0, created.stderr
    new_file = Path(created.stdout.strip())
    assert new_file.parent == tmp_path / "migrations"
    new_file.unlink()  # an unwritten template would (rightly) fail to apply

    dry = script("run-migration.sh", "local", "1.4.2", env={**workspace, "DRY_RUN": "1"})
    assert dry.returncode == 0 and f"# would apply {EXAMPLE.name} (batch 1, version 1.4.2)" in dry.stdout

    not_yet = script("verify-migration.sh", "local", env=workspace)
    assert not_yet.returncode == 1 and f"{EXAMPLE.name} is not applied" in not_yet.stderr

    applied = script("run-migration.sh", "local", "1.4.2", env=workspace)
    assert applied.returncode == 0, applied.stderr
    assert f"applying {EXAMPLE.name} (batch 1)" in applied.stdout
    assert script("verify-migration.sh", "local", env=workspace).returncode == 0

    rolled = script("db-rollback.sh", "1.4.1", "development", env=workspace)
    assert rolled.returncode == 0, rolled.stderr
    assert f"undoing {EXAMPLE.name}" in rolled.stdout
    # After the rollback the migration is pending: integrity holds, a full verify does not.
    assert script("data-integrity-check.sh", "development", env=workspace).returncode == 0
    assert script("verify-migration.sh", "development", env=workspace).returncode == 1

    for result in (created, dry, not_yet, applied, rolled):
        assert PASSWORD not in result.stdout + result.stderr


def test_scripts_refuse_missing_arguments_with_exit_2(workspace: dict[str, str]) -> None:
    for name in ("create-migration.sh", "run-migration.sh", "verify-migration.sh", "db-rollback.sh"):
        result = script(name, env=workspace)
        assert result.returncode == 2 and "usage:" in result.stderr, name


def test_missing_uri_is_exit_2_and_unreachable_server_is_exit_5_without_the_password(
        workspace: dict[str, str]) -> None:
    real_cli = {k: v for k, v in workspace.items() if k != "RETAIL_DEPLOY_CLI"}
    real_cli["PATH"] = "/usr/bin:/bin"  # the real driver through `python -m retail_deploy`
    missing = script("run-migration.sh", "production", env={k: v for k, v in real_cli.items() if k != "MONGODB_URI"})
    assert missing.returncode == 2 and "MONGODB_URI is not set" in missing.stderr

    closed_port = {**real_cli, "MONGODB_URI": f"mongodb://app:{PASSWORD}@127.0.0.1:1/retail"}
    result = script("verify-migration.sh", "production", env=closed_port)
    assert result.returncode == 5  # the database did not answer; nothing was changed
    assert "mongodb://app:***@127.0.0.1:1/retail" in result.stderr and PASSWORD not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_dry_run_of_create_writes_nothing(workspace: dict[str, str], tmp_path: Path) -> None:
    # `--dry db.create` used to write the template file: a dry run must change nothing.
    result = script("create-migration.sh", "add-loyalty-points", env={**workspace, "DRY_RUN": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"# would write {tmp_path / 'migrations'}/")
    assert result.stdout.rstrip().endswith("-add-loyalty-points.py from the migration template")
    assert sorted(p.name for p in (tmp_path / "migrations").iterdir()) == [EXAMPLE.name]
