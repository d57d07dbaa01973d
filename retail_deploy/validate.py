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


# File-system limits of Linux (NAME_MAX, PATH_MAX), in bytes: a longer name fails only when the
# file is written, after the work it would have saved was done.
_NAME_MAX = 255
_PATH_MAX = 4096
# A Kubernetes object name (DNS subdomain): pods, deployments, services.
_RESOURCE = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")


def path(text: str, *, what: str) -> str:
    """A path to write: refused when a part or the whole is longer than the file system allows."""
    if not text:
        raise InputError(f"{what} needs a path")
    encoded = text.encode("utf-8", "surrogateescape")
    if len(encoded) > _PATH_MAX:
        raise InputError(f"{what}: the path is {len(encoded)} bytes long; the file system allows {_PATH_MAX}")
    longest = max((part for part in encoded.split(b"/")), key=len)
    if len(longest) > _NAME_MAX:
        raise InputError(f"{what}: a name in the path is {len(longest)} bytes long; "
                         f"the file system allows {_NAME_MAX}")
    return text


def existing_file(text: str, *, what: str) -> str:
    """A file that must exist now (a CA bundle): refused in a dry run exactly as in a real one."""
    from pathlib import Path

    chosen = Path(path(text, what=what)).expanduser()
    if not chosen.is_file():
        problem = "is a directory" if chosen.is_dir() else "does not exist"
        raise InputError(f"{what} {text!r} {problem}: name a readable file")
    return str(chosen)


def existing_directory(text: str, *, what: str) -> str:
    """A directory that must exist now (a backup folder)."""
    from pathlib import Path

    chosen = Path(path(text, what=what)).expanduser()
    if not chosen.is_dir():
        problem = "is a file, not a directory" if chosen.exists() else "does not exist"
        raise InputError(f"{what} {text!r} {problem}: name a backup folder (see db.backup)")
    return str(chosen)


def resource_name(text: str, *, what: str) -> str:
    """A Kubernetes object name (pod, deployment): never a flag (`-rf`, `--help`) for kubectl."""
    if not _RESOURCE.fullmatch(text or ""):
        raise InputError(f"invalid {what} {text!r}: a Kubernetes name is lowercase letters, digits, "
                         "'-' and '.', starting and ending with a letter or digit")
    return text
