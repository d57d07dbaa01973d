"""`status`: what runs where, healthy or not, in one pass (the Overview row of the README's table).

A root-level task (`inv status`), not a chapter collection: it spans every chapter. Thin: one call
to `api.status` (or `api.watch_status`), then the table or the `--json` document, and the exit code
of the verdict: 0 healthy, 1 unhealthy, 5 could not find out.
"""

from __future__ import annotations

from retail_deploy.tasks._common import task


@task(read_only=True, help={
    "env": "one environment of the platform config (default: every environment)",
    "watch": "read again every --interval and redraw (a terminal) or print what changed; Ctrl-C stops (exit 130)",
    "interval": "time between passes with --watch, e.g. 5s (default 5s)",
    "count": "with --watch: stop after this many passes (default: until Ctrl-C)",
})
def status(c, env=None, config=None, json=False, watch=False, interval=None, count=None):
    """What runs where: per environment and service the version, colour, replicas, image, since when,
    last deploy, lock, health and firing triggers; exit 0 healthy, 1 unhealthy, 5 could not find out."""
    import sys

    from invoke.exceptions import Exit

    from retail_deploy import api, validate
    from retail_deploy.errors import InputError
    from retail_deploy.overview import render
    from retail_deploy.tasks._common import load, print_json, progress

    if (interval is not None or count is not None) and not watch:
        raise InputError("--interval and --count go with --watch")
    if watch and json:
        raise InputError("--watch and --json do not go together: --json prints one document; "
                         "run `status --json` again to poll")
    interval_s = validate.duration(interval, what="--interval") if interval is not None else 5.0
    cfg = load(config)
    if watch:
        passes = None
        if count is not None:
            if not str(count).isdigit() or int(count) < 1:
                raise InputError(f"--count needs a whole number of passes, 1 or more (got {count!r})")
            passes = int(count)
        result = api.watch_status(env=env, interval=interval_s, count=passes, config=cfg,
                                  redraw=sys.stdout.isatty())
    else:
        result = api.status(env=env, config=cfg, out=progress(json))
        if json:
            print_json(result)
        else:
            print(render.render(result))
    if result.exit_code:
        reasons = [f"{e.environment}: {p}" for e in result.environments for p in e.problems or e.unanswered]
        raise Exit(f"error: status: {result.verdict}: " + "; ".join(reasons)[:500], result.exit_code)
