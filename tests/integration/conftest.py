"""Fixtures shared by the Kubernetes scenario tests."""

import pytest

from tests.integration.kube_support import Platform


@pytest.fixture
def platform(tmp_path, monkeypatch):
    """The fake cluster seeded with the runbook's platform, its HTTP endpoints and a config file."""
    p = Platform(tmp_path, monkeypatch)
    yield p
    p.close()


@pytest.fixture
def real_platform(real_cluster, tmp_path, monkeypatch):
    """The same platform on the real control plane (tests/kube): real rollouts, a stand-in data plane."""
    from tests.integration.kube_real import RealPlatform

    p = RealPlatform(real_cluster, tmp_path, monkeypatch)
    yield p
    p.close()
