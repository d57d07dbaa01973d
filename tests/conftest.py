"""Shared pytest setup: real-service fixtures live in tests/services.py."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.services", "tests.kube.fixtures"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (scripts/test.sh: `--dist loadgroup`), every test that uses the one Docker
    engine runs on the same worker: with host networking their containers share the machine's ports,
    and a candidate container's port (service port + offset) cannot be reserved ahead of time.
    Tests marked `docker_no_host_ports` (builds, pushes, containers that serve no port) run on any
    worker: that worker's serial queue is the suite's longest, so only what needs it stays on it."""
    for item in items:
        if "docker_engine" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("docker_no_host_ports"):
            item.add_marker(pytest.mark.xdist_group("docker-engine"))
