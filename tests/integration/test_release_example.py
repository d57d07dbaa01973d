"""scripts/release-example.sh, the shell release built on the --json documents and jq, run for real:
against the kubectl doubles (tests/doubles) for the cluster and mongomock for the database, through
the real CLI (tests/migrations_mongomock_cli.py). jq comes from scripts/install-system-deps.sh."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from retail_deploy.targets import history
from tests.integration.checklist.test_checklist_gate import MANUAL
from tests.integration.kube_support import REPO, Platform
from tests.services import unavailable

pytestmark = pytest.mark.integration

SCRIPT = REPO / "scripts" / "release-example.sh"
MIGRATIONS = REPO / "examples" / "retail-platform" / "migrations"


def release(p: Platform, tmp_path: Path, version: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("jq") is None:
        unavailable("jq is not installed (scripts/install-system-deps.sh installs it)")
    data = yaml.safe_load(p.config.read_text())
    data["migrations"] = {"directory": str(MIGRATIONS), "backup_dir": str(tmp_path / "backups"),
                          "backup_method": "export", "server_timeout": "1s"}
    for env in ("staging", "production"):  # a database each
        data["environments"][env]["migrations"] = {"uri_env": f"{env.upper()}_MONGODB_URI", "database": env}
    p.config.write_text(yaml.safe_dump(data, sort_keys=False))
    wrapper = tmp_path / "retail-deploy-mongomock"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{REPO}/tests/migrations_mongomock_cli.py" "$@"\n')
    wrapper.chmod(0o755)
    environ = dict(p.env, RETAIL_DEPLOY_CONFIG=str(p.config), PYTHONPATH=str(REPO), RETAIL_DEPLOY_CLI=str(wrapper),
                   MONGOMOCK_STATE=str(tmp_path / "mongo.json"), STAGING_MONGODB_URI="mongodb://127.0.0.1:27017",
                   PRODUCTION_MONGODB_URI="mongodb://127.0.0.1:27017",
                   SKIP_BUILD="1", PRODUCTION_ACKS=" ".join([*MANUAL, "feature-flags"]),
                   # The doubles' registry.example.com does not answer: the images-exist item cannot pass.
                   FORCE_REASON="images pushed by CI; the test registry is not reachable")
    return subprocess.run([str(SCRIPT), version], env=environ, cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)


def test_a_release_goes_through_staging_and_production_from_the_json_documents(platform, tmp_path) -> None:
    done = release(platform, tmp_path, "1.1.0")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "staging: backend 1.0.0 -> 1.1.0 (deployed)" in lines
    assert "production: backend 1.0.0 -> 1.1.0 (deployed)" in lines
    assert any(line.startswith("recorded: 1.1.0 succeeded by ") for line in lines)
    assert "going on because of --force: images pushed by CI" in done.stderr
    assert "release-example: production runs 1.0.0" in done.stderr
    assert "production migrations pending: 2025-01-15-add-user-preferences.py" in done.stderr
    assert platform.served_version("staging") == "1.1.0" and platform.served_version("production") == "1.1.0"
    state = json.loads((tmp_path / "mongo.json").read_text())
    for env in ("staging", "production"):
        changelog = state[env]["migrations_changelog"]
        assert [(r["_id"], r["version"]) for r in changelog] == [("2025-01-15-add-user-preferences.py", "1.1.0")]


def test_a_held_production_lock_stops_the_release_before_anything_changes(platform, tmp_path) -> None:
    platform.cluster.add_configmap("production", history.LOCK_NAME, {
        "holder": "carol@laptop", "id": "z", "version": "1.0.9", "acquired": "2026-01-01T00:00:00Z",
        "expires": "2099-01-01T00:00:00Z"})
    done = release(platform, tmp_path, "1.1.0")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "production is locked by carol@laptop (version 1.0.9) until 2099-01-01T00:00:00Z" in done.stderr
    assert platform.mutations() == []
