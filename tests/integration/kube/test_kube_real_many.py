"""Many services on the REAL control plane (tests/kube/many.py): 12 services deploy to staging and
to production blue-green (4 of them switched per release, every one with a version endpoint)
through the CLI, exit 0, and the API state is the release's; the reads do not grow per service
(one list per kind, one poll loop for the rollouts, no `rollout status` or `get deployment a b c`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kube import many
from tests.kube.dataplane import ClusterHTTP

pytestmark = [pytest.mark.integration, pytest.mark.kube]

REPO = Path(__file__).resolve().parents[3]
N, BLUE_GREEN = 12, 4


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RETAIL_DEPLOY_CONFIG=str(config), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "retail_deploy", *args], cwd=REPO, env=env, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=600)


def test_twelve_services_deploy_to_staging_and_blue_green_with_flat_reads(real_cluster, tmp_path):
    cluster = real_cluster
    with ClusterHTTP(cluster) as http:
        many.seed(cluster, N, BLUE_GREEN)
        config = many.config(cluster, http, tmp_path / "many.yaml", N, BLUE_GREEN)
        names = many.names(N)

        staged = cli(config, "deploy.staging", "--version", "1.1.0", "--yes")
        assert staged.returncode == 0, staged.stdout + staged.stderr
        assert {n: cluster.image("staging", n) for n in names} == {
            n: f"{many.REGISTRY}/{n}:1.1.0" for n in names}
        assert all(cluster.rolled_out("staging", n) for n in names)
        # one line per service, no per-service request
        assert all(f"{n} rolled out" in staged.stdout for n in names), staged.stdout
        kubectl = cluster.commands("kubectl")
        assert not [a for a in kubectl if "rollout" in a and "status" in a]
        assert not [a for a in kubectl if a[1:3] == ["get", "deployment"] and len(a) > 3 and not a[3].startswith("-")]
        assert len([a for a in kubectl if "set" in a and "image" in a]) == N
        reads = [a for a in kubectl if a[1] == "get"]
        assert len(reads) < 20, reads  # plan, read-back, polls, verify: not per service

        produced = cli(config, "deploy.production", "--version", "1.1.0", "--yes", "--force", "many-services test")
        assert produced.returncode == 0, produced.stdout + produced.stderr
        assert "switch traffic" not in produced.stdout and "switch s04 to green" in produced.stdout
        for name in names[:BLUE_GREEN]:  # switched together, the old colour scaled down
            assert cluster.selector("production", name) == {"app": name, "deployment": "green"}
            assert cluster.image("production", f"{name}-green") == f"{many.REGISTRY}/{name}:1.1.0"
            assert cluster.replicas("production", f"{name}-green") == 1
            assert cluster.replicas("production", f"{name}-blue") == 0
        for name in names[BLUE_GREEN:]:
            assert cluster.image("production", name) == f"{many.REGISTRY}/{name}:1.1.0"
        for name in names:  # every versioned service answers the release (checked once rolled)
            assert http_version(http, name) == "1.1.0"


def http_version(http: ClusterHTTP, name: str) -> str | None:
    from retail_deploy.health.verification import served_version

    return served_version(http.service_url("production", name))
