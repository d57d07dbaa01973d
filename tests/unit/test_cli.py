"""The command line as a person (or a shell script) uses it: exit codes, one-line errors, help."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECRETS = {"JWT_SECRET": "jwt-value-that-is-long-enough-0123456789", "PAYPAL_CLIENT_SECRET": "paypal-value-123",
           "SMTP_PASSWORD": "smtp-value-456"}


def run(*args, cwd=REPO, env=None, program=None):
    command = program or [sys.executable, "-m", "invoke"]
    environ = {key: value for key, value in os.environ.items() if key != "RETAIL_DEPLOY_CONFIG"}
    environ.update({"PYTHONPATH": str(REPO), **(env or {})})
    return subprocess.run([*command, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def retail_deploy_script():
    script = Path(sys.executable).parent / "retail-deploy"
    if not script.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"console script missing: {script} (is the package installed?)")
        pytest.skip("retail-deploy console script not installed in this interpreter")
    return [str(script)]


def task_names(listing_json):
    """Dotted task names from `--list --list-format=json`."""
    import json

    def walk(collection, prefix):
        for task in collection["tasks"]:
            yield prefix + task["name"]
        for sub in collection["collections"]:
            yield from walk(sub, prefix + sub["name"] + ".")

    return sorted(walk(json.loads(listing_json), ""))


def test_inv_list_and_console_script_show_the_same_chapters(tmp_path):
    inv = run("--list", "--list-format=json")
    assert inv.returncode == 0, inv.stderr
    console = run("--list", "--list-format=json", cwd=tmp_path, program=retail_deploy_script())
    assert console.returncode == 0, console.stderr
    module = run("--list", "--list-format=json", cwd=tmp_path, program=[sys.executable, "-m", "retail_deploy"])
    assert task_names(inv.stdout) == task_names(console.stdout) == task_names(module.stdout)
    assert {"config.show", "config.validate"} <= set(task_names(inv.stdout))


def test_every_task_option_has_help():
    names = task_names(run("--list", "--list-format=json").stdout)
    for name in names:
        result = run("--help", name)
        assert result.returncode == 0, result.stderr
        # Option lines are indented two spaces; wrapped help text is indented further.
        options = [line for line in result.stdout.splitlines() if line.startswith("  -")]
        for option in options:
            flag, _, text = option.strip().partition("  ")
            assert text.strip(), f"{name}: option {flag} has no help text"


def test_dry_config_show_never_prints_secrets():
    result = run("--dry", "config.show", "--env", "production", env=SECRETS)
    assert result.returncode == 0, result.stderr
    assert "production" in result.stdout
    for value in SECRETS.values():
        assert value not in result.stdout + result.stderr


@pytest.mark.parametrize("args,message", [
    (["config.show", "--env", "prod"], "error: unknown environment 'prod' (known: development, staging, production)"),
    (["config.validate", "--env", "production"], "error: environment production: MONGODB_URI is not set;"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_malformed_config_file_is_exit_2_with_file_and_line(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("version: 1\nservices:\n\tapi: {}\n")
    result = run("config.validate", "--config", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad}:3:1: YAML syntax error: found character '\\t' that cannot start any token"


def test_traceback_only_with_debug(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("- not a mapping\n")
    quiet = run("config.validate", "--config", str(bad))
    loud = run("-d", "config.validate", "--config", str(bad))
    assert "Traceback" not in quiet.stderr and "Traceback" in loud.stderr


def test_listing_tasks_imports_no_heavy_library():
    code = ("import sys; import retail_deploy.tasks; "
            "print(sorted(m for m in ('docker', 'fabric', 'paramiko', 'requests', 'pymongo', 'grafana_foundation_sdk') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("args,message", [
    (["health.check", "--env", "staging", "--timeout", "abc"],
     "error: --timeout needs a number (got 'abc')"),
    (["health.check", "--env", "staging", "--timeout", "nan"], "error: --timeout needs a finite number (got 'nan')"),
    (["health.check", "--no-such-flag"],
     "error: unknown option '--no-such-flag' for health.check (see retail-deploy --help health.check)"),
    (["health.check", "--env"], "error: --env needs a value (see retail-deploy --help health.check)"),
    (["health.check", "--env", "staging", "--timeout"],
     "error: --timeout needs a value (see retail-deploy --help health.check)"),
    (["no.such-task"], "error: unknown task 'no.such-task' (see retail-deploy --list)"),
    (["db.create"], "error: db.create needs NAME (see retail-deploy --help db.create)"),
    (["checklist.pre-deploy", "--env", "staging", "--version", "1.2.3", "--ack"],
     "error: --ack needs a value (see retail-deploy --help checklist.pre-deploy)"),
    (["rollback.db", "--env", "staging", "--to-version="], "error: --to-version needs a value (it was given an empty one)"),
    (["troubleshoot.crashloop", "--env", "staging", "--pod=-rf"], "error: --pod: a value may not start with '-'"),
    (["troubleshoot.crashloop", "--env", "staging", "--pod=--help"], "error: --pod: a value may not start with '-'"),
    (["config.show", "--env", "staging\n$ rm -rf /"], "error: --env: control characters and line breaks are not allowed"),
])
def test_command_line_mistakes_are_bad_input_not_failures(args, message):
    # invoke itself exits 1 on a parse error and shows a traceback for an option that does not convert;
    # shell glue must be able to tell "you called me wrong" (2) from "the operation failed" (1).
    result = run(*args, program=[sys.executable, "-m", "retail_deploy"])
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args,message", [
    (["health.check", "--env", "staging", "--retries", "-1"], "error: --retries -1: must be 0 or more"),
    (["health.check", "--env", "staging", "--timeout", "0"], "error: --timeout 0.0: must be more than 0 seconds"),
    (["health.smoke", "--env", "staging", "--timeout", "-3"], "error: --timeout -3.0: must be more than 0 seconds"),
    (["health.deps", "--env", "staging", "--via", "direct", "--timeout", "0"],
     "error: --timeout 0.0: must be more than 0 seconds"),
])
def test_out_of_range_check_limits_are_bad_input(args, message):
    # They used to reach check_endpoints' ValueError: "unexpected failure", exit 1.
    result = run(*args)
    assert (result.returncode, result.stderr.strip()) == (2, message)


@pytest.mark.parametrize("section,expected", [
    ("build:\n  max_paralel: 2\n", ":7: build.max_paralel: unknown key"),
    ("smoke_tests:\n  - {name: up, service: api, path: health}\n", ":7: smoke_tests[0].path: a path starts with '/'"),
    ("migrations:\n  lock_ttl: 0s\n", ":7: migrations.lock_ttl: must be longer than zero"),
    ("monitoring:\n  no_such_key: 1\n", ":7: monitoring.no_such_key: unknown key"),
])
def test_config_validate_checks_the_chapter_sections(tmp_path, section, expected):
    # Only the checklist section was checked: `config.validate` said "valid" and the mistake came
    # out later, from the task that reads the section.
    path = tmp_path / "platform.yaml"
    path.write_text("version: 1\nservices:\n  api: {image: shop-api}\nenvironments:\n  prod: {namespace: live}\n"
                    + section)
    result = run("config.validate", "--config", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: {path}") and expected in result.stderr, result.stderr


@pytest.mark.parametrize("args,message", [
    (["db.restore", "--env", "nope"], "error: unknown environment 'nope' (known: development, staging, production)"),
    (["db.unlock"], "error: missing environment: pass --env (development, staging, production)"),
    (["db.migrate", "--env", "production", "--version", "bad/tag"], "error: invalid version 'bad/tag'"),
    (["db.rollback", "--env", "production", "--to-version", "..x"], "error: invalid --to-version '..x'"),
])
def test_db_tasks_name_the_bad_input_before_asking_for_confirmation(args, message):
    # They asked "replace data in the nope database?" (or, without a terminal, demanded --yes)
    # and only then, after a "y", said what was wrong.
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr


def test_a_multi_line_error_is_still_one_line_on_stderr():
    # A migration's or driver's exception text may span lines; stderr must stay one line (what, where, what to do).
    from invoke import Context
    from invoke.exceptions import Exit

    from retail_deploy.errors import OperationFailed
    from retail_deploy.tasks._common import task

    @task
    def broken(c):
        """Fails with a message that quotes a multi-line exception."""
        raise OperationFailed("migration 2025-01-15-x.py failed: ValueError: bad row\n  at line 3\n\nfix it")

    @task
    def crashing(c):
        """An unexpected exception with a multi-line message."""
        raise RuntimeError("first line\nsecond line")

    with pytest.raises(Exit) as failed:
        broken(Context())
    assert (failed.value.code, failed.value.message) == (
        1, "error: migration 2025-01-15-x.py failed: ValueError: bad row; at line 3; fix it")
    with pytest.raises(Exit) as crashed:
        crashing(Context())
    assert crashed.value.message == ("error: unexpected failure: RuntimeError: first line; second line "
                                     "(run with -d for a traceback)")


def test_end_of_input_at_a_confirmation_prompt_is_a_no(monkeypatch):
    # Ctrl-D at "[y/N]" raised EOFError: "unexpected failure", exit 1, instead of "not confirmed", exit 2.
    import io as io_module

    from retail_deploy.checklist import items as checklist
    from retail_deploy.checklist.gate import _ask_at_terminal
    from retail_deploy.errors import InputError
    from retail_deploy.tasks._common import confirm

    class ClosedTerminal(io_module.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", ClosedTerminal(""))
    with pytest.raises(InputError, match="not confirmed; nothing was changed"):
        confirm("restore production?", yes=False)
    assert _ask_at_terminal(checklist.RUNBOOK_ITEMS[0]) is False


@pytest.mark.parametrize("section,error", [
    ("notifications:\n  slak: {}\n", "notifications.slak: unknown key"),
    ("checklist:\n  tag_patterns: ['release']\n", "checklist.tag_patterns: 'release' lacks {version}"),
])
def test_config_validate_checks_notifications_and_checklist_sections(tmp_path, section, error):
    """A chapter's own section is refused by `config.validate` with file and line, not at 2 a.m. mid-deploy."""
    import re

    text = (REPO / "config" / "retail-platform.yaml").read_text()
    key = section.split(":")[0]
    text = re.sub(rf"(?ms)^{key}:\n(?:[ #].*\n|\n)*", "", text)
    path = tmp_path / "platform.yaml"
    path.write_text(text + section)
    result = run("config.validate", "--config", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert re.match(rf"error: {re.escape(str(path))}:\d+: {re.escape(error)}", result.stderr), result.stderr


PWNED = "/tmp/retail-deploy-pwned"


@pytest.mark.parametrize("args", [
    ["deploy.staging", "--version", f"1.0;touch {PWNED}"],
    ["deploy.production", "--version", f"1.0;touch {PWNED}", "--yes"],
    ["deploy.development", "--version", f"$(touch {PWNED})"],
    ["build.all", "--version", f"1.0`touch {PWNED}`", "--push"],
    ["checklist.pre-deploy", "--env", "production", "--version", f"1.0 && touch {PWNED}"],
    ["verify.production", "--version", f"1.0|touch {PWNED}"],
])
def test_versions_with_shell_characters_are_refused_before_anything_runs(args):
    import pathlib

    pathlib.Path(PWNED).unlink(missing_ok=True)
    result = run(*args, program=[sys.executable, "-m", "retail_deploy"])
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: invalid version '1.0") or result.stderr.startswith("error: invalid version '$(")
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert not pathlib.Path(PWNED).exists()


@pytest.mark.parametrize("args", [
    ["deploy.production", "--version", "1.2.3", "--yes"],  # the environment is fixed: config is what's bad
    ["health.check", "--env", "prod"],
    ["rollback.undo", "--env", "prod"],
    ["monitor.check", "--env", "prod"],
    ["db.status", "--env", "prod"],
    ["troubleshoot.certs", "--env", "prod"],
    ["ops.status", "--env", "prod"],
])
def test_unknown_environment_or_broken_config_is_exit_2(args, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nservices:\n\tapi: {}\n")
    env = {"RETAIL_DEPLOY_CONFIG": str(broken)} if args[0] == "deploy.production" else None
    result = run(*args, program=[sys.executable, "-m", "retail_deploy"], env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    expected = "YAML syntax error" if env else "error: unknown environment 'prod'"
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1


def all_tasks():
    """(dotted name, invoke Task) of every task of the namespace."""
    from retail_deploy.tasks import ns

    def walk(collection, prefix):
        for name, item in collection.tasks.items():
            yield prefix + name, item
        for sub_name, sub in collection.collections.items():
            yield from walk(sub, prefix + sub_name + ".")

    return list(walk(ns, ""))


def test_every_option_that_takes_a_value_shows_a_placeholder_in_help():
    # `-a, --ack` and `-t, --timeout` read as switches when invoke showed no value for a list or a float.
    from invoke.parser import ParserContext

    for name, item in all_tasks():
        context = ParserContext(name=name, args=item.get_arguments())
        for argument in context.flags.values():
            flags, _ = context.help_for(f"--{argument.name.replace('_', '-')}")
            if argument.kind is bool:
                assert "=" not in flags, (name, flags)
            else:
                assert all(("=" in part or " " in part) for part in flags.split(", ")), (name, flags)
    help_text = run("--help", "health.check", program=[sys.executable, "-m", "retail_deploy"]).stdout
    assert "-t SECONDS, --timeout=SECONDS" in help_text and "-u URL, --url=URL" in help_text


def test_every_tasks_help_ends_with_its_exit_codes_and_its_list_line_is_a_whole_phrase():
    from invoke.util import helpline

    for name, item in all_tasks():
        doc = item.__doc__ or ""
        assert doc.rstrip().splitlines()[-1].startswith("Exit codes: 0 done; 1 failed; 2 bad input"), name
        first = helpline(item) or ""
        assert first.endswith((".", ")")), (name, first)  # the first paragraph, never cut at a line end
    deploy = dict(all_tasks())["deploy.production"].__doc__
    assert "3 failed and rolled back; 4 the lock is held" in deploy


def test_a_missing_value_is_readable_through_inv_too():
    # invoke's own parser reports it (exit 1, its Program); the message names the option as typed.
    # `retail-deploy` makes it the contract's one line and exit 2 (test above).
    result = run("checklist.pre-deploy", "--ack")
    assert result.stderr.strip() == "Flag --ack ITEM (-a) needed value and was not given one!"
