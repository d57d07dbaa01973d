"""Helpers shared by the Kubernetes chapter's tasks (deploy, verify, rollback, lock)."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from retail_deploy.errors import InputError

if TYPE_CHECKING:
    from invoke.context import Context

    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner


def kubernetes_env(cfg: PlatformConfig, name: str | None, task: str) -> EnvironmentConfig:
    env = cfg.environment(name)
    if env.target != "kubernetes":
        raise InputError(f"{task} works on Kubernetes; environment {env.name} is a {env.target} target "
                         f"(see {env.task('deploy')})")
    return env


def runner(c: Context, out: IO[str] | None = None) -> Runner:
    from retail_deploy.execute import Runner

    return Runner(c, out=out)
