"""The public API (retail_deploy.api) on a Kubernetes environment, through the kubectl/helm doubles
(tests/doubles): the calls docs/library.md cannot run on its Docker-target platform (set_image,
wait_for_rollout, lock_status, history, a blue-green deploy, rollback to the previous release)."""

from __future__ import annotations

import io

import pytest

from retail_deploy import api
from retail_deploy.targets import history
from tests.integration.kube_support import Platform

pytestmark = pytest.mark.integration


def test_set_image_wait_verify_history_and_rollback_on_staging(platform: Platform) -> None:
    out = io.StringIO()
    changed = api.set_image(env="staging", service="backend", version="1.1.0", out=out)
    assert [(s.service, s.version, s.outcome, s.previous) for s in changed.services] == [
        ("backend", "1.1.0", "deployed", "1.0.0")]
    assert changed.target == "kubernetes" and changed.strategy == "rolling"
    assert platform.served_version("staging") == "1.1.0"
    # Only the backend's image changed.
    targets = [arg for argv in platform.commands_with("set", "image") for arg in argv if arg.startswith("deployment/")]
    assert targets == ["deployment/retail-backend"]

    rolled_out = api.wait_for_rollout(env="staging", timeout=5, out=out)
    assert [(c.check, c.target, c.ok) for c in rolled_out.checks] == [
        ("rollout", "retail-backend", True), ("rollout", "retail-consumer-web", True),
        ("rollout", "retail-admin-web", True)]

    record = api.history(env="staging")
    (entry,) = [e for e in record.entries if e.action == "deploy"]
    assert (entry.version, entry.result, entry.services) == ("1.1.0", "succeeded", ("backend",))

    back = api.rollback(env="staging", service="backend", out=out)
    # the same shape as on the Docker target: service names and the version restored
    assert [(s.service, s.version, s.outcome) for s in back.services] == [("backend", "1.0.0", "restored")]
    assert platform.served_version("staging") == "1.0.0"


def test_blue_green_deploy_and_its_dry_run_on_production(platform: Platform) -> None:
    out = io.StringIO()
    plan = api.deploy(env="production", version="1.1.0", dry_run=True, out=out)
    assert plan.dry_run and plan.strategy == "blue-green"
    assert {s.outcome for s in plan.services} == {"planned"}
    assert "$ kubectl patch service retail-backend" in out.getvalue()
    assert platform.selector() == "blue" and platform.served_version() == "1.0.0"

    # A production-role environment: confirmed by name, its checklist forced (the doubles have no registry).
    done = api.deploy(env="production", version="1.1.0", services="backend", out=out, confirm="production",
                      force="test platform: no registry or git tags")
    assert done.colour == "green" and done.ok
    assert [(s.service, s.version, s.previous) for s in done.services] == [("backend", "1.1.0", "1.0.0")]
    assert platform.selector() == "green" and platform.served_version() == "1.1.0"
    state = api.verify(env="production", out=out)  # no version: whatever each service runs
    assert state.ok and state.version == ""  # they differ now
    assert {s.service: s.version for s in state.services} == {
        "backend": "1.1.0", "consumer-web": "1.0.0", "admin-web": "1.0.0"}


def test_lock_status_and_lock_held(platform: Platform) -> None:
    assert api.lock_status(env="production") == api.LockStatus("production", False)
    platform.cluster.add_configmap("production", history.LOCK_NAME, {
        "holder": "carol@laptop", "id": "z", "version": "1.0.9", "strategy": "rolling",
        "acquired": "2026-01-01T00:00:00Z", "expires": "2099-01-01T00:00:00Z"})
    held = api.lock_status(env="production")
    assert (held.locked, held.expired, held.holder, held.version) == (True, False, "carol@laptop", "1.0.9")
    with pytest.raises(api.LockHeld) as raised:
        api.deploy(env="production", version="1.1.0", out=io.StringIO(), confirm="production")
    assert raised.value.exit_code == 4 and "carol@laptop" in str(raised.value)
    assert platform.served_version() == "1.0.0"
