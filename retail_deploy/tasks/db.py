"""Database migrations chapter: `db.create`, `db.status`, `db.migrate`, `db.verify`, `db.rollback`,
`db.backup`, `db.restore`, `db.unlock` (all but create take `--env E`)."""

from __future__ import annotations

from invoke import Collection

from retail_deploy.tasks._common import LOCKING_EXITS, confirm, load, print_json, task


def _runner(c):
    from retail_deploy.execute import Runner

    return Runner(c)


def _confirm_change(c, cfg, env: str, question: str, yes: bool) -> None:
    """Production-like environments (`confirm: true`) ask first; a dry run never asks."""
    if not _runner(c).dry and cfg.environment(env).confirm:
        confirm(question, yes=yes)


@task(positional=["name"], help={"name": "what the migration does, e.g. add-user-preferences-field"})
def create(c, name, config=None):
    """Write a new migration file from the template (in migrations.directory)."""
    from retail_deploy import migrations

    runner = _runner(c)
    path = migrations.create(load(config), name, dry=runner.dry)
    if runner.dry:
        runner.say(f"would write {path} from the migration template")
    else:
        print(path)


@task(read_only=True)
def status(c, env=None, config=None, json=False):
    """List applied and pending migrations."""
    from retail_deploy import migrations

    cfg = load(config)
    where, current = migrations.status(cfg, env)
    if json:
        from retail_deploy.api import MigrationStatus

        print_json(MigrationStatus.from_status(where.environment, where.where, current))
        return
    print(f"migrations of {where.where}")
    print(migrations.format_status(current))


@task(exits=LOCKING_EXITS, help={"version": "application version being deployed (recorded; db.rollback --to-version uses it)",
            "skip_backup": "do not back up first (staging and production back up by default)"})
def migrate(c, env=None, version=None, skip_backup=False, yes=False, config=None):
    """Apply pending migrations as one batch (backup first on staging/production)."""
    from retail_deploy import migrations, validate

    cfg = load(config)
    if version is not None:
        validate.version(version)  # bad input is refused before the question, not after
    _confirm_change(c, cfg, env, f"apply the pending migrations to the {env} database?", yes)
    migrations.migrate(cfg, env, _runner(c), version, take_backup=False if skip_backup else None)


@task(read_only=True, help={"allow_pending": "accept migrations not applied yet (integrity check after a rollback)"})
def verify(c, env=None, allow_pending=False, config=None):
    """Check migrations are applied, unedited, and pass their verify(db)."""
    from retail_deploy import migrations

    migrations.verify(load(config), env, _runner(c), allow_pending)


@task(exits=LOCKING_EXITS, help={"to_version": "undo every migration applied after this application version (default: the last batch)",
            "skip_backup": "do not back up first (staging and production back up by default)"})
def rollback(c, env=None, to_version=None, skip_backup=False, yes=False, config=None):
    """Undo the last batch, or everything applied after --to-version."""
    from retail_deploy import migrations, validate

    cfg = load(config)
    if to_version:
        validate.version(to_version, what="--to-version")
    what = f"after version {to_version}" if to_version else "of the last batch"
    _confirm_change(c, cfg, env, f"undo the migrations {what} on the {env} database?", yes)
    take_backup = False if skip_backup else None
    if to_version:
        migrations.rollback_to_version(cfg, env, to_version, _runner(c), take_backup)
    else:
        migrations.rollback(cfg, env, _runner(c), take_backup)


@task
def backup(c, env=None, config=None):
    """Back up the database (mongodump, else export the migrations' collections)."""
    from retail_deploy import migrations

    print(migrations.backup(load(config), env, _runner(c)))


@task(exits=LOCKING_EXITS, help={"backup": "backup folder to restore (default: the newest backup of the environment)"})
def restore(c, env=None, backup=None, yes=False, config=None):
    """Restore the newest (or a given) backup of the database."""
    from retail_deploy import migrations, validate

    if backup is not None:
        validate.existing_directory(backup, what="--backup")
    cfg = load(config)
    cfg.environment(env)  # an unknown environment is refused before the question
    if not _runner(c).dry:
        confirm(f"replace data in the {env} database with {backup or 'the newest backup'}?", yes=yes)
    migrations.restore(cfg, env, _runner(c), backup)


@task
def unlock(c, env=None, yes=False, config=None):
    """Remove the migration lock of a runner that died (it also expires)."""
    from retail_deploy import migrations

    cfg = load(config)
    cfg.environment(env)
    if not _runner(c).dry:
        confirm(f"remove the migration lock of {env}? only if its runner is dead", yes=yes)
    migrations.unlock(cfg, env, _runner(c))


ns = Collection("db")
for _task in (create, status, migrate, verify, rollback, backup, restore, unlock):
    ns.add_task(_task)
