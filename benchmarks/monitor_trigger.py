"""Trigger to rollback: from the first moment a breach is visible in Prometheus to the start of the rollback.

Budget (docs/architecture.md, "Performance budgets"): the rollback starts within one polling
interval of the breach.
A real Prometheus (scrape 0.5s) scrapes a test exporter; windows are shortened (error rate
> 5% held for 4s, rate window 2s, subquery step 0.5s). For each trial the error rate jumps
to 20%; the benchmark polls the trigger's own windowed query every 20ms to stamp when the
breach became visible, while `monitor.watch` runs with a recording `on_breach`.

Baseline, same run and inputs: the runbook's way scripted by hand, a shell loop that curls the
same windowed query every interval and starts the rollback command when it is non-empty.
Figures: latency / polling interval (must stay <= 1) and the ratio of medians to the baseline.

    python benchmarks/monitor_trigger.py [--trials 5] [--intervals 1,2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from retail_deploy.config import load_config  # noqa: E402
from retail_deploy.monitoring.monitor import monitoring_settings, watch  # noqa: E402
from retail_deploy.monitoring.triggers import windowed_query  # noqa: E402
from tests.services import MetricsExporter, Prometheus  # noqa: E402

CONFIG = """\
version: 1
services:
  backend: {{image: retail-backend}}
environments:
  production:
    prometheus_url: {url}
    urls: {{backend: http://127.0.0.1:9}}
monitoring:
  runbook_defaults: false
  rate_window: 2s
  subquery_step: 500ms
  rollback_triggers:
    error_rate:
      title: Error rate
      query: 'sum(rate(http_server_requests_total{{status=~"5.."}}[$window])) / sum(rate(http_server_requests_total[$window]))'
      above: 0.05
      for: 4s
"""

SHELL_LOOP = r"""
query="$1"; url="$2"; interval="$3"; out="$4"
while :; do
  if curl -fsS --data-urlencode "query=$query" "$url/api/v1/query" | grep -q '"value"'; then
    date +%s.%N > "$out"; exit 0   # here the runbook's `kubectl rollout undo ...` would start
  fi
  sleep "$interval"
done
"""

ERRORS = {"status": "500"}


def set_errors(exporter: MetricsExporter, per_second: float) -> None:
    exporter.set_rate("http_server_requests_total", ERRORS, per_second)


def first_visible(prometheus: Prometheus, expr: str, since: float, limit: float = 60) -> float:
    while time.time() - since < limit:
        if prometheus.query(expr):
            return time.time()
        time.sleep(0.02)
    raise RuntimeError("breach never visible")


def settle(exporter: MetricsExporter, prometheus: Prometheus, expr: str) -> None:
    """Back to 1% errors, and wait until the window is healthy again (no breach)."""
    set_errors(exporter, 1)
    deadline = time.time() + 60
    time.sleep(5)
    while prometheus.query(f"({expr}) > 0.05") or not prometheus.query(expr):
        if time.time() > deadline:
            raise RuntimeError("did not settle")
        time.sleep(0.2)


def trial_ours(cfg: Any, exporter: MetricsExporter, prometheus: Prometheus, expr: str, interval: float) -> float:
    fired: list[float] = []
    thread = threading.Thread(target=watch, args=(cfg, "production", 60), daemon=True,
                              kwargs={"interval_s": interval, "say": lambda text: None,
                                      "on_breach": lambda reading: fired.append(time.time())})
    thread.start()
    time.sleep(interval * 1.5)
    changed = time.time()
    set_errors(exporter, 25)
    visible = first_visible(prometheus, expr, changed)
    thread.join(timeout=60)
    return fired[0] - visible


def trial_shell(exporter: MetricsExporter, prometheus: Prometheus, expr: str, interval: float, out: Path) -> float:
    out.unlink(missing_ok=True)
    loop = subprocess.Popen(["bash", "-c", SHELL_LOOP, "loop", expr, prometheus.url, str(interval), str(out)])
    time.sleep(interval * 1.5)
    changed = time.time()
    set_errors(exporter, 25)
    visible = first_visible(prometheus, expr, changed)
    loop.wait(timeout=60)
    return float(out.read_text()) - visible


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--intervals", default="1,2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        exporter = MetricsExporter()
        exporter.set_rate("http_server_requests_total", {"status": "200"}, 99)
        set_errors(exporter, 1)
        (work / "prom").mkdir()
        prometheus = Prometheus(work / "prom", [exporter.target], scrape_interval="500ms").start()
        try:
            (work / "platform.yaml").write_text(CONFIG.format(url=prometheus.url))
            cfg = load_config(work / "platform.yaml", environ={})
            trigger = monitoring_settings(cfg).triggers[0]
            expr = windowed_query(trigger, 0.5)
            firing = f"({expr}) > 0.05"
            print("| poll interval | retail-deploy watch: median (max) | / interval | shell curl loop: median | ratio |")
            print("|---|---|---|---|---|")
            for interval in (float(i) for i in args.intervals.split(",")):
                ours, shell = [], []
                for _ in range(args.trials):  # interleaved, so machine load hits both alike
                    settle(exporter, prometheus, expr)
                    ours.append(trial_ours(cfg, exporter, prometheus, firing, interval))
                    settle(exporter, prometheus, expr)
                    shell.append(trial_shell(exporter, prometheus, firing, interval, work / "shell.out"))
                mo, ms = statistics.median(ours), statistics.median(shell)
                print(f"| {interval:g}s | {mo:.3f}s ({max(ours):.3f}s) | {max(ours) / interval:.2f} | "
                      f"{ms:.3f}s | {mo / ms:.2f} |")
        finally:
            prometheus.stop()
            exporter.stop()


if __name__ == "__main__":
    main()
