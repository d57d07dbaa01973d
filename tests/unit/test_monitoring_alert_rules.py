"""The generated rule file: the runbook's sample rules, then the metrics table's rules."""

from __future__ import annotations

import yaml

from retail_deploy.alert_rules import alert_definitions, build_rules, render_rules, rule_name
from retail_deploy.triggers import AlertDef, Metric, MonitoringSettings

ERR = 'sum(rate(http_server_requests_total{status=~"5.."}[5m])) / sum(rate(http_server_requests_total[5m]))'
HIGH_ERROR = AlertDef("HighErrorRate", ERR, ">", 0.05, 300, "critical", "High error rate detected",
                      "Error rate is {{ $value | humanizePercentage }}")
SERVICE_DOWN = AlertDef("ServiceDown", 'up{job="retail-backend"}', "==", 0, 60, "critical",
                        "Backend service is down", "Backend has been down for more than 1 minute")
ERROR_METRIC = Metric("error_rate", "Error Rate", ERR, "above", 0.01, 0.05, "ratio", 300)
ORDERS = Metric("order_completion_rate", "Order Completion Rate", "sum(rate(c[5m])) / sum(rate(o[5m]))",
                "below", 0.9, 0.8, "ratio", 300)


def settings() -> MonitoringSettings:
    return MonitoringSettings(alerts=(HIGH_ERROR, SERVICE_DOWN), metrics=(ERROR_METRIC, ORDERS))


def test_runbook_rules_come_first_with_runbook_fields() -> None:
    rules = build_rules(settings())["groups"][0]["rules"]
    assert rules[0] == {
        "alert": "HighErrorRate",
        "expr": ERR + " > 0.05",
        "for": "5m",
        "labels": {"severity": "critical"},
        "annotations": {"summary": "High error rate detected",
                        "description": "Error rate is {{ $value | humanizePercentage }}"},
    }
    assert rules[1]["expr"] == 'up{job="retail-backend"} == 0' and rules[1]["for"] == "1m"


def test_table_rules_skip_an_exact_duplicate_of_a_runbook_rule() -> None:
    names = [a.name for a in alert_definitions(settings())]
    # ErrorRateCritical would page a second time for HighErrorRate's condition.
    assert names == ["HighErrorRate", "ServiceDown", "ErrorRateWarning", "OrderCompletionRateWarning",
                     "OrderCompletionRateCritical"]


def test_below_metrics_compare_downwards() -> None:
    rules = {r["alert"]: r for r in build_rules(settings())["groups"][0]["rules"]}
    assert rules["OrderCompletionRateCritical"]["expr"].endswith(" < 0.8")
    assert rules["OrderCompletionRateCritical"]["labels"] == {"severity": "critical"}


def test_rule_names_are_camel_case_of_the_title() -> None:
    assert rule_name(Metric("cpu_usage", "CPU Usage", "q", "above", 0.7, 0.9), "warning") == "CPUUsageWarning"
    assert rule_name(Metric("p95", "p95 Latency", "q", "above", 0.3, 0.5), "critical") == "P95LatencyCritical"


def test_rendered_yaml_round_trips_and_keeps_templates() -> None:
    text = render_rules(settings())
    assert text.startswith("# prometheus/alerts.yaml")
    assert yaml.safe_load(text) == build_rules(settings())
    assert "{{ $value | humanizePercentage }}" in text


def test_committed_rule_file_matches_the_platform_config() -> None:
    """prometheus/alerts.yaml is what Prometheus loads: regenerate it when the config changes
    (`retail-deploy monitor.rules --output prometheus/alerts.yaml`)."""
    from pathlib import Path

    from retail_deploy.config import DEFAULT_CONFIG, load_config
    from retail_deploy.monitor import monitoring_settings

    committed = Path(__file__).resolve().parents[2] / "prometheus" / "alerts.yaml"
    assert committed.read_text() == render_rules(monitoring_settings(load_config(DEFAULT_CONFIG, environ={})))
