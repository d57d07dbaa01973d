"""Shared setup of the Kubernetes scenario tests: the stateful kubectl/helm doubles (branch
kubedouble, tests/doubles) seeded with the runbook's platform, HTTP endpoints answering from the
same state, and a platform config pointing at both.

The doubles live in tests/doubles; RETAIL_DEPLOY_KUBE_DOUBLES may name another copy. When they
are absent the scenario tests skip, except in CI (CI=true), where a missing double is a failure.
"""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOUBLES = Path(os.environ.get("RETAIL_DEPLOY_KUBE_DOUBLES", REPO / "tests" / "doubles"))


def load_doubles() -> Any:
    path = DOUBLES / "cluster.py"
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"kubectl/helm test doubles missing at {DOUBLES}")
        pytest.skip(f"kubectl/helm test doubles not present at {DOUBLES} (branch kubedouble)",
                    allow_module_level=True)
    spec = importlib.util.spec_from_file_location("kube_double_cluster", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SERVICES = {"backend": "retail-backend", "consumer-web": "retail-consumer-web", "admin-web": "retail-admin-web"}

CONFIG = """\
version: 1
platform: retail-agentic
registry: {{host: registry.example.com, username_env: REGISTRY_USERNAME, password_env: REGISTRY_PASSWORD}}
services:
  backend:
    image: retail-backend
    health:
      - {{path: /api/v1/health, expect_json: {{status: UP}}}}
      - {{path: /actuator/health, expect_json: {{status: UP}}}}
    version_path: /api/v1/version
    helm: {{release: retail-backend, chart: ./retail-backend}}
  consumer-web:
    image: retail-consumer-web
    health: [{{path: /, expect_status: 200}}]
    helm: {{release: retail-consumer-web, chart: ./retail-consumer-web}}
  admin-web:
    image: retail-admin-web
    health: [{{path: /, expect_status: 200}}]
    helm: {{release: retail-admin-web, chart: ./retail-admin-web}}
environments:
  staging:
    target: kubernetes
    kube_context: retail-staging
    namespace: staging
    method: {staging_method}
    strategy: rolling
    rollout_timeout: 3s
    require_runtime_env: false
    helm:
      chart_dir: deploy/helm
      values_file: values-staging.yaml
      timeout: 30s
      set: {{environment: staging}}
    urls: {staging_urls}
  production:
    target: kubernetes
    kube_context: retail-production
    namespace: production
    method: kubectl
    strategy: blue-green
    confirm: true
    rollout_timeout: 3s
    require_runtime_env: false
    urls: {production_urls}
    blue_green:
      service: backend
      service_name: retail-backend
      selector_key: deployment
      deployments: {{blue: retail-backend-blue, green: retail-backend-green}}
      colour_urls: {colour_urls}
      verification_period: {verification}
      scale_down_delay: 0s
"""


def flow(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in mapping.items()) + "}"


class Platform:
    """A fake cluster + HTTP endpoints + config file, and a Runner wired to them."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, version: str = "1.0.0",
                 staging_method: str = "kubectl", verification: str = "1s", green_replicas: int = 0):
        doubles = load_doubles()
        self.cluster = doubles.FakeCluster(tmp_path / "kube.json").retail_platform(
            version=version, green_replicas=green_replicas)
        self.cluster.set_setting("rollout_wait_cap", 1.0)
        self.http = doubles.ClusterHTTP(self.cluster)
        staging = {svc: self.http.service_url("staging", dep) for svc, dep in SERVICES.items()}
        production = {svc: self.http.service_url("production", dep) for svc, dep in SERVICES.items()}
        self.urls = {"staging": staging, "production": production}
        self.config = tmp_path / "retail-platform.yaml"
        self.config.write_text(CONFIG.format(
            staging_method=staging_method, staging_urls=flow(staging), production_urls=flow(production),
            colour_urls=flow(self.http.colour_urls("production")), verification=verification))
        self.env = self.cluster.env()
        monkeypatch.setenv("FAKE_KUBE_STATE", self.env["FAKE_KUBE_STATE"])
        monkeypatch.setenv("PATH", self.env["PATH"])
        monkeypatch.setenv("RETAIL_DEPLOY_CONFIG", str(self.config))
        self.out = io.StringIO()

    def close(self) -> None:
        self.http.close()

    def cfg(self) -> Any:
        from retail_deploy.config import load_config

        return load_config(self.config)

    def runner(self, dry: bool = False) -> Any:
        from invoke import Context

        from retail_deploy.execute import Runner

        return Runner(Context(), out=self.out, dry=dry)

    def served_version(self, env: str = "production") -> str | None:
        from retail_deploy.health.verification import served_version

        return served_version(self.urls[env]["backend"])

    def selector(self) -> str | None:
        return (self.cluster.selector("production", "retail-backend") or {}).get("deployment")

    def mutations(self) -> list[list[str]]:
        return self.cluster.mutations()

    def commands_with(self, *words: str) -> list[list[str]]:
        return [argv for argv in self.cluster.commands("kubectl") + self.cluster.commands("helm")
                if all(w in argv for w in words)]


def inv(p: Any, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`invoke ARGS` in a child process against the platform `p` (its env and config file)."""
    environ = dict(p.env, RETAIL_DEPLOY_CONFIG=str(p.config), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "invoke", "-r", str(REPO), *args], cwd=REPO, env=environ,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def race_for_the_lock(platform: Any, holders: list[str]) -> list[str]:
    """`history.acquire` from one thread per holder, all at once: the winners' names."""
    from retail_deploy.errors import LockHeld
    from retail_deploy.kube.settings import kube_env
    from retail_deploy.targets import history

    cfg = platform.cfg()
    kube = kube_env(cfg, cfg.environment("production")).kube
    results: list[str] = []
    barrier = threading.Barrier(len(holders))

    def race(name: str) -> None:
        barrier.wait()
        try:
            history.acquire(platform.runner(), kube, env_name="production", version="1", strategy="x",
                            ttl_s=600, holder=name)
            results.append(name)
        except LockHeld:
            results.append("")

    threads = [threading.Thread(target=race, args=(name,)) for name in holders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == len(holders)
    return [r for r in results if r]
