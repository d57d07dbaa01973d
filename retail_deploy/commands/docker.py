"""Argv builders for the docker CLI.

Images are built and pushed through the Docker SDK (`retail_deploy.build.images`); these commands are
what a person would type for the same action. A dry run prints them, and they are what the
runbook shows (`docker build -t retail-backend:V .`, `docker tag ...`, `docker push ...`).
"""

from __future__ import annotations

from collections.abc import Mapping

from retail_deploy.commands import Command, cmd


def build(tag: str, context: str = ".", *, dockerfile: str | None = None,
          build_args: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None) -> Command:
    """`docker build -t TAG [-f DOCKERFILE] [--build-arg K=V]... [--label K=V]... CONTEXT`."""
    argv: list[str] = ["docker", "build", "-t", tag]
    if dockerfile:
        argv += ["-f", dockerfile]
    for key, value in sorted((build_args or {}).items()):
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in sorted((labels or {}).items()):
        argv += ["--label", f"{key}={value}"]
    argv.append(context)
    return cmd(*argv)


def tag(source: str, target: str) -> Command:
    """`docker tag SOURCE TARGET`."""
    return cmd("docker", "tag", source, target)


def push(reference: str) -> Command:
    """`docker push REFERENCE`."""
    return cmd("docker", "push", reference)


def pull(reference: str) -> Command:
    """`docker pull REFERENCE`."""
    return cmd("docker", "pull", reference)


def login(registry: str, username: str) -> Command:
    """`docker login REGISTRY -u USER --password-stdin`: the password never appears in argv."""
    return cmd("docker", "login", registry, "-u", username, "--password-stdin")
