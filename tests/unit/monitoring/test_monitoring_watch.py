"""The polling loop of monitor.watch with a scripted Prometheus and a virtual clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retail_deploy.config import load_config
from retail_deploy.errors import DependencyUnavailable, OperationFailed
from retail_deploy.monitoring.monitor import check, check_error, watch
from retail_deploy.monitoring.prometheus import PrometheusUnreachable
from retail_deploy.monitoring.triggers import Sample

CONFIG = """\
version: 1
services:
  api: {image: shop-api}
environments:
  prod:
    prometheus_url: http://prom.test:9090
    urls: {api: https://api.shop.test}
monitoring:
  runbook_defaults: false
  poll_interval: 10s
  unreachable_tolerance: 2
  rollback_triggers:
    errors: {title: Error rate, query: 'errors', above: 0.05, for: 5m}
    down: {title: Health, query: 'up', below: 1, for: 3m, unit: count}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


class ScriptedPrometheus:
    """Answers poll after poll from a script: per poll a dict {query prefix: value}, or 'down'."""

    display = "http://prom.test:9090"

    def __init__(self, clock: Clock, polls: list[Any], query_seconds: float = 0.0) -> None:
        self.clock, self.polls, self.query_seconds = clock, polls, query_seconds
        self.queries: list[str] = []
        self.poll = -1
        self.closed = False

    def query(self, expr: str) -> list[Sample]:
        if "errors" in expr:  # the first trigger's query opens a new poll
            self.poll += 1
        poll = self.polls[min(self.poll, len(self.polls) - 1)]
        self.queries.append(expr)
        self.clock.now += self.query_seconds
        if poll == "down":
            raise PrometheusUnreachable("cannot reach Prometheus at http://prom.test:9090 (ConnectionError)")
        key = "errors" if "errors" in expr else "up"
        return [] if poll.get(key) is None else [Sample({}, poll[key])]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def cfg(tmp_path: Path) -> Any:
    path = tmp_path / "platform.yaml"
    path.write_text(CONFIG)
    return load_config(path, environ={})


OK = {"errors": 0.01, "up": 1.0}
BAD = {"errors": 0.2, "up": 1.0}


def run(cfg: Any, polls: list[Any], duration: float = 60, **kw: Any) -> tuple[Any, Clock, ScriptedPrometheus,
                                                                                list[str], list[Any]]:
    clock, said, breaches = Clock(), [], []
    client = ScriptedPrometheus(clock, polls, kw.pop("query_seconds", 0.0))
    result = watch(cfg, "prod", duration, client=client, clock=clock, sleep=clock.sleep, say=said.append,
                   on_breach=breaches.append, **kw)
    return result, clock, client, said, breaches


def test_healthy_period_polls_every_interval_to_the_end(cfg: Any) -> None:
    result, clock, _, said, breaches = run(cfg, [OK], duration=60)
    assert result.ok and result.polls == 7 and breaches == []  # t = 0, 10, ..., 60
    assert clock.sleeps == [10.0] * 6
    assert said[1] == "poll 1: Error rate 1% ok; Health 1 ok"


def test_first_breach_acts_on_that_poll_and_stops(cfg: Any) -> None:
    result, clock, _, said, breaches = run(cfg, [OK, OK, BAD, OK])
    assert [b.name for b in breaches] == ["errors"]
    assert result.polls == 3 and result.breach_at_s == 20.0 and clock.sleeps == [10.0, 10.0]
    assert said[-1] == "poll 3: rollback trigger FIRED: Error rate is 20% (> 5% for 5m)"


def test_slow_queries_do_not_stretch_the_interval(cfg: Any) -> None:
    result, clock, *_ = run(cfg, [OK], duration=30, query_seconds=1.5)
    assert clock.sleeps == [7.0, 7.0, 7.0]  # ticks stay at 0, 10, 20, 30


def test_short_outages_are_tolerated_then_the_state_counts(cfg: Any) -> None:
    result, _, _, said, breaches = run(cfg, ["down", "down", BAD])
    assert result.unreachable_polls == 2 and [b.name for b in breaches] == ["errors"]
    assert said[1].startswith("poll 1: cannot reach Prometheus")


def test_longer_outage_raises_unknown_state(cfg: Any) -> None:
    with pytest.raises(PrometheusUnreachable, match="3 polls in a row; prod was not verified"):
        run(cfg, [OK, "down", "down", "down", OK])


def test_period_ending_unreachable_is_not_verified(cfg: Any) -> None:
    with pytest.raises(PrometheusUnreachable, match="last poll could not reach Prometheus"):
        run(cfg, [OK, OK, OK, OK, OK, OK, "down"], duration=60)


def test_a_trigger_silent_for_the_whole_watch_fails_it(cfg: Any) -> None:
    # A 10 s watch is shorter than the 3m window: no data all watch long is still not verified.
    result, _, _, said, breaches = run(cfg, [{"errors": 0.01, "up": None}], duration=10)
    assert not result.ok and result.never_had_data == ("down",) and result.polls == 2
    assert result.breach is not None and result.breach.state == "no-data" and breaches == [result.breach]
    assert said[-1] == "poll 2: verification FAILED: Health (down) has no data: no series for " \
                       "max_over_time((up)[3m:30s]) and count_over_time((up)[3m:30s]) >= 6 for 10s"


def test_no_data_for_a_whole_window_fails_during_a_long_watch(cfg: Any) -> None:
    # Data, then 3 minutes without: the breach comes at the poll that completes the 3m window.
    polls = [OK, OK] + [{"errors": 0.01, "up": None}] * 30
    result, *_ = run(cfg, polls, duration=600)
    assert result.breach is not None and result.breach.name == "down" and result.breach_at_s == 200.0


def test_no_data_that_comes_back_within_the_window_is_tolerated(cfg: Any) -> None:
    silent = {"errors": 0.01, "up": None}
    result, *_ = run(cfg, [OK] + [silent] * 10 + [OK], duration=300)
    assert result.ok and result.breach is None


def test_a_firing_trigger_wins_over_one_without_data(cfg: Any) -> None:
    result, *_ = run(cfg, [{"errors": 0.2, "up": None}], duration=0)
    assert result.breach is not None and result.breach.name == "errors" and result.breach.fired


def test_a_trigger_that_accepts_no_data_never_fails_the_watch(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    path.write_text(CONFIG.replace("for: 3m, unit: count}", "for: 3m, unit: count, no_data: accept}"))
    result, *_ = run(load_config(path, environ={}), [{"errors": 0.01, "up": None}], duration=10)
    assert result.ok and result.never_had_data == ("down",)


def test_check_reports_no_data_and_names_the_query(cfg: Any) -> None:
    result = check(cfg, "prod", client=ScriptedPrometheus(Clock(), [{"errors": 0.01, "up": None}]))  # type: ignore[arg-type]
    assert [r.state for r in result.triggers] == ["ok", "no-data"] and not result.ok
    error = check_error(result)
    assert isinstance(error, DependencyUnavailable) and error.exit_code == 5
    assert "Health (down) has no data: no series for max_over_time((up)[3m:30s])" in str(error)


def test_check_a_breach_is_reported_even_when_another_trigger_has_no_data(cfg: Any) -> None:
    result = check(cfg, "prod", client=ScriptedPrometheus(Clock(), [{"errors": 0.2, "up": None}]))  # type: ignore[arg-type]
    error = check_error(result)
    assert isinstance(error, OperationFailed) and error.exit_code == 1 and "Error rate is 20%" in str(error)


def test_below_trigger_breach(cfg: Any) -> None:
    result, *_ = run(cfg, [{"errors": 0.0, "up": 0.0}])
    assert result.breach is not None and result.breach.name == "down"


def test_check_reads_every_trigger_once(cfg: Any) -> None:
    client = ScriptedPrometheus(Clock(), [BAD])
    result = check(cfg, "prod", client=client)  # type: ignore[arg-type]
    assert [r.state for r in result.triggers] == ["firing", "ok"]
    assert [r.name for r in result.fired] == ["errors"]
    assert client.queries[0].startswith("min_over_time((errors)[5m:30s])")
    assert client.queries[1].startswith("max_over_time((up)[3m:30s])")


def test_a_verification_period_fails_on_a_trigger_without_data(cfg: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The deploy's verification period takes the watch's no-data breach as a failed verification
    # (the deploy then rolls back), as it takes a firing trigger.
    import io

    from invoke import Context

    from retail_deploy.execute import Runner
    from retail_deploy.health import verification
    from retail_deploy.monitoring import monitor

    silent = {"errors": 0.01, "up": None}
    monkeypatch.setattr(monitor, "watch", lambda cfg_, env, seconds, say: run(cfg_, [silent], duration=seconds)[0])
    with pytest.raises(OperationFailed, match=r"^no data for a rollback trigger during the verification period: "
                                              r"Health \(down\) has no data: no series for max_over_time"):
        verification.verification_period(Runner(Context(), out=io.StringIO()), cfg, cfg.environment("prod"), 10,
                                         "http://prom.test:9090")
