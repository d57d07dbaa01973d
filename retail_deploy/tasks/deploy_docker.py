"""`deploy.development`: build, push and deploy to a Docker engine (the runbook's localhost environment).

Thin: parse options, load the platform config, call `retail_deploy.build.service` then
`retail_deploy.docker.target`. The task is part of the `deploy` collection (tasks/deploy.py).
"""

from __future__ import annotations

from retail_deploy.tasks._common import DEPLOY_EXITS, EnvironmentsHelp, load, print_json, progress, task


@task(exits=DEPLOY_EXITS, help={
    "version": "release version: the image tag, e.g. 1.0.0",
    "build": "build and push the images first (default); --no-build deploys images already in the registry",
    "services": "comma-separated services to deploy (default: all)",
    "skip_tests": "leave out the build's test steps (never the default)",
    "env": EnvironmentsHelp("a Docker-target environment of the platform config (default: development, "
                            "else the only Docker one)"),
})
def development(c, version=None, build=True, services=None, skip_tests=False, env=None, config=None,
                json=False):
    """Build, push, then deploy VERSION to the Docker engine of the development environment.

    Each new container must pass its health checks before it replaces the running one; if one
    fails, the old containers keep serving and the task exits 3 with the reason. An environment
    of the production role is refused (exit 2): deploy.production --env E deploys it.
    """
    from retail_deploy import validate
    from retail_deploy.docker import target as docker_target
    from retail_deploy.errors import InputError
    from retail_deploy.execute import Runner
    from retail_deploy.targets.policy import guarded

    version = validate.version(version)
    cfg = load(config)
    environment = cfg.docker_environment(env)
    if environment.production:  # the checklist gate and the confirmation follow the role
        raise InputError(f"{environment.name} has the production role: deploy it with "
                         f"{environment.task('deploy')} (checklist and confirmation first)")
    if environment.docker is None:  # the build below needs the engine's docker: section
        raise InputError(f"environment {environment.name} is a {environment.target} target, not a Docker "
                         f"engine: use {environment.task('deploy')}")
    settings = docker_target.docker_settings(environment)
    chosen = cfg.select_services(services)
    with Runner(c, out=progress(json)) as runner:
        if build:
            from retail_deploy.build.service import build_services

            # With a registry the images travel through it (a remote engine pulls them); without
            # one they are built directly on the target engine.
            push = bool(cfg.registry.host)
            build_services(cfg, chosen, version, push=push, skip_tests=skip_tests, runner=runner,
                           docker_host=None if push else settings.host)
        # Images just built on the target engine itself need no pull from the registry.
        built_here = build and (settings.host is None or not cfg.registry.host)
        # Lock, audit record and notification: the seam's policy, as on every target.
        policy = guarded(runner, cfg, environment)
        report = policy.deploy(version, services=[s.name for s in chosen], pull=not built_here)
    if json:
        from retail_deploy.api import DeployResult

        print_json(DeployResult.from_report(report, target=policy.target.kind, dry_run=runner.dry))
