"""Smoke suite: default suite, config parsing (errors name the key), colour targets."""

from __future__ import annotations

import pytest

from retail_deploy.errors import ConfigError, InputError
from retail_deploy.smoke import (
    SmokeTest,
    colour_urls,
    default_suite,
    parse_smoke_tests,
    smoke_suite,
    target_urls,
)

from .health_fakes import environment, platform


def test_default_suite_is_the_health_table_plus_version():
    suite = default_suite(platform(), version="1.4.2")
    assert [(t.service, t.path, t.expect_json, t.expect_body_contains) for t in suite] == [
        ("backend", "/api/v1/health", {"status": "UP"}, None),
        ("backend", "/actuator/health", {"status": "UP"}, None),
        ("backend", "/api/v1/version", None, "1.4.2"),
        ("consumer-web", "/", None, None),
        ("admin-web", "/", None, None),
    ]


def test_config_suite_replaces_the_default():
    cfg = platform(raw={"smoke_tests": [
        {"name": "catalog", "service": "backend", "path": "/api/v1/products?limit=1",
         "expect_json": {"page": 0}},
        {"name": "login page", "service": "consumer-web", "path": "/login", "method": "get",
         "expect_body_contains": "Sign in"},
    ]})
    assert smoke_suite(cfg) == [
        SmokeTest("catalog", "backend", "/api/v1/products?limit=1", "GET", 200, {"page": 0}, None),
        SmokeTest("login page", "consumer-web", "/login", "GET", 200, None, "Sign in"),
    ]


@pytest.mark.parametrize("data, message", [
    ({"name": "x"}, "smoke_tests must be a list"),
    ([{"service": "backend", "path": "/"}], "smoke_tests[0].name is required"),
    ([{"name": "a", "service": "payments", "path": "/"}], "smoke_tests[0].service 'payments' is not a configured"),
    ([{"name": "a", "service": "backend", "path": "api"}], "smoke_tests[0].path must start with '/'"),
    ([{"name": "a", "service": "backend", "path": "/", "expect_status": "ok"}],
     "smoke_tests[0].expect_status must be an HTTP status code"),
    ([{"name": "a", "service": "backend", "path": "/", "expect_json": "UP"}], "smoke_tests[0].expect_json must be"),
    ([{"name": "a", "service": "backend", "path": "/", "expcet_status": 200}], "unknown key(s) expcet_status"),
    ([{"name": "a", "service": "backend", "path": "/"}, {"name": "a", "service": "backend", "path": "/x"}],
     "smoke_tests[1].name 'a' is used twice"),
    ([{"name": "a", "service": "backend", "path": "/", "method": "FETCH"}], "method 'FETCH' is not one of"),
])
def test_bad_suite_entries_are_config_errors_naming_the_key(data, message):
    with pytest.raises(ConfigError) as info:
        parse_smoke_tests(data, services={"backend", "consumer-web", "admin-web"})
    assert message in str(info.value)


def test_colour_targets_use_the_colour_urls():
    env = environment(raw={"colour_urls": {"blue": {"backend": "https://blue.api.example.com"},
                                           "green": "https://green.api.example.com"}})
    assert colour_urls(env) == {"blue": {"backend": "https://blue.api.example.com"},
                                "green": {"backend": "https://green.api.example.com"}}
    assert target_urls(env, "green") == {"backend": "https://green.api.example.com"}
    assert target_urls(env, "production")["consumer-web"] == "https://www.example.com"


def test_unknown_target_and_missing_colours_are_input_errors():
    env = environment(name="staging")
    with pytest.raises(InputError, match="staging defines no colour_urls"):
        target_urls(env, "green")
    with pytest.raises(InputError, match="unknown smoke-test target 'qa'"):
        target_urls(env, "qa")
