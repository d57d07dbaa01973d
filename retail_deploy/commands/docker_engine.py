"""Argv builders for running containers with the docker CLI.

The Docker target (`retail_deploy.docker.target`) acts through the Docker SDK; these are the
commands a person would type for the same actions. A dry run prints them, so the plan of a
development deploy reads (and runs) as a shell script. `host` adds `-H ssh://user@host` for a
remote engine, exactly as the docker CLI takes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retail_deploy.commands import Command, cmd


def _docker(host: str | None) -> list[str]:
    return ["docker", "-H", host] if host else ["docker"]


def run(image: str, *, name: str, host: str | None = None, network: str = "host",
        env: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None,
        publish: Sequence[str] = (), restart: str | None = None, health_cmd: str | None = None,
        health_interval: str | None = None, health_timeout: str | None = None,
        health_retries: int | None = None) -> Command:
    """`docker run -d --name NAME --network NET [--restart P] [--health-* ...] [-p ...] [-e K=V]...
    [--label K=V]... IMAGE`."""
    argv = _docker(host) + ["run", "-d", "--name", name, "--network", network]
    if restart:
        argv += ["--restart", restart]
    if health_cmd:
        argv += ["--health-cmd", health_cmd]
        for flag, value in (("--health-interval", health_interval), ("--health-timeout", health_timeout),
                            ("--health-retries", health_retries)):
            if value is not None:
                argv += [flag, str(value)]
    for port in publish:
        argv += ["-p", port]
    for key, value in sorted((env or {}).items()):
        argv += ["-e", f"{key}={value}"]
    for key, value in sorted((labels or {}).items()):
        argv += ["--label", f"{key}={value}"]
    argv.append(image)
    return cmd(*argv)


def exec_(container: str, argv: Sequence[str], *, host: str | None = None) -> Command:
    """`docker exec CONTAINER ARGV...`."""
    return cmd(*_docker(host), "exec", container, *argv)


def inspect_health(*containers: str, host: str | None = None) -> Command:
    """`docker inspect --format '{{json .State.Health}}' CONTAINER...`: the health-check results."""
    return cmd(*_docker(host), "inspect", "--format", "{{json .State.Health}}", *containers, read_only=True)


def start(container: str, *, host: str | None = None) -> Command:
    return cmd(*_docker(host), "start", container)


def stop(container: str, *, host: str | None = None, timeout: int = 10) -> Command:
    return cmd(*_docker(host), "stop", "-t", str(timeout), container)


def remove(container: str, *, host: str | None = None) -> Command:
    """`docker rm -f CONTAINER` (stops it first if it runs)."""
    return cmd(*_docker(host), "rm", "-f", container)


def rename(container: str, new_name: str, *, host: str | None = None) -> Command:
    return cmd(*_docker(host), "rename", container, new_name)


def update_restart(container: str, policy: str, *, host: str | None = None) -> Command:
    """`docker update --restart POLICY CONTAINER`: a switched-in container restarts as the old did."""
    return cmd(*_docker(host), "update", "--restart", policy, container)


def pull(reference: str, *, host: str | None = None) -> Command:
    return cmd(*_docker(host), "pull", reference)


def logs(container: str, *, host: str | None = None, tail: int = 20) -> Command:
    return cmd(*_docker(host), "logs", "--tail", str(tail), container, read_only=True)


def volume_create(name: str, labels: Mapping[str, str] | None = None, *, host: str | None = None) -> Command:
    """`docker volume create [--label K=V]... NAME` (the Docker target's audit records)."""
    argv = _docker(host) + ["volume", "create"]
    for key, value in sorted((labels or {}).items()):
        argv += ["--label", f"{key}={value}"]
    return cmd(*argv, name)
