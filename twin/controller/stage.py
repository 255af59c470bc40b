"""Stages: the parts a controller is composed of (one call shape, registered by role and
name, parameters declared and validated), and the :class:`Plan` they fill in turn.

Roles, run each frame in this order (MODEL §4-§5):

- ``select``: which clusters / elements radiate in which slot and for how long;
- ``position``: where movable elements go (or how analog phases are set);
- ``schedule``: which users are served in which slot;
- ``beamform``: the precoder and sensing covariance of every slot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from twin.controller.decision import Decision, Observation, SlotPlan, worst_status
from twin.controller.params import Param
from twin.errors import ConfigError
from twin.hardware import HardwareState

ROLES = ("select", "position", "schedule", "beamform")
_STAGES: dict[str, dict[str, type]] = {r: {} for r in ROLES}


def stage(cls):
    """Class decorator: register a :class:`Stage` under ``(cls.role, cls.name)``."""
    if cls.role not in _STAGES or not cls.name:
        raise ValueError(f"{cls.__name__}: role must be one of {ROLES} and name non-empty")
    if cls.name in _STAGES[cls.role] and _STAGES[cls.role][cls.name] is not cls:
        raise ValueError(f"{cls.role} stage {cls.name!r} registered twice")
    _STAGES[cls.role][cls.name] = cls
    return cls


def stages(role: str | None = None) -> dict:
    """Registered stages: {role: {name: class}} or, for one role, {name: class}."""
    import twin.controller.stages  # noqa: F401 - registers the built-in stages

    return dict(_STAGES[role]) if role else {r: dict(v) for r, v in _STAGES.items()}


@dataclass
class Plan:
    """The decision under construction: slot durations, active elements and served users
    per slot (``select``, ``schedule``), element targets and analog weights
    (``position``), beamformers (``beamform``); ``hints`` carry what one stage computed
    for a later one (e.g. the SDR solution at the positioning optimum)."""

    durations: list[float]
    active: list[np.ndarray]
    users: list[tuple[int, ...] | None]
    pa_target: np.ndarray
    analog: np.ndarray | None
    W: list[np.ndarray | None] = field(default_factory=list)
    Rs: list[np.ndarray | None] = field(default_factory=list)
    H: list[np.ndarray | None] = field(default_factory=list)
    csi_time: list[float | None] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    hints: dict[str, Any] = field(default_factory=dict)
    failed: bool = False

    @property
    def n_slots(self) -> int:
        return len(self.durations)

    def slot_mid(self, j: int) -> float:
        """Centre of slot j, seconds after the frame start."""
        if len(set(self.durations)) == 1:
            return (j + 0.5) * self.durations[0]
        return float(sum(self.durations[:j]) + 0.5 * self.durations[j])

    def note(self, status: str, detail: str = "") -> None:
        """Record a stage outcome (status from the vocabulary, detail free text)."""
        self.statuses.append(status)
        if detail:
            self.details.append(detail)

    def fail(self, status: str, detail: str) -> None:
        """The stage cannot produce a decision: the controller falls back."""
        self.note(status, detail)
        self.failed = True

    @property
    def status(self) -> str:
        return worst_status(*self.statuses) if self.statuses else "ok"

    def to_decision(self) -> Decision:
        n = self.n_slots
        H = self.H if len(self.H) == n else [None] * n
        ct = self.csi_time if len(self.csi_time) == n else [None] * n
        slots = tuple(SlotPlan(d, a, w, r, u, h, c) for d, a, w, r, u, h, c in
                      zip(self.durations, self.active, self.W, self.Rs, self.users, H, ct))
        info = dict(self.info)
        if self.details:
            info["detail"] = "; ".join(self.details)[:300]
        return Decision(self.pa_target, slots, self.analog, self.status, info)


class Stage:
    """Base class of every stage: ``role``, ``name``, ``description``, ``params``
    ({name: Param}); constructed once per run with the controller context and the
    validated parameters; ``run(obs, plan)`` fills its part of the plan."""

    role: ClassVar[str] = ""
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}

    def __init__(self, ctx, p: dict):
        self.ctx = ctx
        self.p = p

    def check(self) -> None:
        """Raise :class:`ConfigError` if this stage cannot work with the scene, the
        hardware or the other stages (called once, before the run)."""

    def run(self, obs: Observation, plan: Plan) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def refuse(self, field_: str, problem: str, fix: str):
        raise ConfigError(self.ctx.source, f"{self.role}={self.name}" + (f".{field_}" if field_ else ""),
                          problem, fix)

    # --- shared helpers ------------------------------------------------------------------
    def slot_state(self, obs: Observation, plan: Plan, j: int, predict: bool = True) -> HardwareState:
        """The hardware state the controller expects in slot j: movable elements where the
        actuator will have slid them at the slot's centre (it knows its actuator), the
        slot's active set, the decided analog weights. ``predict=False``: at the target."""
        tx = self.ctx.tx
        s = (tx.reach(obs.state.s, plan.pa_target, plan.slot_mid(j)) if predict
             else np.asarray(plan.pa_target, float))
        return HardwareState(s, plan.active[j], plan.analog)
