"""Real services for integration tests, started by the suite itself on 127.0.0.1.

A pytest plugin (``pytest_plugins = ["tests.services"]`` in tests/conftest.py). Every server
binds a free loopback port, keeps its files in a pytest tmp dir and is stopped at the end of
its scope. A service that cannot start FAILS the test under ``CI=true`` and skips it, with
the reason, everywhere else.

Fixtures (scope) -> object:
- ``docker_engine`` (session) -> DockerEngine: .base_url .client (docker.DockerClient) .base_image
- ``registry`` (session) / ``registry_factory`` (function) -> Registry: .address .url .username
  .password .auth_config .stop() .start() .tags(repo)
- ``prometheus_factory`` (function) -> factory(targets, ...) -> Prometheus: .url .query(expr) .stop()
- ``metrics_exporter`` (function) -> MetricsExporter: .target .url .set_counter() .set_rate() ...
- ``sshd_server`` (session) -> SshServer: .host .port .user .key_filename .url .ssh_config ...
- ``http_service_factory`` (function) -> factory(routes, tls=False) -> HttpService: .url .ca_file ...
- ``webhook_receiver`` (function) -> WebhookReceiver: .url .requests .status .wait_for(n)
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = REPO_ROOT / "scripts"
LOOPBACK = "127.0.0.1"
BASE_IMAGE = "busybox:1.36"
DOCKER_SOCKET_URL = "unix:///var/run/docker.sock"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs real services started on 127.0.0.1")


# --------------------------------------------------------------------------- helpers


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """A missing service fails under CI (it must exist there) and skips elsewhere."""
    if in_ci():
        pytest.fail(f"service unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the kernel picks it, so parallel runs do not collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """HTTP status of GET url, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, urllib.error.URLError):
        return None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class ServiceProcess:
    """A daemon process with its output in a log file; stopped by its own process group."""

    def __init__(self, name: str, argv: Sequence[str], log_file: Path, env: Mapping[str, str] | None = None):
        self.name = name
        self.argv = list(argv)
        self.log_file = log_file
        self.env = dict(env) if env is not None else None
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.running:
            return
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env, start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_until(self, ready: Callable[[], bool], timeout: float) -> None:
        """Poll ready() until true; raise RuntimeError with the log tail if the process dies or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} exited at start ({self.argv[0]}):\n{_tail(self.log_file)}")
            if ready():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s:\n{_tail(self.log_file)}")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)


def _require_binary(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path is None:
        unavailable(f"{name} not installed (Debian package {package}; run scripts/install-system-deps.sh)")
    assert path is not None
    return path


def _run_script(name: str, timeout: float = 120.0) -> None:
    script = SCRIPTS / name
    try:
        done = subprocess.run(
            ["bash", str(script)], check=False, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        unavailable(f"scripts/{name} did not finish within {timeout:.0f}s")
        return
    if done.returncode != 0:
        unavailable(f"scripts/{name} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}")


# --------------------------------------------------------------------------- docker engine


@dataclass
class DockerEngine:
    base_url: str
    client: Any  # docker.DockerClient (docker is imported lazily)
    base_image: str = BASE_IMAGE


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """The local Docker engine (started bridge-less if needed) with the busybox base image built.

    dockerd is shared by everyone on the machine, so it is left running at the end.
    """
    _require_binary("dockerd", "docker.io")
    _run_script("start-docker.sh")
    _run_script("make-base-image.sh")
    import docker

    client = docker.DockerClient(base_url=DOCKER_SOCKET_URL, timeout=120)
    try:
        client.ping()
        client.images.get(BASE_IMAGE)
    except Exception as error:  # noqa: BLE001 - any failure means the engine is unusable
        client.close()
        unavailable(f"docker engine at {DOCKER_SOCKET_URL} unusable: {error}")
    try:
        yield DockerEngine(base_url=DOCKER_SOCKET_URL, client=client)
    finally:
        client.close()


# --------------------------------------------------------------------------- registry


class Registry:
    """A Docker registry (distribution 2.x) with htpasswd auth and filesystem storage.

    stop()/start() keep the same port and storage, so pushed images survive a restart.
    """

    def __init__(self, workdir: Path, username: str = "deployer", password: str | None = None):
        self.workdir = workdir
        self.username = username
        self.password = password or secrets.token_urlsafe(16)
        self.host = LOOPBACK
        self.port = free_port()
        self.storage_dir = workdir / "storage"
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.htpasswd_file = workdir / "htpasswd"
        self.config_file = workdir / "config.yml"
        self._write_files()
        binary = shutil.which("docker-registry") or "docker-registry"
        self.process = ServiceProcess("docker-registry", [binary, "serve", str(self.config_file)],
                                      workdir / "registry.log")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def auth_config(self) -> dict[str, str]:
        """The docker SDK's auth_config for push/pull."""
        return {"username": self.username, "password": self.password}

    def _write_files(self) -> None:
        entry = subprocess.run(
            ["htpasswd", "-Bbn", self.username, self.password], capture_output=True, text=True, check=True,
        ).stdout.strip()
        self.htpasswd_file.write_text(entry + "\n")
        # JSON is YAML: no YAML dependency, no quoting surprises.
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.storage_dir)}, "delete": {"enabled": True}},
            "http": {"addr": self.address, "secret": secrets.token_hex(16)},
            "auth": {"htpasswd": {"realm": "retail-deploy-test", "path": str(self.htpasswd_file)}},
        }
        self.config_file.write_text(json.dumps(config, indent=2))

    def start(self, timeout: float = 20.0) -> Registry:
        self.process.start()
        # /v2/ answers 401 with auth configured once the registry serves.
        self.process.wait_until(lambda: http_status(f"{self.url}/v2/", 1.0) in (200, 401), timeout)
        return self

    def stop(self) -> None:
        self.process.stop()

    @property
    def running(self) -> bool:
        return self.process.running

    def _get_json(self, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}{path}")
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def tags(self, repository: str) -> list[str]:
        """Tags of a repository in this registry ([] when the repository does not exist)."""
        try:
            return sorted(self._get_json(f"/v2/{repository}/tags/list").get("tags") or [])
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return []
            raise

    def catalog(self) -> list[str]:
        return sorted(self._get_json("/v2/_catalog").get("repositories") or [])


def _start_registry(workdir: Path) -> Registry:
    _require_binary("docker-registry", "docker-registry")
    _require_binary("htpasswd", "apache2-utils")
    registry = Registry(workdir)
    try:
        return registry.start()
    except RuntimeError as error:
        unavailable(str(error))
        raise


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry shared by the session. Tests that stop() it must start() it again:
    prefer ``registry_factory`` for "registry is down" tests."""
    server = _start_registry(tmp_path_factory.mktemp("registry"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def registry_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], Registry]]:
    """Make private registries (each stopped at the end of the test)."""
    started: list[Registry] = []

    def make() -> Registry:
        server = _start_registry(tmp_path_factory.mktemp("registry"))
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()
