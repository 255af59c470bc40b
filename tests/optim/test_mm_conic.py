"""Proposed-MM's block solves on Clarabel directly (twin/optim/mm_conic.py, MODEL §4.5.1):
the same answers as cvxpy's ``Problem.solve`` bit for bit, unsolved blocks and the cvxpy
fallback recorded, no dependence on earlier solves, and the per-solve memo."""

from collections import Counter

import numpy as np
import pytest

from twin.optim import clustered_mm as cm
from twin.optim import mm_conic
from twin.problems import cluster_setup, pass_layout
from twin.scene import load_scene
from twin.world import World


def _selection_values(rng, C, T, K, eta=0.0, fixed=0):
    """Block-1 parameters as _MM._selection builds them: a random covariance and gains, a
    one-user-per-slot rate matrix, the linearised penalty at a random relaxed point."""
    A = rng.standard_normal((C, C))
    cov = A @ A.T / C + np.eye(C) * rng.uniform(0.01, 0.5)
    L = np.linalg.cholesky(cov)
    g = rng.uniform(0.05, 3.0, C) * (rng.uniform(size=C) > 0.1)
    a = float(rng.choice([0.5, 2.0, 8.0]))
    r = rng.uniform(0.5, 9.0, (C, K))
    U = np.zeros((K, T))
    U[rng.integers(0, K, T), np.arange(T)] = 1.0
    fix = np.zeros(C * T)
    for t in rng.choice(T, fixed, replace=False):
        fix[rng.integers(C) * T + t] = 1.0
    b0 = rng.uniform(0, 1, C * T)
    return {"P": (a * g[None, None, :] * L.T[:, None, :] * L.T[None, :, :]).reshape(C * C, C, order="F"),
            "R": (r.T[:, :, None] * U[:, None, :]).reshape(K, C * T), "r_min": float(rng.uniform(0.5, 3.0)),
            "phi_min": 0.05, "fix": fix, "lin": eta * (1.0 - 2.0 * b0)}


def _cvxpy(prob, par, values):
    for k, v in values.items():
        par[k].value = v
    assert cm._solve(prob)
    return prob


@pytest.mark.parametrize("C,T,K", [(10, 4, 2), (6, 3, 3), (3, 2, 1)])
def test_selection_solves_equal_cvxpys_bit_for_bit(C, T, K):
    rng = np.random.default_rng([11, C, T, K])
    prob, par, var = cm.selection_problem(C, T, K)
    block = mm_conic.DirectBlock(prob, par, var)
    for i in range(6):
        values = _selection_values(rng, C, T, K, eta=[0.0, 0.3, 3.0, 30.0][i % 4], fixed=i % 3 if T > 2 else 0)
        status, out, obj = block.solve(values)
        assert status in mm_conic.ACCEPTED
        ref = _cvxpy(prob, par, values)
        for name, v in var.items():
            assert np.array_equal(out[name], v.value), (name, np.max(np.abs(out[name] - v.value)))
        # cvxpy's value is the objective re-evaluated at the recovered (x ≥ 0 projected)
        # point, Clarabel's its primal value: equal to the solver's tolerance
        assert obj == pytest.approx(ref.value, rel=1e-7, abs=1e-7)
        # the answer is a feasible point of the block (MODEL §4.5.1): one cluster per slot, time sums to one
        Bm = out["b"].reshape(C, T)
        assert np.allclose(Bm.sum(axis=0), 1.0, atol=1e-6) and out["phi"].sum() == pytest.approx(1.0, abs=1e-6)
        assert np.all(out["z"] <= out["b"] + 1e-6) and np.all(out["b"] >= values["fix"] - 1e-6)


def test_scheduling_solves_equal_cvxpys_bit_for_bit():
    rng = np.random.default_rng(7)
    for K, T in [(2, 4), (3, 4), (4, 2)]:
        prob, par, u = cm.scheduling_problem(K, T)
        block = mm_conic.DirectBlock(prob, par, {"u": u})
        for eta in (0.0, 0.3, 3.0, 30.0):
            values = {"coef": rng.uniform(0.0, 3.0, (K, T)), "lin": eta * (1.0 - 2.0 * rng.uniform(0, 1, (K, T))),
                      "r_min": float(rng.uniform(0.1, 1.0))}
            status, out, obj = block.solve(values)
            ref = _cvxpy(prob, par, values)
            assert status in mm_conic.ACCEPTED and np.array_equal(out["u"], u.value)
            assert np.allclose(out["u"].sum(axis=0), 1.0, atol=1e-7)
            assert -obj == pytest.approx(ref.value, rel=1e-7, abs=1e-7)       # cvxpy maximises


def test_a_direct_solve_does_not_depend_on_the_solves_before_it():
    rng = np.random.default_rng(5)
    draws = [_selection_values(rng, 6, 3, 2, eta=0.3) for _ in range(4)]
    prob, par, var = cm.selection_problem(6, 3, 2)
    fresh = mm_conic.DirectBlock(prob, par, var).solve(draws[-1])[1]
    used = mm_conic.DirectBlock(prob, par, var)
    for d in draws[:-1]:
        used.solve(d)
    after = used.solve(draws[-1])[1]
    assert all(np.array_equal(fresh[k], after[k]) for k in fresh)


def _paper001_mm(power=16.0):
    world = World(load_scene("paper001", {"radio.tx_power_dbm": power}))
    users = np.array([[2.0, -2.0, 1.0], [8.0, 1.5, 1.0]])
    return pass_layout(world), cluster_setup(world), users, np.array([4.0, 3.0, 1.0])


def _same(a, b):
    assert repr(a.outage) == repr(b.outage) and repr(a.chernoff) == repr(b.chernoff)
    assert np.array_equal(a.clusters, b.clusters) and np.array_equal(a.users, b.users)
    assert np.array_equal(a.tau, b.tau) and np.array_equal(a.problem.positions, b.problem.positions, equal_nan=True)
    assert a.history == b.history


def test_proposed_mm_gives_the_cvxpy_paths_schedule_bit_for_bit(monkeypatch):
    """A whole Proposed-MM solve (paper001 scene, C = 10, T = 4, K = 2; s grid cut to one
    value to keep it short) through the direct solves and through cvxpy only."""
    lay, setup, users, target = _paper001_mm()
    kw = dict(T=4, r_min=2.0, settings=cm.MMSettings(s_grid=(2.0,), ao_iters=2))
    monkeypatch.setattr(cm, "DIRECT", False)
    ref = cm.solve_mm(lay, setup, users, target, **kw)
    monkeypatch.setattr(cm, "DIRECT", True)
    monkeypatch.setattr(cm, "FALLBACKS", Counter())
    cm._direct_selection.cache_clear()               # built afresh, before any parameter has a value
    cm._direct_scheduling.cache_clear()
    cm.selection_problem.cache_clear()
    cm.scheduling_problem.cache_clear()
    calls = []
    orig = mm_conic.DirectBlock.solve
    monkeypatch.setattr(mm_conic.DirectBlock, "solve", lambda self, v: calls.append(1) or orig(self, v))
    new = cm.solve_mm(lay, setup, users, target, **kw)
    assert ref.status == new.status == "ok" and calls and not cm.FALLBACKS
    _same(ref, new)


def test_an_unsolved_block_keeps_the_state_and_a_raising_direct_path_falls_back_to_cvxpy(monkeypatch):
    lay, setup, users, target = _paper001_mm(12.0)
    kw = dict(T=4, r_min=2.0, settings=cm.MMSettings(s_grid=(2.0,), ao_iters=1))
    monkeypatch.setattr(cm, "DIRECT", False)
    ref = cm.solve_mm(lay, setup, users, target, **kw)
    monkeypatch.setattr(cm, "DIRECT", True)
    monkeypatch.setattr(cm, "UNSOLVED", Counter())
    monkeypatch.setattr(cm, "FALLBACKS", Counter())
    cvxpy_calls = []
    orig_solve = cm._solve
    monkeypatch.setattr(cm, "_solve", lambda prob: cvxpy_calls.append(1) or orig_solve(prob))
    # Clarabel did not solve: cvxpy would pass it the same data, so it is not asked; blocks
    # 1 and 3 keep their state (the start's clusters and users; block 2 may still move PAs)
    monkeypatch.setattr(mm_conic.DirectBlock, "solve", lambda self, v: ("NumericalError", None, None))
    stuck = cm.solve_mm(lay, setup, users, target, **kw)
    start = cm.cold_start(cm._MM(lay, setup, users, target, T=4, r_min=2.0, threshold_db=10.0,
                                 tau_min_frac=0.05, decay=None, settings=kw["settings"]))
    assert not cvxpy_calls
    assert np.array_equal(stuck.clusters, start.clusters) and np.array_equal(stuck.users, start.users)
    assert cm.UNSOLVED[("selection", "NumericalError")] > 0 and cm.UNSOLVED[("scheduling", "NumericalError")] > 0

    def broken(self, v):
        raise AttributeError("cvxpy internals moved")

    monkeypatch.setattr(mm_conic.DirectBlock, "solve", broken)
    _same(ref, cm.solve_mm(lay, setup, users, target, **kw))
    assert cvxpy_calls and cm.FALLBACKS[("selection", "AttributeError")] > 0
    assert cm.FALLBACKS[("scheduling", "AttributeError")] > 0


def test_a_repeated_block_problem_is_solved_once_per_mm_solve(monkeypatch):
    lay, setup, users, target = _paper001_mm()
    mm = cm._MM(lay, setup, users, target, T=4, r_min=2.0, threshold_db=10.0, tau_min_frac=0.05, decay=None,
                settings=cm.MMSettings())
    seen = []
    orig = cm.solve_scheduling
    monkeypatch.setattr(cm, "solve_scheduling", lambda K, T, v: seen.append(1) or orig(K, T, v))
    rng = np.random.default_rng(2)
    v = {"coef": rng.uniform(0, 3, (2, 4)), "lin": np.zeros((2, 4)), "r_min": 1.0}
    first = mm._solve_block("scheduling", v)
    again = mm._solve_block("scheduling", {k: np.array(x, copy=True) for k, x in v.items()})
    assert again is first and len(seen) == 1
    v2 = dict(v, r_min=1.0 + 1e-12)                 # one bit of one value: solved again
    mm._solve_block("scheduling", v2)
    assert len(seen) == 2
