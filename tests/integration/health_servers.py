"""Real HTTP(S) servers on 127.0.0.1 for the health and smoke tests.

Each path answers like one kind of service: healthy, DOWN, failing, slow, not JSON, or failing
a few times before it recovers. Servers bind port 0, so parallel runs never collide.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits: Counter[str]

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        self.server.hits[url.path] += 1  # type: ignore[attr-defined]
        count = self.server.hits[url.path]  # type: ignore[attr-defined]
        up = json.dumps({"status": "UP"})
        if url.path in ("/api/v1/health", "/actuator/health", "/up"):
            self._send(200, up)
        elif url.path.startswith("/actuator/health/"):
            component = url.path.rsplit("/", 1)[-1]
            status = self.server.dependency_status.get(component, "UP")  # type: ignore[attr-defined]
            self._send(200 if status == "UP" else 503, json.dumps({"status": status}))
        elif url.path == "/api/v1/version":
            self._send(200, json.dumps({"version": self.server.version, "build": "abc123"}))  # type: ignore[attr-defined]
        elif url.path == "/down":
            self._send(200, json.dumps({"status": "DOWN"}))
        elif url.path == "/down-503":
            self._send(503, json.dumps({"status": "DOWN"}))
        elif url.path == "/error":
            self._send(500, json.dumps({"error": "Internal Server Error"}))
        elif url.path == "/slow":
            time.sleep(float(query.get("ms", ["2000"])[0]) / 1000)
            self._send(200, up)
        elif url.path == "/invalid-json":
            self._send(200, "<html><body>Whitelabel Error Page</body></html>", "text/html")
        elif url.path == "/flaky":
            # Fails the first `fail` times, then answers UP: a service still starting.
            if count <= int(query.get("fail", ["1"])[0]):
                self._send(503, json.dumps({"status": "DOWN"}))
            else:
                self._send(200, up)
        elif url.path == "/":
            self._send(200, "<!doctype html><title>Retail</title><div id=root></div>", "text/html")
        else:
            self._send(404, json.dumps({"error": "Not Found"}))


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (the timeout tests) breaks the pipe: expected, not news.
        pass


@dataclass
class Server:
    url: str
    httpd: ThreadingHTTPServer

    @property
    def hits(self) -> Counter[str]:
        return self.httpd.hits  # type: ignore[attr-defined,no-any-return]

    def set_dependency(self, name: str, status: str) -> None:
        self.httpd.dependency_status[name] = status  # type: ignore[attr-defined]


@contextmanager
def http_server(tls_cert: Path | None = None, tls_key: Path | None = None,
                version: str = "1.4.2") -> Iterator[Server]:
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    httpd.hits = Counter()  # type: ignore[attr-defined]
    httpd.dependency_status = {}  # type: ignore[attr-defined]
    httpd.version = version  # type: ignore[attr-defined]
    scheme = "http"
    if tls_cert and tls_key:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls_cert), str(tls_key))
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"{scheme}://127.0.0.1:{httpd.server_address[1]}", httpd)
    finally:
        httpd.shutdown()
        httpd.server_close()


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA) made with the openssl CLI."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,digitalSignature,keyCertSign"],
        check=True, capture_output=True)
    return cert, key


def refused_url() -> str:
    """A loopback URL nothing listens on (a port just released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
