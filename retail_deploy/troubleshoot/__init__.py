"""Troubleshooting: the runbook's diagnostic commands, analysers of what they print, findings
and the report; remedies only with `--fix` (docs/architecture.md, "Chapters").
"""
