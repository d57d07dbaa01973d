"""Rollback chapter: `rollback.undo`, `rollback.history`, `rollback.blue-green`, `rollback.db`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Collection

from retail_deploy.tasks._common import LOCKING_EXITS, confirm, load, print_json, task
from retail_deploy.tasks._kube import runner

if TYPE_CHECKING:
    from retail_deploy.targets import Report


@task(plans_reads=True, exits=LOCKING_EXITS, help={"service": "only this service (default: every service the last change touched)",
                              "to_revision": "roll back to this Kubernetes revision (see rollback.history); "
                                             "needs --service"})
def undo(c, env=None, service=None, to_revision=None, yes=False, config=None):
    """Back to the recorded previous release (traffic switch included), on any target.

    It names the release it restores before acting, then checks over HTTP that each service
    answers that version. Undoing a rollback goes forward again: on a production-role environment
    that needs --yes or a yes at the terminal naming both versions (refused without one, exit 2).
    """
    from retail_deploy.errors import InputError
    from retail_deploy.kube import rollback

    revision = None
    if to_revision is not None:
        try:
            revision = int(to_revision)
        except ValueError:
            raise InputError(f"--to-revision must be a number, not {to_revision!r}") from None
        if service is None:
            raise InputError("--to-revision needs --service: revision numbers differ per deployment")
    cfg = load(config)
    environment = cfg.environment(env)
    if service is not None:
        cfg.service(service)
    with runner(c) as run:
        intent = rollback.undo_intent(run, cfg, environment, service) if revision is None else None
        if intent is not None:  # named before anything changes
            print(intent.line(environment.name), file=run.out, flush=True)
        if intent is not None and intent.forward and environment.production and not run.dry:
            # Undoing a rollback re-deploys what was rolled back: never without a yes naming both.
            now = ", ".join(f"{n} {s.describe()}" for n, s in intent.current.items()) or "the current release"
            back = ", ".join(f"{n} {s.describe()}" for n, s in intent.restore.items())
            confirm(f"Undo the rollback in {environment.name}: replace {now} with {back} again?", yes=yes)
        elif environment.confirm and not run.dry:
            confirm(f"Roll back {service or 'the last change'} in {environment.name}?", yes=yes)
        report = rollback.undo_report(run, cfg, environment, service=service, to_revision=revision)
        if not run.dry:
            print(_summary(environment.name, report))


def _summary(env_name: str, report: Report) -> str:
    """What serves now, by version: the line a person reads after a rollback."""
    serving = ", ".join(f"{s.service} {s.version}" + (f" [{s.colour}]" if s.colour else "")
                        for s in report.services if s.version)
    notes = "; ".join(report.notes)
    return f"{notes} in {env_name}" + (f"; now serving {serving}" if serving else "") + "; health checks pass"


@task(read_only=True)
def history(c, env=None, config=None, json=False):
    """Deploy/rollback audit records (per service version before and after, serving colour), beside
    the target's own history (`kubectl rollout history`, or the kept containers)."""
    from retail_deploy.kube import rollback

    cfg = load(config)
    environment = cfg.environment(env)
    with runner(c) as run:
        if json:  # the audit records only: `kubectl rollout history` is text for people
            from retail_deploy.api import History
            from retail_deploy.targets import target_for

            print_json(History.from_records(environment.name, target_for(run, cfg, environment).read_history()))
            return
        print(rollback.show_history(run, cfg, environment))


@task(name="blue-green", plans_reads=True, exits=LOCKING_EXITS, help={"to_colour": "colour to send traffic to (default: the one not live now)",
                               "to_version": "switch although that colour does not run the previous release: "
                                             "the version it runs, confirmed"})
def blue_green(c, env=None, to_colour=None, to_version=None, yes=False, config=None):
    """Switch traffic back to the previous colour if it runs the previous release (exit 2 if not),
    scaling it up first if needed; then check that it answers that version."""
    from retail_deploy import validate
    from retail_deploy.targets.policy import guarded

    if to_version is not None:
        validate.version(to_version, what="--to-version")
    cfg = load(config)
    environment = cfg.environment(env)
    with runner(c) as run:
        if environment.confirm and not run.dry:
            confirm(f"Switch {environment.name} traffic to the other colour?", yes=yes)
        report = guarded(run, cfg, environment).switch_back(to_colour=to_colour, to_version=to_version)
        if not run.dry:
            print(f"traffic in {environment.name} is on {report.colour}, serving {report.version}; "
                  "health checks pass")


@task(exits=LOCKING_EXITS, help={"to_version": "application version whose database schema to return to"})
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


ns = Collection("rollback")
ns.add_task(undo)
ns.add_task(history)
ns.add_task(blue_green)
ns.add_task(db)
