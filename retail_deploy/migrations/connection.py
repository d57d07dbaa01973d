"""Connecting to MongoDB, and showing where without showing credentials.

`connect` is the one place a client is made: tests replace `retail_deploy.migrations.connect`
with a factory returning a mongomock client, and the whole task path runs unchanged.

Types: the migration code is annotated with pymongo's own Database/Collection (`MongoDatabase`,
`MongoCollection`), not a Protocol: production always runs pymongo, mongomock duck-types that same
API in tests, and a Protocol would restate half of pymongo's signatures only to admit the stand-in.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.collection import Collection
    from pymongo.database import Database

    # Documents are arbitrary BSON: pymongo's own default document type.
    MongoDocument: TypeAlias = dict[str, Any]
    MongoDatabase: TypeAlias = Database[MongoDocument]
    MongoCollection: TypeAlias = Collection[MongoDocument]

_CREDENTIALS = re.compile(r"^(?P<scheme>mongodb(?:\+srv)?://)(?P<userinfo>[^@/]*)@")
_DATABASE = re.compile(r"^mongodb(?:\+srv)?://[^/]*/(?P<db>[^?/]+)")


def connect(uri: str, timeout: float) -> MongoClient[MongoDocument]:
    """A pymongo client for `uri` that gives up after `timeout` seconds without a server."""
    from pymongo import MongoClient

    return MongoClient(uri, serverSelectionTimeoutMS=int(timeout * 1000), connectTimeoutMS=int(timeout * 1000),
                       appname="retail-deploy")


def redact_uri(uri: str) -> str:
    """`mongodb://user:pass@host/db?x=y` -> `mongodb://user:***@host/db` (the query may hold secrets too)."""
    def mask(match: re.Match[str]) -> str:
        user = match["userinfo"].split(":", 1)[0]
        return f"{match['scheme']}{user}:***@" if user else f"{match['scheme']}***@"

    return _CREDENTIALS.sub(mask, uri.split("?", 1)[0])


def uri_database(uri: str) -> str | None:
    """The database named in the URI's path, if any (it wins over the configured default)."""
    match = _DATABASE.match(uri)
    return match["db"] if match else None


def uri_secrets(uri: str) -> list[str]:
    """The values to mask wherever they might appear: the whole URI and its password."""
    secrets = [uri]
    match = _CREDENTIALS.match(uri)
    if match and ":" in match["userinfo"]:
        secrets.append(match["userinfo"].split(":", 1)[1])
    return secrets
