"""Clustered PAs and the sensing outage of a frame (MODEL §1 clusters, §3.4; paper 001
eqs. 8, 11, 18-26).

A cluster is a group of PAs on one guide confined to a segment; in each slot one cluster
radiates with all its PAs (``ρ = 1/√N_c``). Cluster c sees the target at look angle
``θ_c``; the RCS amplitudes of the clusters are correlated, ``ξ ~ CN(0, Σ)`` with
``Σ_ij = σ̄ exp(−ϱ|θ_i − θ_j|)``. The accumulated matched-filter SNR of a frame is
``Γ = ξᴴ diag(w) ξ``, ``w_c = Σ_{t: c(t)=c} (τ_t/T_tot) g_c``, and the sensing outage is
``Pr(Γ < Γ_th)``."""

from __future__ import annotations

import numpy as np

from twin.physics.channel import pa_channel_terms
from twin.physics.outage import outage_probability, rcs_covariance
from twin.physics.sensing import radar_gain
from twin.units import db_to_lin

#: Paper 001 Table I: SNR threshold Γ_th = 10 dB.
DEFAULT_THRESHOLD_DB = 10.0


def cluster_centres(deployment) -> list[tuple[int, int, np.ndarray]]:
    """(guide, cluster index, centre position (3,)) of every cluster."""
    out = []
    for n, bounds in enumerate(deployment.cluster_bounds):
        for c, (lo, hi) in enumerate(bounds):
            out.append((n, c, deployment.feed[n] + 0.5 * (lo + hi) * deployment.direction[n]))
    return out


def look_angles(deployment, target) -> np.ndarray:
    """Look angle θ_c (rad) of every cluster: the angle between its guide's axis and the
    line from the cluster centre to the target (MODEL §3.4)."""
    q = np.asarray(target, float)
    th = []
    for n, _, p in cluster_centres(deployment):
        v = q - p
        th.append(np.arccos(np.clip(deployment.direction[n] @ v / np.linalg.norm(v), -1.0, 1.0)))
    return np.asarray(th)


def sensing_gain(world, s, active, target) -> float:
    """``g = P M_r |h_t|² / (4π d_r² σ_s²)`` of the PAs ``active`` at coordinates s (MODEL
    §3.4): the matched-filter SNR per unit |ξ|² over a full frame."""
    dep = world.deployment
    q = np.asarray(target, float)
    blk = None
    if world.floor.seg_a.shape[0]:
        blk = world.floor.blockage_amplitude(dep.positions(np.where(active, s, 0.0))[:, :, None, :],
                                             q[None, None, None, :])
    h = pa_channel_terms(dep.feed, dep.direction, s, q[None], dep.fc, n_eff=dep.n_eff,
                         attenuation_db_per_m=dep.attenuation, active=active, blockage=blk)
    return float(radar_gain(np.sum(np.abs(h.sum(axis=1)) ** 2), q, world.sensing.position,
                            world.sensing.elements, world.power_w, world.sensing_noise_w))


def cluster_weights(world, slots, target) -> np.ndarray:
    """``w_c = Σ_t (τ_t/T_tot) g_c`` (C,) for slots ``[(duration_s, s (N,M), active (N,M)), …]``.

    In each slot every cluster with active PAs contributes its own gain (the PAs of the
    other clusters switched off); with one cluster per slot this is MODEL §3.4 exactly."""
    dep = world.deployment
    total = sum(d for d, _, _ in slots)
    cl = cluster_centres(dep)
    w = np.zeros(len(cl))
    for dur, s, active in slots:
        for i, (n, c, _) in enumerate(cl):
            mask = np.zeros_like(active, dtype=bool)
            mask[n] = active[n] & (dep.cluster[n] == c)
            if mask.any():
                w[i] += dur / total * sensing_gain(world, s, mask, target)
    return w


def frame_sensing_metrics(world, slots, target, rng: np.random.Generator,
                          threshold: float | None = None) -> dict:
    """Sensing outage of one frame (MODEL §3.4), what the engine traces per frame:
    exact, Chernoff bound, one Monte-Carlo outage event (ξ drawn with ``rng``), and the
    mean accumulated SNR ``E[Γ] = Σ_c w_c σ̄``. ``threshold`` Γ_th (linear), default 10 dB."""
    thr = db_to_lin(DEFAULT_THRESHOLD_DB) if threshold is None else float(threshold)
    tg = world.scene.targets
    cov = rcs_covariance(look_angles(world.deployment, target), tg.rcs_m2, tg.rcs_decay_per_rad)
    w = cluster_weights(world, slots, target)
    evals, evecs = np.linalg.eigh(cov)
    L = evecs * np.sqrt(np.clip(evals, 0.0, None))
    z = (rng.standard_normal(len(w)) + 1j * rng.standard_normal(len(w))) / np.sqrt(2.0)
    gamma = float(np.sum(w * np.abs(L @ z) ** 2))
    return {
        "sensing_outage_exact": outage_probability(w, cov, thr),
        "sensing_outage_chernoff": outage_probability(w, cov, thr, method="chernoff"),
        "sensing_outage_mc": float(gamma < thr),
        "accumulated_snr_mean": float(np.sum(w) * tg.rcs_m2),
    }


def average_rates(world, slots, users, scheduled) -> np.ndarray:
    """Users' average rates ``R̄_k = Σ_t (τ_t/T_tot) u_{k,t} log2(1 + P|h_{k,c(t)}|²/σ0²)``
    (paper 001 eq. 8, MODEL §3.4) (K,), with ``scheduled[t]`` the user served in slot t."""
    dep = world.deployment
    total = sum(d for d, _, _ in slots)
    rates = np.zeros(len(users))
    for (dur, s, active), k in zip(slots, scheduled):
        if k is None or k < 0:
            continue
        h = dep.channel(s, np.asarray(users)[k:k + 1], active, world.floor)[:, 0]
        rates[k] += dur / total * np.log2(1.0 + world.power_w * np.sum(np.abs(h) ** 2) / world.noise_w)
    return rates
