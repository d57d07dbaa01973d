"""Argv builders for Maven (the backend's build, runbook chapter 1)."""

from __future__ import annotations

from retail_deploy.commands import Command, cmd


def clean_test() -> Command:
    """`mvn clean test`: the runbook's test step."""
    return cmd("mvn", "clean", "test")


def package(profile: str | None = "prod", *, skip_tests: bool = True) -> Command:
    """`mvn clean package -DskipTests -Pprod`: the runbook's packaging step."""
    argv = ["mvn", "clean", "package"]
    if skip_tests:
        argv.append("-DskipTests")
    if profile:
        argv.append(f"-P{profile}")
    return cmd(*argv)


def default_steps() -> list[Command]:
    """The runbook's backend build: tests, then the production package."""
    return [clean_test(), package()]
