"""Dependency health (MongoDB, Redis, Elasticsearch) through a service's Spring Boot actuator.

The runbook asks the backend itself (`kubectl exec deploy/retail-backend -- curl -sf
localhost:8080/actuator/health/mongo`): the actuator reports whether *the application* reaches
its databases, which is what matters. Two ways in: `kubectl` (exec in the pod, works when the
actuator is not exposed publicly) or `direct` (HTTP to the environment's URL for the service).
Which components to ask about is config: `services.<name>.dependencies: [mongo, redis, ...]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retail_deploy.commands import kubectl as k
from retail_deploy.errors import ConfigError

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig, ServiceConfig
    from retail_deploy.execute import Runner
    from retail_deploy.kube.settings import KubeEnv


@dataclass(frozen=True)
class DependencyResult:
    name: str
    ok: bool
    error: str = ""
    via: str = ""

    def line(self) -> str:
        mark = "OK  " if self.ok else "FAIL"
        return f"{mark} {self.name:<16} {'UP' if self.ok else self.error}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "error": self.error or None, "via": self.via}


def declared(cfg: PlatformConfig, service_name: str | None = None) -> tuple[ServiceConfig, list[str]]:
    """(service, components) from `services.<name>.dependencies` (first service declaring them)."""
    candidates = [cfg.service(service_name)] if service_name else list(cfg.services.values())
    for service in candidates:
        components = list(service.raw.str_list("dependencies", ()))
        if components:
            return service, components
    where = f"services.{service_name}" if service_name else "any service"
    raise ConfigError(f"no dependencies declared for {where}: add e.g. `dependencies: [mongo, redis, "
                      "elasticsearch]` (the actuator health components) to the backend's config")


def check_via_kubectl(runner: Runner, kenv: KubeEnv, service: ServiceConfig,
                      components: Sequence[str]) -> list[DependencyResult] | None:
    """`kubectl exec deploy/<service> -- curl -sf localhost:<port>/actuator/health/<component>`."""
    from retail_deploy.troubleshoot.diagnose import analyse_actuator, runner_probe, serving_deployment

    probe = runner_probe(runner)
    deployment = serving_deployment(probe, kenv, service.name)
    commands = [(c, k.actuator_health(kenv.kube, deployment, c, service.port)) for c in components]
    if runner.dry:
        for _, command in commands:
            runner.announce(command)
        return None
    results = []
    for component, command in commands:
        out = probe(command)
        healthy, finding = analyse_actuator(component, out.stdout, out.exit_code)
        error = "" if healthy else (finding.detail if finding else "unhealthy")
        if not healthy and out.stderr.strip():
            error += f" ({out.stderr.strip().splitlines()[-1][:160]})"
        results.append(DependencyResult(component, healthy, error, "kubectl"))
    return results


def check_direct(runner: Runner, env: EnvironmentConfig, service: ServiceConfig, components: Sequence[str], *,
                 timeout: float = 5.0,
                 ca_bundle: str | None = None) -> list[DependencyResult] | None:
    """HTTP GET <service URL>/actuator/health/<component>, expecting {"status": "UP"}."""
    from retail_deploy.commands import cmd
    from retail_deploy.health.checks import Endpoint, check_endpoints, join_url

    base = env.urls.get(service.name)
    if not base:
        raise ConfigError(f"environment {env.name} has no URL for {service.name}: use --via kubectl or add "
                          f"environments.{env.name}.urls.{service.name}")
    endpoints = [Endpoint(join_url(base, f"/actuator/health/{c}"), name=c, service=service.name,
                          expect_json={"status": "UP"}) for c in components]
    if runner.dry:
        for endpoint in endpoints:
            runner.announce(cmd(*endpoint.curl(timeout, ca_bundle), read_only=True))
        return None
    checked = check_endpoints(endpoints, timeout=timeout, retries=1, ca_bundle=ca_bundle)
    return [DependencyResult(r.endpoint.name, r.ok, r.error, "direct") for r in checked]
