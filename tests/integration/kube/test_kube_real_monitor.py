"""The automatic rollback end to end on the REAL control plane: a real Prometheus scraping an
exporter whose error rate has gone bad, `monitor.watch --rollback` through the CLI and the real
kubectl: traffic goes back to the old colour (scaled up again first, its pods really Ready), the
old version serves, exit 3."""

from __future__ import annotations

import subprocess
import sys

import pytest

from retail_deploy.kube import deployer
from retail_deploy.targets import history
from tests.integration.kube_support import REPO
from tests.monitoring_config import error_rate_only

pytestmark = [pytest.mark.integration, pytest.mark.kube]


def test_error_rate_breach_switches_traffic_back_to_blue(real_platform, metrics_exporter, prometheus_factory):
    platform = real_platform
    cfg = platform.cfg()
    deployer.deploy(platform.runner(), cfg, cfg.environment("production"), "1.1.0")
    assert platform.selector() == "green" and platform.served_version() == "1.1.0"
    assert platform.cluster.replicas("production", "retail-backend-blue") == 0

    metrics_exporter.set_rate("http_server_requests_total", {"status": "200"}, 80)
    metrics_exporter.set_rate("http_server_requests_total", {"status": "500"}, 20)  # 20% errors
    prometheus = prometheus_factory([metrics_exporter.target], scrape_interval="1s", job_name="retail-backend")
    text = platform.config.read_text().replace(
        "  production:\n", f"  production:\n    prometheus_url: {prometheus.url}\n", 1)
    platform.config.write_text(text + error_rate_only())

    result = subprocess.run(
        [sys.executable, "-m", "retail_deploy", "monitor.watch", "--env", "production", "--duration", "60s",
         "--rollback"],
        cwd=REPO, env=dict(platform.env, PYTHONPATH=str(REPO)),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Error rate" in result.stdout + result.stderr
    assert platform.selector() == "blue"
    assert platform.cluster.replicas("production", "retail-backend-blue") >= 1
    assert platform.served_version() == "1.0.0"
    blue = platform.cluster.pods("production", {"app": "retail-backend", "deployment": "blue"})
    assert blue and all(p["spec"]["containers"][0]["image"].endswith(":1.0.0") for p in blue)
    cm = platform.cluster.configmap("production", history.HISTORY_NAME)
    rollbacks = [r for r in history.parse_history(cm["data"]) if r.get("action") == "rollback-automatic"]
    assert rollbacks and rollbacks[-1]["result"] == "succeeded" and "Error rate" in rollbacks[-1]["reason"]
    assert rollbacks[-1]["release"]["backend"] == {"before": "1.1.0", "after": "1.0.0", "colour_before": "green",
                                                   "colour_after": "blue"}
