"""The real-service fixtures really work: each test drives the service the way chapter tests will."""

from __future__ import annotations

from typing import Any

import pytest

from tests.services import DockerEngine, Registry, remove_images, unique_prefix

# Its Docker tests push, tag and run containers that exit: nothing listens on a host port.
pytestmark = [pytest.mark.integration, pytest.mark.docker_no_host_ports]


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
        remove_images(docker_engine.client, lambda tag: tag == f"{repository}:1.0.0")
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
        remove_images(docker_engine.client, lambda tag: tag == f"{repository}:1.0.0")
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
        remove_images(docker_engine.client, lambda tag: tag == f"{repository}:2.0.0")


# --------------------------------------------------------------------------- prometheus + exporter


def value_of(result: list[dict[str, Any]]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_prometheus_scrapes_exporter_counter_and_rate(prometheus_factory: Any, metrics_exporter: Any) -> None:
    metrics_exporter.set_counter("http_server_requests_total", {"status": "500", "uri": "/api"}, 42)
    # A high start value: rate() does not extrapolate a counter below zero, which would skew it.
    metrics_exporter.set_counter("http_server_requests_total", {"status": "200", "uri": "/api"}, 1000)
    metrics_exporter.set_rate("http_server_requests_total", {"status": "200", "uri": "/api"}, 20)
    prometheus = prometheus_factory([metrics_exporter.target], scrape_interval="1s")
    prometheus.wait_for_targets_up()

    errors = prometheus.wait_for('http_server_requests_total{status="500"}')
    assert value_of(errors) == 42
    assert errors[0]["metric"]["uri"] == "/api"
    rate = prometheus.wait_for('rate(http_server_requests_total{status="200"}[4s])',
                               lambda result: bool(result) and 15 <= value_of(result) <= 25, timeout=15)
    assert 15 <= value_of(rate) <= 25
    assert metrics_exporter.scrapes >= 2


def test_prometheus_histogram_quantile_follows_exporter_latency(
    prometheus_factory: Any, metrics_exporter: Any, tmp_path: Any,
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n- name: test\n  rules:\n  - record: job:latency_p99:4s\n"
        "    expr: histogram_quantile(0.99, sum by (le) "
        "(rate(http_server_requests_seconds_bucket[4s])))\n"
    )
    metrics_exporter.define_histogram("http_server_requests_seconds", [0.1, 0.5, 1.0, 2.0])
    metrics_exporter.set_observation_rate("http_server_requests_seconds", {"uri": "/api"}, 0.8, per_second=50)
    prometheus = prometheus_factory([metrics_exporter.target], rule_files=[rules])
    p99 = prometheus.wait_for("job:latency_p99:4s", lambda r: bool(r) and r[0]["value"][1] != "NaN", timeout=15)
    # All observations are 0.8 s: the quantile is interpolated inside the (0.5, 1.0] bucket.
    assert 0.5 < value_of(p99) <= 1.0


# --------------------------------------------------------------------------- sshd


def test_sshd_runs_command_for_generated_key_with_fabric_and_ssh(sshd_server: Any) -> None:
    import subprocess

    from fabric import Connection

    with Connection(sshd_server.host, user=sshd_server.user, port=sshd_server.port,
                    connect_kwargs=sshd_server.connect_kwargs) as connection:
        result = connection.run("echo hello-$((40 + 2))", hide=True, in_stream=False)
    assert result.stdout.strip() == "hello-42"

    plain = subprocess.run(
        ["ssh", "-p", str(sshd_server.port), "-i", sshd_server.key_filename, "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
         f"root@{sshd_server.host}", "id -un"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, check=False,
    )
    assert (plain.returncode, plain.stdout.strip()) == (0, "root"), plain.stderr
    configured = subprocess.run(sshd_server.ssh_argv("echo", "via-config"), capture_output=True, text=True,
                                timeout=30, stdin=subprocess.DEVNULL, check=False)
    assert configured.stdout.strip() == "via-config", configured.stderr


def test_sshd_refuses_a_key_it_does_not_know(sshd_server: Any, tmp_path: Any) -> None:
    import subprocess

    other_key = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    denied = subprocess.run(
        ["ssh", "-p", str(sshd_server.port), "-i", str(other_key), "-o", "IdentitiesOnly=yes",
         "-o", f"UserKnownHostsFile={sshd_server.known_hosts}", "-o", "BatchMode=yes",
         f"root@{sshd_server.host}", "true"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, check=False,
    )
    assert denied.returncode == 255
    assert "Permission denied" in denied.stderr


# --------------------------------------------------------------------------- http(s) + webhook


def test_http_service_serves_routes_in_turn_with_delay(http_service_factory: Any) -> None:
    import time

    import requests

    from tests.services import Route

    service = http_service_factory({
        "/api/v1/health": [Route(503, {"status": "DOWN"}), Route(200, {"status": "UP"})],
        "/slow": Route(200, "late", delay=0.3),
    })
    assert requests.get(f"{service.url}/api/v1/health", timeout=5).status_code == 503
    second = requests.get(f"{service.url}/api/v1/health", timeout=5)
    assert (second.status_code, second.json()) == (200, {"status": "UP"})
    assert requests.get(f"{service.url}/api/v1/health", timeout=5).status_code == 200  # last one repeats
    assert requests.get(f"{service.url}/missing", timeout=5).status_code == 404
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(f"{service.url}/slow", timeout=0.1)
    started = time.monotonic()
    assert requests.get(f"{service.url}/slow", timeout=5).text == "late"
    assert time.monotonic() - started >= 0.3
    assert [r.route for r in service.requests].count("/api/v1/health") == 3


def test_https_service_refused_without_ca_and_accepted_with_it(http_service_factory: Any) -> None:
    import requests

    service = http_service_factory({"/": {"ok": True}}, tls=True)
    assert service.url.startswith("https://127.0.0.1:")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(service.url + "/", timeout=5)
    assert requests.get(service.url + "/", timeout=5, verify=service.ca_file).json() == {"ok": True}
    localhost = service.url.replace("127.0.0.1", "localhost")
    assert requests.get(localhost + "/", timeout=5, verify=service.ca_file).status_code == 200


def test_https_service_with_expired_certificate_fails_verification(http_service_factory: Any) -> None:
    import requests

    service = http_service_factory({"/": 200}, tls=True, cert_days=-1)
    with pytest.raises(requests.exceptions.SSLError, match="expired"):
        requests.get(service.url + "/", timeout=5, verify=service.ca_file)


def test_webhook_receiver_records_posts_and_answers_configured_status(webhook_receiver: Any) -> None:
    import requests

    response = requests.post(webhook_receiver.hook_url, json={"text": "deployed 1.4.2"}, timeout=5,
                             headers={"X-Token": "t"})
    assert response.status_code == 200
    webhook_receiver.status = 500
    assert requests.post(webhook_receiver.url + "/other", json={"n": 2}, timeout=5).status_code == 500
    posts = webhook_receiver.wait_for(2)
    assert [(p.path, p.json) for p in posts] == [("/hooks/deploy", {"text": "deployed 1.4.2"}), ("/other", {"n": 2})]
    assert posts[0].headers["X-Token"] == "t"


def test_exporter_output_passes_promtool_check_metrics(metrics_exporter: Any) -> None:
    import subprocess
    import urllib.request

    metrics_exporter.set_counter("http_server_requests_total", {"status": "500"}, 3)
    metrics_exporter.observe("http_server_requests_seconds", {"uri": "/api"}, 0.2, count=5)
    with urllib.request.urlopen(f"{metrics_exporter.url}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read()
    checked = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=30,
                             check=False)
    # promtool exits 1 on a parse error and 3 on lint remarks (e.g. a missing HELP line).
    assert checked.returncode == 0, checked.stderr.decode()


def test_docker_over_ssh_reaches_the_engine_through_the_wrapper(
    docker_engine: Any, sshd_server: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import subprocess

    import docker

    cli = subprocess.run(["docker", "-H", sshd_server.url, "version", "--format", "{{.Server.Version}}"],
                         env=sshd_server.client_env(), capture_output=True, text=True, timeout=60, check=False)
    assert cli.returncode == 0, cli.stderr
    local_version = docker_engine.client.version()["Version"]
    assert cli.stdout.strip() == local_version

    monkeypatch.setenv("PATH", sshd_server.client_env()["PATH"])
    client = docker.DockerClient(base_url=sshd_server.url, use_ssh_client=True, timeout=60)
    try:
        assert client.version()["Version"] == local_version
    finally:
        client.close()


def test_prometheus_factory_fails_on_invalid_rules_instead_of_skipping(prometheus_factory: Any, tmp_path: Any) -> None:
    rules = tmp_path / "bad.yml"
    rules.write_text("groups:\n- name: bad\n  rules:\n  - alert: Broken\n    expr: rate(x[5m]\n")
    with pytest.raises(pytest.fail.Exception, match="promtool check rules failed"):
        prometheus_factory(["127.0.0.1:1"], rule_files=[rules])


def test_service_started_again_on_a_new_port_when_its_port_is_taken(tmp_path: Any) -> None:
    import socket

    from tests.services import Registry, _start_service

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    ports: list[int] = []

    def build() -> Registry:
        registry = Registry(tmp_path / f"r{len(ports)}")
        if not ports:
            registry.port = blocker.getsockname()[1]  # the first attempt loses the race for its port
            registry._write_files()
        ports.append(registry.port)
        return registry

    try:
        registry = _start_service(build)
        assert registry.running and len(ports) == 2 and registry.port != ports[0]
        registry.stop()
    finally:
        blocker.close()


def test_http_service_answers_fifty_concurrent_slow_requests_in_parallel(http_service_factory: Any) -> None:
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from tests.services import Route

    lock = threading.Lock()
    in_flight = [0, 0]  # now, most at once

    def slow(request: Any) -> Route:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        time.sleep(0.3)
        with lock:
            in_flight[0] -= 1
        return Route(200, {"status": "UP"})

    service = http_service_factory({"*": slow})
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda i: requests.get(f"{service.url}/e{i}", timeout=10).status_code, range(50)))
    assert statuses == [200] * 50
    # One listen backlog slot or a serial server would keep this near 1-5.
    assert in_flight[1] >= 25, f"only {in_flight[1]} requests were served at once"


def test_shared_registry_stopped_by_a_test_is_back_for_the_next_one_a(registry: Registry) -> None:
    registry.stop()
    assert not registry.running


def test_shared_registry_stopped_by_a_test_is_back_for_the_next_one_b(registry: Registry) -> None:
    from tests.services import http_status

    assert registry.running
    assert http_status(f"{registry.url}/v2/") == 401


def test_removing_a_tests_image_keeps_the_build_cache_other_builds_share(docker_engine: DockerEngine,
                                                                          tmp_path: Any) -> None:
    """remove_images drops the test's tag and image, never its untagged parent: that parent is the
    cached result of a build step, which a concurrent build with the same step reuses as its parent."""
    client = docker_engine.client
    prefix = unique_prefix()
    (tmp_path / "Dockerfile").write_text(f"FROM {docker_engine.base_image}\nCOPY step.txt /step.txt\n")
    (tmp_path / "step.txt").write_text(prefix)  # this test's own step: its cached image is ours to remove
    tag = f"{prefix}cache:1.0.0"
    events = list(client.api.build(path=str(tmp_path), tag=tag, labels={"test": prefix}, rm=True, decode=True))
    assert not [e for e in events if "error" in e], events
    parent = client.api.inspect_image(tag)["Parent"]
    assert parent  # the COPY step's image; the API label made one more step on top
    try:
        remove_images(client, lambda t: t == tag)
        assert not client.images.list(name=f"{prefix}cache")
        assert client.api.inspect_image(parent)["Id"] == parent
    finally:
        client.images.remove(parent, noprune=True)  # the cache entry of this test's unique step


def test_removing_a_tests_images_removes_what_it_pulled_by_digest_and_keeps_the_base(
    docker_engine: DockerEngine, registry: Registry,
) -> None:
    client = docker_engine.client
    prefix = unique_prefix()
    repository = f"{registry.address}/{prefix}base"
    client.images.get(docker_engine.base_image).tag(repository, tag="1.0.0")
    assert stream_errors(push(docker_engine, repository, "1.0.0", registry.auth_config)) == []
    pulled = client.images.pull(repository, tag="1.0.0", auth_config=registry.auth_config)
    assert [d for d in pulled.attrs["RepoDigests"] if d.startswith(repository + "@sha256:")]  # named by digest too
    remove_images(client, lambda ref: ref.split("/")[-1].startswith(prefix))
    names = [n for image in client.api.images() for n in (image.get("RepoTags") or []) + (image.get("RepoDigests") or [])]
    assert not [n for n in names if prefix in n]
    assert client.images.get(docker_engine.base_image).tags  # the shared base keeps its name
