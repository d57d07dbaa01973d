"""Pure argv builders for kubectl: the one kubectl dialect of the deploy, verify, rollback and
troubleshooting paths (docs/architecture.md, "Foundation").

Every command pins the environment's kube context and namespace (so a production command can
never hit the cluster the current context happens to point at) and carries `--request-timeout`
(kubectl may otherwise wait forever on an unreachable API server or a credential prompt), the
environment's configured one (`kube.request_timeout`, kube_settings.py). The pins follow the
verb and its arguments (`kubectl get pods -l app=x --namespace ns --context c --request-timeout=30s`);
for `exec` they go before `--`, after which everything is the program's own argv.
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


# --- the kubeconfig (local: never contacts a cluster) ---------------------------------------

def context_exists(context: str) -> Command:
    """`kubectl config get-contexts NAME -o name`: exit 0 when the kubeconfig has the context,
    1 with `error: context NAME not found` otherwise. Reads the kubeconfig file only."""
    return cmd(KUBECTL, "config", "get-contexts", context, "-o", "name", read_only=True, timeout=15)


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


def scale(kube: Kube, deployment: str, replicas: int, *more: str) -> Command:
    """`kubectl scale deployment NAME [NAME...] --replicas=N`: several deployments to the same
    count in one kubectl process (a request each, but one start-up: docs/performance.md)."""
    return _k(kube, "scale", "deployment", deployment, *more, f"--replicas={replicas}")


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


def logs(kube: Kube, selector: str | None = None, tail: int | None = None, *, pod: str | None = None,
         previous: bool = False, prefix: bool = False) -> Command:
    """Recent logs of every pod matching `selector` (runbook 5: `kubectl logs -l app=... --tail=100`),
    or of one `pod` (`--previous`: the crashed container's, runbook "Pod CrashLoopBackOff")."""
    if (pod is None) == (selector is None):
        raise ValueError("logs needs exactly one of pod or selector")
    args = ["logs", pod] if pod is not None else ["logs", "-l", str(selector)]
    if previous:
        args.append("--previous")
    if tail is not None:
        args.append(f"--tail={tail}")
    if prefix:
        args.append("--prefix")
    return _k(kube, *args, read_only=True)


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


# --- troubleshooting and dependency health: the runbook's "Common Issues" reads ---------------

def describe_pod(kube: Kube, pod: str) -> Command:
    """`kubectl describe pod <pod-name>` (runbook: Pod CrashLoopBackOff)."""
    return _k(kube, "describe", "pod", pod, read_only=True)


def top_pods(kube: Kube) -> Command:
    """`kubectl top pods` (runbook: High Error Rate, High Latency)."""
    return _k(kube, "top", "pods", read_only=True)


def describe_certificate(kube: Kube, name: str) -> Command:
    """`kubectl describe certificate NAME` (cert-manager; runbook: SSL/TLS)."""
    return _k(kube, "describe", "certificate", name, read_only=True)


def delete_certificate(kube: Kube, name: str) -> Command:
    """`kubectl delete certificate NAME`: cert-manager recreates and re-issues it (a remedy)."""
    return _k(kube, "delete", "certificate", name)


def exec_in(kube: Kube, workload: str, *argv: str) -> Command:
    """`kubectl exec deploy/NAME -- <argv>` without -it: stdin is closed at the execution boundary,
    and a TTY would mix stderr into the captured output. Read-only: it runs in a dry run too."""
    return cmd(KUBECTL, "exec", workload, *_pin(kube), "--", *argv, read_only=True)


def actuator_health(kube: Kube, deployment: str, component: str = "", port: int = 8080) -> Command:
    """The runbook's `kubectl exec deploy/NAME -- curl -sf localhost:8080/actuator/health/mongo`."""
    path = "/actuator/health" + (f"/{component}" if component else "")
    return exec_in(kube, f"deploy/{deployment}", "curl", "-sf", f"localhost:{port}{path}")


def mongo_ping(kube: Kube, deployment: str, uri_variable: str = "MONGODB_URI") -> Command:
    """`mongosh "$MONGODB_URI" --eval "db.stats()"` run inside the pod.

    The URI (with credentials) is expanded by the pod's shell from its own environment, so it never
    passes through this machine, its argv or its logs (the runbook expands it locally).
    """
    script = f'mongosh "${uri_variable}" --quiet --eval "JSON.stringify(db.stats())"'
    return exec_in(kube, f"deploy/{deployment}", "sh", "-c", script)


def redis_ping(kube: Kube, deployment: str, url_variable: str = "REDIS_URL") -> Command:
    """`redis-cli -u "$REDIS_URL" ping` inside the pod (the URL stays in the pod)."""
    return exec_in(kube, f"deploy/{deployment}", "sh", "-c", f'redis-cli -u "${url_variable}" ping')


def mongo_slow_ops(kube: Kube, deployment: str = "mongodb", seconds: int = 5) -> Command:
    """The runbook's `db.currentOp({'secs_running': {$gte: 5}})` on the MongoDB deployment."""
    script = f"JSON.stringify(db.currentOp({{'secs_running': {{$gte: {int(seconds)}}}}}).inprog)"
    return exec_in(kube, f"deploy/{deployment}", "mongosh", "--quiet", "--eval", script)


def redis_latency(kube: Kube, deployment: str = "redis") -> Command:
    """`redis-cli --latency --raw`: without a TTY it samples for one second, prints one line, exits.

    (The runbook's interactive `redis-cli --latency` would run forever.)
    """
    return exec_in(kube, f"deploy/{deployment}", "redis-cli", "--latency", "--raw")
