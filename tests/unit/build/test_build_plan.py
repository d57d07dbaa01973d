"""The build plan: `--dry` prints the runbook's commands; bad input stops before anything runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from invoke import Collection, Program

from retail_deploy.build.service import BuildReport, ServiceResult
from retail_deploy.tasks import build as build_tasks

RUNBOOK_CONFIG = """\
version: 1
platform: retail-agentic
registry: {host: registry.example.com}
services:
  backend:
    image: retail-backend
    source_dir: backend
    build_steps:
      - {name: test, run: [mvn, clean, test], tests: true}
      - {name: package, run: [mvn, clean, package, -DskipTests, -Pprod]}
  consumer-web:
    image: retail-consumer-web
    source_dir: consumer-web
    build_steps:
      - {name: install, run: [npm, ci]}
      - {name: test, run: [npm, test, --, --run], tests: true}
      - {name: build, run: [npm, run, build]}
environments:
  staging: {target: kubernetes}
"""


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("backend", "consumer-web"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM busybox:1.36\n")
    (tmp_path / "platform.yaml").write_text(RUNBOOK_CONFIG)
    monkeypatch.chdir(tmp_path)  # paths in the plan are shown relative to the working directory
    return tmp_path / "platform.yaml"


def inv(*argv: str) -> int:
    program = Program(namespace=Collection(build_tasks.ns), name="inv", binary="inv")
    try:
        program.run(["inv", *argv], exit=True)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def commands(text: str) -> list[str]:
    return [line[2:] for line in text.splitlines() if line.startswith("$ ")]


def test_dry_build_all_prints_the_runbooks_commands(platform, capsys):
    assert inv("--dry", "build.all", "--version", "1.4.2", "--push", "--config", str(platform)) == 0
    out = capsys.readouterr().out
    lines = commands(out)
    digest_label = "--label org.retail-deploy.input-digest=sha256:"
    assert lines[0:2] == ["env -C backend mvn clean test", "env -C backend mvn clean package -DskipTests -Pprod"]
    # the version reaches the Dockerfile as a build argument and the image as a label
    assert lines[2].startswith("docker build -t retail-backend:1.4.2 --build-arg APP_VERSION=1.4.2 "
                               "--label org.opencontainers.image.version=1.4.2 " + digest_label)
    assert lines[2].endswith(" backend")
    assert lines[3:5] == ["docker tag retail-backend:1.4.2 registry.example.com/retail-backend:1.4.2",
                          "docker push registry.example.com/retail-backend:1.4.2"]
    assert lines[5:8] == ["env -C consumer-web npm ci", "env -C consumer-web npm test -- --run",
                          "env -C consumer-web npm run build"]
    assert lines[8].startswith("docker build -t retail-consumer-web:1.4.2 ")
    assert lines[9:] == [
        "docker tag retail-consumer-web:1.4.2 registry.example.com/retail-consumer-web:1.4.2",
        "docker push registry.example.com/retail-consumer-web:1.4.2"]
    # every other line is a comment: the plan is a shell script
    assert all(line.startswith(("$ ", "# ")) for line in out.splitlines() if line)


def test_dry_single_service_without_push_and_skip_tests(platform, capsys):
    assert inv("--dry", "build.backend", "--version", "2.0.0", "--skip-tests", "--config", str(platform)) == 0
    lines = commands(capsys.readouterr().out)
    assert lines[0] == "env -C backend mvn clean package -DskipTests -Pprod"
    assert not any("mvn clean test" in line for line in lines)
    assert not any(line.startswith("docker push") for line in lines)
    assert lines[-1] == "docker tag retail-backend:2.0.0 registry.example.com/retail-backend:2.0.0"


def test_dry_run_refuses_missing_sources_as_the_real_run_does(platform, capsys):
    # The dry run accepts and refuses exactly what the real run does (issue 16).
    (platform.parent / "backend" / "Dockerfile").unlink()
    assert inv("--dry", "build.backend", "--version", "1.0", "--config", str(platform)) == 2
    dry = capsys.readouterr()
    assert inv("build.backend", "--version", "1.0", "--config", str(platform)) == 2
    real = capsys.readouterr()
    assert dry.err == real.err and "backend: no Dockerfile at" in dry.err
    assert "$ " not in dry.out


def test_missing_dockerfile_is_bad_input_naming_the_service(platform, capsys):
    (platform.parent / "consumer-web" / "Dockerfile").unlink()
    assert inv("build.all", "--version", "1.0", "--config", str(platform)) == 2
    captured = capsys.readouterr()
    assert "consumer-web: no Dockerfile at" in captured.err
    assert "$ " not in captured.out  # nothing ran


def test_missing_source_dir_is_bad_input(platform, capsys):
    (platform.parent / "backend" / "Dockerfile").unlink()
    (platform.parent / "backend").rmdir()
    assert inv("build.backend", "--version", "1.0", "--config", str(platform)) == 2
    assert "backend: source directory" in capsys.readouterr().err


@pytest.mark.parametrize("version", ["", "-1.0", "1.0 ; rm -rf /", "a" * 129, "1.0/evil"])
def test_invalid_version_is_refused(platform, capsys, version):
    assert inv("build.all", "--version", version, "--config", str(platform)) == 2
    assert "version" in capsys.readouterr().err


def test_unknown_service_is_refused(platform, capsys):
    assert inv("build.all", "--version", "1.0", "--services", "backend,nope", "--config", str(platform)) == 2
    assert "nope" in capsys.readouterr().err


def test_summary_table_names_failures():
    report = BuildReport("1.0", [
        ServiceResult("backend", "pushed", 3.21, "reg/retail-backend:1.0", "sha256:abc"),
        ServiceResult("admin-web", "failed", 0.5, "reg/retail-admin-web:1.0", detail="COPY failed"),
        ServiceResult("consumer-web", "stopped", 0.4, "reg/retail-consumer-web:1.0",
                      detail="stopped because another service failed"),
    ])
    assert not report.ok
    assert report.digests == {"backend": "sha256:abc"}
    assert report.table() == textwrap.dedent("""\
        service       result   duration  image                        digest
        backend       pushed   3.2s      reg/retail-backend:1.0       sha256:abc
        admin-web     failed   0.5s      reg/retail-admin-web:1.0     -
        consumer-web  stopped  0.4s      reg/retail-consumer-web:1.0  -
        admin-web: COPY failed
        consumer-web: stopped because another service failed""")


def test_dry_build_push_prints_tag_and_push_for_each_service(platform, capsys):
    assert inv("--dry", "build.push", "--version", "1.4.2", "--config", str(platform)) == 0
    assert commands(capsys.readouterr().out) == [
        "docker tag retail-backend:1.4.2 registry.example.com/retail-backend:1.4.2",
        "docker push registry.example.com/retail-backend:1.4.2",
        "docker tag retail-consumer-web:1.4.2 registry.example.com/retail-consumer-web:1.4.2",
        "docker push registry.example.com/retail-consumer-web:1.4.2",
    ]


def test_push_without_a_registry_is_refused(platform, capsys):
    platform.write_text(platform.read_text().replace("registry: {host: registry.example.com}\n", ""))
    assert inv("build.all", "--version", "1.0", "--push", "--config", str(platform)) == 2
    assert "no registry to push to: set registry.host" in capsys.readouterr().err
