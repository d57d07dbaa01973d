"""Backups before staging/production migrations, and restoring them.

With `mongodump` on PATH the whole database is dumped (and `mongorestore --drop` puts it back).
Without it, the collections the pending migrations declare (`collections = [...]`) and the
changelog are exported as canonical extended JSON through pymongo, one document per line, with
each collection's index definitions beside it; a restore replaces those collections' documents
and puts their indexes back as they were (a migration may have added, dropped or changed one).
Each backup folder has a `manifest.json` saying which method made it, so `db.restore` reverses it
the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from retail_deploy.commands import Command, mongo
from retail_deploy.errors import InputError, OperationFailed

if TYPE_CHECKING:
    from retail_deploy.migrations.connection import MongoCollection, MongoDatabase

MANIFEST = "manifest.json"


class Runner(Protocol):
    dry: bool

    def say(self, text: str) -> None: ...
    def run(self, command: Command) -> object: ...
    def action(self, equivalent: Command, fn: Callable[..., object], *args: object, **kwargs: object) -> object: ...


@dataclass(frozen=True)
class BackupTarget:
    environment: str
    database: str
    uri: str                      # secret: only ever written to a 0600 config file for the tools
    root: Path                    # backups of this environment go to root/environment/
    method: str = "auto"          # auto | mongodump | export
    changelog: str = "migrations_changelog"
    lock: str = "migrations_lock"
    timeout: float | None = None  # for mongodump/mongorestore

    def chosen_method(self) -> str:
        if self.method == "auto":
            return "mongodump" if shutil.which("mongodump") else "export"
        return self.method


def backup(db: MongoDatabase, target: BackupTarget, collections: list[str], runner: Runner) -> Path:
    """Take a backup; returns its folder (in a dry run, the folder it would create)."""
    method = target.chosen_method()
    folder = _new_folder(target, method)
    if method == "mongodump":
        dump_dir = folder / "dump"
        if runner.dry:
            runner.say("mongo-tools.yaml holds `uri: <the connection string>` (mode 0600, deleted afterwards)")
        with _tool_config(target, runner.dry) as config:
            runner.run(mongo.mongodump(config, str(dump_dir), _db_flag(target), target.timeout))
        _write_manifest(folder, target, method, [], runner.dry)
        return folder
    wanted = sorted(set(collections) | {target.changelog})
    if not runner.dry:
        folder.mkdir(parents=True)
    if not set(collections):
        runner.say("warning: no pending migration declares `collections = [...]`: "
                   "this backup holds only the changelog (install mongodump for a full dump)")
    for name in wanted:
        runner.action(mongo.mongoexport(target.database, name, str(folder / f"{name}.json")),
                      _export, db[name], folder / f"{name}.json")
    _write_manifest(folder, target, method, wanted, runner.dry)
    verb = "would be written" if runner.dry else "written"
    runner.say(f"backup of {', '.join(wanted)} {verb} to {folder}")
    return folder


def restore(db: MongoDatabase, target: BackupTarget, folder: Path | None, runner: Runner) -> Path:
    """Put the database back as the backup in `folder` (default: the newest one) recorded it."""
    folder = folder or latest(target)
    manifest = read_manifest(folder)
    if manifest.get("database") != target.database:
        raise InputError(f"backup {folder} is of database {manifest.get('database')}, not {target.database}: "
                         f"pick a backup of this environment")
    if manifest["method"] == "mongodump":
        with _tool_config(target, runner.dry) as config:
            runner.run(mongo.mongorestore(config, str(folder / "dump"), target.database, (target.lock,),
                                          target.timeout))
    else:
        for name in manifest["collections"]:
            runner.action(mongo.mongoimport(target.database, name, str(folder / f"{name}.json")),
                          _import, db[name], folder / f"{name}.json")
    runner.say(f"{'would restore' if runner.dry else 'restored'} {target.database} from {folder}")
    return folder


def latest(target: BackupTarget) -> Path:
    folders = sorted(p for p in (target.root / target.environment).glob("*") if (p / MANIFEST).is_file())
    if not folders:
        raise InputError(f"no backup of {target.environment} in {target.root / target.environment}: "
                         f"take one with db.backup, or pass --backup PATH")
    return folders[-1]


def read_manifest(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise InputError(f"{folder} is not a backup folder (see db.backup)")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{folder} is not a backup (no {MANIFEST})") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{folder / MANIFEST} is damaged: {error}") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{folder / MANIFEST} is damaged: not a JSON object")
    if manifest.get("method") not in ("mongodump", "export"):
        raise InputError(f"{folder / MANIFEST}: unknown backup method {manifest.get('method')!r}")
    return manifest


def _export(collection: MongoCollection, path: Path) -> int:
    from bson import json_util

    count = 0
    with path.open("w", encoding="utf-8") as out:
        for document in collection.find({}).sort("_id", 1):
            out.write(json_util.dumps(document, json_options=json_util.CANONICAL_JSON_OPTIONS) + "\n")
            count += 1
    indexes = [_index_spec(spec) for spec in collection.list_indexes() if spec["name"] != "_id_"]
    _indexes_file(path).parent.mkdir(exist_ok=True)
    _indexes_file(path).write_text(
        "".join(json_util.dumps(spec, json_options=json_util.CANONICAL_JSON_OPTIONS) + "\n" for spec in indexes),
        encoding="utf-8")
    return count


def _import(collection: MongoCollection, path: Path) -> int:
    from bson import json_util

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise OperationFailed(f"backup file {path} is missing: the backup is incomplete") from None
    documents = [json_util.loads(line) for line in lines if line.strip()]
    # A backup from before index definitions were exported has none: its restore keeps the indexes.
    wanted: dict[str, dict[str, Any]] | None = None
    if _indexes_file(path).is_file():
        specs = [json_util.loads(line) for line in _indexes_file(path).read_text(encoding="utf-8").splitlines()
                 if line.strip()]
        wanted = {spec["name"]: spec for spec in specs}
    # Indexes the backup does not have go first: one a migration added (say unique) may refuse the
    # documents of before it. Then the documents are replaced, then the missing indexes built.
    current = {spec["name"]: _index_spec(spec) for spec in collection.list_indexes() if spec["name"] != "_id_"}
    if wanted is not None:
        for name, spec in current.items():
            if wanted.get(name) != spec:
                collection.drop_index(name)
    collection.delete_many({})
    if documents:
        collection.insert_many(documents)
    if wanted is not None:
        for name, spec in wanted.items():
            if current.get(name) != spec:
                options = {k: v for k, v in spec.items() if k not in ("key", "name")}
                collection.create_index(list(spec["key"].items()), name=name, **options)
    return len(documents)


def _index_spec(spec: Mapping[str, object]) -> dict[str, Any]:
    """An index definition as listIndexes reports it, without what the server fills in (v, ns)."""
    return {k: v for k, v in dict(spec).items() if k not in ("v", "ns")}


def _indexes_file(documents_file: Path) -> Path:
    """`users.json` -> `indexes/users.json` (a folder apart: a collection may be named `users.indexes`)."""
    return documents_file.parent / "indexes" / documents_file.name


def _new_folder(target: BackupTarget, method: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = target.root / target.environment
    folder, n = base / stamp, 1
    while folder.exists():  # two backups in one second
        n += 1
        folder = base / f"{stamp}-{n}"
    return folder


def _write_manifest(folder: Path, target: BackupTarget, method: str, collections: list[str], dry: bool) -> None:
    if dry:
        return
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"environment": target.environment, "database": target.database, "method": method,
                "collections": collections, "created": datetime.now(UTC).isoformat(timespec="seconds")}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _db_flag(target: BackupTarget) -> str | None:
    from retail_deploy.migrations.connection import uri_database

    # The tools refuse --db together with a URI that names a database.
    return None if uri_database(target.uri) else target.database


@contextmanager
def _tool_config(target: BackupTarget, dry: bool) -> Iterator[str]:
    """A 0600 YAML file `uri: ...` for --config, removed afterwards (a dry run names a placeholder)."""
    if dry:
        yield "mongo-tools.yaml"
        return
    # (a dry run names a placeholder; the real file is private and short-lived)
    handle, path = tempfile.mkstemp(prefix="retail-deploy-mongo-", suffix=".yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(f"uri: {json.dumps(target.uri)}\n")  # a JSON string is a valid YAML scalar
        yield path
    finally:
        os.unlink(path)
