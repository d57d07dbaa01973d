"""The `retail-deploy` console script: an invoke Program over the same namespace as tasks.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from invoke import Program
from invoke.exceptions import Exit, ParseError

from retail_deploy import __version__
from retail_deploy.errors import EXIT_BAD_INPUT


class RetailDeployProgram(Program):
    """invoke's Program, with command-line mistakes reported as bad input (exit 2, one line).

    invoke exits 1 on a ParseError (unknown task or flag, missing value), which the contract
    reserves for a failed operation, and lets the ValueError of an option value that does not
    convert (`--timeout abc`) escape as a traceback. Both are refused here before any task runs.
    """

    def parse_core(self, argv: list[str] | None) -> None:
        with _bad_input():
            super().parse_core(argv)

    def parse_tasks(self) -> None:
        with _bad_input():
            super().parse_tasks()


@contextmanager
def _bad_input() -> Iterator[None]:
    try:
        yield
    except ParseError as error:
        raise Exit(f"error: {parse_message(error)}", EXIT_BAD_INPUT) from None
    except ValueError as error:
        raise Exit(f"error: invalid option value: {error} (see retail-deploy --help TASK)", EXIT_BAD_INPUT) from None


# invoke's Argument shows as `<Argument: timeout (t) [float]>`; ours (tasks/_common.py) as `--ack ITEM (-a)`.
_NEEDS_VALUE = re.compile(r"^Flag (?:<\w*Argument: (?P<names>[^>\[]+?)(?: \[\w+\])?(?: [*?]+)?>|--(?P<long>[\w-]+)\b.*?)"
                          r" needed value")
_UNKNOWN = re.compile(r"^No idea what '(?P<what>.*)' is!$", re.S)
_POSITIONAL = re.compile(r"^'(?P<task>[^']+)' did not receive required positional arguments: (?P<names>.+)$")


def parse_message(error: ParseError) -> str:
    """invoke's parser messages (`Flag <Argument: timeout (t) [float]> needed value and was not
    given one!`, `No idea what '-x' is!`) as our one-line errors, naming what to pass."""
    text = str(error)
    context = getattr(error, "context", None)
    task = getattr(context, "name", None)
    where = f"retail-deploy --help {task}" if task else "retail-deploy --help TASK"
    if match := _NEEDS_VALUE.match(text):
        name = (match["long"] or match["names"].split(" (")[0]).strip().replace("_", "-")
        return f"--{name} needs a value (see {where})"
    if match := _UNKNOWN.match(text):
        what = match["what"]
        shown = ascii(what) if not what.isprintable() else repr(what)
        if what.startswith("-"):
            return f"unknown option {shown}{f' for {task}' if task else ''} (see {where})"
        if task:
            return f"unexpected argument {shown} for {task} (see {where})"
        return f"unknown task {shown} (see retail-deploy --list)"
    if match := _POSITIONAL.match(text):
        names = match["names"].replace("'", "").upper()
        return f"{match['task']} needs {names} (see retail-deploy --help {match['task']})"
    return f"{text} (see {where})"


def main() -> None:
    from retail_deploy.tasks import ns

    RetailDeployProgram(namespace=ns, version=__version__, name="retail-deploy", binary="retail-deploy").run()
