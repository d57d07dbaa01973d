"""The kubectl/helm doubles behave like the real tools for every command the product issues.

Each test runs the double as the product does (an executable found on PATH, in a subprocess) and
checks what a user of kubectl would see: output text, JSON shapes, exit codes and the state left
behind. Where the real kubectl client can check a shape offline (`--local`), it does.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.doubles.cluster import BIN_DIR, ClusterHTTP, FakeCluster
from tests.services import unavailable

pytest_plugins = ["tests.doubles.fixtures"]

PROD = ("--context", "retail-production", "-n", "production")
STAGING = ("--context", "retail-staging", "-n", "staging")
REG = "registry.example.com"


@pytest.fixture
def cluster(tmp_path: Path) -> FakeCluster:
    c = FakeCluster(tmp_path / "kube.json").retail_platform(version="1.0.0")
    c.set_setting("rollout_wait_cap", 0.2).set_setting("helm_wait_cap", 0.2)
    return c


def run(cluster: FakeCluster, tool: str, *argv: str, stdin: str | None = None,
        timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool, *argv], check=False, env=cluster.env(), input=stdin, capture_output=True, text=True,
                          timeout=timeout, stdin=None if stdin is not None else subprocess.DEVNULL)


def k(cluster: FakeCluster, *argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return run(cluster, "kubectl", *argv, **kw)


def kp(cluster: FakeCluster, *argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return k(cluster, *PROD, *argv, **kw)


def helm(cluster: FakeCluster, *argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return run(cluster, "helm", *argv, **kw)


def docs(text: str) -> list[Any]:
    """Every JSON document in a stream (kubectl prints several for `rollout history -o json`)."""
    dec, out, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = dec.raw_decode(text, i)
        out.append(obj)


def real_kubectl() -> str:
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if Path(p).resolve() != BIN_DIR.resolve())
    found = shutil.which("kubectl", path=path)
    if not found:
        pytest.skip("the real kubectl client is not installed: shape comparison needs it")
    return found


# ------------------------------------------------------------------ contexts and the call log

def test_context_must_be_pinned_and_exist(cluster: FakeCluster) -> None:
    missing = k(cluster, "-n", "production", "get", "pods")
    assert missing.returncode == 1 and "--context" in missing.stderr
    unknown = k(cluster, "--context", "prod-typo", "-n", "production", "get", "pods")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == 'error: context "prod-typo" does not exist'


def test_a_context_sees_only_its_cluster(cluster: FakeCluster) -> None:
    wrong = k(cluster, "--context", "retail-staging", "-n", "production", "get", "deployment", "retail-backend-blue")
    assert wrong.returncode == 1
    assert 'Error from server (NotFound): deployments.apps "retail-backend-blue" not found' in wrong.stderr


def test_every_invocation_is_logged_with_its_exit(cluster: FakeCluster) -> None:
    kp(cluster, "get", "deployment", "retail-backend", "-o", "name")
    k(cluster, "--context", "nope", "get", "pods")
    calls = cluster.calls("kubectl")
    assert [c["argv"] for c in calls] == [[*PROD, "get", "deployment", "retail-backend", "-o", "name"],
                                          ["--context", "nope", "get", "pods"]]
    assert [c["exit"] for c in calls] == [0, 1]
    assert all(c["time"] > 0 for c in calls)


def test_unsupported_commands_fail_visibly(cluster: FakeCluster) -> None:
    res = kp(cluster, "port-forward", "svc/retail-backend", "8080:8080")
    assert res.returncode == 1
    assert res.stderr.startswith("error: fake kubectl does not support: ")
    assert "port-forward" in res.stderr


# ------------------------------------------------------------------ set image, rollout

def test_set_image_starts_a_new_revision(cluster: FakeCluster) -> None:
    res = kp(cluster, "set", "image", "deployment/retail-backend", f"retail-backend={REG}/retail-backend:1.0.1")
    assert (res.returncode, res.stdout) == (0, "deployment.apps/retail-backend image updated\n")
    assert cluster.image("production", "retail-backend") == f"{REG}/retail-backend:1.0.1"
    assert cluster.revision("production", "retail-backend") == 2
    rss = cluster.replicasets("production", "retail-backend")
    assert [rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for rs in rss] == ["1", "2"]
    assert [rs["spec"]["replicas"] for rs in rss] == [0, 2]
    pods = cluster.pods("production", {"app": "retail-backend"})
    backend = [p for p in pods if "deployment" not in p["metadata"]["labels"]]
    assert {p["spec"]["containers"][0]["image"] for p in backend} == {f"{REG}/retail-backend:1.0.1"}
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in backend} == {
        rss[1]["metadata"]["labels"]["pod-template-hash"]}


def test_set_image_to_the_current_image_prints_nothing_and_starts_no_rollout(cluster: FakeCluster) -> None:
    res = kp(cluster, "set", "image", "deployment/retail-backend", f"retail-backend={REG}/retail-backend:1.0.0")
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
    assert cluster.revision("production", "retail-backend") == 1
    assert len(cluster.replicasets("production", "retail-backend")) == 1


def test_set_image_unknown_container_or_deployment(cluster: FakeCluster) -> None:
    res = kp(cluster, "set", "image", "deployment/retail-backend", "backend=x:1")
    assert res.returncode == 1 and res.stderr.strip() == 'error: unable to find container named "backend"'
    res = kp(cluster, "set", "image", "deployment/nope", "nope=x:1")
    assert res.returncode == 1 and 'deployments.apps "nope" not found' in res.stderr


def test_rollout_status_success(cluster: FakeCluster) -> None:
    kp(cluster, "set", "image", "deployment/retail-backend", f"retail-backend={REG}/retail-backend:1.0.1")
    res = kp(cluster, "rollout", "status", "deployment/retail-backend", "--timeout=5m")
    assert (res.returncode, res.stdout) == (0, 'deployment "retail-backend" successfully rolled out\n')


def test_rollout_timeout_keeps_old_pods_serving(cluster: FakeCluster) -> None:
    cluster.inject("rollout_timeout", "retail-backend-green")
    cluster.inject("fail_command", match="nothing-matches-this")  # unrelated faults do not interfere
    kp(cluster, "scale", "deployment", "retail-backend-green", "--replicas=3")
    kp(cluster, "set", "image", "deployment/retail-backend-green", f"retail-backend={REG}/retail-backend:1.0.1")
    res = kp(cluster, "rollout", "status", "deployment/retail-backend-green", "--timeout=10m")
    assert res.returncode == 1
    assert res.stderr.strip() == "error: timed out waiting for the condition"
    assert res.stdout.startswith('Waiting for deployment "retail-backend-green" rollout to finish: ')
    # --watch=false reports and exits 0 even though the rollout is unfinished
    nowatch = kp(cluster, "rollout", "status", "deployment/retail-backend-green", "--watch=false")
    assert nowatch.returncode == 0 and nowatch.stdout.startswith("Waiting for deployment")
    dep = json.loads(kp(cluster, "get", "deployment", "retail-backend-green", "-o", "json").stdout)
    assert dep["status"]["updatedReplicas"] == 3 and dep["status"]["readyReplicas"] == 3  # old pods
    old_ready = [p for p in cluster.pods("production", {"deployment": "green"})
                 if p["status"]["containerStatuses"][0]["ready"]]
    assert {p["spec"]["containers"][0]["image"] for p in old_ready} == {f"{REG}/retail-backend:1.0.0"}
    # undo goes back to the working template, which completes
    assert kp(cluster, "rollout", "undo", "deployment/retail-backend-green").returncode == 0
    assert kp(cluster, "rollout", "status", "deployment/retail-backend-green", "--timeout=1m").returncode == 0


def test_rollout_status_without_timeout_waits_until_killed(cluster: FakeCluster) -> None:
    cluster.inject("rollout_timeout", "retail-backend")
    kp(cluster, "set", "image", "deployment/retail-backend", f"retail-backend={REG}/retail-backend:1.0.1")
    with pytest.raises(subprocess.TimeoutExpired):
        kp(cluster, "rollout", "status", "deployment/retail-backend", timeout=2)


def test_progress_deadline_fails_at_once(cluster: FakeCluster) -> None:
    cluster.inject("progress_deadline", "retail-backend")
    kp(cluster, "set", "image", "deployment/retail-backend", f"retail-backend={REG}/retail-backend:1.0.1")
    res = kp(cluster, "rollout", "status", "deployment/retail-backend", "--timeout=10m")
    assert res.returncode == 1
    assert res.stderr.strip() == 'error: deployment "retail-backend" exceeded its progress deadline'
    dep = cluster.deployment("production", "retail-backend")
    assert dep is not None
    progressing = next(c for c in dep["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")


def test_crashloop_pods_show_oomkilled(cluster: FakeCluster) -> None:
    bad = f"{REG}/retail-backend:1.0.1"
    cluster.inject("crashloop", image=bad, oom=True, restarts=7)
    kp(cluster, "set", "image", "deployment/retail-backend", f"retail-backend={bad}")
    pods = json.loads(kp(cluster, "get", "pods", "-l", "app=retail-backend", "-o", "json").stdout)
    assert pods["kind"] == "List"
    crashing = [p for p in pods["items"] if p["spec"]["containers"][0]["image"] == bad]
    assert crashing
    st = crashing[0]["status"]["containerStatuses"][0]
    assert st["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert st["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert st["restartCount"] == 7 and st["ready"] is False
    table = kp(cluster, "get", "pods", "-l", "app=retail-backend").stdout
    header, *rows = table.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    name = crashing[0]["metadata"]["name"]
    row = next(r for r in rows if r.startswith(name))
    assert row.split()[1:3] == ["0/1", "CrashLoopBackOff"] and row.split()[3] == "7"
    described = kp(cluster, "describe", "pod", name).stdout
    assert "Reason:       CrashLoopBackOff" in described
    assert "Last State:     Terminated" in described and "Reason:       OOMKilled" in described
    assert "Exit Code:    137" in described and "Events:" in described


def test_rollout_undo_restores_template_only(cluster: FakeCluster) -> None:
    cluster.add_deployment("production", "api", image="r/api:1", replicas=2, history=["r/api:0"])
    assert cluster.revision("production", "api") == 2
    kp(cluster, "scale", "deployment/api", "--replicas=5")
    kp(cluster, "set", "image", "deployment/api", "api=r/api:2")
    before_services = cluster.state()["objects"]["services"]
    res = kp(cluster, "rollout", "undo", "deployment/api")
    assert (res.returncode, res.stdout) == (0, "deployment.apps/api rolled back\n")
    assert cluster.image("production", "api") == "r/api:1"
    assert cluster.replicas("production", "api") == 5
    assert cluster.state()["objects"]["services"] == before_services
    assert cluster.revision("production", "api") == 4  # the restored template takes the next number
    res = kp(cluster, "rollout", "undo", "deployment/api", "--to-revision=1")
    assert res.returncode == 0 and cluster.image("production", "api") == "r/api:0"
    missing = kp(cluster, "rollout", "undo", "deployment/api", "--to-revision=9")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: unable to find specified revision 9 in history"
    same = kp(cluster, "rollout", "undo", "deployment/api", "--to-revision=5")
    assert same.stdout.strip() == ("deployment.apps/api skipped rollback "
                                   "(current template already matches revision 5)")


def test_rollout_undo_without_history(cluster: FakeCluster) -> None:
    res = kp(cluster, "rollout", "undo", "deployment/retail-backend")
    assert res.returncode == 1
    assert res.stderr.strip() == 'error: no rollout history found for deployment "retail-backend"'


def test_rollout_history_table_revision_and_json(cluster: FakeCluster) -> None:
    kp(cluster, "set", "image", "deployment/retail-backend", f"retail-backend={REG}/retail-backend:1.0.1")
    res = kp(cluster, "rollout", "history", "deployment/retail-backend")
    assert res.stdout == ("deployment.apps/retail-backend\nREVISION  CHANGE-CAUSE\n1         <none>\n"
                          "2         <none>\n\n")
    one = kp(cluster, "rollout", "history", "deployment/retail-backend", "--revision=1").stdout
    assert one.startswith("deployment.apps/retail-backend with revision #1\nPod Template:\n")
    assert f"Image:\t{REG}/retail-backend:1.0.0" in one
    objs = docs(kp(cluster, "rollout", "history", "deployment/retail-backend", "-o", "json").stdout)
    assert [o["kind"] for o in objs] == ["ReplicaSet", "ReplicaSet"]
    assert [o["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for o in objs] == ["1", "2"]
    bad = kp(cluster, "rollout", "history", "deployment/retail-backend", "--revision=7")
    assert bad.returncode == 1 and "unable to find the specified revision" in bad.stderr


def test_rollout_restart_makes_a_new_revision(cluster: FakeCluster) -> None:
    res = kp(cluster, "rollout", "restart", "deployment/retail-backend")
    assert res.stdout == "deployment.apps/retail-backend restarted\n"
    assert cluster.revision("production", "retail-backend") == 2


# ------------------------------------------------------------------ get

def test_get_deployment_json_shape(cluster: FakeCluster) -> None:
    dep = json.loads(kp(cluster, "get", "deployment", "retail-backend-blue", "-o", "json").stdout)
    assert (dep["apiVersion"], dep["kind"]) == ("apps/v1", "Deployment")
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["template"]["metadata"]["labels"] == {"app": "retail-backend", "deployment": "blue"}
    assert dep["status"]["readyReplicas"] == 3 and dep["status"]["updatedReplicas"] == 3
    assert {c["type"]: c["status"] for c in dep["status"]["conditions"]} == {"Available": "True",
                                                                             "Progressing": "True"}
    green = json.loads(kp(cluster, "get", "deployment/retail-backend-green", "-o", "json").stdout)
    assert "readyReplicas" not in green["status"]  # the API omits zero counts


@pytest.mark.parametrize("kind", ["deployment", "replicaset", "pod"])
def test_json_is_what_the_real_api_server_decodes_strictly(cluster: FakeCluster, kind: str) -> None:
    """The real API server (scripts/kube-up.sh) decodes our object with strict field validation: a
    field we print that Kubernetes does not have, or a value of the wrong type, is refused. (Real
    kubectl's `--local` round trip cannot say this: it drops fields it knows, such as
    progressDeadlineSeconds, so its output no longer equals a real object.)"""
    kubeconfig = os.environ.get("RETAIL_DEPLOY_TEST_KUBECONFIG")
    if not kubeconfig:
        unavailable("no control plane: RETAIL_DEPLOY_TEST_KUBECONFIG unset (scripts/kube-up.sh prints one)")
    items = json.loads(kp(cluster, "get", kind, "-l", "app=retail-backend", "-o", "json").stdout)["items"]
    ours = items[0]
    # What only the server sets on a stored object; a create must not carry it.
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation", "namespace"):
        ours["metadata"].pop(key, None)
    res = subprocess.run([real_kubectl(), "--kubeconfig", str(kubeconfig), "create", "--dry-run=server",
                          "--validate=strict", "--namespace", "default", "-f", "-", "-o", "json"],
                         check=False, input=json.dumps(ours), capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["spec"]["template" if kind != "pod" else "containers"]


def test_service_round_trips_through_real_kubectl_types(cluster: FakeCluster) -> None:
    real = real_kubectl()
    ours = json.loads(kp(cluster, "get", "service", "retail-backend", "-o", "json").stdout)
    res = subprocess.run([real, "set", "selector", "--local", "-f", "-", "app=x", "-o", "json"],
                         check=False, input=json.dumps(ours), capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    ours["spec"]["selector"] = {"app": "x"}
    assert json.loads(res.stdout) == ours


def test_get_tables_and_wide(cluster: FakeCluster) -> None:
    lines = kp(cluster, "get", "deployments", "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES",
                                "SELECTOR"]
    blue = next(line for line in lines if line.startswith("retail-backend-blue "))
    cells = blue.split()
    assert cells[1:4] == ["3/3", "3", "3"]
    assert cells[-2:] == [f"{REG}/retail-backend:1.0.0", "app=retail-backend,deployment=blue"]
    svc = kp(cluster, "get", "svc", "retail-backend", "-o", "wide").stdout.splitlines()
    assert svc[0].split()[:5] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"]
    assert svc[1].split()[-1] == "app=retail-backend,deployment=blue"


def test_get_missing_and_empty(cluster: FakeCluster) -> None:
    res = kp(cluster, "get", "configmap", "deploy-lock", "-o", "json")
    assert res.returncode == 1
    assert res.stderr.strip() == 'Error from server (NotFound): configmaps "deploy-lock" not found'
    quiet = kp(cluster, "get", "configmap", "deploy-lock", "--ignore-not-found", "-o", "json")
    assert (quiet.returncode, quiet.stdout) == (0, "")
    empty = kp(cluster, "get", "pods", "-l", "app=nothing")
    assert (empty.returncode, empty.stdout) == (0, "")
    assert empty.stderr.strip() == "No resources found in production namespace."
    empty_json = json.loads(kp(cluster, "get", "pods", "-l", "app=nothing", "-o", "json").stdout)
    assert empty_json["items"] == [] and empty_json["kind"] == "List"


def test_jsonpath_outputs(cluster: FakeCluster) -> None:
    def jp(*argv: str) -> str:
        res = kp(cluster, *argv)
        assert res.returncode == 0, res.stderr
        return res.stdout

    assert jp("get", "svc", "retail-backend", "-o", "jsonpath={.spec.selector.deployment}") == "blue"
    assert jp("get", "deploy", "retail-backend-blue", "-o",
              "jsonpath={.spec.template.spec.containers[0].image}") == f"{REG}/retail-backend:1.0.0"
    assert jp("get", "deploy", "retail-backend", "-o",
              r"jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}") == "1"
    assert jp("get", "deploy", "retail-backend-green", "-o", "jsonpath={.status.readyReplicas}") == ""
    names = jp("get", "deploy", "-l", "app=retail-backend", "-o", "jsonpath={.items[*].metadata.name}")
    assert names.split() == ["retail-backend", "retail-backend-blue", "retail-backend-green"]
    ranged = jp("get", "deploy", "-o",
                'jsonpath={range .items[*]}{.metadata.name}={.spec.replicas}{"\\n"}{end}')
    assert "retail-backend-blue=3\n" in ranged and "retail-backend-green=0\n" in ranged
    filtered = jp("get", "deploy", "retail-backend-blue", "-o",
                  'jsonpath={.status.conditions[?(@.type=="Available")].status}')
    assert filtered == "True"


# ------------------------------------------------------------------ patch, scale

def test_patch_service_selector(cluster: FakeCluster) -> None:
    res = kp(cluster, "patch", "service", "retail-backend", "-p", '{"spec":{"selector":{"deployment":"green"}}}')
    assert (res.returncode, res.stdout) == (0, "service/retail-backend patched\n")
    assert cluster.selector("production", "retail-backend") == {"app": "retail-backend", "deployment": "green"}
    again = kp(cluster, "patch", "service", "retail-backend", "-p", '{"spec":{"selector":{"deployment":"green"}}}')
    assert again.stdout == "service/retail-backend patched (no change)\n"


def test_patch_refused(cluster: FakeCluster) -> None:
    cluster.inject("patch_refused", "retail-backend", times=1)
    res = kp(cluster, "patch", "service", "retail-backend", "-p", '{"spec":{"selector":{"deployment":"green"}}}')
    assert res.returncode == 1 and res.stderr.startswith("Error from server (Forbidden): ")
    assert cluster.selector("production", "retail-backend")["deployment"] == "blue"
    ok = kp(cluster, "patch", "service", "retail-backend", "-p", '{"spec":{"selector":{"deployment":"green"}}}')
    assert ok.returncode == 0  # times=1: the second try goes through


def test_patch_configmap_merge(cluster: FakeCluster) -> None:
    cluster.add_configmap("production", "deploy-audit", {"a": "1"})
    res = kp(cluster, "patch", "configmap", "deploy-audit", "--type", "merge", "-p", '{"data":{"b":"2","a":null}}')
    assert res.stdout == "configmap/deploy-audit patched\n"
    cm = cluster.configmap("production", "deploy-audit")
    assert cm is not None and cm["data"] == {"b": "2"}


def test_scale_both_spellings_and_injected_failure(cluster: FakeCluster) -> None:
    res = kp(cluster, "scale", "deployment", "retail-backend-blue", "--replicas=0")
    assert (res.returncode, res.stdout) == (0, "deployment.apps/retail-backend-blue scaled\n")
    assert cluster.replicas("production", "retail-backend-blue") == 0
    assert cluster.pods("production", {"deployment": "blue"}) == []
    assert kp(cluster, "scale", "deployment/retail-backend", "--replicas=5").returncode == 0
    assert len([p for p in cluster.pods("production", {"app": "retail-backend"})
                if "deployment" not in p["metadata"]["labels"]]) == 5
    cluster.inject("fail_command", match="scale deployment", exit=1, stderr="error: boom", times=1)
    failed = kp(cluster, "scale", "deployment", "retail-backend-green", "--replicas=3")
    assert (failed.returncode, failed.stderr.strip()) == (1, "error: boom")
    assert cluster.replicas("production", "retail-backend-green") == 0
    assert kp(cluster, "scale", "deployment", "retail-backend-green", "--replicas=3").returncode == 0


# ------------------------------------------------------------------ configmaps (lock, audit)

def test_create_configmap_and_already_exists(cluster: FakeCluster) -> None:
    res = kp(cluster, "create", "configmap", "deploy-lock", "--from-literal=owner=alice", "--from-literal=v=1.4.2")
    assert (res.returncode, res.stdout) == (0, "configmap/deploy-lock created\n")
    cm = json.loads(kp(cluster, "get", "configmap", "deploy-lock", "-o", "json").stdout)
    assert cm["data"] == {"owner": "alice", "v": "1.4.2"} and cm["kind"] == "ConfigMap"
    again = kp(cluster, "create", "configmap", "deploy-lock", "--from-literal=owner=bob")
    assert again.returncode == 1
    assert again.stderr.strip() == 'error: failed to create configmap: configmaps "deploy-lock" already exists'
    deleted = kp(cluster, "delete", "configmap", "deploy-lock")
    assert deleted.stdout == 'configmap "deploy-lock" deleted\n'
    gone = kp(cluster, "delete", "configmap", "deploy-lock")
    assert gone.returncode == 1 and 'configmaps "deploy-lock" not found' in gone.stderr


def test_racing_creates_exactly_one_wins(cluster: FakeCluster) -> None:
    procs = [subprocess.Popen(["kubectl", *PROD, "create", "configmap", "deploy-lock", f"--from-literal=owner={i}"],
                              env=cluster.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for i in range(6)]
    codes = [p.wait(timeout=60) for p in procs]
    for p in procs:
        p.communicate()
    assert sorted(codes) == [0, 1, 1, 1, 1, 1]
    assert len(cluster.calls("kubectl")) == 6


def test_apply_configmap_from_stdin(cluster: FakeCluster) -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "deploy-audit", "labels": {"app.kubernetes.io/managed-by": "retail-deploy"}},
                "data": {"last": "1.0.1"}}
    first = kp(cluster, "apply", "-f", "-", stdin=json.dumps(manifest))
    assert first.stdout == "configmap/deploy-audit created\n"
    assert kp(cluster, "apply", "-f", "-", stdin=json.dumps(manifest)).stdout == "configmap/deploy-audit unchanged\n"
    yaml_text = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deploy-audit\n"
                 "data:\n  last: 1.0.2\n")
    assert kp(cluster, "apply", "-f", "-", stdin=yaml_text).stdout == "configmap/deploy-audit configured\n"
    cm = cluster.configmap("production", "deploy-audit")
    assert cm is not None and cm["data"] == {"last": "1.0.2"}
    assert cluster.calls()[-1]["stdin"] == yaml_text


# ------------------------------------------------------------------ troubleshooting reads

def test_logs_by_selector_pod_previous_and_deployment(cluster: FakeCluster) -> None:
    text = "".join(f"line {i} ERROR x\n" if i % 2 else f"line {i} ok\n" for i in range(30))
    cluster.set_logs("production", text, deployment="retail-backend-blue")
    cluster.set_logs("production", "previous crash: OutOfMemoryError\n", deployment="retail-backend-blue",
                     previous=True)
    sel = kp(cluster, "logs", "-l", "app=retail-backend,deployment=blue").stdout.splitlines()
    assert len(sel) == 3 * 10  # three pods, kubectl's default tail of 10 with a selector
    tailed = kp(cluster, "logs", "-l", "deployment=blue", "--tail=2").stdout.splitlines()
    assert tailed == ["line 28 ok", "line 29 ERROR x"] * 3
    pod = cluster.pods("production", {"deployment": "blue"})[0]["metadata"]["name"]
    assert kp(cluster, "logs", pod).stdout == text
    assert kp(cluster, "logs", pod, "--previous").stdout == "previous crash: OutOfMemoryError\n"
    assert kp(cluster, "logs", pod, "-p").stdout == "previous crash: OutOfMemoryError\n"
    dep = kp(cluster, "logs", "deploy/retail-backend-blue", "--tail=1")
    assert dep.stdout == "line 29 ERROR x\n" and dep.stderr.startswith("Found 3 pods, using pod/")
    other = cluster.pods("production", {"app": "retail-admin-web"})[0]["metadata"]["name"]
    none = kp(cluster, "logs", other, "--previous")
    assert none.returncode == 1 and "previous terminated container" in none.stderr


def test_exec_dependency_health(cluster: FakeCluster) -> None:
    cmd = ("exec", "-it", "deploy/retail-backend", "--", "curl", "-sf")
    up = kp(cluster, *cmd, "localhost:8080/actuator/health/mongo")
    assert (up.returncode, up.stdout) == (0, '{"status": "UP"}')
    assert "Unable to use a TTY" in up.stderr
    cluster.inject("dependency_down", "redis")
    down = kp(cluster, *cmd, "localhost:8080/actuator/health/redis")
    assert (down.returncode, down.stdout) == (22, "")
    assert down.stderr.strip().endswith("command terminated with exit code 22")
    cluster.set_exec("redis-cli", stdout="PONG\n")
    assert kp(cluster, "exec", "deploy/retail-backend", "--", "redis-cli", "ping").stdout == "PONG\n"


def test_certificates_top_events_cluster_info(cluster: FakeCluster) -> None:
    cluster.add_certificate("production", "api-tls", ["api.example.com"], not_after="2026-12-01T00:00:00Z")
    certs = json.loads(kp(cluster, "get", "certificates", "-o", "json").stdout)
    cert = certs["items"][0]
    assert (cert["apiVersion"], cert["kind"]) == ("cert-manager.io/v1", "Certificate")
    assert cert["status"]["notAfter"] == "2026-12-01T00:00:00Z"
    assert cert["status"]["conditions"][0]["type"] == "Ready"
    table = kp(cluster, "get", "certificates").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "SECRET", "AGE"] and table[1].split()[:3] == ["api-tls", "True",
                                                                                                "api-tls"]
    described = kp(cluster, "describe", "certificate", "api-tls").stdout
    assert "Not After:" in described and "2026-12-01T00:00:00Z" in described
    assert kp(cluster, "delete", "certificate", "api-tls").stdout == \
        'certificate.cert-manager.io "api-tls" deleted\n'
    cluster.set_top("production", "950m", "1900Mi", deployment="retail-backend-blue")
    top = kp(cluster, "top", "pods").stdout.splitlines()
    assert top[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert any(line.split()[1:] == ["950m", "1900Mi"] for line in top if "retail-backend-blue" in line)
    events = kp(cluster, "get", "events").stdout.splitlines()
    assert events[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    assert any("ScalingReplicaSet" in e for e in events)
    info = kp(cluster, "cluster-info")
    assert info.returncode == 0 and "Kubernetes control plane is running at" in info.stdout


# ------------------------------------------------------------------ generic faults

def test_hang_until_killed_and_interrupt(cluster: FakeCluster) -> None:
    cluster.inject("hang", match="rollout status")
    proc = subprocess.Popen(["kubectl", *PROD, "rollout", "status", "deployment/retail-backend"],
                            env=cluster.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=1.5)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 130
    proc.communicate()
    assert cluster.calls()[-1]["exit"] is None
    # the hang holds no lock: other invocations run meanwhile
    assert kp(cluster, "get", "deploy", "retail-backend", "-o", "name").returncode == 0


# ------------------------------------------------------------------ helm

def test_helm_upgrade_install_then_upgrade(cluster: FakeCluster) -> None:
    base = ("--namespace", "staging", "--kube-context", "retail-staging")
    first = helm(cluster, "upgrade", "--install", "retail-backend", "./retail-backend", *base,
                 "--set", "image.tag=1.0.1", "--set", "environment=staging", "--atomic", "--wait", "--timeout", "5m")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith('Release "retail-backend" does not exist. Installing it now.\nNAME: retail-backend\n')
    assert "STATUS: deployed\nREVISION: 1\n" in first.stdout
    assert cluster.image("staging", "retail-backend") == f"{REG}/retail-backend:1.0.1"
    second = helm(cluster, "upgrade", "--install", "retail-backend", "./retail-backend", *base,
                  "--set", "image.tag=1.0.2")
    assert second.stdout.startswith('Release "retail-backend" has been upgraded. Happy Helming!\n')
    status = json.loads(helm(cluster, "status", "retail-backend", "-n", "staging", "--kube-context",
                             "retail-staging", "-o", "json").stdout)
    assert (status["name"], status["version"], status["info"]["status"]) == ("retail-backend", 2, "deployed")
    assert status["config"] == {"image": {"tag": "1.0.2"}}
    listed = json.loads(helm(cluster, "list", "-n", "staging", "--kube-context", "retail-staging",
                             "-o", "json").stdout)
    assert listed == [{"name": "retail-backend", "namespace": "staging", "revision": "2",
                       "updated": listed[0]["updated"], "status": "deployed",
                       "chart": "retail-backend-0.1.0", "app_version": "1.0.2"}]
    history = json.loads(helm(cluster, "history", "retail-backend", "-n", "staging", "--kube-context",
                              "retail-staging", "-o", "json").stdout)
    assert [(h["revision"], h["status"], h["description"]) for h in history] == [
        (1, "superseded", "Install complete"), (2, "deployed", "Upgrade complete")]
    rollback = helm(cluster, "rollback", "retail-backend", "-n", "staging", "--kube-context", "retail-staging")
    assert rollback.stdout == "Rollback was a success! Happy Helming!\n"
    assert cluster.image("staging", "retail-backend") == f"{REG}/retail-backend:1.0.1"
    latest = cluster.helm_release("staging", "retail-backend")
    assert latest is not None and (latest["revision"], latest["description"]) == (3, "Rollback to 1")


def test_helm_atomic_failure_rolls_back(cluster: FakeCluster) -> None:
    base = ("-n", "staging", "--kube-context", "retail-staging")
    helm(cluster, "upgrade", "--install", "retail-backend", "chart", *base, "--set", "image.tag=1.0.1")
    cluster.inject("crashloop", image=f"{REG}/retail-backend:1.0.2")
    res = helm(cluster, "upgrade", "--install", "retail-backend", "chart", *base, "--set", "image.tag=1.0.2",
               "--atomic", "--timeout", "5m")
    assert res.returncode == 1
    assert res.stderr.strip() == ("Error: UPGRADE FAILED: release retail-backend failed, and has been rolled back "
                                  "due to atomic being set: context deadline exceeded")
    assert cluster.image("staging", "retail-backend") == f"{REG}/retail-backend:1.0.1"
    assert [(r["revision"], r["status"]) for r in cluster.helm_history("staging", "retail-backend")] == [
        (1, "superseded"), (2, "failed"), (3, "deployed")]


def test_helm_failure_without_atomic_leaves_failed_release(cluster: FakeCluster) -> None:
    base = ("-n", "staging", "--kube-context", "retail-staging")
    helm(cluster, "upgrade", "--install", "retail-backend", "chart", *base, "--set", "image.tag=1.0.1")
    cluster.inject("helm_fail", "retail-backend", message="timed out waiting for the condition")
    res = helm(cluster, "upgrade", "retail-backend", "chart", *base, "--set", "image.tag=1.0.2")
    assert res.returncode == 1
    assert res.stderr.strip() == "Error: UPGRADE FAILED: timed out waiting for the condition"
    latest = cluster.helm_release("staging", "retail-backend")
    assert latest is not None and latest["status"] == "failed"


def test_helm_pending_release_blocks_upgrades_and_hides_from_default_list(cluster: FakeCluster) -> None:
    base = ("-n", "staging", "--kube-context", "retail-staging")
    helm(cluster, "upgrade", "--install", "retail-backend", "chart", *base, "--set", "image.tag=1.0.1")
    cluster.inject("helm_pending", "retail-backend")
    blocked = helm(cluster, "upgrade", "--install", "retail-backend", "chart", *base, "--set", "image.tag=1.0.2")
    assert blocked.returncode == 1
    assert blocked.stderr.strip() == ("Error: UPGRADE FAILED: another operation (install/upgrade/rollback) "
                                      "is in progress")
    assert json.loads(helm(cluster, "list", *base, "-o", "json").stdout) == []
    pending = json.loads(helm(cluster, "list", *base, "--pending", "-o", "json").stdout)
    assert [p["status"] for p in pending] == ["pending-upgrade"]
    status = json.loads(helm(cluster, "status", "retail-backend", *base, "-o", "json").stdout)
    assert status["info"]["status"] == "pending-upgrade"
    recovered = helm(cluster, "rollback", "retail-backend", "1", *base)
    assert recovered.returncode == 1  # helm refuses while pending; the product must report the way out


def test_helm_requires_known_context_and_release(cluster: FakeCluster) -> None:
    res = helm(cluster, "status", "retail-backend", "-n", "staging", "--kube-context", "nope")
    assert res.returncode == 1 and 'context "nope" does not exist' in res.stderr
    res = helm(cluster, "status", "retail-backend", "-n", "staging", "--kube-context", "retail-staging")
    assert (res.returncode, res.stderr.strip()) == (1, "Error: release: not found")


# ------------------------------------------------------------------ ClusterHTTP

def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read().decode()
            return resp.status, json.loads(body) if body.startswith("{") else body
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode())


def test_cluster_http_follows_the_service_selector(cluster: FakeCluster) -> None:
    new = f"{REG}/retail-backend:1.0.1"
    with ClusterHTTP(cluster) as http:
        api = http.service_url("production", "retail-backend")
        assert _get(api + "/api/v1/version") == (200, {"version": "1.0.0"})
        kp(cluster, "scale", "deployment", "retail-backend-green", "--replicas=3")
        kp(cluster, "set", "image", "deployment/retail-backend-green", f"retail-backend={new}")
        green = http.deployment_url("production", "retail-backend-green")
        assert _get(green + "/api/v1/version") == (200, {"version": "1.0.1"})
        assert _get(api + "/api/v1/version") == (200, {"version": "1.0.0"})  # still blue
        kp(cluster, "patch", "service", "retail-backend", "-p", '{"spec":{"selector":{"deployment":"green"}}}')
        assert _get(api + "/api/v1/version") == (200, {"version": "1.0.1"})
        assert _get(api + "/api/v1/health") == (200, {"status": "UP"})
        cluster.inject("bad_image", new)
        assert _get(api + "/api/v1/health") == (503, {"status": "DOWN"})
        assert _get(api + "/actuator/health") == (503, {"status": "DOWN"})
        web = http.platform_urls("production")["retail-consumer-web"]
        assert _get(web + "/")[0] == 200
        assert http.requests("production", "retail-backend")[-1] == "/actuator/health"


def test_cluster_http_old_version_serves_during_a_stuck_rollout(cluster: FakeCluster) -> None:
    cluster.inject("rollout_timeout", "retail-backend")
    with ClusterHTTP(cluster) as http:
        url = http.service_url("staging", "retail-backend")
        k(cluster, *STAGING, "set", "image", "deployment/retail-backend", f"retail-backend={REG}/retail-backend:2.0.0")
        assert _get(url + "/api/v1/version") == (200, {"version": "1.0.0"})


def test_cluster_http_answers_concurrently(cluster: FakeCluster) -> None:
    with ClusterHTTP(cluster) as http:
        url = http.service_url("production", "retail-backend") + "/api/v1/health"
        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(_get(url)[0])) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        assert results == [200] * 8


def test_doubles_are_executable_python_scripts() -> None:
    for name in ("kubectl", "helm"):
        path = BIN_DIR / name
        assert os.access(path, os.X_OK)
        assert path.read_text().splitlines()[0] == "#!/usr/bin/env python3"


def test_create_and_replace_from_stdin_with_optimistic_concurrency(cluster: FakeCluster) -> None:
    lock = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "deploy-lock", "labels": {"app.kubernetes.io/managed-by": "retail-deploy"}},
            "data": {"holder": "alice"}}
    assert kp(cluster, "create", "-f", "-", stdin=json.dumps(lock)).stdout == "configmap/deploy-lock created\n"
    taken = kp(cluster, "create", "-f", "-", stdin=json.dumps(lock))
    assert taken.returncode == 1
    assert taken.stderr.strip() == ('Error from server (AlreadyExists): error when creating "STDIN": '
                                    'configmaps "deploy-lock" already exists')
    current = json.loads(kp(cluster, "get", "configmap", "deploy-lock", "-o", "json").stdout)
    assert current["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "retail-deploy"}
    stale = dict(current, data={"holder": "bob"})
    ok = kp(cluster, "replace", "-f", "-", stdin=json.dumps(stale))
    assert ok.stdout == "configmap/deploy-lock replaced\n"
    conflict = kp(cluster, "replace", "-f", "-", stdin=json.dumps(dict(current, data={"holder": "carol"})))
    assert conflict.returncode == 1 and conflict.stderr.startswith("Error from server (Conflict): ")
    cm = cluster.configmap("production", "deploy-lock")
    assert cm is not None and cm["data"] == {"holder": "bob"}


def test_annotate_and_label(cluster: FakeCluster) -> None:
    cluster.add_configmap("production", "deploy-audit", {"last": "1.0.0"})
    assert kp(cluster, "annotate", "configmap", "deploy-audit", "by=alice").stdout == \
        "configmap/deploy-audit annotated\n"
    refused = kp(cluster, "annotate", "configmap", "deploy-audit", "by=bob")
    assert refused.returncode == 1 and "--overwrite is false" in refused.stderr
    assert kp(cluster, "annotate", "configmap/deploy-audit", "by=bob", "--overwrite").returncode == 0
    assert kp(cluster, "label", "configmap", "deploy-audit", "env=production").stdout == \
        "configmap/deploy-audit labeled\n"
    cm = cluster.configmap("production", "deploy-audit")
    assert cm is not None
    assert (cm["metadata"]["annotations"], cm["metadata"]["labels"]) == ({"by": "bob"}, {"env": "production"})


def test_events_sort_and_kubelet_warnings(cluster: FakeCluster) -> None:
    cluster.inject("crashloop", "retail-backend", namespace="production")
    events = json.loads(kp(cluster, "get", "events", "--sort-by=.lastTimestamp", "-o", "json").stdout)["items"]
    stamps = [e["lastTimestamp"] for e in events]
    assert stamps == sorted(stamps)
    backoff = [e for e in events if e["reason"] == "BackOff"]
    assert backoff and backoff[0]["type"] == "Warning" and backoff[0]["involvedObject"]["kind"] == "Pod"
    assert backoff[0]["message"].startswith("Back-off restarting failed container retail-backend in pod ")


def test_retail_platform_data_stores_answer_execs(cluster: FakeCluster) -> None:
    assert kp(cluster, "exec", "deploy/redis", "--", "redis-cli", "ping").stdout == "PONG\n"
    stats = kp(cluster, "exec", "deploy/retail-backend", "--", "sh", "-c",
               'mongosh "$MONGODB_URI" --quiet --eval "JSON.stringify(db.stats())"')
    assert json.loads(stats.stdout)["ok"] == 1
    cluster.set_exec("ping", exit=1, stderr="Could not connect to Redis at redis:6379: Connection refused")
    down = kp(cluster, "exec", "deploy/retail-backend", "--", "sh", "-c", 'redis-cli -u "$REDIS_URL" ping')
    assert down.returncode == 1
    assert down.stderr == ("Could not connect to Redis at redis:6379: Connection refused\n"
                           "command terminated with exit code 1\n")
    missing = kp(cluster, "exec", "deploy/elastic", "--", "true")
    assert missing.returncode == 1 and 'deployments.apps "elastic" not found' in missing.stderr


def test_helm_values_files_and_chart_metadata(cluster: FakeCluster, tmp_path: Path) -> None:
    chart = tmp_path / "retail-backend"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: retail-backend\nversion: 2.3.0\nappVersion: '1.0.0'\n")
    values = tmp_path / "values-staging.yaml"
    values.write_text("image:\n  repository: registry.example.com/retail-backend\n  tag: '1.0.0'\nreplicas: 2\n")
    base = ("-n", "staging", "--kube-context", "retail-staging")
    res = helm(cluster, "upgrade", "--install", "retail-backend", str(chart), *base, "-f", str(values),
               "--set", "image.tag=1.0.3")
    assert res.returncode == 0, res.stderr
    release = cluster.helm_release("staging", "retail-backend")
    assert release is not None
    assert (release["chart_name"], release["chart_version"], release["app_version"]) == (
        "retail-backend", "2.3.0", "1.0.0")
    assert release["values"] == {"image": {"repository": f"{REG}/retail-backend", "tag": "1.0.3"}, "replicas": 2}
    assert cluster.image("staging", "retail-backend") == f"{REG}/retail-backend:1.0.3"
    missing = helm(cluster, "upgrade", "--install", "retail-backend", str(chart), *base, "-f", "nope.yaml")
    assert (missing.returncode, missing.stderr.strip()) == (1, "Error: open nope.yaml: no such file or directory")
    cluster.set_setting("helm_require_chart_path", True)
    no_chart = helm(cluster, "upgrade", "--install", "retail-backend", "./retail-backend", *base)
    assert (no_chart.returncode, no_chart.stderr.strip()) == (1, 'Error: path "./retail-backend" not found')


def test_rollouts_can_take_time_like_real_ones(cluster: FakeCluster) -> None:
    """With rollout_seconds, `--watch=false` sees an unfinished rollout (exit 0) while the old pods
    serve; `rollout status` waits for it within --timeout."""
    cluster.set_setting("rollout_seconds", 4.0)
    with ClusterHTTP(cluster) as http:
        url = http.service_url("staging", "retail-backend") + "/api/v1/version"
        k(cluster, *STAGING, "set", "image", "deployment/retail-backend", f"retail-backend={REG}/retail-backend:1.1.0")
        peek = k(cluster, *STAGING, "rollout", "status", "deployment/retail-backend", "--watch=false")
        assert peek.returncode == 0 and peek.stdout.startswith('Waiting for deployment "retail-backend"')
        assert _get(url) == (200, {"version": "1.0.0"})
        short = k(cluster, *STAGING, "rollout", "status", "deployment/retail-backend", "--timeout=1s")
        assert (short.returncode, short.stderr.strip()) == (1, "error: timed out waiting for the condition")
        done = k(cluster, *STAGING, "rollout", "status", "deployment/retail-backend", "--timeout=1m")
        assert done.returncode == 0
        assert done.stdout.endswith('deployment "retail-backend" successfully rolled out\n')
        assert _get(url) == (200, {"version": "1.1.0"})


def test_product_runner_drives_the_doubles(cluster: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through retail_deploy.execute.Runner (the product's only execution boundary): output parses,
    failures raise CommandFailed with kubectl's message, a hang ends at the runner's timeout."""
    from invoke import Context

    from retail_deploy.commands import cmd
    from retail_deploy.errors import CommandFailed
    from retail_deploy.execute import Runner

    monkeypatch.setenv("FAKE_KUBE_STATE", str(cluster.path))
    monkeypatch.setenv("PATH", cluster.path_env())
    runner = Runner(Context(), default_timeout=3, dry=False)
    colour = runner.probe(cmd("kubectl", *PROD, "get", "service", "retail-backend", "-o",
                              "jsonpath={.spec.selector.deployment}", read_only=True))
    assert colour.stdout == "blue"
    patch = '{"spec":{"selector":{"deployment":"green"}}}'
    cluster.inject("fail_command", match=patch, stderr="error: the server was unable to return a response",
                   times=1)
    with pytest.raises(CommandFailed, match="unable to return a response"):
        runner.run(cmd("kubectl", *PROD, "patch", "service", "retail-backend", "-p", patch), hide=True)
    assert cluster.selector("production", "retail-backend")["deployment"] == "blue"
    cluster.inject("hang", match="rollout status")
    with pytest.raises(CommandFailed, match="no answer within"):
        runner.run(cmd("kubectl", *PROD, "rollout", "status", "deployment/retail-backend"), hide=True, timeout=1)


def test_fixtures_point_the_product_at_the_fake_platform(fake_cluster: FakeCluster,
                                                         platform_config_file: Path) -> None:
    """The shared fixtures wire the product's CLI to the doubles: health checks reach the state."""
    import sys

    def health() -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
        return subprocess.run([sys.executable, "-m", "retail_deploy", "health.check", "--env", "production"],
                              check=False, env=env, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    ok = health()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    fake_cluster.inject("bad_image", f"{REG}/retail-backend:1.0.0")
    bad = health()
    assert bad.returncode == 1 and "/api/v1/health" in bad.stderr


def test_wait_for_condition_and_helm_get_values(cluster: FakeCluster) -> None:
    met = kp(cluster, "wait", "--for=condition=Available", "deployment/retail-backend-blue", "--timeout=1m")
    assert (met.returncode, met.stdout) == (0, "deployment.apps/retail-backend-blue condition met\n")
    cluster.inject("progress_deadline", "retail-backend")
    kp(cluster, "set", "image", "deployment/retail-backend", f"retail-backend={REG}/retail-backend:9.9.9")
    stuck = kp(cluster, "wait", "--for=condition=Progressing", "deployment/retail-backend", "--timeout=1m")
    assert stuck.returncode == 1
    assert stuck.stderr.strip() == "error: timed out waiting for the condition on deployments/retail-backend"
    base = ("-n", "staging", "--kube-context", "retail-staging")
    helm(cluster, "upgrade", "--install", "retail-backend", "chart", *base, "--set", "image.tag=1.0.7")
    assert json.loads(helm(cluster, "get", "values", "retail-backend", *base, "-o", "json").stdout) == {
        "image": {"tag": "1.0.7"}}


def test_describe_deployment_and_service(cluster: FakeCluster) -> None:
    cluster.inject("rollout_timeout", "retail-backend-blue")
    kp(cluster, "set", "image", "deployment/retail-backend-blue", f"retail-backend={REG}/retail-backend:1.0.1")
    dep = kp(cluster, "describe", "deployment", "retail-backend-blue").stdout
    assert "Replicas:               3 desired | 3 updated | 6 total | 3 available | 3 unavailable" in dep
    assert "OldReplicaSets:  retail-backend-blue-" in dep and "(3/3 replicas created)" in dep
    svc = kp(cluster, "describe", "service", "retail-backend").stdout
    assert "Selector:          app=retail-backend,deployment=blue" in svc
    endpoints = next(line for line in svc.splitlines() if line.startswith("Endpoints:")).split()[1]
    assert len(endpoints.split(",")) == 3  # only the ready (old) pods are endpoints


def test_auth_can_i_reflects_refused_patches(cluster: FakeCluster) -> None:
    assert (kp(cluster, "auth", "can-i", "patch", "services/retail-backend").stdout) == "yes\n"
    cluster.inject("patch_refused", "retail-backend")
    denied = kp(cluster, "auth", "can-i", "patch", "services/retail-backend")
    assert (denied.returncode, denied.stdout) == (1, "no\n")
    assert kp(cluster, "auth", "can-i", "get", "pods").stdout == "yes\n"
