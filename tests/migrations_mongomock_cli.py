"""`retail-deploy` with `retail_deploy.migrations.connect` answering from mongomock, for script tests.

The scripts run the CLI in a new process each time, so the mongomock data is loaded from and saved
to the extended-JSON file named by $MONGOMOCK_STATE around each run. Invoked by a wrapper as
`python this.py [-m retail_deploy] ARGS...`.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import Any

import mongomock
from bson import json_util

STATE = Path(os.environ["MONGOMOCK_STATE"])
client: Any = mongomock.MongoClient()


def load() -> None:
    if STATE.exists():
        for name, collections in json_util.loads(STATE.read_text()).items():
            for collection, documents in collections.items():
                if documents:
                    client[name][collection].insert_many(documents)


def save() -> None:
    data = {name: {c: list(client[name][c].find({})) for c in client[name].list_collection_names()}
            for name in client.list_database_names()}
    STATE.write_text(json_util.dumps(data))


def main() -> None:
    import retail_deploy.migrations
    from retail_deploy.cli import main as cli

    load()
    atexit.register(save)
    retail_deploy.migrations.connect = lambda uri, timeout: client  # type: ignore[assignment]
    args = sys.argv[1:]
    if args[:2] == ["-m", "retail_deploy"]:
        args = args[2:]
    sys.argv = ["retail-deploy", *args]
    cli()


if __name__ == "__main__":
    main()
