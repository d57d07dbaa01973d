"""health.* tasks and the runbook's shell scripts against real HTTP(S) servers on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.services import Route

from ..health_servers import platform_routes, refused_url, self_signed_service

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def server(http_service_factory):
    return http_service_factory(platform_routes(version="1.4.2"))


@pytest.fixture
def tls(tmp_path):
    srv = self_signed_service(tmp_path, platform_routes())
    yield srv, srv.ca_file
    srv.stop()


def run(program, *args, env=None, cwd=None):
    environ = {**os.environ, "PYTHONPATH": str(REPO), "PYTHON": sys.executable, **(env or {})}
    for name in ("RETAIL_DEPLOY_CONFIG", "BACKEND_URL", "CONSUMER_URL", "ADMIN_URL", "CA_BUNDLE"):
        if env is None or name not in env:
            environ.pop(name, None)
    command = [str(REPO / "scripts" / program)] if program.endswith(".sh") else \
        [sys.executable, "-m", "retail_deploy", program]
    return subprocess.run([*command, *args], env=environ, cwd=cwd or REPO, capture_output=True, text=True,
                          timeout=90, stdin=subprocess.DEVNULL)


def platform_config(tmp_path: Path, production: dict) -> Path:
    """The default platform config with production's URLs pointed at the loopback servers."""
    data = yaml.safe_load((REPO / "config" / "retail-platform.yaml").read_text())
    data["environments"]["production"].update(production)
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_health_check_script_all_healthy(server):
    result = run("health-check.sh", env={"BACKEND_URL": server.url, "CONSUMER_URL": server.url,
                                         "ADMIN_URL": server.url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Checking backend health...", "✅ Backend: HEALTHY",
        "Checking consumer-web health...", "✅ Consumer Web: HEALTHY",
        "Checking admin-web health...", "✅ Admin Web: HEALTHY",
        "", "All services healthy!",
    ]


def test_health_check_script_reports_every_unhealthy_service(server):
    down = refused_url()
    result = run("health-check.sh", env={"BACKEND_URL": down, "CONSUMER_URL": server.url, "ADMIN_URL": down,
                                         "HEALTH_RETRIES": "0", "HEALTH_TIMEOUT": "2"})
    assert result.returncode == 1
    out = result.stdout
    assert "❌ Backend: UNHEALTHY" in out and "❌ Admin Web: UNHEALTHY" in out
    assert "✅ Consumer Web: HEALTHY" in out
    assert f"{down}/api/v1/health: connection refused" in out
    assert "All services healthy!" not in out
    assert result.stderr.startswith("error: production: 3 of 4 endpoints unhealthy")


def test_health_check_script_trusts_a_private_ca_only_when_given(tls):
    srv, cert = tls
    urls = {"BACKEND_URL": srv.url, "CONSUMER_URL": srv.url, "ADMIN_URL": srv.url, "HEALTH_RETRIES": "0"}
    refused = run("health-check.sh", env=urls)
    assert refused.returncode == 1
    assert "TLS verification failed" in refused.stdout
    trusted = run("health-check.sh", env={**urls, "CA_BUNDLE": str(cert)})
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert "All services healthy!" in trusted.stdout


def test_health_check_json_lists_each_endpoint(server, tmp_path):
    config = platform_config(tmp_path, {"urls": {"backend": server.url, "consumer-web": server.url,
                                                 "admin-web": refused_url()}})
    result = run("health.check", "--env", "production", "--json", "--retries", "0",
                 env={"RETAIL_DEPLOY_CONFIG": str(config)})
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert [(r["name"], r["ok"], r["status"]) for r in document["results"]] == [
        ("backend /api/v1/health", True, 200), ("backend /actuator/health", True, 200),
        ("consumer-web /", True, 200), ("admin-web /", False, None)]
    assert document["results"][3]["error"] == "connection refused"


def test_health_check_dry_run_prints_curl_and_sends_nothing(server, tmp_path):
    config = platform_config(tmp_path, {"urls": {"backend": server.url}})
    environ = {**os.environ, "PYTHONPATH": str(REPO), "RETAIL_DEPLOY_CONFIG": str(config)}
    result = subprocess.run([sys.executable, "-m", "retail_deploy", "--dry", "health.check", "--env", "production"],
                            env=environ, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"$ curl -fsS --max-time 5 {server.url}/api/v1/health",
        f"$ curl -fsS --max-time 5 {server.url}/actuator/health",
    ]
    assert server.requests == []


def test_unknown_service_in_url_override_is_bad_input():
    result = run("health.check", "--env", "production", "--url", "payments=http://127.0.0.1:1")
    assert result.returncode == 2
    assert "payments" in result.stderr


def test_smoke_script_on_green_checks_the_green_deployment(tmp_path, http_service_factory):
    blue = http_service_factory(platform_routes(version="1.4.1"))
    green = http_service_factory(platform_routes(version="1.4.2"))
    config = platform_config(tmp_path, {
        "urls": {"backend": blue.url, "consumer-web": blue.url, "admin-web": blue.url},
        "blue_green": {"service": "backend", "service_name": "retail-backend", "selector_key": "deployment",
                       "deployments": {"blue": "retail-backend-blue", "green": "retail-backend-green"},
                       "colour_urls": {"blue": blue.url, "green": green.url}}})
    env = {"RETAIL_DEPLOY_CONFIG": str(config), "VERSION": "1.4.2"}
    passed = run("smoke-tests.sh", "green", env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.splitlines()[-1] == "smoke tests on green: 3 passed, 0 failed, 2 skipped"
    assert len(green.requests_to("/api/v1/version")) == 1 and blue.requests == []
    failed = run("smoke-tests.sh", "blue", env=env)
    assert failed.returncode == 1
    assert "backend /api/v1/version: answer does not contain '1.4.2'" in failed.stderr


def test_smoke_script_usage_and_unknown_target():
    assert run("smoke-tests.sh").returncode == 2
    unknown = run("smoke-tests.sh", "purple")
    assert unknown.returncode == 2
    assert "purple" in unknown.stderr


def test_deps_direct_names_the_dependency_that_is_down(tmp_path, http_service_factory):
    backend = http_service_factory(platform_routes())
    config = platform_config(tmp_path, {"urls": {"backend": backend.url}})
    env = {"RETAIL_DEPLOY_CONFIG": str(config)}
    ok = run("health.deps", "--env", "production", "--via", "direct", env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1] == "All 3 dependencies healthy (backend via direct)."
    backend.set_route("/actuator/health/redis", Route(503, {"status": "DOWN"}))
    down = run("health.deps", "--env", "production", "--via", "direct", env=env)
    assert down.returncode == 1
    assert "FAIL redis" in down.stdout
    assert "1 of 3 dependencies unhealthy: redis: HTTP 503 (expected 200)" in down.stderr
