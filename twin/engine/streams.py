"""Named random streams spawned from the scene seed.

Each purpose (one user's mobility, observation noise, RCS draws, the policy) gets its own
``numpy.random.Generator`` keyed by (seed, stream, index), so a run replays bit for bit
and every policy run on one seed sees the same trajectories, observation noise and RCS
draws (common random numbers)."""

from __future__ import annotations

import numpy as np

STREAMS = {"users": 1, "targets": 2, "observation": 3, "rcs": 4, "policy": 5, "csi": 6,
           "blockers": 7, "echo": 8}


def stream(seed: int, name: str, index: int = 0) -> np.random.Generator:
    """Generator for stream ``name`` (and entity ``index``) of run seed ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), STREAMS[name], int(index)]))
