"""The library face: the runbook's primitives, one call each, for other Python scripts.

    from retail_deploy.api import load_platform, build, deploy, smoke_test, rollback

Why this module exists: the primitives live in chapter modules (build, docker_target, deployer,
kube_verify, health, smoke, migrations, rollback, history, monitor), each with its own calling
convention (a Runner, a config object, an environment object, a report type). Here each becomes
one function with keyword arguments named like the CLI options (`version`, `env`, `services`,
`skip_tests`, `to_version`, ...), a frozen dataclass result that says what happened (with
`to_dict()`, the same document the task's `--json` prints), and the CLI's exceptions: every
failure is a `RetailDeployError` whose class says the exit code and whose `str()` is the one line
the CLI would print (see docs/library.md). Nothing here decides or acts on its own: it wraps the
chapter modules, so the CLI and a script do exactly the same thing.

Every function that changes something takes `dry_run=True`: the plan is printed as `$ command`
lines on `out` (default stdout), nothing is changed, and the result says `dry_run=True`.
Heavy modules (docker, requests, pymongo, fabric) are imported inside the functions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import IO, TYPE_CHECKING, Any

from retail_deploy import redact
from retail_deploy.config import EnvironmentConfig, PlatformConfig
from retail_deploy.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_ROLLED_BACK,
    EXIT_UNAVAILABLE,
    ConfigError,
    DependencyUnavailable,
    InputError,
    Interrupted,
    LockHeld,
    OperationFailed,
    RetailDeployError,
    RolledBack,
)
from retail_deploy.overview.status import PlatformStatus

if TYPE_CHECKING:
    from retail_deploy.build.service import BuildReport
    from retail_deploy.execute import Runner
    from retail_deploy.health.checks import CheckResult
    from retail_deploy.health.smoke import SmokeReport
    from retail_deploy.migrations.plan import Status
    from retail_deploy.monitoring.monitor import CheckResult as TriggerCheck
    from retail_deploy.monitoring.triggers import Reading
    from retail_deploy.targets import Report, ServiceReport
    from retail_deploy.targets.history import LockInfo
    from retail_deploy.targets.policy import Guarded

__all__ = [
    # loading the platform
    "load_platform", "PlatformConfig",
    # the primitives, in the runbook's order
    "build", "push", "deploy", "set_image", "wait_for_rollout", "verify", "smoke_test", "health_check",
    "migrate", "migration_status", "rollback_migrations", "rollback", "lock_status", "history",
    "evaluate_triggers", "status", "watch_status",
    # results
    "Image", "BuildResult", "ServiceState", "DeployResult", "Check", "VerifyResult", "EndpointResult",
    "HealthResult", "SmokeResult", "AppliedMigration", "MigrationStatus", "MigrationResult",
    "RollbackResult", "LockStatus", "HistoryEntry", "History", "TriggerReading", "TriggerReport",
    "PlatformStatus",
    # errors: one class per exit code
    "RetailDeployError", "OperationFailed", "InputError", "ConfigError", "RolledBack", "LockHeld",
    "DependencyUnavailable", "Interrupted", "EXIT_CODES",
]

# The contract's exit codes and the exception that carries each (`error.exit_code` is the code).
EXIT_CODES: Mapping[int, type[RetailDeployError]] = {
    EXIT_FAILED: OperationFailed,
    EXIT_BAD_INPUT: InputError,
    EXIT_ROLLED_BACK: RolledBack,
    EXIT_LOCKED: LockHeld,
    EXIT_UNAVAILABLE: DependencyUnavailable,
    EXIT_INTERRUPTED: Interrupted,
}

Config = str | os.PathLike[str] | PlatformConfig | None
Services = str | Sequence[str] | None


# --------------------------------------------------------------------------------------------
# Results: frozen, typed, and `to_dict()` is the `--json` document of the matching task


class _Result:
    def to_dict(self) -> dict[str, Any]:
        """The JSON document (plain types, secrets masked) the matching task's `--json` prints."""
        document = redact.redact_data(asdict(self))  # type: ignore[call-overload]
        assert isinstance(document, dict)  # a dataclass's fields stay a dict once redacted
        return document


@dataclass(frozen=True)
class Image(_Result):
    service: str
    image: str  # the reference built (local tag) or pushed (registry/name:version)
    result: str  # built, unchanged, pushed, failed, stopped, planned
    digest: str | None = None  # registry digest (sha256:...) once pushed
    detail: str = ""


@dataclass(frozen=True)
class BuildResult(_Result):
    version: str
    pushed: bool
    dry_run: bool
    images: tuple[Image, ...]

    @property
    def ok(self) -> bool:
        return not any(i.result in ("failed", "stopped") for i in self.images)

    @property
    def digests(self) -> dict[str, str]:
        """service -> registry digest of what was pushed."""
        return {i.service: i.digest for i in self.images if i.digest}

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **super().to_dict()}

    @classmethod
    def from_report(cls, report: BuildReport, *, dry_run: bool) -> BuildResult:
        return cls(report.version, report.pushed, dry_run, tuple(
            Image(r.service, r.image, r.result, r.digest or None, r.detail) for r in report.results))


@dataclass(frozen=True)
class ServiceState(_Result):
    """One service after an operation: the version it runs and what happened to it."""

    service: str
    version: str | None
    outcome: str  # deployed, unchanged, restored, healthy, unhealthy, missing, wrong-version, planned, ...
    previous: str | None = None  # the version it ran before (what a rollback returns to)
    url: str = ""
    detail: str = ""


@dataclass(frozen=True)
class DeployResult(_Result):
    environment: str
    version: str
    target: str  # docker | kubernetes
    dry_run: bool
    services: tuple[ServiceState, ...]
    strategy: str = ""
    colour: str = ""  # blue-green: the colour serving now

    @property
    def ok(self) -> bool:
        return all(s.outcome in ("deployed", "unchanged", "planned", "succeeded") for s in self.services)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **super().to_dict()}

    @classmethod
    def from_report(cls, outcome: Report, *, target: str, dry_run: bool, verified: Report | None = None) -> DeployResult:
        """The result of any target's deploy (`outcome`, the seam's report); `verified`: the
        verification that followed it, where the target's deploy does not check each service
        itself (None: a dry run, or a target whose deploy did)."""
        states = _states(outcome.services)
        if dry_run:  # the report says what the plan assumed; nothing was deployed
            states = tuple(ServiceState(s.service, outcome.version, "planned", s.previous, s.url) for s in states)
        elif verified is not None:
            found = {s.service: s.version for s in verified.services}
            states = tuple(ServiceState(s.service, found.get(s.service) or outcome.version,
                                        "deployed" if verified.ok else "unverified", s.previous, s.url, s.detail)
                           for s in states)
        return cls(outcome.env, outcome.version, target, dry_run, states, outcome.strategy, outcome.colour)


@dataclass(frozen=True)
class Check(_Result):
    check: str  # pods, rollout, image, health, version, logs, ...
    target: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class VerifyResult(_Result):
    environment: str
    version: str  # the one version every service runs ("" when they differ)
    dry_run: bool
    services: tuple[ServiceState, ...]
    checks: tuple[Check, ...] = ()

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and all(
            s.outcome in ("healthy", "verified", "planned") for s in self.services)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **super().to_dict()}

    @classmethod
    def from_report(cls, report: Report, *, dry_run: bool) -> VerifyResult:
        """The result of any target's verification (the seam's report)."""
        versions = {s.version or "" for s in report.services}
        return cls(report.env, versions.pop() if len(versions) == 1 else "", dry_run, _states(report.services),
                   tuple(Check(c.check, c.target, c.ok, c.detail) for c in report.checks))


@dataclass(frozen=True)
class EndpointResult(_Result):
    name: str
    service: str
    url: str
    method: str
    ok: bool
    status: int | None
    latency_ms: float
    attempts: int
    error: str | None

    @classmethod
    def from_check(cls, result: CheckResult) -> EndpointResult:
        return cls(**result.to_dict())


@dataclass(frozen=True)
class HealthResult(_Result):
    """`health.check`: every endpoint of the health table (its `--json` shape predates this module)."""

    environment: str
    ok: bool
    results: tuple[EndpointResult, ...]
    dry_run: bool = False


@dataclass(frozen=True)
class SmokeResult(_Result):
    target: str
    ok: bool
    results: tuple[EndpointResult, ...]
    skipped: tuple[str, ...] = ()
    dry_run: bool = False

    @classmethod
    def from_report(cls, report: SmokeReport) -> SmokeResult:
        return cls(report.target, report.ok, tuple(EndpointResult.from_check(r) for r in report.results),
                   report.skipped)


@dataclass(frozen=True)
class AppliedMigration(_Result):
    name: str
    state: str  # applied, edited, missing (the file is gone)
    batch: int
    version: str | None  # the application version it was applied with
    applied_at: str  # ISO 8601, UTC
    reversible: bool


@dataclass(frozen=True)
class MigrationStatus(_Result):
    environment: str
    database: str  # where, credentials masked
    applied: tuple[AppliedMigration, ...]
    pending: tuple[str, ...]

    @classmethod
    def from_status(cls, environment: str, where: str, status: Status) -> MigrationStatus:
        state = {"ok": "applied"}
        applied = tuple(AppliedMigration(a.record.name, state.get(a.state, a.state), a.record.batch, a.record.version,
                                         a.record.applied_at.strftime("%Y-%m-%dT%H:%M:%SZ"), a.record.reversible)
                        for a in status.applied)
        return cls(environment, redact.redact(where), applied, tuple(m.name for m in status.pending))


@dataclass(frozen=True)
class MigrationResult(_Result):
    environment: str
    action: str  # migrate | rollback
    migrations: tuple[str, ...]  # applied (migrate) or undone (rollback), in the order done
    dry_run: bool


@dataclass(frozen=True)
class RollbackResult(_Result):
    environment: str
    dry_run: bool
    services: tuple[ServiceState, ...]


@dataclass(frozen=True)
class LockStatus(_Result):
    environment: str
    locked: bool
    expired: bool = False
    holder: str | None = None
    version: str | None = None
    strategy: str | None = None
    acquired: str | None = None
    expires: str | None = None


@dataclass(frozen=True)
class HistoryEntry(_Result):
    action: str  # deploy, rollback-undo, rollback-blue-green, verify, ...
    version: str
    result: str  # succeeded, failed, rolled-back, interrupted
    start: str
    end: str = ""
    strategy: str = ""
    who: str = ""
    services: tuple[str, ...] = ()
    previous: Mapping[str, str] = field(default_factory=dict)  # service -> version (old records: image) before
    colour: str = ""
    reason: str = ""
    # service -> {before, after, colour_before, colour_after}, as the deploy seam read them
    release: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # the --force reason when the pre-deployment checklist was overridden ("" when it was not)
    forced: str = ""

    @classmethod
    def from_record(cls, entry: Mapping[str, Any]) -> HistoryEntry:
        from retail_deploy.targets import history as audit

        recorded = entry.get("release")
        release: Mapping[str, Any] = recorded if isinstance(recorded, Mapping) else {}
        previous = entry.get("previous") or {name: s.version for name, s in audit.recorded_release(entry).items()}
        return cls(str(entry.get("action", "deploy")), str(entry.get("version", "")), str(entry.get("result", "")),
                   str(entry.get("start", "")), str(entry.get("end", "")), str(entry.get("strategy", "")),
                   str(entry.get("who", "")), tuple(str(s) for s in entry.get("services") or ()),
                   {str(k): str(v) for k, v in previous.items()} if isinstance(previous, Mapping) else {},
                   str(entry.get("colour", "")), str(entry.get("reason", "")),
                   {str(k): {str(a): str(b) for a, b in v.items()} for k, v in release.items()
                    if isinstance(v, Mapping)}, str(entry.get("forced") or ""))

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["previous"] = dict(data["previous"])
        data["release"] = {k: dict(v) for k, v in data["release"].items()}
        return data


@dataclass(frozen=True)
class History(_Result):
    environment: str
    entries: tuple[HistoryEntry, ...]  # oldest first

    @classmethod
    def from_records(cls, environment: str, records: Sequence[Mapping[str, Any]]) -> History:
        return cls(environment, tuple(HistoryEntry.from_record(r) for r in records))


@dataclass(frozen=True)
class TriggerReading(_Result):
    name: str
    title: str
    value: float | None  # None: no data
    threshold: str
    state: str  # a TriggerState: ok, firing, no-data, unknown (triggers); critical, warning, ok, no data (metrics)
    unit: str
    query: str = ""  # the PromQL asked (triggers)
    no_data: str = ""  # the trigger's no_data policy: fail or accept (triggers)
    error: str = ""  # why the state is unknown

    @property
    def fired(self) -> bool:
        return self.state == "firing"

    @property
    def unverified(self) -> bool:
        return self.state == "unknown" or (self.state == "no-data" and self.no_data != "accept")

    @classmethod
    def from_reading(cls, reading: Reading, trigger: bool = True) -> TriggerReading:
        if not trigger:
            return cls(reading.name, reading.title, reading.value, reading.threshold, reading.state, reading.unit)
        return cls(reading.name, reading.title, reading.value, reading.threshold, reading.state, reading.unit,
                   redact.redact(reading.query), "accept" if reading.no_data_accepted else "fail",
                   redact.redact(reading.error))


@dataclass(frozen=True)
class TriggerReport(_Result):
    environment: str
    prometheus: str
    triggers: tuple[TriggerReading, ...]
    metrics: tuple[TriggerReading, ...] = ()

    @property
    def fired(self) -> tuple[TriggerReading, ...]:
        return tuple(t for t in self.triggers if t.fired)

    @property
    def unverified(self) -> tuple[TriggerReading, ...]:
        """No data (not accepted) or unknown: `monitor.check` exits 5 (or 2 for a rejected query)."""
        return tuple(t for t in self.triggers if t.unverified)

    def to_dict(self) -> dict[str, Any]:
        metrics = [{k: v for k, v in m.items() if k not in ("query", "no_data", "error")}
                   for m in super().to_dict()["metrics"]]
        return {"ok": not self.fired and not self.unverified, "fired": [t.name for t in self.fired],
                "unverified": [t.name for t in self.unverified], **super().to_dict(), "metrics": metrics}

    @classmethod
    def from_check(cls, result: TriggerCheck) -> TriggerReport:
        return cls(result.environment, redact.redact(result.prometheus),
                   tuple(TriggerReading.from_reading(r) for r in result.triggers),
                   tuple(TriggerReading.from_reading(r, trigger=False) for r in result.metrics))


def _states(services: Sequence[ServiceReport]) -> tuple[ServiceState, ...]:
    return tuple(ServiceState(s.service, s.version, s.status, s.previous, s.url, s.detail) for s in services)


# --------------------------------------------------------------------------------------------
# Plumbing: a platform from a path or an object, a Runner with the caller's dry run and output


def load_platform(config: str | os.PathLike[str] | None = None) -> PlatformConfig:
    """The platform config: `config`, else $RETAIL_DEPLOY_CONFIG, else config/retail-platform.yaml.

    Raises ConfigError (exit 2) naming file, key and line when it is invalid. Secret values it
    references (`${REGISTRY_PASSWORD}`) are registered, so no output of this process shows them.
    """
    from retail_deploy.config import load_config

    return load_config(config)


def _platform(config: Config) -> PlatformConfig:
    return config if isinstance(config, PlatformConfig) else load_platform(config)


@contextmanager
def _runner(dry_run: bool, out: IO[str] | None) -> Iterator[Runner]:
    import invoke

    from retail_deploy.execute import Runner

    with Runner(invoke.Context(), dry=dry_run, out=out) as runner:
        yield runner


def _service_names(services: Services) -> str | None:
    if services is None or isinstance(services, str):
        return services
    return ",".join(services)


# --------------------------------------------------------------------------------------------
# Build (runbook chapter 1)


def build(*, version: str, services: Services = None, push: bool = False, skip_tests: bool = False,
          config: Config = None, dry_run: bool = False, out: IO[str] | None = None) -> BuildResult:
    """Build the services' images at `version` concurrently (`build.all`); with `push`, push them.

    Raises OperationFailed (exit 1) when a build or push fails (nothing is pushed unless all
    built), InputError (exit 2) on a bad version or unknown service.
    """
    from retail_deploy import validate
    from retail_deploy.build.service import build_services

    version = validate.version(version)
    cfg = _platform(config)
    with _runner(dry_run, out) as runner:
        report = build_services(cfg, cfg.select_services(_service_names(services)), version, push=push,
                                skip_tests=skip_tests, runner=runner)
    return BuildResult.from_report(report, dry_run=dry_run)


def push(*, version: str, service: Services = None, config: Config = None, dry_run: bool = False,
         out: IO[str] | None = None) -> BuildResult:
    """Tag and push images already built for `version` (`build.push`); the result has the digests."""
    from retail_deploy import validate
    from retail_deploy.build.service import push_services

    version = validate.version(version)
    cfg = _platform(config)
    with _runner(dry_run, out) as runner:
        report = push_services(cfg, cfg.select_services(_service_names(service)), version, runner=runner)
    return BuildResult.from_report(report, dry_run=dry_run)


# --------------------------------------------------------------------------------------------
# Deploy, verify (runbook chapters 2-5)


def deploy(*, env: str, version: str, services: Services = None, strategy: str | None = None,
           method: str | None = None, config: Config = None, dry_run: bool = False,
           out: IO[str] | None = None, confirm: str | None = None, acks: Sequence[str] = (),
           force: str | None = None) -> DeployResult:
    """Deploy `version` to an environment with its target's strategy, under its lock.

    Docker target: new containers start beside the old ones and replace them only when healthy.
    Kubernetes: rolling (Helm or kubectl) or blue-green, then the verification `verify.<env>` runs.
    An environment of the production role gets the task's safeguards: `confirm` must repeat its
    name (the library's `--yes`; InputError, exit 2, otherwise), then the pre-deployment checklist
    runs without questions (`acks` confirm items as `--ack` does, `force` is the reason to go on
    although it is not satisfied, recorded as `forced`). Raises RolledBack (exit 3) when the deploy
    failed and the previous version serves again, LockHeld (exit 4) when another deploy holds the lock.
    """
    from retail_deploy import validate
    from retail_deploy.targets.policy import guarded

    version = validate.version(version)
    cfg = _platform(config)
    environment = cfg.environment(env)
    _confirmed(environment, confirm, dry_run)
    chosen = [s.name for s in cfg.select_services(_service_names(services))]
    with _runner(dry_run, out) as runner:
        return _deploy(guarded(runner, cfg, environment), version, chosen, strategy, method,
                       acks=tuple(acks), force=force)


def _confirmed(environment: EnvironmentConfig, confirm: str | None, dry_run: bool) -> None:
    """A production-role environment changes only when the caller named it (`confirm=`)."""
    if environment.production and not dry_run and confirm != environment.name:
        raise InputError(f"{environment.name} has the production role: pass confirm={environment.name!r} "
                         "to deploy to it (nothing was changed)")


def _deploy(policy: Guarded, version: str, chosen: list[str], strategy: str | None,
            method: str | None, *, acks: tuple[str, ...] = (), force: str | None = None) -> DeployResult:
    """On every target through the deploy seam: its policy (lock, audit record, notification,
    docs/deploying.md "Deploy targets") around its deploy, then its verification where the deploy
    did not check each service itself (as `deploy.<env>` does)."""
    from retail_deploy.targets import VerifyFailed

    target, name = policy.target, policy.env.name
    forced = None
    if policy.env.production:  # the checklist gate follows the role, as in deploy.production
        from retail_deploy.checklist.gate import production_gate

        if not policy.runner.dry:
            policy.ensure_free()  # exit 4 before the slower checklist
        forced = production_gate(policy.runner, policy.cfg, policy.env, version, acks=acks, force=force)
    outcome = policy.deploy(version, services=chosen, strategy=strategy, method=method, forced=forced)
    if policy.runner.dry or target.verified_by_deploy:
        return DeployResult.from_report(outcome, target=target.kind, dry_run=policy.runner.dry)
    try:  # some services only: only they are expected at the new version
        verified = target.verify(version, services=chosen)
    except VerifyFailed as failed:
        bad = ", ".join(f"{c.check} {c.target}" for c in failed.report.checks if not c.ok)
        raise OperationFailed(f"{version} is deployed to {name} but verification failed: {bad[:300]}; "
                              f"roll back: inv rollback.undo --env {name}") from failed
    return DeployResult.from_report(outcome, target=target.kind, dry_run=False, verified=verified)


def set_image(*, env: str, service: str, version: str, config: Config = None, dry_run: bool = False,
              out: IO[str] | None = None, confirm: str | None = None, acks: Sequence[str] = (),
              force: str | None = None) -> DeployResult:
    """Put `version` of one service on an environment (`kubectl set image`, or its Docker
    container replaced), health-checked like a deploy; the other services are not touched.
    A production-role environment needs `confirm`, `acks` and `force` as `deploy` does."""
    from retail_deploy import validate
    from retail_deploy.targets.policy import guarded

    version = validate.version(version)
    cfg = _platform(config)
    environment = cfg.environment(env)
    _confirmed(environment, confirm, dry_run)
    chosen = [s.name for s in cfg.select_services(service)]
    with _runner(dry_run, out) as runner:
        policy = guarded(runner, cfg, environment)
        strategy, method = policy.target.set_image_knobs  # the target says how one image is replaced
        return _deploy(policy, version, chosen, strategy, method, acks=tuple(acks), force=force)


def verify(*, env: str, version: str | None = None, config: Config = None, check: bool = True,
           out: IO[str] | None = None) -> VerifyResult:
    """`verify.<env>`: every service runs (`version`), its rollout is complete and it is healthy.

    Read-only. With `check` (the default) a failed verification raises OperationFailed (exit 1;
    DependencyUnavailable, exit 5, when the cluster did not answer), as the task exits; with
    `check=False` the result says what failed.
    """
    from retail_deploy import validate
    from retail_deploy.targets import VerifyFailed, target_for

    if version is not None:
        validate.version(version)
    cfg = _platform(config)
    environment = cfg.environment(env)
    with _runner(False, out) as runner:
        try:
            report = target_for(runner, cfg, environment).verify(version)
        except VerifyFailed as failed:
            if check:
                raise
            report = failed.report
    return VerifyResult.from_report(report, dry_run=False)


def wait_for_rollout(*, env: str, services: Services = None, timeout: float | None = None, config: Config = None,
                     out: IO[str] | None = None) -> VerifyResult:
    """Wait until every service's new version is rolled out and healthy, or raise OperationFailed.

    Kubernetes: `kubectl rollout status --timeout` of each deployment (exit 1 on timeout).
    Docker: the containers' health checks, polled until they pass or `timeout` (default: the
    environment's rollout timeout) is over.
    """
    from retail_deploy.targets import target_for

    cfg = _platform(config)
    environment = cfg.environment(env)
    chosen = [s.name for s in cfg.select_services(_service_names(services))]
    limit = float(timeout if timeout is not None else environment.rollout_timeout)
    if limit <= 0:
        raise InputError(f"timeout {timeout}: must be more than 0 seconds")
    with _runner(False, out) as runner:
        report = target_for(runner, cfg, environment).wait_for_rollout(chosen, limit)
    return VerifyResult.from_report(report, dry_run=False)


# --------------------------------------------------------------------------------------------
# Health and smoke checks


def health_check(*, env: str, url: Mapping[str, str] | None = None, timeout: float = 5.0, retries: int = 2,
                 ca_bundle: str | None = None, config: Config = None, check: bool = True,
                 dry_run: bool = False, out: IO[str] | None = None) -> HealthResult:
    """`health.check`: every endpoint of the environment's health table, concurrently.

    `url`: {service: base URL} for this run. With `check` an unhealthy endpoint raises
    OperationFailed (exit 1, every failure in the line); `check=False` returns the result.
    """
    from retail_deploy.commands import cmd
    from retail_deploy.health import checks as health

    cfg = _platform(config)
    environment = cfg.environment(env)
    _positive(timeout, retries)
    endpoints = health.endpoints_for(cfg, environment, dict(url) if url else None)
    if not endpoints:
        raise ConfigError(f"no health endpoint for {environment.name}: give its services health: entries "
                          "and the environment urls: in the config")
    if dry_run:
        with _runner(True, out) as runner:
            for endpoint in endpoints:
                runner.announce(cmd(*endpoint.curl(timeout=timeout, ca_bundle=ca_bundle), read_only=True))
        return HealthResult(environment.name, True, (), dry_run=True)
    results = health.check_endpoints(endpoints, timeout=timeout, retries=retries, ca_bundle=ca_bundle)
    result = HealthResult(environment.name, health.all_ok(results),
                          tuple(EndpointResult.from_check(r) for r in results))
    if check and not result.ok:
        raise OperationFailed(f"{environment.name}: {health.summary(results)}")
    return result


def smoke_test(*, env: str, target: str | None = None, version: str | None = None,
               url: Mapping[str, str] | None = None, timeout: float = 5.0, retries: int = 2,
               ca_bundle: str | None = None, config: Config = None, check: bool = True) -> SmokeResult:
    """`health.smoke`: the smoke suite (config `smoke_tests:`) on an environment or a blue/green
    colour (`target`); with `version`, each service's version endpoint must answer it."""
    from retail_deploy import validate
    from retail_deploy.health import smoke

    cfg = _platform(config)
    environment = cfg.environment(env)
    if version:
        validate.version(version)
    _positive(timeout, retries)
    report = smoke.run_smoke_tests(cfg, environment, target, dict(url) if url else None, version=version,
                                   timeout=timeout, retries=retries, ca_bundle=ca_bundle)
    if check and not report.ok:
        raise OperationFailed(f"smoke tests failed on {report.target}: "
                              + "; ".join(f"{r.name}: {r.error}" for r in report.failures))
    return SmokeResult.from_report(report)


def _positive(timeout: float, retries: int) -> None:
    if float(timeout) <= 0:
        raise InputError(f"timeout {timeout}: must be more than 0 seconds")
    if int(retries) < 0:
        raise InputError(f"retries {retries}: must be 0 or more")


# --------------------------------------------------------------------------------------------
# Database migrations


def migration_status(*, env: str, config: Config = None) -> MigrationStatus:
    """`db.status`: the migrations applied to the environment's database, and those pending."""
    from retail_deploy import migrations

    cfg = _platform(config)
    cfg.environment(env)
    where, status = migrations.status(cfg, env)
    return MigrationStatus.from_status(env, where.where, status)


def migrate(*, env: str, version: str | None = None, skip_backup: bool = False, config: Config = None,
            dry_run: bool = False, out: IO[str] | None = None) -> MigrationResult:
    """`db.migrate`: apply the pending migrations as one batch, recorded with `version` (what
    `rollback_migrations(to_version=...)` goes back to); staging/production back up first."""
    from retail_deploy import migrations, validate

    if version is not None:
        validate.version(version)
    cfg = _platform(config)
    cfg.environment(env)
    with _runner(dry_run, out) as runner:
        done = migrations.migrate(cfg, env, runner, version, take_backup=False if skip_backup else None)
    return MigrationResult(env, "migrate", tuple(done), dry_run)


def rollback_migrations(*, env: str, to_version: str | None = None, skip_backup: bool = False,
                        config: Config = None, dry_run: bool = False, out: IO[str] | None = None) -> MigrationResult:
    """`db.rollback`: undo the last batch, or every migration applied after `to_version`
    (refused before undoing anything when one of them is irreversible)."""
    from retail_deploy import migrations, validate

    cfg = _platform(config)
    cfg.environment(env)
    take_backup = False if skip_backup else None
    with _runner(dry_run, out) as runner:
        if to_version:
            validate.version(to_version, what="--to-version")
            done = migrations.rollback_to_version(cfg, env, to_version, runner, take_backup)
        else:
            done = migrations.rollback(cfg, env, runner, take_backup)
    return MigrationResult(env, "rollback", tuple(done), dry_run)


# --------------------------------------------------------------------------------------------
# Rollback, lock, history, triggers


def rollback(*, env: str, service: str | None = None, to_revision: int | None = None, config: Config = None,
             dry_run: bool = False, out: IO[str] | None = None) -> RollbackResult:
    """`rollback.undo`: bring back the release that served before (one service, or every service
    the last change touched, the traffic switch included), then check over HTTP that each answers
    the version it was rolled back to; `to_revision` (Kubernetes, with `service`) for surgical use.
    On every target through the deploy seam's policy (docs/deploying.md "Deploy targets")."""
    from retail_deploy.kube import rollback as undo

    cfg = _platform(config)
    environment = cfg.environment(env)
    with _runner(dry_run, out) as runner:
        report = undo.undo_report(runner, cfg, environment, service=service, to_revision=to_revision)
    return RollbackResult(environment.name, dry_run, _states(report.services))


def lock_status(*, env: str, config: Config = None) -> LockStatus:
    """`lock.status`: who holds the environment's deploy lock (any target)."""
    from retail_deploy.targets import target_for

    cfg = _platform(config)
    environment = cfg.environment(env)
    with _runner(False, None) as runner:
        lock = target_for(runner, cfg, environment).read_lock()
    return lock_result(environment.name, lock)


def lock_result(environment: str, lock: LockInfo | None) -> LockStatus:
    """The LockStatus of a history.LockInfo (None: not locked); for `lock.status --json` too."""
    from retail_deploy.targets import history as audit

    if lock is None:
        return LockStatus(environment, False)
    return LockStatus(environment, True, lock.expired(audit.utcnow()), lock.holder, lock.version, lock.strategy,
                      lock.acquired, lock.expires)


def history(*, env: str, config: Config = None) -> History:
    """`rollback.history`: the environment's deploy and rollback records, oldest first
    (kept by the target: a ConfigMap beside the deployments, or volumes on the Docker engine)."""
    from retail_deploy.targets import target_for

    cfg = _platform(config)
    environment = cfg.environment(env)
    with _runner(False, None) as runner:
        entries = target_for(runner, cfg, environment).read_history()
    return History.from_records(environment.name, entries)


def evaluate_triggers(*, env: str, metrics: bool = True, config: Config = None, check: bool = True) -> TriggerReport:
    """`monitor.check`: evaluate every rollback trigger (and the metrics table) on Prometheus now.

    With `check` a firing trigger raises OperationFailed (exit 1), a trigger with no data that
    does not accept it DependencyUnavailable (exit 5); `check=False` returns the report
    (`report.fired`, `report.unverified`). Prometheus not answering is an error, never "no
    trigger fired".
    """
    from retail_deploy.monitoring import monitor

    cfg = _platform(config)
    environment = cfg.environment(env)
    result = monitor.check(cfg, environment, include_metrics=metrics)
    error = monitor.check_error(result) if check else None
    if error is not None:
        raise error
    return TriggerReport.from_check(result)


# --------------------------------------------------------------------------------------------
# Overview


def status(*, env: str | None = None, config: Config = None, out: IO[str] | None = None) -> PlatformStatus:
    """`status`: per environment (`env`, else every one) and service what serves (version,
    colour, replicas, image, since when), the last deploy, the lock holder, health and the
    rollback triggers: one concurrent pass of reads through the target seam, the health checks
    and the monitor. Never raises for what it finds: `result.verdict` is healthy, unhealthy or
    unknown and `result.exit_code` the task's exit code (0, 1, 5)."""
    from retail_deploy.overview.status import gather

    cfg = _platform(config)
    environments = [cfg.environment(env)] if env else list(cfg.environments.values())
    with _runner(False, out) as runner:
        return gather(runner, cfg, environments)


def watch_status(*, env: str | None = None, interval: float = 5.0, count: int | None = None,
                 redraw: bool = False, config: Config = None, out: IO[str] | None = None) -> PlatformStatus:
    """`status --watch`: `status` every `interval` seconds, redrawn in place (`redraw`, a
    terminal) or as one line per change, for `count` passes (None: until KeyboardInterrupt).
    Returns the last pass."""
    import sys

    from retail_deploy.overview import render

    if float(interval) <= 0:
        raise InputError(f"interval {interval}: must be more than 0 seconds")
    if count is not None and int(count) < 1:
        raise InputError(f"count {count}: must be 1 or more")
    cfg = _platform(config)
    if env:  # an unknown environment is exit 2 before the first pass
        cfg.environment(env)
    return render.watch(lambda: status(env=env, config=cfg, out=sys.stderr), interval_s=float(interval),
                        out=out or sys.stdout, redraw=redraw, count=count)
