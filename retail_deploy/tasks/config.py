"""Configuration chapter: `config.show` and `config.validate`."""

from __future__ import annotations

from invoke import Collection

from retail_deploy.tasks._common import load, task


@task(help={"format": "output format: yaml (default) or json"})
def show(c, env=None, config=None, format="yaml", json=False):
    """Print the resolved platform configuration, every secret redacted."""
    from retail_deploy import config_report

    cfg = load(config)
    print(config_report.render(cfg, env, "json" if json else format))


@task
def validate(c, env=None, config=None):
    """Check a platform config file and, with --env, the runbook's required environment variables."""
    from retail_deploy import config_report

    cfg = load(config)
    print(config_report.validate(cfg, env))


ns = Collection("config")
ns.add_task(show)
ns.add_task(validate)
