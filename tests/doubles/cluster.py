"""Test API of the stateful kubectl/helm doubles: seed a cluster, inject faults, read what happened.

    cluster = FakeCluster(tmp_path / "kube.json").retail_platform(version="1.0.0")
    monkeypatch.setenv("FAKE_KUBE_STATE", str(cluster.path))
    monkeypatch.setenv("PATH", cluster.path_env())          # tests/doubles/bin first
    cluster.inject("rollout_timeout", "retail-backend-green")
    ... run the product ...
    assert cluster.image("production", "retail-backend-green").endswith(":1.0.0")

`ClusterHTTP(cluster)` serves the platform's HTTP endpoints from the same state. See README.md.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

HERE = Path(__file__).resolve().parent
BIN_DIR = HERE / "bin"
sys.path.insert(0, str(HERE / "lib"))

import kube_state as ks  # noqa: E402

PLATFORM_SERVICES = ("retail-backend", "retail-consumer-web", "retail-admin-web")
REGISTRY = "registry.example.com"


class FakeCluster:
    """One fake cluster (several contexts) stored in a JSON file that the doubles read and write."""

    bin_dir = BIN_DIR

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.exists():
            with ks.locked(str(self.path)):
                pass

    # ------------------------------------------------------------ environment

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """A copy of `base` (default os.environ) with FAKE_KUBE_STATE set and the doubles first on PATH."""
        env = dict(os.environ if base is None else base)
        env[ks.STATE_ENV] = str(self.path)
        env["PATH"] = self.path_env(env.get("PATH", ""))
        return env

    def path_env(self, current: str | None = None) -> str:
        """PATH with the doubles first, then this interpreter's directory: `#!/usr/bin/env python3`
        then finds the real interpreter instead of a slow shim (pyenv's costs ~0.4 s a call)."""
        current = os.environ.get("PATH", "") if current is None else current
        first = [str(BIN_DIR), os.path.dirname(sys.executable)]
        return os.pathsep.join(first + ([current] if current else []))

    def _edit(self) -> Any:
        return ks.locked(str(self.path))

    # ------------------------------------------------------------ seeding

    def add_context(self, name: str, namespaces: list[str] | None = None) -> FakeCluster:
        """A kube context; `namespaces` limits what it sees (None: every namespace)."""
        with self._edit() as st:
            st["contexts"][name] = {"namespaces": list(namespaces) if namespaces is not None else None}
        return self

    def add_namespace(self, name: str, context: str | None = None) -> FakeCluster:
        with self._edit() as st:
            st["namespaces"].setdefault(name, {"created": ks.now()})
            if context is not None:
                ctx = st["contexts"].setdefault(context, {"namespaces": []})
                if ctx.get("namespaces") is not None and name not in ctx["namespaces"]:
                    ctx["namespaces"].append(name)
        return self

    def add_deployment(self, ns: str, name: str, container: str | None = None, image: str = "",
                       replicas: int = 1, labels: dict[str, str] | None = None, port: int = 8080,
                       history: list[str] | None = None) -> FakeCluster:
        """A Deployment with its ReplicaSet and pods. `history`: older images rolled out before `image`
        (revisions 1..n), so `rollout history`/`undo` have something to show."""
        labels = dict(labels or {"app": name})
        with self._edit() as st:
            st["namespaces"].setdefault(ns, {"created": ks.now()})
            dep = ks.make_deployment(st, ns, name, container or name, image, replicas, labels, port)
            st["objects"]["deployments"][ks.key(ns, name)] = dep
            for old in history or []:
                dep["spec"]["template"]["spec"]["containers"][0]["image"] = old
                ks.reconcile_deployment(st, dep)
            dep["spec"]["template"]["spec"]["containers"][0]["image"] = image
            ks.reconcile_deployment(st, dep)
            for rs in ks.owned_replicasets(st, ns, name):  # seeded pods are ready from the start
                st["activated"][ks.key(ns, rs["metadata"]["name"])] = 0.0
            ks.reconcile_deployment(st, dep)
        return self

    def add_service(self, ns: str, name: str, selector: dict[str, str], port: int = 8080) -> FakeCluster:
        with self._edit() as st:
            st["namespaces"].setdefault(ns, {"created": ks.now()})
            st["objects"]["services"][ks.key(ns, name)] = ks.make_service(st, ns, name, selector, port)
        return self

    def add_configmap(self, ns: str, name: str, data: dict[str, str] | None = None,
                      labels: dict[str, str] | None = None) -> FakeCluster:
        with self._edit() as st:
            st["objects"]["configmaps"][ks.key(ns, name)] = ks.make_configmap(st, ns, name, data or {}, labels)
        return self

    def add_certificate(self, ns: str, name: str, dns_names: list[str] | None = None,
                        not_after: float | str | None = None, ready: bool = True,
                        secret_name: str | None = None, issuer: str = "letsencrypt-prod",
                        message: str | None = None) -> FakeCluster:
        """A cert-manager Certificate. `not_after`: epoch seconds or RFC 3339 text (default now + 60 days)."""
        na = not_after if not_after is not None else ks.now() + 60 * 86400
        na_ts = ks.parse_iso(na) if isinstance(na, str) else float(na)
        before = na_ts - 90 * 86400
        cond = {"type": "Ready", "status": "True" if ready else "False",
                "reason": "Ready" if ready else "Expired" if na_ts < ks.now() else "Failed",
                "message": message or ("Certificate is up to date and has not expired" if ready else
                                       "Certificate expired" if na_ts < ks.now() else "Issuing certificate failed"),
                "lastTransitionTime": ks.iso(before), "observedGeneration": 1}
        with self._edit() as st:
            obj = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                   "metadata": ks.meta(st, ns, name, ts=before) | {"generation": 1},
                   "spec": {"dnsNames": list(dns_names or [f"{name}.example.com"]),
                            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer},
                            "secretName": secret_name or name},
                   "status": {"conditions": [cond], "notAfter": ks.iso(na_ts), "notBefore": ks.iso(before),
                              "renewalTime": ks.iso(na_ts - 30 * 86400), "revision": 1}}
            st["objects"]["certificates"][ks.key(ns, name)] = obj
        return self

    def add_pod(self, ns: str, name: str, image: str, labels: dict[str, str] | None = None,
                ready: bool = True, waiting_reason: str | None = None, last_terminated_reason: str | None = None,
                restarts: int = 0) -> FakeCluster:
        """A standalone pod (no controller) in any state, for troubleshooting reads."""
        with self._edit() as st:
            md = ks.meta(st, ns, name, labels or {"app": name})
            started = md["creationTimestamp"]
            cst: dict[str, Any] = {"name": name, "image": image, "imageID": "", "ready": ready,
                                   "started": ready, "restartCount": restarts,
                                   "state": {"waiting": {"reason": waiting_reason}} if waiting_reason
                                   else {"running": {"startedAt": started}}, "lastState": {}}
            if last_terminated_reason:
                cst["lastState"] = {"terminated": {"reason": last_terminated_reason,
                                                   "exitCode": 137 if last_terminated_reason == "OOMKilled" else 1,
                                                   "startedAt": started, "finishedAt": started}}
            st["objects"]["pods"][ks.key(ns, name)] = {
                "apiVersion": "v1", "kind": "Pod", "metadata": md,
                "spec": {"containers": [{"name": name, "image": image}], "nodeName": "fake-node-1"},
                "status": {"phase": "Running", "podIP": "127.0.1.250", "startTime": started,
                           "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                           "containerStatuses": [cst]}}
        return self

    def set_logs(self, ns: str, text: str, deployment: str | None = None, pod: str | None = None,
                 previous: bool = False) -> FakeCluster:
        """Log text of every pod of `deployment`, or of one `pod`; `previous` for `logs --previous`."""
        if (deployment is None) == (pod is None):
            raise ValueError("give exactly one of deployment= or pod=")
        key = f"deploy/{ns}/{deployment}" if deployment else f"pod/{ns}/{pod}"
        with self._edit() as st:
            st["logs"][("previous/" if previous else "") + key] = text
        return self

    def set_top(self, ns: str, cpu: str, memory: str, deployment: str | None = None,
                pod: str | None = None) -> FakeCluster:
        key = f"deploy/{ns}/{deployment}" if deployment else f"pod/{ns}/{pod}"
        with self._edit() as st:
            st["top"][key] = [cpu, memory]
        return self

    def set_dependency(self, ns: str, deployment: str, component: str, status: str = "UP") -> FakeCluster:
        """What `exec deploy/D -- curl -sf localhost:8080/actuator/health/<component>` answers."""
        with self._edit() as st:
            st["dependencies"].setdefault(ks.key(ns, deployment), {})[component] = status
        return self

    def set_exec(self, match: str, stdout: str = "", exit: int = 0, stderr: str = "",
                 deployment: str | None = None, namespace: str | None = None) -> FakeCluster:
        """Answer `kubectl exec ... -- <command containing match>` (e.g. mongosh, redis-cli)."""
        with self._edit() as st:
            st["exec"].append({"match": match, "stdout": stdout, "exit": exit, "stderr": stderr,
                               "deployment": deployment, "namespace": namespace})
        return self

    def add_event(self, ns: str, kind: str, name: str, reason: str, message: str,
                  type: str = "Warning") -> FakeCluster:
        with self._edit() as st:
            ks.add_event(st, ns, kind, name, reason, message, type)
        return self

    def set_setting(self, name: str, value: Any) -> FakeCluster:
        """`rollout_wait_cap` / `helm_wait_cap` (seconds) or `hang_without_timeout` (bool)."""
        with self._edit() as st:
            if name not in ks.DEFAULT_SETTINGS:
                raise KeyError(name)
            st["settings"][name] = value
        return self

    def add_helm_release(self, ns: str, name: str, chart: str, version: str, app_version: str | None = None,
                         values: dict[str, Any] | None = None, status: str = "deployed") -> FakeCluster:
        """A release already installed (revision 1)."""
        with self._edit() as st:
            st["helm"][ks.key(ns, name)] = [{
                "revision": 1, "status": status, "chart_name": chart, "chart_version": version,
                "app_version": app_version or version, "values": values or {}, "updated": ks.now(),
                "description": "Install complete", "image": None}]
        return self

    def retail_platform(self, version: str = "1.0.0", green_replicas: int = 0, green_version: str | None = None,
                        replicas: int = 2, blue_replicas: int = 3) -> FakeCluster:
        """The runbook's platform: contexts retail-staging/retail-production, namespaces staging/production,
        the three services in both, blue/green backend in production behind Service retail-backend."""
        self.add_context("retail-staging", ["staging"]).add_context("retail-production", ["production"])
        self.add_namespace("staging").add_namespace("production")
        for ns in ("staging", "production"):
            for svc in PLATFORM_SERVICES:
                self.add_deployment(ns, svc, svc, f"{REGISTRY}/{svc}:{version}", replicas, {"app": svc})
                self.add_service(ns, svc, {"app": svc}, 8080 if svc == "retail-backend" else 80)
        for colour, count, ver in (("blue", blue_replicas, version), ("green", green_replicas,
                                                                       green_version or version)):
            self.add_deployment("production", f"retail-backend-{colour}", "retail-backend",
                                f"{REGISTRY}/retail-backend:{ver}", count,
                                {"app": "retail-backend", "deployment": colour})
        # Service retail-backend in production fronts the blue/green pair.
        self.add_service("production", "retail-backend", {"app": "retail-backend", "deployment": "blue"}, 8080)
        # The data stores the runbook's troubleshooting execs into, answering like healthy ones.
        self.add_deployment("production", "mongodb", "mongodb", "mongo:7.0", 1, {"app": "mongodb"}, 27017)
        self.add_deployment("production", "redis", "redis", "redis:7.2", 1, {"app": "redis"}, 6379)
        self.set_exec("db.stats()", stdout='{"db":"retail","collections":12,"objects":48210,"ok":1}\n')
        self.set_exec("db.currentOp(", stdout="[]\n")
        self.set_exec("redis-cli --latency", stdout="0 1 0.21 1000\n")
        self.set_exec("ping", stdout="PONG\n")
        return self

    # ------------------------------------------------------------ faults

    def inject(self, kind: str, target: str | None = None, **kw: Any) -> FakeCluster:
        """Inject a fault (see README.md): rollout_timeout, progress_deadline, crashloop, bad_image,
        patch_refused, helm_pending, helm_fail, fail_command, hang, dependency_down.
        `times=N` makes it one-shot (N uses); `namespace=` narrows it."""
        if kind not in ks.FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(ks.FAULT_KINDS)}")
        times = kw.pop("times", None)
        with self._edit() as st:
            if kind == "helm_pending":
                self._helm_pending(st, target, kw)
                return self
            if kind in ("fail_command", "hang") and "match" not in kw and target is not None:
                kw["match"] = target
            if kind == "crashloop" and kw.get("image") is None and target is not None:
                kw["image"] = self._current_image(st, target, kw.get("namespace"))
            st["faults"].append({"kind": kind, "target": target, "kw": kw, "times": times})
            ks.reconcile(st)
        return self

    @staticmethod
    def _current_image(st: dict[str, Any], deployment: str, ns: str | None) -> str | None:
        for dep in st["objects"]["deployments"].values():
            if dep["metadata"]["name"] == deployment and ns in (None, dep["metadata"]["namespace"]):
                return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])
        return None

    @staticmethod
    def _helm_pending(st: dict[str, Any], release: str | None, kw: dict[str, Any]) -> None:
        if release is None:
            raise ValueError("helm_pending needs the release name as target")
        ns = kw.get("namespace")
        keys = [k for k in st["helm"] if k.split("/", 1)[1] == release and ns in (None, k.split("/", 1)[0])]
        status = kw.get("status", "pending-upgrade")
        if not keys:
            ns = ns or "staging"
            st["helm"][ks.key(ns, release)] = [{
                "revision": 1, "status": "pending-install", "chart_name": release, "chart_version": "0.1.0",
                "app_version": "", "values": {}, "updated": ks.now(), "description": "Initial install underway",
                "image": None}]
            return
        for k in keys:
            revs = st["helm"][k]
            last = revs[-1]
            if status == "pending-upgrade":
                revs.append(dict(last, revision=last["revision"] + 1, status=status, updated=ks.now(),
                                 description="Preparing upgrade"))
            else:
                last["status"] = status

    def clear_faults(self, kind: str | None = None) -> FakeCluster:
        with self._edit() as st:
            st["faults"] = [f for f in st["faults"] if kind is not None and f["kind"] != kind]
            ks.reconcile(st)
        return self

    def faults(self) -> list[dict[str, Any]]:
        return list(self._read()["faults"])

    # ------------------------------------------------------------ readers

    def _read(self) -> dict[str, Any]:
        # Reconcile first: time passes (rollout_seconds) and faults change without a kubectl call.
        with ks.locked(str(self.path)) as st:
            ks.reconcile(st)
            return st

    def state(self) -> dict[str, Any]:
        """The whole state (a copy)."""
        return self._read()

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        """Every invocation: {"tool", "argv", "time", "pid", "exit" (None while/if it hung), "stdin"?}."""
        return [c for c in self._read()["calls"] if tool in (None, c["tool"])]

    def commands(self, tool: str | None = None) -> list[list[str]]:
        """argv of every invocation (without the program name), in order."""
        return [c["argv"] for c in self.calls(tool)]

    def mutations(self) -> list[list[str]]:
        """argv of the kubectl/helm invocations that can change the cluster."""
        readonly = {"get", "describe", "logs", "top", "cluster-info", "version", "config", "status", "list",
                    "history"}
        out = []
        for c in self.calls():
            words = [a for a in c["argv"] if not a.startswith("-")]
            if not words or words[0] in readonly or (words[0] == "rollout" and len(words) > 1
                                                     and words[1] in ("status", "history")):
                continue
            out.append(c["argv"])
        return out

    def _obj(self, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        obj = self._read()["objects"][kind].get(ks.key(ns, name))
        return obj

    def deployment(self, ns: str, name: str) -> dict[str, Any] | None:
        return self._obj("deployments", ns, name)

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
        return None if dep is None else ks.revision_of(dep)

    def replicasets(self, ns: str, deployment: str) -> list[dict[str, Any]]:
        st = self._read()
        return ks.owned_replicasets(st, ns, deployment)

    def pods(self, ns: str, selector: dict[str, str] | None = None) -> list[dict[str, Any]]:
        st = self._read()
        return sorted((p for p in st["objects"]["pods"].values() if p["metadata"]["namespace"] == ns
                       and ks.labels_match(p["metadata"].get("labels", {}), selector or {})),
                      key=lambda p: p["metadata"]["name"])

    def service(self, ns: str, name: str) -> dict[str, Any] | None:
        return self._obj("services", ns, name)

    def selector(self, ns: str, service: str) -> dict[str, str] | None:
        svc = self.service(ns, service)
        return None if svc is None else dict(svc["spec"].get("selector", {}))

    def configmap(self, ns: str, name: str) -> dict[str, Any] | None:
        return self._obj("configmaps", ns, name)

    def configmaps(self, ns: str) -> list[dict[str, Any]]:
        st = self._read()
        return [cm for cm in st["objects"]["configmaps"].values() if cm["metadata"]["namespace"] == ns]

    def certificate(self, ns: str, name: str) -> dict[str, Any] | None:
        return self._obj("certificates", ns, name)

    def helm_release(self, ns: str, name: str) -> dict[str, Any] | None:
        """Latest revision of a release: {"revision", "status", "chart_name", "chart_version", "app_version",
        "values", "updated", "description", "image"}; None if not installed."""
        revs = self._read()["helm"].get(ks.key(ns, name))
        return revs[-1] if revs else None

    def helm_history(self, ns: str, name: str) -> list[dict[str, Any]]:
        return list(self._read()["helm"].get(ks.key(ns, name), []))

    def serving(self, ns: str, service: str) -> dict[str, Any]:
        """What a request to the Service would reach: {"images": [...], "ready_pods": n, "status": "UP"|...}."""
        return serving_summary(self._read(), ns, service=service)


# ---------------------------------------------------------------- what the platform serves

def serving_summary(st: dict[str, Any], ns: str, service: str | None = None,
                    deployment: str | None = None) -> dict[str, Any]:
    """Ready pods behind a Service (its selector) or a Deployment, their image and health."""
    pods: list[dict[str, Any]] = []
    if service is not None:
        svc = st["objects"]["services"].get(ks.key(ns, service))
        if svc is None:
            return {"exists": False, "images": [], "ready_pods": 0, "status": "DOWN", "version": None}
        selector = svc["spec"].get("selector") or {}
        pods = [p for p in st["objects"]["pods"].values() if p["metadata"]["namespace"] == ns
                and selector and ks.labels_match(p["metadata"].get("labels", {}), selector)]
    else:
        assert deployment is not None
        if st["objects"]["deployments"].get(ks.key(ns, deployment)) is None:
            return {"exists": False, "images": [], "ready_pods": 0, "status": "DOWN", "version": None}
        for rs in ks.owned_replicasets(st, ns, deployment):
            pods.extend(ks.owned_pods(st, ns, rs["metadata"]["name"]))
    ready = [p for p in pods if ks.pod_ready(p)]
    counts: dict[str, int] = {}
    for p in ready:
        image = p["spec"]["containers"][0].get("image", "")
        counts[image] = counts.get(image, 0) + 1
    images = sorted(counts, key=lambda i: -counts[i])
    if not images:
        return {"exists": True, "images": [], "ready_pods": 0, "status": "DOWN", "version": None}
    main = images[0]
    return {"exists": True, "images": images, "ready_pods": len(ready),
            "status": "DOWN" if ks.image_is_bad(st, main) else "UP", "version": ks.image_tag(main)}


class _Handler(BaseHTTPRequestHandler):
    server: _TargetServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _send(self, code: int, body: Any) -> None:
        data = (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        srv = self.server
        srv.requests.append(self.path)
        with ks.locked(str(srv.state_path)) as st:
            ks.reconcile(st)
            summary = serving_summary(st, srv.ns, service=srv.service, deployment=srv.deployment)
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        up = summary["status"] == "UP"
        if path in ("/api/v1/health", "/actuator/health", "/health"):
            self._send(200 if up else 503, {"status": "UP" if up else "DOWN"})
        elif path == "/api/v1/version":
            if summary["ready_pods"]:
                self._send(200, {"version": summary["version"]})
            else:
                self._send(503, {"status": "DOWN"})
        elif path == "/":
            self._send(200 if up else 503, "<!doctype html><title>retail</title>" if up else "unavailable")
        else:
            self._send(404, {"status": 404, "error": "Not Found", "path": path})

    do_HEAD = do_GET


class _TargetServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state_path: Path, ns: str, service: str | None, deployment: str | None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state_path, self.ns, self.service, self.deployment = state_path, ns, service, deployment
        self.requests: list[str] = []


class ClusterHTTP:
    """HTTP endpoints answering like the platform would, from the fake cluster's state.

    One loopback server per target (so base URLs have no path prefix):
    `service_url(ns, name)` follows the Service's selector (blue/green switches show up at once),
    `deployment_url(ns, name)` reaches one Deployment (e.g. the idle colour for smoke tests).
    Endpoints: /api/v1/health, /actuator/health (503 DOWN if no ready pod or the serving image is
    marked bad), /api/v1/version ({"version": <image tag>}), / (200 for front ends).
    Use as a context manager, or call close().
    """

    def __init__(self, cluster: FakeCluster):
        self.cluster = cluster
        self._servers: dict[tuple[str, str, str], _TargetServer] = {}
        self._lock = threading.Lock()

    def _url(self, kind: str, ns: str, name: str) -> str:
        with self._lock:
            srv = self._servers.get((kind, ns, name))
            if srv is None:
                srv = _TargetServer(self.cluster.path, ns, name if kind == "svc" else None,
                                    name if kind == "deploy" else None)
                threading.Thread(target=srv.serve_forever, name=f"cluster-http-{name}", daemon=True).start()
                self._servers[(kind, ns, name)] = srv
            return f"http://127.0.0.1:{srv.server_address[1]}"

    def service_url(self, ns: str, name: str) -> str:
        return self._url("svc", ns, name)

    def deployment_url(self, ns: str, name: str) -> str:
        return self._url("deploy", ns, name)

    def requests(self, ns: str, name: str, kind: str = "svc") -> list[str]:
        srv = self._servers.get((kind, ns, name))
        return list(srv.requests) if srv else []

    def platform_urls(self, ns: str) -> dict[str, str]:
        """{service: base_url} for the three platform services (what config `urls` expects)."""
        return {svc: self.service_url(ns, svc) for svc in PLATFORM_SERVICES}

    def colour_urls(self, ns: str = "production", base: str = "retail-backend") -> dict[str, str]:
        return {colour: self.deployment_url(ns, f"{base}-{colour}") for colour in ("blue", "green")}

    def close(self) -> None:
        with self._lock:
            for srv in self._servers.values():
                srv.shutdown()
                srv.server_close()
            self._servers.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
