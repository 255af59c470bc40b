"""The fourth round's shortcuts of paper 001's searches give the answers of the full
computation: the closed-form rate-infeasibility test never contradicts the feasibility
LP (and catches what it should), the geometry memo returns what focusing computes, and
Proposed-MM's block memo leaves its result bit-identical."""

import dataclasses

import numpy as np
import pytest
import scipy.optimize

from twin.experiments.figures.paper001 import controller, proposed, proposed_mm, schedule
from twin.optim import clustered as cl
from twin.optim import clustered_mm as clmm
from twin.optim import drop_memo

TARGET = np.array([4.0, 3.0, 3.0])
USERS = np.array([[2.0, -2.0, 3.0], [8.0, 1.5, 3.0]])


def _lp_margin(pb, users, r):
    """The optimum of the feasibility LP of clustered._optimise_durations (None: infeasible)."""
    T, K = len(r), pb.snr.shape[2]
    A = np.zeros((K, T))
    A[users, np.arange(T)] = r / pb.t_tot
    c = np.zeros(T + 1)
    c[-1] = -1.0
    lp = scipy.optimize.linprog(c, A_ub=np.hstack([-A, np.ones((K, 1))]), b_ub=-np.full(K, pb.r_min),
                                A_eq=np.hstack([np.ones((1, T)), np.zeros((1, 1))]), b_eq=[pb.t_tot],
                                bounds=[(pb.tau_min, pb.t_tot)] * T + [(None, None)], method="highs")
    return None if lp.status != 0 else float(lp.x[-1])


def _problem(K, r_min, T, tau_min=5e-4):
    C, J = 3, 1
    return cl.ClusterProblem(np.ones((C, J)), np.ones((C, J, K)), np.zeros((C, J, 1)), np.eye(C), T, 8e-3,
                             tau_min, r_min, 10.0)


@pytest.mark.parametrize("seed", range(2))
def test_closed_form_infeasibility_agrees_with_the_lp(seed):
    rng = np.random.default_rng(seed)
    said = {True: 0, False: 0}
    for _ in range(120):
        K, T = int(rng.integers(1, 4)), int(rng.integers(1, 6))
        pb = _problem(K, float(rng.uniform(0.5, 7.0)), T, float(rng.uniform(0.0, 1.5e-3)))
        users = rng.integers(0, K, T)
        r = rng.exponential(4.0, T) * (rng.random(T) > 0.15)          # some slots with zero rate
        m = _lp_margin(pb, users, r)
        sure = cl.surely_rate_infeasible(pb, users, r)
        if sure:                                   # never wrong: the LP misses by more than the margin
            assert m is None or m < -cl.INFEASIBLE_MARGIN * 0.999
        elif m is not None:                        # and tight: it misses the LP's infeasible ones
            assert m >= -cl.INFEASIBLE_MARGIN * 1.001 or np.isclose(m, -cl.INFEASIBLE_MARGIN, atol=1e-8)
        said[sure] += 1
    assert said[True] > 10 and said[False] > 10                   # both outcomes exercised


def test_a_user_without_a_slot_is_infeasible_and_a_generous_schedule_is_not():
    pb = _problem(2, 2.0, 3)
    assert cl.surely_rate_infeasible(pb, np.array([0, 0, 0]), np.array([9.0, 9.0, 9.0]))
    assert not cl.surely_rate_infeasible(pb, np.array([0, 1, 1]), np.array([9.0, 9.0, 9.0]))
    assert _lp_margin(pb, np.array([0, 1, 1]), np.array([9.0, 9.0, 9.0])) > 0


def test_the_geometry_memo_returns_what_focusing_computes_and_only_inside_a_drop():
    ctrl = controller(proposed(4), 2.0, {"radio.tx_power_dbm": 10})
    layout = ctrl.ctx.solvers.layout
    dep = layout.deployment
    pts = np.vstack([TARGET, USERS])
    (n, (lo, hi)) = 0, dep.cluster_bounds[0][3]
    args = (layout, n, lo, hi, 4, pts, np.array([1.0, 0.0, 0.0]), dep.spacing[n], 0.5)
    plain = cl.focus_positions(*args)
    assert not drop_memo.active()
    with drop_memo.shared():
        first = cl.focus_positions(*args)
        again = cl.focus_positions(*args)
        other = cl.focus_positions(*args[:6], np.array([0.0, 1.0, 0.0]), *args[7:])
    assert again is first                                         # looked up, not recomputed
    np.testing.assert_array_equal(first.x, plain.x)
    np.testing.assert_array_equal(first.h2, plain.h2)
    assert not np.array_equal(other.x, first.x)                   # other weights: another entry


def test_problems_built_in_a_shared_drop_are_bit_identical_at_every_power():
    for power in (4, 20):
        ctrl = controller(proposed(4), 2.0, {"radio.tx_power_dbm": power})
        plain = schedule(ctrl, USERS, TARGET).problem
        ctrl = controller(proposed(4), 2.0, {"radio.tx_power_dbm": power})
        with drop_memo.shared(("test", power)):
            shared = schedule(ctrl, USERS, TARGET).problem
        for f in ("gains", "snr", "positions"):
            np.testing.assert_array_equal(getattr(shared, f), getattr(plain, f))


def test_proposed_mm_block_memo_changes_nothing(monkeypatch):
    ctrl = controller(proposed_mm(), 2.0, {"radio.tx_power_dbm": 12})
    sv = ctrl.ctx.solvers
    kw = dict(T=3, r_min=2.0, settings=clmm.MMSettings(s_grid=(2.0, 8.0), ao_iters=3))
    hits = []
    real = clmm._MM._block

    def counting(self, name, st, *a):
        hits.append((name, id(st)) + a in self._blocks)
        return real(self, name, st, *a)

    monkeypatch.setattr(clmm._MM, "_block", counting)
    fast = clmm.solve_mm(sv.layout, sv.cluster_setup, USERS, TARGET, **kw)
    assert any(hits)                                               # the memo was used
    monkeypatch.setattr(clmm._MM, "_block", lambda self, name, st, *a: getattr(self, "_" + name)(st, *a))
    slow = clmm.solve_mm(sv.layout, sv.cluster_setup, USERS, TARGET, **kw)
    assert fast.outage == slow.outage and fast.history == slow.history
    for f in ("clusters", "users", "tau"):
        np.testing.assert_array_equal(getattr(fast, f), getattr(slow, f))
    np.testing.assert_array_equal(fast.problem.positions, slow.problem.positions)


def _squarings(lam, x, max_step=8.0, tail=None):
    """m: the squarings of the uniformisation step h = x / 2^m (Λh ≤ max_step)."""
    return max(0, int(np.ceil(np.log2(max(float(np.max(1.0 / lam)) * x / max_step, 1.0)))))


def _dense_cdf(lam, x, max_step=8.0, tail=(10.0, 30)):
    """The exact CDF as MODEL §3.4 writes it, with dense numpy matrices: ``[e^{Qx}]_{0,n}``
    by uniformisation of ``P = I + Q/Λ`` (Λh ≤ max_step, the Poisson series to Λh +
    tail[0]√(Λh) + tail[1] terms), then the squarings."""
    n = lam.size
    mu = 1.0 / lam
    Lam = float(mu.max())
    m = _squarings(lam, x, max_step)
    h = x / 2.0 ** m
    P = np.eye(n + 1)
    P[np.arange(n), np.arange(n)] -= mu / Lam
    P[np.arange(n), np.arange(1, n + 1)] += mu / Lam
    lh = Lam * h
    weight, term = np.exp(-lh), np.eye(n + 1)
    E = weight * term
    for k in range(1, int(lh + tail[0] * np.sqrt(lh) + tail[1]) + 1):
        term = term @ P
        weight *= lh / k
        E += weight * term
    for _ in range(m):
        E = E @ E
    return float(np.clip(E[0, n], 0.0, 1.0))


def test_the_compiled_cdf_is_the_dense_uniformisation_row_by_row():
    """``cdf_rows`` (one compiled loop, bidiagonal powers, triangular squarings) gives each
    row the CDF of the dense uniformisation to rounding, on random batches of sums of
    exponentials (1-11 rows, 1-6 terms, means over five decades, thresholds over 2.5
    decades; tails down to 1e-15), whatever the other rows of its batch; the scalar exact
    outage is its one-row case; a single exponential is its closed form ``1 − e^{−x/λ}``.

    To rounding means: relative 1e-12, plus an absolute 2^m · 4ε on values near 1 after m
    squarings (each squaring doubles an entry's absolute rounding error, in both methods;
    where Λx is 10⁵ and the CDF is 1 to double precision, the two differ by ~1e-11 in the
    last bits, and which one is nearer 1 depends on the machine's rounding). Values below
    1/2, the deep tail among them, are held to the relative bound alone."""
    from twin.physics.outage import _exact_cdf, cdf_rows

    rng = np.random.default_rng(13)
    small = 0
    eps = np.finfo(float).eps
    for _ in range(400):
        B, n = int(rng.integers(1, 12)), int(rng.integers(1, 7))
        lam = np.sort(rng.uniform(0.01, 1.0, (B, n)) * 10 ** rng.uniform(-3, 2, (B, 1)), axis=1)
        x = float(10 ** rng.uniform(-1, 1.5))
        for kw in ({}, {"max_step": 2.0, "tail": (6.0, 15)}):
            got = cdf_rows(lam, x, **kw)
            for b in range(B):
                ref = _dense_cdf(lam[b], x, **kw)
                slack = 2.0 ** _squarings(lam[b], x, **kw) * 4 * eps if ref > 0.5 else 1e-300
                assert got[b] == pytest.approx(ref, rel=1e-12, abs=slack), (B, n, x, b)
                if n == 1:
                    assert got[b] == pytest.approx(-np.expm1(-x / lam[b, 0]), rel=1e-12, abs=slack)
                small += ref < 1e-6
            b = int(rng.integers(B))
            assert cdf_rows(lam[b:b + 1], x, **kw)[0] == got[b]         # its batch does not matter
        assert cdf_rows(lam, x)[0] == _exact_cdf(lam[0], x)            # the scalar outage: one row
    assert small > 50                                                 # the deep tail was exercised


def test_duration_starts_are_solved_once_per_schedule_with_the_answers_of_a_fresh_problem(monkeypatch):
    """optimise_durations keeps, per problem, the margin LP of a schedule and each SLSQP
    run of a (schedule, start): asked again from another τ0, it solves neither the LP nor
    the shared starts again, and every answer is the one a fresh problem gives."""
    ctrl = controller(proposed(3), 2.0, {"radio.tx_power_dbm": 12})
    pb = schedule(ctrl, USERS, TARGET).problem
    clusters, configs, users = np.array([0, 3, 5]), np.zeros(3, int), np.array([0, 1, 1])
    lps, runs = [], []
    real_lp, real_min = scipy.optimize.linprog, scipy.optimize.minimize
    monkeypatch.setattr(scipy.optimize, "linprog", lambda *a, **k: lps.append(1) or real_lp(*a, **k))
    monkeypatch.setattr(scipy.optimize, "minimize", lambda f, x0, **k: runs.append(x0.copy()) or real_min(f, x0, **k))
    t_tot = pb.t_tot
    starts = [None, np.array([0.5, 0.3, 0.2]) * t_tot, np.array([0.2, 0.4, 0.4]) * t_tot]
    got = [cl.optimise_durations(pb, clusters, configs, users, t0) for t0 in starts]
    assert len(lps) == 1                                           # one LP for the schedule
    assert len(runs) == len({r.tobytes() for r in runs})           # no start run twice
    for t0, (tau, p) in zip(starts, got):
        fresh = dataclasses.replace(pb, cache={})
        tau_f, p_f = cl.optimise_durations(fresh, clusters, configs, users, t0)
        assert p == p_f
        np.testing.assert_array_equal(tau, tau_f)
