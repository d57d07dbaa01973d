"""`status` and the dashboards' queries on the REAL example platform: its real backend (Java) on
the Docker engine, scraped by a real Prometheus.

- The overview's and the business dashboard's panels return data from the example backend
  (its request metrics, and the orders and payments counters the business panels read).
- `status --env development` says what serves (version, image, container, since when), the last
  deploy, the lock holder, health and the triggers; exit 0 healthy, 1 unhealthy, 5 could not
  find out (Prometheus gone).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from retail_deploy.monitoring import dashboards
from retail_deploy.monitoring.monitor import monitoring_settings
from tests.integration.docker.test_dev_target import (
    REPO,
    Platform,
    assert_ok,
    get,
    make_platform,
    remove_containers,
)

pytestmark = pytest.mark.integration

MONITORING = """
monitoring:
  prometheus_url: {url}
  poll_interval: 1s
  query_timeout: 5s
  rate_window: 5s
  subquery_step: 1s
  rollback_triggers:
    error_rate: {{for: 3s}}
    p95_latency: {{for: 3s}}
    health_check: {{for: 2s}}
"""


@pytest.fixture
def platform(tmp_path, docker_engine, registry, monkeypatch, example_build):
    made = make_platform(tmp_path, docker_engine, registry, monkeypatch, example_build)
    yield made
    remove_containers(made)


def status(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "retail_deploy", "status", "--env", "development", *args,
                           "--config", str(platform.config)], cwd=REPO, env=platform.env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def shop(platform: Platform, rounds: int) -> None:
    """Browse the catalogue and place orders, as users do."""
    backend = platform.urls["backend"]
    for _ in range(rounds):
        assert get(backend + "/api/v1/products")[0] == 200
        request = urllib.request.Request(backend + "/api/v1/orders", data=b'{"sku":"RA-1001"}', method="POST")
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 201


def get_status(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def document_once_settled(platform: Platform, timeout: float = 60) -> tuple[int, dict]:
    """`status --json` once every trigger has data for its window (exit 0), or the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        shop(platform, 3)
        done = status(platform, "--json")
        if done.returncode == 0 or time.monotonic() > deadline:
            return done.returncode, json.loads(done.stdout)
        time.sleep(1)


def test_status_and_the_dashboards_on_the_real_example_backend(platform, prometheus_factory) -> None:
    assert_ok(platform.deploy("1.0.0"))
    prometheus = prometheus_factory([platform.urls["backend"].removeprefix("http://")], scrape_interval="1s",
                                    job_name="retail-backend", metrics_path="/actuator/prometheus")
    prometheus.wait_for_targets_up()
    platform.config.write_text(platform.config.read_text() + MONITORING.format(url=prometheus.url))

    # -- status: healthy once the triggers' windows are covered ------------------------------
    code, document = document_once_settled(platform)
    assert code == 0, json.dumps(document, indent=1)
    env = document["environments"][0]
    assert (env["environment"], env["target"], env["verdict"], env["lock"]) == ("development", "docker",
                                                                                "healthy", None)
    backend = next(s for s in env["services"] if s["service"] == "backend")
    assert (backend["version"], backend["ready"], backend["desired"], backend["health"]) == ("1.0.0", 1, 1,
                                                                                            "healthy")
    assert backend["image"].endswith(f"{platform.prefix}retail-backend:1.0.0")
    assert backend["since"].endswith("Z")
    assert backend["last_deploy"]["version"] == "1.0.0" and backend["last_deploy"]["outcome"] == "succeeded"
    assert backend["last_deploy"]["who"]
    triggers = {t["name"]: t for t in env["triggers"]}
    assert set(triggers) == {"error_rate", "p95_latency", "health_check", "payment_failures"}
    assert not any(t["firing"] for t in triggers.values())
    assert triggers["payment_failures"]["value"] == 0  # the backend's payments_failed_total, read for real
    table = status(platform)
    assert table.returncode == 0, table.stderr
    assert "development (docker, local engine): HEALTHY" in table.stdout
    assert "healthy (checked " in table.stdout

    # -- the dashboards' panels read the example backend's real metrics ----------------------
    specs = dashboards.dashboard_specs(monitoring_settings(platform.load()))
    overview, _, business, _ = specs
    for panel in (*overview.panels, *business.panels):
        assert prometheus.query(panel.query), f"{panel.title}: no data for {panel.query}"
    completed = prometheus.query(next(p.query for p in business.panels if p.source == "query:orders_completed"))
    assert float(completed[0]["value"][1]) > 0

    # -- a held lock is shown with its holder ---------------------------------------------------
    from retail_deploy.targets import target_for
    from tests.integration.docker.test_dev_target import library_runner

    runner, _ = library_runner()
    cfg = platform.load()
    target = target_for(runner, cfg, cfg.environment("development"))
    with target.lock(version="1.0.1", action="deploy", ttl_s=120):
        locked = status(platform, "--json")
    held = json.loads(locked.stdout)["environments"][0]["lock"]
    assert held["version"] == "1.0.1" and held["holder"] and not held["expired"]

    # -- a version whose payments fail: the payment-failure trigger fires on the backend's counter --
    platform.set_backend_health("ERRORS")  # its health checks pass; its payments fail
    assert_ok(platform.deploy("1.0.1"))
    request = urllib.request.Request(platform.urls["backend"] + "/api/v1/orders", data=b"{}", method="POST")
    assert get_status(request) == 502
    deadline = time.monotonic() + 30
    while (failing := status(platform, "--json")).returncode != 1 and time.monotonic() < deadline:
        time.sleep(1)
    env = json.loads(failing.stdout)["environments"][0]
    assert "payment_failures" in env["firing"], json.dumps(env, indent=1)
    assert "rollback trigger firing: Payment failures (> 0)" in env["problems"]
    assert next(s for s in env["services"] if s["service"] == "backend")["version"] == "1.0.1"

    # -- Prometheus gone: the triggers cannot be read, so the state is unknown (exit 5) ------------
    prometheus.stop()
    unknown = status(platform)
    assert unknown.returncode == 5, unknown.stdout + unknown.stderr
    assert "could not find out: triggers:" in unknown.stdout

    # -- the backend stopped: unhealthy (exit 1) beats unknown -----------------------------------
    for container in platform.client.containers.list(all=True):  # type: ignore[attr-defined]
        if container.name.startswith(platform.prefix) and "backend" in container.name:
            container.stop(timeout=2)
    down = status(platform, "--json")
    assert down.returncode == 1, down.stdout + down.stderr
    env = json.loads(down.stdout)["environments"][0]
    assert "backend: not running" in env["problems"]
    assert "error: status: unhealthy: development: backend: not running" in down.stderr
