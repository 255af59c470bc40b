"""Paper 001's own method (MODEL §4.5.1): Chernoff surrogate on an outer grid of s,
alternating optimisation of (i) relaxed cluster selection and durations, (ii) continuous
intra-cluster PA positions, (iii) relaxed user scheduling — scheme ``Proposed-MM``.

Blocks, for one value of s (paper 001 §IV, Fig. 2):

1. **Cluster selection and durations** (paper eqs. 27-35). Relaxed ``b_{c,t} ∈ [0,1]``,
   ``Σ_c b_{c,t} = 1``, the bilinear ``z_{c,t} = b_{c,t} τ_t`` by big-M (McCormick)
   constraints (eqs. 29-31, plus the valid ``Σ_c z_{c,t} = τ_t``), time budget and
   ``τ_t ≥ τ_min``. Objective: ``s Γ_th − log det(I + s Σ D(z))`` (eq. 26) — convex in z,
   so it is kept exactly instead of the paper's linearised log-det (eq. 28) —, plus the
   binary-recovery penalty ``η Σ (b − b²)`` with ``b²`` linearised at the previous
   iterate (eqs. 32-35), η growing from 0, and an elastic slack on the rate rows (C1)
   so every solve is feasible, and a 10⁻⁶ quadratic that makes the minimiser unique.
   Slots still fractional after the penalty steps are fixed one at a time and the
   problem re-solved (fix-and-resolve, :meth:`_MM.selection`).
2. **Positions** (paper §IV-B, Subproblem 2a). With clusters, durations and users fixed,
   the exact outage is non-increasing in every cluster weight ``w_c`` (Γ = Σ w_c |ξ_c|²
   grows pointwise), so over the positions of cluster c alone it is minimised by
   maximising its target gain ``|h_{t,c}(x_c)|²`` subject to the SNR its scheduled users
   need for ``R̄_k ≥ R_min`` given the other slots' rates — the paper's Subproblem 2a
   (eq. 59) without the SDR. It is solved by **continuous element-wise search**: each PA
   in turn takes the best point of its whole legal interval (order and spacing δ kept,
   MODEL §1) on a λ/32 scan, refined by two zooms (×1/8 each: λ/2048 ≈ 15 µm at 30 GHz),
   sweeps until no PA moves (the three best sampled peaks of an interval are refined,
   so a lobe missed by the sampling by less than its 2% sampling error is not lost).
   Every move raises the gain or lowers the violation, so the block is monotone; block
   coordinate descent over the clusters is exact descent on the outage (not a surrogate). This replaces the paper's amplitude/phase split, rank-one
   SDP with trace-norm penalty and Lipschitz MM: those relax the same 1-D phase
   structure and recover a rank-one point by penalty; the 1-D global scan per PA does
   not relax, so no recovery step is needed (docs/paper001.md, "Proposed-MM").
3. **User scheduling** (paper §IV-C, Subproblem 2b, eqs. 60-67). Relaxed ``u_{k,t}``,
   ``Σ_k u_{k,t} = 1``, penalty ``η Σ (u − u²)`` linearised; with τ and positions fixed
   the rate rows are linear in u (the big-M auxiliaries of eqs. 60-62 are only needed
   while the SNR is a variable). The sensing objective does not depend on u; the block
   maximises the smallest rate margin, the room blocks 1 and 2 then use.

Every candidate of blocks 1 and 3 is evaluated exactly (MODEL §3.4) and kept only if the
exact outage does not rise and the rate targets hold; durations of a candidate are also
polished on the exact outage (:func:`twin.optim.clustered.optimise_durations`). The
outer grid over s keeps the result with the lowest *exact* outage (the paper keeps the
lowest surrogate). Hence the result is never worse than the starting point.

Both cvxpy problems are compiled once per shape (DPP, :func:`selection_problem`,
:func:`scheduling_problem`) and re-solved with new parameter values by Clarabel directly on
cvxpy's compiled data (:mod:`twin.optim.mm_conic`: the same solve bit for bit, with
``Problem.solve`` as the fallback); a block problem repeated within one run is solved once.

:func:`pareto_grid_problem` is the exhaustive reference on small cases: every legal
tuple of PA positions on a fine grid per cluster, pruned to the Pareto-optimal ones in
(target gain, user gains) — a dominated tuple can never be in an optimal schedule —, for
:func:`twin.optim.clustered.exhaustive_schedule`."""

from __future__ import annotations

import collections
import functools
import itertools
import time
import warnings
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from twin.optim import clustered as cl
from twin.optim import drop_memo, mm_conic
from twin.optim.layout import PassLayout
from twin.optim.result import Status
from twin.units import wavelength

#: elastic penalty on a rate row's shortfall (bit/s/Hz) in blocks 1 and 3
RATE_SLACK_PENALTY = 1e3
#: strictly convex term that makes block 1's minimiser unique: the log-det sees only the
#: time per cluster, so the relaxation's optimal face is flat in how the time is split over
#: slots, and Clarabel stalls on it (InsufficientProgress) without this term
UNIQUE = 1e-6
#: penalty factors η of the binary recovery, one solve each (0: the plain relaxation)
ETA_STEPS = (0.0, 0.3, 3.0, 30.0)
#: upper bound on block 3's rate margin (bit/s/Hz): keeps the LP bounded when R_min is slack
MARGIN_CAP = 100.0


@dataclass(frozen=True)
class MMSettings:
    """s_grid: values of ``s Γ_th`` of the outer search; ao_iters: AO rounds per s;
    scan: coarse scan step of the position search (metres; 0: λ/32); zooms: refinements
    (×1/8 each); sweeps: element-wise sweeps per cluster."""

    s_grid: tuple = (0.5, 2.0, 8.0)
    ao_iters: int = 3
    scan: float = 0.0
    zooms: int = 2
    sweeps: int = 8


# --- block 2: continuous intra-cluster positions ---------------------------------------
def cluster_positions(layout: PassLayout, n: int, lo: float, hi: float, x0, pts, need, spacing: float,
                      rho: float, scan: float = 0.0, zooms: int = 2, sweeps: int = 8):
    """Maximise ``|h_0(x)|²`` over the along-guide coordinates x (npas,) of one cluster in
    [lo, hi] (order kept, spacing ≥ δ) subject to ``|h_i(x)|² ≥ need_i`` for i ≥ 1
    (need 0: no constraint); pts (P,3), point 0 the target. Continuous element-wise
    search (module docstring, block 2). Returns (x, h2 (P,), feasible). Inside
    :func:`twin.optim.drop_memo.shared` (a figure drop) a repeat is not recomputed (the
    cold start's target focusing is the same at every power of a sweep)."""
    args = (n, float(lo), float(hi), np.asarray(x0, float), np.asarray(pts, float), np.asarray(need, float),
            float(spacing), float(rho), float(scan), int(zooms), int(sweeps))
    return drop_memo.memo("cluster_positions", layout, args, lambda: _cluster_positions(
        layout, n, lo, hi, x0, pts, need, spacing, rho, scan, zooms, sweeps))


def _cluster_positions(layout, n, lo, hi, x0, pts, need, spacing, rho, scan, zooms, sweeps):
    x = np.array(x0, float)
    need = np.asarray(need, float)
    npas = x.size
    step0 = scan or wavelength(layout.fc) / 32.0
    con = need > 0

    def value(g):                      # (Q,P) gains -> (feasible (Q,), score (Q,))
        if not con.any():
            return np.ones(len(g), bool), g[:, 0]
        ratio = g[:, con] / need[con]
        feas = np.all(ratio >= 1.0, axis=1)
        return feas, np.where(feas, g[:, 0], np.min(ratio, axis=1) - 1.0)

    terms = layout.guide_terms(n, x, pts, rho)                          # (npas,P)
    h = terms.sum(axis=0)
    f_cur, v_cur = value(np.abs(h[None]) ** 2)
    f_cur, v_cur = bool(f_cur[0]), float(v_cur[0])
    for _ in range(sweeps):
        moved = False
        for m in range(npas):
            a = x[m - 1] + spacing if m > 0 else lo
            b = x[m + 1] - spacing if m < npas - 1 else hi
            if b < a:
                continue
            rest = h - terms[m]
            cand = np.append(np.arange(a, b, step0), b)
            t_c = layout.guide_terms(n, cand, pts, rho)
            feas, val = value(np.abs(rest[None] + t_c) ** 2)
            rank = np.lexsort((-val, ~feas))              # feasible first, then by value
            peak = np.r_[True, val[1:] >= val[:-1]] & np.r_[val[:-1] >= val[1:], True]
            seeds = [i for i in rank if peak[i]][:3] or [int(rank[0])]
            best = None
            for i0 in seeds:                              # zoom on the three best sampled peaks
                cb = (bool(feas[i0]), float(val[i0]), float(cand[i0]), t_c[i0])
                step = step0
                for _z in range(zooms):
                    step /= 8.0
                    zc = np.clip(cb[2] + step * np.arange(-8, 9), a, b)
                    tz = layout.guide_terms(n, zc, pts, rho)
                    fz, vz = value(np.abs(rest[None] + tz) ** 2)
                    j = int(np.lexsort((-vz, ~fz))[0])
                    if (bool(fz[j]), float(vz[j])) > (cb[0], cb[1]):
                        cb = (bool(fz[j]), float(vz[j]), float(zc[j]), tz[j])
                if best is None or (cb[0], cb[1]) > (best[0], best[1]):
                    best = cb
            better = (best[0] and not f_cur) or (best[0] == f_cur and best[1] > v_cur * (1 + 1e-12) + 1e-300)
            if better:
                x[m], terms[m] = best[2], best[3]
                h = rest + best[3]
                f_cur, v_cur = best[0], best[1]
                moved = True
        if not moved:
            break
    return x, np.abs(h) ** 2, f_cur


# --- block 1: relaxed cluster selection and durations (DPP) ----------------------------
@functools.lru_cache(maxsize=16)
def selection_problem(C: int, T: int, K: int):
    """The convex block-1 problem for C clusters, T slots, K users, compiled once.
    Parameters: ``P`` (C², C), column c the flattened s g_c/Γ_th · L_cᵀ L_c (Σ = L Lᵀ,
    L_c row c; time in units of T_tot); ``R`` (K, C·T) rate coefficients u_{k,t} r_{k,c}; ``lin`` (C·T) the
    linearised binary penalty; ``fix`` (C·T) lower bounds on b (1: slot t
    fixed to cluster c); ``r_min``; ``phi_min``. Variables b, z (C·T, slot-major
    per cluster: index c·T + t), φ (T)."""
    b = cp.Variable(C * T, nonneg=True)
    z = cp.Variable(C * T, nonneg=True)
    phi = cp.Variable(T, nonneg=True)
    slack = cp.Variable(K, nonneg=True)
    P = cp.Parameter((C * C, C))
    R = cp.Parameter((K, C * T))
    lin = cp.Parameter(C * T)
    fix = cp.Parameter(C * T, nonneg=True)
    r_min = cp.Parameter(nonneg=True)
    phi_min = cp.Parameter(nonneg=True)
    Bm = cp.reshape(b, (C, T), order="C")
    Zm = cp.reshape(z, (C, T), order="C")
    M = np.eye(C) + cp.reshape(P @ cp.sum(Zm, axis=1), (C, C), order="F")
    phi_row = cp.reshape(phi, (1, T), order="C")
    cons = [b <= 1, b >= fix, cp.sum(Bm, axis=0) == 1, cp.sum(phi) == 1, phi >= phi_min,
            Zm <= Bm, Zm <= np.ones((C, 1)) @ phi_row, Zm >= np.ones((C, 1)) @ phi_row - (1 - Bm),
            cp.sum(Zm, axis=0) == phi, R @ z + slack >= r_min]
    obj = (-cp.log_det(M) + lin @ b + RATE_SLACK_PENALTY * cp.sum(slack)
           + UNIQUE * (cp.sum_squares(z) + cp.sum_squares(b)))
    prob = cp.Problem(cp.Minimize(obj), cons)
    assert prob.is_dpp()
    params = {"P": P, "R": R, "lin": lin, "fix": fix, "r_min": r_min, "phi_min": phi_min}
    return prob, params, {"b": b, "z": z, "phi": phi}


@functools.lru_cache(maxsize=16)
def scheduling_problem(K: int, T: int):
    """The block-3 LP for K users, T slots, compiled once. Parameters ``coef`` (K,T) =
    (τ_t/T_tot) r_{k,c_t}, ``lin`` (K,T) the linearised binary penalty, ``r_min``.
    Maximises the smallest rate margin."""
    u = cp.Variable((K, T), nonneg=True)
    m = cp.Variable()
    coef = cp.Parameter((K, T))
    lin = cp.Parameter((K, T))
    r_min = cp.Parameter(nonneg=True)
    cons = [u <= 1, cp.sum(u, axis=0) == 1, cp.sum(cp.multiply(coef, u), axis=1) >= r_min + m, m <= MARGIN_CAP]
    prob = cp.Problem(cp.Maximize(m - cp.sum(cp.multiply(lin, u))), cons)
    assert prob.is_dpp()
    return prob, {"coef": coef, "lin": lin, "r_min": r_min}, u


def _solve(prob) -> bool:
    """Solve a compiled block problem with a fresh Clarabel solver. ``warm_start=False``:
    with cvxpy's default, a re-solve of the same (cached) problem updates the previous
    call's Clarabel solver in place, which keeps internal state (scaling) from that call's
    data, so the answer depended on what the process had solved before (a figure drop's
    Proposed-MM result on which Dask worker ran it)."""
    try:
        with warnings.catch_warnings():              # "inaccurate" is judged by the exact evaluation
            warnings.simplefilter("ignore", UserWarning)
            prob.solve(solver=cp.CLARABEL, warm_start=False)
    except cp.SolverError:
        return False
    return prob.status in ("optimal", "optimal_inaccurate")


#: solve the blocks on Clarabel directly (:class:`twin.optim.mm_conic.DirectBlock`: cvxpy's
#: compiled data, the same solve without cvxpy's per-solve work) and use ``Problem.solve``
#: only as the fallback; False: ``Problem.solve`` only (the path before, kept for the
#: equality tests and the benchmark)
DIRECT = True
#: direct block solves that Clarabel did not solve: (block, Clarabel status) -> count. The
#: block then keeps its state, as when ``Problem.solve`` failed: cvxpy would pass Clarabel
#: the same data with the same settings and get the same status, so it is not asked again
#: (in paper001-power drops 10 and 40, 10 of 215 block-1 solves ended InsufficientProgress)
UNSOLVED: collections.Counter = collections.Counter()
#: direct block solves that raised (e.g. a cvxpy whose internals moved): (block, the
#: exception's name) -> count; these blocks were solved by ``Problem.solve``
FALLBACKS: collections.Counter = collections.Counter()


@functools.lru_cache(maxsize=16)
def _direct_selection(C: int, T: int, K: int) -> mm_conic.DirectBlock:
    prob, par, var = selection_problem(C, T, K)
    return mm_conic.DirectBlock(prob, par, var)


@functools.lru_cache(maxsize=16)
def _direct_scheduling(K: int, T: int) -> mm_conic.DirectBlock:
    prob, par, u = scheduling_problem(K, T)
    return mm_conic.DirectBlock(prob, par, {"u": u})


def _direct(name: str, block, values: dict):
    """(done, {variable: value} or None) of a direct solve; done False: it raised, use cvxpy."""
    try:
        status, out, _ = block().solve(values)
    except Exception as exc:                         # e.g. a cvxpy whose internals moved
        FALLBACKS[(name, type(exc).__name__)] += 1
        return False, None
    if out is None:
        UNSOLVED[(name, status)] += 1
    return True, out


def _solve_with(name: str, direct, problem, values: dict) -> dict | None:
    """{variable: value} of a block problem at parameter ``values``, or None if it was not
    solved: Clarabel directly on cvxpy's compiled data (``direct()``, a
    :class:`~twin.optim.mm_conic.DirectBlock`) unless :data:`DIRECT` is off or that raised
    (:data:`FALLBACKS`), else ``problem()``'s cvxpy problem with ``Problem.solve``."""
    if DIRECT:
        done, out = _direct(name, direct, values)
        if done:
            return out
    prob, par, var = problem()
    for k, v in values.items():
        par[k].value = v
    if not _solve(prob):
        return None
    return {k: v.value for k, v in var.items()}


def solve_selection(C: int, T: int, K: int, values: dict) -> dict | None:
    """Block 1 at parameter ``values`` (the names of :func:`selection_problem`'s
    parameters): {"b", "z", "phi"} of the minimiser, or None if Clarabel did not solve it
    (Solved or AlmostSolved: what ``Problem.solve`` accepts; the status is counted in
    :data:`UNSOLVED`)."""
    return _solve_with("selection", lambda: _direct_selection(C, T, K), lambda: selection_problem(C, T, K), values)


def solve_scheduling(K: int, T: int, values: dict) -> np.ndarray | None:
    """Block 3 at parameter ``values`` (:func:`scheduling_problem`'s names): u (K,T) of the
    optimum or None, as :func:`solve_selection`."""
    def problem():
        prob, par, u = scheduling_problem(K, T)
        return prob, par, {"u": u}

    out = _solve_with("scheduling", lambda: _direct_scheduling(K, T), problem, values)
    return None if out is None else out["u"]


# --- the alternating optimisation ------------------------------------------------------
@dataclass
class _State:
    X: np.ndarray          # (C, Nc) positions of every cluster
    clusters: np.ndarray   # (T,)
    users: np.ndarray      # (T,)
    tau: np.ndarray | None
    outage: float          # exact; 1.0 when infeasible
    pb: cl.ClusterProblem


class _MM:
    """One solve: the problem data and the evaluation helpers shared by the blocks."""

    def __init__(self, layout, setup, users, target, T, r_min, threshold_db, tau_min_frac, decay, settings):
        self.layout, self.setup = layout, setup
        self.users = np.atleast_2d(np.asarray(users, float))
        self.q = np.asarray(target, float)
        self.pts = np.vstack([self.q[None], self.users])
        self.kw = dict(T=int(T), r_min=float(r_min), threshold_db=threshold_db, tau_min_frac=tau_min_frac,
                       decay=decay)
        self.set = settings
        dep = layout.deployment
        self.clusters = [(n, c, lo, hi) for n, bnds in enumerate(dep.cluster_bounds)
                         for c, (lo, hi) in enumerate(bnds)]
        self.npas = [int(np.sum(dep.cluster[n] == c)) for n, c, _, _ in self.clusters]
        self.spacing = [float(dep.spacing[n]) for n, _, _, _ in self.clusters]
        self.C, self.T, self.K = len(self.clusters), int(T), len(self.users)
        self._blocks: dict = {}      # (block, id(state), args) -> (state, result): see _block
        self._solves: dict = {}      # exact parameter bytes -> a block solve's answer: see _solve_block

    def _block(self, name, st, *args):
        """Block ``name`` (selection, positions, scheduling) of state ``st``, each a
        deterministic function of the state object (and s): an AO round that changed
        nothing (every block returned ``st`` itself) is followed by a second round that would
        recompute the same three blocks (the loop stops only after it), and a start that
        ends where another began repeats that one's blocks — both are looked up instead.
        The memo holds the state, so its id is not reused while the entry lives."""
        key = (name, id(st)) + args
        hit = self._blocks.get(key)
        if hit is None:
            hit = self._blocks[key] = (st, getattr(self, "_" + name)(st, *args))
        return hit[1]

    def _solve_block(self, name: str, values: dict):
        """:func:`solve_selection` / :func:`solve_scheduling` at ``values``, each answer kept
        for this solve on the exact bytes of the values: a fresh solver on the same data
        gives the same answer, and different states of one AO (e.g. two starts that reach
        the same schedule with the same durations) re-pose the same block problem (5 % of
        block-1 solves of a ``paper001-power`` drop)."""
        key = (name,) + tuple((k, np.asarray(v, float).tobytes()) for k, v in sorted(values.items()))
        if key not in self._solves:
            if name == "selection":
                self._solves[key] = solve_selection(self.C, self.T, self.K, values)
            else:
                self._solves[key] = solve_scheduling(self.K, self.T, values)
        return self._solves[key]

    def selection(self, st: "_State", a: float) -> "_State":
        return self._block("selection", st, float(a))

    def positions(self, st: "_State") -> "_State":
        return self._block("positions", st)

    def scheduling(self, st: "_State") -> "_State":
        return self._block("scheduling", st)

    def problem(self, X) -> cl.ClusterProblem:
        return cl.problem_from_positions(self.layout, self.setup, self.users, self.q, X[:, None, :], **self.kw)

    def state(self, X, clusters, users, tau=None) -> _State:
        """Durations polished on the exact outage from ``tau`` (and the LP start)."""
        pb = self.problem(X)
        cf = np.zeros(self.T, int)
        tau2, p = cl.optimise_durations(pb, clusters, cf, users, tau)
        if tau2 is None:
            return _State(X, np.asarray(clusters), np.asarray(users), None, 1.0, pb)
        return _State(X, np.asarray(clusters), np.asarray(users), tau2, float(p), pb)

    def uniform(self) -> np.ndarray:
        X = np.full((self.C, max(self.npas)), np.nan)
        for i, (_, _, lo, hi) in enumerate(self.clusters):
            X[i, :self.npas[i]] = lo + (hi - lo) * (np.arange(self.npas[i]) + 0.5) / self.npas[i]
        return X

    def focus(self, X, i, need) -> tuple[np.ndarray, bool]:
        n, _, lo, hi = self.clusters[i]
        k = self.npas[i]
        x, _, ok = cluster_positions(self.layout, n, lo, hi, X[i, :k], self.pts, need, self.spacing[i],
                                     1.0 / np.sqrt(k), self.set.scan, self.set.zooms, self.set.sweeps)
        return x, ok

    # block 2
    def _positions(self, st: _State) -> _State:
        X = st.X.copy()
        used = set(st.clusters.tolist())
        r_min = self.kw["r_min"]
        for i in range(self.C):
            if i not in used:
                continue
            pb = self.problem(X)
            frac = st.tau / pb.t_tot
            rate = np.log2(1.0 + pb.snr[st.clusters, 0, st.users])
            mine = st.clusters == i
            need = np.zeros(1 + self.K)
            for k in range(self.K):
                a = float(np.sum(frac[mine & (st.users == k)]))
                other = float(np.sum((frac * rate)[~mine & (st.users == k)]))
                if a > 0 and r_min - other > 0:
                    need[1 + k] = (2.0 ** ((r_min - other) / a) - 1.0) * self.setup.noise_w / self.setup.power_w
                    need[1 + k] *= 1 + 1e-9
            x, ok = self.focus(X, i, need)
            if ok:
                X[i, :self.npas[i]] = x
        if np.array_equal(X[np.isfinite(X)], st.X[np.isfinite(st.X)]):
            return st
        new = self.state(X, st.clusters, st.users, st.tau)
        return new if new.outage <= st.outage else st

    # block 1
    def _selection(self, st: _State, a: float) -> _State:
        C, T, K = self.C, self.T, self.K
        pb = st.pb
        L = np.linalg.cholesky(pb.cov + 1e-12 * np.trace(pb.cov) / C * np.eye(C))
        g = np.nan_to_num(pb.gains[:, 0]) / pb.threshold
        r = np.log2(1.0 + np.nan_to_num(pb.snr[:, 0, :]))                     # (C,K)
        U = np.zeros((K, T))
        U[st.users, np.arange(T)] = 1.0
        fix = np.zeros(C * T)
        par = {"P": (a * g[None, None, :] * L.T[:, None, :] * L.T[None, :, :]).reshape(C * C, C, order="F"),
               "R": (r.T[:, :, None] * U[:, None, :]).reshape(K, C * T), "r_min": pb.r_min,
               "phi_min": pb.tau_min / pb.t_tot, "fix": fix}
        b0 = np.full(C * T, 1.0 / C)
        best = st
        for eta in ETA_STEPS:
            sol = self._solve_block("selection", {**par, "lin": eta * (1.0 - 2.0 * b0)})
            if sol is None:
                return st
            b0 = np.clip(sol["b"], 0.0, 1.0)
            if np.max(np.abs(b0 - np.round(b0))) < 1e-3:
                break
        # slots serving the same user are interchangeable, so the relaxation (an interior
        # point: the centre of its optimal face) splits them alike and the linearised
        # penalty keeps them alike. Fix-and-resolve: the open slots' relaxed time per
        # cluster Σ_{t open} z_{c,t} names the cluster they want most; the open slot that
        # gives it the most time takes it; re-solve; repeat until every slot is binary.
        Bm = b0.reshape(C, T)
        Zm = np.clip(sol["z"], 0.0, None).reshape(C, T)
        open_ = [t for t in range(T) if np.max(Bm[:, t]) < 1 - 1e-3]
        while open_:
            c = int(np.argmax(Zm[:, open_].sum(axis=1)))
            t = open_[int(np.argmax(Zm[c, open_]))]
            fix[c * T + t] = 1.0
            sol = self._solve_block("selection", {**par, "fix": fix, "lin": np.zeros(C * T)})
            if sol is None:
                return st
            Bm = np.clip(sol["b"], 0.0, 1.0).reshape(C, T)
            Zm = np.clip(sol["z"], 0.0, None).reshape(C, T)
            open_ = [u for u in open_ if u != t and np.max(Bm[:, u]) < 1 - 1e-3]
        clusters = np.argmax(Bm, axis=0)
        if np.array_equal(clusters, st.clusters):
            return st
        tau = np.clip(sol["phi"], pb.tau_min / pb.t_tot, 1.0)
        cand = self.state(st.X, clusters, st.users, tau / tau.sum() * pb.t_tot)
        if cand.outage < best.outage:
            best = cand
        return best

    # block 3
    def _scheduling(self, st: _State) -> _State:
        if st.tau is None and st.outage >= 1.0:
            tau = np.full(self.T, st.pb.t_tot / self.T)
        else:
            tau = st.tau
        K, T = self.K, self.T
        pb = st.pb
        r = np.log2(1.0 + pb.snr[st.clusters, 0, :]).T                        # (K,T)
        par = {"coef": r * (tau / pb.t_tot)[None], "r_min": pb.r_min}
        u0 = np.full((K, T), 1.0 / K)
        for eta in ETA_STEPS:
            u = self._solve_block("scheduling", {**par, "lin": eta * (1.0 - 2.0 * u0)})
            if u is None:
                return st
            u0 = np.clip(u, 0.0, 1.0)
            if np.max(np.abs(u0 - np.round(u0))) < 1e-3:
                break
        users = np.argmax(u0, axis=0)
        if np.array_equal(users, st.users):
            return st
        cand = self.state(st.X, st.clusters, users, st.tau)
        return cand if cand.outage <= st.outage and cand.tau is not None else st


def _from_schedule(mm: _MM, res) -> _State | None:
    """An MM state from a library schedule (``ScheduleResult``): its clusters' chosen
    positions, configuration 0 for the others."""
    if res is None or not res.usable:
        return None
    pb = res.problem
    X = mm.uniform()
    for i in range(mm.C):
        x = pb.positions[i, 0][np.isfinite(pb.positions[i, 0])]
        if x.size == mm.npas[i]:
            X[i, :x.size] = x
    for i, j in zip(res.clusters, res.configs):
        x = pb.positions[i, j][np.isfinite(pb.positions[i, j])]
        if x.size == mm.npas[i]:
            X[i, :x.size] = x
    return mm.state(X, np.asarray(res.clusters), np.asarray(res.users), np.asarray(res.tau))


def cold_start(mm: _MM) -> _State:
    """The method's own start: every cluster's PAs focused on the target (block 2 without
    rate rows, from an even spread), the T clusters of largest target gain, users round
    robin, durations from the LP/SLSQP of :func:`~twin.optim.clustered.optimise_durations`."""
    X = mm.uniform()
    for i in range(mm.C):
        X[i, :mm.npas[i]] = mm.focus(X, i, np.zeros(1 + mm.K))[0]
    pb = mm.problem(X)
    order = np.argsort(-np.nan_to_num(pb.gains[:, 0]))
    clusters = np.sort(order[:mm.T]) if mm.T <= mm.C else np.resize(order, mm.T)
    return mm.state(X, clusters, np.arange(mm.T) % mm.K)


def solve_mm(layout: PassLayout, setup: cl.ClusterSetup, users, target, *, T: int, r_min: float,
             threshold_db: float = 10.0, tau_min_frac: float = 0.05, decay: float | None = None,
             settings: MMSettings = MMSettings(), starts=(), cold: bool = True) -> cl.ScheduleResult:
    """Paper 001's alternating optimisation (module docstring) for users (K,3) and the
    target (3,). ``starts``: schedules (``ScheduleResult``) to start from as well (e.g. the
    library search's, or the same scheme's for a stricter R_min); ``cold``: also start
    from :func:`cold_start`. The AO runs from every start; the best end point is kept.
    Returns a :class:`~twin.optim.clustered.ScheduleResult` whose
    problem has one configuration per cluster (the optimised positions); history: the
    exact outage of the start, then after each AO round of the best s; info: ``s`` the
    chosen ``s Γ_th``, ``start_outage`` (the best start's outage)."""
    t0 = time.perf_counter()
    mm = _MM(layout, setup, users, target, T, r_min, threshold_db, tau_min_frac, decay, settings)
    cands = ([cold_start(mm)] if cold else []) + [s for s in (_from_schedule(mm, r) for r in starts) if s]
    if not cands:
        raise ValueError("solve_mm needs cold=True or at least one start")
    start = min(cands, key=lambda s: s.outage)
    best, best_hist, best_a, rounds = start, [start.outage], None, 0
    for first in cands:                  # the AO from every start: a worse start may lead elsewhere
        for a in settings.s_grid:
            st = first
            hist = [st.outage]
            for it in range(settings.ao_iters):
                prev = st.outage
                st = mm.selection(st, a)
                if st.tau is not None:
                    st = mm.positions(st)
                st = mm.scheduling(st)
                hist.append(st.outage)
                rounds += 1
                if st.tau is not None and st.outage >= prev * (1 - 1e-6) and it > 0:
                    break
            if st.outage < best.outage or (best.tau is None and st.tau is not None):
                best, best_hist, best_a = st, hist, a
    wall = time.perf_counter() - t0
    if best.tau is None:
        res = cl._infeasible(best.pb, best.users, t0)
        return cl.ScheduleResult(res.solution, 1.0, rounds, wall, Status.INFEASIBLE, tuple(best_hist),
                                 {"detail": "no schedule found that meets the average-rate targets"})
    res = cl._finish(best.pb, best.clusters, np.zeros(mm.T, int), best.users, best.tau, t0, best_hist,
                     Status.OK, rounds)
    info = {"s": float(best_a) if best_a is not None else float("nan"), "start_outage": float(start.outage)}
    return cl.ScheduleResult(res.solution, res.objective, rounds, wall, Status.OK, tuple(best_hist), info)


# --- exhaustive reference on a fine position grid --------------------------------------
def pareto_grid_problem(layout: PassLayout, setup: cl.ClusterSetup, users, target, *, step: float, T: int,
                        r_min: float, threshold_db: float = 10.0, tau_min_frac: float = 0.05,
                        decay: float | None = None, max_tuples: int = 2_000_000) -> cl.ClusterProblem:
    """Every legal tuple of each cluster's PA coordinates on a grid of ``step`` inside its
    segment (order, spacing δ; MODEL §1), pruned to the tuples not dominated in (target
    gain, each user's gain): the configurations of an exhaustive reference
    (:func:`twin.optim.clustered.exhaustive_schedule`). Small clusters only."""
    dep = layout.deployment
    users = np.atleast_2d(np.asarray(users, float))
    q = np.asarray(target, float)
    pts = np.vstack([q[None], users])
    fronts = []
    for n, bnds in enumerate(dep.cluster_bounds):
        for c, (lo, hi) in enumerate(bnds):
            k = int(np.sum(dep.cluster[n] == c))
            grid = np.append(np.arange(lo, hi, step), hi)
            rho = 1.0 / np.sqrt(k)
            terms = layout.guide_terms(n, grid, pts, rho)
            tuples = [tp for tp in itertools.combinations(range(len(grid)), k)
                      if np.all(np.diff(grid[list(tp)]) >= dep.spacing[n] - 1e-12)]
            if len(tuples) > max_tuples:
                raise ValueError(f"{len(tuples)} position tuples in cluster {c}: use a coarser step")
            idx = np.array(tuples)
            g = np.abs(terms[idx].sum(axis=1)) ** 2                               # (n_tuples, P)
            fronts.append(grid[idx[_pareto(g)]])
    J = max(len(f) for f in fronts)
    npas = max(f.shape[1] for f in fronts)
    pos = np.full((len(fronts), J, npas), np.nan)
    for i, f in enumerate(fronts):
        pos[i, :len(f), :f.shape[1]] = f
    return cl.problem_from_positions(layout, setup, users, q, pos, T=T, r_min=r_min, threshold_db=threshold_db,
                                     tau_min_frac=tau_min_frac, decay=decay)


def _pareto(g: np.ndarray) -> np.ndarray:
    """Indices of the rows of g (n,P) not dominated (≥ everywhere, > somewhere) by another."""
    order = np.argsort(-g[:, 0], kind="stable")
    keep = []
    for i in order:
        if keep and np.any(np.all(g[keep] >= g[i], axis=1)):
            continue
        keep.append(i)
    return np.array(keep, int)

