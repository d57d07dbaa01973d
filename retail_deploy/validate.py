"""Input validation: refuse bad input with one clear line (exit 2) before anything runs."""

from __future__ import annotations

import re
from collections.abc import Iterable

from retail_deploy.errors import InputError

# Docker's tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. It also keeps every version safe as a
# single argv token and inside a Kubernetes label value.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# Service and environment names: the shape of a Kubernetes object name.
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def version(text: str | None, *, what: str = "version") -> str:
    """Return `text` if it is a valid Docker image tag, else raise InputError."""
    if text is None or text == "":
        # Advise the option that works: `rollback.db --version` would be invoke's own flag.
        option = what if what.startswith("--") else "--version"
        raise InputError(f"missing {what}: pass {option}, e.g. {option} 1.4.2")
    if not _TAG.fullmatch(text):
        raise InputError(
            f"invalid {what} {text!r}: a Docker tag is 1-128 characters of letters, digits, '_', '.', '-' "
            "and must not start with '.' or '-'"
        )
    return text


def name(text: str, *, what: str) -> str:
    if not _NAME.fullmatch(text or ""):
        raise InputError(f"invalid {what} {text!r}: use lowercase letters, digits and '-'")
    return text


def choice(text: str, allowed: Iterable[str], *, what: str) -> str:
    options = list(allowed)
    if text not in options:
        raise InputError(f"unknown {what} {text!r} (known: {', '.join(options) or 'none'})")
    return text


def duration(text: str | float | int, *, what: str = "duration") -> float:
    """Parse '90', '30s', '5m', '1h', '500ms' into seconds."""
    if isinstance(text, bool):
        raise InputError(f"invalid {what} {text!r}: expected e.g. 30s, 5m, 1h")
    if isinstance(text, int | float):
        if text < 0:
            raise InputError(f"invalid {what} {text!r}: must not be negative")
        return float(text)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", str(text))
    if not match:
        raise InputError(f"invalid {what} {text!r}: expected e.g. 30s, 5m, 1h")
    value = float(match.group(1))
    return value * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[match.group(2)]


def port(value: int | str, *, what: str = "port") -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"invalid {what} {value!r}: expected a number from 1 to 65535") from None
    if not 1 <= number <= 65535:
        raise InputError(f"invalid {what} {number}: expected a number from 1 to 65535")
    return number
