"""kubectl argv for health checks and troubleshooting (the runbook's diagnostic commands).

Every command pins the environment's `--context` and `--namespace` (a production diagnosis must
never read the wrong cluster) and a `--request-timeout` (kubectl may otherwise hang on an
unreachable API server). Reads are marked read-only so they also run in a dry run; the two
remedies (scale, delete certificate) are not. `kubectl exec` runs without `-it`: stdin is closed
at the execution boundary, and a TTY would mix stderr into the captured output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retail_deploy.commands import Command, cmd

DEFAULT_REQUEST_TIMEOUT = "30s"


@dataclass(frozen=True)
class KubeTarget:
    """Where kubectl points: context, namespace and the API request timeout."""

    context: str
    namespace: str
    request_timeout: str = DEFAULT_REQUEST_TIMEOUT

    @classmethod
    def from_env(cls, env: Any, request_timeout: str = DEFAULT_REQUEST_TIMEOUT) -> KubeTarget:
        context = getattr(env, "kube_context", None)
        namespace = getattr(env, "namespace", None)
        if not context or not namespace:
            from retail_deploy.errors import ConfigError

            raise ConfigError(f"environment {getattr(env, 'name', '?')!r} needs kube_context and namespace "
                              "in the config for kubectl diagnostics")
        return cls(str(context), str(namespace), request_timeout)

    def base(self) -> list[str]:
        return ["kubectl", "--context", self.context, "--namespace", self.namespace,
                "--request-timeout", self.request_timeout]


def _read(target: KubeTarget, *args: object) -> Command:
    return cmd(*target.base(), *args, read_only=True)


def get_pods(target: KubeTarget, selector: str | None = None, output: str = "json") -> Command:
    """`kubectl get pods -l app=retail-backend -o json` (runbook: Verify Staging)."""
    return _read(target, "get", "pods", *(["--selector", selector] if selector else []), "--output", output)


def describe_pod(target: KubeTarget, pod: str) -> Command:
    """`kubectl describe pod <pod-name>` (runbook: Pod CrashLoopBackOff)."""
    return _read(target, "describe", "pod", pod)


def logs(target: KubeTarget, pod: str | None = None, *, selector: str | None = None,
         previous: bool = False, tail: int | None = None, container: str | None = None,
         all_containers: bool = False, prefix: bool = False) -> Command:
    """`kubectl logs <pod> --previous` or `kubectl logs -l app=... --tail=500`."""
    if (pod is None) == (selector is None):
        raise ValueError("logs needs exactly one of pod or selector")
    args: list[object] = ["logs"]
    args += [pod] if pod else ["--selector", selector]
    if container:
        args += ["--container", container]
    if all_containers:
        args.append("--all-containers=true")
    if previous:
        args.append("--previous")
    if tail is not None:
        args.append(f"--tail={tail}")
    if prefix:
        args.append("--prefix")
    return _read(target, *args)


def get_events(target: KubeTarget, field_selector: str | None = None) -> Command:
    """`kubectl get events --sort-by=.lastTimestamp` (oldest first, as kubectl sorts)."""
    args: list[object] = ["get", "events", "--sort-by=.lastTimestamp"]
    if field_selector:
        args += ["--field-selector", field_selector]
    return _read(target, *args)


def top_pods(target: KubeTarget, selector: str | None = None) -> Command:
    """`kubectl top pods` (runbook: High Error Rate, High Latency)."""
    return _read(target, "top", "pods", *(["--selector", selector] if selector else []))


def rollout_history(target: KubeTarget, deployment: str) -> Command:
    """`kubectl rollout history deployment/retail-backend` (runbook: High Error Rate)."""
    return _read(target, "rollout", "history", f"deployment/{deployment}")


def get_certificates(target: KubeTarget, output: str = "json") -> Command:
    """`kubectl get certificates -o json`: cert-manager Certificates with notAfter and Ready."""
    return _read(target, "get", "certificates", "--output", output)


def service_selector(target: KubeTarget, service_name: str, selector_key: str) -> Command:
    """`kubectl get service retail-backend -o jsonpath={.spec.selector.deployment}`: the live colour."""
    return _read(target, "get", "service", service_name, "--output", f"jsonpath={{.spec.selector.{selector_key}}}")


def describe_certificate(target: KubeTarget, name: str) -> Command:
    return _read(target, "describe", "certificate", name)


def exec_in(target: KubeTarget, workload: str, *argv: str, container: str | None = None) -> Command:
    """`kubectl exec deploy/retail-backend -- <argv>` without -it (stdin closed)."""
    args: list[object] = ["exec", workload]
    if container:
        args += ["--container", container]
    return _read(target, *args, "--", *argv)


def actuator_health(target: KubeTarget, deployment: str, component: str = "", port: int = 8080) -> Command:
    """The runbook's `kubectl exec deploy/retail-backend -- curl -sf localhost:8080/actuator/health/mongo`."""
    path = "/actuator/health" + (f"/{component}" if component else "")
    return exec_in(target, f"deploy/{deployment}", "curl", "-sf", f"localhost:{port}{path}")


def mongo_ping(target: KubeTarget, deployment: str, uri_variable: str = "MONGODB_URI") -> Command:
    """`mongosh "$MONGODB_URI" --eval "db.stats()"` run inside the pod.

    The URI (with credentials) is expanded by the pod's shell from its own environment, so it never
    passes through this machine, its argv or its logs (the runbook expands it locally).
    """
    script = f'mongosh "${uri_variable}" --quiet --eval "JSON.stringify(db.stats())"'
    return exec_in(target, f"deploy/{deployment}", "sh", "-c", script)


def redis_ping(target: KubeTarget, deployment: str, url_variable: str = "REDIS_URL") -> Command:
    """`redis-cli -u "$REDIS_URL" ping` inside the pod (the URL stays in the pod)."""
    return exec_in(target, f"deploy/{deployment}", "sh", "-c", f'redis-cli -u "${url_variable}" ping')


def mongo_slow_ops(target: KubeTarget, deployment: str = "mongodb", seconds: int = 5) -> Command:
    """The runbook's `db.currentOp({'secs_running': {$gte: 5}})` on the MongoDB deployment."""
    script = f"JSON.stringify(db.currentOp({{'secs_running': {{$gte: {int(seconds)}}}}}).inprog)"
    return exec_in(target, f"deploy/{deployment}", "mongosh", "--quiet", "--eval", script)


def redis_latency(target: KubeTarget, deployment: str = "redis") -> Command:
    """`redis-cli --latency --raw`: without a TTY it samples for one second, prints one line, exits.

    (The runbook's interactive `redis-cli --latency` would run forever.)
    """
    return exec_in(target, f"deploy/{deployment}", "redis-cli", "--latency", "--raw")


# --- remedies: printed as exact commands, run only with --fix and confirmation ----------------

def scale(target: KubeTarget, deployment: str, replicas: int) -> Command:
    """`kubectl scale deployment/retail-backend --replicas=5` (runbook remedy)."""
    return cmd(*target.base(), "scale", f"deployment/{deployment}", f"--replicas={int(replicas)}")


def delete_certificate(target: KubeTarget, name: str) -> Command:
    """`kubectl delete certificate <name>`: cert-manager recreates and re-issues it."""
    return cmd(*target.base(), "delete", "certificate", name)
