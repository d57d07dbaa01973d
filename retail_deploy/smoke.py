"""Smoke tests: a suite of HTTP requests and expected answers, defined in config.

The suite lives under the config's top-level `smoke_tests:` list, so a team extends it without
code. Without one, the default suite is the runbook's health table plus each service's version
endpoint (`/api/v1/version`). A run targets an environment (its URLs) or a blue/green colour
(the colour's own URLs, e.g. `./scripts/smoke-tests.sh green` before the traffic switch).
The checks themselves are `health.check_endpoints`: concurrent, with timeouts and retries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from retail_deploy.errors import ConfigError, InputError
from retail_deploy.health import CheckResult, Endpoint, check_endpoints, join_url

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


def run_smoke_tests(cfg: Any, env: Any, target: str | None = None,
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


def target_urls(env: Any, target: str) -> dict[str, str]:
    """Base URLs per service for `target`: the environment's urls, or one colour's urls."""
    if target == env.name:
        return dict(env.urls or {})
    colours = colour_urls(env)
    if target in colours:
        return dict(colours[target])
    known = [env.name, *colours] if colours else [env.name]
    hint = "" if colours or target not in COLOURS else \
        f" ({env.name} defines no colour_urls for blue/green in the config)"
    raise InputError(f"unknown smoke-test target {target!r}: use one of {', '.join(known)}{hint}")


def colour_urls(env: Any) -> dict[str, dict[str, str]]:
    """{colour: {service: base URL}} from the environment's blue/green config.

    Read from `env.blue_green.urls` (or `.colour_urls`) when the config model has it, else from
    the raw section (`colour_urls:` or `blue_green: {urls: ...}`), so the chapter does not depend
    on how the core config models it.
    """
    found: Any = None
    blue_green = getattr(env, "blue_green", None)
    for attr in ("urls", "colour_urls"):
        found = found or getattr(blue_green, attr, None)
    raw = getattr(env, "raw", None)
    if not found and raw is not None:
        found = _get(raw, "colour_urls") or _get(_get(raw, "blue_green"), "urls") or \
            _get(_get(raw, "blue_green"), "colour_urls")
    result: dict[str, dict[str, str]] = {}
    for colour, value in (_as_dict(found) or {}).items():
        mapping = _as_dict(value)
        if mapping is None and isinstance(value, str):
            # A plain URL means the blue/green service's own URL.
            mapping = {_blue_green_service(env): value}
        result[str(colour)] = {str(k): str(v) for k, v in (mapping or {}).items()}
    return result


def default_suite(cfg: Any, version: str | None = None) -> list[SmokeTest]:
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


def smoke_suite(cfg: Any, version: str | None = None) -> list[SmokeTest]:
    """The config's `smoke_tests:` suite when it has one, else the default suite."""
    section = _config_section(cfg, "smoke_tests")
    if section is None:
        return default_suite(cfg, version)
    tests = parse_smoke_tests(section, services=set(cfg.services), error=_error_factory(cfg))
    if version:
        tests = [_with_version(t, version, cfg) for t in tests]
    return tests


def parse_smoke_tests(data: Any, services: set[str] | None = None,
                      error: Callable[[str], Exception] | None = None) -> list[SmokeTest]:
    """Validate the `smoke_tests:` list (plain YAML data) into SmokeTests.

    `error(message)` builds the exception (the config loader's, naming file and line); by
    default a ConfigError naming the key.
    """
    make_error = error or (lambda message: ConfigError(f"config: {message}"))
    if not isinstance(data, list):
        raise make_error("smoke_tests must be a list of {name, service, path, ...} entries")
    tests: list[SmokeTest] = []
    seen: set[str] = set()
    for index, item in enumerate(data):
        where = f"smoke_tests[{index}]"
        if not isinstance(item, Mapping):
            raise make_error(f"{where} must be a mapping with name, service and path")
        unknown = set(item) - {"name", "service", "method", "path", "expect_status", "expect_json",
                               "expect_body_contains"}
        if unknown:
            raise make_error(f"{where} has unknown key(s) {', '.join(sorted(unknown))}")
        for key in ("name", "service", "path"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise make_error(f"{where}.{key} is required (a non-empty string)")
        name, service, path = item["name"], item["service"], item["path"]
        if name in seen:
            raise make_error(f"{where}.name {name!r} is used twice")
        seen.add(name)
        if services is not None and service not in services:
            raise make_error(f"{where}.service {service!r} is not a configured service "
                             f"({', '.join(sorted(services))})")
        if not path.startswith("/"):
            raise make_error(f"{where}.path must start with '/' (got {path!r})")
        method = str(item.get("method", "GET")).upper()
        if method not in METHODS:
            raise make_error(f"{where}.method {method!r} is not one of {', '.join(METHODS)}")
        status = item.get("expect_status", 200)
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise make_error(f"{where}.expect_status must be an HTTP status code (got {status!r})")
        expect_json = item.get("expect_json")
        if expect_json is not None and not isinstance(expect_json, Mapping):
            raise make_error(f"{where}.expect_json must be a mapping (a subset of the JSON answer)")
        contains = item.get("expect_body_contains")
        if contains is not None and not isinstance(contains, str):
            raise make_error(f"{where}.expect_body_contains must be a string")
        tests.append(SmokeTest(name=name, service=service, path=path, method=method,
                               expect_status=status,
                               expect_json=dict(expect_json) if expect_json is not None else None,
                               expect_body_contains=contains))
    return tests


# --- internals -------------------------------------------------------------------------------

def _with_version(test: SmokeTest, version: str, cfg: Any) -> SmokeTest:
    service = cfg.services.get(test.service)
    if service is None or getattr(service, "version_path", None) != test.path or test.expect_body_contains:
        return test
    return SmokeTest(test.name, test.service, test.path, test.method, test.expect_status,
                     test.expect_json, version)


def _config_section(cfg: Any, key: str) -> Any:
    """The plain data of a top-level config section, or None when the file has none."""
    raw = getattr(cfg, "raw", None)
    if raw is not None:
        value = _get(raw, key)
        return _plain(value) if value is not None else None
    section = getattr(cfg, "section", None)
    if callable(section):
        try:
            node = section(key)
        except (KeyError, LookupError):
            return None
        return None if node is None else _plain(node)
    return None


def _error_factory(cfg: Any) -> Callable[[str], Exception] | None:
    section = getattr(cfg, "section", None)
    if not callable(section):
        return None
    try:
        node = section("smoke_tests")
    except Exception:  # noqa: BLE001 - fall back to the plain ConfigError
        return None
    node_error = getattr(node, "error", None)
    return node_error if callable(node_error) else None


def _plain(value: Any) -> Any:
    """Plain dicts/lists from a config Node (or plain data as is)."""
    for attr in ("value", "data", "raw"):
        inner = getattr(value, attr, None)
        if inner is not None and not callable(inner):
            return inner
    return value


def _get(container: Any, key: str) -> Any:
    if container is None:
        return None
    if isinstance(container, Mapping):
        return container.get(key)
    getter = getattr(container, "get", None)
    return getter(key) if callable(getter) else None


def _as_dict(value: Any) -> dict[str, Any] | None:
    value = _plain(value)
    return dict(value) if isinstance(value, Mapping) else None


def _blue_green_service(env: Any) -> str:
    blue_green = getattr(env, "blue_green", None)
    return str(getattr(blue_green, "service", None) or "backend")
