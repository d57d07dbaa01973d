"""The health-check fallback's rule (`health.window`): an endpoint breaches only after failing on
every check for the `health_check` trigger's window, or when it still fails at the period's end."""

from __future__ import annotations

from retail_deploy.health.window import (
    Breach,
    Change,
    FailureClock,
    Observation,
    check_interval,
    first_breach,
)

API = "backend /api/v1/health"
WEB = "consumer-web /"


def checks(*states: tuple[float, bool], endpoint: str = API) -> list[Observation]:
    return [Observation(at, endpoint, ok) for at, ok in states]


def test_a_blip_then_recovery_is_no_breach() -> None:
    observed = checks((0, True), (10, False), (20, False), (30, True), (40, True), (200, True))
    assert first_breach(observed, window_s=180, ends_at=200) is None


def test_a_success_resets_the_clock() -> None:
    # 170 s failing, one success, 170 s failing again: never 180 s in a row.
    observed = checks(*[(t, t != 170) for t in range(0, 350, 10)])
    assert first_breach(observed, window_s=180) is None


def test_failing_through_the_window_breaches_at_the_first_check_past_it() -> None:
    observed = checks(*[(t, t < 50) for t in range(0, 600, 10)])
    # first failed check at 50; 50 + 180 = 230 is the check that decides
    assert first_breach(observed, window_s=180, ends_at=600) == Breach(API, since=50, at=230, window_s=180)


def test_only_the_failing_endpoint_breaches() -> None:
    observed = []
    for t in range(0, 100, 5):
        observed += [Observation(t, API, t % 10 != 0), Observation(t, WEB, t < 20)]
    assert first_breach(observed, window_s=30) == Breach(WEB, since=20, at=50, window_s=30)


def test_still_failing_when_the_period_ends_breaches() -> None:
    observed = checks((0, True), (10, True), (20, False), (30, False))
    assert first_breach(observed, window_s=180, ends_at=30) == Breach(API, 20, 30, 180, at_period_end=True)
    # healthy again at the end: accepted
    assert first_breach(observed + checks((40, True)), window_s=180, ends_at=40) is None


def test_a_window_longer_than_the_period_breaches_only_at_its_end() -> None:
    observed = checks(*[(t, False) for t in range(0, 61, 10)])
    assert first_breach(observed, window_s=180, ends_at=60) == Breach(API, 0, 60, 180, at_period_end=True)
    assert first_breach(observed, window_s=180) is None


def test_window_zero_is_the_first_failed_check() -> None:
    assert first_breach(checks((0, True), (5, False)), window_s=0) == Breach(API, 5, 5, 0)


def test_the_clock_says_once_when_an_endpoint_starts_failing_and_when_it_recovers() -> None:
    clock = FailureClock(180)
    changes = [clock.observe(o) for o in checks((0, True), (10, False), (20, False), (30, True), (40, True))]
    assert changes == [None, Change(API, True, 10, 10), None, Change(API, False, 10, 30), None]
    assert clock.failing() == {}


def test_checks_come_often_enough_to_see_the_window() -> None:
    assert check_interval(600, 180) == 10.0  # runbook: 10m period, 3m window
    assert check_interval(8, 3) == 1.0  # a short test period: a third of the window
    assert check_interval(1, 0.1) == 0.5  # never busier than twice a second
    assert check_interval(45, 0) == 10.0  # no window (trigger off): as before



def test_dry_run_adds_one_line_saying_the_window() -> None:
    import io

    from invoke import Config, Context

    from retail_deploy.config import DEFAULT_CONFIG, load_config
    from retail_deploy.execute import Runner
    from retail_deploy.health.verification import verification_period

    cfg = load_config(DEFAULT_CONFIG, environ={})
    out = io.StringIO()
    runner = Runner(Context(Config(overrides={"run": {"dry": True}})), out=out)
    verification_period(runner, cfg, cfg.environment("production"), 600, None)
    assert out.getvalue().splitlines() == [
        "# no Prometheus for production: health checks for 600s",
        "# rollback when an endpoint fails every health check for 3m (rollback_triggers.health_check)"
        " or still fails when the period ends",
    ]
