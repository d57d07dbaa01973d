"""Benchmark: `build.all --push` against the runbook's commands as a plain sequential shell script.

Same inputs, same Docker engine, same registry (a real htpasswd registry on 127.0.0.1):
- baseline: for each service `cd DIR && <build steps> && docker build -t IMG:V . && docker tag ... &&
  docker push ...` one after another, exactly the runbook's shape (docker CLI, legacy builder);
- ours: `build_services(..., push=True)` (SDK, services concurrently);
- no-op: `build_services` again with the same version and unchanged inputs (must build nothing).

Each service's workload stands in for a real build: a build step that waits (dependency fetch /
compiler start-up), a Dockerfile RUN that waits and writes a few MB (a layer to push). Every timed
run uses a fresh version and a fresh source stamp, so no run reuses the other's cache.

    PYTHONPATH=. python benchmarks/build_all.py [--services 3] [--rounds 2] [--work 1.5]
    PYTHONPATH=. python benchmarks/build_all.py --example [--rounds 2]

With --example the services are the example platform's own (examples/retail-platform: Maven and
npm builds, the runbook's commands) instead of the synthetic ones; every run builds for a new
version (the version is part of the input digest), and the order of baseline and ours alternates
between rounds so neither always finds the other's warm caches.

Needs dockerd (scripts/start-docker.sh), the busybox:1.36 base (scripts/make-base-image.sh),
docker-registry and htpasswd; with --example also retail-jre:25 (scripts/make-jre-image.sh), mvn, npm. Prints one table; figures go in docs/performance.md under "## Build".
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from invoke import Context

from retail_deploy.build.service import build_services
from retail_deploy.config import load_config
from retail_deploy.execute import Runner
from tests.services import Registry

DOCKERFILE = """\
FROM busybox:1.36
COPY stamp.txt /srv/stamp.txt
COPY dist/ /srv/dist/
RUN sleep {work} && dd if=/dev/urandom of=/srv/blob bs=1M count=4 2>/dev/null
CMD ["cat", "/srv/stamp.txt"]
"""


def make_platform(root: Path, services: int, work: float, registry: Registry) -> Path:
    lines = ["version: 1", "platform: bench", "registry:", f"  host: {registry.address}",
             "  username_env: BENCH_USER", "  password_env: BENCH_PASSWORD", "services:"]
    for index in range(services):
        name = f"svc{index}"
        (root / name).mkdir(parents=True)
        (root / name / "Dockerfile").write_text(DOCKERFILE.format(work=work))
        (root / name / "stamp.txt").write_text("initial\n")
        lines += [f"  {name}:", f"    image: bench-{name}", f"    source_dir: {name}", "    build_steps:",
                  f"      - {{name: package, run: [sh, -c, 'sleep {work} && mkdir -p dist && "
                  f"cp stamp.txt dist/app']}}"]
    lines += ["environments:", "  development: {target: docker}"]
    config = root / "platform.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def stamp(root: Path, services: int, text: str) -> None:
    """New sources for every service (distinct per service, so the engine's cache cannot share them)."""
    for index in range(services):
        (root / f"svc{index}" / "stamp.txt").write_text(f"{text} svc{index}\n")


def baseline_script(root: Path, services: int, work: float, registry: Registry, version: str) -> str:
    """The runbook's commands for every service, one after another."""
    lines = ["set -e"]
    for index in range(services):
        name, image = f"svc{index}", f"bench-svc{index}"
        remote = f"{registry.address}/{image}:{version}"
        lines += [
            f"cd {shlex.quote(str(root / name))}",
            f"sh -c 'sleep {work} && mkdir -p dist && cp stamp.txt dist/app'",
            f"docker build -q -t {image}:{version} . >/dev/null",
            f"docker tag {image}:{version} {remote}",
            f"docker push {remote} >/dev/null",
        ]
    return "\n".join(lines) + "\n"


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "retail-platform"


def example_platform(root: Path) -> Path:
    """A copy of the example platform (sources only: no target/, node_modules/, dist/)."""
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "dist", "node_modules"),
                    dirs_exist_ok=True)
    return root / "retail-platform.yaml"


def example_baseline_script(cfg, registry: Registry, version: str) -> str:  # type: ignore[no-untyped-def]
    """The runbook's commands for every example service (mvn / npm steps, docker build, tag, push),
    one after another."""
    lines = ["set -e"]
    for service in cfg.services.values():
        remote = f"{registry.address}/{service.image}:{version}"
        lines.append(f"cd {shlex.quote(str(service.source_dir))}")
        lines += [f"{shlex.join(step.argv)} >/dev/null" for step in service.build_steps]
        lines += [f"docker build -q -t {service.image}:{version} . >/dev/null",
                  f"docker tag {service.image}:{version} {remote}", f"docker push {remote} >/dev/null"]
    return "\n".join(lines) + "\n"


def remove_images(versions: list[str]) -> None:
    import docker

    client = docker.from_env()
    for image in client.images.list():
        for tag in image.tags:
            if tag.rsplit(":", 1)[-1] in versions:
                client.images.remove(tag, force=True, noprune=True)  # the build cache is shared
    client.close()


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work", type=float, default=1.5, help="seconds of waiting per build step and RUN")
    parser.add_argument("--example", action="store_true", help="build the example platform (mvn, npm)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        tmpdir = Path(tmp)
        registry = Registry(tmpdir / "registry").start()
        docker_config = tmpdir / "docker-config"  # the baseline's `docker login` stays private
        docker_config.mkdir()
        env = dict(os.environ, DOCKER_CONFIG=str(docker_config), DOCKER_BUILDKIT="0",
                   BENCH_USER=registry.username, BENCH_PASSWORD=registry.password)
        os.environ.update(BENCH_USER=registry.username, BENCH_PASSWORD=registry.password,
                          REGISTRY_USERNAME=registry.username, REGISTRY_PASSWORD=registry.password,
                          RETAIL_REGISTRY=registry.address)
        subprocess.run(["docker", "login", registry.address, "-u", registry.username, "--password-stdin"],
                       input=registry.password, text=True, env=env, check=True, capture_output=True)
        root = tmpdir / "platform"
        root.mkdir()
        if args.example:
            config_file = example_platform(root)
        else:
            config_file = make_platform(root, args.services, args.work, registry)
        cfg = load_config(config_file)
        services = list(cfg.services.values())
        versions: list[str] = []
        baseline, ours, noop = [], [], []
        try:
            for round_ in range(args.rounds):
                def run_baseline() -> None:
                    version = "bench-" + uuid.uuid4().hex[:8]
                    versions.append(version)
                    if args.example:
                        script = example_baseline_script(cfg, registry, version)
                    else:
                        stamp(root, args.services, version + "-shell")
                        script = baseline_script(root, args.services, args.work, registry, version)
                    baseline.append(timed(lambda s=script: subprocess.run(["sh", "-c", s], env=env, check=True)))

                def run_ours() -> bool:
                    version = "bench-" + uuid.uuid4().hex[:8]
                    versions.append(version)
                    if not args.example:
                        stamp(root, args.services, version + "-ours")
                    runner = Runner(Context(), out=io.StringIO())
                    ours.append(timed(lambda v=version, r=runner: build_services(
                        cfg, services, v, push=True, runner=r, out=io.StringIO())))
                    log = io.StringIO()
                    noop.append(timed(lambda v=version, r=runner, o=log: build_services(
                        cfg, services, v, push=False, runner=r, out=o)))
                    if log.getvalue().count("nothing built") != len(services):
                        print("no-op rebuild built something:\n" + log.getvalue(), file=sys.stderr)
                        return False
                    return True

                # With --example, alternate who goes first: Maven's and npm's caches warm up for the second.
                if args.example and round_ % 2:
                    if not run_ours():
                        return 1
                    run_baseline()
                else:
                    run_baseline()
                    if not run_ours():
                        return 1
        finally:
            registry.stop()
            remove_images(versions)

    base, mine, idle = statistics.median(baseline), statistics.median(ours), statistics.median(noop)
    what = "example platform (mvn, npm)" if args.example else f"services={args.services} work={args.work}s"
    print(f"{what} rounds={args.rounds} (medians)")
    print(f"{'runbook script (sequential)':34} {base:7.2f} s")
    print(f"{'build.all --push (ours)':34} {mine:7.2f} s   ratio {mine / base:.2f}x (goal <= 0.6x)")
    print(f"{'no-op rebuild (same version)':34} {idle:7.2f} s   (goal < 1 s, nothing built)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
