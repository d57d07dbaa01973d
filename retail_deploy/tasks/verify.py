"""Verify chapter (runbook 3 and 5): `verify.staging`, `verify.production`, `verify.development`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Collection

from retail_deploy.tasks._common import EnvironmentsHelp, load, print_json, progress, task
from retail_deploy.tasks._kube import runner

if TYPE_CHECKING:
    from invoke.context import Context

VERSION_HELP = "the version that should be serving (default: whatever is deployed)"
ENV_HELP = "environment to verify, any target (default: {})"


def _verify(c: Context, env_name: str | None, version: str | None, config: str | None, json: bool = False) -> None:
    """Verify `env_name` (None: the development default, see PlatformConfig.docker_environment)
    through its target (retail_deploy.targets), whatever the target is."""
    from retail_deploy import validate
    from retail_deploy.api import VerifyResult
    from retail_deploy.targets import VerifyFailed, target_for

    if version is not None:
        validate.version(version)
    cfg = load(config)
    env = cfg.docker_environment(env_name) if env_name is None else cfg.environment(env_name)
    with runner(c, out=progress(json)) as run:
        try:
            report = target_for(run, cfg, env).verify(version)
        except VerifyFailed as failed:
            if json:  # what was found, then exit 1 (5: the target did not answer), as health.check --json
                print_json(VerifyResult.from_report(failed.report, dry_run=run.dry))
            raise
        if json:
            print_json(VerifyResult.from_report(report, dry_run=run.dry))


@task(read_only=True, help={"version": VERSION_HELP, "env": EnvironmentsHelp(ENV_HELP.format("staging"))})
def staging(c, version=None, config=None, env=None, json=False):
    """Pods, rollout status, health checks, served version and recent log errors of staging."""
    _verify(c, env or "staging", version, config, json)


@task(read_only=True, help={"version": VERSION_HELP, "env": EnvironmentsHelp(ENV_HELP.format("production"))})
def production(c, version=None, config=None, env=None, json=False):
    """Pods, rollout status, health checks, served version and recent log errors of production."""
    _verify(c, env or "production", version, config, json)


@task(read_only=True, help={"version": VERSION_HELP,
            "env": EnvironmentsHelp(ENV_HELP.format("development, else the only Docker one"))})
def development(c, version=None, config=None, env=None, json=False):
    """Verify a Docker development environment: health checks and the version each service serves."""
    _verify(c, env, version, config, json)


ns = Collection("verify")
ns.add_task(staging)
ns.add_task(production)
ns.add_task(development)
