"""setup.* and ops.* through the CLI against the kubectl double (and stand-in tools on PATH)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.kube_support import REPO, Platform

pytestmark = pytest.mark.integration


def cli(env: dict[str, str], *args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "retail_deploy", *args], cwd=cwd,
                          env={**env, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)


def platform_env(p: Platform) -> dict[str, str]:
    return dict(p.env, RETAIL_DEPLOY_CONFIG=str(p.config))


def test_status_lists_the_namespace(platform):
    result = cli(platform_env(platform), "ops.status", "--env", "production")
    assert result.returncode == 0, result.stderr
    assert "$ kubectl get all --namespace production --context retail-production" in result.stdout
    assert "retail-backend-blue" in result.stdout
    assert "$ kubectl describe resourcequota --namespace production" in result.stdout


def test_logs_are_copied_with_secrets_masked(platform, tmp_path):
    platform.cluster.set_logs("production", "INFO started\nERROR token=s3cr3t-jwt-value-0123\n",
                              deployment="retail-backend-blue")
    out = tmp_path / "backend-logs.txt"
    env = dict(platform_env(platform), JWT_SECRET="s3cr3t-jwt-value-0123")
    result = cli(env, "ops.logs", "--env", "production", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "deploy/retail-backend-blue" in result.stdout  # the live colour's pods
    assert out.read_text() == "INFO started\nERROR token=***\n"


def test_interactive_commands_in_a_dry_run_only_print(platform):
    env = platform_env(platform)
    shell = cli(env, "--dry", "ops.shell", "--env", "production")
    # The plan prints its read too (which colour serves), then the command it would attach to.
    assert shell.stdout.strip().splitlines() == [
        "$ kubectl get service retail-backend -o json --namespace production --context retail-production "
        "--request-timeout=30s",
        "$ kubectl exec -it deploy/retail-backend-blue --namespace production --context retail-production "
        "--request-timeout=30s -- /bin/sh"]
    forward = cli(env, "--dry", "ops.port-forward", "--env", "staging", "--port", "18080")
    assert forward.stdout.strip().startswith("$ kubectl port-forward svc/retail-backend 18080:8080")
    bad = cli(env, "ops.port-forward", "--env", "staging", "--port", "99999")
    assert (bad.returncode, bad.stderr.strip()) == (2, "error: invalid --port 99999: expected a number from 1 to 65535")
    docker = cli(env, "ops.status", "--env", "development")
    assert docker.returncode == 2


def test_setup_cluster_runs_the_cloud_cli_then_checks_access(platform, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "aws.log"
    (bin_dir / "aws").write_text(f'#!/bin/sh\necho "$@" >> {log}\necho "Added new context"\n')
    (bin_dir / "aws").chmod(0o755)
    config = platform.config.read_text().replace(
        "    kube_context: retail-production\n",
        "    kube_context: retail-production\n    cluster: {provider: eks, name: retail-cluster, region: us-east-1}\n")
    platform.config.write_text(config)
    env = dict(platform_env(platform), PATH=f"{bin_dir}{os.pathsep}{platform.env['PATH']}")
    result = cli(env, "setup.cluster", "--env", "production")
    assert result.returncode == 0, result.stderr
    assert log.read_text().strip() == "eks update-kubeconfig --name retail-cluster --region us-east-1 --alias retail-production"
    assert "Kubernetes control plane is running" in result.stdout and "fake-node-1" in result.stdout


def test_setup_tools_reports_each_tool(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    versions = {"docker": "Docker version 27.1.1, build x", "kubectl": "Client Version: v1.30.1",
                "helm": "v3.14.2+gc309b6f", "aws": "aws-cli/2.15.0 Python/3.11", "node": "v20.11.0",
                "javac": "javac 21.0.2", "mvn": "Apache Maven 3.9.6"}
    for name, text in versions.items():
        (bin_dir / name).write_text(f"#!/bin/sh\necho '{text}'\n")
        (bin_dir / name).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    ok = cli(env, "setup.tools")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "8 of 8 tools ready" in ok.stdout
    (bin_dir / "mvn").write_text("#!/bin/sh\necho 'Apache Maven 3.8.7'\n")
    (bin_dir / "helm").unlink()
    old = cli(env, "setup.tools")
    assert old.returncode == 1
    assert "[OLD    ] maven" in old.stdout and "[MISSING] helm" in old.stdout
    assert old.stderr.strip() == "error: required tools missing or too old: helm, maven (see the table above)"
