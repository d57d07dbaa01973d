"""Many services at the cost of a few: the batched reads and writes of a deploy.

The runbook (and the deployer before) waits with one `kubectl rollout status` per deployment and
reads each deployment by name: kubectl sends one request per name and throttles itself after ten
(its client-side rate limit), so a 30-service deploy spent most of its time in kubectl, not in
the cluster (docs/performance.md, "Many services"). Here:

- `rollout_state`: PURE, the decision `kubectl rollout status` makes, from one listed Deployment
  (observedGeneration, updatedReplicas, replicas, availableReplicas, the Progressing condition);
- `wait_rollouts`: ONE poll loop for every rollout of a deploy, each poll one list of the
  namespace's deployments (`kubectl get deployments -o json`), whatever the number of services;
- `set_images`: the `kubectl set image` commands of a deploy issued concurrently (a bounded pool,
  each command still printed), their images read back with one list afterwards.

Progress: one line per deployment as it completes; on a terminal (stderr a TTY) a compact
counter line that rewrites itself instead (docs/deploying.md, "Many services").
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from retail_deploy.commands import Command, kubectl
from retail_deploy.commands.kubectl import Kube
from retail_deploy.errors import OperationFailed
from retail_deploy.kube import probes
from retail_deploy.kube.probes import DeploymentFacts
from retail_deploy.kube.strategies import Step

if TYPE_CHECKING:
    from retail_deploy.execute import Runner
    from retail_deploy.kube.settings import BlueGreen

State = Literal["complete", "progressing", "failed", "timed-out"]

POLL_INTERVAL_S = 0.5  # one kubectl list per poll: cheap for the API server, half a second of latency at most
MAX_PARALLEL_WRITES = 8  # concurrent `kubectl set image`: below kubectl's and the API server's limits


@dataclass(frozen=True)
class Rollout:
    """What a poll says about one deployment's rollout."""

    deployment: str
    state: State
    message: str


def rollout_state(dep: DeploymentFacts | None, name: str, *, timed_out: bool = False,
                  deadline_is_old: bool = False) -> Rollout:
    """`kubectl rollout status` decided from one listed object (kubectl's DeploymentStatusViewer):
    the controller must have observed the newest generation; a Progressing condition with reason
    ProgressDeadlineExceeded is a failure; then every wanted replica updated, no old one left, and
    every updated one available. `timed_out`: our deadline passed, so anything unfinished is
    "timed-out". `deadline_is_old`: the deployment was just undone, and the undone rollout's
    ProgressDeadlineExceeded stays until the restored ReplicaSet is complete: not a failure yet."""
    unfinished: State = "timed-out" if timed_out else "progressing"
    if dep is None:
        return Rollout(name, "failed" if timed_out else "progressing", f"deployment {name} not found")
    if dep.observed_generation < dep.generation:
        return Rollout(name, unfinished, "waiting for the deployment spec update to be observed")
    if dep.progress_deadline_exceeded and not deadline_is_old:
        return Rollout(name, "failed", f'deployment "{name}" exceeded its progress deadline')
    if dep.updated < dep.replicas:
        return Rollout(name, unfinished, f"{dep.updated} out of {dep.replicas} new replicas have been updated")
    if dep.status_replicas > dep.updated:
        return Rollout(name, unfinished, f"{dep.status_replicas - dep.updated} old replicas are pending termination")
    if dep.available < dep.updated:
        return Rollout(name, unfinished, f"{dep.available} of {dep.updated} updated replicas are available")
    return Rollout(name, "complete", "successfully rolled out")


def rollout_states(found: Mapping[str, DeploymentFacts], names: Sequence[str], *, timed_out: bool = False,
                   undone: Collection[str] = ()) -> list[Rollout]:
    """`rollout_state` of each of `names` from one list."""
    return [rollout_state(found.get(name), name, timed_out=timed_out, deadline_is_old=name in undone)
            for name in names]


def poll_command(kube: Kube) -> Command:
    """The one read of every poll: all deployments of the namespace."""
    return kubectl.get_json(kube, "deployments")


def _progress(runner: Runner) -> Callable[[list[Rollout], bool], None]:
    """Per poll: a compact rewriting counter on a terminal, else one line per completed rollout."""
    said: set[str] = set()
    tty = sys.stderr.isatty()

    def show(states: list[Rollout], last: bool) -> None:
        if tty:
            done = sum(s.state == "complete" for s in states)
            waiting = [s.deployment for s in states if s.state != "complete"]
            line = f"rollouts: {done}/{len(states)} complete" + (
                f"; waiting for {', '.join(waiting[:4])}{' ...' if len(waiting) > 4 else ''}" if waiting else "")
            sys.stderr.write("\r\033[K" + line + ("\n" if last else ""))
            sys.stderr.flush()
            return
        for s in states:
            if s.state == "complete" and s.deployment not in said:
                said.add(s.deployment)
                runner.say(f"{s.deployment} rolled out")

    return show


def wait_rollouts(runner: Runner, kube: Kube, names: Sequence[str], timeout_s: float, *,
                  undone: Collection[str] = (), interval_s: float = POLL_INTERVAL_S,
                  images: Mapping[str, str] | None = None) -> None:
    """Wait until every deployment of `names` has rolled out, with ONE list per poll; raise
    OperationFailed naming each failed (progress deadline) or unfinished (timeout) one, as soon
    as one fails. `images` (deployment -> image just set) are read back from the first poll
    (`check_images`): no extra read. A dry run prints the poll once and waits for nothing."""
    names = list(dict.fromkeys(names))
    if not names:
        return
    if runner.dry:
        runner.announce(poll_command(kube))
        runner.say(f"poll until {', '.join(names)} rolled out (timeout {round(timeout_s)}s)")
        return
    states = settle(runner, kube, names, timeout_s, undone=undone, interval_s=interval_s, images=images)
    failed = [s for s in states if s.state != "complete"]
    if failed:
        raise OperationFailed("rollout failed: " + "; ".join(
            f"{s.deployment}: timed out waiting for the condition after {round(timeout_s)}s ({s.message})"
            if s.state == "timed-out" else f"{s.deployment}: {s.message}" for s in failed))


def settle(runner: Runner, kube: Kube, names: Sequence[str], timeout_s: float, *,
           undone: Collection[str] = (), interval_s: float = POLL_INTERVAL_S, quiet: bool = False,
           images: Mapping[str, str] | None = None, first: Mapping[str, DeploymentFacts] | None = None,
           ) -> list[Rollout]:
    """Poll (one list each time) until every rollout of `names` is complete, one has failed, or
    `timeout_s` has passed; returns the last states (verify reports them; `wait_rollouts` raises).
    `first`: a list just read, used as the first poll."""
    show = _progress(runner) if not quiet else (lambda states, last: None)
    command = poll_command(kube)
    deadline = time.monotonic() + timeout_s
    while True:
        timed_out = time.monotonic() >= deadline
        found = dict(first) if first is not None else probes.parse_deployments(runner.probe(command).stdout)
        first = None
        if images:
            check_images(found, images)
            images = None
        states = rollout_states(found, names, timed_out=timed_out, undone=undone)
        failed = any(s.state in ("failed", "timed-out") for s in states)
        done = all(s.state == "complete" for s in states)
        show(states, done or failed)
        if failed or done:
            return states
        time.sleep(min(interval_s, max(deadline - time.monotonic(), 0.05)))


def run_all(runner: Runner, commands: Sequence[Command], workers: int = MAX_PARALLEL_WRITES) -> None:
    """Run a batch of independent kubectl writes (`set image`, `scale`, a selector patch, `rollout
    undo`, one per deployment or Service) concurrently through the Runner, bounded; each is printed
    as it starts, and a dry run prints them in order. Every command runs even if another fails;
    the first failure is raised once all have ended (so the caller's undo sees every change that
    landed)."""
    if runner.dry or len(commands) <= 1:
        for command in commands:
            runner.run(command)
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(commands)), thread_name_prefix="set-image") as pool:
        futures = [pool.submit(runner.run, command) for command in commands]
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error


def scale_commands(kube: Kube, steps: Sequence[Step]) -> list[Command]:
    """The scale steps of a batch as few commands: one `kubectl scale deployment a b c --replicas=N`
    per count (one kubectl start-up instead of one per deployment); a step without a known count
    keeps its own command."""
    by_count: dict[int, list[str]] = {}
    commands: list[Command] = []
    for step in steps:
        if step.replicas is None or step.command is None:
            commands += [step.command] if step.command is not None else []
        else:
            by_count.setdefault(step.replicas, []).append(step.deployment)
    commands += [kubectl.scale(kube, names[0], count, *names[1:]) for count, names in by_count.items()]
    return commands


def check_images(found: Mapping[str, DeploymentFacts], wanted: Mapping[str, str]) -> None:
    """Every image set (deployment -> image) is in the listed deployments (read once, after all
    the set-image commands ran: the first poll of the rollouts)."""
    wrong = [f"{name} still runs {found[name].images if name in found else 'nothing (not found)'} "
             f"after set image to {image}"
             for name, image in wanted.items() if name not in found or image not in found[name].images.values()]
    if wrong:
        raise OperationFailed("; ".join(wrong))


# --- blue-green: the colours of every blue-green service from one list of Services ------------

def colours_now(runner: Runner, kube: Kube, bg: BlueGreen) -> dict[str, str | None]:
    """Service name -> the colour it selects (None: neither colour), for every blue-green service,
    from ONE list of the namespace's Services. A missing Service is an OperationFailed."""
    found = probes.selectors(runner, kube)
    missing = [m.service_name for m in bg.members if m.service_name not in found]
    if missing:
        raise OperationFailed(f"Service {', '.join(missing)} not found in {kube.namespace}")
    return {m.service_name: probes.active_colour(found[m.service_name], bg.selector_key, dict(m.deployments))
            for m in bg.members}


def release_colour(runner: Runner, kube: Kube, bg: BlueGreen) -> str | None:
    """The colour live for the release: every blue-green Service must select the same one (they
    switch together, docs/deploying.md); with one service, its selector value when it selects
    neither colour (the plan then says what to fix)."""
    now = colours_now(runner, kube, bg)
    if len(bg.members) == 1:
        colour = now[bg.service_name]
        return colour if colour is not None else probes.selectors(runner, kube)[bg.service_name].get(bg.selector_key, "")
    seen = set(now.values())
    if len(seen) == 1:
        return seen.pop()
    raise OperationFailed(
        "the blue-green Services do not select one colour (" + ", ".join(f"{name}: {colour or 'neither'}"
                                                                         for name, colour in now.items())
        + "); a release switches them together: point them at the live colour with kubectl patch, then retry")


def not_on(runner: Runner, kube: Kube, bg: BlueGreen, colour: str) -> list[BlueGreen]:
    """The blue-green services whose Service does not select `colour` (one list)."""
    found = probes.selectors(runner, kube)
    return [m for m in bg.members if m.service_name in found
            and probes.active_colour(found[m.service_name], bg.selector_key, dict(m.deployments)) != colour]


def confirm_colours(runner: Runner, kube: Kube, bg: BlueGreen, colour: str,
                    services: Collection[str] | None = None) -> None:
    """Every blue-green Service (of `services`, default all) selects `colour`: one list."""
    found = probes.selectors(runner, kube)
    wrong = [f"Service {m.service_name} selects {found.get(m.service_name)}, expected {colour}"
             for m in bg.members if (services is None or m.service in services)
             and probes.active_colour(found.get(m.service_name, {}), bg.selector_key, dict(m.deployments)) != colour]
    if wrong:
        raise OperationFailed("; ".join(wrong))
