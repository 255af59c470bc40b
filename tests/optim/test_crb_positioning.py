"""MODEL §4.4: paper 000 Algorithms 1-4 — SCA feasibility, closed form (48), the
element-wise search never worsens its objective and evaluates candidates exactly like the
physics core, AO monotone, discrete mode stays on the lattice; the tracking step (issue 13)
stays within each PA's reach and never ends worse than the SDR where it started."""

import numpy as np
import pytest

from twin.optim.crb_positioning import (ReachGrid, SearchGrid, coarse_to_fine, crb_ao,
                                        crb_elementwise_positions, crb_track, penalty_positioning,
                                        reach_window, sca_sinr_projection, sdr_at)
from twin.optim.legal import LegalSet, lattice
from twin.physics import sinr_downlink

QUICK = dict(max_outer=2, max_inner=2)


def test_sca_projection_is_feasible_and_closer(paper000_crb, crb_drop):
    """Algorithm 1 returns Q meeting every SINR with (W, R_s) and no farther from ΣQ_m
    than its feasible start."""
    w, lay, setup, sdr = paper000_crb
    users, q = crb_drop(1)
    s = w.deployment.uniform_positions()
    res = sdr_at(lay, sdr, s, users, q, setup, w.sinr_target, w.power_w, w.noise_w)
    H = lay.terms(s, users).sum(axis=1)
    rng = np.random.default_rng(3)
    P = H * (1 + 0.5 * (rng.standard_normal(H.shape) + 1j * rng.standard_normal(H.shape)))
    assert np.any(sinr_downlink(P, res.W, w.noise_w, res.Rs) < w.sinr_target)   # P infeasible
    Q, hist = sca_sinr_projection(P, H * (1 + 1e-3), res.W, res.Rs, w.sinr_target, w.noise_w)
    assert np.all(sinr_downlink(Q, res.W, w.noise_w, res.Rs) >= w.sinr_target * (1 - 1e-6))
    assert np.all(np.diff(hist) <= 1e-12 * hist[0])
    assert hist[-1] < np.sum(np.abs(H - P) ** 2)


def test_candidates_match_the_physics_core(paper000_crb, crb_drop):
    """The vectorised candidate evaluation equals re-evaluating the full channel."""
    w, lay, *_ = paper000_crb
    users, q = crb_drop(2)
    s = w.deployment.uniform_positions()
    cand = np.array([4.0, 4.3, 5.0])
    T, hc, dhc = lay.candidates(s, 2, 1, cand, users, q)
    for i, x in enumerate(cand):
        s2 = s.copy()
        s2[2, 1] = x
        assert np.allclose(T[i], lay.terms(s2, users)[2], rtol=1e-12)
        h, dh = lay.target(s2, q)
        assert hc[i] == pytest.approx(h[2], rel=1e-12)
        assert np.allclose(dhc[:, i], dh[:, 2], rtol=1e-12)


def test_elementwise_search_never_increases_and_keeps_spacing(paper000_crb, crb_drop):
    w, lay, setup, sdr = paper000_crb
    users, q = crb_drop(3)
    dep = w.deployment
    s = dep.uniform_positions()
    res = sdr_at(lay, sdr, s, users, q, setup, w.sinr_target, w.power_w, w.noise_w)
    h, dh = lay.target(s, q)
    before = np.trace(setup.crb(res.R, h, dh, q))
    s2 = crb_elementwise_positions(lay, s, users, q, res.R, setup, SearchGrid(grid=301)).solution
    h2, dh2 = lay.target(s2, q)
    after = np.trace(setup.crb(res.R, h2, dh2, q))
    assert after <= before
    assert np.all(np.diff(s2, axis=1) >= dep.spacing[:, None] - 1e-12)
    assert np.all((s2 >= 0) & (s2 <= dep.length[:, None]))
    # guarded search keeps the current beamformers feasible
    s3 = crb_elementwise_positions(lay, s, users, q, res.R, setup, SearchGrid(grid=301),
                                   guard=(res.W, res.Rs, w.sinr_target, w.noise_w)).solution
    H3 = lay.terms(s3, users).sum(axis=1)
    assert np.all(sinr_downlink(H3, res.W, w.noise_w, res.Rs) >= w.sinr_target * (1 - 1e-6))


def test_penalty_positioning_drives_the_violation_down(paper000_crb, crb_drop):
    w, lay, setup, sdr = paper000_crb
    users, q = crb_drop(4)
    s = w.deployment.uniform_positions()
    res = sdr_at(lay, sdr, s, users, q, setup, w.sinr_target, w.power_w, w.noise_w)
    out = penalty_positioning(lay, s, users, q, res.W, res.Rs, setup, w.sinr_target, w.noise_w,
                              grid=SearchGrid(grid=301), max_outer=4, max_inner=2)
    assert out.violation < 0.5
    assert out.iterations >= 1 and len(out.history) == out.iterations


@pytest.mark.parametrize("seed", [0, 5])
def test_ao_objective_never_increases_and_beats_uniform(paper000_crb, seed, crb_drop):
    w, lay, setup, sdr = paper000_crb
    users, q = crb_drop(seed)
    s0 = w.deployment.uniform_positions()
    r = crb_ao(lay, s0, users, q, setup, w.sinr_target, w.power_w, w.noise_w, sdr=sdr,
               grid=SearchGrid(grid=301), max_iter=4, penalty=QUICK)
    assert r.sdr.ok and r.status.usable and r.iterations == len(r.history) - 1
    assert np.all(np.diff(r.history) <= 0)
    assert r.history[-1] < r.history[0]
    H = lay.terms(r.s, users).sum(axis=1)
    assert np.all(sinr_downlink(H, r.sdr.W, w.noise_w, r.sdr.Rs) >= w.sinr_target * (1 - 2e-3))
    h, dh = lay.target(r.s, q)
    assert np.trace(setup.crb(r.sdr.R, h, dh, q)) == pytest.approx(r.objective, rel=1e-9)


def test_discrete_mode_stays_on_lattice(paper000_crb, crb_drop):
    w, lay, setup, sdr = paper000_crb
    users, q = crb_drop(6)
    dep = w.deployment
    r = crb_ao(lay, dep.uniform_positions(), users, q, setup, w.sinr_target, w.power_w, w.noise_w,
               sdr=sdr, grid=SearchGrid(lattice_z=15), max_iter=3, penalty=QUICK)
    k = r.s / (dep.length[:, None] / 15)
    assert np.allclose(k, np.rint(k), atol=1e-9)
    assert np.all(np.diff(r.s, axis=1) > 0)
    snapped = LegalSet.of(dep).snap(dep.uniform_positions(), [lattice(L, 30) for L in dep.length])
    assert np.allclose(snapped / 0.5, np.rint(snapped / 0.5))


def test_warm_start_from_a_solution_does_not_lose_it(paper000_crb, crb_drop):
    w, lay, setup, sdr = paper000_crb
    users, q = crb_drop(0)
    r1 = crb_ao(lay, w.deployment.uniform_positions(), users, q, setup, w.sinr_target, w.power_w,
                w.noise_w, sdr=sdr, grid=SearchGrid(grid=301), max_iter=3, penalty=QUICK)
    r2 = crb_ao(lay, r1.s, users, q, setup, w.sinr_target, w.power_w, w.noise_w, sdr=sdr,
                grid=SearchGrid(grid=301), max_iter=2, penalty=QUICK)
    assert r2.objective <= r1.objective * (1 + 1e-4)


def test_coarse_to_fine_levels_are_nested_and_a_harder_solution_is_a_floor(paper000_crb, crb_drop):
    """Continuation: each level is at least as good as the coarser one (nested lattices).
    Warm start: a layout solved for a higher γ is feasible for the lower γ with at least
    as good a CRB (the SDR's feasible set only grows), so every level of the easier
    problem started from it ends no worse than the harder problem's level."""
    w, lay, setup, sdr = paper000_crb
    users, q = crb_drop(3)
    s0 = w.deployment.uniform_positions()
    kw = dict(sdr=sdr, grid=201, max_iter=2, penalty=QUICK)
    hard = coarse_to_fine(lay, s0, users, q, setup, w.sinr_target * 10.0, w.power_w, w.noise_w, **kw)
    assert hard[None].objective <= hard[30].objective <= hard[15].objective
    easy = coarse_to_fine(lay, s0, users, q, setup, w.sinr_target, w.power_w, w.noise_w,
                          warm={z: r.s for z, r in hard.items()}, **kw)
    dep = w.deployment
    for z in (15, 30, None):
        assert easy[z].sdr.ok
        assert easy[z].objective <= hard[z].objective
        at_warm = sdr_at(lay, sdr, hard[z].s, users, q, setup, w.sinr_target, w.power_w, w.noise_w)
        assert easy[z].objective <= at_warm.objective * (1 + 1e-9)
        if z is not None:
            k = easy[z].s / (dep.length[:, None] / z)
            assert np.allclose(k, np.rint(k), atol=1e-9)


def test_a_window_covering_the_guides_changes_nothing(paper000_crb, crb_drop):
    """The reachable-set window is a pure restriction: spanning whole guides it gives the
    search the same candidates, so the same positions (the paper figures' path)."""
    w, lay, setup, sdr = paper000_crb
    users, q = crb_drop(2)
    s = w.deployment.uniform_positions()
    res = sdr_at(lay, sdr, s, users, q, setup, w.sinr_target, w.power_w, w.noise_w)
    g = SearchGrid(grid=101)
    a = crb_elementwise_positions(lay, s, users, q, res.R, setup, g, rephase=True).solution
    b = crb_elementwise_positions(lay, s, users, q, res.R, setup, g, rephase=True,
                                  window=reach_window(lay, s, 100.0)).solution
    assert np.array_equal(a, b)
    assert not np.array_equal(a, s)                       # the search did move PAs


@pytest.mark.parametrize("steps", [("guarded", "free"), ("penalty",)])
def test_track_step_stays_in_reach_and_never_ends_worse(paper000_crb, steps, crb_drop):
    w, lay, setup, sdr = paper000_crb
    users, q = crb_drop(4)
    s0 = w.deployment.uniform_positions()
    reach = 0.05                                          # 0.5 m/s × 0.1 s
    r = crb_track(lay, s0, users, q, setup, w.sinr_target, w.power_w, w.noise_w, reach_m=reach, sdr=sdr,
                  steps=steps, penalty=QUICK)
    assert r.sdr.ok and r.iterations == 1
    assert np.max(np.abs(r.s - s0)) <= reach + 1e-12
    assert np.all(np.diff(r.s, axis=1) >= w.deployment.spacing[:, None] - 1e-12)
    start = sdr_at(lay, sdr, s0, users, q, setup, w.sinr_target, w.power_w, w.noise_w)
    assert r.history[0] == pytest.approx(start.objective, rel=1e-6)
    assert r.objective <= start.objective
    # the result's beams meet the SINR targets at its positions, its objective is their tr CRB
    H = lay.terms(r.s, users).sum(axis=1)
    assert np.all(sinr_downlink(H, r.sdr.W, w.noise_w, r.sdr.Rs) >= w.sinr_target * (1 - 2e-3))
    h, dh = lay.target(r.s, q)
    assert r.objective == pytest.approx(float(np.trace(setup.crb(r.sdr.R, h, dh, q)).real), rel=1e-6)


def test_guarded_track_step_bounds_the_sdr_at_its_positions(paper000_crb, crb_drop):
    """A guarded step accepted without a re-solve carries beams that are feasible at the new
    positions, so the SDR solved there is at least as good (the bound that makes the
    re-solve unnecessary), and repeated frames keep lowering the CRB of a still scene."""
    w, lay, setup, sdr = paper000_crb
    users, q = crb_drop(6)
    s = w.deployment.uniform_positions()
    objs = []
    for _ in range(3):
        r = crb_track(lay, s, users, q, setup, w.sinr_target, w.power_w, w.noise_w, reach_m=0.05, sdr=sdr,
                      steps=("guarded",), grid=ReachGrid(points=21, zoom=17))
        objs.append(r.objective)
        if r.sdr.info.get("rephased"):
            full = sdr_at(lay, sdr, r.s, users, q, setup, w.sinr_target, w.power_w, w.noise_w)
            assert full.ok and full.objective <= r.objective * (1 + 1e-4)
        s = r.s
    assert objs[-1] < objs[0]


def test_far_candidates_let_a_pa_leave_its_reach_for_a_better_place(paper000_crb, crb_drop):
    """``ReachGrid(far=…)``: candidates over the whole feasible interval as well; from a
    start where all PAs of each guide sit together at the feed, a tiny reach keeps them
    there without far candidates, and with them the step moves some PA beyond its reach
    and lowers tr CRB (the positions stay legal)."""
    w, lay, setup, sdr = paper000_crb
    users, q = crb_drop(4)
    dep = w.deployment
    s0 = lay.legal.legalize(np.zeros_like(dep.uniform_positions()))
    reach = 1e-3
    args = (lay, s0, users, q, setup, w.sinr_target, w.power_w, w.noise_w)
    near = crb_track(*args, reach_m=reach, sdr=sdr, grid=ReachGrid(points=11, zoom=9))
    far = crb_track(*args, reach_m=reach, sdr=sdr, grid=ReachGrid(points=11, zoom=9, far=61))
    assert np.max(np.abs(near.s - s0)) <= reach + 1e-12
    assert np.max(np.abs(far.s - s0)) > 10 * reach
    assert far.objective < near.objective
    assert np.all(np.diff(far.s, axis=1) >= dep.spacing[:, None] - 1e-12)
