"""The runbook's Appendix as settings: how to get a kubeconfig for an environment's cluster,
which Helm repositories to add, and where the Grafana dashboards are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from retail_deploy.commands import Command, cloud
from retail_deploy.errors import InputError

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig


@dataclass(frozen=True)
class ClusterAccess:
    """`environments.<env>.cluster: {provider: eks, name: retail-cluster, region: us-east-1}`."""

    provider: str
    name: str
    region: str

    def kubeconfig_command(self, context: str | None) -> Command:
        return cloud.eks_update_kubeconfig(self.name, self.region, alias=context)


def cluster_access(env: EnvironmentConfig) -> ClusterAccess:
    node = env.raw.get("cluster")
    if node is None or node.value is None:
        raise InputError(f"environment {env.name} has no cluster: section (provider, name, region) "
                         "to set up kubeconfig from")
    node.unknown_keys({"provider", "name", "region"})
    return ClusterAccess(node.choice("provider", ("eks",), "eks"), node.str("name"), node.str("region"))


def helm_repositories(cfg: PlatformConfig) -> dict[str, str]:
    """`helm_repositories: {bitnami: https://charts.bitnami.com/bitnami}`."""
    return dict(cfg.root.str_map("helm_repositories", {}))


def dashboards(cfg: PlatformConfig) -> dict[str, str]:
    """`dashboards: {grafana_url: ..., links: {Application Overview: /d/retail-overview}}` -> full URLs."""
    section = cfg.section("dashboards")
    section.unknown_keys({"grafana_url", "links"})
    base = (section.str("grafana_url", "") or "").rstrip("/")
    return {title: f"{base}{path}" if path.startswith("/") else path
            for title, path in section.str_map("links", {}).items()}


def validate_section(cfg: PlatformConfig) -> None:
    """For `config.validate`."""
    helm_repositories(cfg)
    dashboards(cfg)
    for env in cfg.environments.values():
        if env.raw.get("cluster") is not None:
            cluster_access(env)
