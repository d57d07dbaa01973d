"""The runbook's rollback procedures, on every target, through the deploy seam's policy
(retail_deploy.targets.policy: lock, audit record with the release before and after,
notification, and the final HTTP check that each service answers the version restored).

- `undo`: back to the recorded previous release (all services the last change touched, the
  traffic switch included); `--to-revision` stays for surgical use (`kubectl rollout undo`).
- `blue_green`: switch traffic to the other colour, only when it runs the previous release.
- `rollback_environment`: what an automatic trigger does (monitor.watch): `undo` of everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retail_deploy.errors import InputError, OperationFailed
from retail_deploy.kube import probes
from retail_deploy.kube.settings import kube_env
from retail_deploy.kube.strategies.blue_green import plan_switch_back
from retail_deploy.kube.strategies.rolling import plan_undo
from retail_deploy.targets import Release, Report, history
from retail_deploy.targets.policy import guarded

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner


@dataclass(frozen=True)
class UndoIntent:
    """What `rollback.undo` will do, read from the audit history before anything changes: the
    release it restores, what serves now, and whether that goes FORWARD again (the last change was
    itself a rollback, so undoing it brings back the release that rollback removed)."""

    restore: Release
    current: Release
    last_action: str
    last_start: str

    @property
    def forward(self) -> bool:
        return self.last_action.startswith("rollback")

    def line(self, env_name: str) -> str:
        """'production: rollback.undo restores backend 1.0.0 (blue) (now 1.1.0 (green)), undoing the deploy of ...'."""
        changes = ", ".join(f"{name} {want.describe()}"
                            + (f" (now {self.current[name].describe()})" if name in self.current else "")
                            for name, want in self.restore.items())
        what = "the rollback" if self.forward else f"the {self.last_action}"
        ahead = ": this goes FORWARD again, to the release that rollback removed" if self.forward else ""
        return f"{env_name}: rollback.undo restores {changes}, undoing {what} of {self.last_start or '?'}{ahead}"


def undo_intent(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig,
                service: str | None = None) -> UndoIntent | None:
    """The release `undo_report` would restore (None: no recorded release, the target's own undo)."""
    policy = guarded(runner, cfg, env)
    last = history.last_change(policy.target.read_history(), service)
    restore = policy.previous_release(service)
    if last is None or not restore:
        return None
    current = history.recorded_release(last, "after")
    return UndoIntent(restore, {name: current[name] for name in restore if name in current},
                      str(last.get("action", "deploy")), str(last.get("start", "")))


def undo_report(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, *, service: str | None = None,
                to_revision: int | None = None, reason: str = "manual", notify: bool = True) -> Report:
    """`rollback.undo` on any target: the recorded previous release (of `service`, or of every
    service the last change touched), or revision `to_revision` of `service`."""
    if to_revision is not None and service is None:
        raise InputError("--to-revision needs --service: revision numbers differ per deployment")
    if service is not None:
        cfg.service(service)
    policy = guarded(runner, cfg, env)
    if to_revision is not None:
        assert service is not None
        return policy.undo_revision(service, to_revision, reason=reason)
    return policy.restore_previous(service=service, reason=reason, notify=notify)


def undo(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, *, service: str | None = None,
         to_revision: int | None = None, reason: str = "manual", services: Sequence[str] | None = None) -> list[str]:
    """As `undo_report`, for library callers: returns the deployments (or containers) rolled back.
    `services` restores several services one by one."""
    names: list[str | None] = list(services) if services else [service]
    done: list[str] = []
    for name in names:
        report = undo_report(runner, cfg, env, service=name, to_revision=to_revision, reason=reason, notify=False)
        done += [s.container or s.service for s in report.services if s.status != "unchanged"]
    return done


def blue_green(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, *, to_colour: str | None = None,
               to_version: str | None = None, reason: str = "manual") -> str:
    """Switch traffic to the other colour (or `to_colour`), scaling it up first if needed; refused
    (exit 2) unless it runs the previous release (or `to_version`). Returns the colour."""
    report = guarded(runner, cfg, env).switch_back(to_colour=to_colour, to_version=to_version, reason=reason)
    return report.colour


def rollback_plan(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig) -> list[str]:
    """The exact commands that would undo a deploy started now (for the checklist's rollback plan):
    blue-green switches back to the colour live now (scaling it up first if it was scaled down);
    otherwise every service's rollout is undone. Reads the current state only."""
    kenv = kube_env(cfg, env)
    bg = kenv.blue_green
    if kenv.strategy == "blue-green" and bg is not None:
        selector = probes.selector(runner, kenv.kube, bg.service_name)
        active = probes.active_colour(selector, bg.selector_key, dict(bg.deployments))
        if active is None:
            raise OperationFailed(f"Service {bg.service_name} selects neither colour")
        replicas = probes.deployment(runner, kenv.kube, bg.deployments[active]).replicas
        steps = plan_switch_back(kenv, active, 0, max(replicas, 1))
    else:
        steps = plan_undo(kenv, [(t.name, probes.live_deployment(runner, kenv, t.name)) for t in kenv.services])
    return [step.command.display() for step in steps if step.command is not None]


def rollback_environment(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, *, reason: str) -> str:
    """Automatic rollback (monitor.watch), on any target: back to the recorded previous release.
    Returns a one-line summary; monitor.watch sends its own notification."""
    runner.say(f"rolling back {env.name}: {reason}")
    report = guarded(runner, cfg, env).restore_previous(reason=reason, automatic=True, notify=False)
    return "; ".join(report.notes) or f"restored {report.version}"


def show_history(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig,
                 services: Sequence[str] | None = None) -> str:
    """The audit records (per service the version before and after, and the serving colour),
    beside the target's own history (`kubectl rollout history` of each deployment)."""
    from retail_deploy.targets import history

    target = guarded(runner, cfg, env).target
    out = [f"Deploy history of {env.name} ({target.kind}, {target.where}):",
           history.format_history(target.read_history())]
    return "\n".join(out + target.history_detail(services))
