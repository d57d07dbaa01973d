"""Migrations on a real MongoDB wire server, in separate processes: what mongomock cannot show.

The server is the one RETAIL_DEPLOY_TEST_MONGODB_URI names: FerretDB from scripts/mongo-up.sh in CI
(scripts/test.sh starts it), or any MongoDB. Without it these tests skip, and fail under CI=true.
Each runner here is a `retail-deploy` process (or a process holding the lock), connecting through
the real driver: the lock is raced by processes, not threads, and backups are taken and restored
by the CLI as an operator would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from retail_deploy.migrations.lock import LOCK_ID
from tests.migrations_support import server_db, server_uri, write_migration

__all__ = ["server_db"]  # fixture used by name

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]

CONFIG = """\
version: 1
services:
  backend: {image: retail-backend}
environments:
  development: {target: docker}
  staging: {namespace: staging}
  production: {namespace: production, confirm: true}
migrations:
  directory: migrations
  backup_dir: backups
  backup_method: export
  lock_ttl: 1m
  server_timeout: 5s
"""


class Workspace:
    """A platform config whose environments all migrate the test's database on the real server."""

    def __init__(self, root: Path, db: Any):
        self.root = root
        self.db = db
        self.migrations = root / "migrations"
        self.migrations.mkdir()
        (root / "platform.yaml").write_text(CONFIG)
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "RETAIL_DEPLOY_CONFIG": str(root / "platform.yaml"),
                    "MONGODB_URI": server_uri(db.name)}

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "retail_deploy", *args]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), env=self.env, cwd=self.root, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)

    def backups(self, environment: str) -> list[Path]:
        return sorted((self.root / "backups" / environment).glob("*/manifest.json"))


@pytest.fixture
def workspace(tmp_path: Path, server_db: Any) -> Workspace:
    return Workspace(tmp_path, server_db)


def wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout}s"
        time.sleep(0.02)


def snapshot(db: Any, *collections: str) -> dict[str, Any]:
    """Each collection's documents and index definitions (what a restore must put back)."""
    return {name: (list(db[name].find({}).sort("_id", 1)),
                   sorted((spec["name"], dict(spec["key"]), bool(spec.get("unique")))
                          for spec in db[name].list_indexes() if spec["name"] != "_id_"))
            for name in collections}


# -- the lock, raced by processes ----------------------------------------------------------------

RACER = """\
import os, sys, time
from pathlib import Path
from pymongo import MongoClient
from retail_deploy.errors import LockHeld
from retail_deploy.migrations.lock import MigrationLock

uri, gate, n = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
collection = MongoClient(uri, serverSelectionTimeoutMS=5000).get_default_database()["migrations_lock"]
collection.find_one({})  # connected before the start
lock = MigrationLock(collection, 60, holder=f"racer-{n} pid {os.getpid()}")
(gate / f"ready-{n}").touch()
while not (gate / "go").exists():
    time.sleep(0.002)
try:
    lock.acquire()
except LockHeld as error:
    print(error)
    sys.exit(4)
print("won")
(gate / f"won-{n}").touch()
while not (gate / "release").exists():  # hold it until every loser has answered
    time.sleep(0.01)
lock.release()
"""


@pytest.mark.parametrize("stale", [False, True], ids=["free", "expired"])
def test_exactly_one_of_several_racing_processes_takes_the_lock(server_db: Any, tmp_path: Path, stale: bool) -> None:
    racers = 6
    if stale:  # a runner that died: every racer sees it expired, deletes it, and inserts its own
        from datetime import timedelta

        from retail_deploy.migrations.changelog import utcnow

        server_db["migrations_lock"].insert_one({"_id": LOCK_ID, "holder": "crashed", "token": "t",
                                                 "acquired_at": utcnow() - timedelta(hours=1),
                                                 "expires_at": utcnow() - timedelta(minutes=1)})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    processes = [subprocess.Popen([sys.executable, "-c", RACER, server_uri(server_db.name), str(tmp_path), str(n)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for n in range(racers)]
    try:
        for n in range(racers):
            wait_for(tmp_path / f"ready-{n}")
        (tmp_path / "go").touch()  # all of them insert the lock document at once
        deadline = time.monotonic() + 60
        # Every racer has answered: the losers exited, the winner(s) hold the lock until released.
        while sum(p.poll() is not None for p in processes) + len(list(tmp_path.glob("won-*"))) < racers \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        held = server_db["migrations_lock"].find_one({"_id": LOCK_ID})
        (tmp_path / "release").touch()
        outcomes = [(p.wait(60), *p.communicate()) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()

    winners = [out for code, out, _ in outcomes if code == 0]
    losers = [out for code, out, _ in outcomes if code == 4]
    assert len(winners) == 1 and len(losers) == racers - 1, outcomes
    assert held is not None and held["holder"].startswith("racer-") and winners == ["won\n"]
    assert all(f"locked by {held['holder']} since " in out for out in losers)
    assert server_db["migrations_lock"].count_documents({}) == 0  # the winner released it


def test_two_racing_migrate_processes_apply_each_migration_once(workspace: Workspace, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    # The winner waits inside up() until the test lets it go: the loser meets a held lock for sure.
    write_migration(workspace.migrations, "2025-03-01-slow.py", header="import os, pathlib, time\n", up=f"""\
        db.events.insert_one({{"_id": "applied", "pid": os.getpid()}})
        (pathlib.Path({str(gate)!r}) / "inside").touch()
        while not (pathlib.Path({str(gate)!r}) / "go").exists():
            time.sleep(0.02)
        """)
    runners = [subprocess.Popen(workspace.argv("db.migrate", "--env", "development", "--version", "1.5.0"),
                                env=workspace.env, cwd=workspace.root, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL) for _ in range(2)]
    try:
        wait_for(gate / "inside")
        deadline = time.monotonic() + 60
        while all(r.poll() is None for r in runners) and time.monotonic() < deadline:
            time.sleep(0.02)
        (gate / "go").touch()
        outcomes = sorted((r.wait(60), *r.communicate()) for r in runners)
    finally:
        for r in runners:
            if r.poll() is None:
                r.kill()

    (ok, ok_out, ok_err), (refused, _, refused_err) = outcomes
    assert ok == 0, ok_out + ok_err
    assert refused == 4, refused_err
    assert "locked by " in refused_err and "(db.migrate development)" in refused_err
    assert "db.unlock --env development" in refused_err
    assert [d["_id"] for d in workspace.db.migrations_changelog.find({})] == ["2025-03-01-slow.py"]
    assert workspace.db.events.count_documents({}) == 1
    assert workspace.db.migrations_lock.count_documents({}) == 0


# -- backups through the export fallback (mongodump cannot be built here: docs/migrations.md) ----

def seed(db: Any) -> None:
    db.users.insert_many([{"_id": 1, "name": "ann", "email": "ann@example.com"},
                          {"_id": 2, "name": "ann again", "email": "ann@example.com"},
                          {"_id": 3, "name": "bob", "email": "bob@example.com"}])
    db.users.create_index("name")
    db.orders.insert_many([{"_id": n, "user": 1 + n % 3, "status": "paid"} for n in range(1, 6)])
    db.orders.create_index([("user", 1), ("status", 1)], name="by_user_status")


DEDUPLICATE = """\
    db.users.delete_one({"_id": 2})
    db.users.create_index("email", unique=True)
    db.users.drop_index("name_1")
    db.users.update_many({}, {"$set": {"tier": "gold"}})
    db.orders.drop()
    """


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_migrate_backs_up_first_and_restore_puts_documents_indexes_and_changelog_back(
        workspace: Workspace, environment: str) -> None:
    seed(workspace.db)
    write_migration(workspace.migrations, "2025-03-01-dedupe-users.py", header='collections = ["users", "orders"]\n',
                    up=DEDUPLICATE, down=None)
    before = snapshot(workspace.db, "users", "orders", "migrations_changelog")
    yes = ["--yes"] if environment == "production" else []

    migrated = workspace.cli("db.migrate", "--env", environment, "--version", "1.5.0", *yes)
    assert migrated.returncode == 0, migrated.stderr
    [manifest] = workspace.backups(environment)
    assert workspace.db.users.count_documents({}) == 2 and "orders" not in workspace.db.list_collection_names()

    # The unique index the migration added must go before the duplicates come back, or they could not.
    restored = workspace.cli("db.restore", "--env", environment, "--yes")  # restore always asks
    assert restored.returncode == 0, restored.stderr
    assert snapshot(workspace.db, "users", "orders", "migrations_changelog") == before
    status = workspace.cli("db.status", "--env", environment)
    assert "pending  2025-03-01-dedupe-users.py" in status.stdout, status.stdout + status.stderr
    assert workspace.db.migrations_lock.count_documents({}) == 0
    assert manifest.parent.name in restored.stdout + restored.stderr


def test_backup_then_restore_round_trips_on_development(workspace: Workspace) -> None:
    seed(workspace.db)
    write_migration(workspace.migrations, "2025-03-01-tier.py", header='collections = ["users", "orders"]\n',
                    up='db.users.update_many({}, {"$set": {"tier": "gold"}})\ndb.users.create_index("tier")',
                    down='db.users.update_many({}, {"$unset": {"tier": ""}})\ndb.users.drop_index("tier_1")')
    assert workspace.cli("db.migrate", "--env", "development", "--version", "1.5.0").returncode == 0
    assert workspace.backups("development") == []  # development takes none by itself
    backed_up = snapshot(workspace.db, "users", "orders", "migrations_changelog")

    backup = workspace.cli("db.backup", "--env", "development")
    assert backup.returncode == 0, backup.stderr
    # Then everything changes: a second migration, lost documents, a dropped collection, other indexes.
    write_migration(workspace.migrations, "2025-03-02-more.py", header='collections = ["users"]\n',
                    up='db.users.insert_one({"_id": 9, "name": "zed"})', down='db.users.delete_one({"_id": 9})')
    assert workspace.cli("db.migrate", "--env", "development", "--version", "1.6.0").returncode == 0
    workspace.db.users.delete_many({"_id": {"$lt": 3}})
    workspace.db.users.drop_index("tier_1")
    workspace.db.users.create_index("email", unique=True)
    workspace.db.orders.drop()

    restored = workspace.cli("db.restore", "--env", "development", "--yes")
    assert restored.returncode == 0, restored.stderr
    assert snapshot(workspace.db, "users", "orders", "migrations_changelog") == backed_up
    status = workspace.cli("db.status", "--env", "development")
    assert "applied  2025-03-01-tier.py  batch 1  version 1.5.0" in status.stdout
    assert "pending  2025-03-02-more.py" in status.stdout
