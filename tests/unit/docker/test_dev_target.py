"""Pure parts of the Docker target (docker_plan): argv equivalents, names, ports, run specs, checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from retail_deploy.commands import docker_engine as dcli
from retail_deploy.config import load_config
from retail_deploy.docker import plan as dt
from retail_deploy.docker import target as docker_target
from retail_deploy.errors import ConfigError, InputError

EXAMPLE_CONFIG = Path(__file__).resolve().parents[3] / "examples" / "retail-platform" / "retail-platform.yaml"

PLATFORM = """
version: 1
registry: {host: "127.0.0.1:5000"}
services:
  backend:
    image: retail-backend
    health:
      - {path: /api/v1/health, expect_json: {status: UP}}
    version_path: /api/v1/version
    port: 8080
  consumer-web:
    image: retail-consumer-web
    port: 3000
environments:
  development:
    target: docker
    docker: {DOCKER}
    urls: {backend: "http://127.0.0.1:18080", consumer-web: "http://localhost:13000"}
  staging:
    target: kubernetes
    kube_context: retail-staging
"""


def load(tmp_path, docker="{}", registry="127.0.0.1:5000"):
    path = tmp_path / "platform.yaml"
    path.write_text(PLATFORM.replace("{DOCKER}", docker).replace("127.0.0.1:5000", registry))
    cfg = load_config(path, environ={})
    return cfg, cfg.environment("development")


@pytest.fixture
def platform(tmp_path):
    return load(tmp_path, "{candidate_port_offset: 100, health_timeout: 5s}")


def test_cli_equivalents_are_runnable_docker_commands() -> None:
    assert dcli.run("r/img:1", name="n", env={"PORT": "1"}, labels={"a": "b"}).display() == (
        "docker run -d --name n --network host -e PORT=1 --label a=b r/img:1")
    assert dcli.stop("n", host="ssh://root@h:22").display() == "docker -H ssh://root@h:22 stop -t 10 n"
    assert dcli.remove("n").argv == ("docker", "rm", "-f", "n")
    assert dcli.rename("a", "b").argv == ("docker", "rename", "a", "b")
    assert dcli.exec_("n", ["wget", "-q", "-O", "-", "http://x/"]).display() == (
        "docker exec n wget -q -O - http://x/")
    assert dcli.pull("r/i:1", host="ssh://u@h").argv == ("docker", "-H", "ssh://u@h", "pull", "r/i:1")
    assert dcli.volume_create("h-1", {"k": '{"a":1}'}, host="ssh://u@h").display() == (
        """docker -H ssh://u@h volume create --label 'k={"a":1}' h-1""")


def test_target_uses_the_port_of_the_environment_url_and_an_offset_candidate_port(platform) -> None:
    cfg, env = platform
    settings = dt.docker_settings(env)
    assert settings.host is None and settings.health_timeout == 5.0
    target = dt.plan_target(cfg, env, cfg.services["backend"], "1.0.0", settings)
    assert target.image == "127.0.0.1:5000/retail-backend:1.0.0"
    assert (target.name, target.previous_name, target.candidate_name) == (
        "retail-backend-development", "retail-backend-development-previous",
        "retail-backend-development-candidate")
    assert (target.port, target.candidate_port) == (18080, 18180)
    assert target.endpoints == (dt.Endpoint("/api/v1/health", {"status": "UP"}),)
    assert target.version_path == "/api/v1/version"


def test_service_without_health_endpoints_is_checked_on_root_and_local_images_need_no_registry(tmp_path) -> None:
    cfg, env = load(tmp_path, "{name_prefix: t1-}", registry="")
    target = dt.plan_target(cfg, env, cfg.services["consumer-web"], "2.0", dt.docker_settings(env))
    assert target.image == "retail-consumer-web:2.0"
    assert target.name == "t1-retail-consumer-web-development"
    assert target.endpoints == (dt.Endpoint("/"),)
    assert target.port == 13000


def test_missing_port_is_bad_input(platform) -> None:
    cfg, env = platform
    env = dataclasses.replace(env, urls={})
    assert dt.service_port(env, cfg.services["backend"]) == 8080  # the service's own port
    with pytest.raises(InputError, match="urls.backend"):
        dt.service_port(env, dataclasses.replace(cfg.services["backend"], port=0))


def test_host_network_run_spec_binds_the_port_through_env_and_never_publishes(platform) -> None:
    cfg, env = platform
    settings = dt.DockerSettings()
    target = dt.plan_target(cfg, env, cfg.services["backend"], "1.0.0", settings)
    current = dt.run_spec(target, settings, candidate=False)
    candidate = dt.run_spec(target, settings, candidate=True)
    assert current["network_mode"] == "host" and "ports" not in current
    assert current["environment"] == {"PORT": "18080", "APP_VERSION": "1.0.0"}
    assert candidate["environment"] == {"PORT": "28080", "APP_VERSION": "1.0.0"}
    assert current["restart_policy"] == {"Name": "unless-stopped"} and "restart_policy" not in candidate
    assert current["labels"][dt.LABEL_VERSION] == "1.0.0"
    assert current["labels"][dt.LABEL_SERVICE] == "backend"
    assert current["labels"][dt.LABEL_ENV] == "development"


def test_published_mode_listens_inside_on_the_service_port_and_publishes_on_loopback(tmp_path) -> None:
    cfg, env = load(tmp_path, "{network: bridge}")
    settings = dt.docker_settings(env)
    target = dt.plan_target(cfg, env, cfg.services["backend"], "1.0.0", settings)
    spec = dt.run_spec(target, settings, candidate=True)
    assert spec["network"] == "bridge" and "network_mode" not in spec
    assert spec["ports"] == {"8080/tcp": ("127.0.0.1", 28080)}
    assert spec["environment"] == {"PORT": "8080", "BIND": "0.0.0.0", "APP_VERSION": "1.0.0"}
    shown = dt.run_command(target, settings, candidate=True).display()
    assert shown.startswith("docker run -d --name retail-backend-development-candidate --network bridge ")
    assert " -p 127.0.0.1:28080:8080 -e APP_VERSION=1.0.0 -e BIND=0.0.0.0 -e PORT=8080 " in shown
    assert "http://127.0.0.1:8080/api/v1/health" in spec["healthcheck"]["test"][1]
    assert dt.probe_port(target, settings, candidate=True) == 8080


def test_settings_read_typed_values_and_name_the_line_of_bad_ones(tmp_path) -> None:
    _, env = load(tmp_path, "{host: 'ssh://root@127.0.0.1:2222', use_ssh_client: true, probe: [curl, -fsS]}")
    settings = dt.docker_settings(env)
    assert settings.host == "ssh://root@127.0.0.1:2222" and settings.use_ssh_client is True
    assert settings.probe == ("curl", "-fsS")
    _, env = load(tmp_path, "{candidate_port_offset: many}")
    with pytest.raises(ConfigError, match=r"platform.yaml:\d+: environments.development.docker.candidate_port_offset"):
        dt.docker_settings(env)
    with pytest.raises(ConfigError, match="unknown key"):
        load(tmp_path, "{health_timout: 5s}")


def test_body_checks_compare_expected_json_and_read_versions() -> None:
    health = dt.Endpoint("/api/v1/health", {"status": "UP"})
    assert dt.check_body(health, '{"status":"UP","extra":1}') is None
    assert "status='DOWN'" in (dt.check_body(health, '{"status":"DOWN"}') or "")
    assert "not JSON" in (dt.check_body(health, "<html>") or "")
    assert dt.check_body(dt.Endpoint("/"), "<html>") is None
    assert dt.version_of('{"version":"1.0.1"}\n') == "1.0.1"
    assert dt.version_of("1.0.1\n") == "1.0.1"
    assert dt.version_of('{"name":"x"}') is None


def test_a_kubernetes_environment_is_refused_before_anything_runs(platform) -> None:
    cfg, _ = platform
    with pytest.raises(InputError, match="deploy.staging"):
        docker_target.deploy(object(), cfg, cfg.environment("staging"), "1.0.0")


def test_unknown_service_is_bad_input(platform) -> None:
    cfg, env = platform
    with pytest.raises(InputError, match="unknown service 'search'"):
        docker_target.deploy(object(), cfg, env, "1.0.0", services=["search"])


def test_health_check_fetches_every_path_and_the_version_inside_the_container(platform) -> None:
    cfg, env = platform
    settings = dt.docker_settings(env)
    target = dt.plan_target(cfg, env, cfg.services["backend"], "1.0.0", settings, candidate_port=40001)
    spec = dt.run_spec(target, settings, candidate=True)
    script = spec["healthcheck"]["test"][1]
    assert spec["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "wget -q -O - http://127.0.0.1:40001/api/v1/health" in script
    assert "wget -q -O - http://127.0.0.1:40001/api/v1/version" in script
    assert spec["healthcheck"]["interval"] == 500_000_000
    current = dt.run_spec(target, settings, candidate=False)["healthcheck"]["test"][1]
    assert "http://127.0.0.1:18080/api/v1/health" in current
    shown = dt.run_command(target, settings, candidate=True).display()
    assert "--health-cmd " in shown and "--health-interval 0.5s" in shown


def run_output(*pairs: tuple[str, str]) -> str:
    return "".join(f"{dt.MARK}{path}\n{body}\n" for path, body in pairs)


def test_judging_a_health_run_names_the_failing_path_wrong_json_or_wrong_version(platform) -> None:
    cfg, env = platform
    target = dt.plan_target(cfg, env, cfg.services["backend"], "1.0.1", dt.docker_settings(env))
    good = run_output(("/api/v1/health", '{"status":"UP"}'), ("/api/v1/version", '{"version":"1.0.1"}'))
    assert dt.judge_health(target, 0, good, "1.0.1") is None
    assert dt.judge_health(target, 0, good, None) is None
    assert dt.judge_health(target, 0, good, "1.0.0") == (
        "GET /api/v1/version: version '1.0.1', expected '1.0.0'")
    down = run_output(("/api/v1/health", '{"status":"DOWN"}'), ("/api/v1/version", '{"version":"1.0.1"}'))
    assert dt.judge_health(target, 0, down, "1.0.1") == "GET /api/v1/health: status='DOWN', expected 'UP'"
    failed = f"{dt.MARK}/api/v1/health\nwget: server returned error: HTTP/1.1 404 Not Found\n"
    assert dt.judge_health(target, 1, failed, "1.0.1") == (
        "GET /api/v1/health: wget: server returned error: HTTP/1.1 404 Not Found")
    assert dt.split_health_output(good) == {"/api/v1/health": '{"status":"UP"}',
                                            "/api/v1/version": '{"version":"1.0.1"}'}


def test_only_health_runs_since_the_last_start_count() -> None:
    run = {"Start": "2026-11-26T04:58:40.123456789Z", "ExitCode": 0, "Output": "ok"}
    later = {"Start": "2026-11-26T04:58:44.5Z", "ExitCode": 1, "Output": "down"}
    state = {"StartedAt": "2026-11-26T04:58:43.987654321Z", "Health": {"Log": [run]}}
    assert dt.latest_health_run(state) is None  # a run of the process before `docker start`
    state["Health"]["Log"].append(later)
    assert dt.latest_health_run(state) == later
    assert dt.latest_health_run({"StartedAt": "2026-11-26T04:58:39Z", "Health": {"Log": [run]}}) == run
    assert dt.latest_health_run({"State": "no health"}) is None


def test_config_validate_refuses_a_bad_docker_section_with_its_line(tmp_path) -> None:
    from retail_deploy import config_report

    cfg, _ = load(tmp_path, "{health_timeout: soon}")
    with pytest.raises(ConfigError, match=r"platform.yaml:\d+: environments.development.docker.health_timeout"):
        config_report.validate(cfg, None)
    cfg, _ = load(tmp_path, "{health_timeout: 10s}")
    assert "valid" in config_report.validate(cfg, None)
    example = load_config(EXAMPLE_CONFIG, environ={})
    assert "valid (3 services, 1 environments)" in config_report.validate(example, None)


# --- the verification period after the switch (docker.verification_period) --------------------

def test_verification_period_is_off_by_default_read_as_a_duration_and_a_bad_one_names_its_line(tmp_path) -> None:
    from retail_deploy import config_report

    _, env = load(tmp_path)
    assert dt.docker_settings(env).verification_period == 0.0  # development stays fast
    example = load_config(EXAMPLE_CONFIG, environ={})
    assert dt.docker_settings(example.environment("development")).verification_period == 0.0
    _, env = load(tmp_path, "{verification_period: 2m}")
    assert dt.docker_settings(env).verification_period == 120.0
    for bad in ("soon", "-5", "true"):
        cfg, env = load(tmp_path, f"{{verification_period: {bad}}}")
        with pytest.raises(ConfigError, match=r"platform.yaml:\d+: environments.development.docker"
                                              r".verification_period") as raised:
            config_report.validate(cfg, None)
        assert raised.value.exit_code == 2 and len(str(raised.value).splitlines()) == 1


def dry_deploy(tmp_path, monkeypatch, docker: str, *, prometheus: bool) -> list[str]:
    """`inv --dry deploy.development` through the seam, with no engine answering (the plan
    assumes no containers): the printed plan, line by line."""
    import io

    from invoke import Config, Context

    from retail_deploy.execute import Runner
    from retail_deploy.targets.policy import guarded

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    text = PLATFORM.replace("{DOCKER}", docker)
    if prometheus:
        text = text.replace("    target: docker\n", "    target: docker\n    prometheus_url: http://127.0.0.1:9\n")
    path = tmp_path / "platform.yaml"
    path.write_text(text)
    cfg = load_config(path, environ={})
    out = io.StringIO()
    runner = Runner(Context(Config(overrides={"run": {"dry": True}})), out=out)
    guarded(runner, cfg, cfg.environment("development")).deploy("1.0.1", services=["backend"])
    return out.getvalue().splitlines()


def test_dry_run_prints_the_verification_period_as_one_line_after_the_switch(tmp_path, monkeypatch) -> None:
    lines = dry_deploy(tmp_path, monkeypatch, "{verification_period: 45s}", prometheus=True)
    watch = "$ inv monitor.watch --env development --duration 45s"
    assert lines.count(watch) == 1
    # after the proxy sent the stable port's traffic to the new container, as the last action
    switch = next(i for i, line in enumerate(lines) if line.startswith("$ docker exec") and "add server svc_backend/" in line)
    assert lines.index(watch) > switch
    assert [line for line in lines if line.startswith("$ ")][-1] == watch
    # without Prometheus the period is health checks, said on one comment line
    lines = dry_deploy(tmp_path, monkeypatch, "{verification_period: 45s}", prometheus=False)
    assert [line for line in lines if "45s" in line] == ["# no Prometheus for development: health checks for 45s"]


def test_no_verification_period_means_no_watch_line(tmp_path, monkeypatch) -> None:
    lines = dry_deploy(tmp_path, monkeypatch, "{}", prometheus=True)
    assert any(line.startswith("$ docker run") for line in lines)
    assert not [line for line in lines if "monitor.watch" in line or "health checks for" in line]


def test_the_deploy_lock_outlasts_the_verification_period(tmp_path, monkeypatch) -> None:
    import io

    from invoke import Config, Context

    from retail_deploy.execute import Runner
    from retail_deploy.targets.docker import DockerTarget

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    runner = Runner(Context(Config(overrides={"run": {"dry": True}})), out=io.StringIO())
    for docker, ttl in (("{}", docker_target.LOCK_TTL), ("{verification_period: 10m}", docker_target.LOCK_TTL + 600)):
        _, env = load(tmp_path, docker)
        cfg = load_config(tmp_path / "platform.yaml", environ={})
        prepared = DockerTarget(runner, cfg, env).prepare_deploy("1.0.1", services=None, strategy=None,
                                                                  method=None, pull=True)
        assert prepared.ttl_s == ttl


def test_the_period_checks_a_service_without_a_url_on_its_stable_port(tmp_path, monkeypatch) -> None:
    from retail_deploy.health import verification

    path = tmp_path / "platform.yaml"
    path.write_text(PLATFORM.replace("{DOCKER}", "{verification_period: 30s}")
                    .replace('backend: "http://127.0.0.1:18080", ', ""))
    cfg = load_config(path, environ={})
    env = cfg.environment("development")
    settings = dt.docker_settings(env)
    watched: list[tuple[dict[str, str], float, str | None]] = []
    monkeypatch.setattr(verification, "verification_period",
                        lambda runner, cfg, env, seconds, prometheus: watched.append((dict(env.urls), seconds,
                                                                                      prometheus)))
    switched = [(dt.plan_target(cfg, env, cfg.services[name], "1.0.1", settings), "1.0.0")
                for name in ("backend", "consumer-web")]
    docker_target._verification_period(object(), cfg, env, settings, "1.0.1", switched)  # type: ignore[arg-type]
    assert watched == [({"backend": "http://127.0.0.1:8080", "consumer-web": "http://localhost:13000"}, 30.0, None)]


class _Inspected:
    """A container as the SDK holds it after `reload()`: only its inspect data is read."""

    def __init__(self, attrs: dict) -> None:
        self.attrs = attrs


def test_serving_facts_come_from_the_inspect_data_already_read() -> None:
    running = _Inspected({"Config": {"Image": "127.0.0.1:5000/retail-backend:1.4.2"},
                          "State": {"StartedAt": "2026-12-05T10:00:01.123456789Z", "Health": {"Status": "starting"}}})
    assert docker_target.serving_facts(running, True) == {  # type: ignore[arg-type]
        "image": "127.0.0.1:5000/retail-backend:1.4.2", "started": "2026-12-05T10:00:01Z", "ready": False}
    healthy = _Inspected({"Config": {"Image": "x:1"}, "State": {"StartedAt": "2026-12-05T10:00:01Z"}})
    assert docker_target.serving_facts(healthy, True)["ready"] is True  # type: ignore[arg-type]  # no health check
    stopped = _Inspected({"Config": {"Image": "x:1"}, "State": {"StartedAt": "0001-01-01T00:00:00Z"}})
    assert docker_target.serving_facts(stopped, False) == {"image": "x:1", "started": "", "ready": False}  # type: ignore[arg-type]
    assert docker_target.serving_facts(None, False) == {"image": "", "started": "", "ready": False}


def test_the_dry_run_plan_starts_the_proxy_then_switches_through_it(tmp_path, monkeypatch) -> None:
    lines = dry_deploy(tmp_path, monkeypatch, "{}", prometheus=False)
    shown = [line for line in lines if line.startswith("$ ")]
    proxy = next(i for i, line in enumerate(shown) if line.startswith("$ docker run -d --name retail-deploy-proxy-development"))
    candidate = next(i for i, line in enumerate(shown) if "--name retail-backend-development-candidate" in line)
    add = next(i for i, line in enumerate(shown) if "add server svc_backend/p" in line)
    assert proxy < candidate < add
    assert "-e 'HAPROXY_CONFIG=<the config>'" in shown[proxy] and "--restart unless-stopped" in shown[proxy]
    assert shown[add].startswith("$ docker exec retail-deploy-proxy-development sh -c ")
    assert any(line.endswith("docker rename retail-backend-development-candidate retail-backend-development")
               for line in shown)
