"""monitor.dashboards against real services: every panel's query is valid PromQL on a real
Prometheus, and the upload speaks Grafana's HTTP API to a local HTTP server that records each
request (no Grafana runs here: it is not obtainable on this machine; docs/monitoring.md says so).
That the overview's panels return data from the real example backend is tested in
tests/integration/test_example_monitoring_e2e.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from retail_deploy.config import DEFAULT_CONFIG, load_config
from retail_deploy.monitoring import dashboards
from retail_deploy.monitoring.monitor import monitoring_settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
TOKEN = "glsa_ServiceAccountToken0123456789_abcdef"


def retail_specs() -> list[dashboards.DashboardSpec]:
    cfg = load_config(DEFAULT_CONFIG, environ={})
    return dashboards.dashboard_specs(monitoring_settings(cfg), cfg.section("dashboards").str_map("links", {}),
                                      cfg.platform)


def instant_query(prometheus_url: str, expr: str) -> dict:
    """The API's own answer (a 400 with status "error" for bad PromQL), not a client's exception."""
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def cli(*args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GRAFANA_TOKEN", "RETAIL_DEPLOY_CONFIG")}
    if token is not None:
        env["GRAFANA_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "retail_deploy", "monitor.dashboards", *args], cwd=REPO, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


def test_every_panel_query_is_valid_promql_on_a_real_prometheus(prometheus_factory, metrics_exporter) -> None:
    prometheus = prometheus_factory([metrics_exporter.target])
    queries = [(spec.uid, panel.title, panel.query) for spec in retail_specs() for panel in spec.panels]
    assert len(queries) >= 12
    for uid, title, query in queries:
        answer = instant_query(prometheus.url, query)
        assert answer.get("status") == "success", f"{uid} / {title}: {query}: {answer}"
    # The checker itself refuses what Prometheus refuses.
    assert instant_query(prometheus.url, "sum(rate(x[5m])")["status"] == "error"


def test_the_dashboards_are_uploaded_through_grafanas_api_and_the_token_never_shows(webhook_receiver,
                                                                                    tmp_path) -> None:
    done = cli("--grafana-url", webhook_receiver.url, "--folder", "platform", "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    posts = webhook_receiver.posts
    assert [p.route for p in posts] == ["/api/dashboards/db"] * 4
    for post in posts:
        assert post.headers.get("Authorization") == f"Bearer {TOKEN}"
        assert post.headers.get("Content-Type", "").startswith("application/json")
    bodies = [json.loads(p.body) for p in posts]
    assert [b["dashboard"]["uid"] for b in bodies] == ["retail-overview", "retail-infrastructure",
                                                       "retail-business", "retail-security"]
    assert all(b["overwrite"] is True and b["folderUid"] == "platform" and b["dashboard"]["id"] is None
               for b in bodies)
    written = json.loads((tmp_path / "out" / "retail-overview.json").read_text())
    assert bodies[0]["dashboard"] == {**written, "id": None}  # what is written is what is uploaded
    assert done.stdout.count("uploaded retail-") == 4
    assert TOKEN not in done.stdout + done.stderr


def test_a_refused_token_is_bad_input_and_a_silent_grafana_is_unknown(webhook_receiver) -> None:
    webhook_receiver.status = 401
    refused = cli("--grafana-url", webhook_receiver.url)
    assert refused.returncode == 2, refused.stderr
    assert "Grafana refused the token (HTTP 401" in refused.stderr and TOKEN not in refused.stderr
    assert len(webhook_receiver.posts) == 1  # stopped at the first refusal
    url = webhook_receiver.url
    webhook_receiver.stop()
    silent = cli("--grafana-url", url)
    assert silent.returncode == 5, silent.stderr
    assert "did not answer" in silent.stderr and TOKEN not in silent.stderr
    missing = cli("--grafana-url", url, token=None)
    assert missing.returncode == 2 and "GRAFANA_TOKEN" in missing.stderr


def test_the_dry_run_prints_the_upload_as_curl_with_the_token_masked(webhook_receiver, tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "retail_deploy", "--dry", "monitor.dashboards", "--grafana-url",
                           webhook_receiver.url, "--output", str(tmp_path / "out")], cwd=REPO,
                          env={**os.environ, "GRAFANA_TOKEN": TOKEN}, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    curls = [line for line in done.stdout.splitlines() if line.startswith("$ curl")]
    assert len(curls) == 4 and all("/api/dashboards/db" in line for line in curls)
    assert TOKEN not in done.stdout + done.stderr
    assert not webhook_receiver.requests and not (tmp_path / "out").exists()
