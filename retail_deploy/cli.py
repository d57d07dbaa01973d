"""The `retail-deploy` console script: an invoke Program over the same namespace as tasks.py."""

from __future__ import annotations

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
    hint = "(see retail-deploy --help TASK)"
    try:
        yield
    except ParseError as error:
        raise Exit(f"error: {error} {hint}", EXIT_BAD_INPUT) from None
    except ValueError as error:
        raise Exit(f"error: invalid option value: {error} {hint}", EXIT_BAD_INPUT) from None


def main() -> None:
    from retail_deploy.tasks import ns

    RetailDeployProgram(namespace=ns, version=__version__, name="retail-deploy", binary="retail-deploy").run()
