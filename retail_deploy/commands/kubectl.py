"""Pure argv builders for kubectl.

Every command pins the environment's kube context and namespace (so a production command can
never hit the cluster the current context happens to point at) and carries `--request-timeout`
(kubectl may otherwise wait forever on an unreachable API server or a credential prompt).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from retail_deploy.commands import Command, cmd

KUBECTL = "kubectl"


@dataclass(frozen=True)
class Kube:
    """Where kubectl commands go: context + namespace, and how long one API request may take."""

    context: str | None
    namespace: str
    request_timeout: str = "30s"


def _pin(kube: Kube, request_timeout: str | None = None) -> list[str]:
    pinned = ["--namespace", kube.namespace]
    if kube.context:
        pinned += ["--context", kube.context]
    pinned.append(f"--request-timeout={request_timeout or kube.request_timeout}")
    return pinned


def _k(kube: Kube, *args: str, read_only: bool = False, request_timeout: str | None = None,
       stdin: str | None = None, timeout: float | None = None) -> Command:
    return cmd(KUBECTL, *args, *_pin(kube, request_timeout), read_only=read_only, stdin=stdin,
               timeout=timeout)


def seconds(duration: float) -> str:
    """kubectl duration syntax for a number of seconds (`300s`)."""
    return f"{round(duration)}s"


# --- actions -------------------------------------------------------------------------------

def set_image(kube: Kube, deployment: str, container: str, image: str) -> Command:
    """`kubectl set image deployment/NAME CONTAINER=IMAGE` (runbook 2B / 4)."""
    return _k(kube, "set", "image", f"deployment/{deployment}", f"{container}={image}")


def rollout_status(kube: Kube, deployment: str, timeout_s: float) -> Command:
    """Wait for a rollout; exits 1 on timeout or when the progress deadline is exceeded.

    `--watch=false` would exit 0 on an unfinished rollout, so we always watch with a timeout.
    The request timeout is the rollout timeout: a shorter one would cut the watch short.
    """
    return _k(kube, "rollout", "status", f"deployment/{deployment}", f"--timeout={seconds(timeout_s)}",
              request_timeout=seconds(timeout_s), timeout=timeout_s + 30)


def rollout_undo(kube: Kube, deployment: str, to_revision: int | None = None) -> Command:
    """Restore the pod template of the previous (or given) ReplicaSet revision."""
    args = ["rollout", "undo", f"deployment/{deployment}"]
    if to_revision is not None:
        args.append(f"--to-revision={to_revision}")
    return _k(kube, *args)


def rollout_history(kube: Kube, deployment: str) -> Command:
    """The runbook's `kubectl rollout history` table (shown to people, not parsed)."""
    return _k(kube, "rollout", "history", f"deployment/{deployment}", read_only=True)


def patch_selector(kube: Kube, service: str, key: str, value: str) -> Command:
    """Point a Service's selector at one colour: the blue-green switch (one API call)."""
    patch = json.dumps({"spec": {"selector": {key: value}}}, separators=(",", ":"))
    return _k(kube, "patch", "service", service, "-p", patch)


def scale(kube: Kube, deployment: str, replicas: int) -> Command:
    return _k(kube, "scale", "deployment", deployment, f"--replicas={replicas}")


def create_configmap(kube: Kube, name: str, data: dict[str, str]) -> Command:
    """Create a ConfigMap; fails with AlreadyExists if it exists (an atomic test-and-set)."""
    literals = [f"--from-literal={key}={value}" for key, value in data.items()]
    return _k(kube, "create", "configmap", name, *literals)


def merge_patch_configmap(kube: Kube, name: str, data: dict[str, str],
                          resource_version: str | None = None) -> Command:
    """Merge `data` into a ConfigMap. With a resourceVersion the API server rejects the patch
    (Conflict) if the object changed since it was read: optimistic concurrency for lock takeover."""
    body: dict[str, object] = {"data": data}
    if resource_version:
        body["metadata"] = {"resourceVersion": resource_version}
    return _k(kube, "patch", "configmap", name, "--type", "merge", "-p",
              json.dumps(body, separators=(",", ":"), sort_keys=True))


def replace_configmap(kube: Kube, name: str, data: dict[str, str], resource_version: str) -> Command:
    """`kubectl replace -f -` of a ConfigMap carrying the resourceVersion we read: the API server
    refuses it (Conflict) if the object changed since, a compare-and-swap for lock takeover."""
    manifest = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": kube.namespace, "resourceVersion": resource_version},
                "data": data}
    return _k(kube, "replace", "-f", "-", stdin=json.dumps(manifest, sort_keys=True))


def delete_configmap(kube: Kube, name: str) -> Command:
    return _k(kube, "delete", "configmap", name)


# --- read-only probes ----------------------------------------------------------------------

def get_json(kube: Kube, kind: str, name: str | None = None, selector: str | None = None,
             names: tuple[str, ...] = ()) -> Command:
    """`kubectl get KIND [NAME...] [-l SELECTOR] -o json` (a probe: runs even in a dry run).
    Several names give one List in one API round trip."""
    args = ["get", kind]
    if name:
        args.append(name)
    args += list(names)
    if selector:
        args += ["-l", selector]
    return _k(kube, *args, "-o", "json", read_only=True)


def get_pods(kube: Kube, selector: str) -> Command:
    """The runbook's `kubectl get pods -l app=...` table."""
    return _k(kube, "get", "pods", "-l", selector, read_only=True)


def logs(kube: Kube, selector: str, tail: int) -> Command:
    """Recent logs of every pod matching `selector` (runbook 5: `kubectl logs -l app=... --tail=100`)."""
    return _k(kube, "logs", "-l", selector, f"--tail={tail}", read_only=True)


# --- the runbook's appendix: environment setup and useful commands ---------------------------

def _cluster_wide(kube: Kube, *args: str) -> Command:
    """Cluster-scoped reads: the context and request timeout are pinned, a namespace means nothing."""
    pinned = ["--context", kube.context] if kube.context else []
    return cmd(KUBECTL, *args, *pinned, f"--request-timeout={kube.request_timeout}", read_only=True)


def cluster_info(kube: Kube) -> Command:
    """`kubectl cluster-info` (verify cluster access)."""
    return _cluster_wide(kube, "cluster-info")


def get_nodes(kube: Kube) -> Command:
    """`kubectl get nodes` (verify cluster access)."""
    return _cluster_wide(kube, "get", "nodes")


def get_all(kube: Kube) -> Command:
    """`kubectl get all -n NS` (view all resources)."""
    return _k(kube, "get", "all", read_only=True)


def describe_resourcequota(kube: Kube) -> Command:
    """`kubectl describe resourcequota -n NS` (view resource quotas)."""
    return _k(kube, "describe", "resourcequota", read_only=True)


def deployment_logs(kube: Kube, deployment: str) -> Command:
    """`kubectl logs deploy/NAME` (copy logs locally)."""
    return _k(kube, "logs", f"deploy/{deployment}", read_only=True)


def port_forward(kube: Kube, service: str, local_port: int, remote_port: int) -> Command:
    """`kubectl port-forward svc/NAME LOCAL:REMOTE` (local debugging; runs until interrupted)."""
    return _k(kube, "port-forward", f"svc/{service}", f"{local_port}:{remote_port}")


def shell(kube: Kube, deployment: str, program: str = "/bin/sh") -> Command:
    """`kubectl exec -it deploy/NAME -- /bin/sh` (a shell in a pod). The pins go before `--`:
    everything after it is the program's own argv."""
    return cmd(KUBECTL, "exec", "-it", f"deploy/{deployment}", *_pin(kube), "--", program)
