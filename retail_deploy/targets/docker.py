"""The Docker engine target (local, or remote over SSH): `retail_deploy.docker.target` behind the
seam (docs/deploying.md "Deploy targets").

Its lock is a never-started container named after the environment (an atomic create on any
engine), its audit history one labelled volume per record, both on the engine itself, so every
machine that deploys to the engine sees them. A proxy on the engine owns every stable port and
switches traffic between containers (docs/development-target.md, "The proxy"). Rollback by release: a service whose kept
`<name>-previous` container runs the recorded version is swapped back (seconds, no pull); any
other is deployed at that version from the registry, beside the running one as every deploy.
There are no colours: `switch_to` is refused.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from retail_deploy.docker import target as docker_target
from retail_deploy.errors import InputError, OperationFailed
from retail_deploy.targets import Prepared, Release, Report, Serving, VerifyFailed
from retail_deploy.targets.history import LockInfo

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner


class DockerTarget:
    kind = "docker"
    verified_by_deploy = True  # each new container passes its checks before it replaces the old one
    set_image_knobs: tuple[str | None, str | None] = (None, None)  # every deploy replaces containers one by one

    def __init__(self, runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig):
        self.runner, self.cfg, self.env = runner, cfg, env
        self.settings = docker_target.docker_settings(env)  # a bad docker: section is exit 2 now
        self._pulled = False

    @property
    def where(self) -> str:
        return self.settings.host or "local engine"

    # -- read ----------------------------------------------------------------------------
    def serving(self, services: Sequence[str] | None = None) -> dict[str, Serving]:
        states = docker_target.state_of(self.runner, self.cfg, self.env)
        names = list(services) if services else list(states)
        return {n: _serving(states[n]) for n in names if n in states}

    def colours(self) -> dict[str, str | None]:
        return {}

    def verify(self, version: str | None = None, services: Sequence[str] | None = None) -> Report:
        """Every service's container and health checks; at `version` only `services` (all: None)."""
        partial = services is not None and set(services) != set(self.cfg.services)
        report = docker_target.verify(self.runner, self.cfg, self.env, version=None if partial else version)
        wrong = [s for s in report.services if partial and version and s.service in (services or ())
                 and s.version != version]
        if wrong:
            for line in wrong:
                line.status, line.detail = "wrong-version", f"runs {line.version}, expected {version}"
            raise VerifyFailed(f"{self.env.name}: " + "; ".join(f"{s.service} {s.detail}" for s in wrong), report)
        return report

    def wait_for_rollout(self, services: Sequence[str], timeout_s: float) -> Report:
        """The containers' health checks, polled until they pass or `timeout_s` is over."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                report = self.verify()
            except VerifyFailed as failed:
                report = failed.report
            report.services = [s for s in report.services if s.service in services]
            if report.ok or time.monotonic() >= deadline:
                break
            time.sleep(1.0)
        if not report.ok:
            bad = "; ".join(f"{s.service}: {s.status} {s.detail}".strip() for s in report.services
                            if s.status != "healthy")
            raise OperationFailed(f"{self.env.name} not rolled out within {timeout_s:g}s: {bad}")
        return report

    # -- deploy --------------------------------------------------------------------------
    def prepare_deploy(self, version: str, *, services: Sequence[str] | None, strategy: str | None,
                       method: str | None, pull: bool) -> Prepared:
        if strategy not in (None, "rolling"):
            raise InputError(f"environment {self.env.name} is a Docker engine: it deploys each new container "
                             f"beside the old one; --strategy {strategy} is for Kubernetes environments")
        period = self.settings.verification_period
        if period > 0:  # a bad monitoring: section is exit 2 now, not a rollback after the switch
            from retail_deploy.monitoring.monitor import prometheus_url

            prometheus_url(self.cfg, self.env)
        docker_target.fetch_images(self.runner, self.cfg, self.env, version, services=services, pull=pull)
        self._pulled = True
        # The lock is not renewed: it must outlast the verification period too.
        return Prepared(docker_target.LOCK_TTL + period, "candidate")

    def deploy(self, version: str, *, services: Sequence[str] | None, strategy: str | None,
               method: str | None, pull: bool) -> Report:
        report = docker_target.deploy(self.runner, self.cfg, self.env, version, services=services, pull=pull,
                                      fetched=self._pulled, watch=True)
        report.version, report.strategy = version, "replace"  # the name `--json` documents (docs/json.md)
        return report

    # -- rollbacks -----------------------------------------------------------------------
    def restore(self, release: Release) -> Report:
        states = docker_target.state_of(self.runner, self.cfg, self.env)
        report = Report(self.env.name, self.where, "restore")
        swap = [n for n, want in release.items() if n in states and want.version
                and states[n]["current"] != want.version and states[n]["previous"] == want.version]
        redeploy: dict[str, list[str]] = {}
        for name, want in release.items():
            if want.version and name not in swap and (name not in states or states[name]["current"] != want.version
                                                      or not states[name]["running"]):
                redeploy.setdefault(want.version, []).append(name)
        for name in swap:
            report.services += docker_target.undo(self.runner, self.cfg, self.env, service=name).services
        for version, names in redeploy.items():
            self.runner.say(f"{', '.join(names)}: no kept container runs {version}: deploying it again")
            report.services += docker_target.deploy(self.runner, self.cfg, self.env, version, services=names).services
        done = [f"{s.service} {s.version}" for s in report.services if s.status != "unchanged"]
        report.notes.append("rolled back " + ", ".join(done) if done
                            else "the previous release already serves: nothing to change")
        return report

    def undo(self, service: str | None, to_revision: int | None) -> Report:
        if to_revision is not None:
            raise InputError(f"--to-revision numbers Kubernetes revisions; environment {self.env.name} is a Docker "
                             f"engine that keeps one previous container per service: drop --to-revision")
        report = docker_target.undo(self.runner, self.cfg, self.env, service=service)
        done = [f"{s.service} {s.version}" for s in report.services if s.status == "restored"]
        report.notes.append("rolled back " + ", ".join(done) if done else "no previous version kept: nothing changed")
        return report

    def switch_to(self, colour: str) -> Report:
        raise InputError(f"environment {self.env.name} is a Docker engine and has no blue-green colours; "
                         f"use rollback.undo --env {self.env.name}")

    def rollback_refusal(self) -> str | None:
        return None  # a recorded release or the kept previous containers can always be put back

    # -- lock and history ----------------------------------------------------------------
    def lock(self, *, version: str, action: str, ttl_s: float) -> AbstractContextManager[LockInfo]:
        return docker_target.env_lock(self.runner, self.cfg, self.env, version=version, action=action, ttl_s=ttl_s)

    def read_lock(self) -> LockInfo | None:
        return docker_target.read_lock(self.runner, self.env)

    def force_release(self) -> LockInfo | None:
        return docker_target.force_release(self.runner, self.env)

    def read_history(self) -> list[dict[str, Any]]:
        return docker_target.read_history(self.runner, self.env)

    def record(self, entry: Mapping[str, Any]) -> None:
        docker_target.record_history(self.runner, self.env, dict(entry))

    def history_detail(self, services: Sequence[str] | None) -> list[str]:
        states = docker_target.state_of(self.runner, self.cfg, self.env)
        lines = ["", f"containers on {self.where}:"]
        for name, state in states.items():
            if services and name not in services:
                continue
            lines.append(f"  {name:<14} current {state['current'] or '-':<12} previous {state['previous'] or '-'}"
                         + ("" if state["running"] else "  (not running)")
                         + (f"  serving: {state['serving']}" if state["serving"] else "  serving: nothing"))
        return lines


def _serving(state: Mapping[str, Any]) -> Serving:
    """One service's container state as the seam's Serving (one container: desired 1)."""
    running = bool(state["running"])
    return Serving(state["current"] if running else None, image=str(state.get("image") or ""),
                   ready=1 if state.get("ready") else 0, desired=1, since=str(state.get("started") or ""),
                   container=str(state.get("serving") or ""))
