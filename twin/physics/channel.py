"""PASS channels (MODEL §2.1-§2.3): free-space LoS gain, in-waveguide response,
effective per-waveguide channel. Pure, vectorised over guides × PAs × points."""

from __future__ import annotations

import numpy as np

from twin.units import amplitude_constant, guided_wavenumber, wavenumber


def pa_positions(feed, direction, s):
    """PA positions ``p = o_n + s u_n`` (MODEL §0).

    feed (N,3), direction (N,3) unit, s (N,M)  ->  (N,M,3).
    """
    feed = np.asarray(feed, dtype=float)
    direction = np.asarray(direction, dtype=float)
    s = np.asarray(s, dtype=float)
    return feed[:, None, :] + s[..., None] * direction[:, None, :]


def free_space_gain(p, q, fc):
    """LoS gain ``g(p,q) = √η e^{-j k0 r}/r`` (MODEL §2.1; paper 000 eq. 5).

    p (...,3), q (...,3), broadcast against each other  ->  (...) complex.
    Blockage ``b(p,q)`` is applied by the caller (it comes from the floor plan).
    """
    d = np.asarray(p, dtype=float) - np.asarray(q, dtype=float)
    # r = ‖d‖ as np.linalg.norm(d, axis=-1) computes it, ((x² + y²) + z²) in that order,
    # without its reduction over an axis of three (tests/physics/test_channel.py)
    r = d[..., 0] * d[..., 0]
    r += d[..., 1] * d[..., 1]
    r += d[..., 2] * d[..., 2]
    np.sqrt(r, out=r)
    return amplitude_constant(fc) * np.exp(-1j * wavenumber(fc) * r) / r


def power_split_factor(active):
    """Equal-power split ``ρ = 1/√M_active`` per waveguide (MODEL §1).

    active (N,M) bool  ->  (N,1) float (0 for a guide with no active PA); leading
    dimensions (a stack of states) are kept.
    """
    count = np.asarray(active, dtype=bool).sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        return np.where(count > 0, 1.0 / np.sqrt(np.maximum(count, 1)), 0.0)


def guide_response(s, fc, n_eff=1.4, attenuation_db_per_m=0.0):
    """In-waveguide response without the split, ``10^(-α s/20) e^{-j k_g s}`` (MODEL §2.2;
    paper 000 eq. 7, paper 002 eq. 3).

    s (N,M); n_eff and attenuation scalar or (N,)  ->  (N,M) complex; leading dimensions
    of s (a stack of states, (...,N,M)) are kept.
    """
    s = np.asarray(s, dtype=float)
    n_eff = np.broadcast_to(np.asarray(n_eff, dtype=float), s.shape[-2:-1])[:, None]
    alpha = np.broadcast_to(np.asarray(attenuation_db_per_m, dtype=float), s.shape[-2:-1])[:, None]
    kg = guided_wavenumber(fc, 1.0) * n_eff
    return 10.0 ** (-alpha * s / 20.0) * np.exp(-1j * kg * s)


def pa_channel_terms(feed, direction, s, points, fc, *, n_eff=1.4,
                     attenuation_db_per_m=0.0, power_split=True, active=None,
                     blockage=None):
    """Per-PA contributions ``f(s_{n,m}) g(p_{n,m}, q_k) b`` to the PASS channel (MODEL §2.3).

    feed (N,3), direction (N,3), s (N,M), points (K,3); active (N,M) bool or None
    (all active); blockage (N,M,K) amplitudes or None (open room)  ->  (N,M,K) complex.
    Inactive PAs contribute zero and do not take a share of the power split.
    """
    s = np.asarray(s, dtype=float)
    points = np.atleast_2d(np.asarray(points, dtype=float))
    act = np.ones(s.shape, dtype=bool) if active is None else np.asarray(active, dtype=bool)
    s_safe = np.where(act, s, 0.0)
    pos = pa_positions(feed, direction, s_safe)                      # (N,M,3)
    g = free_space_gain(pos[:, :, None, :], points[None, None, :, :], fc)   # (N,M,K)
    f = guide_response(s_safe, fc, n_eff, attenuation_db_per_m)       # (N,M)
    if power_split:
        f = f * power_split_factor(act)
    terms = np.where(act[..., None], f[..., None] * g, 0.0)
    if blockage is not None:
        terms = terms * np.asarray(blockage, dtype=float)
    return terms


def pass_channel(feed, direction, s, points, fc, *, n_eff=1.4, attenuation_db_per_m=0.0,
                 power_split=True, active=None, blockage=None):
    """Effective PASS channel ``[h_k]_n = Σ_m f(s_{n,m}) g(o_n + s_{n,m} u_n, q_k)``
    (MODEL §2.3, §6; paper 000 eq. 8, paper 002 eq. 5).

    feed (N,3), direction (N,3), s (N,M), points (K,3)  ->  H (N,K) complex.
    ``power_split=True`` applies ``ρ = 1/√M`` (active PAs); ``blockage`` (N,M,K)
    amplitudes from the floor plan (MODEL §2.5), None for an open room.
    """
    return pa_channel_terms(feed, direction, s, points, fc, n_eff=n_eff,
                            attenuation_db_per_m=attenuation_db_per_m,
                            power_split=power_split, active=active,
                            blockage=blockage).sum(axis=1)


def element_channel_terms(positions, weights, points, fc, blockage=None):
    """Per-element contributions ``w_{n,m} g(p_{n,m}, q_k) b`` of any transmitter whose
    RF chain n feeds elements at ``positions`` with complex weights (MODEL §2.3, §2.6).

    positions (N,M,3), weights (N,M) complex (0 for an element that does not radiate),
    points (K,3), blockage (N,M,K) amplitudes or None  ->  (N,M,K) complex.
    """
    positions = np.asarray(positions, dtype=float)
    points = np.atleast_2d(np.asarray(points, dtype=float))
    g = free_space_gain(positions[:, :, None, :], points[None, None, :, :], fc)
    terms = np.asarray(weights)[..., None] * g
    if blockage is not None:
        terms = terms * np.asarray(blockage, dtype=float)
    return terms


def array_channel(positions, points, fc, weights=None, blockage=None):
    """Channel of fixed antennas (MODEL §2.6): ``[h_k]_n = Σ_m w_{n,m} g(p_{n,m}, q_k)``.

    positions (N,M,3) (M antennas behind RF chain n; M=1 for fully digital MIMO),
    points (K,3), weights (N,M) complex analog weights (default 1), blockage (N,M,K)
    ->  (N,K) complex.
    """
    positions = np.asarray(positions, dtype=float)
    points = np.atleast_2d(np.asarray(points, dtype=float))
    g = free_space_gain(positions[:, :, None, :], points[None, None, :, :], fc)
    if blockage is not None:
        g = g * blockage
    w = np.ones(positions.shape[:2]) if weights is None else np.asarray(weights)
    return np.einsum("nm,nmk->nk", w, g)


def analog_weights(positions, aims, fc) -> np.ndarray:
    """Phase-only analog weights (N,M) of a partially connected array (MODEL §2.6):
    sub-array n conjugate-matched to the sum of unit-modulus responses towards its aim
    points ``aims[n]`` (a (3,) point or (J,3) points), divided by √M."""
    positions = np.asarray(positions, float)
    N, M, _ = positions.shape
    w = np.zeros((N, M), complex)
    for n in range(N):
        pts = np.atleast_2d(aims[n])
        g = free_space_gain(positions[n][:, None, :], pts[None, :, :], fc)   # (M,J)
        z = np.sum(g / np.abs(g), axis=1)
        w[n] = np.conj(z) / np.where(np.abs(z) > 0, np.abs(z), 1.0) / np.sqrt(M)
    return w
