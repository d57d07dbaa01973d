"""The monitoring chapter on the real example backend: a version whose catalogue answers 500
(backend/HEALTH=ERRORS) passes its health checks and is deployed on the Docker target; a real
Prometheus scrapes the backend's /actuator/prometheus; the error-rate trigger fires; the Docker
target goes back to the previous version.

Needs the Docker engine and ports from the shared machine: run under
`flock /tmp/retail-deploy-docker.lock`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.integration.docker.test_dev_target import (
    REPO,
    Platform,
    assert_ok,
    get,
    make_platform,
    remove_containers,
)
from tests.monitoring_config import error_rate_only

pytestmark = pytest.mark.integration


@pytest.fixture
def platform(tmp_path, docker_engine, registry, monkeypatch, example_build):
    made = make_platform(tmp_path, docker_engine, registry, monkeypatch, example_build)
    yield made
    remove_containers(made)


@contextmanager
def shoppers(platform: Platform) -> Iterator[list[int | None]]:
    """Users browsing the catalogue (about 20 requests/s) for as long as the block runs."""
    answers: list[int | None] = []
    stop = threading.Event()

    def browse() -> None:
        while not stop.is_set():
            answers.append(get(platform.urls["backend"] + "/api/v1/products", timeout=1)[0])
            time.sleep(0.05)

    thread = threading.Thread(target=browse)
    thread.start()
    try:
        yield answers
    finally:
        stop.set()
        thread.join()


def failing_version_watched_by_prometheus(platform: Platform, prometheus_factory) -> None:
    """1.0.0 healthy, then 1.0.1 deployed with HEALTH=ERRORS, and Prometheus scraping the backend."""
    assert_ok(platform.deploy("1.0.0"))
    platform.set_backend_health("ERRORS")
    assert_ok(platform.deploy("1.0.1"))  # its health checks pass: only its users see the errors
    assert platform.version() == "1.0.1"
    prometheus = prometheus_factory([platform.urls["backend"].removeprefix("http://")], scrape_interval="1s",
                                    job_name="retail-backend", metrics_path="/actuator/prometheus")
    prometheus.wait_for_targets_up()
    platform.config.write_text(platform.config.read_text() + error_rate_only(prometheus.url))


def cli(platform: Platform, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "retail_deploy", *args, "--config", str(platform.config)],
                          cwd=REPO, env=platform.env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def test_error_rate_of_the_real_backend_fires_the_trigger_and_undo_restores_the_old_version(
        platform, prometheus_factory) -> None:
    failing_version_watched_by_prometheus(platform, prometheus_factory)
    with shoppers(platform) as answers:
        deadline = time.monotonic() + 60
        while True:  # the breach must hold for the trigger's 4 s before it fires (exit 5: no data yet)
            done = cli(platform, "monitor.check", "--env", "development")
            if done.returncode not in (0, 5) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Error rate" in done.stdout + done.stderr
        assert set(answers) == {500}
        assert_ok(cli(platform, "rollback.undo", "--env", "development"))
        assert platform.version() == "1.0.0"
        time.sleep(0.5)
        assert answers[-1] == 200  # the shoppers are served again


# Automatic rollback (`monitor.watch --rollback`) on a Docker environment is being made on another
# branch; until it is merged, the watch fires but cannot roll a Docker environment back.
def test_monitor_watch_rolls_the_docker_target_back_on_an_error_rate_breach(platform, prometheus_factory) -> None:
    from tests.integration.docker.test_zero_downtime import load

    failing_version_watched_by_prometheus(platform, prometheus_factory)
    with shoppers(platform) as answers, load(platform.urls["backend"] + "/api/v1/version") as seen:
        done = cli(platform, "monitor.watch", "--env", "development", "--duration", "60s", "--rollback")
        time.sleep(0.5)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Error rate" in done.stdout + done.stderr
    assert platform.version() == "1.0.0"
    assert answers[-1] == 200
    # The rollback went through the proxy: no request lost, from 1.0.1 to 1.0.0.
    assert seen.lost == [] and seen.answers[0][1] == "1.0.1" and seen.answers[-1][1] == "1.0.0"
