"""What the Kubernetes chapter needs from the platform config, as one frozen value.

Built from `cfg` + `env` (config.py) once per task, so the planners below stay pure functions
of plain data. The environment's typed keys (kube_context, namespace, method, strategy,
rollout_timeout, helm, blue_green, urls, prometheus_url) come from config.py; this chapter owns
an optional `kube:` section of each environment:

    kube:
      request_timeout: 30s      # kubectl --request-timeout
      lock_ttl: 30m             # a deploy lock older than this may be taken over
      log_tail: 100             # verify: lines of recent backend logs scanned
      log_pattern: error        # verify: case-insensitive regex counted as an error line
      log_max_errors: 0         # verify fails above this many error lines
      helm_set:                 # extra --set values for one release (the runbook sets
        backend: {environment: staging}   #  environment=staging on the backend only)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from retail_deploy.commands.kubectl import Kube
from retail_deploy.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


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

    def other(self, colour: str) -> str:
        return next(c for c in self.deployments if c != colour)


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


def duration_s(value: Any, default: float) -> float:
    """"5m" / "30s" / 300 -> seconds."""
    if value is None or value == "":
        return default
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ConfigError(f"invalid duration {value!r} (use e.g. 30s, 5m, 1h)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def plain(node: Any) -> Any:
    """A config Node (or plain YAML data) as plain dicts/lists/scalars."""
    if node is None or isinstance(node, (str, int, float, bool)):
        return node
    if isinstance(node, Mapping):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [plain(v) for v in node]
    for attr in ("value", "data", "raw"):
        if hasattr(node, attr) and not callable(getattr(node, attr)):
            return plain(getattr(node, attr))
    if hasattr(node, "items"):
        return {k: plain(v) for k, v in node.items()}
    return node


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    value = getattr(obj, name, None) if not isinstance(obj, Mapping) else obj.get(name)
    return default if value is None else value


def _helm(helm: Any, kube: Mapping[str, Any], service_names: set[str], where: str) -> HelmSettings:
    per_service = kube.get("helm_set") or {}
    unknown = [k for k in per_service if k not in service_names]
    if unknown:
        raise ConfigError(f"{where}: kube.helm_set: {unknown[0]!r} is not a service")
    per = {str(k): {str(a): str(b) for a, b in (v or {}).items()} for k, v in per_service.items()}
    if helm is None:
        return HelmSettings(set_per_service=per)
    timeout = duration_s(_attr(helm, "timeout"), 300)
    sets = plain(_attr(helm, "set_values", _attr(helm, "set", {}))) or {}
    return HelmSettings(chart_dir=str(_attr(helm, "chart_dir", "deploy/helm")),
                        values_file=str(_attr(helm, "values_file", "") or ""),
                        timeout=f"{round(timeout)}s", set_all={str(k): str(v) for k, v in sets.items()},
                        set_per_service=per)


def _blue_green(bg: Any, raw_bg: Mapping[str, Any]) -> BlueGreen | None:
    if not bg and not raw_bg:
        return None
    deployments = plain(_attr(bg, "deployments")) or raw_bg.get("deployments") or {}
    if len(deployments) != 2:
        raise ConfigError("blue_green.deployments must name exactly two colours (e.g. blue and green)")
    return BlueGreen(
        service_name=str(_attr(bg, "service_name", raw_bg.get("service_name"))),
        selector_key=str(_attr(bg, "selector_key", raw_bg.get("selector_key", "deployment"))),
        deployments={str(k): str(v) for k, v in deployments.items()},
        service=str(_attr(bg, "service", raw_bg.get("service", "backend"))),
        verification_period_s=duration_s(_attr(bg, "verification_period", raw_bg.get("verification_period")), 300),
        scale_down_delay_s=duration_s(_attr(bg, "scale_down_delay", raw_bg.get("scale_down_delay")), 30),
        colour_urls={str(k): str(v) for k, v in
                     (plain(_attr(bg, "colour_urls")) or raw_bg.get("colour_urls") or {}).items()},
    )


def kube_env(cfg: Any, env: Any) -> KubeEnv:
    """Read the Kubernetes view of `env` from the loaded platform config."""
    raw = plain(getattr(env, "raw", None)) or {}
    registry = getattr(getattr(cfg, "registry", None), "host", "") or ""
    services = []
    for name, svc in cfg.services.items():
        image = str(svc.image)
        if registry and not image.startswith(registry + "/"):
            image = f"{registry}/{image}"
        deployment = str(_attr(svc, "deployment", name))
        services.append(ServiceTarget(
            name=str(name), deployment=deployment, container=str(_attr(svc, "container", deployment)),
            image=image, app_label=str(_attr(svc, "app_label", deployment)),
            helm_release=str(_attr(svc, "helm_release", deployment)),
            helm_chart=str(_attr(svc, "helm_chart", deployment))))
    namespace = getattr(env, "namespace", None) or raw.get("namespace")
    if not namespace:
        raise ConfigError(f"environment {env.name}: 'namespace' is required for a Kubernetes target")
    kube = raw.get("kube") or {}
    where = f"environments.{env.name}"
    return KubeEnv(
        name=str(env.name),
        kube=Kube(context=getattr(env, "kube_context", None) or raw.get("kube_context"), namespace=str(namespace),
                  request_timeout=f"{round(duration_s(kube.get('request_timeout'), 30))}s"),
        method=str(getattr(env, "method", None) or raw.get("method") or "kubectl"),
        strategy=str(getattr(env, "strategy", None) or raw.get("strategy") or "rolling"),
        services=tuple(services),
        urls={str(k): str(v) for k, v in (plain(getattr(env, "urls", None)) or raw.get("urls") or {}).items()},
        rollout_timeout_s=duration_s(getattr(env, "rollout_timeout", None) or raw.get("rollout_timeout"), 300),
        lock_ttl_s=duration_s(kube.get("lock_ttl"), 1800),
        log_tail=int(kube.get("log_tail", 100)),
        log_pattern=str(kube.get("log_pattern", "error")),
        log_max_errors=int(kube.get("log_max_errors", 0)),
        helm=_helm(getattr(env, "helm", None) or raw.get("helm"), kube, {s.name for s in services}, where),
        blue_green=_blue_green(getattr(env, "blue_green", None), raw.get("blue_green") or {}),
        prometheus_url=getattr(env, "prometheus_url", None) or raw.get("prometheus_url"),
    )
