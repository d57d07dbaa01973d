"""pytest fixtures for scenario tests against the doubles.

Use them from a test module (or a conftest) with
`pytest_plugins = ["tests.doubles.fixtures"]`, or import the names you need.

- `fake_cluster`: the retail platform seeded at 1.0.0, `FAKE_KUBE_STATE` and `PATH` set (doubles first),
  fast fault timings (rollout/helm waits capped at 0.2 s).
- `cluster_http`: a ClusterHTTP on that cluster, closed after the test.
- `platform_config_file`: the repository's config/retail-platform.yaml rewritten so staging and production
  URLs (and the blue/green colour URLs) point at `cluster_http`; `RETAIL_DEPLOY_CONFIG` is set to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.doubles.cluster import ClusterHTTP, FakeCluster

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "retail-platform.yaml"


def platform_config(http: ClusterHTTP, dest: Path, source: Path = REPO_CONFIG,
                    environments: tuple[str, ...] = ("staging", "production")) -> Path:
    """Write a copy of the platform config whose Kubernetes environments' URLs reach `http`.

    Each `urls` entry maps to the Service named like the service's `deployment` (else its `image`);
    `blue_green.colour_urls` map to the colour deployments. Relative `migrations.directory` is made
    absolute so the copy can live anywhere.
    """
    import yaml

    data: dict[str, Any] = yaml.safe_load(source.read_text())
    services = data.get("services") or {}
    for env_name in environments:
        env = (data.get("environments") or {}).get(env_name)
        if not env:
            continue
        ns = env.get("namespace", env_name)
        urls = env.setdefault("urls", {})
        for name in list(urls) or list(services):
            svc = services.get(name) or {}
            workload = svc.get("deployment") or svc.get("image") or name
            urls[name] = http.service_url(ns, workload)
        bg = env.get("blue_green")
        if bg and bg.get("deployments"):
            bg["colour_urls"] = {colour: http.deployment_url(ns, dep) for colour, dep in bg["deployments"].items()}
    migrations = data.get("migrations")
    if isinstance(migrations, dict) and migrations.get("directory"):
        directory = Path(migrations["directory"])
        if not directory.is_absolute():
            migrations["directory"] = str((source.parent / directory).resolve())
    dest.write_text(yaml.safe_dump(data, sort_keys=False))
    return dest


@pytest.fixture
def fake_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    cluster = FakeCluster(tmp_path / "kube-state.json").retail_platform(version="1.0.0")
    cluster.set_setting("rollout_wait_cap", 0.2).set_setting("helm_wait_cap", 0.2)
    monkeypatch.setenv("FAKE_KUBE_STATE", str(cluster.path))
    monkeypatch.setenv("PATH", cluster.path_env())
    return cluster


@pytest.fixture
def cluster_http(fake_cluster: FakeCluster) -> Iterator[ClusterHTTP]:
    with ClusterHTTP(fake_cluster) as http:
        yield http


@pytest.fixture
def platform_config_file(cluster_http: ClusterHTTP, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = platform_config(cluster_http, tmp_path / "retail-platform.yaml")
    monkeypatch.setenv("RETAIL_DEPLOY_CONFIG", str(path))
    return path
