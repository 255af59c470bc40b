"""The CRB search's shortcuts compute what the direct evaluation computes (issue 13: speed
from doing less, not worse): in free space a candidate batch is assembled from a per-drop
cache of per-PA line terms (MODEL §2.3, §3.3), and the receiver terms of the target are
built once per search (MODEL §2.4). The reference below is the pre-cache evaluation,
written out: Q copies of the guide through the physics core."""

import numpy as np
import pytest

from twin.optim.crb_positioning import SearchGrid, crb_ao
from twin.optim.layout import PassLayout
from twin.optim.sdr import CrbSdr, CrbSetup
from twin.physics.channel import pa_channel_terms
from twin.physics.sensing import target_channel_and_gradient
from twin.problems import crb_setup
from twin.scene import load_scene
from twin.world import World


class Direct(PassLayout):
    """Candidate batches evaluated afresh on Q copies of the guide, every SDR solved
    (the old path)."""

    memoise = False

    def candidates(self, s, n, m, cand, users, q):
        dep = self.deployment
        Qn = len(cand)
        S = np.repeat(np.asarray(s, float)[n:n + 1], Qn, axis=0)
        S[:, m] = cand
        act = np.repeat(dep.installed[n:n + 1], Qn, axis=0)
        feed = np.repeat(dep.feed[n:n + 1], Qn, axis=0)
        u = np.repeat(dep.direction[n:n + 1], Qn, axis=0)
        T = pa_channel_terms(feed, u, S, np.atleast_2d(users), dep.fc, n_eff=dep.n_eff[n],
                             attenuation_db_per_m=dep.attenuation[n], active=act)
        h, dh = target_channel_and_gradient(feed, u, S, q, dep.fc, n_eff=dep.n_eff[n],
                                            attenuation_db_per_m=dep.attenuation[n], active=act)
        return T, h, dh


class PlainSetup(CrbSetup):
    """A CrbSetup subclass: the search leaves its receiver unmemoised."""


def _drop(seed):
    w = World(load_scene("paper000"))
    rng = np.random.default_rng(seed)
    xy = np.array(w.scene.floor.outline)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    users = np.column_stack([rng.uniform(lo, hi, size=(w.n_users, 2)), np.full(w.n_users, w.ue_height)])
    q = np.r_[rng.uniform(lo, hi), w.ue_height]
    return w, users, q


@pytest.mark.parametrize("cap", [None, 60])
def test_cached_candidate_batches_equal_the_direct_evaluation_bit_for_bit(cap, monkeypatch, candidates_match):
    if cap is not None:                                             # a full cache: hits and fresh misses mixed
        monkeypatch.setattr("twin.optim.layout._LINE_CAP", cap)
    w, users, q = _drop(5)
    dep = w.deployment
    assert w.floor is None or w.floor.seg_a.shape[0] == 0          # the free-space path is taken
    candidates_match(PassLayout(dep, w.floor), Direct(dep, w.floor), dep, users, q,
                     points=41, draws=7, shift=[0.3, -0.2, 0.0], jitter=0.2)


def test_crb_ao_with_the_shortcuts_equals_the_old_path():
    """Algorithm 4 (continuous and Z = 15) on a small grid: positions and RCRB equal to the
    run through the direct candidate evaluation, an unmemoised receiver and every SDR
    solved; the continuation's repeated starts are served from the SDR memo."""
    w, users, q = _drop(11)
    setup = crb_setup(w)
    plain = PlainSetup(**{k: getattr(setup, k) for k in setup.__dataclass_fields__})
    args = (w.sinr_target, w.power_w, w.noise_w)
    s0 = w.deployment.uniform_positions()
    solves = {"fast": 0, "ref": 0}

    class Counting(CrbSdr):
        def __init__(self, tag):
            super().__init__(w.deployment.n_guides, w.n_users)
            self.tag = tag

        def solve(self, *a, **k):
            solves[self.tag] += 1
            return super().solve(*a, **k)

    fast, ref = PassLayout(w.deployment, w.floor), Direct(w.deployment, w.floor)
    sdr_fast, sdr_ref = Counting("fast"), Counting("ref")
    for grid in (SearchGrid(lattice_z=15), SearchGrid(grid=61, zoom=17)):
        kw = dict(grid=grid, max_iter=2, penalty=dict(max_outer=2, max_inner=2))
        a = crb_ao(fast, s0, users, q, setup, *args, sdr=sdr_fast, **kw)
        b = crb_ao(ref, s0, users, q, plain, *args, sdr=sdr_ref, **kw)
        s0 = a.s                                     # continuation: the next level starts here
        assert a.sdr.ok and b.sdr.ok and a.iterations >= 1
        assert np.allclose(a.s, b.s, rtol=1e-12, atol=0)
        assert abs(a.rcrb_m - b.rcrb_m) <= 1e-12 * b.rcrb_m
        assert a.steps == b.steps and np.allclose(a.history, b.history, rtol=1e-12, atol=0)
    assert solves["fast"] < solves["ref"]              # the level's start is the last level's solution, solved once


def test_gram_crb_trace_equals_the_fisher_blocks_path():
    """The scorer's tr CRB from one Gram matrix per candidate equals the Fisher-block path
    (:meth:`CrbSetup.fisher`, the physics core's blocks) to rounding, batched and single."""
    from twin.optim.crb_positioning import _crb_trace
    w, users, q = _drop(2)
    dep = w.deployment
    lay, setup = PassLayout(dep, w.floor), crb_setup(w)
    plain = PlainSetup(**{k: getattr(setup, k) for k in setup.__dataclass_fields__})
    rng = np.random.default_rng(4)
    A = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    s = dep.uniform_positions()
    h, dh = lay.target(s, q)
    for R in (A @ A.conj().T * 1e-2, np.eye(4) * 0.25):
        assert np.isclose(_crb_trace(setup, R, h, dh, q), _crb_trace(plain, R, h, dh, q), rtol=1e-12, atol=0)
        for n in range(dep.n_guides):
            cand = np.linspace(0.0, dep.length[n], 201)
            _, hc, dhc = lay.candidates(s, n, 2, cand, users, q)
            hb = np.repeat(h[None], cand.size, axis=0)
            hb[:, n] = hc
            dhb = np.repeat(dh[None], cand.size, axis=0)
            dhb[:, :, n] = dhc.T
            a, b = _crb_trace(setup, R, hb, dhb, q), _crb_trace(plain, R, hb, dhb, q)
            assert np.all(np.isfinite(b)) and np.allclose(a, b, rtol=1e-12, atol=0)
