"""Units and physical constants, in one place (MODEL §0, docs/model.md).

Everything inside the code is SI (m, s, W, Hz, rad); scene files may use dBm / dB /
GHz, converted once at load time with these functions.
"""

from __future__ import annotations

import numpy as np

SPEED_OF_LIGHT = 299_792_458.0  # m/s, MODEL §0


def dbm_to_w(p_dbm):
    """``P[W] = 10**((P_dBm - 30)/10)`` (MODEL §0)."""
    return 10.0 ** ((np.asarray(p_dbm, dtype=float) - 30.0) / 10.0)


def w_to_dbm(p_w):
    """Inverse of :func:`dbm_to_w`."""
    return 10.0 * np.log10(np.asarray(p_w, dtype=float)) + 30.0


def db_to_lin(x_db):
    """Power ratio from dB."""
    return 10.0 ** (np.asarray(x_db, dtype=float) / 10.0)


def lin_to_db(x):
    """Power ratio in dB (``-inf`` for zero)."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.asarray(x, dtype=float))


def wavelength(fc_hz: float) -> float:
    """Free-space wavelength ``λ = c / f_c`` in metres."""
    return SPEED_OF_LIGHT / float(fc_hz)


def wavenumber(fc_hz: float) -> float:
    """Free-space wavenumber ``k0 = 2π/λ`` in rad/m."""
    return 2.0 * np.pi / wavelength(fc_hz)


def guided_wavenumber(fc_hz: float, n_eff: float) -> float:
    """Guided wavenumber ``k_g = 2π n_eff / λ`` (``λ_g = λ/n_eff``), MODEL §0."""
    return 2.0 * np.pi * float(n_eff) / wavelength(fc_hz)


def amplitude_constant(fc_hz: float) -> float:
    """Free-space amplitude constant ``√η = λ/(4π) = 1/(2 k0)`` (MODEL §0)."""
    return wavelength(fc_hz) / (4.0 * np.pi)
