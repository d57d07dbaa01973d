"""The migration runner against a database: apply, status, verify, rollback, failures, lock, dry run.

Each test runs on mongomock and, when RETAIL_DEPLOY_TEST_MONGODB_URI is set, on a real server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from retail_deploy.errors import LockHeld, OperationFailed
from retail_deploy.migrations import plan, runner
from retail_deploy.migrations.discovery import discover
from retail_deploy.migrations.lock import LOCK_ID, MigrationLock
from tests.migrations_support import (
    Recorder,
    items,
    marker_migration,
    mongo_client,
    mongo_db,
    write_migration,
)

__all__ = ["mongo_client", "mongo_db"]  # fixtures used by name

NAMES = runner.Collections(lock_ttl=60)


def migrate(db: Any, folder: Path, version: str | None = "1.0.0", dry: bool = False, **kw: Any) -> list[str]:
    return runner.migrate(db, discover(folder), NAMES, Recorder(dry), version, **kw)


def rollback_batch(db: Any, folder: Path, dry: bool = False) -> list[str]:
    return runner.rollback(db, discover(folder), NAMES, Recorder(dry), plan.last_batch, "roll back the last batch")


def rollback_version(db: Any, folder: Path, version: str) -> list[str]:
    return runner.rollback(db, discover(folder), NAMES, Recorder(),
                           lambda applied: plan.after_version(applied, version), f"roll back to {version}")


def changelog(db: Any) -> list[tuple[str, int, str | None]]:
    return [(d["_id"], d["batch"], d["version"]) for d in db[NAMES.changelog].find({}).sort([("batch", 1), ("order", 1)])]


def test_migrate_applies_pending_in_name_order_as_one_batch(mongo_db: Any, tmp_path: Path) -> None:
    marker_migration(tmp_path, "2025-01-16-b.py")
    marker_migration(tmp_path, "2025-01-15-a.py")
    (tmp_path / "_helpers.py").write_text("x = 1\n")  # not a migration

    assert migrate(mongo_db, tmp_path) == ["2025-01-15-a.py", "2025-01-16-b.py"]

    assert items(mongo_db) == ["2025-01-15-a", "2025-01-16-b"]
    assert changelog(mongo_db) == [("2025-01-15-a.py", 1, "1.0.0"), ("2025-01-16-b.py", 1, "1.0.0")]
    record = mongo_db[NAMES.changelog].find_one({"_id": "2025-01-15-a.py"})
    assert record["sha256"] == discover(tmp_path)[0].sha256 and record["applied_at"] is not None
    assert mongo_db[NAMES.lock].count_documents({}) == 0  # released


def test_second_migrate_applies_only_new_files_as_next_batch(mongo_db: Any, tmp_path: Path) -> None:
    marker_migration(tmp_path, "2025-01-15-a.py")
    migrate(mongo_db, tmp_path, "1.0.0")
    assert migrate(mongo_db, tmp_path, "1.0.1") == []
    marker_migration(tmp_path, "2025-02-01-c.py")

    assert migrate(mongo_db, tmp_path, "1.1.0") == ["2025-02-01-c.py"]
    assert changelog(mongo_db) == [("2025-01-15-a.py", 1, "1.0.0"), ("2025-02-01-c.py", 2, "1.1.0")]


def test_status_lists_applied_and_pending(mongo_db: Any, tmp_path: Path) -> None:
    marker_migration(tmp_path, "2025-01-15-a.py")
    migrate(mongo_db, tmp_path)
    marker_migration(tmp_path, "2025-01-16-b.py")

    current = runner.status(mongo_db, discover(tmp_path), NAMES)

    assert [(a.record.name, a.state) for a in current.applied] == [("2025-01-15-a.py", "ok")]
    assert [m.name for m in current.pending] == ["2025-01-16-b.py"]


def test_verify_reports_edited_file_unapplied_file_and_failing_verify(mongo_db: Any, tmp_path: Path) -> None:
    edited = marker_migration(tmp_path, "2025-01-15-a.py")
    write_migration(tmp_path, "2025-01-16-b.py", up="db.flags.insert_one({'_id': 'b'})",
                    verify="return db.flags.count_documents({'_id': 'b'}) == 1")
    write_migration(tmp_path, "2025-01-17-c.py", up="pass", verify="assert db.flags.count_documents({}) == 1, 'c'")
    migrate(mongo_db, tmp_path)
    assert runner.verify(mongo_db, discover(tmp_path), NAMES, Recorder()) == []

    edited.write_text(edited.read_text() + "# edited after it ran\n")
    marker_migration(tmp_path, "2025-01-18-d.py")
    mongo_db.flags.insert_one({"_id": "someone else"})
    problems = runner.verify(mongo_db, discover(tmp_path), NAMES, Recorder())

    assert problems == ["2025-01-15-a.py was edited after it was applied (hash differs)",
                        "2025-01-18-d.py is not applied",
                        "verify() of 2025-01-17-c.py failed: AssertionError: c"]


def test_verify_reports_verify_returning_false(mongo_db: Any, tmp_path: Path) -> None:
    write_migration(tmp_path, "2025-01-16-b.py", up="pass", verify="return db.flags.count_documents({}) == 1")
    migrate(mongo_db, tmp_path)
    assert runner.verify(mongo_db, discover(tmp_path), NAMES, Recorder()) == [
        "verify() of 2025-01-16-b.py returned False"]


def test_rollback_undoes_only_the_last_batch_newest_first(mongo_db: Any, tmp_path: Path) -> None:
    marker_migration(tmp_path, "2025-01-15-a.py")
    migrate(mongo_db, tmp_path, "1.0.0")
    marker_migration(tmp_path, "2025-02-01-b.py")
    marker_migration(tmp_path, "2025-02-02-c.py")
    migrate(mongo_db, tmp_path, "1.1.0")

    assert rollback_batch(mongo_db, tmp_path) == ["2025-02-02-c.py", "2025-02-01-b.py"]

    assert items(mongo_db) == ["2025-01-15-a"]
    assert changelog(mongo_db) == [("2025-01-15-a.py", 1, "1.0.0")]
    # Undone migrations are pending again: the next migrate re-applies them.
    assert migrate(mongo_db, tmp_path, "1.1.1") == ["2025-02-01-b.py", "2025-02-02-c.py"]


def test_rollback_to_version_undoes_everything_applied_after_it(mongo_db: Any, tmp_path: Path) -> None:
    for version, name in [("1.0.0", "2025-01-15-a.py"), ("1.1.0", "2025-02-01-b.py"), ("1.2.0", "2025-03-01-c.py")]:
        marker_migration(tmp_path, name)
        migrate(mongo_db, tmp_path, version)

    assert rollback_version(mongo_db, tmp_path, "1.0.0") == ["2025-03-01-c.py", "2025-02-01-b.py"]
    assert items(mongo_db) == ["2025-01-15-a"]


def test_rollback_to_a_version_without_migrations_uses_version_order(mongo_db: Any, tmp_path: Path) -> None:
    marker_migration(tmp_path, "2025-01-15-a.py")
    migrate(mongo_db, tmp_path, "1.4.2")
    marker_migration(tmp_path, "2025-02-01-b.py")
    migrate(mongo_db, tmp_path, "1.10.0")

    # 1.4.3 shipped no migration: everything recorded by a later release goes.
    assert rollback_version(mongo_db, tmp_path, "1.4.3") == ["2025-02-01-b.py"]
    assert items(mongo_db) == ["2025-01-15-a"]


@pytest.mark.parametrize("down", [None, "raise Irreversible('dropped a column')"])
def test_rollback_past_an_irreversible_migration_refuses_and_changes_nothing(
        mongo_db: Any, tmp_path: Path, down: str | None) -> None:
    header = "from retail_deploy.migrations import Irreversible\n"
    marker_migration(tmp_path, "2025-01-15-a.py")
    migrate(mongo_db, tmp_path, "1.0.0")
    write_migration(tmp_path, "2025-02-01-b.py", up="db.items.insert_one({'_id': 'b'})", down=down, header=header)
    marker_migration(tmp_path, "2025-02-02-c.py")
    migrate(mongo_db, tmp_path, "1.1.0")

    with pytest.raises(OperationFailed, match=r"2025-02-01-b\.py is irreversible.*nothing was undone"):
        rollback_version(mongo_db, tmp_path, "1.0.0")

    assert items(mongo_db) == ["2025-01-15-a", "2025-02-02-c", "b"]  # c was not undone either
    assert len(changelog(mongo_db)) == 3
    assert mongo_db[NAMES.lock].count_documents({}) == 0


def test_down_that_raises_irreversible_late_stops_and_keeps_it_recorded(mongo_db: Any, tmp_path: Path) -> None:
    # Not detectable from the source (raised after a check): refused when it runs.
    header = "from retail_deploy.migrations import Irreversible\n"
    write_migration(tmp_path, "2025-02-01-b.py", up="db.items.insert_one({'_id': 'b'})",
                    down="if db.items.count_documents({}) > 0:\n    raise Irreversible('data was merged')",
                    header=header)
    marker_migration(tmp_path, "2025-02-02-c.py")
    migrate(mongo_db, tmp_path)

    with pytest.raises(OperationFailed, match=r"2025-02-01-b\.py is irreversible \(data was merged\).*"
                                              r"already undone: 2025-02-02-c\.py"):
        rollback_batch(mongo_db, tmp_path)

    assert [name for name, _, _ in changelog(mongo_db)] == ["2025-02-01-b.py"]
    assert items(mongo_db) == ["b"]


def test_failure_mid_batch_keeps_earlier_ones_and_does_not_record_the_failing_one(
        mongo_db: Any, tmp_path: Path) -> None:
    marker_migration(tmp_path, "2025-01-15-a.py")
    write_migration(tmp_path, "2025-01-16-b.py", up="raise RuntimeError('bad field')")
    marker_migration(tmp_path, "2025-01-17-c.py")

    with pytest.raises(OperationFailed) as failure:
        migrate(mongo_db, tmp_path)

    assert "migration 2025-01-16-b.py failed: RuntimeError: bad field" in str(failure.value)
    assert failure.value.exit_code == 1
    assert changelog(mongo_db) == [("2025-01-15-a.py", 1, "1.0.0")]
    assert items(mongo_db) == ["2025-01-15-a"]
    assert mongo_db[NAMES.lock].count_documents({}) == 0  # released in finally
    # Fixed, the next run applies the rest as a new batch.
    marker_migration(tmp_path, "2025-01-16-b.py")
    assert migrate(mongo_db, tmp_path) == ["2025-01-16-b.py", "2025-01-17-c.py"]


def test_a_file_that_fails_to_import_changes_nothing(mongo_db: Any, tmp_path: Path) -> None:
    marker_migration(tmp_path, "2025-01-15-a.py")
    write_migration(tmp_path, "2025-01-16-b.py", up="pass", header="import no_such_module_here\n")

    with pytest.raises(OperationFailed, match=r"2025-01-16-b\.py failed to import"):
        migrate(mongo_db, tmp_path)
    assert changelog(mongo_db) == [] and items(mongo_db) == []


def test_dry_run_lists_what_would_be_applied_and_undone_and_changes_nothing(mongo_db: Any, tmp_path: Path) -> None:
    marker_migration(tmp_path, "2025-01-15-a.py")
    migrate(mongo_db, tmp_path, "1.0.0")
    marker_migration(tmp_path, "2025-02-01-b.py")

    out = Recorder(dry=True)
    assert runner.migrate(mongo_db, discover(tmp_path), NAMES, out, "1.1.0") == ["2025-02-01-b.py"]
    assert out.lines == ["would apply 2025-02-01-b.py (batch 2, version 1.1.0)"]
    assert items(mongo_db) == ["2025-01-15-a"] and len(changelog(mongo_db)) == 1

    out = Recorder(dry=True)
    assert runner.rollback(mongo_db, discover(tmp_path), NAMES, out, plan.last_batch, "roll back") == [
        "2025-01-15-a.py"]
    assert out.lines == ["would undo 2025-01-15-a.py (batch 1, version 1.0.0)"]
    assert items(mongo_db) == ["2025-01-15-a"] and len(changelog(mongo_db)) == 1
    assert mongo_db[NAMES.lock].count_documents({}) == 0


def test_second_runner_is_refused_while_the_first_migrates_and_names_the_holder(
        mongo_client: Any, mongo_db: Any, tmp_path: Path) -> None:
    marker_migration(tmp_path, "2025-01-15-a.py")
    inside, finish = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def hold(db: Any, pending: Any) -> None:  # runs under the lock, before applying
        inside.set()
        assert finish.wait(10)

    def first() -> None:
        outcome["first"] = runner.migrate(mongo_db, discover(tmp_path), NAMES, Recorder(), "1.0.0",
                                          runner.LockInfo("staging", "alice@ci pid 1"), before=hold)

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(10)
    try:
        with pytest.raises(LockHeld) as refused:
            runner.migrate(mongo_db, discover(tmp_path), NAMES, Recorder(), "1.0.0",
                           runner.LockInfo("staging", "bob@laptop pid 2", "retail-deploy db.unlock --env staging"))
    finally:
        finish.set()
        thread.join(10)

    assert "locked by alice@ci pid 1" in str(refused.value) and "db.unlock --env staging" in str(refused.value)
    assert refused.value.exit_code == 4
    assert outcome["first"] == ["2025-01-15-a.py"] and items(mongo_db) == ["2025-01-15-a"]
    assert mongo_db[NAMES.lock].count_documents({}) == 0


def test_exactly_one_of_many_simultaneous_lockers_wins(mongo_db: Any) -> None:
    contenders = 8
    barrier = threading.Barrier(contenders)
    winners: list[str] = []
    losers: list[str] = []

    def contend(n: int) -> None:
        lock = MigrationLock(mongo_db["locks"], 60, holder=f"runner-{n}")
        barrier.wait()
        try:
            lock.acquire()
            winners.append(lock.holder)
        except LockHeld as error:
            losers.append(str(error))

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert len(winners) == 1 and len(losers) == contenders - 1
    assert all(f"locked by {winners[0]} " in message for message in losers)


def test_an_expired_lock_is_taken_over_and_release_leaves_a_newer_holder_alone(mongo_db: Any) -> None:
    from datetime import timedelta

    from retail_deploy.migrations.changelog import utcnow

    # A runner that crashed: its lock document stays until it expires.
    mongo_db["locks"].insert_one({"_id": LOCK_ID, "holder": "crashed", "token": "crashed-token",
                                  "acquired_at": utcnow() - timedelta(hours=1),
                                  "expires_at": utcnow() - timedelta(minutes=1)})
    fresh = MigrationLock(mongo_db["locks"], 60, holder="fresh")
    fresh.acquire()
    assert mongo_db["locks"].find_one({"_id": LOCK_ID})["holder"] == "fresh"

    # The crashed runner waking up and releasing must not remove the new holder's lock.
    ghost = MigrationLock(mongo_db["locks"], 60, holder="crashed")
    ghost.token, ghost.held = "crashed-token", True
    ghost.release()
    assert mongo_db["locks"].find_one({"_id": LOCK_ID})["holder"] == "fresh"
    fresh.release()
    assert mongo_db["locks"].count_documents({}) == 0


class FindThenDelete:
    """A lock collection whose `delete_one` runs as FerretDB runs it: a find, then a delete by `_id`,
    with `between()` (another runner) in the gap."""

    def __init__(self, collection: Any, between: Callable[[], None]):
        self.collection, self.between = collection, between

    def delete_one(self, query: dict[str, Any]) -> Any:
        found = self.collection.find_one(query)
        self.between()
        return self.collection.delete_one({"_id": found["_id"]} if found else query)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collection, name)


def test_an_expired_lock_is_taken_over_by_one_runner_even_where_delete_is_find_then_delete(
        mongo_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from retail_deploy.migrations import lock as lock_module
    from retail_deploy.migrations.changelog import utcnow

    monkeypatch.setattr(lock_module, "TAKEOVER_PAUSE", 0.01)
    locks = mongo_db["locks"]
    locks.insert_one({"_id": LOCK_ID, "holder": "crashed", "token": "crashed-token",
                      "acquired_at": utcnow() - timedelta(hours=1), "expires_at": utcnow() - timedelta(minutes=1)})
    first = MigrationLock(locks, 60, holder="first")
    outcomes: dict[str, str] = {}

    def first_runs_now() -> None:  # once: the first runner acquires inside the second one's delete
        if "first" not in outcomes:
            outcomes["first"] = "pending"
            try:
                first.acquire()
                outcomes["first"] = "holds"
            except LockHeld:
                outcomes["first"] = "refused"

    second = MigrationLock(FindThenDelete(locks, first_runs_now), 60, holder="second")
    try:
        second.acquire()
        outcomes["second"] = "holds"
    except LockHeld:
        outcomes["second"] = "refused"

    assert sorted(outcomes.values()) == ["holds", "refused"], outcomes
    holder = first if outcomes["first"] == "holds" else second
    assert locks.find_one({"_id": LOCK_ID})["token"] == holder.token
    first.release()
    second.release()
    assert locks.count_documents({}) == 0  # no takeover claim left behind


def test_a_runner_that_died_taking_over_an_expired_lock_is_cleared_by_unlock(
        mongo_db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from retail_deploy.migrations import lock as lock_module
    from retail_deploy.migrations.changelog import utcnow
    from retail_deploy.migrations.lock import break_lock

    monkeypatch.setattr(lock_module, "TAKEOVER_PAUSE", 0.01)
    locks = mongo_db["locks"]
    locks.insert_one({"_id": LOCK_ID, "holder": "crashed", "token": "crashed-token",
                      "acquired_at": utcnow() - timedelta(hours=1), "expires_at": utcnow() - timedelta(minutes=1)})
    locks.insert_one({"_id": f"{LOCK_ID}:takeover:crashed-token", "takeover_of": "crashed-token",
                      "holder": "died while taking over", "at": utcnow()})

    with pytest.raises(LockHeld, match="another runner is taking over this expired lock"):
        MigrationLock(locks, 60, holder="next").acquire()
    assert break_lock(locks)["holder"] == "crashed"
    assert locks.count_documents({}) == 0
    with MigrationLock(locks, 60, holder="next"):
        assert locks.find_one({"_id": LOCK_ID})["holder"] == "next"


def test_a_live_lock_is_not_taken_over(mongo_db: Any) -> None:
    first = MigrationLock(mongo_db["locks"], 60, holder="first")
    first.acquire()
    with pytest.raises(LockHeld, match=r"locked by first since .* \(expires "):
        MigrationLock(mongo_db["locks"], 60, holder="second").acquire()
    first.release()


def test_the_lock_is_kept_fresh_during_a_long_migration(mongo_db: Any, tmp_path: Path) -> None:
    import time

    marker_migration(tmp_path, "2025-01-15-a.py")
    seen: list[Any] = []

    def slow(db: Any, pending: Any) -> None:  # longer than the ttl: only the heartbeat keeps the lock
        first = db[NAMES.lock].find_one({"_id": LOCK_ID})["expires_at"]
        time.sleep(0.5)
        seen.extend([first, db[NAMES.lock].find_one({"_id": LOCK_ID})["expires_at"]])

    names = runner.Collections(lock_ttl=0.3)
    runner.migrate(mongo_db, discover(tmp_path), names, Recorder(), "1.0.0", before=slow)

    assert seen[1] > seen[0]


def test_a_runner_that_lost_its_lock_stops_after_the_current_migration(mongo_db: Any, tmp_path: Path) -> None:
    marker_migration(tmp_path, "2025-01-15-a.py")
    marker_migration(tmp_path, "2025-01-16-b.py")

    def stolen(db: Any, pending: Any) -> None:  # as if it expired and another runner took it
        db[NAMES.lock].update_one({"_id": LOCK_ID}, {"$set": {"token": "someone-else"}})

    with pytest.raises(OperationFailed, match=r"lost the migration lock .* after 2025-01-15-a\.py; stopped"):
        migrate(mongo_db, tmp_path, before=stolen)
    assert changelog(mongo_db) == [("2025-01-15-a.py", 1, "1.0.0")]
