"""Runbook chapter 6, monitoring: rollback triggers, the metrics table and the Prometheus rule
file from one set of definitions, the Prometheus HTTP client, `monitor.check`/`watch`, and
the alert channels (Slack, PagerDuty) (docs/architecture.md, "Chapters").
"""
