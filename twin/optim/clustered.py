"""Clustered sensing-outage minimisation (paper 001 §III-IV; MODEL §3.4, §4.5).

Per frame of T slots choose, for every slot t, the active cluster c_t, the configuration
(PA positions) of that cluster, the scheduled user k_t and the duration τ_t
(``Σ τ_t = T_tot``, ``τ_t ≥ τ_min``), minimising the exact sensing outage
``Pr(ξᴴ diag(w) ξ < Γ_th)``, ``w_c = Σ_{t: c_t=c} (τ_t/T_tot) g_c``, subject to every
user's average rate ``R̄_k ≥ R_min``.

Method (an alternative to the paper's Chernoff/MM/penalty AO, on the exact objective):

1. **Configurations** per cluster by element-wise search over a fine grid inside the
   cluster segment (λ/16 steps): the target-focused one (max |h_t|²), one focused on each
   user, and one per user balancing target and user (max |h_t|²/max|h_t|² +
   |h_k|²/max|h_k|²). A cluster keeps one configuration for the whole frame (its PAs
   cannot be in two places).
2. **Schedule** by alternating optimisation: (i) slot by slot, every (cluster,
   configuration, user) option is scored with the durations fixed — exact outage of the
   resulting weights, rate-feasible options only — and the best kept; (ii) the durations
   are re-optimised (SLSQP on the log of the exact outage, linear rate and time
   constraints). Sweeps repeat until no slot changes. The start is the best of a
   diversity-greedy schedule and the target-only one.

With ``distinct`` (scene ``simulation.distinct_clusters``) every slot uses a different
cluster; τ_min is the scene's ``simulation.min_slot_s`` (default 5 % of the frame).

Doing less for the same answers (issue 13, docs/performance.md "clustered-outage"): the
outage of a weight vector and the durations of a schedule are memoised per problem; a
slot's options are scored once per (cluster, configuration) — the user does not change the
weights — in one batch; SLSQP's finite differences run as one batch; and
:class:`FrameMemo` returns a frame's decision again when its inputs repeat.

The tests compare it with exhaustive search on small instances; the outage is always
reported exactly, whatever was optimised (MODEL §4.5).

Inputs are a :class:`~twin.optim.layout.PassLayout` (the clustered deployment and its
floor plan) and a :class:`ClusterSetup` of plain values (``twin.problems.cluster_setup``
builds one from a scene's World); every solver returns a :class:`ScheduleResult`."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize

from twin.optim import drop_memo
from twin.optim.layout import PassLayout
from twin.optim.legal import LegalSet
from twin.optim.result import OptResult, Status
from twin.optim.search1d import coordinate_search
from twin.physics.channel import free_space_gain
from twin.physics.clusters import look_angles
from twin.physics.outage import cdf_rows, outage_eigenvalues, outage_probability, rcs_covariance
from twin.physics.sensing import radar_gain
from twin.units import db_to_lin, wavelength


@dataclass(frozen=True)
class ClusterSetup:
    """Plain values the paper-001 problem needs besides the geometry (MODEL §3.4):
    t_tot frame length (s); rcs_mean σ̄ (m²) and decay ϱ (1/rad) of the RCS covariance;
    the sensing receiver's position (3,) and element count M_r; BS power P, user noise
    σ0² and sensing noise σ_s² (W)."""

    t_tot: float
    rcs_mean: float
    decay: float
    rx_position: np.ndarray
    rx_elements: int
    power_w: float
    noise_w: float
    sensing_noise_w: float
    #: every slot of a frame activates a different cluster (scene
    #: ``simulation.distinct_clusters``; paper 001's "more slots, more look angles")
    distinct_clusters: bool = False
    #: shortest slot τ_min as a fraction of t_tot (paper 001 C3; scene ``simulation.min_slot_s``)
    tau_min_frac: float = 0.05

    def gain_scale(self, target) -> float:
        """``g/|h_t|²`` for this target (MODEL §3.4, :func:`radar_gain`)."""
        return radar_gain(1.0, target, self.rx_position, self.rx_elements, self.power_w,
                          self.sensing_noise_w)


@dataclass(frozen=True)
class ClusterProblem:
    """Everything the schedule search needs, as arrays.

    gains (C,J) sensing gains g of cluster c in configuration j (NaN: no such config);
    snr (C,J,K) user SNRs; positions (C,J,Nc) along-guide coordinates of each config;
    cov (C,C) RCS covariance; T slots; t_tot, tau_min seconds; r_min bit/s/Hz;
    threshold Γ_th (linear); distinct: every slot a different cluster (T ≤ C)."""

    gains: np.ndarray
    snr: np.ndarray
    positions: np.ndarray
    cov: np.ndarray
    T: int
    t_tot: float
    tau_min: float
    r_min: float
    threshold: float
    config_names: tuple = ()
    distinct: bool = False
    #: memo of this problem's pure functions (outage of a weight vector, optimised
    #: durations of a schedule): the search asks for the same values many times
    cache: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Schedule:
    """A frame's decision: clusters, configs, users (T,) ints; tau (T,) seconds; outage
    exact, Chernoff bound; rates (K,) average rates; problem: the :class:`ClusterProblem`
    it solves (its ``positions`` give each cluster configuration's PA coordinates)."""

    clusters: np.ndarray
    configs: np.ndarray
    users: np.ndarray
    tau: np.ndarray
    outage: float
    chernoff: float
    rates: np.ndarray
    problem: ClusterProblem | None = None


@dataclass(frozen=True)
class ScheduleResult(OptResult):
    """:class:`OptResult` of a schedule search: solution :class:`Schedule`; objective the
    exact outage; iterations the sweeps; history the objective after each sweep; status
    ``ok``, ``iteration-limit`` (sweeps ran out, the schedule is feasible) or
    ``infeasible`` (no schedule meets the rate targets; outage 1)."""

    @property
    def clusters(self):
        return self.solution.clusters

    @property
    def configs(self):
        return self.solution.configs

    @property
    def users(self):
        return self.solution.users

    @property
    def tau(self):
        return self.solution.tau

    @property
    def outage(self) -> float:
        return self.solution.outage

    @property
    def chernoff(self) -> float:
        return self.solution.chernoff

    @property
    def rates(self):
        return self.solution.rates

    @property
    def problem(self) -> ClusterProblem | None:
        return self.solution.problem


def _tau_min(setup: ClusterSetup, frac: float | None, t_tot: float) -> float:
    """τ_min in seconds: ``frac`` of t_tot, or the setup's (the scene's) when None."""
    return (setup.tau_min_frac if frac is None else float(frac)) * t_tot


# --- intra-cluster beamforming --------------------------------------------------------
@dataclass(frozen=True)
class FocusedPositions:
    """x (npas,) along-guide coordinates of one cluster's PAs; h2 (P,) the array gains
    ``|h_i|²`` they give towards each point."""

    x: np.ndarray
    h2: np.ndarray


@dataclass(frozen=True)
class FocusResult(OptResult):
    """:class:`OptResult` of :func:`focus_positions`: solution :class:`FocusedPositions`,
    objective ``Σ_i ω_i |h_i|²``; iterations the sweeps. Unpacks as ``(x, h2)``."""

    @property
    def x(self) -> np.ndarray:
        return self.solution.x

    @property
    def h2(self) -> np.ndarray:
        return self.solution.h2

    def __iter__(self):
        return iter((self.solution.x, self.solution.h2))


def focus_positions(layout: PassLayout, n, lo, hi, npas, points, weights, spacing, rho, x0=None,
                    sweeps: int = 6, points_per_cluster: int = 0):
    """Element-wise maximisation of ``Σ_i ω_i |h_i|²`` over the positions of ``npas`` PAs
    in [lo, hi] (spacing ≥ δ) on the shared 1-D search: each PA scans a grid of
    ``points_per_cluster`` candidates over the segment (0: a λ/16 grid), all candidates at
    once. Returns a :class:`FocusResult` (unpacks as ``x, h2``). Geometry only: inside
    :func:`twin.optim.drop_memo.shared` (a figure drop) a repeat is not recomputed."""
    args = (n, float(lo), float(hi), int(npas), np.asarray(points, float), np.asarray(weights, float),
            float(spacing), float(rho), None if x0 is None else np.asarray(x0, float), int(sweeps),
            int(points_per_cluster))
    return drop_memo.memo("focus_positions", layout, args, lambda: _focus_positions(
        layout, n, lo, hi, npas, points, weights, spacing, rho, x0, sweeps, points_per_cluster))


def _focus_positions(layout, n, lo, hi, npas, points, weights, spacing, rho, x0, sweeps, points_per_cluster):
    grid = (np.linspace(lo, hi, int(points_per_cluster)) if points_per_cluster
            else np.arange(lo, hi + 1e-12, wavelength(layout.fc) / 16.0))
    x = (np.asarray(x0, float) if x0 is not None
         else lo + (hi - lo) * (np.arange(npas) + 0.5) / npas)
    T_all = layout.guide_terms(n, grid, points, rho)                        # (G,P)
    idx = np.array([int(np.argmin(np.abs(grid - v))) for v in x])
    w = np.asarray(weights, float)
    st = {"h": T_all[idx].sum(axis=0), "sel": None}

    def candidates(_n, m, lo_m, hi_m, _x):
        st["sel"] = np.flatnonzero((grid >= lo_m - 1e-12) & (grid <= hi_m + 1e-12))
        return grid[st["sel"]]

    def score(_n, m, cand):
        hc = st["h"][None] - T_all[idx[m]][None] + T_all                    # (G,P)
        return ((np.abs(hc) ** 2) @ w)[st["sel"]], hc

    def on_move(_n, m, _x, hc, j):
        idx[m] = st["sel"][j]
        st["h"] = hc[idx[m]]

    res = coordinate_search(grid[idx][None], LegalSet.segment(lo, hi, npas, spacing), score,
                            candidates=candidates, on_move=on_move,
                            objective=lambda _s: float((np.abs(st["h"]) ** 2) @ w),
                            start=float((np.abs(st["h"]) ** 2) @ w), sense="max", move="improve",
                            rtol=1e-12, eps=0.0, max_sweeps=sweeps)
    return FocusResult(FocusedPositions(res.solution[0], np.abs(st["h"]) ** 2), res.objective, res.iterations,
                       res.wall_time_s, res.status, res.history, res.info)


def build_problem(layout: PassLayout, setup: ClusterSetup, users, target, *, T: int, r_min: float, threshold_db: float = 10.0,
                  tau_min_frac: float | None = None, decay: float | None = None, beamforming: bool = True,
                  pas_per_cluster: int | None = None, points_per_cluster: int = 0) -> ClusterProblem:
    """Options of every cluster (MODEL §3.4 gains) for users (K,3) and the target (3,).

    ``beamforming=False``: one configuration, the PAs evenly spread in their segment (the
    "no intra-cluster beamforming" variant of paper 001 Fig. 6); ``pas_per_cluster=1``:
    baseline 4 (one PA per cluster, its position still optimised); ``points_per_cluster``:
    candidate positions per cluster segment of the focusing search (0: a λ/16 grid)."""
    dep = layout.deployment
    fkw = {"points_per_cluster": int(points_per_cluster)}
    users = np.atleast_2d(np.asarray(users, float))
    q = np.asarray(target, float)
    K = len(users)
    pts = np.vstack([q[None], users])                                       # target first
    clusters = [(n, c, lo, hi) for n, b in enumerate(dep.cluster_bounds) for c, (lo, hi) in enumerate(b)]
    C = len(clusters)
    names = ["target"] + [f"user{k}" for k in range(K)] + [f"mix{k}" for k in range(K)] if beamforming else ["fixed"]
    J = len(names)
    nc_max = max(int(np.sum(dep.cluster[n] == c)) for n, c, _, _ in clusters)
    npas_all = [pas_per_cluster or int(np.sum(dep.cluster[n] == c)) for n, c, _, _ in clusters]
    gains = np.full((C, J), np.nan)
    snr = np.full((C, J, K), np.nan)
    positions = np.full((C, J, nc_max), np.nan)
    g_scale = setup.gain_scale(q)
    for i, (n, c, lo, hi) in enumerate(clusters):
        npas = npas_all[i]
        rho = 1.0 / np.sqrt(npas)
        if not beamforming:
            x = lo + (hi - lo) * (np.arange(npas) + 0.5) / npas
            h2 = np.abs(layout.guide_terms(n, x, pts, rho).sum(axis=0)) ** 2
            configs = [(x, h2)]
        else:
            xt, h2t = focus_positions(layout, n, lo, hi, npas, pts, np.r_[1.0, np.zeros(K)], dep.spacing[n], rho,
                                      **fkw)
            configs = [(xt, h2t)]
            user_cfg = []
            for k in range(K):
                wk = np.zeros(K + 1)
                wk[k + 1] = 1.0
                user_cfg.append(tuple(focus_positions(layout, n, lo, hi, npas, pts, wk, dep.spacing[n], rho, **fkw)))
            configs += user_cfg
            for k in range(K):
                wk = np.zeros(K + 1)
                wk[0] = 1.0 / max(h2t[0], 1e-300)
                wk[k + 1] = 1.0 / max(user_cfg[k][1][k + 1], 1e-300)
                configs.append(tuple(focus_positions(layout, n, lo, hi, npas, pts, wk, dep.spacing[n], rho, x0=xt,
                                                     **fkw)))
        for j, (x, h2) in enumerate(configs):
            gains[i, j] = g_scale * h2[0]
            snr[i, j] = setup.power_w * h2[1:] / setup.noise_w
            positions[i, j, :npas] = x
    rho_decay = setup.decay if decay is None else float(decay)
    cov = rcs_covariance(look_angles(dep, q), setup.rcs_mean, rho_decay)
    t_tot = setup.t_tot
    return ClusterProblem(gains, snr, positions, cov, int(T), t_tot, _tau_min(setup, tau_min_frac, t_tot), float(r_min),
                          float(db_to_lin(threshold_db)), tuple(names),
                          setup.distinct_clusters)


# --- schedule evaluation -------------------------------------------------------------
def schedule_weights(pb, clusters, configs, tau):
    """Cluster weights ``w_c = Σ_{t: c_t=c} (τ_t/T_tot) g_c`` (C,) of a schedule (MODEL §3.4)."""
    w = np.zeros(pb.gains.shape[0])
    np.add.at(w, clusters, tau / pb.t_tot * pb.gains[clusters, configs])
    return w


def _rate_terms(pb, clusters, configs, users):
    """(T,) spectral efficiency of each slot for its scheduled user."""
    return np.log2(1.0 + pb.snr[clusters, configs, users])


def average_rates(pb, clusters, configs, users, tau):
    K = pb.snr.shape[2]
    r = np.zeros(K)
    np.add.at(r, users, tau / pb.t_tot * _rate_terms(pb, clusters, configs, users))
    return r


def _outage(pb, w, objective: str = "exact"):
    """The objective: the exact outage; ``"chernoff"``, the paper's optimised Chernoff bound
    (eq. 25, minimum over s > 0); ``"chernoff-gridN"``, the bound minimised over a grid of
    N values of s (log-spaced over [1e-3, 1e3]/Γ_th), as the paper's outer search.

    Memoised per problem on the weight vector's bytes (a pure function of it), and
    computed on the clusters with a positive weight only: the others add zero
    eigenvalues, which drop out (MODEL §3.4), so a schedule of T ≤ C slots needs a T×T
    eigenproblem instead of a C×C one."""
    key = (objective, w.tobytes())
    hit = pb.cache.get(key)
    if hit is not None:
        return hit
    on = np.flatnonzero(w > 0)
    ws, cov = w[on], pb.cov[np.ix_(on, on)]
    if objective == "exact":
        val = outage_probability(ws, cov, pb.threshold)
    elif objective.startswith("chernoff-grid"):
        lam = outage_eigenvalues(ws, cov)
        s_vals = np.logspace(-3, 3, int(objective[len("chernoff-grid"):])) / pb.threshold
        logb = s_vals * pb.threshold - np.sum(np.log1p(np.outer(s_vals, lam)), axis=1)
        val = float(min(1.0, np.exp(logb.min())))
    else:
        val = outage_probability(ws, cov, pb.threshold, method="chernoff")
    pb.cache[key] = val
    return val


def _outages(pb, W, objective: str = "exact"):
    """:func:`_outage` of every row of ``W`` (B,C) at once (same memo). Exact outages of
    rows with the same support are batched: one batched eigenproblem and one batched
    :func:`~twin.physics.outage.cdf_rows`; rows whose eigenvalues need the scalar routine's filtering (a
    singular covariance, e.g. full correlation) and the surrogates go one by one."""
    W = np.asarray(W, float)
    out = np.empty(len(W))
    todo = {}
    for b, w in enumerate(W):
        hit = pb.cache.get((objective, w.tobytes()))
        if hit is not None:
            out[b] = hit
        elif objective != "exact":
            out[b] = _outage(pb, w, objective)
        else:
            todo.setdefault((w > 0).tobytes(), []).append(b)
    for rows in todo.values():
        rows = np.asarray(rows)
        on = np.flatnonzero(W[rows[0]] > 0)
        if on.size == 0:
            for b in rows:
                out[b] = _outage(pb, W[b], objective)
            continue
        fill_outages(pb, W, rows, np.sqrt(W[np.ix_(rows, on)]), pb.cov[np.ix_(on, on)][None], objective, out)
    return out


def fill_outages(pb, W, rows, sw, cov, objective, out, cdf=None):
    """``out[b]`` = exact outage of weight rows ``W[rows]`` whose supports give square-root
    weights ``sw`` (B,n) and covariance blocks ``cov`` ((B or 1),n,n): the eigenvalues of
    Σ^{1/2} D Σ^{1/2} (MODEL §3.4) in one batch, the batch CDF (``cdf``, default
    :func:`~twin.physics.outage.cdf_rows`) where they are well conditioned, the scalar routine elsewhere;
    results memoised in ``pb.cache``."""
    lam = np.linalg.eigvalsh(sw[:, :, None] * cov * sw[:, None, :])
    good = lam.min(axis=1) > 1e-12 * lam.max(axis=1)
    if good.any():
        vals = (cdf or cdf_rows)(np.sort(lam[good], axis=1), float(pb.threshold))
        for b, v in zip(rows[good], vals):
            out[b] = pb.cache[(objective, W[b].tobytes())] = float(v)
    for b in rows[~good]:
        out[b] = _outage(pb, W[b], objective)


def _feasible(pb, clusters, configs, users, tau, tol=1e-9):
    return bool(np.all(average_rates(pb, clusters, configs, users, tau) >= pb.r_min * (1 - tol) - 1e-12))


def optimise_durations(pb, clusters, configs, users, tau0=None, objective: str = "exact"):
    """Durations minimising the exact outage s.t. rates and time (SLSQP on log outage,
    from τ0 and from a rate-feasible LP point). Returns (tau, outage) or (None, 1.0).
    Memoised per problem on (schedule, τ0, objective): a deterministic function of them."""
    key = ("tau", objective) + _schedule_key(clusters, configs, users) + (
        None if tau0 is None else np.asarray(tau0, float).tobytes(),)
    hit = pb.cache.get(key)
    if hit is None:
        hit = pb.cache[key] = _optimise_durations(pb, clusters, configs, users, tau0, objective)
    tau, p = hit
    return (None if tau is None else tau.copy()), p


def _schedule_key(clusters, configs, users) -> tuple:
    """A schedule's part of the keys of ``pb.cache`` (its slots' clusters, configurations
    and users, with the slot count: arrays of other lengths never share bytes)."""
    clusters = np.asarray(clusters)
    return (clusters.size, clusters.tobytes(), np.asarray(configs).tobytes(), np.asarray(users).tobytes())


def _duration_fns(pb, clusters, configs, A_rate, objective, outages=None):
    """SLSQP's pieces for the durations of a schedule: f(τ) = log outage, its forward-
    difference gradient (one batch of T shifted schedules) and the time and rate
    constraints (``A_rate`` (K,T)) with exact Jacobians. ``outages``: a batch routine
    used for f too (default: :func:`_outage` for f, :func:`_outages` for the gradient)."""
    T = len(clusters)
    one = (lambda w: _outage(pb, w, objective)) if outages is None else (lambda w: outages(pb, w[None], objective)[0])
    outages = _outages if outages is None else outages

    def f(tau):
        return np.log(max(one(schedule_weights(pb, clusters, configs, tau)), 1e-300))

    step = np.sqrt(np.finfo(float).eps)

    def jac(tau):
        """Forward differences as SLSQP's own (same steps, turned backwards at the upper
        bound), the T shifted schedules' outages in one batch."""
        h = step * np.where(tau >= 0, 1.0, -1.0) * np.maximum(1.0, np.abs(tau))
        h = np.where(tau + h > pb.t_tot, -h, h)
        shifted = tau[None] + np.diag(h)
        h = shifted[np.arange(T), np.arange(T)] - tau
        W = np.array([schedule_weights(pb, clusters, configs, x) for x in np.vstack([tau[None], shifted])])
        logp = np.log(np.maximum(outages(pb, W, objective), 1e-300))
        return (logp[1:] - logp[0]) / h

    cons = [{"type": "eq", "fun": lambda t: np.sum(t) - pb.t_tot, "jac": lambda t: np.ones((1, T))},
            {"type": "ineq", "fun": lambda t: A_rate @ t - pb.r_min, "jac": lambda t: A_rate}]
    return f, jac, cons


#: rate margin (bit/s/Hz) by which :func:`surely_rate_infeasible` must miss R_min
INFEASIBLE_MARGIN = 1e-6


def surely_rate_infeasible(pb, users, r, margin: float = INFEASIBLE_MARGIN) -> bool:
    """Whether no durations give every user R_min − ``margin`` with the slot rates r (T,)
    (slot t serves ``users[t]``; τ_min ≤ τ_t, Σ τ_t = T_tot): then the feasibility LP of
    :func:`_optimise_durations` (maximise the smallest rate margin) has its optimum below
    −margin, and the schedule is rate-infeasible without solving it.

    Exact, in closed form (MODEL §4.5): a user's rate Σ_{t∈S_k} (r_t/T_tot) τ_t depends
    only on its own slots, so the least time that gives it R' beyond the τ_min floor is
    its shortfall (R' − τ_min Σ_{S_k} r_t/T_tot)⁺ over its best slot's r_t/T_tot; the
    targets are reachable iff these times fit in T_tot − T τ_min (a user with no slot, or
    with zero rate, cannot be served). ``margin`` keeps the answer clear of the LP
    solver's tolerances: only schedules that miss by more are reported, the others go to
    the LP as before, so the outcome (None, outage 1) is the LP's."""
    need = pb.r_min - margin
    r = np.asarray(r, float)
    if need <= 0 or not np.all(np.isfinite(r)):
        return False
    T = len(r)
    a = r / pb.t_tot
    budget = pb.t_tot - T * pb.tau_min
    total = 0.0
    for k in range(pb.snr.shape[2]):
        mine = users == k
        if not mine.any():
            return True
        short = need - pb.tau_min * float(np.sum(a[mine]))
        if short > 0:
            best = float(np.max(a[mine]))
            if best <= 0:
                return True
            total += short / best
    return total > budget * (1 + 1e-9)


def _optimise_durations(pb, clusters, configs, users, tau0, objective):
    T = len(clusters)
    r = _rate_terms(pb, clusters, configs, users)
    K = pb.snr.shape[2]
    if surely_rate_infeasible(pb, np.asarray(users), r):      # the LP below would say so
        return None, 1.0
    A_rate = np.zeros((K, T))
    A_rate[users, np.arange(T)] = r / pb.t_tot
    sched = _schedule_key(clusters, configs, users)
    lp_x = _margin_lp(pb, sched, A_rate)
    if lp_x is None:
        return None, 1.0
    starts = [lp_x]
    if tau0 is not None and _feasible(pb, clusters, configs, users, tau0):
        starts.append(np.asarray(tau0, float))
    eq = np.full(T, pb.t_tot / T)
    if np.all(eq >= pb.tau_min) and _feasible(pb, clusters, configs, users, eq):
        starts.append(eq)

    f, jac, cons = _duration_fns(pb, clusters, configs, A_rate, objective)
    best_tau, best = None, np.inf
    for t0 in starts:
        val0 = f(t0)
        if val0 < best:
            best_tau, best = t0, val0
        key = ("slsqp", objective) + sched + (t0.tobytes(),)
        x = pb.cache.get(key)
        if x is None:
            x = pb.cache[key] = scipy.optimize.minimize(
                f, t0, method="SLSQP", jac=jac, bounds=[(pb.tau_min, pb.t_tot)] * T, constraints=cons,
                options={"maxiter": 60, "ftol": 1e-10}).x
        t = np.clip(x, pb.tau_min, pb.t_tot)
        t = t * pb.t_tot / t.sum()
        if _feasible(pb, clusters, configs, users, t) and np.all(t >= pb.tau_min * (1 - 1e-9)) and f(t) < best:
            best_tau, best = t, f(t)
    return best_tau, float(np.exp(best))


def _margin_lp(pb, sched: tuple, A_rate):
    """The rate-feasible start of :func:`_optimise_durations`: durations maximising the
    smallest rate margin (an LP, HiGHS), or None when the margin is negative (no
    durations meet R_min). It depends on the schedule alone, not on the durations the
    caller starts from, so it is kept per problem on the schedule's bytes ``sched``
    (a fifth of the LPs of a ``paper001-power`` drop re-posed one already solved)."""
    key = ("margin-lp",) + sched
    if key in pb.cache:
        return pb.cache[key]
    K, T = A_rate.shape
    c = np.zeros(T + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-A_rate, np.ones((K, 1))])
    b_ub = -np.full(K, pb.r_min)
    A_eq = np.hstack([np.ones((1, T)), np.zeros((1, 1))])
    lp = scipy.optimize.linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=[pb.t_tot],
                                bounds=[(pb.tau_min, pb.t_tot)] * T + [(None, None)], method="highs")
    x = None
    if lp.status == 0 and lp.x[-1] >= -1e-9:
        x = lp.x[:T].copy()
        x.flags.writeable = False                 # shared by every later call for the schedule
    pb.cache[key] = x
    return x


def _finish(pb, clusters, configs, users, tau, t0, history, status=Status.OK, sweeps=0):
    w = schedule_weights(pb, clusters, configs, tau)
    out = _outage(pb, w)
    sch = Schedule(np.asarray(clusters), np.asarray(configs), np.asarray(users), np.asarray(tau),
                   out, outage_probability(w, pb.cov, pb.threshold, method="chernoff"),
                   average_rates(pb, clusters, configs, users, tau), pb)
    info = {} if status is Status.OK else {"detail": f"sweep limit reached ({sweeps})"}
    return ScheduleResult(sch, out, sweeps, time.perf_counter() - t0, status, tuple(history), info)


def _infeasible(pb, users, t0) -> ScheduleResult:
    T, K = pb.T, pb.snr.shape[2]
    sch = Schedule(np.zeros(T, int), np.zeros(T, int), users, np.full(T, pb.t_tot / T), 1.0, 1.0,
                   np.zeros(K), pb)
    return ScheduleResult(sch, 1.0, 0, time.perf_counter() - t0, Status.INFEASIBLE, (),
                          {"detail": "no schedule meets the average-rate targets"})


def _slot_moves(pb, pairs, us, t, tau):
    """The rate-feasible moves of slot t, as the search's loop listed them: for each
    (clusters, configs) of ``pairs`` in order, slot t serving user 0, 1, …; returns their
    clusters, configs, users (B,T) and weights (B,C). All moves at once with the arithmetic
    of :func:`average_rates` / :func:`_feasible` and :func:`schedule_weights` (the same
    products, each sum accumulated slot by slot as ``np.add.at`` does): the same floats."""
    K = pb.snr.shape[2]
    T = len(us)
    CL = np.repeat(np.array([a for a, _ in pairs]), K, axis=0)
    CF = np.repeat(np.array([b for _, b in pairs]), K, axis=0)
    US = np.repeat(np.asarray(us)[None], len(CL), axis=0)
    US[:, t] = np.tile(np.arange(K), len(pairs))
    rows = np.arange(len(CL))
    frac = tau / pb.t_tot
    terms = frac[None] * np.log2(1.0 + pb.snr[CL, CF, US])
    R = np.zeros((len(CL), K))
    for s in range(T):
        R[rows, US[:, s]] += terms[:, s]
    ok = np.all(R >= pb.r_min * (1 - 1e-9) - 1e-12, axis=1)
    CL, CF, US = CL[ok], CF[ok], US[ok]
    wt = frac[None] * pb.gains[CL, CF]
    W = np.zeros((len(CL), pb.gains.shape[0]))
    rows = np.arange(len(CL))
    for s in range(T):
        W[rows, CL[:, s]] += wt[:, s]
    return CL, CF, US, W


def solve_schedule(pb: ClusterProblem, *, same_cluster: bool = False, equal_durations: bool = False,
                   max_sweeps: int = 6, starts=(), objective: str = "exact",
                   distinct_clusters: bool | None = None) -> ScheduleResult:
    """Alternating optimisation of the slot options and durations (module docstring).
    ``same_cluster``: baseline 2 (one cluster in every slot); ``equal_durations``:
    baseline 3 (τ_t = T_tot/T); ``starts``: extra starting schedules (e.g. the baselines'
    solutions, whose feasible sets are subsets of this one's, so the result is never worse
    than theirs); ``objective``: "exact" (default) or "chernoff" (the paper's surrogate,
    kept to compare); ``distinct_clusters``: every slot a different cluster (None: the
    problem's ``distinct``). Infeasible rate targets give ``status="infeasible"``."""
    t0 = time.perf_counter()
    C, J, K = pb.snr.shape
    T = pb.T
    valid = np.isfinite(pb.gains)
    eq_tau = np.full(T, pb.t_tot / T)

    def durations(cl, cf, us, tau):
        if equal_durations:
            return (eq_tau, _outage(pb, schedule_weights(pb, cl, cf, eq_tau), objective)) \
                if _feasible(pb, cl, cf, us, eq_tau) else (None, 1.0)
        return optimise_durations(pb, cl, cf, us, tau, objective)

    distinct = (pb.distinct if distinct_clusters is None else bool(distinct_clusters)) and not same_cluster
    if distinct and T > C:
        raise ValueError(f"distinct clusters per slot need T ≤ C; got T = {T} slots for C = {C} clusters")

    def consistent(cl, cf):
        """Distinct clusters per slot, or else one configuration per cluster."""
        if distinct:
            return len(set(cl.tolist())) == T
        first = {}
        for c, f in zip(cl.tolist(), cf.tolist()):
            if first.setdefault(c, f) != f:
                return False
        return True

    extra = list(starts)
    # starts: clusters spread for diversity (top gains, look angles apart) or all on the best
    order = np.argsort(-np.nanmax(pb.gains, axis=1))
    users_rr = np.arange(T) % K
    mix = {k: (pb.config_names.index(f"mix{k}") if f"mix{k}" in pb.config_names else 0) for k in range(K)}
    starts = []
    if same_cluster:
        for c in order[:3]:
            starts.append((np.full(T, c), np.array([mix[users_rr[0]]] * T), users_rr.copy()))
    else:
        spread = np.sort(order[:T]) if T <= C else np.resize(order, T)
        starts.append((spread.copy(), np.array([mix[k] for k in users_rr]), users_rr.copy()))
        starts.append((np.resize(order, T), np.zeros(T, int), users_rr.copy()))
    starts = list(starts) + [(np.asarray(x.clusters), np.asarray(x.configs), np.asarray(x.users))
                             for x in extra if x.status == "ok"]
    best = None
    for cl, cf, us in starts:
        if not consistent(cl, cf):
            cf = np.full(T, cf[0])
        if not consistent(cl, cf):
            continue
        tau, p = durations(cl, cf, us, None)
        if tau is not None and (best is None or p < best[4]):
            best = (cl.copy(), cf.copy(), us.copy(), tau, p)
    if best is None:                               # repair: user-focused configs everywhere
        for c in order[:max(3, C)]:
            for cfg in range(J):
                cl = np.full(T, c) if same_cluster else np.resize(order, T)
                cf = np.full(T, cfg)
                tau, p = durations(cl, cf, users_rr, None)
                if tau is not None and (best is None or p < best[4]):
                    best = (cl, cf, users_rr.copy(), tau, p)
            if best is not None:
                break
    if best is None:
        return _infeasible(pb, users_rr, t0)
    cl, cf, us, tau, p = best
    history = [p]
    status, sweeps = Status.ITERATION_LIMIT, 0
    for sweeps in range(1, max_sweeps + 1):
        improved = False
        for t in range(T):
            pairs = []
            cluster_set = [cl[0]] if same_cluster else range(C)
            for c in cluster_set:
                for j in range(J):
                    if not valid[c, j]:
                        continue
                    cl2, cf2 = cl.copy(), cf.copy()
                    if same_cluster:
                        cf2[:] = j
                    cl2[t], cf2[t] = c, j
                    if consistent(cl2, cf2):
                        pairs.append((cl2, cf2))
            if not pairs:
                continue
            # every user k of slot t per pair (the weights, so the outage, do not depend on it)
            CL, CF, US, W = _slot_moves(pb, pairs, us, t, tau)
            if not len(CL):
                continue
            vals = _outages(pb, W, objective)
            i = int(np.argmin(vals))                 # the first of equal minima, as min() did
            val, cl2, cf2, us2 = vals[i], CL[i].copy(), CF[i].copy(), US[i].copy()
            if val < p * (1 - 1e-9):
                cl, cf, us, p = cl2, cf2, us2, val
                improved = True
        tau2, p2 = durations(cl, cf, us, tau)
        if tau2 is not None and p2 < p:
            tau, p = tau2, p2
            improved = True
        history.append(p)
        if not improved:
            status = Status.OK
            break
    return _finish(pb, cl, cf, us, tau, t0, history, status, sweeps)


def exhaustive_schedule(pb: ClusterProblem, equal_durations: bool = False) -> ScheduleResult:
    """Reference for small instances: every multiset of T (cluster, configuration, user)
    options (one configuration per cluster), durations optimised for each."""
    t0 = time.perf_counter()
    C, J, K = pb.snr.shape
    opts = [(c, j, k) for c in range(C) for j in range(J) if np.isfinite(pb.gains[c, j]) for k in range(K)]
    best = None
    for combo in itertools.combinations_with_replacement(range(len(opts)), pb.T):
        cl = np.array([opts[i][0] for i in combo])
        cf = np.array([opts[i][1] for i in combo])
        us = np.array([opts[i][2] for i in combo])
        if any(len(set(cf[cl == c].tolist())) > 1 for c in set(cl.tolist())):
            continue
        if pb.distinct and len(set(cl.tolist())) < pb.T:
            continue
        if equal_durations:
            tau = np.full(pb.T, pb.t_tot / pb.T)
            if not _feasible(pb, cl, cf, us, tau):
                continue
            p = _outage(pb, schedule_weights(pb, cl, cf, tau))
        else:
            tau, p = optimise_durations(pb, cl, cf, us)
            if tau is None:
                continue
        if best is None or p < best[4]:
            best = (cl, cf, us, tau, p)
    if best is None:
        return _infeasible(pb, np.zeros(pb.T, int), t0)
    return _finish(pb, *best[:4], t0, [best[4]], Status.OK, 1)


def fixed_ula_problem(layout: PassLayout, setup: ClusterSetup, users, target, *, T: int, r_min: float, threshold_db: float = 10.0,
                      tau_min_frac: float | None = None, decay: float | None = None) -> ClusterProblem:
    """Baseline 1 of paper 001 §V: a conventional transmit ULA of C·N_c elements at λ/2,
    centred on the waveguide, split into C sub-arrays fed in phase (``1/√N_c`` each), no
    antenna motion (MODEL §2.6). One configuration per sub-array; look angles from the
    sub-array centres."""
    dep = layout.deployment
    n = 0
    C = len(dep.cluster_bounds[n])
    nc = int(np.sum(dep.cluster[n] == 0))
    lam = wavelength(layout.fc)
    centre = dep.feed[n] + 0.5 * dep.length[n] * dep.direction[n]
    offs = (np.arange(C * nc) - (C * nc - 1) / 2.0) * lam / 2.0
    pos = centre[None] + offs[:, None] * dep.direction[n][None]                 # (C·nc, 3)
    users = np.atleast_2d(np.asarray(users, float))
    q = np.asarray(target, float)
    pts = np.vstack([q[None], users])
    g = free_space_gain(pos[:, None, :], pts[None], layout.fc) / np.sqrt(nc)   # (E, P)
    blk = layout._blockage(pos[:, None, :], pts[None])
    if blk is not None:
        g = g * blk
    h2 = np.abs(g.reshape(C, nc, -1).sum(axis=1)) ** 2                       # (C, P)
    gains = radar_gain(h2[:, 0], q, setup.rx_position, setup.rx_elements, setup.power_w,
                       setup.sensing_noise_w)[:, None]
    snr = (setup.power_w * h2[:, 1:] / setup.noise_w)[:, None, :]
    centres = pos.reshape(C, nc, 3).mean(axis=1)
    v = q[None] - centres
    th = np.arccos(np.clip(v @ dep.direction[n] / np.linalg.norm(v, axis=1), -1, 1))
    cov = rcs_covariance(th, setup.rcs_mean, setup.decay if decay is None else float(decay))
    t_tot = setup.t_tot
    return ClusterProblem(gains, snr, np.full((C, 1, nc), np.nan), cov, int(T), t_tot,
                          _tau_min(setup, tau_min_frac, t_tot), float(r_min), float(db_to_lin(threshold_db)), ("fixed",),
                          setup.distinct_clusters)


def problem_from_positions(layout: PassLayout, setup: ClusterSetup, users, target, positions, *, T: int, r_min: float,
                           threshold_db: float = 10.0, tau_min_frac: float | None = None,
                           decay: float | None = None) -> ClusterProblem:
    """A problem whose configurations are given: ``positions`` (C,J,Nc) along-guide
    coordinates of every cluster's PAs (NaN-padded). Used for exhaustive references on a
    coarse position grid."""
    dep = layout.deployment
    users = np.atleast_2d(np.asarray(users, float))
    q = np.asarray(target, float)
    pts = np.vstack([q[None], users])
    clusters = [(n, c) for n, b in enumerate(dep.cluster_bounds) for c in range(len(b))]
    positions = np.asarray(positions, float)
    C, J, _ = positions.shape
    K = len(users)
    gains = np.full((C, J), np.nan)
    snr = np.full((C, J, K), np.nan)
    g_scale = setup.gain_scale(q)
    for i, (n, c) in enumerate(clusters):
        for j in range(J):
            x = positions[i, j][np.isfinite(positions[i, j])]
            if x.size == 0:
                continue
            h2 = np.abs(layout.guide_terms(n, x, pts, 1 / np.sqrt(x.size)).sum(axis=0)) ** 2
            gains[i, j] = g_scale * h2[0]
            snr[i, j] = setup.power_w * h2[1:] / setup.noise_w
    cov = rcs_covariance(look_angles(dep, q), setup.rcs_mean, setup.decay if decay is None else float(decay))
    t_tot = setup.t_tot
    return ClusterProblem(gains, snr, positions, cov, int(T), t_tot, _tau_min(setup, tau_min_frac, t_tot), float(r_min),
                          float(db_to_lin(threshold_db)), tuple(f"grid{j}" for j in range(J)),
                          setup.distinct_clusters)


# --- reuse between frames -------------------------------------------------------------
class FrameMemo:
    """The last ``size`` frames' decisions, keyed by their exact inputs (users' and
    target's coordinates as observed, and the stage parameters). A frame whose inputs equal
    a remembered frame's gets that frame's :class:`ScheduleResult` (same answer: the search
    is deterministic), with ``wall_time_s`` the look-up's time and ``info["reused"]``.
    With static users and target (paper 001's setting: positions fixed during a frame and
    known at the BS) every frame after the first is a look-up."""

    def __init__(self, size: int = 8):
        self.size = int(size)
        self._store: OrderedDict = OrderedDict()

    @staticmethod
    def key(users, q, params: dict):
        return (np.asarray(users, float).tobytes(), np.asarray(users).shape, np.asarray(q, float).tobytes(),
                tuple(sorted((k, repr(v)) for k, v in params.items())))

    def get_or_solve(self, inputs, solve) -> ScheduleResult:
        t0 = time.perf_counter()
        key = self.key(*inputs)
        hit = self._store.get(key)
        if hit is None:
            res = self._store[key] = solve()
            if len(self._store) > self.size:
                self._store.popitem(last=False)
            return res
        self._store.move_to_end(key)
        return dataclasses.replace(hit, wall_time_s=time.perf_counter() - t0, info={**hit.info, "reused": True})
