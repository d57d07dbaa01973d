"""The suite shares one Docker engine with every other run on the machine (other clones' suites,
CI beside them): a test removes only what it made. These checks read the test and benchmark sources,
so a new cleanup that would delete shared things fails here before it flakes someone else's build."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for p in [*(REPO / "tests").rglob("*.py"), *(REPO / "benchmarks").rglob("*.py")]
                 if p != Path(__file__).resolve())
HELPER = REPO / "tests" / "services.py"


def _calls(pattern: str) -> list[str]:
    found = []
    for path in SOURCES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(pattern, line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    return found


def test_images_are_removed_without_pruning_their_parents() -> None:
    """An image's untagged parents are the engine's build cache, shared by every build of the same
    steps: pruning them made a concurrent build fail ("failed to set parent ...: unknown parent
    image ID"). Tests remove images through tests/services.py remove_images (noprune=True)."""
    sdk = [c for c in _calls(r"images\.remove\(") if "noprune=True" not in c]
    cli = [c for c in _calls(r"[\"']rmi[\"']") if "--no-prune" not in c]
    assert sdk == [] and cli == []


def test_nothing_prunes_the_shared_engine() -> None:
    assert _calls(r"\.prune\(|[\"']prune[\"']|system prune") == []


def test_one_place_removes_images_in_the_tests() -> None:
    """The helper, and the helper's own test (which removes the cache entry of its unique step)."""
    in_tests = {c.split(":")[0] for c in _calls(r"images\.remove\(") if c.startswith("tests/")}
    assert in_tests == {str(HELPER.relative_to(REPO)), "tests/integration/test_services.py"}
