"""monitor.check / monitor.watch against a REAL Prometheus scraping a test exporter on loopback.

Windows are shortened through the platform config (the runbook's 5m becomes 6s, rate window
3s, scrape and poll every 1s) so the runbook's logic runs in seconds. The rollback is a
recording stand-in for `retail_deploy.kube.rollback.rollback_environment` (the kubectl double is
wired end to end by the lead); notifications go to a local webhook receiver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from retail_deploy.monitoring.triggers import Trigger, windowed_query

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SLACK_PATH = "/slack/services/T0001/B0001/SlackHookSecret42"
ROUTING_KEY = "pdRoutingKeySecret0123456789abcd"
JOB = "retail-backend"

CONFIG = """\
version: 1
platform: retail-test
services:
  backend: {{image: retail-backend}}
environments:
  production:
    namespace: production
    kube_context: retail-test  # --rollback needs a rollback-capable (fully named) environment
    prometheus_url: ${{PROMETHEUS_URL}}
    urls: {{backend: http://127.0.0.1:9}}
monitoring:
  poll_interval: 1s
  query_timeout: 5s
  rate_window: 3s
  subquery_step: 1s
  unreachable_tolerance: 1
  rollback_triggers:
    error_rate: {{for: 6s}}
    p95_latency: {{for: 6s}}
    health_check: {{for: 3s}}
notifications:
  pagerduty: {{events_url: '{receiver}/pd'}}
"""

# Runs the real CLI with `retail_deploy.kube.rollback` replaced by a recorder (time and reason to a file).
LAUNCHER = """\
import json, sys, time, types
log = sys.argv.pop(1)
def rollback_environment(runner, cfg, env, *, reason):
    with open(log, "a") as f:
        f.write(json.dumps({"at": time.time(), "env": env.name, "reason": reason}) + "\\n")
    runner.say("stand-in rollback: traffic switched back to blue")
    return "traffic switched back to blue"
fake = types.ModuleType("retail_deploy.kube.rollback")
fake.rollback_environment = rollback_environment
sys.modules["retail_deploy.kube.rollback"] = fake
from retail_deploy.cli import main
sys.argv[0] = "retail-deploy"
main()
"""

ERROR_RATE = Trigger("error_rate", "Error rate",
                     '(sum(rate(http_server_requests_total{status=~"5.."}[3s])) or vector(0))'
                     " / sum(rate(http_server_requests_total[3s]))", "above", 0.05, 6, "ratio")

P95_LATENCY = Trigger("p95_latency", "p95 latency",
                      "histogram_quantile(0.95, sum by (le) (rate(http_server_requests_duration_bucket[3s])))",
                      "above", 0.5, 6, "seconds")
# A trigger whose metric does not exist (renamed, or never exported): the query answers, empty.
ABSENT = ("    orders_renamed: {title: Orders failing, query: 'sum(rate(orders_failed_renamed_total[$window]))',"
          " above: 1, for: 3s, unit: count}")


@pytest.fixture
def platform(tmp_path: Path, metrics_exporter: Any, prometheus_factory: Any, webhook_receiver: Any) -> Any:
    """Exporter at a healthy 2% error rate, fast requests; Prometheus scraping it as job retail-backend."""
    exporter = metrics_exporter
    exporter.set_rate("http_server_requests_total", {"status": "200", "uri": "/api/v1/orders"}, 98)
    exporter.set_rate("http_server_requests_total", {"status": "500", "uri": "/api/v1/orders"}, 2)
    exporter.set_observation_rate("http_server_requests_duration", {}, 0.05, 100)
    exporter.set_counter("payments_failed_total", {}, 0)
    prometheus = prometheus_factory([exporter.target], scrape_interval="1s", job_name=JOB)
    config = tmp_path / "platform.yaml"
    config.write_text(CONFIG.format(receiver=webhook_receiver.url))

    class Platform:
        def __init__(self) -> None:
            self.exporter, self.prometheus, self.receiver, self.config = (
                exporter, prometheus, webhook_receiver, config)
            self.rollback_log = tmp_path / "rollbacks.jsonl"

        def env(self) -> dict[str, str]:
            environ = {**os.environ, "PYTHONPATH": str(REPO), "PROMETHEUS_URL": prometheus.url,
                       "SLACK_WEBHOOK_URL": webhook_receiver.url + SLACK_PATH,
                       "PAGERDUTY_ROUTING_KEY": ROUTING_KEY}
            environ.pop("RETAIL_DEPLOY_CONFIG", None)
            environ.pop("SLACK_MONITORING_WEBHOOK_URL", None)
            return environ

        def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-c", LAUNCHER, str(self.rollback_log), *args, "--config", str(config)],
                cwd=REPO, env=self.env(), capture_output=True, text=True, timeout=timeout,
                stdin=subprocess.DEVNULL)

        def popen(self, *args: str) -> subprocess.Popen[str]:
            return subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, str(self.rollback_log), *args, "--config", str(config)],
                cwd=REPO, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                stdin=subprocess.DEVNULL)

        def error_rate_window(self) -> list[dict[str, Any]]:
            return list(prometheus.query(windowed_query(ERROR_RATE, 1)))

        def wait_until_window_covered(self) -> None:
            # The triggers' own queries: non-empty once 6s of data exist (no trigger without data).
            prometheus.wait_for(windowed_query(ERROR_RATE, 1), timeout=40)
            prometheus.wait_for(windowed_query(P95_LATENCY, 1), timeout=40)

        def add_trigger(self, line: str) -> None:
            """One more rollback trigger (a YAML flow mapping line) in the config."""
            text = config.read_text()
            config.write_text(text.replace("    health_check: {for: 3s}\n", f"    health_check: {{for: 3s}}\n{line}\n"))

        def rollbacks(self) -> list[dict[str, Any]]:
            if not self.rollback_log.exists():
                return []
            return [json.loads(line) for line in self.rollback_log.read_text().splitlines()]

    return Platform()


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert ROUTING_KEY not in text and "SlackHookSecret42" not in text


def test_check_passes_below_threshold_and_fails_once_held_for_the_window(platform: Any) -> None:
    platform.wait_until_window_covered()
    healthy = platform.cli("monitor.check", "--env", "production")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    row = next(line for line in healthy.stdout.splitlines() if line.startswith("Error rate"))
    assert row.split()[-1] == "ok" and "> 5% for 6s" in row and "2%" in row  # a real value, not "no data"
    assert "no rollback trigger is firing in production" in healthy.stdout

    # 20% errors from now on: a single bad sample is not "for 6s".
    platform.exporter.set_rate("http_server_requests_total", {"status": "500", "uri": "/api/v1/orders"}, 25)
    changed = time.time()
    time.sleep(2)
    early = platform.cli("monitor.check", "--env", "production", "--no-metrics")
    assert early.returncode == 0, early.stdout + early.stderr
    assert time.time() - changed < 6, "the early check ran too late to prove anything"

    platform.prometheus.wait_for(f"({windowed_query(ERROR_RATE, 1)}) > 0.05", timeout=30)
    firing = platform.cli("monitor.check", "--env", "production")
    assert firing.returncode == 1, firing.stdout + firing.stderr
    assert firing.stderr.startswith("error: 1 rollback trigger(s) firing in production: Error rate is ")
    assert "(> 5% for 6s)" in firing.stderr
    row = next(line for line in firing.stdout.splitlines() if line.startswith("Error rate"))
    assert row.endswith("FIRING")


def test_check_as_json_is_one_document_of_every_reading_and_shows_no_secret(platform: Any, monkeypatch: Any) -> None:
    platform.wait_until_window_covered()
    done = platform.cli("monitor.check", "--env", "production", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)  # the whole of stdout: one document
    assert document["ok"] is True and document["fired"] == [] and document["environment"] == "production"
    assert document["prometheus"] == platform.prometheus.url
    error_rate = next(t for t in document["triggers"] if t["name"] == "error_rate")
    assert error_rate["state"] == "ok" and error_rate["threshold"] == "> 5% for 6s"
    assert 0.01 < error_rate["value"] < 0.05 and error_rate["unit"] == "ratio"  # a real value, not "no data"
    assert {m["state"] for m in document["metrics"]} <= {"ok", "warning", "critical", "no data"}
    assert document["unverified"] == [] and {t["state"] for t in document["triggers"]} == {"ok"}
    assert_no_secret(done.stdout, done.stderr)

    # The library call behind it: the same readings, typed.
    from retail_deploy import api

    monkeypatch.setenv("PROMETHEUS_URL", platform.prometheus.url)
    report = api.evaluate_triggers(env="production", config=platform.config, check=False)
    assert report.fired == () and [(t.name, t.state) for t in report.triggers] == [
        (t["name"], t["state"]) for t in document["triggers"]]


def test_watch_rolls_back_within_one_poll_of_the_breach_and_notifies(platform: Any) -> None:
    platform.wait_until_window_covered()
    watcher = platform.popen("monitor.watch", "--env", "production", "--duration", "60s", "--rollback",
                             "--interval", "1s")
    try:
        time.sleep(2)  # a couple of healthy polls first
        platform.exporter.set_rate("http_server_requests_total", {"status": "500", "uri": "/api/v1/orders"}, 25)
        changed = time.time()
        # Watch Prometheus alongside: when does the breach first become visible?
        visible = None
        while visible is None and time.time() - changed < 40:
            result = platform.error_rate_window()
            if result and float(result[0]["value"][1]) > 0.05:
                visible = time.time()
            time.sleep(0.05)
        out, err = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert visible is not None, "the breach never became visible in Prometheus"
    assert watcher.returncode == 3, out + err
    [rollback] = platform.rollbacks()
    assert rollback["env"] == "production" and rollback["reason"].startswith("Error rate is ")
    # Not on the first bad sample: the rate had to stay above 5% for the whole 6s window ...
    assert rollback["at"] - changed >= 5, rollback["at"] - changed
    # ... and then the rollback started within one polling interval (1s, plus query time).
    assert rollback["at"] - visible <= 1.5, rollback["at"] - visible
    assert err.startswith("error: production rolled back (traffic switched back to blue): Error rate is ")
    assert "rollback trigger FIRED: Error rate is" in out

    posts = {post.route: post for post in platform.receiver.wait_for(3)}
    assert set(posts) == {"/pd/v2/change/enqueue", "/pd/v2/enqueue", SLACK_PATH}
    trigger = posts["/pd/v2/enqueue"].json
    assert trigger["routing_key"] == ROUTING_KEY and trigger["event_action"] == "trigger"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "retail-test/production"
    assert trigger["payload"]["summary"].startswith("Automatic rollback of production: Error rate is ")
    change = posts["/pd/v2/change/enqueue"].json
    assert change["routing_key"] == ROUTING_KEY and "event_action" not in change
    assert change["payload"]["summary"] == trigger["payload"]["summary"]
    assert change["payload"]["custom_details"]["action"] == "traffic switched back to blue"
    slack = posts[SLACK_PATH].json
    assert slack["text"].startswith(":rotating_light: *Automatic rollback of production: Error rate is ")
    assert all(p.headers.get("Content-Type") == "application/json" for p in posts.values())
    assert_no_secret(out, err)


def test_watch_without_breach_exits_0_and_a_dead_receiver_never_blocks_a_rollback(platform: Any) -> None:
    platform.wait_until_window_covered()
    quiet = platform.cli("monitor.watch", "--env", "production", "--duration", "3s", "--rollback",
                         "--interval", "1s")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "no rollback trigger fired in 4 polls over 3s" in quiet.stdout
    assert platform.rollbacks() == [] and platform.receiver.posts == []

    platform.receiver.status = 503  # Slack and PagerDuty both failing
    platform.exporter.set_counter("payments_failed_total", {}, 3)  # "payment failures detected": instant
    platform.prometheus.wait_for("sum(increase(payments_failed_total[3s])) > 0", timeout=20)
    broken = platform.cli("monitor.watch", "--env", "production", "--duration", "20s", "--rollback",
                          "--interval", "1s")
    assert broken.returncode == 3, broken.stdout + broken.stderr
    assert [r["reason"].split(" is ")[0] for r in platform.rollbacks()] == ["Payment failures"]
    assert "could not notify Slack #alerts (URL/key from $SLACK_WEBHOOK_URL): HTTP 503" in broken.stdout
    assert "could not notify PagerDuty trigger (URL/key from $PAGERDUTY_ROUTING_KEY): HTTP 503" in broken.stdout
    assert_no_secret(broken.stdout, broken.stderr)


def test_prometheus_down_is_exit_5_never_healthy(platform: Any) -> None:
    platform.prometheus.stop()
    for args in (("monitor.check", "--env", "production"),
                 ("monitor.watch", "--env", "production", "--duration", "5s", "--rollback", "--interval", "1s")):
        result = platform.cli(*args)
        assert result.returncode == 5, result.stdout + result.stderr
        assert "cannot reach Prometheus at http://127.0.0.1:" in result.stderr
        assert "state is unknown" in result.stderr or "not verified" in result.stderr
        assert "healthy" not in (result.stdout + result.stderr).lower()
        assert "no rollback trigger" not in result.stdout
    assert platform.rollbacks() == []


def test_an_absent_metric_is_no_data_exit_5_naming_the_trigger_and_its_query(platform: Any) -> None:
    platform.wait_until_window_covered()
    platform.add_trigger(ABSENT)
    checked = platform.cli("monitor.check", "--env", "production", "--no-metrics")
    assert checked.returncode == 5, checked.stdout + checked.stderr
    assert checked.stderr.startswith("error: 1 rollback trigger(s) of production cannot say the platform is healthy: "
                                     "Orders failing (orders_renamed) has no data: no series for ")
    assert "orders_failed_renamed_total[3s]" in checked.stderr
    row = next(line for line in checked.stdout.splitlines() if line.startswith("Orders failing"))
    assert row.endswith("no-data")
    assert "no rollback trigger is firing" not in checked.stdout

    as_json = platform.cli("monitor.check", "--env", "production", "--json")
    assert as_json.returncode == 5, as_json.stdout + as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["ok"] is False and document["fired"] == [] and document["unverified"] == ["orders_renamed"]
    absent = next(t for t in document["triggers"] if t["name"] == "orders_renamed")
    assert absent["state"] == "no-data" and absent["value"] is None and absent["no_data"] == "fail"
    assert "orders_failed_renamed_total" in absent["query"]


def test_a_trigger_may_accept_no_data(platform: Any) -> None:
    platform.wait_until_window_covered()
    platform.add_trigger(ABSENT.replace("unit: count}", "unit: count, no_data: accept}"))
    checked = platform.cli("monitor.check", "--env", "production", "--no-metrics")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no-data (accepted)" in checked.stdout
    watched = platform.cli("monitor.watch", "--env", "production", "--duration", "2s", "--rollback",
                           "--interval", "1s")
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert platform.rollbacks() == []


def test_watch_rolls_back_when_a_trigger_had_no_data_for_the_whole_watch(platform: Any) -> None:
    platform.wait_until_window_covered()
    platform.add_trigger(ABSENT)
    watched = platform.cli("monitor.watch", "--env", "production", "--duration", "2s", "--rollback",
                           "--interval", "1s")
    assert watched.returncode == 3, watched.stdout + watched.stderr
    [rollback] = platform.rollbacks()
    assert rollback["reason"].startswith("Orders failing (orders_renamed) has no data: no series for ")
    assert "verification FAILED: Orders failing (orders_renamed) has no data" in watched.stdout
    assert "no rollback trigger fired" not in watched.stdout

    unwatched = platform.cli("monitor.watch", "--env", "production", "--duration", "1s", "--interval", "1s")
    assert unwatched.returncode == 5, unwatched.stdout + unwatched.stderr
    assert unwatched.stderr.startswith("error: production was not verified: Orders failing (orders_renamed) has no data")
    assert len(platform.rollbacks()) == 1


def test_no_data_on_one_trigger_never_hides_a_breach_on_another(platform: Any) -> None:
    platform.wait_until_window_covered()
    platform.add_trigger(ABSENT)
    platform.exporter.set_counter("payments_failed_total", {}, 3)  # "payment failures detected": instant
    platform.prometheus.wait_for("sum(increase(payments_failed_total[3s])) > 0", timeout=20)
    checked = platform.cli("monitor.check", "--env", "production", "--no-metrics")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stderr.startswith("error: 1 rollback trigger(s) firing in production: Payment failures is ")
