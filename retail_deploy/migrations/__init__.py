"""Database migrations: MongoDB runner with changelog, lock, backup and version-aware rollback.

Migration files import `Irreversible` from here. The environment-level functions (what tasks
and other chapters call) live in `service` and are re-exported lazily, so importing this
package (and `inv --list`) never imports pymongo.
"""

from __future__ import annotations

from typing import Any

from retail_deploy.migrations.connection import connect
from retail_deploy.migrations.discovery import Irreversible

_SERVICE = {"status", "format_status", "migrate", "verify", "rollback", "rollback_to_version", "backup",
            "restore", "unlock", "create", "pending_migrations", "irreversible_since", "target"}

__all__ = ["Irreversible", "connect", *sorted(_SERVICE)]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - lazily re-exported functions of several signatures
    if name in _SERVICE:
        from retail_deploy.migrations import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
