"""Benchmark: 50 endpoints that each take 200 ms, checked by check_endpoints vs the runbook's loop.

Baseline = the runbook's way, as a plain shell script: one `curl -f` per endpoint, in sequence.
Goal (docs/architecture.md, "Performance budgets"): check_endpoints finishes all 50 in under 1 s.

    PYTHONPATH=. python benchmarks/health_concurrency.py [--endpoints 50] [--delay-ms 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from retail_deploy.health.checks import Endpoint, check_endpoints


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.2

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        time.sleep(self.delay)
        body = b'{"status":"UP"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 50 simultaneous connects must not overflow the listen backlog


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--delay-ms", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    _Slow.delay = options.delay_ms / 1000
    server = _Server(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urls = [f"{base}/api/v1/health?i={i}" for i in range(options.endpoints)]
    endpoints = [Endpoint(url, expect_json={"status": "UP"}) for url in urls]
    script = "set -e\n" + "\n".join(f"curl -fsS -o /dev/null {shlex.quote(url)}" for url in urls)

    ours, baseline = [], []
    for _ in range(options.runs):
        start = time.perf_counter()
        results = check_endpoints(endpoints, timeout=5, retries=0)
        ours.append(time.perf_counter() - start)
        assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
        start = time.perf_counter()
        subprocess.run(["bash", "-c", script], check=True)
        baseline.append(time.perf_counter() - start)
    server.shutdown()
    best_ours, best_base = min(ours), min(baseline)
    print(f"{options.endpoints} endpoints x {options.delay_ms} ms, best of {options.runs} runs")
    print(f"check_endpoints:          {best_ours:6.3f} s  (median {statistics.median(ours):.3f} s)")
    print(f"runbook sequential curl:  {best_base:6.3f} s  (median {statistics.median(baseline):.3f} s)")
    print(f"ratio (ours / runbook):   {best_ours / best_base:6.3f}")
    print(f"goal < 1 s:               {'met' if best_ours < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
