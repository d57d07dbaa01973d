"""`db.create NAME`: a new migration file from a template."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from retail_deploy import validate
from retail_deploy.errors import InputError

TEMPLATE = '''"""{title}

Applied by `retail-deploy db.migrate --env ENV`; undone by `db.rollback`. `db` is a pymongo Database.
"""

from retail_deploy.migrations import Irreversible  # noqa: F401  (raise it in down() if it cannot be undone)

# Collections this migration changes: exported by the backup taken before staging/production runs
# when mongodump is not installed.
collections: list[str] = []


def up(db):
    raise NotImplementedError("write the change, e.g. db.users.update_many(...)")


def down(db):
    raise Irreversible("write the inverse of up(), or keep this line if it cannot be undone")


def verify(db):
    """Optional check run by `db.verify`: return False or raise to report a problem."""
    return True
'''

_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def migration_filename(name: str, today: datetime | None = None) -> str:
    """`Add user preferences` -> `2025-01-15-add-user-preferences.py` (date first: names sort in order)."""
    slug = re.sub(r"[\s_]+", "-", name.strip().lower())
    if not _NAME.match(slug):
        raise InputError(f"migration name {name!r} is not usable: use letters, digits and dashes, "
                         f"e.g. add-user-preferences")
    day = (today or datetime.now(UTC)).strftime("%Y-%m-%d")
    filename = f"{day}-{slug}.py"
    validate.path(filename, what="migration name")  # refused now, not when the file is written
    return filename


def create(directory: Path, name: str, today: datetime | None = None, *, dry: bool = False) -> Path:
    """Write the template to a new file in `directory`; refuses to overwrite.
    With `dry`, only checks and returns the path it would write."""
    filename = migration_filename(name, today)
    path = directory / filename
    if path.exists():
        raise InputError(f"migration {path} already exists: choose another name")
    if dry:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    title = filename[11:-3].replace("-", " ").capitalize() + "."
    path.write_text(TEMPLATE.format(title=title), encoding="utf-8")
    return path
