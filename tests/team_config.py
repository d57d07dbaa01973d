"""Another team's platform config (services `catalog` and `checkout`, one Docker environment `dev`),
for the tests that check nothing of the retail platform is baked into the tasks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("catalog", "checkout")

# A stand-in service: busybox httpd answering /api/v1/version with the version it was built as.
DOCKERFILE = """\
FROM busybox:1.36
ARG APP_VERSION=
RUN mkdir -p /www/api/v1 && echo ok > /www/index.html \\
 && printf '{"version":"%s"}\\n' "$APP_VERSION" > /www/api/v1/version
CMD ["sh", "-c", "exec httpd -f -p 127.0.0.1:$PORT -h /www"]
"""


def write_team(root: Path, ports: dict[str, int], *, prefix: str = "", registry: str = "") -> Path:
    """`root/team.yaml` plus a source directory with a Dockerfile per service; returns the config."""
    services = {}
    for name in SERVICES:
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "Dockerfile").write_text(DOCKERFILE)
        services[name] = {"image": f"{prefix}{name}", "deployment": name, "source_dir": name,
                          "port": ports[name], "health": [{"path": "/api/v1/version"}],
                          "version_path": "/api/v1/version"}
    data = {
        "version": 1, "platform": "shop", "source_root": str(root),
        "registry": {"host": registry},
        "services": services,
        "environments": {"dev": {
            "target": "docker",
            "docker": {"host": "local", "network": "host", "health_timeout": "10s", "name_prefix": prefix},
            "urls": {name: f"http://127.0.0.1:{ports[name]}" for name in SERVICES},
        }},
    }
    config = root / "team.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def run_cli(config: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m retail_deploy ARGS` with RETAIL_DEPLOY_CONFIG naming the team's file."""
    environ = {**os.environ, "PYTHONPATH": str(REPO), "RETAIL_DEPLOY_CONFIG": str(config), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "retail_deploy", *args], cwd=cwd or config.parent, env=environ,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
