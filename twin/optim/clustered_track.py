"""Tracking a paper-001 schedule from frame to frame while users and target move (issue 13;
MODEL §4.5, §5).

The cold search (:func:`twin.optim.clustered.solve_schedule` on a fresh
:func:`~twin.optim.clustered.build_problem`) costs ≈ 0.3 s of CPU: fifty focusing searches
over whole cluster segments and three alternating searches with SLSQP durations. Between
two frames of a walking scene the users move ~1 cm and the PAs can slide only
speed × frame (4 mm on ``paper001``), so most of that work re-derives the previous answer.
From the previous frame's problem and schedule this module

1. **refreshes the problem** (:func:`refresh_problem`): every configuration whose focus
   points moved (``target``: the target; ``user{k}``: user k; ``mix{k}``: both) is
   re-focused by an element-wise search restricted to a window of ± ``window`` around its
   previous PA coordinates, on the cold search's grid, all configurations of a guide at
   once (one vectorised coordinate sweep per PA index); every configuration's user SNRs
   are re-evaluated at its PAs; a sensing gain (and the RCS covariance) is recomputed
   only where the configuration or the target moved, so unmoved gains stay bit-equal;
2. **keeps the schedule and re-times it** (:func:`track_schedule`): the previous
   durations are kept as they are when they are still optimal — the gains of the slots'
   configurations unchanged and every rate constraint slack before and after (the outage
   then depends on τ exactly as before and no rate constraint is active, so the previous
   KKT point is one again); otherwise one Newton step on the previous active set
   (:class:`NewtonStep`), with warm SLSQP and the LP-started optimisation as fallbacks;
3. **one improving move**: the single changes of one slot (slots in turn) and the
   re-configuration of a used cluster are scored at the previous durations in one batch,
   rate-feasible ones only, and the best is taken if it lowers the outage — a sweep of
   the cold search spread over T frames. With ``TrackSettings.alternate`` step 1's
   re-focusing runs on even frames (window doubled) and the moves on odd ones.

The result is never worse than keeping the previous schedule unchanged (a ``prev``
configuration column holds each used cluster's configuration as it was; that schedule
with its durations is taken when feasible and lower). ``None`` means no rate-feasible
schedule was reached from the previous one: the caller runs the cold search. Exact
outages of a batch are grouped by support size, not by support
(:func:`outages_by_size`), so a batch of T·C·J candidates costs two or three
uniformisation runs instead of one per support."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from twin.optim import clustered as cl
from twin.optim.result import Status
from twin.physics.clusters import look_angles
from twin.physics.outage import cdf_rows, outage_probability, rcs_covariance
from twin.units import wavelength


#: name of the configuration column holding the previous frame's configurations unchanged
HELD = "prev"

#: cache entry listing the outage keys a tracked frame used (carried to the next frame)
TOUCHED = ("touched",)


@dataclass(frozen=True)
class TrackSettings:
    """How a controller tracks its schedule (stage ``outage-schedule``, ``mode = track``):
    window (N,) half-width (m) of each guide's re-focusing window; jump_m: a user or the
    target moving farther than this since the previous frame triggers the cold search;
    resolve_frames: the cold search every this many frames (0: only when triggered);
    moves: improving changes per frame; slots: the slots whose single changes are tried
    per frame, in turn (0: all), so a sweep over the T slots takes T/slots frames;
    alternate: re-focus on even tracked frames (window doubled) and try the moves on odd
    ones, which halves the per-frame work of the two and leaves the reach unchanged."""

    window: np.ndarray
    jump_m: float = 0.25
    resolve_frames: int = 0
    moves: int = 1
    slots: int = 1
    alternate: bool = True

    def slots_at(self, frame: int, T: int):
        """The slots tried at the ``frame``-th tracked frame (None: all)."""
        if self.slots <= 0 or self.slots >= T:
            return None
        return [(frame * self.slots + i) % T for i in range(self.slots)]


# --- batched exact outage ------------------------------------------------------------
def cdf_batch(lam, x):
    """:func:`twin.physics.outage.cdf_rows` (CDF at x of B sums of independent
    exponentials, means ``lam`` (B,n)) with a shorter Poisson series: the step is
    h = x/2^m with Λh ≤ 2 instead of ≤ 8 (two more squarings) and the series stops at
    Λh + 6√(Λh) + 15 terms (≤ 25 instead of ≤ 66): the omitted Poisson mass is below
    1e-19, so the two agree to rounding (tested at 1e-13 relative). The same
    non-negative uniformisation of the pure-birth chain; fewer terms per sum."""
    return cdf_rows(lam, x, max_step=2.0, tail=(6.0, 15))


def outages_by_size(pb: cl.ClusterProblem, W, objective: str = "exact") -> np.ndarray:
    """:func:`twin.optim.clustered._outages` of every row of ``W`` (B,C), memoised in the
    same ``pb.cache``, with the rows grouped by the *size* of their support: the weighted
    covariances of all rows with n positive weights go through one batched eigenproblem
    (gathered by fancy indexing) and one :func:`cdf_batch`. The same mathematics;
    values can differ from the cold search's in the last bits (the uniformisation step
    is chosen per batch). Rows needing the scalar routine's
    filtering (a singular covariance) and the surrogate objectives go one by one."""
    W = np.asarray(W, float)
    touched = pb.cache.setdefault(TOUCHED, set())
    touched.update((objective, w.tobytes()) for w in W)
    if objective != "exact":
        return cl._outages(pb, W, objective)
    out = np.empty(len(W))
    todo: dict[int, list[int]] = {}
    for b, w in enumerate(W):
        hit = pb.cache.get((objective, w.tobytes()))
        if hit is not None:
            out[b] = hit
        else:
            todo.setdefault(int(np.count_nonzero(w > 0)), []).append(b)
    for n, rows in todo.items():
        rows = np.asarray(rows)
        if n == 0:
            for b in rows:
                out[b] = cl._outage(pb, W[b], objective)
            continue
        pos = W[rows] > 0
        on = np.nonzero(pos)[1].reshape(len(rows), n)                          # (B,n) ascending
        cl.fill_outages(pb, W, rows, np.sqrt(np.take_along_axis(W[rows], on, axis=1)),
                        pb.cov[on[:, :, None], on[:, None, :]], objective, out, cdf=cdf_batch)
    return out


# --- problem refresh -----------------------------------------------------------------
def _focus_points(name: str) -> tuple[int, ...]:
    """Indices into ``[target, user0, …]`` a configuration is focused on."""
    if name == "target":
        return (0,)
    if name.startswith("user"):
        return (1 + int(name[4:]),)
    if name.startswith("mix"):
        return (0, 1 + int(name[3:]))
    return ()


def focus_window(layout, n: int, X, lo, hi, step, size, weights, points, rho: float, spacing: float,
                 window: float, sweeps: int = 2, terms=None):
    """Element-wise maximisation of ``Σ_i ω_i |h_i|²`` for B configurations of guide n at
    once (MODEL §4.5), each PA searched only on the grid points within ± ``window`` of its
    start. ``X`` (B,npas) starts on each configuration's grid ``lo + i·step`` (i < size);
    lo, hi, step, size (B,); weights (B,P); points (P,3). A PA moves only when the best
    legal candidate (bounds, spacing δ from its neighbours) beats the current value by the
    relative margin 1e-12 (the cold search's rule). ``terms(cand, cidx)`` (optional): the
    PA terms (B,npas,Wn,P) at the candidate coordinates (grid indices ``cidx``), e.g. only
    the weighted points' columns (then h2 is valid only there); default: every point's.
    Returns (X (B,npas), h2 (B,P))."""
    X = np.array(X, float)
    B, npas = X.shape
    lo, hi, step = (np.asarray(a, float) for a in (lo, hi, step))
    size = np.asarray(size, int)
    w = np.asarray(weights, float)
    half = int(np.floor(float(np.max(window / step)) + 1e-9))
    off = np.arange(-half, half + 1)
    idx0 = np.rint((X - lo[:, None]) / step[:, None]).astype(int)                # (B,npas)
    cidx = idx0[:, :, None] + off[None, None, :]                                # (B,npas,Wn)
    valid = (cidx >= 0) & (cidx < size[:, None, None]) & (np.abs(off)[None, None, :] * step[:, None, None]
                                                           <= window + 1e-12)
    cand = lo[:, None, None] + np.clip(cidx, 0, size[:, None, None] - 1) * step[:, None, None]
    cand[:, :, half] = X                                                        # the start itself, exactly
    P = len(points)
    terms = (layout.guide_terms(n, cand.ravel(), points, rho).reshape(B, npas, len(off), P) if terms is None
             else terms(cand, np.clip(cidx, 0, size[:, None, None] - 1)))
    a = np.full((B, npas), half)
    rows = np.arange(B)
    H = terms[:, :, half].sum(axis=1)                                           # (B,P)
    for _ in range(max(1, int(sweeps))):
        moved = False
        for m in range(npas):
            cur = terms[rows, m, a[:, m]]                                       # (B,P)
            hc = H[:, None, :] - cur[:, None, :] + terms[:, m]                  # (B,Wn,P)
            sc = np.einsum("bwp,bp->bw", hc.real ** 2 + hc.imag ** 2, w)
            lo_m = lo if m == 0 else np.maximum(lo, X[:, m - 1] + spacing)
            hi_m = hi if m == npas - 1 else np.minimum(hi, X[:, m + 1] - spacing)
            xc = cand[:, m]
            ok = valid[:, m] & (xc >= lo_m[:, None] - 1e-12) & (xc <= hi_m[:, None] + 1e-12)
            sc = np.where(ok, sc, -np.inf)
            j = np.argmax(sc, axis=1)
            now = (np.abs(H) ** 2) @ w if w.ndim == 1 else np.einsum("bp,bp->b", np.abs(H) ** 2, w)
            go = sc[rows, j] > now * (1 + 1e-12)
            if go.any():
                moved = True
                a[go, m] = j[go]
                X[go, m] = xc[go, j[go]]
                H[go] = hc[go, j[go]]
        if not moved:
            break
    return X, np.abs(H) ** 2


def refresh_problem(layout, setup, prev: cl.ClusterProblem, prev_points, users, target, *, window, decay=None,
                    points_per_cluster: int = 0, sweeps: int = 1, held=None, refocus: bool = True) -> cl.ClusterProblem:
    """``prev`` (built by :func:`~twin.optim.clustered.build_problem` for the points
    ``prev_points`` = [target, users…]) brought to the new users (K,3) and target (3,):
    configurations whose focus points moved are re-focused within ± ``window`` (N,) m of
    their previous coordinates, ``sweeps`` sweeps, all in one batch (:func:`focus_window`;
    ``mix{k}`` normalised by the previous frame's gains of ``target`` and ``user{k}``, the
    cold build's normalisers one frame late); user
    SNRs everywhere; a sensing gain, and the RCS covariance (decay ϱ: ``decay``, None: the
    setup's), only where the configuration or the target moved (else bit-equal to
    ``prev``'s). ``held`` = (clusters, configs) of the previous schedule: a configuration
    column ``"prev"`` then holds each used cluster's configuration as it was (not
    re-focused), so the previous schedule can be kept unchanged. ``refocus=False``: no
    re-focusing this frame (SNRs and moved gains only)."""
    dep = layout.deployment
    users = np.atleast_2d(np.asarray(users, float))
    q = np.asarray(target, float)
    pts = np.vstack([q[None], users])
    prev_points = np.asarray(prev_points, float)
    moved = np.any(pts != prev_points, axis=1) if prev_points.shape == pts.shape else np.ones(len(pts), bool)
    names = list(prev.config_names)
    positions, gains = prev.positions.copy(), prev.gains.copy()
    if held is not None:                 # the "prev" column: each used cluster's configuration as it was
        if HELD not in names:
            names.append(HELD)
            positions = np.concatenate([positions, np.full(positions[:, :1].shape, np.nan)], axis=1)
            gains = np.concatenate([gains, np.full(gains[:, :1].shape, np.nan)], axis=1)
        jp = names.index(HELD)
        positions[:, jp], gains[:, jp] = np.nan, np.nan
        for c, j in zip(*held):
            positions[c, jp], gains[c, jp] = prev.positions[c, j], prev.gains[c, j]
    snr = np.full(gains.shape + prev.snr.shape[2:], np.nan)
    clusters = [(n, lo, hi) for n, b in enumerate(dep.cluster_bounds) for (lo, hi) in b]
    g_scale = setup.gain_scale(q)
    g_prev = setup.gain_scale(prev_points[0]) if prev_points.shape == pts.shape else g_scale
    lam16 = wavelength(layout.fc) / 16.0
    window = np.asarray(window, float).reshape(-1)
    refocus = [j for j in range(len(names)) if refocus and any(moved[i] for i in _focus_points(names[j]))]
    lines = {k: v for k, v in prev.cache.items() if k[0] == "target-line"}
    for n in range(len(dep.cluster_bounds)):
        groups: dict[int, list[int]] = {}
        for i, (ni, _, _) in enumerate(clusters):
            if ni == n:
                groups.setdefault(int(np.sum(np.isfinite(positions[i, 0]))), []).append(i)
        for npas, members in groups.items():
            if npas == 0:
                continue
            members = np.asarray(members)
            rho = 1.0 / np.sqrt(npas)
            lo = np.array([clusters[i][1] for i in members])
            hi = np.array([clusters[i][2] for i in members])
            if points_per_cluster:
                size = np.full(len(members), int(points_per_cluster))
                step = (hi - lo) / max(int(points_per_cluster) - 1, 1)
            else:
                step = np.full(len(members), lam16)
                size = np.floor((hi + 1e-12 - lo) / lam16).astype(int) + 1
            h2: dict[int, np.ndarray] = {}

            def h2_of(j):
                if j not in h2:
                    h2[j] = _h2(layout, n, positions[members, j, :npas], pts, rho)
                return h2[j]

            if refocus:                                  # every moved configuration in one batch
                M = len(members)
                wts = np.zeros((len(refocus) * M, len(pts)))
                for r, j in enumerate(refocus):
                    focus = _focus_points(names[j])
                    rows = slice(r * M, (r + 1) * M)
                    if names[j].startswith("mix"):              # the previous frame's normalisers
                        k = focus[1] - 1
                        wts[rows, 0] = 1.0 / np.maximum(prev.gains[members, names.index("target")] / g_prev, 1e-300)
                        wts[rows, focus[1]] = 1.0 / np.maximum(
                            prev.snr[members, names.index(f"user{k}"), k] * setup.noise_w / setup.power_w, 1e-300)
                    else:
                        wts[rows, list(focus)] = 1.0
                offs = np.concatenate([[0], np.cumsum(size)[:-1]])
                tkey = ("target-line", n, npas, q.tobytes(), int(points_per_cluster))
                if tkey not in lines:                    # the target's term on every grid point, once per target
                    grid = np.concatenate([lo[i] + np.arange(size[i]) * step[i] for i in range(M)])
                    lines[tkey] = layout.guide_terms(n, grid, q[None], rho)[:, 0]
                tline = lines[tkey]
                row_off = np.tile(offs, len(refocus))

                def terms(cand, cidx, wts=wts):
                    out = np.zeros(cand.shape + (len(pts),), complex)
                    for p_i in range(len(pts)):
                        need = wts[:, p_i] > 0
                        if not need.any():
                            continue
                        if p_i == 0:
                            out[need, ..., 0] = tline[row_off[need][:, None, None] + cidx[need]]
                        else:
                            out[need, ..., p_i] = layout.guide_terms(n, cand[need].ravel(), pts[p_i][None],
                                                                     rho).reshape(cand[need].shape)
                    return out

                X, _ = focus_window(layout, n, np.concatenate([positions[members, j, :npas] for j in refocus]),
                                    np.tile(lo, len(refocus)), np.tile(hi, len(refocus)), np.tile(step, len(refocus)),
                                    np.tile(size, len(refocus)), wts, pts, rho, float(dep.spacing[n]),
                                    float(window[min(n, window.size - 1)]), sweeps, terms=terms)
                h = _h2(layout, n, X, pts, rho)
                for r, j in enumerate(refocus):
                    positions[members, j, :npas] = X[r * M:(r + 1) * M]
                    h2[j] = h[r * M:(r + 1) * M]
            for j in range(len(names)):
                fin = np.isfinite(positions[members, j, 0])
                if not fin.any():
                    continue
                h = h2_of(j) if fin.all() else _h2(layout, n, positions[members[fin], j, :npas], pts, rho)
                snr[members[fin], j] = setup.power_w * h[:, 1:] / setup.noise_w
                if moved[0] or j in refocus:
                    gains[members[fin], j] = g_scale * h[:, 0]
    cov, cache = prev.cov, {k: v for k, v in lines.items() if k[3] == q.tobytes()}
    if moved[0]:
        cov = rcs_covariance(look_angles(dep, q), setup.rcs_mean, setup.decay if decay is None else float(decay))
    else:
        # an outage (or reported bound) is a function of the weights, the covariance and Γ_th
        # alone: with the target where it was, the values the previous frame used still hold
        cache.update({k: prev.cache[k] for k in prev.cache.get(TOUCHED, ()) if k in prev.cache})
    return cl.ClusterProblem(gains, snr, positions, cov, prev.T, prev.t_tot, prev.tau_min, prev.r_min,
                             prev.threshold, tuple(names), prev.distinct, cache)


def _h2(layout, n, X, pts, rho):
    """|h_i|² (B,P) of B configurations X (B,npas) of guide n towards pts (P,3)."""
    B, npas = X.shape
    t = layout.guide_terms(n, X.ravel(), pts, rho).reshape(B, npas, len(pts))
    return np.abs(t.sum(axis=1)) ** 2


# --- schedule tracking ---------------------------------------------------------------
def _rate_matrix(pb, clusters, configs, users):
    T, K = len(clusters), pb.snr.shape[2]
    A = np.zeros((K, T))
    A[users, np.arange(T)] = cl._rate_terms(pb, clusters, configs, users) / pb.t_tot
    return A


def warm_durations(pb, clusters, configs, users, tau0, objective: str = "exact", maxiter: int = 30):
    """SLSQP on the log outage from ``tau0`` only (no LP start): (tau, outage), or
    (None, 1.0) when the run does not end rate-feasible. Same objective, gradient and
    constraints as :func:`twin.optim.clustered.optimise_durations`."""
    import scipy.optimize

    T = len(clusters)
    A = _rate_matrix(pb, clusters, configs, users)
    f, jac, _ = cl._duration_fns(pb, clusters, configs, A, objective, outages=outages_by_size)
    t0 = np.clip(np.asarray(tau0, float), pb.tau_min, pb.t_tot)
    t0 = t0 * pb.t_tot / t0.sum()
    best_tau, best = None, np.inf
    if cl._feasible(pb, clusters, configs, users, t0):
        best_tau, best = t0, f(t0)
    # in units of T_tot (SLSQP's first quasi-Newton step assumes a unit Hessian)
    S = pb.t_tot
    cons = [{"type": "eq", "fun": lambda x: np.sum(x) - 1.0, "jac": lambda x: np.ones((1, T))},
            {"type": "ineq", "fun": lambda x: (A @ x) * S - pb.r_min, "jac": lambda x: A * S}]
    res = scipy.optimize.minimize(lambda x: f(x * S), t0 / S, method="SLSQP", jac=lambda x: jac(x * S) * S,
                                  bounds=[(pb.tau_min / S, 1.0)] * T, constraints=cons,
                                  options={"maxiter": int(maxiter), "ftol": 1e-12})
    t = np.clip(res.x * S, pb.tau_min, pb.t_tot)
    t = t * pb.t_tot / t.sum()
    if cl._feasible(pb, clusters, configs, users, t) and np.all(t >= pb.tau_min * (1 - 1e-9)):
        v = f(t)
        if v < best:
            best_tau, best = t, v
    return (None, 1.0) if best_tau is None else (best_tau, float(np.exp(best)))


class NewtonStep:
    """One Newton step on the previous optimum's active set (MODEL §4.5 durations): the
    slots at τ_min stay there, the users whose rate constraint was tight (``tight`` (K,)
    bool) keep R̄_k = R_min, and Σ τ = T_tot. The start τ0 is ``tau_prev`` moved onto these
    equations (least change); in the d free directions left (d ≤ T−1, in units of T_tot)
    log P gets a quadratic model from central differences of step ``h`` and the step goes
    to its minimum (d = 0: the equations fix τ). The KKT multipliers of the active
    constraints (∇ log P = λ·1 + Σ μ_k ∇R̄_k + Σ ν_t e_t) come from forward differences
    along the constraint normals and must be ≥ 0. :attr:`W` holds the model's weight
    vectors (all of one support: scored in the caller's batch); :meth:`step` takes their
    log outages and returns the new τ, or None (active set changed, model not convex,
    or the point infeasible: use SLSQP). ``ok`` is False when the equations are not
    independent (nothing to evaluate)."""

    def __init__(self, pb, clusters, configs, users, tau_prev, tight, h: float = 1e-4):
        self.pb, self.args, self.h = pb, (clusters, configs, users), h
        T = len(clusters)
        A = _rate_matrix(pb, clusters, configs, users)
        low = np.asarray(tau_prev) <= pb.tau_min * (1 + 1e-6)
        E = np.array([np.ones(T)] + [A[k] for k in np.flatnonzero(tight)] + [np.eye(T)[t] for t in np.flatnonzero(low)])
        b = np.array([pb.t_tot] + [pb.r_min] * int(np.sum(tight)) + [pb.tau_min] * int(np.sum(low)))
        self.ok = False
        if len(E) > T:
            return
        u, sv, vt = np.linalg.svd(E)
        if sv[-1] <= 1e-12 * sv[0]:
            return
        tp = np.asarray(tau_prev, float)
        self.tau0 = tau0 = tp + vt[:len(E)].T @ ((u.T @ (b - E @ tp)) / sv)
        self.Z = Z = vt[len(E):].T * pb.t_tot                                  # free directions (T,d)
        self.R = R = vt[:len(E)].T * pb.t_tot                                  # constraint-normal directions (T,n)
        self.E, self.d, self.n = E, Z.shape[1], len(E)
        pts = [tau0] + [tau0 + h * R[:, i] for i in range(self.n)]
        for i in range(self.d):
            pts += [tau0 + h * Z[:, i], tau0 - h * Z[:, i]]
        self.pairs = [(i, j) for i in range(self.d) for j in range(i + 1, self.d)]
        pts += [tau0 + h * (Z[:, i] + Z[:, j]) for i, j in self.pairs]
        pts = np.array(pts)
        if np.any(pts < pb.tau_min * (1 - 1e-9) - 2 * h * pb.t_tot):
            return
        W = np.zeros((len(pts), pb.gains.shape[0]))
        np.add.at(W, (np.repeat(np.arange(len(pts)), T), np.tile(clusters, len(pts))),
                  (pts / pb.t_tot * pb.gains[clusters, configs][None]).ravel())
        self.W, self.ok = W, True

    def step(self, F):
        """The new τ from the model points' log outages ``F`` (same order as :attr:`W`)."""
        h, d, n = self.h, self.d, self.n
        f0, fr = F[0], F[1:1 + n]
        fp, fm = F[1 + n:1 + n + 2 * d:2], F[2 + n:1 + n + 2 * d:2]
        tau1 = self.tau0
        if d:
            g = (fp - fm) / (2 * h)
            H = np.diag((fp - 2 * f0 + fm) / h ** 2)
            for (i, j), fij in zip(self.pairs, F[1 + n + 2 * d:]):
                H[i, j] = H[j, i] = (fij - fp[i] - fp[j] + f0) / h ** 2
            if np.any(np.linalg.eigvalsh(H) <= 0):
                return None
            tau1 = self.tau0 + self.Z @ np.linalg.solve(H, -g)
        # ∇F·R_i from forward differences; R's columns span E's rows: ∇F = Eᵀ m there
        dr = (fr - f0) / h
        mult = np.linalg.lstsq((self.E @ self.R).T, dr, rcond=None)[0]
        if np.any(mult[1:] < -1e-6 * max(float(np.max(np.abs(mult))), 1e-300)):
            return None
        pb, (c, f, u) = self.pb, self.args
        if not (np.all(tau1 >= pb.tau_min * (1 - 1e-9)) and cl._feasible(pb, c, f, u, tau1)):
            return None
        return tau1


def _moves(pb, cl_, cf, us, tau, *, same_cluster: bool, distinct: bool, slots=None):
    """Every rate-feasible single-slot change of the schedule at durations ``tau``, and
    every change of a used cluster's configuration in all its slots, as arrays (B,T) of
    clusters, configurations and users, and their weights (B,C) — summed as
    :func:`~twin.optim.clustered.schedule_weights` does, so equal to it. Per (slot,
    cluster, configuration) the slot's user is kept when that stays feasible, else the
    first feasible one. ``slots``: the slots whose single changes are tried (None: all).
    ``same_cluster``: a change applies to every slot (baseline 2)."""
    C, J, K = pb.snr.shape
    T = pb.T
    valid = np.isfinite(pb.gains)
    parts = []
    if same_cluster:
        cs, js = np.nonzero(valid)
        keep = ~((cs == cl_[0]) & (js == cf[0]) & np.all(cl_ == cl_[0]) & np.all(cf == cf[0]))
        cs, js = cs[keep], js[keep]
        parts.append((np.repeat(cs[:, None], T, 1), np.repeat(js[:, None], T, 1), np.tile(us, (len(cs), 1)), 1))
    else:
        for t in (range(T) if slots is None else slots):
            allowed = valid.copy()
            for s in range(T):
                if s == t:
                    continue
                if distinct:
                    allowed[cl_[s]] = False
                else:
                    allowed[cl_[s], np.arange(J) != cf[s]] = False
            allowed[cl_[t], cf[t]] = False
            cs, js = np.nonzero(allowed)
            ks = np.array([us[t]] + [k for k in range(K) if k != us[t]])
            n = len(cs)
            CL = np.tile(cl_, (n * K, 1))
            CF = np.tile(cf, (n * K, 1))
            US = np.tile(us, (n * K, 1))
            CL[:, t], CF[:, t], US[:, t] = np.repeat(cs, K), np.repeat(js, K), np.tile(ks, n)
            parts.append((CL, CF, US, K))
        for c in np.unique(cl_):                          # a used cluster's configuration in all its slots
            here = cl_ == c
            js = [j for j in np.flatnonzero(valid[c]) if j != cf[here][0]]
            CF = np.tile(cf, (len(js), 1))
            CF[:, here] = np.array(js, int)[:, None]
            parts.append((np.tile(cl_, (len(js), 1)), CF, np.tile(us, (len(js), 1)), 1))
    out = [], [], []
    for CL, CF, US, per in parts:
        if not len(CL):
            continue
        B = len(CL)
        R = np.zeros((B, K))
        np.add.at(R, (np.repeat(np.arange(B), T), US.ravel()),
                  (np.broadcast_to(tau / pb.t_tot, (B, T)) * np.log2(1.0 + pb.snr[CL, CF, US])).ravel())
        ok = np.all(R >= pb.r_min * (1 - 1e-9) - 1e-12, axis=1).reshape(-1, per)   # (options, users in order)
        first = np.argmax(ok, axis=1)
        sel = np.flatnonzero(ok.any(axis=1)) * per + first[ok.any(axis=1)]
        for lst, arr in zip(out, (CL, CF, US)):
            lst.append(arr[sel])
    if not out[0]:
        z = np.zeros((0, T), int)
        return np.zeros((0, C)), z, z, z
    CL, CF, US = (np.concatenate(x) for x in out)
    B = len(CL)
    W = np.zeros((B, C))
    np.add.at(W, (np.repeat(np.arange(B), T), CL.ravel()),
              (np.broadcast_to(tau / pb.t_tot, (B, T)) * pb.gains[CL, CF]).ravel())
    return W, CL, CF, US


def _finish(pb, clusters, configs, users, tau, t0, history, moves, how):
    """:func:`twin.optim.clustered._finish` with the reported Chernoff bound memoised in
    the problem's cache too (the same full-covariance computation)."""
    w = cl.schedule_weights(pb, clusters, configs, tau)
    out = float(outages_by_size(pb, w[None])[0])
    key = ("chernoff-report", w.tobytes())
    pb.cache[TOUCHED].add(key)
    ch = pb.cache.get(key)
    if ch is None:
        ch = pb.cache[key] = outage_probability(w, pb.cov, pb.threshold, method="chernoff")
    sch = cl.Schedule(np.asarray(clusters), np.asarray(configs), np.asarray(users), np.asarray(tau), out, ch,
                      cl.average_rates(pb, clusters, configs, users, tau), pb)
    return cl.ScheduleResult(sch, out, moves, time.perf_counter() - t0, Status.OK, tuple(history),
                             {"tracked": True, "durations": how, "moves": moves})


def track_schedule(pb: cl.ClusterProblem, prev: cl.Schedule, *, objective: str = "exact",
                   same_cluster: bool = False, equal_durations: bool = False, moves: int = 1, slots=None,
                   slack: float = 1e-6, gain: float = 1e-4) -> cl.ScheduleResult | None:
    """The previous frame's schedule ``prev`` carried to the refreshed problem ``pb``
    (module docstring, steps 2-3). Durations: kept when still optimal (the slots' gains
    unchanged, every rate constraint slack before and now), else a Newton step on the
    previous active set (:class:`NewtonStep`), else warm SLSQP (:func:`warm_durations`),
    else the LP-started optimisation. Moves: every single-slot change of the ``slots``
    given (None: all) and every change of a used cluster's configuration in all its
    slots, scored at the previous durations in the same batch as the Newton model; the
    best is taken when it lowers the tracked schedule's outage by the relative margin
    ``gain`` (then re-timed: Newton, else SLSQP); ``moves`` = 0: none. Last, the previous
    schedule held unchanged (the ``prev`` column, its durations) replaces the result if it
    is feasible and lower. ``slack``: a rate constraint counts as slack when its margin
    exceeds ``slack · max(R_min, 1)``. Returns the
    :class:`~twin.optim.clustered.ScheduleResult` (info ``tracked``, ``durations``: kept
    / newton / warm / lp / equal / held, ``moves``), or None when no rate-feasible
    schedule was reached from ``prev`` (the caller falls back to the cold search)."""
    t0 = time.perf_counter()
    T = pb.T
    cl_, cf, us = np.array(prev.clusters), np.array(prev.configs), np.array(prev.users)
    tau = np.array(prev.tau, float)
    distinct = pb.distinct and not same_cluster
    eq_tau = np.full(T, pb.t_tot / T)

    def search(c, f, u, t):
        """(tau, outage, how) by SLSQP from t, else the LP-started search; (None, 1, "")."""
        if equal_durations:
            ok = cl._feasible(pb, c, f, u, eq_tau)
            return (eq_tau, _one(pb, c, f, eq_tau, objective), "equal") if ok else (None, 1.0, "")
        tt, p = warm_durations(pb, c, f, u, t, objective)
        if tt is not None:
            return tt, p, "warm"
        tt, p = cl.optimise_durations(pb, c, f, u, t, objective)
        return (tt, p, "lp") if tt is not None else (None, 1.0, "")

    margin = slack * max(pb.r_min, 1.0)
    ppb = prev.problem
    tight = None if ppb is None else np.asarray(prev.rates) - ppb.r_min <= margin
    kept = (not equal_durations and ppb is not None and not np.any(tight)
            and np.array_equal(pb.gains[cl_, cf], ppb.gains[cl_, cf])
            and np.all(cl.average_rates(pb, cl_, cf, us, tau) - pb.r_min > margin))
    newton = None
    if equal_durations:
        tau = eq_tau
    elif not kept and tight is not None:
        newton = NewtonStep(pb, cl_, cf, us, tau, tight)
    Wn = newton.W if newton is not None and newton.ok else np.zeros((0, pb.gains.shape[0]))
    W0 = cl.schedule_weights(pb, cl_, cf, tau)[None]
    Wm, CL, CF, US = (_moves(pb, cl_, cf, us, tau, same_cluster=same_cluster, distinct=distinct, slots=slots)
                      if moves > 0 else (np.zeros((0, pb.gains.shape[0])),) * 4)
    jp = pb.config_names.index(HELD) if HELD in pb.config_names else None
    held = (cl_, np.full(T, jp), us, np.array(prev.tau, float)) if jp is not None and not same_cluster else None
    if held is not None and (np.array_equal(held[1], cf) or not np.all(np.isfinite(pb.gains[cl_, jp]))
                             or not cl._feasible(pb, *held)):
        held = None
    Wh = cl.schedule_weights(pb, held[0], held[1], held[3])[None] if held is not None else W0[:0]
    vals = outages_by_size(pb, np.vstack([Wn, W0, Wm, Wh]), objective)          # one batch per support size
    vn, p_here, vm = vals[:len(Wn)], float(vals[len(Wn)]), vals[len(Wn) + 1:len(vals) - len(Wh)]
    p_held = float(vals[-1]) if held is not None else np.inf
    here_ok = cl._feasible(pb, cl_, cf, us, tau)
    how = "kept" if kept else "equal" if equal_durations else ""
    p = p_here
    if not kept and not equal_durations:
        tau1 = newton.step(np.log(np.maximum(vn, 1e-300))) if newton is not None and newton.ok else None
        if tau1 is not None:
            p1 = _one(pb, cl_, cf, tau1, objective)
            if p1 <= p_here * (1 + 1e-9) or not here_ok:
                tau, p, how = tau1, p1, "newton"
        if not how:
            tau, p, how = search(cl_, cf, us, tau)
            if tau is None:
                if held is None:
                    return None
                tau, p, how = held[3], np.inf, "held"
    elif not here_ok:
        if held is None:
            return None
        p, how = np.inf, "held"
    history = [p]
    done = 0
    if len(vm):
        i = int(np.argmin(vm))
        if vm[i] < p * (1 - gain):
            t_m = np.array(prev.tau, float) if not equal_durations else eq_tau
            cl_, cf, us, tau, p = CL[i], CF[i], US[i], t_m, float(vm[i])
            if not equal_durations:                 # re-time: Newton on the active set at hand, else SLSQP
                r = cl.average_rates(pb, cl_, cf, us, tau)
                step = NewtonStep(pb, cl_, cf, us, tau, r - pb.r_min <= margin)
                tau2 = step.step(np.log(np.maximum(outages_by_size(pb, step.W, objective), 1e-300))) if step.ok else None
                p2, how2 = (_one(pb, cl_, cf, tau2, objective), "newton") if tau2 is not None else (1.0, "")
                if tau2 is None or p2 > p:
                    tau2, p2, how2 = search(cl_, cf, us, tau)
                if tau2 is not None and p2 < p:
                    tau, p, how = tau2, p2, how2
            done = 1
            history.append(p)
    if p_held < p:                          # the previous schedule as it was is still better
        (cl_, cf, us, tau), p, how = held, p_held, "held"
        history.append(p)
    return _finish(pb, cl_, cf, us, tau, t0, history, done, how)


def _one(pb, clusters, configs, tau, objective):
    return float(outages_by_size(pb, cl.schedule_weights(pb, clusters, configs, tau)[None], objective)[0])
