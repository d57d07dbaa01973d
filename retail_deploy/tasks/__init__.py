"""The task namespace: one invoke Collection per runbook chapter (design section 2)."""

from __future__ import annotations

from invoke import Collection

from retail_deploy.tasks import (
    build,
    checklist,
    config,
    db,
    health,
    monitor,
    troubleshoot,
)

ns = Collection()
for chapter in (  # in the runbook's order
    checklist,
    build,
    health,
    troubleshoot,
    db,
    monitor,
    config,
):
    ns.add_collection(chapter.ns)
