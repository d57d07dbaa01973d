"""The Docker target's verification period (`docker.verification_period`) on the REAL Docker
engine, registry and Prometheus, with the real example backend: a version whose catalogue answers
500 (backend/HEALTH=ERRORS) passes every health check and is switched in; Prometheus, scraping the
backend's stable port, sees the error rate; the deploy itself puts the previous release back
within the period and exits 3.

Needs the Docker engine and ports from the shared machine: run under
`flock /tmp/retail-deploy-docker.lock`.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import yaml

from tests.integration.docker.test_dev_target import (
    SERVICES,
    Platform,
    assert_ok,
    library_runner,
)
from tests.integration.docker.test_zero_downtime import load
from tests.integration.test_example_monitoring_e2e import shoppers
from tests.monitoring_config import error_rate_only

pytestmark = pytest.mark.integration

PERIOD_S = 40


def test_an_error_rate_breach_during_the_verification_period_rolls_the_deploy_back(platform,
                                                                                  prometheus_factory) -> None:
    assert_ok(platform.deploy("1.0.0"))
    prometheus = prometheus_factory([platform.urls["backend"].removeprefix("http://")], scrape_interval="500ms",
                                    job_name="retail-backend", metrics_path="/actuator/prometheus")
    prometheus.wait_for_targets_up()
    data = yaml.safe_load(platform.config.read_text())
    data["environments"]["development"]["docker"]["verification_period"] = f"{PERIOD_S}s"
    platform.config.write_text(yaml.safe_dump(data, sort_keys=False) + error_rate_only(prometheus.url))
    platform.set_backend_health("ERRORS")  # passes its health checks; only its users see the errors

    with shoppers(platform) as answers, load(platform.urls["backend"] + "/api/v1/version") as seen:
        done = platform.deploy("1.0.1")
        time.sleep(0.5)
    out = done.stdout + done.stderr
    # The switch to 1.0.1 and the automatic rollback went through the proxy: no request lost.
    assert seen.lost == [] and seen.versions() == {"1.0.0", "1.0.1"} and seen.answers[-1][1] == "1.0.0"
    assert done.returncode == 3, out[-4000:]
    # The release was switched (every health check passed), then watched by the rollback triggers.
    assert f"watching 1 rollback triggers of development for {PERIOD_S}s" in done.stdout
    fired = re.search(r"poll (\d+): rollback trigger FIRED: Error rate", done.stdout)
    assert fired and int(fired.group(1)) < PERIOD_S, done.stdout[-3000:]  # polls every 1 s: within the period
    # One line on stderr: the trigger, what was put back, where it is recorded.
    error = done.stderr.strip()
    assert len(error.splitlines()) == 1, error
    assert "1.0.1 failed during its verification period on development" in error
    assert "Error rate" in error
    assert "put back backend 1.0.0, consumer-web 1.0.0, admin-web 1.0.0" in error
    assert "the audit record says so (inv rollback.history --env development)" in error
    # The previous version serves again, over HTTP, and the shoppers are served again.
    assert platform.wait_version() == "1.0.0"
    assert 500 in answers and answers[-1] == 200
    from retail_deploy.docker import target as docker_target

    cfg = platform.load()
    env = cfg.environment("development")
    runner, _ = library_runner()
    states = docker_target.state_of(runner, cfg, env)
    assert {name: (s["current"], s["running"]) for name, s in states.items()} == {
        name: ("1.0.0", True) for name in SERVICES}
    # The audit record: a deploy of 1.0.1 that rolled itself back, naming the trigger; the
    # release before and after is the old one; the lock, held through the period, is released.
    last = docker_target.read_history(runner, env)[-1]
    assert (last["action"], last["result"], last["version"]) == ("deploy", "rolled-back", "1.0.1")
    assert "Error rate" in last["reason"] and "verification period" in last["reason"]
    assert {name: (c["before"], c["after"]) for name, c in last["release"].items()} == {
        name: ("1.0.0", "1.0.0") for name in SERVICES}
    assert not [c for c in platform.containers() if "retail-deploy-lock" in c]
    shown = platform.inv("rollback.history", "--env", "development")
    assert_ok(shown)
    assert "rolled-back" in shown.stdout


@contextmanager
def deploying_into_its_period(platform: Platform, version: str, period: str,
                              health_window: str = "3m") -> Iterator[subprocess.Popen[str]]:
    """`deploy.development --version V` with `docker.verification_period: period` and no
    Prometheus (health checks, rolling back once an endpoint fails for `health_window`: the
    `health_check` trigger's `for`), running until the new release serves and is being watched."""
    data = yaml.safe_load(platform.config.read_text())
    data["environments"]["development"]["docker"]["verification_period"] = period
    data.setdefault("monitoring", {}).setdefault("rollback_triggers", {})["health_check"] = {"for": health_window}
    platform.config.write_text(yaml.safe_dump(data, sort_keys=False))
    argv = [sys.executable, "-m", "invoke", "--search-root", str(platform.tasks_dir), "deploy.development",
            "--version", version, "--config", str(platform.config)]
    deploy = subprocess.Popen(argv, env=platform.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        assert deploy.stdout is not None
        for line in deploy.stdout:
            seen.append(line)
            if "no Prometheus for development: health checks for" in line:
                break
        assert platform.version() == version, "".join(seen)[-3000:]
        yield deploy
    finally:
        if deploy.poll() is None:
            deploy.kill()
            deploy.wait()


def test_sigterm_during_the_verification_period_puts_the_previous_release_back_and_exits_130(platform) -> None:
    assert_ok(platform.deploy("1.0.0"))
    with deploying_into_its_period(platform, "1.0.1", "5m") as deploy:
        time.sleep(1)
        deploy.send_signal(signal.SIGTERM)
        rest, stderr = deploy.communicate(timeout=120)
    assert deploy.returncode == 130, rest[-3000:] + stderr
    error = stderr.strip()
    assert len(error.splitlines()) == 1, error
    assert "interrupted by SIGTERM during the verification period of 1.0.1 on development" in error
    assert "put back backend 1.0.0, consumer-web 1.0.0, admin-web 1.0.0" in error
    assert platform.wait_version() == "1.0.0"
    from retail_deploy.docker import target as docker_target

    cfg = platform.load()
    env = cfg.environment("development")
    runner, _ = library_runner()
    last = docker_target.read_history(runner, env)[-1]
    assert (last["action"], last["result"], last["version"]) == ("deploy", "interrupted", "1.0.1")
    assert {name: c["after"] for name, c in last["release"].items()} == {name: "1.0.0" for name in SERVICES}
    assert not [c for c in platform.containers() if "retail-deploy-lock" in c]


def test_a_service_that_stops_answering_during_the_period_rolls_the_deploy_back(platform) -> None:
    assert_ok(platform.deploy("1.0.0"))
    started = time.monotonic()
    # A window well inside the period: the rollback comes when the backend has failed that long,
    # not at the period's end (a stopped container is not a blip).
    with deploying_into_its_period(platform, "1.0.1", "60s", health_window="5s") as deploy:
        # 1.0.1 passed every check and serves; then its backend goes away (a crash, an OOM kill).
        platform.client.containers.get(f"{platform.prefix}retail-backend-development").stop(timeout=1)  # type: ignore[attr-defined]
        rest, stderr = deploy.communicate(timeout=120)
    assert deploy.returncode == 3, rest[-3000:] + stderr
    assert time.monotonic() - started < 60  # within the period, not at its end
    error = stderr.strip()
    assert "1.0.1 failed during its verification period on development (health check failed:" in error
    assert platform.urls["backend"] in error
    assert "failed every check for " in error and "(window 5s)" in error
    assert "backend /api/v1/health failing since " in rest  # said when it started failing
    assert "put back backend 1.0.0, consumer-web 1.0.0, admin-web 1.0.0" in error
    assert platform.wait_version() == "1.0.0"
    from retail_deploy.docker import target as docker_target

    cfg = platform.load()
    runner, _ = library_runner()
    last = docker_target.read_history(runner, cfg.environment("development"))[-1]
    assert (last["action"], last["result"], last["version"]) == ("deploy", "rolled-back", "1.0.1")
