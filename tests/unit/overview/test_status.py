"""`status`: the pure decision (healthy / unhealthy / could not find out), its rendering, the
change lines of --watch and the watch loop, from facts made here (no service needed)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from retail_deploy.health.checks import CheckResult, Endpoint
from retail_deploy.monitoring.monitor import CheckResult as TriggerCheck
from retail_deploy.monitoring.triggers import Reading, Sample, Trigger, evaluate_trigger
from retail_deploy.overview import render
from retail_deploy.overview.status import (
    UNFINISHED,
    Facts,
    PlatformStatus,
    decide,
    last_deploy,
)
from retail_deploy.targets import Serving
from retail_deploy.targets.history import LockInfo

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
SERVICES = ["backend", "web"]


def healthy_facts(**changes: object) -> Facts:
    facts = Facts(
        serving={"backend": Serving("1.4.2", "green", image="reg/retail-backend:1.4.2", ready=3, desired=3,
                                    since="2026-12-05T10:00:00Z"),
                 "web": Serving("1.4.2", image="reg/web:1.4.2", ready=2, desired=2, since="2026-12-05T11:58:00Z")},
        colours={"blue": "1.4.1", "green": "1.4.2"},
        lock=None,
        history=[{"action": "deploy", "version": "1.4.1", "who": "bob", "start": "2026-12-04T09:00:00Z",
                  "end": "2026-12-04T09:05:00Z", "result": "succeeded", "services": ["backend", "web"]},
                 {"action": "deploy", "version": "1.4.2", "who": "alice", "start": "2026-12-05T10:00:00Z",
                  "end": "2026-12-05T10:04:00Z", "result": "succeeded", "services": ["backend"]},
                 {"action": "rollback-undo", "version": "1.4.1", "who": "carol", "start": "x", "result": "failed"}],
        health=[check("backend", True), check("web", True)],
        triggers=TriggerCheck("production", "http://prom:9090", (reading("error_rate", 0.001),)),
        monitoring="http://prom:9090",
    )
    for key, value in changes.items():
        setattr(facts, key, value)
    return facts


def check(service: str, ok: bool) -> CheckResult:
    endpoint = Endpoint(f"http://{service}/health", f"{service} /health", service)
    return CheckResult(endpoint, ok, 200 if ok else 503, 0.01, 1, "" if ok else "HTTP 503")


def reading(name: str, value: float | None) -> Reading:
    """The monitor's own reading of a trigger above 5% for 5m (value None: no series), so these
    tests follow whatever words the monitor uses for its states."""
    trigger = Trigger(name, name.replace("_", " ").capitalize(), "q", "above", 0.05, 300)
    return evaluate_trigger(trigger, [] if value is None else [Sample({}, value)])


def production(facts: Facts):
    return decide("production", "kubernetes", "ctx/production", SERVICES, facts, NOW)


def test_a_healthy_environment_says_what_serves_where() -> None:
    env = production(healthy_facts())
    assert env.verdict == "healthy" and not env.problems and not env.unanswered
    backend, web = env.services
    assert (backend.version, backend.colour, backend.ready, backend.desired, backend.image, backend.health) == (
        "1.4.2", "green", 3, 3, "reg/retail-backend:1.4.2", "healthy")
    assert backend.last_deploy is not None and backend.last_deploy.who == "alice"
    assert web.last_deploy is not None and web.last_deploy.version == "1.4.1"  # the 1.4.2 deploy was backend only
    assert env.last_deploy is not None and env.last_deploy.version == "1.4.2"  # a rollback is not a deploy
    text = "\n".join(render.environment_lines(env, "2026-12-05T12:00:00Z"))
    assert "production (kubernetes, ctx/production): HEALTHY" in text
    assert "colours: blue 1.4.1, green 1.4.2 (live)" in text
    assert "lock: free" in text
    assert "2026-12-05T10:00:00Z (2h ago)" in text
    assert "1.4.2 by alice at 2026-12-05T10:04:00Z: succeeded" in text


def test_known_problems_make_it_unhealthy_and_each_is_named() -> None:
    facts = healthy_facts(
        serving={"backend": Serving("1.4.2", "green", ready=1, desired=3), "web": Serving(None)},
        health=[check("backend", False), check("web", True)],
        triggers=TriggerCheck("production", "p", (reading("error_rate", 0.2),)))
    env = production(facts)
    assert env.verdict == "unhealthy"
    assert env.problems == ("backend: 1/3 ready", "backend: health check failed (backend /health: HTTP 503)",
                            "web: not running", "rollback trigger firing: Error rate (> 5% for 5m)")
    assert [t.name for t in env.firing] == ["error_rate"]


def test_what_could_not_be_read_is_unknown_never_healthy() -> None:
    facts = healthy_facts(serving=None, errors={"serving": "the cluster did not answer"})
    env = production(facts)
    assert env.verdict == "unknown"
    assert env.unanswered == ("serving: the cluster did not answer",)
    assert env.services[0].version is None and env.services[0].health == "healthy"


def test_a_trigger_without_data_is_not_healthy_but_a_firing_one_wins() -> None:
    silent = healthy_facts(triggers=TriggerCheck("production", "p", (reading("p95_latency", None),)))
    assert production(silent).verdict == "unknown"
    assert production(silent).unanswered == (f"trigger P95 latency: {reading('p95_latency', None).state}",)
    both = healthy_facts(triggers=TriggerCheck("production", "p", (
        reading("p95_latency", None), reading("error_rate", 0.3))))
    assert production(both).verdict == "unhealthy"


def test_a_trigger_the_monitor_calls_verified_is_healthy_whatever_its_word() -> None:
    class Accepted(Reading):  # a monitor that accepts a trigger's no data says so on the reading
        @property
        def unverified(self) -> bool:
            return False

    silent = reading("payments", None)
    accepted = Accepted(silent.name, silent.title, None, silent.threshold, silent.state)
    facts = healthy_facts(triggers=TriggerCheck("production", "p", (accepted,)))
    assert production(facts).verdict == "healthy"
    assert production(facts).triggers[0].state == silent.state  # shown in the monitor's own word


def test_a_deploy_without_a_known_result_reads_in_progress_or_interrupted() -> None:
    records = [{"action": "deploy", "version": "2.0.0", "who": "dave", "start": "2026-12-05T11:59:00Z",
                "result": "running", "services": []}]
    deploy = last_deploy(records, "backend")
    assert deploy is not None and deploy.result == "running" and deploy.outcome == UNFINISHED
    assert render.deploy_cell(deploy) == "2.0.0 by dave at 2026-12-05T11:59:00Z: in progress or interrupted"
    env = production(healthy_facts(history=records))
    document = PlatformStatus("2026-12-05T12:00:00Z", (env,)).to_dict()
    assert document["environments"][0]["last_deploy"] == {
        "version": "2.0.0", "who": "dave", "start": "2026-12-05T11:59:00Z", "end": "", "result": "running",
        "outcome": UNFINISHED}


def test_the_lock_holder_is_shown_with_its_expiry() -> None:
    lock = LockInfo("erin@laptop", "id", "1.5.0", "blue-green", "2026-12-05T11:50:00Z", "2026-12-05T11:55:00Z")
    env = production(healthy_facts(lock=lock))
    assert env.lock is not None and env.lock.expired
    assert "lock: EXPIRED, held by erin@laptop (version 1.5.0" in "\n".join(render.environment_lines(env, ""))


def test_fields_a_target_adds_to_serving_are_shown_as_they_are() -> None:
    @dataclass(frozen=True)
    class ServingWithContainer(Serving):  # as a target may report which container serves
        container: str = ""

    facts = healthy_facts(serving={"backend": ServingWithContainer("1.4.2", container="retail-backend-7f3"),
                                   "web": Serving("1.4.2")})
    env = production(facts)
    assert env.services[0].extra == {"container": "retail-backend-7f3"}
    assert env.services[1].extra == {}
    assert "  backend container: retail-backend-7f3" in render.environment_lines(env, "")


def test_the_exit_code_is_the_worst_verdict_and_the_document_says_it() -> None:
    good = production(healthy_facts())
    silent = production(healthy_facts(serving=None, errors={"serving": "no answer"}))
    bad = production(healthy_facts(health=[check("backend", False)]))
    assert PlatformStatus("t", (good,)).exit_code == 0
    assert PlatformStatus("t", (good, silent)).exit_code == 5
    assert PlatformStatus("t", (silent, bad)).exit_code == 1
    document = PlatformStatus("t", (good, bad), 0.25).to_dict()
    json.dumps(document)  # plain types only
    assert (document["ok"], document["verdict"], document["exit_code"]) == (False, "unhealthy", 1)
    assert document["environments"][0]["firing"] == []
    assert document["environments"][0]["services"][0]["last_deploy"]["outcome"] == "succeeded"


def test_watch_lines_name_each_fact_that_changed() -> None:
    before = PlatformStatus("2026-12-05T12:00:00Z", (production(healthy_facts()),))
    changed = healthy_facts(serving={"backend": Serving("1.5.0", "blue", ready=3, desired=3),
                                     "web": Serving("1.4.2", ready=2, desired=2)},
                            lock=LockInfo("erin", "id", "1.5.0", "blue-green", "a", "2099-01-01T00:00:00Z"))
    after = PlatformStatus("2026-12-05T12:00:05Z", (production(changed),))
    assert render.changes(before, after) == [
        "2026-12-05T12:00:05Z production: lock: free -> held by erin (1.5.0)",
        "2026-12-05T12:00:05Z production backend: version: 1.4.2 (green) -> 1.5.0 (blue)",
    ]
    assert render.changes(after, after) == []


def test_watch_redraws_on_a_terminal_and_prints_changes_elsewhere() -> None:
    statuses = iter([PlatformStatus("t1", (production(healthy_facts()),)),
                     PlatformStatus("t2", (production(healthy_facts(health=[check("backend", False)])),)),
                     PlatformStatus("t3", (production(healthy_facts(health=[check("backend", False)])),))])
    slept: list[float] = []
    log = io.StringIO()
    last = render.watch(lambda: next(statuses), interval_s=2, out=log, redraw=False, count=3, sleep=slept.append,
                        clock=lambda: 0.0)
    assert last.checked_at == "t3" and last.exit_code == 1
    lines = log.getvalue().splitlines()
    assert "production (kubernetes, ctx/production): HEALTHY" in lines
    assert "t2 production: verdict: healthy -> unhealthy" in lines
    assert "t2 production backend: health: healthy -> unhealthy" in lines
    assert not any(line.startswith("t3") for line in lines)  # nothing changed on the third pass
    assert slept == [2.0, 4.0]  # ticks anchored to the start
    screen = io.StringIO()
    render.watch(lambda: PlatformStatus("t", (production(healthy_facts()),)), interval_s=1, out=screen,
                 redraw=True, count=2, sleep=lambda s: None)
    assert screen.getvalue().count(render.CLEAR) == 2


def test_age() -> None:
    assert render.age("2026-12-05T10:00:00Z", "2026-12-05T12:00:00Z") == "2h"
    assert render.age("2026-12-05T11:59:30Z", "2026-12-05T12:00:00Z") == "30s"
    assert render.age("", "2026-12-05T12:00:00Z") == ""
