"""`status` of an environment against the separate read tasks run in a row (design budget: one
concurrent pass of reads, faster than rollback.history + lock.status + health.check +
monitor.check one after another).

Real services: the shared control plane (scripts/kube-up.sh; the retail platform seeded into a
private pair of namespaces, deleted afterwards, through the real kubectl), the stand-in data plane
for the HTTP checks (tests/kube/dataplane.py) and a real Prometheus (scraping a metrics exporter)
for the triggers. Two comparisons, interleaved runs, medians:

- the CLI: `retail-deploy status --env production` against the four tasks as four commands;
- the library: `api.status(env=...)` against `api.history`, `api.lock_status`, `api.health_check`
  and `api.evaluate_triggers` called in a row (no interpreter start-up in either).

    PYTHONPATH=. python benchmarks/status.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from retail_deploy import api  # noqa: E402 - after sys.path so it runs from any cwd
from tests.integration.kube_real import RealPlatform  # noqa: E402
from tests.kube.api import KubeAPI  # noqa: E402
from tests.kube.cluster import RealCluster  # noqa: E402
from tests.kube.fixtures import CONTEXTS, start_control_plane, test_kubeconfig  # noqa: E402
from tests.services import MetricsExporter, Prometheus  # noqa: E402

ENV = "production"
SEPARATE = (("rollback.history", "--env", ENV), ("lock.status", "--env", ENV), ("health.check", "--env", ENV),
            ("monitor.check", "--env", ENV))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "retail_deploy", *args], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                   capture_output=True, text=True, timeout=120, check=False)


def separately(config: Path) -> None:
    api.history(env=ENV, config=config)
    api.lock_status(env=ENV, config=config)
    api.health_check(env=ENV, config=config, check=False)
    api.evaluate_triggers(env=ENV, config=config, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    admin = start_control_plane()
    kube = KubeAPI(admin)
    work = Path(tempfile.mkdtemp(prefix="status-bench-"))
    namespaces = {logical: f"bench-{uuid.uuid4().hex[:6]}-{logical}" for logical in CONTEXTS}
    patch = pytest.MonkeyPatch()
    patch.setenv("KUBECONFIG", str(test_kubeconfig(admin, work / "kubeconfig", namespaces)))
    patch.setenv("PATH", f"{admin.parent / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    cluster = RealCluster(kube, namespaces)
    exporter = MetricsExporter()
    (work / "prometheus").mkdir()
    prometheus = Prometheus(work / "prometheus", [exporter.target]).start()
    platform = None
    try:
        cluster.retail_platform(version="1.0.0")
        platform = RealPlatform(cluster, work, patch)
        data = yaml.safe_load(platform.config.read_text())
        data["environments"][ENV]["prometheus_url"] = prometheus.url
        platform.config.write_text(yaml.safe_dump(data, sort_keys=False))
        env = dict(os.environ)
        config = platform.config
        results: dict[str, list[float]] = {"cli-separate": [], "cli-status": [], "lib-separate": [], "lib-status": []}
        cli(env, "status", "--env", ENV)  # warm the caches once (kubectl discovery, Python bytecode)
        for _ in range(args.runs):
            results["cli-separate"].append(timed(lambda: [cli(env, *task) for task in SEPARATE]))
            results["cli-status"].append(timed(lambda: cli(env, "status", "--env", ENV)))
            results["lib-separate"].append(timed(lambda: separately(config)))
            results["lib-status"].append(timed(lambda: api.status(env=ENV, config=config)))
        load = os.getloadavg()[0]
    finally:
        if platform is not None:
            platform.http.close()
        prometheus.stop()
        exporter.stop()
        for ns in namespaces.values():
            kube.delete("namespaces", None, ns)
        patch.undo()
    median = {key: statistics.median(values) for key, values in results.items()}
    print(f"{args.runs} runs, load average {load:.1f}; medians:")
    print(f"{'what':<74} {'wall':>8} {'ratio':>6}")
    for label, separate, together in (("CLI", "cli-separate", "cli-status"), ("library", "lib-separate", "lib-status")):
        print(f"{label + ': the four read tasks in a row':<74} {median[separate]:7.2f}s {1:6.2f}")
        print(f"{label + ': status (one concurrent pass)':<74} {median[together]:7.2f}s "
              f"{median[together] / median[separate]:6.2f}")


if __name__ == "__main__":
    main()
