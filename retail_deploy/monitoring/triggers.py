"""Rollback triggers, the warning/critical metrics table and alert definitions.

One set of definitions (config top-level `monitoring:` section, defaulting to the runbook's
values) drives three things: `monitor.check`/`monitor.watch` (rollback triggers evaluated against
Prometheus), the metrics table, and the generated Prometheus rule file (`monitoring/alert_rules.py`).

Everything here is PURE: parsing, PromQL building and evaluation of query results. Network
access lives in `monitoring/prometheus.py`, the polling loop in `monitoring/monitor.py`.

"For N minutes" means the condition held for the whole window, so a windowed trigger is ONE
query over a subquery: `min_over_time((<expr>)[5m:30s])` for an "above" trigger (the smallest
value in the window is still above the threshold), `max_over_time` for a "below" trigger. A
`count_over_time` guard makes sure the window is fully covered, so five minutes of data are
needed before "five minutes" can be claimed (right after a deploy there is less).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from retail_deploy import validate

if TYPE_CHECKING:
    from retail_deploy.yamlnode import Node

Direction = Literal["above", "below"]
# A trigger's state: `ok`, `firing`, `no-data` (the query answered with no series, or only NaN)
# or `unknown` (the query failed). No data is never healthy (docs/monitoring.md "No data").
TriggerState = Literal["ok", "firing", "no-data", "unknown"]
TRIGGER_STATES: tuple[TriggerState, ...] = ("ok", "firing", "no-data", "unknown")
# What a trigger's `no_data:` key says about no data: `fail` (default: `monitor.check` exits 5, a
# watch or verification period rolls back once its whole window had none) or `accept`.
NoDataPolicy = Literal["fail", "accept"]
NO_DATA_POLICIES: tuple[NoDataPolicy, ...] = ("fail", "accept")
UNITS = ("ratio", "seconds", "count")
OPS = (">", "<", ">=", "<=", "==", "!=")

# The runbook's metric names (Monitoring & Alerts). `$window` is the rate window
# (`monitoring.rate_window`). Sums make the ratios platform-wide: the runbook's sample
# `rate(x{status=~"5.."}[5m]) / rate(x[5m])` matches series label by label, so each 5xx
# series is divided by itself and the "ratio" is 1 as soon as one 5xx exists.
# Queries that name services (`health`, `cpu_usage`, `memory_usage`) are made from the config's
# own services by `service_queries`: nothing here names a platform's service.
DEFAULT_QUERIES: dict[str, str] = {
    "error_rate": '(sum(rate(http_server_requests_total{status=~"5.."}[$window])) or vector(0))'
                  ' / sum(rate(http_server_requests_total[$window]))',
    "p95_latency": "histogram_quantile(0.95, sum by (le) (rate(http_server_requests_duration_bucket[$window])))",
    "payment_failures": "sum(increase(payments_failed_total[$window]))",
    "active_connections": "sum(mongodb_driver_pool_checkedout) / sum(mongodb_driver_pool_size)",
    "order_completion_rate": "sum(rate(orders_completed_total[$window])) / sum(rate(orders_created_total[$window]))",
    # Read by the dashboards only (monitoring/dashboards.py): business and security panels.
    "orders_completed": "sum(rate(orders_completed_total[$window]))",
    "orders_failed": "sum(rate(orders_failed_total[$window]))",
    "auth_failures": 'sum(rate(http_server_requests_total{status=~"401|403"}[$window]))',
    "client_errors": 'sum(rate(http_server_requests_total{status=~"4.."}[$window]))',
}


@dataclass(frozen=True)
class MonitoredService:
    """How Prometheus sees one service of the config: its scrape job and its container name."""

    job: str
    container: str


def _matcher(label: str, values: Sequence[str]) -> str:
    """`job="a"` for one value, `job=~"a|b"` for several (a dot matched literally: `\\\\.` in PromQL)."""
    unique = list(dict.fromkeys(values))
    if len(unique) == 1:
        return f'{label}="{unique[0]}"'
    alternatives = "|".join(value.replace(".", "\\\\.") for value in unique)
    return f'{label}=~"{alternatives}"'


def service_queries(services: Sequence[MonitoredService]) -> dict[str, str]:
    """The default `health`, `cpu_usage` and `memory_usage` queries over the config's services."""
    if not services:
        return {}
    job = _matcher("job", [s.job for s in services])
    container = _matcher("container", [s.container for s in services])
    return {
        "health": f"up{{{job}}}",
        "cpu_usage": f"sum(rate(container_cpu_usage_seconds_total{{{container}}}[$window]))"
                     f' / sum(kube_pod_container_resource_limits{{{container},resource="cpu"}})',
        "memory_usage": f"sum(container_memory_working_set_bytes{{{container}}})"
                        f' / sum(kube_pod_container_resource_limits{{{container},resource="memory"}})',
    }


# The runbook's "Rollback Triggers" ("Critical security vulnerability discovered" is a human call).
# HEALTH_TRIGGER's `for` is also the window of the health-check fallback (`monitor.health_check_window`).
HEALTH_TRIGGER = "health_check"
DEFAULT_TRIGGERS: dict[str, dict[str, Any]] = {
    "error_rate": {"title": "Error rate", "query": "error_rate", "above": 0.05, "for": "5m", "unit": "ratio"},
    "p95_latency": {"title": "p95 latency", "query": "p95_latency", "above": 0.5, "for": "10m",
                    "unit": "seconds"},
    "health_check": {"title": "Health check (up)", "query": "health", "below": 1, "for": "3m", "unit": "count"},
    "payment_failures": {"title": "Payment failures", "query": "payment_failures", "above": 0, "for": "0s",
                         "unit": "count"},
}

# The runbook's "Key Metrics to Monitor" table.
DEFAULT_METRICS: dict[str, dict[str, Any]] = {
    "error_rate": {"title": "Error Rate", "query": "error_rate", "warning": 0.01, "critical": 0.05,
                   "unit": "ratio"},
    "p95_latency": {"title": "p95 Latency", "query": "p95_latency", "warning": 0.3, "critical": 0.5,
                    "unit": "seconds"},
    "cpu_usage": {"title": "CPU Usage", "query": "cpu_usage", "warning": 0.7, "critical": 0.9, "unit": "ratio"},
    "memory_usage": {"title": "Memory Usage", "query": "memory_usage", "warning": 0.7, "critical": 0.9,
                     "unit": "ratio"},
    "active_connections": {"title": "Active Connections", "query": "active_connections", "warning": 0.8,
                           "critical": 0.95, "unit": "ratio"},
    "order_completion_rate": {"title": "Order Completion Rate", "query": "order_completion_rate",
                              "direction": "below", "warning": 0.9, "critical": 0.8, "unit": "ratio"},
}

# The runbook's "Sample Alert Rules", names, durations, labels and annotations as written.
DEFAULT_ALERTS: dict[str, dict[str, Any]] = {
    "HighErrorRate": {"query": "error_rate", "op": ">", "threshold": 0.05, "for": "5m", "severity": "critical",
                      "summary": "High error rate detected",
                      "description": "Error rate is {{ $value | humanizePercentage }}"},
    "HighLatency": {"query": "p95_latency", "op": ">", "threshold": 0.5, "for": "10m", "severity": "warning",
                    "summary": "High latency detected", "description": "p95 latency is {{ $value }}s"},
    "ServiceDown": {"query": "health", "op": "==", "threshold": 0, "for": "1m", "severity": "critical",
                    "summary": "Service {{ $labels.job }} is down",
                    "description": "{{ $labels.job }} has been down for more than 1 minute"},
}


@dataclass(frozen=True)
class Trigger:
    """A rollback trigger: `query` above (or below) `threshold` for the whole `window_s`."""

    name: str
    title: str
    query: str  # PromQL, `$window` already substituted
    direction: Direction
    threshold: float
    window_s: float  # 0: one instant sample ("detected")
    unit: str = "ratio"
    no_data: NoDataPolicy = "fail"

    def breaches(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value > self.threshold if self.direction == "above" else value < self.threshold

    def describe_threshold(self) -> str:
        sign = ">" if self.direction == "above" else "<"
        text = f"{sign} {format_value(self.threshold, self.unit)}"
        return text + (f" for {format_duration(self.window_s)}" if self.window_s > 0 else "")


@dataclass(frozen=True)
class Metric:
    """A row of the warning/critical table."""

    name: str
    title: str
    query: str
    direction: Direction
    warning: float
    critical: float
    unit: str = "ratio"
    for_s: float = 300.0  # `for:` of the generated warning/critical rules

    def level(self, value: float | None) -> str:
        """'critical', 'warning', 'ok' or 'no data' for a current value."""
        if value is None or math.isnan(value):
            return "no data"
        worse = (lambda a, b: a > b) if self.direction == "above" else (lambda a, b: a < b)
        if worse(value, self.critical):
            return "critical"
        if worse(value, self.warning):
            return "warning"
        return "ok"


@dataclass(frozen=True)
class AlertDef:
    """An explicit alert rule (the runbook's samples, plus any a team adds)."""

    name: str
    query: str
    op: str
    threshold: float
    for_s: float
    severity: str
    summary: str
    description: str

    @property
    def expr(self) -> str:
        return f"{self.query} {self.op} {format_number(self.threshold)}"


@dataclass(frozen=True)
class MonitoringSettings:
    prometheus_url: str | None = None
    poll_interval_s: float = 30.0
    query_timeout_s: float = 10.0
    rate_window_s: float = 300.0
    subquery_step_s: float = 30.0
    # Consecutive polls that may fail to reach Prometheus during a watch before it gives up.
    unreachable_tolerance: int = 3
    rule_group: str = "platform"
    rule_for_s: float = 300.0
    triggers: tuple[Trigger, ...] = ()
    metrics: tuple[Metric, ...] = ()
    alerts: tuple[AlertDef, ...] = ()
    queries: Mapping[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Durations and number formatting

def format_duration(seconds: float) -> str:
    """A PromQL duration: 300 -> '5m', 6 -> '6s', 0.5 -> '500ms', 90 -> '90s'."""
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def format_number(value: float) -> str:
    """PromQL literal without float noise: 0.05 -> '0.05', 1.0 -> '1'."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def format_value(value: float | None, unit: str) -> str:
    """Human form of a reading for the table."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if unit == "ratio":
        return f"{value * 100:.4g}%"
    if unit == "seconds":
        return f"{value * 1000:.4g}ms" if abs(value) < 1 else f"{value:.4g}s"
    return f"{value:.4g}"


# ---------------------------------------------------------------------------------------------
# PromQL building

def render_query(template: str, rate_window_s: float) -> str:
    """Substitute `$window` (the rate window) in a configured PromQL template.

    (Not `${window}`: the config loader reads `${NAME}` as an environment variable.)"""
    return template.replace("$window", format_duration(rate_window_s))


def windowed_query(trigger: Trigger, step_s: float) -> str:
    """ONE query whose result is non-empty only when the trigger's condition held all window long.

    Its value is the least bad value in the window (min for "above", max for "below"), so the
    trigger fires exactly when that value is beyond the threshold. Instant triggers (window 0)
    are the query itself.
    """
    if trigger.window_s <= 0:
        return trigger.query
    step_s = min(step_s, trigger.window_s)
    agg = "min_over_time" if trigger.direction == "above" else "max_over_time"
    inner = f"({trigger.query})[{format_duration(trigger.window_s)}:{format_duration(step_s)}]"
    needed = max(1, int(trigger.window_s // step_s))
    return f"{agg}({inner}) and count_over_time({inner}) >= {needed}"


def firing_query(trigger: Trigger, step_s: float) -> str:
    """The windowed query with the threshold comparison (shown in docs and `--dry`)."""
    sign = ">" if trigger.direction == "above" else "<"
    query = windowed_query(trigger, step_s)
    if trigger.window_s > 0:
        return f"({query}) {sign} {format_number(trigger.threshold)}"
    return f"{query} {sign} {format_number(trigger.threshold)}"


# ---------------------------------------------------------------------------------------------
# Evaluation of query results

@dataclass(frozen=True)
class Sample:
    """One series of an instant-query result."""

    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Reading:
    """One trigger (or metric) evaluated: the worst value across series, and the verdict."""

    name: str
    title: str
    value: float | None  # None: no series (no data, or window not yet fully covered)
    threshold: str  # human form, e.g. "> 5% for 5m"
    state: str  # a TriggerState (triggers); "critical", "warning", "ok", "no data" (metrics)
    labels: Mapping[str, str] = field(default_factory=dict)
    unit: str = "ratio"
    query: str = ""  # the PromQL that was asked (named when it has no data)
    error: str = ""  # why the state is `unknown`
    no_data_accepted: bool = False  # the trigger's `no_data: accept`

    @property
    def fired(self) -> bool:
        return self.state == "firing"

    @property
    def unverified(self) -> bool:
        """No data (not accepted) or unknown: nothing says this trigger is healthy."""
        return self.state == "unknown" or (self.state == "no-data" and not self.no_data_accepted)


def _worst(samples: Sequence[Sample], direction: Direction) -> Sample | None:
    values = [s for s in samples if not math.isnan(s.value)]
    if not values:
        return None
    pick = max if direction == "above" else min
    return pick(values, key=lambda s: s.value)


def evaluate_trigger(trigger: Trigger, samples: Sequence[Sample], query: str = "") -> Reading:
    """Verdict of a trigger from its windowed query's result (any breaching series fires)."""
    worst = _worst(samples, trigger.direction)
    state: TriggerState
    if worst is None:
        state = "no-data"
    else:
        state = "firing" if trigger.breaches(worst.value) else "ok"
    return Reading(trigger.name, trigger.title, None if worst is None else worst.value,
                   trigger.describe_threshold(), state, dict(worst.labels) if worst else {}, trigger.unit,
                   query=query or trigger.query, no_data_accepted=trigger.no_data == "accept")


def unknown_trigger(trigger: Trigger, error: str, query: str = "") -> Reading:
    """A trigger whose query failed: its state is unknown, never ok."""
    return Reading(trigger.name, trigger.title, None, trigger.describe_threshold(), "unknown", {}, trigger.unit,
                   query=query or trigger.query, error=error, no_data_accepted=trigger.no_data == "accept")


def evaluate_metric(metric: Metric, samples: Sequence[Sample]) -> Reading:
    worst = _worst(samples, metric.direction)
    value = None if worst is None else worst.value
    sign = ">" if metric.direction == "above" else "<"
    threshold = (f"warn {sign} {format_value(metric.warning, metric.unit)}, "
                 f"crit {sign} {format_value(metric.critical, metric.unit)}")
    return Reading(metric.name, metric.title, value, threshold, metric.level(value),
                   dict(worst.labels) if worst else {}, metric.unit)


def format_table(readings: Sequence[Reading], heading: str = "trigger") -> str:
    """Fixed-width table: trigger, value, threshold, state."""
    rows = [(heading, "value", "threshold", "state")]
    rows += [(r.title, format_value(r.value, r.unit), r.threshold, _shown_state(r)) for r in readings]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _shown_state(reading: Reading) -> str:
    if reading.fired:
        return "FIRING"  # the one state a person must not miss in a table
    if reading.state == "no-data" and reading.no_data_accepted:
        return "no-data (accepted)"
    return reading.state


# ---------------------------------------------------------------------------------------------
# Parsing the `monitoring:` section (defaults: the runbook's values)

_SECTION_KEYS = frozenset({
    "prometheus_url", "poll_interval", "query_timeout", "rate_window", "subquery_step",
    "unreachable_tolerance", "rule_group", "rule_for", "runbook_defaults", "queries",
    "rollback_triggers", "metrics", "alerts",
})
_TRIGGER_KEYS = frozenset({"title", "query", "above", "below", "for", "unit", "enabled", "no_data"})
_METRIC_KEYS = frozenset({"title", "query", "direction", "warning", "critical", "unit", "for", "enabled"})
_ALERT_KEYS = frozenset({"query", "op", "threshold", "for", "severity", "summary", "description", "enabled"})


def parse_monitoring(node: Node, services: Sequence[MonitoredService] = (),
                     platform: str = "platform") -> MonitoringSettings:
    """Settings from the config's top-level `monitoring:` section (a line-aware Node).

    Triggers, metrics and alerts are mappings keyed by name: an entry named like a runbook
    default overrides only the fields it gives, `enabled: false` drops it, a new name adds one,
    and `runbook_defaults: false` starts from none. Default queries that name services cover
    `services` (the config's own); the default rule group is named after `platform`.
    """
    node.unknown_keys(_SECTION_KEYS)
    use_defaults = node.bool("runbook_defaults", True)
    rate_window = node.duration("rate_window", "5m")
    queries = {**DEFAULT_QUERIES, **service_queries(services)} if use_defaults else {}
    queries.update(node.str_map("queries", {}))

    def query(entry: Node | None, default: Mapping[str, Any]) -> str:
        raw_node = entry.get("query") if entry is not None else None
        raw = raw_node.value if raw_node is not None and raw_node.value is not None else default.get("query")
        if raw is None or not isinstance(raw, str) or not raw.strip():
            where = raw_node or entry or node
            raise where.error("expected a query: a name from monitoring.queries or a PromQL expression")
        return render_query(queries.get(raw, raw), rate_window)

    triggers = []
    for name, entry, default in _entries(node, "rollback_triggers", DEFAULT_TRIGGERS, use_defaults, _TRIGGER_KEYS):
        direction, threshold = _direction(entry, default)
        triggers.append(Trigger(
            name=name,
            title=_pick(entry, default, "title", "str", name),
            query=query(entry, default),
            direction=direction,
            threshold=threshold,
            window_s=_pick(entry, default, "for", "duration", 0.0),
            unit=_pick(entry, default, "unit", "choice", "ratio"),
            no_data=_pick(entry, default, "no_data", "no_data", "fail"),
        ))
    rule_for = node.duration("rule_for", "5m")
    metrics = []
    for name, entry, default in _entries(node, "metrics", DEFAULT_METRICS, use_defaults, _METRIC_KEYS):
        metrics.append(Metric(
            name=name,
            title=_pick(entry, default, "title", "str", name),
            query=query(entry, default),
            direction=_pick(entry, default, "direction", "direction", "above"),
            warning=_pick(entry, default, "warning", "float", None, required=True),
            critical=_pick(entry, default, "critical", "float", None, required=True),
            unit=_pick(entry, default, "unit", "choice", "ratio"),
            for_s=_pick(entry, default, "for", "duration", rule_for),
        ))
    alerts = []
    for name, entry, default in _entries(node, "alerts", DEFAULT_ALERTS, use_defaults, _ALERT_KEYS):
        alerts.append(AlertDef(
            name=name,
            query=query(entry, default),
            op=_pick(entry, default, "op", "op", ">"),
            threshold=_pick(entry, default, "threshold", "float", None, required=True),
            for_s=_pick(entry, default, "for", "duration", 0.0),
            severity=_pick(entry, default, "severity", "str", "warning"),
            summary=_pick(entry, default, "summary", "str", name),
            description=_pick(entry, default, "description", "str", ""),
        ))
    tolerance = node.int("unreachable_tolerance", 3)
    if tolerance < 0:
        raise (node.get("unreachable_tolerance") or node).error("expected 0 or more")
    settings = MonitoringSettings(
        prometheus_url=node.str("prometheus_url", None) or None,
        poll_interval_s=node.duration("poll_interval", "30s"),
        query_timeout_s=node.duration("query_timeout", "10s"),
        rate_window_s=rate_window,
        subquery_step_s=node.duration("subquery_step", "30s"),
        unreachable_tolerance=tolerance,
        rule_group=node.str("rule_group", platform),
        rule_for_s=rule_for,
        triggers=tuple(triggers),
        metrics=tuple(metrics),
        alerts=tuple(alerts),
        queries=queries,
    )
    for key, value in (("poll_interval", settings.poll_interval_s), ("query_timeout", settings.query_timeout_s),
                       ("rate_window", settings.rate_window_s), ("subquery_step", settings.subquery_step_s)):
        if value <= 0:
            raise (node.get(key) or node).error("expected a duration above zero")
    return settings


def _entries(section: Node, key: str, defaults: Mapping[str, Mapping[str, Any]], use_defaults: bool,
             allowed: frozenset[str]) -> list[tuple[str, Node | None, Mapping[str, Any]]]:
    """(name, config entry or None, default fields) in order: defaults first, then additions."""
    configured: dict[str, Node] = {}
    for name, given in section.section(key).items():
        given.unknown_keys(allowed)
        configured[name] = given
    names = (list(defaults) if use_defaults else []) + [n for n in configured if not (use_defaults and n in defaults)]
    result: list[tuple[str, Node | None, Mapping[str, Any]]] = []
    for name in names:
        entry = configured.get(name)
        if entry is not None and not entry.bool("enabled", True):
            continue
        result.append((name, entry, defaults.get(name, {}) if use_defaults else {}))
    return result


def _pick(entry: Node | None, default: Mapping[str, Any], key: str, kind: str, fallback: Any,  # noqa: ANN401
          required: bool = False) -> Any:  # noqa: ANN401 - a str or a float as `kind` says; the fields type it
    """A field from the config entry, else the runbook default, else `fallback`."""
    given = entry.get(key) if entry is not None else None
    if entry is not None and given is not None and given.value is not None:
        if kind == "str":
            return entry.str(key)
        if kind == "float":
            return entry.float(key)
        if kind == "duration":
            return entry.duration(key)
        if kind == "choice":
            return entry.choice(key, UNITS)
        if kind == "direction":
            return entry.choice(key, ("above", "below"))
        if kind == "op":
            return entry.choice(key, OPS)
        if kind == "no_data":
            return entry.choice(key, NO_DATA_POLICIES)
        raise AssertionError(kind)
    if key in default:
        return validate.duration(default[key]) if kind == "duration" else default[key]
    if required:
        assert entry is not None, f"runbook default lacks {key}"
        raise entry.error(f"missing required key {key!r}")
    return fallback


def _direction(entry: Node | None, default: Mapping[str, Any]) -> tuple[Direction, float]:
    if entry is not None:
        given = [k for k in ("above", "below") if entry.get(k) is not None]
        if len(given) > 1:
            raise entry.error("give either 'above' or 'below', not both")
        if given:
            return ("above" if given[0] == "above" else "below"), entry.float(given[0])
    for key in ("above", "below"):
        if key in default:
            return ("above" if key == "above" else "below"), float(default[key])
    assert entry is not None, "runbook default lacks a threshold"
    raise entry.error("missing threshold: give 'above: N' or 'below: N'")
