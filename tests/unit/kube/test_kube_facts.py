"""The deployer's facts: the image of the container we set, not whichever container is first."""

import json
from types import SimpleNamespace

from retail_deploy.commands.kubectl import Kube
from retail_deploy.kube import deployer
from retail_deploy.kube.settings import KubeEnv, ServiceTarget

TARGET = ServiceTarget("backend", "retail-backend", "retail-backend", "r/retail-backend", "retail-backend",
                       "retail-backend", "retail-backend")
ENV = KubeEnv("staging", Kube("retail-staging", "staging"), "kubectl", "rolling", (TARGET,), {})


class Cluster:
    """Answers `kubectl get deployment ... -o json` with a deployment whose sidecar comes first."""

    dry = False

    def probe(self, command):
        assert command.argv[:2] == ("kubectl", "get")
        item = {"metadata": {"name": "retail-backend", "generation": 2},
                "spec": {"replicas": 2, "template": {"spec": {"containers": [
                    {"name": "istio-proxy", "image": "istio/proxyv2:1.20"},
                    {"name": "retail-backend", "image": "r/retail-backend:1.0.0"}]}}},
                "status": {"observedGeneration": 2}}
        return SimpleNamespace(stdout=json.dumps({"kind": "List", "items": [item]}), ok=True)

    def say(self, text):
        pass


def test_a_sidecar_listed_first_is_not_taken_for_the_current_version():
    plan = deployer.make_plan(Cluster(), ENV, [TARGET], "1.1.0", "rolling", "kubectl")
    # Before: previous was the sidecar's image, so a failed rollout was never undone (the probe
    # found that "previous" image still present and concluded nothing had changed).
    assert plan.previous == {"backend": "r/retail-backend:1.0.0"}
    set_image = plan.steps[0]
    assert set_image.kind == "set-image" and not set_image.unchanged


def test_the_image_already_set_on_our_container_is_detected():
    plan = deployer.make_plan(Cluster(), ENV, [TARGET], "1.0.0", "rolling", "kubectl")
    assert plan.steps[0].unchanged and "no rollout needed" in plan.steps[0].text


def test_the_deploy_lock_outlives_the_longest_production_deploy():
    # Production blue-green: up to 10m per rollout wait, 10m verification, 10m scale-down delay.
    # The lock expired after kube.lock_ttl (30m) while such a deploy was still running, and is
    # not renewed: a second deploy could take it over and run beside the first.
    from retail_deploy.config import load_config
    from retail_deploy.kube.settings import kube_env

    cfg = load_config()
    prod = kube_env(cfg, cfg.environment("production"))
    ttl = deployer.lock_ttl_s(prod, list(prod.services), "blue-green", "kubectl")
    worst = 4 * prod.rollout_timeout_s + 600 + 600  # idle + two front ends + a switch-back, verify, delay
    assert ttl > worst > prod.lock_ttl_s
    staging = kube_env(cfg, cfg.environment("staging"))
    assert deployer.lock_ttl_s(staging, list(staging.services), "rolling", "helm") > 3 * 600  # 10m per upgrade
    assert deployer.lock_ttl_s(ENV, [TARGET], "rolling", "kubectl") == ENV.lock_ttl_s  # short deploys keep it
