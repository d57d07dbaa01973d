"""Secrets are never printed: one process-wide registry of secret values, masked everywhere.

Configuration loading registers the values of secret environment variables; the execution
boundary, the task error handler and every report pass their text through `redact()`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

MASK = "***"
# Very short values would mask ordinary words and numbers; they are not plausible secrets.
_MIN_SECRET_LENGTH = 4
# Credentials embedded in URLs (mongodb://user:pass@host, https://user:pass@host).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<password>[^@/\s]+)@")

_lock = threading.Lock()
_secrets: set[str] = set()


def register(*values: str | None) -> None:
    """Remember secret values so that every later output masks them."""
    with _lock:
        for value in values:
            if value and len(value) >= _MIN_SECRET_LENGTH:
                _secrets.add(value)


def redact(text: str) -> str:
    """Mask every registered secret and every URL password in `text`."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)


def redact_data(value: Any) -> Any:
    """A JSON-able document with every string (keys too) masked, before it is rendered: a secret
    JSON-escaped in the output (a quote, a backslash, non-ASCII) would not match the raw value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact_data(k): redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value


def forget_all() -> None:
    """For tests: start from an empty registry."""
    with _lock:
        _secrets.clear()
