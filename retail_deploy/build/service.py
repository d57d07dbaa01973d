"""Runbook chapter 1, "Build Artifacts": build steps, Docker image, push, for several services at once.

Per service: the configured build steps (the runbook's mvn / npm commands) run in its source
directory through the Runner, then the image is built with the Docker SDK and tagged for the
registry. `build_services` runs the services concurrently (threads), stops the others when one
fails, and pushes only when every image was built, so a release is never half pushed.

A digest of each service's build inputs is stored in the image label `org.retail-deploy.input-digest`;
when the local image for that version already carries the same digest, nothing is built.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from retail_deploy import redact, validate
from retail_deploy.build import images
from retail_deploy.commands import Command, cmd, in_directory_argv
from retail_deploy.commands import docker as docker_cli
from retail_deploy.docker import client as docker_client
from retail_deploy.errors import InputError, OperationFailed, RetailDeployError
from retail_deploy.execute import Runner

if TYPE_CHECKING:
    from docker import DockerClient

    from retail_deploy.config import PlatformConfig, ServiceConfig

# Build outputs that the build steps create in the source dir: derived, so not inputs.
DEFAULT_DIGEST_EXCLUDE = ("target", "node_modules", "dist", "build", ".git")
DEFAULT_STEP_TIMEOUT = 1800.0


class BuildFailed(OperationFailed):
    """One or more services failed; `report` says which and why. Nothing was pushed."""

    def __init__(self, message: str, report: BuildReport):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class BuildSettings:
    """The `build:` section of the platform config (all optional)."""

    digest_exclude: tuple[str, ...] = DEFAULT_DIGEST_EXCLUDE
    step_timeout: float = DEFAULT_STEP_TIMEOUT
    max_parallel: int = 0  # 0: one thread per service

    @classmethod
    def from_config(cls, cfg: PlatformConfig) -> BuildSettings:
        node = cfg.section("build")
        node.unknown_keys({"digest_exclude", "step_timeout", "max_parallel"})
        return cls(
            digest_exclude=tuple(node.str_list("digest_exclude", list(DEFAULT_DIGEST_EXCLUDE))),
            step_timeout=float(node.duration("step_timeout", DEFAULT_STEP_TIMEOUT)),
            max_parallel=int(node.int("max_parallel", 0)),
        )


def validate_section(cfg: PlatformConfig) -> None:
    """For `config.validate`: the `build:` section."""
    BuildSettings.from_config(cfg)


# What every image learns of its version: a build argument the Dockerfile may use (`ARG APP_VERSION`,
# e.g. for /api/v1/version) and the OCI version label (`docker inspect` shows what an image is).
VERSION_BUILD_ARG = "APP_VERSION"
VERSION_LABEL = "org.opencontainers.image.version"


@dataclass(frozen=True)
class ServicePlan:
    """Everything needed to build one service's image, decided before anything runs."""

    service: str
    source_dir: Path
    dockerfile: Path
    steps: tuple[Command, ...]
    local_tag: str  # retail-backend:1.4.2
    remote_ref: str  # registry.example.com/retail-backend:1.4.2
    build_args: dict[str, str]
    version: str

    def labels(self, digest: str | None = None) -> dict[str, str]:
        """The image's labels: its version (OCI annotation) and the digest of its inputs."""
        labels = {VERSION_LABEL: self.version}
        if digest:
            labels[images.INPUT_DIGEST_LABEL] = digest
        return labels

    def build_command(self, digest: str | None = None) -> Command:
        """The `docker build` equivalent of the SDK build (what a dry run prints)."""
        dockerfile = None if self.dockerfile == self.source_dir / "Dockerfile" else _shown(self.dockerfile)
        return docker_cli.build(self.local_tag, _shown(self.source_dir), dockerfile=dockerfile,
                                build_args=self.build_args, labels=self.labels(digest))


def plan_service(cfg: PlatformConfig, service: ServiceConfig, version: str, *, skip_tests: bool = False,
                 check: bool = True) -> ServicePlan:
    """Decide a service's build. With `check`, a missing source dir or Dockerfile raises
    InputError naming the service (before anything runs)."""
    source_dir = Path(service.source_dir)
    dockerfile = (source_dir / service.dockerfile).resolve() if source_dir.is_dir() else \
        source_dir / service.dockerfile
    if check:
        missing = missing_input(cfg, service)
        if missing:
            raise InputError(missing)
    steps = tuple(
        in_directory(source_dir, step.argv, step.env) for step in service.build_steps
        if not (skip_tests and step.is_test)
    )
    return ServicePlan(
        service=service.name, source_dir=source_dir, dockerfile=dockerfile, steps=steps,
        local_tag=f"{service.image}:{version}", remote_ref=cfg.registry.image_ref(service.image, version),
        # The version reaches the Dockerfile (`ARG APP_VERSION`) unless the config sets it itself.
        build_args={VERSION_BUILD_ARG: version, **service.build_args}, version=version,
    )


def missing_input(cfg: PlatformConfig, service: ServiceConfig) -> str | None:
    """A one-line problem when the service's source dir or Dockerfile is missing, else None."""
    source_dir = Path(service.source_dir)
    if not source_dir.is_dir():
        return (f"{service.name}: source directory {source_dir} does not exist "
                f"(services.{service.name}.source_dir in {cfg.source})")
    dockerfile = (source_dir / service.dockerfile).resolve()
    if not dockerfile.is_file():
        return (f"{service.name}: no Dockerfile at {dockerfile} "
                f"(services.{service.name}.dockerfile in {cfg.source})")
    return None


def in_directory(directory: Path, argv: Sequence[str], env: Sequence[tuple[str, str]] = ()) -> Command:
    """`env -C DIR [NAME=VALUE...] ARGV...`: run a build step in the service's directory, with the
    step's variables (e.g. the JDK Maven builds with), without a shell string."""
    return cmd(*in_directory_argv(_shown(directory), argv, env))


def _shown(path: Path) -> str:
    """A path as printed and run: relative to the working directory when under it (readable plans)."""
    try:
        relative = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return str(path)
    return str(relative) if str(relative) != "." else "."


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class ServiceResult:
    service: str
    result: str = "pending"  # built, unchanged, pushed, failed, stopped, planned
    duration: float = 0.0
    image: str = ""
    digest: str = ""  # registry digest after a push
    detail: str = ""
    input_digest: str = ""
    image_id: str = ""
    uploaded_layers: int | None = None

    @property
    def failed(self) -> bool:
        return self.result in ("failed", "stopped")


@dataclass
class BuildReport:
    version: str
    results: list[ServiceResult] = field(default_factory=list)
    pushed: bool = False

    @property
    def ok(self) -> bool:
        return not any(result.failed for result in self.results)

    @property
    def digests(self) -> dict[str, str]:
        """service -> pushed registry digest (for the deploy record)."""
        return {r.service: r.digest for r in self.results if r.digest}

    @property
    def images(self) -> dict[str, str]:
        return {r.service: r.image for r in self.results if r.image}

    def failures(self) -> list[ServiceResult]:
        return [r for r in self.results if r.result == "failed"]

    def table(self) -> str:
        header = ("service", "result", "duration", "image", "digest")
        rows = [header] + [
            (r.service, r.result, f"{r.duration:.1f}s", r.image, r.digest or "-") for r in self.results
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                 for row in rows]
        for r in self.results:
            if r.detail and r.failed:
                lines.append(f"{r.service}: {r.detail}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Output: one line per event, prefixed with the service, never interleaved mid-line


class _Console:
    def __init__(self, out: IO[str]):
        self.out = out
        self.lock = threading.Lock()
        # While pushes show a live board on a terminal, lines scroll above it.
        self.board: images.LiveBoard | None = None

    def line(self, service: str, text: str) -> None:
        line = f"[{service}] {redact.redact(text)}"
        with self.lock:
            if self.board is not None:
                self.board.print_above(line)
                return
            self.out.write(line + "\n")
            self.out.flush()

    def stream(self, service: str) -> _PrefixedStream:
        return _PrefixedStream(self, service)


class _PrefixedStream(io.TextIOBase):
    """A text stream for a per-service Runner: every complete line goes out with `[service] `."""

    def __init__(self, console: _Console, service: str):
        self.console = console
        self.service = service
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.console.line(self.service, line)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.console.line(self.service, self.pending)
            self.pending = ""


# --------------------------------------------------------------------------------------------
# The pipeline


@dataclass
class _Shared:
    """State the service threads share."""

    cancel: threading.Event = field(default_factory=threading.Event)
    client: DockerClient | None = None
    credentials: images.Credentials | None = None


def build_services(cfg: PlatformConfig, services: Sequence[ServiceConfig], version: str, *, push: bool, skip_tests: bool = False,
                   runner: Runner, docker_host: str | None = None, out: IO[str] | None = None) -> BuildReport:
    """Build (and with `push`, push) `services` (ServiceConfig objects) at `version`.

    Services build concurrently. When one fails the others stop at their next step and nothing
    is pushed; BuildFailed (exit 1) carries the report. Bad input raises InputError (exit 2)
    before anything runs. Returns the report (images and pushed digests).
    """
    version = validate.version(version)
    settings = BuildSettings.from_config(cfg)
    if not services:
        raise InputError("no service to build")
    if push:
        _require_registry(cfg)
    # A missing source dir or Dockerfile is bad input in a dry run too: the dry run refuses what the
    # real run refuses (docs/architecture.md, "Dry run").
    plans = [plan_service(cfg, service, version, skip_tests=skip_tests) for service in services]
    console = _Console(out or runner.out)
    report = BuildReport(version, [ServiceResult(p.service, image=p.remote_ref if push else p.local_tag)
                                   for p in plans])
    if runner.dry:
        for plan, result in zip(plans, report.results, strict=True):
            _dry_plan(plan, result, settings, runner, push)
        return report

    shared = _Shared()
    registry = cfg.registry.host
    if push:
        shared.credentials = _registry_credentials(cfg)
    shared.client = docker_client.connect(docker_host, timeout=600)
    try:
        if push and shared.credentials is not None:
            # Fail before building anything when the registry is down or refuses the credentials.
            _preflight(shared, registry, plans, "nothing was built or pushed")

        workers = settings.max_parallel or len(plans)
        _in_parallel(workers, plans, report.results, shared.cancel,
                     lambda plan, result: _build_one(plan, result, settings, runner, console, shared))
        if not report.ok:
            _finish(report, console)
            raise BuildFailed(_failure_line(report, "nothing was pushed" if push else "see the summary"), report)

        if push:
            board = console.board = images.LiveBoard(console.out) if _is_tty(console.out) else None
            try:
                _in_parallel(workers, plans, report.results, shared.cancel,
                             lambda plan, result: _push_one(plan, result, registry, runner, console, shared, board))
            finally:
                console.board = None
            report.pushed = report.ok
            if not report.ok:
                _finish(report, console)
                raise BuildFailed(_failure_line(report, "the release is incomplete in the registry"), report)
        _finish(report, console)
        return report
    finally:
        shared.client.close()


def push_services(cfg: PlatformConfig, services: Sequence[ServiceConfig], version: str, *, runner: Runner,
                  docker_host: str | None = None, out: IO[str] | None = None) -> BuildReport:
    """Push images already built for `version` (`build.push`). Every image must exist locally
    first, so a missing one fails before anything is pushed."""
    version = validate.version(version)
    _require_registry(cfg)
    plans = [ServicePlan(s.name, Path(s.source_dir), Path(s.source_dir) / s.dockerfile, (),
                         f"{s.image}:{version}", cfg.registry.image_ref(s.image, version), {}, version)
             for s in services]
    console = _Console(out or runner.out)
    report = BuildReport(version, [ServiceResult(p.service, image=p.remote_ref) for p in plans])
    if runner.dry:
        for plan in plans:
            runner.announce(docker_cli.tag(plan.local_tag, plan.remote_ref))
            runner.announce(docker_cli.push(plan.remote_ref))
        return report
    shared = _Shared()
    registry = cfg.registry.host
    shared.credentials = _registry_credentials(cfg)
    shared.client = docker_client.connect(docker_host, timeout=600)
    try:
        missing = [p for p in plans if images.image_id(shared.client, p.local_tag) is None]
        if missing:
            names = ", ".join(f"{p.service} ({p.local_tag})" for p in missing)
            raise OperationFailed(f"no local image for {names}: run build.all --version {version} first; "
                                  "nothing was pushed")
        if shared.credentials is not None:
            _preflight(shared, registry, plans, "nothing was pushed")
        for plan in plans:
            runner.action(docker_cli.tag(plan.local_tag, plan.remote_ref), images.tag_image,
                          shared.client, plan.local_tag, plan.remote_ref)
        board = console.board = images.LiveBoard(console.out) if _is_tty(console.out) else None
        try:
            _in_parallel(len(plans), plans, report.results, shared.cancel,
                         lambda plan, result: _push_one(plan, result, registry, runner, console, shared, board))
        finally:
            console.board = None
        report.pushed = report.ok
        _finish(report, console)
        if not report.ok:
            raise BuildFailed(_failure_line(report, "the release is incomplete in the registry"), report)
        return report
    finally:
        shared.client.close()


def _require_registry(cfg: PlatformConfig) -> None:
    if not cfg.registry.host:
        raise InputError(f"no registry to push to: set registry.host in {cfg.source}")


def _registry_credentials(cfg: PlatformConfig) -> images.Credentials | None:
    """Credentials for the configured registry (variables, else the Docker config file), registered
    as a secret at once: a Docker config file's password is not known to the config loader."""
    credentials = images.resolve_credentials(cfg.registry.host, username_env=cfg.registry.username_env,
                                             password_env=cfg.registry.password_env)
    if credentials is not None:
        redact.register(credentials.password)
    return credentials


def _preflight(shared: _Shared, registry: str, plans: Sequence[ServicePlan], consequence: str) -> None:
    assert shared.client is not None and shared.credentials is not None
    try:
        images.check_login(shared.client, registry, shared.credentials)
    except images.ImageError as error:
        names = ", ".join(plan.service for plan in plans)
        raise images.ImageError(f"cannot push {names}: {error}; {consequence}") from error


def _in_parallel(workers: int, plans: Sequence[ServicePlan], results: Sequence[ServiceResult],
                 cancel: threading.Event, job: Callable[[ServicePlan, ServiceResult], None]) -> None:
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="build") as pool:
        futures = [pool.submit(job, plan, result) for plan, result in zip(plans, results, strict=True)]
        try:
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            # Ctrl-C: running builds stop at their next step or stream chunk; queued ones never start.
            cancel.set()
            for future in futures:
                future.cancel()
            raise


def _dry_plan(plan: ServicePlan, result: ServiceResult, settings: BuildSettings, runner: Runner,
              push: bool) -> None:
    runner.say(f"{plan.service}: build {plan.local_tag} from {_shown(plan.source_dir)}")
    for step in plan.steps:
        runner.run(step)
    digest = _input_digest(plan, settings)
    runner.announce(plan.build_command(digest))
    runner.announce(docker_cli.tag(plan.local_tag, plan.remote_ref))
    if push:
        runner.announce(docker_cli.push(plan.remote_ref))
    result.result = "planned"


def _input_digest(plan: ServicePlan, settings: BuildSettings) -> str:
    steps = [" ".join(step.argv) for step in plan.steps]
    return images.input_digest(str(plan.source_dir), str(plan.dockerfile), version=plan.version,
                               build_args=plan.build_args, extra=steps, exclude=settings.digest_exclude)


def _build_one(plan: ServicePlan, result: ServiceResult, settings: BuildSettings, runner: Runner,
               console: _Console, shared: _Shared) -> None:
    started = time.monotonic()
    emit = _emitter(console, plan.service)
    assert shared.client is not None  # connected before any service thread starts
    try:
        _check_cancel(plan, shared)
        digest = _input_digest(plan, settings)
        result.input_digest = digest
        labels = images.image_labels(shared.client, plan.local_tag)
        if labels is not None and labels.get(images.INPUT_DIGEST_LABEL) == digest:
            result.image_id = images.image_id(shared.client, plan.local_tag) or ""
            images.tag_image(shared.client, plan.local_tag, plan.remote_ref)
            result.result = "unchanged"
            emit(f"{plan.local_tag} is up to date (inputs unchanged, {digest[:19]}): nothing built")
            return
        step_runner = Runner(runner.ctx, default_timeout=settings.step_timeout,
                             out=cast(IO[str], console.stream(plan.service)), dry=False)
        for step in plan.steps:
            _check_cancel(plan, shared)
            step_runner.run(step)
        _check_cancel(plan, shared)
        emit(f"$ {plan.build_command(digest).display()}")
        result.image_id = images.build_image(
            shared.client, context_dir=str(plan.source_dir), dockerfile=str(plan.dockerfile),
            tag=plan.local_tag, build_args=plan.build_args, labels=plan.labels(digest),
            emit=emit, cancel=shared.cancel, service=plan.service)
        emit(f"$ {docker_cli.tag(plan.local_tag, plan.remote_ref).display()}")
        images.tag_image(shared.client, plan.local_tag, plan.remote_ref)
        result.result = "built"
    except images.Cancelled as error:
        result.result, result.detail = "stopped", _without_prefix(str(error), plan.service)
    except RetailDeployError as error:
        shared.cancel.set()
        result.result, result.detail = "failed", _without_prefix(str(error), plan.service)
    except BaseException as error:  # noqa: BLE001 - any crash must stop the other builds too
        shared.cancel.set()
        result.result, result.detail = "failed", f"{type(error).__name__}: {error}"
    finally:
        result.duration = time.monotonic() - started


def _push_one(plan: ServicePlan, result: ServiceResult, registry: str, runner: Runner, console: _Console,
              shared: _Shared, board: images.LiveBoard | None) -> None:
    started = time.monotonic()
    emit = _emitter(console, plan.service)
    assert shared.client is not None  # connected before any service thread starts
    try:
        emit(f"$ {docker_cli.push(plan.remote_ref).display()}")
        pushed = images.push_image(shared.client, plan.remote_ref, credentials=shared.credentials,
                                   registry=registry, progress=images.PushProgress(plan.service, emit, board),
                                   service=plan.service)
        result.digest, result.uploaded_layers = pushed.digest, pushed.uploaded
        result.result = "pushed"
        if pushed.uploaded_nothing:
            emit(f"pushed {plan.remote_ref}@{pushed.digest}: nothing uploaded, the registry had every layer")
        else:
            emit(f"pushed {plan.remote_ref}@{pushed.digest} ({pushed.uploaded} layer(s) uploaded)")
    except RetailDeployError as error:
        result.result, result.detail = "failed", _without_prefix(str(error), plan.service)
    except Exception as error:  # noqa: BLE001 - report every service, whatever broke
        result.result, result.detail = "failed", f"{type(error).__name__}: {error}"
    finally:
        result.duration += time.monotonic() - started


def _check_cancel(plan: ServicePlan, shared: _Shared) -> None:
    if shared.cancel.is_set():
        raise images.Cancelled(f"{plan.service}: stopped because another service failed")


def _emitter(console: _Console, service: str) -> Callable[[str], None]:
    return lambda text: console.line(service, text)


def _without_prefix(message: str, service: str) -> str:
    return message[len(service) + 2:] if message.startswith(f"{service}: ") else message


def _failure_line(report: BuildReport, consequence: str) -> str:
    failed = report.failures() or [r for r in report.results if r.failed]
    first = failed[0]
    others = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return redact.redact(f"build of {first.service} failed{others}: {first.detail}; {consequence}")


def _finish(report: BuildReport, console: _Console) -> None:
    with console.lock:
        console.out.write("\n" + redact.redact(report.table()) + "\n")
        console.out.flush()


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False

