"""What the test control plane's pods log (scripts/lib/kwok-kubelet.py), without a control plane:
the CRI format kwok reads, and the image-tag rules read by the project's own analysers (a healthy
start-up passes verification's default log scan, `log-errors` fails it, `crashloop`'s previous
logs name the missing variable)."""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from retail_deploy.troubleshoot.diagnose import DB_CONNECTION, MISSING_ENV, analyse_logs

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "lib" / "kwok-kubelet.py"
CRI = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z stdout F (?P<line>.*)$")
START = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def kubelet() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kwok_kubelet", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def lines(cri_text: str) -> list[str]:
    out = []
    for raw in cri_text.splitlines():
        match = CRI.match(raw)
        assert match, raw  # every line in the format kwok's CRI reader takes
        out.append(match.group("line"))
    return out


def test_a_healthy_image_logs_a_clean_start_up_and_has_no_previous_container(kubelet: ModuleType) -> None:
    current, previous = kubelet.content("registry.example.com/retail-backend:1.4.2", "retail-backend", 8080, START)
    text = lines(current)
    assert previous is None
    assert "Starting retail-backend v1.4.2" in text[0] and "Started retail-backend in" in text[-1]
    assert not [line for line in text if re.search("error", line, re.IGNORECASE)]  # verify's default log_pattern
    assert analyse_logs("\n".join(text)) == []


@pytest.mark.parametrize("image", ["registry.example.com/retail-backend:1.1.0-log-errors",
                                   "127.0.0.1:5000/team/retail-backend:log-errors"])
def test_a_log_errors_tag_logs_database_errors_after_a_normal_start(kubelet: ModuleType, image: str) -> None:
    current, previous = kubelet.content(image, "retail-backend", 8080, START)
    text = lines(current)
    assert previous is None
    assert any("Started retail-backend" in line for line in text)
    assert len([line for line in text if " ERROR 1 --- " in line]) == 3
    assert [(f.cause, f.detail) for f in analyse_logs("\n".join(text))] == [
        (DB_CONNECTION, "cannot connect to MongoDB at mongodb:27017 (timed out)")]


def test_a_crashloop_tag_fails_to_start_now_and_before(kubelet: ModuleType) -> None:
    current, previous = kubelet.content("registry.example.com/retail-backend:2.0.0-crashloop", "retail-backend",
                                        8080, START)
    assert previous is not None
    for text in (lines(current), lines(previous)):
        assert "APPLICATION FAILED TO START" in text
        assert [(f.cause, f.subject) for f in analyse_logs("\n".join(text))] == [(MISSING_ENV, "MONGODB_URI")]
    assert previous < current  # the previous container ran earlier


def test_the_tag_rule_reads_the_tag_only(kubelet: ModuleType) -> None:
    # a registry or repository named like a rule does not make a healthy image fail
    current, previous = kubelet.content("log-errors.example.com/crashloop/backend:1.0.0", "backend", 8080, START)
    assert previous is None and "Started backend" in lines(current)[-1]
    untagged, _ = kubelet.content("backend", "backend", 9090, START)
    assert "Starting backend vlatest" in lines(untagged)[0] and "port 9090" in lines(untagged)[2]
