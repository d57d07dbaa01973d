"""Commands as data.

A `Command` is the argv of one external action, built by a pure function in this package
(kubectl.py, helm.py, docker.py, ...). It becomes a string only at the execution boundary
(`retail_deploy.execute`), through `shlex.join`, so user input is never spliced into a shell
string. Secret tokens are declared when the command is built, so every display of it
(echo, dry run, error) can mask them.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from retail_deploy import redact

MASK = redact.MASK
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\", "'": "\\'"}


def display_token(token: str) -> str:
    """One argv token as shown: shell-quoted, and a token holding a line break or another control
    character in bash's `$'...'` form, so a shown command (a dry-run line, an error) stays one line
    and still runs when pasted into bash."""
    if not _CONTROL.search(token):
        return shlex.quote(token)
    escaped = "".join(_ESCAPES.get(c, f"\\x{ord(c):02x}" if _CONTROL.match(c) else c) for c in token)
    return f"$'{escaped}'"


@dataclass(frozen=True)
class Command:
    """One external command: argv tokens plus the tokens that must never be shown."""

    argv: tuple[str, ...]
    secrets: frozenset[str] = field(default_factory=frozenset)
    # Read-only probes run even in a dry run and are not echoed as actions (docs/architecture.md,
    # "Public contract").
    read_only: bool = False
    # Seconds before the command is killed; None means the runner's default.
    timeout: float | None = None
    # Text fed to the command's stdin (e.g. a manifest for `kubectl apply -f -`); never echoed.
    stdin: str | None = None

    def __post_init__(self) -> None:
        if not self.argv:
            raise ValueError("a command needs at least one argv token")
        object.__setattr__(self, "argv", tuple(str(token) for token in self.argv))

    def shell(self) -> str:
        """The runnable shell string (secrets included): only for the execution boundary."""
        return shlex.join(self.argv)

    def display(self) -> str:
        """The shell string with every secret token (or secret substring) masked. Declared and
        registered secrets are masked in each token BEFORE shell quoting: a secret with a `'` is
        no longer itself once quoted."""
        # A token may hold a secret JSON-escaped or URL-encoded (a `curl --data` body): every form.
        secrets = sorted({form for s in self.secrets if s for form in (s, *redact.rendered_forms(s))},
                         key=len, reverse=True)

        def mask(token: str) -> str:
            for secret in secrets:
                token = token.replace(secret, MASK)
            return redact.mask(token)

        return " ".join(display_token(mask(token)) for token in self.argv)

    def __str__(self) -> str:  # never leak secrets through an f-string
        return self.display()


def cmd(*argv: object, secrets: frozenset[str] | set[str] = frozenset(), read_only: bool = False,
        timeout: float | None = None, stdin: str | None = None) -> Command:
    """Shorthand used by the argv builders: `cmd("kubectl", "get", "pods")`."""
    return Command(tuple(str(a) for a in argv), frozenset(secrets), read_only, timeout, stdin)


def in_directory_argv(directory: str, argv: Sequence[str], env: Sequence[tuple[str, str]] = ()) -> tuple[str, ...]:
    """`env -C DIR [NAME=VALUE...] ARGV...`: a program run in a directory with some variables set,
    without a shell string (a build step; the JDK Maven runs on)."""
    return ("env", "-C", directory, *(f"{name}={value}" for name, value in env), *argv)
