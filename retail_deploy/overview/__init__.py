"""The overview chapter: `status`, what runs where (docs/architecture.md, "Chapters").

`status.py` gathers every fact of an environment in one concurrent pass through the target seam,
the health checks and the monitor, and decides healthy / unhealthy / could not find out in pure
code; `render.py` turns the result into the table, the change lines of `--watch`, and the
verdict's exit code.
"""
