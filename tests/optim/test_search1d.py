"""The shared element-wise search and the feasible set (MODEL §1, §4.2): moves stay legal,
the search reaches the optimum of a separable objective, the result carries the fixed
status vocabulary, the one legalise routine equals the deployment's, the snap keeps
order and spacing on any point set, and twin.optim imports no world, scene or engine."""

import ast
import pathlib

import numpy as np
import pytest

from twin.optim.legal import LegalSet, lattice
from twin.optim.result import OptResult, Status
from twin.optim.search1d import coordinate_search
from twin.scene import load_scene
from twin.world import World


def _legal(n_pas=3, length=10.0, spacing=0.5):
    return LegalSet(np.zeros((1, n_pas)), np.full((1, n_pas), length), np.array([spacing]),
                    np.ones((1, n_pas), bool), -np.ones((1, n_pas), int))


def test_search_ends_at_a_coordinatewise_optimum_and_stays_legal():
    """Objective −Σ (s_m − a_m)² with two aims closer than δ: the search ends where no PA
    can improve within its legal interval (a coordinate-wise optimum: [2.0, 2.5, 8.0]
    from this start), keeping order and spacing."""
    legal = _legal()
    aims = np.array([2.0, 2.2, 8.0])
    grid = np.linspace(0, 10, 1001)
    seen = []

    def score(n, m, cand):
        return -(cand - aims[m]) ** 2

    def cands(n, m, lo, hi, x):
        return np.append(grid[(grid >= lo - 1e-12) & (grid <= hi + 1e-12)], x)

    def on_move(n, m, x, data, j):
        seen.append((m, x))

    s0 = np.array([[1.0, 5.0, 9.0]])
    total = lambda s: float(-np.sum((s[0] - aims) ** 2))     # noqa: E731
    res = coordinate_search(s0, legal, score, candidates=cands, on_move=on_move, objective=total,
                            start=total(s0), eps=0.0, max_sweeps=50)
    assert isinstance(res, OptResult) and res.status is Status.OK
    s = res.solution
    assert np.all(np.diff(s[0]) >= 0.5 - 1e-9)
    assert s[0] == pytest.approx([2.0, 2.5, 8.0], abs=1e-9)
    for n, m in legal.order():                        # no PA can improve alone
        lo, hi = legal.interval(s, n, m)
        c = cands(n, m, lo, hi, s[n, m])
        assert np.max(score(n, m, c)) <= score(n, m, np.array([s[n, m]]))[0] + 1e-15
    assert res.info["moves"] == len(seen) > 0
    assert np.all(np.diff(res.history) >= 0)          # maximising: never decreases
    assert res.objective == pytest.approx(-0.09)


def test_min_sense_best_mode_and_a_rejected_move_is_undone():
    legal = _legal(n_pas=1)
    calls = []

    def on_move(n, m, x, data, j):
        calls.append(x)
        return x > 5.0                                 # reject anything left of 5

    res = coordinate_search(np.array([[8.0]]), legal, lambda n, m, c: np.abs(c - 2.0),
                            candidates=lambda n, m, lo, hi, x: np.array([1.0, 2.0, 6.0, x]),
                            on_move=on_move, sense="min", move="improve", eps=0.0, max_sweeps=3)
    assert res.solution[0, 0] == 8.0 and calls[0] == 2.0           # tried, undone
    best = coordinate_search(np.array([[8.0]]), legal, lambda n, m, c: np.abs(c - 2.0),
                             candidates=lambda n, m, lo, hi, x: np.array([1.0, 2.0, 6.0, x]),
                             sense="min", move="best", eps=0.0, max_sweeps=3)
    assert best.solution[0, 0] == 2.0 and best.objective == 0.0


def test_iteration_limit_is_a_status():
    legal = _legal(n_pas=1)
    res = coordinate_search(np.array([[0.0]]), legal, lambda n, m, c: c,
                            candidates=lambda n, m, lo, hi, x: np.array([x, min(x + 1.0, hi)]),
                            eps=0.0, max_sweeps=3)
    assert res.status is Status.ITERATION_LIMIT and res.usable and not res.ok
    assert res.solution[0, 0] == 3.0 and res.iterations == 3


def test_status_vocabulary_is_closed_and_compares_by_value():
    assert Status.OK == "ok" and f"{Status.SOLVER_FAILED}" == "solver-failed"
    with pytest.raises(ValueError):
        OptResult(None, 0.0, 0, 0.0, "ok; slot 2 in transit")
    r = OptResult(None, 0.0, 0, 0.0, "infeasible")
    assert r.status is Status.INFEASIBLE and not r.usable


def test_legalize_equals_the_deployments_on_clustered_and_plain_guides():
    rng = np.random.default_rng(0)
    for name in ("paper000", "paper001", "paper002"):
        dep = World(load_scene(name)).deployment
        legal = LegalSet.of(dep)
        lo, hi = dep.bounds()
        for _ in range(20):
            s = rng.uniform(lo - 1.0, hi + 1.0)
            assert np.array_equal(legal.legalize(s), dep.legalize(s)), name


def test_snap_keeps_order_and_spacing_on_a_lattice_and_refuses_what_cannot_fit():
    legal = _legal(n_pas=4, length=3.0, spacing=0.5)
    pts = lattice(3.0, 15)                              # step 0.2: δ needs 3 steps
    s = legal.snap(np.array([[2.9, 2.95, 3.0, 3.0]]), [pts])
    k = s[0] / 0.2
    assert np.allclose(k, np.rint(k)) and np.all(np.diff(s[0]) >= 0.5 - 1e-9) and s[0, -1] == pytest.approx(3.0)
    s = legal.snap(np.zeros((1, 4)), [lattice(3.0, 5)])     # step 0.6 ≥ δ: consecutive points
    assert s[0] == pytest.approx([0.0, 0.6, 1.2, 1.8])
    # 4 PAs at δ = 0.5 on 0..1 cannot fit
    with pytest.raises(ValueError, match="do not fit"):
        _legal(n_pas=4, length=1.0).snap(np.zeros((1, 4)), [lattice(1.0, 10)])


def test_interval_respects_cluster_segments():
    dep = World(load_scene("paper001")).deployment
    legal = LegalSet.of(dep)
    s = dep.uniform_positions()
    for n, m in legal.order():
        lo, hi = legal.interval(s, n, m)
        c = dep.cluster[n, m]
        a, b = dep.cluster_bounds[n][c]
        assert a - 1e-12 <= lo <= s[n, m] <= hi <= b + 1e-12


def test_interval_table_equals_the_neighbour_rule_on_clustered_and_plain_guides():
    """The cached neighbour table gives the interval of MODEL §1 written out: bounds, and
    δ from the previous and next installed PA of the same group."""
    rng = np.random.default_rng(4)
    for name in ("paper000", "paper001", "paper002"):
        dep = World(load_scene(name)).deployment
        legal = LegalSet.of(dep)
        lo0, hi0 = dep.bounds()
        for _ in range(5):
            s = dep.legalize(rng.uniform(lo0, hi0))
            for n, m in legal.order():
                idx = np.flatnonzero(dep.installed[n] & (dep.cluster[n] == dep.cluster[n, m]))
                k = int(np.flatnonzero(idx == m)[0])
                d = dep.spacing[n]
                lo = lo0[n, m] if k == 0 else max(lo0[n, m], s[n, idx[k - 1]] + d)
                hi = hi0[n, m] if k == len(idx) - 1 else min(hi0[n, m], s[n, idx[k + 1]] - d)
                assert legal.interval(s, n, m) == (lo, hi), name


def test_relaxed_set_lets_a_pa_pass_its_neighbours_and_relabel_orders_it():
    """Paper 002 eq. 27: with the guide's bounds as the interval and the δ-clearance mask,
    PA 0 jumps past PA 1 to its aim; relabelling sorts the set (the same PAs, legal)."""
    legal = _legal(n_pas=3, spacing=0.5)
    grid = np.linspace(0, 10, 1001)
    s0 = np.array([[1.0, 5.0, 9.0]])
    aims = np.array([7.0, 5.0, 9.0])
    state = {"s": s0.copy()}

    def cands(n, m, lo, hi, x):
        g = grid[(grid >= lo - 1e-12) & (grid <= hi + 1e-12)]
        return np.append(g[legal.clear_of(state["s"], n, m, g)], x)

    def on_move(n, m, x, data, j):
        state["s"][n, m] = x

    res = coordinate_search(s0, legal, lambda n, m, c: -(c - aims[m]) ** 2, candidates=cands, on_move=on_move,
                            eps=0.0, max_sweeps=5, interval=legal.bounds_of)
    assert res.solution[0] == pytest.approx([7.0, 5.0, 9.0])          # passed PA 1
    ordered = coordinate_search(s0, legal, lambda n, m, c: -(c - aims[m]) ** 2, candidates=cands,
                                on_move=on_move, eps=0.0, max_sweeps=5)
    assert ordered.solution[0, 0] == pytest.approx(4.5)                # stopped δ before it
    assert legal.relabel(res.solution)[0] == pytest.approx([5.0, 7.0, 9.0])
    mask = legal.clear_of(np.array([[1.0, 5.0, 9.0]]), 0, 0, np.array([4.6, 4.5, 5.5, 7.0, 8.6]))
    assert mask.tolist() == [False, True, True, True, False]


def test_window_keeps_a_legal_start_legal_and_bounds_each_pa():
    legal = _legal(n_pas=3, spacing=0.5)
    centre = np.array([[1.0, 1.6, 9.8]])
    w = legal.within(centre, 0.3)
    assert w.lo[0] == pytest.approx([0.7, 1.3, 9.5]) and w.hi[0] == pytest.approx([1.3, 1.9, 10.0])
    s = np.clip(np.array([[2.0, 2.5, 3.0]]), w.lo, w.hi)              # a legal start clipped in
    assert np.all(np.diff(s[0]) >= 0.5 - 1e-12)
    assert np.array_equal(legal.within(centre, np.inf).lo, legal.lo)


def test_skipping_settled_pas_changes_nothing_but_the_work():
    """A PA that stayed, with no move accepted since, would score the same candidates the
    same way: skipping it gives the identical result with fewer scored batches."""
    legal = _legal(n_pas=4, spacing=0.3)
    grid = np.linspace(0, 10, 401)
    aims = np.array([2.0, 2.1, 6.0, 8.0])        # PA 0 blocked by PA 1 until PA 1 has moved

    def run(skip):
        calls = []

        def score(n, m, cand):
            calls.append(m)
            return -(cand - aims[m]) ** 2

        def cands(n, m, lo, hi, x):
            return np.append(grid[(grid >= lo - 1e-12) & (grid <= hi + 1e-12)], x)

        s0 = np.array([[0.0, 0.5, 5.0, 9.0]])
        total = lambda s: float(-np.sum((s[0] - aims) ** 2))     # noqa: E731
        res = coordinate_search(s0, legal, score, candidates=cands, objective=total, start=total(s0),
                                eps=0.0, max_sweeps=20, skip_settled=skip)
        return res, len(calls)

    (a, na), (b, nb) = run(False), run(True)
    assert np.array_equal(a.solution, b.solution) and a.history == b.history and a.iterations == b.iterations
    assert a.solution[0] == pytest.approx([1.8, 2.1, 6.0, 8.0]) and a.iterations == 3
    assert (na, nb) == (12, 9)                 # the last sweep re-scores only PA 0, the one that moved


def test_optim_imports_no_world_scene_engine_traces_viz_or_policies():
    root = pathlib.Path(__file__).resolve().parents[2] / "twin" / "optim"
    banned = ("twin.world", "twin.scene", "twin.engine", "twin.traces", "twin.viz", "twin.policies",
              "twin.problems", "twin.experiments")
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(banned), (path.name, node.module)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    assert not a.name.startswith(banned), (path.name, a.name)
