"""PA actuation in sliding mode (MODEL §5): each PA moves toward its commanded
coordinate at its guide's speed.

``s(t) = clip(s_cmd, s0 − v t, s0 + v t)``: clip is monotone in its value and bounds,
so if the start and the commanded configurations are both ordered with spacing ≥ δ,
every intermediate one is too — order and spacing hold on the way, and the speed limit
holds by construction. Used by the engine's actuator and by controllers that predict
where their PAs will be (kinematics belong to the hardware, not to the engine)."""

from __future__ import annotations

import numpy as np


def slide(s0, target, speed, dt: float) -> np.ndarray:
    """Coordinates (N,M) reached ``dt`` seconds after leaving ``s0`` for ``target`` at
    ``speed`` (N,) m/s (0 for hardware that cannot move)."""
    reach = np.asarray(speed, float).reshape(-1, 1) * max(0.0, float(dt))
    s0 = np.asarray(s0, float)
    return np.clip(np.asarray(target, float), s0 - reach, s0 + reach)


class SlidingActuator:
    """The movable elements of a transmitter, commanded at frame starts."""

    def __init__(self, s0, speed):
        self.s0 = np.array(s0, float)
        self.target = self.s0.copy()
        self.t0 = 0.0
        self.speed = np.asarray(speed, float)

    def command(self, t: float, target) -> None:
        """Start moving from the positions reached at ``t`` toward ``target`` (N,M)."""
        self.s0 = self.position(t)
        self.target = np.array(target, float)
        self.t0 = float(t)

    def position(self, t: float) -> np.ndarray:
        """Actual coordinates (N,M) at time ``t``."""
        return slide(self.s0, self.target, self.speed, float(t) - self.t0)
