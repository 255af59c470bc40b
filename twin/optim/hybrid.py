"""Fixed-antenna hybrid MIMO baseline (hMIMO; paper 002 §V-A, MODEL §2.6): N RF chains,
each driving an M-element λ/2 sub-array at the BS through phase shifters (partially
connected), followed by the same digital beamformers as PASS.

Analog rule: sub-array n is conjugate-matched (phase only) to user ``n mod K`` — each RF
chain steers its sub-array at "its" user, the usual partially-connected design when
N ≥ K — using the antenna layout and phase rule of :mod:`twin.optim.isac_baselines`
(shared with paper 000's mMIMO baseline)."""

from __future__ import annotations

import numpy as np

from twin.optim.elementwise import LinkSetup, beamformer, sum_rate
from twin.optim.isac_baselines import FixedArray, analog_weights, bs_array_positions


def hmimo_array(world, users, n_rf: int | None = None, per_rf: int | None = None) -> FixedArray:
    """The hMIMO array for users (K,3): N = number of guides, M = PAs per guide by
    default (the same number of radiating elements as the PASS it is compared with)."""
    dep = world.deployment
    N = dep.n_guides if n_rf is None else int(n_rf)
    M = dep.max_pas if per_rf is None else int(per_rf)
    users = np.atleast_2d(np.asarray(users, float))
    pos = bs_array_positions(world, N, M)
    aims = [users[n % len(users)] for n in range(N)]
    return FixedArray(pos, analog_weights(pos, aims, world.fc), world.fc)


def hmimo_solution(world, users, setup: LinkSetup, n_rf=None, per_rf=None):
    """(sum rate, W (N,K), array) of the hMIMO baseline for ``setup``."""
    arr = hmimo_array(world, users, n_rf, per_rf)
    H = arr.channel(users)
    return sum_rate(H, setup), beamformer(H, setup), arr
