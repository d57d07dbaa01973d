"""Zero requests lost on the Docker target, on the REAL engine, through the REAL proxy: a load loop
asks a service's stable URL every 20 ms (bounded in time) while the platform is deployed, fails a
deploy, rolls back and is interrupted; every answer must be a 200 from the expected version.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from tests.integration.docker.test_dev_target import SERVICES, Platform, assert_ok, get, library_runner
from tests.integration.docker.test_dev_target_interrupt import interrupt_when

pytestmark = pytest.mark.integration

LOAD_LIMIT_S = 300.0  # the loop stops by itself after this, whatever happens to the test


@dataclass
class Load:
    """What the loop saw: one (status, version) per request; status None = no answer at all."""

    answers: list[tuple[int | None, str | None]] = field(default_factory=list)

    @property
    def lost(self) -> list[tuple[int | None, str | None]]:
        return [a for a in self.answers if a[0] != 200]

    def versions(self) -> set[str | None]:
        return {version for _, version in self.answers}


@contextmanager
def load(url: str, period_s: float = 0.02) -> Iterator[Load]:
    """GET `url` every `period_s` in a thread for the block (at most LOAD_LIMIT_S)."""
    seen = Load()
    stop = threading.Event()
    deadline = time.monotonic() + LOAD_LIMIT_S

    def loop() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            status, body = get(url, timeout=5)
            version = None
            if status == 200:
                try:
                    version = json.loads(body).get("version")
                except ValueError:
                    version = None
            seen.answers.append((status, version))
            stop.wait(period_s)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        time.sleep(0.2)  # a few answers before the action
        yield seen
    finally:
        time.sleep(0.2)
        stop.set()
        thread.join(timeout=10)


def running_per_service(platform: Platform) -> dict[str, list[str]]:
    """{service: names of its running containers}."""
    found: dict[str, list[str]] = {name: [] for name in SERVICES}
    for container in platform.client.containers.list(ignore_removed=True):  # type: ignore[attr-defined]
        service = (container.labels or {}).get("org.retail-deploy.service")
        if container.name.startswith(platform.prefix) and service in found:
            found[service].append(container.name)
    return found


def test_deploys_and_a_rollback_lose_no_request_and_one_container_serves_after(platform) -> None:
    version_url = platform.urls["backend"] + "/api/v1/version"
    assert_ok(platform.deploy("1.0.0"))
    with load(version_url) as seen:
        assert_ok(platform.deploy("1.0.1"))
        assert_ok(platform.deploy("1.0.2"))
        done = platform.inv("rollback.undo", "--env", "development")
        assert_ok(done)
    assert len(seen.answers) > 50 and seen.lost == []
    assert seen.versions() == {"1.0.0", "1.0.1", "1.0.2"} and seen.answers[-1][1] == "1.0.1"
    # After the rollback one container runs per service: the restored one (the other is kept, stopped).
    assert running_per_service(platform) == {name: [f"{platform.prefix}retail-{name}-development"]
                                             for name in SERVICES}
    from retail_deploy.docker import target as docker_target

    cfg = platform.load()
    runner, _ = library_runner()
    states = docker_target.state_of(runner, cfg, cfg.environment("development"))
    assert {name: (s["current"], s["previous"], s["serving"]) for name, s in states.items()} == {
        name: ("1.0.1", "1.0.2", f"{platform.prefix}retail-{name}-development") for name in SERVICES}
    # The serving report of the seam names the container too.
    from retail_deploy.targets.docker import DockerTarget

    serving = DockerTarget(runner, cfg, cfg.environment("development")).serving()
    assert serving["backend"].version == "1.0.1"
    assert serving["backend"].container == f"{platform.prefix}retail-backend-development"


def test_a_failing_version_exits_3_and_traffic_never_leaves_the_old_container(platform) -> None:
    assert_ok(platform.deploy("1.0.0"))
    platform.set_backend_health("DOWN")
    with load(platform.urls["backend"] + "/api/v1/version") as seen:
        done = platform.deploy("1.0.1")
    assert done.returncode == 3, done.stderr
    assert len(seen.answers) > 20 and seen.lost == []
    assert seen.versions() == {"1.0.0"}


def test_sigterm_in_the_middle_of_a_switch_loses_no_request(platform) -> None:
    assert_ok(platform.deploy("1.0.0"))
    with load(platform.urls["backend"] + "/api/v1/version") as seen:
        # The first `docker stop` is the backend's: its traffic has just moved to 1.0.1.
        code, out, err = interrupt_when(platform, "1.0.1", "$ docker stop", signal.SIGTERM)
        assert code == 130, out[-3000:] + err
        assert platform.wait_version() == "1.0.0"
    assert "put back backend" in err
    assert len(seen.answers) > 20 and seen.lost == []
    assert seen.answers[-1][1] == "1.0.0"
    assert running_per_service(platform) == {name: [f"{platform.prefix}retail-{name}-development"]
                                             for name in SERVICES}


def test_the_proxy_recovers_its_servers_from_the_engine_after_it_restarts(platform) -> None:
    assert_ok(platform.deploy("1.0.0"))
    proxy = platform.client.containers.get(f"{platform.prefix}retail-deploy-proxy-development")  # type: ignore[attr-defined]
    proxy.restart(timeout=1)  # its config file kept the servers it had
    deadline = time.monotonic() + 15
    while platform.version() != "1.0.0" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert platform.version() == "1.0.0"
    # Removed altogether: the next deploy starts it again with the serving containers, then switches.
    proxy.remove(force=True)
    with load(platform.urls["backend"] + "/api/v1/version") as seen:
        assert_ok(platform.deploy("1.0.1"))
    assert platform.version() == "1.0.1"
    assert seen.answers[-1] == (200, "1.0.1")
