"""Deploy the platform's services to one Docker engine, local or remote over SSH.

The runbook's "Development / localhost" environment (docs/development-target.md):

1. pull the images (`docker pull REGISTRY/IMAGE:V`, registry credentials in auth_config);
2. (the seam's policy, retail_deploy.targets.policy, holds the environment's lock on the engine
   meanwhile: exit 4 when another deploy holds it, and writes the audit record);
3. start a *candidate* container of every changed service beside the running one, on another
   port, and wait until all pass their health checks (Docker's HEALTHCHECK, read back with
   `docker inspect`, so the same check works on a remote engine over SSH);
4. switch: stop each current container and keep it as `<name>-previous` (for `undo`), start the
   new version on the service's stable port, and check again.

The old containers serve until step 4. If a candidate fails, all candidates are removed and
nothing changes; if a check fails after the switch, every service is put back. Either way
`RolledBack` (exit 3) says why. Containers carry labels (service, version, environment), so the
state is read back from the engine alone: no state file to lose. Pure decisions live in
`retail_deploy.docker.plan`.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from retail_deploy.commands import docker_engine as dcli
from retail_deploy.docker import client as docker_client
from retail_deploy.docker.client import first_line as _first_line
from retail_deploy.docker.plan import (
    LABEL_ENV,
    LABEL_PREFIX,
    LABEL_VERSION,
    DockerSettings,
    ServiceTarget,
    docker_settings,
    free_local_port,
    judge_health,
    latest_health_run,
    plan_target,
    run_command,
    run_spec,
    service_port,
)
from retail_deploy.errors import InputError, Interrupted, LockHeld, OperationFailed, RolledBack
from retail_deploy.targets import Report, ServiceReport, VerifyFailed
from retail_deploy.targets.history import LockInfo, iso, parse_history, utcnow, whoami

__all__ = ["Report", "ServiceReport", "current_versions", "deploy", "docker_settings", "state_of", "undo",
           "validate_config", "verify"]

if TYPE_CHECKING:
    from datetime import datetime

    from docker import DockerClient
    from docker.models.containers import Container
    from docker.models.volumes import Volume

    from retail_deploy.config import EnvironmentConfig, PlatformConfig, RegistryConfig, ServiceConfig
    from retail_deploy.execute import Runner


def validate_config(cfg: PlatformConfig) -> None:
    """`config.validate`: parse the docker: section of every Docker-target environment, and
    check each service has a port, so a typo is refused with file and line before a deploy."""
    for env in cfg.environments.values():
        if env.target == "docker":
            docker_settings(env)
            for service in cfg.services.values():
                service_port(env, service)


# Reports: the seam's types, the same on every target (retail_deploy.targets).

# --------------------------------------------------------------------------------------------
# Engine access


def connect(settings: DockerSettings, timeout: float = 120) -> DockerClient:
    """A DockerClient for the environment's engine (docker_client.connect, the one factory)."""
    return docker_client.connect(settings.host, timeout=timeout, use_ssh_client=settings.use_ssh_client,
                                 ssh_key=settings.ssh_key)


def _engine_name(settings: DockerSettings) -> str:
    return settings.host or "local engine"




def _find(client: DockerClient | None, name: str) -> Container | None:
    """The container called `name`, or None. Without a client (a dry run whose engine did not
    answer) the plan assumes none exists, as it says."""
    import docker

    if client is None:
        return None
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def _engine(client: DockerClient | None) -> DockerClient:
    """The client of an action that runs: only a dry run goes without one."""
    assert client is not None
    return client


def _remove(client: DockerClient | None, name: str) -> None:
    container = _find(client, name)
    if container is not None:
        container.remove(force=True)


def _status(container: Container) -> str:
    container.reload()
    return str(container.status)


def _logs_tail(container: Container, lines: int = 5) -> str:
    try:
        text = container.logs(tail=lines).decode("utf-8", "replace").strip()
    except Exception:  # noqa: BLE001 - logs are a hint only
        return ""
    return " | ".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# Steps (each one printed as its CLI equivalent through runner.action)


class _Deployer:
    def __init__(self, runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, settings: DockerSettings, client: DockerClient | None):
        self.runner = runner
        self.cfg = cfg
        self.env = env
        self.settings = settings
        self.client = client
        self.host = settings.host

    # -- image

    def ensure_image(self, target: ServiceTarget, *, pull: bool = True) -> None:
        registry = self.cfg.registry
        if not getattr(registry, "host", None):
            return  # a local image, built on this engine
        if not pull and self.client is not None and _image_id(self.client, target.image):
            self.runner.say(f"{target.service}: {target.image} was just built on this engine: no pull")
            return
        self.runner.action(dcli.pull(target.image, host=self.host), self._pull, target, registry)

    def _pull(self, target: ServiceTarget, registry: RegistryConfig) -> None:
        import docker

        auth = None
        if getattr(registry, "username", None):
            auth = {"username": registry.username, "password": registry.password or ""}
        repository, tag = target.image.rsplit(":", 1)
        try:
            _engine(self.client).images.pull(repository, tag=tag, auth_config=auth)
        except docker.errors.APIError as error:
            # A remote engine may have the image already (e.g. built there); otherwise fail.
            try:
                _engine(self.client).images.get(target.image)
            except docker.errors.ImageNotFound:
                raise OperationFailed(f"{target.service}: cannot pull {target.image} on "
                                      f"{_engine_name(self.settings)}: {_api_message(error)} "
                                      f"(was it built and pushed? `inv build.all --version "
                                      f"{target.version} --push`)") from error

    # -- containers

    def start(self, target: ServiceTarget, *, candidate: bool) -> None:
        name = target.candidate_name if candidate else target.name
        if _find(self.client, name) is not None:
            # Left over by an interrupted deploy: it was never serving, so it can go.
            self.runner.action(dcli.remove(name, host=self.host), _remove, self.client, name)
        spec = run_spec(target, self.settings, candidate=candidate)
        # `self.client` is looked up only when the action runs: a dry run may have no engine.
        self.runner.action(run_command(target, self.settings, candidate=candidate),
                           lambda: _engine(self.client).containers.run(target.image, **spec))

    def remove(self, name: str) -> None:
        self.runner.action(dcli.remove(name, host=self.host), _remove, self.client, name)

    def stop(self, name: str) -> None:
        self.runner.action(dcli.stop(name, host=self.host, timeout=self.settings.stop_timeout),
                           self._stop, name)

    def _stop(self, name: str) -> None:
        container = _find(self.client, name)
        if container is not None:
            container.stop(timeout=self.settings.stop_timeout)

    def rename(self, name: str, new_name: str) -> None:
        self.runner.action(dcli.rename(name, new_name, host=self.host), self._rename, name, new_name)

    def _rename(self, name: str, new_name: str) -> None:
        container = _find(self.client, name)
        if container is not None:
            container.rename(new_name)

    def restart(self, name: str) -> None:
        self.runner.action(dcli.start(name, host=self.host), self._start_existing, name)

    def _start_existing(self, name: str) -> None:
        container = _find(self.client, name)
        if container is None:
            raise OperationFailed(f"container {name} vanished on {_engine_name(self.settings)}")
        container.start()

    # -- health

    def wait_healthy(self, target: ServiceTarget, *, candidate: bool, version: str | None = None) -> str | None:
        """None when the container passes every check within the timeout, else the reason."""
        return self.wait_all([target], candidate=candidate, version=version).get(target.service)

    def wait_all(self, targets: list[ServiceTarget], *, candidate: bool,
                 version: str | None = None) -> dict[str, str]:
        """Wait for several containers together; {service: reason} for those that did not pass."""
        if not targets:
            return {}
        names = [t.candidate_name if candidate else t.name for t in targets]
        self.runner.say(f"wait up to {self.settings.health_timeout:g}s for {', '.join(names)} "
                        f"to pass {'their' if len(names) > 1 else 'its'} health checks")
        shown = dcli.inspect_health(*names, host=self.host)
        result = self.runner.action(shown, self._wait, targets, names, version)
        return result if isinstance(result, dict) else {}

    def _wait(self, targets: list[ServiceTarget], names: list[str], version: str | None) -> dict[str, str]:
        deadline = time.monotonic() + self.settings.health_timeout
        pending = dict(zip(names, targets, strict=True))
        failed: dict[str, str] = {}
        problems: dict[str, str] = {}
        while pending:
            for name, target in list(pending.items()):
                container = _find(self.client, name)
                if container is None:
                    failed[target.service] = f"container {name} disappeared"
                elif _status(container) in {"exited", "dead"}:
                    failed[target.service] = f"container {name} exited: {_logs_tail(container) or 'no output'}"
                elif container.status == "restarting" or int(container.attrs.get("RestartCount") or 0):
                    # The restart policy hides a crash: a new container that restarts has failed.
                    failed[target.service] = (f"container {name} keeps restarting: "
                                              f"{_logs_tail(container) or 'no output'}")
                else:
                    problem = self.check(container, target, version)
                    if problem is None:
                        del pending[name]
                        continue
                    problems[target.service] = problem
                    continue
                del pending[name]
            if not pending:
                break
            if time.monotonic() >= deadline:
                for target in pending.values():
                    failed[target.service] = (f"not healthy after {self.settings.health_timeout:g}s: "
                                              f"{problems.get(target.service, 'no answer')}")
                break
            time.sleep(min(self.settings.health_interval, 0.25))
        return failed

    def check(self, container: Container, target: ServiceTarget, version: str | None) -> str | None:
        """The latest health-check run of the container, judged; None when it passed."""
        container.reload()
        state = container.attrs.get("State") or {}
        last = latest_health_run(state)
        if last is None:
            return "no health check result yet"
        return judge_health(target, int(last.get("ExitCode", 1)), str(last.get("Output") or ""), version)


def _api_message(error: Exception) -> str:
    explanation = getattr(error, "explanation", None)
    return _first_line(explanation or error)


# --------------------------------------------------------------------------------------------
# One deploy at a time per environment and engine


LABEL_LOCK_HOLDER = f"{LABEL_PREFIX}.lock-holder"
LABEL_LOCK_ACTION = f"{LABEL_PREFIX}.lock-action"
LABEL_LOCK_EXPIRES = f"{LABEL_PREFIX}.lock-expires"
LABEL_LOCK_ID = f"{LABEL_PREFIX}.lock-id"
LABEL_LOCK_VERSION = f"{LABEL_PREFIX}.lock-version"
LABEL_LOCK_ACQUIRED = f"{LABEL_PREFIX}.lock-acquired"
LABEL_RECORD = f"{LABEL_PREFIX}.record"
LOCK_TTL = 1800.0
HISTORY_KEEP = 200  # records kept per environment on the engine; older ones are pruned


def lock_name(settings: DockerSettings, env_name: str) -> str:
    return f"{settings.name_prefix}retail-deploy-lock-{env_name}"


def _lock_info(container: Container) -> LockInfo:
    labels = container.labels or {}
    expires = labels.get(LABEL_LOCK_EXPIRES, "")
    try:
        until = iso(_epoch(float(expires)))
    except ValueError:
        until = "?"
    return LockInfo(labels.get(LABEL_LOCK_HOLDER, "someone"), labels.get(LABEL_LOCK_ID, ""),
                    labels.get(LABEL_LOCK_VERSION, "?"), labels.get(LABEL_LOCK_ACTION, "a deploy"),
                    labels.get(LABEL_LOCK_ACQUIRED, "?"), until)


def _epoch(seconds: float) -> datetime:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)


class _EnvLock:
    """A never-started container named after the environment: the engine refuses a second
    container of that name, so creating it is an atomic test-and-set that works on any engine,
    local or remote. Labels say who holds it and until when; it is removed in `finally`."""

    def __init__(self, runner: Runner, client: DockerClient | None, settings: DockerSettings, env: EnvironmentConfig, image: str, action: str,
                 *, version: str = "", ttl_s: float = LOCK_TTL):
        self.runner, self.client, self.settings, self.env = runner, client, settings, env
        self.image, self.action, self.version, self.ttl_s = image, action, version, ttl_s
        self.name = lock_name(settings, env.name)
        self.container: Container | None = None
        self.info = LockInfo(whoami(), uuid4_hex(), version, action, iso(utcnow()),
                             iso(_epoch(time.time() + ttl_s)))

    def __enter__(self) -> LockInfo:
        if self.client is None or self.runner.dry:
            return self.info
        import docker

        labels = {LABEL_ENV: self.env.name, LABEL_LOCK_HOLDER: self.info.holder, LABEL_LOCK_ACTION: self.action,
                  LABEL_LOCK_EXPIRES: str(int(time.time() + self.ttl_s)), LABEL_LOCK_ID: self.info.lock_id,
                  LABEL_LOCK_VERSION: self.version, LABEL_LOCK_ACQUIRED: self.info.acquired}
        for attempt in (1, 2):
            try:
                self.container = self.client.containers.create(
                    self.image, command=["true"], name=self.name, labels=labels, network_mode="none")
                return self.info
            except docker.errors.APIError as error:
                if getattr(error, "status_code", None) != 409:
                    raise OperationFailed(f"cannot take the {self.env.name} lock on "
                                          f"{_engine_name(self.settings)}: {_api_message(error)}") from error
                held = _find(self.client, self.name)
                if held is None:
                    continue  # released meanwhile
                info = held.labels or {}
                if attempt == 1 and float(info.get(LABEL_LOCK_EXPIRES, "0") or 0) < time.time():
                    self.runner.say(f"taking over the expired lock of {info.get(LABEL_LOCK_HOLDER, 'someone')}")
                    held.remove(force=True)
                    continue
                raise LockHeld(f"{info.get(LABEL_LOCK_HOLDER, 'someone')} holds the {self.env.name} lock on "
                               f"{_engine_name(self.settings)} ({info.get(LABEL_LOCK_ACTION, 'a deploy')}): "
                               f"wait for it, or if it is stale: docker rm {self.name} "
                               f"(or inv lock.release --env {self.env.name})") from error
        raise LockHeld(f"the {self.env.name} lock on {_engine_name(self.settings)} keeps changing hands: retry")

    def __exit__(self, *exc: object) -> None:
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except Exception:  # noqa: BLE001 - a lock we cannot remove expires on its own
                self.runner.say(f"could not remove the lock {self.name}: it expires after {self.ttl_s:g}s; "
                                f"run: inv lock.release --env {self.env.name}")
            self.container = None


def uuid4_hex() -> str:
    import uuid

    return uuid.uuid4().hex[:12]


def _lock_image(client: DockerClient, cfg: PlatformConfig, env: EnvironmentConfig, settings: DockerSettings, version: str) -> str:
    """An image the engine already has, for the never-started lock container: the release being
    deployed (pulled first), else one of the environment's containers, else any image."""
    if version:
        for svc in _select(cfg, None):
            reference = plan_target(cfg, env, svc, version, settings).image
            if _image_id(client, reference):
                return reference
    for svc in _select(cfg, None):
        target = plan_target(cfg, env, svc, "", settings)
        for name in (target.name, target.previous_name):
            container = _find(client, name)
            if container is not None and (image := container.image) is not None:
                return str(image.id)
    # Ids only: images.list() inspects each image, and on a shared engine one may go meanwhile.
    images = client.api.images(quiet=True)
    if not images:
        raise OperationFailed(f"{_engine_name(settings)} has no image at all to hold the {env.name} lock: "
                              "deploy a version first")
    return str(images[0])


@contextmanager
def env_lock(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, *, version: str, action: str,
             ttl_s: float = LOCK_TTL) -> Iterator[LockInfo]:
    """Hold the environment's lock on its engine for the block (exit 4 when another holds it)."""
    settings, client = _session(runner, env)
    try:
        image = "" if client is None or runner.dry else _lock_image(client, cfg, env, settings, version)
        with _EnvLock(runner, client, settings, env, image, action, version=version, ttl_s=ttl_s) as info:
            yield info
    finally:
        if client is not None:
            client.close()


def read_lock(runner: Runner, env: EnvironmentConfig) -> LockInfo | None:
    """`lock.status`: the lock container's labels, or None when the environment is free."""
    settings, client = _session(runner, env)
    if client is None:
        raise OperationFailed(f"cannot reach {_engine_name(settings)} to read the {env.name} lock")
    try:
        held = _find(client, lock_name(settings, env.name))
        return None if held is None else _lock_info(held)
    finally:
        client.close()


def force_release(runner: Runner, env: EnvironmentConfig) -> LockInfo | None:
    """`lock.release`: remove whatever lock is there; returns what was removed."""
    settings, client = _session(runner, env)
    if client is None:
        raise OperationFailed(f"cannot reach {_engine_name(settings)} to release the {env.name} lock")
    try:
        name = lock_name(settings, env.name)
        held = _find(client, name)
        if held is None:
            return None
        runner.action(dcli.remove(name, host=settings.host), _remove, client, name)
        return _lock_info(held)
    finally:
        client.close()


# --------------------------------------------------------------------------------------------
# Audit history on the engine: one labelled volume per record. A volume needs no image and no
# running container, works on a remote engine over SSH like the rest, and each record is created
# under a new unique name, so two writers never overwrite each other (docs/deploying.md).


def _history_prefix(settings: DockerSettings, env_name: str) -> str:
    return f"{settings.name_prefix}retail-deploy-history-{env_name}-"


def record_history(runner: Runner, env: EnvironmentConfig, entry: dict[str, Any]) -> None:
    """Append one audit record on the engine. Never raises: a failed record is reported."""
    import json

    settings = docker_settings(env)
    start = str(entry.get("start", "")).replace("-", "").replace(":", "") or "record"
    name = f"{_history_prefix(settings, env.name)}{start}-{uuid4_hex()[:6]}"
    value = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    labels = {LABEL_ENV: env.name, LABEL_RECORD: value}
    try:
        client = connect(settings)
    except OperationFailed as error:
        runner.say(f"warning: could not record the deploy history ({error})")
        return
    try:
        runner.action(dcli.volume_create(name, labels, host=settings.host),
                      client.volumes.create, name=name, driver="local", labels=labels)
        kept = sorted(v.name for v in _history_volumes(client, settings, env.name))
        for old in kept[:-HISTORY_KEEP]:
            client.volumes.get(old).remove()
    except Exception as error:  # noqa: BLE001 - the record is an audit aid, never fatal
        runner.say(f"warning: could not record the deploy history ({_first_line(error)})")
    finally:
        client.close()


def _history_volumes(client: DockerClient, settings: DockerSettings, env_name: str) -> list[Volume]:
    prefix = _history_prefix(settings, env_name)
    found = client.volumes.list(filters={"label": f"{LABEL_ENV}={env_name}"})
    return [v for v in found if str(v.name).startswith(prefix)]


def read_history(runner: Runner, env: EnvironmentConfig) -> list[dict[str, Any]]:
    """The audit records of the environment, oldest first."""
    settings, client = _session(runner, env)
    if client is None:
        return []
    try:
        volumes = _history_volumes(client, settings, env.name)
        return parse_history({str(v.name): str((v.attrs.get("Labels") or {}).get(LABEL_RECORD, ""))
                              for v in volumes})
    finally:
        client.close()


# --------------------------------------------------------------------------------------------
# Public API


def _show(runner: Runner, report: Report) -> None:
    """Print the outcome (a dry run changed nothing, so it has no outcome to show)."""
    if not runner.dry:
        print(str(report), file=runner.out, flush=True)


def _require_docker_env(env: EnvironmentConfig) -> None:
    if getattr(env, "target", "docker") != "docker":
        raise InputError(f"environment {env.name} deploys to {env.target}, not to a Docker engine: "
                         f"use {env.task('deploy')}")


def _select(cfg: PlatformConfig, names: Iterable[str] | None) -> list[ServiceConfig]:
    services = cfg.services
    if names is None:
        return list(services.values())
    chosen = []
    for name in names:
        if name not in services:
            raise InputError(f"unknown service {name!r}: choose from {', '.join(services)}")
        chosen.append(services[name])
    return chosen


def _session(runner: Runner, env: EnvironmentConfig) -> tuple[DockerSettings, DockerClient | None]:
    _require_docker_env(env)
    settings = docker_settings(env)
    try:
        client = connect(settings)
    except OperationFailed:
        if not getattr(runner, "dry", False):
            raise
        runner.say(f"cannot reach {_engine_name(settings)}: plan assumes no containers are running")
        client = None
    return settings, client


def _container_version(container: Container | None) -> str | None:
    if container is None:
        return None
    return (container.labels or {}).get(LABEL_VERSION)


def _image_id(client: DockerClient, reference: str) -> str | None:
    import docker

    try:
        return str(client.images.get(reference).id)
    except docker.errors.ImageNotFound:
        return None


def fetch_images(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str, *, services: Iterable[str] | None = None,
                 pull: bool = True) -> None:
    """Pull (or find, `pull=False`) the images of `version` on the engine: changes nothing that
    runs, so it happens before the lock is taken; a missing image fails here (exit 1)."""
    chosen = _select(cfg, services)
    settings, client = _session(runner, env)
    try:
        deployer = _Deployer(runner, cfg, env, settings, client)
        for svc in chosen:
            deployer.ensure_image(plan_target(cfg, env, svc, version, settings), pull=pull)
    finally:
        if client is not None:
            client.close()


def deploy(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str, *, services: Iterable[str] | None = None,
           pull: bool = True, fetched: bool = False, watch: bool = False) -> Report:
    """Deploy `version` of the services (all by default) to the environment's Docker engine.

    `pull=False` uses the engine's image when it has one (the caller just built it there);
    otherwise every image is pulled from the registry, so a moved tag is picked up;
    `fetched=True`: `fetch_images` already did. The lock, audit record and notification are the
    seam's policy (retail_deploy.targets.policy), not this function's. `watch=True` (a deploy, not
    the redeploy of a rollback) then keeps the environment's `docker.verification_period`.

    All new containers start beside the running ones and must pass their health checks before
    any service is switched; after the switch they are checked again on the stable ports.
    Raises RolledBack (exit 3) when a check fails, or the verification period breaches: the old
    containers keep (or are put back to) serving. Returns the report of what runs now.
    """
    chosen = _select(cfg, services)
    settings, client = _session(runner, env)
    report = Report(env.name, _engine_name(settings), f"deploy {version}")
    local = settings.host is None and settings.host_network
    targets = [plan_target(cfg, env, svc, version, settings,
                           candidate_port=free_local_port() if local else None) for svc in chosen]
    switched: list[tuple[ServiceTarget, str | None]] = []  # what the verification period watches
    started: list[ServiceTarget] = []  # candidates running beside the release (step 1)
    switching: list[ServiceTarget] = []  # services switched, or being switched (step 2)
    try:
        deployer = _Deployer(runner, cfg, env, settings, client)
        for target in targets if not fetched else ():  # pulling changes nothing that runs
            deployer.ensure_image(target, pull=pull)
        changing: list[tuple[ServiceTarget, Container | None, str | None]] = []
        for target in targets:
            current = _find(client, target.name) if client is not None else None
            old_version = _container_version(current)
            if (current is not None and client is not None and not runner.dry
                    and old_version == version and _status(current) == "running"
                    and (image := current.image) is not None and image.id == _image_id(client, target.image)
                    and deployer.check(current, target, version) is None):
                runner.say(f"{target.service} already runs {version} ({target.name}), healthy: unchanged")
                report.services.append(ServiceReport(
                    target.service, version, "unchanged", target.name, _url(env, target),
                    _container_version(_find(client, target.previous_name))))
                continue
            changing.append((target, current, old_version))

        try:
            _start_and_switch(deployer, env, version, changing, started, switching)
        except KeyboardInterrupt as interrupt:
            raise _interrupted(deployer, env, version, interrupt, started, switching) from None
        failed = deployer.wait_all([t for t, _, _ in changing], candidate=False, version=version)
        if failed:
            restored = _restore(deployer, [t for t, _, _ in changing])
            service, reason = next(iter(failed.items()))
            raise RolledBack(f"{service} {version} failed its health check after the switch on {env.name} "
                             f"({reason}): put back {', '.join(restored)}")
        for target, _, old_version in changing:
            report.services.append(ServiceReport(target.service, version, "deployed", target.name,
                                                 _url(env, target), old_version))
            switched.append((target, old_version))
    except KeyboardInterrupt as interrupt:  # while checking the switched release: put it all back
        if not switching:
            raise
        raise _interrupted(deployer, env, version, interrupt, started, switching) from None
    finally:
        if client is not None:
            client.close()
    order = {t.service: i for i, t in enumerate(targets)}
    report.services.sort(key=lambda s: order[s.service])
    _show(runner, report)
    if switched and watch:
        _verification_period(runner, cfg, env, settings, version, switched)
    return report


def _start_and_switch(deployer: _Deployer, env: EnvironmentConfig, version: str,
                      changing: list[tuple[ServiceTarget, Container | None, str | None]],
                      started: list[ServiceTarget], switching: list[ServiceTarget]) -> None:
    """Steps 1 and 2 of a deploy; `started` and `switching` say how far it got (for `_interrupted`).

    Each service's switch (stop, keep as <name>-previous, start on the stable port) runs shielded:
    a signal in the middle takes effect when that one service is switched, so no service is ever
    left between its two containers."""
    from retail_deploy.execute import interruption, shielded

    # 1. Every new version beside the old one; nothing switches unless all of them pass.
    for target, _, old_version in changing:
        deployer.runner.say(f"{target.service}: start {version} beside {old_version or 'nothing'} "
                            f"on port {target.candidate_port}")
        started.append(target)
        deployer.start(target, candidate=True)
    failed = deployer.wait_all([t for t, _, _ in changing], candidate=True, version=version)
    for target, _, _ in changing:
        deployer.remove(target.candidate_name)
    started.clear()
    if failed:
        service, reason = next(iter(failed.items()))
        old = {t.service: v for t, _, v in changing}[service]
        kept = f"{old} keeps serving" if old else "nothing was running"
        others = f" (also failed: {', '.join(list(failed)[1:])})" if len(failed) > 1 else ""
        raise RolledBack(f"{service} {version} failed its health check on {env.name} ({reason}){others}: "
                         f"removed the new containers, {kept}")

    # 2. Switch: the old container stops (kept for undo), the new one takes the stable port.
    for target, current, _ in changing:
        with shielded(f"switching {target.service} to {version} on {env.name}") as guard:
            switching.append(target)
            _switch(deployer, target, current is not None)
        if guard.received:
            raise interruption(signal.Signals[guard.received[0]])


def _interrupted(deployer: _Deployer, env: EnvironmentConfig, version: str, interrupt: BaseException,
                 started: list[ServiceTarget], switching: list[ServiceTarget]) -> Interrupted:
    """Ctrl-C/SIGTERM during a deploy: remove the new containers not yet switched in and put back
    every service already switched (`_restore`), shielded from a second signal, so the release that
    served before serves again, whole (docs/deploying.md, "Failure handling"). Exit 130."""
    from retail_deploy.execute import shielded, signal_name

    what = f"interrupted by {signal_name(interrupt)} while deploying {version} on {env.name}"
    with shielded(f"putting back the release before {version} on {env.name}"):
        for target in started:
            deployer.remove(target.candidate_name)
        restored = _restore(deployer, switching) if switching else []
    if restored:
        return Interrupted(f"{what}: put back {', '.join(reversed(restored))}")
    return Interrupted(f"{what}: nothing was switched; removed the new containers, the running release keeps serving")


def _verification_period(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, settings: DockerSettings,
                         version: str, switched: list[tuple[ServiceTarget, str | None]]) -> None:
    """Watch the switched release for `docker.verification_period` (the rollback triggers when
    Prometheus is configured, else health checks: `verification.verification_period`, as on
    Kubernetes). On a breach, and on Ctrl-C/SIGTERM, put back the containers kept as
    `<name>-previous` exactly as a failed switch does (`_restore`), shielded from a second signal:
    exit 3 (RolledBack) or 130 (Interrupted). The policy's lock is held throughout, and its audit
    record says `rolled-back`/`interrupted` with the reason (docs/deploying.md, "Failure handling")."""
    if settings.verification_period <= 0:
        return
    from retail_deploy.execute import shielded, signal_name
    from retail_deploy.health import verification
    from retail_deploy.monitoring.monitor import prometheus_url

    recorded = f"the audit record says so (inv rollback.history --env {env.name})"
    # The health checks go to each service's URL; one without a URL in `urls` answers on its
    # stable port, as the deploy's own checks and report use it (`_url`).
    watched = replace(env, urls={**{target.service: _url(env, target) for target, _ in switched}, **env.urls})
    try:
        verification.verification_period(runner, cfg, watched, settings.verification_period,
                                         prometheus_url(cfg, env))
    except KeyboardInterrupt as interrupt:
        what = f"interrupted by {signal_name(interrupt)} during the verification period of {version} on {env.name}"
        with shielded(f"putting back the release before {version} on {env.name}"):
            restored = _put_back_switched(runner, cfg, env, settings, switched, what)
        raise Interrupted(f"{what}: put back {restored}; {recorded}") from None
    except Exception as exc:  # not only our own errors: a bug in the watch must not leave the release unwatched
        what = f"{version} failed during its verification period on {env.name} ({_first_line(exc)})"
        with shielded(f"putting back the release before {version} on {env.name}"):
            restored = _put_back_switched(runner, cfg, env, settings, switched, what)
        raise RolledBack(f"{what}: put back {restored}; {recorded}") from exc


def _put_back_switched(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, settings: DockerSettings,
                       switched: list[tuple[ServiceTarget, str | None]], what: str) -> str:
    """`_restore` the switched services on a fresh connection (the period may have outlasted an
    SSH session), then wait until the versions put back pass their health checks. Returns what
    was put back (`backend 1.0.0, ...`); one that does not come back healthy is exit 1."""
    _, client = _session(runner, env)
    try:
        deployer = _Deployer(runner, cfg, env, settings, client)
        restored = _restore(deployer, [target for target, _ in switched])
        back = [plan_target(cfg, env, cfg.services[target.service], old, settings) for target, old in switched if old]
        failed = deployer.wait_all(back, candidate=False) if client is not None else {}
    finally:
        if client is not None:
            client.close()
    if failed:
        raise OperationFailed(f"{what}; the rollback failed too: "
                              + "; ".join(f"{name} {why}" for name, why in failed.items())
                              + f"; check with inv {env.task('verify')}")
    olds = {target.service: old for target, old in switched}
    return ", ".join(f"{name} {olds[name]}" if name in olds and olds[name] else name
                     for name in reversed(restored))  # _restore goes newest first


def _url(env: EnvironmentConfig, target: ServiceTarget) -> str:
    return str((env.urls or {}).get(target.service, f"http://127.0.0.1:{target.port}"))


def _switch(deployer: _Deployer, target: ServiceTarget, has_current: bool) -> None:
    """Stop the current container, keep it as <name>-previous, start the new one on the stable port."""
    if has_current:
        deployer.stop(target.name)
        deployer.remove(target.previous_name)
        deployer.rename(target.name, target.previous_name)
    deployer.start(target, candidate=False)


def _put_back(deployer: _Deployer, target: ServiceTarget) -> bool:
    """Remove the (failed) current container and bring <name>-previous back under its name."""
    deployer.remove(target.name)
    if deployer.client is None or _find(deployer.client, target.previous_name) is None:
        return False  # nothing ran before this deploy: nothing runs now
    deployer.rename(target.previous_name, target.name)
    deployer.restart(target.name)
    return True


def _restore(deployer: _Deployer, switched: list[ServiceTarget]) -> list[str]:
    """Put back the services this deploy already switched (newest first)."""
    restored = []
    for target in reversed(switched):
        back = _put_back(deployer, target)
        restored.append(target.service if back else f"{target.service} (removed: it had no previous version)")
    return restored


def undo(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, service: str | None = None) -> Report:
    """Bring back the previous version of one service (or all that have one).

    The current container becomes `<name>-previous`, so a second undo returns to it.
    """
    chosen = _select(cfg, [service] if service else None)
    settings, client = _session(runner, env)
    report = Report(env.name, _engine_name(settings), "undo")
    try:
        if client is None:
            raise OperationFailed(f"cannot read the containers on {_engine_name(settings)}: nothing to undo")
        deployer = _Deployer(runner, cfg, env, settings, client)
        for svc in chosen:
            target = plan_target(cfg, env, svc, "", settings)
            previous = _find(client, target.previous_name)
            current = _find(client, target.name)
            if previous is None:
                if service:
                    raise OperationFailed(f"no previous version of {svc.name} is kept on "
                                          f"{_engine_name(settings)} (container {target.previous_name}): "
                                          f"deploy the version you want with {env.task('deploy')} --version V")
                report.services.append(ServiceReport(svc.name, _container_version(current), "unchanged",
                                                     detail="no previous version kept"))
                continue
            back, gone = _container_version(previous), _container_version(current)
            target = plan_target(cfg, env, svc, back or "", settings)
            runner.say(f"{svc.name}: back from {gone or 'nothing'} to {back}")
            swap = target.name + "-undo"
            if current is not None:
                deployer.stop(target.name)
                deployer.remove(swap)
                deployer.rename(target.name, swap)
            deployer.rename(target.previous_name, target.name)
            deployer.restart(target.name)
            reason = deployer.wait_healthy(target, candidate=False, version=back)
            if reason:
                deployer.stop(target.name)
                deployer.rename(target.name, target.previous_name)
                if current is not None:
                    deployer.rename(swap, target.name)
                    deployer.restart(target.name)
                raise OperationFailed(f"{svc.name} {back} did not come back healthy on {env.name} ({reason}): "
                                      f"{gone or 'nothing'} is running again")
            if current is not None:
                deployer.rename(swap, target.previous_name)
            url = (env.urls or {}).get(svc.name, f"http://127.0.0.1:{target.port}")
            report.services.append(ServiceReport(svc.name, back, "restored", target.name, url, gone))
    finally:
        if client is not None:
            client.close()
    _show(runner, report)
    return report


def verify(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str | None = None) -> Report:
    """Check every service's container runs (the given version) and passes its health checks.

    Raises VerifyFailed (an OperationFailed) with the report's problems when one does not.
    """
    settings, client = _session(runner, env)
    report = Report(env.name, _engine_name(settings), f"verify {version or ''}".strip())
    try:
        if client is None:
            raise OperationFailed(f"cannot reach {_engine_name(settings)} to verify {env.name}")
        deployer = _Deployer(runner, cfg, env, settings, client)
        for svc in _select(cfg, None):
            target = plan_target(cfg, env, svc, version or "", settings)
            url = (env.urls or {}).get(svc.name, f"http://127.0.0.1:{target.port}")
            container = _find(client, target.name)
            if container is None or _status(container) != "running":
                report.services.append(ServiceReport(svc.name, _container_version(container), "missing",
                                                     target.name, url, detail="no running container"))
                continue
            running = _container_version(container)
            # Read-only: runs in a dry run too. The version endpoint must answer the labelled version.
            problem = deployer.check(container, target, running)
            if version and running != version:
                report.services.append(ServiceReport(svc.name, running, "wrong-version", target.name, url,
                                                     detail=f"runs {running}, expected {version}"))
            elif problem:
                report.services.append(ServiceReport(svc.name, running, "unhealthy", target.name, url,
                                                     detail=problem))
            else:
                report.services.append(ServiceReport(svc.name, running, "healthy", target.name, url))
    finally:
        if client is not None:
            client.close()
    _show(runner, report)
    if not report.ok:
        bad = [f"{s.service}: {s.status} {s.detail}".strip() for s in report.services if s.status != "healthy"]
        raise VerifyFailed(f"{env.name} is not healthy on {report.engine}: {'; '.join(bad)}", report)
    return report


def current_versions(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig) -> dict[str, str | None]:
    """{service: version of its current container, or None}: a read-only probe (runs in a dry run)."""
    return {service: state["current"] for service, state in state_of(runner, cfg, env).items()}


def state_of(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig) -> dict[str, dict[str, Any]]:
    """{service: {"current", "previous", "running", "container", "image", "started", "ready"}} read
    from container labels and state (`ready`: running, and healthy where the container has a check)."""
    settings, client = _session(runner, env)
    states: dict[str, dict[str, Any]] = {}
    try:
        for svc in _select(cfg, None):
            target = plan_target(cfg, env, svc, "", settings)
            current = _find(client, target.name) if client is not None else None
            previous = _find(client, target.previous_name) if client is not None else None
            running = current is not None and _status(current) == "running"
            states[svc.name] = {
                "current": _container_version(current),
                "previous": _container_version(previous),
                "running": running,
                "container": target.name,
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
