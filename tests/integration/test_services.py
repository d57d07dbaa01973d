"""The real-service fixtures really work: each test drives the service the way chapter tests will."""

from __future__ import annotations

from typing import Any

import pytest

from tests.services import DockerEngine, Registry

pytestmark = pytest.mark.integration


def push(engine: DockerEngine, repository: str, tag: str, auth: dict[str, str]) -> list[dict[str, Any]]:
    """Push and return the decoded progress stream (docker-py reports failures inside it)."""
    return list(engine.client.images.push(repository, tag=tag, auth_config=auth, stream=True, decode=True))


def stream_errors(events: list[dict[str, Any]]) -> list[str]:
    return [str(event["error"]) for event in events if "error" in event]


def test_docker_engine_runs_base_image_with_host_network(docker_engine: DockerEngine) -> None:
    output = docker_engine.client.containers.run(
        docker_engine.base_image, ["sh", "-c", "which httpd wget && test -d /tmp && grep -q ^root: /etc/passwd && echo ok"],
        network_mode="host", remove=True,
    )
    assert output.decode().split() == ["/usr/sbin/httpd", "/usr/bin/wget", "ok"]


def test_registry_accepts_push_with_password_and_lists_tag(docker_engine: DockerEngine, registry: Registry) -> None:
    repository = f"{registry.address}/services-test/base"
    docker_engine.client.images.get(docker_engine.base_image).tag(repository, tag="1.0.0")
    try:
        events = push(docker_engine, repository, "1.0.0", registry.auth_config)
    finally:
        docker_engine.client.images.remove(f"{repository}:1.0.0")
    assert stream_errors(events) == []
    assert registry.tags("services-test/base") == ["1.0.0"]


def test_registry_rejects_wrong_password_on_login_and_push(
    docker_engine: DockerEngine, registry: Registry,
) -> None:
    import docker

    with pytest.raises(docker.errors.APIError) as login_error:
        docker_engine.client.login(username=registry.username, password="wrong", registry=registry.address,
                                   reauth=True)
    assert "401" in str(login_error.value) or "unauthorized" in str(login_error.value).lower()

    repository = f"{registry.address}/services-test/denied"
    docker_engine.client.images.get(docker_engine.base_image).tag(repository, tag="1.0.0")
    try:
        events = push(docker_engine, repository, "1.0.0", {"username": registry.username, "password": "wrong"})
    finally:
        docker_engine.client.images.remove(f"{repository}:1.0.0")
    errors = stream_errors(events)
    assert errors and any("unauthorized" in error.lower() or "authentication" in error.lower()
                          for error in errors), errors
    assert registry.tags("services-test/denied") == []


def test_registry_down_then_back_keeps_pushed_images(
    docker_engine: DockerEngine, registry_factory: Any,
) -> None:
    private = registry_factory()
    repository = f"{private.address}/services-test/restart"
    docker_engine.client.images.get(docker_engine.base_image).tag(repository, tag="2.0.0")
    try:
        assert stream_errors(push(docker_engine, repository, "2.0.0", private.auth_config)) == []
        private.stop()
        assert not private.running
        down_errors = stream_errors(push(docker_engine, repository, "2.0.0", private.auth_config))
        assert down_errors, "a push to a stopped registry must report an error"
        private.start()
        assert private.tags("services-test/restart") == ["2.0.0"]
    finally:
        docker_engine.client.images.remove(f"{repository}:2.0.0")
