"""Seeded drops in the paper000 service area, shared by the optim and controller tests:
users uniform in x ∈ [5, 20] m, y ∈ [−7.5, 7.5] m on the floor, then a target drawn the
same way on the same stream. A plain module, not a fixture, so that module-level test
helpers can call it; tests/ is on sys.path as the directory of tests/conftest.py (pytest's
default prepend import mode, as for tests/figures/paper000_checks.py)."""

import numpy as np


def _users(rng, K):
    return np.column_stack([rng.uniform(5, 20, K), rng.uniform(-7.5, 7.5, K), np.zeros(K)])


def _target(rng):
    return np.array([rng.uniform(5, 20), rng.uniform(-7.5, 7.5), 0.0])


def paper000_drop(seed, K=3):
    """Users (K,3) and target (3,) drawn in the paper000 service area on stream ``seed``."""
    rng = np.random.default_rng(seed)
    users = _users(rng, K)
    return users, _target(rng)
