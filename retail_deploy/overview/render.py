"""`status` for people: the table, the change lines of `--watch`, and the watch loop itself.

Pure but for `watch`, which only loops: read (the caller's function), render, sleep. On a terminal
each pass redraws the screen in place (as `kubectl argo rollouts get rollout --watch`); anywhere
else (a log, a pipe, CI) the first pass prints the table and later passes print one line per fact
that changed, so a log reads as a history rather than a pile of repeated tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import IO

from retail_deploy.monitoring.triggers import format_value
from retail_deploy.overview.status import (
    EnvironmentStatus,
    LastDeploy,
    PlatformStatus,
    ServiceStatus,
)

CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen


def _parse(moment: str) -> datetime | None:
    try:
        return datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(since: str, now: str) -> str:
    """'3m', '2h', '5d' from `since` to `now` (ISO 8601); '' when either is unknown."""
    start, end = _parse(since), _parse(now)
    if start is None or end is None:
        return ""
    seconds = max(0, int((end - start).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def deploy_cell(deploy: LastDeploy | None) -> str:
    if deploy is None:
        return "-"
    who = f" by {deploy.who}" if deploy.who else ""
    return f"{deploy.version or '?'}{who} at {deploy.when or '?'}: {deploy.outcome}"


def _replicas(service: ServiceStatus) -> str:
    if service.ready is None or service.desired is None:
        return "-"
    return f"{service.ready}/{service.desired}"


def _since(service: ServiceStatus, now: str) -> str:
    if not service.since:
        return "-"
    ago = age(service.since, now)
    return f"{service.since} ({ago} ago)" if ago else service.since


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def environment_lines(env: EnvironmentStatus, now: str) -> list[str]:
    lines = [f"{env.environment} ({env.target}, {env.where}): {env.verdict.upper()}"]
    if env.lock is None:
        lines.append("  lock: free")
    else:
        state = "EXPIRED, held" if env.lock.expired else "held"
        lines.append(f"  lock: {state} by {env.lock.holder} (version {env.lock.version}, since "
                     f"{env.lock.acquired}, expires {env.lock.expires})")
    lines.append(f"  last deploy: {deploy_cell(env.last_deploy)}")
    if env.colours:
        live = {s.colour for s in env.services if s.colour}
        lines.append("  colours: " + ", ".join(f"{c} {v or '-'}" + (" (live)" if c in live else "")
                                               for c, v in env.colours.items()))
    rows: list[tuple[str, ...]] = [("service", "version", "colour", "ready", "image", "since", "health", "last deploy")]
    for s in env.services:
        rows.append((s.service, s.version or "-", s.colour or "-", _replicas(s), s.image or "-", _since(s, now),
                     s.health, deploy_cell(s.last_deploy)))
    lines += ["  " + line for line in _table(rows)]
    for s in env.services:
        for key, value in s.extra.items():
            lines.append(f"  {s.service} {key}: {value}")
    if env.monitoring and not env.triggers:
        lines.append(f"  triggers: {env.monitoring}" if env.monitoring == "not configured"
                     else f"  triggers: not read (Prometheus {env.monitoring})")
    elif env.triggers:
        firing = ", ".join(t.title for t in env.firing) or "none"
        lines.append(f"  triggers (Prometheus {env.monitoring}): firing: {firing}")
        for t in env.triggers:
            lines.append(f"    {t.title:<20} {format_value(t.value, t.unit):>9}  {t.state:<8} {t.threshold}")
    lines += [f"  problem: {p}" for p in env.problems]
    lines += [f"  could not find out: {u}" for u in env.unanswered]
    return lines


def render(status: PlatformStatus) -> str:
    """The whole table: one block per environment, then the verdict."""
    lines: list[str] = []
    for env in status.environments:
        lines += environment_lines(env, status.checked_at) + [""]
    lines.append(f"{status.verdict} (checked {status.checked_at} in {status.seconds:.2f}s)")
    return "\n".join(lines)


def facts(status: PlatformStatus) -> dict[str, str]:
    """Every fact a person watches, by a readable key: what `changes` compares."""
    out: dict[str, str] = {}
    for env in status.environments:
        name = env.environment
        out[f"{name}: verdict"] = env.verdict
        out[f"{name}: lock"] = f"held by {env.lock.holder} ({env.lock.version})" if env.lock else "free"
        out[f"{name}: last deploy"] = deploy_cell(env.last_deploy)
        for colour, version in env.colours.items():
            out[f"{name}: colour {colour}"] = version or "-"
        for s in env.services:
            out[f"{name} {s.service}: version"] = (s.version or "-") + (f" ({s.colour})" if s.colour else "")
            out[f"{name} {s.service}: ready"] = _replicas(s)
            out[f"{name} {s.service}: health"] = s.health
            for key, value in s.extra.items():
                out[f"{name} {s.service}: {key}"] = value
        for t in env.triggers:
            out[f"{name}: trigger {t.title}"] = t.state
        for problem in env.unanswered:
            out[f"{name}: could not find out {problem.split(':', 1)[0]}"] = "yes"
    return out


def changes(before: PlatformStatus, after: PlatformStatus) -> list[str]:
    """One line per fact that changed between two passes, stamped with the later pass's time."""
    old, new = facts(before), facts(after)
    stamp = after.checked_at
    lines = []
    for key in list(old) + [k for k in new if k not in old]:
        was, now = old.get(key, "-"), new.get(key, "-")
        if was != now:
            lines.append(f"{stamp} {key}: {was} -> {now}")
    return lines


def watch(read: Callable[[], PlatformStatus], *, interval_s: float, out: IO[str], redraw: bool,
          count: int | None = None, sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> PlatformStatus:
    """Read every `interval_s` seconds (ticks anchored to the start, so slow reads do not
    stretch them) until `count` passes were made (None: until Ctrl-C, which propagates as
    KeyboardInterrupt); returns the last status (its verdict is the exit code)."""
    start = clock()
    previous: PlatformStatus | None = None
    passes = 0
    while True:
        status = read()
        passes += 1
        if redraw:
            out.write(CLEAR + render(status) + f"\n\nevery {interval_s:g}s; Ctrl-C to stop\n")
        elif previous is None:
            out.write(render(status) + "\n")
        else:
            for line in changes(previous, status):
                out.write(line + "\n")
        out.flush()
        previous = status
        if count is not None and passes >= count:
            return status
        sleep(max(0.0, start + passes * interval_s - clock()))
