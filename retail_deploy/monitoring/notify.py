"""Notifications per the runbook's alert channels: Slack incoming webhooks and PagerDuty Events v2.

| event                     | severity | PagerDuty                      | Slack                         |
|---------------------------|----------|--------------------------------|-------------------------------|
| deploy succeeded          | info     | change event                   | #monitoring (else #alerts)    |
| deploy failed             | warning  | change event                   | #alerts                       |
| rollback (by a person)    | warning  | change event                   | #alerts                       |
| automatic rollback        | critical | change event + trigger event   | #alerts                       |

Webhook URLs and routing keys come from environment variables NAMED in the config's
`notifications:` section; they are registered as secrets and never printed (messages name
the variable instead). A failed notification is reported through `say` and returned as a
failed `Delivery`: it is never raised, so it can never stop or undo a rollback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from retail_deploy import redact
from retail_deploy.commands import cmd
from retail_deploy.errors import InputError

if TYPE_CHECKING:
    import requests

    from retail_deploy.config import PlatformConfig
    from retail_deploy.execute import Runner
    from retail_deploy.yamlnode import Node

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com"
_SECTION_KEYS = frozenset({"enabled", "timeout", "source", "slack", "pagerduty"})
_SLACK_KEYS = frozenset({"alerts_webhook_env", "monitoring_webhook_env"})
_PAGERDUTY_KEYS = frozenset({"routing_key_env", "events_url"})


@dataclass(frozen=True)
class NotificationSettings:
    enabled: bool = True
    timeout_s: float = 5.0
    source: str | None = None  # PagerDuty payload.source; default "<platform>/<environment>"
    slack_alerts_env: str | None = "SLACK_WEBHOOK_URL"
    slack_monitoring_env: str | None = "SLACK_MONITORING_WEBHOOK_URL"
    pagerduty_key_env: str | None = "PAGERDUTY_ROUTING_KEY"
    pagerduty_url: str = PAGERDUTY_EVENTS_URL


def parse_notifications(node: Node) -> NotificationSettings:
    """Settings from the config's top-level `notifications:` section (names of env variables)."""
    node.unknown_keys(_SECTION_KEYS)
    slack, pagerduty = node.section("slack"), node.section("pagerduty")
    slack.unknown_keys(_SLACK_KEYS)
    pagerduty.unknown_keys(_PAGERDUTY_KEYS)
    defaults = NotificationSettings()
    return NotificationSettings(
        enabled=node.bool("enabled", True),
        timeout_s=node.duration("timeout", "5s"),
        source=node.str("source", None) or None,
        slack_alerts_env=slack.str("alerts_webhook_env", defaults.slack_alerts_env) or None,
        slack_monitoring_env=slack.str("monitoring_webhook_env", defaults.slack_monitoring_env) or None,
        pagerduty_key_env=pagerduty.str("routing_key_env", defaults.pagerduty_key_env) or None,
        pagerduty_url=(pagerduty.str("events_url", PAGERDUTY_EVENTS_URL) or PAGERDUTY_EVENTS_URL).rstrip("/"),
    )


@dataclass(frozen=True)
class Event:
    """What happened, independent of the channel."""

    kind: str  # "deploy" | "rollback"
    environment: str
    summary: str
    severity: str  # "info" | "warning" | "critical"
    automatic: bool = False
    version: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    detail: str


# -- pure payload builders ------------------------------------------------------------------------

_ICON = {"info": ":white_check_mark:", "warning": ":warning:", "critical": ":rotating_light:"}


def slack_payload(event: Event) -> dict[str, Any]:
    """Slack incoming-webhook body (mrkdwn text; details as a short list)."""
    lines = [f"{_ICON.get(event.severity, '')} *{event.summary}*".strip()]
    facts = {"environment": event.environment, "version": event.version, **dict(event.details)}
    lines += [f"• {key}: {value}" for key, value in facts.items() if value not in (None, "")]
    return {"text": "\n".join(lines)}


def pagerduty_change(event: Event, routing_key: str, source: str, now: datetime) -> dict[str, Any]:
    """Events API v2 change event (POST /v2/change/enqueue): shown on the service's timeline."""
    details = {"environment": event.environment, "kind": event.kind, "automatic": event.automatic}
    if event.version:
        details["version"] = event.version
    details.update(event.details)
    return {
        "routing_key": routing_key,
        "payload": {
            "summary": event.summary[:1024],
            "timestamp": now.isoformat(timespec="seconds"),
            "source": source,
            "custom_details": details,
        },
    }


def pagerduty_trigger(event: Event, routing_key: str, source: str, now: datetime) -> dict[str, Any]:
    """Events API v2 trigger (POST /v2/enqueue): pages the on-call engineer."""
    details = {"environment": event.environment, "version": event.version, **dict(event.details)}
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        # One incident per environment and kind: a second breach of the same watch adds to it.
        "dedup_key": f"retail-deploy/{event.environment}/{event.kind}",
        "payload": {
            "summary": event.summary[:1024],
            "source": source,
            "severity": event.severity,
            "timestamp": now.isoformat(timespec="seconds"),
            "group": event.environment,
            "class": "automatic-rollback" if event.automatic else event.kind,
            "custom_details": {k: v for k, v in details.items() if v is not None},
        },
        "client": "retail-deploy",
    }


def deploy_event(environment: str, version: str, *, succeeded: bool = True,
                 details: Mapping[str, Any] | None = None) -> Event:
    verb = "deployed" if succeeded else "deploy FAILED"
    return Event("deploy", environment, f"{environment}: {verb} version {version}",
                 "info" if succeeded else "warning", version=version, details=dict(details or {}))


def rollback_event(environment: str, *, reason: str, automatic: bool, version: str | None = None,
                   details: Mapping[str, Any] | None = None) -> Event:
    who = "Automatic rollback" if automatic else "Rollback"
    return Event("rollback", environment, f"{who} of {environment}: {reason}",
                 "critical" if automatic else "warning", automatic=automatic, version=version,
                 details=dict(details or {}))


# -- sending --------------------------------------------------------------------------------------

class Notifier:
    """Sends events to the configured channels; never raises."""

    def __init__(self, settings: NotificationSettings, *, platform: str = "retail-platform",
                 environ: Mapping[str, str] | None = None, say: Callable[[str], None] = print,
                 runner: Runner | None = None, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.platform = platform
        self.environ = os.environ if environ is None else environ
        self.say = say
        self.runner = runner  # a retail_deploy.execute.Runner: dry run prints instead of sending
        self._session = session
        for name in (settings.slack_alerts_env, settings.slack_monitoring_env, settings.pagerduty_key_env):
            if name:
                redact.register(self.environ.get(name))

    def _secret(self, name: str | None) -> str | None:
        return (self.environ.get(name) or None) if name else None

    def send(self, event: Event) -> list[Delivery]:
        if not self.settings.enabled:
            return []
        now = datetime.now(UTC)
        source = self.settings.source or f"{self.platform}/{event.environment}"
        deliveries: list[Delivery] = []
        key_env = self.settings.pagerduty_key_env
        key = self._secret(key_env)
        if key_env and key:
            base = self.settings.pagerduty_url
            deliveries.append(self._post("PagerDuty change event", f"{base}/v2/change/enqueue",
                                         pagerduty_change(event, key, source, now), key_env, key))
            if event.automatic and event.severity == "critical":
                deliveries.append(self._post("PagerDuty trigger", f"{base}/v2/enqueue",
                                             pagerduty_trigger(event, key, source, now), key_env, key))
        elif key_env:
            deliveries.append(self._skipped("PagerDuty", key_env))
        channel, webhook_env = self._slack_route(event)
        webhook = self._secret(webhook_env)
        if webhook_env and webhook:
            deliveries.append(self._post(f"Slack {channel}", webhook, slack_payload(event), webhook_env, webhook))
        elif webhook_env:
            deliveries.append(self._skipped(f"Slack {channel}", webhook_env))
        return deliveries

    def _slack_route(self, event: Event) -> tuple[str, str | None]:
        monitoring = self.settings.slack_monitoring_env
        if event.severity == "info" and monitoring and self._secret(monitoring):
            return "#monitoring", monitoring
        return "#alerts", self.settings.slack_alerts_env

    def _skipped(self, channel: str, env_name: str) -> Delivery:
        delivery = Delivery(channel, False, f"not sent: ${env_name} is not set")
        self.say(f"notification to {channel} skipped: ${env_name} is not set")
        return delivery

    def _post(self, channel: str, url: str, body: dict[str, Any], secret_env: str, secret: str) -> Delivery:
        text = json.dumps(body, sort_keys=True)
        equivalent = cmd("curl", "-fsS", "-X", "POST", "-H", "Content-Type: application/json",
                         "--data", text, url, secrets={secret})
        if self.runner is not None:
            result = self.runner.action(equivalent, self._deliver, channel, url, text, secret_env)
            if getattr(self.runner, "dry", False) or not isinstance(result, Delivery):
                return Delivery(channel, True, "dry run: not sent")
            return result
        return self._deliver(channel, url, text, secret_env)

    def _deliver(self, channel: str, url: str, text: str, secret_env: str) -> Delivery:
        try:
            import requests

            if self._session is None:
                self._session = requests.Session()
            response = self._session.post(url, data=text.encode(), timeout=self.settings.timeout_s,
                                          headers={"Content-Type": "application/json"})
            if 200 <= response.status_code < 300:
                self.say(f"notified {channel}")
                return Delivery(channel, True, f"HTTP {response.status_code}")
            reason = f"HTTP {response.status_code} {redact.redact(response.text[:200]).strip()}".strip()
        except Exception as error:  # noqa: BLE001 - a notification must never break a rollback
            # The exception text of requests names the URL (the secret): report only its kind.
            reason = type(error).__name__
        self.say(f"could not notify {channel} (URL/key from ${secret_env}): {reason}")
        return Delivery(channel, False, reason)


def settings_from_config(cfg: PlatformConfig) -> NotificationSettings:
    return parse_notifications(cfg.section("notifications"))


def notifier(cfg: PlatformConfig, *, say: Callable[[str], None] = print, runner: Runner | None = None,
             environ: Mapping[str, str] | None = None) -> Notifier:
    """The Notifier described by a platform config's `notifications:` section."""
    return Notifier(settings_from_config(cfg), platform=cfg.platform, environ=environ,
                    say=say, runner=runner)



def notify_deploy(cfg: PlatformConfig, environment: str, version: str, *, succeeded: bool = True,
                  details: Mapping[str, Any] | None = None, say: Callable[[str], None] = print,
                  runner: Runner | None = None) -> list[Delivery]:
    """Change event (+ Slack) for a deploy; never raises."""
    return _send(cfg, deploy_event(environment, version, succeeded=succeeded, details=details), say, runner)


def notify_rollback(cfg: PlatformConfig, environment: str, *, reason: str, automatic: bool,
                    version: str | None = None, details: Mapping[str, Any] | None = None,
                    say: Callable[[str], None] = print, runner: Runner | None = None) -> list[Delivery]:
    """Change event (+ a critical trigger when automatic) and Slack #alerts for a rollback; never raises."""
    event = rollback_event(environment, reason=reason, automatic=automatic, version=version, details=details)
    return _send(cfg, event, say, runner)


def _send(cfg: PlatformConfig, event: Event, say: Callable[[str], None], runner: Runner | None) -> list[Delivery]:
    try:
        sender = notifier(cfg, say=say, runner=runner)
    except InputError as error:  # a bad notifications section must not break a deploy or rollback
        say(f"notifications not sent: {error}")
        return []
    return sender.send(event)
