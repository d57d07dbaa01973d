"""Runbook chapter 1, "Build Artifacts": `build.service NAME`, `build.all` and `build.push` for any
platform config; `build.backend`, `build.consumer-web`, `build.admin-web` are the runbook's names
for the retail platform's services. Thin: parse options, load the platform config, call
retail_deploy.build.service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Collection

from retail_deploy.tasks._common import load, print_json, progress, task

if TYPE_CHECKING:
    from collections.abc import Callable

    from invoke.context import Context

    from retail_deploy.build.service import BuildReport

_HELP = {
    "version": "release version: the image tag, e.g. 1.4.2",
    "push": "tag for the registry and push once every image is built",
    "skip_tests": "leave out the build's test steps (those marked `tests: true`); never the default",
    "config": "platform config file (default: $RETAIL_DEPLOY_CONFIG, else config/retail-platform.yaml)",
}


def _build(c: Context, names: str | None, version: str | None, push: bool, skip_tests: bool,
           config: str | None, json: bool = False, task_name: str | None = None) -> None:
    from retail_deploy import validate
    from retail_deploy.build.service import build_services
    from retail_deploy.errors import InputError
    from retail_deploy.execute import Runner

    version = validate.version(version)
    cfg = load(config)
    if task_name and names not in cfg.services:
        # build.backend & co. are the retail platform's: another team's config has other services.
        raise InputError(f"{task_name} builds the service {names!r}, which {cfg.source.name} does not have; "
                         f"use build.service NAME ({', '.join(cfg.services)}) or build.all")
    services = cfg.select_services(names)
    with Runner(c, out=progress(json)) as runner:
        _reported(json, runner.dry, lambda: build_services(cfg, services, version, push=push, skip_tests=skip_tests,
                                                           runner=runner))


def _reported(json: bool, dry: bool, work: Callable[[], BuildReport]) -> None:
    """Run a build or push; with --json print its images and digests, also when it failed (exit 1)."""
    from retail_deploy.api import BuildResult
    from retail_deploy.build.service import BuildFailed

    try:
        report = work()
    except BuildFailed as failed:
        if json:
            print_json(BuildResult.from_report(failed.report, dry_run=dry))
        raise
    if json:
        print_json(BuildResult.from_report(report, dry_run=dry))


@task(help={**_HELP, "name": "the service to build: a name under `services:` in the platform config"})
def service(c, name, version=None, push=False, skip_tests=False, config=None, json=False):
    """Build one service of the platform config: its build steps, then docker build (and push)."""
    _build(c, name, version, push, skip_tests, config, json)


@task(help=_HELP)
def backend(c, version=None, push=False, skip_tests=False, config=None, json=False):
    """Retail platform: build.service backend (mvn clean test, mvn clean package, docker build)."""
    _build(c, "backend", version, push, skip_tests, config, json, "build.backend")


@task(help=_HELP)
def consumer_web(c, version=None, push=False, skip_tests=False, config=None, json=False):
    """Retail platform: build.service consumer-web (npm ci, npm test, npm run build, docker build)."""
    _build(c, "consumer-web", version, push, skip_tests, config, json, "build.consumer-web")


@task(help=_HELP)
def admin_web(c, version=None, push=False, skip_tests=False, config=None, json=False):
    """Retail platform: build.service admin-web (npm ci, npm test, npm run build, docker build)."""
    _build(c, "admin-web", version, push, skip_tests, config, json, "build.admin-web")


@task(name="all", help={**_HELP, "services": "comma-separated services to build (default: all in the config)"})
def build_all(c, version=None, push=False, skip_tests=False, services=None, config=None, json=False):
    """Build every service concurrently; push only when all built; print a summary table."""
    _build(c, services, version, push, skip_tests, config, json)


@task(help={"version": _HELP["version"], "config": _HELP["config"],
            "service": "push only this service (default: every service)"})
def push(c, version=None, service=None, config=None, json=False):
    """Tag and push images already built for VERSION; report the registry digests."""
    from retail_deploy import validate
    from retail_deploy.build.service import push_services
    from retail_deploy.execute import Runner

    version = validate.version(version)
    cfg = load(config)
    with Runner(c, out=progress(json)) as runner:
        _reported(json, runner.dry, lambda: push_services(cfg, cfg.select_services(service), version, runner=runner))


ns = Collection("build")
for _task in (service, backend, consumer_web, admin_web, build_all, push):
    ns.add_task(_task)
