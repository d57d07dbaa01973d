"""The adversarial secret sweep as part of the suite: every task (from the task list) runs with a
secret value in every variable the config names as secret, each value holding `'`, `"`, `\\`, `$`
and spaces (so its shell-quoted, JSON-escaped and URL-encoded forms differ from the raw value),
and no output of any task shows any form of any of them.

Every task runs as a dry run; the tasks that touch nothing outside this process and the file
system also run for real. All addresses are loopback (a closed port), and kubectl sees an empty
kubeconfig, so nothing leaves the machine.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from retail_deploy.config import DEFAULT_CONFIG, load_config
from tests.inprocess import run_cli, task_arguments

CLOSED = "127.0.0.1:9"  # the discard port: nothing listens, so every connection is refused at once
# Tasks that change nothing outside the test's temporary directory: also run for real.
REAL = {"config.show", "config.validate", "monitor.rules", "monitor.dashboards", "db.create", "checklist.pre-deploy",
        "health.check", "health.smoke", "health.deps", "monitor.check", "setup.tools",
        # read-only: with an empty kubeconfig and a closed port nothing answers, so they fail here
        "verify.staging", "verify.production", "rollback.history", "lock.status", "ops.status", "db.status",
        "db.verify", "troubleshoot.crashloop", "troubleshoot.errors", "troubleshoot.db", "troubleshoot.latency",
        "troubleshoot.certs"}
VALUES = {  # per option: a value that passes validation (the sweep is about secrets, not bad input)
    "env": "production", "version": "1.4.2", "to-version": "1.4.2", "service": "backend", "services": "backend",
    "name": "add-sweep-field", "duration": "1s", "interval": "1s", "to-revision": "2", "to-colour": "blue",
    "target": "production", "via": "direct", "days": "14", "tail": "10", "replicas": "2",
    "force": "sweep test", "port": "18080", "remote-port": "8080", "program": "/bin/sh", "reason": "sweep test",
    "format": "json", "style": "table", "method": "kubectl", "strategy": "rolling", "timeout": "1",
    "retries": "0", "ack": "ci-tests",
}


def secret_value(index: int) -> str:
    return f"pa'ss \"zq{index:02d}wx\" \\ $HOME w0rd"


def every_form(value: str) -> set[str]:
    forms = {value, shlex.quote(value), json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value),
             value.replace("'", "'\"'\"'"), repr(value)[1:-1]}
    # Each distinctive part too: a mask that catches the whole value but lets half of it through
    # (split on a quote or a space) still prints a secret.
    forms |= {part for part in re.split(r"[ '\"\\$]+", value) if part.startswith("zq")}
    return forms


@pytest.fixture(scope="module")
def sweep_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The platform's own config, every address on loopback."""
    folder = tmp_path_factory.mktemp("sweep")
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    text = re.sub(r"https?://[A-Za-z0-9.-]+(:\d+)?", f"http://{CLOSED}", text)
    text = text.replace("registry.example.com", CLOSED)
    # The example migrations, copied: the real db.create writes a new one there.
    shutil.copytree(DEFAULT_CONFIG.parent.parent / "examples" / "retail-platform" / "migrations", folder / "migrations")
    text = _once(text, "directory: ../examples/retail-platform/migrations", f"directory: {folder}/migrations")
    text = text.replace("../examples/", f"{DEFAULT_CONFIG.parent.parent}/examples/")
    text = text.replace("../backups/", f"{folder}/backups/")
    # Secrets where the issue found them printed: a Docker build argument, a Helm --set value,
    # credentials inside a URL.
    text = _once(text, "    source_dir: consumer-web\n",
                 "    source_dir: consumer-web\n    build_args: {NPM_TOKEN: \"${NPM_TOKEN:-}\"}\n")
    text = _once(text, "backend: {environment: staging}",
                 "backend: {environment: staging, db.password: \"${DB_PASSWORD:-}\"}")
    text = _once(text, "  prometheus_url: ${PROMETHEUS_URL:-}\n  poll_interval",
                 f"  prometheus_url: http://watcher:${{PROMETHEUS_PASSWORD:-}}@{CLOSED}\n  poll_interval")
    text = _once(text, "secret_env: [", "secret_env: [NPM_TOKEN, DB_PASSWORD, PROMETHEUS_PASSWORD, ")
    path = folder / "platform.yaml"
    path.write_text(text, encoding="utf-8")
    (folder / "kubeconfig").write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    return path


@pytest.fixture
def secrets(sweep_config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    cfg = load_config(sweep_config, environ={})
    names = set(cfg.secret_env) | {cfg.registry.password_env, cfg.registry.username_env}
    names |= {name for name, variable in cfg.runtime_env.items() if variable.secret}
    values = {name: secret_value(index) for index, name in enumerate(sorted(names))}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KUBECONFIG", str(sweep_config.parent / "kubeconfig"))
    monkeypatch.setenv("RETAIL_DEPLOY_CONFIG", str(sweep_config))
    monkeypatch.setenv("DOCKER_HOST", f"tcp://{CLOSED}")
    monkeypatch.chdir(tmp_path)
    return values


def _once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the platform config changed: {old!r} not found once"
    return text.replace(old, new)


def argv_for(task: str, tmp_path: Path) -> list[str]:
    argv = [task]
    for option, kind, positional in task_arguments()[task]:
        if positional:
            argv.append(VALUES[option])
        elif option == "output":
            argv += ["--output", str(tmp_path / "out.txt")]
        elif option in VALUES and kind is not bool and option != "config":
            argv += [f"--{option}", VALUES[option]]
        elif option == "notify":  # the notification bodies carry the PagerDuty key and Slack URLs
            argv.append("--notify")
    return argv


def assert_no_secret(outcome_text: str, secrets: dict[str, str], where: str) -> None:
    for name, value in secrets.items():
        for form in every_form(value):
            assert form not in outcome_text, f"{where}: a form of ${name} was printed: {form!r}"


TASKS = sorted(task_arguments())


def test_the_sweep_covers_every_task() -> None:
    listing = run_cli("--list", "--list-format=json")
    assert listing.code == 0

    def walk(collection: dict, prefix: str) -> list[str]:
        names = [prefix + task["name"] for task in collection["tasks"]]
        for sub in collection["collections"]:
            names += walk(sub, prefix + sub["name"] + ".")
        return names

    assert sorted(walk(json.loads(listing.stdout), "")) == TASKS


@pytest.mark.parametrize("task", TASKS)
def test_no_task_prints_a_secret_in_a_dry_run(task: str, secrets: dict[str, str], tmp_path: Path) -> None:
    outcome = run_cli("--dry", *argv_for(task, tmp_path))
    assert "Traceback" not in outcome.output, outcome.output
    assert_no_secret(outcome.output, secrets, f"--dry {task} (exit {outcome.code})")


@pytest.mark.parametrize("task", sorted(REAL))
def test_no_task_prints_a_secret_when_it_runs(task: str, secrets: dict[str, str], tmp_path: Path) -> None:
    outcome = run_cli(*argv_for(task, tmp_path))
    assert "Traceback" not in outcome.output, outcome.output
    assert_no_secret(outcome.output, secrets, f"{task} (exit {outcome.code})")


def test_a_secret_is_masked_in_a_config_error(sweep_config: Path, secrets: dict[str, str], tmp_path: Path) -> None:
    # Registered before the config is validated: the error quoting the bad value must not show it.
    broken = tmp_path / "broken.yaml"
    broken.write_text(sweep_config.read_text(encoding="utf-8").replace(
        "target: docker", "target: ${REGISTRY_PASSWORD}", 1), encoding="utf-8")
    outcome = run_cli("config.validate", "--config", str(broken))
    assert outcome.code == 2 and "target" in outcome.stderr, outcome.output
    assert_no_secret(outcome.output, secrets, "config.validate")
