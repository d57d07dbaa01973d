"""What a kubelet keeps per pod, for the test control plane's simulated nodes (scripts/kube-up.sh).

kwok answers the kubelet API (logs, attach, exec, port-forward) from its own objects, but a
`Logs` object names one fixed file: nothing in kwok makes what a pod logs follow its image. This
process does, for every pod, as soon as it is created:

1. writes the container's log file in the CRI format a kubelet keeps (`<RFC 3339 time> stdout F
   <line>`), whose content follows the image tag (the rule is in scripts/lib/kwok-stages.yaml's
   header): a normal Spring-Boot-like start-up; after it ERROR lines when the tag contains
   `log-errors` (verification's log scan fails for real); a failed start when it contains
   `crashloop`, also as the previous container's logs (`kubectl logs --previous`);
2. creates the pod's kwok `Logs` and `Attach` objects naming those files, and a `PortForward`
   sending each declared containerPort P to 127.0.0.1:P (a local server the test started);
   each is owned by the pod, so the garbage collector removes it with the pod;
3. annotates the pod `kwok-kubelet.retail-deploy.test/logs: served`: only then do kwok's stages
   make it Ready, so no verification can read a pod's logs before they are served.

Standard library only (it runs before, and without, the project's virtualenv); it talks to the
API server on 127.0.0.1 with the admin client certificate. Usage:

    python3 kwok-kubelet.py --server https://127.0.0.1:PORT --pki DIR --logs DIR
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

SERVED = "kwok-kubelet.retail-deploy.test/logs"
KWOK = "/apis/kwok.x-k8s.io/v1alpha1"
# Pods are served in parallel (a rollout's pods wait for this before they become Ready): each
# worker thread keeps its own keep-alive connection.
WORKERS = 8


class API:
    """A keep-alive HTTPS connection to the API server (one per purpose: requests, the watch)."""

    def __init__(self, server: str, pki: str) -> None:
        url = urllib.parse.urlsplit(server)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.context = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.context.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        self.conn: http.client.HTTPSConnection | None = None

    def connect(self, timeout: float | None = 10) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=timeout)

    def request(self, method: str, path: str, body: object = None,
                content_type: str = "application/json") -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self.connect()
            try:
                self.conn.request(method, path, body=data, headers={"Content-Type": content_type})
                response = self.conn.getresponse()
                raw = response.read()
                return response.status, (json.loads(raw) if raw else {})
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def cri(lines: list[str], start: datetime, stream: str = "stdout") -> str:
    """CRI log lines, 37 ms apart from `start` (kwok reads timestamps for --since/--timestamps)."""
    out = []
    for i, line in enumerate(lines):
        stamp = (start + timedelta(milliseconds=37 * i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out.append(f"{stamp} {stream} F {line}\n")
    return "".join(out)


def spring(start: datetime, level: str, thread: str, logger: str, message: str, offset_ms: int) -> str:
    stamp = (start + timedelta(milliseconds=offset_ms)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{stamp} {level:>5} 1 --- [{thread:>15}] {logger:<40} : {message}"


def startup(name: str, version: str, port: int, start: datetime) -> list[str]:
    return [
        spring(start, "INFO", "main", "c.e.retail.Application",
               f"Starting {name} v{version} using Java 17 with PID 1", 0),
        spring(start, "INFO", "main", "c.e.retail.Application", 'The following 1 profile is active: "prod"', 12),
        spring(start, "INFO", "main", "o.s.b.w.embedded.tomcat.TomcatWebServer",
               f"Tomcat initialized with port {port} (http)", 870),
        spring(start, "INFO", "main", "o.s.b.a.e.web.EndpointLinksResolver",
               "Exposing 3 endpoints beneath base path '/actuator'", 1610),
        spring(start, "INFO", "main", "o.s.b.w.embedded.tomcat.TomcatWebServer",
               f"Tomcat started on port {port} (http) with context path '/'", 1702),
        spring(start, "INFO", "main", "c.e.retail.Application",
               f"Started {name} in 1.81 seconds (process running for 2.04)", 1760),
    ]


def failed_start(name: str, version: str, port: int, start: datetime) -> list[str]:
    return startup(name, version, port, start)[:3] + [
        spring(start, "WARN", "main", "ConfigServletWebServerApplicationContext",
               "Exception encountered during context initialization - cancelling refresh attempt: "
               "org.springframework.beans.factory.BeanCreationException: Error creating bean with name "
               "'mongoConfig': Could not resolve placeholder 'MONGODB_URI' in value \"${MONGODB_URI}\"", 1200),
        spring(start, "ERROR", "main", "o.s.b.d.LoggingFailureAnalysisReporter", "", 1230),
        "",
        "***************************",
        "APPLICATION FAILED TO START",
        "***************************",
        "",
        "Description:",
        "",
        "Could not resolve placeholder 'MONGODB_URI' in value \"${MONGODB_URI}\"",
    ]


def errors_after_start(name: str, version: str, port: int, start: datetime) -> list[str]:
    lines = startup(name, version, port, start)
    for i in range(3):
        lines.append(spring(start, "ERROR", f"nio-{port}-exec-{i + 1}", "c.e.retail.OrderController",
                            "Request processing failed: com.mongodb.MongoTimeoutException: Timed out after "
                            "30000 ms while waiting to connect. Client view of cluster state is "
                            "{type=UNKNOWN, servers=[{address=mongodb:27017, type=UNKNOWN, state=CONNECTING}]}",
                            2500 + 400 * i))
    return lines


def content(image: str, container: str, port: int, start: datetime) -> tuple[str, str | None]:
    """(current logs, previous container's logs or None) of a container running `image`."""
    tag = image.rsplit("/", 1)[-1].partition(":")[2].partition("@")[0] or "latest"
    if "crashloop" in tag:
        previous = cri(failed_start(container, tag, port, start - timedelta(seconds=40)), start - timedelta(seconds=40))
        return cri(failed_start(container, tag, port, start), start), previous
    if "log-errors" in tag:
        return cri(errors_after_start(container, tag, port, start), start), None
    return cri(startup(container, tag, port, start), start), None


def serve(api: API, pod: dict, root: str, create: Callable[..., list[None]]) -> None:
    meta, spec = pod["metadata"], pod["spec"]
    ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
    directory = os.path.join(root, ns, f"{name}_{uid}")
    os.makedirs(directory, exist_ok=True)
    start = datetime.now(UTC)
    logs, attaches, forwards = [], [], []
    for c in spec.get("containers", []):
        ports = [p["containerPort"] for p in c.get("ports", []) if p.get("protocol", "TCP") == "TCP"]
        current, previous = content(c.get("image", ""), c["name"], (ports or [8080])[0], start)
        path = os.path.join(directory, f"{c['name']}.log")
        with open(path + ".tmp", "w") as f:
            f.write(current)
        os.replace(path + ".tmp", path)
        # No previous container (never restarted): a file that does not exist, so `--previous`
        # fails as a kubelet's does.
        entry = {"containers": [c["name"]], "logsFile": path, "previousLogsFile": path + ".previous"}
        if previous is not None:
            with open(path + ".previous", "w") as f:
                f.write(previous)
        logs.append(entry)
        attaches.append({"containers": [c["name"]], "logsFile": path})
        forwards += [{"ports": [p], "target": {"address": "127.0.0.1", "port": p}} for p in ports]
    owner = [{"apiVersion": "v1", "kind": "Pod", "name": name, "uid": uid}]
    objects = [("logs", "Logs", {"logs": logs}), ("attaches", "Attach", {"attaches": attaches})]
    if forwards:
        objects.append(("portforwards", "PortForward", {"forwards": forwards}))

    def creator(plural: str, kind: str, body: dict) -> Callable[[API], None]:
        def create_one(conn: API) -> None:
            doc = {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": kind,
                   "metadata": {"name": name, "namespace": ns, "ownerReferences": owner}, "spec": body}
            status, answer = conn.request("POST", f"{KWOK}/namespaces/{ns}/{plural}", doc)
            if status == 409:  # left by an earlier pod of the same name (a StatefulSet's): replace it
                conn.request("DELETE", f"{KWOK}/namespaces/{ns}/{plural}/{name}")
                status, answer = conn.request("POST", f"{KWOK}/namespaces/{ns}/{plural}", doc)
            if status >= 300 and status != 404:  # 404: the namespace is going away
                log(f"{kind} {ns}/{name}: HTTP {status} {answer.get('message', '')}")
        return create_one

    create(*[creator(*o) for o in objects])  # at once: a rollout waits for them
    status, answer = api.request("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}",
                                 {"metadata": {"annotations": {SERVED: "served"}, "uid": uid}},
                                 content_type="application/merge-patch+json")
    if status >= 300 and status not in (404, 409):
        log(f"annotating {ns}/{name}: HTTP {status} {answer.get('message', '')}")


def forget(pod: dict, root: str) -> None:
    meta = pod["metadata"]
    shutil.rmtree(os.path.join(root, meta["namespace"], f"{meta['name']}_{meta['uid']}"), ignore_errors=True)


def wants(pod: dict) -> bool:
    """Every pod not yet served, from its creation on: serving it while the scheduler places it
    costs a rollout no time (what it logs does not depend on the node)."""
    meta = pod["metadata"]
    return "deletionTimestamp" not in meta and (meta.get("annotations") or {}).get(SERVED) != "served"


def log(message: str) -> None:
    print(f"{datetime.now(UTC).isoformat(timespec='seconds')} kwok-kubelet: {message}", file=sys.stderr, flush=True)


class Workers:
    """serve() on a pool of threads, at most once at a time per pod."""

    def __init__(self, server: str, pki: str, root: str) -> None:
        self.server, self.pki, self.root = server, pki, root
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(WORKERS)
        self.objects = ThreadPoolExecutor(3 * WORKERS)  # never waits on self.pool: no deadlock
        self.busy: set[str] = set()
        self.lock = threading.Lock()

    def submit(self, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        with self.lock:
            if uid in self.busy:
                return
            self.busy.add(uid)
        self.pool.submit(self._serve, pod)

    def create(self, *calls: Callable[[API], None]) -> list[None]:
        """Run each call with a connection of its own thread, all at once; wait for all."""
        return [f.result() for f in [self.objects.submit(self._with_api, call) for call in calls]]

    def _with_api(self, call: Callable[[API], None]) -> None:
        if not hasattr(self.local, "api"):
            self.local.api = API(self.server, self.pki)
        call(self.local.api)

    def _serve(self, pod: dict) -> None:
        try:
            if not hasattr(self.local, "api"):
                self.local.api = API(self.server, self.pki)
            serve(self.local.api, pod, self.root, self.create)
        except Exception as exc:  # noqa: BLE001 - one pod's failure must not stop the others
            log(f"serving {pod['metadata']['namespace']}/{pod['metadata']['name']}: {type(exc).__name__}: {exc}")
        finally:
            with self.lock:
                self.busy.discard(pod["metadata"]["uid"])


def run(api: API, watcher: API, workers: Workers, root: str) -> None:
    """List, then watch from the list's resourceVersion; list again whenever the watch ends."""
    while True:
        try:
            status, pods = api.request("GET", "/api/v1/pods")
            if status != 200:
                raise OSError(f"listing pods: HTTP {status}")
            for pod in pods["items"]:
                if wants(pod):
                    workers.submit(pod)
            version = pods["metadata"]["resourceVersion"]
            conn = watcher.connect(timeout=None)
            conn.request("GET", f"/api/v1/pods?watch=1&resourceVersion={version}&timeoutSeconds=600")
            response = conn.getresponse()
            for line in response:
                event = json.loads(line)
                if event["type"] == "ERROR":  # e.g. 410 Gone: the version is too old, list again
                    break
                pod = event["object"]
                if event["type"] == "DELETED":
                    forget(pod, root)
                elif wants(pod):
                    workers.submit(pod)
            conn.close()
        except (OSError, ValueError, KeyError, http.client.HTTPException) as exc:
            log(f"{type(exc).__name__}: {exc}; listing again in 1 s")
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--pki", required=True)
    parser.add_argument("--logs", required=True, help="directory of the pods' log files")
    args = parser.parse_args()
    os.makedirs(args.logs, exist_ok=True)
    log(f"serving pod logs from {args.logs}")
    run(API(args.server, args.pki), API(args.server, args.pki), Workers(args.server, args.pki, args.logs), args.logs)


if __name__ == "__main__":
    main()
