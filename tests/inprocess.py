"""The `retail-deploy` program run in this process: what a person sees (stdout, stderr, exit code)
without a Python start-up per case, so sweeps over every task and option stay fast."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from retail_deploy import redact


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*argv: str) -> Outcome:
    """`retail-deploy ARGV...` in-process; the secret registry starts empty, as in a new process."""
    from retail_deploy import __version__
    from retail_deploy.cli import RetailDeployProgram
    from retail_deploy.tasks import ns

    redact.forget_all()
    out, err = io.StringIO(), io.StringIO()
    code = 0
    program = RetailDeployProgram(namespace=ns, version=__version__, name="retail-deploy", binary="retail-deploy")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            program.run(["retail-deploy", *argv])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if isinstance(stop.code, str):
                err.write(stop.code + "\n")
    return Outcome(code, out.getvalue(), err.getvalue())


def task_arguments() -> dict[str, list[tuple[str, type, bool]]]:
    """Every task's options: {dotted task name: [(long option, kind, positional)]}."""
    from retail_deploy.tasks import ns

    return {name: [(arg.names[0], arg.kind, arg.positional) for arg in ns[name].get_arguments()]
            for name in sorted(ns.task_names)}
