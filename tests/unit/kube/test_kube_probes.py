"""Probe parsers against recorded real-format kubectl/helm JSON (tests/fixtures/kube)."""

from pathlib import Path

import pytest

from retail_deploy.errors import OperationFailed
from retail_deploy.kube import probes

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kube"


def load(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_deployment_image_replicas_revision():
    dep = probes.parse_deployment(load("deployment-green.json"))
    assert dep.name == "retail-backend-green"
    assert dep.image("retail-backend") == "registry.example.com/retail-backend:1.4.1"
    assert (dep.replicas, dep.ready, dep.revision) == (3, 3, 4)
    assert dep.complete and not dep.progress_deadline_exceeded
    assert dep.since == "2026-11-20T10:02:11Z"  # the Progressing condition's last update: what `status` shows


def test_deployment_progress_deadline_exceeded():
    dep = probes.parse_deployment(load("deployment-deadline.json"))
    assert dep.progress_deadline_exceeded
    assert not dep.complete


@pytest.mark.parametrize("image,tag", [
    ("registry.example.com/retail-backend:1.4.2", "1.4.2"),
    ("127.0.0.1:5000/retail-backend:1.4.2-rc.1", "1.4.2-rc.1"),
    ("127.0.0.1:5000/retail-backend", "latest"),
    ("retail-backend@sha256:abc", "sha256:abc"),
])
def test_image_tag(image, tag):
    assert probes.image_tag(image) == tag


def test_active_colour_from_service_selector():
    selector = probes.parse_selector(load("service-retail-backend.json"))
    assert selector == {"app": "retail-backend", "deployment": "blue"}
    colours = {"blue": "retail-backend-blue", "green": "retail-backend-green"}
    assert probes.active_colour(selector, "deployment", colours) == "blue"
    # a selector naming the deployment instead of the colour is understood too
    assert probes.active_colour({"deployment": "retail-backend-green"}, "deployment", colours) == "green"
    assert probes.active_colour({"app": "retail-backend"}, "deployment", colours) is None


def test_revisions_only_of_the_owning_deployment_in_order():
    revisions = probes.parse_revisions(load("replicasets-retail-backend.json"), "retail-backend")
    assert [r.revision for r in revisions] == [5, 6, 7]
    assert revisions[0].images == {"retail-backend": "registry.example.com/retail-backend:1.4.0"}
    assert revisions[0].change_cause == "deploy 1.4.0"
    assert revisions[-1].replicas == 3


def test_pods_crashloop_and_oomkilled():
    pods = probes.parse_pods(load("pods-retail-backend.json"))
    assert [p.problem for p in pods] == ["", "CrashLoopBackOff"]
    assert pods[1].restarts == 5 and pods[1].last_terminated_reason == "OOMKilled"


def test_configmap_data_and_resource_version():
    data, version = probes.parse_configmap(load("configmap-lock.json"))
    assert data["holder"] == "alice@ci-runner-3 (pid 4242)" and version == "920011"


def test_helm_pending_release_and_recovery_command():
    release = probes.parse_helm_status(load("helm-status-pending.json"))
    assert release.pending and release.status == "pending-upgrade" and release.revision == 8
    history = probes.parse_helm_history(load("helm-history.json"))
    fix = probes.pending_recovery(release, history, "staging", "retail-staging")
    # roll back to the newest good revision (7), not the failed one (6) nor the pending one (8)
    assert fix.display() == ("helm rollback retail-backend 7 --namespace staging --kube-context retail-staging "
                             "--wait --timeout 5m")
    assert not probes.parse_helm_status(load("helm-status-deployed.json")).pending


def test_pending_install_is_recovered_by_uninstall():
    release = probes.HelmRelease("retail-backend", "pending-install", 1, "Initial install underway")
    fix = probes.pending_recovery(release, [probes.HelmRevision(1, "pending-install", "1.0", "")], "staging", None)
    assert fix.argv[:3] == ("helm", "uninstall", "retail-backend")


def test_garbage_is_a_clear_error():
    with pytest.raises(OperationFailed, match="could not parse deployment"):
        probes.parse_deployment("error: You must be logged in")


def test_a_pending_upgrade_without_a_good_revision_is_never_recovered_by_uninstall():
    # Revision 1 failed (its pods may still serve), 2 is stuck upgrading: `helm uninstall` would
    # delete the running workloads; roll back to 1 instead.
    release = probes.HelmRelease("retail-backend", "pending-upgrade", 2, "Upgrade in progress")
    history = [probes.HelmRevision(1, "failed", "1.0", ""), probes.HelmRevision(2, "pending-upgrade", "1.1", "")]
    fix = probes.pending_recovery(release, history, "production", "retail-production")
    assert fix.argv[:4] == ("helm", "rollback", "retail-backend", "1")
