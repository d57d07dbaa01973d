"""Helpers shared by the Kubernetes chapter's tasks (deploy, verify, rollback, lock)."""

from __future__ import annotations

from typing import Any

from retail_deploy.errors import InputError


def kubernetes_env(cfg: Any, name: str | None, task: str) -> Any:
    env = cfg.environment(name)
    if env.target != "kubernetes":
        raise InputError(f"{task} works on Kubernetes; environment {env.name} is a {env.target} target "
                         f"(see {env.task('deploy')})")
    return env


def runner(c: Any) -> Any:
    from retail_deploy.execute import Runner

    return Runner(c)
