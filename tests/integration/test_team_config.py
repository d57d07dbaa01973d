"""Another team's walk on the REAL Docker engine: its own config (services catalog and checkout,
one Docker environment `dev`, no registry), nothing of the retail platform in it.

build.service builds an image that knows its version (build argument and label), deploy.development
--env dev serves it, verify.* --env dev checks it, rollback.undo --env dev puts the previous release back.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.services import free_port, remove_prefixed, unique_prefix
from tests.team_config import SERVICES, run_cli, write_team

pytestmark = pytest.mark.integration


def served_version(url: str) -> str:
    with urllib.request.urlopen(url + "/api/v1/version", timeout=5) as response:
        return str(json.loads(response.read())["version"])


@pytest.fixture
def team(tmp_path: Path, docker_engine):
    prefix = unique_prefix()
    ports = {name: free_port() for name in SERVICES}
    config = write_team(tmp_path, ports, prefix=prefix)
    yield config, {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}, prefix
    remove_prefixed(docker_engine.client, prefix)  # the engine is shared by the whole machine


def ok(done) -> None:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def test_a_new_team_builds_deploys_verifies_and_rolls_back_by_its_own_names(team, docker_engine):
    config, urls, prefix = team

    ok(run_cli(config, "build.service", "catalog", "--version", "1.0.0"))
    image = docker_engine.client.images.get(f"{prefix}catalog:1.0.0")
    assert image.labels["org.opencontainers.image.version"] == "1.0.0"

    ok(run_cli(config, "deploy.development", "--version", "1.0.0"))  # the only Docker environment: dev
    # the version reached the Dockerfile as APP_VERSION: the image itself answers it
    assert {name: served_version(url) for name, url in urls.items()} == {"catalog": "1.0.0", "checkout": "1.0.0"}
    for task in ("verify.development", "verify.staging", "verify.production"):
        ok(run_cli(config, task, "--env", "dev", "--version", "1.0.0"))

    wrong = run_cli(config, "verify.development", "--env", "dev", "--version", "9.9.9")
    assert wrong.returncode == 1
    assert "dev is not healthy" in wrong.stderr and "expected 9.9.9" in wrong.stderr

    ok(run_cli(config, "deploy.development", "--env", "dev", "--version", "1.1.0"))
    assert served_version(urls["catalog"]) == "1.1.0"
    ok(run_cli(config, "rollback.undo", "--env", "dev"))
    assert {name: served_version(url) for name, url in urls.items()} == {"catalog": "1.0.0", "checkout": "1.0.0"}
