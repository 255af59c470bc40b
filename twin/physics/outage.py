"""Look-angle dependent RCS and sensing outage (MODEL §3.4; paper 001 eqs. 11, 18-26).

``Γ = ξ^H diag(w) ξ`` with ``ξ ~ CN(0, Σ)`` is a sum of independent exponentials whose
means are the eigenvalues of ``Σ^{1/2} D Σ^{1/2}``; ``P_out = Pr(Γ < Γ_th)``.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import scipy.linalg
import scipy.sparse.linalg
import scipy.special
import scipy.optimize

from twin.intervals import wilson_ci


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
    """CDF at ``x`` of a sum of independent exponentials with means ``lam`` (n,):
    :func:`cdf_rows` of one row."""
    lam = np.asarray(lam, dtype=float)
    if lam.size == 0:
        return 1.0
    return float(cdf_rows(lam[None], x)[0])


def cdf_rows(lam, x, max_step: float = 8.0, tail: tuple = (10.0, 30)):
    """CDF at ``x`` of sums of independent exponentials, one sum per row of ``lam`` (B,n)
    of positive means (MODEL §3.4): the probability that the pure-birth chain 0 → 1 → … → n
    with rates μ_i = 1/λ_i is absorbed by time x (a phase-type distribution),
    ``[e^{Qx}]_{0,n}``.

    Computed with non-negative arithmetic only, so it keeps its relative accuracy for
    equal or close means *and* for outages of 1e-15 (where ``1 − α expm(Sx) 1`` is
    cancellation noise): ``e^{Qh}`` on a short step h = x/2^m by uniformisation (a Poisson
    mixture of powers of the non-negative bidiagonal matrix ``P = I + Q/Λ``, Λ the largest
    rate, m the least with Λh ≤ ``max_step``; the series stops after Λh + tail[0]·√(Λh) +
    tail[1] terms), then m squarings. Each row on its own (its own step and series), in
    one compiled loop (:func:`_cdf_kernel`): P is bidiagonal and every power of it upper
    triangular, so a term costs O(n²) and a squaring O(n³/6)."""
    lam = np.ascontiguousarray(lam, dtype=float)
    return _cdf_kernel(lam, float(x), float(max_step), float(tail[0]), float(tail[1]))


@nb.njit(cache=True, error_model="numpy")
def _cdf_kernel(lam, x, max_step, tail0, tail1):
    """:func:`cdf_rows`' loop: per row, ``E = Σ_k Poisson(k; Λh) P^k`` (upper triangular,
    ``P^k`` by one bidiagonal product per term), m squarings, ``clip(E[0, n], 0, 1)``."""
    B, n = lam.shape
    out = np.empty(B)
    d = np.empty(n + 1)
    up = np.empty(n + 1)
    term = np.empty((n + 1, n + 1))
    nxt = np.empty((n + 1, n + 1))
    E = np.empty((n + 1, n + 1))
    for b in range(B):
        if n == 0:
            out[b] = 1.0
            continue
        Lam = 0.0
        for i in range(n):
            Lam = max(Lam, 1.0 / lam[b, i])
        m = int(np.ceil(np.log2(max(Lam * x / max_step, 1.0))))
        m = max(m, 0)
        h = x / 2.0 ** m
        for i in range(n):
            r = (1.0 / lam[b, i]) / Lam
            d[i] = 1.0 - r                       # P = I + Q/Λ: diagonal 1 − μ_i/Λ, superdiagonal μ_i/Λ
            up[i] = r
        d[n] = 1.0
        up[n] = 0.0
        lh = Lam * h
        k_max = int(lh + tail0 * np.sqrt(lh) + tail1)
        weight = np.exp(-lh)
        term[:, :] = 0.0
        E[:, :] = 0.0
        for i in range(n + 1):
            term[i, i] = 1.0
            E[i, i] = weight
        for k in range(1, k_max + 1):
            for i in range(n + 1):               # term ← term P (both upper triangular)
                nxt[i, i] = term[i, i] * d[i]
                for j in range(i + 1, n + 1):
                    nxt[i, j] = term[i, j - 1] * up[j - 1] + term[i, j] * d[j]
            weight *= lh / k
            for i in range(n + 1):
                for j in range(i, n + 1):
                    term[i, j] = nxt[i, j]
                    E[i, j] += weight * nxt[i, j]
        for _ in range(m):                       # E ← E² (upper triangular)
            for i in range(n + 1):
                for j in range(i, n + 1):
                    s = 0.0
                    for l in range(i, j + 1):
                        s += E[i, l] * E[l, j]
                    nxt[i, j] = s
            for i in range(n + 1):
                for j in range(i, n + 1):
                    E[i, j] = nxt[i, j]
        v = E[0, n]
        out[b] = min(max(v, 0.0), 1.0)
    return out


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

    Returns (p_hat, ci_low, ci_high). Draws ``ξ = L z`` with ``z = (a + j b)/√2 ~ CN(0, I)``
    (a, b real standard normal (samples, C), drawn in that order) and counts
    ``Γ = Σ_c w_c |ξ_c|² < Γ_th``. Only the clusters with ``w_c > 0`` enter Γ, so only their
    rows of L are applied, to a and b separately: ``|ξ_c|² = ((L_c a)² + (L_c b)²)/2``
    (real products, a quarter of the flops of the complex ones on the figures' T ≤ 4 of
    C = 10 clusters). The draws, and so the generator's state afterwards, are those of
    the full product; Γ differs from it only by rounding, which changes the count only
    for a sample within a few ulps of Γ_th.
    """
    cov = np.asarray(cov, dtype=float)
    w = np.asarray(weights, dtype=float)
    evals, evecs = np.linalg.eigh(cov)
    L = evecs * np.sqrt(np.clip(evals, 0.0, None))[None, :]
    C = cov.shape[0]
    a = rng.standard_normal((samples, C))
    b = rng.standard_normal((samples, C))
    on = np.flatnonzero(w != 0)
    Lt = np.ascontiguousarray(L[on].T)                  # (C, n) the active rows, transposed
    xa, xb = a @ Lt, b @ Lt
    xa *= xa
    xb *= xb
    xa += xb
    gamma = xa @ (0.5 * w[on])
    p = int(np.count_nonzero(gamma < threshold)) / samples
    return (p, *wilson_ci(p, samples, level))


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
