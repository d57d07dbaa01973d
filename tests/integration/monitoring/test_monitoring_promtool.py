"""The rule file `monitor.rules` generates passes `promtool check rules` and the promtool unit
tests in tests/prometheus/alerts.test.yaml (each alert fires beyond, and is silent inside, its threshold)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
UNIT_TESTS = REPO / "tests" / "prometheus" / "alerts.test.yaml"


def promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("promtool missing: install the Debian package prometheus")
        pytest.skip("promtool missing: install the Debian package prometheus")
    return binary


def generate(tmp_path: Path) -> Path:
    output = tmp_path / "prometheus" / "alerts.yaml"
    environ = {**os.environ, "PYTHONPATH": str(REPO)}
    environ.pop("RETAIL_DEPLOY_CONFIG", None)
    result = subprocess.run([sys.executable, "-m", "invoke", "monitor.rules", "--output", str(output)], cwd=REPO,
                            env=environ, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote 14 alert rules to {output}")
    return output


def test_generated_rules_pass_promtool_check(tmp_path: Path) -> None:
    rules = generate(tmp_path)
    result = subprocess.run([promtool(), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 14 rules found" in result.stdout


def test_generated_rules_pass_promtool_unit_tests(tmp_path: Path) -> None:
    rules = generate(tmp_path)
    shutil.copyfile(UNIT_TESTS, rules.parent / UNIT_TESTS.name)  # rule_files: [alerts.yaml] beside it
    result = subprocess.run([promtool(), "test", "rules", str(rules.parent / UNIT_TESTS.name)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_wrong_threshold_is_caught_by_the_unit_tests(tmp_path: Path) -> None:
    """The promtool tests are not vacuous: a 10% HighErrorRate threshold fails them."""
    rules = generate(tmp_path)
    text = rules.read_text()
    assert text.count("[5m])) > 0.05\n") == 1
    rules.write_text(text.replace("[5m])) > 0.05\n", "[5m])) > 0.1\n"))
    shutil.copyfile(UNIT_TESTS, rules.parent / UNIT_TESTS.name)
    result = subprocess.run([promtool(), "test", "rules", str(rules.parent / UNIT_TESTS.name)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "alertname: HighErrorRate" in result.stdout + result.stderr
