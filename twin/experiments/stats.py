"""Summary statistics for Monte-Carlo drops and paired comparisons.

Seeds are the independent unit: samples within a run (frames, slots, users) are
correlated in time, so every interval is built from per-seed values.

- :func:`mean_ci`: Student-t interval, for signed quantities and paired differences
  (paired t on the per-seed differences).
- :func:`nonnegative_ci`: percentile bootstrap of the mean over seeds, for quantities
  that cannot be negative (rates, RCRB, PA travel, times); the interval lies within the
  range of the per-seed values, so never below zero.
- :func:`fraction_ci`: Wilson score interval for a fraction (outage), with the effective
  sample size of the between-seed variance (the design-effect correction of survey
  statistics, Korn & Graubard 1998) and Student's t quantile for few seeds; it stays
  within [0, 1].
- :data:`MIN_SEEDS`: below this many seeds the intervals are unreliable (the bootstrap
  undercovers, t quantiles are huge); callers warn.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

from twin.intervals import wilson_ci  # noqa: F401 - re-exported (tests, callers)

#: fewer seeds than this make the intervals unreliable (callers warn)
MIN_SEEDS = 5


def few_seeds_warning(n_seeds: int) -> str | None:
    """The warning text when ``n_seeds`` is below :data:`MIN_SEEDS`, else None."""
    if n_seeds >= MIN_SEEDS:
        return None
    return (f"only {n_seeds} seed{'s' if n_seeds != 1 else ''}: the 95% intervals are unreliable "
            f"below {MIN_SEEDS} seeds (use --seeds {MIN_SEEDS} or more)")


def _finite(values) -> np.ndarray:
    v = np.asarray(values, float)
    return v[np.isfinite(v)]


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of i.i.d. drops: (mean, low, high).

    One value (or zero spread) gives a degenerate interval at the mean.
    """
    v = _finite(values)
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    if v.size < 2:
        return m, m, m
    half = float(scipy.stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return m, m - half, m + half


def nonnegative_ci(values, level: float = 0.95, resamples: int = 4999,
                   seed: int = 0) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap interval of a non-negative quantity over seeds.

    The bootstrap resamples the per-seed values (``scipy.stats.bootstrap``, percentile
    method) from a fixed-seed Generator, so tables are reproducible; its bounds are
    means of resampled values, hence within [min, max] of the data and never negative.
    """
    v = _finite(values)
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    if v.size < 2 or np.ptp(v) == 0:
        return m, m, m
    res = scipy.stats.bootstrap((v,), np.mean, confidence_level=level, n_resamples=resamples,
                                method="percentile", vectorized=True,
                                random_state=np.random.default_rng(seed))
    ci = res.confidence_interval
    return m, float(ci.low), float(ci.high)


def fraction_ci(fractions, counts=None, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and interval of a fraction over seeds: (mean, low, high).

    fractions: per-seed fractions (e.g. outage fraction of each seed's run); counts:
    per-seed numbers of trials behind them (user samples), used as the ceiling of the
    effective sample size. The effective size is ``p(1−p) / Var(mean)`` from the
    between-seed variance (capped at the pooled count; the pooled count when the seeds
    agree exactly), and the Wilson interval uses Student's t quantile with seeds − 1
    degrees of freedom, so few seeds widen it. Never outside [0, 1].
    """
    f = np.asarray(fractions, float)
    ok = np.isfinite(f)
    f = f[ok]
    if f.size == 0:
        return float("nan"), float("nan"), float("nan")
    p = float(f.mean())
    pooled = np.inf
    if counts is not None:
        c = np.asarray(counts, float)[ok]
        if np.all(np.isfinite(c)) and c.sum() > 0:
            pooled = float(c.sum())
    if f.size < 2:
        if not np.isfinite(pooled):
            return p, p, p
        lo, hi = wilson_ci(p, pooled, level)
        return p, lo, hi
    var_mean = f.var(ddof=1) / f.size
    n_eff = p * (1 - p) / var_mean if var_mean > 0 else np.inf
    n_eff = min(n_eff, pooled)
    if not np.isfinite(n_eff):          # every seed agrees and no count is known
        return p, p, p
    z = float(scipy.stats.t.ppf(0.5 + level / 2, f.size - 1))
    lo, hi = wilson_ci(p, n_eff, level, z=z)
    return p, lo, hi
