"""MODEL §3.4: exact sensing outage vs Monte Carlo, the Chernoff bound, equal eigenvalues."""

import numpy as np
import pytest
import scipy.stats

from twin.physics import outage_monte_carlo, outage_probability, rcs_covariance


def test_rcs_covariance_model():
    th = np.array([0.1, 0.5, 1.2])
    S = rcs_covariance(th, 2.0, 0.7)
    assert S[0, 2] == pytest.approx(2.0 * np.exp(-0.7 * 1.1))
    assert np.allclose(np.diag(S), 2.0)
    assert np.allclose(rcs_covariance(th, 2.0, 0.0), 2.0)   # decay 0: fully correlated


@pytest.mark.parametrize("decay,thr", [(0.3, 0.5), (1.0, 2.0), (5.0, 0.2), (0.0, 1.0)])
def test_exact_agrees_with_monte_carlo_and_is_below_chernoff(decay, thr):
    th = np.array([0.2, 0.6, 1.1, 1.5])
    w = np.array([0.5, 1.0, 0.3, 2.0])
    S = rcs_covariance(th, 1.0, decay)
    exact = outage_probability(w, S, thr)
    chern = outage_probability(w, S, thr, method="chernoff")
    p, lo, hi = outage_monte_carlo(w, S, thr, np.random.default_rng(11), samples=200_000, level=0.999)
    assert lo <= exact <= hi
    assert exact <= chern + 1e-12
    assert 0 < exact < 1


def test_exact_for_equal_and_nearly_equal_eigenvalues():
    # Γ = Σ_{i<4} |ξ_i|², ξ i.i.d. CN(0,1): Erlang(4, 1)
    for eps in (0.0, 1e-12, 1e-7):
        w = 1.0 + eps * np.arange(4)
        p = outage_probability(w, np.eye(4), 2.5)
        assert p == pytest.approx(scipy.stats.gamma.cdf(2.5, 4), rel=1e-6)


def test_zero_weight_clusters_drop_out():
    w = np.array([1.0, 0.0, 0.0])
    S = rcs_covariance([0.0, 0.4, 0.8], 1.0, 1.0)
    assert outage_probability(w, S, 0.7) == pytest.approx(1 - np.exp(-0.7), rel=1e-9)


def _mc_full_product(weights, cov, threshold, rng, samples):
    """The Monte-Carlo count as first written: ξ = z Lᵀ on every cluster, z complex."""
    evals, evecs = np.linalg.eigh(cov)
    L = evecs * np.sqrt(np.clip(evals, 0.0, None))[None, :]
    C = cov.shape[0]
    z = (rng.standard_normal((samples, C)) + 1j * rng.standard_normal((samples, C))) / np.sqrt(2.0)
    gamma = np.abs(z @ L.T) ** 2 @ weights
    return int(np.count_nonzero(gamma < threshold))


@pytest.mark.parametrize("decay", [0.0, 1.0, 1e4])
def test_monte_carlo_on_the_active_clusters_counts_what_the_full_product_counts(decay):
    """outage_monte_carlo applies only the rows of L of clusters with a weight, as real
    products: on 60 seeded schedules (1-4 of 10 clusters on, thresholds over the whole
    CDF, fully correlated to independent RCS) it counts the same outages as the complex
    product over every cluster, and leaves the generator where that one did."""
    rs = np.random.default_rng(5)
    for _ in range(60):
        cov = rcs_covariance(np.sort(rs.uniform(0.0, 2.0, 10)), rs.uniform(0.5, 2.0), decay)
        w = np.zeros(10)
        on = rs.choice(10, int(rs.integers(1, 5)), replace=False)
        w[on] = rs.exponential(1.0, on.size)
        thr = float(rs.exponential(0.5) * w.sum())
        seed = int(rs.integers(1 << 30))
        r_new, r_ref = np.random.default_rng(seed), np.random.default_rng(seed)
        p, lo, hi = outage_monte_carlo(w, cov, thr, r_new, 5000)
        assert round(p * 5000) == _mc_full_product(w, cov, thr, r_ref, 5000)
        assert lo <= p <= hi
        assert r_new.random() == r_ref.random()
