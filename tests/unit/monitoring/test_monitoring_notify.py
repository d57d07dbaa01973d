"""Notification payloads (Slack webhook, PagerDuty Events v2) and routing, without a network."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from retail_deploy.monitoring.notify import (
    NotificationSettings,
    Notifier,
    deploy_event,
    pagerduty_change,
    pagerduty_trigger,
    rollback_event,
    slack_payload,
)

NOW = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
KEY = "R0UTINGKEY0123456789abcdef012345"


class RecordingSession:
    """Stands in for requests.Session: records posts, answers with a status."""

    def __init__(self, status: int = 202, error: Exception | None = None) -> None:
        self.posts: list[tuple[str, bytes]] = []
        self.status, self.error = status, error

    def post(self, url: str, data: bytes, timeout: float, headers: dict[str, str]) -> Any:
        self.posts.append((url, data))
        if self.error:
            raise self.error
        status = self.status
        return type("Response", (), {"status_code": status, "text": "nope" if status >= 300 else ""})()


def test_trigger_event_has_the_v2_shape() -> None:
    event = rollback_event("production", reason="Error rate is 7.1% (> 5% for 5m)", automatic=True,
                           version="1.4.2")
    body = pagerduty_trigger(event, KEY, "retail-agentic/production", NOW)
    assert body["routing_key"] == KEY and body["event_action"] == "trigger"
    assert body["payload"]["severity"] == "critical"
    assert body["payload"]["summary"] == "Automatic rollback of production: Error rate is 7.1% (> 5% for 5m)"
    assert body["payload"]["source"] == "retail-agentic/production"
    assert body["payload"]["custom_details"]["version"] == "1.4.2"
    assert body["dedup_key"] == "retail-deploy/production/rollback"


def test_change_event_has_the_v2_shape() -> None:
    body = pagerduty_change(deploy_event("staging", "1.4.2"), KEY, "retail-agentic/staging", NOW)
    assert set(body) == {"routing_key", "payload"}  # change events have no event_action
    assert body["payload"]["summary"] == "staging: deployed version 1.4.2"
    assert body["payload"]["timestamp"] == "2026-11-26T05:00:00+00:00"
    assert body["payload"]["custom_details"] == {"environment": "staging", "kind": "deploy", "automatic": False,
                                                 "version": "1.4.2"}


def test_slack_text_names_what_and_where() -> None:
    text = slack_payload(rollback_event("production", reason="p95 latency", automatic=True))["text"]
    assert text.startswith(":rotating_light: *Automatic rollback of production: p95 latency*")
    assert "• environment: production" in text


def notifier(environ: dict[str, str], session: RecordingSession, said: list[str]) -> Notifier:
    settings = NotificationSettings(pagerduty_url="http://127.0.0.1:9/pd")
    return Notifier(settings, platform="retail-agentic", environ=environ, say=said.append, session=session)


def test_automatic_rollback_pages_and_posts_to_alerts() -> None:
    session, said = RecordingSession(), []
    environ = {"PAGERDUTY_ROUTING_KEY": KEY, "SLACK_WEBHOOK_URL": "http://127.0.0.1:9/alerts-hook",
               "SLACK_MONITORING_WEBHOOK_URL": "http://127.0.0.1:9/monitoring-hook"}
    deliveries = notifier(environ, session, said).send(rollback_event("production", reason="r", automatic=True))
    assert [url for url, _ in session.posts] == ["http://127.0.0.1:9/pd/v2/change/enqueue",
                                                 "http://127.0.0.1:9/pd/v2/enqueue",
                                                 "http://127.0.0.1:9/alerts-hook"]
    assert all(d.ok for d in deliveries)


def test_deploy_goes_to_monitoring_channel_without_paging() -> None:
    session, said = RecordingSession(), []
    environ = {"PAGERDUTY_ROUTING_KEY": KEY, "SLACK_WEBHOOK_URL": "http://127.0.0.1:9/alerts-hook",
               "SLACK_MONITORING_WEBHOOK_URL": "http://127.0.0.1:9/monitoring-hook"}
    notifier(environ, session, said).send(deploy_event("production", "1.4.2"))
    assert [url for url, _ in session.posts] == ["http://127.0.0.1:9/pd/v2/change/enqueue",
                                                 "http://127.0.0.1:9/monitoring-hook"]


def test_missing_variables_skip_with_a_message_naming_them() -> None:
    session, said = RecordingSession(), []
    deliveries = notifier({}, session, said).send(deploy_event("staging", "1.0.0"))
    assert session.posts == []
    assert [d.ok for d in deliveries] == [False, False]
    assert said == ["notification to PagerDuty skipped: $PAGERDUTY_ROUTING_KEY is not set",
                    "notification to Slack #alerts skipped: $SLACK_WEBHOOK_URL is not set"]


def test_failures_are_reported_never_raised_and_never_show_the_url() -> None:
    import requests

    hook = "https://hooks.slack.test/services/T000/B000/XXXXSECRETXXXX"
    session = RecordingSession(error=requests.ConnectionError(f"Max retries exceeded with url: {hook}"))
    said: list[str] = []
    environ = {"SLACK_WEBHOOK_URL": hook, "PAGERDUTY_ROUTING_KEY": KEY}
    deliveries = notifier(environ, session, said).send(rollback_event("production", reason="r", automatic=True))
    assert [d.ok for d in deliveries] == [False, False, False]
    assert said[-1] == "could not notify Slack #alerts (URL/key from $SLACK_WEBHOOK_URL): ConnectionError"
    assert not any(hook in line or KEY in line for line in said)


def test_http_error_status_is_a_failed_delivery() -> None:
    said: list[str] = []
    deliveries = notifier({"SLACK_WEBHOOK_URL": "http://127.0.0.1:9/h"}, RecordingSession(status=500), said).send(
        deploy_event("staging", "1.0.0"))
    assert deliveries[-1].ok is False and deliveries[-1].detail == "HTTP 500 nope"
