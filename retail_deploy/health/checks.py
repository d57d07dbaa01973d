"""HTTP health checks: the runbook's "Health Checks" table, checked concurrently.

`check_endpoints` checks every endpoint at once (one thread per endpoint, one pooled
`requests.Session` per thread), each with a timeout, retries with exponential backoff and TLS
verification always on (a private CA is trusted through `ca_bundle`, never by switching
verification off). Every failure is named in the result, so a report shows all of them and not
only the first. `requests` is imported lazily: `inv --list` must not pay for it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from retail_deploy.redact import redact

if TYPE_CHECKING:
    import requests

    from retail_deploy.config import EnvironmentConfig, PlatformConfig

# Enough threads that 50 slow endpoints finish in one round; more would only add overhead.
MAX_WORKERS = 64
# Bodies kept in results (and reports) are cut to this many characters.
BODY_LIMIT = 2000
# A health answer is small; stop reading a larger one (it is judged on what was read).
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Endpoint:
    """One HTTP request and the answer that counts as healthy."""

    url: str
    name: str = ""
    service: str = ""
    method: str = "GET"
    expect_status: int = 200
    # Subset match: every key given must be present with an equal value (nested dicts recurse).
    expect_json: Mapping[str, Any] | None = None
    expect_body_contains: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or f"{self.method} {self.url}"

    def curl(self, timeout: float = 5.0, ca_bundle: str | None = None) -> list[str]:
        """The equivalent curl argv, printed for dry runs and reports."""
        argv = ["curl", "-fsS", "--max-time", _fmt_seconds(timeout)]
        if self.method != "GET":
            argv += ["-X", self.method]
        if ca_bundle:
            argv += ["--cacert", ca_bundle]
        return argv + [self.url]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one endpoint (after retries)."""

    endpoint: Endpoint
    ok: bool
    status: int | None = None
    latency: float = 0.0  # seconds, of the last attempt
    attempts: int = 1
    error: str = ""  # why it failed, one phrase; empty when ok
    body: str = ""  # the start of the last answer (for reports)

    @property
    def name(self) -> str:
        return self.endpoint.label

    def line(self) -> str:
        """One human line: mark, name, status, latency and (on failure) why."""
        mark = "OK  " if self.ok else "FAIL"
        status = str(self.status) if self.status is not None else "---"
        text = f"{mark} {self.name:<40} {status:>3} {self.latency * 1000:7.0f} ms  {self.endpoint.url}"
        if not self.ok:
            text += f"  ({self.error})"
        return redact(text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "service": self.endpoint.service,
            "url": redact(self.endpoint.url),
            "method": self.endpoint.method,
            "ok": self.ok,
            "status": self.status,
            "latency_ms": round(self.latency * 1000, 1),
            "attempts": self.attempts,
            "error": redact(self.error) or None,
        }


def check_endpoints(endpoints: Iterable[Endpoint], *, timeout: float = 5.0, retries: int = 2,
                    backoff: float = 0.5, ca_bundle: str | None = None,
                    max_workers: int | None = None) -> list[CheckResult]:
    """Check every endpoint concurrently; results come back in the order given.

    `timeout` bounds each attempt (connect and each read); a failing endpoint is tried
    `retries` more times, waiting `backoff`, then 2x, 4x ... seconds. A TLS verification
    failure is not retried: it will not fix itself. `ca_bundle` is a PEM file of trusted CAs
    (verification stays on either way).
    """
    endpoints = list(endpoints)
    if not endpoints:
        return []
    if timeout <= 0 or retries < 0 or backoff < 0:
        raise ValueError("timeout must be > 0, retries and backoff >= 0")
    verify: str | bool = ca_bundle if ca_bundle else True
    workers = max_workers or min(MAX_WORKERS, len(endpoints))
    sessions = _ThreadSessions(verify)
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="health") as pool:
            return list(pool.map(
                lambda ep: _check_with_retries(sessions.get(), ep, timeout, retries, backoff), endpoints))
    finally:
        sessions.close_all()


def all_ok(results: Sequence[CheckResult]) -> bool:
    return all(r.ok for r in results)


def summary(results: Sequence[CheckResult]) -> str:
    failed = [r for r in results if not r.ok]
    if not failed:
        return f"all {len(results)} endpoints healthy"
    return f"{len(failed)} of {len(results)} endpoints unhealthy: " + "; ".join(
        f"{r.name}: {r.error}" for r in failed)


def endpoints_for(cfg: PlatformConfig, env: EnvironmentConfig, base_urls: Mapping[str, str] | None = None) -> list[Endpoint]:
    """The health endpoints of every service the environment has a URL for.

    `cfg.services[name].health` lists the endpoints (path, expect_status, expect_json); the base
    URL comes from `base_urls[name]` when given (e.g. a colour's URLs), else `env.urls[name]`.
    Services without a URL in this environment are skipped (e.g. a backend-only environment).
    """
    urls = dict(getattr(env, "urls", None) or {})
    if base_urls:
        urls.update(base_urls)
    result: list[Endpoint] = []
    for name, service in cfg.services.items():
        base = urls.get(name)
        if not base:
            continue
        for check in getattr(service, "health", None) or ():
            path = getattr(check, "path", "/") or "/"
            expect_json = getattr(check, "expect_json", None)
            result.append(Endpoint(
                url=join_url(base, path),
                name=f"{name} {path}",
                service=name,
                expect_status=int(getattr(check, "expect_status", 200) or 200),
                expect_json=dict(expect_json) if expect_json else None,
            ))
    return result


def join_url(base: str, path: str) -> str:
    """`https://api.example.com/` + `/api/v1/health` without doubled or missing slashes."""
    if path in ("", "/"):
        return base if base.endswith("/") else base + "/"
    return base.rstrip("/") + "/" + path.lstrip("/")


def json_mismatch(expected: object, actual: object, path: str = "") -> str | None:
    """None when `actual` contains `expected` (dicts as subsets, other values equal), else why not."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{path or 'body'} is {_short(actual)} (expected an object)"
        for key, value in expected.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in actual:
                return f"{where} is missing (expected {_short(value)})"
            reason = json_mismatch(value, actual[key], where)
            if reason:
                return reason
        return None
    if expected != actual:
        return f"{path or 'body'} is {_short(actual)} (expected {_short(expected)})"
    return None


# --- internals -------------------------------------------------------------------------------

class _ThreadSessions:
    """One pooled requests.Session per worker thread (Session is not documented thread-safe)."""

    def __init__(self, verify: str | bool):
        self._verify = verify
        self._local = threading.local()
        self._all: list[requests.Session] = []
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = requests.Session()
            session.verify = self._verify
            # Proxies from the environment would send loopback checks elsewhere; checks go direct.
            session.trust_env = False
            self._local.session = session
            with self._lock:
                self._all.append(session)
        return session

    def close_all(self) -> None:
        with self._lock:
            for session in self._all:
                session.close()
            self._all.clear()


def _check_with_retries(session: requests.Session, endpoint: Endpoint, timeout: float, retries: int,
                        backoff: float) -> CheckResult:
    attempt = 0
    while True:
        attempt += 1
        result, retryable = _check_once(session, endpoint, timeout)
        if result.ok or not retryable or attempt > retries:
            return _with_attempts(result, attempt)
        time.sleep(backoff * (2 ** (attempt - 1)))


def _with_attempts(result: CheckResult, attempts: int) -> CheckResult:
    return CheckResult(result.endpoint, result.ok, result.status, result.latency, attempts,
                       result.error, result.body)


def _check_once(session: requests.Session, endpoint: Endpoint, timeout: float) -> tuple[CheckResult, bool]:
    """One request; returns the result and whether a retry could help."""
    import requests

    start = time.monotonic()
    try:
        response = session.request(endpoint.method, endpoint.url, headers=dict(endpoint.headers),
                                   timeout=(timeout, timeout), allow_redirects=True, stream=True)
        try:
            body = _read_body(response, start + timeout)
        finally:
            response.close()
    except requests.exceptions.SSLError as exc:
        return _failure(endpoint, start, _tls_reason(exc)), False
    except (requests.exceptions.Timeout, _Deadline):
        return _failure(endpoint, start, f"no answer within {_fmt_seconds(timeout)}s (timed out)"), True
    except requests.exceptions.ConnectionError as exc:
        return _failure(endpoint, start, _connection_reason(exc)), True
    except requests.exceptions.RequestException as exc:
        return _failure(endpoint, start, f"request failed: {_first_line(exc)}"), False
    latency = time.monotonic() - start
    status = response.status_code
    error = _verdict(endpoint, status, body)
    result = CheckResult(endpoint, not error, status, latency, 1, error or "", body[:BODY_LIMIT])
    return result, bool(error)


class _Deadline(Exception):
    """The answer did not arrive in full within the timeout (e.g. a body trickling in)."""


def _read_body(response: requests.Response, deadline: float) -> str:
    """The body, read in chunks against a total deadline: requests' read timeout is per chunk,
    so a server trickling bytes could otherwise hold a check far beyond its timeout."""
    chunks: list[bytes] = []
    size = 0
    raw = response.raw
    if hasattr(raw, "read1"):  # urllib3 >= 2: return what has arrived instead of waiting for 8 KiB
        pieces = iter(lambda: raw.read1(8192, decode_content=True), b"")
    else:
        pieces = response.iter_content(512)
    for chunk in pieces:
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            raise _Deadline()
        if size > MAX_BODY:
            break
    encoding = response.encoding or "utf-8"
    return b"".join(chunks).decode(encoding, errors="replace")


def _verdict(endpoint: Endpoint, status: int, body: str) -> str | None:
    if status != endpoint.expect_status:
        return f"HTTP {status} (expected {endpoint.expect_status})"
    if endpoint.expect_json is not None:
        try:
            document = json.loads(body)
        except ValueError:
            return f"invalid JSON in the answer: {_short(body, raw=True)} (expected {_short(endpoint.expect_json)})"
        reason = json_mismatch(endpoint.expect_json, document)
        if reason:
            return reason
    if endpoint.expect_body_contains is not None and endpoint.expect_body_contains not in body:
        return f"answer does not contain {endpoint.expect_body_contains!r}"
    return None


def _failure(endpoint: Endpoint, start: float, error: str) -> CheckResult:
    return CheckResult(endpoint, False, None, time.monotonic() - start, 1, error)


def _tls_reason(exc: Exception) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        if "expired" in text:
            return "TLS verification failed: certificate has expired"
        if "Hostname mismatch" in text or "doesn't match" in text or "IP address mismatch" in text:
            return "TLS verification failed: certificate is for another host name"
        detail = "self-signed certificate" if "self-signed" in text or "self signed" in text else \
            "certificate not trusted"
        return f"TLS verification failed: {detail} (give the CA with --ca-bundle)"
    return f"TLS error: {_first_line(exc)}"


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text or \
            "Temporary failure in name resolution" in text:
        return "host name does not resolve"
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "connection closed without an answer"
    return f"connection failed: {_first_line(exc)}"


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _short(value: object, limit: int = 80, raw: bool = False) -> str:
    """A one-line, length-capped rendering: JSON for values, as-is for `raw` text bodies."""
    text = value if raw and isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:g}"
