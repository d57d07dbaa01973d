"""troubleshoot.* tasks end to end: the real CLI and Runner, kubectl replaced by a recorded double."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE = Path(__file__).resolve().parent / "fake_kubectl.py"
SELECTOR = "get service retail-backend --output jsonpath={.spec.selector.deployment}"
PODS = "get pods --selector app=retail-backend --output json"
DESCRIBE = "describe pod retail-backend-7c9f6d8b5d-x2kqp"
PREVIOUS = "logs retail-backend-7c9f6d8b5d-x2kqp --previous --tail=200"


@pytest.fixture
def kube(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE} \"$@\"\n")
    kubectl.chmod(0o755)
    log = tmp_path / "kubectl.log"
    scenario = tmp_path / "scenario.json"

    def run(*args, answers=None):
        scenario.write_text(json.dumps(answers or {}))
        log.write_text("")
        environ = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{bin_dir}:{os.environ['PATH']}",
                   "FAKE_KUBECTL_LOG": str(log), "FAKE_KUBECTL_SCENARIO": str(scenario)}
        environ.pop("RETAIL_DEPLOY_CONFIG", None)
        result = subprocess.run([sys.executable, "-m", "retail_deploy", *args], cwd=tmp_path, env=environ,
                                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        result.calls = [json.loads(line) for line in log.read_text().splitlines()]  # type: ignore[attr-defined]
        return result

    return run


def test_crashloop_finds_the_oomkilled_pod_and_saves_the_report(kube, tmp_path):
    report = tmp_path / "crash.txt"
    result = kube("troubleshoot.crashloop", "--env", "production", "--output", str(report), answers={
        SELECTOR: {"stdout": "green"},
        PODS: {"file": "pods-retail-backend.json"},
        DESCRIBE: {"file": "describe-pod-oomkilled.txt"},
        PREVIOUS: {"stdout": "2026-11-26T03:52:39.000Z  INFO 1 --- [main] c.e.retail.App : still starting\n"},
    })
    assert result.returncode == 0, result.stderr
    assert "Likely cause: OOMKilled: container retail-backend of pod retail-backend-7c9f6d8b5d-x2kqp" in result.stdout
    assert f"Full report: {report}" in result.stdout
    text = report.read_text()
    assert "Reason:       OOMKilled" in text  # the raw describe output is in the saved report
    assert f"$ kubectl --context retail-production --namespace production --request-timeout 30s {DESCRIBE}" in text
    assert all(call["pins"] == {"--context": "retail-production", "--namespace": "production",
                                "--request-timeout": "30s"} for call in result.calls)
    # Read-only: only get/describe/logs were issued.
    assert {call["args"][0] for call in result.calls} <= {"get", "describe", "logs"}


def test_crashloop_for_a_named_pod_reads_the_missing_variable_from_its_logs(kube):
    pod = "retail-backend-5d8f7b9c6-qv7wn"
    result = kube("troubleshoot.crashloop", "--env", "production", "--pod", pod, answers={
        f"describe pod {pod}": {"file": "describe-pod-crashloop-error.txt"},
        f"logs {pod} --previous --tail=200": {"file": "logs-previous-missing-env.txt"},
    })
    assert result.returncode == 0, result.stderr
    assert "Likely cause: missing environment variable: JWT_SECRET is not set" in result.stdout
    assert "Also seen: container keeps crashing" in result.stdout
    saved = [line for line in result.stdout.splitlines() if line.startswith("Full report: reports/")]
    assert saved, result.stdout


def _certificates_now() -> str:
    """Recorded cert-manager JSON with dates moved relative to today (the task uses the real clock)."""
    document = json.loads((REPO / "tests/fixtures/kubectl/certificates-production.json").read_text())
    now = datetime.now(UTC)
    shifts = {"api-example-com": 31, "www-example-com": 3, "admin-example-com": -8}
    for item in document["items"]:
        days = shifts.get(item["metadata"]["name"])
        if days is not None:
            item["status"]["notAfter"] = (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
            item["status"]["renewalTime"] = (now + timedelta(days=days - 30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(document)


def test_certs_offers_the_remedy_without_running_it(kube):
    answers = {"get certificates --output json": {"stdout": _certificates_now()}}
    result = kube("troubleshoot.certs", "--env", "production", "--days", "14", answers=answers)
    assert result.returncode == 0, result.stderr
    assert "Likely cause: certificate expired: admin-example-com" in result.stdout
    assert "Also seen: certificate expiring: www-example-com" in result.stdout
    assert "api-example-com" not in result.stdout.split("Remedies")[0]  # 31 days left: fine
    assert ("$ kubectl --context retail-production --namespace production --request-timeout 30s "
            "delete certificate www-example-com") in result.stdout
    assert not [c for c in result.calls if c["args"][0] == "delete"]


def test_certs_fix_without_a_terminal_needs_yes_and_changes_nothing(kube):
    answers = {"get certificates --output json": {"stdout": _certificates_now()}}
    result = kube("troubleshoot.certs", "--env", "production", "--fix", answers=answers)
    assert result.returncode == 2
    assert "pass --yes" in result.stderr
    assert not [c for c in result.calls if c["args"][0] == "delete"]


def test_certs_fix_with_yes_reissues_each_bad_certificate(kube):
    answers = {"get certificates --output json": {"stdout": _certificates_now()},
               **{f"delete certificate {name}": {"stdout": f'certificate.cert-manager.io "{name}" deleted\n'}
                  for name in ("admin-example-com", "grafana-example-com", "www-example-com")}}
    result = kube("troubleshoot.certs", "--env", "production", "--fix", "--yes", answers=answers)
    assert result.returncode == 0, result.stderr
    deleted = sorted(c["args"][2] for c in result.calls if c["args"][0] == "delete")
    assert deleted == ["admin-example-com", "grafana-example-com", "www-example-com"]


def test_errors_proposes_scaling_the_live_colour(kube):
    result = kube("troubleshoot.errors", "--env", "production", answers={
        SELECTOR: {"stdout": "green"},
        "logs --selector app=retail-backend --tail=500 --prefix": {"file": "logs-errors-tail500.txt"},
        "rollout history deployment/retail-backend-green": {"file": "rollout-history-retail-backend.txt"},
        "top pods": {"file": "top-pods-production.txt"},
        PODS: {"file": "pods-retail-backend.json"},
    })
    assert result.returncode == 0, result.stderr
    assert "Likely cause: connection pool exhausted" in result.stdout
    assert "      3 x ERROR o.a.c.c.C.[.[.[/].[dispatcherServlet]" in result.stdout
    assert result.stdout.rstrip().splitlines()[-2].endswith("scale deployment/retail-backend-green --replicas=5")
    assert not [c for c in result.calls if c["args"][0] == "scale"]


def test_db_names_the_dependency_that_is_down(kube):
    exec_prefix = "exec deploy/retail-backend-blue -- "
    result = kube("troubleshoot.db", "--env", "production", answers={
        SELECTOR: {"stdout": "blue"},
        exec_prefix + "curl -sf localhost:8080/actuator/health/mongo": {
            "stdout": '{"status":"DOWN","details":{"error":"com.mongodb.MongoTimeoutException: Timed out"}}',
            "exit": 22},
        exec_prefix + "curl -sf localhost:8080/actuator/health/redis": {"stdout": '{"status":"UP"}'},
        exec_prefix + "curl -sf localhost:8080/actuator/health/elasticsearch": {"stdout": '{"status":"UP"}'},
        exec_prefix + 'sh -c mongosh "$MONGODB_URI" --quiet --eval "JSON.stringify(db.stats())"': {
            "stderr": "MongoServerSelectionError: connect ECONNREFUSED 192.0.2.21:27017\n", "exit": 1},
        exec_prefix + 'sh -c redis-cli -u "$REDIS_URL" ping': {"stdout": "PONG\n"},
        "logs --selector app=retail-backend --tail=2000 --prefix": {"file": "logs-previous-mongo-refused.txt"},
    })
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("Likely cause: database connection failure: cannot connect to MongoDB")
    assert any("dependency down: mongo is status DOWN" in line for line in lines)
    assert not any("redis" in line.lower() and "Also seen" in line for line in lines)


def test_no_cluster_reachable_is_exit_1_with_the_report(kube):
    result = kube("troubleshoot.latency", "--env", "staging", answers={})
    assert result.returncode == 1
    assert "every diagnostic command failed on staging" in result.stderr
    assert all(call["pins"]["--context"] == "retail-staging" for call in result.calls)


def test_a_cluster_that_does_not_answer_is_exit_5(kube):
    refused = {"stderr": 'The connection to the server 127.0.0.1:6443 was refused - did you specify the right host '
                         'or port?\n', "exit": 1}
    result = kube("troubleshoot.latency", "--env", "staging", answers={"*": refused})
    assert result.returncode == 5, result.stderr
    assert result.stderr.startswith("error: the cluster of staging did not answer (first: kubectl ")
    assert len(result.stderr.splitlines()) == 1


def test_docker_environment_is_refused_before_any_command(kube):
    result = kube("troubleshoot.crashloop", "--env", "development", answers={})
    assert result.returncode == 2
    assert "reads a Kubernetes cluster" in result.stderr
    assert result.calls == []


def test_health_deps_via_kubectl_execs_in_the_live_colour(kube):
    exec_prefix = "exec deploy/retail-backend-green -- curl -sf localhost:8080/actuator/health/"
    result = kube("health.deps", "--env", "production", answers={
        SELECTOR: {"stdout": "green"},
        exec_prefix + "mongo": {"stdout": '{"status":"UP"}'},
        exec_prefix + "redis": {"stdout": '{"status":"UP"}'},
        exec_prefix + "elasticsearch": {"stdout": '{"status":"DOWN"}', "exit": 22,
                                        "stderr": "command terminated with exit code 22\n"},
    })
    assert result.returncode == 1
    assert "OK   mongo" in result.stdout and "OK   redis" in result.stdout
    assert "FAIL elasticsearch    elasticsearch is status DOWN (command terminated with exit code 22)" in result.stdout
    assert "1 of 3 dependencies unhealthy: elasticsearch" in result.stderr


def test_latency_flags_saturated_pods_and_offers_to_scale_out(kube):
    result = kube("troubleshoot.latency", "--env", "production", answers={
        SELECTOR: {"stdout": "blue"},
        "top pods": {"file": "top-pods-production.txt"},
        PODS: {"file": "pods-retail-backend.json"},
        "exec deploy/mongodb -- mongosh --quiet --eval "
        "JSON.stringify(db.currentOp({'secs_running': {$gte: 5}}).inprog)": {
            "stdout": '[{"opid": 4411, "secs_running": 12, "ns": "retail.orders", "op": "query"}]'},
        "exec deploy/redis -- redis-cli --latency --raw": {"stdout": "0 3 0.41 1250\n"},
    })
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("Likely cause: CPU saturated: retail-backend-7c9f6d8b5d-")
    assert "1 MongoDB operation(s) running for 5s or more." in lines
    assert lines[-2].endswith("scale deployment/retail-backend-blue --replicas=10")


@pytest.mark.parametrize("args,message", [
    (["troubleshoot.errors", "--replicas", "0", "--fix", "--yes"], "error: --replicas 0: must be 1 or more"),
    (["troubleshoot.latency", "--replicas", "-2"], "error: --replicas -2: must be 1 or more"),
    (["troubleshoot.errors", "--tail", "0"], "error: --tail 0: must be 1 or more"),
    (["troubleshoot.certs", "--days", "-1"], "error: --days -1: must be 0 or more"),
    (["troubleshoot.crashloop", "--request-timeout", "0"], "error: --request-timeout 0: must be more than 0, e.g. 30s"),
    (["troubleshoot.db", "--request-timeout", "soon"], "error: invalid --request-timeout 'soon': expected e.g. 30s, 5m, 1h"),
])
def test_out_of_range_options_are_refused_before_any_kubectl_call(kube, args, message):
    # --replicas 0 --fix used to propose (and apply) scaling production down to nothing; a bad
    # --request-timeout reached kubectl on every command and came back as "every command failed", exit 1.
    result = kube(*args, "--env", "production", answers={})
    assert (result.returncode, result.stderr.strip()) == (2, message)
    assert result.calls == []
