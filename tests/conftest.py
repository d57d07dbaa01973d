"""Shared pytest setup: real-service fixtures live in tests/services.py."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.services", "tests.kube.fixtures"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (scripts/test.sh: `--dist loadgroup`), every test that uses the one Docker
    engine runs on the same worker: with host networking their containers share the machine's ports,
    and a candidate container's port (service port + offset) cannot be reserved ahead of time."""
    for item in items:
        if "docker_engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("docker-engine"))
