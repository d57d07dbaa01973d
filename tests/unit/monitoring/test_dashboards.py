"""monitor.dashboards: the four dashboards drawn from the monitoring definitions, as Grafana JSON
built by grafana-foundation-sdk (the upload against a real HTTP server is in
tests/integration/monitoring/test_dashboards_grafana.py)."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

from retail_deploy.config import DEFAULT_CONFIG, load_config
from retail_deploy.monitoring import dashboards
from retail_deploy.monitoring.alert_rules import alert_definitions
from retail_deploy.monitoring.monitor import monitoring_settings
from retail_deploy.setup import platform as platform_setup

TINY = math.nextafter(0.0, math.inf)


def retail_specs() -> list[dashboards.DashboardSpec]:
    cfg = load_config(DEFAULT_CONFIG, environ={})
    return dashboards.dashboard_specs(monitoring_settings(cfg), cfg.section("dashboards").str_map("links", {}),
                                      cfg.platform)


def panel(spec: dashboards.DashboardSpec, title: str) -> dashboards.PanelSpec:
    return next(p for p in spec.panels if p.title == title)


def test_the_runbook_dashboards_keep_their_uids_and_titles() -> None:
    specs = retail_specs()
    assert [(s.uid, s.title) for s in specs] == [
        ("retail-overview", "Application Overview"), ("retail-infrastructure", "Infrastructure"),
        ("retail-business", "Business Metrics"), ("retail-security", "Security Events")]
    cfg = load_config(DEFAULT_CONFIG, environ={})
    links = platform_setup.dashboards(cfg)
    assert [url.rsplit("/", 1)[-1] for url in links.values()] == [s.uid for s in specs]


def test_every_row_of_the_metrics_table_has_a_panel_with_its_warning_and_critical() -> None:
    specs = retail_specs()
    by_source = {p.source: p for s in specs for p in s.panels}
    settings = monitoring_settings(load_config(DEFAULT_CONFIG, environ={}))
    for metric in settings.metrics:
        shown = by_source[f"metric:{metric.name}"]
        assert shown.query == metric.query
        values = [step.value for step in shown.steps]
        assert values == ([None, metric.warning, metric.critical] if metric.direction == "above"
                          else [None, metric.critical, metric.warning])
    overview, infrastructure, business, _ = specs
    assert [p.title for p in overview.panels] == ["Error Rate", "p95 Latency", "Health check (up)"]
    assert [p.title for p in infrastructure.panels] == ["CPU Usage", "Memory Usage", "Active Connections"]
    assert [p.title for p in business.panels] == ["Order Completion Rate", "Payment failures", "Orders completed",
                                                  "Orders failed"]
    # The runbook's table: error rate 1% / 5%, p95 300 ms / 500 ms, order completion below 90% / 80%.
    assert [s.value for s in panel(overview, "Error Rate").steps] == [None, 0.01, 0.05]
    assert [s.value for s in panel(overview, "p95 Latency").steps] == [None, 0.3, 0.5]
    assert [(s.value, s.colour) for s in panel(business, "Order Completion Rate").steps] == [
        (None, "red"), (0.8, "orange"), (0.9, "green")]


def test_trigger_panels_share_the_trigger_and_the_alert_rule_thresholds() -> None:
    specs = retail_specs()
    settings = monitoring_settings(load_config(DEFAULT_CONFIG, environ={}))
    triggers = {t.name: t for t in settings.triggers}
    payments = panel(specs[2], "Payment failures")
    assert payments.query == triggers["payment_failures"].query == "sum(increase(payments_failed_total[5m]))"
    assert [(s.value, s.colour) for s in payments.steps] == [(None, "green"), (TINY, "red")]  # 0 green, any red
    health = panel(specs[0], "Health check (up)")
    assert health.query == triggers["health_check"].query and health.legend == "{{job}}"
    assert [(s.value, s.colour) for s in health.steps] == [(None, "red"), (1, "green")]
    critical = {a.name: a for a in alert_definitions(settings)}
    assert critical["HighErrorRate"].query == panel(specs[0], "Error Rate").query


def test_a_team_threshold_or_query_changes_the_dashboard_too(tmp_path: Path) -> None:
    config = tmp_path / "platform.yaml"
    config.write_text(textwrap.dedent("""\
        version: 1
        platform: shop
        services:
          api: {image: shop-api}
        environments:
          prod: {urls: {api: https://api.shop.test}}
        monitoring:
          rate_window: 2m
          metrics:
            error_rate: {warning: 0.02, critical: 0.1}
            queue_depth: {title: Queue Depth, query: 'max(queue_depth)', warning: 100, critical: 500, unit: count}
            cpu_usage: {enabled: false}
        """))
    cfg = load_config(config, environ={})
    specs = dashboards.dashboard_specs(monitoring_settings(cfg), {}, cfg.platform)
    assert [s.uid for s in specs] == ["shop-overview", "shop-infrastructure", "shop-business", "shop-security"]
    overview = specs[0]
    assert [s.value for s in panel(overview, "Error Rate").steps] == [None, 0.02, 0.1]
    assert "[2m]" in panel(overview, "Error Rate").query
    assert panel(overview, "Queue Depth").query == "max(queue_depth)"  # a team's own metric: on the overview
    assert "CPU Usage" not in [p.title for p in specs[1].panels]


def test_the_grafana_json_is_built_by_the_sdk_with_queries_units_and_thresholds(tmp_path: Path) -> None:
    specs = retail_specs()
    document = dashboards.build(specs[0])
    assert (document["uid"], document["title"]) == ("retail-overview", "Application Overview")
    assert document["schemaVersion"] >= 39  # Grafana 11's dashboard schema
    assert document["templating"]["list"][0]["type"] == "datasource"
    panels = document["panels"]
    assert [p["title"] for p in panels] == ["Error Rate", "p95 Latency", "Health check (up)"]
    error_rate = panels[0]
    assert error_rate["type"] == "timeseries"
    assert error_rate["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert error_rate["targets"][0]["expr"] == specs[0].panels[0].query
    defaults = error_rate["fieldConfig"]["defaults"]
    assert defaults["unit"] == "percentunit"
    assert defaults["thresholds"]["steps"] == [{"value": None, "color": "green"}, {"value": 0.01, "color": "orange"},
                                              {"value": 0.05, "color": "red"}]
    assert panels[1]["fieldConfig"]["defaults"]["unit"] == "s"
    assert len({(p["gridPos"]["x"], p["gridPos"]["y"]) for p in panels}) == len(panels)  # no two overlap
    written = dashboards.write(specs, tmp_path / "out")
    assert [p.name for p in written] == [f"{s.uid}.json" for s in specs]
    assert json.loads(written[0].read_text()) == document
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_the_upload_body_replaces_the_dashboard_by_uid() -> None:
    body = dashboards.upload_payload({"uid": "retail-overview", "title": "x"}, folder_uid="ops")
    assert body == {"dashboard": {"uid": "retail-overview", "title": "x", "id": None}, "overwrite": True,
                    "message": "retail-deploy monitor.dashboards", "folderUid": "ops"}
