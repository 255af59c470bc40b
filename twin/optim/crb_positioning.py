"""CRB-minimising PA positions and the overall alternating optimisation (MODEL §4.4;
paper 000 §III-B/C, Algorithms 1-4).

Given the digital beamformers ``W``, ``R_s`` (from :mod:`twin.optim.sdr`), the positions are
optimised by the penalty method (Algorithm 3) on the auxiliary channels ``Q ≈ H`` and
``Q_m ≈ H_m`` (eq. 40):

- ``Q``: SCA on the SINR constraints (Algorithm 1, eqs. 41-45). Each convexified problem
  is the projection of ``Σ_m Q_m`` onto one convex quadratic constraint per user; it is
  solved exactly from its KKT conditions (``q(μ) = (I + μB)^{-1}(p + μb)`` in B's
  eigenbasis, the multiplier μ by multisection, vectorised over users and trial values)
  instead of a generic conic solver.
- ``Q_m``: closed form (48).
- positions: element-wise 1-D search (Algorithm 2, eqs. 50-51), each PA over its feasible
  interval ``[s_{m−1}+δ, s_{m+1}−δ]``; all candidates of one PA are evaluated in one
  vectorised step (channel row, Fisher blocks, CRB trace; a batch whose geometry or whose
  tr CRB inputs come again is looked up, not recomputed). Continuous mode: a uniform
  grid of ``grid`` points per guide (a refinement of the Z = 30 and Z = 15 lattices)
  then a zoom of spacing λ/32 around the best and the current point; discrete mode
  (Discrete-PASS-Z): the Z+1 lattice points only.

The objective of (40) is normalised: ``tr CRB / tr CRB_0 + penalty / (ρ · p_0)`` with
``p_0`` the mean per-PA channel energy, so ρ is dimensionless (same method, one scale).

Algorithm 4 alternates the SDR and Algorithm 3. A position update is accepted only if the
re-solved SDR (the true CRB objective with feasible beamforming) does not increase; if
the penalty step is rejected or stalls, element-wise steps on the CRB with R fixed are
tried (first "guarded": only candidates that keep the current ``W, R_s`` feasible, then
"free", then with an isotropic R), each kept only if the re-solved SDR improves. The history is therefore
non-increasing.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass

import numba as nb
import numpy as np

from twin.optim.layout import PassLayout
from twin.optim.legal import lattice
from twin.optim.result import OptResult, Status
from twin.optim.sdr import CrbSdr, CrbSetup, SdrResult
from twin.optim.search1d import coordinate_search
from twin.physics.sensing import nuisance_gauge
from twin.physics.sinr import sinr_downlink
from twin.units import wavelength

__all__ = ["PassLayout", "SearchGrid", "ReachGrid", "AoSolution", "AoResult", "PositioningResult",
           "sca_sinr_projection", "crb_elementwise_positions", "penalty_positioning", "sdr_at",
           "crb_ao", "coarse_to_fine", "reach_window", "crb_track"]


def _lattice_points(dep, z: int):
    return [lattice(dep.length[n], z) for n in range(dep.n_guides)]


# ---------------------------------------------------------------------------------------
# Algorithm 1: SCA for Q (eqs. 41-45)
# ---------------------------------------------------------------------------------------
def sca_sinr_projection(P, Q0, W, Rs, sinr_target, noise_w, *, max_iter: int = 20,
                        tol: float = 1e-4):
    """Algorithm 1: ``min_Q ‖Q − P‖_F²`` s.t. ``SINR_k(q_k; W, R_s) ≥ γ_k`` (39e) by SCA
    around a feasible ``Q0`` (eqs. 42-45).

    P, Q0 (N,K), W (N,K), Rs (N,N)  ->  (Q (N,K), history of ‖Q − P‖²). Each convexified
    problem ``min ‖q − p‖²`` s.t. ``q^H B q − 2 Re(b^H q) + d ≤ 0`` (B = Σ_{i≠k} w_i w_i^H
    + R_s, b = W_k q^{(t)}/γ, d = σ² + q^{(t)H} W_k q^{(t)}/γ) is solved exactly: KKT gives
    ``q(μ) = (I + μB)^{-1}(p + μb)`` with the smallest μ ≥ 0 that meets the constraint
    (:func:`_smallest_feasible_log_mu`, on log10 μ ∈ [−30, 30]); a user whose convexified
    set is empty keeps its point. In B's eigenbasis (``B = V Λ Vᴴ``, per user) both are
    diagonal: ``z = Vᴴ q(μ) = (Vᴴp + μ Vᴴb) / (1 + μλ)`` and the constraint is
    ``Σ_n λ_n |z_n|² − 2 Re Σ_n conj((Vᴴb)_n) z_n + d`` (MODEL §4.4).
    """
    sig = np.sqrt(noise_w)
    p = np.asarray(P, complex) / sig                       # scaled: noise power 1
    q = np.asarray(Q0, complex) / sig
    W = np.asarray(W, complex)
    N, K = W.shape
    gamma = np.broadcast_to(np.asarray(sinr_target, float), (K,))
    WW = np.einsum("nk,mk->knm", W, W.conj())             # (K,N,N) w_k w_k^H
    B = WW.sum(0)[None] - WW + np.asarray(Rs)[None]       # (K,N,N)
    lam, V = np.linalg.eigh(B)
    lam = np.clip(lam, 0.0, None)                         # (K,N); rounding's negative λ: 0
    Vh = V.conj().transpose(0, 2, 1)
    pt = np.einsum("knm,mk->kn", Vh, p)                    # V^H p_k  (K,N)
    hist = [float(np.sum(np.abs(q - p) ** 2)) * noise_w]
    for _ in range(max_iter):
        c = np.einsum("nk,nk->k", W.conj(), q)             # w_k^H q_k
        b = W * (c / gamma)[None, :]                        # (N,K)
        d = 1.0 + np.abs(c) ** 2 / gamma
        bt = np.einsum("knm,mk->kn", Vh, b)                 # V^H b_k  (K,N)
        new = p.copy()
        viol = _convexified_g(np.zeros((K, 1)), pt, bt, lam, d)[:, 0] > 0
        if np.any(viol):
            hi, feas = _smallest_feasible_log_mu(pt, bt, lam, d)
            qs = np.einsum("knm,km->nk", V, _kkt_z((10.0 ** hi)[:, None], pt, bt, lam)[:, 0])
            new = np.where(viol[None, :], np.where(feas[None, :], qs, q), p)
        q = new
        hist.append(float(np.sum(np.abs(q - p) ** 2)) * noise_w)
        if abs(hist[-2] - hist[-1]) <= tol * max(hist[-2], 1e-300):
            break
    return q * sig, hist


def _kkt_z(mu, pt, bt, lam):
    """Algorithm 1's KKT point in B's eigenbasis, ``z = Vᴴ q(μ) = (Vᴴp + μ Vᴴb) / (1 + μλ)``,
    for every user and trial multiplier: mu (K,S), pt and bt (K,N) = Vᴴp, Vᴴb, lam (K,N)
    -> (K,S,N)."""
    m = mu[:, :, None]
    return (pt[:, None, :] + m * bt[:, None, :]) / (1.0 + m * lam[:, None, :])


def _convexified_g(mu, pt, bt, lam, d):
    """The convexified SINR constraint of Algorithm 1 (eq. 44) at ``q(μ)`` (:func:`_kkt_z`)
    for every user and trial multiplier: mu (K,S), d (K,) -> (K,S); ≤ 0 where q(μ) meets
    it. In B's eigenbasis (see :func:`sca_sinr_projection`)."""
    z = _kkt_z(mu, pt, bt, lam)                                                 # (K,S,N)
    zr, zi = z.real, z.imag
    quad = np.sum(lam[:, None, :] * (zr * zr + zi * zi), axis=2)
    lin = np.sum(bt.real[:, None, :] * zr + bt.imag[:, None, :] * zi, axis=2)
    return quad - 2.0 * lin + d[:, None]


#: trial multipliers per user and round of :func:`_smallest_feasible_log_mu`
_MU_TRIALS = 31


def _smallest_feasible_log_mu(pt, bt, lam, d):
    """Per user, the smallest log10 μ in [−30, 30] (to the last double) at which q(μ) meets
    the convexified constraint, by multisection: each round tries ``_MU_TRIALS`` evenly
    spaced points inside the bracket (lo infeasible or −30, hi feasible or 30) at once and
    keeps the interval between the last infeasible and the first feasible one, 32× shorter;
    it stops when a round leaves every bracket as it was (its ends neighbouring doubles),
    after about 13 rounds where bisection took about 60 sequential steps. The constraint
    is monotone in μ (it falls along the KKT path), so this is bisection's answer, up to
    where rounding makes its sign flicker over the last doubles: there either may stop
    at another sign change, ~1e-14 away in log10 μ (tests/optim/test_crb_search_fast.py).
    -> (hi (K,), feasible at 10^30 (K,))."""
    K = pt.shape[0]
    lo, hi = np.full(K, -30.0), np.full(K, 30.0)
    feas = _convexified_g(np.full((K, 1), 1e30), pt, bt, lam, d)[:, 0] <= 0
    frac = np.arange(1, _MU_TRIALS + 1) / (_MU_TRIALS + 1.0)
    rows = np.arange(K)
    for _ in range(64):
        t = lo[:, None] + (hi - lo)[:, None] * frac[None, :]             # (K,S)
        ok = _convexified_g(10.0 ** t, pt, bt, lam, d) <= 0
        j = np.where(ok.any(axis=1), ok.argmax(axis=1), _MU_TRIALS)     # first feasible trial
        hi2 = np.where(j < _MU_TRIALS, t[rows, np.minimum(j, _MU_TRIALS - 1)], hi)
        lo2 = np.where(j > 0, t[rows, np.maximum(j - 1, 0)], lo)
        if np.array_equal(lo2, lo) and np.array_equal(hi2, hi):
            break
        lo, hi = lo2, hi2
    return hi, feas


# ---------------------------------------------------------------------------------------
# Algorithm 2: element-wise search (eqs. 50-51)
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchGrid:
    """Candidate sets of the 1-D search: ``lattice_z`` (Discrete-PASS-Z: only the Z+1
    lattice points) or continuous (``grid`` uniform points per guide, then a zoom of
    ``zoom`` points at spacing ``fine_m`` around the best and the current candidate)."""

    lattice_z: int | None = None
    grid: int = 601
    fine_m: float | None = None
    zoom: int = 97

    def coarse(self, length, lo, hi, current):
        """The guide's grid (or lattice) points in [lo, hi], with lo, hi and the current
        coordinate (read-only: kept, :func:`_coarse`)."""
        return _coarse(self, float(length), float(lo), float(hi), float(current))

    def refine(self, centres, length, lo, hi, fine):
        """``zoom`` points of spacing ≈ ``fine`` around each centre, clipped to [lo, hi]
        (read-only: kept, :func:`_refine`)."""
        return _refine(self, tuple(float(c) for c in centres), float(length), float(lo), float(hi), float(fine))


@functools.lru_cache(maxsize=8192)
def _coarse(grid: SearchGrid, length: float, lo: float, hi: float, current: float) -> np.ndarray:
    """:meth:`SearchGrid.coarse`, kept per arguments: the AO asks for the same PA's set
    again and again while its neighbours stay (a paper 000 power chain: 26 336 sets, 1 449
    distinct)."""
    pts = _guide_points(length, grid.lattice_z, grid.grid)
    if grid.lattice_z is not None:
        pts = pts[(pts >= lo - 1e-9) & (pts <= hi + 1e-9)]
        out = _sorted_set(np.concatenate([pts, [current]]))
    else:
        pts = pts[(pts >= lo) & (pts <= hi)]
        out = _sorted_set(np.concatenate([pts, [lo, hi, current]]))
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=8192)
def _refine(grid: SearchGrid, centres: tuple, length: float, lo: float, hi: float, fine: float) -> np.ndarray:
    """:meth:`SearchGrid.refine`, kept per arguments (as :func:`_coarse`; 1 868 distinct of
    26 336 in a power chain)."""
    if grid.lattice_z is not None:
        out = np.empty(0)
    else:
        half = max(length / max(grid.grid - 1, 1), fine * grid.zoom / 2)
        off = _linspace(-half, half, grid.zoom)
        pts = (np.asarray(centres, float)[:, None] + off[None, :]).ravel()
        out = _sorted_set(np.clip(pts, lo, hi))
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=64)
def _guide_points(length: float, lattice_z: int | None, grid: int) -> np.ndarray:
    """A guide's candidate points before its PA's interval cuts them: the Z+1 points of
    :func:`~twin.optim.legal.lattice` or the ``grid`` uniform points ``linspace(0, L,
    grid)`` (read-only). The same arrays :meth:`SearchGrid.coarse` built on every call,
    kept: a search asks for them tens of thousands of times per drop."""
    pts = lattice(length, lattice_z) if lattice_z is not None else np.linspace(0.0, length, grid)
    pts.flags.writeable = False
    return pts


class _TargetMemo(CrbSetup):
    """A :class:`CrbSetup` that keeps the receive-side terms (a, ȧ, β) of the last target
    (MODEL §2.4): a search scores thousands of candidate batches for one target, and
    :meth:`CrbSetup.fisher` would rebuild them for each. Same numbers, computed once."""

    def receiver(self, target):
        key = np.asarray(target, float).tobytes()
        memo = self.__dict__.get("_rx")
        if memo is None or memo[0] != key:
            memo = (key, super().receiver(target))
            self.__dict__["_rx"] = memo
        return memo[1]


def _memo_setup(setup):
    """``setup`` with its receiver terms memoised (:class:`_TargetMemo`); other setup
    types (subclasses with their own Fisher model) are returned unchanged."""
    if type(setup) is not CrbSetup:
        return setup
    return _TargetMemo(**{f.name: getattr(setup, f.name) for f in dataclasses.fields(setup)})


@dataclass(frozen=True)
class ReachGrid:
    """Candidate sets of the tracking search (:func:`crb_track`): ``points`` uniform
    points over the PA's window (its reachable set ∩ its feasible interval, both given as
    ``lo, hi``) plus its ends and the current point, then a zoom of ``zoom`` points around
    the best and the current candidate, half-width the coarse spacing or ``zoom/2`` steps
    of ``fine_m`` (default λ/32), whichever is larger. Unlike :class:`SearchGrid` the
    coarse grid spans the window, not the guide: a window of a few wavelengths gets
    wavelength-scale candidates. ``far`` > 1: also ``far`` uniform points over the PA's
    whole feasible interval (a zoom around one of them at the window's resolution), so a
    PA can be sent beyond its reach when a distant position is better (the actuator then
    slides there over several frames)."""

    points: int = 41
    zoom: int = 33
    fine_m: float | None = None
    far: int = 0
    lattice_z = None

    def coarse(self, length, lo, hi, current):
        pts = _linspace(lo, hi, max(int(self.points), 2))
        return _sorted_set(np.concatenate([pts, [lo, hi, current]]))

    def refine(self, centres, length, lo, hi, fine, width=None):
        if self.zoom <= 1 or hi <= lo:
            return np.empty(0)
        width = hi - lo if width is None else width
        half = max(width / max(int(self.points) - 1, 1), fine * self.zoom / 2)
        off = _linspace(-half, half, self.zoom)
        pts = (np.asarray(centres, float)[:, None] + off[None, :]).ravel()
        return _sorted_set(np.clip(pts, lo, hi))

    def coarse_far(self, a, b, current, lo, hi, far: int):
        """:meth:`coarse` over the window [a, b] plus ``far`` uniform points over the
        feasible interval [lo, hi], as one sorted set (the union the search forms, with one
        sort instead of two ``np.unique``: the same array)."""
        return _sorted_set(np.concatenate([_linspace(a, b, max(int(self.points), 2)), [a, b, current],
                                           _linspace(lo, hi, far)]))

    def refine_far(self, centres, a, b, lo, hi, fine):
        """The union of :meth:`refine` around each centre at the window's resolution
        (``width = b − a``), each inside the window [a, b] if it lies there, else inside
        the feasible interval [lo, hi] (a far candidate): one ``np.unique`` over all
        centres instead of one per centre and one over their union (the same array)."""
        if self.zoom <= 1:
            return np.empty(0)
        half = max((b - a) / max(int(self.points) - 1, 1), fine * self.zoom / 2)
        off = _linspace(-half, half, self.zoom)
        parts = []
        for c in centres:
            A, B = (a, b) if a <= c <= b else (lo, hi)
            if B > A:
                parts.append(np.clip(c + off, A, B))
        return _sorted_set(np.concatenate(parts)) if parts else np.empty(0)


def _linspace(a, b, num: int) -> np.ndarray:
    """``np.linspace(a, b, num)`` for float scalars, the same operations in the same order
    (``arange · step + a``, the last point set to b; numpy ≥ 1.26) without its argument
    handling, which costs more than the arithmetic for the search's few dozen points."""
    if num < 2:
        return np.linspace(a, b, num)
    a, b = float(a), float(b)
    y = np.arange(num, dtype=float)
    delta = b - a
    step = delta / (num - 1)
    if step == 0:
        y /= num - 1
        y *= delta
    else:
        y *= step
    y += a
    y[-1] = b
    return y


def _sorted_set(x) -> np.ndarray:
    """The sorted distinct values of a float array (``np.unique`` without NaNs): one sort
    and one comparison of neighbours."""
    a = np.sort(x)
    keep = np.empty(a.size, bool)
    keep[:1] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def _crb_trace(setup, R, h, dh, q):
    """tr CRB (batched) as crb_from_channel computes it (gauged gradient): the trace of
    ``(J11 − J12 J22⁻¹ J12ᵀ)⁻¹`` of a symmetric 2×2 Schur complement S in closed form,
    ``tr S / det S`` (MODEL §3.3), inf where :func:`crb_from_fisher` calls the
    information singular (J22 ≤ 0, non-finite, or condition number |λ_max/λ_min| of S
    above 1e14)."""
    if type(setup) in (CrbSetup, _TargetMemo):
        return _crb_trace_gram(setup, R, h, dh, q)
    J11, J12, J22 = setup.fisher(R, h, nuisance_gauge(h, dh), q)
    j22 = J22[..., 0, 0]
    ok = j22 > 0
    S = J11 - (J12 @ np.swapaxes(J12, -1, -2)) / np.where(ok, j22, 1.0)[..., None, None]
    a, b, d = S[..., 0, 0], 0.5 * (S[..., 0, 1] + S[..., 1, 0]), S[..., 1, 1]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        ok = ok & np.isfinite(a) & np.isfinite(b) & np.isfinite(d)
        m, r = 0.5 * (a + d), np.hypot(0.5 * (a - d), b)
        big = np.abs(m) + r                                  # |λ| largest
        det = a * d - b * b
        small = np.abs(det) / np.where(big > 0, big, 1.0)    # |λ| smallest = |det| / |λ_max|
        ok = ok & (big > 0) & (small * 1e14 >= big)
        return np.where(ok, (a + d) / np.where(ok, det, 1.0), np.inf)


def _rx_consts(setup, q):
    """Receive-side constants of the Gram tr CRB (MODEL §2.4, §3.3) for target q, as the
    compiled kernels take them (Python floats and complex, contiguous complex arrays):
    ``(c = 2L/σ², aᴴa, aᴴȧ_j (2,), ȧ_iᴴȧ_j (2,2), c|β|², β*, (aᴴȧ_j)*)``. A
    :class:`_TargetMemo` keeps them with its receiver terms (once per target instead of
    once per candidate batch)."""
    rx = setup.receiver(q)
    memo = setup.__dict__.get("_rxc")
    if memo is not None and memo[0] is rx:
        return memo[1]
    a, da, beta = rx
    c = 2.0 * setup.snapshots / setup.noise_w
    e1 = np.ascontiguousarray(da @ a.conj(), dtype=complex)
    vals = (float(c), float(np.real(np.vdot(a, a))), e1, np.ascontiguousarray(da.conj() @ da.T, dtype=complex),
            float(c * abs(beta) ** 2), complex(np.conj(beta)), np.conj(e1))
    if isinstance(setup, _TargetMemo):
        setup.__dict__["_rxc"] = (rx, vals)
    return vals


def _crb_trace_gram(setup, R, h, dh, q):
    """:func:`_crb_trace` for the plain :class:`CrbSetup` with the transmit quadratic forms of
    :meth:`CrbSetup.fisher` (``hᴴRh``, ``hᴴRḣ_i``, ``ḣ_jᴴRh``, ``ḣ_jᴴRḣ_i``, gauged ḣ) read
    off one 3×3 Gram matrix ``Xᴴ R X``, ``X = [h, ḣ_x, ḣ_y]``, per candidate, and the Schur
    complement of the nuisance written out entrywise (MODEL §3.3); see :func:`_gram_tr`.
    Same formulas as the Fisher blocks; the sums run in another order, so values agree to
    rounding (~1e-15 relative). h (…,N), dh (…,2,N), R (N,N) or (…,N,N) -> (…)."""
    h, dh, R = np.asarray(h), np.asarray(dh), np.asarray(R)
    lead, N = h.shape[:-1], h.shape[-1]
    Q = int(np.prod(lead, dtype=int))
    R = np.ascontiguousarray(R, dtype=complex)
    R = R[None] if R.ndim == 2 else np.ascontiguousarray(np.broadcast_to(R, lead + (N, N)).reshape(Q, N, N))
    return _gram_trace_kernel(np.ascontiguousarray(h.reshape(Q, N), dtype=complex),
                              np.ascontiguousarray(dh.reshape(Q, 2, N), dtype=complex), R,
                              *_rx_consts(setup, q)).reshape(lead)


@nb.njit(cache=True, error_model="numpy")
def _gram_tr(x, rx, R, c, e0, e1, e2, k1, cbeta, e1c):
    """tr CRB of one candidate, ``x`` (3,N) = ``[h, ḣ_x, ḣ_y]`` (overwritten: the gradient is
    gauged in place, ``ḣ_i − (hᴴḣ_i/‖h‖²) h``), ``rx`` (3,N) scratch, R (N,N). The Gram
    ``G[a,b] = x_aᴴ R x_b`` (3×3) gives every transmit quadratic form of
    :meth:`CrbSetup.fisher`; with the receive constants (``c = 2L/σ², aᴴa, aᴴȧ_j, ȧ_iᴴȧ_j,
    c|β|², β*, (aᴴȧ_j)*``, :func:`_rx_consts`) the Fisher entries are
    ``J11[i,j] = c|β|² Re(ȧ_iᴴȧ_j hᴴRh + hᴴRḣ_i aᴴȧ_j + (aᴴȧ_i)* ḣ_jᴴRh + aᴴa ḣ_jᴴRḣ_i)``,
    ``J12[i] = c Re/Im of β* (aᴴȧ_i)* hᴴRh + aᴴa hᴴRḣ_i``, ``J22 = c aᴴa hᴴRh``; the Schur
    complement ``S = J11 − J12 J12ᵀ/J22`` and ``tr S⁻¹ = tr S / det S``, inf where
    :func:`crb_from_fisher` calls the information singular (J22 ≤ 0, non-finite, or
    condition number of S above 1e14). MODEL §3.3."""
    N = x.shape[1]
    nrm = 0.0
    for i in range(N):
        nrm += x[0, i].real * x[0, i].real + x[0, i].imag * x[0, i].imag
    den = nrm if nrm > 0 else 1.0
    for b in range(1, 3):
        s = 0j
        for i in range(N):
            s += x[b, i] * np.conj(x[0, i])
        kap = s / den
        for i in range(N):
            x[b, i] = x[b, i] - kap * x[0, i]
    for b in range(3):
        for i in range(N):
            s = 0j
            for j in range(N):
                s += R[i, j] * x[b, j]
            rx[b, i] = s
    g00 = 0j
    g01 = 0j
    g02 = 0j
    g10 = 0j
    g20 = 0j
    g11 = 0j
    g12 = 0j
    g21 = 0j
    g22 = 0j
    for i in range(N):
        x0, x1, x2 = np.conj(x[0, i]), np.conj(x[1, i]), np.conj(x[2, i])
        g00 += x0 * rx[0, i]
        g01 += x0 * rx[1, i]
        g02 += x0 * rx[2, i]
        g10 += x1 * rx[0, i]
        g20 += x2 * rx[0, i]
        g11 += x1 * rx[1, i]
        g12 += x1 * rx[2, i]
        g21 += x2 * rx[1, i]
        g22 += x2 * rx[2, i]
    j00 = k1 * (e2[0, 0] * g00 + g01 * e1[0] + e1c[0] * g10 + e0 * g11).real
    j01 = k1 * (e2[0, 1] * g00 + g01 * e1[1] + e1c[0] * g20 + e0 * g21).real
    j10 = k1 * (e2[1, 0] * g00 + g02 * e1[0] + e1c[1] * g10 + e0 * g12).real
    j11 = k1 * (e2[1, 1] * g00 + g02 * e1[1] + e1c[1] * g20 + e0 * g22).real
    u0 = cbeta * (e1c[0] * g00 + e0 * g01)
    u1 = cbeta * (e1c[1] * g00 + e0 * g02)
    j22 = c * (e0 * g00).real
    ok = j22 > 0
    dd = j22 if ok else 1.0
    cc = c * c
    a_ = j00 - cc * (u0.real * u0.real + u0.imag * u0.imag) / dd
    d_ = j11 - cc * (u1.real * u1.real + u1.imag * u1.imag) / dd
    b_ = 0.5 * ((j01 - cc * (u0.real * u1.real + u0.imag * u1.imag) / dd)
                + (j10 - cc * (u1.real * u0.real + u1.imag * u0.imag) / dd))
    ok = ok and np.isfinite(a_) and np.isfinite(b_) and np.isfinite(d_)
    big = abs(0.5 * (a_ + d_)) + np.hypot(0.5 * (a_ - d_), b_)      # |λ| largest
    det = a_ * d_ - b_ * b_
    small = abs(det) / (big if big > 0 else 1.0)                    # |λ| smallest
    if ok and big > 0 and small * 1e14 >= big:
        return (a_ + d_) / det
    return np.inf


@nb.njit(cache=True, error_model="numpy")
def _gram_trace_kernel(h, dh, R, c, e0, e1, e2, k1, cbeta, e1c):
    """:func:`_gram_tr` of every candidate q: h (Q,N), dh (Q,2,N); R (1,N,N) shared or (Q,N,N)."""
    Q, N = h.shape
    out = np.empty(Q)
    x = np.empty((3, N), np.complex128)
    rx = np.empty((3, N), np.complex128)
    for q in range(Q):
        for i in range(N):
            x[0, i] = h[q, i]
            x[1, i] = dh[q, 0, i]
            x[2, i] = dh[q, 1, i]
        out[q] = _gram_tr(x, rx, R[q if R.shape[0] > 1 else 0], c, e0, e1, e2, k1, cbeta, e1c)
    return out


@nb.njit(cache=True, error_model="numpy")
def _guide_phase(h_n, hc, dhc, rephase, rot_n):
    """The guide phase ψ_q of each candidate of guide n and the candidate's h and ḣ turned
    into the frame of the guide phases (``· e^{−jψ_q}``): ψ_q = arg hc[q] − arg h[n] with
    ``rephase`` (the candidate keeps h_t[n]'s phase, so the CRB and SINR are those of
    ``D R Dᴴ``, which the SDR can always realise), else the guide's current ``rot_n``.
    hc (Q,), dhc (2,Q) -> (hc, dhc turned; ψ (Q,); e^{−jψ} (Q,))."""
    Q = hc.size
    hc2 = np.empty(Q, np.complex128)
    dhc2 = np.empty((2, Q), np.complex128)
    psi = np.empty(Q)
    e = np.empty(Q, np.complex128)
    ang_n = np.angle(h_n)
    for q in range(Q):
        psi[q] = np.angle(hc[q]) - ang_n if rephase else rot_n
        e[q] = np.exp(-1j * psi[q])
        hc2[q] = hc[q] * e[q]
        dhc2[0, q] = dhc[0, q] * e[q]
        dhc2[1, q] = dhc[1, q] * e[q]
    return hc2, dhc2, psi, e


@nb.njit(cache=True, error_model="numpy")
def _trace_row(h, dh, n, hc, dhc, R, c, e0, e1, e2, k1, cbeta, e1c, crb_ref):
    """The tr CRB term of (51) for the candidates of one PA of guide n (:func:`_gram_tr`):
    ``[h, ḣ_x, ḣ_y]`` of the current layout (h (N,), dh (2,N)) with entry n replaced by
    candidate q's ``hc[q]``, ``dhc[:, q]`` (all in the frame of the guide phases). Returns
    tr CRB / crb_ref (Q,), +inf where not finite."""
    N, Q = h.size, hc.size
    val = np.empty(Q)
    x = np.empty((3, N), np.complex128)
    rx = np.empty((3, N), np.complex128)
    for q in range(Q):
        for i in range(N):
            x[0, i] = h[i]
            x[1, i] = dh[0, i]
            x[2, i] = dh[1, i]
        x[0, n] = hc[q]
        x[1, n] = dhc[0, q]
        x[2, n] = dhc[1, q]
        v = _gram_tr(x, rx, R, c, e0, e1, e2, k1, cbeta, e1c) / crb_ref
        val[q] = v if np.isfinite(v) else np.inf
    return val


def crb_elementwise_positions(layout: PassLayout, s, users, q, R, setup: CrbSetup, grid: SearchGrid, *,
                              Qm=None, weight: float = 0.0, crb_ref: float = 1.0, pen_ref: float = 1.0,
                              guard=None, sweeps: int = 1, tol: float = 1e-4,
                              rephase: bool = False, window=None, far_guides=None,
                              lines: bool = True) -> OptResult:
    """Algorithm 2 on the shared 1-D search (:func:`twin.optim.search1d.coordinate_search`):
    update each PA in turn (n = 1..N, m = 1..M) to the minimiser of (51)
    ``tr CRB/crb_ref + weight · Σ_k |[Q_m]_{nk} − [H_m]_{nk}|² / pen_ref`` over its
    candidates (``grid``: coarse, then a zoom around the best and the current point), R
    (N,N) fixed; sweep until the fractional decrease is below ``tol`` (never after the
    first sweep) or ``sweeps`` sweeps.

    Qm (M,N,K) or None (no penalty); guard = (W, Rs, γ, σ²) discards candidates at which
    the current beamformers would miss a user's SINR target. With ``rephase`` each guide's
    digital phase follows its moved PA (see :func:`_score_candidates`), so a move is judged
    by geometry rather than by the phase mismatch with a covariance the SDR will re-optimise
    anyway. The current position is always a candidate, so the objective never increases.
    ``window`` = (lo, hi), each (N,M) (optional): PA (n, m) is searched only over
    ``[lo[n,m], hi[n,m]]`` ∩ its feasible interval (e.g. its reachable set, MODEL §5); the
    window must contain the PA's start coordinate. ``far_guides`` (optional): the guides
    whose PAs get the grid's ``far`` candidates (default: every guide). ``lines = False``:
    candidate batches evaluated directly instead of through the layout's line cache (the
    same numbers; cheaper where points rarely come again, :meth:`PassLayout.candidate_rows`).
    Returns an :class:`OptResult` (solution s (N,M), objective (51))."""
    setup = _memo_setup(setup)
    dep = layout.deployment
    s = np.array(s, float)
    fine = grid.fine_m or wavelength(dep.fc) / 32
    h, dh = layout.target(s, q)
    st = {"h": h, "dh": dh, "H": layout.terms(s, users).sum(axis=1) if guard is not None else None,
          "rot": np.zeros(dep.n_guides)}

    def score(n, m, cand):
        return _score_candidates(layout, s_now, n, m, cand, users, q, R, setup, st, Qm, weight,
                                 crb_ref, pen_ref, guard, rephase, lines)

    def on_move(n, m, x, data, j):
        hc, dhc, Hrow, psi = data
        s_now[n, m] = x
        st["h"] = st["h"].copy(); st["h"][n] = hc[j]
        st["dh"] = st["dh"].copy(); st["dh"][:, n] = dhc[:, j]
        if st["H"] is not None:
            st["H"] = st["H"].copy(); st["H"][n] = Hrow[j]
            st["sinr_consts"] = {}
        st["rot"][n] = psi[j]

    s_now = s.copy()           # the search's current point, as the scorer sees it
    objective = None if rephase else (
        lambda x: _objective(layout, x, users, q, R, setup, Qm, weight, crb_ref, pen_ref))
    if window is None:
        def clip(n, m, lo, hi):
            return lo, hi
    else:
        wlo, whi = (np.asarray(w, float) for w in window)

        def clip(n, m, lo, hi):
            return max(lo, wlo[n, m]), min(hi, whi[n, m])
    far_all = int(getattr(grid, "far", 0) or 0) if window is not None else 0
    far_on = None if far_guides is None else set(int(n) for n in far_guides)

    def far_of(n):
        return far_all if far_on is None or n in far_on else 0

    # far candidates (only a ReachGrid has ``far``): its fused candidate sets
    def candidates(n, m, lo, hi, x):
        far = far_of(n)
        if far > 1:
            return grid.coarse_far(*clip(n, m, lo, hi), x, lo, hi, far)
        return grid.coarse(dep.length[n], *clip(n, m, lo, hi), x)

    def refine(n, m, lo, hi, centres):
        a, b = clip(n, m, lo, hi)
        if far_of(n) > 1:
            return grid.refine_far(centres, a, b, lo, hi, fine)
        return grid.refine(centres, dep.length[n], a, b, fine)

    return coordinate_search(
        s, layout.legal, score, candidates=candidates, refine=refine,
        on_move=on_move, objective=objective, start=None, sense="min", move="best",
        eps=tol, max_sweeps=max(1, sweeps))


def _objective(layout, s, users, q, R, setup, Qm, weight, crb_ref, pen_ref):
    h, dh = layout.target(s, q)
    val = float(_crb_trace(setup, R, h, dh, q)) / crb_ref
    if Qm is not None and weight > 0:
        Hm = layout.terms(s, users).transpose(1, 0, 2)
        val += weight * float(np.sum(np.abs(Qm - Hm) ** 2)) / pen_ref
    return val


def _score_candidates(layout, s, n, m, cand, users, q, R, setup, st, Qm, weight, crb_ref,
                      pen_ref, guard, rephase=False, lines=True):
    """Objective (51) at each candidate of PA (n, m) and the channel data of each (for the
    move). st["h"], st["dh"], st["H"] are in the frame of the per-guide digital phases
    st["rot"] (entry n multiplied by e^{-j rot_n}); with ``rephase`` each candidate gets
    the guide phase that keeps ``h_t[n]``'s phase, i.e. the CRB (and SINR) are evaluated
    for ``D R D^H`` (``D = diag(e^{j ψ})``), which the SDR can always realise. Candidates
    at which the guard's beamformers miss a SINR target score +inf. The user rows are
    evaluated only when a guard or the penalty needs them (else None)."""
    h, dh, H = st["h"], st["dh"], st["H"]
    pen = Qm is not None and weight > 0
    Um, Hrow, hc, dhc = layout.candidate_rows(s, n, m, cand, users, q, lines=lines,   # (Q,K), (Q,K), (Q,), (2,Q)
                                              need_users=guard is not None or pen)
    Qn = len(cand)
    hc, dhc, psi, e = _guide_phase(complex(h[n]), np.ascontiguousarray(hc, dtype=complex),
                                   np.ascontiguousarray(dhc, dtype=complex), bool(rephase and abs(h[n]) > 0),
                                   float(st["rot"][n]))
    if type(setup) in (CrbSetup, _TargetMemo) and np.ndim(R) == 2:
        val = _trace_row(h, dh, int(n), hc, dhc, np.ascontiguousarray(R, dtype=complex),
                         *_rx_consts(setup, q), float(crb_ref))
    else:
        hb = np.repeat(h[None], Qn, axis=0)
        hb[:, n] = hc
        dhb = np.repeat(dh[None], Qn, axis=0)
        dhb[:, :, n] = dhc.T
        val = _crb_trace(setup, R, hb, dhb, q) / crb_ref
        val = np.where(np.isfinite(val), val, np.inf)
    if pen:
        val = val + weight * np.sum(np.abs(Qm[m, n][None, :] - Um) ** 2, axis=1) / pen_ref
    if Hrow is not None:
        Hrow = Hrow * e[:, None]                                 # (Q,K) row n of H
    if guard is not None:
        W, Rs, gamma, noise = guard
        memo = st.setdefault("sinr_consts", {})                  # per guide until a move changes H
        if n not in memo:
            memo[n] = _row_sinr_consts(H, n, W, Rs)
        sinr = _row_sinr_kernel(np.ascontiguousarray(Hrow, dtype=complex), *memo[n], float(noise))
        val = np.where(np.all(sinr >= gamma * (1 - 1e-9), axis=1), val, np.inf)
    return val, (hc, dhc, Hrow, psi)


def _row_sinr_consts(H, n, W, Rs) -> tuple:
    """:func:`~twin.physics.sinr.sinr_downlink` (MODEL §3.1) of the channels H (N,K) with
    row n replaced by each candidate row is :func:`_row_sinr_kernel` of these sums over
    the other rows, formed once (no Q copies of H; nothing is subtracted, so the values
    equal the direct evaluation to rounding): ``C0 = H_sᴴ W``
    (``Σ_{n'≠n} h*_{n'k} w_{n'i}``), ``w_n``, and with R_s the other rows' ``h_kᴴ R_s h_k``,
    ``[R_s H_s]_{n·}``, ``H_sᴴ R_s[:, n]`` and ``Re [R_s]_nn``."""
    Hs = np.array(H, complex)
    Hs[n] = 0.0                                                    # the rows that stay
    Hc = Hs.conj()
    W = np.asarray(W, complex)
    K = Hs.shape[1]
    if Rs is None:
        stay, RHn, v, rnn = np.zeros(K), np.zeros(K, complex), np.zeros(K, complex), 0.0
    else:
        Rs = np.asarray(Rs, complex)
        RH = Rs @ Hs
        stay = np.real(np.sum(Hc * RH, axis=0))                     # (K,) the other rows' h_kᴴ R_s h_k
        RHn, v, rnn = RH[n], Hc.T @ Rs[:, n], float(np.real(Rs[n, n]))
    return (np.ascontiguousarray(Hc.T @ W), np.ascontiguousarray(W[n]), Rs is not None, stay,
            np.ascontiguousarray(RHn), np.ascontiguousarray(v), rnn)


@nb.njit(cache=True, error_model="numpy")
def _row_sinr_kernel(rows, C0, wn, sensing, stay, RHn, v, rnn, noise_w):
    """SINR (Q,K) of user k for candidate row ``r = rows[q]``: ``b_ki = C0[k,i] + conj(r_k)
    w_{n,i}`` (``C0 = H_sᴴ W`` of the rows that stay), signal ``|b_kk|²``, interference
    ``Σ_{i≠k} |b_ki|²`` plus, with sensing, ``stay_k + Re(conj(r_k) [R_s H_s]_{nk} +
    v_k r_k) + Re([R_s]_nn) |r_k|²`` (``v = H_sᴴ R_s[:, n]``)."""
    Q, K = rows.shape
    out = np.empty((Q, K))
    for q in range(Q):
        for k in range(K):
            rc = np.conj(rows[q, k])
            sig = 0.0
            tot = 0.0
            for i in range(K):
                b = C0[k, i] + rc * wn[i]
                g = b.real * b.real + b.imag * b.imag
                tot += g
                if i == k:
                    sig = g
            intf = tot - sig
            if sensing:
                r = rows[q, k]
                intf = intf + (stay[k] + (rc * RHn[k] + v[k] * r).real + rnn * (r.real * r.real + r.imag * r.imag))
            out[q, k] = sig / (intf + noise_w)
    return out


# ---------------------------------------------------------------------------------------
# Algorithm 3: penalty method
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PositioningResult(OptResult):
    """Algorithm 3 outcome: solution s (N,M); objective and history: the penalised
    objective (normalised) after each inner iteration; info ``violation``: the final
    constraint violation ``(‖Q − ΣQ_m‖² + Σ‖Q_m − H_m‖²)/‖H‖²``. Status ``ok`` when the
    violation fell below its tolerance, ``iteration-limit`` when ρ ran out first."""

    @property
    def s(self) -> np.ndarray:
        return self.solution

    @property
    def violation(self) -> float:
        return self.info["violation"]


def penalty_positioning(layout: PassLayout, s0, users, q, W, Rs, setup: CrbSetup, sinr_target,
                        noise_w, *, grid: SearchGrid = SearchGrid(), rho: float = 3.0,
                        mu: float = 0.3, violation_tol: float = 1e-3, max_outer: int = 4,
                        max_inner: int = 3, inner_tol: float = 1e-3, sweeps: int = 1,
                        sca_iter: int = 10, window=None) -> PositioningResult:
    """Algorithm 3 (paper 000): penalty loop over ρ ← μρ around the AO of
    Q (Algorithm 1), Q_m (eq. 48) and X (Algorithm 2) for fixed W, R_s. ``window``: as in
    :func:`crb_elementwise_positions` (each PA searched only there)."""
    t0 = time.perf_counter()
    setup = _memo_setup(setup)
    dep = layout.deployment
    s = np.array(s0, float)
    R = W @ W.conj().T + Rs
    inst = dep.installed
    Mn = inst.sum(axis=1)                                     # PAs per guide
    Hm = layout.terms(s, users).transpose(1, 0, 2)            # (M,N,K)
    Qm = Hm.copy()
    Q = Hm.sum(0)
    h, dh = layout.target(s, q)
    crb_ref = float(_crb_trace(setup, R, h, dh, q))
    if not np.isfinite(crb_ref) or crb_ref <= 0:
        crb_ref = 1.0
    energy = np.sum(np.abs(Hm) ** 2, axis=2)[inst.T]
    pen_ref = float(np.mean(energy)) if energy.size and np.mean(energy) > 0 else 1.0
    hist, it = [], 0
    violation = 0.0
    status = Status.ITERATION_LIMIT
    for _ in range(max_outer):
        prev = None
        for _ in range(max_inner):
            it += 1
            Q, _ = sca_sinr_projection(Qm.sum(0), Q, W, Rs, sinr_target, noise_w, max_iter=sca_iter)
            Bm = (Q - Hm.sum(0)) / (Mn[:, None] + 1.0)                      # eq. 48, per guide
            Qm = np.where(inst.T[..., None], Bm[None] + Hm, 0.0)
            s = crb_elementwise_positions(layout, s, users, q, R, setup, grid, Qm=Qm, weight=1.0 / rho,
                                          crb_ref=crb_ref, pen_ref=pen_ref, sweeps=sweeps,
                                          window=window).solution
            Hm = layout.terms(s, users).transpose(1, 0, 2)
            h, dh = layout.target(s, q)
            pen = float(np.sum(np.abs(Q - Qm.sum(0)) ** 2) + np.sum(np.abs(Qm - Hm) ** 2))
            val = float(_crb_trace(setup, R, h, dh, q)) / crb_ref + pen / (rho * pen_ref)
            hist.append(val)
            if prev is not None and prev - val <= inner_tol * abs(prev):
                break
            prev = val
        violation = pen / max(float(np.sum(np.abs(Hm.sum(0)) ** 2)), 1e-300)
        if violation < violation_tol:
            status = Status.OK
            break
        rho *= mu
    info = {"violation": float(violation)}
    if status is not Status.OK:
        info["detail"] = f"violation {violation:.3g} above {violation_tol:g} after {max_outer} penalty rounds"
    return PositioningResult(s, hist[-1] if hist else float("nan"), it, time.perf_counter() - t0, status,
                             tuple(hist), info)


# ---------------------------------------------------------------------------------------
# Algorithm 4: overall AO
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AoSolution:
    """Algorithm 4 decision: s (N,M) PA coordinates, the SDR result at s (W, Rs,
    objective = tr CRB in m²), and per-iteration acceptance ("penalty", "guarded", "free",
    "isotropic", "rejected")."""

    s: np.ndarray
    sdr: SdrResult
    steps: tuple = ()


@dataclass(frozen=True)
class AoResult(OptResult):
    """Algorithm 4 outcome: solution :class:`AoSolution`; objective tr CRB (m²) at the
    solution; history non-increasing (entry 0: the start); status ``ok`` (converged),
    ``iteration-limit`` (``max_iter`` reached; the solution is feasible and the best
    found) or the SDR's status when the start itself has no feasible beamformer."""

    @property
    def s(self) -> np.ndarray:
        return self.solution.s

    @property
    def sdr(self) -> SdrResult:
        return self.solution.sdr

    @property
    def steps(self) -> tuple:
        return self.solution.steps

    @property
    def rcrb_m(self) -> float:
        return float(np.sqrt(self.objective))


def sdr_at(layout: PassLayout, sdr: CrbSdr, s, users, q, setup, sinr_target, power_w, noise_w):
    """Digital beamforming (MODEL §4.3) for the PAs at s. The SDR is a pure function of
    its data (no warm start), so a layout keeps the results of its last solves
    (:func:`_sdr_memo_key`): the AO re-solves at positions it has seen (a rejected or
    stalled position step, each continuation level's start at the previous level's
    solution) and then gets the same result without a second solve."""
    key = _sdr_memo_key(s, users, q, setup, sinr_target, power_w, noise_w) if getattr(layout, "memoise", False) else None
    memo = layout.__dict__.setdefault("_sdr_memo", {})
    hit = memo.get(key)
    if hit is not None and hit[0] is sdr:
        return hit[1]
    H = layout.terms(s, users).sum(axis=1)
    h, dh = layout.target(s, q)
    res = sdr.solve(H, h, dh, q, setup, sinr_target, power_w, noise_w)
    if key is None:
        return res
    if len(memo) >= _SDR_MEMO_CAP:
        memo.clear()
    memo[key] = (sdr, res)
    return res


#: SDR results a layout keeps (:func:`sdr_at`)
_SDR_MEMO_CAP = 64


def _sdr_memo_key(s, users, q, setup, sinr_target, power_w, noise_w):
    """Everything an SDR solve depends on besides the solver object, as bytes (None for a
    setup that is not a dataclass of numbers: not memoised)."""
    if not dataclasses.is_dataclass(setup):
        return None
    b = lambda x: np.ascontiguousarray(np.asarray(x, float)).tobytes()      # noqa: E731
    try:
        fields = tuple((f.name, b(getattr(setup, f.name)) if getattr(setup, f.name) is not None else None)
                       for f in dataclasses.fields(setup))
    except (TypeError, ValueError):                     # a non-numeric field: not memoised
        return None
    return (b(s), b(users), b(q), b(sinr_target), float(power_w), float(noise_w),
            CrbSetup if type(setup) is _TargetMemo else type(setup),
            fields)


def crb_ao(layout: PassLayout, s0, users, q, setup: CrbSetup, sinr_target, power_w: float,
           noise_w: float, *, sdr: CrbSdr | None = None, grid: SearchGrid = SearchGrid(),
           max_iter: int = 20, tol: float = 1e-3, penalty: dict | None = None,
           guarded_sweeps: int = 2) -> AoResult:
    """Algorithm 4 (paper 000 §III-C): alternate the SDR (§III-A) and the penalty
    positioning (Algorithm 3) from the warm start ``s0`` (legalised, and snapped to the
    lattice in discrete mode), accepting a position update only if the true objective
    (SDR at the new positions) does not increase; stop when the fractional decrease is
    below ``tol`` or after ``max_iter`` iterations."""
    t0 = time.perf_counter()
    setup = _memo_setup(setup)
    dep = layout.deployment
    users = np.atleast_2d(np.asarray(users, float))
    q = np.asarray(q, float)
    K = users.shape[0]
    sdr = sdr or CrbSdr(dep.n_guides, K)
    legal = layout.legal
    s = legal.legalize(s0)
    if grid.lattice_z is not None:
        s = legal.snap(s, _lattice_points(dep, grid.lattice_z))
    res = sdr_at(layout, sdr, s, users, q, setup, sinr_target, power_w, noise_w)
    if not res.ok:
        return AoResult(AoSolution(s, res), res.objective, 0, time.perf_counter() - t0, res.status,
                        (res.objective,), {"detail": f"SDR at the start: {res.info.get('detail', res.status)}"})
    hist, steps = [res.objective], []
    status = Status.ITERATION_LIMIT
    it = 0
    for it in range(1, max_iter + 1):
        prev = res.objective
        pos = penalty_positioning(layout, s, users, q, res.W, res.Rs, setup, sinr_target, noise_w,
                                  grid=grid, **(penalty or {}))
        new = sdr_at(layout, sdr, pos.s, users, q, setup, sinr_target, power_w, noise_w)
        step = "rejected"
        if new.ok and new.objective <= prev:
            s, res, step = pos.s, new, "penalty"
        for kind in ("guarded", "free", "isotropic") if guarded_sweeps > 0 else ():
            if prev - res.objective > tol * prev:
                break
            # penalty step rejected or stalled: an element-wise step on the CRB with R fixed,
            # keeping the current W, R_s feasible ("guarded") or not ("free"), or with an
            # isotropic R (pure geometry, "isotropic"); each kept only if the re-solved SDR
            # improves
            guard = (res.W, res.Rs, np.asarray(sinr_target), noise_w) if kind == "guarded" else None
            Rk = res.R if kind != "isotropic" else np.eye(dep.n_guides) * np.real(np.trace(res.R)) / dep.n_guides
            s2 = crb_elementwise_positions(layout, s, users, q, Rk, setup, grid, guard=guard,
                                           sweeps=guarded_sweeps, rephase=True).solution
            new2 = sdr_at(layout, sdr, s2, users, q, setup, sinr_target, power_w, noise_w)
            if new2.ok and new2.objective < res.objective:
                s, res, step = s2, new2, kind
        steps.append(step)
        hist.append(res.objective)
        if prev - res.objective <= tol * prev:
            status = Status.OK
            break
    return AoResult(AoSolution(s, res, tuple(steps)), res.objective, it, time.perf_counter() - t0, status,
                    tuple(hist), {"accepted_steps": sum(x != "rejected" for x in steps)})


def reach_window(layout: PassLayout, s, reach_m):
    """The window (lo, hi), each (N,M), of PA coordinates reachable from ``s`` (N,M):
    ``s ± reach_m`` (reach_m (N,) or scalar; e.g. speed × frame, MODEL §5) clipped to the
    guide's bounds."""
    legal = layout.legal
    s = np.asarray(s, float)
    r = np.broadcast_to(np.asarray(reach_m, float).reshape(-1, 1) if np.ndim(reach_m) else reach_m, s.shape)
    return np.maximum(s - r, legal.lo), np.minimum(s + r, legal.hi)


TRACK_STEPS = ("penalty", "guarded", "free", "isotropic")


def _rephased(layout, res, s, s2, users, q, setup, sinr_target, noise_w):
    """The beamformer ``res`` (solved at s) carried to s2 with each guide's digital phase
    turned by the change of its target-channel phase (``W' = D W``, ``R_s' = D R_s Dᴴ``,
    ``D = diag(e^{jψ})``, as the rephased search scored it): an :class:`SdrResult` at s2
    with its physical SINR and tr CRB if it meets every SINR target (the SDR's own
    verification rule), else None. The guarded step only accepts candidates at which these
    beams stay feasible, so the SDR at s2 can only be better: its positions need no
    re-solve to be accepted (the next frame re-solves anyway)."""
    import dataclasses

    from twin.optim.sdr import VERIFY_RTOL

    h, _ = layout.target(s, q)
    h2, dh2 = layout.target(s2, q)
    ok = (np.abs(h) > 0) & (np.abs(h2) > 0)
    psi = np.where(ok, np.angle(h2) - np.angle(np.where(ok, h, 1.0)), 0.0)
    d = np.exp(1j * psi)
    W = d[:, None] * res.W
    Rs = d[:, None] * res.Rs * d.conj()[None, :]
    H2 = layout.terms(s2, users).sum(axis=1)
    sinr = sinr_downlink(H2, W, noise_w, Rs)
    gamma = np.broadcast_to(np.asarray(sinr_target, float), sinr.shape)
    if not np.all(sinr >= gamma * (1.0 - VERIFY_RTOL)):
        return None
    obj = float(np.real(np.trace(setup.crb(W @ W.conj().T + Rs, h2, dh2, q))))
    if not np.isfinite(obj):
        return None
    sol = dataclasses.replace(res.solution, W=W, Rs=Rs, sinr=sinr, sdr_objective=float("nan"))
    return dataclasses.replace(res, solution=sol, objective=obj, wall_time_s=0.0,
                               info={**res.info, "rephased": True})


def crb_track(layout: PassLayout, s0, users, q, setup: CrbSetup, sinr_target, power_w: float,
              noise_w: float, *, reach_m, sdr: CrbSdr | None = None, grid=ReachGrid(),
              steps=("guarded", "free"), sweeps: int = 1, tol: float = 1e-3,
              penalty: dict | None = None, far_guides=None) -> AoResult:
    """One incremental Algorithm 4 iteration for a moving world (MODEL §4.4, §5): from
    the previous frame's positions ``s0`` (legalised), re-solve the SDR for the current
    users and target, then try the position ``steps`` in order — "penalty" (Algorithm 3),
    "guarded" / "free" / "isotropic" element-wise CRB steps as in :func:`crb_ao` — with
    every PA searched only over its reachable set ``s0 ± reach_m`` (reach_m (N,) or
    scalar, e.g. the guide's speed × frame length) on ``grid``. A step is kept only if the
    SDR re-solved at its positions is feasible and lowers tr CRB (so the frame's
    objective never exceeds the SDR at ``s0``); the steps stop at the first that lowers it
    by more than ``tol`` (fractional). At most ``1 + len(steps)`` SDR solves: a step
    whose search does not move any PA costs none, and a guarded step none either when the
    current beams, rephased to the moved PAs, still meet the SINR targets there (they
    then bound the SDR at the new positions from above, see :func:`_rephased`; the result
    carries those beams, and the next frame's start re-solves).

    Returns an :class:`AoResult` like :func:`crb_ao`'s (history: the SDR at ``s0``, then
    the result; iterations 1), or the SDR's failure at ``s0``. ``far_guides`` (optional):
    only these guides' PAs get the grid's ``far`` candidates this frame (e.g. a round robin
    over the guides, one guide per frame; default every guide)."""
    t0 = time.perf_counter()
    dep = layout.deployment
    users = np.atleast_2d(np.asarray(users, float))
    q = np.asarray(q, float)
    unknown = [k for k in steps if k not in TRACK_STEPS]
    if unknown:
        raise ValueError(f"crb_track steps must be among {', '.join(TRACK_STEPS)}, got {unknown}")
    sdr = sdr or CrbSdr(dep.n_guides, users.shape[0])
    # one memo for the frame's steps: a batch the free step scores with the guarded step's
    # positions and R (their paths agree up to the first PA the guard turns elsewhere) is
    # looked up, not recomputed (the same numbers)
    setup = _memo_setup(setup)
    legal = layout.legal
    s = legal.legalize(s0)
    if grid.lattice_z is not None:
        s = legal.snap(s, _lattice_points(dep, grid.lattice_z))
    window = reach_window(layout, s, reach_m)
    res = sdr_at(layout, sdr, s, users, q, setup, sinr_target, power_w, noise_w)
    if not res.ok:
        return AoResult(AoSolution(s, res), res.objective, 0, time.perf_counter() - t0, res.status,
                        (res.objective,), {"detail": f"SDR at the start: {res.info.get('detail', res.status)}"})
    start, step, solves = res.objective, "rejected", 1
    for kind in steps:
        if start - res.objective > tol * start:
            break
        if kind == "penalty":
            s2 = penalty_positioning(layout, s, users, q, res.W, res.Rs, setup, sinr_target, noise_w,
                                     grid=grid, window=window, **(penalty or {})).s
        else:
            guard = (res.W, res.Rs, np.asarray(sinr_target), noise_w) if kind == "guarded" else None
            Rk = res.R if kind != "isotropic" else np.eye(dep.n_guides) * np.real(np.trace(res.R)) / dep.n_guides
            s2 = crb_elementwise_positions(layout, s, users, q, Rk, setup, grid, guard=guard, sweeps=sweeps,
                                           rephase=True, window=window, far_guides=far_guides,
                                           lines=False).solution
        if np.array_equal(s2, s):
            continue
        new = _rephased(layout, res, s, s2, users, q, setup, sinr_target, noise_w) if kind == "guarded" else None
        if new is None:
            new = sdr_at(layout, sdr, s2, users, q, setup, sinr_target, power_w, noise_w)
            solves += 1
        if new.ok and new.objective < res.objective:
            s, res, step = s2, new, kind
    return AoResult(AoSolution(s, res, (step,)), res.objective, 1, time.perf_counter() - t0,
                    Status.OK, (start, res.objective), {"accepted_steps": int(step != "rejected"),
                                                        "sdr_solves": solves})


def coarse_to_fine(layout: PassLayout, s0, users, q, setup: CrbSetup, sinr_target, power_w: float,
                   noise_w: float, *, sdr: CrbSdr | None = None, lattices=(15, 30),
                   grid: int = 601, warm: dict | None = None, **ao) -> dict:
    """Continuation over nested feasible sets: Algorithm 4 on the coarsest lattice from
    ``s0``, then on each finer lattice and finally continuous, each started from both
    ``s0`` and the previous level's solution (keeping the better). Since the Z = 15
    lattice lies in the Z = 30 one and both in the continuous grid, each level is at least
    as good as the previous. ``warm`` ({Z: s, None: s}, optional) adds a start per level,
    e.g. that level's solution of a harder problem on the same deployment (a sweep's
    previous point): the AO history never increases, so the level is then at least as
    good as that start. With a warm start the continuous level (the costly one) is not
    also started from ``s0``: the lattice levels before it were. Returns {Z: AoResult,
    …, None: continuous AoResult}."""
    out = {}
    prev = None
    warm = warm or {}
    for z in list(lattices) + [None]:
        g = SearchGrid(lattice_z=z, grid=grid)
        starts = [s0] if warm.get(z) is None else [warm[z]] + ([s0] if z is not None else [])
        if prev is not None and prev.sdr.ok:
            starts.append(prev.s)
        runs = [crb_ao(layout, s, users, q, setup, sinr_target, power_w, noise_w, sdr=sdr, grid=g, **ao)
                for s in starts]
        ok = [r for r in runs if r.sdr.ok]
        out[z] = min(ok, key=lambda r: r.objective) if ok else runs[0]
        prev = out[z]
    return out
