import io

import pytest
from invoke import Config, Context

from retail_deploy import redact
from retail_deploy.commands import cmd
from retail_deploy.errors import CommandFailed, InputError
from retail_deploy.execute import Runner, parse_ssh_url


def runner(dry=False, **kw):
    out = io.StringIO()
    return Runner(Context(Config(overrides={"run": {"dry": dry}})), out=out, **kw), out


def test_runs_argv_without_a_shell_splitting_user_input(tmp_path):
    r, out = runner()
    target = tmp_path / "a file; touch pwned"
    r.run(cmd("touch", target))
    assert target.exists() and not (tmp_path / "pwned").exists()
    assert out.getvalue().startswith("$ touch '")


def test_dry_run_prints_the_command_and_changes_nothing(tmp_path):
    r, out = runner(dry=True)
    result = r.run(cmd("touch", tmp_path / "x"))
    assert result.ok and not (tmp_path / "x").exists()
    assert out.getvalue() == f"$ touch {tmp_path / 'x'}\n"


def test_probes_run_even_in_dry_run_and_are_not_echoed():
    r, out = runner(dry=True)
    assert r.probe(cmd("echo", "fact")).stdout == "fact\n"
    assert r.run(cmd("echo", "fact", read_only=True)).stdout == "fact\n"
    assert out.getvalue() == ""


def test_say_is_a_comment_in_dry_run():
    r, out = runner(dry=True)
    r.say("switching traffic")
    assert out.getvalue() == "# switching traffic\n"


def test_sdk_actions_print_their_cli_equivalent_and_are_skipped_in_dry_run():
    calls = []
    r, out = runner(dry=True)
    assert r.action(cmd("docker", "push", "reg/x:1"), calls.append, "pushed") is None
    assert calls == [] and out.getvalue() == "$ docker push reg/x:1\n"
    r, out = runner()
    r.action(cmd("docker", "push", "reg/x:1"), calls.append, "pushed")
    assert calls == ["pushed"]


def test_failure_raises_one_line_with_exit_status_and_stderr():
    r, _ = runner()
    with pytest.raises(CommandFailed) as caught:
        r.run(cmd("sh", "-c", "echo boom >&2; exit 3"), hide=True)
    assert caught.value.returncode == 3
    assert str(caught.value) == "command exited 3: sh -c 'echo boom >&2; exit 3' (boom)"
    assert caught.value.exit_code == 1


def test_a_failure_quotes_words_not_terminal_colour_codes():
    # Maven's stderr is a bare colour reset; its words are on stdout. The CI log once showed a
    # failed build as "mvn clean test ([0m)".
    r, _ = runner()
    script = r"echo 'Tests run: 9, Failures: 1' ; printf '\033[1;31mBUILD FAILURE\033[0m\n'; printf '\033[0m' >&2; exit 1"
    with pytest.raises(CommandFailed) as caught:
        r.run(cmd("sh", "-c", script), hide=True)
    assert caught.value.detail == "Tests run: 9, Failures: 1\nBUILD FAILURE"
    assert str(caught.value).endswith("(BUILD FAILURE)")


def test_check_false_returns_the_failure():
    r, _ = runner()
    assert r.run(cmd("false"), check=False, hide=True).exit_code == 1


def test_every_command_has_a_timeout():
    r, _ = runner(default_timeout=0.5)
    with pytest.raises(CommandFailed, match="timed out: sleep 5 \\(no answer within 0.5s\\)"):
        r.run(cmd("sleep", "5"), hide=True)


def test_stdin_is_closed_so_prompts_cannot_hang():
    r, _ = runner(default_timeout=5)
    assert r.run(cmd("cat"), hide=True).stdout == ""
    assert r.run(cmd("cat", stdin="manifest"), hide=True).stdout == "manifest"


def test_secrets_are_masked_in_echo_output_and_errors():
    redact.forget_all()
    redact.register("s3cr3t-value")
    r, out = runner()
    with pytest.raises(CommandFailed) as caught:
        r.run(cmd("sh", "-c", "echo s3cr3t-value; echo s3cr3t-value >&2; exit 1"))
    assert "s3cr3t-value" not in out.getvalue() and "s3cr3t-value" not in str(caught.value)
    assert "***" in out.getvalue()
    masked = cmd("login", "--password", "tok-123456", secrets={"tok-123456"})
    r, out = runner(dry=True)
    r.run(masked)
    assert out.getvalue() == "$ login --password '***'\n"


def test_ssh_urls():
    assert parse_ssh_url("ssh://deploy@192.0.2.3:2222")[0] == "deploy"
    assert parse_ssh_url("ssh://host") == (None, "host", None)
    with pytest.raises(InputError):
        parse_ssh_url("http://host")


def test_a_timed_out_command_masks_registered_secrets_too():
    # The failure path masked them; the timeout path showed the argv with only declared secrets masked.
    redact.forget_all()
    redact.register("s3cr3t-value")
    r, _ = runner(default_timeout=0.5)
    with pytest.raises(CommandFailed) as caught:
        r.run(cmd("sh", "-c", "sleep 5 # s3cr3t-value"), hide=True)
    assert "timed out" in str(caught.value) and "s3cr3t-value" not in str(caught.value)
    assert caught.value.display == "sh -c 'sleep 5 # ***'"


def test_an_unreachable_remote_host_is_a_failed_operation_naming_the_host():
    # paramiko's NoValidConnectionsError used to escape: "unexpected failure ... run with -d".
    import socket

    from retail_deploy.errors import OperationFailed

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    host = f"ssh://deployer@127.0.0.1:{port}"
    with Runner(Context(), host=host, out=io.StringIO()) as r, pytest.raises(OperationFailed) as caught:
        r.run(cmd("true"))
    assert type(caught.value) is OperationFailed and caught.value.exit_code == 1
    assert str(caught.value) == (f"cannot run on {host} ([Errno None] Unable to connect to port {port} on "
                                 "127.0.0.1): true; check that the host is up and accepts your SSH key")


def test_a_long_error_is_shortened_at_a_word_boundary_never_mid_word():
    from retail_deploy.errors import clip

    forbidden = ('Error from server (Forbidden): services "retail-backend" is forbidden: User "deployer" cannot '
                 'patch resource "services" in API group "" in the namespace "production"')
    assert clip(forbidden, 400) == forbidden
    short = clip(forbidden, 100)
    assert len(short) <= 100 and short.endswith("...")
    assert forbidden.startswith(short[:-3]) and forbidden[len(short) - 3] == " "  # cut before a space
    r, _ = runner()
    with pytest.raises(CommandFailed) as caught:
        r.run(cmd("sh", "-c", "echo " + "word " * 100 + ">&2; exit 1"), hide=True)
    assert str(caught.value).endswith("word word...)")
