"""Hardening (issue 16), one behaviour at a time: secrets masked in every rendered form, exit 5 for
a dependency that did not answer, one meaning per short flag, the dry run's reads and notices,
bad input refused before anything is touched."""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from invoke import Config, Context

from retail_deploy import redact, validate
from retail_deploy.checklist import items as checklist
from retail_deploy.checklist.gate import gate
from retail_deploy.commands import cmd
from retail_deploy.config import DEFAULT_CONFIG, load_config
from retail_deploy.errors import (
    EXIT_BAD_INPUT,
    EXIT_UNAVAILABLE,
    CommandFailed,
    DependencyUnavailable,
    InputError,
    OperationFailed,
    unanswered,
)
from retail_deploy.execute import SHOW_READS, Runner
from tests.inprocess import run_cli, task_arguments
from tests.unit.checklist.test_checklist import MANUAL_EVERY, MANUAL_PRODUCTION, facts

NASTY = "it's \"quoted\" \\ $HOME and spaces"


@pytest.fixture(autouse=True)
def empty_registry():
    redact.forget_all()
    yield
    redact.forget_all()


def runner(dry: bool = False) -> tuple[Runner, io.StringIO]:
    out = io.StringIO()
    return Runner(Context(Config(overrides={"run": {"dry": dry}})), out=out), out


# -- secrets in every form ---------------------------------------------------------------------

@pytest.mark.parametrize("rendered", [
    NASTY,
    shlex.quote(NASTY),
    shlex.join(["--set", f"db.password={NASTY}"]),
    json.dumps({"routing_key": NASTY}),
    json.dumps({"routing_key": NASTY}, ensure_ascii=False),
    f"https://hooks.example.test/{quote(NASTY, safe='')}",
    f"error: invalid value {NASTY!r}",
])
def test_a_registered_secret_is_masked_in_every_rendered_form(rendered: str) -> None:
    redact.register(NASTY)
    shown = redact.redact(rendered)
    for part in ("quoted", "HOME and spaces"):
        assert part not in shown, shown
    assert redact.MASK in shown


def test_a_command_masks_registered_and_declared_secrets_before_shell_quoting() -> None:
    redact.register(NASTY)
    helm = cmd("helm", "upgrade", "--set", f"db.password={NASTY}")
    assert helm.display() == "helm upgrade --set 'db.password=***'"
    body = json.dumps({"routing_key": "pd'key\"1\\x"})
    curl = cmd("curl", "--data", body, secrets={"pd'key\"1\\x"})
    assert curl.display() == shlex.join(["curl", "--data", '{"routing_key": "***"}'])


def test_a_secret_in_a_config_error_is_masked_before_the_config_is_validated(tmp_path: Path) -> None:
    config = tmp_path / "platform.yaml"
    config.write_text("services: {api: {port: 80}}\nenvironments:\n  dev: {target: '${REGISTRY_PASSWORD}'}\n")
    outcome_env = {"REGISTRY_PASSWORD": NASTY}
    with pytest.raises(InputError) as caught:
        load_config(config, environ=outcome_env)
    assert "quoted" not in redact.redact(str(caught.value))


# -- exit code 5 -----------------------------------------------------------------------------------

def test_a_checklist_that_could_not_ask_a_dependency_is_exit_5_not_2() -> None:
    cfg = load_config(DEFAULT_CONFIG, environ={})
    r, _ = runner()
    outage = facts(images_exist=lambda: (_ for _ in ()).throw(
        DependencyUnavailable("registry registry.example.com is unreachable: ConnectionError")))
    with pytest.raises(DependencyUnavailable) as caught:
        gate(r, cfg, cfg.environment("production"), "1.4.2", facts=outage,
             acks=tuple(MANUAL_EVERY + MANUAL_PRODUCTION))
    assert caught.value.exit_code == EXIT_UNAVAILABLE
    assert "could not be completed: failed: images-exist" in str(caught.value)
    # Something a person must fix as well: that is bad input (2), whatever else did not answer.
    both = facts(images_exist=outage.images_exist, staging_verified=lambda: (False, "never verified"))
    with pytest.raises(InputError) as refused:
        gate(r, cfg, cfg.environment("production"), "1.4.2", facts=both,
             acks=tuple(MANUAL_EVERY + MANUAL_PRODUCTION))
    assert refused.value.exit_code == EXIT_BAD_INPUT


@pytest.mark.parametrize("error,expected", [
    (CommandFailed("kubectl get pods", 1, "dial tcp 127.0.0.1:6443: connect: connection refused", read_only=True), True),
    (CommandFailed("kubectl get pods", None, "no answer within 30s", read_only=True), True),
    (CommandFailed("kubectl set image", 1, "Unable to connect to the server", read_only=False), False),
    (CommandFailed("kubectl get pods", 1, 'Error from server (NotFound): pods "x" not found', read_only=True), False),
    (CommandFailed("kubectl rollout status", 1, "error: timed out waiting for the condition", read_only=True), False),
    (OperationFailed("MongoDB of staging: ServerSelectionTimeoutError: 127.0.0.1:9: [Errno 111]"), True),
    (OperationFailed("2 of 3 health checks failed"), False),
])
def test_what_counts_as_no_answer(error: Exception, expected: bool) -> None:
    assert unanswered(error) is expected


# -- the dry run -----------------------------------------------------------------------------------

def test_a_dry_run_of_a_read_only_task_prints_its_reads_once() -> None:
    r, out = runner(dry=True)
    token = SHOW_READS.set(True)
    try:
        r.probe(cmd("echo", "fact", read_only=True))
        r.announce(cmd("echo", "shown"))
        r.probe(cmd("echo", "shown", read_only=True))
    finally:
        SHOW_READS.reset(token)
    assert out.getvalue() == "$ echo fact\n$ echo shown\n"
    r.probe(cmd("echo", "unseen"))  # outside a read-only task's dry run: not printed
    assert "unseen" not in out.getvalue()


def test_read_only_tasks_say_what_they_assumed_when_the_cluster_does_not_answer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.chdir(tmp_path)
    for argv in (["rollback.history", "--env", "staging"], ["lock.status", "--env", "staging"],
                 ["ops.status", "--env", "staging"], ["troubleshoot.errors", "--env", "staging"],
                 ["lock.release", "--env", "staging", "--yes"]):
        outcome = run_cli("--dry", *argv)
        assert outcome.code == 0, (argv, outcome.output)
        assert outcome.stdout.startswith("$ kubectl"), outcome.stdout
        # "# assumed: ..." after the reads, or "# assuming ...: <the read that failed>" where the plan goes on
        assert ("# assumed: " in outcome.stdout or "# assuming " in outcome.stdout) and outcome.stderr == ""
    assert not (tmp_path / "reports").exists()  # a dry run writes no report


def test_a_dry_notify_says_what_it_would_send_not_that_it_sent() -> None:
    cfg = load_config(DEFAULT_CONFIG, environ={})
    r, out = runner(dry=True)
    gate(r, cfg, cfg.environment("staging"), "1.4.2", facts=facts(), acks=tuple(MANUAL_EVERY), notify=True)
    shown = out.getvalue()
    assert "would notify the on-call and support teams: 'staging: deploying version 1.4.2 shortly'" in shown
    assert "notified through the configured channels" not in shown.replace("would be notified through", "")


def test_unknown_acks_are_refused_by_the_dry_run_too() -> None:
    outcome = run_cli("--dry", "deploy.production", "--version", "1.4.2", "--ack", "anything")
    assert outcome.code == 2 and outcome.stderr.startswith("error: unknown checklist item anything")
    with pytest.raises(InputError):
        checklist.check_acks(["ci-tests", "anything"])


# -- flags and messages ------------------------------------------------------------------------------

def test_each_short_flag_means_one_option_in_every_task() -> None:
    from retail_deploy.tasks import ns

    meanings: dict[str, set[str]] = {}
    for name in ns.task_names:
        for argument in ns[name].get_arguments():
            for flag in argument.names[1:]:
                meanings.setdefault(flag, set()).add(argument.names[0])
    assert {flag: names for flag, names in meanings.items() if len(names) > 1} == {}
    assert meanings["e"] == {"env"} and meanings["s"] == {"service"} and meanings["v"] == {"version"}


def test_short_flags_work() -> None:
    outcome = run_cli("--dry", "health.check", "-e", "staging", "-t", "2", "-r", "0")
    assert outcome.code == 0, outcome.output
    assert outcome.stdout.startswith("$ curl -fsS --max-time 2 ")


def test_rollback_db_advises_the_option_that_works() -> None:
    outcome = run_cli("rollback.db", "--env", "staging")
    assert outcome.stderr == "error: missing --to-version: pass --to-version, e.g. --to-version 1.4.2\n"


def test_staging_help_says_when_yes_is_needed() -> None:
    # A process of its own: invoke hands each task's help texts out once per process.
    shown = subprocess.run([sys.executable, "-m", "retail_deploy", "--help", "deploy.staging"],
                           capture_output=True, text=True, timeout=60, check=True)
    text = " ".join(shown.stdout.split())
    assert "staging asks only if the config sets confirm: true" in text


@pytest.mark.parametrize("check,text,message", [
    (validate.path, "x" * 300, "a name in the path is 300 bytes long"),
    (validate.path, "a/" * 2100, "the file system allows 4096"),
    (validate.existing_file, "/no/such/ca.pem", "does not exist"),
    (validate.existing_directory, str(DEFAULT_CONFIG), "is a file, not a directory"),
    (validate.resource_name, "-rf", "invalid --pod '-rf'"),
    (validate.resource_name, "--help", "invalid --pod '--help'"),
])
def test_paths_and_names_are_checked_before_use(check, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        check(text, what="--pod")


def test_every_task_has_options_the_sweep_knows() -> None:
    # The property tests draw from task_arguments(): every task is there, each with its --config.
    arguments = task_arguments()
    assert all(any(option == "config" for option, *_ in options) for options in arguments.values())


def test_a_shown_command_stays_one_line_and_runs_in_bash(tmp_path: Path) -> None:
    # A config value with a line break (a build argument, a label) must not split a dry-run line.
    command = cmd("printf", "%s|", "a\nb", "it's", "esc\x1b[0m", "back\\slash")
    shown = command.display()
    assert "\n" not in shown and "\x1b" not in shown
    assert shown == "printf '%s|' $'a\\nb' 'it'\"'\"'s' $'esc\\x1b[0m' 'back\\slash'"
    ran = subprocess.run(["bash", "-c", shown], capture_output=True, text=True, check=True)
    assert ran.stdout == "a\nb|it's|esc\x1b[0m|back\\slash|"


def test_a_secret_with_a_line_break_is_masked_in_its_shown_form() -> None:
    redact.register("multi\nline'secret")
    assert cmd("tool", "--token=multi\nline'secret").display() == "tool '--token=***'"
    assert redact.redact("$'multi\\nline\\'secret'") == "***"


def test_verify_is_exit_5_only_when_no_cluster_read_got_an_answer() -> None:
    from retail_deploy.kube.verify import VerifyReport
    from retail_deploy.targets import NotAnswered, Report, VerifyFailed

    refused = "command exited 1: kubectl get deployment retail-backend (The connection to the server was refused)"
    report = VerifyReport("staging")
    report.add("deployment", "backend", False, refused)
    report.add("health", "https://staging.test/", False, "connection refused")
    assert report.unanswered == refused
    report.add("deployment", "consumer-web", False, 'Error from server (NotFound): deployments "x" not found')
    assert report.unanswered is None  # an answer: the verification failed (exit 1)
    silent = NotAnswered("the cluster of staging did not answer", Report("staging", "ctx/ns", "verify"))
    assert isinstance(silent, DependencyUnavailable) and isinstance(silent, VerifyFailed)
    assert silent.exit_code == 5 and VerifyFailed("failed", silent.report).exit_code == 1
