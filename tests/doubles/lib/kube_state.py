"""State of the fake cluster: one JSON file, read and written under an fcntl lock.

Shared by the `kubectl`/`helm` doubles (tests/doubles/bin) and the test API (tests/doubles/cluster.py).
Objects are stored in the shapes the API server returns (apps/v1 Deployment, ReplicaSet, v1 Pod, ...),
so `get -o json` can print them as they are. `reconcile()` plays the deployment and ReplicaSet
controllers: it creates ReplicaSets for new pod templates, numbers revisions, creates pods and
computes status from the injected faults. It runs at the start of every invocation.

This module must import nothing from the repository: the doubles run as plain scripts.
"""

from __future__ import annotations

import copy
import datetime as _dt
import fcntl
import hashlib
import json
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

STATE_ENV = "FAKE_KUBE_STATE"
KINDS = ("deployments", "replicasets", "pods", "services", "configmaps", "certificates")
# Fault kinds whose image is bound at the next rollout of their target deployment.
ROLLOUT_FAULTS = ("rollout_timeout", "progress_deadline")
FAULT_KINDS = (
    "rollout_timeout", "progress_deadline", "crashloop", "bad_image", "patch_refused", "helm_pending",
    "helm_fail", "fail_command", "hang", "dependency_down",
)
DEFAULT_SETTINGS = {
    # `rollout status --timeout=T` on a stuck rollout sleeps min(T, this) before timing out.
    "rollout_wait_cap": 1.0,
    # `helm upgrade --wait --timeout T` on a failing rollout sleeps min(T, this).
    "helm_wait_cap": 1.0,
    # A stuck `rollout status` without --timeout waits forever, like kubectl (False: cap then time out).
    "hang_without_timeout": True,
    # Real helm fails on a local chart path that does not exist; off by default (tests rarely ship charts).
    "helm_require_chart_path": False,
    # Seconds a new ReplicaSet's pods take to become ready (0: at once). During that time the rollout
    # is in progress: `rollout status` waits (or reports, with --watch=false) and the old pods serve.
    "rollout_seconds": 0.0,
    # Safety net: a hanging double (hang fault, endless rollout status) exits 1 after this many seconds,
    # so a caller that never kills it leaves no process behind.
    "hang_limit": 300.0,
}


def empty_state() -> dict[str, Any]:
    return {
        "contexts": {},
        "namespaces": {},
        "objects": {kind: {} for kind in KINDS},
        "events": [],
        "faults": [],
        "logs": {},
        "top": {},
        "dependencies": {},
        "exec": [],
        "helm": {},
        "activated": {},
        "settings": dict(DEFAULT_SETTINGS),
        "seq": 0,
        "resource_version": 1000,
        "calls": [],
    }


# ---------------------------------------------------------------- file + lock

@contextmanager
def locked(path: str, write: bool = True) -> Iterator[dict[str, Any]]:
    """Yield the state with an exclusive (or shared) lock held; save it back when `write`."""
    lock_path = path + ".lock"
    with open(lock_path, "a+") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        try:
            state = load(path)
            yield state
            if write:
                tmp = f"{path}.{os.getpid()}.tmp"
                with open(tmp, "w") as handle:
                    # no indent: json's C encoder only runs without one (3x faster on big states)
                    handle.write(json.dumps(state, separators=(",", ":")))
                os.replace(tmp, path)
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def load(path: str) -> dict[str, Any]:
    try:
        with open(path) as handle:
            text = handle.read()
    except FileNotFoundError:
        return empty_state()
    if not text.strip():
        return empty_state()
    state = json.loads(text)
    base = empty_state()
    for key, value in base.items():
        state.setdefault(key, value)
    for kind in KINDS:
        state["objects"].setdefault(kind, {})
    for key, value in DEFAULT_SETTINGS.items():
        state["settings"].setdefault(key, value)
    return state


# ---------------------------------------------------------------- small helpers

def now() -> float:
    return time.time()


def iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    return _dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.UTC).timestamp()


def key(ns: str, name: str) -> str:
    return f"{ns}/{name}"


def next_rv(state: dict[str, Any]) -> str:
    state["resource_version"] += 1
    return str(state["resource_version"])


def next_seq(state: dict[str, Any]) -> int:
    state["seq"] += 1
    return int(state["seq"])


def new_uid() -> str:
    raw = "".join(random.choice("0123456789abcdef") for _ in range(32))
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # k8s rand.SafeEncodeString alphabet


def suffix(n: int) -> str:
    return "".join(random.choice(_SAFE) for _ in range(n))


def template_hash(template: dict[str, Any]) -> str:
    """A stable pod-template-hash (10 chars of the safe alphabet), ignoring that label itself."""
    tmpl = copy.deepcopy(template)
    tmpl.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    digest = hashlib.sha256(json.dumps(tmpl, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def labels_match(labels: dict[str, str], selector: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def meta(state: dict[str, Any], ns: str | None, name: str, labels: dict[str, str] | None = None,
         ts: float | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if ns is not None:
        md["namespace"] = ns
    md["uid"] = new_uid()
    md["resourceVersion"] = next_rv(state)
    md["creationTimestamp"] = iso(ts if ts is not None else now())
    if labels:
        md["labels"] = dict(labels)
    return md


def image_tag(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return last.split("@", 1)[1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def context_sees(state: dict[str, Any], context: str, ns: str) -> bool:
    ctx = state["contexts"].get(context) or {}
    allowed = ctx.get("namespaces")
    return allowed is None or ns in allowed


# ---------------------------------------------------------------- faults

def matching_faults(state: dict[str, Any], kind: str, target: str | None = None) -> list[dict[str, Any]]:
    out = []
    for fault in state["faults"]:
        if fault["kind"] != kind:
            continue
        if target is not None and fault.get("target") not in (None, target):
            continue
        out.append(fault)
    return out


def consume(state: dict[str, Any], fault: dict[str, Any]) -> None:
    """Count one use of a fault with `times`; drop it when used up."""
    times = fault.get("times")
    if times is None:
        return
    fault["times"] = times - 1
    if fault["times"] <= 0:
        state["faults"] = [f for f in state["faults"] if f is not fault]


def template_health(state: dict[str, Any], ns: str, deployment: str, image: str) -> dict[str, Any] | None:
    """The fault that keeps pods of (deployment, image) from becoming ready, or None if healthy."""
    for kind in ("progress_deadline", "rollout_timeout", "crashloop"):
        for fault in state["faults"]:
            if fault["kind"] != kind:
                continue
            kw = fault.get("kw", {})
            if fault.get("target") not in (None, deployment):
                continue
            if kw.get("namespace") not in (None, ns):
                continue
            if kw.get("image") is None:
                continue  # not bound yet (bound at the next rollout, or at injection for crashloop)
            if kw["image"] == image:
                return fault
    return None


def ready_at(state: dict[str, Any], ns: str, rs_name: str) -> float:
    """When the pods of a ReplicaSet become ready (its activation plus `rollout_seconds`)."""
    activated = state.get("activated", {}).get(key(ns, rs_name), 0.0)
    return float(activated) + float(state["settings"].get("rollout_seconds", 0.0))


def rollout_remaining(state: dict[str, Any], dep: dict[str, Any]) -> float:
    """Seconds until the current ReplicaSet of a healthy rollout is ready (0 when it is)."""
    md = dep["metadata"]
    h = template_hash(dep["spec"]["template"])
    for rs in owned_replicasets(state, md["namespace"], md["name"]):
        if rs["metadata"]["labels"].get("pod-template-hash") == h:
            return max(0.0, ready_at(state, md["namespace"], rs["metadata"]["name"]) - now())
    return 0.0


def image_is_bad(state: dict[str, Any], image: str) -> bool:
    return any(f["kind"] == "bad_image" and f.get("target") == image for f in state["faults"])


# ---------------------------------------------------------------- events

def add_event(state: dict[str, Any], ns: str, kind: str, name: str, reason: str, message: str,
              type_: str = "Normal", component: str = "deployment-controller") -> None:
    ts = iso(now())
    for ev in state["events"]:
        inv = ev["involvedObject"]
        if (ev["metadata"]["namespace"] == ns and inv["kind"] == kind and inv["name"] == name
                and ev["reason"] == reason and ev["message"] == message):
            ev["count"] += 1
            ev["lastTimestamp"] = ts
            return
    api = {"Deployment": "apps/v1", "ReplicaSet": "apps/v1"}.get(kind, "v1")
    if kind == "Certificate":
        api = "cert-manager.io/v1"
    ev_name = f"{name}.{random.getrandbits(64):x}"[:63]
    state["events"].append({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": ev_name, "namespace": ns, "uid": new_uid(), "resourceVersion": next_rv(state),
                     "creationTimestamp": ts},
        "involvedObject": {"apiVersion": api, "kind": kind, "name": name, "namespace": ns},
        "reason": reason, "message": message, "type": type_, "count": 1,
        "firstTimestamp": ts, "lastTimestamp": ts, "source": {"component": component},
        "reportingComponent": component, "reportingInstance": "",
    })


# ---------------------------------------------------------------- controllers

def owned_replicasets(state: dict[str, Any], ns: str, deployment: str) -> list[dict[str, Any]]:
    out = []
    for rs in state["objects"]["replicasets"].values():
        md = rs["metadata"]
        if md["namespace"] != ns:
            continue
        if any(o["kind"] == "Deployment" and o["name"] == deployment for o in md.get("ownerReferences", [])):
            out.append(rs)
    return sorted(out, key=revision_of)


def revision_of(obj: dict[str, Any]) -> int:
    return int(obj["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0"))


def owned_pods(state: dict[str, Any], ns: str, rs_name: str) -> list[dict[str, Any]]:
    return [p for p in state["objects"]["pods"].values()
            if p["metadata"]["namespace"] == ns
            and any(o["name"] == rs_name for o in p["metadata"].get("ownerReferences", []))]


def pod_deployment(state: dict[str, Any], pod: dict[str, Any]) -> str | None:
    """The deployment owning a pod (through its ReplicaSet)."""
    ns = pod["metadata"]["namespace"]
    for owner in pod["metadata"].get("ownerReferences", []):
        rs = state["objects"]["replicasets"].get(key(ns, owner["name"]))
        if rs:
            for o in rs["metadata"].get("ownerReferences", []):
                return str(o["name"])
    return None


def _bind_rollout_faults(state: dict[str, Any], ns: str, deployment: str, image: str) -> None:
    for fault in state["faults"]:
        kw = fault.setdefault("kw", {})
        if (fault["kind"] in ROLLOUT_FAULTS and fault.get("target") == deployment
                and kw.get("image") is None and kw.get("namespace") in (None, ns)):
            kw["image"] = image


def _new_replicaset(state: dict[str, Any], dep: dict[str, Any], h: str, revision: int) -> dict[str, Any]:
    md = dep["metadata"]
    ns, name = md["namespace"], md["name"]
    template = copy.deepcopy(dep["spec"]["template"])
    template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
    selector = copy.deepcopy(dep["spec"]["selector"])
    selector.setdefault("matchLabels", {})["pod-template-hash"] = h
    rs_meta = meta(state, ns, f"{name}-{h}", template["metadata"]["labels"])
    rs_meta["annotations"] = {
        "deployment.kubernetes.io/desired-replicas": str(dep["spec"].get("replicas", 1)),
        "deployment.kubernetes.io/max-replicas": str(dep["spec"].get("replicas", 1) + 1),
        "deployment.kubernetes.io/revision": str(revision),
    }
    rs_meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                   "uid": md["uid"], "controller": True, "blockOwnerDeletion": True}]
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": rs_meta,
          "spec": {"replicas": 0, "selector": selector, "template": template},
          "status": {"replicas": 0, "observedGeneration": 1}}
    state["objects"]["replicasets"][key(ns, rs_meta["name"])] = rs
    return rs


def _new_pod(state: dict[str, Any], rs: dict[str, Any]) -> dict[str, Any]:
    md = rs["metadata"]
    ns = md["namespace"]
    name = f"{md['name']}-{suffix(5)}"
    template = rs["spec"]["template"]
    pod_meta = meta(state, ns, name, template["metadata"].get("labels"))
    pod_meta["generateName"] = md["name"] + "-"
    pod_meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": md["name"],
                                    "uid": md["uid"], "controller": True, "blockOwnerDeletion": True}]
    spec = copy.deepcopy(template.get("spec", {}))
    spec.update({"nodeName": "fake-node-1", "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                 "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30})
    n = len(state["objects"]["pods"]) % 250 + 2
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec,
           "status": {"phase": "Pending", "hostIP": "127.0.0.1", "podIP": f"127.0.1.{n}",
                      "podIPs": [{"ip": f"127.0.1.{n}"}], "qosClass": "BestEffort",
                      "startTime": pod_meta["creationTimestamp"]}}
    state["objects"]["pods"][key(ns, name)] = pod
    add_event(state, ns, "ReplicaSet", md["name"], "SuccessfulCreate", f"Created pod: {name}",
              component="replicaset-controller")
    return pod


def _pod_status(state: dict[str, Any], pod: dict[str, Any], deployment: str | None) -> None:
    ns = pod["metadata"]["namespace"]
    containers = pod["spec"].get("containers", [])
    fault = None
    if deployment is not None and containers:
        fault = template_health(state, ns, deployment, containers[0].get("image", ""))
        owner = (pod["metadata"].get("ownerReferences") or [{}])[0].get("name", "")
        if fault is None and ready_at(state, ns, owner) > now():
            fault = {"kind": "starting", "kw": {}}  # still starting up: running, not ready yet
    started = pod["metadata"]["creationTimestamp"]
    statuses = []
    ready_all = True
    for c in containers:
        st: dict[str, Any] = {"name": c["name"], "image": c.get("image", ""),
                              "imageID": "", "containerID": "containerd://" + hashlib.sha256(
                                  (pod["metadata"]["name"] + c["name"]).encode()).hexdigest(),
                              "started": True, "ready": True, "restartCount": 0,
                              "state": {"running": {"startedAt": started}}, "lastState": {}}
        if fault is not None and fault["kind"] == "crashloop":
            kw = fault.get("kw", {})
            oom = bool(kw.get("oom"))
            st.update({
                "ready": False, "started": False, "restartCount": int(kw.get("restarts", 5)),
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message":
                                      f"back-off 5m0s restarting failed container={c['name']} "
                                      f"pod={pod['metadata']['name']}_{ns}({pod['metadata']['uid']})"}},
                "lastState": {"terminated": {"exitCode": 137 if oom else 1,
                                             "reason": "OOMKilled" if oom else "Error",
                                             "startedAt": started, "finishedAt": started,
                                             "containerID": st["containerID"]}},
            })
            ready_all = False
            add_event(state, ns, "Pod", pod["metadata"]["name"], "BackOff",
                      f"Back-off restarting failed container {c['name']} in pod "
                      f"{pod['metadata']['name']}_{ns}({pod['metadata']['uid']})", "Warning", "kubelet")
        elif fault is not None:
            st["ready"] = False  # running, readiness probe never passes
            ready_all = False
            if fault["kind"] != "starting":
                add_event(state, ns, "Pod", pod["metadata"]["name"], "Unhealthy",
                          "Readiness probe failed: HTTP probe failed with statuscode: 503", "Warning", "kubelet")
        statuses.append(st)
    ready = "True" if ready_all else "False"
    reason = {} if ready_all else {"reason": "ContainersNotReady",
                                   "message": "containers with unready status: ["
                                   + " ".join(c["name"] for c in containers) + "]"}
    pod["status"].update({
        "phase": "Running",
        "conditions": [
            {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": started},
            {"type": "Ready", "status": ready, "lastProbeTime": None, "lastTransitionTime": started, **reason},
            {"type": "ContainersReady", "status": ready, "lastProbeTime": None,
             "lastTransitionTime": started, **reason},
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": started},
        ],
        "containerStatuses": statuses,
    })


def pod_ready(pod: dict[str, Any]) -> bool:
    sts = pod.get("status", {}).get("containerStatuses", [])
    return bool(sts) and all(s.get("ready") for s in sts)


def _scale_rs(state: dict[str, Any], rs: dict[str, Any], replicas: int, deployment: str) -> None:
    ns, name = rs["metadata"]["namespace"], rs["metadata"]["name"]
    old = rs["spec"].get("replicas", 0)
    if old != replicas:
        rs["spec"]["replicas"] = replicas
        rs["metadata"]["resourceVersion"] = next_rv(state)
        verb = "up" if replicas > old else "down"
        add_event(state, ns, "Deployment", deployment, "ScalingReplicaSet",
                  f"Scaled {verb} replica set {name} to {replicas}" + (f" from {old}" if old else ""))
    pods = sorted(owned_pods(state, ns, name), key=lambda p: p["metadata"]["creationTimestamp"])
    while len(pods) > replicas:
        victim = pods.pop()
        del state["objects"]["pods"][key(ns, victim["metadata"]["name"])]
        add_event(state, ns, "ReplicaSet", name, "SuccessfulDelete",
                  f"Deleted pod: {victim['metadata']['name']}", component="replicaset-controller")
    while len(pods) < replicas:
        pods.append(_new_pod(state, rs))
    ready = 0
    for pod in pods:
        _pod_status(state, pod, deployment)
        ready += pod_ready(pod)
    status: dict[str, Any] = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                              "readyReplicas": ready, "availableReplicas": ready,
                              "observedGeneration": rs["metadata"].get("generation", 1)}
    rs["status"] = {k: v for k, v in status.items() if v}  # the API omits zero counts (omitempty)
    rs["metadata"]["generation"] = rs["metadata"].get("generation", 1)


def reconcile_deployment(state: dict[str, Any], dep: dict[str, Any]) -> None:
    md = dep["metadata"]
    ns, name = md["namespace"], md["name"]
    spec = dep["spec"]
    h = template_hash(spec["template"])
    rss = owned_replicasets(state, ns, name)
    current = next((rs for rs in rss if rs["metadata"]["labels"].get("pod-template-hash") == h), None)
    top = max((revision_of(rs) for rs in rss), default=0)
    image = (spec["template"]["spec"].get("containers") or [{}])[0].get("image", "")
    if current is None:
        _bind_rollout_faults(state, ns, name, image)
        current = _new_replicaset(state, dep, h, top + 1)
        state.setdefault("activated", {})[key(ns, current["metadata"]["name"])] = now()
        rss.append(current)
        md.setdefault("annotations", {})["deployment.kubernetes.io/revision"] = str(top + 1)
    elif revision_of(current) < top:
        # Back to an older template (undo, or set image to an old image): it takes the next revision.
        _bind_rollout_faults(state, ns, name, image)
        current["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(top + 1)
        state.setdefault("activated", {})[key(ns, current["metadata"]["name"])] = now()
        md.setdefault("annotations", {})["deployment.kubernetes.io/revision"] = str(top + 1)
    else:
        md.setdefault("annotations", {})["deployment.kubernetes.io/revision"] = str(revision_of(current))
    replicas = int(spec.get("replicas", 1))
    fault = template_health(state, ns, name, image)
    if fault is None and ready_at(state, ns, current["metadata"]["name"]) > now():
        fault = {"kind": "starting", "kw": {}}  # rollout in progress: old pods keep serving meanwhile
    for rs in rss:
        if rs is current:
            _scale_rs(state, rs, replicas, name)
        elif fault is None:
            _scale_rs(state, rs, 0, name)
        else:
            _scale_rs(state, rs, rs["spec"].get("replicas", 0), name)  # old pods keep serving
    # Deployment status, as the deployment controller computes it.
    total = sum(rs.get("status", {}).get("replicas", 0) for rs in rss)
    updated = current.get("status", {}).get("replicas", 0)
    ready = sum(rs.get("status", {}).get("readyReplicas", 0) for rs in rss)
    available = ready
    max_unavailable = replicas // 4  # default strategy: maxUnavailable 25% (rounded down)
    ts = iso(now())
    avail_ok = available >= replicas - max_unavailable
    rs_name = current["metadata"]["name"]
    if fault is not None and fault["kind"] == "progress_deadline":
        progressing = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                       "message": f'ReplicaSet "{rs_name}" has timed out progressing.'}
    elif fault is None and updated == replicas and total == replicas:
        progressing = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                       "message": f'ReplicaSet "{rs_name}" has successfully progressed.'}
    else:
        progressing = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                       "message": f'ReplicaSet "{rs_name}" is progressing.'}
    available_cond = ({"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                       "message": "Deployment has minimum availability."} if avail_ok else
                      {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                       "message": "Deployment does not have minimum availability."})
    old_conds = {c["type"]: c for c in dep.get("status", {}).get("conditions", [])}
    conds = []
    for cond in (available_cond, progressing):
        prev = old_conds.get(cond["type"])
        same = prev is not None and prev["status"] == cond["status"] and prev["reason"] == cond["reason"]
        cond["lastUpdateTime"] = prev["lastUpdateTime"] if same and prev else ts
        cond["lastTransitionTime"] = (prev["lastTransitionTime"] if prev and prev["status"] == cond["status"]
                                      else ts)
        conds.append(cond)
    md["generation"] = md.get("generation", 1)
    status: dict[str, Any] = {
        "observedGeneration": md["generation"], "replicas": total, "updatedReplicas": updated,
        "readyReplicas": ready, "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0) if total - available > 0 else 0,
        "conditions": conds,
    }
    dep["status"] = {k: v for k, v in status.items() if v or k == "conditions"}


def reconcile(state: dict[str, Any]) -> None:
    for dep in list(state["objects"]["deployments"].values()):
        reconcile_deployment(state, dep)
    for pod in state["objects"]["pods"].values():  # standalone pods keep their seeded status
        if not pod["metadata"].get("ownerReferences"):
            continue
    # Kubernetes drops events after an hour; keep the file small.
    state["events"] = state["events"][-500:]


def bump_generation(state: dict[str, Any], obj: dict[str, Any]) -> None:
    obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
    obj["metadata"]["resourceVersion"] = next_rv(state)


# ---------------------------------------------------------------- seeding (used by cluster.py)

def make_deployment(state: dict[str, Any], ns: str, name: str, container: str, image: str, replicas: int,
                    labels: dict[str, str], port: int = 8080) -> dict[str, Any]:
    md = meta(state, ns, name, labels)
    md["generation"] = 1
    md["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": md,
        "spec": {
            "replicas": replicas, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": dict(labels)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": dict(labels)},
                "spec": {"containers": [{
                    "name": container, "image": image, "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": port, "protocol": "TCP"}], "resources": {},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                }], "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                    "securityContext": {}, "schedulerName": "default-scheduler"},
            },
        },
        "status": {},
    }


def make_service(state: dict[str, Any], ns: str, name: str, selector: dict[str, str], port: int) -> dict[str, Any]:
    n = len(state["objects"]["services"]) % 250 + 10
    return {
        "apiVersion": "v1", "kind": "Service", "metadata": meta(state, ns, name, {"app": name}),
        "spec": {"clusterIP": f"127.0.2.{n}", "clusterIPs": [f"127.0.2.{n}"], "type": "ClusterIP",
                 "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "sessionAffinity": "None", "selector": dict(selector),
                 "ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": port}]},
        "status": {"loadBalancer": {}},
    }


def make_configmap(state: dict[str, Any], ns: str, name: str, data: dict[str, str],
                   labels: dict[str, str] | None = None,
                   annotations: dict[str, str] | None = None) -> dict[str, Any]:
    md = meta(state, ns, name, labels)
    if annotations:
        md["annotations"] = dict(annotations)
    cm: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md}
    if data:
        cm["data"] = dict(data)
    return cm
