"""Deploy chapter (runbook 2 and 4): `deploy.staging`, `deploy.production`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from invoke import Collection

from retail_deploy.errors import InputError, OperationFailed
from retail_deploy.setup.platform import dashboards
from retail_deploy.tasks._common import (
    DEPLOY_EXITS,
    EnvironmentsHelp,
    confirm,
    load,
    print_json,
    progress,
    task,
)
from retail_deploy.tasks._kube import kubernetes_env, runner
from retail_deploy.tasks.deploy_docker import development

if TYPE_CHECKING:
    from invoke.context import Context

    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner

SERVICES_HELP = "comma-separated services to deploy (default: all)"
BUILD_HELP = "build and push the images first (the Build chapter)"


@dataclass(frozen=True)
class Gate:
    """The pre-deployment checklist in front of a deploy, with the person's answers."""

    acks: tuple[str, ...] = ()
    force: str | None = None  # the reason to go on although the checklist is not satisfied
    notify: bool = False


def _deploy(c: Context, env: EnvironmentConfig, cfg: PlatformConfig, version: str, *, strategy: str | None,
            method: str | None, build: bool, yes: bool, services: str | None, gate: Gate | None = None,
            json: bool = False) -> None:
    """Deploy `version` to `env` with its role's procedure: a production-role environment gets the
    checklist gate (`gate`), the confirmation and `--force`, whatever it is called."""
    from retail_deploy import validate
    from retail_deploy.api import DeployResult
    from retail_deploy.checklist.gate import production_gate
    from retail_deploy.kube import deployer
    from retail_deploy.targets import VerifyFailed
    from retail_deploy.targets.policy import guarded

    if method is not None:
        validate.choice(method, deployer.METHODS, what="method")
    if strategy is not None:
        validate.choice(strategy, deployer.STRATEGIES, what="strategy")
    if env.production and gate is None:  # never reached through the tasks (environment_of_role)
        raise InputError(f"{env.name} has the production role: deploy it with {env.task('deploy')}")
    gate = gate or Gate()
    if env.production:
        from retail_deploy.checklist.items import check_acks

        check_acks(gate.acks)  # the dry run refuses what the real run refuses
    chosen = [s.name for s in cfg.select_services(services)]
    with runner(c, out=progress(json)) as run:
        policy = guarded(run, cfg, env)  # lock, audit record, notifications: the deploy seam's policy
        # Asked first: without a terminal and without --yes this refuses before any probe.
        if (env.production or env.confirm) and not run.dry:
            confirm(f"Deploy {version} to {env.name} ({policy.target.where}, "
                    f"{strategy or env.strategy})?", yes=yes)
        if env.production and not run.dry:
            policy.ensure_free()  # exit 4 before the slower checklist and build
        if build:  # before the checklist, which asks whether the release images are in the registry
            _build(run, cfg, chosen, version)
        forced = None
        if env.production:
            import sys

            forced = production_gate(run, cfg, env, version, acks=gate.acks, notify=gate.notify, force=gate.force,
                                     interactive=sys.stdin.isatty())
        outcome = policy.deploy(version, strategy=strategy, method=method, services=chosen, forced=forced)
        kind = policy.target.kind
        if run.dry:
            run.say(f"then: inv {env.task('verify')} --version {version}")
            if json:
                print_json(DeployResult.from_report(outcome, target=kind, dry_run=True))
            return
        where = f" (traffic on {outcome.colour})" if outcome.colour else ""
        try:  # only the services just deployed are expected at the new version (--services)
            report = policy.target.verify(version, services=chosen)
        except VerifyFailed as failed:
            if json:
                print_json(DeployResult.from_report(outcome, target=kind, dry_run=False, verified=failed.report))
            raise OperationFailed(f"{version} is deployed to {env.name}{where} but verification failed; "
                                  f"see the report above, or roll back: inv rollback.undo --env {env.name}") from failed
        if json:
            print_json(DeployResult.from_report(outcome, target=kind, dry_run=False, verified=report))
        print(f"deployed {version} to {env.name}{where}", file=run.out)
        for title, url in list(dashboards(cfg).items())[:1]:
            print(f"monitor the metrics: {title} {url}", file=run.out)


def _build(run: Runner, cfg: PlatformConfig, services: list[str], version: str) -> None:
    from retail_deploy.build.service import build_services

    build_services(cfg, [cfg.services[name] for name in services], version, push=True, runner=run)


@task(exits=DEPLOY_EXITS, help={"method": "helm or kubectl (default: the environment's method)", "build": BUILD_HELP,
            "services": SERVICES_HELP,
            "env": EnvironmentsHelp("a Kubernetes environment of the staging (or development) role "
                                    "(default: staging, else the only staging one)"),
            # Staging asks only when its config says `confirm: true`; help must say what happens.
            "yes": "do not ask for confirmation; staging asks only if the config sets confirm: true "
                   "(then --yes is required without a terminal)"})
def staging(c, version=None, method=None, build=False, yes=False, config=None, services=None, env=None, json=False):
    """Deploy VERSION to staging (Helm upgrade --atomic, or kubectl set image), then verify.

    Any Kubernetes environment whose role is staging or development; a production-role one is
    refused (exit 2): it is deployed by deploy.production, with its checklist and confirmation.
    """
    from retail_deploy import validate

    validate.version(version)
    cfg = load(config)
    environment = cfg.environment_of_role(env, ("staging", "development"), "deploy.staging")
    kubernetes_env(cfg, environment.name, "deploy.staging")
    _deploy(c, environment, cfg, version, strategy="rolling", method=method, build=build, yes=yes,
            services=services, json=json)


@task(iterable=["ack"], exits=DEPLOY_EXITS,
      help={"strategy": "blue-green or rolling (default: the environment's strategy)", "build": BUILD_HELP,
            "services": SERVICES_HELP,
            "ack": "confirm a pre-deployment checklist item (repeatable), e.g. --ack load-test",
            "force": "deploy although the checklist is not satisfied; give the reason (kept in the history)",
            "notify": "notify the on-call and support teams before deploying",
            "env": EnvironmentsHelp("an environment of the production role (default: production, "
                                    "else the only production one)")})
def production(c, version=None, strategy=None, build=False, yes=False, config=None, services=None, ack=None,
               force=None, notify=False, json=False, env=None):
    """Deploy VERSION to a production-role environment: checklist first; asks unless --yes.

    The checklist gate, the confirmation and --force apply to every environment whose role is
    production (`role:` in the config, by default from its name), whatever it is called.
    """
    from retail_deploy import validate

    validate.version(version)
    if force is not None and not force.strip():
        raise InputError("--force needs a reason, e.g. --force 'hotfix for incident 42'")
    cfg = load(config)
    environment = cfg.environment_of_role(env, ("production",), "deploy.production")
    # kubectl: the production procedure on Kubernetes (a Docker engine's target ignores it).
    _deploy(c, environment, cfg, version, strategy=strategy, method="kubectl", build=build, yes=yes,
            services=services, gate=Gate(tuple(ack or ()), force, notify), json=json)


ns = Collection("deploy")
ns.add_task(development)
ns.add_task(staging)
ns.add_task(production)
