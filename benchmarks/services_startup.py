"""Start-up time of the real services the integration tests use (tests/services.py).

Not a budget from the design: a figure so engineers know what a fixture costs. Each service is
started and stopped ``--runs`` times on a fresh free port; the median is reported.

    PYTHONPATH=. python benchmarks/services_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import services  # noqa: E402 - after sys.path so it runs from any cwd


def timed(make: Callable[[], Any]) -> float:
    started = time.perf_counter()
    server = make()
    if hasattr(server, "process"):
        server.start()
    elapsed = time.perf_counter() - started
    server.stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="services-startup-"))
    counter = iter(range(1_000_000))

    def fresh(name: str) -> Path:
        path = workdir / f"{name}{next(counter)}"
        path.mkdir()
        return path

    cases: dict[str, Callable[[], Any]] = {
        "registry (htpasswd, to /v2/ answering)": lambda: services.Registry(fresh("registry")),
        "prometheus (to /-/ready)": lambda: services.Prometheus(fresh("prometheus"), ["127.0.0.1:1"]),
        "sshd (keys generated, to SSH banner)": lambda: services.SshServer(fresh("sshd")),
        "http service": lambda: services.HttpService({"/": 200}),
        "https service (CA + certificate generated)":
            lambda: services.HttpService({"/": 200}, tls=services.make_tls_files(fresh("tls"))),
        "metrics exporter": services.MetricsExporter,
    }
    print(f"| service | median start ({args.runs} runs) |\n|---|---|")
    for name, make in cases.items():
        median = statistics.median(timed(make) for _ in range(args.runs))
        print(f"| {name} | {median * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
