"""`status`: what runs where, and whether it is healthy, in one concurrent pass of reads.

Why one module gathers it all: a person asking "which version is live in production, on which
colour, is a deploy running, who deployed last, is it healthy, is a trigger firing" otherwise runs
rollback.history, lock.status, health.check and monitor.check one after another. Here every read
of every environment starts at once (threads: the reads wait on a cluster, an engine, HTTP and
Prometheus, not on the CPU), each through the public face that already owns the fact (the Target
seam's `serving`/`colours`/`read_lock`/`read_history`, `health.checks`, `monitoring.monitor`), so
nothing here knows a target. `decide` is pure: facts in, a verdict and its reasons out.

Verdict per environment: unhealthy when something is known to be wrong (a service not running,
fewer replicas ready than wanted, a failed health check, a firing trigger); otherwise "unknown"
when a read did not answer or a trigger could not say (no data, unknown): nothing is called
healthy that was not seen healthy; otherwise healthy. Exit codes: 0 healthy, 1 unhealthy, 5 could
not find out (docs/architecture.md, "Public contract").
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from retail_deploy import redact
from retail_deploy.errors import EXIT_FAILED, EXIT_UNAVAILABLE

if TYPE_CHECKING:
    from datetime import datetime

    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner
    from retail_deploy.health.checks import CheckResult
    from retail_deploy.monitoring.monitor import CheckResult as TriggerCheck
    from retail_deploy.monitoring.triggers import Reading
    from retail_deploy.targets import Serving
    from retail_deploy.targets.history import LockInfo

HEALTHY, UNHEALTHY, UNKNOWN = "healthy", "unhealthy", "unknown"
EXIT_CODES = {HEALTHY: 0, UNHEALTHY: EXIT_FAILED, UNKNOWN: EXIT_UNAVAILABLE}

# Results a finished record carries (targets/policy.py). Anything else, such as `running` in a
# record written when a deploy starts, is shown as UNFINISHED: the deploy is still going, or the
# process died before it could write its end.
FINISHED_RESULTS = frozenset({"succeeded", "failed", "rolled-back", "interrupted"})
UNFINISHED = "in progress or interrupted"

# Serving's fields that have their own column; any other field a target fills is shown as is.
_SERVING_COLUMNS = frozenset({"version", "colour", "image", "ready", "desired", "since"})

# A status is a snapshot: one retry, not the health task's two, keeps a dead endpoint from
# slowing the whole pass.
HEALTH_TIMEOUT_S = 5.0
HEALTH_RETRIES = 1


# --------------------------------------------------------------------------------------------
# The typed result (`to_dict()` is the `status --json` document, docs/json.md)


@dataclass(frozen=True)
class LastDeploy:
    """The newest deploy record that touched a service (or the environment)."""

    version: str
    who: str
    start: str
    end: str
    result: str  # as recorded: succeeded, failed, rolled-back, interrupted, running, ...

    @property
    def outcome(self) -> str:
        """The result for people: a result we do not know as finished reads "in progress or interrupted"."""
        return self.result if self.result in FINISHED_RESULTS else UNFINISHED

    @property
    def when(self) -> str:
        return self.end or self.start


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    version: str | None  # None: nothing serves it
    colour: str = ""
    ready: int | None = None
    desired: int | None = None
    image: str = ""
    since: str = ""
    health: str = "unchecked"  # healthy, unhealthy, unchecked (no endpoint), unknown (not read)
    health_detail: str = ""
    last_deploy: LastDeploy | None = None
    extra: Mapping[str, str] = field(default_factory=dict)  # further facts the target reports


@dataclass(frozen=True)
class TriggerStatus:
    name: str
    title: str
    state: str  # the monitor's own word for it
    value: float | None
    threshold: str
    unit: str
    firing: bool
    unverified: bool  # nothing says it is healthy (no data, unknown): the verdict cannot be healthy


@dataclass(frozen=True)
class LockState:
    holder: str
    version: str
    acquired: str
    expires: str
    expired: bool


@dataclass(frozen=True)
class EnvironmentStatus:
    environment: str
    target: str
    where: str
    verdict: str  # healthy, unhealthy, unknown
    services: tuple[ServiceStatus, ...]
    colours: Mapping[str, str | None] = field(default_factory=dict)  # blue-green: colour -> version
    lock: LockState | None = None
    last_deploy: LastDeploy | None = None
    triggers: tuple[TriggerStatus, ...] = ()
    monitoring: str = ""  # the Prometheus asked, or why triggers were not read
    problems: tuple[str, ...] = ()  # what makes it unhealthy
    unanswered: tuple[str, ...] = ()  # what could not be found out

    @property
    def firing(self) -> tuple[TriggerStatus, ...]:
        return tuple(t for t in self.triggers if t.firing)


@dataclass(frozen=True)
class PlatformStatus:
    checked_at: str  # ISO 8601 UTC
    environments: tuple[EnvironmentStatus, ...]
    seconds: float = 0.0  # how long the pass took

    @property
    def verdict(self) -> str:
        verdicts = {e.verdict for e in self.environments}
        return UNHEALTHY if UNHEALTHY in verdicts else UNKNOWN if UNKNOWN in verdicts else HEALTHY

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def ok(self) -> bool:
        return self.verdict == HEALTHY

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for env, status in zip(data["environments"], self.environments, strict=True):
            env["firing"] = [t.name for t in status.firing]
            for service, state in zip(env["services"], status.services, strict=True):
                _outcome(service["last_deploy"], state.last_deploy)
            _outcome(env["last_deploy"], status.last_deploy)
        document = redact.redact_data({"ok": self.ok, "verdict": self.verdict, "exit_code": self.exit_code, **data})
        assert isinstance(document, dict)
        return document


def _outcome(data: dict[str, Any] | None, deploy: LastDeploy | None) -> None:
    if data is not None and deploy is not None:
        data["outcome"] = deploy.outcome


# --------------------------------------------------------------------------------------------
# Facts (what the reads returned) and the pure decision


@dataclass
class Facts:
    """What one environment's reads gave; a read that failed leaves None and its error."""

    serving: Mapping[str, Serving] | None = None
    colours: Mapping[str, str | None] | None = None
    lock: LockInfo | None = None
    history: Sequence[Mapping[str, Any]] | None = None
    health: Sequence[CheckResult] | None = None
    triggers: TriggerCheck | None = None
    monitoring: str = ""  # the Prometheus asked, or "not configured"
    errors: dict[str, str] = field(default_factory=dict)  # read -> why it did not answer


def last_deploy(records: Sequence[Mapping[str, Any]], service: str | None = None) -> LastDeploy | None:
    """The newest `deploy` record (of `service`: one whose services include it, or name none)."""
    for entry in reversed(records):
        if entry.get("action", "deploy") != "deploy":
            continue
        services = [str(s) for s in entry.get("services") or ()]
        if service is not None and services and service not in services:
            continue
        return LastDeploy(str(entry.get("version", "")), str(entry.get("who", "")), str(entry.get("start", "")),
                          str(entry.get("end", "")), str(entry.get("result", "")))
    return None


def extra_facts(serving: Serving) -> dict[str, str]:
    """The fields a target adds to Serving beyond the status columns (e.g. which container
    serves), shown as they are when set."""
    out = {}
    for item in dataclasses.fields(serving):
        value = getattr(serving, item.name)
        if item.name not in _SERVING_COLUMNS and value not in (None, "", (), {}):
            out[item.name] = str(value)
    return out


def _service_health(results: Sequence[CheckResult] | None, service: str) -> tuple[str, str]:
    if results is None:
        return UNKNOWN, ""
    mine = [r for r in results if r.endpoint.service == service]
    if not mine:
        return "unchecked", ""
    failed = [r for r in mine if not r.ok]
    if not failed:
        return HEALTHY, ""
    return UNHEALTHY, "; ".join(f"{r.name}: {r.error}" for r in failed)


def _unverified(reading: Reading) -> bool:
    """The monitor's own judgement where its reading makes one (`unverified`: no data it does not
    accept, or an unknown state); otherwise any state but ok that is not firing."""
    judged = getattr(reading, "unverified", None)
    if isinstance(judged, bool):
        return judged
    return not reading.fired and reading.state.lower() != "ok"


def _triggers(check: TriggerCheck | None) -> tuple[TriggerStatus, ...]:
    if check is None:
        return ()
    return tuple(TriggerStatus(r.name, r.title, r.state, r.value, r.threshold, r.unit, r.fired,
                               not r.fired and _unverified(r)) for r in check.triggers)


def _lock(info: LockInfo | None, now: datetime) -> LockState | None:
    if info is None:
        return None
    return LockState(info.holder, info.version, info.acquired, info.expires, info.expired(now))


def decide(environment: str, target: str, where: str, services: Sequence[str], facts: Facts,
           now: datetime) -> EnvironmentStatus:
    """The status of one environment from its facts: pure, tested without any service."""
    records = facts.history or ()
    rows: list[ServiceStatus] = []
    problems: list[str] = []
    unanswered = [f"{read}: {why}" for read, why in facts.errors.items()]
    for name in services:
        serving = facts.serving.get(name) if facts.serving is not None else None
        health, detail = _service_health(facts.health, name)
        rows.append(ServiceStatus(
            name, serving.version if serving else None, serving.colour if serving else "",
            serving.ready if serving else None, serving.desired if serving else None,
            serving.image if serving else "", serving.since if serving else "", health, detail,
            last_deploy(records, name) if facts.history is not None else None,
            extra_facts(serving) if serving else {}))
        if facts.serving is not None and (serving is None or serving.version is None):
            problems.append(f"{name}: not running")
        elif serving is not None and serving.ready is not None and serving.desired is not None \
                and serving.ready < serving.desired:
            problems.append(f"{name}: {serving.ready}/{serving.desired} ready")
        if health == UNHEALTHY:
            problems.append(f"{name}: health check failed ({detail})")
    triggers = _triggers(facts.triggers)
    for trigger in triggers:
        if trigger.firing:
            problems.append(f"rollback trigger firing: {trigger.title} ({trigger.threshold})")
        elif trigger.unverified:
            unanswered.append(f"trigger {trigger.title}: {trigger.state}")
    verdict = UNHEALTHY if problems else UNKNOWN if unanswered else HEALTHY
    return EnvironmentStatus(
        environment, target, where, verdict, tuple(rows), dict(facts.colours or {}), _lock(facts.lock, now),
        last_deploy(records) if facts.history is not None else None, triggers, facts.monitoring,
        tuple(problems), tuple(unanswered))


# --------------------------------------------------------------------------------------------
# Gathering: every read of every environment at once


def _why(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return redact.redact(" ".join(text.split()))


def gather(runner: Runner, cfg: PlatformConfig, environments: Sequence[EnvironmentConfig], *,
           health_timeout_s: float = HEALTH_TIMEOUT_S, health_retries: int = HEALTH_RETRIES) -> PlatformStatus:
    """One pass: per environment its target's serving/colours/lock/history reads, its health
    checks and its rollback triggers, all started at once; then `decide` for each."""
    import time

    from retail_deploy.health import checks as health
    from retail_deploy.monitoring import monitor
    from retail_deploy.targets import history as audit
    from retail_deploy.targets import target_for

    started = time.monotonic()
    now = audit.utcnow()
    jobs: list[tuple[str, str, Callable[[], object]]] = []
    facts: dict[str, Facts] = {}
    targets = {}
    for env in environments:
        facts[env.name] = Facts()
        target = targets[env.name] = target_for(runner, cfg, env)
        endpoints = health.endpoints_for(cfg, env)
        jobs += [(env.name, "serving", target.serving), (env.name, "colours", target.colours),
                 (env.name, "lock", target.read_lock), (env.name, "history", target.read_history),
                 (env.name, "health", _bind(health.check_endpoints, endpoints, timeout=health_timeout_s,
                                            retries=health_retries))]
        url = monitor.prometheus_url(cfg, env)
        if url:
            from retail_deploy.monitoring.prometheus import display_url

            facts[env.name].monitoring = display_url(url)
            jobs.append((env.name, "triggers", _bind(monitor.check, cfg, env, include_metrics=False)))
        else:
            facts[env.name].monitoring = "not configured"
    with ThreadPoolExecutor(max_workers=max(1, len(jobs)), thread_name_prefix="status") as pool:
        # Each read runs in a copy of this context: a dry run's "print every read" reaches the threads.
        futures: list[tuple[str, str, Future[object]]] = [
            (name, read, pool.submit(contextvars.copy_context().run, job)) for name, read, job in jobs]
        for name, read, future in futures:
            try:
                setattr(facts[name], read, future.result())
            except Exception as error:  # noqa: BLE001 - a read that failed is reported, never hidden
                facts[name].errors[read] = _why(error)
    statuses = tuple(decide(env.name, targets[env.name].kind, targets[env.name].where, list(cfg.services),
                            facts[env.name], now) for env in environments)
    return PlatformStatus(audit.iso(now), statuses, round(time.monotonic() - started, 3))


def _bind(function: Callable[..., object], *args: object, **kwargs: object) -> Callable[[], object]:
    return lambda: function(*args, **kwargs)
