"""The execution boundary on a real OpenSSH server: fabric, key auth, a non-standard port."""

import io

import pytest
from invoke import Config, Context

from retail_deploy import redact
from retail_deploy.commands import cmd
from retail_deploy.errors import CommandFailed
from retail_deploy.execute import Runner

pytestmark = pytest.mark.integration


def remote_runner(sshd_server, dry=False):
    out = io.StringIO()
    runner = Runner(Context(Config(overrides={"run": {"dry": dry}})), host=sshd_server.url, out=out,
                    connect_kwargs=sshd_server.connect_kwargs)
    return runner, out


def test_runs_a_command_on_the_remote_host(sshd_server, tmp_path):
    marker = tmp_path / "ran over ssh"
    with remote_runner(sshd_server)[0] as runner:
        result = runner.run(cmd("sh", "-c", 'touch "$1" && echo "$SSH_CONNECTION"', "sh", marker), hide=True)
    assert marker.exists()
    assert result.stdout.split()[2] == "127.0.0.1" and result.stdout.split()[3] == str(sshd_server.port)


def test_remote_failure_names_host_and_exit_status(sshd_server):
    runner, _ = remote_runner(sshd_server)
    with runner, pytest.raises(CommandFailed) as caught:
        runner.run(cmd("sh", "-c", "echo disk full >&2; exit 7"), hide=True)
    assert caught.value.returncode == 7
    assert str(caught.value) == (f"command exited 7 on {sshd_server.url}: sh -c 'echo disk full >&2; exit 7' "
                                 "(disk full)")


def test_remote_dry_run_connects_to_nobody_for_actions(sshd_server, tmp_path):
    runner, out = remote_runner(sshd_server, dry=True)
    with runner:
        runner.run(cmd("touch", tmp_path / "x"))
        assert runner._connection is None  # an action in a dry run opens no connection
        assert runner.probe(cmd("echo", "fact")).stdout == "fact\n"  # probes still read facts
    assert not (tmp_path / "x").exists()
    assert out.getvalue() == f"$ touch {tmp_path / 'x'}    # on {sshd_server.url}\n"


def test_remote_output_is_redacted(sshd_server):
    redact.register("remote-secret-token")
    runner, out = remote_runner(sshd_server)
    with runner:
        runner.run(cmd("echo", "token=remote-secret-token"))
    assert out.getvalue().splitlines()[-1] == "token=***"
    assert "remote-secret-token" not in out.getvalue()


def test_connection_is_closed_with_the_runner(sshd_server):
    runner, _ = remote_runner(sshd_server)
    with runner:
        runner.probe(cmd("true"))
        connection = runner._connection
        assert connection.is_connected
    assert not connection.is_connected and runner._connection is None
