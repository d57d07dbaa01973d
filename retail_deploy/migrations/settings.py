"""The `migrations:` section of the platform config, as frozen dataclasses.

    migrations:
      directory: ../examples/retail-platform/migrations   # relative to the config file
      database: retail              # used when the URI names no database
      uri_env: MONGODB_URI          # the variable holding the connection string
      changelog_collection: migrations_changelog
      lock_collection: migrations_lock
      lock_ttl: 15m                 # a dead runner's lock expires after this
      server_timeout: 10s           # give up when no server answers
      backup_dir: ../backups/migrations
      backup_method: auto           # auto (mongodump if installed, else export) | mongodump | export
      backup_before: [staging, production]
      environments:                 # per-environment overrides
        production: {uri_env: MONGODB_URI, database: retail}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_KEYS = {"directory", "database", "uri_env", "changelog_collection", "lock_collection", "lock_ttl",
         "server_timeout", "backup_dir", "backup_method", "backup_before", "environments"}
BACKUP_METHODS = ("auto", "mongodump", "export")


@dataclass(frozen=True)
class EnvironmentDatabase:
    """Where one environment's migrations run."""

    environment: str
    uri_env: str
    database: str


@dataclass(frozen=True)
class MigrationSettings:
    directory: Path
    database: str = "retail"
    uri_env: str = "MONGODB_URI"
    changelog_collection: str = "migrations_changelog"
    lock_collection: str = "migrations_lock"
    lock_ttl: float = 900.0
    server_timeout: float = 10.0
    backup_dir: Path = Path("backups/migrations")
    backup_method: str = "auto"
    backup_before: tuple[str, ...] = ("staging", "production")
    environments: Mapping[str, EnvironmentDatabase] = field(default_factory=dict)

    def for_environment(self, name: str) -> EnvironmentDatabase:
        return self.environments.get(name) or EnvironmentDatabase(name, self.uri_env, self.database)


def parse(node: Any, base_dir: Path, environment_names: list[str] | None = None) -> MigrationSettings:
    """Read the section (a config Node); errors name file, line and key."""
    node.unknown_keys(_KEYS)
    uri_env = node.str("uri_env", "MONGODB_URI")
    database = node.str("database", "retail")
    overrides = {}
    for name, child in node.section("environments").items():
        if environment_names is not None and name not in environment_names:
            raise child.error(f"unknown environment (known: {', '.join(environment_names)})")
        child.unknown_keys({"uri_env", "database"})
        overrides[name] = EnvironmentDatabase(name, child.str("uri_env", uri_env), child.str("database", database))
    lock_ttl = node.duration("lock_ttl", "15m")
    if lock_ttl <= 0:
        raise node.require("lock_ttl").error("must be longer than zero")
    return MigrationSettings(
        directory=(base_dir / node.str("directory", "migrations")).resolve(),
        database=database,
        uri_env=uri_env,
        changelog_collection=node.str("changelog_collection", "migrations_changelog"),
        lock_collection=node.str("lock_collection", "migrations_lock"),
        lock_ttl=lock_ttl,
        server_timeout=node.duration("server_timeout", "10s"),
        backup_dir=(base_dir / node.str("backup_dir", "backups/migrations")).resolve(),
        backup_method=node.choice("backup_method", BACKUP_METHODS, "auto"),
        backup_before=tuple(node.str_list("backup_before", ("staging", "production"))),
        environments=overrides,
    )


def from_config(cfg: Any) -> MigrationSettings:
    return parse(cfg.section("migrations"), cfg.base_dir, list(cfg.environments))
