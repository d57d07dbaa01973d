"""Evaluate rollback triggers against Prometheus: once (`check`) or for a period (`watch`).

`watch` is also `deploy.production`'s verification period: it polls every interval, and the
first poll on which a rollback trigger fires calls `on_breach` at once (so the rollback starts
within one polling interval of the breach being visible in Prometheus). A poll that cannot
reach Prometheus is tolerated `monitoring.unreachable_tolerance` times in a row; after that,
or if the period ends without a successful final poll, `PrometheusUnreachable` is raised:
an unknown state is never reported as healthy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from retail_deploy.errors import InputError
from retail_deploy.monitoring.prometheus import PrometheusClient, PrometheusUnreachable, display_url
from retail_deploy.monitoring.triggers import (
    HEALTH_TRIGGER,
    MonitoredService,
    MonitoringSettings,
    Reading,
    evaluate_metric,
    evaluate_trigger,
    format_duration,
    format_value,
    parse_monitoring,
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
    """Every rollback trigger, one windowed query each."""
    return [evaluate_trigger(t, client.query(windowed_query(t, settings.subquery_step_s)))
            for t in settings.triggers]


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
    """'Error rate is 7.2% (> 5% for 5m)'."""
    return f"{reading.title} is {format_value(reading.value, reading.unit)} ({reading.threshold})"


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
    # Triggers that never had data: they could not have fired (wrong metric names?).
    never_had_data: tuple[str, ...] = ()
    last: tuple[Reading, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.breach is None


def watch(cfg: PlatformConfig, env: EnvironmentConfig | str, duration_s: float, *,
          interval_s: float | None = None, on_breach: Callable[[Reading], object] | None = None,
          say: Callable[[str], None] = print, client: PrometheusClient | None = None,
          clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> WatchResult:
    """Poll the rollback triggers for `duration_s`; stop at the first that fires.

    `on_breach(reading)` is called at once on that poll (the caller rolls back there); its
    exceptions propagate. Returns the result either way; raises `PrometheusUnreachable` when
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
    readings: Sequence[Reading] = ()
    try:
        while True:
            polls += 1
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
            fired = [r for r in readings if r.fired]
            if fired:
                at = clock() - start
                say(f"poll {polls}: rollback trigger FIRED: {describe(fired[0])}")
                if on_breach is not None:
                    on_breach(fired[0])
                return WatchResult(env.name, duration_s, interval, polls, fired[0], at, unreachable,
                                   _missing(settings, seen_data), tuple(readings))
            if readings:
                say(f"poll {polls}: " + "; ".join(f"{r.title} {format_value(r.value, r.unit)} {r.state}"
                                                  for r in readings))
            if clock() >= deadline:
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


def _missing(settings: MonitoringSettings, seen: set[str]) -> tuple[str, ...]:
    return tuple(t.name for t in settings.triggers if t.name not in seen)
