"""Shared pytest setup: real-service fixtures live in tests/services.py."""

pytest_plugins = ["tests.services", "tests.kube.fixtures"]
