"""What the real Kubernetes control plane costs the test suite (scripts/kube-up.sh, tests/kube).

A private instance (its own state dir and loopback ports, so a running one is left alone) is
started ``--runs`` times from nothing (certificates, fresh etcd, seven components, three kwok nodes
Ready), reused once per run (the idempotent path the suite takes), and per run one test's
namespaces are seeded with the retail platform (8 Deployments, 15 pods, all rolled out).
Medians are reported. Needs the built binaries (scripts/build-kube.sh; the first build is in README).

    PYTHONPATH=. python benchmarks/kube_control_plane.py [--runs 3]
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.kube.api import KubeAPI  # noqa: E402 - after sys.path so it runs from any cwd
from tests.kube.cluster import RealCluster  # noqa: E402


def kube_up(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(["bash", str(REPO / "scripts" / "kube-up.sh"), *args], env=env, capture_output=True,
                            text=True, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started, (result.stdout.strip().splitlines() or [""])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="kube-bench-"))
    env = dict(os.environ, RETAIL_DEPLOY_KUBE_DIR=str(state), RETAIL_DEPLOY_KUBE_ETCD_PORT="24791",
               RETAIL_DEPLOY_KUBE_API_PORT="27443", RETAIL_DEPLOY_KUBE_KWOK_PORT="27450",
               RETAIL_DEPLOY_KUBE_METRICS_PORT="27451")
    starts, reuses, seeds = [], [], []
    try:
        for _ in range(args.runs):
            kube_up(env, "--down")
            elapsed, line = kube_up(env)
            starts.append(elapsed)
            reuses.append(kube_up(env)[0])
            api = KubeAPI(line.split("=", 1)[1])
            test_id = uuid.uuid4().hex[:6]
            cluster = RealCluster(api, {ns: f"bench-{test_id}-{ns}" for ns in ("staging", "production")})
            started = time.perf_counter()
            cluster.retail_platform()
            seeds.append(time.perf_counter() - started)
    finally:
        kube_up(env, "--down")
    print(f"{'step':<72} median")
    print(f"{'kube-up.sh from nothing (certificates, etcd, 7 components, nodes Ready)':<72} "
          f"{statistics.median(starts):6.2f} s")
    print(f"{'kube-up.sh reusing a running one':<72} {statistics.median(reuses):6.2f} s")
    print(f"{'seed one test (2 namespaces, retail platform rolled out)':<72} {statistics.median(seeds):6.2f} s")


if __name__ == "__main__":
    main()
