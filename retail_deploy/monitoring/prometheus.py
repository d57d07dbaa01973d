"""A small client of Prometheus's HTTP API (`/api/v1/query`).

Two failures must never look alike: Prometheus cannot be reached (`PrometheusUnreachable`,
exit 5: nothing is known, so nothing may be called healthy) and Prometheus refused a query
(`PrometheusQueryError`: a bad PromQL expression in the config). `requests` is imported lazily
so `inv --list` stays fast.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit, urlunsplit

from retail_deploy.errors import DependencyUnavailable, InputError
from retail_deploy.monitoring.triggers import Sample

if TYPE_CHECKING:
    import requests


class PrometheusUnreachable(DependencyUnavailable):
    """No answer from Prometheus (connection refused, timeout, 5xx, not Prometheus at all).
    The state of the platform is unknown: that is neither "healthy" (0) nor "firing" (1): exit 5."""


class PrometheusQueryError(InputError):
    """Prometheus answered but rejected the query (bad PromQL in the monitoring config)."""


def display_url(url: str) -> str:
    """The URL without user:password, for messages."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(parts)


def parse_vector(body: object) -> list[Sample]:
    """Samples from an `/api/v1/query` JSON answer (vector or scalar); ValueError if malformed."""
    if not isinstance(body, dict) or body.get("status") != "success":
        raise ValueError("not a successful Prometheus answer")
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if not isinstance(result, list):
        raise ValueError("no result list in the answer")
    if kind == "vector":
        return [Sample(dict(item.get("metric") or {}), _number(item["value"][1])) for item in result]
    if kind == "scalar":
        return [Sample({}, _number(result[1]))]
    raise ValueError(f"unexpected result type {kind!r} (the query must give an instant vector or a scalar)")


def _number(text: str) -> float:
    # Prometheus writes NaN and +Inf/-Inf as strings; float() understands all of them.
    value = float(text)
    return math.nan if math.isnan(value) else value


class PrometheusClient:
    """Instant queries against one Prometheus server."""

    def __init__(self, base_url: str, timeout: float = 10.0, session: requests.Session | None = None) -> None:
        if not base_url:
            raise InputError("no Prometheus URL: set monitoring.prometheus_url or the environment's prometheus_url")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(f"Prometheus URL must be http(s)://host[:port]: {display_url(base_url)}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = session

    @property
    def display(self) -> str:
        return display_url(self.base_url)

    def _http(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Evaluate `expr` now (or at unix time `at`) and return its samples."""
        import requests

        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        url = f"{self.base_url}/api/v1/query"
        try:
            # POST keeps long PromQL out of URL length limits (the API accepts both).
            response = self._http().post(url, data=params, timeout=self.timeout)
        except requests.Timeout:
            raise PrometheusUnreachable(
                f"Prometheus at {self.display} did not answer within {self.timeout:g}s: "
                "the platform's state is unknown (check the URL and that Prometheus is up)") from None
        except requests.RequestException as error:
            reason = type(error).__name__
            raise PrometheusUnreachable(
                f"cannot reach Prometheus at {self.display} ({reason}): the platform's state is unknown "
                "(check the URL and that Prometheus is up)") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code in (400, 422) and isinstance(body, dict) and body.get("status") == "error":
            raise PrometheusQueryError(
                f"Prometheus at {self.display} rejected a query ({body.get('errorType')}: {body.get('error')}): "
                f"fix it in the monitoring config: {expr}")
        if response.status_code != 200 or body is None:
            raise PrometheusUnreachable(
                f"Prometheus at {self.display} answered HTTP {response.status_code} to /api/v1/query: "
                "the platform's state is unknown (is the URL the Prometheus server?)")
        try:
            return parse_vector(body)
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise PrometheusQueryError(
                f"unexpected answer from Prometheus at {self.display} ({error}) to: {expr}") from None

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

