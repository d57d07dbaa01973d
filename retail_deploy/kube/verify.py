"""`verify.<env>` for Kubernetes: the runbook's chapters 3 and 5 as one report.

Pods of each service, `kubectl rollout status` with a timeout, health checks on the
environment's URLs, `/api/v1/version` equal to the deployed version, and recent backend logs
scanned for errors (counted, first lines shown). One screen; OperationFailed (exit 1) if any
check fails.

Pods and logs are those of the deployment that serves (for the blue-green service, the colour the
Service selects), selected by that deployment's own selector: the idle colour (or a plain
`app=` label both colours share) must not fail, or pass, a healthy production's verification.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from retail_deploy.commands import cmd, kubectl
from retail_deploy.errors import RetailDeployError, clip, says_no_answer
from retail_deploy.health import verification
from retail_deploy.kube import probes, rollouts
from retail_deploy.kube.settings import KubeEnv, ServiceTarget, kube_env
from retail_deploy.targets import Check, history

if TYPE_CHECKING:
    from retail_deploy.config import EnvironmentConfig, PlatformConfig
    from retail_deploy.execute import Runner

VERIFY_ROLLOUT_TIMEOUT_S = 120.0
SHOWN_LOG_LINES = 5


Row = Check  # one row of the report: the seam's check (retail_deploy.targets)


@dataclass
class VerifyReport:
    env: str
    rows: list[Row] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # service -> version expected to serve

    @property
    def version(self) -> str:
        """The one version every service runs, or "" when they differ."""
        found = set(self.versions.values())
        return found.pop() if len(found) == 1 else ""

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def unanswered(self) -> str | None:
        """What the cluster said when no cluster read got an answer (then nothing is known about
        the deployments: exit 5, not 1); None when it answered."""
        cluster = [row for row in self.rows if row.check in ("deployment", "pods", "rollout")]
        if cluster and all(not row.ok and says_no_answer(row.detail) for row in cluster):
            return cluster[0].detail
        return None

    def add(self, check: str, target: str, ok: bool, detail: str) -> None:
        self.rows.append(Row(check, target, ok, detail))

    def render(self) -> str:
        rows = [("CHECK", "TARGET", "RESULT", "DETAIL")] + [
            (r.check, r.target, "ok" if r.ok else "FAIL", r.detail) for r in self.rows]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        out = [f"Verification of {self.env}"]
        out += ["  ".join([*(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)), r[3][:100]]).rstrip()
                for r in rows]
        out += [f"  | {line[:160]}" for line in self.log_lines]
        failed = sum(not r.ok for r in self.rows)
        out.append(f"{len(self.rows) - failed} of {len(self.rows)} checks passed"
                   + ("" if not failed else f"; {failed} FAILED"))
        return "\n".join(out)


def verify(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, version: str | None = None,
           services: Sequence[str] | None = None) -> VerifyReport:
    """`services`: the ones expected at `version` (a deploy of some services only); the others are
    checked against the version they run. None: every service."""
    kenv = kube_env(cfg, env)
    report = VerifyReport(kenv.name)
    expected: dict[str, str | None] = {}
    serving: dict[str, tuple[str, str]] = {}  # service -> (serving deployment, its pods' label selector)
    # The reads of every service at once (docs/performance.md, "Many services"): one list of
    # Services (live colours), one of deployments, one of pods, one poll loop for the rollouts.
    live = probes.live_deployments(runner, kenv)
    try:
        found = probes.deployments(runner, kenv.kube, [d for d in live.values() if isinstance(d, str)])
        read_error = ""
    except RetailDeployError as exc:
        found, read_error = {}, str(exc).splitlines()[0][:200]
    checked: list[tuple[ServiceTarget, str, probes.DeploymentFacts, str]] = []  # target, deployment, facts, image
    for target in kenv.services:
        want = version if services is None or target.name in services else None
        name = live[target.name]
        if isinstance(name, Exception) or read_error or name not in found:
            detail = (str(name) if isinstance(name, Exception) else read_error
                      or f"deployment {name} not found in {kenv.kube.namespace}")
            report.add("deployment", target.name, False, detail.splitlines()[0][:200])
            continue
        dep = found[name]
        image = dep.image(target.container) or next(iter(dep.images.values()), "")
        expected[target.name] = want or probes.image_tag(image)
        labels = ",".join(f"{k}={v}" for k, v in sorted(dep.selector_labels.items())) or target.selector
        serving[target.name] = (name, labels)
        checked.append((target, name, dep, image))
    pods: list[probes.PodFacts] | RetailDeployError = []
    if checked:
        try:
            pods = probes.all_pods(runner, kenv.kube)
        except RetailDeployError as exc:
            pods = exc
    states: dict[str, str] = {}  # deployment -> "" when rolled out, else why not
    if checked and not runner.dry:
        try:
            timeout = min(VERIFY_ROLLOUT_TIMEOUT_S, kenv.rollout_timeout_s)
            for state in rollouts.settle(runner, kenv.kube, [c[1] for c in checked], timeout, quiet=True,
                                         first=found):
                states[state.deployment] = "" if state.state == "complete" else f"{state.state}: {state.message}"
        except RetailDeployError as exc:
            states = dict.fromkeys((c[1] for c in checked), str(exc).splitlines()[0][-120:])
    for target, name, dep, image in checked:
        want = version if services is None or target.name in services else None
        if isinstance(pods, RetailDeployError):
            report.add("pods", name, False, str(pods).splitlines()[0][:200])
        else:
            selector = dict(dep.selector_labels) or {"app": target.app_label}
            mine = [p for p in pods if p.matches(selector)]
            bad = [f"{p.name} {p.problem}" for p in mine if p.problem]
            ready = sum(p.ready for p in mine)
            report.add("pods", name, bool(mine) and not bad and ready >= dep.replicas,
                       f"{ready}/{dep.replicas} ready" + (f"; {', '.join(bad)[:80]}" if bad else ""))
        why = states.get(name, "")
        report.add("rollout", name, not why, f"complete ({probes.image_tag(image)})" if not why else why[:120])
        if want and probes.image_tag(image) != want:
            report.add("image", name, False, f"runs {image}, expected tag {want}")
    report.versions = {name: tag for name, tag in expected.items() if tag}
    _health(runner, cfg, env, report)
    versions = []
    for target in kenv.services:
        path = getattr(cfg.services[target.name], "version_path", None)
        base = kenv.urls.get(target.name)
        want = expected.get(target.name)
        if not (path and base and want):
            continue
        runner.announce(cmd("curl", "-fsS", base.rstrip("/") + path, read_only=True))
        versions.append((base.rstrip("/") + path, base, path, want))
    if versions and not runner.dry:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(16, len(versions)), thread_name_prefix="version") as pool:
            got = list(pool.map(lambda v: verification.served_version(v[1], v[2]), versions))
        for (url, _, _, want), answer in zip(versions, got, strict=True):
            report.add("version", url, answer == want, f"{answer!r} (expected {want!r})")
    _scan_logs(runner, kenv, report, serving)
    return report


def _health(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, report: VerifyReport) -> None:
    """The runbook's health checks on the environment's URLs, concurrently."""
    from retail_deploy.health.checks import check_endpoints

    endpoints = verification.health_endpoints(cfg, env)
    for endpoint in endpoints:
        runner.announce(cmd(*endpoint.curl(verification.HTTP_TIMEOUT_S), read_only=True))
    if runner.dry or not endpoints:
        return
    for result in check_endpoints(endpoints, timeout=verification.HTTP_TIMEOUT_S, retries=1):
        detail = f"HTTP {result.status}" if result.ok else (result.error or f"HTTP {result.status}")
        report.add("health", result.endpoint.url, result.ok, detail)


def _scan_logs(runner: Runner, kenv: KubeEnv, report: VerifyReport, serving: dict[str, tuple[str, str]]) -> None:
    """`serving`: service -> (deployment, label selector) of what serves it, as found above; a
    service whose deployment could not be read is already reported failed and is not scanned.
    `kube.log_tail: 0` scans no line, so it reads none: no `kubectl logs` at all (no check)."""
    if kenv.log_tail == 0:
        return
    names = [kenv.blue_green.service] if kenv.blue_green else [t.name for t in kenv.services][:1]
    pattern = re.compile(kenv.log_pattern, re.IGNORECASE)
    for name in names:
        if name not in serving:
            continue
        deployment, labels = serving[name]
        try:
            text = runner.probe(kubectl.logs(kenv.kube, labels, kenv.log_tail)).stdout
        except RetailDeployError as exc:
            report.add("logs", deployment, False, clip(str(exc).splitlines()[0], 200))
            continue
        hits = [line for line in text.splitlines() if pattern.search(line)]
        report.add("logs", deployment, len(hits) <= kenv.log_max_errors,
                   f"{len(hits)} error line(s) in the last {kenv.log_tail} lines per pod")
        report.log_lines += hits[:SHOWN_LOG_LINES]


def record(runner: Runner, cfg: PlatformConfig, env: EnvironmentConfig, report: VerifyReport) -> None:
    """Keep the verification in the deploy history: the production checklist asks whether the
    version was verified on staging."""
    if runner.dry:
        return
    now = history.iso(history.utcnow())
    history.record(runner, kube_env(cfg, env).kube, {
        "action": "verify", "env": report.env, "version": report.version, "versions": report.versions,
        "result": "passed" if report.ok else "failed", "start": now, "end": now, "who": history.whoami()})
