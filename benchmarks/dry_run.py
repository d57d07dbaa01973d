"""`inv --dry deploy.production --version V`: our own time (design budget: under 0.5 s).

Our own time = wall time of the dry run, minus the kubectl probes it makes (a stub `kubectl` on
PATH answers them instantly from the recorded fixtures; its cost per call is measured and
subtracted), minus the start-up of Python and invoke themselves (bare `invoke --list` on an
empty tasks file, the baseline). That is what retail-deploy adds: importing its tasks, loading
the config, probing through invoke, planning and printing. Runs are interleaved; medians.

    python benchmarks/dry_run.py [--runs 11]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "kube"

# Answers each `kubectl get <kind> <name> -o json` from a fixture; counts calls in $STUB_COUNT.
STUB = f"""#!/bin/sh
echo x >> "$STUB_COUNT"
case "$*" in
  *"get service"*) cat {FIXTURES}/service-retail-backend.json ;;
  *"get configmap"*) echo 'Error from server (NotFound): configmaps "x" not found' >&2; exit 1 ;;
  *"get deployment"*) cat {FIXTURES}/deployment-green.json ;;
  *) exit 0 ;;
esac
"""


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        stub = tmpdir / "bin" / "kubectl"
        stub.parent.mkdir()
        stub.write_text(STUB)
        stub.chmod(0o755)
        (tmpdir / "tasks.py").write_text("")
        count = tmpdir / "count"
        env = dict(os.environ, PATH=f"{stub.parent}{os.pathsep}{os.environ['PATH']}", STUB_COUNT=str(count),
                   PYTHONPATH=str(REPO))
        env.pop("RETAIL_DEPLOY_CONFIG", None)
        dry = [sys.executable, "-m", "invoke", "-r", str(REPO), "--dry", "deploy.production", "--version", "1.2.3"]
        bare = [sys.executable, "-m", "invoke", "--list"]
        probe = [str(stub), "get", "deployment", "x", "-o", "json"]
        walls, bases, probes, calls = [], [], [], []
        for _ in range(runs):
            count.write_text("")
            walls.append(timed(dry, env, REPO))
            calls.append(len(count.read_text().splitlines()))
            bases.append(timed(bare, env, tmpdir))
            probes.append(timed(probe, env, tmpdir))
    wall, base, per_probe = (statistics.median(x) for x in (walls, bases, probes))
    n = statistics.median(calls)
    own = wall - n * per_probe
    print(f"inv --dry deploy.production wall      {wall * 1000:7.0f} ms (median of {runs})")
    print(f"  kubectl probes                      {n:7.0f} calls x {per_probe * 1000:.0f} ms")
    print(f"  wall - probes                       {own * 1000:7.0f} ms")
    print(f"bare invoke --list (empty tasks.py)   {base * 1000:7.0f} ms")
    print(f"(wall - probes) / bare invoke         {own / base:7.2f}x")
    mine = own - base
    print(f"our own time (beyond start-up)        {mine * 1000:7.0f} ms   budget 500 ms: "
          f"{'OK' if mine < 0.5 else 'OVER'}")


if __name__ == "__main__":
    main()
