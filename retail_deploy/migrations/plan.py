"""Pure decisions: what is pending, what is edited, what a rollback undoes.

Functions of the files on disk and the changelog records, with no database access, so every
rule here is tested without mocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retail_deploy.errors import InputError, OperationFailed
from retail_deploy.migrations.changelog import AppliedMigration
from retail_deploy.migrations.discovery import MigrationFile


@dataclass(frozen=True)
class AppliedState:
    record: AppliedMigration
    # "ok", "edited" (file changed after it was applied) or "missing" (file deleted).
    state: str


@dataclass(frozen=True)
class Status:
    applied: tuple[AppliedState, ...]
    pending: tuple[MigrationFile, ...]

    @property
    def problems(self) -> list[str]:
        found = [f"{a.record.name} was edited after it was applied (hash differs)"
                 for a in self.applied if a.state == "edited"]
        found += [f"{a.record.name} is recorded as applied but its file is missing"
                  for a in self.applied if a.state == "missing"]
        found += [f"{m.name} is not applied" for m in self.pending]
        return found


def compute_status(files: list[MigrationFile], applied: list[AppliedMigration]) -> Status:
    by_name = {f.name: f for f in files}
    done = {r.name for r in applied}
    states = []
    for record in applied:
        file = by_name.get(record.name)
        state = "missing" if file is None else ("ok" if file.sha256 == record.sha256 else "edited")
        states.append(AppliedState(record, state))
    return Status(tuple(states), tuple(f for f in files if f.name not in done))


def last_batch(applied: list[AppliedMigration]) -> list[AppliedMigration]:
    """The records of the most recent batch, newest first (the order to undo them)."""
    if not applied:
        return []
    batch = max(r.batch for r in applied)
    return _newest_first([r for r in applied if r.batch == batch])


def after_version(applied: list[AppliedMigration], version: str) -> list[AppliedMigration]:
    """The records applied after application version `version`, newest first.

    If migrations were applied while deploying `version`, everything in later batches is undone.
    If none were (that release had no migration), batches recorded with a higher version number
    are undone, which needs every recorded version to be comparable (dotted numbers).
    """
    if not applied:
        return []
    matching = [r.batch for r in applied if r.version == version]
    if matching:
        cut = max(matching)
        return _newest_first([r for r in applied if r.batch > cut])
    target = version_key(version)
    recorded = sorted({r.version or "(none)" for r in applied})
    if target is None or any(version_key(r.version) is None for r in applied):
        raise InputError(f"no migration was applied with version {version} and versions cannot be ordered "
                         f"(recorded: {', '.join(recorded)}): pass one of the recorded versions")
    return _newest_first([r for r in applied if version_key(r.version) > target])  # type: ignore[operator]


def version_key(version: str | None) -> tuple[int, ...] | None:
    """`1.4.2` -> (1, 4, 2); `v2.0` -> (2, 0); anything else (`latest`, `abc123`) -> None."""
    if not version:
        return None
    match = re.fullmatch(r"v?(\d+(?:\.\d+)*)(?:[-+].*)?", version)
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def check_reversible(targets: list[AppliedMigration], files: list[MigrationFile], what: str) -> None:
    """Refuse, before undoing anything, a rollback that would pass an irreversible migration."""
    by_name = {f.name: f for f in files}
    for record in targets:
        file = by_name.get(record.name)
        if file is None:
            raise OperationFailed(f"cannot {what}: migration {record.name} is applied but its file is missing, "
                                  f"so its down() cannot run; restore the file (or the database from a backup)")
        # The file decides, not the record: a down() added later (a fix) makes it reversible again.
        if not file.reversible:
            raise OperationFailed(f"cannot {what}: migration {record.name} is irreversible (no working down()); "
                                  f"nothing was undone; restore the database from a backup (db.restore) instead")


def _newest_first(records: list[AppliedMigration]) -> list[AppliedMigration]:
    return sorted(records, key=lambda r: (r.batch, r.order, r.name), reverse=True)
