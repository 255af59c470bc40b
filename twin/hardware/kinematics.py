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


def move(s0, target, speed, dt: float, switched=None, delay=None) -> np.ndarray:
    """Coordinates (N,M) ``dt`` s after a command: :func:`slide` on sliding chains; on
    switched chains (``switched`` (N,) bool, PASS activation mode) the radiating set
    jumps to ``target`` once ``dt ≥ delay`` (N,) s and stays at ``s0`` before (MODEL §5)."""
    s = slide(s0, target, speed, dt)
    if switched is None or not np.any(switched):
        return s
    sw = np.asarray(switched, bool).reshape(-1, 1)
    done = float(dt) + 1e-12 >= np.asarray(delay, float).reshape(-1, 1)
    return np.where(sw, np.where(done, np.asarray(target, float), np.asarray(s0, float)), s)


def move_many(s0, target, speed, dts, switched=None, delay=None) -> np.ndarray:
    """:func:`move` at many times after one command: dts (T,) s  ->  (T,N,M), each equal to
    ``move(…, dts[i], …)`` (the same operations, entry by entry)."""
    dts = np.asarray(dts, float)
    s0, target = np.asarray(s0, float), np.asarray(target, float)
    reach = np.asarray(speed, float).reshape(1, -1, 1) * np.maximum(0.0, dts)[:, None, None]
    s = np.clip(target, s0 - reach, s0 + reach)
    if switched is None or not np.any(switched):
        return s
    sw = np.asarray(switched, bool).reshape(1, -1, 1)
    done = dts[:, None, None] + 1e-12 >= np.asarray(delay, float).reshape(1, -1, 1)
    return np.where(sw, np.where(done, target, s0), s)


class SlidingActuator:
    """The movable elements of a transmitter. Commands may be issued for a time later than
    the last query (a decision that takes effect after its compute latency): the
    actuator keeps every command as a leg ``(t0, s0, target)`` and answers a query from the
    leg in force at that time."""

    def __init__(self, s0, speed, switched=None, delay=None):
        s0 = np.array(s0, float)
        self.speed = np.asarray(speed, float)
        self.switched, self.delay = switched, delay      # activation-mode chains (MODEL §5)
        self.legs = [(0.0, s0, s0.copy())]

    @property
    def target(self) -> np.ndarray:
        """The latest commanded coordinates (N,M)."""
        return self.legs[-1][2]

    def target_at(self, t: float) -> np.ndarray:
        """The coordinates commanded in force at time ``t`` (N,M)."""
        return self._leg(t)[2]

    def _leg(self, t: float):
        for leg in reversed(self.legs):
            if leg[0] <= t + 1e-12:
                return leg
        return self.legs[0]

    def command(self, t: float, target) -> None:
        """From time ``t`` on, move from the positions reached then toward ``target`` (N,M)."""
        t = float(t)
        s_t = self.position(t)
        self.legs = [leg for leg in self.legs if leg[0] < t]
        self.legs.append((t, s_t, np.array(target, float)))
        if len(self.legs) > 8:                     # queries never go further back than a frame
            self.legs = self.legs[-8:]

    def positions(self, times) -> np.ndarray:
        """:meth:`position` at many times (T,N,M), one :func:`move_many` per leg."""
        times = [float(t) for t in times]
        out = np.empty((len(times),) + self.legs[0][1].shape)
        groups: dict = {}
        for i, t in enumerate(times):
            leg = self._leg(t)
            groups.setdefault(id(leg), (leg, []))[1].append(i)
        for (t0, s0, target), idx in groups.values():
            out[idx] = move_many(s0, target, self.speed, [times[i] - t0 for i in idx], self.switched, self.delay)
        return out

    def position(self, t: float) -> np.ndarray:
        """Actual coordinates (N,M) at time ``t``."""
        t0, s0, target = self._leg(float(t))
        return move(s0, target, self.speed, float(t) - t0, self.switched, self.delay)
