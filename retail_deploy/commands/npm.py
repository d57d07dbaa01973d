"""Argv builders for npm (the front ends' build, runbook chapter 1)."""

from __future__ import annotations

from retail_deploy.commands import Command, cmd


def ci() -> Command:
    """`npm ci`: install exactly what package-lock.json pins."""
    return cmd("npm", "ci")


def test(*args: str) -> Command:
    """`npm test -- --run` by default: vitest's single run instead of watch mode."""
    return cmd("npm", "test", "--", *(args or ("--run",)))


def run(script: str) -> Command:
    """`npm run SCRIPT`, e.g. `npm run build`."""
    return cmd("npm", "run", script)


def default_steps() -> list[Command]:
    """The runbook's front-end build: install, test, production bundle."""
    return [ci(), test(), run("build")]
