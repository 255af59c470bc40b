"""Summary statistics for Monte-Carlo drops and paired comparisons."""

from __future__ import annotations

import numpy as np
import scipy.stats


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of i.i.d. drops: (mean, low, high).

    One value (or zero spread) gives a degenerate interval at the mean.
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    if v.size < 2:
        return m, m, m
    half = float(scipy.stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return m, m - half, m + half
