"""Runbook chapters 3 and 5, health: concurrent HTTP endpoint checks, the smoke-test suite,
dependency health through the actuator, and the checks a deploy runs after acting
(docs/architecture.md, "Chapters").
"""
