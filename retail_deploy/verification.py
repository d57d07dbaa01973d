"""Checks the deployer runs after acting: health of public (or per-colour) URLs, the version a
service reports, smoke tests and the verification period.

Health and smoke checks belong to the health chapter (`retail_deploy.health`,
`retail_deploy.smoke`) and the verification period to monitoring (`retail_deploy.triggers`);
they are imported lazily. Until those modules exist, a small stdlib check of the same
endpoints is used, so a deploy never skips verification.
"""

from __future__ import annotations

import importlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from retail_deploy.commands import cmd
from retail_deploy.errors import OperationFailed

HTTP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    url: str
    ok: bool
    detail: str


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _get(url: str, timeout: float = HTTP_TIMEOUT_S) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(65536).decode("utf-8", "replace")


def endpoint_check(url: str, expect_status: int, expect_json: Mapping[str, Any] | None) -> Check:
    try:
        status, body = _get(url)
    except (OSError, ValueError) as exc:
        return Check(url, False, f"unreachable: {exc}")
    if status != expect_status:
        return Check(url, False, f"HTTP {status}, expected {expect_status}")
    if expect_json:
        try:
            data = json.loads(body)
        except ValueError:
            return Check(url, False, "body is not JSON")
        wrong = {k: data.get(k) for k, v in expect_json.items() if not isinstance(data, dict) or data.get(k) != v}
        if wrong:
            return Check(url, False, f"unexpected {wrong}")
    return Check(url, True, f"HTTP {status}")


def endpoints(cfg: Any, urls: Mapping[str, str], services: list[str] | None = None) -> list[tuple[str, int, Any]]:
    """(url, expected status, expected JSON) for every configured health endpoint of `services`."""
    out = []
    for name, base in urls.items():
        if services is not None and name not in services:
            continue
        svc = cfg.services.get(name) if hasattr(cfg.services, "get") else None
        for endpoint in getattr(svc, "health", None) or []:
            path = getattr(endpoint, "path", "/")
            out.append((base.rstrip("/") + path, int(getattr(endpoint, "expect_status", 200) or 200),
                        getattr(endpoint, "expect_json", None)))
        if svc is None or not getattr(svc, "health", None):
            out.append((base.rstrip("/") + "/", 200, None))
    return out


def check_health(runner: Any, cfg: Any, env: Any, urls: Mapping[str, str], *, retries: int = 3,
                 delay_s: float = 1.0, services: list[str] | None = None) -> list[Check]:
    """Check every endpoint (printed as `curl -fsS URL`); retried while the switch settles.
    Raises OperationFailed naming the failing URLs."""
    health = _optional("retail_deploy.health")
    targets = endpoints(cfg, urls, services)
    results: list[Check] = []
    for url, expect_status, expect_json in targets:
        line = cmd("curl", "-fsS", url, read_only=True)

        def one(u: str = url, s: int = expect_status, j: Any = expect_json) -> Check:
            check = endpoint_check(u, s, j)
            for _ in range(retries - 1):
                if check.ok:
                    break
                time.sleep(delay_s)
                check = endpoint_check(u, s, j)
            return check

        if health is not None and hasattr(health, "check_endpoints") and hasattr(health, "endpoints_for"):
            result = runner.action(line, _via_health_chapter, health, cfg, env, u=url, fallback=one)
        else:
            result = runner.action(line, one)
        if result is not None:
            results.append(result)
    failed = [c for c in results if not c.ok]
    if failed:
        raise OperationFailed("health check failed: " + "; ".join(f"{c.url} {c.detail}" for c in failed))
    return results


def _via_health_chapter(health: Any, cfg: Any, env: Any, *, u: str, fallback: Any) -> Check:
    """Prefer the health chapter's checker (TLS bundle, retries) for a URL it knows."""
    try:
        known = [e for e in health.endpoints_for(cfg, env) if getattr(e, "url", None) == u]
    except Exception:  # noqa: BLE001 - the other chapter's signature may differ until merged
        known = []
    if not known:
        return fallback()
    result = health.check_endpoints(known, timeout=HTTP_TIMEOUT_S, retries=3, ca_bundle=None)[0]
    return Check(u, bool(result.ok), str(result.error or result.status))


def served_version(base_url: str, path: str = "/api/v1/version") -> str | None:
    try:
        status, body = _get(base_url.rstrip("/") + path)
        data = json.loads(body) if status == 200 else {}
    except (OSError, ValueError):
        return None
    return str(data.get("version")) if isinstance(data, dict) and data.get("version") is not None else None


def check_version(runner: Any, base_url: str, version: str, path: str = "/api/v1/version") -> None:
    """`/api/v1/version` must report the version we deployed (or restored)."""
    url = base_url.rstrip("/") + path
    got = runner.action(cmd("curl", "-fsS", url, read_only=True), served_version, base_url, path)
    if runner.dry:
        return
    if got != version:
        raise OperationFailed(f"{url} reports version {got!r}, expected {version!r}")


def smoke(runner: Any, cfg: Any, env: Any, colour: str, base_urls: Mapping[str, str], service: str,
          version_path: str | None, version: str) -> None:
    """`./scripts/smoke-tests.sh <colour>` against the idle colour before it gets traffic."""
    module = _optional("retail_deploy.smoke")
    line = cmd("./scripts/smoke-tests.sh", colour)
    if module is not None and hasattr(module, "run_smoke_tests"):
        report = runner.action(line, module.run_smoke_tests, cfg, env, colour, base_urls=dict(base_urls))
        if report is not None and not report.ok:
            raise OperationFailed(f"smoke tests failed on {colour}: {report.failures}")
        return

    def builtin() -> list[Check]:
        checks = [endpoint_check(u, s, j) for u, s, j in endpoints(cfg, base_urls, [service])]
        if version_path and service in base_urls:
            got = served_version(base_urls[service], version_path)
            checks.append(Check(base_urls[service] + version_path, got == version, f"version {got!r}"))
        return checks

    checks = runner.action(line, builtin)
    failed = [c for c in checks or [] if not c.ok]
    if failed:
        raise OperationFailed(f"smoke tests failed on {colour}: " + "; ".join(f"{c.url} {c.detail}" for c in failed))


def verification_period(runner: Any, cfg: Any, env: Any, urls: Mapping[str, str], seconds: float,
                        prometheus_url: str | None) -> None:
    """Watch the new version before accepting it: the rollback triggers (monitoring chapter)
    when Prometheus is configured, else the health checks every few seconds. Raises on a breach."""
    if seconds <= 0:
        return
    triggers = _optional("retail_deploy.triggers") if prometheus_url else None
    if triggers is not None and hasattr(triggers, "watch"):
        line = cmd("inv", "monitor.watch", "--env", env.name, "--duration", f"{int(seconds)}s")
        result = runner.action(line, triggers.watch, cfg, env, seconds, say=runner.say)
        breach = getattr(result, "breach", None)
        if breach:
            raise OperationFailed(f"rollback trigger fired during the verification period: {breach}")
        return
    runner.say(f"verification period: health checks for {int(seconds)}s")
    if runner.dry:
        return
    deadline = time.monotonic() + seconds
    interval = min(10.0, max(seconds / 3, 0.5))
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(interval, remaining))
        check_health(_Quiet(runner), cfg, env, urls, retries=2, delay_s=0.5)


class _Quiet:
    """Runs health checks during the verification period without a `$ curl` line each time."""

    def __init__(self, runner: Any) -> None:
        self.dry = runner.dry

    def action(self, _line: Any, fn: Any, *args: Any, **kw: Any) -> Any:
        return fn(*args, **kw)
