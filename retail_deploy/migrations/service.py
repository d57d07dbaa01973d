"""Migrations of one environment, from the platform config: what tasks and other chapters call.

Each function resolves the environment's database (config + the URI variable), opens one client
through `retail_deploy.migrations.connect` (the seam tests replace), and closes it afterwards.
The connection string is registered as a secret at once, so no output can show it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from retail_deploy import redact
from retail_deploy.errors import InputError, OperationFailed
from retail_deploy.migrations import backups, plan, runner, template
from retail_deploy.migrations import settings as section
from retail_deploy.migrations.connection import redact_uri, uri_database, uri_secrets
from retail_deploy.migrations.discovery import MigrationFile, discover
from retail_deploy.migrations.lock import break_lock, default_holder

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.migrations.connection import MongoDatabase

    # An environment by name, or the foundation's EnvironmentConfig; None asks for --env.
    Env: TypeAlias = str | EnvironmentConfig | None


def _name(env: Env) -> str | None:
    # None stays None: cfg.environment(None) then asks for --env (exit 2).
    return env if env is None or isinstance(env, str) else env.name


@dataclass(frozen=True)
class Target:
    """One environment's migration database."""

    environment: str
    settings: section.MigrationSettings
    place: section.EnvironmentDatabase
    uri: str
    database: str

    @property
    def where(self) -> str:
        """For messages: `staging (mongodb://user:***@db:27017/retail)`."""
        shown = redact_uri(self.uri)
        if not uri_database(self.uri):
            shown = shown.rstrip("/") + "/" + self.database
        return f"{self.environment} ({shown})"

    @property
    def collections(self) -> runner.Collections:
        s = self.settings
        return runner.Collections(s.changelog_collection, s.lock_collection, s.lock_ttl)

    def lock_info(self, what: str) -> runner.LockInfo:
        return runner.LockInfo(self.where, f"{default_holder()} ({what})",
                               f"retail-deploy db.unlock --env {self.environment}")

    def backup_target(self) -> backups.BackupTarget:
        s = self.settings
        return backups.BackupTarget(self.environment, self.database, self.uri, s.backup_dir, s.backup_method,
                                    s.changelog_collection, s.lock_collection)


def target(cfg: PlatformConfig, env: Env, environ: Mapping[str, str] | None = None) -> Target:
    """Resolve where `env`'s migrations run; InputError (exit 2) if the URI variable is unset."""
    env = _name(env)
    environ = os.environ if environ is None else environ
    config, place = section.environment_database(cfg, env)
    uri = environ.get(place.uri_env, "").strip()
    if not uri:
        raise InputError(f"{place.uri_env} is not set: export the MongoDB connection string for {env} "
                         f"(migrations.uri_env in the platform config names the variable)")
    if not uri.startswith(("mongodb://", "mongodb+srv://")):
        raise InputError(f"{place.uri_env} is not a MongoDB connection string (expected mongodb://...)")
    redact.register(*uri_secrets(uri))
    return Target(place.environment, config, place, uri, uri_database(uri) or place.database)


@contextmanager
def database(where: Target) -> Iterator[MongoDatabase]:
    """An open database of `where`; driver errors become one redacted line (exit 1)."""
    from pymongo.errors import PyMongoError

    import retail_deploy.migrations as package

    try:
        client = package.connect(where.uri, where.settings.server_timeout)
    except PyMongoError as error:  # e.g. an invalid URI
        raise _driver_failure(where, error) from error
    try:
        yield client[where.database]
    except PyMongoError as error:
        raise _driver_failure(where, error) from error
    finally:
        client.close()


class DriverFailure(OperationFailed):
    """The database could not be read or written (the driver's error, one redacted line)."""


def _driver_failure(where: Target, error: Exception) -> OperationFailed:
    # Server selection errors carry a long topology dump: the first sentence says enough.
    detail = redact.redact(str(error)).split(", Timeout:")[0][:300]
    return DriverFailure(f"MongoDB of {where.where}: {type(error).__name__}: {detail}; "
                           f"check {where.place.uri_env} and that the server is reachable")


def files(where: Target) -> list[MigrationFile]:
    return discover(where.settings.directory)


# -- what tasks call -----------------------------------------------------------------------------

def status(cfg: PlatformConfig, env: Env) -> tuple[Target, plan.Status]:
    env = _name(env)
    where = target(cfg, env)
    found = files(where)
    with database(where) as db:
        return where, runner.status(db, found, where.collections)


def format_status(current: plan.Status) -> str:
    """The table `db.status` prints: one line per migration, applied first."""
    lines = []
    for entry in current.applied:
        r = entry.record
        mark = {"ok": "applied", "edited": "EDITED ", "missing": "MISSING"}[entry.state]
        note = "" if r.reversible else "  (irreversible)"
        lines.append(f"{mark}  {r.name}  batch {r.batch}  version {r.version or '-'}  "
                     f"{r.applied_at:%Y-%m-%d %H:%M:%S} UTC{note}")
    for migration in current.pending:
        note = "" if migration.reversible else "  (irreversible)"
        lines.append(f"pending  {migration.name}{note}")
    if not lines:
        lines.append("no migrations")
    lines.append(f"{len(current.applied)} applied, {len(current.pending)} pending")
    return "\n".join(lines)


def migrate(cfg: PlatformConfig, env: Env, out: backups.Runner, version: str | None = None, take_backup: bool | None = None) -> list[str]:
    """Apply the pending migrations as one batch, after a backup on staging/production.

    `take_backup`: None follows `migrations.backup_before`; True/False forces it.
    """
    env = _name(env)
    from retail_deploy import validate

    if version is not None:
        version = validate.version(version)
    where = target(cfg, env)
    found = files(where)
    before = _backup_first(where, out, take_backup)
    out.say(f"migrations of {where.where}")
    if version is None:
        out.say("warning: no --version given: db.rollback --to-version cannot place this batch")
    try:
        with database(where) as db:
            return runner.migrate(db, found, where.collections, out, version, where.lock_info(f"db.migrate {env}"),
                                  before=before)
    except DriverFailure as error:
        if not out.dry:
            raise
        _unread(where, out, error, take_backup, found, "every migration file is pending")
        for migration in found:
            out.say(f"would apply {migration.name} (version {version or 'unknown'})")
        return [m.name for m in found]


def _unread(where: Target, out: backups.Runner, error: DriverFailure, take_backup: bool | None,
            files_: list[MigrationFile], assumption: str) -> None:
    """A dry run whose database did not answer: the assumption, and the backup a real run takes first."""
    out.say(f"assuming {assumption}: the database could not be read ({error})")
    if where.place.backup if take_backup is None else take_backup:
        declared = sorted({c for m in files_ for c in m.collections})
        out.say(f"would back up {where.database} first ({', '.join(declared) or 'every collection'})")


def _backup_first(where: Target, out: backups.Runner, take_backup: bool | None
                  ) -> Callable[[MongoDatabase, list[MigrationFile]], None]:
    """The hook the runner calls under the lock before changing data: a backup of what the
    migrations about to run declare, on the environments that back up (`take_backup` forces it)."""
    wanted = where.place.backup if take_backup is None else take_backup

    def before(db: MongoDatabase, about_to_run: list[MigrationFile]) -> None:
        if wanted:
            declared = sorted({c for m in about_to_run for c in m.collections})
            backups.backup(db, where.backup_target(), declared, out)

    return before


def verify(cfg: PlatformConfig, env: Env, out: backups.Runner, allow_pending: bool = False) -> int:
    """Check that everything is applied, unedited and passes its verify(); returns how many were checked.

    `allow_pending`: only check what is applied (the data integrity check after a rollback)."""
    env = _name(env)
    where = target(cfg, env)
    found = files(where)
    with database(where) as db:
        problems = runner.verify(db, found, where.collections, out, allow_pending)
        checked = len(runner.status(db, found, where.collections).applied)
    for problem in problems:
        out.say(f"problem: {problem}")
    if problems:
        more = f" (and {len(problems) - 1} more above)" if len(problems) > 1 else ""
        raise OperationFailed(f"migrations of {where.where} do not verify: {problems[0]}{more}")
    out.say(f"{checked} migration(s) applied and verified on {where.where}")
    return checked


def rollback(cfg: PlatformConfig, env: Env, out: backups.Runner, take_backup: bool | None = None) -> list[str]:
    """Undo the last batch (after a backup on staging/production: down() changes data too)."""
    env = _name(env)
    where = target(cfg, env)
    found = files(where)
    try:
        with database(where) as db:
            return runner.rollback(db, found, where.collections, out, plan.last_batch,
                                   "roll back the last batch", where.lock_info(f"db.rollback {env}"),
                                   before=_backup_first(where, out, take_backup))
    except DriverFailure as error:
        if not out.dry:
            raise
        _unread(where, out, error, take_backup, found, "a last batch to undo")
        out.say("would undo the last batch's migrations, newest first (down()), under the migration lock")
        return []


def rollback_to_version(cfg: PlatformConfig, env: Env, version: str, out: backups.Runner, take_backup: bool | None = None) -> list[str]:
    """Undo every migration applied after application version `version` (newest first).

    For `rollback.db --env E --to-version V` and `db.rollback --to-version V`. Refuses, before
    undoing anything, if one of them is irreversible (OperationFailed, exit 1).
    """
    env = _name(env)
    from retail_deploy import validate

    version = validate.version(version)
    where = target(cfg, env)
    found = files(where)
    try:
        with database(where) as db:
            return runner.rollback(db, found, where.collections, out,
                                   lambda applied: plan.after_version(applied, version),
                                   f"roll back to version {version}", where.lock_info(f"db.rollback {env} {version}"),
                                   before=_backup_first(where, out, take_backup))
    except DriverFailure as error:
        if not out.dry:
            raise
        _unread(where, out, error, take_backup, found, f"migrations applied after {version}")
        out.say(f"would undo every migration applied after version {version}, newest first (down()), "
                "refusing first if one is irreversible")
        return []


def backup(cfg: PlatformConfig, env: Env, out: backups.Runner) -> Path:
    """Back up now: mongodump, else an export of the collections the migrations declare
    (the pending ones', or every migration's when nothing is pending)."""
    env = _name(env)
    where = target(cfg, env)
    found = files(where)
    with database(where) as db:
        current = runner.status(db, found, where.collections)
        chosen = list(current.pending) or found
        declared = sorted({c for m in chosen for c in m.collections})
        return backups.backup(db, where.backup_target(), declared, out)


def restore(cfg: PlatformConfig, env: Env, out: backups.Runner, folder: str | None = None) -> Path:
    """Restore `folder` (default: the newest backup of `env`), holding the migration lock."""
    env = _name(env)
    where = target(cfg, env)
    chosen = Path(folder) if folder else None
    with database(where) as db:
        if out.dry:
            return backups.restore(db, where.backup_target(), chosen, out)
        with runner.lock(db, where.collections, where.lock_info(f"db.restore {env}")):
            return backups.restore(db, where.backup_target(), chosen, out)


def unlock(cfg: PlatformConfig, env: Env, out: backups.Runner) -> str | None:
    """Remove a stale lock (its runner died); returns who held it."""
    env = _name(env)
    where = target(cfg, env)
    with database(where) as db:
        if out.dry:
            out.say(f"would remove the migration lock of {where.where}")
            return None
        removed = break_lock(db[where.settings.lock_collection])
    holder = removed.get("holder") if removed else None
    out.say(f"removed the lock held by {holder}" if holder else f"{where.where} was not locked")
    return holder


def create(cfg: PlatformConfig, name: str, *, dry: bool = False) -> Path:
    """Write a new migration from the template; with `dry`, the path it would write (nothing written)."""
    return template.create(section.from_config(cfg).directory, name, dry=dry)


# -- for other chapters --------------------------------------------------------------------------

def pending_migrations(cfg: PlatformConfig, env: Env) -> list[str]:
    """Names of the migrations not yet applied to `env` (for the pre-deploy checklist)."""
    env = _name(env)
    _, current = status(cfg, env)
    return [m.name for m in current.pending]


def irreversible_since(cfg: PlatformConfig, env: Env, version: str) -> list[str]:
    """Applied migrations that rolling back to `version` would have to undo but cannot
    (for the application rollback's warning that the data will not go back)."""
    env = _name(env)
    where = target(cfg, env)
    reversible = {f.name: f.reversible for f in files(where)}
    with database(where) as db:
        applied = runner.status(db, [], where.collections).applied
    records = [a.record for a in applied]
    try:
        undone = plan.after_version(records, version)
    except InputError:
        undone = records  # cannot place the version: warn about every irreversible one, never fewer
    return [r.name for r in reversed(undone) if not reversible.get(r.name, False)]
