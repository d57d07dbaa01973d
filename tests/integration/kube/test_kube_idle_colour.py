"""Idle-colour hygiene and honest messages of a blue-green deploy, on the REAL control plane
(scripts/kube-up.sh; `real_platform`, the FakeCluster API over the real cluster).

The idle colour gets its new image before it scales up, goes back down after any attempt that did
not end with traffic on it, verification reads only the serving colour, and the messages say what
happened to traffic and which versions serve. (Verification reading only the serving colour's
logs: test_kube_real_kubelet.py.)"""

from __future__ import annotations

import pytest

from retail_deploy.errors import RolledBack
from retail_deploy.kube import deployer
from retail_deploy.targets import history
from tests.integration.kube_support import Platform

pytestmark = [pytest.mark.integration, pytest.mark.kube]

IMAGE = "registry.example.com/retail-backend:{}"


@pytest.fixture
def platform(real_platform):
    return real_platform


def deploy(p: Platform, version: str, **kw):
    cfg = p.cfg()
    return deployer.deploy(p.runner(), cfg, cfg.environment("production"), version, **kw)


def mutation_index(p: Platform, *words: str) -> int:
    mutations = [" ".join(argv) for argv in p.mutations()]
    return next(i for i, m in enumerate(mutations) if all(w in m for w in words))


def test_the_idle_colour_gets_its_new_image_before_it_scales_up(platform):
    deploy(platform, "1.1.0", services=["backend"])
    set_image = mutation_index(platform, "set image", "deployment/retail-backend-green")
    scale_up = mutation_index(platform, "scale deployment", "retail-backend-green", "--replicas=3")
    assert set_image < scale_up
    platform.cluster.wait_rolled_out("production", "retail-backend-green")
    green = platform.cluster.pods("production", {"deployment": "green"})
    assert len(green) == 3 and {p["spec"]["containers"][0]["image"] for p in green} == {IMAGE.format("1.1.0")}


@pytest.mark.parametrize("fault,where", [
    ("bad_image", "before the switch"),        # smoke tests fail on green
    ("rollout_timeout", "before the switch"),  # green never becomes ready
    ("patch_refused", "at the switch"),        # the selector patch is refused
    ("front_end", "after the switch"),         # a front end's rollout fails after the switch
])
def test_after_a_failed_attempt_only_the_old_colour_runs(platform, fault, where):
    if fault == "bad_image":
        platform.cluster.inject("bad_image", IMAGE.format("1.1.0"))
    elif fault == "rollout_timeout":
        platform.cluster.inject("rollout_timeout", "retail-backend-green")
    elif fault == "patch_refused":
        platform.cluster.inject("patch_refused", "retail-backend", namespace="production")
    else:
        platform.cluster.inject("rollout_timeout", "retail-consumer-web", namespace="production")
    with pytest.raises(RolledBack) as info:
        deploy(platform, "1.1.0")
    message = str(info.value)
    assert f"failed {where} (" in message
    assert platform.selector() == "blue" and platform.served_version() == "1.0.0"
    assert platform.cluster.replicas("production", "retail-backend-blue") == 3
    assert platform.cluster.replicas("production", "retail-backend-green") == 0
    # Scaled to 0 is the deploy's part; the pods' termination is the cluster's (seconds under load).
    platform.cluster.wait_until(lambda: not platform.cluster.pods("production", {"deployment": "green"}),
                                "the green pods terminated", 20)
    assert "green scaled back down to 0" in message
    if where == "after the switch":
        assert "switched traffic back to blue" in message and "never left" not in message
    else:
        assert "traffic never left blue" in message and "switched traffic back" not in message
    assert message.endswith("traffic is on blue (retail-backend-blue), healthy, serving backend 1.0.0, "
                            "consumer-web 1.0.0, admin-web 1.0.0"), message
    assert platform.cluster.configmap("production", history.LOCK_NAME) is None


def test_a_refused_selector_patch_is_quoted_whole(platform):
    platform.cluster.inject("patch_refused", "retail-backend", namespace="production")
    with pytest.raises(RolledBack) as info:
        deploy(platform, "1.1.0", services=["backend"])
    message = str(info.value)
    # the kubectl error ends with the namespace: it is not cut mid-word
    namespace = platform.cluster.ns("production")
    assert f'cannot patch resource "services" in API group "" in the namespace "{namespace}"' in message, message
    assert "after the switch" not in message


def test_the_next_deploy_after_a_failed_attempt_still_works(platform):
    platform.cluster.inject("bad_image", IMAGE.format("1.1.0"))
    with pytest.raises(RolledBack):
        deploy(platform, "1.1.0", services=["backend"])
    outcome = deploy(platform, "1.1.1", services=["backend"])
    assert outcome.colour == "green" and platform.served_version() == "1.1.1"
    assert platform.cluster.replicas("production", "retail-backend-green") == 3


