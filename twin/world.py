"""The static model of a scene (MODEL §1): deployment arrays, floor plan, sensing
receiver, radio. Built once from a validated Scene; the engine and policies read it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.geometry.floorplan import FloorPlan
from twin.physics.channel import pa_channel_terms, pa_positions
from twin.scene.schema import Scene


@dataclass(frozen=True)
class Deployment:
    """Waveguides and PA slots (MODEL §0-§1). Guides may hold different PA counts; the
    arrays are padded to ``M = max count`` and ``installed`` (N,M) marks real PAs.

    feed (N,3), direction (N,3) unit, length (N,), n_eff (N,), attenuation (N,) dB/m,
    spacing (N,) minimum PA spacing δ, speed (N,) m/s, installed (N,M) bool,
    cluster (N,M) int cluster index per PA (−1: none), cluster_bounds list per guide of
    (lo, hi) segments.
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

    @property
    def n_guides(self) -> int:
        return self.feed.shape[0]

    @property
    def max_pas(self) -> int:
        return self.installed.shape[1]

    def positions(self, s) -> np.ndarray:
        """PA positions (N,M,3) for along-guide coordinates s (N,M)."""
        return pa_positions(self.feed, self.direction, s)

    def uniform_positions(self) -> np.ndarray:
        """PAs evenly spread over each guide (or each cluster segment): s (N,M)."""
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
        return s

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower/upper along-guide limits per PA slot (N,M): the guide, or the PA's
        cluster segment (MODEL §1)."""
        lo = np.zeros(self.installed.shape)
        hi = np.broadcast_to(self.length[:, None], self.installed.shape).copy()
        for n in range(self.n_guides):
            for c, (a, b) in enumerate(self.cluster_bounds[n]):
                mask = self.cluster[n] == c
                lo[n, mask], hi[n, mask] = a, b
        return lo, hi

    def legalize(self, s) -> np.ndarray:
        """Project along-guide coordinates onto the feasible set: sorted per guide (per
        cluster), inside the guide / cluster segment, adjacent PAs ≥ δ apart (MODEL §1).
        Forward then backward pass; exact when the segment can hold the PAs."""
        s = np.array(s, float)
        lo, hi = self.bounds()
        for n in range(self.n_guides):
            groups = ([np.flatnonzero(self.cluster[n] == c) for c in range(len(self.cluster_bounds[n]))]
                      or [np.flatnonzero(self.installed[n])])
            d = self.spacing[n]
            for idx in groups:
                if idx.size == 0:
                    continue
                v = np.sort(np.clip(s[n, idx], lo[n, idx], hi[n, idx]))
                a, b = lo[n, idx[0]], hi[n, idx[0]]
                for i in range(1, v.size):
                    v[i] = max(v[i], v[i - 1] + d)
                v[-1] = min(v[-1], b)
                for i in range(v.size - 2, -1, -1):
                    v[i] = min(v[i], v[i + 1] - d)
                v[0] = max(v[0], a)
                s[n, idx] = v
        return np.where(self.installed, s, 0.0)

    def channel(self, s, points, active=None, floor: FloorPlan | None = None, power_split=True):
        """Effective channel H (N,K) at PA coordinates s (N,M) to points (K,3) with the
        floor plan's blockage (MODEL §2.3, §2.5)."""
        return self.channel_terms(s, points, active, floor, power_split).sum(axis=1)

    def channel_terms(self, s, points, active=None, floor: FloorPlan | None = None, power_split=True):
        """Per-PA channel contributions (N,M,K) (MODEL §2.3)."""
        act = self.installed if active is None else (np.asarray(active, bool) & self.installed)
        points = np.atleast_2d(points)
        blk = None
        if floor is not None and floor.seg_a.shape[0]:
            blk = floor.blockage_amplitude(self.positions(np.where(act, s, 0.0))[:, :, None, :],
                                           points[None, None, :, :])
        return pa_channel_terms(self.feed, self.direction, s, points, self.fc, n_eff=self.n_eff,
                                attenuation_db_per_m=self.attenuation, power_split=power_split,
                                active=act, blockage=blk)


@dataclass(frozen=True)
class SensingArray:
    """Receive ULA (MODEL §2.4): position (3,), axis (3,) unit, elements, spacing, snapshots."""

    position: np.ndarray
    axis: np.ndarray
    elements: int
    spacing: float
    snapshots: int


class World:
    """Scene + deployment + floor plan + sensing receiver: everything static about a run."""

    def __init__(self, scene: Scene):
        self.scene = scene
        r = scene.radio
        self.fc = r.fc_hz
        self.wavelength = r.wavelength_m
        self.noise_w = r.noise_w
        self.sensing_noise_w = r.sensing_noise_w
        self.power_w = r.power_w
        self.user_power_w = r.user_power_w
        self.floor = FloorPlan.from_scene(scene)
        self.deployment = _deployment(scene)
        sn = scene.sensing
        axis = np.asarray(sn.axis, float)
        self.sensing = SensingArray(np.asarray(sn.position, float), axis / np.linalg.norm(axis),
                                    sn.elements, sn.spacing_m or self.wavelength / 2, sn.snapshots)
        self.n_users = scene.users.n
        self.n_targets = scene.targets.n if scene.targets else 0
        self.sinr_target = scene.users.sinr_target_lin
        self.ue_height = scene.floor.ue_height_m

    def initial_pa_positions(self) -> np.ndarray:
        s = self.deployment.uniform_positions()
        for n, g in enumerate(self.scene.waveguides):
            if g.initial_m is not None:
                s[n, :g.pas] = g.initial_m
        return s


def _deployment(scene: Scene) -> Deployment:
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
    return Deployment(
        feed=np.array([g.feed for g in gs], float),
        direction=d / np.linalg.norm(d, axis=1, keepdims=True),
        length=np.array([g.length_m for g in gs], float),
        n_eff=np.array([g.n_eff for g in gs], float),
        attenuation=np.array([g.attenuation_db_per_m for g in gs], float),
        spacing=np.array([g.min_spacing_m or lam / 2 for g in gs], float),
        speed=np.array([g.speed_m_s for g in gs], float),
        installed=installed, cluster=cluster, cluster_bounds=tuple(bounds), fc=scene.radio.fc_hz)
