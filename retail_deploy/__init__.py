"""retail-deploy: the Retail Agentic platform's deployment runbook as a library and invoke tasks.

The public API (docs/library.md) lives in `retail_deploy.api` (`from retail_deploy.api import build,
deploy, rollback`); its names are also importable from here, loaded on first use (module
`__getattr__`), so importing the package, and `inv --list`, stays fast and never imports docker,
requests, pymongo or fabric.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Three API names are also names of chapter packages or modules (retail_deploy/build/,
# history.py, kube/rollback.py): `from retail_deploy import history` must keep meaning the module, which the whole
# library relies on, so those three are only in `retail_deploy.api`. Everything else is here too.
_MODULE_NAMES = frozenset({"build", "history", "rollback"})

# retail_deploy.api.__all__ without those three (a test keeps the lists in step).
__all__ = [
    "load_platform", "PlatformConfig",
    "push", "deploy", "set_image", "wait_for_rollout", "verify", "smoke_test", "health_check",
    "migrate", "migration_status", "rollback_migrations", "lock_status", "evaluate_triggers", "status", "watch_status",
    "Image", "BuildResult", "ServiceState", "DeployResult", "Check", "VerifyResult", "EndpointResult",
    "HealthResult", "SmokeResult", "AppliedMigration", "MigrationStatus", "MigrationResult",
    "RollbackResult", "LockStatus", "HistoryEntry", "History", "TriggerReading", "TriggerReport", "PlatformStatus",
    "RetailDeployError", "OperationFailed", "InputError", "ConfigError", "RolledBack", "LockHeld",
    "DependencyUnavailable", "Interrupted", "EXIT_CODES",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - lazily re-exported classes and functions of api
    if name in __all__:
        from retail_deploy import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
