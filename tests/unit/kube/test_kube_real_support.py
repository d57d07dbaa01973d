"""The pieces of tests/kube that need no control plane: the recording kubectl/helm wrappers, the
reading of what they recorded, the per-test kubeconfig, and the data plane's idea of a version."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from tests.kube.cluster import RealCluster, image_tag, pod_ready
from tests.kube.fixtures import WRAPPERS, test_kubeconfig


def fake_tool(tmp_path: Path, name: str, exit_code: int) -> Path:
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    (tools / name).write_text(f'#!/bin/sh\nprintf "%s|" "$@"\nexit {exit_code}\n')
    (tools / name).chmod(0o755)
    return tools


def test_the_wrappers_record_every_argument_exactly_and_pass_the_real_exit_code(tmp_path):
    tools = fake_tool(tmp_path, "kubectl", 3)
    fake_tool(tmp_path, "helm", 0)
    calls = tmp_path / "calls"
    env = dict(os.environ, RETAIL_DEPLOY_TEST_KUBE_CALLS=str(calls), RETAIL_DEPLOY_TEST_KUBE_TOOLS=str(tools))
    patch = '{"spec":{"selector":{"deployment":"green"}}}'
    result = subprocess.run([str(WRAPPERS / "kubectl"), "patch", "service", "retail-backend", "-p", patch,
                             "--context", "retail production"], env=env, capture_output=True, text=True)
    assert result.returncode == 3
    assert result.stdout == f"patch|service|retail-backend|-p|{patch}|--context|retail production|"
    subprocess.run([str(WRAPPERS / "helm"), "history", "retail-backend"], env=env, check=True, capture_output=True)
    cluster = RealCluster(None, {}, calls)  # type: ignore[arg-type]  # no API needed to read calls
    assert cluster.commands("kubectl") == [["patch", "service", "retail-backend", "-p", patch,
                                            "--context", "retail production"]]
    assert cluster.commands("helm") == [["history", "retail-backend"]]
    assert cluster.mutations() == [["patch", "service", "retail-backend", "-p", patch,
                                    "--context", "retail production"]]


def test_mutations_skip_flag_values_wherever_the_flags_are(tmp_path):
    calls = tmp_path / "calls"
    records = [["kubectl", "--context", "retail-staging", "--namespace", "ns", "get", "pods"],
               ["kubectl", "--context", "retail-staging", "rollout", "status", "deployment/x"],
               ["kubectl", "scale", "deployment", "x", "--replicas=0", "--context", "c"],
               ["kubectl", "-n", "ns", "describe", "pod", "p"]]
    calls.write_text("".join("\x1f".join(r) + "\x1f\x1e" for r in records))
    cluster = RealCluster(None, {}, calls)  # type: ignore[arg-type]
    assert cluster.mutations() == [["scale", "deployment", "x", "--replicas=0", "--context", "c"]]


def test_the_per_test_kubeconfig_points_the_retail_contexts_at_the_test_namespaces(tmp_path):
    admin = tmp_path / "admin.kubeconfig"
    admin.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "admin",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "admin", "user": {}}],
        "contexts": [{"name": "admin", "context": {"cluster": "c", "user": "admin", "namespace": "default"}},
                     {"name": "retail-staging", "context": {"cluster": "c", "user": "admin", "namespace": "staging"}}]}))
    path = test_kubeconfig(admin, tmp_path / "kubeconfig", {"staging": "rd-1-staging", "production": "rd-1-production"})
    contexts = {c["name"]: c["context"]["namespace"] for c in yaml.safe_load(path.read_text())["contexts"]}
    assert contexts == {"admin": "default", "retail-staging": "rd-1-staging", "retail-production": "rd-1-production"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_versions_and_readiness_as_the_data_plane_reads_them():
    assert image_tag("registry.example.com/retail-backend:1.1.0-never-ready") == "1.1.0-never-ready"
    assert image_tag("127.0.0.1:5000/retail-backend") == "latest"
    ready = {"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert pod_ready(ready)
    assert not pod_ready({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "status": ready["status"]})
    assert not pod_ready({"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}})
