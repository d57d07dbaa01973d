"""Never a false all-clear: with the API server unreachable (the real kubectl, a kubeconfig pointing at
a closed loopback port), a diagnosis says what it could not read and exits 5."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.offline_support import cli, offline_env

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("task", ["troubleshoot.crashloop", "troubleshoot.errors", "troubleshoot.certs"])
def test_a_diagnosis_that_read_nothing_concludes_nothing(tmp_path: Path, task: str) -> None:
    result = cli(offline_env(tmp_path), task, "--env", "staging", "--output", str(tmp_path / "report.txt"))
    assert result.returncode == 5, result.stdout + result.stderr
    assert "No known cause" not in result.stdout and "No crash-looping" not in result.stdout
    assert "All 0 certificates" not in result.stdout
    assert "No conclusion: the evidence could not be read (this is not an all-clear)." in result.stdout
    unread = [line for line in result.stdout.splitlines() if line.startswith("Could not read: ")]
    assert unread and all("was refused - did you specify the right host or port?)" in line for line in unread)
    assert "cert-manager installed" not in result.stdout
    assert len(result.stderr.splitlines()) == 1
