"""A stand-in data plane for the real control plane: pods here run nothing (kwok only writes
their status), so health and smoke checks reach these loopback HTTP servers instead, whose
answers follow the REAL cluster state read through the API server on every request.

Same surface as the doubles' `ClusterHTTP` (tests/doubles/cluster.py): `service_url(ns, name)`
follows the Service's selector (a blue/green switch shows at once), `deployment_url(ns, name)`
reaches one Deployment's ready pods (the idle colour), `platform_urls(ns)`, `colour_urls(ns)`,
`requests(ns, name, kind)`.

Answers: /api/v1/version -> {"version": <tag of the image most ready pods run>} (503 without a
ready pod); /api/v1/health, /actuator/health, /health -> 200 {"status":"UP"}, or 503 DOWN without
ready pods or while the image is bad (its tag contains `unhealthy`, or `RealCluster.inject(
"bad_image", image)`, as the doubles' `bad_image` fault); / -> 200 (front ends); else 404.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from tests.kube.cluster import PLATFORM_SERVICES, RealCluster, serving_summary


class _Handler(BaseHTTPRequestHandler):
    server: _TargetServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _send(self, code: int, body: Any) -> None:
        data = (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append(self.path)
        try:
            summary = serving_summary(srv.cluster, srv.ns, service=srv.service, deployment=srv.deployment)
        except Exception as exc:  # the API server did not answer: so would the platform
            self._send(503, {"status": "DOWN", "error": str(exc)[:200]})
            return
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        up = summary["status"] == "UP"
        if path in ("/api/v1/health", "/actuator/health", "/health"):
            self._send(200 if up else 503, {"status": "UP" if up else "DOWN"})
        elif path == "/api/v1/version":
            if summary["ready_pods"]:
                self._send(200, {"version": summary["version"]})
            else:
                self._send(503, {"status": "DOWN"})
        elif path == "/":
            self._send(200 if up else 503, "<!doctype html><title>retail</title>" if up else "unavailable")
        else:
            self._send(404, {"status": 404, "error": "Not Found", "path": path})

    do_HEAD = do_GET


class _TargetServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cluster: RealCluster, ns: str, service: str | None, deployment: str | None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cluster, self.ns, self.service, self.deployment = cluster, ns, service, deployment
        self.requests: list[str] = []


class ClusterHTTP:
    """HTTP endpoints answering like the platform would, from the real cluster's state.
    One loopback server per target; use as a context manager, or call close()."""

    def __init__(self, cluster: RealCluster):
        self.cluster = cluster
        self._servers: dict[tuple[str, str, str], _TargetServer] = {}
        self._lock = threading.Lock()

    def _url(self, kind: str, ns: str, name: str) -> str:
        with self._lock:
            srv = self._servers.get((kind, ns, name))
            if srv is None:
                srv = _TargetServer(self.cluster, ns, name if kind == "svc" else None,
                                    name if kind == "deploy" else None)
                # A short poll interval: close() waits one per server (0.5 s by default).
                threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, name=f"dataplane-{name}",
                                 daemon=True).start()
                self._servers[(kind, ns, name)] = srv
            return f"http://127.0.0.1:{srv.server_address[1]}"

    def service_url(self, ns: str, name: str) -> str:
        return self._url("svc", ns, name)

    def deployment_url(self, ns: str, name: str) -> str:
        return self._url("deploy", ns, name)

    def requests(self, ns: str, name: str, kind: str = "svc") -> list[str]:
        srv = self._servers.get((kind, ns, name))
        return list(srv.requests) if srv else []

    def platform_urls(self, ns: str) -> dict[str, str]:
        """{service: base_url} for the three platform services (what config `urls` expects)."""
        return {svc: self.service_url(ns, svc) for svc in PLATFORM_SERVICES}

    def colour_urls(self, ns: str = "production", base: str = "retail-backend") -> dict[str, str]:
        return {colour: self.deployment_url(ns, f"{base}-{colour}") for colour in ("blue", "green")}

    def close(self) -> None:
        with self._lock:
            for srv in self._servers.values():
                srv.shutdown()
                srv.server_close()
            self._servers.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
