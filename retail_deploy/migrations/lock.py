"""The migration lock: only one runner migrates a database at a time.

Acquiring is one atomic `insert_one` of a document with a fixed `_id`; the database's unique
`_id` index makes exactly one of several racing runners win (migrate-mongo's lock, by contrast,
is a find-then-insert that two runners can both pass). The document carries an expiry so a
runner that died does not block the database forever; `release` runs in `finally` and only
deletes the lock it holds.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from retail_deploy.errors import LockHeld
from retail_deploy.migrations.changelog import utcnow

LOCK_ID = "migrations"


def default_holder() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "an unknown time"


class MigrationLock:
    """`with MigrationLock(collection, ttl, holder, where):` holds the lock for the block."""

    def __init__(self, collection: Any, ttl_seconds: float, holder: str | None = None, where: str = "",
                 unlock_hint: str = ""):
        self.collection = collection
        self.ttl = timedelta(seconds=ttl_seconds)
        self.holder = holder or default_holder()
        self.where = where
        self.unlock_hint = unlock_hint
        self.token = uuid.uuid4().hex
        self.held = False
        # Set when a refresh finds the lock gone (expired and taken): the runner stops at once.
        self.lost = False
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def acquire(self) -> None:
        from pymongo.errors import DuplicateKeyError

        now = utcnow()
        # A lock whose holder died is stale once expired; deleting it is itself conditional, so two
        # runners that both see it expired still race on the insert below, and only one wins.
        self.collection.delete_one({"_id": LOCK_ID, "expires_at": {"$lt": now}})
        try:
            self.collection.insert_one({"_id": LOCK_ID, "holder": self.holder, "token": self.token,
                                        "acquired_at": now, "expires_at": now + self.ttl})
        except DuplicateKeyError:
            current = self.collection.find_one({"_id": LOCK_ID}) or {}
            hint = f", or if that runner died: {self.unlock_hint}" if self.unlock_hint else ""
            raise LockHeld(
                f"migrations of {self.where or 'this database'} are locked by {current.get('holder', 'another runner')} "
                f"since {_when(current.get('acquired_at'))} (expires {_when(current.get('expires_at'))}): "
                f"wait for it to finish{hint}") from None
        self.held = True
        # A single migration may run longer than the ttl: keep the lock fresh while it runs.
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._beat, name="migration-lock-heartbeat", daemon=True)
        self._heartbeat.start()

    def refresh(self) -> bool:
        """Push the expiry forward; False (and `lost`) when the lock is no longer ours."""
        if not self.held:
            return False
        result = self.collection.update_one({"_id": LOCK_ID, "token": self.token},
                                            {"$set": {"expires_at": utcnow() + self.ttl}})
        if result.matched_count == 0:
            self.lost = True
        return not self.lost

    def _beat(self) -> None:
        while not self._stop.wait(max(self.ttl.total_seconds() / 3, 0.05)):
            try:
                self.refresh()
            except Exception:  # noqa: S110 - a failed refresh is retried; expiry is the backstop
                pass

    def release(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(5)
            self._heartbeat = None
        if self.held:
            # Only our own lock: if it expired and another runner took it, leave theirs alone.
            self.collection.delete_one({"_id": LOCK_ID, "token": self.token})
            self.held = False

    def __enter__(self) -> MigrationLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def break_lock(collection: Any) -> dict[str, Any] | None:
    """Remove the lock whatever its holder (for a runner known to be dead); returns what was removed."""
    return collection.find_one_and_delete({"_id": LOCK_ID})
