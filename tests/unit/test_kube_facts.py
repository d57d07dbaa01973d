"""The deployer's facts: the image of the container we set, not whichever container is first."""

import json
from types import SimpleNamespace

from retail_deploy import deployer
from retail_deploy.commands.kubectl import Kube
from retail_deploy.kube_settings import KubeEnv, ServiceTarget

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
