"""Confidence intervals shared by the maths layers and the experiments (no upper layer):
the Wilson score interval of a proportion and the normal quantile it uses.
:mod:`twin.experiments.stats` builds its per-seed intervals on them; the Monte-Carlo
outage of :mod:`twin.physics.outage` reports its estimate with them."""

from __future__ import annotations

import functools

import numpy as np
import scipy.stats


@functools.lru_cache(maxsize=16)
def normal_quantile(u: float) -> float:
    """Φ⁻¹(u) of the standard normal, kept per ``u``: scipy's distribution call costs half
    a millisecond, as much as a paper 001 Monte-Carlo outage's arithmetic."""
    return float(scipy.stats.norm.ppf(u))


def wilson_ci(p: float, n: float, level: float = 0.95, z: float | None = None) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` observed over ``n`` (possibly
    effective, non-integer) trials; ``z`` defaults to the normal quantile of ``level``.
    Always within [0, 1] and contains ``p``."""
    if not np.isfinite(p) or not n > 0:
        return float("nan"), float("nan")
    if z is None:
        z = normal_quantile(0.5 + level / 2)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # exact arithmetic puts p inside; clamp away rounding at p = 0 or 1
    return float(max(0.0, min(p, centre - half))), float(min(1.0, max(p, centre + half)))
