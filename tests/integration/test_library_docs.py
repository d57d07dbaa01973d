"""docs/library.md is executed: its ```python blocks run, in order, in one namespace, against the
real Docker engine and registry (tests/services.py) and MongoDB (mongomock, or the server named by
RETAIL_DEPLOY_TEST_MONGODB_URI), so the page cannot drift from the library.

The example platform gets `staging` and `production` as Docker-target environments of its own
(free ports, this test's image and container names); then what a user would see is checked: the
URLs answer the versions the page says, and the changelog holds what the page migrated.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.docker.test_dev_target import get, make_platform, remove_containers
from tests.migrations_support import SERVER_ENV
from tests.services import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "library.md"
SERVICES = ("backend", "consumer-web", "admin-web")


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)


@pytest.fixture
def docs_platform(tmp_path, docker_engine, registry, monkeypatch, example_build):
    made = make_platform(tmp_path, docker_engine, registry, monkeypatch, example_build)
    data = yaml.safe_load(made.config.read_text())
    development = data["environments"].pop("development")
    urls: dict[str, dict[str, str]] = {}
    for env in ("staging", "production"):
        urls[env] = {name: f"http://127.0.0.1:{free_port()}" for name in SERVICES}
        data["environments"][env] = {**development, "urls": urls[env],
                                     "migrations": {"uri_env": f"{env.upper()}_MONGODB_URI"}}
    # The page's production is a Docker stand-in on this machine: its checklist asks for a staging
    # verification recorded in a cluster it does not have, so it keeps the procedure of a staging
    # environment (its confirm= and acks= are then simply not needed).
    data["environments"]["production"]["role"] = "staging"
    data["migrations"] = {"directory": str(REPO / "examples" / "retail-platform" / "migrations"),
                          "backup_dir": str(tmp_path / "backups"), "backup_method": "export",
                          "server_timeout": "5s"}
    made.config.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv("RETAIL_DEPLOY_CONFIG", str(made.config))

    databases = {env: f"retail_docs_{env}_{uuid.uuid4().hex[:8]}" for env in urls}
    server = os.environ.get(SERVER_ENV)
    if server:
        from pymongo import MongoClient

        client: Any = MongoClient(server, serverSelectionTimeoutMS=5000)
        base = server.split("?")[0].rstrip("/")
        base = base if base.count("/") == 2 else base.rsplit("/", 1)[0]
    else:
        import mongomock

        import retail_deploy.migrations

        client = mongomock.MongoClient()
        base = "mongodb://127.0.0.1:27017"
        monkeypatch.setattr(retail_deploy.migrations, "connect", lambda uri, timeout: _Unclosed(client))
    for env, name in databases.items():
        monkeypatch.setenv(f"{env.upper()}_MONGODB_URI", f"{base}/{name}")
    yield made, urls, client, databases
    for name in databases.values():
        client.drop_database(name)
    remove_containers(made)


class _Unclosed:
    """mongomock's data lives in its client: the library closes each client it opens."""

    def __init__(self, client: Any):
        self._client = client

    def __getitem__(self, name: str) -> Any:
        return self._client[name]

    def close(self) -> None:
        pass


def test_every_python_block_of_docs_library_md_runs_and_does_what_it_says(docs_platform, capsys) -> None:
    platform, urls, client, databases = docs_platform
    blocks = python_blocks(PAGE.read_text())
    assert len(blocks) >= 5, "docs/library.md lost its examples"
    namespace: dict[str, Any] = {"__name__": "library_docs"}
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"docs/library.md block {number}", "exec"), namespace)  # noqa: S102
        except Exception as error:
            raise AssertionError(f"docs/library.md block {number} failed: {error}\n{block}") from error

    out = capsys.readouterr().out
    # The release pushed every image with its registry digest.
    assert len(re.findall(r"^pushed \S+:1\.4\.2@sha256:[0-9a-f]{64}$", out, flags=re.M)) == len(SERVICES)
    # Staging runs the last release; production was rolled back by hand to the one before.
    for env, version in (("staging", "1.4.2"), ("production", "1.4.1")):
        status, body = get(urls[env]["backend"] + "/api/v1/version")
        assert status == 200 and json.loads(body)["version"] == version, (env, status, body)
        for service in ("consumer-web", "admin-web"):
            assert get(urls[env][service] + "/")[0] == 200
    # The migration ran once per database, recorded with the release that brought it.
    for name in databases.values():
        changelog = list(client[name]["migrations_changelog"].find({}))
        assert [(r["_id"], r["version"]) for r in changelog] == [("2025-01-15-add-user-preferences.py", "1.4.1")]
    # The dry run changed nothing: no 1.4.3 anywhere.
    assert "1.4.3" not in json.dumps(registry_tags(platform))
    assert "$ docker build" in out


def registry_tags(platform: Any) -> list[str]:
    return sorted(tag for image in platform.client.api.images() for tag in image.get("RepoTags") or ()
                  if platform.prefix in tag)
