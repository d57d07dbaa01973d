"""Pure deploy plans: facts in, steps out."""

import pytest

from retail_deploy.commands.kubectl import Kube
from retail_deploy.errors import OperationFailed
from retail_deploy.kube.settings import BlueGreen, HelmSettings, KubeEnv, ServiceTarget
from retail_deploy.kube.strategies import AFTER_SWITCH, BEFORE_SWITCH, VERIFIED
from retail_deploy.kube.strategies.blue_green import plan_blue_green, plan_idle_down, plan_switch_back
from retail_deploy.kube.strategies.rolling import plan_rolling, plan_undo
from retail_deploy.kube.strategies.staging import plan_helm

REG = "registry.example.com"
SERVICES = tuple(ServiceTarget(n, d, d, f"{REG}/{d}", d, d, d) for n, d in [
    ("backend", "retail-backend"), ("consumer-web", "retail-consumer-web"), ("admin-web", "retail-admin-web")])
BG = BlueGreen("retail-backend", "deployment", {"blue": "retail-backend-blue", "green": "retail-backend-green"},
               "backend", verification_period_s=300, scale_down_delay_s=30)


def env(**kw) -> KubeEnv:
    base = {"name": "production", "kube": Kube("retail-production", "production"), "method": "kubectl",
                "strategy": "blue-green", "services": SERVICES, "urls": {}, "blue_green": BG}
    base.update(kw)
    return KubeEnv(**base)


def lines(plan):
    return [s.command.display() for s in plan.steps if s.command]


def test_staging_kubectl_is_the_runbooks_three_set_image_commands_then_rollout_status():
    staging = env(name="staging", kube=Kube("retail-staging", "staging"), strategy="rolling", blue_green=None)
    plan = plan_rolling(staging, SERVICES, "1.2.3", {})
    assert [c for c in lines(plan) if " set image " in c] == [
        f"kubectl set image deployment/{d} {d}={REG}/{d}:1.2.3 --namespace staging --context retail-staging "
        "--request-timeout=30s" for d in ("retail-backend", "retail-consumer-web", "retail-admin-web")]
    assert plan.kinds() == ["set-image"] * 3 + ["rollout-status"] * 3 + ["health"]


def test_image_already_set_is_detected_and_starts_no_rollout():
    plan = plan_rolling(env(strategy="rolling"), SERVICES[:1], "1.2.3",
                        {"retail-backend": f"{REG}/retail-backend:1.2.3"})
    step = plan.steps[0]
    assert step.kind == "set-image" and step.unchanged
    assert "already runs" in step.text


def test_helm_plan_per_release_with_per_service_values():
    staging = env(name="staging", kube=Kube("retail-staging", "staging"), method="helm", blue_green=None,
                  helm=HelmSettings("deploy/helm", "values-staging.yaml", "10m", {},
                                    {"backend": {"environment": "staging"}}))
    plan = plan_helm(staging, SERVICES, "1.2.3")
    assert lines(plan)[0] == (
        "helm upgrade --install retail-backend ./deploy/helm/retail-backend --namespace staging "
        "--kube-context retail-staging --set image.tag=1.2.3 --set environment=staging "
        "-f deploy/helm/values-staging.yaml --atomic --wait --timeout 10m")
    assert "environment=staging" not in lines(plan)[1]  # as in the runbook: only the backend gets it
    assert len(lines(plan)) == 3


def test_blue_green_goes_to_the_idle_colour_in_the_runbooks_order():
    plan = plan_blue_green(env(), SERVICES[:1], "1.2.3", active="blue",
                           replicas={"retail-backend-blue": 3, "retail-backend-green": 3},
                           current={"retail-backend-blue": f"{REG}/retail-backend:1.2.2"}, verification_s=300)
    assert (plan.active_colour, plan.idle_colour) == ("blue", "green")
    assert plan.kinds() == ["set-image", "rollout-status", "smoke", "switch", "health", "watch", "wait", "scale"]
    assert lines(plan)[0].startswith(f"kubectl set image deployment/retail-backend-green "
                                     f"retail-backend={REG}/retail-backend:1.2.3")
    assert '{"spec":{"selector":{"deployment":"green"}}}' in lines(plan)[2]
    assert lines(plan)[-1].startswith("kubectl scale deployment retail-backend-blue --replicas=0")
    phases = {s.kind: s.phase for s in plan.steps}
    assert phases["smoke"] == BEFORE_SWITCH and phases["switch"] == AFTER_SWITCH and phases["scale"] == VERIFIED
    assert plan.previous == {"backend": f"{REG}/retail-backend:1.2.2"}


def test_blue_green_sets_the_new_image_before_scaling_a_scaled_down_idle_colour_up():
    """Scaled up first, the idle colour would start pods of its old image against production data."""
    plan = plan_blue_green(env(), SERVICES[:1], "1.2.3", active="green",
                           replicas={"retail-backend-green": 4, "retail-backend-blue": 0}, current={},
                           verification_s=0)
    assert plan.kinds()[:3] == ["set-image", "scale", "rollout-status"]
    assert plan.steps[0].command.argv[3:5] == ("deployment/retail-backend-blue", f"retail-backend={REG}/retail-backend:1.2.3")
    assert plan.steps[1].command.argv[3:5] == ("retail-backend-blue", "--replicas=4")


def test_idle_colour_goes_back_down_to_zero_after_a_failed_attempt():
    [step] = plan_idle_down(env(), "green")
    assert step.kind == "scale" and step.deployment == "retail-backend-green"
    assert step.command.display() == ("kubectl scale deployment retail-backend-green --replicas=0 "
                                      "--namespace production --context retail-production --request-timeout=30s")


def test_blue_green_rolls_the_front_ends_after_the_switch():
    plan = plan_blue_green(env(), SERVICES, "1.2.3", active="blue", replicas={"retail-backend-blue": 3,
                           "retail-backend-green": 3}, current={}, verification_s=60)
    switch = plan.kinds().index("switch")
    fronts = [i for i, s in enumerate(plan.steps) if s.deployment == "retail-consumer-web"]
    assert fronts and min(fronts) > switch
    assert all(plan.steps[i].phase == AFTER_SWITCH for i in fronts)


def test_blue_green_refuses_a_selector_on_neither_colour():
    with pytest.raises(OperationFailed, match="neither of blue, green"):
        plan_blue_green(env(), SERVICES, "1.2.3", active="purple", replicas={}, current={}, verification_s=0)


def test_switch_back_scales_up_only_when_needed():
    assert [s.kind for s in plan_switch_back(env(), "blue", 3, 3)] == ["switch", "health"]
    steps = plan_switch_back(env(), "blue", 0, 3)
    assert [s.kind for s in steps] == ["scale", "rollout-status", "switch", "health"]
    assert '{"deployment":"blue"}' in steps[2].command.display()


def test_undo_plan():
    steps = plan_undo(env(), [("backend", "retail-backend")], 5)
    assert [s.command.argv[1:5] for s in steps] == [
        ("rollout", "undo", "deployment/retail-backend", "--to-revision=5"),
        ("rollout", "status", "deployment/retail-backend", "--timeout=300s")]
