"""Many services on the project's control plane: a deploy against the runbook's commands, for N
services (design budget: at N=30 `deploy.staging` <= 0.4x and a production blue-green <= 0.5x the
runbook; the per-service cost flat from 10 to 100).

Per N, in one run on one cluster (tests/kube/many.py seeds it: N Deployments in staging, N
blue/green pairs in production, every one with health and version endpoints on the stand-in data
plane), each measured as wall time and as API requests (every kubectl runs with `-v=6` through a
wrapper that counts its "Response" lines):

- runbook: per service `kubectl set image deployment/sNN ...` then `kubectl rollout status
  deployment/sNN`, in a row (the runbook's section 2B as a plain script);
- deploy.staging: `retail-deploy deploy.staging --version V --yes` (deploy, then verify);
- production blue-green: `retail-deploy deploy.production --version V --yes --force ...`
  (every service blue-green, switched per release; verification period 1 s, no scale-down delay).

Run it on your OWN control plane (its state dir and ports; scripts/kube-up.sh names them), e.g.

    RETAIL_DEPLOY_KUBE_DIR=/var/lib/retail-deploy/kube-mine RETAIL_DEPLOY_KUBE_API_PORT=29443 \\
    RETAIL_DEPLOY_KUBE_ETCD_PORT=29791 PYTHONPATH=. .venv/bin/python benchmarks/scale.py [--n 3 10 30 100]

The machine's load average is printed with each row: ratios are measured in one run, back to back.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.kube import many  # noqa: E402 - after sys.path so it runs from any cwd
from tests.kube.api import KubeAPI  # noqa: E402
from tests.kube.cluster import RealCluster  # noqa: E402
from tests.kube.dataplane import ClusterHTTP  # noqa: E402
from tests.kube.fixtures import CONTEXTS, test_kubeconfig  # noqa: E402

WRAPPER = """#!/bin/bash
# kubectl with -v=6: counts the API requests of this call into $SCALE_REQUESTS, shows the rest of stderr
err="$(mktemp)"
"$SCALE_KUBECTL" -v=6 "$@" 2>"$err"
rc=$?
echo "$(grep -c '"Response" verb=' "$err")" >>"$SCALE_REQUESTS"
grep -v '^[IW][0-9]\\{4\\} ' "$err" >&2
rm -f "$err"
exit $rc
"""


class Counter:
    """API requests and kubectl invocations made through the wrapper since the last `take`."""

    def __init__(self, path: Path):
        self.path = path
        self.path.write_text("")

    def take(self) -> tuple[int, int]:
        counts = [int(line) for line in self.path.read_text().split() if line.strip()]
        self.path.write_text("")
        return sum(counts), len(counts)


def kube_up() -> Path:
    result = subprocess.run(["bash", str(REPO / "scripts" / "kube-up.sh")], capture_output=True, text=True,
                            check=True, stdin=subprocess.DEVNULL)
    return Path(result.stdout.strip().splitlines()[-1].split("=", 1)[1])


def only_logs_failed(stdout: str) -> bool:
    failed = [line for line in stdout.splitlines() if "  FAIL  " in line]
    return bool(failed) and all(line.lstrip().startswith("logs ") for line in failed)


def run(env: dict[str, str], argv: list[str]) -> tuple[float, int, str]:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    return elapsed, result.returncode, result.stdout + result.stderr


def measure(admin: Path, n: int, work: Path) -> dict[str, object]:
    api = KubeAPI(admin)
    test_id = uuid.uuid4().hex[:6]
    namespaces = {logical: f"scale-{test_id}-{logical}" for logical in CONTEXTS}
    kubeconfig = test_kubeconfig(admin, work / f"kubeconfig-{n}", namespaces)
    cluster = RealCluster(api, namespaces)
    counter = Counter(work / f"requests-{n}")
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), SCALE_REQUESTS=str(counter.path),
               SCALE_KUBECTL=str(admin.parent / "bin" / "kubectl"), PYTHONPATH=str(REPO),
               PATH=f"{work / 'bin'}{os.pathsep}{os.environ['PATH']}")
    row: dict[str, object] = {"n": n}
    try:
        with ClusterHTTP(cluster) as http:
            many.seed(cluster, n, n)
            config = many.config(cluster, http, work / f"many-{n}.yaml", n, n, rollout_timeout="300s")
            env["RETAIL_DEPLOY_CONFIG"] = str(config)
            row["load_before"] = os.getloadavg()[0]
            counter.take()
            # the runbook, as a plain sequential script
            staging = cluster.ns("staging")
            script = "set -e\n" + "".join(
                f"kubectl set image deployment/{name} {many.CONTAINER}={many.REGISTRY}/{name}:1.0.1 "
                f"--namespace {staging} --context retail-staging\n"
                f"kubectl rollout status deployment/{name} --namespace {staging} --context retail-staging "
                "--timeout=300s\n" for name in many.names(n))
            elapsed, code, out = run(env, ["bash", "-c", script])
            assert code == 0, out
            row["runbook"] = (elapsed, *counter.take())
            cli = [sys.executable, "-m", "retail_deploy"]
            elapsed, code, out = run(env, [*cli, "deploy.staging", "--version", "1.1.0", "--yes"])
            assert code == 0 or only_logs_failed(out), out
            row["staging"] = (elapsed, *counter.take())
            row["staging_exit"] = code
            elapsed, code, out = run(env, [*cli, "deploy.production", "--version", "1.1.0", "--yes",
                                           "--force", "benchmarks/scale.py"])
            assert code == 0 or only_logs_failed(out), out
            row["production"] = (elapsed, *counter.take())
            row["production_exit"] = code
            row["load_after"] = os.getloadavg()[0]
            bad = [name for name in many.names(n) if cluster.selector("production", name) != {
                "app": name, "deployment": "green"}]
            assert not bad, f"not switched: {bad}"
    finally:
        for ns in namespaces.values():
            api.delete("namespaces", None, ns)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[3, 10, 30, 100])
    args = parser.parse_args()
    if not os.environ.get("RETAIL_DEPLOY_KUBE_DIR"):
        sys.exit("set RETAIL_DEPLOY_KUBE_DIR (and the ports) to run on your own control plane, not the shared one")
    admin = kube_up()
    work = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    (work / "bin").mkdir()
    (work / "bin" / "kubectl").write_text(WRAPPER)
    (work / "bin" / "kubectl").chmod(0o755)
    print(f"{'N':>4} {'runbook':>16} {'deploy.staging':>22} {'blue-green':>22} "
          f"{'req/svc st':>10} {'req/svc bg':>10} {'load':>10}  exits")
    for n in args.n:
        row = measure(admin, n, work)
        rb, st, bg = row["runbook"], row["staging"], row["production"]
        assert isinstance(rb, tuple) and isinstance(st, tuple) and isinstance(bg, tuple)
        print(f"{n:>4} {rb[0]:6.1f}s {rb[1]:4}req {st[0]:6.1f}s {st[1]:4}req ({st[0] / rb[0]:4.2f}x) "
              f"{bg[0]:6.1f}s {bg[1]:4}req ({bg[0] / rb[0]:4.2f}x) {st[1] / n:10.1f} {bg[1] / n:10.1f} "
              f"{row['load_before']:4.1f}-{row['load_after']:4.1f}  {row['staging_exit']}/{row['production_exit']}"
              f"  kubectl calls: {rb[2]}/{st[2]}/{bg[2]}", flush=True)


if __name__ == "__main__":
    main()
