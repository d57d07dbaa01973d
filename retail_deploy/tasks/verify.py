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
            _if_the_cluster_did_not_answer(env.name, report)
            failed = [f"{r.check} {r.target}" for r in report.rows if not r.ok]
            raise OperationFailed(f"{env.name} verification failed: {', '.join(failed)[:300]}")


def _if_the_cluster_did_not_answer(env_name: str, report: Any) -> None:
    """Exit 5, not 1, when no cluster read got an answer: nothing is known about the deployments
    (the HTTP checks alone cannot say what is deployed), and nothing was changed."""
    from retail_deploy.errors import DependencyUnavailable, says_no_answer

    cluster = [row for row in report.rows if row.check in ("deployment", "pods", "rollout")]
    if cluster and all(not row.ok and says_no_answer(row.detail) for row in cluster):
        raise DependencyUnavailable(f"the cluster of {env_name} did not answer ({cluster[0].detail}); "
                                    "nothing was verified")


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
