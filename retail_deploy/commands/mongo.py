"""Argv builders for the MongoDB database tools (mongodump, mongorestore). Pure: no I/O.

The connection string never goes into argv (it would show in `ps`): the tools read it from a
`--config` YAML file (`uri: ...`) that the caller writes with mode 0600 and deletes afterwards.
"""

from __future__ import annotations

from retail_deploy.commands import Command, cmd


def mongodump(config_file: str, out_dir: str, database: str | None = None, timeout: float | None = None) -> Command:
    """Dump one database (or the URI's) to `out_dir`, gzip-compressed."""
    argv = ["mongodump", f"--config={config_file}"]
    if database:
        argv.append(f"--db={database}")
    argv += ["--gzip", f"--out={out_dir}"]
    return cmd(*argv, timeout=timeout)


def mongorestore(config_file: str, dump_dir: str, database: str, exclude: tuple[str, ...] = (),
                 timeout: float | None = None) -> Command:
    """Restore `database` from a mongodump folder, dropping each collection first."""
    argv = ["mongorestore", f"--config={config_file}", "--drop", "--gzip", f"--nsInclude={database}.*"]
    argv += [f"--nsExclude={database}.{name}" for name in exclude]
    argv.append(dump_dir)
    return cmd(*argv, timeout=timeout)


def mongoexport(database: str, collection: str, out_file: str) -> Command:
    """The CLI equivalent shown for an export done through pymongo (connection from $MONGODB_URI)."""
    return cmd("mongoexport", f"--db={database}", f"--collection={collection}", "--jsonFormat=canonical",
               f"--out={out_file}")


def mongoimport(database: str, collection: str, in_file: str) -> Command:
    """The CLI equivalent shown for a restore of an export done through pymongo."""
    return cmd("mongoimport", f"--db={database}", f"--collection={collection}", "--drop", f"--file={in_file}")
