"""The runbook's "Useful Commands": `ops.status`, `ops.logs`, `ops.port-forward`, `ops.shell`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Collection

from retail_deploy.execute import Runner
from retail_deploy.tasks._common import load, task

if TYPE_CHECKING:
    from retail_deploy.config import PlatformConfig
    from retail_deploy.kube.settings import KubeEnv

SERVICE_HELP = "service from the platform config (default: the blue-green service, else the first one)"


def _kube(cfg: PlatformConfig, env: str | None, service: str | None = None) -> tuple[KubeEnv, str]:
    """The environment's Kubernetes settings (context and namespace pinned) and the service meant."""
    from retail_deploy.kube.settings import kube_env
    from retail_deploy.tasks._kube import kubernetes_env

    environment = kubernetes_env(cfg, env, "ops")
    if service is None:
        service = environment.blue_green.service if environment.blue_green else next(iter(cfg.services))
    cfg.service(service)
    return kube_env(cfg, environment), service


@task(read_only=True)
def status(c, env=None, config=None):
    """All resources and the resource quotas of an environment's namespace (kubectl get all, describe resourcequota)."""
    from retail_deploy.commands import kubectl

    cfg = load(config)
    kenv, _ = _kube(cfg, env)
    with Runner(c) as runner:
        for command in (kubectl.get_all(kenv.kube), kubectl.describe_resourcequota(kenv.kube)):
            runner.announce(command)
            print(runner.probe(command).stdout.rstrip())


@task(plans_reads=True, help={"service": SERVICE_HELP, "output": "file to write (default: <service>-logs.txt)"})
def logs(c, env=None, service=None, output=None, config=None):
    """Copy a service's logs to a local file (kubectl logs deploy/NAME > FILE), secrets masked."""
    from pathlib import Path

    from retail_deploy import redact, validate
    from retail_deploy.commands import kubectl
    from retail_deploy.kube.probes import live_deployment

    if output is not None:
        validate.path(output, what="--output")
    cfg = load(config)
    kenv, service = _kube(cfg, env, service)
    path = Path(output or f"{service}-logs.txt")
    with Runner(c) as runner:
        command = kubectl.deployment_logs(kenv.kube, live_deployment(runner, kenv, service))
        runner.announce(command)
        if runner.dry:
            runner.say(f"would write the logs to {path}")
            return
        text = redact.redact(runner.probe(command).stdout)
    path.write_text(text)
    print(f"wrote {len(text.splitlines())} lines to {path}")


@task(plans_reads=True, help={"service": SERVICE_HELP, "port": "local port (default: the service's port)",
            "remote_port": "the Service's port (default: the service's port)"})
def port_forward(c, env=None, service=None, port=None, remote_port=None, config=None):
    """Forward a local port to a service for debugging (kubectl port-forward svc/NAME); Ctrl-C ends it."""
    from retail_deploy import validate
    from retail_deploy.commands import kubectl

    cfg = load(config)
    kenv, service = _kube(cfg, env, service)
    target = cfg.service(service)
    local, remote = (validate.port(p if p is not None else target.port, what=w)
                     for p, w in ((port, "--port"), (remote_port, "--remote-port")))
    with Runner(c) as runner:
        runner.attach(kubectl.port_forward(kenv.kube, kenv.service(service).deployment, local, remote))


@task(plans_reads=True, help={"service": SERVICE_HELP, "program": "program to run in the pod (default: /bin/sh)"})
def shell(c, env=None, service=None, program="/bin/sh", config=None):
    """Open a shell in a service's pod (kubectl exec -it deploy/NAME -- /bin/sh)."""
    from retail_deploy.commands import kubectl
    from retail_deploy.kube.probes import live_deployment

    cfg = load(config)
    kenv, service = _kube(cfg, env, service)
    with Runner(c) as runner:
        runner.attach(kubectl.shell(kenv.kube, live_deployment(runner, kenv, service), program))


ns = Collection("ops")
ns.add_task(status)
ns.add_task(logs)
ns.add_task(port_forward)
ns.add_task(shell)
