"""Tracking a paper-001 schedule over frames (twin/optim/clustered_track.py, issue 13):
the shortened CDF and the size-batched outages equal the cold routines; a refreshed
problem is the physics of its PA positions and respects the PAs' reach; tracking equals
the cold search when nothing moved, stays rate-feasible while users walk, is never worse
than keeping the previous schedule unchanged, and its Newton re-timing matches the full
duration optimisation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from twin.experiments.figures.paper001 import controller, proposed
from twin.optim import clustered as cl
from twin.optim import clustered_track as ct
from twin.physics.outage import cdf_rows

WINDOW = 0.5 * 0.008          # paper001: PA speed 0.5 m/s × 8 ms frame


def _call(ctrl, users, q, track=None):
    return ctrl.ctx.solvers.outage_schedule(
        np.atleast_2d(users), np.asarray(q, float), T=4, rule="proposed", pas_per_cluster=0, focus=True,
        fixed_ula=False, objective="exact", decay=None, points_per_cluster=0, method="search", track=track)


def _drop(ctrl, seed):
    rng = np.random.default_rng(seed)
    pts = ctrl.world.floor.sample_free(rng, 3, 0.5)
    pts = np.column_stack([pts, np.full(3, ctrl.world.ue_height)])
    return pts[0], pts[1:], rng


def _walk(users, rng, heading, frames, speed=1.2, dt=0.008):
    """Users walking at ``speed`` with a slowly turning heading, kept inside the floor."""
    out = []
    for _ in range(frames):
        heading = heading + rng.normal(0.0, 0.3, len(users))
        users = users + speed * dt * np.column_stack([np.cos(heading), np.sin(heading), np.zeros(len(users))])
        users[:, 0] = np.clip(users[:, 0], 0.3, 9.7)
        users[:, 1] = np.clip(users[:, 1], -4.7, 4.7)
        out.append(users.copy())
    return out


@pytest.fixture(scope="module")
def tight():
    """paper001 at 15 dBm with R_min = 2 bit/s/Hz: rate constraints active."""
    return lambda: controller(proposed(4), 2.0, {"radio.tx_power_dbm": 15})


def test_short_cdf_equals_the_cold_routine():
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 4):
        for scale in (0.05, 1.0, 20.0):
            lam = np.sort(rng.uniform(0.2, 5.0, (40, n)) * scale, axis=1)
            a, b = cdf_rows(lam, 10.0), ct.cdf_batch(lam, 10.0)
            np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-300)
            assert np.all((b >= 0) & (b <= 1))


def test_size_batched_outages_equal_the_per_support_batches(tight):
    ctrl = tight()
    q, users, rng = _drop(ctrl, 0)
    pb = _call(ctrl, users, q).problem
    C = pb.gains.shape[0]
    W = np.zeros((30, C))
    for w in W:                                  # supports of 1-4 clusters, mixed in one batch
        on = rng.choice(C, rng.integers(1, 5), replace=False)
        w[on] = rng.uniform(0.1, 3.0, on.size)
    fresh = lambda: dataclasses.replace(pb, cache={})          # noqa: E731
    np.testing.assert_allclose(ct.outages_by_size(fresh(), W), cl._outages(fresh(), W), rtol=1e-10)


def test_refreshed_problem_is_the_physics_of_its_positions_within_reach(tight):
    ctrl = tight()
    sol = ctrl.ctx.solvers
    q, users, rng = _drop(ctrl, 1)
    res = _call(ctrl, users, q)
    pts = np.vstack([q[None], users])
    for new_q in (q, q + np.array([0.004, -0.003, 0.0])):        # users walk; then the target too
        new_users = _walk(users, rng, rng.uniform(0, 2 * np.pi, 2), 1)[0]
        pb = ct.refresh_problem(sol.layout, sol.cluster_setup, res.problem, pts, new_users, new_q, window=[WINDOW],
                                held=(res.clusters, res.configs))
        ref = cl.problem_from_positions(sol.layout, sol.cluster_setup, new_users, new_q, pb.positions, T=4,
                                        r_min=2.0, threshold_db=float(ctrl.world.scene.requirements.sensing_threshold_db))
        np.testing.assert_allclose(pb.gains, ref.gains, rtol=1e-9)
        np.testing.assert_allclose(pb.snr, ref.snr, rtol=1e-9)
        np.testing.assert_allclose(pb.cov, ref.cov, rtol=1e-12)
        J = len(res.problem.config_names)
        moved = np.abs(pb.positions[:, :J] - res.problem.positions)
        assert np.nanmax(moved) <= WINDOW + 1e-9 and np.nanmax(moved) > 0
        # the held column is each used cluster's configuration as it was
        jp = pb.config_names.index(ct.HELD)
        for c, j in zip(res.clusters, res.configs):
            np.testing.assert_array_equal(pb.positions[c, jp], res.problem.positions[c, j])
        dep = sol.layout.deployment
        bounds = [b for guide in dep.cluster_bounds for b in guide]
        for i, (lo, hi) in enumerate(bounds):
            for x in pb.positions[i]:
                x = x[np.isfinite(x)]
                if x.size:
                    assert np.all(x >= lo - 1e-12) and np.all(x <= hi + 1e-12)
                    assert np.all(np.diff(x) >= dep.spacing[0] - 1e-12)


def test_unmoved_frames_equal_the_cold_search(tight):
    ctrl, ref = tight(), tight()
    q, users, _ = _drop(ctrl, 2)
    track = ct.TrackSettings(np.array([WINDOW]))
    first = _call(ctrl, users, q, track)
    again = _call(ctrl, users, q, track)
    cold = _call(ref, users, q)
    for r in (first, again):
        for a, b in ((r.clusters, cold.clusters), (r.configs, cold.configs), (r.users, cold.users), (r.tau, cold.tau)):
            np.testing.assert_array_equal(a, b)
        assert r.outage == cold.outage and not r.info.get("tracked")
    # the tracker itself, handed an unmoved frame, keeps the cold schedule
    sol = ctrl.ctx.solvers
    pts = np.vstack([q[None], users])
    pb = ct.refresh_problem(sol.layout, sol.cluster_setup, cold.problem, pts, users, q, window=[WINDOW],
                            held=(cold.clusters, cold.configs))
    tr = ct.track_schedule(pb, cold.solution)
    np.testing.assert_array_equal(tr.clusters, cold.clusters)
    np.testing.assert_array_equal(tr.configs, cold.configs)
    np.testing.assert_allclose(tr.tau, cold.tau, rtol=1e-6)
    assert tr.outage <= cold.outage * (1 + 1e-9)
    assert tr.outage == pytest.approx(cold.outage, rel=1e-6)


def test_tracked_walk_is_feasible_and_never_worse_than_holding_the_previous_schedule(tight):
    ctrl = tight()
    sol = ctrl.ctx.solvers
    setup, layout = sol.cluster_setup, sol.layout
    thr = float(ctrl.world.scene.requirements.sensing_threshold_db)
    track = ct.TrackSettings(np.array([WINDOW]))
    q, users, rng = _drop(ctrl, 6)                   # user 1's rate constraint is tight at the optimum
    prev = _call(ctrl, users, q, track)
    assert np.min(prev.rates) == pytest.approx(2.0, rel=1e-6)
    hows = set()
    for u in _walk(users, rng, rng.uniform(0, 2 * np.pi, 2), 25):
        res = _call(ctrl, u, q, track)
        assert res.info.get("tracked") and res.usable
        hows.add(res.info["durations"])
        pb = res.problem
        assert res.tau.sum() == pytest.approx(pb.t_tot, rel=1e-9) and np.all(res.tau >= pb.tau_min * (1 - 1e-9))
        # rates and outage from the physics of the decided positions, not the tracker's arrays
        phys = cl.problem_from_positions(layout, setup, u, q, pb.positions, T=4, r_min=2.0, threshold_db=thr)
        rates = cl.average_rates(phys, res.clusters, res.configs, res.users, res.tau)
        assert np.all(rates >= 2.0 * (1 - 1e-8))
        out = cl.outage_probability(cl.schedule_weights(phys, res.clusters, res.configs, res.tau), phys.cov,
                                    phys.threshold)
        assert out == pytest.approx(res.outage, rel=1e-8)
        # the previous schedule unchanged (its PAs where they were, its durations), if still feasible
        held = cl.problem_from_positions(layout, setup, u, q, prev.problem.positions, T=4, r_min=2.0,
                                         threshold_db=thr)
        if cl._feasible(held, prev.clusters, prev.configs, prev.users, prev.tau):
            w = cl.schedule_weights(held, prev.clusters, prev.configs, prev.tau)
            assert res.outage <= cl.outage_probability(w, held.cov, held.threshold) * (1 + 1e-9)
        # re-timing from the previous optimum: as good as the full duration optimisation of the
        # same schedule (to its tolerance)
        if res.info["durations"] == "newton" and not res.info["moves"]:
            _, p_full = cl.optimise_durations(pb, res.clusters, res.configs, res.users)
            assert res.outage <= p_full * (1 + 1e-6)
        prev = res
    assert "newton" in hows                          # the tight constraints exercised the Newton step


def test_a_jump_or_a_due_resolve_runs_the_cold_search(tight):
    ctrl, ref = tight(), tight()
    q, users, _ = _drop(ctrl, 4)
    track = ct.TrackSettings(np.array([WINDOW]), jump_m=0.25, resolve_frames=3)
    _call(ctrl, users, q, track)
    far = users + np.array([[0.3, 0.0, 0.0], [0.0, 0.0, 0.0]])
    res = _call(ctrl, far, q, track)
    cold = _call(ref, far, q)
    assert not res.info.get("tracked") and res.outage == cold.outage
    near = far + 0.005
    flags = [_call(ctrl, near + 0.005 * i, q, track).info.get("tracked", False) for i in range(4)]
    assert flags == [True, True, False, True]        # the third tracked frame in a row is a cold search
