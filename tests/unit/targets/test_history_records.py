"""The audit record's release (per service version before/after, serving colour) and its table:
what `rollback.history` shows and what `rollback.undo` goes back to."""

from __future__ import annotations

import json

from retail_deploy.targets import Serving, history


def entry(action: str, result: str, before: dict[str, Serving], after: dict[str, Serving], **extra: str) -> dict:
    data = {"action": action, "result": result, "start": "2026-11-26T04:00:00Z", "who": "bob",
            "release": history.release_changes(before, after, list(before)), **extra}
    return json.loads(json.dumps(data))  # as stored: JSON


BLUE_1 = {"backend": Serving("1.0.0", "blue"), "web": Serving("1.0.0")}
GREEN_2 = {"backend": Serving("2.0.0", "green"), "web": Serving("2.0.0")}


def test_release_changes_round_trip_through_a_record():
    record = entry("deploy", "succeeded", BLUE_1, GREEN_2, version="2.0.0")
    assert record["release"]["backend"] == {"before": "1.0.0", "after": "2.0.0", "colour_before": "blue",
                                            "colour_after": "green"}
    assert history.recorded_release(record, "before") == BLUE_1
    assert history.recorded_release(record, "after") == GREEN_2


def test_last_change_skips_attempts_that_changed_nothing():
    deploy = entry("deploy", "succeeded", BLUE_1, GREEN_2, version="2.0.0")
    refused = entry("deploy", "rolled-back", GREEN_2, GREEN_2, version="3.0.0")
    interrupted = entry("deploy", "interrupted", GREEN_2, GREEN_2, version="3.0.0")
    assert history.last_change([deploy, refused, interrupted]) is deploy
    undo = entry("rollback-undo", "succeeded", GREEN_2, BLUE_1, version="1.0.0")
    assert history.last_change([deploy, undo]) is undo  # a second undo goes forward again
    assert history.last_change([deploy, undo], deploys_only=True) is deploy  # automatic: the last deploy
    assert history.last_change([entry("deploy", "succeeded", GREEN_2, GREEN_2)]) is None
    only_web = entry("deploy", "succeeded", {"web": Serving("2.0.0")}, {"web": Serving("2.1.0")})
    assert history.last_change([deploy, only_web], "backend") is deploy


def test_table_shows_each_kind_of_record_with_versions_and_colours():
    records = [
        entry("deploy", "succeeded", BLUE_1, GREEN_2, version="2.0.0", strategy="blue-green"),
        entry("deploy", "rolled-back", GREEN_2, GREEN_2, version="3.0.0", strategy="blue-green"),
        entry("deploy", "succeeded", GREEN_2, GREEN_2, version="2.0.0", forced="hotfix 42"),
        entry("deploy", "interrupted", GREEN_2, GREEN_2, version="3.0.0"),
        entry("rollback-automatic", "succeeded", GREEN_2, BLUE_1, version="1.0.0", strategy="release"),
        entry("rollback-blue-green", "succeeded", {"backend": Serving("2.0.0", "green")},
              {"backend": Serving("1.0.0", "blue")}, version="1.0.0"),
        entry("rollback-undo", "failed", BLUE_1, BLUE_1, version="0.9.0"),
        # a blue-green rollback record written before releases were recorded: colour as version
        {"action": "rollback-blue-green", "version": "blue", "result": "succeeded", "previous": {"backend": "green"}},
    ]
    rows = history.format_history(records).splitlines()
    header = rows[0].split()
    version_at = rows[0].index("VERSION")
    assert header == ["START", "END", "ACTION", "VERSION", "STRATEGY", "RESULT", "SERVICES", "WHO"]
    versions = [row[version_at:].split()[0] if row[version_at:].strip() else "" for row in rows[1:]]
    assert versions[:7] == ["2.0.0", "3.0.0", "2.0.0", "3.0.0", "1.0.0", "1.0.0", "0.9.0"]
    assert "backend 1.0.0->2.0.0 [blue->green], web 1.0.0->2.0.0" in rows[1]
    assert "rolled-back" in rows[2] and "backend 2.0.0 [green], web 2.0.0" in rows[2]
    assert "deploy (forced)" in rows[3]
    assert "interrupted" in rows[4]
    assert "rollback-automatic" in rows[5] and "backend 2.0.0->1.0.0 [green->blue]" in rows[5]
    assert "backend 2.0.0->1.0.0 [green->blue]" in rows[6]
    assert "failed" in rows[7] and "backend 1.0.0 [blue]" in rows[7]  # the release stayed
    assert rows[8][version_at:version_at + len("VERSION")].strip() == ""  # never a colour in VERSION
