"""run_smoke_tests against real loopback services: environment and colour targets."""

from __future__ import annotations

import pytest

from retail_deploy.errors import InputError
from retail_deploy.health.smoke import run_smoke_tests
from tests.unit.health_fakes import environment, platform

from ..health_servers import platform_routes, refused_url

pytestmark = pytest.mark.integration


@pytest.fixture
def blue(http_service_factory):
    return http_service_factory(platform_routes(version="1.4.1"))


@pytest.fixture
def green(http_service_factory):
    return http_service_factory(platform_routes(version="1.4.2"))


def test_default_suite_passes_on_a_healthy_environment(blue):
    env = environment(urls={"backend": blue.url, "consumer-web": blue.url, "admin-web": blue.url})
    report = run_smoke_tests(platform(), env, "production", timeout=2, retries=0)
    assert report.ok
    assert len(report.results) == 5
    assert report.lines()[-1] == "smoke tests on production: 5 passed, 0 failed"


def test_colour_target_checks_only_that_colour_and_its_version(blue, green):
    env = environment(urls={"backend": blue.url, "consumer-web": blue.url, "admin-web": blue.url},
                      colour_urls={"blue": blue.url, "green": green.url})
    report = run_smoke_tests(platform(), env, "green", version="1.4.2", timeout=2, retries=0)
    assert report.ok, report.lines()
    assert len(green.requests_to("/api/v1/version")) == 1
    assert blue.requests == []
    assert set(report.skipped) == {"consumer-web /", "admin-web /"}
    # Blue still runs 1.4.1: the version check catches a smoke run against the wrong colour.
    wrong = run_smoke_tests(platform(), env, "blue", version="1.4.2", timeout=2, retries=0)
    assert not wrong.ok
    assert [r.name for r in wrong.failures] == ["backend /api/v1/version"]
    assert "does not contain '1.4.2'" in wrong.failures[0].error


def test_config_suite_failures_are_each_named(green):
    cfg = platform(raw={"smoke_tests": [
        {"name": "health", "service": "backend", "path": "/api/v1/health", "expect_json": {"status": "UP"}},
        {"name": "orders", "service": "backend", "path": "/api/v1/orders"},
        {"name": "storefront", "service": "consumer-web", "path": "/", "expect_body_contains": "Retail"},
        {"name": "admin", "service": "admin-web", "path": "/"},
    ]})
    env = environment(urls={"backend": green.url, "consumer-web": green.url, "admin-web": refused_url()})
    report = run_smoke_tests(cfg, env, timeout=1, retries=0)
    assert not report.ok
    assert {r.name: r.error for r in report.failures} == {
        "orders": "HTTP 404 (expected 200)",
        "admin": "connection refused",
    }


def test_a_target_without_any_url_is_an_input_error(green):
    env = environment(urls={}, colour_urls={"green": green.url})
    cfg = platform(raw={"smoke_tests": [{"name": "web", "service": "consumer-web", "path": "/"}]})
    with pytest.raises(InputError, match="no smoke test can run on green"):
        run_smoke_tests(cfg, env, "green")
