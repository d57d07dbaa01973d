"""Staging: Helm (`upgrade --install --atomic --wait`) or kubectl set image, per the runbook."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from retail_deploy.commands import helm
from retail_deploy.kube.settings import KubeEnv, ServiceTarget
from retail_deploy.kube.strategies import HEALTH, HELM_UPGRADE, VERIFIED, Plan, Step
from retail_deploy.kube.strategies.rolling import plan_rolling


def helm_values(env: KubeEnv, target: ServiceTarget, version: str) -> dict[str, str]:
    values = {"image.tag": version}
    values.update(env.helm.set_all)
    values.update(env.helm.set_per_service.get(target.name, {}))
    return values


def plan_helm(env: KubeEnv, targets: Sequence[ServiceTarget], version: str) -> Plan:
    steps = []
    files = [os.path.join(env.helm.chart_dir, env.helm.values_file)] if env.helm.values_file else []
    for target in targets:
        chart = os.path.normpath(os.path.join(env.helm.chart_dir, target.helm_chart))
        if not os.path.isabs(chart) and not chart.startswith("."):
            chart = "./" + chart  # a bare name would be looked up in a chart repository
        steps.append(Step(HELM_UPGRADE, f"helm upgrade {target.helm_release} to {version}",
                          helm.upgrade_install(target.helm_release, chart, namespace=env.kube.namespace,
                                               context=env.kube.context, values=helm_values(env, target, version),
                                               values_files=files, timeout=env.helm.timeout),
                          service=target.name, deployment=target.deployment, image=target.image_ref(version)))
    steps.append(Step(HEALTH, f"check health of {env.name} through its public URLs", phase=VERIFIED))
    return Plan("helm", version, tuple(steps))


def plan_staging(env: KubeEnv, targets: Sequence[ServiceTarget], version: str, method: str,
                 current: Mapping[str, str | None]) -> Plan:
    if method == "helm":
        return plan_helm(env, targets, version)
    return plan_rolling(env, targets, version, current)
