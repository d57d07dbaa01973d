"""Small stand-ins for the loaded platform config (the shape config.load_config returns)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from retail_deploy.yamlnode import Node


def check(path: str, expect_status: int = 200, expect_json: dict[str, Any] | None = None) -> SimpleNamespace:
    return SimpleNamespace(path=path, expect_status=expect_status, expect_json=expect_json)


def platform(raw: dict[str, Any] | None = None) -> SimpleNamespace:
    up = {"status": "UP"}
    services = {
        "backend": SimpleNamespace(name="backend", health=[check("/api/v1/health", expect_json=up),
                                                           check("/actuator/health", expect_json=up)],
                                   version_path="/api/v1/version"),
        "consumer-web": SimpleNamespace(name="consumer-web", health=[check("/")], version_path=None),
        "admin-web": SimpleNamespace(name="admin-web", health=[check("/")], version_path=None),
    }
    return SimpleNamespace(services=services, root=Node(raw or {}, "platform.yaml", "", 1))


def environment(name: str = "production", urls: dict[str, str] | None = None,
                colour_urls: dict[str, str] | None = None) -> SimpleNamespace:
    urls = urls if urls is not None else {"backend": "https://api.example.com",
                                          "consumer-web": "https://www.example.com",
                                          "admin-web": "https://admin.example.com"}
    blue_green = SimpleNamespace(service="backend", colour_urls=colour_urls) if colour_urls is not None else None
    return SimpleNamespace(name=name, urls=urls, blue_green=blue_green)
