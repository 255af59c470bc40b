"""Paper 001's own method, scheme Proposed-MM (MODEL §4.5.1): feasible (rates, durations,
legal positions, MODEL §1), never worse than its starting point, at the exhaustive
optimum of a tiny case, and its continuous position block a coordinate-wise optimum."""

import numpy as np
import pytest

from twin.experiments.figures.paper001 import controller, proposed_mm, schedule
from twin.experiments.snapshot import Scheme
from twin.optim.clustered import average_rates, exhaustive_schedule, schedule_weights
from twin.optim.clustered_mm import cluster_positions, pareto_grid_problem, solve_mm
from twin.physics.outage import outage_probability
from twin.problems import cluster_setup, pass_layout
from twin.scene import load_scene
from twin.units import wavelength
from twin.world import World

TARGET = np.array([4.0, 3.0, 0.0])
USERS = np.array([[2.0, -2.0, 0.0], [8.0, 1.5, 0.0]])


def _legal(world, pb, clusters):
    """Every scheduled cluster's PAs inside its segment, in order, δ apart (MODEL §1)."""
    dep = world.deployment
    bounds = [(n, c, lo, hi) for n, b in enumerate(dep.cluster_bounds) for c, (lo, hi) in enumerate(b)]
    for i in set(clusters.tolist()):
        n, c, lo, hi = bounds[i]
        x = pb.positions[i, 0][np.isfinite(pb.positions[i, 0])]
        assert x.size == np.sum(dep.cluster[n] == c)
        assert lo - 1e-12 <= x.min() and x.max() <= hi + 1e-12
        assert np.all(np.diff(x) >= dep.spacing[n] - 1e-9)


@pytest.mark.parametrize("power,r_min", [(8, 2.0), (20, 4.0)])
def test_proposed_mm_is_feasible_and_never_worse_than_its_start(power, r_min):
    ctrl = controller(proposed_mm(), r_min, {"radio.tx_power_dbm": power})
    assert ctrl.ctx.stages["select"].p["method"] == "mm"
    s = schedule(ctrl, USERS, TARGET)
    pb = s.problem
    assert s.status == "ok"
    assert s.tau.sum() == pytest.approx(pb.t_tot, rel=1e-9) and np.all(s.tau >= pb.tau_min * (1 - 1e-9))
    rates = average_rates(pb, s.clusters, s.configs, s.users, s.tau)
    assert np.all(rates >= r_min * (1 - 1e-9)), rates
    _legal(ctrl.world, pb, s.clusters)
    # the reported outage is the exact outage of the returned schedule, and no worse than the start
    w = schedule_weights(pb, s.clusters, s.configs, s.tau)
    assert s.outage == pytest.approx(outage_probability(w, pb.cov, pb.threshold), rel=1e-12)
    assert s.outage <= s.info["start_outage"] and s.outage <= min(s.history) + 1e-15


def test_started_from_the_search_it_is_never_worse_than_the_search():
    search = schedule(controller(Scheme("clustered-outage", {"T": 4}), 2.0, {"radio.tx_power_dbm": 10}),
                      USERS, TARGET)
    both = schedule(controller(Scheme("clustered-outage", {"T": 4, "method": "search+mm"}), 2.0,
                               {"radio.tx_power_dbm": 10}), USERS, TARGET)
    assert both.status == "ok" and both.outage <= search.outage * (1 + 1e-12)


def test_matches_the_exhaustive_search_over_schedules_and_a_position_grid_on_a_tiny_case():
    """C = 2 clusters of 2 PAs (aperture 4 cm), one user, T = 2: exhaustive over every
    schedule and every Pareto-optimal position pair on a λ/4 grid. Proposed-MM searches
    the positions continuously, so it may beat the grid; it must not lose more than 2%."""
    world = World(load_scene("paper001", {
        "waveguides.0.pas": 4, "radio.tx_power_dbm": 12,
        "waveguides.0.clusters": [{"center_m": c, "aperture_m": 0.04, "pas": 2} for c in (2.0, 7.0)]}))
    lay, setup = pass_layout(world), cluster_setup(world)
    target, users = np.array([5.5, 2.5, 0.0]), np.array([[3.0, -3.0, 0.0]])
    ref = exhaustive_schedule(pareto_grid_problem(lay, setup, users, target, step=wavelength(world.fc) / 4,
                                                  T=2, r_min=1.0))
    ours = solve_mm(lay, setup, users, target, T=2, r_min=1.0)
    assert ref.status == ours.status == "ok"
    assert ours.outage <= ref.outage * 1.02


def test_infeasible_rate_targets_come_back_as_a_status():
    lay_world = World(load_scene("paper001", {"radio.tx_power_dbm": 0}))
    s = solve_mm(pass_layout(lay_world), cluster_setup(lay_world), USERS, TARGET, T=4, r_min=50.0)
    assert s.status == "infeasible" and s.outage == 1.0


def test_cluster_positions_is_a_constrained_coordinatewise_optimum():
    """Block 2: the user's SNR row holds, and no single PA can raise the target gain by
    moving anywhere on a λ/64 grid of its interval without breaking the row."""
    world = World(load_scene("paper001", {"radio.tx_power_dbm": 12}))
    lay, dep = pass_layout(world), world.deployment
    lo, hi = dep.cluster_bounds[0][3]
    npas = int(np.sum(dep.cluster[0] == 3))
    rho, d = 1 / np.sqrt(npas), dep.spacing[0]
    pts = np.vstack([TARGET[None], USERS])
    x0 = lo + (hi - lo) * (np.arange(npas) + 0.5) / npas
    free, h2_free, _ = cluster_positions(lay, 0, lo, hi, x0, pts, np.zeros(3), d, rho)
    best_user = cluster_positions(lay, 0, lo, hi, x0, pts[1:2], np.zeros(1), d, rho)[1][0]
    assert best_user > h2_free[1]                    # focusing on the target is not focusing on the user
    need = np.array([0.0, 0.5 * (h2_free[1] + best_user), 0.0])
    x, h2, ok = cluster_positions(lay, 0, lo, hi, x0, pts, need, d, rho)
    assert ok and h2[1] >= need[1]
    assert np.all(np.diff(x) >= d - 1e-9) and lo <= x.min() and x.max() <= hi
    assert np.allclose(np.abs(lay.guide_terms(0, x, pts, rho).sum(axis=0)) ** 2, h2, rtol=1e-10)
    grid = np.arange(lo, hi, wavelength(world.fc) / 64)
    for m in range(npas):
        a = x[m - 1] + d if m > 0 else lo
        b = x[m + 1] - d if m < npas - 1 else hi
        for g in grid[(grid >= a) & (grid <= b)]:
            y = x.copy()
            y[m] = g
            gy = np.abs(lay.guide_terms(0, y, pts, rho).sum(axis=0)) ** 2
            assert gy[1] < need[1] or gy[0] <= h2[0] * (1 + 1e-4)


def test_a_block_solve_does_not_depend_on_the_solves_before_it():
    """The compiled block problems are cached per shape and re-solved with new parameters;
    each solve must be what a fresh process computes (a figure drop's Proposed-MM result
    must not depend on which drops its Dask worker ran before it)."""
    from twin.optim import clustered_mm as cm

    rng = np.random.default_rng(3)
    K, T = 3, 4
    draws = [{"coef": rng.uniform(0.2, 3.0, (K, T)), "lin": rng.uniform(-0.5, 0.5, (K, T)),
              "r_min": float(rng.uniform(0.1, 0.6))} for _ in range(6)]

    def solve_at(prob, par, vals):
        for k, v in vals.items():
            par[k].value = v
        assert cm._solve(prob)
        return prob.value, [x.value.copy() for x in prob.variables()]

    cm.scheduling_problem.cache_clear()
    prob, par, _ = cm.scheduling_problem(K, T)
    fresh = solve_at(prob, par, draws[-1])
    cm.scheduling_problem.cache_clear()
    prob, par, _ = cm.scheduling_problem(K, T)
    for d in draws[:-1]:
        solve_at(prob, par, d)
    after = solve_at(prob, par, draws[-1])
    assert repr(fresh[0]) == repr(after[0])
    for a, b in zip(fresh[1], after[1]):
        assert np.array_equal(a, b)
