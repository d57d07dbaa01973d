"""Smoke suite: default suite, config parsing (errors name the key), colour targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from retail_deploy.errors import ConfigError, InputError
from retail_deploy.health.smoke import (
    SmokeTest,
    colour_urls,
    default_suite,
    smoke_suite,
    target_urls,
)

from ..health_fakes import environment, platform


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
    ({"name": "x"}, "platform.yaml:1: smoke_tests: expected a list"),
    ([{"service": "backend", "path": "/"}], "smoke_tests[0]: missing required key 'name'"),
    ([{"name": "a", "service": "payments", "path": "/"}],
     "smoke_tests[0].service: 'payments' is not a configured service"),
    ([{"name": "a", "service": "backend", "path": "api"}], "smoke_tests[0].path: a path starts with '/'"),
    ([{"name": "a", "service": "backend", "path": "/", "expect_status": "ok"}],
     "smoke_tests[0].expect_status: expected an integer"),
    ([{"name": "a", "service": "backend", "path": "/", "expect_json": "UP"}], "smoke_tests[0].expect_json: expected a mapping"),
    ([{"name": "a", "service": "backend", "path": "/", "expcet_status": 200}], "smoke_tests[0].expcet_status: unknown key"),
    ([{"name": "a", "service": "backend", "path": "/"}, {"name": "a", "service": "backend", "path": "/x"}],
     "smoke_tests[1].name: smoke test name 'a' is used twice"),
    ([{"name": "a", "service": "backend", "path": "/", "method": "FETCH"}], "'FETCH' is not one of"),
])
def test_bad_suite_entries_are_config_errors_naming_the_key(data, message):
    with pytest.raises(ConfigError) as info:
        smoke_suite(platform(raw={"smoke_tests": data}))
    assert message in str(info.value)


def test_config_errors_name_the_line(tmp_path):
    from retail_deploy.config import load_config

    path = tmp_path / "platform.yaml"
    default = Path(__file__).resolve().parents[3] / "config" / "retail-platform.yaml"
    path.write_text(default.read_text() + "\nsmoke_tests:\n  - name: catalog\n    service: backend\n"
                    "    path: api/v1/products\n")
    cfg = load_config(path, environ={})
    line = len(default.read_text().splitlines()) + 5
    with pytest.raises(ConfigError, match=rf"platform.yaml:{line}: smoke_tests\[0\].path: a path starts"):
        smoke_suite(cfg)


def test_colour_targets_use_the_colour_urls():
    env = environment(colour_urls={"blue": "https://blue.api.example.com",
                                   "green": "https://green.api.example.com"})
    assert colour_urls(env) == {"blue": {"backend": "https://blue.api.example.com"},
                                "green": {"backend": "https://green.api.example.com"}}
    assert target_urls(env, "green") == {"backend": "https://green.api.example.com"}
    assert target_urls(env, "production")["consumer-web"] == "https://www.example.com"


def test_unknown_target_and_missing_colours_are_input_errors():
    env = environment(name="staging")
    with pytest.raises(InputError, match="staging defines no blue_green.colour_urls"):
        target_urls(env, "green")
    with pytest.raises(InputError, match="unknown smoke-test target 'qa'"):
        target_urls(env, "qa")
