"""CLI start-up: `inv --list` and `retail-deploy --list` against bare `invoke --list` on an empty tasks file.

Budget (docs/architecture.md, "Performance budgets"): within 1.3x of the bare invoke. Runs are
interleaved so that load from elsewhere on the machine hits every command alike; the figure is the
ratio of medians.

    python benchmarks/cli_startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as empty:
        (Path(empty) / "tasks.py").write_text("")
        commands = {
            "invoke --list (empty tasks.py)": ([str(BIN / "invoke"), "--list"], Path(empty)),
            "inv --list (this repo)": ([str(BIN / "inv"), "--list"], REPO),
            "retail-deploy --list": ([str(BIN / "retail-deploy"), "--list"], Path(empty)),
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, (argv, cwd) in commands.items():
                samples[name].append(timed(argv, cwd))
    baseline = statistics.median(samples["invoke --list (empty tasks.py)"])
    print(f"{'command':34} {'median ms':>10} {'ratio':>6}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:34} {median * 1000:10.1f} {median / baseline:6.2f}")


if __name__ == "__main__":
    main()
