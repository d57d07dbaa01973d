"""The pre-deployment gate: the facts the checklist asks of the world (git, the registry,
Prometheus, pending migrations, the deploy history) and the decision to let a deploy go on.
Every fact is read-only, so the checklist also runs in a dry run."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Never

from retail_deploy import redact
from retail_deploy.checklist import items as checklist
from retail_deploy.commands import git
from retail_deploy.config import EnvironmentConfig, PlatformConfig
from retail_deploy.errors import DependencyUnavailable, InputError

if TYPE_CHECKING:
    from retail_deploy.execute import Runner


def gate(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str, *,
         acks: tuple[str, ...] = (), notify: bool = False, force: str | None = None,
         interactive: bool = False, facts: checklist.Facts | None = None) -> checklist.Report:
    """Evaluate and print the checklist; raise InputError (exit 2) when it does not pass, or
    DependencyUnavailable (exit 5) when the only items in the way are checks that could not run,
    unless `force` gives the reason to go on anyway (the caller records it in the history)."""
    checklist.check_acks(acks)
    notified = notify_teams(runner, cfg, env, version) if notify else ()
    ask = _ask_at_terminal if interactive else None
    how = ("dry run: would be notified through the configured channels (nothing sent)" if runner.dry
           else "notified through the configured channels")
    report = checklist.evaluate(cfg, env, version, facts or gather(runner, cfg, env, version),
                                acks=acks, notified=notified, ask=ask, notified_detail=how)
    # Details quote what the facts saw (URLs, error messages): a URL may carry credentials.
    print(redact.redact(checklist.render(report)), file=runner.out, flush=True)
    if report.ok:
        return report
    if runner.dry:  # the checklist is the plan: what a real run would stop on, said, exit 0
        runner.say(f"a real run stops here unless these are settled: {checklist.blocking_summary(report)}")
        return report
    summary = checklist.blocking_summary(report)
    if force:
        runner.say(f"checklist not satisfied ({summary}); going on because of --force: {force}")
        return report
    if report.only_unanswered:
        raise DependencyUnavailable(f"pre-deployment checklist for {version} to {env.name} could not be "
                                    f"completed: {summary} (a dependency did not answer; nothing was changed)")
    raise InputError(f"pre-deployment checklist for {version} to {env.name} not satisfied: {summary}")


def production_gate(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str, *,
                    acks: tuple[str, ...] = (), notify: bool = False, force: str | None = None,
                    interactive: bool = False) -> str | None:
    """The checklist in front of a deploy to a production-role environment, on every path that
    deploys one (the tasks and the library): exit 2 when not satisfied, unless `force` gives the
    reason; returns that reason when it was used (the caller records it as `forced`). A dry run
    names the checklist instead of running it: it asks the registry, git, Prometheus and the
    cluster, and a plan stays quick and offline."""
    if force is not None and not force.strip():
        raise InputError("--force needs a reason, e.g. --force 'hotfix for incident 42'")
    checklist.check_acks(acks)  # the dry run must refuse what the real run refuses
    if runner.dry:
        runner.say(f"first the pre-deployment checklist: inv checklist.pre-deploy --env {env.name} "
                   f"--version {version}")
        return None
    report = gate(runner, cfg, env, version, acks=acks, notify=notify, force=force, interactive=interactive)
    return None if report.ok else force


def _ask_at_terminal(item: checklist.Item) -> bool:
    try:
        return input(f"Confirm: {item.text}? [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:  # Ctrl-D: not confirmed (the gate then lists the item), not a crash
        return False


def notify_teams(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str) -> tuple[str, ...]:
    """Announce the coming deploy through the configured channels (PagerDuty change event, Slack).
    The on-call and support items count as done only if a channel accepted the notice."""
    from retail_deploy.monitoring import notify

    notice = notify.Event("deploy", env.name, f"{env.name}: deploying version {version} shortly", "warning",
                          version=version, details={"notice": "pre-deployment announcement"})
    if runner.dry:
        runner.say(f"would notify the on-call and support teams: {notice.summary!r} (dry run: nothing is sent)")
    deliveries = notify.notifier(cfg, say=runner.say, runner=runner).send(notice)
    if not any(delivery.ok for delivery in deliveries):
        runner.say("no notification channel accepted the notice: confirm the on-call and support items by hand")
        return ()
    return tuple(checklist.NOTIFIABLE)


def gather(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str) -> checklist.Facts:
    """The facts, read when asked. A dry run reads only what it prints as a `$` line (git and
    kubectl reads); the registry, Prometheus and the database are named, never contacted (nor
    their host names resolved), and their items say so."""
    if runner.dry:
        return checklist.Facts(
            commit_on_branch=lambda: commit_on_branch(runner, cfg, env, version),
            pending_migrations=_not_in_a_dry_run("the migrations database"),
            prometheus_ready=(_not_in_a_dry_run(f"Prometheus at {redact.redact(env.prometheus_url)}")
                              if env.prometheus_url else None),
            images_exist=_not_in_a_dry_run(f"the registry {cfg.registry.host or '(none configured)'}"),
            staging_verified=lambda: staging_verified(runner, cfg, version),
            rollback_plan=lambda: rollback_plan(runner, cfg, env),
        )
    return checklist.Facts(
        commit_on_branch=lambda: commit_on_branch(runner, cfg, env, version),
        pending_migrations=lambda: pending_migrations(cfg, env),
        prometheus_ready=(lambda: prometheus_ready(env.prometheus_url or "")) if env.prometheus_url else None,
        images_exist=lambda: images_exist(cfg, version),
        staging_verified=lambda: staging_verified(runner, cfg, version),
        rollback_plan=lambda: rollback_plan(runner, cfg, env),
    )


def _not_in_a_dry_run(what: str) -> Callable[[], Never]:
    def fact() -> Never:
        raise DependencyUnavailable(f"not checked in a dry run (a real run asks {what})")

    return fact


def repository(cfg: PlatformConfig) -> str:
    """The platform's git repository: `checklist.repository` (relative to the config file), else the cwd."""
    configured = cfg.section("checklist").str("repository", None)
    return str((cfg.base_dir / configured).resolve()) if configured else os.getcwd()


def commit_on_branch(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str) -> tuple[bool, str]:
    """The version's tag must point at a commit already merged into the environment's branch."""
    if not env.branch or "*" in env.branch:
        return True, f"any branch may deploy to {env.name} ({env.branch or 'no branch rule'})"
    repo = repository(cfg)
    tags = checklist.tag_candidates(cfg, version)
    commit = next((r.stdout.strip() for tag in tags
                   if (r := runner.probe(git.resolve_commit(repo, f"refs/tags/{tag}"), check=False)).ok), None)
    if commit is None:
        return False, f"no tag {' or '.join(tags)} in {repo}"
    for ref in (f"refs/remotes/origin/{env.branch}", f"refs/heads/{env.branch}"):
        if runner.probe(git.resolve_commit(repo, ref), check=False).ok:
            merged = runner.probe(git.is_ancestor(repo, commit, ref), check=False).ok
            where = ref.removeprefix("refs/remotes/").removeprefix("refs/heads/")
            if merged:
                return True, f"commit {commit[:12]} is on {where}"
            return False, f"commit {commit[:12]} of {version} is not on {where}: merge it first"
    return False, f"branch {env.branch} not found in {repo}"


def pending_migrations(cfg: PlatformConfig, env: EnvironmentConfig) -> list[str]:
    from retail_deploy.migrations import pending_migrations as pending

    return list(pending(cfg, env))


def prometheus_ready(url: str) -> tuple[bool, str]:
    import requests

    try:
        response = requests.get(f"{url.rstrip('/')}/-/ready", timeout=5)
    except requests.RequestException as error:
        raise DependencyUnavailable(f"Prometheus at {url} is unreachable ({type(error).__name__})") from None
    if response.status_code != 200:
        return False, f"Prometheus at {url} is not ready (HTTP {response.status_code})"
    return True, f"Prometheus at {url} is ready"


def images_exist(cfg: PlatformConfig, version: str) -> tuple[bool, str]:
    from retail_deploy.build.images import resolve_credentials
    from retail_deploy.build.registry import manifest_digest

    host = cfg.registry.host
    if not host:
        return False, "no registry configured (registry.host)"
    credentials = resolve_credentials(host, username_env=cfg.registry.username_env,
                                      password_env=cfg.registry.password_env)
    user, password = (credentials.username, credentials.password) if credentials else (None, None)
    missing = [s.image for s in cfg.services.values()
               if manifest_digest(host, s.image, version, username=user, password=password) is None]
    if missing:
        return False, f"not in {host}: " + ", ".join(f"{image}:{version}" for image in missing)
    return True, f"{len(cfg.services)} images of {version} in {host}"


def staging_verified(runner: Runner, cfg: PlatformConfig, version: str) -> tuple[bool, str]:
    """The last verification of `version` recorded in the staging environment's history passed."""
    from retail_deploy.kube.settings import kube_env
    from retail_deploy.targets import history

    name = cfg.section("checklist").str("verified_in", None)
    staging = cfg.environment(name) if name else cfg.environment_of_role(None, ("staging",), "checklist.verified_in")
    name = staging.name
    entries = [e for e in history.read_history(runner, kube_env(cfg, staging).kube)
               if e.get("action") == "verify" and e.get("version") == version]
    if not entries:
        return False, f"{version} was never verified on {name} (inv {staging.task('verify')} --version {version})"
    last = entries[-1]
    if last.get("result") != "passed":
        return False, f"the last verification of {version} on {name} failed ({last.get('end', '?')})"
    return True, f"{version} verified on {name} at {last.get('end', '?')} by {last.get('who', '?')}"


def rollback_plan(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig) -> list[str]:
    if env.target != "kubernetes":
        return [f"inv rollback.undo --env {env.name}"]
    from retail_deploy.kube.rollback import rollback_plan as plan

    return plan(runner, cfg, env)
