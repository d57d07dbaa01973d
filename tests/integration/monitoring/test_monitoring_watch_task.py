"""monitor.watch --rollback when the rollback itself fails, and in a dry run (task layer, in process)."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest
from invoke import Context
from invoke.config import Config
from invoke.exceptions import Exit

from retail_deploy.errors import OperationFailed
from retail_deploy.monitoring import monitor
from retail_deploy.monitoring.triggers import Sample
from retail_deploy.tasks.monitor import watch as watch_task

pytestmark = pytest.mark.integration

CONFIG = """\
version: 1
platform: shop
services:
  api: {{image: shop-api}}
environments:
  prod:
    kube_context: shop-prod  # without one, --rollback is refused up front (exit 2): see below
    prometheus_url: http://prom.test:9090
    urls: {{api: https://api.shop.test}}
monitoring:
  runbook_defaults: false
  rollback_triggers:
    errors: {{title: Error rate, query: 'errors', above: 0.05, for: 5m}}
notifications:
  pagerduty: {{events_url: '{receiver}/pd'}}
"""
KEY = "routingKeyForTheFailureTest0001"


class AlwaysBreaching:
    display = "http://prom.test:9090"

    def query(self, expr: str) -> list[Sample]:
        return [Sample({}, 0.3)]

    def close(self) -> None:
        pass


@pytest.fixture
def setup(tmp_path: Path, webhook_receiver: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = tmp_path / "platform.yaml"
    path.write_text(CONFIG.format(receiver=webhook_receiver.url))
    monkeypatch.setattr(monitor, "client_for", lambda *a, **k: AlwaysBreaching())
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", KEY)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", webhook_receiver.url + "/slack")
    calls: list[str] = []
    fake = types.ModuleType("retail_deploy.kube.rollback")
    monkeypatch.setitem(sys.modules, "retail_deploy.kube.rollback", fake)
    return path, webhook_receiver, fake, calls


def test_failed_rollback_is_exit_1_and_still_pages(setup: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path, receiver, fake, calls = setup

    def rollback_environment(runner: Any, cfg: Any, env: Any, *, reason: str) -> str:
        calls.append(reason)
        raise OperationFailed("kubectl patch service retail-backend failed")

    fake.rollback_environment = rollback_environment  # type: ignore[attr-defined]
    with pytest.raises(Exit) as caught:
        watch_task(Context(), env="prod", duration="1m", rollback=True, config=str(path))
    assert caught.value.code == 1
    assert str(caught.value.message) == "error: kubectl patch service retail-backend failed"
    assert calls == ["Error rate is 30% (> 5% for 5m)"]
    page = next(p.json for p in receiver.wait_for(3) if p.route == "/pd/v2/enqueue")
    assert page["payload"]["summary"] == ("Automatic rollback of prod: Error rate is 30% (> 5% for 5m); "
                                          "the rollback FAILED: kubectl patch service retail-backend failed")
    assert page["payload"]["severity"] == "critical"
    assert KEY not in capsys.readouterr().out


def test_dry_run_prints_the_plan_and_sends_nothing(setup: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # A dry run never waits and never polls (the breaching Prometheus is not asked): it prints the
    # watch's rule and what a breach would do, the notifications as masked `$ curl` lines.
    path, receiver, fake, calls = setup

    def rollback_environment(runner: Any, cfg: Any, env: Any, *, reason: str) -> str:
        calls.append(reason)
        return "would switch traffic back to blue"

    fake.rollback_environment = rollback_environment  # type: ignore[attr-defined]
    ctx = Context(config=Config(overrides={"run": {"dry": True}}))
    watch_task(ctx, env="prod", duration="1m", rollback=True, config=str(path))
    out = capsys.readouterr().out
    assert out.startswith("# would watch 1 rollback triggers of prod for 1m: one poll every 30s (http://prom.test:9090)")
    assert "# errors: breach when > 5% for 5m; no data for 1m is a breach" in out
    assert "# on the first breach: roll prod back to the recorded previous release" in out
    assert receiver.posts == [] and calls == []
    curls = [line for line in out.splitlines() if line.startswith("$ curl") and "/api/v1/query" not in line]
    assert len(curls) == 3 and all("***" in line for line in curls)  # PagerDuty twice, Slack: masked
    assert KEY not in out and "/slack" not in out


def test_rollback_is_refused_up_front_where_the_environment_cannot_roll_back(
        setup: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # Before, the watch ran, saw the breach, and only then failed on the missing kube_context,
    # rolling nothing back.
    path, receiver, fake, calls = setup
    path.write_text(path.read_text().replace("    kube_context: shop-prod  # without one, --rollback is refused "
                                             "up front (exit 2): see below\n", ""))
    fake.rollback_environment = lambda *a, **k: calls.append("rolled back")  # type: ignore[attr-defined]
    with pytest.raises(Exit) as caught:
        watch_task(Context(), env="prod", duration="1m", rollback=True, config=str(path))
    assert caught.value.code == 2
    assert "kube_context is required" in str(caught.value.message)
    assert calls == [] and receiver.posts == []
