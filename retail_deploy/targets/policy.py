"""Policy around every target, the same for all: the deploy lock, the audit record, notifications,
and "a rollback ends by checking, over HTTP, that each service answers the version it was rolled
back to" (docs/deploying.md "Deploy targets"; docs/architecture.md).

Every record is written from what the target itself reports before and after the action
(`Target.serving`), not from what the action meant to do, so a deploy, an automatic or manual
rollback, a forced or an interrupted one all show per service the version before and after and
the colour serving, as it really was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from retail_deploy.errors import InputError, LockHeld, OperationFailed, RetailDeployError, RolledBack
from retail_deploy.targets import Release, Report, Serving, Target, history, target_for

ROLLBACK_LOCK_TTL_S = 1800.0

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner


class Guarded:
    """A target wrapped in the policy. Build one with `guarded(runner, cfg, env)`."""

    def __init__(self, target: Target):
        self.target = target
        self.runner = target.runner
        self.cfg = target.cfg
        self.env = target.env

    # -- lock --------------------------------------------------------------------------
    def ensure_free(self) -> None:
        """Fail fast (exit 4) when another deploy holds the lock, before slower pre-deploy work;
        taking the lock still decides atomically. A lock that cannot be read does not stop us here."""
        try:
            current = self.target.read_lock()
        except RetailDeployError:
            return
        if current is not None and not current.expired(history.utcnow()):
            raise LockHeld(f"{self.env.name} is locked by {current.describe()}; wait for it, or if that deploy "
                           f"is dead run: inv lock.release --env {self.env.name}")

    # -- deploy --------------------------------------------------------------------------
    def deploy(self, version: str, *, services: Sequence[str] | None = None, strategy: str | None = None,
               method: str | None = None, pull: bool = True, forced: str | None = None) -> Report:
        """Deploy under the lock; record and notify whatever happens. `forced` is the reason given
        for overriding the pre-deployment checklist; it is kept in the record."""
        names = list(services) if services else list(self.cfg.services)
        prepared = self.target.prepare_deploy(version, services=names, strategy=strategy, method=method, pull=pull)
        return self._audited(
            "deploy", version=version, services=names, strategy=prepared.strategy, ttl_s=prepared.ttl_s,
            act=lambda: self.target.deploy(version, services=names, strategy=strategy, method=method, pull=pull),
            forced=forced)

    # -- rollbacks -----------------------------------------------------------------------
    def previous_release(self, service: str | None = None, *, deploys_only: bool = False) -> Release | None:
        """The release that served before the last change (of `service`; `deploys_only`: the
        last deploy), from the audit history."""
        last = history.last_change(self.target.read_history(), service, deploys_only=deploys_only)
        if last is None:
            return None
        release = history.recorded_release(last, "before")
        if service:
            return {service: release[service]}
        order = list(self.cfg.services)  # the config's order, not the record's (sorted) one
        return dict(sorted(release.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))

    def restore_previous(self, *, service: str | None = None, reason: str = "manual",
                         automatic: bool = False, notify: bool = True) -> Report:
        """`rollback.undo` (and automatic rollback): put back exactly the recorded previous
        release of every service the last change touched (traffic switch included), or of
        `service` only; a second undo goes forward again. `automatic`: the release before the last
        DEPLOY (never back to what a manual rollback removed). Without a recorded release, the
        target's own undo."""
        release = self.previous_release(service, deploys_only=automatic)
        action = "rollback-automatic" if automatic else "rollback-undo"
        if release is None:
            self.runner.say(f"no recorded release to go back to in {self.env.name}"
                            + (f" for {service}" if service else "") + ": undoing the last rollout instead")
            names = [service] if service else list(self.cfg.services)
            return self._audited(action, version="previous", services=names, strategy="undo",
                                 ttl_s=ROLLBACK_LOCK_TTL_S, reason=reason, automatic=automatic, notify=notify,
                                 act=lambda: self._confirmed_as_read(self.target.undo(service, None), names))
        self.runner.say(f"rolling {self.env.name} back to the release before the last change: "
                        + ", ".join(f"{name} {want.describe()}" for name, want in release.items()))
        return self._audited(action, version=_versions(release), services=list(release), strategy="release",
                             ttl_s=ROLLBACK_LOCK_TTL_S, reason=reason, automatic=automatic, notify=notify,
                             act=lambda: self._confirmed(self.target.restore(release), release))

    def undo_revision(self, service: str, to_revision: int, *, reason: str = "manual") -> Report:
        """Surgical: `--to-revision` of one service."""
        return self._audited("rollback-undo", version=f"revision {to_revision}", services=[service],
                             strategy="rollout-undo", ttl_s=ROLLBACK_LOCK_TTL_S, reason=reason,
                             act=lambda: self._confirmed_as_read(self.target.undo(service, to_revision), [service]))

    def switch_back(self, *, to_colour: str | None = None, to_version: str | None = None,
                    reason: str = "manual") -> Report:
        """`rollback.blue-green`: send traffic to the other colour (or `to_colour`) only when it
        runs the previous release (or `to_version`, when given); else exit 2, nothing changed."""
        colours = self.target.colours()
        if not colours:
            raise InputError(f"environment {self.env.name} has no blue-green colours; use rollback.undo "
                             f"--env {self.env.name}")
        if to_colour is not None and to_colour not in colours:
            raise InputError(f"unknown colour {to_colour!r}; use one of: {', '.join(colours)}")
        now = self.target.serving()
        service, live = next(((name, s) for name, s in now.items() if s.colour), (None, None))
        if service is None or live is None:
            raise OperationFailed(f"{self.env.name}: no Service selects either colour; name one with --to-colour")
        self.runner.say(", ".join(f"{colour} runs {version or '?'}" + (" (serving)" if colour == live.colour else "")
                                  for colour, version in colours.items()))
        dest = to_colour or next((c for c in colours if c != live.colour), live.colour)
        want = to_version
        if want is None:
            previous = self.previous_release(service)
            want = previous[service].version if previous and service in previous else None
            if want is None and not self.runner.dry:
                raise InputError(f"no recorded previous release of {service} in {self.env.name}: {dest} runs "
                                 f"{colours[dest] or '?'}; confirm it with --to-version {colours[dest] or 'V'}")
        if want is not None and colours[dest] != want and not self.runner.dry:
            raise InputError(f"{dest} runs {colours[dest] or 'nothing'}, not the previous release {want}: "
                             f"nothing changed (switch anyway with --to-version {colours[dest]}, or "
                             f"rollback.undo --env {self.env.name} to restore {want})")
        release = {service: Serving(want or colours[dest], dest)}
        return self._audited("rollback-blue-green", version=want or str(colours[dest] or ""), services=[service],
                             strategy="blue-green", ttl_s=ROLLBACK_LOCK_TTL_S, reason=reason,
                             act=lambda: self._confirmed(self.target.switch_to(dest), release))

    def _confirmed_as_read(self, report: Report, services: Sequence[str]) -> Report:
        """A rollback to no recorded release (surgical, or no record): what the target now runs
        is the version each service must answer."""
        if self.runner.dry:
            return report
        return self._confirmed(report, self.target.serving(services))

    def _confirmed(self, report: Report, release: Release) -> Report:
        """Every rollback ends here: each service must answer, over HTTP, the version it was
        rolled back to (services without a version endpoint: the target's own reading)."""
        from retail_deploy.health import verification

        runner = self.runner
        unasked = []
        for name, want in release.items():
            path = self.cfg.services[name].version_path if name in self.cfg.services else None
            url = (self.env.urls or {}).get(name)
            if want.version and path and url:
                verification.check_version(runner, url, want.version, path)
                if not runner.dry:
                    runner.say(f"{name} answers {want.version} at {url.rstrip('/')}{path}")
            elif want.version:
                unasked.append(name)
        if unasked and not runner.dry:
            now = self.target.serving(unasked)
            wrong = [f"{n} runs {now[n].version if n in now else '?'}, expected {release[n].version}"
                     for n in unasked if n not in now or now[n].version != release[n].version]
            if wrong:
                raise OperationFailed(f"rollback of {self.env.name} did not restore the release: {'; '.join(wrong)}")
            runner.say(", ".join(f"{n} runs {release[n].version}" for n in unasked) + " (no version endpoint)")
        report.version = _versions(release)
        for line in report.services:  # the report names what serves now
            if line.service in release:
                line.version = line.version or release[line.service].version
                line.colour = line.colour or release[line.service].colour
        return report

    # -- the policy itself ---------------------------------------------------------------
    def _audited(self, action: str, *, version: str, services: list[str], strategy: str, ttl_s: float,
                 act: Callable[[], Report], reason: str | None = None, forced: str | None = None,
                 automatic: bool = False, notify: bool = True) -> Report:
        """Lock, probe what serves, act, probe again, record, notify."""
        from retail_deploy.execute import handling_signals, signal_name
        from retail_deploy.kube.deployer import Interrupted

        runner = self.runner
        entry: dict[str, Any] = {"action": action, "who": history.whoami(), "version": version,
                                 "services": services, "strategy": strategy, "env": self.env.name,
                                 "target": self.target.kind, "start": history.iso(history.utcnow())}
        if forced:
            entry["forced"] = forced
        if reason:
            entry["reason"] = reason
        why = "error" if reason else "reason"
        # SIGINT/SIGTERM stop the running command at once and raise KeyboardInterrupt in the action,
        # whose recovery runs shielded; recording and unlocking are shielded too (docs/architecture.md,
        # "Signals").
        with handling_signals() as signals, self.target.lock(version=version, action=action, ttl_s=ttl_s):
            before = {} if runner.dry else self._serving(services)
            result = "failed"
            try:
                report = act()
                result = report.result or "succeeded"
                if report.colour:
                    entry["colour"] = report.colour
            except RolledBack as exc:
                result = "rolled-back"
                entry[why] = str(exc)
                raise
            except (Interrupted, KeyboardInterrupt) as exc:
                result = "interrupted"
                entry[why] = str(exc) or f"interrupted by {signal_name(exc)}"
                raise
            except RetailDeployError as exc:
                entry[why] = str(exc)
                raise
            finally:
                signals.shield(f"recording the {action} and releasing the lock of {self.env.name}")
                if not runner.dry:
                    after = self._serving(services)
                    entry.update(end=history.iso(history.utcnow()), result=result,
                                 release=history.release_changes(before, after, services))
                    self.target.record(entry)
                    if notify:
                        self._notify(entry, automatic)
        if signals.received:  # it came while the finished action was being recorded: stop now
            where = f" (traffic on {report.colour})" if report.colour else ""
            done = (f"{version} was deployed to {self.env.name}" if action == "deploy"
                    else f"{action} to {version} in {self.env.name}")
            raise Interrupted(f"interrupted by {signals.received[0]} after {done}{where}; it was not verified: "
                              f"inv verify.{self.env.name}" + (f" --version {version}" if action == "deploy" else ""))
        return report

    def _serving(self, services: Sequence[str]) -> dict[str, Serving]:
        """What serves, for the record; a fact that cannot be read is left out (shown as "?")."""
        try:
            return self.target.serving(services)
        except (RetailDeployError, KeyboardInterrupt) as exc:
            self.runner.say(f"could not read what serves in {self.env.name} for the history: {exc}")
            return {}

    def _notify(self, entry: Mapping[str, Any], automatic: bool) -> None:
        """A change event for every deploy (a critical one when it rolled itself back), one per
        rollback. Never raises."""
        from retail_deploy.monitoring import notify

        runner, cfg, name = self.runner, self.cfg, self.env.name
        details: dict[str, Any] = {k: entry[k] for k in ("strategy", "result", "colour", "release", "who")
                                   if k in entry}
        if entry["action"] == "deploy":
            version = str(entry["version"])
            notify.notify_deploy(cfg, name, version, succeeded=entry["result"] == "succeeded", details=details,
                                 say=runner.say, runner=runner)
            if entry["result"] == "rolled-back":
                notify.notify_rollback(cfg, name, reason=str(entry.get("reason", "deploy failed")), automatic=True,
                                       version=version, details=details, say=runner.say, runner=runner)
            return
        what = f"{entry['action']} to {entry['version']}"
        if entry["result"] != "succeeded":
            what += f": {entry['result'].upper()} ({entry.get('error', '')})"
        notify.notify_rollback(cfg, name, reason=f"{entry.get('reason') or 'manual'}: {what}", automatic=automatic,
                               details=details, say=runner.say, runner=runner)


def _versions(release: Release) -> str:
    return ",".join(sorted({s.version or "?" for s in release.values()}))


def guarded(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig) -> Guarded:
    """The environment's target, wrapped in the policy."""
    return Guarded(target_for(runner, cfg, env))
