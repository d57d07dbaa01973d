"""Carry out a deploy plan through the Runner: act, probe again to confirm, and on failure put
the environment back.

- rolling (and staging via kubectl): a failed rollout -> `rollout undo` of every deployment we
  changed, wait for it, check that the old version serves, exit 3 (RolledBack).
- helm: `--atomic` rolls the failing release back itself; releases already upgraded in this run
  are rolled back too; a release stuck in `pending-*` stops the deploy before anything changes.
- blue-green: a failure before the switch leaves traffic where it was; after it, traffic goes
  back to the old colour (still scaled up); either way the idle colour is scaled back down. Ctrl-C,
  SIGINT or SIGTERM at any step stops the running command at once and leaves traffic on exactly
  one colour, checks it is healthy and says which, and which versions serve (exit 130).
- a second signal while the environment is being put back is reported and ignored: a recovery
  left half done is worse than a late exit (docs/architecture.md, "Signals").
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from retail_deploy.commands import Command
from retail_deploy.commands import helm as helm_cmd
from retail_deploy.errors import (  # Interrupted is re-exported: deployer.Interrupted stays importable
    CommandFailed,
    InputError,
    Interrupted,
    OperationFailed,
    RetailDeployError,
    RolledBack,
    clip,
)
from retail_deploy.execute import shielded, signal_name
from retail_deploy.health import verification
from retail_deploy.kube import probes, rollouts
from retail_deploy.kube.settings import KubeEnv, ServiceTarget, kube_env
from retail_deploy.kube.strategies import (
    BEFORE_SWITCH,
    HEALTH,
    HELM_UPGRADE,
    ROLLOUT_STATUS,
    SCALE,
    SET_IMAGE,
    SMOKE,
    SWITCH,
    UNDO,
    VERIFIED,
    WAIT,
    WATCH,
    Plan,
    Step,
)
from retail_deploy.kube.strategies.blue_green import plan_blue_green, plan_idle_down, plan_switch_back
from retail_deploy.kube.strategies.rolling import plan_rolling, plan_undo
from retail_deploy.kube.strategies.staging import plan_helm

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner
    from retail_deploy.targets import Report

STRATEGIES = ("rolling", "blue-green")
WRITES = (SET_IMAGE, SCALE, SWITCH, UNDO)  # one kubectl command per step, run concurrently in a batch
BATCHED = (*WRITES, ROLLOUT_STATUS)  # step kinds carried out together
METHODS = ("helm", "kubectl")


@dataclass
class Facts:
    current: dict[str, str | None] = field(default_factory=dict)  # deployment -> image
    replicas: dict[str, int] = field(default_factory=dict)
    active: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    version: str
    strategy: str
    result: str
    colour: str = ""
    previous: dict[str, str] = field(default_factory=dict)


@contextmanager
def sigint_shielded(doing: str = "putting the environment back") -> Iterator[None]:
    """A second Ctrl-C, SIGINT or SIGTERM while we put traffic back is reported and ignored."""
    with shielded(doing):
        yield


# --- facts ---------------------------------------------------------------------------------

def gather(runner: Runner, kenv: KubeEnv, deployments: Sequence[str], *, with_colour: bool,
           containers: Mapping[str, str] | None = None) -> Facts:
    """Current images (of `containers[deployment]`, the container we set; else the first),
    replicas and (blue-green) the active colour. In a dry run a probe that cannot run becomes a
    stated assumption; in a real run it stops the deploy (nothing changed)."""
    facts = Facts()
    names = list(dict.fromkeys(deployments))
    try:
        found = probes.deployments(runner, kenv.kube, names)
    except (CommandFailed, OperationFailed) as exc:
        if not runner.dry:
            raise OperationFailed(f"cannot read deployments {', '.join(names)} in {kenv.kube.namespace} "
                                  f"(context {kenv.kube.context}): {_short(exc)}") from exc
        if names:
            facts.notes.append(f"assuming deployments {', '.join(names)} exist (could not read them: {_short(exc)})")
        found = {}
    for name in names:
        dep = found.get(name)
        if dep is None:
            if not runner.dry:
                raise OperationFailed(f"deployment {name} not found in {kenv.kube.namespace}")
            facts.current[name] = None
            continue
        # the container we set image on: a sidecar listed first must not pass for our version
        container = (containers or {}).get(name)
        facts.current[name] = dep.image(container) if container else next(iter(dep.images.values()), None)
        facts.replicas[name] = dep.replicas
    if with_colour and kenv.blue_green is not None:
        bg = kenv.blue_green
        try:
            facts.active = rollouts.release_colour(runner, kenv.kube, bg)
        except (CommandFailed, OperationFailed) as exc:
            if not runner.dry:
                raise OperationFailed(f"cannot read Service {bg.service_name}: {exc}") from exc
            facts.active = next(iter(bg.deployments))
            facts.notes.append(f"assuming active colour {facts.active} "
                               f"(could not read Service {bg.service_name}: {_short(exc)})")
    return facts


def _command(step: Step) -> Command:
    """The command of a step that acts (the plans always give one)."""
    assert step.command is not None, f"step {step.kind} '{step.text}' has no command"
    return step.command


def _short(exc: Exception) -> str:
    """One short clause for a message: for a failed command, which command and its last error line."""
    if isinstance(exc, CommandFailed):
        words = exc.display.split(" ")
        what = " ".join(words[:4]) if words and words[0] in ("kubectl", "helm") else exc.display[:80]
        status = "timed out" if exc.returncode is None else f"exited {exc.returncode}"
        last = clip(exc.detail.splitlines()[-1], 240) if exc.detail else ""
        return f"{what} {status}" + (f": {last}" if last else "")
    lines = str(exc).splitlines()
    return clip(lines[0], 240) if lines else type(exc).__name__


# --- the deploy ----------------------------------------------------------------------------

@dataclass
class Deploy:
    runner: Runner
    cfg: PlatformConfig
    env: EnvironmentConfig
    kenv: KubeEnv
    version: str
    targets: list[ServiceTarget]
    undone: set[str] = field(default_factory=set)  # deployments this job ran `rollout undo` on
    settled: set[str] = field(default_factory=set)  # services rolled out or switched so far
    ahead: list[Step] = field(default_factory=list)  # steps already carried out with their batch
    unconfirmed: dict[str, str] = field(default_factory=dict)  # deployment -> image set, read back next poll
    sequence: Sequence[Step] | None = None  # the steps `do_all` runs (None: the plan's)

    # -- step execution --
    def batch(self, step: Step, seq: Sequence[Step]) -> list[Step]:
        """`step` and the steps of the same kind right after it in `seq`: they are carried out
        together (kubectl commands concurrently, waits in one poll loop; rollouts.py)."""
        at = next((i for i, s in enumerate(seq) if s is step), None)
        if at is None or step.kind not in BATCHED:
            return [step]
        end = at + 1
        while end < len(seq) and seq[end].kind == step.kind:
            end += 1
        return list(seq[at:end])

    def do_all(self, steps: Sequence[Step], plan: Plan) -> None:
        """Carry out the steps of a recovery (undo, switch back, scale down), batched as the plan's.
        The forward images not yet read back are no concern of a recovery's waits."""
        self.sequence, self.unconfirmed = steps, {}
        try:
            for step in steps:
                self.do(step, plan)
        finally:
            self.sequence = None

    def do(self, step: Step, plan: Plan) -> None:
        """Carry out `step` of the sequence being run (the plan's steps, or those of `do_all`); the
        first of a batch carries out the whole batch, and the later ones are then skipped."""
        runner = self.runner
        if any(s is step for s in self.ahead):
            self.ahead = [s for s in self.ahead if s is not step]
            return
        batch = self.batch(step, plan.steps if self.sequence is None else self.sequence)
        self.ahead = batch[1:]
        try:
            if runner.dry and step.kind in WRITES and step.kind != SCALE:  # each step, then its command
                for s in batch:
                    runner.say(s.text)
                    self._do([s], plan)
                return
            for s in batch:
                runner.say(s.text)
            self._do(batch, plan)
        except BaseException:
            self.ahead = []
            raise

    def _do(self, batch: list[Step], plan: Plan) -> None:
        runner, kube, step = self.runner, self.kenv.kube, batch[0]
        if step.kind == SET_IMAGE:
            # an unchanged one: kubectl would send nothing and no rollout would start (said, skipped)
            todo = [s for s in batch if not s.unchanged]
            rollouts.run_all(runner, [_command(s) for s in todo])
            # read back by the rollouts' first poll (every plan waits for a set image's rollout)
            self.unconfirmed.update({s.deployment: s.image for s in todo if not runner.dry})
        elif step.kind == ROLLOUT_STATUS:
            images, self.unconfirmed = self.unconfirmed, {}
            rollouts.wait_rollouts(runner, kube, [s.deployment for s in batch], self.kenv.rollout_timeout_s,
                                   undone=self.undone, images=images)
            if plan.strategy != "blue-green" or step.phase != BEFORE_SWITCH:  # an idle colour serves nothing yet
                self.settled |= {s.service for s in batch if s.service}
        elif step.kind == SCALE:
            rollouts.run_all(runner, rollouts.scale_commands(kube, batch))
        elif step.kind in (SWITCH, UNDO):
            rollouts.run_all(runner, [_command(s) for s in batch])
            if step.kind == UNDO:
                self.undone |= {s.deployment for s in batch}
            if step.kind == SWITCH:
                if not runner.dry:
                    self.confirm_colour(step.colour, [s.service for s in batch])
                self.settled |= {s.service for s in batch if s.service}
        elif step.kind == HELM_UPGRADE:
            runner.run(_command(step))
        elif step.kind == SMOKE:
            verification.smoke(runner, self.cfg, self.env, step.colour, self.version)
        elif step.kind == HEALTH:
            # blue-green: a version is checked only once its service was switched or rolled
            self.health(self.version, versioned=self.settled if plan.strategy == "blue-green" else None)
        elif step.kind == WATCH:
            verification.verification_period(runner, self.cfg, self.env, step.seconds, self.kenv.prometheus_url)
        elif step.kind == WAIT and not runner.dry:
            time.sleep(step.seconds)

    def confirm_colour(self, colour: str, services: Sequence[str] | None = None) -> None:
        """Every blue-green Service (of `services`, default all) selects `colour`: one list."""
        bg = self.kenv.blue_green
        assert bg is not None
        rollouts.confirm_colours(self.runner, self.kenv.kube, bg, colour, services)

    def health(self, version: str | Mapping[str, str] | None, services: list[str] | None = None, *,
               versioned: Collection[str] | None = None) -> None:
        """Public URLs healthy, and every service with a version endpoint reports `version`
        (one for all, or service -> version); `versioned`: only these services' versions."""
        verification.check_health(self.runner, self.cfg, self.env, services=services)
        if not version:
            return
        checks = []
        for target in self.targets:
            want = version.get(target.name) if isinstance(version, Mapping) else version
            path = getattr(self.cfg.services[target.name], "version_path", None)
            base = self.kenv.urls.get(target.name)
            if (want and path and base and (services is None or target.name in services)
                    and (versioned is None or target.name in versioned)):
                checks.append((base, want, path))
        verification.check_versions(self.runner, checks)

    # -- rolling / kubectl staging --
    def run_rolling(self, plan: Plan) -> Outcome:
        changed: list[Step] = []  # set-image steps attempted (a Ctrl-C may land mid-command)
        try:
            for step in plan.steps:
                if step.kind == SET_IMAGE:  # the whole batch: it is carried out with its first step
                    changed += [s for s in self.batch(step, plan.steps) if not s.unchanged and s not in changed]
                self.do(step, plan)
        except KeyboardInterrupt:
            with sigint_shielded("rolling back"):
                state = self.undo(changed, plan)
            raise Interrupted(f"interrupted: {state}") from None
        except Exception as exc:  # not only our own errors: a bug after set image must not skip the undo
            if not changed:
                if not isinstance(exc, RetailDeployError):
                    raise
                raise OperationFailed(f"{exc} (nothing was changed by this deploy)") from exc
            with sigint_shielded():  # a Ctrl-C now would leave the failed version half rolled back
                state = self.undo(changed, plan)
            raise RolledBack(f"deploy of {self.version} to {self.kenv.name} failed ({_short(exc)}); {state}") from exc
        return Outcome(self.version, plan.strategy, "succeeded", previous=plan.previous)

    def undo(self, attempted: list[Step], plan: Plan) -> str:
        """`rollout undo` every deployment whose image this deploy really changed (probed: a
        set image interrupted before it reached the API server must not undo an older rollout)."""
        changed = [] if self.runner.dry else [s for s in attempted if self._changed(s, plan)]
        if not changed:
            return "nothing was changed"
        self.runner.say("rolling back: " + ", ".join(s.deployment for s in changed))
        try:
            for s in changed:
                self._await_observed(s.deployment)
            self.do_all(plan_undo(self.kenv, [(s.service, s.deployment) for s in changed]), plan)
            # each service must serve its own previous version (they need not share one)
            old = {s.service: probes.image_tag(plan.previous[s.service]) for s in changed if plan.previous.get(s.service)}
            self.health(old, [s.service for s in changed])
        except RetailDeployError as exc:
            raise OperationFailed(f"the rollback failed too ({_short(exc)}); run `kubectl rollout undo` "
                                  f"on {', '.join(s.deployment for s in changed)} by hand") from exc
        return "rolled back to the previous version, which is serving: " + ", ".join(
            f"{s.deployment} {probes.image_tag(plan.previous.get(s.service) or '?')}" for s in changed)

    def _await_observed(self, deployment: str, timeout_s: float = 30.0) -> None:
        """Wait (briefly) until the deployment controller has seen our set image, i.e. made the
        new template's ReplicaSet: `rollout undo` reads the revisions from the ReplicaSets, and
        run before that it finds no previous revision ("no rollout history found"), or one older
        than the release that served. An undo right after a set image (Ctrl-C during the
        rollout's first wait) would otherwise fail on a real cluster, or go back too far."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                facts = probes.deployment(self.runner, self.kenv.kube, deployment)
            except RetailDeployError:
                return  # the undo itself will say what is wrong
            if facts.observed_generation >= facts.generation or time.monotonic() >= deadline:
                return
            time.sleep(0.2)

    def _changed(self, step: Step, plan: Plan) -> bool:
        try:
            images = probes.deployment(self.runner, self.kenv.kube, step.deployment).images.values()
        except RetailDeployError:
            return True  # cannot tell: undoing is the safer guess after our own set image
        before = plan.previous.get(step.service)
        return before not in images if before else step.image in images

    # -- helm --
    def run_helm(self, plan: Plan) -> Outcome:
        self.refuse_pending([s for s in plan.steps if s.kind == HELM_UPGRADE])
        upgraded: list[Step] = []
        try:
            for step in plan.steps:
                self.do(step, plan)
                if step.kind == HELM_UPGRADE:
                    upgraded.append(step)
        except KeyboardInterrupt:
            with sigint_shielded("rolling back"):  # the releases already upgraded go back, as after a failure
                stuck = self.helm_rollback(upgraded)
            back = [self.kenv.service(s.service).helm_release for s in upgraded]
            done = (f"rolled back {', '.join(r for r in back if r not in stuck)}; " if len(stuck) < len(back) else "")
            failed = f"could NOT roll back {', '.join(stuck)}; " if stuck else ""
            raise Interrupted(f"interrupted: {done}{failed}a killed helm may leave its release pending-*; "
                              "run `helm status` and the recovery command the next deploy prints") from None
        except RetailDeployError as exc:
            with sigint_shielded():
                stuck = self.helm_rollback(upgraded)
            if stuck:
                raise OperationFailed(
                    f"helm deploy of {self.version} failed ({_short(exc)}) and rolling back {', '.join(stuck)} "
                    f"failed too; check `helm history` of each and run `helm rollback` by hand") from exc
            raise RolledBack(f"helm deploy of {self.version} failed ({_short(exc)}); --atomic rolled the "
                             f"failing release back" + (f", and {len(upgraded)} upgraded release(s) were rolled back"
                                                        if upgraded else "")) from exc
        return Outcome(self.version, "helm", "succeeded")

    def helm_rollback(self, upgraded: list[Step]) -> list[str]:
        """Roll back every release this deploy upgraded, each one even if another fails; returns
        the releases whose rollback failed."""
        stuck = []
        for step in upgraded:
            release = self.kenv.service(step.service).helm_release
            try:
                self.runner.run(helm_cmd.rollback(release, namespace=self.kenv.kube.namespace,
                                                  context=self.kenv.kube.context, timeout=self.kenv.helm.timeout))
            except RetailDeployError as exc:
                self.runner.say(f"could not roll back {release}: {_short(exc)}")
                stuck.append(release)
        return stuck

    def refuse_pending(self, steps: list[Step]) -> None:
        for step in steps:
            target = self.kenv.service(step.service)
            kube = self.kenv.kube
            try:
                result = self.runner.probe(helm_cmd.status_json(target.helm_release, namespace=kube.namespace,
                                                                context=kube.context))
            except CommandFailed as exc:
                if "release: not found" in exc.detail:
                    continue  # first install
                if self.runner.dry:
                    self.runner.say(f"assuming release {target.helm_release} is not pending ({_short(exc)})")
                    continue
                raise
            release = probes.parse_helm_status(result.stdout)
            if release.pending:
                hist = probes.parse_helm_history(self.runner.probe(helm_cmd.history_json(
                    target.helm_release, namespace=kube.namespace, context=kube.context)).stdout)
                fix = probes.pending_recovery(release, hist, kube.namespace, kube.context)
                raise OperationFailed(
                    f"helm release {release.name} is stuck in {release.status} (revision {release.revision}); "
                    f"every upgrade fails until it is recovered: {fix.display()}")

    # -- blue-green --
    def run_blue_green(self, plan: Plan) -> Outcome:
        bg = self.kenv.blue_green
        assert bg is not None
        active, idle = plan.active_colour, plan.idle_colour
        idle_deps = {m.deployments.get(idle, "") for m in bg.members}
        switched = verified = touched = False
        rolled: list[Step] = []
        step = plan.steps[0]
        try:
            for step in plan.steps:
                if step.phase == VERIFIED:
                    verified = True
                if step.kind == SWITCH:
                    switched = True  # set before acting: an interrupted patch may have landed
                if step.deployment in idle_deps and not verified:
                    touched = True  # likewise: an interrupted set image or scale may have landed
                if step.kind == SET_IMAGE:  # the whole batch: it is carried out with its first step
                    rolled += [s for s in self.batch(step, plan.steps)
                               if s.service not in bg.services and not s.unchanged and s not in rolled]
                self.do(step, plan)
        except KeyboardInterrupt as interrupt:
            keep = idle if verified else active
            with sigint_shielded(f"putting traffic on {keep}"):
                state, _ = self.restore(keep, rolled if not verified else [], plan, switched, touched and not verified)
            raise Interrupted(f"interrupted by {signal_name(interrupt)} during '{step.text}': {state}") from None
        except Exception as exc:  # not only our own errors: a bug after the switch must not keep traffic there
            if verified:
                serving = "" if self.runner.dry else self.serving(idle)
                raise OperationFailed(f"{_short(exc)}; the new version was verified and keeps the traffic "
                                      f"on {idle}" + (f", serving {serving}" if serving else "")
                                      + f"; finish by hand: {step.command or step.text}") from exc
            with sigint_shielded(f"putting traffic back on {active}"):  # else traffic may stay on the failed colour
                state, moved = self.restore(active, rolled, plan, switched, touched)
            # a refused selector patch is a failure AT the switch: traffic never moved
            where = "after the switch" if moved else "at the switch" if switched else "before the switch"
            raise RolledBack(f"blue-green deploy of {self.version} failed {where} ({_short(exc)}); {state}") from exc
        return Outcome(self.version, "blue-green", "succeeded", colour=idle, previous=plan.previous)

    def restore(self, colour: str, rolled: list[Step], plan: Plan, switched: bool,
                idle_down: bool = False) -> tuple[str, bool]:
        """Put traffic on `colour` (if it is not there) FIRST: one patch, while undoing the rolled
        services may wait a rollout timeout each; then scale the idle colour back down (`idle_down`:
        this attempt set its image or scaled it), undo the rolled services, check health and name
        the versions serving. Returns the account for the message, and whether traffic had moved
        off the old colour."""
        bg = self.kenv.blue_green
        assert bg is not None
        notes = []
        moved = colour != plan.active_colour
        if switched and not self.runner.dry:
            away = rollouts.not_on(self.runner, self.kenv.kube, bg, colour)  # every switched service
            if away:
                found = probes.deployments(self.runner, self.kenv.kube, [m.deployments[colour] for m in away])
                back: list[Step] = []
                for m in away:
                    dep = found.get(m.deployments[colour])
                    replicas = dep.replicas if dep is not None else 0
                    back += [s for s in plan_switch_back(self.kenv, colour, replicas, max(replicas, 1), m)
                             if s.kind != HEALTH]
                back.sort(key=lambda s: (SCALE, ROLLOUT_STATUS, SWITCH).index(s.kind))  # one batch per kind
                self.do_all(back, plan)
                notes.append(f"switched traffic back to {colour}" + (
                    f" ({', '.join(m.service_name for m in away)})" if len(bg.members) > 1 else ""))
                moved = True
        if not moved:
            notes.append(f"traffic never left {colour}")
        if idle_down and colour == plan.active_colour and not self.runner.dry:
            notes.append(self.idle_down(plan))
        undo_failed: RetailDeployError | None = None
        if rolled:
            try:
                notes.append(self.undo(rolled, plan))
            except RetailDeployError as exc:
                undo_failed = exc
                notes.append(str(exc))
        # back on the old colour: every service serves its own previous version
        version: str | dict[str, str] = ({svc: probes.image_tag(image) for svc, image in plan.previous.items() if image}
                                         if colour == plan.active_colour else self.version)
        serving = "" if self.runner.dry else self.serving(colour)
        try:
            self.health(version)
            health = "healthy" + (f", serving {serving}" if serving else "")
        except RetailDeployError as exc:
            health = f"NOT healthy: {_short(exc)}" + (f"; it runs {serving}" if serving else "")
        notes.append(f"traffic is on {colour} ({bg.deployments[colour]}), {health}")
        if undo_failed is not None:
            raise OperationFailed("; ".join(notes)) from undo_failed
        return "; ".join(notes), moved

    def idle_down(self, plan: Plan) -> str:
        """Scale the colour this attempt prepared back down, once the Service is confirmed to
        select the other one: it must not run a rejected or stale release beside production."""
        bg = self.kenv.blue_green
        assert bg is not None
        idle = plan.idle_colour
        dep = ", ".join(m.deployments[idle] for m in bg.members)
        try:
            self.confirm_colour(plan.active_colour)
            self.do_all([s for m in bg.members for s in plan_idle_down(self.kenv, idle, m)], plan)
        except RetailDeployError as exc:
            return (f"{idle} ({dep}) was NOT scaled down ({_short(exc)}); once traffic is on {plan.active_colour}: "
                    f"kubectl scale deployment {dep.replace(', ', ' ')} --replicas=0")
        return f"{idle} scaled back down to 0"

    def serving(self, colour: str) -> str:
        """The version each deployed service runs now ("backend 1.0.0, consumer-web 1.0.0"), read
        from the deployments behind the traffic; "" when they cannot be read."""
        bg = self.kenv.blue_green
        colours = {m.service: m.deployments[colour] for m in bg.members} if bg is not None else {}
        deployments = {t.name: colours.get(t.name, t.deployment) for t in self.targets}
        try:
            found = probes.deployments(self.runner, self.kenv.kube, list(deployments.values()))
        except RetailDeployError:
            return ""
        parts = []
        for target in self.targets:
            dep = found.get(deployments[target.name])
            image = None if dep is None else dep.image(target.container) or next(iter(dep.images.values()), None)
            if image:
                parts.append(f"{target.name} {probes.image_tag(image)}")
        return ", ".join(parts)


def _targets(kenv: KubeEnv, services: Sequence[str] | None) -> list[ServiceTarget]:
    if not services:
        return list(kenv.services)
    return [kenv.service(name) for name in services]


LOCK_MARGIN_S = 600.0


def lock_ttl_s(kenv: KubeEnv, targets: Sequence[ServiceTarget], strategy: str, method: str) -> float:
    """How long the deploy lock must last: `kube.lock_ttl`, but never less than the longest this
    deploy may legitimately take (every rollout wait, a switch-back, the verification period and
    the scale-down delay). The lock is not renewed: expiring mid-deploy would let a second deploy
    take it over and run beside this one."""
    if method == "helm" and strategy == "rolling":
        # each upgrade may wait its --timeout, then --atomic (or our rollback) as long again
        from retail_deploy import validate

        worst = 2 * len(targets) * validate.duration(kenv.helm.timeout)
    else:
        bg = kenv.blue_green
        # a rollout wait per target, one for the undo of each, one to bring a colour back up
        worst = (2 * len(targets) + 1) * kenv.rollout_timeout_s
        if bg is not None:
            worst += bg.verification_period_s + (bg.scale_down_delay_s if strategy == "blue-green" else 0)
    return max(kenv.lock_ttl_s, worst + LOCK_MARGIN_S)


def check_request(kenv: KubeEnv, strategy: str, method: str) -> None:
    """Exit 2 before anything changes (or is locked) for a request this environment cannot do."""
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; use one of: {', '.join(STRATEGIES)}")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; use one of: {', '.join(METHODS)}")
    if strategy == "blue-green" and kenv.blue_green is None:
        raise InputError(f"environment {kenv.name} has no blue_green section; use --strategy rolling")


def deploy(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str, *,
           strategy: str | None = None, method: str | None = None, services: Sequence[str] | None = None,
           forced: str | None = None) -> Report:
    """Deploy `version` to a Kubernetes environment with its strategy (or the one given), under
    the environment's lock, with an audit record and notifications whatever happens: the deploy
    seam's policy (retail_deploy.targets.policy) around `run`. `forced` is the reason given for
    overriding the pre-deployment checklist; it is kept in the record."""
    from retail_deploy.targets.kubernetes import KubeTarget
    from retail_deploy.targets.policy import Guarded

    return Guarded(KubeTarget(runner, cfg, env)).deploy(version, services=services, strategy=strategy,
                                                        method=method, forced=forced)


def run(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str, *,
        strategy: str | None = None, method: str | None = None,
        services: Sequence[str] | None = None) -> Outcome:
    """The deploy itself, without policy (lock, record, notification: the caller's, see
    retail_deploy.targets.policy)."""
    kenv = kube_env(cfg, env)
    strategy = strategy or kenv.strategy
    method = method or kenv.method
    check_request(kenv, strategy, method)
    targets = _targets(kenv, services)
    job = Deploy(runner, cfg, env, kenv, version, targets)
    plan = make_plan(runner, kenv, targets, version, strategy, method)
    for note in plan.notes:
        runner.say(note)
    if plan.strategy == "helm":
        return job.run_helm(plan)
    if plan.strategy == "blue-green":
        return job.run_blue_green(plan)
    return job.run_rolling(plan)


def make_plan(runner: Runner, kenv: KubeEnv, targets: list[ServiceTarget], version: str, strategy: str,
              method: str) -> Plan:
    if method == "helm" and strategy == "rolling":
        return plan_helm(kenv, targets, version)
    bg = kenv.blue_green
    verification_s = bg.verification_period_s if bg else 0.0
    if strategy == "blue-green" and bg is not None:
        containers = {t.deployment: t.container for t in targets if t.name not in bg.services}
        for m in bg.members:
            containers.update({dep: kenv.service(m.service).container for dep in m.deployments.values()})
        facts = gather(runner, kenv, list(containers), with_colour=True, containers=containers)
        plan = plan_blue_green(kenv, targets, version, active=facts.active, replicas=facts.replicas,
                               current=facts.current, verification_s=verification_s)
    else:
        live: dict[str, str] = {}
        if bg is not None and any(t.name in bg.services for t in targets):
            facts = gather(runner, kenv, [], with_colour=True)
            if facts.active is not None and facts.active in bg.deployments:
                live.update({m.service: m.deployments[facts.active] for m in bg.members})
            notes = facts.notes
        else:
            notes = []
        containers = {live.get(t.name, t.deployment): t.container for t in targets}
        facts = gather(runner, kenv, list(containers), with_colour=False, containers=containers)
        facts.notes = notes + facts.notes
        plan = plan_rolling(kenv, targets, version, facts.current, deployment_of=live,
                            verification_s=verification_s if kenv.prometheus_url else 0.0)
    return Plan(plan.strategy, plan.version, plan.steps, tuple(facts.notes) + plan.notes, plan.active_colour,
                plan.idle_colour, plan.previous)
