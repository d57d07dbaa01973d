"""The deploy-target seam: one typed `Target` per kind of place a release runs.

A target knows how to deploy, verify, undo, switch back, read what serves, keep a lock and keep
an audit history on ITS OWN infrastructure (Kubernetes: ConfigMaps in the namespace; Docker
engine: a lock container and history volumes on the engine, local or over SSH). It knows nothing
of policy: taking the lock, writing the audit record (per service the version before and after,
and the serving colour), notifying, and checking over HTTP that a rollback serves the release it
restored all live in `retail_deploy.targets.policy`, which wraps every target the same way.
`target_for` is the one place that looks at `environment.target`. See docs/deploying.md
("Deploy targets") and docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from retail_deploy.errors import DependencyUnavailable, InputError, OperationFailed

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner
    from retail_deploy.targets.history import LockInfo

__all__ = ["Check", "NotAnswered", "Prepared", "Release", "Report", "ServiceReport", "Serving", "Target",
           "VerifyFailed", "target_for"]

BAD_STATUSES = frozenset({"failed", "unhealthy", "missing", "wrong-version"})


@dataclass(frozen=True)
class Serving:
    """What one service serves at one moment: its version (the image tag) and, for the service
    deployed blue-green, the colour that receives its traffic; where the target knows it, the
    container (or deployment) that receives it (Docker: the one the proxy sends traffic to)."""

    version: str | None
    colour: str = ""
    # What `status` shows beside it, read in the same pass where the target has it; never part of
    # a release's identity (two readings of one release compare equal whatever these say).
    image: str = field(default="", compare=False)  # the image reference that runs
    ready: int | None = field(default=None, compare=False)  # replicas (containers) ready to serve
    desired: int | None = field(default=None, compare=False)  # replicas (containers) wanted
    since: str = field(default="", compare=False)  # ISO 8601 UTC: when what serves started serving
    container: str = field(default="", compare=False)  # which container serves (Docker: the proxy's server)

    def describe(self) -> str:
        return f"{self.version or '?'}" + (f" ({self.colour})" if self.colour else "")


Release = Mapping[str, Serving]
"""service -> what it serves: the state of an environment that a rollback restores."""


@dataclass
class ServiceReport:
    """One service in a report: `version` is what it runs at the end, `previous` what ran before."""

    service: str
    version: str | None
    status: str  # deployed, unchanged, failed, restored, healthy, unhealthy, missing, wrong-version, ...
    container: str = ""  # the container or deployment that serves it
    url: str = ""
    previous: str | None = None
    detail: str = ""
    colour: str = ""

    def line(self) -> str:
        parts = [f"{self.service:<14} {self.version or '-':<12} {self.status:<10}"]
        if self.colour:
            parts.append(f"[{self.colour}]")
        if self.url:
            parts.append(self.url)
        if self.previous:
            parts.append(f"(previous {self.previous})")
        if self.detail:
            parts.append(self.detail)
        return " ".join(parts)


@dataclass(frozen=True)
class Check:
    """One check a verification made beyond the per-service lines (Kubernetes: deployment, pods,
    rollout, image, health, version, logs)."""

    check: str
    target: str
    ok: bool
    detail: str


@dataclass
class Report:
    """The outcome of a target operation, the same type on every target."""

    env: str
    engine: str  # where it ran: a kube context/namespace, a Docker engine
    action: str
    services: list[ServiceReport] = field(default_factory=list)
    version: str = ""
    strategy: str = ""
    result: str = "succeeded"
    colour: str = ""  # blue-green: the colour serving at the end
    notes: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)  # a verification's checks, where the target makes them

    @property
    def ok(self) -> bool:
        return all(s.status not in BAD_STATUSES for s in self.services) and all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        head = f"{self.action} on {self.env} ({self.engine})"
        return [head] + ["  " + s.line() for s in self.services]

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass(frozen=True)
class Prepared:
    """A checked deploy request: how long its lock must last, and the strategy it records."""

    ttl_s: float
    strategy: str


class VerifyFailed(OperationFailed):
    """A verification found a problem (exit 1); `report` says what runs and what failed, so a
    caller can still show it (`--json`) before it exits."""

    def __init__(self, message: str, report: Report):
        super().__init__(message)
        self.report = report


class NotAnswered(VerifyFailed, DependencyUnavailable):
    """Exit 5, not 1: the target did not answer any read, so nothing is known about what runs
    (the HTTP checks alone cannot say what is deployed), and nothing was changed."""


class Target(Protocol):
    """What every deploy target offers. Methods act WITHOUT policy (no lock, record or
    notification): call them through `policy.Guarded`, which adds those the same way for all."""

    kind: str
    verified_by_deploy: bool
    """True when `deploy` itself checks every new service before it serves (and puts the old one
    back otherwise); False when a deploy must be followed by `verify(version, services)`."""
    set_image_knobs: tuple[str | None, str | None]
    """(strategy, method) that replace one service's image and leave the others untouched."""
    runner: Runner
    cfg: PlatformConfig
    env: EnvironmentConfig

    @property
    def where(self) -> str:
        """The engine or cluster, for messages and reports."""
        ...

    # -- read ----------------------------------------------------------------------------
    def serving(self, services: Sequence[str] | None = None) -> dict[str, Serving]:
        """Read-only: what each service (default: all) serves now."""
        ...

    def colours(self) -> dict[str, str | None]:
        """Blue-green: colour -> version it runs; {} where the target has no colours."""
        ...

    def verify(self, version: str | None = None, services: Sequence[str] | None = None) -> Report:
        """Read-only (its reads run in a dry run too): what each service runs and whether it is
        healthy, at `version` when given (only `services` at `version`: a deploy of some of them).
        Shows the report on the runner's output (not in a dry run) and keeps it where the target
        keeps verifications; raises VerifyFailed carrying the report when a check fails
        (NotAnswered, exit 5, when the target did not answer at all)."""
        ...

    def wait_for_rollout(self, services: Sequence[str], timeout_s: float) -> Report:
        """Wait until each of `services` runs its new version, healthy; OperationFailed after
        `timeout_s`."""
        ...

    # -- act -----------------------------------------------------------------------------
    def prepare_deploy(self, version: str, *, services: Sequence[str] | None, strategy: str | None,
                       method: str | None, pull: bool) -> Prepared:
        """Check the request and fetch what changes nothing that runs (images); raises InputError
        (exit 2) before anything changes."""
        ...

    def deploy(self, version: str, *, services: Sequence[str] | None, strategy: str | None,
               method: str | None, pull: bool) -> Report:
        ...

    def restore(self, release: Release) -> Report:
        """Make every service in `release` serve its version (and colour) again."""
        ...

    def undo(self, service: str | None, to_revision: int | None) -> Report:
        """Surgical undo without a recorded release: the target's own notion of "the previous"."""
        ...

    def switch_to(self, colour: str) -> Report:
        """Blue-green: send traffic to `colour` (scaled up first when needed)."""
        ...

    def rollback_refusal(self) -> str | None:
        """Why this environment cannot roll back automatically, or None when it can."""
        ...

    # -- lock and audit history (kept on the target's own infrastructure) -----------------------
    def lock(self, *, version: str, action: str, ttl_s: float) -> AbstractContextManager[LockInfo]:
        ...

    def read_lock(self) -> LockInfo | None:
        ...

    def force_release(self) -> LockInfo | None:
        ...

    def read_history(self) -> list[dict[str, Any]]:
        ...

    def record(self, entry: Mapping[str, Any]) -> None:
        """Append one audit record; never raises (a failed record is reported)."""
        ...

    def history_detail(self, services: Sequence[str] | None) -> list[str]:
        """Lines shown under the audit records (e.g. `kubectl rollout history`)."""
        ...


def target_for(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig) -> Target:
    """The one place that picks a target from `environment.target` (lazy imports: `inv --list`
    loads neither the docker SDK nor kubectl helpers)."""
    if env.target == "kubernetes":
        from retail_deploy.targets.kubernetes import KubeTarget

        return KubeTarget(runner, cfg, env)
    if env.target == "docker":
        from retail_deploy.targets.docker import DockerTarget

        return DockerTarget(runner, cfg, env)
    raise InputError(f"environment {env.name}: unknown target {env.target!r} (use kubernetes or docker)")
