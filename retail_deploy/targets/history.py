"""One deploy at a time per environment, and an audit trail, both kept in the cluster.

Lock: ConfigMap `retail-deploy-lock` in the environment's namespace. `kubectl create` is atomic
(a second create fails with AlreadyExists), so two racing deploys cannot both win. The lock
records holder, version and expiry; an expired lock is taken over with a merge patch carrying
the resourceVersion we read (the API server rejects it with Conflict if someone else got there
first). It is released in `finally`, only by its own holder.

History: ConfigMap `retail-deploy-history`, one key per deploy/rollback holding a JSON record
(who, action, version, services, strategy, start, end, result, and `release`: per service the
version before and after and the serving colour, as `targets.policy` probed them). Records are
added with a merge patch of a new unique key, so concurrent writers never overwrite each other.
The record format and its table are shared by every target (the Docker target keeps the same
records on its engine).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from retail_deploy.commands import kubectl
from retail_deploy.commands.kubectl import Kube
from retail_deploy.errors import CommandFailed, LockHeld, OperationFailed
from retail_deploy.kube import probes
from retail_deploy.targets import Serving

LOCK_NAME = "retail-deploy-lock"
HISTORY_NAME = "retail-deploy-history"

if TYPE_CHECKING:
    from retail_deploy.execute import Runner


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def whoami() -> str:
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        user = os.environ.get("USER", "unknown")
    return f"{user}@{socket.gethostname()}"


def _not_found(exc: CommandFailed) -> bool:
    return "NotFound" in exc.detail or "not found" in exc.detail


def _exists(exc: CommandFailed) -> bool:
    return "AlreadyExists" in exc.detail or "already exists" in exc.detail


def _conflict(exc: CommandFailed) -> bool:
    return "Conflict" in exc.detail or "modified" in exc.detail


@dataclass(frozen=True)
class LockInfo:
    holder: str
    lock_id: str
    version: str
    strategy: str
    acquired: str
    expires: str
    resource_version: str = ""

    def expired(self, now: datetime) -> bool:
        until = parse_iso(self.expires)
        return until is not None and until <= now

    def describe(self) -> str:
        return f"{self.holder} (version {self.version}, since {self.acquired}, expires {self.expires})"

    @classmethod
    def from_data(cls, data: dict[str, str], resource_version: str = "") -> LockInfo:
        return cls(data.get("holder", "unknown"), data.get("id", ""), data.get("version", "?"),
                   data.get("strategy", ""), data.get("acquired", "?"), data.get("expires", "?"),
                   resource_version)


def lock_data(holder: str, lock_id: str, version: str, strategy: str, now: datetime, ttl_s: float) -> dict[str, str]:
    return {"holder": holder, "id": lock_id, "version": version, "strategy": strategy,
            "acquired": iso(now), "expires": iso(now + timedelta(seconds=ttl_s))}


def read_lock(runner: Runner, kube: Kube) -> LockInfo | None:
    """The current lock, or None when the environment is free."""
    try:
        result = runner.probe(kubectl.get_json(kube, "configmap", LOCK_NAME))
    except CommandFailed as exc:
        if _not_found(exc):
            return None
        raise
    data, resource_version = probes.parse_configmap(result.stdout)
    return LockInfo.from_data(data, resource_version)


def acquire(runner: Runner, kube: Kube, *, env_name: str, version: str, strategy: str, ttl_s: float,
            holder: str | None = None, now: datetime | None = None) -> LockInfo:
    """Take the environment's lock or raise LockHeld (exit 4) naming the holder."""
    now = now or utcnow()
    holder = holder or whoami()
    lock_id = uuid.uuid4().hex[:12]
    data = lock_data(holder, lock_id, version, strategy, now, ttl_s)
    mine = LockInfo.from_data(data)
    if runner.dry:
        current = _read_quietly(runner, kube)
        if current is not None and not current.expired(now):
            runner.say(f"lock held by {current.describe()}: a real run would exit 4")
        runner.run(kubectl.create_configmap(kube, LOCK_NAME, data))
        return mine
    for _ in range(2):
        try:
            runner.run(kubectl.create_configmap(kube, LOCK_NAME, data), hide=True)
            return mine
        except CommandFailed as exc:
            if not _exists(exc):
                raise
        current = read_lock(runner, kube)
        if current is None:
            continue  # released between our create and read: try once more
        if not current.expired(now):
            raise _held(env_name, current)
        try:
            runner.run(kubectl.replace_configmap(kube, LOCK_NAME, data, current.resource_version), hide=True)
        except CommandFailed as exc:
            if _conflict(exc) or _not_found(exc):
                raise LockHeld(f"{env_name}: another deploy took over the expired lock first; retry later") from exc
            raise
        runner.say(f"took over an expired lock of {current.describe()}")
        return mine
    raise LockHeld(f"{env_name}: the deploy lock keeps changing hands; retry later")


def _held(env_name: str, current: LockInfo) -> LockHeld:
    return LockHeld(f"{env_name} is locked by {current.describe()}; wait for it, or if that deploy "
                    f"is dead run: inv lock.release --env {env_name}")


def ensure_free(runner: Runner, kube: Kube, env_name: str) -> None:
    """Fail fast (exit 4) when another deploy holds the lock, before slower pre-deploy work;
    `acquire` still decides atomically."""
    current = _read_quietly(runner, kube)
    if current is not None and not current.expired(utcnow()):
        raise _held(env_name, current)


def _read_quietly(runner: Runner, kube: Kube) -> LockInfo | None:
    try:
        return read_lock(runner, kube)
    except (CommandFailed, OperationFailed):
        return None


def release(runner: Runner, kube: Kube, mine: LockInfo) -> None:
    """Release our own lock (never someone else's, e.g. after an expired takeover)."""
    if runner.dry:
        runner.run(kubectl.delete_configmap(kube, LOCK_NAME))
        return
    current = read_lock(runner, kube)
    if current is None:
        return
    if current.lock_id != mine.lock_id:
        runner.say(f"lock now held by {current.describe()}: left in place")
        return
    try:
        runner.run(kubectl.delete_configmap(kube, LOCK_NAME), hide=True)
    except CommandFailed as exc:
        if not _not_found(exc):
            raise


def force_release(runner: Runner, kube: Kube) -> LockInfo | None:
    """`lock.release`: remove whatever lock is there; returns what was removed."""
    current = read_lock(runner, kube)
    if current is not None:
        runner.run(kubectl.delete_configmap(kube, LOCK_NAME))
    return current


@contextmanager
def deploy_lock(runner: Runner, kube: Kube, *, env_name: str, version: str, strategy: str,
                ttl_s: float) -> Iterator[LockInfo]:
    mine = acquire(runner, kube, env_name=env_name, version=version, strategy=strategy, ttl_s=ttl_s)
    try:
        yield mine
    finally:
        try:
            release(runner, kube, mine)
        except (CommandFailed, OperationFailed) as exc:
            runner.say(f"could not release the deploy lock ({exc}); run: inv lock.release --env {env_name}")


# --- audit history -------------------------------------------------------------------------

def record(runner: Runner, kube: Kube, entry: dict[str, Any]) -> None:
    """Append one audit record. Never raises: a failed record is reported, not fatal."""
    start = parse_iso(str(entry.get("start", ""))) or utcnow()
    key = f"{start.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"
    value = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    try:
        try:
            runner.run(kubectl.merge_patch_configmap(kube, HISTORY_NAME, {key: value}), hide=True)
        except CommandFailed as exc:
            if not _not_found(exc):
                raise
            try:
                runner.run(kubectl.create_configmap(kube, HISTORY_NAME, {key: value}), hide=True)
            except CommandFailed as exc2:
                if not _exists(exc2):
                    raise
                runner.run(kubectl.merge_patch_configmap(kube, HISTORY_NAME, {key: value}), hide=True)
    except (CommandFailed, OperationFailed) as exc:
        runner.say(f"warning: could not record the deploy history ({exc})")


def parse_history(data: dict[str, str]) -> list[dict[str, Any]]:
    entries = []
    for key in sorted(data):
        try:
            entry = json.loads(data[key])
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def read_history(runner: Runner, kube: Kube) -> list[dict[str, Any]]:
    try:
        result = runner.probe(kubectl.get_json(kube, "configmap", HISTORY_NAME))
    except CommandFailed as exc:
        if _not_found(exc):
            return []
        raise
    data, _ = probes.parse_configmap(result.stdout)
    return parse_history(data)


def release_changes(before: Mapping[str, Serving], after: Mapping[str, Serving],
                    services: Sequence[str]) -> dict[str, dict[str, str]]:
    """The record's `release`: per service the version before and after, and the serving colour
    (empty where the target has no colours, or the fact could not be read)."""
    out: dict[str, dict[str, str]] = {}
    for name in services:
        was, now = before.get(name), after.get(name)
        out[name] = {"before": (was.version if was else None) or "", "after": (now.version if now else None) or "",
                     "colour_before": was.colour if was else "", "colour_after": now.colour if now else ""}
    return out


def recorded_release(entry: Mapping[str, Any], when: str = "before") -> dict[str, Serving]:
    """What served `before` (or `after`) the recorded action, per service; records written
    before releases were recorded give {} (their `previous` holds images, not colours)."""
    release = entry.get("release")
    if not isinstance(release, dict):
        return {}
    out = {}
    for name, change in release.items():
        if isinstance(change, dict) and change.get(when):
            out[str(name)] = Serving(str(change[when]), str(change.get(f"colour_{when}") or ""))
    return out


def last_change(entries: Sequence[Mapping[str, Any]], service: str | None = None, *,
                deploys_only: bool = False) -> Mapping[str, Any] | None:
    """The newest record that changed what serves (a deploy or rollback that succeeded, with a
    recorded release; `service`: one that changed that service): its `before` is the release to
    go back to. A failed, refused, rolled-back or interrupted attempt left the release in place.
    `deploys_only` (automatic rollback): a breach after a manual rollback must not bring back
    the release that rollback removed."""
    entry: Mapping[str, Any]  # reversed() of a Sequence[Mapping[str, Any]] types its items as Any
    for entry in reversed(entries):
        if entry.get("result") != "succeeded" or (deploys_only and entry.get("action") != "deploy"):
            continue
        before, after = recorded_release(entry, "before"), recorded_release(entry, "after")
        changed = [s for s in before if before[s] != after.get(s) and (service is None or s == service)]
        if changed:
            return entry
    return None


def _changes_cell(entry: Mapping[str, Any]) -> str:
    release = entry.get("release")
    if isinstance(release, dict) and release:
        cells = []
        for name, c in sorted(release.items()):
            if not isinstance(c, dict):
                continue
            before, after = c.get("before") or "-", c.get("after") or "?"
            colour = ""
            if c.get("colour_before") or c.get("colour_after"):
                was, now = c.get("colour_before") or "-", c.get("colour_after") or "?"
                colour = f" [{now}]" if was == now else f" [{was}->{now}]"
            cells.append(f"{name} {before}->{after}{colour}" if before != after else f"{name} {after}{colour}")
        return ", ".join(cells)
    previous = entry.get("previous") or {}  # a record written before releases were recorded
    if isinstance(previous, dict):
        return "previous " + ",".join(sorted({probes.image_tag(v) for v in previous.values() if v}))
    return ""


def _version_cell(entry: Mapping[str, Any]) -> str:
    """The version the action set (a rollback: the version(s) it restored), never a colour: a
    blue-green rollback record written before releases were recorded kept the colour there."""
    if entry.get("action") == "rollback-blue-green" and "release" not in entry:
        return ""
    return str(entry.get("version", ""))


def format_history(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "no deploys recorded"
    rows = [("START", "END", "ACTION", "VERSION", "STRATEGY", "RESULT", "SERVICES", "WHO")]
    for e in entries:
        action = str(e.get("action", "deploy")) + (" (forced)" if e.get("forced") else "")
        rows.append((str(e.get("start", "")), str(e.get("end", "")), action, _version_cell(e),
                     str(e.get("strategy", "")), str(e.get("result", "")), _changes_cell(e), str(e.get("who", ""))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
