"""kubectl/helm argv builders: every command pins context, namespace and a request timeout."""

import pytest

from retail_deploy.commands import helm, kubectl
from retail_deploy.commands.kubectl import Kube

STAGING = Kube("retail-staging", "staging")
PROD = Kube("retail-production", "production", "20s")


def test_set_image_matches_the_runbook_plus_context():
    command = kubectl.set_image(STAGING, "retail-backend", "retail-backend",
                                "registry.example.com/retail-backend:1.2.3")
    assert command.display() == (
        "kubectl set image deployment/retail-backend "
        "retail-backend=registry.example.com/retail-backend:1.2.3 "
        "--namespace staging --context retail-staging --request-timeout=30s")
    assert not command.read_only


def test_patch_selector_is_the_runbooks_json_patch_shell_quoted():
    command = kubectl.patch_selector(PROD, "retail-backend", "deployment", "green")
    assert command.display() == (
        "kubectl patch service retail-backend -p '{\"spec\":{\"selector\":{\"deployment\":\"green\"}}}' "
        "--namespace production --context retail-production --request-timeout=20s")


def test_rollout_status_always_has_a_timeout_and_never_watch_false():
    command = kubectl.rollout_status(PROD, "retail-backend-green", 300)
    assert command.argv[:4] == ("kubectl", "rollout", "status", "deployment/retail-backend-green")
    assert "--timeout=300s" in command.argv
    assert "--watch=false" not in command.argv
    # the request timeout must not cut the watch short
    assert "--request-timeout=300s" in command.argv
    assert command.timeout is not None and command.timeout > 300


def test_rollout_undo_to_revision():
    assert kubectl.rollout_undo(PROD, "retail-backend", 5).argv[:5] == (
        "kubectl", "rollout", "undo", "deployment/retail-backend", "--to-revision=5")
    assert "--to-revision" not in " ".join(kubectl.rollout_undo(PROD, "retail-backend").argv)


def test_no_context_means_no_context_flag():
    command = kubectl.scale(Kube(None, "dev"), "web", 0)
    assert "--context" not in command.argv
    assert command.argv[-3:] == ("--namespace", "dev", "--request-timeout=30s")


def test_lock_takeover_patch_carries_the_resource_version():
    command = kubectl.merge_patch_configmap(PROD, "retail-deploy-lock", {"holder": "bob"}, "918")
    assert command.argv[:6] == ("kubectl", "patch", "configmap", "retail-deploy-lock", "--type", "merge")
    assert command.argv[7] == '{"data":{"holder":"bob"},"metadata":{"resourceVersion":"918"}}'


def test_lock_takeover_replace_is_a_compare_and_swap_on_the_resource_version():
    import json

    command = kubectl.replace_configmap(PROD, "retail-deploy-lock", {"holder": "bob"}, "918")
    assert command.argv[:4] == ("kubectl", "replace", "-f", "-")
    manifest = json.loads(command.stdin)
    assert manifest["metadata"] == {"name": "retail-deploy-lock", "namespace": "production", "resourceVersion": "918"}
    assert manifest["data"] == {"holder": "bob"}


def test_probes_are_read_only_and_json():
    command = kubectl.get_json(PROD, "pods", selector="app=retail-backend")
    assert command.read_only
    assert command.argv[:6] == ("kubectl", "get", "pods", "-l", "app=retail-backend", "-o")


def test_helm_upgrade_matches_the_runbook_with_safety_flags():
    command = helm.upgrade_install("retail-backend", "./deploy/helm/retail-backend", namespace="staging",
                                   context="retail-staging",
                                   values={"image.tag": "1.2.3", "environment": "staging"},
                                   values_files=["deploy/helm/values-staging.yaml"], timeout="5m")
    assert command.display() == (
        "helm upgrade --install retail-backend ./deploy/helm/retail-backend --namespace staging "
        "--kube-context retail-staging --set image.tag=1.2.3 --set environment=staging "
        "-f deploy/helm/values-staging.yaml --atomic --wait --timeout 5m")


def test_helm_recovery_commands():
    assert helm.rollback("retail-backend", 7, namespace="staging", context="c").argv[:4] == (
        "helm", "rollback", "retail-backend", "7")
    assert helm.uninstall("r", namespace="staging", context=None).display() == "helm uninstall r --namespace staging"


def test_helm_is_never_killed_before_its_own_timeout_and_atomic_rollback():
    # The runner's default limit is 600 s; with staging's `timeout: 10m` it killed helm exactly when
    # --atomic was about to roll back, leaving the release pending-upgrade.
    from retail_deploy.execute import DEFAULT_TIMEOUT

    upgrade = helm.upgrade_install("r", "./c", namespace="staging", context="c", values={}, timeout="600s")
    assert upgrade.timeout is not None and upgrade.timeout > 2 * 600 > DEFAULT_TIMEOUT
    rollback = helm.rollback("r", namespace="staging", context="c", timeout="15m")
    assert rollback.timeout is not None and rollback.timeout > 900
    for probe in (helm.status_json("r", namespace="s", context="c"), helm.history_json("r", namespace="s", context="c")):
        assert probe.timeout is not None and probe.timeout <= 60


# --- troubleshooting reads and remedies: the same dialect, the configured request timeout ---------

PINS = ("--namespace", "production", "--context", "retail-production", "--request-timeout=20s")


def test_diagnostic_reads_are_read_only_and_pinned_like_every_kubectl_command():
    assert kubectl.describe_pod(PROD, "retail-backend-abc").argv == (
        "kubectl", "describe", "pod", "retail-backend-abc", *PINS)
    assert kubectl.logs(PROD, pod="retail-backend-abc", previous=True, tail=200).argv == (
        "kubectl", "logs", "retail-backend-abc", "--previous", "--tail=200", *PINS)
    assert kubectl.logs(PROD, "app=retail-backend", 500, prefix=True).argv == (
        "kubectl", "logs", "-l", "app=retail-backend", "--tail=500", "--prefix", *PINS)
    assert kubectl.top_pods(PROD).argv == ("kubectl", "top", "pods", *PINS)
    for command in (kubectl.describe_pod(PROD, "p"), kubectl.top_pods(PROD), kubectl.describe_certificate(PROD, "c"),
                    kubectl.logs(PROD, pod="p")):
        assert command.read_only


def test_exec_in_a_pod_has_no_tty_and_pins_before_the_programs_argv():
    command = kubectl.actuator_health(PROD, "retail-backend", "mongo")
    assert command.argv == ("kubectl", "exec", "deploy/retail-backend", *PINS, "--", "curl", "-sf",
                            "localhost:8080/actuator/health/mongo")
    assert "-it" not in command.argv and command.read_only


def test_database_uri_is_expanded_inside_the_pod_not_here():
    command = kubectl.mongo_ping(PROD, "retail-backend")
    assert command.argv[-4:] == ("--", "sh", "-c",
                                 'mongosh "$MONGODB_URI" --quiet --eval "JSON.stringify(db.stats())"')
    assert kubectl.redis_ping(PROD, "retail-backend").argv[-1] == 'redis-cli -u "$REDIS_URL" ping'


def test_certificate_reissue_is_an_action_not_a_probe():
    command = kubectl.delete_certificate(PROD, "api-example-com")
    assert command.argv == ("kubectl", "delete", "certificate", "api-example-com", *PINS)
    assert not command.read_only


def test_logs_needs_one_of_pod_or_selector():
    with pytest.raises(ValueError):
        kubectl.logs(PROD)
    with pytest.raises(ValueError):
        kubectl.logs(PROD, "app=x", pod="p")
