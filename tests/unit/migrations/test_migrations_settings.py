"""The `migrations:` config section: defaults, per-environment overrides, errors naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from retail_deploy.config import load_config
from retail_deploy.errors import ConfigError
from retail_deploy.migrations import settings

BASE = """\
version: 1
services:
  backend: {image: retail-backend}
environments:
  staging: {namespace: staging}
  production:
    namespace: production
    migrations: {uri_env: PROD_MONGODB_URI, database: retail_prod, backup: false}
"""


def load(tmp_path: Path, section: str = "") -> object:
    path = tmp_path / "conf" / "platform.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(BASE + section)
    return load_config(path, environ={})


def test_defaults_and_paths_relative_to_the_config_file(tmp_path: Path) -> None:
    cfg = load(tmp_path)
    section, staging = settings.environment_database(cfg, "staging")
    assert section.directory == (tmp_path / "conf" / "migrations").resolve()
    assert (section.changelog_collection, section.lock_collection, section.lock_ttl) == (
        "migrations_changelog", "migrations_lock", 900.0)
    assert staging == settings.EnvironmentDatabase("staging", "MONGODB_URI", "retail", True)


def test_environment_overrides(tmp_path: Path) -> None:
    cfg = load(tmp_path, "migrations:\n  directory: ../db/migrations\n  lock_ttl: 30s\n  backup_before: []\n")
    section, production = settings.environment_database(cfg, "production")
    assert section.directory == (tmp_path / "db" / "migrations").resolve() and section.lock_ttl == 30.0
    assert production == settings.EnvironmentDatabase("production", "PROD_MONGODB_URI", "retail_prod", False)
    assert settings.environment_database(cfg, "staging")[1].backup is False


@pytest.mark.parametrize(("section", "where"), [
    ("migrations:\n  backup_method: tape\n", r"platform\.yaml:10: migrations\.backup_method: 'tape' is not one of"),
    ("migrations:\n  lock_tll: 5m\n", r"platform\.yaml:10: migrations\.lock_tll: unknown key"),
    ("migrations:\n  lock_ttl: soon\n", r"platform\.yaml:10: migrations\.lock_ttl"),
    ("migrations:\n  lock_ttl: 0s\n", r"platform\.yaml:10: migrations\.lock_ttl: must be longer than zero"),
])
def test_bad_values_name_file_line_and_key(tmp_path: Path, section: str, where: str) -> None:
    cfg = load(tmp_path, section)
    with pytest.raises(ConfigError, match=where):
        settings.from_config(cfg)


def test_unknown_key_in_an_environment_override_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    path.write_text(BASE.replace("backup: false", "bakup: false"))
    with pytest.raises(ConfigError, match=r"platform\.yaml:8: environments\.production\.migrations\.bakup"):
        settings.environment_database(load_config(path, environ={}), "production")
