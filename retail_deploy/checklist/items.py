"""The runbook's pre-deployment checklists, checked by machine where a machine can check.

Each item of "Before Every Deployment" and "Production-Specific Checklist" is either checked
(image in the registry, commit on the environment's branch, variables and feature flags set,
Prometheus reachable, deployment window, staging verified, rollback plan) or needs a person's
confirmation, given at the prompt or with `--ack ITEM` in scripts. The gate passes only when
every item passed or was confirmed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from retail_deploy.config import EnvironmentConfig, PlatformConfig, check_runtime_env
from retail_deploy.errors import ConfigError, DependencyUnavailable, InputError
from retail_deploy.yamlnode import Node

PASSED, FAILED, CONFIRM, ACKNOWLEDGED = "passed", "failed", "confirm", "acknowledged"


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    production_only: bool = False
    check: str | None = None  # name of an automated check; None = a person confirms


# The runbook's two lists, in its order, plus the checks a machine adds before any deploy.
RUNBOOK_ITEMS: tuple[Item, ...] = (
    Item("ci-tests", "All tests passing in CI/CD pipeline"),
    Item("code-review", "Code review approved and merged", check="commit_on_branch"),
    Item("owasp-scan", "No critical security vulnerabilities (OWASP scan passed)"),
    Item("migrations-reviewed", "Database migrations reviewed (if applicable)", check="pending_migrations"),
    Item("feature-flags", "Feature flags configured for gradual rollout", check="feature_flags"),
    Item("monitoring-ready", "Monitoring dashboards ready", check="prometheus"),
    Item("oncall-notified", "On-call team notified"),
    Item("deployment-window", "Deployment window confirmed (prefer low-traffic periods)", check="deployment_window"),
    Item("images-exist", "Release images exist in the registry", check="images_exist"),
    Item("runtime-env", "Required environment variables set", check="runtime_env"),
    Item("staging-verified", "Staging deployment verified", production_only=True, check="staging_verified"),
    Item("load-test", "Load testing completed (2x expected traffic)", production_only=True),
    Item("rollback-plan", "Rollback plan documented", production_only=True, check="rollback_plan"),
    Item("support-notified", "Customer support team notified", production_only=True),
    Item("status-page", "Status page prepared (if maintenance expected)", production_only=True),
)
# Items a person confirms that `--notify` can take care of by sending the notification.
NOTIFIABLE = {"oncall-notified": "on-call", "support-notified": "support"}


@dataclass(frozen=True)
class Outcome:
    item: Item
    state: str
    detail: str = ""
    extra: tuple[str, ...] = ()  # further lines shown under the item (pending files, plan commands)
    # The check could not run: a dependency (cluster, registry, database, Prometheus) did not answer.
    unanswered: bool = False


@dataclass(frozen=True)
class Report:
    env: str
    version: str
    outcomes: tuple[Outcome, ...]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.state == FAILED]

    @property
    def unconfirmed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.state == CONFIRM]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unconfirmed

    @property
    def only_unanswered(self) -> bool:
        """Nothing is wrong that a person can fix: every blocking item is a check that could not run
        because a dependency did not answer (exit 5, not 2)."""
        return bool(self.failed) and not self.unconfirmed and all(o.unanswered for o in self.failed)


@dataclass(frozen=True)
class Window:
    """Low-traffic hours: days of the week and a start-end time in a time zone (may cross midnight)."""

    days: frozenset[int]
    start: dt.time
    end: dt.time
    timezone: str

    def contains(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))
        now = local.time()
        if self.start <= self.end:
            return local.weekday() in self.days and self.start <= now < self.end
        # Crosses midnight: the part after midnight belongs to the previous day's window.
        if now >= self.start:
            return local.weekday() in self.days
        return now < self.end and (local.weekday() - 1) % 7 in self.days

    def describe(self) -> str:
        names = ",".join(_DAY_NAMES[d] for d in sorted(self.days))
        return f"{names} {self.start:%H:%M}-{self.end:%H:%M} {self.timezone}"


_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_window(node: Node) -> Window | None:
    """`deployment_window: {days: [mon, tue], start: "02:00", end: "05:00", timezone: UTC}`."""
    if node.value is None or node.value == {}:
        return None
    node.unknown_keys({"days", "start", "end", "timezone"})
    days = node.str_list("days", _DAY_NAMES)
    for day in days:
        if day.lower() not in _DAY_NAMES:
            raise node.require("days").error(f"unknown day {day!r} (use {', '.join(_DAY_NAMES)})")
    times = []
    for key in ("start", "end"):
        text = node.str(key)
        try:
            times.append(dt.time.fromisoformat(text))
        except ValueError:
            raise node.require(key).error(f"expected a time like 02:00, got {text!r}") from None
    timezone = node.str("timezone", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise node.require("timezone").error(f"unknown time zone {timezone!r}") from None
    return Window(frozenset(_DAY_NAMES.index(d.lower()) for d in days), times[0], times[1], timezone)


@dataclass
class Facts:
    """Everything the automated checks ask of the world, injectable for tests.

    Each callable returns (ok, detail) or raises; an exception becomes a failed item with its message.
    """

    commit_on_branch: Callable[[], tuple[bool, str]]
    pending_migrations: Callable[[], list[str]]
    prometheus_ready: Callable[[], tuple[bool, str]] | None
    images_exist: Callable[[], tuple[bool, str]]
    staging_verified: Callable[[], tuple[bool, str]]
    rollback_plan: Callable[[], list[str]]
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    environ: dict[str, str] | None = None


def check_acks(acks: Iterable[str]) -> set[str]:
    """The `--ack` keys, refused (exit 2) unless each names a checklist item: also in a dry run,
    which must refuse what the real run refuses."""
    acknowledged = set(acks)
    unknown = acknowledged - {item.key for item in RUNBOOK_ITEMS}
    if unknown:
        raise InputError(f"unknown checklist item {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(i.key for i in RUNBOOK_ITEMS)})")
    return acknowledged


def evaluate(cfg: PlatformConfig, env: EnvironmentConfig, version: str, facts: Facts, *,
             acks: Iterable[str] = (), notified: Iterable[str] = (),
             ask: Callable[[Item], bool] | None = None,
             notified_detail: str = "notified through the configured channels") -> Report:
    """Run every check; `ask` (interactive) confirms what remains, `acks` confirm by key."""
    acknowledged = check_acks(acks)
    production = env.production or env.confirm
    outcomes = []
    for item in RUNBOOK_ITEMS:
        if item.production_only and not production:
            continue
        if item.check is not None:
            outcome = _run_check(item, cfg, env, facts)
        elif item.key in notified:
            outcome = Outcome(item, PASSED, notified_detail)
        else:
            outcome = Outcome(item, CONFIRM, f"confirm with --ack {item.key}")
        if outcome.state == CONFIRM and item.key in acknowledged:
            outcome = Outcome(item, ACKNOWLEDGED, "acknowledged with --ack", outcome.extra)
        elif outcome.state == CONFIRM and ask is not None and ask(item):
            outcome = Outcome(item, ACKNOWLEDGED, "confirmed at the prompt", outcome.extra)
        outcomes.append(outcome)
    return Report(env.name, version, tuple(outcomes))


def _run_check(item: Item, cfg: PlatformConfig, env: EnvironmentConfig, facts: Facts) -> Outcome:
    try:
        return _CHECKS[item.check or ""](item, cfg, env, facts)
    except ConfigError:  # a malformed config is exit 2, not a failed item
        raise
    except Exception as error:  # a check that cannot run is a failed item, said plainly
        return Outcome(item, FAILED, f"could not check: {error}", unanswered=True)


Check = Callable[[Item, PlatformConfig, EnvironmentConfig, Facts], Outcome]


def _yes_no(fact: Callable[[Facts], tuple[bool, str]]) -> Check:
    """A check that is one fact answering (ok, detail)."""
    def check(item: Item, cfg: PlatformConfig, env: EnvironmentConfig, facts: Facts) -> Outcome:
        ok, detail = fact(facts)
        return Outcome(item, PASSED if ok else FAILED, detail)

    return check


def _check_migrations(item: Item, cfg: PlatformConfig, env: EnvironmentConfig, facts: Facts) -> Outcome:
    pending = facts.pending_migrations()
    if not pending:
        return Outcome(item, PASSED, "no pending migrations")
    return Outcome(item, CONFIRM, f"{len(pending)} pending migration(s) need review: --ack {item.key}",
                   tuple(pending))


def _check_feature_flags(item: Item, cfg: PlatformConfig, env: EnvironmentConfig, facts: Facts) -> Outcome:
    flags = {name: v for name, v in cfg.runtime_env.items() if v.feature_flag}
    if not flags:
        return Outcome(item, CONFIRM, f"no feature flags declared in the config: --ack {item.key}")
    problems = [p for p in check_runtime_env(cfg, facts.environ) if p.split()[0].rstrip(":") in flags]
    if problems:
        return Outcome(item, FAILED, "; ".join(problems))
    return Outcome(item, PASSED, ", ".join(sorted(flags)) + " set")


def _check_runtime_env(item: Item, cfg: PlatformConfig, env: EnvironmentConfig, facts: Facts) -> Outcome:
    if not env.require_runtime_env:
        return Outcome(item, PASSED, f"none required for the {env.target} target")
    problems = check_runtime_env(cfg, facts.environ)
    if problems:
        return Outcome(item, FAILED, "; ".join(problems))
    return Outcome(item, PASSED, f"all {len(cfg.runtime_env)} set")


def _check_prometheus(item: Item, cfg: PlatformConfig, env: EnvironmentConfig, facts: Facts) -> Outcome:
    if facts.prometheus_ready is None:
        return Outcome(item, CONFIRM, f"no Prometheus configured for {env.name}: --ack {item.key}")
    try:
        ok, detail = facts.prometheus_ready()
    except DependencyUnavailable as error:
        return Outcome(item, FAILED, str(error), unanswered=True)
    return Outcome(item, PASSED if ok else FAILED, detail)


def _check_window(item: Item, cfg: PlatformConfig, env: EnvironmentConfig, facts: Facts) -> Outcome:
    window = deployment_window(cfg, env)
    if window is None:
        return Outcome(item, CONFIRM, f"no deployment window configured: --ack {item.key}")
    now = facts.now()
    if window.contains(now):
        return Outcome(item, PASSED, f"inside {window.describe()}")
    return Outcome(item, FAILED, f"outside {window.describe()} (now {now.astimezone(ZoneInfo(window.timezone)):%a %H:%M})")


def _check_rollback_plan(item: Item, cfg: PlatformConfig, env: EnvironmentConfig, facts: Facts) -> Outcome:
    plan = facts.rollback_plan()
    if not plan:
        return Outcome(item, FAILED, "no rollback plan could be made")
    return Outcome(item, PASSED, "the commands that undo this deploy:", tuple(f"$ {line}" for line in plan))


_CHECKS: dict[str, Check] = {
    "commit_on_branch": _yes_no(lambda facts: facts.commit_on_branch()),
    "pending_migrations": _check_migrations,
    "feature_flags": _check_feature_flags,
    "runtime_env": _check_runtime_env,
    "prometheus": _check_prometheus,
    "deployment_window": _check_window,
    "images_exist": _yes_no(lambda facts: facts.images_exist()),
    "staging_verified": _yes_no(lambda facts: facts.staging_verified()),
    "rollback_plan": _check_rollback_plan,
}


def deployment_window(cfg: PlatformConfig, env: EnvironmentConfig) -> Window | None:
    """The environment's own window, else the checklist section's default."""
    own = env.raw.get("deployment_window")
    if own is not None and own.value is not None:
        return parse_window(own)
    return parse_window(cfg.section("checklist").section("deployment_window"))


_MARK = {PASSED: "passed", FAILED: "FAILED", CONFIRM: "confirm", ACKNOWLEDGED: "acked"}


def render(report: Report) -> str:
    lines = [f"Pre-deployment checklist: {report.version} to {report.env}"]
    for outcome in report.outcomes:
        lines.append(f"  [{_MARK[outcome.state]:7}] {outcome.item.key:19} {outcome.item.text}"
                     + (f": {outcome.detail}" if outcome.detail else ""))
        lines.extend(f"              {extra}" for extra in outcome.extra)
    counts = {state: sum(o.state == state for o in report.outcomes) for state in _MARK}
    lines.append(f"{counts[PASSED] + counts[ACKNOWLEDGED]} of {len(report.outcomes)} ready; "
                 f"{counts[FAILED]} failed; {counts[CONFIRM]} need confirmation")
    return "\n".join(lines)


def blocking_summary(report: Report) -> str:
    """One line for the error: which items stop the deploy."""
    parts = []
    if report.failed:
        parts.append("failed: " + ", ".join(o.item.key for o in report.failed))
    if report.unconfirmed:
        parts.append("not confirmed: " + ", ".join(o.item.key for o in report.unconfirmed)
                     + " (confirm with " + " ".join(f"--ack {o.item.key}" for o in report.unconfirmed) + ")")
    return "; ".join(parts)


def validate_section(cfg: PlatformConfig) -> None:
    """For `config.validate`: the checklist section and every environment's deployment window."""
    section = cfg.section("checklist")
    section.unknown_keys({"deployment_window", "repository", "tag_patterns", "verified_in"})
    for pattern in section.str_list("tag_patterns", ()):
        if "{version}" not in pattern:
            raise section.require("tag_patterns").error(f"{pattern!r} lacks {{version}}")
    for env in cfg.environments.values():
        deployment_window(cfg, env)


def tag_candidates(cfg: PlatformConfig, version: str) -> Sequence[str]:
    patterns = cfg.section("checklist").str_list("tag_patterns", ("v{version}", "{version}"))
    return [pattern.format(version=version) for pattern in patterns]
