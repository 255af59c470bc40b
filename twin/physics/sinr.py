"""Link metrics: downlink SINR with a sensing stream (MODEL §3.1), uplink SINR with a
linear combiner and the MMSE-SIC sum rate (MODEL §3.2), rates."""

from __future__ import annotations

import numpy as np


def sinr_downlink(H, W, noise_w, Rs=None):
    """Downlink SINR (MODEL §3.1; paper 000 eq. 13, paper 002 eq. 7).

    ``SINR_k = |h_k^H w_k|² / (Σ_{i≠k} |h_k^H w_i|² + h_k^H R_s h_k + σ²)``.
    H (...,N,K) (leading dimensions: a batch of channels, e.g. candidate PA positions),
    W (N,K), Rs (N,N) or None  ->  (...,K) linear SINR.
    """
    H = np.asarray(H)
    G = np.abs(np.swapaxes(H.conj(), -1, -2) @ np.asarray(W)) ** 2   # (...,K,K): |h_k^H w_i|²
    signal = np.diagonal(G, axis1=-2, axis2=-1)
    interference = G.sum(axis=-1) - signal
    if Rs is not None:
        interference = interference + np.real(np.einsum("...nk,nm,...mk->...k", H.conj(), Rs, H))
    return signal / (interference + noise_w)


def rate_bps_hz(sinr):
    """Achievable rate ``log2(1 + SINR)`` in bit/s/Hz (MODEL §3.1)."""
    return np.log2(1.0 + np.asarray(sinr, dtype=float))


def sinr_uplink(H, V, powers_w, noise_w):
    """Uplink SINR with combiners (MODEL §3.2; paper 002 §II-A2).

    ``SINR_k = p_k |v_k^H h_k|² / (Σ_{i≠k} p_i |v_k^H h_i|² + σ² ‖v_k‖²)``.
    H (N,K) uplink channel (= downlink, reciprocity), V (N,K), powers (K,)  ->  (K,).
    """
    H = np.asarray(H)
    V = np.asarray(V)
    p = np.broadcast_to(np.asarray(powers_w, dtype=float), (H.shape[1],))
    G = np.abs(V.conj().T @ H) ** 2 * p[None, :]        # (K,K): p_i |v_k^H h_i|²
    signal = np.diag(G)
    interference = G.sum(axis=1) - signal
    return signal / (interference + noise_w * np.sum(np.abs(V) ** 2, axis=0))


def uplink_sum_rate_sic(H, powers_w, noise_w):
    """MMSE-SIC uplink sum rate ``log2 det(I + Σ_k p_k h_k h_k^H / σ²)`` (MODEL §3.2)."""
    H = np.asarray(H)
    p = np.broadcast_to(np.asarray(powers_w, dtype=float), (H.shape[1],))
    M = np.eye(H.shape[0]) + (H * p[None, :]) @ H.conj().T / noise_w
    sign, logdet = np.linalg.slogdet(M)
    return float(logdet / np.log(2.0))
