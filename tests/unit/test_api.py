"""The public API (retail_deploy.api, docs/library.md): its names, its exceptions, bad input refused
before anything runs, dry runs, and results whose documents never show a secret.

What the primitives do end to end is tested by executing docs/library.md
(tests/integration/test_library_docs.py) and by the --json tests (tests/integration/test_json_output.py).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import retail_deploy
from retail_deploy import api, errors, redact
from retail_deploy.kube import deployer

REPO = Path(__file__).resolve().parents[2]
MODULE_NAMES = {"build", "history", "rollback"}


def test_the_package_exports_the_api_except_the_names_of_its_chapter_modules() -> None:
    assert set(retail_deploy.__all__) == set(api.__all__) - MODULE_NAMES
    for name in api.__all__:
        assert getattr(api, name) is not None
    for name in retail_deploy.__all__:
        assert getattr(retail_deploy, name) is getattr(api, name)
    # The library imports its chapter modules by these names: they must stay modules.
    from retail_deploy.kube import rollback
    from retail_deploy.targets import history

    assert history.__name__ == "retail_deploy.targets.history" and rollback.__name__ == "retail_deploy.kube.rollback"


def test_the_runbook_words_are_function_names() -> None:
    for name in ("build", "push", "set_image", "smoke_test", "migrate", "deploy", "wait_for_rollout",
                 "health_check", "migration_status", "rollback_migrations", "rollback", "lock_status",
                 "history", "evaluate_triggers", "status", "watch_status", "load_platform"):
        assert callable(getattr(api, name)), name


def test_importing_the_api_from_the_package_loads_no_heavy_library() -> None:
    code = ("import sys; from retail_deploy import deploy, health_check, migrate, BuildResult; "
            "print(sorted(m for m in ('docker', 'fabric', 'paramiko', 'requests', 'pymongo', 'grafana_foundation_sdk') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_one_exception_class_per_exit_code() -> None:
    assert sorted(api.EXIT_CODES) == [1, 2, 3, 4, 5, 130]
    for code, cls in api.EXIT_CODES.items():
        assert issubclass(cls, errors.RetailDeployError) and cls.exit_code == code
    assert issubclass(api.ConfigError, api.InputError)
    # The deployer's Ctrl-C error is the API's: `except Interrupted` catches it.
    assert deployer.Interrupted is api.Interrupted


@pytest.mark.parametrize("call", [
    lambda: api.deploy(env="production", version="1.0; rm -rf /"),
    lambda: api.build(version="not a version"),
    lambda: api.push(version="1.0.0", service="no-such-service"),
    lambda: api.deploy(env="nowhere", version="1.0.0"),
    lambda: api.migrate(env="production", version="$(id)"),
    lambda: api.health_check(env="production", timeout=0),
    lambda: api.rollback_migrations(env="production", to_version="latest!"),
])
def test_bad_input_is_input_error_exit_2_before_anything_runs(call, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # a command run now would fail differently
    with pytest.raises(api.InputError) as raised:
        call()
    assert raised.value.exit_code == 2 and "\n" not in str(raised.value)


def test_a_bad_config_file_is_config_error_naming_file_and_line(tmp_path) -> None:
    broken = tmp_path / "platform.yaml"
    broken.write_text("version: 1\nservices: [\n")
    with pytest.raises(api.ConfigError, match="platform.yaml"):
        api.load_platform(broken)


def test_health_check_dry_run_prints_the_curl_commands_and_checks_nothing() -> None:
    out = io.StringIO()
    result = api.health_check(env="production", dry_run=True, out=out)
    assert result == api.HealthResult("production", True, (), dry_run=True)
    lines = out.getvalue().splitlines()
    assert lines and all(line.startswith("$ curl ") for line in lines)
    assert any("https://api.example.com/api/v1/health" in line for line in lines)


def test_lock_status_and_history_reach_each_environment_through_its_target(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before, both refused Docker environments; now the deploy seam picks the target that keeps
    # them (on the engine: tests/integration/docker/test_dev_target.py reads them back for real).
    from retail_deploy.execute import Runner
    from retail_deploy.kube import context
    from retail_deploy.targets import target_for

    monkeypatch.setattr(context, "require_context", lambda runner, name, env: None)  # no kubectl run here
    cfg = api.load_platform()
    runner = Runner(None, dry=True)
    assert [target_for(runner, cfg, cfg.environment(name)).kind for name in ("development", "staging")] == [
        "docker", "kubernetes"]


def test_results_are_frozen_and_their_documents_mask_secrets() -> None:
    secret = 'pa"ss\\wörd-Secret-9'
    redact.register(secret)
    try:
        lock = api.LockStatus("production", True, holder=f"carol {secret}", version="1.4.2")
        with pytest.raises(AttributeError):
            lock.locked = False  # type: ignore[misc]
        document = lock.to_dict()
        assert document["holder"] == "carol ***"
        rendered = json.dumps(document)
        assert secret not in rendered and json.dumps(secret)[1:-1] not in rendered
        entry = api.HistoryEntry.from_record({"action": "deploy", "version": "1.4.2", "result": "failed",
                                              "start": "2026-01-01T00:00:00Z", "reason": f"token {secret}",
                                              "previous": {"backend": "r/retail-backend:1.4.1"}})
        assert entry.to_dict()["reason"] == "token ***"
        assert entry.to_dict()["previous"] == {"backend": "r/retail-backend:1.4.1"}
    finally:
        redact.forget_all()


def test_build_result_says_images_digests_and_ok() -> None:
    from retail_deploy.build.service import BuildReport, ServiceResult

    report = BuildReport("1.4.2", [ServiceResult("backend", "pushed", image="r/retail-backend:1.4.2",
                                                 digest="sha256:" + "a" * 64),
                                   ServiceResult("admin-web", "failed", image="r/retail-admin-web:1.4.2",
                                                 detail="npm test failed")], pushed=False)
    result = api.BuildResult.from_report(report, dry_run=False)
    assert result.ok is False and result.digests == {"backend": "sha256:" + "a" * 64}
    assert result.to_dict() == {
        "ok": False, "version": "1.4.2", "pushed": False, "dry_run": False, "images": [
            {"service": "backend", "image": "r/retail-backend:1.4.2", "result": "pushed",
             "digest": "sha256:" + "a" * 64, "detail": ""},
            {"service": "admin-web", "image": "r/retail-admin-web:1.4.2", "result": "failed", "digest": None,
             "detail": "npm test failed"}]}
