"""The example platform on the real Docker engine, for every Docker-target test in this folder."""

from __future__ import annotations

import pytest

from tests.integration.docker.test_dev_target import make_platform, remove_containers


@pytest.fixture
def platform(tmp_path, docker_engine, registry, monkeypatch, example_build):
    """A private copy of the example platform wired to this test's registry, ports and engine;
    its containers are removed afterwards."""
    made = make_platform(tmp_path, docker_engine, registry, monkeypatch, example_build)
    yield made
    remove_containers(made)
