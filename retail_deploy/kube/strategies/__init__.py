"""PURE deploy planning: facts in, a list of steps out (no I/O; tested without mocks).

A step is data the deployer carries out through the Runner. `phase` tells the failure handling
where the step sits: before the traffic switch (failure leaves traffic untouched), after it
(failure switches back), or after verification (the new version is accepted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from retail_deploy.commands import Command

BEFORE_SWITCH = "before-switch"
AFTER_SWITCH = "after-switch"
VERIFIED = "verified"

# Step kinds the deployer understands.
SCALE = "scale"
SET_IMAGE = "set-image"
ROLLOUT_STATUS = "rollout-status"
HELM_UPGRADE = "helm-upgrade"
SMOKE = "smoke"
SWITCH = "switch"
HEALTH = "health"
WATCH = "watch"
WAIT = "wait"
UNDO = "undo"


@dataclass(frozen=True)
class Step:
    kind: str
    text: str  # what a person reads (`# text` in a dry run)
    command: Command | None = None
    service: str = ""  # platform service name
    deployment: str = ""
    colour: str = ""
    image: str = ""  # target image of a set-image step
    unchanged: bool = False  # set-image with the image already set: nothing to send
    seconds: float = 0.0
    phase: str = BEFORE_SWITCH
    replicas: int | None = None  # a scale step's count (scale steps of one count run as one command)


@dataclass(frozen=True)
class Plan:
    strategy: str
    version: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()  # assumptions made while planning (shown first)
    active_colour: str = ""  # blue-green: where traffic is before the deploy
    idle_colour: str = ""
    previous: dict[str, str] = field(default_factory=dict)  # service -> image before the deploy

    def kinds(self) -> list[str]:
        return [s.kind for s in self.steps]
