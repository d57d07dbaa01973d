"""The task namespace: one invoke Collection per runbook chapter (design section 2)."""

from __future__ import annotations

from invoke import Collection

from retail_deploy.tasks import build, config

ns = Collection()
for chapter in (build, config):
    ns.add_collection(chapter.ns)
