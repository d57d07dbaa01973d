"""The changelog collection: one document per applied migration.

`_id` is the file name, so a migration can never be recorded twice. Each record keeps the
applied time, the batch (all migrations applied by one `db.migrate`), the file's hash (to detect
edits) and the application version being deployed (so `--to-version` knows what to undo).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retail_deploy.migrations.connection import MongoCollection


def utcnow() -> datetime:
    """Naive UTC, the form both pymongo (tz_aware=False) and mongomock store and return."""
    now = datetime.now(UTC)
    # BSON dates have millisecond precision: round here so a stored value reads back equal.
    return now.replace(tzinfo=None, microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class AppliedMigration:
    name: str
    applied_at: datetime
    batch: int
    sha256: str
    version: str | None
    reversible: bool
    # Position inside the batch, so records keep the order they were applied in.
    order: int = 0

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> AppliedMigration:
        return cls(name=doc["_id"], applied_at=doc["applied_at"], batch=int(doc["batch"]),
                   sha256=doc.get("sha256", ""), version=doc.get("version"),
                   reversible=bool(doc.get("reversible", True)), order=int(doc.get("order", 0)))

    def to_document(self) -> dict[str, Any]:
        return {"_id": self.name, "applied_at": self.applied_at, "batch": self.batch, "sha256": self.sha256,
                "version": self.version, "reversible": self.reversible, "order": self.order}


class Changelog:
    """Reads and writes the changelog collection of one database."""

    def __init__(self, collection: MongoCollection):
        self.collection = collection

    def applied(self) -> list[AppliedMigration]:
        """Every applied migration, oldest first."""
        records = [AppliedMigration.from_document(doc) for doc in self.collection.find({})]
        return sorted(records, key=lambda r: (r.batch, r.order, r.name))

    def next_batch(self) -> int:
        applied = self.applied()
        return max((r.batch for r in applied), default=0) + 1

    def record(self, entry: AppliedMigration) -> None:
        self.collection.insert_one(entry.to_document())

    def remove(self, name: str) -> None:
        self.collection.delete_one({"_id": name})
