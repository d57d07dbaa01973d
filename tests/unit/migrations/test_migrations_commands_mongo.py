"""Argv of the MongoDB tools: the connection string never appears in argv."""

from __future__ import annotations

from retail_deploy.commands import mongo


def test_mongodump_reads_the_uri_from_a_config_file() -> None:
    command = mongo.mongodump("/tmp/c.yaml", "backups/staging/x/dump", "retail")
    assert command.argv == ("mongodump", "--config=/tmp/c.yaml", "--db=retail", "--gzip",
                            "--out=backups/staging/x/dump")


def test_mongodump_without_db_when_the_uri_names_it() -> None:
    assert "--db" not in " ".join(mongo.mongodump("c.yaml", "out").argv)


def test_mongorestore_drops_restores_one_database_and_skips_the_lock() -> None:
    command = mongo.mongorestore("c.yaml", "b/dump", "retail", ("migrations_lock",))
    assert command.display() == ("mongorestore --config=c.yaml --drop --gzip '--nsInclude=retail.*' "
                                 "--nsExclude=retail.migrations_lock b/dump")


def test_export_and_import_equivalents() -> None:
    assert mongo.mongoexport("retail", "users", "b/users.json").display() == (
        "mongoexport --db=retail --collection=users --jsonFormat=canonical --out=b/users.json")
    assert mongo.mongoimport("retail", "users", "b/users.json").display() == (
        "mongoimport --db=retail --collection=users --drop --file=b/users.json")
