"""What the Kubernetes chapter needs from the platform config, as one frozen value.

Built from `cfg` + `env` (config.py) once per task, so the planners below stay pure functions
of plain data. The environment's typed keys (kube_context, namespace, method, strategy,
rollout_timeout, helm, blue_green, urls, prometheus_url) come from config.py; this chapter owns
an optional `kube:` section of each environment:

    kube:
      request_timeout: 30s      # kubectl --request-timeout
      lock_ttl: 30m             # a deploy lock older than this may be taken over
      log_tail: 100             # verify: lines of recent backend logs scanned (0: no log scan)
      log_pattern: error        # verify: case-insensitive regex counted as an error line
      log_max_errors: 0         # verify fails above this many error lines
      helm_set:                 # extra --set values for one release (the runbook sets
        backend: {environment: staging}   #  environment=staging on the backend only)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from retail_deploy.commands.kubectl import Kube
from retail_deploy.errors import ConfigError

if TYPE_CHECKING:
    from retail_deploy.config import BlueGreenConfig, EnvironmentConfig, HelmConfig, PlatformConfig
    from retail_deploy.yamlnode import Node


@dataclass(frozen=True)
class ServiceTarget:
    """One service as the cluster knows it."""

    name: str
    deployment: str
    container: str
    image: str  # repository without tag, registry included
    app_label: str
    helm_release: str
    helm_chart: str

    def image_ref(self, version: str) -> str:
        """The image of `version` (`image` is already `registry/name`: RegistryConfig.repository)."""
        return f"{self.image}:{version}"

    @property
    def selector(self) -> str:
        return f"app={self.app_label}"


@dataclass(frozen=True)
class HelmSettings:
    chart_dir: str = "deploy/helm"
    values_file: str = ""
    timeout: str = "5m"
    set_all: Mapping[str, str] = field(default_factory=dict)
    set_per_service: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class BlueGreen:
    service_name: str  # the k8s Service whose selector is switched
    selector_key: str
    deployments: Mapping[str, str]  # colour -> deployment
    service: str  # the platform service deployed blue-green (e.g. backend)
    verification_period_s: float = 300.0
    scale_down_delay_s: float = 30.0
    colour_urls: Mapping[str, str] = field(default_factory=dict)
    more: tuple[BlueGreen, ...] = ()  # the other blue-green services (`blue_green.services`)

    def other(self, colour: str) -> str:
        return next(c for c in self.deployments if c != colour)

    @property
    def members(self) -> tuple[BlueGreen, ...]:
        """Every blue-green service, the first one included; they switch together, per release."""
        return (BlueGreen(self.service_name, self.selector_key, self.deployments, self.service,
                          self.verification_period_s, self.scale_down_delay_s, self.colour_urls),) + self.more

    @property
    def services(self) -> frozenset[str]:
        return frozenset(m.service for m in self.members)

    def member(self, service: str) -> BlueGreen | None:
        """The colours of `service`, or None when it is not deployed blue-green."""
        return next((m for m in self.members if m.service == service), None)


@dataclass(frozen=True)
class KubeEnv:
    name: str
    kube: Kube
    method: str  # helm | kubectl
    strategy: str  # rolling | blue-green
    services: tuple[ServiceTarget, ...]
    urls: Mapping[str, str]
    rollout_timeout_s: float = 300.0
    lock_ttl_s: float = 1800.0
    log_tail: int = 100
    log_pattern: str = "error"
    log_max_errors: int = 0
    helm: HelmSettings = HelmSettings()
    blue_green: BlueGreen | None = None
    prometheus_url: str | None = None

    def service(self, name: str) -> ServiceTarget:
        for target in self.services:
            if name in (target.name, target.deployment):
                return target
        known = ", ".join(t.name for t in self.services)
        raise ConfigError(f"unknown service {name!r} in environment {self.name}; known: {known}")


KUBE_KEYS = frozenset({"request_timeout", "lock_ttl", "log_tail", "log_pattern", "log_max_errors", "helm_set"})


def _kube_section(env: EnvironmentConfig, service_names: set[str]) -> tuple[Node, dict[str, dict[str, str]]]:
    """The environment's `kube:` section, checked through the line-aware Node API so every
    mistake names file, line and key (and a misspelt key is refused, not silently ignored)."""
    kube = env.raw.section("kube")
    kube.unknown_keys(KUBE_KEYS)
    per_service: dict[str, dict[str, str]] = {}
    helm_set = kube.section("helm_set")
    for name, values in helm_set.items():
        if name not in service_names:
            raise values.error(f"{name!r} is not a service (known: {', '.join(sorted(service_names))})")
        per_service[name] = helm_set.str_map(name, {})
    pattern = kube.get("log_pattern")
    if pattern is not None:
        try:
            re.compile(kube.str("log_pattern"))
        except re.error as exc:
            raise pattern.error(f"not a valid regular expression: {exc}") from None
    for key in ("log_tail", "log_max_errors"):
        if kube.int(key, 0) < 0:
            raise kube.require(key).error("must not be negative")
    return kube, per_service


def _helm(helm: HelmConfig | None, per_service: Mapping[str, Mapping[str, str]]) -> HelmSettings:
    if helm is None:
        return HelmSettings(set_per_service=per_service)
    return HelmSettings(chart_dir=helm.chart_dir, values_file=helm.values_file, timeout=f"{round(helm.timeout)}s",
                        set_all=dict(helm.set_values), set_per_service=per_service)


def _blue_green(bg: BlueGreenConfig | None) -> BlueGreen | None:
    if bg is None:
        return None
    more = tuple(BlueGreen(service_name=p.service_name, selector_key=bg.selector_key, deployments=dict(p.deployments),
                           service=p.service, verification_period_s=bg.verification_period,
                           scale_down_delay_s=bg.scale_down_delay, colour_urls=dict(p.colour_urls))
                 for p in bg.more)
    return BlueGreen(service_name=bg.service_name, selector_key=bg.selector_key, deployments=dict(bg.deployments),
                     service=bg.service, verification_period_s=bg.verification_period,
                     scale_down_delay_s=bg.scale_down_delay, colour_urls=dict(bg.colour_urls), more=more)


def kube_env(cfg: PlatformConfig, env: EnvironmentConfig) -> KubeEnv:
    """Read the Kubernetes view of `env` from the loaded platform config (config.py has checked
    the environment's typed keys; this chapter checks its own `kube:` section)."""
    services = []
    for name, svc in cfg.services.items():
        image = cfg.registry.repository(svc.image)
        services.append(ServiceTarget(name=name, deployment=svc.deployment, container=svc.container, image=image,
                                      app_label=svc.app_label, helm_release=svc.helm_release,
                                      helm_chart=svc.helm_chart))
    kube, per_service = _kube_section(env, {s.name for s in services})
    if not env.kube_context:
        # Without --context kubectl/helm act on whatever context is current on this machine:
        # a production deploy could land on the staging cluster.
        raise env.raw.error("kube_context is required for a Kubernetes environment: every kubectl/helm "
                            "command pins it (e.g. kube_context: retail-staging)")
    return KubeEnv(
        name=env.name,
        kube=Kube(context=env.kube_context, namespace=env.namespace,
                  request_timeout=f"{round(kube.duration('request_timeout', '30s'))}s"),
        method=env.method,
        strategy=env.strategy,
        services=tuple(services),
        urls=dict(env.urls),
        rollout_timeout_s=env.rollout_timeout,
        lock_ttl_s=kube.duration("lock_ttl", "30m"),
        log_tail=kube.int("log_tail", 100),
        log_pattern=kube.str("log_pattern", "error"),
        log_max_errors=kube.int("log_max_errors", 0),
        helm=_helm(env.helm, per_service),
        blue_green=_blue_green(env.blue_green),
        prometheus_url=_prometheus_url(cfg, env),
    )


def _prometheus_url(cfg: PlatformConfig, env: EnvironmentConfig) -> str | None:
    """The environment's, else `monitoring.prometheus_url` (as monitor.check/watch use it), so the
    deploy's verification period watches the rollback triggers wherever they can be evaluated."""
    from retail_deploy.monitoring.monitor import prometheus_url

    return prometheus_url(cfg, env)


def validate_section(cfg: PlatformConfig) -> None:
    """`config.validate`: check the `kube:` section of every Kubernetes environment now."""
    for env in cfg.environments.values():
        if env.target == "kubernetes":
            kube_env(cfg, env)
