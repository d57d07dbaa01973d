"""What every task shares: the `task` decorator (errors -> exit codes), config loading, confirmation.

Tasks stay thin: parse arguments, load the platform config, call the library. Heavy modules
(docker, requests, fabric, pymongo) are imported inside task bodies, never here: `inv --list`
must stay fast.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, SupportsIndex

import invoke
from invoke.exceptions import Exit, UnexpectedExit

from retail_deploy import redact
from retail_deploy.errors import EXIT_FAILED, EXIT_INTERRUPTED, InputError, RetailDeployError

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig

class EnvironmentsHelp(str):
    """The `--env` help: it names the platform config's own environments, read when the help is
    shown. invoke builds every task's option help whenever it parses a command line (`--list`
    included), and loading the config then would slow every command; the help text is rendered
    through textwrap, whose first step is `expandtabs`, so the names are read there."""

    def expandtabs(self, tabsize: SupportsIndex = 8) -> str:
        try:
            names = ", ".join(load().environments)
        except RetailDeployError as error:  # the help still shows; the task itself reports it
            names = f"unreadable config: {one_line(str(error))[:120]}"
        return f"{self}: {names}".expandtabs(tabsize)


# Help shared by every task that takes these options.
COMMON_HELP = {
    "env": EnvironmentsHelp("environment of the platform config ($RETAIL_DEPLOY_CONFIG, else the default)"),
    "version": "release version: a Docker tag such as 1.4.2",
    "config": "platform config file (default: $RETAIL_DEPLOY_CONFIG, else config/retail-platform.yaml)",
    "yes": "do not ask for confirmation (required when there is no terminal)",
    "json": "print the result as one JSON document on stdout, progress on stderr (for scripts; docs/json.md)",
}


def debugging() -> bool:
    """True under invoke's `-d/--debug` (it turns on DEBUG logging) or RETAIL_DEPLOY_DEBUG=1."""
    return logging.getLogger().isEnabledFor(logging.DEBUG) or os.environ.get("RETAIL_DEPLOY_DEBUG") == "1"


def task(*args: Any, **kwargs: Any) -> Any:
    """invoke's `@task`, plus: `help=` required for every option, and failures turned into one
    line on stderr with the contract's exit code (a traceback only with `-d`)."""

    def decorate(body: Callable[..., Any]) -> Any:
        help_texts = dict(kwargs.pop("help", {}) or {})
        # The code object names the parameters without inspect.signature's cost (`inv --list` builds
        # every task of every chapter; invoke inspects them again anyway).
        code = body.__code__
        params = list(code.co_varnames[1:code.co_argcount + code.co_kwonlyargcount])
        for param in params:
            if param not in help_texts and param in COMMON_HELP:
                help_texts[param] = COMMON_HELP[param]
        missing = [p for p in params if p not in help_texts]
        if missing:
            raise TypeError(f"task {body.__name__}: no help= text for {', '.join(missing)}")

        @functools.wraps(body)
        def wrapper(c: Any, *a: Any, **kw: Any) -> Any:
            try:
                return body(c, *a, **kw)
            except Exit:
                raise
            except RetailDeployError as error:
                if debugging():
                    raise
                raise Exit(f"error: {one_line(redact.redact(str(error)))}", error.exit_code) from None
            except KeyboardInterrupt:
                if debugging():
                    raise
                raise Exit("interrupted", EXIT_INTERRUPTED) from None
            except BrokenPipeError:
                # The reader went away (`inv ... | head`): stop quietly, as shell tools do.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                raise Exit(code=0) from None
            except UnexpectedExit as error:
                if debugging():
                    raise
                command = redact.redact(error.result.command)
                raise Exit(f"error: command exited {error.result.exited}: {command}", EXIT_FAILED) from None
            except Exception as error:  # an unexpected bug: still one line, traceback with -d
                if debugging():
                    raise
                message = one_line(redact.redact(f"{type(error).__name__}: {error}"))
                raise Exit(f"error: unexpected failure: {message} (run with -d for a traceback)",
                           EXIT_FAILED) from None

        return invoke.task(help=help_texts, **kwargs)(wrapper)

    if len(args) == 1 and callable(args[0]) and not kwargs:  # bare `@task`
        return decorate(args[0])
    return decorate


def one_line(text: str) -> str:
    """The contract's one error line: a message that quotes multi-line text (a migration's exception,
    a driver's error) keeps each of its lines, joined with '; '."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def print_json(document: Any) -> None:
    """The one JSON document of a `--json` task, on stdout (progress goes to stderr, see
    `progress`); every string masked first, so no secret appears in any escaped form.
    `document`: an API result (`retail_deploy.api`, its `to_dict()`) or plain data."""
    import json

    data = document.to_dict() if hasattr(document, "to_dict") else redact.redact_data(document)
    print(json.dumps(data, indent=2, default=str), flush=True)


def progress(as_json: bool) -> IO[str] | None:
    """Where a task's Runner prints progress and dry-run lines: stderr under `--json` (stdout
    carries only the document), else the Runner's default (stdout)."""
    return sys.stderr if as_json else None


def load(config: str | None = None) -> PlatformConfig:
    """The platform config named by `--config`, $RETAIL_DEPLOY_CONFIG or the default."""
    from retail_deploy.config import load_config

    return load_config(config)


def environment(cfg: PlatformConfig, env: str | None) -> EnvironmentConfig:
    return cfg.environment(env)


def confirm(question: str, *, yes: bool) -> None:
    """Ask before a risky change; without a terminal, refuse unless `--yes` was given (exit 2)."""
    if yes:
        return
    if not sys.stdin or not sys.stdin.isatty():
        raise InputError(f"{question} needs confirmation, and there is no terminal: pass --yes")
    try:
        answer = input(f"{question} [y/N] ").strip().lower()
    except EOFError:  # Ctrl-D at the prompt: a "no", not a crash
        answer = ""
    if answer not in ("y", "yes"):
        raise InputError("not confirmed; nothing was changed")
