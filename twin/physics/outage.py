"""Look-angle dependent RCS and sensing outage (MODEL §3.4; paper 001 eqs. 11, 18-26).

``Γ = ξ^H diag(w) ξ`` with ``ξ ~ CN(0, Σ)`` is a sum of independent exponentials whose
means are the eigenvalues of ``Σ^{1/2} D Σ^{1/2}``; ``P_out = Pr(Γ < Γ_th)``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
import scipy.special
import scipy.optimize
import scipy.stats


def rcs_covariance(look_angles, mean_rcs_m2, decay):
    """``Σ_ij = σ̄ exp(−ϱ |θ_i − θ_j|)`` (MODEL §3.4, §6; paper 001 eq. 11).

    look_angles (C,) rad  ->  (C,C); ``decay = 0`` is fully correlated.
    """
    th = np.asarray(look_angles, dtype=float)
    return float(mean_rcs_m2) * np.exp(-float(decay) * np.abs(th[:, None] - th[None, :]))


def outage_eigenvalues(weights, cov, rel_tol=1e-12):
    """Means of the independent exponential terms of Γ: the positive eigenvalues of
    ``Σ^{1/2} D Σ^{1/2}`` (= eig of ``D^{1/2} Σ D^{1/2}``), sorted ascending."""
    w = np.clip(np.asarray(weights, dtype=float), 0.0, None)
    sw = np.sqrt(w)
    lam = np.linalg.eigvalsh(sw[:, None] * np.asarray(cov, dtype=float) * sw[None, :])
    if lam.size == 0 or lam.max() <= 0:
        return np.zeros(0)
    return np.sort(lam[lam > rel_tol * lam.max()])


def _exact_cdf(lam, x):
    """CDF at ``x`` of a sum of independent exponentials with means ``lam``: the
    absorption probability of the pure-birth chain 0 → 1 → … → n with rates 1/λ_i
    (a phase-type distribution), by uniformisation: a Poisson mixture of non-negative
    terms, so it is accurate for equal or close means *and* for outages of 1e-15 (where
    ``1 − α expm(Sx) 1`` cancels to noise). Chains needing more than 2·10⁵ jumps fall
    back to ``expm_multiply`` on the generator with the absorbing state."""
    n = lam.size
    if n == 0:
        return 1.0
    mu = 1.0 / lam
    Lx = float(mu.max() * x)
    if Lx > 2e5:
        Q = np.zeros((n + 1, n + 1))
        Q[np.arange(n), np.arange(n)] = -mu
        Q[np.arange(n), np.arange(1, n + 1)] = mu
        e0 = np.zeros(n + 1)
        e0[0] = 1.0
        return float(np.clip(scipy.sparse.linalg.expm_multiply(Q.T * x, e0)[n], 0.0, 1.0))
    adv = np.append(mu / mu.max(), 0.0)            # jump probabilities of the uniformised chain
    pi = np.zeros(n + 1)
    pi[0] = 1.0
    k_max = int(Lx + 12.0 * np.sqrt(Lx) + 40)
    ks = np.arange(k_max + 1)
    log_w = -Lx + ks * np.log(Lx) - scipy.special.gammaln(ks + 1) if Lx > 0 else np.where(ks == 0, 0.0, -np.inf)
    total = 0.0
    for k in range(k_max + 1):
        if k >= n:
            total += np.exp(log_w[k]) * pi[n]
        moved = pi * adv
        pi = pi - moved
        pi[1:] += moved[:-1]
    return float(np.clip(total, 0.0, 1.0))


def chernoff_log_bound(lam, threshold):
    """Optimised Chernoff exponent ``min_{s>0} s Γ_th − Σ log(1 + s λ_i)`` (MODEL §3.4,
    paper 001 eqs. 25-26) and the minimiser s*. Returns (log bound ≤ 0, s*)."""
    if lam.size == 0 or threshold >= lam.sum():
        return 0.0, 0.0
    g = lambda s: np.sum(lam / (1.0 + s * lam)) - threshold   # decreasing in s
    hi = 1.0 / threshold
    while g(hi) > 0:
        hi *= 2.0
    s = scipy.optimize.brentq(g, 0.0, hi, xtol=1e-14 * hi, rtol=1e-12)
    return float(s * threshold - np.sum(np.log1p(s * lam))), float(s)


def outage_monte_carlo(weights, cov, threshold, rng, samples=100_000, level=0.95):
    """Monte-Carlo sensing outage with a Wilson interval (MODEL §3.4).

    Returns (p_hat, ci_low, ci_high). Draws ``ξ = L z`` with ``z ~ CN(0, I)``.
    """
    cov = np.asarray(cov, dtype=float)
    evals, evecs = np.linalg.eigh(cov)
    L = evecs * np.sqrt(np.clip(evals, 0.0, None))[None, :]
    C = cov.shape[0]
    z = (rng.standard_normal((samples, C)) + 1j * rng.standard_normal((samples, C))) / np.sqrt(2.0)
    xi = z @ L.T
    gamma = np.abs(xi) ** 2 @ np.asarray(weights, dtype=float)
    k = int(np.count_nonzero(gamma < threshold))
    p = k / samples
    zq = scipy.stats.norm.ppf(0.5 + level / 2.0)
    denom = 1.0 + zq**2 / samples
    centre = (p + zq**2 / (2 * samples)) / denom
    half = zq * np.sqrt(p * (1 - p) / samples + zq**2 / (4 * samples**2)) / denom
    return p, max(0.0, centre - half), min(1.0, centre + half)


def outage_probability(weights, cov, threshold, *, method="exact", rng=None, samples=100_000):
    """Sensing outage ``P(ξ^H diag(w) ξ < Γ_th)``, ``ξ ~ CN(0, Σ)`` (MODEL §3.4, §6).

    method: "exact" (phase-type CDF, stable for equal eigenvalues), "chernoff" (the
    optimised bound, eq. 25) or "mc" (Monte Carlo with ``rng``, a numpy Generator).
    """
    if threshold <= 0:
        return 0.0
    if method == "mc":
        if rng is None:
            raise ValueError("outage_probability(method='mc') needs rng=np.random.default_rng(seed)")
        return outage_monte_carlo(weights, cov, threshold, rng, samples)[0]
    lam = outage_eigenvalues(weights, cov)
    if lam.size == 0:
        return 1.0
    if method == "exact":
        return _exact_cdf(lam, float(threshold))
    if method == "chernoff":
        return float(min(1.0, np.exp(chernoff_log_bound(lam, float(threshold))[0])))
    raise ValueError(f"outage_probability: unknown method {method!r}; use 'exact', 'chernoff' or 'mc'")
