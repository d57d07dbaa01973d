"""Build chapter against a REAL Docker engine and a REAL registry with htpasswd auth (127.0.0.1)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from invoke import Collection, Context, Program

from retail_deploy.build import images
from retail_deploy.build.service import BuildFailed, build_services, push_services
from retail_deploy.config import load_config
from retail_deploy.errors import OperationFailed
from retail_deploy.execute import Runner
from retail_deploy.tasks import build as build_tasks
from tests.services import remove_images, unavailable

# Builds, pushes and containers that print and exit: nothing listens on a host port.
pytestmark = [pytest.mark.integration, pytest.mark.docker_no_host_ports]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "build"


@pytest.fixture
def version() -> str:
    return "it-" + uuid.uuid4().hex[:10]


@pytest.fixture
def platform(tmp_path, registry, docker_engine, monkeypatch, version):
    """A private copy of the test platform pointing at the real registry; its images removed after."""
    root = tmp_path / "platform"
    shutil.copytree(FIXTURES, root)
    monkeypatch.setenv("BUILD_TEST_REGISTRY", registry.address)
    monkeypatch.setenv("BUILD_TEST_USER", registry.username)
    monkeypatch.setenv("BUILD_TEST_PASSWORD", registry.password)
    monkeypatch.setenv("DOCKER_HOST", docker_engine.base_url)
    yield root
    remove_images(docker_engine.client, lambda tag: tag.endswith(f":{version}"))  # this test's only


def run_build(root: Path, names, version, *, push=True, out=None):
    cfg = load_config(root / "platform.yaml")
    out = out or io.StringIO()
    runner = Runner(Context(), out=out)
    return build_services(cfg, [cfg.services[n] for n in names], version, push=push, runner=runner, out=out)


def test_build_push_and_pull_back_by_digest_with_the_input_label(platform, registry, docker_engine, version):
    out = io.StringIO()
    report = run_build(platform, ["alpha", "beta"], version, out=out)
    assert [r.result for r in report.results] == ["pushed", "pushed"]
    assert set(report.digests) == {"alpha", "beta"}
    assert registry.tags("bt-alpha").count(version) == 1 and version in registry.tags("bt-beta")
    text = out.getvalue()
    assert "[alpha] Step 1/" in text and "[beta] Step 1/" in text  # streamed, prefixed build output
    assert f"[alpha] $ docker push {registry.address}/bt-alpha:{version}" in text
    assert report.digests["alpha"] in text.split("service  ")[-1]  # digest in the summary table
    assert registry.password not in text

    client = docker_engine.client
    local_label = images.image_labels(client, f"bt-alpha:{version}")[images.INPUT_DIGEST_LABEL]
    remove_images(client, lambda tag: tag.endswith(f"bt-alpha:{version}"))  # local copies only
    pulled = client.images.pull(f"{registry.address}/bt-alpha@{report.digests['alpha']}",
                                auth_config=registry.auth_config)
    assert pulled.labels[images.INPUT_DIGEST_LABEL] == local_label
    assert local_label.startswith("sha256:")
    # the build step ran in the service's directory and its output is in the image
    logs = client.containers.run(pulled.id, ["cat", "/srv/dist/app.copy"], remove=True, network_mode="host")
    assert logs.decode().strip() == "alpha service"


def test_unchanged_rebuild_builds_nothing_and_push_uploads_nothing(platform, docker_engine, version):
    first = run_build(platform, ["alpha", "beta"], version)
    image_before = docker_engine.client.images.get(f"bt-beta:{version}").id
    out = io.StringIO()
    second = run_build(platform, ["alpha", "beta"], version, out=out)
    assert [r.result for r in second.results] == ["pushed", "pushed"]
    assert all(r.uploaded_layers == 0 for r in second.results)
    assert second.digests == first.digests
    assert docker_engine.client.images.get(f"bt-beta:{version}").id == image_before
    text = out.getvalue()
    assert "Step 1/" not in text and "$ env -C" not in text  # no docker build, no build step
    assert text.count("nothing built") == 2
    assert text.count("nothing uploaded") == 2

    (platform / "beta" / "page.html").write_text("<h1>beta v2</h1>")
    third = run_build(platform, ["beta"], version, push=False)
    assert third.results[0].result == "built"
    assert docker_engine.client.images.get(f"bt-beta:{version}").id != image_before


def test_wrong_password_fails_clearly_and_builds_nothing(platform, registry, docker_engine, monkeypatch, version):
    monkeypatch.setenv("BUILD_TEST_PASSWORD", "not-the-password")
    with pytest.raises(OperationFailed) as caught:
        run_build(platform, ["alpha"], version)
    message = str(caught.value)
    assert message.startswith(f"cannot push alpha: registry {registry.address} rejected the credentials")
    assert message.endswith("nothing was built or pushed")
    assert "not-the-password" not in message
    assert images.image_labels(docker_engine.client, f"bt-alpha:{version}") is None
    assert version not in registry.tags("bt-alpha")


def test_stopped_registry_fails_clearly(platform, registry_factory, monkeypatch, docker_engine, version):
    down = registry_factory()
    monkeypatch.setenv("BUILD_TEST_REGISTRY", down.address)
    monkeypatch.setenv("BUILD_TEST_USER", down.username)
    monkeypatch.setenv("BUILD_TEST_PASSWORD", down.password)
    down.stop()
    with pytest.raises(OperationFailed, match=f"^cannot push alpha: registry {down.address} is unreachable"):
        run_build(platform, ["alpha"], version)
    assert images.image_labels(docker_engine.client, f"bt-alpha:{version}") is None


def test_broken_dockerfile_stops_build_all_and_pushes_nothing(platform, registry, version):
    with pytest.raises(BuildFailed) as caught:
        run_build(platform, ["alpha", "beta", "broken"], version)
    report = caught.value.report
    results = {r.service: r.result for r in report.results}
    assert results["broken"] == "failed"
    assert set(results.values()) <= {"failed", "stopped", "built"}
    assert "broken" in str(caught.value) and "nothing was pushed" in str(caught.value)
    assert "COPY failed" in str(caught.value)
    for repository in ("bt-alpha", "bt-beta", "bt-broken"):
        assert version not in registry.tags(repository)


def test_cli_exit_code_and_one_line_error(platform, registry, capsys, monkeypatch, version):
    monkeypatch.chdir(platform)
    program = Program(namespace=Collection(build_tasks.ns), name="inv", binary="inv")
    with pytest.raises(SystemExit) as done:
        program.run(["inv", "build.all", "--version", version, "--push", "--config", "platform.yaml"])
    assert done.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: build of broken failed")
    # success: no SystemExit at all
    program.run(["inv", "build.all", "--version", version, "--push", "--services", "alpha,beta",
                 "--config", "platform.yaml"])
    assert version in registry.tags("bt-alpha")


def test_build_push_pushes_built_images_and_refuses_missing_ones(platform, registry, version):
    run_build(platform, ["alpha"], version, push=False)
    assert version not in registry.tags("bt-alpha")
    cfg = load_config(platform / "platform.yaml")
    out = io.StringIO()
    runner = Runner(Context(), out=out)
    with pytest.raises(OperationFailed, match=f"no local image for beta \\(bt-beta:{version}\\)"):
        push_services(cfg, [cfg.services["alpha"], cfg.services["beta"]], version, runner=runner, out=out)
    assert version not in registry.tags("bt-alpha")
    report = push_services(cfg, [cfg.services["alpha"]], version, runner=runner, out=out)
    assert report.digests["alpha"].startswith("sha256:")
    assert version in registry.tags("bt-alpha")


REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "retail-platform"
CLONE_IGNORE = shutil.ignore_patterns(".git", ".venv", "target", "dist", "node_modules", "__pycache__", "*.egg-info",
                                      ".mypy_cache", ".ruff_cache", ".pytest_cache")


def plain_env() -> dict[str, str]:
    """The environment of someone who just cloned the repository: none of our variables set."""
    return {k: v for k, v in os.environ.items()
            if k not in {"RETAIL_PLATFORM_ROOT", "RETAIL_DEPLOY_CONFIG", "PYTHONPATH"}}


def test_the_default_config_plans_the_example_build_from_the_repository_root():
    """`inv --dry build.all --version 1.0.0` from the root of a clone, no variable set: the default
    config finds the example platform's sources (source_root in config/retail-platform.yaml)."""
    done = subprocess.run([sys.executable, "-m", "retail_deploy", "--dry", "build.all", "--version", "1.0.0"],
                          cwd=REPO, env=plain_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name in ("backend", "consumer-web", "admin-web"):
        assert f"$ docker build -t retail-{name}:1.0.0 " in done.stdout
        assert f" examples/retail-platform/{name}\n" in done.stdout
    assert "$ env -C examples/retail-platform/backend " in done.stdout


def test_build_and_push_the_example_platform(tmp_path, registry, docker_engine, jre_image, monkeypatch, version):
    """The one test that runs the example's build steps (mvn, npm) for real, the way a new user does:
    `build.all --version V` from the root of a plain copy of the repository with no variable set
    (the default config). Then the example config pushes those images and they come back by digest.
    The other tests reuse the session's cached build (tests/services.py example_build)."""
    if not (EXAMPLES / "backend" / "Dockerfile").exists():
        unavailable("examples/retail-platform (devtarget chapter) is not in this tree")
    clone = tmp_path / "clone"
    shutil.copytree(REPO, clone, ignore=CLONE_IGNORE)
    env = {**plain_env(), "PYTHONPATH": str(clone)}  # this copy's package and default config
    try:
        built = subprocess.run([sys.executable, "-m", "retail_deploy", "build.all", "--version", version],
                               cwd=clone, env=env, capture_output=True, text=True, timeout=900)
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        monkeypatch.setenv("RETAIL_REGISTRY", registry.address)
        monkeypatch.setenv("REGISTRY_USERNAME", registry.username)
        monkeypatch.setenv("REGISTRY_PASSWORD", registry.password)
        cfg = load_config(clone / "examples" / "retail-platform" / "retail-platform.yaml")
        out = io.StringIO()
        report = push_services(cfg, list(cfg.services.values()), version, runner=Runner(Context(), out=out), out=out)
        client = docker_engine.client
        assert set(report.digests) == set(cfg.services)
        for name, digest in report.digests.items():
            image = cfg.services[name].image
            assert version in registry.tags(image)
            local = images.image_labels(client, f"{image}:{version}")
            pulled = client.images.pull(f"{registry.address}/{image}@{digest}", auth_config=registry.auth_config)
            assert local and pulled.labels[images.INPUT_DIGEST_LABEL] == local[images.INPUT_DIGEST_LABEL]
        # `mvn clean package -DskipTests -Pprod` made the jar in the image (the prod profile is in it),
        # and `npm run build` the bundle the front ends serve.
        properties = client.containers.run(f"{registry.address}/retail-backend:{version}",
                                           ["unzip", "-p", "/app/retail-backend.jar", "retail-backend.properties"],
                                           remove=True, network_mode="host")
        assert b"profile=prod" in properties
        assets = client.containers.run(f"{registry.address}/retail-consumer-web:{version}", ["ls", "/www/assets"],
                                       remove=True, network_mode="host")
        assert assets.decode().startswith("index-") and b".js" in assets
    finally:
        remove_images(docker_engine.client, lambda tag: tag.endswith(f":{version}"))
