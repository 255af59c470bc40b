"""Issue 15 item 10: intervals that respect the quantity, a warning below 5 seeds."""

import numpy as np
import pandas as pd
import pytest

from twin.experiments.compare import comparison_markdown
from twin.experiments.stats import (MIN_SEEDS, few_seeds_warning, fraction_ci, mean_ci,
                                    nonnegative_ci, wilson_ci)


def test_wilson_interval_stays_in_0_1_contains_p_and_covers():
    for n in (1, 3, 10, 100, 1e5):
        for p in (0.0, 1e-4, 0.02, 0.5, 0.97, 1.0):
            lo, hi = wilson_ci(p, n)
            assert 0.0 <= lo <= p <= hi <= 1.0
    assert wilson_ci(0.0, 50)[1] > 0                     # zero observed is not "surely zero"
    # coverage of the true p for binomial draws (Wilson is close to nominal at n = 60)
    rng = np.random.default_rng(1)
    p, n, reps = 0.05, 60, 4000
    k = rng.binomial(n, p, reps)
    cov = np.mean([lo <= p <= hi for lo, hi in (wilson_ci(x / n, n) for x in k)])
    assert 0.92 <= cov <= 0.99
    # the Student-t interval on the same kind of data would have gone below zero
    assert mean_ci([0.0, 0.0, 0.05])[1] < 0 and fraction_ci([0.0, 0.0, 0.05], [100] * 3)[1] >= 0


def test_fraction_ci_over_seeds_covers_and_uses_the_pooled_count_when_seeds_agree():
    rng = np.random.default_rng(2)
    p, seeds, n, reps = 0.03, 6, 400, 2000
    covered = 0
    for _ in range(reps):
        # correlated samples per seed: each seed's own rate varies around p
        q = np.clip(rng.normal(p, 0.01, seeds), 0, 1)
        f = rng.binomial(n, q) / n
        m, lo, hi = fraction_ci(f, [n] * seeds)
        assert 0 <= lo <= m <= hi <= 1
        covered += lo <= p <= hi
    assert covered / reps >= 0.93
    m, lo, hi = fraction_ci([0.0, 0.0, 0.0], [1000] * 3)
    assert m == lo == 0.0 and 0 < hi < 0.02


def test_nonnegative_interval_never_below_zero_and_reproducible():
    v = [0.001, 0.002, 0.0005, 0.3]                       # skewed, near zero
    m, lo, hi = nonnegative_ci(v)
    assert mean_ci(v)[1] < 0                              # what the t interval would say
    assert 0 <= lo <= m <= hi and lo >= min(v) and hi <= max(v)
    assert nonnegative_ci(v) == (m, lo, hi)               # fixed-seed bootstrap
    rng = np.random.default_rng(3)                        # and it covers a skewed mean
    covered = sum(lo <= 1.0 <= hi for lo, hi in
                  (nonnegative_ci(rng.exponential(1.0, 30), resamples=999)[1:] for _ in range(300)))
    assert covered / 300 >= 0.88


def _table(seeds):
    rng = np.random.default_rng(0)
    rows = []
    for pol in ("a", "b"):
        for s in range(seeds):
            rows.append({"policy": pol, "seed": s, "frames": 7, "mean_rate_bps_hz": rng.uniform(5, 6),
                         "p5_rate_bps_hz": rng.uniform(0, 1), "outage_fraction": rng.uniform(0, 0.1),
                         "mean_rcrb_mm": rng.uniform(0.1, 0.2), "mean_sensing_outage": np.nan,
                         "pa_travel_m": 0.0, "mean_solve_time_s": 0.01, "p95_solve_time_s": 0.02,
                         "user_samples": 280, "status_ok": 7, "status_fallback": 0})
    return pd.DataFrame(rows)


def test_few_seeds_are_warned_about_in_the_markdown():
    assert few_seeds_warning(MIN_SEEDS - 1) and few_seeds_warning(MIN_SEEDS) is None
    few, enough = comparison_markdown(_table(3), "a", "s"), comparison_markdown(_table(5), "a", "s")
    assert "Warning:** only 3 seeds" in few and "Warning" not in enough
    assert "3 seeds × 7 frames" in few
    assert "## mean RCRB [mm]" in enough and "| policy | ok | fallback |" in enough
    assert "| b | 35 | 0 |" in enough


@pytest.mark.parametrize("values", [[0.2, 0.2], [0.1]])
def test_degenerate_fraction_input_without_counts_is_a_point(values):
    m, lo, hi = fraction_ci(values)
    assert m == lo == hi == pytest.approx(np.mean(values))
