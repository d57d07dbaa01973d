"""The Docker target's lock and audit history, kept on the engine itself (docs/deploying.md):
a never-started lock container per environment, one labelled volume per audit record.

Both work on a remote engine over SSH like the rest, need no state file, and are seen by every
machine that deploys to the engine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from retail_deploy.commands import docker_engine as dcli
from retail_deploy.docker.client import first_line as _first_line
from retail_deploy.docker.plan import LABEL_ENV, LABEL_PREFIX, DockerSettings, docker_settings, plan_target
from retail_deploy.docker.session import api_message as _api_message
from retail_deploy.docker.session import connect
from retail_deploy.docker.session import engine_name as _engine_name
from retail_deploy.docker.session import find as _find
from retail_deploy.docker.session import image_id as _image_id
from retail_deploy.docker.session import remove as _remove
from retail_deploy.docker.session import select as _select
from retail_deploy.docker.session import session as _session
from retail_deploy.errors import LockHeld, OperationFailed
from retail_deploy.targets.history import LockInfo, iso, parse_history, utcnow, whoami

if TYPE_CHECKING:
    from datetime import datetime

    from docker import DockerClient
    from docker.models.containers import Container
    from docker.models.volumes import Volume

    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner

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
