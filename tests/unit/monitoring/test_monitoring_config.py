"""The `monitoring:` section: runbook defaults, overrides by name, errors with file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from retail_deploy.config import DEFAULT_CONFIG, load_config
from retail_deploy.errors import ConfigError
from retail_deploy.monitoring.monitor import monitoring_settings, prometheus_url

BASE = """\
version: 1
services:
  api: {image: shop-api}
environments:
  prod:
    urls: {api: https://api.shop.test}
  canary:
    prometheus_url: http://prom-canary:9090
    urls: {api: https://canary.shop.test}
"""


def write(tmp_path: Path, monitoring: str) -> Path:
    path = tmp_path / "platform.yaml"
    path.write_text(BASE + textwrap.dedent(monitoring))
    return path


def test_platform_config_holds_the_runbook_triggers() -> None:
    settings = monitoring_settings(load_config(DEFAULT_CONFIG, environ={}))
    triggers = {t.name: t for t in settings.triggers}
    assert (triggers["error_rate"].threshold, triggers["error_rate"].window_s) == (0.05, 300)
    assert (triggers["p95_latency"].threshold, triggers["p95_latency"].window_s) == (0.5, 600)
    assert (triggers["health_check"].direction, triggers["health_check"].window_s) == ("below", 180)
    assert triggers["payment_failures"].window_s == 0
    assert "http_server_requests_total" in triggers["error_rate"].query
    assert "http_server_requests_duration_bucket" in triggers["p95_latency"].query
    metrics = {m.name: (m.warning, m.critical) for m in settings.metrics}
    assert metrics == {"error_rate": (0.01, 0.05), "p95_latency": (0.3, 0.5), "cpu_usage": (0.7, 0.9),
                       "memory_usage": (0.7, 0.9), "active_connections": (0.8, 0.95),
                       "order_completion_rate": (0.9, 0.8)}
    assert [a.name for a in settings.alerts] == ["HighErrorRate", "HighLatency", "ServiceDown"]


def test_prometheus_url_from_environment_else_section(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "monitoring:\n  prometheus_url: ${PROMETHEUS_URL:-}\n"),
                      environ={"PROMETHEUS_URL": "http://prom:9090"})
    assert prometheus_url(cfg, "prod") == "http://prom:9090"
    assert prometheus_url(cfg, "canary") == "http://prom-canary:9090"
    unset = load_config(write(tmp_path, "monitoring:\n  prometheus_url: ${PROMETHEUS_URL:-}\n"), environ={})
    assert prometheus_url(unset, "prod") is None


def test_short_windows_for_tests_and_a_custom_query(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, """\
        monitoring:
          rate_window: 3s
          subquery_step: 1s
          queries:
            error_rate: 'sum(rate(http_server_requests_seconds_count{status=~"5.."}[$window])) / sum(rate(http_server_requests_seconds_count[$window]))'
          rollback_triggers:
            error_rate: {for: 6s}
            payment_failures: {enabled: false}
            checkout_errors: {title: Checkout errors, query: 'sum(rate(checkout_errors_total[$window]))', above: 2, for: 10s, unit: count}
        """), environ={})
    settings = monitoring_settings(cfg)
    triggers = {t.name: t for t in settings.triggers}
    assert list(triggers) == ["error_rate", "p95_latency", "health_check", "checkout_errors"]
    assert triggers["error_rate"].window_s == 6 and triggers["error_rate"].threshold == 0.05
    assert triggers["error_rate"].query == ('sum(rate(http_server_requests_seconds_count{status=~"5.."}[3s]))'
                                            ' / sum(rate(http_server_requests_seconds_count[3s]))')
    assert triggers["checkout_errors"].query == "sum(rate(checkout_errors_total[3s]))"
    assert (triggers["checkout_errors"].threshold, triggers["checkout_errors"].unit) == (2, "count")


def test_runbook_defaults_can_be_switched_off(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, """\
        monitoring:
          runbook_defaults: false
          rollback_triggers:
            errors: {query: 'sum(rate(errors_total[$window]))', above: 1, for: 1m}
        """), environ={})
    settings = monitoring_settings(cfg)
    assert [t.name for t in settings.triggers] == ["errors"]
    assert settings.metrics == () and settings.alerts == ()


@pytest.mark.parametrize(("section", "line", "message"), [
    ("monitoring:\n  poll_intervall: 30s\n", 11, "monitoring.poll_intervall: unknown key"),
    ("monitoring:\n  rollback_triggers:\n    error_rate: {above: lots}\n", 12,
     "monitoring.rollback_triggers.error_rate.above: expected a number"),
    ("monitoring:\n  rollback_triggers:\n    error_rate: {above: 0.1, below: 0.2}\n", 12,
     "give either 'above' or 'below'"),
    ("monitoring:\n  rollback_triggers:\n    new_one: {above: 1}\n", 12, "expected a query"),
    ("monitoring:\n  rollback_triggers:\n    new_one: {query: up}\n", 12, "missing threshold"),
    ("monitoring:\n  rollback_triggers:\n    error_rate: {for: soon}\n", 12, "error_rate.for"),
    ("monitoring:\n  metrics:\n    queue: {query: q, warning: 1}\n", 12, "missing required key 'critical'"),
    ("monitoring:\n  alerts:\n    HighErrorRate: {op: '=>'}\n", 12, "is not one of"),
    ("monitoring:\n  poll_interval: 0s\n", 11, "above zero"),
])
def test_bad_monitoring_config_names_file_line_and_key(tmp_path: Path, section: str, line: int,
                                                      message: str) -> None:
    path = write(tmp_path, section)
    with pytest.raises(ConfigError) as caught:
        monitoring_settings(load_config(path, environ={}))
    assert f"{path}:{line}:" in str(caught.value)
    assert message in str(caught.value)


def test_notifications_section_is_checked(tmp_path: Path) -> None:
    from retail_deploy.monitoring.notify import parse_notifications

    path = tmp_path / "platform.yaml"
    path.write_text(BASE + "notifications:\n  slack:\n    webhook: https://hooks.slack.com/x\n")
    with pytest.raises(ConfigError) as caught:
        parse_notifications(load_config(path, environ={}).section("notifications"))
    assert f"{path}:12: notifications.slack.webhook: unknown key" in str(caught.value)


def test_notifications_defaults_name_the_runbook_channels() -> None:
    from retail_deploy.monitoring.notify import parse_notifications

    settings = parse_notifications(load_config(DEFAULT_CONFIG, environ={}).section("notifications"))
    assert (settings.slack_alerts_env, settings.slack_monitoring_env, settings.pagerduty_key_env) == (
        "SLACK_WEBHOOK_URL", "SLACK_MONITORING_WEBHOOK_URL", "PAGERDUTY_ROUTING_KEY")
    assert settings.pagerduty_url == "https://events.pagerduty.com"


def test_the_health_check_fallback_window_is_the_health_check_triggers_for(tmp_path: Path) -> None:
    from retail_deploy.monitoring.monitor import health_check_window

    assert health_check_window(load_config(DEFAULT_CONFIG, environ={})) == 180.0  # the runbook's 3 minutes
    assert health_check_window(load_config(write(tmp_path, "monitoring: {}\n"), environ={})) == 180.0
    shortened = "monitoring:\n  rollback_triggers:\n    health_check: {for: 4s}\n"
    assert health_check_window(load_config(write(tmp_path, shortened), environ={})) == 4.0
    off = "monitoring:\n  rollback_triggers:\n    health_check: {enabled: false}\n"
    assert health_check_window(load_config(write(tmp_path, off), environ={})) == 0.0  # the first failed check


def test_no_data_policy_is_read_per_trigger(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        monitoring:
          rollback_triggers:
            payment_failures: {no_data: accept}
        """)
    settings = monitoring_settings(load_config(path, environ={}))
    assert {t.name: t.no_data for t in settings.triggers} == {
        "error_rate": "fail", "p95_latency": "fail", "health_check": "fail", "payment_failures": "accept"}
    path.write_text(path.read_text().replace("no_data: accept", "no_data: ignore"))
    with pytest.raises(ConfigError, match=r"platform.yaml:12: monitoring.rollback_triggers.payment_failures.no_data: 'ignore' is not one of"):
        monitoring_settings(load_config(path, environ={}))
