"""The Kubernetes target: the deploy strategies of `retail_deploy.kube.deployer`, the lock and audit
ConfigMaps of `retail_deploy.targets.history`, and rollback by release (docs/deploying.md "Deploy
targets").

Rollback by release sets each service back to the IMAGE it served before (`kubectl set image`,
then wait for the rollout), not `rollout undo`: colours alternate, so the live colour's previous
revision is the release before last. For the blue-green service the colour comes back first
(scaled up, its image checked and set when it differs, then one selector patch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from retail_deploy.commands import kubectl
from retail_deploy.errors import CommandFailed, InputError, OperationFailed, RetailDeployError, clip
from retail_deploy.kube import deployer, probes
from retail_deploy.kube.settings import KubeEnv, kube_env
from retail_deploy.kube.strategies import HEALTH, SWITCH, Plan
from retail_deploy.kube.strategies.blue_green import plan_switch_back
from retail_deploy.kube.strategies.rolling import plan_undo, set_image_steps
from retail_deploy.targets import (
    Check,
    NotAnswered,
    Prepared,
    Release,
    Report,
    ServiceReport,
    Serving,
    VerifyFailed,
    history,
)

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner


class KubeTarget:
    kind = "kubernetes"
    verified_by_deploy = False  # a rollout is followed by `verify.<env>`
    set_image_knobs: tuple[str | None, str | None] = ("rolling", "kubectl")  # `kubectl set image` of that deployment alone

    def __init__(self, runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig):
        self.runner, self.cfg, self.env = runner, cfg, env
        self._kenv: KubeEnv = kube_env(cfg, env)
        self._context_checked = False
        self._assumptions: set[str] = set()  # each said once, however often the plan reads it

    @property
    def kenv(self) -> KubeEnv:
        """The environment's Kubernetes settings; the first use that leads to the cluster checks
        that the kube context is in the kubeconfig (exit 2 before anything, naming it)."""
        self._check_context()
        return self._kenv

    def _check_context(self) -> None:
        if not self._context_checked and self._kenv.kube.context:
            from retail_deploy.kube.context import require_context

            require_context(self.runner, self._kenv.kube.context, self.env.name)
        self._context_checked = True

    @property
    def where(self) -> str:
        return f"{self._kenv.kube.context}/{self._kenv.kube.namespace}"

    def _job(self, version: str = "", services: Sequence[str] | None = None) -> deployer.Deploy:
        targets = [self.kenv.service(n) for n in services] if services else list(self.kenv.services)
        return deployer.Deploy(self.runner, self.cfg, self.env, self.kenv, version, targets)

    # -- read ----------------------------------------------------------------------------
    def _assumed(self, error: RetailDeployError, assumption: str) -> None:
        """A read a dry run could not make: say what the plan assumes instead (a real run raises)."""
        if not self.runner.dry:
            raise error
        while isinstance(error.__cause__, RetailDeployError):  # the command's own words, not a wrapper's
            error = error.__cause__
        text = error.detail if isinstance(error, CommandFailed) and error.detail else str(error)
        said = [line for line in text.splitlines() if line.strip()]
        if assumption not in self._assumptions:
            self._assumptions.add(assumption)
            self.runner.say(f"assuming {assumption} ({clip(said[-1] if said else type(error).__name__, 200)})")

    def _active(self) -> str | None:
        bg = self.kenv.blue_green
        if bg is None:
            return None
        try:
            selector = probes.selector(self.runner, self.kenv.kube, bg.service_name)
        except RetailDeployError as error:
            first = next(iter(bg.deployments))
            self._assumed(error, f"{first} is live: the Service {bg.service_name} could not be read")
            return first
        return probes.active_colour(selector, bg.selector_key, dict(bg.deployments))

    def serving(self, services: Sequence[str] | None = None) -> dict[str, Serving]:
        kenv, bg = self.kenv, self.kenv.blue_green
        names = list(services) if services else [t.name for t in kenv.services]
        active = self._active() if bg is not None and bg.services & set(names) else None
        colours = {m.service: m.deployments[active] for m in bg.members} if bg is not None and active else {}
        deployments = {n: colours.get(n, kenv.service(n).deployment) for n in names}
        try:
            found = probes.deployments(self.runner, kenv.kube, sorted(set(deployments.values())))
        except RetailDeployError as error:
            self._assumed(error, f"unknown versions of {', '.join(names)}: their deployments could not be read")
            found = {}
        out = {}
        for name, dep in deployments.items():
            facts = found.get(dep)
            image = facts.image(kenv.service(name).container) if facts else None
            colour = (active or "") if bg is not None and name in bg.services else ""
            out[name] = Serving(probes.image_tag(image) if image else None, colour, image=image or "",
                                ready=facts.ready if facts else None, desired=facts.replicas if facts else None,
                                since=facts.since if facts else "")
        return out

    def colours(self) -> dict[str, str | None]:
        bg = self.kenv.blue_green
        if bg is None:
            return {}
        container = self.kenv.service(bg.service).container
        try:
            found = probes.deployments(self.runner, self.kenv.kube, list(bg.deployments.values()))
        except RetailDeployError as error:
            self._assumed(error, "unknown versions on both colours: their deployments could not be read")
            found = {}
        out: dict[str, str | None] = {}
        for colour, dep in bg.deployments.items():
            image = found[dep].image(container) if dep in found else None
            out[colour] = probes.image_tag(image) if image else None
        return out

    def verify(self, version: str | None = None, services: Sequence[str] | None = None) -> Report:
        """`verify.<env>`: the table of `retail_deploy.kube.verify`, kept in the deploy history (the
        production checklist asks whether the version was verified on staging)."""
        from retail_deploy.kube import verify as kube_verify

        self._check_context()  # exit 2 naming a missing context, before verify reads the cluster
        checked = kube_verify.verify(self.runner, self.cfg, self.env, version, services)
        report = Report(self.env.name, self.where, f"verify {version or ''}".strip(), version=version or "")
        if self.runner.dry:
            return report
        kube_verify.record(self.runner, self.cfg, self.env, checked)
        print(checked.render(), file=self.runner.out, flush=True)
        report.services = [ServiceReport(name, tag, "verified" if checked.ok else "failed")
                           for name, tag in checked.versions.items()]
        report.checks = list(checked.rows)
        if not checked.ok:
            silent = checked.unanswered
            if silent is not None:
                raise NotAnswered(f"the cluster of {self.env.name} did not answer ({silent}); nothing was verified",
                                  report)
            failed = ", ".join(f"{c.check} {c.target}" for c in report.checks if not c.ok)
            raise VerifyFailed(f"{self.env.name} verification failed: {failed[:300]}", report)
        return report

    def wait_for_rollout(self, services: Sequence[str], timeout_s: float) -> Report:
        """`kubectl rollout status --timeout` of each service's live deployment (blue-green: the
        colour the Service selects)."""
        report = Report(self.env.name, self.where, "rollout")
        for name in services:
            deployment = probes.live_deployment(self.runner, self.kenv, name)
            self.runner.run(kubectl.rollout_status(self.kenv.kube, deployment, timeout_s), hide=True)
            report.checks.append(Check("rollout", deployment, True, "complete"))
        return report

    # -- deploy --------------------------------------------------------------------------
    def prepare_deploy(self, version: str, *, services: Sequence[str] | None, strategy: str | None,
                       method: str | None, pull: bool) -> Prepared:
        strategy = strategy or self.kenv.strategy
        method = method or self.kenv.method
        deployer.check_request(self.kenv, strategy, method)
        targets = [self.kenv.service(n) for n in services] if services else list(self.kenv.services)
        label = "helm" if method == "helm" and strategy == "rolling" else strategy
        return Prepared(deployer.lock_ttl_s(self.kenv, targets, strategy, method), label)

    def deploy(self, version: str, *, services: Sequence[str] | None, strategy: str | None,
               method: str | None, pull: bool) -> Report:
        outcome = deployer.run(self.runner, self.cfg, self.env, version, strategy=strategy, method=method,
                               services=services)
        report = Report(self.env.name, self.where, f"deploy {version}", version=version,
                        strategy=outcome.strategy, result=outcome.result, colour=outcome.colour)
        for name in services or [t.name for t in self.kenv.services]:
            before = outcome.previous.get(name)
            report.services.append(ServiceReport(name, version, "deployed", self.kenv.service(name).deployment,
                                                 previous=probes.image_tag(before) if before else None))
        return report

    # -- rollbacks -----------------------------------------------------------------------
    def restore(self, release: Release) -> Report:
        """Blue-green service first (its colour back: one patch, the quickest way traffic leaves a
        bad release), then every other service set back to the image it served."""
        kenv, bg, runner = self.kenv, self.kenv.blue_green, self.runner
        report = Report(self.env.name, self.where, "restore", version="")
        job = self._job(services=list(release))
        plan = Plan("rollback", "", ())
        now = self.serving(list(release)) if not runner.dry else {}
        rolled: list[str] = []
        for name, want in release.items():
            target = kenv.service(name)
            have = now.get(name, Serving(None))
            deployment = target.deployment
            if bg is not None and name == bg.service:
                colour = want.colour if want.colour in bg.deployments else have.colour
                if colour:
                    deployment = bg.deployments[colour]
                if colour and colour != have.colour:
                    self._bring_back(colour, want.version, have.colour, job, plan)
                    report.notes.append(f"traffic switched back to {colour}")
                    report.colour = colour
                    report.services.append(ServiceReport(name, want.version, "restored", deployment,
                                                         previous=have.version, colour=colour))
                    continue
                report.colour = colour or ""
            if want.version and (have.version != want.version or runner.dry):
                self._set_image(name, deployment, want.version, job, plan)
                rolled.append(deployment)
                status = "restored"
            else:
                status = "unchanged"
            report.services.append(ServiceReport(name, want.version, status, deployment, previous=have.version,
                                                 colour=report.colour if bg is not None and name == bg.service
                                                 else ""))
        if rolled:
            report.notes.append("rolled back " + ", ".join(rolled))
        try:
            job.health(None, list(release))
        except RetailDeployError as exc:
            raise OperationFailed(f"{self.env.name} was rolled back but is not healthy: {exc}") from exc
        if not report.notes:
            report.notes.append("the previous release already serves: nothing to change")
        return report

    def _set_image(self, service: str, deployment: str, version: str, job: deployer.Deploy, plan: Plan) -> None:
        target = self.kenv.service(service)
        current = {} if self.runner.dry else {deployment: probes.deployment(self.runner, self.kenv.kube,
                                                                             deployment).image(target.container)}
        for step in set_image_steps(self.kenv, [target], version, current, {service: deployment}):
            job.do(step, plan)

    def _bring_back(self, colour: str, version: str | None, live: str, job: deployer.Deploy, plan: Plan) -> None:
        """The colour that served the release: its image first (idle, so safe), then scaled up as
        far as the live colour, then the selector patch."""
        bg = self.kenv.blue_green
        assert bg is not None
        runner, kube = self.runner, self.kenv.kube
        dep = bg.deployments[colour]
        replicas = 0
        want = 1
        if not runner.dry:
            replicas = probes.deployment(runner, kube, dep).replicas
            if live in bg.deployments:
                want = max(probes.deployment(runner, kube, bg.deployments[live]).replicas, 1)
        if version:
            self._set_image(bg.service, dep, version, job, plan)
        for step in plan_switch_back(self.kenv, colour, replicas, max(want, replicas, 1)):
            if step.kind != HEALTH:
                job.do(step, plan)

    def switch_to(self, colour: str) -> Report:
        bg = self.kenv.blue_green
        if bg is None:
            raise InputError(f"environment {self.env.name} has no blue_green section; use rollback.undo")
        runner, kube = self.runner, self.kenv.kube
        try:
            active = self._active()
        except RetailDeployError as exc:
            if not runner.dry:
                raise OperationFailed(f"cannot read Service {bg.service_name}: {exc}") from exc
            active = next(c for c in bg.deployments if c != colour)
            runner.say(f"assuming active colour {active} (could not read Service {bg.service_name})")
        job = self._job(services=[bg.service])
        plan = Plan("rollback", "", ())
        if colour == active:
            runner.say(f"traffic is already on {colour}; checking health only")
        live_replicas, replicas = 1, 0
        try:
            if active:
                live_replicas = probes.deployment(runner, kube, bg.deployments[active]).replicas
            replicas = probes.deployment(runner, kube, bg.deployments[colour]).replicas
        except RetailDeployError as exc:
            if not runner.dry:
                raise OperationFailed(f"cannot read the colours' deployments: {exc}") from exc
        for step in plan_switch_back(self.kenv, colour, replicas, max(live_replicas, 1)):
            if step.kind == HEALTH:
                job.health(None)
            elif not (step.kind == SWITCH and colour == active):
                job.do(step, plan)
        report = Report(self.env.name, self.where, f"switch to {colour}", colour=colour)
        report.services.append(ServiceReport(bg.service, None, "switched", bg.deployments[colour], colour=colour))
        report.notes.append(f"traffic switched back to {colour}")
        return report

    def undo(self, service: str | None, to_revision: int | None) -> Report:
        """`kubectl rollout undo` (optionally `--to-revision`) of one service's live deployment or
        of all, wait, check health: surgical use, or when no release is recorded."""
        kenv, runner = self.kenv, self.runner
        if to_revision is not None and service is None:
            raise InputError("--to-revision needs --service: revision numbers differ per deployment")
        if to_revision is not None and to_revision < 1:
            raise InputError(f"--to-revision must be a positive revision number, not {to_revision}")
        names = [service] if service else [t.name for t in kenv.services]
        pairs = [(n, self._live_deployment(n)) for n in names]
        if to_revision is not None and not runner.dry:
            known = [r.revision for r in probes.revisions(runner, kenv.kube, pairs[0][1],
                                                          kenv.service(names[0]).selector)]
            if known and to_revision not in known:
                raise InputError(f"{pairs[0][1]} has no revision {to_revision}; known revisions: "
                                 f"{', '.join(map(str, known))} (see inv rollback.history --env {kenv.name})")
        job = self._job(services=names)
        plan = Plan("rollback", "", ())
        for step in plan_undo(kenv, pairs, to_revision):
            job.do(step, plan)
        job.health(None, names)
        report = Report(self.env.name, self.where, "undo", services=[
            ServiceReport(n, None, "undone", dep) for n, dep in pairs])
        report.notes.append("rolled back " + ", ".join(dep for _, dep in pairs))
        return report

    def _live_deployment(self, service: str) -> str:
        """probes.live_deployment; a dry run that cannot read the Service assumes the first colour."""
        bg = self.kenv.blue_green
        try:
            return probes.live_deployment(self.runner, self.kenv, service)
        except RetailDeployError as error:
            if bg is None:
                raise
            first = next(iter(bg.deployments))
            self._assumed(error, f"{first} is live: the Service {bg.service_name} could not be read")
            return bg.deployments[first]

    def rollback_refusal(self) -> str | None:
        return None  # set image, rollout undo and the selector patch work on every Kubernetes environment

    # -- lock and history ----------------------------------------------------------------
    def lock(self, *, version: str, action: str, ttl_s: float) -> AbstractContextManager[history.LockInfo]:
        return history.deploy_lock(self.runner, self.kenv.kube, env_name=self.kenv.name, version=version,
                                   strategy=action, ttl_s=max(ttl_s, 1.0))

    def read_lock(self) -> history.LockInfo | None:
        return history.read_lock(self.runner, self.kenv.kube)

    def force_release(self) -> history.LockInfo | None:
        try:
            return history.force_release(self.runner, self.kenv.kube)
        except RetailDeployError as error:  # a dry run that cannot read the lock plans its removal
            self._assumed(error, "a lock is held: the lock ConfigMap could not be read")
            self.runner.run(kubectl.delete_configmap(self.kenv.kube, history.LOCK_NAME))
            return None

    def read_history(self) -> list[dict[str, Any]]:
        try:
            return history.read_history(self.runner, self.kenv.kube)
        except RetailDeployError as error:
            self._assumed(error, "no recorded release: the deploy history could not be read")
            return []

    def record(self, entry: Mapping[str, Any]) -> None:
        history.record(self.runner, self.kenv.kube, dict(entry))

    def history_detail(self, services: Sequence[str] | None) -> list[str]:
        kenv = self.kenv
        deployments = ([kenv.service(s).deployment for s in services] if services
                       else [t.deployment for t in kenv.services])
        if kenv.blue_green is not None:
            bg_dep = kenv.service(kenv.blue_green.service).deployment
            deployments = [d for d in deployments if d != bg_dep] + list(kenv.blue_green.deployments.values())
        out: list[str] = []
        for name in deployments:
            try:
                text = self.runner.probe(kubectl.rollout_history(kenv.kube, name)).stdout.rstrip()
            except RetailDeployError as exc:
                text = f"  (could not read: {str(exc).splitlines()[0]})"
            out += ["", f"kubectl rollout history deployment/{name}:", text]
        return out

