"""The fixture plugin's own rules: a missing service fails under CI and skips elsewhere;
the test exporter speaks the Prometheus text format."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import services
from tests.services import MetricsExporter


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_missing_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="service unavailable under CI=true: no sshd"):
        services.unavailable("no sshd")


@pytest.mark.parametrize("value", [None, "", "false"])
def test_missing_service_skips_outside_ci(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match="no sshd"):
        services.unavailable("no sshd")


def test_missing_binary_names_its_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no-such-daemon not installed .*package pkg-x"):
        services._require_binary("no-such-daemon", "pkg-x")


def test_free_ports_are_distinct_loopback_ports() -> None:
    ports = {services.free_port() for _ in range(20)}
    assert len(ports) > 1 and all(1024 <= port <= 65535 for port in ports)


@pytest.fixture
def exporter() -> Iterator[MetricsExporter]:
    instance = MetricsExporter()  # an in-process thread on a loopback port; render() is what /metrics serves
    yield instance
    instance.stop()


def test_exporter_renders_counters_with_escaped_labels(exporter: MetricsExporter) -> None:
    exporter.set_counter("http_server_requests_total", {"status": "500", "uri": '/a"b'}, 7)
    exporter.inc_counter("http_server_requests_total", {"status": "500", "uri": '/a"b'}, 2)
    exporter.set_gauge("up_gauge", None, 1.5)
    assert exporter.render().splitlines() == [
        "# HELP http_server_requests_total set by the test",
        "# TYPE http_server_requests_total counter",
        'http_server_requests_total{status="500",uri="/a\\"b"} 9',
        "# HELP up_gauge set by the test",
        "# TYPE up_gauge gauge",
        "up_gauge 1.5",
    ]


def test_exporter_histogram_buckets_are_cumulative(exporter: MetricsExporter) -> None:
    exporter.define_histogram("latency_seconds", [0.1, 1.0])
    exporter.observe("latency_seconds", {"uri": "/"}, 0.05, count=3)
    exporter.observe("latency_seconds", {"uri": "/"}, 0.5, count=2)
    exporter.observe("latency_seconds", {"uri": "/"}, 4.0, count=1)
    lines = exporter.render().splitlines()
    assert lines == [
        "# HELP latency_seconds set by the test",
        "# TYPE latency_seconds histogram",
        'latency_seconds_bucket{uri="/",le="0.1"} 3',
        'latency_seconds_bucket{uri="/",le="1"} 5',
        'latency_seconds_bucket{uri="/",le="+Inf"} 6',
        'latency_seconds_sum{uri="/"} 5.15',
        'latency_seconds_count{uri="/"} 6',
    ]


def test_exporter_rate_grows_with_time(exporter: MetricsExporter, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(services.time, "monotonic", lambda: clock[0])
    exporter.set_counter("errors_total", None, 10)
    exporter.set_rate("errors_total", None, 4)
    clock[0] += 2.5
    assert exporter.render().splitlines()[-1] == "errors_total 20"
    exporter.set_rate("errors_total", None, 0)  # stops growing, keeps its value
    clock[0] += 10
    assert exporter.render().splitlines()[-1] == "errors_total 20"
