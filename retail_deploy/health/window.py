"""The verification period's health rule without Prometheus: "Any health check fails for 3
consecutive minutes" (the runbook's rollback trigger), checked by the deployer itself.

An endpoint breaches when it has failed on EVERY check for the window (the `for` of the
`health_check` rollback trigger, `monitor.health_check_window`), or when it still fails on the
period's final check: a release is not accepted while unhealthy. A successful check resets that
endpoint's clock, so one blip (a GC pause, one slow answer) does not roll back a healthy release.

Everything here is PURE: times are given, nothing is checked or slept. The loop that checks and
sleeps is `health.verification._health_loop` (docs/architecture.md, "health").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# The loop checks at most this far apart, and at least this far apart (short test periods).
MAX_INTERVAL_S = 10.0
MIN_INTERVAL_S = 0.5


@dataclass(frozen=True)
class Observation:
    """One endpoint checked once: `at` is when the check started (monotonic seconds)."""

    at: float
    endpoint: str
    ok: bool


@dataclass(frozen=True)
class Change:
    """An endpoint started failing (`failing`, at its first failed check `since`) or recovered at `at`."""

    endpoint: str
    failing: bool
    since: float
    at: float


@dataclass(frozen=True)
class Breach:
    """`endpoint` failed on every check from `since` to `at` (the check that decided)."""

    endpoint: str
    since: float
    at: float
    window_s: float
    # True: decided by the period's final check, before the window was full.
    at_period_end: bool = False

    @property
    def failed_for_s(self) -> float:
        return self.at - self.since


class FailureClock:
    """Per endpoint, since when it has failed on every check; a success resets it."""

    def __init__(self, window_s: float) -> None:
        if window_s < 0:
            raise ValueError("the window must be 0 or more seconds")
        self.window_s = window_s
        self._since: dict[str, float] = {}

    def observe(self, observation: Observation) -> Change | None:
        """Record one check; the change it makes (started failing, recovered), if any."""
        since = self._since.get(observation.endpoint)
        if observation.ok:
            if since is None:
                return None
            del self._since[observation.endpoint]
            return Change(observation.endpoint, False, since, observation.at)
        if since is not None:
            return None
        self._since[observation.endpoint] = observation.at
        return Change(observation.endpoint, True, observation.at, observation.at)

    def breach(self, endpoint: str, at: float, *, final: bool = False) -> Breach | None:
        """The breach of `endpoint` as of its check at `at`: failing for the whole window, or failing
        at all when `final` (the period's last check)."""
        since = self._since.get(endpoint)
        if since is None:
            return None
        if at - since >= self.window_s:
            return Breach(endpoint, since, at, self.window_s)
        if final:
            return Breach(endpoint, since, at, self.window_s, at_period_end=True)
        return None

    def failing(self) -> dict[str, float]:
        """Failing endpoints and the first check of their current run of failures."""
        return dict(self._since)


def first_breach(observations: Iterable[Observation], window_s: float,
                 ends_at: float | None = None) -> Breach | None:
    """The first breach in time-ordered observations; a check at or after `ends_at` is the
    period's final one (anything failing then breaches)."""
    clock = FailureClock(window_s)
    for observation in observations:
        clock.observe(observation)
        final = ends_at is not None and observation.at >= ends_at
        found = clock.breach(observation.endpoint, observation.at, final=final)
        if found is not None:
            return found
    return None


def check_interval(period_s: float, window_s: float) -> float:
    """Seconds between checks: a third of the period (at most 10 s), and a third of the window
    so a failure lasting the window is seen within about one interval after it; never under 0.5 s."""
    interval = min(MAX_INTERVAL_S, max(period_s / 3, MIN_INTERVAL_S))
    if window_s > 0:
        interval = min(interval, max(window_s / 3, MIN_INTERVAL_S))
    return interval
