"""Finding migration files, hashing them, deciding reversibility from the source; the template."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from retail_deploy.errors import InputError
from retail_deploy.migrations import template
from retail_deploy.migrations.discovery import discover, inspect_file, load
from tests.migrations_support import write_migration


def test_discover_sorts_by_name_and_skips_helpers(tmp_path: Path) -> None:
    for name in ["2025-02-01-b.py", "2025-01-15-a.py", "_shared.py", ".hidden.py", "notes.txt"]:
        write_migration(tmp_path, name, up="pass")
    assert [m.name for m in discover(tmp_path)] == ["2025-01-15-a.py", "2025-02-01-b.py"]


def test_missing_folder_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        discover(tmp_path / "nope")


def test_hash_changes_when_the_file_is_edited(tmp_path: Path) -> None:
    path = write_migration(tmp_path, "a.py", up="pass")
    before = inspect_file(path).sha256
    path.write_text(path.read_text() + "\n# touched\n")
    assert inspect_file(path).sha256 != before


@pytest.mark.parametrize(("down", "header", "reversible"), [
    ("db.x.drop()", "", True),
    (None, "", False),
    ("raise Irreversible('no way back')", "from retail_deploy.migrations import Irreversible\n", False),
    ('"""Docstring first."""\nraise migrations.Irreversible', "from retail_deploy import migrations\n", False),
    ("if False:\n    raise Irreversible()\ndb.x.drop()", "", True),
    ("db.x.drop()", "irreversible = True\n", False),
])
def test_reversibility_is_read_from_the_source(tmp_path: Path, down: str | None, header: str,
                                               reversible: bool) -> None:
    path = write_migration(tmp_path, "m.py", up="pass", down=down, header=header)
    assert inspect_file(path).reversible is reversible


def test_declared_collections_are_read_without_importing(tmp_path: Path) -> None:
    path = write_migration(tmp_path, "m.py", up="pass", header="import no_such_module\ncollections = ['users', 'orders']\n")
    assert inspect_file(path).collections == ("users", "orders")


@pytest.mark.parametrize(("source", "message"), [
    ("def down(db):\n    pass\n", "defines no up"),
    ("def up(db)\n    pass\n", "syntax error at line 1"),
    ("collections = 'users'\ndef up(db):\n    pass\n", "must be a list"),
])
def test_broken_files_are_reported_by_name(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "broken.py").write_text(source)
    with pytest.raises(InputError, match=message) as error:
        inspect_file(tmp_path / "broken.py")
    assert "broken.py" in str(error.value)


def test_create_writes_a_dated_template_that_loads_and_is_irreversible_until_written(tmp_path: Path) -> None:
    path = template.create(tmp_path / "migrations", "Add user preferences field", datetime(2025, 1, 15))

    assert path.name == "2025-01-15-add-user-preferences-field.py"
    found = inspect_file(path)
    assert found.reversible is False and found.collections == ()
    loaded = load(found)
    with pytest.raises(NotImplementedError):  # an unedited template never "succeeds"
        loaded.up(None)
    assert loaded.verify is not None and loaded.verify(None) is True


def test_create_refuses_bad_names_and_existing_files(tmp_path: Path) -> None:
    template.create(tmp_path, "add-x", datetime(2025, 1, 15))
    with pytest.raises(InputError, match="already exists"):
        template.create(tmp_path, "add-x", datetime(2025, 1, 15))
    for bad in ["", "../escape", "semi;colon", "-lead"]:
        with pytest.raises(InputError, match="not usable"):
            template.create(tmp_path, bad)
