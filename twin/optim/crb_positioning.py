"""CRB-minimising PA positions and the overall alternating optimisation (MODEL §4.4;
paper 000 §III-B/C, Algorithms 1-4).

Given the digital beamformers ``W``, ``R_s`` (from :mod:`twin.optim.sdr`), the positions are
optimised by the penalty method (Algorithm 3) on the auxiliary channels ``Q ≈ H`` and
``Q_m ≈ H_m`` (eq. 40):

- ``Q``: SCA on the SINR constraints (Algorithm 1, eqs. 41-45). Each convexified problem
  is the projection of ``Σ_m Q_m`` onto one convex quadratic constraint per user; it is
  solved exactly from its KKT conditions (``q(μ) = (I + μB)^{-1}(p + μb)``, bisection on
  the multiplier μ, vectorised over users) instead of a generic conic solver.
- ``Q_m``: closed form (48).
- positions: element-wise 1-D search (Algorithm 2, eqs. 50-51), each PA over its feasible
  interval ``[s_{m−1}+δ, s_{m+1}−δ]``; all candidates of one PA are evaluated in one
  vectorised step (channel row, Fisher blocks, CRB trace). Continuous mode: a uniform
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

import time
from dataclasses import dataclass, field

import numpy as np

from twin.optim.sdr import CrbSdr, CrbSetup, SdrResult
from twin.physics.channel import pa_channel_terms
from twin.physics.sensing import crb_from_fisher, nuisance_gauge, target_channel_and_gradient
from twin.physics.sinr import sinr_downlink


# ---------------------------------------------------------------------------------------
# the PASS geometry seen by the optimiser
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PassLayout:
    """Deployment (twin.world.Deployment) and optional floor plan (blockage, MODEL §2.5):
    per-PA user channels, the target channel and its gradient, and the same for one PA
    moved over a batch of candidate positions."""

    deployment: object
    floor: object = None

    def _blockage(self, pos, points):
        fp = self.floor
        if fp is None or not fp.seg_a.shape[0]:
            return None
        return fp.blockage_amplitude(pos, points)

    def terms(self, s, users) -> np.ndarray:
        """Per-PA user channel contributions (N,M,K) (MODEL §2.3)."""
        dep = self.deployment
        return dep.channel_terms(s, users, dep.installed, self.floor)

    def target(self, s, q):
        """Target channel h_t (N,) and gradient (2,N) (MODEL §3.3, A.11-A.12)."""
        dep = self.deployment
        pos = dep.positions(np.where(dep.installed, s, 0.0))
        blk = self._blockage(pos, np.asarray(q)[None, None, :])
        return target_channel_and_gradient(dep.feed, dep.direction, s, q, dep.fc, n_eff=dep.n_eff,
                                           attenuation_db_per_m=dep.attenuation,
                                           active=dep.installed, blockage=blk)

    def candidates(self, s, n, m, cand, users, q):
        """Guide n with PA m at each of Q candidate coordinates: per-PA user terms (Q,M,K),
        target channel entry (Q,) and its gradient (2,Q) — the same functions as
        :meth:`terms` / :meth:`target`, applied to Q copies of the guide."""
        dep = self.deployment
        Qn = len(cand)
        S = np.repeat(np.asarray(s, float)[n:n + 1], Qn, axis=0)
        S[:, m] = cand
        act = np.repeat(dep.installed[n:n + 1], Qn, axis=0)
        feed = np.repeat(dep.feed[n:n + 1], Qn, axis=0)
        u = np.repeat(dep.direction[n:n + 1], Qn, axis=0)
        pos = feed[:, None, :] + np.where(act, S, 0.0)[..., None] * u[:, None, :]
        users = np.atleast_2d(users)
        blk_u = self._blockage(pos[:, :, None, :], users[None, None, :, :])
        T = pa_channel_terms(feed, u, S, users, dep.fc, n_eff=dep.n_eff[n],
                             attenuation_db_per_m=dep.attenuation[n], active=act, blockage=blk_u)
        blk_t = self._blockage(pos, np.asarray(q)[None, None, :])
        h, dh = target_channel_and_gradient(feed, u, S, q, dep.fc, n_eff=dep.n_eff[n],
                                            attenuation_db_per_m=dep.attenuation[n],
                                            active=act, blockage=blk_t)
        return T, h, dh


def lattice_snap(deployment, s, z: int) -> np.ndarray:
    """Move PAs to the nearest points of the Z+1 lattice ``{0, L/Z, …, L}`` of their guide
    keeping order and distinct points (Discrete-PASS-Z, paper 000 §IV-B)."""
    dep = deployment
    s = np.array(s, float)
    for n in range(dep.n_guides):
        idx = np.flatnonzero(dep.installed[n])
        step = dep.length[n] / z
        k = np.clip(np.rint(np.sort(s[n, idx]) / step).astype(int), 0, z)
        if len(idx) > z + 1:
            raise ValueError(f"guide {n} holds {len(idx)} PAs but the lattice has only {z + 1} points")
        need = max(1, int(np.ceil(dep.spacing[n] / step - 1e-12)))
        for i in range(1, len(k)):
            k[i] = max(k[i], k[i - 1] + need)
        k[-1] = min(k[-1], z)
        for i in range(len(k) - 2, -1, -1):
            k[i] = min(k[i], k[i + 1] - need)
        s[n, idx] = k * step
    return s


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
    ``q(μ) = (I + μB)^{-1}(p + μb)``, μ ≥ 0 found by bisection; a user whose convexified
    set is empty keeps its point.
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
    lam = np.clip(lam, 0.0, None)
    pt = np.einsum("knm,mk->kn", V.conj().transpose(0, 2, 1), p)  # V^H p_k  (K,N)
    hist = [float(np.sum(np.abs(q - p) ** 2)) * noise_w]
    for _ in range(max_iter):
        c = np.einsum("nk,nk->k", W.conj(), q)             # w_k^H q_k
        b = W * (c / gamma)[None, :]                        # (N,K)
        d = 1.0 + np.abs(c) ** 2 / gamma
        bt = np.einsum("knm,mk->kn", V.conj().transpose(0, 2, 1), b)

        def q_of(mu):                                       # mu (K,) -> (N,K)
            z = (pt + mu[:, None] * bt) / (1.0 + mu[:, None] * lam)
            return np.einsum("knm,km->nk", V, z)

        def g_of(x):
            quad = np.real(np.einsum("nk,knm,mk->k", x.conj(), B, x))
            return quad - 2.0 * np.real(np.einsum("nk,nk->k", b.conj(), x)) + d

        new = p.copy()
        viol = g_of(p) > 0
        if np.any(viol):
            lo = np.full(K, -30.0)
            hi = np.full(K, 30.0)
            feas_hi = g_of(q_of(10.0 ** hi)) <= 0
            for _ in range(90):
                mid = 0.5 * (lo + hi)
                ok = g_of(q_of(10.0 ** mid)) <= 0
                hi = np.where(ok, mid, hi)
                lo = np.where(ok, lo, mid)
            qs = q_of(10.0 ** hi)
            new = np.where(viol[None, :], np.where(feas_hi[None, :], qs, q), p)
        q = new
        hist.append(float(np.sum(np.abs(q - p) ** 2)) * noise_w)
        if abs(hist[-2] - hist[-1]) <= tol * max(hist[-2], 1e-300):
            break
    return q * sig, hist


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
        if self.lattice_z is not None:
            pts = np.arange(self.lattice_z + 1) * (length / self.lattice_z)
            pts = pts[(pts >= lo - 1e-9) & (pts <= hi + 1e-9)]
            return np.unique(np.concatenate([pts, [current]]))
        pts = np.linspace(0.0, length, self.grid)
        pts = pts[(pts >= lo) & (pts <= hi)]
        return np.unique(np.concatenate([pts, [lo, hi, current]]))

    def refine(self, centres, length, lo, hi, fine):
        if self.lattice_z is not None:
            return np.empty(0)
        half = max(length / max(self.grid - 1, 1), fine * self.zoom / 2)
        off = np.linspace(-half, half, self.zoom)
        pts = (np.asarray(centres, float)[:, None] + off[None, :]).ravel()
        return np.unique(np.clip(pts, lo, hi))


def _crb_trace(setup, R, h, dh, q):
    """tr CRB (batched) exactly as crb_from_channel computes it (gauged gradient)."""
    J11, J12, J22 = setup.fisher(R, h, nuisance_gauge(h, dh), q)
    return np.trace(crb_from_fisher(J11, J12, J22), axis1=-2, axis2=-1)


def elementwise_search(layout: PassLayout, s, users, q, R, setup: CrbSetup, grid: SearchGrid, *,
                       Qm=None, weight: float = 0.0, crb_ref: float = 1.0, pen_ref: float = 1.0,
                       guard=None, sweeps: int = 1, tol: float = 1e-4, rephase: bool = False):
    """Algorithm 2: update each PA in turn (n = 1..N, m = 1..M) to the minimiser of (51)
    ``tr CRB/crb_ref + weight · Σ_k |[Q_m]_{nk} − [H_m]_{nk}|² / pen_ref`` over its
    candidates, R (N,N) fixed; sweep until the fractional decrease is below ``tol``.

    Qm (M,N,K) or None (no penalty); guard = (W, Rs, γ, σ²) discards candidates at which
    the current beamformers would miss a user's SINR target. With ``rephase`` each guide's
    digital phase follows its moved PA (see :func:`_best_candidate`), so a move is judged
    by geometry rather than by the phase mismatch with a covariance the SDR will re-optimise
    anyway. The current position is always a candidate, so the objective never increases.
    Returns (s, objective).
    """
    dep = layout.deployment
    s = np.array(s, float)
    lo_b, hi_b = dep.bounds()
    fine = grid.fine_m or (2.99792458e8 / dep.fc) / 32
    h, dh = layout.target(s, q)
    H = layout.terms(s, users).sum(axis=1) if guard is not None else None
    rot = np.zeros(dep.n_guides)
    obj_prev, obj = None, None
    for _ in range(max(1, sweeps)):
        for n in range(dep.n_guides):
            idx = np.flatnonzero(dep.installed[n])
            for j, m in enumerate(idx):
                lo = lo_b[n, m] if j == 0 else s[n, idx[j - 1]] + dep.spacing[n]
                hi = hi_b[n, m] if j == len(idx) - 1 else s[n, idx[j + 1]] - dep.spacing[n]
                if hi < lo:
                    continue
                best = _best_candidate(layout, s, n, m, grid.coarse(dep.length[n], lo, hi, s[n, m]),
                                       users, q, R, setup, h, dh, H, Qm, weight, crb_ref, pen_ref, guard,
                                       rot[n], rephase)
                ref = grid.refine([best[0], s[n, m]], dep.length[n], lo, hi, fine)
                if ref.size:
                    b2 = _best_candidate(layout, s, n, m, ref, users, q, R, setup, h, dh, H, Qm,
                                         weight, crb_ref, pen_ref, guard, rot[n], rephase)
                    if b2[1] < best[1]:
                        best = b2
                x, obj, hn, dhn, Hrow, rot[n] = best
                s[n, m] = x
                h = h.copy(); h[n] = hn
                dh = dh.copy(); dh[:, n] = dhn
                if H is not None:
                    H = H.copy(); H[n] = Hrow
        if not rephase:
            obj = _objective(layout, s, users, q, R, setup, Qm, weight, crb_ref, pen_ref)
        if obj_prev is not None and obj_prev - obj <= tol * abs(obj_prev):
            break
        obj_prev = obj
    return s, obj


def _objective(layout, s, users, q, R, setup, Qm, weight, crb_ref, pen_ref):
    h, dh = layout.target(s, q)
    val = float(_crb_trace(setup, R, h, dh, q)) / crb_ref
    if Qm is not None and weight > 0:
        Hm = layout.terms(s, users).transpose(1, 0, 2)
        val += weight * float(np.sum(np.abs(Qm - Hm) ** 2)) / pen_ref
    return val


def _best_candidate(layout, s, n, m, cand, users, q, R, setup, h, dh, H, Qm, weight, crb_ref,
                    pen_ref, guard, rot=0.0, rephase=False):
    """Best of the candidates of PA (n, m). h, dh, H are in the frame of the per-guide
    digital phases ``rot`` (entry n multiplied by e^{-j rot_n}); with ``rephase`` each
    candidate gets the guide phase that keeps ``h_t[n]``'s phase, i.e. the CRB (and SINR)
    are evaluated for ``D R D^H`` (``D = diag(e^{j ψ})``), which the SDR can always realise."""
    T, hc, dhc = layout.candidates(s, n, m, cand, users, q)      # (Q,M,K), (Q,), (2,Q)
    if rephase and abs(h[n]) > 0:
        psi = np.angle(hc) - np.angle(h[n])
    else:
        psi = np.full(len(cand), rot)
    e = np.exp(-1j * psi)
    hc, dhc = hc * e, dhc * e[None, :]
    hb = np.repeat(h[None], len(cand), axis=0)
    hb[:, n] = hc
    dhb = np.repeat(dh[None], len(cand), axis=0)
    dhb[:, :, n] = dhc.T
    val = _crb_trace(setup, R, hb, dhb, q) / crb_ref
    val = np.where(np.isfinite(val), val, np.inf)
    if Qm is not None and weight > 0:
        val = val + weight * np.sum(np.abs(Qm[m, n][None, :] - T[:, m, :]) ** 2, axis=1) / pen_ref
    Hrow = T.sum(axis=1) * e[:, None]                            # (Q,K) row n of H
    if guard is not None:
        W, Rs, gamma, noise = guard
        Hb = np.repeat(H[None], len(cand), axis=0)
        Hb[:, n] = Hrow
        sinr = sinr_downlink(Hb, W, noise, Rs)
        val = np.where(np.all(sinr >= gamma * (1 - 1e-9), axis=1), val, np.inf)
    i = int(np.argmin(val))
    if not np.isfinite(val[i]):      # nothing admissible: stay
        i = int(np.argmin(np.abs(cand - s[n, m])))
    return cand[i], float(val[i]), hc[i], dhc[:, i], Hrow[i], float(psi[i])


# ---------------------------------------------------------------------------------------
# Algorithm 3: penalty method
# ---------------------------------------------------------------------------------------
@dataclass
class PositioningResult:
    """Algorithm 3 outcome: s (N,M), history of the penalised objective (normalised),
    final constraint violation ``(‖Q − ΣQ_m‖² + Σ‖Q_m − H_m‖²)/‖H‖²``, iterations, wall time."""

    s: np.ndarray
    history: list
    violation: float
    iterations: int
    wall_time_s: float


def penalty_positioning(layout: PassLayout, s0, users, q, W, Rs, setup: CrbSetup, sinr_target,
                        noise_w, *, grid: SearchGrid = SearchGrid(), rho: float = 3.0,
                        mu: float = 0.3, violation_tol: float = 1e-3, max_outer: int = 4,
                        max_inner: int = 3, inner_tol: float = 1e-3, sweeps: int = 1,
                        sca_iter: int = 10) -> PositioningResult:
    """Algorithm 3 (paper 000): penalty loop over ρ ← μρ around the AO of
    Q (Algorithm 1), Q_m (eq. 48) and X (Algorithm 2) for fixed W, R_s."""
    t0 = time.perf_counter()
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
    for _ in range(max_outer):
        prev = None
        for _ in range(max_inner):
            it += 1
            Q, _ = sca_sinr_projection(Qm.sum(0), Q, W, Rs, sinr_target, noise_w, max_iter=sca_iter)
            Bm = (Q - Hm.sum(0)) / (Mn[:, None] + 1.0)                      # eq. 48, per guide
            Qm = np.where(inst.T[..., None], Bm[None] + Hm, 0.0)
            s, _ = elementwise_search(layout, s, users, q, R, setup, grid, Qm=Qm, weight=1.0 / rho,
                                      crb_ref=crb_ref, pen_ref=pen_ref, sweeps=sweeps)
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
            break
        rho *= mu
    return PositioningResult(s, hist, violation, it, time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------
# Algorithm 4: overall AO
# ---------------------------------------------------------------------------------------
@dataclass
class AoResult:
    """Algorithm 4 outcome: s (N,M) PA coordinates, the SDR result at s (W, Rs,
    objective = tr CRB in m²), objective history (non-increasing; entry 0 is the start),
    per-iteration acceptance ("penalty", "guarded", "rejected"), status, wall time."""

    s: np.ndarray
    sdr: SdrResult
    history: list
    steps: list
    status: str
    iterations: int
    wall_time_s: float
    info: dict = field(default_factory=dict)

    @property
    def objective(self) -> float:
        return self.sdr.objective

    @property
    def rcrb_m(self) -> float:
        return float(np.sqrt(self.sdr.objective))


def sdr_at(layout: PassLayout, sdr: CrbSdr, s, users, q, setup, sinr_target, power_w, noise_w):
    """Digital beamforming (MODEL §4.3) for the PAs at s."""
    H = layout.terms(s, users).sum(axis=1)
    h, dh = layout.target(s, q)
    return sdr.solve(H, h, dh, q, setup, sinr_target, power_w, noise_w)


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
    dep = layout.deployment
    users = np.atleast_2d(np.asarray(users, float))
    q = np.asarray(q, float)
    K = users.shape[0]
    sdr = sdr or CrbSdr(dep.n_guides, K)
    s = dep.legalize(s0)
    if grid.lattice_z is not None:
        s = lattice_snap(dep, s, grid.lattice_z)
    res = sdr_at(layout, sdr, s, users, q, setup, sinr_target, power_w, noise_w)
    if not res.ok:
        return AoResult(s, res, [res.objective], [], res.status, 0, time.perf_counter() - t0)
    hist, steps = [res.objective], []
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
            s2, _ = elementwise_search(layout, s, users, q, Rk, setup, grid, guard=guard,
                                       sweeps=guarded_sweeps, rephase=True)
            new2 = sdr_at(layout, sdr, s2, users, q, setup, sinr_target, power_w, noise_w)
            if new2.ok and new2.objective < res.objective:
                s, res, step = s2, new2, kind
        steps.append(step)
        hist.append(res.objective)
        if prev - res.objective <= tol * prev:
            break
    return AoResult(s, res, hist, steps, "optimal", it, time.perf_counter() - t0)


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
