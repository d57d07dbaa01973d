"""Evaluate rollback triggers against Prometheus: once (`check`) or for a period (`watch`).

`watch` is also `deploy.production`'s verification period: it polls every interval, and the
first poll on which a rollback trigger fires calls `on_breach` at once (so the rollback starts
within one polling interval of the breach being visible in Prometheus). A poll that cannot
reach Prometheus is tolerated `monitoring.unreachable_tolerance` times in a row; after that,
or if the period ends without a successful final poll, `PrometheusUnreachable` is raised:
an unknown state is never reported as healthy.

No data is not healthy either (docs/monitoring.md "No data"): `check` reports a trigger whose
query answered with no series as `no-data`, and the task exits 5 for it unless the trigger says
`no_data: accept`. A watch treats a trigger that had no data for its whole window (or for the whole
watch, when the watch is shorter) as a failed verification: `on_breach` gets that reading. A
firing trigger always wins over one without data, so a silent trigger never hides a breach.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from retail_deploy.errors import DependencyUnavailable, InputError, OperationFailed, RetailDeployError
from retail_deploy.monitoring.prometheus import (
    PrometheusClient,
    PrometheusQueryError,
    PrometheusUnreachable,
    display_url,
)
from retail_deploy.monitoring.triggers import (
    HEALTH_TRIGGER,
    MonitoredService,
    MonitoringSettings,
    Reading,
    Trigger,
    evaluate_metric,
    evaluate_trigger,
    format_duration,
    format_value,
    parse_monitoring,
    unknown_trigger,
    windowed_query,
)

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig


def monitoring_settings(cfg: PlatformConfig) -> MonitoringSettings:
    """The `monitoring:` section; default queries watch the config's own services."""
    services = [MonitoredService(job=s.app_label, container=s.container) for s in cfg.services.values()]
    return parse_monitoring(cfg.section("monitoring"), services, cfg.platform)


def prometheus_url(cfg: PlatformConfig, env: EnvironmentConfig | str,
                   settings: MonitoringSettings | None = None) -> str | None:
    """The environment's `prometheus_url`, else `monitoring.prometheus_url`; None when neither is set
    (then `deploy.production` keeps its plain verification period)."""
    env = cfg.environment(env) if isinstance(env, str) else env
    settings = settings or monitoring_settings(cfg)
    return env.prometheus_url or settings.prometheus_url or None


def health_check_window(cfg: PlatformConfig, settings: MonitoringSettings | None = None) -> float:
    """Seconds an endpoint must fail on every check before the verification period's health-check
    fallback (no Prometheus) rolls back: the `for` of the `health_check` rollback trigger as this
    config resolves it (runbook: 3m). 0, the first failed check, when that trigger is disabled."""
    settings = settings or monitoring_settings(cfg)
    return next((t.window_s for t in settings.triggers if t.name == HEALTH_TRIGGER), 0.0)


def client_for(cfg: PlatformConfig, env: EnvironmentConfig | str,
               settings: MonitoringSettings | None = None) -> PrometheusClient:
    env = cfg.environment(env) if isinstance(env, str) else env
    settings = settings or monitoring_settings(cfg)
    url = prometheus_url(cfg, env, settings)
    if not url:
        raise InputError(
            f"no Prometheus configured for environment {env.name!r}: set environments.{env.name}.prometheus_url "
            "or monitoring.prometheus_url (e.g. ${PROMETHEUS_URL:-})")
    return PrometheusClient(url, timeout=settings.query_timeout_s)


def evaluate_triggers(client: PrometheusClient, settings: MonitoringSettings) -> list[Reading]:
    """Every rollback trigger, one windowed query each. A query Prometheus rejects makes that
    trigger `unknown` and the others are still read (one bad query never hides a breach);
    an unreachable Prometheus raises `PrometheusUnreachable` at once (every query would fail)."""
    readings = []
    for trigger in settings.triggers:
        query = windowed_query(trigger, settings.subquery_step_s)
        try:
            readings.append(evaluate_trigger(trigger, client.query(query), query))
        except PrometheusQueryError as error:
            readings.append(unknown_trigger(trigger, str(error), query))
    return readings


def evaluate_metrics(client: PrometheusClient, settings: MonitoringSettings) -> list[Reading]:
    """Current value of every row of the warning/critical table."""
    return [evaluate_metric(m, client.query(m.query)) for m in settings.metrics]


@dataclass(frozen=True)
class CheckResult:
    environment: str
    prometheus: str  # URL without credentials
    triggers: tuple[Reading, ...]
    metrics: tuple[Reading, ...] = ()

    @property
    def fired(self) -> list[Reading]:
        return [r for r in self.triggers if r.fired]

    @property
    def unverified(self) -> list[Reading]:
        """Triggers with no data (not accepted) or an unknown state: nothing says they are healthy."""
        return [r for r in self.triggers if r.unverified]

    @property
    def ok(self) -> bool:
        return not self.fired and not self.unverified


def check(cfg: PlatformConfig, env: EnvironmentConfig | str, *, include_metrics: bool = True,
          client: PrometheusClient | None = None) -> CheckResult:
    """Evaluate every rollback trigger (and the metrics table) now."""
    env = cfg.environment(env) if isinstance(env, str) else env
    settings = monitoring_settings(cfg)
    owned = client is None
    client = client or client_for(cfg, env, settings)
    try:
        triggers = evaluate_triggers(client, settings)
        metrics = evaluate_metrics(client, settings) if include_metrics else []
    finally:
        if owned:
            client.close()
    return CheckResult(env.name, client.display, tuple(triggers), tuple(metrics))


def describe(reading: Reading) -> str:
    """'Error rate is 7.2% (> 5% for 5m)'; for a trigger without data or with an unknown state,
    which trigger and which query."""
    if reading.state == "no-data":
        return f"{reading.title} ({reading.name}) has no data: no series for {reading.query}"
    if reading.state == "unknown":
        return f"{reading.title} ({reading.name}) is unknown: {reading.error}"
    return f"{reading.title} is {format_value(reading.value, reading.unit)} ({reading.threshold})"


def check_error(result: CheckResult) -> RetailDeployError | None:
    """What `monitor.check` (task and library) raises for a result, None when it is healthy: a firing
    trigger first (exit 1, whatever the others say), then a query Prometheus rejected (exit 2),
    then a trigger with no data that does not accept it (exit 5, naming the trigger and its query)."""
    env = result.environment
    if result.fired:
        names = "; ".join(describe(r) for r in result.fired)
        return OperationFailed(f"{len(result.fired)} rollback trigger(s) firing in {env}: {names}; "
                               f"roll back: retail-deploy rollback.undo --env {env}")
    rejected = [r for r in result.unverified if r.state == "unknown"]
    if rejected:
        return PrometheusQueryError(rejected[0].error)
    if result.unverified:
        return DependencyUnavailable(
            f"{len(result.unverified)} rollback trigger(s) of {env} cannot say the platform is healthy: "
            f"{'; '.join(describe(r) for r in result.unverified)} "
            "(check the metric names, or give the trigger no_data: accept)")
    return None


def no_data_window(trigger: Trigger, duration_s: float) -> float:
    """Seconds without data after which a watch counts a trigger as failed: its window, or the
    whole watch when that is shorter (a watch must not end "verified" on a trigger it never read)."""
    return min(trigger.window_s, duration_s)


@dataclass(frozen=True)
class WatchResult:
    environment: str
    duration_s: float
    interval_s: float
    polls: int
    breach: Reading | None = None
    # Seconds from the start of the watch to the poll that saw the breach.
    breach_at_s: float | None = None
    unreachable_polls: int = 0
    # Triggers that never had data: they could not have fired (wrong metric names?). A breach
    # whose state is `no-data` is one of them that stayed silent for its whole window.
    never_had_data: tuple[str, ...] = ()
    last: tuple[Reading, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.breach is None


def watch(cfg: PlatformConfig, env: EnvironmentConfig | str, duration_s: float, *,
          interval_s: float | None = None, on_breach: Callable[[Reading], object] | None = None,
          say: Callable[[str], None] = print, client: PrometheusClient | None = None,
          clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> WatchResult:
    """Poll the rollback triggers for `duration_s`; stop at the first that fires, or that has had
    no data for its whole window (`no_data_window`; not for a trigger with `no_data: accept`).

    `on_breach(reading)` is called at once on that poll (the caller rolls back there); its
    exceptions propagate. A query Prometheus rejects raises `PrometheusQueryError` (exit 2). Returns the result either way; raises `PrometheusUnreachable` when
    Prometheus stayed unreachable beyond the tolerance or at the end of the period.
    """
    env = cfg.environment(env) if isinstance(env, str) else env
    settings = monitoring_settings(cfg)
    interval = float(interval_s if interval_s is not None else settings.poll_interval_s)
    if interval <= 0 or duration_s < 0:
        raise InputError("watch needs an interval above zero and a duration of zero or more")
    owned = client is None
    client = client or client_for(cfg, env, settings)
    say(f"watching {len(settings.triggers)} rollback triggers of {env.name} for {format_duration(duration_s)} "
        f"(every {format_duration(interval)}, Prometheus {display_url(client.display)})")
    start = clock()
    deadline = start + duration_s
    polls = unreachable = in_a_row = 0
    seen_data: set[str] = set()
    silent_since: dict[str, float] = {}  # trigger -> first poll of its current run without data
    by_name = {t.name: t for t in settings.triggers}
    first_read: float | None = None  # the first poll that read the triggers
    readings: Sequence[Reading] = ()
    try:
        while True:
            polls += 1
            at = clock()
            try:
                readings = evaluate_triggers(client, settings)
                in_a_row = 0
            except PrometheusUnreachable as error:
                unreachable += 1
                in_a_row += 1
                say(f"poll {polls}: {error}")
                if in_a_row > settings.unreachable_tolerance:
                    raise PrometheusUnreachable(
                        f"{error} ({in_a_row} polls in a row; {env.name} was not verified)") from None
                readings = ()
            seen_data.update(r.name for r in readings if r.value is not None)
            if readings and first_read is None:
                first_read = at
            final = clock() >= deadline
            fired = [r for r in readings if r.fired]
            if not fired:
                fired = _silent_too_long(readings, by_name, silent_since, at, first_read or at, duration_s, final)
            if fired:
                elapsed = clock() - start
                if fired[0].fired:
                    say(f"poll {polls}: rollback trigger FIRED: {describe(fired[0])}")
                else:
                    say(f"poll {polls}: verification FAILED: {describe(fired[0])} "
                        f"for {format_duration(at - silent_since.get(fired[0].name, at))}")
                if on_breach is not None:
                    on_breach(fired[0])
                return WatchResult(env.name, duration_s, interval, polls, fired[0], elapsed, unreachable,
                                   _missing(settings, seen_data), tuple(readings))
            rejected = [r for r in readings if r.state == "unknown"]
            if rejected:  # a query Prometheus refuses is a config error: say so now, not after a window
                raise PrometheusQueryError(rejected[0].error)
            if readings:
                say(f"poll {polls}: " + "; ".join(f"{r.title} {format_value(r.value, r.unit)} {r.state}"
                                                  for r in readings))
            if final:
                break
            # Ticks are anchored to the start so slow queries do not stretch the interval.
            next_tick = min(start + polls * interval, deadline)
            sleep(max(0.0, next_tick - clock()))
    finally:
        if owned:
            client.close()
    if in_a_row:
        raise PrometheusUnreachable(
            f"the last poll could not reach Prometheus at {client.display}: {env.name} was not verified")
    return WatchResult(env.name, duration_s, interval, polls, None, None, unreachable,
                       _missing(settings, seen_data), tuple(readings))


def _silent_too_long(readings: Sequence[Reading], triggers: dict[str, Trigger], silent_since: dict[str, float],
                     at: float, first_read: float, duration_s: float, final: bool) -> list[Reading]:
    """Update each trigger's run of polls without data (poll at `at`); the triggers whose run now
    covers their window, or the whole watch at its final poll (`no_data_window`)."""
    failed = []
    for reading in readings:
        if reading.state != "no-data":
            silent_since.pop(reading.name, None)
            continue
        since = silent_since.setdefault(reading.name, at)
        if reading.no_data_accepted:
            continue
        window = no_data_window(triggers[reading.name], duration_s)
        if at - since >= window or (final and since <= first_read):
            failed.append(reading)
    return failed


def _missing(settings: MonitoringSettings, seen: set[str]) -> tuple[str, ...]:
    return tuple(t.name for t in settings.triggers if t.name not in seen)
