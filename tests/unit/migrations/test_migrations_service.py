"""Migrations of an environment through the platform config and the CLI task path.

`retail_deploy.migrations.connect` is the seam: replaced here by a factory returning the test's
client (mongomock, or the real server of RETAIL_DEPLOY_TEST_MONGODB_URI), so `retail-deploy db.*`
runs exactly as in production down to the driver.
"""

from __future__ import annotations

import io
import json
import os
import stat
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from retail_deploy import migrations
from retail_deploy.errors import InputError, OperationFailed
from retail_deploy.execute import Runner
from retail_deploy.migrations.lock import LOCK_ID
from tests.migrations_support import marker_migration, mongo_client, write_migration

__all__ = ["mongo_client"]

PASSWORD = "s3cret-Pa55word"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples/retail-platform/migrations/2025-01-15-add-user-preferences.py"

CONFIG = """\
version: 1
services:
  backend: {image: retail-backend}
environments:
  development: {target: docker}
  staging: {namespace: staging}
  production:
    namespace: production
    confirm: true
    migrations: {uri_env: PRODUCTION_MONGODB_URI}
migrations:
  directory: migrations
  backup_dir: backups
  backup_method: export
  lock_ttl: 1m
"""


class Platform:
    def __init__(self, root: Path, client: Any, dbname: str):
        self.root = root
        self.client = client
        self.dbname = dbname
        self.uri = f"mongodb://app:{PASSWORD}@db.internal:27017/{dbname}"
        self.connected: list[tuple[str, float]] = []
        self.closed = 0
        self.config = root / "config" / "platform.yaml"
        self.migrations = root / "config" / "migrations"

    @property
    def db(self) -> Any:
        return self.client[self.dbname]

    def cfg(self) -> Any:
        from retail_deploy.config import load_config

        return load_config(self.config)

    def cli(self, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        """Run `retail-deploy ARGS` in this process; returns exit code and stdout+stderr."""
        from invoke import Program

        from retail_deploy.tasks import ns

        try:
            Program(namespace=ns, name="retail-deploy", binary="retail-deploy").run(["retail-deploy", *args])
            code = 0
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return code, captured.out + captured.err


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mongo_client: Any) -> Platform:
    (tmp_path / "config").mkdir()
    dbname = f"retail_deploy_test_{uuid.uuid4().hex[:10]}"
    mongo_client.test_databases += [dbname, dbname + "_prod"]
    client = mongo_client
    world = Platform(tmp_path, client, dbname)
    world.config.write_text(CONFIG)
    world.migrations.mkdir()
    (world.migrations / EXAMPLE.name).write_text(EXAMPLE.read_text())
    world.db.users.insert_many([{"_id": 1, "name": "ann"}, {"_id": 2, "name": "bob", "preferences": {"newsletter": False}}])

    class Borrowed:  # the library closes every client it opens; the fixture owns this one
        def __getitem__(self, name: str) -> Any:
            return client[name]

        def close(self) -> None:
            world.closed += 1

    def connect(uri: str, timeout: float) -> Any:
        world.connected.append((uri, timeout))
        return Borrowed()

    monkeypatch.setattr(migrations, "connect", connect)
    monkeypatch.setenv("MONGODB_URI", world.uri)
    monkeypatch.setenv("PRODUCTION_MONGODB_URI", world.uri + "_prod")
    monkeypatch.setenv("RETAIL_DEPLOY_CONFIG", str(world.config))
    return world


def runner(dry: bool = False) -> tuple[Runner, io.StringIO]:
    out = io.StringIO()
    return Runner(None, dry=dry, out=out), out


def users(db: Any) -> list[dict[str, Any]]:
    return list(db.users.find({}).sort("_id", 1))


def test_migrate_on_staging_backs_up_the_declared_collections_first(platform: Platform) -> None:
    before = users(platform.db)
    run, out = runner()

    applied = migrations.migrate(platform.cfg(), "staging", run, "1.4.2")

    assert applied == [EXAMPLE.name]
    assert platform.connected == [(platform.uri, 10.0)] and platform.closed == 1
    assert users(platform.db)[0]["preferences"] == {"newsletter": True, "notifications": True}
    [folder] = list((platform.root / "config" / "backups" / "staging").iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["method"] == "export" and manifest["collections"] == ["migrations_changelog", "users"]
    from bson import json_util

    exported = [json_util.loads(line) for line in (folder / "users.json").read_text().splitlines()]
    assert exported == before
    assert PASSWORD not in out.getvalue()


def test_development_migrates_without_backup_and_restore_puts_data_and_changelog_back(platform: Platform) -> None:
    before = users(platform.db)
    cfg = platform.cfg()
    migrations.migrate(cfg, "development", runner()[0], "1.4.2")
    assert not (platform.root / "config" / "backups").exists()

    migrations.backup(cfg, "development", runner()[0])  # nothing pending: every migration's collections
    platform.db.users.insert_one({"_id": 3, "name": "added later"})
    platform.db.users.delete_one({"_id": 1})
    migrations.restore(cfg, "development", runner()[0])

    assert [u["_id"] for u in users(platform.db)] == [1, 2]
    assert users(platform.db)[0]["preferences"] == {"newsletter": True, "notifications": True}
    migrations.rollback(cfg, "development", runner()[0])
    assert users(platform.db) == before


def test_restore_of_the_pre_migration_backup_makes_the_migration_pending_again(platform: Platform) -> None:
    cfg = platform.cfg()
    migrations.migrate(cfg, "staging", runner()[0], "1.4.2")
    assert migrations.pending_migrations(cfg, "staging") == []

    migrations.restore(cfg, "staging", runner()[0])

    assert "preferences" not in users(platform.db)[0]
    assert migrations.pending_migrations(cfg, "staging") == [EXAMPLE.name]
    assert platform.db.migrations_lock.count_documents({}) == 0


@pytest.mark.parametrize("text, reason", [
    ("[1, 2]", "is damaged: not a JSON object"),
    ('"export"', "is damaged: not a JSON object"),
    ("{not json", "is damaged: Expecting property name"),
    ('{"method": "zip"}', "unknown backup method 'zip'"),
])
def test_a_damaged_backup_manifest_is_refused_in_one_line(tmp_path: Path, text: str, reason: str) -> None:
    from retail_deploy.migrations import backups

    (tmp_path / "manifest.json").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=reason):
        backups.read_manifest(tmp_path)


def test_pending_and_irreversible_since_for_other_chapters(platform: Platform) -> None:
    cfg = platform.cfg()
    write_migration(platform.migrations, "2025-02-01-drop-legacy.py", up="db.legacy.drop()", down=None)
    assert migrations.pending_migrations(cfg, "staging") == [EXAMPLE.name, "2025-02-01-drop-legacy.py"]
    migrations.migrate(cfg, "staging", runner()[0], "1.4.2")
    marker_migration(platform.migrations, "2025-03-01-c.py")
    migrations.migrate(cfg, "staging", runner()[0], "1.5.0")

    assert migrations.irreversible_since(cfg, "staging", "1.4.2") == []
    # Other chapters may pass the EnvironmentConfig itself (the checklist does).
    assert migrations.irreversible_since(cfg, cfg.environment("staging"), "1.4.1") == ["2025-02-01-drop-legacy.py"]
    assert migrations.pending_migrations(cfg, cfg.environment("staging")) == []
    assert migrations.irreversible_since(cfg, "staging", "1.4.1") == ["2025-02-01-drop-legacy.py"]
    with pytest.raises(OperationFailed, match="drop-legacy.py is irreversible"):
        migrations.rollback_to_version(cfg, "staging", "1.4.1", runner()[0])
    assert migrations.rollback_to_version(cfg, "staging", "1.4.2", runner()[0]) == ["2025-03-01-c.py"]


def test_missing_connection_string_is_bad_input_naming_the_variable(platform: Platform,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODUCTION_MONGODB_URI")
    with pytest.raises(InputError, match="PRODUCTION_MONGODB_URI is not set"):
        migrations.pending_migrations(platform.cfg(), "production")
    with pytest.raises(InputError, match="unknown environment|not one of"):
        migrations.pending_migrations(platform.cfg(), "qa")
    assert platform.connected == []


def test_driver_errors_are_one_line_without_credentials(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    from pymongo.errors import ServerSelectionTimeoutError

    def unreachable(uri: str, timeout: float) -> Any:
        raise ServerSelectionTimeoutError(f"{uri}: [Errno 111] Connection refused, Timeout: 10s, Topology ...")

    monkeypatch.setattr(migrations, "connect", unreachable)
    with pytest.raises(OperationFailed) as failure:
        migrations.pending_migrations(platform.cfg(), "staging")
    message = str(failure.value)
    assert PASSWORD not in message and "Topology" not in message and "check MONGODB_URI" in message


def test_mongodump_gets_the_uri_in_a_private_file_never_in_argv(platform: Platform, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in for mongodump (not installed here) that records what it was given.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "mongodump.record"
    tool = bin_dir / "mongodump"
    tool.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        for arg in "$@"; do echo "arg $arg"; done > {record}
        config=$(printf '%s\\n' "$@" | sed -n 's/^--config=//p')
        stat -c 'mode %a' "$config" >> {record}
        cat "$config" >> {record}
        """))
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    platform.config.write_text(CONFIG.replace("backup_method: export", "backup_method: auto"))
    from invoke import Context

    out = io.StringIO()
    migrations.migrate(platform.cfg(), "staging", Runner(Context(), dry=False, out=out), "1.4.2")

    lines = record.read_text().splitlines()
    args = [line[4:] for line in lines if line.startswith("arg ")]
    assert args[0].startswith("--config=") and args[1:3] == ["--gzip", args[2]] and args[2].startswith("--out=")
    assert not any(PASSWORD in a for a in args)
    assert "mode 600" in lines and f'uri: "{platform.uri}"' in lines
    assert not Path(args[0].removeprefix("--config=")).exists()  # deleted afterwards
    assert "$ mongodump --config=" in out.getvalue() and PASSWORD not in out.getvalue()
    manifest = json.loads(next((platform.root / "config" / "backups" / "staging").glob("*/manifest.json")).read_text())
    assert manifest["method"] == "mongodump"


# -- the CLI task path ---------------------------------------------------------------------------

def test_cli_dry_run_prints_the_plan_and_changes_nothing(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    before = users(platform.db)
    code, output = platform.cli("--dry", "db.migrate", "--env", "staging", "--version", "1.4.2", capsys=capsys)

    assert code == 0, output
    assert f"# would apply {EXAMPLE.name} (batch 1, version 1.4.2)" in output
    assert f"$ mongoexport --db={platform.dbname} --collection=users" in output
    assert users(platform.db) == before and platform.db.migrations_changelog.count_documents({}) == 0
    assert not (platform.root / "config" / "backups").exists()
    assert PASSWORD not in output


def test_cli_status_migrate_verify_rollback(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = platform.cli("db.status", "--env", "staging", capsys=capsys)
    assert code == 0 and f"pending  {EXAMPLE.name}" in output and "0 applied, 1 pending" in output
    assert f"mongodb://app:***@db.internal:27017/{platform.dbname}" in output and PASSWORD not in output

    code, output = platform.cli("db.migrate", "--env", "staging", "--version", "1.4.2", capsys=capsys)
    assert code == 0, output
    code, output = platform.cli("db.status", "--env", "staging", capsys=capsys)
    assert f"applied  {EXAMPLE.name}  batch 1  version 1.4.2" in output

    code, output = platform.cli("db.verify", "--env", "staging", capsys=capsys)
    assert code == 0, output
    edited = platform.migrations / EXAMPLE.name
    edited.write_text(edited.read_text() + "# changed\n")
    code, output = platform.cli("db.verify", "--env", "staging", capsys=capsys)
    assert code == 1 and "was edited after it was applied" in output

    code, output = platform.cli("db.rollback", "--env", "staging", "--to-version", "1.4.1", capsys=capsys)
    assert code == 0, output
    assert platform.db.migrations_changelog.count_documents({}) == 0 and "preferences" not in users(platform.db)[0]


def test_cli_exit_codes_for_lock_bad_input_and_failure(platform: Platform, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from retail_deploy.migrations.changelog import utcnow

    platform.db.migrations_lock.insert_one({"_id": LOCK_ID, "holder": "carol@ci pid 7 (db.migrate staging)",
                                            "acquired_at": utcnow(),
                                            "expires_at": utcnow() + timedelta(minutes=5)})
    code, output = platform.cli("db.migrate", "--env", "staging", capsys=capsys)
    assert code == 4 and "locked by carol@ci pid 7" in output and "db.unlock --env staging" in output
    code, output = platform.cli("db.unlock", "--env", "staging", "--yes", capsys=capsys)
    assert code == 0 and "carol@ci" in output

    code, output = platform.cli("db.migrate", "--env", "production", capsys=capsys)  # no terminal, no --yes
    assert code == 2 and "--yes" in output
    code, output = platform.cli("db.migrate", "--env", "staging", "--version", "not a tag!", capsys=capsys)
    assert code == 2
    assert platform.db.migrations_changelog.count_documents({}) == 0

    write_migration(platform.migrations, "2025-02-01-broken.py", up="raise ValueError('boom')")
    code, output = platform.cli("db.migrate", "--env", "staging", capsys=capsys)
    assert code == 1 and "2025-02-01-broken.py failed: ValueError: boom" in output
    assert [d["_id"] for d in platform.db.migrations_changelog.find({})] == [EXAMPLE.name]

    monkeypatch.delenv("MONGODB_URI")
    code, output = platform.cli("db.status", "--env", "staging", capsys=capsys)
    assert code == 2 and "MONGODB_URI is not set" in output


def test_cli_create_writes_into_the_configured_folder(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = platform.cli("db.create", "add-loyalty-points", capsys=capsys)
    assert code == 0, output
    created = Path(output.strip())
    assert created.parent == platform.migrations and created.name.endswith("-add-loyalty-points.py")
    assert stat.S_ISREG(created.stat().st_mode)


def test_rollback_on_staging_backs_up_first_so_it_can_be_undone(platform: Platform) -> None:
    cfg = platform.cfg()
    migrations.migrate(cfg, "staging", runner()[0], "1.4.2")
    migrated = users(platform.db)

    migrations.rollback(cfg, "staging", runner()[0])
    assert "preferences" not in users(platform.db)[0]
    assert len(list((platform.root / "config" / "backups" / "staging").iterdir())) == 2

    migrations.restore(cfg, "staging", runner()[0])  # the newest: taken just before the rollback
    assert users(platform.db) == migrated
    assert migrations.pending_migrations(cfg, "staging") == []


def test_restore_puts_indexes_back_as_the_backup_recorded_them(platform: Platform) -> None:
    def indexes() -> list[tuple[str, Any, bool]]:
        return sorted((s["name"], dict(s["key"]), bool(s.get("unique"))) for s in platform.db.users.list_indexes())

    platform.db.users.create_index("name")
    before, cfg = indexes(), platform.cfg()
    write_migration(platform.migrations, "2025-02-01-unique-names.py", header='collections = ["users"]\n', down=None,
                    up='db.users.update_many({}, {"$set": {"name": "same"}})\ndb.users.drop_index("name_1")\n'
                       'db.users.delete_one({"_id": 2})\ndb.users.create_index("name", unique=True, name="u")')
    migrations.migrate(cfg, "staging", runner()[0], "1.4.2")
    assert [i[0] for i in indexes()] == ["_id_", "u"]

    migrations.restore(cfg, "staging", runner()[0])  # "u" would refuse the documents of before it

    assert indexes() == before and [u["_id"] for u in users(platform.db)] == [1, 2]
    # A backup from before index definitions were exported restores documents and keeps the indexes.
    [older] = (platform.root / "config" / "backups" / "staging").iterdir()
    for exported in (older / "indexes").iterdir():
        exported.unlink()
    (older / "indexes").rmdir()
    platform.db.users.create_index("email")
    migrations.restore(cfg, "staging", runner()[0], str(older))
    assert indexes() == sorted([*before, ("email_1", {"email": 1}, False)])
