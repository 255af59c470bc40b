"""Paper 001 optimiser (MODEL §4.5): near the exhaustive optimum on small instances,
schedules that meet the rate and time constraints, infeasibility as a status."""

import itertools

import numpy as np
import pytest

from twin.experiments.figures.paper001 import controller, schedule
from twin.experiments.snapshot import Scheme
from twin.optim.clustered import (average_rates, build_problem, exhaustive_schedule, focus_positions,
                                  problem_from_positions, solve_schedule)
from twin.problems import cluster_setup, pass_layout
from twin.scene import load_scene
from twin.units import wavelength
from twin.world import World


def _p(world):
    return pass_layout(world), cluster_setup(world)

TARGET = np.array([4.0, 3.0, 0.0])
USERS = np.array([[2.0, -2.0, 0.0], [8.0, 1.5, 0.0]])
#: paper 001's schemes: the proposed one, baselines 1-4, no intra-cluster beamforming
PAPER001 = ("clustered-outage", "clustered-baseline1", "clustered-baseline2", "clustered-baseline3",
            "clustered-baseline4", "clustered-nobf")


def _solve(preset, users, target, *, power, r_min=2.0, **params):
    """The schedule the preset's select stage computes (T = 4) on paper001 at ``power``."""
    ctrl = controller(Scheme(preset, {"T": 4, **params}), r_min, {"radio.tx_power_dbm": power})
    return schedule(ctrl, users, target)


def _small_world(npas=1, power=12):
    centres = (1.5, 5.0, 8.5)
    return World(load_scene("paper001", {
        "waveguides.0.pas": 3 * npas, "radio.tx_power_dbm": power,
        "waveguides.0.clusters": [{"center_m": c, "aperture_m": 0.5, "pas": npas} for c in centres]}))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_schedule_within_5_percent_of_exhaustive_on_a_coarse_position_grid(seed):
    world = _small_world(npas=1)
    rng = np.random.default_rng(seed)
    target = np.r_[rng.uniform(1, 9), rng.uniform(-4, 4), 0.0]
    users = np.column_stack([rng.uniform(1, 9, 2), rng.uniform(-4, 4, 2), np.zeros(2)])
    grid = np.array([[[c - 0.25 + 0.5 * k / 4] for k in range(5)] for c in (1.5, 5.0, 8.5)])   # (C, J=5, 1)
    pb = problem_from_positions(*_p(world), users, target, grid, T=2, r_min=1.0)
    ours = solve_schedule(pb)
    best = exhaustive_schedule(pb)
    assert ours.status == best.status == "ok"
    assert ours.outage <= best.outage * 1.05 + 1e-12


def test_every_schedule_meets_rates_and_time_and_exact_is_below_chernoff():
    for scheme in PAPER001:
        s = _solve(scheme, USERS, TARGET, power=12)
        pb = s.problem
        assert s.status == "ok", scheme
        assert s.tau.sum() == pytest.approx(pb.t_tot, rel=1e-9)
        assert np.all(s.tau >= pb.tau_min * (1 - 1e-9))
        rates = average_rates(pb, s.clusters, s.configs, s.users, s.tau)
        assert np.all(rates >= 2.0 - 1e-6), (scheme, rates)
        assert s.outage <= s.chernoff + 1e-15
        for c in set(s.clusters.tolist()):             # one configuration per cluster per frame
            assert len(set(s.configs[s.clusters == c].tolist())) == 1


def test_the_proposed_schedule_is_never_worse_than_its_restricted_baselines():
    out = {k: _solve(k, USERS, TARGET, power=12).outage
           for k in ("clustered-outage", "clustered-baseline2", "clustered-baseline3")}
    assert out["clustered-outage"] <= out["clustered-baseline2"] and out["clustered-outage"] <= out["clustered-baseline3"]


def test_infeasible_rate_targets_come_back_as_a_status():
    s = _solve("clustered-outage", USERS, TARGET, power=0, r_min=50.0)
    assert s.status == "infeasible" and s.outage == 1.0


def test_intra_cluster_beamforming_focuses_on_the_target():
    world = World(load_scene("paper001", {"radio.tx_power_dbm": 12}))
    focused = build_problem(*_p(world), USERS, TARGET, T=4, r_min=1.0)
    spread = build_problem(*_p(world), USERS, TARGET, T=4, r_min=1.0, beamforming=False)
    # the target-focused configuration beats the even spread in every cluster
    assert np.all(focused.gains[:, 0] > spread.gains[:, 0])


def test_optimising_the_exact_outage_beats_the_papers_chernoff_surrogate():
    """The twin's method optimises the exact outage; the paper minimises the optimised
    Chernoff bound (eqs. 25-26). Same search, either objective: exact wins on average and
    on most drops (both are local searches: on the 0.18 Np/m reading one drop of four ends
    lower from the surrogate, 0.0129 vs 0.0136; on the dB/m reading exact won on all)."""
    world = World(load_scene("paper001", {"radio.tx_power_dbm": 10}))
    rng = np.random.default_rng(11)
    exact, chern = [], []
    for _ in range(4):
        pts = np.column_stack([world.floor.sample_free(rng, 3, 0.5), np.zeros(3)])
        exact.append(_solve("clustered-outage", pts[1:], pts[0], power=10).outage)
        chern.append(_solve("clustered-outage", pts[1:], pts[0], power=10, objective="chernoff").outage)
    exact, chern = np.array(exact), np.array(chern)
    assert np.sum(exact <= chern * (1 + 1e-6)) >= 3 and exact.mean() < chern.mean()


def test_focus_positions_is_a_coordinatewise_optimum_of_the_focused_gain():
    """Intra-cluster beamforming on the shared 1-D search: the returned gains are those of
    the returned positions, the PAs keep order and spacing inside the segment, and no
    single PA can raise |h_t|² by moving on the λ/16 grid within its interval."""
    world = World(load_scene("paper001", {"radio.tx_power_dbm": 12}))
    lay, dep = pass_layout(world), world.deployment
    lo, hi = dep.cluster_bounds[0][1]
    npas = int(np.sum(dep.cluster[0] == 1))
    rho = 1 / np.sqrt(npas)
    pts = np.vstack([TARGET[None], USERS])
    res = focus_positions(lay, 0, lo, hi, npas, pts, np.r_[1.0, 0.0, 0.0], dep.spacing[0], rho)
    x, h2 = res
    assert res.usable and res.objective == pytest.approx(h2[0], rel=1e-12)
    assert np.all(np.diff(x) >= dep.spacing[0] - 1e-9) and lo <= x.min() and x.max() <= hi + 1e-12
    assert np.allclose(np.abs(lay.guide_terms(0, x, pts, rho).sum(axis=0)) ** 2, h2, rtol=1e-12)
    grid = np.arange(lo, hi + 1e-12, wavelength(world.fc) / 16)
    for m in range(npas):
        a = x[m - 1] + dep.spacing[0] if m > 0 else lo
        b = x[m + 1] - dep.spacing[0] if m < npas - 1 else hi
        for g in grid[(grid >= a - 1e-12) & (grid <= b + 1e-12)]:
            y = x.copy()
            y[m] = g
            assert np.abs(lay.guide_terms(0, y, TARGET[None], rho).sum()) ** 2 <= h2[0] * (1 + 1e-9)


# --- issue 13: doing less for the same answers ----------------------------------------
def test_batched_outages_equal_the_physics_routine_on_the_full_covariance():
    from twin.optim.clustered import _outages
    from twin.physics.outage import outage_probability

    world = World(load_scene("paper001"))
    pb = build_problem(*_p(world), USERS, TARGET, T=4, r_min=2.0)
    rng = np.random.default_rng(3)
    W = np.zeros((40, pb.cov.shape[0]))
    for b in range(len(W)):                 # supports of 1-4 clusters, gains over 4 decades
        on = rng.choice(pb.cov.shape[0], rng.integers(1, 5), replace=False)
        W[b, on] = 10 ** rng.uniform(-1, 3, on.size)
    batched = _outages(pb, W)
    ref = np.array([outage_probability(w, pb.cov, pb.threshold) for w in W])
    assert np.all(ref > 0) and np.ptp(np.log10(ref)) > 3          # tiny and large outages both tested
    np.testing.assert_allclose(batched, ref, rtol=1e-9, atol=0)
    np.testing.assert_allclose(_outages(pb, W), batched, rtol=0, atol=0)   # the memo returns the same


def test_a_repeated_frame_reuses_the_decision_and_a_new_frame_is_solved():
    ctrl = controller(Scheme("clustered-outage", {"T": 4}), 2.0, {"radio.tx_power_dbm": 12})
    first = schedule(ctrl, USERS, TARGET)
    again = schedule(ctrl, USERS, TARGET)
    assert again.info.get("reused") and not first.info.get("reused")
    assert np.array_equal(again.clusters, first.clusters) and np.array_equal(again.tau, first.tau)
    assert again.outage == first.outage and again.wall_time_s < first.wall_time_s
    moved = schedule(ctrl, USERS + [0.3, 0.0, 0.0], TARGET)
    assert not moved.info.get("reused") and moved.outage != first.outage


@pytest.mark.parametrize("seed", [0, 1])
def test_distinct_clusters_schedule_uses_each_cluster_once_and_is_near_exhaustive(seed):
    world = World(load_scene("paper001", {
        "waveguides.0.pas": 4, "radio.tx_power_dbm": 12, "simulation.distinct_clusters": True,
        "waveguides.0.clusters": [{"center_m": c, "aperture_m": 0.5, "pas": 1} for c in (1.5, 4.0, 6.5, 9.0)]}))
    rng = np.random.default_rng(seed)
    target = np.r_[rng.uniform(1, 9), rng.uniform(-4, 4), 0.0]
    users = np.column_stack([rng.uniform(1, 9, 2), rng.uniform(-4, 4, 2), np.zeros(2)])
    grid = np.array([[[c - 0.25 + 0.5 * k / 2] for k in range(3)] for c in (1.5, 4.0, 6.5, 9.0)])
    pb = problem_from_positions(*_p(world), users, target, grid, T=3, r_min=1.0)
    assert pb.distinct
    ours, best = solve_schedule(pb), exhaustive_schedule(pb)
    assert ours.status == best.status == "ok"
    assert len(set(ours.clusters.tolist())) == 3 and len(set(best.clusters.tolist())) == 3
    assert ours.outage <= best.outage * 1.05 + 1e-12
    free = solve_schedule(pb, distinct_clusters=False)          # a superset of schedules
    assert free.outage <= ours.outage * (1 + 1e-9)
    with pytest.raises(ValueError, match="T ≤ C"):
        solve_schedule(problem_from_positions(*_p(world), users, target, grid, T=5, r_min=1.0))
