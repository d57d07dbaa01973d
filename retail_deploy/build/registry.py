"""Read-only questions to a Docker registry over its HTTP API v2 (no Docker engine needed).

Used by the pre-deployment checklist ("the version's image exists in the registry"). Handles
both auth schemes registries use: Basic (htpasswd, as `docker-registry` serves it) and the
Bearer token flow (`WWW-Authenticate: Bearer realm=...,service=...,scope=...`).
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

from retail_deploy.errors import DependencyUnavailable, OperationFailed

if TYPE_CHECKING:
    import requests

MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


def base_url(registry: str) -> str:
    """Docker talks plain HTTP only to loopback registries; everything else is HTTPS."""
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return f"{'http' if loopback else 'https'}://{registry}"


def manifest_digest(registry: str, image: str, tag: str, *, username: str | None = None,
                    password: str | None = None, timeout: float = 10.0) -> str | None:
    """The digest of `registry/image:tag`, or None when the registry does not have it."""
    import requests

    url = f"{base_url(registry)}/v2/{image}/manifests/{tag}"
    headers = {"Accept": MANIFEST_TYPES}
    auth = (username, password) if username and password else None
    try:
        with requests.Session() as session:
            response = session.head(url, headers=headers, auth=auth, timeout=timeout)
            if response.status_code == 401:
                token = _bearer_token(session, response.headers.get("WWW-Authenticate", ""), auth, timeout)
                if token:
                    response = session.head(url, headers={**headers, "Authorization": f"Bearer {token}"},
                                            timeout=timeout)
    except requests.RequestException as error:
        raise DependencyUnavailable(f"registry {registry} is unreachable: {type(error).__name__}") from None
    if response.status_code == 404:
        return None
    if response.status_code == 401:
        raise OperationFailed(f"registry {registry} rejected the credentials for {image} "
                              "(set REGISTRY_USERNAME/REGISTRY_PASSWORD or docker login)")
    if response.status_code != 200:
        raise OperationFailed(f"registry {registry} answered HTTP {response.status_code} for {image}:{tag}")
    return response.headers.get("Docker-Content-Digest", "") or "present"


def _bearer_token(session: requests.Session, challenge: str, auth: tuple[str, str] | None, timeout: float) -> str | None:
    if not challenge.lower().startswith("bearer "):
        return None
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = fields.pop("realm", None)
    if not realm:
        return None
    response = session.get(realm, params=fields, auth=auth, timeout=timeout)
    if response.status_code != 200:
        return None
    body = response.json()
    token = body.get("token") or body.get("access_token")
    return str(token) if token else None
