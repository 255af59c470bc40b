"""The transmitter abstraction (MODEL §1, §2.3, §2.6): one interface for every radiating
hardware — a PASS deployment, a fixed ULA, a partially connected hybrid array, a
switched sub-array ULA.

Every kind is described the same way: N RF chains, each feeding up to M elements at
positions ``p_{n,m}`` (from along-axis coordinates s (N,M)) with complex weights
``w_{n,m}`` that depend on the in-force :class:`HardwareState`; the channel to a point
is ``[h]_n = Σ_m w_{n,m} g(p_{n,m}, q) b(p_{n,m}, q)`` with the floor plan's blockage b
applied the same way for every kind. The engine, the evaluator, the controller stages
and the renderers use only this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from twin.hardware.state import HardwareState

from twin.physics.channel import element_channel_terms, free_space_gain, pa_positions
from twin.physics.sensing import element_target_channel
from twin.units import wavelength


@dataclass(frozen=True)
class BatchGeometry:
    """T states of a transmitter stacked (:meth:`Transmitter.batch_geometry`): active
    (T,N,M) bool, s (T,N,M) coordinates with inactive elements at 0, positions (T,N,M,3),
    weights (T,N,M) complex."""

    active: np.ndarray
    s: np.ndarray
    positions: np.ndarray
    weights: np.ndarray

    def take(self, index) -> "BatchGeometry":
        """The states selected by ``index`` (a slice or indices)."""
        return BatchGeometry(self.active[index], self.s[index], self.positions[index], self.weights[index])


class Transmitter(ABC):
    """Base class. Subclasses set the geometry arrays and implement :meth:`weights`.

    feed (N,3) and direction (N,3) unit: element n,m sits at ``feed[n] + s[n,m]·direction[n]``;
    installed (N,M) bool: real elements (arrays are padded to the largest count);
    cluster (N,M) int: cluster / sub-array index of each element (−1: none);
    cluster_bounds: per RF chain, the (lo, hi) along-axis segment of each cluster;
    speed (N,) m/s (0: cannot move); spacing (N,) minimum element spacing δ;
    length (N,) along-axis extent; floor: the FloorPlan whose walls block links (or None).
    """

    #: short name of the kind ("pass", "ula", "hybrid", "subarray-ula")
    kind: str = ""
    #: elements slide along their axis (PASS sliding mode)
    movable: bool = False
    #: analog phase shifters can be switched per frame (hybrid arrays)
    steerable: bool = False

    feed: np.ndarray
    direction: np.ndarray
    length: np.ndarray
    spacing: np.ndarray
    speed: np.ndarray
    installed: np.ndarray
    cluster: np.ndarray
    cluster_bounds: tuple
    fc: float
    floor: object | None

    # --- shape ---------------------------------------------------------------------
    @property
    def n_rf(self) -> int:
        """Number of RF chains N (rows of the channel matrix)."""
        return self.feed.shape[0]

    @property
    def n_guides(self) -> int:
        """Alias of :attr:`n_rf` (one RF chain per waveguide in a PASS)."""
        return self.n_rf

    @property
    def max_pas(self) -> int:
        return self.installed.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        return self.installed.shape

    @property
    def clustered(self) -> bool:
        return any(self.cluster_bounds)

    # --- geometry --------------------------------------------------------------------
    def positions(self, s) -> np.ndarray:
        """Element positions (N,M,3) for along-axis coordinates s (N,M)."""
        return pa_positions(self.feed, self.direction, s)

    @abstractmethod
    def weights(self, state: HardwareState) -> np.ndarray:
        """Complex feed weight of every element (N,M) in ``state`` (0 where it does not
        radiate): guided response and power split for a PASS (MODEL §2.2), analog
        phases for a hybrid array (MODEL §2.6)."""

    def initial_state(self) -> HardwareState:
        """The state at t = 0: initial coordinates, every installed element active."""
        return HardwareState(self.initial_positions(), self.installed.copy(), self.initial_analog())

    def initial_positions(self) -> np.ndarray:
        return self.uniform_positions()

    def initial_analog(self) -> np.ndarray | None:
        return None

    @abstractmethod
    def uniform_positions(self) -> np.ndarray:
        """Elements evenly spread over each axis / cluster segment (fixed arrays: their
        fixed offsets): s (N,M)."""

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower/upper along-axis limits per element (N,M) (MODEL §1)."""
        s = self.uniform_positions()
        return s.copy(), s.copy()

    def legalize(self, s) -> np.ndarray:
        """Project coordinates onto the legal set (fixed arrays: their fixed offsets)."""
        return self.uniform_positions()

    def cluster_centres(self) -> list[tuple[int, int, np.ndarray]]:
        """(RF chain, cluster index, centre position (3,)) of every cluster (MODEL §3.4)."""
        from twin.physics.clusters import cluster_centres

        return cluster_centres(self)

    # --- channels --------------------------------------------------------------------
    def _active(self, state: HardwareState) -> np.ndarray:
        return np.asarray(state.active, bool) & self.installed

    def wall_loss_db(self, state: HardwareState, points) -> np.ndarray | None:
        """Wall loss in dB (N,M,K) of every element→point link (MODEL §2.5; inactive
        elements at s = 0), None without walls: computed once, it serves both the channel
        (:meth:`channel_to`) and the line-of-sight counts (:meth:`los_loss_db`)."""
        if self.floor is None or not self.floor.seg_a.shape[0]:
            return None
        act = self._active(state)
        pos = self.positions(np.where(act, np.asarray(state.s, float), 0.0))
        return self.floor.loss_db(pos[:, :, None, :], np.atleast_2d(points)[None, None, :, :])

    def blockage(self, s, active, points, wall_loss_db=None) -> np.ndarray | None:
        """Blockage amplitudes (N,M,K) of the element→point links (MODEL §2.5), None in an
        open room. Inactive elements are placed at s = 0 (they carry no weight). People
        set by :meth:`set_bodies` multiply in their body loss (MODEL §5.1, TR 38.901 model
        B); without them the walls' amplitudes are returned unchanged. ``wall_loss_db``:
        the links' wall loss if already computed (:meth:`wall_loss_db`)."""
        walls = self.floor is not None and self.floor.seg_a.shape[0]
        bodies = self.bodies
        if not walls and bodies is None:
            return None
        pos = self.positions(np.where(active, s, 0.0))[:, :, None, :]
        pts = np.atleast_2d(points)[None, None, :, :]
        amp = None
        if walls:
            loss = self.floor.loss_db(pos, pts) if wall_loss_db is None else wall_loss_db
            amp = np.where(np.isfinite(loss), 10.0 ** (-loss / 20.0), 0.0)     # b(p, q), MODEL §2.5
        if bodies is None:
            return amp
        from twin.physics.body import body_amplitude

        body = body_amplitude(pos, pts, bodies, wavelength(self.fc))
        return body if amp is None else amp * body

    # --- people (dynamic obstacles, MODEL §5.1) ---------------------------------------------
    #: the people standing on the floor now (twin.physics.body.Bodies) or None
    bodies = None

    def set_bodies(self, bodies) -> None:
        """The people who block links from now on (a ``Bodies``, or None: nobody). The
        engine sets them at every instant it evaluates a channel (MODEL §5.1)."""
        object.__setattr__(self, "bodies", bodies if bodies is not None and len(bodies) else None)

    def body_loss_db(self, state: HardwareState, points) -> np.ndarray:
        """Body loss in dB (P,K) of every active element → point link (MODEL §5.1)."""
        from twin.physics.body import body_loss_db

        act = self._active(state)
        pos = self.positions(np.asarray(state.s, float))[act]
        points = np.atleast_2d(points)
        return body_loss_db(pos[:, None, :], points[None, :, :], self.bodies, wavelength(self.fc))

    # --- actuation (MODEL §5) ---------------------------------------------------------------
    @property
    def switched(self) -> np.ndarray:
        """(N,) bool: RF chains whose elements switch among installed positions instead
        of sliding (PASS ``actuation = "activate"``)."""
        return np.zeros(self.n_rf, bool)

    @property
    def switching_delay(self) -> np.ndarray:
        """(N,) s: time from a command to the switch on a switched RF chain."""
        return np.zeros(self.n_rf)

    def realise(self, target) -> np.ndarray:
        """The coordinates (N,M) the hardware can take for commanded ``target``: legal
        values where the elements are (switched chains: the installed positions). The
        one place a positioning stage's output meets the hardware's actuation mode."""
        return np.where(self.installed, np.asarray(target, float), 0.0)

    def reach(self, s0, target, dt: float) -> np.ndarray:
        """Coordinates (N,M) ``dt`` s after a command from ``s0`` to ``target``: sliding at
        the chain's speed, or a switch once the switching delay has passed (MODEL §5)."""
        from twin.hardware.kinematics import move

        return move(s0, target, self.speed, dt, self.switched, self.switching_delay)

    def terms_to(self, state: HardwareState, points, wall_loss_db=None) -> np.ndarray:
        """Per-element contributions (N,M,K) (MODEL §2.3, §2.6), blockage included."""
        act = self._active(state)
        s = np.where(act, np.asarray(state.s, float), 0.0)
        points = np.atleast_2d(np.asarray(points, float))
        return element_channel_terms(self.positions(s), self.weights(state), points, self.fc,
                                     self.blockage(s, act, points, wall_loss_db))

    def channel_to(self, state: HardwareState, points, wall_loss_db=None) -> np.ndarray:
        """Effective channel H (N,K) to points (K,3) in ``state`` (``wall_loss_db``: the
        links' wall loss if already computed)."""
        return self.terms_to(state, points, wall_loss_db).sum(axis=1)

    def target_channel(self, state: HardwareState, q) -> tuple[np.ndarray, np.ndarray]:
        """Target channel h_t (N,) and its analytic gradient ∂h_t/∂(x_t, y_t) (2,N)
        (MODEL §3.3, paper 000 A.11-A.12; blockage held constant)."""
        act = self._active(state)
        s = np.where(act, np.asarray(state.s, float), 0.0)
        q = np.asarray(q, float)
        blk = self.blockage(s, act, q[None])
        return element_target_channel(self.positions(s), self.weights(state), q, self.fc,
                                      None if blk is None else blk[..., 0])

    # --- many instants at once (the engine's frame-level evaluation) --------------------------
    def batch_geometry(self, states) -> "BatchGeometry":
        """Active masks, coordinates (inactive at s = 0), element positions and weights of
        T states at once (T,N,M[,3]); positions and weights are computed once per distinct
        state (a frame's slots usually share one), with the same formulas as the
        single-state methods, so every entry equals theirs bit for bit."""
        act = np.array([st.active for st in states], bool) & self.installed          # np.stack, in one call
        s0 = np.where(act, np.array([st.s for st in states], float), 0.0)
        T = len(states)
        # a state equal to the one before it (the elements still, the same active set and
        # analog weights) reuses its positions and weights
        same = np.zeros(T, bool)
        if T > 1:
            same[1:] = (s0[1:] == s0[:-1]).all(axis=(1, 2)) & (act[1:] == act[:-1]).all(axis=(1, 2))
            for i in np.flatnonzero(same):
                a, b = states[i].analog, states[i - 1].analog
                same[i] = a is b or (a is not None and b is not None and np.array_equal(a, b))
        first = np.flatnonzero(~same)
        src = np.cumsum(~same) - 1                                     # each state's computed one
        pos = self.batch_positions(s0[first])
        wts = self.batch_weights([states[i] for i in first], act[first], s0[first])
        return BatchGeometry(act, s0, pos[src], wts[src])

    def batch_positions(self, s) -> np.ndarray:
        """:meth:`positions` of a stack of coordinates s (T,N,M)  ->  (T,N,M,3)."""
        if type(self).positions is Transmitter.positions:          # the formula broadcasts
            return self.positions(s)
        return np.stack([self.positions(si) for si in s])

    def batch_weights(self, states, active, s0) -> np.ndarray:
        """:meth:`weights` of a stack of states (T,N,M) (``active`` their active masks,
        ``s0`` their coordinates with inactive elements at 0); subclasses may evaluate
        their formula once for the stack."""
        return np.stack([self.weights(st) for st in states])

    def batch_blockage(self, geo: "BatchGeometry", points, bodies=None):
        """Blockage amplitudes (T,N,M,K) of T states' element→point links, points (T,K,3),
        and the walls' loss in dB (T,N,M,K) (None without walls); ``bodies``: the people of
        each instant (a list of T ``Bodies`` or None) — :meth:`blockage` for many instants."""
        pts = np.asarray(points, float)
        walls = self.floor is not None and self.floor.seg_a.shape[0]
        wall = amp = None
        P = geo.positions[:, :, :, None, :]
        if walls:
            wall = self.floor.loss_db(P, pts[:, None, None, :, :])
            amp = np.where(np.isfinite(wall), 10.0 ** (-wall / 20.0), 0.0)     # b(p, q), MODEL §2.5
        if bodies is not None and any(b is not None and len(b) for b in bodies):
            from twin.physics.body import body_amplitude

            lam = wavelength(self.fc)
            shape = geo.positions.shape[:3] + (pts.shape[1],)
            amp = np.ones(shape) if amp is None else amp
            for t, b in enumerate(bodies):
                body = body_amplitude(P[t], pts[t][None, None, :, :], b, lam)
                if body is not None:
                    amp[t] = amp[t] * body
        return amp, wall

    def batch_channels(self, geo: "BatchGeometry", points, bodies=None):
        """Effective channels H (T,N,K) of T states to their points (T,K,3) and the links'
        wall loss (T,N,M,K) or None (MODEL §2.3, §2.5): :meth:`channel_to` for many
        instants, equal entry by entry."""
        pts = np.asarray(points, float)
        amp, wall = self.batch_blockage(geo, pts, bodies)
        g = free_space_gain(geo.positions[:, :, :, None, :], pts[:, None, None, :, :], self.fc)
        terms = geo.weights[..., None] * g
        if amp is not None:
            terms = terms * amp
        return terms.sum(axis=2), wall

    def batch_target_channels(self, geo: "BatchGeometry", targets, bodies=None):
        """Target channels h (T,N) and gradients (T,2,N) of T states, each to its own target
        (T,3): :meth:`target_channel` for many instants (MODEL §3.3)."""
        q = np.asarray(targets, float)
        amp, _ = self.batch_blockage(geo, q[:, None, :], bodies)
        return element_target_channel(geo.positions, geo.weights, q, self.fc,
                                      None if amp is None else amp[..., 0])

    def los_loss_db(self, state: HardwareState, points, wall_loss_db=None) -> np.ndarray:
        """Wall loss in dB (P,K) of every active element → point link (MODEL §2.5)."""
        act = self._active(state)
        points = np.atleast_2d(points)
        if wall_loss_db is None:
            wall_loss_db = self.wall_loss_db(state, points)
        if wall_loss_db is None:
            return np.zeros((int(act.sum()), points.shape[0]))
        return wall_loss_db[act]

    def describe(self) -> dict:
        """Plain description for traces and renderers (JSON-serialisable)."""
        return {"kind": self.kind, "rf_chains": int(self.n_rf), "elements": int(self.installed.sum()),
                "feed": self.feed.tolist(), "direction": self.direction.tolist(),
                "length_m": self.length.tolist(), "movable": self.movable, "steerable": self.steerable}
