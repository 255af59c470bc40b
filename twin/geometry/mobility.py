"""Mobility models on the floor plan (MODEL §5): piecewise-linear trajectories that never
leave the free space. A trajectory is extended leg by leg (the engine's mobility process
schedules one event per leg end); ``position(t)`` interpolates, vectorised over times."""

from __future__ import annotations

import numpy as np

from twin.geometry.floorplan import FloorPlan


class Trajectory:
    """Legs ``(t0, t1, p0, p1)``; a pause is a leg with ``p0 == p1``."""

    def __init__(self, start_xy, t0: float = 0.0):
        self.t = [float(t0)]
        self.p = [np.asarray(start_xy, float).copy()]
        self._arrays = None

    @property
    def end_time(self) -> float:
        return self.t[-1]

    def append(self, t1: float, xy) -> None:
        self.t.append(float(t1))
        self.p.append(np.asarray(xy, float).copy())
        self._arrays = None

    def legs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The leg ends as arrays (times, x, y), rebuilt once per appended leg."""
        if self._arrays is None or len(self._arrays[0]) != len(self.t):
            ps = np.asarray(self.p)
            self._arrays = (np.asarray(self.t), np.ascontiguousarray(ps[:, 0]), np.ascontiguousarray(ps[:, 1]))
        return self._arrays

    def position(self, t) -> np.ndarray:
        """(x, y) at time(s) t: scalar -> (2,), (T,) -> (T,2). Holds the last point."""
        ts, xs, ys = self.legs()
        tq = np.atleast_1d(np.asarray(t, float))
        x = np.interp(tq, ts, xs)
        y = np.interp(tq, ts, ys)
        out = np.stack([x, y], axis=-1)
        return out[0] if np.ndim(t) == 0 else out


class Mobility:
    """Base: ``next_leg()`` appends the next leg to ``self.traj``; None when it stops."""

    def __init__(self, traj: Trajectory):
        self.traj = traj

    def next_leg(self) -> float | None:  # pragma: no cover - interface
        raise NotImplementedError


class Static(Mobility):
    def next_leg(self):
        return None


class RandomWaypoint(Mobility):
    """Random waypoint confined to the free space: the next waypoint is uniform over the
    free space; the walk there is straight if it stays in free space, else through one
    intermediate point (a door) with both legs in free space; speed and pause uniform in
    their ranges. Waypoints that cannot be reached this way are redrawn."""

    def __init__(self, traj, floor: FloorPlan, speed, pause, rng: np.random.Generator,
                 clearance: float = 0.2, tries: int = 200):
        super().__init__(traj)
        self.floor, self.speed, self.pause, self.rng = floor, speed, pause, rng
        self.clearance, self.tries = clearance, tries
        self._pending: list[np.ndarray] = []

    def _plan(self, here):
        fp = self.floor
        for _ in range(self.tries):
            goal = fp.sample_free(self.rng, 1, self.clearance)[0]
            if fp.segment_free(here, goal):
                return [goal]
            mids = fp.sample_free(self.rng, 32, self.clearance)
            for mid in mids:
                if fp.segment_free(here, mid) and fp.segment_free(mid, goal):
                    return [mid, goal]
        return []

    def next_leg(self):
        here = self.traj.p[-1]
        if not self._pending:
            pause = self.rng.uniform(*self.pause) if self.pause[1] > 0 else 0.0
            self._pending = self._plan(here)
            if not self._pending:
                self.traj.append(self.traj.end_time + 1.0, here)   # boxed in: wait
                return self.traj.end_time
            if pause > 0:
                self.traj.append(self.traj.end_time + pause, here)
                return self.traj.end_time
        goal = self._pending.pop(0)
        v = self.rng.uniform(*self.speed)
        dt = max(np.linalg.norm(goal - here) / v, 1e-9)
        self.traj.append(self.traj.end_time + dt, goal)
        return self.traj.end_time


class Waypoints(Mobility):
    """Scripted path through given waypoints at a constant speed, looping or stopping."""

    def __init__(self, traj, waypoints, speed: float, pause: float, loop: bool):
        super().__init__(traj)
        self.wp = [np.asarray(w, float) for w in waypoints]
        self.speed, self.pause, self.loop = speed, pause, loop
        self.i = 0
        self._paused = False

    def next_leg(self):
        if self.i >= len(self.wp):
            if not self.loop:
                return None
            self.i = 0
        here = self.traj.p[-1]
        if self.pause > 0 and not self._paused and self.traj.end_time > self.traj.t[0]:
            self._paused = True
            self.traj.append(self.traj.end_time + self.pause, here)
            return self.traj.end_time
        self._paused = False
        goal = self.wp[self.i]
        self.i += 1
        dt = np.linalg.norm(goal - here) / self.speed
        if dt == 0:
            return self.next_leg() if self.loop or self.i < len(self.wp) else None
        self.traj.append(self.traj.end_time + dt, goal)
        return self.traj.end_time


def make_mobility(spec, floor: FloorPlan, start_xy, rng: np.random.Generator) -> Mobility:
    """Build the mobility model of a scene entry (schema ``Mobility``) starting at
    ``start_xy``."""
    traj = Trajectory(start_xy)
    if spec.model == "static":
        return Static(traj)
    if spec.model == "random_waypoint":
        return RandomWaypoint(traj, floor, spec.speed_range, spec.pause_range, rng)
    if spec.model == "waypoints":
        return Waypoints(traj, spec.waypoints, spec.speed_range[0], spec.pause_range[0], spec.loop)
    raise ValueError(f"unknown mobility model {spec.model!r}")
