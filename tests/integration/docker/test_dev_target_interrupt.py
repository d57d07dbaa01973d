"""Ctrl-C / SIGTERM in the middle of a Docker-target deploy, on the REAL engine with the example
platform: whatever step the signal lands in, the release that served before serves again, whole
(no new container left beside it, no service left on the new version), exit 130, and the audit
record says `interrupted`.

Needs the Docker engine and ports from the shared machine: run under
`flock /tmp/retail-deploy-docker.lock`.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.integration.docker.test_dev_target import (
    SERVICES,
    assert_ok,
    library_runner,
)

pytestmark = pytest.mark.integration


def interrupt_when(platform, version: str, marker: str, signum: int) -> tuple[int, str, str]:
    """Run `deploy.development --version V`, send `signum` on the first output line containing
    `marker`; (exit code, stdout, stderr)."""
    argv = [sys.executable, "-m", "invoke", "--search-root", str(platform.tasks_dir), "deploy.development",
            "--version", version, "--config", str(platform.config)]
    deploy = subprocess.Popen(argv, env=platform.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    try:
        assert deploy.stdout is not None
        for line in deploy.stdout:
            seen.append(line)
            if marker in line:
                deploy.send_signal(signum)
                break
        else:
            pytest.fail(f"the deploy never printed {marker!r}:\n" + "".join(seen)[-3000:])
        rest, stderr = deploy.communicate(timeout=120)
    finally:
        if deploy.poll() is None:
            deploy.kill()
            deploy.wait()
    return deploy.returncode, "".join(seen) + rest, stderr


def assert_the_old_release_serves_alone(platform, version: str) -> None:
    assert platform.wait_version() == version
    names = platform.containers()
    assert not [n for n in names if n.endswith("-candidate")], names
    assert not [n for n in names if "retail-deploy-lock" in n], names
    cfg = platform.load()
    runner, _ = library_runner()
    from retail_deploy.docker import target as docker_target

    running = docker_target.current_versions(runner, cfg, cfg.environment("development"))
    assert running == {name: version for name in SERVICES}


def last_record(platform) -> dict:
    from retail_deploy.docker import target as docker_target

    cfg = platform.load()
    runner, _ = library_runner()
    return docker_target.read_history(runner, cfg.environment("development"))[-1]


def test_sigterm_while_the_new_containers_start_removes_them_and_keeps_the_release(platform) -> None:
    assert_ok(platform.deploy("1.0.0"))
    code, out, err = interrupt_when(platform, "1.0.1", "admin-web: start 1.0.1 beside 1.0.0", signal.SIGTERM)
    assert code == 130, out[-3000:] + err
    error = err.strip().splitlines()[-1]
    assert "interrupted by SIGTERM while deploying 1.0.1 on development" in error, err
    assert "nothing was switched; removed the new containers, the running release keeps serving" in error
    assert_the_old_release_serves_alone(platform, "1.0.0")
    last = last_record(platform)
    assert (last["action"], last["result"], last["version"]) == ("deploy", "interrupted", "1.0.1")


def test_sigint_during_the_switch_finishes_that_service_then_puts_back_every_switched_one(platform) -> None:
    assert_ok(platform.deploy("1.0.0"))
    # The first `docker stop` is the backend's switch: the signal lands in the middle of it.
    code, out, err = interrupt_when(platform, "1.0.1", "$ docker stop", signal.SIGINT)
    assert code == 130, out[-3000:] + err
    assert "received while switching backend to 1.0.1 on development" in err, err
    error = err.strip().splitlines()[-1]
    assert "interrupted by SIGINT while deploying 1.0.1 on development: put back backend" in error, err
    assert_the_old_release_serves_alone(platform, "1.0.0")
    last = last_record(platform)
    assert (last["action"], last["result"]) == ("deploy", "interrupted")
    assert {name: c["after"] for name, c in last["release"].items()} == {name: "1.0.0" for name in SERVICES}
