"""Checklist facts against real services: a registry with htpasswd auth and a Prometheus-like /-/ready."""

import pytest

from retail_deploy.build.registry import manifest_digest
from retail_deploy.checklist.gate import images_exist, prometheus_ready
from retail_deploy.config import DEFAULT_CONFIG, load_config
from retail_deploy.errors import DependencyUnavailable
from tests.services import remove_images

# Builds, pushes and containers that print and exit: nothing listens on a host port.
pytestmark = [pytest.mark.integration, pytest.mark.docker_no_host_ports]


@pytest.fixture
def pushed(docker_engine, registry):
    """busybox:1.36 pushed as <registry>/retail-backend:1.4.2 only."""
    client = docker_engine.client
    reference = f"{registry.address}/retail-backend"
    client.images.get("busybox:1.36").tag(reference, "1.4.2")
    for line in client.images.push(reference, "1.4.2", stream=True, decode=True,
                                   auth_config={"username": registry.username, "password": registry.password}):
        assert "error" not in line, line
    yield registry
    remove_images(client, lambda tag: tag == f"{reference}:1.4.2")  # the registry keeps it; the engine need not


def platform(tmp_path, registry):
    path = tmp_path / "platform.yaml"
    path.write_text(DEFAULT_CONFIG.read_text().replace("host: registry.example.com", f"host: {registry.address}"))
    return load_config(path, environ={})


def test_manifest_lookup_with_basic_auth(pushed):
    digest = manifest_digest(pushed.address, "retail-backend", "1.4.2", username=pushed.username,
                             password=pushed.password)
    assert digest.startswith("sha256:")
    assert manifest_digest(pushed.address, "retail-backend", "9.9.9", username=pushed.username,
                           password=pushed.password) is None
    with pytest.raises(Exception, match="rejected the credentials"):
        manifest_digest(pushed.address, "retail-backend", "1.4.2", username=pushed.username, password="wrong")


def test_images_exist_names_the_missing_images(pushed, tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_USERNAME", pushed.username)
    monkeypatch.setenv("REGISTRY_PASSWORD", pushed.password)
    ok, detail = images_exist(platform(tmp_path, pushed), "1.4.2")
    assert not ok
    assert detail == f"not in {pushed.address}: retail-consumer-web:1.4.2, retail-admin-web:1.4.2"


def test_prometheus_ready(http_service_factory):
    ready = http_service_factory({"/-/ready": "Prometheus Server is Ready."})
    assert prometheus_ready(ready.url) == (True, f"Prometheus at {ready.url} is ready")
    starting = http_service_factory({"/-/ready": 503})
    assert prometheus_ready(starting.url)[0] is False
    # No answer is not "not ready": the checklist reports it as a dependency that did not answer (exit 5).
    with pytest.raises(DependencyUnavailable, match="Prometheus at http://127.0.0.1:9 is unreachable"):
        prometheus_ready("http://127.0.0.1:9")


def test_notify_announces_the_deploy_and_counts_the_teams_as_notified(webhook_receiver, monkeypatch):
    import io

    from invoke import Config, Context

    from retail_deploy.checklist.gate import notify_teams
    from retail_deploy.execute import Runner

    monkeypatch.setenv("SLACK_WEBHOOK_URL", webhook_receiver.hook_url)
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY", raising=False)
    cfg = load_config(DEFAULT_CONFIG)
    out = io.StringIO()
    runner = Runner(Context(Config()), out=out)
    assert notify_teams(runner, cfg, cfg.environment("production"), "1.4.2") == ("oncall-notified",
                                                                                 "support-notified")
    webhook_receiver.wait_for(1)
    assert "production: deploying version 1.4.2 shortly" in webhook_receiver.posts[0].json["text"]
    assert webhook_receiver.hook_url not in out.getvalue()
    webhook_receiver.status = 500
    assert notify_teams(runner, cfg, cfg.environment("production"), "1.4.2") == ()
    assert "confirm the on-call and support items by hand" in out.getvalue()
