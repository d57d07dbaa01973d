"""The malformed-config corpus (tests/fixtures/malformed-config/): each file is refused by
`config.validate` and `config.show` with one line naming the file (and line where there is one),
exit 2, quickly, never with a traceback or a hang; secrets never appear in the message."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.inprocess import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = FIXTURES / "malformed-config"
EXPECTED = {  # file -> what the one line says after "error: <path>"
    "non-utf8.yaml": ":4: not UTF-8 text (byte 0xe9",
    "port-negative.yaml": ":5: services.api.port: invalid port -1: expected a number from 1 to 65535",
    "port-too-big.yaml": ":5: services.api.port: invalid port 99999: expected a number from 1 to 65535",
    "troubleshooting-unknown-key.yaml": ":10: troubleshooting.crashloop_tail: unknown key",
    "duplicate-key.yaml": ":11: duplicate key 'target' (first at line 10)",
    "merge-key-unknown.yaml": ":11: environments.qa.colour: unknown key",
    "alias-bomb-troubleshooting.yaml": ":15: aliases expand to more than 100,000 values",
    "alias-bomb-dashboards.yaml": ":15: aliases expand to more than 100,000 values",
    "control-character.yaml": ": not a YAML text: unacceptable character #x0007",
    "secret-in-error.yaml": ":8: environments.dev.target: '***' is not one of: kubernetes, docker",
    "flag-as-name.yaml": ":5: services.api.deployment: '--all' is not usable as a name",
    "deep.yaml": ": nested more than 64 levels deep",
    "huge.yaml": " is larger than 1024 KiB",
}
SECRET = "hunter2 'quoted' \"and\" \\ $dollar"


def corpus(tmp_path: Path) -> dict[str, Path]:
    files = {path.name: path for path in CORPUS.glob("*.yaml")}
    # Too large to keep in the repository: made here.
    deep = tmp_path / "deep.yaml"
    deep.write_text("services: " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    huge = tmp_path / "huge.yaml"
    huge.write_text("platform: x\n" + "#" * (1024 * 1024) + "\n", encoding="utf-8")
    return {**files, "deep.yaml": deep, "huge.yaml": huge}


def test_every_corpus_file_has_an_expectation(tmp_path: Path) -> None:
    assert set(corpus(tmp_path)) == set(EXPECTED)


@pytest.mark.parametrize("task", ["config.validate", "config.show"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_config_is_one_line_exit_2(name: str, task: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_PASSWORD", SECRET)
    path = corpus(tmp_path)[name]
    started = time.monotonic()
    outcome = run_cli(task, "--config", str(path))
    assert time.monotonic() - started < 10, f"{name}: took too long"
    assert outcome.code == 2, outcome.output
    assert outcome.stdout == ""
    assert outcome.stderr == f"error: {path.resolve()}{EXPECTED[name]}" + outcome.stderr.split(EXPECTED[name], 1)[1]
    assert len(outcome.stderr.splitlines()) == 1 and "Traceback" not in outcome.stderr
    assert "hunter2" not in outcome.stderr and "dollar" not in outcome.stderr


def test_yaml_merge_keys_are_valid_and_own_keys_override(monkeypatch: pytest.MonkeyPatch) -> None:
    from retail_deploy.config import load_config

    cfg = load_config(FIXTURES / "valid-merge-keys.yaml", environ={})
    assert cfg.environments["qa"].branch == "develop"
    assert cfg.environments["qa"].target == "docker" == cfg.environments["dev"].target
    outcome = run_cli("config.validate", "--config", str(FIXTURES / "valid-merge-keys.yaml"))
    assert outcome.code == 0, outcome.output
