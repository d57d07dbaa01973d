"""Rollback triggers: windowed PromQL and the verdict on query results (pure functions)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retail_deploy import validate
from retail_deploy.monitoring.triggers import (
    DEFAULT_QUERIES,
    Metric,
    Sample,
    Trigger,
    evaluate_metric,
    evaluate_trigger,
    firing_query,
    format_duration,
    format_number,
    format_table,
    format_value,
    render_query,
    unknown_trigger,
    windowed_query,
)

ERROR_RATE = Trigger("error_rate", "Error rate", "sum(rate(errors[5m])) / sum(rate(total[5m]))",
                     "above", 0.05, 300, "ratio")
HEALTH = Trigger("health_check", "Health check (up)", 'up{job="retail-backend"}', "below", 1, 180, "count")
PAYMENTS = Trigger("payment_failures", "Payment failures", "sum(increase(payments_failed_total[5m]))",
                   "above", 0, 0, "count")


def test_error_rate_window_is_one_query_holding_for_the_whole_window() -> None:
    assert windowed_query(ERROR_RATE, 30) == (
        "min_over_time((sum(rate(errors[5m])) / sum(rate(total[5m])))[5m:30s])"
        " and count_over_time((sum(rate(errors[5m])) / sum(rate(total[5m])))[5m:30s]) >= 10"
    )


def test_below_trigger_uses_the_window_maximum() -> None:
    # "Failing for 3 consecutive minutes": even the best sample of the window was down.
    assert windowed_query(HEALTH, 30) == (
        'max_over_time((up{job="retail-backend"})[3m:30s]) and count_over_time((up{job="retail-backend"})[3m:30s]) >= 6'
    )


def test_instant_trigger_is_the_query_itself() -> None:
    assert windowed_query(PAYMENTS, 30) == "sum(increase(payments_failed_total[5m]))"
    assert firing_query(PAYMENTS, 30) == "sum(increase(payments_failed_total[5m])) > 0"


def test_step_never_exceeds_a_short_window() -> None:
    short = Trigger("e", "E", "x", "above", 0.05, 6, "ratio")
    assert windowed_query(short, 30) == "min_over_time((x)[6s:6s]) and count_over_time((x)[6s:6s]) >= 1"
    assert windowed_query(short, 1).endswith("[6s:1s]) >= 6")


def test_firing_query_has_the_threshold() -> None:
    assert firing_query(ERROR_RATE, 30).endswith(") > 0.05")
    assert firing_query(HEALTH, 30).endswith(") < 1")


def test_rate_window_substitution() -> None:
    assert render_query(DEFAULT_QUERIES["error_rate"], 300) == (
        '(sum(rate(http_server_requests_total{status=~"5.."}[5m])) or vector(0)) / sum(rate(http_server_requests_total[5m]))'
    )
    assert "[2s]" in render_query(DEFAULT_QUERIES["p95_latency"], 2)
    # A `$` in a label regex is not a placeholder.
    assert render_query('x{uri=~"/api/.*$"}', 60) == 'x{uri=~"/api/.*$"}'


@pytest.mark.parametrize(("seconds", "text"), [(300, "5m"), (600, "10m"), (6, "6s"), (90, "90s"),
                                               (0.5, "500ms"), (3600, "1h"), (0, "0s")])
def test_promql_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_promql_numbers_have_no_float_noise() -> None:
    assert [format_number(v) for v in (0.05, 0.5, 1.0, 0, 0.95)] == ["0.05", "0.5", "1", "0", "0.95"]


def test_above_trigger_fires_only_beyond_threshold() -> None:
    assert evaluate_trigger(ERROR_RATE, [Sample({}, 0.071)]).fired
    assert not evaluate_trigger(ERROR_RATE, [Sample({}, 0.05)]).fired  # "exceeds": strictly above
    assert evaluate_trigger(ERROR_RATE, [Sample({}, 0.049)]).state == "ok"


def test_worst_series_decides_and_is_reported() -> None:
    reading = evaluate_trigger(ERROR_RATE, [Sample({"pod": "a"}, 0.01), Sample({"pod": "b"}, 0.2)])
    assert reading.fired and reading.value == 0.2 and reading.labels == {"pod": "b"}


def test_below_trigger_fires_when_any_target_stayed_down() -> None:
    reading = evaluate_trigger(HEALTH, [Sample({"instance": "a"}, 1.0), Sample({"instance": "b"}, 0.0)])
    assert reading.fired and reading.labels == {"instance": "b"}
    assert not evaluate_trigger(HEALTH, [Sample({"instance": "a"}, 1.0)]).fired


def test_no_series_is_no_data_never_firing() -> None:
    # An empty result: metric absent, or the window not yet covered (just after a deploy).
    reading = evaluate_trigger(ERROR_RATE, [])
    assert reading.state == "no-data" and not reading.fired and reading.value is None
    assert reading.unverified and reading.query == ERROR_RATE.query


def test_nan_is_not_a_breach() -> None:
    # 0/0 when there is no traffic.
    assert evaluate_trigger(ERROR_RATE, [Sample({}, math.nan)]).state == "no-data"


def test_a_trigger_may_accept_no_data_but_never_an_unknown_state() -> None:
    accepting = replace(ERROR_RATE, no_data="accept")
    assert not evaluate_trigger(accepting, []).unverified
    assert unknown_trigger(accepting, "rejected").unverified
    assert format_table([evaluate_trigger(accepting, [])]).splitlines()[2].endswith("no-data (accepted)")



def test_payment_failures_fire_on_any_failure() -> None:
    assert evaluate_trigger(PAYMENTS, [Sample({}, 1.0)]).fired
    assert not evaluate_trigger(PAYMENTS, [Sample({}, 0.0)]).fired


def test_metric_levels_both_directions() -> None:
    cpu = Metric("cpu_usage", "CPU Usage", "q", "above", 0.7, 0.9)
    orders = Metric("order_completion_rate", "Order Completion Rate", "q", "below", 0.9, 0.8)
    assert [cpu.level(v) for v in (0.5, 0.8, 0.95, None)] == ["ok", "warning", "critical", "no data"]
    assert [orders.level(v) for v in (0.95, 0.85, 0.75)] == ["ok", "warning", "critical"]
    assert evaluate_metric(orders, [Sample({}, 0.85)]).threshold == "warn < 90%, crit < 80%"


def test_values_are_shown_in_their_unit() -> None:
    assert format_value(0.071, "ratio") == "7.1%"
    assert format_value(0.62, "seconds") == "620ms"
    assert format_value(2.5, "seconds") == "2.5s"
    assert format_value(None, "ratio") == "-"


def test_table_lists_trigger_value_threshold_state() -> None:
    table = format_table([evaluate_trigger(ERROR_RATE, [Sample({}, 0.071)]), evaluate_trigger(HEALTH, [])])
    lines = table.splitlines()
    assert lines[0].split() == ["trigger", "value", "threshold", "state"]
    assert lines[2].startswith("Error rate") and "7.1%" in lines[2] and "> 5% for 5m" in lines[2]
    assert lines[2].endswith("FIRING")
    assert lines[3].endswith("no-data")


@given(st.integers(min_value=0, max_value=10 * 86_400_000))
def test_promql_duration_round_trips_through_the_config_parser(ms: int) -> None:
    text = format_duration(ms / 1000)
    if text.endswith("d"):  # PromQL has days; the config parser stops at hours
        assert int(text[:-1]) * 86_400_000 == ms
    else:
        assert validate.duration(text) == pytest.approx(ms / 1000)
