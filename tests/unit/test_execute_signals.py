"""SIGINT and SIGTERM, to the process alone or to its group, stop the running command at once;
inside a shield they are reported and the command finishes. Real signals, real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The child command writes its pid, then sleeps far longer than the test waits.
SCRIPT = textwrap.dedent("""
    import sys, time
    from invoke import Context
    from retail_deploy.commands import cmd
    from retail_deploy.execute import Runner, shielded

    marker, mode = sys.argv[1], sys.argv[2]
    runner = Runner(Context())
    started = time.monotonic()
    command = cmd("sh", "-c", 'echo $$ > "$0"; sleep "$1"; echo finished', marker, "60" if mode == "plain" else "2")
    try:
        if mode == "shielded":
            with shielded("testing the shield"):
                print(runner.run(command, hide=True).stdout.strip(), flush=True)
        else:
            runner.run(command, hide=True)
    except KeyboardInterrupt as interrupt:
        print(type(interrupt).__name__, flush=True)
    print(f"after {time.monotonic() - started:.1f}s", flush=True)
""")


def start(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], int]:
    marker = tmp_path / "child.pid"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(marker), mode], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text().strip()):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"the command never started: {proc.communicate()}")
        time.sleep(0.05)
    time.sleep(0.2)
    return proc, int(marker.read_text())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("to", ["process", "group"])
@pytest.mark.parametrize("signum,raised", [(signal.SIGINT, "KeyboardInterrupt"), (signal.SIGTERM, "Terminated")])
def test_a_signal_stops_the_running_command_at_once(tmp_path, signum, raised, to):
    proc, child = start(tmp_path, "plain")
    try:
        (os.killpg if to == "group" else os.kill)(proc.pid, signum)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    lines = out.splitlines()[1:]  # after the echoed `$ sh -c ...`
    assert lines[0] == raised, (out, err)
    assert float(lines[1].split()[1].rstrip("s")) < 10  # not the command's 60 s
    assert not alive(child)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_shielded_recovery_is_reported_and_the_command_finishes(tmp_path, signum):
    proc, child = start(tmp_path, "shielded")
    try:
        os.killpg(proc.pid, signum)  # the group: the command must not get it either
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert out.splitlines()[1:] == ["finished", out.splitlines()[-1]], (out, err)
    assert f"{signal.Signals(signum).name} received while testing the shield: finishing that first" in err
    assert proc.returncode == 0
