"""Cloud CLI argv builders: the runbook's kubeconfig setup."""

from __future__ import annotations

from retail_deploy.commands import Command, cmd


def eks_update_kubeconfig(cluster: str, region: str, alias: str | None = None) -> Command:
    """`aws eks update-kubeconfig --name CLUSTER --region REGION [--alias CONTEXT]`.

    The alias names the kube context after the environment's `kube_context`, which every other
    command pins."""
    argv = ["aws", "eks", "update-kubeconfig", "--name", cluster, "--region", region]
    if alias:
        argv += ["--alias", alias]
    return cmd(*argv)
