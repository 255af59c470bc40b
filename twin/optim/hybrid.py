"""Fixed-antenna hybrid MIMO baseline (hMIMO; paper 002 §V-A, MODEL §2.6): N RF chains,
each driving an M-element λ/2 sub-array at the BS through phase shifters (partially
connected), followed by the same digital beamformers as PASS.

Analog rule: sub-array n is conjugate-matched (phase only) to user ``n mod K`` — each RF
chain steers its sub-array at "its" user, the usual partially-connected design when
N ≥ K — using the antenna layout and phase rule of :mod:`twin.optim.isac_baselines`
(shared with paper 000's mMIMO baseline)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from twin.optim.elementwise import LinkSetup, beamformer, sum_rate
from twin.optim.isac_baselines import ArraySite, FixedArray, analog_weights, bs_array_positions
from twin.optim.result import OptResult, Status


def hmimo_array(site: ArraySite, users, n_rf: int | None = None, per_rf: int | None = None) -> FixedArray:
    """The hMIMO array for users (K,3): N = number of guides, M = PAs per guide by
    default (the same number of radiating elements as the PASS it is compared with)."""
    N = site.n_rf if n_rf is None else int(n_rf)
    M = site.per_rf if per_rf is None else int(per_rf)
    users = np.atleast_2d(np.asarray(users, float))
    pos = bs_array_positions(site, N, M)
    aims = [users[n % len(users)] for n in range(N)]
    return FixedArray(pos, analog_weights(pos, aims, site.fc), site.fc)


@dataclass(frozen=True)
class ArrayBeams:
    """A fixed-array decision: the array (positions, analog weights) and the digital
    beamformer W (N,K)."""

    array: FixedArray
    W: np.ndarray


@dataclass(frozen=True)
class HmimoResult(OptResult):
    """:class:`OptResult` of the hMIMO baseline: solution :class:`ArrayBeams`, objective
    the sum rate (bit/s/Hz); closed form, so iterations 0 and status ``ok``."""

    @property
    def array(self) -> FixedArray:
        return self.solution.array

    @property
    def W(self) -> np.ndarray:
        return self.solution.W

    @property
    def sum_rate(self) -> float:
        return self.objective


def hmimo_solution(site: ArraySite, users, setup: LinkSetup, n_rf=None, per_rf=None) -> HmimoResult:
    """The hMIMO baseline for ``setup``: analog rule above, then the linear beamformer."""
    t0 = time.perf_counter()
    arr = hmimo_array(site, users, n_rf, per_rf)
    H = arr.channel(users)
    return HmimoResult(ArrayBeams(arr, beamformer(H, setup)), float(sum_rate(H, setup)), 0,
                       time.perf_counter() - t0, Status.OK)
