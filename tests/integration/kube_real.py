"""The Kubernetes scenario tests' `Platform`, on the real control plane (scripts/kube-up.sh)
instead of the kubectl/helm doubles: the same attributes and helpers (`cluster`, `http`, `urls`,
`config`, `env`, `out`, `cfg()`, `runner()`, `served_version()`, `selector()`, `mutations()`,
`commands_with()`), so a scenario body runs unchanged on either. The cluster is
`tests.kube.cluster.RealCluster` (the test's own namespaces), the HTTP endpoints the stand-in
data plane `tests.kube.dataplane.ClusterHTTP`.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import yaml

from tests.integration.kube_support import CONFIG, SERVICES, Platform, flow
from tests.kube.cluster import RealCluster
from tests.kube.dataplane import ClusterHTTP

# Real rollouts take real time (the controllers, the scheduler and kwok on a loaded machine): the
# doubles' 3 s would fail healthy rollouts. A stalled rollout costs this much per test.
ROLLOUT_TIMEOUT = os.environ.get("RETAIL_DEPLOY_TEST_KUBE_ROLLOUT_TIMEOUT", "30s")


class RealPlatform(Platform):
    """A real cluster's namespaces + the stand-in data plane + a config file naming both."""

    def __init__(self, cluster: RealCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *,
                 staging_method: str = "kubectl", verification: str = "1s"):
        self.cluster = cluster  # type: ignore[assignment]
        self.http = ClusterHTTP(cluster)  # type: ignore[assignment]
        staging = {svc: self.http.service_url("staging", dep) for svc, dep in SERVICES.items()}
        production = {svc: self.http.service_url("production", dep) for svc, dep in SERVICES.items()}
        self.urls = {"staging": staging, "production": production}
        data = yaml.safe_load(CONFIG.format(
            staging_method=staging_method, staging_urls=flow(staging), production_urls=flow(production),
            colour_urls=flow(self.http.colour_urls("production")), verification=verification))
        for name, env in data["environments"].items():
            env["namespace"] = cluster.ns(name)  # the test's own; contexts keep their names
            env["rollout_timeout"] = ROLLOUT_TIMEOUT
        self.config = tmp_path / "retail-platform.yaml"
        self.config.write_text(yaml.safe_dump(data, sort_keys=False))
        monkeypatch.setenv("RETAIL_DEPLOY_CONFIG", str(self.config))
        self.env = dict(os.environ)
        self.out = io.StringIO()
