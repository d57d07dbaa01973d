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

    environments:
      production:
        migrations: {uri_env: PRODUCTION_MONGODB_URI, database: retail, backup: true}   # overrides
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retail_deploy.config import PlatformConfig
    from retail_deploy.yamlnode import Node

_KEYS = {"directory", "database", "uri_env", "changelog_collection", "lock_collection", "lock_ttl",
         "server_timeout", "backup_dir", "backup_method", "backup_before"}
_ENV_KEYS = {"uri_env", "database", "backup"}
BACKUP_METHODS = ("auto", "mongodump", "export")


@dataclass(frozen=True)
class EnvironmentDatabase:
    """Where one environment's migrations run, and whether `db.migrate` backs up first."""

    environment: str
    uri_env: str
    database: str
    backup: bool


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

    def for_environment(self, name: str, overrides: Node | None = None) -> EnvironmentDatabase:
        """`overrides`: the environment's own `migrations:` Node (uri_env, database, backup)."""
        backup = name in self.backup_before
        if overrides is None:
            return EnvironmentDatabase(name, self.uri_env, self.database, backup)
        overrides.unknown_keys(_ENV_KEYS)
        return EnvironmentDatabase(name, overrides.str("uri_env", self.uri_env),
                                   overrides.str("database", self.database), overrides.bool("backup", backup))


def parse(node: Node, base_dir: Path) -> MigrationSettings:
    """Read the section (a config Node); errors name file, line and key."""
    node.unknown_keys(_KEYS)
    lock_ttl = node.duration("lock_ttl", "15m")
    if lock_ttl <= 0:
        raise node.require("lock_ttl").error("must be longer than zero")
    return MigrationSettings(
        directory=(base_dir / node.str("directory", "migrations")).resolve(),
        database=node.str("database", "retail"),
        uri_env=node.str("uri_env", "MONGODB_URI"),
        changelog_collection=node.str("changelog_collection", "migrations_changelog"),
        lock_collection=node.str("lock_collection", "migrations_lock"),
        lock_ttl=lock_ttl,
        server_timeout=node.duration("server_timeout", "10s"),
        backup_dir=(base_dir / node.str("backup_dir", "backups/migrations")).resolve(),
        backup_method=node.choice("backup_method", BACKUP_METHODS, "auto"),
        backup_before=tuple(node.str_list("backup_before", ("staging", "production"))),
    )


def from_config(cfg: PlatformConfig) -> MigrationSettings:
    return parse(cfg.section("migrations"), cfg.base_dir)


def environment_database(cfg: PlatformConfig, env: str | None) -> tuple[MigrationSettings, EnvironmentDatabase]:
    """The section and `env`'s place in it; an unknown (or no) environment is refused (InputError)."""
    environment = cfg.environment(env)
    config = from_config(cfg)
    return config, config.for_environment(environment.name, environment.raw.section("migrations"))


def validate_section(cfg: PlatformConfig) -> None:
    """For `config.validate`: the `migrations:` section and every environment's own `migrations:`."""
    settings = from_config(cfg)
    for environment in cfg.environments.values():
        settings.for_environment(environment.name, environment.raw.section("migrations"))
