"""What the isac-crb real-time shortcuts must keep (issue 13, rows 3-5).

- Behind walls (``office``) a candidate batch of the tracking search comes from the same
  per-guide line cache as in free space (MODEL §2.3, §2.5, §3.3): every link's blockage is
  a function of its two end points, so the batch equals the direct evaluation on Q copies
  of the guide bit for bit, blocked links included.
"""

import numpy as np

from twin.optim.layout import PassLayout
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


def test_walled_candidate_batches_equal_the_direct_evaluation_bit_for_bit():
    w, users, q = _office()
    dep = w.deployment
    assert w.floor is not None and w.floor.seg_a.shape[0] > 0
    fast, ref = PassLayout(dep, w.floor), Direct(dep, w.floor)
    rng = np.random.default_rng(0)
    s = dep.uniform_positions()
    blocked = 0
    for rep in range(3):                                            # later reps hit the cache
        if rep == 2:                                                # new users: the cache must not answer
            users = users + np.array([0.4, -0.3, 0.0])
        for n in range(dep.n_guides):
            for m in range(dep.installed.shape[1]):
                cand = np.r_[np.linspace(0.0, dep.length[n], 61), rng.uniform(0.0, dep.length[n], 5), s[n, m]]
                for a, b in zip(fast.candidates(s, n, m, cand, users, q), ref.candidates(s, n, m, cand, users, q)):
                    assert a.shape == b.shape and np.array_equal(a, b)
                pos = dep.feed[n][None] + cand[:, None] * dep.direction[n][None]
                blocked += int(np.sum(w.floor.blockage_amplitude(pos[:, None], np.vstack([users, q])[None]) < 1))
        s = np.sort(s + rng.uniform(-0.3, 0.3, s.shape) * dep.installed, axis=1)
    assert blocked > 0                                              # the walls were in the way of some links
