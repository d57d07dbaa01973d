"""The pre-deployment checklists: each item checked by machine where a machine can check, and
the gate that gathers the facts (git, registry, Prometheus, migrations, history)
(docs/architecture.md, "Chapters").
"""
