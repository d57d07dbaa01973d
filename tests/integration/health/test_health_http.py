"""check_endpoints against real HTTP(S) servers on loopback: every failure is named."""

from __future__ import annotations

import time

import pytest

from retail_deploy.health.checks import Endpoint, check_endpoints, summary
from tests.services import Route

from ..health_servers import UP, platform_routes, refused_url, self_signed_service, trickle_server

pytestmark = pytest.mark.integration


@pytest.fixture
def server(http_service_factory):
    return http_service_factory({
        **platform_routes(),
        "/down": {"status": "DOWN"},
        "/error": Route(500, {"error": "Internal Server Error"}),
        "/slow": Route(200, UP, delay=3),
        "/invalid-json": Route(200, "<html><body>Whitelabel Error Page</body></html>",
                               headers={"Content-Type": "text/html"}),
        "/flaky": [Route(503, {"status": "DOWN"}), Route(503, {"status": "DOWN"}), Route(200, UP)],
        "/slow200": Route(200, UP, delay=0.2),
    })


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
    assert not by_name["invalid"].ok
    assert by_name["invalid"].error.startswith("invalid JSON in the answer: <html><body>Whitelabel")
    text = summary(results)
    assert text.startswith("3 of 5 endpoints unhealthy")
    for name in ("down", "error", "invalid"):
        assert f"{name}:" in text


def test_slow_endpoint_times_out_without_holding_up_the_others(server):
    endpoints = [
        Endpoint(server.url + "/slow", name="slow", expect_json=UP),
        Endpoint(server.url + "/api/v1/health", name="fast", expect_json=UP),
    ]
    start = time.monotonic()
    slow, fast = check_endpoints(endpoints, timeout=0.5, retries=0)
    elapsed = time.monotonic() - start
    assert not slow.ok and slow.error == "no answer within 0.5s (timed out)" and slow.status is None
    assert fast.ok
    assert elapsed < 2.0  # the 3 s answer was not awaited


def test_a_trickling_answer_is_bounded_by_the_timeout_as_a_whole():
    with trickle_server() as url:
        start = time.monotonic()
        (result,) = check_endpoints([Endpoint(url + "/api/v1/health", expect_json=UP)], timeout=1, retries=0)
        assert not result.ok and "timed out" in result.error
        assert time.monotonic() - start < 2.5  # the whole body would take 10 s


def test_connection_refused_is_named_and_retried():
    url = refused_url()
    (result,) = check_endpoints([Endpoint(url + "/api/v1/health", expect_json=UP)],
                                timeout=1, retries=2, backoff=0.01)
    assert not result.ok
    assert result.error == "connection refused"
    assert result.attempts == 3


def test_retries_with_backoff_recover_a_starting_service(server):
    (result,) = check_endpoints([Endpoint(server.url + "/flaky", expect_json=UP)],
                                timeout=1, retries=2, backoff=0.05)
    assert result.ok
    assert result.attempts == 3
    assert len(server.requests_to("/flaky")) == 3
    gaps = [b.received_at - a.received_at for a, b in zip(server.requests_to("/flaky"),
                                                           server.requests_to("/flaky")[1:], strict=False)]
    # Exponential backoff: at least 0.05 s, then at least 0.1 s (a loaded machine only adds to them).
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1


def test_no_retries_means_one_request(server):
    (result,) = check_endpoints([Endpoint(server.url + "/error")], timeout=1, retries=0)
    assert not result.ok and result.attempts == 1
    assert len(server.requests_to("/error")) == 1


def test_self_signed_certificate_is_refused_without_a_ca_bundle(tmp_path):
    srv = self_signed_service(tmp_path, platform_routes())
    try:
        (result,) = check_endpoints([Endpoint(srv.url + "/api/v1/health", expect_json=UP)],
                                    timeout=2, retries=2, backoff=0.01)
        assert not result.ok
        assert result.error == "TLS verification failed: self-signed certificate (give the CA with --ca-bundle)"
        assert result.attempts == 1  # a trust failure is not retried
        assert srv.requests == []  # nothing was sent over the untrusted connection
        (trusted,) = check_endpoints([Endpoint(srv.url + "/api/v1/health", expect_json=UP)],
                                     timeout=2, ca_bundle=srv.ca_file)
        assert trusted.ok, trusted.error
    finally:
        srv.stop()


def test_private_ca_is_trusted_only_through_the_ca_bundle(http_service_factory, tmp_path):
    srv = http_service_factory(platform_routes(), tls=True)
    (refused,) = check_endpoints([Endpoint(srv.url + "/", name="web")], timeout=2, retries=0)
    assert not refused.ok
    assert refused.error == "TLS verification failed: certificate not trusted (give the CA with --ca-bundle)"
    (trusted,) = check_endpoints([Endpoint(srv.url + "/", name="web")], timeout=2, ca_bundle=srv.ca_file)
    assert trusted.ok, trusted.error
    other = http_service_factory({}, tls=True)  # a different test CA
    (wrong,) = check_endpoints([Endpoint(srv.url + "/", name="web")], timeout=2, ca_bundle=other.ca_file)
    assert not wrong.ok and wrong.error.startswith("TLS verification failed")


def test_expired_certificate_is_refused_even_with_its_ca(http_service_factory):
    srv = http_service_factory(platform_routes(), tls=True, cert_days=-1)
    (result,) = check_endpoints([Endpoint(srv.url + "/")], timeout=2, ca_bundle=srv.ca_file)
    assert not result.ok and result.error == "TLS verification failed: certificate has expired"


def test_fifty_slow_endpoints_are_checked_concurrently(server):
    endpoints = [Endpoint(server.url + f"/slow200?i={i}", expect_json=UP) for i in range(50)]
    start = time.monotonic()
    results = check_endpoints(endpoints, timeout=5, retries=0)
    elapsed = time.monotonic() - start
    assert all(r.ok for r in results)
    # Sequential would take 10 s; a generous bound keeps this robust on a loaded 2-core machine.
    assert elapsed < 5.0
