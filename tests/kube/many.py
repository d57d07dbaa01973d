"""A platform of N services on the real control plane, for the many-services integration test and
benchmarks/scale.py: staging runs N Deployments `sNN` (Service `sNN` each); production runs the
first `blue_green` of them as blue/green pairs `sNN-blue`/`sNN-green` behind Service `sNN`
(selecting blue; green scaled to 0), the rest as plain Deployments. The config file names them
(`blue_green.services`: colours named after each deployment) and reaches the stand-in
data plane (tests/kube/dataplane.py) for health and version checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.kube.cluster import RealCluster
from tests.kube.dataplane import ClusterHTTP

REGISTRY = "registry.example.com"
CONTAINER = "app"


def names(n: int) -> list[str]:
    return [f"s{i:02}" for i in range(1, n + 1)]


def seed(cluster: RealCluster, n: int, blue_green: int, version: str = "1.0.0", replicas: int = 1) -> None:
    """The N services, all rolled out at `version` (created together, waited for together)."""
    for ns in ("staging", "production"):
        cluster.add_namespace(ns)
    bg = set(names(n)[:blue_green])
    for ns in ("staging", "production"):
        for name in names(n):
            labels = {"app": name}
            if ns == "production" and name in bg:
                for colour, count in (("blue", replicas), ("green", 0)):
                    cluster.add_deployment(ns, f"{name}-{colour}", CONTAINER, f"{REGISTRY}/{name}:{version}", count,
                                           {"app": name, "deployment": colour}, wait=False)
                cluster.add_service(ns, name, {"app": name, "deployment": "blue"})
            else:
                cluster.add_deployment(ns, name, CONTAINER, f"{REGISTRY}/{name}:{version}", replicas, labels,
                                       wait=False)
                cluster.add_service(ns, name, labels)
    for ns in ("staging", "production"):
        for dep in cluster.api.list("deployments", cluster.ns(ns)):
            cluster.wait_rolled_out(ns, dep["metadata"]["name"], timeout=300)


def config(cluster: RealCluster, http: ClusterHTTP, dest: Path, n: int, blue_green: int, *,
           rollout_timeout: str = "120s", verification: str = "1s") -> Path:
    """The platform config of the N services (staging rolling via kubectl, production blue-green)."""
    services: dict[str, Any] = {
        name: {"image": name, "container": CONTAINER, "health": [{"path": "/health", "expect_status": 200}],
               "version_path": "/api/v1/version"}
        for name in names(n)}
    envs: dict[str, Any] = {}
    for env in ("staging", "production"):
        envs[env] = {
            "target": "kubernetes", "kube_context": f"retail-{env}", "namespace": cluster.ns(env),
            "method": "kubectl", "strategy": "rolling" if env == "staging" else "blue-green",
            "rollout_timeout": rollout_timeout, "require_runtime_env": False,
            "urls": {name: http.service_url(env, name) for name in names(n)},
            "kube": {"log_tail": 0},  # the scan has its own tests (test_kube_real_kubelet.py): none here
        }
    envs["production"]["confirm"] = True
    # the first with the URLs the smoke suite reaches each colour at; the others by the naming rule
    members: dict[str, Any] = dict.fromkeys(names(n)[:blue_green])
    first = names(n)[0]
    members[first] = {"colour_urls": {c: http.deployment_url("production", f"{first}-{c}") for c in ("blue", "green")}}
    envs["production"]["blue_green"] = {"services": members, "selector_key": "deployment",
                                        "verification_period": verification, "scale_down_delay": "0s"}
    data = {"version": 1, "platform": "many-services",
            "registry": {"host": REGISTRY, "username_env": "REGISTRY_USERNAME", "password_env": "REGISTRY_PASSWORD"},
            "services": services, "environments": envs}
    dest.write_text(yaml.safe_dump(data, sort_keys=False))
    return dest
