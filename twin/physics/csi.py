"""Pilot-based channel estimation (MODEL §5.1): the error of least-squares and LMMSE
estimates of an effective channel from uplink pilots, and its normalised mean-squared
error."""

from __future__ import annotations

import numpy as np


def pilot_error_variance(noise_w: float, user_power_w, symbols: int):
    """LS error variance per channel entry ``σ² / (p_k τ)`` (MODEL §5.1): τ orthogonal
    pilot symbols sent at power p_k, received in noise σ² (W). user_power_w scalar or (K,)."""
    return float(noise_w) / (np.asarray(user_power_w, float) * int(symbols))


def estimate_channel(H, noise_w: float, user_power_w, symbols: int, rng: np.random.Generator,
                     estimator: str = "lmmse") -> np.ndarray:
    """An estimate of the effective channel H (N,K) from uplink pilots (reciprocity,
    MODEL §3.2, §5.1): LS ``ĥ_k = h_k + e_k``, ``e_k ~ CN(0, σ²/(p_k τ) I)``; LMMSE
    shrinks each user's LS estimate by ``ρ_k / (ρ_k + σ_e²)`` with ρ_k the user's mean
    channel power per RF chain (the large-scale statistics the BS keeps)."""
    H = np.asarray(H, complex)
    var = np.broadcast_to(pilot_error_variance(noise_w, user_power_w, symbols), (H.shape[1],))
    E = (rng.standard_normal(H.shape) + 1j * rng.standard_normal(H.shape)) * np.sqrt(var / 2.0)[None, :]
    Y = H + E
    if estimator == "ls":
        return Y
    if estimator != "lmmse":
        raise ValueError(f"estimator must be 'ls' or 'lmmse', got {estimator!r}")
    rho = np.mean(np.abs(H) ** 2, axis=0)
    return Y * (rho / (rho + var))[None, :]


def nmse_db(H_est, H_true) -> float:
    """``10 log10(‖Ĥ − H‖²_F / ‖H‖²_F)`` (MODEL §5.1); −inf for a perfect estimate."""
    H_true = np.asarray(H_true)
    den = float(np.sum(np.abs(H_true) ** 2))
    num = float(np.sum(np.abs(np.asarray(H_est) - H_true) ** 2))
    if den == 0.0:
        return float("nan")
    with np.errstate(divide="ignore"):
        return float(10.0 * np.log10(num / den))


def estimate_channels(H, noise_w: float, user_power_w, symbols: int, rng: np.random.Generator,
                      estimator: str = "lmmse") -> np.ndarray:
    """:func:`estimate_channel` for a stack of channels H (T,N,K) (MODEL §5.1), the pilots
    of a frame at once: the errors are drawn in one call in the order T one-at-a-time
    calls would draw them (real then imaginary parts, estimate after estimate), so the
    estimates equal theirs bit for bit."""
    H = np.asarray(H, complex)
    var = np.broadcast_to(pilot_error_variance(noise_w, user_power_w, symbols), (H.shape[-1],))
    Z = rng.standard_normal((H.shape[0], 2) + H.shape[1:])
    E = (Z[:, 0] + 1j * Z[:, 1]) * np.sqrt(var / 2.0)[None, None, :]
    Y = H + E
    if estimator == "ls":
        return Y
    if estimator != "lmmse":
        raise ValueError(f"estimator must be 'ls' or 'lmmse', got {estimator!r}")
    rho = np.mean(np.abs(H) ** 2, axis=-2)
    return Y * (rho / (rho + var))[:, None, :]
