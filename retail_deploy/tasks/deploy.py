"""Deploy chapter (runbook 2 and 4): `deploy.staging`, `deploy.production`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from invoke import Collection

from retail_deploy.errors import InputError, OperationFailed
from retail_deploy.setup.platform import dashboards
from retail_deploy.tasks._common import EnvironmentsHelp, confirm, load, print_json, progress, task
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


def _deploy(c: Context, env_name: str, version: str, *, strategy: str | None, method: str | None, build: bool,
            yes: bool, config: str | None, services: str | None, ask: bool, gate: Gate | None = None,
            json: bool = False) -> None:
    from retail_deploy import validate
    from retail_deploy.api import DeployResult
    from retail_deploy.kube import deployer
    from retail_deploy.targets import VerifyFailed
    from retail_deploy.targets.policy import guarded

    validate.version(version)
    if method is not None:
        validate.choice(method, deployer.METHODS, what="method")
    if strategy is not None:
        validate.choice(strategy, deployer.STRATEGIES, what="strategy")
    if gate is not None and gate.force is not None and not gate.force.strip():
        raise InputError("--force needs a reason, e.g. --force 'hotfix for incident 42'")
    if gate is not None:  # the dry run skips the checklist but must refuse what the real run refuses
        from retail_deploy.checklist.items import check_acks

        check_acks(gate.acks)
    cfg = load(config)
    env = kubernetes_env(cfg, env_name, "deploy.production" if gate is not None else "deploy.staging")
    chosen = [s.name for s in cfg.select_services(services)]
    with runner(c, out=progress(json)) as run:
        policy = guarded(run, cfg, env)  # lock, audit record, notifications: the deploy seam's policy
        # Asked first: without a terminal and without --yes this refuses before any probe.
        if (ask or env.confirm) and not run.dry:
            confirm(f"Deploy {version} to {env.name} ({policy.target.where}, "
                    f"{strategy or env.strategy})?", yes=yes)
        if gate is not None and not run.dry:
            policy.ensure_free()  # exit 4 before the slower checklist and build
        if build:  # before the checklist, which asks whether the release images are in the registry
            _build(run, cfg, chosen, version)
        forced = _checklist(run, cfg, env, version, gate) if gate is not None else None
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


def _checklist(run: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str, gate: Gate) -> str | None:
    """Run the checklist (exit 2 when not satisfied, unless forced); the forcing reason, if used."""
    if run.dry:
        # The checklist asks the registry, git, Prometheus and the cluster: a plan stays quick.
        run.say(f"first the pre-deployment checklist: inv checklist.pre-deploy --env {env.name} "
                f"--version {version}")
        return None
    import sys

    from retail_deploy.checklist.gate import gate as checklist_gate

    report = checklist_gate(run, cfg, env, version, acks=gate.acks, notify=gate.notify, force=gate.force,
                            interactive=sys.stdin.isatty())
    return None if report.ok else gate.force


def _build(run: Runner, cfg: PlatformConfig, services: list[str], version: str) -> None:
    from retail_deploy.build.service import build_services

    build_services(cfg, [cfg.services[name] for name in services], version, push=True, runner=run)


@task(help={"method": "helm or kubectl (default: the environment's method)", "build": BUILD_HELP,
            "services": SERVICES_HELP,
            "env": EnvironmentsHelp("a Kubernetes environment deployed the staging way (default: staging)"),
            # Staging asks only when its config says `confirm: true`; help must say what happens.
            "yes": "do not ask for confirmation; staging asks only if the config sets confirm: true "
                   "(then --yes is required without a terminal)"})
def staging(c, version=None, method=None, build=False, yes=False, config=None, services=None, env=None, json=False):
    """Deploy VERSION to staging (Helm upgrade --atomic, or kubectl set image), then verify."""
    _deploy(c, env or "staging", version, strategy="rolling", method=method, build=build, yes=yes, config=config,
            services=services, ask=False, json=json)


@task(iterable=["ack"],
      help={"strategy": "blue-green or rolling (default: the environment's strategy)", "build": BUILD_HELP,
            "services": SERVICES_HELP,
            "ack": "confirm a pre-deployment checklist item (repeatable), e.g. --ack load-test",
            "force": "deploy although the checklist is not satisfied; give the reason (kept in the history)",
            "notify": "notify the on-call and support teams before deploying"})
def production(c, version=None, strategy=None, build=False, yes=False, config=None, services=None, ack=None,
               force=None, notify=False, json=False):
    """Deploy VERSION to production (blue-green by default): checklist first; asks unless --yes."""
    _deploy(c, "production", version, strategy=strategy, method="kubectl", build=build, yes=yes,
            config=config, services=services, ask=True, gate=Gate(tuple(ack or ()), force, notify), json=json)


ns = Collection("deploy")
ns.add_task(development)
ns.add_task(staging)
ns.add_task(production)
