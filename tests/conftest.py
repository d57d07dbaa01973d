"""Shared pytest setup: real-service fixtures live in tests/services.py."""
