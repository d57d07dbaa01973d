"""Verify chapter (runbook 3 and 5): `verify.staging`, `verify.production`, `verify.development`."""

from __future__ import annotations

from typing import Any

from invoke import Collection

from retail_deploy.tasks._common import EnvironmentsHelp, load, task
from retail_deploy.tasks._kube import runner

VERSION_HELP = "the version that should be serving (default: whatever is deployed)"
ENV_HELP = "environment to verify, any target (default: {})"


def _verify(c: Any, env_name: str | None, version: str | None, config: str | None) -> None:
    """Verify `env_name` (None: the development default, see PlatformConfig.docker_environment)."""
    from retail_deploy import validate
    from retail_deploy.errors import OperationFailed

    if version is not None:
        validate.version(version)
    cfg = load(config)
    env = cfg.docker_environment(env_name) if env_name is None else cfg.environment(env_name)
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


@task(help={"version": VERSION_HELP, "env": EnvironmentsHelp(ENV_HELP.format("staging"))})
def staging(c, version=None, config=None, env=None):
    """Pods, rollout status, health checks, served version and recent log errors of staging."""
    _verify(c, env or "staging", version, config)


@task(help={"version": VERSION_HELP, "env": EnvironmentsHelp(ENV_HELP.format("production"))})
def production(c, version=None, config=None, env=None):
    """Pods, rollout status, health checks, served version and recent log errors of production."""
    _verify(c, env or "production", version, config)


@task(help={"version": VERSION_HELP,
            "env": EnvironmentsHelp(ENV_HELP.format("development, else the only Docker one"))})
def development(c, version=None, config=None, env=None):
    """Verify a Docker development environment: health checks and the version each service serves."""
    _verify(c, env, version, config)


ns = Collection("verify")
ns.add_task(staging)
ns.add_task(production)
ns.add_task(development)
