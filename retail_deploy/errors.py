"""Exceptions that carry the public exit codes (docs/architecture.md, "Public contract").

Every failure the library reports to a person is one of these: the task layer turns them
into one line on stderr and the matching exit code, so shell glue can rely on the codes.
"""

from __future__ import annotations

import re

# Exit codes of the public contract.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ROLLED_BACK = 3
EXIT_LOCKED = 4
EXIT_UNAVAILABLE = 5
EXIT_INTERRUPTED = 130


def clip(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` characters at a word boundary, marked with "...": an
    error quoted in a message is never cut mid-word (only a single word longer than half the
    limit, such as a URL, is cut inside)."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 3, 1)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "..."


class RetailDeployError(Exception):
    """Base class: `str(error)` is the one line shown to the user."""

    exit_code = EXIT_FAILED


class InputError(RetailDeployError):
    """Bad input or configuration; raised before anything was changed."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(InputError):
    """A configuration file is malformed or invalid (message names file, key and line)."""


class OperationFailed(RetailDeployError):
    """An external operation failed (command, HTTP check, registry, ...)."""

    exit_code = EXIT_FAILED


class CommandFailed(OperationFailed):
    """An external command exited non-zero or timed out."""

    def __init__(self, display: str, exit_code: int | None, detail: str = "", host: str = "local",
                 read_only: bool = False):
        self.display = display
        self.read_only = read_only  # the command only read: it changed nothing
        self.returncode = exit_code
        self.detail = detail.strip()
        self.host = host
        status = "timed out" if exit_code is None else f"exited {exit_code}"
        where = "" if host == "local" else f" on {host}"
        message = f"command {status}{where}: {display}"
        if self.detail:
            message += f" ({clip(self.detail.splitlines()[-1], 300)})"
        super().__init__(message)


class DependencyUnavailable(OperationFailed):
    """Could not find out: a dependency (cluster, Prometheus, registry, database) did not answer, and
    nothing was changed. Its own code, so a script can tell an outage (retry later) from a typo (2)
    and from a real failure (1)."""

    exit_code = EXIT_UNAVAILABLE


class RolledBack(RetailDeployError):
    """The deploy failed and the previous state was restored."""

    exit_code = EXIT_ROLLED_BACK


class LockHeld(RetailDeployError):
    """Another deploy holds the environment's lock."""

    exit_code = EXIT_LOCKED


# What a dependency that did not answer looks like in a failure: kubectl, helm, curl, requests and
# pymongo phrase it so. A failure that says this after only reads changed nothing.
_NO_ANSWER = re.compile(
    r"unable to connect to the server|connection refused|was refused|i/o timeout|no such host|context deadline exceeded"
    r"|tls handshake timeout|no route to host|network is unreachable|could not resolve host"
    r"|no answer within|ServerSelectionTimeoutError|AutoReconnect|NetworkTimeout|ConnectTimeout|ReadTimeout"
    r"|ConnectionError|is unreachable",
    re.IGNORECASE,
)


def says_no_answer(text: str) -> bool:
    """True when a tool's output says its server did not answer (kubectl: "connection refused")."""
    return bool(_NO_ANSWER.search(text))


def unanswered(error: BaseException) -> bool:
    """True when `error` says a dependency did not answer (rather than answered "no"), and the command
    that failed, if any, only read. A read-only task then exits 5, not 1 (nothing was changed)."""
    if isinstance(error, DependencyUnavailable):
        return True
    if isinstance(error, CommandFailed):
        return error.read_only and (error.returncode is None or bool(_NO_ANSWER.search(error.detail)))
    if isinstance(error, OperationFailed):
        cause = error.__cause__
        return bool(_NO_ANSWER.search(str(error)) or (cause is not None and _NO_ANSWER.search(type(cause).__name__)))
    return False


class Interrupted(RetailDeployError):
    """Ctrl-C: the environment was left in a known state, named in the message."""

    exit_code = EXIT_INTERRUPTED
