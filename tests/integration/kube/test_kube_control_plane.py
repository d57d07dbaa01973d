"""The real control plane itself (scripts/kube-up.sh) and the test suite's view of it
(tests/kube): reused when running, loopback only, stamped versions, kwok's readiness rules, and
the stand-in data plane following the real Service selector."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import urllib.parse
from pathlib import Path

import pytest
import requests
import yaml

from tests.kube.cluster import REGISTRY
from tests.kube.fixtures import REPO, ControlPlane

pytestmark = [pytest.mark.integration, pytest.mark.kube]


def kubectl(cp: ControlPlane, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(cp.tools / "kubectl"), "--kubeconfig", str(cp.kubeconfig), *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_kube_up_reuses_the_running_control_plane(kube_control_plane):
    env = dict(os.environ, RETAIL_DEPLOY_KUBE_DIR=str(kube_control_plane.kubeconfig.parent))
    result = subprocess.run(["bash", str(REPO / "scripts" / "kube-up.sh")], env=env, capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "reusing the running control plane" in result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"KUBECONFIG={kube_control_plane.kubeconfig}"


def test_every_component_listens_on_loopback_only(kube_control_plane):
    run = kube_control_plane.kubeconfig.parent / "run"
    pids = {p.read_text().strip() for p in run.glob("*.pid")}
    assert len(pids) == 7, sorted(run.glob("*.pid"))
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout.splitlines()
    ours = [line for line in listening if any(f"pid={pid}," in line for pid in pids)]
    assert ours, listening  # at least etcd and the API server
    for line in ours:
        local = line.split()[3]
        assert local.startswith("127.0.0.1:"), line


def test_nodes_are_reached_at_127_0_0_1_and_no_component_is_given_a_name_to_resolve(kube_control_plane):
    for node in kube_control_plane.api.list("nodes"):
        assert node["status"]["addresses"] == [{"type": "InternalIP", "address": "127.0.0.1"}], node["metadata"]
        assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] > 0
    state = kube_control_plane.kubeconfig.parent
    argv = {pid.stem: (Path("/proc") / pid.read_text().strip() / "cmdline").read_bytes().split(b"\0")
            for pid in (state / "run").glob("*.pid")}
    assert {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-kubelet",
            "metrics-server"} <= set(argv)
    hosts: list[tuple[str, str]] = []
    for component, args in argv.items():
        for arg in (a.decode() for a in args):
            name, _, value = arg.partition("=")
            if name == "--service-account-issuer":  # an identifier written into tokens, never looked up
                continue
            for item in value.split(","):
                if "://" in item:
                    hosts.append((f"{component} {name}", urllib.parse.urlsplit(item).hostname or ""))
                elif name.endswith(("-address", "-ip", "-servers")) and item:
                    hosts.append((f"{component} {name}", item.rsplit(":", 1)[0] if item.count(":") == 1 else item))
    assert hosts and all(ipaddress.ip_address(host).is_loopback for _, host in hosts), hosts
    for component in ("kube-apiserver", "metrics-server"):
        assert b"--kubelet-preferred-address-types=InternalIP" in argv[component], component
    kubeconfig = yaml.safe_load(kube_control_plane.kubeconfig.read_text())
    assert [urllib.parse.urlsplit(c["cluster"]["server"]).hostname for c in kubeconfig["clusters"]] == ["127.0.0.1"]
    service = kube_control_plane.api.get("services", "kube-system", "metrics-server")
    assert service["spec"]["externalName"] == "127.0.0.1"  # the metrics API's backend: an address


def test_versions_are_stamped(kube_control_plane):
    result = kubectl(kube_control_plane, "version", "-o", "json")
    assert result.returncode == 0, result.stderr
    versions = json.loads(result.stdout)
    assert re.fullmatch(r"v1\.\d+\.\d+", versions["serverVersion"]["gitVersion"])
    assert versions["clientVersion"]["gitVersion"] == versions["serverVersion"]["gitVersion"]
    helm = subprocess.run([str(kube_control_plane.tools / "helm"), "version", "--short"], capture_output=True,
                          text=True, timeout=30)
    assert helm.returncode == 0 and helm.stdout.startswith("v3."), helm.stdout + helm.stderr


def test_the_admin_kubeconfig_has_the_retail_contexts(kube_control_plane):
    result = kubectl(kube_control_plane, "config", "get-contexts", "-o", "name")
    assert set(result.stdout.split()) == {"admin", "retail-staging", "retail-production"}
    nodes = kubectl(kube_control_plane, "get", "nodes", "-o", "json")
    ready = [n for n in json.loads(nodes.stdout)["items"]
             if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])]
    assert ready


def test_never_ready_images_run_but_never_become_ready(real_cluster):
    real_cluster.add_deployment("staging", "stuck", image=f"{REGISTRY}/stuck:2.0.0-never-ready", replicas=1,
                                wait=False)
    real_cluster.wait_until(lambda: any(p.get("status", {}).get("phase") == "Running"
                                    for p in real_cluster.pods("staging", {"app": "stuck"})), "stuck pod running", 30)
    [pod] = real_cluster.pods("staging", {"app": "stuck"})
    ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert ready["Ready"] == "False"
    assert not real_cluster.rolled_out("staging", "stuck")
    assert all(p["status"]["phase"] == "Running" for p in real_cluster.pods("staging", {"app": "retail-backend"}))


def test_the_data_plane_follows_the_real_selector(real_cluster, real_cluster_http):
    url = real_cluster_http.service_url("production", "retail-backend")
    assert requests.get(url + "/api/v1/version", timeout=5).json() == {"version": "1.0.0"}
    real_cluster.set_image("production", "retail-backend-green", f"{REGISTRY}/retail-backend:1.1.0-unhealthy")
    real_cluster.api.patch("deployments", real_cluster.ns("production"), "retail-backend-green",
                           {"spec": {"replicas": 1}})
    real_cluster.wait_rolled_out("production", "retail-backend-green")
    green = real_cluster_http.deployment_url("production", "retail-backend-green")
    assert requests.get(green + "/api/v1/version", timeout=5).json() == {"version": "1.1.0-unhealthy"}
    assert requests.get(green + "/api/v1/health", timeout=5).status_code == 503
    real_cluster.add_service("production", "retail-backend", {"app": "retail-backend", "deployment": "green"})
    assert requests.get(url + "/api/v1/version", timeout=5).json() == {"version": "1.1.0-unhealthy"}


def test_the_per_test_kubeconfig_points_the_contexts_at_the_test_namespaces(real_cluster):
    kubeconfig = Path(os.environ["KUBECONFIG"])
    result = subprocess.run(["kubectl", "--context", "retail-production", "get", "deployments", "-o", "name"],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "deployment.apps/retail-backend-blue" in result.stdout.split()
    assert kubeconfig.parent != Path(real_cluster.api.kubeconfig).parent
    assert [c["argv"][:2] for c in real_cluster.calls("kubectl")] == [["--context", "retail-production"]]


def test_seeded_events_show_in_the_real_kubectl(real_cluster):
    real_cluster.add_event("production", "Deployment", "retail-backend-blue", "ProgressDeadlineExceeded",
                           "ReplicaSet has timed out progressing")
    result = subprocess.run(["kubectl", "--context", "retail-production", "get", "events", "-o", "json"],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    reasons = {e["reason"] for e in json.loads(result.stdout)["items"]}
    assert "ProgressDeadlineExceeded" in reasons
    assert real_cluster.set_setting("rollout_wait_cap", 0.2) is real_cluster
    with pytest.raises(NotImplementedError, match="keeps its own time"):
        real_cluster.set_setting("rollout_seconds", 3)
