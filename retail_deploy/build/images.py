"""Docker images through the Docker SDK: input digest, build, tag, registry auth, push.

The SDK is imported lazily (inside functions) so `inv --list` never loads it. Two SDK traps are
handled here (docs/architecture.md, "Facts easy to get wrong"): build and push report failures
inside an HTTP-200 JSON stream, so every stream is iterated decoded and `error`/`errorDetail`
raise; and registry passwords travel only in `auth_config`, never in argv or output.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from retail_deploy.errors import InputError, OperationFailed

if TYPE_CHECKING:
    from docker import DockerClient

# Image label holding the digest of everything that went into the image (see input_digest).
INPUT_DIGEST_LABEL = "org.retail-deploy.input-digest"

Emit = Callable[[str], None]


class ImageError(OperationFailed):
    """A build, tag, login or push failed; the message names the service and the cause."""


class Cancelled(OperationFailed):
    """The operation stopped because another service failed."""


# --------------------------------------------------------------------------------------------
# Input digest


def dockerignore_patterns(context_dir: str) -> list[str]:
    """The .dockerignore patterns of a context, parsed the way the SDK (and docker) does."""
    path = os.path.join(context_dir, ".dockerignore")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        lines = [line.strip() for line in handle.read().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def context_files(context_dir: str, dockerfile: str | None = None,
                  exclude: Iterable[str] = ()) -> list[str]:
    """Relative paths of the files docker would send as the build context, sorted.

    `exclude` adds patterns (e.g. build outputs like `target/`) on top of .dockerignore.
    """
    from docker.utils.build import exclude_paths

    patterns = dockerignore_patterns(context_dir) + [p.rstrip("/") for p in exclude]
    included = exclude_paths(os.path.abspath(context_dir), patterns, dockerfile=dockerfile)
    root = os.path.abspath(context_dir)
    files = []
    for rel in included:
        full = os.path.join(root, rel)
        if os.path.islink(full) or os.path.isfile(full):
            files.append(rel)
    return sorted(files)


def input_digest(context_dir: str, dockerfile_path: str, *, version: str,
                 build_args: Mapping[str, str] | None = None, extra: Iterable[str] = (),
                 exclude: Iterable[str] = ()) -> str:
    """sha256 over what determines the image: context files (honouring .dockerignore and
    `exclude`), their executable bits, the Dockerfile, build args, the version and `extra`
    (e.g. the build steps). Same inputs, same digest; any change, a new digest."""
    root = os.path.abspath(context_dir)
    dockerfile_rel = os.path.relpath(os.path.abspath(dockerfile_path), root)
    digest = hashlib.sha256()

    def feed(*parts: str | bytes) -> None:
        for part in parts:
            data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)

    feed("version", version)
    for key, value in sorted((build_args or {}).items()):
        feed("arg", key, value)
    for item in extra:
        feed("extra", item)
    with open(dockerfile_path, "rb") as handle:
        feed("dockerfile", handle.read())
    in_context = dockerfile_rel if not dockerfile_rel.startswith("..") else None
    for rel in context_files(root, in_context, exclude):
        full = os.path.join(root, rel)
        info = os.lstat(full)
        if stat.S_ISLNK(info.st_mode):
            feed("link", rel, os.readlink(full))
            continue
        feed("file", rel, "x" if info.st_mode & 0o111 else "-")
        file_hash = hashlib.sha256()
        with open(full, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                file_hash.update(block)
        feed(file_hash.digest())
    return "sha256:" + digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Engine


def image_labels(client: DockerClient, reference: str) -> dict[str, str] | None:
    """Labels of a local image, or None when there is no such image."""
    import docker

    try:
        attrs = client.api.inspect_image(reference)
    except docker.errors.ImageNotFound:
        return None
    return dict((attrs.get("Config") or {}).get("Labels") or {})


def image_id(client: DockerClient, reference: str) -> str | None:
    import docker

    try:
        return str(client.api.inspect_image(reference)["Id"])
    except docker.errors.ImageNotFound:
        return None


# --------------------------------------------------------------------------------------------
# Build


_STEP_ID = re.compile(r"Successfully built ([0-9a-f]{12,64})")


def build_image(client: DockerClient, *, context_dir: str, dockerfile: str, tag: str,
                build_args: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None,
                emit: Emit = print, cancel: threading.Event | None = None, service: str = "") -> str:
    """Build `context_dir` with the SDK, streaming each output line to `emit`; return the image id.

    Raises ImageError on an error inside the stream, Cancelled when `cancel` is set (the
    connection is closed, which makes the engine stop the build).
    """
    import docker

    who = service or tag
    try:
        stream = client.api.build(path=context_dir, dockerfile=dockerfile, tag=tag, rm=True, forcerm=True,
                                  buildargs=dict(build_args or {}), labels=dict(labels or {}), decode=True)
        built = _consume_build(stream, emit, cancel, who)
    except docker.errors.APIError as error:
        raise ImageError(f"{who}: docker build failed: {_api_message(error)}") from error
    except docker.errors.DockerException as error:
        raise ImageError(f"{who}: docker build failed: {_first_line(error)}") from error
    return built or str(client.api.inspect_image(tag)["Id"])


def _consume_build(stream: Iterator[dict[str, Any]], emit: Emit, cancel: threading.Event | None,
                   who: str) -> str | None:
    built: str | None = None
    pending = ""
    try:
        for chunk in stream:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{who}: build stopped because another service failed")
            detail = _stream_error(chunk)
            if detail is not None:
                if pending.strip():
                    emit(pending.rstrip())
                raise ImageError(f"{who}: docker build failed: {_first_line(detail)}")
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                built = str(aux["ID"])
            text = chunk.get("stream")
            if text:
                pending += text
                *lines, pending = pending.split("\n")
                for line in lines:
                    if line.strip():
                        emit(line.rstrip())
                        match = _STEP_ID.search(line)
                        if match and built is None:
                            built = match.group(1)
        if pending.strip():
            emit(pending.rstrip())
    finally:
        _close(stream)
    return built


def _stream_error(chunk: Mapping[str, Any]) -> str | None:
    """The failure reported inside an HTTP-200 build or push stream, or None for a normal chunk."""
    if "error" not in chunk and "errorDetail" not in chunk:
        return None
    return str((chunk.get("errorDetail") or {}).get("message") or chunk.get("error") or "")


def _close(stream: object) -> None:
    """Close a stream generator now (dropping its HTTP response), not whenever it is collected:
    an exception's traceback would otherwise keep it, and the connection, alive."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def tag_image(client: DockerClient, image: str, reference: str) -> None:
    """`docker tag IMAGE REFERENCE` via the SDK."""
    repository, tag = split_reference(reference)
    if not client.api.tag(image, repository, tag=tag, force=True):
        raise ImageError(f"could not tag {image} as {reference}")


def split_reference(reference: str) -> tuple[str, str]:
    """'host:5000/name:tag' -> ('host:5000/name', 'tag'); the tag defaults to 'latest'."""
    name, sep, tag = reference.rpartition(":")
    if sep and "/" not in tag:
        return name, tag
    return reference, "latest"


# --------------------------------------------------------------------------------------------
# Registry credentials


@dataclass(frozen=True)
class Credentials:
    """Registry credentials for auth_config. `repr` never shows the password."""

    username: str
    password: str = field(repr=False)
    source: str = "environment"

    def auth_config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password}


def resolve_credentials(registry: str, *, username: str | None = None, password: str | None = None,
                        username_env: str = "REGISTRY_USERNAME", password_env: str = "REGISTRY_PASSWORD",
                        environ: Mapping[str, str] | None = None,
                        docker_config: str | None = None) -> Credentials | None:
    """Credentials for `registry`: explicit values (from the platform config), else the
    environment variables `username_env`/`password_env`, else the Docker config file
    (~/.docker/config.json or `docker_config`), else None (anonymous push)."""
    env = os.environ if environ is None else environ
    if username and password:
        return Credentials(username, password, "config")
    env_user, env_password = env.get(username_env), env.get(password_env)
    if env_user and env_password:
        return Credentials(env_user, env_password, f"${username_env}/${password_env}")
    if bool(env_user) != bool(env_password):
        missing = password_env if env_user else username_env
        raise InputError(f"registry {registry}: ${missing} is not set (set both ${username_env} "
                         f"and ${password_env}, or neither to use the Docker config file)")
    from docker import auth
    from docker.errors import DockerException

    try:
        config = auth.load_config(docker_config)
        entry = config.resolve_authconfig(registry)
    except (OSError, ValueError, DockerException):  # an unreadable config file: no stored credentials
        entry = None
    if not entry:
        return None
    # plain "auths" entries use lower-case keys; credential helpers (credsStore) answer capitalised
    user = entry.get("username") or entry.get("Username")
    secret = entry.get("password") or entry.get("Password")
    if user and secret:
        return Credentials(str(user), str(secret), "docker config file")
    return None


def check_login(client: DockerClient, registry: str, credentials: Credentials) -> None:
    """Ask the engine to authenticate against the registry (fails fast before any build)."""
    import docker

    try:
        client.api.login(credentials.username, credentials.password, registry=registry, reauth=True)
    except docker.errors.APIError as error:
        raise ImageError(registry_problem(registry, _api_message(error), credentials)) from error


def registry_problem(registry: str, message: str, credentials: Credentials | None) -> str:
    """One line naming the registry, the cause and what to do."""
    text = _first_line(message)
    lowered = text.lower()
    if any(word in lowered for word in ("unauthorized", "authentication required", "incorrect username",
                                        "basic auth", "denied", "401")):
        who = f"user {credentials.username!r} from {credentials.source}" if credentials else "no credentials"
        return f"registry {registry} rejected the credentials ({who}): check the username and password"
    if any(word in lowered for word in ("connection refused", "no such host", "i/o timeout",
                                        "connect: ", "dial tcp", "server misbehaving", "eof")):
        return f"registry {registry} is unreachable ({text}): is it running?"
    return f"registry {registry}: {text}"


# --------------------------------------------------------------------------------------------
# Push


@dataclass
class PushResult:
    reference: str
    digest: str
    uploaded: int  # layers sent
    existing: int  # layers the registry already had

    @property
    def uploaded_nothing(self) -> bool:
        return self.uploaded == 0


class PushProgress:
    """Push progress: one line per layer state change (non-TTY) or a live board (TTY)."""

    def __init__(self, service: str, emit: Emit, board: LiveBoard | None = None):
        self.service = service
        self.emit = emit
        self.board = board
        self.states: dict[str, str] = {}

    def update(self, layer: str, status: str, progress: str = "") -> None:
        if self.board is not None:
            self.board.set(self.service, layer, f"{status} {progress}".rstrip())
            return
        if self.states.get(layer) != status:
            self.states[layer] = status
            self.emit(f"{layer}: {status}")


class LiveBoard:
    """Push progress on a terminal: one row per (service, layer), redrawn in place.

    Other output goes through `print_above`, so it scrolls above the board instead of
    breaking the cursor arithmetic. Thread-safe: concurrent pushes share one board.
    """

    def __init__(self, out: IO[str] | None = None):
        self.out = out or sys.stdout
        self.lock = threading.Lock()
        self.rows: dict[tuple[str, str], str] = {}
        self.drawn = 0

    def set(self, service: str, layer: str, text: str) -> None:
        with self.lock:
            self.rows[(service, layer)] = text
            self._redraw()

    def print_above(self, text: str) -> None:
        with self.lock:
            self._clear()
            self.out.write(text + "\n")
            self._redraw(cleared=True)

    def _clear(self) -> None:
        if self.drawn:
            # up to the board's first row, then erase to the end of the screen
            self.out.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def _redraw(self, cleared: bool = False) -> None:
        if not cleared:
            self._clear()
        for (service, layer), text in self.rows.items():
            self.out.write(f"[{service}] {layer}: {text}\n")
        self.drawn = len(self.rows)
        self.out.flush()


def push_image(client: DockerClient, reference: str, *, credentials: Credentials | None, registry: str,
               progress: PushProgress | None = None, service: str = "") -> PushResult:
    """Push `reference`, iterating the decoded stream and raising on an error inside it.

    Returns the digest the registry reported and how many layers were actually uploaded.
    """
    import docker

    repository, tag = split_reference(reference)
    states: dict[str, str] = {}
    digest = ""
    who = f"{service}: " if service else ""
    try:
        stream = client.api.push(repository, tag=tag, stream=True, decode=True,
                                 auth_config=credentials.auth_config() if credentials else None)
        try:
            for chunk in stream:
                detail = _stream_error(chunk)
                if detail is not None:
                    raise ImageError(f"{who}push of {reference} failed: "
                                     f"{registry_problem(registry, detail, credentials)}")
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("Digest"):
                    digest = str(aux["Digest"])
                layer, status = chunk.get("id"), chunk.get("status")
                if layer and status and not str(status).startswith("The push refers"):
                    states[str(layer)] = str(status)
                    if progress is not None:
                        progress.update(str(layer), str(status), str(chunk.get("progress") or ""))
        finally:
            _close(stream)
    except docker.errors.APIError as error:
        raise ImageError(f"{who}push of {reference} failed: "
                         f"{registry_problem(registry, _api_message(error), credentials)}") from error
    if not digest:
        raise ImageError(f"{who}push of {reference} ended without a digest from registry {registry}")
    uploaded = sum(1 for status in states.values() if status == "Pushed")
    existing = sum(1 for status in states.values()
                   if status == "Layer already exists" or status.startswith("Mounted from"))
    return PushResult(reference, digest, uploaded, existing)


def _api_message(error: Exception) -> str:
    explanation = getattr(error, "explanation", None)
    return _first_line(explanation or error)


def _first_line(value: object) -> str:
    text = str(value or "").strip()
    return text.splitlines()[0][:400] if text else "unknown error"
