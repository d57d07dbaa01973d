"""Troubleshooting: run the runbook's diagnostic kubectl commands and name the likely cause.

Three layers, each testable alone:
- analysers: pure functions from recorded kubectl output (describe, logs, events, top, pods and
  certificates JSON) to `Finding`s (missing environment variable, database connection failure,
  OOMKilled, failed startup, certificate expiring ...);
- diagnoses (`crashloop`, `errors`, `db`, `latency`, `certs`): which read-only commands to run,
  through a `probe` callable (the Runner's, at the execution boundary), assembled into a `Report`;
- the report: text for the terminal, saved to a file, remedies printed as exact commands.

Nothing here changes the cluster: remedies are returned as Commands for the task to run only with
`--fix` and confirmation.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retail_deploy.commands import Command
from retail_deploy.commands import kubectl as k
from retail_deploy.commands.kubectl import Kube
from retail_deploy.errors import CommandFailed, OperationFailed, RetailDeployError, says_no_answer
from retail_deploy.kube.probes import PodFacts, live_deployment, parse_cpu, parse_memory, parse_pods
from retail_deploy.redact import redact  # evidence quotes logs, which may print a MONGODB_URI

if TYPE_CHECKING:
    from retail_deploy.execute import Runner
    from retail_deploy.kube.settings import KubeEnv

# Named causes (the report's vocabulary).
MISSING_ENV = "missing environment variable"
DB_CONNECTION = "database connection failure"
CONNECTION_POOL = "connection pool exhausted"
OOM_KILLED = "OOMKilled"
OUT_OF_MEMORY = "out of memory (JVM heap)"
STARTUP_FAILURE = "failed startup"
CRASH_LOOP = "container keeps crashing"
PROBE_FAILURE = "health probe failing"
IMAGE_PULL = "image cannot be pulled"
UNSCHEDULABLE = "pods cannot be scheduled"
CPU_SATURATED = "CPU saturated"
MEMORY_NEAR_LIMIT = "memory near limit"
CERT_EXPIRED = "certificate expired"
CERT_EXPIRING = "certificate expiring"
CERT_NOT_READY = "certificate not ready"
DEPENDENCY_DOWN = "dependency down"

# Most specific first: the first finding of a report is its "likely cause".
_RANK = [MISSING_ENV, DB_CONNECTION, OOM_KILLED, OUT_OF_MEMORY, IMAGE_PULL, CONNECTION_POOL, DEPENDENCY_DOWN,
         STARTUP_FAILURE, CERT_EXPIRED, CERT_NOT_READY, CERT_EXPIRING, CPU_SATURATED, MEMORY_NEAR_LIMIT,
         UNSCHEDULABLE, PROBE_FAILURE, CRASH_LOOP]


@dataclass(frozen=True)
class Finding:
    """A named cause, what the evidence says, and the line that shows it."""

    cause: str
    detail: str
    evidence: str = ""
    source: str = ""
    subject: str = ""  # the pod, container, certificate or dependency it is about

    def line(self) -> str:
        text = f"{self.cause}: {self.detail}"
        if self.evidence:
            text += f"\n    evidence ({self.source or 'output'}): {self.evidence}"
        return text


def rank(findings: Iterable[Finding]) -> list[Finding]:
    """Most specific cause first; duplicates (same cause and detail) dropped."""
    unique: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        unique.setdefault((finding.cause, finding.detail), finding)
    order = {cause: i for i, cause in enumerate(_RANK)}
    return sorted(unique.values(), key=lambda f: order.get(f.cause, len(order)))


# --- kubectl describe pod ------------------------------------------------------------------------

@dataclass
class ContainerState:
    name: str
    state: str = ""
    state_reason: str = ""
    last_state: str = ""
    last_reason: str = ""
    last_exit_code: int | None = None
    restarts: int = 0
    memory_limit: str = ""


def parse_describe_pod(text: str) -> tuple[str, list[ContainerState], list[str]]:
    """(pod name, container states, event lines) from `kubectl describe pod` output."""
    name = ""
    containers: list[ContainerState] = []
    events: list[str] = []
    section = ""
    current: ContainerState | None = None
    block = ""  # which sub-block of a container we are in: state, last, limits
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line:
            continue
        if not line.startswith(" "):
            section = line.split(":", 1)[0]
            if section == "Name" and not name:
                name = line.split(":", 1)[1].strip()
            continue
        if section in ("Containers", "Init Containers"):
            match = re.match(r"^  (\S[^:]*):$", line)
            if match:
                current = ContainerState(match.group(1))
                containers.append(current)
                block = ""
                continue
            if current is None:
                continue
            key, _, value = line.strip().partition(":")
            value = value.strip()
            indent = len(line) - len(line.lstrip())
            if indent == 4:
                block = {"State": "state", "Last State": "last", "Limits": "limits"}.get(key, "")
                if key == "State":
                    current.state = value
                elif key == "Last State":
                    current.last_state = value
                elif key == "Restart Count":
                    current.restarts = int(value or 0)
            elif indent >= 6:
                if block == "state" and key == "Reason":
                    current.state_reason = value
                elif block == "last" and key == "Reason":
                    current.last_reason = value
                elif block == "last" and key == "Exit Code":
                    current.last_exit_code = int(value)
                elif block == "limits" and key == "memory":
                    current.memory_limit = value
        elif section == "Events" and not line.strip().startswith(("Type ", "----")):
            events.append(line.strip())
    return name, containers, events


def analyse_describe_pod(text: str) -> list[Finding]:
    pod, containers, events = parse_describe_pod(text)
    source = f"kubectl describe pod {pod}"
    findings: list[Finding] = []
    for c in containers:
        where = f"container {c.name} of pod {pod}"
        if c.last_reason == "OOMKilled" or (c.last_exit_code == 137 and c.last_reason != "Error"):
            limit = f" of {c.memory_limit}" if c.memory_limit else ""
            findings.append(Finding(
                OOM_KILLED, f"{where} was killed for exceeding its memory limit{limit} "
                f"(exit code {c.last_exit_code}, restarted {c.restarts} times); raise the memory limit "
                "or lower the JVM heap (-Xmx) below it",
                f"Last State: Terminated, Reason: {c.last_reason}, Exit Code: {c.last_exit_code}", source, pod))
        elif c.state_reason == "CrashLoopBackOff" or c.restarts >= 3:
            exit_text = f"exits with code {c.last_exit_code}" if c.last_exit_code is not None else "keeps exiting"
            findings.append(Finding(
                CRASH_LOOP, f"{where} {exit_text} (restarted {c.restarts} times); its previous logs "
                "show why", f"State: {c.state} ({c.state_reason}), Last State: {c.last_state} "
                f"({c.last_reason})", source, pod))
        if c.state_reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
            findings.append(Finding(IMAGE_PULL, f"{where} cannot pull its image ({c.state_reason})",
                                    f"Reason: {c.state_reason}", source, pod))
        if c.state_reason == "CreateContainerConfigError":
            missing = [e for e in events if _CONFIG_MISSING.search(e)]
            detail = _CONFIG_MISSING.search(missing[-1]) if missing else None
            what = detail.group(0) if detail else "a referenced Secret or ConfigMap key is missing"
            findings.append(Finding(
                MISSING_ENV, f"{where} cannot start: {what} (its environment variables come from it)",
                _event_message(missing[-1]) if missing else f"Reason: {c.state_reason}", source, pod))
    # Events repeat what the container states already showed; keep only causes they add.
    known = {f.cause for f in findings}
    findings += [f for f in analyse_event_lines(events, source, default_subject=pod) if f.cause not in known]
    return rank(findings)


_CONFIG_MISSING = re.compile(
    r"couldn't find key \S+ in (?:Secret|ConfigMap) \S+|(?:secret|configmap) \"[^\"]+\" not found")


def _event_message(line: str) -> str:
    # describe's event columns: Type Reason Age From Message (Age may contain spaces: "2m (x3 over 5m)").
    match = re.match(r"^(Normal|Warning)\s+\S+\s+.*?\s{2,}\S+\s{2,}(.*)$", line)
    return match.group(2) if match else line


# --- kubectl get events --------------------------------------------------------------------------

def analyse_events(text: str) -> list[Finding]:
    """Findings from `kubectl get events` (table output)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("LAST SEEN")]
    return rank(analyse_event_lines(lines, "kubectl get events"))


def analyse_event_lines(lines: Sequence[str], source: str, default_subject: str = "") -> list[Finding]:
    findings: list[Finding] = []
    for line in lines:
        subject_match = re.search(r"\b(pod|node)/(\S+)", line)
        subject = subject_match.group(2) if subject_match else default_subject
        if "OOMKilling" in line or "Memory cgroup out of memory" in line:
            findings.append(Finding(OOM_KILLED, f"the kernel killed a process for memory on {subject or 'a node'}",
                                    _tail(line), source, subject))
        elif re.search(r"(Liveness|Readiness|Startup) probe failed", line):
            kind = re.search(r"(Liveness|Readiness|Startup) probe failed", line).group(1)  # type: ignore[union-attr]
            findings.append(Finding(PROBE_FAILURE, f"{kind.lower()} probe failing on {subject or 'a pod'}",
                                    _tail(line), source, subject))
        elif "FailedScheduling" in line or "nodes are available" in line:
            why = "not enough memory on the nodes" if "Insufficient memory" in line else \
                "not enough CPU on the nodes" if "Insufficient cpu" in line else "no node fits"
            findings.append(Finding(UNSCHEDULABLE, f"{subject or 'a pod'} cannot be scheduled: {why}",
                                    _tail(line), source, subject))
        elif "ErrImagePull" in line or "ImagePullBackOff" in line or "Failed to pull image" in line:
            findings.append(Finding(IMAGE_PULL, f"{subject or 'a pod'} cannot pull its image", _tail(line),
                                    source, subject))
        elif _CONFIG_MISSING.search(line):
            findings.append(Finding(MISSING_ENV, f"{subject or 'a pod'}: {_CONFIG_MISSING.search(line).group(0)}",  # type: ignore[union-attr]
                                    _tail(line), source, subject))
    return findings


def _tail(line: str, limit: int = 240) -> str:
    text = " ".join(line.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- application logs --------------------------------------------------------------------------

_MISSING_ENV_PATTERNS = [
    re.compile(r"Could not resolve placeholder '([A-Z][A-Z0-9_]*)'"),
    re.compile(r"(?:[Ee]nvironment variable|env var)\s+'?([A-Z][A-Z0-9_]*)'?\s+(?:is\s+)?(?:not set|missing|"
               r"undefined|required)"),
    re.compile(r"[Mm]issing (?:required )?environment variable:?\s+'?([A-Z][A-Z0-9_]*)"),
]
_DB_PATTERNS = [
    (re.compile(r"MongoTimeoutException|MongoSocketOpenException|MongoSocket\w*Exception|"
                r"Timed out after \d+ ms while waiting (?:to connect|for a server)|"
                r"MongoServerSelectionError|MongoNetworkError|ECONNREFUSED \S+:27017"), "MongoDB"),
    (re.compile(r"RedisConnectionException|Unable to connect to Redis|RedisConnectionFailureException|"
                r"Cannot get Jedis connection"), "Redis"),
    (re.compile(r"NoNodeAvailableException|ElasticsearchException.*Connection refused|"
                r"Connection refused.*9200"), "Elasticsearch"),
    (re.compile(r"Communications link failure|PSQLException: Connection to \S+ refused|"
                r"Connection to \S+ refused\. Check that the hostname and port are correct"), "SQL database"),
]
_POOL = re.compile(r"HikariPool-\d+ - Connection is not available|connection pool (?:is )?exhausted|"
                   r"MongoWaitQueueFullException|Timeout waiting for connection from pool", re.IGNORECASE)
_ADDRESS = re.compile(r"address=([\w.-]+:\d+)|(?:Unable to connect to|ECONNREFUSED) ([\w.-]+(?::\d+)?)")


def analyse_logs(text: str, source: str = "kubectl logs") -> list[Finding]:
    """Findings from application logs (Spring Boot, Mongo/Redis drivers, Node front ends)."""
    text = redact(text)
    lines = text.splitlines()
    findings: list[Finding] = []
    for line in lines:
        for pattern in _MISSING_ENV_PATTERNS:
            match = pattern.search(line)
            if match:
                findings.append(Finding(MISSING_ENV, f"{match.group(1)} is not set in the container's environment",
                                        _tail(line), source, match.group(1)))
                break
        for pattern, database in _DB_PATTERNS:
            if pattern.search(line):
                address = _ADDRESS.search(line)
                where = f" at {address.group(1) or address.group(2)}" if address else ""
                refused = " (connection refused)" if "Connection refused" in line or "ECONNREFUSED" in line else \
                    " (timed out)" if "Timed out" in line or "timed out" in line else ""
                findings.append(Finding(DB_CONNECTION, f"cannot connect to {database}{where}{refused}",
                                        _tail(line), source, database))
                break
        if _POOL.search(line):
            findings.append(Finding(CONNECTION_POOL, "requests wait for a free database connection "
                                    "(pool exhausted): slow queries or a pool too small", _tail(line), source))
        if "java.lang.OutOfMemoryError" in line:
            findings.append(Finding(OUT_OF_MEMORY, "the JVM ran out of heap", _tail(line), source))
    findings = _most_detailed_per_database(findings)
    specific = {f.cause for f in findings} & {MISSING_ENV, DB_CONNECTION}
    if not specific:
        startup = _startup_failure(lines)
        if startup:
            findings.append(Finding(STARTUP_FAILURE, startup[0], startup[1], source))
    # Same cause seen on many lines: keep one finding per (cause, detail).
    return rank(findings)


def _most_detailed_per_database(findings: list[Finding]) -> list[Finding]:
    """One database-connection finding per database: the one naming the most (address, reason)."""
    best: dict[str, Finding] = {}
    for f in findings:
        if f.cause == DB_CONNECTION and len(f.detail) > len(best.get(f.subject, Finding("", "")).detail):
            best[f.subject] = f
    return [f for f in findings if f.cause != DB_CONNECTION or best.get(f.subject) is f]


def _startup_failure(lines: list[str]) -> tuple[str, str] | None:
    for i, line in enumerate(lines):
        if "APPLICATION FAILED TO START" in line:
            description = _after(lines, i, "Description:")
            description = description.rstrip(":")
            return f"the application failed to start: {description or 'see the logs'}", _tail(line.strip("* "))
    for i, line in enumerate(lines):
        if "Application run failed" in line or "Error starting ApplicationContext" in line:
            cause = next((ln.strip() for ln in lines[i + 1:] if ln.strip() and not ln.startswith(("\t", " "))), "")
            return f"the application failed to start: {_tail(cause, 160) or 'see the logs'}", _tail(line)
    return None


def _after(lines: list[str], index: int, marker: str) -> str:
    for j in range(index, len(lines)):
        if lines[j].strip() == marker:
            return next((ln.strip() for ln in lines[j + 1:] if ln.strip()), "")
    return ""


_NORMALISE = re.compile(r"\b\d+\b|\b[0-9a-f]{8,}\b")
# `--prefix` pod name, then an ISO timestamp.
_TIMESTAMP = re.compile(r"^(?:\[[^\]]+\]\s+)?\S*\d{4}-\d{2}-\d{2}[T ][\d:.]+Z?\s+")
# Spring Boot's console format: LEVEL PID --- [thread] logger : message
_SPRING = re.compile(r"^(?P<level>[A-Z]+)\s+\d+\s+---\s+\[[^\]]*\]\s+(?P<logger>\S+)\s*:\s*(?P<msg>.*)$")


def summarize_errors(text: str, limit: int = 10) -> list[tuple[int, str]]:
    """Error lines grouped by their message with numbers masked, most frequent first.

    The runbook's `kubectl logs ... | grep -i error`, counted: 300 copies of one error and one
    rare error both show up.
    """
    counts: Counter[str] = Counter()
    for line in redact(text).splitlines():
        if not re.search(r"error|exception", line, re.IGNORECASE) or line.startswith(("\t", "    at ")):
            continue
        message = _TIMESTAMP.sub("", line.strip())
        spring = _SPRING.match(message)
        if spring:
            message = f"{spring['level']} {spring['logger']}: {spring['msg']}"
        counts[_NORMALISE.sub("#", message)[:300]] += 1
    return sorted(((n, msg) for msg, n in counts.items()), key=lambda item: (-item[0], item[1]))[:limit]


# --- pods (read by probes.parse_pods), kubectl top pods ----------------------------------------------

def crashlooping(pods: Iterable[PodFacts]) -> list[PodFacts]:
    """Pods worth describing: crash-looping or not ready, most restarts first."""
    return sorted((p for p in pods if p.waiting_reason == "CrashLoopBackOff" or p.unhealthy),
                  key=lambda p: (-(p.waiting_reason == "CrashLoopBackOff"), -p.restarts, p.name))


@dataclass(frozen=True)
class PodUsage:
    name: str
    cpu_millicores: int
    memory_mib: float


def parse_top(text: str) -> list[PodUsage]:
    """`kubectl top pods` table -> usage rows."""
    rows: list[PodUsage] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[0] == "NAME":
            continue
        rows.append(PodUsage(parts[0], parse_cpu(parts[1]), parse_memory(parts[2])))
    return rows


def analyse_top(usage: Sequence[PodUsage], pods: Sequence[PodFacts] = (), threshold: float = 0.9) -> list[Finding]:
    """Pods using at least `threshold` of their CPU or memory limit (limits from `parse_pods`)."""
    limits = {p.name: p for p in pods}
    findings: list[Finding] = []
    for row in usage:
        pod = limits.get(row.name)
        if pod is None:
            continue
        if pod.cpu_limit_millicores and row.cpu_millicores >= threshold * pod.cpu_limit_millicores:
            share = row.cpu_millicores / pod.cpu_limit_millicores
            findings.append(Finding(CPU_SATURATED, f"{row.name} uses {row.cpu_millicores}m of its "
                                    f"{pod.cpu_limit_millicores}m CPU limit ({share:.0%}): scale out",
                                    f"{row.name} {row.cpu_millicores}m", "kubectl top pods", row.name))
        if pod.memory_limit_mib and row.memory_mib >= threshold * pod.memory_limit_mib:
            share = row.memory_mib / pod.memory_limit_mib
            findings.append(Finding(MEMORY_NEAR_LIMIT, f"{row.name} uses {row.memory_mib:g}Mi of its "
                                    f"{pod.memory_limit_mib:g}Mi memory limit ({share:.0%}): OOMKill is near",
                                    f"{row.name} {row.memory_mib:g}Mi", "kubectl top pods", row.name))
    return rank(findings)


# --- cert-manager certificates -----------------------------------------------------------------

@dataclass(frozen=True)
class CertStatus:
    name: str
    dns_names: tuple[str, ...]
    not_after: datetime | None
    ready: bool
    reason: str = ""
    message: str = ""
    renewal_time: datetime | None = None

    def days_left(self, now: datetime) -> float | None:
        return None if self.not_after is None else (self.not_after - now).total_seconds() / 86400


def parse_certificates(text: str) -> list[CertStatus]:
    """`kubectl get certificates -o json` (cert-manager.io/v1) -> CertStatus rows."""
    document = json.loads(text)
    items = document.get("items", [document]) if isinstance(document, dict) else []
    certs: list[CertStatus] = []
    for item in items:
        status = item.get("status", {})
        ready: dict[str, Any] = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), {})
        certs.append(CertStatus(
            name=item.get("metadata", {}).get("name", ""),
            dns_names=tuple(item.get("spec", {}).get("dnsNames", []) or []),
            not_after=_timestamp(status.get("notAfter")),
            ready=ready.get("status") == "True",
            reason=ready.get("reason", ""),
            message=ready.get("message", ""),
            renewal_time=_timestamp(status.get("renewalTime")),
        ))
    return certs


def analyse_certificates(certs: Sequence[CertStatus], now: datetime, days: int = 14) -> list[Finding]:
    """Expired, expiring within `days`, or not Ready certificates."""
    findings: list[Finding] = []
    source = "kubectl get certificates"
    far = datetime.max.replace(tzinfo=UTC)
    for cert in sorted(certs, key=lambda c: c.not_after or far):  # soonest expiry first
        names = ", ".join(cert.dns_names) or cert.name
        left = cert.days_left(now)
        expiry = cert.not_after.strftime("%Y-%m-%d %H:%M UTC") if cert.not_after else "?"
        if left is not None and left <= 0:
            findings.append(Finding(CERT_EXPIRED, f"{cert.name} ({names}) expired on {expiry}",
                                    f"notAfter={expiry} Ready={cert.ready} {cert.message}".strip(), source, cert.name))
        elif left is not None and left <= days:
            stuck = cert.renewal_time is not None and cert.renewal_time <= now
            why = "; its renewal time has passed, so renewal is stuck" if stuck else ""
            findings.append(Finding(CERT_EXPIRING, f"{cert.name} ({names}) expires in {left:.1f} days, "
                                    f"on {expiry}{why}", f"notAfter={expiry}", source, cert.name))
        if not cert.ready and not (left is not None and left <= 0):
            findings.append(Finding(CERT_NOT_READY, f"{cert.name} ({names}) is not Ready: "
                                    f"{cert.reason or 'unknown'}: {cert.message}".rstrip(": "),
                                    f"Ready=False reason={cert.reason}", source, cert.name))
    return rank(findings)


def _timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text)  # Python 3.11 reads the trailing Z


# --- actuator dependency health ----------------------------------------------------------------

def analyse_actuator(component: str, stdout: str, exit_code: int | None) -> tuple[bool, Finding | None]:
    """The answer of `/actuator/health/<component>`: (healthy, finding when not)."""
    try:
        document = json.loads(stdout) if stdout.strip() else {}
    except ValueError:
        document = {}
    status = document.get("status") if isinstance(document, dict) else None
    if exit_code == 0 and status == "UP":
        return True, None
    details = document.get("details", {}) if isinstance(document, dict) else {}
    error = details.get("error", "") if isinstance(details, dict) else ""
    what = f"status {status}" if status else f"no answer (exit code {exit_code})"
    detail = f"{component} is {what}" + (f": {redact(str(error))[:200]}" if error else "")
    return False, Finding(DEPENDENCY_DOWN, detail, _tail(redact(stdout)) if stdout.strip() else "",
                          f"/actuator/health/{component}", component)


# --- MongoDB db.stats() ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DbStats:
    """What the server's `dbStats` command said about the application's database (sizes in bytes)."""

    database: str
    collections: int
    objects: int
    data_size: float
    indexes: int
    ok: bool
    error: str = ""

    def summary(self) -> str:
        return (f"MongoDB database {self.database or '?'} answered db.stats(): {self.collections} collection(s), "
                f"{self.objects} document(s), {self.data_size / 1024:.0f} KiB of data, {self.indexes} index(es).")


def _stat_number(value: object) -> float:
    """A dbStats number: plain JSON, or Extended JSON ({"$numberLong": "123"}) when a shell prints it so."""
    if isinstance(value, dict):
        value = next((value[k] for k in ("$numberInt", "$numberLong", "$numberDouble", "$numberDecimal")
                      if k in value), None)
    if not isinstance(value, str | int | float):
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def parse_db_stats(text: str) -> DbStats | None:
    """The document `mongosh --quiet --eval "JSON.stringify(db.stats())"` printed; None when there is none.

    mongosh may print warnings first: the last line that is a JSON object is the answer.
    """
    for line in reversed(text.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "ok" not in document:
            continue
        return DbStats(database=str(document.get("db", "")),
                       collections=int(_stat_number(document.get("collections"))),
                       objects=int(_stat_number(document.get("objects"))),
                       data_size=_stat_number(document.get("dataSize")),
                       indexes=int(_stat_number(document.get("indexes"))),
                       ok=_stat_number(document.get("ok")) == 1,
                       error=str(document.get("errmsg", "")))
    return None


def analyse_db_stats(stdout: str, subject: str) -> tuple[DbStats | None, Finding | None]:
    """mongosh exited 0: did the server answer db.stats() with ok: 1? (stats, finding when not)."""
    stats = parse_db_stats(stdout)
    if stats is not None and stats.ok:
        return stats, None
    detail = (f"db.stats() from {subject} failed: {redact(stats.error)[:200] or 'ok is not 1'}" if stats
              else f"mongosh from {subject} printed no db.stats() answer")
    return stats, Finding(DB_CONNECTION, detail, _tail(redact(stdout)) if stdout.strip() else "", "mongosh", "MongoDB")


# --- report ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProbeOutput:
    """What a read-only command printed (the Runner's Result, reduced)."""

    stdout: str
    stderr: str = ""
    exit_code: int | None = 0


Probe = Callable[[Command], ProbeOutput]


@dataclass(frozen=True)
class Section:
    title: str
    command: str  # the command as displayed (secrets masked)
    output: str
    exit_code: int | None = 0


@dataclass
class Report:
    kind: str
    environment: str
    where: str
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    sections: list[Section] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    remedies: list[Command] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Evidence that could not be read ("what (why)"): a read that got no answer, or that the
    # diagnosis needed and failed. With no finding, the report concludes nothing (never "no cause").
    unread: list[str] = field(default_factory=list)

    @property
    def likely_cause(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    @property
    def inconclusive(self) -> bool:
        """No cause found, and some evidence was not read: not an all-clear (the task exits 5)."""
        return not self.findings and bool(self.unread)

    def summary(self) -> list[str]:
        """The lines printed on the terminal: findings and remedies, not the raw outputs."""
        out = [f"troubleshoot.{self.kind} on {self.environment} ({self.where})"]
        if self.findings:
            first, *rest = self.findings
            out.append(f"Likely cause: {first.line()}")
            out += [f"Also seen: {f.line()}" for f in rest]
        elif self.unread:
            out.append("No conclusion: the evidence could not be read (this is not an all-clear).")
        else:
            out.append("No known cause found in the evidence; read the collected output in the report.")
        out += [f"Could not read: {what}" for what in self.unread]
        out += self.notes
        if self.remedies:
            out.append("Remedies (read-only run: apply with --fix, you will be asked to confirm):")
            out += [f"$ {c.display()}" for c in self.remedies]
        return out

    def render(self) -> str:
        lines = [f"# troubleshoot.{self.kind}: {self.environment}",
                 f"# {self.where}, {self.created.strftime('%Y-%m-%dT%H:%M:%SZ')}", ""]
        lines += self.summary()
        for section in self.sections:
            status = "" if section.exit_code == 0 else \
                f"  [exit {section.exit_code}]" if section.exit_code is not None else "  [timed out]"
            lines += ["", f"## {section.title}", f"$ {section.command}{status}", redact(section.output).rstrip()]
        return "\n".join(lines) + "\n"

    def default_path(self, directory: str | Path = "reports") -> Path:
        stamp = self.created.strftime("%Y%m%dT%H%M%SZ")
        return Path(directory) / f"troubleshoot-{self.kind}-{self.environment}-{stamp}.txt"

    def save(self, output: str | Path | None = None, directory: str | Path = "reports") -> Path:
        """Write the full report to `output`, else `<directory>/troubleshoot-<kind>-<env>-<time>.txt`."""
        path = Path(output) if output else self.default_path(directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(), encoding="utf-8")
        return path


class _Collector:
    """Runs read-only commands through `probe` and records each output as a report section."""

    def __init__(self, probe: Probe, report: Report):
        self.probe = probe
        self.report = report

    def run(self, title: str, command: Command, *, needed: bool = False) -> ProbeOutput:
        """Run one read; a read that got no answer (or, when `needed`, failed at all) is unread evidence."""
        output = self.probe(command)
        text = output.stdout
        if output.stderr.strip():
            text = (text + "\n" if text else "") + output.stderr
        self.report.sections.append(Section(title, command.display(), text, output.exit_code))
        if output.exit_code != 0 and (needed or output.exit_code is None or says_no_answer(text)):
            said = [ln for ln in (output.stderr or output.stdout).splitlines() if ln.strip()]
            # kubectl's last line is its verdict ("The connection to the server ... was refused");
            # the lines before it are client-side logging.
            why = "timed out" if output.exit_code is None else _tail(redact(said[-1] if said else "no output"), 160)
            self.report.unread.append(f"{title} ({why})")
        return output


def serving_deployment(probe: Probe, kenv: KubeEnv, service: str) -> str:
    """The deployment that serves `service` now: its own, or for the blue-green service the colour
    the Service selects (probes.live_deployment, the one colour reader; the idle colour may be
    scaled to zero). When the Service cannot be read, the first colour of the config is assumed."""
    bg = kenv.blue_green
    if bg is None or service != bg.service:
        return kenv.service(service).deployment
    try:
        return live_deployment(_RaisingProbe(probe), kenv, service)
    except RetailDeployError:  # diagnose anyway: the report shows the failed read
        return next(iter(bg.deployments.values()))


@dataclass(frozen=True)
class _RaisingProbe:
    """A Probe seen as probes.ProbeRunner: a failed read raises, as Runner.probe does."""

    read: Probe

    def probe(self, command: Command) -> ProbeOutput:
        out = self.read(command)
        if out.exit_code != 0:
            raise OperationFailed(f"{command.display()} failed: {_tail(out.stderr or out.stdout)}")
        return out


def runner_probe(runner: Runner) -> Probe:
    """Adapt the execution boundary's `Runner.probe` to a Probe: failures become output, not errors."""

    def probe(command: Command) -> ProbeOutput:
        try:
            result = runner.probe(command, check=False)
        except CommandFailed as failure:  # timed out
            return ProbeOutput("", failure.detail or str(failure), None)
        return ProbeOutput(result.stdout, result.stderr, result.exit_code)

    return probe


def _new_report(kind: str, kube: Kube, environment: str) -> Report:
    return Report(kind, environment, f"context {kube.context}, namespace {kube.namespace}")


# --- the diagnoses (one per runbook "Common Issues" entry) --------------------------------------

def crashloop(probe: Probe, kube: Kube, environment: str, *, selector: str,
              pod: str | None = None, max_pods: int = 3) -> Report:
    """Runbook 1, Pod CrashLoopBackOff: describe + previous logs of the failing pods."""
    report = _new_report("crashloop", kube, environment)
    run = _Collector(probe, report).run
    pods = [pod] if pod else []
    overview: dict[str, PodFacts] = {}
    if not pod:
        listing = run(f"pods ({selector})", k.get_json(kube, "pods", selector=selector), needed=True)
        if listing.exit_code == 0:
            failing = crashlooping(parse_pods(listing.stdout))
            pods = [p.name for p in failing[:max_pods]]
            overview = {p.name: p for p in failing}
            if not pods:  # only a list that was read can say so
                report.notes.append(f"No crash-looping or unready pod matches {selector}.")
    for name in pods:
        described = run(f"describe pod {name}", k.describe_pod(kube, name))
        if described.exit_code == 0:
            report.findings += analyse_describe_pod(described.stdout)
        elif name in overview:  # describe failed: the pod list still shows the last termination
            report.findings += _pod_overview([overview[name]])
        previous = run(f"logs of {name} (previous container)", k.logs(kube, pod=name, previous=True, tail=200))
        if previous.exit_code == 0:
            report.findings += analyse_logs(previous.stdout, f"kubectl logs {name} --previous")
    report.findings = rank(report.findings)
    return report


def _pod_overview(failing: Sequence[PodFacts]) -> list[Finding]:
    return [Finding(OOM_KILLED, f"pod {p.name} was last killed for memory (exit code {p.last_exit_code})",
                    f"lastState.terminated.reason=OOMKilled restarts={p.restarts}", "kubectl get pods", p.name)
            for p in failing if p.last_terminated_reason == "OOMKilled"]


def errors(probe: Probe, kube: Kube, environment: str, *, selector: str, deployment: str,
           tail: int = 500, scale_to: int = 5) -> Report:
    """Runbook 2, High Error Rate: error lines (grouped), rollout history, pod resources."""
    report = _new_report("errors", kube, environment)
    run = _Collector(probe, report).run
    logs_out = run(f"logs ({selector}, last {tail} lines per pod)",
                   k.logs(kube, selector=selector, tail=tail, prefix=True))
    if logs_out.exit_code == 0:
        grouped = summarize_errors(logs_out.stdout)
        report.notes += ["Most frequent errors:"] + [f"  {n:>5} x {message}" for n, message in grouped] \
            if grouped else ["No error lines in the recent logs."]
        report.findings += analyse_logs(logs_out.stdout, "kubectl logs")
    run(f"rollout history of {deployment}", k.rollout_history(kube, deployment))
    _resources(run, report, kube, selector)
    if any(f.cause in (CPU_SATURATED, CONNECTION_POOL) for f in report.findings):
        report.remedies.append(k.scale(kube, deployment, scale_to))
    report.findings = rank(report.findings)
    return report


def db(probe: Probe, kube: Kube, environment: str, *, deployment: str, selector: str,
       components: Sequence[str] = ("mongo", "redis"), port: int = 8080) -> Report:
    """Runbook 3, Database Connection Issues: ping from the backend pod, pool messages in the logs."""
    report = _new_report("db", kube, environment)
    run = _Collector(probe, report).run
    for component in components:
        out = run(f"actuator health of {component}", k.actuator_health(kube, deployment, component, port))
        _healthy, finding = analyse_actuator(component, out.stdout, out.exit_code)
        if finding:
            report.findings.append(finding)
    mongo = run("MongoDB ping from the backend pod", k.mongo_ping(kube, deployment))
    if mongo.exit_code != 0:
        report.findings += analyse_logs(mongo.stdout + "\n" + mongo.stderr, "mongosh") or [
            Finding(DB_CONNECTION, f"mongosh from {deployment} failed (exit code {mongo.exit_code})",
                    _tail(redact(mongo.stderr or mongo.stdout)), "mongosh", "MongoDB")]
    else:
        stats, finding = analyse_db_stats(mongo.stdout, deployment)
        if finding:
            report.findings.append(finding)
        elif stats:
            report.notes.append(stats.summary())
    redis = run("Redis ping from the backend pod", k.redis_ping(kube, deployment))
    if redis.exit_code != 0 or "PONG" not in redis.stdout:
        report.findings.append(Finding(DB_CONNECTION, f"redis-cli ping from {deployment} did not answer PONG",
                                       _tail(redact(redis.stderr or redis.stdout)), "redis-cli", "Redis"))
    pool = run("connection pool messages", k.logs(kube, selector=selector, tail=2000, prefix=True))
    if pool.exit_code == 0:
        lines = [ln for ln in pool.stdout.splitlines() if "connection pool" in ln.lower() or _POOL.search(ln)]
        report.notes.append(f"{len(lines)} connection pool message(s) in the recent logs.")
        report.findings += analyse_logs(pool.stdout, "kubectl logs")
    report.findings = rank(report.findings)
    return report


def latency(probe: Probe, kube: Kube, environment: str, *, selector: str, deployment: str,
            mongo_deployment: str = "mongodb", redis_deployment: str = "redis", slow_seconds: int = 5,
            scale_to: int = 10) -> Report:
    """Runbook 4, High Latency: pod resources, slow MongoDB operations, Redis latency."""
    report = _new_report("latency", kube, environment)
    run = _Collector(probe, report).run
    _resources(run, report, kube, selector)
    slow = run(f"MongoDB operations running >= {slow_seconds}s", k.mongo_slow_ops(kube, mongo_deployment,
                                                                                  slow_seconds))
    if slow.exit_code == 0:
        try:
            operations = json.loads(slow.stdout or "[]")
        except ValueError:
            operations = []
        if isinstance(operations, list) and operations:
            report.notes.append(f"{len(operations)} MongoDB operation(s) running for {slow_seconds}s or more.")
    run("Redis latency (1 s sample)", k.redis_latency(kube, redis_deployment))
    if any(f.cause == CPU_SATURATED for f in report.findings):
        report.remedies.append(k.scale(kube, deployment, scale_to))
    report.findings = rank(report.findings)
    return report


def certs(probe: Probe, kube: Kube, environment: str, *, days: int = 14,
          now: datetime | None = None) -> Report:
    """Runbook 5, SSL/TLS: certificates expired, expiring within `days`, or not Ready."""
    now = now or datetime.now(UTC)
    report = _new_report("certs", kube, environment)
    run = _Collector(probe, report).run
    listing = run("certificates", k.get_json(kube, "certificates"))
    if listing.exit_code != 0:
        if not report.unread:  # the cluster answered: no Certificate kind here
            report.notes.append("Could not list certificates (is cert-manager installed in this cluster?).")
        return report
    statuses = parse_certificates(listing.stdout)
    report.findings = analyse_certificates(statuses, now, days)
    for name in sorted({f.subject for f in report.findings}):
        run(f"describe certificate {name}", k.describe_certificate(kube, name))
        report.remedies.append(k.delete_certificate(kube, name))
    if not report.findings:
        soonest = min((c for c in statuses if c.not_after), key=lambda c: c.not_after or now, default=None)
        report.notes.append(f"All {len(statuses)} certificates are Ready and valid for more than {days} days"
                            + (f" (soonest: {soonest.name}, {soonest.days_left(now):.0f} days)." if soonest else "."))
    return report


def _resources(run: Callable[[str, Command], ProbeOutput], report: Report, kube: Kube,
               selector: str) -> None:
    top = run("pod resource usage", k.top_pods(kube))
    pods = run(f"pod limits ({selector})", k.get_json(kube, "pods", selector=selector))
    if top.exit_code == 0 and pods.exit_code == 0:
        report.findings += analyse_top(parse_top(top.stdout), parse_pods(pods.stdout))

