"""Smoke tests: a suite of HTTP requests and expected answers, defined in config.

The suite lives under the config's top-level `smoke_tests:` list, so a team extends it without
code. Without one, the default suite is the runbook's health table plus each service's version
endpoint (`/api/v1/version`). A run targets an environment (its URLs) or a blue/green colour
(the colour's own URLs, e.g. `./scripts/smoke-tests.sh green` before the traffic switch).
The checks themselves are `health.check_endpoints`: concurrent, with timeouts and retries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retail_deploy.errors import InputError
from retail_deploy.health.checks import CheckResult, Endpoint, check_endpoints, join_url
from retail_deploy.yamlnode import Node

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig

COLOURS = ("blue", "green")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(frozen=True)
class SmokeTest:
    """One request of the suite and the answer it expects."""

    name: str
    service: str
    path: str = "/"
    method: str = "GET"
    expect_status: int = 200
    expect_json: Mapping[str, Any] | None = None
    expect_body_contains: str | None = None

    def endpoint(self, base_url: str) -> Endpoint:
        return Endpoint(url=join_url(base_url, self.path), name=self.name, service=self.service,
                        method=self.method, expect_status=self.expect_status,
                        expect_json=self.expect_json, expect_body_contains=self.expect_body_contains)


@dataclass(frozen=True)
class SmokeReport:
    """The outcome of one smoke run against one target."""

    target: str
    results: tuple[CheckResult, ...]
    # Tests not run because their service has no URL for this target (e.g. front ends for a colour).
    skipped: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    def lines(self) -> list[str]:
        out = [r.line() for r in self.results]
        out += [f"SKIP {name} (no URL for {self.target})" for name in self.skipped]
        passed = len(self.results) - len(self.failures)
        out.append(f"smoke tests on {self.target}: {passed} passed, {len(self.failures)} failed"
                   + (f", {len(self.skipped)} skipped" if self.skipped else ""))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "ok": self.ok, "results": [r.to_dict() for r in self.results],
                "skipped": list(self.skipped)}


def run_smoke_tests(cfg: PlatformConfig, env: EnvironmentConfig, target: str | None = None,
                    base_urls: Mapping[str, str] | None = None, *, version: str | None = None,
                    timeout: float = 5.0, retries: int = 2, backoff: float = 0.5,
                    ca_bundle: str | None = None, suite: Sequence[SmokeTest] | None = None) -> SmokeReport:
    """Run the smoke suite against `target`: the environment's name (or None) or a colour.

    `base_urls` ({service: URL}) override the target's URLs for the services they name.
    `version`, when given, must appear in the answer of each version endpoint.
    """
    target = target or env.name
    urls = target_urls(env, target)
    if base_urls:
        urls.update(base_urls)
    tests = list(suite if suite is not None else smoke_suite(cfg, version=version))
    runnable = [t for t in tests if urls.get(t.service)]
    skipped = tuple(t.name for t in tests if not urls.get(t.service))
    if not runnable:
        raise InputError(f"no smoke test can run on {target}: none of the suite's services "
                         f"({', '.join(sorted({t.service for t in tests})) or 'none'}) has a URL there; "
                         "set the environment's urls (or colour_urls) in the config")
    results = check_endpoints([t.endpoint(urls[t.service]) for t in runnable], timeout=timeout,
                              retries=retries, backoff=backoff, ca_bundle=ca_bundle)
    return SmokeReport(target, tuple(results), skipped)


def target_urls(env: EnvironmentConfig, target: str) -> dict[str, str]:
    """Base URLs per service for `target`: the environment's urls, or one colour's urls."""
    if target == env.name:
        return dict(env.urls or {})
    colours = colour_urls(env)
    if target in colours:
        return dict(colours[target])
    known = [env.name, *colours]
    hint = "" if colours or target not in COLOURS else \
        f" ({env.name} defines no blue_green.colour_urls in the config)"
    raise InputError(f"unknown smoke-test target {target!r}: use one of {', '.join(known)}{hint}")


def colour_urls(env: EnvironmentConfig) -> dict[str, dict[str, str]]:
    """{colour: {service: base URL}} from the environment's `blue_green.colour_urls`.

    Each colour's URL reaches that colour's deployment of the blue/green service directly (e.g. its
    cluster-internal Service), so green is smoke-tested before traffic is switched to it.
    """
    blue_green = getattr(env, "blue_green", None)
    if blue_green is None:
        return {}
    return {str(colour): {str(blue_green.service): str(url)}
            for colour, url in (blue_green.colour_urls or {}).items() if url}


def default_suite(cfg: PlatformConfig, version: str | None = None) -> list[SmokeTest]:
    """The runbook's health table (from the services' health entries) plus the version endpoints."""
    tests: list[SmokeTest] = []
    for name, service in cfg.services.items():
        for check in getattr(service, "health", None) or ():
            expect_json = getattr(check, "expect_json", None)
            tests.append(SmokeTest(name=f"{name} {check.path}", service=name, path=check.path,
                                   expect_status=int(getattr(check, "expect_status", 200) or 200),
                                   expect_json=dict(expect_json) if expect_json else None))
        version_path = getattr(service, "version_path", None)
        if version_path:
            tests.append(SmokeTest(name=f"{name} {version_path}", service=name, path=version_path,
                                   expect_body_contains=version))
    return tests


def smoke_suite(cfg: PlatformConfig, version: str | None = None) -> list[SmokeTest]:
    """The config's `smoke_tests:` suite when it has one, else the default suite."""
    node = cfg.root.get("smoke_tests")
    if node is None or node.value is None:
        return default_suite(cfg, version)
    tests = parse_smoke_tests(node, services=set(cfg.services))
    if version:
        tests = [_with_version(t, version, cfg) for t in tests]
    return tests


def validate_section(cfg: PlatformConfig) -> None:
    """For `config.validate`: the `smoke_tests:` list."""
    smoke_suite(cfg)


_KEYS = {"name", "service", "method", "path", "expect_status", "expect_json", "expect_body_contains"}


def parse_smoke_tests(node: Node, services: set[str] | None = None) -> list[SmokeTest]:
    """Validate the `smoke_tests:` list; errors name file, line and key (e.g. smoke_tests[2].path)."""
    if not isinstance(node.value, list):
        raise node.error("expected a list of smoke tests ({name, service, path, ...})")
    tests: list[SmokeTest] = []
    seen: set[str] = set()
    for item in node.elements():
        if not isinstance(item.value, Mapping):
            raise item.error("expected a mapping with name, service and path")
        item.unknown_keys(_KEYS)
        name, service, path = item.str("name"), item.str("service"), item.str("path")
        if name in seen:
            raise item.require("name").error(f"smoke test name {name!r} is used twice")
        seen.add(name)
        if services is not None and service not in services:
            raise item.require("service").error(
                f"{service!r} is not a configured service ({', '.join(sorted(services))})")
        if not path.startswith("/"):
            raise item.require("path").error(f"a path starts with '/' (got {path!r})")
        method = item.str("method", "GET").upper()
        if method not in METHODS:
            raise item.require("method").error(f"{method!r} is not one of {', '.join(METHODS)}")
        status = item.int("expect_status", 200)
        if not 100 <= status <= 599:
            raise item.require("expect_status").error(f"{status} is not an HTTP status code")
        expect_json = item.get("expect_json")
        if expect_json is not None and not isinstance(expect_json.value, Mapping):
            raise expect_json.error("expected a mapping (a subset of the JSON answer), e.g. {status: UP}")
        tests.append(SmokeTest(name=name, service=service, path=path, method=method, expect_status=status,
                               expect_json=dict(expect_json.value) if expect_json is not None else None,
                               expect_body_contains=item.str("expect_body_contains", None)))
    return tests


# --- internals -------------------------------------------------------------------------------

def _with_version(test: SmokeTest, version: str, cfg: PlatformConfig) -> SmokeTest:
    service = cfg.services.get(test.service)
    if service is None or getattr(service, "version_path", None) != test.path or test.expect_body_contains:
        return test
    return SmokeTest(test.name, test.service, test.path, test.method, test.expect_status,
                     test.expect_json, version)
