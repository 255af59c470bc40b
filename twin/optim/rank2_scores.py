"""Rank-two candidate sum rates with the candidates on the last axis (paper 002 §III-IV;
MODEL §4.2).

The same quantities as :func:`twin.optim.elementwise.candidate_sum_rates` (whose docstring
gives the algebra: ``G' = G₀ + c cᴴ`` for MRT/MRC, Woodbury with the 2×2 core
``S = C⁻¹ + Uᴴ A U`` for ZF/MMSE), laid out and grouped for numpy's cost on the figures'
sizes (Q ≈ 1000 candidates, K ≤ 8 users):

* arrays are (K,Q), candidates last, so a sum over users adds K contiguous rows and a
  per-candidate factor (Q,) broadcasts along rows (on (Q,K) both are strided loops of
  K elements, ≈ 10× slower per element);
* ``Aᴴ = A`` (Hermitian): ``Re(conj(x) y)`` of complex arrays is the product of their
  real views with the pairs added, and every sum over users that the old scorer formed
  as a (Q,K) array first is a (Q,) expression in the 2×2 core:
  ``diag A' = diag A − i₀₀|Aa|² − i₁₁|Ab|² − 2 Re(conj(i₀₁) Ab conj(Aa))``
  (S⁻¹ = [[i₀₀, i₀₁], [conj i₀₁, i₁₁]]), ``tr A'`` the same with the sums
  ``‖Aa‖², ‖Ab‖², ⟨Ab, Aa⟩``: downlink ZF needs only ``tr A'``;
* ``diag A'²`` (downlink MMSE) from the same products and ``A²b = A(Ab)``.

Equal to the reference scorer to rounding (another summation order; BLAS products of
another shape): ``tests/optim/test_rank2_scores.py`` bounds the difference and keeps the
reference. ``bT``: the conjugated change of row n, ``conj(δ)ᵀ`` (K,Q), C-contiguous."""

from __future__ import annotations

import numpy as np

_F = np.float64


def _re_conj_mul(X, Y):
    """Re(conj(X) Y) elementwise, X and Y (K,Q) complex C-contiguous."""
    w = X.view(_F) * Y.view(_F)
    return w[:, 0::2] + w[:, 1::2]


def _rdot(X, Y):
    """Re Σ_k conj(X_k) Y_k (Q,) of two (K,Q) complex arrays."""
    w = np.sum(X.view(_F) * Y.view(_F), axis=0)
    return w[0::2] + w[1::2]


def _rate(one_plus):
    """Σ_k log₂ x_k (Q,) of x = 1 + max(SINR, 0) ≥ 1 (K,Q) (a negative SINR, the numerical
    breakdown of a near-singular candidate, counts 0 as in the reference): one log₂ of
    the product over users (K − 1 row products and Q logs instead of KQ logs); a column
    whose product leaves the finite range (SINRs beyond ~1e300 in total) gets the sum of
    its logs."""
    out = np.log2(np.prod(one_plus, axis=0))
    if not np.isfinite(out).all():
        bad = ~np.isfinite(out)
        out[bad] = np.sum(np.log2(one_plus[:, bad]), axis=0)
    return out


def row_constants(H, n: int, kind: str, link: str, A=None, G=None, fro2_h: float | None = None) -> tuple:
    """What :func:`reduced_sum_rates` needs of H, A, G and row n besides the candidates (K
    and K×K values): the same for every PA of guide n until H changes, so the search keeps
    them per guide between moves."""
    a = np.conj(H[n])                                           # (K,) old row, conjugated
    if kind in ("mrt", "mrc"):
        G0 = G - np.outer(a, a.conj())
        g0r = np.sum(np.abs(G0) ** 2, axis=1)                   # [G₀G₀ᴴ]_kk
        rest = None if fro2_h is None else fro2_h - np.sum(np.abs(a) ** 2)   # ‖H‖² without row n
        return a[:, None], G0, np.real(np.diag(G0))[:, None], g0r[:, None], rest
    Aa = A @ a
    dA = np.real(np.diag(A))
    consts = (a.conj(), Aa, Aa.conj(), dA, -1.0 + np.real(np.vdot(a, Aa)), np.real(np.vdot(Aa, Aa)),
              (Aa.real * Aa.real + Aa.imag * Aa.imag)[:, None])
    if link == "downlink" and kind == "mmse":
        A2a = A @ Aa
        consts += (A2a, np.real(A2a * np.conj(Aa))[:, None], np.real(np.diag(A @ A))[:, None])
    return consts


def reduced_sum_rates(H, n: int, bT, kind: str, link: str, *, power_w: float, user_power_w: float,
                      noise_w: float, alpha: float, A=None, G=None, fro2_h: float | None = None,
                      consts: tuple | None = None):
    """Sum rates (Q,) when row n of H (N,K) changes by ``conj(bT[:, q])`` for each column q
    of bT (K,Q). ``kind``/``link``: the beamformer (:class:`twin.optim.elementwise.LinkSetup`);
    ``alpha``: its regularisation (0 for ZF, Kσ²/P downlink MMSE, σ²/p uplink MMSE);
    ``A = (G + αI)⁻¹`` (ZF/MMSE) and ``G = Hᴴ H`` (MRT/MRC) as the search keeps them;
    ``fro2_h`` = ‖H‖²_F (downlink MRT); ``consts``: :func:`row_constants` of the same
    arguments if the caller keeps them (else computed here: the same numbers)."""
    K = H.shape[1]
    s2 = noise_w
    if consts is None:
        consts = row_constants(H, n, kind, link, A, G, fro2_h)
    if kind in ("mrt", "mrc"):
        a, G0, g0d, g0r, rest = consts
        c = bT + a                                              # (K,Q) new row, conjugated
        c2 = _re_conj_mul(c, c)                                 # |c|²
        cn2 = np.sum(c2, axis=0)
        diag = c2 + g0d                                         # G'_kk
        rows = c2 * cn2
        rows += g0r
        rows += 2.0 * _re_conj_mul(c, G0 @ c)                   # Σ_i |G'_ki|²
        sig = diag * diag
        intf = np.maximum(rows - sig, 0.0)
        if link == "downlink":
            k2 = power_w / (rest + cn2)
            return _rate(1.0 + np.maximum(k2 * sig / (k2 * intf + s2), 0.0))
        p = user_power_w
        return _rate(1.0 + np.maximum(p * sig / (p * intf + s2 * diag), 0.0))
    ac, Aa, Aac, dA, s00, m00, aa = consts[:7]
    Ab = A @ bT                                                 # (K,Q)
    s01 = 1.0 + ac @ Ab
    s11 = _rdot(bT, Ab)
    det = s00 * s11 - (s01.real * s01.real + s01.imag * s01.imag)
    i00, i11 = s11 / det, s00 / det
    i01 = -s01 / det
    if link == "downlink" and kind == "zf":                     # tr A' only
        m01 = Aac @ Ab                                          # Σ_k Ab_k conj(Aa_k)
        m11 = _rdot(Ab, Ab)
        tr = np.sum(dA) - (i00 * m00 + i11 * m11 + 2.0 * (i01.real * m01.real + i01.imag * m01.imag))
        return K * np.log2(1.0 + power_w / (s2 * tr))
    R = _re_conj_mul(Ab, Ab)                                    # |Ab|²
    ci = 2.0 * i01
    W = Aa[:, None] * ci                                        # 2 i₀₁ Aa: Re(conj(W) Ab) = 2 Re(conj(i₀₁) Ab conj(Aa))
    d = dA[:, None] - aa * i00
    d -= R * i11
    d -= _re_conj_mul(W, Ab)                                    # diag A'
    if link == "uplink":
        if kind == "zf":                                        # 1 + p/(σ² d)
            x = np.maximum(np.divide(user_power_w / s2, d), 0.0)
            x += 1.0
            return _rate(x)
        # 1 + max(1/(αd) − 1, 0) = max(1/(αd), 1), also for αd ≤ 0 (rounding): 1
        return _rate(np.maximum(np.divide(1.0 / alpha, d), 1.0))
    # downlink MMSE: [A'²]_kk = [A²]_kk − 2 Re[(A²U) S⁻¹ (AU)ᴴ]_kk + [(AU) T (AU)ᴴ]_kk with
    # T = S⁻¹ M S⁻¹, M = Uᴴ A² U = [[m₀₀, m₀₁], [conj m₀₁, m₁₁]] (S⁻¹, M Hermitian: T in closed form)
    A2a, ka, dA2 = consts[7:]
    A2b = A @ Ab
    m01 = Aac @ Ab                                              # Σ_k Ab_k conj(Aa_k)
    m11 = np.sum(R, axis=0)
    r = i01.real * m01.real + i01.imag * m01.imag               # Re(i₀₁ conj(m₀₁))
    u2 = i01.real * i01.real + i01.imag * i01.imag
    t00 = i00 * (i00 * m00 + 2.0 * r) + m11 * u2
    t11 = i11 * (i11 * m11 + 2.0 * r) + m00 * u2
    t01 = i01 * (i00 * m00 + i11 * m11 + i01 * np.conj(m01)) + (i00 * i11) * m01
    # −2 Re[(A²U) S⁻¹ (AU)ᴴ]_kk + 2 Re(conj(t₀₁) Ab conj(Aa)) = −2 i₀₀ ka − 2 i₁₁ Re(conj(Ab) A²b)
    #   + Re(conj(V) Ab) − Re(conj(W) A²b),  V = Aa ⊗ 2t₀₁ − A²a ⊗ 2i₀₁
    V = Aa[:, None] * (2.0 * t01)
    V -= A2a[:, None] * ci
    d2 = dA2 + aa * t00
    d2 -= ka * (2.0 * i00)
    d2 += R * t11
    d2 -= _re_conj_mul(Ab, A2b) * (2.0 * i11)
    d2 += _re_conj_mul(V, Ab)
    d2 -= _re_conj_mul(W, A2b)                                  # diag A'²
    ad = alpha * d
    e2 = (1.0 - ad) ** 2
    rows = 1.0 - 2.0 * ad + alpha ** 2 * d2
    k2 = power_w / (np.sum(d, axis=0) - alpha * np.sum(d2, axis=0))
    return _rate(1.0 + np.maximum(e2 / (np.maximum(rows - e2, 0.0) + s2 / k2), 0.0))
