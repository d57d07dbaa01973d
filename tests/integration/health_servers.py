"""Helpers for the health and smoke tests on top of the shared `http_service_factory` (tests/services.py).

`platform_routes()` makes one HttpService answer like a healthy retail platform service (backend
health, actuator, version, front-end page). The rest covers what the shared server cannot:
a truly self-signed certificate, an answer that trickles in byte by byte, a refused port.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.services import HttpService, Route, TlsFiles

UP = {"status": "UP"}


def platform_routes(version: str = "1.4.2") -> dict[str, Any]:
    html = Route(200, "<!doctype html><title>Retail</title><div id=root></div>",
                 headers={"Content-Type": "text/html; charset=utf-8"})
    return {
        "/api/v1/health": UP,
        "/actuator/health": UP,
        "/actuator/health/mongo": UP,
        "/actuator/health/redis": UP,
        "/actuator/health/elasticsearch": UP,
        "/api/v1/version": {"version": version, "build": "abc123"},
        "/": html,
    }


def self_signed_service(directory: Path, routes: dict[str, Any]) -> HttpService:
    """An HTTPS HttpService whose certificate is its own issuer (the runbook's 'self-signed' case)."""
    cert, key = directory / "self-signed.pem", directory / "self-signed-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,digitalSignature,keyCertSign"],
        check=True, capture_output=True)
    return HttpService(routes, tls=TlsFiles(ca_file=cert, cert_file=cert, key_file=key, not_after=None))


class _Trickle(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        # Headers at once, then one byte every 0.3 s: each read is quick, the whole answer is slow.
        body = b'{"status": "UP"}' + b" " * 20
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for byte in body:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.3)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client gives up mid-answer: expected


@contextmanager
def trickle_server() -> Iterator[str]:
    httpd = _QuietServer(("127.0.0.1", 0), _Trickle)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def refused_url() -> str:
    """A loopback URL nothing listens on (a port just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
