"""Blue-green deploy of the blue-green services (production backend; `blue_green.services` adds
more, switched together per release) plus rolling updates of the others.

Order: set the idle colour's image, bring it up (scaled to the active colour's replicas if it was
scaled down), wait for its rollout, smoke-test it, re-point the Service selector, check the public
URL, roll the other services, watch for the verification period, then (after a delay) scale the
old colour down. The old colour stays up until then, so switching back is one patch.

The image is set BEFORE the scale-up: a colour scaled up first starts pods of its old image, a
stale release running against production data. A failed, refused or interrupted attempt scales
the idle colour back down (`plan_idle_down`), so nothing but the serving release keeps running.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retail_deploy.commands import kubectl
from retail_deploy.errors import OperationFailed
from retail_deploy.kube.settings import BlueGreen, KubeEnv, ServiceTarget
from retail_deploy.kube.strategies import (
    AFTER_SWITCH,
    HEALTH,
    ROLLOUT_STATUS,
    SCALE,
    SET_IMAGE,
    SMOKE,
    SWITCH,
    VERIFIED,
    WAIT,
    WATCH,
    Plan,
    Step,
)
from retail_deploy.kube.strategies.rolling import set_image_steps


def plan_blue_green(env: KubeEnv, targets: Sequence[ServiceTarget], version: str, *,
                    active: str | None, replicas: Mapping[str, int], current: Mapping[str, str | None],
                    verification_s: float, assumption: str = "") -> Plan:
    """`active`: colour the Service selects now; `replicas`: deployment -> spec replicas;
    `current`: deployment -> image now. Raises if the selector points at neither colour."""
    bg = env.blue_green
    if bg is None:
        raise OperationFailed(f"environment {env.name} has no blue_green section; use --strategy rolling")
    if active is None or active not in bg.deployments:
        raise OperationFailed(
            f"Service {bg.service_name} selects {bg.selector_key}={active!r}, neither of "
            f"{', '.join(bg.deployments)}; point it at the live colour with kubectl patch, then retry")
    idle = bg.other(active)
    by_name = {t.name: t for t in targets}
    members = [m for m in bg.members if m.service in by_name]  # this deploy's blue-green services
    others = [t for t in targets if t.name not in bg.services]
    single = len(bg.members) == 1
    steps: list[Step] = []
    if members:
        idle_of = {m.service: m.deployments[idle] for m in members}
        idle_steps = set_image_steps(env, [by_name[m.service] for m in members], version, current, idle_of)
        steps += [s for s in idle_steps if s.kind == SET_IMAGE]  # first: no pod of the old image starts
        for m in members:
            active_dep, idle_dep = m.deployments[active], m.deployments[idle]
            want = max(replicas.get(active_dep, 1), 1)
            # unknown replicas (a dry run that could not read the cluster): no scale step is assumed
            if idle_dep in replicas and replicas[idle_dep] < want:
                steps.append(Step(SCALE, f"scale {idle_dep} up to {want} replicas (it was scaled down)",
                                  kubectl.scale(env.kube, idle_dep, want), service=m.service,
                                  deployment=idle_dep, colour=idle, replicas=want))
        steps += [s for s in idle_steps if s.kind != SET_IMAGE]
        steps.append(Step(SMOKE, f"smoke tests against {idle}", service=members[0].service, colour=idle))
        for m in members:  # per release: every blue-green service switches now, together
            steps.append(Step(SWITCH, f"switch traffic to {idle}" if single else f"switch {m.service_name} to {idle}",
                              kubectl.patch_selector(env.kube, m.service_name, bg.selector_key, idle),
                              service=m.service, deployment=m.deployments[idle], colour=idle, phase=AFTER_SWITCH))
    steps.append(Step(HEALTH, f"check health of {env.name} through its public URLs", phase=AFTER_SWITCH))
    if others:
        rolled = set_image_steps(env, others, version, current)
        steps += [_phase(s, AFTER_SWITCH) for s in rolled]
        steps.append(Step(HEALTH, "check health again after the rolling updates", phase=AFTER_SWITCH))
    steps.append(Step(WATCH, f"verification period: watch for {int(verification_s)}s before accepting",
                      seconds=verification_s, phase=AFTER_SWITCH))
    if members:
        if bg.scale_down_delay_s > 0:
            steps.append(Step(WAIT, f"wait {int(bg.scale_down_delay_s)}s before scaling {active} down",
                              seconds=bg.scale_down_delay_s, phase=VERIFIED))
        for m in members:
            old = m.deployments[active]
            steps.append(Step(SCALE, f"scale the old colour {active} down" if single
                              else f"scale the old colour {active} ({old}) down",
                              kubectl.scale(env.kube, old, 0), service=m.service, deployment=old, colour=active,
                              phase=VERIFIED, replicas=0))
    notes = (assumption,) if assumption else ()
    previous = {t.name: current.get(t.deployment) or "" for t in others}
    for m in members:
        previous[m.service] = current.get(m.deployments[active]) or ""
    return Plan("blue-green", version, tuple(steps), notes, active, idle, previous)


def _phase(step: Step, phase: str) -> Step:
    return Step(step.kind, step.text, step.command, step.service, step.deployment, step.colour, step.image,
                step.unchanged, step.seconds, phase, step.replicas)


def plan_switch_back(env: KubeEnv, to_colour: str, replicas_now: int, want_replicas: int,
                     member: BlueGreen | None = None) -> list[Step]:
    """The runbook's blue-green rollback: make sure `to_colour` is up, then re-point the selector
    (of `member`, one blue-green service; by default the first)."""
    bg = member or env.blue_green
    assert bg is not None
    dep = bg.deployments[to_colour]
    steps = []
    if replicas_now < want_replicas:
        steps.append(Step(SCALE, f"scale {dep} back up to {want_replicas} replicas",
                          kubectl.scale(env.kube, dep, want_replicas), deployment=dep, colour=to_colour,
                          replicas=want_replicas))
        steps.append(Step(ROLLOUT_STATUS, f"wait for {dep} to be ready",
                          kubectl.rollout_status(env.kube, dep, env.rollout_timeout_s), deployment=dep))
    steps.append(Step(SWITCH, f"switch traffic back to {to_colour}",
                      kubectl.patch_selector(env.kube, bg.service_name, bg.selector_key, to_colour),
                      service=bg.service, deployment=dep, colour=to_colour))
    steps.append(Step(HEALTH, f"check health of {env.name} through its public URLs"))
    return steps


def plan_idle_down(env: KubeEnv, colour: str, member: BlueGreen | None = None) -> list[Step]:
    """After a failed, refused or interrupted attempt (traffic back on the other colour): scale
    `colour` to 0, so neither the rejected release nor a stale one runs beside production. The
    next deploy sets its image first and scales it up again."""
    bg = member or env.blue_green
    assert bg is not None
    dep = bg.deployments[colour]
    return [Step(SCALE, f"scale {colour} ({dep}) back down to 0: it does not serve",
                 kubectl.scale(env.kube, dep, 0), deployment=dep, colour=colour, replicas=0)]
