"""Argv builders for Maven (the backend's build, runbook chapter 1).

The runbook's `mvn` commands run through the Maven Wrapper in the backend's directory (`./mvnw`,
run there by `env -C`): it fetches the Maven its `.mvn/wrapper/maven-wrapper.properties` pins (3.9,
checked against its SHA-256), so every machine builds with the Maven the runbook asks for, whatever
Maven its package manager has."""

from __future__ import annotations

from retail_deploy.commands import Command, cmd

MAVEN = "./mvnw"


def clean_test() -> Command:
    """`mvn clean test`: the runbook's test step (through the wrapper)."""
    return cmd(MAVEN, "clean", "test")


def package(profile: str | None = "prod", *, skip_tests: bool = True) -> Command:
    """`mvn clean package -DskipTests -Pprod`: the runbook's packaging step (through the wrapper)."""
    argv = [MAVEN, "clean", "package"]
    if skip_tests:
        argv.append("-DskipTests")
    if profile:
        argv.append(f"-P{profile}")
    return cmd(*argv)


def default_steps() -> list[Command]:
    """The runbook's backend build: tests, then the production package."""
    return [clean_test(), package()]
