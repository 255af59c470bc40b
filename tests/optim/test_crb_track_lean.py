"""The tracking step's lean candidate batches (issue 13 rows 3-4, "Position search, fifth
round") give the same answers as the path before them, bit for bit.

- The pieces: a target-only batch (a search without guard or penalty) equals the target
  entries of the full batch; a batch evaluated directly equals the line cache's; guide n's
  kept constants give ``guide_response`` exactly; one ``np.unique`` over the union of the
  coarse, far and zoom candidates is the nested form's array (walls included: ``office``).
- The whole step: seeded walking-user frames of ``crb_track`` (paper000: N = 4, K = 3,
  free space; office: walls, N = 4, K = 4) with the lean path and with the previous one
  (line cache, user terms always, nested uniques, a memo per step), frame after frame on
  one layout as a run calls it: the same positions, tr CRB, accepted step, beams.
"""

import numpy as np
import pytest

import twin.optim.crb_positioning as cp
from twin.optim.crb_positioning import ReachGrid, crb_track
from twin.optim.layout import PassLayout
from twin.optim.sdr import CrbSdr
from twin.physics.channel import guide_response, power_split_factor
from twin.problems import crb_setup
from twin.scene import load_scene
from twin.world import World

from paper000_drops import paper000_drop


@pytest.fixture(scope="module")
def office_world():
    return World(load_scene("office"))


def _office_drop(w, rng):
    users = np.column_stack([rng.uniform(0.5, 15.5, w.n_users), rng.uniform(0.5, 9.5, w.n_users),
                             np.full(w.n_users, w.ue_height)])
    return users, np.array([rng.uniform(0.5, 15.5), rng.uniform(0.5, 9.5), w.ue_height])


@pytest.mark.parametrize("scene", ["paper000", "office"])
def test_lean_rows_equal_the_cached_rows_bit_for_bit(scene, paper000_crb, office_world):
    w = paper000_crb[0] if scene == "paper000" else office_world
    dep = w.deployment
    rng = np.random.default_rng(5)
    users, q = (rng.uniform([5, -7.5, 0], [20, 7.5, 0], (3, 3)), np.array([12.0, 2.0, 0.0])) \
        if scene == "paper000" else _office_drop(w, rng)
    s = dep.uniform_positions()
    cached, lean, target = PassLayout(dep, w.floor), PassLayout(dep, w.floor), PassLayout(dep, w.floor)
    for n in range(dep.n_guides):
        ref_f = guide_response(s[n][None], dep.fc, dep.n_eff[n], dep.attenuation[n])[0]
        assert np.array_equal(lean._guide(n, s[n]), ref_f * power_split_factor(dep.installed)[n, 0])
        for m in range(dep.installed.shape[1]):
            cand = np.r_[np.linspace(0.0, dep.length[n], 41), rng.uniform(0.0, dep.length[n], 7), s[n, m]]
            ref = cached.candidate_rows(s, n, m, cand, users, q)
            got = lean.candidate_rows(s, n, m, cand, users, q, lines=False)
            tgt = target.candidate_rows(s, n, m, cand, users, q, lines=False, need_users=False)
            for a, b in zip(ref, got):
                assert np.array_equal(a, b)
            assert tgt[0] is None and tgt[1] is None
            assert np.array_equal(tgt[2], ref[2]) and np.array_equal(tgt[3], ref[3])
    assert not lean.__dict__.get("_line_cache") and cached.__dict__.get("_line_cache")   # lean: no line cache


def test_fused_candidate_sets_equal_the_nested_uniques():
    rng = np.random.default_rng(7)
    grid = ReachGrid(points=41, zoom=33)
    fine = 0.01 / 32
    for _ in range(200):
        lo, hi = np.sort(rng.uniform(0.0, 15.0, 2))
        a = rng.uniform(lo, hi)
        b = min(hi, a + rng.uniform(0.0, 0.3))
        x = rng.uniform(a, b) if rng.random() < 0.8 else a
        far = int(rng.integers(2, 120))
        nested = np.unique(np.concatenate([grid.coarse(15.0, a, b, x), np.linspace(lo, hi, far)]))
        assert np.array_equal(grid.coarse_far(a, b, x, lo, hi, far), nested)
        centres = [rng.uniform(lo, hi), x]
        parts = [grid.refine([c], 15.0, *((a, b) if a <= c <= b else (lo, hi)), fine, width=b - a) for c in centres]
        assert np.array_equal(grid.refine_far(centres, a, b, lo, hi, fine), np.unique(np.concatenate(parts)))


def _previous_path(monkeypatch):
    """The tracking step as it was before the lean batches: the line cache, user terms
    always, nested uniques, each step with its own memo."""
    orig_rows = PassLayout.candidate_rows
    monkeypatch.setattr(PassLayout, "candidate_rows",
                        lambda self, s, n, m, cand, users, q, lines=True, need_users=True:
                        orig_rows(self, s, n, m, cand, users, q))
    monkeypatch.setattr(PassLayout, "_guide", lambda self, n, x: guide_response(
        x[None], self.deployment.fc, self.deployment.n_eff[n], self.deployment.attenuation[n])[0]
        * self._split(n))
    monkeypatch.setattr(ReachGrid, "coarse_far", lambda self, a, b, x, lo, hi, far: np.unique(
        np.concatenate([self.coarse(0.0, a, b, x), np.linspace(lo, hi, far)])))
    monkeypatch.setattr(ReachGrid, "refine_far", lambda self, centres, a, b, lo, hi, fine: np.unique(np.concatenate(
        [self.refine([c], 0.0, *((a, b) if a <= c <= b else (lo, hi)), fine, width=b - a) for c in centres])))
    orig_memo = cp._memo_setup
    monkeypatch.setattr(cp, "_memo_setup", lambda setup: orig_memo(
        cp.CrbSetup(**{f: getattr(setup, f) for f in cp.CrbSetup.__dataclass_fields__})
        if type(setup) is cp._TargetMemo else setup))


def _walk(w, setup, users, q, frames, seed, far_every=1):
    """Positions, tr CRB, step and beams of ``frames`` tracking frames (users walking
    ~10 cm per frame, the target 5 cm) on one layout, as the position stage calls them."""
    dep = w.deployment
    lay, sdr = PassLayout(dep, w.floor), CrbSdr(dep.n_guides, len(users))
    rng = np.random.default_rng(seed)
    grid = ReachGrid(points=41, far=101)
    reach = np.asarray(dep.speed, float) * 0.1 * 3.0
    s = dep.uniform_positions()
    out = []
    for f in range(frames):
        guides = None if far_every <= 1 else [n for n in range(dep.n_guides) if (f + n) % far_every == 0]
        r = crb_track(lay, s, users, q, setup, w.sinr_target, w.power_w, w.noise_w, reach_m=reach, sdr=sdr,
                      grid=grid, **({} if guides is None else {"far_guides": guides}))
        assert r.sdr.ok
        out.append((r.s.copy(), r.objective, r.steps, r.info["sdr_solves"], r.sdr.W.copy(), r.sdr.Rs.copy()))
        s = r.s
        users = users + np.column_stack([rng.normal(0, 0.1, (len(users), 2)), np.zeros(len(users))])
        q = q + np.r_[rng.normal(0, 0.05, 2), 0.0]
    return out


@pytest.mark.parametrize("scene,far_every", [("paper000", 1), ("paper000", 4), ("office", 1)])
def test_tracking_frames_match_the_previous_path_bit_for_bit(scene, far_every, paper000_crb, office_world,
                                                             monkeypatch):
    if scene == "paper000":
        w = paper000_crb[0]
        users, q = paper000_drop(2)
    else:
        w = office_world
        users, q = _office_drop(w, np.random.default_rng(11))
    setup = crb_setup(w)
    frames = 8
    lean = _walk(w, setup, users, q, frames, 3, far_every)
    with monkeypatch.context() as mp:
        _previous_path(mp)
        before = _walk(w, setup, users, q, frames, 3, far_every)
    for a, b in zip(lean, before):
        assert np.array_equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2] and a[3] == b[3]
        assert np.array_equal(a[4], b[4]) and np.array_equal(a[5], b[5])
    steps = {a[2][0] for a in lean}
    assert {"guarded", "free"} <= steps                       # both searches moved PAs somewhere in the walk


def test_linspace_and_sorted_set_are_numpys():
    """The tracking grid's :func:`_linspace` and :func:`_sorted_set` return
    ``np.linspace`` / ``np.unique``'s arrays (random intervals, degenerate ones, the
    search's sizes, duplicates)."""
    rng = np.random.default_rng(9)
    for _ in range(500):
        a = float(rng.uniform(-20, 20))
        b = a if rng.random() < 0.1 else float(rng.uniform(-20, 20))
        num = int(rng.choice([1, 2, 3, 5, 17, 33, 41, 101, int(rng.integers(1, 300))]))
        assert np.array_equal(cp._linspace(a, b, num), np.linspace(a, b, num))
        x = np.concatenate([rng.uniform(min(a, b), max(a, b) + 1e-3, num), rng.choice([a, b], 3), np.linspace(a, b, 7)])
        assert np.array_equal(cp._sorted_set(x), np.unique(x))
    assert cp._sorted_set(np.empty(0)).size == 0
