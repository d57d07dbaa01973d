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


TOOLS_CONFIG = """\
version: 1
platform: tools-check
services:
  api:
    build_steps:
      - {name: package, run: [mvn, clean, package]}
  web:
    build_steps:
      - {name: install, run: [npm, ci]}
environments:
  development: {target: docker}
  production:
    target: kubernetes
    namespace: production
    cluster: {provider: eks, name: shop, region: eu-west-1}
"""


def test_setup_tools_fails_on_what_the_config_needs_and_reports_the_rest_as_optional(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    versions = {"docker": "Docker version 27.1.1, build x", "kubectl": "Client Version: v1.30.1",
                "helm": "v3.14.2+gc309b6f", "aws": "aws-cli/1.45.11 Python/3.11", "node": "v20.11.0",
                "javac": "javac 21.0.2", "mvn": "Apache Maven 3.9.6"}
    for name, text in versions.items():
        (bin_dir / name).write_text(f"#!/bin/sh\necho '{text}'\n")
        (bin_dir / name).chmod(0o755)
    config = tmp_path / "platform.yaml"
    config.write_text(TOOLS_CONFIG)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "RETAIL_DEPLOY_CONFIG": str(config)}
    ok = cli(env, "setup.tools")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "6 of 6 required tools ready; 2 optional (not needed by this config)" in ok.stdout
    # the old cloud CLI only setup.cluster would run does not fail the check, and says so
    assert "[optional] aws" in ok.stdout and "setup.cluster --env production would run it" in ok.stdout
    assert "maven           3.9.6 (needs 3.9+)  - needed by build of api (Maven steps)" in ok.stdout
    (bin_dir / "mvn").write_text("#!/bin/sh\necho 'Apache Maven 3.8.7'\n")
    (bin_dir / "helm").unlink()
    old = cli(env, "setup.tools")
    assert old.returncode == 1
    assert "[OLD     ] maven" in old.stdout and "[MISSING ] helm" in old.stdout
    assert old.stderr.strip() == "error: required tools missing or too old: helm, maven (see the table above)"
    # a team that wants the cloud CLI on this machine says so: then it is required
    config.write_text(TOOLS_CONFIG + "prerequisites: {require: [aws]}\n")
    (bin_dir / "mvn").write_text("#!/bin/sh\necho 'Apache Maven 3.9.6'\n")
    (bin_dir / "helm").write_text("#!/bin/sh\necho 'v3.14.2'\n")
    (bin_dir / "helm").chmod(0o755)
    cloud = cli(env, "setup.tools")
    assert cloud.returncode == 1 and "[OLD     ] aws" in cloud.stdout
    assert cloud.stderr.strip() == "error: required tools missing or too old: aws (see the table above)"


def test_setup_tools_passes_on_this_machine_after_the_readme_commands():
    """The default config on this machine, as scripts/test.sh or scripts/demo.sh left it: the JDK and
    the Maven Wrapper the build steps name, node, docker, and kubectl and helm in .venv/bin."""
    env = {k: v for k, v in os.environ.items() if k not in {"RETAIL_DEPLOY_CONFIG", "RETAIL_JAVA_HOME"}}
    env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}"
    done = cli(env, "setup.tools")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line[13:].split("  ")[0]: line for line in done.stdout.splitlines() if line.startswith("  [")}
    for tool in ("docker", "kubectl", "helm", "node", "java (JDK)", "maven"):
        assert lines[tool].startswith("  [ok      ]"), done.stdout
    assert "(needs 21+)" in lines["java (JDK)"] and "(needs 3.9+)" in lines["maven"]
    assert done.stdout.splitlines()[-1].startswith("6 of 6 required tools ready")
