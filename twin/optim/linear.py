"""Linear beamformers and combiners (MODEL §4.1; paper 002 §III, Lemma 1)."""

from __future__ import annotations

import math

import numpy as np

KINDS = ("mrt", "zf", "mmse")


def _direction(H, kind, reg):
    N, K = H.shape[-2:]                  # leading dimensions: a stack of channels
    Hh = np.swapaxes(H.conj(), -1, -2)
    if kind == "mrt":
        return H
    if kind == "zf":
        if K > N:
            raise ValueError(f"ZF needs at least as many RF chains as users (K={K} > N={N}); "
                             "use 'mmse', which works for any K (paper 002, footnote on ZF)")
        return H @ np.linalg.pinv(Hh @ H)
    if kind == "mmse":
        # (H Hᴴ + r I_N)⁻¹ H = H (Hᴴ H + r I_K)⁻¹ (push-through): solve the smaller system
        if K <= N:
            A = Hh @ H + reg * np.eye(K)
            return H @ np.linalg.solve(A, np.broadcast_to(np.eye(K), A.shape))
        return np.linalg.solve(H @ Hh + reg * np.eye(N), H)
    raise ValueError(f"unknown beamformer {kind!r}; choose one of {', '.join(KINDS)}")


def _mmse_reg(H, kind: str, power_w, noise_w) -> float:
    """The MMSE precoder's regularisation K σ²/P (MODEL §4.1), 0 for MRT and ZF; H (…,N,K)."""
    if kind != "mmse":
        return 0.0
    if noise_w is None:
        raise ValueError("linear_precoder(kind='mmse') needs noise_w")
    return H.shape[-1] * float(noise_w) / float(power_w)


def linear_precoder(H, power_w, kind, noise_w=None):
    """Downlink precoder (MODEL §4.1, §6): MRT ``W ∝ H``, ZF ``W ∝ H (H^H H)^{-1}``,
    MMSE ``W ∝ (H H^H + (K σ²/P) I)^{-1} H``, scaled to ``‖W‖_F² = P``.

    H (N,K) (received sample ``h_k^H x``)  ->  W (N,K) complex.
    """
    H = np.asarray(H, dtype=complex)
    kind = str(kind).lower()
    W = _direction(H, kind, _mmse_reg(H, kind, power_w, noise_w))
    norm = np.linalg.norm(W)
    if norm == 0:
        return np.zeros_like(W)
    return W * np.sqrt(power_w) / norm


def linear_precoders(H, power_w, kind, noise_w=None):
    """:func:`linear_precoder` for a stack of channels H (T,N,K) (the slots of a frame):
    one batched factorisation, each W (N,K) equal bit for bit to the one-at-a-time value."""
    H = np.asarray(H, dtype=complex)
    kind = str(kind).lower()
    D = _direction(H, kind, _mmse_reg(H, kind, power_w, noise_w))
    norms = np.empty(len(D))
    for i, W in enumerate(D):
        x = W.ravel(order="K")                # np.linalg.norm(W)'s own computation, without its checks
        norms[i] = math.sqrt(x.real.dot(x.real) + x.imag.dot(x.imag))
    # W √P / ‖W‖ of every matrix in one product and one division (the same element-wise
    # operations); a zero direction stays zero
    zero = norms == 0
    out = D * np.sqrt(power_w)
    out /= np.where(zero, 1.0, norms)[:, None, None]
    if zero.any():
        out[zero] = 0.0
    return out


def linear_combiner(H, kind, powers_w=None, noise_w=None):
    """Uplink combiners (MODEL §3.2, §4.1; paper 002 §III-B): MRC ``V = H``, ZF
    ``V = H (H^H H)^{-1}``, MMSE ``v_k = (Σ_i p_i h_i h_i^H + σ² I)^{-1} h_k``.

    Columns are unit-norm (the SINR is scale invariant). H (N,K)  ->  V (N,K).
    """
    H = np.asarray(H, dtype=complex)
    kind = str(kind).lower()
    if kind in ("mrc", "mrt"):
        V = H
    elif kind == "zf":
        V = _direction(H, "zf", 0.0)
    elif kind == "mmse":
        if powers_w is None or noise_w is None:
            raise ValueError("linear_combiner(kind='mmse') needs powers_w and noise_w")
        p = np.broadcast_to(np.asarray(powers_w, float), (H.shape[1],))
        C = (H * p[None, :]) @ H.conj().T + float(noise_w) * np.eye(H.shape[0])
        V = np.linalg.solve(C, H)
    else:
        raise ValueError(f"unknown combiner {kind!r}; choose one of mrc, zf, mmse")
    n = np.linalg.norm(V, axis=0)
    return V / np.where(n > 0, n, 1.0)
