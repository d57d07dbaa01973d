"""The tasks that go through a kubelet, on the REAL control plane: kwok answers the kubelet API
(scripts/kube-up.sh, scripts/lib/kwok-kubelet.py and .yaml): container logs that follow the image
tag (`log-errors`, `crashloop`), `--previous` logs, exec (the command runs on this machine),
port-forward (a pod's containerPort P goes to 127.0.0.1:P) and `kubectl top` through metrics-server
(usage from the pod annotations kwok.x-k8s.io/usage-cpu and -memory).

Where exec and port-forward land: the example backend itself (examples/retail-platform/backend,
its built jar run with `java -jar` on a free loopback port of this test), with the test's
backend Deployment declaring that port and the config's `services.backend.port` naming it. So
`kubectl exec deploy/retail-backend -- curl -sf localhost:<port>/actuator/health/mongo` gets
the real backend's answer, and parallel tests never share a port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from retail_deploy.kube import verify as kube_verify
from tests.integration.kube_support import REPO, inv
from tests.kube.cluster import REGISTRY

pytestmark = [pytest.mark.integration, pytest.mark.kube]


@pytest.fixture
def platform(real_platform):
    return real_platform


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def backend(example_build, tmp_path) -> Iterator[int]:
    """The example backend's jar running on 127.0.0.1:<a free port>; yields the port."""
    port = free_port()
    jar = example_build.directory / "backend" / "target" / "retail-backend.jar"
    log = (tmp_path / "backend.log").open("w")
    # The jar targets Java 21 (the runbook's JDK): run it on the JDK the build used, not the PATH's.
    java = Path(os.environ.get("RETAIL_JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64")) / "bin" / "java"
    proc = subprocess.Popen([str(java), "-jar", str(jar)], env=dict(os.environ, PORT=str(port), BIND="127.0.0.1",
                                                                APP_VERSION="1.0.0"),
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not answers(f"http://127.0.0.1:{port}/actuator/health"):
            assert proc.poll() is None, (tmp_path / "backend.log").read_text()
            assert time.monotonic() < deadline, "the example backend did not answer within 60 s"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def point_backend_at(platform, ns: str, port: int, dependencies: tuple[str, ...] = ()) -> None:
    """The staging backend's pods declare containerPort `port` (a new rollout), its Service serves
    it, and the config's services.backend.port names it."""
    cluster = platform.cluster
    dep = cluster.deployment(ns, "retail-backend")
    containers = dep["spec"]["template"]["spec"]["containers"]
    containers[0]["ports"] = [{"containerPort": port, "protocol": "TCP"}]
    cluster.api.patch("deployments", cluster.ns(ns), "retail-backend",
                      {"spec": {"template": {"spec": {"containers": containers}}}})
    cluster.api.patch("services", cluster.ns(ns), "retail-backend",
                      {"spec": {"ports": [{"name": "http", "port": port, "targetPort": port}]}})
    cluster.wait_until(lambda: all(p["spec"]["containers"][0]["ports"][0]["containerPort"] == port
                                   for p in cluster.pods(ns, {"app": "retail-backend"}))
                       and cluster.rolled_out(ns, "retail-backend"), "the backend on its new port", 60)
    data = yaml.safe_load(platform.config.read_text())
    data["services"]["backend"]["port"] = port
    if dependencies:
        data["services"]["backend"]["dependencies"] = list(dependencies)
    platform.config.write_text(yaml.safe_dump(data, sort_keys=False))


def roll_staging_backend_to(platform, tag: str, *, completes: bool = True) -> None:
    """The staging backend at `tag`: rolled out, or (`completes=False`: a pod that never becomes
    Ready) until a pod of the new image runs beside the old ones."""
    cluster = platform.cluster
    cluster.set_image("staging", "retail-backend", f"{REGISTRY}/retail-backend:{tag}")
    if completes:
        cluster.wait_until(lambda: cluster.rolled_out("staging", "retail-backend") and all(
            p["spec"]["containers"][0]["image"].endswith(tag) for p in cluster.pods("staging", {"app": "retail-backend"})),
            f"the backend's rollout to {tag}", 60)
    else:
        cluster.wait_until(lambda: any(p["spec"]["containers"][0]["image"].endswith(tag) and p["status"].get("podIP")
                                       for p in cluster.pods("staging", {"app": "retail-backend"})),
                           f"a backend pod at {tag}", 60)


# ------------------------------------------------------------------ logs: verify, errors, crashloop

def test_verify_passes_on_a_healthy_release_and_fails_on_one_that_logs_errors(platform):
    healthy = inv(platform, "verify.staging", "--version", "1.0.0")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "0 error line(s) in the last 100 lines per pod" in healthy.stdout
    roll_staging_backend_to(platform, "1.1.0-log-errors")
    noisy = inv(platform, "verify.staging", "--version", "1.1.0-log-errors")
    assert noisy.returncode == 1, noisy.stdout + noisy.stderr
    assert noisy.stderr.startswith("error: staging verification failed: ") and "logs retail-backend" in noisy.stderr
    assert "MongoTimeoutException" in noisy.stdout  # the first error lines, shown


def test_log_tail_0_scans_no_logs(platform):
    roll_staging_backend_to(platform, "1.0.0-log-errors")
    data = yaml.safe_load(platform.config.read_text())
    data["environments"]["staging"]["kube"] = {"log_tail": 0}
    platform.config.write_text(yaml.safe_dump(data, sort_keys=False))
    result = inv(platform, "verify.staging")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not platform.commands_with("logs")  # no `kubectl logs` at all, not a scan of 0 lines
    assert "logs" not in {line.split()[0] for line in result.stdout.splitlines() if line.strip()}


def test_verification_reads_only_the_serving_colour(platform):
    """A broken idle colour (left up by hand, or by an older release of this tool) must not fail a
    healthy production's verification, nor may the plain deployment sharing the app label;
    errors of the serving colour still do."""
    cluster = platform.cluster
    cluster.set_image("production", "retail-backend", f"{REGISTRY}/retail-backend:1.0.0-log-errors")
    cluster.set_image("production", "retail-backend-green", f"{REGISTRY}/retail-backend:1.0.0-crashloop")
    cluster.api.patch("deployments", cluster.ns("production"), "retail-backend-green", {"spec": {"replicas": 3}})
    cluster.wait_until(lambda: len([p for p in cluster.pods("production", {"deployment": "green"})
                                    if p["status"].get("podIP")]) == 3, "3 crash-looping green pods", 60)
    cluster.wait_rolled_out("production", "retail-backend")
    cfg = platform.cfg()
    production = cfg.environment("production")
    report = kube_verify.verify(platform.runner(), cfg, production, "1.0.0")
    assert report.ok, report.render()
    assert [(r.target, r.ok) for r in report.rows if r.check == "logs"] == [("retail-backend-blue", True)]
    assert "MongoTimeoutException" not in report.render()
    assert not any("green" in r.target for r in report.rows)
    cluster.set_image("production", "retail-backend-blue", f"{REGISTRY}/retail-backend:1.0.0-log-errors")
    cluster.wait_rolled_out("production", "retail-backend-blue")
    failing = kube_verify.verify(platform.runner(), cfg, production)
    assert [(r.target, r.ok) for r in failing.rows if r.check == "logs"] == [("retail-backend-blue", False)]
    assert "MongoTimeoutException" in failing.render()


def test_errors_groups_the_real_error_lines(platform, tmp_path):
    roll_staging_backend_to(platform, "1.1.0-log-errors")
    report = tmp_path / "errors.txt"
    result = inv(platform, "troubleshoot.errors", "--env", "staging", "--service", "backend",
                 "--output", str(report))
    assert result.returncode == 0, result.stderr
    assert "cannot connect to MongoDB at mongodb:27017 (timed out)" in result.stdout
    assert "REVISION" in report.read_text()  # kubectl rollout history, for real
    assert not platform.mutations()


def test_crashloop_reads_describe_and_the_previous_container_logs(platform, tmp_path):
    roll_staging_backend_to(platform, "1.1.0-crashloop", completes=False)
    report = tmp_path / "crashloop.txt"
    result = inv(platform, "troubleshoot.crashloop", "--env", "staging", "--service", "backend",
                 "--output", str(report))
    assert result.returncode == 0, result.stderr
    assert "MONGODB_URI is not set in the container's environment" in result.stdout
    text = report.read_text()
    assert "CrashLoopBackOff" in text and "APPLICATION FAILED TO START" in text  # describe, logs --previous
    assert not platform.mutations()


def test_ops_logs_copies_the_pod_logs(platform, tmp_path):
    out = tmp_path / "backend.log"
    result = inv(platform, "ops.logs", "--env", "staging", "--service", "backend", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "Started retail-backend in" in out.read_text()


# ------------------------------------------------------------------ top

def test_latency_finds_the_pod_at_its_cpu_limit_through_top(platform, tmp_path):
    cluster, ns = platform.cluster, "staging"
    dep = cluster.deployment(ns, "retail-backend")
    containers = dep["spec"]["template"]["spec"]["containers"]
    containers[0]["resources"] = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    cluster.api.patch("deployments", cluster.ns(ns), "retail-backend", {"spec": {"template": {
        "metadata": {"annotations": {"kwok.x-k8s.io/usage-cpu": "950m", "kwok.x-k8s.io/usage-memory": "300Mi"}},
        "spec": {"containers": containers}}}})
    cluster.wait_rolled_out(ns, "retail-backend")
    pods = {p["metadata"]["name"] for p in cluster.pods(ns, {"app": "retail-backend"})}

    def measured() -> bool:  # metrics-server scrapes every 10 s and needs two scrapes for a CPU rate
        top = subprocess.run(["kubectl", "top", "pods", "--namespace", cluster.ns(ns), "--no-headers"],
                             env=platform.env, capture_output=True, text=True, check=False)
        rows = {line.split()[0]: line.split()[1] for line in top.stdout.splitlines() if line.strip()}
        return all(rows.get(pod, "0m").endswith("m") and int(rows[pod][:-1]) >= 900 for pod in pods if pod in rows) \
            and pods <= set(rows)

    cluster.wait_until(measured, "kubectl top pods to show the new pods' usage", 90)
    report = tmp_path / "latency.txt"
    result = inv(platform, "troubleshoot.latency", "--env", "staging", "--service", "backend",
                 "--output", str(report))
    assert result.returncode == 0, result.stderr
    assert "of its 1000m CPU limit" in result.stdout and "scale out" in result.stdout, result.stdout
    assert "$ kubectl scale deployment retail-backend --replicas=10" in result.stdout  # the remedy offered
    assert "kubectl top pods" in report.read_text()


# ------------------------------------------------------------------ exec, shell, port-forward

def test_health_deps_execs_curl_against_the_real_backend(platform, backend):
    point_backend_at(platform, "staging", backend, ("mongo", "redis"))
    result = inv(platform, "health.deps", "--env", "staging")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mongo" in result.stdout and "redis" in result.stdout
    execs = platform.commands_with("exec")
    assert any(f"localhost:{backend}/actuator/health/mongo" in " ".join(argv) for argv in execs), execs


def test_db_asks_the_backend_actuator_through_exec(platform, backend, tmp_path):
    point_backend_at(platform, "staging", backend)
    report = tmp_path / "db.txt"
    result = inv(platform, "troubleshoot.db", "--env", "staging", "--service", "backend", "--output", str(report))
    assert result.returncode == 0, result.stderr
    text = report.read_text()
    assert f"localhost:{backend}/actuator/health/mongo" in text
    assert '"status":"UP"' in text.replace(" ", "")  # the real backend's answer, through kubectl exec
    # mongosh and redis-cli run on this machine too (exec is local); neither is installed here, and
    # the report says the ping failed rather than pretending it answered.
    assert "mongosh" in text


def test_ops_shell_runs_a_shell_in_the_pod(platform):
    environ = dict(platform.env, RETAIL_DEPLOY_CONFIG=str(platform.config), PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "invoke", "-r", str(REPO), "ops.shell", "--env", "staging",
                             "--service", "backend"], cwd=REPO, env=environ,
                            # `exit`: kwok's exec does not pass on the end of stdin (a real kubelet does)
                            input="echo shell-says-$((6 * 7))\nexit\n",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "shell-says-42" in result.stdout


def test_ops_port_forward_reaches_the_backend(platform, backend):
    point_backend_at(platform, "staging", backend)
    local = free_port()
    environ = dict(platform.env, RETAIL_DEPLOY_CONFIG=str(platform.config), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "invoke", "-r", str(REPO), "ops.port-forward", "--env", "staging",
                             "--service", "backend", "--port", str(local)], cwd=REPO, env=environ,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not answers(f"http://127.0.0.1:{local}/actuator/health/mongo"):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "nothing answered through the port-forward within 30 s"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode in (0, 130)
