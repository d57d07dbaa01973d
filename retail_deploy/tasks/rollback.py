"""Rollback chapter: `rollback.undo`, `rollback.history`, `rollback.blue-green`, `rollback.db`."""

from __future__ import annotations

from typing import Any

from invoke import Collection

from retail_deploy.tasks._common import confirm, load, print_json, task
from retail_deploy.tasks._kube import kubernetes_env, runner


@task(plans_reads=True, help={"service": "only this service (default: every service)",
            "to_revision": "roll back to this revision (see rollback.history); needs --service"})
def undo(c, env=None, service=None, to_revision=None, yes=False, config=None):
    """`kubectl rollout undo` (or the Docker target's previous containers), then check health."""
    from retail_deploy.errors import InputError

    revision = None
    if to_revision is not None:
        try:
            revision = int(to_revision)
        except ValueError:
            raise InputError(f"--to-revision must be a number, not {to_revision!r}") from None
    cfg = load(config)
    environment = cfg.environment(env)
    if service is not None:
        cfg.service(service)
    with runner(c) as run:
        if environment.target == "docker":
            from retail_deploy import docker_target  # type: ignore[attr-defined,unused-ignore]

            docker_target.undo(run, cfg, environment, service=service)
            return
        from retail_deploy import rollback

        if environment.confirm and not run.dry:
            confirm(f"Roll back {service or 'every service'} in {environment.name}?", yes=yes)
        done = rollback.undo(run, cfg, environment, service=service, to_revision=revision)
        if not run.dry:
            _notify(run, cfg, environment.name, f"rollback.undo of {', '.join(done)}"
                    + (f" to revision {revision}" if revision else ""))
            print(f"rolled back {', '.join(done)} in {environment.name}; health checks pass")


@task(read_only=True)
def history(c, env=None, config=None, json=False):
    """Deploy/rollback audit records beside `kubectl rollout history` of each deployment."""
    from retail_deploy import rollback

    cfg = load(config)
    environment = kubernetes_env(cfg, env, "rollback.history")
    with runner(c) as run:
        if json:  # the audit records only: `kubectl rollout history` is text for people
            from retail_deploy import history as audit
            from retail_deploy.api import History
            from retail_deploy.kube_settings import kube_env

            print_json(History.from_records(environment.name, audit.read_history(run, kube_env(cfg, environment).kube)))
            return
        print(rollback.show_history(run, cfg, environment))


@task(name="blue-green", plans_reads=True, help={"to_colour": "colour to send traffic to (default: the one not live now)"})
def blue_green(c, env=None, to_colour=None, yes=False, config=None):
    """Switch traffic back to the previous colour (scaling it up first if needed), then check health."""
    from retail_deploy import rollback

    cfg = load(config)
    environment = kubernetes_env(cfg, env, "rollback.blue-green")
    with runner(c) as run:
        if environment.confirm and not run.dry:
            confirm(f"Switch {environment.name} traffic to the other colour?", yes=yes)
        colour = rollback.blue_green(run, cfg, environment, to_colour=to_colour)
        if not run.dry:
            _notify(run, cfg, environment.name, f"rollback.blue-green: traffic switched to {colour}")
            print(f"traffic in {environment.name} is on {colour}; health checks pass")


@task(help={"to_version": "application version whose database schema to return to"})
def db(c, env=None, to_version=None, yes=False, config=None):
    """Undo the database migrations applied after TO_VERSION (the Migrations chapter)."""
    from retail_deploy import validate
    from retail_deploy.migrations import rollback_to_version

    validate.version(to_version, what="--to-version")
    cfg = load(config)
    environment = cfg.environment(env)
    with runner(c) as run:
        if environment.confirm and not run.dry:
            confirm(f"Undo the migrations applied after {to_version} on the {environment.name} database?", yes=yes)
        rollback_to_version(cfg, environment.name, to_version, run)


def _notify(run: Any, cfg: Any, env_name: str, what: str) -> None:
    from retail_deploy import notify

    notify.notify_rollback(cfg, env_name, reason=f"manual {what}", automatic=False, say=run.say, runner=run)


ns = Collection("rollback")
ns.add_task(undo)
ns.add_task(history)
ns.add_task(blue_green)
ns.add_task(db)
