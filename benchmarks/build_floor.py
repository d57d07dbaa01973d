"""Benchmark: how far can concurrency take `build.all` on THIS machine? The floor, from measurements.

`build_all.py --example` measures `build.all --push` against the runbook's sequential commands.
When the services' build steps are CPU-bound (javac and the JVMs, Vite's bundler, npm's unpacking),
running them at once can only go as fast as the machine's cores allow. This script measures the
two things that bound the ratio, on the example platform's real build steps (warm Maven repository
and npm cache, each step run the runbook's way in a fresh copy of the sources):

- per step: wall time and CPU time (user + system of the step and its children);
- the machine's parallel efficiency: N CPU-bound processes at once (N = its cores) against one
  alone (`effective cores` = N x alone / together; N on idle, independent cores; less when the
  cores are hyper-threads or shared with other machines).

Then, for the build steps alone (the Docker part is small and overlaps):
    sequential = sum of the steps' wall times            (what the runbook's script waits for)
    critical   = the longest service's steps             (no schedule finishes before it)
    cpu floor  = total CPU / effective cores             (no schedule finishes before the work is done)
    best N-core schedule = the services packed on the N cores, longest first, each core slowed as
                 measured when all are busy (N / effective cores): what a perfect scheduler of
                 whole services reaches; build.all runs every service at once, close to it.

    PYTHONPATH=. python benchmarks/build_floor.py [--rounds 2]

Needs mvn, npm and a warm cache (run scripts/demo.sh or build_all.py --example once). Prints one
table; figures go in docs/performance.md under "Example platform".
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.build_all import example_platform
from retail_deploy.config import load_config

SPIN = "x = 0\nfor i in range(15_000_000):\n    x += i\n"


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_step(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, cpu) of one build step, output discarded; a failing step stops the benchmark."""
    cpu, wall = cpu_of_children(), time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - wall, cpu_of_children() - cpu


def effective_cores(cores: int) -> float:
    """cores x (one spin loop alone) / (`cores` at once): how much CPU-bound processes get together."""
    def spin(count: int) -> float:
        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(count)]
        for proc in procs:
            proc.wait()
        return time.perf_counter() - started

    alone = statistics.median(spin(1) for _ in range(3))
    together = statistics.median(spin(cores) for _ in range(3))
    return cores * alone / together


def packed(durations: list[float], bins: int) -> float:
    """The makespan of `durations` packed on `bins` cores, longest first (LPT)."""
    loads = [0.0] * max(1, bins)
    for duration in sorted(durations, reverse=True):
        loads[loads.index(min(loads))] += duration
    return max(loads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    per_step: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        cfg = load_config(example_platform(Path(tmp)))
        for _ in range(args.rounds):
            for service in cfg.services.values():
                for step in service.build_steps:
                    per_step.setdefault((service.name, step.name), []).append(
                        run_step(list(step.argv), Path(service.source_dir)))
    cores = os.cpu_count() or 1
    effective = effective_cores(cores)

    rows = {key: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
            for key, runs in per_step.items()}
    print(f"{'service':14} {'step':9} {'wall':>7} {'cpu':>7}")
    for (service, step), (wall, cpu) in rows.items():
        print(f"{service:14} {step:9} {wall:6.2f}s {cpu:6.2f}s")
    sequential = sum(wall for wall, _ in rows.values())
    total_cpu = sum(cpu for _, cpu in rows.values())
    by_service: dict[str, float] = {}
    for (service, _), (wall, _) in rows.items():
        by_service[service] = by_service.get(service, 0.0) + wall
    critical_service = max(by_service, key=lambda name: by_service[name])
    critical = by_service[critical_service]
    cpu_floor = total_cpu / effective
    schedule = packed(list(by_service.values()), cores) * cores / effective
    print(f"\nsequential steps (runbook script, Docker part excluded) {sequential:6.2f}s")
    print(f"total CPU of the steps                                 {total_cpu:6.2f}s")
    print(f"effective cores ({cores} CPU-bound processes at once)        {effective:6.2f}")
    print(f"critical path ({critical_service}, alone)                 {critical:6.2f}s  -> {critical / sequential:.2f}x")
    print(f"CPU floor (total CPU / effective cores)                {cpu_floor:6.2f}s  -> {cpu_floor / sequential:.2f}x")
    print(f"best {cores}-core schedule of whole services (LPT, contended) {schedule:6.2f}s  -> "
          f"{schedule / sequential:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
