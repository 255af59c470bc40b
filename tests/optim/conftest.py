"""Shared set-up of the CRB positioning tests: the paper000 world with its layout, CRB
set-up and SDR (N = 4, K = 3), and seeded drops of 3 users and a target."""

import numpy as np
import pytest

from twin.optim.crb_positioning import PassLayout
from twin.optim.sdr import CrbSdr
from twin.problems import crb_setup
from twin.scene import load_scene
from twin.world import World

from paper000_drops import paper000_drop


@pytest.fixture(scope="module")
def paper000_crb():
    """(world, PassLayout, CrbSetup, CrbSdr) of the paper000 scene."""
    w = World(load_scene("paper000"))
    return w, PassLayout(w.deployment, w.floor), crb_setup(w), CrbSdr(4, 3)


@pytest.fixture(scope="module")
def crb_drop():
    """:func:`paper000_drops.paper000_drop` (3 users), for tests to call with a seed."""
    return paper000_drop


@pytest.fixture(scope="module")
def sdr_args(paper000_crb):
    """``args(K, seed, setup=None)``: a CrbSdr.solve instance on the paper000 scene — K users
    and a target drawn on stream ``seed``, the PAs uniform: (H, h, dh, q, setup, γ, P, σ²)."""
    w, lay, setup0, _ = paper000_crb

    def args(K, seed, setup=None):
        users, q = paper000_drop(seed, K)
        s = w.deployment.uniform_positions()
        H = lay.terms(s, users).sum(axis=1)
        h, dh = lay.target(s, q)
        return (H, h, dh, q, setup or setup0, float(np.atleast_1d(w.sinr_target)[0]), w.power_w, w.noise_w)
    return args


@pytest.fixture
def crb_sdr_calls(monkeypatch):
    """The keyword arguments of every ``Solvers.crb_sdr`` call of the test, in order (each
    call goes through); clear the list to count from a point on."""
    from twin.controller.solvers import Solvers

    calls = []
    real = Solvers.crb_sdr

    def spy(self, *a, **k):
        calls.append(k)
        return real(self, *a, **k)

    monkeypatch.setattr(Solvers, "crb_sdr", spy)
    return calls


@pytest.fixture
def candidates_match():
    """``check(fast, ref, dep, users, q, *, points, draws, shift, jitter, each=None)``:
    the candidate batches of ``fast`` equal ``ref``'s bit for bit for every PA over three
    rounds of layouts (``points`` grid + ``draws`` random candidates + the PA's own
    position; the third round with the users moved by ``shift``, so a cache must not
    answer), the layout jittered by ±``jitter`` between rounds. ``each(n, cand, users)``
    is called per batch; the sum of what it returns is returned."""
    def check(fast, ref, dep, users, q, *, points, draws, shift, jitter, each=None):
        rng = np.random.default_rng(0)
        s = dep.uniform_positions()
        total = 0
        for rep in range(3):                                        # later reps hit the cache
            if rep == 2:                                            # new users: the cache must not answer
                users = users + np.asarray(shift)
            for n in range(dep.n_guides):
                for m in range(dep.installed.shape[1]):
                    cand = np.r_[np.linspace(0.0, dep.length[n], points), rng.uniform(0.0, dep.length[n], draws),
                                 s[n, m]]
                    for a, b in zip(fast.candidates(s, n, m, cand, users, q), ref.candidates(s, n, m, cand, users, q)):
                        assert a.shape == b.shape and np.array_equal(a, b)
                    if each is not None:
                        total += each(n, cand, users)
            s = np.sort(s + rng.uniform(-jitter, jitter, s.shape) * dep.installed, axis=1)
        return total

    return check
