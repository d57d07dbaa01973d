"""Pre-deployment checklist chapter: `checklist.pre-deploy`."""

from __future__ import annotations

import sys

from invoke import Collection

from retail_deploy.tasks._common import load, task


@task(
    plans_reads=True,
    iterable=["ack"],
    help={
        "ack": "confirm a checklist item a person must confirm (repeatable), e.g. --ack code-review",
        "notify": "notify the on-call and support teams through the configured channels",
    },
)
def pre_deploy(c, env=None, version=None, ack=None, notify=False, config=None):
    """Run the runbook's pre-deployment checklist for a version and environment.

    A dry run reads only what it prints as `$` lines (git, kubectl): the registry, Prometheus and
    the database are named and not contacted, and the table ends with what a real run would stop on.
    """
    from retail_deploy import validate
    from retail_deploy.checklist.gate import gate
    from retail_deploy.execute import Runner

    version = validate.version(version)
    cfg = load(config)
    environment = cfg.environment(env)
    with Runner(c) as runner:
        gate(runner, cfg, environment, version, acks=tuple(ack or ()), notify=notify,
             interactive=sys.stdin.isatty())


ns = Collection("checklist")
ns.add_task(pre_deploy)
