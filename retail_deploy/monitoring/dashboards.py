"""The runbook's four Grafana dashboards as code, from the same definitions as the triggers.

Why here: the runbook lists four dashboards (Application Overview, Infrastructure, Business
Metrics, Security Events) and a metrics table whose warning and critical thresholds are also the
rollback triggers and the generated alert rules. Drawing every panel's query and threshold from
`MonitoringSettings` (the `monitoring:` section, defaulting to the runbook) keeps a dashboard, a
trigger and an alert from ever disagreeing; a team that changes a query or a threshold changes
all three.

Three steps, as everywhere: `dashboard_specs` decides what each dashboard shows (PURE, tested
without Grafana), `build` turns a spec into Grafana's dashboard JSON with grafana-foundation-sdk
(imported lazily: `inv --list` must not load it), and `upload` posts it to Grafana's HTTP API
(`POST /api/dashboards/db`, the token a secret that is never printed).

Thresholds: each step is the definition's own value (the runbook's 1% and 5% read as 0.01 and
0.05 in the JSON). Grafana colours a value by the highest step it reaches (value >= step), so a
"below" definition (order completion under 90%) is exact, and an "above" one differs only for a
value exactly at the threshold; for "above 0" (any payment failure) that value is the healthy
one, so its step is the smallest positive number: 0 stays green, any failure is red.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from retail_deploy import redact
from retail_deploy.errors import DependencyUnavailable, InputError, OperationFailed
from retail_deploy.monitoring.triggers import Direction, MonitoringSettings, format_value, render_query

if TYPE_CHECKING:
    import requests

# The runbook's four dashboards: kind -> (default title, panels: (what, name) in order). `what` is
# a row of the metrics table, a rollback trigger, or a named query of `monitoring.queries`.
Kind = Literal["overview", "infrastructure", "business", "security"]
KINDS: tuple[Kind, ...] = ("overview", "infrastructure", "business", "security")
TITLES: Mapping[Kind, str] = {"overview": "Application Overview", "infrastructure": "Infrastructure",
                              "business": "Business Metrics", "security": "Security Events"}
LAYOUT: Mapping[Kind, tuple[tuple[str, str], ...]] = {
    "overview": (("metric", "error_rate"), ("metric", "p95_latency"), ("trigger", "health_check")),
    "infrastructure": (("metric", "cpu_usage"), ("metric", "memory_usage"), ("metric", "active_connections")),
    "business": (("metric", "order_completion_rate"), ("trigger", "payment_failures"),
                 ("query", "orders_completed"), ("query", "orders_failed")),
    "security": (("query", "auth_failures"), ("query", "client_errors")),
}
GRAFANA_UNITS = {"ratio": "percentunit", "seconds": "s", "count": "short"}
GREEN, ORANGE, RED = "green", "orange", "red"
DATASOURCE = "${datasource}"  # the dashboard's Prometheus variable: each Grafana picks its own
PANEL_HEIGHT, PANEL_WIDTH = 8, 12
UPLOAD_PATH = "/api/dashboards/db"


@dataclass(frozen=True)
class Step:
    value: float | None  # None: the base colour (Grafana's -Infinity)
    colour: str


@dataclass(frozen=True)
class PanelSpec:
    title: str
    query: str  # PromQL, `$window` substituted
    unit: str  # ratio, seconds, count
    steps: tuple[Step, ...] = ()  # no steps: an informative panel
    description: str = ""
    legend: str = ""
    source: str = ""  # which definition it comes from: metric:error_rate, trigger:health_check, query:...


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    kind: str
    panels: tuple[PanelSpec, ...]
    tags: tuple[str, ...] = ()


def _above(threshold: float) -> float:
    """The step for "above `threshold`": the threshold, but above 0 the smallest positive number
    (a step at 0 would colour the healthy 0 as failing)."""
    return math.nextafter(0.0, math.inf) if threshold == 0 else threshold


def metric_steps(direction: Direction, warning: float, critical: float) -> tuple[Step, ...]:
    if direction == "above":
        return Step(None, GREEN), Step(_above(warning), ORANGE), Step(_above(critical), RED)
    return Step(None, RED), Step(critical, ORANGE), Step(warning, GREEN)


def trigger_steps(direction: Direction, threshold: float) -> tuple[Step, ...]:
    if direction == "above":
        return Step(None, GREEN), Step(_above(threshold), RED)
    return Step(None, RED), Step(threshold, GREEN)


def _panels(settings: MonitoringSettings, layout: Sequence[tuple[str, str]]) -> list[PanelSpec]:
    metrics = {m.name: m for m in settings.metrics}
    triggers = {t.name: t for t in settings.triggers}
    panels = []
    for what, name in layout:
        if what == "metric" and name in metrics:
            m = metrics[name]
            word = ">" if m.direction == "above" else "<"
            panels.append(PanelSpec(m.title, m.query, m.unit, metric_steps(m.direction, m.warning, m.critical),
                                    f"warning {word} {format_value(m.warning, m.unit)}, "
                                    f"critical {word} {format_value(m.critical, m.unit)} "
                                    "(monitoring.metrics: the alert rules use the same)", source=f"metric:{name}"))
        elif what == "trigger" and name in triggers:
            t = triggers[name]
            panels.append(PanelSpec(t.title, t.query, t.unit, trigger_steps(t.direction, t.threshold),
                                    f"rollback trigger: {t.describe_threshold()}",
                                    "{{job}}" if "up{" in t.query else "", source=f"trigger:{name}"))
        elif what == "query" and name in settings.queries:
            panels.append(PanelSpec(name.replace("_", " ").capitalize(),
                                    render_query(settings.queries[name], settings.rate_window_s), "count",
                                    description=f"monitoring.queries.{name}", source=f"query:{name}"))
    return panels


def dashboard_specs(settings: MonitoringSettings, links: Mapping[str, str] | None = None,
                    prefix: str = "platform") -> list[DashboardSpec]:
    """The four dashboards. Their uid and title come from the `dashboards.links` entry whose
    path (`/d/<uid>`) names the kind (`/d/retail-overview` is the overview), else
    `<prefix>-<kind>` and the runbook's title. Metrics and triggers a team added beyond the
    runbook's go on the overview, so every definition has a panel."""
    named: dict[str, tuple[str, str]] = {}
    for title, path in (links or {}).items():
        uid = urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1]
        for kind in KINDS:
            if uid.endswith(kind) and kind not in named:
                named[kind] = (uid, title)
    placed = {name for rows in LAYOUT.values() for what, name in rows if what in ("metric", "trigger")}
    extra = [("metric", m.name) for m in settings.metrics if m.name not in placed]
    extra += [("trigger", t.name) for t in settings.triggers
              if t.name not in placed and t.name not in {m.name for m in settings.metrics}]
    specs = []
    for kind in KINDS:
        uid, title = named.get(kind, (f"{prefix}-{kind}", TITLES[kind]))
        layout = list(LAYOUT[kind]) + (extra if kind == "overview" else [])
        specs.append(DashboardSpec(uid, title, kind, tuple(_panels(settings, layout)), (prefix, kind)))
    return specs


# --------------------------------------------------------------------------------------------
# Grafana JSON, built with grafana-foundation-sdk


def build(spec: DashboardSpec) -> dict[str, object]:
    """The dashboard as Grafana's JSON model (schema of Grafana 11), through the SDK's builders."""
    from grafana_foundation_sdk.builders import common as common_builders
    from grafana_foundation_sdk.builders import dashboard as dashboard_builders
    from grafana_foundation_sdk.builders import prometheus, timeseries
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models import dashboard as model

    source = model.DataSourceRef(type_val="prometheus", uid=DATASOURCE)
    board = (dashboard_builders.Dashboard(spec.title).uid(spec.uid).tags(list(spec.tags)).refresh("30s")
             .time("now-1h", "now").timezone("utc")
             .with_variable(dashboard_builders.DatasourceVariable("datasource").label("Prometheus").type("prometheus")))
    for index, panel in enumerate(spec.panels):
        query = prometheus.Dataquery().expr(panel.query).ref_id("A")
        if panel.legend:
            query = query.legend_format(panel.legend)
        made = (timeseries.Panel().title(panel.title).description(panel.description).datasource(source)
                .unit(GRAFANA_UNITS.get(panel.unit, "short")).with_target(query)
                .grid_pos(model.GridPos(h=PANEL_HEIGHT, w=PANEL_WIDTH, x=(index % 2) * PANEL_WIDTH,
                                        y=(index // 2) * PANEL_HEIGHT)))
        if panel.steps:
            made = (made.thresholds(dashboard_builders.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE)
                                    .steps([model.Threshold(s.value, s.colour) for s in panel.steps]))
                    .thresholds_style(common_builders.GraphThresholdsStyleConfig()
                                      .mode(common.GraphThresholdsStyleMode.DASHED)))
        board = board.with_panel(made)
    document = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    assert isinstance(document, dict)
    return document


def write(specs: Sequence[DashboardSpec], directory: Path) -> list[Path]:
    """`<uid>.json` per dashboard in `directory` (made if missing), each written whole."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in specs:
        path = directory / f"{spec.uid}.json"
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(json.dumps(build(spec), indent=2) + "\n", encoding="utf-8")
        partial.replace(path)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# Upload: Grafana's HTTP API


@dataclass(frozen=True)
class Uploaded:
    uid: str
    url: str  # where Grafana shows it (its answer's `url`, under the Grafana URL)
    version: int | None


def upload_payload(dashboard: Mapping[str, object], folder_uid: str | None = None) -> dict[str, object]:
    """The body of `POST /api/dashboards/db`: the dashboard (no id: matched by uid), overwriting
    the one with the same uid (the code is the source of truth)."""
    payload: dict[str, object] = {"dashboard": {**dashboard, "id": None}, "overwrite": True,
                                  "message": "retail-deploy monitor.dashboards"}
    if folder_uid:
        payload["folderUid"] = folder_uid
    return payload


def check_grafana_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"Grafana URL must be http(s)://host[:port]: {redact.redact(url)}")
    return url.rstrip("/")


def upload(dashboards: Sequence[Mapping[str, object]], grafana_url: str, token: str, *,
           folder_uid: str | None = None, timeout: float = 10.0,
           session: requests.Session | None = None) -> list[Uploaded]:
    """Create or replace each dashboard in Grafana (service-account token, `Bearer`). Exit codes
    as everywhere: Grafana not answering is 5, a refused token or request 2, another error 1."""
    import requests

    base = check_grafana_url(grafana_url)
    if not token:
        raise InputError("no Grafana token: set GRAFANA_TOKEN to a service account token (Editor role)")
    redact.register(token)
    http = session or requests.Session()
    done = []
    try:
        for dashboard in dashboards:
            uid = str(dashboard.get("uid", ""))
            try:
                response = http.post(base + UPLOAD_PATH, json=upload_payload(dashboard, folder_uid), timeout=timeout,
                                     headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
            except requests.RequestException as error:
                raise DependencyUnavailable(f"Grafana at {redact.redact(base)} did not answer "
                                            f"({type(error).__name__}); no dashboard after {uid!r} was uploaded") from None
            try:
                body = response.json()
            except ValueError:
                body = {}
            message = redact.redact(str(body.get("message", "")) if isinstance(body, dict) else "")[:200]
            if response.status_code in (401, 403):
                raise InputError(f"Grafana refused the token (HTTP {response.status_code}: {message}): "
                                 "give GRAFANA_TOKEN a service account token with the Editor role")
            if response.status_code in (400, 404, 412, 422):
                raise InputError(f"Grafana refused dashboard {uid!r} (HTTP {response.status_code}: {message})")
            if response.status_code != 200 or not isinstance(body, dict):
                raise OperationFailed(f"Grafana answered HTTP {response.status_code} for dashboard {uid!r}: {message}")
            version = body.get("version")
            done.append(Uploaded(str(body.get("uid") or uid), base + str(body.get("url") or f"/d/{uid}"),
                                 int(version) if isinstance(version, int) else None))
    finally:
        if session is None:
            http.close()
    return done
