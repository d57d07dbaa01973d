"""Pure parts of retail_deploy.health.checks: URL joining, JSON subset match, endpoints from config."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from retail_deploy.health.checks import CheckResult, Endpoint, endpoints_for, join_url, json_mismatch, summary

from ..health_fakes import environment, platform


def test_endpoints_for_follows_the_runbook_table():
    endpoints = endpoints_for(platform(), environment())
    assert [(e.service, e.url, e.expect_status, e.expect_json) for e in endpoints] == [
        ("backend", "https://api.example.com/api/v1/health", 200, {"status": "UP"}),
        ("backend", "https://api.example.com/actuator/health", 200, {"status": "UP"}),
        ("consumer-web", "https://www.example.com/", 200, None),
        ("admin-web", "https://admin.example.com/", 200, None),
    ]


def test_endpoints_for_base_urls_override_and_missing_urls_skip():
    env = environment(urls={"backend": "https://api.example.com", "consumer-web": "https://www.example.com"})
    endpoints = endpoints_for(platform(), env, base_urls={"backend": "http://127.0.0.1:8080/"})
    assert [e.url for e in endpoints] == ["http://127.0.0.1:8080/api/v1/health",
                                          "http://127.0.0.1:8080/actuator/health",
                                          "https://www.example.com/"]


def test_join_url():
    assert join_url("https://a.example.com", "/") == "https://a.example.com/"
    assert join_url("https://a.example.com/", "/api/v1/health") == "https://a.example.com/api/v1/health"
    assert join_url("https://a.example.com/base", "api") == "https://a.example.com/base/api"


def test_json_subset_match_names_the_first_difference():
    assert json_mismatch({"status": "UP"}, {"status": "UP", "components": {}}) is None
    assert json_mismatch({"status": "UP"}, {"status": "DOWN"}) == 'status is "DOWN" (expected "UP")'
    assert json_mismatch({"status": "UP"}, {}) == 'status is missing (expected "UP")'
    assert json_mismatch({"components": {"mongo": {"status": "UP"}}},
                         {"components": {"mongo": {"status": "DOWN"}}}) == \
        'components.mongo.status is "DOWN" (expected "UP")'
    assert json_mismatch({"status": "UP"}, ["UP"]) == 'body is ["UP"] (expected an object)'


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.integers() | st.text(max_size=5), max_size=5),
       st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=5))
def test_a_document_always_contains_its_own_subsets(subset, extra):
    document = {**extra, **subset}
    assert json_mismatch(subset, document) is None


def test_curl_equivalent_keeps_verification_on():
    endpoint = Endpoint("https://api.example.com/api/v1/health")
    assert endpoint.curl(timeout=5) == ["curl", "-fsS", "--max-time", "5", "https://api.example.com/api/v1/health"]
    assert endpoint.curl(timeout=2.5, ca_bundle="/etc/ca.pem") == [
        "curl", "-fsS", "--max-time", "2.5", "--cacert", "/etc/ca.pem", "https://api.example.com/api/v1/health"]


def test_result_line_and_summary_name_every_failure():
    ok = CheckResult(Endpoint("https://a/", name="web"), True, 200, 0.012)
    bad = CheckResult(Endpoint("https://b/x", name="api"), False, 500, 0.3, 3, "HTTP 500 (expected 200)")
    assert ok.line().startswith("OK   web")
    assert "12 ms" in ok.line()
    assert bad.line().startswith("FAIL api") and bad.line().endswith("(HTTP 500 (expected 200))")
    assert summary([ok, bad]) == "1 of 2 endpoints unhealthy: api: HTTP 500 (expected 200)"
    assert summary([ok]) == "all 1 endpoints healthy"
    assert bad.to_dict() == {"name": "api", "service": "", "url": "https://b/x", "method": "GET", "ok": False,
                             "status": 500, "latency_ms": 300.0, "attempts": 3,
                             "error": "HTTP 500 (expected 200)"}


def test_credentials_in_a_url_never_reach_the_output():
    endpoint = Endpoint("https://monitor:hunter22-secret@api.example.com/actuator/health", name="actuator")
    result = CheckResult(endpoint, False, 401, 0.05, 1, "HTTP 401 (expected 200)")
    assert "hunter22-secret" not in result.line()
    assert "https://monitor:***@api.example.com" in result.line()
    assert result.to_dict()["url"] == "https://monitor:***@api.example.com/actuator/health"
