"""Verify chapter (runbook 3 and 5): `verify.staging`, `verify.production`, `verify.development`."""

from __future__ import annotations

from typing import Any

from invoke import Collection

from retail_deploy.tasks._common import load, task
from retail_deploy.tasks._kube import runner

VERSION_HELP = "the version that should be serving (default: whatever is deployed)"


def _verify(c: Any, env_name: str, version: str | None, config: str | None) -> None:
    from retail_deploy import validate
    from retail_deploy.errors import OperationFailed

    if version is not None:
        validate.version(version)
    cfg = load(config)
    env = cfg.environment(env_name)
    with runner(c) as run:
        if env.target == "docker":
            from retail_deploy import docker_target  # type: ignore[attr-defined,unused-ignore]

            docker_target.verify(run, cfg, env, version=version)
            return
        from retail_deploy import kube_verify

        report = kube_verify.verify(run, cfg, env, version)
        if run.dry:
            return
        kube_verify.record(run, cfg, env, report)
        print(report.render())
        if not report.ok:
            failed = [f"{r.check} {r.target}" for r in report.rows if not r.ok]
            raise OperationFailed(f"{env.name} verification failed: {', '.join(failed)[:300]}")


@task(read_only=True, help={"version": VERSION_HELP})
def staging(c, version=None, config=None):
    """Pods, rollout status, health checks, served version and backend log errors of staging."""
    _verify(c, "staging", version, config)


@task(read_only=True, help={"version": VERSION_HELP})
def production(c, version=None, config=None):
    """Pods, rollout status, health checks, served version and backend log errors of production."""
    _verify(c, "production", version, config)


@task(read_only=True, help={"version": VERSION_HELP})
def development(c, version=None, config=None):
    """Verify the local Docker development environment."""
    _verify(c, "development", version, config)


ns = Collection("verify")
ns.add_task(staging)
ns.add_task(production)
ns.add_task(development)
