"""Pure argv builders for Helm (3.12+): every command pins --kube-context and --namespace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retail_deploy import validate
from retail_deploy.commands import Command, cmd

HELM = "helm"
# Helm must outlive its own --timeout: killed at that moment, it would skip the --atomic rollback
# (or the rollback's wait) and leave the release pending-*, blocking every later upgrade.
GRACE_S = 120.0
PROBE_TIMEOUT_S = 60.0


def _outlives(timeout: str) -> float:
    return validate.duration(timeout, what="helm --timeout") + GRACE_S


def _pin(namespace: str, context: str | None) -> list[str]:
    pinned = ["--namespace", namespace]
    if context:
        pinned += ["--kube-context", context]
    return pinned


def upgrade_install(release: str, chart: str, *, namespace: str, context: str | None,
                    values: Mapping[str, str], values_files: Sequence[str] = (),
                    timeout: str = "5m", atomic: bool = True) -> Command:
    """The runbook's `helm upgrade --install` with `--atomic --wait --timeout`.

    `--atomic` (Helm 4: `--rollback-on-failure`) rolls the release back when the upgrade fails,
    and implies `--wait`, so a failed deploy never stays half-applied.
    """
    argv = [HELM, "upgrade", "--install", release, chart, *_pin(namespace, context)]
    for key, value in values.items():
        argv += ["--set", f"{key}={value}"]
    for path in values_files:
        argv += ["-f", path]
    if atomic:
        argv.append("--atomic")
    argv += ["--wait", "--timeout", timeout]
    # --atomic's rollback runs after the upgrade's timeout and waits as long again
    return cmd(*argv, timeout=2 * validate.duration(timeout, what="helm --timeout") + GRACE_S)


def status_json(release: str, *, namespace: str, context: str | None) -> Command:
    """`helm status REL -o json`: a probe (status may be deployed, failed or pending-*)."""
    return cmd(HELM, "status", release, *_pin(namespace, context), "-o", "json", read_only=True,
               timeout=PROBE_TIMEOUT_S)


def history_json(release: str, *, namespace: str, context: str | None) -> Command:
    return cmd(HELM, "history", release, *_pin(namespace, context), "-o", "json", read_only=True,
               timeout=PROBE_TIMEOUT_S)


def rollback(release: str, revision: int | None = None, *, namespace: str, context: str | None,
             timeout: str = "5m") -> Command:
    argv = [HELM, "rollback", release]
    if revision is not None:
        argv.append(str(revision))
    return cmd(*argv, *_pin(namespace, context), "--wait", "--timeout", timeout, timeout=_outlives(timeout))


def uninstall(release: str, *, namespace: str, context: str | None) -> Command:
    return cmd(HELM, "uninstall", release, *_pin(namespace, context), timeout=_outlives("5m"))


def repo_add(name: str, url: str) -> Command:
    """`helm repo add NAME URL` (environment setup); `--force-update` makes a re-run harmless."""
    return cmd(HELM, "repo", "add", name, url, "--force-update")


def repo_update() -> Command:
    return cmd(HELM, "repo", "update")
