"""Runbook chapter 1, "Build Artifacts": the configured build steps, Docker images through
the SDK (input digest, build, tag, push) and read-only questions to the registry
(docs/architecture.md, "Chapters").
"""
