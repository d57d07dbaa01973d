"""The Kubernetes scenarios against a REAL cluster (opt-in).

Set RETAIL_DEPLOY_E2E_CONTEXT to a kube context whose cluster can run the images built from
tests/e2e/kube/Dockerfile as registry.example.com/retail-backend:{1.0.0,1.1.0,9.9.9-broken}
and whose NodePorts 30080-30082 reach 127.0.0.1 (tests/e2e/kube/kind.yaml does both on kind;
see .github/workflows/e2e-kind.yml). Each test gets a fresh namespace, deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

CONTEXT = os.environ.get("RETAIL_DEPLOY_E2E_CONTEXT")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CONTEXT, reason="limit of this machine: no container can run here, so no pod runs "
                                           "the tests/e2e/kube image and no NodePort serves it (the project's "
                                           "control plane simulates nodes with kwok; README); set "
                                           "RETAIL_DEPLOY_E2E_CONTEXT to a full cluster's context (e.g. kind)"),
]

HERE = Path(__file__).resolve().parent / "kube"
BASE = "http://127.0.0.1:{}"

CONFIG = """\
version: 1
registry: {{host: registry.example.com, username_env: REGISTRY_USERNAME, password_env: REGISTRY_PASSWORD}}
services:
  backend:
    image: retail-backend
    health:
      - {{path: /api/v1/health, expect_json: {{status: UP}}}}
    version_path: /api/v1/version
environments:
  production:
    target: kubernetes
    kube_context: {context}
    namespace: {namespace}
    strategy: blue-green
    rollout_timeout: 45s
    require_runtime_env: false
    urls: {{backend: "http://127.0.0.1:30080"}}
    blue_green:
      service: backend
      service_name: retail-backend
      deployments: {{blue: retail-backend-blue, green: retail-backend-green}}
      colour_urls: {{blue: "http://127.0.0.1:30081", green: "http://127.0.0.1:30082"}}
      verification_period: 3s
      scale_down_delay: 0s
"""


def kubectl(*args: str, namespace: str | None = None, check: bool = True) -> str:
    argv = ["kubectl", "--context", CONTEXT or "", *args]
    if namespace:
        argv += ["--namespace", namespace]
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=180).stdout


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    namespace = f"retail-e2e-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    try:
        kubectl("apply", "-f", str(HERE / "platform.yaml"), namespace=namespace)
        kubectl("rollout", "status", "deployment/retail-backend-blue", "--timeout=120s", namespace=namespace)
        config = tmp_path / "e2e.yaml"
        config.write_text(CONFIG.format(context=CONTEXT, namespace=namespace))
        monkeypatch.setenv("RETAIL_DEPLOY_CONFIG", str(config))
        _wait_version("1.0.0")
        yield namespace
    finally:
        kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=180s", check=False)


def _wait_version(version: str, port: int = 30080, seconds: float = 60) -> None:
    from retail_deploy.health.verification import served_version

    deadline = time.monotonic() + seconds
    while served_version(BASE.format(port)) != version:
        if time.monotonic() > deadline:
            pytest.fail(f"port {port} never served {version}")
        time.sleep(1)


def setup():
    from invoke import Context

    from retail_deploy.config import load_config
    from retail_deploy.execute import Runner

    cfg = load_config()
    return Runner(Context()), cfg, cfg.environment("production")


def selector(namespace: str) -> str:
    return kubectl("get", "service", "retail-backend", "-o", "jsonpath={.spec.selector.deployment}",
                   namespace=namespace)


def test_blue_green_switches_and_scales_down(cluster):
    from retail_deploy.kube import deployer

    runner, cfg, env = setup()
    outcome = deployer.deploy(runner, cfg, env, "1.1.0")
    assert outcome.colour == "green" and selector(cluster) == "green"
    _wait_version("1.1.0")
    assert kubectl("get", "deployment", "retail-backend-blue", "-o", "jsonpath={.spec.replicas}",
                   namespace=cluster) == "0"


def test_smoke_failure_keeps_traffic_on_blue(cluster):
    from retail_deploy.errors import RolledBack
    from retail_deploy.kube import deployer

    runner, cfg, env = setup()
    with pytest.raises(RolledBack, match="before the switch"):
        deployer.deploy(runner, cfg, env, "9.9.9-broken")
    assert selector(cluster) == "blue"
    _wait_version("1.0.0")


def test_rolling_rollout_failure_is_undone(cluster):
    from retail_deploy.errors import RolledBack
    from retail_deploy.kube import deployer

    runner, cfg, env = setup()
    with pytest.raises(RolledBack):
        deployer.deploy(runner, cfg, env, "does-not-exist", strategy="rolling")  # ImagePullBackOff
    image = kubectl("get", "deployment", "retail-backend-blue", "-o",
                    "jsonpath={.spec.template.spec.containers[0].image}", namespace=cluster)
    assert image.endswith(":1.0.0")
    _wait_version("1.0.0")


def test_image_already_set_starts_no_rollout(cluster):
    from retail_deploy.kube import deployer

    runner, cfg, env = setup()
    before = kubectl("get", "deployment", "retail-backend-blue", "-o", "jsonpath={.metadata.generation}",
                     namespace=cluster)
    deployer.deploy(runner, cfg, env, "1.0.0", strategy="rolling")
    after = kubectl("get", "deployment", "retail-backend-blue", "-o", "jsonpath={.metadata.generation}",
                    namespace=cluster)
    assert before == after


def test_interrupt_after_the_switch_puts_traffic_back(cluster, monkeypatch):
    from retail_deploy.kube import deployer

    original = deployer.Deploy.do

    def interrupt_after_switch(self, step, plan):
        original(self, step, plan)
        if step.kind == "switch":
            raise KeyboardInterrupt

    monkeypatch.setattr(deployer.Deploy, "do", interrupt_after_switch)
    runner, cfg, env = setup()
    with pytest.raises(deployer.Interrupted, match="traffic is on blue"):
        deployer.deploy(runner, cfg, env, "1.1.0")
    assert selector(cluster) == "blue"


def test_two_deploys_race_for_the_lock(cluster):
    from retail_deploy.errors import LockHeld
    from retail_deploy.kube.settings import kube_env
    from retail_deploy.targets import history

    runner, cfg, env = setup()
    kube = kube_env(cfg, env).kube
    results: list[str] = []

    def take(name: str) -> None:
        try:
            history.acquire(runner, kube, env_name="production", version="1", strategy="x", ttl_s=60, holder=name)
            results.append("won")
        except LockHeld:
            results.append("lost")

    threads = [threading.Thread(target=take, args=(f"d{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost", "lost", "won"]
