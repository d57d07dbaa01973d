"""The read-only tasks on the REAL control plane: troubleshooting, `verify.staging`, `ops.status`.

`get`, `describe` (with the events kwok writes as a kubelet would), `rollout history`, the health
and version checks through the stand-in data plane, and the pods' logs (kwok answers the kubelet
API; what goes through it in depth, logs, exec, top, port-forward: test_kube_real_kubelet.py).
Not here: cert-manager's Certificates (`troubleshoot.certs`) are not installed; the doubles' tests
cover that analysis.
"""

from __future__ import annotations

import pytest

from tests.integration.kube_support import inv
from tests.kube.cluster import REGISTRY

pytestmark = [pytest.mark.integration, pytest.mark.kube]


@pytest.fixture
def platform(real_platform):
    return real_platform


def stall_staging_backend(platform) -> str:
    """Start a rollout whose new pod runs but never becomes Ready (as a failing readiness probe)."""
    platform.cluster.set_image("staging", "retail-backend", f"{REGISTRY}/retail-backend:1.1.0-never-ready")
    stuck: list[str] = []

    def started() -> bool:
        stuck[:] = [p["metadata"]["name"] for p in platform.cluster.pods("staging", {"app": "retail-backend"})
                    if p["spec"]["containers"][0]["image"].endswith("never-ready") and p["status"].get("podIP")]
        return bool(stuck)

    platform.cluster.wait_until(started, "the never-ready pod", 30)
    return stuck[0]


def test_crashloop_names_the_failing_readiness_probe_from_the_real_describe(platform, tmp_path):
    pod = stall_staging_backend(platform)
    report = tmp_path / "crashloop.txt"
    result = inv(platform, "troubleshoot.crashloop", "--env", "staging", "--service", "backend",
                 "--output", str(report))
    assert result.returncode == 0, result.stderr
    assert f"Likely cause: health probe failing: readiness probe failing on {pod}" in result.stdout
    assert "Readiness probe failed" in result.stdout  # the event, through the real `kubectl describe pod`
    text = report.read_text()
    assert "describe pod " + pod in text
    assert not platform.mutations()


def test_errors_reads_the_real_rollout_history(platform, tmp_path):
    report = tmp_path / "errors.txt"
    result = inv(platform, "troubleshoot.errors", "--env", "staging", "--service", "backend",
                 "--output", str(report))
    # kwok answers `kubectl logs`: every piece of evidence was read, so "no known cause" is earned.
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Could not read" not in result.stdout
    text = report.read_text()
    assert "REVISION" in text and "CHANGE-CAUSE" in text  # kubectl rollout history, for real
    assert "Started retail-backend in" in text  # the pods' logs, through kwok's kubelet API


def test_verify_staging_on_a_healthy_and_on_a_stalled_rollout(platform):
    healthy = inv(platform, "verify.staging", "--version", "1.0.0")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    stall_staging_backend(platform)
    stalled = inv(platform, "verify.staging")
    assert stalled.returncode == 1
    assert "pods retail-backend, rollout retail-backend" in stalled.stderr
    assert "NotReady" in stalled.stdout


def test_ops_status_lists_the_real_objects(platform):
    result = inv(platform, "ops.status", "--env", "production")
    assert result.returncode == 0, result.stderr
    for name in ("deployment.apps/retail-backend-blue", "deployment.apps/retail-backend-green",
                 "service/retail-backend", "replicaset.apps/retail-backend-blue-"):
        assert name in result.stdout
    assert not platform.mutations()
