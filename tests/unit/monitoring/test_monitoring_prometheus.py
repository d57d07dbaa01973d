"""Prometheus API client: answer parsing and the unreachable/rejected distinction."""

from __future__ import annotations

import math
import socket

import pytest

from retail_deploy.errors import EXIT_UNAVAILABLE, InputError
from retail_deploy.monitoring.prometheus import (
    PrometheusClient,
    PrometheusUnreachable,
    display_url,
    parse_vector,
)
from retail_deploy.monitoring.triggers import Sample

# Recorded from Prometheus 2.42 `/api/v1/query`.
VECTOR = {
    "status": "success",
    "data": {"resultType": "vector", "result": [
        {"metric": {"instance": "127.0.0.1:9100", "job": "retail-backend"}, "value": [1764131400.123, "0.0712"]},
        {"metric": {}, "value": [1764131400.123, "NaN"]},
        {"metric": {"le": "+Inf"}, "value": [1764131400.123, "+Inf"]},
    ]},
}


def test_vector_samples_with_labels_and_special_values() -> None:
    samples = parse_vector(VECTOR)
    assert samples[0] == Sample({"instance": "127.0.0.1:9100", "job": "retail-backend"}, 0.0712)
    assert math.isnan(samples[1].value)
    assert samples[2].value == math.inf


def test_scalar_and_empty_results() -> None:
    assert parse_vector({"status": "success", "data": {"resultType": "scalar", "result": [1.0, "3"]}}) == [
        Sample({}, 3.0)]
    assert parse_vector({"status": "success", "data": {"resultType": "vector", "result": []}}) == []


def test_range_vector_is_refused() -> None:
    with pytest.raises(ValueError, match="instant vector"):
        parse_vector({"status": "success", "data": {"resultType": "matrix", "result": []}})


def test_display_url_drops_credentials() -> None:
    assert display_url("https://admin:s3cret@prom.example.com:9090/") == "https://prom.example.com:9090/"


def test_missing_or_bad_url_is_bad_input() -> None:
    with pytest.raises(InputError, match="no Prometheus URL"):
        PrometheusClient("")
    with pytest.raises(InputError, match="http"):
        PrometheusClient("prom.example.com:9090")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_unreachable_exit_5_without_credentials() -> None:
    client = PrometheusClient(f"http://watcher:hunter22@127.0.0.1:{_closed_port()}", timeout=2)
    with pytest.raises(PrometheusUnreachable) as caught:
        client.query("up")
    assert caught.value.exit_code == EXIT_UNAVAILABLE
    message = str(caught.value)
    assert "cannot reach Prometheus" in message and "unknown" in message
    assert "hunter22" not in message and "healthy" not in message
