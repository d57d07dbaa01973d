"""troubleshoot.* and health.deps end to end: the real CLI and Runner against the stateful
kubectl double (tests/doubles), which prints what kubectl prints and refuses unpinned commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.doubles.cluster import FakeCluster

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "kubectl"
DAY = 86400


@pytest.fixture
def cluster(tmp_path: Path) -> FakeCluster:
    return FakeCluster(tmp_path / "kube-state.json").retail_platform(version="1.0.0")


@pytest.fixture
def kube(cluster: FakeCluster, tmp_path: Path) -> Any:
    """Run `python -m retail_deploy ARGS` against the double; returns the process result."""

    def run(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        environ = cluster.env({**os.environ, "PYTHONPATH": str(REPO)})
        environ.pop("RETAIL_DEPLOY_CONFIG", None)
        if config:
            environ["RETAIL_DEPLOY_CONFIG"] = str(config)
        return subprocess.run([sys.executable, "-m", "retail_deploy", *args], cwd=tmp_path, env=environ,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    return run


def kubectl_calls(cluster: FakeCluster) -> list[list[str]]:
    return cluster.commands("kubectl")


def pods_of(cluster: FakeCluster, deployment: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in cluster.pods("production")
                  if p["metadata"]["name"].startswith(deployment + "-"))


def test_crashloop_finds_the_oomkilled_pod_and_saves_the_report(kube, cluster, tmp_path):
    cluster.inject("crashloop", "retail-backend-blue", namespace="production", oom=True)
    report = tmp_path / "crash.txt"
    result = kube("troubleshoot.crashloop", "--env", "production", "--output", str(report))
    assert result.returncode == 0, result.stderr
    assert "Likely cause: OOMKilled: container retail-backend of pod retail-backend-blue-" in result.stdout
    assert f"Full report: {report}" in result.stdout
    pod = pods_of(cluster, "retail-backend-blue")[0]
    text = report.read_text()
    assert "OOMKilled" in text  # the raw describe output is in the saved report
    assert (f"$ kubectl describe pod {pod} --namespace production --context retail-production "
            "--request-timeout=30s") in text
    # Read-only, and every command pinned to production's context.
    assert cluster.mutations() == []
    assert all("--context" in argv and "retail-production" in argv for argv in kubectl_calls(cluster))


def test_crashloop_for_a_named_pod_reads_the_missing_variable_from_its_previous_logs(kube, cluster):
    pod = "retail-backend-5d8f7b9c6-qv7wn"
    cluster.add_pod("production", pod, "registry.example.com/retail-backend:1.0.1", {"app": "retail-backend"},
                    ready=False, waiting_reason="CrashLoopBackOff", last_terminated_reason="Error", restarts=6)
    cluster.set_logs("production", (FIXTURES / "logs-previous-missing-env.txt").read_text(), pod=pod, previous=True)
    result = kube("troubleshoot.crashloop", "--env", "production", "--pod", pod)
    assert result.returncode == 0, result.stderr
    assert "Likely cause: missing environment variable: JWT_SECRET is not set" in result.stdout
    assert "Also seen: container keeps crashing" in result.stdout
    assert [line for line in result.stdout.splitlines() if line.startswith("Full report: reports/")]


def test_the_environments_configured_request_timeout_reaches_every_diagnostic_command(kube, cluster, tmp_path):
    # The troubleshooting path used to pin a fixed 30s whatever kube.request_timeout said.
    data = yaml.safe_load((REPO / "config" / "retail-platform.yaml").read_text())
    data["environments"]["production"].setdefault("kube", {})["request_timeout"] = "12s"
    config = tmp_path / "platform.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    result = kube("troubleshoot.certs", "--env", "production", config=config)
    assert result.returncode == 0, result.stderr
    assert kubectl_calls(cluster) and all("--request-timeout=12s" in argv for argv in kubectl_calls(cluster))
    # --request-timeout still wins for one run.
    result = kube("troubleshoot.certs", "--env", "production", "--request-timeout", "7s", config=config)
    assert result.returncode == 0, result.stderr
    assert "--request-timeout=7s" in kubectl_calls(cluster)[-1]


def _certificates(cluster: FakeCluster) -> FakeCluster:
    import time

    now = time.time()
    return (cluster.add_certificate("production", "api-example-com", ["api.example.com"], not_after=now + 31 * DAY)
            .add_certificate("production", "www-example-com", ["www.example.com"], not_after=now + 3 * DAY)
            .add_certificate("production", "admin-example-com", ["admin.example.com"], not_after=now - 8 * DAY,
                             ready=False, message="Certificate has expired"))


def test_certs_offers_the_remedy_without_running_it(kube, cluster):
    _certificates(cluster)
    result = kube("troubleshoot.certs", "--env", "production", "--days", "14")
    assert result.returncode == 0, result.stderr
    assert "Likely cause: certificate expired: admin-example-com" in result.stdout
    assert "Also seen: certificate expiring: www-example-com" in result.stdout
    assert "api-example-com" not in result.stdout.split("Remedies")[0]  # 31 days left: fine
    assert ("$ kubectl delete certificate www-example-com --namespace production --context retail-production "
            "--request-timeout=30s") in result.stdout
    assert cluster.certificate("production", "www-example-com") is not None
    assert cluster.mutations() == []


def test_certs_fix_without_a_terminal_needs_yes_and_changes_nothing(kube, cluster):
    _certificates(cluster)
    result = kube("troubleshoot.certs", "--env", "production", "--fix")
    assert result.returncode == 2
    assert "pass --yes" in result.stderr
    assert cluster.mutations() == []


def test_certs_fix_with_yes_reissues_each_bad_certificate(kube, cluster):
    _certificates(cluster)
    result = kube("troubleshoot.certs", "--env", "production", "--fix", "--yes")
    assert result.returncode == 0, result.stderr
    deleted = sorted(argv[2] for argv in cluster.mutations() if argv[0] == "delete")
    assert deleted == ["admin-example-com", "www-example-com"]
    assert cluster.certificate("production", "api-example-com") is not None


def test_errors_proposes_scaling_the_live_colour(kube, cluster):
    cluster.add_service("production", "retail-backend", {"app": "retail-backend", "deployment": "green"}, 8080)
    cluster.set_logs("production", (FIXTURES / "logs-errors-tail500.txt").read_text(), deployment="retail-backend")
    result = kube("troubleshoot.errors", "--env", "production")
    assert result.returncode == 0, result.stderr
    assert "Likely cause: connection pool exhausted" in result.stdout
    assert " x ERROR o.a.c.c.C.[.[.[/].[dispatcherServlet]" in result.stdout
    assert result.stdout.rstrip().splitlines()[-2].startswith(
        "$ kubectl scale deployment retail-backend-green --replicas=5 --namespace production")
    assert cluster.mutations() == []


def test_db_names_the_dependency_that_is_down(kube, cluster):
    cluster.inject("dependency_down", "mongo")
    cluster.set_exec("db.stats()", stderr="MongoServerSelectionError: connect ECONNREFUSED 127.0.0.9:27017\n",
                     exit=1)
    result = kube("troubleshoot.db", "--env", "production")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("Likely cause: database connection failure: cannot connect to MongoDB")
    assert "Also seen: dependency down: mongo is no answer (exit code 22)" in lines  # curl -sf prints nothing
    assert not any("redis" in line.lower() and "Also seen" in line for line in lines)
    # the checks ran in the pod of the colour the Service selects
    assert any(argv[:2] == ["exec", "deploy/retail-backend-blue"] for argv in kubectl_calls(cluster))


def test_db_reports_what_the_real_servers_db_stats_answer_says(kube, cluster):
    # The dbStats answer recorded from FerretDB (see tests/unit/troubleshoot/test_troubleshoot_analysers.py).
    cluster.set_exec("db.stats()", stdout=(REPO / "tests/fixtures/mongo/dbstats-ferretdb.json").read_text())
    result = kube("troubleshoot.db", "--env", "production")
    assert result.returncode == 0, result.stderr
    assert "No known cause found in the evidence" in result.stdout
    assert ("MongoDB database retail answered db.stats(): 3 collection(s), 171 document(s), 44 KiB of data, "
            "4 index(es).") in result.stdout


def test_every_command_refused_by_the_cluster_is_exit_1_with_the_report(kube, cluster):
    # The cluster answered, and said no: that is a failure (1), not "did not answer" (5).
    cluster.inject("fail_command", match="kubectl", exit=1,
                   stderr="error: You must be logged in to the server (Unauthorized)\n")
    result = kube("troubleshoot.latency", "--env", "staging")
    assert result.returncode == 1
    assert "every diagnostic command failed on staging" in result.stderr
    assert all("retail-staging" in argv for argv in kubectl_calls(cluster))


def test_a_cluster_that_does_not_answer_is_exit_5(kube, cluster):
    cluster.inject("fail_command", match="kubectl", exit=1,
                   stderr="The connection to the server 127.0.0.1:6443 was refused - did you specify the right host "
                          "or port?\n")
    result = kube("troubleshoot.latency", "--env", "staging")
    assert result.returncode == 5, result.stderr
    assert result.stderr.startswith("error: the cluster of staging did not answer (first: kubectl ")
    assert len(result.stderr.splitlines()) == 1


def test_docker_environment_is_refused_before_any_command(kube, cluster):
    result = kube("troubleshoot.crashloop", "--env", "development")
    assert result.returncode == 2
    assert "reads a Kubernetes cluster" in result.stderr
    assert kubectl_calls(cluster) == []


def test_health_deps_via_kubectl_execs_in_the_live_colour(kube, cluster):
    cluster.add_deployment("production", "retail-backend-green", "retail-backend",
                           "registry.example.com/retail-backend:1.0.0", 3,
                           {"app": "retail-backend", "deployment": "green"})
    cluster.add_service("production", "retail-backend", {"app": "retail-backend", "deployment": "green"}, 8080)
    cluster.inject("dependency_down", "elasticsearch")
    result = kube("health.deps", "--env", "production")
    assert result.returncode == 1
    assert "OK   mongo" in result.stdout and "OK   redis" in result.stdout
    assert ("FAIL elasticsearch    elasticsearch is no answer (exit code 22) "
            "(command terminated with exit code 22)") in result.stdout
    assert "1 of 3 dependencies unhealthy: elasticsearch" in result.stderr
    assert {argv[1] for argv in kubectl_calls(cluster) if argv[0] == "exec"} == {"deploy/retail-backend-green"}


def test_latency_reads_slow_mongodb_operations_and_redis_latency(kube, cluster):
    cluster.set_exec("db.currentOp(", stdout='[{"opid": 4411, "secs_running": 12, "ns": "retail.orders"}]\n')
    result = kube("troubleshoot.latency", "--env", "production")
    assert result.returncode == 0, result.stderr
    assert "1 MongoDB operation(s) running for 5s or more." in result.stdout.splitlines()
    assert any(argv[:2] == ["exec", "deploy/redis"] and "--latency" in argv for argv in kubectl_calls(cluster))


@pytest.mark.parametrize("args,message", [
    (["troubleshoot.errors", "--replicas", "0", "--fix", "--yes"], "error: --replicas 0: must be 1 or more"),
    (["troubleshoot.latency", "--replicas", "-2"], "error: --replicas -2: must be 1 or more"),
    (["troubleshoot.errors", "--tail", "0"], "error: --tail 0: must be 1 or more"),
    (["troubleshoot.certs", "--days", "-1"], "error: --days -1: must be 0 or more"),
    (["troubleshoot.crashloop", "--request-timeout", "0"], "error: --request-timeout 0: must be more than 0, e.g. 30s"),
    (["troubleshoot.db", "--request-timeout", "soon"], "error: invalid --request-timeout 'soon': expected e.g. 30s, 5m, 1h"),
])
def test_out_of_range_options_are_refused_before_any_kubectl_call(kube, cluster, args, message):
    # --replicas 0 --fix used to propose (and apply) scaling production down to nothing; a bad
    # --request-timeout reached kubectl on every command and came back as "every command failed", exit 1.
    result = kube(*args, "--env", "production")
    assert (result.returncode, result.stderr.strip()) == (2, message)
    assert kubectl_calls(cluster) == []


REFUSED = "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?\n"


def test_crashloop_that_could_not_list_the_pods_never_says_no_pod_matches(kube, cluster):
    # The API server is unreachable: no "No crash-looping pod matches", no "No known cause".
    cluster.inject("fail_command", match="kubectl", exit=1, stderr=REFUSED)
    result = kube("troubleshoot.crashloop", "--env", "staging")
    assert result.returncode == 5, result.stdout + result.stderr
    assert "No crash-looping" not in result.stdout and "No known cause" not in result.stdout
    assert "No conclusion: the evidence could not be read (this is not an all-clear)." in result.stdout
    assert "Could not read: pods (app=retail-backend) (The connection to the server 127.0.0.1:6443 was refused" \
        in result.stdout


def test_a_diagnosis_missing_part_of_its_evidence_says_what_and_exits_5(kube, cluster):
    # The logs do not answer (a kubelet that refuses), the rest reads: nothing found is not "no cause".
    cluster.inject("fail_command", match=" logs ", exit=1,
                   stderr="Error from server: Get \"https://127.0.0.1:10250/containerLogs/...\": dial tcp "
                          "127.0.0.1:10250: connect: connection refused\n")
    result = kube("troubleshoot.errors", "--env", "staging")
    assert result.returncode == 5, result.stdout + result.stderr
    assert "No known cause" not in result.stdout
    assert any(line.startswith("Could not read: logs (app=retail-backend, last 500 lines per pod) (Error from "
                               "server") for line in result.stdout.splitlines())
    assert result.stderr.startswith("error: troubleshoot.errors on staging could not read its evidence (logs ")
    assert len(result.stderr.splitlines()) == 1
