"""The task namespace: one invoke Collection per runbook chapter (docs/architecture.md, "Tasks")."""

from __future__ import annotations

from invoke import Collection

from retail_deploy.tasks import (
    build,
    checklist,
    config,
    db,
    deploy,
    health,
    lock,
    monitor,
    ops,
    rollback,
    setup,
    status,
    troubleshoot,
    verify,
)

ns = Collection()
for chapter in (  # in the runbook's order
    setup,
    checklist,
    build,
    deploy,
    verify,
    rollback,
    lock,
    health,
    troubleshoot,
    db,
    monitor,
    config,
    ops,
):
    ns.add_collection(chapter.ns)
ns.add_task(status.status)  # `status` spans every chapter: a root-level task
