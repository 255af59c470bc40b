"""Seeded drops in the paper000 service area, shared by the optim and controller tests:
users uniform in x ∈ [5, 20] m, y ∈ [−7.5, 7.5] m on the floor, then a target drawn the
same way on the same stream; as arrays or as a controller's Observation. A plain module,
not a fixture, so that module-level test helpers can call it; tests/ is on sys.path as the
directory of tests/conftest.py (pytest's default prepend import mode, as for
tests/figures/paper000_checks.py)."""

import numpy as np

from twin.controller import Observation


def _users(rng, K):
    return np.column_stack([rng.uniform(5, 20, K), rng.uniform(-7.5, 7.5, K), np.zeros(K)])


def _target(rng):
    return np.array([rng.uniform(5, 20), rng.uniform(-7.5, 7.5), 0.0])


def paper000_drop(seed, K=3):
    """Users (K,3) and target (3,) drawn in the paper000 service area on stream ``seed``."""
    rng = np.random.default_rng(seed)
    users = _users(rng, K)
    return users, _target(rng)


def paper000_obs(world, frame=0, previous=None, seed=0, targets=True):
    """The Observation of frame ``frame`` (at 0.1 s per frame) with 3 users and, if
    ``targets``, one target drawn on stream ``seed`` (else no target); the transmitter
    at ``world``'s initial state; the stream, after the draws, is the controller's rng."""
    rng = np.random.default_rng(seed)
    users = _users(rng, 3)
    q = np.array([_target(rng)]) if targets else np.zeros((0, 3))
    return Observation(0.1 * frame, frame, world.tx.initial_state(), users, q, previous, rng)
