"""Rank-two candidate sum rates, one compiled loop over the candidates (paper 002 §III-IV;
MODEL §4.2).

The same quantities as :func:`twin.optim.elementwise.candidate_sum_rates` (whose docstring
gives the algebra: ``G' = G₀ + c cᴴ`` for MRT/MRC, Woodbury with the 2×2 core
``S = C⁻¹ + Uᴴ A U`` for ZF/MMSE), per candidate and user:

* ``Aᴴ = A`` (Hermitian): every sum over users is a scalar expression in the 2×2 core:
  ``diag A' = diag A − i₀₀|Aa|² − i₁₁|Ab|² − 2 Re(conj(i₀₁) Ab conj(Aa))``
  (S⁻¹ = [[i₀₀, i₀₁], [conj i₀₁, i₁₁]]), ``tr A'`` the same with the sums
  ``‖Aa‖², ‖Ab‖², ⟨Ab, Aa⟩``: downlink ZF needs only ``tr A'``;
* ``diag A'²`` (downlink MMSE) from the same products and ``A²b = A(Ab)``;
* the sum rate as one log₂ of the product over users.

The figures' batches are up to Q ≈ 1000 candidates of K ≤ 8 users: numpy's cost per
operation, not the arithmetic, set the time of the vectorised form this replaced (issue
13, thirteenth round). Equal to the reference scorer to rounding (another summation
order): ``tests/optim/test_rank2_scores.py`` bounds the difference and keeps the
reference. ``bT``: the conjugated change of row n, ``conj(δ)ᵀ`` (K,Q)."""

from __future__ import annotations

import numba as nb
import numpy as np

#: the ZF / MMSE kernel's modes by (link, kind)
_MODES = {("downlink", "zf"): 0, ("uplink", "zf"): 1, ("uplink", "mmse"): 2, ("downlink", "mmse"): 3}


def row_constants(H, n: int, kind: str, link: str, A=None, G=None, fro2_h: float | None = None) -> tuple:
    """What :func:`reduced_sum_rates` needs of H, A, G and row n besides the candidates (K
    and K×K values, as the kernels take them): the same for every PA of guide n until H
    changes, so the search keeps them per guide between moves."""
    a = np.ascontiguousarray(np.conj(H[n]), dtype=complex)      # (K,) old row, conjugated
    if kind in ("mrt", "mrc"):
        G0 = np.ascontiguousarray(G - np.outer(a, a.conj()), dtype=complex)
        g0r = np.sum(np.abs(G0) ** 2, axis=1)                   # [G₀G₀ᴴ]_kk
        rest = np.nan if fro2_h is None else float(fro2_h - np.sum(np.abs(a) ** 2))   # ‖H‖² without row n
        return a, G0, np.ascontiguousarray(np.real(np.diag(G0))), g0r, rest
    A = np.ascontiguousarray(A, dtype=complex)
    Aa = A @ a
    dA = np.ascontiguousarray(np.real(np.diag(A)))
    aa = Aa.real * Aa.real + Aa.imag * Aa.imag
    if link == "downlink" and kind == "mmse":
        A2a = A @ Aa
        extra = (A2a, np.real(A2a * np.conj(Aa)), np.ascontiguousarray(np.real(np.diag(A @ A))))
    else:
        extra = (Aa, aa, dA)                                    # not read
    return (A, _MODES[link, kind], a.conj(), Aa, dA, float(-1.0 + np.real(np.vdot(a, Aa))),
            float(np.real(np.vdot(Aa, Aa))), aa) + extra


def reduced_sum_rates(H, n: int, bT, kind: str, link: str, *, power_w: float, user_power_w: float,
                      noise_w: float, alpha: float, A=None, G=None, fro2_h: float | None = None,
                      consts: tuple | None = None):
    """Sum rates (Q,) when row n of H (N,K) changes by ``conj(bT[:, q])`` for each column q
    of bT (K,Q). ``kind``/``link``: the beamformer (:class:`twin.optim.elementwise.LinkSetup`);
    ``alpha``: its regularisation (0 for ZF, Kσ²/P downlink MMSE, σ²/p uplink MMSE);
    ``A = (G + αI)⁻¹`` (ZF/MMSE) and ``G = Hᴴ H`` (MRT/MRC) as the search keeps them;
    ``fro2_h`` = ‖H‖²_F (downlink MRT); ``consts``: :func:`row_constants` of the same
    arguments if the caller keeps them (else computed here: the same numbers). The
    arithmetic: :func:`_mrt_rates`, :func:`_linear_rates`."""
    bT = np.ascontiguousarray(bT, dtype=complex)
    if consts is None:
        consts = row_constants(H, n, kind, link, A, G, fro2_h)
    if kind in ("mrt", "mrc"):
        return _mrt_rates(bT, *consts, link == "downlink", float(power_w), float(user_power_w), float(noise_w))
    return _linear_rates(bT, *consts, float(power_w), float(user_power_w), float(noise_w), float(alpha))


@nb.njit(cache=True, error_model="numpy")
def _log2_prod(x):
    """Σ_k log₂ x_k of x = 1 + max(SINR, 0) ≥ 1 (K,): one log₂ of the product over users; a
    product that leaves the finite range (SINRs beyond ~1e300 in total) gets the sum of
    the logs. A negative SINR (the numerical breakdown of a near-singular candidate)
    counts 0; NaN stays NaN."""
    p = 1.0
    for k in range(x.size):
        p *= x[k]
    out = np.log2(p)
    if not np.isfinite(out):
        out = 0.0
        for k in range(x.size):
            out += np.log2(x[k])
    return out


@nb.njit(cache=True, error_model="numpy", inline="always")
def _pos(v):
    """max(v, 0) as numpy's maximum: NaN stays NaN."""
    return v if not v < 0.0 else 0.0


@nb.njit(cache=True, error_model="numpy")
def _mrt_rates(bT, a, G0, g0d, g0r, rest, downlink, power_w, user_power_w, s2):
    """MRT (downlink) / MRC (uplink) sum rates of the candidates (columns of bT): the new
    row's conjugate ``c = a + b`` gives ``G' = G₀ + c cᴴ``, ``G'_kk = |c_k|² + [G₀]_kk`` and
    ``Σ_i |G'_ki|² = |c_k|² ‖c‖² + [G₀G₀ᴴ]_kk + 2 Re(conj(c_k) [G₀ c]_k)`` (signal
    ``G'_kk²``, interference the rest); downlink power normalised by ``‖H'‖²_F = rest +
    ‖c‖²``."""
    K, Q = bT.shape
    out = np.empty(Q)
    c = np.empty(K, np.complex128)
    c2 = np.empty(K)
    x = np.empty(K)
    for q in range(Q):
        cn2 = 0.0
        for k in range(K):
            c[k] = bT[k, q] + a[k]
            c2[k] = c[k].real * c[k].real + c[k].imag * c[k].imag
            cn2 += c2[k]
        k2 = power_w / (rest + cn2)
        for k in range(K):
            gc = 0j
            for i in range(K):
                gc += G0[k, i] * c[i]
            diag = c2[k] + g0d[k]
            rows = c2[k] * cn2 + g0r[k] + 2.0 * (c[k].real * gc.real + c[k].imag * gc.imag)
            sig = diag * diag
            intf = _pos(rows - sig)
            if downlink:
                x[k] = 1.0 + _pos(k2 * sig / (k2 * intf + s2))
            else:
                x[k] = 1.0 + _pos(user_power_w * sig / (user_power_w * intf + s2 * diag))
        out[q] = _log2_prod(x)
    return out


@nb.njit(cache=True, error_model="numpy")
def _linear_rates(bT, A, mode, ac, Aa, dA, s00, m00, aa, A2a, ka, dA2, power_w, user_power_w, s2, alpha):
    """ZF / MMSE sum rates of the candidates (columns b of bT) from ``A' = (G' + αI)⁻¹`` by
    Woodbury with the 2×2 core ``S = [[s₀₀, s₀₁], [conj s₀₁, s₁₁]]`` (``s₀₁ = 1 + aᴴAb``,
    ``s₁₁ = bᴴAb``) and its inverse ``[[i₀₀, i₀₁], [conj i₀₁, i₁₁]]``:
    ``[A']_kk = [A]_kk − i₀₀|Aa_k|² − i₁₁|Ab_k|² − 2 Re(conj(i₀₁) Ab_k conj(Aa_k))``.
    ``mode`` 0: downlink ZF (``tr A'`` only); 1: uplink ZF ``1 + p/(σ²[A']_kk)``; 2: uplink
    MMSE ``max(1/(α[A']_kk), 1)``; 3: downlink MMSE, also ``[A'²]_kk`` (module docstring)."""
    K, Q = bT.shape
    out = np.empty(Q)
    Ab = np.empty(K, np.complex128)
    A2b = np.empty(K, np.complex128)
    d = np.empty(K)
    x = np.empty(K)
    sum_dA = 0.0
    for k in range(K):
        sum_dA += dA[k]
    for q in range(Q):
        for k in range(K):
            s = 0j
            for i in range(K):
                s += A[k, i] * bT[i, q]
            Ab[k] = s
        s01 = 1.0 + 0j
        s11 = 0.0
        m01 = 0j
        m11 = 0.0
        for k in range(K):
            s01 += ac[k] * Ab[k]
            s11 += bT[k, q].real * Ab[k].real + bT[k, q].imag * Ab[k].imag
            m01 += np.conj(Aa[k]) * Ab[k]
            m11 += Ab[k].real * Ab[k].real + Ab[k].imag * Ab[k].imag
        det = s00 * s11 - (s01.real * s01.real + s01.imag * s01.imag)
        i00 = s11 / det
        i11 = s00 / det
        i01 = -s01 / det
        if mode == 0:
            tr = sum_dA - (i00 * m00 + i11 * m11 + 2.0 * (i01.real * m01.real + i01.imag * m01.imag))
            out[q] = K * np.log2(1.0 + power_w / (s2 * tr))
            continue
        ci = 2.0 * i01
        for k in range(K):
            w = Aa[k] * ci
            R = Ab[k].real * Ab[k].real + Ab[k].imag * Ab[k].imag
            d[k] = dA[k] - aa[k] * i00 - R * i11 - (w.real * Ab[k].real + w.imag * Ab[k].imag)
        if mode == 1:
            for k in range(K):
                x[k] = _pos(user_power_w / s2 / d[k]) + 1.0
            out[q] = _log2_prod(x)
            continue
        if mode == 2:
            for k in range(K):
                v = 1.0 / alpha / d[k]
                x[k] = v if not v < 1.0 else 1.0
            out[q] = _log2_prod(x)
            continue
        for k in range(K):
            s = 0j
            for i in range(K):
                s += A[k, i] * Ab[i]
            A2b[k] = s
        r = i01.real * m01.real + i01.imag * m01.imag
        u2 = i01.real * i01.real + i01.imag * i01.imag
        t00 = i00 * (i00 * m00 + 2.0 * r) + m11 * u2
        t11 = i11 * (i11 * m11 + 2.0 * r) + m00 * u2
        t01 = i01 * (i00 * m00 + i11 * m11 + i01 * np.conj(m01)) + (i00 * i11) * m01
        sd = 0.0
        sd2 = 0.0
        for k in range(K):
            w = Aa[k] * ci
            v = Aa[k] * (2.0 * t01) - A2a[k] * ci
            R = Ab[k].real * Ab[k].real + Ab[k].imag * Ab[k].imag
            d2 = (dA2[k] + aa[k] * t00 - ka[k] * (2.0 * i00) + R * t11
                  - (Ab[k].real * A2b[k].real + Ab[k].imag * A2b[k].imag) * (2.0 * i11)
                  + (v.real * Ab[k].real + v.imag * Ab[k].imag)
                  - (w.real * A2b[k].real + w.imag * A2b[k].imag))
            sd += d[k]
            sd2 += d2
            x[k] = d2                                  # kept until the power is known
        k2 = power_w / (sd - alpha * sd2)
        for k in range(K):
            ad = alpha * d[k]
            e2 = (1.0 - ad) ** 2
            rows = 1.0 - 2.0 * ad + alpha * alpha * x[k]
            x[k] = 1.0 + _pos(e2 / (_pos(rows - e2) + s2 / k2))
        out[q] = _log2_prod(x)
    return out
