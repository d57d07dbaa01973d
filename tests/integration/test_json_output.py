"""`--json` on every task whose result another script wants: the documented shapes (docs/json.md),
one document on stdout with progress on stderr, the same exit codes, and no secret in any form.

Kubernetes tasks run against the kubectl/helm doubles (tests/doubles), Docker-target tasks against
the real Docker engine and registry, db.status against mongomock through the real CLI. Each run's
stdout and stderr go through `assert_no_secrets`; `test_the_sweep_covers_every_json_task` makes
sure no task with a `--json` option escapes the sweep (monitor.check is swept in
tests/integration/monitoring/test_monitoring_prometheus.py, beside its real Prometheus).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from retail_deploy.targets import history
from tests.integration.docker.test_dev_target import make_platform, remove_containers
from tests.integration.kube_support import REPO, Platform

pytestmark = pytest.mark.integration

# A value of the config's secret variables (registry password_env), planted where output could show it.
SECRET = 'Sw33p"pass\\wörd-42'
SECRET_FORMS = (SECRET, json.dumps(SECRET)[1:-1], json.dumps(SECRET, ensure_ascii=False)[1:-1],
                urllib.parse.quote(SECRET), urllib.parse.quote_plus(SECRET))

# Every task run with --json below (run_json refuses others, so this list cannot claim too much).
SWEPT = {"deploy.staging", "verify.staging", "lock.status", "rollback.history", "health.check", "health.smoke",
         "health.deps", "build.all", "build.push", "deploy.development", "verify.development", "db.status",
         "config.show", "status"}
SWEPT_ELSEWHERE = {"monitor.check": "tests/integration/monitoring/test_monitoring_prometheus.py"}
# Same task body and result as one swept above: build.<service> is build.all for one service;
# verify.production and deploy.production run verify.staging's and deploy.staging's code.
SAME_PATH = {"build.service": "build.all", "build.backend": "build.all", "build.consumer-web": "build.all", "build.admin-web": "build.all",
             "verify.production": "verify.staging", "deploy.production": "deploy.staging"}


def assert_no_secrets(done: subprocess.CompletedProcess[str], *secrets: str) -> None:
    forms = list(SECRET_FORMS)
    for secret in secrets:
        forms += [secret, json.dumps(secret)[1:-1], urllib.parse.quote(secret)]
    for form in forms:
        assert form not in done.stdout and form not in done.stderr, f"secret shown as {form!r}"


def run_json(argv: list[str], environ: dict[str, str], *, code: int = 0,
             secrets: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:
    """Run a task with --json: the exit code, one JSON document on stdout, no secret; (document, stderr)."""
    task = next(arg for arg in argv if arg in SWEPT | set(SAME_PATH) | set(SWEPT_ELSEWHERE))
    assert task in SWEPT, f"{task} is not in SWEPT"
    done = subprocess.run(argv, env=environ, cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == code, f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert_no_secrets(done, *secrets)
    return json.loads(done.stdout), done.stderr


# --------------------------------------------------------------------------- Kubernetes (doubles)


def kube_inv(p: Platform, *args: str, code: int = 0, dry: bool = False) -> tuple[dict[str, Any], str]:
    environ = dict(p.env, RETAIL_DEPLOY_CONFIG=str(p.config), PYTHONPATH=str(REPO), REGISTRY_PASSWORD=SECRET)
    argv = [sys.executable, "-m", "invoke", "-r", str(REPO), *(["--dry"] if dry else []), *args, "--json"]
    return run_json(argv, environ, code=code)


def test_kubernetes_deploy_verify_lock_and_history_as_json(platform: Platform) -> None:
    planned, plan = kube_inv(platform, "deploy.staging", "--version", "1.1.0", dry=True)
    assert planned["dry_run"] is True and planned["environment"] == "staging"
    assert [s["outcome"] for s in planned["services"]] == ["planned"] * 3
    assert "$ kubectl" in plan  # the plan is progress: on stderr

    deployed, progress = kube_inv(platform, "deploy.staging", "--version", "1.1.0")
    assert deployed["ok"] is True and deployed["target"] == "kubernetes" and deployed["version"] == "1.1.0"
    assert {s["service"]: (s["version"], s["outcome"], s["previous"]) for s in deployed["services"]} == {
        "backend": ("1.1.0", "deployed", "1.0.0"), "consumer-web": ("1.1.0", "deployed", "1.0.0"),
        "admin-web": ("1.1.0", "deployed", "1.0.0")}
    assert "Verification of staging" in progress

    verified, _ = kube_inv(platform, "verify.staging", "--version", "1.1.0")
    assert verified["ok"] is True and verified["version"] == "1.1.0"
    assert {c["check"] for c in verified["checks"]} >= {"pods", "rollout", "health", "version"}
    assert all(c["ok"] for c in verified["checks"])
    wrong, _ = kube_inv(platform, "verify.staging", "--version", "9.9.9", code=1)
    assert wrong["ok"] is False and any(c["check"] == "image" and not c["ok"] for c in wrong["checks"])

    free, _ = kube_inv(platform, "lock.status", "--env", "production")
    assert free == {"environment": "production", "locked": False, "expired": False, "holder": None,
                    "version": None, "strategy": None, "acquired": None, "expires": None}
    platform.cluster.add_configmap("production", history.LOCK_NAME, {
        "holder": f"carol@laptop {SECRET}", "id": "z", "version": "1.0.9", "strategy": "blue-green",
        "acquired": "2026-01-01T00:00:00Z", "expires": "2099-01-01T00:00:00Z"})
    held, _ = kube_inv(platform, "lock.status", "--env", "production")
    assert held["locked"] is True and held["expired"] is False and held["version"] == "1.0.9"
    assert held["holder"] == "carol@laptop ***" and held["expires"] == "2099-01-01T00:00:00Z"
    overview, _ = kube_inv(platform, "status", "--env", "production")
    assert overview["ok"] is True and overview["exit_code"] == 0
    (production,) = overview["environments"]
    assert production["lock"]["holder"] == "carol@laptop ***" and production["lock"]["version"] == "1.0.9"
    assert {s["service"] for s in production["services"]} == {"backend", "consumer-web", "admin-web"}

    health, _ = kube_inv(platform, "health.check", "--env", "staging")
    assert health["environment"] == "staging" and health["ok"] is True
    assert {r["service"] for r in health["results"]} == {"backend", "consumer-web", "admin-web"}
    smoke, _ = kube_inv(platform, "health.smoke", "--env", "staging", "--version", "1.1.0")
    assert smoke["target"] == "staging" and smoke["ok"] is True and smoke["results"]

    record, _ = kube_inv(platform, "rollback.history", "--env", "staging")
    assert record["environment"] == "staging"
    (entry,) = [e for e in record["entries"] if e["action"] == "deploy"]
    assert entry["version"] == "1.1.0" and entry["result"] == "succeeded" and entry["strategy"] == "rolling"
    assert entry["services"] == ["backend", "consumer-web", "admin-web"]
    assert entry["previous"]["backend"] == "1.0.0"
    assert entry["release"]["backend"] == {"before": "1.0.0", "after": "1.1.0", "colour_before": "",
                                           "colour_after": ""}


# --------------------------------------------------------------------------- Docker target (real engine)


@pytest.fixture
def dev_platform(tmp_path, docker_engine, registry, monkeypatch, example_build):
    made = make_platform(tmp_path, docker_engine, registry, monkeypatch, example_build)
    yield made
    remove_containers(made)


def test_docker_build_push_deploy_and_verify_as_json(dev_platform, registry) -> None:
    def inv(*args: str, code: int = 0) -> tuple[dict[str, Any], str]:
        argv = [sys.executable, "-m", "invoke", "--search-root", str(REPO), *args, "--config",
                str(dev_platform.config), "--json"]
        return run_json(argv, dev_platform.env, code=code, secrets=(registry.password,))

    built, progress = inv("build.all", "--version", "2.0.0")
    assert built["ok"] is True and built["pushed"] is False and built["dry_run"] is False
    assert [(i["service"], i["result"], i["digest"]) for i in built["images"]] == [
        ("backend", "built", None), ("consumer-web", "built", None), ("admin-web", "built", None)]
    assert progress  # build output went to stderr

    pushed, _ = inv("build.push", "--version", "2.0.0")
    assert pushed["pushed"] is True
    for image in pushed["images"]:
        assert image["image"] == f"{registry.address}/{dev_platform.prefix}retail-{image['service']}:2.0.0"
        assert image["result"] == "pushed" and image["digest"].startswith("sha256:")
    assert {i["service"]: i["digest"] for i in pushed["images"]} == registry_digests(registry, pushed)

    deployed, _ = inv("deploy.development", "--version", "2.0.0", "--no-build")
    assert deployed["ok"] is True and deployed["target"] == "docker"
    assert {(s["service"], s["version"], s["outcome"]) for s in deployed["services"]} == {
        ("backend", "2.0.0", "deployed"), ("consumer-web", "2.0.0", "deployed"), ("admin-web", "2.0.0", "deployed")}
    assert deployed["services"][0]["url"] == dev_platform.urls["backend"]

    deps, _ = inv("health.deps", "--env", "development", "--via", "direct")
    assert [(d["name"], d["ok"]) for d in deps] == [("mongo", True), ("redis", True), ("elasticsearch", True)]

    verified, _ = inv("verify.development", "--version", "2.0.0")
    assert verified["ok"] is True and verified["version"] == "2.0.0"
    assert [s["outcome"] for s in verified["services"]] == ["healthy"] * 3
    wrong, _ = inv("verify.development", "--version", "9.9.9", code=1)
    assert wrong["ok"] is False and {s["outcome"] for s in wrong["services"]} == {"wrong-version"}


def registry_digests(registry: Any, pushed: dict[str, Any]) -> dict[str, str]:
    """What the registry itself answers for each pushed reference (HEAD of the manifest)."""
    import requests

    digests = {}
    for image in pushed["images"]:
        repo, tag = image["image"].split("/", 1)[1].rsplit(":", 1)
        answer = requests.head(f"{registry.url}/v2/{repo}/manifests/{tag}", auth=(registry.username, registry.password),
                               headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                                                  "application/vnd.oci.image.manifest.v1+json"}, timeout=10)
        digests[image["service"]] = answer.headers["Docker-Content-Digest"]
    return digests


# --------------------------------------------------------------------------- db.status, config.show

DB_CONFIG = """\
version: 1
registry: {{host: registry.example.com, username_env: REGISTRY_USERNAME, password_env: REGISTRY_PASSWORD}}
services:
  backend: {{image: retail-backend}}
environments:
  development: {{target: docker}}
migrations:
  directory: {directory}
  backup_dir: backups
  backup_method: export
  server_timeout: 1s
"""


def test_db_status_and_config_show_as_json(tmp_path: Path) -> None:
    config = tmp_path / "platform.yaml"
    config.write_text(DB_CONFIG.format(directory=REPO / "examples" / "retail-platform" / "migrations"))
    environ = {**os.environ, "PYTHONPATH": str(REPO), "RETAIL_DEPLOY_CONFIG": str(config),
               "MONGODB_URI": f"mongodb://app:{urllib.parse.quote(SECRET)}@db.internal/retail",
               "REGISTRY_PASSWORD": SECRET, "MONGOMOCK_STATE": str(tmp_path / "state.json")}
    cli = [sys.executable, str(REPO / "tests" / "migrations_mongomock_cli.py")]

    pending, _ = run_json([*cli, "db.status", "--env", "development", "--json"], environ)
    assert pending == {"environment": "development", "database": "development (mongodb://app:***@db.internal/retail)",
                       "applied": [], "pending": ["2025-01-15-add-user-preferences.py"]}
    migrated = subprocess.run([*cli, "db.migrate", "--env", "development", "--version", "1.4.2"], env=environ,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert migrated.returncode == 0, migrated.stderr
    applied, _ = run_json([*cli, "db.status", "--env", "development", "--json"], environ)
    (migration,) = applied["applied"]
    assert migration["name"] == "2025-01-15-add-user-preferences.py" and migration["state"] == "applied"
    assert migration["batch"] == 1 and migration["version"] == "1.4.2" and migration["reversible"] is True
    assert migration["applied_at"].endswith("Z") and applied["pending"] == []

    shown, _ = run_json([*cli, "config.show", "--env", "development", "--json"], environ)
    assert shown["registry"]["password"] == "(set)" and list(shown["environments"]) == ["development"]


# --------------------------------------------------------------------------- the sweep itself


def json_tasks() -> set[str]:
    from retail_deploy.tasks import ns

    found = set()
    for name in ns.task_names:
        task = ns[name]
        code = task.body.__wrapped__.__code__ if hasattr(task.body, "__wrapped__") else task.body.__code__
        if "json" in code.co_varnames[:code.co_argcount]:
            found.add(name)
    return found


def test_the_sweep_covers_every_json_task() -> None:
    """A task that gains --json must be swept for secrets above (or named as sharing a swept path)."""
    found = json_tasks()
    assert {"build.all", "build.push", "deploy.staging", "deploy.production", "deploy.development",
            "verify.staging", "lock.status", "rollback.history", "db.status", "monitor.check",
            "config.show", "health.check"} <= found
    missing = found - SWEPT - set(SWEPT_ELSEWHERE) - set(SAME_PATH)
    assert not missing, f"--json tasks never swept for secrets: {sorted(missing)}"
    assert set(SAME_PATH.values()) <= SWEPT
