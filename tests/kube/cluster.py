"""The real control plane seen through the doubles' test API: `RealCluster` offers the part of
`tests.doubles.cluster.FakeCluster` the scenario tests use, backed by the API server started by
scripts/kube-up.sh, so a scenario written against the doubles can switch by fixture.

Namespaces are per test: a test still says "staging" and "production"; `RealCluster.ns()` maps
them to the test's own namespaces (`rd-<id>-staging`, ...), and the per-test kubeconfig's
contexts `retail-staging` / `retail-production` point there.

What a real control plane does by itself is not faked here: rollouts, ReplicaSet revisions,
`rollout undo`, progress deadlines and resourceVersion conflicts are the real controllers' and
API server's. Pods are simulated by kwok (scripts/lib/kwok-stages.yaml): Ready at once, except
images whose tag contains `never-ready`, which run but never become Ready (a stalled rollout).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import yaml

from tests.kube.api import KubeAPI

PLATFORM_SERVICES = ("retail-backend", "retail-consumer-web", "retail-admin-web")
REGISTRY = "registry.example.com"
REVISION = "deployment.kubernetes.io/revision"
NEVER_READY = "never-ready"  # an image tag containing this never becomes Ready (kwok stage)
UNHEALTHY = "unhealthy"  # an image tag containing this answers 503 DOWN in the stand-in data plane

# The doubles' fault kinds and why the real control plane cannot take them as injected faults.
NOT_ON_A_REAL_CLUSTER = {
    "crashloop": "a crash loop here is an image whose tag contains `crashloop` (kwok stage), not a fault "
                 "injected into running pods",
    "helm_pending": "needs a Helm process killed mid-upgrade",
    "helm_fail": "needs a failing Helm release",
    "fail_command": "a real kubectl fails only when the cluster does",
    "hang": "a real kubectl hangs only when the cluster does",
    "dependency_down": "exec runs on this machine (kwok): a dependency is down when the test's own backend "
                       "says so",
}
READ_ONLY = {"get", "describe", "logs", "top", "cluster-info", "version", "config", "status", "list", "history",
             "auth", "wait"}


# Flags whose value is the next token (when not written --flag=value), so it is not a word.
VALUE_FLAGS = {"--context", "--kube-context", "--namespace", "-n", "--request-timeout", "--kubeconfig", "-o",
               "--output", "-l", "--selector", "-p", "--patch", "--type", "--timeout"}


def _words(argv: list[str]) -> list[str]:
    """The subcommand words of an argv (`rollout`, `status`, ...), wherever the flags are."""
    words, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in VALUE_FLAGS:
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
    return words


def labels_match(labels: dict[str, str], selector: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def pod_ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def image_tag(image: str) -> str:
    return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"


class RealCluster:
    """One test's view of the real cluster: its namespaces, seeding, readers and the recorded
    kubectl/helm calls (tests/kube/bin wrappers append them to `calls_path`)."""

    def __init__(self, api: KubeAPI, namespaces: dict[str, str], calls_path: Path | None = None,
                 bin_dir: Path | None = None, kubeconfig: Path | None = None,
                 contexts: dict[str, str] | None = None):
        self.api = api
        self.namespaces = dict(namespaces)
        self.calls_path = calls_path
        self.bin_dir = bin_dir
        self.kubeconfig = kubeconfig  # the test's own, whose contexts the product uses
        self.contexts = dict(contexts or {})  # logical namespace -> context name
        self.bad_images: set[str] = set()
        self.cleanups: list[str] = []  # URLs of cluster-wide objects to delete after the test

    def ns(self, ns: str) -> str:
        """The test's real namespace for a logical one ("staging" -> "rd-1a2b3c-staging")."""
        return self.namespaces.get(ns, ns)

    # ------------------------------------------------------------ seeding

    def add_namespace(self, name: str) -> Self:
        real = self.ns(name)
        if self.api.get("namespaces", None, real) is None:
            self.api.create("namespaces", None, {"metadata": {"name": real, "labels": {"retail-deploy.test": "1"}}})
        # Pods are admitted only once the controller manager made the namespace's service account.
        self.wait_until(lambda: self.api.get("serviceaccounts", real, "default") is not None,
                    f"service account default in {real}", 30)
        return self

    def add_deployment(self, ns: str, name: str, container: str | None = None, image: str = "",
                       replicas: int = 1, labels: dict[str, str] | None = None, port: int = 8080,
                       history: list[str] | None = None, wait: bool = True) -> Self:
        """A Deployment. `history`: older images rolled out first (revisions 1..n), for real."""
        labels = dict(labels or {"app": name})
        images = [*(history or []), image]
        body = {
            "metadata": {"name": name, "labels": dict(labels)},
            "spec": {
                "replicas": replicas, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                "selector": {"matchLabels": dict(labels)},
                "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [{
                    "name": container or name, "image": images[0],
                    "ports": [{"containerPort": port, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
                    "terminationGracePeriodSeconds": 5}},
            },
        }
        self.api.create("deployments", self.ns(ns), body)
        for later in images[1:]:
            self.wait_rolled_out(ns, name)
            self.set_image(ns, name, later)
        if wait:
            self.wait_rolled_out(ns, name)
        return self

    def set_image(self, ns: str, deployment: str, image: str) -> Self:
        dep = self.deployment(ns, deployment)
        assert dep is not None, deployment
        containers = dep["spec"]["template"]["spec"]["containers"]
        containers[0]["image"] = image
        self.api.patch("deployments", self.ns(ns), deployment,
                       {"spec": {"template": {"spec": {"containers": containers}}}})
        return self

    def set_progress_deadline(self, ns: str, deployment: str, seconds: int) -> Self:
        """progressDeadlineSeconds (spec only: no new rollout), so a stalled rollout is reported
        as `exceeded its progress deadline` by the real deployment controller within `seconds`."""
        self.api.patch("deployments", self.ns(ns), deployment, {"spec": {"progressDeadlineSeconds": seconds}})
        return self

    def add_service(self, ns: str, name: str, selector: dict[str, str], port: int = 8080) -> Self:
        body = {"metadata": {"name": name, "labels": {"app": name}},
                "spec": {"selector": dict(selector), "ports": [{"name": "http", "port": port, "targetPort": port}]}}
        if self.service(ns, name) is None:
            self.api.create("services", self.ns(ns), body)
        else:
            self.api.patch("services", self.ns(ns), name, {"spec": {"selector": dict(selector)}})
        return self

    def add_configmap(self, ns: str, name: str, data: dict[str, str] | None = None,
                      labels: dict[str, str] | None = None) -> Self:
        body: dict[str, Any] = {"metadata": {"name": name}, "data": dict(data or {})}
        if labels:
            body["metadata"]["labels"] = dict(labels)
        self.api.create("configmaps", self.ns(ns), body)
        return self

    def retail_platform(self, version: str = "1.0.0", green_replicas: int = 0, green_version: str | None = None,
                        replicas: int = 2, blue_replicas: int = 3) -> Self:
        """The runbook's platform, as FakeCluster.retail_platform seeds it: the three services in
        staging and production (a Service named like each Deployment), and in production the
        blue/green backend pair behind Service retail-backend selecting {app, deployment: blue}.
        (The doubles' mongodb/redis exec answers have no equivalent: nothing runs to exec into.)"""
        for ns in ("staging", "production"):
            self.add_namespace(ns)
        for ns in ("staging", "production"):
            for svc in PLATFORM_SERVICES:
                self.add_deployment(ns, svc, svc, f"{REGISTRY}/{svc}:{version}", replicas, {"app": svc}, wait=False)
                self.add_service(ns, svc, {"app": svc}, 8080 if svc == "retail-backend" else 80)
        for colour, count, ver in (("blue", blue_replicas, version),
                                   ("green", green_replicas, green_version or version)):
            self.add_deployment("production", f"retail-backend-{colour}", "retail-backend",
                                f"{REGISTRY}/retail-backend:{ver}", count,
                                {"app": "retail-backend", "deployment": colour}, wait=False)
        self.add_service("production", "retail-backend", {"app": "retail-backend", "deployment": "blue"}, 8080)
        for ns in ("staging", "production"):
            for dep in self.api.list("deployments", self.ns(ns)):
                self.wait_rolled_out(ns, dep["metadata"]["name"])
        return self

    def add_event(self, ns: str, kind: str, name: str, reason: str, message: str,
                  type: str = "Warning") -> Self:
        """A real Event about an object (what `kubectl get events` and `describe` show)."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        api_version = "apps/v1" if kind in ("Deployment", "ReplicaSet") else "v1"
        self.api.create("events", self.ns(ns), {
            "metadata": {"generateName": f"{name}."}, "type": type, "reason": reason, "message": message,
            "involvedObject": {"kind": kind, "name": name, "namespace": self.ns(ns), "apiVersion": api_version},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1, "source": {"component": "retail-deploy-tests"}})
        return self

    def set_setting(self, name: str, value: Any) -> Self:
        """The doubles' timing settings mean nothing here (the waits are the real controllers'):
        the wait caps are accepted and ignored, the others refused."""
        if name in ("rollout_wait_cap", "helm_wait_cap"):
            return self
        raise NotImplementedError(f"setting {name!r} belongs to the doubles: a real control plane keeps its own time")

    def inject(self, kind: str, target: str | None = None, **kw: Any) -> Self:
        """`bad_image` (the stand-in data plane answers 503 DOWN while that image serves),
        `patch_refused` (real RBAC: the context's user may no longer patch that Service),
        `rollout_timeout` / `progress_deadline` (a real admission policy refuses the deployment's new
        pods); every other fault of the doubles is something a real control plane does not do on request."""
        if kind == "bad_image" and target:
            self.bad_images.add(target)
            return self
        if kind == "patch_refused" and target:
            return self.refuse_patch(kw.get("namespace") or "production", target)
        if kind == "rollout_timeout" and target:
            return self.refuse_new_pods(kw.get("namespace") or "production", target)
        if kind == "progress_deadline" and target:  # the same, reported by the deployment controller in 2 s
            ns = kw.get("namespace") or "production"
            return self.set_progress_deadline(ns, target, 2).refuse_new_pods(ns, target)
        reason = NOT_ON_A_REAL_CLUSTER.get(kind, "unknown fault")
        raise NotImplementedError(f"fault {kind!r} cannot be injected into a real control plane: {reason}")

    def refuse_patch(self, ns: str, service: str) -> Self:
        """The real API server refuses patching Service `service` to the namespace's context: that
        context gets a user of its own (a client certificate from the control plane's CA) bound to
        a Role that may do everything the deploys do, but change only the other Services."""
        assert self.kubeconfig is not None and ns in self.contexts, "needs the per-test kubeconfig"
        real, user = self.ns(ns), f"retail-deployer-{self.ns(ns)}"
        pki = Path(self.api.kubeconfig).parent / "pki"
        key, crt = self.kubeconfig.parent / f"{user}.key", self.kubeconfig.parent / f"{user}.crt"
        subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                        str(crt) + ".csr", "-subj", f"/CN={user}"], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", str(crt) + ".csr", "-CA", str(pki / "ca.crt"), "-CAkey",
                        str(pki / "ca.key"), "-CAcreateserial", "-CAserial", str(crt) + ".srl", "-days", "1",
                        "-out", str(crt)], check=True, capture_output=True)
        others = [svc["metadata"]["name"] for svc in self.api.list("services", real)
                  if svc["metadata"]["name"] != service]
        everything = ["get", "list", "watch", "create", "update", "patch", "delete"]
        rules = [
            {"apiGroups": ["apps"], "resources": ["*"], "verbs": everything},
            {"apiGroups": [""], "resources": ["configmaps", "pods", "events", "endpoints"], "verbs": everything},
            {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]},
        ]
        if others:
            rules.append({"apiGroups": [""], "resources": ["services"], "resourceNames": others,
                          "verbs": ["update", "patch"]})
        self.api.create_rbac("roles", real, {"metadata": {"name": "retail-deployer"}, "rules": rules})
        self.api.create_rbac("rolebindings", real, {
            "metadata": {"name": "retail-deployer"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "retail-deployer"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
        config = yaml.safe_load(self.kubeconfig.read_text())
        config["users"].append({"name": user, "user": {"client-certificate": str(crt), "client-key": str(key)}})
        for ctx in config["contexts"]:
            if ctx["name"] == self.contexts[ns]:
                ctx["context"]["user"] = user
        self.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
        return self

    def refuse_new_pods(self, ns: str, deployment: str) -> Self:
        """The deployment's next rollout never completes, for real: a ValidatingAdmissionPolicy
        (the API server's own admission, CEL) refuses creating its pods with any image but the one it
        runs now, so the new ReplicaSet gets no pod (ReplicaFailure), `rollout status` times out,
        the old pods keep serving and `rollout undo` (back to the allowed image) recovers."""
        dep = self.deployment(ns, deployment)
        assert dep is not None, deployment
        current = dep["spec"]["template"]["spec"]["containers"][0]["image"]
        labels = dep["spec"]["selector"]["matchLabels"]
        ours = " && ".join(f"object.metadata.labels[{k!r}] == {v!r}" for k, v in sorted(labels.items()))
        name = f"retail-test-refuse-{self.ns(ns)}-{deployment}"[:253]
        group = "/apis/admissionregistration.k8s.io/v1"
        policy = {"metadata": {"name": name}, "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                    "operations": ["CREATE"], "resources": ["pods"]}]},
            "validations": [{
                "expression": f"!(has(object.metadata.labels) && {ours}) || "
                              f"object.spec.containers.all(c, c.image == {current!r})",
                "message": f"test fault: only {current} may run for {deployment}"}]}}
        binding = {"metadata": {"name": name}, "spec": {
            "policyName": name, "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": self.ns(ns)}}}}}
        for kind, body in (("validatingadmissionpolicies", policy), ("validatingadmissionpolicybindings", binding)):
            response = self.api.request("POST", f"{self.api.server}{group}/{kind}", json=body)
            if not response.ok:
                raise RuntimeError(f"creating {kind} {name}: {response.status_code} {response.text[:300]}")
            self.cleanups.append(f"{self.api.server}{group}/{kind}/{name}")
        time.sleep(1.5)  # the API server's policy informer picks it up within a second or so
        return self

    def cleanup(self) -> None:
        """Delete the cluster-wide objects a fault created (namespaces go with the fixture)."""
        for url in reversed(self.cleanups):
            self.api.request("DELETE", url)
        self.cleanups.clear()

    # ------------------------------------------------------------ waiting

    @staticmethod
    def wait_until(check: Callable[[], bool], what: str, timeout: float) -> None:
        """Poll `check` every 0.1 s; TimeoutError naming `what` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {timeout:.0f}s")
            time.sleep(0.1)

    def rolled_out(self, ns: str, name: str) -> bool:
        dep = self.deployment(ns, name)
        if dep is None:
            return False
        spec, status = dep["spec"], dep.get("status") or {}
        want = int(spec.get("replicas", 1))
        return (status.get("observedGeneration", 0) >= dep["metadata"]["generation"]
                and status.get("updatedReplicas", 0) == want and status.get("availableReplicas", 0) == want
                and status.get("replicas", 0) == want)

    def wait_rolled_out(self, ns: str, name: str, timeout: float = 60) -> Self:
        self.wait_until(lambda: self.rolled_out(ns, name), f"rollout of {ns}/{name}", timeout)
        return self

    # ------------------------------------------------------------ readers (as FakeCluster's)

    def deployment(self, ns: str, name: str) -> dict[str, Any] | None:
        return self.api.get("deployments", self.ns(ns), name)

    def image(self, ns: str, deployment: str, container: str | None = None) -> str | None:
        dep = self.deployment(ns, deployment)
        if dep is None:
            return None
        for ct in dep["spec"]["template"]["spec"]["containers"]:
            if container in (None, ct["name"]):
                return str(ct["image"])
        return None

    def replicas(self, ns: str, deployment: str) -> int | None:
        dep = self.deployment(ns, deployment)
        return None if dep is None else int(dep["spec"].get("replicas", 1))

    def revision(self, ns: str, deployment: str) -> int | None:
        dep = self.deployment(ns, deployment)
        if dep is None:
            return None
        return int((dep["metadata"].get("annotations") or {}).get(REVISION, "0"))

    def replicasets(self, ns: str, deployment: str) -> list[dict[str, Any]]:
        """The Deployment's ReplicaSets (by owner), oldest revision first."""
        owned = [rs for rs in self.api.list("replicasets", self.ns(ns))
                 if any(o.get("kind") == "Deployment" and o.get("name") == deployment
                        for o in rs["metadata"].get("ownerReferences") or [])]
        return sorted(owned, key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")))

    def pods(self, ns: str, selector: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self.api.list("pods", self.ns(ns), selector)

    def service(self, ns: str, name: str) -> dict[str, Any] | None:
        return self.api.get("services", self.ns(ns), name)

    def selector(self, ns: str, service: str) -> dict[str, str] | None:
        svc = self.service(ns, service)
        return None if svc is None else dict(svc["spec"].get("selector") or {})

    def configmap(self, ns: str, name: str) -> dict[str, Any] | None:
        return self.api.get("configmaps", self.ns(ns), name)

    def configmaps(self, ns: str) -> list[dict[str, Any]]:
        return self.api.list("configmaps", self.ns(ns))

    def events(self, ns: str) -> list[dict[str, Any]]:
        return self.api.list("events", self.ns(ns))

    def serving(self, ns: str, service: str) -> dict[str, Any]:
        """What a request to the Service would reach: {"images", "ready_pods", "status", "version"}."""
        return serving_summary(self, ns, service=service)

    # ------------------------------------------------------------ recorded calls

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        """Every kubectl/helm invocation through the recording wrappers: {"tool", "argv"}."""
        if self.calls_path is None or not self.calls_path.exists():
            return []
        out = []
        for record in self.calls_path.read_text().split("\x1e"):
            if not record:
                continue
            fields = record.split("\x1f")
            if fields and fields[-1] == "":
                fields.pop()
            if fields and tool in (None, fields[0]):
                out.append({"tool": fields[0], "argv": fields[1:]})
        return out

    def commands(self, tool: str | None = None) -> list[list[str]]:
        return [c["argv"] for c in self.calls(tool)]

    def mutations(self) -> list[list[str]]:
        """argv of the kubectl/helm invocations that can change the cluster."""
        out = []
        for c in self.calls():
            words = _words(c["argv"])
            if not words or words[0] in READ_ONLY or (words[0] == "rollout" and len(words) > 1
                                                     and words[1] in ("status", "history")):
                continue
            out.append(c["argv"])
        return out

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """A copy of `base` (default os.environ) with this test's KUBECONFIG and the recording
        wrappers first on PATH (set by the fixture in os.environ too)."""
        return dict(os.environ if base is None else base)


def serving_summary(cluster: RealCluster, ns: str, service: str | None = None,
                    deployment: str | None = None) -> dict[str, Any]:
    """Ready pods behind a Service (its selector) or a Deployment (its selector), read from the
    API server: their images, the majority image's tag as the version, and health."""
    real = cluster.ns(ns)
    down = {"exists": False, "images": [], "ready_pods": 0, "status": "DOWN", "version": None}
    if service is not None:
        svc = cluster.api.get("services", real, service)
        if svc is None:
            return down
        selector = dict(svc["spec"].get("selector") or {})
    else:
        assert deployment is not None
        dep = cluster.api.get("deployments", real, deployment)
        if dep is None:
            return down
        selector = dict(dep["spec"]["selector"].get("matchLabels") or {})
    pods = cluster.api.list("pods", real, selector) if selector else []
    ready = [p for p in pods if pod_ready(p)]
    counts: dict[str, int] = {}
    for p in ready:
        image = str(p["spec"]["containers"][0].get("image", ""))
        counts[image] = counts.get(image, 0) + 1
    images = sorted(counts, key=lambda i: -counts[i])
    if not images:
        return dict(down, exists=True)
    main = images[0]
    bad = main in cluster.bad_images or UNHEALTHY in image_tag(main)
    return {"exists": True, "images": images, "ready_pods": len(ready), "status": "DOWN" if bad else "UP",
            "version": image_tag(main)}
