"""A deploy on the Docker target, and putting the release before it back (docs/development-target.md).

1. pull the images (changes nothing that runs, before the policy takes the lock);
2. start a candidate of every changed service on its own port, beside the serving one, and wait
   until all pass their health checks: if one fails, all candidates go, traffic never moved (exit 3);
3. switch each service through the proxy (`retail_deploy.docker.proxy`): add the new container,
   drain the old one (`docker.drain_timeout`), stop it and keep it as `<name>-previous` (for undo);
   the new container takes the service's name. The stable port never closes: no request is lost.

A check failing after the switch, the verification period's breach and Ctrl-C/SIGTERM all put the
switched services back the same way in reverse (`put_back`): the kept container starts, passes its
checks, takes the traffic, and the new one goes.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from retail_deploy.docker.client import first_line
from retail_deploy.docker.containers import Deployer
from retail_deploy.docker.plan import (
    DockerSettings,
    ServiceTarget,
    container_port,
    free_local_port,
    own_port,
    plan_target,
)
from retail_deploy.docker.proxy import Proxy
from retail_deploy.docker.session import (
    container_version,
    engine_name,
    find,
    image_id,
    select,
    session,
    show,
    status,
    url,
)
from retail_deploy.errors import Interrupted, OperationFailed, RolledBack
from retail_deploy.targets import Report, ServiceReport

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner

Changing = list[tuple[ServiceTarget, "Container | None", "str | None"]]


def fetch_images(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str, *,
                 services: Iterable[str] | None = None, pull: bool = True) -> None:
    """Pull (or find, `pull=False`) the images of `version` on the engine: changes nothing that
    runs, so it happens before the lock is taken; a missing image fails here (exit 1)."""
    chosen = select(cfg, services)
    settings, client = session(runner, env)
    try:
        deployer = Deployer(runner, cfg, env, settings, client)
        for svc in chosen:
            deployer.ensure_image(plan_target(cfg, env, svc, version, settings), pull=pull)
    finally:
        if client is not None:
            client.close()


def _new_target(cfg: PlatformConfig, env: EnvironmentConfig, settings: DockerSettings, name: str, version: str,
                client: DockerClient | None) -> ServiceTarget:
    """The service's target with the new container's own port (beside the serving one's)."""
    target = plan_target(cfg, env, cfg.services[name], version, settings)
    if settings.host is None and settings.host_network:
        return replace(target, candidate_port=free_local_port())
    current = find(client, target.name)
    return replace(target, candidate_port=own_port(target, container_port(current.labels if current else None)))


def deploy(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str, *,
           services: Iterable[str] | None = None, pull: bool = True, fetched: bool = False,
           watch: bool = False) -> Report:
    """Deploy `version` of the services (all by default) to the environment's Docker engine.

    `pull=False` uses the engine's image when it has one (the caller just built it there);
    `fetched=True`: `fetch_images` already did. The lock, audit record and notification are the
    seam's policy (retail_deploy.targets.policy). `watch=True` (a deploy, not the redeploy of a
    rollback) then keeps the environment's `docker.verification_period`. Raises RolledBack (exit 3)
    when a check fails or the verification period breaches: the old containers keep (or are put
    back to) serving. Returns the report of what runs now.
    """
    chosen = select(cfg, services)
    settings, client = session(runner, env)
    report = Report(env.name, engine_name(settings), f"deploy {version}")
    targets = [_new_target(cfg, env, settings, svc.name, version, client) for svc in chosen]
    switched: list[tuple[ServiceTarget, str | None]] = []  # what the verification period watches
    started: list[ServiceTarget] = []  # candidates running beside the release (step 2)
    switching: list[ServiceTarget] = []  # services switched, or being switched (step 3)
    deployer = Deployer(runner, cfg, env, settings, client)
    proxy = Proxy(runner, cfg, env, settings, client)
    try:
        for target in targets if not fetched else ():  # pulling changes nothing that runs
            deployer.ensure_image(target, pull=pull)
        proxy.ensure()
        changing: Changing = []
        for target in targets:
            current = find(client, target.name)
            old_version = container_version(current)
            if (current is not None and client is not None and not runner.dry
                    and old_version == version and status(current) == "running"
                    and (image := current.image) is not None and image.id == image_id(client, target.image)
                    and deployer.check(current, target, version) is None):
                runner.say(f"{target.service} already runs {version} ({target.name}), healthy: unchanged")
                report.services.append(ServiceReport(
                    target.service, version, "unchanged", target.name, url(env, target),
                    container_version(find(client, target.previous_name))))
                continue
            changing.append((target, current, old_version))

        try:
            _start_and_switch(deployer, proxy, env, version, changing, started, switching)
        except KeyboardInterrupt as interrupt:
            raise _interrupted(deployer, proxy, env, version, interrupt, started, switching) from None
        failed = deployer.wait_all([(t, t.name) for t, _, _ in changing], version=version)
        if failed:
            restored = restore(deployer, proxy, [t for t, _, _ in changing])
            service, reason = next(iter(failed.items()))
            raise RolledBack(f"{service} {version} failed its health check after the switch on {env.name} "
                             f"({reason}): put back {', '.join(restored)}")
        for target, _, old_version in changing:
            report.services.append(ServiceReport(target.service, version, "deployed", target.name,
                                                 url(env, target), old_version))
            switched.append((target, old_version))
    except KeyboardInterrupt as interrupt:  # while checking the switched release: put it all back
        if not switching:
            raise
        raise _interrupted(deployer, proxy, env, version, interrupt, started, switching) from None
    finally:
        if client is not None:
            client.close()
    order = {t.service: i for i, t in enumerate(targets)}
    report.services.sort(key=lambda s: order[s.service])
    show(runner, report)
    if switched and watch:
        _verification_period(runner, cfg, env, settings, version, switched)
    return report


def _start_and_switch(deployer: Deployer, proxy: Proxy, env: EnvironmentConfig, version: str, changing: Changing,
                      started: list[ServiceTarget], switching: list[ServiceTarget]) -> None:
    """Steps 2 and 3 of a deploy; `started` and `switching` say how far it got (for `_interrupted`).

    Each service's switch runs shielded: a signal in the middle takes effect when that one service
    is switched, so no service is ever left between its two containers."""
    from retail_deploy.execute import interruption, shielded

    # 2. Every new version beside the old one; nothing switches unless all of them pass.
    for target, _, old_version in changing:
        deployer.runner.say(f"{target.service}: start {version} beside {old_version or 'nothing'} "
                            f"on port {target.candidate_port}")
        started.append(target)
        deployer.start(target)
    failed = deployer.wait_all([(t, t.candidate_name) for t, _, _ in changing], version=version)
    if failed:
        for target, _, _ in changing:
            deployer.remove(target.candidate_name)
        started.clear()
        service, reason = next(iter(failed.items()))
        old = {t.service: v for t, _, v in changing}[service]
        kept = f"{old} keeps serving" if old else "nothing was running"
        others = f" (also failed: {', '.join(list(failed)[1:])})" if len(failed) > 1 else ""
        raise RolledBack(f"{service} {version} failed its health check on {env.name} ({reason}){others}: "
                         f"removed the new containers, {kept}")

    # 3. Switch through the proxy: the new container takes the traffic, the old one drains and stops.
    for target, current, _ in changing:
        with shielded(f"switching {target.service} to {version} on {env.name}") as guard:
            switching.append(target)
            started.remove(target)
            switch(deployer, proxy, target, current)
        if guard.received:
            raise interruption(signal.Signals[guard.received[0]])


def switch(deployer: Deployer, proxy: Proxy, target: ServiceTarget, current: Container | None) -> None:
    """The candidate (healthy) serves, the current container drains and stops, kept as <name>-previous."""
    deployer.runner.say(f"{target.service}: traffic to {target.candidate_name} (port {target.candidate_port})"
                        + (f", {target.name} drains" if current is not None else ""))
    proxy.add(target.service, target.candidate_port)
    if current is not None:
        port = container_port(current.labels)
        if port is not None:
            proxy.retire(target.service, port)
        deployer.stop(target.name)
        deployer.remove(target.previous_name)
        deployer.rename(target.name, target.previous_name)
    deployer.promote(target)


def _interrupted(deployer: Deployer, proxy: Proxy, env: EnvironmentConfig, version: str, interrupt: BaseException,
                 started: list[ServiceTarget], switching: list[ServiceTarget]) -> Interrupted:
    """Ctrl-C/SIGTERM during a deploy: remove the new containers not yet switched in and put back
    every service already switched (`restore`), shielded from a second signal, so the release that
    served before serves again, whole (docs/deploying.md, "Failure handling"). Exit 130."""
    from retail_deploy.execute import shielded, signal_name

    what = f"interrupted by {signal_name(interrupt)} while deploying {version} on {env.name}"
    with shielded(f"putting back the release before {version} on {env.name}"):
        for target in started:
            deployer.remove(target.candidate_name)
        restored = restore(deployer, proxy, switching) if switching else []
    if restored:
        return Interrupted(f"{what}: put back {', '.join(reversed(restored))}")
    return Interrupted(f"{what}: nothing was switched; removed the new containers, the running release keeps serving")


def _verification_period(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, settings: DockerSettings,
                         version: str, switched: list[tuple[ServiceTarget, str | None]]) -> None:
    """Watch the switched release for `docker.verification_period` (the rollback triggers when
    Prometheus is configured, else health checks, as on Kubernetes). On a breach, and on
    Ctrl-C/SIGTERM, put back the containers kept as `<name>-previous` exactly as a failed switch
    does (`restore`), shielded from a second signal: exit 3 (RolledBack) or 130 (Interrupted)."""
    if settings.verification_period <= 0:
        return
    from retail_deploy.execute import shielded, signal_name
    from retail_deploy.health import verification
    from retail_deploy.monitoring.monitor import prometheus_url

    recorded = f"the audit record says so (inv rollback.history --env {env.name})"
    # The health checks go to each service's URL; one without a URL in `urls` answers on its
    # stable port, as the deploy's own checks and report use it (`url`).
    watched = replace(env, urls={**{target.service: url(env, target) for target, _ in switched}, **env.urls})
    try:
        verification.verification_period(runner, cfg, watched, settings.verification_period,
                                         prometheus_url(cfg, env))
    except KeyboardInterrupt as interrupt:
        what = f"interrupted by {signal_name(interrupt)} during the verification period of {version} on {env.name}"
        with shielded(f"putting back the release before {version} on {env.name}"):
            restored = _put_back_switched(runner, cfg, env, settings, switched, what)
        raise Interrupted(f"{what}: put back {restored}; {recorded}") from None
    except Exception as exc:  # not only our own errors: a bug in the watch must not leave the release unwatched
        what = f"{version} failed during its verification period on {env.name} ({first_line(exc)})"
        with shielded(f"putting back the release before {version} on {env.name}"):
            restored = _put_back_switched(runner, cfg, env, settings, switched, what)
        raise RolledBack(f"{what}: put back {restored}; {recorded}") from exc


def _put_back_switched(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, settings: DockerSettings,
                       switched: list[tuple[ServiceTarget, str | None]], what: str) -> str:
    """`restore` the switched services on a fresh connection (the period may have outlasted an
    SSH session). Returns what was put back (`backend 1.0.0, ...`); one whose kept container does
    not come back healthy is exit 1."""
    _, client = session(runner, env)
    try:
        deployer = Deployer(runner, cfg, env, settings, client)
        restored = restore(deployer, Proxy(runner, cfg, env, settings, client), [t for t, _ in switched])
    except OperationFailed as failed:
        raise OperationFailed(f"{what}; the rollback failed too: {failed}; check with inv {env.task('verify')}") from None
    finally:
        if client is not None:
            client.close()
    olds = {target.service: old for target, old in switched}
    return ", ".join(f"{name} {olds[name]}" if name in olds and olds[name] else name
                     for name in reversed(restored))  # restore goes newest first


def put_back(deployer: Deployer, proxy: Proxy, target: ServiceTarget) -> bool:
    """The kept <name>-previous serves again, through the proxy, and the (failed) current goes.

    The kept container starts on its own port and must pass its checks before it gets traffic;
    one that does not is OperationFailed, and the current container keeps serving."""
    client = deployer.client
    previous = find(client, target.previous_name) if client is not None else None
    current = find(client, target.name) if client is not None else None
    if client is not None and previous is None:  # nothing ran before this deploy: nothing runs now
        if current is not None and (port := container_port(current.labels)) is not None:
            proxy.retire(target.service, port)
        deployer.remove(target.name)
        return False
    deployer.restart(target.previous_name)
    back = container_version(previous) if previous is not None else None
    reason = deployer.wait_healthy(target, target.previous_name, back)
    if reason:
        deployer.stop(target.previous_name)
        raise OperationFailed(f"{target.service} {back or ''} did not come back healthy ({reason}); "
                              f"{target.name} keeps serving")
    port = container_port(previous.labels) if previous is not None else target.candidate_port
    proxy.add(target.service, port or target.candidate_port)
    if current is not None and (old := container_port(current.labels)) is not None:
        proxy.retire(target.service, old)
    deployer.remove(target.name)
    deployer.rename(target.previous_name, target.name)
    return True


def restore(deployer: Deployer, proxy: Proxy, switched: list[ServiceTarget]) -> list[str]:
    """Put back the services this deploy already switched (newest first)."""
    restored = []
    for target in reversed(switched):
        back = put_back(deployer, proxy, target)
        restored.append(target.service if back else f"{target.service} (removed: it had no previous version)")
    return restored
