"""Verify chapter (runbook 3 and 5): `verify.staging`, `verify.production`, `verify.development`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Collection

from retail_deploy.tasks._common import EnvironmentsHelp, load, print_json, progress, task
from retail_deploy.tasks._kube import runner

if TYPE_CHECKING:
    from invoke.context import Context

    from retail_deploy.kube.verify import VerifyReport

VERSION_HELP = "the version that should be serving (default: whatever is deployed)"
ENV_HELP = "environment to verify, any target (default: {})"


def _verify(c: Context, env_name: str | None, version: str | None, config: str | None, json: bool = False) -> None:
    """Verify `env_name` (None: the development default, see PlatformConfig.docker_environment)."""
    from retail_deploy import validate
    from retail_deploy.errors import OperationFailed

    if version is not None:
        validate.version(version)
    cfg = load(config)
    env = cfg.docker_environment(env_name) if env_name is None else cfg.environment(env_name)
    from retail_deploy.api import VerifyResult

    with runner(c, out=progress(json)) as run:
        if env.target == "docker":
            from retail_deploy.docker import target as docker_target  # type: ignore[attr-defined,unused-ignore]

            try:
                docker_report = docker_target.verify(run, cfg, env, version=version)
            except docker_target.VerifyFailed as error:
                if json:  # what runs per service, then exit 1 (as health.check --json)
                    print_json(VerifyResult.from_docker(error.report, dry_run=run.dry))
                raise
            if json:
                print_json(VerifyResult.from_docker(docker_report, dry_run=run.dry))
            return
        from retail_deploy.kube import verify as kube_verify

        report = kube_verify.verify(run, cfg, env, version)
        if run.dry:
            return
        kube_verify.record(run, cfg, env, report)
        print(report.render(), file=run.out)
        if json:
            print_json(VerifyResult.from_kube(report, dry_run=False))
        if not report.ok:
            _if_the_cluster_did_not_answer(env.name, report)
            failed = [f"{r.check} {r.target}" for r in report.rows if not r.ok]
            raise OperationFailed(f"{env.name} verification failed: {', '.join(failed)[:300]}")


def _if_the_cluster_did_not_answer(env_name: str, report: VerifyReport) -> None:
    """Exit 5, not 1, when no cluster read got an answer: nothing is known about the deployments
    (the HTTP checks alone cannot say what is deployed), and nothing was changed."""
    from retail_deploy.errors import DependencyUnavailable, says_no_answer

    cluster = [row for row in report.rows if row.check in ("deployment", "pods", "rollout")]
    if cluster and all(not row.ok and says_no_answer(row.detail) for row in cluster):
        raise DependencyUnavailable(f"the cluster of {env_name} did not answer ({cluster[0].detail}); "
                                    "nothing was verified")


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
