"""Migration files: find them, hash them, load them.

A migration is a Python file in the configured folder, named so that sorting the names gives
the order to apply them (`2025-01-15-add-user-preferences.py`). It defines `up(db)`, and
usually `down(db)`, `verify(db)` and `collections = [...]` (what a fallback backup exports).
A migration whose `down` is missing, or whose `down` starts by raising `Irreversible`, or that
sets `irreversible = True`, cannot be undone: rollbacks refuse to pass it.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from retail_deploy.errors import InputError, OperationFailed

if TYPE_CHECKING:
    from retail_deploy.migrations.connection import MongoDatabase

# Files starting with "_" or "." are helpers, not migrations.
_MIGRATION_NAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*\.py$")


class Irreversible(Exception):  # noqa: N818 - the name reads well in migration files: raise Irreversible
    """Raised by a migration's `down` when the change cannot be undone."""


@dataclass(frozen=True)
class MigrationFile:
    """One migration file as found on disk (not yet imported)."""

    name: str          # file name, the migration's identity in the changelog
    path: Path
    sha256: str        # of the file's bytes: an edit after applying is detected by `verify`
    reversible: bool   # decided from the source, without running anything
    collections: tuple[str, ...]


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def discover(directory: Path) -> list[MigrationFile]:
    """The migration files of `directory`, in the order they are applied."""
    if not directory.is_dir():
        raise InputError(f"migrations folder {directory} does not exist: create it with `db.create NAME` "
                         f"or set migrations.directory in the platform config")
    found = []
    for path in sorted(directory.iterdir(), key=lambda p: p.name):
        if path.is_file() and _MIGRATION_NAME.match(path.name):
            found.append(inspect_file(path))
    return found


def inspect_file(path: Path) -> MigrationFile:
    """Read a migration's declared facts from its source (no import, no side effects)."""
    source = path.read_bytes()
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as error:
        raise InputError(f"migration {path.name} has a syntax error at line {error.lineno}: {error.msg}") from None
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    if "up" not in functions:
        raise InputError(f"migration {path.name} defines no up(db) function: every migration needs one")
    flags = _module_constants(tree)
    reversible = ("down" in functions and not _raises_irreversible_first(functions["down"])
                  and flags.get("irreversible") is not True)
    collections = flags.get("collections") or ()
    if not isinstance(collections, list | tuple) or not all(isinstance(c, str) for c in collections):
        raise InputError(f"migration {path.name}: `collections` must be a list of collection names")
    return MigrationFile(path.name, path, hashlib.sha256(source).hexdigest(), reversible, tuple(collections))


def _module_constants(tree: ast.Module) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError:
                continue
    return values


def _raises_irreversible_first(function: ast.FunctionDef) -> bool:
    """True when `down` does nothing but raise Irreversible (after an optional docstring)."""
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    raised = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    name = raised.attr if isinstance(raised, ast.Attribute) else getattr(raised, "id", "")
    return name == "Irreversible"


@dataclass(frozen=True)
class LoadedMigration:
    """A migration imported for running: its functions (down/verify may be absent)."""

    file: MigrationFile
    up: Callable[[MongoDatabase], object]
    down: Callable[[MongoDatabase], object] | None
    verify: Callable[[MongoDatabase], object] | None  # False means the data does not verify


def load(migration: MigrationFile) -> LoadedMigration:
    """Import the file as a fresh module (never cached: a file may change between runs)."""
    module_name = "retail_deploy_migration_" + re.sub(r"\W", "_", migration.path.stem)
    spec = importlib.util.spec_from_file_location(module_name, migration.path)
    if spec is None or spec.loader is None:
        raise InputError(f"migration {migration.name} cannot be loaded from {migration.path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # an import-time failure in user code: name the file
        raise OperationFailed(f"migration {migration.name} failed to import: "
                              f"{type(error).__name__}: {error}") from error
    return LoadedMigration(migration, _function(module, "up", migration),
                           _optional(module, "down"), _optional(module, "verify"))


def _function(module: ModuleType, name: str, migration: MigrationFile) -> Callable[[MongoDatabase], object]:
    function: object = getattr(module, name, None)
    if not callable(function):
        raise InputError(f"migration {migration.name}: {name} is not a function")
    return function


def _optional(module: ModuleType, name: str) -> Callable[[MongoDatabase], object] | None:
    function: object = getattr(module, name, None)
    return function if callable(function) else None
