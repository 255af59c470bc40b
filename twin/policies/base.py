"""The controller contract: what a policy observes and what it decides (MODEL §5).

A policy is an object with ``decide(observation) -> Decision``, registered by name in
:mod:`twin.policies.registry`. Policies compose the pure optimisers of ``twin.optim``;
they never touch time, files or plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class SlotPlan:
    """One slot of a frame (paper 001 time slots): duration and what radiates in it.

    duration_s: slot length; active (N,M) bool PAs radiating; W (N,K) beamformer;
    Rs (N,N) sensing covariance or None; scheduled_user: user served (−1: all / none).
    """

    duration_s: float
    active: np.ndarray
    W: np.ndarray
    Rs: np.ndarray | None = None
    scheduled_user: int = -1


@dataclass(frozen=True)
class Decision:
    """What the controller commands at a frame start.

    pa_target (N,M) along-guide targets in metres (the actuator slides the PAs there at
    their finite speed); active (N,M) bool; W (N,K) downlink beamformer in force for the
    frame (for the channel the policy *predicted*); Rs (N,N) sensing covariance or None;
    slots: per-slot plans (None: one plan for the whole frame); status: "ok" or why the
    policy fell back; info: scalar diagnostics traced per frame (objective, iterations…).
    """

    pa_target: np.ndarray
    active: np.ndarray
    W: np.ndarray
    Rs: np.ndarray | None = None
    slots: tuple[SlotPlan, ...] | None = None
    status: str = "ok"
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """What the controller sees at a frame start (MODEL §5).

    world: the static World (scene, deployment, floor plan, sensing receiver);
    time_s, frame; pa_s (N,M) actual PA coordinates now; pa_active (N,M);
    users (K,3), targets (T,3) observed positions (with the scene's observation noise);
    previous: the previous Decision (warm start) or None; rng: the policy's Generator.
    """

    world: Any
    time_s: float
    frame: int
    pa_s: np.ndarray
    pa_active: np.ndarray
    users: np.ndarray
    targets: np.ndarray
    previous: Decision | None
    rng: np.random.Generator


class Policy:
    """Base class: subclasses set ``name`` and ``params`` (defaults) and implement
    ``decide``. ``__init__`` receives the World and validated parameters."""

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, Any]] = {}
    description: ClassVar[str] = ""
    #: a built-in scene the policy is meant for (used by `pass-twin policies` and the
    #: every-policy tests); clustered policies need a clustered deployment, for instance
    example_scene: ClassVar[str] = "office"

    def __init__(self, world, **params):
        self.world = world
        self.p = {**self.params, **params}

    def decide(self, obs: Observation) -> Decision:  # pragma: no cover - interface
        raise NotImplementedError
