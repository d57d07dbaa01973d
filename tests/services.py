"""Real services for integration tests, started by the suite itself on 127.0.0.1.

A pytest plugin (``pytest_plugins = ["tests.services"]`` in tests/conftest.py). Every server
binds a free loopback port, keeps its files in a pytest tmp dir and is stopped at the end of
its scope. A service that cannot start FAILS the test under ``CI=true`` and skips it, with
the reason, everywhere else.

Fixtures (scope) -> object:
- ``docker_engine`` (session) -> DockerEngine: .base_url .client (docker.DockerClient) .base_image
- ``registry`` (function; one registry per session, restarted if a test stopped it), ``session_registry``
  (session), ``registry_factory`` (function) -> Registry: .address .url .username .password
  .auth_config .stop() .start() .tags(repo)
- ``prometheus_factory`` (function) -> factory(targets, ...) -> Prometheus: .url .query(expr) .stop()
- ``metrics_exporter`` (function) -> MetricsExporter: .target .url .set_counter() .set_rate() ...
- ``sshd_server`` (session) -> SshServer: .host .port .user .key_filename .url .ssh_config ...
- ``http_service_factory`` (function) -> factory(routes, tls=False) -> HttpService: .url .ca_file ...
- ``webhook_receiver`` (function) -> WebhookReceiver: .url .requests .status .wait_for(n)
- ``jre_image`` (session) -> "retail-jre:25", the backend's base image, made locally
- ``example_build`` (session) -> ExampleBuild: the example platform built for real (mvn, npm) once
  per source state, cached outside the clone; .install(root) puts its outputs into a copy
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = REPO_ROOT / "scripts"
LOOPBACK = "127.0.0.1"
BASE_IMAGE = "busybox:1.36"
DOCKER_SOCKET_URL = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs real services started on 127.0.0.1")
    config.addinivalue_line("markers", "docker_no_host_ports: uses the Docker engine, but no container of it "
                                       "listens on a host port (need not share the docker-engine worker)")


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


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when pytest dies without running finalizers."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # best effort; fixture finalizers are the normal way services stop


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
                env=self.env, start_new_session=True, preexec_fn=_die_with_parent,
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


class _Startable(Protocol):
    def start(self) -> Any: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=_Startable)


def _start_service(build: Callable[[], S], attempts: int = 3) -> S:
    """build() a server on a fresh free port and start it; retry on a new port when another
    process grabbed the port between free_port() and the daemon's bind (shared machine)."""
    error: Exception | None = None
    for _ in range(attempts):
        server = build()
        try:
            server.start()
            return server
        except (RuntimeError, OSError) as failure:
            server.stop()
            error = failure
            if "address already in use" not in str(failure).lower():
                break
    unavailable(str(error))
    raise AssertionError("unreachable")  # unavailable() always raises


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


def unique_prefix() -> str:
    """A name prefix for what one test creates on the shared engine (containers, volumes, images):
    the xdist worker and random bytes, so no other test, worker or concurrent run uses it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw").removeprefix("gw") or "m"
    return f"t{worker}x{secrets.token_hex(4)}-"


def remove_images(client: Any, wanted: Callable[[str], bool]) -> None:
    """Remove the image tags a test made (`wanted(tag)` is true), and nothing else. An image pulled
    by digest is also named `repo@sha256:...`: such a name goes when `wanted` says so, or when every
    tag of its image was the test's (else the image stayed behind as `repo:<none>`).

    `noprune=True`: the untagged parents of a built image are the engine's build cache, shared by
    every build with the same steps (other tests, other runs on the machine). Pruning them while a
    concurrent build reuses one failed that build ("failed to set parent ...: unknown parent image
    ID"). The listing is the low-level one: `images.list()` inspects each image and fails when
    another run removes one meanwhile."""
    import docker

    for image in client.api.images():
        tags = [t for t in image.get("RepoTags") or () if t != "<none>:<none>"]
        ours = [t for t in tags if wanted(t)]
        only_ours = bool(ours) and len(ours) == len(tags)
        digests = [d for d in image.get("RepoDigests") or () if d.split("@")[0] != "<none>"]
        for reference in ours + [d for d in digests if only_ours or wanted(d)]:
            try:
                client.images.remove(reference, force=True, noprune=True)
            except docker.errors.NotFound:
                pass  # already gone with an earlier name of the same image


def remove_prefixed(client: Any, prefix: str) -> None:
    """Remove the containers, volumes and image tags named `prefix...` (one test's, unique_prefix()).
    Image tags match on the repository's last part, so `<registry>/<prefix>name:V` goes too."""
    import docker

    for container in client.containers.list(all=True, ignore_removed=True):  # others remove theirs meanwhile
        if container.name.startswith(prefix):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
    for volume in client.volumes.list(filters={"name": prefix}):  # the Docker target's audit records
        if str(volume.name).startswith(prefix):
            volume.remove(force=True)
    remove_images(client, lambda tag: tag.split("/")[-1].startswith(prefix))


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


def _start_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    _require_binary("docker-registry", "docker-registry")
    _require_binary("htpasswd", "apache2-utils")
    return _start_service(lambda: Registry(tmp_path_factory.mktemp("registry")))


@pytest.fixture(scope="session")
def session_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The session's registry, for module- or session-scoped fixtures (tests use ``registry``)."""
    server = _start_registry(tmp_path_factory)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def registry(session_registry: Registry) -> Iterator[Registry]:
    """The registry shared by the session (one daemon, storage kept across tests). A test may
    stop() it; it is started again, on the same port, before the next test uses it."""
    if not session_registry.running:
        session_registry.start()
    yield session_registry
    if not session_registry.running:
        session_registry.start()


@pytest.fixture
def registry_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], Registry]]:
    """Make private registries (each stopped at the end of the test)."""
    started: list[Registry] = []

    def make() -> Registry:
        server = _start_registry(tmp_path_factory)
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


# --------------------------------------------------------------------------- HTTP(S) servers


@dataclass
class RecordedRequest:
    """One request an in-process server received."""

    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.time)

    @property
    def route(self) -> str:
        return self.path.split("?", 1)[0]

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Route:
    """What a path answers: status, body (bytes, str, or JSON-able dict/list), headers, delay seconds."""

    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return self.body, "application/octet-stream"


# A route spec: Route, a status code, a JSON-able dict/list or text (answered 200), a list of
# Routes answered in turn (the last one repeats), or a callable(request) -> Route.
RouteSpec = Any


def _as_route(spec: RouteSpec) -> Route:
    if isinstance(spec, Route):
        return spec
    if isinstance(spec, int):
        return Route(status=spec)
    if isinstance(spec, (dict, str, bytes)):
        return Route(body=spec)
    raise TypeError(f"unsupported route spec {spec!r}")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(self.command, self.path, dict(self.headers.items()), body)
        route = self.server.owner.respond(request)
        if route.delay:
            time.sleep(route.delay)
        payload, content_type = route.payload()
        self.send_response(route.status)
        headers = {"Content-Type": content_type, **route.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; requests are recorded instead


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # listen backlog: 50+ concurrent health checks must not wait for SYN retries
    block_on_close = False  # stop() must not wait for a handler sleeping on a slow route

    def __init__(self, owner: HttpService, ssl_context: ssl.SSLContext | None):
        self.owner = owner
        self.ssl_context = ssl_context
        super().__init__((LOOPBACK, 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is not None:
            # Handshake in the worker thread so a client that never speaks TLS blocks nobody.
            request.settimeout(10)
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up (timeouts tests) are expected


@dataclass
class TlsFiles:
    """PEM files: a test CA, and a server certificate it signed for 127.0.0.1/localhost."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    not_after: Any  # datetime (UTC)


def make_tls_files(directory: Path, days: float = 365.0, hostname: str = "localhost") -> TlsFiles:
    """A CA and a server certificate valid for ``days`` more days (negative: already expired)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "retail-deploy test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=400)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = now + datetime.timedelta(days=days)
    not_before = min(now - datetime.timedelta(days=1), not_after - datetime.timedelta(days=30))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(hostname), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem", not_after)
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    return files


class HttpService:
    """A programmable HTTP or HTTPS server on 127.0.0.1 running in a thread.

    ``set_route("/api/v1/health", Route(200, {"status": "UP"}))``; unknown paths answer 404
    unless a ``"*"`` route exists. Every request is recorded in ``.requests``.
    """

    def __init__(self, routes: Mapping[str, RouteSpec] | None = None, tls: TlsFiles | None = None):
        self.tls = tls
        self._lock = threading.Lock()
        self._routes: dict[str, RouteSpec] = {}
        self._turns: dict[str, int] = {}
        self.requests: list[RecordedRequest] = []
        for path, spec in (routes or {}).items():
            self.set_route(path, spec)
        context = None
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        self._server = _Server(self, context)
        self.host = LOOPBACK
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"http-service-{self.port}", daemon=True)
        self._thread.start()

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:PORT (https://localhost:PORT with TLS
        would also verify; the certificate names 127.0.0.1 and localhost)."""
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ca_file(self) -> str | None:
        """The CA bundle to pass as ``verify=`` (requests) / ``--cacert`` (curl) for the HTTPS server."""
        return str(self.tls.ca_file) if self.tls else None

    @property
    def cert_file(self) -> str | None:
        return str(self.tls.cert_file) if self.tls else None

    def set_route(self, path: str, spec: RouteSpec = 200, method: str | None = None) -> None:
        """Route ``path`` (no query string; ``"*"`` = any other path), optionally for one method only."""
        key = f"{method.upper()} {path}" if method else path
        with self._lock:
            self._routes[key] = spec
            self._turns[key] = 0

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.route == path]

    def respond(self, request: RecordedRequest) -> Route:
        with self._lock:
            self.requests.append(request)
            for key in (f"{request.method} {request.route}", request.route, f"{request.method} *", "*"):
                if key in self._routes:
                    spec = self._routes[key]
                    if isinstance(spec, list):
                        turn = self._turns[key]
                        self._turns[key] = turn + 1
                        spec = spec[min(turn, len(spec) - 1)]
                    break
            else:
                return Route(404, "no route\n")
        # Callables run outside the lock: they may be slow or read this service's state.
        return _as_route(spec(request) if callable(spec) else spec)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def _tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture
def http_service_factory(_tls_dir: Path) -> Iterator[Callable[..., HttpService]]:
    """``make(routes=None, tls=False, cert_days=365)`` -> a started HttpService, stopped after the test.

    With ``tls=True`` the server presents a certificate signed by a fresh test CA (``.ca_file``),
    valid ``cert_days`` more days (negative: expired), for 127.0.0.1 and localhost.
    """
    started: list[HttpService] = []

    def make(routes: Mapping[str, RouteSpec] | None = None, tls: bool = False,
             cert_days: float = 365.0) -> HttpService:
        files = make_tls_files(_tls_dir / secrets.token_hex(4), days=cert_days) if tls else None
        service = HttpService(routes, tls=files)
        started.append(service)
        return service

    try:
        yield make
    finally:
        for service in started:
            service.stop()


class WebhookReceiver(HttpService):
    """Records every POST (``.requests``: path, headers, ``.json`` body); answers ``.status``."""

    def __init__(self, status: int = 200):
        self.status = status
        super().__init__({"*": lambda request: Route(self.status, {"ok": self.status < 400})})

    @property
    def posts(self) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.method == "POST"]

    @property
    def hook_url(self) -> str:
        """A URL to configure as the webhook (any path is accepted and recorded)."""
        return f"{self.url}/hooks/deploy"

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[RecordedRequest]:
        """Wait until ``count`` POSTs arrived; return them (raises AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            posts = self.posts
            if len(posts) >= count:
                return posts
            time.sleep(0.02)
        raise AssertionError(f"webhook received {len(self.posts)} POSTs, expected {count} within {timeout}s")


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.stop()


# --------------------------------------------------------------------------- metrics exporter

LabelKey = tuple[tuple[str, str], ...]
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(labels: Mapping[str, str] | None) -> LabelKey:
    return tuple(sorted((str(k), str(v)) for k, v in (labels or {}).items()))


def _render_labels(key: LabelKey, extra: tuple[str, str] | None = None) -> str:
    pairs = list(key) + ([extra] if extra else [])
    if not pairs:
        return ""
    escaped = (v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') for _, v in pairs)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(pairs, escaped, strict=True)) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


class _Ramp:
    """A value that grows at ``rate`` per second from ``base`` (rate 0: a constant)."""

    def __init__(self, base: float = 0.0, rate: float = 0.0):
        self.base, self.rate, self.since = float(base), float(rate), time.monotonic()

    def value(self, now: float) -> float:
        return self.base + self.rate * (now - self.since)

    def set(self, base: float | None = None, rate: float | None = None) -> None:
        now = time.monotonic()
        self.base = self.value(now) if base is None else float(base)
        self.since = now
        if rate is not None:
            self.rate = float(rate)


class MetricsExporter(HttpService):
    """Serves ``/metrics`` in Prometheus text format with values a test controls.

    Counters/gauges: ``set_counter(name, labels, value)``, ``inc_counter``, ``set_gauge``, and
    ``set_rate(name, labels, per_second)`` (the counter grows with wall time, so PromQL ``rate()``
    returns per_second). Histograms: ``observe(name, labels, seconds, count)`` and
    ``set_observation_rate(name, labels, seconds, per_second)`` (observations of that latency
    arrive continuously, so ``histogram_quantile`` lands in its bucket).
    """

    def __init__(self) -> None:
        self._metrics: dict[str, str] = {}  # name -> type
        self._series: dict[tuple[str, LabelKey], _Ramp] = {}
        self._buckets: dict[str, tuple[float, ...]] = {}
        self._streams: dict[tuple[str, LabelKey], dict[float, _Ramp]] = {}
        self.scrapes = 0
        super().__init__({"/metrics": self._metrics_route})

    @property
    def target(self) -> str:
        """host:port, as a Prometheus scrape target."""
        return self.address

    def _series_for(self, name: str, kind: str, labels: Mapping[str, str] | None) -> _Ramp:
        self._metrics.setdefault(name, kind)
        return self._series.setdefault((name, _labels(labels)), _Ramp())

    def set_counter(self, name: str, labels: Mapping[str, str] | None = None, value: float = 0.0) -> None:
        with self._lock:
            self._series_for(name, "counter", labels).set(base=value)

    def inc_counter(self, name: str, labels: Mapping[str, str] | None = None, amount: float = 1.0) -> None:
        with self._lock:
            series = self._series_for(name, "counter", labels)
            series.set(base=series.value(time.monotonic()) + amount)

    def set_rate(self, name: str, labels: Mapping[str, str] | None = None, per_second: float = 1.0) -> None:
        """The counter keeps its current value and from now on grows by ``per_second``."""
        with self._lock:
            self._series_for(name, "counter", labels).set(rate=per_second)

    def set_gauge(self, name: str, labels: Mapping[str, str] | None = None, value: float = 0.0) -> None:
        with self._lock:
            self._series_for(name, "gauge", labels).set(base=value, rate=0.0)

    def define_histogram(self, name: str, buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        with self._lock:
            self._metrics[name] = "histogram"
            self._buckets[name] = tuple(sorted(float(b) for b in buckets))

    def _stream(self, name: str, labels: Mapping[str, str] | None, seconds: float) -> _Ramp:
        if name not in self._buckets:
            self._metrics[name] = "histogram"
            self._buckets[name] = DEFAULT_BUCKETS
        streams = self._streams.setdefault((name, _labels(labels)), {})
        return streams.setdefault(float(seconds), _Ramp())

    def observe(self, name: str, labels: Mapping[str, str] | None = None, seconds: float = 0.1,
                count: int = 1) -> None:
        with self._lock:
            stream = self._stream(name, labels, seconds)
            stream.set(base=stream.value(time.monotonic()) + count)

    def set_observation_rate(self, name: str, labels: Mapping[str, str] | None = None, seconds: float = 0.1,
                             per_second: float = 1.0) -> None:
        with self._lock:
            self._stream(name, labels, seconds).set(rate=per_second)

    def clear(self) -> None:
        with self._lock:
            self._metrics.clear()
            self._series.clear()
            self._buckets.clear()
            self._streams.clear()

    def render(self) -> str:
        now = time.monotonic()
        lines: list[str] = []
        with self._lock:
            for name, kind in sorted(self._metrics.items()):
                lines.append(f"# HELP {name} set by the test")
                lines.append(f"# TYPE {name} {kind}")
                if kind == "histogram":
                    lines.extend(self._render_histogram(name, now))
                    continue
                for (series_name, key), ramp in sorted(self._series.items()):
                    if series_name == name:
                        lines.append(f"{name}{_render_labels(key)} {_number(ramp.value(now))}")
        return "\n".join(lines) + "\n"

    def _render_histogram(self, name: str, now: float) -> list[str]:
        lines = []
        for (series_name, key), streams in sorted(self._streams.items()):
            if series_name != name:
                continue
            counts = {seconds: ramp.value(now) for seconds, ramp in streams.items()}
            for bound in self._buckets[name]:
                below = sum(c for seconds, c in counts.items() if seconds <= bound)
                lines.append(f"{name}_bucket{_render_labels(key, ('le', _number(bound)))} {_number(below)}")
            total = sum(counts.values())
            lines.append(f"{name}_bucket{_render_labels(key, ('le', '+Inf'))} {_number(total)}")
            lines.append(f"{name}_sum{_render_labels(key)} {_number(sum(s * c for s, c in counts.items()))}")
            lines.append(f"{name}_count{_render_labels(key)} {_number(total)}")
        return lines

    def _metrics_route(self, request: RecordedRequest) -> Route:
        with self._lock:
            self.scrapes += 1
        return Route(200, self.render(), {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


@pytest.fixture
def metrics_exporter() -> Iterator[MetricsExporter]:
    exporter = MetricsExporter()
    try:
        yield exporter
    finally:
        exporter.stop()


# --------------------------------------------------------------------------- prometheus


class Prometheus:
    """A real Prometheus scraping the given targets; ``.query(expr)`` runs an instant query."""

    def __init__(self, workdir: Path, targets: Sequence[str], scrape_interval: str = "1s",
                 evaluation_interval: str | None = None, rule_files: Sequence[str | Path] = (),
                 job_name: str = "app", metrics_path: str = "/metrics"):
        self.workdir = workdir
        self.port = free_port()
        self.host = LOOPBACK
        self.config_file = workdir / "prometheus.yml"
        rules = []
        for index, rule_file in enumerate(rule_files):
            copy = workdir / f"rules-{index}.yml"  # copied: the test may delete or rewrite its file
            shutil.copyfile(rule_file, copy)
            rules.append(str(copy))
        config = {
            "global": {"scrape_interval": scrape_interval, "scrape_timeout": scrape_interval,
                       "evaluation_interval": evaluation_interval or scrape_interval},
            "rule_files": rules,
            "scrape_configs": [{"job_name": job_name, "metrics_path": metrics_path,
                                "static_configs": [{"targets": list(targets)}]}],
        }
        self.config_file.write_text(json.dumps(config, indent=2))
        binary = shutil.which("prometheus") or "prometheus"
        self.process = ServiceProcess("prometheus", [
            binary, f"--config.file={self.config_file}", f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={self.address}", "--log.level=warn",
            # The Debian build defaults to /usr/share/prometheus consoles; none are needed.
            f"--web.console.templates={workdir}", f"--web.console.libraries={workdir}",
        ], workdir / "prometheus.log")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self, timeout: float = 30.0) -> Prometheus:
        self.process.start()
        self.process.wait_until(lambda: http_status(f"{self.url}/-/ready", 1.0) == 200, timeout)
        return self

    def stop(self) -> None:
        self.process.stop()

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as response:
            body = json.loads(response.read())
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus {path} failed: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant vector result: [{"metric": {...}, "value": [ts, "v"]}, ...]."""
        return list(self.api("query", query=expr)["result"])

    def wait_for(self, expr: str, predicate: Callable[[list[dict[str, Any]]], bool] = bool,
                 timeout: float = 20.0) -> list[dict[str, Any]]:
        """Poll ``expr`` until ``predicate(result)`` holds (default: non-empty); AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if predicate(result):
                return result
            time.sleep(0.2)
        raise AssertionError(f"prometheus {expr!r} -> {result} did not satisfy the condition in {timeout}s")

    def wait_for_targets_up(self, timeout: float = 20.0) -> None:
        """Wait until every scrape target has been scraped successfully."""
        self.wait_for("up", lambda result: bool(result) and all(r["value"][1] == "1" for r in result), timeout)


def _check_rules(rule_files: Sequence[str | Path]) -> None:
    """Invalid rules are the test's (or the code under test's) fault: fail, never skip."""
    if not rule_files:
        return
    promtool = _require_binary("promtool", "prometheus")
    checked = subprocess.run([promtool, "check", "rules", *map(str, rule_files)], capture_output=True,
                             text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    if checked.returncode != 0:
        pytest.fail(f"promtool check rules failed:\n{checked.stdout}{checked.stderr}", pytrace=False)


@pytest.fixture
def prometheus_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Prometheus]]:
    """``make(targets, scrape_interval="1s", evaluation_interval=None, rule_files=(), job_name="app",
    metrics_path="/metrics")``
    -> a started Prometheus (``/-/ready``), stopped after the test."""
    started: list[Prometheus] = []

    def make(targets: Sequence[str], scrape_interval: str = "1s", evaluation_interval: str | None = None,
             rule_files: Sequence[str | Path] = (), job_name: str = "app",
             metrics_path: str = "/metrics") -> Prometheus:
        _require_binary("prometheus", "prometheus")
        _check_rules(rule_files)
        server = _start_service(lambda: Prometheus(tmp_path_factory.mktemp("prometheus"), targets,
                                                   scrape_interval, evaluation_interval, rule_files, job_name,
                                                   metrics_path))
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


# --------------------------------------------------------------------------- sshd


class SshServer:
    """OpenSSH on 127.0.0.1:PORT accepting only the generated client key for ``root``.

    ``ssh -F <ssh_config> <alias> CMD`` works without prompts (``alias`` = "retail-test"), and so does
    ``ssh -p PORT -i KEY -o StrictHostKeyChecking=no root@127.0.0.1 CMD``. ``bin_dir`` holds an
    ``ssh`` wrapper using that config: prepend it to PATH for tools that shell out to ``ssh``
    (the Docker SDK/CLI with ``ssh://`` hosts).
    """

    alias = "retail-test"

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.host = LOOPBACK
        self.port = free_port()
        self.user = "root"
        self.host_key = workdir / "ssh_host_ed25519_key"
        self.key_filename = str(workdir / "id_ed25519")
        self.authorized_keys = workdir / "authorized_keys"
        self.known_hosts = str(workdir / "known_hosts")
        self.ssh_config = str(workdir / "ssh_config")
        self.bin_dir = str(workdir / "bin")
        # A unix socket path must stay under ~100 bytes: not in the (long) pytest tmp dir.
        self.control_path = f"/tmp/rd-ssh-{os.getpid()}-{secrets.token_hex(4)}"
        self.config_file = workdir / "sshd_config"
        self._write_files()
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        self.process = ServiceProcess("sshd", [sshd, "-D", "-e", "-f", str(self.config_file)], workdir / "sshd.log")

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@{self.host}:{self.port}"

    @property
    def connect_kwargs(self) -> dict[str, Any]:
        """fabric ``Connection(host, user=, port=, connect_kwargs=...)`` / paramiko keyword arguments."""
        return {"key_filename": self.key_filename, "look_for_keys": False, "allow_agent": False}

    def client_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment whose ``ssh`` uses this server's key and known_hosts (PATH starts with bin_dir):
        for ``docker -H <url>`` and ``docker.DockerClient(base_url=url, use_ssh_client=True)``."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        return env

    def ssh_argv(self, *command: str) -> list[str]:
        """argv running ``command`` on the server with the system ssh client."""
        return ["ssh", "-F", self.ssh_config, self.alias, *command]

    def _keygen(self, path: Path | str, comment: str) -> None:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                       check=True, stdin=subprocess.DEVNULL, capture_output=True)

    def _write_files(self) -> None:
        self._keygen(self.host_key, "retail-deploy-test-host")
        self._keygen(self.key_filename, "retail-deploy-test-client")
        self.authorized_keys.write_text(Path(self.key_filename + ".pub").read_text())
        os.chmod(self.authorized_keys, 0o600)
        host_public = Path(f"{self.host_key}.pub").read_text().split()
        Path(self.known_hosts).write_text(
            f"[{self.host}]:{self.port},[localhost]:{self.port} {host_public[0]} {host_public[1]}\n")
        self.config_file.write_text("\n".join([
            f"Port {self.port}",
            f"ListenAddress {self.host}",
            f"HostKey {self.host_key}",
            f"PidFile {self.workdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "StrictModes no",
            "UsePAM no",
            "UseDNS no",
            "PrintMotd no",
            "AllowTcpForwarding yes",  # the Docker SDK's paramiko transport forwards to the socket
            "AllowStreamLocalForwarding yes",
            "Subsystem sftp internal-sftp",
            "LogLevel ERROR",
            "",
        ]))
        Path(self.ssh_config).write_text("\n".join([
            f"Host {self.alias} {self.host} localhost",
            f"    HostName {self.host}",
            f"    Port {self.port}",
            f"    User {self.user}",
            f"    IdentityFile {self.key_filename}",
            "    IdentitiesOnly yes",
            "    BatchMode yes",
            f"    UserKnownHostsFile {self.known_hosts}",
            "    StrictHostKeyChecking yes",
            "    LogLevel ERROR",
            # One connection, many sessions: the Docker SDK (use_ssh_client) and CLI start one
            # `ssh HOST docker system dial-stdio` per API call (0.4-0.7 s each with its own handshake
            # on a loaded machine); through the master each is a new session on one connection.
            f"    ControlPath {self.control_path}",
            "    ControlMaster no",
            "",
        ]))
        wrapper = Path(self.bin_dir) / "ssh"
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        ssh = f'/usr/bin/ssh -F "{self.ssh_config}"'
        # The master is started apart from the calling command, its output to /dev/null: a master
        # that inherited the caller's pipes would keep them open and make the caller wait for it.
        # It lives as long as sshd (stop() ends both) and at most 10 minutes idle.
        wrapper.write_text("\n".join([
            "#!/bin/sh",
            f"if ! {ssh} -O check {self.alias} >/dev/null 2>&1; then",
            f'    flock "{self.workdir}/master.lock" sh -c \'{ssh} -O check {self.alias} >/dev/null 2>&1 \\',
            f"        || {ssh} -M -N -f -o ControlPersist=600 {self.alias} </dev/null >/dev/null 2>&1' || true",
            "fi",
            f'exec {ssh} "$@"',
            "",
        ]))
        wrapper.chmod(0o755)

    def _banner(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                return sock.recv(64).startswith(b"SSH-2.0")
        except OSError:
            return False

    def start(self, timeout: float = 15.0) -> SshServer:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
        self.process.start()
        self.process.wait_until(self._banner, timeout)
        return self

    def stop(self) -> None:
        subprocess.run(["/usr/bin/ssh", "-F", self.ssh_config, "-O", "exit", self.alias], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=10, check=False)  # the shared connection, if one was made
        self.process.stop()


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    _require_binary("sshd", "openssh-server")
    _require_binary("ssh-keygen", "openssh-client")
    if os.geteuid() != 0:
        unavailable("sshd_server needs root (sshd must switch users and log in as root)")
    server = _start_service(lambda: SshServer(tmp_path_factory.mktemp("sshd")))
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- example platform

EXAMPLE_DIR = REPO_ROOT / "examples" / "retail-platform"
EXAMPLE_SERVICES = ("backend", "consumer-web", "admin-web")
# What each service's build steps make that its Dockerfile copies (relative to its source dir).
EXAMPLE_OUTPUTS = {"backend": "target/retail-backend.jar", "consumer-web": "dist", "admin-web": "dist"}
EXAMPLE_CACHE = Path(os.environ.get("RETAIL_DEPLOY_EXAMPLE_CACHE", "/var/cache/retail-deploy/example-build"))
JRE_IMAGE = "retail-jre:25"


@dataclass
class ExampleBuild:
    """The example platform's build outputs, made by its real build steps (./mvnw clean test,
    ./mvnw clean package -DskipTests -Pprod, npm ci, npm test -- --run, npm run build)."""

    directory: Path  # <service>/<output> for each service
    key: str

    def install(self, root: Path) -> None:
        """Copy the outputs into ``root``, a copy of examples/retail-platform."""
        for service, output in EXAMPLE_OUTPUTS.items():
            source, target = self.directory / service / output, root / service / output
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)


Step = tuple[list[str], dict[str, str]]  # argv, and the variables it runs with (JAVA_HOME for ./mvnw)


def _example_steps() -> dict[str, list[Step]]:
    from retail_deploy.config import load_config

    cfg = load_config(EXAMPLE_DIR / "retail-platform.yaml")
    return {name: [(list(step.argv), dict(step.env)) for step in cfg.services[name].build_steps]
            for name in EXAMPLE_SERVICES}


def _example_key(steps: Mapping[str, list[Step]]) -> str:
    """The input digest of every service (the one build.all uses: sources, not target/ node_modules/ dist/)."""
    from retail_deploy.build import images
    from retail_deploy.build import service as build

    digests = [images.input_digest(str(EXAMPLE_DIR / name), str(EXAMPLE_DIR / name / "Dockerfile"), version="",
                                   extra=[" ".join([*(f"{k}={v}" for k, v in env.items()), *argv])
                                          for argv, env in steps[name]],
                                   exclude=build.DEFAULT_DIGEST_EXCLUDE) for name in EXAMPLE_SERVICES]
    return hashlib.sha256("".join(digests).encode()).hexdigest()[:16]


def _build_example_service(work: Path, name: str, steps: list[Step]) -> str | None:
    """Run one service's build steps in ``work/name``; None on success, else the failure with its output."""
    for argv, env in steps:
        done = subprocess.run(argv, cwd=work / name, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=900, check=False, env={**os.environ, **env})
        if done.returncode != 0:
            return f"{name}: {' '.join(argv)} exited {done.returncode}\n{(done.stdout + done.stderr)[-3000:]}"
    return None


@pytest.fixture(scope="session")
def jre_image(docker_engine: DockerEngine) -> str:
    """The backend's base image (retail-jre:25), made locally by scripts/make-jre-image.sh (once per machine)
    from the JDK the backend is built with (the script says which is missing)."""
    _run_script("make-jre-image.sh", timeout=300)
    return JRE_IMAGE


@pytest.fixture(scope="session")
def example_build(jre_image: str) -> ExampleBuild:
    """Build the example platform for real once per source state and reuse it (the suite, later runs,
    other clones): the tests that deploy it copy these outputs instead of running Maven and npm again.
    Depends on jre_image: the tests that use the outputs build the backend's image on it."""
    import fcntl
    from concurrent.futures import ThreadPoolExecutor

    _require_binary("npm", "npm")  # ./mvnw brings its Maven; the configured JAVA_HOME its JDK
    steps = _example_steps()
    key = _example_key(steps)
    done_dir = EXAMPLE_CACHE / key
    EXAMPLE_CACHE.mkdir(parents=True, exist_ok=True)
    with open(EXAMPLE_CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others then find it built
        if not done_dir.is_dir():
            work = EXAMPLE_CACHE / f".work-{key}-{os.getpid()}"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(EXAMPLE_DIR, work, ignore=shutil.ignore_patterns("target", "dist", "node_modules"))
            try:
                with ThreadPoolExecutor(len(EXAMPLE_SERVICES)) as pool:
                    failures = [f for f in pool.map(lambda n: _build_example_service(work, n, steps[n]),
                                                     EXAMPLE_SERVICES) if f]
                if failures:  # a build that fails is the example's fault: fail, never skip
                    pytest.fail("the example platform does not build:\n" + "\n".join(failures), pytrace=False)
                staged = EXAMPLE_CACHE / f".staged-{key}-{os.getpid()}"
                for name, output in EXAMPLE_OUTPUTS.items():
                    (staged / name / output).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(work / name / output, staged / name / output)
                os.replace(staged, done_dir)  # appears whole, or not at all
            finally:
                shutil.rmtree(work, ignore_errors=True)
    return ExampleBuild(done_dir, key)
