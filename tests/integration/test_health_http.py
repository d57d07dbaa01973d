"""check_endpoints against real HTTP(S) servers on loopback: every failure is named."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from retail_deploy.health import Endpoint, check_endpoints, summary

from .health_servers import http_server, make_self_signed, refused_url

pytestmark = pytest.mark.integration

UP = {"status": "UP"}


@pytest.fixture(scope="module")
def server():
    with http_server() as srv:
        yield srv


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    cert, key = make_self_signed(tmp_path_factory.mktemp("tls"))
    with http_server(cert, key) as srv:
        yield srv, cert


def test_healthy_down_error_and_invalid_json_are_each_named(server):
    endpoints = [
        Endpoint(server.url + "/api/v1/health", name="backend", expect_json=UP),
        Endpoint(server.url + "/down", name="down", expect_json=UP),
        Endpoint(server.url + "/error", name="error", expect_json=UP),
        Endpoint(server.url + "/invalid-json", name="invalid", expect_json=UP),
        Endpoint(server.url + "/", name="consumer-web"),
    ]
    results = check_endpoints(endpoints, timeout=2, retries=0)
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == ["backend", "down", "error", "invalid", "consumer-web"]
    assert by_name["backend"].ok and by_name["backend"].status == 200
    assert by_name["consumer-web"].ok
    assert not by_name["down"].ok
    assert by_name["down"].error == 'status is "DOWN" (expected "UP")'
    assert not by_name["error"].ok and by_name["error"].status == 500
    assert by_name["error"].error == "HTTP 500 (expected 200)"
    assert not by_name["invalid"].ok and "invalid JSON" in by_name["invalid"].error
    text = summary(results)
    assert text.startswith("3 of 5 endpoints unhealthy")
    for name in ("down", "error", "invalid"):
        assert f"{name}:" in text


def test_slow_endpoint_times_out_without_holding_up_the_others(server):
    endpoints = [
        Endpoint(server.url + "/slow?ms=3000", name="slow", expect_json=UP),
        Endpoint(server.url + "/api/v1/health", name="fast", expect_json=UP),
    ]
    start = time.monotonic()
    slow, fast = check_endpoints(endpoints, timeout=0.5, retries=0)
    elapsed = time.monotonic() - start
    assert not slow.ok and "timed out" in slow.error and slow.status is None
    assert fast.ok
    assert elapsed < 2.0  # the 3 s answer was not awaited


def test_connection_refused_is_named_and_retried():
    url = refused_url()
    (result,) = check_endpoints([Endpoint(url + "/api/v1/health", expect_json=UP)],
                                timeout=1, retries=2, backoff=0.01)
    assert not result.ok
    assert result.error == "connection refused"
    assert result.attempts == 3


def test_retries_with_backoff_recover_a_starting_service(server):
    (result,) = check_endpoints([Endpoint(server.url + "/flaky?fail=2", expect_json=UP)],
                                timeout=1, retries=2, backoff=0.05)
    assert result.ok
    assert result.attempts == 3
    assert server.hits["/flaky"] == 3


def test_no_retries_means_one_request(server):
    (result,) = check_endpoints([Endpoint(server.url + "/error")], timeout=1, retries=0)
    assert not result.ok and result.attempts == 1


def test_self_signed_certificate_is_refused_without_a_ca_bundle(tls):
    srv, _cert = tls
    (result,) = check_endpoints([Endpoint(srv.url + "/api/v1/health", expect_json=UP)],
                                timeout=2, retries=2, backoff=0.01)
    assert not result.ok
    assert result.error.startswith("TLS verification failed")
    assert "--ca-bundle" in result.error
    assert result.attempts == 1  # a trust failure is not retried


def test_self_signed_certificate_is_accepted_with_its_ca_bundle(tls):
    srv, cert = tls
    (result,) = check_endpoints([Endpoint(srv.url + "/api/v1/health", expect_json=UP)],
                                timeout=2, ca_bundle=str(cert))
    assert result.ok, result.error


def test_wrong_ca_bundle_still_refuses(tls, tmp_path: Path):
    srv, _cert = tls
    other, _key = make_self_signed(tmp_path)
    (result,) = check_endpoints([Endpoint(srv.url + "/", name="web")], timeout=2, ca_bundle=str(other))
    assert not result.ok and result.error.startswith("TLS verification failed")


def test_fifty_slow_endpoints_are_checked_concurrently(server):
    endpoints = [Endpoint(server.url + f"/slow?ms=200&i={i}", expect_json=UP) for i in range(50)]
    start = time.monotonic()
    results = check_endpoints(endpoints, timeout=5, retries=0)
    elapsed = time.monotonic() - start
    assert all(r.ok for r in results)
    # Sequential would take 10 s; a generous bound keeps this robust on a loaded 2-core machine.
    assert elapsed < 5.0
