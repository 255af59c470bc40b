"""The one result type of every optimiser (MODEL §4): solution, objective, iterations,
wall time, a status from a fixed vocabulary, history and scalar diagnostics.

Optimisers whose callers want named access to the parts of their solution return a
subclass that only adds read-only properties over ``solution`` (no new fields), so every
result is an :class:`OptResult` and is counted by :attr:`OptResult.status` alone."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    """Outcome of an optimiser call. A str (``Status.OK == "ok"``), so traces and summaries
    count it by value. Free text never goes here: the detail is ``info["detail"]``.

    - ``ok``: converged; the solution meets every constraint.
    - ``infeasible``: the problem has no solution (e.g. rate / SINR targets out of reach).
    - ``solver-failed``: a numerical solver failed (error or no usable solution).
    - ``iteration-limit``: stopped at the iteration / sweep limit before its tolerance;
      the solution is the best found and meets every constraint (usable).
    - ``held-previous``: a controller kept the previous decision (set by controllers,
      never by an optimiser).
    - ``constraint-missed``: a solution was found but misses a constraint beyond the
      verification tolerance (e.g. an inaccurate SDR solve), or a decision missed the
      requirements in the state the twin evaluated.
    - ``fallback``: a controller fell back to a safe default (elements where they are,
      zero forcing) — set by controllers, never by an optimiser.

    The same vocabulary is the frame status of the traces (``twin.controller.STATUSES``).
    """

    OK = "ok"
    INFEASIBLE = "infeasible"
    SOLVER_FAILED = "solver-failed"
    ITERATION_LIMIT = "iteration-limit"
    HELD_PREVIOUS = "held-previous"
    CONSTRAINT_MISSED = "constraint-missed"
    FALLBACK = "fallback"

    @property
    def usable(self) -> bool:
        """The solution may be applied as it is (``ok`` or ``iteration-limit``)."""
        return self in (Status.OK, Status.ITERATION_LIMIT)


@dataclass(frozen=True)
class OptResult:
    """solution: the problem's decision (arrays or a small payload object); objective:
    its value (the optimiser's own objective, in its units); iterations: outer
    iterations / sweeps / solver iterations; wall_time_s: the whole call; status: a
    :class:`Status`; history: the objective after each iteration (entry 0: the start,
    where the optimiser has one); info: scalar diagnostics (``info["detail"]``: why,
    when the status is not ``ok``)."""

    solution: Any
    objective: float
    iterations: int
    wall_time_s: float
    status: Status
    history: tuple = ()
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        # the vocabulary is closed: a free-text status is a programming error
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "history", tuple(float(x) for x in self.history))

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def usable(self) -> bool:
        return self.status.usable
