"""deploy.development end to end on the REAL Docker engine and registry (and over real SSH).

Each test copies the example platform to a temp dir (so a test can make a version unhealthy),
gives it free ports, unique image and container names, and the session registry, then drives
it through the CLI (exit codes) and the library, and checks what a user would see: the URLs.
The copies carry the outputs of the real Maven and npm build (the session's `example_build`,
made once per source state): a deploy here builds only the images, in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.monitoring_config import error_rate_only
from tests.services import free_port, remove_prefixed, unique_prefix

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "retail-platform"
SERVICES = ("backend", "consumer-web", "admin-web")

TASKS_FILE = """\
from invoke import Collection

from retail_deploy.tasks import health, lock, monitor, rollback
from retail_deploy.tasks.deploy_docker import development

ns = Collection()
deploy = Collection("deploy")
deploy.add_task(development)
ns.add_collection(deploy)
ns.add_collection(health.ns)
ns.add_collection(rollback.ns)
ns.add_collection(lock.ns)
ns.add_collection(monitor.ns)
"""


def get(url: str, timeout: float = 3.0) -> tuple[int | None, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()
    except OSError:
        return None, ""


@dataclass
class Platform:
    """A private copy of the example platform wired to the test's registry, ports and engine."""

    root: Path
    config: Path
    env: dict[str, str]
    prefix: str
    urls: dict[str, str]
    tasks_dir: Path
    client: object
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)

    def set_backend_health(self, state: str) -> None:
        (self.root / "backend" / "HEALTH").write_text(state + "\n")

    def inv(self, *args: str, dry: bool = False) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "invoke", "--search-root", str(self.tasks_dir)]
        argv += ["--dry"] if dry else []
        argv += [*args, "--config", str(self.config)]
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
        self.runs.append(done)
        return done

    def deploy(self, version: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.inv("deploy.development", "--version", version, *extra)

    def version(self) -> str | None:
        status, body = get(self.urls["backend"] + "/api/v1/version")
        return json.loads(body)["version"] if status == 200 else None

    def wait_version(self, timeout: float = 15.0) -> str | None:
        """The backend's version once it answers (None if it never does): a container just put
        back by a failed deploy is restarted, and the JVM needs a moment before it listens."""
        deadline = time.monotonic() + timeout
        while (version := self.version()) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        return version

    def load(self):  # the parsed config, with this platform's environment variables
        from retail_deploy.config import load_config

        return load_config(self.config, environ=self.env)

    def containers(self) -> list[str]:
        return sorted(c.name for c in self.client.containers.list(all=True, ignore_removed=True)  # type: ignore[attr-defined]
                      if c.name.startswith(self.prefix))


def make_platform(tmp_path: Path, docker_engine, registry, monkeypatch, example_build, *,
                  docker: dict | None = None, extra_env: dict[str, str] | None = None) -> Platform:
    root = tmp_path / "platform"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "dist", "node_modules"))
    example_build.install(root)
    prefix = unique_prefix()
    data = yaml.safe_load((EXAMPLE / "retail-platform.yaml").read_text())
    for service in data["services"].values():
        # Built once for the session (mvn, npm); the image build copies the outputs. backend/HEALTH
        # is read by the image, not the jar, so set_backend_health needs no Maven run either.
        service["build_steps"] = []
        service["deployment"] = service["image"]  # container names stay retail-<service>-<env>
        service["image"] = f"{prefix}{service['image']}"  # images of this test only
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in SERVICES}
    env = data["environments"]["development"]
    env["urls"] = urls
    env["docker"] = {"host": "local", "network": "host", "health_timeout": "6s", "name_prefix": prefix,
                     "candidate_port_offset": 3000, **(docker or {})}
    data["registry"]["host"] = registry.address
    config = root / "retail-platform.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    tasks_dir = tmp_path / "tasks"
    tasks_dir.mkdir()
    (tasks_dir / "tasks.py").write_text(TASKS_FILE)
    environ = {**os.environ, "PYTHONPATH": str(REPO), "REGISTRY_USERNAME": registry.username,
               "REGISTRY_PASSWORD": registry.password, **(extra_env or {})}
    environ.pop("RETAIL_DEPLOY_CONFIG", None)
    for key in ("REGISTRY_USERNAME", "REGISTRY_PASSWORD", *(extra_env or {})):
        monkeypatch.setenv(key, environ[key])
    return Platform(root, config, environ, prefix, urls, tasks_dir, docker_engine.client)


def remove_containers(platform: Platform) -> None:
    """Remove this test's containers, volumes and images (the engine is shared by the whole machine)."""
    remove_prefixed(platform.client, platform.prefix)


def serving_alone(platform: Platform) -> list[str]:
    """The containers of a platform that serves one release: one per service, and the proxy."""
    return sorted([f"{platform.prefix}retail-{n}-development" for n in SERVICES]
                  + [f"{platform.prefix}retail-deploy-proxy-development"])


def library_runner():
    import io

    from invoke import Config, Context

    from retail_deploy.execute import Runner

    out = io.StringIO()
    return Runner(Context(Config()), out=out), out


def assert_ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def test_deploy_builds_pushes_and_serves_every_endpoint_with_the_version(platform, registry) -> None:
    done = platform.deploy("1.0.0")
    assert_ok(done)
    backend = platform.urls["backend"]
    assert get(backend + "/api/v1/health") == (200, '{"status":"UP"}\n')
    assert platform.version() == "1.0.0"
    status, body = get(backend + "/actuator/health")
    assert (status, json.loads(body)) == (200, {"status": "UP", "components": {
        "mongo": {"status": "UP"}, "redis": {"status": "UP"}, "elasticsearch": {"status": "UP"}}})
    for path in ("/actuator/health/mongo", "/actuator/health/redis", "/actuator/health/elasticsearch"):
        status, body = get(backend + path)
        assert (status, json.loads(body)) == (200, {"status": "UP"}), path
    # The jar is the one `mvn clean package -DskipTests -Pprod` made: the prod profile is in it.
    assert json.loads(get(backend + "/api/v1/version")[1])["profile"] == "prod"
    # The front ends serve the bundles `npm run build` made (index.html pointing at a hashed script).
    for name, title in (("consumer-web", "Retail shop"), ("admin-web", "Retail admin")):
        status, body = get(platform.urls[name] + "/")
        assert status == 200 and f"<title>{title}</title>" in body
        script = body.split('src="', 1)[1].split('"', 1)[0]
        assert script.startswith("/assets/index-") and get(platform.urls[name] + script)[0] == 200
    # The images went through the registry, and the report says where each service answers.
    assert registry.tags(f"{platform.prefix}retail-backend") == ["1.0.0"]
    for name in SERVICES:
        assert platform.urls[name] in done.stdout
    # State is read back from the engine's labels alone.
    from retail_deploy.docker import target as docker_target

    cfg = platform.load()
    runner, _ = library_runner()
    assert docker_target.current_versions(runner, cfg, cfg.environment("development")) == {
        name: "1.0.0" for name in SERVICES}
    assert platform.containers() == serving_alone(platform)
    # The Health chapter's tasks work on the development environment too.
    assert_ok(platform.inv("health.check", "--env", "development"))
    assert_ok(platform.inv("health.deps", "--env", "development", "--via", "direct"))


def running_ids(platform: Platform) -> dict[str, str]:
    return {c.name: c.id for c in platform.client.containers.list(ignore_removed=True)  # type: ignore[attr-defined]
            if c.name.startswith(platform.prefix)}


def test_unhealthy_version_is_removed_the_old_one_keeps_serving_and_exit_code_is_3(platform) -> None:
    assert_ok(platform.deploy("1.0.0"))
    before = running_ids(platform)
    platform.set_backend_health("DOWN")
    answers: list[int | None] = []
    stop = threading.Event()

    def watch() -> None:  # the old version must answer through the whole failed deploy
        while not stop.is_set():
            answers.append(get(platform.urls["backend"] + "/api/v1/health", timeout=1)[0])
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        done = platform.deploy("1.0.1")
    finally:
        stop.set()
        watcher.join()
    assert done.returncode == 3, done.stderr
    assert "backend 1.0.1 failed its health check" in done.stderr
    assert "503" in done.stderr and "1.0.0 keeps serving" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert answers and set(answers) == {200}
    assert platform.version() == "1.0.0"
    # The new containers are gone; no service was switched, not even the healthy front ends.
    assert platform.containers() == serving_alone(platform)
    assert running_ids(platform) == before
    from retail_deploy.docker import target as docker_target

    cfg = platform.load()
    runner, _ = library_runner()
    assert set(docker_target.current_versions(runner, cfg, cfg.environment("development")).values()) == {"1.0.0"}


def test_undo_after_a_good_deploy_brings_the_previous_version_back(platform) -> None:
    from retail_deploy.docker import target as docker_target

    assert_ok(platform.deploy("1.0.0"))
    assert_ok(platform.deploy("1.0.1"))
    assert platform.version() == "1.0.1"
    cfg = platform.load()
    env = cfg.environment("development")
    runner, out = library_runner()
    report = docker_target.undo(runner, cfg, env)
    assert [(s.service, s.version, s.previous) for s in report.services] == [
        (name, "1.0.0", "1.0.1") for name in SERVICES]
    assert platform.version() == "1.0.0"
    for name in ("consumer-web", "admin-web"):
        assert get(platform.urls[name] + "/")[0] == 200
    assert docker_target.current_versions(runner, cfg, env) == {name: "1.0.0" for name in SERVICES}
    # 1.0.1 is kept in turn, so a second undo goes forward again; verify checks what serves.
    docker_target.undo(runner, cfg, env, service="backend")
    assert platform.version() == "1.0.1"
    report = docker_target.verify(runner, cfg, env)
    assert {s.service: s.version for s in report.services} == {
        "backend": "1.0.1", "consumer-web": "1.0.0", "admin-web": "1.0.0"}
    from retail_deploy.errors import OperationFailed

    with pytest.raises(OperationFailed, match="backend: wrong-version"):
        docker_target.verify(runner, cfg, env, version="1.0.0")


def test_redeploying_the_running_version_changes_nothing(platform) -> None:
    assert_ok(platform.deploy("1.0.0"))
    before = running_ids(platform)
    done = platform.deploy("1.0.0", "--no-build")
    assert_ok(done)
    assert "unchanged" in done.stdout
    assert running_ids(platform) == before


def test_dry_run_prints_runnable_docker_commands_and_starts_nothing(platform) -> None:
    done = platform.inv("deploy.development", "--version", "2.0.0", "--no-build", dry=True)
    assert_ok(done)
    lines = done.stdout.splitlines()
    assert f"$ docker pull {platform.load().registry.host}/{platform.prefix}retail-backend:2.0.0" in lines
    assert any(line.startswith(f"$ docker run -d --name {platform.prefix}retail-backend-development-candidate "
                               "--network host ") for line in lines)
    candidates = " ".join(f"{platform.prefix}retail-{n}-development-candidate" for n in SERVICES)
    assert f"$ docker inspect --format '{{{{json .State.Health}}}}' {candidates}" in lines
    assert any(line.startswith("# wait up to 6s for ") for line in lines)
    assert platform.containers() == []
    assert platform.env["REGISTRY_PASSWORD"] not in done.stdout + done.stderr


def test_a_version_missing_from_the_registry_fails_before_touching_anything(platform) -> None:
    assert_ok(platform.deploy("1.0.0"))
    done = platform.deploy("9.9.9", "--no-build")
    assert done.returncode == 1
    assert "cannot pull" in done.stderr and "9.9.9" in done.stderr
    assert platform.version() == "1.0.0"


@pytest.fixture
def remote_platform(tmp_path, docker_engine, registry, sshd_server, monkeypatch, example_build):
    # The engine is reached as a remote host would be: ssh://root@127.0.0.1:PORT, through the
    # `ssh` binary (infra's wrapper carries the key and known_hosts), docker system dial-stdio there.
    path = f"{sshd_server.bin_dir}:{os.environ.get('PATH', '')}"
    made = make_platform(tmp_path, docker_engine, registry, monkeypatch, example_build,
                         docker={"host": sshd_server.url, "use_ssh_client": True},
                         extra_env={"PATH": path})
    yield made
    remove_containers(made)


def test_remote_engine_over_ssh_deploys_keeps_old_on_failure_and_undoes(remote_platform) -> None:
    from retail_deploy.docker import target as docker_target

    platform = remote_platform
    done = platform.deploy("1.0.0")
    assert_ok(done)
    assert "ssh://root@127.0.0.1" in done.stdout  # the report names the engine
    assert platform.version() == "1.0.0"
    platform.set_backend_health("DOWN")
    done = platform.deploy("1.0.1")
    assert done.returncode == 3, done.stderr
    assert platform.version() == "1.0.0"
    platform.set_backend_health("UP")
    assert_ok(platform.deploy("1.0.1"))
    assert platform.version() == "1.0.1"
    cfg = platform.load()
    runner, _ = library_runner()
    docker_target.undo(runner, cfg, cfg.environment("development"))
    assert platform.version() == "1.0.0"
    assert docker_target.current_versions(runner, cfg, cfg.environment("development")) == {
        name: "1.0.0" for name in SERVICES}


def test_remote_engine_with_the_built_in_ssh_client_and_a_configured_key(tmp_path, docker_engine, registry,
                                                                         sshd_server, monkeypatch,
                                                                         example_build) -> None:
    # docker.ssh_key through paramiko; the host key must be known (~/.ssh/known_hosts of $HOME).
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    made = make_platform(tmp_path, docker_engine, registry, monkeypatch, example_build,
                         docker={"host": sshd_server.url, "ssh_key": sshd_server.key_filename},
                         extra_env={"HOME": str(home)})
    try:
        done = made.deploy("1.0.0", "--no-build")
        assert done.returncode == 1
        assert "not found in known_hosts" in done.stderr and "ssh-keyscan" in done.stderr
        shutil.copy(sshd_server.known_hosts, home / ".ssh" / "known_hosts")
        done = made.deploy("1.0.0")
        assert_ok(done)
        assert f"on development ({sshd_server.url})" in done.stdout
        assert made.version() == "1.0.0"
    finally:
        remove_containers(made)


def test_a_failure_after_the_switch_puts_every_service_back(platform, monkeypatch) -> None:
    from retail_deploy.docker import deploy as docker_deploy
    from retail_deploy.docker import target as docker_target
    from retail_deploy.errors import RolledBack

    assert_ok(platform.deploy("1.0.1"))  # built and pushed; the release that serves is 1.0.0:
    assert_ok(platform.deploy("1.0.0"))
    # admin-web 1.0.1 passes its checks and takes the traffic, then crashes (killed for real, as
    # an OOM kill would): the check after the switch sees it, and the whole release goes back.
    switch = docker_deploy.switch

    def switch_then_crash(deployer, proxy, target, current) -> None:
        switch(deployer, proxy, target, current)
        if target.service == "admin-web":
            platform.client.containers.get(target.name).kill()  # type: ignore[attr-defined]

    monkeypatch.setattr(docker_deploy, "switch", switch_then_crash)
    cfg = platform.load()
    env = cfg.environment("development")
    runner, out = library_runner()
    with pytest.raises(RolledBack, match="admin-web 1.0.1 failed its health check after the switch") as failed:
        docker_target.deploy(runner, cfg, env, "1.0.1", pull=True)
    assert "put back" in str(failed.value) and "exited" in str(failed.value)
    assert platform.wait_version() == "1.0.0"  # backend 1.0.1 was switched, then put back
    states = docker_target.state_of(runner, cfg, env)
    assert {name: state["current"] for name, state in states.items()} == {name: "1.0.0" for name in SERVICES}
    assert all(state["running"] for state in states.values())
    assert {name: state["serving"] for name, state in states.items()} == {
        name: f"{platform.prefix}retail-{name}-development" for name in SERVICES}
    assert get(platform.urls["admin-web"] + "/")[0] == 200


def test_another_deploy_holding_the_environment_lock_means_exit_4_and_no_change(platform, docker_engine) -> None:
    import time as clock

    from retail_deploy.docker import target as dt

    assert_ok(platform.deploy("1.0.0"))
    before = running_ids(platform)
    name = f"{platform.prefix}retail-deploy-lock-development"
    image = f"{platform.load().registry.host}/{platform.prefix}retail-backend:1.0.0"
    held = platform.client.containers.create(  # type: ignore[attr-defined]
        image, command=["true"], name=name, network_mode="none",
        labels={dt.LABEL_LOCK_HOLDER: "alice@laptop", dt.LABEL_LOCK_ACTION: "deploy 2.0.0",
                dt.LABEL_LOCK_EXPIRES: str(int(clock.time() + 600))})
    done = platform.deploy("1.0.1")
    assert done.returncode == 4, done.stderr
    assert "alice@laptop holds the development lock" in done.stderr and f"docker rm {name}" in done.stderr
    assert running_ids(platform) == before and platform.version() == "1.0.0"
    held.remove(force=True)
    # An expired lock (its holder died) is taken over; ours is released at the end.
    platform.client.containers.create(  # type: ignore[attr-defined]
        image, command=["true"], name=name, network_mode="none",
        labels={dt.LABEL_LOCK_HOLDER: "bob@ci", dt.LABEL_LOCK_EXPIRES: str(int(clock.time() - 1))})
    done = platform.deploy("1.0.1", "--no-build")
    assert_ok(done)
    assert "taking over the expired lock of bob@ci" in done.stdout
    assert platform.version() == "1.0.1"
    assert name not in platform.containers()


# --- the deploy seam on the Docker target: rollback by release, history, lock, notifications ----

def test_undo_restores_the_previous_release_checks_it_over_http_and_records_it(platform, webhook_receiver) -> None:
    platform.env["SLACK_WEBHOOK_URL"] = webhook_receiver.hook_url
    assert_ok(platform.deploy("1.0.0"))
    assert_ok(platform.deploy("1.0.1"))
    assert platform.version() == "1.0.1"
    done = platform.inv("rollback.undo", "--env", "development")
    assert_ok(done)
    assert platform.version() == "1.0.0"
    assert f"backend answers 1.0.0 at {platform.urls['backend']}/api/v1/version" in done.stdout
    assert "now serving backend 1.0.0, consumer-web 1.0.0, admin-web 1.0.0" in done.stdout
    for name in ("consumer-web", "admin-web"):
        assert get(platform.urls[name] + "/")[0] == 200
    # The audit history lives on the engine, with the release of every record.
    from retail_deploy.docker import target as docker_target

    cfg = platform.load()
    runner, _ = library_runner()
    records = docker_target.read_history(runner, cfg.environment("development"))
    assert [(r["action"], r["result"], r["version"]) for r in records] == [
        ("deploy", "succeeded", "1.0.0"), ("deploy", "succeeded", "1.0.1"), ("rollback-undo", "succeeded", "1.0.0")]
    assert records[0]["release"]["backend"]["before"] == "" and records[0]["release"]["backend"]["after"] == "1.0.0"
    assert records[2]["release"]["admin-web"] == {"before": "1.0.1", "after": "1.0.0", "colour_before": "",
                                                  "colour_after": ""}
    shown = platform.inv("rollback.history", "--env", "development")
    assert_ok(shown)
    assert "backend 1.0.0->1.0.1" in shown.stdout and "backend 1.0.1->1.0.0" in shown.stdout
    assert "rollback-undo" in shown.stdout
    # Deploys and the rollback were announced, as on Kubernetes.
    texts = [json.dumps(r.json) for r in webhook_receiver.wait_for(3)]
    assert any("development: deployed version 1.0.1" in t for t in texts)
    assert any("rollback" in t.lower() and "development" in t for t in texts)
    assert webhook_receiver.hook_url not in done.stdout + done.stderr


def test_a_failed_deploy_is_recorded_with_the_release_it_left_serving(platform) -> None:
    assert_ok(platform.deploy("1.0.0"))
    platform.set_backend_health("DOWN")
    assert platform.deploy("1.0.1").returncode == 3
    from retail_deploy.docker import target as docker_target

    cfg = platform.load()
    runner, _ = library_runner()
    last = docker_target.read_history(runner, cfg.environment("development"))[-1]
    assert last["result"] == "rolled-back" and last["version"] == "1.0.1"
    assert "failed its health check" in last["reason"]
    assert {name: (c["before"], c["after"]) for name, c in last["release"].items()} == {
        name: ("1.0.0", "1.0.0") for name in SERVICES}


def test_lock_status_and_release_work_on_a_docker_environment(platform) -> None:
    import time as clock

    from retail_deploy.docker import target as dt

    assert_ok(platform.deploy("1.0.0"))
    free = platform.inv("lock.status", "--env", "development")
    assert_ok(free)
    assert "development: not locked" in free.stdout
    name = f"{platform.prefix}retail-deploy-lock-development"
    image = f"{platform.load().registry.host}/{platform.prefix}retail-backend:1.0.0"
    platform.client.containers.create(  # type: ignore[attr-defined]
        image, command=["true"], name=name, network_mode="none",
        labels={dt.LABEL_LOCK_HOLDER: "alice@laptop", dt.LABEL_LOCK_ACTION: "deploy",
                dt.LABEL_LOCK_VERSION: "2.0.0", dt.LABEL_LOCK_EXPIRES: str(int(clock.time() + 600))})
    held = platform.inv("lock.status", "--env", "development")
    assert_ok(held)
    assert "development: held by alice@laptop (version 2.0.0" in held.stdout
    assert platform.inv("rollback.undo", "--env", "development").returncode == 4  # rollbacks lock too
    released = platform.inv("lock.release", "--env", "development", "--yes")
    assert_ok(released)
    assert "released the lock of alice@laptop" in released.stdout
    assert name not in platform.containers()



def test_a_new_team_docker_environment_rolls_back_automatically(tmp_path, docker_engine, registry, monkeypatch,
                                                                example_build, metrics_exporter,
                                                                prometheus_factory) -> None:
    # Before, `monitor.watch --env dev --rollback` saw the breach, then exited 2 asking for a
    # kube_context and rolled nothing back: automatic rollback only knew Kubernetes.
    made = make_platform(tmp_path, docker_engine, registry, monkeypatch, example_build)
    try:
        for old, new in (("backend", "catalog"), ("consumer-web", "checkout")):
            shutil.copytree(made.root / old, made.root / new)
        data = yaml.safe_load(made.config.read_text())
        services = data["services"]
        data["platform"] = "new-team"
        data["services"] = {
            "catalog": {**services["backend"], "source_dir": "catalog", "image": f"{made.prefix}catalog",
                        "deployment": "catalog"},
            "checkout": {**services["consumer-web"], "source_dir": "checkout", "image": f"{made.prefix}checkout",
                         "deployment": "checkout"},
        }
        data["services"]["catalog"].pop("dependencies", None)
        urls = {"catalog": made.urls["backend"], "checkout": made.urls["consumer-web"]}
        dev = dict(data["environments"]["development"], urls=urls)
        data["environments"] = {"dev": dev}
        metrics_exporter.set_rate("http_server_requests_total", {"status": "200"}, 80)
        metrics_exporter.set_rate("http_server_requests_total", {"status": "500"}, 20)  # 20% errors
        prometheus = prometheus_factory([metrics_exporter.target], scrape_interval="1s", job_name="catalog")
        dev["prometheus_url"] = prometheus.url
        team = made.root / "team.yaml"
        team.write_text(yaml.safe_dump(data, sort_keys=False) + error_rate_only())
        made.config = team
        assert_ok(made.inv("deploy.development", "--env", "dev", "--version", "1.0.0"))
        assert_ok(made.inv("deploy.development", "--env", "dev", "--version", "1.1.0"))
        assert json.loads(get(urls["catalog"] + "/api/v1/version")[1])["version"] == "1.1.0"
        done = made.inv("monitor.watch", "--env", "dev", "--duration", "60s", "--rollback")
        assert done.returncode == 3, done.stdout + done.stderr
        assert "Error rate" in done.stdout + done.stderr
        assert json.loads(get(urls["catalog"] + "/api/v1/version")[1])["version"] == "1.0.0"
        assert get(urls["checkout"] + "/")[0] == 200
        from retail_deploy.config import load_config
        from retail_deploy.docker import target as docker_target

        cfg = load_config(team, environ=made.env)
        runner, _ = library_runner()
        env = cfg.environment("dev")
        assert docker_target.current_versions(runner, cfg, env) == {"catalog": "1.0.0", "checkout": "1.0.0"}
        last = docker_target.read_history(runner, env)[-1]
        assert last["action"] == "rollback-automatic" and last["result"] == "succeeded"
        assert "Error rate" in last["reason"]
        assert last["release"]["catalog"]["before"] == "1.1.0" and last["release"]["catalog"]["after"] == "1.0.0"
        assert not [c for c in made.containers() if "retail-deploy-lock" in c]  # released
    finally:
        remove_containers(made)
