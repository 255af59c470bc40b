"""The PASS deployment as a transmitter (MODEL §1-§2.3): waveguides along the ceiling,
one RF chain each, PAs sliding along them (or grouped in clusters, paper 001)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.hardware.base import Transmitter
from twin.hardware.state import HardwareState
from twin.physics.channel import guide_response, power_split_factor


@dataclass(frozen=True, eq=False)
class PassDeployment(Transmitter):
    """Waveguides and PA slots (MODEL §0-§1). Guides may hold different PA counts; the
    arrays are padded to ``M = max count`` and ``installed`` (N,M) marks real PAs.

    feed (N,3), direction (N,3) unit, length (N,), n_eff (N,), attenuation (N,) dB/m,
    spacing (N,) minimum PA spacing δ, speed (N,) m/s, installed (N,M) bool,
    cluster (N,M) int cluster index per PA (−1: none), cluster_bounds list per guide of
    (lo, hi) segments, initial (N,M) initial coordinates, floor (walls) or None.
    """

    feed: np.ndarray
    direction: np.ndarray
    length: np.ndarray
    n_eff: np.ndarray
    attenuation: np.ndarray
    spacing: np.ndarray
    speed: np.ndarray
    installed: np.ndarray
    cluster: np.ndarray
    cluster_bounds: tuple
    fc: float
    floor: object | None = None
    initial: np.ndarray | None = None
    #: per guide: None (PAs slide) or the sorted installed positions (P_n,) m among which
    #: the guide's PAs switch (``actuation = "activate"``, MODEL §5)
    stations: tuple = ()
    #: per guide: switching delay in s (activation guides)
    delay: np.ndarray | None = None

    kind = "pass"
    movable = True

    # --- activation mode (MODEL §5) ---------------------------------------------------------
    @property
    def switched(self) -> np.ndarray:
        return np.array([p is not None for p in self.stations] or [False] * self.n_guides, bool)

    @property
    def switching_delay(self) -> np.ndarray:
        return np.zeros(self.n_guides) if self.delay is None else np.asarray(self.delay, float)

    def _snap(self, s) -> np.ndarray:
        """Activation guides' coordinates snapped to their nearest free installed positions
        (order and spacing kept, :meth:`LegalSet.snap`); sliding guides unchanged."""
        from twin.optim.legal import LegalSet

        s = np.array(s, float)
        sw = self.switched
        if not sw.any():
            return s
        legal = LegalSet.of(self)
        for n in np.flatnonzero(sw):
            row = LegalSet(legal.lo[n:n + 1], legal.hi[n:n + 1], legal.spacing[n:n + 1],
                           legal.installed[n:n + 1], legal.group[n:n + 1])
            s[n:n + 1] = row.snap(s[n:n + 1], [np.asarray(self.stations[n], float)])
        return np.where(self.installed, s, 0.0)

    def realise(self, target) -> np.ndarray:
        """Sliding guides: the target as commanded; activation guides: the nearest free
        installed positions, which become the radiating set (MODEL §5)."""
        return self._snap(np.where(self.installed, np.asarray(target, float), 0.0))

    def weights(self, state: HardwareState) -> np.ndarray:
        """``ρ_n 10^(−α s/20) e^{−j k_g s}`` for active PAs, 0 otherwise (MODEL §2.2; the
        equal split ``ρ = 1/√M_active`` of MODEL §1)."""
        act = self._active(state)
        s0 = np.where(act, np.asarray(state.s, float), 0.0)
        f = guide_response(s0, self.fc, self.n_eff, self.attenuation) * power_split_factor(act)
        return np.where(act, f, 0.0)

    def batch_weights(self, states, active, s0) -> np.ndarray:
        """:meth:`weights` of a stack of states (T,N,M) in one evaluation of the same
        formula (MODEL §2.2): ``active`` their active masks, ``s0`` their coordinates with
        inactive PAs at 0."""
        f = guide_response(s0, self.fc, self.n_eff, self.attenuation) * power_split_factor(active)
        return np.where(active, f, 0.0)

    def initial_positions(self) -> np.ndarray:
        return self.uniform_positions() if self.initial is None else np.array(self.initial, float)

    def uniform_positions(self) -> np.ndarray:
        """PAs evenly spread over each guide (or each cluster segment): s (N,M), a fresh
        copy of the layout computed once per (frozen) deployment: the ``uniform`` position
        stage asks for it every frame."""
        cached = self.__dict__.get("_uniform_cache")
        if cached is None:
            cached = self._uniform_positions()
            object.__setattr__(self, "_uniform_cache", cached)
        return cached.copy()

    def _uniform_positions(self) -> np.ndarray:
        s = np.zeros(self.installed.shape)
        for n in range(self.n_guides):
            bounds = self.cluster_bounds[n]
            if bounds:
                for c, (lo, hi) in enumerate(bounds):
                    idx = np.flatnonzero(self.cluster[n] == c)
                    s[n, idx] = lo + (hi - lo) * (np.arange(len(idx)) + 0.5) / len(idx)
            else:
                m = int(self.installed[n].sum())
                s[n, :m] = self.length[n] * (np.arange(m) + 0.5) / m
        return self._snap(s)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower/upper along-guide limits per PA slot (N,M): the guide, or the PA's
        cluster segment (MODEL §1)."""
        lo = np.zeros(self.installed.shape)
        hi = np.broadcast_to(self.length[:, None], self.installed.shape).copy()
        for n in range(self.n_guides):
            for c, (a, b) in enumerate(self.cluster_bounds[n]):
                mask = self.cluster[n] == c
                lo[n, mask], hi[n, mask] = a, b
            if self.stations and self.stations[n] is not None:
                lo[n], hi[n] = np.min(self.stations[n]), np.max(self.stations[n])
        return lo, hi

    def legalize(self, s) -> np.ndarray:
        """Project along-guide coordinates onto the feasible set: sorted per guide (per
        cluster), inside the guide / cluster segment, adjacent PAs ≥ δ apart (MODEL §1);
        :class:`twin.optim.legal.LegalSet` is the one implementation."""
        from twin.optim.legal import LegalSet

        return self._snap(LegalSet.of(self).legalize(s))

    def describe(self) -> dict:
        d = super().describe()
        if self.switched.any():
            d["actuation"] = ["activate" if p is not None else "slide" for p in self.stations]
            d["installed_m"] = [None if p is None else [float(x) for x in p] for p in self.stations]
            d["switching_delay_s"] = self.switching_delay.tolist()
        return d

    # --- PASS-specific conveniences (coordinates rather than a state) ---------------------
    def channel(self, s, points, active=None, floor=None, power_split=True):
        """Effective channel H (N,K) at PA coordinates s (N,M) to points (K,3), with the
        blockage of ``floor`` (None: open room) (MODEL §2.3, §2.5)."""
        return self.channel_terms(s, points, active, floor, power_split).sum(axis=1)

    def channel_terms(self, s, points, active=None, floor=None, power_split=True):
        """Per-PA channel contributions (N,M,K) at coordinates s (MODEL §2.3); the
        same formula as :meth:`terms_to`, with the floor plan given explicitly."""
        from twin.physics.channel import pa_channel_terms

        act = self.installed if active is None else (np.asarray(active, bool) & self.installed)
        points = np.atleast_2d(points)
        blk = None
        if floor is not None and floor.seg_a.shape[0]:
            blk = floor.blockage_amplitude(self.positions(np.where(act, s, 0.0))[:, :, None, :],
                                           points[None, None, :, :])
        return pa_channel_terms(self.feed, self.direction, s, points, self.fc, n_eff=self.n_eff,
                                attenuation_db_per_m=self.attenuation, power_split=power_split,
                                active=act, blockage=blk)


def pass_from_scene(scene, floor) -> PassDeployment:
    """The PASS of a scene's ``[[waveguides]]`` (MODEL §1)."""
    gs = scene.waveguides
    N, M = len(gs), max(g.pas for g in gs)
    lam = scene.radio.wavelength_m
    installed = np.zeros((N, M), bool)
    cluster = -np.ones((N, M), int)
    bounds = []
    for n, g in enumerate(gs):
        installed[n, :g.pas] = True
        b, m0 = [], 0
        for c, cl in enumerate(g.clusters):
            cluster[n, m0:m0 + cl.pas] = c
            b.append((cl.center_m - cl.aperture_m / 2, cl.center_m + cl.aperture_m / 2))
            m0 += cl.pas
        bounds.append(tuple(b))
    d = np.array([np.asarray(g.direction, float) for g in gs])
    dep = PassDeployment(
        feed=np.array([g.feed for g in gs], float),
        direction=d / np.linalg.norm(d, axis=1, keepdims=True),
        length=np.array([g.length_m for g in gs], float),
        n_eff=np.array([g.n_eff for g in gs], float),
        attenuation=np.array([g.attenuation_db_per_m for g in gs], float),
        spacing=np.array([g.min_spacing_m or lam / 2 for g in gs], float),
        speed=np.array([g.speed_m_s for g in gs], float),
        installed=installed, cluster=cluster, cluster_bounds=tuple(bounds), fc=scene.radio.fc_hz,
        floor=floor, stations=tuple(g.stations for g in gs),
        delay=np.array([g.switching_delay_s for g in gs], float))
    s = dep.uniform_positions()
    for n, g in enumerate(gs):
        if g.initial_m is not None:
            s[n, :g.pas] = g.initial_m
    object.__setattr__(dep, "initial", dep._snap(s))
    return dep
