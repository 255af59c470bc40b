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

from twin.physics.outage import outage_probability, rcs_covariance



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


def frame_outage(weights, look_angles_rad, rcs_mean_m2, decay, threshold, rng: np.random.Generator) -> dict:
    """Sensing outage of a frame from the cluster weights ``w_c = Σ_t (τ_t/T_tot) g_c`` (C,)
    and look angles (C,) (MODEL §3.4): exact, Chernoff bound, one Monte-Carlo outage event
    (ξ ~ CN(0, Σ) drawn with ``rng``), and the mean accumulated SNR ``Σ_c w_c σ̄``."""
    w = np.asarray(weights, float)
    cov = rcs_covariance(look_angles_rad, rcs_mean_m2, decay)
    evals, evecs = np.linalg.eigh(cov)
    L = evecs * np.sqrt(np.clip(evals, 0.0, None))
    z = (rng.standard_normal(len(w)) + 1j * rng.standard_normal(len(w))) / np.sqrt(2.0)
    gamma = float(np.sum(w * np.abs(L @ z) ** 2))
    return {
        "sensing_outage_exact": outage_probability(w, cov, threshold),
        "sensing_outage_chernoff": outage_probability(w, cov, threshold, method="chernoff"),
        "sensing_outage_mc": float(gamma < threshold),
        "accumulated_snr_mean": float(np.sum(w) * rcs_mean_m2),
    }
