"""The monitoring section the end-to-end trigger tests append to a platform config: the runbook's
triggers shortened to seconds, only the error rate watched (5% for 4 s)."""

from __future__ import annotations


def error_rate_only(prometheus_url: str | None = None) -> str:
    """A `monitoring:` YAML block; with `prometheus_url`, the section names the Prometheus too
    (else the environment does)."""
    url = f"  prometheus_url: {prometheus_url}\n" if prometheus_url else ""
    return ("\nmonitoring:\n" + url +
            "  poll_interval: 1s\n"
            "  query_timeout: 5s\n"
            "  rate_window: 3s\n"
            "  subquery_step: 1s\n"
            "  unreachable_tolerance: 2\n"
            "  rollback_triggers:\n"
            "    error_rate: {for: 4s}\n"
            "    p95_latency: {enabled: false}\n"
            "    health_check: {enabled: false}\n"
            "    payment_failures: {enabled: false}\n")
