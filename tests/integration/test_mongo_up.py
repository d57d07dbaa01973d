"""scripts/mongo-up.sh: starts FerretDB, reuses it, prints the URI last, stops it.

Runs a private server (its own state directory and a free port) beside the one scripts/test.sh
started, from the FerretDB build that run cached (it is not rebuilt here: that takes minutes).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.services import SCRIPTS, free_port, unavailable

pytestmark = pytest.mark.integration


def ferretdb_binary() -> Path:
    found = subprocess.run(["bash", "-c", 'source "$1"; echo "$TOOLS_CACHE/ferretdb-$FERRETDB_VERSION/bin/ferretdb"',
                            "_", str(SCRIPTS / "lib/tools.sh")], capture_output=True, text=True, check=True)
    return Path(found.stdout.strip())


def mongo_up(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPTS / "mongo-up.sh"), *args], env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_mongo_up_starts_reuses_and_stops_its_server(tmp_path: Path) -> None:
    from pymongo import MongoClient

    if not ferretdb_binary().is_file():
        unavailable(f"FerretDB is not built yet ({ferretdb_binary()}): run scripts/mongo-up.sh once")
    port = free_port()
    state = tmp_path / "ferretdb"
    env = {**os.environ, "RETAIL_DEPLOY_FERRETDB_DIR": str(state), "RETAIL_DEPLOY_FERRETDB_PORT": str(port)}
    uri = f"mongodb://127.0.0.1:{port}/"
    try:
        first = mongo_up(env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.splitlines()[-1] == f"MONGODB_URI={uri}"
        pid = int((state / "ferretdb.pid").read_text())
        with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
            client.kept.things.insert_one({"_id": "survives a restart"})

        again = mongo_up(env)  # idempotent: the same server, only the URI printed
        assert again.returncode == 0 and again.stdout == f"MONGODB_URI={uri}\n", again.stderr
        assert int((state / "ferretdb.pid").read_text()) == pid and again.stderr == ""

        stopped = mongo_up(env, "--stop")
        assert stopped.returncode == 0, stopped.stderr
        assert not Path(f"/proc/{pid}").exists() and not (state / "ferretdb.pid").exists()

        restarted = mongo_up(env)
        assert restarted.returncode == 0, restarted.stderr
        with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
            assert client.kept.things.find_one({}) == {"_id": "survives a restart"}
    finally:
        if (state / "ferretdb.pid").exists():
            pid = int((state / "ferretdb.pid").read_text())
            if os.path.realpath(f"/proc/{pid}/exe") == str(ferretdb_binary()):  # ours, not a recycled pid
                os.kill(pid, signal.SIGTERM)
