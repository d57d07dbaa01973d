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
    environ = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    environ.pop("RETAIL_DEPLOY_CONFIG", None)
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
        options = [line for line in result.stdout.splitlines() if line.strip().startswith("-")]
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
            "print(sorted(m for m in ('docker', 'fabric', 'paramiko', 'requests', 'pymongo') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("section,error", [
    ("monitoring:\n  poll_interval: fast\n", "monitoring.poll_interval: invalid duration 'fast'"),
    ("notifications:\n  slak: {}\n", "notifications.slak: unknown key"),
    ("smoke_tests:\n  - {name: x, service: nope, path: /}\n", "smoke_tests[0].service: 'nope' is not a configured"),
    ("migrations:\n  lock_ttl: [1]\n", "migrations.lock_ttl: invalid duration"),
    ("build:\n  max_parallel: many\n", "build.max_parallel: expected an integer"),
    ("checklist:\n  tag_patterns: ['release']\n", "checklist.tag_patterns: 'release' lacks {version}"),
])
def test_config_validate_checks_every_chapter_section(tmp_path, section, error):
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
