"""A tiny client of the real API server for the test suite: plain HTTPS with the admin client
certificate from a kubeconfig. The fixtures and the stand-in data plane read and seed the cluster
through it, never through retail_deploy code, so a product bug cannot hide in the test's own view.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import yaml

# Where each kind lives in the API (only what the tests use).
PATHS = {
    "namespaces": "/api/v1/namespaces",
    "nodes": "/api/v1/nodes",
    "pods": "/api/v1/namespaces/{ns}/pods",
    "services": "/api/v1/namespaces/{ns}/services",
    "configmaps": "/api/v1/namespaces/{ns}/configmaps",
    "serviceaccounts": "/api/v1/namespaces/{ns}/serviceaccounts",
    "events": "/api/v1/namespaces/{ns}/events",
    "secrets": "/api/v1/namespaces/{ns}/secrets",
    "deployments": "/apis/apps/v1/namespaces/{ns}/deployments",
    "replicasets": "/apis/apps/v1/namespaces/{ns}/replicasets",
}


class KubeAPI:
    """GET/POST/PATCH/DELETE against the API server named by a kubeconfig's current context."""

    def __init__(self, kubeconfig: str | Path):
        self.kubeconfig = Path(kubeconfig)
        config = yaml.safe_load(self.kubeconfig.read_text())
        current = config["current-context"]
        context = next(c["context"] for c in config["contexts"] if c["name"] == current)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        self.server = cluster["server"].rstrip("/")
        self.config = config
        self._pem = Path(tempfile.mkdtemp(prefix="kube-api-"))
        ca = self._write("ca.crt", cluster["certificate-authority-data"])
        crt = self._write("client.crt", user["client-certificate-data"])
        key = self._write("client.key", user["client-key-data"])
        self.session = requests.Session()
        # Our own CA, whatever REQUESTS_CA_BUNDLE says (it would override session.verify), and no proxy.
        self.session.trust_env = False
        self.session.verify = str(ca)
        self.session.cert = (str(crt), str(key))

    def _write(self, name: str, data: str) -> Path:
        path = self._pem / name
        path.write_bytes(base64.b64decode(data))
        path.chmod(0o600)
        return path

    def url(self, kind: str, ns: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        path = PATHS[kind].format(ns=ns)
        if name is not None:
            path += "/" + quote(name)
        if sub is not None:
            path += "/" + sub
        return self.server + path

    def request(self, method: str, url: str, **kw: Any) -> requests.Response:
        return self.session.request(method, url, timeout=10, **kw)

    def get(self, kind: str, ns: str | None = None, name: str | None = None) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        response = self.request("GET", self.url(kind, ns, name))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def list(self, kind: str, ns: str | None = None, selector: dict[str, str] | None = None) -> list[dict[str, Any]]:
        params = {"labelSelector": ",".join(f"{k}={v}" for k, v in selector.items())} if selector else {}
        response = self.request("GET", self.url(kind, ns), params=params)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return sorted(items, key=lambda o: str(o["metadata"]["name"]))

    def create(self, kind: str, ns: str | None, body: dict[str, Any]) -> dict[str, Any]:
        response = self.request("POST", self.url(kind, ns), json=body)
        if not response.ok:
            raise RuntimeError(f"creating {kind} {body['metadata'].get('name')}: {response.status_code} "
                               f"{response.text[:300]}")
        result: dict[str, Any] = response.json()
        return result

    def create_rbac(self, kind: str, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a Role or RoleBinding (rbac.authorization.k8s.io/v1) in a namespace."""
        url = f"{self.server}/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/{kind}"
        response = self.request("POST", url, json=body)
        if not response.ok:
            raise RuntimeError(f"creating {kind} {body['metadata']['name']}: {response.status_code} {response.text[:300]}")
        result: dict[str, Any] = response.json()
        return result

    def patch(self, kind: str, ns: str | None, name: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.request("PATCH", self.url(kind, ns, name), json=body,
                                headers={"Content-Type": "application/merge-patch+json"})
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def delete(self, kind: str, ns: str | None, name: str) -> None:
        response = self.request("DELETE", self.url(kind, ns, name))
        if response.status_code != 404:
            response.raise_for_status()
