"""Deploy chapter (runbook 2 and 4): `deploy.staging`, `deploy.production`."""

from __future__ import annotations

from typing import Any

from invoke import Collection

from retail_deploy.tasks._common import confirm, load, task
from retail_deploy.tasks._kube import kubernetes_env, runner

SERVICES_HELP = "comma-separated services to deploy (default: all)"
BUILD_HELP = "build and push the images first (the Build chapter)"


def _deploy(c: Any, env_name: str, version: str, *, strategy: str | None, method: str | None, build: bool,
            yes: bool, config: str | None, services: str | None, ask: bool) -> None:
    from retail_deploy import deployer, kube_verify, validate

    validate.version(version)
    if method is not None:
        validate.choice(method, deployer.METHODS, what="method")
    if strategy is not None:
        validate.choice(strategy, deployer.STRATEGIES, what="strategy")
    cfg = load(config)
    env = kubernetes_env(cfg, env_name, f"deploy.{env_name}")
    chosen = [s.name for s in cfg.select_services(services)]
    with runner(c) as run:
        if (ask or env.confirm) and not run.dry:
            confirm(f"Deploy {version} to {env.name} ({env.kube_context}/{env.namespace}, "
                    f"{strategy or env.strategy})?", yes=yes)
        if build:
            _build(run, cfg, chosen, version)
        outcome = deployer.deploy(run, cfg, env, version, strategy=strategy, method=method, services=chosen)
        if run.dry:
            run.say(f"then: inv verify.{env.name} --version {version}")
            return
        report = kube_verify.verify(run, cfg, env, version)
        print(report.render())
        where = f" (traffic on {outcome.colour})" if outcome.colour else ""
        if not report.ok:
            from retail_deploy.errors import OperationFailed

            raise OperationFailed(f"{version} is deployed to {env.name}{where} but verification failed; "
                                  f"see the report above, or roll back: inv rollback.undo --env {env.name}")
        print(f"deployed {version} to {env.name}{where}")


def _build(run: Any, cfg: Any, services: list[str], version: str) -> None:
    from retail_deploy.build import build_services

    build_services(cfg, [cfg.services[name] for name in services], version, push=True, runner=run)


@task(help={"method": "helm or kubectl (default: the environment's method)", "build": BUILD_HELP,
            "services": SERVICES_HELP})
def staging(c, version=None, method=None, build=False, yes=False, config=None, services=None):
    """Deploy VERSION to staging (Helm upgrade --atomic, or kubectl set image), then verify."""
    _deploy(c, "staging", version, strategy="rolling", method=method, build=build, yes=yes, config=config,
            services=services, ask=False)


@task(help={"strategy": "blue-green or rolling (default: the environment's strategy)", "build": BUILD_HELP,
            "services": SERVICES_HELP})
def production(c, version=None, strategy=None, build=False, yes=False, config=None, services=None):
    """Deploy VERSION to production (blue-green by default); asks first unless --yes."""
    _deploy(c, "production", version, strategy=strategy, method="kubectl", build=build, yes=yes,
            config=config, services=services, ask=True)


ns = Collection("deploy")
ns.add_task(staging)
ns.add_task(production)
