"""What a controller observes and what it decides (MODEL §5), and the fixed vocabulary
of decision statuses that traces and summaries count by value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.hardware import HardwareState
from twin.optim.result import Status

#: Every status a decision or an optimiser can report: the one vocabulary of
#: :class:`twin.optim.result.Status` (never free text: the detail goes to
#: ``info["detail"]``). ``ok``: solved and in force; ``infeasible``: the requirements cannot
#: be met by this stage (best effort in force); ``solver-failed``: a numerical solver
#: failed; ``iteration-limit``: stopped before converging; ``held-previous``: the previous
#: decision stays in force; ``fallback``: a safe default (current PAs, ZF);
#: ``constraint-missed``: solved, but the requirements were not met in the evaluated state.
STATUSES = tuple(s.value for s in Status)
#: severity order: the frame status is the most severe of its stages' statuses
_SEVERITY = {s: i for i, s in enumerate(("ok", "iteration-limit", "constraint-missed", "infeasible",
                                         "solver-failed", "held-previous", "fallback"))}


def worst_status(*statuses: str) -> str:
    """The most severe of ``statuses`` (all from :data:`STATUSES`)."""
    for s in statuses:
        if s not in _SEVERITY:
            raise ValueError(f"status {s!r} is not in the vocabulary {STATUSES}")
    return max(statuses, key=_SEVERITY.__getitem__) if statuses else "ok"


@dataclass(frozen=True)
class SlotPlan:
    """One slot of a frame (paper 001 time slots): duration and what radiates in it.

    duration_s: slot length; active (N,M) bool elements radiating; W (N,K) beamformer
    (zero columns for users not served); Rs (N,N) sensing covariance or None;
    users: indices of the users served in the slot (None: all).
    """

    duration_s: float
    active: np.ndarray
    W: np.ndarray
    Rs: np.ndarray | None = None
    users: tuple[int, ...] | None = None
    H: np.ndarray | None = None
    csi_time_s: float | None = None

    @property
    def scheduled_user(self) -> int:
        """The single user served (paper 001), −1 when several or all are."""
        return int(self.users[0]) if self.users is not None and len(self.users) == 1 else -1


@dataclass(frozen=True)
class Decision:
    """What the controller commands at a frame start.

    pa_target (N,M) along-axis targets in metres (the actuator slides movable elements
    there at their finite speed); analog (N,M) complex analog weights of a hybrid array
    (or None); slots: per-slot plans (active elements, beamformer, sensing covariance,
    users served); status from :data:`STATUSES`; info: scalar diagnostics traced per
    frame (objective, iterations, ``detail``…).
    """

    pa_target: np.ndarray
    slots: tuple[SlotPlan, ...]
    analog: np.ndarray | None = None
    status: str = "ok"
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"decision status {self.status!r} is not in the vocabulary {STATUSES}")

    # conveniences: the first slot's plan
    @property
    def W(self) -> np.ndarray:
        return self.slots[0].W

    @property
    def Rs(self) -> np.ndarray | None:
        return self.slots[0].Rs

    @property
    def active(self) -> np.ndarray:
        return self.slots[0].active


def extrapolate(H, Hp, m, var):
    """``ĥ(t) = ĥ_k exp(j c φ m)`` (MODEL §5.1, :meth:`ChannelKnowledge.predict`): φ the
    phase of ``ĥ_k/ĥ_{k−1}``, ``c = |ĥ|²/(|ĥ|² + 2 m² σ_e²)``, m pilot periods ahead. H, Hp
    (...,N,K), m a number or (...,1,1), var the error variances broadcast against H."""
    phi = np.angle(H * np.conj(Hp))
    p = np.minimum(np.abs(H), np.abs(Hp)) ** 2
    c = p / np.maximum(p + 2.0 * m * m * var, 1e-300)
    return H * np.exp(1j * c * phi * m)


@dataclass(frozen=True)
class ChannelKnowledge:
    """The channel estimate a controller has (MODEL §5.1): ``model`` ("perfect",
    "position" or "pilot"); for "pilot", H (N,K) the estimated effective channel of the
    configuration ``state`` in force at ``time_s`` (the last pilot whose estimate is
    available), and the estimate of the pilot before it (``H_prev`` at ``time_prev_s``)."""

    model: str
    H: np.ndarray | None = None
    time_s: float | None = None
    state: HardwareState | None = None
    H_prev: np.ndarray | None = None
    time_prev_s: float | None = None

    err_var: np.ndarray | None = None

    def predict(self, t: float, idx) -> np.ndarray:
        """The estimate extrapolated to time ``t`` from the last two pilots (MODEL §5.1):
        each entry keeps rotating at the rate it did between them (the Doppler of a walking
        user, the phase slope of a sliding PA), ``ĥ(t) = ĥ_k exp(j c φ (t − t_k)/T_p)`` with
        φ the phase of ``ĥ_k/ĥ_{k−1}`` and ``c = |ĥ|²/(|ĥ|² + 2 m² σ_e²)`` a shrinkage that
        stops extrapolating the estimation noise of weak entries (m = (t − t_k)/T_p). The
        last estimate unchanged without a previous one."""
        H = self.H[:, idx]
        if not self.extrapolates:
            return H
        m = (t - self.time_s) / (self.time_s - self.time_prev_s)
        return extrapolate(H, self.H_prev[:, idx], m, self._var(idx))

    @property
    def extrapolates(self) -> bool:
        """Whether :meth:`predict` extrapolates (a previous estimate, older than the last)."""
        return self.H_prev is not None and self.time_prev_s is not None and self.time_s > self.time_prev_s

    def _var(self, idx):
        return 0.0 if self.err_var is None else np.asarray(self.err_var)[idx][None, :]

    @staticmethod
    def predict_many(knowledge, times, idx) -> np.ndarray:
        """``[c.predict(t, idx) for c, t in zip(knowledge, times)]`` stacked (T,N,|idx|),
        extrapolated in one call of :func:`extrapolate` (the same values)."""
        if not all(c.extrapolates for c in knowledge):
            return np.stack([c.predict(t, idx) for c, t in zip(knowledge, times)])
        m = np.array([(t - c.time_s) / (c.time_s - c.time_prev_s) for c, t in zip(knowledge, times)])
        idx = np.asarray(idx)
        every = idx.ndim == 1 and idx.dtype.kind in "iu" and np.array_equal(idx, np.arange(knowledge[0].H.shape[1]))
        pick = (lambda x: x) if every else (lambda x: x[..., idx])     # every user in order: no copy per item
        if all(c.err_var is not None for c in knowledge):
            var = np.array([pick(np.asarray(c.err_var)) for c in knowledge])[:, None, :]
        else:
            var = np.stack([np.broadcast_to(c._var(idx), (1, len(idx))) for c in knowledge])
        return extrapolate(np.array([pick(c.H) for c in knowledge]), np.array([pick(c.H_prev) for c in knowledge]),
                           m[:, None, None], var)

    def applies_to(self, active) -> bool:
        """A pilot estimate is of the configuration that radiated then: usable for a slot
        with the same active elements."""
        if self.model != "pilot" or self.H is None or self.state is None:
            return False
        a, b = np.asarray(active, bool), np.asarray(self.state.active, bool)
        return a.shape == b.shape and bool((a == b).all())           # np.array_equal, without its checks


@dataclass(frozen=True)
class Observation:
    """What the controller sees at a frame start (MODEL §5).

    time_s, frame; state: the transmitter's actual in-force state now (PA coordinates,
    active elements, analog weights); users (K,3), targets (T,3) observed positions
    (exact with perfect CSI, else with the scene's observation noise); previous: the
    previous Decision or None; rng: the controller's Generator; csi: the channel
    estimate (pilot CSI) or None.
    """

    time_s: float
    frame: int
    state: HardwareState
    users: np.ndarray
    targets: np.ndarray
    previous: Decision | None
    rng: np.random.Generator
    csi: ChannelKnowledge | None = None

    @property
    def pa_s(self) -> np.ndarray:
        return self.state.s

    @property
    def target(self) -> np.ndarray | None:
        """The first target's observed position (3,), or None."""
        return None if self.targets is None or len(self.targets) == 0 else np.asarray(self.targets[0], float)
