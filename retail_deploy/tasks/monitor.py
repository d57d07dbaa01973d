"""Monitoring & Alerts chapter: `monitor.rules`, `monitor.check`, `monitor.watch`.

Exit codes: 0 no rollback trigger fires · 1 one fires (or the rollback failed) · 2 bad input ·
3 `--rollback` rolled the environment back · 5 Prometheus cannot be reached, or a trigger has no
data (the state is unknown, never "healthy"; docs/monitoring.md "No data").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invoke import Collection

from retail_deploy.tasks._common import load, print_json, task

if TYPE_CHECKING:
    from invoke import Context

    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner
    from retail_deploy.monitoring.monitor import CheckResult
    from retail_deploy.monitoring.triggers import Reading


@task(help={"output": "write the rule file to this path (default: print it), e.g. prometheus/alerts.yaml"})
def rules(c, output=None, config=None):
    """Generate the Prometheus alert rule file from the monitoring config (runbook rules + metrics table)."""
    from pathlib import Path

    from retail_deploy import validate
    from retail_deploy.execute import Runner
    from retail_deploy.monitoring.alert_rules import alert_definitions, render_rules
    from retail_deploy.monitoring.monitor import monitoring_settings

    if output is not None:
        validate.path(output, what="--output")
    settings = monitoring_settings(load(config))
    text = render_rules(settings, output)
    if not output:
        print(text, end="")
        return
    count = len(alert_definitions(settings))
    if Runner(c).dry:
        print(f"# would write {count} alert rules to {output}")
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)  # never leave Prometheus a half-written rule file
    print(f"wrote {count} alert rules to {path} (check: promtool check rules {path})")


@task(read_only=True, help={"metrics": "also show the warning/critical metrics table (--no-metrics to skip)"})
def check(c, env=None, config=None, metrics=True, json=False):
    """Evaluate every rollback trigger now: a table; exit 1 when one fires, 5 when one has no data.

    A trigger with no data is not healthy: exit 5 names it and its query, unless the trigger says
    `no_data: accept`. A firing trigger wins (exit 1) whatever the others say.
    """
    from retail_deploy.monitoring import monitor

    cfg = load(config)
    environment = cfg.environment(env)
    result = monitor.check(cfg, environment, include_metrics=metrics)
    if json:  # the readings, then the same exit code as the table (1 when one fires)
        from retail_deploy.api import TriggerReport

        print_json(TriggerReport.from_check(result))
    else:
        _print_check(result, environment.name, metrics)
    error = monitor.check_error(result)
    if error is not None:
        raise error
    if not json:
        print(f"no rollback trigger is firing in {environment.name}")


def _print_check(result: CheckResult, environment: str, metrics: bool) -> None:
    from retail_deploy.monitoring.triggers import format_table

    print(f"rollback triggers of {environment} (Prometheus {result.prometheus}):")
    print(format_table(result.triggers))
    if metrics and result.metrics:
        print()
        print(format_table(result.metrics, heading="metric"))
    silent = [r.title for r in result.triggers if r.state == "no-data"]
    if silent:
        print(f"note: no data for {', '.join(silent)} (metric absent or renamed, or the window not yet covered)")


@task(plans_reads=True, exits=(0, 1, 2, 3, 5, 130), help={
    "duration": "how long to watch, e.g. 10m or 90s",
    "rollback": "on the first trigger that fires, roll back with the environment's strategy and notify (exit 3)",
    "interval": "time between polls, e.g. 30s (default: monitoring.poll_interval)",
})
def watch(c, env=None, duration=None, rollback=False, interval=None, config=None):
    """Poll the rollback triggers for --duration; with --rollback, roll back on the first breach.

    A breach is a trigger that fires, or one that had no data for its whole window (or the whole
    watch, when shorter) unless it says `no_data: accept`. With --rollback either rolls the
    environment back (exit 3); without it, a firing trigger is exit 1 and no data exit 5.
    """
    from retail_deploy import validate
    from retail_deploy.errors import InputError, OperationFailed, RolledBack
    from retail_deploy.execute import Runner
    from retail_deploy.monitoring import monitor, notify

    if not duration:
        raise InputError("missing --duration: how long to watch, e.g. --duration 10m")
    duration_s = validate.duration(duration, what="--duration")
    interval_s = validate.duration(interval, what="--interval") if interval else None
    cfg = load(config)
    environment = cfg.environment(env)
    monitor.monitoring_settings(cfg)  # config errors now, before anything is watched or changed
    runner = Runner(c)
    if runner.dry:  # a plan never waits and never polls: it says what the watch would do
        _plan_watch(runner, cfg, environment, duration_s, interval_s, rollback)
        return
    if rollback:
        _refuse_if_cannot_roll_back(runner, cfg, environment)
    sender = notify.notifier(cfg, say=runner.say, runner=runner)
    outcome: dict[str, Any] = {}

    def roll_back(reading: Reading) -> None:
        reason = monitor.describe(reading)
        try:
            outcome["summary"] = _rollback(runner, cfg, environment, reason)
        except Exception as error:
            sender.send(notify.rollback_event(
                environment.name, reason=f"{reason}; the rollback FAILED: {error}", automatic=True))
            raise
        sender.send(notify.rollback_event(environment.name, reason=reason, automatic=True,
                                          details={"action": outcome["summary"]}))

    with runner:
        result = monitor.watch(cfg, environment, duration_s, interval_s=interval_s,
                               on_breach=roll_back if rollback else None, say=runner.say)
    if result.never_had_data:
        runner.say(f"warning: no data during the watch for {', '.join(result.never_had_data)}: "
                   "those triggers could not fire (check monitoring.queries)")
    if result.breach is None:
        print(f"{environment.name}: no rollback trigger fired in {result.polls} polls over {duration}")
        return
    if rollback:
        raise RolledBack(f"{environment.name} rolled back ({outcome.get('summary', 'done')}): "
                         f"{monitor.describe(result.breach)}")
    if not result.breach.fired:
        from retail_deploy.errors import DependencyUnavailable

        raise DependencyUnavailable(
            f"{environment.name} was not verified: {monitor.describe(result.breach)}; "
            "check the metric names, or give the trigger no_data: accept")
    raise OperationFailed(f"rollback trigger fired in {environment.name}: {monitor.describe(result.breach)}; "
                          f"not rolled back (use --rollback, or retail-deploy rollback.undo --env {environment.name})")


def _plan_watch(runner: Runner, cfg: PlatformConfig, environment: EnvironmentConfig, duration_s: float,
                interval_s: float | None, rollback: bool) -> None:
    """The dry run of a watch: the polling rule, each trigger's query, and what a breach would do."""
    from retail_deploy.commands import cmd
    from retail_deploy.monitoring import monitor
    from retail_deploy.monitoring.prometheus import display_url
    from retail_deploy.monitoring.triggers import firing_query, format_duration

    settings = monitor.monitoring_settings(cfg)
    url = monitor.prometheus_url(cfg, environment, settings)
    interval = interval_s if interval_s is not None else settings.poll_interval_s
    where = display_url(url) if url else "no Prometheus configured (a real run stops here, exit 2)"
    runner.say(f"would watch {len(settings.triggers)} rollback triggers of {environment.name} for "
               f"{format_duration(duration_s)}: one poll every {format_duration(interval)} ({where})")
    for trigger in settings.triggers:
        window = monitor.no_data_window(trigger, duration_s)
        rule = ("no data accepted" if trigger.no_data == "accept" else
                f"no data for {format_duration(window)} is a breach" if window > 0 else "no data on a poll is a breach")
        runner.say(f"{trigger.name}: breach when {trigger.describe_threshold()}; {rule}")
        if url:
            query = firing_query(trigger, settings.subquery_step_s)
            runner.announce(cmd("curl", "-fsS", f"{display_url(url).rstrip('/')}/api/v1/query",
                                "--data-urlencode", f"query={query}", read_only=True))
    if rollback:
        from retail_deploy.monitoring import notify

        runner.say(f"on the first breach: roll {environment.name} back to the recorded previous release "
                   f"(as inv rollback.undo --env {environment.name}), notify, exit 3")
        # The notifications it would send, as their (masked) CLI equivalents: nothing is sent.
        notify.notifier(cfg, say=runner.say, runner=runner).send(notify.rollback_event(
            environment.name, reason="<the trigger that breached>", automatic=True))
    else:
        runner.say("on the first breach: stop and exit 1 (a trigger fired) or 5 (no data); nothing is rolled back "
                   "without --rollback")


def _refuse_if_cannot_roll_back(runner: Runner, cfg: PlatformConfig, environment: EnvironmentConfig) -> None:
    """Exit 2 before watching when the environment's target could not roll back on a breach."""
    from retail_deploy.errors import InputError
    from retail_deploy.targets import target_for

    refusal = target_for(runner, cfg, environment).rollback_refusal()
    if refusal:
        raise InputError(f"--rollback: {environment.name} cannot roll back automatically: {refusal}")


def _rollback(runner: Runner, cfg: PlatformConfig, environment: EnvironmentConfig, reason: str) -> str:
    """Back to the recorded previous release, on the environment's target (the deploy seam)."""
    from retail_deploy.kube.rollback import rollback_environment

    return rollback_environment(runner, cfg, environment, reason=reason)


ns = Collection("monitor")
ns.add_task(rules)
ns.add_task(check)
ns.add_task(watch)


@task(plans_reads=True, help={
    "output": "write the four dashboards as Grafana JSON into this directory (<uid>.json each)",
    "upload": "upload them to the config's dashboards.grafana_url (token: $GRAFANA_TOKEN)",
    "grafana_url": "upload them to this Grafana instead, e.g. https://grafana.example.com (token: $GRAFANA_TOKEN)",
    "folder": "Grafana folder uid to upload into (default: Grafana's General folder)",
})
def dashboards(c, output=None, upload=False, grafana_url=None, folder=None, config=None):
    """The runbook's Grafana dashboards: their links; with --output, as Grafana JSON built from the
    triggers' definitions; with --upload/--grafana-url, uploaded through Grafana's HTTP API."""
    from retail_deploy.setup import platform as platform_setup

    cfg = load(config)
    if output is None and not upload and grafana_url is None:
        if folder is not None:
            from retail_deploy.errors import InputError

            raise InputError("--folder goes with --upload or --grafana-url")
        _print_links(platform_setup.dashboards(cfg))
        return
    _dashboards_as_code(c, cfg, output, upload, grafana_url, folder)


def _print_links(links: dict[str, str]) -> None:
    if not links:
        print("no dashboards configured (dashboards: in the platform config)")
        return
    width = max(map(len, links))
    for title, url in links.items():
        print(f"{title:{width}}  {url}")


def _dashboards_as_code(c: Context, cfg: PlatformConfig, output: str | None, upload: bool, grafana_url: str | None,
                        folder: str | None) -> None:
    """Build the dashboards (monitoring/dashboards.py), write and/or upload them."""
    import os
    from pathlib import Path

    from retail_deploy import validate
    from retail_deploy.commands import cmd
    from retail_deploy.errors import InputError
    from retail_deploy.execute import Runner
    from retail_deploy.monitoring import dashboards as boards
    from retail_deploy.monitoring.monitor import monitoring_settings

    if output is not None:
        validate.path(output, what="--output")
    if folder is not None:
        validate.name(folder, what="--folder")
    section = cfg.section("dashboards")
    url = grafana_url or (section.str("grafana_url", "") if upload else "") or ""
    if (upload or grafana_url) and not url:
        raise InputError("--upload needs dashboards.grafana_url in the config, or --grafana-url")
    if url:
        url = boards.check_grafana_url(url)
    token = os.environ.get("GRAFANA_TOKEN", "")
    if url and not token:
        raise InputError("no Grafana token: set GRAFANA_TOKEN to a service account token (Editor role)")
    specs = boards.dashboard_specs(monitoring_settings(cfg), section.str_map("links", {}), cfg.platform)
    built = [boards.build(spec) for spec in specs]
    runner = Runner(c)
    if output is not None:
        if runner.dry:
            print(f"# would write {len(specs)} dashboards to {output}: "
                  + ", ".join(f"{s.uid}.json" for s in specs))
        else:
            for path in boards.write(specs, Path(output)):
                print(f"wrote {path}")
    if not url:
        return
    if runner.dry:
        for spec in specs:
            source = f"@{Path(output) / (spec.uid + '.json')}" if output else f"<{spec.uid} dashboard JSON>"
            runner.announce(cmd("curl", "-fsS", "-X", "POST", "-H", "Content-Type: application/json",
                                "-H", f"Authorization: Bearer {token}", "--data", source,
                                url + boards.UPLOAD_PATH, secrets={token}))
        print('# each body is {"dashboard": <the dashboard JSON>, "overwrite": true} (Grafana: /api/dashboards/db)')
        return
    for done in boards.upload(built, url, token, folder_uid=folder):
        print(f"uploaded {done.uid} (version {done.version if done.version is not None else '?'}): {done.url}")


ns.add_task(dashboards)
