"""The runbook's example migration, in Python: up -> down -> up leaves the same documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mongomock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retail_deploy.migrations.discovery import inspect_file, load
from tests.migrations_support import mongo_client, mongo_db

__all__ = ["mongo_client", "mongo_db"]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples/retail-platform/migrations/2025-01-15-add-user-preferences.py"
MIGRATION = load(inspect_file(EXAMPLE))

preferences = st.fixed_dictionaries({}, optional={"newsletter": st.booleans(), "notifications": st.booleans(),
                                                  "language": st.sampled_from(["en", "fr"])})
users = st.lists(st.fixed_dictionaries({"name": st.text(max_size=5)}, optional={"preferences": preferences}),
                 max_size=6)


def snapshot(db: Any) -> list[dict[str, Any]]:
    return list(db.users.find({}).sort("_id", 1))


def test_example_is_reversible_and_declares_its_collection() -> None:
    found = inspect_file(EXAMPLE)
    assert found.reversible and found.collections == ("users",)


def test_up_adds_defaults_only_where_missing_and_down_removes_only_those(mongo_db: Any) -> None:
    mongo_db.users.insert_many([{"_id": 1, "name": "ann"},
                                {"_id": 2, "name": "bob", "preferences": {"newsletter": False}}])
    MIGRATION.up(mongo_db)
    assert snapshot(mongo_db) == [
        {"_id": 1, "name": "ann", "preferences": {"newsletter": True, "notifications": True}},
        {"_id": 2, "name": "bob", "preferences": {"newsletter": False}}]
    MIGRATION.verify(mongo_db)  # type: ignore[misc]

    MIGRATION.down(mongo_db)  # type: ignore[misc]
    assert snapshot(mongo_db) == [{"_id": 1, "name": "ann"},
                                  {"_id": 2, "name": "bob", "preferences": {"newsletter": False}}]


def test_up_down_up_on_a_server_leaves_the_same_documents(mongo_db: Any) -> None:
    mongo_db.users.insert_many([{"_id": n, "name": f"u{n}"} for n in range(5)]
                               + [{"_id": 9, "preferences": {"newsletter": True, "notifications": True}}])
    MIGRATION.up(mongo_db)
    after_up = snapshot(mongo_db)
    MIGRATION.down(mongo_db)  # type: ignore[misc]
    MIGRATION.up(mongo_db)
    assert snapshot(mongo_db) == after_up


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(users)
def test_up_down_up_leaves_the_same_documents_for_any_users(docs: list[dict[str, Any]]) -> None:
    db = mongomock.MongoClient().db
    if docs:
        db.users.insert_many([dict(doc, _id=n) for n, doc in enumerate(docs)])
    MIGRATION.up(db)
    after_up = snapshot(db)
    MIGRATION.down(db)  # type: ignore[misc]
    MIGRATION.up(db)
    assert snapshot(db) == after_up
