"""What the isac-crb real-time shortcuts must keep (issue 13, rows 3-5).

- Behind walls (``office``) a candidate batch of the tracking search comes from the same
  per-guide line cache as in free space (MODEL §2.3, §2.5, §3.3): every link's blockage is
  a function of its two end points, so the batch equals the direct evaluation on Q copies
  of the guide bit for bit, blocked links included.
- The far candidates on a subset of the guides (the round robin ``track_far_every``): only
  those guides' PAs may leave their reach, the step still never ends worse than the SDR at
  its start, and the subset of all guides is the default step exactly.
- The fast-settings SDR (``fast_sdr``): its beams meet every SINR target and the budget,
  its tr CRB is the default settings' to 1e-4, and a fast solve that is not ``ok`` is
  repeated with the defaults (the controller then has the default path's answer).
"""

import numpy as np
import pytest

from twin.optim.crb_positioning import ReachGrid, crb_track, sdr_at
from twin.optim.layout import PassLayout
from twin.optim.sdr import CrbSdr
from twin.optim.sdr_conic import fast_solver_opts
from twin.physics import sinr_downlink
from twin.scene import load_scene
from twin.world import World


class Direct(PassLayout):
    """Candidate batches evaluated afresh on Q copies of the guide (the old path)."""

    memoise = False


def _office():
    w = World(load_scene("office"))
    rng = np.random.default_rng(3)
    users = np.column_stack([rng.uniform(0.5, 15.5, 4), rng.uniform(0.5, 9.5, 4), np.full(4, w.ue_height)])
    return w, users, np.array([12.5, 8.0, w.ue_height])


def test_walled_candidate_batches_equal_the_direct_evaluation_bit_for_bit(candidates_match):
    w, users, q = _office()
    dep = w.deployment
    assert w.floor is not None and w.floor.seg_a.shape[0] > 0

    def blocked(n, cand, users):                                    # links a wall is in the way of
        pos = dep.feed[n][None] + cand[:, None] * dep.direction[n][None]
        return int(np.sum(w.floor.blockage_amplitude(pos[:, None], np.vstack([users, q])[None]) < 1))

    assert candidates_match(PassLayout(dep, w.floor), Direct(dep, w.floor), dep, users, q, points=61, draws=5,
                            shift=[0.4, -0.3, 0.0], jitter=0.3, each=blocked) > 0                                              # the walls were in the way of some links


def test_far_candidates_on_a_subset_of_guides(paper000_crb, crb_drop):
    w, lay, setup, sdr = paper000_crb
    dep = w.deployment
    users, q = crb_drop(4)
    s0 = lay.legal.legalize(np.zeros_like(dep.uniform_positions()))       # every PA at its feed
    reach, grid = 1e-3, ReachGrid(points=5, zoom=5, far=31)
    args = (lay, s0, users, q, setup, w.sinr_target, w.power_w, w.noise_w)
    every = crb_track(*args, reach_m=reach, sdr=sdr, grid=grid)
    same = crb_track(*args, reach_m=reach, sdr=sdr, grid=grid, far_guides=range(dep.n_guides))
    assert np.array_equal(every.s, same.s) and every.objective == same.objective
    start = sdr_at(lay, sdr, s0, users, q, setup, w.sinr_target, w.power_w, w.noise_w).objective
    moved_guides = set()
    for n in range(dep.n_guides):
        r = crb_track(*args, reach_m=reach, sdr=sdr, grid=grid, far_guides=[n])
        assert r.sdr.ok and r.objective <= start
        far = np.abs(r.s - s0) > reach + 1e-12
        assert not np.any(np.delete(far, n, axis=0))                          # only guide n left its reach
        assert np.all(np.diff(r.s, axis=1) >= dep.spacing[:, None] - 1e-12)
        moved_guides |= set(np.flatnonzero(far.any(axis=1)))
    assert moved_guides                                                       # the far candidates were used


def test_fast_sdr_meets_the_constraints_and_the_default_optimum(paper000_crb, crb_drop):
    w, lay, setup, sdr = paper000_crb
    fast = CrbSdr(4, 3, solver_opts=fast_solver_opts())
    s = w.deployment.uniform_positions()
    for seed in range(6):
        users, q = crb_drop(seed)
        H = lay.terms(s, users).sum(axis=1)
        h, dh = lay.target(s, q)
        a = fast.solve(H, h, dh, q, setup, w.sinr_target, w.power_w, w.noise_w)
        b = sdr.solve(H, h, dh, q, setup, w.sinr_target, w.power_w, w.noise_w)
        assert a.ok == b.ok
        if not b.ok:
            continue
        assert np.all(sinr_downlink(H, a.W, w.noise_w, a.Rs) >= w.sinr_target * (1 - 2e-3))
        assert np.real(np.trace(a.R)) <= w.power_w * (1 + 2e-3)
        assert a.objective == pytest.approx(b.objective, rel=1e-4)


def test_a_failed_fast_solve_is_repeated_with_the_defaults(monkeypatch, crb_drop):
    from twin.controller.solvers import Solvers
    from twin.optim import sdr as sdrmod

    w = World(load_scene("paper000"))
    bridge = Solvers(w)
    users, q = crb_drop(1)
    state = w.tx.initial_state()
    H = w.tx.channel_to(state, users)
    ref = bridge.crb_sdr(w.tx, state, H, q, w.sinr_target)
    assert ref.ok
    real = sdrmod.CrbSdr.solve
    calls = []

    def stalling(self, *a, **k):                       # the fast solver stalls, the default one works
        fast = "tol_feas" in self.solver_opts
        calls.append(fast)
        res = real(self, *a, **k)
        return sdrmod._failed(sdrmod.Status.SOLVER_FAILED, 0.0, "stalled") if fast else res

    monkeypatch.setattr(sdrmod.CrbSdr, "solve", stalling)
    got = bridge.crb_sdr(w.tx, state, H, q, w.sinr_target, fast=True)
    assert calls == [True, False]
    assert got.ok and got.objective == ref.objective and np.array_equal(got.W, ref.W)
    s0 = w.deployment.uniform_positions()
    tr = bridge.crb_track(s0, users, q, w.sinr_target, reach_m=0.05, z=0, points=11, steps=["guarded"], fast=True)
    assert tr.sdr.ok and not tr.sdr.info.get("detail")
