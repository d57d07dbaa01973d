"""Fixtures shared by the Kubernetes scenario tests."""

import pytest

from tests.integration.kube_support import Platform


@pytest.fixture
def platform(tmp_path, monkeypatch):
    """The fake cluster seeded with the runbook's platform, its HTTP endpoints and a config file."""
    p = Platform(tmp_path, monkeypatch)
    yield p
    p.close()
