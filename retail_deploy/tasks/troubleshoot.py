"""Troubleshooting chapter: the runbook's "Common Issues", one read-only task each.

Each task runs the runbook's diagnostic kubectl commands (pinned to the environment's context and
namespace), prints the likely cause, and saves the full report (every command and its output)
under ./reports/ or --output. Evidence that could not be read is named ("Could not read: ...");
with no cause found and evidence unread, the task exits 5: that is never an all-clear. Remedies are printed as exact commands and run only with --fix,
after confirmation (--yes to skip it where there is no terminal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Collection

from retail_deploy.tasks._common import confirm, load, task

if TYPE_CHECKING:
    from collections.abc import Callable

    from invoke.context import Context

    from retail_deploy.commands.kubectl import Kube
    from retail_deploy.config import EnvironmentConfig, PlatformConfig, ServiceConfig
    from retail_deploy.troubleshoot.diagnose import Probe, Report

    # (probe, kube, environment, service, serving deployment) -> the report of one runbook issue
    Diagnosis = Callable[[Probe, Kube, EnvironmentConfig, ServiceConfig, str], Report]

COMMON = {
    "service": "service to diagnose (default: the first declaring `dependencies`, else the first)",
    "output": "file for the full report (default: ./reports/troubleshoot-<task>-<env>-<time>.txt)",
    "fix": "apply the remedies the report proposes (asks for confirmation)",
    "yes": "with --fix: do not ask for confirmation",
    "request_timeout": "kubectl --request-timeout for each command (default: the environment's "
                       "kube.request_timeout, else 30s)",
}


def _help(**extra: str) -> dict[str, str]:
    return {**COMMON, **extra}


@task(read_only=True, help=_help(pod="pod to diagnose (default: the service's crash-looping or unready pods)"))
def crashloop(c, env=None, config=None, pod=None, service=None, output=None, fix=False, yes=False,
              request_timeout=None):
    """Pod CrashLoopBackOff: describe the failing pods and read their previous logs."""
    from retail_deploy import validate
    from retail_deploy.troubleshoot import diagnose as troubleshoot

    if pod is not None:
        validate.resource_name(pod, what="--pod")
    _run(c, config, env, service, output, fix, yes, request_timeout,
         lambda probe, kube, environment, svc, _deployment: troubleshoot.crashloop(
             probe, kube, environment.name, selector=f"app={svc.app_label}", pod=pod))


@task(read_only=True, help=_help(tail="log lines per pod to read (default 500)",
                 replicas="replica count the scale-up remedy proposes (default 5)"))
def errors(c, env=None, config=None, service=None, tail=500, replicas=5, output=None, fix=False, yes=False,
           request_timeout=None):
    """High error rate: grouped error lines, rollout history, resource use; remedy: scale up."""
    from retail_deploy.troubleshoot import diagnose as troubleshoot

    tail, replicas = _at_least(tail, 1, "--tail"), _at_least(replicas, 1, "--replicas")
    _run(c, config, env, service, output, fix, yes, request_timeout,
         lambda probe, kube, environment, svc, deployment: troubleshoot.errors(
             probe, kube, environment.name, selector=f"app={svc.app_label}", deployment=deployment,
             tail=tail, scale_to=replicas))


@task(read_only=True, help=_help())
def db(c, env=None, config=None, service=None, output=None, fix=False, yes=False, request_timeout=None):
    """Database connection issues: actuator health, MongoDB and Redis pings, connection pool messages."""
    from retail_deploy.troubleshoot import diagnose as troubleshoot

    def diagnose(probe, kube, environment, svc, deployment):
        components = list(svc.raw.str_list("dependencies", ())) or ["mongo", "redis"]
        return troubleshoot.db(probe, kube, environment.name, deployment=deployment,
                               selector=f"app={svc.app_label}", components=components, port=svc.port)

    _run(c, config, env, service, output, fix, yes, request_timeout, diagnose)


@task(read_only=True, help=_help(mongo_deployment="MongoDB deployment for the slow-query check (default mongodb)",
                 redis_deployment="Redis deployment for the latency check (default redis)",
                 replicas="replica count the scale-out remedy proposes (default 10)"))
def latency(c, env=None, config=None, service=None, mongo_deployment="mongodb", redis_deployment="redis",
            replicas=10, output=None, fix=False, yes=False, request_timeout=None):
    """High latency: pod resource use against limits, slow MongoDB operations, Redis latency."""
    from retail_deploy.troubleshoot import diagnose as troubleshoot

    replicas = _at_least(replicas, 1, "--replicas")
    _run(c, config, env, service, output, fix, yes, request_timeout,
         lambda probe, kube, environment, svc, deployment: troubleshoot.latency(
             probe, kube, environment.name, selector=f"app={svc.app_label}", deployment=deployment,
             mongo_deployment=mongo_deployment, redis_deployment=redis_deployment, scale_to=replicas))


@task(read_only=True, help=_help(days="report certificates expiring within this many days (default 14)"))
def certs(c, env=None, config=None, days=14, service=None, output=None, fix=False, yes=False,
          request_timeout=None):
    """SSL/TLS: cert-manager certificates expired, expiring within --days, or not Ready; remedy: re-issue."""
    from retail_deploy.troubleshoot import diagnose as troubleshoot

    days = _at_least(days, 0, "--days")
    _run(c, config, env, service, output, fix, yes, request_timeout,
         lambda probe, kube, environment, _svc, _deployment: troubleshoot.certs(
             probe, kube, environment.name, days=days))


# --- shared flow: resolve, diagnose (read-only), report, save, optionally fix ---------------------

def _run(c: Context, config: str | None, env: str | None, service: str | None, output: str | None, fix: bool,
         yes: bool, request_timeout: str | None, diagnose: Diagnosis) -> None:
    from dataclasses import replace

    from retail_deploy import validate
    from retail_deploy.errors import InputError, OperationFailed
    from retail_deploy.execute import Runner
    from retail_deploy.kube.settings import kube_env
    from retail_deploy.troubleshoot import diagnose as troubleshoot

    if request_timeout is not None and validate.duration(request_timeout, what="--request-timeout") <= 0:
        # kubectl reads 0 as "no timeout": a diagnosis could then hang on an unreachable API server.
        raise InputError(f"--request-timeout {request_timeout}: must be more than 0, e.g. 30s")
    if output is not None:
        validate.path(output, what="--output")
    cfg = load(config)
    environment = cfg.environment(env)
    if environment.target != "kubernetes":
        raise InputError(f"troubleshooting reads a Kubernetes cluster; {environment.name} is a "
                         f"{environment.target} environment")
    svc = _service(cfg, service)
    kenv = kube_env(cfg, environment)
    kube = replace(kenv.kube, request_timeout=str(request_timeout)) if request_timeout else kenv.kube
    with Runner(c) as runner:
        probe = troubleshoot.runner_probe(runner)
        deployment = troubleshoot.serving_deployment(probe, replace(kenv, kube=kube), svc.name)
        report = diagnose(probe, kube, environment, svc, deployment)
        for line in report.summary():
            print(line)
        # A dry run writes nothing, not even the local report file.
        path = None if runner.dry else report.save(output)
        print(f"Full report: {path}" if path else "# dry run: report not saved")
        if report.remedies and fix:
            if runner.dry:
                for command in report.remedies:
                    runner.run(command)
                return
            confirm(f"Apply {len(report.remedies)} remedy command(s) to {environment.name}?", yes=yes)
            for command in report.remedies:
                runner.run(command)
        elif fix:
            print("Nothing to fix: no remedy applies to what was found.")
    failed = [s for s in report.sections if s.exit_code != 0]
    if failed and len(failed) == len(report.sections):
        from retail_deploy.errors import DependencyUnavailable, says_no_answer

        if all(s.exit_code is None or says_no_answer(s.output) for s in failed):  # exit 5: nothing known
            raise DependencyUnavailable(f"the cluster of {environment.name} did not answer (first: {failed[0].command}); "
                                        f"see {path or 'the output above'}")
        raise OperationFailed(f"every diagnostic command failed on {environment.name} (first: {failed[0].command}); "
                              f"see {path or 'the output above'}")
    if report.inconclusive:  # never a false all-clear: nothing found, and not everything was read
        from retail_deploy.errors import DependencyUnavailable

        raise DependencyUnavailable(f"troubleshoot.{report.kind} on {environment.name} could not read its evidence "
                                    f"({report.unread[0]}); no conclusion, see {path or 'the output above'}")


def _at_least(value: int | str, minimum: int, option: str) -> int:
    """An integer option, refused (exit 2, before any command) below `minimum`: `--replicas 0` would
    make the scale-up remedy take the service down."""
    if int(value) < minimum:
        from retail_deploy.errors import InputError

        raise InputError(f"{option} {value}: must be {minimum} or more")
    return int(value)


def _service(cfg: PlatformConfig, name: str | None) -> ServiceConfig:
    if name:
        return cfg.service(name)
    for service in cfg.services.values():
        if service.raw.str_list("dependencies", ()):
            return service
    return next(iter(cfg.services.values()))


ns = Collection("troubleshoot")
for _task in (crashloop, errors, db, latency, certs):
    ns.add_task(_task)
