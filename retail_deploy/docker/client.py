"""The one Docker client factory: every Docker SDK client (image builds and pushes, the Docker
engine target, local or over SSH) is made and checked here (docs/architecture.md, "Foundation").

The SDK is imported inside `connect` so `inv --list` never loads it. A client that cannot reach its
engine is closed at once (its connection pool would otherwise linger) and reported as one line
naming the engine and what to check.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from retail_deploy.errors import InputError, OperationFailed

if TYPE_CHECKING:
    from docker import DockerClient

LOCAL = "local"  # the environment's engine: $DOCKER_HOST, else the local socket


def connect(host: str | None = None, *, timeout: float = 120, use_ssh_client: bool = False,
            ssh_key: str | None = None) -> DockerClient:
    """A pinged DockerClient for `host` (unix://, tcp://, ssh://user@host) or, for None/"local",
    the environment's engine. `ssh_key` is a private key for ssh:// (the SDK itself only reads
    ~/.ssh/config); `use_ssh_client` runs the system `ssh` instead of paramiko."""
    import docker

    host = None if host in (None, "", LOCAL) else host
    key = os.path.expanduser(ssh_key) if ssh_key else None
    if key and not os.path.isfile(key):
        raise InputError(f"docker.ssh_key {ssh_key} does not exist: fix it in the config file")
    client = None
    try:
        if host and key and not use_ssh_client:
            client = _client_with_key(host, timeout, key)
        elif host:
            client = docker.DockerClient(base_url=host, timeout=int(timeout), use_ssh_client=use_ssh_client)
        else:
            client = docker.from_env(timeout=int(timeout))
        client.ping()
    except Exception as error:  # the SDK raises many unrelated types for "no engine"
        if client is not None:  # made, but the engine did not answer: free its connection pool
            client.close()
        where = host or os.environ.get("DOCKER_HOST") or "the local Docker engine"
        text = first_line(error)
        if "known_hosts" in text:
            hint = "add the host key first: ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts"
        elif host and host.startswith("ssh://"):
            hint = "can that user run `docker` there? try: ssh USER@HOST docker info"
        else:
            hint = "is dockerd running? see scripts/start-docker.sh"
        raise OperationFailed(f"cannot reach {where}: {text} ({hint})") from error
    return client


_ADAPTER_LOCK = threading.Lock()


def _client_with_key(base_url: str, timeout: float, key: str) -> DockerClient:
    """A DockerClient over paramiko with the configured private key. Host keys still come from
    ~/.ssh/known_hosts: unknown hosts are refused."""
    import docker
    import docker.api.client

    # APIClient builds its SSH adapter from this module-level name; the name and the adapter's
    # paramiko hooks are SDK internals the types-docker stubs do not declare.
    api_client = vars(docker.api.client)
    base = api_client["SSHHTTPAdapter"]

    class KeyedAdapter(base):  # type: ignore[misc, valid-type]
        def _create_paramiko_client(self, url: str) -> None:
            super()._create_paramiko_client(url)
            self.ssh_params.update(key_filename=key, look_for_keys=False)

    with _ADAPTER_LOCK:  # the SDK builds its adapter inside APIClient(): swap the class meanwhile
        api_client["SSHHTTPAdapter"] = KeyedAdapter
        try:
            return docker.DockerClient(base_url=base_url, timeout=int(timeout))
        finally:
            api_client["SSHHTTPAdapter"] = base


def first_line(value: object) -> str:
    """The first line of an SDK error (they can span pages), or its type when it says nothing."""
    text = str(value).strip()
    return text.splitlines()[0][:300] if text else type(value).__name__
