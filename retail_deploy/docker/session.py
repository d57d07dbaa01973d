"""Engine access for the Docker target: one connection per operation, container look-ups, and
the reads every step shares (docs/architecture.md, "Targets")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from retail_deploy.docker import client as docker_client
from retail_deploy.docker.client import first_line
from retail_deploy.docker.plan import LABEL_VERSION, DockerSettings, ServiceTarget, docker_settings
from retail_deploy.errors import InputError, OperationFailed

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

    from retail_deploy.config import EnvironmentConfig, PlatformConfig, ServiceConfig
    from retail_deploy.execute import Runner
    from retail_deploy.targets import Report


def connect(settings: DockerSettings, timeout: float = 120) -> DockerClient:
    """A DockerClient for the environment's engine (docker_client.connect, the one factory)."""
    return docker_client.connect(settings.host, timeout=timeout, use_ssh_client=settings.use_ssh_client,
                                 ssh_key=settings.ssh_key)


def engine_name(settings: DockerSettings) -> str:
    return settings.host or "local engine"


def find(client: DockerClient | None, name: str) -> Container | None:
    """The container called `name`, or None. Without a client (a dry run whose engine did not
    answer) the plan assumes none exists, as it says."""
    import docker

    if client is None:
        return None
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def engine(client: DockerClient | None) -> DockerClient:
    """The client of an action that runs: only a dry run goes without one."""
    assert client is not None
    return client


def remove(client: DockerClient | None, name: str) -> None:
    container = find(client, name)
    if container is not None:
        container.remove(force=True)


def status(container: Container) -> str:
    container.reload()
    return str(container.status)


def logs_tail(container: Container, lines: int = 5) -> str:
    try:
        text = container.logs(tail=lines).decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - logs are a hint only
        return ""
    return " | ".join(text.splitlines()[-lines:])


def api_message(error: Exception) -> str:
    explanation = getattr(error, "explanation", None)
    return first_line(explanation or error)


def show(runner: Runner, report: Report) -> None:
    """Print the outcome (a dry run changed nothing, so it has no outcome to show)."""
    if not runner.dry:
        print(str(report), file=runner.out, flush=True)


def require_docker_env(env: EnvironmentConfig) -> None:
    if env.target != "docker":
        raise InputError(f"environment {env.name} deploys to {env.target}, not to a Docker engine: "
                         f"use {env.task('deploy')}")


def select(cfg: PlatformConfig, names: Iterable[str] | None) -> list[ServiceConfig]:
    services = cfg.services
    if names is None:
        return list(services.values())
    chosen = []
    for name in names:
        if name not in services:
            raise InputError(f"unknown service {name!r}: choose from {', '.join(services)}")
        chosen.append(services[name])
    return chosen


def session(runner: Runner, env: EnvironmentConfig) -> tuple[DockerSettings, DockerClient | None]:
    require_docker_env(env)
    settings = docker_settings(env)
    try:
        client = connect(settings)
    except OperationFailed:
        if not getattr(runner, "dry", False):
            raise
        runner.say(f"cannot reach {engine_name(settings)}: plan assumes no containers are running")
        client = None
    return settings, client


def container_version(container: Container | None) -> str | None:
    if container is None:
        return None
    return (container.labels or {}).get(LABEL_VERSION)


def image_id(client: DockerClient, reference: str) -> str | None:
    import docker

    try:
        return str(client.images.get(reference).id)
    except docker.errors.ImageNotFound:
        return None


def url(env: EnvironmentConfig, target: ServiceTarget) -> str:
    """Where a service answers: its URL in the environment, else its stable port on loopback."""
    return str((env.urls or {}).get(target.service, f"http://127.0.0.1:{target.port}"))
