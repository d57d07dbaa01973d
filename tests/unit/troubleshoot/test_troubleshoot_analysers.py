"""Troubleshooting analysers on recorded real-format kubectl output (tests/fixtures/kubectl)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from retail_deploy.kube import probes
from retail_deploy.troubleshoot import diagnose as t

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kubectl"
NOW = datetime(2026, 11, 26, 4, 30, tzinfo=UTC)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def causes(findings: list[t.Finding]) -> list[str]:
    return [f.cause for f in findings]


def test_describe_oomkilled_pod():
    findings = t.analyse_describe_pod(fixture("describe-pod-oomkilled.txt"))
    assert causes(findings) == [t.OOM_KILLED]
    assert findings[0].subject == "retail-backend-7c9f6d8b5d-x2kqp"
    assert "memory limit of 512Mi" in findings[0].detail
    assert "restarted 7 times" in findings[0].detail


def test_describe_crashloop_with_exit_code_1_points_at_the_logs():
    findings = t.analyse_describe_pod(fixture("describe-pod-crashloop-error.txt"))
    assert causes(findings) == [t.CRASH_LOOP]
    assert "exits with code 1" in findings[0].detail


def test_describe_missing_secret_key_is_a_missing_environment_variable():
    findings = t.analyse_describe_pod(fixture("describe-pod-config-error.txt"))
    assert causes(findings) == [t.MISSING_ENV]
    assert "couldn't find key jwt-secret in Secret staging/retail-backend-secrets" in findings[0].detail


@pytest.mark.parametrize("name, cause, detail", [
    ("logs-previous-missing-env.txt", t.MISSING_ENV, "JWT_SECRET is not set in the container's environment"),
    ("logs-previous-mongo-refused.txt", t.DB_CONNECTION,
     "cannot connect to MongoDB at mongodb-prod-0.mongodb:27017 (connection refused)"),
    ("logs-previous-startup-failure.txt", t.STARTUP_FAILURE,
     ("the application failed to start: Failed to bind properties under 'retail.payments.timeout' "
     "to java.time.Duration")),
])
def test_previous_logs_name_the_cause(name, cause, detail):
    findings = t.analyse_logs(fixture(name))
    assert [(f.cause, f.detail) for f in findings] == [(cause, detail)]


def test_logs_redact_credentials_in_evidence():
    log = ("ERROR 1 --- [main] o.m.d.cluster : com.mongodb.MongoTimeoutException: Timed out after 30000 ms "
           "while waiting to connect to mongodb://retail:s3cr3t-pw@mongodb-0:27017/retail")
    (finding,) = t.analyse_logs(log)
    assert finding.cause == t.DB_CONNECTION
    assert "s3cr3t-pw" not in finding.evidence and "mongodb://retail:***@mongodb-0" in finding.evidence


def test_events_name_oom_probes_and_scheduling():
    findings = t.analyse_events(fixture("events-production.txt"))
    assert causes(findings) == [t.OOM_KILLED, t.UNSCHEDULABLE, t.PROBE_FAILURE, t.PROBE_FAILURE]
    assert "not enough memory on the nodes" in findings[1].detail


def test_error_lines_are_grouped_most_frequent_first():
    grouped = t.summarize_errors(fixture("logs-errors-tail500.txt"))
    assert [n for n, _ in grouped] == [3, 2, 1]
    assert "PaymentGatewayException" in grouped[0][1]
    assert grouped[1][1].startswith("ERROR o.h.engine.jdbc.spi.SqlExceptionHelper: HikariPool-# - Connection")
    assert causes(t.analyse_logs(fixture("logs-errors-tail500.txt"))) == [t.CONNECTION_POOL]


def test_pods_json_finds_the_crash_looping_pod_and_limits():
    pods = probes.parse_pods(fixture("pods-retail-backend.json"))
    assert [(p.name, p.ready, p.restarts) for p in pods] == [
        ("retail-backend-7c9f6d8b5d-x2kqp", False, 7),
        ("retail-backend-7c9f6d8b5d-zq5vw", True, 0),
        ("retail-backend-7c9f6d8b5d-9fj3m", True, 2),
    ]
    (failing,) = t.crashlooping(pods)
    assert (failing.waiting_reason, failing.last_terminated_reason, failing.last_exit_code) == ("CrashLoopBackOff",
                                                                                   "OOMKilled", 137)
    assert (failing.cpu_limit_millicores, failing.memory_limit_mib) == (1000, 512)


def test_top_against_limits_flags_saturated_pods_only():
    usage = t.parse_top(fixture("top-pods-production.txt"))
    assert usage[0] == t.PodUsage("mongodb-0", 412, 2871)
    findings = t.analyse_top(usage, probes.parse_pods(fixture("pods-retail-backend.json")))
    assert sorted((f.cause, f.subject) for f in findings) == [
        (t.CPU_SATURATED, "retail-backend-7c9f6d8b5d-9fj3m"),
        (t.CPU_SATURATED, "retail-backend-7c9f6d8b5d-x2kqp"),
        (t.MEMORY_NEAR_LIMIT, "retail-backend-7c9f6d8b5d-9fj3m"),
        (t.MEMORY_NEAR_LIMIT, "retail-backend-7c9f6d8b5d-x2kqp"),
    ]


@pytest.mark.parametrize("text, millicores", [("250m", 250), ("1", 1000), ("1.5", 1500), ("2000000n", 2)])
def test_parse_cpu(text, millicores):
    assert probes.parse_cpu(text) == millicores


@pytest.mark.parametrize("text, mib", [("512Mi", 512), ("1Gi", 1024), ("2048Ki", 2), ("1048576", 1)])
def test_parse_memory(text, mib):
    assert probes.parse_memory(text) == mib


def test_certificates_expired_expiring_and_not_ready():
    findings = t.analyse_certificates(t.parse_certificates(fixture("certificates-production.json")), NOW, days=14)
    assert [(f.cause, f.subject) for f in findings] == [
        (t.CERT_EXPIRED, "admin-example-com"),
        (t.CERT_NOT_READY, "grafana-example-com"),
        (t.CERT_EXPIRING, "www-example-com"),
    ]
    assert "expires in 3.3 days" in findings[2].detail and "renewal is stuck" in findings[2].detail


def test_certificate_window_is_the_days_option():
    certs = t.parse_certificates(fixture("certificates-production.json"))
    wide = [f.subject for f in t.analyse_certificates(certs, NOW, days=40) if f.cause == t.CERT_EXPIRING]
    assert wide == ["www-example-com", "api-example-com"]
    narrow = [f.subject for f in t.analyse_certificates(certs, NOW, days=2) if f.cause == t.CERT_EXPIRING]
    assert narrow == []


def test_actuator_answers():
    assert t.analyse_actuator("mongo", '{"status":"UP"}', 0) == (True, None)
    healthy, finding = t.analyse_actuator(
        "mongo", '{"status":"DOWN","details":{"error":"com.mongodb.MongoTimeoutException: Timed out"}}', 22)
    assert not healthy and finding is not None
    assert finding.detail == "mongo is status DOWN: com.mongodb.MongoTimeoutException: Timed out"
    healthy, finding = t.analyse_actuator("redis", "", 7)
    assert not healthy and finding is not None and finding.detail == "redis is no answer (exit code 7)"


def test_error_groups_span_pods_with_kubectl_prefixes():
    log = "\n".join([
        "[pod/retail-backend-7c9f6d8b5d-x2kqp/retail-backend] 2026-11-26T04:10:01.533Z ERROR 1 --- "
        "[nio-8080-exec-7] c.e.retail.payments.PaymentService : PayPal returned 503 for order 81234",
        "[pod/retail-backend-7c9f6d8b5d-zq5vw/retail-backend] 2026-11-26T04:10:02.870Z ERROR 1 --- "
        "[nio-8080-exec-9] c.e.retail.payments.PaymentService : PayPal returned 503 for order 81237",
        "[pod/retail-backend-7c9f6d8b5d-zq5vw/retail-backend] 2026-11-26T04:10:03.001Z  INFO 1 --- "
        "[nio-8080-exec-1] c.e.retail.web.RequestLoggingFilter : GET /api/v1/cart 200 12ms",
    ])
    assert t.summarize_errors(log) == [
        (2, "ERROR c.e.retail.payments.PaymentService: PayPal returned # for order #")]


# tests/fixtures/mongo/dbstats-ferretdb*.json are a real server's dbStats answers: FerretDB v1.24.2
# (scripts/mongo-up.sh; it reports MongoDB 7.0.42), recorded through pymongo as relaxed Extended JSON
# (the numbers as plain JSON, as mongosh's JSON.stringify(db.stats()) prints them) on a database of
# 3 collections, 171 documents and one unique index; the error is its answer to dbStats with scale 0.
# mongosh itself cannot be installed here, so its own framing (a warning line first) is added below.
MONGO_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mongo"


def test_db_stats_recorded_from_a_real_server_is_a_healthy_answer():
    answer = "Warning: Could not access file: ENOENT: no such file or directory, mkdir '/.mongodb'\n" + \
        (MONGO_FIXTURES / "dbstats-ferretdb.json").read_text()
    stats, finding = t.analyse_db_stats(answer, "retail-backend-blue")
    assert finding is None
    assert stats == t.DbStats(database="retail", collections=3, objects=171, data_size=45056, indexes=4, ok=True)
    assert stats.summary() == ("MongoDB database retail answered db.stats(): 3 collection(s), 171 document(s), "
                               "44 KiB of data, 4 index(es).")


def test_db_stats_error_answer_from_a_real_server_is_a_database_finding():
    stats, finding = t.analyse_db_stats((MONGO_FIXTURES / "dbstats-ferretdb-error.json").read_text(), "retail-backend")
    assert stats is not None and not stats.ok
    assert finding is not None and finding.cause == t.DB_CONNECTION
    assert finding.detail == ("db.stats() from retail-backend failed: "
                              "BSON field 'scale' value must be >= 1, actual value '0'")


def test_db_stats_numbers_as_extended_json_and_no_answer_at_all():
    stats = t.parse_db_stats('{"db":"retail","collections":{"$numberLong":"12"},"objects":{"$numberLong":"48210"},'
                             '"dataSize":{"$numberDouble":"2048.0"},"indexes":15,"ok":1}')
    assert stats == t.DbStats("retail", 12, 48210, 2048.0, 15, True)
    stats, finding = t.analyse_db_stats("Current Mongosh Log ID: 6745\n", "retail-backend")
    assert stats is None and finding is not None
    assert finding.detail == "mongosh from retail-backend printed no db.stats() answer"
