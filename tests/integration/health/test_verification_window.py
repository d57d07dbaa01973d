"""The verification period without Prometheus (health checks) against a real HTTP service on
loopback whose health answer flips: a blip shorter than the `health_check` trigger's window is
survived, a failure lasting the window rolls back within about one check interval after it, and a
release still failing when the period ends is not accepted. The window is shortened in the config
(`monitoring.rollback_triggers.health_check.for`), as a team would for a short test period."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from invoke import Config, Context

from retail_deploy.config import PlatformConfig, load_config
from retail_deploy.errors import OperationFailed
from retail_deploy.execute import Runner
from retail_deploy.health import verification
from retail_deploy.health.window import check_interval
from tests.services import HttpService, Route

from ..health_servers import UP

pytestmark = pytest.mark.integration

WINDOW_S = 2.0
DOWN = Route(503, {"status": "DOWN"})


class FlippingHealth:
    """`/api/v1/health` answers UP, or DOWN (503) while `down`; remembers when it first said DOWN."""

    def __init__(self) -> None:
        self.down = False
        self.first_down: float | None = None

    def __call__(self, request: object) -> Route:
        if not self.down:
            return Route(200, UP)
        if self.first_down is None:
            self.first_down = time.monotonic()
        return DOWN

    def at(self, delay: float, down: bool) -> threading.Timer:
        timer = threading.Timer(delay, lambda: setattr(self, "down", down))
        timer.daemon = True
        timer.start()
        return timer


@pytest.fixture
def health(http_service_factory: Callable[..., HttpService]) -> Iterator[tuple[FlippingHealth, HttpService]]:
    flipping = FlippingHealth()
    yield flipping, http_service_factory({"/api/v1/health": flipping})


def platform(tmp_path: Path, url: str, window: str = f"{WINDOW_S:g}s") -> PlatformConfig:
    path = tmp_path / "platform.yaml"
    path.write_text(f"""\
version: 1
services:
  backend:
    image: retail-backend
    health:
      - {{path: /api/v1/health, expect_json: {{status: UP}}}}
environments:
  development:
    urls: {{backend: "{url}"}}
monitoring:
  rollback_triggers:
    health_check: {{for: {window}}}
""")
    return load_config(path, environ={})


def verify(cfg: PlatformConfig, seconds: float) -> tuple[str, float, OperationFailed | None]:
    """Run the period; (its output, when it ended (monotonic), the breach raised or None)."""
    out = io.StringIO()
    runner = Runner(Context(Config()), out=out)
    try:
        verification.verification_period(runner, cfg, cfg.environment("development"), seconds, None)
    except OperationFailed as exc:
        return out.getvalue(), time.monotonic(), exc
    return out.getvalue(), time.monotonic(), None


def test_a_blip_shorter_than_the_window_does_not_fail_the_period(tmp_path, health) -> None:
    flipping, service = health
    flipping.at(1.0, down=True)
    flipping.at(2.2, down=False)  # 1.2 s DOWN: longer than a check interval, shorter than the window
    started = time.monotonic()
    out, ended, breach = verify(platform(tmp_path, service.url), 6)
    assert breach is None, out
    assert ended - started >= 6  # the whole period was watched
    lines = out.splitlines()
    assert lines[:2] == ["no Prometheus for development: health checks for 6s",
                         "rollback when an endpoint fails every health check for 2s "
                         "(rollback_triggers.health_check) or still fails when the period ends"]
    # The blip was seen, said once, and its recovery too.
    failing = [line for line in lines if "failing since" in line]
    assert len(failing) == 1 and failing[0].startswith("backend /api/v1/health failing since "), out
    assert "; rollback if it still fails at " in failing[0]
    assert len([line for line in lines if line.startswith("backend /api/v1/health recovered at ")]) == 1, out


def test_a_failure_lasting_the_window_fails_the_period_within_a_check_interval_after_it(tmp_path, health) -> None:
    flipping, service = health
    flipping.at(1.0, down=True)
    out, ended, breach = verify(platform(tmp_path, service.url), 20)
    assert breach is not None, out
    assert flipping.first_down is not None
    failed_for = ended - flipping.first_down  # from the first check that saw it failing
    # Not before the window; within one check interval after it (a failing check itself takes
    # its retry, 0.5 s), and long before the 20 s period ends.
    assert WINDOW_S <= failed_for <= WINDOW_S + check_interval(20, WINDOW_S) + 1.0, (failed_for, out)
    error = str(breach)
    assert error.startswith(f"health check failed: backend /api/v1/health ({service.url}/api/v1/health) "
                            "failed every check for "), error
    assert "(window 2s): HTTP 503 (expected 200)" in error
    assert len([line for line in out.splitlines() if "failing since" in line]) == 1, out


def test_still_failing_when_the_period_ends_fails_it_even_before_the_window(tmp_path, health) -> None:
    flipping, service = health
    flipping.at(1.0, down=True)
    started = time.monotonic()
    out, ended, breach = verify(platform(tmp_path, service.url, window="1m"), 3)
    assert breach is not None, out
    assert 3 <= ended - started < 5
    assert "still failing when the verification period ended, after " in str(breach)
    assert "(window 1m): HTTP 503 (expected 200)" in str(breach)
