"""Secrets are never printed: one process-wide registry of secret values, masked everywhere.

Configuration loading registers the values of secret environment variables; the execution
boundary, the task error handler and every report pass their text through `redact()`.

A secret is masked at the source (`mask()` on an argv token, a JSON field, a URL part) before it
is rendered, and `redact()` also recognises every rendered form of it: shell-quoted (`shlex`),
JSON-escaped, URL-encoded and Python-repr'd. A value with `'`, `"`, `\\` or a space looks
different once rendered, so masking only the raw value would let those forms through
(docs/architecture.md, "Secrets").
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

MASK = "***"
# Very short values would mask ordinary words and numbers; they are not plausible secrets.
_MIN_SECRET_LENGTH = 4
# Credentials embedded in URLs (mongodb://user:pass@host, https://user:pass@host).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<password>[^@/\s]+)@")

_lock = threading.Lock()
_secrets: set[str] = set()
# Every form of every registered secret, longest first (what `redact()` replaces).
_forms: list[str] = []


def rendered_forms(secret: str) -> set[str]:
    """The ways a secret can appear once rendered: raw, inside a shell-quoted token
    (`'` becomes `'"'"'`), as a whole shell-quoted token, JSON-escaped (also ASCII-only),
    URL-encoded (path and form style), inside a Python repr, and as a shown argv token (`$'...'`
    when it holds a line break)."""
    import json
    import shlex
    from urllib.parse import quote, quote_plus

    from retail_deploy.commands import display_token  # commands imports this module

    forms = {
        secret,
        secret.replace("'", "'\"'\"'"),
        shlex.quote(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        repr(secret)[1:-1],
        display_token(secret),
    }
    return {form for form in forms if len(form) >= _MIN_SECRET_LENGTH}


def register(*values: str | None) -> None:
    """Remember secret values so that every later output masks them (in every rendered form)."""
    global _forms
    with _lock:
        added = False
        for value in values:
            if value and len(value) >= _MIN_SECRET_LENGTH and value not in _secrets:
                _secrets.add(value)
                added = True
        if added:
            _forms = sorted({form for secret in _secrets for form in rendered_forms(secret)}, key=len, reverse=True)


def mask(value: str) -> str:
    """Mask registered secrets in one raw value (an argv token, a JSON field, a URL part) before it
    is rendered: after quoting or escaping, the raw value may no longer be found."""
    if not value:
        return value
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        value = value.replace(secret, MASK)
    return value


def redact(text: str) -> str:
    """Mask every registered secret (in any rendered form) and every URL password in `text`."""
    if not text:
        return text
    with _lock:
        forms = _forms
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)


def redact_data(value: object) -> object:
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
    global _forms
    with _lock:
        _secrets.clear()
        _forms = []
