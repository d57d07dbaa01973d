"""Bad input is refused the same way by every task: exit 2, one line on stderr, no traceback, and
nothing run. A property test over every option of every task (from the task list), in a dry run
and a real one, since the dry run must refuse exactly what the real run refuses."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retail_deploy.execute import Runner
from tests.inprocess import run_cli, task_arguments

OPTIONS = [(task, option, kind, positional)
           for task, arguments in task_arguments().items()
           for option, kind, positional in arguments if kind is not bool]
CONTROL = [chr(c) for c in (*range(0, 32), 127)]


def invalid_text() -> st.SearchStrategy[str]:
    """Values no option accepts: empty, with a control character or line break anywhere, or
    shaped like a flag (`-rf`, `--help`), which must never reach a command as one."""
    word = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=12)
    with_control = st.tuples(word, st.sampled_from(CONTROL), word).map("".join)
    flag_like = word.map(lambda text: "-" + text)
    return st.one_of(st.just(""), with_control, flag_like)


def _finite_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def invalid_number() -> st.SearchStrategy[str]:
    """Not a finite number at all (a negative one is the task's to refuse, with its own message)."""
    return st.one_of(st.sampled_from(["nan", "inf", "-inf", "abc", "1e999", "", "0x", "1.5.2"]),
                     invalid_text().filter(lambda text: not _finite_number(text)))


@pytest.fixture(scope="module")
def nothing_runs() -> Iterator[list[str]]:
    """Every way the Runner carries out a command, recorded: a refused input must reach none."""
    calls: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        for method in ("run", "probe", "action", "attach", "announce"):
            patch.setattr(Runner, method, lambda self, *a, _name=method, **k: calls.append(_name))
        patch.setenv("RETAIL_DEPLOY_CONFIG", str(Path(__file__).resolve().parents[2] / "config" / "retail-platform.yaml"))
        yield calls


def assert_refused(outcome_code: int, stdout: str, stderr: str, calls: list[str], what: str) -> None:
    assert outcome_code == 2, f"{what}: exit {outcome_code}\n{stdout}{stderr}"
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{what}: not one error line: {stderr!r}"
    assert "Traceback" not in stderr and stdout == "", f"{what}: {stdout!r} {stderr!r}"
    assert calls == [], f"{what}: ran {calls}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), dry=st.booleans())
def test_every_option_refuses_invalid_values_alike(data: st.DataObject, dry: bool, nothing_runs: list[str]) -> None:
    task, option, kind, positional = data.draw(st.sampled_from(OPTIONS), label="option")
    value = data.draw(invalid_number() if kind in (int, float) else invalid_text(), label="value")
    argv = [task, value] if positional else [task, f"--{option}={value}"]
    nothing_runs.clear()
    outcome = run_cli(*(["--dry"] if dry else []), *argv)
    assert_refused(outcome.code, outcome.stdout, outcome.stderr, nothing_runs, " ".join(map(repr, argv)))


def test_the_property_covers_every_task() -> None:
    assert {task for task, *_ in OPTIONS} == set(task_arguments())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), dry=st.booleans())
def test_unknown_environments_and_bad_versions_are_refused_before_anything_runs(
        data: st.DataObject, dry: bool, nothing_runs: list[str]) -> None:
    with_env = sorted(t for t, args in task_arguments().items() if any(o == "env" for o, *_ in args))
    with_version = sorted(t for t, args in task_arguments().items() if any(o == "version" for o, *_ in args)
                          and any(o == "version" and k is str for o, k, *_ in args))
    if data.draw(st.booleans(), label="env or version"):
        task = data.draw(st.sampled_from(with_env), label="task")
        env = data.draw(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
                        .filter(lambda name: name not in ("development", "staging", "production")), label="env")
        argv = [task, "--env", env]
    else:
        task = data.draw(st.sampled_from(with_version), label="task")
        version = data.draw(st.from_regex(r"[A-Za-z0-9_.]{0,5}[^A-Za-z0-9_.\x00-\x1f\x7f-\x9f-][A-Za-z0-9_.]{0,5}",
                                          fullmatch=True), label="version")
        argv = [task, "--env", "staging", "--version", version] if task != "deploy.staging" and any(
            o == "env" for o, *_ in task_arguments()[task]) else [task, "--version", version]
    nothing_runs.clear()
    outcome = run_cli(*(["--dry"] if dry else []), *argv)
    assert_refused(outcome.code, outcome.stdout, outcome.stderr, nothing_runs, " ".join(map(repr, argv)))
