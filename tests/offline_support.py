"""An offline desk for the CLI: a kubeconfig whose contexts (the default config's `retail-staging`
and `retail-production`) point at a closed loopback port, no Prometheus, no registry. The real
kubectl then fails the way it does when the API server is down ("connection refused"), at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.services import free_port

REPO = Path(__file__).resolve().parents[1]
CONTEXTS = ("retail-staging", "retail-production")


def offline_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a CLI run with no cluster, Prometheus or registry answering."""
    port = free_port()  # bound and released: nothing listens there
    kubeconfig = tmp_path / "offline.kubeconfig"
    clusters = "".join(f"- name: {c}\n  cluster: {{server: 'https://127.0.0.1:{port}'}}\n" for c in CONTEXTS)
    contexts = "".join(f"- name: {c}\n  context: {{cluster: {c}, user: desk}}\n" for c in CONTEXTS)
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters:\n" + clusters + "contexts:\n" + contexts
                          + "users:\n- name: desk\n  user: {token: not-a-secret}\n")
    environ = {k: v for k, v in os.environ.items()
               if k not in ("RETAIL_DEPLOY_CONFIG", "PROMETHEUS_URL", "RETAIL_STAGING_CONTEXT",
                            "RETAIL_PRODUCTION_CONTEXT")}
    return {**environ, "KUBECONFIG": str(kubeconfig), "PYTHONPATH": str(REPO)}


def cli(environ: dict[str, str], *args: str, cwd: Path | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`retail-deploy ARGS` in a child process, no terminal."""
    return subprocess.run([sys.executable, "-m", "retail_deploy", *args], cwd=cwd or REPO, env=environ,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
