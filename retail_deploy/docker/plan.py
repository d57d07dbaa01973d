"""Pure decisions of the Docker target: settings, names, ports, run specs, health judgement.

No I/O here (tested by equality): `retail_deploy.docker.target` turns these into engine actions.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from retail_deploy.commands import Command
from retail_deploy.commands import docker_engine as dcli
from retail_deploy.errors import InputError

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig, ServiceConfig

LABEL_PREFIX = "org.retail-deploy"
LABEL_SERVICE = f"{LABEL_PREFIX}.service"
LABEL_VERSION = f"{LABEL_PREFIX}.version"
LABEL_ENV = f"{LABEL_PREFIX}.environment"
LABEL_IMAGE = f"{LABEL_PREFIX}.image"
LABEL_PORT = f"{LABEL_PREFIX}.port"  # the container's own port, where the proxy sends its traffic

PREVIOUS_SUFFIX = "-previous"
CANDIDATE_SUFFIX = "-candidate"


# --------------------------------------------------------------------------------------------
# Settings and pure decisions


@dataclass(frozen=True)
class DockerSettings:
    """How to reach the engine and run containers (the environment's `docker:` section)."""

    host: str | None = None          # None: the local engine (DOCKER_HOST or the unix socket)
    network: str = "host"            # "host", or a network name: then ports are published
    ssh_key: str | None = None       # private key for ssh:// (else ~/.ssh/config and default keys)
    publish_address: str = "127.0.0.1"
    use_ssh_client: bool = False     # ssh:// through the `ssh` binary instead of paramiko
    name_prefix: str = ""            # prepended to container names (several platforms on one engine)
    # A new container's own port on a remote engine: the stable port + this offset (or + offset + 1
    # when the serving container has that one). On the local engine the kernel picks a free port.
    candidate_port_offset: int = 10000
    health_timeout: float = 60.0     # seconds a new container has to pass its health checks
    health_interval: float = 0.5
    probe: tuple[str, ...] = ("wget", "-q", "-O", "-")   # run inside the container, URL appended
    restart: str = "unless-stopped"
    stop_timeout: int = 10
    # After every switched service answers its health checks, watch the new release this long
    # (the rollback triggers, else health checks) before the deploy succeeds; 0: no watch.
    verification_period: float = 0.0
    # The proxy that owns each stable port (docs/development-target.md, "The proxy").
    drain_timeout: float = 30.0      # the longest an old container keeps its open requests
    proxy_timeout: float = 60.0      # HAProxy's client and server timeouts (a request's longest idle)
    proxy_connect_timeout: float = 2.0

    @property
    def host_network(self) -> bool:
        return self.network == "host"


def docker_settings(env: EnvironmentConfig) -> DockerSettings:
    """The environment's `docker:` section; bad values raise ConfigError naming file and line."""
    typed = env.docker
    node = env.raw.section("docker")
    d = DockerSettings()
    host = (typed.host if typed else None) or "local"
    return DockerSettings(
        host=None if host == "local" else host,
        network=(typed.network if typed else None) or d.network,
        ssh_key=typed.ssh_key if typed else None,
        publish_address=node.str("publish_address", d.publish_address),
        use_ssh_client=node.bool("use_ssh_client", d.use_ssh_client),
        name_prefix=node.str("name_prefix", d.name_prefix),
        candidate_port_offset=node.int("candidate_port_offset", d.candidate_port_offset),
        health_timeout=float(node.duration("health_timeout", d.health_timeout)),
        health_interval=float(node.duration("health_interval", d.health_interval)),
        probe=tuple(node.str_list("probe", d.probe)),
        restart=node.str("restart", d.restart),
        stop_timeout=int(node.duration("stop_timeout", d.stop_timeout)),
        verification_period=float(node.duration("verification_period", d.verification_period)),
        drain_timeout=float(node.duration("drain_timeout", d.drain_timeout)),
        proxy_timeout=float(node.duration("proxy_timeout", d.proxy_timeout)),
        proxy_connect_timeout=float(node.duration("proxy_connect_timeout", d.proxy_connect_timeout)),
    )


@dataclass(frozen=True)
class Endpoint:
    path: str
    expect_json: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ServiceTarget:
    """Everything needed to deploy one service: names, ports, image, checks (pure data)."""

    service: str
    env: str
    version: str
    image: str            # full reference, e.g. 127.0.0.1:5000/retail-backend:1.0.0
    name: str             # the current container
    port: int             # the stable port the environment's URL points at
    candidate_port: int
    container_port: int   # where the process listens inside (published mode only)
    endpoints: tuple[Endpoint, ...]
    version_path: str | None = None

    @property
    def previous_name(self) -> str:
        return self.name + PREVIOUS_SUFFIX

    @property
    def candidate_name(self) -> str:
        return self.name + CANDIDATE_SUFFIX

    def labels(self) -> dict[str, str]:
        return {LABEL_SERVICE: self.service, LABEL_VERSION: self.version, LABEL_ENV: self.env,
                LABEL_IMAGE: self.image, LABEL_PORT: str(self.candidate_port)}


def service_port(env: EnvironmentConfig, service: ServiceConfig) -> int:
    """The stable port: the one in the environment's URL for the service, else the service's port."""
    url = env.urls.get(service.name)
    if url:
        port = urlsplit(url).port
        if port:
            return int(port)
    if service.port:
        return int(service.port)
    raise InputError(f"environment {env.name}: no port for service {service.name}: "
                     f"give urls.{service.name} a port (e.g. http://127.0.0.1:8080)")


def own_port(target: ServiceTarget, serving_port: int | None) -> int:
    """A new container's own port on a remote engine: stable + offset, or the next one when the
    serving container listens there (so the two run side by side during the switch)."""
    first = target.candidate_port
    return first + 1 if serving_port == first else first


def container_port(labels: Mapping[str, str] | None) -> int | None:
    """The own port a container was started on (its label), None for one without."""
    value = (labels or {}).get(LABEL_PORT, "")
    return int(value) if value.isdigit() else None


LOCAL_PORTS = (20000, 32767)  # below Linux's ephemeral range: no outgoing connection holds one


def free_local_port() -> int:
    """A port free on 127.0.0.1 now, for a new container on the local engine. Not one the kernel
    picks (bind to port 0): those come from the ephemeral range, where the proxy's health checks
    and every outgoing connection on the machine take ports too, and the container would find
    its port taken by the time it binds."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(*LOCAL_PORTS)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port on 127.0.0.1 between {LOCAL_PORTS[0]} and {LOCAL_PORTS[1]}")


def plan_target(cfg: PlatformConfig, env: EnvironmentConfig, service: ServiceConfig, version: str,
                settings: DockerSettings, *, candidate_port: int | None = None) -> ServiceTarget:
    port = service_port(env, service)
    endpoints = tuple(Endpoint(e.path, e.expect_json or None) for e in service.health)
    return ServiceTarget(
        service=service.name, env=env.name, version=version,
        image=cfg.registry.image_ref(service.image, version),
        name=f"{settings.name_prefix}{service.container or service.image}-{env.name}",
        port=port, candidate_port=candidate_port or port + settings.candidate_port_offset,
        container_port=int(service.port or port),
        endpoints=endpoints or (Endpoint("/"),),
        version_path=service.version_path or None,
    )


def run_spec(target: ServiceTarget, settings: DockerSettings, *, candidate: bool) -> dict[str, Any]:
    """Keyword arguments of `client.containers.run` for the current or candidate container."""
    host_port = target.candidate_port if candidate else target.port
    spec: dict[str, Any] = {
        "name": target.candidate_name if candidate else target.name,
        "labels": target.labels(),
        "detach": True,
    }
    # The container learns where to listen (PORT, BIND) and what it was deployed as (APP_VERSION).
    if settings.host_network:
        spec["network_mode"] = "host"
        spec["environment"] = {"PORT": str(host_port)}
    else:
        spec["network"] = settings.network
        spec["environment"] = {"PORT": str(target.container_port), "BIND": "0.0.0.0"}
        spec["ports"] = {f"{target.container_port}/tcp": (settings.publish_address, host_port)}
    spec["environment"]["APP_VERSION"] = target.version
    spec["healthcheck"] = {
        "test": ["CMD-SHELL", health_script(target, settings, probe_port(target, settings, candidate=candidate))],
        "interval": int(settings.health_interval * 1e9),
        "timeout": int(HEALTH_CHECK_TIMEOUT * 1e9),
        # The deploy decides when to give up (health_timeout); the engine only records results.
        "retries": HEALTH_RETRIES,
    }
    if not candidate:
        spec["restart_policy"] = {"Name": settings.restart}
    return spec


def run_command(target: ServiceTarget, settings: DockerSettings, *, candidate: bool) -> Command:
    """The `docker run` equivalent of run_spec, for the plan."""
    spec = run_spec(target, settings, candidate=candidate)
    publish = [f"{addr}:{port}:{inner.split('/')[0]}" for inner, (addr, port) in spec.get("ports", {}).items()]
    return dcli.run(target.image, name=spec["name"], host=settings.host,
                    network=spec.get("network_mode") or spec["network"], env=spec["environment"],
                    labels=spec["labels"], publish=publish,
                    restart=None if candidate else settings.restart,
                    health_cmd=spec["healthcheck"]["test"][1], health_interval=f"{settings.health_interval:g}s",
                    health_timeout=f"{HEALTH_CHECK_TIMEOUT:g}s", health_retries=HEALTH_RETRIES)


HEALTH_CHECK_TIMEOUT = 3.0
HEALTH_RETRIES = 1000000
MARK = "@@retail-deploy "


def health_paths(target: ServiceTarget) -> list[str]:
    paths = [e.path for e in target.endpoints]
    if target.version_path and target.version_path not in paths:
        paths.append(target.version_path)
    return paths


def health_script(target: ServiceTarget, settings: DockerSettings, port: int) -> str:
    """The container's HEALTHCHECK: fetch every health path (and the version path) inside the
    container, each body after a marker line, failing on the first error.

    Docker runs it and keeps the output; the deploy judges it (`judge_health`). Reading the
    result needs only `docker inspect`, so it works the same on a remote engine over SSH.
    """
    probe = shlex.join(settings.probe)
    parts = [f"echo {shlex.quote(MARK + path)} && {probe} {shlex.quote(f'http://127.0.0.1:{port}{path}')} && echo"
             for path in health_paths(target)]
    return " && ".join(parts)


def split_health_output(output: str) -> dict[str, str]:
    """{path: body} from the output of health_script."""
    bodies: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        if line.startswith(MARK):
            current = bodies.setdefault(line[len(MARK):].strip(), [])
        elif current is not None:
            current.append(line)
    return {path: "\n".join(lines) for path, lines in bodies.items()}


def judge_health(target: ServiceTarget, exit_code: int, output: str, version: str | None) -> str | None:
    """None when one health-check run passed every check (and answered `version`), else the reason."""
    bodies = split_health_output(output)
    if exit_code != 0:
        failed = list(bodies)[-1] if bodies else health_paths(target)[0]
        lines = [line for line in output.strip().splitlines() if not line.startswith(MARK)]
        return f"GET {failed}: {lines[-1] if lines else f'check exited {exit_code}'}"
    for endpoint in target.endpoints:
        problem = check_body(endpoint, bodies.get(endpoint.path, ""))
        if problem:
            return problem
    if version and target.version_path:
        answered = version_of(bodies.get(target.version_path, ""))
        if answered != version:
            return f"GET {target.version_path}: version {answered!r}, expected {version!r}"
    return None


def _timestamp(text: str) -> datetime:
    """Docker's RFC 3339 times carry nanoseconds; Python parses up to microseconds."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def latest_health_run(state: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The newest health-check run since the container (re)started, or None.

    Docker keeps the log across restarts: a run from before `docker start` says nothing about
    the process running now (it matters for undo, which restarts the kept container)."""
    log = ((state.get("Health") or {}).get("Log")) or []
    started = state.get("StartedAt")
    if started:
        since = _timestamp(str(started))
        log = [run for run in log if run.get("Start") and _timestamp(str(run["Start"])) >= since]
    return log[-1] if log else None


def probe_port(target: ServiceTarget, settings: DockerSettings, *, candidate: bool) -> int:
    """The port to probe from inside the container."""
    if not settings.host_network:
        return target.container_port
    return target.candidate_port if candidate else target.port


def check_body(endpoint: Endpoint, body: str) -> str | None:
    """None when the body satisfies the endpoint's expected JSON, else the reason."""
    if not endpoint.expect_json:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return f"GET {endpoint.path}: not JSON: {body.strip()[:80]!r}"
    if not isinstance(data, dict):
        return f"GET {endpoint.path}: expected a JSON object, got {body.strip()[:80]!r}"
    for key, want in endpoint.expect_json.items():
        if data.get(key) != want:
            return f"GET {endpoint.path}: {key}={data.get(key)!r}, expected {want!r}"
    return None


def version_of(body: str) -> str | None:
    """The version a `/api/v1/version` style endpoint answers (JSON `version`, or plain text)."""
    text = body.strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text or None
    if isinstance(data, dict):
        value = data.get("version")
        return str(value) if value is not None else None
    return str(data)
