"""Undo and the read-only views of the Docker target: what runs, what the proxy serves, and
whether it is healthy (docs/development-target.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retail_deploy.docker.containers import Deployer
from retail_deploy.docker.plan import container_port, plan_target
from retail_deploy.docker.proxy import Proxy
from retail_deploy.docker.session import (
    container_version,
    engine_name,
    find,
    select,
    session,
    show,
    status,
    url,
)
from retail_deploy.errors import OperationFailed
from retail_deploy.targets import Report, ServiceReport, VerifyFailed

if TYPE_CHECKING:
    from docker.models.containers import Container

    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner


def undo(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, service: str | None = None) -> Report:
    """Bring back the previous version of one service (or all that have one), through the proxy:
    the kept container starts on its own port, passes its checks, takes the traffic; the current
    one drains, stops and becomes `<name>-previous`, so a second undo returns to it."""
    chosen = select(cfg, [service] if service else None)
    settings, client = session(runner, env)
    report = Report(env.name, engine_name(settings), "undo")
    try:
        if client is None:
            raise OperationFailed(f"cannot read the containers on {engine_name(settings)}: nothing to undo")
        deployer = Deployer(runner, cfg, env, settings, client)
        proxy = Proxy(runner, cfg, env, settings, client)
        proxy.ensure()
        for svc in chosen:
            target = plan_target(cfg, env, svc, "", settings)
            previous = find(client, target.previous_name)
            current = find(client, target.name)
            if previous is None:
                if service:
                    raise OperationFailed(f"no previous version of {svc.name} is kept on "
                                          f"{engine_name(settings)} (container {target.previous_name}): "
                                          f"deploy the version you want with {env.task('deploy')} --version V")
                report.services.append(ServiceReport(svc.name, container_version(current), "unchanged",
                                                     detail="no previous version kept"))
                continue
            back, gone = container_version(previous), container_version(current)
            target = plan_target(cfg, env, svc, back or "", settings)
            runner.say(f"{svc.name}: back from {gone or 'nothing'} to {back}")
            deployer.restart(target.previous_name)
            reason = deployer.wait_healthy(target, target.previous_name, version=back)
            if reason:
                deployer.stop(target.previous_name)
                raise OperationFailed(f"{svc.name} {back} did not come back healthy on {env.name} ({reason}): "
                                      f"{gone or 'nothing'} keeps serving")
            port = container_port(previous.labels)
            if port is None:
                raise OperationFailed(f"{target.previous_name} was made before the proxy (no own port): "
                                      f"deploy {back} with {env.task('deploy')} --version {back}")
            proxy.add(svc.name, port)
            swap = target.name + "-undo"
            if current is not None:
                if (old := container_port(current.labels)) is not None:
                    proxy.retire(svc.name, old)
                deployer.stop(target.name)
                deployer.remove(swap)
                deployer.rename(target.name, swap)
            deployer.rename(target.previous_name, target.name)
            if current is not None:
                deployer.rename(swap, target.previous_name)
            report.services.append(ServiceReport(svc.name, back, "restored", target.name, url(env, target), gone))
    finally:
        if client is not None:
            client.close()
    show(runner, report)
    return report


def verify(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str | None = None) -> Report:
    """Check every service's container runs (the given version), passes its health checks and
    gets the proxy's traffic. Raises VerifyFailed (an OperationFailed) with the report's problems."""
    settings, client = session(runner, env)
    report = Report(env.name, engine_name(settings), f"verify {version or ''}".strip())
    try:
        if client is None:
            raise OperationFailed(f"cannot reach {engine_name(settings)} to verify {env.name}")
        deployer = Deployer(runner, cfg, env, settings, client)
        served = Proxy(runner, cfg, env, settings, client).serving_containers()
        for svc in select(cfg, None):
            target = plan_target(cfg, env, svc, version or "", settings)
            where = url(env, target)
            container = find(client, target.name)
            if container is None or status(container) != "running":
                report.services.append(ServiceReport(svc.name, container_version(container), "missing",
                                                     target.name, where, detail="no running container"))
                continue
            running = container_version(container)
            # Read-only: runs in a dry run too. The version endpoint must answer the labelled version.
            problem = deployer.check(container, target, running)
            if version and running != version:
                report.services.append(ServiceReport(svc.name, running, "wrong-version", target.name, where,
                                                     detail=f"runs {running}, expected {version}"))
            elif problem:
                report.services.append(ServiceReport(svc.name, running, "unhealthy", target.name, where,
                                                     detail=problem))
            elif served.get(svc.name) != target.name:
                report.services.append(ServiceReport(svc.name, running, "unhealthy", target.name, where,
                                                     detail="the proxy does not send it traffic"))
            else:
                report.services.append(ServiceReport(svc.name, running, "healthy", target.name, where))
    finally:
        if client is not None:
            client.close()
    show(runner, report)
    if not report.ok:
        bad = [f"{s.service}: {s.status} {s.detail}".strip() for s in report.services if s.status != "healthy"]
        raise VerifyFailed(f"{env.name} is not healthy on {report.engine}: {'; '.join(bad)}", report)
    return report


def current_versions(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig) -> dict[str, str | None]:
    """{service: version of its current container, or None}: a read-only probe (runs in a dry run)."""
    return {service: state["current"] for service, state in state_of(runner, cfg, env).items()}


def state_of(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig) -> dict[str, dict[str, Any]]:
    """{service: {"current", "previous", "running", "container", "serving", "image", "started",
    "ready"}} read from container labels and state (`ready`: running, and healthy where the
    container has a check), and from the proxy which container gets the traffic ("serving", ""
    when none)."""
    settings, client = session(runner, env)
    states: dict[str, dict[str, Any]] = {}
    try:
        served = Proxy(runner, cfg, env, settings, client).serving_containers() if client is not None else {}
        for svc in select(cfg, None):
            target = plan_target(cfg, env, svc, "", settings)
            current = find(client, target.name) if client is not None else None
            previous = find(client, target.previous_name) if client is not None else None
            running = current is not None and status(current) == "running"
            states[svc.name] = {
                "current": container_version(current),
                "previous": container_version(previous),
                "running": running,
                "container": target.name,
                "serving": served.get(svc.name, ""),
                **serving_facts(current, running),
            }
    finally:
        if client is not None:
            client.close()
    return states


def serving_facts(container: Container | None, running: bool) -> dict[str, Any]:
    """What `status` shows of a service's container, from the state already read (no extra call):
    its image, when it started ("" unless running) and whether it is ready (running, and healthy
    where the container has a health check)."""
    if container is None:
        return {"image": "", "started": "", "ready": False}
    state = container.attrs.get("State") or {}
    health = (state.get("Health") or {}).get("Status")
    return {"image": str((container.attrs.get("Config") or {}).get("Image") or ""),
            "started": _iso_seconds(str(state.get("StartedAt") or "")) if running else "",
            "ready": running and health in (None, "healthy")}


def _iso_seconds(moment: str) -> str:
    """Docker's `2026-01-02T03:04:05.123456789Z` as `2026-01-02T03:04:05Z` (the records' form)."""
    return moment.split(".", 1)[0].rstrip("Z") + "Z" if moment and not moment.startswith("0001-") else ""
