"""Fixtures and helpers for the migration tests.

`mongo_db` runs each test twice: on mongomock, and on the real MongoDB server named by
RETAIL_DEPLOY_TEST_MONGODB_URI (FerretDB from scripts/mongo-up.sh in CI, or any MongoDB). Without
the variable the server half skips, with that reason, except under CI=true, where it FAILS: the
real-server tests must run there (scripts/test.sh starts the server and sets the variable).
"""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import unavailable

SERVER_ENV = "RETAIL_DEPLOY_TEST_MONGODB_URI"


def _server() -> str:
    """RETAIL_DEPLOY_TEST_MONGODB_URI; without it the test skips (fails under CI=true)."""
    uri = os.environ.get(SERVER_ENV, "")
    if not uri:
        unavailable(f"no MongoDB server: set {SERVER_ENV} (scripts/mongo-up.sh prints one) "
                    f"to run this against a real one")
    return uri


def _client(kind: str) -> Any:
    if kind == "mongomock":
        import mongomock

        return mongomock.MongoClient()
    from pymongo import MongoClient

    return MongoClient(_server(), serverSelectionTimeoutMS=5000)


def server_uri(database: str) -> str:
    """The URI of the server of RETAIL_DEPLOY_TEST_MONGODB_URI with `database` as its path."""
    scheme, rest = _server().split("://", 1)
    hosts, _, tail = rest.partition("/")
    query = tail.partition("?")[2]
    return f"{scheme}://{hosts}/{database}" + (f"?{query}" if query else "")


@pytest.fixture
def server_db() -> Iterator[Any]:
    """A fresh database on the real server only (for what mongomock cannot show: other processes)."""
    client = _client("server")
    database = client[f"retail_deploy_test_{uuid.uuid4().hex[:10]}"]
    yield database
    client.drop_database(database.name)
    client.close()


@pytest.fixture(params=["mongomock", "server"])
def mongo_client(request: pytest.FixtureRequest) -> Iterator[Any]:
    client = _client(request.param)
    created: list[str] = []
    client.test_databases = created  # type: ignore[attr-defined]
    yield client
    for name in created:
        client.drop_database(name)
    client.close()


@pytest.fixture
def mongo_db(mongo_client: Any) -> Any:
    name = f"retail_deploy_test_{uuid.uuid4().hex[:10]}"
    mongo_client.test_databases.append(name)
    return mongo_client[name]


class Recorder:
    """The reporter side of the foundation's Runner (`dry`, `say`), keeping the lines for asserts."""

    def __init__(self, dry: bool = False):
        self.dry = dry
        self.lines: list[str] = []

    def say(self, text: str) -> None:
        self.lines.append(text)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def write_migration(directory: Path, name: str, up: str, down: str | None = "", verify: str | None = None,
                    header: str = "") -> Path:
    """A migration file: `up`/`down`/`verify` are function bodies (db is in scope); down=None omits it."""
    directory.mkdir(parents=True, exist_ok=True)
    parts = [textwrap.dedent(header), "def up(db):\n" + textwrap.indent(textwrap.dedent(up), "    ")]
    if down is not None:
        parts.append("def down(db):\n" + textwrap.indent(textwrap.dedent(down) or "pass", "    "))
    if verify is not None:
        parts.append("def verify(db):\n" + textwrap.indent(textwrap.dedent(verify), "    "))
    path = directory / name
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


def marker_migration(directory: Path, name: str, **kwargs: Any) -> Path:
    """A reversible migration that inserts a document named after itself into `items`."""
    key = name.removesuffix(".py")
    return write_migration(directory, name,
                           up=f"db.items.insert_one({{'_id': {key!r}}})",
                           down=f"db.items.delete_one({{'_id': {key!r}}})", **kwargs)


def items(db: Any) -> list[str]:
    return sorted(doc["_id"] for doc in db.items.find({}))
