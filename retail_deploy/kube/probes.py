"""Read-only facts about the cluster: each probe is a command plus a pure parser.

Parsers take the JSON text kubectl/helm print (`-o json`) and return small frozen dataclasses;
they are tested from recorded real-format output in tests/fixtures/kube/. Probes run even in a
dry run (`runner.probe`), because the plan depends on them (active colour, current image).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from retail_deploy.commands import Command, kubectl
from retail_deploy.commands import helm as helm_cmd
from retail_deploy.commands.kubectl import Kube
from retail_deploy.errors import OperationFailed, RetailDeployError

if TYPE_CHECKING:
    from retail_deploy.kube.settings import KubeEnv

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
PENDING_PREFIX = "pending-"


class ProbeResult(Protocol):
    """What a probe printed (execute.Result, troubleshoot.ProbeOutput)."""

    @property
    def stdout(self) -> str: ...


class ProbeRunner(Protocol):
    """Runs a read-only command, also in a dry run (execute.Runner)."""

    def probe(self, command: Command) -> ProbeResult: ...


# --- facts ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeploymentFacts:
    name: str
    images: dict[str, str]  # container name -> image
    replicas: int
    ready: int
    updated: int
    available: int
    revision: int | None
    generation: int
    observed_generation: int
    progress_deadline_exceeded: bool
    selector_labels: dict[str, str] = field(default_factory=dict)
    # When its rollout last progressed (the Progressing condition's lastUpdateTime): once the
    # rollout is complete, when the running pod template started serving.
    since: str = ""
    status_replicas: int = 0  # pods of every ReplicaSet (old ones pending termination included)

    def image(self, container: str) -> str | None:
        return self.images.get(container)

    @property
    def complete(self) -> bool:
        """The controller has seen the newest spec and every wanted replica is updated and ready."""
        return (self.observed_generation >= self.generation and self.updated >= self.replicas
                and self.ready >= self.replicas and self.available >= self.replicas)


@dataclass(frozen=True)
class Revision:
    revision: int
    images: dict[str, str]
    created: str
    change_cause: str
    replicas: int


@dataclass(frozen=True)
class PodFacts:
    """One pod as `kubectl get pods -o json` shows it: the one pod reader of the verify and the
    troubleshooting paths (containers summed, the worst state kept)."""

    name: str
    phase: str
    ready: bool
    restarts: int
    waiting_reason: str  # e.g. CrashLoopBackOff, ImagePullBackOff; "" when running
    last_terminated_reason: str  # e.g. OOMKilled
    last_exit_code: int | None = None
    cpu_limit_millicores: int | None = None  # None unless every container has a limit
    memory_limit_mib: float | None = None
    labels: dict[str, str] = field(default_factory=dict)  # to filter one namespace list in pure code

    def matches(self, selector: dict[str, str]) -> bool:
        """The pod carries every label of `selector` (a matchLabels selector)."""
        return all(self.labels.get(k) == v for k, v in selector.items())

    @property
    def problem(self) -> str:
        if self.waiting_reason:
            return self.waiting_reason
        if self.phase not in ("Running", "Succeeded"):
            return self.phase
        if not self.ready:
            return "NotReady"
        return ""

    @property
    def unhealthy(self) -> bool:
        return self.problem != ""


@dataclass(frozen=True)
class HelmRelease:
    name: str
    status: str  # deployed, failed, superseded, pending-install, pending-upgrade, pending-rollback, ...
    revision: int
    description: str

    @property
    def pending(self) -> bool:
        return self.status.startswith(PENDING_PREFIX)


@dataclass(frozen=True)
class HelmRevision:
    revision: int
    status: str
    app_version: str
    description: str


# --- pure parsers --------------------------------------------------------------------------

def _load(text: str, what: str) -> Any:  # noqa: ANN401 - kubectl/helm JSON: the parsers below read it key by key
    try:
        return json.loads(text)
    except ValueError as exc:
        raise OperationFailed(f"could not parse {what} (not JSON: {exc}); is kubectl/helm up to date?") from exc


def image_tag(image: str) -> str:
    """The tag of an image reference (`registry:5000/repo:1.4.2` -> `1.4.2`; digest refs -> digest)."""
    if "@" in image:
        return image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def _deployment(obj: dict[str, Any]) -> DeploymentFacts:
    meta = obj.get("metadata", {})
    spec = obj.get("spec", {})
    status = obj.get("status", {}) or {}
    containers = spec.get("template", {}).get("spec", {}).get("containers", [])
    revision = meta.get("annotations", {}).get(REVISION_ANNOTATION)
    conditions = status.get("conditions", []) or []
    deadline = any(c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded"
                   for c in conditions)
    since = next((str(c.get("lastUpdateTime") or "") for c in conditions if c.get("type") == "Progressing"), "")
    return DeploymentFacts(
        name=meta.get("name", ""),
        images={c["name"]: c.get("image", "") for c in containers},
        replicas=int(spec.get("replicas", 1)),
        ready=int(status.get("readyReplicas", 0)),
        updated=int(status.get("updatedReplicas", 0)),
        available=int(status.get("availableReplicas", 0)),
        revision=int(revision) if revision else None,
        generation=int(meta.get("generation", 0)),
        observed_generation=int(status.get("observedGeneration", 0)),
        progress_deadline_exceeded=deadline,
        selector_labels=dict(spec.get("selector", {}).get("matchLabels", {}) or {}),
        since=since,
        status_replicas=int(status.get("replicas", 0)),
    )


def parse_deployment(text: str) -> DeploymentFacts:
    """`kubectl get deployment NAME -o json`."""
    return _deployment(_load(text, "deployment"))


def parse_deployments(text: str) -> dict[str, DeploymentFacts]:
    """`kubectl get deployments -o json` (a List) -> by name."""
    data = _load(text, "deployments")
    items = data.get("items", [data]) if isinstance(data, dict) else []
    facts = [_deployment(item) for item in items]
    return {f.name: f for f in facts}


def parse_selector(text: str) -> dict[str, str]:
    """`kubectl get service NAME -o json` -> its selector."""
    return dict(_load(text, "service").get("spec", {}).get("selector", {}) or {})


def parse_selectors(text: str) -> dict[str, dict[str, str]]:
    """`kubectl get services -o json` (a List) -> Service name -> its selector."""
    data = _load(text, "services")
    items = data.get("items", [data]) if isinstance(data, dict) else []
    return {item.get("metadata", {}).get("name", ""): dict(item.get("spec", {}).get("selector", {}) or {})
            for item in items}


def active_colour(selector: dict[str, str], key: str, colours: dict[str, str]) -> str | None:
    """Which colour the Service selects. The selector value may be the colour (`green`, as the
    runbook patches it) or the colour's deployment name; None if it selects neither."""
    value = selector.get(key)
    for colour, deployment in colours.items():
        if value in (colour, deployment):
            return colour
    return None


def parse_revisions(text: str, deployment: str) -> list[Revision]:
    """`kubectl get replicasets -l ... -o json` -> the deployment's revisions, oldest first.

    `rollout history` prints a table only; the ReplicaSets carry the same facts (revision
    annotation, pod template, change-cause) in a parseable form. ReplicaSets owned by other
    deployments (same labels) are ignored.
    """
    data = _load(text, "replicasets")
    revisions = []
    for item in data.get("items", []):
        meta = item.get("metadata", {})
        owners = [o.get("name") for o in meta.get("ownerReferences", []) or [] if o.get("kind") == "Deployment"]
        if deployment not in owners:
            continue
        annotations = meta.get("annotations", {}) or {}
        if REVISION_ANNOTATION not in annotations:
            continue
        containers = item.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        revisions.append(Revision(
            revision=int(annotations[REVISION_ANNOTATION]),
            images={c["name"]: c.get("image", "") for c in containers},
            created=meta.get("creationTimestamp", ""),
            change_cause=annotations.get(CHANGE_CAUSE_ANNOTATION, ""),
            replicas=int(item.get("spec", {}).get("replicas", 0) or 0),
        ))
    return sorted(revisions, key=lambda r: r.revision)


def parse_pods(text: str) -> list[PodFacts]:
    """`kubectl get pods -l ... -o json` (a List, or one pod's object)."""
    data = _load(text, "pods")
    pods = []
    for item in data.get("items", [data]) if isinstance(data, dict) else []:
        status = item.get("status", {}) or {}
        statuses = status.get("containerStatuses", []) or []
        waiting = next((s["state"]["waiting"].get("reason", "") for s in statuses
                        if "waiting" in (s.get("state") or {})), "")
        last: dict[str, Any] = next((s["lastState"]["terminated"] for s in statuses
                                     if "terminated" in (s.get("lastState") or {})), {})
        limits = [(c.get("resources", {}) or {}).get("limits", {}) or {}
                  for c in item.get("spec", {}).get("containers", [])]
        cpu = [parse_cpu(limit["cpu"]) for limit in limits if "cpu" in limit]
        memory = [parse_memory(limit["memory"]) for limit in limits if "memory" in limit]
        pods.append(PodFacts(
            name=item.get("metadata", {}).get("name", ""),
            phase=status.get("phase", "Unknown"),
            ready=bool(statuses) and all(s.get("ready") for s in statuses),
            restarts=sum(int(s.get("restartCount", 0)) for s in statuses),
            waiting_reason=waiting,
            last_terminated_reason=last.get("reason", ""),
            last_exit_code=last.get("exitCode"),
            cpu_limit_millicores=sum(cpu) if cpu and len(cpu) == len(limits) else None,
            memory_limit_mib=sum(memory) if memory and len(memory) == len(limits) else None,
            labels=dict(item.get("metadata", {}).get("labels", {}) or {}),
        ))
    return pods


def parse_cpu(text: str) -> int:
    """Kubernetes CPU quantity -> millicores ("250m" -> 250, "1" -> 1000, "1.5" -> 1500)."""
    text = text.strip()
    if text.endswith("m"):
        return int(float(text[:-1]))
    if text.endswith("n"):
        return int(float(text[:-1]) / 1_000_000)
    return int(float(text) * 1000)


# Bytes per unit of a Kubernetes memory quantity (binary and decimal suffixes).
_MEMORY_UNITS = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4,
                 "k": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "T": 1000 ** 4}


def parse_memory(text: str) -> float:
    """Kubernetes memory quantity -> MiB ("512Mi" -> 512, "1Gi" -> 1024, "1G" -> 953.67)."""
    text = text.strip()
    for unit in ("Ki", "Mi", "Gi", "Ti", "k", "M", "G", "T"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * _MEMORY_UNITS[unit] / 1024 ** 2
    return float(text) / 1024 ** 2


def parse_configmap(text: str) -> tuple[dict[str, str], str]:
    """`kubectl get configmap NAME -o json` -> (data, resourceVersion)."""
    obj = _load(text, "configmap")
    return dict(obj.get("data", {}) or {}), str(obj.get("metadata", {}).get("resourceVersion", ""))


def parse_helm_status(text: str) -> HelmRelease:
    """`helm status REL -o json`."""
    obj = _load(text, "helm status")
    info = obj.get("info", {}) or {}
    return HelmRelease(name=obj.get("name", ""), status=info.get("status", "unknown"),
                       revision=int(obj.get("version", 0)), description=info.get("description", ""))


def parse_helm_history(text: str) -> list[HelmRevision]:
    """`helm history REL -o json`."""
    return [HelmRevision(int(r.get("revision", 0)), r.get("status", ""), r.get("app_version", ""),
                         r.get("description", "")) for r in _load(text, "helm history")]


def pending_recovery(release: HelmRelease, history: list[HelmRevision], namespace: str,
                     context: str | None) -> Command:
    """The command that unblocks a release stuck in `pending-*` (Helm refuses every upgrade with
    "another operation (install/upgrade/rollback) is in progress" until then): roll back to the
    newest good revision, or uninstall a release whose first install never finished."""
    good = [r.revision for r in history if r.status in ("deployed", "superseded")
            and r.revision != release.revision]
    if release.status == "pending-install":
        return helm_cmd.uninstall(release.name, namespace=namespace, context=context)
    if good:
        return helm_cmd.rollback(release.name, max(good), namespace=namespace, context=context)
    # an upgrade of a release with no good revision left: its workloads still run, so never
    # advise uninstall (it deletes them); go back to the revision before the pending one
    earlier = [r.revision for r in history if r.revision < release.revision]
    return helm_cmd.rollback(release.name, max(earlier) if earlier else None, namespace=namespace, context=context)


# --- probes (command + parser) -------------------------------------------------------------

def _stdout(result: ProbeResult) -> str:
    return getattr(result, "stdout", "") or ""


def deployment(runner: ProbeRunner, kube: Kube, name: str) -> DeploymentFacts:
    return parse_deployment(_stdout(runner.probe(kubectl.get_json(kube, "deployment", name))))


def deployments(runner: ProbeRunner, kube: Kube, names: list[str]) -> dict[str, DeploymentFacts]:
    """The deployments of `names` that exist, from ONE list of the namespace filtered here:
    `kubectl get deployment a b c` sends one request per name, and kubectl throttles itself after
    ten (docs/performance.md, "Many services"). A missing name is absent from the result."""
    if not names:
        return {}
    found = parse_deployments(_stdout(runner.probe(kubectl.get_json(kube, "deployments"))))
    return {name: found[name] for name in dict.fromkeys(names) if name in found}


def selector(runner: ProbeRunner, kube: Kube, service: str) -> dict[str, str]:
    return parse_selector(_stdout(runner.probe(kubectl.get_json(kube, "service", service))))


def revisions(runner: ProbeRunner, kube: Kube, deployment_name: str, label_selector: str) -> list[Revision]:
    text = _stdout(runner.probe(kubectl.get_json(kube, "replicasets", selector=label_selector)))
    return parse_revisions(text, deployment_name)


def selectors(runner: ProbeRunner, kube: Kube) -> dict[str, dict[str, str]]:
    """Every Service's selector in the namespace, in one list (the live colours of all blue-green
    services at once)."""
    return parse_selectors(_stdout(runner.probe(kubectl.get_json(kube, "services"))))


def all_pods(runner: ProbeRunner, kube: Kube) -> list[PodFacts]:
    """Every pod of the namespace in one list; callers filter with `PodFacts.matches`."""
    return parse_pods(_stdout(runner.probe(kubectl.get_json(kube, "pods"))))


def pods(runner: ProbeRunner, kube: Kube, label_selector: str) -> list[PodFacts]:
    return parse_pods(_stdout(runner.probe(kubectl.get_json(kube, "pods", selector=label_selector))))


def live_deployment(runner: ProbeRunner, kenv: KubeEnv, service: str) -> str:
    """The deployment serving `service`: for a blue-green service, the active colour's."""
    bg = kenv.blue_green
    member = bg.member(service) if bg is not None else None
    if bg is None or member is None:
        return kenv.service(service).deployment
    try:
        found = selector(runner, kenv.kube, member.service_name)
    except RetailDeployError as exc:
        raise OperationFailed(f"cannot read Service {member.service_name}: {exc}") from exc
    colour = active_colour(found, bg.selector_key, dict(member.deployments))
    if colour is None:
        raise OperationFailed(f"Service {member.service_name} selects {found}: neither colour is live")
    return member.deployments[colour]


def live_deployments(runner: ProbeRunner, kenv: KubeEnv) -> dict[str, str | OperationFailed]:
    """`live_deployment` of every service with at most ONE list of Services (verify reads them all):
    service -> its deployment, or the error that says why it is not known."""
    bg = kenv.blue_green
    out: dict[str, str | OperationFailed] = {t.name: t.deployment for t in kenv.services}
    if bg is None:
        return out
    try:
        found = selectors(runner, kenv.kube)
    except RetailDeployError as exc:
        found, error = {}, str(exc)
    else:
        error = ""
    for member in bg.members:
        if member.service not in out:
            continue
        if member.service_name not in found:
            out[member.service] = OperationFailed(f"cannot read Service {member.service_name}: "
                                                  f"{error or 'not found in ' + kenv.kube.namespace}")
            continue
        colour = active_colour(found[member.service_name], bg.selector_key, dict(member.deployments))
        out[member.service] = (member.deployments[colour] if colour is not None else OperationFailed(
            f"Service {member.service_name} selects {found[member.service_name]}: neither colour is live"))
    return out
