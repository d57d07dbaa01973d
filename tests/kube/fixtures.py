"""pytest fixtures for scenarios on the real control plane (scripts/kube-up.sh).

Use from a test module or conftest with `pytest_plugins = ["tests.kube.fixtures"]`.

- `kube_control_plane` (session): the running control plane: `RETAIL_DEPLOY_TEST_KUBECONFIG` when
  scripts/test.sh started it, else started here through scripts/kube-up.sh (reuses a running one).
  When it cannot start, tests using it skip, except in CI (CI=true), where that is a failure.
- `real_cluster`: a fresh pair of namespaces (`rd-<id>-staging`, `rd-<id>-production`) seeded with
  the retail platform at 1.0.0, a per-test kubeconfig whose contexts `retail-staging` and
  `retail-production` point at them (KUBECONFIG set), the recording kubectl/helm wrappers first on
  PATH. The namespaces are deleted afterwards.
- `real_cluster_http`: the stand-in data plane (tests/kube/dataplane.py) on that cluster.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.kube.api import KubeAPI
from tests.kube.cluster import RealCluster
from tests.kube.dataplane import ClusterHTTP
from tests.services import unavailable

REPO = Path(__file__).resolve().parents[2]
WRAPPERS = Path(__file__).resolve().parent / "bin"
CONTEXTS = {"staging": "retail-staging", "production": "retail-production"}


@dataclass(frozen=True)
class ControlPlane:
    kubeconfig: Path  # admin
    tools: Path  # the real kubectl and helm
    api: KubeAPI


def start_control_plane() -> Path:
    """The admin kubeconfig of a running control plane, started by scripts/kube-up.sh if needed."""
    given = os.environ.get("RETAIL_DEPLOY_TEST_KUBECONFIG")
    if given:
        return Path(given)
    result = subprocess.run(["bash", str(REPO / "scripts" / "kube-up.sh")], cwd=REPO, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=3600)
    last = (result.stdout.strip().splitlines() or [""])[-1]
    if result.returncode != 0 or not last.startswith("KUBECONFIG="):
        raise RuntimeError(f"scripts/kube-up.sh failed (exit {result.returncode}): {result.stderr.strip()[-800:]}")
    return Path(last.split("=", 1)[1])


@pytest.fixture(scope="session")
def kube_control_plane() -> ControlPlane:
    try:
        kubeconfig = start_control_plane()
        api = KubeAPI(kubeconfig)
        api.list("nodes")
    except Exception as exc:  # fails under CI=true, skips elsewhere
        unavailable(f"the real Kubernetes control plane (scripts/kube-up.sh): {exc}")
    return ControlPlane(kubeconfig, kubeconfig.parent / "bin", api)


def test_kubeconfig(admin: Path, dest: Path, namespaces: dict[str, str]) -> Path:
    """A copy of the admin kubeconfig whose contexts `retail-staging`/`retail-production` point at
    the test's namespaces (what the test config's environments name), current context admin."""
    config = yaml.safe_load(admin.read_text())
    base = next(c for c in config["contexts"] if c["name"] == config["current-context"])["context"]
    contexts = [{"name": "admin", "context": dict(base, namespace="default")}]
    for logical, name in CONTEXTS.items():
        contexts.append({"name": name, "context": dict(base, namespace=namespaces[logical])})
    config["contexts"] = contexts
    config["current-context"] = "admin"
    dest.write_text(yaml.safe_dump(config, sort_keys=False))
    dest.chmod(0o600)
    return dest


test_kubeconfig.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture
def real_cluster(kube_control_plane: ControlPlane, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[RealCluster]:
    cp = kube_control_plane
    test_id = uuid.uuid4().hex[:6]
    namespaces = {logical: f"rd-{test_id}-{logical}" for logical in CONTEXTS}
    kubeconfig = test_kubeconfig(cp.kubeconfig, tmp_path / "kubeconfig", namespaces)
    calls = tmp_path / "kube-calls"
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("RETAIL_DEPLOY_TEST_KUBE_CALLS", str(calls))
    monkeypatch.setenv("RETAIL_DEPLOY_TEST_KUBE_TOOLS", f"{cp.tools}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("PATH", f"{WRAPPERS}{os.pathsep}{os.environ.get('PATH', '')}")
    cluster = RealCluster(cp.api, namespaces, calls, WRAPPERS, kubeconfig, CONTEXTS)
    try:
        cluster.retail_platform(version="1.0.0")
        yield cluster
    finally:
        cluster.cleanup()
        for ns in namespaces.values():
            cp.api.delete("namespaces", None, ns)  # the namespace controller finishes it in the background


@pytest.fixture
def real_cluster_http(real_cluster: RealCluster) -> Iterator[ClusterHTTP]:
    with ClusterHTTP(real_cluster) as http:
        yield http
