"""The latency the Docker target's proxy adds to one request on loopback (budget: 1 ms median).

A small HTTP server on 127.0.0.1 stands for a container; the real proxy (HAProxy in the image the
target makes, `retail_deploy.docker.proxy_image`, with the config `proxy_plan.config` writes, host
network, on the real local engine) sends one stable port to it. Requests alternate between the
server directly and the stable port, each on a new connection (as `urllib` and the load loops
of the tests make them), so both see the same machine load. Figures: median and p95 per path,
and the median of the per-pair difference.

    PYTHONPATH=. python benchmarks/proxy_latency.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.services import free_port  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        body = b'{"status":"UP"}\n'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def timed_get(port: int) -> float:
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/api/v1/health")
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status != 200:
        raise SystemExit(f"GET :{port} answered {response.status}")
    return (time.perf_counter() - start) * 1000


def main() -> None:
    import docker
    from invoke import Config, Context

    from retail_deploy.docker import proxy_image
    from retail_deploy.docker import proxy_plan as pp
    from retail_deploy.docker.plan import DockerSettings, Endpoint, ServiceTarget
    from retail_deploy.execute import Runner

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    count = parser.parse_args().requests

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    own = server.server_address[1]
    stable = free_port()
    settings = DockerSettings()
    target = ServiceTarget("bench", "bench", "1", "x", "bench", stable, own, own, (Endpoint("/api/v1/health"),))
    text = pp.config([pp.Listener.of(target, settings)], {"bench": [own]}, settings)
    client = docker.from_env()
    image = proxy_image.ensure(Runner(Context(Config())), client, "local engine")
    name = f"bench-proxy-{stable}"
    container = client.containers.run(image, pp.ENTRYPOINT, name=name, detach=True, network_mode="host",
                                      environment={"HAPROXY_CONFIG": text.replace(pp.SOCKET, "/tmp/haproxy.sock"),
                                                   "HAPROXY_FILE": "/tmp/haproxy.cfg"})
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                timed_get(stable)
                break
            except (OSError, SystemExit):
                if time.monotonic() > deadline:
                    raise SystemExit("the proxy never answered:\n" + container.logs().decode()[-2000:]) from None
                time.sleep(0.1)
        for _ in range(100):  # warm up both paths
            timed_get(own), timed_get(stable)
        direct, proxied = [], []
        for _ in range(count):
            direct.append(timed_get(own))
            proxied.append(timed_get(stable))
    finally:
        container.remove(force=True)
        server.shutdown()

    def p95(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.95)]

    added = [p - d for p, d in zip(proxied, direct, strict=True)]
    print(f"requests per path: {count} (new connection each)")
    print(f"{'path':10} {'median ms':>10} {'p95 ms':>8}")
    print(f"{'direct':10} {statistics.median(direct):10.3f} {p95(direct):8.3f}")
    print(f"{'proxy':10} {statistics.median(proxied):10.3f} {p95(proxied):8.3f}")
    print(f"added by the proxy, median of pairs: {statistics.median(added):.3f} ms (budget 1 ms)")


if __name__ == "__main__":
    main()
