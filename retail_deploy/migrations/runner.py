"""Apply, undo and verify migrations against one database, under the lock.

Everything here takes an open database (pymongo or mongomock) and a reporter (the foundation's
`Runner`: `.dry`, `.say(text)`); connecting, configuration and backups are the caller's job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from retail_deploy.errors import OperationFailed
from retail_deploy.migrations import plan
from retail_deploy.migrations.changelog import AppliedMigration, Changelog, utcnow
from retail_deploy.migrations.discovery import Irreversible, LoadedMigration, MigrationFile, load
from retail_deploy.migrations.lock import MigrationLock

if TYPE_CHECKING:
    from retail_deploy.migrations.connection import MongoDatabase


class Reporter(Protocol):
    dry: bool

    def say(self, text: str) -> None: ...


@dataclass(frozen=True)
class Collections:
    """Where the runner keeps its own state in the target database."""

    changelog: str = "migrations_changelog"
    lock: str = "migrations_lock"
    lock_ttl: float = 900.0


@dataclass(frozen=True)
class LockInfo:
    """Who we are (shown to a runner that loses the race) and what to tell it."""

    where: str = ""
    holder: str | None = None
    unlock_hint: str = ""


def status(db: MongoDatabase, files: list[MigrationFile], names: Collections) -> plan.Status:
    return plan.compute_status(files, Changelog(db[names.changelog]).applied())


def lock(db: MongoDatabase, names: Collections, info: LockInfo = LockInfo()) -> MigrationLock:
    return MigrationLock(db[names.lock], names.lock_ttl, info.holder, info.where, info.unlock_hint)


def migrate(db: MongoDatabase, files: list[MigrationFile], names: Collections, reporter: Reporter,
            version: str | None = None, info: LockInfo = LockInfo(),
            before: Callable[[MongoDatabase, list[MigrationFile]], None] | None = None) -> list[str]:
    """Apply the pending migrations, in order, as one batch; returns their names.

    `before(db, pending)` runs under the lock once there is something to apply (the backup).

    A failure stops the batch: the migrations before it stay applied and recorded, the failing
    one is not recorded, the lock is released, and OperationFailed names the file.
    """
    changelog = Changelog(db[names.changelog])
    if reporter.dry:
        current = plan.compute_status(files, changelog.applied())
        _warn(current, reporter)
        batch = changelog.next_batch()
        if current.pending and before is not None:
            before(db, list(current.pending))
        for migration in current.pending:
            reporter.say(f"would apply {migration.name} (batch {batch}, version {version or 'unknown'})")
        if not current.pending:
            reporter.say("no pending migrations")
        return [m.name for m in current.pending]
    with lock(db, names, info) as held:
        # Read the changelog only once the lock is ours: another runner may just have finished.
        current = plan.compute_status(files, changelog.applied())
        _warn(current, reporter)
        if not current.pending:
            reporter.say("no pending migrations")
            return []
        loaded = [load(m) for m in current.pending]  # import all first: a broken file changes nothing
        if before is not None:
            before(db, list(current.pending))
        batch = changelog.next_batch()
        applied: list[str] = []
        for order, step in enumerate(loaded):
            reporter.say(f"applying {step.file.name} (batch {batch})")
            try:
                step.up(db)
            except Exception as error:
                kept = f"; {len(applied)} earlier migration(s) of batch {batch} stay applied" if applied else ""
                raise OperationFailed(
                    f"migration {step.file.name} failed: {type(error).__name__}: {error}{kept}; "
                    f"it was not recorded and any partial change it made stays: fix it and run db.migrate "
                    f"again (or db.restore the backup)") from error
            changelog.record(AppliedMigration(step.file.name, utcnow(), batch, step.file.sha256,
                                              version, step.file.reversible, order))
            applied.append(step.file.name)
            _still_held(held, applied)
        reporter.say(f"applied {len(applied)} migration(s) as batch {batch}")
        return applied


def rollback(db: MongoDatabase, files: list[MigrationFile], names: Collections, reporter: Reporter,
             select: Callable[[list[AppliedMigration]], list[AppliedMigration]], what: str,
             info: LockInfo = LockInfo(),
             before: Callable[[MongoDatabase, list[MigrationFile]], None] | None = None) -> list[str]:
    """Undo the migrations `select` picks from the changelog (newest first); returns their names.

    Refuses before undoing anything when one of them is irreversible or its file is gone.
    `before(db, files to undo)` runs under the lock once there is something to undo (the backup).
    """
    changelog = Changelog(db[names.changelog])
    if reporter.dry:
        targets = select(changelog.applied())
        plan.check_reversible(targets, files, what)
        by_name = {f.name: f for f in files}
        if targets and before is not None:
            before(db, [by_name[r.name] for r in targets])
        for record in targets:
            reporter.say(f"would undo {record.name} (batch {record.batch}, version {record.version or 'unknown'})")
        if not targets:
            reporter.say("nothing to undo")
        return [r.name for r in targets]
    with lock(db, names, info) as held:
        targets = select(changelog.applied())
        plan.check_reversible(targets, files, what)
        if not targets:
            reporter.say("nothing to undo")
            return []
        by_name = {f.name: f for f in files}
        loaded = [load(by_name[r.name]) for r in targets]
        if before is not None:
            before(db, [m.file for m in loaded])
        undone: list[str] = []
        for migration in loaded:
            reporter.say(f"undoing {migration.file.name}")
            _undo(db, migration, undone, what)
            changelog.remove(migration.file.name)
            undone.append(migration.file.name)
            _still_held(held, undone)
        reporter.say(f"undid {len(undone)} migration(s)")
        return undone


def _still_held(held: MigrationLock, done: list[str]) -> None:
    if not held.refresh():
        raise OperationFailed(f"lost the migration lock (it expired and another runner took it) after "
                              f"{', '.join(done)}; stopped; raise migrations.lock_ttl and check db.status")


def _undo(db: MongoDatabase, migration: LoadedMigration, undone: list[str], what: str) -> None:
    done = f"; already undone: {', '.join(undone)}" if undone else ""
    if migration.down is None:  # discovery marks these irreversible; a file swapped meanwhile lands here
        raise OperationFailed(f"cannot {what}: migration {migration.file.name} has no down(){done}")
    try:
        migration.down(db)
    except Irreversible as error:
        raise OperationFailed(f"cannot {what}: migration {migration.file.name} is irreversible ({error}); "
                              f"it stays applied{done}; restore the database from a backup (db.restore)") from error
    except Exception as error:
        raise OperationFailed(f"down() of migration {migration.file.name} failed: {type(error).__name__}: "
                              f"{error}; it stays recorded as applied{done}") from error


def verify(db: MongoDatabase, files: list[MigrationFile], names: Collections, reporter: Reporter,
           allow_pending: bool = False) -> list[str]:
    """Every problem found (empty when all is well): unapplied or edited files, failing verify().

    `allow_pending` accepts unapplied files (the integrity check after a database rollback).
    """
    current = plan.compute_status(files, Changelog(db[names.changelog]).applied())
    problems = current.problems
    if allow_pending:
        problems = [p for p in problems if not p.endswith(" is not applied")]
    by_name = {f.name: f for f in files}
    for entry in current.applied:
        if entry.state != "ok":
            continue
        migration = load(by_name[entry.record.name])
        if migration.verify is None:
            continue
        if reporter.dry:  # verify() is user code: a dry run does not run it
            reporter.say(f"would run verify() of {migration.file.name}")
            continue
        try:
            result = migration.verify(db)
        except Exception as error:
            problems.append(f"verify() of {migration.file.name} failed: {type(error).__name__}: {error}")
            continue
        if result is False:
            problems.append(f"verify() of {migration.file.name} returned False")
    return problems


def _warn(current: plan.Status, reporter: Reporter) -> None:
    for entry in current.applied:
        if entry.state == "edited":
            reporter.say(f"warning: {entry.record.name} was edited after it was applied (run db.verify)")
        elif entry.state == "missing":
            reporter.say(f"warning: {entry.record.name} is applied but its file is missing")
    if current.applied and current.pending:
        newest = max(a.record.name for a in current.applied)
        for migration in current.pending:
            if migration.name < newest:
                reporter.say(f"warning: {migration.name} sorts before already applied {newest}; applying it now")
