"""Dry runs rehearse at a desk: no cluster (the real kubectl, a kubeconfig pointing at a closed
loopback port), no Prometheus, no registry, no database. Every write task still prints its whole
plan, each assumption stated, exit 0; a watch prints its rule and returns without polling."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.offline_support import cli, offline_env
from tests.services import free_port

pytestmark = pytest.mark.integration

REFUSED = "was refused - did you specify the right host or port?)"


@pytest.fixture
def desk(tmp_path: Path) -> dict[str, str]:
    return offline_env(tmp_path)


def dry(desk: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    result = cli(desk, "--dry", *args, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "", result.stderr
    assert "# the reads did not give what the rest of the plan needs" not in result.stdout, result.stdout
    return result.stdout


def test_rollback_undo_prints_its_whole_plan_offline(desk):
    out = dry(desk, "rollback.undo", "--env", "production")
    assert "# assuming no recorded release: the deploy history could not be read (The connection to the server " \
           in out and REFUSED in out
    assert "# assuming blue is live: the Service retail-backend could not be read (" in out
    for line in ("$ kubectl create configmap retail-deploy-lock ",
                 "$ kubectl rollout undo deployment/retail-backend-blue ",
                 "$ kubectl rollout undo deployment/retail-consumer-web ",
                 "# poll until retail-backend-blue rolled out",
                 "$ curl -fsS --max-time 5 https://api.example.com/api/v1/health",
                 "$ kubectl delete configmap retail-deploy-lock "):
        assert line in out, line


def test_rollback_blue_green_prints_the_switch_offline(desk):
    out = dry(desk, "rollback.blue-green", "--env", "production")
    assert "# assuming blue is live: the Service retail-backend could not be read (" in out
    assert ("$ kubectl patch service retail-backend -p '{\"spec\":{\"selector\":{\"deployment\":\"green\"}}}'"
            in out)


def test_lock_release_plans_the_removal_offline(desk):
    out = dry(desk, "lock.release", "--env", "production", "--yes")
    assert "# assuming a lock is held: the lock ConfigMap could not be read (" in out
    assert "$ kubectl delete configmap retail-deploy-lock --namespace production --context retail-production" in out


def test_read_only_tasks_print_the_reads_they_would_make(desk):
    history = dry(desk, "rollback.history", "--env", "production")
    assert "$ kubectl get configmap retail-deploy-history -o json --namespace production" in history
    assert "$ kubectl rollout history deployment/retail-backend-blue " in history
    verify = dry(desk, "verify.production")
    # one list per kind (services, deployments), whatever the number of services
    assert "$ kubectl get services -o json --namespace production" in verify
    assert "$ kubectl get deployments -o json --namespace production" in verify
    assert "$ curl -fsS --max-time 5 https://api.example.com/api/v1/version" in verify or \
        "$ curl -fsS --max-time 5 https://api.example.com/api/v1/health" in verify


def test_a_dry_watch_prints_its_rule_and_never_polls(desk):
    # A closed port: a poll would fail and say so; the plan never polls.
    environ = dict(desk, PROMETHEUS_URL=f"http://127.0.0.1:{free_port()}")
    out = dry(environ, "monitor.watch", "--env", "production", "--duration", "1h", "--rollback")
    assert out.startswith("# would watch 4 rollback triggers of production for 1h: one poll every 30s (http://127.0.0.1:")
    assert "# error_rate: breach when > 5% for 5m; no data for 5m is a breach" in out
    assert "# on the first breach: roll production back to the recorded previous release" in out
    assert "poll 1" not in out and "cannot reach Prometheus" not in out


def test_the_checklist_contacts_no_registry_prometheus_or_database(desk, tmp_path):
    environ = dict(desk, PROMETHEUS_URL=f"http://127.0.0.1:{free_port()}")
    out = dry(environ, "checklist.pre-deploy", "--env", "production", "--version", "1.4.2", cwd=tmp_path)
    assert "images-exist" in out and "not checked in a dry run (a real run asks the registry registry.example.com)" \
        in out
    assert "not checked in a dry run (a real run asks the migrations database)" in out
    assert "# a real run stops here unless these are settled: failed: " in out


def test_a_migration_plan_with_no_database_says_what_it_assumed(desk):
    environ = dict(desk, MONGODB_URI=f"mongodb://127.0.0.1:{free_port()}/retail")
    out = dry(environ, "db.migrate", "--env", "production", "--version", "1.4.2")
    assert "# assuming every migration file is pending: the database could not be read (MongoDB of production" in out
    assert "# would back up retail first (users)" in out
    assert "# would apply 2025-01-15-add-user-preferences.py (version 1.4.2)" in out
