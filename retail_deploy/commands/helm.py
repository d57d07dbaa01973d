"""Pure argv builders for Helm (3.12+): every command pins --kube-context and --namespace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retail_deploy.commands import Command, cmd

HELM = "helm"


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
    return cmd(*argv)


def status_json(release: str, *, namespace: str, context: str | None) -> Command:
    """`helm status REL -o json`: a probe (status may be deployed, failed or pending-*)."""
    return cmd(HELM, "status", release, *_pin(namespace, context), "-o", "json", read_only=True)


def history_json(release: str, *, namespace: str, context: str | None) -> Command:
    return cmd(HELM, "history", release, *_pin(namespace, context), "-o", "json", read_only=True)


def rollback(release: str, revision: int | None = None, *, namespace: str, context: str | None,
             timeout: str = "5m") -> Command:
    argv = [HELM, "rollback", release]
    if revision is not None:
        argv.append(str(revision))
    return cmd(*argv, *_pin(namespace, context), "--wait", "--timeout", timeout)


def uninstall(release: str, *, namespace: str, context: str | None) -> Command:
    return cmd(HELM, "uninstall", release, *_pin(namespace, context))


def repo_add(name: str, url: str) -> Command:
    """`helm repo add NAME URL` (environment setup); `--force-update` makes a re-run harmless."""
    return cmd(HELM, "repo", "add", name, url, "--force-update")


def repo_update() -> Command:
    return cmd(HELM, "repo", "update")
