"""The migration lock: only one runner migrates a database at a time.

Acquiring is one atomic `insert_one` of a document with a fixed `_id`; the database's unique
`_id` index makes exactly one of several racing runners win (migrate-mongo's lock, by contrast,
is a find-then-insert that two runners can both pass). The document carries an expiry, checked
by the runners themselves (no TTL index: FerretDB has none), so a runner that died does not block
the database forever; `release` runs in `finally` and only deletes the lock it holds.

That insert is the only atomicity relied on, so the lock is correct on MongoDB and on FerretDB
alike (docs/migrations.md). In particular a conditional delete is not atomic on FerretDB (a find,
then a delete by `_id`): two runners that both found an expired lock and both "deleted it if
expired" could delete, the second time, the lock the first had just inserted in its place, and
both would hold it. So an expired lock is removed only by the runner whose insert of a claim
named after that very lock wins (`_remove_if_expired`).
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from retail_deploy.errors import LockHeld
from retail_deploy.migrations.changelog import utcnow

if TYPE_CHECKING:
    from retail_deploy.migrations.connection import MongoCollection

LOCK_ID = "migrations"
# Takeover claims (see the module docstring) carry this field: the token of the lock they take over.
TAKEOVER_FIELD = "takeover_of"
# A runner that meets an expired lock another runner is taking over looks again, this many times
# this many seconds apart (about a second), before it gives up with LockHeld.
TAKEOVER_ATTEMPTS = 20
TAKEOVER_PAUSE = 0.05


def default_holder() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def _expired(lock: dict[str, Any], now: datetime) -> bool:
    expires = lock.get("expires_at")
    return expires is not None and expires < now


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "an unknown time"


class MigrationLock:
    """`with MigrationLock(collection, ttl, holder, where):` holds the lock for the block."""

    def __init__(self, collection: MongoCollection, ttl_seconds: float, holder: str | None = None, where: str = "",
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

        current: dict[str, Any] = {}
        for _attempt in range(TAKEOVER_ATTEMPTS):
            now = utcnow()
            self._remove_if_expired(now)
            try:
                self.collection.insert_one({"_id": LOCK_ID, "holder": self.holder, "token": self.token,
                                            "acquired_at": now, "expires_at": now + self.ttl})
                break
            except DuplicateKeyError:
                current = self.collection.find_one({"_id": LOCK_ID}) or {}
            if current and not _expired(current, utcnow()):
                raise self._held_by(current)
            # Released a moment ago, or expired and being taken over by another runner: look again.
            time.sleep(TAKEOVER_PAUSE)
        else:
            raise self._held_by(current, taking_over=True)
        self.held = True
        # A single migration may run longer than the ttl: keep the lock fresh while it runs.
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._beat, name="migration-lock-heartbeat", daemon=True)
        self._heartbeat.start()

    def _remove_if_expired(self, now: datetime) -> None:
        """Delete the lock of a runner that died (expired), if this runner wins the claim to do so."""
        from pymongo.errors import DuplicateKeyError

        stale = self.collection.find_one({"_id": LOCK_ID})
        if stale is None or not _expired(stale, now):
            return
        # One claim per expired lock (its token): a fixed `_id`, so exactly one runner inserts it.
        claim = f"{LOCK_ID}:takeover:{stale.get('token')}"
        try:
            self.collection.insert_one({"_id": claim, TAKEOVER_FIELD: stale.get("token"), "holder": self.holder,
                                        "at": now})
        except DuplicateKeyError:
            return  # another runner is taking it over
        try:
            # The expired lock is still there (no one else deletes it), so this deletes exactly it.
            self.collection.delete_one({"_id": LOCK_ID, "token": stale.get("token")})
        finally:
            self.collection.delete_one({"_id": claim})

    def _held_by(self, current: dict[str, Any], taking_over: bool = False) -> LockHeld:
        hint = f", or if that runner died: {self.unlock_hint}" if self.unlock_hint else ""
        what = "another runner is taking over this expired lock (or died doing so)" if taking_over \
            else "wait for it to finish"
        return LockHeld(
            f"migrations of {self.where or 'this database'} are locked by {current.get('holder', 'another runner')} "
            f"since {_when(current.get('acquired_at'))} (expires {_when(current.get('expires_at'))}): "
            f"{what}{hint}")

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


def break_lock(collection: MongoCollection) -> dict[str, Any] | None:
    """Remove the lock whatever its holder (for a runner known to be dead), and any takeover claim
    left by a runner that died while taking over an expired lock; returns the lock removed."""
    collection.delete_many({TAKEOVER_FIELD: {"$exists": True}})
    return collection.find_one_and_delete({"_id": LOCK_ID})
