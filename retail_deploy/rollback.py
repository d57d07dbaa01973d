"""The runbook's rollback procedures for Kubernetes environments.

- `undo`: `kubectl rollout undo` (optionally `--to-revision`) per deployment, wait, check health.
- `blue_green`: scale the previous colour up if needed, wait for it, re-point the Service
  selector (one patch), check health.
- `rollback_environment`: what an automatic trigger does (monitor.watch): the environment's
  strategy decides between the two.
Every rollback is recorded in the deploy history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retail_deploy import history, probes
from retail_deploy.commands import kubectl
from retail_deploy.deployer import Deploy
from retail_deploy.errors import InputError, OperationFailed, RetailDeployError
from retail_deploy.kube_settings import KubeEnv, kube_env
from retail_deploy.strategies import HEALTH, Plan
from retail_deploy.strategies.blue_green import plan_switch_back
from retail_deploy.strategies.rolling import plan_undo


def _record(runner: Any, kenv: KubeEnv, entry: dict[str, Any], start: str, result: str) -> None:
    if runner.dry:
        return
    entry.update(start=start, end=history.iso(history.utcnow()), result=result, env=kenv.name,
                 who=history.whoami())
    history.record(runner, kenv.kube, entry)


def undo(runner: Any, cfg: Any, env: Any, *, service: str | None = None, to_revision: int | None = None,
         reason: str = "manual", services: Sequence[str] | None = None) -> list[str]:
    """Undo the last rollout (or go to `to_revision`) of one service, of `services`, or of all;
    returns the deployments."""
    kenv = kube_env(cfg, env)
    if to_revision is not None and service is None:
        raise InputError("--to-revision needs --service: revision numbers differ per deployment")
    if to_revision is not None and to_revision < 1:
        raise InputError(f"--to-revision must be a positive revision number, not {to_revision}")
    names = [service] if service else list(services) if services else [t.name for t in kenv.services]
    targets = [kenv.service(n) for n in names]
    pairs = [(t.name, probes.live_deployment(runner, kenv, t.name)) for t in targets]
    if to_revision is not None and not runner.dry:
        target = targets[0]
        known = [r.revision for r in probes.revisions(runner, kenv.kube, pairs[0][1], target.selector)]
        if known and to_revision not in known:
            raise InputError(f"{pairs[0][1]} has no revision {to_revision}; known revisions: "
                             f"{', '.join(map(str, known))} (see inv rollback.history --env {kenv.name})")
    start = history.iso(history.utcnow())
    entry: dict[str, Any] = {"action": "rollback-undo", "services": names, "strategy": "rollout-undo",
                             "reason": reason, "version": f"revision {to_revision}" if to_revision else "previous"}
    job = Deploy(runner, cfg, env, kenv, "", targets)
    plan = Plan("rollback", "", ())
    try:
        for step in plan_undo(kenv, pairs, to_revision):
            job.do(step, plan)
        job.health(None, names)
    except RetailDeployError:
        _record(runner, kenv, entry, start, "failed")
        raise
    _record(runner, kenv, entry, start, "succeeded")
    return [dep for _, dep in pairs]


def blue_green(runner: Any, cfg: Any, env: Any, *, to_colour: str | None = None, reason: str = "manual") -> str:
    """Switch traffic to the other colour (or `to_colour`), scaling it up first if needed."""
    kenv = kube_env(cfg, env)
    bg = kenv.blue_green
    if bg is None:
        raise InputError(f"environment {kenv.name} has no blue_green section; use rollback.undo")
    if to_colour is not None and to_colour not in bg.deployments:
        raise InputError(f"unknown colour {to_colour!r}; use one of: {', '.join(bg.deployments)}")
    try:
        selector = probes.selector(runner, kenv.kube, bg.service_name)
        active = probes.active_colour(selector, bg.selector_key, dict(bg.deployments))
    except RetailDeployError as exc:
        if not runner.dry:
            raise OperationFailed(f"cannot read Service {bg.service_name}: {exc}") from exc
        active = next(iter(bg.deployments))
        runner.say(f"assuming active colour {active} (could not read Service {bg.service_name})")
    target = to_colour or (bg.other(active) if active else None)
    if target is None:
        raise OperationFailed(f"Service {bg.service_name} selects neither colour; name one with --to-colour")
    if target == active:
        runner.say(f"traffic is already on {target}; checking health only")
    live_replicas = 1
    target_replicas = 0
    try:
        if active:
            live_replicas = probes.deployment(runner, kenv.kube, bg.deployments[active]).replicas
        target_replicas = probes.deployment(runner, kenv.kube, bg.deployments[target]).replicas
    except RetailDeployError as exc:
        if not runner.dry:
            raise OperationFailed(f"cannot read the colours' deployments: {exc}") from exc
    start = history.iso(history.utcnow())
    entry: dict[str, Any] = {"action": "rollback-blue-green", "services": [bg.service], "strategy": "blue-green",
                             "reason": reason, "version": target, "previous": {bg.service: active or ""}}
    job = Deploy(runner, cfg, env, kenv, "", [kenv.service(bg.service)])
    plan = Plan("rollback", "", ())
    try:
        for step in plan_switch_back(kenv, target, target_replicas, max(live_replicas, 1)):
            if step.kind == HEALTH:
                job.health(None)
            elif not (step.kind == "switch" and target == active):
                job.do(step, plan)
    except RetailDeployError:
        _record(runner, kenv, entry, start, "failed")
        raise
    _record(runner, kenv, entry, start, "succeeded")
    return target


def rollback_plan(runner: Any, cfg: Any, env: Any) -> list[str]:
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


def rollback_environment(runner: Any, cfg: Any, env: Any, *, reason: str) -> str:
    """Automatic rollback (monitor.watch) of the last deploy: a blue-green deploy switches traffic
    back and undoes the services it rolled beside the colours; a rolling one undoes the services
    it deployed. Without a deploy record, the environment's strategy decides and every service
    is undone. Returns a one-line summary."""
    kenv = kube_env(cfg, env)
    runner.say(f"rolling back {kenv.name}: {reason}")
    last = _last_deploy(runner, kenv)
    known = {t.name for t in kenv.services}
    deployed = [s for s in (last or {}).get("services", []) if s in known] or None
    strategy = str((last or {}).get("strategy") or kenv.strategy)
    bg = kenv.blue_green
    if strategy == "blue-green" and bg is not None:
        colour = blue_green(runner, cfg, env, reason=reason)
        summary = f"traffic switched back to {colour}"
        # the front ends were rolled in place by the same deploy: the switch does not undo them
        others = [s for s in deployed or [] if s != bg.service]
        if others:
            summary += "; rolled back " + ", ".join(undo(runner, cfg, env, services=others, reason=reason))
        return summary
    deployments = undo(runner, cfg, env, services=deployed, reason=reason)
    return "rolled back " + ", ".join(deployments)


def _last_deploy(runner: Any, kenv: KubeEnv) -> dict[str, Any] | None:
    """The newest deploy/rollback record if it is a deploy that succeeded (what is live now)."""
    try:
        entries = history.read_history(runner, kenv.kube)
    except RetailDeployError:
        return None
    changes = [e for e in entries if str(e.get("action", "deploy")).startswith(("deploy", "rollback"))]
    if changes and changes[-1].get("action", "deploy") == "deploy" and changes[-1].get("result") == "succeeded":
        return changes[-1]
    return None


def show_history(runner: Any, cfg: Any, env: Any, services: Sequence[str] | None = None) -> str:
    """The audit records beside `kubectl rollout history` of each deployment."""
    kenv = kube_env(cfg, env)
    out = [f"Deploy history of {kenv.name} (ConfigMap {history.HISTORY_NAME}):",
           history.format_history(history.read_history(runner, kenv.kube))]
    deployments = [kenv.service(s).deployment for s in services] if services else [t.deployment for t in kenv.services]
    if kenv.blue_green is not None:
        bg_dep = kenv.service(kenv.blue_green.service).deployment
        deployments = [d for d in deployments if d != bg_dep] + list(kenv.blue_green.deployments.values())
    for name in deployments:
        try:
            text = runner.probe(kubectl.rollout_history(kenv.kube, name)).stdout.rstrip()
        except RetailDeployError as exc:
            text = f"  (could not read: {str(exc).splitlines()[0]})"
        out += ["", f"kubectl rollout history deployment/{name}:", text]
    return "\n".join(out)
