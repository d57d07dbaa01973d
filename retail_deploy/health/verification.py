"""Checks the deployer runs after acting: health of the public (or one colour's) URLs, the
version a service reports, smoke tests before a switch, and the verification period.

The checks themselves belong to other chapters: `retail_deploy.health.checks` (concurrent HTTP checks
with retries), `retail_deploy.health.smoke` (the smoke suite, per colour) and `retail_deploy.monitoring.monitor`
(rollback triggers from Prometheus). This module sequences them for a deploy and prints each
as its CLI equivalent (`$ curl -fsS ...`, `$ ./scripts/smoke-tests.sh green`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from retail_deploy.commands import cmd
from retail_deploy.errors import OperationFailed

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner
    from retail_deploy.health.checks import CheckResult, Endpoint
    from retail_deploy.health.window import Breach

HTTP_TIMEOUT_S = 5.0
HEALTH_RETRIES = 3


def health_endpoints(cfg: PlatformConfig, env: EnvironmentConfig, urls: Mapping[str, str] | None = None,
                     services: list[str] | None = None) -> list[Endpoint]:
    from retail_deploy.health.checks import endpoints_for

    found = endpoints_for(cfg, env, dict(urls) if urls else None)
    return [e for e in found if services is None or e.service in services]


def check_health(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, urls: Mapping[str, str] | None = None, *,
                 services: list[str] | None = None, retries: int = HEALTH_RETRIES, quiet: bool = False) -> list[CheckResult]:
    """Check the health endpoints (concurrently, with retries while a switch settles); raises
    OperationFailed naming every failing endpoint."""
    from retail_deploy.health.checks import check_endpoints

    endpoints = health_endpoints(cfg, env, urls, services)
    if not quiet:
        for endpoint in endpoints:
            runner.announce(cmd(*endpoint.curl(HTTP_TIMEOUT_S), read_only=True))
    if runner.dry or not endpoints:
        return []
    results = check_endpoints(endpoints, timeout=HTTP_TIMEOUT_S, retries=retries, backoff=0.5)
    failed = [r for r in results if not r.ok]
    if failed:
        raise OperationFailed("health check failed: " + "; ".join(f"{r.endpoint.url} {r.error}" for r in failed))
    return results


def served_version(base_url: str, path: str = "/api/v1/version") -> str | None:
    """The version a service reports at `path` (`{"version": "1.4.2"}`), or None."""
    import urllib.error
    import urllib.request

    url = base_url.rstrip("/") + path
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:  # URLs come from the config
            data = json.loads(response.read(65536).decode("utf-8", "replace"))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return None if version is None else str(version)


def check_version(runner: Runner, base_url: str, version: str, path: str = "/api/v1/version",
                  attempts: int = HEALTH_RETRIES) -> None:
    """`/api/v1/version` must report the version we deployed (or restored)."""
    url = base_url.rstrip("/") + path
    runner.announce(cmd("curl", "-fsS", url, read_only=True))
    if runner.dry:
        return
    got = served_version(base_url, path)
    for _ in range(attempts - 1):
        if got == version:
            break
        time.sleep(0.5)
        got = served_version(base_url, path)
    if got != version:
        raise OperationFailed(f"{url} reports version {got!r}, expected {version!r}")


def check_versions(runner: Runner, checks: list[tuple[str, str, str]], attempts: int = HEALTH_RETRIES,
                   workers: int = 16) -> None:
    """`check_version` of many services at once: (base URL, version, path) each, every `curl`
    printed in order, the requests concurrent (a deploy of 100 services must not wait for 100
    retry loops in a row). Raises OperationFailed naming every service that is wrong."""
    if len(checks) <= 1 or runner.dry:
        for base, version, path in checks:
            check_version(runner, base, version, path, attempts)
        return
    from concurrent.futures import ThreadPoolExecutor

    for base, _, path in checks:
        runner.announce(cmd("curl", "-fsS", base.rstrip("/") + path, read_only=True))

    def one(check: tuple[str, str, str]) -> str:
        base, version, path = check
        got = served_version(base, path)
        for _ in range(attempts - 1):
            if got == version:
                break
            time.sleep(0.5)
            got = served_version(base, path)
        return "" if got == version else f"{base.rstrip('/') + path} reports version {got!r}, expected {version!r}"

    with ThreadPoolExecutor(max_workers=min(workers, len(checks)), thread_name_prefix="version") as pool:
        wrong = [w for w in pool.map(one, checks) if w]
    if wrong:
        raise OperationFailed("; ".join(wrong))


def smoke(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, colour: str, version: str) -> None:
    """`./scripts/smoke-tests.sh <colour>`: the smoke suite against the idle colour before it gets traffic."""
    if runner.dry:  # do not even import the smoke chapter for a plan
        runner.announce(cmd("./scripts/smoke-tests.sh", colour))
        return
    from retail_deploy.health.smoke import run_smoke_tests

    report = runner.action(cmd("./scripts/smoke-tests.sh", colour), run_smoke_tests, cfg, env, colour,
                           version=version)
    if report is not None and not report.ok:
        failures = "; ".join(f"{r.name} {r.error}" for r in report.failures) or "no test ran"
        raise OperationFailed(f"smoke tests failed on {colour}: {failures}")


def verification_period(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, seconds: float, prometheus_url: str | None) -> None:
    """Watch the new version before accepting it: the rollback triggers (monitoring chapter) when
    Prometheus is configured, else the health checks every few seconds, which roll back as the
    `health_check` trigger does (`_health_loop`). Raises on a breach."""
    if seconds <= 0:
        return
    if prometheus_url:
        from retail_deploy.monitoring import monitor
        from retail_deploy.monitoring.prometheus import PrometheusUnreachable

        line = cmd("inv", "monitor.watch", "--env", env.name, "--duration", f"{round(seconds)}s")
        start = time.monotonic()
        try:
            result = runner.action(line, monitor.watch, cfg, env, seconds, say=runner.say)
        except PrometheusUnreachable as exc:
            runner.say(f"Prometheus unreachable ({exc}); verifying with health checks for the rest of the period")
            _health_loop(runner, cfg, env, seconds - (time.monotonic() - start))
            return
        breach = getattr(result, "breach", None)
        if breach is not None:
            what = "rollback trigger fired" if breach.fired else "no data for a rollback trigger"
            raise OperationFailed(f"{what} during the verification period: {monitor.describe(breach)}")
        return
    runner.say(f"no Prometheus for {env.name}: health checks for {round(seconds)}s")
    if runner.dry:
        runner.say(_window_rule(_health_window(cfg)))
        return
    _health_loop(runner, cfg, env, seconds)


def _health_window(cfg: PlatformConfig) -> float:
    from retail_deploy.monitoring.monitor import health_check_window

    return health_check_window(cfg)


def _window_rule(window_s: float) -> str:
    from retail_deploy.monitoring.triggers import format_duration

    if window_s <= 0:
        return "rollback on the first failed health check (rollback_triggers.health_check is off)"
    return (f"rollback when an endpoint fails every health check for {format_duration(window_s)} "
            "(rollback_triggers.health_check) or still fails when the period ends")


def _health_loop(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, seconds: float) -> None:
    """Check every endpoint every few seconds for `seconds`; raise once one has failed on every
    check for the `health_check` trigger's window, or still fails when the period ends (the rule:
    `health.window`). Says when an endpoint starts failing and when it recovers."""
    from retail_deploy.health.checks import check_endpoints
    from retail_deploy.health.window import FailureClock, Observation, check_interval

    window_s = _health_window(cfg)
    endpoints = health_endpoints(cfg, env)
    start = time.monotonic()
    deadline = start + seconds
    wall_offset = time.time() - start  # monotonic -> wall clock, for the progress lines only
    interval = check_interval(seconds, window_s)
    clock = FailureClock(window_s)
    if seconds > 0:
        runner.say(_window_rule(window_s))

    def clock_time(at: float) -> str:
        return time.strftime("%H:%M:%S", time.gmtime(at + wall_offset))

    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(interval, remaining))
        at = time.monotonic()
        results = check_endpoints(endpoints, timeout=HTTP_TIMEOUT_S, retries=1, backoff=0.5)
        final = time.monotonic() >= deadline  # a release is not accepted while unhealthy
        breaches: list[tuple[Breach, CheckResult]] = []
        for result in results:
            change = clock.observe(Observation(at, result.endpoint.label, result.ok))
            breach = clock.breach(result.endpoint.label, at, final=final)
            if breach is not None:
                breaches.append((breach, result))
            elif change is not None and change.failing:
                rollback_at = min(change.since + window_s, deadline)
                runner.say(f"{change.endpoint} failing since {clock_time(change.since)}; "
                           f"rollback if it still fails at {clock_time(rollback_at)}; last error: {result.error}")
            elif change is not None:
                runner.say(f"{change.endpoint} recovered at {clock_time(change.at)} "
                           f"(failed for {_seconds(change.at - change.since)})")
        if breaches:
            raise OperationFailed("health check failed: " + "; ".join(
                _describe_breach(breach, result) for breach, result in breaches))


def _describe_breach(breach: Breach, result: CheckResult) -> str:
    from retail_deploy.monitoring.triggers import format_duration

    window = format_duration(breach.window_s)
    how = (f"still failing when the verification period ended, after {_seconds(breach.failed_for_s)} "
           f"(window {window})" if breach.at_period_end else
           f"failed every check for {_seconds(breach.failed_for_s)} (window {window})")
    return f"{breach.endpoint} ({result.endpoint.url}) {how}: {result.error}"


def _seconds(value: float) -> str:
    return f"{value:.1f}s" if value < 10 else f"{value:.0f}s"
