"""Rolling deploys (production `--strategy rolling`, staging via kubectl): set image on each
deployment, then wait for each rollout with a deadline, then check health through the public URLs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retail_deploy.commands import kubectl
from retail_deploy.kube.settings import KubeEnv, ServiceTarget
from retail_deploy.kube.strategies import HEALTH, ROLLOUT_STATUS, SET_IMAGE, UNDO, WATCH, Plan, Step


def set_image_steps(env: KubeEnv, targets: Sequence[ServiceTarget], version: str,
                    current: Mapping[str, str | None], deployment_of: Mapping[str, str] | None = None,
                    ) -> list[Step]:
    """set image + rollout status per deployment. `current` maps deployment -> its image now
    (None if unknown); an image already set is marked unchanged (kubectl would start no rollout)."""
    steps: list[Step] = []
    for target in targets:
        deployment = (deployment_of or {}).get(target.name, target.deployment)
        image = target.image_ref(version)
        unchanged = current.get(deployment) == image
        steps.append(Step(SET_IMAGE, (f"{deployment} already runs {image}: no rollout needed" if unchanged
                                      else f"set {deployment} to {image}"),
                          kubectl.set_image(env.kube, deployment, target.container, image),
                          service=target.name, deployment=deployment, image=image, unchanged=unchanged))
    for target in targets:
        deployment = (deployment_of or {}).get(target.name, target.deployment)
        steps.append(Step(ROLLOUT_STATUS, f"wait up to {int(env.rollout_timeout_s)}s for {deployment} to roll out",
                          kubectl.rollout_status(env.kube, deployment, env.rollout_timeout_s),
                          service=target.name, deployment=deployment))
    return steps


def plan_rolling(env: KubeEnv, targets: Sequence[ServiceTarget], version: str,
                 current: Mapping[str, str | None], *, verification_s: float = 0.0,
                 deployment_of: Mapping[str, str] | None = None) -> Plan:
    """`deployment_of` overrides a service's deployment (in a blue-green environment, a rolling
    deploy updates the live colour in place: the deployment that actually serves traffic)."""
    deployment_of = deployment_of or {}
    steps = set_image_steps(env, targets, version, current, deployment_of)
    steps.append(Step(HEALTH, f"check health of {env.name} through its public URLs"))
    if verification_s > 0:
        steps.append(Step(WATCH, f"watch rollback triggers for {int(verification_s)}s", seconds=verification_s))
    return Plan("rolling", version, tuple(steps),
                previous={t.name: current.get(deployment_of.get(t.name, t.deployment)) or "" for t in targets})


def plan_undo(env: KubeEnv, deployments: Sequence[tuple[str, str]], to_revision: int | None = None) -> list[Step]:
    """Rollback plan: `rollout undo` each (service, deployment), then wait for each rollout."""
    steps = [Step(UNDO, f"undo the rollout of {dep}" + (f" to revision {to_revision}" if to_revision else ""),
                  kubectl.rollout_undo(env.kube, dep, to_revision), service=svc, deployment=dep)
             for svc, dep in deployments]
    steps += [Step(ROLLOUT_STATUS, f"wait for {dep} to roll back",
                   kubectl.rollout_status(env.kube, dep, env.rollout_timeout_s), service=svc, deployment=dep)
              for svc, dep in deployments]
    return steps
