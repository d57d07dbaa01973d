"""Health checks chapter: `health.check`, `health.deps`, `health.smoke`.

Thin tasks over `retail_deploy.health.checks` and `retail_deploy.health.smoke`; exit 0 when everything is
healthy, 1 when anything is not (every failure is listed, not only the first), 2 on bad input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Collection

from retail_deploy.tasks._common import load, print_json, task

if TYPE_CHECKING:
    from retail_deploy.commands import Command
    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.health.checks import CheckResult, Endpoint

CHECK_HELP = {
    "json": "print the results as JSON on stdout (for scripts)",
    "ca_bundle": "PEM file of CAs to trust for HTTPS (verification is always on); default: env ca_bundle",
    "timeout": "seconds to wait for each answer (default 5)",
    "retries": "extra attempts for a failing endpoint, with exponential backoff (default 2)",
    "url": "base URL of a service for this run, SERVICE=URL (repeatable), e.g. SERVICE=http://127.0.0.1:8080",
    "style": "output style: table (default) or runbook (the runbook script's ✅/❌ lines)",
}


@task(help=CHECK_HELP, iterable=["url"])
def check(c, env=None, config=None, json=False, ca_bundle=None, timeout=5.0, retries=2, url=None,
          style="table"):
    """The runbook's health table: every endpoint checked at once; exit 1 if any is unhealthy."""
    from retail_deploy.execute import Runner
    from retail_deploy.health import checks as health

    cfg = load(config)
    environment = cfg.environment(env)
    _choice(style, ("table", "runbook"), "--style")
    timeout, retries = _limits(timeout, retries)
    endpoints = health.endpoints_for(cfg, environment, _parse_urls(url, cfg))
    if not endpoints:
        from retail_deploy.errors import ConfigError

        raise ConfigError(f"no health endpoint for {environment.name}: give its services health: entries "
                          "and the environment urls: in the config")
    bundle = _ca_bundle(ca_bundle, environment)
    runner = Runner(c)
    if runner.dry:
        for endpoint in endpoints:
            runner.announce(_curl(endpoint, timeout, bundle))
        return
    results = health.check_endpoints(endpoints, timeout=timeout, retries=retries, ca_bundle=bundle)
    _print_results(results, json, style, environment.name)
    if not health.all_ok(results):
        from retail_deploy.errors import OperationFailed

        raise OperationFailed(f"{environment.name}: {health.summary(results)}")


@task(help={
    "via": "how to reach the service's actuator: kubectl (exec in the pod, as the runbook does; default on "
           "Kubernetes) or direct (HTTP to the environment's URL)",
    "service": "the service whose actuator reports the dependencies (default: the one declaring dependencies)",
    "json": CHECK_HELP["json"],
    "timeout": CHECK_HELP["timeout"],
    "ca_bundle": CHECK_HELP["ca_bundle"],
})
def deps(c, env=None, config=None, via=None, service=None, json=False, timeout=5.0, ca_bundle=None):
    """Dependency health (e.g. MongoDB, Redis) through a service's Spring Boot /actuator/health/<name>."""
    from retail_deploy.execute import Runner
    from retail_deploy.health import dependencies

    cfg = load(config)
    environment = cfg.environment(env)
    via = via or ("kubectl" if environment.target == "kubernetes" else "direct")
    _choice(via, ("kubectl", "direct"), "--via")
    timeout, _ = _limits(timeout, 0)
    owner, components = dependencies.declared(cfg, service)
    bundle = _ca_bundle(ca_bundle, environment)
    with Runner(c) as runner:
        if via == "kubectl":
            from retail_deploy.kube.settings import kube_env

            results = dependencies.check_via_kubectl(runner, kube_env(cfg, environment), owner, components)
        else:
            results = dependencies.check_direct(runner, environment, owner, components, timeout=timeout,
                                                ca_bundle=bundle)
    if results is None:  # dry run: the commands were printed
        return
    if json:
        print_json([r.to_dict() for r in results])
    else:
        for result in results:
            print(result.line())
    failed = [r for r in results if not r.ok]
    if failed:
        from retail_deploy.errors import OperationFailed

        raise OperationFailed(f"{environment.name}: {len(failed)} of {len(results)} dependencies unhealthy: "
                              + "; ".join(f"{r.name}: {r.error}" for r in failed))
    if not json:
        print(f"All {len(results)} dependencies healthy ({owner.name} via {via}).")


@task(help={
    "target": "environment name or blue/green colour to test (default: the environment)",
    "version": "expected version: must appear in the answer of each service's version endpoint",
    "json": CHECK_HELP["json"],
    "timeout": CHECK_HELP["timeout"],
    "retries": CHECK_HELP["retries"],
    "ca_bundle": CHECK_HELP["ca_bundle"],
    "url": CHECK_HELP["url"],
}, iterable=["url"])
def smoke(c, env=None, config=None, target=None, version=None, json=False, timeout=5.0, retries=2,
          ca_bundle=None, url=None):
    """Run the smoke suite (config `smoke_tests:`, default: health table + version) on an env or colour."""
    from retail_deploy import validate
    from retail_deploy.execute import Runner
    from retail_deploy.health import smoke as smoke_lib

    cfg = load(config)
    environment = cfg.environment(env)
    if version:
        validate.version(version)
    timeout, retries = _limits(timeout, retries)
    runner = Runner(c)
    bundle = _ca_bundle(ca_bundle, environment)
    if runner.dry:
        urls = smoke_lib.target_urls(environment, target or environment.name)
        urls.update(_parse_urls(url, cfg) or {})
        for test in smoke_lib.smoke_suite(cfg, version):
            if urls.get(test.service):
                runner.announce(_curl(test.endpoint(urls[test.service]), timeout, bundle))
        return
    report = smoke_lib.run_smoke_tests(cfg, environment, target, _parse_urls(url, cfg), version=version,
                                       timeout=timeout, retries=retries, ca_bundle=bundle)
    if json:
        print_json(report.to_dict())
    else:
        print("\n".join(report.lines()))
    if not report.ok:
        from retail_deploy.errors import OperationFailed

        raise OperationFailed(f"smoke tests failed on {report.target}: "
                              + "; ".join(f"{r.name}: {r.error}" for r in report.failures))


# --- helpers -------------------------------------------------------------------------------------

def _choice(value: str, allowed: tuple[str, ...], option: str) -> None:
    if value not in allowed:
        from retail_deploy.errors import InputError

        raise InputError(f"{option} {value!r} is not one of: {', '.join(allowed)}")


def _limits(timeout: float | str, retries: int | str) -> tuple[float, int]:
    """--timeout and --retries as numbers, refused (exit 2) before any request when out of range."""
    import math

    from retail_deploy.errors import InputError

    if not math.isfinite(float(timeout)) or float(timeout) <= 0:
        raise InputError(f"--timeout {timeout}: must be more than 0 seconds")
    if int(retries) < 0:
        raise InputError(f"--retries {retries}: must be 0 or more")
    return float(timeout), int(retries)


def _parse_urls(pairs: list[str] | None, cfg: PlatformConfig) -> dict[str, str] | None:
    """`--url SERVICE=http://...` (repeatable) -> {service: URL}; unknown services refused."""
    if not pairs:
        return None
    from retail_deploy.errors import InputError

    urls: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not value.strip():
            example = next(iter(cfg.services))
            raise InputError(f"--url {pair!r}: expected SERVICE=URL, e.g. {example}=https://api.example.com")
        cfg.service(name.strip())
        if not value.strip().startswith(("http://", "https://")):
            raise InputError(f"--url {pair!r}: the URL must start with http:// or https://")
        urls[name.strip()] = value.strip()
    return urls


def _ca_bundle(option: str | None, environment: EnvironmentConfig) -> str | None:
    """--ca-bundle, else the environment's `ca_bundle`: a file that must exist, checked before any
    request and in a dry run too (the dry run refuses what the real run refuses)."""
    from retail_deploy import validate

    bundle = option or _env_ca_bundle(environment)
    return validate.existing_file(bundle, what="--ca-bundle" if option else "ca_bundle") if bundle else None


def _env_ca_bundle(environment: EnvironmentConfig) -> str | None:
    raw = getattr(environment, "raw", None)
    return raw.str("ca_bundle", None) if raw is not None else None


def _curl(endpoint: Endpoint, timeout: float, ca_bundle: str | None) -> Command:
    from retail_deploy.commands import cmd

    return cmd(*endpoint.curl(timeout=timeout, ca_bundle=ca_bundle), read_only=True)


def display_name(service: str) -> str:
    """`consumer-web` -> `Consumer Web` (the runbook script's wording)."""
    return " ".join(part.capitalize() for part in service.replace("_", "-").split("-"))


def _print_results(results: list[CheckResult], as_json: bool, style: str, environment: str) -> None:
    from retail_deploy.health import checks as health
    from retail_deploy.redact import redact

    if as_json:
        print_json({"environment": environment, "ok": health.all_ok(results),
                     "results": [r.to_dict() for r in results]})
        return
    if style == "runbook":
        by_service: dict[str, list[CheckResult]] = {}
        for result in results:
            by_service.setdefault(result.endpoint.service, []).append(result)
        for service, checks in by_service.items():
            print(f"Checking {service} health...")
            if all(r.ok for r in checks):
                print(f"✅ {display_name(service)}: HEALTHY")
            else:
                print(f"❌ {display_name(service)}: UNHEALTHY")
                for r in checks:
                    if not r.ok:
                        print(redact(f"   {r.endpoint.url}: {r.error}"))
        if health.all_ok(results):
            print("")
            print("All services healthy!")
        return
    for result in results:
        print(result.line())
    print(health.summary(results))


ns = Collection("health")
ns.add_task(check)
ns.add_task(deps)
ns.add_task(smoke)
