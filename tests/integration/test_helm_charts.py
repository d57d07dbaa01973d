"""The example platform's Helm charts (examples/retail-platform/deploy/helm), checked by the real
`helm` binary (scripts/kube-up.sh puts it in .venv/bin): they lint clean, and they render the
objects the product relies on: a Deployment and a Service named after the release, the release
version as image tag, and the runbook's `--set environment=staging` / `-f values-staging.yaml`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.services import unavailable

pytestmark = pytest.mark.integration

CHART_DIR = Path(__file__).resolve().parents[2] / "examples" / "retail-platform" / "deploy" / "helm"
CHARTS = ("retail-backend", "retail-consumer-web", "retail-admin-web")


@pytest.fixture(scope="module")
def helm() -> str:
    path = shutil.which("helm")
    if path is None:
        unavailable("helm not on PATH (scripts/kube-up.sh puts the real one in .venv/bin)")
    assert path is not None
    return path


def _helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def _render(helm: str, chart: str, *args: str) -> dict[str, dict[str, Any]]:
    result = _helm(helm, "template", "rel", str(CHART_DIR / chart), *args)
    assert result.returncode == 0, result.stderr
    return {doc["kind"]: doc for doc in yaml.safe_load_all(result.stdout) if doc}


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_lints_clean_with_the_staging_values(helm: str, chart: str) -> None:
    result = _helm(helm, "lint", "--strict", str(CHART_DIR / chart),
                   "-f", str(CHART_DIR / "values-staging.yaml"), "--set", "image.tag=1.4.2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_renders_the_release_version_under_the_release_name(helm: str, chart: str) -> None:
    objects = _render(helm, chart, "--set", "image.tag=1.4.2", "--set", "environment=staging",
                      "-f", str(CHART_DIR / "values-staging.yaml"))
    deployment, service = objects["Deployment"], objects["Service"]
    assert deployment["metadata"]["name"] == service["metadata"]["name"] == "rel"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].endswith(f"/{chart}:1.4.2")
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"APP_VERSION": "1.4.2", "ENVIRONMENT": "staging"}
    assert deployment["spec"]["replicas"] == 2
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_chart_refuses_a_release_without_a_version(helm: str) -> None:
    result = _helm(helm, "template", "rel", str(CHART_DIR / "retail-backend"))
    assert result.returncode != 0
    assert "image.tag is required" in result.stderr
