"""What every task shares: the `task` decorator (errors -> exit codes), config loading, confirmation.

Tasks stay thin: parse arguments, load the platform config, call the library. Heavy modules
(docker, requests, fabric, pymongo) are imported inside task bodies, never here: `inv --list`
must stay fast.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, Literal, SupportsIndex

import invoke
from invoke.exceptions import Exit, UnexpectedExit
from invoke.parser import Argument, ParserContext

from retail_deploy import redact
from retail_deploy.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_UNAVAILABLE,
    InputError,
    OperationFailed,
    RetailDeployError,
    unanswered,
)

if TYPE_CHECKING:
    from contextvars import Token

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


# The short flags, one meaning each in every task (shell glue and muscle memory rely on it): an
# option not named here has only its long form. invoke would otherwise give each option the first
# free letter of its name, so `-s` meant --services, --service, --strategy or --skip-tests by task.
SHORT_FLAGS = {
    "env": "e",
    "config": "c",
    "version": "v",
    "yes": "y",
    "json": "j",
    "output": "o",
    "service": "s",
    "ack": "a",
    "notify": "n",
    "fix": "f",
    "push": "p",
    "build": "b",
    "skip_tests": "k",
    "timeout": "t",
    "retries": "r",
    "interval": "i",
    "method": "m",
    "url": "u",
}


# The value placeholder `--help` shows for an option that takes one (`-e ENV, --env=ENV`), so it
# never reads as a switch. invoke shows STRING/INT for str/int options only, and nothing for a
# list (`--ack`) or a float (`--timeout`); an option not named here shows its name in capitals.
PLACEHOLDERS = {
    "ack": "ITEM", "backup": "DIR", "ca_bundle": "FILE", "config": "FILE", "days": "DAYS",
    "duration": "DURATION", "env": "ENV", "force": "REASON", "format": "FORMAT", "interval": "DURATION",
    "method": "METHOD", "mongo_deployment": "DEPLOYMENT", "name": "NAME", "output": "FILE", "pod": "POD",
    "port": "PORT", "program": "PROGRAM", "redis_deployment": "DEPLOYMENT", "remote_port": "PORT",
    "replicas": "N", "request_timeout": "DURATION", "retries": "N", "service": "SERVICE", "services": "A,B",
    "strategy": "STRATEGY", "style": "STYLE", "tail": "LINES", "target": "TARGET", "timeout": "SECONDS",
    "to_colour": "COLOUR", "to_revision": "N", "to_version": "VERSION", "url": "URL", "version": "VERSION",
    "via": "VIA",
}

# What each exit code means (design contract), for the line that ends every task's help.
EXIT_MEANINGS = {0: "done", 1: "failed", 2: "bad input (nothing changed)", 3: "failed and rolled back",
                 4: "the lock is held", 5: "a dependency did not answer", 130: "interrupted"}
DEPLOY_EXITS = (0, 1, 2, 3, 4, 5, 130)
LOCKING_EXITS = (0, 1, 2, 4, 5, 130)
DEFAULT_EXITS = (0, 1, 2, 5, 130)


def placeholder(argument: Argument) -> str | None:
    """The `--help` value placeholder of an option; None for a switch."""
    if argument.kind is bool:
        return None
    return PLACEHOLDERS.get(argument.name or "", (argument.name or "value").upper())


def _help_for(self: ParserContext, flag: str) -> tuple[str, str]:
    """invoke's `ParserContext.help_for`, with a placeholder for every option of ours that takes a value."""
    names, text = _INVOKE_HELP_FOR(self, flag)
    argument = self.flags[flag]
    value = placeholder(argument) if isinstance(argument, _Argument) else None
    if value is None:
        return names, text
    shown = []
    for name in self.names_for(flag):
        shown.append(f"{name} {value}" if len(name.strip("-")) == 1 else f"{name}={value}")
    return ", ".join(sorted(shown, key=len)), text


_INVOKE_HELP_FOR = ParserContext.help_for


def exits_line(codes: tuple[int, ...]) -> str:
    """'Exit codes: 0 done, 1 failed, ...': the last line of a task's help."""
    return "Exit codes: " + "; ".join(f"{code} {EXIT_MEANINGS[code]}" for code in codes) + "."


def _docstring(doc: str | None, codes: tuple[int, ...]) -> str:
    """The task's docstring for invoke: its first paragraph on one line (`--list` shows the first
    line, which must be a whole phrase), then the rest, then the exit codes."""
    import inspect

    text = inspect.cleandoc(doc or "")
    first, _, rest = text.partition("\n\n")
    first = " ".join(first.split())
    return "\n\n".join(part for part in (first, rest.strip(), exits_line(codes)) if part)


# Options whose value is free text that may start with '-' (a reason), not a name or a path.
_FREE_TEXT = {"force"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class _Argument(Argument):
    """A task option whose value is checked as the command line is parsed, the same for a dry and
    a real run, before any task runs: an empty value is not "not given", control characters and
    newlines (which would split a dry-run line or forge an error line) are refused, a value that
    looks like a flag (`--pod=-rf`) never reaches a command, and a number must be finite. Refused
    as bad input (exit 2) through `inv` as well as `retail-deploy`, whose parse errors differ."""

    def __repr__(self) -> str:
        """How invoke's parser names the option in its own errors (`inv TASK --ack` with no value:
        "Flag --ack ITEM (-a) needed value and was not given one!"), read by a person."""
        short = [f"-{n}" for n in self.names[1:] if len(n) == 1]
        shown = f"--{self.names[0].replace('_', '-')}"
        value = placeholder(self)
        return shown + (f" {value}" if value else "") + (f" ({', '.join(short)})" if short else "")

    def set_value(self, value: object, cast: bool = True) -> None:
        option = f"--{(self.names[0])}"
        if isinstance(value, str) and cast:
            if value == "":
                raise _refused(f"{option} needs a value (it was given an empty one)")
            if _CONTROL.search(value):
                raise _refused(f"{option}: control characters and line breaks are not allowed "
                               f"(got {_printable(value)})")
            if value.startswith("-") and self.name not in _FREE_TEXT and self.kind not in (int, float):
                raise _refused(f"{option}: a value may not start with '-' (got {_printable(value)})")
        try:
            super().set_value(value, cast)
        except ValueError:
            kind = {int: "a whole number", float: "a number"}.get(self.kind, "a valid value")
            raise _refused(f"{option} needs {kind} (got {_printable(value)})") from None
        if isinstance(self._value, float) and not math.isfinite(self._value):
            raise _refused(f"{option} needs a finite number (got {_printable(value)})")


def _refused(message: str) -> Exit:
    return Exit(f"error: {message}", EXIT_BAD_INPUT)


def _printable(value: object) -> str:
    """A value quoted for an error line: control characters escaped, long values cut."""
    text = ascii(value) if isinstance(value, str) and _CONTROL.search(value) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Task(invoke.Task):
    """invoke's Task with the project's short flags (SHORT_FLAGS) instead of invoke's first free
    letter, and options checked as they are parsed (`_Argument`)."""

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        self.auto_shortflags = False
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(name)
        if short is not None and short not in taken_names:
            opts["names"] = [*opts["names"], short]
        return opts

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        arguments: list[Argument] = super().get_arguments(ignore_unknown_help)
        for argument in arguments:
            argument.__class__ = _Argument
            if argument.kind is list:
                # invoke starts a repeatable option at [] rather than None, so a trailing `--ack`
                # with no value passed as "not given"; None makes it "needs a value" like the rest.
                argument.raw_value = None
        return arguments


# Installed once, for the arguments of our tasks only (`_Argument`); any other invoke program's
# options are shown as invoke shows them.
ParserContext.help_for = _help_for  # type: ignore[method-assign]


def debugging() -> bool:
    """True under invoke's `-d/--debug` (it turns on DEBUG logging) or RETAIL_DEPLOY_DEBUG=1."""
    return logging.getLogger().isEnabledFor(logging.DEBUG) or os.environ.get("RETAIL_DEPLOY_DEBUG") == "1"


def task(*args: Any, read_only: bool = False, plans_reads: bool = False,  # noqa: ANN401
         exits: tuple[int, ...] = DEFAULT_EXITS,
         **kwargs: Any) -> Any:  # noqa: ANN401 - invoke's @task options and result, passed through
    """invoke's `@task`, plus: `help=` required for every option, and failures turned into one
    line on stderr with the contract's exit code (a traceback only with `-d`).

    `read_only=True` (a task that only reads: verify, history, troubleshoot, status): a dependency
    that did not answer is exit 5 (nothing was changed), and in a dry run every read is printed as
    a `$ ` line and a read that fails becomes a stated assumption, exit 0, as the deploy's dry run
    does. `plans_reads=True` gives only the dry-run behaviour (a task that acts, e.g. rollback.undo,
    whose plan depends on reads). `exits`: the exit codes the task can return, listed at the end
    of its help (the docstring's first paragraph becomes its one-line `--list` phrase)."""

    def decorate(body: Callable[..., object]) -> invoke.Task[Callable[..., object]]:
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
        def wrapper(c: invoke.Context, *a: object, **kw: object) -> object:
            planning = (read_only or plans_reads) and _dry(c)
            token = _show_reads(True) if planning else None
            try:
                return body(c, *a, **kw)
            except Exit:
                raise
            except RetailDeployError as error:
                if debugging():
                    raise
                if planning and isinstance(error, OperationFailed):
                    _assumed(error)
                    return None
                code = EXIT_UNAVAILABLE if read_only and unanswered(error) else error.exit_code
                raise Exit(f"error: {one_line(redact.redact(str(error)))}", code) from None
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
            finally:
                if token is not None:
                    _show_reads(token)

        wrapper.__doc__ = _docstring(body.__doc__, exits)
        made: invoke.Task[Callable[..., object]] = invoke.task(help=help_texts, klass=_Task, **kwargs)(wrapper)
        return made

    if len(args) == 1 and callable(args[0]) and not kwargs:  # bare `@task`
        return decorate(args[0])
    return decorate


def _show_reads(change: Literal[True] | Token[bool]) -> Token[bool] | None:
    """Turn on the printing of reads (`True`; returns the token), or restore it (the token).
    retail_deploy.execute is imported here, not at the top: `inv --list` stays light."""
    from retail_deploy.execute import SHOW_READS

    if change is True:
        return SHOW_READS.set(True)
    SHOW_READS.reset(change)
    return None


def _dry(c: invoke.Context) -> bool:
    try:
        return bool(c.config.run.dry)
    except AttributeError:
        return False


def _assumed(error: OperationFailed) -> None:
    """The dry run of a read-only plan whose reads did not get the answers it needs: say so, and
    what was assumed, as `# ` lines of the plan (the commands so far were printed as `$ ` lines)."""
    print(f"# the reads did not give what the rest of the plan needs: {one_line(redact.redact(str(error)))}",
          flush=True)
    print("# assumed: a real run gets its answers from the reads above and goes on from there "
          "(a dry run changes nothing)", flush=True)


def one_line(text: str) -> str:
    """The contract's one error line: a message that quotes multi-line text (a migration's exception,
    a driver's error) keeps each of its lines, joined with '; '. Other control characters (a
    terminal escape quoted from a config value) are shown escaped, never sent to the terminal."""
    lines = (_CONTROL.sub(lambda m: ascii(m.group())[1:-1], line.strip()) for line in text.splitlines())
    return "; ".join(line for line in lines if line)


def print_json(document: object) -> None:
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
