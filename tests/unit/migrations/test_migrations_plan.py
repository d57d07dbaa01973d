"""Pure decisions of the migration runner: status, what a rollback undoes, version ordering."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retail_deploy.errors import InputError, OperationFailed
from retail_deploy.migrations import plan
from retail_deploy.migrations.changelog import AppliedMigration
from retail_deploy.migrations.discovery import MigrationFile

WHEN = datetime(2025, 1, 15, 10, 0)


def file(name: str, sha: str = "h", reversible: bool = True) -> MigrationFile:
    return MigrationFile(name, Path("/m") / name, sha, reversible, ())


def rec(name: str, batch: int, version: str | None, order: int = 0, sha: str = "h") -> AppliedMigration:
    return AppliedMigration(name, WHEN, batch, sha, version, True, order)


def test_status_marks_edited_and_missing_files_and_lists_pending_in_order() -> None:
    files = [file("a.py"), file("b.py", sha="new"), file("d.py"), file("e.py")]
    applied = [rec("a.py", 1, "1"), rec("b.py", 1, "1", 1), rec("c.py", 2, "2")]

    status = plan.compute_status(files, applied)

    assert [(s.record.name, s.state) for s in status.applied] == [("a.py", "ok"), ("b.py", "edited"),
                                                                 ("c.py", "missing")]
    assert [m.name for m in status.pending] == ["d.py", "e.py"]
    assert status.problems == ["b.py was edited after it was applied (hash differs)",
                               "c.py is recorded as applied but its file is missing",
                               "d.py is not applied", "e.py is not applied"]


def test_last_batch_is_newest_first() -> None:
    applied = [rec("a.py", 1, "1"), rec("b.py", 2, "2", 0), rec("c.py", 2, "2", 1)]
    assert [r.name for r in plan.last_batch(applied)] == ["c.py", "b.py"]
    assert plan.last_batch([]) == []


def test_after_version_cuts_after_the_last_batch_of_that_version() -> None:
    applied = [rec("a.py", 1, "1.0.0"), rec("b.py", 2, "1.0.0"), rec("c.py", 3, "hotfix"), rec("d.py", 4, "2.0.0")]
    assert [r.name for r in plan.after_version(applied, "1.0.0")] == ["d.py", "c.py"]
    assert plan.after_version(applied, "2.0.0") == []


def test_after_version_not_recorded_compares_version_numbers() -> None:
    applied = [rec("a.py", 1, "1.4.2"), rec("b.py", 2, "1.10.0"), rec("c.py", 3, "v2.0")]
    assert [r.name for r in plan.after_version(applied, "1.4.3")] == ["c.py", "b.py"]
    assert [r.name for r in plan.after_version(applied, "1.9")] == ["c.py", "b.py"]
    assert plan.after_version(applied, "3.0.0") == []


def test_after_version_refuses_when_versions_cannot_be_ordered() -> None:
    applied = [rec("a.py", 1, "1.0.0"), rec("b.py", 2, "feature-x")]
    with pytest.raises(InputError, match=r"recorded: 1\.0\.0, feature-x"):
        plan.after_version(applied, "1.1.0")


def test_check_reversible_refuses_irreversible_or_missing_files() -> None:
    targets = [rec("b.py", 2, "2"), rec("a.py", 1, "1")]
    plan.check_reversible(targets, [file("a.py"), file("b.py")], "roll back")
    with pytest.raises(OperationFailed, match=r"cannot roll back: migration a\.py is irreversible"):
        plan.check_reversible(targets, [file("a.py", reversible=False), file("b.py")], "roll back")
    with pytest.raises(OperationFailed, match=r"a\.py is applied but its file is missing"):
        plan.check_reversible(targets, [file("b.py")], "roll back")


@given(st.lists(st.integers(0, 50), min_size=1, max_size=4), st.lists(st.integers(0, 50), min_size=1, max_size=4))
def test_version_key_orders_dotted_numbers_numerically(a: list[int], b: list[int]) -> None:
    left, right = ".".join(map(str, a)), ".".join(map(str, b))
    assert (plan.version_key(left) < plan.version_key(right)) == (tuple(a) < tuple(b))  # type: ignore[operator]


@pytest.mark.parametrize("text", ["latest", "abc123", "", None, "1.x"])
def test_version_key_of_non_numeric_versions_is_none(text: str | None) -> None:
    assert plan.version_key(text) is None
